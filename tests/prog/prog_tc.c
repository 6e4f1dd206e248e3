// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of tko_tc_egress (the offloaded endpoint's own frames
 * leaving): every case is a crafted frame run with BPF_PROG_RUN against a
 * session of its own, checked for the verdict (always TC_ACT_OK), the frame
 * (never changed), what the session learned from it, its state, its events
 * and the counters.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#define TC_ACT_OK	0
#define LO_IFINDEX	1		/* skb->dev of BPF_PROG_RUN: the netns' loopback */
#define FRAME_WIN	0x0321		/* the window in the endpoint's frames (!= WIN) */
#define CONTROL_WIN	0x0777		/* the window of the reachability check */
#define TSVAL_NEWER	(TSVAL + 1000)
#define TSVAL_OLDER	(TSVAL - 1000)

enum after {
	A_SAME,		/* state and last_seen_ns unchanged */
	A_TOUCHED,	/* payload on a non-ACTIVE session: only last_seen_ns moves */
	A_SUSPENDED,	/* ACTIVE -> SUSPENDED + event */
	A_GONE,		/* deleted + "invalidated" event */
};

enum { TS_AUTO, TS_ON, TS_OFF };

struct tc_case {
	const char *name;
	unsigned prof;
	/* the frame: the endpoint's pure ACK in sync with the session, changed by */
	int32_t dseq;		/* seq = SND.NXT + dseq (its own keepalive is -1) */
	int32_t dack;		/* ack = RCV.NXT + dack */
	uint8_t flags;
	uint16_t payload;
	int ts;
	bool ts_older;		/* TSval older than the session's */
	uint32_t mark;		/* skb->mark */
	void (*tweak)(struct seg_spec *);
	void (*mangle)(struct frame *);
	bool arp;
	/* expected */
	bool seen;		/* reached the session lookup (stats tc_seen) */
	bool learns;		/* state and L2 path taken from the frame */
	int32_t snd;		/* then snd_nxt = SND.NXT + snd */
	int32_t rcv;		/* and rcv_nxt = RCV.NXT + rcv */
	bool own_probe;		/* recognised as the endpoint's own keepalive */
	int32_t in_flight;	/* the session has this much unacknowledged (SND.UNA back) */
	enum after after;
	uint8_t ev_reason;
};

#define SEEN		.seen = true
#define LEARNS		.seen = true, .learns = true
#define DATA		.flags = F_ACK | F_PSH, .payload = 100

