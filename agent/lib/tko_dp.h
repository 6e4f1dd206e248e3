/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libtko in the datapath's own types (include/tko_types.h): what the tko
 * command, the agent, the tests and the benchmarks call. tko_dp_X is
 * include/tko.h's tko_X without the conversion to libtko's public types
 * (agent/lib/api.c does it); what tko.h does not offer at all (a session's
 * entry, interfaces, the kernel's features, events by reason) is here only.
 * Not installed: in build/libtko.a these symbols are local (libtko.map).
 *
 * The struct tko these take is tko_open()'s. Functions return 0 or a
 * negative errno.
 */
#ifndef TKO_DP_H
#define TKO_DP_H

#include <stdbool.h>
#include <stddef.h>
#include "tko.h"
#include "tko_types.h"

/* Built-in defaults of a session. */
void tko_dp_config_default(struct tko_config *cfg);

/* The defaults the running agent was configured with (tko agent --config), or
 * the built-in ones if it was given none. */
int tko_dp_config_agent_default(struct tko *t, struct tko_config *cfg);

/*
 * The request of the control program that starts key's session with cfg,
 * checked as tko_dp_session_start() checks it: tcp NULL to learn the state
 * from traffic, or the state the endpoint hands over (have = TKO_HAVE_SEQ,
 * plus TKO_HAVE_TS with ts_val/ts_ecr). -EINVAL: a value out of range.
 */
int tko_dp_start_args(const struct tko_key *key, const struct tko_config *cfg,
		      const struct tko_tcp_state *tcp, __u8 have, struct tko_ctl_args *args);

/*
 * Register a session (tko_dp_start_args, then the control program).
 * -EEXIST: already offloaded; -E2BIG: the session table is full; -ENOSPC:
 * the tuple's index buckets are full (a table near full); -EINVAL: a value
 * out of range.
 */
int tko_dp_session_start(struct tko *t, const struct tko_key *key, const struct tko_config *cfg,
			 const struct tko_tcp_state *tcp, __u8 have);

/*
 * Start n sessions described as the control program takes them (key, cfg
 * with TKO_F_STATE_GIVEN and tcp/have when the state is handed over), up to
 * TKO_BATCH_MAX per BPF_PROG_RUN. results[i] gets 0 or the -errno of
 * tko_dp_session_start; returns how many started.
 */
size_t tko_dp_session_start_batch(struct tko *t, const struct tko_ctl_args *args, size_t n,
				  int *results);

/*
 * Read a local socket of the caller's network namespace from the kernel's
 * own tcp_sock (a BPF iterator; the socket is not touched): its sequence
 * state, window, timestamps and tsoffset, and whether it is idle.
 * -ENOENT: no TCP socket with that tuple here.
 */
int tko_dp_capture(struct tko *t, const struct tko_key *key, struct tko_capture *c);

/*
 * Offload a local socket that is already idle (tko_session_start_local in
 * include/tko.h says how, and its errors); c receives the capture.
 */
int tko_dp_session_start_local(struct tko *t, const struct tko_key *key,
			       const struct tko_config *cfg, struct tko_capture *c);

/* End a session; its handoff state goes out as a "stopped" event. -ENOENT: no such session. */
int tko_dp_session_stop(struct tko *t, const struct tko_key *key);

/* One session; -ENOENT if absent. */
int tko_dp_session_get(struct tko *t, const struct tko_key *key, struct tko_session *s);

/*
 * The same, with its id (its entry in the `sessions` array, as bpftool shows
 * it); id or s may be NULL.
 */
int tko_dp_session_find(struct tko *t, const struct tko_key *key, __u32 *id,
			struct tko_session *s);

/*
 * The same in the table behind these fds (for the agent and the tests,
 * which hold fds): 0 and key's live session's id and entry, or -ENOENT.
 * id or s may be NULL.
 */
int tko_table_find(int sessions_fd, int index_fd, const struct tko_table *tb,
		   const struct tko_key *key, __u32 *id, struct tko_session *s);

/* Whether an entry of the session table holds a session (not free, not being
 * created, not ended). */
bool tko_dp_session_live(const struct tko_session *s);

/* Call cb for every session, with its id; a non-zero return from cb stops the
 * walk and is returned. */
typedef int (*tko_dp_session_fn)(__u32 id, const struct tko_session *s, void *ctx);
int tko_dp_session_foreach(struct tko *t, tko_dp_session_fn cb, void *ctx);

/*
 * Call cb, oldest first, for each event still in the event log whose seq is
 * greater than *after; *after is advanced past the last one delivered.
 */
typedef int (*tko_dp_event_fn)(const struct tko_event *e, void *ctx);
int tko_dp_events_read(struct tko *t, __u64 *after, tko_dp_event_fn cb, void *ctx);

/* Global counters summed over CPUs, indexed by enum tko_stat. */
int tko_dp_stats_read(struct tko *t, __u64 out[TKO_ST_MAX]);

/* Events counted by type and reason: out[type * TKO_REASONS_MAX + reason]. */
int tko_dp_event_stats_read(struct tko *t, __u64 out[TKO_EV_STATS_LEN]);

/*
 * The agent's interfaces and how each answers the peers' probes (the
 * `ifaces` map), by ifindex: how many were written to out (at most max),
 * or -errno.
 */
int tko_dp_ifaces_read(struct tko *t, struct tko_iface *out, int max);

/*
 * The kernel the agent runs on, as it found it: its release (uname) into
 * release, and *features the TKO_FEAT_* it has. -ENOENT: no agent wrote it.
 */
int tko_dp_kernel_read(struct tko *t, char *release, size_t len, __u32 *features);

#endif /* TKO_DP_H */
