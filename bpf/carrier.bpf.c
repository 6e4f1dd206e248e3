// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The carrier: the clock of all sessions, and how tko transmits without
 * userspace. A BPF timer callback has no packet and no helper that sends
 * one, so the agent keeps one frame circulating through a private veth pair
 * (tko0 -> tko1), paced by a TBF qdisc on tko0 that lets TKO_CARRIER_LEN
 * bytes through per tick. This program sits on tko1's TC ingress; each pass
 *  1. takes the requests of the other programs (new sessions, deadlines
 *     moved earlier, ended sessions whose entry it frees),
 *  2. moves a level-1 wheel list down to level 0 ahead of its time,
 *  3. takes the level-0 lists of every tick that came since the last pass:
 *     each session's state machine runs; a due probe is written over the
 *     carrier and bpf_clone_redirect()ed out of the session's interface;
 *  4. sends the carrier round again, as long as the time until the start of
 *     the next tick with work asks (that many ticks' bytes, at most
 *     TKO_CARRIER_HOLD_MAX_MS): a box with nothing due soon sees about one
 *     pass a second, and a probe still leaves within a tick of its time.
 * The work of a pass is bounded (TKO_PASS_*): what is left waits for the
 * next pass, one tick later, and the probes it sends then count as late.
 * tko1 also runs tko_carrier_rx (XDP), so that the carrier travels on its
 * own ring, never in the CPU's shared backlog (below).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/consts.h"
#include "lib/forge.h"
#include "lib/session.h"
#include "lib/wheel.h"
#include "lib/watchdog.h"

#define MAX_FRAME (14 + 40 + TCP_TS_HDRLEN + 4)	/* largest probe, rounded */
/*
 * Starting the frame 2 bytes into an 8-byte aligned buffer puts the IP and
 * TCP headers on 4-byte boundaries.
 */
#define FRAME_OFF 2

/*
 * The frame send_frame() builds, off the stack: a pass's deepest call
 * chain (the carrier, a bpf_loop callback, session_step(), send_frame())
 * must fit the 512 bytes of BPF stack, which older kernels (6.1) count with
 * each frame rounded up to 32 bytes. One per CPU: a pass runs on one.
 */
struct frame_buf {
	__u64 raw[(FRAME_OFF + MAX_FRAME + 7) / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frame_buf);
} frame_buf SEC(".maps");

static __always_inline void copy_mac(__u8 *dst, const __u8 *src)
{
	int i;

#pragma unroll
	for (i = 0; i < 6; i++)
		dst[i] = src[i];
}

/*
 * Build the frame for session s on the stack: towards the peer (a probe),
 * or, reverse, towards the endpoint (the RST of --on-dead reset).
 * Returns its length.
 */
