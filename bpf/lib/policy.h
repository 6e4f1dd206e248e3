/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policies (`tko policy add`): does a tuple match, and what a session made
 * by a policy starts with. Local policies are matched by sockops, forwarded
 * ones by TC egress (bpf/lib/flow.h).
 */
#ifndef TKO_BPF_POLICY_H
#define TKO_BPF_POLICY_H

#include "maps.h"

static __always_inline bool prefix_match(const __u8 *a, const __u8 *p, __u8 len)
{
	int i;

	for (i = 0; i < 16; i++) {
		__u8 bits = len > 8 * i ? (len - 8 * i >= 8 ? 8 : len - 8 * i) : 0;
		__u8 mask = bits ? (__u8)(0xff << (8 - bits)) : 0;

		if ((a[i] ^ p[i]) & mask)
			return false;
	}
	return true;
}

/*
 * Ports and prefixes of policy p against tuple k (not the cgroup, which
 * only sockops can see). Global: the prefix tests alone have a path per
 * length, verified once here instead of at every caller.
 */
__noinline int policy_match_key(const struct tko_policy *p, const struct tko_key *k)
{
	if (!p || !k || !p->id)
		return false;
	if (p->lport && p->lport != k->lport)
		return false;
	if (p->rport && p->rport != k->rport)
		return false;
	if (p->family && (p->family != k->family || !prefix_match(k->raddr, p->raddr, p->prefix_len)))
		return false;
	if (p->lfamily &&
	    (p->lfamily != k->family || !prefix_match(k->laddr, p->laddr, p->lprefix_len)))
		return false;
	return true;
}

/* A session policy p created: counted by the policy (its slot). */
static __always_inline void policy_count(const struct tko_policy *p)
{
	struct tko_policy_stats *ps;
	__u32 slot = p->id - 1;

	ps = bpf_map_lookup_elem(&policy_stats, &slot);
	if (!ps)
		return;
	__sync_fetch_and_add(&ps->sessions, 1);
	__sync_fetch_and_add(&ps->created, 1);
}

#endif /* TKO_BPF_POLICY_H */
