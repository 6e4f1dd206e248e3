// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of tko_carrier (bpf/carrier.bpf.c): due queue in, byte-exact
 * frames out. Keys are pushed into the `due` queue, the carrier frame is run
 * through the program with BPF_PROG_RUN, and what the program emitted with
 * bpf_clone_redirect() is read off a veth pair of a private network
 * namespace:
 *
 *     session's interface IF_A  <---- veth ---->  IF_B (where the peer would be)
 *       RSTs injected ingress                       probes arrive here
 *       (BPF_F_INGRESS) read here
 *     IF_C <-> IF_D: another interface of the agent, with no route to a peer
 *
 * IF_A has routes and permanent neighbours for the peers (the path
 * bpf_fib_lookup() finds for sessions with no L2 yet) and forwards, as on a
 * gateway: bpf_fib_lookup() refuses an interface that does not forward.
 *
 * Every read is bounded by a sentinel frame sent behind the expected ones
 * through the same path (the process is pinned to one CPU, so the backlog
 * keeps them in order): "nothing else arrived" is a fact, not a timeout.
 * A second packet socket per device, with a classic BPF filter on skb->mark,
 * shows that every emitted frame carries TKO_MARK (mark is not on the wire).
 *
 * The namespace is the test process's own (unshare(CLONE_NEWNET)): it and
 * its devices disappear with the process, whatever happens; the group
 * teardown removes the veth pair too. No host interface is ever touched.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <poll.h>
#include <net/if.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/filter.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define IF_A		"tkopa0"	/* the session's interface, towards the peer */
#define IF_B		"tkopa1"	/* its veth peer: the wire's far end */
/* Another interface of the agent, forwarding, with no route to any peer. */
#define IF_C		"tkopa2"
#define IF_D		"tkopa3"	/* IF_C's veth peer, unused */
#define TC_ACT_SHOT	2
#define TC_ACT_REDIRECT	7
#define GEN		0x00c0ffe1u	/* the carrier generation of the tests */
#define ETH_P_ALL_	0x0003
#define SENTINEL_TYPE	0x88b6		/* IEEE 802 local experimental 2 */
#define RX_DEADLINE_MS	2000
#define MAX_RX		48
#define CARRIER_HDR_LEN	((int)sizeof(struct tko_carrier_hdr))

/* IF_A's own address: the source MAC of frames routed with bpf_fib_lookup. */
static const uint8_t A_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x0a, 0x0a };
static const uint8_t B_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x0b, 0x0b };
/* The neighbour entry of the peer's address on IF_A (the next hop's MAC). */
static const uint8_t NH_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x0c, 0x0c };
/* The path given to tko_start (as the agent finds it with rtnetlink). */
static const uint8_t GIVEN_LMAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x0d, 0x0d };
static const uint8_t GIVEN_RMAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x0e, 0x0e };
/* Peers with a route but no neighbour entry, and with no route at all. */
static const uint8_t NO_NEIGH4[4] = { 192, 0, 2, 77 };
static const uint8_t NO_NEIGH6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x77 };
static const uint8_t NO_ROUTE4[4] = { 198, 51, 100, 1 };
static const uint8_t NO_ROUTE6[16] = { 0x3f, 0xff, [15] = 1 };

/* ---------------------------------------------------------------- the wire */

struct wire {
	const char *name;
	int ifindex;
	int fd;		/* every frame of the device */
	int fd_marked;	/* only frames with skb->mark == TKO_MARK, and sentinels */
};

static struct wire WA = { IF_A, 0, -1, -1 }, WB = { IF_B, 0, -1, -1 };
static int ifindex_c;
static uint32_t sentinel_seq;
static bool netns_ready;

/* TCP frames read from a device, sentinel excluded. */
struct rx {
	struct frame f[MAX_RX];
	size_t n;	/* may exceed MAX_RX: only the first MAX_RX are kept */
};

static int packet_socket(int ifindex, bool marked)
{
	/* mark == TKO_MARK or EtherType == sentinel: whole frame; else drop */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_MARK),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TKO_MARK, 2, 0),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SENTINEL_TYPE, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL_),
		.sll_ifindex = ifindex,
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL_));

	if (fd < 0)
		return -1;
	if ((marked && setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog))) ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_sentinel(const struct wire *tx, uint32_t seq)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = tx->ifindex,
		.sll_halen = 6,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	uint8_t f[ETH_MIN_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				   0x02, 0x00, 0x00, 0x00, 0x5e, 0x5e };

	put16(f + 12, SENTINEL_TYPE);
	put32(f + 14, seq);
	if (sendto(tx->fd, f, sizeof(f), 0, (struct sockaddr *)&sll, sizeof(sll)) != sizeof(f))
		fail_msg("cannot send the sentinel on %s: %s", tx->name, strerror(errno));
}

static bool is_tcp_frame(const uint8_t *b, size_t len)
{
	if (len >= ETH_HDR_LEN + IP4_HDR_LEN && get16(b + 12) == ETHERTYPE_IP)
		return b[ETH_HDR_LEN + 9] == PROTO_TCP;
	if (len >= ETH_HDR_LEN + IP6_HDR_LEN && get16(b + 12) == ETHERTYPE_IPV6)
		return b[ETH_HDR_LEN + 6] == PROTO_TCP;
	return false;
}

/* Read fd until the sentinel seq: the TCP frames received before it go to r. */
static void read_until_sentinel(int fd, const char *what, uint32_t seq, struct rx *r)
{
	uint64_t deadline = now_ns() + RX_DEADLINE_MS * 1000000ULL;
	uint8_t b[FRAME_MAX];

	r->n = 0;
	for (;;) {
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t len = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&sll, &sl);
		int64_t left;

		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fail_msg("%s: recvfrom: %s", what, strerror(errno));
			left = (int64_t)(deadline - now_ns()) / 1000000;
			if (left <= 0)
				fail_msg("%s: the sentinel did not come back within %d ms", what,
					 RX_DEADLINE_MS);
			poll(&p, 1, (int)left);
			continue;
		}
		if (sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (len >= 18 && get16(b + 12) == SENTINEL_TYPE) {
			if (get32(b + 14) == seq)
				return;
			continue;	/* an older one */
		}
		if (!is_tcp_frame(b, (size_t)len))
			continue;	/* IPv6 neighbour discovery, ICMP errors, ... */
		if (r->n < MAX_RX) {
			memcpy(r->f[r->n].b, b, (size_t)len);
			r->f[r->n].len = (size_t)len;
		}
		r->n++;
	}
}

/*
 * Everything that arrived on rx since the last sync: one sentinel is sent
 * from tx (the other end) behind it and read back on both sockets.
 */
static void wire_sync(const struct wire *rx, const struct wire *tx, struct rx *all,
		      struct rx *marked)
{
	uint32_t seq = ++sentinel_seq;

	send_sentinel(tx, seq);
	read_until_sentinel(rx->fd, rx->name, seq, all);
	read_until_sentinel(rx->fd_marked, rx->name, seq, marked);
}

