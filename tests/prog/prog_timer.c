// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of the session timer (session_timer() in bpf/ctl.bpf.c),
 * with short times and no carrier: the probes it queues are read off the
 * `due` queue, the peer's answers are played through the XDP program and the
 * endpoint's data through TC egress. Each scenario runs its own session live
 * and reads the kernel's own timestamps (probe_ns, event ts_ns), so the
 * schedule is checked to the nanosecond on the early side ("never before")
 * and within SLACK_NS on the late side; every wait is a poll with a deadline.
 *
 * prog_ctl.c covers start/stop, LEARNING -> ACTIVE and PEER_DEAD with one
 * retry; prog_xdp.c a suspension by the peer's data and its resumption.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "harness.h"

#define SLACK_NS	(500 * 1000 * 1000ULL)	/* a timer may fire this late */
#define POLL_NS		(5 * 1000 * 1000)

enum {
	PORT_ANSWERED = 44000,	/* answered once, then retries until PEER_DEAD */
	PORT_RESET,		/* interval < retry interval, --on-dead reset */
	PORT_RESUME,		/* suspended by the endpoint, resumed */
	PORT_FULL0,		/* two sessions of a private table of two */
};

/* Every key popped off the due queue, in order: nothing else pops it. */
static struct tko_key due_log[1024];
static size_t ndue;

static void due_collect(void)
{
	struct tko_key k;

	while (!bpf_map_lookup_and_delete_elem(bpf_map__fd(H.b.ctl->maps.due), NULL, &k)) {
		if (ndue < sizeof(due_log) / sizeof(due_log[0]))
			due_log[ndue] = k;
		ndue++;
	}
}

/* Keys of k queued so far. */
static size_t due_count(const struct tko_key *k)
{
	size_t i, n = 0;

	due_collect();
	assert_true(ndue <= sizeof(due_log) / sizeof(due_log[0]));
	for (i = 0; i < ndue; i++)
		n += key_eq(&due_log[i], k);
	return n;
}

/* Poll until cond holds; fail after deadline_s seconds. */
#define POLL_UNTIL(cond, deadline_s, what) do {					\
	uint64_t dl_ = now_ns() + (uint64_t)(deadline_s) * NSEC_PER_SEC;	\
	struct timespec t_ = { 0, POLL_NS };					\
										\
	while (!(cond)) {							\
		if (now_ns() > dl_)						\
			fail_msg("%s: not within %d s", (what), (int)(deadline_s)); \
		nanosleep(&t_, NULL);						\
	}									\
} while (0)

/* to - from is want_s seconds: never less, at most SLACK_NS more. */
static void check_gap(uint64_t from, uint64_t to, uint64_t want_s, const char *what)
{
	uint64_t want = want_s * NSEC_PER_SEC;

	if (to < from + want || to > from + want + SLACK_NS)
		fail_msg("%s: %.3f s, want %llu s (late by %.1f s at most)", what,
			 ((double)to - (double)from) / 1e9, (unsigned long long)want_s,
			 SLACK_NS / 1e9);
}

static struct tko_ctl_args timer_args(unsigned prof, uint16_t port, uint32_t interval,
				      uint32_t retry, uint32_t retries, uint8_t flags)
{
	struct tko_ctl_args a = sess_args(prof, port);	/* idle 1 s, state given */

	a.cfg.interval_s = interval;
	a.cfg.retry_interval_s = retry;
	a.cfg.retries = retries;
	a.cfg.flags |= flags;
	return a;
}

/*
 * Wait for the n-th probe of k: its key on the queue and the session
 * stamped with it (the timer pushes the key, then counts the probe).
 */
static struct tko_session wait_probe(const struct tko_key *k, size_t n, uint64_t prev_probe_ns,
				     const char *what)
{
	struct tko_session s = {};

	POLL_UNTIL(due_count(k) >= n && h_lookup(k, &s) && s.probe_ns != prev_probe_ns, 5, what);
	CHECK_EQ(due_count(k), n, "keys queued");
	CHECK_EQ(s.state, TKO_ACTIVE, "state with a probe queued");
	return s;
}

/* The events of k since ev0: their types, in order, must be types[0..n). */
static void check_event_types(const struct tko_key *k, size_t ev0, const __u8 *types, size_t n,
			      struct tko_event *evs)
{
	size_t i, got;

	h_drain();
	got = h_events_of(k, ev0, evs, 8);
	CHECK_EQ(got, n, "events of the session");
	for (i = 0; i < n; i++) {
		CHECK_EQ(evs[i].type, types[i], "event type");
		check_event_logged(&evs[i]);
	}
}

