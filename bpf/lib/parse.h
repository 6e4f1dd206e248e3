/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Frame parsing shared by the XDP and TC programs. One parser, used on both
 * sides, so that "what is a segment of this session" means the same thing on
 * ingress and egress. Every access is bounds-checked against data_end; any
 * frame that is not plain Ethernet [+ one 802.1Q tag] + IPv4 (no options, no
 * fragment) or IPv6 (no extension header) + TCP is left alone.
 */
#ifndef TKO_BPF_PARSE_H
#define TKO_BPF_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "tko_types.h"
#include "consts.h"

#define TCP_MAX_OPTLEN	40
/*
 * Options walked per segment after the fast path. Real stacks send a
 * handful (NOP,NOP,TS and a few SACK blocks); a header that needs more
 * steps is left alone.
 */
#define TCP_MAX_OPTS	8

/* TCP flags as they sit in byte 13 of the header. */
#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PSH	0x08
#define TH_ACK	0x10
#define TH_URG	0x20

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

/* What the parser found, with pointers into the frame. */
struct pkt {
	struct ethhdr *eth;
	struct iphdr *ip4;	/* one of ip4/ip6 is set */
	struct ipv6hdr *ip6;
	struct tcphdr *tcp;
	__u32 l3_off;		/* from the start of the frame */
	__u32 payload_len;	/* TCP payload bytes per the IP length fields */
	__u32 seq;		/* host order */
	__u32 ack;
	__u16 vlan_tci;		/* the 802.1Q tag in the frame (host order), 0 if none */
	__u16 vlan_proto;	/* its TPID (network order): 802.1Q or 802.1ad */
	__u8 flags;		/* TH_* */
	__u8 has_ts;
	__u8 signed_;		/* MD5/AO option: never forge on this session */
	__u8 v6;		/* test this, not the pointers: the verifier
				 * tracks a constant, not which pointer is NULL */
	__u8 pad[2];
	__u32 ts_val;		/* host order */
	__u32 ts_ecr;
	__u32 flowinfo;		/* DSCP << 22 | IPv6 flow label: tko_session.flowinfo */
};

/* The traffic class (TOS) without its ECN bits, and the flow label. */
#define FLOWINFO_MASK	0x0fcfffffu

/*
 * The TCP options beyond the fast path, copied to the stack and walked one
 * option per bpf_loop step: the verifier checks the step once, however
 * many options a header has.
 */
struct opt_walk {
	__u8 b[64];		/* the options; 64 so that masked offsets stay inside */
	__u32 len;		/* bytes of options */
	__u32 off;		/* the next option */
	__u32 ts_val;
	__u32 ts_ecr;
	__u8 has_ts;
	__u8 signed_;
	__u8 bad;
	__u8 pad;
};

static __always_inline __u32 opt_be32(const struct opt_walk *w, __u32 off)
{
	return (__u32)w->b[off & 63] << 24 | (__u32)w->b[(off + 1) & 63] << 16 |
	       (__u32)w->b[(off + 2) & 63] << 8 | w->b[(off + 3) & 63];
}

static long opt_step(__u64 i, struct opt_walk *w)
{
	__u32 off = w->off;
	__u8 kind, len;

	if (off >= w->len)
		return 1;
	kind = w->b[off & 63];
	if (kind == TCPOPT_EOL) {
		w->off = w->len;
		return 1;
	}
	if (kind == TCPOPT_NOP) {
		w->off = off + 1;
		return 0;
	}
	len = off + 1 < w->len ? w->b[(off + 1) & 63] : 0;
	if (len < 2 || off + len > w->len) {
		w->bad = 1;	/* malformed: not ours to interpret */
		return 1;
	}
	if (kind == TCPOPT_MD5SIG || kind == TCPOPT_AO)
		w->signed_ = 1;
	if (kind == TCPOPT_TS) {
		if (len != TCPOLEN_TS) {
			w->bad = 1;
			return 1;
		}
		w->has_ts = 1;
		w->ts_val = opt_be32(w, off + 2);
		w->ts_ecr = opt_be32(w, off + 6);
	}
	w->off = off + len;
	return 0;
}

/*
 * Walk the TCP options, at most TCP_MAX_OPTLEN bytes. Fast path: Linux puts
 * NOP,NOP,TS first on every non-SYN segment of a timestamped session.
 */
static __always_inline int parse_tcp_options(struct pkt *p, void *data_end)
{
	__u8 *opt = (__u8 *)(p->tcp + 1);
	__u32 optlen = p->tcp->doff * 4 - sizeof(struct tcphdr);
	struct opt_walk w;
	__u32 start = 0;
	int i;

	if (!optlen)
		return 0;
	if (optlen >= 12 && (void *)(opt + 12) <= data_end &&
	    opt[0] == TCPOPT_NOP && opt[1] == TCPOPT_NOP &&
	    opt[2] == TCPOPT_TS && opt[3] == TCPOLEN_TS) {
		p->has_ts = 1;
		p->ts_val = bpf_ntohl(*(__be32 *)(opt + 4));
		p->ts_ecr = bpf_ntohl(*(__be32 *)(opt + 8));
		if (optlen == 12)
			return 0;
		start = 12;
	}
	__builtin_memset(&w, 0, sizeof(w));
	w.len = optlen;
	w.off = start;
	if ((void *)(opt + TCP_MAX_OPTLEN) <= data_end) {
		__builtin_memcpy(w.b, opt, TCP_MAX_OPTLEN);
	} else {
		for (i = 0; i < TCP_MAX_OPTLEN; i++) {
			if (i >= optlen || (void *)(opt + i + 1) > data_end)
				break;
			w.b[i] = opt[i];
		}
		if (i < optlen)
			return -1;	/* the options run past the frame */
	}
	bpf_loop(TCP_MAX_OPTS, opt_step, &w, 0);
	if (w.bad || w.off < w.len)
		return -1;
	p->signed_ = w.signed_;
	if (w.has_ts) {
		p->has_ts = 1;
		p->ts_val = w.ts_val;
		p->ts_ecr = w.ts_ecr;
	}
	return 0;
}