static void check_rx(const struct rx *got, const struct frame *want, size_t n, const char *what)
{
	char w[128];
	size_t i;

	if (got->n != n) {
		for (i = 0; i < got->n && i < MAX_RX; i++)
			hexdump("received", got->f[i].b, got->f[i].len);
		fail_msg("%s: %zu frames, want %zu", what, got->n, n);
	}
	for (i = 0; i < n; i++) {
		snprintf(w, sizeof(w), "%s, frame %zu of %zu", what, i + 1, n);
		check_frame(got->f[i].b, got->f[i].len, want[i].b, want[i].len, w);
	}
}

/* Received on both sockets of rx: exactly want[0..n), and so every frame marked TKO_MARK. */
static void check_rx_both(const struct rx *all, const struct rx *marked, const struct frame *want,
			  size_t n, const char *what)
{
	char w[128];

	check_rx(all, want, n, what);
	snprintf(w, sizeof(w), "%s (with skb->mark TKO_MARK)", what);
	check_rx(marked, want, n, w);
}

/* What reached rx since the last sync is exactly want[0..n). */
static void check_wire(const struct wire *rx, const struct wire *tx, const struct frame *want,
		       size_t n, const char *what)
{
	static struct rx all, marked;

	wire_sync(rx, tx, &all, &marked);
	check_rx_both(&all, &marked, want, n, what);
}

static void wire_flush(void)
{
	static struct rx all, marked;

	wire_sync(&WB, &WA, &all, &marked);
	wire_sync(&WA, &WB, &all, &marked);
}

/* ------------------------------------------------------------ netns setup */

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st)
		fprintf(stderr, "netns setup: '%s' failed (status %d)\n", cmd, st);
	return st;
}

static int write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0) {
		fprintf(stderr, "netns setup: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	if (!ok)
		fprintf(stderr, "netns setup: cannot write %s to %s\n", val, path);
	return ok ? 0 : -1;
}

static const char *mac_str(const uint8_t *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static const char *addr_str(bool v6, const uint8_t *a, char *buf)
{
	return inet_ntop(v6 ? AF_INET6 : AF_INET, a, buf, INET6_ADDRSTRLEN);
}

static void netns_teardown(void);

/*
 * A private network namespace holding only lo and the two veth pairs.
 * Refuses to go on unless the namespace is new (lo only), so that nothing
 * here can ever act on the host's interfaces.
 */
static int netns_setup(void)
{
	char m1[18], m2[18], m3[18], p4[INET6_ADDRSTRLEN], p6[INET6_ADDRSTRLEN];
	struct if_nameindex *ifs;
	cpu_set_t cpus;
	int n = 0;

	/* One CPU: frames and sentinels share one backlog queue, in order. */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus)) {
		fprintf(stderr, "cannot pin to one CPU: %s\n", strerror(errno));
		return -1;
	}
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "cannot create a network namespace: %s\n", strerror(errno));
		return -1;
	}
	ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		n++;
	if (!ifs || n != 1 || strcmp(ifs[0].if_name, "lo")) {
		fprintf(stderr, "the new network namespace is not empty: giving up\n");
		if_freenameindex(ifs);
		return -1;
	}
	if_freenameindex(ifs);
	netns_ready = true;
	atexit(netns_teardown);

	mac_str(A_MAC, m1);
	mac_str(B_MAC, m2);
	mac_str(NH_MAC, m3);
	addr_str(false, PEER4, p4);
	addr_str(true, PEER6, p6);
	if (sh("ip link set lo up") ||
	    sh("ip link add %s address %s type veth peer name %s address %s", IF_A, m1, IF_B,
	       m2))
		return -1;
	/* No IPv6 chatter: no DAD, no router solicitation, no link-local
	 * address on IF_A (which needs IPv6 for the routes), none at all on
	 * IF_B. Forwarding on IF_A: bpf_fib_lookup() requires it (a gateway). */
	if (write_sysctl("/proc/sys/net/ipv6/conf/" IF_A "/addr_gen_mode", "1") ||
	    write_sysctl("/proc/sys/net/ipv6/conf/" IF_A "/accept_dad", "0") ||
	    write_sysctl("/proc/sys/net/ipv6/conf/" IF_A "/router_solicitations", "0") ||
	    write_sysctl("/proc/sys/net/ipv6/conf/" IF_A "/forwarding", "1") ||
	    write_sysctl("/proc/sys/net/ipv4/conf/" IF_A "/forwarding", "1") ||
	    write_sysctl("/proc/sys/net/ipv6/conf/" IF_B "/disable_ipv6", "1"))
		return -1;
	if (sh("ip link add %s type veth peer name %s", IF_C, IF_D) ||
	    write_sysctl("/proc/sys/net/ipv6/conf/" IF_C "/disable_ipv6", "1") ||
	    write_sysctl("/proc/sys/net/ipv6/conf/" IF_D "/disable_ipv6", "1") ||
	    write_sysctl("/proc/sys/net/ipv4/conf/" IF_C "/forwarding", "1") ||
	    sh("ip link set %s up", IF_C) || sh("ip link set %s up", IF_D))
		return -1;
	if (sh("ip link set %s up", IF_A) || sh("ip link set %s up", IF_B) ||
	    sh("ip route add 192.0.2.0/24 dev %s", IF_A) ||
	    sh("ip neigh replace %s lladdr %s dev %s nud permanent", p4, m3, IF_A) ||
	    sh("ip -6 route add 2001:db8::/32 dev %s", IF_A) ||
	    sh("ip -6 neigh replace %s lladdr %s dev %s nud permanent", p6, m3, IF_A))
		return -1;
	WA.ifindex = (int)if_nametoindex(IF_A);
	WB.ifindex = (int)if_nametoindex(IF_B);
	ifindex_c = (int)if_nametoindex(IF_C);
	WA.fd = packet_socket(WA.ifindex, false);
	WA.fd_marked = packet_socket(WA.ifindex, true);
	WB.fd = packet_socket(WB.ifindex, false);
	WB.fd_marked = packet_socket(WB.ifindex, true);
	if (!WA.ifindex || !WB.ifindex || !ifindex_c || WA.fd < 0 || WA.fd_marked < 0 || WB.fd < 0 ||
	    WB.fd_marked < 0) {
		fprintf(stderr, "cannot open packet sockets on %s/%s: %s\n", IF_A, IF_B,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void netns_teardown(void)
{
	struct wire *w[] = { &WA, &WB };

	for (size_t i = 0; i < 2; i++) {
		if (w[i]->fd >= 0)
			close(w[i]->fd);
		if (w[i]->fd_marked >= 0)
			close(w[i]->fd_marked);
		w[i]->fd = w[i]->fd_marked = -1;
	}
	/* The namespace goes with the process anyway; be tidy. */
	if (netns_ready && if_nametoindex(IF_A))
		sh("ip link del %s", IF_A);
	if (netns_ready && if_nametoindex(IF_C))
		sh("ip link del %s", IF_C);
}

/* ------------------------------------------------------------ the carrier */

static void carrier_frame(uint8_t *b, __u32 generation)
{
	struct tko_carrier_hdr h = {
		.dst = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		.proto = htons(TKO_CARRIER_ETHERTYPE),
		.magic = htonl(TKO_CARRIER_MAGIC),
		.generation = generation,	/* host order, as the agent writes it */
	};

	memset(b, 0, TKO_CARRIER_LEN);
	memcpy(b, &h, sizeof(h));
}

static struct tko_carrier_state carrier_get(void)
{
	struct tko_carrier_state c;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.carrier), &zero, &c), 0);
	return c;
}

