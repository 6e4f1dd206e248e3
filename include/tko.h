/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libtko: the operations of the tko CLI for C programs. Everything goes
 * through the maps and control programs the agent pinned in a bpffs
 * directory, so a caller needs no agent connection, only root (or CAP_BPF +
 * CAP_NET_ADMIN) and the pin directory. Link with -ltko -lbpf -lelf -lz.
 *
 * The types here are libtko's own: the library converts them to and from
 * the datapath's (its maps, its control programs' requests), which may
 * change from one version of tko to the next. struct tko is opaque.
 * libtko keeps no state between calls but the pins a struct tko holds
 * open, which the calls only read: they may run in several threads at
 * once, on one struct tko or several.
 *
 * Functions return 0 or a negative errno unless they say otherwise.
 */
#ifndef TKO_H
#define TKO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TKO_PIN_DIR_DEFAULT "/sys/fs/bpf/tko"

struct tko;	/* an open pin directory */

/*
 * A TCP session. "local" is the offloaded endpoint, "remote" its peer.
 * Addresses are in network byte order (IPv4: the first 4 bytes), ports in
 * host byte order.
 */
struct tko_tuple {
	int family;			/* AF_INET or AF_INET6 */
	uint16_t local_port;
	uint16_t remote_port;
	uint8_t local_addr[16];
	uint8_t remote_addr[16];
};

/*
 * How a session is kept: the options of tko start (tko(8)). Times are whole
 * seconds, 1 to 604800 (a week); retries 1 to 255.
 */
struct tko_options {
	uint32_t idle_s;		/* idle time before tko takes over */
	uint32_t interval_s;		/* between answered probes */
	uint32_t retry_interval_s;	/* after an unanswered probe */
	uint32_t retries;		/* unanswered probes before the peer is dead */
	uint32_t flags;			/* TKO_OPT_* */
	/* TKO_OPT_WAKE: the endpoint's MAC; all zero: learned from its
	 * forwarded segments (--wake auto) */
	uint8_t wake_mac[6];
};

/* struct tko_options.flags */
enum {
	/* Probe with one byte the peer already has (BSD style), not with
	 * none (Linux style, the default). */
	TKO_OPT_PROBE_BYTE = 1 << 0,
	TKO_OPT_ONESHOT = 1 << 1,	/* end the session on traffic instead of re-arming */
	TKO_OPT_RESET_ON_DEAD = 1 << 2,	/* reset the endpoint's connection when the peer is dead */
	/* Wake the endpoint (magic packets, the agent's --on-wake-exec hook)
	 * when its peer sends data or FIN while it may be asleep. */
	TKO_OPT_WAKE = 1 << 3,
};

/*
 * The endpoint's TCP state (RFC 9293 names), as it hands it over to tko
 * or tko hands it back: whoever takes over continues where the other
 * stopped. have says which fields hold it.
 */
struct tko_handoff {
	uint32_t have;		/* TKO_HANDOFF_* */
	uint32_t snd_una;	/* TKO_HANDOFF_UNA: the first byte not acknowledged */
	uint32_t snd_nxt;	/* TKO_HANDOFF_SEQ: snd_nxt to wscale */
	uint32_t rcv_nxt;
	uint16_t window;	/* the raw window field it advertised last (scaled down) */
	uint8_t wscale;		/* its window scale, 0 to 14 (RFC 7323 2.3) */
	uint32_t ts_val;	/* TKO_HANDOFF_TS: its last TSval (RFC 7323) ... */
	uint32_t ts_ecr;	/* ... and the peer's last TSval, which it echoed */
};

/* struct tko_handoff.have */
enum {
	TKO_HANDOFF_SEQ = 1 << 0,
	TKO_HANDOFF_TS = 1 << 1,
	TKO_HANDOFF_UNA = 1 << 2,
};

/* A local socket, as the kernel holds it (tko_capture). */
struct tko_socket {
	bool established;	/* in TCP_ESTABLISHED */
	uint32_t unacked;	/* SND.NXT - SND.UNA: sent, not acknowledged */
	uint32_t unsent;	/* written, not sent */
	uint32_t unread;	/* received, not read */
	struct tko_handoff tcp;
};

/* A session's lifecycle (docs/architecture.md). */
enum tko_session_state {
	TKO_SESSION_NONE = 0,		/* no session (the event of a refused start) */
	TKO_SESSION_LEARNING = 1,	/* registered; its state learned, waiting for idle */
	TKO_SESSION_ACTIVE = 2,		/* idle: tko answers and sends keepalives */
	TKO_SESSION_SUSPENDED = 3,	/* traffic seen; re-arms after the next idle period */
	TKO_SESSION_PEER_DEAD = 4,	/* retries exhausted */
	TKO_SESSION_STOPPED = 5,	/* ended */
};

/* What tko did for a session (its handoff state, with struct tko_handoff). */
struct tko_counts {
	uint32_t probes_sent;		/* tko's probes */
	uint32_t probes_answered;	/* the peer's answers to them */
	uint32_t peer_probes_answered;	/* the peer's probes tko answered */
	uint32_t unanswered;		/* tko's probes unanswered now */
	uint32_t answers_limited;	/* peer probes left unanswered by the rate limit */
	uint32_t probes_late;		/* probes that left more than a tick late */
};

