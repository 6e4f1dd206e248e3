// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of waking a sleeping endpoint (--wake, bpf/lib/wake.h):
 *  - which of the peer's segments at XDP ask the agent for a wake (struct
 *    tko_wake on the signals ring), when, and how often: an ACTIVE session
 *    at once, any other once the peer's data waited a second, one a second,
 *    TKO_WAKE_BURST an episode, an episode over when the endpoint speaks;
 *    never for a probe, an off-path segment, a session without --wake;
 *  - a full signals ring: every wake it refused counted and reported;
 *  - where TC egress learns the endpoint is (the wake interface its segment
 *    came in on, the neighbour entry of its address there), and the
 *    warning when it cannot;
 *  - tko_start's checks of --wake, and tko_wake_done's counters and events.
 *
 * The program runs in a network namespace of its own (unshare at start):
 * the wake interfaces are veth pairs there, the neighbour entries static.
 */
#define _GNU_SOURCE
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "harness.h"
#include "flows.h"

#define WAKE_MAC_GIVEN	{ 0x02, 0x77, 0x61, 0x6b, 0x65, 0x01 }
/* The device of flows.h (10.1.2.3, 2001:db8:1::3) on w0, as neighbours know it. */
static const uint8_t DEV_MAC_NEIGH[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x33 };
#define ROUTED_DEV	"10.9.0.3"	/* a device behind a router on w0 */

static int if_w0, if_w1;	/* a wake interface; one that is not */

/* ---- the namespace ------------------------------------------------------ */

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/*
 * w0 (a wake interface) and w1, each a veth (an ARP link: its neighbour
 * entries are the peers' MACs, not its own), forwarding on as on a gateway
 * (bpf_fib_lookup refuses a device that does not forward).
 */
static int net_setup(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	if (sh("ip link set lo up && "
	       "ip link add w0 type veth peer name w0p && ip link add w1 type veth peer name w1p && "
	       "for i in w0 w0p w1 w1p; do ip link set $i up || exit 1; done && "
	       "sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1 && "
	       "ip addr add 10.1.2.1/24 dev w0 && ip -6 addr add 2001:db8:1::1/64 dev w0 nodad && "
	       "ip addr add 10.7.0.1/24 dev w1 && "
	       "ip route add 10.9.0.0/16 via 10.1.2.254 dev w0 && "
	       "ip neigh add 10.1.2.254 lladdr 02:00:00:00:00:fe dev w0 nud permanent && "
	       "ip neigh add 10.1.2.3 lladdr 02:00:00:00:00:33 dev w0 nud permanent && "
	       "ip -6 neigh add 2001:db8:1::3 lladdr 02:00:00:00:00:33 dev w0 nud permanent")) {
		fprintf(stderr, "cannot set up the test's interfaces\n");
		return -1;
	}
	if_w0 = if_nametoindex("w0");
	if_w1 = if_nametoindex("w1");
	return if_w0 && if_w1 ? 0 : -1;
}

/* The agent's wake interfaces and hook, as carrier_set_wake() writes them. */
static void set_wake(int ifindex, bool hook)
{
	struct tko_carrier_state c;
	int fd = bpf_map__fd(H.b.ctl->maps.carrier);
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &c), 0);
	memset(c.wake_ifindex, 0, sizeof(c.wake_ifindex));
	c.wake_ifindex[0] = ifindex;
	c.wake_hook = hook;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &c, BPF_ANY), 0);
}

/* ---- the signals ring --------------------------------------------------- */

#define MAX_WAKES 1024
static struct tko_wake wakes[MAX_WAKES];
static size_t nwakes;
static struct ring_buffer *sig_rb;

static int on_signal(void *ctx, void *data, size_t len)
{
	const struct tko_signal *sig = data;

	if (len >= sizeof(*sig) && sig->type == TKO_SIG_WAKE) {
		assert_int_equal(len, sizeof(struct tko_wake));
		if (nwakes < MAX_WAKES)
			memcpy(&wakes[nwakes], data, sizeof(wakes[0]));
		nwakes++;
	}
	return 0;
}

/* The wakes asked since the last call (the ring read to its end). */
static size_t wakes_new(void)
{
	nwakes = 0;
	ring_buffer__consume(sig_rb);
	return nwakes;
}

