/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The answer path's clock: CLOCK_MONOTONIC in ns, to a tick, from jiffies.
 *
 * bpf_jiffies64() is inlined by the verifier (a load of jiffies_64), where
 * bpf_ktime_get_ns() is a helper call that reads the clocksource: 20-30 ns
 * of an answer of 130 here (docs/performance.md). What the answer path
 * times needs no finer clock: the budget's second (bpf/lib/answer.h) and
 * the conntrack refresh period, minutes (bpf/lib/conntrack.h).
 *
 * The kernel advances jiffies by one every TICK_NSEC of CLOCK_MONOTONIC,
 * at the tick's interrupt, so jiffies * tick + base is CLOCK_MONOTONIC up
 * to a tick behind, give or take that interrupt's latency (µs; the base is
 * placed by one such interrupt). The loader finds both before the programs
 * load (agent/loader/clock.c): the tick from the kernel's CONFIG_HZ, read
 * from its config file where one is installed and measured where not (an
 * extern __kconfig would fail the load there), the base measured. Where it
 * could not, coarse_tick_ns stays 0 and the helper is called: the verifier
 * drops the branch not taken.
 */
#ifndef TKO_BPF_COARSE_H
#define TKO_BPF_COARSE_H

#include <bpf/bpf_helpers.h>

const volatile __u64 coarse_tick_ns;
const volatile __u64 coarse_base_ns;

static __always_inline __u64 coarse_ns(void)
{
	if (!coarse_tick_ns)
		return bpf_ktime_get_ns();
	return bpf_jiffies64() * coarse_tick_ns + coarse_base_ns;
}

#endif /* TKO_BPF_COARSE_H */
