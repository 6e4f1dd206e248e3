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
 * Does the peer's segment acknowledge what the endpoint sent: SND.NXT, or
 * (data in flight) anything from SND.UNA on? RFC 5961 5 asks no less.
 */
static __always_inline bool acks_sent(const struct pkt *p, const struct tko_session *s)
{
	__u32 una = s->tcp.snd_una;

	if (!(s->have & TKO_HAVE_UNA))
		return p->ack == s->tcp.snd_nxt;
	/* SND.UNA =< SEG.ACK =< SND.NXT, as distances from SND.UNA: never
	 * ambiguous, not even 2^31 away */
	return p->ack - una <= s->tcp.snd_nxt - una;
}

/*
 * The endpoint's receive window, as the peer may use it: the window field
 * it advertised, scaled (64 KiB at least: a forwarded session does not know
 * its scale).
 */
static __always_inline __u32 rcv_window(const struct tko_session *s)
{
	__u32 wnd = (__u32)s->tcp.window << (s->tcp.wscale & 15);

	return wnd < 0xffff ? 0xffff : wnd;
}

/*
 * The peer acknowledged p->ack (RFC 9293 3.10.7.4): SND.UNA moves forward,
 * never past SND.NXT, on a segment whose sequence number is the peer's own
 * (within the endpoint's window, RFC 5961 5). SND.UNA not known yet is
 * learned only from a segment at exactly RCV.NXT (or its keepalive at
 * RCV.NXT - 1): an off-path guess must hit the sequence number too. A
 * session that learned SND.NXT from the endpoint's bare segments alone may
 * have learned it from its own zero-length keepalive (SEG.SEQ = SND.NXT -
 * 1, RFC 1122 4.2.3.6), one short: the peer's answer to it acknowledges
 * exactly one more, and says so. Once nothing is in flight, a session
 * waiting for that is looked at again.
 */
static __always_inline void peer_acked(__u32 id, struct tko_session *s, const struct pkt *p)
{
	__u32 nxt = s->tcp.snd_nxt, rcv = s->tcp.rcv_nxt, una;

	if ((p->flags & (TH_SYN | TH_RST | TH_ACK)) != TH_ACK)
		return;
	if ((s->have & TKO_HAVE_BARE) && p->ack == nxt + 1 && !p->payload_len &&
	    !(p->flags & TH_FIN) && p->seq == rcv &&
	    __sync_val_compare_and_swap(&s->tcp.snd_nxt, nxt, p->ack) == nxt)
		nxt = p->ack;
	if (s->have & TKO_HAVE_UNA) {
		una = s->tcp.snd_una;
		/* SND.UNA < SEG.ACK =< SND.NXT (distances from SND.UNA), and
		 * RCV.NXT - 1 =< SEG.SEQ =< RCV.NXT - 1 + the window */
		if (p->ack - una - 1 < nxt - una && p->seq - (rcv - 1) <= rcv_window(s))
			__sync_val_compare_and_swap(&s->tcp.snd_una, una, p->ack);
	} else {
		if (seq_after(p->ack, nxt) || nxt - p->ack > TKO_MAX_WINDOW)
			return;	/* acknowledges what was never sent, or not this flow's */
		if (p->seq != rcv && p->seq != rcv - 1)
			return;
		s->tcp.snd_una = p->ack;
		__sync_fetch_and_or(&s->have, TKO_HAVE_UNA);
		__sync_fetch_and_and(&s->have, ~TKO_HAVE_BARE);
	}
	if ((s->notes & TKO_NOTE_WAITING) && !in_flight(s) &&
	    (s->state == TKO_LEARNING || s->state == TKO_SUSPENDED))
		sched_request(id, s);
}

/*
 * A keepalive probe (RFC 1122 4.2.3.6; RFC 9293 3.8.4): a bare ACK with
 * SEG.SEQ = RCV.NXT - 1 and zero or one byte. Answer only an exact match,
 * acknowledging what the endpoint sent: anything else is either not a
 * keepalive or not from the real peer.
 */
static __always_inline bool is_peer_probe(const struct pkt *p, const struct tko_session *s)
{
	if ((p->flags & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACK)) != TH_ACK)
		return false;
	return p->payload_len <= 1 && p->seq == s->tcp.rcv_nxt - 1 && acks_sent(p, s);
}

/* Per-session answer budget: tko must never become a reflector. */
static __always_inline bool answer_allowed(struct tko_session *s, __u64 now)
{
	if ((__s64)(now - s->answer_window_ns) >= (__s64)NSEC_PER_SEC) {
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
 * be forged here), within the budget. A probe tko cannot answer is left to
 * the endpoint, counted, and reported once.
 */
static __always_inline bool answer_wanted(__u32 id, const struct pkt *p, struct tko_session *s,
					  __u64 now)
{
	if (p->signed_ || !!p->has_ts != !!(s->have & TKO_HAVE_TS)) {
		stat_inc(TKO_ST_ANSWERS_DECLINED);
		if (p->signed_)
			session_warn(id, s, TKO_NOTE_DECLINED_SIGNED, TKO_R_SIGNED);
		else
			session_warn(id, s, TKO_NOTE_DECLINED_TS, TKO_R_TS_MISMATCH);
		return false;
	}
	return answer_allowed(s, now);
}

/* An answer could not be written over the probe: counted, reported once. */
static __always_inline void answer_rewrite_failed(__u32 id, struct tko_session *s)
{
	stat_inc(TKO_ST_REWRITE_ERRORS);
	session_warn(id, s, TKO_NOTE_REWRITE, TKO_R_REWRITE);
}

/*
 * Rewrite the probe at p into the endpoint's answer: addresses and ports
 * swapped, seq = SND.NXT, ack = RCV.NXT, the endpoint's window, DSCP and
 * flow label; full IP and TCP checksums. Returns the answer's length from
 * the start of the frame (the caller trims the frame to it), or -1 with the
 * frame untouched.
 */
static __always_inline int forge_answer(struct pkt *p, struct tko_session *s, void *data_end)
{
	struct seg g = {
		.seq = s->tcp.snd_nxt,
		.ack = s->tcp.rcv_nxt,
		.window = s->tcp.window,
		.has_ts = p->has_ts,
		/* RFC 7323: a TSval the endpoint will never go below (PAWS on
		 * the peer); TSecr: TS.Recent, the probe's TSval unless an
		 * earlier segment of the peer's came later (reordering). */
		.ts_val = session_tsval(s),
		.ts_ecr = seq_after(s->tcp.ts_ecr, p->ts_val) ? s->tcp.ts_ecr : p->ts_val,
		.flowinfo = s->flowinfo,
	};
	int l3_len;

	if ((void *)p->tcp + (p->has_ts ? TCP_TS_HDRLEN : sizeof(struct tcphdr)) > data_end)
		return -1;
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
	if (p->has_ts)
		seq_advance(&s->tcp.ts_ecr, p->ts_val);
	/* The peer is alive: whatever the carrier counted meanwhile (an
	 * exchange, locked, only when there is something to take back). */
	if (s->cnt.unanswered)
		__sync_lock_test_and_set(&s->cnt.unanswered, 0);
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