static __always_inline int build_frame(__u8 *buf, const struct tko_key *k,
				       const struct tko_session *s, bool reverse)
{
	const __u8 *src = reverse ? k->raddr : k->laddr, *dst = reverse ? k->laddr : k->raddr;
	struct ethhdr *eth = (void *)buf;
	struct pkt p = { .eth = eth };
	struct seg g = {};
	int l3;

	copy_mac(eth->h_source, reverse ? s->rmac : s->lmac);
	copy_mac(eth->h_dest, reverse ? s->lmac : s->rmac);
	if (reverse) {
		/* RFC 5961 3.2: only a RST at exactly RCV.NXT is accepted. No
		 * TSopt: RSTs are exempt from PAWS (RFC 7323 5.3). */
		g.seq = s->tcp.rcv_nxt;
		g.ack = s->tcp.snd_nxt;
		g.flags = TH_RST | TH_ACK;
	} else {
		/* RFC 9293 3.8.4: a sequence number the peer has acknowledged
		 * makes it answer with an ACK whatever its state. SND.UNA - 1,
		 * as Linux (tcp_xmit_probe_skb): never a byte the peer has not
		 * got (a byte probe's byte is one it discards). TSval: never
		 * ahead of what the endpoint will send (PAWS on the peer). */
		g.seq = s->tcp.snd_una - 1;
		g.ack = s->tcp.rcv_nxt;
		g.window = s->tcp.window;
		g.has_ts = !!(s->have & TKO_HAVE_TS);
		g.ts_val = session_tsval(s);
		g.ts_ecr = s->tcp.ts_ecr;
		g.payload_len = s->cfg.probe == TKO_PROBE_BYTE;
		g.flowinfo = s->flowinfo;
	}

	/* Two whole paths, each with forge_segment() inlined: the verifier
	 * cannot relate two separate loads of k->family. */
	if (k->family == TKO_AF_INET6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		eth->h_proto = bpf_htons(ETH_P_IPV6);
		ip6->nexthdr = IPPROTO_TCP;
		__builtin_memcpy(&ip6->saddr, src, 16);
		__builtin_memcpy(&ip6->daddr, dst, 16);
		p.ip6 = ip6;
		p.v6 = 1;
		p.tcp = (void *)(ip6 + 1);
		p.tcp->source = bpf_htons(reverse ? k->rport : k->lport);
		p.tcp->dest = bpf_htons(reverse ? k->lport : k->rport);
		l3 = forge_segment(&p, &g, buf + MAX_FRAME);
	} else {
		struct iphdr *ip = (void *)(eth + 1);

		eth->h_proto = bpf_htons(ETH_P_IP);	/* forge_segment() writes the rest */
		__builtin_memcpy(&ip->saddr, src, 4);
		__builtin_memcpy(&ip->daddr, dst, 4);
		p.ip4 = ip;
		p.tcp = (void *)(ip + 1);
		p.tcp->source = bpf_htons(reverse ? k->rport : k->lport);
		p.tcp->dest = bpf_htons(reverse ? k->lport : k->rport);
		l3 = forge_segment(&p, &g, buf + MAX_FRAME);
	}
	return l3 < 0 ? -1 : (int)sizeof(*eth) + l3;
}

/*
 * Put frame buf[0..len) in the skb and send a copy out of the session's
 * interface, on its VLAN if it has one (the tag goes in as the NIC's
 * offloaded tag, as the stack itself would send it).
 */
static __always_inline int emit_copy(struct __sk_buff *skb, __u8 *buf, int len,
				const struct tko_session *s, __u64 flags)
{
	int err;

	if (len < (int)(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr)) ||
	    len > MAX_FRAME)
		return -1;
	/* the frame before was most likely as long: no call then */
	if (skb->len != (__u32)len && bpf_skb_change_tail(skb, len, 0))
		return -1;
	if (bpf_skb_store_bytes(skb, 0, buf, len & 0x7f, 0))
		return -1;
	skb->mark = TKO_MARK;	/* tko's own TC egress must not learn from it */
	if (s->vlan_proto && bpf_skb_vlan_push(skb, s->vlan_proto, s->vlan_tci))
		return -1;
	err = bpf_clone_redirect(skb, s->ifindex, flags);
	if (s->vlan_proto)
		bpf_skb_vlan_pop(skb);
	return err;
}

/*
 * A session handed over with --state has no L2 path yet: route it like the
 * stack would, out of one of the agent's interfaces, neighbour included
 * (bpf_fib_lookup; a host that does not forward refuses it, and the agent
 * finds the path with rtnetlink instead, or refuses the session).
 */
__noinline int resolve_l2(struct __sk_buff *skb, __u32 id)
{
	struct tko_session *s = session_get(id);
	struct tko_carrier_state *c;
	struct bpf_fib_lookup fib;
	__u32 zero = 0;
	int i;

	c = bpf_map_lookup_elem(&carrier, &zero);
	if (!skb || !s || !c)
		return 0;
	for (i = 0; i < TKO_MAX_IFACES; i++) {
		if (!c->ifindex[i])
			break;
		__builtin_memset(&fib, 0, sizeof(fib));
		fib.l4_protocol = IPPROTO_TCP;
		fib.sport = bpf_htons(s->key.lport);
		fib.dport = bpf_htons(s->key.rport);
		fib.ifindex = c->ifindex[i];
		if (s->key.family == TKO_AF_INET6) {
			fib.family = TKO_AF_INET6;
			__builtin_memcpy(fib.ipv6_src, s->key.laddr, 16);
			__builtin_memcpy(fib.ipv6_dst, s->key.raddr, 16);
		} else {
			fib.family = TKO_AF_INET;
			__builtin_memcpy(&fib.ipv4_src, s->key.laddr, 4);
			__builtin_memcpy(&fib.ipv4_dst, s->key.raddr, 4);
		}
		/* Out of one of the agent's interfaces only: anywhere else,
		 * nothing of tko's sees the session's own segments. */
		if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT) ==
		    BPF_FIB_LKUP_RET_SUCCESS && bpf_map_lookup_elem(&ifaces, &fib.ifindex)) {
			s->ifindex = fib.ifindex;
			copy_mac(s->lmac, fib.smac);
			copy_mac(s->rmac, fib.dmac);
			return 1;
		}
	}
	return 0;
}

