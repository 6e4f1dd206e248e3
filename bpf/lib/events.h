/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Lifecycle changes of a session: state transition + event, in one place. */
#ifndef TKO_BPF_EVENTS_H
#define TKO_BPF_EVENTS_H

#include "maps.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

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

/*
 * Report an event: appended to event_log (history for `tko events`, kept
 * even when nobody listens) and sent on the ring buffer. A full ring buffer
 * never blocks the datapath: the event is counted as lost and stays in the log.
 */
static __always_inline void emit_event(const struct tko_key *k, const struct tko_session *s,
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
		fill_event(e, k, s, type, reason, now);
		e->seq = seq;
	}
	stat_inc(TKO_ST_EVENTS);
	ev_stat_inc(type, reason);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(TKO_ST_EVENTS_LOST);
		return;
	}
	fill_event(e, k, s, type, reason, now);
	e->seq = seq;
	bpf_ringbuf_submit(e, 0);
}

#endif /* TKO_BPF_EVENTS_H */