/* The carrier's control block, its pass count kept; ifaces: 0-terminated. */
static void carrier_set(__u32 loop_ifindex, __u32 generation, const int *ifaces)
{
	struct tko_carrier_state c = carrier_get();
	__u32 zero = 0;
	size_t i;

	c.loop_ifindex = loop_ifindex;
	c.generation = generation;
	memset(c.ifindex, 0, sizeof(c.ifindex));
	for (i = 0; ifaces && ifaces[i] && i < TKO_MAX_IFACES; i++)
		c.ifindex[i] = (__u32)ifaces[i];
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(H.b.ctl->maps.carrier), &zero, &c,
					     BPF_ANY), 0);
}

/* The agent's interfaces: IF_C (no route to any peer) first, then IF_A. */
static void carrier_default(void)
{
	int ifaces[] = { ifindex_c, WA.ifindex, 0 };

	carrier_set((__u32)WB.ifindex, GEN, ifaces);
}

static int due_fd(void)
{
	return bpf_map__fd(H.b.ctl->maps.due);
}

static void due_push(const struct tko_key *k)
{
	if (bpf_map_update_elem(due_fd(), NULL, k, BPF_ANY))
		fail_msg("cannot push a key on the due queue: %s", strerror(errno));
}

static bool due_pop(struct tko_key *k)
{
	return bpf_map_lookup_and_delete_elem(due_fd(), NULL, k) == 0;
}

static size_t due_drain(void)
{
	struct tko_key k;
	size_t n = 0;

	while (due_pop(&k))
		n++;
	return n;
}

/*
 * Empty the need_l2 queue (sessions the agent must find a path for); how
 * many keys it held, and how many of them were k.
 */
static size_t need_l2_drain(const struct tko_key *k, size_t *of_k)
{
	struct tko_key got;
	size_t n = 0;

	if (of_k)
		*of_k = 0;
	while (!bpf_map_lookup_and_delete_elem(bpf_map__fd(H.b.ctl->maps.need_l2), NULL, &got)) {
		n++;
		if (of_k && k && key_eq(&got, k))
			(*of_k)++;
	}
	return n;
}

/* Run the carrier program on in[0..len); *mark: skb->mark after the run. */
static int carrier_run(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len, __u32 *mark)
{
	struct __sk_buff ctx = {};
	int verdict, err;

	err = h_try_skb_prog(H.b.carrier->progs.tko_carrier, in, len, &ctx, out, out_len,
			     &verdict);
	if (err)
		fail_msg("BPF_PROG_RUN carrier (%zu bytes): %s", len, strerror(-err));
	if (mark)
		*mark = ctx.mark;
	return verdict;
}

struct carrier_stats {
	uint64_t sent, errors, passes;
};

static struct carrier_stats carrier_stats(void)
{
	struct carrier_stats s = {
		.sent = h_stat(TKO_ST_PROBES_SENT),
		.errors = h_stat(TKO_ST_EMIT_ERRORS),
		.passes = h_stat(TKO_ST_CARRIER_PASSES),
	};
	return s;
}

static void check_stats_delta(const struct carrier_stats *b, uint64_t sent, uint64_t errors,
			      uint64_t passes)
{
	struct carrier_stats a = carrier_stats();

	CHECK_EQ(a.sent - b->sent, sent, "stats probes_sent");
	CHECK_EQ(a.errors - b->errors, errors, "stats emit_errors");
	CHECK_EQ(a.passes - b->passes, passes, "stats carrier_passes");
}

/* Before a pass: empty queue, quiet wires, counters noted. */
struct pass {
	struct carrier_stats st;
	uint64_t passes;
	size_t ev0;
};

static struct pass pass_begin(void)
{
	struct pass p;

	due_drain();
	need_l2_drain(NULL, NULL);
	wire_flush();
	p.st = carrier_stats();
	p.passes = carrier_get().passes;
	p.ev0 = h_drain();
	return p;
}

/*
 * One valid pass: TC_ACT_REDIRECT (to loop_ifindex: BPF_PROG_RUN only
 * returns the verdict), the carrier back as it came, mark cleared, the
 * pass counted.
 */
static void carrier_pass(void)
{
	uint8_t in[TKO_CARRIER_LEN], out[FRAME_MAX];
	struct tko_carrier_state before = carrier_get(), after;
	size_t out_len;
	__u32 mark = 0;
	uint64_t t0, t1;

	carrier_frame(in, GEN);
	t0 = now_ns();
	CHECK_EQ(carrier_run(in, sizeof(in), out, &out_len, &mark), TC_ACT_REDIRECT,
		 "verdict of the carrier");
	t1 = now_ns();
	check_frame(out, out_len, in, sizeof(in), "the carrier after the pass");
	CHECK_EQ(mark, 0, "skb->mark of the carrier after the pass");
	after = carrier_get();
	CHECK_EQ(after.passes, before.passes + 1, "carrier passes");
	if (after.last_pass_ns < t0 || after.last_pass_ns > t1)
		fail_msg("carrier last_pass_ns not the time of the pass");
}

/* ------------------------------------------------------------- sessions */

enum l2 {
	L2_LEARNED,	/* TC egress saw the endpoint's frame on IF_A */
	L2_GIVEN,	/* given to tko_start with the state */
	L2_FIB,		/* none: the carrier routes it (bpf_fib_lookup) */
	L2_NO_NEIGH,	/* none, and the peer has a route but no neighbour */
	L2_NO_ROUTE,	/* none, and no route to the peer */
};

enum kind {
	K_ACTIVE,
	K_LEARNING,	/* idle 1 h: never ACTIVE */
	K_STOPPED,	/* tko_stop'ed: its key outlives it */
	K_DEAD,		/* PEER_DEAD with --on-dead reset (retries 1) */
};

enum expect {
	E_PROBE,	/* a probe out of IF_A */
	E_RST,		/* a RST into IF_A, the session deleted */
	E_NOTHING,	/* no frame, no error */
	E_ERROR,	/* no frame, emit_errors + 1 */
};

struct carrier_case {
	const char *name;
	unsigned prof;		/* P_V6, P_TS, P_WRAP */
	bool byte;		/* --probe byte */
	uint8_t ts_clock;	/* TKO_TS_CLOCK_*: where the probe's TSval comes from */
	enum l2 l2;
	enum kind kind;
	enum expect expect;
};