/*
 * A session's path: known, found now by routing it as the stack would, or
 * asked of the agent (false: no path yet).
 */
static __always_inline bool session_path(struct __sk_buff *skb, __u32 id, struct tko_session *s)
{
	if (s->have & TKO_HAVE_L2)
		return true;
	if (resolve_l2(skb, id)) {
		__sync_fetch_and_or(&s->have, TKO_HAVE_L2);
		return true;
	}
	path_request(id, s);
	return false;
}

/*
 * Write session id's probe (or, reverse, the RST of --on-dead reset towards
 * the endpoint) over the carrier and send a copy out of its interface (its
 * path known): what the device said (bpf_clone_redirect()), < 0 if the
 * frame could not be made.
 */
__noinline int send_frame(struct __sk_buff *skb, __u32 id, __u32 reverse)
{
	struct tko_session *s = session_get(id);
	struct frame_buf *fb;
	__u32 zero = 0;
	__u8 *buf;
	int len;

	fb = bpf_map_lookup_elem(&frame_buf, &zero);
	if (!skb || !s || !fb)
		return -1;
	__builtin_memset(fb, 0, sizeof(*fb));
	buf = (__u8 *)fb->raw + FRAME_OFF;
	len = build_frame(buf, &s->key, s, reverse);
	return emit_copy(skb, buf, len, s, reverse ? BPF_F_INGRESS : 0);
}

/* Interfaces whose queue refused a frame in this pass: skipped for the rest of it. */
#define PASS_FULL_MAX 4

/*
 * What one pass works with; the bpf_loop callbacks share it. No pointer in
 * it: session_step(), a global function, may write all of it (for the
 * verifier), and a pointer kept here would be a number afterwards.
 */
struct pass {
	__u64 now;
	__u64 cur;		/* the tick now is in */
	__u64 last;		/* the last tick this pass takes (cur, or a ring ahead) */
	__u64 tick_ns;
	__u64 t;		/* the tick whose list is being taken */
	__u64 found;		/* the hold scan's first tick with work */
	__u32 budget;		/* sessions this pass may still take */
	struct tko_wheel_list chain;	/* what is left of the list being taken (chain_detach) */
	__u32 nfull;		/* interfaces in full[] */
	__u32 full[PASS_FULL_MAX];
	__u8 full_stuck[PASS_FULL_MAX];	/* ... whose queue has refused every frame for long */
	__u32 link_ifindex;	/* the last interface looked up, and what it was: */
	__u8 link_down;		/* no carrier (the agent said so) */
	__u8 link_refused;	/* its queue refused frames before ... */
	__u8 link_stuck;	/* ... for TKO_LINK_STUCK_NS: no path */
	__u8 pad;
};

/* The moment the session's state machine has something to do; 0: never. */
static __always_inline __u64 session_deadline(const struct tko_session *s)
{
	__u64 d, ts = ts_limit_ns(s);

	switch (s->state) {
	case TKO_LEARNING:
	case TKO_SUSPENDED:
		d = s->last_seen_ns + idle_ns(s);
		/* Nothing captured yet, or data still in flight: it looks
		 * again when it said it would (the peer's ACK of the data
		 * asks for a look at once). */
		if ((!(s->have & TKO_HAVE_SEQ) || ((s->notes & TKO_NOTE_WAITING) && in_flight(s))) &&
		    s->next_ns > d)
			d = s->next_ns;
		break;
	case TKO_ACTIVE:
		/* A probe a device's queue refused leaves when it can. */
		if (s->deferred)
			d = s->next_ns;
		else if (!s->cnt.unanswered)
			d = s->probe_ns + (__u64)s->cfg.interval_s * NSEC_PER_SEC;
		/* RFC 1122 4.2.3.6: one unanswered probe is never death; the
		 * first wait is the shorter of the two intervals. */
		else if (s->cnt.unanswered > 1)
			d = s->probe_ns + (__u64)s->cfg.retry_interval_s * NSEC_PER_SEC;
		else
			d = s->probe_ns + (__u64)(s->cfg.retry_interval_s < s->cfg.interval_s ?
						  s->cfg.retry_interval_s : s->cfg.interval_s) *
						 NSEC_PER_SEC;
		break;
	default:
		return 0;
	}
	return ts && ts < d ? ts : d;
}

