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

/* Fold a ones' complement sum (of any number of 32-bit words) to 16 bits, inverted. */
static __always_inline __u16 csum_fold32(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * The ones' complement sum of n 32-bit words at w, not folded: as the
 * words' bytes lie in memory (RFC 1071 2(B): the sum of byte-swapped words
 * is the byte-swapped sum), so it can go straight into a header. Summed
 * here, not with bpf_csum_diff(): a helper call per header cost more than
 * the sums themselves (docs/performance.md).
 */
static __always_inline __u64 csum_words(const void *w, int n)
{
	const __u32 *v = w;
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		sum += v[i];
	return sum;
}

/*
 * Swap the n elements of arrays a and b, in the arrays' own element size:
 * the IPv6 addresses as 32-bit words, which the checksum reads again as
 * words (a word load over byte stores waits for them to retire).
 */
#define swap_n(a, b, n)						\
	do {							\
		typeof(*(a)) t_;				\
		int i_;						\
								\
		_Pragma("unroll")				\
		for (i_ = 0; i_ < (n); i_++) {			\
			t_ = (a)[i_];				\
			(a)[i_] = (b)[i_];			\
			(b)[i_] = t_;				\
		}						\
	} while (0)

/* Turn the received segment at p into a reply: swap MACs, addresses and ports. */
static __always_inline void pkt_reverse(struct pkt *p)
{
	__be16 port;

	swap_n(p->eth->h_dest, p->eth->h_source, 6);
	if (!p->v6) {
		__be32 a = p->ip4->saddr;

		p->ip4->saddr = p->ip4->daddr;
		p->ip4->daddr = a;
	} else {
		swap_n((__u32 *)&p->ip6->saddr, (__u32 *)&p->ip6->daddr, 4);
	}
	port = p->tcp->source;
	p->tcp->source = p->tcp->dest;
	p->tcp->dest = port;
}

/* The TCP pseudo-header's sum (RFC 9293 3.1, RFC 8200 8.1), not folded. */
static __always_inline __u64 pseudo_sum(const struct pkt *p, __u32 tcp_len)
{
	if (!p->v6)	/* saddr, daddr, then zero, protocol and length in one word */
		return (__u64)p->ip4->saddr + p->ip4->daddr +
		       bpf_htonl(IPPROTO_TCP << 16 | tcp_len);
	/* saddr, daddr (8 words), the 32-bit length, 3 zero bytes and the protocol */
	return csum_words(&p->ip6->saddr, 8) + bpf_htonl(tcp_len) + bpf_htonl(IPPROTO_TCP);
}

/*
 * Write the segment described by g over the TCP header at p->tcp (and its
 * payload byte, if any, right after it) and fix up the IP header for it. The
 * caller sizes the frame to the returned length (from the start of the IP
 * header). Returns -1 if the frame is too short.
 *
 * The checksums are summed from the words as they are written (and the few
 * kept from the frame: ports, addresses, IPv4's version and protocol), never
 * read back: a word load over smaller stores waits for them, and a helper
 * call per header cost more than all of it (docs/performance.md). Complete
 * checksums, whatever the frame held: at XDP a probe from a local stack
 * (veth) may carry only a partial one.
 */
static __always_inline int forge_segment(struct pkt *p, const struct seg *g, void *data_end)
{
	struct tcphdr *th = p->tcp;
	__u32 hdr_len = g->has_ts ? TCP_TS_HDRLEN : sizeof(struct tcphdr);
	__u32 tcp_len = hdr_len + (g->payload_len ? 1 : 0);
	__u32 need = hdr_len + 1;
	__be32 w;
	__u64 sum;

	/* An opaque length: clang would write th + 4k + 1 as th | 1 (it knows
	 * th's alignment), and the verifier refuses arithmetic like that. */
	barrier_var(need);
	if (g->payload_len && (void *)th + need > data_end)
		return -1;
	if ((void *)th + TCP_TS_HDRLEN > data_end && g->has_ts)
		return -1;
	/* the ports, already in place: as two 16-bit words, the same sum */
	sum = (__u64)th->source + th->dest;
	th->seq = w = bpf_htonl(g->seq);
	sum += w;
	th->ack_seq = w = bpf_htonl(g->ack);
	sum += w;
	/* data offset (reserved bits 0), flags, window */
	w = bpf_htonl((hdr_len / 4) << 28 | (__u32)(g->flags ?: TH_ACK) << 16 | g->window);
	*(__be32 *)((__u8 *)th + 12) = w;
	sum += w;
	*(__be32 *)((__u8 *)th + 16) = 0;	/* checksum (last), urgent pointer */
	if (g->has_ts) {
		__u8 *o = (__u8 *)(th + 1);

		if ((void *)(o + 12) > data_end)
			return -1;
		*(__be32 *)o = w = bpf_htonl(TCPOPT_NOP << 24 | TCPOPT_NOP << 16 |
					     TCPOPT_TS << 8 | TCPOLEN_TS);
		sum += w;
		*(__be32 *)(o + 4) = w = bpf_htonl(g->ts_val);
		sum += w;
		*(__be32 *)(o + 8) = w = bpf_htonl(g->ts_ecr);
		sum += w;
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
		__be32 *ip = (__be32 *)p->ip4;
		__be32 w0, w1, w2;

		/* version 4, 20 bytes (parse_frame() takes no other, the
		 * carrier builds no other); the endpoint's DSCP, ECN not-ECT: a
		 * pure ACK is never ECT (RFC 3168 6.1.4); the length */
		w0 = bpf_htonl(0x45u << 24 | (__u32)(__u8)(g->flowinfo >> 20) << 16 |
			       (sizeof(struct iphdr) + tcp_len));
		w1 = bpf_htonl(IP_DF);	/* id 0, don't fragment */
		w2 = bpf_htonl(TKO_TTL << 24 | IPPROTO_TCP << 16);	/* checksum 0 */
		ip[0] = w0;
		ip[1] = w1;
		ip[2] = w2;
		p->ip4->check = csum_fold32((__u64)w0 + w1 + w2 + ip[3] + ip[4]);
	} else {
		struct ipv6hdr *ip6 = p->ip6;

		/* The endpoint's traffic class (ECN not-ECT) and flow label: a
		 * router hashing flow labels (RFC 6438) sends it the flow's way. */
		*(__be32 *)ip6 = bpf_htonl(0x60000000 | (g->flowinfo & FLOWINFO_MASK));
		ip6->payload_len = bpf_htons(tcp_len);
		ip6->hop_limit = TKO_TTL;
	}
	th->check = csum_fold32(sum + pseudo_sum(p, tcp_len));
	return (p->v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) + tcp_len;
}

#endif /* TKO_BPF_FORGE_H */
