// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Capture of local sockets, idle or not, established before the agent or
 * after: a BPF iterator over the TCP sockets of the caller's network
 * namespace reads the kernel's own tcp_sock for the tuples asked for in the
 * `capture` map. Nothing is written to the socket: unlike Android's
 * TCP_REPAIR route, the application's socket is never touched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tko_types.h"

/* Tuples asked for, and what was found. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct tko_key);
	__type(value, struct tko_capture);
} capture SEC(".maps");

/* The tuple on the wire: a v4-mapped IPv6 socket speaks IPv4. */
static __always_inline bool sock_key(const struct sock_common *skc, struct tko_key *k)
{
	__u16 family = skc->skc_family;

	__builtin_memset(k, 0, sizeof(*k));
	k->lport = skc->skc_num;
	k->rport = bpf_ntohs(skc->skc_dport);
	if (family == TKO_AF_INET6) {
		const __u32 *d = skc->skc_v6_daddr.in6_u.u6_addr32;

		if (!(d[0] == 0 && d[1] == 0 && d[2] == bpf_htonl(0xffff))) {
			k->family = TKO_AF_INET6;
			__builtin_memcpy(k->laddr, &skc->skc_v6_rcv_saddr, 16);
			__builtin_memcpy(k->raddr, &skc->skc_v6_daddr, 16);
			return true;
		}
	} else if (family != TKO_AF_INET) {
		return false;
	}
	k->family = TKO_AF_INET;
	__builtin_memcpy(k->laddr, &skc->skc_rcv_saddr, 4);
	__builtin_memcpy(k->raddr, &skc->skc_daddr, 4);
	return true;
}

SEC("iter/tcp")
int tko_capture(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tko_capture *c;
	struct tcp_sock *tp;
	struct tko_key k;
	__u8 wscale, usec = 0;

	if (!skc || !sock_key(skc, &k))
		return 0;
	c = bpf_map_lookup_elem(&capture, &k);
	if (!c)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;	/* a request or time-wait socket */

	c->found = 1;
	c->established = skc->skc_state == TCP_ESTABLISHED;
	c->unacked = tp->snd_nxt - tp->snd_una;
	c->unsent = tp->write_seq - tp->snd_nxt;
	c->unread = tp->rcv_nxt - tp->copied_seq;
	c->tcp.snd_una = tp->snd_una;
	c->tcp.snd_nxt = tp->snd_nxt;
	c->tcp.rcv_nxt = tp->rcv_nxt;
	/* The window field the socket advertises: scaled down (RFC 7323 2.3). */
	wscale = BPF_CORE_READ_BITFIELD(tp, rx_opt.rcv_wscale);
	c->tcp.wscale = wscale;
	c->tcp.window = (tp->rcv_wnd >> (wscale & 15)) > 0xffff ? 0xffff :
			tp->rcv_wnd >> (wscale & 15);
	c->have = TKO_HAVE_SEQ | TKO_HAVE_UNA;
	if (BPF_CORE_READ_BITFIELD(tp, rx_opt.tstamp_ok)) {
		if (bpf_core_field_exists(tp->tcp_usec_ts))
			usec = BPF_CORE_READ_BITFIELD(tp, tcp_usec_ts);
		c->have |= TKO_HAVE_TS;
		c->tcp.ts_ecr = tp->rx_opt.ts_recent;
		c->tcp.ts_offset = tp->tsoffset;
		c->tcp.ts_clock = usec ? TKO_TS_CLOCK_US : TKO_TS_CLOCK_MS;
		/* What the socket would send now (tcp_time_stamp_ts()). */
		c->tcp.ts_val = (__u32)(bpf_ktime_get_ns() / (usec ? 1000 : 1000000)) +
				tp->tsoffset;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