static const struct carrier_case cases[] = {
	/* probes, L2 learned from the endpoint's own frames */
	{ "v4_probe_zero", P_V4, false, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v4_probe_byte", P_V4, true, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v4_ts_probe_zero", P_TS, false, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v4_ts_probe_byte", P_TS, true, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v6_probe_zero", P_V6, false, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v6_probe_byte", P_V6, true, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v6_ts_probe_zero", P_V6 | P_TS, false, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v6_ts_probe_byte", P_V6 | P_TS, true, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v4_wrap_probe", P_WRAP, false, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	/* a local socket's TSval: the TCP clock (ms or us) + its tsoffset, at emission */
	{ "v4_ts_clock_ms_probe", P_TS, false, TKO_TS_CLOCK_MS, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v6_ts_clock_us_probe_byte", P_V6 | P_TS, true, TKO_TS_CLOCK_US, L2_LEARNED, K_ACTIVE,
	  E_PROBE },
	/* the path given with the state (tko start of a local socket) */
	{ "v4_given_l2_probe", P_V4, false, 0, L2_GIVEN, K_ACTIVE, E_PROBE },
	{ "v6_ts_given_l2_probe_byte", P_V6 | P_TS, true, 0, L2_GIVEN, K_ACTIVE, E_PROBE },
	/* probes of sessions handed over with --state: routed by the carrier */
	{ "v4_fib_probe_zero", P_V4, false, 0, L2_FIB, K_ACTIVE, E_PROBE },
	{ "v4_ts_fib_probe_byte", P_TS, true, 0, L2_FIB, K_ACTIVE, E_PROBE },
	{ "v6_fib_probe_zero", P_V6, false, 0, L2_FIB, K_ACTIVE, E_PROBE },
	{ "v6_ts_fib_probe_byte", P_V6 | P_TS, true, 0, L2_FIB, K_ACTIVE, E_PROBE },
	{ "v4_no_neighbour", P_V4, false, 0, L2_NO_NEIGH, K_ACTIVE, E_ERROR },
	{ "v6_no_neighbour", P_V6, false, 0, L2_NO_NEIGH, K_ACTIVE, E_ERROR },
	{ "v4_no_route", P_V4, false, 0, L2_NO_ROUTE, K_ACTIVE, E_ERROR },
	{ "v6_ts_no_route", P_V6 | P_TS, false, 0, L2_NO_ROUTE, K_ACTIVE, E_ERROR },
	/* keys whose session is not (or no longer) ACTIVE */
	{ "v4_learning_skipped", P_V4, false, 0, L2_LEARNED, K_LEARNING, E_NOTHING },
	{ "v4_learning_no_route_skipped", P_V4, false, 0, L2_NO_ROUTE, K_LEARNING, E_NOTHING },
	{ "v4_stopped_skipped", P_V4, false, 0, L2_LEARNED, K_STOPPED, E_NOTHING },
	{ "v6_stopped_skipped", P_V6 | P_TS, false, 0, L2_FIB, K_STOPPED, E_NOTHING },
	/* PEER_DEAD with --on-dead reset: a RST "from the peer" into IF_A */
	{ "v4_dead_reset", P_V4, false, 0, L2_LEARNED, K_DEAD, E_RST },
	{ "v6_ts_dead_reset", P_V6 | P_TS, false, 0, L2_LEARNED, K_DEAD, E_RST },
	{ "v4_ts_dead_reset_fib", P_TS, true, 0, L2_FIB, K_DEAD, E_RST },
	{ "v6_dead_reset_fib", P_V6, false, 0, L2_FIB, K_DEAD, E_RST },
	{ "v4_ts_clock_ms_dead_reset_given_l2", P_TS, false, TKO_TS_CLOCK_MS, L2_GIVEN, K_DEAD,
	  E_RST },
	{ "v4_dead_reset_no_route", P_V4, false, 0, L2_NO_ROUTE, K_DEAD, E_ERROR },
};

#define NCASES		(sizeof(cases) / sizeof(cases[0]))
#define CASE_PORT0	51000
#define BUDGET_N	(TKO_CARRIER_BUDGET + 8)
#define BUDGET_PORT0	52000
enum {
	PORT_GUARD = 53000,	/* ACTIVE, learned: the key pushed before refused frames */
	PORT_SUSPEND,		/* ACTIVE, then suspended by the endpoint's data */
	PORT_MIX_DEAD,		/* PEER_DEAD with --on-dead reset, in a mixed pass */
	PORT_IFACES,		/* handed over: routed only over the agent's interfaces */
};

static uint16_t case_port(const struct carrier_case *c)
{
	return (uint16_t)(CASE_PORT0 + (c - cases));
}

/* What tko_start is given for a session of this shape. */
static struct tko_ctl_args shape_args(unsigned prof, bool byte, enum l2 l2, enum kind kind,
				      uint16_t port)
{
	struct tko_ctl_args a = sess_args(prof | (kind == K_LEARNING ? P_LEARNING : 0), port);
	bool v6 = prof & P_V6;

	if (byte)
		a.cfg.probe = TKO_PROBE_BYTE;
	if (l2 == L2_GIVEN) {
		a.have |= TKO_HAVE_L2;
		a.ifindex = (__u32)WA.ifindex;
		memcpy(a.lmac, GIVEN_LMAC, 6);
		memcpy(a.rmac, GIVEN_RMAC, 6);
	}
	if (l2 == L2_NO_NEIGH)
		memcpy(a.key.raddr, v6 ? NO_NEIGH6 : NO_NEIGH4, v6 ? 16 : 4);
	if (l2 == L2_NO_ROUTE)
		memcpy(a.key.raddr, v6 ? NO_ROUTE6 : NO_ROUTE4, v6 ? 16 : 4);
	if (kind == K_DEAD) {
		a.cfg.interval_s = 1;
		a.cfg.retry_interval_s = 1;
		a.cfg.retries = 1;
		a.cfg.flags |= TKO_F_ON_DEAD_RESET;
	}
	return a;
}

/* A local socket's TS clock offset: near the top, so that the sum wraps. */
#define TS_OFFSET	0xfff00000u

static struct tko_ctl_args case_args(const struct carrier_case *c)
{
	struct tko_ctl_args a = shape_args(c->prof, c->byte, c->l2, c->kind, case_port(c));

	if (c->ts_clock) {
		a.tcp.ts_clock = c->ts_clock;
		a.tcp.ts_offset = TS_OFFSET;
	}
	return a;
}

/* The endpoint's in-sync pure ACK leaving through IF_A: TC egress learns L2 from it. */
static int teach_l2(const struct tko_ctl_args *a)
{
	struct seg_spec e = from_endpoint(a->have & TKO_HAVE_TS ? P_TS : P_V4, a->key.lport);
	struct __sk_buff ctx = { .ifindex = (__u32)WA.ifindex };
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;
	int verdict;

	e.v6 = a->key.family == TKO_AF_INET6;
	memcpy(e.saddr, a->key.laddr, 16);
	memcpy(e.daddr, a->key.raddr, 16);
	e.seq = a->tcp.snd_nxt;
	e.ack = a->tcp.rcv_nxt;
	e.window = a->tcp.window;
	e.tsval = a->tcp.ts_val;
	e.tsecr = a->tcp.ts_ecr;
	frame_build(&f, &e);
	if (h_try_skb_prog(H.b.tc->progs.tko_tc_egress, f.b, f.len, &ctx, out, &out_len,
			   &verdict) || verdict != 0) {
		fprintf(stderr, "TC egress did not take the frame of port %u\n", a->key.lport);
		return -1;
	}
	return 0;
}

static int start_session(const struct tko_ctl_args *a, enum l2 l2)
{
	int ret = h_start_fixture(H.b.ctl->progs.tko_start, a);

	if (ret) {
		fprintf(stderr, "cannot start the session of port %u: %d\n", a->key.lport, ret);
		return -1;
	}
	return l2 == L2_LEARNED ? teach_l2(a) : 0;
}

/* The MACs a session's frames use: learned from the endpoint, given, or routed. */
static const uint8_t *mac_local(enum l2 l2)
{
	return l2 == L2_LEARNED ? LOCAL_MAC : l2 == L2_GIVEN ? GIVEN_LMAC : A_MAC;
}

static const uint8_t *mac_remote(enum l2 l2)
{
	return l2 == L2_LEARNED ? PEER_MAC : l2 == L2_GIVEN ? GIVEN_RMAC : NH_MAC;
}

/*
 * tko's probe of the session started with a (DESIGN.md, "TCP correctness
 * rules"): ACK, seq = SND.NXT - 1, ack = RCV.NXT, the endpoint's raw window,
 * no payload or one zero byte, TSopt iff the session uses it (TSval = the
 * endpoint's last, TSecr = the peer's last), IPv4 id 0 + DF, TTL/hop limit
 * 64, no TOS/traffic class/flow label, no Ethernet padding.
 */
static void expected_probe(struct frame *f, const struct tko_ctl_args *a, enum l2 l2)
{
	struct seg_spec s = {
		.v6 = a->key.family == TKO_AF_INET6,
		.sport = a->key.lport,
		.dport = a->key.rport,
		.seq = a->tcp.snd_nxt - 1,
		.ack = a->tcp.rcv_nxt,
		.flags = F_ACK,
		.window = a->tcp.window,
		.ts = a->have & TKO_HAVE_TS,
		.tsval = a->tcp.ts_val,
		.tsecr = a->tcp.ts_ecr,
		.payload = a->cfg.probe == TKO_PROBE_BYTE,
		.payload_zero = true,
		.frag_off = a->key.family == TKO_AF_INET6 ? 0 : IP4_DF,
		.ttl = 64,
	};

	memcpy(s.smac, mac_local(l2), 6);
	memcpy(s.dmac, mac_remote(l2), 6);
	memcpy(s.saddr, a->key.laddr, 16);
	memcpy(s.daddr, a->key.raddr, 16);
	frame_build(f, &s);
}

/*
 * The RST of --on-dead reset: as if from the peer (addresses, ports and
 * MACs reversed), RST|ACK, seq = RCV.NXT (RFC 5961: exactly), ack = SND.NXT,
 * window 0, no options (RSTs are exempt from PAWS).
 */
static void expected_rst(struct frame *f, const struct tko_ctl_args *a, enum l2 l2)
{
	struct seg_spec s = {
		.v6 = a->key.family == TKO_AF_INET6,
		.sport = a->key.rport,
		.dport = a->key.lport,
		.seq = a->tcp.rcv_nxt,
		.ack = a->tcp.snd_nxt,
		.flags = F_RST | F_ACK,
		.frag_off = a->key.family == TKO_AF_INET6 ? 0 : IP4_DF,
		.ttl = 64,
	};

	memcpy(s.smac, mac_remote(l2), 6);
	memcpy(s.dmac, mac_local(l2), 6);
	memcpy(s.saddr, a->key.raddr, 16);
	memcpy(s.daddr, a->key.laddr, 16);
	frame_build(f, &s);
}

/* The whole session, field by field where it matters, then every byte. */
static void check_session_eq(const struct tko_session *got, const struct tko_session *want)
{
	check_session_fixed(got, want);
	check_tcp_state(&got->tcp, &want->tcp);
	check_counters(&got->cnt, &want->cnt);
	CHECK_EQ(got->state, want->state, "state");
	CHECK_EQ(got->have, want->have, "have");
	check_l2(got, want);
	if (memcmp(got, want, sizeof(*got)))
		fail_msg("session changed beyond the expected fields");
}

/*
 * A local socket's probe: its TSval is the TCP clock at emission plus the
 * socket's tsoffset (what the socket itself would send). Read back, it must
 * fall within the pass [t0, t1]; then the whole frame is checked with it.
 */
static void check_clock_probe(struct tko_ctl_args *a, enum l2 l2, uint64_t t0, uint64_t t1)
{
	static struct rx all, marked;
	uint64_t div = a->tcp.ts_clock == TKO_TS_CLOCK_US ? 1000 : 1000000;
	uint32_t lo = (uint32_t)(t0 / div) + a->tcp.ts_offset;
	uint32_t hi = (uint32_t)(t1 / div) + a->tcp.ts_offset, tsval;
	size_t off = ETH_HDR_LEN + (a->key.family == TKO_AF_INET6 ? IP6_HDR_LEN : IP4_HDR_LEN) +
		     TCP_HDR_LEN + 4;	/* NOP, NOP, kind, length */
	struct frame want;

	wire_sync(&WB, &WA, &all, &marked);
	CHECK_EQ(all.n, 1, "frames to the peer");
	if (all.f[0].len < off + 4)
		fail_msg("the probe is too short for a TSopt");
	tsval = get32(all.f[0].b + off);
	if ((uint32_t)(tsval - lo) > (uint32_t)(hi - lo))
		fail_msg("TSval %u is not the TCP clock + tsoffset during the pass: [%u, %u]",
			 tsval, lo, hi);
	a->tcp.ts_val = tsval;
	expected_probe(&want, a, l2);
	check_rx_both(&all, &marked, &want, 1, "frames to the peer");
}

static void run_case(void **state)
{
	const struct carrier_case *c = *state;
	struct tko_ctl_args a = case_args(c);
	static const __u8 kind_state[] = { [K_ACTIVE] = TKO_ACTIVE,
					   [K_LEARNING] = TKO_LEARNING,
					   [K_DEAD] = TKO_PEER_DEAD };
	struct tko_session before, after, want;
	struct frame to_peer[1], to_endpoint[1];
	size_t n_peer = 0, n_endpoint = 0;
	bool existed = h_lookup(&a.key, &before);
	uint64_t t0, t1;
	size_t n_need;
	struct pass p;

	if (c->kind == K_STOPPED) {
		if (existed)
			fail_msg("a stopped session is in the table");
	} else {
		assert_true(existed);
		CHECK_EQ(before.state, kind_state[c->kind], "state before the pass");
		CHECK_EQ(!!(before.have & TKO_HAVE_L2), c->l2 <= L2_GIVEN, "L2 before the pass");
		if (c->l2 <= L2_GIVEN)	/* the context of the TC run, or the start's */
			CHECK_EQ(before.ifindex, WA.ifindex, "ifindex before the pass");
		CHECK_EQ(before.tcp.ts_clock, c->ts_clock, "tcp.ts_clock");
	}
	if (c->expect == E_PROBE)
		expected_probe(&to_peer[n_peer++], &a, c->l2);
	if (c->expect == E_RST)
		expected_rst(&to_endpoint[n_endpoint++], &a, c->l2);

	p = pass_begin();
	due_push(&a.key);
	t0 = now_ns();
	carrier_pass();
	t1 = now_ns();
	if (c->expect == E_PROBE && c->ts_clock)
		check_clock_probe(&a, c->l2, t0, t1);
	else
		check_wire(&WB, &WA, to_peer, n_peer, "frames to the peer");
	check_wire(&WA, &WB, to_endpoint, n_endpoint, "frames into the endpoint's side");
	check_stats_delta(&p.st, c->expect == E_PROBE, c->expect == E_ERROR, 1);
	/* a path not found is the agent's to find (rtnetlink) */
	CHECK_EQ(need_l2_drain(&a.key, &n_need), c->expect == E_ERROR, "keys in need_l2");
	CHECK_EQ(n_need, c->expect == E_ERROR, "the session's key in need_l2");
	if (due_pop(&a.key))
		fail_msg("the key is still queued after the pass");
	h_drain();
	check_no_event(&a.key, p.ev0);

	if (c->expect == E_RST || (c->kind == K_DEAD) || c->kind == K_STOPPED) {
		if (h_lookup(&a.key, &after))
			fail_msg("session in the table after the pass (state %u)", after.state);
		return;
	}
	assert_true(h_lookup(&a.key, &after));
	want = before;
	if (c->expect == E_PROBE) {
		want.cnt.probes_sent++;
		if (c->l2 == L2_FIB) {	/* routed once, kept */
			want.have |= TKO_HAVE_L2;
			want.ifindex = (__u32)WA.ifindex;
			memcpy(want.lmac, A_MAC, 6);
			memcpy(want.rmac, NH_MAC, 6);
		}
	}
	check_session_eq(&after, &want);
}

/*
 * Known answers: two probes written out by hand (and checked with an
 * independent RFC 1071 implementation and tshark's checksum validation),
 * against both the test's frame builder and the program.
 */
static const uint8_t known_probe_v4_byte[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x29, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06,
	0x6e, 0xcc, 0x0a, 0x00, 0x00, 0x02, 0xc0, 0x00, 0x02, 0x01, 0xc7, 0x39,
	0x01, 0xbb, 0x1a, 0x2b, 0x3c, 0x4c, 0x5e, 0x6f, 0x70, 0x81, 0x50, 0x10,
	0x01, 0xf5, 0xf3, 0x7e, 0x00, 0x00, 0x00,
};

static const uint8_t known_probe_v6_ts_byte[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x21, 0x06, 0x40, 0xfd, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0x01, 0xc7, 0x3f, 0x01, 0xbb, 0x1a, 0x2b,
	0x3c, 0x4c, 0x5e, 0x6f, 0x70, 0x81, 0x80, 0x10, 0x01, 0xf5, 0x85, 0x4c,
	0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0xc0, 0xff, 0xee, 0x0b, 0xad,
	0xca, 0xfe, 0x00,
};

static const struct carrier_case *case_named(const char *name)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	fail_msg("no case %s", name);
	return NULL;
}

