/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Structures shared by the BPF datapath and userspace. They are also what
 * `bpftool map dump pinned /sys/fs/bpf/tko/<map>` prints, so every field is
 * fixed-width, explicitly padded and named for a human reading a dump.
 */
#ifndef TKO_TYPES_H
#define TKO_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <linux/bpf.h>
#endif

#define TKO_MAX_SESSIONS_DEFAULT 65536
/* Session ids live in 24 bits of an index entry (see struct tko_bucket). */
#define TKO_MAX_SESSIONS_LIMIT	 ((1u << 24) - 1)
#define TKO_EVENT_LOG_LEN	 1024	/* power of two */
#define TKO_RINGBUF_BYTES	 (256 * 1024)
#define TKO_SIGNAL_RING_BYTES	 (64 * 1024)

/*
 * The carrier watchdog (a BPF timer the carrier pushes back at every pass)
 * fires when no pass came for this long: longer than the longest hold
 * (TKO_CARRIER_HOLD_MAX_MS) twice over, at least four ticks.
 */
#define TKO_WATCHDOG_MS		 2500

/* skb->mark of frames tko forged itself, so TC egress skips them. */
#define TKO_MARK 0x746b6f00	/* "tko\0" */

/*
 * Answers to the peer's probes allowed per session per second: a peer probes
 * at most once per second per RFC 1122 practice; anything above a small burst
 * is somebody trying to use tko as a reflector.
 */
#define TKO_ANSWER_BURST 4

/*
 * The carrier (docs/architecture.md): one frame circulating through a private
 * veth pair; each pass runs the clock and emits the probes that are due. Its
 * EtherType is the IEEE 802 local experimental one, so it can never be
 * mistaken for traffic. The qdisc lets tko_carrier_state.tick_bytes through
 * per tick, so the frame's length is the time to the next pass: the
 * carrier program sets it to end that hold at the start of the next tick
 * with work, TKO_CARRIER_HOLD_MAX_MS at most.
 */
#define TKO_CARRIER_ETHERTYPE	0x88B5
#define TKO_CARRIER_MAGIC	0x746b6f63	/* "tkoc" */
#define TKO_CARRIER_LEN		64	/* the frame the agent injects */
/* The longest hold, in bytes: at TC ingress bpf_skb_change_tail() grows a
 * frame to SKB_MAX_ALLOC at most (16 KiB less the skb's own overhead). */
#define TKO_CARRIER_MAX_FRAME	16000
#define TKO_CARRIER_HOLD_MAX_MS	1000
#define TKO_TICK_MS_DEFAULT	5

/*
 * Bytes per tick: as many as the longest hold fits in the longest frame, and
 * at least TKO_CARRIER_LEN, so that the shortest frame (its header) is a
 * fraction of a tick. Below a 4 ms tick the longest hold is then shorter
 * than TKO_CARRIER_HOLD_MAX_MS (250 ms at 1 ms).
 */
static inline __u32 tko_tick_bytes(__u32 tick_ms)
{
	__u32 ticks = tick_ms < TKO_CARRIER_HOLD_MAX_MS ? TKO_CARRIER_HOLD_MAX_MS / tick_ms : 1;
	__u32 b = TKO_CARRIER_MAX_FRAME / ticks;

	return b > 1024 ? 1024 : b < TKO_CARRIER_LEN ? TKO_CARRIER_LEN : b;
}

/* The longest hold, in ticks. */
static inline __u32 tko_hold_max_ticks(__u32 tick_ms, __u32 tick_bytes)
{
	__u32 ticks = tick_ms < TKO_CARRIER_HOLD_MAX_MS ? TKO_CARRIER_HOLD_MAX_MS / tick_ms : 1;

	return ticks * tick_bytes > TKO_CARRIER_MAX_FRAME ? TKO_CARRIER_MAX_FRAME / tick_bytes :
							     ticks;
}

/* Work of one pass at most: sessions whose time came, requests, level-1 moves. */
#define TKO_PASS_SESSIONS	8192
#define TKO_PASS_REQUESTS	16384
#define TKO_PASS_MOVES		2048

/*
 * The timing wheel (bpf/lib/wheel.h): level 0 has one list per tick for the
 * next 2 * TKO_WHEEL_SPAN ticks at most, level 1 one list per TKO_WHEEL_SPAN
 * ticks beyond (82 to 164 s, then about 7.8 days, at the default tick).
 */
#define TKO_WHEEL_SPAN		16384
#define TKO_WHEEL_L0		(2 * TKO_WHEEL_SPAN)
#define TKO_WHEEL_L1		8192
#define TKO_WHEEL_LISTS		(TKO_WHEEL_L0 + TKO_WHEEL_L1)

/* Limits of the time options, in whole seconds. */
#define TKO_TIME_MIN 1
#define TKO_TIME_MAX (7 * 24 * 3600)
#define TKO_RETRIES_MAX 255

enum tko_family {
	TKO_AF_INET = 2,	/* AF_INET */
	TKO_AF_INET6 = 10,	/* AF_INET6 */
};

/* Session lifecycle (docs/architecture.md). */
enum tko_state {
	TKO_FREE = 0,		/* an unused entry of the session table */
	TKO_LEARNING = 1,	/* registered; state captured from traffic, waiting for idle */
	TKO_ACTIVE = 2,		/* idle: tko answers and sends keepalives */
	TKO_SUSPENDED = 3,	/* traffic seen; re-arms after the next idle period */
	TKO_PEER_DEAD = 4,	/* retries exhausted */
	TKO_STOPPED = 5,	/* ended (request, FIN, RST, ...): the carrier frees the entry */
	TKO_CREATING = 6,	/* being created: not yet visible to the datapath */
};
#define TKO_STATE_MAX TKO_CREATING

