// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * XDP ingress: the peer's segments arriving for an offloaded endpoint.
 *  - a keepalive probe of an ACTIVE session is answered here with XDP_TX, so
 *    the endpoint (a sleeping device behind the gateway, an idle socket) is
 *    never woken; on an interface whose driver does not deliver XDP_TX
 *    (veth without XDP on its peer) it passes, and TC ingress answers it;
 *  - the peer's answer to tko's own probe is consumed (XDP_DROP): the peer is
 *    alive, and the endpoint must not see an ACK it did not ask for;
 *  - valid payload, FIN or RST from the peer suspends or ends the offload,
 *    and payload or FIN wakes an endpoint that may be asleep (--wake);
 *  - everything else passes untouched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/answer.h"
#include "lib/coarse.h"
#include "lib/conntrack.h"
#include "lib/wake.h"

/*
 * The peer's answer to a keepalive: a bare ACK that acknowledges what it
 * has of the endpoint's data: SND.NXT, or less while data is in flight (a
 * duplicate ACK is the peer alive too). Its sequence number is the peer's
 * SND.NXT: RCV.NXT, or beyond it within the endpoint's window while the
 * peer's own data waits for the endpoint's acknowledgment (a sleeping
 * device the peer retransmits to: RFC 9293 3.10.7.4's acceptable segment,
 * never a guess out of the window). Linux may add SACK blocks (D-SACK for
 * a 1-byte probe); other options are allowed, payload is not.
 */
static __always_inline bool is_probe_answer(const struct pkt *p, const struct tko_session *s)
{
	if ((p->flags & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACK)) != TH_ACK)
		return false;
	return p->payload_len == 0 && p->seq - s->tcp.rcv_nxt < rcv_window(s) &&
	       acks_sent(p, s);
}

/*
 * Remember the answer until the driver reports on its XDP_TX frames
 * (bpf/xdp_tx_report.bpf.c): if it drops them, the count is taken back.
 */
static __always_inline void pending_push(__u32 ifindex, __u32 id)
{
	__u32 zero = 0;
	struct tko_xdp_pending *q = bpf_map_lookup_elem(&xdp_pending, &zero);

	if (!q)
		return;
	if (q->ifindex != ifindex) {
		q->ifindex = ifindex;
		q->n = 0;
	}
	q->id[q->n & (TKO_XDP_PENDING - 1)] = id;
	q->n++;
}

/*
 * Answer the peer's probe with XDP_TX: the probe becomes the answer, in
 * place. ifc is the interface's entry (NULL: not one of the agent's).
 */
static __always_inline int xdp_answer_probe(struct xdp_md *ctx, struct pkt *p, __u32 id,
					    struct tko_session *s, struct tko_iface *ifc)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	int len, delta;

	/* Packet pointers are 32-bit loads: opaque 64-bit values from here on,
	 * or clang spills them in halves, which the verifier refuses. */
	barrier_var(data);
	barrier_var(data_end);
	len = forge_answer(p, s, data_end);
	if (len < 0) {
		answer_rewrite_failed(id, s);
		return XDP_PASS;	/* untouched: the endpoint answers it */
	}
	delta = len - (int)(data_end - data);
	if (delta && bpf_xdp_adjust_tail(ctx, delta)) {
		/* Rewritten already: never pass tko's answer to the endpoint.
		 * The peer probes again. */
		answer_rewrite_failed(id, s);
		return XDP_DROP;
	}
	answer_sent(s, p, ifc, TKO_ANSWER_XDP);
	if (ifc)
		pending_push(ifc->ifindex, id);
	return XDP_TX;
}

/*
 * A segment of the peer's data (or FIN) not at RCV.NXT, within the
 * endpoint's receive window (RFC 9293 3.10.7.4): out of order (a segment
 * before it was lost) or a retransmission of what the endpoint has. Not
 * off-path: the peer's own traffic. Out-of-order data is the peer speaking.
 */
