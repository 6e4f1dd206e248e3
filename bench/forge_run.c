// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 2: CPU per forged probe, in the kernel. One carrier pass is one
 * BPF_PROG_RUN of tko_carrier on the carrier frame: the clock's pass
 * (requests, the ticks that came, the hold) with K sessions due at the
 * tick it takes. Each probe is written over the frame and
 * bpf_clone_redirect()ed out of the session's interface: one end of a veth
 * pair in the benchmark's namespace (run.sh), whose TC egress program
 * (bench_steal) takes every frame, so dev_queue_xmit() reports it sent and
 * no driver runs. (A device that refuses a probe makes tko count an emit
 * error and drop the session's path, so a down link would measure
 * something else.)
 *
 * Making K sessions due is a fixture, as in tests/prog/prog_carrier.c:
 * their last probe is put one interval before a tick T (a few ticks ahead)
 * and a request is queued for each, as the other programs do when they
 * change a session. Passes run before T file them under T's tick (and must
 * emit nothing); the pass timed is the first one at T's tick, which takes
 * that list: K probes. Per probe: the pass's in-kernel time over K. The
 * filing (the requests' side) is not in it.
 *
 * The maximum rate on one core: 65536 sessions due at one tick, then
 * back-to-back passes in one BPF_PROG_RUN (repeat) until all are sent
 * (TKO_PASS_SESSIONS per pass), in-kernel time.
 *
 * The idle pass: nothing due for a whole hold (1 s at the default tick,
 * what an idle carrier waits): the pass takes the ticks that came (empty
 * lists) and looks ahead for the next tick with work (none within a hold).
 *
 * With TKO_PROFILE_SECONDS it only runs the maximum rate's passes in a loop,
 * for bench/profile.sh.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "inproc.h"
#include "ctl.skel.h"
#include "carrier.skel.h"
#include "helpers.skel.h"

#define NSESSIONS 65536
#define OUT_IF "bv0"
#define WAIT_S 60	/* the sessions' interval and retry interval */
#define MARGIN_NS 200000ULL	/* after a tick's start, before its pass */

static struct inproc P;
static struct tko_session *ent;
static int carrier_fd;
static uint64_t tick_ns = TKO_TICK_MS_DEFAULT * 1000000ULL;
static uint32_t next_session;

/* `repeat` carrier passes; returns their total in-kernel duration. */
static double passes(int repeat)
{
	static uint8_t out[TKO_CARRIER_MAX_FRAME + 64];
	uint8_t in[TKO_CARRIER_LEN] = {};
	struct tko_carrier_hdr *h = (void *)in;
	struct __sk_buff ctx = { .ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = sizeof(in),
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);

	memset(h->dst, 0xff, 6);
	h->proto = htons(TKO_CARRIER_ETHERTYPE);
	h->magic = htonl(TKO_CARRIER_MAGIC);
	h->generation = 1;
	if (bpf_prog_test_run_opts(carrier_fd, &o))
		die("BPF_PROG_RUN carrier: %s", strerror(errno));
	return (double)o.duration * repeat;
}

/* Probes handed to the device. */
static uint64_t emitted(void)
{
	return inproc_stat(&P, TKO_ST_PROBES_SENT);
}

static bool requests_left(void)
{
	__u32 id;

	return !bpf_map_lookup_elem(P.requests_fd, NULL, &id);
}

/* The start of the first tick at least ahead_ns from now. */
static uint64_t tick_ahead(uint64_t ahead_ns)
{
	return ((now_ns() + ahead_ns) / tick_ns + 1) * tick_ns;
}

/*
 * Sessions [first, first + k) due at T (their answered interval ends
 * then), queued for the clock; then the passes that file them, which must
 * send nothing (T's tick has not come).
 */
static void make_due(uint32_t first, uint32_t k, uint64_t T)
{
	uint64_t sent0 = emitted();

	inproc_read(&P, first, k, ent);
	for (uint32_t i = 0; i < k; i++) {
		ent[i].probe_ns = T - WAIT_S * NSEC_PER_SEC;
		ent[i].cnt.unanswered = 0;
		ent[i].clock.req = 1;
	}
	inproc_write(&P, first, k, ent);
	for (uint32_t i = 0; i < k; i++)
		inproc_request(&P, first + i);
	while (requests_left())
		passes(1);
	if (now_ns() >= T || emitted() != sent0)
		die("filing %u due sessions took past their tick (%llu sent early)", k,
		    (unsigned long long)(emitted() - sent0));
}

/* The next k sessions, distinct until the table wraps. */
static uint32_t take(uint32_t k)
{
	if (next_session + k > NSESSIONS)
		next_session = 0;
	next_session += k;
	return next_session - k;
}

static void setup(void)
{
	unsigned int ifindex = if_nametoindex(OUT_IF);
	struct tko_carrier_state cs = {
		.generation = 1, .tick_ns = tick_ns, .tick_bytes = tko_tick_bytes(TKO_TICK_MS_DEFAULT),
	};
	struct tko_session s = {
		.cfg = { .idle_s = WAIT_S, .interval_s = WAIT_S, .retry_interval_s = WAIT_S,
			 .retries = 5 },
		.tcp = { .snd_nxt = 1000, .rcv_nxt = 2000, .window = 502, .wscale = 7 },
		.state = TKO_ACTIVE,
		.prev_state = TKO_LEARNING,
		.have = TKO_HAVE_SEQ | TKO_HAVE_L2,
		.lmac = { 2, 0, 0, 0, 0, 2 }, .rmac = { 2, 0, 0, 0, 0, 1 },
	};
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, topts, .handle = 1, .priority = 1);
	__u32 zero = 0;
	int err;

	if (!ifindex)
		die("no %s in this namespace (run.sh makes it)", OUT_IF);
	hook.ifindex = ifindex;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		die("%s: cannot create the clsact qdisc: %s", OUT_IF, strerror(-err));
	topts.prog_fd = bpf_program__fd(P.h->progs.bench_steal);
	if ((err = bpf_tc_attach(&hook, &topts)))
		die("%s: cannot attach the TC egress program: %s", OUT_IF, strerror(-err));

	s.ifindex = ifindex;
	s.probe_ns = now_ns();	/* answered now: due WAIT_S from now */
	inproc_fill(&P, 0, NSESSIONS, &s);
	carrier_fd = bpf_program__fd(P.b.carrier->progs.tko_carrier);
	cs.loop_ifindex = ifindex;	/* the restored carrier's redirect is not performed */
	cs.ifindex[0] = ifindex;
	if (bpf_map_update_elem(bpf_map__fd(P.b.ctl->maps.carrier), &zero, &cs, BPF_ANY))
		die("cannot set the carrier state: %s", strerror(errno));
	while (requests_left())	/* the first passes file every new session */
		passes(1);
	ent = calloc(NSESSIONS, sizeof(*ent));
	if (!ent)
		die("out of memory");
}

