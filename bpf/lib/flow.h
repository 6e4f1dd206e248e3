/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Forwarded flows (`tko policy add --forwarded`): which policy wants a flow
 * seen at TC egress, and the flows tko is done with. A flow that no
 * forwarded policy can match costs one lookup (policy_prefixes); one that
 * matches costs a lookup in flows_closed more, until it is a session.
 */
#ifndef TKO_BPF_FLOW_H
#define TKO_BPF_FLOW_H

#include "policy.h"

/*
 * The slots of the forwarded policies whose --local covers k's local
 * address (a mask), 0 if none: the longest prefix holds them all.
 */
static __always_inline __u64 flow_policies(const struct tko_key *k)
{
	struct tko_prefix_key pk;
	__u64 *mask;

	pk.prefixlen = 8 + (k->family == TKO_AF_INET ? 32 : 128);
	pk.family = k->family;
	__builtin_memcpy(pk.addr, k->laddr, sizeof(pk.addr));
	mask = bpf_map_lookup_elem(&policy_prefixes, &pk);
	return mask ? *mask : 0;
}

/*
 * The first forwarded policy of mask that matches k (the lowest slot, as
 * for local policies): its slot, or -1. Global: verified once.
 */
__noinline int flow_policy_find(__u64 mask, const struct tko_key *k)
{
	struct tko_policy *p;
	__u32 i;

	if (!k)
		return -1;
	for (i = 0; i < TKO_MAX_POLICIES; i++) {
		__u32 slot = i;

		if (!((mask >> i) & 1))
			continue;
		p = bpf_map_lookup_elem(&policies, &slot);
		if (p && (p->cfg.flags & TKO_F_FORWARDED) && policy_match_key(p, k))
			return i;
	}
	return -1;
}

/*
 * Is k a flow tko is done with (ended, dead, closing) and no new SYN since,
 * or one refused a moment ago? A refusal expires: the table may have room
 * again, and a long-lived flow deserves another try.
 */
static __always_inline bool flow_closed(const struct tko_key *k, __u64 now)
{
	__u64 *until = bpf_map_lookup_elem(&flows_closed, k);

	if (!until)
		return false;
	if (*until > now)
		return true;
	bpf_map_delete_elem(&flows_closed, k);
	return false;
}

/*
 * The endpoint's SYN (or SYN-ACK) on k, at seq: a new connection, which a
 * policy may track again; its first segment at seq + 1 tells SND.UNA.
 */
static __always_inline void flow_reopen(const struct tko_key *k, __u32 seq)
{
	__u32 next = seq + 1;

	bpf_map_delete_elem(&flows_closed, k);
	bpf_map_update_elem(&flows_opening, k, &next, BPF_ANY);
}

/*
 * The first segment after the handshake, at the SYN's seq + 1: the endpoint
 * sent it once the peer had acknowledged its SYN (SYN-SENT or SYN-RECEIVED
 * leave for ESTABLISHED only then): nothing of before it is in flight.
 */
static __always_inline bool flow_opened(const struct tko_key *k, __u32 seq)
{
	__u32 *next = bpf_map_lookup_elem(&flows_opening, k);
	bool opened = next && *next == seq;

	if (next)
		bpf_map_delete_elem(&flows_opening, k);
	return opened;
}

#endif /* TKO_BPF_FLOW_H */