static __always_inline bool out_of_order(const struct pkt *p, const struct tko_session *s,
					 bool *news)
{
	__u32 wnd = rcv_window(s), rcv = s->tcp.rcv_nxt;

	*news = seq_after(p->seq, rcv);
	if (*news)
		return p->seq - rcv < wnd;
	return rcv - p->seq <= wnd && !seq_after(p->seq + p->payload_len, rcv);
}

SEC("xdp")
int tko_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tko_session *s;
	struct pkt p = {};
	struct tko_key key;
	bool in_seq, news;
	__u64 now;
	int id, act;

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

	if (!(s->have & TKO_HAVE_SEQ))
		return XDP_PASS;	/* nothing to compare with yet: TC egress learns */
	peer_acked(id, s, &p);

	if (s->state == TKO_ACTIVE && is_peer_probe(&p, s)) {
		__u32 ifindex = ctx->ingress_ifindex;
		struct tko_iface *ifc = bpf_map_lookup_elem(&ifaces, &ifindex);

		/* Where XDP_TX is not delivered, TC ingress answers. */
		if (ifc && ifc->path == TKO_ANSWER_TC)
			return XDP_PASS;
		now = coarse_ns();
		if (!answer_wanted(id, &p, s, now))
			return XDP_PASS;
		/* The answer does not cross netfilter: the gateway's own
		 * conntrack entry of the flow is refreshed here. */
		act = xdp_answer_probe(ctx, &p, id, s, ifc);
		if (act == XDP_TX)
			ct_refresh_xdp(ctx, id, s, now);
		return act;
	}

	if (s->state == TKO_ACTIVE && is_probe_answer(&p, s)) {
		/* Ours if a probe of ours waits for it; the count is taken
		 * with an exchange: the carrier adds to it on another CPU. */
		bool ours = __sync_lock_test_and_set(&s->cnt.unanswered, 0) != 0;

		if (ours) {
			__sync_fetch_and_add(&s->cnt.probes_answered, 1);
			stat_inc(TKO_ST_PROBES_ANSWERED);
		}
		if (p.has_ts && (ours || s->endpoint_probe))
			seq_advance(&s->tcp.ts_ecr, p.ts_val);
		/* The endpoint's own kernel keepalive waits for this same ACK:
		 * let it through, or its keepalive would count a loss. */
		if (s->endpoint_probe) {
			s->endpoint_probe = 0;
			return XDP_PASS;	/* conntrack sees it on its way */
		}
		if (ours) {
			ct_refresh_xdp(ctx, id, s, coarse_ns());
			return XDP_DROP;
		}
		return XDP_PASS;	/* not asked for by tko: the endpoint's */
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
		/* FIN and data must also acknowledge what the endpoint sent
		 * (RFC 5961 5). Without the ACK bit, or acknowledging what was
		 * never sent, the endpoint drops the segment itself (RFC 9293
		 * 3.10.7.4): it must not end or suspend the offload either. */
		now = bpf_ktime_get_ns();
		if (!(p.flags & TH_ACK) || !acks_sent(&p, s)) {
			stat_inc(TKO_ST_OFF_PATH);
		} else if (in_seq) {
			__u8 why = p.flags & TH_FIN ? TKO_R_FIN_PEER : TKO_R_DATA_PEER;

			wake_check(id, s, why, now);
			if (p.flags & TH_FIN)
				session_end(id, s, TKO_EV_INVALIDATED, why);
			else
				session_traffic(id, s, why, now);
		} else if (out_of_order(&p, s, &news)) {
			stat_inc(TKO_ST_PEER_OUT_OF_ORDER);
			if (news) {
				wake_check(id, s, TKO_R_DATA_PEER, now);
				session_traffic(id, s, TKO_R_DATA_PEER, now);
			}
		} else {
			stat_inc(TKO_ST_OFF_PATH);
		}
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