/*
 * For a profiler (bench/profile.sh): the maximum rate's passes (every
 * session due at one tick, then passes back to back) again and again, for
 * `seconds`. SIGUSR1: print how many probes so far.
 */
static void profile_loop(double seconds)
{
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9), s0 = emitted();

	profile_marks_arm();
	progress("profiling: %u sessions due at once, %.0f s", NSESSIONS, seconds);
	while (now_ns() < end) {
		uint64_t T = tick_ahead(200 * 1000000ULL);

		make_due(0, NSESSIONS, T);
		sleep_until_ns(T + MARGIN_NS);
		for (int i = 0; i < NSESSIONS / TKO_PASS_SESSIONS; i++) {
			passes(1);
			profile_mark(emitted() - s0, "probes");
		}
	}
}

int main(int argc, char **argv)
{
	const char *prof = getenv("TKO_PROFILE_SECONDS");
	int rounds, idle_rounds;
	struct opts o;
	struct stats st;
	double v[64];
	char key[64];

	bench_init("forge_run");
	opts_parse(&o, argc, argv);
	rounds = o.quick ? 9 : 31;
	idle_rounds = o.quick ? 3 : 7;
	if (o.ns_a)
		netns_enter(o.ns_a);	/* where the output veth is */
	pin_cpu(1);	/* one CPU's caches, whatever the scheduler does meanwhile */
	if (now_ns() < 2 * WAIT_S * NSEC_PER_SEC)
		die("the machine has been up less than %d s: the fixtures put deadlines %d s back",
		    2 * WAIT_S, WAIT_S);
	inproc_load(&P, NSESSIONS);
	setup();
	if (prof) {
		profile_loop(atof(prof));
		inproc_destroy(&P);
		return 0;
	}

	/* Warm-up: every session's path once (code, caches). */
	{
		uint64_t T = tick_ahead(300 * 1000000ULL), s0 = emitted();

		make_due(0, NSESSIONS, T);
		sleep_until_ns(T + MARGIN_NS);
		passes(NSESSIONS / TKO_PASS_SESSIONS + 1);
		if (emitted() - s0 != NSESSIONS)
			die("warm-up: %llu probes sent, %u due",
			    (unsigned long long)(emitted() - s0), NSESSIONS);
	}

	for (uint32_t k = 1; k <= 1024; k *= 2) {
		for (int r = 0; r < rounds; r++) {
			uint64_t T = tick_ahead(10 * 1000000ULL), s0;
			double d;

			make_due(take(k), k, T);
			sleep_until_ns(T + MARGIN_NS);
			s0 = emitted();
			d = passes(1);
			if (emitted() - s0 != k)
				die("K=%u: the pass sent %llu probes", k,
				    (unsigned long long)(emitted() - s0));
			v[r] = d / k;
		}
		stats_of(v, rounds, &st);
		progress("K=%4u due: %s per probe", k, stats_str(&st, "ns"));
		snprintf(key, sizeof(key), "forge.ns_per_probe_k.k%u", k);
		result_stats(key, &st);
		if (k == 1024)
			result_stats("forge.ns_per_probe", &st);
	}

	/* Everything due at one tick, then passes back to back: one core's maximum. */
	for (int r = 0; r < rounds; r++) {
		uint64_t T = tick_ahead(200 * 1000000ULL), s0;
		int n = NSESSIONS / TKO_PASS_SESSIONS;
		double d;

		make_due(0, NSESSIONS, T);
		sleep_until_ns(T + MARGIN_NS);
		s0 = emitted();
		d = passes(n);
		if (emitted() - s0 != NSESSIONS)
			die("%d passes sent %llu of %u due probes", n,
			    (unsigned long long)(emitted() - s0), NSESSIONS);
		v[r] = (double)NSESSIONS * NSEC_PER_SEC / d;
	}
	stats_of(v, rounds, &st);
	progress("maximum on one core: %s (%u per pass)", stats_str(&st, "probes/s"),
		 TKO_PASS_SESSIONS);
	result_stats("forge.max_probes_per_s", &st);

	/* Idle: one tick with nothing (a pass that finds no work), and a whole hold. */
	for (int r = 0; r < rounds; r++) {
		passes(1);
		sleep_until_ns(tick_ahead(0) + MARGIN_NS);
		v[r] = passes(1);
	}
	stats_of(v, rounds, &st);
	progress("pass one tick after the last, nothing due: %s", stats_str(&st, "ns"));
	result_stats("forge.idle_tick_pass_ns", &st);
	for (int r = 0; r < idle_rounds; r++) {
		passes(1);
		sleep_ns(TKO_CARRIER_HOLD_MAX_MS * 1000000ULL);
		v[r] = passes(1);
	}
	stats_of(v, idle_rounds, &st);
	progress("pass after a whole hold (%d ms), nothing due: %s", TKO_CARRIER_HOLD_MAX_MS,
		 stats_str(&st, "ns"));
	result_stats("forge.idle_pass_ns", &st);
	if (inproc_stat(&P, TKO_ST_EMIT_ERRORS))
		die("%llu probes refused by the device",
		    (unsigned long long)inproc_stat(&P, TKO_ST_EMIT_ERRORS));
	free(ent);
	inproc_destroy(&P);
	return 0;
}