static void check_known_probe(const char *case_name, const uint8_t *known, size_t len)
{
	const struct carrier_case *c = case_named(case_name);
	struct tko_ctl_args a = case_args(c);
	struct frame want, k;

	expected_probe(&want, &a, c->l2);
	check_frame(want.b, want.len, known, len, "builder's probe");
	memcpy(k.b, known, len);
	k.len = len;
	pass_begin();
	due_push(&a.key);
	carrier_pass();
	check_wire(&WB, &WA, &k, 1, "program's probe");
}

static void test_known_probe_v4(void **state)
{
	check_known_probe("v4_probe_byte", known_probe_v4_byte, sizeof(known_probe_v4_byte));
}

static void test_known_probe_v6(void **state)
{
	check_known_probe("v6_ts_probe_byte", known_probe_v6_ts_byte,
			  sizeof(known_probe_v6_ts_byte));
}

/*
 * More keys than the budget: one pass emits TKO_CARRIER_BUDGET probes, in
 * queue order, and leaves the rest for the next pass. IPv4 and IPv6, zero
 * and byte probes alternate, so every frame is written over one of another
 * length.
 */
static unsigned budget_prof(size_t i)
{
	static const unsigned profs[] = { P_V4, P_V6 | P_TS, P_TS, P_V6 };

	return profs[i % 4];
}

