// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of the clock (bpf/carrier.bpf.c, bpf/lib/wheel.h): carrier
 * passes run with BPF_PROG_RUN (h_pass), sessions created by the real
 * tko_start, the peer's answers played through XDP and the endpoint's data
 * through TC egress. What is checked:
 *  - the schedule of a session (RFC 1122 4.2.3.6): idle, interval, retry
 *    interval, retries, suspend and re-arm, --on-dead reset, the handoff
 *    state in the events, on the kernel's own timestamps;
 *  - the wheel itself: a pass runs only the sessions whose tick came, its
 *    work is bounded (what is left is served by the next pass, late only
 *    when it is), level-1 lists move down in time, suspend/stop/--oneshot
 *    refile or free an entry with every list still consistent (walked from
 *    userspace after every test), the busy lock;
 *  - the hold: the carrier's length after a pass is the time to the start
 *    of the next tick with work, in bytes of the qdisc's budget, one tick
 *    while work is left, TKO_CARRIER_HOLD_MAX_MS at most.
 * Times are the kernel's (probe_ns, event ts_ns, and the pass's own clock,
 * clock.target_ns - clock.hold_ns), bounded by the test's own reads of
 * CLOCK_MONOTONIC around each pass. Every wait is a poll with a deadline.
 *
 * Probes leave for real, out of the loopback device of the test process's
 * own network namespace (unshare(CLONE_NEWNET)), where the stack drops
 * them: a probe counted as sent is one the device took. prog_carrier checks
 * their bytes.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "harness.h"

#define MAX_SESSIONS	20000
#define MS		1000000ULL
#define TICK_NS		(TKO_TICK_MS_DEFAULT * MS)
#define SLACK_NS	(250 * MS)	/* how late a pass may come under load */
#define POLL_NS		(1 * MS)	/* between passes while the tests wait */
#define HDR_LEN		((uint32_t)sizeof(struct tko_carrier_hdr))
#define TC_ACT_REDIRECT	7

static int lo_ifindex;

/* ------------------------------------------------------------- the maps */

static int fd_of(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

#define MAP(name) fd_of(H.b.ctl->maps.name)

static struct tko_session sess_read(__u32 id)
{
	struct tko_session s;

	if (bpf_map_lookup_elem(MAP(sessions), &id, &s))
		fail_msg("cannot read session %u: %s", id, strerror(errno));
	return s;
}

static struct tko_wheel_clock clock_read(void)
{
	struct tko_wheel_clock w;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(MAP(clock), &zero, &w))
		fail_msg("cannot read the clock: %s", strerror(errno));
	return w;
}

static void clock_write(const struct tko_wheel_clock *w)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(MAP(clock), &zero, w, BPF_ANY))
		fail_msg("cannot write the clock: %s", strerror(errno));
}

static struct tko_carrier_state carrier_read(void)
{
	struct tko_carrier_state c;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(MAP(carrier), &zero, &c))
		fail_msg("cannot read the carrier map: %s", strerror(errno));
	return c;
}

static void carrier_write(const struct tko_carrier_state *c)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(MAP(carrier), &zero, c, BPF_ANY))
		fail_msg("cannot write the carrier map: %s", strerror(errno));
}

/* Read n entries of an array map (ids 0..n-1) into vals. */
static void array_read(int fd, __u32 n, void *vals, size_t vsz)
{
	enum { CHUNK = 4096 };
	static __u32 keys[CHUNK];
	__u32 batch = 0, got, done = 0;
	void *in = NULL;
	int err;

	while (done < n) {
		got = n - done < CHUNK ? n - done : CHUNK;
		err = bpf_map_lookup_batch(fd, in, &batch, keys, (char *)vals + (size_t)done * vsz,
					   &got, NULL);
		if (err && err != -ENOENT)
			fail_msg("cannot read an array map: %s", strerror(-err));
		for (__u32 i = 0; i < got; i++)
			if (keys[i] != done + i)
				fail_msg("array batch out of order: key %u at %u", keys[i], done + i);
		done += got;
		if (err)
			break;
		in = &batch;
	}
	if (done < n)
		fail_msg("array map read: %u entries of %u", done, n);
}

/* The ids in a queue map, oldest first; the queue is left as it was. */
static size_t queue_read(int fd, __u32 *ids, size_t max)
{
	size_t n = 0, i;
	__u32 id;

	while (!bpf_map_lookup_and_delete_elem(fd, NULL, &id)) {
		if (n >= max)
			fail_msg("a queue holds more than %zu ids", max);
		ids[n++] = id;
	}
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, NULL, &ids[i], BPF_ANY))
			fail_msg("cannot push id %u back: %s", ids[i], strerror(errno));
	return n;
}

/* Read the events pending: those that come after are H.ev[ev_mark()..]. */
static size_t ev_mark(void)
{
	h_drain();
	return H.nev;
}

static void events_discard(void)
{
	ring_buffer__consume(H.rb);
	H.nev = 0;
	H.ev_overflow = false;
}

/* ------------------------------------------------------------- the wheel */

static bool live(__u8 state)
{
	return state == TKO_LEARNING || state == TKO_ACTIVE || state == TKO_SUSPENDED;
}

/*
 * Walk every list of the wheel and every entry handed out so far:
 *  - each list is a chain of entries that name it (clock.list), linked both
 *    ways, its tail the last one, no entry twice;
 *  - a level-0 list holds the sessions of its ticks (due_tick modulo the
 *    ring), none the clock took already, none at or beyond the cascade;
 *    a level-1 list (other than the one moving) holds ticks from the
 *    cascade on, of its span unless beyond level 1's reach;
 *  - no entry claims a list that does not hold it; a free entry is on
 *    none; a live session is on one, or waits in the request queue;
 *  - with free_ids, the free entries are exactly the ids in free_ids.
 * Returns the number of sessions filed.
 */
static size_t check_wheel(bool with_free_ids)
{
	static struct tko_session ss[MAX_SESSIONS];
	static struct tko_wheel_list wl[TKO_WHEEL_LISTS];
	static uint8_t seen[MAX_SESSIONS];
	static __u32 ids[MAX_SESSIONS + 1];
	struct tko_table tb = h_table();
	struct tko_wheel_clock w = clock_read();
	__u32 n = tb.fresh < tb.max_sessions ? tb.fresh : tb.max_sessions, l, e, prev, id;
	size_t filed = 0, cnt, i;

	array_read(MAP(wheel), TKO_WHEEL_LISTS, wl, sizeof(wl[0]));
	if (n)
		array_read(MAP(sessions), n, ss, sizeof(ss[0]));
	memset(seen, 0, n);
	for (l = 0; l < TKO_WHEEL_LISTS; l++) {
		prev = 0;
		cnt = 0;
		for (e = wl[l].head; e; e = ss[id].clock.next) {
			id = e - 1;
			if (id >= n)
				fail_msg("list %u holds id %u, beyond the %u handed out", l, id, n);
			if (seen[id])
				fail_msg("list %u: id %u twice (or on two lists)", l, id);
			seen[id] = 1;
			if (ss[id].clock.list != l + 1)
				fail_msg("id %u on list %u says list %u", id, l, ss[id].clock.list - 1);
			if (ss[id].clock.prev != prev)
				fail_msg("list %u: id %u's prev is %u, want %u", l, id,
					 ss[id].clock.prev, prev);
			if (l < TKO_WHEEL_L0) {
				if (ss[id].clock.due_tick % TKO_WHEEL_L0 != l)
					fail_msg("id %u due at tick %llu on level-0 list %u", id,
						 (unsigned long long)ss[id].clock.due_tick, l);
				if (w.cascade && ss[id].clock.due_tick <= w.tick)
					fail_msg("id %u due at tick %llu, the clock is at %llu", id,
						 (unsigned long long)ss[id].clock.due_tick,
						 (unsigned long long)w.tick);
				if (w.cascade && ss[id].clock.due_tick >= w.cascade)
					fail_msg("id %u due at tick %llu on level 0, cascade %llu", id,
						 (unsigned long long)ss[id].clock.due_tick,
						 (unsigned long long)w.cascade);
			} else if (l + 1 != w.moving) {
				__u64 span = ss[id].clock.due_tick / TKO_WHEEL_SPAN;

				if (ss[id].clock.due_tick < w.cascade)
					fail_msg("id %u due at tick %llu on level 1, cascade %llu", id,
						 (unsigned long long)ss[id].clock.due_tick,
						 (unsigned long long)w.cascade);
				if (span < w.cascade / TKO_WHEEL_SPAN + TKO_WHEEL_L1 - 2 &&
				    span % TKO_WHEEL_L1 != l - TKO_WHEEL_L0)
					fail_msg("id %u due at tick %llu on level-1 list %u", id,
						 (unsigned long long)ss[id].clock.due_tick, l);
			}
			prev = e;
			if (++cnt > n)
				fail_msg("list %u does not end", l);
		}
		if (wl[l].tail != prev)
			fail_msg("list %u: tail %u, its last entry %u", l, wl[l].tail, prev);
		filed += cnt;
	}
	for (id = 0; id < n; id++) {
		const struct tko_session *s = &ss[id];

		if (s->clock.list && !seen[id])
			fail_msg("id %u says list %u, which does not hold it", id, s->clock.list - 1);
		if ((s->state == TKO_FREE || s->state == TKO_CREATING) && s->clock.list)
			fail_msg("free id %u on list %u", id, s->clock.list - 1);
		if (live(s->state) && !s->clock.list && !s->clock.req)
			fail_msg("live session %u (state %u) on no list and not requested", id,
				 s->state);
		if (s->state == TKO_STOPPED && !s->clock.req)
			fail_msg("stopped session %u not freed and not requested", id);
	}
	if (with_free_ids) {
		size_t nfree = queue_read(MAP(free_ids), ids, MAX_SESSIONS + 1), nf = 0;

		memset(seen, 0, n);
		for (i = 0; i < nfree; i++) {
			if (ids[i] >= n || seen[ids[i]])
				fail_msg("free_ids holds %u (twice, or never handed out)", ids[i]);
			seen[ids[i]] = 1;
			if (ss[ids[i]].state != TKO_FREE)
				fail_msg("free_ids holds %u, in state %u", ids[i], ss[ids[i]].state);
		}
		for (id = 0; id < n; id++)
			nf += ss[id].state == TKO_FREE;
		CHECK_EQ(nf, nfree, "free entries, and ids in free_ids");
	}
	return filed;
}

