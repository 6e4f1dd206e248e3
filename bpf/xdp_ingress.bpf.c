// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * XDP ingress: the peer's segments arriving for an offloaded endpoint.
 *  - a keepalive probe of an ACTIVE session is answered here with XDP_TX, so
 *    the endpoint (a sleeping device behind the gateway, an idle socket) is
 *    never woken;
 *  - the peer's answer to tko's own probe is consumed (XDP_DROP): the peer is
 *    alive, and the endpoint must not see an ACK it did not ask for;
 *  - valid payload, FIN or RST from the peer suspends or ends the offload;
 *  - everything else passes untouched.
 * Neither an answer nor a consumed segment crosses netfilter: both refresh
 * the gateway's own conntrack entry of the flow (lib/conntrack.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/session.h"
#include "lib/forge.h"
#include "lib/conntrack.h"

/*
 * A keepalive probe (RFC 1122 4.2.3.6; RFC 9293 3.8.4): a bare ACK with
 * SEG.SEQ = RCV.NXT - 1 and zero or one byte. Answer only an exact match,
 * acknowledging exactly what the endpoint sent: anything else is either not
 * a keepalive or not from the real peer.
 */
static __always_inline bool is_peer_probe(const struct pkt *p, const struct tko_session *s)
{
	if ((p->flags & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACK)) != TH_ACK)
		return false;
	return p->payload_len <= 1 && p->seq == s->tcp.rcv_nxt - 1 &&
	       p->ack == s->tcp.snd_nxt;
}

/*
 * The peer's answer to a keepalive: a bare ACK at exactly RCV.NXT that
 * acknowledges exactly SND.NXT. Linux may add SACK blocks (D-SACK for a
 * 1-byte probe); other options are allowed, payload is not.
 */
static __always_inline bool is_probe_answer(const struct pkt *p, const struct tko_session *s)
{
	if ((p->flags & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACK)) != TH_ACK)
		return false;
	return p->payload_len == 0 && p->seq == s->tcp.rcv_nxt && p->ack == s->tcp.snd_nxt;
}

/* Per-session answer budget: tko must never become a reflector. */
static __always_inline bool answer_allowed(struct tko_session *s, __u64 now)
{
	if (now - s->answer_window_ns >= NSEC_PER_SEC) {
		s->answer_window_ns = now;
		s->answers_in_window = 0;
	}
	if (s->answers_in_window >= TKO_ANSWER_BURST) {
		__sync_fetch_and_add(&s->cnt.answers_limited, 1);
		stat_inc(TKO_ST_ANSWERS_LIMITED);
		return false;
	}
	s->answers_in_window++;
	return true;
}

/* Rewrite the probe into the endpoint's answer: seq = SND.NXT, ack = RCV.NXT. */
static __always_inline int answer_probe(struct xdp_md *ctx, struct pkt *p,
					struct tko_session *s)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct seg g = {
		.seq = s->tcp.snd_nxt,
		.ack = s->tcp.rcv_nxt,
		.window = s->tcp.window,
		.has_ts = p->has_ts,
		/* RFC 7323: echo the probe's TSval; send a TSval the endpoint
		 * will never go below (PAWS on the peer). */
		.ts_val = session_tsval(s),
		.ts_ecr = p->ts_val,
	};
	int l3_len, delta;
	long len;

	/* Packet pointers are 32-bit loads: opaque 64-bit values from here on,
	 * or clang spills them in halves, which the verifier refuses. */
	barrier_var(data);
	barrier_var(data_end);
	len = data_end - data;

	pkt_reverse(p);
	l3_len = forge_segment(p, &g, data_end);
	if (l3_len < 0)
		return -1;
	delta = (int)(p->l3_off + l3_len) - (int)len;
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return -1;
	return 0;
}

SEC("xdp")
int tko_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tko_session *s;
	struct pkt p = {};
	struct tko_key key;
	bool in_seq;
	__u64 now;
	int id;

	if (parse_frame(data, data_end, data_end - data, &p))
		return XDP_PASS;
	pkt_key(&p, &key, true);
	id = session_find(&key);
	if (id < 0)
		return XDP_PASS;
	s = session_get(id);
	if (!s)
		return XDP_PASS;
	stat_inc(TKO_ST_XDP_SEEN);
	now = bpf_ktime_get_ns();

	if (!(s->have & TKO_HAVE_SEQ))
		return XDP_PASS;	/* nothing to compare with yet: TC egress learns */

	if (s->state == TKO_ACTIVE && is_peer_probe(&p, s)) {
		/* TSopt on every segment or on none (RFC 7323 3.2); MD5/AO
		 * segments cannot be signed here. */
		if (!!p.has_ts != !!(s->have & TKO_HAVE_TS) || p.signed_)
			return XDP_PASS;
		if (!answer_allowed(s, now))
			return XDP_PASS;
		if (answer_probe(ctx, &p, s))
			return XDP_PASS;
		s->tcp.ts_ecr = p.ts_val;
		s->cnt.unanswered = 0;	/* a peer that probes is alive */
		__sync_fetch_and_add(&s->cnt.peer_probes_answered, 1);
		stat_inc(TKO_ST_PEER_PROBES_ANSWERED);
		ct_refresh_xdp(ctx, &key);
		return XDP_TX;
	}

	if (s->state == TKO_ACTIVE && is_probe_answer(&p, s) &&
	    (s->cnt.unanswered || s->endpoint_probe)) {
		if (p.has_ts)
			s->tcp.ts_ecr = p.ts_val;
		if (s->cnt.unanswered) {
			s->cnt.unanswered = 0;
			__sync_fetch_and_add(&s->cnt.probes_answered, 1);
			stat_inc(TKO_ST_PROBES_ANSWERED);
		}
		/* The endpoint's own kernel keepalive waits for this same ACK:
		 * let it through, or its keepalive would count a loss. */
		if (s->endpoint_probe) {
			s->endpoint_probe = 0;
			return XDP_PASS;	/* conntrack sees it on its way */
		}
		ct_refresh_xdp(ctx, &key);
		return XDP_DROP;
	}

	/* RFC 5961: only an exact RCV.NXT makes a RST, FIN or data segment
	 * count; anything else may be off-path and changes nothing. */
	in_seq = p.seq == s->tcp.rcv_nxt;
	if (p.flags & TH_RST) {
		if (in_seq)
			session_end(id, s, TKO_EV_INVALIDATED, TKO_R_RST_PEER);
		else
			stat_inc(TKO_ST_OFF_PATH);
		return XDP_PASS;
	}
	if (p.flags & TH_SYN)
		return XDP_PASS;
	if (p.flags & TH_FIN || p.payload_len) {
		/* FIN and data must also acknowledge exactly SND.NXT (RFC 5961
		 * 5; an idle endpoint has nothing unacknowledged). Without the
		 * ACK bit, or acknowledging what was never sent, the endpoint
		 * drops the segment itself (RFC 9293 3.10.7.4): it must not end
		 * or suspend the offload either. */
		if (!in_seq || !(p.flags & TH_ACK) || p.ack != s->tcp.snd_nxt) {
			stat_inc(TKO_ST_OFF_PATH);
			return XDP_PASS;
		}
		if (p.flags & TH_FIN)
			session_end(id, s, TKO_EV_INVALIDATED, TKO_R_FIN_PEER);
		else
			session_traffic(id, s, TKO_R_DATA_PEER, now);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
