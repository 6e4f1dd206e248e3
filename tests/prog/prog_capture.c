// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of the socket capture iterator (bpf/sock_iter.bpf.c, the
 * iter/tcp program tko_capture): real TCP connections over the loopback of
 * a network namespace of this process's own, captured through the
 * `capture` map and one iterator pass, and every field checked exactly
 * against truth that does not come from the program:
 *
 *  - the wire: an AF_PACKET socket on lo sees every segment the sockets
 *    send, so SND.NXT is the end of what the socket sent (its SYN's ISN + 1
 *    + bytes + FIN), the window is the field of its last segment, TSval the
 *    socket's own; and the socket's *next* segment after a capture must
 *    carry seq = snd_nxt, ack = rcv_nxt, TSecr = ts_ecr and a TSval never
 *    below the captured one (the PAWS rule tko relies on);
 *  - the socket's own reports: SIOCINQ, SIOCOUTQ, SIOCOUTQNSD, TCP_INFO
 *    (state, options, rcv_wscale, tcpi_rcv_wnd = tp->rcv_wnd where the
 *    kernel reports it: 6.2 and later; the wire's window stands alone on 6.1) and
 *    sock_diag (which tuples exist, in which state);
 *  - the byte counts the test itself sent and read.
 *
 * A capture is only judged when it is a consistent snapshot: no segment on
 * the wire and no change of the socket reports across two passes.
 * Sockets are never put in repair mode; no BPF program is attached to a
 * device or cgroup. The process moves to a network namespace of its own at
 * start (lo up, fd00::2 and fd00::3 on it); its sysctl and route changes
 * are undone by each test's teardown, and all of it dies with the process.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/tcp.h>

#include "harness.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "sock_iter.skel.h"
#pragma GCC diagnostic pop

#define DEADLINE_S	5
#define RTO_DEADLINE_S	15	/* a retransmission after backoff */
#define MAX_FLOWS	512
#define MAX_FDS		512
#define SNAP_LEN	256	/* bytes of each segment the sniffer keeps */

#ifndef TCPI_OPT_USEC_TS
#define TCPI_OPT_USEC_TS	64
#endif
#ifndef RTAX_FEATURE_TCP_USEC_TS
#define RTAX_FEATURE_TCP_USEC_TS	(1 << 4)
#endif

/* TCP states (include/net/tcp_states.h) */
enum {
	ST_ESTABLISHED = 1, ST_SYN_SENT, ST_SYN_RECV, ST_FIN_WAIT1, ST_FIN_WAIT2,
	ST_TIME_WAIT, ST_CLOSE, ST_CLOSE_WAIT, ST_LAST_ACK, ST_LISTEN, ST_CLOSING,
};

/* How a connection is made. */
enum fam {
	FAM_V4,		/* 127.0.0.2 -> 127.0.0.3 */
	FAM_V6,		/* ::1 -> ::1 */
	FAM_V6ULA,	/* fd00::2 -> fd00::3 (added to lo): the two ends differ */
	FAM_MAPPED,	/* AF_INET6 sockets, ::ffff:127.0.0.2 -> a dual-stack listener */
};

static const uint8_t CLI4[4] = { 127, 0, 0, 2 };
static const uint8_t SRV4[4] = { 127, 0, 0, 3 };
static const uint8_t NOBODY4[4] = { 127, 0, 0, 99 };
static const uint8_t LO6[16] = { [15] = 1 };
static const uint8_t CLI6[16] = { 0xfd, [15] = 2 };
static const uint8_t SRV6[16] = { 0xfd, [15] = 3 };

static const uint8_t *cli6(enum fam fam) { return fam == FAM_V6ULA ? CLI6 : LO6; }
static const uint8_t *srv6(enum fam fam) { return fam == FAM_V6ULA ? SRV6 : LO6; }
static bool is_v6(enum fam fam) { return fam == FAM_V6 || fam == FAM_V6ULA; }

static void pause_1ms(void)
{
	struct timespec ts = { 0, 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* Poll cond every millisecond until it holds; fail after s seconds. */
#define WAIT_FOR_S(cond, s, fmt, ...) do {					\
	uint64_t dl_ = now_ns() + (uint64_t)(s) * NSEC_PER_SEC;			\
	while (!(cond)) {							\
		if (now_ns() > dl_)						\
			fail_msg("timeout (%d s) waiting for " fmt, (int)(s),	\
				 ##__VA_ARGS__);				\
		pause_1ms();							\
	}									\
} while (0)
#define WAIT_FOR(cond, fmt, ...) WAIT_FOR_S(cond, DEADLINE_S, fmt, ##__VA_ARGS__)

/* ---- what each test opened, closed whatever happens -------------------- */

static int fds[MAX_FDS];
static size_t nfds;

static int track(int fd)
{
	if (fd < 0)
		fail_msg("socket: %s", strerror(errno));
	if (nfds == MAX_FDS)
		fail_msg("too many sockets");
	fds[nfds++] = fd;
	return fd;
}

static void xclose(int *fd)
{
	size_t i;

	if (*fd < 0)
		return;
	for (i = 0; i < nfds; i++)
		if (fds[i] == *fd) {
			fds[i] = fds[--nfds];
			break;
		}
	close(*fd);
	*fd = -1;
}

static void close_all(void)
{
	while (nfds)
		close(fds[--nfds]);
}

/* sysctls and routes a test changed, undone by its teardown */
static struct { char path[128]; char old[32]; } saved_sysctl[4];
static size_t nsaved;
static uint8_t usec_routes[4][4];
static size_t nroutes;

static void sysctl_set(const char *path, const char *val)
{
	char old[32] = "";
	ssize_t n;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	n = read(fd, old, sizeof(old) - 1);
	if (n <= 0 || nsaved == 4 || lseek(fd, 0, SEEK_SET) ||
	    write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
		close(fd);
		fail_msg("cannot set %s", path);
	}
	close(fd);
	snprintf(saved_sysctl[nsaved].path, sizeof(saved_sysctl[0].path), "%s", path);
	snprintf(saved_sysctl[nsaved].old, sizeof(saved_sysctl[0].old), "%s", old);
	nsaved++;
}

static void sysctl_restore(void)
{
	while (nsaved) {
		int fd = open(saved_sysctl[--nsaved].path, O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, saved_sysctl[nsaved].old,
				  strlen(saved_sysctl[nsaved].old)) < 0)
				fprintf(stderr, "cannot restore %s\n", saved_sysctl[nsaved].path);
			close(fd);
		}
	}
}

/* ---- keys ---------------------------------------------------------------- */

static struct tko_key key4(const uint8_t *l, uint16_t lport, const uint8_t *r, uint16_t rport)
{
	struct tko_key k = { .family = TKO_AF_INET, .lport = lport, .rport = rport };

	memcpy(k.laddr, l, 4);
	memcpy(k.raddr, r, 4);
	return k;
}

static struct tko_key key6(const uint8_t *l, uint16_t lport, const uint8_t *r, uint16_t rport)
{
	struct tko_key k = { .family = TKO_AF_INET6, .lport = lport, .rport = rport };

	memcpy(k.laddr, l, 16);
	memcpy(k.raddr, r, 16);
	return k;
}

static struct tko_key reverse(const struct tko_key *k)
{
	struct tko_key r = *k;

	r.lport = k->rport;
	r.rport = k->lport;
	memcpy(r.laddr, k->raddr, 16);
	memcpy(r.raddr, k->laddr, 16);
	return r;
}

static void v4mapped(uint8_t *a6, const uint8_t *a4)
{
	memset(a6, 0, 16);
	a6[10] = a6[11] = 0xff;
	memcpy(a6 + 12, a4, 4);
}

static const char *key_str(const struct tko_key *k)
{
	static char s[4][128];
	static int i;
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
	int af = k->family == TKO_AF_INET6 ? AF_INET6 : AF_INET;

	i = (i + 1) % 4;
	inet_ntop(af, k->laddr, l, sizeof(l));
	inet_ntop(af, k->raddr, r, sizeof(r));
	snprintf(s[i], sizeof(s[i]), "%s%s%s:%u -> %s%s%s:%u", af == AF_INET6 ? "[" : "", l,
		 af == AF_INET6 ? "]" : "", k->lport, af == AF_INET6 ? "[" : "", r,
		 af == AF_INET6 ? "]" : "", k->rport);
	return s[i];
}

/* ---- the sniffer: every segment sent on lo -------------------------------- */

struct seg {
	uint32_t seq, ack, len, tsval, tsecr;
	uint16_t win;
	uint8_t flags;
	bool ts;
};

struct flow {
	struct tko_key k;	/* the sender's view: laddr is the source */
	bool syn;
	uint32_t isn;
	uint32_t end;		/* sequence number after everything it sent */
	unsigned n;		/* segments */
	struct seg last;
	bool marked, have_next;	/* sniff_mark(): the first segment after it */
	struct seg next;
};

static struct {
	int fd;
	struct flow f[MAX_FLOWS];
	size_t n;
} S = { .fd = -1 };

static struct flow *flow_find(const struct tko_key *k)
{
	size_t i;

	for (i = 0; i < S.n; i++)
		if (key_eq(&S.f[i].k, k))
			return &S.f[i];
	return NULL;
}

/* The flow of k, which must have been seen from its SYN on. */
static struct flow *flow_of(const struct tko_key *k)
{
	struct flow *f = flow_find(k);

	if (!f || !f->syn)
		fail_msg("the sniffer saw no SYN from %s", key_str(k));
	return f;
}

static void sniff_segment(const uint8_t *p, size_t caplen, uint16_t proto)
{
	const uint8_t *l4, *o;
	size_t l4len, hl, doff, i;
	struct tko_key k = {};
	struct flow *f;
	struct seg s = {};
	uint32_t end;

	if (proto == ETH_P_IP && caplen >= 20) {
		hl = (p[0] & 15) * 4;
		if (p[9] != IPPROTO_TCP || caplen < hl + 20 || get16(p + 2) < hl)
			return;
		k.family = TKO_AF_INET;
		memcpy(k.laddr, p + 12, 4);
		memcpy(k.raddr, p + 16, 4);
		l4 = p + hl;
		l4len = get16(p + 2) - hl;
	} else if (proto == ETH_P_IPV6 && caplen >= 60) {
		if (p[6] != IPPROTO_TCP)
			return;
		if (get16(p + 4) == 0)
			fail_msg("sniffer: an IPv6 jumbogram on lo");
		k.family = TKO_AF_INET6;
		memcpy(k.laddr, p + 8, 16);
		memcpy(k.raddr, p + 24, 16);
		l4 = p + 40;
		l4len = get16(p + 4);
	} else {
		return;
	}
	doff = (l4[12] >> 4) * 4;
	if (doff < 20 || l4len < doff || (size_t)(l4 - p) + doff > caplen)
		fail_msg("sniffer: a TCP header it cannot read");
	k.lport = get16(l4);
	k.rport = get16(l4 + 2);
	s.seq = get32(l4 + 4);
	s.ack = get32(l4 + 8);
	s.flags = l4[13];
	s.win = get16(l4 + 14);
	s.len = l4len - doff;
	for (o = l4 + 20, i = 20; i < doff;) {
		if (o[0] == 0)
			break;
		if (o[0] == 1) {
			o++, i++;
			continue;
		}
		if (i + 1 >= doff || o[1] < 2 || i + o[1] > doff)
			break;
		if (o[0] == 8 && o[1] == 10) {
			s.ts = true;
			s.tsval = get32(o + 2);
			s.tsecr = get32(o + 6);
		}
		i += o[1];
		o += o[1];
	}
	end = s.seq + s.len + !!(s.flags & F_SYN) + !!(s.flags & F_FIN);

	f = flow_find(&k);
	if (!f) {
		if (S.n == MAX_FLOWS)
			fail_msg("sniffer: too many flows");
		f = &S.f[S.n++];
		memset(f, 0, sizeof(*f));
		f->k = k;
		f->end = end;
	}
	if ((s.flags & F_SYN) && !f->syn) {
		f->syn = true;
		f->isn = s.seq;
		f->end = end;
	}
	if ((int32_t)(end - f->end) > 0)
		f->end = end;
	f->last = s;
	f->n++;
	if (f->marked && !f->have_next) {
		f->next = s;
		f->have_next = true;
	}
}

/* Read what the sniffer queued; returns the number of TCP segments. */
static unsigned sniff_drain(void)
{
	uint8_t buf[SNAP_LEN];
	struct tpacket_stats st;
	socklen_t sl = sizeof(st);
	unsigned n = 0;

	for (;;) {
		struct sockaddr_ll sll;
		socklen_t al = sizeof(sll);
		ssize_t r = recvfrom(S.fd, buf, sizeof(buf), MSG_DONTWAIT, (void *)&sll, &al);

		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			fail_msg("sniffer: %s", strerror(errno));
		}
		if (sll.sll_pkttype != PACKET_OUTGOING)
			continue;	/* lo shows each segment leaving and arriving */
		sniff_segment(buf, (size_t)r, ntohs(sll.sll_protocol));
		n++;
	}
	if (getsockopt(S.fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl))
		fail_msg("sniffer statistics: %s", strerror(errno));
	if (st.tp_drops)
		fail_msg("the sniffer dropped %u segments: the wire truth is incomplete",
			 st.tp_drops);
	return n;
}