static size_t queue_len(int fd)
{
	static __u32 ids[MAX_SESSIONS + 1];

	return queue_read(fd, ids, MAX_SESSIONS + 1);
}

/*
 * Before a test: an empty wheel (nothing filed, no request, nothing live),
 * the clock not started, the carrier ticking at tick_ns with tick_bytes per
 * tick. The wheel's tick can change only while nothing is filed.
 */
static void clock_begin(uint64_t tick_ns, __u32 tick_bytes)
{
	struct tko_carrier_state c = carrier_read();
	struct tko_wheel_clock w = {};

	CHECK_EQ(check_wheel(true), 0, "sessions filed before the test");
	CHECK_EQ(queue_len(MAP(requests)), 0, "requests before the test");
	clock_write(&w);
	c.tick_ns = tick_ns;
	c.tick_bytes = tick_bytes;
	carrier_write(&c);
	events_discard();
}

static void clock_begin_default(void)
{
	clock_begin(TICK_NS, tko_tick_bytes(TKO_TICK_MS_DEFAULT));
}

/* After every test: end what is left, then nothing may be left anywhere. */
static int clock_end(void **state)
{
	static struct tko_session ss[MAX_SESSIONS];
	struct tko_table tb = h_table();
	struct tko_wheel_clock w = clock_read();
	__u32 n = tb.fresh < tb.max_sessions ? tb.fresh : tb.max_sessions, id;
	struct tko_ctl_args a;
	int ret;

	w.busy = 0;
	clock_write(&w);
	if (n)
		array_read(MAP(sessions), n, ss, sizeof(ss[0]));
	for (id = 0; id < n; id++) {
		if (!live(ss[id].state))
			continue;
		memset(&a, 0, sizeof(a));
		a.key = ss[id].key;
		if (ctl_run(H.b.ctl->progs.tko_stop, &a, &ret) || ret)
			fail_msg("cannot stop session %u: %d", id, ret);
		if (id % 256 == 0)
			events_discard();
	}
	if (queue_len(MAP(requests)))
		h_pass();	/* frees what was stopped while the clock was busy */
	/* Answer the path requests as the agent does, with no path: that
	 * clears each entry's request flag. */
	while (!bpf_map_lookup_and_delete_elem(MAP(need_l2), NULL, &id)) {
		memset(&a, 0, sizeof(a));
		a.id = id;
		ctl_run(H.b.ctl->progs.tko_set_l2, &a, &ret);
	}
	events_discard();
	CHECK_EQ(check_wheel(true), 0, "sessions filed after the test");
	CHECK_EQ(queue_len(MAP(requests)), 0, "requests after the test");
	return 0;
}

/* ---------------------------------------------------------- the sessions */

/* A session with its L2 path (the loopback device): its probes leave. */
static struct tko_ctl_args clk_args(unsigned prof, uint16_t port, uint32_t interval,
				    uint32_t retry, uint32_t retries, uint8_t flags)
{
	struct tko_ctl_args a = sess_args(prof, port);	/* idle 1 s, state given */

	a.cfg.interval_s = interval;
	a.cfg.retry_interval_s = retry;
	a.cfg.retries = retries;
	a.cfg.flags |= flags;
	a.have |= TKO_HAVE_L2;
	a.ifindex = (__u32)lo_ifindex;
	memcpy(a.lmac, LOCAL_MAC, 6);
	memcpy(a.rmac, PEER_MAC, 6);
	return a;
}

static __u32 id_of(const struct tko_key *k)
{
	__u32 id;

	if (!h_find(k, &id, NULL))
		fail_msg("no session of port %u", k->lport);
	return id;
}

static __u32 start(const struct tko_ctl_args *a)
{
	CHECK_EQ(h_start(a), 0, "tko_start");
	return id_of(&a->key);
}

/*
 * Start n sessions like a, on ports port0.., with tko_start_batch; their
 * ids go to ids[]. Their STARTED events are read and dropped.
 */
static void start_many(const struct tko_ctl_args *a, uint16_t port0, size_t n, __u32 *ids)
{
	static struct tko_ctl_batch b;
	size_t i = 0, j, m;
	int ret;

	while (i < n) {
		m = n - i < TKO_BATCH_MAX ? n - i : TKO_BATCH_MAX;
		memset(&b, 0, sizeof(b));
		b.n = (__u32)m;
		for (j = 0; j < m; j++) {
			b.args[j] = *a;
			b.args[j].key.lport = (uint16_t)(port0 + i + j);
		}
		if (tko_ctl_run(bpf_program__fd(H.b.ctl->progs.tko_start_batch), &b, sizeof(b), &ret))
			fail_msg("BPF_PROG_RUN tko_start_batch: %s", strerror(errno));
		if (ret != TKO_BATCH_RET(m, 0))
			fail_msg("tko_start_batch started %u of %zu (errno %d)",
				 TKO_BATCH_STARTED(ret), m, -TKO_BATCH_ERR(ret));
		for (j = 0; j < m; j++) {
			struct tko_key k = a->key;

			k.lport = (uint16_t)(port0 + i + j);
			ids[i + j] = id_of(&k);
		}
		i += m;
		events_discard();
	}
}

static uint64_t wait_ns(const struct tko_session *s)
{
	const struct tko_config *c = &s->cfg;
	uint32_t w = c->interval_s;

	if (s->cnt.unanswered == 1 && c->retry_interval_s < c->interval_s)
		w = c->retry_interval_s;
	else if (s->cnt.unanswered > 1)
		w = c->retry_interval_s;
	return (uint64_t)w * NSEC_PER_SEC;
}

/*
 * A test's fixture: session id ACTIVE since an earlier probe, with
 * `unanswered` probes out, due (next probe, or the death decision) at
 * deadline. Written while the clock is idle; a request (queued by its start,
 * or by request()) makes the next pass file it.
 */
static void set_active(__u32 id, uint32_t unanswered, uint64_t deadline)
{
	struct tko_session s = sess_read(id);

	s.prev_state = s.state;
	s.state = TKO_ACTIVE;
	s.cnt.unanswered = unanswered;
	s.probe_ns = deadline - wait_ns(&s);
	h_write(id, &s);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / NSEC_PER_SEC), (long)(t % NSEC_PER_SEC) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void sleep_ns(uint64_t ns)
{
	sleep_until(now_ns() + ns);
}

/* One pass, bounded by the test's clock: [*t0, *t1]; its hold in *len. */
static void timed_pass(uint64_t *t0, uint64_t *t1, __u32 *len)
{
	*t0 = now_ns();
	CHECK_EQ(h_pass_len(len), TC_ACT_REDIRECT, "verdict of the carrier");
	*t1 = now_ns();
}

/* ------------------------------------------------------------- the hold */

enum hold {
	HOLD_CAP,	/* nothing within the longest hold */
	HOLD_NEXT,	/* work left: the next tick */
	HOLD_AT,	/* the first tick with work is `at` */
};

/* The longest hold in ticks, as the carrier counts it. */
static uint64_t hold_max_ticks(const struct tko_carrier_state *c)
{
	uint64_t m = c->tick_ns >= MS ? tko_hold_max_ticks((__u32)(c->tick_ns / MS), c->tick_bytes)
				      : 0;

	return m ? m : 1;
}

/*
 * The carrier left the pass with len bytes: the time from the pass to the
 * start of the tick it must be back for, at tick_bytes per tick, rounded
 * up, at least its header, at most the longest hold; and no later than
 * the start of level 1's next move. The pass's own clock is read from the
 * clock (target_ns - hold_ns) and must lie in [t0, t1]; it is returned.
 */
static uint64_t check_hold(__u32 len, uint64_t t0, uint64_t t1, enum hold kind, uint64_t at,
			   const char *what)
{
	struct tko_wheel_clock w = clock_read();
	struct tko_carrier_state c = carrier_read();
	uint64_t now = w.target_ns - w.hold_ns, tick = c.tick_ns, max = hold_max_ticks(&c);
	uint64_t cur = now / tick, cap = cur + max, target, hold;
	char buf[160];

	if (now < t0 || now > t1)
		fail_msg("%s: the pass's clock %llu is outside the run [%llu, %llu]", what,
			 (unsigned long long)now, (unsigned long long)t0, (unsigned long long)t1);
	if (w.cascade <= cur + TKO_WHEEL_SPAN + max)
		cap = w.cascade > cur + TKO_WHEEL_SPAN ? w.cascade - TKO_WHEEL_SPAN : cur + 1;
	target = kind == HOLD_NEXT ? cur + 1 : kind == HOLD_AT && at < cap ? at : cap;
	hold = target * tick > now ? target * tick - now : 0;
	hold = (hold * c.tick_bytes + tick - 1) / tick;
	if (hold < HDR_LEN)
		hold = HDR_LEN;
	if (hold > max * c.tick_bytes)
		hold = max * c.tick_bytes;
	snprintf(buf, sizeof(buf), "%s: carrier length (hold to tick %+lld)", what,
		 (long long)(target - cur));
	CHECK_EQ(len, hold, buf);
	CHECK_EQ(w.hold_len, len, "clock.hold_len");
	return now;
}

