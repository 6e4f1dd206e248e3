/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Lifecycle changes of a session: state transition + event, in one place. */
#ifndef TKO_BPF_EVENTS_H
#define TKO_BPF_EVENTS_H

#include "consts.h"
#include "maps.h"

static __always_inline void fill_event(struct tko_event *e, const struct tko_key *k,
				       const struct tko_session *s, __u8 type,
				       __u8 reason, __u64 now)
{
	e->ts_ns = now;
	__builtin_memcpy(&e->key, k, sizeof(*k));
	e->type = type;
	e->reason = reason;
	e->state = s->state;
	e->pad = 0;
	e->next_probe_ms = s->next_ns > now ? (s->next_ns - now) / NSEC_PER_MSEC : 0;
	__builtin_memcpy(&e->tcp, &s->tcp, sizeof(e->tcp));
	__builtin_memcpy(&e->cnt, &s->cnt, sizeof(e->cnt));
}

static __always_inline void fill_refusal(struct tko_event *e, const struct tko_key *k,
					 __u8 type, __u8 reason, __u64 now)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	__builtin_memcpy(&e->key, k, sizeof(*k));
	e->type = type;
	e->reason = reason;
}

/*
 * Report an event: appended to event_log (history for `tko events`, kept
 * even when nobody listens) and sent on the ring buffer. A full ring buffer
 * never blocks the datapath: the event is counted as lost and stays in the
 * log. s is NULL for a session that does not exist (a refusal): the event
 * then carries the tuple and the reason alone.
 */
static __always_inline void event_emit(const struct tko_key *k, const struct tko_session *s,
				 __u8 type, __u8 reason)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0, slot;
	__u64 *seqp, seq;
	struct tko_event *e;

	seqp = bpf_map_lookup_elem(&event_seq, &zero);
	if (!seqp)
		return;
	seq = __sync_fetch_and_add(seqp, 1) + 1;
	slot = seq & (TKO_EVENT_LOG_LEN - 1);
	e = bpf_map_lookup_elem(&event_log, &slot);
	if (e) {
		if (s)
			fill_event(e, k, s, type, reason, now);
		else
			fill_refusal(e, k, type, reason, now);
		e->seq = seq;
	}
	stat_inc(TKO_ST_EVENTS);
	ev_stat_inc(type, reason);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(TKO_ST_EVENTS_LOST);
		return;
	}
	if (s)
		fill_event(e, k, s, type, reason, now);
	else
		fill_refusal(e, k, type, reason, now);
	e->seq = seq;
	bpf_ringbuf_submit(e, 0);
}

/* A lifecycle change of session id (its entry holds the state to report). */
__noinline int session_event(__u32 id, __u32 type, __u32 reason)
{
	struct tko_session *s = bpf_map_lookup_elem(&sessions, &id);

	if (!s)
		return -1;
	event_emit(&s->key, s, type, reason);
	return 0;
}

/* A session that could not be created: reported, and counted by reason. */
__noinline int session_refused(const struct tko_key *k, __u32 reason)
{
	if (!k)
		return -1;
	stat_inc(reason == TKO_R_TABLE_FULL ? TKO_ST_REFUSED_TABLE_FULL :
		 reason == TKO_R_INDEX_FULL ? TKO_ST_REFUSED_INDEX_FULL : TKO_ST_REFUSED_BUSY);
	event_emit(k, NULL, TKO_EV_REFUSED, reason);
	return 0;
}

#endif /* TKO_BPF_EVENTS_H */
