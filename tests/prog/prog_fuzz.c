// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program fuzzing (issue 9, item 1, and the off-path checks of item 2):
 * random and mutated frames through BPF_PROG_RUN into tko_xdp_ingress and
 * tko_tc_egress, with live sessions in the table, and invariants checked
 * after EVERY run against a model written here, independently of bpf/:
 *
 *  - verdicts: XDP only PASS, TX or DROP; TC only TC_ACT_OK, frame unchanged;
 *  - XDP_TX only for an exact keepalive probe of an ACTIVE session (bare ACK,
 *    PSH/ECE/CWR tolerated, 0/1 byte, seq = RCV.NXT - 1, ack = SND.NXT, TSopt
 *    iff the session uses it, no MD5/AO, answer budget left), and the frame
 *    sent is byte for byte the answer rebuilt here (frames.h, RFC 1071);
 *  - XDP_DROP only for the exact answer to tko's outstanding probe;
 *  - every other verdict leaves the frame untouched (truncated frames too);
 *  - the whole session table after the run is what the model predicts from
 *    the table before it: a frame whose seq/ack do not match exactly changes
 *    nothing; only an exact in-sequence RST (seq = RCV.NXT), FIN or data
 *    (seq = RCV.NXT, ACK set, ack = SND.NXT) changes the state; TC egress
 *    follows docs/architecture.md's table; events match the transitions;
 *  - the rest of the table is what the fuzzer's own model of it says, after
 *    every run: the session entries by id (XDP and TC never touch another
 *    session's entry, nor an unused one), the index (every live session
 *    reachable by its key exactly once, every index entry pointing to a live
 *    id with its tag), the clock's part of each entry and the wheel lists
 *    (changed only by the two documented paths, see struct tmodel), the
 *    table geometry and the wheel clock (never), the global counters (each
 *    moves by what the model says, none goes down; a session's counters
 *    never go down), and tko_table_find() finds exactly the live sessions.
 *
 * Sessions are created with the real tko_start (BPF_PROG_RUN of the ctl
 * program), made ACTIVE by the real clock (carrier passes, h_pass), driven
 * by real frames into their shapes (ACTIVE with tko's first probe
 * outstanding, ACTIVE answered, ACTIVE with the endpoint's own keepalive
 * pending, LEARNING with and without state, SUSPENDED), then snapshotted
 * with their ids, index slots and wheel lists. No carrier pass runs after
 * that, so during the fuzz state changes only because of the frames. A
 * session is restored by id: its entry written back (h_write), and if the
 * datapath freed it, its id taken back out of free_ids, its index slot and
 * its place on its wheel list (at the tail, neighbours relinked) restored,
 * so that the clock fields stay consistent with the wheel.
 *
 * Every iteration draws from a PRNG seeded with (seed, iteration) and the
 * whole table (entries, index, wheel lists, queues) is reset to the snapshot
 * every RESTORE_EVERY iterations, so a run is a pure function of its seed: a
 * failure prints the seed, the iteration, the frame and the command that
 * replays it.
 *
 *   prog_fuzz                          bounded run (make test): fixed seeds + one from the clock
 *   prog_fuzz --iterations N [--seed S] [--progress SECS]      long run (make fuzz)
 *   env: TKO_FUZZ_ITERATIONS, TKO_FUZZ_SEED
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "harness.h"
#include "tko_hash.h"
#include "format.h"

#define TC_ACT_OK	0
#define LO_IFINDEX	1	/* skb->dev of BPF_PROG_RUN: the netns' loopback */
#define F_ECE		0x40
#define F_CWR		0x80

/* ------------------------------------------------------------------ */
/* PRNG: splitmix64, one stream per (seed, iteration)                  */

struct rng {
	uint64_t s;
};

static uint64_t r64(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t r32(struct rng *r) { return (uint32_t)r64(r); }
static uint32_t rn(struct rng *r, uint32_t n) { return n ? (uint32_t)(r64(r) % n) : 0; }
static bool chance(struct rng *r, unsigned pct) { return rn(r, 100) < pct; }

static struct rng rng_for(uint64_t seed, uint64_t i)
{
	struct rng r = { seed ^ (i * 0xd1b54a32d192ed03ull) ^ 0x746b6f66757a7aull };

	r64(&r);
	return r;
}

/* ------------------------------------------------------------------ */
/* The sessions under fuzz                                             */

enum shape {
	SH_ACTIVE,	/* ACTIVE, tko's first probe outstanding (unanswered = 1) */
	SH_ANSWERED,	/* ACTIVE, a peer probe answered: nothing outstanding */
	SH_EP_PROBE,	/* ACTIVE, the endpoint's own keepalive awaits its answer */
	SH_LEARNING,	/* LEARNING (given state, or none: P_NOSTATE) */
	SH_SUSPENDED,	/* ACTIVE, then in-sequence data from the peer */
};

struct fz_sess {
	unsigned prof;
	enum shape shape;
	bool probe_byte;
};

static const struct fz_sess SESS[] = {
	{ P_V4, SH_ACTIVE },
	{ P_TS, SH_ACTIVE },
	{ P_V6, SH_ACTIVE },
	{ P_V6 | P_TS, SH_ACTIVE },
	{ P_WRAP, SH_ACTIVE },
	{ P_V6 | P_TS | P_WRAP, SH_ACTIVE },
	{ P_TS | P_ONESHOT, SH_ACTIVE, true },
	{ P_V4, SH_ANSWERED },
	{ P_V6 | P_TS, SH_EP_PROBE },
	{ P_TS, SH_EP_PROBE },
	{ P_LEARNING, SH_LEARNING },
	{ P_V6 | P_TS | P_LEARNING, SH_LEARNING },
	{ P_NOSTATE, SH_LEARNING },
	{ P_V6 | P_TS | P_NOSTATE, SH_LEARNING },
	{ P_V4, SH_SUSPENDED },
	{ P_V6 | P_TS, SH_SUSPENDED },
};

#define NS		((int)(sizeof(SESS) / sizeof(SESS[0])))
#define FZ_PORT0	40000	/* session j has local port FZ_PORT0 + j */
#define MAXE		64	/* entries of the session table */
#define MAXB		64	/* index buckets at most (tko_index_buckets(MAXE) is 8) */
#define RESTORE_EVERY	256	/* iterations between two resets of the whole table */
#define HOT_RUN		RESTORE_EVERY	/* iterations during which one session gets half the frames */
#define IDLE_NS(s)	((uint64_t)(s)->cfg.idle_s * NSEC_PER_SEC)

static struct tko_key KEYS[NS];
static __u32 ID[NS];			/* session j's entry in `sessions`, as tko_start chose */
static int J_OF[MAXE];			/* and back; -1: an entry never handed out */
static struct tko_session SNAP[NS];	/* entry ID[j] at the snapshot: what a restore writes */
static struct tko_session CUR[NS];	/* entry ID[j] as last read (and checked) */
static bool CUR_PRESENT[NS];		/* ... live: its key finds it */
/* each session's last answer window, kept across deletions and restores */
static __u64 BUDGET_WIN[NS];
static __u32 BUDGET_N[NS];

/*
 * The model of the rest of the table. XDP and TC change the clock's part of
 * an entry, the index and the queues by two documented paths only
 * (bpf/lib/session.h, bpf/lib/wheel.h):
 *  - session_end: the index slot is cleared (session_unindex) and, as no
 *    pass holds the clock, the entry is freed at once (wheel_try_free): off
 *    its wheel list with its neighbours relinked, state TKO_FREE, index_entry
 *    0, its id pushed to free_ids; due_tick and req stay;
 *  - session_traffic suspending a session: sched_request sets clock.req and
 *    pushes the id to `requests`, unless it is queued already.
 * Nothing else: not due_tick, not l2_req, not need_l2, not the wheel clock,
 * not the table geometry or its allocator (fresh).
 */
struct wlist {
	__u32 list;		/* the wheel list's number */
	int n;
	int j[NS];		/* sessions on it, head first */
};

struct tmodel {
	struct tko_bucket index[MAXB];
	struct wlist wl[NS];
	int nwl;
	int wl_of[NS];		/* session j's list (in wl[]); -1: freed, on none */
	__u32 req[NS];		/* session j's clock.req */
	__u32 free_q[MAXE];	/* free_ids, oldest first */
	int nfree;
	__u32 req_q[MAXE];	/* requests, oldest first */
	int nreq;
};

static struct tmodel M, M_SNAP;
static int SNAP_WL[NS];			/* session j's list at the snapshot, in wl[] */
static struct tko_table TABLE;		/* never changes after the setup */
static struct tko_wheel_clock WCLOCK;	/* nor the clock: no pass runs during the fuzz */
static __u32 NEED_L2[MAXE];		/* the need_l2 queue at the snapshot */
static int NNEED_L2;

static uint16_t port_of(int j) { return (uint16_t)(FZ_PORT0 + j); }
static int sess_fd(void) { return bpf_map__fd(H.b.ctl->maps.sessions); }
static int index_fd(void) { return bpf_map__fd(H.b.ctl->maps.sessions_index); }
static int wheel_fd(void) { return bpf_map__fd(H.b.ctl->maps.wheel); }
static int free_ids_fd(void) { return bpf_map__fd(H.b.ctl->maps.free_ids); }
static int requests_fd(void) { return bpf_map__fd(H.b.ctl->maps.requests); }
static int need_l2_fd(void) { return bpf_map__fd(H.b.ctl->maps.need_l2); }

static bool live_state(__u8 state)
{
	return state != TKO_FREE && state != TKO_CREATING && state != TKO_STOPPED;
}

static int key_index(const struct tko_key *k)
{
	int j;

	for (j = 0; j < NS; j++)
		if (!memcmp(k, &KEYS[j], sizeof(*k)))
			return j;
	return -1;
}

/* The clock fields entry ID[j] must hold: its place on its list, per the model. */
static struct tko_clock model_clock(int j)
{
	struct tko_clock c = SNAP[j].clock;
	int k;

	c.req = M.req[j];
	c.list = c.next = c.prev = 0;
	if (M.wl_of[j] >= 0) {
		const struct wlist *l = &M.wl[M.wl_of[j]];

		for (k = 0; k < l->n && l->j[k] != j; k++)
			;
		c.list = l->list + 1;
		c.prev = k ? ID[l->j[k - 1]] + 1 : 0;
		c.next = k + 1 < l->n ? ID[l->j[k + 1]] + 1 : 0;
	}
	return c;
}

static struct tko_wheel_list model_list(const struct wlist *l)
{
	struct tko_wheel_list w = {
		.head = l->n ? ID[l->j[0]] + 1 : 0,
		.tail = l->n ? ID[l->j[l->n - 1]] + 1 : 0,
	};
	return w;
}

/* What session_end does to the model: off the wheel and the index, id freed. */
static void m_free(int j)
{
	struct wlist *l = &M.wl[M.wl_of[j]];
	__u32 pos = SNAP[j].index_pos;
	int k, o = 0;

	for (k = 0; k < l->n; k++)
		if (l->j[k] != j)
			l->j[o++] = l->j[k];
	l->n = o;
	M.wl_of[j] = -1;
	M.index[pos / TKO_BUCKET_SLOTS].slot[pos % TKO_BUCKET_SLOTS] = 0;
	M.free_q[M.nfree++] = ID[j];
}

/* What sched_request does to the model. */
static void m_request(int j)
{
	if (M.req[j])
		return;
	M.req[j] = 1;
	M.req_q[M.nreq++] = ID[j];
}

/* ---- reading the table ---- */

/* Every entry of the session table, by id, in one syscall. */
static void read_entries(struct tko_session *all)
{
	static __u32 keys[MAXE];
	__u32 count = MAXE, out_batch = 0;
	int err;

	err = bpf_map_lookup_batch(sess_fd(), NULL, &out_batch, keys, all, &count, NULL);
	if ((err && errno != ENOENT) || count != MAXE)
		fail_msg("cannot dump the session table: %s (%u entries)", strerror(errno), count);
}

static void read_index(struct tko_bucket *b)
{
	static __u32 keys[MAXB];
	__u32 count = TABLE.buckets, out_batch = 0;
	int err;

	err = bpf_map_lookup_batch(index_fd(), NULL, &out_batch, keys, b, &count, NULL);
	if ((err && errno != ENOENT) || count != TABLE.buckets)
		fail_msg("cannot dump the index: %s", strerror(errno));
}

static struct tko_wheel_list read_list(__u32 list)
{
	struct tko_wheel_list w;

	if (bpf_map_lookup_elem(wheel_fd(), &list, &w))
		fail_msg("cannot read wheel list %u: %s", list, strerror(errno));
	return w;
}

/* The global counters, summed over the CPUs. */
static void read_stats(uint64_t *out)
{
	static __u32 keys[TKO_ST_MAX];
	int ncpu = libbpf_num_possible_cpus(), k, c;
	__u32 count = TKO_ST_MAX, out_batch = 0;
	__u64 *v = calloc((size_t)TKO_ST_MAX * (ncpu > 0 ? ncpu : 1), sizeof(*v));
	int err;

	if (!v || ncpu <= 0)
		fail_msg("cannot read the stats");
	err = bpf_map_lookup_batch(bpf_map__fd(H.b.ctl->maps.stats), NULL, &out_batch, keys, v,
				   &count, NULL);
	if ((err && errno != ENOENT) || count != TKO_ST_MAX)
		fail_msg("cannot dump the stats: %s", strerror(errno));
	for (k = 0; k < TKO_ST_MAX; k++)
		for (out[k] = 0, c = 0; c < ncpu; c++)
			out[k] += v[(size_t)k * ncpu + c];
	free(v);
}

/* Pop a whole queue (oldest first); put back pushes it again in that order. */
static int queue_take(int fd, __u32 *out, int max)
{
	int n = 0;
	__u32 v;

	while (!bpf_map_lookup_and_delete_elem(fd, NULL, &v)) {
		if (n == max)
			fail_msg("a queue holds more than %d ids", max);
		out[n++] = v;
	}
	if (errno != ENOENT)
		fail_msg("cannot pop a queue: %s", strerror(errno));
	return n;
}

static void queue_put(int fd, const __u32 *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, NULL, &v[i], BPF_ANY))
			fail_msg("cannot push id %u back: %s", v[i], strerror(errno));
}

/* ---- the invariants of the table (fz_fail when a run broke one) ---- */

static void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void print_session(const char *what, const struct tko_session *s, bool present);

static void check_queue(int fd, const char *name, const __u32 *want, int n)
{
	__u32 got[MAXE];
	int k, m = queue_take(fd, got, MAXE);

	queue_put(fd, got, m);
	if (m != n)
		fz_fail("%s holds %d ids, the model %d", name, m, n);
	for (k = 0; k < n; k++)
		if (got[k] != want[k])
			fz_fail("%s[%d] is id %u, the model says %u", name, k, got[k], want[k]);
}

/*
 * The index, by its own rules: every entry points to a live session of ours
 * that has the entry's tag, sits in one of its key's two buckets and knows
 * where (index_pos, index_entry); every live session is found by its key
 * exactly once. Then the index is exactly the model's.
 */
