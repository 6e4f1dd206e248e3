// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of the gateway's own conntrack refresh (bpf/lib/conntrack.h):
 * real conntrack entries, made with the conntrack CLI in a network namespace
 * of this test's own (unshared at start: the host's table is never touched),
 * and the peer's frames run through tko_xdp_ingress with BPF_PROG_RUN, whose
 * lookups happen in the namespace of the caller. Each case checks the
 * verdict, the counters, the flow's entry as conntrack reports it (its
 * remaining timeout) and a neighbour entry no frame belongs to, which must
 * keep its own. Also: ct_refresh_skb() (the TC call), and the XDP program
 * built against kfuncs no kernel has, which must load and do all but the
 * refresh.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "harness.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tests/xdp_ingress_noct.skel.h"
#include "tests/tc_ingress_noct.skel.h"
#include "tests/tc_egress_noct.skel.h"
#include "tests/ct_skb.skel.h"
#pragma GCC diagnostic pop

#define ENTRY_TIMEOUT_S	100	/* what every entry is made with */
#define REFRESH_MS	7000	/* the namespace's established timeout, as the agent writes it */
#define DEVICE4		"198.18.1.2"	/* the device behind the masquerade */
#define DEVICE6		"fd00:1::2"
#define DEVICE_PORT0	40000
#define NEIGHBOUR	500	/* the neighbour flow: the session's local port + this */

enum frame_kind {
	OUR_PROBE_ANSWERED,	/* the peer's answer to tko's probe: consumed */
	PEER_PROBE,		/* the peer's probe: answered */
};

enum entry_kind {
	E_NONE,		/* the gateway does not track the flow */
	E_NAT,		/* the device opened it, the gateway masquerades it: the
			 * session is the entry's reply tuple (peer -> gateway) */
	E_PLAIN,	/* tracked, not translated (the endpoint is local) */
	E_PEER_OPENED,	/* the peer opened it (a forwarded port): original tuple */
};

enum want { REFRESHED, MISSING, UNCHANGED };

struct ct_case {
	const char *name;
	unsigned prof;		/* P_V4 or P_V6 */
	enum frame_kind frame;
	enum entry_kind entry;
	const char *state;	/* conntrack's TCP state of the entry */
	__u32 established_ms;	/* agent_info.ct_established_ms (0: the default) */
	enum want want;
};