static const struct tc_case cases[] = {
	/* a session registered without state learns it from the endpoint */
	{ .name = "v4_learn_pure_ack", .prof = P_NOSTATE, .flags = F_ACK, LEARNS },
	{ .name = "v6_ts_learn_pure_ack", .prof = P_V6 | P_TS | P_NOSTATE, .flags = F_ACK,
	  LEARNS },
	{ .name = "v4_vlan_learn_pure_ack", .prof = P_VLAN | P_NOSTATE, .flags = F_ACK, LEARNS },
	{ .name = "v4_learn_ts_older", .prof = P_TS | P_NOSTATE, .flags = F_ACK,
	  .ts_older = true, LEARNS },
	{ .name = "v4_learn_data", .prof = P_NOSTATE, DATA, LEARNS, .snd = 100,
	  .after = A_TOUCHED },
	/* not an own keepalive before any state: SND.NXT is what it says */
	{ .name = "v4_learn_probe_shaped", .prof = P_NOSTATE, .dseq = -1, .flags = F_ACK,
	  LEARNS, .snd = -1 },
	{ .name = "v4_learn_fin", .prof = P_NOSTATE, .flags = F_FIN | F_ACK, LEARNS, .snd = 1,
	  .after = A_GONE, .ev_reason = TKO_R_FIN_LOCAL },
	{ .name = "v4_learn_syn", .prof = P_NOSTATE, .flags = F_SYN, SEEN },
	{ .name = "v4_learn_synack", .prof = P_NOSTATE, .flags = F_SYN | F_ACK, SEEN },
	{ .name = "v4_learn_rst", .prof = P_NOSTATE, .flags = F_RST, SEEN, .after = A_GONE,
	  .ev_reason = TKO_R_RST_LOCAL },
	{ .name = "v4_learn_no_ack_flag", .prof = P_NOSTATE, .flags = 0, SEEN },
	{ .name = "v4_learn_tko_mark", .prof = P_NOSTATE, .flags = F_ACK, .mark = TKO_MARK },

	/* ACTIVE sessions: in-sync segments teach, others suspend or end */
	{ .name = "v4_active_in_sync", .prof = P_V4, .flags = F_ACK, LEARNS },
	{ .name = "v4_ts_active_in_sync", .prof = P_TS, .flags = F_ACK, LEARNS },
	{ .name = "v4_ts_active_tsval_older", .prof = P_TS, .flags = F_ACK, .ts_older = true,
	  LEARNS },
	{ .name = "v6_ts_active_in_sync", .prof = P_V6 | P_TS, .flags = F_ACK, LEARNS },
	{ .name = "v4_vlan_active_in_sync", .prof = P_VLAN, .flags = F_ACK, LEARNS },
	{ .name = "v4_active_data", .prof = P_V4, DATA, LEARNS, .snd = 100,
	  .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_LOCAL },
	{ .name = "v6_ts_active_data", .prof = P_V6 | P_TS, DATA, LEARNS, .snd = 100,
	  .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_LOCAL },
	{ .name = "v4_active_data1", .prof = P_V4, .flags = F_ACK, .payload = 1, LEARNS,
	  .snd = 1, .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_LOCAL },
	{ .name = "v4_active_retransmission", .prof = P_V4, .dseq = -100, DATA, LEARNS,
	  .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_LOCAL },
	{ .name = "v4_active_own_probe0", .prof = P_V4, .dseq = -1, .flags = F_ACK, LEARNS,
	  .own_probe = true },
	{ .name = "v4_active_own_probe1", .prof = P_V4, .dseq = -1, .flags = F_ACK,
	  .payload = 1, LEARNS, .own_probe = true },
	{ .name = "v6_ts_active_own_probe0", .prof = P_V6 | P_TS, .dseq = -1, .flags = F_ACK,
	  LEARNS, .own_probe = true },
	{ .name = "v4_active_fin", .prof = P_V4, .flags = F_FIN | F_ACK, LEARNS, .snd = 1,
	  .after = A_GONE, .ev_reason = TKO_R_FIN_LOCAL },
	{ .name = "v4_active_fin_data", .prof = P_V4, .flags = F_FIN | F_PSH | F_ACK,
	  .payload = 10, LEARNS, .snd = 11, .after = A_GONE, .ev_reason = TKO_R_FIN_LOCAL },
	{ .name = "v4_active_rst", .prof = P_V4, .flags = F_RST, SEEN, .after = A_GONE,
	  .ev_reason = TKO_R_RST_LOCAL },
	{ .name = "v6_active_rst_ack", .prof = P_V6, .flags = F_RST | F_ACK, SEEN,
	  .after = A_GONE, .ev_reason = TKO_R_RST_LOCAL },
	{ .name = "v4_active_syn", .prof = P_V4, .flags = F_SYN, SEEN, .after = A_GONE,
	  .ev_reason = TKO_R_SYN_LOCAL },
	{ .name = "v4_active_ack_ahead", .prof = P_V4, .dack = 10, .flags = F_ACK, LEARNS,
	  .rcv = 10, .after = A_SUSPENDED, .ev_reason = TKO_R_DRIFT },
	{ .name = "v4_active_seq_ahead", .prof = P_V4, .dseq = 5, .flags = F_ACK, LEARNS,
	  .snd = 5, .after = A_SUSPENDED, .ev_reason = TKO_R_DRIFT },
	{ .name = "v4_active_ack_behind", .prof = P_V4, .dack = -10, .flags = F_ACK, LEARNS,
	  .after = A_SUSPENDED, .ev_reason = TKO_R_DRIFT },
	{ .name = "v4_active_tko_mark_data", .prof = P_V4, DATA, .mark = TKO_MARK },
	{ .name = "v4_active_other_mark_data", .prof = P_V4, DATA, .mark = TKO_MARK + 1,
	  LEARNS, .snd = 100, .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_LOCAL },
	{ .name = "v4_active_data_no_ack_flag", .prof = P_V4, .flags = F_PSH, .payload = 100,
	  SEEN },
	{ .name = "v4_oneshot_data", .prof = P_ONESHOT, DATA, LEARNS, .snd = 100,
	  .after = A_GONE, .ev_reason = TKO_R_DATA_LOCAL },
	{ .name = "v4_oneshot_ack_ahead", .prof = P_ONESHOT, .dack = 10, .flags = F_ACK, LEARNS,
	  .rcv = 10, .after = A_GONE, .ev_reason = TKO_R_DRIFT },
	{ .name = "v4_wrap_data", .prof = P_WRAP, DATA, LEARNS, .snd = 100,
	  .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_LOCAL },
	{ .name = "v4_wrap_own_probe", .prof = P_WRAP, .dseq = -1, .flags = F_ACK, LEARNS,
	  .own_probe = true },

	/* LEARNING with a given state: learns, never suspends */
	{ .name = "v4_learning_ack_ahead", .prof = P_LEARNING, .dack = 10, .flags = F_ACK,
	  LEARNS, .rcv = 10 },
	{ .name = "v4_learning_data", .prof = P_LEARNING, DATA, LEARNS, .snd = 100,
	  .after = A_TOUCHED },
	{ .name = "v4_learning_own_probe", .prof = P_LEARNING, .dseq = -1, .flags = F_ACK,
	  LEARNS, .own_probe = true },
	{ .name = "v4_learning_syn", .prof = P_LEARNING, .flags = F_SYN, SEEN,
	  .after = A_GONE, .ev_reason = TKO_R_SYN_LOCAL },
	/* data in flight: its own probes are at SND.UNA - 1 (tcp_xmit_probe_skb);
	 * the last byte sent again (SND.NXT - 1, one byte) is its data */
	{ .name = "v4_in_flight_last_byte_again", .prof = P_LEARNING, .dseq = -1,
	  .flags = F_ACK | F_PSH, .payload = 1, .in_flight = 1, LEARNS, .after = A_TOUCHED },
	{ .name = "v4_in_flight_own_probe", .prof = P_LEARNING, .dseq = -2, .flags = F_ACK,
	  .in_flight = 1, LEARNS, .own_probe = true },
	{ .name = "v4_in_flight_zero_window_probe", .prof = P_LEARNING, .dseq = -101,
	  .flags = F_ACK, .payload = 1, .in_flight = 100, LEARNS, .own_probe = true },

	/* shapes tko leaves alone: data of an ACTIVE session in each, which
	 * would suspend it if it were parsed */
	{ .name = "v4_ip_options_data", .prof = P_V4, DATA, .tweak = ip_options },
	{ .name = "v4_fragment_mf_data", .prof = P_V4, DATA, .tweak = ip_more_frags },
	{ .name = "v4_fragment_offset_data", .prof = P_V4, DATA, .tweak = ip_frag_offset },
	{ .name = "v6_dstopts_data", .prof = P_V6, DATA, .tweak = ip6_dstopts },
	{ .name = "v4_udp_from_session", .prof = P_V4, DATA, .tweak = udp },
	{ .name = "v6_udp_from_session", .prof = P_V6, DATA, .tweak = udp },
	{ .name = "arp_request", .prof = P_V4, .arp = true },
	{ .name = "v4_tot_len_beyond_frame", .prof = P_V4, DATA, .mangle = ip4_tot_len_long },
	{ .name = "v6_plen_beyond_frame", .prof = P_V6, DATA, .mangle = ip6_plen_long },
	{ .name = "v4_tcp_doff_4", .prof = P_V4, DATA, .mangle = tcp_doff_4 },
	{ .name = "v4_opt_overrun", .prof = P_V4, DATA, .tweak = opt_overrun },
	{ .name = "v4_ip_version_6", .prof = P_V4, DATA, .mangle = ip4_version_6 },
	{ .name = "v4_qinq_two_tags", .prof = P_V4, DATA, .mangle = second_tag },
	{ .name = "v4_peer_direction", .prof = P_V4, DATA, .tweak = reversed },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define CASE_PORT0 21000

enum { PORT_TRUNC0 = 31000 };
static const unsigned trunc_profs[] = { P_NOSTATE, P_V6 | P_TS | P_NOSTATE,
					P_VLAN | P_TS | P_NOSTATE };
#define NTRUNC (sizeof(trunc_profs) / sizeof(trunc_profs[0]))

static uint16_t case_port(const struct tc_case *c)
{
	return (uint16_t)(CASE_PORT0 + (c - cases));
}

/* The endpoint's segment: what the session's tcp state says, changed by the case. */
static void build_case_frame(const struct tc_case *c, struct frame *f, struct seg_spec *s)
{
	*s = from_endpoint(c->prof, case_port(c));
	s->seq += (uint32_t)c->dseq;
	s->ack += (uint32_t)c->dack;
	s->flags = c->flags;
	s->payload = c->payload;
	s->window = FRAME_WIN;
	if (c->ts != TS_AUTO)
		s->ts = c->ts == TS_ON;
	s->tsval = c->ts_older ? TSVAL_OLDER : TSVAL_NEWER;
	s->tsecr = PEER_TSVAL;
	if (c->tweak)
		c->tweak(s);
	if (c->arp)
		frame_build_arp(f, s);
	else
		frame_build(f, s);
	if (c->mangle)
		c->mangle(f);
}

/* What the session must hold after learning from segment e (RFC 7323 5.3: TSval never goes back). */
static void learned(const struct tc_case *c, const struct seg_spec *e,
		    const struct tko_session *b, struct tko_session *want)
{
	struct tko_tcp_state nominal = sess_tcp(c->prof);

	bool data = e->payload || (e->flags & F_FIN);

	*want = *b;
	want->tcp.snd_nxt = nominal.snd_nxt + (uint32_t)c->snd;
	want->tcp.rcv_nxt = nominal.rcv_nxt + (uint32_t)c->rcv;
	want->tcp.window = e->window;
	if (e->ts) {
		bool had = b->have & TKO_HAVE_TS;
		bool keep = had && (int32_t)(e->tsval - b->tcp.ts_val) <= 0;
		/* TS.Recent only moves forward (RFC 7323 4.3) */
		bool keep_ecr = had && (int32_t)(e->tsecr - b->tcp.ts_ecr) <= 0;

		want->tcp.ts_val = keep ? b->tcp.ts_val : e->tsval;
		want->tcp.ts_ecr = keep_ecr ? b->tcp.ts_ecr : e->tsecr;
		want->have |= TKO_HAVE_TS;
	}
	/* learned from a segment without data: SND.NXT may be one short (the
	 * endpoint's own keepalive); data says it exactly */
	if (!(b->have & TKO_HAVE_SEQ) && !data)
		want->have |= TKO_HAVE_BARE;
	if (data)
		want->have &= ~TKO_HAVE_BARE;
	want->have |= TKO_HAVE_SEQ | TKO_HAVE_L2;
	/* its DSCP (ECN bits cleared) and IPv6 flow label, for tko's segments */
	want->flowinfo = (uint32_t)(e->tos & 0xfc) << 20 | (e->v6 ? e->flow & 0xfffff : 0);
	memcpy(want->lmac, e->smac, 6);
	memcpy(want->rmac, e->dmac, 6);
	want->ifindex = LO_IFINDEX;
	/* The tag in the frame (BPF_PROG_RUN has no offloaded one), network-order TPID. */
	want->vlan_tci = c->prof & P_VLAN ? VLAN_ID : 0;
	want->vlan_proto = c->prof & P_VLAN ? htons(ETHERTYPE_VLAN) : 0;
	if (c->own_probe)
		want->endpoint_probe = 1;
}

struct tc_stats {
	uint64_t seen, suspended, invalidated;
};

static struct tc_stats read_stats(void)
{
	struct tc_stats st = {
		.seen = h_stat(TKO_ST_TC_SEEN),
		.suspended = h_stat(TKO_ST_SUSPENDED),
		.invalidated = h_stat(TKO_ST_INVALIDATED),
	};
	return st;
}

static void check_stats(const struct tc_stats *b, const struct tc_case *c)
{
	struct tc_stats a = read_stats();

	CHECK_EQ(a.seen - b->seen, c->seen, "stats tc_seen");
	CHECK_EQ(a.suspended - b->suspended, c->after == A_SUSPENDED, "stats suspended");
	CHECK_EQ(a.invalidated - b->invalidated, c->after == A_GONE, "stats invalidated");
}

/*
 * An in-sync pure ACK with a new window must be learned: proves the session
 * was reachable, so that a frame before it that changed nothing was ignored
 * by decision and did not simply miss its session.
 */
static void check_still_learns(unsigned prof, uint16_t lport)
{
	struct seg_spec e = from_endpoint(prof, lport);
	struct tko_key k = sess_key(prof, lport);
	struct tko_session s;
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;

	e.window = CONTROL_WIN;
	frame_build(&f, &e);
	CHECK_EQ(h_run_tc(f.b, f.len, 0, out, &out_len), TC_ACT_OK, "verdict of a control ACK");
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.tcp.window, CONTROL_WIN, "window learned from a control ACK");
}

