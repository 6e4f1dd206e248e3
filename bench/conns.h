/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * N real TCP connections between two network namespaces made by run.sh:
 * the endpoint's sockets in one (the side tko or the kernel keeps alive),
 * the peer's in the other. Run with TCP timestamps off in both namespaces
 * (run.sh), so every segment is a bare 20-byte TCP header.
 */
#ifndef TKO_BENCH_CONNS_H
#define TKO_BENCH_CONNS_H

#include <stddef.h>
#include <stdint.h>
#include "tko_types.h"

#define CONNS_PER_PORT 50000	/* endpoint ports 10000.., one server port per 50000 */

struct conn {
	int fd;			/* the endpoint's socket */
	struct tko_key key;	/* local = the endpoint */
	struct tko_tcp_state tcp;	/* its SND.NXT/RCV.NXT (conns_read_state) */
};

struct conns {
	struct conn *c;
	size_t n;
	int *peer_fds;		/* the accepted sockets */
	int listen_fd[8];
	size_t nlisten;
};

/* Endpoint address ea, peer address pa (network order). */
void conns_open(struct conns *cs, size_t n, const char *ns_endpoint, const char *ns_peer,
		uint32_t ea, uint32_t pa);
/* SND.NXT and RCV.NXT of every endpoint socket, read in TCP_REPAIR mode. */
void conns_read_state(struct conns *cs);
void conns_close(struct conns *cs);

#endif /* TKO_BENCH_CONNS_H */
