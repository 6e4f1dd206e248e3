/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The session table: preallocated entries by id (`sessions`), an index from
 * tuple to id (`sessions_index`), free ids (`free_ids`) and never-used ones
 * (tko_table.fresh). Nothing here allocates, so creating a session from any
 * program (control, sockops, TC) succeeds whenever the table has room.
 *
 * Concurrency without locks:
 *  - an index slot is claimed and released with compare-and-swap, so of two
 *    programs ending the same session exactly one does (and reports it);
 *  - sessions are put in the index one at a time (a lock word in the
 *    table's entry 0, taken with compare-and-swap, held for a few hundred
 *    ns): a creation that finds a live session of its tuple (or, still,
 *    one being created under a lower id) withdraws, so exactly one stays;
 *  - an entry is published (state != TKO_CREATING) only after all of it is
 *    written; lookups ignore entries being created.
 * Ids are freed by the carrier only (bpf/lib/wheel.h), after it unlinked the
 * session from its wheel list, and reused oldest first.
 *
 * The functions that do real work are global (__noinline): the verifier
 * checks each once per program instead of at every call site.
 */
#ifndef TKO_BPF_TABLE_H
#define TKO_BPF_TABLE_H

#include "consts.h"
#include "maps.h"
#include "tko_hash.h"

static __always_inline struct tko_table *table_info(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&table, &zero);
}

static __always_inline struct tko_session *session_get(__u32 id)
{
	return bpf_map_lookup_elem(&sessions, &id);
}

/* Is entry e of an index bucket the live session of key? Its id, or -1. */
static __always_inline int entry_match(__u32 e, __u32 tag, const struct tko_key *key)
{
	struct tko_session *s;
	__u32 id;

	if (!e || tko_index_tag(e) != tag)
		return -1;
	id = tko_index_id(e);
	s = session_get(id);
	if (!s || s->state == TKO_FREE || s->state == TKO_CREATING || s->state == TKO_STOPPED)
		return -1;
	return tko_key_equal(&s->key, key) ? (int)id : -1;
}

/*
 * The id of key's live session, or -1. Half the sessions are in their
 * second bucket: both are read at once, so that with a large table their
 * two cache misses overlap instead of following one another.
 */
__noinline int session_find(const struct tko_key *key)
{
	struct tko_table *t = table_info();
	struct tko_bucket *bk, *bk2;
	__u32 tag, b, b2, v;
	__u64 h;
	int id, i;

	if (!key || !t || !t->buckets)
		return -1;
	h = tko_hash_key(key, t->seed);
	tag = tko_hash_tag(h);
	b = tko_hash_bucket(h, t->buckets, 0);
	b2 = tko_hash_bucket(h, t->buckets, 1);
	bk = bpf_map_lookup_elem(&sessions_index, &b);
	bk2 = bpf_map_lookup_elem(&sessions_index, &b2);
	if (bk2) {
		v = bk2->slot[0];
		barrier_var(v);
	}
	if (bk)
		for (i = 0; i < TKO_BUCKET_SLOTS; i++) {
			id = entry_match(bk->slot[i], tag, key);
			if (id >= 0)
				return id;
		}
	if (bk2)
		for (i = 0; i < TKO_BUCKET_SLOTS; i++) {
			id = entry_match(bk2->slot[i], tag, key);
			if (id >= 0)
				return id;
		}
	return -1;
}

/*
 * A free entry for a new session: its id, state TKO_CREATING, or -E2BIG.
 * Ids never used first, then recycled ones (oldest first): an entry is
 * reused as late as possible.
 */
__noinline int session_alloc(void)
{
	struct tko_table *t = table_info();
	struct tko_session *s;
	__u32 id = ~0u;

	if (!t)
		return -E2BIG;
	if (t->fresh < t->max_sessions)
		id = __sync_fetch_and_add(&t->fresh, 1);
	if (id >= t->max_sessions && bpf_map_pop_elem(&free_ids, &id))
		return -E2BIG;
	s = session_get(id);
	if (!s)
		return -E2BIG;
	s->state = TKO_CREATING;
	return id;
}

