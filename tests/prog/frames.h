/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Frame builder of the program tests: Ethernet [+ one VLAN tag] + IPv4/IPv6
 * + TCP [+ NOP,NOP,TS] [+ options] [+ payload], written byte by byte in
 * network order from a plain description (struct seg_spec).
 *
 * The checksums are computed here from RFC 1071 and RFC 9293 3.1 (pseudo
 * headers) with nothing shared with the BPF side (bpf/lib/forge.h), so that
 * a checksum mistake in the datapath cannot hide behind the same mistake in
 * the expected frame.
 */
#ifndef TKO_TEST_FRAMES_H
#define TKO_TEST_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FRAME_MAX	512
#define ETH_HDR_LEN	14
#define ETH_MIN_LEN	60	/* shorter frames are padded on the wire (no FCS here) */
#define VLAN_TAG_LEN	4
#define IP4_HDR_LEN	20
#define IP6_HDR_LEN	40
#define TCP_HDR_LEN	20
#define TCP_TS_LEN	12	/* NOP, NOP, kind 8, length 10, TSval, TSecr */
#define UDP_HDR_LEN	8

#define ETHERTYPE_IP	0x0800
#define ETHERTYPE_ARP	0x0806
#define ETHERTYPE_VLAN	0x8100
#define ETHERTYPE_QINQ	0x88a8
#define ETHERTYPE_IPV6	0x86dd

#define PROTO_TCP	6
#define PROTO_UDP	17
#define PROTO_DSTOPTS	60

#define IP4_DF		0x4000
#define IP4_MF		0x2000

enum {
	F_FIN = 0x01,
	F_SYN = 0x02,
	F_RST = 0x04,
	F_PSH = 0x08,
	F_ACK = 0x10,
	F_URG = 0x20,
};

/* A frame and where its layers start (what the tests mangle). */
struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
	size_t l3;	/* IP header */
	size_t l4;	/* TCP/UDP header */
	size_t pay;	/* payload */
};

