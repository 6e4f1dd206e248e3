/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Writing the IP + TCP headers of a segment tko sends on the endpoint's
 * behalf, checksums included. Used in place over a received frame (XDP
 * answers: addresses and ports already in the frame, swapped) and over a
 * frame built on the stack (the carrier's probes and resets).
 */
#ifndef TKO_BPF_FORGE_H
#define TKO_BPF_FORGE_H

#include "consts.h"
#include "parse.h"

#define TKO_TTL 64
#define TCP_TS_HDRLEN (sizeof(struct tcphdr) + 12)	/* NOP, NOP, TS */

/* What goes into the forged TCP header; host byte order. */
struct seg {
	__u32 seq;
	__u32 ack;
	__u32 ts_val;
	__u32 ts_ecr;
	__u16 window;
	__u8 has_ts;
	__u8 flags;		/* TH_*; 0 means a pure ACK */
	__u8 payload_len;	/* 0, or 1 for a BSD-style probe (a zero byte) */
	__u8 pad[3];
	__u32 flowinfo;		/* the endpoint's DSCP and flow label (tko_session.flowinfo) */
};

static __always_inline __u16 csum_fold32(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline void swap_bytes(__u8 *a, __u8 *b, int n)
{
	__u8 t;
	int i;

#pragma unroll
	for (i = 0; i < n; i++) {
		t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

/* Turn the received segment at p into a reply: swap MACs, addresses and ports. */
static __always_inline void pkt_reverse(struct pkt *p)
{
	__be16 port;

	swap_bytes(p->eth->h_dest, p->eth->h_source, 6);
	if (!p->v6) {
		__be32 a = p->ip4->saddr;

		p->ip4->saddr = p->ip4->daddr;
		p->ip4->daddr = a;
	} else {
		swap_bytes((__u8 *)&p->ip6->saddr, (__u8 *)&p->ip6->daddr, 16);
	}
	port = p->tcp->source;
	p->tcp->source = p->tcp->dest;
	p->tcp->dest = port;
}

/* The TCP pseudo-header's sum (RFC 9293 3.1, RFC 8200 8.1), not folded. */
static __always_inline __u64 pseudo_sum(const struct pkt *p, __u32 tcp_len)
{
	if (!p->v6) {
		struct {
			__be32 saddr, daddr;
			__u8 zero, proto;
			__be16 len;
		} ph = { p->ip4->saddr, p->ip4->daddr, 0, IPPROTO_TCP, bpf_htons(tcp_len) };

		return bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	} else {
		struct {
			struct in6_addr saddr, daddr;
			__be32 len;
			__u8 zero[3], proto;
		} ph = {};

		__builtin_memcpy(&ph.saddr, &p->ip6->saddr, 16);
		__builtin_memcpy(&ph.daddr, &p->ip6->daddr, 16);
		ph.len = bpf_htonl(tcp_len);
		ph.proto = IPPROTO_TCP;
		return bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	}
}

/*
 * Write the segment described by g over the TCP header at p->tcp (and its
 * payload byte, if any, right after it) and fix up the IP header for it. The
 * caller sizes the frame to the returned length (from the start of the IP
 * header). Returns -1 if the frame is too short.
 */
static __always_inline int forge_segment(struct pkt *p, const struct seg *g, void *data_end)
{
	struct tcphdr *th = p->tcp;
	__u32 hdr_len = g->has_ts ? TCP_TS_HDRLEN : sizeof(struct tcphdr);
	__u32 tcp_len = hdr_len + (g->payload_len ? 1 : 0);
	__u32 need = hdr_len + 1;
	__u64 sum;

	/* An opaque length: clang would write th + 4k + 1 as th | 1 (it knows
	 * th's alignment), and the verifier refuses arithmetic like that. */
	barrier_var(need);
	if (g->payload_len && (void *)th + need > data_end)
		return -1;
	if ((void *)th + TCP_TS_HDRLEN > data_end && g->has_ts)
		return -1;
	th->seq = bpf_htonl(g->seq);
	th->ack_seq = bpf_htonl(g->ack);
	((__u8 *)th)[12] = (hdr_len / 4) << 4;	/* data offset, reserved bits 0 */
	((__u8 *)th)[13] = g->flags ?: TH_ACK;
	th->window = bpf_htons(g->window);
	th->check = 0;
	th->urg_ptr = 0;
	if (g->has_ts) {
		__u8 *o = (__u8 *)(th + 1);

		if ((void *)(o + 12) > data_end)
			return -1;
		o[0] = TCPOPT_NOP;
		o[1] = TCPOPT_NOP;
		o[2] = TCPOPT_TS;
		o[3] = TCPOLEN_TS;
		*(__be32 *)(o + 4) = bpf_htonl(g->ts_val);
		*(__be32 *)(o + 8) = bpf_htonl(g->ts_ecr);
	}
	/* The probe's byte is zero: it adds nothing to the checksum, only its
	 * length (in the pseudo-header) counts. */
	if (g->payload_len) {
		__u8 *b = (__u8 *)th + (hdr_len & 0x3f);

		if ((void *)(b + 1) > data_end)
			return -1;
		*b = 0;
	}

	if (!p->v6) {
		struct iphdr *ip = p->ip4;

		/* The endpoint's DSCP, ECN not-ECT: a pure ACK is never ECT
		 * (RFC 3168 6.1.4). */
		ip->tos = (__u8)(g->flowinfo >> 20);
		ip->tot_len = bpf_htons(sizeof(*ip) + tcp_len);
		ip->id = 0;
		ip->frag_off = bpf_htons(IP_DF);
		ip->ttl = TKO_TTL;
		ip->check = 0;
		ip->check = csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)ip, sizeof(*ip), 0));
	} else {
		struct ipv6hdr *ip6 = p->ip6;

		/* The endpoint's traffic class (ECN not-ECT) and flow label: a
		 * router hashing flow labels (RFC 6438) sends it the flow's way. */
		*(__be32 *)ip6 = bpf_htonl(0x60000000 | (g->flowinfo & FLOWINFO_MASK));
		ip6->payload_len = bpf_htons(tcp_len);
		ip6->hop_limit = TKO_TTL;
	}
	sum = pseudo_sum(p, tcp_len);
	if (g->has_ts)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)th, TCP_TS_HDRLEN, sum);
	else
		sum = bpf_csum_diff(NULL, 0, (__be32 *)th, sizeof(*th), sum);
	th->check = csum_fold32(sum);
	return (p->v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) + tcp_len;
}

#endif /* TKO_BPF_FORGE_H */