/*
 * RFC 7323 5.3: a forged TSval must never exceed what the endpoint itself
 * sends later, or the peer's PAWS check drops the endpoint's segments.
 */
enum tko_ts_clock {
	TKO_TS_CLOCK_LAST = 0,	/* reuse the endpoint's last TSval (forwarded sessions) */
	TKO_TS_CLOCK_MS = 1,	/* local socket: TCP clock in ms + tsoffset, as the kernel */
	TKO_TS_CLOCK_US = 2,	/* local socket with usec timestamps (tcp_usec_ts) */
};

/*
 * Both probe at SND.UNA - 1 (tcp_xmit_probe_skb): a sequence number the peer
 * has acknowledged, so that it answers with an ACK whatever its state, and
 * the byte of a byte probe is one the peer already has and discards.
 */
enum tko_probe_style {
	TKO_PROBE_ZERO = 0,	/* ACK, seq = SND.UNA - 1, no payload (Linux style) */
	TKO_PROBE_BYTE = 1,	/* ACK, seq = SND.UNA - 1, one garbage byte (BSD style) */
};

/* tko_session.flags */
enum {
	TKO_F_ONESHOT = 1 << 0,		/* end the session on the first suspension */
	TKO_F_STATE_GIVEN = 1 << 1,	/* sequence state supplied with --state */
	TKO_F_ON_DEAD_RESET = 1 << 2,	/* reset the endpoint's connection when the peer is dead */
	TKO_F_FORWARDED = 1 << 3,	/* a forwarded flow a policy made a session (TC) */
	/* Wake the endpoint (a magic packet, the agent's --on-wake-exec) when
	 * its peer sends data or FIN while it may be asleep (bpf/lib/wake.h). */
	TKO_F_WAKE = 1 << 4,
};

/* tko_session.have: what has been captured so far. */
enum {
	TKO_HAVE_SEQ = 1 << 0,	/* snd_nxt, rcv_nxt, window */
	TKO_HAVE_L2 = 1 << 1,	/* ifindex and MAC addresses */
	TKO_HAVE_TS = 1 << 2,	/* the session uses RFC 7323 timestamps */
	/* snd_una is known: from the kernel's tcp_sock, the handed-over
	 * state, or the peer's acknowledgments. Only then can tko tell that
	 * nothing is in flight, and only then may the session go ACTIVE. */
	TKO_HAVE_UNA = 1 << 3,
	/* snd_nxt was learned from segments without payload alone: it may be
	 * one short (the endpoint's own keepalive sits at SND.NXT - 1), which
	 * the peer's acknowledgment tells. */
	TKO_HAVE_BARE = 1 << 4,
	/* wake_mac (and wake_ifindex, 0: every wake interface) are known:
	 * given (--wake MAC) or learned from the endpoint's forwarded segments. */
	TKO_HAVE_WAKE = 1 << 5,
};

/*
 * tko_session.notes: what was reported once for the session, and what it
 * found (set with atomic OR by any program: the first to set a bit reports).
 */
enum {
	TKO_NOTE_WAITING = 1 << 0,	/* the current wait was reported (event waiting) */
	TKO_NOTE_CT_SEEN = 1 << 1,	/* the gateway's conntrack entry was found once */
	TKO_NOTE_CT_MISSING = 1 << 2,	/* ... and then missing: reported */
	TKO_NOTE_DECLINED_TS = 1 << 3,	/* a probe declined: timestamps mismatch */
	TKO_NOTE_DECLINED_SIGNED = 1 << 4, /* a probe declined: MD5/AO signature */
	TKO_NOTE_REWRITE = 1 << 5,	/* an answer could not be written */
	TKO_NOTE_WAKE_UNKNOWN = 1 << 6,	/* the endpoint's MAC could not be learned: reported */
	TKO_NOTE_WAKE_FAILED = 1 << 7,	/* a wake could not be sent: reported */
};

enum tko_event_type {
	TKO_EV_OFFLOADED = 1,	/* LEARNING -> ACTIVE */
	TKO_EV_SUSPENDED = 2,	/* ACTIVE -> SUSPENDED */
	TKO_EV_RESUMED = 3,	/* SUSPENDED -> ACTIVE */
	TKO_EV_INVALIDATED = 4,	/* the session ended because of traffic (FIN, RST, SYN) */
	TKO_EV_PEER_DEAD = 5,
	TKO_EV_STOPPED = 6,	/* ended by `tko stop` */
	TKO_EV_STARTED = 7,	/* registered by `tko start` or a policy */
	TKO_EV_REFUSED = 8,	/* could not be registered (or kept): the reason says why */
	/* Idle long enough, yet not offloaded: the reason says what it waits
	 * for (data in flight, no segment seen). Once per wait. */
	TKO_EV_WAITING = 9,
	/* Kept, but not as it should be: the reason says what failed (a
	 * conntrack entry gone, a probe tko could not answer). Once per
	 * session and reason. */
	TKO_EV_WARNING = 10,
	/* The peer spoke to an endpoint that may be asleep, and tko woke it
	 * (a magic packet left, or the wake hook ran): the reason says what
	 * the peer sent. */
	TKO_EV_WAKE = 11,
};

