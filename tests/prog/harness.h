/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every program test needs around BPF_PROG_RUN: the loaded objects,
 * session creation through the real tko_start program, the clock (carrier
 * passes run with BPF_PROG_RUN, h_pass), a bounded wait for a session state,
 * event capture (ring buffer and event_log), the stats, and checks that
 * print what differs. Nothing here attaches a program or touches a network
 * device: programs only run on frames handed to the kernel.
 *
 * Include after <cmocka.h>.
 */
#ifndef TKO_TEST_HARNESS_H
#define TKO_TEST_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "tko_dp.h"
#include "tko_types.h"
#include "frames.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"	/* skeleton helpers we do not call */
#include "ctl.skel.h"
#include "xdp_ingress.skel.h"
#include "tc_egress.skel.h"
#include "tc_ingress.skel.h"
#include "carrier.skel.h"
#pragma GCC diagnostic pop

#define NSEC_PER_SEC	1000000000ULL
#define WAIT_DEADLINE_S	5	/* the clock needs idle_s (1 s); allow for a loaded box */
#define H_GENERATION	1	/* of the carrier frames h_pass() runs */
#define MAX_EVENTS	4096

struct harness {
	struct tko_bpf b;
	struct ring_buffer *rb;
	struct tko_event ev[MAX_EVENTS];	/* every event seen, in order */
	size_t nev;
	bool ev_overflow;
};

static struct harness H;

/* Fail the test with both values and a label: cmocka's asserts have no label. */
#define CHECK_EQ(got, want, what) do {						\
	unsigned long long g_ = (unsigned long long)(got);			\
	unsigned long long w_ = (unsigned long long)(want);			\
	if (g_ != w_)								\
		fail_msg("%s: got %llu (0x%llx), want %llu (0x%llx)",		\
			 (what), g_, g_, w_, w_);				\
} while (0)

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* the clock of bpf_ktime_get_ns() */
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/*
 * What the answer path's clock (bpf/lib/coarse.h) reads now: jiffies * tick
 * + base, jiffies read by the control program the loader measured them
 * with (CLOCK_MONOTONIC where the programs read that). It never goes back:
 * two readings bound what a program run between them read, whatever the
 * latency of the tick's interrupt (under emulation, milliseconds).
 */
static inline uint64_t h_coarse_now(void)
{
	__u64 tick = H.b.xdp->rodata->coarse_tick_ns;
	struct tko_clock_edge c;
	int err;

	if (!tick)
		return now_ns();
	err = tko_clock_sample(H.b.ctl, &c);
	if (err)
		fail_msg("BPF_PROG_RUN tko_clock_read: %s", strerror(-err));
	return c.jiffies * tick + H.b.xdp->rodata->coarse_base_ns;
}

/* Sleep until the answer path's clock has read t. */
static inline void h_coarse_sleep_until(uint64_t t)
{
	struct timespec ts = { 0, 100000 };

	while (h_coarse_now() < t)
		nanosleep(&ts, NULL);
}

static int on_event(void *ctx, void *data, size_t len)
{
	if (len != sizeof(struct tko_event) || H.nev >= MAX_EVENTS) {
		H.ev_overflow = true;
		return 0;
	}
	memcpy(&H.ev[H.nev++], data, sizeof(struct tko_event));
	return 0;
}

static inline void h_destroy(void);

/* Load the objects with shared maps; nothing is attached. */
static inline int h_load(__u32 max_sessions)
{
	int err;

	tko_bpf_setup_logging();
	err = tko_bpf_load(&H.b, max_sessions);
	if (err) {
		fprintf(stderr, "cannot load the BPF objects: %s\n", strerror(-err));
		return -1;
	}
	H.rb = ring_buffer__new(bpf_map__fd(H.b.ctl->maps.events), on_event, NULL, NULL);
	if (!H.rb) {
		fprintf(stderr, "cannot open the events ring buffer: %s\n", strerror(errno));
		tko_bpf_destroy(&H.b);
		return -1;
	}
	H.nev = 0;
	/* The clock runs when the tests run the carrier (h_pass): on the
	 * loopback device, one pass each time, at the default tick. */
	{
		struct tko_carrier_state c = {
			.loop_ifindex = 1, .generation = H_GENERATION,
			.tick_ns = TKO_TICK_MS_DEFAULT * 1000000ULL,
			.tick_bytes = tko_tick_bytes(TKO_TICK_MS_DEFAULT),
		};
		__u32 zero = 0;

		if (bpf_map_update_elem(bpf_map__fd(H.b.ctl->maps.carrier), &zero, &c, BPF_ANY)) {
			fprintf(stderr, "cannot set up the carrier map: %s\n", strerror(errno));
			h_destroy();
			return -1;
		}
	}
	return 0;
}

