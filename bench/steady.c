// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 3 (steady state, the most sessions kept alive at once, their
 * memory) and metric 5 (wakeups), with the real agent at its default tick.
 *
 * A run: the agent in the endpoint namespace on e0 (a transmit queue deep
 * enough for the carrier's bursts, run.sh), its table sized for the run's
 * N sessions (--max-sessions N); N sessions started through libtko in
 * batches, handed over with their state, their starts spread evenly over
 * one interval so that the probes are; every session probes every
 * interval. The simulated peer on p0 answers each probe, and tko's XDP
 * consumes the answers: the full keepalive loop, the agent asleep.
 * Once every session is ACTIVE (the "offloaded" events counted), a window of
 * at least 60 s: every session must be ACTIVE at its end, have probed
 * during it, and have had every probe it ever sent answered (the session's
 * own counters, read from the table before and after the window; a probe in
 * flight as the table is read is allowed), with no peer declared dead and no
 * probe refused by the device: then the run "held" N sessions. Late probes
 * (more than a tick after their time) are counted and reported.
 * The datapath's kernel memory: the memlock of every map of the datapath
 * (fdinfo), over N.
 *
 * CPU (the steady-state run only): all of tko's steady-state work runs in
 * softirq context (the carrier and the XDP answers are packet processing),
 * so the machine's softirq time (/proc/stat) during the window, minus the
 * same measured just before with the agent running and no session, is what
 * the sessions cost; it includes the simulated peer's own answers (an XDP
 * program, measured and reported apart). The window is cut in slices:
 * median and spread over slices. Also, noise-free but partial: the run
 * time of tko's BPF programs per keepalive (BPF run-time statistics,
 * enabled for the window). Wakeups: the agent's context switches over the
 * window, per 1000 keepalives (tko's probes sent). (Install rates are
 * measured by bench/clock.c, where sessions are started as fast as libtko
 * goes.)
 *
 * Full: the steady state with 10^6 sessions every 60 s, then 10^7 every
 * 60 s (5 x 10^6, then 2 x 10^6 if that is not held). Quick: one run, 10^6
 * sessions every 10 s.
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
#include "tko_dp.h"

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
	if (tko_dp_stats_read(t, s->st))
		die("cannot read tko's stats");
}

static uint64_t delta(const struct snap *a, const struct snap *b, int st)
{
	return b->st[st] - a->st[st];
}

/* Total run time of the agent's datapath programs (pinned), and of the peer. */
static uint64_t prog_run_ns(const char *pin_dir, struct bench_peer *peer, uint64_t *peer_ns)
{
	static const enum pin_id progs[] = { P_PROG_CARRIER, P_PROG_XDP, P_PROG_TC,
					     P_PROG_TC_INGRESS };
	uint64_t sum = 0;

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		int fd = tko_pin_get(pin_dir, progs[i]);

		if (fd < 0)
			continue;
		sum += prog_fd_run_ns(fd);
		close(fd);
	}
	*peer_ns = peer_run_ns(peer);
	return sum;
}

struct run {
	uint32_t n, interval;
	uint32_t slices, slice_s;	/* the window */
	bool steady;		/* the steady-state run: CPU, wakeups */
};

/* What the sessions' own counters say, read from the table. */
struct walk {
	uint64_t active, probed, lost, inflight;
};

/*
 * Read every entry, once the window is over: each session's state, whether
 * its last probe left after `since` (the window's start), and whether every
 * probe it ever sent was answered. A probe unanswered for longer than a
 * second is lost (the peer answers in microseconds); one younger than that
 * may be in flight. (Reading 10^7 entries takes seconds of one CPU: done
 * before the window, it delayed carrier passes, whose sessions then stayed
 * bunched in one tick; see docs/performance.md.)
 */
static void walk(int sessions_fd, uint32_t n, uint64_t since, struct walk *w)
{
	enum { CHUNK = 4096 };
	static struct tko_session vals[CHUNK];
	static __u32 keys[CHUNK];
	__u32 batch = 0, k;
	void *in = NULL;
	int err;

	memset(w, 0, sizeof(*w));
	do {
		uint64_t now;

		k = CHUNK;
		err = bpf_map_lookup_batch(sessions_fd, in, &batch, keys, vals, &k, NULL);
		if (err && err != -ENOENT)
			die("cannot read the session table: %s", strerror(-err));
		now = now_ns();	/* after the read: no entry read is newer */
		for (__u32 i = 0; i < k; i++) {
			const struct tko_session *s = &vals[i];
			__u32 owed;

			if (keys[i] >= n || s->state != TKO_ACTIVE)
				continue;
			w->active++;
			/* Sent and not answered, or not sent at all (refused by
			 * the device: counted unanswered, not sent). */
			owed = s->cnt.probes_sent - s->cnt.probes_answered;
			if (s->cnt.unanswered > owed)
				owed = s->cnt.unanswered;
			if (owed == 1 && s->cnt.unanswered == 1 && s->probe_ns + NSEC_PER_SEC > now)
				w->inflight++;
			else
				w->lost += owed;
			if (s->probe_ns >= since)
				w->probed++;
		}
		in = &batch;
	} while (!err && k);
}

