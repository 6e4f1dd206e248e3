/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Waking a sleeping endpoint when its peer speaks (tko as a sleep proxy,
 * --wake). tko keeps a sleeping device's flow alive, but the server's data
 * still goes to a device that cannot take it. For a session with
 * TKO_F_WAKE, the peer's data or FIN at XDP asks the agent (signals ring,
 * struct tko_wake) to wake it: magic packets on the link it is on, or the
 * agent's hook. The data itself passes as always: the peer retransmits it
 * until the endpoint, awake, acknowledges it.
 *
 * Where the endpoint is was learned at TC egress from its own forwarded
 * segments, when the neighbour entry is fresh (after hours of sleep it is
 * long gone): the interface they came in on, one of the agent's wake
 * interfaces, and the MAC the gateway's neighbour table has for the
 * endpoint's address (behind a masquerade, conntrack's original tuple has
 * it).
 */
#ifndef TKO_BPF_WAKE_H
#define TKO_BPF_WAKE_H

#include "conntrack.h"
#include "table.h"

/* Does the agent send magic packets (tko agent --wake-iface)? */
static __always_inline bool wake_ifaces(void)
{
	struct tko_carrier_state *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&carrier, &zero);
	return c && c->wake_ifindex[0];
}

/* Is ifindex one of the agent's wake interfaces (tko agent --wake-iface)? */
static __always_inline bool wake_iface(__u32 ifindex)
{
	struct tko_carrier_state *c;
	__u32 zero = 0;
	int i;

	c = bpf_map_lookup_elem(&carrier, &zero);
	if (!c || !ifindex)
		return false;
	for (i = 0; i < TKO_MAX_IFACES; i++) {
		if (!c->wake_ifindex[i])
			break;
		if (c->wake_ifindex[i] == ifindex)
			return true;
	}
	return false;
}

/*
 * Learn where the endpoint of session id is, from its segment (skb, at TC
 * egress, forwarded): the wake interface it came in on, and the MAC the
 * neighbour table has for its address on that link. Its address is the
 * session's local one, unless the gateway translates it: of the flow's
 * conntrack entry, the direction the peer did not send is the endpoint's
 * (original when the endpoint opened the flow, reply when the peer did,
 * through a forwarded port). Global, verified once; its stack is small
 * (one buffer for the lookups, in turn), as TC egress's own is large.
 * 1 if learned (or nothing to learn), 0 if it cannot be: an endpoint not
 * on a wake interface's link (behind another router, its segments coming
 * in elsewhere) has no MAC to wake, which the caller reports.
 */
__noinline int wake_learn(struct __sk_buff *skb, __u32 id)
{
	struct bpf_ct_opts opts = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = IPPROTO_TCP };
	struct tko_session *s = session_get(id);
	const struct nf_conntrack_tuple *t;
	union {
		struct bpf_sock_tuple tuple;
		struct bpf_fib_lookup fib;
	} u;
	__u32 in, n, i, same = 0, addr[4];
	struct nf_conn *ct = NULL;

	if (!skb || !s || !(s->cfg.flags & TKO_F_WAKE) || (s->have & TKO_HAVE_WAKE) ||
	    !wake_ifaces())
		return 1;	/* nothing to learn (no wake interface: the hook wakes) */
	in = skb->ingress_ifindex;
	if (!wake_iface(in))
		return 0;
	n = s->key.family == TKO_AF_INET6 ? 4 : 1;
	__builtin_memcpy(addr, s->key.laddr, 16);
	if (!ct_kfuncs_absent) {
		__builtin_memset(&u, 0, sizeof(u));
		ct = bpf_skb_ct_lookup(skb, &u.tuple, ct_tuple(&s->key, &u.tuple), &opts,
				       TKO_CT_OPTS_SZ);
	}
	if (ct) {
		t = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
		for (i = 0; i < 4; i++)
			same += i < n && t->src.u3.all[i] == ((__u32 *)s->key.raddr)[i];
		if (same == n)
			t = &ct->tuplehash[IP_CT_DIR_REPLY].tuple;
		for (i = 0; i < 4; i++)
			addr[i] = i < n ? t->src.u3.all[i] : 0;
		bpf_ct_release(ct);
	}

	__builtin_memset(&u, 0, sizeof(u));
	u.fib.ifindex = in;
	u.fib.l4_protocol = IPPROTO_TCP;
	u.fib.family = s->key.family;
	for (i = 0; i < 4; i++)
		u.fib.ipv6_dst[i] = addr[i];	/* ipv4_dst is the first word */
	/* Out of that link, to the endpoint itself: a route through a next
	 * hop puts the next hop in the destination. */
	if (bpf_fib_lookup(skb, &u.fib, sizeof(u.fib), BPF_FIB_LOOKUP_OUTPUT) !=
	    BPF_FIB_LKUP_RET_SUCCESS || u.fib.ifindex != in)
		return 0;
	for (i = 0; i < 4; i++)
		if (i < n && u.fib.ipv6_dst[i] != addr[i])
			return 0;
	__builtin_memcpy(s->wake_mac, u.fib.dmac, 6);
	__builtin_memcpy(s->wake_addr, addr, 16);
	s->wake_ifindex = in;
	__sync_fetch_and_or(&s->have, TKO_HAVE_WAKE);
	return 1;
}