static void check_index(const struct tko_bucket *idx, const struct tko_session *all)
{
	__u32 b, i, id;
	int j;

	for (b = 0; b < TABLE.buckets; b++) {
		for (i = 0; i < TKO_BUCKET_SLOTS; i++) {
			__u32 e = idx[b].slot[i], pos = b * TKO_BUCKET_SLOTS + i;
			const struct tko_session *s;
			__u64 h;

			if (!e)
				continue;
			id = tko_index_id(e);
			if (id >= MAXE || J_OF[id] < 0)
				fz_fail("index slot %u holds 0x%08x: no session of ours", pos, e);
			s = &all[id];
			if (!live_state(s->state))
				fz_fail("index slot %u points to id %u, which is not live (state %u)",
					pos, id, s->state);
			h = tko_hash_key(&s->key, TABLE.seed);
			if (tko_index_tag(e) != tko_hash_tag(h))
				fz_fail("index slot %u: tag 0x%02x, session %u's key has 0x%02x", pos,
					tko_index_tag(e), id, tko_hash_tag(h));
			if (b != tko_hash_bucket(h, TABLE.buckets, 0) &&
			    b != tko_hash_bucket(h, TABLE.buckets, 1))
				fz_fail("index slot %u: bucket %u is neither of id %u's key", pos, b, id);
			if (s->index_pos != pos || s->index_entry != e)
				fz_fail("id %u is in index slot %u as 0x%08x, it says slot %u as 0x%08x",
					id, pos, e, s->index_pos, s->index_entry);
		}
	}
	for (j = 0; j < NS; j++) {
		const struct tko_session *s = &all[ID[j]];
		__u64 h = tko_hash_key(&KEYS[j], TABLE.seed);
		__u32 b1 = tko_hash_bucket(h, TABLE.buckets, 0);
		__u32 b2 = tko_hash_bucket(h, TABLE.buckets, 1);
		int found = 0, w;

		if (!live_state(s->state))
			continue;
		for (w = 0; w < (b1 == b2 ? 1 : 2); w++) {
			b = w ? b2 : b1;
			for (i = 0; i < TKO_BUCKET_SLOTS; i++) {
				__u32 e = idx[b].slot[i];

				if (e && tko_index_tag(e) == tko_hash_tag(h) &&
				    live_state(all[tko_index_id(e)].state) &&
				    key_eq(&all[tko_index_id(e)].key, &KEYS[j]))
					found++;
			}
		}
		if (found != 1)
			fz_fail("live session #%d (id %u) is found %d times by its key", j, ID[j], found);
	}
	for (b = 0; b < TABLE.buckets; b++)
		for (i = 0; i < TKO_BUCKET_SLOTS; i++)
			if (idx[b].slot[i] != M.index[b].slot[i])
				fz_fail("index slot %u holds 0x%08x, the model 0x%08x",
					b * TKO_BUCKET_SLOTS + i, idx[b].slot[i], M.index[b].slot[i]);
}

/*
 * The wheel lists of the model, walked in the entries as read: each one's
 * head and tail, every link both ways, every session on it saying so, in
 * the model's order; and every entry's clock fields as the model says.
 */
static void check_wheel(const struct tko_session *all)
{
	int w, k, j;

	for (w = 0; w < M.nwl; w++) {
		const struct wlist *l = &M.wl[w];
		struct tko_wheel_list got = read_list(l->list), want = model_list(l);
		__u32 at = got.head, prev = 0;

		if (got.head != want.head || got.tail != want.tail)
			fz_fail("wheel list %u: head %u tail %u, the model %u %u", l->list, got.head,
				got.tail, want.head, want.tail);
		for (k = 0; at; k++) {
			const struct tko_session *s;

			if (at - 1 >= MAXE || J_OF[at - 1] < 0 || k >= l->n)
				fz_fail("wheel list %u: link %d to id %u", l->list, k, at - 1);
			s = &all[at - 1];
			if (J_OF[at - 1] != l->j[k])
				fz_fail("wheel list %u: #%d is id %u, the model says id %u", l->list,
					k, at - 1, ID[l->j[k]]);
			if (s->clock.list != l->list + 1 || s->clock.prev != prev)
				fz_fail("wheel list %u: id %u says list %u prev %u", l->list, at - 1,
					s->clock.list, s->clock.prev);
			prev = at;
			at = s->clock.next;
		}
		if (k != l->n || prev != got.tail)
			fz_fail("wheel list %u: %d sessions walked, the model has %d", l->list, k,
				l->n);
	}
	for (j = 0; j < NS; j++) {
		struct tko_clock want = model_clock(j);
		const struct tko_clock *got = &all[ID[j]].clock;

		if (!memcmp(got, &want, sizeof(want)))
			continue;
		fprintf(stderr, "  id %u clock: due_tick %llu list %u prev %u next %u req %u "
			"l2_req %u; the model: %llu %u %u %u %u %u\n", ID[j],
			(unsigned long long)got->due_tick, got->list, got->prev, got->next, got->req,
			got->l2_req, (unsigned long long)want.due_tick, want.list, want.prev,
			want.next, want.req, want.l2_req);
		fz_fail("session #%d (id %u): clock fields differ from the model", j, ID[j]);
	}
}

/* What no frame may change: the table's geometry and allocator, the wheel clock. */
static void check_fixed_maps(void)
{
	struct tko_wheel_clock wc = {};
	struct tko_table tb = h_table();
	__u32 zero = 0;

	if (memcmp(&tb, &TABLE, sizeof(tb)))
		fz_fail("the table map changed (fresh %u, was %u)", tb.fresh, TABLE.fresh);
	if (bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.clock), &zero, &wc) ||
	    memcmp(&wc, &WCLOCK, sizeof(wc)))
		fz_fail("the wheel clock changed (tick %llu busy %u)", (unsigned long long)wc.tick,
			wc.busy);
}

/*
 * Every entry read; CUR[j] and whether it is live. An entry never handed
 * out must stay all zero.
 */
static void dump_table(struct tko_session *all, struct tko_session *vals, bool *present)
{
	static const struct tko_session zero;
	__u32 id;
	int j;

	read_entries(all);
	for (id = 0; id < MAXE; id++)
		if (J_OF[id] < 0 && memcmp(&all[id], &zero, sizeof(zero)))
			fz_fail("entry %u, never handed out, changed (state %u)", id, all[id].state);
	for (j = 0; j < NS; j++) {
		vals[j] = all[ID[j]];
		present[j] = live_state(vals[j].state);
	}
}

/*
 * Everything a run does not check each time: the queues, and the whole
 * wheel (no list but the model's holds anything).
 */
static void check_rest(void)
{
	static struct tko_wheel_list lists[TKO_WHEEL_LISTS];
	static __u32 keys[TKO_WHEEL_LISTS];
	__u32 count = TKO_WHEEL_LISTS, out_batch = 0, l;
	int w, err;

	check_queue(free_ids_fd(), "free_ids", M.free_q, M.nfree);
	check_queue(requests_fd(), "requests", M.req_q, M.nreq);
	check_queue(need_l2_fd(), "need_l2", NEED_L2, NNEED_L2);
	err = bpf_map_lookup_batch(wheel_fd(), NULL, &out_batch, keys, lists, &count, NULL);
	if ((err && errno != ENOENT) || count != TKO_WHEEL_LISTS)
		fail_msg("cannot dump the wheel: %s", strerror(errno));
	for (l = 0; l < TKO_WHEEL_LISTS; l++) {
		struct tko_wheel_list want = {};

		for (w = 0; w < M.nwl; w++)
			if (M.wl[w].list == l)
				want = model_list(&M.wl[w]);
		if (lists[l].head != want.head || lists[l].tail != want.tail)
			fz_fail("wheel list %u: head %u tail %u, the model %u %u", l, lists[l].head,
				lists[l].tail, want.head, want.tail);
	}
}

/* ---- restoring (fixtures: no program runs meanwhile) ---- */

static void write_list(const struct wlist *l)
{
	struct tko_wheel_list w = model_list(l);

	if (bpf_map_update_elem(wheel_fd(), &l->list, &w, BPF_ANY))
		fail_msg("cannot write wheel list %u: %s", l->list, strerror(errno));
}

static void write_bucket(__u32 b)
{
	if (bpf_map_update_elem(index_fd(), &b, &M.index[b], BPF_ANY))
		fail_msg("cannot write index bucket %u: %s", b, strerror(errno));
}

/*
 * Give session j, freed by the datapath, its place back: its id out of
 * free_ids (the rest stay, in order), its index slot, the tail of its wheel
 * list (the old tail's entry relinked to it), as the carrier would have
 * filed it under the same due_tick.
 */
static void unfree(int j)
{
	struct wlist *l = &M.wl[SNAP_WL[j]];
	__u32 pos = SNAP[j].index_pos, got[MAXE];
	int k, o = 0, n;

	n = queue_take(free_ids_fd(), got, MAXE);
	for (k = 0; k < n; k++)
		if (got[k] != ID[j])
			got[o++] = got[k];
	if (o != n - 1)
		fz_fail("restore: id %u is in free_ids %d times", ID[j], n - o);
	queue_put(free_ids_fd(), got, o);
	memcpy(M.free_q, got, o * sizeof(*got));
	M.nfree = o;

	if (M.index[pos / TKO_BUCKET_SLOTS].slot[pos % TKO_BUCKET_SLOTS])
		fz_fail("restore: index slot %u of id %u is taken", pos, ID[j]);
	M.index[pos / TKO_BUCKET_SLOTS].slot[pos % TKO_BUCKET_SLOTS] = SNAP[j].index_entry;
	write_bucket(pos / TKO_BUCKET_SLOTS);

	l->j[l->n++] = j;
	M.wl_of[j] = SNAP_WL[j];
	if (l->n > 1) {
		int t = l->j[l->n - 2];

		CUR[t].clock = model_clock(t);
		h_write(ID[t], &CUR[t]);
	}
	write_list(l);
}

/*
 * Write session j's snapshot back to its entry, clock fields as the model
 * has them. keep_budget: the session keeps its answer window (the rate
 * limit is per session and per second, whatever its shape).
 */
static void restore_one(int j, bool keep_budget)
{
	struct tko_session v = SNAP[j];

	if (keep_budget) {
		v.answer_window_ns = BUDGET_WIN[j];
		v.answers_in_window = BUDGET_N[j];
	} else {
		BUDGET_WIN[j] = v.answer_window_ns;
		BUDGET_N[j] = v.answers_in_window;
	}
	if (M.wl_of[j] < 0)
		unfree(j);
	v.clock = model_clock(j);
	h_write(ID[j], &v);
	CUR[j] = v;
	CUR_PRESENT[j] = true;
}

static void restore(int j) { restore_one(j, false); }

/*
 * The whole table back to the snapshot: entries, index, wheel lists, the
 * queues (what the datapath left is checked first).
 */
static void restore_all(void)
{
	__u32 drop[MAXE], b;
	int j, w;

	check_rest();
	M = M_SNAP;
	for (j = 0; j < NS; j++) {
		BUDGET_WIN[j] = SNAP[j].answer_window_ns;
		BUDGET_N[j] = SNAP[j].answers_in_window;
		h_write(ID[j], &SNAP[j]);
		CUR[j] = SNAP[j];
		CUR_PRESENT[j] = true;
	}
	for (b = 0; b < TABLE.buckets; b++)
		write_bucket(b);
	for (w = 0; w < M.nwl; w++)
		write_list(&M.wl[w]);
	queue_take(free_ids_fd(), drop, MAXE);
	queue_take(requests_fd(), drop, MAXE);
	ring_buffer__consume(H.rb);
	H.nev = 0;
}

/* ------------------------------------------------------------------ */
/* The model's own parser (what docs/architecture.md says tko parses)   */

struct mpkt {
	bool ok;
	bool v6;
	uint16_t tag_proto;	/* 0: untagged */
	uint16_t tci;		/* the tag's PCP, DEI and VID */
	size_t l3, l4;
	uint32_t l4_len, payload_len;
	uint8_t smac[6], dmac[6];
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	bool has_ts, signed_;
	uint32_t tsval, tsecr;
	uint32_t flowinfo;	/* DSCP (TOS or traffic class, ECN cleared) << 20 | flow label */
	bool csum_ok;		/* IPv4 header and TCP checksums (observation only) */
};

/* option steps tko walks after a leading NOP,NOP,TS (TCP_MAX_OPTS, bpf/lib/parse.h) */
#define OPT_STEPS_MAX 8

static bool m_options(const uint8_t *o, uint32_t optlen, struct mpkt *p)
{
	uint32_t pos = 0, steps = 0;

	if (optlen >= 12 && o[0] == 1 && o[1] == 1 && o[2] == 8 && o[3] == 10) {
		p->has_ts = true;
		p->tsval = get32(o + 4);
		p->tsecr = get32(o + 8);
		pos = 12;
	}
	while (pos < optlen) {
		uint8_t kind = o[pos], len;

		if (steps++ == OPT_STEPS_MAX)
			return false;	/* more than tko walks: left alone */
		if (kind == 0)
			return true;	/* EOL: the rest is padding */
		if (kind == 1) {
			pos++;
			continue;
		}
		if (pos + 1 >= optlen)
			return false;
		len = o[pos + 1];
		if (len < 2 || pos + len > optlen)
			return false;
		if (kind == 19 || kind == 29)
			p->signed_ = true;
		if (kind == 8) {
			if (len != 10)
				return false;
			p->has_ts = true;
			p->tsval = get32(o + pos + 2);
			p->tsecr = get32(o + pos + 6);
		}
		pos += len;
	}
	return true;
}

static bool m_csum_ok(const uint8_t *b, const struct mpkt *p)
{
	struct seg_spec ps = { .v6 = p->v6 };
	uint32_t sum;

	if (!p->v6 && csum_finish(csum_add(0, b + p->l3, IP4_HDR_LEN)) != 0)
		return false;
	memcpy(ps.saddr, p->saddr, 16);
	memcpy(ps.daddr, p->daddr, 16);
	sum = csum_pseudo(&ps, PROTO_TCP, p->l4_len);
	return csum_finish(csum_add(sum, b + p->l4, p->l4_len)) == 0;
}

static bool m_parse(const uint8_t *b, size_t len, struct mpkt *p)
{
	size_t off = ETH_HDR_LEN;
	uint16_t et;
	uint32_t doff;

	memset(p, 0, sizeof(*p));
	if (len < ETH_HDR_LEN)
		return false;
	memcpy(p->dmac, b, 6);
	memcpy(p->smac, b + 6, 6);
	et = get16(b + 12);
	if (et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ) {	/* one tag */
		if (len < off + VLAN_TAG_LEN)
			return false;
		p->tag_proto = et;
		p->tci = get16(b + off);
		et = get16(b + off + 2);
		off += VLAN_TAG_LEN;
	}
	p->l3 = off;
	if (et == ETHERTYPE_IP) {
		uint32_t tot;

		if (len < off + IP4_HDR_LEN)
			return false;
		if (b[off] != 0x45 || b[off + 9] != PROTO_TCP)	/* v4, no options, TCP */
			return false;
		if (get16(b + off + 6) & 0x3fff)		/* MF or an offset: a fragment */
			return false;
		tot = get16(b + off + 2);
		if (tot < IP4_HDR_LEN + TCP_HDR_LEN || off + tot > len)
			return false;
		memcpy(p->saddr, b + off + 12, 4);
		memcpy(p->daddr, b + off + 16, 4);
		p->flowinfo = (uint32_t)(b[off + 1] & 0xfc) << 20;
		p->l4 = off + IP4_HDR_LEN;
		p->l4_len = tot - IP4_HDR_LEN;
	} else if (et == ETHERTYPE_IPV6) {
		uint32_t plen;

		if (len < off + IP6_HDR_LEN)
			return false;
		if (b[off] >> 4 != 6 || b[off + 6] != PROTO_TCP)	/* no extension header */
			return false;
		plen = get16(b + off + 4);
		if (plen < TCP_HDR_LEN || off + IP6_HDR_LEN + plen > len)
			return false;
		p->v6 = true;
		p->flowinfo = get32(b + off) & 0x0fcfffff;
		memcpy(p->saddr, b + off + 8, 16);
		memcpy(p->daddr, b + off + 24, 16);
		p->l4 = off + IP6_HDR_LEN;
		p->l4_len = plen;
	} else {
		return false;
	}
	doff = (uint32_t)(b[p->l4 + 12] >> 4) * 4;
	if (doff < TCP_HDR_LEN || doff > p->l4_len)
		return false;
	p->sport = get16(b + p->l4);
	p->dport = get16(b + p->l4 + 2);
	p->seq = get32(b + p->l4 + 4);
	p->ack = get32(b + p->l4 + 8);
	p->flags = b[p->l4 + 13];
	p->window = get16(b + p->l4 + 14);
	p->payload_len = p->l4_len - doff;
	if (!m_options(b + p->l4 + TCP_HDR_LEN, doff - TCP_HDR_LEN, p))
		return false;
	p->csum_ok = m_csum_ok(b, p);
	p->ok = true;
	return true;
}