static uint64_t offloaded(struct tko *t)
{
	static __u64 ev[TKO_EV_STATS_LEN];

	if (tko_dp_event_stats_read(t, ev))
		die("cannot read tko's event counters");
	return ev[TKO_EV_OFFLOADED * TKO_REASONS_MAX + TKO_R_IDLE];
}

/*
 * Sessions [0, n) started over `over_s` seconds, TKO_BATCH_MAX per call at
 * even intervals, each ACTIVE (and probing) 1 s after its start: the probes
 * are spread evenly over the interval, as those of sessions started at
 * random times would be. (Started as fast as possible, sessions started in
 * the same tick share that tick's pass for ever: see docs/performance.md.)
 */
static void install_paced(struct tko *t, uint32_t n, const struct tko_config *cfg,
			  uint32_t over_s)
{
	uint32_t batches = (n + TKO_BATCH_MAX - 1) / TKO_BATCH_MAX;
	uint64_t t0 = now_ns(), enomem = 0;
	struct tko_config c = *cfg;
	int err;

	for (uint32_t j = 0; j < batches; j++) {
		uint32_t first = j * TKO_BATCH_MAX, k = n - first < TKO_BATCH_MAX ? n - first :
						       TKO_BATCH_MAX;

		sleep_until_ns(t0 + (uint64_t)j * over_s * NSEC_PER_SEC / batches);
		if ((err = bench_start_batch(t, first, k, &c, 1, &enomem)))
			die("tko_dp_session_start_batch %u: %s", first, strerror(-err));
	}
	progress("%u sessions started over %.1f s (%u s asked)", n, (now_ns() - t0) / 1e9, over_s);
}