static void sniff_reset(void)
{
	sniff_drain();
	S.n = 0;
}

static int sniff_open(void)
{
	/* keep only outgoing frames, SNAP_LEN bytes of each */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SNAP_LEN),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)if_nametoindex("lo"),
	};
	int big = 64 << 20;

	S.fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (S.fd < 0 || !sll.sll_ifindex ||
	    setsockopt(S.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) ||
	    setsockopt(S.fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    bind(S.fd, (void *)&sll, sizeof(sll))) {
		fprintf(stderr, "cannot open the sniffer on lo: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* The next segment of k's flow will be kept in its `next`. */
static struct flow *sniff_mark(const struct tko_key *k)
{
	struct flow *f = flow_of(k);

	sniff_drain();
	f->marked = true;
	f->have_next = false;
	return f;
}

/* ---- what the sockets say about themselves ------------------------------ */

struct truth {
	bool open;		/* fd >= 0 */
	bool queues;		/* the ioctls answered (not a listener) */
	int inq;		/* SIOCINQ: RCV.NXT - copied_seq, without a FIN */
	int outq;		/* SIOCOUTQ: write_seq - SND.UNA */
	int nsd;		/* SIOCOUTQNSD: write_seq - SND.NXT */
	uint8_t state, options, rcv_wscale;
	bool has_rcv_wnd;	/* TCP_INFO has tcpi_rcv_wnd (Linux 6.2+) */
	uint32_t rcv_wnd;	/* tcpi_rcv_wnd: tp->rcv_wnd */
	uint32_t notsent, segs_in, segs_out;
};

static void truth_read(int fd, struct truth *t)
{
	uint8_t buf[512] = {};
	const struct tcp_info *ti = (const void *)buf;
	socklen_t len = sizeof(buf);
	size_t rcv_wnd_off = offsetof(struct tcp_info, tcpi_snd_wnd) + 4;

	memset(t, 0, sizeof(*t));
	if (fd < 0)
		return;
	t->open = true;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, buf, &len))
		fail_msg("TCP_INFO: %s", strerror(errno));
	t->has_rcv_wnd = len >= rcv_wnd_off + 4;
	t->state = ti->tcpi_state;
	t->options = ti->tcpi_options;
	t->rcv_wscale = ti->tcpi_rcv_wscale;
	if (t->has_rcv_wnd)
		memcpy(&t->rcv_wnd, buf + rcv_wnd_off, 4);
	t->notsent = ti->tcpi_notsent_bytes;
	t->segs_in = ti->tcpi_segs_in;
	t->segs_out = ti->tcpi_segs_out;
	if (t->state == ST_LISTEN)
		return;
	if (ioctl(fd, SIOCINQ, &t->inq) || ioctl(fd, SIOCOUTQ, &t->outq) ||
	    ioctl(fd, SIOCOUTQNSD, &t->nsd))
		fail_msg("socket queue ioctls: %s", strerror(errno));
	t->queues = true;
}

static int tcp_state(int fd)
{
	struct truth t;

	truth_read(fd, &t);
	return t.state;
}

static int outq(int fd)
{
	int n;

	if (ioctl(fd, SIOCOUTQ, &n))
		fail_msg("SIOCOUTQ: %s", strerror(errno));
	return n;
}

static int outq_nsd(int fd)
{
	int n;

	if (ioctl(fd, SIOCOUTQNSD, &n))
		fail_msg("SIOCOUTQNSD: %s", strerror(errno));
	return n;
}

static int inq(int fd)
{
	int n;

	if (ioctl(fd, SIOCINQ, &n))
		fail_msg("SIOCINQ: %s", strerror(errno));
	return n;
}

/* sock_diag: the state of the TCP socket with tuple k in this netns, -1 if none. */
static int diag_state(const struct tko_key *want)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int state = -1;
	size_t i;

	if (fd < 0)
		fail_msg("sock_diag: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		struct {
			struct nlmsghdr nh;
			struct inet_diag_req_v2 r;
		} req = {
			.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
				.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = i + 1 },
			.r = { .sdiag_family = fams[i], .sdiag_protocol = IPPROTO_TCP,
			       .idiag_states = ~0u },
		};
		bool done = false;

		if (send(fd, &req, sizeof(req), 0) != sizeof(req))
			fail_msg("sock_diag request: %s", strerror(errno));
		while (!done) {
			static uint8_t buf[65536];
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			struct nlmsghdr *nh;

			if (n < 0)
				fail_msg("sock_diag: %s", strerror(errno));
			for (nh = (void *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
				const struct inet_diag_msg *m = NLMSG_DATA(nh);
				struct tko_key k = {};

				if (nh->nlmsg_type == NLMSG_DONE) {
					done = true;
					break;
				}
				if (nh->nlmsg_type == NLMSG_ERROR)
					fail_msg("sock_diag: error %d",
						 ((struct nlmsgerr *)NLMSG_DATA(nh))->error);
				k.lport = ntohs(m->id.idiag_sport);
				k.rport = ntohs(m->id.idiag_dport);
				if (m->idiag_family == AF_INET6 &&
				    !IN6_IS_ADDR_V4MAPPED((const void *)m->id.idiag_dst)) {
					k.family = TKO_AF_INET6;
					memcpy(k.laddr, m->id.idiag_src, 16);
					memcpy(k.raddr, m->id.idiag_dst, 16);
				} else {
					int o = m->idiag_family == AF_INET6 ? 3 : 0;

					k.family = TKO_AF_INET;
					memcpy(k.laddr, &m->id.idiag_src[o], 4);
					memcpy(k.raddr, &m->id.idiag_dst[o], 4);
				}
				if (key_eq(&k, want))
					state = m->idiag_state;
			}
		}
	}
	close(fd);
	return state;
}

/* ---- the capture: keys in the map, one iterator pass, the answers --------- */

static int cap_map(void) { return bpf_map__fd(H.b.iter->maps.capture); }

static size_t map_count(int fd)
{
	struct tko_key k, next;
	size_t n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static void map_clear(int fd)
{
	struct tko_key k;

	while (!bpf_map_get_next_key(fd, NULL, &k))
		bpf_map_delete_elem(fd, &k);
}

/* One iterator pass over the keys; the program must add no entry and print nothing. */
static void cap_run(const struct tko_key *keys, size_t n, struct tko_capture *out)
{
	const struct tko_capture zero = {};
	int map = cap_map(), it;
	size_t i, printed = 0;
	char buf[256];
	ssize_t r;

	CHECK_EQ(map_count(map), 0, "entries in the capture map before the pass");
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(map, &keys[i], &zero, BPF_NOEXIST))
			fail_msg("cannot ask for %s: %s", key_str(&keys[i]), strerror(errno));
	it = bpf_iter_create(bpf_link__fd(H.b.iter_link));
	if (it < 0)
		fail_msg("bpf_iter_create: %s", strerror(-it));
	/* a silent read() over a million sockets says EAGAIN, the next resumes */
	while ((r = read(it, buf, sizeof(buf))) > 0 || (r < 0 && errno == EAGAIN))
		printed += r > 0 ? (size_t)r : 0;
	if (r < 0)
		fail_msg("reading the iterator: %s", strerror(errno));
	close(it);
	CHECK_EQ(printed, 0, "bytes printed by the iterator");
	CHECK_EQ(map_count(map), n, "entries in the capture map after the pass");
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(map, &keys[i], &out[i]))
			fail_msg("the answer for %s is gone", key_str(&keys[i]));
		bpf_map_delete_elem(map, &keys[i]);
	}
}

