// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of tko_xdp_ingress (the peer's frames arriving): every case
 * is a crafted frame run with BPF_PROG_RUN against a session of its own,
 * checked for the verdict, every byte of the frame after the run (the
 * answer, or the frame untouched), the session afterwards, its events and
 * the counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "harness.h"

/* What a case does to its session. */
enum after {
	A_SAME,		/* nothing changes (answer counters aside) */
	A_TOUCHED,	/* only last_seen_ns moves: traffic on a non-ACTIVE session */
	A_SND_PLUS1,	/* only SND.NXT moves, one on: the endpoint's keepalive answered */
	A_UNA,		/* only SND.UNA moves, to the frame's ack: data acknowledged */
	A_SUSPENDED,	/* ACTIVE -> SUSPENDED + event (reason data_peer) */
	A_GONE,		/* deleted + "invalidated" event */
};

enum { TS_AUTO, TS_ON, TS_OFF };	/* TSopt in the frame: as the session, or forced */

struct xdp_case {
	const char *name;
	unsigned prof;		/* the session's profile (P_*) */
	/* the frame: the peer's probe, changed by these */
	int32_t dseq;		/* seq = RCV.NXT + dseq (a probe is -1) */
	int32_t dack;		/* ack = SND.NXT + dack */
	uint8_t flags;
	uint16_t payload;
	int ts;
	void (*tweak)(struct seg_spec *);	/* before building */
	void (*mangle)(struct frame *);		/* after building: garbage */
	bool arp;				/* an ARP request instead */
	void (*pre)(unsigned prof, uint16_t port);	/* puts the session in shape */
	int32_t in_flight;	/* the session has this much unacknowledged (SND.UNA back) */
	/* expected */
	int verdict;		/* XDP_TX: the frame must be the answer */
	bool ours;		/* the peer's answer to tko's probe: counted, unanswered = 0 */
	enum after after;
	uint8_t ev_reason;
	bool seen;		/* reached the session lookup (stats xdp_seen) */
	bool off_path;		/* counted as off-path (stats off_path) */
	bool ooo;		/* the peer's own, out of order or again (peer_out_of_order) */
	uint8_t warn;		/* a warning event with this reason (once per session) */
};

#define PROBE		.dseq = -1, .flags = F_ACK
#define ANSWERED	.verdict = XDP_TX, .seen = true
#define IGNORED		.verdict = XDP_PASS, .seen = true
#define NOT_PARSED	.verdict = XDP_PASS, .seen = false
#define CONSUMED	.verdict = XDP_DROP, .seen = true, .ours = true

static void check_still_answers(unsigned prof, uint16_t lport);

/* pre: the peer probed and tko answered, so no probe of tko's is outstanding */
static void pre_peer_probed(unsigned prof, uint16_t port)
{
	check_still_answers(prof, port);
}

/* pre: the endpoint's in-sync pure ACK went out (TC egress learned from it) */
static void pre_endpoint_acked(unsigned prof, uint16_t port)
{
	struct seg_spec e = from_endpoint(prof, port);
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;

	frame_build(&f, &e);
	CHECK_EQ(h_run_tc(f.b, f.len, 0, out, &out_len), 0, "TC verdict of the endpoint's ACK");
}

/* pre: the endpoint sent its own kernel keepalive (seen by TC egress) */
static void pre_endpoint_probed(unsigned prof, uint16_t port)
{
	struct seg_spec e = from_endpoint(prof, port);
	struct tko_key k = sess_key(prof, port);
	struct tko_session s;
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;

	e.seq--;
	frame_build(&f, &e);
	CHECK_EQ(h_run_tc(f.b, f.len, 0, out, &out_len), 0, "TC verdict of the endpoint's probe");
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.endpoint_probe, 1, "endpoint_probe after the endpoint's probe");
}

static void unknown_port(struct seg_spec *s) { s->dport = 1; }
/* A TSval older than the session's TS.Recent (TSECR): a reordered probe. */
static void tsval_old(struct seg_spec *s) { s->tsval = TSECR - 10; }

#define TSVAL_BYTES 0x0b, 0xad, 0xd0, 0x0d	/* PEER_TSVAL */
#define TSECR_BYTES 0x00, 0xc0, 0xff, 0xee	/* TSVAL */
/* TS not first: the parser's slow path */
SET_OPTS(opt_ts_late, 8, 10, TSVAL_BYTES, TSECR_BYTES, 1, 1)