static inline void h_destroy(void)
{
	ring_buffer__free(H.rb);
	H.rb = NULL;
	tko_bpf_destroy(&H.b);
}

/*
 * A test-only BPF object (a test build of a datapath program, as
 * tests/prog/prog_race.c loads) on the loaded datapath's maps, as the
 * loader shares them (call it before obj is loaded).
 */
static inline int h_share_maps(struct bpf_object *obj)
{
	return tko_bpf_share(&H.b, obj) ? -1 : 0;
}

/* Read all pending events; returns the index of the first new one. */
static inline size_t h_drain(void)
{
	size_t first = H.nev;

	ring_buffer__consume(H.rb);
	return first;
}

/* Run control program prog on args: 0 and its return value in *retval, or the run's -errno. */
static inline int ctl_run(struct bpf_program *prog, struct tko_ctl_args *args, int *retval)
{
	return tko_ctl_run(bpf_program__fd(prog), args, sizeof(*args), retval);
}

/* tko_start for a test's fixtures (what a test checks goes through h_start()). */
static inline int h_start_fixture(struct bpf_program *start, const struct tko_ctl_args *a)
{
	struct tko_ctl_args args = *a;
	int ret = -1;

	if (ctl_run(start, &args, &ret))
		return -1;
	return ret;
}

/* Run tko_start; returns its retval (0 or -errno). */
static inline int h_start(const struct tko_ctl_args *a)
{
	struct tko_ctl_args args = *a;
	int ret = 0;

	assert_int_equal(ctl_run(H.b.ctl->progs.tko_start, &args, &ret), 0);
	return ret;
}

static inline int h_stop(const struct tko_key *k)
{
	struct tko_ctl_args args = { .key = *k };
	int ret = 0;

	assert_int_equal(ctl_run(H.b.ctl->progs.tko_stop, &args, &ret), 0);
	return ret;
}

static inline struct tko_table h_table(void)
{
	struct tko_table tb = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.table), &zero, &tb);
	return tb;
}

/* The session of k (and its id), or false when the table has none. */
static inline bool h_find(const struct tko_key *k, __u32 *id, struct tko_session *s)
{
	struct tko_table tb = h_table();

	return !tko_table_find(bpf_map__fd(H.b.ctl->maps.sessions),
			       bpf_map__fd(H.b.ctl->maps.sessions_index), &tb, k, id, s);
}

static inline bool h_lookup(const struct tko_key *k, struct tko_session *s)
{
	return h_find(k, NULL, s);
}

/* Overwrite session entry id (a test's fixture: the datapath must be idle). */
static inline void h_write(__u32 id, const struct tko_session *s)
{
	if (bpf_map_update_elem(bpf_map__fd(H.b.ctl->maps.sessions), &id, s, BPF_ANY))
		fail_msg("cannot write session %u: %s", id, strerror(errno));
}

/*
 * Interface ifindex is one of the agent's (its `ifaces` entry, as the agent
 * writes it when it attaches): sessions may use it as their path. down: it
 * has no carrier, as rtnetlink tells the agent. Counters and the carrier's
 * own fields start at zero.
 */
static inline void h_iface_set(__u32 ifindex, __u8 path, bool down)
{
	struct tko_iface e = { .ifindex = ifindex, .path = path, .down = down };

	snprintf(e.name, sizeof(e.name), "test%u", ifindex);
	if (bpf_map_update_elem(bpf_map__fd(H.b.ctl->maps.ifaces), &ifindex, &e, BPF_ANY))
		fail_msg("cannot write the ifaces entry of %u: %s", ifindex, strerror(errno));
}