static struct tko_capture cap_one(const struct tko_key *k)
{
	struct tko_capture c;

	cap_run(k, 1, &c);
	return c;
}

/* A socket to capture: its fd (-1: none, or not ours) and the key it is asked by. */
struct ref {
	int fd;
	struct tko_key k;
};

struct snap {
	struct tko_capture cap;
	struct truth t;
};

static bool same_capture(const struct tko_capture *a, const struct tko_capture *b)
{
	struct tko_capture x = *a, y = *b;

	x.tcp.ts_val = y.tcp.ts_val = 0;	/* the clock moves between passes */
	return !memcmp(&x, &y, sizeof(x));
}

static bool same_truth(const struct truth *a, const struct truth *b)
{
	return a->inq == b->inq && a->outq == b->outq && a->nsd == b->nsd &&
	       a->state == b->state && a->rcv_wnd == b->rcv_wnd &&
	       a->segs_in == b->segs_in && a->segs_out == b->segs_out;
}

/*
 * A consistent capture of the n sockets: two passes that agree, socket
 * reports that did not move around them, and no segment on the wire
 * meanwhile. *t0, *t1: CLOCK_MONOTONIC around the first pass (the one kept).
 */
static void snapshot(const struct ref *r, size_t n, struct snap *out, uint64_t *t0,
		     uint64_t *t1)
{
	struct tko_key *keys = calloc(n, sizeof(*keys));
	struct tko_capture *c2 = calloc(n, sizeof(*c2));
	struct tko_capture *c1 = calloc(n, sizeof(*c1));
	struct truth *a = calloc(n, sizeof(*a)), *b = calloc(n, sizeof(*b));
	uint64_t deadline = now_ns() + DEADLINE_S * NSEC_PER_SEC;
	unsigned tries = 0;
	size_t i;

	if (!keys || !c1 || !c2 || !a || !b)
		fail_msg("out of memory");
	for (i = 0; i < n; i++)
		keys[i] = r[i].k;
	for (;;) {
		bool same = true;

		tries++;
		sniff_drain();
		for (i = 0; i < n; i++)
			truth_read(r[i].fd, &a[i]);
		*t0 = now_ns();
		cap_run(keys, n, c1);
		*t1 = now_ns();
		cap_run(keys, n, c2);
		for (i = 0; i < n; i++)
			truth_read(r[i].fd, &b[i]);
		if (sniff_drain())
			same = false;
		for (i = 0; i < n && same; i++)
			same = same_capture(&c1[i], &c2[i]) && same_truth(&a[i], &b[i]);
		if (same)
			break;
		if (now_ns() > deadline)
			fail_msg("no quiet moment for a consistent capture in %d s (%u tries)",
				 DEADLINE_S, tries);
	}
	for (i = 0; i < n; i++) {
		out[i].cap = c1[i];
		out[i].t = a[i];
	}
	free(keys);
	free(c1);
	free(c2);
	free(a);
	free(b);
}

static void check_absent(const struct tko_capture *c, const char *who)
{
	const struct tko_capture zero = {};

	CHECK_EQ(c->found, 0, who);
	if (memcmp(c, &zero, sizeof(zero)))
		fail_msg("%s: the program wrote an answer for a tuple it did not find", who);
}

static uint64_t ts_div(bool usec) { return usec ? 1000 : 1000000; }

/* t1 - t0 in the socket's TS clock units, allowing for the 32-bit wrap */
static int32_t ts_diff(uint32_t t1, uint32_t t0) { return (int32_t)(t1 - t0); }

/*
 * Everything a capture of a full socket must agree with, from the socket's
 * own reports and its own segments on the wire. extra_unread: 1 when a FIN
 * is received and not yet read (SIOCINQ does not count it, RCV.NXT does).
 * born: CLOCK_MONOTONIC before the connection was made.
 */
static void check_sock(const struct ref *r, const struct snap *s, uint64_t t0, uint64_t t1,
		       unsigned extra_unread, uint64_t born)
{
	const struct tko_capture *c = &s->cap;
	const struct truth *t = &s->t;
	const struct flow *f = flow_of(&r->k);
	char what[256];
	uint32_t win;

#define W(x) (snprintf(what, sizeof(what), "%s: %s", key_str(&r->k), x), what)
	if (!t->open || !t->queues)
		fail_msg("check_sock needs an open, connected socket");
	CHECK_EQ(c->found, 1, W("found"));
	CHECK_EQ(c->established, t->state == ST_ESTABLISHED, W("established"));
	CHECK_EQ(c->unsent, t->nsd, W("unsent (SIOCOUTQNSD)"));
	CHECK_EQ(c->unsent, t->notsent, W("unsent (tcpi_notsent_bytes)"));
	CHECK_EQ(c->unacked, t->outq - t->nsd, W("unacked (SIOCOUTQ - SIOCOUTQNSD)"));
	CHECK_EQ(c->unread, t->inq + extra_unread, W("unread (SIOCINQ)"));
	CHECK_EQ(c->tcp.snd_nxt, f->end, W("snd_nxt (end of what it sent on the wire)"));
	CHECK_EQ(c->tcp.snd_una, f->end - (t->outq - t->nsd),
		 W("snd_una (snd_nxt less what is unacknowledged)"));
	CHECK_EQ(c->tcp.wscale, t->rcv_wscale, W("wscale (tcpi_rcv_wscale)"));
	win = t->rcv_wnd >> t->rcv_wscale;
	if (t->has_rcv_wnd)
		CHECK_EQ(c->tcp.window, win > 0xffff ? 0xffff : win,
			 W("window (tcpi_rcv_wnd >> wscale)"));
	if (!(f->last.flags & F_SYN))	/* a SYN's window is never scaled */
		CHECK_EQ(c->tcp.window, f->last.win, W("window (its last segment's)"));
	if (t->options & TCPI_OPT_TIMESTAMPS) {
		bool usec = t->options & TCPI_OPT_USEC_TS;
		uint64_t d = ts_div(usec);
		uint32_t lo = (uint32_t)(t0 / d) + c->tcp.ts_offset;
		uint32_t hi = (uint32_t)(t1 / d) + c->tcp.ts_offset;

		CHECK_EQ(c->have, TKO_HAVE_SEQ | TKO_HAVE_UNA | TKO_HAVE_TS, W("have"));
		CHECK_EQ(c->tcp.ts_clock, usec ? TKO_TS_CLOCK_US : TKO_TS_CLOCK_MS, W("ts_clock"));
		if (!f->last.ts)
			fail_msg("%s: its last segment has no timestamp", key_str(&r->k));
		/* the TCP clock at the pass, plus the offset the capture reports */
		if (ts_diff(c->tcp.ts_val, lo) < 0 || ts_diff(hi, c->tcp.ts_val) < 0)
			fail_msg("%s: ts_val %u not in [%u, %u] (clock at the pass + ts_offset %u)",
				 key_str(&r->k), c->tcp.ts_val, lo, hi, c->tcp.ts_offset);
		/* the same offset explains the TSval it sent on the wire */
		if (ts_diff(f->last.tsval - c->tcp.ts_offset, (uint32_t)(born / d)) < 0 ||
		    ts_diff((uint32_t)(t1 / d), f->last.tsval - c->tcp.ts_offset) < 0)
			fail_msg("%s: its last TSval %u - ts_offset %u is not a time since the connection began",
				 key_str(&r->k), f->last.tsval, c->tcp.ts_offset);
		if (ts_diff(c->tcp.ts_val, f->last.tsval) < 0)
			fail_msg("%s: ts_val %u is older than the TSval %u it already sent",
				 key_str(&r->k), c->tcp.ts_val, f->last.tsval);
	} else {
		CHECK_EQ(c->have, TKO_HAVE_SEQ | TKO_HAVE_UNA, W("have (no timestamps)"));
		CHECK_EQ(c->tcp.ts_val, 0, W("ts_val"));
		CHECK_EQ(c->tcp.ts_ecr, 0, W("ts_ecr"));
		CHECK_EQ(c->tcp.ts_offset, 0, W("ts_offset"));
		CHECK_EQ(c->tcp.ts_clock, 0, W("ts_clock"));
		if (f->last.ts)
			fail_msg("%s: it sends timestamps, TCP_INFO says it does not",
				 key_str(&r->k));
	}
#undef W
}

/* ---- connections --------------------------------------------------------- */

struct conn {
	int c, s, l;		/* client, accepted server socket, listener */
	enum fam fam;
	struct tko_key kc, ks;	/* the tuples the iterator must key them by */
	uint64_t born;
};

union sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static socklen_t sa_of(enum fam fam, const uint8_t *a4, const uint8_t *a6, uint16_t port,
		       union sa *u)
{
	memset(u, 0, sizeof(*u));
	if (fam == FAM_V4) {
		u->in.sin_family = AF_INET;
		u->in.sin_port = htons(port);
		memcpy(&u->in.sin_addr, a4, 4);
		return sizeof(u->in);
	}
	u->in6.sin6_family = AF_INET6;
	u->in6.sin6_port = htons(port);
	if (fam == FAM_MAPPED && a4)
		v4mapped(u->in6.sin6_addr.s6_addr, a4);
	else if (a6)
		memcpy(&u->in6.sin6_addr, a6, 16);
	return sizeof(u->in6);
}

