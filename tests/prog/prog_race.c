// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of two CPUs at once: two BPF programs run with BPF_PROG_RUN
 * from two threads, each pinned to its own CPU (BPF_PROG_RUN runs a program
 * on the calling CPU), so that the steps of one program interleave with
 * those of the other as they do on a gateway whose queues are served by
 * several CPUs. What a single-threaded test cannot see: the order of two
 * steps of one program, when another CPU may run between them. Each round
 * ends with an invariant checked; the number of rounds that broke it is
 * printed and must be zero.
 *
 *  - flow_end_not_revived: a forwarded flow ends (the device's FIN) while
 *    the device's ACKs of the same flow go out on the other CPU: no ACK may
 *    make it a session again (a segment that finds no session must find the
 *    flow closed: bpf/lib/session.h, session_take()).
 *  - count_never_below_zero: the server's RST ends a forwarded flow's
 *    session on the other CPU as soon as it is published: the policy's
 *    session count must never go below zero, not even for a moment
 *    (bpf/lib/policy.h, policy_session_publish()).
 *
 * Each scenario runs twice: with the natural timing (a window of a few
 * hundred nanoseconds at most, hit rarely if ever), then with the window
 * widened. Some runs use test builds of the datapath's own sources
 * (tests/prog/race_hooks.h: every call of session_unindex() and
 * session_publish() goes through a wrapper) that note when a session was
 * taken out, check the count there, and in the widened runs hold A's CPU
 * for a while right after the first of the two steps, as an interrupt
 * taken there would: an ordering mistake then shows in every round, a
 * right order in none. (This kernel has neither kprobes, BPF trampolines
 * nor kernel breakpoints to do it from outside the programs.) The count is
 * checked by B's program itself at the moment it has taken a session out
 * of the index, just before it takes the count back: a count below zero
 * for a few nanoseconds is too short for any reader in userspace, and a
 * third thread has no CPU of its own to read from while A and B run. B
 * also reads the count after each of its runs.
 *
 * Environment: RACE_ROUNDS (rounds of each natural run, default 20000),
 * RACE_WIDENED_ROUNDS (default 2000), RACE_BUDGET_MS (time budget of each
 * run, default 1500), RACE_WIDEN_US (the delay, default 20), RACE_STRICT=0
 * (see flow_end_not_revived), RACE_VERBOSE (libbpf's messages).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "log.h"
#include "tko_dp.h"
#include "policies.h"
#include "flows.h"	/* the device's and the server's segments, as prog_policy's */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tests/tc_egress_race.skel.h"
#include "tests/xdp_ingress_race.skel.h"
#pragma GCC diagnostic pop

#define WRAPPED		(1ULL << 63)	/* a __u64 count above this went below zero */

/* The two CPUs (the first two this process may use); A is the test's thread. */
static int cpu_a = -1, cpu_b = -1;
static cpu_set_t saved_cpus;
static struct tko_tc_egress_race *RT;	/* the test builds (race_hooks.h) */
static struct tko_xdp_ingress_race *RX;

static unsigned long env_ul(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : dflt;
}

/* ---------------------------------------------------------------- frames */

static int run_frame(struct bpf_program *prog, const struct frame *f)
{
	uint8_t out[FRAME_MAX];
	struct __sk_buff ctx = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = (__u32)f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_program__type(prog) != BPF_PROG_TYPE_XDP) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	return bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
}

/* A's runs: the test's thread, where cmocka may fail. */
static void run_a(struct bpf_program *prog, const struct frame *f, const char *what)
{
	int err = run_frame(prog, f);

	if (err)
		fail_msg("BPF_PROG_RUN of %s: %s", what, strerror(-err));
}

/* ---------------------------------------------------------------- policy */

/* Slot 0: every forwarded flow (as `tko policy add --forwarded --idle 1`). */
static void set_policy_all(void)
{
	struct tko_policy p = { .id = 1 };
	int fd = bpf_map__fd(H.b.ctl->maps.policies);
	__u32 slot = 0;

	tko_dp_config_default(&p.cfg);
	p.cfg.idle_s = 1;
	p.cfg.interval_s = 2;
	p.cfg.flags = TKO_F_FORWARDED;
	assert_int_equal(bpf_map_update_elem(fd, &slot, &p, BPF_ANY), 0);
	assert_int_equal(policy_prefixes_sync(fd, bpf_map__fd(H.b.ctl->maps.policy_prefixes)), 0);
}

static __u64 policy_sessions(void)
{
	struct tko_policy_stats st = {};
	__u32 slot = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.policy_stats), &slot, &st))
		fail_msg("cannot read policy_stats[0]: %s", strerror(errno));
	return st.sessions;
}