enum tko_reason {
	TKO_R_NONE = 0,
	TKO_R_REQUEST = 1,	/* start/stop asked for it */
	TKO_R_IDLE = 2,		/* the idle period elapsed */
	TKO_R_DATA_LOCAL = 3,	/* payload from the offloaded endpoint */
	TKO_R_DATA_PEER = 4,	/* payload from the peer */
	TKO_R_FIN_LOCAL = 5,
	TKO_R_FIN_PEER = 6,
	TKO_R_RST_LOCAL = 7,
	TKO_R_RST_PEER = 8,
	TKO_R_SYN_LOCAL = 9,	/* a new connection reused the tuple */
	TKO_R_DRIFT = 10,	/* endpoint's segment disagrees with the table */
	TKO_R_RETRIES = 11,	/* probes went unanswered */
	TKO_R_POLICY = 12,	/* a policy matched a new local socket or forwarded flow */
	TKO_R_CLOSED = 13,	/* the local socket left ESTABLISHED (close, reset) */
	TKO_R_TABLE_FULL = 14,	/* refused: every entry of the session table is in use */
	TKO_R_INDEX_FULL = 15,	/* refused: both index buckets of the tuple are full */
	TKO_R_BUSY = 16,	/* refused: the carrier's request queue did not take it */
	TKO_R_IN_FLIGHT = 17,	/* data sent and not acknowledged (SND.UNA != SND.NXT) */
	TKO_R_NO_PATH = 18,	/* the probes could not leave (no path, a device refusing them) */
	TKO_R_LINK_DOWN = 19,	/* the probes' link has no carrier */
	TKO_R_ROUTE = 20,	/* its route leaves through an interface tko is not on */
	TKO_R_TS_LIMIT = 21,	/* the endpoint's clock may be 2^30 ticks past tko's TSval */
	TKO_R_NO_TRAFFIC = 22,	/* no segment of it seen: nothing to learn its state from */
	TKO_R_CT_MISSING = 23,	/* the gateway's conntrack entry of the flow is gone */
	TKO_R_TS_MISMATCH = 24,	/* a probe with(out) TSopt on a session without (with) it */
	TKO_R_SIGNED = 25,	/* a probe with an MD5/AO signature: tko cannot sign */
	TKO_R_REWRITE = 26,	/* an answer could not be written over the probe */
	TKO_R_NO_ACK = 27,	/* no acknowledgment of the peer's seen yet: SND.UNA unknown */
	/* --wake auto, and the endpoint's MAC could not be learned (its
	 * segments did not come in through a wake interface, it is not on
	 * that link, no neighbour entry): only the wake hook can wake it. */
	TKO_R_WAKE_UNKNOWN = 28,
	TKO_R_WAKE_FAILED = 29,	/* a wake could not be sent (or its hook failed) */
};

/*
 * Session key. "local" is the offloaded endpoint, "remote" its peer.
 * Addresses are in network byte order (IPv4 in the first four bytes, the
 * rest zero); ports are in host byte order so that dumps are readable.
 */
struct tko_key {
	__u8 family;		/* enum tko_family */
	__u8 pad[3];
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
} __attribute__((aligned(8)));	/* hashed as five 64-bit words (include/tko_hash.h) */

/* Configuration of a session, as given to `tko start`. */
struct tko_config {
	__u32 idle_s;		/* idle time before the offload takes over */
	__u32 interval_s;	/* between answered probes */
	__u32 retry_interval_s;	/* after an unanswered probe */
	__u32 retries;		/* unanswered probes before PEER_DEAD */
	__u8 probe;		/* enum tko_probe_style */
	__u8 flags;		/* TKO_F_* */
	/* With TKO_F_WAKE: the endpoint's MAC, given (--wake MAC); all zero:
	 * learned from its segments (--wake auto). */
	__u8 wake_mac[6];
};

/*
 * TCP state of the offloaded endpoint, in its own terms (RFC 9293 names).
 * window is the raw 16-bit field the endpoint last advertised (already
 * scaled down by wscale); ts_val is the endpoint's last TSval and ts_ecr the
 * peer's last TSval (TS.Recent) that the endpoint echoed.
 */
struct tko_tcp_state {
	__u32 snd_una;		/* TKO_HAVE_UNA: the first byte not acknowledged */
	__u32 snd_nxt;
	__u32 rcv_nxt;
	__u32 ts_val;
	__u32 ts_ecr;
	__u16 window;
	__u8 wscale;
	__u8 ts_clock;		/* enum tko_ts_clock: where forged TSvals come from */
	__u32 ts_offset;	/* a local socket's tsoffset (TKO_TS_CLOCK_MS/US) */
};

/* Counters carried in the session and in every event (the handoff state). */
struct tko_counters {
	__u32 probes_sent;		/* our probes forged */
	__u32 probes_answered;		/* peer's answers to them consumed */
	__u32 peer_probes_answered;	/* peer's probes answered by tko */
	__u32 unanswered;		/* our probes currently unanswered */
	__u32 answers_limited;		/* peer probes not answered: rate limit */
	__u32 probes_late;		/* probes that left more than a tick after their time */
};

/*
 * The clock's part of a session (bpf/lib/wheel.h). Only the carrier pass
 * writes it, except req and l2_req, which any program sets (atomically) to
 * queue the session for the carrier or for the agent. Creating a session
 * never touches it: a request queued for the previous user of the entry
 * stays valid (the carrier looks at whatever the entry holds now).
 */
