/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The gateway's own conntrack (bpf/lib/conntrack.h): the datapath refreshes
 * the entry of a flow it keeps alive to this namespace's established timeout.
 */
#ifndef TKO_CONNTRACK_H
#define TKO_CONNTRACK_H

#include <linux/types.h>

/*
 * This network namespace's net.netfilter.nf_conntrack_tcp_timeout_established
 * in ms, 0 if it cannot be read (the datapath then uses the kernel's default).
 * Says once, in the agent's log, whether the kernel lets the datapath refresh
 * conntrack entries at all, and with which timeout.
 */
__u32 conntrack_setup(void);

#endif /* TKO_CONNTRACK_H */
