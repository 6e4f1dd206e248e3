/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tko loaded inside the benchmark process (agent/lib/loader.h), nothing
 * attached: sessions are created by the real control program (tko_start,
 * run with BPF_PROG_RUN as libtko does) and the datapath programs are run
 * with BPF_PROG_RUN on crafted frames (tests/prog/frames.h).
 */
#ifndef TKO_BENCH_INPROC_H
#define TKO_BENCH_INPROC_H

#include <stdbool.h>
#include <stdint.h>
#include "loader.h"
#include "tko_types.h"

struct bench_helpers;

struct inproc {
	struct tko_bpf b;
	struct bench_helpers *h;
	int sessions_fd, start_fd, stop_fd;
};

/* The benchmark sessions' addresses (RFC 2544 range, never on a wire here). */
#define BENCH_PEER_PORT 443

void inproc_load(struct inproc *p, uint32_t max_sessions);
void inproc_destroy(struct inproc *p);

/* Session i's tuple: distinct for i < 2^24. */
struct tko_key bench_key(uint32_t i);

/* Run tko_start for session i with this config and (if tcp) handed-over state. */
int inproc_start(struct inproc *p, uint32_t i, const struct tko_config *cfg,
		 const struct tko_tcp_state *tcp, uint8_t have);

/*
 * Insert sessions [from, to) as copies of tmpl straight into the table with
 * BPF_MAP_UPDATE_BATCH, their timers unarmed: what the datapath programs
 * read is all there, and 10^6 sessions take a second instead of the minutes
 * the control program needs on this kernel (docs/performance.md).
 */
void inproc_fill(struct inproc *p, uint32_t from, uint32_t to, const struct tko_session *tmpl);

/* Poll until the sessions idx[0..n) are all in state, at most limit_s seconds. */
bool inproc_wait_state(struct inproc *p, const uint32_t *idx, size_t n, uint8_t state,
		       unsigned int limit_s);

/* Clear session i's answer budget (helpers.bpf.c). */
void inproc_open_window(struct inproc *p, const struct tko_key *k);

/*
 * Start session i through libtko (struct tko: an agent's pins), with state
 * handed over. bpf_timer_init() on this kernel allocates with
 * kmalloc_nolock(), which fails now and then under a burst of starts
 * (-ENOMEM): retried after 100 us, as any caller has to; counted in *enomem.
 */
struct tko;
/* Sessions first..first+n-1 (n <= TKO_BATCH_MAX) with one BPF_PROG_RUN (libtko's batch). */
int bench_start_batch(struct tko *t, uint32_t first, uint32_t n, const struct tko_config *cfg,
		      uint32_t interval, uint64_t *enomem);
int bench_start_retrying(struct tko *t, uint32_t i, const struct tko_config *cfg,
			 uint64_t *enomem);

/* Sum of a per-CPU counter of tko's stats map. */
uint64_t inproc_stat(struct inproc *p, uint32_t idx);

#endif /* TKO_BENCH_INPROC_H */
