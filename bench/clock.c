// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The clock with the real agent at its default tick, in the endpoint
 * namespace (veth e0), the simulated peer answering on p0:
 *  - agent.ready_ms: from starting `tko agent --iface e0` on a fresh pin
 *    directory (nothing pinned: a fresh load, the verifier's work included)
 *    to its "ready" line on stderr; median of several starts;
 *  - agent.ready_ms_cold: the same as a user first starts it: in a network
 *    namespace of its own, made just before with one veth (the agent makes
 *    its carrier's veth pair there, loads nf_conntrack's view of it...),
 *    the page cache dropped (the binary, the libraries read from disk
 *    again); median of several;
 *  - scale.installs_per_s, scale.installs_per_s_batched: the sessions of
 *    the next two items started through libtko as fast as it goes, one
 *    tko_dp_session_start() each, then TKO_BATCH_MAX per
 *    tko_dp_session_start_batch(), the agent running (it prints each start);
 *  - idle.carrier_passes_per_s: sessions present and nothing due (their
 *    idle periods end in an hour): carrier passes over a window (tko's
 *    carrier_passes counter), and the agent's context switches meanwhile;
 *  - forge.capacity_probes_per_s: more probes due than the carrier sends
 *    (N sessions probing every second, N above what it sends), so the due
 *    set never empties: probes handed to the device per second over a
 *    window; the passes that ended with work left (carrier_backlog_passes)
 *    show that it stayed saturated. First with a TC egress program on e0
 *    taking every probe (the clock alone), then on the wire, where the
 *    veth's queue sets the pace (a probe it does not take is deferred to
 *    the next pass: probes_deferred); the agent is then stopped, killed
 *    if need be and its datapath removed with `tko unload`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "common.h"
#include "inproc.h"
#include "peerctl.h"
#include "tko_dp.h"
#include "helpers.skel.h"

/* One fresh start of the agent: ms until its "ready" line. */
/* Run a shell command of the fixture; die if it fails. */
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd))
		die("failed: %s", cmd);
}

/*
 * ms from exec to the agent's ready line. cold: in a namespace of its own,
 * new, the page cache dropped first; else in o->ns_a.
 */
