// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of tko_carrier (bpf/carrier.bpf.c): due sessions in,
 * byte-exact frames out. A test makes a session due (a fixture: its last
 * probe, or the start of its answer wait, moved back by one wait) and posts
 * a request for it, as the other programs do; the carrier frame is run
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
 * Between tests every session is parked (its next deadline an hour away),
 * so that only the session a test makes due can send anything. prog_clock
 * tests the clock itself (when sessions are due, the hold, the budget).
 *
 * The namespace is the test process's own (unshare(CLONE_NEWNET)): it and
 * its devices disappear with the process, whatever happens; the group
 * teardown removes the veth pairs too. No host interface is ever touched.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <poll.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
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
#define CARRIER_OUT_MAX	65536		/* the longest hold fits */
#define TICK_NS		(TKO_TICK_MS_DEFAULT * 1000000ULL)
/* The sessions' waits (interval, retry interval): short, so that a
 * fixture can put their deadline a wait back without underflow. */
#define WAIT_S		1
#define PARK_NS		(3600 * NSEC_PER_SEC)

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
	int one = 1;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) ||
	    (marked && setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog))) ||
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
	size_t l2 = ETH_HDR_LEN;
	uint16_t type = get16(b + 12);

	if (len >= ETH_HDR_LEN + VLAN_TAG_LEN && (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ)) {
		type = get16(b + 16);
		l2 += VLAN_TAG_LEN;
	}
	if (len >= l2 + IP4_HDR_LEN && type == ETHERTYPE_IP)
		return b[l2 + 9] == PROTO_TCP;
	if (len >= l2 + IP6_HDR_LEN && type == ETHERTYPE_IPV6)
		return b[l2 + 6] == PROTO_TCP;
	return false;
}

/*
 * A frame's 802.1Q tag travels out of band (the skb's offloaded tag, as the
 * carrier pushes it): a packet socket gets it in PACKET_AUXDATA. Put it back
 * in the frame where it would be on the wire, as tcpdump does.
 */
static ssize_t with_vlan_tag(uint8_t *b, ssize_t len, size_t cap, struct msghdr *m)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		struct tpacket_auxdata aux;
		uint16_t tpid;

		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
			continue;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || len < 12 ||
		    (size_t)len + VLAN_TAG_LEN > cap)
			return len;
		tpid = aux.tp_status & TP_STATUS_VLAN_TPID_VALID ? aux.tp_vlan_tpid : ETHERTYPE_VLAN;
		memmove(b + 12 + VLAN_TAG_LEN, b + 12, (size_t)len - 12);
		put16(b + 12, tpid);
		put16(b + 14, aux.tp_vlan_tci);
		return len + VLAN_TAG_LEN;
	}
	return len;
}

/* Read fd until the sentinel seq: the TCP frames received before it go to r. */
static void read_until_sentinel(int fd, const char *what, uint32_t seq, struct rx *r)
{
	uint64_t deadline = now_ns() + RX_DEADLINE_MS * 1000000ULL;
	uint8_t b[FRAME_MAX];

	r->n = 0;
	for (;;) {
		struct sockaddr_ll sll;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} ctl;
		struct iovec iov = { b, sizeof(b) - VLAN_TAG_LEN };
		struct msghdr m = { .msg_name = &sll, .msg_namelen = sizeof(sll), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = ctl.buf,
				    .msg_controllen = sizeof(ctl.buf) };
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t len = recvmsg(fd, &m, 0);
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
		len = with_vlan_tag(b, len, sizeof(b), &m);
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

/* The carrier's control block, its pass count and tick kept; ifaces: 0-terminated. */
static void carrier_set(__u32 loop_ifindex, __u32 generation, const int *ifaces)
{
	struct tko_carrier_state c = carrier_get();
	__u32 zero = 0;
	size_t i;

	c.loop_ifindex = loop_ifindex;
	c.generation = generation;
	memset(c.ifindex, 0, sizeof(c.ifindex));
	for (i = 0; ifaces && ifaces[i] && i < TKO_MAX_IFACES; i++) {
		c.ifindex[i] = (__u32)ifaces[i];
		h_iface_set((__u32)ifaces[i], TKO_ANSWER_XDP, false);
	}
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(H.b.ctl->maps.carrier), &zero, &c,
					     BPF_ANY), 0);
}

/* The agent's interfaces: IF_C (no route to any peer) first, then IF_A. */
static void carrier_default(void)
{
	int ifaces[] = { ifindex_c, WA.ifindex, 0 };

	carrier_set((__u32)WB.ifindex, GEN, ifaces);
}

static struct tko_wheel_clock clock_get(void)
{
	struct tko_wheel_clock w;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.clock), &zero, &w), 0);
	return w;
}

static struct tko_session sess_get(__u32 id)
{
	struct tko_session s;

	if (bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.sessions), &id, &s))
		fail_msg("cannot read session %u: %s", id, strerror(errno));
	return s;
}

static __u32 id_of(const struct tko_key *k)
{
	__u32 id;

	if (!h_find(k, &id, NULL))
		fail_msg("no session of port %u", k->lport);
	return id;
}

static int requests_fd(void)
{
	return bpf_map__fd(H.b.ctl->maps.requests);
}

static bool queue_empty(void)
{
	__u32 id;

	return bpf_map_lookup_elem(requests_fd(), NULL, &id) != 0;
}

/* Queue id for the clock as it is, whatever its request flag says. */
static void request_push(__u32 id)
{
	if (bpf_map_update_elem(requests_fd(), NULL, &id, BPF_ANY))
		fail_msg("cannot queue a request: %s", strerror(errno));
}

/* Ask the clock to look at session id, as the programs do (sched_request). */
static void request(__u32 id)
{
	struct tko_session s = sess_get(id);

	if (s.clock.req)
		return;	/* queued already */
	s.clock.req = 1;
	h_write(id, &s);
	request_push(id);
}

/* The ids in the request queue, oldest first, taken out; their flags cleared. */
static size_t requests_take(__u32 *ids, size_t max)
{
	size_t n = 0;
	__u32 id;

	while (!bpf_map_lookup_and_delete_elem(requests_fd(), NULL, &id)) {
		struct tko_session s = sess_get(id);

		s.clock.req = 0;
		h_write(id, &s);
		if (n < max)
			ids[n] = id;
		n++;
	}
	return n;
}

/*
 * A fixture: put session id's deadline (next probe, or the end of its
 * answer wait) at `deadline` and ask the clock to look at it. The clock
 * must be idle. Both waits of every session here are WAIT_S.
 */
static void set_deadline(__u32 id, uint64_t deadline)
{
	struct tko_session s = sess_get(id);

	s.probe_ns = deadline - WAIT_S * NSEC_PER_SEC;
	h_write(id, &s);
	request(id);
}

/* Due now: the next pass serves it, not late. */
static void make_due(__u32 id)
{
	set_deadline(id, now_ns());
}

/* An hour away: no pass of the tests serves it. */
static void park(__u32 id)
{
	set_deadline(id, now_ns() + PARK_NS);
}

/*
 * Park every ACTIVE session due within the hour, stop every SUSPENDED one
 * (its re-arm would probe): between tests nothing is due.
 */
static void park_all(void)
{
	struct tko_table tb = h_table();
	__u32 n = tb.fresh < tb.max_sessions ? tb.fresh : tb.max_sessions, id;
	uint64_t now = now_ns();

	for (id = 0; id < n; id++) {
		struct tko_session s = sess_get(id);

		if (s.state == TKO_ACTIVE && s.next_ns < now + PARK_NS / 2)
			park(id);
		else if (s.state == TKO_SUSPENDED)
			CHECK_EQ(h_stop(&s.key), 0, "stop of a suspended session");
	}
}