static const struct ct_case cases[] = {
	{ "v4_nat_probe_answered", P_V4, OUR_PROBE_ANSWERED, E_NAT, "ESTABLISHED", REFRESH_MS,
	  REFRESHED },
	{ "v4_nat_peer_probe", P_V4, PEER_PROBE, E_NAT, "ESTABLISHED", REFRESH_MS, REFRESHED },
	{ "v4_plain_probe_answered", P_V4, OUR_PROBE_ANSWERED, E_PLAIN, "ESTABLISHED",
	  REFRESH_MS, REFRESHED },
	{ "v4_peer_opened_peer_probe", P_V4, PEER_PROBE, E_PEER_OPENED, "ESTABLISHED",
	  REFRESH_MS, REFRESHED },
	{ "v6_nat_peer_probe", P_V6, PEER_PROBE, E_NAT, "ESTABLISHED", REFRESH_MS, REFRESHED },
	{ "v6_plain_probe_answered", P_V6, OUR_PROBE_ANSWERED, E_PLAIN, "ESTABLISHED",
	  REFRESH_MS, REFRESHED },
	{ "v4_default_timeout", P_V4, OUR_PROBE_ANSWERED, E_NAT, "ESTABLISHED", 0, REFRESHED },
	{ "v4_close_wait_left_alone", P_V4, OUR_PROBE_ANSWERED, E_PLAIN, "CLOSE_WAIT",
	  REFRESH_MS, UNCHANGED },
	{ "v6_time_wait_left_alone", P_V6, PEER_PROBE, E_NAT, "TIME_WAIT", REFRESH_MS,
	  UNCHANGED },
	{ "v4_no_entry", P_V4, PEER_PROBE, E_NONE, NULL, REFRESH_MS, MISSING },
	{ "v6_no_entry", P_V6, OUR_PROBE_ANSWERED, E_NONE, NULL, REFRESH_MS, MISSING },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define CASE_PORT0 21000	/* case i: session local port CASE_PORT0 + i */
enum {
	PORT_SKB = 22000,	/* ct_refresh_skb() */
	PORT_NOCT,		/* the program without kfuncs */
	PORT_GONE,		/* its entry found, then gone */
};

/* An entry by its original tuple, and the reply tuple when it is translated. */
struct ct_flow {
	char src[48], dst[48];
	uint16_t sport, dport;
	char rsrc[48], rdst[48];	/* empty: the reverse of the original */
	uint16_t rsport, rdport;
};

static void addr_str(unsigned prof, const uint8_t *a, char *buf)
{
	inet_ntop(prof & P_V6 ? AF_INET6 : AF_INET, a, buf, 48);
}

/* The entry of kind e for the session (prof, lport); its neighbour if n. */
static struct ct_flow flow_of(unsigned prof, uint16_t lport, enum entry_kind e, bool n)
{
	struct ct_flow f = {};
	char local[48], peer[48];

	if (n)
		lport += NEIGHBOUR;
	addr_str(prof, prof & P_V6 ? LOCAL6 : LOCAL4, local);
	addr_str(prof, prof & P_V6 ? PEER6 : PEER4, peer);
	switch (e) {
	case E_NAT:	/* device:port' -> peer, translated to local:lport */
		snprintf(f.src, sizeof(f.src), "%s", prof & P_V6 ? DEVICE6 : DEVICE4);
		snprintf(f.dst, sizeof(f.dst), "%s", peer);
		f.sport = (uint16_t)(DEVICE_PORT0 + lport - CASE_PORT0);
		f.dport = PEER_PORT;
		snprintf(f.rsrc, sizeof(f.rsrc), "%s", peer);
		snprintf(f.rdst, sizeof(f.rdst), "%s", local);
		f.rsport = PEER_PORT;
		f.rdport = lport;
		break;
	case E_PLAIN:
	case E_NONE:
		snprintf(f.src, sizeof(f.src), "%s", local);
		snprintf(f.dst, sizeof(f.dst), "%s", peer);
		f.sport = lport;
		f.dport = PEER_PORT;
		break;
	case E_PEER_OPENED:
		snprintf(f.src, sizeof(f.src), "%s", peer);
		snprintf(f.dst, sizeof(f.dst), "%s", local);
		f.sport = PEER_PORT;
		f.dport = lport;
		break;
	}
	return f;
}

static int run_cmd(const char *cmd)
{
	int rc = system(cmd);

	return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void ct_insert(const struct ct_flow *f, const char *state)
{
	char cmd[512];
	int n = snprintf(cmd, sizeof(cmd),
			 "conntrack -I -p tcp -s %s -d %s --sport %u --dport %u --state %s "
			 "--timeout %d -u SEEN_REPLY,ASSURED", f->src, f->dst, f->sport,
			 f->dport, state, ENTRY_TIMEOUT_S);

	if (f->rsrc[0])
		snprintf(cmd + n, sizeof(cmd) - n,
			 " --reply-src %s --reply-dst %s --reply-port-src %u --reply-port-dst %u",
			 f->rsrc, f->rdst, f->rsport, f->rdport);
	strcat(cmd, " >/dev/null 2>&1");
	if (run_cmd(cmd))
		fail_msg("cannot create the entry: %s", cmd);
}

/* The entry's remaining timeout in seconds, as conntrack reports it; -1: none. */
static long ct_timeout(const struct ct_flow *f)
{
	char cmd[256];
	long t = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "conntrack -G -p tcp -s %s -d %s --sport %u --dport %u 2>/dev/null",
		 f->src, f->dst, f->sport, f->dport);
	p = popen(cmd, "r");
	if (!p)
		fail_msg("cannot run conntrack: %s", strerror(errno));
	if (fscanf(p, "tcp %*d %ld", &t) != 1)
		t = -1;
	pclose(p);
	return t;
}

static void check_timeout(const struct ct_flow *f, long lo, long hi, const char *what)
{
	long t = ct_timeout(f);

	if (t < lo || t > hi)
		fail_msg("%s: %s:%u -> %s:%u has %ld s left, want %ld..%ld", what, f->src,
			 f->sport, f->dst, f->dport, t, lo, hi);
}

static void set_established_ms(__u32 ms)
{
	struct tko_agent_info info = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.agent_info), &zero, &info);
	info.ct_established_ms = ms;
	if (bpf_map_update_elem(bpf_map__fd(H.b.ctl->maps.agent_info), &zero, &info, BPF_ANY))
		fail_msg("cannot write agent_info: %s", strerror(errno));
}

