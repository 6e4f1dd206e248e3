/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A session's clock, and its creation. Included by every object that
 * creates sessions (the control programs, sockops): the timer's callback
 * must belong to the program that arms it.
 */
#ifndef TKO_BPF_TIMER_H
#define TKO_BPF_TIMER_H

#include "session.h"

#define EINVAL 22
#define ENOENT 2

static __always_inline void arm(struct tko_session *s, __u64 now, __u64 delay_ns)
{
	s->next_ns = now + delay_ns;
	bpf_timer_start(&s->timer, delay_ns, 0);
}

/*
 * Queue a probe for the carrier. A probe that finds the queue full is still
 * counted as sent and unanswered: the retry logic treats it like a probe
 * lost on the way, which is what it is.
 */
static __always_inline void queue_probe(struct tko_key *k, struct tko_session *s, __u64 now)
{
	if (bpf_map_push_elem(&due, k, 0))
		stat_inc(TKO_ST_QUEUE_FULL);
	else
		stat_inc(TKO_ST_PROBES_QUEUED);
	s->cnt.unanswered++;
	s->probe_ns = now;
}

/* The earliest moment an unanswered probe can be judged: RFC 1122 4.2.3.6. */
static __always_inline __u64 answer_wait_ns(const struct tko_session *s)
{
	__u32 w = s->cfg.retry_interval_s < s->cfg.interval_s ?
		  s->cfg.retry_interval_s : s->cfg.interval_s;

	return (__u64)w * NSEC_PER_SEC;
}

/* Retries exhausted: report, then reset the endpoint's connection if asked. */
static __always_inline void peer_dead(struct tko_key *k, struct tko_session *s)
{
	set_state(s, TKO_PEER_DEAD);
	s->next_ns = 0;
	stat_inc(TKO_ST_PEER_DEAD);
	emit_event(k, s, TKO_EV_PEER_DEAD, TKO_R_RETRIES);
	/* The carrier sends the RST and then forgets the session. */
	if ((s->cfg.flags & TKO_F_ON_DEAD_RESET) && !bpf_map_push_elem(&due, k, 0))
		return;
	bpf_map_delete_elem(&sessions, k);
}

/*
 * The session's clock. LEARNING/SUSPENDED: become ACTIVE once idle_s passed
 * without payload, and probe at once. ACTIVE: probe every interval_s while
 * answered, every retry_interval_s while not, and declare the peer dead after
 * `retries` unanswered probes in a row. The timer is lazy: traffic only
 * stamps last_seen_ns, and the callback re-arms for the time left.
 */
static int session_timer(void *map, struct tko_key *k, struct tko_session *s)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 deadline;
	__u8 type;

	switch (s->state) {
	case TKO_LEARNING:
	case TKO_SUSPENDED:
		if (!(s->have & TKO_HAVE_SEQ)) {
			/* Nothing captured yet: look again one idle period later. */
			arm(s, now, idle_ns(s));
			return 0;
		}
		deadline = s->last_seen_ns + idle_ns(s);
		if ((__s64)(now - deadline) < 0) {
			arm(s, now, deadline - now);
			return 0;
		}
		type = s->state == TKO_LEARNING ? TKO_EV_OFFLOADED : TKO_EV_RESUMED;
		set_state(s, TKO_ACTIVE);
		s->cnt.unanswered = 0;
		emit_event(k, s, type, TKO_R_IDLE);
		break;	/* first probe now */
	case TKO_ACTIVE:
		if (!s->cnt.unanswered) {
			deadline = s->probe_ns + (__u64)s->cfg.interval_s * NSEC_PER_SEC;
			if ((__s64)(now - deadline) < 0) {
				arm(s, now, deadline - now);
				return 0;
			}
		} else if (s->cnt.unanswered >= s->cfg.retries) {
			peer_dead(k, s);
			return 0;
		}
		break;
	default:
		return 0;
	}
	queue_probe(k, s, now);
	arm(s, now, s->cnt.unanswered > 1 ? (__u64)s->cfg.retry_interval_s * NSEC_PER_SEC :
					    answer_wait_ns(s));
	return 0;
}

/*
 * Insert a session (LEARNING) and arm its timer, as one step: on failure
 * nothing is left behind. -EEXIST: already there; -E2BIG: table full;
 * -ENOMEM: no memory for the timer (see libtko: a transient condition).
 */
static __always_inline int session_create(const struct tko_key *key, struct tko_session *init,
					  __u64 now)
{
	struct tko_session *s;
	long err;

	init->state = TKO_LEARNING;
	init->started_ns = now;
	init->last_seen_ns = now;
	init->next_ns = now + idle_ns(init);
	err = bpf_map_update_elem(&sessions, key, init, BPF_NOEXIST);
	if (err)
		return err;
	s = bpf_map_lookup_elem(&sessions, key);
	if (!s)
		return -ENOENT;	/* removed by the datapath meanwhile */
	err = bpf_timer_init(&s->timer, &sessions, CLOCK_MONOTONIC);
	if (!err)
		err = bpf_timer_set_callback(&s->timer, session_timer);
	if (!err)
		err = bpf_timer_start(&s->timer, idle_ns(s), 0);
	if (err) {
		bpf_map_delete_elem(&sessions, key);
		return err;
	}
	return 0;
}

#endif /* TKO_BPF_TIMER_H */