/*
 * Session id's next deadline is d (ns): filed under its tick, unless it is
 * there already.
 */
static __always_inline void set_deadline(struct pass *P, struct tko_wheel_clock *w, __u32 id,
					 struct tko_session *s, __u64 d)
{
	__u64 tick = tick_of(d, P->tick_ns);

	s->next_ns = d;
	/* Never under a tick taken already, nor under the one being taken:
	 * its list was detached, and would wait a whole round of the ring. */
	if (tick <= w->tick || tick <= P->t)
		tick = (w->tick > P->t ? w->tick : P->t) + 1;
	if (!wheel_filed_under(s, tick))
		wheel_refile(id, s, tick, w);
}

/*
 * How long a forwarded flow that ended for this reason stays out: for good
 * (until a SYN) when the connection is over or its peer silent; a while
 * when only tko could not keep it (a link down, no path, the timestamp
 * limit): the flow may go on, and be offloaded again.
 */
static __always_inline __u64 closed_until(__u8 reason, __u64 now)
{
	if (reason == TKO_R_LINK_DOWN || reason == TKO_R_NO_PATH || reason == TKO_R_TS_LIMIT)
		return now + TKO_FLOW_RETRY_NS;
	return TKO_FLOW_CLOSED_FOREVER;
}

/* The session ends in the pass: reported, its entry freed at once. */
static __always_inline void pass_end(__u32 id, struct tko_session *s, __u8 state, __u8 type,
				     __u8 reason)
{
	if (!session_take(id, s, closed_until(reason, bpf_ktime_get_ns())))
		return;	/* ended meanwhile: its request frees the entry */
	set_state(s, state);
	s->next_ns = 0;
	if (type == TKO_EV_INVALIDATED)
		stat_inc(TKO_ST_INVALIDATED);
	session_event(id, type, reason);
	wheel_free(id, s);
}

/* --on-dead reset's RST handed to the stack (a congestion notice: queued). */
static __always_inline bool reset_sent(struct __sk_buff *skb, __u32 id, struct tko_session *s)
{
	int err;

	if (!session_path(skb, id, s))
		return false;
	err = send_frame(skb, id, 1);
	return !err || err == NET_XMIT_CN;
}

/*
 * Retries exhausted: report (why the last probe did not leave, if it did
 * not: no path, no carrier), reset the endpoint's connection if asked,
 * forget.
 */
static __always_inline void peer_dead(struct __sk_buff *skb, __u32 id, struct tko_session *s)
{
	__u8 reason = s->fail ?: TKO_R_RETRIES;

	if (!session_take(id, s, closed_until(reason, bpf_ktime_get_ns())))
		return;	/* ended meanwhile: its request frees the entry */
	set_state(s, TKO_PEER_DEAD);
	s->next_ns = 0;
	stat_inc(TKO_ST_PEER_DEAD);
	session_event(id, TKO_EV_PEER_DEAD, reason);
	/* --on-dead reset: the RST enters the stack as if from the peer, so a
	 * local socket fails now with ECONNRESET (and a device behind a gateway
	 * gets it forwarded). */
	if ((s->cfg.flags & TKO_F_ON_DEAD_RESET) && !reset_sent(skb, id, s))
		stat_inc(TKO_ST_EMIT_ERRORS);
	wheel_free(id, s);
}

/*
 * Can the session's interface carry a probe now? 0; TKO_R_LINK_DOWN (no
 * carrier); or -1 if its queue refused a frame in this pass (try the next
 * pass). P->link_stuck says whether that queue has refused every frame for
 * TKO_LINK_STUCK_NS: a refusal then is a probe lost (no path), not
 * deferred, and a dead link never holds the clock at a pass a tick; a
 * frame it takes again ends that. The last interface's answer is kept for
 * the sessions after it: most share one.
 */
