/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Session transitions caused by traffic, shared by the XDP and TC programs. */
#ifndef TKO_BPF_SESSION_H
#define TKO_BPF_SESSION_H

#include "events.h"
#include "wheel.h"

#define CLOCK_MONOTONIC 1

static __always_inline __u64 idle_ns(const struct tko_session *s)
{
	return (__u64)s->cfg.idle_s * NSEC_PER_SEC;
}

/*
 * The TSval of a segment forged now for s. A local socket's clock is the
 * kernel's TCP clock (CLOCK_MONOTONIC, in ms or us) plus its tsoffset: what
 * the socket itself would send. A forwarded endpoint's clock is unknown:
 * its last TSval is the most that is sure not to be ahead of it.
 */
static __always_inline __u32 session_tsval(const struct tko_session *s)
{
	if (s->tcp.ts_clock == TKO_TS_CLOCK_MS)
		return (__u32)(bpf_ktime_get_ns() / 1000000) + s->tcp.ts_offset;
	if (s->tcp.ts_clock == TKO_TS_CLOCK_US)
		return (__u32)(bpf_ktime_get_ns() / 1000) + s->tcp.ts_offset;
	return s->tcp.ts_val;
}

static __always_inline void set_state(struct tko_session *s, __u8 state)
{
	s->prev_state = s->state;
	s->state = state;
}

/*
 * What a session leaves behind once it is out of the index (by the one
 * program that took it out): its policy holds one session less, and a
 * forwarded flow's last segments must not make it a session again.
 */
static __always_inline void session_gone(const struct tko_session *s)
{
	struct tko_policy_stats *ps;
	__u32 slot = s->policy - 1;
	__u64 now;

	if (!s->policy)
		return;
	ps = bpf_map_lookup_elem(&policy_stats, &slot);
	if (ps)
		__sync_fetch_and_add(&ps->sessions, -1);
	if (s->cfg.flags & TKO_F_FORWARDED) {
		now = bpf_ktime_get_ns();
		bpf_map_update_elem(&flows_closed, &s->key, &now, BPF_ANY);
	}
}

/*
 * The session is over: the connection ended (FIN, RST, a new SYN on the
 * tuple, the socket closed) or tko was asked to stop. Report it with the
 * handoff state (a stop keeps the time left to the next deadline, as the
 * chimney's TimeoutDelta) and forget the session. Of two programs ending it
 * at once, only the one that takes it out of the index reports it. The
 * entry is free again at once, or after the carrier's next pass.
 */
static __always_inline bool session_end(__u32 id, struct tko_session *s, __u8 type,
					__u8 reason)
{
	if (!session_unindex(id))
		return false;
	session_gone(s);
	set_state(s, TKO_STOPPED);
	if (type != TKO_EV_STOPPED)
		s->next_ns = 0;
	if (type == TKO_EV_INVALIDATED)
		stat_inc(TKO_ST_INVALIDATED);
	session_event(id, type, reason);
	if (!wheel_try_free(id, s))
		sched_request(id, s);
	return true;
}

/*
 * Payload in either direction: the endpoint is awake. An ACTIVE session is
 * suspended and re-arms after the next idle period (or ends, --oneshot); a
 * LEARNING/SUSPENDED session's deadline already follows last_seen_ns (the
 * carrier looks again when it comes).
 */
static __always_inline void session_traffic(__u32 id, struct tko_session *s, __u8 reason,
					    __u64 now)
{
	s->last_seen_ns = now;
	if (s->state != TKO_ACTIVE)
		return;
	if (s->cfg.flags & TKO_F_ONESHOT) {
		session_end(id, s, TKO_EV_INVALIDATED, reason);
		return;
	}
	set_state(s, TKO_SUSPENDED);
	s->next_ns = now + idle_ns(s);
	stat_inc(TKO_ST_SUSPENDED);
	session_event(id, TKO_EV_SUSPENDED, reason);
	/* Its deadline moved earlier than the next probe: refile it. */
	sched_request(id, s);
}

#endif /* TKO_BPF_SESSION_H */
