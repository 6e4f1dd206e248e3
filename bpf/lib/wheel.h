/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The clock of all sessions: a two-level timing wheel in preallocated maps,
 * run by the carrier pass (carrier.bpf.c) and by nothing else.
 *
 *  - level 0 (`wheel` lists 0 .. TKO_WHEEL_L0-1): one list per tick, for the
 *    ticks before tko_wheel_clock.cascade (at most 2 * TKO_WHEEL_SPAN ahead);
 *  - level 1 (the next TKO_WHEEL_L1 lists): one list per TKO_WHEEL_SPAN
 *    ticks beyond; a list moves down to level 0 a whole span before its
 *    first tick, a bounded number of sessions per pass. Sessions further
 *    than level 1 reaches wait on its last list and are filed again.
 * Level 0 is a ring: a list may hold sessions of a later round, which the
 * pass files again when it takes the list.
 * A session is on one list at most (tko_clock.list, the list + 1: a zeroed
 * entry is on none); lists are doubly
 * linked through the session entries, so filing, moving and taking a
 * session off are O(1), and a pass touches only the sessions whose tick came
 * (plus the level-1 moves). Lists are only written by whoever holds the
 * clock (tko_wheel_clock.busy, taken with compare-and-swap, never waited
 * for): the carrier pass, or a program ending a session that frees its
 * entry at once (wheel_try_free). So lists need no atomics.
 *
 * Every other program asks the carrier to look at a session through the
 * `requests` queue (sched_request): a new session, one whose deadline moved
 * earlier, one that ended and whose entry could not be freed at once. The
 * request flag keeps an id in the queue once at most, so it never fills.
 */
#ifndef TKO_BPF_WHEEL_H
#define TKO_BPF_WHEEL_H

#include "table.h"

/* Ask the carrier to look at session id. False if the queue refused it. */
static __always_inline bool sched_request(__u32 id, struct tko_session *s)
{
	if (__sync_val_compare_and_swap(&s->clock.req, 0, 1))
		return true;	/* already queued: the carrier will see the change */
	if (bpf_map_push_elem(&requests, &id, 0)) {
		s->clock.req = 0;
		stat_inc(TKO_ST_REQUESTS_LOST);	/* room for every id: not expected */
		return false;
	}
	return true;
}

/*
 * Wake the agent. A full ring means the agent has records to read, and
 * reads the work queues after them: a record refused is not work lost.
 */
static __always_inline void signal_agent(__u32 type, __u32 id, __u64 passes)
{
	struct tko_signal sig = { .type = type, .id = id, .passes = passes };

	bpf_ringbuf_output(&signals, &sig, sizeof(sig), 0);
}

/* Ask the agent to find session id's L2 path (route, neighbour). */
static __always_inline void path_request(__u32 id, struct tko_session *s)
{
	if (__sync_val_compare_and_swap(&s->clock.l2_req, 0, 1))
		return;
	if (bpf_map_push_elem(&need_l2, &id, 0)) {
		s->clock.l2_req = 0;
		stat_inc(TKO_ST_REQUESTS_LOST);
		return;
	}
	stat_inc(TKO_ST_PATH_REQUESTS);
	signal_agent(TKO_SIG_PATH, id, 0);
}

/* --- the carrier's side --- */

static __always_inline struct tko_wheel_list *wheel_list(__u32 list)
{
	return bpf_map_lookup_elem(&wheel, &list);
}

/*
 * The tick a deadline t (ns) falls in. The pass that takes a tick comes at
 * its start, so a probe leaves at most a tick early and, while the carrier
 * keeps up, within a tick of it (an interval does not grow by a tick each
 * round, as rounding up would make it). A change of state waits for its
 * deadline (run() in carrier.bpf.c files it under the next tick).
 */
static __always_inline __u64 tick_of(__u64 t, __u64 tick_ns)
{
	return t / tick_ns;
}

/* Append session id to list. */
static __always_inline void wheel_append(__u32 id, struct tko_session *s, __u32 list)
{
	struct tko_wheel_list *l = wheel_list(list);
	struct tko_session *t;

	if (!l)
		return;
	s->clock.list = list + 1;
	s->clock.next = 0;
	s->clock.prev = l->tail;
	t = l->tail ? session_get(l->tail - 1) : NULL;
	if (t)
		t->clock.next = id + 1;
	else
		l->head = id + 1;
	l->tail = id + 1;
}

/* Take session s off its list, if it is on one. */
static __always_inline void wheel_remove(struct tko_session *s)
{
	struct tko_wheel_list *l;
	struct tko_session *n;

	if (!s->clock.list)
		return;
	l = wheel_list(s->clock.list - 1);
	n = s->clock.prev ? session_get(s->clock.prev - 1) : NULL;
	if (n)
		n->clock.next = s->clock.next;
	else if (l)
		l->head = s->clock.next;
	n = s->clock.next ? session_get(s->clock.next - 1) : NULL;
	if (n)
		n->clock.prev = s->clock.prev;
	else if (l)
		l->tail = s->clock.prev;
	s->clock.list = 0;
	s->clock.next = s->clock.prev = 0;
}

/*
 * File session id under tick: level 0 if the tick comes before the next
 * level-1 move, level 1 otherwise (its last list if further than that).
 * Never before the next tick the pass takes.
 */
static __always_inline void wheel_file(__u32 id, struct tko_session *s, __u64 tick,
				       const struct tko_wheel_clock *c)
{
	__u64 first = c->cascade / TKO_WHEEL_SPAN, span;

	if (tick <= c->tick)
		tick = c->tick + 1;
	s->clock.due_tick = tick;
	if (tick < c->cascade) {
		wheel_append(id, s, (__u32)(tick % TKO_WHEEL_L0));
		return;
	}
	span = tick / TKO_WHEEL_SPAN;
	/* The list before `first` may still be moving down: never that one. */
	if (span - first >= TKO_WHEEL_L1 - 1)
		span = first + TKO_WHEEL_L1 - 2;
	wheel_append(id, s, TKO_WHEEL_L0 + (__u32)(span % TKO_WHEEL_L1));
}

/* Free an ended session's entry: off the wheel, back to the free ids. */
static __always_inline void wheel_free(__u32 id, struct tko_session *s)
{
	wheel_remove(s);
	session_release(id, s);
}

static __always_inline struct tko_wheel_clock *wheel_clock(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&clock, &zero);
}

/*
 * Free an ended session's entry now if the clock is free (no pass running
 * on any CPU), so that a stop gives its room back at once; otherwise the
 * carrier frees it at its next pass. False in that case.
 */
static __always_inline bool wheel_try_free(__u32 id, struct tko_session *s)
{
	struct tko_wheel_clock *w = wheel_clock();

	if (!w || __sync_val_compare_and_swap(&w->busy, 0, 1))
		return false;
	wheel_free(id, s);
	__sync_lock_test_and_set(&w->busy, 0);
	return true;
}

#endif /* TKO_BPF_WHEEL_H */