static int park_teardown(void **state)
{
	(void)state;
	park_all();
	return 0;
}

/*
 * Empty the need_l2 queue (sessions the agent must find a path for), each
 * answered as the agent does when it finds none (tko_set_l2 without a
 * path: the entry may ask again); how many ids it held, and how many of
 * them were id.
 */
static size_t need_l2_drain(__u32 want, size_t *of_id)
{
	size_t n = 0;
	__u32 id;
	int ret;

	if (of_id)
		*of_id = 0;
	while (!bpf_map_lookup_and_delete_elem(bpf_map__fd(H.b.ctl->maps.need_l2), NULL, &id)) {
		struct tko_ctl_args a = { .id = id };

		n++;
		if (of_id && id == want)
			(*of_id)++;
		a.key = sess_get(id).key;
		ctl_run(H.b.ctl->progs.tko_set_l2, &a, &ret);
	}
	return n;
}

/* Run the carrier program on in[0..len); *mark: skb->mark after the run. */
static int carrier_run(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len, __u32 *mark)
{
	struct __sk_buff ctx = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = CARRIER_OUT_MAX, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx, .ctx_size_out = sizeof(ctx),
		    .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(H.b.carrier->progs.tko_carrier), &o);

	if (err)
		fail_msg("BPF_PROG_RUN carrier (%zu bytes): %s", len, strerror(-err));
	*out_len = o.data_size_out;
	if (mark)
		*mark = ctx.mark;
	return (int)o.retval;
}

struct carrier_stats {
	uint64_t sent, errors, passes, dead;
};

/* Probes that could not leave (no path), and resets the device did not take. */
static struct carrier_stats carrier_stats(void)
{
	struct carrier_stats s = {
		.sent = h_stat(TKO_ST_PROBES_SENT),
		.errors = h_stat(TKO_ST_PROBES_NO_PATH) + h_stat(TKO_ST_EMIT_ERRORS),
		.passes = h_stat(TKO_ST_CARRIER_PASSES),
		.dead = h_stat(TKO_ST_PEER_DEAD),
	};
	return s;
}

static void check_stats_delta(const struct carrier_stats *b, uint64_t sent, uint64_t errors,
			      uint64_t passes)
{
	struct carrier_stats a = carrier_stats();

	CHECK_EQ(a.sent - b->sent, sent, "stats probes_sent");
	CHECK_EQ(a.errors - b->errors, errors, "stats probes_no_path + emit_errors");
	CHECK_EQ(a.passes - b->passes, passes, "stats carrier_passes");
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / NSEC_PER_SEC), (long)(t % NSEC_PER_SEC) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Before a pass: quiet wires, no path request, counters noted. */
struct pass {
	struct carrier_stats st;
	size_t ev0;
};

static struct pass pass_begin(void)
{
	struct pass p;

	if (!queue_empty())
		h_pass();	/* the parking of the last test's sessions */
	need_l2_drain(0, NULL);
	wire_flush();
	p.st = carrier_stats();
	h_drain();
	p.ev0 = H.nev;
	/* A pass takes the ticks since the last one: start a new tick, so
	 * that a session made due now is filed under a tick still to take. */
	sleep_until((now_ns() / TICK_NS + 1) * TICK_NS + 20000);
	return p;
}

/*
 * What goes round after a pass: the carrier's header, then zeros (no byte
 * of a probe, nor of what came in), as long as the hold the pass chose
 * (clock.hold_len), between the header and the longest frame.
 */
static void check_carrier_out(const uint8_t *out, size_t out_len, const uint8_t *in)
{
	size_t i;

	check_frame(out, CARRIER_HDR_LEN, in, CARRIER_HDR_LEN, "the carrier's header after the pass");
	for (i = CARRIER_HDR_LEN; i < out_len; i++)
		if (out[i])
			fail_msg("byte %zu of the carrier after the pass is 0x%02x", i, out[i]);
	CHECK_EQ(out_len, clock_get().hold_len, "the carrier's length: the clock's hold");
	if (out_len < (size_t)CARRIER_HDR_LEN || out_len > TKO_CARRIER_MAX_FRAME)
		fail_msg("the carrier's length %zu is out of bounds", out_len);
}

/*
 * One valid pass: TC_ACT_REDIRECT (to loop_ifindex: BPF_PROG_RUN only
 * returns the verdict), the carrier restored, mark cleared, the pass
 * counted.
 */
static void carrier_pass(void)
{
	static uint8_t out[CARRIER_OUT_MAX];
	uint8_t in[TKO_CARRIER_LEN];
	struct tko_carrier_state before = carrier_get(), after;
	size_t out_len;
	__u32 mark = 0;
	uint64_t t0, t1;

	carrier_frame(in, GEN);
	t0 = now_ns();
	CHECK_EQ(carrier_run(in, sizeof(in), out, &out_len, &mark), TC_ACT_REDIRECT,
		 "verdict of the carrier");
	t1 = now_ns();
	check_carrier_out(out, out_len, in);
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
	K_STOPPED,	/* tko_stop'ed: its request outlives it */
	K_DEAD,		/* its last probe unanswered (retries 1), --on-dead reset */
};

enum expect {
	E_PROBE,	/* a probe out of IF_A */
	E_RST,		/* a RST into IF_A, the session freed */
	E_NOTHING,	/* no frame, no error */
	E_ERROR,	/* no frame, emit_errors + 1 */
};