static uint16_t local_port(int fd)
{
	union sa u;
	socklen_t l = sizeof(u);

	if (getsockname(fd, &u.sa, &l))
		fail_msg("getsockname: %s", strerror(errno));
	return ntohs(u.sa.sa_family == AF_INET ? u.in.sin_port : u.in6.sin6_port);
}

/* A listener: 127.0.0.3, [::1] or [fd00::3] (v6only), [::] (dual stack); ephemeral port. */
static int listen_on(enum fam fam, int rcvbuf)
{
	int fd = track(socket(fam == FAM_V4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
	int v6only = is_v6(fam);
	union sa u;
	socklen_t l = sa_of(fam, fam == FAM_MAPPED ? NULL : SRV4,
			    is_v6(fam) ? srv6(fam) : (const uint8_t *)&in6addr_any, 0, &u);

	if (fam != FAM_V4 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)))
		fail_msg("IPV6_V6ONLY: %s", strerror(errno));
	if (rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		fail_msg("SO_RCVBUF: %s", strerror(errno));
	if (bind(fd, &u.sa, l) || listen(fd, 128))
		fail_msg("listen: %s", strerror(errno));
	return fd;
}

/* A client bound to src (v4, mapped), ::1 or fd00::2, connecting to the listener's port. */
static int connect_to(enum fam fam, const uint8_t *src4, uint16_t port, bool nonblock,
		      const struct sock_fprog *filter)
{
	int fd = track(socket(fam == FAM_V4 ? AF_INET : AF_INET6,
			      SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0));
	int off = 0;
	union sa u;
	socklen_t l;

	if (fam == FAM_MAPPED && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)))
		fail_msg("IPV6_V6ONLY: %s", strerror(errno));
	l = sa_of(fam, src4, cli6(fam), 0, &u);
	if (bind(fd, &u.sa, l))
		fail_msg("bind: %s", strerror(errno));
	if (filter && setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, filter, sizeof(*filter)))
		fail_msg("SO_ATTACH_FILTER: %s", strerror(errno));
	l = sa_of(fam, SRV4, srv6(fam), port, &u);
	if (connect(fd, &u.sa, l) && !(nonblock && errno == EINPROGRESS))
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

static int accept_one(int l)
{
	struct pollfd p = { .fd = l, .events = POLLIN };

	if (poll(&p, 1, DEADLINE_S * 1000) != 1)
		fail_msg("no connection to accept within %d s", DEADLINE_S);
	return track(accept4(l, NULL, NULL, SOCK_CLOEXEC));
}

static void conn_keys(struct conn *cn, const uint8_t *src4)
{
	uint16_t cport = local_port(cn->c), sport = local_port(cn->l);

	if (is_v6(cn->fam))
		cn->kc = key6(cli6(cn->fam), cport, srv6(cn->fam), sport);
	else	/* a v4-mapped IPv6 socket is IPv4 on the wire */
		cn->kc = key4(src4, cport, SRV4, sport);
	cn->ks = reverse(&cn->kc);
}

static void conn_open_from(struct conn *cn, enum fam fam, const uint8_t *src4, int l)
{
	memset(cn, 0, sizeof(*cn));
	cn->fam = fam;
	cn->born = now_ns();
	cn->l = l;
	cn->c = connect_to(fam, src4, local_port(l), false, NULL);
	cn->s = accept_one(l);
	conn_keys(cn, src4);
	if (fam == FAM_MAPPED) {	/* the premise: both ends are AF_INET6 sockets */
		union sa u;
		socklen_t sl = sizeof(u);

		if (getpeername(cn->s, &u.sa, &sl) || u.sa.sa_family != AF_INET6 ||
		    !IN6_IS_ADDR_V4MAPPED(&u.in6.sin6_addr))
			fail_msg("the accepted socket is not a v4-mapped IPv6 socket");
	}
}

static void conn_open(struct conn *cn, enum fam fam, int srv_rcvbuf)
{
	conn_open_from(cn, fam, CLI4, listen_on(fam, srv_rcvbuf));
}

static void conn_close(struct conn *cn)
{
	xclose(&cn->c);
	xclose(&cn->s);
	xclose(&cn->l);
}

/* Send n bytes from one socket and read them at the other (either may block). */
static void xfer(int from, int to, size_t n)
{
	static uint8_t buf[65536];
	size_t sent = 0, got = 0;
	uint64_t deadline = now_ns() + DEADLINE_S * NSEC_PER_SEC;

	memset(buf, 0x5a, sizeof(buf));
	while (got < n) {
		struct pollfd p[2] = {
			{ .fd = from, .events = sent < n ? POLLOUT : 0 },
			{ .fd = to, .events = POLLIN },
		};
		ssize_t r;

		if (now_ns() > deadline)
			fail_msg("transfer of %zu bytes: %zu sent, %zu read in %d s", n, sent, got,
				 DEADLINE_S);
		if (poll(p, 2, 100) < 0)
			fail_msg("poll: %s", strerror(errno));
		if (p[0].revents & POLLOUT) {
			size_t chunk = n - sent < sizeof(buf) ? n - sent : sizeof(buf);

			r = send(from, buf, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN)
				fail_msg("send: %s", strerror(errno));
			if (r > 0)
				sent += (size_t)r;
		}
		if (p[1].revents & POLLIN) {
			size_t want = n - got < sizeof(buf) ? n - got : sizeof(buf);

			r = recv(to, buf, want, MSG_DONTWAIT);
			if (r == 0)
				fail_msg("EOF after %zu of %zu bytes", got, n);
			if (r < 0 && errno != EAGAIN)
				fail_msg("recv: %s", strerror(errno));
			if (r > 0)
				got += (size_t)r;
		}
	}
}

static void send_n(int fd, size_t n)
{
	static uint8_t buf[65536];

	while (n) {
		ssize_t r = send(fd, buf, n < sizeof(buf) ? n : sizeof(buf), MSG_NOSIGNAL);

		if (r <= 0)
			fail_msg("send: %s", strerror(errno));
		n -= (size_t)r;
	}
}

static void recv_n(int fd, size_t n)
{
	static uint8_t buf[65536];
	uint64_t deadline = now_ns() + DEADLINE_S * NSEC_PER_SEC;

	while (n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (now_ns() > deadline)
			fail_msg("%zu bytes still to read after %d s", n, DEADLINE_S);
		if (poll(&p, 1, 100) <= 0)
			continue;
		r = recv(fd, buf, n < sizeof(buf) ? n : sizeof(buf), MSG_DONTWAIT);
		if (r <= 0)
			fail_msg("recv: %s", r ? strerror(errno) : "EOF");
		n -= (size_t)r;
	}
}

/* Everything either end sent has been acknowledged (so it was also processed). */
static void wait_acked(const struct conn *cn)
{
	WAIT_FOR(outq(cn->c) == 0 && outq(cn->s) == 0, "%s: both ends acknowledged",
		 key_str(&cn->kc));
}

struct pair_snap {
	struct snap c, s;
	uint64_t t0, t1;
};

static void snap_pair(const struct conn *cn, struct pair_snap *p)
{
	struct ref r[2] = { { cn->c, cn->kc }, { cn->s, cn->ks } };
	struct snap out[2];

	snapshot(r, 2, out, &p->t0, &p->t1);
	p->c = out[0];
	p->s = out[1];
}

/* Both ends, checked on their own and against each other (nothing in flight). */
static void check_pair(const struct conn *cn, const struct pair_snap *p)
{
	struct ref rc = { cn->c, cn->kc }, rs = { cn->s, cn->ks };

	check_sock(&rc, &p->c, p->t0, p->t1, 0, cn->born);
	check_sock(&rs, &p->s, p->t0, p->t1, 0, cn->born);
	CHECK_EQ(p->c.cap.tcp.snd_nxt, p->s.cap.tcp.rcv_nxt, "client snd_nxt == server rcv_nxt");
	CHECK_EQ(p->s.cap.tcp.snd_nxt, p->c.cap.tcp.rcv_nxt, "server snd_nxt == client rcv_nxt");
	CHECK_EQ(p->c.cap.tcp.rcv_nxt, flow_of(&cn->ks)->end, "client rcv_nxt (server's wire)");
	CHECK_EQ(p->s.cap.tcp.rcv_nxt, flow_of(&cn->kc)->end, "server rcv_nxt (client's wire)");
}

static void check_idle(const struct snap *s, const char *who)
{
	char what[128];

	snprintf(what, sizeof(what), "%s unacked", who);
	CHECK_EQ(s->cap.unacked, 0, what);
	snprintf(what, sizeof(what), "%s unsent", who);
	CHECK_EQ(s->cap.unsent, 0, what);
	snprintf(what, sizeof(what), "%s unread", who);
	CHECK_EQ(s->cap.unread, 0, what);
	snprintf(what, sizeof(what), "%s established", who);
	CHECK_EQ(s->cap.established, 1, what);
}

/*
 * The socket's next segment after a capture (one byte of data it is made to
 * send) must start at the captured snd_nxt, acknowledge rcv_nxt, echo ts_ecr,
 * and carry a TSval that is not below the captured ts_val (RFC 7323 PAWS:
 * what tko forges must never be newer than what the endpoint sends later)
 * and that the captured ts_offset explains.
 */