static struct tko_key m_key(const struct mpkt *p, bool ingress)
{
	struct tko_key k = { .family = p->v6 ? TKO_AF_INET6 : TKO_AF_INET };
	size_t n = p->v6 ? 16 : 4;

	memcpy(k.laddr, ingress ? p->daddr : p->saddr, n);
	memcpy(k.raddr, ingress ? p->saddr : p->daddr, n);
	k.lport = ingress ? p->dport : p->sport;
	k.rport = ingress ? p->sport : p->dport;
	return k;
}

static bool after32(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

/* ------------------------------------------------------------------ */
/* The model: what a run must do, from the table before it             */

enum tpol { T_SAME, T_NOW };	/* a time field: unchanged, or stamped during the run */

struct expect {
	const char *why;	/* the outcome, for statistics and reports */
	int verdict;
	int target;		/* session index, -1: none of ours */
	bool present;		/* the target is live after the run (else freed) */
	struct tko_session s;	/* its entry after the run (time fields per policy) */
	enum tpol last_seen, answer_win, ct_refresh;
	bool ts_learned;	/* the endpoint's TS clock sampled: ts_seen_ns stamped, rate per the clock */
	bool next_from_last_seen;	/* next_ns = last_seen_ns + idle */
	uint8_t ev_type, ev_reason, ev_state;	/* ev_type 0: no event */
	struct tko_tcp_state ev_tcp;
	struct tko_counters ev_cnt;
	uint8_t st[TKO_ST_MAX];	/* how much each global counter moves */
};

/*
 * The conntrack refresh period (bpf/lib/conntrack.h, ct_due()): the fuzzed
 * datapath's agent_info leaves the established timeout at its default.
 */
#define CT_PERIOD_NS	(TKO_CT_ESTABLISHED_MS_DEFAULT * 1000000ULL / 4 < TKO_CT_REFRESH_MAX_NS ? \
			 TKO_CT_ESTABLISHED_MS_DEFAULT * 1000000ULL / 4 : TKO_CT_REFRESH_MAX_NS)

/*
 * A session kept alive (an answer, either way) looks its conntrack entry up
 * once per refresh period; none of the fuzzed flows has one.
 */
static void x_ct_lookup(struct expect *e, const struct tko_session *b, uint64_t t0, uint64_t t1,
			const struct tko_session *act, bool act_present)
{
	uint64_t r = b->ct_refresh_ns;
	bool due;

	if (!r || (int64_t)(t0 - r) >= (int64_t)CT_PERIOD_NS)
		due = true;
	else if ((int64_t)(t1 - r) < (int64_t)CT_PERIOD_NS)
		due = false;
	else	/* the period ended during the run: either is right */
		due = act_present && act->ct_refresh_ns != r;
	if (!due)
		return;
	e->st[TKO_ST_CT_MISSING]++;
	e->ct_refresh = T_NOW;
}

static void x_none(struct expect *e, const char *why, int verdict)
{
	e->why = why;
	e->verdict = verdict;
}

/*
 * FIN/RST/SYN/oneshot: the session ends with an "invalidated" event (state
 * TKO_STOPPED in it) and, no pass holding the clock, its entry is freed at
 * once: TKO_FREE, out of the index, no deadline.
 */
static void x_end(struct expect *e, uint8_t reason, const char *why)
{
	e->why = why;
	e->present = false;
	e->ev_type = TKO_EV_INVALIDATED;
	e->ev_reason = reason;
	e->ev_state = TKO_STOPPED;
	e->ev_tcp = e->s.tcp;
	e->ev_cnt = e->s.cnt;
	e->s.prev_state = e->s.state;
	e->s.state = TKO_FREE;
	e->s.next_ns = 0;
	e->s.index_entry = 0;
	e->st[TKO_ST_INVALIDATED]++;
	e->st[TKO_ST_EVENTS]++;
}

/* Payload (or drift): activity; an ACTIVE session is suspended. */
static void x_traffic(struct expect *e, uint8_t reason, const char *why)
{
	e->last_seen = T_NOW;
	if (e->s.state != TKO_ACTIVE) {
		e->why = "touched";
		return;
	}
	if (e->s.cfg.flags & TKO_F_ONESHOT) {
		x_end(e, reason, why);
		return;
	}
	e->why = why;
	e->s.prev_state = TKO_ACTIVE;
	e->s.state = TKO_SUSPENDED;
	e->next_from_last_seen = true;
	e->ev_type = TKO_EV_SUSPENDED;
	e->ev_reason = reason;
	e->ev_state = TKO_SUSPENDED;
	e->ev_tcp = e->s.tcp;
	e->ev_cnt = e->s.cnt;
	e->st[TKO_ST_SUSPENDED]++;
	e->st[TKO_ST_EVENTS]++;
}

static void x_init(struct expect *e, int j)
{
	memset(e, 0, sizeof(*e));
	e->target = j;
	e->verdict = XDP_PASS;
	if (j >= 0) {	/* its entry, live or freed */
		e->present = CUR_PRESENT[j];
		e->s = CUR[j];
	}
}

/*
 * XDP ingress, the peer's frame. t0/t1 bound the program's clock, c0/c1
 * its answer path's (bpf/lib/coarse.h); act is the target after the run,
 * used only where the clock decides (a rate window or a refresh period
 * that may or may not have ended during the run).
 */
static void model_xdp(const struct mpkt *p, int j, uint64_t t0, uint64_t t1, uint64_t c0,
		      uint64_t c1, const struct tko_session *act, bool act_present,
		      struct expect *e)
{
	const struct tko_session *b;
	struct tko_session *a = &e->s;
	uint32_t snd, una, rcv, wnd;
	uint8_t core;
	bool active, acks, ours, in_seq;

	x_init(e, j);
	if (!p->ok)
		return x_none(e, "unparsed", XDP_PASS);
	if (j < 0 || !e->present)
		return x_none(e, "no session", XDP_PASS);
	e->st[TKO_ST_XDP_SEEN]++;
	b = &CUR[j];
	if (!(b->have & TKO_HAVE_SEQ))
		return x_none(e, "no state", XDP_PASS);
	rcv = b->tcp.rcv_nxt;
	core = p->flags & ~(F_PSH | F_ECE | F_CWR);	/* URG, SYN, FIN, RST must be clear */
	active = b->state == TKO_ACTIVE;
	/* the endpoint's receive window as the peer may use it (64 KiB at least) */
	wnd = (uint32_t)b->tcp.window << (b->tcp.wscale & 15);
	if (wnd < 0xffff)
		wnd = 0xffff;

	/*
	 * Any acknowledgment of the peer's first: SND.UNA moves forward within
	 * what was sent (RFC 9293 3.10.7.4); a session that learned SND.NXT
	 * from bare segments only learns one more from the answer to the
	 * endpoint's own keepalive (bare ACK at RCV.NXT acknowledging SND.NXT + 1).
	 */
	if ((p->flags & (F_SYN | F_RST | F_ACK)) == F_ACK) {
		snd = b->tcp.snd_nxt;
		if ((b->have & TKO_HAVE_BARE) && p->ack == snd + 1 && !p->payload_len &&
		    !(p->flags & F_FIN) && p->seq == rcv)
			a->tcp.snd_nxt = snd = p->ack;
		if (b->have & TKO_HAVE_UNA) {
			/* SND.UNA < ack <= SND.NXT, the segment in the window */
			if (p->ack - b->tcp.snd_una - 1 < snd - b->tcp.snd_una &&
			    p->seq - (rcv - 1) <= wnd)
				a->tcp.snd_una = p->ack;
		} else if (!after32(p->ack, snd) && snd - p->ack <= (1u << 30) &&
			   (p->seq == rcv || p->seq == rcv - 1)) {
			/* learned only from a segment at RCV.NXT (or a keepalive) */
			a->tcp.snd_una = p->ack;
			a->have = (a->have | TKO_HAVE_UNA) & ~TKO_HAVE_BARE;
		}
		if ((b->notes & TKO_NOTE_WAITING) && (a->have & TKO_HAVE_UNA) &&
		    a->tcp.snd_una == a->tcp.snd_nxt &&
		    (b->state == TKO_LEARNING || b->state == TKO_SUSPENDED))
			m_request(j);
	}
	/* what the rest sees: the session after that */
	snd = a->tcp.snd_nxt;
	una = a->have & TKO_HAVE_UNA ? a->tcp.snd_una : snd;
	acks = p->ack - una <= snd - una;	/* SND.UNA <= ack <= SND.NXT */

	/* the peer's keepalive: answered within the budget */
	if (active && core == F_ACK && p->payload_len <= 1 && p->seq == rcv - 1 && acks) {
		uint64_t w = b->answer_window_ns;
		bool reset;

		/* RFC 7323 3.2 (TSopt on all segments or none), MD5/AO: a probe
		 * tko cannot answer goes to the endpoint; it is not off-path,
		 * counted and said once */
		if (p->has_ts != !!(b->have & TKO_HAVE_TS) || p->signed_) {
			uint32_t note = p->signed_ ? TKO_NOTE_DECLINED_SIGNED : TKO_NOTE_DECLINED_TS;

			e->st[TKO_ST_ANSWERS_DECLINED]++;
			if (!(b->notes & note)) {
				a->notes |= note;
				e->ev_type = TKO_EV_WARNING;
				e->ev_reason = p->signed_ ? TKO_R_SIGNED : TKO_R_TS_MISMATCH;
				e->ev_state = a->state;
				e->ev_tcp = a->tcp;
				e->ev_cnt = a->cnt;
				e->st[TKO_ST_EVENTS]++;
			}
			return x_none(e, "probe not answerable", XDP_PASS);
		}

		if ((int64_t)(c1 - w) < (int64_t)NSEC_PER_SEC)
			reset = false;
		else if ((int64_t)(c0 - w) >= (int64_t)NSEC_PER_SEC)
			reset = true;
		else	/* the second ended during the run: either is right */
			reset = act_present && act->answer_window_ns != w;
		if (reset) {
			e->answer_win = T_NOW;
			a->answers_in_window = 0;
		}
		if (a->answers_in_window >= TKO_ANSWER_BURST) {
			a->cnt.answers_limited++;
			e->st[TKO_ST_ANSWERS_LIMITED]++;
			return x_none(e, "rate limited", XDP_PASS);
		}
		a->answers_in_window++;
		a->cnt.peer_probes_answered++;
		e->st[TKO_ST_PEER_PROBES_ANSWERED]++;
		a->cnt.unanswered = 0;
		if (p->has_ts && after32(p->tsval, a->tcp.ts_ecr))	/* TS.Recent: forward only */
			a->tcp.ts_ecr = p->tsval;
		e->st[TKO_ST_ANSWERS_XDP]++;	/* the fuzzed interface answers with XDP */
		x_ct_lookup(e, b, c0, c1, act, act_present);
		return x_none(e, "answered", XDP_TX);
	}

	/* the peer's answer to tko's outstanding probe (or the endpoint's own),
	 * at its SND.NXT: RCV.NXT, or beyond within the window (its data waits) */
	if (active && core == F_ACK && p->payload_len == 0 && p->seq - rcv < wnd && acks) {
		ours = b->cnt.unanswered != 0;
		if (ours) {
			a->cnt.unanswered = 0;
			a->cnt.probes_answered++;
			e->st[TKO_ST_PROBES_ANSWERED]++;
		}
		if (p->has_ts && (ours || b->endpoint_probe) && after32(p->tsval, a->tcp.ts_ecr))
			a->tcp.ts_ecr = p->tsval;
		if (b->endpoint_probe) {
			a->endpoint_probe = 0;
			return x_none(e, "answer passed to the endpoint", XDP_PASS);
		}
		if (!ours)
			return x_none(e, "an ACK tko did not ask for", XDP_PASS);
		x_ct_lookup(e, b, c0, c1, act, act_present);
		return x_none(e, "consumed", XDP_DROP);
	}

	/* RFC 5961 3.2: a RST counts only at exactly RCV.NXT */
	in_seq = p->seq == rcv;
	if (p->flags & F_RST) {
		if (in_seq)
			x_end(e, TKO_R_RST_PEER, "ended by RST");
		else
			e->why = "off-path RST";
		if (!in_seq)
			e->st[TKO_ST_OFF_PATH]++;
		return;
	}
	if (p->flags & F_SYN)
		return x_none(e, "SYN", XDP_PASS);
	if ((p->flags & F_FIN) || p->payload_len) {
		/*
		 * It must acknowledge what the endpoint sent (RFC 9293 3.10.7.4:
		 * no ACK bit, or an ACK of unsent data, and the endpoint drops
		 * the segment; RFC 5961 5). In sequence (seq = RCV.NXT) it ends
		 * or suspends; within the endpoint's window (64 KiB at least) it
		 * is the peer's own, out of order (suspends: the peer speaks) or
		 * sent again (old); anything else is off-path.
		 */
		if (!(p->flags & F_ACK) || !acks) {
			e->why = "off-path FIN/data";
			e->st[TKO_ST_OFF_PATH]++;
			return;
		}
		if (in_seq) {
			if (p->flags & F_FIN)
				x_end(e, TKO_R_FIN_PEER, "ended by FIN");
			else
				x_traffic(e, TKO_R_DATA_PEER, "suspended by data");
			return;
		}
		if (after32(p->seq, rcv) && p->seq - rcv < wnd) {
			e->st[TKO_ST_PEER_OUT_OF_ORDER]++;
			x_traffic(e, TKO_R_DATA_PEER, "suspended by data out of order");
			return;
		}
		if (!after32(p->seq, rcv) && rcv - p->seq <= wnd &&
		    !after32(p->seq + p->payload_len, rcv)) {
			e->st[TKO_ST_PEER_OUT_OF_ORDER]++;
			e->why = "the peer's data again";
			return;
		}
		e->why = "off-path FIN/data";
		e->st[TKO_ST_OFF_PATH]++;
		return;
	}
	e->why = "ignored";
}

