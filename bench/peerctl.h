/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Attaching the simulated peer (peer.bpf.c) to the peer namespace's veth. */
#ifndef TKO_BENCH_PEERCTL_H
#define TKO_BENCH_PEERCTL_H

#include <stdint.h>

/* The wire benchmarks' addresses (run.sh gives them to e0 and p0). */
#define BENCH_ENDPOINT_ADDR "198.18.0.1"
#define BENCH_PEER_ADDR "198.19.0.2"
#define BENCH_ENDPOINT_IF "e0"
#define BENCH_PEER_IF "p0"

enum { PEER_PASS = 0, PEER_SINK = 1, PEER_REFLECT = 2 };

struct bench_peer;

/*
 * Load and attach the peer to BENCH_PEER_IF in namespace ns. pin_dir: an
 * agent's pins, whose session table it times tko's probes against, or NULL.
 */
struct bench_peer *peer_attach(const char *ns, const char *pin_dir);
void peer_mode(struct bench_peer *p, int mode);
uint64_t peer_count(struct bench_peer *p, int which);	/* PEER_SINK: sunk, PEER_REFLECT: reflected */
/* The probe delays recorded (track mode): late = arrival - due, queue = arrival - its pass. */
size_t peer_samples(struct bench_peer *p, double *late_ms, double *queue_ms, size_t max);
void peer_reset_samples(struct bench_peer *p);
void peer_detach(struct bench_peer *p);

/* Run time of the peer program so far (BPF run-time statistics, when on). */
uint64_t peer_run_ns(struct bench_peer *p);
/* Run time of any program, by fd. */
uint64_t prog_fd_run_ns(int fd);

/* Attach prog_fd as ifname's native XDP program in namespace ns (-1: detach). */
void xdp_set(const char *ns, const char *ifname, int prog_fd);

#endif /* TKO_BENCH_PEERCTL_H */
