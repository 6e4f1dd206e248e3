/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test-only (tests/prog/prog_race.c): included first (clang -include) into
 * test builds of the datapath's own unchanged sources, bpf/tc_egress.bpf.c
 * and bpf/xdp_ingress.bpf.c (build/tests/{tc_egress,xdp_ingress}_race.bpf.o).
 * Two functions of the session table (bpf/lib/table.h) are wrapped: every
 * call the rest of the datapath makes goes through the wrapper, which
 * notes when session_unindex() was called (race_take_ns), calls the
 * function itself, then may
 *
 *  - hold the CPU for race_spin_*_ns (0: not at all), right after
 *    session_unindex() took a session out of the index, or right after
 *    session_publish() made one visible: as an interrupt taken there would
 *    hold it. It widens the window between that step and the next ones of
 *    the same program, so that another CPU's program runs in it every time
 *    instead of once in a million: a wrong order of two steps then shows in
 *    every round, a right one in none, however long the window;
 *  - check (race_check) the session's policy count at the moment the one
 *    program that ends a session has taken it out of the index, just
 *    before it takes the count back (session_gone()): a session is counted
 *    before anyone can end it, so the count holds it (>= 1). 0 there, or a
 *    value above 2^63, is a count about to go, or gone, below zero.
 *
 * Nothing else changes: with the knobs at zero, the programs do what the
 * datapath's do, on the same maps (the test shares them).
 */
#ifndef TKO_TEST_RACE_HOOKS_H
#define TKO_TEST_RACE_HOOKS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/table.h"

/* Set by the test (the skeleton's .bss). */
volatile __u64 race_spin_unindex_ns;
volatile __u64 race_spin_publish_ns;
volatile __u32 race_check;

/* What the wrappers did and saw. */
volatile __u64 race_take_ns;		/* when the last session_unindex() call began */
volatile __u64 race_spins;		/* delays made */
volatile __u64 race_ends;		/* sessions of a policy taken out (race_check) */
volatile __u64 race_uncounted;		/* ... with the count not holding them */
volatile __u64 race_uncounted_value;	/* the last such count */

static long race_spin_cb(__u64 i, void *ctx)
{
	__u64 *until = ctx;

	return bpf_ktime_get_ns() >= *until;	/* 1 stops the loop */
}

static __always_inline void race_spin(__u64 ns)
{
	__u64 until;

	if (!ns)
		return;
	until = bpf_ktime_get_ns() + ns;
	bpf_loop(1 << 22, race_spin_cb, &until, 0);
	__sync_fetch_and_add(&race_spins, 1);
}

static __always_inline void race_check_count(__u32 id)
{
	struct tko_policy_stats *ps;
	struct tko_session *s;
	__u32 slot;
	__u64 n;

	s = session_get(id);
	if (!s || !s->policy)
		return;
	slot = s->policy - 1;
	ps = bpf_map_lookup_elem(&policy_stats, &slot);
	if (!ps)
		return;
	n = ps->sessions;
	__sync_fetch_and_add(&race_ends, 1);
	if (n == 0 || n > (1ULL << 63)) {
		__sync_fetch_and_add(&race_uncounted, 1);
		race_uncounted_value = n;
	}
}

static __always_inline int race_session_unindex(__u32 id)
{
	int taken;

	race_take_ns = bpf_ktime_get_ns();
	taken = session_unindex(id);
	if (taken) {
		if (race_check)
			race_check_count(id);
		race_spin(race_spin_unindex_ns);
	}
	return taken;
}

static __always_inline int race_session_publish(__u32 id, __u32 state)
{
	int err = session_publish(id, state);

	if (!err)
		race_spin(race_spin_publish_ns);
	return err;
}

/* Every call after this point, in bpf/lib and the program, is wrapped. */
#define session_unindex race_session_unindex
#define session_publish race_session_publish

#endif /* TKO_TEST_RACE_HOOKS_H */