/* The peer's answer to tko's probe: bare ACK, seq = RCV.NXT, ack = SND.NXT. */
static void peer_answers(unsigned prof, uint16_t port)
{
	struct tko_tcp_state t = sess_tcp(prof);
	struct seg_spec p = from_peer(prof, port);
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;

	p.seq = t.rcv_nxt;
	p.ack = t.snd_nxt;
	frame_build(&f, &p);
	CHECK_EQ(h_run_xdp(f.b, f.len, out, &out_len), XDP_DROP, "verdict of the peer's answer");
}

/*
 * The whole schedule of one session (RFC 1122 4.2.3.6): the first probe as
 * it becomes ACTIVE; answered, the next one `interval` after it; then,
 * unanswered, one after min(retry, interval) and one every retry interval;
 * `retries` unanswered in a row: PEER_DEAD, the session removed (no
 * --on-dead reset: no key for a RST).
 */
static void test_answered_then_retries(void **state)
{
	enum { INTERVAL = 2, RETRY = 1, RETRIES = 3 };
	struct tko_ctl_args a = timer_args(P_TS, PORT_ANSWERED, INTERVAL, RETRY, RETRIES, 0);
	static const __u8 types[] = { TKO_EV_STARTED, TKO_EV_OFFLOADED, TKO_EV_PEER_DEAD };
	uint64_t answered0 = h_stat(TKO_ST_PROBES_ANSWERED), dead0 = h_stat(TKO_ST_PEER_DEAD);
	struct tko_tcp_state tcp = a.tcp;
	struct tko_session s;
	struct tko_event evs[8];
	size_t ev0 = h_drain();
	uint64_t started, probe[RETRIES + 2];
	int i;

	CHECK_EQ(h_start_fixture(H.b.ctl->progs.tko_start, &a), 0, "tko_start");
	assert_true(h_lookup(&a.key, &s));
	started = s.started_ns;

	/* LEARNING -> ACTIVE after idle_s, and the first probe queued at once */
	s = wait_probe(&a.key, 1, 0, "first probe");
	probe[1] = s.probe_ns;
	CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered with the first probe");
	check_gap(started, probe[1], 1, "idle before the first probe");
	check_event_types(&a.key, ev0, types, 2, evs);
	CHECK_EQ(evs[1].state, TKO_ACTIVE, "state in offloaded");
	if (evs[1].ts_ns < probe[1] || evs[1].ts_ns > probe[1] + SLACK_NS)
		fail_msg("offloaded and the first probe are not one step");

	/* answered before the timer looks again (min(retry, interval) = 1 s) */
	peer_answers(P_TS, PORT_ANSWERED);
	if (now_ns() >= probe[1] + NSEC_PER_SEC)
		fail_msg("the answer came after the answer wait: too slow to judge");
	assert_true(h_lookup(&a.key, &s));
	CHECK_EQ(s.cnt.unanswered, 0, "cnt.unanswered after the answer");
	CHECK_EQ(s.cnt.probes_answered, 1, "cnt.probes_answered");
	CHECK_EQ(h_stat(TKO_ST_PROBES_ANSWERED) - answered0, 1, "stats probes_answered");
	tcp.ts_ecr = PEER_TSVAL;	/* the answer's TSval */

	/* the next probe: interval after the previous, not after the answer wait */
	s = wait_probe(&a.key, 2, probe[1], "probe after an answer");
	probe[2] = s.probe_ns;
	CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered");
	check_gap(probe[1], probe[2], INTERVAL, "answered probe to the next");

	/* unanswered: a retry after min(retry, interval), then every retry interval */
	for (i = 3; i <= RETRIES + 1; i++) {
		char what[64];

		snprintf(what, sizeof(what), "retry %d", i - 2);
		s = wait_probe(&a.key, (size_t)i, probe[i - 1], what);
		probe[i] = s.probe_ns;
		CHECK_EQ(s.cnt.unanswered, i - 1, "cnt.unanswered");
		check_gap(probe[i - 1], probe[i], RETRY, what);
	}

	/* `retries` unanswered probes: dead one retry interval after the last */
	POLL_UNTIL(!h_lookup(&a.key, &s), 5, "the dead session removed");
	check_event_types(&a.key, ev0, types, 3, evs);
	CHECK_EQ(evs[2].reason, TKO_R_RETRIES, "reason of peer_dead");
	CHECK_EQ(evs[2].state, TKO_PEER_DEAD, "state in peer_dead");
	CHECK_EQ(evs[2].cnt.unanswered, RETRIES, "cnt.unanswered in peer_dead");
	CHECK_EQ(evs[2].cnt.probes_answered, 1, "cnt.probes_answered in peer_dead");
	CHECK_EQ(evs[2].cnt.probes_sent, 0, "cnt.probes_sent in peer_dead (no carrier)");
	CHECK_EQ(evs[2].next_probe_ms, 0, "next_probe_ms in peer_dead");
	check_tcp_state(&evs[2].tcp, &tcp);
	check_gap(probe[RETRIES + 1], evs[2].ts_ns, RETRY, "last probe to peer_dead");
	CHECK_EQ(h_stat(TKO_ST_PEER_DEAD) - dead0, 1, "stats peer_dead");
	CHECK_EQ(due_count(&a.key), RETRIES + 1, "keys queued (no RST key without reset)");
}