static double ready_once(const struct opts *o, int seq, bool cold)
{
	char tko[512], pin[300], buf[4096], ns[64];
	size_t have = 0;
	uint64_t t0, t1 = 0;
	int pfd[2], status;
	pid_t pid;

	snprintf(tko, sizeof(tko), "%s/tko", o->build);
	snprintf(pin, sizeof(pin), "%s-ready%s%d", o->pin_dir, cold ? "c" : "", seq);
	snprintf(ns, sizeof(ns), "tkob%d-cold%d", (int)getpid(), seq);
	if (cold) {
		sh("ip netns add %s && ip -n %s link set lo up && "
		   "ip -n %s link add %s type veth peer name %s-p && ip -n %s link set %s up",
		   ns, ns, ns, BENCH_ENDPOINT_IF, BENCH_ENDPOINT_IF, ns, BENCH_ENDPOINT_IF);
		sh("sync && echo 3 > /proc/sys/vm/drop_caches");
	}
	if (pipe2(pfd, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		netns_enter(cold ? ns : o->ns_a);
		dup2(null, 1);
		dup2(pfd[1], 2);
		execl(tko, "tko", "agent", "--iface", BENCH_ENDPOINT_IF, "--pin-dir", pin,
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (!t1) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 30000) <= 0)
			die("the agent said nothing for 30 s");
		n = read(pfd[0], buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			die("the agent exited before it was ready");
		have += n;
		buf[have] = '\0';
		if (strstr(buf, "tko: ready:"))
			t1 = now_ns();
		if (have > sizeof(buf) / 2) {	/* keep the tail: the line may be cut */
			memmove(buf, buf + have - 256, 256);
			have = 256;
		}
	}
	kill(pid, SIGTERM);
	while (read(pfd[0], buf, sizeof(buf)) > 0)
		;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (cold)	/* the agent removed its datapath as it stopped */
		sh("ip netns del %s", ns);
	return (t1 - t0) / 1e6;
}

static uint64_t stat_of(struct tko *t, int which)
{
	__u64 st[TKO_ST_MAX];

	if (tko_dp_stats_read(t, st))
		die("cannot read tko's stats");
	return st[which];
}

/*
 * Sessions first..first+n-1, all with cfg (its idle time), through libtko as
 * fast as it goes: one tko_dp_session_start() each, or TKO_BATCH_MAX per
 * tko_dp_session_start_batch(). The rate is taken over 10 slices: median and
 * spread under key.
 */
static void start_all(struct tko *t, uint32_t first, uint32_t n, const struct tko_config *cfg,
		      bool batched, const char *key)
{
	enum { SLICES = 10 };
	uint32_t per = (n / SLICES + TKO_BATCH_MAX - 1) / TKO_BATCH_MAX * TKO_BATCH_MAX;
	uint64_t enomem = 0;
	double rate[SLICES];
	struct stats st;
	int err, ns = 0;

	for (uint32_t s = first; s < first + n && ns < SLICES; s += per) {
		uint32_t end = s + per < first + n && ns + 1 < SLICES ? s + per : first + n;
		uint64_t t0 = now_ns();

		for (uint32_t i = s; i < end;) {
			uint32_t k = end - i < TKO_BATCH_MAX ? end - i : TKO_BATCH_MAX;

			if (!batched)
				k = 1;
			err = batched ? bench_start_batch(t, i, k, cfg, 0, &enomem) :
					bench_start_retrying(t, i, cfg, &enomem);
			if (err)
				die("starting session %u: %s", i, strerror(-err));
			i += k;
		}
		rate[ns++] = (end - s) / ((now_ns() - t0) / 1e9);
		if (end == first + n)
			break;
	}
	stats_of(rate, ns, &st);
	progress("%u sessions started through libtko, %d per call: %s", n,
		 batched ? TKO_BATCH_MAX : 1, stats_str(&st, "sessions/s"));
	result_stats(key, &st);
	if (enomem)
		progress("%llu starts refused with ENOMEM (retried)", (unsigned long long)enomem);
	result("scale.installs_enomem_retries", (double)enomem);
}

/* Sessions present, none due for an hour: carrier passes per second. */
static void idle(struct tko *t, pid_t agent, uint32_t n, unsigned int window_s)
{
	struct tko_config cfg = { .idle_s = 3600, .interval_s = 3600, .retry_interval_s = 3600,
				  .retries = 5 };
	uint64_t p0, c0, t0;
	double dt;

	start_all(t, 0, n, &cfg, false, "scale.installs_per_s");
	sleep_ns(NSEC_PER_SEC);	/* their requests filed */
	p0 = stat_of(t, TKO_ST_CARRIER_PASSES);
	c0 = proc_ctxsw(agent);
	t0 = now_ns();
	sleep_ns((uint64_t)window_s * NSEC_PER_SEC);
	dt = (now_ns() - t0) / 1e9;
	uint64_t passes = stat_of(t, TKO_ST_CARRIER_PASSES) - p0, ctxsw = proc_ctxsw(agent) - c0;

	progress("%u sessions, none due: %llu carrier passes in %.1f s (%.2f/s), the agent "
		 "woken %llu times", n, (unsigned long long)passes, dt, passes / dt,
		 (unsigned long long)ctxsw);
	result("idle.carrier_passes_per_s", passes / dt);
	result("idle.sessions", n);
	result("idle.window_s", dt);
	result("idle.agent_ctxsw", (double)ctxsw);
}

/* tko_carrier's probes stop at e0's TC egress (bench_steal), or not. */
static void steal(const struct opts *o, struct bench_helpers *h, bool on)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	/* Before tko's own TC egress filter (priority TKO_TC_PRIO). */
	LIBBPF_OPTS(bpf_tc_opts, topts, .handle = 1, .priority = 1);
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), err;

	netns_enter(o->ns_a);
	hook.ifindex = if_nametoindex(BENCH_ENDPOINT_IF);
	if (on) {
		topts.prog_fd = bpf_program__fd(h->progs.bench_steal);
		err = bpf_tc_attach(&hook, &topts);
	} else {
		err = bpf_tc_detach(&hook, &topts);
	}
	if (err)
		die("%s the TC egress program on %s: %s", on ? "cannot attach" : "cannot detach",
		    BENCH_ENDPOINT_IF, strerror(-err));
	if (setns(home, CLONE_NEWNET))
		die("setns: %s", strerror(errno));
	close(home);
}