/* TC egress, the endpoint's own frame: docs/architecture.md's table. */
static void model_tc(const struct mpkt *p, int j, uint32_t mark, struct expect *e)
{
	const struct tko_session *b;
	struct tko_session *a = &e->s;
	bool have_seq, own, drift, fin;
	uint32_t end;

	x_init(e, j);
	e->verdict = TC_ACT_OK;
	if (mark == TKO_MARK)
		return x_none(e, "marked", TC_ACT_OK);
	if (!p->ok)
		return x_none(e, "unparsed", TC_ACT_OK);
	if (j < 0 || !e->present)
		return x_none(e, "no session", TC_ACT_OK);
	e->st[TKO_ST_TC_SEEN]++;
	b = &CUR[j];
	if (p->flags & F_RST)
		return x_end(e, TKO_R_RST_LOCAL, "ended by RST");
	have_seq = b->have & TKO_HAVE_SEQ;
	if (p->flags & F_SYN) {
		if (have_seq)
			return x_end(e, TKO_R_SYN_LOCAL, "ended by SYN");
		return x_none(e, "handshake", TC_ACT_OK);
	}
	if (!(p->flags & F_ACK))
		return x_none(e, "no ACK", TC_ACT_OK);

	fin = p->flags & F_FIN;
	/* its own keepalive or zero-window probe: seq = SND.UNA - 1 (SND.NXT - 1
	 * while SND.UNA is not known), 0 or 1 byte; not data, not activity */
	own = have_seq && p->payload_len <= 1 && !fin &&
	      p->seq == (b->have & TKO_HAVE_UNA ? b->tcp.snd_una : b->tcp.snd_nxt) - 1;
	/* a pure ACK that disagrees with an ACTIVE session: the endpoint saw more */
	drift = b->state == TKO_ACTIVE && !own &&
		(p->seq != b->tcp.snd_nxt || p->ack != b->tcp.rcv_nxt);

	/* learning: sequence numbers never go backwards, nor does the TS clock */
	end = p->seq + p->payload_len + fin;
	if (!own && (!have_seq || after32(end, b->tcp.snd_nxt)))
		a->tcp.snd_nxt = end;
	if (!have_seq || after32(p->ack, b->tcp.rcv_nxt))
		a->tcp.rcv_nxt = p->ack;
	a->tcp.window = p->window;
	if (p->has_ts) {
		bool had = b->have & TKO_HAVE_TS;

		/* the endpoint's clock and TS.Recent only move forward */
		if (!had || after32(p->tsval, b->tcp.ts_val)) {
			a->tcp.ts_val = p->tsval;
			e->ts_learned = true;
		}
		if (!had)
			a->ts_first_val = p->tsval;
		if (!had || after32(p->tsecr, b->tcp.ts_ecr))
			a->tcp.ts_ecr = p->tsecr;
		a->have |= TKO_HAVE_TS;
	}
	a->flowinfo = p->flowinfo;
	/* from a bare first segment SND.NXT may be one short; data says it */
	if (!have_seq && !fin && !p->payload_len)
		a->have |= TKO_HAVE_BARE;
	else if (fin || p->payload_len)
		a->have &= ~TKO_HAVE_BARE;
	memcpy(a->lmac, p->smac, 6);
	memcpy(a->rmac, p->dmac, 6);
	a->ifindex = LO_IFINDEX;
	/* the endpoint's VLAN tag, as in the frame (BPF_PROG_RUN has no offloaded tag) */
	a->vlan_tci = p->tag_proto ? p->tci : 0;
	a->vlan_proto = p->tag_proto ? htons(p->tag_proto) : 0;
	a->have |= TKO_HAVE_SEQ | TKO_HAVE_L2;
	if (own)
		a->endpoint_probe = 1;
	e->why = own ? "own keepalive" : "learned";

	if (fin)
		x_end(e, TKO_R_FIN_LOCAL, "ended by FIN");
	else if (p->payload_len && !own)
		x_traffic(e, TKO_R_DATA_LOCAL, "suspended by data");
	else if (drift)
		x_traffic(e, TKO_R_DRIFT, "suspended by drift");
}

/* ------------------------------------------------------------------ */
/* Reporting                                                          */

struct fz_stats {
	uint64_t runs[2];		/* xdp, tc */
	uint64_t tx, drop, limited, tx_bad_csum, deleted[2], suspended[2], touched[2];
	uint64_t learned, own_probe, unparsed[2], nosess[2], refused, marked, restores, ep_pass;
};

/* One iteration, for the report of a failure. */
struct fz_iter {
	const char *test;
	uint64_t seed, iter;
	bool tc;
	const char *kind;
	char muts[256];
	struct frame f;
	uint32_t mark;
	int target;
	bool before_present;
	struct tko_session before;
	const struct expect *e;
};

static void print_session(const char *what, const struct tko_session *s, bool present)
{
	fprintf(stderr,
		"  %s:%s state %u prev %u have 0x%x ep_probe %u snd_una 0x%08x snd_nxt 0x%08x rcv_nxt 0x%08x "
		"win 0x%04x ts_val 0x%08x ts_ecr 0x%08x\n"
		"      cnt sent %u answered %u peer_answered %u unanswered %u limited %u; "
		"answers_in_window %u answer_window %" PRIu64 " last_seen %" PRIu64
		" next %" PRIu64 " ifindex %u\n"
		"      index slot %u entry 0x%08x; clock due_tick %" PRIu64 " list %u prev %u "
		"next %u req %u l2_req %u\n",
		what, present ? "" : " (not live)", s->state, s->prev_state, s->have,
		s->endpoint_probe, s->tcp.snd_una, s->tcp.snd_nxt, s->tcp.rcv_nxt, s->tcp.window, s->tcp.ts_val,
		s->tcp.ts_ecr, s->cnt.probes_sent, s->cnt.probes_answered,
		s->cnt.peer_probes_answered, s->cnt.unanswered, s->cnt.answers_limited,
		s->answers_in_window, (uint64_t)s->answer_window_ns, (uint64_t)s->last_seen_ns,
		(uint64_t)s->next_ns, s->ifindex, s->index_pos, s->index_entry,
		(uint64_t)s->clock.due_tick, s->clock.list, s->clock.prev, s->clock.next,
		s->clock.req, s->clock.l2_req);
}

static const struct fz_iter *CUR_IT;	/* the iteration being checked */

static void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fz_fail(const char *fmt, ...)
{
	const struct fz_iter *it = CUR_IT;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (it) {
		fprintf(stderr, "\nprog_fuzz: INVARIANT VIOLATED in %s: %s\n", it->test, msg);
		if (!it->kind) {	/* found by a restore, before or after a frame */
			fprintf(stderr, "  seed 0x%" PRIx64 " iteration %" PRIu64 ", restoring the table\n"
				"  replay the run: build/tests/prog_fuzz --seed 0x%" PRIx64
				" --iterations %" PRIu64 "\n", it->seed, it->iter, it->seed, it->iter + 1);
			fail_msg("%s", msg);
		}
		fprintf(stderr, "  seed 0x%" PRIx64 " iteration %" PRIu64 ", %s, seed frame '%s', "
			"mutations [%s], skb mark 0x%x\n", it->seed, it->iter,
			it->tc ? "tc_egress" : "xdp_ingress", it->kind, it->muts, it->mark);
		if (it->e)
			fprintf(stderr, "  model: %s, verdict %d\n", it->e->why, it->e->verdict);
		hexdump("  frame", it->f.b, it->f.len);
		if (it->target >= 0) {
			fprintf(stderr, "  target session #%d (local port %u)\n", it->target,
				port_of(it->target));
			print_session("before", &it->before, it->before_present);
		}
		if (it->iter != UINT64_MAX)
			fprintf(stderr, "  replay the run: build/tests/prog_fuzz --seed 0x%" PRIx64
				" --iterations %" PRIu64 "\n", it->seed, it->iter + 1);
		fprintf(stderr, "  replay the frame on the fresh table: build/tests/prog_fuzz%s --frame ",
			it->tc ? " --tc" : "");
		for (size_t b = 0; b < it->f.len; b++)
			fprintf(stderr, "%02x", it->f.b[b]);
		if (it->mark)
			fprintf(stderr, " --mark 0x%x", it->mark);
		fprintf(stderr, "\n");
	}
	fail_msg("%s", msg);
	abort();	/* not reached: fail_msg longjmps */
}

/*
 * Compare the target's entry with the model, live or freed; say which field
 * differs. The clock fields are check_wheel()'s.
 */
static void check_session(const struct expect *e, const struct tko_session *act,
			  uint64_t t0, uint64_t t1, uint64_t c0, uint64_t c1)
{
	struct tko_session want = e->s, got = *act;

	if (e->last_seen == T_NOW) {
		if (act->last_seen_ns < t0 || act->last_seen_ns > t1)
			fz_fail("last_seen_ns %" PRIu64 " not stamped during the run [%" PRIu64
				", %" PRIu64 "]", (uint64_t)act->last_seen_ns, t0, t1);
		want.last_seen_ns = act->last_seen_ns;
	}
	if (e->next_from_last_seen)
		want.next_ns = act->last_seen_ns + IDLE_NS(&want);
	if (e->ts_learned) {
		/* sampled now; its rate and first sample per the program's clock */
		if (act->ts_seen_ns < t0 || act->ts_seen_ns > t1)
			fz_fail("ts_seen_ns not stamped during the run");
		want.ts_seen_ns = act->ts_seen_ns;
		want.ts_hz = act->ts_hz;
		want.ts_first_ms = act->ts_first_ms;
	}
	if (e->answer_win == T_NOW) {
		if (act->answer_window_ns < c0 || act->answer_window_ns > c1)
			fz_fail("answer_window_ns not restarted during the run");
		want.answer_window_ns = act->answer_window_ns;
	}
	if (e->ct_refresh == T_NOW) {
		if (act->ct_refresh_ns < c0 || act->ct_refresh_ns > c1)
			fz_fail("ct_refresh_ns not stamped during the run");
		want.ct_refresh_ns = act->ct_refresh_ns;
	}
	/* TS.Recent of a session without TSopt never reaches the wire (nothing
	 * forged for it carries TSopt; learning TSopt overwrites it): not state */
	if (!(want.have & TKO_HAVE_TS) && !(got.have & TKO_HAVE_TS))
		want.tcp.ts_ecr = got.tcp.ts_ecr;
	memset(&want.clock, 0, sizeof(want.clock));
	memset(&got.clock, 0, sizeof(got.clock));
	if (!memcmp(&want, &got, sizeof(want)))
		return;
	print_session("expected", &want, e->present);
	print_session("after", &got, live_state(got.state));
#define DIFF(f) if (memcmp(&want.f, &got.f, sizeof(want.f))) fz_fail("session field " #f " differs from the model")
	DIFF(state); DIFF(prev_state); DIFF(have); DIFF(endpoint_probe); DIFF(notes);
	DIFF(flowinfo); DIFF(fail); DIFF(deferred); DIFF(ts_first_val); DIFF(ts_seen_ns);
	DIFF(tcp.snd_una); DIFF(tcp.snd_nxt); DIFF(tcp.rcv_nxt); DIFF(tcp.window); DIFF(tcp.ts_val);
	DIFF(tcp.ts_ecr); DIFF(tcp); DIFF(cnt.unanswered); DIFF(cnt.probes_answered);
	DIFF(cnt.peer_probes_answered); DIFF(cnt.answers_limited); DIFF(cnt);
	DIFF(cfg); DIFF(ifindex); DIFF(lmac); DIFF(rmac); DIFF(started_ns);
	DIFF(last_seen_ns); DIFF(next_ns); DIFF(probe_ns); DIFF(answer_window_ns);
	DIFF(ct_refresh_ns);
	DIFF(answers_in_window); DIFF(vlan_tci); DIFF(vlan_proto);
	DIFF(key); DIFF(policy); DIFF(index_pos); DIFF(index_entry);
#undef DIFF
	{
		const uint8_t *w = (const uint8_t *)&want, *g = (const uint8_t *)&got;
		size_t o = 0;

		while (o < sizeof(want) && w[o] == g[o])
			o++;
		fz_fail("session differs from the model at byte %zu of struct tko_session", o);
	}
}

static void check_events(const struct expect *e, uint64_t t0, uint64_t t1)
{
	const struct tko_event *ev = &H.ev[0];

	if (H.ev_overflow)
		fz_fail("event buffer overflow");
	if (H.nev != (e->ev_type ? 1u : 0u))
		fz_fail("%zu events, the model expects %d", H.nev, e->ev_type ? 1 : 0);
	if (!e->ev_type)
		return;
	if (!key_eq(&ev->key, &KEYS[e->target]))
		fz_fail("event for another session");
	if (ev->type != e->ev_type || ev->reason != e->ev_reason || ev->state != e->ev_state)
		fz_fail("event type/reason/state %u/%u/%u, want %u/%u/%u", ev->type, ev->reason,
			ev->state, e->ev_type, e->ev_reason, e->ev_state);
	if (memcmp(&ev->tcp, &e->ev_tcp, sizeof(ev->tcp)))
		fz_fail("event TCP state (handoff) differs from the session's");
	if (memcmp(&ev->cnt, &e->ev_cnt, sizeof(ev->cnt)))
		fz_fail("event counters differ from the session's");
	if (ev->ts_ns < t0 || ev->ts_ns > t1)
		fz_fail("event timestamp outside the run");
	if (e->ev_type == TKO_EV_INVALIDATED && ev->next_probe_ms)
		fz_fail("invalidated event with a next deadline");
	if (e->ev_type == TKO_EV_SUSPENDED) {
		uint64_t idle_ms = (uint64_t)e->s.cfg.idle_s * 1000;

		if (ev->next_probe_ms > idle_ms ||
		    ev->next_probe_ms + (t1 - t0) / 1000000 + 1 < idle_ms)
			fz_fail("suspended event: next_probe_ms %u, want about %" PRIu64,
				ev->next_probe_ms, idle_ms);
	}
}

/* The answer to probe p of session b, rebuilt from the model's own parse. */
static void expected_answer_frame(const struct mpkt *p, const uint8_t *in,
				  const struct tko_session *b, struct frame *want)
{
	struct seg_spec q = { .v6 = p->v6, .vlan_proto = p->tag_proto };
	struct seg_spec a;

	memcpy(q.smac, p->smac, 6);
	memcpy(q.dmac, p->dmac, 6);
	memcpy(q.saddr, p->saddr, 16);
	memcpy(q.daddr, p->daddr, 16);
	q.sport = p->sport;
	q.dport = p->dport;
	a = answer_spec(&q, b->tcp.snd_nxt, b->tcp.rcv_nxt, b->tcp.window, p->has_ts,
			b->tcp.ts_val, after32(b->tcp.ts_ecr, p->tsval) ? b->tcp.ts_ecr : p->tsval);
	a.tos = (uint8_t)(b->flowinfo >> 20);
	a.flow = p->v6 ? b->flowinfo & 0xfffff : 0;
	frame_build(want, &a);
	if (p->tag_proto)	/* the tag goes back as it came (PCP, DEI, VID) */
		memcpy(want->b + ETH_HDR_LEN, in + ETH_HDR_LEN, 2);
}

/* ------------------------------------------------------------------ */
/* Running one frame and checking everything                          */