static __always_inline int link_check(struct pass *P, __u32 ifindex)
{
	struct tko_iface *ifc;
	__u32 i;

	for (i = 0; i < PASS_FULL_MAX && i < P->nfull; i++)
		if (P->full[i] == ifindex) {
			P->link_stuck = P->full_stuck[i];
			return -1;
		}
	if (ifindex != P->link_ifindex) {
		ifc = bpf_map_lookup_elem(&ifaces, &ifindex);
		P->link_ifindex = ifindex;
		P->link_down = ifc && ifc->down;
		P->link_refused = ifc && ifc->refused_ns;
		P->link_stuck = ifc && ifc->refused_ns &&
				P->now - ifc->refused_ns >= TKO_LINK_STUCK_NS;
	}
	return P->link_down ? TKO_R_LINK_DOWN : 0;
}

/* What the device said of a probe, for its interface: taken, or refused. */
static __always_inline void link_took(struct pass *P, __u32 ifindex, bool took)
{
	struct tko_iface *ifc;
	__u32 n = P->nfull;

	if (took && !P->link_refused)
		return;
	ifc = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (took) {
		if (ifc)
			ifc->refused_ns = 0;
		P->link_refused = P->link_stuck = 0;
		return;
	}
	if (ifc && !ifc->refused_ns)
		ifc->refused_ns = P->now;
	P->link_refused = 1;
	if (n < PASS_FULL_MAX) {
		P->full[n & (PASS_FULL_MAX - 1)] = ifindex;
		P->full_stuck[n & (PASS_FULL_MAX - 1)] = P->link_stuck;
	}
	P->nfull = n + 1;
}

/* A probe that could not leave: lost, as far as the peer goes. */
static __always_inline void probe_lost(struct pass *P, struct tko_session *s, __u8 why)
{
	struct tko_iface *ifc;
	__u32 ifindex = s->ifindex;

	s->fail = why;
	stat_inc(TKO_ST_PROBES_NO_PATH);
	ifc = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (ifc)
		__sync_fetch_and_add(&ifc->probes_no_path, 1);
}

/*
 * A probe now, at SND.UNA - 1 (build_frame). One that cannot leave (no
 * path, no carrier, a device that refuses every frame) counts as lost: the
 * peer cannot be reached that way, and enough of them end the session,
 * with the reason. One a device's full queue did not take is tko's own
 * burst, not the peer: it counts neither way and leaves at a later pass
 * (false), that interface skipped for the rest of this one; its deadline,
 * and so its lateness, are kept. NET_XMIT_CN is a congestion notice: the
 * frame was queued (the noop qdisc of a link without carrier says it too,
 * but such a link is known down and never tried).
 */
static __always_inline bool send_probe(struct __sk_buff *skb, struct pass *P, __u32 id,
				       struct tko_session *s, __u64 due)
{
	int err, link;

	if (!session_path(skb, id, s)) {
		probe_lost(P, s, TKO_R_NO_PATH);
		goto done;
	}
	link = link_check(P, s->ifindex);
	if (link > 0) {
		probe_lost(P, s, link);
		goto done;
	}
	if (link < 0)
		goto refused;
	err = send_frame(skb, id, 0);
	if (err == NET_XMIT_DROP || err == -ENOBUFS) {
		link_took(P, s->ifindex, false);
		goto refused;
	}
	if (err && err != NET_XMIT_CN) {
		/* The interface went down or away: forget the path and let
		 * the agent find the new one. */
		stat_inc(TKO_ST_EMIT_ERRORS);
		__sync_fetch_and_and(&s->have, ~TKO_HAVE_L2);
		path_request(id, s);
		probe_lost(P, s, TKO_R_NO_PATH);
		goto done;
	}
	link_took(P, s->ifindex, true);
	s->fail = 0;
	__sync_fetch_and_add(&s->cnt.probes_sent, 1);
	stat_inc(TKO_ST_PROBES_SENT);
	if (P->now > due + P->tick_ns) {
		s->cnt.probes_late++;
		stat_inc(TKO_ST_PROBES_LATE);
	}
	goto done;
refused:
	if (!P->link_stuck) {
		stat_inc(TKO_ST_PROBES_DEFERRED);
		s->deferred = 1;
		return false;
	}
	probe_lost(P, s, TKO_R_NO_PATH);
done:
	s->deferred = 0;
	s->probe_ns = P->now;
	__sync_fetch_and_add(&s->cnt.unanswered, 1);
	return true;
}