static void check_session(const struct tc_case *c, const struct tko_session *want,
			  const struct tko_session *s, uint64_t t0, uint64_t t1)
{
	check_session_fixed(s, want);
	check_tcp_state(&s->tcp, &want->tcp);
	check_counters(&s->cnt, &want->cnt);
	CHECK_EQ(s->have, want->have, "have");
	CHECK_EQ(s->flowinfo, want->flowinfo, "flowinfo");
	check_l2(s, want);
	CHECK_EQ(s->endpoint_probe, want->endpoint_probe, "endpoint_probe");
	if (c->after == A_SAME) {
		CHECK_EQ(s->state, want->state, "state");
		CHECK_EQ(s->last_seen_ns, want->last_seen_ns, "last_seen_ns");
		return;
	}
	if (s->last_seen_ns < t0 || s->last_seen_ns > t1)
		fail_msg("last_seen_ns not set by the frame");
	if (c->after == A_TOUCHED) {
		CHECK_EQ(s->state, want->state, "state");
		return;
	}
	CHECK_EQ(s->state, TKO_SUSPENDED, "state");
	CHECK_EQ(s->prev_state, TKO_ACTIVE, "prev_state");
	CHECK_EQ(s->next_ns, s->last_seen_ns + NSEC_PER_SEC, "next_ns (re-armed for idle_s)");
}