static const struct xdp_case cases[] = {
	/* keepalive probes of ACTIVE sessions: answered */
	{ .name = "v4_probe0", .prof = P_V4, PROBE, ANSWERED },
	{ .name = "v4_probe0_unpadded", .prof = P_V4, PROBE, .tweak = no_padding, ANSWERED },
	{ .name = "v4_probe1", .prof = P_V4, PROBE, .payload = 1, ANSWERED },
	{ .name = "v4_ts_probe0", .prof = P_TS, PROBE, ANSWERED },
	{ .name = "v4_ts_probe1", .prof = P_TS, PROBE, .payload = 1, ANSWERED },
	{ .name = "v6_probe0", .prof = P_V6, PROBE, ANSWERED },
	{ .name = "v6_probe1", .prof = P_V6, PROBE, .payload = 1, ANSWERED },
	{ .name = "v6_ts_probe0", .prof = P_V6 | P_TS, PROBE, ANSWERED },
	{ .name = "v6_ts_probe1", .prof = P_V6 | P_TS, PROBE, .payload = 1, ANSWERED },
	{ .name = "v4_vlan_probe0", .prof = P_VLAN, PROBE, ANSWERED },
	{ .name = "v6_vlan_ts_probe1", .prof = P_V6 | P_TS | P_VLAN, PROBE, .payload = 1,
	  ANSWERED },
	{ .name = "v4_8021ad_tag_probe0", .prof = P_V4, PROBE, .tweak = tag_8021ad, ANSWERED },
	{ .name = "v4_probe_psh", .prof = P_V4, .dseq = -1, .flags = F_ACK | F_PSH, ANSWERED },
	{ .name = "v4_probe_df", .prof = P_V4, PROBE, .tweak = ip_df, ANSWERED },
	{ .name = "v4_probe_seq_wrap", .prof = P_WRAP, PROBE, ANSWERED },
	{ .name = "v6_ts_probe_seq_wrap", .prof = P_V6 | P_TS | P_WRAP, PROBE, ANSWERED },
	{ .name = "v4_ts_probe_sack", .prof = P_TS, PROBE, .tweak = opt_sack, ANSWERED },
	{ .name = "v4_ts_probe_ts_not_first", .prof = P_TS, PROBE, .ts = TS_OFF,
	  .tweak = opt_ts_late, ANSWERED },
	{ .name = "v4_probe_eol_option", .prof = P_V4, PROBE, .tweak = opt_eol, ANSWERED },
	{ .name = "v6_probe_nop_options", .prof = P_V6, PROBE, .tweak = opt_nops, ANSWERED },
	/* the answer carries the endpoint's DSCP and flow label, learned at TC */
	{ .name = "v4_probe_endpoint_dscp", .prof = P_V4, PROBE, .pre = pre_endpoint_acked,
	  ANSWERED },
	{ .name = "v6_ts_probe_endpoint_flow_label", .prof = P_V6 | P_TS, PROBE,
	  .pre = pre_endpoint_acked, ANSWERED },
	/* TS.Recent never goes back: a probe older than it (reordered) is
	 * answered with TS.Recent, which stays */
	{ .name = "v4_ts_probe_tsval_older", .prof = P_TS, PROBE, .tweak = tsval_old,
	  ANSWERED },

	/*
	 * The peer's answer to tko's own probe (the timer queued one when the
	 * session became ACTIVE): consumed, unless the endpoint's own kernel
	 * keepalive waits for that same ACK.
	 */
	{ .name = "v4_probe_answer", .prof = P_V4, .flags = F_ACK, CONSUMED },
	{ .name = "v4_ts_probe_answer", .prof = P_TS, .flags = F_ACK, CONSUMED },
	{ .name = "v6_probe_answer", .prof = P_V6, .flags = F_ACK, CONSUMED },
	{ .name = "v6_ts_vlan_probe_answer", .prof = P_V6 | P_TS | P_VLAN, .flags = F_ACK,
	  CONSUMED },
	{ .name = "v4_probe_answer_dsack", .prof = P_V4, .flags = F_ACK, .tweak = opt_sack,
	  CONSUMED },
	{ .name = "v4_probe_answer_psh", .prof = P_V4, .flags = F_ACK | F_PSH, CONSUMED },
	{ .name = "v4_probe_answer_endpoint_probing", .prof = P_V4, .flags = F_ACK,
	  .pre = pre_endpoint_probed, IGNORED, .ours = true },
	{ .name = "v4_pure_ack_nothing_outstanding", .prof = P_V4, .flags = F_ACK,
	  .pre = pre_peer_probed, IGNORED },
	{ .name = "v4_probe_answer_ack_plus1", .prof = P_V4, .dack = 1, .flags = F_ACK,
	  IGNORED },
	{ .name = "v4_probe_answer_ack_minus1", .prof = P_V4, .dack = -1, .flags = F_ACK,
	  IGNORED },
	/* the peer's data waits for the endpoint (a sleeping device the peer
	 * retransmits to): its answer is at its SND.NXT, beyond RCV.NXT, in
	 * the endpoint's window (WIN << WSCALE here, below the 64 KiB tko
	 * assumes at least); beyond the window, not the peer's */
	{ .name = "v4_probe_answer_seq_plus1", .prof = P_V4, .dseq = 1, .flags = F_ACK,
	  CONSUMED },
	{ .name = "v4_probe_answer_peer_data_in_flight", .prof = P_V4, .dseq = 4000,
	  .flags = F_ACK, CONSUMED },
	{ .name = "v6_ts_probe_answer_window_edge", .prof = P_V6 | P_TS, .dseq = 0xfffe,
	  .flags = F_ACK, CONSUMED },
	{ .name = "v6_ts_probe_answer_beyond_window", .prof = P_V6 | P_TS, .dseq = 0xffff,
	  .flags = F_ACK, IGNORED },
	{ .name = "v4_probe_answer_beyond_64k", .prof = P_V4, .dseq = 0x10000, .flags = F_ACK,
	  IGNORED },
	{ .name = "v4_probe_answer_learning", .prof = P_LEARNING, .flags = F_ACK, IGNORED },
	/* data in flight (a race of TC egress with the clock): the peer's
	 * duplicate ACK of it is the peer alive, and its ACK of more of it
	 * moves SND.UNA */
	{ .name = "v4_probe_answer_dup_ack_in_flight", .prof = P_V4, .dack = -10,
	  .flags = F_ACK, .in_flight = 10, CONSUMED },
	{ .name = "v4_probe_answer_acks_some_in_flight", .prof = P_V4, .dack = -4,
	  .flags = F_ACK, .in_flight = 10, CONSUMED, .after = A_UNA },
	{ .name = "v4_ack_before_una", .prof = P_V4, .dack = -11, .flags = F_ACK,
	  .in_flight = 10, IGNORED },
	{ .name = "v4_ack_of_data_in_flight", .prof = P_V4, .flags = F_ACK, .in_flight = 10,
	  .pre = pre_peer_probed, IGNORED, .after = A_UNA },
	/* ... only from a segment in the endpoint's window: never a guess */
	{ .name = "v4_ack_of_data_in_flight_seq_off_path", .prof = P_V4, .dseq = 0x40000000,
	  .flags = F_ACK, .in_flight = 10, .pre = pre_peer_probed, IGNORED },

	/*
	 * A session whose state was given exactly (not learned from a bare
	 * segment): an ACK of one more than SND.NXT acknowledges what was
	 * never sent, and changes nothing (the bare-segment case: prog_policy).
	 */
	{ .name = "v4_exact_state_ack_plus1", .prof = P_LEARNING, .dack = 1, .flags = F_ACK,
	  IGNORED },
	{ .name = "v6_ts_exact_state_ack_plus1", .prof = P_V6 | P_TS | P_LEARNING, .dack = 1,
	  .flags = F_ACK, IGNORED },
	{ .name = "v4_learning_ack_plus2", .prof = P_LEARNING, .dack = 2, .flags = F_ACK,
	  IGNORED },
	{ .name = "v4_learning_ack_plus1_seq_plus1", .prof = P_LEARNING, .dseq = 1, .dack = 1,
	  .flags = F_ACK, IGNORED },
	{ .name = "v4_learning_ack_plus1_data", .prof = P_LEARNING, .dack = 1, .flags = F_ACK,
	  .payload = 1, IGNORED, .off_path = true },
	{ .name = "v4_learning_ack_plus1_fin", .prof = P_LEARNING, .dack = 1,
	  .flags = F_FIN | F_ACK, IGNORED, .off_path = true },

	/* not a keepalive of this session: passed, nothing changes */
	{ .name = "v4_probe_seq_minus2", .prof = P_V4, .dseq = -2, .flags = F_ACK, IGNORED },
	{ .name = "v4_probe_ack_plus1", .prof = P_V4, PROBE, .dack = 1, IGNORED },
	{ .name = "v4_probe_ack_minus1", .prof = P_V4, PROBE, .dack = -1, IGNORED },
	{ .name = "v6_ts_probe_ack_plus1", .prof = P_V6 | P_TS, PROBE, .dack = 1, IGNORED },
	/* 2^31 away: neither before nor after in serial arithmetic, never in range */
	{ .name = "v4_probe_ack_half_space", .prof = P_V4, PROBE, .dack = INT32_MIN, IGNORED },
	{ .name = "v4_probe_ack_half_space_in_flight", .prof = P_V4, PROBE, .dack = INT32_MIN,
	  .in_flight = 10, IGNORED },
	{ .name = "v4_probe2", .prof = P_V4, PROBE, .payload = 2, IGNORED, .off_path = true },
	/* probes tko cannot answer: left to the endpoint, counted, said once */
	{ .name = "v4_ts_probe_without_ts", .prof = P_TS, PROBE, .ts = TS_OFF, IGNORED,
	  .warn = TKO_R_TS_MISMATCH },
	{ .name = "v4_probe_ts_on_plain_session", .prof = P_V4, PROBE, .ts = TS_ON, IGNORED,
	  .warn = TKO_R_TS_MISMATCH },
	{ .name = "v4_probe_md5", .prof = P_V4, PROBE, .tweak = opt_md5, IGNORED,
	  .warn = TKO_R_SIGNED },
	{ .name = "v4_ts_probe_md5", .prof = P_TS, PROBE, .tweak = opt_md5, IGNORED,
	  .warn = TKO_R_SIGNED },
	{ .name = "v6_probe_ao", .prof = P_V6, PROBE, .tweak = opt_ao, IGNORED,
	  .warn = TKO_R_SIGNED },
	{ .name = "v4_probe_syn", .prof = P_V4, .dseq = -1, .flags = F_SYN | F_ACK, IGNORED },
	/* the peer's FIN again (RCV.NXT - 1): its own, and old */
	{ .name = "v4_probe_fin", .prof = P_V4, .dseq = -1, .flags = F_FIN | F_ACK, IGNORED,
	  .ooo = true },
	{ .name = "v4_probe_rst", .prof = P_V4, .dseq = -1, .flags = F_RST | F_ACK, IGNORED,
	  .off_path = true },
	{ .name = "v4_probe_urg", .prof = P_V4, .dseq = -1, .flags = F_URG | F_ACK, IGNORED },
	{ .name = "v4_probe_no_ack_flag", .prof = P_V4, .dseq = -1, .flags = 0, IGNORED },
	{ .name = "v4_probe_learning", .prof = P_LEARNING, PROBE, IGNORED },
	{ .name = "v6_ts_probe_learning", .prof = P_V6 | P_TS | P_LEARNING, PROBE, IGNORED },
	{ .name = "v4_probe_no_state", .prof = P_NOSTATE, PROBE, IGNORED },
	{ .name = "v4_probe_unknown_port", .prof = P_V4, PROBE, .tweak = unknown_port,
	  NOT_PARSED },
	{ .name = "v4_probe_reversed", .prof = P_V4, PROBE, .tweak = reversed, NOT_PARSED },
	{ .name = "v6_probe_reversed", .prof = P_V6, PROBE, .tweak = reversed, NOT_PARSED },

	/* payload, FIN, RST: exact RCV.NXT or nothing (RFC 5961) */
	{ .name = "v4_data_in_seq", .prof = P_V4, .flags = F_ACK | F_PSH, .payload = 100,
	  IGNORED, .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_PEER },
	{ .name = "v6_ts_data_in_seq", .prof = P_V6 | P_TS, .flags = F_ACK, .payload = 100,
	  IGNORED, .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_PEER },
	{ .name = "v4_vlan_data_in_seq", .prof = P_VLAN, .flags = F_ACK, .payload = 7,
	  IGNORED, .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_PEER },
	{ .name = "v4_data1_in_seq", .prof = P_V4, .flags = F_ACK, .payload = 1,
	  IGNORED, .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_PEER },
	/* in the window, not at RCV.NXT: the peer's own segments, not off-path;
	 * data after a hole is the peer speaking, data again is old */
	{ .name = "v4_data_out_of_order", .prof = P_V4, .dseq = 1000, .flags = F_ACK,
	  .payload = 100, IGNORED, .ooo = true, .after = A_SUSPENDED,
	  .ev_reason = TKO_R_DATA_PEER },
	{ .name = "v4_data_old", .prof = P_V4, .dseq = -100, .flags = F_ACK, .payload = 100,
	  IGNORED, .ooo = true },
	{ .name = "v4_data_off_path", .prof = P_V4, .dseq = 0x40000000, .flags = F_ACK,
	  .payload = 100, IGNORED, .off_path = true },
	{ .name = "v4_data_old_off_path", .prof = P_V4, .dseq = -0x40000000, .flags = F_ACK,
	  .payload = 100, IGNORED, .off_path = true },
	{ .name = "v4_data_acks_unsent", .prof = P_V4, .dack = 1, .flags = F_ACK,
	  .payload = 100, IGNORED, .off_path = true },
	{ .name = "v4_oneshot_data_in_seq", .prof = P_ONESHOT, .flags = F_ACK, .payload = 10,
	  IGNORED, .after = A_GONE, .ev_reason = TKO_R_DATA_PEER },
	{ .name = "v4_fin_in_seq", .prof = P_V4, .flags = F_FIN | F_ACK, IGNORED,
	  .after = A_GONE, .ev_reason = TKO_R_FIN_PEER },
	{ .name = "v6_ts_fin_in_seq", .prof = P_V6 | P_TS, .flags = F_FIN | F_ACK, IGNORED,
	  .after = A_GONE, .ev_reason = TKO_R_FIN_PEER },
	{ .name = "v4_fin_data_in_seq", .prof = P_V4, .flags = F_FIN | F_PSH | F_ACK,
	  .payload = 20, IGNORED, .after = A_GONE, .ev_reason = TKO_R_FIN_PEER },
	{ .name = "v4_fin_out_of_order", .prof = P_V4, .dseq = 1, .flags = F_FIN | F_ACK,
	  IGNORED, .ooo = true, .after = A_SUSPENDED, .ev_reason = TKO_R_DATA_PEER },
	{ .name = "v4_fin_off_path", .prof = P_V4, .dseq = 0x40000000, .flags = F_FIN | F_ACK,
	  IGNORED, .off_path = true },
	{ .name = "v4_rst_in_seq", .prof = P_V4, .flags = F_RST | F_ACK, IGNORED,
	  .after = A_GONE, .ev_reason = TKO_R_RST_PEER },
	{ .name = "v4_rst_bare_in_seq", .prof = P_V4, .flags = F_RST, IGNORED,
	  .after = A_GONE, .ev_reason = TKO_R_RST_PEER },
	{ .name = "v6_rst_in_seq", .prof = P_V6, .flags = F_RST | F_ACK, IGNORED,
	  .after = A_GONE, .ev_reason = TKO_R_RST_PEER },
	{ .name = "v4_rst_off_path", .prof = P_V4, .dseq = 1, .flags = F_RST | F_ACK, IGNORED,
	  .off_path = true },
	{ .name = "v6_ts_rst_off_path", .prof = P_V6 | P_TS, .dseq = 0x10000, .flags = F_RST,
	  IGNORED, .off_path = true },
	{ .name = "v4_syn_in_seq", .prof = P_V4, .flags = F_SYN, IGNORED },
	{ .name = "v4_learning_data_in_seq", .prof = P_LEARNING, .flags = F_ACK,
	  .payload = 100, IGNORED, .after = A_TOUCHED },
	{ .name = "v4_learning_fin_in_seq", .prof = P_LEARNING, .flags = F_FIN | F_ACK,
	  IGNORED, .after = A_GONE, .ev_reason = TKO_R_FIN_PEER },
	{ .name = "v4_learning_rst_in_seq", .prof = P_LEARNING, .flags = F_RST, IGNORED,
	  .after = A_GONE, .ev_reason = TKO_R_RST_PEER },
	{ .name = "v4_no_state_rst", .prof = P_NOSTATE, .flags = F_RST, IGNORED },

	/* shapes tko leaves alone: a probe of an ACTIVE session in each */
	{ .name = "v4_ip_options_probe", .prof = P_V4, PROBE, .tweak = ip_options, NOT_PARSED },
	{ .name = "v4_fragment_mf_probe", .prof = P_V4, PROBE, .tweak = ip_more_frags,
	  NOT_PARSED },
	{ .name = "v4_fragment_offset_probe", .prof = P_V4, PROBE, .tweak = ip_frag_offset,
	  NOT_PARSED },
	{ .name = "v6_dstopts_probe", .prof = P_V6, PROBE, .tweak = ip6_dstopts, NOT_PARSED },
	{ .name = "v4_udp_to_session", .prof = P_V4, PROBE, .payload = 1, .tweak = udp,
	  NOT_PARSED },
	{ .name = "v6_udp_to_session", .prof = P_V6, PROBE, .payload = 1, .tweak = udp,
	  NOT_PARSED },
	{ .name = "arp_request", .prof = P_V4, .arp = true, NOT_PARSED },
	{ .name = "v4_ip_version_6", .prof = P_V4, PROBE, .mangle = ip4_version_6, NOT_PARSED },
	{ .name = "v6_ip_version_4", .prof = P_V6, PROBE, .mangle = ip6_version_4, NOT_PARSED },
	{ .name = "v4_tot_len_short", .prof = P_V4, PROBE, .mangle = ip4_tot_len_short,
	  NOT_PARSED },
	{ .name = "v4_tot_len_beyond_frame", .prof = P_V4, PROBE, .tweak = no_padding,
	  .mangle = ip4_tot_len_long, NOT_PARSED },
	{ .name = "v6_plen_short", .prof = P_V6, PROBE, .mangle = ip6_plen_short, NOT_PARSED },
	{ .name = "v6_plen_beyond_frame", .prof = P_V6 | P_TS, PROBE,
	  .mangle = ip6_plen_long, NOT_PARSED },
	{ .name = "v4_tcp_doff_4", .prof = P_V4, PROBE, .mangle = tcp_doff_4, NOT_PARSED },
	{ .name = "v4_tcp_doff_beyond", .prof = P_V4, PROBE, .mangle = tcp_doff_15,
	  NOT_PARSED },
	{ .name = "v4_opt_len_zero", .prof = P_V4, PROBE, .tweak = opt_len_zero, NOT_PARSED },
	{ .name = "v4_opt_overrun", .prof = P_V4, PROBE, .tweak = opt_overrun, NOT_PARSED },
	{ .name = "v4_ts_opt_bad_len", .prof = P_TS, PROBE, .ts = TS_OFF,
	  .tweak = opt_ts_bad_len, NOT_PARSED },
	{ .name = "v4_opts_beyond_walk_limit", .prof = P_V4, PROBE, .tweak = opt_many_nops,
	  NOT_PARSED },
	{ .name = "v4_unknown_ethertype", .prof = P_V4, PROBE, .mangle = ethertype_lldp,
	  NOT_PARSED },
	{ .name = "v4_qinq_two_tags", .prof = P_V4, PROBE, .mangle = second_tag, NOT_PARSED },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define CASE_PORT0 20000	/* case i uses local port CASE_PORT0 + i */

/* Sessions of the tests outside the table, one port each. */
enum {
	PORT_RATE = 30000,
	PORT_RESUME,
	PORT_KAT = 30100,	/* in the known answers below */
	PORT_TRUNC0 = 30200,	/* one per truncation profile */
};

static const unsigned trunc_profs[] = {
	P_V4, P_TS, P_V6, P_V6 | P_TS, P_VLAN, P_V6 | P_VLAN | P_TS,
};
#define NTRUNC (sizeof(trunc_profs) / sizeof(trunc_profs[0]))

static uint16_t case_port(const struct xdp_case *c)
{
	return (uint16_t)(CASE_PORT0 + (c - cases));
}

/* The case's frame and, for the checks, the segment it describes. */
static void build_case_frame(const struct xdp_case *c, struct frame *f, struct seg_spec *s)
{
	struct tko_tcp_state t = sess_tcp(c->prof);

	*s = from_peer(c->prof, case_port(c));
	s->seq = t.rcv_nxt + (uint32_t)c->dseq;
	s->ack = t.snd_nxt + (uint32_t)c->dack;
	s->flags = c->flags;
	s->payload = c->payload;
	if (c->ts != TS_AUTO)
		s->ts = c->ts == TS_ON;
	if (c->tweak)
		c->tweak(s);
	if (c->arp)
		frame_build_arp(f, s);
	else
		frame_build(f, s);
	if (c->mangle)
		c->mangle(f);
}

struct xdp_stats {
	uint64_t seen, answered, ours, limited, suspended, invalidated, off_path, ooo, declined;
};

static struct xdp_stats read_stats(void)
{
	struct xdp_stats st = {
		.seen = h_stat(TKO_ST_XDP_SEEN),
		.answered = h_stat(TKO_ST_PEER_PROBES_ANSWERED),
		.ours = h_stat(TKO_ST_PROBES_ANSWERED),
		.limited = h_stat(TKO_ST_ANSWERS_LIMITED),
		.suspended = h_stat(TKO_ST_SUSPENDED),
		.invalidated = h_stat(TKO_ST_INVALIDATED),
		.off_path = h_stat(TKO_ST_OFF_PATH),
		.ooo = h_stat(TKO_ST_PEER_OUT_OF_ORDER),
		.declined = h_stat(TKO_ST_ANSWERS_DECLINED),
	};
	return st;
}

static void check_stats(const struct xdp_stats *b, const struct xdp_case *c)
{
	struct xdp_stats a = read_stats();

	CHECK_EQ(a.seen - b->seen, c->seen, "stats xdp_seen");
	CHECK_EQ(a.answered - b->answered, c->verdict == XDP_TX, "stats peer_probes_answered");
	CHECK_EQ(a.ours - b->ours, c->ours, "stats probes_answered");
	CHECK_EQ(a.limited - b->limited, 0, "stats answers_limited");
	CHECK_EQ(a.suspended - b->suspended, c->after == A_SUSPENDED, "stats suspended");
	CHECK_EQ(a.invalidated - b->invalidated, c->after == A_GONE, "stats invalidated");
	CHECK_EQ(a.off_path - b->off_path, c->off_path, "stats off_path");
	CHECK_EQ(a.ooo - b->ooo, c->ooo, "stats peer_out_of_order");
	CHECK_EQ(a.declined - b->declined, c->warn == TKO_R_TS_MISMATCH || c->warn == TKO_R_SIGNED,
		 "stats answers_declined");
}

/*
 * Send a valid probe to the session and require the exact answer: proves
 * that the session is still ACTIVE and reachable, so that a PASS before it
 * was the program's decision and not a frame that missed its session.
 */
static void check_still_answers(unsigned prof, uint16_t lport)
{
	struct seg_spec p = from_peer(prof, lport), a = expected_answer(prof, &p);
	struct tko_key k = sess_key(prof, lport);
	struct tko_session s;
	struct frame in, want;
	uint8_t out[FRAME_MAX];
	size_t out_len;

	assert_true(h_lookup(&k, &s));
	spec_flowinfo(&a, &s);
	frame_build(&in, &p);
	frame_build(&want, &a);
	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_TX, "verdict of a control probe");
	check_frame(out, out_len, want.b, want.len, "answer to a control probe");
}

