/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Session transitions caused by traffic, shared by the XDP and TC programs. */
#ifndef TKO_BPF_SESSION_H
#define TKO_BPF_SESSION_H

#include "events.h"
#include "wheel.h"

/* The largest window TCP can advertise (RFC 7323 2.3: 2^16 << 14). */
#define TKO_MAX_WINDOW (1u << 30)

static __always_inline __u64 idle_ns(const struct tko_session *s)
{
	return (__u64)s->cfg.idle_s * NSEC_PER_SEC;
}

/*
 * Data the endpoint sent and the peer has not acknowledged, or no way to
 * know (SND.UNA never seen): the session is not idle (RFC 9293 3.8.4: a
 * keepalive is for a connection with nothing outstanding).
 */
static __always_inline bool in_flight(const struct tko_session *s)
{
	return !(s->have & TKO_HAVE_UNA) || s->tcp.snd_una != s->tcp.snd_nxt;
}

/*
 * The TSval of a segment forged now for s. A local socket's clock is the
 * kernel's TCP clock (CLOCK_MONOTONIC, in ms or us) plus its tsoffset: what
 * the socket itself would send. A forwarded endpoint's clock is unknown
 * (and stops while a host is suspended): its last TSval is the most that
 * is sure not to be ahead of it; ts_limit_ns() bounds how long that lasts.
 */
static __always_inline __u32 session_tsval(const struct tko_session *s)
{
	if (s->tcp.ts_clock == TKO_TS_CLOCK_MS)
		return (__u32)(bpf_ktime_get_ns() / 1000000) + s->tcp.ts_offset;
	if (s->tcp.ts_clock == TKO_TS_CLOCK_US)
		return (__u32)(bpf_ktime_get_ns() / 1000) + s->tcp.ts_offset;
	return s->tcp.ts_val;
}

/*
 * RFC 7323 5.5: a TSval more than 2^31 ticks behind the endpoint's clock
 * looks newer than its real segments to the peer's PAWS check, and the
 * peer drops them once the endpoint wakes. A session that resends the
 * endpoint's last TSval ends before its clock can be 2^30 ticks past it:
 * the moment that can first happen (ns), 0 if never. The rate is what the
 * endpoint's segments showed, at least 1 kHz (RFC 7323 5.4: at most one
 * tick per ms, which all the common stacks keep but Linux's tcp_usec_ts).
 */
static __always_inline __u64 ts_limit_ns(const struct tko_session *s)
{
	__u64 hz;

	/* before the rate: a 64-bit division at every probe costs */
	if (!(s->have & TKO_HAVE_TS) || s->tcp.ts_clock != TKO_TS_CLOCK_LAST)
		return 0;
	hz = s->ts_hz > 1000 ? s->ts_hz : 1000;
	return s->ts_seen_ns + (1ULL << 30) * NSEC_PER_SEC / hz;
}

static __always_inline void set_state(struct tko_session *s, __u8 state)
{
	s->prev_state = s->state;
	s->state = state;
}

/* Mark note (TKO_NOTE_*) on s: true for the one program that set it first. */
static __always_inline bool session_note(struct tko_session *s, __u32 note)
{
	if (s->notes & note)
		return false;
	return !(__sync_fetch_and_or(&s->notes, note) & note);
}

/* Something went wrong with a session tko keeps: a warning, once per kind. */
static __always_inline void session_warn(__u32 id, struct tko_session *s, __u32 note,
					 __u8 reason)
{
	if (session_note(s, note))
		session_event(id, TKO_EV_WARNING, reason);
}

/*
 * A full barrier: a store before it is visible to other CPUs before any load
 * after it. An atomic read-modify-write is one (x86: a locked instruction;
 * BPF's atomics with fetch are fully ordered on every architecture).
 */
static __always_inline void full_fence(void)
{
	static __u32 fence_word;

	__sync_fetch_and_add(&fence_word, 0);
}

/* A forwarded flow tko is done with: its last segments must not revive it. */
static __always_inline void flow_close(const struct tko_key *k, __u64 until)
{
	bpf_map_update_elem(&flows_closed, k, &until, BPF_ANY);
}

/*
 * What a session leaves behind once it is out of the index (by the one
 * program that took it out): its policy holds one session less, if the
 * policy of its slot is still the one that made it.
 */
static __always_inline void session_gone(const struct tko_session *s)
{
	struct tko_policy_stats *ps;
	struct tko_policy *p;
	__u32 slot = s->policy - 1;

	if (!s->policy)
		return;
	p = bpf_map_lookup_elem(&policies, &slot);
	if (!p || p->id != s->policy || (__u16)p->gen != s->policy_gen)
		return;	/* deleted, its slot maybe another policy's now */
	ps = bpf_map_lookup_elem(&policy_stats, &slot);
	if (ps)
		__sync_fetch_and_add(&ps->sessions, -1);
}

/*
 * Take the session out of the index, for the one program that ends it (0
 * for the others). A forwarded flow is marked closed first, until `until`
 * (TKO_FLOW_CLOSED_FOREVER: its next SYN): a segment on another CPU must
 * find it closed once it finds no session.
 */
static __always_inline bool session_take(__u32 id, struct tko_session *s, __u64 until)
{
	if (s->cfg.flags & TKO_F_FORWARDED)
		flow_close(&s->key, until);
	if (!session_unindex(id))
		return false;
	session_gone(s);
	return true;
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
	if (!session_take(id, s, TKO_FLOW_CLOSED_FOREVER))
		return false;
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
	if (s->notes & TKO_NOTE_WAITING)
		__sync_fetch_and_and(&s->notes, ~TKO_NOTE_WAITING);	/* a new wait */
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