struct ct_stats {
	uint64_t refreshed, missing, unchanged;
};

static struct ct_stats ct_stats(void)
{
	struct ct_stats st = {
		h_stat(TKO_ST_CT_REFRESHED), h_stat(TKO_ST_CT_MISSING), h_stat(TKO_ST_CT_UNCHANGED),
	};
	return st;
}

static void check_ct_stats(const struct ct_stats *b, uint64_t refreshed, uint64_t missing,
			   uint64_t unchanged)
{
	struct ct_stats a = ct_stats();

	CHECK_EQ(a.refreshed - b->refreshed, refreshed, "stats conntrack_refreshed");
	CHECK_EQ(a.missing - b->missing, missing, "stats conntrack_missing");
	CHECK_EQ(a.unchanged - b->unchanged, unchanged, "stats conntrack_unchanged");
}

/* The peer's frame of kind k for the session (prof, lport). */
static void peer_frame(unsigned prof, uint16_t lport, enum frame_kind k, struct frame *f)
{
	struct seg_spec s = from_peer(prof, lport);

	if (k == OUR_PROBE_ANSWERED)
		s.seq++;	/* at RCV.NXT: the answer to tko's probe */
	frame_build(f, &s);
}

static void run_case(void **state)
{
	const struct ct_case *c = *state;
	uint16_t port = (uint16_t)(CASE_PORT0 + (c - cases));
	struct ct_flow f = flow_of(c->prof, port, c->entry, false);
	struct ct_flow n = flow_of(c->prof, port, c->entry == E_NONE ? E_PLAIN : c->entry, true);
	struct tko_key k = sess_key(c->prof, port);
	struct tko_session s;
	struct ct_stats st;
	struct frame in;
	uint8_t out[FRAME_MAX];
	size_t out_len, ev0;
	long want_s = (c->established_ms ? c->established_ms :
				TKO_CT_ESTABLISHED_MS_DEFAULT) / 1000;

	if (c->entry != E_NONE)
		ct_insert(&f, c->state);
	ct_insert(&n, c->state ? c->state : "ESTABLISHED");
	set_established_ms(c->established_ms);
	assert_true(h_lookup(&k, &s));
	CHECK_EQ(s.state, TKO_ACTIVE, "state before the frame");
	peer_frame(c->prof, port, c->frame, &in);
	st = ct_stats();
	ev0 = h_drain();

	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len),
		 c->frame == PEER_PROBE ? XDP_TX : XDP_DROP, "verdict");
	check_ct_stats(&st, c->want == REFRESHED, c->want == MISSING, c->want == UNCHANGED);
	/* no entry on a path without one is no failure: no warning */
	h_drain();
	check_no_event(&k, ev0);
	if (c->want == REFRESHED)	/* reported rounded down, and the test takes time */
		check_timeout(&f, want_s - 2, want_s, "the flow's entry");
	else if (c->entry != E_NONE)
		check_timeout(&f, ENTRY_TIMEOUT_S - 5, ENTRY_TIMEOUT_S, "the flow's entry");
	else
		CHECK_EQ(ct_timeout(&f), -1, "an entry for the untracked flow");
	check_timeout(&n, ENTRY_TIMEOUT_S - 5, ENTRY_TIMEOUT_S, "the neighbour's entry");
}