static inline struct tko_iface h_iface_get(__u32 ifindex)
{
	struct tko_iface e = {};

	if (bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.ifaces), &ifindex, &e))
		fail_msg("no ifaces entry of %u: %s", ifindex, strerror(errno));
	return e;
}

static inline void h_iface_del(__u32 ifindex)
{
	bpf_map_delete_elem(bpf_map__fd(H.b.ctl->maps.ifaces), &ifindex);
}

/* A carrier frame of generation gen, TKO_CARRIER_LEN bytes. */
static inline void h_carrier_frame(uint8_t *b, __u32 gen)
{
	struct tko_carrier_hdr *h = (void *)b;

	memset(b, 0, TKO_CARRIER_LEN);
	memset(h->dst, 0xff, 6);
	h->proto = htons(TKO_CARRIER_ETHERTYPE);
	h->magic = htonl(TKO_CARRIER_MAGIC);
	h->generation = gen;
}

/*
 * One pass of the clock: the carrier program run on a carrier frame of the
 * generation in the carrier map. Returns its verdict; *hold gets the
 * length it left with (its hold), if hold is not NULL.
 */
static inline int h_pass_len(__u32 *hold)
{
	static uint8_t out[65536];
	struct tko_carrier_state c = {};
	uint8_t in[TKO_CARRIER_LEN];
	struct __sk_buff ctx = { .ifindex = 1 };
	__u32 zero = 0;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = sizeof(in),
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.carrier), &zero, &c))
		fail_msg("cannot read the carrier map: %s", strerror(errno));
	h_carrier_frame(in, c.generation);
	if (bpf_prog_test_run_opts(bpf_program__fd(H.b.carrier->progs.tko_carrier), &o))
		fail_msg("BPF_PROG_RUN carrier: %s", strerror(errno));
	if (hold)
		*hold = o.data_size_out;
	return (int)o.retval;
}

static inline int h_pass(void)
{
	return h_pass_len(NULL);
}

/* Poll until every session in keys[] is in state, or the deadline passes;
 * the clock runs meanwhile. */
static inline bool h_wait_state(const struct tko_key *keys, size_t n, __u8 state)
{
	uint64_t deadline = now_ns() + WAIT_DEADLINE_S * NSEC_PER_SEC;
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	struct tko_session s;
	size_t i;

	for (;;) {
		h_pass();
		for (i = 0; i < n; i++)
			if (!h_lookup(&keys[i], &s) || s.state != state)
				break;
		if (i == n)
			return true;
		if (now_ns() > deadline) {
			fprintf(stderr, "session %zu of %zu not in state %u after %d s\n",
				i, n, state, WAIT_DEADLINE_S);
			return false;
		}
		nanosleep(&tick, NULL);
	}
}

/* Sum of a per-CPU counter of the stats map. */
static inline uint64_t h_stat(__u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu > 0 ? ncpu : 1];
	uint64_t sum = 0;
	int i;

	if (ncpu <= 0 ||
	    bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.stats), &idx, vals))
		fail_msg("cannot read stats[%u]", idx);
	for (i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

/* Run XDP on in[0..len); the frame after the run goes to out. Returns the verdict. */
static inline int h_run_xdp(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = FRAME_MAX, .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(H.b.xdp->progs.tko_xdp_ingress), &o);

	if (err)
		fail_msg("BPF_PROG_RUN xdp (%zu bytes): %s", len, strerror(-err));
	*out_len = o.data_size_out;
	return (int)o.retval;
}

/*
 * Run TC egress on a frame with skb->mark = mark. skb->dev is the netns'
 * loopback (ifindex 1) unless the context names another device. Returns
 * the BPF_PROG_RUN error, the program's verdict in *verdict.
 */
/*
 * Run an skb (TC) program on in[0..len) with the context *ctx (mark,
 * ifindex, ...); the context after the run is written back to *ctx, the
 * frame to out. Returns the BPF_PROG_RUN error, the verdict in *verdict.
 */
static inline int h_try_skb_prog(struct bpf_program *prog, const uint8_t *in, size_t len,
				 struct __sk_buff *ctx, uint8_t *out, size_t *out_len,
				 int *verdict)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = FRAME_MAX, .ctx_in = ctx,
		    .ctx_size_in = sizeof(*ctx), .ctx_out = ctx, .ctx_size_out = sizeof(*ctx),
		    .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);

	*out_len = o.data_size_out;
	*verdict = (int)o.retval;
	return err;
}