/* The first tick after `after` holding one of ids[0..n): the hold's target. */
static uint64_t first_due(const __u32 *ids, size_t n)
{
	uint64_t t = UINT64_MAX;

	for (size_t i = 0; i < n; i++) {
		struct tko_session s = sess_read(ids[i]);

		if (s.clock.list && s.clock.due_tick < t)
			t = s.clock.due_tick;
	}
	return t;
}

/*
 * Nothing due within a second: the carrier is held the whole longest hold
 * (1 s at the default tick: tko_tick_bytes() bytes per tick,
 * tko_hold_max_ticks() ticks), to the start of the tick it ends in; a
 * second pass right after holds it as long again.
 */
static void test_hold_idle_cap(void **state)
{
	struct tko_ctl_args a = clk_args(P_V4, 2000, 1, 1, 3, 0);
	struct tko_carrier_state c;
	uint64_t t0, t1;
	__u32 len, id;

	clock_begin_default();
	c = carrier_read();
	CHECK_EQ(hold_max_ticks(&c) * TICK_NS, TKO_CARRIER_HOLD_MAX_MS * MS,
		 "longest hold at the default tick");
	a.cfg.idle_s = 3600;	/* LEARNING for an hour: nothing due */
	id = start(&a);
	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_CAP, 0, "first pass");
	CHECK_EQ(sess_read(id).clock.list != 0, 1, "the session filed");
	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_CAP, 0, "second pass");
}

/*
 * A session due in N ticks: the hold ends at the start of its tick (the
 * pass that comes then takes it), whatever is due later; the nearer of two
 * wins; one beyond the longest hold leaves the cap.
 */
static void test_hold_until_due(void **state)
{
	struct tko_ctl_args a = clk_args(P_V4, 2100, 1, 1, 3, 0), b = a, far = a;
	uint64_t t0, t1, now;
	__u32 len, ida, idb, idf;

	clock_begin_default();
	b.key.lport++;
	far.key.lport += 2;
	ida = start(&a);
	idb = start(&b);
	idf = start(&far);
	now = now_ns();
	set_active(ida, 0, now + 40 * TICK_NS + TICK_NS / 2);
	set_active(idb, 0, now + 20 * TICK_NS + TICK_NS / 3);
	set_active(idf, 0, now + 3 * NSEC_PER_SEC);
	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_AT, sess_read(idb).clock.due_tick, "two due soon");
	CHECK_EQ(sess_read(idb).clock.due_tick, sess_read(idb).next_ns / TICK_NS,
		 "the tick of the nearer deadline");
	if (len >= 21 * tko_tick_bytes(TKO_TICK_MS_DEFAULT))
		fail_msg("held %u bytes: beyond the nearer session's tick", len);

	/* the nearer one stopped: the next one's tick */
	CHECK_EQ(h_stop(&b.key), 0, "stop");
	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_AT, sess_read(ida).clock.due_tick, "one due soon");
	/* and with only the far one: the longest hold */
	CHECK_EQ(h_stop(&a.key), 0, "stop");
	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_CAP, 0, "only one due in 3 s");
}

/*
 * More requests than one pass takes (TKO_PASS_REQUESTS): the pass files
 * that many and holds the carrier one tick only; the next pass files the
 * rest and, nothing being due, holds it the longest hold.
 */
static void test_hold_requests_left(void **state)
{
	enum { N = TKO_PASS_REQUESTS + 100 };
	static __u32 ids[N];
	struct tko_ctl_args a = clk_args(P_V4, 0, 1, 1, 3, 0);
	size_t filed, waiting, i;
	uint64_t t0, t1;
	__u32 len;

	clock_begin_default();
	a.cfg.idle_s = 3600;
	start_many(&a, 1000, N, ids);
	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_NEXT, 0, "requests left");
	filed = check_wheel(false);
	CHECK_EQ(filed, TKO_PASS_REQUESTS, "sessions filed by the first pass");
	for (i = waiting = 0; i < N; i++) {
		struct tko_session s = sess_read(ids[i]);

		waiting += !s.clock.list && s.clock.req;
	}
	CHECK_EQ(waiting, N - TKO_PASS_REQUESTS, "sessions still requested");
	CHECK_EQ(queue_len(MAP(requests)), N - TKO_PASS_REQUESTS, "requests queued");

	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_CAP, 0, "requests all taken");
	CHECK_EQ(check_wheel(false), N, "sessions filed by the second pass");
}

/*
 * More sessions due at one tick than a pass takes (TKO_PASS_SESSIONS):
 * each pass serves that many, in filing order, counts a backlog and holds
 * the carrier one tick; the rest wait on their list, no probe counted for
 * them (neither sent nor unanswered). Probes that leave within a tick of
 * their time are not late; those left for a pass more than a tick later
 * are, each once. A large tick (250 ms) keeps "within a tick" clear of a
 * loaded machine's delays.
 */
static void test_budget_backlog(void **state)
{
	enum { N = 2 * TKO_PASS_SESSIONS + 64 };
	static __u32 ids[N];
	const uint64_t tick = 250 * MS;
	struct tko_ctl_args a = clk_args(P_V4, 0, 1, 1, 3, 0);
	uint64_t t0, t1, due, sent0, late0, backlog0, now, at[3] = {};
	size_t i, served, pass;
	__u32 len;

	clock_begin(tick, tko_tick_bytes(250));
	start_many(&a, 1000, N, ids);
	due = (now_ns() / tick + 3) * tick + 20 * MS;
	for (i = 0; i < N; i++)
		set_active(ids[i], 0, due);

	/* filed in two passes: N requests are more than one pass takes */
	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_NEXT, 0, "filing, requests left");
	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_AT, due / tick, "filed");
	CHECK_EQ(check_wheel(false), N, "sessions filed");
	for (i = 0; i < N; i++)
		CHECK_EQ(sess_read(ids[i]).clock.due_tick, due / tick, "due tick");

	sent0 = h_stat(TKO_ST_PROBES_SENT);
	late0 = h_stat(TKO_ST_PROBES_LATE);
	backlog0 = h_stat(TKO_ST_BACKLOG);
	if (now_ns() >= due)
		fail_msg("premise: %d sessions set up and filed %.0f ms after their due time: "
			 "too slow to judge", N, (now_ns() - due) / 1e6);
	sleep_until(due);
	for (pass = 1; pass <= 2; pass++) {
		timed_pass(&t0, &t1, &len);
		now = at[pass] = check_hold(len, t0, t1, HOLD_NEXT, 0, "work left");
		if (now > due + tick)
			fail_msg("pass %zu came %.0f ms after the due time: too slow to judge",
				 pass, (now - due) / 1e6);
		CHECK_EQ(h_stat(TKO_ST_PROBES_SENT) - sent0, pass * TKO_PASS_SESSIONS,
			 "stats probes_sent");
		CHECK_EQ(h_stat(TKO_ST_BACKLOG) - backlog0, pass, "stats backlog");
		CHECK_EQ(h_stat(TKO_ST_PROBES_LATE) - late0, 0, "stats probes_late");
		for (i = served = 0; i < N; i++) {
			struct tko_session s = sess_read(ids[i]);
			bool first = i < pass * TKO_PASS_SESSIONS;	/* filing order */

			CHECK_EQ(s.state, TKO_ACTIVE, "state");
			CHECK_EQ(s.cnt.probes_sent, first, "cnt.probes_sent");
			CHECK_EQ(s.cnt.unanswered, first, "cnt.unanswered");
			CHECK_EQ(s.cnt.probes_late, 0, "cnt.probes_late");
			if (first)
				CHECK_EQ(s.probe_ns, at[1 + i / TKO_PASS_SESSIONS],
					 "probe_ns: the time of the pass that served it");
			else {
				CHECK_EQ(s.probe_ns, due - NSEC_PER_SEC, "probe_ns of a session waiting");
				CHECK_EQ(s.clock.due_tick, due / tick, "due tick of a session waiting");
			}
			served += first;
		}
		CHECK_EQ(served, pass * TKO_PASS_SESSIONS, "sessions served");
		check_wheel(false);
	}

	/* the rest, more than a tick after their time: late, counted once each */
	sleep_until(due + 2 * tick);
	timed_pass(&t0, &t1, &len);
	now = check_hold(len, t0, t1, HOLD_AT, first_due(ids, N), "backlog served");
	CHECK_EQ(h_stat(TKO_ST_PROBES_SENT) - sent0, N, "stats probes_sent");
	CHECK_EQ(h_stat(TKO_ST_BACKLOG) - backlog0, 2, "stats backlog (none this pass)");
	CHECK_EQ(h_stat(TKO_ST_PROBES_LATE) - late0, N - 2 * TKO_PASS_SESSIONS,
		 "stats probes_late");
	for (i = 0; i < N; i++) {
		struct tko_session s = sess_read(ids[i]);
		bool late = i >= 2 * TKO_PASS_SESSIONS;

		CHECK_EQ(s.cnt.probes_sent, 1, "cnt.probes_sent");
		CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered");
		CHECK_EQ(s.cnt.probes_late, late, "cnt.probes_late");
		if (late)
			CHECK_EQ(s.probe_ns, now, "probe_ns of a late session");
	}
	check_wheel(false);
}