/* A session's counters only go up (between two restores). */
static void check_monotone(int j, const struct tko_counters *a, const struct tko_counters *b)
{
#define UP(f) if (b->f < a->f) fz_fail("session #%d: counter " #f " went down (%u -> %u)", j, a->f, b->f)
	UP(probes_sent); UP(probes_answered); UP(peer_probes_answered); UP(answers_limited);
	UP(probes_late);
#undef UP
}

/*
 * Run the frame it->f through XDP (or TC), then check the verdict, the
 * frame, every entry of the table, the index, the wheel, the counters and
 * the events against the model. The table as read after the run becomes
 * the model's next "before".
 */
static void run_checked(struct fz_iter *it, struct fz_stats *st)
{
	static struct tko_session all[MAXE], after[NS];
	static struct tko_bucket idx[MAXB];
	static bool present[NS];
	uint64_t st0[TKO_ST_MAX], st1[TKO_ST_MAX];
	uint8_t out[FRAME_MAX];
	size_t out_len = 0;
	struct expect e;
	struct mpkt p;
	struct tko_key k;
	int verdict, j = -1, i;
	uint64_t t0, t1, c0, c1;
	bool tc = it->tc;

	CUR_IT = it;
	it->e = NULL;
	if (m_parse(it->f.b, it->f.len, &p)) {
		k = m_key(&p, !tc);
		j = key_index(&k);
	}
	it->target = j;
	if (j >= 0) {
		it->before = CUR[j];
		it->before_present = CUR_PRESENT[j];
	}
	H.nev = 0;
	H.ev_overflow = false;
	st->runs[tc]++;
	read_stats(st0);

	c0 = h_coarse_now();
	t0 = now_ns();
	if (tc) {
		int err = h_try_tc(it->f.b, it->f.len, it->mark, out, &out_len, &verdict);

		if (err) {
			if (tc_run_refuses(it->f.b, it->f.len) || it->f.len < ETH_HDR_LEN) {
				st->refused++;	/* BPF_PROG_RUN would not even build the skb */
				CUR_IT = NULL;
				return;
			}
			fz_fail("BPF_PROG_RUN tc: %s", strerror(-err));
		}
	} else {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = it->f.b,
			    .data_size_in = (__u32)it->f.len, .data_out = out,
			    .data_size_out = FRAME_MAX, .repeat = 1);

		if (bpf_prog_test_run_opts(bpf_program__fd(H.b.xdp->progs.tko_xdp_ingress), &o))
			fz_fail("BPF_PROG_RUN xdp: %s", strerror(errno));
		verdict = (int)o.retval;
		out_len = o.data_size_out;
	}
	t1 = now_ns();
	c1 = h_coarse_now();

	/* 1. the verdict is one of the program's own */
	if (tc ? verdict != TC_ACT_OK
	       : verdict != XDP_PASS && verdict != XDP_TX && verdict != XDP_DROP)
		fz_fail("verdict %d is none of the expected ones", verdict);

	dump_table(all, after, present);
	read_index(idx);
	read_stats(st1);
	ring_buffer__consume(H.rb);

	/* 2. the model's verdict, and what it does to the model of the table */
	if (tc)
		model_tc(&p, j, it->mark, &e);
	else
		model_xdp(&p, j, t0, t1, c0, c1, j >= 0 ? &after[j] : NULL, j >= 0 && present[j],
			  &e);
	it->e = &e;
	if (verdict != e.verdict)
		fz_fail("verdict %d, the model says %d (%s)", verdict, e.verdict, e.why);
	if (e.ev_type == TKO_EV_INVALIDATED)
		m_free(j);
	else if (e.ev_type == TKO_EV_SUSPENDED)
		m_request(j);

	/* 3. the frame: the exact answer, or untouched */
	if (verdict == XDP_TX) {
		struct frame want;

		expected_answer_frame(&p, it->f.b, &CUR[j], &want);
		if (out_len != want.len || memcmp(out, want.b, want.len)) {
			hexdump("  sent", out, out_len);
			hexdump("  expected answer", want.b, want.len);
			fz_fail("the frame sent is not the exact answer");
		}
		st->tx++;
		if (!p.csum_ok)
			st->tx_bad_csum++;
	} else if (out_len != it->f.len || memcmp(out, it->f.b, it->f.len)) {
		hexdump("  after the run", out, out_len);
		fz_fail("verdict %d but the frame was changed", verdict);
	}

	/* 4. the entries: the target as the model says, every other session
	 * untouched but for the clock fields (check_wheel) */
	for (i = 0; i < NS; i++) {
		struct tko_session a = after[i], b = CUR[i];

		check_monotone(i, &CUR[i].cnt, &after[i].cnt);
		if (i == j) {
			if (present[i] != e.present) {
				print_session("after", &after[i], present[i]);
				fz_fail("session %s, the model says %s (%s)",
					present[i] ? "still live" : "not live",
					e.present ? "kept" : "freed", e.why);
			}
			check_session(&e, &after[i], t0, t1, c0, c1);
			continue;
		}
		memset(&a.clock, 0, sizeof(a.clock));
		memset(&b.clock, 0, sizeof(b.clock));
		if (present[i] != CUR_PRESENT[i] || memcmp(&a, &b, sizeof(a))) {
			print_session("before", &CUR[i], CUR_PRESENT[i]);
			print_session("after", &after[i], present[i]);
			fz_fail("session #%d changed although the frame is not one of its own", i);
		}
	}

	/* 5. the index, the wheel, what never changes, the lookup by key */
	check_index(idx, all);
	check_wheel(all);
	check_fixed_maps();
	if (j >= 0) {
		__u32 id = ~0u;
		int r = tko_table_find(sess_fd(), index_fd(), &TABLE, &KEYS[j], &id, NULL);

		if (present[j] ? r || id != ID[j] : r != -ENOENT)
			fz_fail("tko_table_find: %d, id %u (session #%d is id %u, %s)", r, id, j,
				ID[j], present[j] ? "live" : "freed");
	}

	/* 6. the global counters: never down, each by what the model says */
	for (i = 0; i < TKO_ST_MAX; i++) {
		if (st1[i] < st0[i])
			fz_fail("stats %s went down", stat_name(i));
		/* The carrier watchdog counts time without passes, not frames:
		 * no pass runs while frames are fuzzed. */
		if (i == TKO_ST_CARRIER_STALLS)
			continue;
		if (st1[i] - st0[i] != e.st[i])
			fz_fail("stats %s: +%" PRIu64 ", the model says +%u (%s)", stat_name(i),
				st1[i] - st0[i], e.st[i], e.why);
	}

	/* 7. the events */
	check_events(&e, t0, t1);

	memcpy(CUR, after, sizeof(CUR));
	memcpy(CUR_PRESENT, present, sizeof(CUR_PRESENT));
	if (j >= 0 && present[j]) {
		BUDGET_WIN[j] = after[j].answer_window_ns;
		BUDGET_N[j] = after[j].answers_in_window;
	}

	if (!strcmp(e.why, "unparsed"))
		st->unparsed[tc]++;
	else if (!strcmp(e.why, "no session"))
		st->nosess[tc]++;
	else if (!strcmp(e.why, "rate limited"))
		st->limited++;
	else if (!strcmp(e.why, "marked"))
		st->marked++;
	else if (!strcmp(e.why, "touched"))
		st->touched[tc]++;
	else if (!strcmp(e.why, "own keepalive"))
		st->own_probe++;
	else if (!strcmp(e.why, "learned"))
		st->learned++;
	else if (!strcmp(e.why, "answer passed to the endpoint"))
		st->ep_pass++;
	if (verdict == XDP_DROP && !tc)
		st->drop++;
	if (e.ev_type == TKO_EV_INVALIDATED)
		st->deleted[tc]++;
	if (e.ev_type == TKO_EV_SUSPENDED)
		st->suspended[tc]++;
	CUR_IT = NULL;
}

/* ------------------------------------------------------------------ */
/* Seed frames                                                        */

static const struct tko_session *ref_of(int j)
{
	return CUR_PRESENT[j] ? &CUR[j] : &SNAP[j];
}

/*
 * A random option list of single-byte NOPs and small options, padded to a
 * multiple of four: its step count lands on either side of the parser's walk
 * limit (OPT_STEPS_MAX).
 */
static void random_options(struct rng *r, struct seg_spec *s)
{
	static uint8_t o[40];
	size_t room = 40 - (s->ts ? TCP_TS_LEN : 0), n = 0, want = rn(r, (uint32_t)room + 1);

	while (n < want) {
		switch (rn(r, 6)) {
		case 0: case 1: case 2:
			o[n++] = 1;			/* NOP */
			break;
		case 3:
			if (n + 2 > want)
				goto pad;
			o[n++] = 4, o[n++] = 2;		/* SACK permitted */
			break;
		case 4:
			if (n + 4 > want)
				goto pad;
			o[n++] = 30, o[n++] = 4, o[n++] = 0, o[n++] = 0;	/* unknown, length 4 */
			break;
		default:
			if (n + 10 > want)
				goto pad;
			o[n++] = 5, o[n++] = 10;	/* SACK, one block */
			put32(o + n, r32(r)), put32(o + n + 4, r32(r));
			n += 8;
			break;
		}
	}
pad:
	while (n % 4)
		o[n++] = chance(r, 80) ? 1 : 0;
	if (n > room)
		n = room & ~(size_t)3;
	s->opts = o;
	s->opts_len = n;
}

/*
 * Options that take exactly k steps of the walk, k around OPT_STEPS_MAX:
 * k - 1 NOPs or 4-byte options, then an option sized to end the list on a
 * word boundary, or an EOL (zeros after it).
 */
static void step_options(struct rng *r, struct seg_spec *s)
{
	static uint8_t o[40];
	size_t room = 40 - (s->ts ? TCP_TS_LEN : 0), n = 0, k = OPT_STEPS_MAX - 3 + rn(r, 7), i;

	for (i = 0; i + 1 < k && n + 4 < room; i++) {
		if (chance(r, 80)) {
			o[n++] = 1;
		} else {
			o[n++] = 30, o[n++] = 4, o[n++] = 0, o[n++] = 0;
		}
	}
	if (chance(r, 70)) {	/* the last step: an option of 2..5 bytes */
		size_t len = (4 - n % 4) % 4;

		if (len < 2)
			len += 4;
		if (n + len > room)
			len = 0;
		if (len) {
			o[n] = 30;
			o[n + 1] = (uint8_t)len;
			memset(o + n + 2, 0, len - 2);
			n += len;
		}
	} else {
		o[n++] = 0;	/* EOL */
	}
	while (n % 4)
		o[n++] = 0;
	if (n > room)
		n = room & ~(size_t)3;
	s->opts = o;
	s->opts_len = n;
}

static void add_options(struct rng *r, struct seg_spec *s)
{
	switch (rn(r, 10)) {
	case 6: case 7: random_options(r, s); break;
	case 8: case 9: step_options(r, s); break;
	case 0: opt_nops(s); break;
	case 1: opt_eol(s); break;
	case 2: opt_sack(s); break;
	case 3: opt_md5(s); break;
	case 4: opt_ao(s); break;
	default: opt_many_nops(s); break;
	}
}

static void finish_spec(struct rng *r, struct seg_spec *s)
{
	if (chance(r, 20))
		add_options(r, s);
	if (chance(r, 20)) {
		s->vlan_proto = chance(r, 80) ? ETHERTYPE_VLAN : ETHERTYPE_QINQ;
		s->vlan_id = (uint16_t)rn(r, 4096);
	}
	s->pad_to = chance(r, 50) ? ETH_MIN_LEN : 0;
	if (chance(r, 10))
		s->window = (uint16_t)r32(r);
}

static void random_frame(struct rng *r, struct frame *f)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->len = ETH_HDR_LEN + rn(r, 200);
	for (i = 0; i < f->len; i++)
		f->b[i] = (uint8_t)r32(r);
	f->l3 = ETH_HDR_LEN;
	f->l4 = f->pay = f->len;
	if (chance(r, 60)) {	/* deep enough to reach the TCP parser */
		bool v6 = chance(r, 50);

		put16(f->b + 12, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IP);
		if (f->len > ETH_HDR_LEN + 9) {
			f->b[ETH_HDR_LEN] = v6 ? 0x60 : 0x45;
			f->b[ETH_HDR_LEN + (v6 ? 6 : 9)] = PROTO_TCP;
		}
		f->l4 = ETH_HDR_LEN + (v6 ? IP6_HDR_LEN : IP4_HDR_LEN);
	}
}

/* The peer's frames (XDP ingress), from the session's current state. */
static const char *gen_peer(struct rng *r, int j, struct frame *f)
{
	const struct tko_session *c = ref_of(j);
	unsigned prof = SESS[j].prof;
	struct seg_spec s = from_peer(prof, port_of(j));
	bool have_seq = c->have & TKO_HAVE_SEQ;
	uint32_t snd = have_seq ? c->tcp.snd_nxt : SND, rcv = have_seq ? c->tcp.rcv_nxt : RCV;
	const char *kind;

	s.ts = have_seq ? !!(c->have & TKO_HAVE_TS) : !!(prof & P_TS);
	s.tsval = PEER_TSVAL + rn(r, 1000);
	s.tsecr = c->tcp.ts_val;
	s.seq = rcv - 1;
	s.ack = snd;
	s.flags = F_ACK;
	switch (rn(r, 17)) {
	case 0: case 1: case 2:
		kind = "probe0";
		break;
	case 3: case 4:
		kind = "probe1";
		s.payload = 1;
		s.payload_zero = chance(r, 50);
		break;
	case 15:
		kind = "probe_extra_flag";
		s.flags |= (uint8_t[]){ F_FIN, F_SYN, F_RST, F_URG, F_PSH }[rn(r, 5)];
		s.payload = rn(r, 2);
		break;
	case 5:
		kind = "probe_psh_ece";
		s.flags |= chance(r, 50) ? F_PSH : F_ECE | F_CWR;
		s.payload = rn(r, 2);
		break;
	case 6: case 7:
		kind = "answer";
		s.seq = rcv;
		if (chance(r, 30))
			opt_sack(&s);
		break;
	case 8:
		kind = "data";
		s.seq = rcv;
		s.flags |= F_PSH;
		s.payload = 1 + rn(r, 200);
		break;
	case 9:
		kind = "fin";
		s.seq = rcv;
		s.flags |= F_FIN;
		s.payload = chance(r, 30) ? rn(r, 50) : 0;
		break;
	case 10:
		kind = "rst";
		s.seq = rcv;
		s.flags = chance(r, 50) ? F_RST : F_RST | F_ACK;
		break;
	case 11:
		kind = "syn";
		s.seq = chance(r, 50) ? rcv : r32(r);
		s.flags = chance(r, 50) ? F_SYN : F_SYN | F_ACK;
		break;
	case 12:
		kind = "probe_ts_flipped";
		s.ts = !s.ts;
		break;
	case 13: {
		static const uint8_t fl[] = { F_ACK, F_RST, F_RST | F_ACK, F_FIN | F_ACK,
					      F_ACK | F_PSH, F_FIN, 0, F_URG | F_ACK };

		kind = "near_miss";
		s.seq = rcv + (uint32_t)((int32_t)rn(r, 9) - 4);
		s.ack = snd + (uint32_t)((int32_t)rn(r, 9) - 4);
		s.flags = fl[rn(r, sizeof(fl))];
		s.payload = rn(r, 3);
		break;
	}
	case 14:
		kind = "endpoint_segment";	/* the other direction: never a session at XDP */
		s = from_endpoint(prof, port_of(j));
		s.seq = snd;
		s.ack = rcv;
		s.ts = !!(c->have & TKO_HAVE_TS);
		break;
	default:
		if (chance(r, 70)) {
			kind = "random";
			random_frame(r, f);
			return kind;
		}
		kind = chance(r, 50) ? "udp" : "arp";
		s.payload = 1;
		if (kind[0] == 'u')
			udp(&s);
		finish_spec(r, &s);
		if (kind[0] == 'a')
			frame_build_arp(f, &s);
		else
			frame_build(f, &s);
		return kind;
	}
	finish_spec(r, &s);
	frame_build(f, &s);
	if (s.vlan_proto && chance(r, 30))	/* priority / DEI bits in the tag */
		f->b[ETH_HDR_LEN] |= (uint8_t)(r32(r) & 0xf0);
	return kind;
}