/* ------------------------------------------------- the other CPU (B) */

/*
 * Thread B: runs prog on its frame, again and again, until told to stop.
 * started counts the runs begun, done those returned: once A has read
 * started = n, waiting for done >= n waits for the run B may have had in
 * flight. With observe, B reads the policy's count after each run (the
 * reader nearest to its own decrement: a third thread would have no CPU
 * of its own to run on while A and B run).
 */
struct other {
	pthread_t thread;
	struct bpf_program *prog;
	struct frame f;
	bool observe;
	atomic_bool stop;
	atomic_bool running;
	atomic_uint_fast64_t started, done;
	atomic_int err;			/* the first error, -errno */
	atomic_uint_fast64_t wrapped;	/* counts read above 2^63 */
	atomic_uint_fast64_t wrapped_value;
};

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static void *other_main(void *arg)
{
	struct other *o = arg;
	int stats_fd = bpf_map__fd(H.b.ctl->maps.policy_stats);
	int err = pin_to(cpu_b);

	if (err || sched_getcpu() != cpu_b) {
		atomic_store(&o->err, err ? err : -EINVAL);
		atomic_store(&o->running, false);
		return NULL;
	}
	while (!atomic_load(&o->stop)) {
		atomic_fetch_add(&o->started, 1);
		err = run_frame(o->prog, &o->f);
		atomic_fetch_add(&o->done, 1);
		if (err) {
			atomic_store(&o->err, err);
			break;
		}
		if (o->observe) {
			struct tko_policy_stats st;
			__u32 slot = 0;

			if (!bpf_map_lookup_elem(stats_fd, &slot, &st) && st.sessions > WRAPPED) {
				atomic_fetch_add(&o->wrapped, 1);
				atomic_store(&o->wrapped_value, st.sessions);
			}
		}
	}
	atomic_store(&o->running, false);
	return NULL;
}

static void other_start(struct other *o)
{
	atomic_store(&o->running, true);
	if (pthread_create(&o->thread, NULL, other_main, o))
		fail_msg("cannot start thread B");
	/* B is up and on its CPU once its first run returned */
	while (atomic_load(&o->done) == 0 && atomic_load(&o->running))
		;
	if (!atomic_load(&o->running))
		fail_msg("thread B on CPU %d: %s", cpu_b, strerror(-atomic_load(&o->err)));
}

static void other_stop(struct other *o)
{
	atomic_store(&o->stop, true);
	pthread_join(o->thread, NULL);
	if (atomic_load(&o->err))
		fail_msg("thread B: BPF_PROG_RUN: %s", strerror(-atomic_load(&o->err)));
}

/* Wait until B has returned from n runs (B spins; a second at most). */
static void other_wait(struct other *o, uint64_t n)
{
	uint64_t deadline = 0;
	unsigned spins = 0;

	while (atomic_load(&o->done) < n) {
		if (!atomic_load(&o->running))
			fail_msg("thread B stopped: %s", strerror(-atomic_load(&o->err)));
		if (++spins % 4096 == 0) {
			if (!deadline)
				deadline = now_ns() + NSEC_PER_SEC;
			else if (now_ns() > deadline)
				fail_msg("thread B made no run for a second");
		}
	}
}

