// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of tko_tc_ingress, the answer path of interfaces where
 * XDP_TX is not delivered (veth): every case is a crafted frame from the
 * peer run with BPF_PROG_RUN against a session of its own, on an interface
 * whose `ifaces` entry says TC. Checked: the verdict (TC_ACT_STOLEN when
 * answered, TC_ACT_OK otherwise), every byte of the frame after the run
 * (the answer, or the frame untouched), the mark that keeps TC egress off
 * it, and the counters (session, global, interface), which move only when
 * the device took the answer. The test runs in a network namespace of its
 * own, whose loopback is the device the answers go out of; with it down,
 * the device refuses them.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "harness.h"

#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
#define TC_ACT_STOLEN	4
#define LO_IFINDEX	1	/* skb->dev of BPF_PROG_RUN: the netns' loopback */

struct tci_case {
	const char *name;
	unsigned prof;
	/* the frame: the peer's probe, changed by these */
	int32_t dseq;		/* seq = RCV.NXT + dseq (a probe is -1) */
	int32_t dack;		/* ack = SND.NXT + dack */
	uint8_t flags;
	uint16_t payload;
	int ts;			/* TS_AUTO: as the session */
	void (*tweak)(struct seg_spec *);
	bool answered;
};

enum { TS_AUTO, TS_ON, TS_OFF };

#define PROBE		.dseq = -1, .flags = F_ACK
#define ANSWERED	.answered = true

static void unknown_port(struct seg_spec *s) { s->dport = 1; }

static const struct tci_case cases[] = {
	/* keepalive probes of ACTIVE sessions: answered, as XDP would */
	{ .name = "v4_probe0", .prof = P_V4, PROBE, ANSWERED },
	{ .name = "v4_probe0_unpadded", .prof = P_V4, PROBE, .tweak = no_padding, ANSWERED },
	{ .name = "v4_probe1", .prof = P_V4, PROBE, .payload = 1, ANSWERED },
	{ .name = "v4_ts_probe0", .prof = P_TS, PROBE, ANSWERED },
	{ .name = "v4_ts_probe1", .prof = P_TS, PROBE, .payload = 1, ANSWERED },
	{ .name = "v6_probe0", .prof = P_V6, PROBE, ANSWERED },
	{ .name = "v6_ts_probe1", .prof = P_V6 | P_TS, PROBE, .payload = 1, ANSWERED },
	{ .name = "v4_vlan_probe0", .prof = P_VLAN, PROBE, ANSWERED },
	{ .name = "v6_vlan_ts_probe1", .prof = P_V6 | P_TS | P_VLAN, PROBE, .payload = 1,
	  ANSWERED },
	{ .name = "v4_ts_probe_sack", .prof = P_TS, PROBE, .tweak = opt_sack, ANSWERED },
	{ .name = "v4_probe_seq_wrap", .prof = P_WRAP, PROBE, ANSWERED },

	/* not keepalives, or not to be answered: XDP ingress judged them */
	{ .name = "v4_probe_wrong_seq", .prof = P_V4, .dseq = -2, .flags = F_ACK },
	{ .name = "v4_probe_wrong_ack", .prof = P_V4, PROBE, .dack = 1 },
	{ .name = "v4_probe_two_bytes", .prof = P_V4, PROBE, .payload = 2 },
	{ .name = "v4_data", .prof = P_V4, .flags = F_ACK | F_PSH, .payload = 10 },
	{ .name = "v4_answer_to_our_probe", .prof = P_V4, .flags = F_ACK },
	{ .name = "v4_fin", .prof = P_V4, .flags = F_FIN | F_ACK },
	{ .name = "v4_rst", .prof = P_V4, .flags = F_RST },
	{ .name = "v4_probe_syn", .prof = P_V4, .dseq = -1, .flags = F_SYN | F_ACK },
	{ .name = "v4_learning_probe", .prof = P_LEARNING, PROBE },
	{ .name = "v4_no_state_probe", .prof = P_NOSTATE, PROBE },
	{ .name = "v4_ts_session_probe_without_ts", .prof = P_TS, PROBE, .ts = TS_OFF },
	{ .name = "v4_probe_md5", .prof = P_V4, PROBE, .tweak = opt_md5 },
	{ .name = "v4_probe_unknown_port", .prof = P_V4, PROBE, .tweak = unknown_port },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define CASE_PORT0 21000	/* case i uses local port CASE_PORT0 + i */

enum {
	PORT_XDP_PATH = 31000,	/* the interface answers with XDP: TC leaves the probe */
	PORT_HANDOFF,		/* XDP passes the probe, TC answers it */
	PORT_DOWN,		/* the device refuses the answer */
	PORT_RATE,		/* the answer budget */
	PORT_NO_ENTRY,		/* an interface that is not the agent's */
};

static uint16_t case_port(const struct tci_case *c)
{
	return (uint16_t)(CASE_PORT0 + (c - cases));
}

/* The loopback of the test's namespace up or down. */
static void lo_set(bool up)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		fail_msg("cannot read lo's flags: %s", strerror(errno));
	ifr.ifr_flags = up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		fail_msg("cannot set lo %s: %s", up ? "up" : "down", strerror(errno));
	close(fd);
}