/*
 * O(due): a pass takes only the lists of the ticks that came. Sessions
 * filed for later ticks (level 0, two to a list, and level 1) are then
 * rewritten as overdue without a request: a pass that looked at them would
 * probe them at once. None is touched until its own tick comes (only its
 * neighbours on its list may change); then it is.
 */
static bool untouched(const struct tko_session *s, const struct tko_session *snap)
{
	struct tko_session t = *snap;

	/* its neighbours on its list may change: others join it */
	t.clock.next = s->clock.next;
	t.clock.prev = s->clock.prev;
	return !memcmp(s, &t, sizeof(t));
}

static void test_only_due_touched(void **state)
{
	enum { NEAR = 10, FAR0 = 1000, FAR1 = 200, N = NEAR + FAR0 + FAR1 };
	static __u32 ids[N];
	static struct tko_session snap[N];
	struct tko_ctl_args a = clk_args(P_V4, 0, 1, 1, 3, 0);
	uint64_t t0, t1, now, sent0, first_far, cur;
	size_t i, probed;
	__u32 len;

	clock_begin_default();
	start_many(&a, 3000, N, ids);
	now = now_ns();
	for (i = 0; i < N; i++) {
		uint64_t d = i < NEAR ? now + 3 * TICK_NS :
			     i < NEAR + FAR0 ? now + (60 + (i - NEAR) / 2) * TICK_NS :
			     now + 200 * NSEC_PER_SEC + (i - NEAR - FAR0) * 100 * MS;

		set_active(ids[i], 0, d);
	}
	timed_pass(&t0, &t1, &len);
	CHECK_EQ(check_wheel(false), N, "sessions filed");
	for (i = NEAR + FAR0; i < N; i++)
		if (sess_read(ids[i]).clock.list <= TKO_WHEEL_L0)
			fail_msg("a session 200 s ahead is on level 0");
	/* the traps: overdue by a second, still filed for their later tick */
	for (i = NEAR; i < N; i++) {
		snap[i] = sess_read(ids[i]);
		snap[i].probe_ns = now - 2 * NSEC_PER_SEC;
		h_write(ids[i], &snap[i]);
	}
	first_far = first_due(ids + NEAR, FAR0);

	sent0 = h_stat(TKO_ST_PROBES_SENT);
	sleep_until(sess_read(ids[0]).clock.due_tick * TICK_NS + MS);
	if (now_ns() / TICK_NS >= first_far)
		fail_msg("premise: %d sessions set up %.0f ms after the far ones' tick: "
			 "too slow to judge", N, (now_ns() - first_far * TICK_NS) / 1e6);
	timed_pass(&t0, &t1, &len);
	now = check_hold(len, t0, t1, HOLD_AT, first_far, "the next tick with work");
	CHECK_EQ(h_stat(TKO_ST_PROBES_SENT) - sent0, NEAR, "stats probes_sent: the due ones");
	for (i = 0; i < NEAR; i++)
		CHECK_EQ(sess_read(ids[i]).cnt.probes_sent, 1, "cnt.probes_sent of a due one");
	for (i = NEAR; i < N; i++) {
		struct tko_session s = sess_read(ids[i]);

		if (!untouched(&s, &snap[i]))
			fail_msg("session %zu (due at tick %llu, now %llu) was touched", i,
				 (unsigned long long)snap[i].clock.due_tick,
				 (unsigned long long)(now / TICK_NS));
	}

	/* five far ticks later: those five ticks' sessions, and only they */
	sleep_until((first_far + 4) * TICK_NS + MS);
	timed_pass(&t0, &t1, &len);
	now = check_hold(len, t0, t1, HOLD_AT, first_due(ids + NEAR, FAR0), "later");
	cur = now / TICK_NS;
	for (i = NEAR, probed = 0; i < N; i++) {
		struct tko_session s = sess_read(ids[i]);
		bool due = snap[i].clock.due_tick <= cur;

		if (due) {
			CHECK_EQ(s.cnt.probes_sent, 1, "cnt.probes_sent of a session whose tick came");
			CHECK_EQ(s.probe_ns, now, "its probe_ns");
			probed++;
		} else if (!untouched(&s, &snap[i])) {
			fail_msg("session %zu (due at tick %llu, now %llu) was touched", i,
				 (unsigned long long)snap[i].clock.due_tick,
				 (unsigned long long)cur);
		}
	}
	if (probed < 10)
		fail_msg("%zu sessions of the first far ticks probed, want 10 or more", probed);
	CHECK_EQ(h_stat(TKO_ST_PROBES_SENT) - sent0, NEAR + probed, "stats probes_sent");
	check_wheel(false);
}

/*
 * Level 1 -> level 0: sessions due beyond the level-0 span wait on level 1
 * and move down before their tick, to the list of their tick, which is
 * then taken at its time. Time runs fast: a 20 us tick makes the level-0
 * span (2 * TKO_WHEEL_SPAN ticks) 0.66 s. Each pass's own clock is known
 * (clock.target_ns - hold_ns): a session is probed by the first pass at or
 * after the start of its tick, never by an earlier one.
 */
static void test_level1_moves_down(void **state)
{
	enum { N = 3 };
	const uint64_t tick = 20 * 1000;
	struct tko_ctl_args a = clk_args(P_V4, 4000, 2, 2, 3, 0);
	uint64_t now, t0, t1, pass_now, prev_now = 0, deadline, d[N];
	uint64_t moved_at[N] = {}, probed_at[N] = {}, prev_pass[N] = {};
	__u32 ids[N], len, lst;
	size_t i, left = N, passes = 0;

	clock_begin(tick, TKO_CARRIER_LEN);
	for (i = 0; i < N; i++) {
		struct tko_ctl_args b = a;

		b.key.lport = (uint16_t)(a.key.lport + i);
		ids[i] = start(&b);
	}
	now = now_ns();
	d[0] = now + 1000 * MS;
	d[1] = d[0] + 3 * tick;		/* same level-1 list */
	d[2] = now + 1400 * MS;		/* a later one */
	for (i = 0; i < N; i++)
		set_active(ids[i], 0, d[i]);
	timed_pass(&t0, &t1, &len);
	for (i = 0; i < N; i++) {
		struct tko_session s = sess_read(ids[i]);

		CHECK_EQ(s.clock.due_tick, d[i] / tick, "due tick");
		CHECK_EQ(s.clock.list - 1, TKO_WHEEL_L0 + d[i] / tick / TKO_WHEEL_SPAN % TKO_WHEEL_L1,
			 "on its level-1 list");
	}
	check_wheel(false);

	deadline = now_ns() + 3 * NSEC_PER_SEC;
	while (left) {
		if (now_ns() > deadline)
			fail_msg("%zu sessions not probed after 3 s", left);
		sleep_ns(200 * 1000);
		timed_pass(&t0, &t1, &len);
		{
			struct tko_wheel_clock w = clock_read();

			pass_now = w.target_ns - w.hold_ns;
		}
		if (pass_now < t0 || pass_now > t1)
			fail_msg("the pass's clock outside the run");
		for (i = 0; i < N; i++) {
			struct tko_session s = sess_read(ids[i]);

			if (probed_at[i])
				continue;
			if (s.cnt.probes_sent) {
				probed_at[i] = s.probe_ns;
				prev_pass[i] = prev_now;
				left--;
				continue;
			}
			CHECK_EQ(s.clock.due_tick, d[i] / tick, "due tick while waiting");
			lst = s.clock.list - 1;
			if (lst < TKO_WHEEL_L0) {
				CHECK_EQ(lst, d[i] / tick % TKO_WHEEL_L0, "level-0 list after the move");
				if (!moved_at[i])
					moved_at[i] = pass_now;
			} else if (moved_at[i]) {
				fail_msg("session %zu back on level 1", i);
			}
		}
		if (++passes % 256 == 0)	/* the walk takes a while: passes stay frequent */
			check_wheel(false);
		prev_now = pass_now;
	}
	for (i = 0; i < N; i++) {
		uint64_t start_of_tick = d[i] / tick * tick;
		uint64_t start_of_span = d[i] / tick / TKO_WHEEL_SPAN * TKO_WHEEL_SPAN * tick;

		if (!moved_at[i])
			fail_msg("session %zu never seen on level 0", i);
		if (moved_at[i] >= start_of_span)
			fail_msg("session %zu moved down %.1f ms into its span", i,
				 (moved_at[i] - start_of_span) / 1e6);
		if (probed_at[i] < start_of_tick)
			fail_msg("session %zu probed %llu ns before its tick", i,
				 (unsigned long long)(start_of_tick - probed_at[i]));
		if (prev_pass[i] >= start_of_tick)
			fail_msg("session %zu not probed by the first pass of its tick", i);
		/* the next probe, 2 s on: level 1 again */
		{
			struct tko_session s = sess_read(ids[i]);

			CHECK_EQ(s.cnt.probes_sent, 1, "cnt.probes_sent");
			CHECK_EQ(s.clock.due_tick, (s.probe_ns + 2 * NSEC_PER_SEC) / tick,
				 "the next deadline's tick");
		}
	}
	check_wheel(false);
}

