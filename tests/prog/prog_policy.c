// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of forwarded policies (`tko policy add --forwarded`): a
 * device's segments forwarded out through TC egress, run with BPF_PROG_RUN
 * against policies written and synced as `tko policy` does
 * (agent/daemon/policies.c). Checked: which flows become sessions, with what
 * state, their events and counts; that a flow ends with its FIN, RST or the
 * peer's, and that its last segments do not make it a session again until a
 * new SYN; that a flow the table cannot take is refused once, with an event.
 * Each test loads the datapath afresh.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "tko_dp.h"
#include "policies.h"
#include "flows.h"

static int setup(void **state)
{
	(void)state;
	return h_load(64);
}

static int teardown(void **state)
{
	(void)state;
	h_destroy();
	return 0;
}

/* The handshake's last ACK of a matching flow: a session, LEARNING, with its state. */
static void test_ack_creates(void **state, bool v6)
{
	struct seg_spec s = dev_seg(v6, 40000, F_ACK, SEQ0, ACK0, 0);
	struct tko_key k = seg_key(&s);
	struct tko_session x;
	size_t from = H.nev;

	(void)state;
	set_policy(0, &(struct pol){ .local = v6 ? "2001:db8:1::/48" : "10.0.0.0/8" });
	tc(&s);
	assert_true(h_lookup(&k, &x));
	CHECK_EQ(x.state, TKO_LEARNING, "state");
	CHECK_EQ(x.policy, 1, "policy");
	CHECK_EQ(x.tcp.snd_nxt, SEQ0, "snd_nxt");
	CHECK_EQ(x.tcp.rcv_nxt, ACK0, "rcv_nxt");
	CHECK_EQ(x.tcp.window, DEV_WIN, "window");
	/* from a bare segment: SND.NXT may be one short, SND.UNA unknown */
	CHECK_EQ(x.have, TKO_HAVE_SEQ | TKO_HAVE_L2 | TKO_HAVE_BARE, "have");
	CHECK_EQ(x.ifindex, 1, "ifindex");
	assert_memory_equal(x.lmac, gw_mac, 6);
	assert_memory_equal(x.rmac, dev_mac, 6);
	CHECK_EQ(x.cfg.idle_s, 1, "cfg.idle_s");
	CHECK_EQ(x.cfg.interval_s, 2, "cfg.interval_s");
	assert_true(x.cfg.flags & TKO_F_FORWARDED);
	check_one_event(&k, from, TKO_EV_STARTED, TKO_R_POLICY, NULL);
	CHECK_EQ(pstats(0).sessions, 1, "policy sessions");
	CHECK_EQ(pstats(0).created, 1, "policy created");
	CHECK_EQ(h_stat(TKO_ST_FLOWS_TRACKED), 1, "policy_flows");
	/* Its next segment is the session's, not a second one. */
	tc(&s);
	CHECK_EQ(pstats(0).created, 1, "policy created after a second segment");
	check_one_event(&k, from, TKO_EV_STARTED, TKO_R_POLICY, NULL);
	/* Offloaded once idle, by the clock like any session, once the peer's
	 * acknowledgment says nothing is in flight. */
	{
		struct seg_spec a = srv_seg(&s, F_ACK, ACK0, SEQ0);

		xdp(&a);
		assert_true(h_lookup(&k, &x));
		CHECK_EQ(x.have, TKO_HAVE_SEQ | TKO_HAVE_L2 | TKO_HAVE_UNA, "have after the ACK");
		CHECK_EQ(x.tcp.snd_una, SEQ0, "snd_una");
	}
	assert_true(h_wait_state(&k, 1, TKO_ACTIVE));
}

static void v4_ack_creates(void **state) { test_ack_creates(state, false); }
static void v6_ack_creates(void **state) { test_ack_creates(state, true); }

