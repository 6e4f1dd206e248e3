// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The carrier: how tko transmits without userspace. A BPF timer callback has
 * no packet and no helper that sends one, so the agent keeps one small frame
 * circulating through a private veth pair (tko0 -> tko1), paced by a qdisc on
 * tko0. This program sits on tko1's TC ingress. At every pass it pops the
 * sessions whose probe is due (queued by the timers), writes each probe over
 * the carrier, bpf_clone_redirect()s it out of the session's interface, then
 * restores the carrier and sends it round again.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/forge.h"
#include "lib/session.h"

#define TC_ACT_SHOT 2
#define BPF_F_INGRESS_ 1
#define MAX_FRAME (14 + 40 + TCP_TS_HDRLEN + 4)	/* largest probe, rounded */
/*
 * The frame is built on the stack, where the verifier wants every word
 * access aligned: starting it 2 bytes into an 8-byte aligned buffer puts the
 * IP and TCP headers on 4-byte boundaries.
 */
#define FRAME_OFF 2

static __always_inline void copy_mac(__u8 *dst, const __u8 *src)
{
	int i;

#pragma unroll
	for (i = 0; i < 6; i++)
		dst[i] = src[i];
}

/*
 * Build the frame for session s on the stack: towards the peer (a probe),
 * or, reverse, towards the endpoint (the RST of --on-dead reset).
 * Returns its length.
 */
static __always_inline int build_frame(__u8 *buf, const struct tko_key *k,
				       const struct tko_session *s, bool reverse)
{
	const __u8 *src = reverse ? k->raddr : k->laddr, *dst = reverse ? k->laddr : k->raddr;
	struct ethhdr *eth = (void *)buf;
	struct pkt p = { .eth = eth };
	struct seg g = {};
	int l3;

	copy_mac(eth->h_source, reverse ? s->rmac : s->lmac);
	copy_mac(eth->h_dest, reverse ? s->lmac : s->rmac);
	if (reverse) {
		/* RFC 5961 3.2: only a RST at exactly RCV.NXT is accepted. No
		 * TSopt: RSTs are exempt from PAWS (RFC 7323 5.3). */
		g.seq = s->tcp.rcv_nxt;
		g.ack = s->tcp.snd_nxt;
		g.flags = TH_RST | TH_ACK;
	} else {
		/* RFC 9293 3.8.4: SEG.SEQ = SND.NXT - 1 makes the peer answer
		 * with an ACK whatever its state. TSval: never ahead of what the
		 * endpoint will send (PAWS on the peer). */
		g.seq = s->tcp.snd_nxt - 1;
		g.ack = s->tcp.rcv_nxt;
		g.window = s->tcp.window;
		g.has_ts = !!(s->have & TKO_HAVE_TS);
		g.ts_val = session_tsval(s);
		g.ts_ecr = s->tcp.ts_ecr;
		g.payload_len = s->cfg.probe == TKO_PROBE_BYTE;
	}

	/* Two whole paths, each with forge_segment() inlined: the verifier
	 * cannot relate two separate loads of k->family. */
	if (k->family == TKO_AF_INET6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		eth->h_proto = bpf_htons(ETH_P_IPV6);
		ip6->nexthdr = IPPROTO_TCP_;
		__builtin_memcpy(&ip6->saddr, src, 16);
		__builtin_memcpy(&ip6->daddr, dst, 16);
		p.ip6 = ip6;
		p.v6 = 1;
		p.tcp = (void *)(ip6 + 1);
		p.tcp->source = bpf_htons(reverse ? k->rport : k->lport);
		p.tcp->dest = bpf_htons(reverse ? k->lport : k->rport);
		l3 = forge_segment(&p, &g, buf + MAX_FRAME);
	} else {
		struct iphdr *ip = (void *)(eth + 1);

		eth->h_proto = bpf_htons(ETH_P_IP);
		ip->version = 4;
		ip->ihl = 5;
		ip->protocol = IPPROTO_TCP_;
		__builtin_memcpy(&ip->saddr, src, 4);
		__builtin_memcpy(&ip->daddr, dst, 4);
		p.ip4 = ip;
		p.tcp = (void *)(ip + 1);
		p.tcp->source = bpf_htons(reverse ? k->rport : k->lport);
		p.tcp->dest = bpf_htons(reverse ? k->lport : k->rport);
		l3 = forge_segment(&p, &g, buf + MAX_FRAME);
	}
	return l3 < 0 ? -1 : (int)sizeof(*eth) + l3;
}

/*
 * Put frame buf[0..len) in the skb and send a copy out of the session's
 * interface, on its VLAN if it has one (the tag goes in as the NIC's
 * offloaded tag, as the stack itself would send it).
 */
static __always_inline int emit(struct __sk_buff *skb, __u8 *buf, int len,
				const struct tko_session *s, __u64 flags)
{
	int err;

	if (len < (int)(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr)) ||
	    len > MAX_FRAME)
		return -1;
	if (bpf_skb_change_tail(skb, len, 0))
		return -1;
	if (bpf_skb_store_bytes(skb, 0, buf, len & 0x7f, 0))
		return -1;
	skb->mark = TKO_MARK;	/* tko's own TC egress must not learn from it */
	if (s->vlan_proto && bpf_skb_vlan_push(skb, s->vlan_proto, s->vlan_tci))
		return -1;
	err = bpf_clone_redirect(skb, s->ifindex, flags);
	if (s->vlan_proto)
		bpf_skb_vlan_pop(skb);
	return err;
}

/*
 * A session handed over with --state has no L2 path yet: route it like the
 * stack would, out of one of the agent's interfaces, neighbour included.
 */
