// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TC egress: the offloaded endpoint's own segments leaving the box (a local
 * socket, or a device's traffic forwarded by a gateway). They are the
 * authority on the session's state: SND.NXT, RCV.NXT, the advertised window,
 * timestamps and the L2 path are captured here (the modem APIs' "monitor
 * mode"). Payload, FIN, RST or SYN from the endpoint suspends or ends the
 * offload. A forwarded flow that a forwarded policy matches becomes a
 * session here by itself. Never changes or drops a frame.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/consts.h"
#include "lib/flow.h"
#include "lib/parse.h"
#include "lib/session.h"
#include "lib/table.h"
#include "lib/wake.h"

/*
 * The endpoint's own keepalive (RFC 1122 4.2.3.6) or zero-window probe:
 * Linux sends both at SND.UNA - 1 (tcp_xmit_probe_skb), with 0 or 1 byte.
 * It is not new data: it neither advances SND.NXT nor counts as activity,
 * and its answer must reach the endpoint (XDP lets it pass).
 */
static __always_inline bool is_own_probe(const struct pkt *p, const struct tko_session *s)
{
	__u32 una = s->have & TKO_HAVE_UNA ? s->tcp.snd_una : s->tcp.snd_nxt;

	return (s->have & TKO_HAVE_SEQ) && p->payload_len <= 1 &&
	       !(p->flags & (TH_SYN | TH_FIN | TH_RST)) && p->seq == una - 1;
}

/*
 * The endpoint's timestamp clock: its last TSval, when that was first
 * seen, and its rate, which bounds how long its last TSval may be resent
 * (ts_limit_ns()). The rate is an upper bound: a segment seen later than
 * it was sent makes the clock look slower, by as much as that delay over
 * the time measured. Twice what 100 ms or more of its segments showed,
 * 25 % over what a second or more showed (a clock in us is told from one
 * in ms long before that).
 */
static __always_inline void learn_ts(const struct pkt *p, struct tko_session *s, __u64 now)
{
	__u64 first_ns, dt, hz;

	if (!(s->have & TKO_HAVE_TS)) {
		s->tcp.ts_val = s->ts_first_val = p->ts_val;
		s->tcp.ts_ecr = p->ts_ecr;
		s->ts_seen_ns = now;
		s->ts_first_ms = (now - s->started_ns) / NSEC_PER_MSEC;
		__sync_fetch_and_or(&s->have, TKO_HAVE_TS);
		return;
	}
	/* TS.Recent only moves forward (RFC 7323 4.3). */
	seq_advance(&s->tcp.ts_ecr, p->ts_ecr);
	/* The endpoint's clock only moves forward (RFC 7323 5.3). */
	if (!seq_after(p->ts_val, s->tcp.ts_val))
		return;
	s->tcp.ts_val = p->ts_val;
	s->ts_seen_ns = now;
	first_ns = s->started_ns + (__u64)s->ts_first_ms * NSEC_PER_MSEC;
	dt = now - first_ns;
	if (now <= first_ns || dt < NSEC_PER_SEC / 10)
		return;
	hz = ((__u64)(p->ts_val - s->ts_first_val) + 1) * NSEC_PER_SEC / dt;
	hz += (dt < NSEC_PER_SEC ? hz : hz / 4) + 1;
	s->ts_hz = hz > 0xffffffffULL ? 0xffffffffU : (__u32)hz;
}

/*
 * What the endpoint's segment says of its state. Sequence numbers only move
 * forward, whichever CPU sees the segments first; SND.UNA is the peer's to
 * say (XDP ingress). A first segment without payload may be the endpoint's
 * own keepalive, one short of SND.NXT (TKO_HAVE_BARE).
 */
static __always_inline void learn(struct __sk_buff *skb, const struct pkt *p,
				  struct tko_session *s, bool own_probe, __u64 now)
{
	bool have_seq = s->have & TKO_HAVE_SEQ, data = p->payload_len || (p->flags & TH_FIN);
	__u32 end_seq = p->seq + p->payload_len + !!(p->flags & TH_FIN);

	if (!have_seq) {
		s->tcp.snd_nxt = end_seq;
		s->tcp.rcv_nxt = p->ack;
	} else {
		if (!own_probe)
			seq_advance(&s->tcp.snd_nxt, end_seq);
		seq_advance(&s->tcp.rcv_nxt, p->ack);
	}
	s->tcp.window = bpf_ntohs(p->tcp->window);
	if (p->has_ts)
		learn_ts(p, s, now);
	s->flowinfo = p->flowinfo;
	__builtin_memcpy(s->lmac, p->eth->h_source, 6);
	__builtin_memcpy(s->rmac, p->eth->h_dest, 6);
	s->ifindex = skb->ifindex;
	/* The endpoint's VLAN, whether the tag is still offloaded in the skb
	 * or already in the frame: tko's probes must leave with the same. */
	if (skb->vlan_present) {
		s->vlan_tci = skb->vlan_tci;
		s->vlan_proto = skb->vlan_proto;
	} else {
		s->vlan_tci = p->vlan_tci;
		s->vlan_proto = p->vlan_proto;
	}
	if (!have_seq && !data)
		__sync_fetch_and_or(&s->have, TKO_HAVE_BARE);
	else if (data && (s->have & TKO_HAVE_BARE))
		__sync_fetch_and_and(&s->have, ~TKO_HAVE_BARE);
	__sync_fetch_and_or(&s->have, TKO_HAVE_SEQ | TKO_HAVE_L2);
}

/*
 * Forwarded: no TCP socket of this host sent the segment. A socket that is
 * not full is a TCP request or time-wait socket of this host; a full socket
 * of another protocol is no TCP endpoint (as the dummy socket BPF_PROG_RUN
 * gives, of the frame's family but no protocol).
 */
static __always_inline bool forwarded(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return true;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return false;
	return sk->protocol != IPPROTO_TCP;
}

/*
 * The agent's interfaces face the peers (tko agent --iface): a segment that
 * came in through one of them was sent by a peer, and going out again it
 * is the peer's side of a flow, never an endpoint tko speaks for (a gateway
 * whose agent is also on the devices' side sees the servers' segments
 * leave there).
 */
static __always_inline bool from_peers_side(struct __sk_buff *skb)
{
	__u32 in = skb->ingress_ifindex;

	return in && bpf_map_lookup_elem(&ifaces, &in);
}

/*
 * A forwarded segment of a flow with no session: a forwarded policy may want
 * it. The flow becomes a session at its first segment that is not a SYN,
 * FIN or RST (the handshake's last ACK, or any segment of a flow that was
 * there before the policy), LEARNING from what that segment says, its path
 * the segment's own. A SYN is a new connection: the tuple may be tracked
 * again. A FIN or RST closes the flow for good: its last segments must not
 * make it a session. A flow the table cannot take is reported, never
 * dropped silently, and tried again later.
 */
static __always_inline void flow_track(struct __sk_buff *skb, const struct pkt *p,
				       const struct tko_key *k)
{
	struct tko_policy *pol;
	struct tko_session *s;
	__u64 mask, now;
	__u32 slot;
	int id = 0, pi;

	mask = flow_policies(k);
	if (!mask || from_peers_side(skb))
		return;
	if (p->flags & TH_SYN) {
		flow_reopen(k, p->seq);
		return;
	}
	/* The clock only now: a gateway's segments are mostly of flows no
	 * forwarded policy wants, and a helper call is 20-30 ns of them. */
	now = bpf_ktime_get_ns();
	if (flow_closed(k, now))
		return;
	pi = flow_policy_find(mask, k);
	if (pi < 0)
		return;
	if (p->flags & (TH_FIN | TH_RST)) {
		flow_close(k, TKO_FLOW_CLOSED_FOREVER);
		/* A session another CPU was still making when this segment
		 * looked (not yet visible) ends with it: either that CPU sees
		 * the flow closed once it has published, or this look sees
		 * the session (a barrier on both sides between the two). */
		full_fence();
		id = session_find(k);
		s = id >= 0 ? session_get(id) : NULL;
		if (s)
			session_end(id, s, TKO_EV_INVALIDATED,
				    p->flags & TH_RST ? TKO_R_RST_LOCAL : TKO_R_FIN_LOCAL);
		return;
	}
	if (!(p->flags & TH_ACK) || p->signed_)
		return;
	slot = pi;
	pol = bpf_map_lookup_elem(&policies, &slot);
	if (!pol)
		return;

	s = policy_session_new(k, pol, now, &id);
	if (!s)
		return;
	learn(skb, p, s, false, now);
	if (flow_opened(k, p->seq)) {
		s->tcp.snd_una = p->seq;
		s->have = (s->have | TKO_HAVE_UNA) & ~TKO_HAVE_BARE;
	}
	if (!policy_session_publish(id, s, k, pol))
		return;
	stat_inc(TKO_ST_FLOWS_TRACKED);
	session_event(id, TKO_EV_STARTED, TKO_R_POLICY);
	wake_locate(skb, id, s);
	/* Closed meanwhile (its FIN on another CPU found no session yet, or
	 * ended this one): the closing marks the flow before it takes a
	 * session out or looks for one, so this look, after the publication
	 * (sched_request()'s compare-and-swap is the barrier), sees it. The
	 * session ends at once; whoever takes it out of the index reports it. */
	if (flow_closed(k, now))
		session_end(id, s, TKO_EV_INVALIDATED, TKO_R_CLOSED);
}

SEC("tc")
int tko_tc_egress(struct __sk_buff *skb)
{
	struct tko_session *s;
	struct tko_key key;
	struct pkt p = {};
	bool own_probe, drift, first;
	__u64 now;
	int id;

	if (skb->mark == TKO_MARK)
		return TC_ACT_OK;	/* forged by tko: not the endpoint speaking */

	if (parse_skb(skb, &p))
		return TC_ACT_OK;
	pkt_key(&p, &key, false);
	id = session_find(&key);
	if (id < 0) {
		/* Forwarded (no local socket): a forwarded policy may want it. */
		if (forwarded(skb))
			flow_track(skb, &p, &key);
		return TC_ACT_OK;
	}
	s = session_get(id);
	if (!s)
		return TC_ACT_OK;
	stat_inc(TKO_ST_TC_SEEN);

	if (p.flags & TH_RST) {
		session_end(id, s, TKO_EV_INVALIDATED, TKO_R_RST_LOCAL);
		return TC_ACT_OK;
	}
	if (p.flags & TH_SYN) {
		/* A handshake on a registered tuple: learn once it completes; a
		 * new SYN on a session already captured is a new connection. */
		if ((s->have & TKO_HAVE_SEQ) &&
		    session_end(id, s, TKO_EV_INVALIDATED, TKO_R_SYN_LOCAL) &&
		    (s->cfg.flags & TKO_F_FORWARDED))
			flow_reopen(&key, p.seq);
		return TC_ACT_OK;
	}
	if (!(p.flags & TH_ACK))
		return TC_ACT_OK;

	now = bpf_ktime_get_ns();
	own_probe = is_own_probe(&p, s);
	/* A pure ACK of an ACTIVE session must agree with the table: if it
	 * does not, the endpoint saw something tko did not. */
	drift = s->state == TKO_ACTIVE && !own_probe &&
		(p.seq != s->tcp.snd_nxt || p.ack != s->tcp.rcv_nxt);
	first = !(s->have & TKO_HAVE_SEQ);
	learn(skb, &p, s, own_probe, now);
	if (own_probe)
		s->endpoint_probe = 1;
	wake_heard(s);
	/* Where to wake it: learned from its first segment, or from its
	 * data while that failed (a neighbour entry not there yet). */
	if ((s->cfg.flags & TKO_F_WAKE) && !(s->have & TKO_HAVE_WAKE) &&
	    (first || p.payload_len) && forwarded(skb))
		wake_locate(skb, id, s);

	if (p.flags & TH_FIN)
		session_end(id, s, TKO_EV_INVALIDATED, TKO_R_FIN_LOCAL);
	else if (p.payload_len && !own_probe)
		session_traffic(id, s, TKO_R_DATA_LOCAL, now);
	else if (drift)
		session_traffic(id, s, TKO_R_DRIFT, now);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