/* The event of a suspended or ended session carries the state after learning. */
static void check_event(const struct tc_case *c, const struct tko_key *k,
			const struct tko_session *want, size_t ev0)
{
	struct tko_event e;

	switch (c->after) {
	case A_SAME:
	case A_TOUCHED:
		check_no_event(k, ev0);
		return;
	case A_SUSPENDED:
		check_one_event(k, ev0, TKO_EV_SUSPENDED, c->ev_reason, &e);
		CHECK_EQ(e.state, TKO_SUSPENDED, "event state");
		break;
	case A_GONE:
		check_one_event(k, ev0, TKO_EV_INVALIDATED, c->ev_reason, &e);
		CHECK_EQ(e.state, TKO_STOPPED, "event state");
		CHECK_EQ(e.next_probe_ms, 0, "event next_probe_ms");
		break;
	}
	check_tcp_state(&e.tcp, &want->tcp);
	check_counters(&e.cnt, &want->cnt);
}

static void run_case(void **state)
{
	const struct tc_case *c = *state;
	struct tko_key k = sess_key(c->prof, case_port(c));
	struct tko_session before, want, after;
	struct seg_spec spec;
	struct frame in;
	struct tc_stats st;
	uint8_t out[FRAME_MAX];
	size_t out_len, ev0;
	uint64_t t0, t1;

	assert_true(h_lookup(&k, &before));
	CHECK_EQ(before.state, sess_goes_active(c->prof) ? TKO_ACTIVE : TKO_LEARNING,
		 "state before the frame");
	if (c->in_flight) {
		__u32 id;

		assert_true(h_find(&k, &id, NULL));
		before.tcp.snd_una = before.tcp.snd_nxt - (uint32_t)c->in_flight;
		h_write(id, &before);
	}
	build_case_frame(c, &in, &spec);
	want = before;
	if (c->learns)
		learned(c, &spec, &before, &want);
	ev0 = h_drain();
	st = read_stats();

	t0 = now_ns();
	CHECK_EQ(h_run_tc(in.b, in.len, c->mark, out, &out_len), TC_ACT_OK, "verdict");
	t1 = now_ns();
	check_frame(out, out_len, in.b, in.len, "frame after TC");	/* never changed */
	check_stats(&st, c);
	h_drain();
	check_event(c, &k, &want, ev0);

	if (c->after == A_GONE) {
		if (h_lookup(&k, &after))
			fail_msg("session still in the table (state %u)", after.state);
		return;
	}
	assert_true(h_lookup(&k, &after));
	check_session(c, &want, &after, t0, t1);
	if (!c->learns && c->after == A_SAME)
		check_still_learns(c->prof, case_port(c));
}