/* Idle long enough, but not offloaded yet: said once per wait. */
static __always_inline void session_wait(__u32 id, struct tko_session *s, __u8 reason)
{
	if (session_note(s, TKO_NOTE_WAITING))
		session_event(id, TKO_EV_WAITING, reason);
}

/*
 * One step of the session's state machine, when its tick came.
 * LEARNING/SUSPENDED: become ACTIVE once idle_s passed without payload and
 * nothing is in flight, and probe at once. ACTIVE: probe every interval_s
 * while answered, every retry_interval_s while not, and declare the peer
 * dead after `retries` unanswered probes in a row. Traffic only stamps
 * last_seen_ns: a deadline that moved later is found here, and the session
 * filed again.
 */
__noinline int session_step(struct __sk_buff *skb, struct pass *P, __u32 id)
{
	struct tko_wheel_clock *w = wheel_clock();
	struct tko_session *s = session_get(id);
	__u64 due, ts;
	__u8 type;

	if (!skb || !P || !w || !s)
		return 0;
	if (s->state != TKO_LEARNING && s->state != TKO_SUSPENDED && s->state != TKO_ACTIVE)
		return 0;	/* ended: its request frees the entry */
	due = session_deadline(s);
	ts = ts_limit_ns(s);
	if (ts && ts <= P->now) {
		pass_end(id, s, TKO_STOPPED, TKO_EV_INVALIDATED, TKO_R_TS_LIMIT);
		return 0;
	}
	if (tick_of(due, P->tick_ns) > P->cur) {
		set_deadline(P, w, id, s, due);
		return 0;
	}
	/* A probe may leave up to a tick early (the tick's pass comes at its
	 * start); a change of state never comes early: the idle period and
	 * the answer wait are served in full, at the next tick if need be. */
	if (P->now < due && (s->state != TKO_ACTIVE || s->cnt.unanswered >= s->cfg.retries)) {
		set_deadline(P, w, id, s, due);
		return 0;
	}
	if (s->state == TKO_ACTIVE) {
		if (s->cnt.unanswered >= s->cfg.retries) {
			peer_dead(skb, id, s);
			return 0;
		}
		if (in_flight(s)) {
			/* Data went out as it went ACTIVE (the race of TC egress
			 * with this pass): not idle. */
			if (s->cfg.flags & TKO_F_ONESHOT) {
				pass_end(id, s, TKO_STOPPED, TKO_EV_INVALIDATED, TKO_R_IN_FLIGHT);
				return 0;
			}
			set_state(s, TKO_SUSPENDED);
			s->last_seen_ns = P->now;
			stat_inc(TKO_ST_SUSPENDED);
			session_event(id, TKO_EV_SUSPENDED, TKO_R_IN_FLIGHT);
			set_deadline(P, w, id, s, session_deadline(s));
			return 0;
		}
	} else if (!(s->have & TKO_HAVE_SEQ)) {
		session_wait(id, s, TKO_R_NO_TRAFFIC);
		set_deadline(P, w, id, s, P->now + idle_ns(s));
		return 0;
	} else if (in_flight(s)) {
		/* Never probe over data in flight, nor without knowing: look
		 * again a retry interval on, or as soon as the peer
		 * acknowledges it. */
		session_wait(id, s, s->have & TKO_HAVE_UNA ? TKO_R_IN_FLIGHT : TKO_R_NO_ACK);
		set_deadline(P, w, id, s, P->now + (__u64)s->cfg.retry_interval_s * NSEC_PER_SEC);
		return 0;
	} else {
		type = s->state == TKO_LEARNING ? TKO_EV_OFFLOADED : TKO_EV_RESUMED;
		set_state(s, TKO_ACTIVE);
		if (s->notes & TKO_NOTE_WAITING)
			__sync_fetch_and_and(&s->notes, ~TKO_NOTE_WAITING);
		__sync_lock_test_and_set(&s->cnt.unanswered, 0);
		s->next_ns = P->now;
		session_event(id, type, TKO_R_IDLE);
		due = P->now;	/* the first probe is due now */
	}
	if (send_probe(skb, P, id, s, due))
		set_deadline(P, w, id, s, session_deadline(s));
	else
		set_deadline(P, w, id, s, due);	/* the next pass; its deadline kept */
	return 0;
}