struct carrier_case {
	const char *name;
	unsigned prof;		/* P_V6, P_TS, P_WRAP, P_VLAN (learned from a tagged frame) */
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
	/* on the endpoint's VLAN: the tag offloaded in the skb, as the stack sends it */
	{ "v4_vlan_probe", P_VLAN, false, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
	{ "v6_ts_vlan_probe_byte", P_V6 | P_TS | P_VLAN, true, 0, L2_LEARNED, K_ACTIVE, E_PROBE },
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
	/* requests for sessions that are not (or no longer) ACTIVE */
	{ "v4_learning_skipped", P_V4, false, 0, L2_LEARNED, K_LEARNING, E_NOTHING },
	{ "v4_learning_no_route_skipped", P_V4, false, 0, L2_NO_ROUTE, K_LEARNING, E_NOTHING },
	{ "v4_stopped_skipped", P_V4, false, 0, L2_LEARNED, K_STOPPED, E_NOTHING },
	{ "v6_stopped_skipped", P_V6 | P_TS, false, 0, L2_FIB, K_STOPPED, E_NOTHING },
	/* the answer wait of the last retry over, --on-dead reset: a RST "from the peer" into IF_A */
	{ "v4_dead_reset", P_V4, false, 0, L2_LEARNED, K_DEAD, E_RST },
	{ "v6_ts_dead_reset", P_V6 | P_TS, false, 0, L2_LEARNED, K_DEAD, E_RST },
	{ "v4_vlan_dead_reset", P_VLAN, false, 0, L2_LEARNED, K_DEAD, E_RST },
	{ "v4_ts_dead_reset_fib", P_TS, true, 0, L2_FIB, K_DEAD, E_RST },
	{ "v6_dead_reset_fib", P_V6, false, 0, L2_FIB, K_DEAD, E_RST },
	{ "v4_ts_clock_ms_dead_reset_given_l2", P_TS, false, TKO_TS_CLOCK_MS, L2_GIVEN, K_DEAD,
	  E_RST },
	{ "v4_dead_reset_no_route", P_V4, false, 0, L2_NO_ROUTE, K_DEAD, E_ERROR },
};

#define NCASES		(sizeof(cases) / sizeof(cases[0]))
#define CASE_PORT0	51000
#define MANY_N		40
#define MANY_PORT0	52000
enum {
	PORT_GUARD = 53000,	/* ACTIVE, learned: the request posted before refused frames */
	PORT_SUSPEND,		/* ACTIVE, then suspended by the endpoint's data */
	PORT_MIX_DEAD,		/* its last probe unanswered, --on-dead reset, in a mixed pass */
	PORT_IFACES,		/* handed over: routed only over the agent's interfaces */
	PORT_LINK_A,		/* ACTIVE, path given on IF_A: the links that fail */
	PORT_LINK_C,		/* ACTIVE, path given on IF_C */
	PORT_LINK_NEW,		/* LEARNING until a test makes it idle, path given on IF_A */
};

/* The session ids of the cases, found once they are started. */
static __u32 case_id[NCASES];

static uint16_t case_port(const struct carrier_case *c)
{
	return (uint16_t)(CASE_PORT0 + (c - cases));
}

/* What tko_start is given for a session of this shape. */
static struct tko_ctl_args shape_args(unsigned prof, bool byte, enum l2 l2, enum kind kind,
				      uint16_t port)
{
	struct tko_ctl_args a = sess_args((prof & ~P_VLAN) |
					  (kind == K_LEARNING ? P_LEARNING : 0), port);
	bool v6 = prof & P_V6;

	a.cfg.interval_s = WAIT_S;
	a.cfg.retry_interval_s = WAIT_S;
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

/*
 * The endpoint's in-sync pure ACK leaving through IF_A (on VLAN_ID, vlan):
 * TC egress learns L2 from it.
 */
static int teach_l2(const struct tko_ctl_args *a, bool vlan)
{
	struct seg_spec e = from_endpoint(vlan ? P_VLAN : P_V4, a->key.lport);
	struct __sk_buff ctx = { .ifindex = (__u32)WA.ifindex };
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;
	int verdict;

	e.v6 = a->key.family == TKO_AF_INET6;
	e.ts = a->have & TKO_HAVE_TS;
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

static int start_session(const struct tko_ctl_args *a, enum l2 l2, bool vlan)
{
	int ret = h_start_fixture(H.b.ctl->progs.tko_start, a);

	if (ret) {
		fprintf(stderr, "cannot start the session of port %u: %d\n", a->key.lport, ret);
		return -1;
	}
	return l2 == L2_LEARNED ? teach_l2(a, vlan) : 0;
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
 * rules"): ACK, seq = SND.UNA - 1 (nothing in flight: SND.NXT - 1), ack =
 * RCV.NXT, the endpoint's raw window, no payload or one zero byte, TSopt iff
 * the session uses it (TSval = the endpoint's last, TSecr = the peer's
 * last), IPv4 id 0 + DF, TTL/hop limit 64, the endpoint's DSCP and flow
 * label as learned from its segments (none if none was seen), never ECT,
 * no Ethernet padding; on the endpoint's VLAN if it has one.
 */
static void expected_probe(struct frame *f, const struct tko_ctl_args *a, enum l2 l2, bool vlan)
{
	struct seg_spec s = {
		.v6 = a->key.family == TKO_AF_INET6,
		.vlan_proto = vlan ? ETHERTYPE_VLAN : 0,
		.vlan_id = vlan ? VLAN_ID : 0,
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
		.tos = l2 == L2_LEARNED ? ENDPOINT_TOS_SENT : 0,
		.flow = l2 == L2_LEARNED && a->key.family == TKO_AF_INET6 ? ENDPOINT_FLOW : 0,
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
 * window 0, no options (RSTs are exempt from PAWS); on the endpoint's VLAN.
 */
static void expected_rst(struct frame *f, const struct tko_ctl_args *a, enum l2 l2, bool vlan)
{
	struct seg_spec s = {
		.v6 = a->key.family == TKO_AF_INET6,
		.vlan_proto = vlan ? ETHERTYPE_VLAN : 0,
		.vlan_id = vlan ? VLAN_ID : 0,
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

/*
 * The whole session, field by field where it matters, then every byte but
 * the clock's filing (checked by the caller, and by prog_clock).
 */
static void check_session_eq(const struct tko_session *got, const struct tko_session *want)
{
	struct tko_session w = *want;

	check_session_fixed(got, want);
	check_tcp_state(&got->tcp, &want->tcp);
	check_counters(&got->cnt, &want->cnt);
	CHECK_EQ(got->state, want->state, "state");
	CHECK_EQ(got->have, want->have, "have");
	CHECK_EQ(got->probe_ns, want->probe_ns, "probe_ns");
	CHECK_EQ(got->next_ns, want->next_ns, "next_ns");
	check_l2(got, want);
	CHECK_EQ(got->clock.req, 0, "clock.req after the pass");
	w.clock = got->clock;
	if (memcmp(got, &w, sizeof(*got)))
		fail_msg("session changed beyond the expected fields");
}

/* After its probe, a session is filed for its next deadline. */
static void check_filed(const struct tko_session *s)
{
	if (!s->clock.list)
		fail_msg("the session is on no list of the wheel");
	CHECK_EQ(s->clock.due_tick, s->next_ns / TICK_NS, "the tick it is filed under");
}

/*
 * A local socket's probe: its TSval is the TCP clock at emission plus the
 * socket's tsoffset (what the socket itself would send). Read back, it must
 * fall within the pass [t0, t1]; then the whole frame is checked with it.
 */
static void check_clock_probe(struct tko_ctl_args *a, enum l2 l2, bool vlan, uint64_t t0,
			      uint64_t t1)
{
	static struct rx all, marked;
	uint64_t div = a->tcp.ts_clock == TKO_TS_CLOCK_US ? 1000 : 1000000;
	uint32_t lo = (uint32_t)(t0 / div) + a->tcp.ts_offset;
	uint32_t hi = (uint32_t)(t1 / div) + a->tcp.ts_offset, tsval;
	size_t off = ETH_HDR_LEN + (vlan ? VLAN_TAG_LEN : 0) +
		     (a->key.family == TKO_AF_INET6 ? IP6_HDR_LEN : IP4_HDR_LEN) +
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
	expected_probe(&want, a, l2, vlan);
	check_rx_both(&all, &marked, &want, 1, "frames to the peer");
}

/*
 * One case: the session made due (or, not ACTIVE, just requested), one
 * pass, then exactly the frames expected on both sides, the counters, the
 * path request of a session the carrier could not route, the session's
 * entry (its probe counted, its next deadline filed) or its end.
 */
static void run_case(void **state)
{
	const struct carrier_case *c = *state;
	struct tko_ctl_args a = case_args(c);
	__u32 id = case_id[c - cases];
	bool vlan = c->prof & P_VLAN;
	struct tko_session before, after, want;
	struct frame to_peer[1], to_endpoint[1];
	size_t n_peer = 0, n_endpoint = 0, n_need;
	struct tko_event e;
	uint64_t t0, t1;
	struct pass p;

	before = sess_get(id);
	if (c->kind == K_STOPPED) {
		CHECK_EQ(before.state, TKO_FREE, "entry of a stopped session");
		if (h_find(&a.key, NULL, NULL))
			fail_msg("a stopped session is in the table");
	} else {
		static const __u8 kind_state[] = { [K_ACTIVE] = TKO_ACTIVE,
						   [K_LEARNING] = TKO_LEARNING,
						   [K_DEAD] = TKO_ACTIVE };

		CHECK_EQ(id_of(&a.key), id, "the session's id");
		CHECK_EQ(before.state, kind_state[c->kind], "state before the pass");
		CHECK_EQ(!!(before.have & TKO_HAVE_L2), c->l2 <= L2_GIVEN, "L2 before the pass");
		if (c->l2 <= L2_GIVEN)	/* the context of the TC run, or the start's */
			CHECK_EQ(before.ifindex, WA.ifindex, "ifindex before the pass");
		CHECK_EQ(before.vlan_tci, vlan ? VLAN_ID : 0, "vlan_tci before the pass");
		CHECK_EQ(before.tcp.ts_clock, c->ts_clock, "tcp.ts_clock");
		if (c->kind == K_DEAD)
			CHECK_EQ(before.cnt.unanswered, before.cfg.retries, "unanswered: retries reached");
	}
	if (c->expect == E_PROBE)
		expected_probe(&to_peer[n_peer++], &a, c->l2, vlan);
	if (c->expect == E_RST)
		expected_rst(&to_endpoint[n_endpoint++], &a, c->l2, vlan);

	p = pass_begin();
	if (c->kind == K_ACTIVE || c->kind == K_DEAD)
		make_due(id);
	else
		request(id);
	before = sess_get(id);
	before.clock.req = 0;
	t0 = now_ns();
	carrier_pass();
	t1 = now_ns();
	if (c->expect == E_PROBE && c->ts_clock)
		check_clock_probe(&a, c->l2, vlan, t0, t1);
	else
		check_wire(&WB, &WA, to_peer, n_peer, "frames to the peer");
	check_wire(&WA, &WB, to_endpoint, n_endpoint, "frames into the endpoint's side");
	check_stats_delta(&p.st, c->expect == E_PROBE, c->expect == E_ERROR, 1);
	CHECK_EQ(carrier_stats().dead - p.st.dead, c->kind == K_DEAD, "stats peer_dead");
	/* a path not found is the agent's to find (rtnetlink) */
	CHECK_EQ(need_l2_drain(id, &n_need), c->expect == E_ERROR, "ids in need_l2");
	CHECK_EQ(n_need, c->expect == E_ERROR, "the session's id in need_l2");
	CHECK_EQ(queue_empty(), 1, "requests left after the pass");
	h_drain();
	after = sess_get(id);

	if (c->kind == K_DEAD) {
		/* its last probe (before the test, with no interface to route
		 * by) could not leave if it had no path given: said so */
		check_one_event(&a.key, p.ev0, TKO_EV_PEER_DEAD,
				c->l2 > L2_GIVEN ? TKO_R_NO_PATH : TKO_R_RETRIES, &e);
		CHECK_EQ(e.state, TKO_PEER_DEAD, "state in peer_dead");
		CHECK_EQ(after.state, TKO_FREE, "the dead session's entry");
		CHECK_EQ(after.clock.list, 0, "the dead session's list");
		if (h_find(&a.key, NULL, NULL))
			fail_msg("the dead session is still in the table");
		return;
	}
	check_no_event(&a.key, p.ev0);
	if (c->kind == K_STOPPED) {
		if (memcmp(&after, &before, sizeof(after)))
			fail_msg("the entry of a stopped session changed");
		return;
	}
	want = before;
	if (c->kind == K_ACTIVE) {
		/* sent or not, a probe is out: counted unanswered */
		want.cnt.probes_sent += c->expect == E_PROBE;
		want.cnt.unanswered++;
		if (after.probe_ns < t0 || after.probe_ns > t1)
			fail_msg("probe_ns not the time of the pass");
		want.probe_ns = after.probe_ns;
		want.next_ns = after.probe_ns + WAIT_S * NSEC_PER_SEC;
		/* why it did not leave, or 0 */
		want.fail = c->expect == E_ERROR ? TKO_R_NO_PATH : 0;
		if (c->l2 == L2_FIB) {	/* routed once, kept */
			want.have |= TKO_HAVE_L2;
			want.ifindex = (__u32)WA.ifindex;
			memcpy(want.lmac, A_MAC, 6);
			memcpy(want.rmac, NH_MAC, 6);
		}
		check_filed(&after);
	}
	check_session_eq(&after, &want);
}

/*
 * Known answers: two probes written out by hand (and checked with an
 * independent RFC 1071 implementation and tshark's checksum validation),
 * against both the test's frame builder and the program. Both carry the
 * endpoint's DSCP AF11 (not ECT), the IPv6 one its flow label 0x54321.
 */
static const uint8_t known_probe_v4_byte[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x28, 0x00, 0x29, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06,
	0x6e, 0xa4, 0x0a, 0x00, 0x00, 0x02, 0xc0, 0x00, 0x02, 0x01, 0xc7, 0x39,
	0x01, 0xbb, 0x1a, 0x2b, 0x3c, 0x4c, 0x5e, 0x6f, 0x70, 0x81, 0x50, 0x10,
	0x01, 0xf5, 0xf3, 0x7e, 0x00, 0x00, 0x00,
};

static const uint8_t known_probe_v6_ts_byte[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x86, 0xdd, 0x62, 0x85, 0x43, 0x21, 0x00, 0x21, 0x06, 0x40, 0xfd, 0x00,
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

	expected_probe(&want, &a, c->l2, false);
	check_frame(want.b, want.len, known, len, "builder's probe");
	memcpy(k.b, known, len);
	k.len = len;
	pass_begin();
	make_due(case_id[c - cases]);
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
 * Many sessions due in one pass: one probe each, in the order their
 * requests came (they share a tick). IPv4 and IPv6, zero and byte probes
 * alternate, so every frame is written over one of another length.
 * prog_clock tests what is left when more are due than a pass takes.
 */
static unsigned many_prof(size_t i)
{
	static const unsigned profs[] = { P_V4, P_V6 | P_TS, P_TS, P_V6 };

	return profs[i % 4];
}

static struct tko_ctl_args many_args(size_t i)
{
	return shape_args(many_prof(i), i % 3 == 1, L2_LEARNED, K_ACTIVE,
			  (uint16_t)(MANY_PORT0 + i));
}

static void test_many_in_one_pass(void **state)
{
	static struct frame want[MANY_N];
	struct tko_session before[MANY_N], s;
	struct pass p;
	size_t i;

	for (i = 0; i < MANY_N; i++) {
		struct tko_ctl_args a = many_args(i);

		expected_probe(&want[i], &a, L2_LEARNED, false);
		before[i] = sess_get(id_of(&a.key));
	}
	p = pass_begin();
	for (i = 0; i < MANY_N; i++) {
		struct tko_ctl_args a = many_args(i);

		make_due(id_of(&a.key));
	}
	carrier_pass();
	check_wire(&WB, &WA, want, MANY_N, "frames of one pass");
	check_stats_delta(&p.st, MANY_N, 0, 1);
	CHECK_EQ(need_l2_drain(0, NULL), 0, "ids in need_l2");

	carrier_pass();
	check_wire(&WB, &WA, NULL, 0, "frames of the next pass");
	check_stats_delta(&p.st, MANY_N, 0, 2);
	for (i = 0; i < MANY_N; i++) {
		struct tko_ctl_args a = many_args(i);

		s = sess_get(id_of(&a.key));
		CHECK_EQ(s.cnt.probes_sent - before[i].cnt.probes_sent, 1,
			 "cnt.probes_sent of each session");
		check_filed(&s);
	}
}

/* Nothing due: the carrier goes round, nothing else happens. */
static void test_idle_pass(void **state)
{
	struct pass p = pass_begin();

	carrier_pass();
	check_wire(&WB, &WA, NULL, 0, "frames to the peer");
	check_wire(&WA, &WB, NULL, 0, "frames into the endpoint's side");
	check_stats_delta(&p.st, 0, 0, 1);
}

/*
 * A carrier frame longer than TKO_CARRIER_LEN, with bytes after its header
 * that are not zero, goes round as the hold's length of zeros after the
 * header: nothing of what came in goes round again.
 */
static void test_long_carrier(void **state)
{
	static uint8_t out[CARRIER_OUT_MAX];
	uint8_t in[TKO_CARRIER_LEN + 36];
	size_t out_len;
	struct pass p = pass_begin();

	memset(in, 0xa5, sizeof(in));
	carrier_frame(in, GEN);
	memset(in + CARRIER_HDR_LEN, 0xa5, sizeof(in) - CARRIER_HDR_LEN);
	CHECK_EQ(carrier_run(in, sizeof(in), out, &out_len, NULL), TC_ACT_REDIRECT, "verdict");
	check_carrier_out(out, out_len, in);
	check_stats_delta(&p.st, 0, 0, 1);
}

/*
 * Several kinds of sessions due in one pass, and requests that must change
 * nothing among them: one for the freed entry of a stopped session, and
 * the same id twice (the programs never queue an id twice; the clock must
 * not serve it twice either). Each session is served once, in turn; the
 * dead one's RST goes into IF_A, and its entry is freed.
 */
static void test_mixed_pass(void **state)
{
	struct tko_ctl_args probe4 = many_args(0), probe6 = many_args(1);
	struct tko_ctl_args dead = shape_args(P_TS, false, L2_LEARNED, K_DEAD, PORT_MIX_DEAD);
	__u32 id4 = id_of(&probe4.key), id6 = id_of(&probe6.key), idd = id_of(&dead.key);
	__u32 gone = case_id[case_named("v4_stopped_skipped") - cases];
	struct frame to_peer[2], to_endpoint[1];
	struct tko_session s0 = sess_get(id4), s1 = sess_get(id6), s;
	struct pass p;

	expected_probe(&to_peer[0], &probe6, L2_LEARNED, false);
	expected_probe(&to_peer[1], &probe4, L2_LEARNED, false);
	expected_rst(&to_endpoint[0], &dead, L2_LEARNED, false);

	p = pass_begin();
	make_due(id6);
	make_due(idd);
	request(gone);
	make_due(id4);
	request_push(idd);
	request_push(id6);
	carrier_pass();
	check_wire(&WB, &WA, to_peer, 2, "frames to the peer");
	check_wire(&WA, &WB, to_endpoint, 1, "frames into the endpoint's side");
	check_stats_delta(&p.st, 2, 0, 1);
	CHECK_EQ(carrier_stats().dead - p.st.dead, 1, "stats peer_dead");
	CHECK_EQ(need_l2_drain(0, NULL), 0, "ids in need_l2");
	CHECK_EQ(queue_empty(), 1, "requests left");
	if (h_find(&dead.key, NULL, NULL))
		fail_msg("the dead session is still in the table");
	CHECK_EQ(sess_get(idd).state, TKO_FREE, "the dead session's entry");
	CHECK_EQ(sess_get(gone).state, TKO_FREE, "the stopped session's entry");
	s = sess_get(id4);
	CHECK_EQ(s.cnt.probes_sent - s0.cnt.probes_sent, 1, "cnt.probes_sent of the one queued once");
	s = sess_get(id6);
	CHECK_EQ(s.cnt.probes_sent - s1.cnt.probes_sent, 1, "cnt.probes_sent of the one queued twice");
	check_filed(&s);
}

/*
 * The fallback route goes only out of the agent's interfaces: with none,
 * or with IF_C alone in the carrier's list (a forwarding interface, but the
 * route to the peer is via IF_A), a handed-over session gets no probe and
 * no L2, and asks the agent for its path (once per answer); with IF_A
 * added, it is routed and probed.
 */
static void test_fib_agent_ifaces(void **state)
{
	struct tko_ctl_args a = shape_args(P_V4, false, L2_FIB, K_ACTIVE, PORT_IFACES);
	int only_c[] = { ifindex_c, 0 }, none[] = { 0 };
	__u32 id = id_of(&a.key);
	size_t n_need;
	struct frame want;
	struct pass p;

	expected_probe(&want, &a, L2_FIB, false);
	p = pass_begin();
	carrier_set((__u32)WB.ifindex, GEN, none);
	make_due(id);
	carrier_pass();
	CHECK_EQ(need_l2_drain(id, &n_need), 1, "ids in need_l2, no interface");
	CHECK_EQ(n_need, 1, "the session's id in need_l2");

	pass_begin();
	carrier_set((__u32)WB.ifindex, GEN, only_c);
	make_due(id);
	carrier_pass();
	check_wire(&WB, &WA, NULL, 0, "frames with no usable interface");
	check_stats_delta(&p.st, 0, 2, 2);
	CHECK_EQ(need_l2_drain(id, &n_need), 1, "ids in need_l2, IF_C only");
	CHECK_EQ(n_need, 1, "the session's id in need_l2");
	CHECK_EQ(sess_get(id).have & TKO_HAVE_L2, 0, "L2 without a usable interface");

	pass_begin();
	carrier_default();
	make_due(id);
	carrier_pass();
	check_wire(&WB, &WA, &want, 1, "frames with IF_A among the interfaces");
	check_stats_delta(&p.st, 1, 2, 3);
	CHECK_EQ(need_l2_drain(0, NULL), 0, "ids in need_l2 once routed");
	CHECK_EQ(!!(sess_get(id).have & TKO_HAVE_L2), 1, "L2 once routed");
}

/* ---------------------------------------------------- links that fail */

/* The device has a carrier (IFF_LOWER_UP). */
static bool if_carrier(const char *name)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		fail_msg("cannot read the flags of %s: %s", name, strerror(errno));
	up = ifr.ifr_flags & 0x10000;	/* IFF_LOWER_UP (linux/if.h clashes with net/if.h) */
	close(fd);
	return up;
}

/*
 * IF_A's root qdisc: a pfifo that takes nothing (every frame NET_XMIT_DROP),
 * or the default again. Through rtnetlink itself, not tc(8): a fork and an
 * exec take longer than a tick, and the tests time what happens within one.
 */
static void queue_full(bool full)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
		char attrs[64];
	} req = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
			.nlmsg_type = full ? RTM_NEWQDISC : RTM_DELQDISC,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
				       (full ? NLM_F_CREATE | NLM_F_REPLACE : 0) },
		.tc = { .tcm_family = AF_UNSPEC, .tcm_ifindex = WA.ifindex,
			.tcm_parent = TC_H_ROOT },
	};
	struct tc_fifo_qopt q = { .limit = 0 };
	char buf[512];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), err = 0;
	ssize_t n;

	if (full) {
		struct rtattr *a = (void *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));

		a->rta_type = TCA_KIND;
		a->rta_len = RTA_LENGTH(sizeof("pfifo"));
		memcpy(RTA_DATA(a), "pfifo", sizeof("pfifo"));
		req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
		a = (void *)((char *)&req + req.nh.nlmsg_len);
		a->rta_type = TCA_OPTIONS;
		a->rta_len = RTA_LENGTH(sizeof(q));
		memcpy(RTA_DATA(a), &q, sizeof(q));
		req.nh.nlmsg_len += RTA_ALIGN(a->rta_len);
	}
	if (fd < 0 || send(fd, &req, req.nh.nlmsg_len, 0) < 0 ||
	    (n = recv(fd, buf, sizeof(buf), 0)) < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		err = -errno;
	else if (((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR)
		err = ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)buf))->error;
	if (fd >= 0)
		close(fd);
	/* deleting what is not there (the default) is no failure */
	if (err && !(!full && (err == -ENOENT || err == -EINVAL)))
		fail_msg("cannot %s IF_A's queue: %s", full ? "fill" : "empty", strerror(-err));
}

/* Errors a device going down left on the test's packet sockets. */
static void wires_clear(void)
{
	int fds[] = { WA.fd, WA.fd_marked, WB.fd, WB.fd_marked }, e;
	socklen_t len = sizeof(e);

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &e, &len);
}

/* The agent's record of an interface's link (rtnetlink), and the carrier's refusal clock. */
static void link_record(int ifindex, bool down, uint64_t refused_ns)
{
	struct tko_iface e = h_iface_get((__u32)ifindex);
	__u32 key = (__u32)ifindex;

	e.down = down;
	e.refused_ns = refused_ns;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(H.b.ctl->maps.ifaces), &key, &e,
					     BPF_ANY), 0);
}