/*
 * Run a frame tko must ignore: TC_ACT_OK and the frame untouched. Returns
 * 1 if it ran, 0 if BPF_PROG_RUN refused it (see tc_run_refuses()).
 */
static size_t run_tc_ignored(const uint8_t *in, size_t len, const char *what)
{
	uint8_t out[FRAME_MAX];
	size_t out_len;
	int verdict, err = h_try_tc(in, len, 0, out, &out_len, &verdict);

	if (err == -EINVAL && tc_run_refuses(in, len))
		return 0;
	if (err)
		fail_msg("%s: BPF_PROG_RUN: %s", what, strerror(-err));
	CHECK_EQ(verdict, TC_ACT_OK, what);
	check_frame(out, out_len, in, len, what);
	return 1;
}

/*
 * The endpoint's segment cut at every length from the Ethernet header on
 * teaches nothing; the whole one then teaches, which shows the cut ones
 * reached the right session.
 */
static void test_truncated(void **state)
{
	const unsigned *prof = *state;
	uint16_t port = (uint16_t)(PORT_TRUNC0 + (prof - trunc_profs));
	struct seg_spec e = from_endpoint(*prof, port);
	struct tko_key k = sess_key(*prof, port);
	struct tko_session s;
	struct frame in;
	uint8_t out[FRAME_MAX];
	size_t len, out_len, ran = 0;

	e.pad_to = 0;
	e.payload = 3;
	frame_build(&in, &e);
	for (len = ETH_HDR_LEN; len < in.len; len++) {
		char what[64];

		snprintf(what, sizeof(what), "frame cut to %zu of %zu bytes", len, in.len);
		ran += run_tc_ignored(in.b, len, what);
	}
	/* at least every cut from the TCP header on reached the program */
	if (ran < in.len - in.l4)
		fail_msg("only %zu of %zu cut frames could be run", ran, in.len - ETH_HDR_LEN);
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.have, 0, "what cut frames taught");
	CHECK_EQ(h_run_tc(in.b, in.len, 0, out, &out_len), TC_ACT_OK, "verdict of the whole frame");
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.have & TKO_HAVE_SEQ, TKO_HAVE_SEQ, "state learned from the whole frame");
	CHECK_EQ(s.tcp.snd_nxt, e.seq + 3, "snd_nxt learned from the whole frame");
}

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Random frames, half of them IPv4/IPv6 + TCP so the parser goes deep: never changed. */
static void test_garbage(void **state)
{
	uint32_t x = 0x5eed7c01;
	uint8_t in[FRAME_MAX];
	size_t len, i;
	int n;

	for (n = 0; n < 2000; n++) {
		len = ETH_HDR_LEN + rnd(&x) % 150;
		for (i = 0; i < len; i++)
			in[i] = (uint8_t)rnd(&x);
		if (n & 1) {
			bool v6 = n & 2;

			put16(in + 12, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IP);
			if (len > ETH_HDR_LEN + 9) {
				in[ETH_HDR_LEN] = v6 ? 0x60 : 0x45;
				in[ETH_HDR_LEN + (v6 ? 6 : 9)] = PROTO_TCP;
			}
		}
		run_tc_ignored(in, len, "garbage frame");
	}
}

