// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 1 on the wire: CPU per peer keepalive answered, tko's XDP against
 * the kernel TCP stack of real local sockets.
 *
 * N real connections (8000: this sandbox's open-file limit) between the
 * endpoint namespace (e0) and the peer namespace (p0). A sender thread in
 * the peer namespace writes the peer's keepalive probes (seq = RCV.NXT - 1,
 * ack = SND.NXT, as Linux sends them) on p0 with an AF_PACKET socket, at a
 * fixed rate: each connection once a second (the kernel answers an
 * out-of-window segment at most every 500 ms per socket, tko 4 a second).
 * Three configurations of e0, on the same sockets and frames:
 *  - kernel: no XDP; the endpoint's TCP stack answers each probe;
 *  - tko: tko_xdp_ingress, the sessions handed the sockets' state; it
 *    answers with XDP_TX;
 *  - floor: an XDP program that drops everything: what delivering a probe
 *    costs (the sender and the veth), which neither path avoids.
 * The answers are counted and dropped by the simulated peer on p0.
 *
 * CPU: the sender thread, pinned to one CPU, runs the whole receive path in
 * its own context (the veth hands the frame over and the softirq runs as the
 * send returns; this kernel has no IRQ time accounting), so its CPU time
 * (CLOCK_THREAD_CPUTIME_ID, ns) is the cost, without the rest of this shared
 * machine. Per probe, minus the floor: answer.xdp_ns and answer.kernel_ns.
 *
 * The floor is most of a probe's cost (4-7 µs here) and drifts with what the
 * machine's other tenants do, by more than tko's whole answer between runs:
 * so each round measures the three one after the other, in alternating
 * order (kernel, tko, floor; then floor, tko, kernel), and the keys are
 * medians over rounds of each round's own differences, not differences of
 * medians taken at different times.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "conns.h"
#include "frames.h"
#include "inproc.h"
#include "peerctl.h"
#include "helpers.skel.h"
#include "xdp_ingress.skel.h"
#include "ctl.skel.h"

#define NCONNS 8000

static struct frame *frames;
static int tx_fd;
static struct sockaddr_ll to;

/* The peer's keepalive probe of connection c. */
static void probe_of(const struct conn *c, struct frame *f)
{
	struct seg_spec s = {
		.smac = { 2, 0, 0, 0, 0, 2 }, .dmac = { 2, 0, 0, 0, 0, 1 },
		.sport = c->key.rport, .dport = c->key.lport,
		.seq = c->tcp.rcv_nxt - 1, .ack = c->tcp.snd_nxt, .flags = F_ACK,
		.window = 502, .ttl = 64, .pad_to = ETH_MIN_LEN,
	};

	memcpy(s.saddr, c->key.raddr, 4);
	memcpy(s.daddr, c->key.laddr, 4);
	frame_build(f, &s);
}

static void open_sender(const char *ns)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), one = 1;

	netns_enter(ns);
	tx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (tx_fd < 0)
		die("AF_PACKET: %s", strerror(errno));
	setsockopt(tx_fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	to.sll_family = AF_PACKET;
	to.sll_ifindex = if_nametoindex(BENCH_PEER_IF);
	to.sll_halen = 6;
	if (setns(home, CLONE_NEWNET))
		die("setns: %s", strerror(errno));
	close(home);
}

/*
 * Send the connections' probes for ms milliseconds, in 1 ms batches, each
 * connection once a second (round robin across calls); returns this
 * thread's CPU ns per probe.
 */
static double send_probes(size_t n, unsigned int ms, uint64_t *sent)
{
	static size_t next;
	size_t per_ms = n / 1000 ? n / 1000 : 1;
	uint64_t t = now_ns(), c0 = thread_cpu_ns(), count = 0;

	for (unsigned int i = 0; i < ms; i++) {
		for (size_t k = 0; k < per_ms; k++, next = (next + 1) % n) {
			if (sendto(tx_fd, frames[next].b, frames[next].len, 0, (void *)&to,
				   sizeof(to)) < 0)
				die("sendto: %s", strerror(errno));
			count++;
		}
		t += 1000000;
		sleep_until_ns(t);
	}
	*sent = count;
	return (double)(thread_cpu_ns() - c0) / count;
}

/* tko's datapath in this process, the sessions of the connections, ACTIVE. */
static int load_tko(struct inproc *p, const struct conns *cs)
{
	struct tko_ctl_args *a = calloc(cs->n, sizeof(*a));
	struct tko_session s = { .state = TKO_ACTIVE, .prev_state = TKO_LEARNING };

	if (!a)
		die("out of memory");
	for (size_t i = 0; i < cs->n; i++)
		a[i] = (struct tko_ctl_args){
			.key = cs->c[i].key,
			.cfg = { .idle_s = 60, .interval_s = 60, .retry_interval_s = 10,
				 .retries = 5, .flags = TKO_F_STATE_GIVEN },
			.tcp = cs->c[i].tcp,
			.have = TKO_HAVE_SEQ,
		};
	s.probe_ns = now_ns();
	inproc_install(p, a, 0, (uint32_t)cs->n, &s);
	free(a);
	return bpf_program__fd(p->b.xdp->progs.tko_xdp_ingress);
}