/* The endpoint's frames (TC egress). */
static const char *gen_endpoint(struct rng *r, int j, struct frame *f, uint32_t *mark)
{
	const struct tko_session *c = ref_of(j);
	unsigned prof = SESS[j].prof;
	struct seg_spec s = from_endpoint(prof, port_of(j));
	bool have_seq = c->have & TKO_HAVE_SEQ;
	uint32_t snd = have_seq ? c->tcp.snd_nxt : SND, rcv = have_seq ? c->tcp.rcv_nxt : RCV;
	const char *kind;

	*mark = chance(r, 93) ? 0 : chance(r, 70) ? TKO_MARK : r32(r);
	s.ts = have_seq ? !!(c->have & TKO_HAVE_TS) : chance(r, 50);
	s.tsval = c->tcp.ts_val + (uint32_t)((int32_t)rn(r, 2001) - 1000);
	s.tsecr = chance(r, 80) ? c->tcp.ts_ecr : PEER_TSVAL;
	s.seq = snd;
	s.ack = rcv;
	s.flags = F_ACK;
	s.window = chance(r, 70) ? c->tcp.window : (uint16_t)r32(r);
	switch (rn(r, 14)) {
	case 0: case 1: case 2:
		kind = "ep_ack";
		break;
	case 3: case 4:
		kind = "ep_keepalive";
		s.seq = snd - 1;
		s.payload = rn(r, 2);
		s.payload_zero = true;
		if (chance(r, 25)) {
			kind = "ep_keepalive_extra_flag";
			s.flags |= (uint8_t[]){ F_FIN, F_SYN, F_RST, F_URG, F_PSH }[rn(r, 5)];
		}
		break;
	case 5:
		kind = "ep_data";
		s.flags |= F_PSH;
		s.payload = 1 + rn(r, 200);
		break;
	case 6:
		kind = "ep_fin";
		s.flags |= F_FIN;
		s.payload = chance(r, 30) ? rn(r, 50) : 0;
		break;
	case 7:
		kind = "ep_rst";
		s.flags = chance(r, 50) ? F_RST : F_RST | F_ACK;
		break;
	case 8:
		kind = "ep_syn";
		s.seq = r32(r);
		s.flags = chance(r, 50) ? F_SYN : F_SYN | F_ACK;
		break;
	case 9: case 10:
		kind = "ep_drift";
		s.seq = snd + (uint32_t)((int32_t)rn(r, 7) - 3);
		s.ack = rcv + (uint32_t)((int32_t)rn(r, 7) - 3);
		break;
	case 11:
		kind = "ep_far";	/* far ahead or behind: never backwards */
		s.seq = snd + (chance(r, 50) ? 0x7fffffffu : 0x80000001u);
		s.ack = rcv + r32(r);
		s.payload = rn(r, 3);
		break;
	case 12:
		kind = "peer_segment";	/* the other direction: never a session at TC */
		s = from_peer(prof, port_of(j));
		s.seq = rcv - 1;
		s.ack = snd;
		break;
	default:
		kind = "random";
		random_frame(r, f);
		return kind;
	}
	finish_spec(r, &s);
	frame_build(f, &s);
	return kind;
}

/* ------------------------------------------------------------------ */
/* Mutations                                                          */

static void logm(char *log, size_t n, const char *what)
{
	size_t l = strlen(log);

	if (l + 2 < n)
		snprintf(log + l, n - l, "%s%s", l ? "," : "", what);
}

static void frame_remove(struct frame *f, size_t off, size_t n)
{
	size_t *o[] = { &f->l3, &f->l4, &f->pay };
	size_t i;

	if (off + n > f->len)
		return;
	memmove(f->b + off, f->b + off + n, f->len - off - n);
	f->len -= n;
	for (i = 0; i < 3; i++)
		if (*o[i] >= off + n)
			*o[i] -= n;
		else if (*o[i] > off)
			*o[i] = off;
}

static bool fits(const struct frame *f, size_t off, size_t n) { return off + n <= f->len; }

/* frame_insert(), only where the frame has room and reaches off */
static bool ins(struct frame *f, size_t off, const uint8_t *bytes, size_t n)
{
	if (off > f->len || f->len + n > FRAME_MAX)
		return false;
	frame_insert(f, off, bytes, n);
	return true;
}

static uint32_t near32(struct rng *r, uint32_t v)
{
	switch (rn(r, 8)) {
	case 0: return v + 1;
	case 1: return v - 1;
	case 2: return v + 2;
	case 3: return v - 2;
	case 4: return v ^ 0x80000000u;
	case 5: return v + 0xffffu;
	case 6: return 0;
	default: return r32(r);
	}
}

static bool is_v6(const struct frame *f)
{
	return f->l3 >= 2 && fits(f, f->l3 - 2, 2) && get16(f->b + f->l3 - 2) == ETHERTYPE_IPV6;
}

static void set_payload_len(struct rng *r, struct frame *f)
{
	bool v6 = is_v6(f);
	size_t ip_end, want = rn(r, 4) == 3 ? rn(r, 64) : rn(r, 3), n;

	if (f->pay > f->len || !fits(f, f->l3, v6 ? IP6_HDR_LEN : IP4_HDR_LEN))
		return;
	ip_end = f->l3 + (v6 ? IP6_HDR_LEN + get16(f->b + f->l3 + 4) : get16(f->b + f->l3 + 2));
	if (ip_end < f->pay || f->pay + want > FRAME_MAX)
		return;
	n = ip_end - f->pay;
	if (v6)
		put16(f->b + f->l3 + 4, (uint16_t)(get16(f->b + f->l3 + 4) + want - n));
	else
		put16(f->b + f->l3 + 2, (uint16_t)(get16(f->b + f->l3 + 2) + want - n));
	memset(f->b + f->pay, 0, want);
	f->len = f->pay + want;
}

static void mutate_once(struct rng *r, struct frame *f, char *log, size_t logn)
{
	static const uint8_t kinds[] = { 0, 1, 2, 3, 4, 5, 8, 10, 19, 29, 30, 254, 255 };
	static const uint16_t ets[] = { ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_VLAN,
					ETHERTYPE_QINQ, ETHERTYPE_ARP, 0x88cc, 0x8847 };
	size_t l3 = f->l3, l4 = f->l4, i;
	bool v6 = is_v6(f);

	switch (rn(r, 22)) {
	case 0:	/* bit flip, mostly in the headers */
		i = chance(r, 75) && f->pay > 0 ? rn(r, (uint32_t)(f->pay < f->len ? f->pay + 1 : f->len))
					       : rn(r, (uint32_t)f->len);
		if (i < f->len)
			f->b[i] ^= (uint8_t)(1u << rn(r, 8));
		logm(log, logn, "bitflip");
		break;
	case 1: {	/* byte substitution */
		static const uint8_t v[] = { 0, 1, 0x7f, 0x80, 0xff, 0x45, 0x60, 6 };

		i = rn(r, (uint32_t)f->len);
		f->b[i] = chance(r, 50) ? v[rn(r, sizeof(v))] : (uint8_t)r32(r);
		logm(log, logn, "byte");
		break;
	}
	case 2:	/* truncation */
		if (f->len > ETH_HDR_LEN)
			f->len = ETH_HDR_LEN + rn(r, (uint32_t)(f->len - ETH_HDR_LEN));
		logm(log, logn, "truncate");
		break;
	case 3:	/* trailing bytes: padding or garbage beyond the IP length */
		i = 1 + rn(r, 64);
		if (f->len + i <= FRAME_MAX) {
			bool zero = chance(r, 50);
			size_t k;

			for (k = 0; k < i; k++)
				f->b[f->len + k] = zero ? 0 : (uint8_t)r32(r);
			f->len += i;
		}
		logm(log, logn, "extend");
		break;
	case 4: case 5:
		if (fits(f, l4 + 4, 4))
			put32(f->b + l4 + 4, near32(r, get32(f->b + l4 + 4)));
		logm(log, logn, "seq");
		break;
	case 6:
		if (fits(f, l4 + 8, 4))
			put32(f->b + l4 + 8, near32(r, get32(f->b + l4 + 8)));
		logm(log, logn, "ack");
		break;
	case 7:	/* flags: one bit, or a whole byte; or the reserved/AE bits */
		if (fits(f, l4 + 13, 1)) {
			if (chance(r, 15))
				f->b[l4 + 12] ^= (uint8_t)(1u << rn(r, 4));
			else if (chance(r, 70))
				f->b[l4 + 13] ^= (uint8_t)(1u << rn(r, 8));
			else
				f->b[l4 + 13] = (uint8_t)r32(r);
		}
		logm(log, logn, "flags");
		break;
	case 8:
		if (fits(f, l4 + 12, 1))
			f->b[l4 + 12] = (uint8_t)(rn(r, 16) << 4 | (f->b[l4 + 12] & 0x0f));
		logm(log, logn, "doff");
		break;
	case 9:	/* IHL or version */
		if (fits(f, l3, 1))
			f->b[l3] = chance(r, 50) ? (uint8_t)((f->b[l3] & 0xf0) | rn(r, 16))
						 : (uint8_t)((rn(r, 16) << 4) | (f->b[l3] & 0x0f));
		logm(log, logn, "ihl/version");
		break;
	case 10:	/* tot_len / payload_len */
		i = l3 + (v6 ? 4 : 2);
		if (fits(f, i, 2)) {
			uint16_t v = get16(f->b + i);

			switch (rn(r, 5)) {
			case 0: v++; break;
			case 1: v--; break;
			case 2: v += (uint16_t)(rn(r, 8) - 4); break;
			case 3: v = 0xffff; break;
			default: v = (uint16_t)rn(r, 120); break;
			}
			put16(f->b + i, v);
		}
		logm(log, logn, "iplen");
		break;
	case 11:	/* TCP option bytes */
		if (f->pay > l4 + TCP_HDR_LEN && fits(f, l4 + TCP_HDR_LEN, 1)) {
			size_t n = f->pay - l4 - TCP_HDR_LEN, k = l4 + TCP_HDR_LEN + rn(r, (uint32_t)n);

			if (chance(r, 30)) {
				for (k = l4 + TCP_HDR_LEN; k < f->pay && k < f->len; k++)
					f->b[k] = chance(r, 50) ? kinds[rn(r, sizeof(kinds))] : (uint8_t)rn(r, 16);
			} else if (k < f->len) {
				f->b[k] = chance(r, 60) ? kinds[rn(r, sizeof(kinds))] : (uint8_t)r32(r);
			}
		} else if (fits(f, l4 + 12, 1) && f->len + 12 <= FRAME_MAX && f->pay >= l4 + TCP_HDR_LEN) {
			/* grow the header by some option bytes */
			uint8_t o[12];
			size_t n = 4 * (1 + rn(r, 3)), k;

			for (k = 0; k < n; k++)
				o[k] = kinds[rn(r, sizeof(kinds))];
			if (!ins(f, l4 + TCP_HDR_LEN, o, n))
				break;
			f->b[l4 + 12] = (uint8_t)(((TCP_HDR_LEN + n) / 4) << 4);
			if (!v6 && fits(f, l3 + 2, 2))
				put16(f->b + l3 + 2, (uint16_t)(get16(f->b + l3 + 2) + n));
			if (v6 && fits(f, l3 + 4, 2))
				put16(f->b + l3 + 4, (uint16_t)(get16(f->b + l3 + 4) + n));
		}
		logm(log, logn, "options");
		break;
	case 12:	/* an EtherType, outer or inner */
		i = chance(r, 50) ? 12 : (l3 >= 2 ? l3 - 2 : 12);
		if (fits(f, i, 2))
			put16(f->b + i, chance(r, 80) ? ets[rn(r, sizeof(ets) / 2)] : (uint16_t)r32(r));
		logm(log, logn, "ethertype");
		break;
	case 13: {	/* a VLAN tag more or less */
		uint16_t et = get16(f->b + 12);

		if ((et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ) && chance(r, 50)) {
			frame_remove(f, 12, VLAN_TAG_LEN);
			logm(log, logn, "untag");
		} else if (f->len + VLAN_TAG_LEN <= FRAME_MAX) {
			uint8_t t[4];

			put16(t, chance(r, 70) ? ETHERTYPE_VLAN : ETHERTYPE_QINQ);
			put16(t + 2, (uint16_t)r32(r));
			ins(f, 12, t, sizeof(t));
			logm(log, logn, "tag");
		}
		break;
	}
	case 14:	/* an IPv6 extension header, or IPv4 options */
		if (v6 && fits(f, l3, IP6_HDR_LEN) && f->len + 8 <= FRAME_MAX) {
			static const uint8_t ext[] = { 0, 43, 44, 60, 51, 135 };
			uint8_t e[8] = { f->b[l3 + 6], 0, 1, 4 };

			f->b[l3 + 6] = ext[rn(r, sizeof(ext))];
			ins(f, l3 + IP6_HDR_LEN, e, sizeof(e));
			put16(f->b + l3 + 4, (uint16_t)(get16(f->b + l3 + 4) + 8));
			logm(log, logn, "ext_header");
		} else if (!v6 && fits(f, l3, IP4_HDR_LEN) && f->len + 12 <= FRAME_MAX) {
			uint8_t o[12];
			size_t n = 4 * (1 + rn(r, 3)), k;

			for (k = 0; k < n; k++)
				o[k] = k + 1 < n ? 1 : 0;
			ins(f, l3 + IP4_HDR_LEN, o, n);
			f->b[l3] = (uint8_t)(0x40 | (5 + n / 4));
			put16(f->b + l3 + 2, (uint16_t)(get16(f->b + l3 + 2) + n));
			logm(log, logn, "ip_options");
		}
		break;
	case 15: {	/* protocol / next header */
		static const uint8_t pr[] = { 6, 17, 1, 0, 58, 132, 43, 44 };

		i = l3 + (v6 ? 6 : 9);
		if (fits(f, i, 1))
			f->b[i] = chance(r, 80) ? pr[rn(r, sizeof(pr))] : (uint8_t)r32(r);
		logm(log, logn, "protocol");
		break;
	}
	case 16:	/* fragment bits (v4), flow label / traffic class (v6) */
		if (!v6 && fits(f, l3 + 6, 2)) {
			static const uint16_t fo[] = { 0x2000, 0x4000, 0x8000, 0x0001, 0x00b9, 0x3fff };

			put16(f->b + l3 + 6, get16(f->b + l3 + 6) ^ fo[rn(r, sizeof(fo) / 2)]);
		} else if (v6 && fits(f, l3, 4)) {
			put32(f->b + l3, (get32(f->b + l3) & 0xf0000000u) | (r32(r) & 0x0fffffffu));
		}
		logm(log, logn, "frag/flow");
		break;
	case 17:	/* ports: a neighbour's session, or anything */
		i = l4 + (chance(r, 70) ? 2 : 0);
		if (fits(f, i, 2))
			put16(f->b + i, chance(r, 30) ? (uint16_t)r32(r) :
					chance(r, 50) ? (uint16_t)(FZ_PORT0 + rn(r, NS)) :
					(uint16_t)(get16(f->b + i) + (chance(r, 50) ? 1 : -1)));
		logm(log, logn, "port");
		break;
	case 18:	/* addresses: one byte, or swapped (the other direction) */
		if (chance(r, 30) && fits(f, l3, v6 ? IP6_HDR_LEN : IP4_HDR_LEN)) {
			size_t a = l3 + (v6 ? 8 : 12), n = v6 ? 16 : 4;
			uint8_t t[16];

			memcpy(t, f->b + a, n);
			memmove(f->b + a, f->b + a + n, n);
			memcpy(f->b + a + n, t, n);
			logm(log, logn, "swap_addr");
		} else {
			i = l3 + (v6 ? 8 + rn(r, 32) : 12 + rn(r, 8));
			if (fits(f, i, 1))
				f->b[i] ^= (uint8_t)(1 + rn(r, 255));
			logm(log, logn, "addr");
		}
		break;
	case 19:
		set_payload_len(r, f);
		logm(log, logn, "payload_len");
		break;
	case 20:	/* a header field nobody checks: TTL, TOS, ID, window, urgent pointer */
		i = chance(r, 50) ? l3 + (v6 ? 7 : 1 + rn(r, 8)) : l4 + 14 + rn(r, 6);
		if (fits(f, i, 1))
			f->b[i] = (uint8_t)r32(r);
		logm(log, logn, "other_field");
		break;
	default:	/* MAC addresses */
		f->b[rn(r, 12)] ^= (uint8_t)(1 + rn(r, 255));
		logm(log, logn, "mac");
		break;
	}
	if (f->len < ETH_HDR_LEN)
		f->len = ETH_HDR_LEN;
}