static void iface_put(__u8 path)
{
	struct tko_iface e = { .ifindex = LO_IFINDEX, .path = path, .name = "lo" };
	__u32 key = LO_IFINDEX;

	if (bpf_map_update_elem(bpf_map__fd(H.b.ctl->maps.ifaces), &key, &e, BPF_ANY))
		fail_msg("cannot write the ifaces entry: %s", strerror(errno));
}

static struct tko_iface iface_get(void)
{
	struct tko_iface e = {};
	__u32 key = LO_IFINDEX;

	if (bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.ifaces), &key, &e))
		fail_msg("cannot read the ifaces entry: %s", strerror(errno));
	return e;
}

/* Run TC ingress on in; the frame after the run to out, the context's mark to *mark. */
static int run_tci(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len, __u32 *mark)
{
	struct __sk_buff ctx = {};
	int verdict, err;

	err = h_try_skb_prog(H.b.tci->progs.tko_tc_ingress, in, len, &ctx, out, out_len,
			     &verdict);
	if (err)
		fail_msg("BPF_PROG_RUN tc ingress (%zu bytes): %s", len, strerror(-err));
	if (mark)
		*mark = ctx.mark;
	return verdict;
}

struct counts {
	uint64_t answered, tc, xdp, errors, iface_tc, iface_errors, session;
};

static struct counts read_counts(const struct tko_key *k)
{
	struct tko_iface e = iface_get();
	struct tko_session s = {};
	struct counts c = {
		.answered = h_stat(TKO_ST_PEER_PROBES_ANSWERED),
		.tc = h_stat(TKO_ST_ANSWERS_TC),
		.xdp = h_stat(TKO_ST_ANSWERS_XDP),
		.errors = h_stat(TKO_ST_ANSWER_ERRORS),
		.iface_tc = e.answers_tc,
		.iface_errors = e.answer_errors,
	};

	if (h_lookup(k, &s))
		c.session = s.cnt.peer_probes_answered;
	return c;
}

/* Counters moved by exactly one answer taken by the device (or by none). */
static void check_counts(const struct counts *b, const struct counts *a, bool answered)
{
	CHECK_EQ(a->answered - b->answered, answered, "stats peer_probes_answered");
	CHECK_EQ(a->tc - b->tc, answered, "stats answers_tc");
	CHECK_EQ(a->xdp - b->xdp, 0, "stats answers_xdp");
	CHECK_EQ(a->errors - b->errors, 0, "stats answer_errors");
	CHECK_EQ(a->iface_tc - b->iface_tc, answered, "iface answers_tc");
	CHECK_EQ(a->session - b->session, answered, "cnt.peer_probes_answered");
}

static void run_case(void **state)
{
	const struct tci_case *c = *state;
	struct tko_key k = sess_key(c->prof, case_port(c));
	struct tko_tcp_state t = sess_tcp(c->prof);
	struct seg_spec p = from_peer(c->prof, case_port(c));
	struct frame in, want;
	uint8_t out[FRAME_MAX];
	struct tko_session s;
	struct counts before, after;
	size_t out_len;
	__u32 mark;

	p.seq = t.rcv_nxt + (uint32_t)c->dseq;
	p.ack = t.snd_nxt + (uint32_t)c->dack;
	p.flags = c->flags;
	p.payload = c->payload;
	if (c->ts != TS_AUTO)
		p.ts = c->ts == TS_ON;
	if (c->tweak)
		c->tweak(&p);
	frame_build(&in, &p);
	before = read_counts(&k);

	if (c->answered) {
		struct seg_spec a = expected_answer(c->prof, &p);

		frame_build(&want, &a);
		CHECK_EQ(run_tci(in.b, in.len, out, &out_len, &mark), TC_ACT_STOLEN, "verdict");
		check_frame(out, out_len, want.b, want.len, "answer");
		CHECK_EQ(mark, TKO_MARK, "skb->mark of the answer");
		assert_true(h_lookup(&k, &s));
		CHECK_EQ(s.cnt.unanswered, 0, "cnt.unanswered");
		if (c->prof & P_TS)
			CHECK_EQ(s.tcp.ts_ecr, PEER_TSVAL, "tcp.ts_ecr: the probe's TSval");
	} else {
		CHECK_EQ(run_tci(in.b, in.len, out, &out_len, &mark), TC_ACT_OK, "verdict");
		check_frame(out, out_len, in.b, in.len, "passed frame");
		CHECK_EQ(mark, 0, "skb->mark of a passed frame");
	}
	after = read_counts(&k);
	check_counts(&before, &after, c->answered);
}