/* ---- sessions ------------------------------------------------------------ */

/* A session of profile prof with --wake and the given MAC, ACTIVE unless P_LEARNING. */
static struct tko_key wake_session(unsigned prof, uint16_t port, bool wake)
{
	struct tko_ctl_args a = sess_args(prof, port);
	const uint8_t mac[6] = WAKE_MAC_GIVEN;

	if (wake) {
		a.cfg.flags |= TKO_F_WAKE;
		memcpy(a.cfg.wake_mac, mac, 6);
	}
	CHECK_EQ(h_start(&a), 0, "tko_start");
	if (sess_goes_active(prof))
		assert_true(h_wait_state(&a.key, 1, TKO_ACTIVE));
	h_drain();
	wakes_new();
	return a.key;
}

/* The peer's segment of n bytes at RCV.NXT + dseq (flags: F_ACK, maybe F_FIN). */
static int peer_seg(unsigned prof, uint16_t port, int32_t dseq, uint8_t flags, size_t n,
		    int32_t dack)
{
	struct seg_spec s = from_peer(prof, port);
	uint8_t out[FRAME_MAX];
	struct frame f;
	size_t out_len;

	s.seq = sess_tcp(prof).rcv_nxt + dseq;
	s.ack += dack;
	s.flags = flags;
	s.payload = n;
	frame_build(&f, &s);
	return h_run_xdp(f.b, f.len, out, &out_len);
}

static int peer_data(unsigned prof, uint16_t port)
{
	return peer_seg(prof, port, 0, F_ACK | F_PSH, 20, 0);
}

static struct tko_session session_of(const struct tko_key *k, __u32 *id)
{
	struct tko_session s;

	assert_true(h_find(k, id, &s));
	return s;
}

