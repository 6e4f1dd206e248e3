/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Attaching the datapath to an interface: XDP ingress, TC egress, TC
 * ingress, and the interface's entry in the `ifaces` map, which says how
 * the peers' probes are answered there (XDP_TX or TC ingress).
 */
#ifndef TKO_ATTACH_H
#define TKO_ATTACH_H

#include <stdbool.h>
#include "loader.h"

/* tko agent --answers: how to choose the answer path of each interface. */
enum answers_mode {
	ANSWERS_AUTO = 0,	/* XDP_TX where the driver delivers it, TC ingress elsewhere */
	ANSWERS_XDP,		/* XDP_TX (falls back to TC if the driver reports drops) */
	ANSWERS_TC,		/* TC ingress everywhere */
};

struct iface {
	char name[16];		/* IF_NAMESIZE */
	int ifindex;
	bool xdp_attached;
	bool tc_hook_created;	/* we created clsact: remove it on detach */
	bool tc_attached;	/* TC egress */
	bool tci_attached;	/* TC ingress */
	bool adopted;		/* all programs were already there */
	unsigned int xdp_flags;
	__u8 path;		/* enum tko_answer_path, as last reported */
	__u8 why;		/* enum tko_answer_why */
	bool down;		/* no carrier or down, as last told to the datapath */
};

/* "auto", "xdp", "tc": 0 and *mode, or -EINVAL. */
int parse_answers(const char *arg, int *mode);

/*
 * Attach the programs, or adopt them where an earlier agent left them
 * attached, and record how the interface answers (mode: enum
 * answers_mode); on failure nothing stays attached.
 */
int iface_attach(struct iface *ifc, const struct tko_fds *f, int mode);
void iface_detach(struct iface *ifc, const struct tko_fds *f);
/* The interface went away with tko's programs: nothing is attached any more. */
void iface_forget(struct iface *ifc);
/* Detach from ifindex whichever of tko's programs is attached there. */
void iface_detach_ours(int ifindex, const struct tko_fds *f);

/*
 * The interface's link, as the kernel has it now (administratively up and
 * running: carrier, not dormant), told to the datapath when it changed: a
 * link that is down carries no probe, and its sessions end as peer_dead,
 * reason link_down, after their retries. Says so in one line.
 */
void iface_check_link(struct iface *ifc, const struct tko_fds *f);

/* "native XDP, answers from TC ingress: veth ..." for the agent's lines. */
void iface_describe(const struct iface *ifc, char *buf, size_t len);
/*
 * Say so if the datapath changed the interface's answer path since the
 * last call (a driver dropped XDP_TX answers: TC ingress answers now).
 */
void iface_check_path(struct iface *ifc, const struct tko_fds *f);

#endif /* TKO_ATTACH_H */
