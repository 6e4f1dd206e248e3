// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 3, memory and size: the kernel memory a session costs, and the
 * largest table this machine holds.
 *
 * Memory is read from a memory cgroup of our own: the BPF maps and the
 * timers are charged to the cgroup of the process that creates them.
 *  - table: tko's maps for a table of N sessions (preallocated: the session
 *    hash and the due queue are sized N at load), per session;
 *  - timer: what tko_start allocates per session (its bpf_timer), from M
 *    sessions started through libtko on a pinned datapath;
 *  - bytes_per_session = table + timer.
 * max_sessions: the largest N in {10^6, 10^7} (quick: {10^5, 10^6}) whose
 * table loads and takes N sessions (inserted with BPF_MAP_UPDATE_BATCH) and
 * whose timers, at the measured bytes each, fit in the memory left.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "inproc.h"
#include "tko.h"
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

/* Bytes per session of the timers, from m sessions started through libtko. */
static double timer_bytes(const struct opts *o, struct memcg *cg, struct inproc *p, uint32_t m)
{
	struct tko_config cfg;
	struct tko_fds fds;
	struct tko *t;
	uint64_t before, enomem = 0;
	char dir[300];
	int err;

	snprintf(dir, sizeof(dir), "%s-scale", o->pin_dir);
	tko_bpf_fds(&p->b, &fds);
	if (tko_bpf_pin(&fds, dir))
		die("cannot pin the datapath in %s", dir);
	err = tko_open(dir, &t);
	if (err)
		die("tko_open %s: %s", dir, strerror(-err));
	tko_config_default(&cfg);
	cfg.idle_s = cfg.interval_s = 3600;	/* timers armed, never firing here */
	before = memcg_usage(cg);
	for (uint32_t i = 0; i < m; i++)
		if ((err = bench_start_retrying(t, i, &cfg, &enomem)))
			die("tko_session_start: %s", strerror(-err));
	double b = ((double)memcg_usage(cg) - (double)before) / m;

	progress("%u sessions started through libtko: %.0f bytes each beyond the table "
		 "(%llu ENOMEM retries)", m, b, (unsigned long long)enomem);
	tko_close(t);
	tko_bpf_unpin(dir);
	return b;
}

/* Load a table of n (and fill it unless keep); returns its bytes per session. */
static double table(struct memcg *cg, uint32_t n, struct inproc *p, bool keep)
{
	struct tko_session s = {
		.cfg = { .idle_s = 60, .interval_s = 60, .retry_interval_s = 10, .retries = 5 },
		.have = TKO_HAVE_SEQ,
	};
	uint64_t m0 = memcg_usage(cg), t0 = now_ns();
	double b;

	inproc_load(p, n);
	b = ((double)memcg_usage(cg) - (double)m0) / n;
	if (keep) {
		progress("table of %u: %.0f bytes per session", n, b);
		return b;
	}
	inproc_fill(p, 0, n, &s);
	progress("table of %u: loaded and filled in %.1f s, %.0f bytes per session, %.2f GiB",
		 n, (now_ns() - t0) / 1e9, b, b * n / (1 << 30));
	inproc_destroy(p);
	sleep_ns(NSEC_PER_SEC);	/* the maps are freed after an RCU grace period */
	return b;
}

int main(int argc, char **argv)
{
	uint32_t sizes[2], m;
	struct inproc p;
	struct memcg cg;
	struct opts o;
	double tb, per_timer, held = 0;

	bench_init("scale");
	opts_parse(&o, argc, argv);
	sizes[0] = o.quick ? 100000 : 1000000;
	sizes[1] = o.quick ? 1000000 : 10000000;
	m = o.quick ? 5000 : 20000;
	if (!memcg_create(&cg, "tko-bench"))
		die("cannot create a memory cgroup (cgroup v1 memory or v2 needed)");
	memcg_enter(&cg, 0);

	tb = table(&cg, sizes[0], &p, true);
	per_timer = timer_bytes(&o, &cg, &p, m);
	inproc_destroy(&p);
	result("scale.table_bytes_per_session", tb);
	result("scale.timer_bytes_per_session", per_timer);
	result("scale.bytes_per_session", tb + per_timer);

	for (int i = 0; i < 2; i++) {
		double need = (double)sizes[i] * (tb + per_timer) * 1.1;

		if (need > (double)mem_available()) {
			progress("%u sessions would need %.1f GiB: more than is available", sizes[i],
				 need / (1 << 30));
			break;
		}
		table(&cg, sizes[i], &p, false);
		/* The timers of a full table: measured bytes each, must fit too. */
		if ((double)sizes[i] * per_timer * 1.1 > (double)mem_available())
			break;
		held = sizes[i];
	}
	progress("largest table held: %.0f sessions", held);
	result("scale.max_sessions", held);
	memcg_destroy(&cg);
	return 0;
}