/*
 * The session after a frame that changed nothing but counters, the peer's
 * last TSval and last_seen_ns. frame_ts: the frame carried TSopt.
 */
static void check_session_kept(const struct xdp_case *c, const struct tko_session *b,
			       const struct tko_session *s, bool frame_ts, uint64_t t0,
			       uint64_t t1)
{
	struct tko_tcp_state tcp = b->tcp;
	struct tko_counters cnt = b->cnt;
	__u8 endpoint_probe = b->endpoint_probe;

	check_session_fixed(s, b);
	CHECK_EQ(s->state, b->state, "state");
	CHECK_EQ(s->have, b->have, "have");
	bool newer = (int32_t)(PEER_TSVAL - tcp.ts_ecr) > 0 && c->tweak != tsval_old;

	if (c->verdict == XDP_TX) {
		cnt.peer_probes_answered++;
		cnt.unanswered = 0;	/* a peer that probes is alive */
		if ((c->prof & P_TS) && newer)
			tcp.ts_ecr = PEER_TSVAL;	/* TS.Recent: the probe's TSval */
	}
	if (c->ours) {
		cnt.probes_answered++;
		cnt.unanswered = 0;
		endpoint_probe = 0;
		if (frame_ts && newer)
			tcp.ts_ecr = PEER_TSVAL;
	}
	if (c->after == A_SND_PLUS1)
		tcp.snd_nxt++;
	if (c->after == A_UNA)
		tcp.snd_una = tcp.snd_nxt + (uint32_t)c->dack;
	check_tcp_state(&s->tcp, &tcp);
	check_counters(&s->cnt, &cnt);
	CHECK_EQ(s->endpoint_probe, endpoint_probe, "endpoint_probe");
	if (c->after == A_TOUCHED) {
		if (s->last_seen_ns < t0 || s->last_seen_ns > t1)
			fail_msg("last_seen_ns not set by the frame");
	} else {
		CHECK_EQ(s->last_seen_ns, b->last_seen_ns, "last_seen_ns");
	}
}