/* Everything a test segment can vary; zero is "absent" or "none". */
struct seg_spec {
	bool v6;
	uint16_t vlan_proto;	/* 0: untagged; ETHERTYPE_VLAN/QINQ: one tag */
	uint16_t vlan_id;
	uint8_t smac[6], dmac[6];
	uint8_t saddr[16], daddr[16];	/* IPv4 in the first four bytes */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	uint16_t urg_ptr;
	bool ts;		/* NOP, NOP, TS(tsval, tsecr) first in the options */
	uint32_t tsval, tsecr;
	const uint8_t *opts;	/* raw options after TS; length a multiple of 4 */
	size_t opts_len;
	size_t payload;		/* payload bytes, a fixed pattern ... */
	bool payload_zero;	/* ... or zeros (a BSD-style keepalive's byte) */
	/* IP header fields that an answer must not copy from the probe */
	uint8_t tos;		/* IPv4 TOS, IPv6 traffic class */
	uint32_t flow;		/* IPv6 flow label (20 bits) */
	uint16_t ip_id;
	uint16_t frag_off;	/* IPv4 flags and fragment offset, host order */
	uint8_t ttl;		/* IPv4 TTL, IPv6 hop limit */
	/* shapes tko must leave alone */
	size_t ip_opts;		/* IPv4 option bytes, multiple of 4 ... */
	const uint8_t *ip_opt_bytes;	/* ... these, or NOPs then EOL */
	bool ip6_ext;		/* IPv6: a Destination Options header before L4 */
	uint8_t l4proto;	/* 0: TCP; PROTO_UDP: a UDP datagram instead */
	size_t pad_to;		/* Ethernet padding up to this frame length */
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * RFC 1071: add big-endian 16-bit words into a 32-bit accumulator, an odd
 * last byte padded with zero. Every chunk but the last must be of even length.
 */
static inline uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

/* Fold the carries back in and take the one's complement. */
static inline uint16_t csum_finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* RFC 9293 3.1 (IPv4) and RFC 8200 8.1 (IPv6) pseudo headers. */
static inline uint32_t csum_pseudo(const struct seg_spec *s, uint8_t proto, size_t l4_len)
{
	uint8_t ph[40] = {0};

	if (!s->v6) {
		memcpy(ph, s->saddr, 4);
		memcpy(ph + 4, s->daddr, 4);
		ph[9] = proto;
		put16(ph + 10, (uint16_t)l4_len);
		return csum_add(0, ph, 12);
	}
	memcpy(ph, s->saddr, 16);
	memcpy(ph + 16, s->daddr, 16);
	put32(ph + 32, (uint32_t)l4_len);
	ph[39] = proto;
	return csum_add(0, ph, 40);
}

/* Ethernet header [+ tag]; returns its length. */
static inline size_t put_eth(uint8_t *p, const struct seg_spec *s, uint16_t ethertype)
{
	size_t off = 12;

	memcpy(p, s->dmac, 6);
	memcpy(p + 6, s->smac, 6);
	if (s->vlan_proto) {
		put16(p + off, s->vlan_proto);
		put16(p + off + 2, s->vlan_id & 0x0fff);
		off += VLAN_TAG_LEN;
	}
	put16(p + off, ethertype);
	return off + 2;
}

/* The TCP header, its options and payload, checksum left zero. */
static inline size_t put_tcp(uint8_t *p, const struct seg_spec *s)
{
	size_t hl = TCP_HDR_LEN + (s->ts ? TCP_TS_LEN : 0) + s->opts_len;
	uint8_t *o = p + TCP_HDR_LEN;
	size_t i;

	put16(p, s->sport);
	put16(p + 2, s->dport);
	put32(p + 4, s->seq);
	put32(p + 8, s->ack);
	p[12] = (uint8_t)(hl / 4) << 4;
	p[13] = s->flags;
	put16(p + 14, s->window);
	put16(p + 16, 0);
	put16(p + 18, s->urg_ptr);
	if (s->ts) {
		o[0] = 1;
		o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		put32(o + 4, s->tsval);
		put32(o + 8, s->tsecr);
		o += TCP_TS_LEN;
	}
	if (s->opts_len)
		memcpy(o, s->opts, s->opts_len);
	for (i = 0; i < s->payload; i++)
		p[hl + i] = s->payload_zero ? 0 : (uint8_t)(0xa5 + i);
	return hl + s->payload;
}

static inline size_t put_udp(uint8_t *p, const struct seg_spec *s)
{
	size_t i;

	put16(p, s->sport);
	put16(p + 2, s->dport);
	put16(p + 4, (uint16_t)(UDP_HDR_LEN + s->payload));
	put16(p + 6, 0);
	for (i = 0; i < s->payload; i++)
		p[UDP_HDR_LEN + i] = (uint8_t)(0x5a + i);
	return UDP_HDR_LEN + s->payload;
}

static inline size_t put_ip4(uint8_t *p, const struct seg_spec *s, uint8_t proto,
			     size_t l4_len)
{
	size_t hl = IP4_HDR_LEN + s->ip_opts;
	size_t i;

	p[0] = 0x40 | (uint8_t)(hl / 4);
	p[1] = s->tos;
	put16(p + 2, (uint16_t)(hl + l4_len));
	put16(p + 4, s->ip_id);
	put16(p + 6, s->frag_off);
	p[8] = s->ttl;
	p[9] = proto;
	put16(p + 10, 0);
	memcpy(p + 12, s->saddr, 4);
	memcpy(p + 16, s->daddr, 4);
	for (i = 0; i < s->ip_opts; i++)	/* NOPs, EOL last */
		p[IP4_HDR_LEN + i] = s->ip_opt_bytes ? s->ip_opt_bytes[i] :
				     i + 1 < s->ip_opts ? 1 : 0;
	put16(p + 10, csum_finish(csum_add(0, p, hl)));
	return hl;
}

static inline size_t put_ip6(uint8_t *p, const struct seg_spec *s, uint8_t proto,
			     size_t l4_len)
{
	size_t ext = s->ip6_ext ? 8 : 0;

	put32(p, 6u << 28 | (uint32_t)s->tos << 20 | (s->flow & 0xfffff));
	put16(p + 4, (uint16_t)(ext + l4_len));
	p[6] = s->ip6_ext ? PROTO_DSTOPTS : proto;
	p[7] = s->ttl;
	memcpy(p + 8, s->saddr, 16);
	memcpy(p + 24, s->daddr, 16);
	if (ext) {	/* next header, length 0 (8 bytes), PadN of 4 bytes */
		uint8_t *e = p + IP6_HDR_LEN;

		memset(e, 0, 8);
		e[0] = proto;
		e[2] = 1;
		e[3] = 4;
	}
	return IP6_HDR_LEN + ext;
}

/* Build the frame described by s into f, checksums included. */
static inline void frame_build(struct frame *f, const struct seg_spec *s)
{
	uint8_t proto = s->l4proto ? s->l4proto : PROTO_TCP;
	uint8_t l4[FRAME_MAX];
	size_t l4_len, ip_len, csum_off;
	uint32_t sum;

	memset(f, 0, sizeof(*f));
	l4_len = proto == PROTO_UDP ? put_udp(l4, s) : put_tcp(l4, s);
	csum_off = proto == PROTO_UDP ? 6 : 16;
	sum = csum_pseudo(s, proto, l4_len);
	put16(l4 + csum_off, csum_finish(csum_add(sum, l4, l4_len)));

	f->l3 = put_eth(f->b, s, s->v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IP);
	ip_len = s->v6 ? put_ip6(f->b + f->l3, s, proto, l4_len)
		       : put_ip4(f->b + f->l3, s, proto, l4_len);
	f->l4 = f->l3 + ip_len;
	memcpy(f->b + f->l4, l4, l4_len);
	f->pay = f->l4 + (proto == PROTO_UDP ? UDP_HDR_LEN : (size_t)(l4[12] >> 4) * 4);
	f->len = f->l4 + l4_len;
	if (f->len < s->pad_to) {	/* padding bytes are zero (memset above) */
		f->len = s->pad_to;
	}
}

/* An ARP request from the spec's source for its destination IPv4 address. */
static inline void frame_build_arp(struct frame *f, const struct seg_spec *s)
{
	uint8_t *a;

	memset(f, 0, sizeof(*f));
	f->l3 = put_eth(f->b, s, ETHERTYPE_ARP);
	a = f->b + f->l3;
	put16(a, 1);			/* Ethernet */
	put16(a + 2, ETHERTYPE_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);		/* request */
	memcpy(a + 8, s->smac, 6);
	memcpy(a + 14, s->saddr, 4);
	memcpy(a + 24, s->daddr, 4);	/* target MAC stays zero */
	f->l4 = f->pay = f->l3 + 28;
	f->len = ETH_MIN_LEN;
}

/* Insert n bytes at off (e.g. a second VLAN tag), moving the layer offsets. */
static inline void frame_insert(struct frame *f, size_t off, const uint8_t *bytes, size_t n)
{
	memmove(f->b + off + n, f->b + off, f->len - off);
	memcpy(f->b + off, bytes, n);
	f->len += n;
	if (f->l3 >= off)
		f->l3 += n;
	if (f->l4 >= off)
		f->l4 += n;
	if (f->pay >= off)
		f->pay += n;
}

/*
 * The answer tko must send to the keepalive probe p (DESIGN.md, "TCP
 * correctness rules"): a pure ACK from the endpoint to the peer with
 * seq = SND.NXT, ack = RCV.NXT, its last raw window, TSopt iff the session
 * uses it (TSval = the endpoint's last TSval, TSecr = the probe's TSval),
 * fresh IP header fields, no payload and no Ethernet padding.
 */
static inline struct seg_spec answer_spec(const struct seg_spec *p, uint32_t snd_nxt,
					  uint32_t rcv_nxt, uint16_t window, bool ts,
					  uint32_t ts_val, uint32_t probe_tsval)
{
	struct seg_spec a = {
		.v6 = p->v6,
		.vlan_proto = p->vlan_proto,
		.vlan_id = p->vlan_id,
		.sport = p->dport,
		.dport = p->sport,
		.seq = snd_nxt,
		.ack = rcv_nxt,
		.flags = F_ACK,
		.window = window,
		.ts = ts,
		.tsval = ts ? ts_val : 0,
		.tsecr = ts ? probe_tsval : 0,
		.frag_off = p->v6 ? 0 : IP4_DF,
		.ttl = 64,
	};

	memcpy(a.smac, p->dmac, 6);
	memcpy(a.dmac, p->smac, 6);
	memcpy(a.saddr, p->daddr, 16);
	memcpy(a.daddr, p->saddr, 16);
	return a;
}

/*
 * Shapes for the tables of cases. Tweaks change a segment before it is
 * built; mangles write bytes no sane sender writes into a built frame.
 */
static inline void no_padding(struct seg_spec *s) { s->pad_to = 0; }
static inline void tag_8021ad(struct seg_spec *s)
{
	s->vlan_proto = ETHERTYPE_QINQ;
	s->vlan_id = 7;
}
static inline void ip_df(struct seg_spec *s) { s->frag_off = IP4_DF; }
/*
 * Four bytes of IPv4 options that read as the segment's own ports: a parser
 * that looked for TCP right after a 20-byte IP header would find its session.
 */
static inline void ip_options(struct seg_spec *s)
{
	static uint8_t o[4];

	put16(o, s->sport);
	put16(o + 2, s->dport);
	s->ip_opts = sizeof(o);
	s->ip_opt_bytes = o;
}
static inline void ip_more_frags(struct seg_spec *s) { s->frag_off = IP4_MF; }
static inline void ip_frag_offset(struct seg_spec *s) { s->frag_off = 0x00b9; }
static inline void ip6_dstopts(struct seg_spec *s) { s->ip6_ext = true; }
static inline void udp(struct seg_spec *s) { s->l4proto = PROTO_UDP; }

/* The same segment in the other direction. */
static inline void reversed(struct seg_spec *s)
{
	struct seg_spec r = *s;

	memcpy(s->smac, r.dmac, 6);
	memcpy(s->dmac, r.smac, 6);
	memcpy(s->saddr, r.daddr, 16);
	memcpy(s->daddr, r.saddr, 16);
	s->sport = r.dport;
	s->dport = r.sport;
}

/* A tweak that sets the raw TCP options (after TS, if any) to the bytes given. */
#define SET_OPTS(fn, ...)						\
static inline void fn(struct seg_spec *s)				\
{									\
	static const uint8_t o[] = { __VA_ARGS__ };			\
	s->opts = o;							\
	s->opts_len = sizeof(o);					\
}
/* NOP, NOP, SACK with one block: what Linux adds to a D-SACK */
SET_OPTS(opt_sack, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2)
SET_OPTS(opt_eol, 0, 0, 0, 0)
SET_OPTS(opt_nops, 1, 1, 1, 1)
/* RFC 2385 MD5 signature, RFC 5925 AO */
SET_OPTS(opt_md5, 19, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 1)
SET_OPTS(opt_ao, 29, 16, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
/* malformed: length 0, length beyond the header, TS of length 8 */
SET_OPTS(opt_len_zero, 5, 0, 1, 1)
SET_OPTS(opt_overrun, 5, 10, 1, 1)
SET_OPTS(opt_ts_bad_len, 1, 1, 8, 8, 1, 2, 3, 4, 5, 6, 1, 1)
/* more option steps than the parser walks (TCP_MAX_OPTS in bpf/lib/parse.h) */
SET_OPTS(opt_many_nops, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)

static inline void ip4_version_6(struct frame *f) { f->b[f->l3] = 0x65; }
static inline void ip6_version_4(struct frame *f) { f->b[f->l3] = 0x40 | (f->b[f->l3] & 0x0f); }
static inline void ip4_tot_len_short(struct frame *f) { put16(f->b + f->l3 + 2, 39); }
static inline void ip4_tot_len_long(struct frame *f)
{
	put16(f->b + f->l3 + 2, get16(f->b + f->l3 + 2) + 1);
}
static inline void ip6_plen_short(struct frame *f) { put16(f->b + f->l3 + 4, 19); }
static inline void ip6_plen_long(struct frame *f)
{
	put16(f->b + f->l3 + 4, get16(f->b + f->l3 + 4) + 1);
}
static inline void tcp_doff_4(struct frame *f) { f->b[f->l4 + 12] = 4 << 4; }
static inline void tcp_doff_15(struct frame *f) { f->b[f->l4 + 12] = 15 << 4; }
static inline void ethertype_lldp(struct frame *f) { put16(f->b + f->l3 - 2, 0x88cc); }
/* 802.1ad outer + 802.1Q inner tag (QinQ): one tag is all tko parses */
static inline void second_tag(struct frame *f)
{
	const uint8_t tags[8] = { 0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x09 };

	frame_insert(f, 12, tags, sizeof(tags));
}

#endif /* TKO_TEST_FRAMES_H */
