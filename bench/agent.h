/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The real tko agent (build/tko agent), run in a namespace made by run.sh
 * with a private pin directory, as a child of the benchmark: it dies with
 * the benchmark (PR_SET_PDEATHSIG) and is stopped by its pid.
 */
#ifndef TKO_BENCH_AGENT_H
#define TKO_BENCH_AGENT_H

#include <stdbool.h>
#include <sys/types.h>
#include "common.h"

struct agent {
	pid_t pid;
	int out_fd;		/* its stdout (events, one per line), if captured */
	char pin_dir[256];
};

/*
 * Start `tko agent --iface IFACE --tick-ms TICK --max-sessions MAX` in
 * namespace ns, pins in o->pin_dir plus a suffix; returns once it pinned
 * its datapath. capture: read its events from a->out_fd (else discarded).
 */
void agent_start(struct agent *a, const struct opts *o, const char *ns, const char *iface,
		 unsigned int tick_ms, unsigned int max_sessions, bool capture);
void agent_stop(struct agent *a);

#endif /* TKO_BENCH_AGENT_H */
