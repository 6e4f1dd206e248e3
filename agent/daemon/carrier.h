/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The carrier's userspace half: the private veth pair, its pacing qdisc, the
 * injection of the one circulating frame, and its re-injection when the
 * datapath's watchdog says it was lost (docs/architecture.md, "The carrier").
 */
#ifndef TKO_CARRIER_H
#define TKO_CARRIER_H

#include <stdbool.h>
#include <linux/types.h>
#include "tko_types.h"

#define CARRIER_LOOP_IF	"tko0"	/* its qdisc paces the carrier */
#define CARRIER_PEER_IF	"tko1"	/* runs the carrier program at TC ingress */
#define TICK_MS_MIN 1
#define TICK_MS_MAX 1000

struct carrier {
	int loop_ifindex;
	int peer_ifindex;
	unsigned int tick_ms;
	int map_fd;		/* the `carrier` array */
	__u32 generation;
	__u64 last_passes;
	int ifindex[TKO_MAX_IFACES];
	bool created;
	bool ring;		/* tko1 runs tko_carrier_rx: the carrier on its own ring */
};

/*
 * Create tko0/tko1, pace tko0 at one carrier frame per tick, attach prog_fd
 * (TC ingress) and rx_fd (XDP) to tko1 and inject the frame; with adopt,
 * take over a carrier left running by an agent that is gone. ifindex[0..n)
 * are the agent's interfaces (routes of sessions without L2).
 */
int carrier_setup(struct carrier *c, int prog_fd, int rx_fd, int map_fd, unsigned int tick_ms,
		  const int *ifindex, int n, bool adopt);
/* Remove a carrier without an agent (tko unload): the veth pair by name. */
void carrier_remove(void);
/* The agent's interfaces changed (one removed, or back with a new ifindex). */
void carrier_set_ifaces(struct carrier *c, const int *ifindex, int n);
/*
 * Where the agent sends wakes (0-terminated), and whether it runs a hook:
 * what the datapath learns endpoints on, and what sessions with --wake need.
 */
void carrier_set_wake(struct carrier *c, const __u32 ifindex[TKO_MAX_IFACES], bool hook);
/* Start (or restart, with a new generation) the circulating frame. */
int carrier_inject(struct carrier *c);
/*
 * The watchdog fired when the carrier had made `passes` passes: re-inject
 * unless one came since (1 if it re-injected).
 */
int carrier_lost(struct carrier *c, __u64 passes);
/* No watchdog yet (no pass since the injection): 1 if one came. */
bool carrier_passed(const struct carrier *c);
/* The watchdog's period for this tick (ms). */
unsigned int carrier_watchdog_ms(unsigned int tick_ms);
/* Remove the veth pair (and with it the qdisc and the filter). */
void carrier_teardown(struct carrier *c);

#endif /* TKO_CARRIER_H */