static int links_restore(void **state)
{
	(void)state;
	queue_full(false);
	sh("ip link set %s up", IF_B);
	for (int i = 0; i < 100 && !(if_carrier(IF_A) && if_carrier(IF_B)); i++)
		usleep(10000);
	wires_clear();
	link_record(WA.ifindex, false, 0);
	link_record(ifindex_c, false, 0);
	park_all();
	return 0;
}

static struct tko_ctl_args link_args(uint16_t port, int ifindex)
{
	struct tko_ctl_args a = shape_args(P_V4, false, L2_GIVEN, K_ACTIVE, port);

	a.ifindex = (__u32)ifindex;
	return a;
}

/*
 * A probe due at `due` that left in a pass run within [t0, t1] is late (by
 * more than a tick) or not: counted so in the session and in the stats,
 * where the pass's own clock decides it for sure.
 */
static void check_lateness(uint64_t due, uint64_t t0, uint64_t t1, uint64_t cnt, uint64_t stat)
{
	CHECK_EQ(cnt, stat, "late probes: the session's and the stats' count");
	if (t0 > due + TICK_NS)
		CHECK_EQ(cnt, 1, "probes_late (more than a tick after its deadline)");
	else if (t1 <= due + TICK_NS)
		CHECK_EQ(cnt, 0, "probes_late (within a tick of its deadline)");
}