static void check_suspended(const struct tko_key *k, const struct tko_session *b,
			    const struct tko_session *s, size_t ev0, uint64_t t0, uint64_t t1)
{
	struct tko_event e;

	check_session_fixed(s, b);
	CHECK_EQ(s->state, TKO_SUSPENDED, "state");
	CHECK_EQ(s->prev_state, TKO_ACTIVE, "prev_state");
	check_tcp_state(&s->tcp, &b->tcp);
	check_counters(&s->cnt, &b->cnt);
	if (s->last_seen_ns < t0 || s->last_seen_ns > t1)
		fail_msg("last_seen_ns not set by the frame");
	/* re-armed: ACTIVE again after one more idle period (idle_s = 1) */
	CHECK_EQ(s->next_ns, s->last_seen_ns + NSEC_PER_SEC, "next_ns");

	check_one_event(k, ev0, TKO_EV_SUSPENDED, TKO_R_DATA_PEER, &e);
	CHECK_EQ(e.state, TKO_SUSPENDED, "event state");
	check_tcp_state(&e.tcp, &b->tcp);
	check_counters(&e.cnt, &b->cnt);
	if (e.next_probe_ms > 1000 || e.next_probe_ms < 900)
		fail_msg("event next_probe_ms %u, want about 1000", e.next_probe_ms);
}

