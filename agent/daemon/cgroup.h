/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The cgroup v2 side: where sockops is attached, and cgroup ids for policies. */
#ifndef TKO_CGROUP_H
#define TKO_CGROUP_H

#include <stddef.h>
#include <linux/types.h>

/* The cgroup2 mount point, from /proc/mounts. */
int cgroup2_root(char *buf, size_t len);

/* A cgroup directory's id (what the kernel reports) and depth below the root. */
int cgroup_id(const char *path, __u64 *id, __u32 *level);

/* Attach the sockops program to the cgroup, or adopt it if already there. */
int sockops_attach(const char *path, int prog_fd, bool *adopted);
void sockops_detach(const char *path, int prog_fd);

#endif /* TKO_CGROUP_H */
