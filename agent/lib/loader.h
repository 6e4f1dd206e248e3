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

/* Pin names inside the pin directory (libtko opens these). */
#define PIN_SESSIONS	"sessions"
#define PIN_EVENTS	"events"
#define PIN_EVENT_LOG	"event_log"
#define PIN_EVENT_SEQ	"event_seq"
#define PIN_STATS	"stats"
#define PIN_CTL_START	"ctl_start"
#define PIN_CTL_STOP	"ctl_stop"
#define PIN_CAPTURE	"capture"
#define PIN_ITER_CAPTURE "iter_capture"	/* a link: bpf_iter_create() on it */
#define PIN_POLICIES	"policies"
#define PIN_CTL_START_BATCH "ctl_start_batch"
#define PIN_AGENT_INFO	"agent_info"
#define PIN_INDEX	"sessions_index"
#define PIN_TABLE	"table"
#define PIN_IFACES	"ifaces"
#define PIN_POLICY_STATS "policy_stats"
#define PIN_POLICY_PREFIXES "policy_prefixes"
#define PIN_FLOWS_CLOSED "flows_closed"
/* Not the loader's: the agent keeps there which policies its config made
 * (agent/cmd/policies.h); it goes with the pins. */
#define PIN_CONFIG_POLICIES "config_policies"

/*
 * Everything the datapath is made of, by pin. The agent pins all of it, so
 * that the datapath outlives the agent and a new agent can adopt it.
 */
enum pin_id {
	P_SESSIONS, P_EVENTS, P_EVENT_LOG, P_EVENT_SEQ, P_STATS, P_CARRIER,
	P_INDEX, P_TABLE, P_FREE_IDS, P_REQUESTS, P_WHEEL, P_CLOCK,
	P_EV_STATS, P_DEFAULTS,
	P_CTL_START, P_CTL_STOP, P_PROG_XDP, P_PROG_TC, P_PROG_CARRIER,
	P_CAPTURE, P_ITER_CAPTURE, P_POLICIES, P_NEED_L2, P_AGENT_INFO, P_CTL_SET_L2,
	P_PROG_SOCKOPS, P_CTL_START_BATCH, P_SIGNALS,
	P_IFACES, P_PROG_TC_INGRESS, P_LINK_XDP_BULK_TX, P_LINK_XDP_EXCEPTION,
	P_POLICY_STATS, P_POLICY_PREFIXES, P_FLOWS_CLOSED, P_CTL_SET_LINK, P_FLOWS_OPENING,
	P_CTL_WAKE_DONE, P_PROG_CARRIER_RX,
	P_MAX
};
extern const char *const pin_names[P_MAX];

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
 * is none; -EPROTO if its maps do not have this build's layout.
 */
int tko_pins_open(const char *dir, struct tko_fds *f);
void tko_fds_close(struct tko_fds *f);

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
