/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The carrier watchdog: one BPF timer that every carrier pass pushes back
 * by the watchdog's period. It fires only when no pass came for that long
 * (the frame was lost: a qdisc dropped it, a link went down), tells the
 * agent through the signals ring, and fires again a period later until
 * passes resume. The agent needs no clock of its own to notice a carrier
 * that stopped: it sleeps until told.
 */
#ifndef TKO_BPF_WATCHDOG_H
#define TKO_BPF_WATCHDOG_H

#include "consts.h"
#include "maps.h"
#include "wheel.h"

static __always_inline __u64 watchdog_ns(void)
{
	__u32 zero = 0;
	struct tko_carrier_state *c = bpf_map_lookup_elem(&carrier, &zero);
	__u32 ms = c && c->watchdog_ms ? c->watchdog_ms : TKO_WATCHDOG_MS;

	return (__u64)ms * NSEC_PER_MSEC;
}

static int watchdog_fired(void *map, __u32 *key, struct tko_watchdog *wd)
{
	__u32 zero = 0;
	struct tko_carrier_state *c = bpf_map_lookup_elem(&carrier, &zero);

	stat_inc(TKO_ST_CARRIER_STALLS);
	signal_agent(TKO_SIG_CARRIER_LOST, 0, c ? c->passes : 0);
	bpf_timer_start(&wd->timer, watchdog_ns(), 0);
	return 0;
}

/* A pass came: the watchdog waits a whole period from now. */
static __always_inline void watchdog_kick(void)
{
	__u32 zero = 0;
	struct tko_watchdog *wd = bpf_map_lookup_elem(&watchdog, &zero);

	if (!wd)
		return;
	if (!wd->ready) {
		/* Once per datapath: -EBUSY means another pass did it. */
		int err = bpf_timer_init(&wd->timer, &watchdog, CLOCK_MONOTONIC);

		if (err && err != -EBUSY)
			return;	/* no memory now: the next pass tries again */
		if (bpf_timer_set_callback(&wd->timer, watchdog_fired))
			return;
		wd->ready = 1;
	}
	bpf_timer_start(&wd->timer, watchdog_ns(), 0);
}

#endif /* TKO_BPF_WATCHDOG_H */