/* The interface answers with XDP_TX: TC ingress leaves a valid probe alone. */
static void test_xdp_path(void **state)
{
	struct seg_spec p = from_peer(P_V4, PORT_XDP_PATH);
	struct tko_key k = sess_key(P_V4, PORT_XDP_PATH);
	struct counts before, after;
	uint8_t out[FRAME_MAX];
	struct frame in;
	size_t out_len;

	frame_build(&in, &p);
	iface_put(TKO_ANSWER_XDP);
	before = read_counts(&k);
	CHECK_EQ(run_tci(in.b, in.len, out, &out_len, NULL), TC_ACT_OK, "verdict");
	check_frame(out, out_len, in.b, in.len, "passed probe");
	after = read_counts(&k);
	iface_put(TKO_ANSWER_TC);
	check_counts(&before, &after, false);
}

/* An interface that is not the agent's (no entry): nothing is answered at TC. */
static void test_no_entry(void **state)
{
	struct seg_spec p = from_peer(P_V4, PORT_NO_ENTRY);
	struct tko_key k = sess_key(P_V4, PORT_NO_ENTRY);
	struct tko_session s;
	uint8_t out[FRAME_MAX];
	struct frame in;
	size_t out_len;
	__u32 key = LO_IFINDEX;

	frame_build(&in, &p);
	assert_int_equal(bpf_map_delete_elem(bpf_map__fd(H.b.ctl->maps.ifaces), &key), 0);
	CHECK_EQ(run_tci(in.b, in.len, out, &out_len, NULL), TC_ACT_OK, "verdict");
	iface_put(TKO_ANSWER_TC);
	check_frame(out, out_len, in.b, in.len, "passed probe");
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.cnt.peer_probes_answered, 0, "cnt.peer_probes_answered");
}

/*
 * On a TC interface XDP ingress passes the probe untouched and uncounted
 * (no answer budget spent either), and TC ingress answers it: one answer.
 */
static void test_handoff(void **state)
{
	struct seg_spec p = from_peer(P_TS, PORT_HANDOFF), a = expected_answer(P_TS, &p);
	struct tko_key k = sess_key(P_TS, PORT_HANDOFF);
	struct counts before, after;
	uint8_t out[FRAME_MAX];
	struct frame in, want;
	struct tko_session s;
	size_t out_len;

	frame_build(&in, &p);
	frame_build(&want, &a);
	before = read_counts(&k);
	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_PASS, "XDP verdict");
	check_frame(out, out_len, in.b, in.len, "probe passed by XDP");
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.answers_in_window, 0, "answer budget spent by XDP");
	after = read_counts(&k);
	check_counts(&before, &after, false);

	CHECK_EQ(run_tci(in.b, in.len, out, &out_len, NULL), TC_ACT_STOLEN, "TC verdict");
	check_frame(out, out_len, want.b, want.len, "answer from TC");
	after = read_counts(&k);
	check_counts(&before, &after, true);
}

/* The agent's record of lo's link (rtnetlink: carrier, administrative state). */
static void iface_down(bool down)
{
	struct tko_iface e = iface_get();
	__u32 key = LO_IFINDEX;

	e.down = down;
	if (bpf_map_update_elem(bpf_map__fd(H.b.ctl->maps.ifaces), &key, &e, BPF_ANY))
		fail_msg("cannot write the ifaces entry: %s", strerror(errno));
}

/*
 * The device does not take the answer (down, and the agent knows it): the
 * probe is dropped, nothing counts as answered, the refusal is counted;
 * once it is up again, the next probe is answered. A down device's noop
 * qdisc says NET_XMIT_CN, a congestion notice: only the link's state tells
 * a drop from a frame a queueing qdisc took.
 */
