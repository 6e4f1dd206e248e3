/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The real tko agent (build/tko agent), run in a namespace made by run.sh
 * with a private pin directory, as a child of the benchmark: it dies with
 * the benchmark (PR_SET_PDEATHSIG) and is stopped by its pid.
 */
#ifndef TKO_BENCH_AGENT_H
#define TKO_BENCH_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "common.h"

struct agent {
	pid_t pid;
	int out_fd;		/* its stdout (events, one per line), if captured */
	char pin_dir[256];
	char tko[512];		/* the binary, for `tko unload` */
	char ns[128];
};

/* The agent's default tick (--tick-ms not given). */
#define AGENT_TICK_DEFAULT 0

/*
 * Start `tko agent --iface IFACE [--tick-ms TICK] --max-sessions MAX` in
 * namespace ns, pins in o->pin_dir plus a suffix; returns once it said
 * "ready" (its stderr goes to WORK/agent.err). capture: read its events
 * from a->out_fd (else discarded).
 */
void agent_start(struct agent *a, const struct opts *o, const char *ns, const char *iface,
		 unsigned int tick_ms, unsigned int max_sessions, bool capture);
/* The same with more options for the agent (extra: NULL-terminated, or NULL). */
void agent_start_args(struct agent *a, const struct opts *o, const char *ns, const char *iface,
		      unsigned int tick_ms, unsigned int max_sessions, bool capture,
		      const char *const *extra);
/*
 * SIGTERM (it stops every session, reporting each), SIGKILL after limit_s
 * seconds; returns how long it took in seconds. What a killed agent leaves
 * (attachments, the carrier, pins) is removed with `tko unload` in its
 * namespace: the carrier frame it left circulating would otherwise keep the
 * namespace, and the whole datapath with it, alive after run.sh deletes it
 * (docs/performance.md, caveats).
 */
double agent_stop_within(struct agent *a, unsigned int limit_s);
void agent_stop(struct agent *a);	/* within 60 s */

/*
 * Kernel memory of the datapath pinned in pin_dir: the memlock (what the
 * kernel charges, /proc/self/fdinfo) of every map pinned there or used by a
 * program pinned there (directly or through a pinned link), each once.
 */
uint64_t datapath_memlock(const char *pin_dir, int *nmaps);

/*
 * Drops of device ifname in the network namespace of process pid: its
 * receive and transmit drops (/proc/PID/net/dev: for a veth, rx counts
 * the frames its peer could not hand it, tx those it could not hand its
 * peer) and its root qdisc's drops (tc -s), -1 where unknown.
 */
struct dev_drops {
	long long rx, tx, qdisc;
};
void dev_drops(pid_t pid, const char *ns, const char *ifname, struct dev_drops *d);

#endif /* TKO_BENCH_AGENT_H */
