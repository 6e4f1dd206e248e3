// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 10 (issue 19): tko as a sleep proxy. The server sends data on an
 * offloaded session of a sleeping device; how long until the magic packet
 * that wakes the device is on the device's link?
 *
 * run.sh's gateway topology: device (d0) -- (g0) gateway (g1) -- (s0) server,
 * the gateway masquerading the device. The real agent runs on the gateway,
 * `tko agent --iface g1 --wake-iface g0`, with one forwarded policy with
 * --wake auto (no `tko start`): N real connections from the device to the
 * server become sessions from their own segments at TC egress, which learn
 * the device's MAC there (conntrack's original tuple, the gateway's
 * neighbour entry), and are ACTIVE after --idle 1 s. Then the device sleeps
 * (its ingress drops everything) and, one session at a time, every 10 ms
 * (8 to 12):
 *  - t0: the server side writes the server's next data segment of that
 *    session (seq = RCV.NXT, ack = SND.NXT, 64 bytes, PSH) on s0 with an
 *    AF_PACKET socket, t0 taken just before the send;
 *  - t1: an AF_PACKET socket on the device's d0 (it sees frames before the
 *    device's drop, as a NIC's wake-on-LAN filter would) receives the
 *    EtherType 0x0842 magic packet for the device's MAC; t1 is the kernel's
 *    receive timestamp (SO_TIMESTAMPNS: CLOCK_REALTIME, so t0 is read on
 *    that clock too).
 * t1 - t0 (wake.ms_*) covers the veth into the gateway, tko's XDP program
 * (wake_check, the signals ring), the ring buffer's wakeup of the agent out
 * of epoll_wait, its handling of the batch (the events ring first) and its
 * sendto() on g0, the veth to the device. wake.xdp_ms_* is the same from
 * the XDP program's own timestamp of the data (the session's wake_ns,
 * CLOCK_MONOTONIC, put on the realtime clock by the offset read at t0).
 * Each session is woken once (one per episode is the first, at once, for an
 * ACTIVE session): N sessions, N trials (2000; quick 300), the first 3 not
 * counted. The agent's stdout (its events) goes to /dev/null.
 * To tell the tail's cause: the agent's wait for a CPU over each trial
 * (run_delay of /proc/PID/schedstat, read before the send and after the
 * magic packet came, so it also holds waits after the agent sent it):
 * wake.agent_runq_ms_*, and how many wakes over 0.3 ms had it waiting for
 * more than half their time (wake.slow, wake.slow_agent_waited).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "agent.h"
#include "common.h"
#include "conns.h"
#include "frames.h"
#include "tko_dp.h"

/* run.sh's gateway topology. */
#define DEV_ADDR "198.18.1.2"
#define SRV_ADDR "198.19.2.2"
#define DEV_IF "d0"
#define LAN_IF "g0"	/* the gateway's, facing the device: --wake-iface */
#define UP_IF "g1"	/* the gateway's, facing the server: --iface */
#define SRV_IF "s0"
static const uint8_t dev_mac[6] = { 2, 0, 0, 0, 1, 2 };
static const uint8_t up_mac[6] = { 2, 0, 0, 0, 2, 1 };
static const uint8_t srv_mac[6] = { 2, 0, 0, 0, 2, 2 };

#define ETH_P_WOL 0x0842
/* One trial every 10 ms on average, each gap drawn from 8..12 ms: no phase
 * locked to the scheduler's tick (4 ms here) or anything else periodic. */
#define PACE_NS (10 * 1000 * 1000ULL)
#define PACE_JITTER_NS (2 * 1000 * 1000ULL)
#define WARMUP 3
#define SLOW_MS 0.3	/* a wake this late: was the agent waiting for a CPU? */

/* An AF_PACKET socket on ifname in namespace ns (proto 0: it receives nothing). */
static int packet_socket(const char *ns, const char *ifname, int proto, int *ifindex)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), fd;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(proto) };

	netns_enter(ns);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));
	if (fd < 0)
		die("AF_PACKET: %s", strerror(errno));
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex || bind(fd, (void *)&sll, sizeof(sll)))
		die("bind to %s: %s", ifname, strerror(errno));
	*ifindex = sll.sll_ifindex;
	if (setns(home, CLONE_NEWNET))
		die("setns: %s", strerror(errno));
	close(home);
	return fd;
}

/*
 * The device's listener: every frame of d0 (ETH_P_ALL: the taps run before
 * the device's ingress drop), filtered to EtherType 0x0842 in the kernel,
 * with the kernel's receive timestamp.
 */