struct tko_clock {
	__u64 due_tick;		/* the tick the session is filed under */
	__u32 list;		/* wheel list it is on + 1, 0 if none */
	__u32 next;		/* neighbours on that list: id + 1, 0 if none */
	__u32 prev;
	__u32 req;		/* 1 while the id waits in the carrier's request queue */
	__u32 l2_req;		/* 1 while the id waits in the agent's path queue */
	__u32 pad;
};

/*
 * One entry of the session table, an array indexed by session id. The
 * index (struct tko_bucket) finds a tuple's id; state TKO_FREE marks an
 * unused entry.
 *
 * Laid out for the answer path (bpf/lib/answer.h): what it reads and writes
 * to answer a peer's probe is in the first 128 bytes, two cache lines
 * fetched together (the table is page-aligned, BPF_F_MMAPABLE, and an entry
 * is five whole lines); the rest is for the clock, learning and reports.
 * TKO_SESSION_HOT and the static assertions below keep it so.
 */
struct tko_session {
	/* hot: the answer path */
	struct tko_key key;
	struct tko_tcp_state tcp;
	__u8 state;		/* enum tko_state */
	__u8 prev_state;	/* state before the last transition */
	__u8 endpoint_probe;	/* the endpoint's own keepalive awaits its answer */
	__u8 fail;		/* why the last probe did not leave (enum tko_reason), 0 if it did */
	__u32 have;		/* TKO_HAVE_* (set and cleared atomically: several programs learn) */
	__u32 notes;		/* TKO_NOTE_* */
	/*
	 * What the endpoint's own segments carry in the IP header and tko's
	 * must carry too (flow-label ECMP, DSCP queues): the traffic class
	 * (IPv6) or TOS (IPv4) with its ECN bits cleared, << 20, | the IPv6
	 * flow label. Learned at TC egress; 0 until a segment was seen.
	 */
	__u32 flowinfo;
	__u32 answers_in_window;
	__u64 answer_window_ns;	/* start of the current rate-limit second */
	struct tko_counters cnt;
	__u64 ct_refresh_ns;	/* its conntrack entry's last refresh (bpf/lib/conntrack.h) */
	/* cold */
	struct tko_config cfg;
	__u32 ifindex;		/* egress interface towards the peer */
	__u8 lmac[6];		/* source MAC of the endpoint's frames */
	__u8 rmac[6];		/* their destination MAC (peer or next hop) */
	__u16 vlan_tci;		/* 802.1Q tag of the endpoint's frames (host order), 0: none */
	__u16 vlan_proto;	/* its TPID, network order (0x8100, 0x88a8) */
	__u16 policy;		/* id of the policy that created it, 0 for tko start */
	__u16 policy_gen;	/* that policy's generation (tko_policy.gen) */
	__u8 deferred;		/* the probe due at next_ns waits for a device's full queue */
	__u8 wakes;		/* wakes sent in the current episode (bpf/lib/wake.h) */
	__u8 pad[2];
	/*
	 * The endpoint's timestamp clock, for a session whose TSvals are the
	 * endpoint's own (TKO_TS_CLOCK_LAST): tko resends its last TSval, and
	 * ends the session before the endpoint's clock can be 2^30 ticks past
	 * it (RFC 7323 5.5), which its rate tells.
	 */
	__u32 ts_first_val;	/* the first TSval seen ... */
	__u32 ts_first_ms;	/* ... and when: ms after started_ns */
	__u32 ts_hz;		/* the clock's rate, an upper bound (ticks/s); 0: not known */
	/*
	 * Waking the endpoint (TKO_F_WAKE): its MAC, where it is (TKO_HAVE_WAKE),
	 * and the episode: since when the peer's data waits for an endpoint
	 * that has not spoken (0: none waits), the last wake.
	 */
	__u32 wake_ifindex;	/* the interface it is on; 0: every wake interface */
	__u8 wake_mac[6];
	__u8 pad2[2];
	/* its own address (behind the gateway's NAT: conntrack's), once
	 * learned with its MAC; the key's local address until then */
	__u8 wake_addr[16];
	__u8 pad3[4];
	__u64 wake_since_ns;
	__u64 wake_ns;
	__u64 ts_seen_ns;	/* when tcp.ts_val was first seen */
	__u64 started_ns;	/* CLOCK_MONOTONIC */
	__u64 last_seen_ns;	/* last payload/SYN/FIN in either direction */
	__u64 next_ns;		/* the session's next deadline */
	__u64 probe_ns;		/* when our last probe left */
	__u32 index_pos;	/* where the index holds it: bucket * TKO_BUCKET_SLOTS + slot */
	__u32 index_entry;	/* what it holds there */
	struct tko_clock clock;	/* last: the carrier's alone (bpf/lib/table.h, session_clear) */
};

#define TKO_SESSION_HOT 128	/* bytes: what the answer path touches */
_Static_assert(__builtin_offsetof(struct tko_session, cfg) == TKO_SESSION_HOT,
	       "the answer path's fields fill the first two cache lines, no more");
_Static_assert(sizeof(struct tko_session) % 64 == 0,
	       "a session is whole cache lines: every entry starts on one");

/*
 * The index of the session table: a tuple hashes to two buckets (struct
 * tko_table.seed, include/tko_hash.h) and its session is in the less full
 * one when created. An entry is tag << 24 | (id + 1), 0 when free; the tag
 * (8 more bits of the hash) spares most comparisons of whole tuples.
 */
#define TKO_BUCKET_SLOTS 16
struct tko_bucket {
	__u32 slot[TKO_BUCKET_SLOTS];
};