/*
 * Give an entry that was never linked on the wheel back (a creation that
 * failed): only the carrier frees entries it may have linked.
 */
static __always_inline void session_release(__u32 id, struct tko_session *s)
{
	s->index_entry = 0;
	s->state = TKO_FREE;
	if (bpf_map_push_elem(&free_ids, &id, 0))
		stat_inc(TKO_ST_REQUESTS_LOST);	/* cannot happen: room for every id */
}

/*
 * Start an entry from scratch: everything but the clock (a request queued
 * for the entry's previous session stays valid: the carrier looks at what
 * the entry holds when it gets to it).
 */
static __always_inline void session_clear(struct tko_session *s)
{
	__builtin_memset(s, 0, __builtin_offsetof(struct tko_session, state));
	__builtin_memset(&s->prev_state, 0, __builtin_offsetof(struct tko_session, clock) -
					    __builtin_offsetof(struct tko_session, prev_state));
}

/*
 * Free slots of bucket b (a racy count: only a preference). Global, like
 * the claim: the verifier would follow every combination of free and used
 * slots of an inlined count.
 */
__noinline int bucket_free(__u32 b)
{
	struct tko_bucket *bk = bpf_map_lookup_elem(&sessions_index, &b);
	__u32 i, v, n = 0;

	if (!bk)
		return 0;
	for (i = 0; i < TKO_BUCKET_SLOTS; i++) {
		v = bk->slot[i];
		n += !v;
	}
	return n;
}

/* Claim a free slot of bucket b for entry e: the slot's position, or -1. */
__noinline int bucket_claim(__u32 b, __u32 e)
{
	struct tko_bucket *bk = bpf_map_lookup_elem(&sessions_index, &b);
	int i;

	if (!bk)
		return -1;
	for (i = 0; i < TKO_BUCKET_SLOTS; i++)
		if (!bk->slot[i] && !__sync_val_compare_and_swap(&bk->slot[i], 0, e))
			return (int)(b * TKO_BUCKET_SLOTS + i);
	return -1;
}

/*
 * Claim a slot for entry e in the emptier of buckets b1 and b2 (two choices
 * keep the fullest bucket near the average, balls into bins, so buckets
 * rarely fill), or in the other: the slot's position, or -1.
 */
static __always_inline int buckets_claim(__u32 b1, __u32 b2, __u32 e)
{
	int pos;

	if (bucket_free(b2) > bucket_free(b1)) {
		pos = bucket_claim(b2, e);
		return pos >= 0 ? pos : bucket_claim(b1, e);
	}
	pos = bucket_claim(b1, e);
	return pos >= 0 ? pos : bucket_claim(b2, e);
}

/*
 * Another claim of key in bucket b than entry e? One that wins over e: a
 * live session, or one being created under a lower id.
 */
__noinline int bucket_rival(__u32 b, __u32 e, const struct tko_key *key)
{
	struct tko_bucket *bk = bpf_map_lookup_elem(&sessions_index, &b);
	struct tko_session *o;
	__u32 v, id;
	int i;

	if (!bk || !key)
		return 0;
	for (i = 0; i < TKO_BUCKET_SLOTS; i++) {
		v = bk->slot[i];
		if (!v || v == e || tko_index_tag(v) != tko_index_tag(e))
			continue;
		id = tko_index_id(v);
		o = session_get(id);
		if (!o || o->state == TKO_FREE || o->state == TKO_STOPPED ||
		    !tko_key_equal(&o->key, key))
			continue;
		if (o->state != TKO_CREATING || id < tko_index_id(e))
			return 1;
	}
	return 0;
}

static long creation_wait_cb(__u64 i, int *taken)
{
	struct tko_table *t = table_info();

	if (!t)
		return 1;
	*taken = !__sync_val_compare_and_swap(&t->creating, 0, 1);
	return *taken;
}

