/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libtko: the operations of the tko CLI for C programs. Everything goes
 * through the maps and control programs the agent pinned in a bpffs
 * directory, so a caller needs no agent connection, only root (or CAP_BPF +
 * CAP_NET_ADMIN) and the pin directory.
 *
 * Functions return 0 or a negative errno.
 */
#ifndef TKO_H
#define TKO_H

#include <stdbool.h>
#include <stddef.h>
#include "tko_types.h"

#define TKO_PIN_DIR_DEFAULT "/sys/fs/bpf/tko"

struct tko;	/* an open pin directory */

/* TKO_PIN_DIR from the environment, or TKO_PIN_DIR_DEFAULT. */
const char *tko_default_pin_dir(void);

/* Open the agent's pins; -ENOENT means no agent has pinned anything there. */
int tko_open(const char *pin_dir, struct tko **t);
void tko_close(struct tko *t);

/* Built-in defaults of a session. */
void tko_config_default(struct tko_config *cfg);

/* The defaults the running agent was configured with (tko agent --config), or
 * the built-in ones if it was given none. */
int tko_config_agent_default(struct tko *t, struct tko_config *cfg);

/*
 * Register a session. tcp is NULL to learn the state from traffic ("monitor
 * mode"), or the state the endpoint hands over (have = TKO_HAVE_SEQ, plus
 * TKO_HAVE_TS with ts_val/ts_ecr). -EEXIST: already offloaded; -E2BIG: the
 * session table is full; -ENOSPC: the tuple's index buckets are full (a
 * table near full); -EINVAL: a value out of range.
 */
int tko_session_start(struct tko *t, const struct tko_key *key, const struct tko_config *cfg,
		      const struct tko_tcp_state *tcp, __u8 have);

/*
 * Start n sessions described as the control program takes them (key, cfg
 * with TKO_F_STATE_GIVEN and tcp/have when the state is handed over), up to
 * TKO_BATCH_MAX per BPF_PROG_RUN. results[i] gets 0 or the -errno of
 * tko_session_start; returns how many started.
 */
size_t tko_session_start_batch(struct tko *t, const struct tko_ctl_args *args, size_t n,
			       int *results);

/*
 * Read a local socket of the caller's network namespace from the kernel's
 * own tcp_sock (a BPF iterator; the socket is not touched): its sequence
 * state, window, timestamps and tsoffset, and whether it is idle.
 * -ENOENT: no TCP socket with that tuple here.
 */
int tko_capture(struct tko *t, const struct tko_key *key, struct tko_capture *c);

/*
 * Offload a local socket that is already idle, with no further traffic
 * needed: captured, then started with that state; forged TSvals follow the
 * socket's own clock. -ENOENT: no such socket here; -ENOTCONN: not
 * established; -EBUSY: not idle (unsent, unacknowledged or unread data);
 * -ENETUNREACH: no route to its peer; -EXDEV: its route leaves through an
 * interface the agent is not attached to (lo, another NIC: tko would never
 * see its data); the errors of tko_session_start otherwise. c receives the
 * capture.
 */
int tko_session_start_local(struct tko *t, const struct tko_key *key,
			    const struct tko_config *cfg, struct tko_capture *c);

/* Whether the agent's datapath is attached to interface ifindex. */
bool tko_iface_attached(struct tko *t, __u32 ifindex);

/* The same for a connected TCP socket given by its file descriptor. */
int tko_session_start_fd(struct tko *t, int fd, const struct tko_config *cfg);

/* End a session; its handoff state goes out as a "stopped" event. -ENOENT: no such session. */
int tko_session_stop(struct tko *t, const struct tko_key *key);

/* One session; -ENOENT if absent. */
int tko_session_get(struct tko *t, const struct tko_key *key, struct tko_session *s);

/*
 * The same, with its id (its entry in the `sessions` array, as bpftool shows
 * it); id or s may be NULL.
 */
int tko_session_find(struct tko *t, const struct tko_key *key, __u32 *id,
		     struct tko_session *s);

/* Whether an entry of the session table holds a session (not free, not being
 * created, not ended). */
bool tko_session_live(const struct tko_session *s);

/* Call cb for every session; a non-zero return from cb stops the walk and is returned. */
typedef int (*tko_session_fn)(const struct tko_key *key, const struct tko_session *s, void *ctx);
int tko_session_foreach(struct tko *t, tko_session_fn cb, void *ctx);

/*
 * Call cb, oldest first, for each event still in the event log whose seq is
 * greater than *after; *after is advanced past the last one delivered.
 */
typedef int (*tko_event_fn)(const struct tko_event *e, void *ctx);
int tko_events_read(struct tko *t, __u64 *after, tko_event_fn cb, void *ctx);

/* Global counters summed over CPUs, indexed by enum tko_stat. */
int tko_stats_read(struct tko *t, __u64 out[TKO_ST_MAX]);

/*
 * The agent's interfaces and how each answers the peers' probes (the
 * `ifaces` map), by ifindex: how many were written to out (at most max),
 * or -errno.
 */
int tko_ifaces_read(struct tko *t, struct tko_iface *out, int max);

/*
 * The kernel the agent runs on, as it found it: its release (uname) into
 * release, and *features the TKO_FEAT_* it has. -ENOENT: no agent wrote it.
 */
int tko_kernel_read(struct tko *t, char *release, size_t len, __u32 *features);

/* Events counted by type and reason: out[type * TKO_REASONS_MAX + reason]. */
int tko_event_stats_read(struct tko *t, __u64 out[TKO_EV_STATS_LEN]);

#endif /* TKO_H */
