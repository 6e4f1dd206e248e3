// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 3 (steady state) and metric 5 (wakeups), with the real agent.
 *
 * The agent runs in the endpoint namespace on e0 (carrier tick 1 ms: the
 * default 5 ms carries at most 32 probes per tick, 6400 a second, fewer than
 * 10^6 sessions at 60 s need). N sessions are started through libtko, handed
 * over with --state, their idle times spread over one interval so that the
 * probes are spread evenly; every session probes every interval. The
 * simulated peer on p0 answers each probe, and tko's XDP consumes the
 * answers: the full keepalive loop, the agent asleep.
 *
 * CPU: all of tko's steady-state work runs in softirq context (the timers
 * are soft hrtimers, the carrier and the XDP answers are packet
 * processing), so the machine's softirq time (/proc/stat) during the
 * window, minus the same measured just before with the agent running and no
 * session, is what the sessions cost; it includes the simulated peer's own
 * answers (an XDP program, measured and reported apart). The rest of this
 * shared machine's load shows in softirq time only as far as it moves
 * packets. The window is cut in slices: median and spread over slices.
 * Also, noise-free but partial: the run time of tko's BPF programs per
 * keepalive (BPF run-time statistics, enabled for the window).
 * Wakeups: the agent's context switches over the window, per 1000
 * keepalives (tko's probes sent).
 *
 * Full: 10^6 sessions at 60 s. Quick: 10^5 at 6 s (the same probe rate).
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "common.h"
#include "inproc.h"
#include "peerctl.h"
#include "tko.h"

struct snap {
	struct cpu_sample cpu;
	uint64_t ctxsw;
	__u64 st[TKO_ST_MAX];
	uint64_t t;
};

static void snap(struct snap *s, struct tko *t, pid_t agent)
{
	s->t = now_ns();
	cpu_sample(-1, &s->cpu);
	s->ctxsw = proc_ctxsw(agent);
	if (tko_stats_read(t, s->st))
		die("cannot read tko's stats");
}

/* Total run time of the agent's datapath programs (pinned), and of the peer. */
static uint64_t prog_run_ns(const char *pin_dir, struct bench_peer *peer, uint64_t *peer_ns)
{
	static const char *const progs[] = { "prog_carrier", "prog_xdp_ingress", "prog_tc_egress" };
	uint64_t sum = 0;

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		char path[512];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", pin_dir, progs[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		sum += prog_fd_run_ns(fd);
		close(fd);
	}
	*peer_ns = peer_run_ns(peer);
	return sum;
}