static void check_next_segment(int fd, const struct tko_key *k, const struct snap *s,
			       uint64_t t0)
{
	const struct tko_capture *c = &s->cap;
	struct flow *f = sniff_mark(k);
	uint64_t t_send = now_ns(), t_seen;
	bool usec = s->t.options & TCPI_OPT_USEC_TS;
	uint64_t d = ts_div(usec);

	if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
		fail_msg("send: %s", strerror(errno));
	WAIT_FOR((sniff_drain(), f->have_next), "the next segment of %s", key_str(k));
	t_seen = now_ns();
	CHECK_EQ(f->next.seq, c->tcp.snd_nxt, "seq of the next segment == captured snd_nxt");
	CHECK_EQ(f->next.ack, c->tcp.rcv_nxt, "ack of the next segment == captured rcv_nxt");
	CHECK_EQ(f->next.ts, !!(c->have & TKO_HAVE_TS), "the next segment has TSopt");
	if (!f->next.ts)
		return;
	CHECK_EQ(f->next.tsecr, c->tcp.ts_ecr, "TSecr of the next segment == captured ts_ecr");
	if (ts_diff(f->next.tsval, c->tcp.ts_val) < 0)
		fail_msg("captured ts_val %u is newer than the TSval %u the socket sends next",
			 c->tcp.ts_val, f->next.tsval);
	if ((uint64_t)ts_diff(f->next.tsval, c->tcp.ts_val) > (t_seen - t0) / d + 1)
		fail_msg("captured ts_val %u lags the next TSval %u by more than the %llu ms elapsed",
			 c->tcp.ts_val, f->next.tsval, (unsigned long long)((t_seen - t0) / 1000000));
	if (ts_diff(f->next.tsval - c->tcp.ts_offset, (uint32_t)(t_send / d)) < 0 ||
	    ts_diff((uint32_t)(t_seen / d), f->next.tsval - c->tcp.ts_offset) < 0)
		fail_msg("the next TSval %u - captured ts_offset %u is not the TCP clock at sending",
			 f->next.tsval, c->tcp.ts_offset);
}

/* check_next_segment for the client, then for the server, each on a fresh capture. */
static void check_next_segments(const struct conn *cn)
{
	struct pair_snap p;

	wait_acked(cn);
	snap_pair(cn, &p);
	check_next_segment(cn->c, &cn->kc, &p.c, p.t0);
	recv_n(cn->s, 1);
	wait_acked(cn);
	snap_pair(cn, &p);
	check_next_segment(cn->s, &cn->ks, &p.s, p.t0);
	recv_n(cn->c, 1);
	wait_acked(cn);
}

/* ---- the cases ----------------------------------------------------------- */

static const char *const fam_name[] = { "v4", "v6", "v6ula", "v4mapped" };

/* The fresh connection: the handshake's numbers, no data, timestamps, a window. */
static void test_idle(void **state)
{
	enum fam fam = (enum fam)(uintptr_t)*state;
	struct truth before[2], after[2];
	struct tko_capture c[2];
	struct pair_snap p;
	struct conn cn;
	int i;

	conn_open(&cn, fam, 0);
	wait_acked(&cn);
	snap_pair(&cn, &p);
	check_pair(&cn, &p);
	check_idle(&p.c, "client");
	check_idle(&p.s, "server");
	CHECK_EQ(p.c.cap.tcp.snd_nxt, flow_of(&cn.kc)->isn + 1, "client snd_nxt == its ISN + 1");
	CHECK_EQ(p.s.cap.tcp.snd_nxt, flow_of(&cn.ks)->isn + 1, "server snd_nxt == its ISN + 1");
	/* loopback negotiates TSopt and window scaling by default */
	if (!(p.c.t.options & TCPI_OPT_TIMESTAMPS) || !(p.s.t.options & TCPI_OPT_TIMESTAMPS))
		fail_msg("premise: the connection negotiated no timestamps");
	CHECK_EQ(p.c.cap.have, TKO_HAVE_SEQ | TKO_HAVE_UNA | TKO_HAVE_TS, "client have");
	CHECK_EQ(p.s.cap.have, TKO_HAVE_SEQ | TKO_HAVE_UNA | TKO_HAVE_TS, "server have");
	CHECK_EQ(p.c.cap.tcp.ts_clock, TKO_TS_CLOCK_MS, "client ts_clock (ms by default)");
	assert_true(p.c.cap.tcp.window > 0);
	assert_true(p.s.cap.tcp.window > 0);

	if (fam == FAM_MAPPED) {	/* the IPv6 shape of a v4-mapped tuple is not its key */
		struct tko_key k6 = {};
		struct tko_capture c6;

		k6.family = TKO_AF_INET6;
		k6.lport = cn.kc.lport;
		k6.rport = cn.kc.rport;
		v4mapped(k6.laddr, CLI4);
		v4mapped(k6.raddr, SRV4);
		c6 = cap_one(&k6);
		check_absent(&c6, "the v4-mapped tuple asked as IPv6");
	}

	/* capturing is passive: nothing on the wire, nothing moves in the socket */
	sniff_drain();
	truth_read(cn.c, &before[0]);
	truth_read(cn.s, &before[1]);
	for (i = 0; i < 5; i++) {
		struct tko_key k[2] = { cn.kc, cn.ks };

		cap_run(k, 2, c);
		if (!same_capture(&c[0], &p.c.cap) || !same_capture(&c[1], &p.s.cap))
			fail_msg("pass %d: the capture of an idle connection changed", i);
	}
	truth_read(cn.c, &after[0]);
	truth_read(cn.s, &after[1]);
	CHECK_EQ(sniff_drain(), 0, "segments sent while capturing");
	if (!same_truth(&before[0], &after[0]) || !same_truth(&before[1], &after[1]))
		fail_msg("capturing changed the sockets");

	check_next_segments(&cn);
	conn_close(&cn);
}

/* Data both ways, all read: the sequence numbers move by exactly the bytes. */
static void test_transfer(void **state)
{
	enum fam fam = (enum fam)(uintptr_t)*state;
	const size_t n1 = 200000, n2 = 1234;	/* n1: several 64 KB segments */
	struct pair_snap p0, p1;
	struct conn cn;

	conn_open(&cn, fam, 0);
	wait_acked(&cn);
	snap_pair(&cn, &p0);
	xfer(cn.c, cn.s, n1);
	xfer(cn.s, cn.c, n2);
	wait_acked(&cn);
	snap_pair(&cn, &p1);
	check_pair(&cn, &p1);
	check_idle(&p1.c, "client");
	check_idle(&p1.s, "server");
	CHECK_EQ(p1.c.cap.tcp.snd_nxt - p0.c.cap.tcp.snd_nxt, n1, "client snd_nxt advance");
	CHECK_EQ(p1.s.cap.tcp.rcv_nxt - p0.s.cap.tcp.rcv_nxt, n1, "server rcv_nxt advance");
	CHECK_EQ(p1.s.cap.tcp.snd_nxt - p0.s.cap.tcp.snd_nxt, n2, "server snd_nxt advance");
	CHECK_EQ(p1.c.cap.tcp.rcv_nxt - p0.c.cap.tcp.rcv_nxt, n2, "client rcv_nxt advance");
	CHECK_EQ(p1.c.cap.tcp.snd_nxt, flow_of(&cn.kc)->isn + 1 + n1, "client snd_nxt == ISN + 1 + n1");
	check_next_segments(&cn);
	conn_close(&cn);
}

/* Data that arrived and is not read: the receiver is not idle. */
static void test_unread(void **state)
{
	enum fam fam = (enum fam)(uintptr_t)*state;
	const size_t n = 5000;
	struct pair_snap p0, p1;
	struct conn cn;

	conn_open(&cn, fam, 0);
	wait_acked(&cn);
	snap_pair(&cn, &p0);
	send_n(cn.c, n);
	WAIT_FOR(inq(cn.s) == (int)n && outq(cn.c) == 0, "%zu bytes queued at the server", n);
	snap_pair(&cn, &p1);
	check_pair(&cn, &p1);
	CHECK_EQ(p1.s.cap.unread, n, "server unread");
	check_idle(&p1.c, "client");
	CHECK_EQ(p1.s.cap.unacked, 0, "server unacked");
	CHECK_EQ(p1.s.cap.unsent, 0, "server unsent");
	CHECK_EQ(p1.c.cap.tcp.snd_nxt - p0.c.cap.tcp.snd_nxt, n, "client snd_nxt advance");
	CHECK_EQ(p1.s.cap.tcp.rcv_nxt - p0.s.cap.tcp.rcv_nxt, n, "server rcv_nxt advance");

	recv_n(cn.s, n);
	wait_acked(&cn);
	snap_pair(&cn, &p1);
	check_pair(&cn, &p1);
	check_idle(&p1.s, "server after reading");
	conn_close(&cn);
}