/* Entry 0 of the `table` array: the session table's geometry and allocator. */
struct tko_table {
	__u64 seed;		/* of the tuple hash: random, set once at load */
	__u32 buckets;		/* index buckets, a power of two */
	__u32 max_sessions;	/* entries of the session table */
	__u32 fresh;		/* ids below this were handed out once; the rest never */
	__u32 creating;		/* 1 while a session is put in the index (session_publish) */
};

/* One lifecycle change, sent on the ring buffer and kept in event_log. */
struct tko_event {
	__u64 seq;		/* 1, 2, ...: position in event_log */
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	struct tko_key key;
	__u8 type;		/* enum tko_event_type */
	__u8 reason;		/* enum tko_reason */
	__u8 state;		/* state after the change */
	__u8 pad;
	__u32 next_probe_ms;	/* time left to the next deadline, 0 if none */
	struct tko_tcp_state tcp;
	struct tko_counters cnt;
};

/* `ev_stats` (per-CPU) counts events by type and reason: index type * 32 + reason. */
#define TKO_REASONS_MAX	32
#define TKO_EVENTS_MAX	16
#define TKO_EV_STATS_LEN (TKO_EVENTS_MAX * TKO_REASONS_MAX)

/* Global counters: index into the per-CPU `stats` array. */
enum tko_stat {
	TKO_ST_XDP_SEEN = 0,		/* TCP frames of a known session at XDP */
	TKO_ST_PEER_PROBES_ANSWERED,
	TKO_ST_ANSWERS_LIMITED,
	TKO_ST_TC_SEEN,			/* TCP frames of a known session at TC */
	TKO_ST_SUSPENDED,
	TKO_ST_INVALIDATED,
	TKO_ST_EVENTS,
	TKO_ST_EVENTS_LOST,		/* ring buffer full */
	TKO_ST_OFF_PATH,		/* segments with wrong seq/ack, ignored */
	TKO_ST_PROBES_LATE,		/* left more than a tick after their time */
	TKO_ST_PROBES_SENT,		/* handed to the device by the carrier */
	TKO_ST_PROBES_ANSWERED,		/* peer's answers consumed at XDP */
	TKO_ST_BACKLOG,			/* passes that left due sessions for the next one */
	TKO_ST_EMIT_ERRORS,		/* probes and resets the device did not take */
	TKO_ST_PEER_DEAD,
	TKO_ST_CARRIER_PASSES,
	TKO_ST_REFUSED_TABLE_FULL,	/* sessions not created: no free entry */
	TKO_ST_REFUSED_INDEX_FULL,	/* sessions not created: the tuple's buckets are full */
	TKO_ST_REFUSED_BUSY,		/* sessions not created: request queue refused */
	TKO_ST_PATH_REQUESTS,		/* sessions queued for the agent to find their path */
	TKO_ST_REQUESTS_LOST,		/* a queue refused an id (never expected: counted) */
	TKO_ST_CARRIER_STALLS,		/* the watchdog found no carrier pass for its period */
	/* The gateway's own conntrack entry of a flow tko kept alive (bpf/lib/conntrack.h): */
	TKO_ST_CT_REFRESHED,		/* found ESTABLISHED, its timeout set anew */
	TKO_ST_CT_MISSING,		/* no entry (no conntrack on the path, or it expired) */
	TKO_ST_CT_UNCHANGED,		/* found, left alone: not ESTABLISHED, or a fixed timeout */
	/* Answers to the peers' probes by path (they add up to PEER_PROBES_ANSWERED). */
	TKO_ST_ANSWERS_XDP,		/* XDP_TX, less those the driver reported dropped */
	TKO_ST_ANSWERS_TC,		/* TC ingress: taken by the device (bpf_clone_redirect) */
	TKO_ST_ANSWERS_LOST,		/* XDP_TX answers the driver dropped (uncounted above) */
	TKO_ST_ANSWER_ERRORS,		/* TC answers the device did not take */
	TKO_ST_FLOWS_TRACKED,		/* forwarded flows a policy made sessions */
	TKO_ST_PROBES_DEFERRED,		/* a device's full queue refused them: sent later */
	TKO_ST_PROBES_NO_PATH,		/* could not leave (no path, no carrier): unanswered */
	TKO_ST_PEER_OUT_OF_ORDER,	/* the peer's in-window segments not at RCV.NXT */
	TKO_ST_ANSWERS_DECLINED,	/* peer probes tko cannot answer (TSopt, MD5/AO) */
	TKO_ST_REWRITE_ERRORS,		/* answers that could not be written over the probe */
	/* Waking endpoints (TKO_F_WAKE), as the agent did it (tko_wake_done): */
	TKO_ST_WAKES_SENT,		/* wakes whose magic packets a device took */
	TKO_ST_WAKES_FAILED,		/* wakes that could not be sent at all */
	TKO_ST_WAKE_HOOKS,		/* wake hooks (--on-wake-exec) that exited 0 */
	TKO_ST_WAKE_HOOKS_FAILED,	/* ... that failed, timed out or could not start */
	TKO_ST_MAX,
};

#define TKO_MAX_IFACES 16

/*
 * How the peers' probes are answered on an interface (docs/architecture.md,
 * "Answers on every link"). XDP_TX is the fast path, but it is delivered
 * only where the driver transmits it itself: veth hands XDP_TX frames to its
 * peer only while the peer runs XDP (or NAPI), and drops them otherwise. On
 * such links the answer is forged at TC ingress and sent with
 * bpf_clone_redirect() to the device's egress, which says whether the
 * device took it.
 */