/*
 * A device whose queue refuses a frame is skipped for the rest of the pass,
 * never the whole pass: the session behind it on the same tick, on another
 * interface, still gets its probe. The refused probe counts neither way and
 * leaves at the next pass, not late (its deadline kept).
 */
static void test_full_queue_skipped(void **state)
{
	struct tko_ctl_args a = link_args(PORT_LINK_A, WA.ifindex);
	struct tko_ctl_args c = link_args(PORT_LINK_C, ifindex_c);
	__u32 ida = id_of(&a.key), idc = id_of(&c.key);
	struct tko_session a0 = sess_get(ida), c0 = sess_get(idc), a1, c1;
	uint64_t deferred = h_stat(TKO_ST_PROBES_DEFERRED), late = h_stat(TKO_ST_PROBES_LATE);
	uint64_t due, t0, t1;
	struct frame want;

	pass_begin();
	queue_full(true);
	make_due(ida);	/* first on the tick's list */
	make_due(idc);
	carrier_pass();
	a1 = sess_get(ida);
	c1 = sess_get(idc);
	CHECK_EQ(a1.cnt.probes_sent, a0.cnt.probes_sent, "IF_A's session: nothing sent");
	CHECK_EQ(a1.cnt.unanswered, a0.cnt.unanswered, "IF_A's session: nothing unanswered");
	CHECK_EQ(a1.deferred, 1, "IF_A's session: its probe deferred");
	CHECK_EQ(c1.cnt.probes_sent, c0.cnt.probes_sent + 1, "IF_C's session: probed");
	CHECK_EQ(h_stat(TKO_ST_PROBES_DEFERRED) - deferred, 1, "stats probes_deferred");
	if (!h_iface_get((__u32)WA.ifindex).refused_ns)
		fail_msg("IF_A's refusal not noted");

	due = a1.next_ns;	/* kept: what lateness is measured from */
	queue_full(false);
	expected_probe(&want, &a, L2_GIVEN, false);
	sleep_until((now_ns() / TICK_NS + 1) * TICK_NS + 20000);
	t0 = now_ns();
	carrier_pass();
	t1 = now_ns();
	check_wire(&WB, &WA, &want, 1, "the deferred probe, at the next pass");
	a1 = sess_get(ida);
	CHECK_EQ(a1.cnt.probes_sent, a0.cnt.probes_sent + 1, "IF_A's session: sent then");
	CHECK_EQ(a1.deferred, 0, "deferred no more");
	check_lateness(due, t0, t1, a1.cnt.probes_late - a0.cnt.probes_late,
		       h_stat(TKO_ST_PROBES_LATE) - late);
	CHECK_EQ(h_iface_get((__u32)WA.ifindex).refused_ns, 0, "IF_A takes frames again");
}

