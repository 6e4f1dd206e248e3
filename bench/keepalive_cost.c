// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 4: tko against what users do today, on the same N real idle TCP
 * connections (N = 1000, 3000, 9000; quick: 1000, 3000: this sandbox's hard
 * limit of 20000 open files, which root cannot raise without
 * CAP_SYS_RESOURCE, caps N below 10^4), each kept alive every second by:
 *  - kernel: SO_KEEPALIVE on the endpoint's sockets (TCP_KEEPIDLE = I);
 *  - heartbeat: build/bench/heartbeat, an epoll + timerfd loop sending one
 *    byte per session per interval;
 *  - tko: the agent, sessions handed over through libtko.
 * The peer is the same simulated peer for all three (peer.bpf.c answers the
 * probe or acknowledges the byte), so what differs is the endpoint side.
 *
 * CPU per keepalive, attributed rather than subtracted from the whole
 * machine's busy time (this machine is shared: other users' load swamps a
 * few per cent): the kernel's keepalives and tko run entirely in softirq
 * context (timers, packet processing), so theirs is the machine's softirq
 * time (the softirq meter, to the ns: bench/softirq.bpf.c) during a window
 * with the keepalives on minus that of the window just before, the same
 * connections idle (SO_KEEPALIVE off, tko's sessions stopped): pairs of
 * windows, so that the machine's own softirq load, which drifts, cancels;
 * the heartbeat's is its process's CPU time (user + system, which includes
 * the softirq work its sends trigger in its own context: the veth, the
 * simulated peer and the ACK's processing). Over the keepalives the peer
 * answered; median of repeated windows. Process wakeups: the heartbeat's
 * (or the agent's) context switches per keepalive; the kernel's keepalives
 * wake no process. Memory per socket: a memory cgroup holds the benchmark
 * while it opens the connections (both ends are its sockets: / 2N).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "common.h"
#include "conns.h"
#include "inproc.h"
#include "peerctl.h"
#include "tko_dp.h"
#include "helpers.skel.h"

struct window {
	double ns_per_keepalive, ns_p25, ns_p75;
	double wakeups_per_keepalive;
	uint64_t keepalives;
};

static struct bench_peer *peer;

/* The machine's softirq ns a second over a window of w s. */
static double softirq_rate(double w)
{
	struct cpu_sample a, b;
	uint64_t t0 = now_ns();

	cpu_sample(-1, &a);
	sleep_ns((uint64_t)(w * NSEC_PER_SEC));
	cpu_sample(-1, &b);
	return (double)(b.softirq_ns - a.softirq_ns) * 1e9 / (double)(now_ns() - t0);
}

/*
 * Turns the keepalives of the approach measured on (true) or off, and
 * returns once they run as they will (or have stopped).
 */
typedef void (*switch_fn)(void *ctx, bool on);

/*
 * CPU per keepalive over reps windows of w seconds: the process cpu_of's
 * CPU time if given; else, with sw, the machine's softirq time above that
 * of a window just before with the keepalives off (they are off when it is
 * called; sw turns them on, and off again before each next idle window).
 * Wakeups: context switches of wake_of (0: none).
 */
static void measure(double w, int reps, switch_fn sw, void *ctx, pid_t cpu_of, pid_t wake_of,
		    struct window *out)
{
	double ns[8], wk[8];
	struct stats st;

	out->keepalives = 0;
	for (int r = 0; r < reps && r < 8; r++) {
		double idle_rate = 0;

		if (sw) {
			if (r)
				sw(ctx, false);
			idle_rate = softirq_rate(w);
			sw(ctx, true);
		}
		uint64_t k0 = peer_count(peer, PEER_REFLECT), c0 = wake_of ? proc_ctxsw(wake_of) : 0;
		uint64_t p0 = cpu_of ? proc_cpu_ns(cpu_of) : 0, t0 = now_ns(), k;
		struct cpu_sample a, b;
		double cpu;

		cpu_sample(-1, &a);
		sleep_ns((uint64_t)(w * NSEC_PER_SEC));
		cpu_sample(-1, &b);
		k = peer_count(peer, PEER_REFLECT) - k0;
		if (cpu_of)
			cpu = (double)(proc_cpu_ns(cpu_of) - p0);
		else
			cpu = (double)(b.softirq_ns - a.softirq_ns) - idle_rate * (now_ns() - t0) / 1e9;
		ns[r] = k ? cpu / k : 0;
		wk[r] = k ? (double)((wake_of ? proc_ctxsw(wake_of) : 0) - c0) / k : 0;
		out->keepalives += k;
	}
	stats_of(ns, reps, &st);
	out->ns_per_keepalive = st.median;
	out->ns_p25 = st.p25;
	out->ns_p75 = st.p75;
	stats_of(wk, reps, &st);
	out->wakeups_per_keepalive = st.median;
}

struct kernel_ka {
	struct conns *cs;
	int interval;
};

static void set_keepalive(struct conns *cs, int on, int interval);

/* The kernel's keepalives: SO_KEEPALIVE on every endpoint socket, or off. */
static void kernel_switch(void *ctx, bool on)
{
	struct kernel_ka *k = ctx;

	set_keepalive(k->cs, on, k->interval);
	if (on)	/* the first probes leave after TCP_KEEPIDLE */
		sleep_ns((uint64_t)(k->interval + 1) * NSEC_PER_SEC);
}

struct tko_ka {
	struct tko *t;
	struct conns *cs;
	const struct tko_config *cfg;
};

/* tko's: every connection's session started (from its state now), or stopped. */
static void tko_switch(void *ctx, bool on)
{
	struct tko_ka *k = ctx;
	int err;

	if (on)
		conns_read_state(k->cs);
	for (size_t i = 0; i < k->cs->n; i++) {
		const struct conn *c = &k->cs->c[i];

		err = on ? tko_dp_session_start(k->t, &c->key, k->cfg, &c->tcp, TKO_HAVE_SEQ) :
			   tko_dp_session_stop(k->t, &c->key);
		if (err)
			die("tko_dp_session_%s: %s", on ? "start" : "stop", strerror(-err));
	}
	if (on)	/* ACTIVE after the idle time, the first probe an interval later */
		sleep_ns((uint64_t)(k->cfg->idle_s + k->cfg->interval_s + 1) * NSEC_PER_SEC);
	else
		sleep_ns(NSEC_PER_SEC / 2);	/* the stops' events read by the agent */
}

static void set_keepalive(struct conns *cs, int on, int interval)
{
	int cnt = 9;

	for (size_t i = 0; i < cs->n; i++) {
		int fd = cs->c[i].fd;

		if ((on && (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &interval, sizeof(int)) ||
			    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(int)) ||
			    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(int)))) ||
		    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(int)))
			die("SO_KEEPALIVE: %s", strerror(errno));
	}
}

