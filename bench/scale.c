// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 3, memory and size: the kernel memory of a session table, what
 * starting a session allocates on top, and the largest table this machine
 * holds.
 *
 * Memory is read from a memory cgroup of our own: BPF maps (and anything a
 * BPF program allocates) are charged to the cgroup of the process that
 * creates them.
 *  - table: tko's maps for a table of N sessions, all preallocated at load
 *    (entries, index, id and request queues), per session;
 *  - per start: the cgroup's growth while M sessions are started through
 *    libtko on a pinned datapath, per session. The first design armed a
 *    bpf_timer per session here (~185 bytes each); the clock allocates
 *    nothing, so this must be 0 (scale.timer_bytes_per_session keeps its
 *    name).
 * max_sessions: the largest N in {10^6, 10^7} (quick: {10^5, 10^6}) whose
 * table loads and takes N sessions, started by the control program
 * (tko_start_batch, TKO_BATCH_MAX per BPF_PROG_RUN, in this process), if the
 * memory it needs is available.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "common.h"
#include "inproc.h"
#include "tko_dp.h"
#include "ctl.skel.h"

static uint64_t mem_available(void)
{
	char line[256];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/* Bytes per session the starts allocate, from m sessions started through libtko. */
static double start_bytes(const struct opts *o, struct memcg *cg, struct inproc *p, uint32_t m,
			  const char *dir)
{
	struct tko_config cfg;
	struct tko *t;
	uint64_t before, enomem = 0;
	int err;

	err = tko_open(dir, &t);
	if (err)
		die("tko_open %s: %s", dir, strerror(-err));
	tko_dp_config_default(&cfg);
	cfg.idle_s = cfg.interval_s = 3600;
	before = memcg_usage(cg);
	for (uint32_t i = 0; i < m; i += TKO_BATCH_MAX) {
		uint32_t k = m - i < TKO_BATCH_MAX ? m - i : TKO_BATCH_MAX;

		if ((err = bench_start_batch(t, i, k, &cfg, 3600, &enomem)))
			die("tko_dp_session_start_batch: %s", strerror(-err));
	}
	double b = ((double)memcg_usage(cg) - (double)before) / m;

	progress("%u sessions started through libtko: %.1f bytes each beyond the table", m, b);
	tko_close(t);
	return b;
}

/* Load a table of n; its bytes per session (memory cgroup), and its memlock. */
static double table(struct memcg *cg, uint32_t n, struct inproc *p, const char *dir,
		    double *memlock)
{
	uint64_t m0 = memcg_usage(cg), t0 = now_ns();
	struct tko_fds fds;
	int nmaps;
	double b;

	inproc_load(p, n);
	b = ((double)memcg_usage(cg) - (double)m0) / n;
	tko_bpf_fds(&p->b, &fds);
	if (tko_bpf_pin(&fds, dir))
		die("cannot pin the datapath in %s", dir);
	*memlock = (double)datapath_memlock(dir, &nmaps) / n;
	progress("table of %u: loaded in %.1f s, %.1f bytes per session (memory cgroup), "
		 "%.1f (memlock of %d maps)", n, (now_ns() - t0) / 1e9, b, *memlock, nmaps);
	return b;
}

/* Fill a table of n with n sessions through the control program; starts per second. */
static double fill(struct inproc *p, uint32_t n)
{
	enum { CHUNK = 65536 };
	struct tko_ctl_args *a = calloc(CHUNK, sizeof(*a));
	uint64_t t0, spent = 0;

	if (!a)
		die("out of memory");
	for (uint32_t i = 0; i < n; i += CHUNK) {
		uint32_t k = n - i < CHUNK ? n - i : CHUNK;

		for (uint32_t j = 0; j < k; j++)
			a[j] = (struct tko_ctl_args){
				.key = bench_key(i + j),
				.cfg = { .idle_s = 60, .interval_s = 60, .retry_interval_s = 10,
					 .retries = 5, .flags = TKO_F_STATE_GIVEN },
				.tcp = { .snd_nxt = 1000 + i + j, .rcv_nxt = 2000, .window = 502 },
				.have = TKO_HAVE_SEQ,
			};
		t0 = now_ns();
		inproc_start(p, a, k);
		spent += now_ns() - t0;
	}
	free(a);
	return n / (spent / 1e9);
}

int main(int argc, char **argv)
{
	uint32_t sizes[2], m;
	struct inproc p;
	struct memcg cg;
	struct opts o;
	double tb, per_start, memlock, held = 0, rate;
	char dir[300];

	bench_init("scale");
	opts_parse(&o, argc, argv);
	sizes[0] = o.quick ? 100000 : 1000000;
	sizes[1] = o.quick ? 1000000 : 10000000;
	m = o.quick ? 20000 : 100000;
	snprintf(dir, sizeof(dir), "%s-scale", o.pin_dir);
	if (!memcg_create(&cg, "tko-bench"))
		die("cannot create a memory cgroup (cgroup v1 memory or v2 needed)");
	memcg_enter(&cg, 0);

	tb = table(&cg, sizes[0], &p, dir, &memlock);
	per_start = start_bytes(&o, &cg, &p, m, dir);
	tko_bpf_unpin(dir);
	inproc_destroy(&p);
	sleep_ns(NSEC_PER_SEC);	/* the maps are freed after an RCU grace period */
	result("scale.table_bytes_per_session", tb);
	result("scale.table_memlock_per_session", memlock);
	result("scale.timer_bytes_per_session", per_start);

	for (int i = 0; i < 2; i++) {
		double need = (double)sizes[i] * tb * 1.2;

		if (need > (double)mem_available()) {
			progress("%u sessions would need %.1f GiB: more than is available", sizes[i],
				 need / (1 << 30));
			break;
		}
		table(&cg, sizes[i], &p, dir, &memlock);
		rate = fill(&p, sizes[i]);
		progress("table of %u: filled by tko_start_batch at %.0f sessions/s, %llu refused",
			 sizes[i], rate,
			 (unsigned long long)(inproc_stat(&p, TKO_ST_REFUSED_TABLE_FULL) +
					      inproc_stat(&p, TKO_ST_REFUSED_INDEX_FULL)));
		result(i ? "scale.fill_starts_per_s_large" : "scale.fill_starts_per_s", rate);
		tko_bpf_unpin(dir);
		inproc_destroy(&p);
		sleep_ns(NSEC_PER_SEC);
		held = sizes[i];
	}
	progress("largest table held: %.0f sessions", held);
	result("scale.max_sessions", held);
	memcg_destroy(&cg);
	return 0;
}
