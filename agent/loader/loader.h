/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Loading the BPF objects with one set of shared maps, pinning them: the
 * agent's and the tests', not libtko's (build/libtko-loader.a, with the
 * skeletons of the objects it embeds).
 */
#ifndef TKO_LOADER_H
#define TKO_LOADER_H

#include <stdbool.h>
#include "pins.h"

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

/* One fd per pin; -1 where absent. */
struct tko_fds {
	int fd[P_MAX];
};

/* Route libbpf's messages through our log (warnings always, debug with -v). */
void tko_bpf_setup_logging(void);

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

/*
 * The answer path's clock (bpf/lib/coarse.h), agent/loader/clock.c: the
 * tick of CONFIG_HZ hz (TICK_NSEC); the kernel's CONFIG_HZ from its config
 * file, 0 where none is installed; jiffies' tick and where they stand
 * against CLOCK_MONOTONIC, with the loaded control object's tko_clock_read,
 * the tick measured if hz is 0: 0, or -errno with both 0 (the programs
 * then read the clocksource).
 */
__u64 tko_tick_ns(unsigned int hz);
unsigned int tko_config_hz(void);

/* A change of jiffies, at the clock's time it was first seen (late, at times). */
struct tko_clock_edge {
	__u64 jiffies;
	__u64 ns;
};

/* jiffies and CLOCK_MONOTONIC read together (tko_clock_read): 0 or -errno. */
int tko_clock_sample(const struct tko_ctl *ctl, struct tko_clock_edge *s);

/* The CONFIG_HZ whose boundaries keep the lower envelope of n >= 2 edges flattest. */
unsigned int tko_hz_of_edges(const struct tko_clock_edge *e, int n);

int tko_clock_calibrate(const struct tko_ctl *ctl, unsigned int hz, __u64 *tick_ns,
			__u64 *base_ns);

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
 * is none; -ESTALE if some of its pins are missing; -EPROTO if one of its
 * maps is not what this build's objects
 * define (type, key and value sizes, entries: those sized by the session
 * table as the pinned one's), said with the map's name.
 */
int tko_pins_open(const char *dir, struct tko_fds *f);
/*
 * The pins of dir that exist, unchecked (fds owned by f, -1 where absent):
 * for removing a datapath another version of tko made, or one whose pins
 * are incomplete. -ENOENT if none of them is there.
 */
int tko_pins_open_any(const char *dir, struct tko_fds *f);
void tko_fds_close(struct tko_fds *f);

/* The kernel id of a pinned program or map fd, 0 on error. */
__u32 tko_obj_id(int fd);

/* Mount bpffs on the directory holding dir if it is not a bpffs already. */
int tko_ensure_bpffs(const char *dir);

#endif /* TKO_LOADER_H */