static void check_gone(const struct xdp_case *c, const struct tko_key *k,
		       const struct tko_session *b, size_t ev0)
{
	struct tko_session s;
	struct tko_event e;

	if (h_lookup(k, &s))
		fail_msg("session still in the table (state %u)", s.state);
	check_one_event(k, ev0, TKO_EV_INVALIDATED, c->ev_reason, &e);
	CHECK_EQ(e.state, TKO_STOPPED, "event state");
	check_tcp_state(&e.tcp, &b->tcp);	/* the handoff state */
	check_counters(&e.cnt, &b->cnt);
	CHECK_EQ(e.next_probe_ms, 0, "event next_probe_ms");
}

static void run_case(void **state)
{
	const struct xdp_case *c = *state;
	struct tko_key k = sess_key(c->prof, case_port(c));
	struct tko_session before, after;
	struct seg_spec spec;
	struct frame in, want;
	struct xdp_stats st;
	uint8_t out[FRAME_MAX];
	size_t out_len, ev0;
	uint64_t t0, t1;

	if (c->pre)
		c->pre(c->prof, case_port(c));
	if (c->in_flight) {
		__u32 id;

		assert_true(h_find(&k, &id, &before));
		before.tcp.snd_una = before.tcp.snd_nxt - (uint32_t)c->in_flight;
		h_write(id, &before);
	}
	assert_true(h_lookup(&k, &before));
	CHECK_EQ(before.state, sess_goes_active(c->prof) ? TKO_ACTIVE : TKO_LEARNING,
		 "state before the frame");
	if (c->ours)	/* the probe queued when the session became ACTIVE */
		CHECK_EQ(before.cnt.unanswered, 1, "tko's probes outstanding before");
	build_case_frame(c, &in, &spec);
	ev0 = h_drain();
	st = read_stats();

	t0 = now_ns();
	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), c->verdict, "verdict");
	t1 = now_ns();
	if (c->verdict == XDP_TX) {
		struct seg_spec a = expected_answer(c->prof, &spec);

		spec_flowinfo(&a, &before);
		if (c->tweak == tsval_old)	/* TSecr: TS.Recent, newer than the probe's */
			a.tsecr = before.tcp.ts_ecr;
		frame_build(&want, &a);
		check_frame(out, out_len, want.b, want.len, "answer");
	} else {
		check_frame(out, out_len, in.b, in.len, "passed frame");
	}
	check_stats(&st, c);
	h_drain();

	switch (c->after) {
	case A_SAME:
	case A_TOUCHED:
	case A_SND_PLUS1:
	case A_UNA:
		assert_true(h_lookup(&k, &after));
		check_session_kept(c, &before, &after, spec.ts, t0, t1);
		if (c->warn)
			check_one_event(&k, ev0, TKO_EV_WARNING, c->warn, NULL);
		else
			check_no_event(&k, ev0);
		if (after.state == TKO_ACTIVE)
			check_still_answers(c->prof, case_port(c));
		break;
	case A_SUSPENDED:
		assert_true(h_lookup(&k, &after));
		check_suspended(&k, &before, &after, ev0, t0, t1);
		break;
	case A_GONE:
		check_gone(c, &k, &before, ev0);
		break;
	}
}

