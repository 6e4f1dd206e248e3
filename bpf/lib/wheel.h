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
 * A session is on one list at most (tko_clock.list); lists are doubly
 * linked through the session entries (by reference: ref_of()), so filing,
 * moving and taking a session off are O(1), and a pass touches only the
 * sessions whose tick came (plus the level-1 moves). Only the helpers below
 * link and unlink. Lists are only written by whoever holds the
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

/* The carrier took session id's request: a later change queues it again. */
static __always_inline void sched_request_taken(struct tko_session *s)
{
	__sync_lock_test_and_set(&s->clock.req, 0);
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

/* The agent answered session id's path request: the entry may ask again. */
static __always_inline void path_request_answered(struct tko_session *s)
{
	__sync_lock_test_and_set(&s->clock.l2_req, 0);
}

/* --- the carrier's side --- */

/*
 * Lists name sessions by reference, id + 1, so that 0 (a zeroed entry or
 * list) is none: tko_wheel_list.head/tail, tko_clock.next/prev. A list is
 * named the same way, by its number + 1: tko_clock.list,
 * tko_wheel_clock.moving.
 */
static __always_inline __u32 ref_of(__u32 id)
{
	return id + 1;
}

static __always_inline __u32 id_of(__u32 ref)
{
	return ref - 1;
}

/* The entry ref names; NULL for none. */
static __always_inline struct tko_session *session_of(__u32 ref)
{
	return ref ? session_get(id_of(ref)) : NULL;
}

static __always_inline struct tko_wheel_list *wheel_list(__u32 list)
{
	return bpf_map_lookup_elem(&wheel, &list);
}

static __always_inline bool wheel_list_empty(__u32 list)
{
	struct tko_wheel_list *l = wheel_list(list);

	return !l || !l->head;
}

static __always_inline struct tko_wheel_clock *wheel_clock(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&clock, &zero);
}

/* The level-0 list of a tick. */
static __always_inline __u32 level0_list(__u64 tick)
{
	return (__u32)(tick % TKO_WHEEL_L0);
}

/* The level-1 list of a span of TKO_WHEEL_SPAN ticks (tick / TKO_WHEEL_SPAN). */
static __always_inline __u32 level1_list(__u64 span)
{
	return TKO_WHEEL_L0 + (__u32)(span % TKO_WHEEL_L1);
}

/*
 * The tick a deadline t (ns) falls in. The pass that takes a tick comes at
 * its start, so a probe leaves at most a tick early and, while the carrier
 * keeps up, within a tick of it (an interval does not grow by a tick each
 * round, as rounding up would make it). A change of state waits for its
 * deadline (session_step() in carrier.bpf.c files it under the next tick).
 */
static __always_inline __u64 tick_of(__u64 t, __u64 tick_ns)
{
	return t / tick_ns;
}

/* Push session id on the tail of list. */
static __always_inline void wheel_push(__u32 id, struct tko_session *s, __u32 list)
{
	struct tko_wheel_list *l = wheel_list(list);
	struct tko_session *t;

	if (!l)
		return;
	s->clock.list = ref_of(list);
	s->clock.next = 0;
	s->clock.prev = l->tail;
	t = session_of(l->tail);
	if (t)
		t->clock.next = ref_of(id);
	else
		l->head = ref_of(id);
	l->tail = ref_of(id);
}

/* Take session s off its list, if it is on one. */
static __always_inline void wheel_unlink(struct tko_session *s)
{
	struct tko_wheel_list *l;
	struct tko_session *n;

	if (!s->clock.list)
		return;
	l = wheel_list(id_of(s->clock.list));
	n = session_of(s->clock.prev);
	if (n)
		n->clock.next = s->clock.next;
	else if (l)
		l->head = s->clock.next;
	n = session_of(s->clock.next);
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
		wheel_push(id, s, level0_list(tick));
		return;
	}
	span = tick / TKO_WHEEL_SPAN;
	/* The list before `first` may still be moving down: never that one. */
	if (span - first >= TKO_WHEEL_L1 - 1)
		span = first + TKO_WHEEL_L1 - 2;
	wheel_push(id, s, level1_list(span));
}

