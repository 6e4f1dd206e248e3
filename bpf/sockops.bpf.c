// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sockops on the agent's cgroup: local sockets.
 *  - at establishment, a socket matching a policy (`tko policy add`) becomes
 *    a session, its state and clock taken from the kernel's own tcp_sock;
 *    it is offloaded after the policy's idle time, with no `tko start`;
 *  - a state change of a session's socket (close, reset) ends the session
 *    with an event, even when no segment says so.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "lib/policy.h"
#include "lib/session.h"

#define SOCKOPS_OK 1

static __always_inline void sockops_key(const struct bpf_sock_ops *ops, struct tko_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->lport = ops->local_port;
	/* remote_port holds the network-order port in its upper half (sockops ABI). */
	k->rport = bpf_ntohl(ops->remote_port);
	/* A v4-mapped IPv6 socket is IPv4 on the wire. */
	if (ops->family == TKO_AF_INET6 &&
	    !(ops->remote_ip6[0] == 0 && ops->remote_ip6[1] == 0 &&
	      ops->remote_ip6[2] == bpf_htonl(0xffff))) {
		__u32 a[4];

		k->family = TKO_AF_INET6;
		a[0] = ops->local_ip6[0]; a[1] = ops->local_ip6[1];
		a[2] = ops->local_ip6[2]; a[3] = ops->local_ip6[3];
		__builtin_memcpy(k->laddr, a, 16);
		a[0] = ops->remote_ip6[0]; a[1] = ops->remote_ip6[1];
		a[2] = ops->remote_ip6[2]; a[3] = ops->remote_ip6[3];
		__builtin_memcpy(k->raddr, a, 16);
	} else {
		__u32 l, r;

		/* barrier_var() keeps each load in its branch, at a fixed context
		 * offset as the verifier wants, instead of one load through a
		 * selected pointer after the branches merge. */
		if (ops->family == TKO_AF_INET6) {
			l = ops->local_ip6[3];
			r = ops->remote_ip6[3];
			barrier_var(l);
			barrier_var(r);
		} else {
			l = ops->local_ip4;
			r = ops->remote_ip4;
			barrier_var(l);
			barrier_var(r);
		}
		k->family = TKO_AF_INET;
		__builtin_memcpy(k->laddr, &l, 4);
		__builtin_memcpy(k->raddr, &r, 4);
	}
}

/*
 * The id of the socket's cgroup's ancestor at depth level (itself if it is
 * that deep), 0 if shallower. sockops has no bpf_sk_ancestor_cgroup_id(): read
 * the socket's cgroup pointer and its ancestors[] from the kernel's structs.
 */
static __always_inline __u64 sock_cgroup_ancestor(struct bpf_sock_ops *ops, __u32 level)
{
	struct bpf_sock *sk = ops->sk;
	struct cgroup *cg, *anc = NULL;
	struct tcp_sock *tp;

	barrier_var(sk);	/* test and use the same load */
	if (!sk)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	cg = BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.sk_cgrp_data.cgroup);
	if (!cg || BPF_CORE_READ(cg, level) < (int)level || level > 63)
		return 0;
	if (bpf_probe_read_kernel(&anc, sizeof(anc), &cg->ancestors[level]) || !anc)
		return 0;
	return BPF_CORE_READ(anc, kn, id);
}

/* Global, like policy_find(): verified once, not per policy slot. */
__noinline int policy_match(const struct tko_policy *p, const struct tko_key *k,
			    struct bpf_sock_ops *ops)
{
	if (!p || (p->cfg.flags & TKO_F_FORWARDED) || !policy_match_key(p, k))
		return false;
	if (p->cgroup_id && sock_cgroup_ancestor(ops, p->cgroup_level) != p->cgroup_id)
		return false;
	return true;
}

/*
 * The first policy that wants the socket: its index, or -1. Global: verified
 * once, and what follows in on_established() once, not once per policy
 * slot the loop could have stopped at.
 */
__noinline int policy_find(struct bpf_sock_ops *ops, const struct tko_key *k)
{
	struct tko_policy *p;
	__u32 i;

	if (!k)
		return -1;
	for (i = 0; i < TKO_MAX_POLICIES; i++) {
		__u32 idx = i;

		p = bpf_map_lookup_elem(&policies, &idx);
		if (p && policy_match(p, k, ops))
			return i;
	}
	return -1;
}

/*
 * The session of a new socket: its state from the kernel, its clock too.
 * A socket a policy wants and the table cannot take is reported (event
 * "refused" with the reason) and counted, never dropped silently.
 */
static __always_inline void on_established(struct bpf_sock_ops *ops)
{
	struct tko_agent_info *info;
	struct tko_policy *p;
	struct tko_session *s;
	struct bpf_sock *sk;
	struct tcp_sock *tp;
	struct tko_key k;
	__u32 zero = 0, i;
	int id = 0, pi;

	/* The cgroup may hold sockets of other network namespaces: not ours. */
	info = bpf_map_lookup_elem(&agent_info, &zero);
	if (!info || bpf_get_netns_cookie(ops) != info->netns_cookie)
		return;
	sockops_key(ops, &k);
	pi = policy_find(ops, &k);
	if (pi < 0)
		return;
	i = pi;
	p = bpf_map_lookup_elem(&policies, &i);
	if (!p)
		return;

	s = policy_session_new(&k, p, bpf_ktime_get_ns(), &id);
	if (!s)
		return;
	s->tcp.snd_una = ops->snd_una;
	s->tcp.snd_nxt = ops->snd_nxt;
	s->tcp.rcv_nxt = ops->rcv_nxt;
	s->have = TKO_HAVE_SEQ | TKO_HAVE_UNA;
	sk = ops->sk;
	barrier_var(sk);
	tp = sk ? bpf_skc_to_tcp_sock(sk) : NULL;
	if (tp) {
		__u8 wscale = BPF_CORE_READ_BITFIELD(tp, rx_opt.rcv_wscale);
		__u32 win = tp->rcv_wnd >> (wscale & 15);

		s->tcp.wscale = wscale;
		s->tcp.window = win > 0xffff ? 0xffff : win;
		if (BPF_CORE_READ_BITFIELD(tp, rx_opt.tstamp_ok)) {
			__u8 usec = 0;

			if (bpf_core_field_exists(tp->tcp_usec_ts))
				usec = BPF_CORE_READ_BITFIELD(tp, tcp_usec_ts);
			s->have |= TKO_HAVE_TS;
			s->tcp.ts_ecr = tp->rx_opt.ts_recent;
			s->tcp.ts_offset = tp->tsoffset;
			s->tcp.ts_clock = usec ? TKO_TS_CLOCK_US : TKO_TS_CLOCK_MS;
		}
	}
	if (!policy_session_publish(id, s, &k, p))
		return;
	/* Close and reset must reach us even if no segment shows them. */
	bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
	/* The path: the agent resolves it (routing + neighbour). */
	path_request(id, s);
	session_event(id, TKO_EV_STARTED, TKO_R_POLICY);
}

SEC("sockops")
int tko_sockops(struct bpf_sock_ops *ops)
{
	struct tko_session *s;
	struct tko_key k;
	int id;

	switch (ops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_established(ops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (ops->args[1] == TCP_ESTABLISHED)
			break;
		sockops_key(ops, &k);
		id = session_find(&k);
		s = id >= 0 ? session_get(id) : NULL;
		if (s)
			session_end(id, s, TKO_EV_INVALIDATED, TKO_R_CLOSED);
		break;
	}
	return SOCKOPS_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
