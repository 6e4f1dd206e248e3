/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The L2 path of a local socket that sends nothing: where the kernel would
 * route its next segment (rtnetlink), and the neighbour's MAC. The carrier
 * cannot do this itself: bpf_fib_lookup() refuses hosts that do not forward.
 */
#ifndef TKO_ROUTE_H
#define TKO_ROUTE_H

#include "tko_types.h"

/* The interface the kernel routes k's segments out of: 0, -ENETUNREACH, -errno. */
int route_oif(const struct tko_key *k, __u32 *ifindex);

/* 0, or -ENETUNREACH (no route), -EHOSTUNREACH (no neighbour entry yet), -errno. */
int route_l2(const struct tko_key *k, __u32 *ifindex, __u8 lmac[6], __u8 rmac[6]);

#endif /* TKO_ROUTE_H */