static void sleep_ns(uint64_t t)
{
	struct timespec ts = { (time_t)(t / NSEC_PER_SEC), (long)(t % NSEC_PER_SEC) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* One wake asked for session k, as the datapath should have filled it. */
static void check_wake(const struct tko_wake *w, const struct tko_key *k, __u32 id,
		       __u8 reason, __u32 n, uint64_t t0, uint64_t t1)
{
	const uint8_t mac[6] = WAKE_MAC_GIVEN;

	CHECK_EQ(w->type, TKO_SIG_WAKE, "wake.type");
	CHECK_EQ(w->id, id, "wake.id");
	if (!key_eq(&w->key, k))
		fail_msg("wake.key is not the session's");
	if (memcmp(w->mac, mac, 6))
		fail_msg("wake.mac is not the session's");
	CHECK_EQ(w->known, 1, "wake.known");
	CHECK_EQ(w->reason, reason, "wake.reason");
	CHECK_EQ(w->ifindex, 0, "wake.ifindex (given MAC: every wake interface)");
	CHECK_EQ(w->wakes, n, "wake.wakes");
	if (w->ts_ns < t0 || w->ts_ns > t1)
		fail_msg("wake.ts_ns %llu outside [%llu, %llu]", (unsigned long long)w->ts_ns,
			 (unsigned long long)t0, (unsigned long long)t1);
}

/* ---- the XDP side ------------------------------------------------------- */

/*
 * An ACTIVE session's endpoint has been idle: the peer's data wakes it at
 * once. The peer's retransmissions wake it again a second apart, at most
 * TKO_WAKE_BURST times; the endpoint speaking ends the episode, and the
 * next data (the session SUSPENDED now) waits a second before a wake.
 */
static void test_active_wakes_at_once(void **state)
{
	const unsigned prof = P_V4 | P_TS;
	const uint16_t port = 30001;
	struct tko_key k = wake_session(prof, port, true);
	struct tko_session s;
	uint64_t t0, t1;
	__u32 id;
	int i;

	t0 = now_ns();
	CHECK_EQ(peer_data(prof, port), XDP_PASS, "verdict of the data");
	t1 = now_ns();
	CHECK_EQ(wakes_new(), 1, "wakes for the data");
	s = session_of(&k, &id);
	check_wake(&wakes[0], &k, id, TKO_R_DATA_PEER, 1, t0, t1);
	CHECK_EQ(s.state, TKO_SUSPENDED, "state after the data");
	CHECK_EQ(s.wakes, 1, "session wakes");
	if (s.wake_ns < t0 || s.wake_ns > t1 || s.wake_since_ns < t0 || s.wake_since_ns > t1)
		fail_msg("wake_ns/wake_since_ns not the data's time");

	/* retransmitted at once: a wake a second at most */
	CHECK_EQ(peer_data(prof, port), XDP_PASS, "verdict of a retransmission");
	CHECK_EQ(wakes_new(), 0, "wakes within the second");
	for (i = 2; i <= TKO_WAKE_BURST; i++) {
		s = session_of(&k, &id);
		sleep_ns(s.wake_ns + TKO_WAKE_GAP_NS);
		t0 = now_ns();
		peer_data(prof, port);
		CHECK_EQ(wakes_new(), 1, "a wake a second later");
		check_wake(&wakes[0], &k, id, TKO_R_DATA_PEER, i, t0, now_ns());
	}
	s = session_of(&k, &id);
	sleep_ns(s.wake_ns + TKO_WAKE_GAP_NS);
	peer_data(prof, port);
	CHECK_EQ(wakes_new(), 0, "wakes beyond the burst");

	/* the endpoint speaks (its ACK at TC egress): the episode is over */
	{
		struct seg_spec e = from_endpoint(prof, port);
		uint8_t out[FRAME_MAX];
		struct frame f;
		size_t out_len;

		frame_build(&f, &e);
		h_run_tc(f.b, f.len, 0, out, &out_len);
	}
	s = session_of(&k, &id);
	CHECK_EQ(s.wake_since_ns, 0, "episode after the endpoint spoke");
	CHECK_EQ(s.wakes, 0, "wakes after the endpoint spoke");
	t0 = now_ns();
	peer_data(prof, port);
	t1 = now_ns();	/* the data's time, as the program took it, is in [t0, t1] */
	CHECK_EQ(wakes_new(), 0, "a SUSPENDED session's data: no wake at once");
	sleep_ns(t1 + TKO_WAKE_QUIET_NS);
	peer_data(prof, port);
	CHECK_EQ(wakes_new(), 1, "its retransmission a second later wakes");
	check_wake(&wakes[0], &k, id, TKO_R_DATA_PEER, 1, t0, now_ns());
}

/* A LEARNING session's endpoint was just heard: only unanswered data wakes it. */
static void test_learning_waits(void **state)
{
	const unsigned prof = P_V6 | P_LEARNING;
	const uint16_t port = 30002;
	struct tko_key k = wake_session(prof, port, true);
	uint64_t t0 = now_ns(), t1;
	__u32 id;

	peer_data(prof, port);
	t1 = now_ns();	/* the data's time, as the program took it, is in [t0, t1] */
	CHECK_EQ(wakes_new(), 0, "wakes at the data");
	CHECK_EQ(session_of(&k, &id).state, TKO_LEARNING, "state");
	sleep_ns(t0 + TKO_WAKE_QUIET_NS / 2);
	peer_data(prof, port);
	CHECK_EQ(wakes_new(), 0, "wakes half a second on");
	sleep_ns(t1 + TKO_WAKE_QUIET_NS);
	peer_data(prof, port);
	CHECK_EQ(wakes_new(), 1, "wakes a second on, the endpoint silent");
	check_wake(&wakes[0], &k, id, TKO_R_DATA_PEER, 1, t0, now_ns());
}

/* The peer's FIN wakes an ACTIVE session's endpoint; the session ends. */
static void test_fin_wakes(void **state)
{
	const unsigned prof = P_V4;
	const uint16_t port = 30003;
	struct tko_key k = wake_session(prof, port, true);
	size_t ev0 = h_drain();
	struct tko_session s;
	uint64_t t0 = now_ns();
	__u32 id;

	s = session_of(&k, &id);
	CHECK_EQ(peer_seg(prof, port, 0, F_ACK | F_FIN, 0, 0), XDP_PASS, "verdict of the FIN");
	CHECK_EQ(wakes_new(), 1, "wakes for the FIN");
	check_wake(&wakes[0], &k, id, TKO_R_FIN_PEER, 1, t0, now_ns());
	assert_false(h_lookup(&k, &s));
	h_drain();
	check_one_event(&k, ev0, TKO_EV_INVALIDATED, TKO_R_FIN_PEER, NULL);
}

/*
 * Never a wake: the peer's keepalive (answered), its segments that are not
 * its own (acknowledging what was never sent, out of the window), a
 * retransmission of what the endpoint has, a RST; nor data for a session
 * without --wake.
 */
static void test_never_wakes(void **state)
{
	const unsigned prof = P_V4;
	struct tko_key k = wake_session(prof, 30004, true), plain;
	struct tko_session s;
	__u32 id;

	CHECK_EQ(peer_seg(prof, 30004, -1, F_ACK, 0, 0), XDP_TX, "the peer's probe answered");
	CHECK_EQ(peer_seg(prof, 30004, -1, F_ACK, 1, 0), XDP_TX, "its byte probe answered");
	peer_seg(prof, 30004, 0, F_ACK | F_PSH, 20, 1000);	/* acks what was never sent */
	peer_seg(prof, 30004, 0, F_ACK | F_PSH, 20, -70000);	/* ... or long acknowledged */
	peer_seg(prof, 30004, 0x10000000, F_ACK | F_PSH, 20, 0);	/* out of window */
	peer_seg(prof, 30004, -40, F_ACK | F_PSH, 20, 0);	/* what the endpoint has */
	peer_seg(prof, 30004, 0, F_PSH, 20, 0);		/* no ACK bit */
	CHECK_EQ(wakes_new(), 0, "wakes");
	s = session_of(&k, &id);
	CHECK_EQ(s.state, TKO_ACTIVE, "state");
	CHECK_EQ(s.wake_since_ns, 0, "no episode");
	peer_seg(prof, 30004, 0, F_ACK | F_RST, 0, 0);
	CHECK_EQ(wakes_new(), 0, "wakes for a RST");
	assert_false(h_lookup(&k, &s));

	plain = wake_session(prof, 30005, false);
	peer_data(prof, 30005);
	CHECK_EQ(wakes_new(), 0, "wakes of a session without --wake");
	s = session_of(&plain, &id);
	CHECK_EQ(s.wake_since_ns, 0, "no episode without --wake");
}

/* The peer's new data out of order (a segment before it lost) wakes as well. */
static void test_out_of_order_wakes(void **state)
{
	const unsigned prof = P_V4;
	struct tko_key k = wake_session(prof, 30006, true);
	__u32 id;

	peer_seg(prof, 30006, 1000, F_ACK | F_PSH, 20, 0);
	CHECK_EQ(wakes_new(), 1, "wakes for out-of-order data");
	session_of(&k, &id);
	CHECK_EQ(wakes[0].reason, TKO_R_DATA_PEER, "reason");
}

/*
 * The signals ring full: the wakes it refuses are counted (wakes_failed)
 * and reported (a warning wake_failed, once per session); none is lost
 * silently. TKO_SIGNAL_RING_BYTES holds fewer records than sessions here.
 */
#define FULL_N 900
#define FULL_PORT0 31000
static void test_ring_full(void **state)
{
	static struct tko_key keys[FULL_N];
	uint64_t failed0 = h_stat(TKO_ST_WAKES_FAILED);
	size_t ev0, got, warned = 0;
	uint64_t failed;

	_Static_assert(FULL_N * (sizeof(struct tko_wake) + 8) > TKO_SIGNAL_RING_BYTES,
		       "the ring must not hold them all");
	H.nev = 0;	/* thousands of events: only this test's are kept */
	for (int i = 0; i < FULL_N; i++) {
		struct tko_ctl_args a = sess_args(P_V4, FULL_PORT0 + i);

		a.cfg.flags |= TKO_F_WAKE;
		CHECK_EQ(h_start(&a), 0, "tko_start");
		keys[i] = a.key;
		if (i % 200 == 0)
			h_drain();
	}
	assert_true(h_wait_state(keys, FULL_N, TKO_ACTIVE));
	H.nev = 0;
	h_drain();
	wakes_new();	/* the carrier's path requests are in the ring too */
	H.nev = 0;
	ev0 = H.nev;
	for (int i = 0; i < FULL_N; i++) {
		peer_data(P_V4, FULL_PORT0 + i);
		if (i % 200 == 0)
			h_drain();	/* the events ring is not the one to fill */
	}
	h_drain();
	got = wakes_new();
	failed = h_stat(TKO_ST_WAKES_FAILED) - failed0;
	CHECK_EQ(got + failed, FULL_N, "wakes signalled + wakes failed");
	if (!failed)
		fail_msg("the ring took all %d wakes: nothing tested", FULL_N);
	for (size_t i = ev0; i < H.nev; i++)
		warned += H.ev[i].type == TKO_EV_WARNING && H.ev[i].reason == TKO_R_WAKE_FAILED;
	CHECK_EQ(warned, failed, "warnings wake_failed");
	assert_false(H.ev_overflow);
	H.nev = 0;
}

/* ---- the TC side: where the endpoint is ------------------------------- */

/* The device's segment leaving through TC egress, in through ingress_ifindex. */
static void dev_out(const struct seg_spec *s, int ingress_ifindex)
{
	struct __sk_buff ctx = { .ingress_ifindex = ingress_ifindex };
	uint8_t out[FRAME_MAX];
	struct frame f;
	size_t out_len;
	int verdict;

	frame_build(&f, s);
	assert_int_equal(h_try_skb_prog(H.b.tc->progs.tko_tc_egress, f.b, f.len, &ctx, out,
					&out_len, &verdict), 0);
	CHECK_EQ(verdict, TC_ACT_OK, "TC verdict");
	h_drain();
}

static size_t warnings(const struct tko_key *k, size_t from, __u8 reason)
{
	struct tko_event evs[8];
	size_t n = h_events_of(k, from, evs, 8), w = 0;

	for (size_t i = 0; i < n && i < 8; i++)
		w += evs[i].type == TKO_EV_WARNING && evs[i].reason == reason;
	return w;
}

/*
 * A forwarded flow's session (policy --wake auto) learns the device's MAC
 * from the neighbour entry of its address on the wake interface its first
 * segment came in on.
 */
static void learns(bool v6)
{
	struct seg_spec d = dev_seg(v6, v6 ? 32002 : 32001, F_ACK, SEQ0, ACK0, 0);
	struct tko_key k = seg_key(&d);
	size_t ev0 = h_drain();
	struct tko_session s;

	set_policy(0, &(struct pol){ .flags = TKO_F_WAKE });
	dev_out(&d, if_w0);
	assert_true(h_lookup(&k, &s));
	if (!(s.have & TKO_HAVE_WAKE))
		fail_msg("the device's MAC was not learned");
	if (memcmp(s.wake_mac, DEV_MAC_NEIGH, 6))
		fail_msg("wake_mac %02x:%02x:%02x:%02x:%02x:%02x is not the neighbour's",
			 s.wake_mac[0], s.wake_mac[1], s.wake_mac[2], s.wake_mac[3],
			 s.wake_mac[4], s.wake_mac[5]);
	CHECK_EQ(s.wake_ifindex, if_w0, "wake_ifindex");
	CHECK_EQ(warnings(&k, ev0, TKO_R_WAKE_UNKNOWN), 0, "warnings wake_unknown");
	del_policy(0);
}

static void test_learns_v4(void **state) { learns(false); }
static void test_learns_v6(void **state) { learns(true); }

/*
 * A segment that came in through an interface that is not a wake
 * interface, or a device that is not on the wake link (behind a router):
 * no MAC, one warning wake_unknown; its data later tries again (reported
 * no more). A neighbour entry that appears later is learned from the
 * device's next data.
 */
static void test_unknown(void **state)
{
	struct seg_spec a = dev_seg(false, 32011, F_ACK, SEQ0, ACK0, 0), a2 = a;
	struct seg_spec b = dev_seg(false, 32012, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec c = dev_seg(false, 32013, F_ACK, SEQ0, ACK0, 0), c2;
	struct tko_key ka = seg_key(&a), kb = seg_key(&b), kc;
	size_t ev0 = h_drain();
	struct tko_session s;

	set_policy(0, &(struct pol){ .flags = TKO_F_WAKE });
	dev_out(&a, if_w1);
	assert_true(h_lookup(&ka, &s));
	CHECK_EQ(s.have & TKO_HAVE_WAKE, 0, "learned through a non-wake interface");
	a2.seq = SEQ0;
	a2.payload = 10;
	dev_out(&a2, if_w1);
	CHECK_EQ(warnings(&ka, ev0, TKO_R_WAKE_UNKNOWN), 1, "warnings wake_unknown");

	inet_pton(AF_INET, ROUTED_DEV, b.saddr);
	kb = seg_key(&b);
	dev_out(&b, if_w0);
	assert_true(h_lookup(&kb, &s));
	CHECK_EQ(s.have & TKO_HAVE_WAKE, 0, "learned for a device behind a router");
	CHECK_EQ(warnings(&kb, ev0, TKO_R_WAKE_UNKNOWN), 1, "warning for it");

	/* no neighbour entry yet, then one */
	inet_pton(AF_INET, "10.1.2.44", c.saddr);
	kc = seg_key(&c);
	dev_out(&c, if_w0);
	assert_true(h_lookup(&kc, &s));
	CHECK_EQ(s.have & TKO_HAVE_WAKE, 0, "learned without a neighbour entry");
	assert_int_equal(sh("ip neigh add 10.1.2.44 lladdr 02:00:00:00:00:44 dev w0 nud permanent"),
			 0);
	c2 = c;
	c2.payload = 10;
	dev_out(&c2, if_w0);
	assert_true(h_lookup(&kc, &s));
	if (!(s.have & TKO_HAVE_WAKE) || s.wake_mac[5] != 0x44)
		fail_msg("not learned from the data once the neighbour entry was there");
	del_policy(0);
}

/* ---- the control programs --------------------------------------------- */

/*
 * tko_start: --wake needs a way to wake (a wake interface or a hook);
 * a MAC needs --wake and must be one machine's; a given MAC is known at
 * once, on every wake interface.
 */
static void test_start_checks(void **state)
{
	struct tko_ctl_args a = sess_args(P_V4 | P_LEARNING, 30100);
	const uint8_t mac[6] = WAKE_MAC_GIVEN;
	struct tko_session s;

	set_wake(0, false);
	a.cfg.flags |= TKO_F_WAKE;
	CHECK_EQ(h_start(&a), -EOPNOTSUPP, "--wake with no way to wake");
	set_wake(0, true);
	a.cfg.flags &= ~TKO_F_WAKE;
	memcpy(a.cfg.wake_mac, mac, 6);
	CHECK_EQ(h_start(&a), -EINVAL, "a MAC without --wake");
	a.cfg.flags |= TKO_F_WAKE;
	a.cfg.wake_mac[0] |= 1;
	CHECK_EQ(h_start(&a), -EINVAL, "a multicast MAC");
	a.cfg.wake_mac[0] &= ~1;
	CHECK_EQ(h_start(&a), 0, "--wake MAC");
	assert_true(h_lookup(&a.key, &s));
	if (!(s.have & TKO_HAVE_WAKE) || memcmp(s.wake_mac, mac, 6) || s.wake_ifindex)
		fail_msg("the given MAC is not the session's");
	set_wake(if_w0, false);
	memset(a.cfg.wake_mac, 0, 6);
	a.key.lport++;
	CHECK_EQ(h_start(&a), 0, "--wake auto with a wake interface");
	assert_true(h_lookup(&a.key, &s));
	CHECK_EQ(s.have & TKO_HAVE_WAKE, 0, "auto: nothing known yet");
	set_wake(if_w0, true);
}

static void wake_done(const struct tko_key *k, __u32 id, __u32 result)
{
	struct tko_wake_done d = { .key = *k, .id = id, .reason = TKO_R_DATA_PEER,
				   .result = result };
	int ret;

	assert_int_equal(tko_ctl_run(bpf_program__fd(H.b.ctl->progs.tko_wake_done), &d,
				     sizeof(d), &ret), 0);
	CHECK_EQ(ret, 0, "tko_wake_done");
	h_drain();
}

/*
 * tko_wake_done: each outcome counted; a wake done (packets sent, hook
 * started) is an event wake with the session's state, a failure a warning
 * (once while the session lives, every time for one gone).
 */
static void test_done(void **state)
{
	struct tko_key k = wake_session(P_V4, 30200, true), gone = k;
	uint64_t sent = h_stat(TKO_ST_WAKES_SENT), failed = h_stat(TKO_ST_WAKES_FAILED);
	uint64_t ran = h_stat(TKO_ST_WAKE_HOOKS), hfail = h_stat(TKO_ST_WAKE_HOOKS_FAILED);
	struct tko_event e;
	size_t ev0;
	__u32 id;

	session_of(&k, &id);
	ev0 = h_drain();
	wake_done(&k, id, TKO_WAKE_SENT);
	CHECK_EQ(h_stat(TKO_ST_WAKES_SENT) - sent, 1, "wakes_sent");
	check_one_event(&k, ev0, TKO_EV_WAKE, TKO_R_DATA_PEER, &e);
	CHECK_EQ(e.state, TKO_ACTIVE, "the event carries the session's state");

	ev0 = h_drain();
	wake_done(&k, id, TKO_WAKE_SEND_FAILED | TKO_WAKE_HOOK_STARTED);
	wake_done(&k, id, TKO_WAKE_SEND_FAILED);
	wake_done(&k, id, TKO_WAKE_LOST);
	CHECK_EQ(h_stat(TKO_ST_WAKES_FAILED) - failed, 3, "wakes_failed");
	CHECK_EQ(h_stat(TKO_ST_WAKES_SENT) - sent, 1, "wakes_sent unchanged");
	CHECK_EQ(warnings(&k, ev0, TKO_R_WAKE_FAILED), 1, "one warning while it lives");
	{
		struct tko_event evs[8];
		size_t n = h_events_of(&k, ev0, evs, 8), w = 0;

		for (size_t i = 0; i < n; i++)
			w += evs[i].type == TKO_EV_WAKE;
		CHECK_EQ(w, 1, "a wake event for the hook started");
	}

	ev0 = h_drain();
	wake_done(&k, id, TKO_WAKE_HOOK_RAN);
	wake_done(&k, id, TKO_WAKE_HOOK_FAILED);
	CHECK_EQ(h_stat(TKO_ST_WAKE_HOOKS) - ran, 1, "wake_hooks");
	CHECK_EQ(h_stat(TKO_ST_WAKE_HOOKS_FAILED) - hfail, 1, "wake_hooks_failed");
	check_no_event(&k, ev0);	/* the session's failure was reported already */

	/* a session gone (its FIN): reported with the key the agent gives */
	gone.lport = 30299;
	ev0 = h_drain();
	wake_done(&gone, id, TKO_WAKE_SEND_FAILED);
	wake_done(&gone, id, TKO_WAKE_SEND_FAILED);
	CHECK_EQ(warnings(&gone, ev0, TKO_R_WAKE_FAILED), 2, "warnings for a session gone");
	check_no_event(&k, ev0);
}

static int group_setup(void **state)
{
	if (net_setup() || h_load(2048))
		return -1;
	sig_rb = ring_buffer__new(bpf_map__fd(H.b.ctl->maps.signals), on_signal, NULL, NULL);
	if (!sig_rb)
		return -1;
	{
		struct tko_carrier_state c;
		int fd = bpf_map__fd(H.b.ctl->maps.carrier);
		__u32 zero = 0;

		if (bpf_map_lookup_elem(fd, &zero, &c))
			return -1;
		c.wake_ifindex[0] = if_w0;
		c.wake_hook = 1;
		if (bpf_map_update_elem(fd, &zero, &c, BPF_ANY))
			return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	ring_buffer__free(sig_rb);
	return h_group_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_checks),
		cmocka_unit_test(test_active_wakes_at_once),
		cmocka_unit_test(test_learning_waits),
		cmocka_unit_test(test_fin_wakes),
		cmocka_unit_test(test_never_wakes),
		cmocka_unit_test(test_out_of_order_wakes),
		cmocka_unit_test(test_done),
		cmocka_unit_test(test_learns_v4),
		cmocka_unit_test(test_learns_v6),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_ring_full),
	};

	return cmocka_run_group_tests_name("prog_wake", tests, group_setup, group_teardown);
}