/*
 * Sessions are put in the index one at a time. Two CPUs creating the same
 * tuple at once each claim a slot and then look for the other's: without
 * this lock, one could see the other still being created (and yield to a
 * lower id) just as the other, having looked first, publishes too, and the
 * tuple would have two sessions. A publication takes a few hundred ns; a
 * CPU that finds the lock taken waits that long, at most a bounded number
 * of tries (false: busy).
 */
static __always_inline bool creation_lock(struct tko_table *t)
{
	int taken = 0;

	if (!__sync_val_compare_and_swap(&t->creating, 0, 1))
		return true;
	bpf_loop(1 << 16, creation_wait_cb, &taken, 0);
	return taken;
}

static __always_inline void creation_unlock(struct tko_table *t)
{
	__sync_lock_test_and_set(&t->creating, 0);
}

/*
 * Put the filled entry id (state TKO_CREATING, key set) in the index and
 * give it state: 0, or -EEXIST (the tuple has a session) / -ENOSPC (both of
 * its buckets are full) / -EBUSY (the creation lock stayed taken), the
 * entry given back. The caller then queues it for the carrier
 * (sched_request). A session of the tuple that exists already is found as
 * a rival: no lookup first.
 */
__noinline int session_publish(__u32 id, __u32 state)
{
	struct tko_table *t = table_info();
	struct tko_session *s = session_get(id);
	struct tko_bucket *mine, *other;
	struct tko_key key;
	__u32 b1, b2, e, p;
	int pos;
	__u64 h;

	if (!t || !s || !t->buckets)
		return -ENOSPC;
	__builtin_memcpy(&key, &s->key, sizeof(key));
	h = tko_hash_key(&key, t->seed);
	e = tko_index_entry(tko_hash_tag(h), id);
	b1 = tko_hash_bucket(h, t->buckets, 0);
	b2 = tko_hash_bucket(h, t->buckets, 1);
	s->index_entry = e;
	/* Both buckets at once: two cache misses that overlap, not one
	 * after the other in the calls below. */
	mine = bpf_map_lookup_elem(&sessions_index, &b1);
	other = bpf_map_lookup_elem(&sessions_index, &b2);
	if (mine && other) {
		p = mine->slot[0] | other->slot[0];
		barrier_var(p);
	}
	if (!creation_lock(t)) {
		session_release(id, s);
		return -EBUSY;
	}
	pos = buckets_claim(b1, b2, e);
	if (pos < 0) {
		creation_unlock(t);
		session_release(id, s);
		return -ENOSPC;
	}
	s->index_pos = pos;
	if (bucket_rival(b1, e, &key) || bucket_rival(b2, e, &key)) {
		p = (__u32)pos;
		b1 = p / TKO_BUCKET_SLOTS;
		mine = bpf_map_lookup_elem(&sessions_index, &b1);
		if (mine)
			__sync_val_compare_and_swap(&mine->slot[p % TKO_BUCKET_SLOTS], e, 0);
		creation_unlock(t);
		session_release(id, s);
		return -EEXIST;
	}
	s->state = state;
	creation_unlock(t);
	return 0;
}

/*
 * Take session id out of the index: 1 for the one caller that did, which
 * then ends it (state TKO_STOPPED, its event, a request for the carrier to
 * free the entry); 0 if it was not there (somebody else ended it).
 */
__noinline int session_unindex(__u32 id)
{
	struct tko_session *s = session_get(id);
	struct tko_bucket *bk;
	__u32 b, e;

	if (!s)
		return 0;
	e = s->index_entry;
	b = s->index_pos / TKO_BUCKET_SLOTS;
	if (!e)
		return 0;
	bk = bpf_map_lookup_elem(&sessions_index, &b);
	if (!bk)
		return 0;
	return __sync_val_compare_and_swap(&bk->slot[s->index_pos % TKO_BUCKET_SLOTS], e, 0) == e;
}

#endif /* TKO_BPF_TABLE_H */
