/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Answering the peer's keepalive probes on the endpoint's behalf: which
 * segments are probes, whether to answer, the answer itself (forged over the
 * probe, in place) and what an answer handed to the device changes. Shared
 * by the two programs that answer: XDP ingress (XDP_TX) and TC ingress
 * (bpf_clone_redirect to the device's egress, where XDP_TX is not delivered).
 */
#ifndef TKO_BPF_ANSWER_H
#define TKO_BPF_ANSWER_H

#include "session.h"
#include "forge.h"

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

/*
 * Whether to answer this probe of an ACTIVE session (is_peer_probe): TSopt
 * on every segment or on none (RFC 7323 3.2), no MD5/AO signature (it cannot
 * be forged here), within the budget.
 */
static __always_inline bool answer_wanted(const struct pkt *p, struct tko_session *s, __u64 now)
{
	if (!!p->has_ts != !!(s->have & TKO_HAVE_TS) || p->signed_)
		return false;
	return answer_allowed(s, now);
}

/*
 * Rewrite the probe at p into the endpoint's answer: addresses and ports
 * swapped, seq = SND.NXT, ack = RCV.NXT, the endpoint's window; full IP and
 * TCP checksums. Returns the answer's length from the start of the frame
 * (the caller trims the frame to it), or -1.
 */
static __always_inline int forge_answer(struct pkt *p, const struct tko_session *s,
					void *data_end)
{
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
	int l3_len;

	pkt_reverse(p);
	l3_len = forge_segment(p, &g, data_end);
	if (l3_len < 0)
		return -1;
	return (int)p->l3_off + l3_len;
}

/*
 * An answer was handed to the device (path: enum tko_answer_path): the
 * peer that probes is alive, and the counters say how it was answered.
 */
static __always_inline void answer_sent(struct tko_session *s, const struct pkt *p,
					struct tko_iface *ifc, __u32 path)
{
	s->tcp.ts_ecr = p->ts_val;
	s->cnt.unanswered = 0;
	__sync_fetch_and_add(&s->cnt.peer_probes_answered, 1);
	stat_inc(TKO_ST_PEER_PROBES_ANSWERED);
	if (path == TKO_ANSWER_TC) {
		stat_inc(TKO_ST_ANSWERS_TC);
		if (ifc)
			__sync_fetch_and_add(&ifc->answers_tc, 1);
	} else {
		stat_inc(TKO_ST_ANSWERS_XDP);
		if (ifc)
			__sync_fetch_and_add(&ifc->answers_xdp, 1);
	}
}

#endif /* TKO_BPF_ANSWER_H */
