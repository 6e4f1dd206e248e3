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
#include "lib/flow.h"
#include "lib/parse.h"
#include "lib/session.h"
#include "lib/table.h"

#define TC_ACT_OK 0
/* Ethernet + VLAN + IPv6 + the largest TCP header: all the parser reads. */

/*
 * The endpoint's own keepalive probe (SEG.SEQ = SND.NXT - 1, 0 or 1 byte)
 * is not new data: it neither advances SND.NXT nor counts as activity, and
 * its answer must reach the endpoint (XDP lets it pass).
 */
static __always_inline bool is_own_probe(const struct pkt *p, const struct tko_session *s)
{
	return (s->have & TKO_HAVE_SEQ) && p->payload_len <= 1 &&
	       !(p->flags & (TH_SYN | TH_FIN | TH_RST)) && p->seq == s->tcp.snd_nxt - 1;
}

static __always_inline void learn(struct __sk_buff *skb, const struct pkt *p,
				  struct tko_session *s, bool own_probe)
{
	bool have_seq = s->have & TKO_HAVE_SEQ;
	__u32 end_seq = p->seq + p->payload_len + !!(p->flags & TH_FIN);

	if (!own_probe && (!have_seq || seq_after(end_seq, s->tcp.snd_nxt)))
		s->tcp.snd_nxt = end_seq;
	if (!have_seq || seq_after(p->ack, s->tcp.rcv_nxt))
		s->tcp.rcv_nxt = p->ack;
	s->tcp.window = bpf_ntohs(p->tcp->window);
	if (p->has_ts) {
		/* The endpoint's clock only moves forward (RFC 7323 5.3). */
		if (!(s->have & TKO_HAVE_TS) || seq_after(p->ts_val, s->tcp.ts_val))
			s->tcp.ts_val = p->ts_val;
		s->tcp.ts_ecr = p->ts_ecr;
		s->have |= TKO_HAVE_TS;
	}
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
	s->have |= TKO_HAVE_SEQ | TKO_HAVE_L2;
}

#define IPPROTO_TCP_ 6

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
	return sk->protocol != IPPROTO_TCP_;
}

/*
 * A forwarded segment of a flow with no session: a forwarded policy may want
 * it. The flow becomes a session at its first segment that is not a SYN,
 * FIN or RST (the handshake's last ACK, or any segment of a flow that was
 * there before the policy), LEARNING from what that segment says, its path
 * the segment's own. A SYN is a new connection: the tuple may be tracked
 * again. A flow the table cannot take is reported, never dropped silently.
 */
static __always_inline void flow_track(struct __sk_buff *skb, const struct pkt *p,
				       const struct tko_key *k, __u64 now)
{
	struct tko_policy *pol;
	struct tko_session *s;
	__u64 mask;
	__u32 slot;
	int id = 0, pi;

	mask = flow_policies(k);
	if (!mask)
		return;
	if (p->flags & TH_SYN) {
		flow_reopen(k);
		return;
	}
	if ((p->flags & (TH_FIN | TH_RST)) || !(p->flags & TH_ACK) || p->signed_)
		return;
	if (flow_closed(k))
		return;
	pi = flow_policy_find(mask, k);
	if (pi < 0)
		return;
	slot = pi;
	pol = bpf_map_lookup_elem(&policies, &slot);
	if (!pol)
		return;

	s = policy_session_new(k, pol, now, &id);
	if (!s)
		return;
	learn(skb, p, s, false);
	if (!policy_session_publish(id, s, k, pol))
		return;
	policy_count(pol);
	stat_inc(TKO_ST_FLOWS_TRACKED);
	session_event(id, TKO_EV_STARTED, TKO_R_POLICY);
}

SEC("tc")
int tko_tc_egress(struct __sk_buff *skb)
{
	struct tko_session *s;
	struct tko_key key;
	struct pkt p = {};
	bool own_probe, drift;
	__u64 now;
	int id;

	if (skb->mark == TKO_MARK)
		return TC_ACT_OK;	/* forged by tko: not the endpoint speaking */

	if (parse_skb(skb, &p))
		return TC_ACT_OK;
	pkt_key(&p, &key, false);
	now = bpf_ktime_get_ns();
	id = session_find(&key);
	if (id < 0) {
		/* Forwarded (no local socket): a forwarded policy may want it. */
		if (forwarded(skb))
			flow_track(skb, &p, &key, now);
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
			flow_reopen(&key);
		return TC_ACT_OK;
	}
	if (!(p.flags & TH_ACK))
		return TC_ACT_OK;

	own_probe = is_own_probe(&p, s);
	/* A pure ACK of an ACTIVE session must agree with the table: if it
	 * does not, the endpoint saw something tko did not. */
	drift = s->state == TKO_ACTIVE && !own_probe &&
		(p.seq != s->tcp.snd_nxt || p.ack != s->tcp.rcv_nxt);
	learn(skb, &p, s, own_probe);
	if (own_probe)
		s->endpoint_probe = 1;

	if (p.flags & TH_FIN)
		session_end(id, s, TKO_EV_INVALIDATED, TKO_R_FIN_LOCAL);
	else if (p.payload_len && !own_probe)
		session_traffic(id, s, TKO_R_DATA_LOCAL, now);
	else if (drift)
		session_traffic(id, s, TKO_R_DRIFT, now);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