/* One run; true if it held its n sessions. */
static bool one_run(const struct opts *o, struct bench_peer *peer, const struct run *r)
{
	uint64_t idle_busy = 0, bpf_ns0 = 0, bpf_ns1 = 0, peer_ns0 = 0, peer_ns1 = 0;
	struct tko_config cfg = { .interval_s = r->interval, .retry_interval_s = r->interval,
				  .retries = 5 };
	struct snap s0, s1, prev, cur;
	struct walk w1;
	struct agent a;
	struct stats st;
	struct tko *t;
	double *pct = calloc(r->slices, sizeof(double));
	int stats_fd = -1, sessions_fd, err, nmaps;
	char path[512];
	bool held;

	if (!pct)
		die("out of memory");
	progress("%u sessions every %u s: starting the agent (table of %u)", r->n, r->interval,
		 r->n);
	agent_start(&a, o, o->ns_a, BENCH_ENDPOINT_IF, AGENT_TICK_DEFAULT, r->n, false);
	if ((err = tko_open(a.pin_dir, &t)))
		die("tko_open: %s", strerror(-err));
	snprintf(path, sizeof(path), "%s/%s", a.pin_dir, pin_names[P_SESSIONS]);
	sessions_fd = bpf_obj_get(path);
	if (sessions_fd < 0)
		die("cannot open %s: %s", path, strerror(errno));

	if (r->steady) {
		/* The machine with the agent idle: what the sessions add is the rest. */
		snap(&s0, t, a.pid);
		sleep_ns(4 * NSEC_PER_SEC);
		snap(&s1, t, a.pid);
		idle_busy = (s1.cpu.softirq_ns - s0.cpu.softirq_ns) / 4;
		progress("agent idle: %.2f%% of one core in softirq on the machine "
			 "(%.0f%% busy in all)", idle_busy / 1e7,
			 (double)(s1.cpu.busy_ns - s0.cpu.busy_ns) / 4 / 1e7);
	}
	install_paced(t, r->n, &cfg, r->interval);

	/* Every session becomes ACTIVE once its idle time passed (and probes). */
	uint64_t deadline = now_ns() + 60 * NSEC_PER_SEC, got;

	while ((got = offloaded(t)) < r->n && now_ns() < deadline)
		sleep_ns(500 * 1000 * 1000);
	if (got < r->n)
		progress("only %llu of %u sessions became ACTIVE", (unsigned long long)got, r->n);
	sleep_ns(NSEC_PER_SEC);	/* the last ones' first probes answered */

	progress("window: %u x %u s; %llu sessions became ACTIVE", r->slices, r->slice_s,
		 (unsigned long long)got);
	if (r->steady) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		bpf_ns0 = prog_run_ns(a.pin_dir, peer, &peer_ns0);
	}
	struct dev_drops d0, d1;

	dev_drops(a.pid, o->ns_a, BENCH_ENDPOINT_IF, &d0);
	snap(&s0, t, a.pid);
	prev = s0;
	for (uint32_t k = 0; k < r->slices; k++) {
		sleep_until_ns(prev.t + (uint64_t)r->slice_s * NSEC_PER_SEC);
		snap(&cur, t, a.pid);
		double dt = (cur.t - prev.t) / 1e9;
		double busy = (double)(cur.cpu.softirq_ns - prev.cpu.softirq_ns) - idle_busy * dt;

		pct[k] = busy / dt / 1e7;
		if (delta(&prev, &cur, TKO_ST_EMIT_ERRORS) || delta(&prev, &cur, TKO_ST_BACKLOG))
			progress("  slice %u: %llu probes sent, %llu refused by the device, %llu "
				 "passes with work left, machine %.0f%% busy", k,
				 (unsigned long long)delta(&prev, &cur, TKO_ST_PROBES_SENT),
				 (unsigned long long)delta(&prev, &cur, TKO_ST_EMIT_ERRORS),
				 (unsigned long long)delta(&prev, &cur, TKO_ST_BACKLOG),
				 (double)(cur.cpu.busy_ns - prev.cpu.busy_ns) /
					 (double)(cur.cpu.total_ns - prev.cpu.total_ns) * 100);
		prev = cur;
	}
	s1 = cur;
	dev_drops(a.pid, o->ns_a, BENCH_ENDPOINT_IF, &d1);
	if (r->steady) {
		bpf_ns1 = prog_run_ns(a.pin_dir, peer, &peer_ns1);
		if (stats_fd >= 0)
			close(stats_fd);
	}
	walk(sessions_fd, r->n, s0.t, &w1);

	uint64_t sent = delta(&s0, &s1, TKO_ST_PROBES_SENT);
	uint64_t answered = delta(&s0, &s1, TKO_ST_PROBES_ANSWERED);
	uint64_t late = delta(&s0, &s1, TKO_ST_PROBES_LATE);
	uint64_t dead = delta(&s0, &s1, TKO_ST_PEER_DEAD);
	uint64_t errs = delta(&s0, &s1, TKO_ST_EMIT_ERRORS);
	uint64_t backlog = delta(&s0, &s1, TKO_ST_BACKLOG);
	uint64_t passes = delta(&s0, &s1, TKO_ST_CARRIER_PASSES);
	double dt = (s1.t - s0.t) / 1e9;
	uint64_t memlock = datapath_memlock(a.pin_dir, &nmaps);

	held = w1.active == r->n && w1.probed == r->n && !w1.lost && !dead && !errs;
	progress("%u sessions every %u s over %.0f s: %llu probes sent (%.0f/s), %llu answers "
		 "consumed, %llu late, %llu refused by the device, %llu peers dead; %llu carrier "
		 "passes (%llu with work left)", r->n, r->interval, dt, (unsigned long long)sent,
		 sent / dt, (unsigned long long)answered, (unsigned long long)late,
		 (unsigned long long)errs, (unsigned long long)dead, (unsigned long long)passes,
		 (unsigned long long)backlog);
	progress("%s during the window: %lld frames its peer could not hand it (answers), %lld it "
		 "could not hand its peer, %lld dropped by its qdisc", BENCH_ENDPOINT_IF,
		 d1.rx - d0.rx, d1.tx - d0.tx, d1.qdisc - d0.qdisc);
	progress("sessions: %llu ACTIVE, %llu probed during the window, %llu probes never "
		 "answered, %llu in flight: %s", (unsigned long long)w1.active,
		 (unsigned long long)w1.probed, (unsigned long long)w1.lost,
		 (unsigned long long)w1.inflight, held ? "held" : "NOT held");
	progress("datapath memory: %.1f MiB in %d maps, %.1f bytes per session",
		 memlock / 1048576.0, nmaps, (double)memlock / r->n);

	char key[96];
	const char *run = r->steady ? "steady" : "large";