static struct tko_ctl_args budget_args(size_t i)
{
	return shape_args(budget_prof(i), i % 3 == 1, L2_LEARNED, K_ACTIVE,
			  (uint16_t)(BUDGET_PORT0 + i));
}

static void test_budget(void **state)
{
	static struct frame want[BUDGET_N];
	struct tko_session s;
	struct pass p;
	size_t i;

	for (i = 0; i < BUDGET_N; i++) {
		struct tko_ctl_args a = budget_args(i);

		expected_probe(&want[i], &a, L2_LEARNED);
	}
	p = pass_begin();
	for (i = 0; i < BUDGET_N; i++) {
		struct tko_ctl_args a = budget_args(i);

		due_push(&a.key);
	}
	carrier_pass();
	check_wire(&WB, &WA, want, TKO_CARRIER_BUDGET, "first pass");
	check_stats_delta(&p.st, TKO_CARRIER_BUDGET, 0, 1);
	CHECK_EQ(need_l2_drain(NULL, NULL), 0, "keys in need_l2");

	carrier_pass();
	check_wire(&WB, &WA, want + TKO_CARRIER_BUDGET, BUDGET_N - TKO_CARRIER_BUDGET,
		   "second pass");
	check_stats_delta(&p.st, BUDGET_N, 0, 2);

	carrier_pass();
	check_wire(&WB, &WA, NULL, 0, "third pass");
	check_stats_delta(&p.st, BUDGET_N, 0, 3);

	for (i = 0; i < BUDGET_N; i++) {
		struct tko_ctl_args a = budget_args(i);

		assert_true(h_lookup(&a.key, &s));
		CHECK_EQ(s.cnt.probes_sent, 1, "cnt.probes_sent of each session");
	}
}

/* An empty queue: the carrier goes round, nothing else happens. */
static void test_idle_pass(void **state)
{
	struct pass p = pass_begin();

	carrier_pass();
	check_wire(&WB, &WA, NULL, 0, "frames to the peer");
	check_wire(&WA, &WB, NULL, 0, "frames into the endpoint's side");
	check_stats_delta(&p.st, 0, 0, 1);
}