/* One session, as tko keeps it now. */
struct tko_session_info {
	uint32_t id;			/* its entry in the `sessions` map (bpftool) */
	struct tko_tuple tuple;
	struct tko_options options;
	int state;			/* enum tko_session_state */
	struct tko_handoff tcp;		/* what tko knows of the endpoint's state */
	struct tko_counts counts;
	uint32_t ifindex;		/* where its probes leave, 0 while not known */
	uint32_t policy;		/* the policy that made it, 0: started by a request */
	uint64_t started_ns;		/* CLOCK_MONOTONIC */
	uint64_t next_ns;		/* its next deadline (a probe, the end of its idle time) */
};

/* An event's type: a lifecycle change, or what tko had to say of a session. */
enum tko_event_kind {
	TKO_EVENT_OFFLOADED = 1,	/* LEARNING -> ACTIVE */
	TKO_EVENT_SUSPENDED = 2,	/* ACTIVE -> SUSPENDED */
	TKO_EVENT_RESUMED = 3,		/* SUSPENDED -> ACTIVE */
	TKO_EVENT_INVALIDATED = 4,	/* ended by traffic (FIN, RST, SYN) */
	TKO_EVENT_PEER_DEAD = 5,
	TKO_EVENT_STOPPED = 6,		/* ended by request */
	TKO_EVENT_STARTED = 7,		/* registered by a request or a policy */
	TKO_EVENT_REFUSED = 8,		/* not registered, or not kept: the reason says why */
	TKO_EVENT_WAITING = 9,		/* idle, not offloaded yet: the reason says why */
	TKO_EVENT_WARNING = 10,		/* kept, but not as it should be */
	TKO_EVENT_WAKE = 11,		/* the endpoint was woken */
};

/* Why (tko_reason_name() names each as tko events does). */
enum tko_event_reason {
	TKO_REASON_NONE = 0,
	TKO_REASON_REQUEST = 1,		/* start/stop asked for it */
	TKO_REASON_IDLE = 2,		/* the idle period elapsed */
	TKO_REASON_DATA_LOCAL = 3,	/* payload from the offloaded endpoint */
	TKO_REASON_DATA_PEER = 4,	/* payload from the peer */
	TKO_REASON_FIN_LOCAL = 5,
	TKO_REASON_FIN_PEER = 6,
	TKO_REASON_RST_LOCAL = 7,
	TKO_REASON_RST_PEER = 8,
	TKO_REASON_SYN_LOCAL = 9,	/* a new connection reused the tuple */
	TKO_REASON_DRIFT = 10,		/* the endpoint's segment disagrees with tko's state */
	TKO_REASON_RETRIES = 11,	/* probes went unanswered */
	TKO_REASON_POLICY = 12,		/* a policy matched a new socket or forwarded flow */
	TKO_REASON_CLOSED = 13,		/* the local socket left ESTABLISHED */
	TKO_REASON_TABLE_FULL = 14,	/* every entry of the session table is in use */
	TKO_REASON_INDEX_FULL = 15,	/* both index buckets of the tuple are full */
	TKO_REASON_BUSY = 16,		/* the clock's request queue did not take it */
	TKO_REASON_IN_FLIGHT = 17,	/* data sent and not acknowledged */
	TKO_REASON_NO_PATH = 18,	/* the probes could not leave */
	TKO_REASON_LINK_DOWN = 19,	/* the probes' link has no carrier */
	TKO_REASON_ROUTE = 20,		/* its route leaves through an interface tko is not on */
	TKO_REASON_TS_LIMIT = 21,	/* the endpoint's timestamp clock ran too far ahead */
	TKO_REASON_NO_TRAFFIC = 22,	/* no segment seen: nothing to learn its state from */
	TKO_REASON_CT_MISSING = 23,	/* the gateway's conntrack entry of the flow is gone */
	TKO_REASON_TS_MISMATCH = 24,	/* a probe with(out) timestamps on a session without (with) */
	TKO_REASON_SIGNED = 25,		/* a probe with an MD5/AO signature: tko cannot sign */
	TKO_REASON_REWRITE = 26,	/* an answer could not be written over the probe */
	TKO_REASON_NO_ACK = 27,		/* no acknowledgment of the peer's seen yet */
	TKO_REASON_WAKE_UNKNOWN = 28,	/* the endpoint's MAC could not be learned */
	TKO_REASON_WAKE_FAILED = 29,	/* a wake could not be sent */
};

/* One event, as the agent's event log keeps it. */
struct tko_event_info {
	uint64_t seq;			/* 1, 2, ...: the order of the log */
	uint64_t ts_ns;			/* CLOCK_MONOTONIC */
	struct tko_tuple tuple;
	int type;			/* enum tko_event_kind */
	int reason;			/* enum tko_event_reason */
	int state;			/* enum tko_session_state, after it */
	uint32_t next_probe_ms;		/* time left to the next probe, 0 if none */
	/* The handoff state: the fields as tko held them (0 where never
	 * learned); have is 0, an event does not say. */
	struct tko_handoff tcp;
	struct tko_counts counts;
};