/* 1. One request of the other programs. */
static long request_cb(__u64 i, struct pass *P)
{
	struct tko_wheel_clock *w = wheel_clock();
	struct tko_session *s;
	__u32 id;

	if (!w || bpf_map_pop_elem(&requests, &id))
		return 1;
	s = session_get(id);
	if (!s)
		return 0;
	sched_request_taken(s);
	switch (s->state) {
	case TKO_FREE:
	case TKO_CREATING:
		return 0;	/* for an earlier user of the entry, or too early */
	case TKO_STOPPED:
		wheel_free(id, s);
		return 0;
	}
	set_deadline(P, w, id, s, session_deadline(s));
	return 0;
}

/* 2. One step of moving level 1 down (wheel_cascade_step()). */
static long move_cb(__u64 i, struct pass *P)
{
	struct tko_wheel_clock *w = wheel_clock();

	return !w || !wheel_cascade_step(w, P->cur);
}

/* What the callback of step 3 gets: the pass, and the carrier to send on. */
struct take {
	struct __sk_buff *skb;
	struct pass *P;
};

/*
 * 3. One step of taking the ticks that came: the next session of the list
 * being taken, or the next tick's list, detached whole (chain_detach()).
 * What the budget leaves of it goes back after the loop.
 */
static long take_cb(__u64 i, struct take *T)
{
	struct pass *P = T->P;
	struct tko_wheel_clock *w = wheel_clock();
	__u32 ref;

	if (!w || !P->budget)
		return 1;
	if (!P->chain.head) {
		if (P->t >= P->last)
			return 1;
		P->t++;
		if (!chain_detach(&P->chain, level0_list(P->t)))
			w->tick = P->t;
		return 0;
	}
	ref = chain_pop(&P->chain);
	if (!ref)
		return 0;
	P->budget--;
	session_step(T->skb, P, id_of(ref));
	if (!P->chain.head)
		w->tick = P->t;
	return 0;
}

/* 4. The hold: the first tick ahead whose list has sessions. */
static long scan_cb(__u64 i, struct pass *P)
{
	if (wheel_list_empty(level0_list(P->cur + 1 + i)))
		return 0;
	P->found = P->cur + 1 + i;
	return 1;
}

/*
 * The carrier's length for the next pass: the time until the start of the
 * next tick with work, in bytes of the qdisc's budget. Never shorter than its
 * header, never longer than TKO_CARRIER_HOLD_MAX_MS.
 */
static __always_inline __u32 hold_len(struct pass *P, struct tko_wheel_clock *w,
				      __u32 tick_bytes)
{
	__u64 max = tko_hold_max_ticks(P->tick_ns / NSEC_PER_MSEC, tick_bytes), limit, target,
	      hold;
	__u32 dummy;

	if (!max)
		max = 1;
	limit = max;
	/* Work left, requests waiting, level 1 moving: the next tick. */
	if (w->tick < P->cur || w->moving || !bpf_map_peek_elem(&requests, &dummy)) {
		limit = 1;
	} else if (w->cascade <= P->cur + TKO_WHEEL_SPAN + limit) {
		/* Level 1 starts moving at cascade - span: be there. */
		limit = w->cascade > P->cur + TKO_WHEEL_SPAN ?
			w->cascade - TKO_WHEEL_SPAN - P->cur : 1;
	}
	P->found = 0;
	if (limit > 1)
		bpf_loop(limit, scan_cb, P, 0);
	target = P->found ? P->found : P->cur + limit;
	hold = target * P->tick_ns > P->now ? target * P->tick_ns - P->now : 0;
	hold = (hold * tick_bytes + P->tick_ns - 1) / P->tick_ns;
	if (hold < sizeof(struct tko_carrier_hdr))
		hold = sizeof(struct tko_carrier_hdr);
	if (hold > max * tick_bytes)
		hold = max * tick_bytes;
	w->hold_ns = hold * P->tick_ns / tick_bytes;
	w->target_ns = P->now + w->hold_ns;
	return hold;
}

/* The clock's work for this pass; the carrier's next length. */
static __always_inline __u32 clock_pass(struct __sk_buff *skb, struct tko_carrier_state *c,
					struct tko_wheel_clock *w)
{
	struct pass P = { .now = bpf_ktime_get_ns(), .budget = TKO_PASS_SESSIONS };
	struct take T = { .skb = skb, .P = &P };