/* The first TKO_ANSWER_BURST probes within a second are answered, the next is not. */
static void test_rate_limit(void **state)
{
	struct seg_spec p = from_peer(P_V4, PORT_RATE), a = expected_answer(P_V4, &p);
	struct tko_key k = sess_key(P_V4, PORT_RATE);
	struct frame in, want;
	struct tko_session s;
	uint8_t out[FRAME_MAX];
	size_t out_len, ev0;
	uint64_t limited = h_stat(TKO_ST_ANSWERS_LIMITED);
	int i;

	frame_build(&in, &p);
	frame_build(&want, &a);
	ev0 = h_drain();
	for (i = 0; i < TKO_ANSWER_BURST; i++) {
		CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_TX, "verdict within burst");
		check_frame(out, out_len, want.b, want.len, "answer within burst");
	}
	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_PASS, "verdict over burst");
	check_frame(out, out_len, in.b, in.len, "probe over burst");

	assert_true(h_lookup(&k, &s));
	/* all within one second, or the window would have restarted */
	if (now_ns() - s.answer_window_ns >= NSEC_PER_SEC)
		fail_msg("the burst took more than a second: cannot judge the limit");
	CHECK_EQ(s.state, TKO_ACTIVE, "state");
	CHECK_EQ(s.cnt.peer_probes_answered, TKO_ANSWER_BURST, "cnt.peer_probes_answered");
	CHECK_EQ(s.cnt.answers_limited, 1, "cnt.answers_limited");
	CHECK_EQ(h_stat(TKO_ST_ANSWERS_LIMITED) - limited, 1, "stats answers_limited");
	h_drain();
	check_no_event(&k, ev0);

	/* The budget comes back once the second is over: wait for exactly
	 * that, as the answer path's clock tells it (a tick late at most). */
	h_coarse_sleep_until(s.answer_window_ns + NSEC_PER_SEC);
	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_TX, "verdict after a second");
	check_frame(out, out_len, want.b, want.len, "answer after a second");
}