static void test_device_down(void **state)
{
	struct seg_spec p = from_peer(P_V4, PORT_DOWN), a = expected_answer(P_V4, &p);
	struct tko_key k = sess_key(P_V4, PORT_DOWN);
	struct counts before, after;
	uint8_t out[FRAME_MAX];
	struct frame in, want;
	size_t out_len;

	frame_build(&in, &p);
	frame_build(&want, &a);
	before = read_counts(&k);
	lo_set(false);
	iface_down(true);
	CHECK_EQ(run_tci(in.b, in.len, out, &out_len, NULL), TC_ACT_SHOT, "verdict, device down");
	lo_set(true);
	iface_down(false);
	after = read_counts(&k);
	CHECK_EQ(after.answered - before.answered, 0, "stats peer_probes_answered");
	CHECK_EQ(after.tc - before.tc, 0, "stats answers_tc");
	CHECK_EQ(after.session - before.session, 0, "cnt.peer_probes_answered");
	CHECK_EQ(after.errors - before.errors, 1, "stats answer_errors");
	CHECK_EQ(after.iface_errors - before.iface_errors, 1, "iface answer_errors");

	CHECK_EQ(run_tci(in.b, in.len, out, &out_len, NULL), TC_ACT_STOLEN, "verdict, device up");
	check_frame(out, out_len, want.b, want.len, "answer");
	before = after;
	after = read_counts(&k);
	check_counts(&before, &after, true);
}

/* The same budget as XDP's: TKO_ANSWER_BURST answers a second, then none. */
static void test_rate_limit(void **state)
{
	struct seg_spec p = from_peer(P_V4, PORT_RATE), a = expected_answer(P_V4, &p);
	struct tko_key k = sess_key(P_V4, PORT_RATE);
	uint64_t limited = h_stat(TKO_ST_ANSWERS_LIMITED);
	uint8_t out[FRAME_MAX];
	struct frame in, want;
	struct tko_session s;
	size_t out_len;
	int i;

	frame_build(&in, &p);
	frame_build(&want, &a);
	for (i = 0; i < TKO_ANSWER_BURST; i++) {
		CHECK_EQ(run_tci(in.b, in.len, out, &out_len, NULL), TC_ACT_STOLEN,
			 "verdict within burst");
		check_frame(out, out_len, want.b, want.len, "answer within burst");
	}
	CHECK_EQ(run_tci(in.b, in.len, out, &out_len, NULL), TC_ACT_OK, "verdict over burst");
	check_frame(out, out_len, in.b, in.len, "probe over burst");
	assert_true(h_lookup(&k, &s));
	if (now_ns() - s.answer_window_ns >= NSEC_PER_SEC)
		fail_msg("the burst took more than a second: cannot judge the limit");
	CHECK_EQ(s.cnt.peer_probes_answered, TKO_ANSWER_BURST, "cnt.peer_probes_answered");
	CHECK_EQ(s.cnt.answers_limited, 1, "cnt.answers_limited");
	CHECK_EQ(h_stat(TKO_ST_ANSWERS_LIMITED) - limited, 1, "stats answers_limited");
}

static int group_setup(void **state)
{
	static const unsigned extra[] = { P_V4, P_TS, P_V4, P_V4, P_V4 };
	static const uint16_t extra_port[] = {
		PORT_XDP_PATH, PORT_HANDOFF, PORT_DOWN, PORT_RATE, PORT_NO_ENTRY,
	};
	unsigned prof[NCASES + 5];
	uint16_t port[NCASES + 5];
	size_t i, n = 0;

	/* A namespace of our own: the answers go out of its loopback only. */
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "cannot create a network namespace: %s\n", strerror(errno));
		return -1;
	}
	lo_set(true);
	if (h_load(NCASES + 64))
		return -1;
	iface_put(TKO_ANSWER_TC);
	for (i = 0; i < NCASES; i++, n++) {
		prof[n] = cases[i].prof;
		port[n] = case_port(&cases[i]);
	}
	for (i = 0; i < 5; i++, n++) {
		prof[n] = extra[i];
		port[n] = extra_port[i];
	}
	if (h_start_sessions(prof, port, n)) {
		h_destroy();
		return -1;
	}
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[NCASES + 5];
	size_t i, n = 0;

	for (i = 0; i < NCASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	tests[n++] = (struct CMUnitTest){ "xdp_path_left_alone", test_xdp_path };
	tests[n++] = (struct CMUnitTest){ "not_the_agents_interface", test_no_entry };
	tests[n++] = (struct CMUnitTest){ "tc_answers_what_xdp_leaves", test_handoff };
	tests[n++] = (struct CMUnitTest){ "device_down_not_counted", test_device_down };
	tests[n++] = (struct CMUnitTest){ "rate_limit", test_rate_limit };
	return _cmocka_run_group_tests("prog_tc_ingress", tests, n, group_setup,
				       h_group_teardown);
}