/* Segments that make no session: SYN, SYN-ACK, FIN, RST, no ACK flag. */
static void not_from_handshake_or_end(void **state)
{
	static const uint8_t flags[] = { F_SYN, F_SYN | F_ACK, F_FIN | F_ACK, F_RST,
					 F_RST | F_ACK, F_PSH };

	(void)state;
	set_policy(0, &(struct pol){ 0 });
	for (size_t i = 0; i < sizeof(flags); i++) {
		struct seg_spec s = dev_seg(false, 40100 + i, flags[i], SEQ0, ACK0,
					    flags[i] == F_PSH ? 10 : 0);

		tc(&s);
		if (has_session(&s))
			fail_msg("a segment with flags 0x%x made a session", flags[i]);
	}
	CHECK_EQ(H.nev, 0, "events");
	CHECK_EQ(h_stat(TKO_ST_FLOWS_TRACKED), 0, "policy_flows");
}

/* A flow that was there before the policy: its data segment starts it. */
static void data_of_existing_flow(void **state)
{
	struct seg_spec s = dev_seg(false, 40200, F_ACK | F_PSH, SEQ0, ACK0, 100);
	struct tko_key k = seg_key(&s);
	struct tko_session x;

	(void)state;
	set_policy(0, &(struct pol){ .local = "10.1.2.3/32" });
	tc(&s);
	assert_true(h_lookup(&k, &x));
	CHECK_EQ(x.tcp.snd_nxt, SEQ0 + 100, "snd_nxt after the data");
	CHECK_EQ(x.state, TKO_LEARNING, "state");
}

/*
 * A flow picked up from the device's own zero-length keepalive (SEG.SEQ =
 * SND.NXT - 1) learns SND.NXT one short; the server's answer, in sequence
 * and acknowledging one more, corrects it. An answer off by more does not.
 */
static void learned_from_keepalive(void **state)
{
	struct seg_spec ka = dev_seg(false, 40250, F_ACK, SEQ0 - 1, ACK0, 0);
	struct seg_spec other = dev_seg(false, 40251, F_ACK, SEQ0 - 1, ACK0, 0);
	struct seg_spec ans = srv_seg(&ka, F_ACK, ACK0, SEQ0);
	struct seg_spec far = srv_seg(&other, F_ACK, ACK0, SEQ0 + 1);
	struct tko_key k = seg_key(&ka), ko = seg_key(&other);
	struct tko_session x;

	(void)state;
	set_policy(0, &(struct pol){ 0 });
	tc(&ka);
	tc(&other);
	assert_true(h_lookup(&k, &x));
	CHECK_EQ(x.tcp.snd_nxt, SEQ0 - 1, "snd_nxt learned from the keepalive");
	/* An ACK not at RCV.NXT tells nothing: SND.UNA is learned from the
	 * peer's own segments only (an off-path guess must hit both numbers). */
	{
		struct seg_spec guess = srv_seg(&ka, F_ACK, ACK0 + 5, SEQ0 - 1);

		xdp(&guess);
		assert_true(h_lookup(&k, &x));
		CHECK_EQ(x.have & TKO_HAVE_UNA, 0, "SND.UNA after an ACK off RCV.NXT");
	}
	/* Until the server's answer says, SND.UNA is not known: never ACTIVE
	 * one short (its probes would go unanswered by a live server). */
	{
		uint64_t until = now_ns() + 2 * NSEC_PER_SEC;	/* idle_s is 1 */
		size_t from = H.nev;

		while (now_ns() < until) {
			h_pass();
			usleep(20000);
		}
		assert_true(h_lookup(&k, &x));
		CHECK_EQ(x.state, TKO_LEARNING, "state, idle but SND.UNA unknown");
		h_drain();
		check_one_event(&k, from, TKO_EV_WAITING, TKO_R_NO_ACK, NULL);
	}
	xdp(&ans);
	assert_true(h_lookup(&k, &x));
	CHECK_EQ(x.tcp.snd_nxt, SEQ0, "snd_nxt after the server's answer");
	xdp(&far);
	assert_true(h_lookup(&ko, &x));
	CHECK_EQ(x.tcp.snd_nxt, SEQ0 - 1, "snd_nxt after an answer two ahead");
	/* The device's next keepalive is now known for what it is. */
	tc(&ka);
	assert_true(h_lookup(&k, &x));
	CHECK_EQ(x.tcp.snd_nxt, SEQ0, "snd_nxt after the next keepalive");
	CHECK_EQ(x.endpoint_probe, 1, "the device's keepalive recognised");
}