/*
 * Data suspends the session; probes are then passed to the endpoint until
 * the timer re-arms the offload one idle period later (event "resumed").
 */
static void test_suspend_then_resume(void **state)
{
	struct seg_spec p = from_peer(P_TS, PORT_RESUME), d = p, a = expected_answer(P_TS, &p);
	struct tko_key k = sess_key(P_TS, PORT_RESUME);
	struct frame probe, data, want;
	struct tko_session s;
	struct tko_event evs[2];
	uint8_t out[FRAME_MAX];
	size_t out_len, ev0;

	d.seq = p.seq + 1;
	d.payload = 50;
	frame_build(&probe, &p);
	frame_build(&data, &d);
	frame_build(&want, &a);
	ev0 = h_drain();

	CHECK_EQ(h_run_xdp(data.b, data.len, out, &out_len), XDP_PASS, "verdict of data");
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.state, TKO_SUSPENDED, "state after data");
	CHECK_EQ(h_run_xdp(probe.b, probe.len, out, &out_len), XDP_PASS,
		 "verdict of a probe while suspended");
	check_frame(out, out_len, probe.b, probe.len, "probe while suspended");

	assert_true(h_wait_state(&k, 1, TKO_ACTIVE));
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.prev_state, TKO_SUSPENDED, "prev_state");
	if (now_ns() < s.last_seen_ns + NSEC_PER_SEC)
		fail_msg("resumed before one idle period");
	h_drain();
	CHECK_EQ(h_events_of(&k, ev0, evs, 2), 2, "events (suspended, resumed)");
	CHECK_EQ(evs[0].type, TKO_EV_SUSPENDED, "first event");
	CHECK_EQ(evs[1].type, TKO_EV_RESUMED, "second event");
	CHECK_EQ(evs[1].reason, TKO_R_IDLE, "reason of resumed");
	CHECK_EQ(evs[1].state, TKO_ACTIVE, "state in resumed");
	check_event_logged(&evs[1]);

	CHECK_EQ(h_run_xdp(probe.b, probe.len, out, &out_len), XDP_TX, "verdict after resume");
	check_frame(out, out_len, want.b, want.len, "answer after resume");
}

/*
 * A probe cut at every length from the Ethernet header on (BPF_PROG_RUN
 * refuses frames shorter than 14 bytes) is passed untouched; the whole
 * frame is then answered, which shows the cut ones reached the right session.
 */
