/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Loading the BPF objects with one set of shared maps, pinning them. */
#ifndef TKO_LOADER_H
#define TKO_LOADER_H

#include "tko_types.h"

struct tko_ctl;
struct tko_xdp_ingress;
struct tko_tc_egress;
struct tko_carrier;

struct tko_bpf {
	struct tko_ctl *ctl;		/* owns the maps; start/stop programs, timers */
	struct tko_xdp_ingress *xdp;
	struct tko_tc_egress *tc;
	struct tko_carrier *carrier;	/* emits the probes queued by the timers */
};

/* Pin names inside the pin directory. */
#define PIN_SESSIONS	"sessions"
#define PIN_EVENTS	"events"
#define PIN_EVENT_LOG	"event_log"
#define PIN_EVENT_SEQ	"event_seq"
#define PIN_STATS	"stats"
#define PIN_CTL_START	"ctl_start"
#define PIN_CTL_STOP	"ctl_stop"

/* Route libbpf's messages through our log (warnings always, debug with -v). */
void tko_bpf_setup_logging(void);

/* Open and load all objects; max_sessions sizes the session table. */
int tko_bpf_load(struct tko_bpf *b, __u32 max_sessions);
void tko_bpf_destroy(struct tko_bpf *b);

/* Pin the maps and control programs in dir (created 0700); unpin removes them. */
int tko_bpf_pin(struct tko_bpf *b, const char *dir);
void tko_bpf_unpin(const char *dir);

/* Mount bpffs on the directory holding dir if it is not a bpffs already. */
int tko_ensure_bpffs(const char *dir);

#endif /* TKO_LOADER_H */