#define RUN_RESULT(name, v) do {						\
		snprintf(key, sizeof(key), "scale.run_%s.%s", run, name);	\
		result(key, (double)(v));					\
	} while (0)
	RUN_RESULT("sessions", r->n);
	RUN_RESULT("interval_s", r->interval);
	RUN_RESULT("window_s", dt);
	RUN_RESULT("probes_sent", sent);
	RUN_RESULT("probes_answered", answered);
	RUN_RESULT("probes_late", late);
	RUN_RESULT("emit_errors", errs);
	RUN_RESULT("peer_dead", dead);
	RUN_RESULT("passes", passes);
	RUN_RESULT("backlog_passes", backlog);
	RUN_RESULT("active_at_end", w1.active);
	RUN_RESULT("probed_in_window", w1.probed);
	RUN_RESULT("lost", w1.lost);
	RUN_RESULT("memlock_bytes", memlock);
	RUN_RESULT("dev_rx_drops", d1.rx - d0.rx);
	RUN_RESULT("dev_tx_drops", d1.tx - d0.tx);
	RUN_RESULT("qdisc_drops", d1.qdisc - d0.qdisc);
	RUN_RESULT("held", held);
#undef RUN_RESULT

	if (r->steady) {
		stats_of(pct, r->slices, &st);
		progress("softirq time: %s of one core", stats_str(&st, "%"));
		if (!sent)
			die("no probe was sent");
		/* QUICK probes every 10 s: the same keepalives, 6 times as many a
		 * second (the agent's idle cost is subtracted already). */
		for (uint32_t k = 0; k < r->slices; k++)
			pct[k] *= r->interval / 60.0;
		stats_of(pct, r->slices, &st);
		if (r->interval != 60)
			progress("that is %s of one core every 60 s", stats_str(&st, "%"));
		result_stats("scale.cpu_pct_1e6_at_60s", &st);
		result("scale.cpu_sessions", r->n);
		result("scale.cpu_interval_s", r->interval);
		result("scale.cpu_probes_per_s", sent / dt);
		double busy = (double)(s1.cpu.softirq_ns - s0.cpu.softirq_ns) - idle_busy * dt;

		result("scale.cpu_ns_per_keepalive", busy > 0 ? busy / sent : 0);
		if (stats_fd >= 0) {
			result("scale.bpf_ns_per_keepalive", (double)(bpf_ns1 - bpf_ns0) / sent);
			result("scale.peer_ns_per_keepalive", (double)(peer_ns1 - peer_ns0) / sent);
			progress("tko's BPF programs: %.0f ns per keepalive; the simulated peer: "
				 "%.0f ns", (double)(bpf_ns1 - bpf_ns0) / sent,
				 (double)(peer_ns1 - peer_ns0) / sent);
		}
		result("wakeups.per_1000_keepalives",
		       (double)(s1.ctxsw - s0.ctxsw) * 1000.0 / sent);
		result("wakeups.agent_ctxsw", (double)(s1.ctxsw - s0.ctxsw));
		result("wakeups.window_s", dt);
		progress("agent: %llu context switches while %llu keepalives were sent",
			 (unsigned long long)(s1.ctxsw - s0.ctxsw), (unsigned long long)sent);
	}
	if (held) {
		static uint32_t most;

		if (r->n > most) {
			most = r->n;
			result("scale.max_active_sessions", r->n);
			result("scale.bytes_per_session", (double)memlock / r->n);
			result("scale.active_interval_s", r->interval);
			result("scale.active_window_s", dt);
			result("scale.active_probes_late", late);
		}
	}
	close(sessions_fd);
	tko_close(t);
	progress("agent stopped in %.1f s", agent_stop_within(&a, 300));
	free(pct);
	return held;
}

int main(int argc, char **argv)
{
	struct bench_peer *peer;
	struct opts o;

	bench_init("steady");
	opts_parse(&o, argc, argv);
	if (!o.ns_a || !o.ns_b || !o.pin_dir)
		die("--ns-a, --ns-b and --pin-dir are required");
	peer = peer_attach(o.ns_b, NULL);
	peer_mode(peer, PEER_REFLECT);
	if (o.quick) {
		struct run r = { .n = 1000000, .interval = 10, .slices = 6, .slice_s = 10,
				 .steady = true };

		one_run(&o, peer, &r);
	} else {
		struct run r = { .n = 1000000, .interval = 60, .slices = 6, .slice_s = 10,
				 .steady = true };

		one_run(&o, peer, &r);
		/* The most held: 10^7, or less if that fails (said and kept). */
		static const uint32_t large[] = { 10000000, 5000000, 2000000 };

		for (size_t i = 0; i < sizeof(large) / sizeof(large[0]); i++) {
			r = (struct run){ .n = large[i], .interval = 60, .slices = 6, .slice_s = 10 };
			if (one_run(&o, peer, &r))
				break;
		}
	}
	peer_detach(peer);
	return 0;
}