static inline int h_try_tc(const uint8_t *in, size_t len, __u32 mark, uint8_t *out,
			   size_t *out_len, int *verdict)
{
	struct __sk_buff ctx = { .mark = mark };

	return h_try_skb_prog(H.b.tc->progs.tko_tc_egress, in, len, &ctx, out, out_len,
			      verdict);
}

static inline int h_run_tc(const uint8_t *in, size_t len, __u32 mark, uint8_t *out,
			   size_t *out_len)
{
	int verdict, err = h_try_tc(in, len, mark, out, out_len, &verdict);

	if (err)
		fail_msg("BPF_PROG_RUN tc (%zu bytes): %s", len, strerror(-err));
	return verdict;
}

/*
 * BPF_PROG_RUN of an skb program (kernel 6.x) refuses an untagged IPv4/IPv6
 * frame whose IP header is incomplete: such a frame cannot be handed to the
 * program at all (nor can the stack emit one).
 */
static inline bool tc_run_refuses(const uint8_t *in, size_t len)
{
	uint16_t type = get16(in + 12);

	return (type == ETHERTYPE_IP && len < ETH_HDR_LEN + IP4_HDR_LEN) ||
	       (type == ETHERTYPE_IPV6 && len < ETH_HDR_LEN + IP6_HDR_LEN);
}

static inline void hexdump(const char *what, const uint8_t *p, size_t n)
{
	size_t i;

	fprintf(stderr, "%s (%zu bytes):", what, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", p[i]);
	fprintf(stderr, "\n");
}

/* Byte-exact frame comparison; on a mismatch show both and the first difference. */
static inline void check_frame(const uint8_t *got, size_t got_len, const uint8_t *want,
			       size_t want_len, const char *what)
{
	size_t i, n = got_len < want_len ? got_len : want_len;

	if (got_len == want_len && !memcmp(got, want, n))
		return;
	for (i = 0; i < n && got[i] == want[i]; i++)
		;
	hexdump("got", got, got_len);
	hexdump("want", want, want_len);
	fail_msg("%s: frames differ at byte %zu (lengths %zu, %zu)", what, i, got_len, want_len);
}

static inline bool key_eq(const struct tko_key *a, const struct tko_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* Events of key k among H.ev[from..]; copies up to max of them, returns how many. */
static inline size_t h_events_of(const struct tko_key *k, size_t from, struct tko_event *out,
				 size_t max)
{
	size_t i, n = 0;

	assert_false(H.ev_overflow);
	for (i = from; i < H.nev; i++) {
		if (!key_eq(&H.ev[i].key, k))
			continue;
		if (n < max)
			out[n] = H.ev[i];
		n++;
	}
	return n;
}

/* The ring buffer record and its event_log slot must be the same event. */
static inline void check_event_logged(const struct tko_event *e)
{
	__u32 slot = (__u32)(e->seq & (TKO_EVENT_LOG_LEN - 1));
	struct tko_event logged;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.event_log), &slot,
					     &logged), 0);
	CHECK_EQ(logged.seq, e->seq, "event_log seq");
	if (memcmp(&logged, e, sizeof(*e)))
		fail_msg("event_log[%u] differs from the ring buffer record", slot);
}

/*
 * Exactly one event of k since index from, of this type and reason, logged
 * in event_log too; it is copied to *e for further checks.
 */
static inline void check_one_event(const struct tko_key *k, size_t from, __u8 type,
				   __u8 reason, struct tko_event *e)
{
	struct tko_event evs[4];
	size_t n = h_events_of(k, from, evs, 4);

	CHECK_EQ(n, 1, "events of the session");
	CHECK_EQ(evs[0].type, type, "event type");
	CHECK_EQ(evs[0].reason, reason, "event reason");
	check_event_logged(&evs[0]);
	if (e)
		*e = evs[0];
}

static inline void check_no_event(const struct tko_key *k, size_t from)
{
	struct tko_event e;

	CHECK_EQ(h_events_of(k, from, &e, 1), 0, "events of the session");
}