/*
 * interval < retry interval: the first unanswered probe is judged after
 * the interval, the next ones every retry interval. With --on-dead reset
 * the dead session stays, PEER_DEAD with no deadline, and its key is queued
 * once more: the carrier sends the RST from it.
 */
static void test_retries_then_reset(void **state)
{
	enum { INTERVAL = 1, RETRY = 2, RETRIES = 2 };
	struct tko_ctl_args a = timer_args(P_V6, PORT_RESET, INTERVAL, RETRY, RETRIES,
					   TKO_F_ON_DEAD_RESET);
	static const __u8 types[] = { TKO_EV_STARTED, TKO_EV_OFFLOADED, TKO_EV_PEER_DEAD };
	struct tko_session s;
	struct tko_event evs[8];
	size_t ev0 = h_drain();
	uint64_t probe1, probe2;

	CHECK_EQ(h_start_fixture(H.b.ctl->progs.tko_start, &a), 0, "tko_start");
	s = wait_probe(&a.key, 1, 0, "first probe");
	probe1 = s.probe_ns;
	s = wait_probe(&a.key, 2, probe1, "first retry");
	probe2 = s.probe_ns;
	CHECK_EQ(s.cnt.unanswered, 2, "cnt.unanswered");
	check_gap(probe1, probe2, INTERVAL, "answer wait (the interval, shorter)");

	POLL_UNTIL(h_lookup(&a.key, &s) && s.state == TKO_PEER_DEAD, 5, "PEER_DEAD");
	check_event_types(&a.key, ev0, types, 3, evs);
	CHECK_EQ(evs[2].reason, TKO_R_RETRIES, "reason of peer_dead");
	CHECK_EQ(evs[2].cnt.unanswered, RETRIES, "cnt.unanswered in peer_dead");
	check_gap(probe2, evs[2].ts_ns, RETRY, "last probe to peer_dead");
	CHECK_EQ(due_count(&a.key), RETRIES + 1, "keys queued (the probes and the RST)");
	assert_true(h_lookup(&a.key, &s));
	CHECK_EQ(s.state, TKO_PEER_DEAD, "state");
	CHECK_EQ(s.next_ns, 0, "next_ns of a dead session");
	CHECK_EQ(s.probe_ns, probe2, "probe_ns (no probe after the last retry)");
	CHECK_EQ(h_stop(&a.key), 0, "stop");
}

/*
 * The endpoint's data suspends an ACTIVE session with a probe outstanding;
 * one idle period after the data it is ACTIVE again ("resumed"), with a
 * fresh count: the probe queued then is the only one unanswered.
 */
static void test_suspend_resume_requeues(void **state)
{
	struct tko_ctl_args a = timer_args(P_V4, PORT_RESUME, 3600, 3600, 5, 0);
	static const __u8 types[] = { TKO_EV_STARTED, TKO_EV_OFFLOADED, TKO_EV_SUSPENDED,
				      TKO_EV_RESUMED };
	struct seg_spec d = from_endpoint(P_V4, PORT_RESUME);
	struct tko_tcp_state tcp = a.tcp;
	struct tko_session s;
	struct tko_event evs[8];
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len, ev0 = h_drain();
	uint64_t data_ns;

	CHECK_EQ(h_start_fixture(H.b.ctl->progs.tko_start, &a), 0, "tko_start");
	s = wait_probe(&a.key, 1, 0, "first probe");
	CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered");

	d.flags = F_ACK | F_PSH;
	d.payload = 10;
	frame_build(&f, &d);
	CHECK_EQ(h_run_tc(f.b, f.len, 0, out, &out_len), 0, "verdict of the endpoint's data");
	assert_true(h_lookup(&a.key, &s));
	CHECK_EQ(s.state, TKO_SUSPENDED, "state after the endpoint's data");
	data_ns = s.last_seen_ns;
	tcp.snd_nxt += 10;

	POLL_UNTIL(h_lookup(&a.key, &s) && s.state == TKO_ACTIVE && due_count(&a.key) >= 2, 5,
		   "resumed with a probe");
	CHECK_EQ(due_count(&a.key), 2, "keys queued");
	CHECK_EQ(s.prev_state, TKO_SUSPENDED, "prev_state");
	CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered after resuming (counted afresh)");
	check_gap(data_ns, s.probe_ns, 1, "the data to the probe after resuming");
	check_event_types(&a.key, ev0, types, 4, evs);
	CHECK_EQ(evs[2].reason, TKO_R_DATA_LOCAL, "reason of suspended");
	CHECK_EQ(evs[3].reason, TKO_R_IDLE, "reason of resumed");
	CHECK_EQ(evs[3].state, TKO_ACTIVE, "state in resumed");
	check_tcp_state(&evs[3].tcp, &tcp);
	CHECK_EQ(h_stop(&a.key), 0, "stop");
}