/* build/bench/heartbeat on the endpoint's sockets (their fds on its command line). */
static pid_t heartbeat_start(const struct opts *o, struct conns *cs, int interval)
{
	char **argv = calloc(cs->n + 4, sizeof(char *));
	char prog[512], iv[16];
	pid_t pid;

	if (!argv)
		die("out of memory");
	snprintf(prog, sizeof(prog), "%s/bench/heartbeat", o->build);
	snprintf(iv, sizeof(iv), "%d", interval);
	argv[0] = "heartbeat";
	argv[1] = iv;
	for (size_t i = 0; i < cs->n; i++)
		if (asprintf(&argv[2 + i], "%d", cs->c[i].fd) < 0)
			die("out of memory");
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		/* The endpoint's sockets survive the exec; the peer's are closed. */
		for (size_t i = 0; i < cs->n; i++) {
			fcntl(cs->c[i].fd, F_SETFD, 0);
			close(cs->peer_fds[i]);
		}
		execv(prog, argv);
		_exit(127);
	}
	for (size_t i = 0; i < cs->n; i++)
		free(argv[2 + i]);
	free(argv);
	return pid;
}

static void emit(const char *approach, size_t n, const struct window *w)
{
	char key[96];

	snprintf(key, sizeof(key), "cost.%s.n%zu", approach, n);
	result(key, w->ns_per_keepalive);
	snprintf(key, sizeof(key), "cost_spread.%s.n%zu_p25", approach, n);
	result(key, w->ns_p25);
	snprintf(key, sizeof(key), "cost_spread.%s.n%zu_p75", approach, n);
	result(key, w->ns_p75);
	progress("  %-9s %7.0f ns of CPU per keepalive, %.4f wakeups per keepalive (%llu keepalives)",
		 approach, w->ns_per_keepalive, w->wakeups_per_keepalive,
		 (unsigned long long)w->keepalives);
}