	P.tick_ns = c->tick_ns ? c->tick_ns : TKO_TICK_MS_DEFAULT * NSEC_PER_MSEC;
	P.cur = P.now / P.tick_ns;
	w->drift_ns = (__s64)(P.now - w->target_ns);
	if (!w->cascade || P.cur < w->tick)
		wheel_start(w, P.cur);	/* the first pass */
	bpf_loop(TKO_PASS_REQUESTS, request_cb, &P, 0);
	bpf_loop(TKO_PASS_MOVES, move_cb, &P, 0);

	/* Late by more than the ring (a carrier lost for minutes): every list
	 * once, whatever its tick, then the clock is at now. */
	P.t = w->tick;
	P.last = P.cur - w->tick > TKO_WHEEL_L0 ? w->tick + TKO_WHEEL_L0 : P.cur;
	bpf_loop(TKO_WHEEL_L0 + TKO_PASS_SESSIONS + 1, take_cb, &T, 0);
	if (P.chain.head)
		chain_putback(&P.chain, level0_list(P.t));
	if (P.last < P.cur && w->tick == P.last)
		w->tick = P.cur;
	if (w->tick < P.cur)
		stat_inc(TKO_ST_BACKLOG);
	return hold_len(&P, w, c->tick_bytes ? c->tick_bytes : TKO_CARRIER_LEN);
}

SEC("tc")
int tko_carrier(struct __sk_buff *skb)
{
	struct tko_carrier_hdr hdr;
	struct tko_carrier_state *c;
	struct tko_wheel_clock *w;
	__u32 zero = 0, len;

	/* tko1 is private: anything but the current carrier is dropped. */
	if (bpf_skb_load_bytes(skb, 0, &hdr, sizeof(hdr)) ||
	    hdr.proto != bpf_htons(TKO_CARRIER_ETHERTYPE) ||
	    hdr.magic != bpf_htonl(TKO_CARRIER_MAGIC))
		return TC_ACT_SHOT;
	c = bpf_map_lookup_elem(&carrier, &zero);
	w = wheel_clock();
	if (!c || !w || hdr.generation != c->generation || !c->loop_ifindex)
		return TC_ACT_SHOT;	/* a stale carrier: the agent re-injected */
	c->passes++;
	c->last_pass_ns = bpf_ktime_get_ns();
	stat_inc(TKO_ST_CARRIER_PASSES);
	watchdog_kick();

	/* One pass at a time: a re-injected carrier may overlap the old one
	 * (it comes back a tick later). */
	len = c->tick_bytes ? c->tick_bytes : TKO_CARRIER_LEN;
	if (!__sync_val_compare_and_swap(&w->busy, 0, 1)) {
		len = clock_pass(skb, c, w);
		w->hold_len = len;
		__sync_lock_test_and_set(&w->busy, 0);
	}

	/* Restore the carrier and send it round again: its header, then
	 * zeros up to the hold's length (bpf_skb_change_tail() zeroes what it
	 * grows), so that no probe's bytes go round with it. */
	if (bpf_skb_change_tail(skb, sizeof(hdr), 0) ||
	    bpf_skb_store_bytes(skb, 0, &hdr, sizeof(hdr), 0) ||
	    bpf_skb_change_tail(skb, len, 0))
		return TC_ACT_SHOT;	/* lost: the agent's watchdog re-injects */
	skb->mark = 0;
	return bpf_redirect(c->loop_ifindex, 0);
}

/*
 * tko1's XDP program lets every frame pass: it is there for what its
 * presence does. veth hands a frame to a peer that runs XDP through that
 * peer's own NAPI ring, and to any other through the CPU's backlog, which
 * every veth and netif_rx() on the CPU share (netdev_max_backlog frames).
 * A pass that sends thousands of probes at once (sessions all due after a
 * burst, or after a stall) fills that backlog; on it, the carrier itself
 * would be dropped next, and the clock would stop until the watchdog
 * re-injects it, with even more due then. On tko1's own ring it only ever
 * meets itself.
 */
SEC("xdp.frags")	/* the carrier is up to TKO_CARRIER_MAX_FRAME long: tko1's MTU */
int tko_carrier_rx(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