/*
 * A link the agent knows is down carries no probe: the probe is lost (no
 * frame, counted unanswered, reason link_down), never deferred, and the
 * session ends as peer_dead, reason link_down, after its retries.
 */
static void test_link_down_lost(void **state)
{
	struct tko_ctl_args a = link_args(PORT_LINK_A, WA.ifindex);
	__u32 id = id_of(&a.key);
	struct tko_session b = sess_get(id), s;
	uint64_t no_path = h_stat(TKO_ST_PROBES_NO_PATH), deferred = h_stat(TKO_ST_PROBES_DEFERRED);
	uint64_t iface0 = h_iface_get((__u32)WA.ifindex).probes_no_path;
	struct pass p;

	link_record(WA.ifindex, true, 0);
	p = pass_begin();
	make_due(id);
	carrier_pass();
	check_wire(&WB, &WA, NULL, 0, "frames out of a link that is down");
	s = sess_get(id);
	CHECK_EQ(s.cnt.probes_sent, b.cnt.probes_sent, "cnt.probes_sent");
	CHECK_EQ(s.cnt.unanswered, b.cnt.unanswered + 1, "cnt.unanswered");
	CHECK_EQ(s.fail, TKO_R_LINK_DOWN, "why the probe did not leave");
	CHECK_EQ(s.deferred, 0, "not deferred");
	CHECK_EQ(h_stat(TKO_ST_PROBES_NO_PATH) - no_path, 1, "stats probes_no_path");
	CHECK_EQ(h_stat(TKO_ST_PROBES_DEFERRED) - deferred, 0, "stats probes_deferred");
	CHECK_EQ(h_iface_get((__u32)WA.ifindex).probes_no_path - iface0, 1,
		 "the interface's probes_no_path");

	/* its retries spent: dead, and why */
	s.cnt.unanswered = s.cfg.retries;
	h_write(id, &s);
	pass_begin();
	make_due(id);
	carrier_pass();
	h_drain();
	check_one_event(&a.key, p.ev0, TKO_EV_PEER_DEAD, TKO_R_LINK_DOWN, NULL);
	CHECK_EQ(h_find(&a.key, NULL, NULL), 0, "the dead session in the table");
	/* for the next tests */
	link_record(WA.ifindex, false, 0);
	CHECK_EQ(h_start_fixture(H.b.ctl->progs.tko_start, &a), 0, "the session started again");
	assert_true(h_wait_state(&a.key, 1, TKO_ACTIVE));
}