/* A carrier frame longer than TKO_CARRIER_LEN goes round cut to it. */
static void test_long_carrier(void **state)
{
	uint8_t in[TKO_CARRIER_LEN + 36] = {}, out[FRAME_MAX];
	size_t out_len;
	struct pass p = pass_begin();

	carrier_frame(in, GEN);
	CHECK_EQ(carrier_run(in, sizeof(in), out, &out_len, NULL), TC_ACT_REDIRECT, "verdict");
	check_frame(out, out_len, in, TKO_CARRIER_LEN, "the carrier after the pass");
	check_stats_delta(&p.st, 0, 0, 1);
}

/*
 * Several kinds of keys in one pass, the same key twice among them: each
 * is served in turn; the RST's session is gone when its second key comes.
 */
static void test_mixed_pass(void **state)
{
	struct tko_ctl_args probe4 = budget_args(0), probe6 = budget_args(1);
	struct tko_ctl_args dead = shape_args(P_TS, false, L2_LEARNED, K_DEAD, PORT_MIX_DEAD);
	struct tko_ctl_args gone = case_args(&cases[0]);
	struct frame to_peer[3], to_endpoint[1];
	struct tko_session s0, s1, s;
	struct pass p;

	gone.key.lport = 1;	/* never started */
	assert_true(h_lookup(&probe4.key, &s0));
	assert_true(h_lookup(&probe6.key, &s1));
	expected_probe(&to_peer[0], &probe6, L2_LEARNED);
	expected_probe(&to_peer[1], &probe4, L2_LEARNED);
	expected_probe(&to_peer[2], &probe6, L2_LEARNED);
	expected_rst(&to_endpoint[0], &dead, L2_LEARNED);

	p = pass_begin();
	due_push(&probe6.key);
	due_push(&dead.key);
	due_push(&gone.key);
	due_push(&probe4.key);
	due_push(&dead.key);
	due_push(&probe6.key);
	carrier_pass();
	check_wire(&WB, &WA, to_peer, 3, "frames to the peer");
	check_wire(&WA, &WB, to_endpoint, 1, "frames into the endpoint's side");
	check_stats_delta(&p.st, 3, 0, 1);
	CHECK_EQ(need_l2_drain(NULL, NULL), 0, "keys in need_l2");
	CHECK_EQ(due_drain(), 0, "keys left in the queue");
	if (h_lookup(&dead.key, &s))
		fail_msg("the dead session is still in the table");
	assert_true(h_lookup(&probe4.key, &s));
	CHECK_EQ(s.cnt.probes_sent - s0.cnt.probes_sent, 1, "cnt.probes_sent of the key queued once");
	assert_true(h_lookup(&probe6.key, &s));
	CHECK_EQ(s.cnt.probes_sent - s1.cnt.probes_sent, 2, "cnt.probes_sent of the key queued twice");
}

/*
 * The fallback route goes only out of the agent's interfaces: with IF_C
 * alone in the carrier's list (a forwarding interface, but the route to the
 * peer is via IF_A), a handed-over session gets no probe and no L2; with
 * IF_A added, it does.
 */
static void test_fib_agent_ifaces(void **state)
{
	struct tko_ctl_args a = shape_args(P_V4, false, L2_FIB, K_ACTIVE, PORT_IFACES);
	int only_c[] = { ifindex_c, 0 }, none[] = { 0 };
	size_t n_need;
	struct frame want;
	struct tko_session s;
	struct pass p;

	expected_probe(&want, &a, L2_FIB);
	p = pass_begin();
	carrier_set((__u32)WB.ifindex, GEN, none);
	due_push(&a.key);
	carrier_pass();
	carrier_set((__u32)WB.ifindex, GEN, only_c);
	due_push(&a.key);
	carrier_pass();
	check_wire(&WB, &WA, NULL, 0, "frames with no usable interface");
	check_stats_delta(&p.st, 0, 2, 2);
	CHECK_EQ(need_l2_drain(&a.key, &n_need), 2, "keys in need_l2");
	CHECK_EQ(n_need, 2, "the session's keys in need_l2");
	assert_true(h_lookup(&a.key, &s));
	CHECK_EQ(s.have & TKO_HAVE_L2, 0, "L2 without a usable interface");

	carrier_default();
	due_push(&a.key);
	carrier_pass();
	check_wire(&WB, &WA, &want, 1, "frames with IF_A among the interfaces");
	check_stats_delta(&p.st, 1, 2, 3);
	CHECK_EQ(need_l2_drain(NULL, NULL), 0, "keys in need_l2 once routed");
}

/*
 * A key queued before the endpoint woke up: the session is SUSPENDED when
 * the carrier pops it, so no probe leaves.
 */
static void test_suspended_skipped(void **state)
{
	struct tko_ctl_args a = shape_args(P_V4, false, L2_LEARNED, K_ACTIVE, PORT_SUSPEND);
	struct seg_spec d = from_endpoint(P_V4, PORT_SUSPEND);
	struct __sk_buff ctx = { .ifindex = (__u32)WA.ifindex };
	struct tko_session before, after;
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;
	int verdict;
	struct pass p;

	d.flags = F_ACK | F_PSH;
	d.payload = 10;
	frame_build(&f, &d);
	assert_true(h_lookup(&a.key, &before));
	CHECK_EQ(before.state, TKO_ACTIVE, "state before the endpoint's data");
	p = pass_begin();
	due_push(&a.key);
	assert_int_equal(h_try_skb_prog(H.b.tc->progs.tko_tc_egress, f.b, f.len, &ctx, out,
					&out_len, &verdict), 0);
	assert_true(h_lookup(&a.key, &before));
	CHECK_EQ(before.state, TKO_SUSPENDED, "state after the endpoint's data");
	carrier_pass();
	check_wire(&WB, &WA, NULL, 0, "frames to the peer");
	check_stats_delta(&p.st, 0, 0, 1);
	assert_true(h_lookup(&a.key, &after));
	check_session_eq(&after, &before);
}

static int suspended_teardown(void **state)
{
	struct tko_key k = sess_key(P_V4, PORT_SUSPEND);
	struct tko_ctl_args args = { .key = k };
	int ret;

	/* its timer would resume it, and queue a probe, in a later test */
	ctl_run(H.b.ctl->progs.tko_stop, &args, &ret);
	due_drain();
	return 0;
}

/* ------------------------------------------------------ refused frames */

struct bad_case {
	const char *name;
	void (*mangle)(uint8_t *b, size_t *len);	/* the carrier frame */
	bool loop_zero;		/* carrier map: loop_ifindex 0 */
};

