// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The forwarded policies' prefix trie (agent/daemon/policies.c): the longest
 * match for an address must name every forwarded policy whose --local
 * covers it, and nothing else. Which policies an earlier config made and
 * the current one no longer lists: those, and only those, are removed.
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

/* ---- which policies the config made (policy_config_stale) ---------------- */

/* A forwarded policy on remote port port, idle idle, in slot (id slot + 1; -1: no id). */
static struct tko_policy port_policy(int slot, __u16 port, __u32 idle)
{
	struct tko_policy p = { .id = slot + 1, .rport = port };

	p.cfg.idle_s = idle;
	p.cfg.interval_s = 60;
	p.cfg.flags = TKO_F_FORWARDED;
	return p;
}

/*
 * The table: 0 the config's, unchanged; 1 the config's, its line edited;
 * 2 the config's, its line deleted; 3 of `tko policy add`; 4 the config's
 * once, deleted and its slot reused by `tko policy add`; 5 the config's
 * once, deleted. Only 1 and 2 are to go; 0 stays the config's.
 */
static void config_stale(void **state)
{
	struct tko_policy made[TKO_MAX_POLICIES] = { 0 }, mine[TKO_MAX_POLICIES];
	struct tko_policy cfg[2];
	__u64 stale;

	(void)state;
	memset(pol, 0, sizeof(pol));
	pol[0] = made[0] = port_policy(0, 443, 30);
	pol[1] = made[1] = port_policy(1, 7443, 30);
	pol[2] = made[2] = port_policy(2, 7444, 30);
	pol[3] = port_policy(3, 7446, 30);
	pol[4] = port_policy(4, 7447, 30);
	made[4] = port_policy(4, 7447, 99);
	made[5] = port_policy(5, 7448, 30);
	cfg[0] = port_policy(-1, 443, 30);
	cfg[1] = port_policy(-1, 7443, 40);	/* 1, edited */
	stale = policy_config_stale(pol, made, cfg, 2, mine);
	assert_int_equal(stale, 1u << 1 | 1u << 2);
	assert_int_equal(mine[0].id, 1);
	assert_true(policy_same(&mine[0], &pol[0]));
	for (int i = 1; i < TKO_MAX_POLICIES; i++)
		assert_int_equal(mine[i].id, 0);
}

/* The config lists nothing any more: all it made goes, nothing else. */
static void config_empty(void **state)
{
	struct tko_policy made[TKO_MAX_POLICIES] = { 0 }, mine[TKO_MAX_POLICIES];

	(void)state;
	memset(pol, 0, sizeof(pol));
	pol[7] = made[7] = port_policy(7, 443, 30);
	pol[63] = made[63] = port_policy(63, 444, 30);
	pol[8] = port_policy(8, 445, 30);
	assert_true(policy_config_stale(pol, made, NULL, 0, mine) == (1ull << 7 | 1ull << 63));
}

/* The same policy in another slot than the record's is not the config's. */
static void config_other_slot(void **state)
{
	struct tko_policy made[TKO_MAX_POLICIES] = { 0 }, mine[TKO_MAX_POLICIES];

	(void)state;
	memset(pol, 0, sizeof(pol));
	made[0] = port_policy(0, 443, 30);
	pol[1] = port_policy(1, 443, 30);
	assert_int_equal(policy_config_stale(pol, made, NULL, 0, mine), 0);
	assert_int_equal(mine[0].id, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nested_prefixes),
		cmocka_unit_test(any_local),
		cmocka_unit_test(only_forwarded),
		cmocka_unit_test(config_stale),
		cmocka_unit_test(config_empty),
		cmocka_unit_test(config_other_slot),
	};

	return cmocka_run_group_tests_name("policies", tests, NULL, NULL);
}