static __always_inline bool resolve_l2(struct __sk_buff *skb, const struct tko_key *k,
				       struct tko_session *s, const struct tko_carrier_state *c)
{
	struct bpf_fib_lookup fib;
	int i;

	for (i = 0; i < TKO_MAX_IFACES; i++) {
		if (!c->ifindex[i])
			break;
		__builtin_memset(&fib, 0, sizeof(fib));
		fib.l4_protocol = IPPROTO_TCP_;
		fib.sport = bpf_htons(k->lport);
		fib.dport = bpf_htons(k->rport);
		fib.ifindex = c->ifindex[i];
		if (k->family == TKO_AF_INET6) {
			fib.family = TKO_AF_INET6;
			__builtin_memcpy(fib.ipv6_src, k->laddr, 16);
			__builtin_memcpy(fib.ipv6_dst, k->raddr, 16);
		} else {
			fib.family = TKO_AF_INET;
			__builtin_memcpy(&fib.ipv4_src, k->laddr, 4);
			__builtin_memcpy(&fib.ipv4_dst, k->raddr, 4);
		}
		if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT) ==
		    BPF_FIB_LKUP_RET_SUCCESS) {
			s->ifindex = fib.ifindex;
			copy_mac(s->lmac, fib.smac);
			copy_mac(s->rmac, fib.dmac);
			s->have |= TKO_HAVE_L2;
			return true;
		}
	}
	return false;
}

static __always_inline void serve(struct __sk_buff *skb, struct tko_key *k,
				  const struct tko_carrier_state *c)
{
	__u64 raw[(FRAME_OFF + MAX_FRAME + 7) / 8] = {};
	__u8 *buf = (__u8 *)raw + FRAME_OFF;
	struct tko_session *s;
	int len;

	s = bpf_map_lookup_elem(&sessions, k);
	/* Stopped, or suspended since its probe was queued: nothing to send. */
	if (!s || (s->state != TKO_ACTIVE && s->state != TKO_PEER_DEAD))
		return;
	if (!(s->have & TKO_HAVE_L2) && !resolve_l2(skb, k, s, c)) {
		/* No route or neighbour here (a host that does not forward
		 * refuses bpf_fib_lookup): the agent finds it at its next wakeup. */
		bpf_map_push_elem(&need_l2, k, 0);
		stat_inc(TKO_ST_EMIT_ERRORS);
		/* A dead session's RST has no next time (its key is consumed,
		 * its timer done): forget it rather than keep it for ever. */
		if (s->state == TKO_PEER_DEAD)
			bpf_map_delete_elem(&sessions, k);
		return;
	}
	if (s->state == TKO_ACTIVE) {
		len = build_frame(buf, k, s, false);
		if (emit(skb, buf, len, s, 0)) {
			/* The interface went down or away: forget the path and
			 * let the agent find the new one (the probe counts as
			 * lost; too many and the peer is declared dead). */
			s->have &= ~TKO_HAVE_L2;
			bpf_map_push_elem(&need_l2, k, 0);
			stat_inc(TKO_ST_EMIT_ERRORS);
			return;
		}
		__sync_fetch_and_add(&s->cnt.probes_sent, 1);
		stat_inc(TKO_ST_PROBES_SENT);
	} else if (s->state == TKO_PEER_DEAD) {
		/* --on-dead reset: the RST enters the stack as if from the
		 * peer, so a local socket fails now with ECONNRESET (and a
		 * device behind a gateway gets it forwarded). */
		len = build_frame(buf, k, s, true);
		if (emit(skb, buf, len, s, BPF_F_INGRESS_))
			stat_inc(TKO_ST_EMIT_ERRORS);
		bpf_map_delete_elem(&sessions, k);
	}
}

SEC("tc")
int tko_carrier(struct __sk_buff *skb)
{
	__u64 frame[TKO_CARRIER_LEN / 8] = {};
	struct tko_carrier_hdr hdr;
	struct tko_carrier_state *c;
	__u32 zero = 0;
	int i;

	/* tko1 is private: anything but the current carrier is dropped. */
	if (bpf_skb_load_bytes(skb, 0, &hdr, sizeof(hdr)) ||
	    hdr.proto != bpf_htons(TKO_CARRIER_ETHERTYPE) ||
	    hdr.magic != bpf_htonl(TKO_CARRIER_MAGIC))
		return TC_ACT_SHOT;
	c = bpf_map_lookup_elem(&carrier, &zero);
	if (!c || hdr.generation != c->generation || !c->loop_ifindex)
		return TC_ACT_SHOT;	/* a stale carrier: the agent re-injected */
	c->passes++;
	c->last_pass_ns = bpf_ktime_get_ns();
	stat_inc(TKO_ST_CARRIER_PASSES);

	for (i = 0; i < TKO_CARRIER_BUDGET; i++) {
		struct tko_key k;

		if (bpf_map_pop_elem(&due, &k))
			break;
		serve(skb, &k, c);
	}

	/* Restore the carrier and send it round again: all of it, or the
	 * last probe's bytes (and what bpf_skb_change_tail() grew the frame
	 * over, which it does not clear) would go round with it. */
	__builtin_memcpy(frame, &hdr, sizeof(hdr));
	if (bpf_skb_change_tail(skb, TKO_CARRIER_LEN, 0) ||
	    bpf_skb_store_bytes(skb, 0, frame, TKO_CARRIER_LEN, 0))
		return TC_ACT_SHOT;	/* lost: the agent's watchdog re-injects */
	skb->mark = 0;
	return bpf_redirect(c->loop_ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