static int open_listener(const char *ns)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_WOL, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	int ifindex, one = 1, fd = packet_socket(ns, DEV_IF, ETH_P_ALL, &ifindex);
	char junk[2048];

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)))
		die("listener: %s", strerror(errno));
	/* what came before the filter */
	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	return fd;
}

static void drain(int fd)
{
	char junk[2048];

	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* A magic packet (6 x 0xff, 16 x mac) in frame b? */
static bool magic_for(const uint8_t *b, ssize_t n, const uint8_t mac[6])
{
	if (n < 14 + 102 || b[12] != ETH_P_WOL >> 8 || b[13] != (ETH_P_WOL & 0xff))
		return false;
	for (int i = 0; i < 6; i++)
		if (b[14 + i] != 0xff)
			return false;
	for (int i = 1; i <= 16; i++)
		if (memcmp(b + 14 + 6 * i, mac, 6))
			return false;
	return true;
}

/*
 * Wait up to limit_ms for the magic packet for mac; its kernel receive
 * time (CLOCK_REALTIME ns), 0 if none came. *other: magic packets for
 * another MAC.
 */
static uint64_t wait_magic(int fd, const uint8_t mac[6], unsigned int limit_ms, unsigned int *other)
{
	uint64_t deadline = now_ns() + (uint64_t)limit_ms * 1000000;
	uint8_t b[2048];
	char cbuf[256];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (int64_t)(deadline - now_ns()) / 1000000;
		struct iovec iov = { b, sizeof(b) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		ssize_t n;

		if (left < 0 || poll(&p, 1, (int)left + 1) <= 0)
			return 0;
		n = recvmsg(fd, &m, MSG_DONTWAIT);
		if (n < 0)
			continue;
		if (!magic_for(b, n, mac)) {
			(*other)++;
			continue;
		}
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
			}
		die("the magic packet came without a kernel timestamp");
	}
}

/* How long the process's main thread has waited for a CPU, ns (schedstat). */
static uint64_t run_delay_ns(pid_t pid)
{
	unsigned long long run, wait = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	fclose(f);
	return wait;
}

