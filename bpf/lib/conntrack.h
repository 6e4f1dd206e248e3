/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The gateway's own conntrack entry of an offloaded flow. Most gateways
 * masquerade their devices, so the flow tko keeps alive upstream also lives
 * in the gateway's own conntrack table. tko's probes leave through
 * bpf_clone_redirect() and the segments it answers or consumes never reach
 * the stack: netfilter sees none of them, and the entry would expire while
 * the device sleeps (then the gateway drops the device's data after waking,
 * or sends it un-NATed). So whenever tko keeps the flow alive (the peer
 * answered tko's probe, or tko answered the peer's), it does what conntrack
 * would have done with that segment: it gives the flow's entry the
 * established timeout again. One call per site: ct_refresh_xdp() at XDP,
 * ct_refresh_skb() at TC, with the session's key. No other entry is touched.
 *
 * Not at every answer: a lookup costs more than all the rest of an answer
 * (docs/performance.md), and one a refresh period is enough (ct_due()).
 *
 * The conntrack kfuncs (lookups since Linux 5.18, bpf_ct_change_timeout
 * since 6.1) are weak, and not used where the loader did not find them in
 * the kernel's BTF (ct_kfuncs_absent, tko_ct_kfuncs()): where the kernel has no
 * conntrack, or nf_conntrack is a module not loaded when the datapath is,
 * they resolve to nothing, the verifier drops the calls as dead code, the
 * programs load, and the refresh is skipped (the agent says so once at
 * start). Not bpf_ksym_exists(): it takes the address of a kfunc (ld_imm64),
 * which only Linux 6.4 accepts; an unresolved weak kfunc call in dead code
 * is accepted since 5.18.
 */
#ifndef TKO_BPF_CONNTRACK_H
#define TKO_BPF_CONNTRACK_H

#include "session.h"
#include <bpf/bpf_endian.h>

/*
 * Tests build a variant whose kfuncs no kernel has (tests/prog), to check
 * that the programs load and behave without them.
 */
#ifdef TKO_CT_TEST_ABSENT
#define bpf_xdp_ct_lookup tko_absent_xdp_ct_lookup
#define bpf_skb_ct_lookup tko_absent_skb_ct_lookup
#define bpf_ct_change_timeout tko_absent_ct_change_timeout
#define bpf_ct_release tko_absent_ct_release
#endif

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz, struct bpf_ct_opts *opts,
					 __u32 opts__sz) __ksym __weak;
extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb_ctx, struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz, struct bpf_ct_opts *opts,
					 __u32 opts__sz) __ksym __weak;
extern int bpf_ct_change_timeout(struct nf_conn *nfct, __u32 timeout) __ksym __weak;
extern void bpf_ct_release(struct nf_conn *nfct) __ksym __weak;

/*
 * struct bpf_ct_opts as Linux 5.18 defined it (netns_id, error, l4proto, dir,
 * 2 reserved bytes): later kernels grew it (ct zones, 16 bytes) and still take
 * this size; older ones take only this one. tko looks up zone 0.
 */
#define TKO_CT_OPTS_SZ 12

/*
 * Set by the loader before load where the kernel lacks a kfunc above. An
 * object whose loader forgets it loads only where they all resolve: a
 * refresh is never skipped silently.
 */
const volatile bool ct_kfuncs_absent;

/* What conntrack gives an established flow at each segment, in ms. */
static __always_inline __u32 ct_established_ms(void)
{
	__u32 zero = 0;
	struct tko_agent_info *info = bpf_map_lookup_elem(&agent_info, &zero);

	return info && info->ct_established_ms ? info->ct_established_ms :
						 TKO_CT_ESTABLISHED_MS_DEFAULT;
}

/*
 * Is session s's entry due for a refresh at now? Once per period: a quarter
 * of the established timeout, ten minutes at most. The entry is refreshed
 * when the flow is kept alive (an answer, either way), at most an interval
 * apart: it never expires while the interval is shorter than three quarters
 * of its timeout (a gateway that forgets flows sooner than tko probes loses
 * them without tko too), and a flushed entry is noticed (ct_missing) within
 * ten minutes of keeping the flow alive. With probes every minute, one
 * answer in ten looks conntrack up. Two CPUs may both find it due: two
 * refreshes, no harm.
 */
