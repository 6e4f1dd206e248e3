/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The hash of a session tuple, shared by the BPF programs and libtko so that
 * both find a session in the index (struct tko_bucket) the same way. The
 * seed is random per loaded datapath (struct tko_table), so that nobody
 * outside can choose tuples that fill one bucket.
 *
 * A tuple is five 64-bit words; each is mixed in with a multiply-xorshift
 * step and the result goes through the MurmurHash3 64-bit finalizer. Plain C
 * with fixed-width types: it compiles for the BPF target and for userspace.
 */
#ifndef TKO_HASH_H
#define TKO_HASH_H

#include "tko_types.h"

#define TKO_HASH_K1 0x9e3779b97f4a7c15ULL
#define TKO_HASH_K2 0xff51afd7ed558ccdULL
#define TKO_HASH_K3 0xc4ceb9fe1a85ec53ULL

/*
 * The words of a struct tko_key. Reading a struct through a plain __u64
 * pointer breaks C's aliasing rules: gcc -O2 may then hash words it never
 * saw written (a copy of the key made just before), so it gets may_alias.
 */
typedef __u64 __attribute__((may_alias)) tko_key_word;

static inline __u64 tko_hash_word(__u64 h, __u64 w)
{
	w *= TKO_HASH_K1;
	w ^= w >> 29;
	return (h ^ w) * TKO_HASH_K2;
}

static inline __u64 tko_hash_key(const struct tko_key *k, __u64 seed)
{
	const tko_key_word *w = (const tko_key_word *)k;	/* struct tko_key is 8-byte aligned */
	__u64 h = seed ^ (sizeof(*k) * TKO_HASH_K1);

	h = tko_hash_word(h, w[0]);
	h = tko_hash_word(h, w[1]);
	h = tko_hash_word(h, w[2]);
	h = tko_hash_word(h, w[3]);
	h = tko_hash_word(h, w[4]);
	h ^= h >> 33;
	h *= TKO_HASH_K2;
	h ^= h >> 33;
	h *= TKO_HASH_K3;
	h ^= h >> 33;
	return h;
}

/* The tuple's two buckets (distinct when there are two or more) and its tag. */
static inline __u32 tko_hash_bucket(__u64 h, __u32 buckets, int which)
{
	__u32 b1 = (__u32)h & (buckets - 1);
	__u32 b2 = (__u32)(h >> 32) & (buckets - 1);

	if (!which)
		return b1;
	return b2 == b1 ? b1 ^ ((buckets - 1) & 1) : b2;
}

static inline __u32 tko_hash_tag(__u64 h)
{
	return (__u32)(h >> 24) & 0xff;
}

/* Index entries: tag << 24 | (id + 1); 0 is a free slot. */
static inline __u32 tko_index_entry(__u32 tag, __u32 id)
{
	return tag << 24 | (id + 1);
}

static inline __u32 tko_index_id(__u32 entry)
{
	return (entry & 0xffffff) - 1;
}

static inline __u32 tko_index_tag(__u32 entry)
{
	return entry >> 24;
}

static inline int tko_key_equal(const struct tko_key *a, const struct tko_key *b)
{
	const tko_key_word *x = (const tko_key_word *)a, *y = (const tko_key_word *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

#endif /* TKO_HASH_H */