enum tko_answer_path {
	TKO_ANSWER_XDP = 0,	/* XDP_TX from tko_xdp_ingress (the default) */
	TKO_ANSWER_TC = 1,	/* tko_xdp_ingress passes probes; tko_tc_ingress answers */
};

/* Why an interface answers the way it does (struct tko_iface.why). */
enum tko_answer_why {
	TKO_WHY_DRIVER = 0,	/* auto: the driver transmits XDP_TX itself */
	TKO_WHY_GENERIC = 1,	/* auto: generic XDP, whose XDP_TX goes through the stack */
	TKO_WHY_VETH = 2,	/* auto: veth delivers XDP_TX only if its peer runs XDP */
	TKO_WHY_FORCED = 3,	/* tko agent --answers xdp|tc */
	TKO_WHY_XDP_LOST = 4,	/* the driver dropped tko's XDP_TX answers: fell back to TC */
};

/*
 * One interface of the agent: entry of the `ifaces` hash map, keyed by
 * ifindex, written by the agent when it attaches. The datapath changes
 * path (XDP -> TC, never back) and the counters.
 */
struct tko_iface {
	__u32 ifindex;
	__u8 path;		/* enum tko_answer_path */
	__u8 why;		/* enum tko_answer_why */
	__u8 xdp_generic;	/* XDP is attached in generic (skb) mode */
	/* No carrier (or administratively down), as rtnetlink told the agent:
	 * probes that would leave here count as unanswered, not sent. */
	__u8 down;
	char name[16];		/* as the agent saw it (tko stats may run in another netns) */
	__u64 answers_xdp;	/* answers sent with XDP_TX and not reported dropped */
	__u64 answers_tc;	/* answers the device took from TC ingress */
	__u64 answers_lost;	/* XDP_TX answers the driver reported dropped */
	__u64 answer_errors;	/* TC answers the device refused */
	/* The carrier's: since when the device has refused every probe (its
	 * queue full), 0 while it takes them. Refused for TKO_LINK_STUCK_NS,
	 * it is a link that cannot carry probes (reason no_path). */
	__u64 refused_ns;
	__u64 probes_no_path;	/* probes that could not leave here (down, stuck) */
};

/* A device whose queue refuses every probe this long is no path. */
#define TKO_LINK_STUCK_NS (1000ULL * 1000000ULL)

/*
 * The XDP_TX answers of one CPU not yet known to be sent: a driver reports
 * the fate of its XDP_TX frames afterwards (veth: tracepoint xdp_bulk_tx at
 * the end of its NAPI poll, with how many it dropped; others:
 * xdp_exception), on the same CPU, so the last ids here are the dropped
 * ones. TKO_XDP_PENDING covers veth's bulk of 16.
 */
#define TKO_XDP_PENDING 16
struct tko_xdp_pending {
	__u32 ifindex;		/* of the answers below */
	__u32 n;		/* answers since the last report; the last TKO_XDP_PENDING kept */
	__u32 id[TKO_XDP_PENDING];	/* session ids, ring by n */
};

/* The carrier's control block: entry 0 of the `carrier` array, set by the agent. */
struct tko_carrier_state {
	__u32 loop_ifindex;	/* where the carrier goes back out (tko0) */
	__u32 generation;	/* frames of another generation are stale: dropped */
	__u64 passes;
	__u64 last_pass_ns;
	/* The agent's interfaces: where a session with no L2 state yet (given
	 * with --state, no traffic seen) is routed, found with bpf_fib_lookup. */
	__u32 ifindex[TKO_MAX_IFACES];
	__u64 tick_ns;		/* the clock's tick */
	__u32 tick_bytes;	/* what the qdisc lets through per tick (tko_tick_bytes) */
	__u32 watchdog_ms;	/* the watchdog's period; 0: TKO_WATCHDOG_MS */
	/* Where the agent sends wakes (tko agent --wake-iface): the links the
	 * sleeping endpoints are on, never the peers' side. */
	__u32 wake_ifindex[TKO_MAX_IFACES];
	__u32 wake_hook;	/* 1: the agent runs --on-wake-exec on each wake */
	__u32 pad;
};

/*
 * What wakes the agent besides lifecycle events: the `signals` ring buffer.
 * A record says there is work; the work itself is in a map (need_l2: every
 * id there is resolved at each wakeup, so a record the full ring refused is
 * never work lost).
 */
enum tko_signal_type {
	TKO_SIG_PATH = 1,		/* need_l2 has an id: a path to resolve */
	TKO_SIG_CARRIER_LOST = 2,	/* the watchdog fired: no carrier pass */
	TKO_SIG_WAKE = 3,		/* struct tko_wake: wake an endpoint */
};

struct tko_signal {
	__u32 type;
	__u32 id;		/* TKO_SIG_PATH: the session */
	__u64 passes;		/* TKO_SIG_CARRIER_LOST: carrier passes so far */
};

/*
 * Waking a sleeping endpoint (bpf/lib/wake.h). An episode begins with the
 * peer's data (or FIN) for an endpoint that has not spoken since, and ends
 * when it speaks, or TKO_WAKE_EPISODE_NS after it began (an endpoint that
 * did not wake then may later). An ACTIVE session's endpoint (idle that
 * long) is woken at once; any other only once the peer's data has waited
 * TKO_WAKE_QUIET_NS unanswered (a retransmission: an awake endpoint
 * acknowledges sooner). Then at most one wake per TKO_WAKE_GAP_NS,
 * TKO_WAKE_BURST per episode: three a minute at most, whatever the peer.
 */