/*
 * NET_XMIT_CN is a congestion notice: the frame was queued, the probe is
 * sent. A link without carrier says it too (its noop qdisc), until the
 * agent has told the datapath that the link is down (test_link_down_lost).
 */
static void test_cn_sent(void **state)
{
	struct tko_ctl_args a = link_args(PORT_LINK_A, WA.ifindex);
	__u32 id = id_of(&a.key);
	struct tko_session b = sess_get(id), s;
	uint64_t deferred = h_stat(TKO_ST_PROBES_DEFERRED);
	unsigned int i;

	pass_begin();
	if (sh("ip link set %s down", IF_B))
		fail_msg("cannot take IF_B down");
	for (i = 0; i < 100 && if_carrier(IF_A); i++)	/* linkwatch: asynchronous */
		usleep(10000);
	if (if_carrier(IF_A))
		fail_msg("IF_A still has a carrier");
	make_due(id);
	carrier_pass();
	s = sess_get(id);
	links_restore(NULL);
	CHECK_EQ(s.cnt.probes_sent, b.cnt.probes_sent + 1, "cnt.probes_sent (queued: CN)");
	CHECK_EQ(s.fail, 0, "no failure");
	CHECK_EQ(s.deferred, 0, "not deferred");
	CHECK_EQ(h_stat(TKO_ST_PROBES_DEFERRED) - deferred, 0, "stats probes_deferred");
}

/*
 * A device that has refused every frame for TKO_LINK_STUCK_NS is a link
 * that cannot carry probes: lost, reason no_path, no longer deferred (a
 * dead link never holds the clock at one pass a tick).
 */
static void test_stuck_queue_no_path(void **state)
{
	struct tko_ctl_args a = link_args(PORT_LINK_A, WA.ifindex);
	__u32 id = id_of(&a.key);
	struct tko_session b = sess_get(id), s;
	uint64_t deferred = h_stat(TKO_ST_PROBES_DEFERRED);

	pass_begin();
	queue_full(true);
	link_record(WA.ifindex, false, now_ns() - TKO_LINK_STUCK_NS - NSEC_PER_SEC);
	make_due(id);
	carrier_pass();
	s = sess_get(id);
	CHECK_EQ(s.cnt.probes_sent, b.cnt.probes_sent, "cnt.probes_sent");
	CHECK_EQ(s.cnt.unanswered, b.cnt.unanswered + 1, "cnt.unanswered");
	CHECK_EQ(s.fail, TKO_R_NO_PATH, "why the probe did not leave");
	CHECK_EQ(s.deferred, 0, "not deferred");
	CHECK_EQ(h_stat(TKO_ST_PROBES_DEFERRED) - deferred, 0, "stats probes_deferred");

	/* the queue takes frames again: the link is back at the next probe */
	queue_full(false);
	pass_begin();
	make_due(id);
	carrier_pass();
	s = sess_get(id);
	CHECK_EQ(s.cnt.probes_sent, b.cnt.probes_sent + 1, "cnt.probes_sent once it takes frames");
	CHECK_EQ(s.fail, 0, "no failure");
	CHECK_EQ(h_iface_get((__u32)WA.ifindex).refused_ns, 0, "IF_A no longer refusing");
}

/*
 * The first probe of a session that goes ACTIVE while its device's queue
 * is full is deferred like any other: due when it went ACTIVE, sent at the
 * next pass, not late.
 */
static void test_first_probe_deferred(void **state)
{
	struct tko_ctl_args a = link_args(PORT_LINK_NEW, WA.ifindex);
	__u32 id = id_of(&a.key);
	struct tko_session s = sess_get(id);
	uint64_t late = h_stat(TKO_ST_PROBES_LATE), t0, t1, due;

	CHECK_EQ(s.state, TKO_LEARNING, "state before");
	pass_begin();
	queue_full(true);
	s.last_seen_ns = now_ns() - (uint64_t)s.cfg.idle_s * NSEC_PER_SEC;	/* idle now */
	h_write(id, &s);
	request(id);
	t0 = now_ns();
	carrier_pass();
	t1 = now_ns();
	s = sess_get(id);
	CHECK_EQ(s.state, TKO_ACTIVE, "state after the idle period");
	CHECK_EQ(s.deferred, 1, "its first probe deferred");
	CHECK_EQ(s.cnt.probes_sent, 0, "cnt.probes_sent");
	/* due when it went ACTIVE (never before: it had no probe yet) */
	if (s.next_ns < t0 || s.next_ns > t1)
		fail_msg("the deferred first probe is not due at the pass that made it ACTIVE");
	due = s.next_ns;
	queue_full(false);
	sleep_until((now_ns() / TICK_NS + 1) * TICK_NS + 20000);
	t0 = now_ns();
	carrier_pass();
	t1 = now_ns();
	s = sess_get(id);
	CHECK_EQ(s.cnt.probes_sent, 1, "cnt.probes_sent at the next pass");
	check_lateness(due, t0, t1, s.cnt.probes_late, h_stat(TKO_ST_PROBES_LATE) - late);
}

/*
 * A session due when the endpoint wakes up: it is SUSPENDED when the
 * carrier gets to it, so no probe leaves; it is filed for its re-arm.
 */
static void test_suspended_skipped(void **state)
{
	struct tko_ctl_args a = shape_args(P_V4, false, L2_LEARNED, K_ACTIVE, PORT_SUSPEND);
	struct seg_spec d = from_endpoint(P_V4, PORT_SUSPEND);
	struct __sk_buff ctx = { .ifindex = (__u32)WA.ifindex };
	struct tko_session before, after;
	__u32 id = id_of(&a.key);
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;
	int verdict;
	struct pass p;

	d.flags = F_ACK | F_PSH;
	d.payload = 10;
	frame_build(&f, &d);
	CHECK_EQ(sess_get(id).state, TKO_ACTIVE, "state before the endpoint's data");
	p = pass_begin();
	make_due(id);
	assert_int_equal(h_try_skb_prog(H.b.tc->progs.tko_tc_egress, f.b, f.len, &ctx, out,
					&out_len, &verdict), 0);
	before = sess_get(id);
	CHECK_EQ(before.state, TKO_SUSPENDED, "state after the endpoint's data");
	carrier_pass();
	check_wire(&WB, &WA, NULL, 0, "frames to the peer");
	check_stats_delta(&p.st, 0, 0, 1);
	after = sess_get(id);
	before.clock.req = 0;
	check_session_eq(&after, &before);
	CHECK_EQ(after.clock.due_tick, (after.last_seen_ns + NSEC_PER_SEC) / TICK_NS,
		 "filed for the re-arm");
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
 * clock is touched: the due session's request is still queued, nothing was
 * sent, no pass counted, the clock as it was.
 */
static void run_bad_case(void **state)
{
	const struct bad_case *c = *state;
	struct tko_key k = sess_key(P_V4, PORT_GUARD);
	uint8_t in[TKO_CARRIER_LEN], out[FRAME_MAX];
	size_t len = sizeof(in), out_len;
	struct tko_wheel_clock w0, w1;
	__u32 id = id_of(&k), got[4];
	uint64_t passes;
	struct pass p;

	carrier_frame(in, GEN);
	if (c->mangle)
		c->mangle(in, &len);
	p = pass_begin();
	if (c->loop_zero)
		carrier_set(0, GEN, NULL);
	passes = carrier_get().passes;
	make_due(id);
	w0 = clock_get();
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		assert_int_equal(bpf_prog_test_run_opts(
			bpf_program__fd(H.b.carrier->progs.tko_carrier), &o), 0);
		CHECK_EQ(o.retval, TC_ACT_SHOT, "verdict");
		out_len = o.data_size_out;
	}
	carrier_default();
	check_frame(out, out_len, in, len, "frame after the run");
	check_wire(&WB, &WA, NULL, 0, "frames to the peer");
	check_stats_delta(&p.st, 0, 0, 0);
	CHECK_EQ(carrier_get().passes, passes, "carrier passes");
	w1 = clock_get();
	if (memcmp(&w0, &w1, sizeof(w0)))
		fail_msg("a refused frame changed the clock");
	CHECK_EQ(requests_take(got, 4), 1, "requests left queued");
	CHECK_EQ(got[0], id, "the request left queued");
	park(id);
}