static inline void check_tcp_state(const struct tko_tcp_state *got,
				   const struct tko_tcp_state *want)
{
	CHECK_EQ(got->snd_una, want->snd_una, "tcp.snd_una");
	CHECK_EQ(got->snd_nxt, want->snd_nxt, "tcp.snd_nxt");
	CHECK_EQ(got->rcv_nxt, want->rcv_nxt, "tcp.rcv_nxt");
	CHECK_EQ(got->window, want->window, "tcp.window");
	CHECK_EQ(got->wscale, want->wscale, "tcp.wscale");
	CHECK_EQ(got->ts_val, want->ts_val, "tcp.ts_val");
	CHECK_EQ(got->ts_ecr, want->ts_ecr, "tcp.ts_ecr");
}

static inline void check_counters(const struct tko_counters *got,
				  const struct tko_counters *want)
{
	CHECK_EQ(got->probes_sent, want->probes_sent, "cnt.probes_sent");
	CHECK_EQ(got->probes_answered, want->probes_answered, "cnt.probes_answered");
	CHECK_EQ(got->peer_probes_answered, want->peer_probes_answered,
		 "cnt.peer_probes_answered");
	CHECK_EQ(got->unanswered, want->unanswered, "cnt.unanswered");
	CHECK_EQ(got->answers_limited, want->answers_limited, "cnt.answers_limited");
	CHECK_EQ(got->probes_late, want->probes_late, "cnt.probes_late");
}

/* What no frame may change: configuration, L2 info, birth time. */
static inline void check_session_fixed(const struct tko_session *got,
				       const struct tko_session *want)
{
	if (memcmp(&got->cfg, &want->cfg, sizeof(got->cfg)))
		fail_msg("session cfg changed");
	CHECK_EQ(got->started_ns, want->started_ns, "started_ns");
}

static inline void check_l2(const struct tko_session *s, const struct tko_session *want)
{
	CHECK_EQ(s->ifindex, want->ifindex, "ifindex");
	if (memcmp(s->lmac, want->lmac, 6) || memcmp(s->rmac, want->rmac, 6))
		fail_msg("session MAC addresses differ");
	CHECK_EQ(s->vlan_tci, want->vlan_tci, "vlan_tci");
	CHECK_EQ(s->vlan_proto, want->vlan_proto, "vlan_proto");
}

/*
 * The test connection. "local" is the offloaded endpoint, "peer" the far
 * end; profiles vary it, and each test session gets its own local port so
 * that no two checks share a session (or its answer budget).
 */
enum {
	P_V4 = 0,
	P_V6 = 1 << 0,
	P_TS = 1 << 1,		/* the session uses RFC 7323 timestamps */
	P_VLAN = 1 << 2,	/* frames carry one 802.1Q tag */
	P_ONESHOT = 1 << 3,	/* TKO_F_ONESHOT */
	P_LEARNING = 1 << 4,	/* idle 1 h: stays LEARNING during the test */
	P_NOSTATE = 1 << 5,	/* no given state (TC learns it), idle 1 h */
	P_WRAP = 1 << 6,	/* sequence numbers at the 2^32 wrap */
};

#define PEER_PORT	443
#define VLAN_ID		42
#define IDLE_LONG_S	3600
#define SND		0x1a2b3c4du	/* endpoint's SND.NXT */
#define RCV		0x5e6f7081u	/* endpoint's RCV.NXT */
#define WIN		0x01f5		/* endpoint's last raw window */
#define WSCALE		7
#define TSVAL		0x00c0ffeeu	/* endpoint's last TSval */
#define TSECR		0x0badcafeu	/* peer's TSval the endpoint last echoed */
#define PEER_TSVAL	0x0badd00du	/* TSval in the peer's frames (newer) */
#define PEER_WIN	0x2000
#define ENDPOINT_TOS	0x2a		/* DSCP AF11, ECT(0) */
#define ENDPOINT_TOS_SENT 0x28		/* ... as tko sends it: not-ECT */
#define ENDPOINT_FLOW	0x54321		/* the endpoint's IPv6 flow label */