static int group_setup(void **state)
{
	unsigned prof[NCASES + NTRUNC];
	uint16_t port[NCASES + NTRUNC];
	size_t i, n = 0;

	if (h_load(NCASES + 64))
		return -1;
	for (i = 0; i < NCASES; i++, n++) {
		prof[n] = cases[i].prof;
		port[n] = case_port(&cases[i]);
	}
	for (i = 0; i < NTRUNC; i++, n++) {
		prof[n] = trunc_profs[i];
		port[n] = (uint16_t)(PORT_TRUNC0 + i);
	}
	if (h_start_sessions(prof, port, n)) {
		h_destroy();
		return -1;
	}
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[NCASES + NTRUNC + 1];
	static char names[NTRUNC][32];
	size_t i, n = 0;

	for (i = 0; i < NCASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	for (i = 0; i < NTRUNC; i++) {
		snprintf(names[i], sizeof(names[i]), "truncated_%s%s%s",
			 trunc_profs[i] & P_V6 ? "v6" : "v4",
			 trunc_profs[i] & P_VLAN ? "_vlan" : "",
			 trunc_profs[i] & P_TS ? "_ts" : "");
		tests[n++] = (struct CMUnitTest){ .name = names[i], .test_func = test_truncated,
						  .initial_state = (void *)&trunc_profs[i] };
	}
	tests[n++] = (struct CMUnitTest){ "garbage", test_garbage };
	return _cmocka_run_group_tests("prog_tc", tests, n, group_setup, h_group_teardown);
}