int main(int argc, char **argv)
{
	enum { KERNEL, TKO, FLOOR, MODES };
	static const char *const names[MODES] = { "kernel", "tko", "floor" };
	double v[MODES][32], dx[32], dk[32], answered[MODES] = {};
	struct stats st[MODES], sx, sk;
	struct bench_peer *peer;
	struct inproc p;
	struct conns cs;
	struct opts o;
	uint32_t ea, pa;
	int prog[MODES], reps;
	unsigned int ms;

	bench_init("answer_wire");
	opts_parse(&o, argc, argv);
	if (!o.ns_a || !o.ns_b)
		die("--ns-a and --ns-b are required");
	/* 9 s of probes per mode in QUICK, 21 s in the full run */
	reps = o.quick ? 9 : 21;
	ms = 1000;
	inet_pton(AF_INET, BENCH_ENDPOINT_ADDR, &ea);
	inet_pton(AF_INET, BENCH_PEER_ADDR, &pa);
	conns_open(&cs, NCONNS, o.ns_a, o.ns_b, ea, pa);
	conns_read_state(&cs);
	frames = calloc(cs.n, sizeof(*frames));
	if (!frames)
		die("out of memory");
	for (size_t i = 0; i < cs.n; i++)
		probe_of(&cs.c[i], &frames[i]);

	inproc_load(&p, NCONNS * 2);
	prog[KERNEL] = -1;
	prog[TKO] = load_tko(&p, &cs);
	prog[FLOOR] = bpf_program__fd(p.h->progs.bench_drop);
	peer = peer_attach(o.ns_b, NULL);
	peer_mode(peer, PEER_SINK);
	open_sender(o.ns_b);
	pin_cpu(1);

	/* Interleaved, in alternating order: whatever the machine does
	 * meanwhile hits all three alike. */
	for (int r = -1; r < reps; r++) {
		for (int i = 0; i < MODES; i++) {
			int m = r & 1 ? MODES - 1 - i : i;
			uint64_t a0, sent;
			double ns;

			xdp_set(o.ns_a, BENCH_ENDPOINT_IF, prog[m]);
			a0 = peer_count(peer, PEER_SINK);
			ns = send_probes(cs.n, ms, &sent);
			if (r < 0)
				continue;	/* warm-up */
			v[m][r] = ns;
			answered[m] += (double)(peer_count(peer, PEER_SINK) - a0) / sent / reps;
		}
		if (r >= 0) {
			dx[r] = v[TKO][r] - v[FLOOR][r];
			dk[r] = v[KERNEL][r] - v[FLOOR][r];
		}
	}
	xdp_set(o.ns_a, BENCH_ENDPOINT_IF, -1);
	for (int m = 0; m < MODES; m++) {
		stats_of(v[m], reps, &st[m]);
		progress("%-6s %s per probe on the wire, %.1f%% answered", names[m],
			 stats_str(&st[m], "ns"), answered[m] * 100);
	}
	if (answered[KERNEL] < 0.9 || answered[TKO] < 0.9)
		die("probes went unanswered: the measurement would not be what it says");

	stats_of(dx, reps, &sx);
	stats_of(dk, reps, &sk);
	double xdp = sx.median, kern = sk.median;

	result("answer.xdp_ns", xdp);
	result("answer.xdp_ns_p25", sx.p25);
	result("answer.xdp_ns_p75", sx.p75);
	result("answer.kernel_ns", kern);
	result("answer.kernel_ns_p25", sk.p25);
	result("answer.kernel_ns_p75", sk.p75);
	result("answer.ratio", xdp > 0 ? kern / xdp : 0);
	result("answer.floor_ns", st[FLOOR].median);
	result("answer.xdp_total_ns", st[TKO].median);
	result("answer.kernel_total_ns", st[KERNEL].median);
	result("answer.xdp_total_ns_p25", st[TKO].p25);
	result("answer.xdp_total_ns_p75", st[TKO].p75);
	result("answer.kernel_total_ns_p25", st[KERNEL].p25);
	result("answer.kernel_total_ns_p75", st[KERNEL].p75);
	result("answer.probes_per_s", (double)cs.n);
	progress("above the floor, round by round: tko %s, kernel %s, ratio %.1f",
		 stats_str(&sx, "ns"), stats_str(&sk, "ns"), xdp > 0 ? kern / xdp : 0);
	peer_detach(peer);
	inproc_destroy(&p);
	conns_close(&cs);
	return 0;
}
