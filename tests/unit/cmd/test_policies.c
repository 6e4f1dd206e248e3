// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The forwarded policies' prefix trie (agent/cmd/policies.c): the longest
 * match for an address must name every forwarded policy whose --local
 * covers it, and nothing else.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "policies.h"

static struct tko_policy pol[TKO_MAX_POLICIES];

static void fwd(int slot, const char *local, int len)
{
	struct tko_policy *p = &pol[slot];

	memset(p, 0, sizeof(*p));
	p->id = slot + 1;
	p->cfg.flags = TKO_F_FORWARDED;
	if (!local)
		return;
	if (inet_pton(AF_INET, local, p->laddr) == 1)
		p->lfamily = TKO_AF_INET;
	else if (inet_pton(AF_INET6, local, p->laddr) == 1)
		p->lfamily = TKO_AF_INET6;
	else
		fail_msg("bad address %s", local);
	p->lprefix_len = len;
}

/* What an LPM lookup of addr would return among out[0..n): the mask, 0 if none. */
static uint64_t lookup(const struct tko_prefix_entry *out, int n, const char *addr)
{
	struct tko_prefix_key k = { 0 };
	int best = -1;

	if (inet_pton(AF_INET, addr, k.addr) == 1) {
		k.family = TKO_AF_INET;
		k.prefixlen = 40;
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, k.addr), 1);
		k.family = TKO_AF_INET6;
		k.prefixlen = 136;
	}
	for (int i = 0; i < n; i++) {
		const struct tko_prefix_key *e = &out[i].key;
		int len = e->prefixlen - 8, ok = e->family == k.family;

		for (int b = 0; ok && b < len; b++)
			ok = !((e->addr[b / 8] ^ k.addr[b / 8]) & (0x80 >> (b % 8)));
		if (ok && (best < 0 || e->prefixlen > out[best].key.prefixlen))
			best = i;
	}
	return best < 0 ? 0 : out[best].mask;
}

static void nested_prefixes(void **state)
{
	struct tko_prefix_entry out[TKO_PREFIX_ENTRIES_MAX];
	int n;

	(void)state;
	memset(pol, 0, sizeof(pol));
	fwd(0, "10.1.2.0", 24);
	fwd(1, "10.0.0.0", 8);
	fwd(3, "10.1.2.3", 32);
	fwd(5, "2001:db8::", 32);
	n = policy_prefixes(pol, TKO_MAX_POLICIES, out);
	assert_int_equal(n, 4);
	assert_int_equal(lookup(out, n, "10.1.2.3"), 1u << 0 | 1u << 1 | 1u << 3);
	assert_int_equal(lookup(out, n, "10.1.2.4"), 1u << 0 | 1u << 1);
	assert_int_equal(lookup(out, n, "10.7.0.1"), 1u << 1);
	assert_int_equal(lookup(out, n, "192.0.2.1"), 0);
	assert_int_equal(lookup(out, n, "2001:db8::1"), 1u << 5);
	assert_int_equal(lookup(out, n, "2001:db9::1"), 0);
}

/* No --local: every address of the families the policy can match. */
static void any_local(void **state)
{
	struct tko_prefix_entry out[TKO_PREFIX_ENTRIES_MAX];
	int n;

	(void)state;
	memset(pol, 0, sizeof(pol));
	fwd(2, NULL, 0);
	fwd(4, NULL, 0);
	pol[4].family = TKO_AF_INET6;	/* --remote of IPv6: IPv6 flows only */
	fwd(7, "10.0.0.0", 8);
	n = policy_prefixes(pol, TKO_MAX_POLICIES, out);
	assert_int_equal(n, 3);		/* IPv4 /0, IPv6 /0, 10/8 */
	assert_int_equal(lookup(out, n, "10.1.1.1"), 1u << 2 | 1u << 7);
	assert_int_equal(lookup(out, n, "192.0.2.1"), 1u << 2);
	assert_int_equal(lookup(out, n, "2001:db8::1"), 1u << 2 | 1u << 4);
}

/* Local policies and free slots are not in the trie; host bits are cleared. */
static void only_forwarded(void **state)
{
	struct tko_prefix_entry out[TKO_PREFIX_ENTRIES_MAX];
	int n;

	(void)state;
	memset(pol, 0, sizeof(pol));
	fwd(0, "10.0.0.0", 8);
	pol[0].cfg.flags = 0;		/* a local policy */
	fwd(1, "10.1.2.3", 16);		/* written with host bits */
	fwd(2, "10.1.0.0", 16);		/* the same prefix: one entry */
	pol[9].cfg.flags = TKO_F_FORWARDED;	/* id 0: a free slot */
	n = policy_prefixes(pol, TKO_MAX_POLICIES, out);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].key.prefixlen, 8 + 16);
	assert_int_equal(out[0].key.addr[2], 0);
	assert_int_equal(out[0].key.addr[3], 0);
	assert_int_equal(out[0].mask, 1u << 1 | 1u << 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nested_prefixes),
		cmocka_unit_test(any_local),
		cmocka_unit_test(only_forwarded),
	};

	return cmocka_run_group_tests_name("policies", tests, NULL, NULL);
}