static void ethertype_other(uint8_t *b, size_t *len) { put16(b + 12, SENTINEL_TYPE); }
static void ethertype_ip(uint8_t *b, size_t *len) { put16(b + 12, ETHERTYPE_IP); }
static void magic_other(uint8_t *b, size_t *len) { b[17] ^= 1; }
static void magic_host_order(uint8_t *b, size_t *len)
{
	__u32 m = TKO_CARRIER_MAGIC;

	memcpy(b + 14, &m, 4);
}
static void generation_old(uint8_t *b, size_t *len)
{
	__u32 g = GEN - 1;

	memcpy(b + 18, &g, 4);
}
static void generation_swapped(uint8_t *b, size_t *len)
{
	__u32 g = htonl(GEN);

	memcpy(b + 18, &g, 4);
}
static void cut_14(uint8_t *b, size_t *len) { *len = ETH_HDR_LEN; }
static void cut_hdr_minus_1(uint8_t *b, size_t *len) { *len = CARRIER_HDR_LEN - 1; }

static const struct bad_case bad_cases[] = {
	{ "refused_ethertype_other", ethertype_other },
	{ "refused_ethertype_ipv4", ethertype_ip },
	{ "refused_magic_other", magic_other },
	{ "refused_magic_host_order", magic_host_order },
	{ "refused_generation_stale", generation_old },
	{ "refused_generation_byte_swapped", generation_swapped },
	{ "refused_cut_to_14_bytes", cut_14 },
	{ "refused_cut_to_header_minus_1", cut_hdr_minus_1 },
	{ "refused_loop_ifindex_0", NULL, true },
};

#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

/*
 * Anything but the current carrier is dropped (tko1 is private) before the
 * queue is touched: the key pushed first is still there, nothing was sent,
 * no pass counted.
 */
static void run_bad_case(void **state)
{
	const struct bad_case *c = *state;
	struct tko_key k = sess_key(P_V4, PORT_GUARD), popped;
	uint8_t in[TKO_CARRIER_LEN], out[FRAME_MAX];
	size_t len = sizeof(in), out_len;
	uint64_t passes;
	struct pass p;

	carrier_frame(in, GEN);
	if (c->mangle)
		c->mangle(in, &len);
	p = pass_begin();
	if (c->loop_zero)
		carrier_set(0, GEN, NULL);
	passes = carrier_get().passes;
	due_push(&k);
	CHECK_EQ(carrier_run(in, len, out, &out_len, NULL), TC_ACT_SHOT, "verdict");
	carrier_default();
	check_frame(out, out_len, in, len, "frame after the run");
	check_wire(&WB, &WA, NULL, 0, "frames to the peer");
	check_stats_delta(&p.st, 0, 0, 0);
	CHECK_EQ(carrier_get().passes, passes, "carrier passes");
	assert_true(due_pop(&popped));
	if (!key_eq(&popped, &k))
		fail_msg("the queue holds another key");
	CHECK_EQ(due_drain(), 0, "keys left in the queue");
}

/* Every cut of the carrier's header is refused. */
static void test_cut_headers(void **state)
{
	uint8_t in[TKO_CARRIER_LEN], out[FRAME_MAX];
	struct tko_key k = sess_key(P_V4, PORT_GUARD);
	size_t len, out_len;
	struct pass p;

	carrier_frame(in, GEN);
	p = pass_begin();
	due_push(&k);
	for (len = ETH_HDR_LEN; len < (size_t)CARRIER_HDR_LEN; len++)
		CHECK_EQ(carrier_run(in, len, out, &out_len, NULL), TC_ACT_SHOT, "verdict of a cut");
	check_stats_delta(&p.st, 0, 0, 0);
	CHECK_EQ(due_drain(), 1, "keys left in the queue");
}

/* ------------------------------------------------------------- the group */

static int group_setup(void **state)
{
	struct tko_key active[NCASES + BUDGET_N + 2], dead[NCASES + 1];
	size_t i, na = 0, nd = 0;

	if (netns_setup() || h_load(NCASES + BUDGET_N + 16))
		goto fail;
	carrier_default();
	for (i = 0; i < NCASES; i++) {
		const struct carrier_case *c = &cases[i];
		struct tko_ctl_args a = case_args(c);

		if (start_session(&a, c->l2))
			goto fail_loaded;
		if (c->kind == K_ACTIVE)
			active[na++] = a.key;
		else if (c->kind == K_DEAD)
			dead[nd++] = a.key;
		else if (c->kind == K_STOPPED && h_stop(&a.key))
			goto fail_loaded;
	}
	for (i = 0; i < BUDGET_N; i++) {
		struct tko_ctl_args a = budget_args(i);

		if (start_session(&a, L2_LEARNED))
			goto fail_loaded;
		active[na++] = a.key;
	}
	{
		struct tko_ctl_args g = shape_args(P_V4, false, L2_LEARNED, K_ACTIVE, PORT_GUARD);
		struct tko_ctl_args s = shape_args(P_V4, false, L2_LEARNED, K_ACTIVE, PORT_SUSPEND);
		struct tko_ctl_args d = shape_args(P_TS, false, L2_LEARNED, K_DEAD, PORT_MIX_DEAD);
		struct tko_ctl_args f = shape_args(P_V4, false, L2_FIB, K_ACTIVE, PORT_IFACES);

		if (start_session(&g, L2_LEARNED) || start_session(&s, L2_LEARNED) ||
		    start_session(&d, L2_LEARNED) || start_session(&f, L2_FIB))
			goto fail_loaded;
		active[na++] = g.key;
		active[na++] = s.key;
		active[na++] = f.key;
		dead[nd++] = d.key;
	}
	if (!h_wait_state(active, na, TKO_ACTIVE) || !h_wait_state(dead, nd, TKO_PEER_DEAD))
		goto fail_loaded;
	h_drain();
	due_drain();	/* the probes the timers queued: each test pushes its own */
	return 0;
fail_loaded:
	h_destroy();
fail:
	netns_teardown();
	return -1;
}

static int group_teardown(void **state)
{
	h_destroy();
	netns_teardown();
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[NCASES + NBAD + 10];
	size_t i, n = 0;

	for (i = 0; i < NCASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	tests[n++] = (struct CMUnitTest){ "known_probe_v4_byte", test_known_probe_v4 };
	tests[n++] = (struct CMUnitTest){ "known_probe_v6_ts_byte", test_known_probe_v6 };
	tests[n++] = (struct CMUnitTest){ "idle_pass", test_idle_pass };
	tests[n++] = (struct CMUnitTest){ "long_carrier_restored", test_long_carrier };
	tests[n++] = (struct CMUnitTest){ "budget_per_pass", test_budget };
	tests[n++] = (struct CMUnitTest){ "mixed_pass", test_mixed_pass };
	tests[n++] = (struct CMUnitTest){ "fib_only_agent_interfaces", test_fib_agent_ifaces };
	tests[n++] = (struct CMUnitTest){ .name = "suspended_skipped",
					  .test_func = test_suspended_skipped,
					  .teardown_func = suspended_teardown };
	for (i = 0; i < NBAD; i++)
		tests[n++] = (struct CMUnitTest){ .name = bad_cases[i].name,
						  .test_func = run_bad_case,
						  .initial_state = (void *)&bad_cases[i] };
	tests[n++] = (struct CMUnitTest){ "refused_every_cut_header", test_cut_headers };
	return _cmocka_run_group_tests("prog_carrier", tests, n, group_setup, group_teardown);
}