#define TKO_WAKE_BURST		3
#define TKO_WAKE_GAP_NS		(1000ULL * 1000000ULL)
#define TKO_WAKE_QUIET_NS	(1000ULL * 1000000ULL)
#define TKO_WAKE_EPISODE_NS	(60ULL * 1000000000ULL)

/*
 * TKO_SIG_WAKE: the peer spoke to an endpoint that may be asleep. All the
 * agent needs is here: the session may be gone by the time it reads it
 * (a FIN ends it). A wake the full ring refused is counted as failed.
 */
struct tko_wake {
	__u32 type;		/* TKO_SIG_WAKE */
	__u32 id;		/* the session's entry, when it was sent */
	struct tko_key key;
	__u8 addr[16];		/* the endpoint's own address (see tko_session.wake_addr) */
	__u8 mac[6];		/* the endpoint's, if known */
	__u8 known;		/* mac and ifindex are known (TKO_HAVE_WAKE) */
	__u8 reason;		/* TKO_R_DATA_PEER or TKO_R_FIN_PEER */
	__u32 ifindex;		/* the interface it is on; 0: every wake interface */
	__u32 wakes;		/* this one included, in the current episode */
	__u64 ts_ns;		/* when the peer's segment came (CLOCK_MONOTONIC) */
};

/*
 * The request of tko_wake_done, run by the agent once it has done what a
 * struct tko_wake asked: counted, and reported as an event (wake, or a
 * warning wake_failed).
 */
enum {
	TKO_WAKE_SENT = 1 << 0,		/* the magic packets left (a device took them) */
	TKO_WAKE_SEND_FAILED = 1 << 1,	/* they could not be sent */
	TKO_WAKE_HOOK_RAN = 1 << 2,	/* the hook ran and exited 0 (a later report) */
	TKO_WAKE_HOOK_FAILED = 1 << 3,	/* the hook failed, timed out, could not start */
	TKO_WAKE_HOOK_STARTED = 1 << 4,	/* the hook was started: its outcome comes later */
	TKO_WAKE_LOST = 1 << 5,		/* nothing could be done (no MAC, no hook) */
};

struct tko_wake_done {
	struct tko_key key;
	__u32 id;
	__u8 reason;		/* of the wake (struct tko_wake) */
	__u8 pad[3];
	__u32 result;		/* TKO_WAKE_* */
	__u32 pad2;
};

/* The clock's own state: entry 0 of the `clock` array, the carrier's alone. */
struct tko_wheel_clock {
	__u64 tick;		/* the last tick whose list was taken */
	__u64 cascade;		/* ticks from here on are on level 1; 0: not started */
	__u32 moving;		/* level-1 list being moved to level 0 + 1, 0 if none */
	__u32 busy;		/* a pass is running (a re-injected carrier overlaps) */
	__u32 hold_len;		/* length the carrier left with last: its hold, in bytes */
	__u32 pad;
	__u64 hold_ns;		/* the hold that length asks for */
	__u64 target_ns;	/* when the last pass asked to be back */
	__s64 drift_ns;		/* how much later than that this pass came (< 0: earlier) */
};

/* One list of the wheel: ids + 1, 0 if empty. */
struct tko_wheel_list {
	__u32 head;
	__u32 tail;
};

/* The carrier frame's header; the rest of the frame is zero. */
struct tko_carrier_hdr {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;		/* TKO_CARRIER_ETHERTYPE */
	__be32 magic;		/* TKO_CARRIER_MAGIC */
	__u32 generation;
} __attribute__((packed));

#define TKO_MAX_POLICIES 64

/*
 * Zero-touch offload (`tko policy add`). A local policy applies to the
 * local sockets of the agent's cgroup (sockops), a forwarded one
 * (cfg.flags has TKO_F_FORWARDED) to flows forwarded through the agent's
 * interfaces (TC egress). A socket or flow that matches every non-zero
 * field is tracked from its establishment (or its first segments) and
 * offloaded after cfg.idle_s seconds without traffic.
 */
struct tko_policy {
	__u32 id;		/* 1.. (slot + 1); 0: free slot */
	__u32 cgroup_level;	/* depth of cgroup_id below the cgroup2 root */
	__u64 cgroup_id;	/* the socket's cgroup or one of its ancestors; 0: any */
	__u16 lport;		/* 0: any */
	__u16 rport;		/* 0: any */
	__u8 family;		/* of raddr; 0: any remote */
	__u8 prefix_len;
	__u8 lfamily;		/* of laddr; 0: any local address */
	__u8 lprefix_len;
	__u8 raddr[16];		/* network byte order */
	__u8 laddr[16];		/* as on the interface (after the gateway's NAT) */
	struct tko_config cfg;
	/* One more each time the slot is given to a policy: the sessions of an
	 * earlier policy of the slot (tko_session.policy_gen) are not this
	 * one's, and their end changes nothing of its counts. */
	__u32 gen;
};

/* What a policy holds (`policy_stats`, by slot), kept by the datapath. */
struct tko_policy_stats {
	__u64 sessions;		/* its sessions now */
	__u64 created;		/* sessions it ever created */
};

/*
 * Key of `policy_prefixes` (an LPM trie): the family, then the local
 * address. prefixlen counts the family's 8 bits: 8 matches every address
 * of the family. The value is a bitmask of policy slots (__u64): every
 * forwarded policy whose --local covers the whole prefix, so the longest
 * match alone names all the policies an address can match.
 */
struct tko_prefix_key {
	__u32 prefixlen;
	__u8 family;
	__u8 addr[16];
} __attribute__((packed));