static __always_inline bool ct_due(struct tko_session *s, __u64 now)
{
	__u64 period;

	if (s->ct_refresh_ns) {	/* the period only then: the first refresh is due */
		period = ct_established_ms() * (NSEC_PER_MSEC / 4);
		if (period > TKO_CT_REFRESH_MAX_NS)
			period = TKO_CT_REFRESH_MAX_NS;
		/* signed: a refresh stamped by a finer clock may be ahead */
		if ((__s64)(now - s->ct_refresh_ns) < (__s64)period)
			return false;
	}
	s->ct_refresh_ns = now;
	return true;
}

/*
 * The tuple of the peer's segments as they arrive on the interface: from
 * the remote end to the local one (after the gateway's masquerade, as the
 * session key is). conntrack finds a flow by either direction's tuple: the
 * peer's segments match the entry's reply tuple when the device opened the
 * flow (src = peer, dst = the gateway's address and port), its original
 * tuple when the peer did (a forwarded port). Returns the tuple's size.
 */
static __always_inline __u32 ct_tuple(const struct tko_key *k, struct bpf_sock_tuple *t)
{
	if (k->family == TKO_AF_INET6) {
		__builtin_memcpy(t->ipv6.saddr, k->raddr, 16);
		__builtin_memcpy(t->ipv6.daddr, k->laddr, 16);
		t->ipv6.sport = bpf_htons(k->rport);
		t->ipv6.dport = bpf_htons(k->lport);
		return sizeof(t->ipv6);
	}
	__builtin_memcpy(&t->ipv4.saddr, k->raddr, 4);
	__builtin_memcpy(&t->ipv4.daddr, k->laddr, 4);
	t->ipv4.sport = bpf_htons(k->rport);
	t->ipv4.dport = bpf_htons(k->lport);
	return sizeof(t->ipv4);
}

/*
 * The entry conntrack found: only an ESTABLISHED flow gets the established
 * timeout (a closing one keeps its shorter one); an entry with a fixed
 * timeout refuses the change (-EPERM). The reference is released either way.
 */
static __always_inline void ct_refresh_found(struct nf_conn *ct)
{
	if (ct->proto.tcp.state == TCP_CONNTRACK_ESTABLISHED &&
	    !bpf_ct_change_timeout(ct, ct_established_ms()))
		stat_inc(TKO_ST_CT_REFRESHED);
	else
		stat_inc(TKO_ST_CT_UNCHANGED);
	bpf_ct_release(ct);
}

/*
 * What the lookup found for session id. No entry on a path without
 * conntrack is no failure; an entry that was there and is gone is: the
 * gateway forgot a flow tko keeps alive (its timeout was shorter than
 * tko's interval, or somebody flushed it), and drops or un-NATs the
 * device's next segment. Reported once.
 */
static __always_inline void ct_refreshed(__u32 id, struct tko_session *s, struct nf_conn *ct)
{
	if (ct) {
		if (!(s->notes & TKO_NOTE_CT_SEEN))
			session_note(s, TKO_NOTE_CT_SEEN);
		ct_refresh_found(ct);
		return;
	}
	stat_inc(TKO_ST_CT_MISSING);
	if (s->notes & TKO_NOTE_CT_SEEN)
		session_warn(id, s, TKO_NOTE_CT_MISSING, TKO_R_CT_MISSING);
}

/* At XDP: session id's flow was kept alive at now; refresh its conntrack entry. */
static __always_inline void ct_refresh_xdp(struct xdp_md *ctx, __u32 id, struct tko_session *s,
					   __u64 now)
{
	struct bpf_ct_opts opts = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = IPPROTO_TCP };
	struct bpf_sock_tuple t = {};
	__u32 len;

	if (ct_kfuncs_absent || !ct_due(s, now))
		return;
	len = ct_tuple(&s->key, &t);
	ct_refreshed(id, s, bpf_xdp_ct_lookup(ctx, &t, len, &opts, TKO_CT_OPTS_SZ));
}

/* At TC: the same, with the skb's device's (or socket's) namespace. */
static __always_inline void ct_refresh_skb(struct __sk_buff *skb, __u32 id, struct tko_session *s,
					   __u64 now)
{
	struct bpf_ct_opts opts = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = IPPROTO_TCP };
	struct bpf_sock_tuple t = {};
	__u32 len;

	if (ct_kfuncs_absent || !ct_due(s, now))
		return;
	len = ct_tuple(&s->key, &t);
	ct_refreshed(id, s, bpf_skb_ct_lookup(skb, &t, len, &opts, TKO_CT_OPTS_SZ));
}

#endif /* TKO_BPF_CONNTRACK_H */