/* The endpoint's data (TC egress): an ACTIVE session is suspended. */
static void endpoint_data(unsigned prof, uint16_t port)
{
	struct seg_spec d = from_endpoint(prof, port);
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;

	struct seg_spec a = from_peer(prof, port);

	d.flags = F_ACK | F_PSH;
	d.payload = 10;
	frame_build(&f, &d);
	CHECK_EQ(h_run_tc(f.b, f.len, 0, out, &out_len), 0, "verdict of the endpoint's data");
	/* The peer acknowledges it: nothing in flight, the session may go
	 * ACTIVE again once idle. */
	a.seq = d.ack;
	a.ack = d.seq + d.payload;
	frame_build(&f, &a);
	CHECK_EQ(h_run_xdp(f.b, f.len, out, &out_len), XDP_PASS, "verdict of the peer's ACK");
}

/* Three sessions on one list (one deadline), ACTIVE, an hour ahead. */
static void start_three(uint16_t port0, uint8_t flags, __u32 *ids, struct tko_ctl_args *args)
{
	uint64_t t0, t1, due;
	__u32 len;
	int i;

	for (i = 0; i < 3; i++) {
		args[i] = clk_args(P_V4, (uint16_t)(port0 + i), 3600, 3600, 3, flags);
		ids[i] = start(&args[i]);
	}
	due = now_ns() + 3600 * NSEC_PER_SEC;
	for (i = 0; i < 3; i++)
		set_active(ids[i], 0, due);
	timed_pass(&t0, &t1, &len);
	for (i = 0; i < 3; i++)
		CHECK_EQ(sess_read(ids[i]).clock.list, sess_read(ids[0]).clock.list,
			 "the three on one list");
	CHECK_EQ(check_wheel(false), 3, "sessions filed");
}

/* The ids on the list session id is on, from its head. */
static size_t list_of(__u32 id, __u32 *out, size_t max)
{
	struct tko_session s = sess_read(id);
	struct tko_wheel_list l;
	__u32 k = s.clock.list - 1, e;
	size_t n = 0;

	if (!s.clock.list)
		return 0;
	if (bpf_map_lookup_elem(MAP(wheel), &k, &l))
		fail_msg("cannot read list %u", k);
	for (e = l.head; e && n < max; e = sess_read(e - 1).clock.next)
		out[n++] = e - 1;
	return n;
}

/*
 * Suspension refiles: the suspended session leaves its list at once (its
 * neighbours linked again) for the tick of its re-arm; one idle period
 * after the data it is ACTIVE again ("resumed"), probed, and filed for its
 * next probe; the other two never moved.
 */
static void test_suspend_refiles(void **state)
{
	struct tko_ctl_args args[3];
	struct tko_session s, a0, c0;
	struct tko_event evs[4];
	uint64_t t0, t1, data_ns;
	__u32 ids[3], on[4], len;
	size_t ev0;

	clock_begin_default();
	start_three(2200, 0, ids, args);
	a0 = sess_read(ids[0]);
	c0 = sess_read(ids[2]);
	ev0 = ev_mark();
	endpoint_data(P_V4, args[1].key.lport);
	s = sess_read(ids[1]);
	CHECK_EQ(s.state, TKO_SUSPENDED, "state after the data");
	CHECK_EQ(s.clock.req, 1, "requested");
	data_ns = s.last_seen_ns;
	CHECK_EQ(s.next_ns, data_ns + NSEC_PER_SEC, "next_ns: the re-arm");

	timed_pass(&t0, &t1, &len);
	s = sess_read(ids[1]);
	CHECK_EQ(s.clock.req, 0, "request taken");
	CHECK_EQ(s.clock.due_tick, (data_ns + NSEC_PER_SEC) / TICK_NS, "filed for the re-arm");
	CHECK_EQ(s.clock.list - 1, s.clock.due_tick % TKO_WHEEL_L0, "on level 0");
	CHECK_EQ(list_of(ids[0], on, 4), 2, "sessions left on the first list");
	CHECK_EQ(on[0], ids[0], "its head");
	CHECK_EQ(on[1], ids[2], "its tail");
	check_hold(len, t0, t1, HOLD_AT, s.clock.due_tick, "until the re-arm");
	check_wheel(false);

	{
		uint64_t dl = now_ns() + 5 * NSEC_PER_SEC;

		while (h_pass(), sess_read(ids[1]).state != TKO_ACTIVE) {
			if (now_ns() > dl)
				fail_msg("not resumed within 5 s");
			sleep_ns(POLL_NS);
		}
	}
	s = sess_read(ids[1]);
	if (s.probe_ns < data_ns + NSEC_PER_SEC)
		fail_msg("resumed %.1f ms before one idle period",
			 (data_ns + NSEC_PER_SEC - s.probe_ns) / 1e6);
	if (s.probe_ns > data_ns + NSEC_PER_SEC + SLACK_NS)
		fail_msg("resumed %.0f ms late", (s.probe_ns - data_ns - NSEC_PER_SEC) / 1e6);
	CHECK_EQ(s.cnt.probes_sent, 1, "cnt.probes_sent");
	CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered");
	CHECK_EQ(s.clock.due_tick, (s.probe_ns + 3600 * NSEC_PER_SEC) / TICK_NS,
		 "filed for the next probe");
	h_drain();
	CHECK_EQ(h_events_of(&args[1].key, ev0, evs, 4), 2, "events (suspended, resumed)");
	CHECK_EQ(evs[0].type, TKO_EV_SUSPENDED, "first event");
	if (evs[0].next_probe_ms < 999 || evs[0].next_probe_ms > 1000)
		fail_msg("next_probe_ms %u in suspended, want the idle period (1000 ms)",
			 evs[0].next_probe_ms);
	CHECK_EQ(evs[1].type, TKO_EV_RESUMED, "second event");
	CHECK_EQ(evs[1].reason, TKO_R_IDLE, "reason of resumed");
	s = sess_read(ids[0]);
	if (memcmp(&s.cnt, &a0.cnt, sizeof(s.cnt)) || s.clock.due_tick != a0.clock.due_tick)
		fail_msg("the first session moved or changed");
	s = sess_read(ids[2]);
	if (memcmp(&s.cnt, &c0.cnt, sizeof(s.cnt)) || s.clock.due_tick != c0.clock.due_tick)
		fail_msg("the third session moved or changed");
	check_wheel(false);
}