/* --------------------------------------------------------------- rounds */

struct phase {
	const char *name;
	__u64 widen_ns;		/* A's delay (race_hooks.h), 0: natural */
	unsigned long max_rounds;
};

static void phases(struct phase ph[2])
{
	ph[0] = (struct phase){ "natural", 0, env_ul("RACE_ROUNDS", 20000) };
	ph[1] = (struct phase){ "widened", env_ul("RACE_WIDEN_US", 20) * 1000,
				env_ul("RACE_WIDENED_ROUNDS", 2000) };
}

static uint64_t budget_ns(void)
{
	return env_ul("RACE_BUDGET_MS", 1500) * 1000000ULL;
}

/* Progress of a long run, once a second. */
static void progress(const char *test, const struct phase *p, unsigned long r,
		     unsigned long fails, uint64_t *next)
{
	if (now_ns() < *next)
		return;
	fprintf(stderr, "%s %s: %lu rounds, %lu failed\n", test, p->name, r, fails);
	*next = now_ns() + NSEC_PER_SEC;
}

/* Events of this type and reason so far (ev_stats, summed over CPUs). */
static __u64 ev_count(__u8 type, __u8 reason)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 idx = type * TKO_REASONS_MAX + reason;
	__u64 vals[256] = {}, sum = 0;

	if (ncpu <= 0 || ncpu > 256 ||
	    bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.ev_stats), &idx, vals))
		fail_msg("cannot read ev_stats: %s", strerror(errno));
	for (int c = 0; c < ncpu; c++)
		sum += vals[c];
	return sum;
}

/*
 * 1. A forwarded flow ends and its own last segments must not revive it.
 * A (this thread): the device's SYN, its ACK (a session, A's or B's), its
 * FIN (the session ends: invalidated fin_local). B: the device's ACK of the
 * same flow, through TC egress, all the time. Once A's FIN and B's run in
 * flight have returned, a run of B that began after the FIN took the
 * session out of the index has found the flow closed: the flow has no
 * session of such a run. The next round's SYN opens the flow again.
 *
 * A runs the test build of TC egress, which notes when the FIN took the
 * session out (race_take_ns); a session's started_ns is when the run that
 * made it began (both bpf_ktime_get_ns()). The window: the session out of
 * the index, the flow not yet marked closed. Widened: A's CPU holds on
 * right after session_unindex().
 *
 * A session made by a run of B that began before the FIN took the session
 * out, and published after it (it found neither a session nor the flow
 * closed while the handshake went on), is another race: flow_track() looks
 * at flows_closed again once it has published, and withdraws it. Such a
 * creation in flight is counted and printed apart, and fails the test too
 * (RACE_STRICT=0: only printed).
 */