static const uint8_t LOCAL_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t PEER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t LOCAL4[4] = { 10, 0, 0, 2 };
static const uint8_t PEER4[4] = { 192, 0, 2, 1 };
static const uint8_t LOCAL6[16] = { 0xfd, 0x00, [15] = 2 };
static const uint8_t PEER6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0xff, [15] = 1 };

static inline bool sess_goes_active(unsigned prof)
{
	return !(prof & (P_LEARNING | P_NOSTATE));
}

static inline struct tko_key sess_key(unsigned prof, uint16_t lport)
{
	struct tko_key k = {
		.family = prof & P_V6 ? TKO_AF_INET6 : TKO_AF_INET,
		.lport = lport,
		.rport = PEER_PORT,
	};

	memcpy(k.laddr, prof & P_V6 ? LOCAL6 : LOCAL4, prof & P_V6 ? 16 : 4);
	memcpy(k.raddr, prof & P_V6 ? PEER6 : PEER4, prof & P_V6 ? 16 : 4);
	return k;
}

/* The TCP state the session is started with (and that the frames follow). */
static inline struct tko_tcp_state sess_tcp(unsigned prof)
{
	struct tko_tcp_state t = {
		.snd_nxt = SND, .rcv_nxt = RCV, .window = WIN, .wscale = WSCALE,
	};

	if (prof & P_WRAP) {
		t.snd_nxt = 0xffffffffu;
		t.rcv_nxt = 0;
	}
	t.snd_una = t.snd_nxt;	/* handed over idle: nothing in flight */
	if (prof & P_TS) {
		t.ts_val = TSVAL;
		t.ts_ecr = TSECR;
	}
	return t;
}

static inline struct tko_ctl_args sess_args(unsigned prof, uint16_t lport)
{
	struct tko_ctl_args a = {
		.key = sess_key(prof, lport),
		.cfg = {
			/* a session that must not become ACTIVE under a test
			 * (the clock would race with its checks) idles long */
			.idle_s = prof & (P_LEARNING | P_NOSTATE) ? IDLE_LONG_S : 1,
			/* One probe is queued when the session becomes ACTIVE;
			 * long intervals keep it the only one during a test. */
			.interval_s = 3600,
			.retry_interval_s = 3600,
			.retries = 5,
			.flags = prof & P_ONESHOT ? TKO_F_ONESHOT : 0,
		},
	};

	if (!(prof & P_NOSTATE)) {
		a.cfg.flags |= TKO_F_STATE_GIVEN;
		a.tcp = sess_tcp(prof);
		a.have = TKO_HAVE_SEQ | (prof & P_TS ? TKO_HAVE_TS : 0);
	}
	return a;
}

/* Common part of both directions; src/dst filled by the callers. */
static inline struct seg_spec seg_base(unsigned prof)
{
	struct seg_spec s = {
		.v6 = prof & P_V6,
		.vlan_proto = prof & P_VLAN ? ETHERTYPE_VLAN : 0,
		.vlan_id = prof & P_VLAN ? VLAN_ID : 0,
		.flags = F_ACK,
		.ts = prof & P_TS,
		/* values an answer must not copy */
		.tos = 0x28, .flow = 0x12345, .ip_id = 0x4d2, .ttl = 57,
		.pad_to = ETH_MIN_LEN,
	};
	return s;
}

/* The peer's keepalive probe of the session: seq = RCV.NXT - 1, ack = SND.NXT. */
static inline struct seg_spec from_peer(unsigned prof, uint16_t lport)
{
	struct tko_tcp_state t = sess_tcp(prof);
	struct seg_spec s = seg_base(prof);

	memcpy(s.smac, PEER_MAC, 6);
	memcpy(s.dmac, LOCAL_MAC, 6);
	memcpy(s.saddr, prof & P_V6 ? PEER6 : PEER4, prof & P_V6 ? 16 : 4);
	memcpy(s.daddr, prof & P_V6 ? LOCAL6 : LOCAL4, prof & P_V6 ? 16 : 4);
	s.sport = PEER_PORT;
	s.dport = lport;
	s.seq = t.rcv_nxt - 1;
	s.ack = t.snd_nxt;
	s.window = PEER_WIN;
	s.tsval = PEER_TSVAL;
	s.tsecr = TSVAL;
	return s;
}

