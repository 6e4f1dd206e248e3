// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <bpf/bpf.h>

#include "policies.h"

static bool prefix_contains(__u8 family, const __u8 *addr, __u8 len,
			    const struct tko_prefix_key *k)
{
	__u8 klen = k->prefixlen - 8;

	if (family != k->family || len > klen)
		return false;
	for (int i = 0; i < 16 && 8 * i < len; i++) {
		__u8 bits = len - 8 * i >= 8 ? 8 : len - 8 * i;
		__u8 mask = (__u8)(0xff << (8 - bits));

		if ((addr[i] ^ k->addr[i]) & mask)
			return false;
	}
	return true;
}

static void prefix_key(struct tko_prefix_key *k, __u8 family, const __u8 *addr, __u8 len)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 8 + len;
	k->family = family;
	for (int i = 0; i < 16 && 8 * i < len; i++) {
		__u8 bits = len - 8 * i >= 8 ? 8 : len - 8 * i;

		k->addr[i] = addr[i] & (__u8)(0xff << (8 - bits));
	}
}

static bool is_forwarded(const struct tko_policy *p)
{
	return p->id && (p->cfg.flags & TKO_F_FORWARDED);
}

/* The families a forwarded policy can match: its --local's, else its --remote's, else both. */
static int policy_families(const struct tko_policy *p, __u8 fam[2])
{
	if (p->lfamily) {
		fam[0] = p->lfamily;
		return 1;
	}
	if (p->family) {
		fam[0] = p->family;
		return 1;
	}
	fam[0] = TKO_AF_INET;
	fam[1] = TKO_AF_INET6;
	return 2;
}

int policy_prefixes(const struct tko_policy *pol, int n, struct tko_prefix_entry *out)
{
	static const __u8 any[16];
	int m = 0;

	if (n > TKO_MAX_POLICIES)
		n = TKO_MAX_POLICIES;
	for (int i = 0; i < n; i++) {
		__u8 fam[2];
		int nf;

		if (!is_forwarded(&pol[i]))
			continue;
		nf = policy_families(&pol[i], fam);
		for (int f = 0; f < nf; f++) {
			struct tko_prefix_key k;
			bool dup = false;

			if (pol[i].lfamily)
				prefix_key(&k, fam[f], pol[i].laddr, pol[i].lprefix_len);
			else
				prefix_key(&k, fam[f], any, 0);
			for (int j = 0; j < m && !dup; j++)
				dup = !memcmp(&out[j].key, &k, sizeof(k));
			if (!dup && m < TKO_PREFIX_ENTRIES_MAX)
				out[m++].key = k;
		}
	}
	for (int j = 0; j < m; j++) {
		out[j].mask = 0;
		for (int i = 0; i < n; i++) {
			__u8 fam[2];
			int nf;

			if (!is_forwarded(&pol[i]))
				continue;
			if (!pol[i].lfamily) {
				nf = policy_families(&pol[i], fam);
				for (int f = 0; f < nf; f++)
					if (fam[f] == out[j].key.family)
						out[j].mask |= 1ull << i;
			} else if (prefix_contains(pol[i].lfamily, pol[i].laddr, pol[i].lprefix_len,
						   &out[j].key)) {
				out[j].mask |= 1ull << i;
			}
		}
	}
	return m;
}

int policy_prefixes_sync(int policies_fd, int prefixes_fd)
{
	struct tko_policy pol[TKO_MAX_POLICIES];
	struct tko_prefix_entry want[TKO_PREFIX_ENTRIES_MAX];
	struct tko_prefix_key k, next, stale[TKO_PREFIX_ENTRIES_MAX];
	int n, nstale = 0;
	void *prev = NULL;

	memset(pol, 0, sizeof(pol));
	for (__u32 i = 0; i < TKO_MAX_POLICIES; i++)
		if (bpf_map_lookup_elem(policies_fd, &i, &pol[i]))
			return -errno;
	n = policy_prefixes(pol, TKO_MAX_POLICIES, want);
	for (int j = 0; j < n; j++)
		if (bpf_map_update_elem(prefixes_fd, &want[j].key, &want[j].mask, BPF_ANY))
			return -errno;
	while (!bpf_map_get_next_key(prefixes_fd, prev, &next)) {
		bool keep = false;

		for (int j = 0; j < n && !keep; j++)
			keep = !memcmp(&want[j].key, &next, sizeof(next));
		if (!keep && nstale < TKO_PREFIX_ENTRIES_MAX)
			stale[nstale++] = next;
		k = next;
		prev = &k;
	}
	for (int j = 0; j < nstale; j++)
		if (bpf_map_delete_elem(prefixes_fd, &stale[j]) && errno != ENOENT)
			return -errno;
	return 0;
}