/* The refresh period of REFRESH_MS (bpf/lib/conntrack.h, ct_due()). */
#define PERIOD_NS	(REFRESH_MS * 1000000ULL / 4)

/* Session k's last refresh, moved back by a whole period: the next is due. */
static void refresh_due(const struct tko_key *k)
{
	struct tko_session s;
	__u32 id;

	assert_true(h_find(k, &id, &s));
	s.ct_refresh_ns -= PERIOD_NS;
	h_write(id, &s);
}

/*
 * The gateway's entry of a flow tko keeps alive, found once and then gone
 * (it expired, somebody flushed the table): the gateway now drops or
 * un-NATs the device's next segment. Conntrack is asked once per refresh
 * period, not at every answer: an answer within the period does not look.
 * The next that does finds it gone: said once, with a warning event
 * (reason ct_missing), and counted at each lookup.
 */
static void test_entry_gone(void **state)
{
	struct ct_flow f = flow_of(P_V4, PORT_GONE, E_NAT, false);
	struct tko_key k = sess_key(P_V4, PORT_GONE);
	struct ct_stats st;
	struct frame in;
	uint8_t out[FRAME_MAX];
	size_t out_len, ev0;
	char cmd[256];

	ct_insert(&f, "ESTABLISHED");
	set_established_ms(REFRESH_MS);
	peer_frame(P_V4, PORT_GONE, PEER_PROBE, &in);
	ev0 = h_drain();
	st = ct_stats();
	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_TX, "verdict, entry there");
	check_ct_stats(&st, 1, 0, 0);
	snprintf(cmd, sizeof(cmd), "conntrack -D -p tcp -s %s -d %s --sport %u --dport %u "
		 ">/dev/null 2>&1", f.src, f.dst, f.sport, f.dport);
	if (run_cmd(cmd))
		fail_msg("cannot delete the entry: %s", cmd);
	st = ct_stats();
	CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_TX, "verdict, within the period");
	check_ct_stats(&st, 0, 0, 0);
	for (int i = 0; i < 2; i++) {
		refresh_due(&k);
		st = ct_stats();
		CHECK_EQ(h_run_xdp(in.b, in.len, out, &out_len), XDP_TX, "verdict, entry gone");
		check_ct_stats(&st, 0, 1, 0);
	}
	h_drain();
	check_one_event(&k, ev0, TKO_EV_WARNING, TKO_R_CT_MISSING, NULL);
}

/* obj's maps are the loaded datapath's, as the loader shares them. */
static void share_maps(struct bpf_object *obj)
{
	if (h_share_maps(obj))
		fail_msg("cannot share the maps of %s", bpf_object__name(obj));
}

/* The kernel of this machine has them (what the other cases rely on). */
static void test_kfuncs_present(void **state)
{
	if (!tko_ct_kfuncs())
		fail_msg("no conntrack kfuncs in this kernel's BTF (bpf_xdp_ct_lookup, ...)");
}