/* Sent, never acknowledged: the receiver drops every segment (a socket filter). */
static void test_unacked(void **state)
{
	struct sock_filter drop[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = drop };
	const size_t n = 3000;
	struct pair_snap p0, p1;
	struct conn cn;
	int dummy = 0;

	conn_open(&cn, FAM_V4, 0);
	wait_acked(&cn);
	snap_pair(&cn, &p0);
	if (setsockopt(cn.s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		fail_msg("SO_ATTACH_FILTER: %s", strerror(errno));
	send_n(cn.c, n);
	WAIT_FOR(outq(cn.c) == (int)n && outq_nsd(cn.c) == 0, "%zu bytes sent, not acked", n);
	snap_pair(&cn, &p1);
	check_sock(&(struct ref){ cn.c, cn.kc }, &p1.c, p1.t0, p1.t1, 0, cn.born);
	check_sock(&(struct ref){ cn.s, cn.ks }, &p1.s, p1.t0, p1.t1, 0, cn.born);
	CHECK_EQ(p1.c.cap.unacked, n, "client unacked");
	CHECK_EQ(p1.c.cap.unsent, 0, "client unsent");
	CHECK_EQ(p1.c.cap.tcp.snd_nxt - p0.c.cap.tcp.snd_nxt, n, "client snd_nxt advance");
	CHECK_EQ(p1.s.cap.tcp.rcv_nxt, p0.s.cap.tcp.rcv_nxt, "server rcv_nxt (nothing arrived)");
	CHECK_EQ(p1.s.cap.unread, 0, "server unread");
	CHECK_EQ(p1.s.cap.established, 1, "server established");

	/* let the retransmission through */
	if (setsockopt(cn.s, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof(dummy)))
		fail_msg("SO_DETACH_FILTER: %s", strerror(errno));
	WAIT_FOR_S(inq(cn.s) == (int)n && outq(cn.c) == 0, RTO_DEADLINE_S,
		   "the retransmission");
	snap_pair(&cn, &p1);
	check_pair(&cn, &p1);
	CHECK_EQ(p1.c.cap.unacked, 0, "client unacked after the retransmission");
	CHECK_EQ(p1.s.cap.unread, n, "server unread after the retransmission");
	conn_close(&cn);
}

/* The receiver's window is full: the sender holds data it cannot send. */
static void test_unsent(void **state)
{
	static uint8_t buf[65536];
	int sndbuf = 256 * 1024;
	size_t queued = 0;
	struct pair_snap p;
	struct conn cn;

	conn_open(&cn, FAM_V4, 4096);	/* SO_RCVBUF on the listener: the accepted socket's */
	if (setsockopt(cn.c, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)))
		fail_msg("SO_SNDBUF: %s", strerror(errno));
	for (;;) {
		ssize_t r = send(cn.c, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0)
			fail_msg("send: %s", strerror(errno));
		queued += (size_t)r;
		if (queued > (16u << 20))
			fail_msg("the send buffer never filled");
	}
	/* a full send buffer behind a few-KB window: most of it cannot be sent */
	WAIT_FOR(outq_nsd(cn.c) > 0 && inq(cn.s) > 0, "a full receive window");
	snap_pair(&cn, &p);
	check_sock(&(struct ref){ cn.c, cn.kc }, &p.c, p.t0, p.t1, 0, cn.born);
	check_sock(&(struct ref){ cn.s, cn.ks }, &p.s, p.t0, p.t1, 0, cn.born);
	if (p.c.cap.unsent == 0)
		fail_msg("client unsent is 0 with %d bytes not sent", p.c.t.nsd);
	if (p.s.cap.unread == 0)
		fail_msg("server unread is 0 with %d bytes queued", p.s.t.inq);
	/* write_seq = ISN + 1 + all it was given = snd_nxt + unsent */
	CHECK_EQ(p.c.cap.tcp.snd_nxt - (flow_of(&cn.kc)->isn + 1) + p.c.cap.unsent, queued,
		 "client snd_nxt - (ISN + 1) + unsent == bytes written");
	/* the server read nothing: all it received is unread */
	CHECK_EQ(p.s.cap.tcp.rcv_nxt - (flow_of(&cn.kc)->isn + 1), p.s.cap.unread,
		 "server rcv_nxt - (client ISN + 1) == unread");
	conn_close(&cn);
}

/*
 * The peer's keepalive probe (seq = RCV.NXT - 1, out of the window) is what
 * tko answers: TSecr must stay TS.Recent, not the probe's TSval (which the
 * socket saw last but, RFC 7323 4.3, does not record). The socket's own
 * answer on the wire carries the truth.
 */
static void test_peer_keepalive(void **state)
{
	int on = 1, off = 0, idle = 1;
	struct flow *fc, *fs;
	struct pair_snap p;
	struct conn cn;

	conn_open(&cn, FAM_V4, 0);
	xfer(cn.c, cn.s, 100);
	xfer(cn.s, cn.c, 100);
	wait_acked(&cn);
	sniff_drain();
	fc = flow_of(&cn.kc);
	fs = sniff_mark(&cn.ks);
	if (setsockopt(cn.c, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) ||
	    setsockopt(cn.c, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle)) ||
	    setsockopt(cn.c, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)))
		fail_msg("keepalive options: %s", strerror(errno));
	/* one probe (1 s of idle) and the server's answer to it */
	WAIT_FOR((sniff_drain(), fs->have_next), "the answer to a keepalive probe");
	if (setsockopt(cn.c, SOL_SOCKET, SO_KEEPALIVE, &off, sizeof(off)))
		fail_msg("SO_KEEPALIVE: %s", strerror(errno));
	if (fc->last.seq != fc->end - 1 || fc->last.len != 0 || !fc->last.ts)
		fail_msg("premise: the client's last segment is not a keepalive probe");
	if (fs->next.tsecr == fc->last.tsval)
		fail_msg("premise: the answer echoes the probe's TSval");
	wait_acked(&cn);
	snap_pair(&cn, &p);
	check_pair(&cn, &p);
	check_idle(&p.c, "client");
	check_idle(&p.s, "server");
	CHECK_EQ(p.s.cap.tcp.ts_ecr, fs->next.tsecr, "server ts_ecr == TSecr of its answer to the probe");
	check_next_segments(&cn);
	conn_close(&cn);
}

/* Timestamps disabled in the netns: a new connection has none, the capture says so. */
static void test_no_timestamps(void **state)
{
	struct pair_snap p;
	struct conn cn;

	sysctl_set("/proc/sys/net/ipv4/tcp_timestamps", "0");
	conn_open(&cn, FAM_V4, 0);
	wait_acked(&cn);
	snap_pair(&cn, &p);
	if ((p.c.t.options | p.s.t.options) & TCPI_OPT_TIMESTAMPS)
		fail_msg("premise: timestamps negotiated with tcp_timestamps=0");
	if (flow_of(&cn.kc)->last.ts || flow_of(&cn.ks)->last.ts)
		fail_msg("premise: TSopt on the wire with tcp_timestamps=0");
	check_pair(&cn, &p);
	CHECK_EQ(p.c.cap.have, TKO_HAVE_SEQ | TKO_HAVE_UNA, "client have");
	CHECK_EQ(p.s.cap.have, TKO_HAVE_SEQ | TKO_HAVE_UNA, "server have");
	check_next_segments(&cn);
	conn_close(&cn);
}

/* One rtnetlink request and its acknowledgement: 0 or -errno. */
static int nl_talk(struct nlmsghdr *req)
{
	struct { struct nlmsghdr nh; struct nlmsgerr e; uint8_t more[256]; } ack;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int err = 0;

	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (fd < 0 || send(fd, req, req->nlmsg_len, 0) < 0 ||
	    recv(fd, &ack, sizeof(ack), 0) < (ssize_t)(sizeof(ack.nh) + sizeof(ack.e)))
		err = -errno;
	else if (ack.nh.nlmsg_type != NLMSG_ERROR)
		err = -EPROTO;
	else
		err = ack.e.error;
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * rtnetlink: a local /32 route for a (127.x) address with the tcp_usec_ts
 * feature; the kernel's answer (0 or -errno).
 */
static int route_usec_try(int cmd, const uint8_t *a4)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		uint8_t attrs[64];
	} req = {
		.nh = { .nlmsg_type = (uint16_t)cmd,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
				       (cmd == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0) },
		.rt = { .rtm_family = AF_INET, .rtm_dst_len = 32, .rtm_table = RT_TABLE_LOCAL,
			.rtm_protocol = RTPROT_STATIC, .rtm_scope = RT_SCOPE_HOST,
			.rtm_type = RTN_LOCAL },
	};
	uint8_t *p = req.attrs;
	struct rtattr *ra, *nest;
	int ifindex = (int)if_nametoindex("lo");
	uint32_t feat = RTAX_FEATURE_TCP_USEC_TS;
	int err;

	ra = (void *)p;
	ra->rta_type = RTA_DST;
	ra->rta_len = RTA_LENGTH(4);
	memcpy(RTA_DATA(ra), a4, 4);
	p += RTA_ALIGN(ra->rta_len);
	ra = (void *)p;
	ra->rta_type = RTA_OIF;
	ra->rta_len = RTA_LENGTH(4);
	memcpy(RTA_DATA(ra), &ifindex, 4);
	p += RTA_ALIGN(ra->rta_len);
	nest = (void *)p;
	nest->rta_type = RTA_METRICS;
	ra = RTA_DATA(nest);
	ra->rta_type = RTAX_FEATURES;
	ra->rta_len = RTA_LENGTH(4);
	memcpy(RTA_DATA(ra), &feat, 4);
	nest->rta_len = RTA_LENGTH(RTA_ALIGN(ra->rta_len));
	p += RTA_ALIGN(nest->rta_len);
	req.nh.nlmsg_len = (uint32_t)(p - (uint8_t *)&req);

	err = nl_talk(&req.nh);
	if (!err && cmd == RTM_NEWROUTE)
		memcpy(usec_routes[nroutes++], a4, 4);
	return err;
}

static void route_usec(int cmd, const uint8_t *a4)
{
	int err = route_usec_try(cmd, a4);

	if (err)
		fail_msg("%s route with tcp_usec_ts: %s", cmd == RTM_NEWROUTE ? "adding" : "removing",
			 strerror(-err));
}

static void routes_restore(void)
{
	while (nroutes) {
		nroutes--;
		route_usec(RTM_DELROUTE, usec_routes[nroutes]);
	}
}

/* A route with tcp_usec_ts (Linux 6.7+): TSval in microseconds, TKO_TS_CLOCK_US. */
static void test_usec_timestamps(void **state)
{
	static const uint8_t CLI_US[4] = { 127, 0, 0, 8 };
	struct pair_snap p;
	struct conn cn;
	int err;

	if (!(tko_kernel_features(false) & TKO_FEAT_USEC_TS)) {
		/* Before 6.7 (6.1, 6.6): no such timestamps, so none to capture;
		 * the kernel must agree with the probe that says so. */
		err = route_usec_try(RTM_NEWROUTE, CLI_US);
		if (err != -EINVAL)
			fail_msg("tcp_sock has no tcp_usec_ts, yet a route asking for it: %s",
				 err ? strerror(-err) : "accepted");
		printf("# this kernel has no microsecond TCP timestamps (Linux 6.7+): "
		       "the route is refused, as tko's probe says\n");
		return;
	}
	route_usec(RTM_NEWROUTE, CLI_US);	/* the server's route back to the client */
	route_usec(RTM_NEWROUTE, SRV4);		/* the client's route to the server */
	conn_open_from(&cn, FAM_V4, CLI_US, listen_on(FAM_V4, 0));
	wait_acked(&cn);
	snap_pair(&cn, &p);
	if (!(p.c.t.options & TCPI_OPT_USEC_TS) || !(p.s.t.options & TCPI_OPT_USEC_TS))
		fail_msg("premise: the route's tcp_usec_ts gave no usec timestamps (client %#x, server %#x)",
			 p.c.t.options, p.s.t.options);
	check_pair(&cn, &p);
	CHECK_EQ(p.c.cap.tcp.ts_clock, TKO_TS_CLOCK_US, "client ts_clock");
	CHECK_EQ(p.s.cap.tcp.ts_clock, TKO_TS_CLOCK_US, "server ts_clock");
	xfer(cn.c, cn.s, 1000);
	check_next_segments(&cn);
	conn_close(&cn);
}