/* Is session s filed under tick already? */
static __always_inline bool wheel_filed_under(const struct tko_session *s, __u64 tick)
{
	return s->clock.list && s->clock.due_tick == tick;
}

/* File session id again, under tick: off its list, onto the new one. */
static __always_inline void wheel_refile(__u32 id, struct tko_session *s, __u64 tick,
					 const struct tko_wheel_clock *c)
{
	wheel_unlink(s);
	wheel_file(id, s, tick, c);
}

/* Start the clock at tick now: level 0 from now, level 1 two spans on. */
static __always_inline void wheel_start(struct tko_wheel_clock *w, __u64 now)
{
	w->tick = now - 1;
	w->cascade = (now / TKO_WHEEL_SPAN + 2) * TKO_WHEEL_SPAN;
	w->moving = 0;
}

/*
 * One step of moving level 1 down, for the pass of tick cur: a level-1
 * list starts moving a whole span before its first tick, one session per
 * step, each filed again under its own tick. False when nothing more moves
 * in this pass (true after an empty list: the next one may be due too,
 * after a stall).
 */
static __always_inline bool wheel_cascade_step(struct tko_wheel_clock *w, __u64 cur)
{
	struct tko_wheel_list *l;
	struct tko_session *s;
	__u32 id;

	if (!w->moving) {
		if (w->cascade > cur + TKO_WHEEL_SPAN)
			return false;
		w->moving = ref_of(level1_list(w->cascade / TKO_WHEEL_SPAN));
		w->cascade += TKO_WHEEL_SPAN;
	}
	l = wheel_list(id_of(w->moving));
	if (!l || !l->head) {
		w->moving = 0;
		return true;
	}
	id = id_of(l->head);
	s = session_get(id);
	if (!s) {
		w->moving = 0;
		return false;
	}
	wheel_unlink(s);
	wheel_file(id, s, s->clock.due_tick, w);
	return true;
}

/*
 * Take a level-0 list off the wheel whole, into chain c: false if it has
 * no session. Its sessions stay linked to each other (and keep their
 * tko_clock.list) until chain_pop() takes them; sessions filed under that
 * list meanwhile (a later round of the ring) wait for that round.
 */
static __always_inline bool chain_detach(struct tko_wheel_list *c, __u32 list)
{
	struct tko_wheel_list *l = wheel_list(list);

	if (!l || !l->head)
		return false;
	c->head = l->head;
	c->tail = l->tail;
	l->head = l->tail = 0;
	return true;
}

/*
 * Take the first session off chain c: its reference, the session on no
 * list; 0 if there is none (the chain is then empty). c->tail means
 * nothing once c->head is 0.
 */
static __always_inline __u32 chain_pop(struct tko_wheel_list *c)
{
	__u32 ref = c->head;
	struct tko_session *s = session_of(ref), *n;

	if (!s) {
		c->head = 0;	/* an id outside the table: cannot be */
		return 0;
	}
	c->head = s->clock.next;
	n = session_of(c->head);
	if (n)
		n->clock.prev = 0;
	s->clock.list = s->clock.next = s->clock.prev = 0;
	return ref;
}

/* Put what is left of chain c back in front of list, where it came from. */
static __always_inline void chain_putback(struct tko_wheel_list *c, __u32 list)
{
	struct tko_wheel_list *l = wheel_list(list);
	struct tko_session *tail = session_of(c->tail), *head;

	if (!l || !tail)
		return;
	if (l->head) {
		head = session_of(l->head);
		if (!head)
			return;
		tail->clock.next = l->head;
		head->clock.prev = c->tail;
	} else {
		l->tail = c->tail;
	}
	l->head = c->head;
	c->head = 0;
}

/* Free an ended session's entry: off the wheel, back to the free ids. */
static __always_inline void wheel_free(__u32 id, struct tko_session *s)
{
	wheel_unlink(s);
	session_release(id, s);
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