static void flow_end_not_revived(void **state)
{
	struct seg_spec syn = dev_seg(false, 42000, F_SYN, SEQ0 - 1, 0, 0);
	struct seg_spec ack = dev_seg(false, 42000, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec fin = dev_seg(false, 42000, F_FIN | F_ACK, SEQ0, ACK0, 0);
	struct tko_key k = seg_key(&ack);
	struct bpf_program *tc = RT->progs.tko_tc_egress;
	struct frame fsyn, fack, ffin;
	static struct other b;
	struct phase ph[2];
	unsigned long fails[2] = {}, inflight[2] = {}, rounds[2] = {}, spins[2] = {};
	unsigned long taken[2] = {};
	uint64_t inval0, ended, closed0;

	(void)state;
	frame_build(&fsyn, &syn);
	frame_build(&fack, &ack);
	frame_build(&ffin, &fin);
	set_policy_all();
	phases(ph);
	memset(&b, 0, sizeof(b));
	b.prog = H.b.tc->progs.tko_tc_egress;
	b.f = fack;
	run_a(tc, &ffin, "the device's FIN");	/* closed: B's ACKs make nothing yet */
	inval0 = h_stat(TKO_ST_INVALIDATED);
	closed0 = ev_count(TKO_EV_INVALIDATED, TKO_R_CLOSED);
	other_start(&b);
	for (int i = 0; i < 2; i++) {
		uint64_t end = now_ns() + budget_ns(), next = now_ns() + NSEC_PER_SEC;
		__u64 spins0 = RT->bss->race_spins;
		unsigned long r;

		RT->bss->race_spin_unindex_ns = ph[i].widen_ns;
		for (r = 0; r < ph[i].max_rounds && now_ns() < end; r++) {
			struct tko_session x;
			uint64_t t_fin;
			__u64 take;

			run_a(tc, &fsyn, "the device's SYN");
			run_a(tc, &fack, "the device's ACK");
			t_fin = now_ns();
			run_a(tc, &ffin, "the device's FIN");
			take = RT->bss->race_take_ns;
			if (take < t_fin)
				take = 0;	/* the FIN found no session to end */
			else
				taken[i]++;
			other_wait(&b, atomic_load(&b.started));
			if (h_lookup(&k, &x)) {
				if (take && x.started_ns > take)
					fails[i]++;
				else
					inflight[i]++;
				if (getenv("RACE_VERBOSE"))
					fprintf(stderr, "left: state %u have 0x%x started %llu fin %llu "
						"take %llu (now %llu) policy %u\n", x.state, x.have,
						(unsigned long long)x.started_ns,
						(unsigned long long)t_fin, (unsigned long long)take,
						(unsigned long long)now_ns(), x.policy);
				CHECK_EQ(h_stop(&k), 0, "tko stop of the revived session");
			}
			if (r % 64 == 63)
				h_pass();	/* the clock frees the ended entries */
			progress("flow_end_not_revived", &ph[i], r, fails[i], &next);
		}
		RT->bss->race_spin_unindex_ns = 0;
		rounds[i] = r;
		spins[i] = (unsigned long)(RT->bss->race_spins - spins0);
	}
	other_stop(&b);
	ended = h_stat(TKO_ST_INVALIDATED) - inval0;
	for (int i = 0; i < 2; i++)
		fprintf(stderr, "flow_end_not_revived %s: %lu rounds (%lu widened), %lu revived "
			"after the FIN, %lu made by a creation in flight\n", ph[i].name,
			rounds[i], spins[i], fails[i], inflight[i]);
	if (fails[0] || fails[1])
		fail_msg("the flow's own ACKs made it a session again after its FIN: "
			 "%lu of %lu rounds (natural), %lu of %lu (widened)",
			 fails[0], rounds[0], fails[1], rounds[1]);
	if ((!getenv("RACE_STRICT") || strcmp(getenv("RACE_STRICT"), "0")) &&
	    (inflight[0] || inflight[1]))
		fail_msg("a creation in flight made the flow a session after its FIN: "
			 "%lu and %lu rounds", inflight[0], inflight[1]);
	/* A FIN may find no session where a creation in flight was not yet
	 * visible: that creation, once published, sees the flow closed and
	 * ends its session itself ("closed"), or the FIN's second look ends it;
	 * no round leaves a session (checked above). */
	fprintf(stderr, "flow_end_not_revived: %lu sessions ended (%lu by their creator, the "
		"flow closed meanwhile), %lu rounds' FIN took one out (%lu natural, %lu widened)\n",
		(unsigned long)ended, (unsigned long)(ev_count(TKO_EV_INVALIDATED, TKO_R_CLOSED) -
						       closed0),
		taken[0] + taken[1], taken[0], taken[1]);
	if (!taken[1])
		fail_msg("the widened rounds never held on after taking a session out");
	CHECK_EQ(policy_sessions(), 0, "policy sessions at the end");
}

/*
 * 2. The policy's session count never goes below zero. A (this thread): the
 * device's SYN and ACK (the flow's session). B: the server's RST in
 * sequence (at the device's RCV.NXT), through XDP ingress, all the time: it
 * ends the session as soon as it is published. Checked: by B's program, at
 * the moment it has taken the session out and before it takes the count
 * back (the count holds the session); by B after each of its runs (no
 * count above 2^63); after each round, the session gone and the count back
 * at zero. B runs the test build of XDP ingress (for the check).
 *
 * The window: the session published, not yet counted. Widened: A's CPU
 * holds on right after session_publish() made the session visible (A runs
 * the test build of TC egress).
 */
static void count_never_below_zero(void **state)
{
	struct seg_spec syn = dev_seg(false, 42100, F_SYN, SEQ0 - 1, 0, 0);
	struct seg_spec ack = dev_seg(false, 42100, F_ACK, SEQ0, ACK0, 0);
	struct seg_spec rst = srv_seg(&ack, F_RST, ACK0, 0);
	struct tko_key k = seg_key(&ack);
	struct frame fsyn, fack;
	static struct other b;
	struct phase ph[2];
	unsigned long rounds[2] = {}, left[2] = {}, wrong[2] = {}, spins[2] = {};
	unsigned long uncounted[2] = {}, read_wrapped[2] = {}, ends[2] = {}, closed_ends[2] = {};
	__u64 bad_value = 0, at_end = 0, read_value = 0;

	(void)state;
	frame_build(&fsyn, &syn);
	frame_build(&fack, &ack);
	set_policy_all();
	phases(ph);
	memset(&b, 0, sizeof(b));
	b.prog = RX->progs.tko_xdp_ingress;
	frame_build(&b.f, &rst);
	b.observe = true;
	RX->bss->race_check = 1;
	other_start(&b);
	for (int i = 0; i < 2; i++) {
		struct bpf_program *tc = ph[i].widen_ns ? RT->progs.tko_tc_egress :
							  H.b.tc->progs.tko_tc_egress;
		uint64_t end = now_ns() + budget_ns(), next = now_ns() + NSEC_PER_SEC;
		uint64_t read0 = atomic_load(&b.wrapped);
		__u64 spins0 = RT->bss->race_spins, uncounted0 = RX->bss->race_uncounted;
		__u64 ends0 = RX->bss->race_ends, closed0 = ev_count(TKO_EV_INVALIDATED, TKO_R_CLOSED);
		unsigned long r;

		RT->bss->race_spin_publish_ns = ph[i].widen_ns;
		for (r = 0; r < ph[i].max_rounds && now_ns() < end; r++) {
			__u64 n;

			run_a(tc, &fsyn, "the device's SYN");
			run_a(tc, &fack, "the device's ACK");
			/* a whole run of B after the session was published ends it */
			other_wait(&b, atomic_load(&b.started) + 1);
			if (has_session(&ack)) {
				left[i]++;
				CHECK_EQ(h_stop(&k), 0, "tko stop of a session the RST left");
			}
			n = policy_sessions();
			if (n) {
				wrong[i]++;
				bad_value = n;
			}
			if (r % 64 == 63)
				h_pass();	/* the clock frees the ended entries */
			progress("count_never_below_zero", &ph[i], r,
				 (unsigned long)(RX->bss->race_uncounted - uncounted0), &next);
		}
		RT->bss->race_spin_publish_ns = 0;
		rounds[i] = r;
		spins[i] = (unsigned long)(RT->bss->race_spins - spins0);
		uncounted[i] = (unsigned long)(RX->bss->race_uncounted - uncounted0);
		ends[i] = (unsigned long)(RX->bss->race_ends - ends0);
		closed_ends[i] = (unsigned long)(ev_count(TKO_EV_INVALIDATED, TKO_R_CLOSED) - closed0);
		read_wrapped[i] = (unsigned long)(atomic_load(&b.wrapped) - read0);
		if (uncounted[i])
			at_end = RX->bss->race_uncounted_value;
		if (read_wrapped[i])
			read_value = atomic_load(&b.wrapped_value);
	}
	other_stop(&b);
	for (int i = 0; i < 2; i++)
		fprintf(stderr, "count_never_below_zero %s: %lu rounds (%lu widened), %lu ended by "
			"the RST: %lu uncounted, count read below zero %lu times; count not 0 "
			"after the round %lu, session left %lu\n", ph[i].name, rounds[i],
			spins[i], ends[i], uncounted[i], read_wrapped[i], wrong[i], left[i]);
	if (uncounted[0] || uncounted[1] || read_wrapped[0] || read_wrapped[1])
		fail_msg("the policy's count went below zero: a session ended before it was "
			 "counted in %lu of %lu rounds (natural), %lu of %lu (widened), its count "
			 "then %llu; read below zero by B %lu and %lu times (0x%llx)",
			 uncounted[0], rounds[0], uncounted[1], rounds[1],
			 (unsigned long long)at_end, read_wrapped[0], read_wrapped[1],
			 (unsigned long long)read_value);
	if (wrong[0] + wrong[1])
		fail_msg("the count was not 0 at the end of %lu rounds (%llu)",
			 wrong[0] + wrong[1], (unsigned long long)bad_value);
	CHECK_EQ(left[0] + left[1], 0, "rounds whose session the RST did not end");
	/* Each round's session ends once: by the RST, or (the RST's closing
	 * mark seen by the creation right after it published, just before the
	 * RST took the session out) by its creator, as "closed". */
	for (int i = 0; i < 2; i++) {
		if (ends[i] > rounds[i] || ends[i] + closed_ends[i] != rounds[i])
			fail_msg("%s: %lu rounds, %lu sessions ended by the RST, %lu by their "
				 "creator", ph[i].name, rounds[i], ends[i], closed_ends[i]);
	}
	CHECK_EQ(spins[1], rounds[1], "widened rounds: the ACK held on once each");
}

/* ---------------------------------------------------------------- setup */

static int first_two_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	saved_cpus = set;
	for (int c = 0; c < CPU_SETSIZE && cpu_b < 0; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (cpu_a < 0)
			cpu_a = c;
		else
			cpu_b = c;
	}
	return cpu_b < 0 ? -1 : 0;
}

