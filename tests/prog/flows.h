/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Forwarded flows for the program tests: a device's segments as TC egress
 * sees them leave a gateway, the server's as XDP ingress sees them arrive,
 * and forwarded policies written and synced as `tko policy` does
 * (agent/daemon/policies.c). Include after harness.h.
 */
#ifndef TKO_TEST_FLOWS_H
#define TKO_TEST_FLOWS_H

#include <arpa/inet.h>
#include "tko_dp.h"
#include "policies.h"

#define TC_ACT_OK	0
#define SEQ0		1000u		/* the device's SND.NXT */
#define ACK0		5000u		/* its RCV.NXT */
#define DEV_WIN		0x0400
#define SRV_PORT	443

static const uint8_t dev_mac[6] = { 0x02, 0, 0, 0, 0, 0x11 };
static const uint8_t gw_mac[6] = { 0x02, 0, 0, 0, 0, 0x22 };

/* Device 10.1.2.3 (or 2001:db8:1::3) to server 192.0.2.10 (2001:db8:2::10). */
static inline struct seg_spec dev_seg(bool v6, uint16_t port, uint8_t flags, uint32_t seq,
			       uint32_t ack, size_t payload)
{
	struct seg_spec s = {
		.v6 = v6, .sport = port, .dport = SRV_PORT, .seq = seq, .ack = ack,
		.flags = flags, .window = DEV_WIN, .payload = payload, .ttl = 64,
	};

	memcpy(s.smac, gw_mac, 6);	/* forwarded: leaves with the gateway's MAC */
	memcpy(s.dmac, dev_mac, 6);
	if (v6) {
		inet_pton(AF_INET6, "2001:db8:1::3", s.saddr);
		inet_pton(AF_INET6, "2001:db8:2::10", s.daddr);
	} else {
		inet_pton(AF_INET, "10.1.2.3", s.saddr);
		inet_pton(AF_INET, "192.0.2.10", s.daddr);
	}
	return s;
}

static inline struct tko_key seg_key(const struct seg_spec *s)
{
	struct tko_key k = { .family = s->v6 ? TKO_AF_INET6 : TKO_AF_INET,
			     .lport = s->sport, .rport = s->dport };

	memcpy(k.laddr, s->saddr, s->v6 ? 16 : 4);
	memcpy(k.raddr, s->daddr, s->v6 ? 16 : 4);
	return k;
}

/* The server's segment to the device (XDP ingress). */
static inline struct seg_spec srv_seg(const struct seg_spec *d, uint8_t flags, uint32_t seq,
			       uint32_t ack)
{
	struct seg_spec s = *d;

	memcpy(s.saddr, d->daddr, 16);
	memcpy(s.daddr, d->saddr, 16);
	memcpy(s.smac, d->dmac, 6);
	memcpy(s.dmac, d->smac, 6);
	s.sport = d->dport;
	s.dport = d->sport;
	s.seq = seq;
	s.ack = ack;
	s.flags = flags;
	s.payload = 0;
	return s;
}

static inline void tc(const struct seg_spec *s)
{
	uint8_t out[FRAME_MAX];
	struct frame f;
	size_t out_len;

	frame_build(&f, s);
	CHECK_EQ(h_run_tc(f.b, f.len, 0, out, &out_len), TC_ACT_OK, "TC verdict");
	check_frame(out, out_len, f.b, f.len, "TC egress frame");
	h_drain();
}

static inline void xdp(const struct seg_spec *s)
{
	uint8_t out[FRAME_MAX];
	struct frame f;
	size_t out_len;

	frame_build(&f, s);
	h_run_xdp(f.b, f.len, out, &out_len);
	h_drain();
}

/* Policy fields a test sets; the rest as `tko policy add --forwarded`. */
struct pol {
	const char *local;	/* "ADDR/LEN" */
	const char *remote;
	uint16_t lport, rport;
	bool local_policy;	/* a local-socket policy instead */
	uint8_t flags;
};

static inline void parse_pfx(const char *s, __u8 *family, __u8 *addr, __u8 *len)
{
	char buf[64], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	assert_non_null(slash);
	*slash = '\0';
	*len = (__u8)atoi(slash + 1);
	if (inet_pton(AF_INET, buf, addr) == 1)
		*family = TKO_AF_INET;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		*family = TKO_AF_INET6;
	else
		fail_msg("bad prefix %s", s);
}

static inline void set_policy(__u32 slot, const struct pol *q)
{
	struct tko_policy p = { .id = slot + 1, .lport = q->lport, .rport = q->rport };
	int fd = bpf_map__fd(H.b.ctl->maps.policies);

	tko_dp_config_default(&p.cfg);
	p.cfg.idle_s = 1;
	p.cfg.interval_s = 2;
	p.cfg.flags = q->flags | (q->local_policy ? 0 : TKO_F_FORWARDED);
	if (q->local)
		parse_pfx(q->local, &p.lfamily, p.laddr, &p.lprefix_len);
	if (q->remote)
		parse_pfx(q->remote, &p.family, p.raddr, &p.prefix_len);
	assert_int_equal(bpf_map_update_elem(fd, &slot, &p, BPF_ANY), 0);
	assert_int_equal(policy_prefixes_sync(fd, bpf_map__fd(H.b.ctl->maps.policy_prefixes)), 0);
}

static inline void del_policy(__u32 slot)
{
	struct tko_policy empty = {};
	int fd = bpf_map__fd(H.b.ctl->maps.policies);

	assert_int_equal(bpf_map_update_elem(fd, &slot, &empty, BPF_ANY), 0);
	assert_int_equal(policy_prefixes_sync(fd, bpf_map__fd(H.b.ctl->maps.policy_prefixes)), 0);
}

static inline struct tko_policy_stats pstats(__u32 slot)
{
	struct tko_policy_stats st = {};

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(H.b.ctl->maps.policy_stats), &slot,
					     &st), 0);
	return st;
}

static inline bool has_session(const struct seg_spec *s)
{
	struct tko_key k = seg_key(s);
	struct tko_session x;

	return h_lookup(&k, &x);
}

#endif /* TKO_TEST_FLOWS_H */