/*
 * A private table of two sessions (and so a due queue of two), armed in
 * the group setup: both probe at once, the queue is then full, and every
 * later probe is a QUEUE_FULL that still counts as unanswered, up to
 * PEER_DEAD.
 */
static struct tko_bpf full;
static bool full_loaded;

static struct tko_ctl_args full_args(int i)
{
	return timer_args(P_V4, (uint16_t)(PORT_FULL0 + i), 1, 1, 3, 0);
}

static uint64_t full_stat(__u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu > 0 ? ncpu : 1];
	uint64_t sum = 0;
	int i;

	if (ncpu <= 0 || bpf_map_lookup_elem(bpf_map__fd(full.ctl->maps.stats), &idx, vals))
		fail_msg("cannot read stats[%u]", idx);
	for (i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

static void test_queue_full(void **state)
{
	int sfd, lfd, qfd, i, dead = 0;
	struct tko_session s;
	struct tko_key k;
	__u64 last = 0;
	__u32 zero = 0;
	size_t queued = 0;

	assert_true(full_loaded);
	sfd = bpf_map__fd(full.ctl->maps.sessions);
	lfd = bpf_map__fd(full.ctl->maps.event_log);
	qfd = bpf_map__fd(full.ctl->maps.due);
	for (i = 0; i < 2; i++) {
		struct tko_ctl_args a = full_args(i);

		POLL_UNTIL(bpf_map_lookup_elem(sfd, &a.key, &s), 6, "the session removed");
	}
	CHECK_EQ(full_stat(TKO_ST_PROBES_QUEUED), 2, "stats probes_queued");
	CHECK_EQ(full_stat(TKO_ST_QUEUE_FULL), 4, "stats queue_full");
	CHECK_EQ(full_stat(TKO_ST_PEER_DEAD), 2, "stats peer_dead");
	while (!bpf_map_lookup_and_delete_elem(qfd, NULL, &k))
		queued++;
	CHECK_EQ(queued, 2, "keys in the queue");

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(full.ctl->maps.event_seq), &zero,
					     &last), 0);
	for (__u64 seq = 1; seq <= last; seq++) {
		__u32 slot = (__u32)(seq & (TKO_EVENT_LOG_LEN - 1));
		struct tko_event e;

		assert_int_equal(bpf_map_lookup_elem(lfd, &slot, &e), 0);
		if (e.type != TKO_EV_PEER_DEAD)
			continue;
		CHECK_EQ(e.cnt.unanswered, 3, "cnt.unanswered in peer_dead");
		dead++;
	}
	CHECK_EQ(dead, 2, "peer_dead events");
}

static int group_setup(void **state)
{
	int i, ret;

	if (h_load(64))
		return -1;
	/* the private table runs its course while the other tests do */
	if (tko_bpf_load(&full, 2)) {
		h_destroy();
		return -1;
	}
	full_loaded = true;
	for (i = 0; i < 2; i++) {
		struct tko_ctl_args a = full_args(i);

		ret = h_start_fixture(full.ctl->progs.tko_start, &a);
		if (ret) {
			fprintf(stderr, "cannot start session %d of the small table: %d\n", i, ret);
			tko_bpf_destroy(&full);
			h_destroy();
			return -1;
		}
	}
	return 0;
}

static int group_teardown(void **state)
{
	if (full_loaded)
		tko_bpf_destroy(&full);
	full_loaded = false;
	h_destroy();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answered_then_retries),
		cmocka_unit_test(test_retries_then_reset),
		cmocka_unit_test(test_suspend_resume_requeues),
		cmocka_unit_test(test_queue_full),
	};

	return cmocka_run_group_tests_name("prog_timer", tests, group_setup, group_teardown);
}