/* The due set never empties: probes per second over a window, under key. */
static void capacity(struct tko *t, const struct opts *o, pid_t agent, uint32_t n,
		     unsigned int window_s, const char *key, const char *what)
{
	static const int st_ids[] = { TKO_ST_PROBES_SENT, TKO_ST_PROBES_ANSWERED, TKO_ST_BACKLOG,
				      TKO_ST_CARRIER_PASSES, TKO_ST_EMIT_ERRORS,
				      TKO_ST_PROBES_LATE, TKO_ST_PEER_DEAD };
	__u64 a[TKO_ST_MAX], b[TKO_ST_MAX];
	struct dev_drops d0, d1;
	uint64_t t0;
	double dt;
	char k[96];

	dev_drops(agent, o->ns_a, BENCH_ENDPOINT_IF, &d0);
	if (tko_dp_stats_read(t, a))
		die("cannot read tko's stats");
	t0 = now_ns();
	sleep_ns((uint64_t)window_s * NSEC_PER_SEC);
	if (tko_dp_stats_read(t, b))
		die("cannot read tko's stats");
	dt = (now_ns() - t0) / 1e9;
	dev_drops(agent, o->ns_a, BENCH_ENDPOINT_IF, &d1);
	for (size_t i = 0; i < sizeof(st_ids) / sizeof(st_ids[0]); i++)
		b[st_ids[i]] -= a[st_ids[i]];

	uint64_t sent = b[TKO_ST_PROBES_SENT], passes = b[TKO_ST_CARRIER_PASSES];

	progress("%s, %u sessions due every second: %.0f probes/s sent over %.1f s, %.0f/s "
		 "answered; %llu passes (%.0f/s), %llu with work left; %llu refused by the device "
		 "(qdisc drops %lld), %llu late, %llu peers dead", what, n, sent / dt, dt,
		 b[TKO_ST_PROBES_ANSWERED] / dt, (unsigned long long)passes, passes / dt,
		 (unsigned long long)b[TKO_ST_BACKLOG], (unsigned long long)b[TKO_ST_EMIT_ERRORS],
		 d1.qdisc - d0.qdisc, (unsigned long long)b[TKO_ST_PROBES_LATE],
		 (unsigned long long)b[TKO_ST_PEER_DEAD]);
#define KEY(suffix, v) do {						\
		snprintf(k, sizeof(k), "%s%s", key, suffix);		\
		result(k, (double)(v));					\
	} while (0)
	KEY("", sent / dt);
	KEY("_answered", b[TKO_ST_PROBES_ANSWERED] / dt);
	KEY("_passes", passes / dt);
	KEY("_backlog_share", passes ? (double)b[TKO_ST_BACKLOG] / passes : 0);
	KEY("_per_pass", passes ? (double)sent / passes : 0);
	KEY("_refused", b[TKO_ST_EMIT_ERRORS] / dt);
#undef KEY
	if (b[TKO_ST_BACKLOG] * 10 < passes * 9)
		progress("the carrier caught up in %llu of %llu passes: not saturated, %u sessions "
			 "are too few", (unsigned long long)(passes - b[TKO_ST_BACKLOG]),
			 (unsigned long long)passes, n);
}

int main(int argc, char **argv)
{
	struct bench_peer *peer;
	struct stats st;
	struct agent a;
	struct tko *t;
	struct opts o;
	double ms[16];
	int runs, err;
	uint32_t idle_n, cap_n;

	bench_init("clock");
	opts_parse(&o, argc, argv);
	if (!o.ns_a || !o.ns_b || !o.pin_dir)
		die("--ns-a, --ns-b and --pin-dir are required");
	runs = o.quick ? 5 : 9;
	idle_n = 100000;
	cap_n = 2000000;

	for (int i = 0; i < runs; i++)
		ms[i] = ready_once(&o, i, false);
	stats_of(ms, runs, &st);
	progress("agent ready after %s (fresh load, %d starts)", stats_str(&st, "ms"), runs);
	result_stats("agent.ready_ms", &st);
	for (int i = 0; i < runs; i++)
		ms[i] = ready_once(&o, i, true);
	stats_of(ms, runs, &st);
	progress("agent ready after %s (a new namespace each, page cache dropped, %d starts)",
		 stats_str(&st, "ms"), runs);
	result_stats("agent.ready_ms_cold", &st);

	peer = peer_attach(o.ns_b, NULL);
	peer_mode(peer, PEER_REFLECT);
	agent_start(&a, &o, o.ns_a, BENCH_ENDPOINT_IF, AGENT_TICK_DEFAULT, idle_n + cap_n, false);
	if ((err = tko_open(a.pin_dir, &t)))
		die("tko_open: %s", strerror(-err));
	idle(t, a.pid, idle_n, 10);

	/* The clock alone: every probe taken by the device at once. */
	struct tko_config cfg = { .idle_s = 1, .interval_s = 1, .retry_interval_s = 1,
				  .retries = 255 };
	struct bench_helpers *h = bench_helpers__open_and_load();

	if (!h)
		die("cannot load the helper BPF object");
	steal(&o, h, true);
	start_all(t, idle_n, cap_n, &cfg, true, "scale.installs_per_s_batched");
	result("forge.capacity_sessions", cap_n);
	sleep_ns(2 * NSEC_PER_SEC);	/* ACTIVE, and behind */
	capacity(t, &o, a.pid, cap_n, o.quick ? 5 : 10, "forge.capacity_clock_probes_per_s",
		 "the device taking every probe");
	/* On the wire: the veth, the peer's answers, tko's XDP consuming them. */
	steal(&o, h, false);
	sleep_ns(NSEC_PER_SEC);
	capacity(t, &o, a.pid, cap_n, o.quick ? 4 : 10, "forge.capacity_probes_per_s",
		 "on the wire");
	bench_helpers__destroy(h);
	tko_close(t);
	/* Stopped (killed if it does not stop in time), its pins removed; the
	 * namespace and what is attached there go when run.sh removes it. */
	progress("agent stopped in %.1f s", agent_stop_within(&a, 3));
	peer_detach(peer);
	return 0;
}
