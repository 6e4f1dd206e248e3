/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's state, shared by the files of agent/daemon that make it up:
 * options.c fills it from the command line and the config file,
 * config_policies.c puts the config's policies in the table, agent.c runs
 * it, unload.c removes a datapath. The commands see daemon.h alone.
 */
#ifndef TKO_AGENT_H
#define TKO_AGENT_H

#include <limits.h>
#include <stdbool.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "carrier.h"
#include "daemon.h"
#include "loader.h"
#include "metrics_http.h"
#include "tko_types.h"
#include "wake.h"

struct agent {
	struct iface ifaces[TKO_MAX_IFACES];
	int nifaces;
	char iface_list[512];
	char cgroup[PATH_MAX];		/* sockops attached here */
	const char *pin_dir;
	char pin_dir_buf[PATH_MAX];
	__u32 max_sessions;
	__u32 tick_ms;
	int answers;			/* enum answers_mode */
	bool json;
	bool persist;
	bool cleanup;
	bool config;			/* --config given: its policies are its own */
	struct tko_config defaults;	/* of `tko start` */
	unsigned int set;		/* options given on the command line */
	struct tko_bpf bpf;		/* a fresh load; empty when adopting */
	struct tko_fds fds;		/* everything, by pin (owned only when adopted) */
	bool adopted;
	bool pinned;
	struct carrier carrier;
	struct ring_buffer *rb;		/* events */
	/* Signals: a ring of their own, read first at each wakeup, so that a
	 * wake never waits behind the events printed before it. */
	struct ring_buffer *sig_rb;
	int links_fd;			/* rtnetlink link notifications */
	bool want_paths;		/* a signal said need_l2 has ids */
	bool carrier_lost;		/* the watchdog fired ... */
	__u64 lost_at;			/* ... when the carrier had made this many passes */
	int lock_fd;
	bool metrics_on;		/* --metrics given */
	struct metrics_addr metrics_addr;
	struct metrics_http *metrics;
	__u32 ct_established_ms;	/* what refreshed conntrack entries get (conntrack.h) */
	__u32 features;			/* TKO_FEAT_*: what the kernel offers */
	char kernel[64];		/* its release */
	/* `policy = OPTIONS` lines of the config file, added at start: their
	 * text and "FILE:LINE: " until parsed (then freed), whole */
	int npolicies;
	char *policy_src[TKO_MAX_POLICIES];
	char *policy_where[TKO_MAX_POLICIES];
	struct tko_policy policies[TKO_MAX_POLICIES];
	struct waker waker;		/* --wake-iface, --on-wake-exec */
};

/* options.c: --iface's names into a->ifaces. 0 or -errno, after saying which. */
int agent_ifaces(struct agent *a);

/*
 * config_policies.c: the config file's `policy = OPTIONS` lines. Parsed as
 * `tko policy add OPTIONS` once the agent's options are (0, -EINVAL or
 * -errno, after saying what is wrong); their text freed, whatever the
 * outcome; put in the table at start (0 or -errno).
 */
int config_policies_parse(struct agent *a);
void config_policies_free(struct agent *a);
int config_policies_add(struct agent *a);

/* unload.c: end every session so its handoff state is reported. */
void stop_all_sessions(const char *pin_dir);
/* unload.c: the interfaces the datapath was attached to, as the carrier map records them. */
int recorded_ifaces(const struct tko_fds *f, int ifindex[TKO_MAX_IFACES]);

#endif /* TKO_AGENT_H */