/* The endpoint's pure ACK, in sync with the session: seq = SND.NXT, ack = RCV.NXT. */
static inline struct seg_spec from_endpoint(unsigned prof, uint16_t lport)
{
	struct tko_tcp_state t = sess_tcp(prof);
	struct seg_spec s = seg_base(prof);

	memcpy(s.smac, LOCAL_MAC, 6);
	memcpy(s.dmac, PEER_MAC, 6);
	memcpy(s.saddr, prof & P_V6 ? LOCAL6 : LOCAL4, prof & P_V6 ? 16 : 4);
	memcpy(s.daddr, prof & P_V6 ? PEER6 : PEER4, prof & P_V6 ? 16 : 4);
	s.sport = lport;
	s.dport = PEER_PORT;
	s.seq = t.snd_nxt;
	s.ack = t.rcv_nxt;
	s.window = WIN;
	s.tsval = TSVAL;
	s.tsecr = TSECR;
	/* The endpoint's own class and flow label, ECT(0) set: tko's segments
	 * carry them, ECN bits cleared (ENDPOINT_TOS_SENT). */
	s.tos = ENDPOINT_TOS;
	s.flow = ENDPOINT_FLOW;
	return s;
}

/* The expected answer to probe p of a session of profile prof. */
static inline struct seg_spec expected_answer(unsigned prof, const struct seg_spec *p)
{
	struct tko_tcp_state t = sess_tcp(prof);

	return answer_spec(p, t.snd_nxt, t.rcv_nxt, t.window, prof & P_TS, t.ts_val,
			   PEER_TSVAL);
}

/*
 * The IP header of tko's segments for session s: the endpoint's DSCP (not
 * ECT) and IPv6 flow label, as TC egress learned them (none before).
 */
static inline void spec_flowinfo(struct seg_spec *a, const struct tko_session *s)
{
	a->tos = (uint8_t)(s->flowinfo >> 20);
	a->flow = a->v6 ? s->flowinfo & 0xfffff : 0;
}

/* Start the sessions (prof[i], lport[i]) and wait once for those that go ACTIVE. */
static inline int h_start_sessions(const unsigned *prof, const uint16_t *lport, size_t n)
{
	struct tko_key *active = calloc(n ? n : 1, sizeof(*active));
	size_t i, na = 0;
	int ret = 0;

	if (!active)
		return -1;
	for (i = 0; i < n && !ret; i++) {
		struct tko_ctl_args a = sess_args(prof[i], lport[i]);
		int r = h_start_fixture(H.b.ctl->progs.tko_start, &a);

		if (r) {
			fprintf(stderr, "cannot start session %zu (port %u): %d\n", i,
				lport[i], r);
			ret = -1;
		}
		if (sess_goes_active(prof[i]))
			active[na++] = a.key;
	}
	if (!ret && !h_wait_state(active, na, TKO_ACTIVE))
		ret = -1;
	free(active);
	h_drain();	/* STARTED and OFFLOADED events */
	return ret;
}

/*
 * The tests of all[0..n) to run here, into out; returns their number. Under
 * emulation (TKO_TEST_EMULATED set: tests/vm runs the program tests in a
 * VM without KVM) those named in timing_bound are left out, each said in
 * one line: their premise is a setup that takes milliseconds on hardware.
 */
static inline size_t h_timing_filter(const struct CMUnitTest *all, size_t n,
				     const char *const *timing_bound, size_t nbound,
				     struct CMUnitTest *out)
{
	const char *emulated = getenv("TKO_TEST_EMULATED");
	size_t i, j, k = 0;

	for (i = 0; i < n; i++) {
		bool skip = false;

		for (j = 0; j < nbound && emulated && *emulated; j++)
			skip |= !strcmp(all[i].name, timing_bound[j]);
		if (skip)
			printf("# %s: timing-bound, not run under emulation (make test runs it "
			       "on the host's kernel)\n", all[i].name);
		else
			out[k++] = all[i];
	}
	return k;
}

/* cmocka group teardown of the files that only load the objects. */
static inline int h_group_teardown(void **state)
{
	(void)state;
	h_destroy();
	return 0;
}

#endif /* TKO_TEST_HARNESS_H */
