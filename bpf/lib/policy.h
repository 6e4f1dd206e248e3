/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policies (`tko policy add`): does a tuple match, and what a session made
 * by a policy starts with. Local policies are matched by sockops, forwarded
 * ones by TC egress (bpf/lib/flow.h).
 */
#ifndef TKO_BPF_POLICY_H
#define TKO_BPF_POLICY_H

#include "session.h"
#include "table.h"

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

/*
 * A connection a policy wants and the table cannot take: reported and
 * counted. A forwarded flow is also set aside for a while, so that it is
 * refused once, not at each of its segments, and tried again later.
 */
static __always_inline void policy_refused(const struct tko_key *k, __u32 reason,
					   const struct tko_policy *p)
{
	session_refused(k, reason);
	if (p->cfg.flags & TKO_F_FORWARDED)
		flow_close(k, bpf_ktime_get_ns() + TKO_FLOW_RETRY_NS);
}

/*
 * A new entry for policy p's session of k, LEARNING from now (the caller
 * fills in its state, then publishes it): its entry and id, or NULL after
 * the refusal was reported.
 */
static __always_inline struct tko_session *policy_session_new(const struct tko_key *k,
							      const struct tko_policy *p,
							      __u64 now, int *idp)
{
	struct tko_session *s;
	int id = session_alloc();

	if (id < 0) {
		policy_refused(k, TKO_R_TABLE_FULL, p);
		return NULL;
	}
	s = session_get(id);
	if (!s)
		return NULL;
	session_clear(s);
	__builtin_memcpy(&s->key, k, sizeof(*k));
	__builtin_memcpy(&s->cfg, &p->cfg, sizeof(s->cfg));
	s->policy = p->id;
	s->policy_gen = p->gen;
	s->started_ns = s->last_seen_ns = now;
	s->next_ns = now + idle_ns(s);
	*idp = id;
	return s;
}

/* Count a session of policy p (its slot), or take the count back (-1). */
static __always_inline void policy_count(const struct tko_policy *p, __s64 n)
{
	struct tko_policy_stats *ps;
	__u32 slot = p->id - 1;

	ps = bpf_map_lookup_elem(&policy_stats, &slot);
	if (!ps)
		return;
	__sync_fetch_and_add(&ps->sessions, n);
	__sync_fetch_and_add(&ps->created, n);
}

/*
 * Publish the filled entry and queue it for the clock: true, or false
 * after a refusal was reported (or the tuple has a session already, from
 * tko start or another CPU: not a loss). The policy counts the session
 * first: once published, another CPU may end it and take its count back.
 */
static __always_inline bool policy_session_publish(__u32 id, struct tko_session *s,
						   const struct tko_key *k,
						   const struct tko_policy *p)
{
	int err;

	policy_count(p, 1);
	err = session_publish(id, TKO_LEARNING);
	if (err) {
		policy_count(p, -1);
		if (err == -ENOSPC)
			policy_refused(k, TKO_R_INDEX_FULL, p);
		else if (err == -EBUSY)
			policy_refused(k, TKO_R_BUSY, p);
		return false;
	}
	if (!sched_request(id, s)) {
		if (session_unindex(id)) {
			policy_count(p, -1);
			session_release(id, s);
		}
		policy_refused(k, TKO_R_BUSY, p);
		return false;
	}
	return true;
}

#endif /* TKO_BPF_POLICY_H */