/* `tko ARGS...` in namespace ns, its output discarded; dies if it fails. */
static void run_tko(const struct opts *o, const char *ns, const char *const *args)
{
	char tko[512];
	const char *argv[32];
	int n = 0, status;
	pid_t pid;

	snprintf(tko, sizeof(tko), "%s/tko", o->build);
	argv[n++] = "tko";
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		netns_enter(ns);
		dup2(null, 1);
		execv(tko, (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("tko %s %s failed", args[0], args[1] ? args[1] : "");
}

/* The device sleeps: everything arriving on d0 is dropped (after the taps). */
static void device_sleep(const char *ns)
{
	char cmd[300];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s nft -f -", ns);
	f = popen(cmd, "w");
	if (!f)
		die("popen: %s", strerror(errno));
	fprintf(f, "table netdev tko_bench_sleep {\n"
		   "	chain in {\n"
		   "		type filter hook ingress device \"%s\" priority 0; policy drop;\n"
		   "	}\n"
		   "}\n", DEV_IF);
	if (pclose(f))
		die("the device cannot sleep (nft, netdev ingress)");
}

struct found {
	struct tko_key *keys;
	size_t n, max, active, located;
};

static int collect(__u32 id, const struct tko_session *s, void *ctx)
{
	struct found *f = ctx;

	if (!(s->cfg.flags & TKO_F_WAKE) || s->state != TKO_ACTIVE)
		return 0;
	f->active++;
	if (!(s->have & TKO_HAVE_WAKE))
		return 0;
	f->located++;
	if (f->n < f->max)
		f->keys[f->n++] = s->key;
	return 0;
}

/* The peer's next data segment of session s, as the server would send it. */
static void data_of(const struct tko_session *s, struct frame *f)
{
	struct seg_spec sp = {
		.sport = s->key.rport, .dport = s->key.lport,
		.seq = s->tcp.rcv_nxt, .ack = s->tcp.snd_nxt, .flags = F_ACK | F_PSH,
		.window = 502, .ttl = 64, .payload = 64, .pad_to = ETH_MIN_LEN,
	};

	memcpy(sp.smac, srv_mac, 6);
	memcpy(sp.dmac, up_mac, 6);
	memcpy(sp.saddr, s->key.raddr, 4);
	memcpy(sp.daddr, s->key.laddr, 4);
	frame_build(f, &sp);
}

int main(int argc, char **argv)
{
	const char *agent_extra[] = { "--wake-iface", LAN_IF, NULL };
	const char *policy[] = { "policy", "add", "--pin-dir", NULL, "--forwarded",
				 "--remote", SRV_ADDR "/32", "--idle", "1", "--interval", "3600",
				 "--retry-interval", "3600", "--wake", "auto", NULL };
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = 6 };
	unsigned int other = 0, skipped = 0, missed = 0, wrong_mac = 0, late_ts = 0;
	__u64 st0[TKO_ST_MAX], st1[TKO_ST_MAX];
	struct stats s_all, s_xdp, s_read, s_runq;
	struct found fd = {};
	struct conns cs;
	struct agent a;
	struct tko *t;
	struct opts o;
	uint32_t da, sa;
	double *ms, *xdp_ms, *read_ms, *runq_ms;
	size_t n, trials = 0;
	int err, tx_fd, rx_fd, srv_ifindex;
	uint64_t t_start, next;

	bench_init("wake");
	opts_parse(&o, argc, argv);
	if (!o.ns_a || !o.ns_b || !o.ns_c || !o.pin_dir)
		die("--ns-a (gateway), --ns-b (server), --ns-c (device) and --pin-dir are required");
	n = o.quick ? 300 : 2000;
	inet_pton(AF_INET, DEV_ADDR, &da);
	inet_pton(AF_INET, SRV_ADDR, &sa);

	/* The listener first: the kernel's receive timestamps are on from now. */
	rx_fd = open_listener(o.ns_c);
	tx_fd = packet_socket(o.ns_b, SRV_IF, 0, &srv_ifindex);	/* sends only */
	to.sll_ifindex = srv_ifindex;

	agent_start_args(&a, &o, o.ns_a, UP_IF, AGENT_TICK_DEFAULT, 4096, false, agent_extra);
	if ((err = tko_open(a.pin_dir, &t)))
		die("tko_open: %s", strerror(-err));
	policy[3] = a.pin_dir;
	run_tko(&o, o.ns_a, policy);
	progress("agent on %s, wakes on %s; policy: --forwarded --remote %s/32 --idle 1 --wake auto",
		 UP_IF, LAN_IF, SRV_ADDR);

	t_start = now_ns();
	conns_open(&cs, n, o.ns_c, o.ns_b, da, sa);
	fd.keys = calloc(n, sizeof(*fd.keys));
	ms = calloc(n, sizeof(*ms));
	xdp_ms = calloc(n, sizeof(*xdp_ms));
	read_ms = calloc(n, sizeof(*read_ms));
	runq_ms = calloc(n, sizeof(*runq_ms));
	if (!fd.keys || !ms || !xdp_ms || !read_ms || !runq_ms)
		die("out of memory");
	fd.max = n;
	/* Every flow a session by itself, located, ACTIVE after its idle second. */
	for (uint64_t deadline = now_ns() + 20 * NSEC_PER_SEC;;) {
		fd.n = fd.active = fd.located = 0;
		if ((err = tko_dp_session_foreach(t, collect, &fd)))
			die("tko_dp_session_foreach: %s", strerror(-err));
		if (fd.n == n)
			break;
		if (now_ns() > deadline)
			die("after 20 s, of %zu flows %zu are ACTIVE sessions, %zu of them with "
			    "their device located", n, fd.active, fd.located);
		sleep_ns(100 * 1000 * 1000);
	}
	progress("%zu connections through the gateway: %zu ACTIVE sessions with the device "
		 "located, in %.1f s", n, fd.n, (now_ns() - t_start) / 1e9);

	device_sleep(o.ns_c);
	progress("the device sleeps; one wake every %llu +- %llu ms (%d warm-up)",
		 (unsigned long long)(PACE_NS / 1000000),
		 (unsigned long long)(PACE_JITTER_NS / 1000000), WARMUP);
	srandom(1);
	tko_dp_stats_read(t, st0);
	next = now_ns();
	for (size_t i = 0; i < n; i++) {
		struct tko_session s;
		struct frame f;
		uint64_t r0, m0, r1, got, q0;

		next += PACE_NS - PACE_JITTER_NS + (uint64_t)random() % (2 * PACE_JITTER_NS);
		sleep_until_ns(next);
		if (tko_dp_session_get(t, &fd.keys[i], &s) || s.state != TKO_ACTIVE) {
			skipped++;
			continue;
		}
		if (memcmp(s.wake_mac, dev_mac, 6))
			wrong_mac++;
		data_of(&s, &f);
		drain(rx_fd);
		q0 = run_delay_ns(a.pid);
		r0 = real_ns();
		m0 = now_ns();
		if (sendto(tx_fd, f.b, f.len, 0, (void *)&to, sizeof(to)) < 0)
			die("sendto: %s", strerror(errno));
		got = wait_magic(rx_fd, dev_mac, 1000, &other);
		r1 = real_ns();
		if (!got) {
			missed++;
			continue;
		}
		if (got < r0 || got > r1) {
			late_ts++;	/* not a receive time between send and read */
			continue;
		}
		if (i < WARMUP)
			continue;
		ms[trials] = (got - r0) / 1e6;
		read_ms[trials] = (r1 - got) / 1e6;
		/* the agent's wait for a CPU meanwhile (it has no other work) */
		runq_ms[trials] = (run_delay_ns(a.pid) - q0) / 1e6;
		if (!tko_dp_session_get(t, &fd.keys[i], &s) && s.wake_ns >= m0)
			xdp_ms[trials] = ((double)(got - r0) - (double)(s.wake_ns - m0)) / 1e6;
		else
			xdp_ms[trials] = -1;
		trials++;
		if (trials % 500 == 0)
			progress("%zu wakes timed", trials);
	}
	tko_dp_stats_read(t, st1);

	size_t nx = 0;

	for (size_t i = 0; i < trials; i++)
		if (xdp_ms[i] >= 0)
			xdp_ms[nx++] = xdp_ms[i];
	/* Before the sorting: which slow wakes had the agent waiting for a CPU? */
	size_t slow = 0, slow_waited = 0;

	for (size_t i = 0; i < trials; i++)
		if (ms[i] > SLOW_MS) {
			slow++;
			slow_waited += runq_ms[i] > ms[i] / 2;
		}
	stats_of(runq_ms, trials, &s_runq);
	stats_of(ms, trials, &s_all);
	stats_of(xdp_ms, nx, &s_xdp);
	stats_of(read_ms, trials, &s_read);
	progress("%zu wakes: data sent -> magic packet on %s: p50 %.3f ms, p99 %.3f ms, "
		 "max %.3f ms", trials, DEV_IF, s_all.median, s_all.p99, s_all.max);
	progress("from tko's XDP (its own timestamp): p50 %.3f ms, p99 %.3f ms (%zu)",
		 s_xdp.median, s_xdp.p99, nx);
	progress("the agent waited for a CPU during a trial: p50 %.3f ms, p99 %.3f ms; of the %zu "
		 "wakes over %.1f ms, %zu with the agent waiting more than half of it", s_runq.median,
		 s_runq.p99, slow, SLOW_MS, slow_waited);
	progress("(the listener read them p50 %.3f ms after their kernel timestamp: not "
		 "counted)", s_read.median);
	progress("wakes_sent +%llu, wakes_failed +%llu; no magic packet: %u, sessions not "
		 "ACTIVE: %u, learned MAC not the device's: %u, magic packets for others: %u, "
		 "timestamps out of range: %u",
		 (unsigned long long)(st1[TKO_ST_WAKES_SENT] - st0[TKO_ST_WAKES_SENT]),
		 (unsigned long long)(st1[TKO_ST_WAKES_FAILED] - st0[TKO_ST_WAKES_FAILED]),
		 missed, skipped, wrong_mac, other, late_ts);
	if (trials < n / 2)
		die("only %zu of %zu wakes timed: the measurement would not be what it says",
		    trials, n);
	result("wake.ms_p50", s_all.median);
	result("wake.ms_p99", s_all.p99);
	result("wake.ms_max", s_all.max);
	result("wake.xdp_ms_p50", s_xdp.median);
	result("wake.xdp_ms_p99", s_xdp.p99);
	result("wake.agent_runq_ms_p50", s_runq.median);
	result("wake.agent_runq_ms_p99", s_runq.p99);
	result("wake.slow", (double)slow);
	result("wake.slow_agent_waited", (double)slow_waited);
	result("wake.trials", (double)trials);
	result("wake.missed", (double)missed);
	result("wake.wrong_mac", (double)wrong_mac);
	result("wake.wakes_sent", (double)(st1[TKO_ST_WAKES_SENT] - st0[TKO_ST_WAKES_SENT]));
	result("wake.wakes_failed",
	       (double)(st1[TKO_ST_WAKES_FAILED] - st0[TKO_ST_WAKES_FAILED]));
	tko_close(t);
	agent_stop(&a);
	conns_close(&cs);
	close(rx_fd);
	close(tx_fd);
	return 0;
}