static void test_truncated(void **state)
{
	const unsigned *prof = *state;
	uint16_t port = (uint16_t)(PORT_TRUNC0 + (prof - trunc_profs));
	struct seg_spec p = from_peer(*prof, port), a = expected_answer(*prof, &p);
	struct tko_key k = sess_key(*prof, port);
	struct frame in, want;
	struct tko_session s;
	uint8_t out[FRAME_MAX];
	size_t len, out_len;

	p.pad_to = 0;	/* the IP length covers the whole frame: every cut is short */
	frame_build(&in, &p);
	frame_build(&want, &a);
	for (len = ETH_HDR_LEN; len < in.len; len++) {
		char what[64];

		snprintf(what, sizeof(what), "frame cut to %zu of %zu bytes", len, in.len);
		CHECK_EQ(h_run_xdp(in.b, len, out, &out_len), XDP_PASS, what);
		check_frame(out, out_len, in.b, len, what);
	}
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.cnt.peer_probes_answered, 0, "answers to cut frames");
	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_TX, "verdict of the whole frame");
	check_frame(out, out_len, want.b, want.len, "answer to the whole frame");
}

/* xorshift32: the same garbage on every run */
static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/*
 * Random bytes, half of them behind a valid Ethernet header of IPv4 or IPv6
 * with a TCP protocol field so the parser goes deep: always passed untouched.
 */
static void test_garbage(void **state)
{
	uint32_t x = 0x7c0ffee1;
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	size_t len, out_len, i;
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
		CHECK_EQ(h_run_xdp(in, len, out, &out_len), XDP_PASS, "verdict of garbage");
		check_frame(out, out_len, in, len, "garbage frame");
	}
}

/*
 * Known answers, so that the expected frames of the table are not merely
 * consistent with the builder that made them: the classic IPv4 header
 * example (checksum 0xb861), and the answers to the TS probes of two
 * sessions written out byte by byte (checksums verified with tshark's
 * ip/tcp.check_checksum when they were written). The program's output must
 * match them, and so must the builder's.
 */
static const uint8_t known_answer_v4[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x34, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06,
	0x6e, 0xc1, 0x0a, 0x00, 0x00, 0x02, 0xc0, 0x00, 0x02, 0x01, 0x75, 0x94,
	0x01, 0xbb, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81, 0x80, 0x10,
	0x01, 0xf5, 0x2f, 0xa3, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0xc0,
	0xff, 0xee, 0x0b, 0xad, 0xd0, 0x0d,
};

static const uint8_t known_answer_v6[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x06, 0x40, 0xfd, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0x01, 0x75, 0x94, 0x01, 0xbb, 0x1a, 0x2b,
	0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81, 0x80, 0x10, 0x01, 0xf5, 0xd1, 0xe8,
	0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0xc0, 0xff, 0xee, 0x0b, 0xad,
	0xd0, 0x0d,
};

static void test_checksum_known_answer(void **state)
{
	static const uint8_t ip[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};

	CHECK_EQ(csum_finish(csum_add(0, ip, sizeof(ip))), 0xb861, "IPv4 header checksum");
}

static void check_known_answer(unsigned prof, const uint8_t *known, size_t known_len)
{
	struct seg_spec p = from_peer(prof, PORT_KAT), a = expected_answer(prof, &p);
	struct frame in, want;
	uint8_t out[FRAME_MAX];
	size_t out_len;

	frame_build(&want, &a);
	check_frame(want.b, want.len, known, known_len, "builder's answer");
	frame_build(&in, &p);
	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_TX, "verdict");
	check_frame(out, out_len, known, known_len, "program's answer");
}

static void test_known_answer_v4(void **state)
{
	check_known_answer(P_TS, known_answer_v4, sizeof(known_answer_v4));
}

static void test_known_answer_v6(void **state)
{
	check_known_answer(P_V6 | P_TS, known_answer_v6, sizeof(known_answer_v6));
}

/* Sessions: one per case, one per other test; one wait for all to be ACTIVE. */
static int group_setup(void **state)
{
	unsigned prof[NCASES + 4 + NTRUNC];
	uint16_t port[NCASES + 4 + NTRUNC];
	size_t i, n = 0;

	if (h_load(NCASES + 64))
		return -1;
	for (i = 0; i < NCASES; i++, n++) {
		prof[n] = cases[i].prof;
		port[n] = case_port(&cases[i]);
	}
	prof[n] = P_V4, port[n++] = PORT_RATE;
	prof[n] = P_TS, port[n++] = PORT_RESUME;
	prof[n] = P_TS, port[n++] = PORT_KAT;
	prof[n] = P_V6 | P_TS, port[n++] = PORT_KAT;
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
	struct CMUnitTest tests[NCASES + 6 + NTRUNC];
	size_t i, n = 0;

	tests[n++] = (struct CMUnitTest){ "checksum_known_answer", test_checksum_known_answer };
	tests[n++] = (struct CMUnitTest){ "known_answer_v4_ts", test_known_answer_v4 };
	tests[n++] = (struct CMUnitTest){ "known_answer_v6_ts", test_known_answer_v6 };
	for (i = 0; i < NCASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	for (i = 0; i < NTRUNC; i++) {
		static char names[NTRUNC][32];

		snprintf(names[i], sizeof(names[i]), "truncated_%s%s%s",
			 trunc_profs[i] & P_V6 ? "v6" : "v4",
			 trunc_profs[i] & P_VLAN ? "_vlan" : "",
			 trunc_profs[i] & P_TS ? "_ts" : "");
		tests[n++] = (struct CMUnitTest){ .name = names[i], .test_func = test_truncated,
						  .initial_state = (void *)&trunc_profs[i] };
	}
	tests[n++] = (struct CMUnitTest){ "garbage", test_garbage };
	tests[n++] = (struct CMUnitTest){ "rate_limit", test_rate_limit };
	tests[n++] = (struct CMUnitTest){ "suspend_then_resume", test_suspend_then_resume };
	return _cmocka_run_group_tests("prog_xdp", tests, n, group_setup, h_group_teardown);
}