/* ct_refresh_skb(), the call of TC programs, with the skb's namespace. */
static void test_skb(void **state)
{
	struct tko_ct_skb *skel = tko_ct_skb__open();
	struct ct_flow f = flow_of(P_V4, PORT_SKB, E_NAT, false);
	struct ct_flow n = flow_of(P_V4, PORT_SKB, E_NAT, true);
	struct __sk_buff ctx = {};
	struct ct_stats st;
	struct frame in;
	uint8_t out[FRAME_MAX];
	size_t out_len;
	int verdict;

	assert_non_null(skel);
	share_maps(skel->obj);
	skel->rodata->ct_kfuncs_absent = !tko_ct_kfuncs();
	if (tko_ct_skb__load(skel))
		fail_msg("cannot load ct_skb.bpf.o (-v: the verifier log)");
	ct_insert(&f, "ESTABLISHED");
	ct_insert(&n, "ESTABLISHED");
	set_established_ms(REFRESH_MS);
	peer_frame(P_V4, PORT_SKB, PEER_PROBE, &in);

	skel->bss->ct_key = sess_key(P_V4, PORT_SKB);
	st = ct_stats();
	assert_int_equal(h_try_skb_prog(skel->progs.tko_test_ct_skb, in.b, in.len, &ctx, out,
					&out_len, &verdict), 0);
	check_ct_stats(&st, 1, 0, 0);
	check_timeout(&f, REFRESH_MS / 1000 - 2, REFRESH_MS / 1000, "the flow's entry");
	check_timeout(&n, ENTRY_TIMEOUT_S - 5, ENTRY_TIMEOUT_S, "the neighbour's entry");

	/* Once per period: not again just under a period later, again at it. */
	skel->bss->ct_now = skel->bss->ct_session.ct_refresh_ns + PERIOD_NS - 1;
	st = ct_stats();
	assert_int_equal(h_try_skb_prog(skel->progs.tko_test_ct_skb, in.b, in.len, &ctx, out,
					&out_len, &verdict), 0);
	check_ct_stats(&st, 0, 0, 0);
	skel->bss->ct_now++;
	assert_int_equal(h_try_skb_prog(skel->progs.tko_test_ct_skb, in.b, in.len, &ctx, out,
					&out_len, &verdict), 0);
	check_ct_stats(&st, 1, 0, 0);
	CHECK_EQ(skel->bss->ct_session.ct_refresh_ns, skel->bss->ct_now, "the refresh's time");
	skel->bss->ct_now = 0;

	/* A tuple conntrack does not track (another session): counted, nothing changes. */
	skel->bss->ct_session.ct_refresh_ns = 0;
	skel->bss->ct_key = sess_key(P_V4, PORT_SKB + 1);
	st = ct_stats();
	assert_int_equal(h_try_skb_prog(skel->progs.tko_test_ct_skb, in.b, in.len, &ctx, out,
					&out_len, &verdict), 0);
	check_ct_stats(&st, 0, 1, 0);
	tko_ct_skb__destroy(skel);
}

/*
 * The XDP program built against conntrack kfuncs no kernel has: unless
 * told they are absent, the verifier meets the unresolved calls and
 * refuses it (so the build really lacks them, and a loader that forgets
 * ct_kfuncs_absent fails loudly); told, as the loader tells it on such a
 * kernel, it loads and consumes the answer to tko's probe as ever, and the
 * flow's entry keeps its own timeout.
 */
static void test_without_kfuncs(void **state)
{
	struct tko_xdp_ingress_noct *skel = tko_xdp_ingress_noct__open();
	struct ct_flow f = flow_of(P_V4, PORT_NOCT, E_NAT, false);
	struct tko_key k = sess_key(P_V4, PORT_NOCT);
	struct tko_session b, a;
	struct ct_stats st;
	struct frame in;
	uint8_t out[FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.b, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	assert_non_null(skel);
	share_maps(skel->obj);
	if (!tko_xdp_ingress_noct__load(skel))
		fail_msg("the build without kfuncs loaded with calls to them");
	tko_xdp_ingress_noct__destroy(skel);

	skel = tko_xdp_ingress_noct__open();
	assert_non_null(skel);
	share_maps(skel->obj);
	skel->rodata->ct_kfuncs_absent = true;
	if (tko_xdp_ingress_noct__load(skel))
		fail_msg("the build without kfuncs does not load (-v: the verifier log)");
	ct_insert(&f, "ESTABLISHED");
	set_established_ms(REFRESH_MS);
	assert_true(h_lookup(&k, &b));
	CHECK_EQ(b.cnt.unanswered, 1, "tko's probes outstanding before");
	peer_frame(P_V4, PORT_NOCT, OUR_PROBE_ANSWERED, &in);
	o.data_size_in = (__u32)in.len;
	st = ct_stats();

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.tko_xdp_ingress), &o), 0);
	CHECK_EQ(o.retval, XDP_DROP, "verdict");
	assert_true(h_lookup(&k, &a));
	CHECK_EQ(a.cnt.probes_answered, b.cnt.probes_answered + 1, "cnt.probes_answered");
	CHECK_EQ(a.cnt.unanswered, 0, "cnt.unanswered");
	check_ct_stats(&st, 0, 0, 0);
	check_timeout(&f, ENTRY_TIMEOUT_S - 5, ENTRY_TIMEOUT_S, "the flow's entry");
	tko_xdp_ingress_noct__destroy(skel);
}

