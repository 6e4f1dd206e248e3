/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Loading the BPF objects with one set of shared maps, pinning them. */
#ifndef TKO_LOADER_H
#define TKO_LOADER_H

#include <stdbool.h>
#include "tko_types.h"

struct tko_ctl;
struct tko_xdp_ingress;
struct tko_tc_egress;
struct tko_tc_ingress;
struct tko_xdp_tx_report;
struct tko_carrier;
struct tko_sock_iter;
struct tko_sockops;
struct bpf_link;
struct bpf_object;

struct tko_bpf {
	struct tko_ctl *ctl;		/* owns the maps; start/stop programs */
	struct tko_xdp_ingress *xdp;
	struct tko_tc_egress *tc;
	struct tko_tc_ingress *tci;	/* answers where XDP_TX is not delivered */
	struct tko_xdp_tx_report *report;	/* drivers' reports on XDP_TX answers */
	struct tko_carrier *carrier;	/* the clock: runs the wheel, emits the probes */
	struct tko_sock_iter *iter;	/* captures local sockets (iter/tcp) */
	struct tko_sockops *sockops;	/* policies, close of local sockets */
	struct bpf_link *iter_link;
	struct bpf_link *bulk_tx_link;	/* tracepoints of tko_xdp_tx_report */
	struct bpf_link *exception_link;
};

/*
 * Everything the datapath is made of, by pin: the agent pins all of it, so
 * that the datapath outlives the agent and a new agent can adopt it. This
 * table is the one place a pin is named; each line gives its id in struct
 * tko_fds, and
 *   MAP(id, obj, map)          a map, pinned under its own name: the map of
 *                              that name of skeleton obj (ctl for the maps of
 *                              bpf/lib/maps.h: the objects share them by name),
 *                              checked against obj's definition on adoption;
 *   PROG(id, pin, obj, prog)   program prog of skeleton obj;
 *   LINK(id, pin, link)        the link tko_bpf_load() made (struct tko_bpf).
 * A map of the objects that is not here is not pinned on purpose: the
 * short list in loader.c says which and why (tko_bpf_load refuses any other).
 * sessions comes first: where it is missing, nothing is pinned.
 */
#define TKO_PINS(MAP, PROG, LINK)					\
	MAP(P_SESSIONS, ctl, sessions)					\
	MAP(P_EVENTS, ctl, events)					\
	MAP(P_EVENT_LOG, ctl, event_log)				\
	MAP(P_EVENT_SEQ, ctl, event_seq)				\
	MAP(P_STATS, ctl, stats)					\
	MAP(P_CARRIER, ctl, carrier)					\
	MAP(P_INDEX, ctl, sessions_index)				\
	MAP(P_TABLE, ctl, table)					\
	MAP(P_FREE_IDS, ctl, free_ids)					\
	MAP(P_REQUESTS, ctl, requests)					\
	MAP(P_WHEEL, ctl, wheel)					\
	MAP(P_CLOCK, ctl, clock)					\
	MAP(P_EV_STATS, ctl, ev_stats)					\
	MAP(P_DEFAULTS, ctl, defaults)					\
	PROG(P_CTL_START, ctl_start, ctl, tko_start)			\
	PROG(P_CTL_STOP, ctl_stop, ctl, tko_stop)			\
	PROG(P_PROG_XDP, prog_xdp_ingress, xdp, tko_xdp_ingress)	\
	PROG(P_PROG_TC, prog_tc_egress, tc, tko_tc_egress)		\
	PROG(P_PROG_CARRIER, prog_carrier, carrier, tko_carrier)	\
	MAP(P_CAPTURE, iter, capture)					\
	LINK(P_ITER_CAPTURE, iter_capture, iter_link)			\
	MAP(P_POLICIES, ctl, policies)					\
	MAP(P_NEED_L2, ctl, need_l2)					\
	MAP(P_AGENT_INFO, ctl, agent_info)				\
	PROG(P_CTL_SET_L2, ctl_set_l2, ctl, tko_set_l2)			\
	PROG(P_PROG_SOCKOPS, prog_sockops, sockops, tko_sockops)	\
	PROG(P_CTL_START_BATCH, ctl_start_batch, ctl, tko_start_batch)	\
	MAP(P_SIGNALS, ctl, signals)					\
	MAP(P_IFACES, ctl, ifaces)					\
	PROG(P_PROG_TC_INGRESS, prog_tc_ingress, tci, tko_tc_ingress)	\
	LINK(P_LINK_XDP_BULK_TX, link_xdp_bulk_tx, bulk_tx_link)	\
	LINK(P_LINK_XDP_EXCEPTION, link_xdp_exception, exception_link)	\
	MAP(P_POLICY_STATS, ctl, policy_stats)				\
	MAP(P_POLICY_PREFIXES, ctl, policy_prefixes)			\
	MAP(P_FLOWS_CLOSED, ctl, flows_closed)				\
	PROG(P_CTL_SET_LINK, ctl_set_link, ctl, tko_set_link)		\
	MAP(P_FLOWS_OPENING, ctl, flows_opening)			\
	PROG(P_CTL_WAKE_DONE, ctl_wake_done, ctl, tko_wake_done)	\
	PROG(P_PROG_CARRIER_RX, prog_carrier_rx, carrier, tko_carrier_rx)

