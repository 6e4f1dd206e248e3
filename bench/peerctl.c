// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "loader.h"
#include "peerctl.h"
#include "peer.skel.h"

/* Give the peer's copy of one of tko's maps the pinned one. */
static void share_pinned(struct bpf_map *m, const char *pin_dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		die("cannot open %s: %s", path, strerror(errno));
	if (bpf_map__reuse_fd(m, fd))
		die("cannot share tko's map %s with the peer", name);
	close(fd);	/* reuse_fd made its own copy */
}

struct bench_peer *peer_attach(const char *ns, const char *pin_dir)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), err;
	struct bench_peer *p = bench_peer__open();
	uint32_t net;

	if (!p || home < 0)
		die("cannot open the peer BPF object: %s", strerror(errno));
	if (pin_dir) {
		share_pinned(p->maps.sessions, pin_dir, pin_names[P_SESSIONS]);
		share_pinned(p->maps.sessions_index, pin_dir, pin_names[P_INDEX]);
		share_pinned(p->maps.table, pin_dir, pin_names[P_TABLE]);
		p->bss->track = 1;
	}
	err = bench_peer__load(p);
	if (err)
		die("cannot load the peer BPF object: %s", strerror(-err));
	inet_pton(AF_INET, BENCH_ENDPOINT_ADDR, &net);
	p->bss->endpoint_net = net & htonl(0xffff0000);
	p->bss->endpoint_mask = htonl(0xffff0000);
	inet_pton(AF_INET, BENCH_PEER_ADDR, (void *)&p->bss->peer_addr);

	if (setns(home, CLONE_NEWNET))
		die("setns: %s", strerror(errno));
	close(home);
	/* Native: a veth only takes the other end's XDP_TX frames (tko's
	 * answers) if it runs an XDP program itself. */
	xdp_set(ns, BENCH_PEER_IF, bpf_program__fd(p->progs.bench_peer));
	return p;
}

void xdp_set(const char *ns, const char *ifname, int prog_fd)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), err;

	netns_enter(ns);
	err = bpf_xdp_attach(if_nametoindex(ifname), prog_fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		die("XDP on %s in %s: %s", ifname, ns, strerror(-err));
	if (setns(home, CLONE_NEWNET))
		die("setns: %s", strerror(errno));
	close(home);
}

void peer_mode(struct bench_peer *p, int mode)
{
	p->bss->mode = mode;
}

uint64_t peer_count(struct bench_peer *p, int which)
{
	return which == PEER_SINK ? p->bss->sunk : which == PEER_REFLECT ? p->bss->reflected :
	       p->bss->seen;
}

size_t peer_samples(struct bench_peer *p, double *late_ms, double *queue_ms, size_t max)
{
	size_t n = p->bss->nsamples;

	if (n > max)
		n = max;
	if (n > sizeof(p->bss->late_ns) / sizeof(p->bss->late_ns[0]))
		n = sizeof(p->bss->late_ns) / sizeof(p->bss->late_ns[0]);
	for (size_t i = 0; i < n; i++) {
		late_ms[i] = (double)p->bss->late_ns[i] / 1e6;
		queue_ms[i] = (double)p->bss->queue_ns[i] / 1e6;
	}
	return n;
}

void peer_reset_samples(struct bench_peer *p)
{
	p->bss->nsamples = 0;
}

void peer_detach(struct bench_peer *p)
{
	/* The namespace goes with its veth when run.sh removes it: just unload. */
	bench_peer__destroy(p);
}

uint64_t prog_fd_run_ns(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.run_time_ns;
}

uint64_t peer_run_ns(struct bench_peer *p)
{
	return prog_fd_run_ns(bpf_program__fd(p->progs.bench_peer));
}