static void race_destroy(void)
{
	tko_tc_egress_race__destroy(RT);
	tko_xdp_ingress_race__destroy(RX);
	RT = NULL;
	RX = NULL;
}

/* The datapath, the test builds of TC egress and XDP on its maps, A on its CPU. */
static int setup(void **state)
{
	(void)state;
	if (h_load(256))
		return -1;
	RT = tko_tc_egress_race__open();
	RX = tko_xdp_ingress_race__open();
	if (!RT || !RX || h_share_maps(RT->obj) || h_share_maps(RX->obj))
		goto fail;
	RX->rodata->ct_kfuncs_absent = H.b.xdp->rodata->ct_kfuncs_absent;	/* as the loader */
	if (tko_tc_egress_race__load(RT) || tko_xdp_ingress_race__load(RX)) {
		fprintf(stderr, "cannot load the test builds (RACE_VERBOSE=1: the verifier log)\n");
		goto fail;
	}
	if (pin_to(cpu_a)) {
		fprintf(stderr, "cannot pin the test to CPU %d: %s\n", cpu_a, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	race_destroy();
	h_destroy();
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	sched_setaffinity(0, sizeof(saved_cpus), &saved_cpus);
	race_destroy();
	h_destroy();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(flow_end_not_revived, setup, teardown),
		cmocka_unit_test_setup_teardown(count_never_below_zero, setup, teardown),
	};

	log_verbose = !!getenv("RACE_VERBOSE");	/* libbpf's messages, the verifier's log */
	if (first_two_cpus()) {
		fprintf(stderr, "prog_race needs two CPUs to run on\n");
		return 1;
	}
	fprintf(stderr, "prog_race: A on CPU %d, B on CPU %d\n", cpu_a, cpu_b);
	return cmocka_run_group_tests_name("prog_race", tests, NULL, NULL);
}