/* One of the datapath's global counters (tko stats). */
struct tko_counter {
	const char *name;	/* as tko stats prints it */
	const char *help;	/* what it counts, in a sentence */
	uint64_t value;		/* summed over CPUs */
};

/* A session to start with tko_session_start_batch(). */
struct tko_start {
	struct tko_tuple tuple;
	struct tko_options options;
	struct tko_handoff tcp;	/* tcp.have 0: its state is learned from traffic */
};

/* TKO_PIN_DIR from the environment, or TKO_PIN_DIR_DEFAULT. */
const char *tko_default_pin_dir(void);

/* Open the agent's pins; -ENOENT means no agent has pinned anything there. */
int tko_open(const char *pin_dir, struct tko **t);
void tko_close(struct tko *t);

/* Built-in defaults of a session. */
void tko_options_default(struct tko_options *o);

/* The defaults the running agent was configured with (tko agent --config), or
 * the built-in ones if it was given none. */
int tko_options_agent_default(struct tko *t, struct tko_options *o);

/*
 * Register a session. tcp is NULL (or tcp->have 0) to learn the state from
 * traffic ("monitor mode"), or the state the endpoint hands over
 * (TKO_HANDOFF_SEQ, plus TKO_HANDOFF_TS with ts_val/ts_ecr; nothing is in
 * flight: snd_una is snd_nxt). -EEXIST: already offloaded; -E2BIG: the
 * session table is full; -ENOSPC: the tuple's index buckets are full (a
 * table near full); -EOPNOTSUPP: TKO_OPT_WAKE, and the agent has no way to
 * wake; -EINVAL: a value out of range.
 */
int tko_session_start(struct tko *t, const struct tko_tuple *tuple,
		      const struct tko_options *o, const struct tko_handoff *tcp);

/*
 * Start n sessions, many per BPF_PROG_RUN: results[i] gets 0 or the
 * -errno of tko_session_start for starts[i]; returns how many started.
 */
size_t tko_session_start_batch(struct tko *t, const struct tko_start *starts, size_t n,
			       int *results);

/*
 * Read a local socket of the caller's network namespace from the kernel's
 * own tcp_sock (a BPF iterator; the socket is not touched): its sequence
 * state, window and timestamps, and whether it is idle. -ENOENT: no TCP
 * socket with that tuple here.
 */
int tko_capture(struct tko *t, const struct tko_tuple *tuple, struct tko_socket *s);

/*
 * Offload a local socket that is already idle, with no further traffic
 * needed: captured, then started with that state; forged TSvals follow the
 * socket's own clock. -ENOENT: no such socket here; -ENOTCONN: not
 * established; -EBUSY: not idle (unsent, unacknowledged or unread data);
 * -ENETUNREACH: no route to its peer; -EXDEV: its route leaves through an
 * interface the agent is not attached to (lo, another NIC: tko would never
 * see its data); the errors of tko_session_start otherwise. s (may be
 * NULL) receives the capture.
 */
int tko_session_start_local(struct tko *t, const struct tko_tuple *tuple,
			    const struct tko_options *o, struct tko_socket *s);

/* The same for a connected TCP socket given by its file descriptor. */
int tko_session_start_fd(struct tko *t, int fd, const struct tko_options *o);

/* Whether the agent's datapath is attached to interface ifindex. */
bool tko_iface_attached(struct tko *t, uint32_t ifindex);

/* End a session; its handoff state goes out as a "stopped" event. -ENOENT: no such session. */
int tko_session_stop(struct tko *t, const struct tko_tuple *tuple);

/* One session; -ENOENT if absent. */
int tko_session_get(struct tko *t, const struct tko_tuple *tuple, struct tko_session_info *s);

/* Call cb for every session; a non-zero return from cb stops the walk and is returned. */
typedef int (*tko_session_fn)(const struct tko_session_info *s, void *ctx);
int tko_session_foreach(struct tko *t, tko_session_fn cb, void *ctx);

/*
 * Call cb, oldest first, for each event still in the event log whose seq is
 * greater than *after; *after is advanced past the last one delivered.
 */
typedef int (*tko_event_fn)(const struct tko_event_info *e, void *ctx);
int tko_events_read(struct tko *t, uint64_t *after, tko_event_fn cb, void *ctx);

/*
 * The global counters, summed over CPUs: the first max of them into out.
 * Returns how many there are (more than max: some were left out), or
 * -errno.
 */
int tko_stats_read(struct tko *t, struct tko_counter *out, size_t max);

/* Names, as tko list and tko events print them ("active", "stopped",
 * "data_peer"); "unknown" for a value this version does not know. */
const char *tko_state_name(int state);		/* enum tko_session_state */
const char *tko_event_name(int type);		/* enum tko_event_kind */
const char *tko_reason_name(int reason);	/* enum tko_event_reason */

#ifdef __cplusplus
}
#endif

#endif /* TKO_H */