/* What does not match: local prefix, remote prefix, ports, family, policy kind. */
static void no_match(void **state)
{
	struct seg_spec v4 = dev_seg(false, 40300, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec v6 = dev_seg(true, 40300, F_ACK, SEQ0, ACK0, 0);

	(void)state;
	set_policy(0, &(struct pol){ .local = "10.9.0.0/16" });
	set_policy(1, &(struct pol){ .local = "10.0.0.0/8", .remote = "198.51.100.0/24" });
	set_policy(2, &(struct pol){ .local = "10.0.0.0/8", .lport = 1 });
	set_policy(3, &(struct pol){ .local = "10.0.0.0/8", .rport = 80 });
	set_policy(5, &(struct pol){ .local_policy = true });	/* local sockets only */
	tc(&v4);
	assert_false(has_session(&v4));
	tc(&v6);
	assert_false(has_session(&v6));
	/* An IPv4 remote prefix: the IPv4 flow, never the IPv6 one. */
	set_policy(4, &(struct pol){ .remote = "192.0.2.0/24" });
	tc(&v6);
	assert_false(has_session(&v6));
	tc(&v4);
	assert_true(has_session(&v4));
	/* The local policy made forwarded: it matches the IPv6 flow too. */
	del_policy(5);
	set_policy(5, &(struct pol){ .rport = SRV_PORT });
	tc(&v6);	/* no prefix given: both families */
	assert_true(has_session(&v6));
}

/*
 * The first matching policy wins, whatever the prefixes: the longest match
 * in the trie must name every policy that covers the address.
 */
static void first_match_wins(void **state)
{
	struct seg_spec a = dev_seg(false, 40400, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec b = dev_seg(false, 40401, F_ACK, SEQ0, ACK0, 0);
	struct tko_session x;
	struct tko_key k;

	(void)state;
	set_policy(0, &(struct pol){ .local = "10.1.2.0/24", .lport = 40400 });
	set_policy(1, &(struct pol){ .local = "10.0.0.0/8" });
	set_policy(2, &(struct pol){ .local = "10.1.2.3/32" });
	tc(&a);
	k = seg_key(&a);
	assert_true(h_lookup(&k, &x));
	CHECK_EQ(x.policy, 1, "policy of the /24 flow on its port");
	tc(&b);
	k = seg_key(&b);
	assert_true(h_lookup(&k, &x));
	CHECK_EQ(x.policy, 2, "policy of the flow on another port (the /8)");
}

/*
 * The flow ends (its FIN): invalidated, forgotten, and its last segments
 * (the peer's FIN acknowledged, retransmissions) do not make it a session
 * again; a new SYN on the tuple does let it be tracked again.
 */
static void fin_ends_for_good(void **state)
{
	struct seg_spec s = dev_seg(false, 40500, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec fin = dev_seg(false, 40500, F_FIN | F_ACK, SEQ0, ACK0, 0);
	struct seg_spec last = dev_seg(false, 40500, F_ACK, SEQ0 + 1, ACK0 + 1, 0);
	struct seg_spec syn = dev_seg(false, 40500, F_SYN, 7000, 0, 0);
	struct seg_spec ack = dev_seg(false, 40500, F_ACK, 7001, 9001, 0);
	struct tko_key k = seg_key(&s);
	struct tko_session x;
	size_t from;

	(void)state;
	set_policy(0, &(struct pol){ 0 });
	tc(&s);
	assert_true(has_session(&s));
	from = H.nev;
	tc(&fin);
	assert_false(has_session(&s));
	check_one_event(&k, from, TKO_EV_INVALIDATED, TKO_R_FIN_LOCAL, NULL);
	CHECK_EQ(pstats(0).sessions, 0, "policy sessions after the FIN");
	tc(&last);
	assert_false(has_session(&s));
	check_one_event(&k, from, TKO_EV_INVALIDATED, TKO_R_FIN_LOCAL, NULL);
	/* A new connection on the same tuple. */
	tc(&syn);
	assert_false(has_session(&s));
	tc(&ack);
	assert_true(h_lookup(&k, &x));
	CHECK_EQ(x.tcp.snd_nxt, 7001, "snd_nxt of the new connection");
	CHECK_EQ(pstats(0).created, 2, "policy created");
	CHECK_EQ(pstats(0).sessions, 1, "policy sessions");
}

/* Ended by the peer (RST at XDP ingress) or by tko stop: the same. */
static void peer_rst_and_stop_end_for_good(void **state)
{
	struct seg_spec a = dev_seg(false, 40600, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec b = dev_seg(false, 40601, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec rst = srv_seg(&a, F_RST, ACK0, 0);
	struct tko_key kb = seg_key(&b);

	(void)state;
	set_policy(0, &(struct pol){ 0 });
	tc(&a);
	tc(&b);
	CHECK_EQ(pstats(0).sessions, 2, "policy sessions");
	xdp(&rst);
	assert_false(has_session(&a));
	CHECK_EQ(h_stop(&kb), 0, "tko stop");
	assert_false(has_session(&b));
	CHECK_EQ(pstats(0).sessions, 0, "policy sessions after RST and stop");
	tc(&a);
	tc(&b);
	assert_false(has_session(&a));
	assert_false(has_session(&b));
	CHECK_EQ(pstats(0).created, 2, "policy created");
}

/* A new SYN on a tracked flow's tuple ends the old session; the new one is tracked. */
static void syn_on_session(void **state)
{
	struct seg_spec s = dev_seg(true, 40700, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec syn = dev_seg(true, 40700, F_SYN, 9000, 0, 0);
	struct seg_spec ack = dev_seg(true, 40700, F_ACK, 9001, 3001, 0);
	struct tko_key k = seg_key(&s);
	size_t from;

	(void)state;
	set_policy(0, &(struct pol){ .local = "2001:db8::/32" });
	tc(&s);
	from = H.nev;
	tc(&syn);
	check_one_event(&k, from, TKO_EV_INVALIDATED, TKO_R_SYN_LOCAL, NULL);
	tc(&ack);
	assert_true(has_session(&ack));
	CHECK_EQ(pstats(0).created, 2, "policy created");
}

/* The policy deleted: flows are no longer tracked, its sessions run on. */
static void deleted_policy(void **state)
{
	struct seg_spec a = dev_seg(false, 40800, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec b = dev_seg(false, 40801, F_ACK, SEQ0, ACK0, 0);
	struct tko_prefix_key next;

	(void)state;
	set_policy(0, &(struct pol){ .local = "10.0.0.0/8" });
	tc(&a);
	del_policy(0);
	tc(&b);
	assert_true(has_session(&a));
	assert_false(has_session(&b));
	/* No forwarded policy left: nothing left in the trie either. */
	assert_true(bpf_map_get_next_key(bpf_map__fd(H.b.ctl->maps.policy_prefixes), NULL,
					 &next) < 0);
}

/* A full table: the flow is refused once, with an event, and counted. */
static void table_full(void **state)
{
	struct seg_spec s[3];
	struct tko_key k;
	size_t from = H.nev;

	(void)state;
	h_destroy();
	assert_int_equal(h_load(2), 0);
	set_policy(0, &(struct pol){ 0 });
	for (int i = 0; i < 3; i++) {
		s[i] = dev_seg(false, 40900 + i, F_ACK, SEQ0, ACK0, 0);
		tc(&s[i]);
	}
	assert_true(has_session(&s[0]));
	assert_true(has_session(&s[1]));
	assert_false(has_session(&s[2]));
	k = seg_key(&s[2]);
	check_one_event(&k, from, TKO_EV_REFUSED, TKO_R_TABLE_FULL, NULL);
	CHECK_EQ(h_stat(TKO_ST_REFUSED_TABLE_FULL), 1, "refused_table_full");
	/* Its next segments are not refused again, one event per flow. */
	tc(&s[2]);
	check_one_event(&k, from, TKO_EV_REFUSED, TKO_R_TABLE_FULL, NULL);
	CHECK_EQ(h_stat(TKO_ST_REFUSED_TABLE_FULL), 1, "refused_table_full after a second segment");
	CHECK_EQ(pstats(0).sessions, 2, "policy sessions");
}

/*
 * A refusal is not for ever: the flow is set aside for TKO_FLOW_RETRY_NS
 * (one refusal, one event), then tried again, and taken once the table has
 * room (a long-lived flow must not wait for a SYN that never comes).
 */
static void refusal_expires(void **state)
{
	struct seg_spec s[3];
	struct tko_key k, k0;
	__u64 until, now;
	size_t from = H.nev;
	int fd;

	(void)state;
	h_destroy();
	assert_int_equal(h_load(2), 0);
	fd = bpf_map__fd(H.b.ctl->maps.flows_closed);
	set_policy(0, &(struct pol){ 0 });
	for (int i = 0; i < 3; i++) {
		s[i] = dev_seg(false, 41100 + i, F_ACK, SEQ0, ACK0, 0);
		tc(&s[i]);
	}
	k = seg_key(&s[2]);
	k0 = seg_key(&s[0]);
	assert_false(has_session(&s[2]));
	check_one_event(&k, from, TKO_EV_REFUSED, TKO_R_TABLE_FULL, NULL);
	now = now_ns();
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &until), 0);
	if (until < now + TKO_FLOW_RETRY_NS - NSEC_PER_SEC || until > now + TKO_FLOW_RETRY_NS)
		fail_msg("the refused flow is set aside until %llu, want about now + %llu",
			 (unsigned long long)until, (unsigned long long)TKO_FLOW_RETRY_NS);
	/* room again; within the retry time nothing happens */
	CHECK_EQ(h_stop(&k0), 0, "tko stop of another flow");
	h_pass();
	tc(&s[2]);
	assert_false(has_session(&s[2]));
	check_one_event(&k, from, TKO_EV_REFUSED, TKO_R_TABLE_FULL, NULL);
	/* the retry time over (as if it had passed): taken */
	until = now_ns() - 1;
	assert_int_equal(bpf_map_update_elem(fd, &k, &until, BPF_ANY), 0);
	tc(&s[2]);
	assert_true(has_session(&s[2]));
	if (!bpf_map_lookup_elem(fd, &k, &until))
		fail_msg("the flow is still set aside once a session");
}

/*
 * A matching flow that closes while it is not a session (its FIN or RST,
 * the policy added after it began): its last segments, the ACK of the
 * peer's FIN among them, must not make it a session that probes a peer
 * that is gone.
 */
static void closing_flow_not_revived(void **state)
{
	static const uint8_t closing[] = { F_FIN | F_ACK, F_RST, F_RST | F_ACK };

	(void)state;
	set_policy(0, &(struct pol){ 0 });
	for (size_t i = 0; i < sizeof(closing); i++) {
		uint16_t port = (uint16_t)(41200 + i);
		struct seg_spec end = dev_seg(false, port, closing[i], SEQ0, ACK0, 0);
		struct seg_spec last = dev_seg(false, port, F_ACK, SEQ0 + 1, ACK0 + 1, 0);
		struct seg_spec syn = dev_seg(false, port, F_SYN, 7000, 0, 0);
		struct seg_spec ack = dev_seg(false, port, F_ACK, 7001, 9001, 0);

		tc(&end);
		assert_false(has_session(&end));
		tc(&last);
		if (has_session(&last))
			fail_msg("the last ACK of a flow closed with flags 0x%x made a session",
				 closing[i]);
		/* a new connection on the tuple is tracked again */
		tc(&syn);
		tc(&ack);
		assert_true(has_session(&ack));
	}
	CHECK_EQ(pstats(0).created, sizeof(closing), "policy created");
}

/*
 * Segments that came in through one of the agent's interfaces came from a
 * peer: going out again (an agent also on the devices' side), they are
 * the server's side of a flow, never a device tko speaks for.
 */
static void from_peers_side_not_tracked(void **state)
{
	struct seg_spec a = dev_seg(false, 41300, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec b = dev_seg(false, 41301, F_ACK, SEQ0, ACK0, 0);
	struct __sk_buff ctx = { .ingress_ifindex = 7 };
	uint8_t out[FRAME_MAX];
	struct frame f;
	size_t out_len;
	int verdict;

	(void)state;
	set_policy(0, &(struct pol){ 0 });	/* no --local: any address */
	h_iface_set(7, TKO_ANSWER_XDP, false);	/* one of the agent's interfaces */
	frame_build(&f, &a);
	assert_int_equal(h_try_skb_prog(H.b.tc->progs.tko_tc_egress, f.b, f.len, &ctx, out,
					&out_len, &verdict), 0);
	CHECK_EQ(verdict, TC_ACT_OK, "TC verdict");
	assert_false(has_session(&a));
	/* in through an interface that is not the agent's: a device's */
	ctx.ingress_ifindex = 8;
	frame_build(&f, &b);
	assert_int_equal(h_try_skb_prog(H.b.tc->progs.tko_tc_egress, f.b, f.len, &ctx, out,
					&out_len, &verdict), 0);
	assert_true(has_session(&b));
}

/*
 * A slot given to a new policy starts at zero and is counted afresh: the
 * sessions a deleted policy of the slot left are not the new one's, and
 * their end takes nothing from its counts.
 */
static void reused_slot_counts_afresh(void **state)
{
	struct seg_spec a = dev_seg(false, 41400, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec b = dev_seg(false, 41401, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec rst = srv_seg(&a, F_RST, ACK0, 0);
	int pol_fd = bpf_map__fd(H.b.ctl->maps.policies);
	int st_fd = bpf_map__fd(H.b.ctl->maps.policy_stats);
	int pfx_fd = bpf_map__fd(H.b.ctl->maps.policy_prefixes);
	struct tko_policy p = {}, q = {}, fill = {};
	struct tko_session x;
	struct tko_key kb = seg_key(&b);

	(void)state;
	tko_dp_config_default(&p.cfg);
	p.cfg.idle_s = 3600;
	p.cfg.flags = TKO_F_FORWARDED;
	p.lport = 41400;
	assert_int_equal(policy_install(pol_fd, st_fd, pfx_fd, &p), 0);
	CHECK_EQ(p.id, 1, "the first policy's id");
	tc(&a);
	assert_true(has_session(&a));
	CHECK_EQ(pstats(0).sessions, 1, "its sessions");
	assert_int_equal(policy_remove(pol_fd, pfx_fd, p.id), 0);
	/* every other slot taken: the next policy gets slot 0 again */
	fill = p;
	for (int i = 1; i < TKO_MAX_POLICIES; i++) {
		fill.lport = (uint16_t)(50000 + i);
		fill.id = 0;
		assert_int_equal(policy_install(pol_fd, st_fd, pfx_fd, &fill), 0);
	}
	q = p;
	q.lport = 41401;
	q.id = 0;
	assert_int_equal(policy_install(pol_fd, st_fd, pfx_fd, &q), 0);
	CHECK_EQ(q.id, 1, "the new policy's id: the slot again");
	CHECK_EQ(pstats(0).sessions, 0, "the new policy's sessions");
	CHECK_EQ(pstats(0).created, 0, "the new policy's created");
	tc(&b);
	assert_true(h_lookup(&kb, &x));
	CHECK_EQ(x.policy, 1, "the new session's policy");
	CHECK_EQ(pstats(0).sessions, 1, "the new policy's sessions");
	/* the old policy's session ends: nothing of the new one's changes */
	xdp(&rst);
	assert_false(has_session(&a));
	CHECK_EQ(pstats(0).sessions, 1, "the new policy's sessions after the old one's ended");
	CHECK_EQ(pstats(0).created, 1, "the new policy's created");
	CHECK_EQ(h_stop(&kb), 0, "tko stop");
	CHECK_EQ(pstats(0).sessions, 0, "the new policy's sessions after its own ended");
}

/*
 * A flow seen from its SYN: the endpoint's first segment after it, at the
 * SYN's seq + 1, was sent once the peer had acknowledged the SYN, so
 * nothing is in flight and the session goes ACTIVE with no other segment
 * (a connection that opens, then idles). A first segment elsewhere (the
 * SYN lost and sent again, a mangled one) proves nothing.
 */
static void handshake_tells_una(void **state)
{
	struct seg_spec syn = dev_seg(false, 41500, F_SYN, SEQ0 - 1, 0, 0);
	struct seg_spec ack = dev_seg(false, 41500, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec syn2 = dev_seg(true, 41501, F_SYN | F_ACK, SEQ0 - 1, ACK0, 0);
	struct seg_spec data2 = dev_seg(true, 41501, F_ACK | F_PSH, SEQ0, ACK0, 20);
	struct seg_spec syn3 = dev_seg(false, 41502, F_SYN, SEQ0 - 1, 0, 0);
	struct seg_spec ack3 = dev_seg(false, 41502, F_ACK, SEQ0 + 7, ACK0, 0);
	struct tko_key k = seg_key(&ack), k2 = seg_key(&data2), k3 = seg_key(&ack3);
	struct tko_session x;

	(void)state;
	set_policy(0, &(struct pol){ 0 });
	tc(&syn);
	assert_false(has_session(&syn));
	tc(&ack);
	assert_true(h_lookup(&k, &x));
	CHECK_EQ(x.have, TKO_HAVE_SEQ | TKO_HAVE_L2 | TKO_HAVE_UNA, "have after the handshake");
	CHECK_EQ(x.tcp.snd_una, SEQ0, "snd_una");
	CHECK_EQ(x.tcp.snd_nxt, SEQ0, "snd_nxt");
	assert_true(h_wait_state(&k, 1, TKO_ACTIVE));
	/* the endpoint accepted the connection (its SYN-ACK) and speaks first */
	tc(&syn2);
	tc(&data2);
	assert_true(h_lookup(&k2, &x));
	CHECK_EQ(x.tcp.snd_una, SEQ0, "snd_una: its data in flight");
	CHECK_EQ(x.tcp.snd_nxt, SEQ0 + 20, "snd_nxt after its data");
	CHECK_EQ(!!(x.have & TKO_HAVE_UNA), 1, "SND.UNA known");
	/* not at the SYN's seq + 1: nothing known */
	tc(&syn3);
	tc(&ack3);
	assert_true(h_lookup(&k3, &x));
	CHECK_EQ(x.have & TKO_HAVE_UNA, 0, "SND.UNA after a segment elsewhere");
}

/* tko's own forged segments (marked) are never a flow. */
static void marked_ignored(void **state)
{
	struct seg_spec s = dev_seg(false, 41000, F_ACK, SEQ0, ACK0, 0);
	uint8_t out[FRAME_MAX];
	struct frame f;
	size_t out_len;

	(void)state;
	set_policy(0, &(struct pol){ 0 });
	frame_build(&f, &s);
	CHECK_EQ(h_run_tc(f.b, f.len, TKO_MARK, out, &out_len), TC_ACT_OK, "TC verdict");
	assert_false(has_session(&s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(v4_ack_creates, setup, teardown),
		cmocka_unit_test_setup_teardown(v6_ack_creates, setup, teardown),
		cmocka_unit_test_setup_teardown(not_from_handshake_or_end, setup, teardown),
		cmocka_unit_test_setup_teardown(data_of_existing_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(learned_from_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(no_match, setup, teardown),
		cmocka_unit_test_setup_teardown(first_match_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(fin_ends_for_good, setup, teardown),
		cmocka_unit_test_setup_teardown(peer_rst_and_stop_end_for_good, setup, teardown),
		cmocka_unit_test_setup_teardown(syn_on_session, setup, teardown),
		cmocka_unit_test_setup_teardown(deleted_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(marked_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(refusal_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(closing_flow_not_revived, setup, teardown),
		cmocka_unit_test_setup_teardown(from_peers_side_not_tracked, setup, teardown),
		cmocka_unit_test_setup_teardown(reused_slot_counts_afresh, setup, teardown),
		cmocka_unit_test_setup_teardown(handshake_tells_una, setup, teardown),
	};

	return cmocka_run_group_tests_name("prog_policy", tests, NULL, NULL);
}