int main(int argc, char **argv)
{
	uint32_t n, interval, slices, slice_s, idle_s = 5;
	uint64_t enomem = 0, t0, idle_busy, bpf_ns0 = 0, bpf_ns1 = 0, peer_ns0 = 0, peer_ns1 = 0;
	int stats_fd;
	struct bench_peer *peer;
	struct agent a;
	struct tko *t;
	struct opts o;
	struct snap s0, s1, prev, cur;
	struct stats st;
	double *pct;
	int err;

	bench_init("steady");
	opts_parse(&o, argc, argv);
	n = o.quick ? 100000 : 1000000;
	interval = o.quick ? 6 : 60;
	slice_s = o.quick ? 2 : 10;
	slices = o.quick ? 5 : 6;
	if (!o.ns_a || !o.ns_b || !o.pin_dir)
		die("--ns-a, --ns-b and --pin-dir are required");
	pct = calloc(slices, sizeof(double));

	peer = peer_attach(o.ns_b, -1);
	peer_mode(peer, PEER_REFLECT);
	agent_start(&a, &o, o.ns_a, BENCH_ENDPOINT_IF, 1, n + n / 8, false);
	if ((err = tko_open(a.pin_dir, &t)))
		die("tko_open: %s", strerror(-err));

	/* The machine with the agent idle: what the sessions add is the rest. */
	snap(&s0, t, a.pid);
	sleep_ns(idle_s * NSEC_PER_SEC);
	snap(&s1, t, a.pid);
	idle_busy = (s1.cpu.softirq_ns - s0.cpu.softirq_ns) / idle_s;
	progress("agent idle (carrier at 1 ms): %.2f%% of one core in softirq on the machine "
		 "(%.0f%% busy in all)", idle_busy / 1e7,
		 (double)(s1.cpu.busy_ns - s0.cpu.busy_ns) / idle_s / 1e7);

	struct tko_config cfg = { .interval_s = interval, .retry_interval_s = interval,
				  .retries = 255 };
	/* The first half one by one, the second half TKO_BATCH_MAX per call. */
	uint32_t half = n / 2;

	t0 = now_ns();
	for (uint32_t i = 0; i < half; i++) {
		cfg.idle_s = 1 + i % interval;
		if ((err = bench_start_retrying(t, i, &cfg, &enomem)))
			die("tko_session_start %u: %s", i, strerror(-err));
		if (i && i % 200000 == 0)
			progress("%u sessions started", i);
	}
	double secs = (now_ns() - t0) / 1e9;

	progress("%u sessions started one by one through libtko in %.1f s: %.0f/s "
		 "(%llu ENOMEM retries)", half, secs, half / secs, (unsigned long long)enomem);
	result("scale.installs_per_s", half / secs);
	result("scale.installs_enomem_retries", (double)enomem);

	uint64_t enomem_b = 0;

	t0 = now_ns();
	for (uint32_t i = half; i < n; i += TKO_BATCH_MAX) {
		uint32_t k = n - i < TKO_BATCH_MAX ? n - i : TKO_BATCH_MAX;

		if ((err = bench_start_batch(t, i, k, &cfg, interval, &enomem_b)))
			die("tko_session_start_batch %u: %s", i, strerror(-err));
	}
	secs = (now_ns() - t0) / 1e9;
	progress("%u sessions started in batches of %d in %.1f s: %.0f/s (%llu ENOMEM retries)",
		 n - half, TKO_BATCH_MAX, secs, (n - half) / secs, (unsigned long long)enomem_b);
	result("scale.installs_per_s_batched", (n - half) / secs);

	/* Every session has had its first probe once its idle time passed. */
	sleep_until_ns(now_ns() + (uint64_t)(interval + 2) * NSEC_PER_SEC);
	progress("steady state: measuring %u x %u s", slices, slice_s);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	bpf_ns0 = prog_run_ns(a.pin_dir, peer, &peer_ns0);
	snap(&s0, t, a.pid);
	prev = s0;
	for (uint32_t k = 0; k < slices; k++) {
		sleep_until_ns(prev.t + (uint64_t)slice_s * NSEC_PER_SEC);
		snap(&cur, t, a.pid);
		double dt = (cur.t - prev.t) / 1e9;
		double busy = (double)(cur.cpu.softirq_ns - prev.cpu.softirq_ns) - idle_busy * dt;

		pct[k] = busy / dt / 1e7;
		prev = cur;
	}
	s1 = cur;
	bpf_ns1 = prog_run_ns(a.pin_dir, peer, &peer_ns1);
	if (stats_fd >= 0)
		close(stats_fd);
	uint64_t sent = s1.st[TKO_ST_PROBES_SENT] - s0.st[TKO_ST_PROBES_SENT];
	uint64_t answered = s1.st[TKO_ST_PROBES_ANSWERED] - s0.st[TKO_ST_PROBES_ANSWERED];
	uint64_t late = s1.st[TKO_ST_QUEUE_FULL] - s0.st[TKO_ST_QUEUE_FULL];
	double dt = (s1.t - s0.t) / 1e9;
	double busy = (double)(s1.cpu.softirq_ns - s0.cpu.softirq_ns) - idle_busy * dt;

	stats_of(pct, slices, &st);
	progress("%u sessions every %u s: %s of one core; %llu probes sent, %llu answers "
		 "consumed, %llu queue-full", n, interval, stats_str(&st, "%"),
		 (unsigned long long)sent, (unsigned long long)answered, (unsigned long long)late);
	if (!sent)
		die("no probe was sent");
	result_stats("scale.cpu_pct_1e6_at_60s", &st);
	result("scale.cpu_sessions", n);
	result("scale.cpu_interval_s", interval);
	result("scale.cpu_probes_per_s", sent / dt);
	result("scale.cpu_ns_per_keepalive", busy > 0 ? busy / sent : 0);
	if (stats_fd >= 0) {
		result("scale.bpf_ns_per_keepalive", (double)(bpf_ns1 - bpf_ns0) / sent);
		result("scale.peer_ns_per_keepalive", (double)(peer_ns1 - peer_ns0) / sent);
		progress("tko's BPF programs: %.0f ns per keepalive; the simulated peer: %.0f ns",
			 (double)(bpf_ns1 - bpf_ns0) / sent, (double)(peer_ns1 - peer_ns0) / sent);
	}
	result("wakeups.per_1000_keepalives", (double)(s1.ctxsw - s0.ctxsw) * 1000.0 / sent);
	result("wakeups.agent_ctxsw", (double)(s1.ctxsw - s0.ctxsw));
	result("wakeups.window_s", dt);
	progress("agent: %llu context switches while %llu keepalives were sent",
		 (unsigned long long)(s1.ctxsw - s0.ctxsw), (unsigned long long)sent);

	tko_close(t);
	agent_stop(&a);
	peer_detach(peer);
	return 0;
}