/*
 * Returns 0 when the frame is a well-formed TCP segment tko may look at.
 * frame_len is the whole frame's length: on TC the payload of a large skb may
 * lie beyond data_end (non-linear), and only the headers must be linear.
 */
static __always_inline int parse_frame(void *data, void *data_end, __u32 frame_len,
				       struct pkt *p)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__u16 proto;
	__u32 l4_len;
	struct tcphdr *tcp;

	if ((void *)(eth + 1) > data_end)
		return -1;
	p->eth = eth;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr_ *vh = data + off;

		if ((void *)(vh + 1) > data_end)
			return -1;
		p->vlan_tci = bpf_ntohs(vh->tci);
		p->vlan_proto = proto;
		proto = vh->proto;
		off += sizeof(*vh);
	}
	p->l3_off = off;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;
		__u16 tot;

		if ((void *)(ip + 1) > data_end)
			return -1;
		/* Options and fragments are rare on TCP and never keepalives. */
		if (ip->version != 4 || ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
			return -1;
		if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
			return -1;
		tot = bpf_ntohs(ip->tot_len);
		if (tot < sizeof(*ip) + sizeof(struct tcphdr) || off + tot > frame_len)
			return -1;
		p->ip4 = ip;
		p->flowinfo = ((__u32)ip->tos << 20) & FLOWINFO_MASK;
		l4_len = tot - sizeof(*ip);
		tcp = (void *)(ip + 1);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		__u16 plen;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		if (ip6->version != 6 || ip6->nexthdr != IPPROTO_TCP)
			return -1;
		plen = bpf_ntohs(ip6->payload_len);
		if (plen < sizeof(struct tcphdr) ||
		    off + sizeof(*ip6) + plen > frame_len)
			return -1;
		p->ip6 = ip6;
		p->v6 = 1;
		p->flowinfo = bpf_ntohl(*(__be32 *)ip6) & FLOWINFO_MASK;
		l4_len = plen;
		tcp = (void *)(ip6 + 1);
	} else {
		return -1;
	}

	if ((void *)(tcp + 1) > data_end)
		return -1;
	if (tcp->doff < 5 || tcp->doff * 4 > l4_len)
		return -1;
	p->tcp = tcp;
	p->payload_len = l4_len - tcp->doff * 4;
	p->seq = bpf_ntohl(tcp->seq);
	p->ack = bpf_ntohl(tcp->ack_seq);
	p->flags = ((__u8 *)tcp)[13];
	return parse_tcp_options(p, data_end);
}

/*
 * Session key of a segment. ingress: the frame comes from the peer, so the
 * local (offloaded) endpoint is its destination; egress: its source.
 */
static __always_inline void pkt_key(const struct pkt *p, struct tko_key *k, bool ingress)
{
	__builtin_memset(k, 0, sizeof(*k));
	if (!p->v6) {
		k->family = TKO_AF_INET;
		if (ingress) {
			__builtin_memcpy(k->laddr, &p->ip4->daddr, 4);
			__builtin_memcpy(k->raddr, &p->ip4->saddr, 4);
		} else {
			__builtin_memcpy(k->laddr, &p->ip4->saddr, 4);
			__builtin_memcpy(k->raddr, &p->ip4->daddr, 4);
		}
	} else {
		k->family = TKO_AF_INET6;
		if (ingress) {
			__builtin_memcpy(k->laddr, &p->ip6->daddr, 16);
			__builtin_memcpy(k->raddr, &p->ip6->saddr, 16);
		} else {
			__builtin_memcpy(k->laddr, &p->ip6->saddr, 16);
			__builtin_memcpy(k->raddr, &p->ip6->daddr, 16);
		}
	}
	if (ingress) {
		k->lport = bpf_ntohs(p->tcp->dest);
		k->rport = bpf_ntohs(p->tcp->source);
	} else {
		k->lport = bpf_ntohs(p->tcp->source);
		k->rport = bpf_ntohs(p->tcp->dest);
	}
}

/* RFC 1982 serial number arithmetic on 32-bit sequence numbers. */
static __always_inline bool seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

/*
 * Move the sequence number at p forward to v, never back. Programs on
 * other CPUs may move it too: compare-and-swap, so that a newer value is
 * never overwritten by an older one; a lost race means it moved anyway.
 */
static __always_inline void seq_advance(__u32 *p, __u32 v)
{
	__u32 old = *p;

	if (seq_after(v, old) && __sync_val_compare_and_swap(p, old, v) != old) {
		old = *p;
		if (seq_after(v, old))
			__sync_val_compare_and_swap(p, old, v);
	}
}

/* Ethernet + VLAN + IPv6 + TCP with options: all a session's segment needs. */
#define MAX_HDR_LEN (14 + 4 + 40 + 60)

/*
 * parse_frame() on an skb at TC. Headers are almost always linear; pull them
 * in if they are not. A frame shorter than MAX_HDR_LEN is pulled whole.
 */
static __always_inline int parse_skb(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 linear = data_end - data;

	if (linear < MAX_HDR_LEN && linear < skb->len &&
	    bpf_skb_pull_data(skb, MAX_HDR_LEN))
		bpf_skb_pull_data(skb, 0);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	return parse_frame(data, data_end, skb->len, p);
}

#endif /* TKO_BPF_PARSE_H */