/*
 * The TC programs built the same way: TC ingress refreshes the flow's entry,
 * TC egress finds a sleeping device's address behind the gateway's NAT
 * (bpf/lib/wake.h). Each loads only when told, as the loader tells every
 * one of them (a loader that told XDP alone left TC egress refused on a
 * kernel whose nf_conntrack was not loaded yet).
 */
#define LOADS_ONLY_TOLD(name)                                                           \
	do {                                                                            \
		struct tko_##name *s_ = tko_##name##__open();                           \
                                                                                        \
		assert_non_null(s_);                                                    \
		share_maps(s_->obj);                                                    \
		if (!tko_##name##__load(s_))                                            \
			fail_msg(#name ": the build without kfuncs loaded with calls to them"); \
		tko_##name##__destroy(s_);                                              \
		s_ = tko_##name##__open();                                              \
		assert_non_null(s_);                                                    \
		share_maps(s_->obj);                                                    \
		s_->rodata->ct_kfuncs_absent = true;                                    \
		if (tko_##name##__load(s_))                                             \
			fail_msg(#name ": the build without kfuncs does not load");     \
		tko_##name##__destroy(s_);                                              \
	} while (0)

static void test_tc_without_kfuncs(void **state)
{
	LOADS_ONLY_TOLD(tc_ingress_noct);
	LOADS_ONLY_TOLD(tc_egress_noct);
}

static int group_setup(void **state)
{
	unsigned prof[NCASES + 3];
	uint16_t port[NCASES + 3];
	size_t i, n = 0;

	if (h_load(NCASES + 16))
		return -1;
	for (i = 0; i < NCASES; i++, n++) {
		prof[n] = cases[i].prof;
		port[n] = (uint16_t)(CASE_PORT0 + i);
	}
	prof[n] = P_V4, port[n++] = PORT_SKB;
	prof[n] = P_V4, port[n++] = PORT_NOCT;
	prof[n] = P_V4, port[n++] = PORT_GONE;
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

	/* A network namespace of our own: its conntrack table is the one
	 * the programs' lookups (and the conntrack CLI) use. */
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "prog_conntrack: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 1;
	}
	if (run_cmd("conntrack --version >/dev/null 2>&1")) {
		fprintf(stderr, "prog_conntrack: the conntrack CLI is missing (make deps)\n");
		return 1;
	}
	tests[n++] = (struct CMUnitTest){ "kfuncs_present", test_kfuncs_present };
	for (i = 0; i < NCASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	tests[n++] = (struct CMUnitTest){ "skb_refresh", test_skb };
	tests[n++] = (struct CMUnitTest){ "entry_gone_warned", test_entry_gone };
	tests[n++] = (struct CMUnitTest){ "without_kfuncs", test_without_kfuncs };
	tests[n++] = (struct CMUnitTest){ "tc_without_kfuncs", test_tc_without_kfuncs };
	return _cmocka_run_group_tests("prog_conntrack", tests, n, group_setup,
				       h_group_teardown);
}