/*
 * Forwarded flows tko is done with (ended, dead, stopped, seen closing):
 * their last segments must not make them sessions again. A SYN on the
 * tuple (a new connection) takes it out. Value: until when it stays out
 * (CLOCK_MONOTONIC ns), TKO_FLOW_CLOSED_FOREVER until a SYN: a flow
 * refused for want of room is tried again after TKO_FLOW_RETRY_NS.
 */
#define TKO_FLOWS_CLOSED_MAX 16384
#define TKO_FLOW_CLOSED_FOREVER (~0ULL)
#define TKO_FLOW_RETRY_NS (10ULL * 1000000000ULL)

/* The kernel's default nf_conntrack_tcp_timeout_established (5 days), in ms. */
#define TKO_CT_ESTABLISHED_MS_DEFAULT (432000u * 1000u)
/* A session's conntrack entry is refreshed at most once per period: a
 * quarter of the established timeout, at most this (bpf/lib/conntrack.h). */
#define TKO_CT_REFRESH_MAX_NS (600ULL * 1000000000ULL)

/* What the agent that loaded the datapath attached where (for adoption, unload). */
struct tko_agent_info {
	__u64 cgroup_id;	/* sockops attached to this cgroup */
	__u64 netns_cookie;	/* policies apply to sockets of this network namespace */
	char cgroup[256];	/* its path */
	/* This namespace's net.netfilter.nf_conntrack_tcp_timeout_established
	 * in ms, 0 if unknown (TKO_CT_ESTABLISHED_MS_DEFAULT then): what a
	 * refreshed conntrack entry of an offloaded flow gets, as conntrack
	 * itself gives an established flow at each segment. */
	__u32 ct_established_ms;
	__u32 features;		/* TKO_FEAT_*: what the kernel offers of what tko can use */
	char kernel[64];	/* its release, as uname(2) says */
};

/*
 * What tko uses where the running kernel has it, and does without where it
 * has not (tko_agent_info.features; `tko agent -v`, `tko stats`). What tko
 * cannot do without is not here: the agent refuses to start without it.
 */
enum {
	/* the conntrack kfuncs: the gateway's own conntrack entries of the
	 * offloaded flows are refreshed (bpf/lib/conntrack.h) */
	TKO_FEAT_CT_KFUNCS = 1 << 0,
	/* veth takes tko1's XDP program at tko1's MTU: the carrier travels on
	 * its own ring, never dropped with a flood of probes (carrier.bpf.c) */
	TKO_FEAT_CARRIER_RING = 1 << 1,
	/* TCP timestamps in microseconds (tcp_usec_ts, Linux 6.7): a local
	 * socket that uses them is followed (without, no socket can) */
	TKO_FEAT_USEC_TS = 1 << 2,
};
#define TKO_FEAT_ALL (TKO_FEAT_CT_KFUNCS | TKO_FEAT_CARRIER_RING | TKO_FEAT_USEC_TS)

/*
 * A local socket as the capture iterator (`iter/tcp`) found it. The CLI or
 * libtko puts the key in the `capture` hash map, runs the iterator, and
 * reads the result back.
 */
struct tko_capture {
	__u8 found;		/* a TCP socket of this netns has the tuple */
	__u8 established;	/* in TCP_ESTABLISHED */
	__u8 have;		/* TKO_HAVE_SEQ [| TKO_HAVE_TS] */
	__u8 pad;
	__u32 unacked;		/* SND.NXT - SND.UNA: sent, not acknowledged */
	__u32 unsent;		/* write_seq - SND.NXT: written, not sent */
	__u32 unread;		/* RCV.NXT - copied_seq: received, not read */
	struct tko_tcp_state tcp;
};

/*
 * The request of the control programs (bpf/ctl.bpf.c: raw tracepoint
 * programs run with BPF_PROG_RUN, given a pointer to it and its size);
 * they return 0 or -errno as the run's retval.
 */
struct tko_ctl_args {
	struct tko_key key;
	struct tko_config cfg;
	struct tko_tcp_state tcp;	/* used when cfg.flags has TKO_F_STATE_GIVEN */
	__u8 have;			/* TKO_HAVE_* bits valid in tcp and below */
	/* tko_set_l2: the session cannot be kept (TKO_R_ROUTE: its route
	 * avoids the agent's interfaces): refuse it. 0 otherwise. */
	__u8 refuse;
	__u8 down;			/* tko_set_link: ifindex has no carrier (or is down) */
	__u8 pad;
	__u32 ifindex;			/* with TKO_HAVE_L2: the path, as routed */
	__u8 lmac[6];
	__u8 rmac[6];
	__u32 id;			/* tko_set_l2: the entry that asked for its path */
	__u32 pad2;
};

/* The request of tko_start_batch: up to TKO_BATCH_MAX starts in one BPF_PROG_RUN. */
#define TKO_BATCH_MAX 256
struct tko_ctl_batch {
	__u32 n;			/* entries used in args */
	__u32 pad;
	struct tko_ctl_args args[TKO_BATCH_MAX];
};

/*
 * tko_start_batch's return value: how many of args[0..n) started, in
 * order (the low 16 bits), and the errno of the first that did not (0: all
 * started), above; a negative value is the run's own -errno.
 */
#define TKO_BATCH_RET(started, err)	((int)((started) | ((__u32)-(err) << 16)))
#define TKO_BATCH_STARTED(ret)		((__u32)(ret) & 0xffff)
#define TKO_BATCH_ERR(ret)		(-(int)((__u32)(ret) >> 16))

#endif /* TKO_TYPES_H */