/* Make the checksums right again where the frame still has the shape for it. */
static void fix_checksums(struct frame *f)
{
	size_t l3 = ETH_HDR_LEN, l4, l4_len;
	uint16_t et;
	struct seg_spec ps = {0};
	uint8_t proto;

	if (f->len < ETH_HDR_LEN)
		return;
	et = get16(f->b + 12);
	if ((et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ) && f->len >= 18) {
		et = get16(f->b + 16);
		l3 = 18;
	}
	if (et == ETHERTYPE_IP && fits(f, l3, IP4_HDR_LEN)) {
		size_t hl = (size_t)(f->b[l3] & 0x0f) * 4, tot = get16(f->b + l3 + 2);

		if (hl < IP4_HDR_LEN || !fits(f, l3, hl))
			return;
		put16(f->b + l3 + 10, 0);
		put16(f->b + l3 + 10, csum_finish(csum_add(0, f->b + l3, hl)));
		if (tot < hl || !fits(f, l3, tot))
			return;
		memcpy(ps.saddr, f->b + l3 + 12, 4);
		memcpy(ps.daddr, f->b + l3 + 16, 4);
		proto = f->b[l3 + 9];
		l4 = l3 + hl;
		l4_len = tot - hl;
	} else if (et == ETHERTYPE_IPV6 && fits(f, l3, IP6_HDR_LEN)) {
		ps.v6 = true;
		memcpy(ps.saddr, f->b + l3 + 8, 16);
		memcpy(ps.daddr, f->b + l3 + 24, 16);
		proto = f->b[l3 + 6];
		l4 = l3 + IP6_HDR_LEN;
		l4_len = get16(f->b + l3 + 4);
		if (!fits(f, l4, l4_len))
			return;
	} else {
		return;
	}
	if (proto != PROTO_TCP || l4_len < TCP_HDR_LEN)
		return;
	put16(f->b + l4 + 16, 0);
	put16(f->b + l4 + 16, csum_finish(csum_add(csum_pseudo(&ps, PROTO_TCP, l4_len),
						   f->b + l4, l4_len)));
}

/* ------------------------------------------------------------------ */
/* The fuzz loop                                                      */

static void fz_print_stats(const char *name, const struct fz_stats *st, uint64_t iters,
			   double secs)
{
	printf("prog_fuzz %s: %" PRIu64 " frames in %.2f s (%.0f frames/s): xdp %" PRIu64
	       " (tx %" PRIu64 ", tx of a frame with a bad checksum %" PRIu64 ", rate limited %"
	       PRIu64 ", drop %" PRIu64 ", ended %" PRIu64 ", suspended %" PRIu64
	       ", touched %" PRIu64 ", unparsed %" PRIu64 ", no session %" PRIu64
	       ", answer passed to the endpoint %" PRIu64 "), tc %"
	       PRIu64 " (learned %" PRIu64 ", own keepalive %" PRIu64 ", ended %" PRIu64
	       ", suspended %" PRIu64 ", touched %" PRIu64 ", marked %" PRIu64 ", unparsed %"
	       PRIu64 ", no session %" PRIu64 ", refused by BPF_PROG_RUN %" PRIu64
	       "), restores %" PRIu64 "\n",
	       name, iters, secs, secs > 0 ? iters / secs : 0.0, st->runs[0], st->tx,
	       st->tx_bad_csum, st->limited, st->drop, st->deleted[0], st->suspended[0],
	       st->touched[0], st->unparsed[0], st->nosess[0], st->ep_pass, st->runs[1], st->learned,
	       st->own_probe, st->deleted[1], st->suspended[1], st->touched[1], st->marked,
	       st->unparsed[1], st->nosess[1], st->refused, st->restores);
	fflush(stdout);
}

/* One iteration: a frame from (seed, i), run and checked; sessions refreshed. */
static void fz_step(const char *test, uint64_t seed, uint64_t i, struct fz_stats *st)
{
	struct rng r = rng_for(seed, i);
	struct fz_iter it = { .test = test, .seed = seed, .iter = i };
	struct fz_iter at_restore = it;	/* no frame: what a failed restore reports */
	int j, k, nmut;

	if (i % RESTORE_EVERY == 0) {
		CUR_IT = &at_restore;
		restore_all();	/* fresh budgets, the known shapes */
		CUR_IT = NULL;
		st->restores++;
	}
	/* half of the frames go to a "hot" session that changes every HOT_RUN
	 * iterations: bursts on one session exhaust its answer budget */
	j = chance(&r, 50) ? (int)(rng_for(seed, i / HOT_RUN).s % NS) : (int)rn(&r, NS);
	it.tc = chance(&r, 45);
	it.kind = it.tc ? gen_endpoint(&r, j, &it.f, &it.mark) : gen_peer(&r, j, &it.f);
	nmut = chance(&r, 30) ? 0 : 1 + (chance(&r, 50) ? 0 : rn(&r, 4));
	for (k = 0; k < nmut; k++)
		mutate_once(&r, &it.f, it.muts, sizeof(it.muts));
	if (nmut && chance(&r, 50)) {
		fix_checksums(&it.f);
		logm(it.muts, sizeof(it.muts), "csum_fixed");
	}
	run_checked(&it, st);

	/* sessions that left their shape come back now and then */
	for (k = 0; k < NS; k++) {
		bool off = !CUR_PRESENT[k] || CUR[k].state != SNAP[k].state ||
			   CUR[k].tcp.snd_nxt != SNAP[k].tcp.snd_nxt ||
			   CUR[k].tcp.rcv_nxt != SNAP[k].tcp.rcv_nxt;

		if (rn(&r, 4) == 0 && off) {
			CUR_IT = &at_restore;
			restore_one(k, true);
			CUR_IT = NULL;
			st->restores++;
		}
	}
}

static double secs_since(uint64_t t) { return (double)(now_ns() - t) / 1e9; }

static void fz_run(const char *test, uint64_t seed, uint64_t iters, double progress_s,
		   struct fz_stats *st)
{
	uint64_t t_start = now_ns(), t_last = t_start, i;