static bool in_free_ids(__u32 id)
{
	static __u32 ids[MAX_SESSIONS + 1];
	size_t n = queue_read(MAP(free_ids), ids, MAX_SESSIONS + 1);

	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * A stop frees a filed entry at once when no pass runs: off its list (its
 * neighbours linked again), FREE, its id in free_ids. While a pass runs on
 * another CPU (clock.busy) the entry stays filed, STOPPED, and the request
 * it posted lets the next pass free it.
 */
static void test_stop_frees_entry(void **state)
{
	struct tko_ctl_args args[3];
	struct tko_wheel_clock w;
	struct tko_session s;
	__u32 ids[3], on[4];

	clock_begin_default();
	start_three(2300, 0, ids, args);

	CHECK_EQ(h_stop(&args[1].key), 0, "stop of the middle one");
	s = sess_read(ids[1]);
	CHECK_EQ(s.state, TKO_FREE, "state of the stopped entry");
	CHECK_EQ(s.clock.list, 0, "its list");
	CHECK_EQ(s.clock.req, 0, "no request for it");
	CHECK_EQ(in_free_ids(ids[1]), 1, "its id in free_ids");
	CHECK_EQ(list_of(ids[0], on, 4), 2, "sessions left on the list");
	CHECK_EQ(on[0], ids[0], "head");
	CHECK_EQ(on[1], ids[2], "tail");
	check_wheel(true);

	w = clock_read();
	w.busy = 1;
	clock_write(&w);
	CHECK_EQ(h_stop(&args[2].key), 0, "stop while the clock is busy");
	s = sess_read(ids[2]);
	CHECK_EQ(s.state, TKO_STOPPED, "state while the clock is busy");
	CHECK_EQ(s.clock.req, 1, "requested");
	CHECK_EQ(in_free_ids(ids[2]), 0, "id in free_ids while the clock is busy");
	CHECK_EQ(list_of(ids[0], on, 4), 2, "sessions on the list while the clock is busy");
	check_wheel(true);
	w.busy = 0;
	clock_write(&w);
	h_pass();
	s = sess_read(ids[2]);
	CHECK_EQ(s.state, TKO_FREE, "state after the pass");
	CHECK_EQ(s.clock.list, 0, "list after the pass");
	CHECK_EQ(in_free_ids(ids[2]), 1, "id in free_ids after the pass");
	CHECK_EQ(list_of(ids[0], on, 4), 1, "sessions on the list");
	CHECK_EQ(on[0], ids[0], "the one left");
	check_wheel(true);
	CHECK_EQ(h_stop(&args[0].key), 0, "stop of the last one");
	CHECK_EQ(check_wheel(true), 0, "sessions filed");
}

/*
 * --oneshot: the endpoint's data ends the session ("invalidated") and
 * frees its entry at once, off its list; the session next to it stays.
 */
static void test_oneshot_frees_entry(void **state)
{
	struct tko_ctl_args args[3];
	struct tko_session s;
	__u32 ids[3], on[4];
	size_t ev0;

	clock_begin_default();
	start_three(2400, TKO_F_ONESHOT, ids, args);
	ev0 = ev_mark();
	endpoint_data(P_V4, args[0].key.lport);
	s = sess_read(ids[0]);
	CHECK_EQ(s.state, TKO_FREE, "state of the oneshot session after data");
	CHECK_EQ(s.clock.list, 0, "its list");
	CHECK_EQ(in_free_ids(ids[0]), 1, "its id in free_ids");
	CHECK_EQ(list_of(ids[1], on, 4), 2, "sessions left on the list");
	CHECK_EQ(on[0], ids[1], "head");
	CHECK_EQ(on[1], ids[2], "tail");
	h_drain();
	check_one_event(&args[0].key, ev0, TKO_EV_INVALIDATED, TKO_R_DATA_LOCAL, NULL);
	check_wheel(true);
}

/* One pass whose output frame is kept. */
static int pass_out(uint8_t *out, __u32 *len)
{
	struct tko_carrier_state c = carrier_read();
	uint8_t in[TKO_CARRIER_LEN];
	struct __sk_buff ctx = { .ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = sizeof(in),
		    .data_out = out, .data_size_out = 65536, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	h_carrier_frame(in, c.generation);
	if (bpf_prog_test_run_opts(bpf_program__fd(H.b.carrier->progs.tko_carrier), &o))
		fail_msg("BPF_PROG_RUN carrier: %s", strerror(errno));
	*len = o.data_size_out;
	return (int)o.retval;
}

/*
 * The busy lock: a pass that finds the clock busy (another pass running,
 * a re-injected carrier overlapping the old one) does nothing but send the
 * carrier round again, one tick's length: the due session is not probed,
 * its request stays queued, the clock is untouched. The pass is counted.
 */
static void test_busy_pass(void **state)
{
	static uint8_t out[65536];
	struct tko_ctl_args a = clk_args(P_TS, 2500, 1, 1, 3, 0);
	struct tko_wheel_clock w, w1;
	struct tko_carrier_state c0;
	struct tko_session s0, s;
	uint8_t want[TKO_CARRIER_LEN];
	uint64_t passes0, sent0;
	__u32 id, len, ids[4];

	clock_begin_default();
	id = start(&a);
	set_active(id, 0, now_ns() - TICK_NS);
	s0 = sess_read(id);
	w = clock_read();
	w.busy = 1;
	clock_write(&w);
	c0 = carrier_read();
	passes0 = h_stat(TKO_ST_CARRIER_PASSES);
	sent0 = h_stat(TKO_ST_PROBES_SENT);

	CHECK_EQ(pass_out(out, &len), TC_ACT_REDIRECT, "verdict of a busy pass");
	CHECK_EQ(len, c0.tick_bytes, "carrier length of a busy pass: one tick");
	h_carrier_frame(want, c0.generation);
	check_frame(out, HDR_LEN, want, HDR_LEN, "carrier header after a busy pass");
	for (__u32 i = HDR_LEN; i < len; i++)
		if (out[i])
			fail_msg("byte %u of the carrier not zero after a busy pass", i);
	w1 = clock_read();
	if (memcmp(&w1, &w, sizeof(w)))
		fail_msg("a busy pass changed the clock");
	s = sess_read(id);
	if (memcmp(&s, &s0, sizeof(s)))
		fail_msg("a busy pass changed the session");
	CHECK_EQ(queue_read(MAP(requests), ids, 4), 1, "requests queued");
	CHECK_EQ(ids[0], id, "the request queued");
	CHECK_EQ(carrier_read().passes, c0.passes + 1, "carrier passes");
	CHECK_EQ(h_stat(TKO_ST_CARRIER_PASSES) - passes0, 1, "stats carrier_passes");
	CHECK_EQ(h_stat(TKO_ST_PROBES_SENT) - sent0, 0, "stats probes_sent");

	w.busy = 0;
	clock_write(&w);
	CHECK_EQ(pass_out(out, &len), TC_ACT_REDIRECT, "verdict");
	CHECK_EQ(h_stat(TKO_ST_PROBES_SENT) - sent0, 1, "stats probes_sent once free");
	CHECK_EQ(sess_read(id).cnt.probes_sent, 1, "cnt.probes_sent once free");
	CHECK_EQ(clock_read().busy, 0, "busy after a pass");
}

/*
 * RFC 1122 4.2.3.6 and the wheel's rounding: a deadline falls inside its
 * tick, and the pass that takes the tick comes at its start. A probe may
 * leave then (a tick early at most); the death decision may not: the pass
 * at the start of the tick files the session again for the next tick, and
 * it is declared dead only once the whole answer wait is over. 200 ms
 * ticks keep the start of the tick clear of the deadline.
 */
static void test_death_after_wait(void **state)
{
	const uint64_t tick = 200 * MS;
	struct tko_ctl_args a = clk_args(P_V4, 2600, 1, 1, 1, 0);
	uint64_t t0, t1, T, deadline, dead0 = h_stat(TKO_ST_PEER_DEAD);
	struct tko_session s;
	struct tko_event e;
	size_t ev0;
	__u32 id, len;

	clock_begin(tick, tko_tick_bytes(200));
	id = start(&a);
	T = now_ns() / tick + 2;
	deadline = T * tick + 150 * MS;
	set_active(id, 1, deadline);	/* one probe out: retries reached */
	timed_pass(&t0, &t1, &len);
	check_hold(len, t0, t1, HOLD_AT, T, "until the deadline's tick");
	CHECK_EQ(sess_read(id).clock.due_tick, T, "due tick");
	ev0 = ev_mark();

	sleep_until(T * tick + 10 * MS);
	timed_pass(&t0, &t1, &len);
	if (t1 >= deadline)
		fail_msg("the pass came after the deadline: too slow to judge");
	s = sess_read(id);
	CHECK_EQ(s.state, TKO_ACTIVE, "state at the start of the deadline's tick");
	CHECK_EQ(s.next_ns, deadline, "next_ns");
	CHECK_EQ(s.clock.due_tick, T + 1, "filed again for the next tick");
	check_hold(len, t0, t1, HOLD_AT, T + 1, "until the next tick");
	h_drain();
	check_no_event(&a.key, ev0);
	CHECK_EQ(h_stat(TKO_ST_PEER_DEAD) - dead0, 0, "stats peer_dead before the deadline");

	sleep_until((T + 1) * tick + 5 * MS);
	timed_pass(&t0, &t1, &len);
	h_drain();
	check_one_event(&a.key, ev0, TKO_EV_PEER_DEAD, TKO_R_RETRIES, &e);
	if (e.ts_ns < deadline)
		fail_msg("declared dead %llu ns before the answer wait ended",
			 (unsigned long long)(deadline - e.ts_ns));
	CHECK_EQ(e.cnt.unanswered, 1, "cnt.unanswered in peer_dead");
	CHECK_EQ(e.next_probe_ms, 0, "next_probe_ms in peer_dead");
	CHECK_EQ(h_stat(TKO_ST_PEER_DEAD) - dead0, 1, "stats peer_dead");
	CHECK_EQ(sess_read(id).state, TKO_FREE, "the dead session's entry");
	check_wheel(true);
}

/* ------------------------------------------------------- the schedules */

/* Run the clock until cond holds; fail after deadline_s seconds. */
#define PASS_UNTIL(cond, deadline_s, what) do {					\
	uint64_t dl_ = now_ns() + (uint64_t)(deadline_s) * NSEC_PER_SEC;	\
										\
	while (h_pass(), !(cond)) {						\
		if (now_ns() > dl_)						\
			fail_msg("%s: not within %d s", (what), (int)(deadline_s)); \
		sleep_ns(POLL_NS);						\
	}									\
} while (0)

/*
 * to - from is want_s seconds: never less than that less a tick (a probe
 * leaves at the start of its deadline's tick), at most SLACK_NS more.
 */
static void check_gap(uint64_t from, uint64_t to, uint64_t want_s, uint64_t early_ns,
		      const char *what)
{
	uint64_t want = want_s * NSEC_PER_SEC;

	if (to + early_ns < from + want || to > from + want + SLACK_NS)
		fail_msg("%s: %.4f s, want %llu s (early by %.3f s, late by %.2f s at most)", what,
			 ((double)to - (double)from) / 1e9, (unsigned long long)want_s,
			 early_ns / 1e9, SLACK_NS / 1e9);
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

/* The peer's answer to tko's probe (XDP): bare ACK, seq = RCV.NXT, ack = SND.NXT. */
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

/* Run the clock until session id has sent n probes; its entry then. */
static struct tko_session wait_probe(__u32 id, uint32_t n, const char *what)
{
	struct tko_session s;

	PASS_UNTIL((s = sess_read(id)).cnt.probes_sent >= n, 5, what);
	CHECK_EQ(s.cnt.probes_sent, n, "cnt.probes_sent");
	CHECK_EQ(s.state, TKO_ACTIVE, "state with a probe out");
	return s;
}

/*
 * The whole schedule (RFC 1122 4.2.3.6): the first probe as the session
 * becomes ACTIVE, one idle period after its start (never earlier);
 * answered, the next one `interval` after it; unanswered, one after
 * min(retry, interval), then one every retry interval: one lost answer is
 * never death; `retries` unanswered in a row: PEER_DEAD one retry interval
 * after the last (never earlier), the entry freed.
 */
static void test_answered_then_retries(void **state)
{
	enum { INTERVAL = 2, RETRY = 1, RETRIES = 3, PORT = 2700 };
	struct tko_ctl_args a = clk_args(P_TS, PORT, INTERVAL, RETRY, RETRIES, 0);
	static const __u8 types[] = { TKO_EV_STARTED, TKO_EV_OFFLOADED, TKO_EV_PEER_DEAD };
	uint64_t answered0 = h_stat(TKO_ST_PROBES_ANSWERED), dead0 = h_stat(TKO_ST_PEER_DEAD);
	struct tko_tcp_state tcp = a.tcp;
	struct tko_session s;
	struct tko_event evs[8];
	uint64_t probe[RETRIES + 2];
	size_t ev0;
	__u32 id;
	int i;

	clock_begin_default();
	ev0 = ev_mark();
	id = start(&a);
	s = sess_read(id);

	s = wait_probe(id, 1, "first probe");
	probe[1] = s.probe_ns;
	CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered with the first probe");
	check_gap(s.started_ns, probe[1], 1, 0, "idle before the first probe");
	check_event_types(&a.key, ev0, types, 2, evs);
	CHECK_EQ(evs[1].state, TKO_ACTIVE, "state in offloaded");
	CHECK_EQ(evs[1].ts_ns >= probe[1] && evs[1].ts_ns < probe[1] + SLACK_NS, 1,
		 "offloaded and the first probe in one pass");

	/* answered before the clock looks again (min(retry, interval) = 1 s) */
	peer_answers(P_TS, PORT);
	if (now_ns() >= probe[1] + NSEC_PER_SEC - TICK_NS)
		fail_msg("the answer came after the answer wait: too slow to judge");
	s = sess_read(id);
	CHECK_EQ(s.cnt.unanswered, 0, "cnt.unanswered after the answer");
	CHECK_EQ(s.cnt.probes_answered, 1, "cnt.probes_answered");
	CHECK_EQ(h_stat(TKO_ST_PROBES_ANSWERED) - answered0, 1, "stats probes_answered");
	tcp.ts_ecr = PEER_TSVAL;	/* the answer's TSval */

	/* the next probe: interval after the previous, not after the answer wait */
	s = wait_probe(id, 2, "probe after an answer");
	probe[2] = s.probe_ns;
	CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered");
	check_gap(probe[1], probe[2], INTERVAL, TICK_NS, "answered probe to the next");

	/* unanswered: a retry after min(retry, interval), then every retry interval */
	for (i = 3; i <= RETRIES + 1; i++) {
		char what[64];

		snprintf(what, sizeof(what), "retry %d", i - 2);
		s = wait_probe(id, (uint32_t)i, what);
		probe[i] = s.probe_ns;
		CHECK_EQ(s.cnt.unanswered, i - 1, "cnt.unanswered");
		check_gap(probe[i - 1], probe[i], RETRY, TICK_NS, what);
	}

	/* `retries` unanswered probes: dead one retry interval after the last */
	PASS_UNTIL(sess_read(id).state == TKO_FREE, 5, "the dead session's entry freed");
	check_event_types(&a.key, ev0, types, 3, evs);
	CHECK_EQ(evs[2].reason, TKO_R_RETRIES, "reason of peer_dead");
	CHECK_EQ(evs[2].state, TKO_PEER_DEAD, "state in peer_dead");
	CHECK_EQ(evs[2].cnt.unanswered, RETRIES, "cnt.unanswered in peer_dead");
	CHECK_EQ(evs[2].cnt.probes_answered, 1, "cnt.probes_answered in peer_dead");
	CHECK_EQ(evs[2].cnt.probes_sent, RETRIES + 1, "cnt.probes_sent in peer_dead");
	CHECK_EQ(evs[2].next_probe_ms, 0, "next_probe_ms in peer_dead");
	check_tcp_state(&evs[2].tcp, &tcp);
	check_gap(probe[RETRIES + 1], evs[2].ts_ns, RETRY, 0, "last probe to peer_dead");
	CHECK_EQ(h_stat(TKO_ST_PEER_DEAD) - dead0, 1, "stats peer_dead");
	if (h_find(&a.key, NULL, NULL))
		fail_msg("the dead session is still in the index");
}

/*
 * interval < retry interval: the first unanswered probe is judged after
 * the interval, the next ones every retry interval. --on-dead reset: the
 * pass that declares the peer dead sends the RST (prog_carrier checks its
 * bytes; here, that the device took it) and frees the entry.
 */
static void test_retries_then_reset(void **state)
{
	enum { INTERVAL = 1, RETRY = 2, RETRIES = 2, PORT = 2800 };
	struct tko_ctl_args a = clk_args(P_V6, PORT, INTERVAL, RETRY, RETRIES,
					 TKO_F_ON_DEAD_RESET);
	static const __u8 types[] = { TKO_EV_STARTED, TKO_EV_OFFLOADED, TKO_EV_PEER_DEAD };
	uint64_t errors0 = h_stat(TKO_ST_EMIT_ERRORS), probe1, probe2;
	struct tko_session s;
	struct tko_event evs[8];
	size_t ev0;
	__u32 id;

	clock_begin_default();
	ev0 = ev_mark();
	id = start(&a);
	s = wait_probe(id, 1, "first probe");
	probe1 = s.probe_ns;
	s = wait_probe(id, 2, "first retry");
	probe2 = s.probe_ns;
	CHECK_EQ(s.cnt.unanswered, 2, "cnt.unanswered");
	check_gap(probe1, probe2, INTERVAL, TICK_NS, "answer wait (the interval, shorter)");

	PASS_UNTIL(sess_read(id).state == TKO_FREE, 5, "the dead session's entry freed");
	check_event_types(&a.key, ev0, types, 3, evs);
	CHECK_EQ(evs[2].reason, TKO_R_RETRIES, "reason of peer_dead");
	CHECK_EQ(evs[2].cnt.unanswered, RETRIES, "cnt.unanswered in peer_dead");
	CHECK_EQ(evs[2].cnt.probes_sent, RETRIES, "cnt.probes_sent in peer_dead");
	check_gap(probe2, evs[2].ts_ns, RETRY, 0, "last probe to peer_dead");
	CHECK_EQ(h_stat(TKO_ST_EMIT_ERRORS) - errors0, 0, "stats emit_errors (the RST taken)");
	check_wheel(true);
}

/*
 * The endpoint's data suspends an ACTIVE session with a probe out; one
 * idle period after the data (never earlier) it is ACTIVE again
 * ("resumed"), counted afresh: the probe sent then is the only one
 * unanswered.
 */
static void test_suspend_resume(void **state)
{
	enum { PORT = 2900 };
	struct tko_ctl_args a = clk_args(P_V4, PORT, 3600, 3600, 5, 0);
	static const __u8 types[] = { TKO_EV_STARTED, TKO_EV_OFFLOADED, TKO_EV_SUSPENDED,
				      TKO_EV_RESUMED };
	struct tko_tcp_state tcp = a.tcp;
	struct tko_session s;
	struct tko_event evs[8];
	uint64_t data_ns;
	size_t ev0;
	__u32 id;

	clock_begin_default();
	ev0 = ev_mark();
	id = start(&a);
	s = wait_probe(id, 1, "first probe");
	CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered");

	endpoint_data(P_V4, PORT);
	s = sess_read(id);
	CHECK_EQ(s.state, TKO_SUSPENDED, "state after the endpoint's data");
	data_ns = s.last_seen_ns;
	tcp.snd_nxt += 10;
	tcp.snd_una += 10;	/* the peer acknowledged it */

	s = wait_probe(id, 2, "resumed with a probe");
	CHECK_EQ(s.prev_state, TKO_SUSPENDED, "prev_state");
	CHECK_EQ(s.cnt.unanswered, 1, "cnt.unanswered after resuming (counted afresh)");
	check_gap(data_ns, s.probe_ns, 1, 0, "the data to the probe after resuming");
	check_event_types(&a.key, ev0, types, 4, evs);
	CHECK_EQ(evs[2].reason, TKO_R_DATA_LOCAL, "reason of suspended");
	CHECK_EQ(evs[3].reason, TKO_R_IDLE, "reason of resumed");
	CHECK_EQ(evs[3].state, TKO_ACTIVE, "state in resumed");
	check_tcp_state(&evs[3].tcp, &tcp);
}

/*
 * The handoff state of a stop (the chimney's TimeoutDelta): the "stopped"
 * event of an ACTIVE session carries the time left to its next probe.
 */
static void test_stop_handoff(void **state)
{
	struct tko_ctl_args a = clk_args(P_TS, 3100, 30, 30, 3, 0);
	uint64_t t0, t1, deadline;
	struct tko_event e;
	size_t ev0;
	__u32 id, len;

	clock_begin_default();
	id = start(&a);
	deadline = now_ns() + 30 * NSEC_PER_SEC;
	set_active(id, 0, deadline);
	timed_pass(&t0, &t1, &len);
	CHECK_EQ(sess_read(id).next_ns, deadline, "next_ns");
	ev0 = ev_mark();
	t0 = now_ns();
	CHECK_EQ(h_stop(&a.key), 0, "stop");
	t1 = now_ns();
	h_drain();
	check_one_event(&a.key, ev0, TKO_EV_STOPPED, TKO_R_REQUEST, &e);
	CHECK_EQ(e.state, TKO_STOPPED, "state in stopped");
	if (e.next_probe_ms > (deadline - t0) / MS || e.next_probe_ms < (deadline - t1) / MS)
		fail_msg("next_probe_ms %u, want %llu", e.next_probe_ms,
			 (unsigned long long)((deadline - t0) / MS));
	check_tcp_state(&e.tcp, &a.tcp);
	CHECK_EQ(sess_read(id).state, TKO_FREE, "the stopped entry");
}

/* ------------------------------------------------- long sleeps: timestamps */

/*
 * The endpoint's segment with TSval tsval leaving (TC egress), as if its
 * first TSval (the one its session started with) were dt_ns older: the
 * session measures its clock's rate from the two.
 */
static void ts_sample(__u32 id, uint16_t port, uint32_t tsval, uint64_t dt_ns)
{
	struct tko_session s = sess_read(id);
	struct seg_spec e = from_endpoint(P_TS, port);
	struct frame f;
	uint8_t out[FRAME_MAX];
	size_t out_len;

	s.started_ns -= dt_ns;
	h_write(id, &s);
	e.tsval = tsval;
	frame_build(&f, &e);
	CHECK_EQ(h_run_tc(f.b, f.len, 0, out, &out_len), 0, "verdict of the endpoint's segment");
}

/* Ask the clock to look at session id, as the programs do (sched_request). */
static void request_id(__u32 id)
{
	struct tko_session s = sess_read(id);

	if (s.clock.req)
		return;
	s.clock.req = 1;
	h_write(id, &s);
	if (bpf_map_update_elem(MAP(requests), NULL, &id, BPF_ANY))
		fail_msg("cannot queue a request: %s", strerror(errno));
}

/* The session's TSval as if tsval_age_ns had passed since it was seen; looked at now. */
static void ts_age(__u32 id, uint64_t tsval_age_ns)
{
	struct tko_session s = sess_read(id);

	s.ts_seen_ns = now_ns() - tsval_age_ns;
	h_write(id, &s);
	request_id(id);
}

/*
 * RFC 7323 5.5. A session whose TSvals are the endpoint's own (a forwarded
 * flow, state given) resends the endpoint's last TSval V: it may never be
 * ahead of the endpoint's clock (which stops while a host is suspended).
 * The peer takes V as TS.Recent, and its PAWS check drops a segment whose
 * TSval is 2^31 or more past it. So the session ends, reason ts_limit,
 * before the endpoint's clock can be 2^30 ticks past V, at the rate its
 * segments showed (1 kHz at least): the clock is driven forward by ageing
 * V, and the endpoint's first real segment after the end is checked
 * against the peer's PAWS test, which it passes; resending V for 25 days,
 * as tko did, would fail it.
 */
static void check_ts_limit(uint16_t port, uint32_t ticks, uint64_t dt_ns, uint64_t hz_lo,
			   uint64_t hz_hi)
{
	struct tko_ctl_args a = clk_args(P_TS, port, 3600, 3600, 3, 0);
	uint64_t limit_ns, ended_age;
	struct tko_session s;
	struct tko_event e;
	uint32_t v, w;
	__u32 id;
	size_t ev0;

	clock_begin_default();
	id = start(&a);
	set_active(id, 0, now_ns() + 3600 * NSEC_PER_SEC);
	if (ticks)
		ts_sample(id, port, TSVAL + ticks, dt_ns);
	s = sess_read(id);
	v = s.tcp.ts_val;
	CHECK_EQ(v, TSVAL + ticks, "the endpoint's last TSval");
	if (s.ts_hz < hz_lo || s.ts_hz > hz_hi)
		fail_msg("the endpoint's TS clock: %u Hz, want [%llu, %llu]", s.ts_hz,
			 (unsigned long long)hz_lo, (unsigned long long)hz_hi);
	limit_ns = (1ULL << 30) * NSEC_PER_SEC / (s.ts_hz > 1000 ? s.ts_hz : 1000);

	/* a minute before the limit: kept, and looked at again at the limit */
	ts_age(id, limit_ns - 60 * NSEC_PER_SEC);
	h_pass();
	s = sess_read(id);
	CHECK_EQ(s.state, TKO_ACTIVE, "state a minute before the limit");
	CHECK_EQ(s.next_ns, s.ts_seen_ns + limit_ns, "next_ns: the limit");

	/* at the limit: ended, with its reason */
	ev0 = ev_mark();
	ts_age(id, limit_ns + NSEC_PER_SEC);
	PASS_UNTIL(sess_read(id).state != TKO_ACTIVE, 5, "ended at the limit");
	h_drain();
	check_one_event(&a.key, ev0, TKO_EV_INVALIDATED, TKO_R_TS_LIMIT, &e);
	CHECK_EQ(e.tcp.ts_val, v, "the last TSval tko sent (the peer's TS.Recent)");
	CHECK_EQ(sess_read(id).state, TKO_FREE, "the ended session's entry");
	ended_age = limit_ns + NSEC_PER_SEC;

	/* The endpoint wakes then: its clock ran at most at hz_hi; its first
	 * real segment's TSval against TS.Recent = v passes PAWS (RFC 7323
	 * 5.3: not older, within 2^31). */
	w = v + (uint32_t)(ended_age / NSEC_PER_SEC * hz_hi * 4 / 5);	/* its real rate */
	if ((int32_t)(w - v) < 0 || w - v > (1u << 30) + hz_hi * 2)
		fail_msg("PAWS: TSval %u against TS.Recent %u", w, v);
	/* Resending v for 25 days, the endpoint at 1 kHz: rejected as old. */
	w = v + 25u * 24 * 3600 * 1000;
	CHECK_EQ((int32_t)(w - v) < 0, 1, "PAWS after 25 days of the same TSval");
}

/* An endpoint whose TS clock ticks in ms (Linux, Windows, the BSDs). */
static void test_ts_limit_ms(void **state)
{
	check_ts_limit(3300, 2000, 2 * NSEC_PER_SEC, 1000, 1300);
}

/* One in us (Linux's tcp_usec_ts): the limit is minutes away, not days. */
static void test_ts_limit_us(void **state)
{
	check_ts_limit(3301, 2000000, 2 * NSEC_PER_SEC, 1000000, 1300000);
}

/* One in us, seen for a fifth of a second only: known for what it is already. */
static void test_ts_limit_us_short(void **state)
{
	check_ts_limit(3303, 200000, NSEC_PER_SEC / 5, 1000000, 2100000);
}

/* A rate never measured (one segment seen): 1 kHz, RFC 7323 5.4's most. */
static void test_ts_limit_unknown_rate(void **state)
{
	check_ts_limit(3302, 0, 0, 0, 0);
}

/* ------------------------------------------------------------- the group */

static int netns_setup(void)
{
	struct if_nameindex *ifs;
	struct ifreq r = {};
	int n = 0, fd;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "cannot create a network namespace: %s\n", strerror(errno));
		return -1;
	}
	ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		n++;
	if (!ifs || n != 1 || strcmp(ifs[0].if_name, "lo")) {
		fprintf(stderr, "the new network namespace is not empty: giving up\n");
		if_freenameindex(ifs);
		return -1;
	}
	lo_ifindex = (int)ifs[0].if_index;
	if_freenameindex(ifs);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(r.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &r) ||
	    (r.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &r))) {
		fprintf(stderr, "cannot bring lo up: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int group_setup(void **state)
{
	if (netns_setup() || h_load(MAX_SESSIONS))
		return -1;
	/* lo stands for an interface of the agent: the sessions' path. */
	h_iface_set((__u32)lo_ifindex, TKO_ANSWER_XDP, false);
	return 0;
}

#define TEST(f) cmocka_unit_test_teardown(f, clock_end)

/*
 * Tests whose premise is a setup of thousands of sessions within a few
 * ticks: under emulation (tests/vm, TKO_TEST_EMULATED) that setup alone
 * takes seconds, and they are left out there, said so; make test runs them
 * on this machine's kernel. Each checks its premise and fails if it does
 * not hold.
 */
static const char *const timing_bound[] = { "test_budget_backlog", "test_only_due_touched" };

int main(void)
{
	static const struct CMUnitTest all[] = {
		TEST(test_ts_limit_ms),
		TEST(test_ts_limit_us),
		TEST(test_ts_limit_unknown_rate),
		TEST(test_ts_limit_us_short),
		TEST(test_hold_idle_cap),
		TEST(test_hold_until_due),
		TEST(test_hold_requests_left),
		TEST(test_budget_backlog),
		TEST(test_only_due_touched),
		TEST(test_level1_moves_down),
		TEST(test_suspend_refiles),
		TEST(test_stop_frees_entry),
		TEST(test_oneshot_frees_entry),
		TEST(test_busy_pass),
		TEST(test_death_after_wait),
		TEST(test_answered_then_retries),
		TEST(test_retries_then_reset),
		TEST(test_suspend_resume),
		TEST(test_stop_handoff),
	};
	struct CMUnitTest tests[sizeof(all) / sizeof(all[0])];
	size_t n = h_timing_filter(all, sizeof(all) / sizeof(all[0]), timing_bound,
				   sizeof(timing_bound) / sizeof(timing_bound[0]), tests);

	return _cmocka_run_group_tests("prog_clock", tests, n, group_setup, h_group_teardown);
}