static void one_n(const struct opts *o, size_t n, struct bench_helpers *h, bool last)
{
	int interval = 1, reps = o->quick ? 2 : 5;
	double w = o->quick ? 2 : 3;
	struct window kern, hb, tk;
	struct conns cs;
	struct memcg cg;
	uint64_t m0 = 0;
	uint32_t ea, pa;
	bool have_cg;

	inet_pton(AF_INET, BENCH_ENDPOINT_ADDR, &ea);
	inet_pton(AF_INET, BENCH_PEER_ADDR, &pa);
	/* The handshakes must reach the peer's real sockets: no reflection now. */
	peer_mode(peer, PEER_PASS);
	have_cg = memcg_create(&cg, "tko-bench-sk");
	if (have_cg) {
		memcg_enter(&cg, 0);
		m0 = memcg_usage(&cg);
	}
	conns_open(&cs, n, o->ns_a, o->ns_b, ea, pa);
	double per_sock = have_cg ? ((double)memcg_usage(&cg) - (double)m0) / (2.0 * n) : 0;
	if (have_cg)
		memcg_destroy(&cg);	/* charges stay with the cgroup until freed */
	progress("N=%zu, every %d s, windows of %.0f s; %.0f bytes per socket", n, interval, w,
		 per_sock);

	peer_mode(peer, PEER_REFLECT);
	xdp_set(o->ns_a, BENCH_ENDPOINT_IF, bpf_program__fd(h->progs.bench_nop));
	struct kernel_ka kka = { &cs, interval };

	measure(w, reps, kernel_switch, &kka, 0, 0, &kern);
	set_keepalive(&cs, 0, interval);
	emit("kernel", n, &kern);

	pid_t hpid = heartbeat_start(o, &cs, interval);

	sleep_ns((uint64_t)(interval + 1) * NSEC_PER_SEC);
	measure(w, reps, NULL, NULL, hpid, hpid, &hb);
	kill(hpid, SIGKILL);
	waitpid(hpid, NULL, 0);
	emit("heartbeat", n, &hb);

	/* tko: the agent's XDP takes e0 (it accepts the peer's XDP_TX). */
	struct tko_config cfg = { .idle_s = 1, .interval_s = interval,
				  .retry_interval_s = interval, .retries = 255 };
	struct agent ag;
	struct tko *t;
	int err;

	xdp_set(o->ns_a, BENCH_ENDPOINT_IF, -1);
	agent_start(&ag, o, o->ns_a, BENCH_ENDPOINT_IF, AGENT_TICK_DEFAULT, n + 1024, false);
	if ((err = tko_open(ag.pin_dir, &t)))
		die("tko_open: %s", strerror(-err));
	struct tko_ka tka = { t, &cs, &cfg };

	measure(w, reps, tko_switch, &tka, 0, ag.pid, &tk);
	emit("tko", n, &tk);
	tko_close(t);
	agent_stop(&ag);

	if (last) {
		result("baseline.so_keepalive_bytes_per_socket", per_sock);
		result("baseline.so_keepalive_ns_per_probe", kern.ns_per_keepalive);
		result("baseline.heartbeat_ns_per_keepalive", hb.ns_per_keepalive);
		result("baseline.heartbeat_wakeups_per_keepalive", hb.wakeups_per_keepalive);
		result("baseline.tko_ns_per_keepalive", tk.ns_per_keepalive);
		result("baseline.sessions", (double)n);
		result("wakeups.per_keepalive", tk.wakeups_per_keepalive);
	}
	conns_close(&cs);
}

int main(int argc, char **argv)
{
	static const size_t full[] = { 1000, 3000, 9000 }, quick[] = { 1000, 3000 };
	struct bench_helpers *h;
	struct opts o;
	size_t nn;

	bench_init("keepalive_cost");
	opts_parse(&o, argc, argv);
	if (!o.ns_a || !o.ns_b || !o.pin_dir)
		die("--ns-a, --ns-b and --pin-dir are required");
	signal(SIGPIPE, SIG_IGN);
	h = bench_helpers__open_and_load();
	if (!h)
		die("cannot load the helper BPF object");
	peer = peer_attach(o.ns_b, NULL);
	nn = o.quick ? 2 : 3;
	for (size_t i = 0; i < nn; i++)
		one_n(&o, (o.quick ? quick : full)[i], h, i + 1 == nn);
	peer_detach(peer);
	bench_helpers__destroy(h);
	return 0;
}