	printf("prog_fuzz %s: seed 0x%" PRIx64 ", %" PRIu64 " iterations\n", test, seed, iters);
	fflush(stdout);
	for (i = 0; i < iters; i++) {
		fz_step(test, seed, i, st);
		if (progress_s > 0 && (i & 1023) == 1023 &&
		    now_ns() - t_last >= (uint64_t)(progress_s * 1e9)) {
			t_last = now_ns();
			fz_print_stats("progress", st, i + 1, secs_since(t_start));
		}
	}
	if (iters) {	/* the queues and the whole wheel the last frames left */
		struct fz_iter end = { .test = test, .seed = seed, .iter = iters - 1 };

		CUR_IT = &end;
		check_rest();
		CUR_IT = NULL;
	}
	fz_print_stats(test, st, iters, secs_since(t_start));
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */

static uint64_t OPT_ITERS;	/* 0: the bounded run of make test */
static const char *OPT_FRAME;	/* --frame: replay this one frame */
static bool OPT_TC;
static uint32_t OPT_MARK;
static uint64_t OPT_SEED;
static bool OPT_SEED_SET;
static double OPT_PROGRESS = 5;

#define BOUNDED_ITERS	10000	/* per seed; 4 seeds: ~20000 frames per program */

struct seed_case {
	char name[48];
	uint64_t seed;
};

static struct seed_case SEEDS[4] = {
	{ "fuzz_seed_1", 1 },
	{ "fuzz_seed_7c0ffee1", 0x7c0ffee1 },
	{ "fuzz_seed_deadbeefcafe", 0xdeadbeefcafeull },
	{ "fuzz_seed_clock", 0 },	/* set in main */
};

/* The bounded run of one seed; every outcome class must have happened. */
static void test_fuzz_seed(void **state)
{
	const struct seed_case *sc = *state;
	struct fz_stats st = {0};

	fz_run(sc->name, sc->seed, BOUNDED_ITERS, 0, &st);
	if (!st.tx || !st.drop || !st.limited || !st.ep_pass || !st.deleted[0] || !st.suspended[0] ||
	    !st.deleted[1] || !st.suspended[1] || !st.learned || !st.own_probe)
		fail_msg("the run missed an outcome class: the fuzzer is not reaching the programs");
}

static void test_fuzz_long(void **state)
{
	struct fz_stats st = {0};

	fz_run("fuzz", OPT_SEED, OPT_ITERS, OPT_PROGRESS, &st);
}

/* --frame HEX: one frame (a failure's hexdump) against the fresh table, every check. */
static void test_replay_frame(void **state)
{
	struct fz_iter it = { .test = "replay", .iter = UINT64_MAX, .kind = "given",
			      .tc = OPT_TC, .mark = OPT_MARK };
	struct fz_stats st = {0};
	const char *c = OPT_FRAME;

	while (*c) {
		unsigned v;

		if (!isxdigit((unsigned char)c[0])) {
			c++;
			continue;
		}
		if (!isxdigit((unsigned char)c[1]) || sscanf(c, "%2x", &v) != 1 ||
		    it.f.len == FRAME_MAX)
			fail_msg("--frame: hex bytes expected");
		it.f.b[it.f.len++] = (uint8_t)v;
		c += 2;
	}
	if (it.f.len < ETH_HDR_LEN)
		fail_msg("--frame: at least %d bytes", ETH_HDR_LEN);
	restore_all();
	run_checked(&it, &st);
	printf("prog_fuzz replay: %s, %zu bytes: %s, verdict %d; all invariants hold\n",
	       OPT_TC ? "tc_egress" : "xdp_ingress", it.f.len,
	       it.e ? it.e->why : "refused by BPF_PROG_RUN", it.e ? it.e->verdict : 0);
}

/*
 * Every seed frame of every session, cut at every length from the Ethernet
 * header on, through both programs: a cut frame is never answered, consumed
 * or acted on, and passes untouched (the model finds it unparsable).
 */
static void test_truncation(void **state)
{
	struct fz_stats st = {0};
	uint64_t n = 0, t = now_ns();
	int j, kind, tag;

	restore_all();
	for (j = 0; j < NS; j++) {
		for (kind = 0; kind < 9; kind++) {
			for (tag = 0; tag < 2; tag++) {
				const struct tko_session *c = &SNAP[j];
				unsigned prof = SESS[j].prof | (tag ? P_VLAN : 0);
				bool ep = kind >= 5;
				struct seg_spec s = ep ? from_endpoint(prof, port_of(j))
						       : from_peer(prof, port_of(j));
				struct fz_iter it = { .test = "truncation", .seed = 0,
						      .iter = UINT64_MAX };
				struct frame full;
				size_t len;

				s.ts = !!(c->have & TKO_HAVE_TS) || (prof & P_TS);
				s.pad_to = 0;
				s.seq = ep ? c->tcp.snd_nxt : c->tcp.rcv_nxt - 1;
				s.ack = ep ? c->tcp.rcv_nxt : c->tcp.snd_nxt;
				switch (kind) {
				case 0: it.kind = "probe0"; break;
				case 1: it.kind = "probe1"; s.payload = 1; break;
				case 2: it.kind = "answer"; s.seq++; break;
				case 3: it.kind = "fin"; s.seq++; s.flags |= F_FIN; break;
				case 4: it.kind = "rst"; s.seq++; s.flags = F_RST; break;
				case 5: it.kind = "ep_ack"; break;
				case 6: it.kind = "ep_keepalive"; s.seq--; break;
				case 7: it.kind = "ep_data"; s.payload = 20; break;
				default: it.kind = "ep_fin"; s.flags |= F_FIN; break;
				}
				frame_build(&full, &s);
				for (len = ETH_HDR_LEN; len <= full.len; len++) {
					int prog;

					for (prog = 0; prog < 2; prog++) {
						it.f = full;
						it.f.len = len;
						it.tc = prog;
						it.mark = 0;
						run_checked(&it, &st);
						n++;
						if (len < full.len && it.e &&
						    strcmp(it.e->why, "unparsed"))
							fail_msg("%s cut to %zu bytes parsed as %s",
								 it.kind, len, it.e->why);
						if (!CUR_PRESENT[j] || memcmp(&CUR[j], &SNAP[j],
									      sizeof(CUR[j])))
							restore(j);
					}
				}
			}
		}
	}
	check_rest();
	fz_print_stats("truncation", &st, n, secs_since(t));
}

/*
 * Item 2: a flood of probe-shaped segments yields at most the answer budget
 * per second; spoofed RSTs, ACKs, probes, FINs and data with any sequence
 * number but the exact one are never answered, never consumed and leave the
 * session exactly as it was (byte for byte, with no event).
 */
static void test_flood(void **state)
{
	static const int active[] = { 0, 1, 2, 3, 4, 5 };
	struct fz_stats st = {0}, off = {0};
	uint64_t t = now_ns();
	size_t a;

	for (a = 0; a < sizeof(active) / sizeof(active[0]); a++) {
		int j = active[a];
		struct rng r = rng_for(0xf100d, (uint64_t)j);
		struct tko_session base;
		uint64_t tx0, t0, t1;
		int i;

		/* probes: exact ones mixed with near misses; at most the budget answered */
		restore_all();
		tx0 = st.tx;
		t0 = now_ns();
		for (i = 0; i < 400; i++) {
			struct fz_iter it = { .test = "flood_probes", .seed = 0xf100d,
					      .iter = UINT64_MAX, .kind = "probe" };
			const struct tko_session *c = &CUR[j];
			struct seg_spec s = from_peer(SESS[j].prof, port_of(j));

			s.seq = c->tcp.rcv_nxt - 1;
			s.ack = c->tcp.snd_nxt;
			s.ts = !!(c->have & TKO_HAVE_TS);
			s.tsval = PEER_TSVAL + (uint32_t)i;
			s.payload = rn(&r, 2);
			if (chance(&r, 50)) {
				s.seq = near32(&r, s.seq);
				it.kind = "probe_seq_spoofed";
			} else if (chance(&r, 30)) {
				s.ack = near32(&r, s.ack);
				it.kind = "probe_ack_spoofed";
			}
			frame_build(&it.f, &s);
			run_checked(&it, &st);
			if (!CUR_PRESENT[j] || CUR[j].state != TKO_ACTIVE)
				restore_one(j, true);	/* the spoof hit: keep the budget */
		}
		t1 = now_ns();
		if (st.tx - tx0 > TKO_ANSWER_BURST * (1 + (t1 - t0) / NSEC_PER_SEC))
			fail_msg("session %d: %" PRIu64 " answers in %.3f s, budget %d/s", j,
				 st.tx - tx0, (double)(t1 - t0) / 1e9, TKO_ANSWER_BURST);
		if (st.tx == tx0)
			fail_msg("session %d: no probe answered at all", j);

		/* off-path: nothing answered, consumed or changed */
		restore_all();
		base = CUR[j];
		for (i = 0; i < 2000; i++) {
			struct fz_iter it = { .test = "flood_off_path", .seed = 0xf100d,
					      .iter = UINT64_MAX };
			struct seg_spec s = from_peer(SESS[j].prof, port_of(j));
			uint32_t rcv = base.tcp.rcv_nxt, snd = base.tcp.snd_nxt;

			s.ts = !!(base.have & TKO_HAVE_TS);
			s.seq = rcv;
			s.ack = snd;
			switch (rn(&r, 7)) {
			case 0:
				it.kind = "rst_wrong_seq";
				s.flags = chance(&r, 50) ? F_RST : F_RST | F_ACK;
				do s.seq = near32(&r, rcv); while (s.seq == rcv);
				break;
			case 1:
				it.kind = "answer_wrong_ack";	/* tko's probe is outstanding */
				do s.ack = near32(&r, snd); while (s.ack == snd);
				break;
			case 2:
				/* not the peer's: out of the endpoint's window (within
				 * it, the peer's SND.NXT ahead of RCV.NXT is an answer);
				 * RCV.NXT - 1 would be a probe */
				it.kind = "answer_wrong_seq";
				do s.seq = near32(&r, rcv);
				while (s.seq - rcv < 0xffffu ||
				       s.seq - rcv < ((uint32_t)base.tcp.window << (base.tcp.wscale & 15)) ||
				       s.seq == rcv - 1);
				break;
			case 3:
				it.kind = "probe_wrong_ack";
				s.seq = rcv - 1;
				s.payload = rn(&r, 2);
				do s.ack = near32(&r, snd); while (s.ack == snd);
				break;
			case 4:
				/* outside any window the endpoint can have (2^30): within
				 * it, data not at RCV.NXT is the peer's own, out of order */
				it.kind = "data_or_fin_outside_the_window";
				s.flags |= chance(&r, 50) ? F_FIN : F_PSH;
				s.payload = rn(&r, 100) + !(s.flags & F_FIN);
				s.seq = rcv + (chance(&r, 50) ? 1u : -1u) *
					     ((1u << 30) + 0x10000u + rn(&r, 1u << 29));
				break;
			case 5:
				it.kind = "data_or_fin_wrong_ack";
				s.flags |= chance(&r, 50) ? F_FIN : F_PSH;
				s.payload = rn(&r, 100) + !(s.flags & F_FIN);
				do s.ack = near32(&r, snd); while (s.ack == snd);
				break;
			default:
				it.kind = "data_or_fin_without_ack";
				s.flags = chance(&r, 50) ? F_FIN : F_PSH;
				s.payload = rn(&r, 100) + !(s.flags & F_FIN);
				break;
			}
			frame_build(&it.f, &s);
			run_checked(&it, &off);
			if (!CUR_PRESENT[j] || memcmp(&CUR[j], &base, sizeof(base))) {
				print_session("before", &base, true);
				print_session("after", &CUR[j], CUR_PRESENT[j]);
				fail_msg("session %d changed by an off-path %s", j, it.kind);
			}
		}
	}
	if (off.tx || off.drop || off.deleted[0] || off.suspended[0] || off.touched[0])
		fail_msg("an off-path frame was answered, consumed or changed a session");
	check_rest();
	fz_print_stats("flood (probes)", &st, st.runs[0], secs_since(t));
	fz_print_stats("flood (off-path)", &off, off.runs[0], secs_since(t));
}

/* ------------------------------------------------------------------ */
/* Setup: real sessions, driven into their shapes, then snapshotted    */

static int shape_sessions(void)
{
	uint8_t out[FRAME_MAX];
	size_t out_len;
	int j;

	for (j = 0; j < NS; j++) {
		unsigned prof = SESS[j].prof;
		struct tko_session s;
		struct seg_spec sp;
		struct frame f;

		if (!h_lookup(&KEYS[j], &s)) {
			fprintf(stderr, "session %d missing\n", j);
			return -1;
		}
		if (SESS[j].shape == SH_LEARNING) {
			if (s.state != TKO_LEARNING)
				return -1;
			continue;
		}
		/* tko's first probe was queued when the session became ACTIVE */
		if (s.state != TKO_ACTIVE || s.cnt.unanswered != 1) {
			fprintf(stderr, "session %d: state %u, unanswered %u\n", j, s.state,
				s.cnt.unanswered);
			return -1;
		}
		switch (SESS[j].shape) {
		case SH_ANSWERED:
			sp = from_peer(prof, port_of(j));
			frame_build(&f, &sp);
			if (h_run_xdp(f.b, f.len, out, &out_len) != XDP_TX)
				return -1;
			break;
		case SH_EP_PROBE:
			sp = from_endpoint(prof, port_of(j));
			sp.seq--;
			frame_build(&f, &sp);
			if (h_run_tc(f.b, f.len, 0, out, &out_len) != TC_ACT_OK)
				return -1;
			break;
		case SH_SUSPENDED:
			sp = from_peer(prof, port_of(j));
			sp.seq++;
			sp.payload = 10;
			frame_build(&f, &sp);
			if (h_run_xdp(f.b, f.len, out, &out_len) != XDP_PASS)
				return -1;
			break;
		default:
			break;
		}
	}
	return 0;
}

/*
 * The model of the table at the snapshot: the index as read, each wheel
 * list our sessions are on walked from its head, the queues (requests and
 * free_ids empty: the last pass took every request and no session ended;
 * need_l2 as the activation probes left it: no path yet).
 */
static int snapshot_model(void)
{
	static struct tko_session all[MAXE];
	__u32 zero = 0, got[MAXE], id;
	int j, w, n;

	TABLE = h_table();
	if (TABLE.buckets > MAXB || TABLE.max_sessions != MAXE || TABLE.fresh != NS) {
		fprintf(stderr, "table: %u buckets, %u entries, %u handed out\n", TABLE.buckets,
			TABLE.max_sessions, TABLE.fresh);
		return -1;
	}
	if (bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.clock), &zero, &WCLOCK) || WCLOCK.busy)
		return -1;
	memset(&M, 0, sizeof(M));
	read_index(M.index);
	read_entries(all);
	for (id = 0; id < MAXE; id++)
		J_OF[id] = -1;
	for (j = 0; j < NS; j++) {
		if (ID[j] >= MAXE || J_OF[ID[j]] >= 0) {
			fprintf(stderr, "session %d: id %u\n", j, ID[j]);
			return -1;
		}
		J_OF[ID[j]] = j;
	}
	for (j = 0; j < NS; j++) {
		__u32 list = SNAP[j].clock.list, at;

		if (!list || SNAP[j].clock.req) {
			fprintf(stderr, "session %d: on wheel list %u, request %u\n", j, list,
				SNAP[j].clock.req);
			return -1;
		}
		for (w = 0; w < M.nwl && M.wl[w].list != list - 1; w++)
			;
		if (w == M.nwl) {	/* a list not seen yet: walk it */
			M.wl[M.nwl++].list = list - 1;
			for (at = read_list(list - 1).head, n = 0; at; at = all[at - 1].clock.next) {
				if (at - 1 >= MAXE || J_OF[at - 1] < 0 || n == NS)
					return -1;
				M.wl[w].j[n++] = J_OF[at - 1];
			}
			M.wl[w].n = n;
		}
		SNAP_WL[j] = M.wl_of[j] = w;
	}
	if (queue_take(requests_fd(), got, MAXE) || queue_take(free_ids_fd(), got, MAXE)) {
		fprintf(stderr, "requests or free ids left after the setup\n");
		return -1;
	}
	NNEED_L2 = queue_take(need_l2_fd(), NEED_L2, MAXE);
	queue_put(need_l2_fd(), NEED_L2, NNEED_L2);
	M_SNAP = M;
	check_index(M.index, all);	/* the snapshot keeps the table's own rules */
	check_wheel(all);
	return 0;
}

static int group_setup(void **state)
{
	static const uint8_t want_state[] = {
		[SH_ACTIVE] = TKO_ACTIVE, [SH_ANSWERED] = TKO_ACTIVE, [SH_EP_PROBE] = TKO_ACTIVE,
		[SH_LEARNING] = TKO_LEARNING, [SH_SUSPENDED] = TKO_SUSPENDED,
	};
	struct tko_key active[NS];
	int j, na = 0;

	if (h_load(MAXE))
		return -1;
	for (j = 0; j < NS; j++) {
		struct tko_ctl_args a = sess_args(SESS[j].prof, port_of(j));

		/* long intervals: the probe queued at activation stays the only one */
		a.cfg.interval_s = 3600;
		a.cfg.retry_interval_s = 3600;
		a.cfg.retries = 255;
		if (SESS[j].probe_byte)
			a.cfg.probe = TKO_PROBE_BYTE;
		KEYS[j] = a.key;
		if (h_start(&a)) {
			fprintf(stderr, "cannot start session %d\n", j);
			goto fail;
		}
		if (SESS[j].shape != SH_LEARNING)
			active[na++] = a.key;
	}
	/* the real clock makes them ACTIVE (and sends each its first probe) */
	if (!h_wait_state(active, (size_t)na, TKO_ACTIVE) || shape_sessions())
		goto fail;
	/* One more pass takes the suspensions' requests: the suspended sessions
	 * are filed one idle period on, everything else is due in an hour. From
	 * here on no pass runs: only frames change the table. */
	h_pass();

	/* The snapshot; "long ago" for the answer windows, so budgets are full. */
	for (j = 0; j < NS; j++) {
		if (!h_find(&KEYS[j], &ID[j], &SNAP[j]) ||
		    SNAP[j].state != want_state[SESS[j].shape]) {
			fprintf(stderr, "session %d not in its shape\n", j);
			goto fail;
		}
		SNAP[j].answer_window_ns = 0;
		SNAP[j].answers_in_window = 0;
	}
	if (snapshot_model())
		goto fail;
	restore_all();
	{
		static struct tko_session all[MAXE], v[NS];
		bool present[NS];

		dump_table(all, v, present);
		for (j = 0; j < NS; j++)
			if (!present[j] || memcmp(&v[j], &SNAP[j], sizeof(v[j]))) {
				fprintf(stderr, "session %d reads back differently after a restore\n", j);
				goto fail;
			}
	}
	h_drain();
	H.nev = 0;
	return 0;
fail:
	h_destroy();
	return -1;
}

static void usage(FILE *o)
{
	fprintf(o, "usage: prog_fuzz [--iterations N] [--seed S] [--progress SECS]\n"
		   "       prog_fuzz --frame HEX [--tc [--mark M]]\n"
		   "  no --iterations: the bounded run of make test (fixed seeds + one from the clock)\n"
		   "  --iterations N:  a long run of N frames (make fuzz); env TKO_FUZZ_ITERATIONS\n"
		   "  --seed S:        the seed (decimal or 0x...); env TKO_FUZZ_SEED\n"
		   "  --frame HEX:     run one frame (e.g. a failure's hexdump) through XDP, or\n"
		   "                   TC egress with --tc (skb mark M), against the fresh table\n");
}

int main(int argc, char **argv)
{
	const char *env;
	struct CMUnitTest tests[8];
	size_t n = 0, i;
	int a;

	if ((env = getenv("TKO_FUZZ_ITERATIONS")) && *env)
		OPT_ITERS = strtoull(env, NULL, 0);
	if ((env = getenv("TKO_FUZZ_SEED")) && *env) {
		OPT_SEED = strtoull(env, NULL, 0);
		OPT_SEED_SET = true;
	}
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--iterations") && a + 1 < argc) {
			OPT_ITERS = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--seed") && a + 1 < argc) {
			OPT_SEED = strtoull(argv[++a], NULL, 0);
			OPT_SEED_SET = true;
		} else if (!strcmp(argv[a], "--frame") && a + 1 < argc) {
			OPT_FRAME = argv[++a];
		} else if (!strcmp(argv[a], "--tc")) {
			OPT_TC = true;
		} else if (!strcmp(argv[a], "--mark") && a + 1 < argc) {
			OPT_MARK = (uint32_t)strtoul(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--progress") && a + 1 < argc) {
			OPT_PROGRESS = strtod(argv[++a], NULL);
		} else if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!OPT_SEED_SET)
		OPT_SEED = now_ns() ^ ((uint64_t)getpid() << 32);

	if (OPT_FRAME) {
		tests[n++] = (struct CMUnitTest){ "replay_frame", test_replay_frame };
	} else if (OPT_ITERS) {
		printf("prog_fuzz: seed 0x%" PRIx64 "%s, %" PRIu64 " iterations\n", OPT_SEED,
		       OPT_SEED_SET ? "" : " (from the clock)", OPT_ITERS);
		tests[n++] = (struct CMUnitTest){ "fuzz", test_fuzz_long };
	} else {
		SEEDS[3].seed = OPT_SEED;
		if (OPT_SEED_SET)
			snprintf(SEEDS[3].name, sizeof(SEEDS[3].name), "fuzz_seed_%" PRIx64, OPT_SEED);
		printf("prog_fuzz: seeds 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 " and 0x%" PRIx64
		       "%s, %d iterations each\n", SEEDS[0].seed, SEEDS[1].seed, SEEDS[2].seed,
		       OPT_SEED, OPT_SEED_SET ? "" : " (from the clock)", BOUNDED_ITERS);
		fflush(stdout);
		for (i = 0; i < 4; i++)
			tests[n++] = (struct CMUnitTest){ .name = SEEDS[i].name,
							  .test_func = test_fuzz_seed,
							  .initial_state = &SEEDS[i] };
		tests[n++] = (struct CMUnitTest){ "truncation_every_length", test_truncation };
		tests[n++] = (struct CMUnitTest){ "flood_rate_limit_and_off_path", test_flood };
	}
	return _cmocka_run_group_tests("prog_fuzz", tests, n, group_setup, h_group_teardown);
}
