/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tko loaded inside the benchmark process (agent/loader/loader.h), nothing
 * attached: sessions are created by the real control program (tko_start_batch,
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
	int sessions_fd, start_fd, start_batch_fd, stop_fd, requests_fd;
};

/* The benchmark sessions' addresses (RFC 2544 range, never on a wire here). */
#define BENCH_PEER_PORT 443

void inproc_load(struct inproc *p, uint32_t max_sessions);
void inproc_destroy(struct inproc *p);

/* Session i's tuple: distinct for i < 2^24. */
struct tko_key bench_key(uint32_t i);

/*
 * Start args[0..n) with the real control program, TKO_BATCH_MAX per
 * BPF_PROG_RUN of tko_start_batch; dies if one is refused.
 */
void inproc_start(struct inproc *p, const struct tko_ctl_args *args, uint32_t n);

/*
 * A fixture: sessions args[0..n) started (inproc_start) on a table whose
 * next ids are first.. (a fresh table, nobody else creating: checked), then
 * made to look as the clock leaves them: each entry takes tmpl's state,
 * prev_state, counters, probe_ns, and its L2 path if tmpl has one (key,
 * config, TCP state, index and clock fields stay as tko_start made them).
 * The requests tko_start queued stay queued: a carrier pass files them.
 */
void inproc_install(struct inproc *p, const struct tko_ctl_args *args, uint32_t first,
		    uint32_t n, const struct tko_session *tmpl);

/* inproc_install of sessions [from, to), keys bench_key(i), cfg/tcp of tmpl. */
void inproc_fill(struct inproc *p, uint32_t from, uint32_t to, const struct tko_session *tmpl);

/* Entries [first, first + n) of the session table, read or written in batches. */
void inproc_read(struct inproc *p, uint32_t first, uint32_t n, struct tko_session *out);
void inproc_write(struct inproc *p, uint32_t first, uint32_t n, const struct tko_session *in);

/*
 * Ask the clock to look at session id, as the programs do (sched_request):
 * its entry must have clock.req set (written), and it is pushed on the
 * carrier's request queue.
 */
void inproc_request(struct inproc *p, uint32_t id);

/*
 * Clear session id's answer budget (helpers.bpf.c); with ct_due, also when
 * its conntrack entry was refreshed last (its next answer refreshes it).
 */
void inproc_open_window(struct inproc *p, uint32_t id, bool ct_due);

/* Sum of a per-CPU counter of tko's stats map. */
uint64_t inproc_stat(struct inproc *p, uint32_t idx);

/*
 * Through libtko (struct tko: an agent's pins), with state handed over:
 * session i alone, or sessions first..first+n-1 (n <= TKO_BATCH_MAX) in one
 * tko_dp_session_start_batch(), idle times 1 + i % spread s (spread 0: cfg's
 * for all). A refusal is
 * returned; -ENOMEM (not expected: starting allocates nothing) is retried
 * after 100 us and counted in *enomem.
 */
struct tko;
int bench_start_batch(struct tko *t, uint32_t first, uint32_t n, const struct tko_config *cfg,
		      uint32_t spread, uint64_t *enomem);
int bench_start_retrying(struct tko *t, uint32_t i, const struct tko_config *cfg,
			 uint64_t *enomem);

#endif /* TKO_BENCH_INPROC_H */