/* Window scaling disabled: wscale 0, the window is RCV.WND itself. */
static void test_no_window_scaling(void **state)
{
	struct pair_snap p;
	struct conn cn;

	sysctl_set("/proc/sys/net/ipv4/tcp_window_scaling", "0");
	conn_open(&cn, FAM_V4, 0);
	xfer(cn.c, cn.s, 100000);
	xfer(cn.s, cn.c, 100000);
	wait_acked(&cn);
	snap_pair(&cn, &p);
	if ((p.c.t.options | p.s.t.options) & TCPI_OPT_WSCALE)
		fail_msg("premise: window scaling negotiated with tcp_window_scaling=0");
	check_pair(&cn, &p);
	CHECK_EQ(p.c.cap.tcp.wscale, 0, "client wscale");
	CHECK_EQ(p.s.cap.tcp.wscale, 0, "server wscale");
	if (p.c.t.has_rcv_wnd) {	/* else check_pair held it to the wire's */
		CHECK_EQ(p.c.cap.tcp.window, p.c.t.rcv_wnd, "client window == rcv_wnd");
		CHECK_EQ(p.s.cap.tcp.window, p.s.t.rcv_wnd, "server window == rcv_wnd");
	}
	conn_close(&cn);
}

/* Tuples with no socket are left alone, next to one that is found in the same pass. */
static void test_absent(void **state)
{
	struct conn v4, v6, ula;
	struct tko_key k[10];
	struct tko_capture c[10];
	uint8_t m[16];
	size_t i;

	conn_open(&v4, FAM_V4, 0);
	conn_open(&v6, FAM_V6, 0);
	conn_open(&ula, FAM_V6ULA, 0);
	k[0] = v4.kc;					/* found */
	k[1] = key4(NOBODY4, v4.kc.lport, SRV4, v4.kc.rport);	/* another local address */
	k[2] = key4(CLI4, v4.kc.lport, NOBODY4, v4.kc.rport);	/* another remote address */
	k[3] = key4(CLI4, v4.kc.lport, SRV4, 1);		/* another remote port */
	k[4] = k[0];
	k[4].family = TKO_AF_INET6;			/* the v4 tuple as IPv6 */
	k[5] = v6.kc;
	k[5].family = TKO_AF_INET;			/* the v6 tuple as IPv4 */
	k[6] = key6(LO6, v6.kc.lport, LO6, 1);
	v4mapped(m, CLI4);
	k[7] = key6(m, v4.kc.lport, m, v4.kc.rport);
	v4mapped(k[7].raddr, SRV4);			/* v4-mapped shape of a v4 socket */
	k[8] = key6(SRV6, ula.kc.lport, CLI6, ula.kc.rport);	/* addresses swapped */
	k[9] = key4(SRV4, v4.kc.lport, CLI4, v4.kc.rport);	/* addresses swapped */
	for (i = 1; i < 10; i++)
		if (diag_state(&k[i]) != -1)
			fail_msg("premise: %s exists", key_str(&k[i]));
	cap_run(k, 10, c);
	CHECK_EQ(c[0].found, 1, "the real tuple");
	CHECK_EQ(c[0].established, 1, "the real tuple established");
	for (i = 1; i < 10; i++) {
		char what[160];

		snprintf(what, sizeof(what), "absent tuple %zu %s", i, key_str(&k[i]));
		check_absent(&c[i], what);
	}
	conn_close(&v4);
	conn_close(&v6);
	conn_close(&ula);
}

/*
 * Listening sockets are full TCP sockets: the iterator finds their tuple
 * (remote address and port zero) and reports it not established, which
 * libtko turns into -ENOTCONN.
 */
static void test_listener(void **state)
{
	int l4 = listen_on(FAM_V4, 0), l6 = listen_on(FAM_V6, 0), ld = listen_on(FAM_MAPPED, 0);
	static const uint8_t ANY4[4], ANY6[16];
	struct tko_key k[3] = {
		key4(SRV4, local_port(l4), ANY4, 0),
		key6(LO6, local_port(l6), ANY6, 0),
		key6(ANY6, local_port(ld), ANY6, 0),	/* dual stack: [::] */
	};
	struct tko_capture c[3];
	size_t i;

	for (i = 0; i < 3; i++)
		CHECK_EQ(diag_state(&k[i]), ST_LISTEN, "premise: sock_diag state");
	cap_run(k, 3, c);
	for (i = 0; i < 3; i++) {
		char what[160];

		snprintf(what, sizeof(what), "listener %s found", key_str(&k[i]));
		CHECK_EQ(c[i].found, 1, what);
		snprintf(what, sizeof(what), "listener %s established", key_str(&k[i]));
		CHECK_EQ(c[i].established, 0, what);
		CHECK_EQ(c[i].unread, 0, "listener unread");
	}
	close_all();
}

/*
 * A handshake that cannot complete (the client drops the SYN-ACK): the
 * client in SYN_SENT is found, not established, its SYN counted in
 * snd_nxt; the server's request socket is not a full socket: not found.
 */
static void test_handshake(void **state)
{
	struct sock_filter drop[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = drop };
	int l = listen_on(FAM_V4, 0), c;
	struct tko_key k[2];
	struct tko_capture cap[2];

	c = connect_to(FAM_V4, CLI4, local_port(l), true, &prog);
	k[0] = key4(CLI4, local_port(c), SRV4, local_port(l));
	k[1] = reverse(&k[0]);
	WAIT_FOR(diag_state(&k[0]) == ST_SYN_SENT && diag_state(&k[1]) == ST_SYN_RECV,
		 "a SYN_SENT client and a SYN_RECV request socket");
	cap_run(k, 2, cap);
	sniff_drain();
	CHECK_EQ(cap[0].found, 1, "SYN_SENT client found");
	CHECK_EQ(cap[0].established, 0, "SYN_SENT client established");
	CHECK_EQ(cap[0].tcp.snd_nxt, flow_of(&k[0])->isn + 1, "SYN_SENT snd_nxt == ISN + 1");
	CHECK_EQ(cap[0].unsent, 0, "SYN_SENT unsent");
	check_absent(&cap[1], "the request socket");
	close_all();
}

/* shutdown(SHUT_WR): FIN_WAIT2 and CLOSE_WAIT are found, not established. */
static void test_half_close(void **state)
{
	struct pair_snap p0, p;
	struct conn cn;
	char b;

	conn_open(&cn, FAM_V4, 0);
	xfer(cn.c, cn.s, 777);
	wait_acked(&cn);
	snap_pair(&cn, &p0);
	if (shutdown(cn.c, SHUT_WR))
		fail_msg("shutdown: %s", strerror(errno));
	WAIT_FOR(tcp_state(cn.c) == ST_FIN_WAIT2 && tcp_state(cn.s) == ST_CLOSE_WAIT,
		 "FIN_WAIT2 / CLOSE_WAIT");
	snap_pair(&cn, &p);
	check_sock(&(struct ref){ cn.c, cn.kc }, &p.c, p.t0, p.t1, 0, cn.born);
	/* RCV.NXT counts the FIN, copied_seq passes it only when the EOF is read */
	check_sock(&(struct ref){ cn.s, cn.ks }, &p.s, p.t0, p.t1, 1, cn.born);
	CHECK_EQ(p.c.cap.established, 0, "FIN_WAIT2 established");
	CHECK_EQ(p.s.cap.established, 0, "CLOSE_WAIT established");
	CHECK_EQ(p.c.cap.tcp.snd_nxt, p0.c.cap.tcp.snd_nxt + 1, "client snd_nxt counts its FIN");
	CHECK_EQ(p.s.cap.tcp.rcv_nxt, p.c.cap.tcp.snd_nxt, "server rcv_nxt counts the FIN");
	CHECK_EQ(p.s.cap.unread, 1, "server unread: the FIN, not yet read");

	if (recv(cn.s, &b, 1, 0) != 0)
		fail_msg("the server reads no EOF");
	snap_pair(&cn, &p);
	check_sock(&(struct ref){ cn.s, cn.ks }, &p.s, p.t0, p.t1, 0, cn.born);
	CHECK_EQ(p.s.cap.unread, 0, "server unread after reading the EOF");
	conn_close(&cn);
}

/* Both sides closed: a TIME_WAIT tuple and a CLOSE socket are not found. */
static void test_closed(void **state)
{
	struct ref r[2];
	struct snap s[2];
	uint64_t t0, t1;
	struct conn cn;

	conn_open(&cn, FAM_V4, 0);
	xfer(cn.c, cn.s, 100);
	if (shutdown(cn.c, SHUT_WR))
		fail_msg("shutdown: %s", strerror(errno));
	WAIT_FOR(tcp_state(cn.s) == ST_CLOSE_WAIT, "CLOSE_WAIT");
	if (shutdown(cn.s, SHUT_WR))
		fail_msg("shutdown: %s", strerror(errno));
	/* the fds stay open: their sockets are CLOSE, the client's tuple is a time-wait socket */
	WAIT_FOR(tcp_state(cn.c) == ST_CLOSE && tcp_state(cn.s) == ST_CLOSE, "both CLOSE");
	CHECK_EQ(diag_state(&cn.kc), ST_TIME_WAIT, "premise: the client tuple is in TIME_WAIT");
	CHECK_EQ(diag_state(&cn.ks), -1, "premise: the server tuple is gone");
	r[0] = (struct ref){ cn.c, cn.kc };
	r[1] = (struct ref){ cn.s, cn.ks };
	snapshot(r, 2, s, &t0, &t1);
	check_absent(&s[0].cap, "TIME_WAIT tuple");
	check_absent(&s[1].cap, "closed server tuple");
	conn_close(&cn);
	CHECK_EQ(diag_state(&cn.kc), ST_TIME_WAIT, "TIME_WAIT after close");
	check_absent((struct tko_capture[]){ cap_one(&cn.kc) }, "TIME_WAIT tuple, fds closed");
}