#define TKO_PIN_ID(id, ...) id,
enum pin_id {
	TKO_PINS(TKO_PIN_ID, TKO_PIN_ID, TKO_PIN_ID)
	P_MAX
};
#undef TKO_PIN_ID
/* By id: the name in the pin directory. */
extern const char *const pin_names[P_MAX];

/* Not the loader's: the agent keeps there which policies its config made
 * (agent/cmd/policies.h); it goes with the pins. */
#define PIN_CONFIG_POLICIES "config_policies"

/* One fd per pin; -1 where absent. */
struct tko_fds {
	int fd[P_MAX];
};

/* Route libbpf's messages through our log (warnings always, debug with -v). */
void tko_bpf_setup_logging(void);

/*
 * Find key's live session in the table behind these fds (as libtko's
 * tko_session_find; for the agent and the tests, which hold fds): 0 and
 * its id and entry, or -ENOENT. id or s may be NULL.
 */
int tko_table_find(int sessions_fd, int index_fd, const struct tko_table *tb,
		   const struct tko_key *key, __u32 *id, struct tko_session *s);

/* Index buckets for a session table of max_sessions (a power of two). */
__u32 tko_index_buckets(__u32 max_sessions);

/*
 * Whether this kernel has the conntrack kfuncs the datapath refreshes the
 * gateway's own conntrack entries with (bpf/lib/conntrack.h), in its BTF or
 * nf_conntrack's (a module: loaded). tko_bpf_load() uses them only then.
 */
bool tko_ct_kfuncs(void);

/*
 * What this kernel offers of what tko uses when it can (TKO_FEAT_*), with
 * carrier_ring: whether tko1 took the carrier's XDP program.
 */
__u32 tko_kernel_features(bool carrier_ring);

/* Open and load all objects; max_sessions sizes the session table. */
int tko_bpf_load(struct tko_bpf *b, __u32 max_sessions);
void tko_bpf_destroy(struct tko_bpf *b);

/*
 * Before obj loads: each of its maps that the control object defines too
 * takes the control object's, by name (tko_bpf_load does this for its
 * objects; for a test's own build of one of them). Internal maps (.rodata,
 * .bss, .data) and the private ones of loader.c stay obj's own.
 */
int tko_bpf_share(const struct tko_bpf *b, struct bpf_object *obj);

/* The fds of a loaded datapath (owned by b: do not close). */
void tko_bpf_fds(const struct tko_bpf *b, struct tko_fds *f);

/* Pin everything in dir (created 0700, pins 0600); unpin removes them, the agent's
 * PIN_CONFIG_POLICIES too, and dir. */
int tko_bpf_pin(const struct tko_fds *f, const char *dir);
void tko_bpf_unpin(const char *dir);

/*
 * Open a pinned datapath (fds owned by f: tko_fds_close). -ENOENT if there
 * is none; -EPROTO if one of its maps is not what this build's objects
 * define (type, key and value sizes, entries: those sized by the session
 * table as the pinned one's), said with the map's name.
 */
int tko_pins_open(const char *dir, struct tko_fds *f);
void tko_fds_close(struct tko_fds *f);

/* Open pin id of the datapath pinned in dir: its fd, or -errno. */
int tko_pin_get(const char *dir, enum pin_id id);

/* The kernel id of a pinned program or map fd, 0 on error. */
__u32 tko_obj_id(int fd);

/* Mount bpffs on the directory holding dir if it is not a bpffs already. */
int tko_ensure_bpffs(const char *dir);

/*
 * Run control program prog_fd (bpf/ctl.bpf.c) on the request at req, of
 * size bytes: 0 and the program's return value in *retval (0 or -errno;
 * TKO_BATCH_RET() for tko_start_batch), or the -errno of the run itself.
 */
int tko_ctl_run(int prog_fd, const void *req, __u32 size, int *retval);
/* The same, the run's error or the program's return value (0 or -errno) as one. */
int tko_ctl_call(int prog_fd, const void *req, __u32 size);

#endif /* TKO_LOADER_H */