/* wake_learn(), and a warning if the endpoint cannot be found (once). */
static __always_inline void wake_locate(struct __sk_buff *skb, __u32 id, struct tko_session *s)
{
	if (!wake_learn(skb, id))
		session_warn(id, s, TKO_NOTE_WAKE_UNKNOWN, TKO_R_WAKE_UNKNOWN);
}

/*
 * The endpoint spoke (any segment of its own at TC egress): it is awake,
 * and the peer's data waiting for it, if any, will be acknowledged. The
 * episode is over.
 */
static __always_inline void wake_heard(struct tko_session *s)
{
	if (s->wake_since_ns) {
		s->wake_since_ns = 0;
		s->wakes = 0;
	}
}

/* Ask the agent to wake the endpoint of session id (struct tko_wake). */
static __always_inline void wake_signal(__u32 id, struct tko_session *s, __u8 reason, __u64 now)
{
	struct tko_wake *w = bpf_ringbuf_reserve(&signals, sizeof(*w), 0);

	if (!w) {
		stat_inc(TKO_ST_WAKES_FAILED);
		session_warn(id, s, TKO_NOTE_WAKE_FAILED, TKO_R_WAKE_FAILED);
		return;
	}
	w->type = TKO_SIG_WAKE;
	w->id = id;
	__builtin_memcpy(&w->key, &s->key, sizeof(w->key));
	if (s->have & TKO_HAVE_WAKE)
		__builtin_memcpy(w->addr, s->wake_addr, 16);
	else
		__builtin_memcpy(w->addr, s->key.laddr, 16);
	__builtin_memcpy(w->mac, s->wake_mac, 6);
	w->known = !!(s->have & TKO_HAVE_WAKE);
	w->reason = reason;
	w->ifindex = s->wake_ifindex;
	w->wakes = s->wakes;
	w->ts_ns = now;
	bpf_ringbuf_submit(w, 0);
}

/*
 * The peer's data or FIN (reason) for session id, valid (in window,
 * acknowledging what the endpoint sent), before the session changes for
 * it: wake the endpoint if it may be asleep (the rules by TKO_WAKE_BURST
 * in include/tko_types.h). An ACTIVE session's endpoint has been idle for
 * the idle period, so it is woken at once. Of two CPUs, the one that
 * moves wake_ns sends.
 */
static __always_inline void wake_check(__u32 id, struct tko_session *s, __u8 reason, __u64 now)
{
	bool asleep = s->state == TKO_ACTIVE;
	__u64 since, last;

	if (!(s->cfg.flags & TKO_F_WAKE))
		return;
	since = s->wake_since_ns;
	if (!since || now - since >= TKO_WAKE_EPISODE_NS) {
		s->wake_since_ns = since = now;
		s->wakes = 0;
	}
	if (!asleep && now - since < TKO_WAKE_QUIET_NS)
		return;
	last = s->wake_ns;
	if (s->wakes >= TKO_WAKE_BURST || (last && now - last < TKO_WAKE_GAP_NS))
		return;
	if (__sync_val_compare_and_swap(&s->wake_ns, last, now) != last)
		return;
	s->wakes++;
	wake_signal(id, s, reason, now);
}

#endif /* TKO_BPF_WAKE_H */
