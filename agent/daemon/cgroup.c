// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "cgroup.h"
#include "loader.h"
#include "log.h"

int cgroup2_root(char *buf, size_t len)
{
	char dev[256], dir[PATH_MAX], type[64];
	FILE *f = fopen("/proc/mounts", "r");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*s %*d %*d\n", dev, dir, type) == 3)
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			err = 0;
			break;
		}
	fclose(f);
	return err;
}

int cgroup_id(const char *path, __u64 *id, __u32 *level)
{
	char root[PATH_MAX], real[PATH_MAX];
	struct statfs sfs;
	struct stat st;
	size_t n;
	int err;

	if (!realpath(path, real) || stat(real, &st))
		return -errno;
	if (statfs(real, &sfs))
		return -errno;
	if (sfs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	err = cgroup2_root(root, sizeof(root));
	if (err)
		return err;
	n = strlen(root);
	if (strncmp(real, root, n) || (real[n] && real[n] != '/'))
		return -EXDEV;	/* another cgroup2 mount: its ids are the same, depth unknown */
	*level = 0;
	for (const char *p = real + n; *p; p++)
		if (*p == '/' && p[1])
			(*level)++;
	*id = st.st_ino;	/* cgroup v2: the directory's inode is the cgroup id */
	return 0;
}

int sockops_attach(const char *path, int prog_fd, bool *adopted)
{
	__u32 ids[64], n = 64, mine = tko_obj_id(prog_fd);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

	*adopted = false;
	if (fd < 0) {
		pr_warn("cgroup %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!bpf_prog_query(fd, BPF_CGROUP_SOCK_OPS, 0, NULL, ids, &n))
		for (__u32 i = 0; i < n; i++)
			*adopted |= ids[i] == mine;
	if (!*adopted && bpf_prog_attach(prog_fd, fd, BPF_CGROUP_SOCK_OPS, BPF_F_ALLOW_MULTI)) {
		err = -errno;
		pr_warn("cgroup %s: cannot attach sockops: %s", path, strerror(errno));
	}
	close(fd);
	return err;
}

void sockops_detach(const char *path, int prog_fd)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;	/* the cgroup is gone, and the attachment with it */
	if (bpf_prog_detach2(prog_fd, fd, BPF_CGROUP_SOCK_OPS) && errno != ENOENT)
		pr_warn("cgroup %s: cannot detach sockops: %s", path, strerror(errno));
	close(fd);
}