/* Many tuples in one pass: 40 IPv4 and 10 IPv6 connections, and absent tuples. */
#define MANY_V4	40
#define MANY_V6	10
#define MANY	(MANY_V4 + MANY_V6)
#define ABSENT	20
static void test_many(void **state)
{
	static struct conn cn[MANY];
	struct ref r[2 * MANY + ABSENT];
	struct snap s[2 * MANY + ABSENT];
	int l4 = listen_on(FAM_V4, 0), l6 = listen_on(FAM_V6ULA, 0);
	uint64_t t0, t1;
	size_t i, n = 0;

	for (i = 0; i < MANY; i++) {
		uint8_t src[4] = { 127, 0, 0, (uint8_t)(10 + i % 5) };

		conn_open_from(&cn[i], i < MANY_V4 ? FAM_V4 : FAM_V6ULA, src,
			       i < MANY_V4 ? l4 : l6);
		cn[i].l = -1;	/* the listeners are shared: closed by close_all */
		if (i % 3 == 0)
			xfer(cn[i].c, cn[i].s, 100 + i);
	}
	for (i = 0; i < MANY; i++) {
		wait_acked(&cn[i]);
		r[n++] = (struct ref){ cn[i].c, cn[i].kc };
		r[n++] = (struct ref){ cn[i].s, cn[i].ks };
	}
	for (i = 0; i < ABSENT; i++) {
		struct tko_key k = cn[i].kc;

		/* a local address nobody uses, one per key (client ports repeat across sources) */
		k.laddr[k.family == TKO_AF_INET6 ? 15 : 3] = (uint8_t)(100 + i);
		r[n++] = (struct ref){ -1, k };
	}
	snapshot(r, n, s, &t0, &t1);	/* each try is one pass over all of them */
	for (i = 0; i < MANY; i++) {
		const struct snap *sc = &s[2 * i], *ss = &s[2 * i + 1];

		check_sock(&r[2 * i], sc, t0, t1, 0, cn[i].born);
		check_sock(&r[2 * i + 1], ss, t0, t1, 0, cn[i].born);
		check_idle(sc, "client");
		check_idle(ss, "server");
		CHECK_EQ(sc->cap.tcp.snd_nxt, ss->cap.tcp.rcv_nxt, "client snd_nxt == server rcv_nxt");
		CHECK_EQ(ss->cap.tcp.snd_nxt, sc->cap.tcp.rcv_nxt, "server snd_nxt == client rcv_nxt");
		CHECK_EQ(sc->cap.tcp.snd_nxt, flow_of(&cn[i].kc)->isn + 1 + (i % 3 ? 0 : 100 + i),
			 "client snd_nxt == ISN + 1 + bytes sent");
	}
	for (i = 2 * MANY; i < n; i++)
		check_absent(&s[i].cap, key_str(&r[i].k));
	for (i = 0; i < MANY; i++)
		conn_close(&cn[i]);
	close_all();
}

/*
 * The iterator walks the sockets of the netns of whoever creates the
 * iterator: a connection in another netns is found there, not here, by
 * the very same objects.
 */
static void test_other_netns(void **state)
{
	int up[2], down[2];
	struct tko_key k = {};
	struct tko_capture c;
	int st, child_found = -1;
	pid_t pid;
	char b;

	if (pipe(up) || pipe(down))
		fail_msg("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {	/* no cmocka here: report through the pipe, _exit */
		struct ifreq ifr = { .ifr_name = "lo" };
		union sa u;
		socklen_t sl;
		int lfd, cfd, sfd, it, fd, map = cap_map();
		struct tko_capture ans = {};
		char buf[64];
		int found = -1;

		close(up[0]);
		close(down[1]);
		if (unshare(CLONE_NEWNET))
			_exit(2);
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
			_exit(3);
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			_exit(3);
		close(fd);
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		sl = sa_of(FAM_V4, SRV4, NULL, 0, &u);
		if (lfd < 0 || bind(lfd, &u.sa, sl) || listen(lfd, 1))
			_exit(4);
		sl = sizeof(u);
		getsockname(lfd, &u.sa, &sl);
		cfd = socket(AF_INET, SOCK_STREAM, 0);
		if (cfd < 0 || connect(cfd, &u.sa, sl) || (sfd = accept(lfd, NULL, NULL)) < 0)
			_exit(5);
		(void)sfd;
		sl = sizeof(u);
		getsockname(cfd, &u.sa, &sl);
		k.family = TKO_AF_INET;
		memcpy(k.laddr, &u.in.sin_addr, 4);
		k.lport = ntohs(u.in.sin_port);
		sl = sizeof(u);
		getpeername(cfd, &u.sa, &sl);
		memcpy(k.raddr, &u.in.sin_addr, 4);
		k.rport = ntohs(u.in.sin_port);
		if (!bpf_map_update_elem(map, &k, &ans, BPF_NOEXIST) &&
		    (it = bpf_iter_create(bpf_link__fd(H.b.iter_link))) >= 0) {
			while (read(it, buf, sizeof(buf)) > 0)
				;
			close(it);
			if (!bpf_map_lookup_elem(map, &k, &ans))
				found = ans.found && ans.established;
			bpf_map_delete_elem(map, &k);
		}
		if (write(up[1], &k, sizeof(k)) != sizeof(k) ||
		    write(up[1], &found, sizeof(found)) != sizeof(found))
			_exit(6);
		if (read(down[0], &b, 1) < 0)	/* the sockets live until the parent is done */
			_exit(7);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &k, sizeof(k)) != sizeof(k) ||
	    read(up[0], &child_found, sizeof(child_found)) != sizeof(child_found)) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("the child in its own netns failed (status %d)", WEXITSTATUS(st));
	}
	close(up[0]);
	CHECK_EQ(diag_state(&k), -1, "premise: the child's tuple does not exist in this netns");
	c = cap_one(&k);
	if (write(down[1], "x", 1) != 1)
		fail_msg("pipe: %s", strerror(errno));
	close(down[1]);
	waitpid(pid, &st, 0);
	CHECK_EQ(child_found, 1, "the child's connection found by a pass in the child's netns");
	check_absent(&c, "the other netns's tuple, from this netns");
	CHECK_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : 255, 0, "the child's exit status");
}

/* ---- fixtures ------------------------------------------------------------ */

static int test_setup(void **state)
{
	map_clear(cap_map());
	sniff_reset();
	return 0;
}

static int test_teardown(void **state)
{
	close_all();
	sysctl_restore();
	routes_restore();
	map_clear(cap_map());
	return 0;
}

static int group_setup(void **state)
{
	if (h_load(16))
		return -1;
	if (sniff_open()) {
		h_destroy();
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	if (S.fd >= 0)
		close(S.fd);
	h_destroy();
	return 0;
}

/* An IPv6 address on lo, usable at once (no DAD). */
static int addr6_add(const uint8_t *a6)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		struct rtattr ra;
		uint8_t addr[16];
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_NEWADDR,
			.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL },
		.ifa = { .ifa_family = AF_INET6, .ifa_prefixlen = 128, .ifa_flags = IFA_F_NODAD,
			 .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = if_nametoindex("lo") },
		.ra = { .rta_len = RTA_LENGTH(16), .rta_type = IFA_LOCAL },
	};
	int err;

	memcpy(req.addr, a6, 16);
	err = nl_talk(&req.nh);
	if (err)
		fprintf(stderr, "cannot add an IPv6 address to lo: %s\n", strerror(-err));
	return err;
}

/* A network namespace of this process's own, its loopback up. */
static int netns_setup(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		fprintf(stderr, "lo: %s\n", strerror(errno));
		return -1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr)) {
		fprintf(stderr, "cannot bring lo up: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return addr6_add(CLI6) || addr6_add(SRV6) ? -1 : 0;
}

#define T(name, fn, arg) { name, fn, test_setup, test_teardown, (void *)(uintptr_t)(arg) }

int main(void)
{
	struct CMUnitTest tests[40];
	static char names[3][4][32];
	static void (*const per_fam[3])(void **) = { test_idle, test_transfer, test_unread };
	static const char *const per_fam_name[3] = { "idle_pair", "transfer", "unread" };
	size_t n = 0, i, f;

	if (netns_setup())
		return 1;
	for (i = 0; i < 3; i++)
		for (f = 0; f < 4; f++) {
			snprintf(names[i][f], sizeof(names[i][f]), "%s_%s", per_fam_name[i],
				 fam_name[f]);
			tests[n++] = (struct CMUnitTest)T(names[i][f], per_fam[i], f);
		}
	tests[n++] = (struct CMUnitTest)T("unacked_receiver_drops", test_unacked, 0);
	tests[n++] = (struct CMUnitTest)T("unsent_window_full", test_unsent, 0);
	tests[n++] = (struct CMUnitTest)T("peer_keepalive_probe", test_peer_keepalive, 0);
	tests[n++] = (struct CMUnitTest)T("timestamps_off", test_no_timestamps, 0);
	tests[n++] = (struct CMUnitTest)T("timestamps_usec_route", test_usec_timestamps, 0);
	tests[n++] = (struct CMUnitTest)T("window_scaling_off", test_no_window_scaling, 0);
	tests[n++] = (struct CMUnitTest)T("absent_tuples", test_absent, 0);
	tests[n++] = (struct CMUnitTest)T("listeners", test_listener, 0);
	tests[n++] = (struct CMUnitTest)T("handshake_syn_sent_syn_recv", test_handshake, 0);
	tests[n++] = (struct CMUnitTest)T("half_close", test_half_close, 0);
	tests[n++] = (struct CMUnitTest)T("closed_time_wait", test_closed, 0);
	tests[n++] = (struct CMUnitTest)T("many_tuples_one_pass", test_many, 0);
	tests[n++] = (struct CMUnitTest)T("other_netns", test_other_netns, 0);
	return _cmocka_run_group_tests("prog_capture", tests, n, group_setup, group_teardown);
}
