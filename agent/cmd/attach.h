/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Attaching the datapath to an interface: XDP ingress + TC egress. */
#ifndef TKO_ATTACH_H
#define TKO_ATTACH_H

#include <stdbool.h>

struct iface {
	char name[16];		/* IF_NAMESIZE */
	int ifindex;
	bool xdp_attached;
	bool tc_hook_created;	/* we created clsact: remove it on detach */
	bool tc_attached;
	bool adopted;		/* both programs were already there */
	unsigned int xdp_flags;
};

/*
 * Attach both programs, or adopt them where an earlier agent left them
 * attached; on failure nothing stays attached.
 */
int iface_attach(struct iface *ifc, int xdp_fd, int tc_fd);
void iface_detach(struct iface *ifc);
/* Detach from ifindex whichever of the two programs is attached there. */
void iface_detach_ours(int ifindex, int xdp_fd, int tc_fd);

#endif /* TKO_ATTACH_H */