/* Every cut of the carrier's header is refused. */
static void test_cut_headers(void **state)
{
	static uint8_t out[CARRIER_OUT_MAX];
	uint8_t in[TKO_CARRIER_LEN];
	struct tko_key k = sess_key(P_V4, PORT_GUARD);
	__u32 id = id_of(&k), got[4];
	size_t len, out_len;
	struct pass p;

	carrier_frame(in, GEN);
	p = pass_begin();
	make_due(id);
	for (len = ETH_HDR_LEN; len < (size_t)CARRIER_HDR_LEN; len++)
		CHECK_EQ(carrier_run(in, len, out, &out_len, NULL), TC_ACT_SHOT, "verdict of a cut");
	check_stats_delta(&p.st, 0, 0, 0);
	CHECK_EQ(requests_take(got, 4), 1, "requests left queued");
	CHECK_EQ(got[0], id, "the request left queued");
	park(id);
}

/* ------------------------------------------------------------- the group */

static int group_setup(void **state)
{
	struct tko_key active[NCASES + MANY_N + 8];
	int none[] = { 0 };
	size_t i, na = 0;

	if (netns_setup() || h_load(NCASES + MANY_N + 16))
		goto fail;
	/* The agent is on IF_A and IF_C: the paths handed over are there. */
	h_iface_set((__u32)WA.ifindex, TKO_ANSWER_XDP, false);
	h_iface_set((__u32)ifindex_c, TKO_ANSWER_XDP, false);
	/* No interface to route by while they become ACTIVE: the sessions
	 * handed over without a path keep none until their case. */
	carrier_set((__u32)WB.ifindex, GEN, none);
	for (i = 0; i < NCASES; i++) {
		const struct carrier_case *c = &cases[i];
		struct tko_ctl_args a = case_args(c);

		if (start_session(&a, c->l2, c->prof & P_VLAN))
			goto fail_loaded;
		if (!h_find(&a.key, &case_id[i], NULL))
			goto fail_loaded;
		if (c->kind == K_ACTIVE || c->kind == K_DEAD)
			active[na++] = a.key;
		else if (c->kind == K_STOPPED && h_start_fixture(H.b.ctl->progs.tko_stop, &a))
			goto fail_loaded;
	}
	for (i = 0; i < MANY_N; i++) {
		struct tko_ctl_args a = many_args(i);

		if (start_session(&a, L2_LEARNED, false))
			goto fail_loaded;
		active[na++] = a.key;
	}
	{
		struct tko_ctl_args g = shape_args(P_V4, false, L2_LEARNED, K_ACTIVE, PORT_GUARD);
		struct tko_ctl_args s = shape_args(P_V4, false, L2_LEARNED, K_ACTIVE, PORT_SUSPEND);
		struct tko_ctl_args d = shape_args(P_TS, false, L2_LEARNED, K_DEAD, PORT_MIX_DEAD);
		struct tko_ctl_args f = shape_args(P_V4, false, L2_FIB, K_ACTIVE, PORT_IFACES);
		struct tko_ctl_args la = link_args(PORT_LINK_A, WA.ifindex);
		struct tko_ctl_args lc = link_args(PORT_LINK_C, ifindex_c);
		struct tko_ctl_args ln = link_args(PORT_LINK_NEW, WA.ifindex);

		ln.cfg.idle_s = IDLE_LONG_S;	/* a test makes it idle */
		if (start_session(&g, L2_LEARNED, false) || start_session(&s, L2_LEARNED, false) ||
		    start_session(&d, L2_LEARNED, false) || start_session(&f, L2_FIB, false) ||
		    start_session(&la, L2_GIVEN, false) || start_session(&lc, L2_GIVEN, false) ||
		    start_session(&ln, L2_GIVEN, false))
			goto fail_loaded;
		active[na++] = g.key;
		active[na++] = s.key;
		active[na++] = d.key;
		active[na++] = f.key;
		active[na++] = la.key;
		active[na++] = lc.key;
	}
	/* ACTIVE after the idle period (their first probe sent, or not, with
	 * no path), then parked: each test makes due the sessions it needs. */
	if (!h_wait_state(active, na, TKO_ACTIVE))
		goto fail_loaded;
	park_all();
	h_pass();
	need_l2_drain(0, NULL);
	carrier_default();
	h_drain();
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

#define TEST(n, f) ((struct CMUnitTest){ .name = (n), .test_func = (f), \
					 .teardown_func = park_teardown })
#define LINK_TEST(n, f) ((struct CMUnitTest){ .name = (n), .test_func = (f), \
					      .teardown_func = links_restore })

int main(void)
{
	struct CMUnitTest tests[NCASES + NBAD + 16];
	size_t i, n = 0;

	for (i = 0; i < NCASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						  .initial_state = (void *)&cases[i],
						  .teardown_func = park_teardown };
	tests[n++] = TEST("known_probe_v4_byte", test_known_probe_v4);
	tests[n++] = TEST("known_probe_v6_ts_byte", test_known_probe_v6);
	tests[n++] = TEST("idle_pass", test_idle_pass);
	tests[n++] = TEST("long_carrier_restored", test_long_carrier);
	tests[n++] = TEST("many_in_one_pass", test_many_in_one_pass);
	tests[n++] = TEST("mixed_pass", test_mixed_pass);
	tests[n++] = TEST("fib_only_agent_interfaces", test_fib_agent_ifaces);
	tests[n++] = TEST("suspended_skipped", test_suspended_skipped);
	tests[n++] = LINK_TEST("full_queue_skipped_not_the_pass", test_full_queue_skipped);
	tests[n++] = LINK_TEST("link_down_lost_and_dead", test_link_down_lost);
	tests[n++] = LINK_TEST("congestion_notice_sent", test_cn_sent);
	tests[n++] = LINK_TEST("stuck_queue_no_path", test_stuck_queue_no_path);
	tests[n++] = LINK_TEST("first_probe_deferred_not_late", test_first_probe_deferred);
	for (i = 0; i < NBAD; i++)
		tests[n++] = (struct CMUnitTest){ .name = bad_cases[i].name,
						  .test_func = run_bad_case,
						  .initial_state = (void *)&bad_cases[i],
						  .teardown_func = park_teardown };
	tests[n++] = TEST("refused_every_cut_header", test_cut_headers);
	return _cmocka_run_group_tests("prog_carrier", tests, n, group_setup, group_teardown);
}
