// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Removing a datapath: what `tko unload` and `tko agent --cleanup` do for
 * one a dead agent (or --persist) left pinned, and what the agent's own exit
 * shares with them (its sessions ended, their handoff state reported).
 */
#define _XOPEN_SOURCE 700	/* nftw() */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "carrier.h"
#include "cgroup.h"
#include "lock.h"
#include "log.h"
#include "tko_dp.h"

/* Collect the keys of the live sessions (tko_dp_session_foreach). */
struct keys {
	struct tko_key *k;
	size_t n, cap;
};

static int collect_key(__u32 id, const struct tko_session *s, void *ctx)
{
	struct keys *ks = ctx;

	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? 2 * ks->cap : 1024;
		struct tko_key *m = realloc(ks->k, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		ks->k = m;
		ks->cap = cap;
	}
	ks->k[ks->n++] = s->key;
	return 0;
}

void stop_all_sessions(const char *pin_dir)
{
	struct keys ks = {};
	struct tko *t;
	int err;

	err = tko_open(pin_dir, &t);
	if (err) {
		pr_warn("cannot open the session table to end the sessions: %s", strerror(-err));
		return;
	}
	err = tko_dp_session_foreach(t, collect_key, &ks);
	if (err)
		pr_warn("cannot read the session table: %s", strerror(-err));
	for (size_t i = 0; i < ks.n; i++)
		tko_dp_session_stop(t, &ks.k[i]);	/* -ENOENT: it ended meanwhile */
	free(ks.k);
	tko_close(t);
}

int recorded_ifaces(const struct tko_fds *f, int ifindex[TKO_MAX_IFACES])
{
	struct tko_carrier_state st = {};
	__u32 zero = 0;
	int n = 0;

	if (bpf_map_lookup_elem(f->fd[P_CARRIER], &zero, &st))
		return 0;
	for (int i = 0; i < TKO_MAX_IFACES && st.ifindex[i]; i++)
		ifindex[n++] = st.ifindex[i];
	return n;
}

/* Remove a whole datapath: sessions (reported), attachments, carrier, pins. */
static void unload(const struct tko_fds *f, const char *pin_dir)
{
	int ifindex[TKO_MAX_IFACES], n = recorded_ifaces(f, ifindex);
	struct tko_agent_info info = {};
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(f->fd[P_AGENT_INFO], &zero, &info) && info.cgroup[0])
		sockops_detach(info.cgroup, f->fd[P_PROG_SOCKOPS]);
	stop_all_sessions(pin_dir);
	for (int i = 0; i < n; i++)
		iface_detach_ours(ifindex[i], f);
	carrier_remove();
	tko_bpf_unpin(pin_dir);
}

/* The cgroup walk of sockops_detach_all(): the program to find. */
static struct {
	int fd;
	__u32 id;
	int detached;
} sockops_walk;

static int detach_sockops_at(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	__u32 ids[64], n = 64;
	int fd;

	if (type != FTW_D)
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (!bpf_prog_query(fd, BPF_CGROUP_SOCK_OPS, 0, NULL, ids, &n))
		for (__u32 i = 0; i < n && i < 64; i++)
			if (ids[i] == sockops_walk.id &&
			    !bpf_prog_detach2(sockops_walk.fd, fd, BPF_CGROUP_SOCK_OPS))
				sockops_walk.detached++;
	close(fd);
	return 0;
}

/*
 * The sockops program prog_fd, from every cgroup it is attached to: where
 * the datapath's record of its cgroup cannot be read, the cgroup tree is
 * walked (as bpftool cgroup tree does).
 */
static void sockops_detach_all(int prog_fd)
{
	char root[PATH_MAX];

	if (prog_fd < 0 || cgroup2_root(root, sizeof(root)))
		return;
	sockops_walk.fd = prog_fd;
	sockops_walk.id = tko_obj_id(prog_fd);
	sockops_walk.detached = 0;
	if (sockops_walk.id)
		nftw(root, detach_sockops_at, 16, FTW_PHYS | FTW_MOUNT);
	if (sockops_walk.detached)
		pr_info("sockops detached from %d cgroup(s)", sockops_walk.detached);
}

/* What unpinning left in pin_dir: files of another version's datapath. */
static void report_leftovers(const char *pin_dir)
{
	DIR *d = opendir(pin_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			pr_warn("%s/%s is left: no pin of this version of tko (rm removes it)",
				pin_dir, e->d_name);
	closedir(d);
}

/*
 * A datapath this tko cannot read (another version's maps, or pins a crash
 * left incomplete): its sessions cannot be reported, but its programs are
 * found by their ids wherever they are attached, and all of it removed.
 */
static void unload_unreadable(const struct tko_fds *f, const char *pin_dir)
{
	struct if_nameindex *ifs = if_nameindex();

	pr_warn("the datapath pinned in %s cannot be read by this version of tko (another "
		"version's, or pins left incomplete): its sessions end unreported; removing its "
		"programs, carrier and pins", pin_dir);
	sockops_detach_all(f->fd[P_PROG_SOCKOPS]);
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		iface_detach_ours((int)i->if_index, f);
	if_freenameindex(ifs);
	carrier_remove();
	tko_bpf_unpin(pin_dir);
	report_leftovers(pin_dir);
}

int agent_unload(const char *pin_dir)
{
	struct tko_fds f;
	int err, lock = lock_take(pin_dir);

	if (lock < 0)
		return lock;
	err = tko_pins_open(pin_dir, &f);
	if ((err == -ENOENT || err == -ESTALE || err == -EPROTO) && !tko_pins_open_any(pin_dir, &f)) {
		unload_unreadable(&f, pin_dir);
		tko_fds_close(&f);
		lock_release(pin_dir, lock);
		pr_info("removed the datapath pinned in %s", pin_dir);
		return 0;
	}
	if (err == -ENOENT) {
		pr_info("nothing pinned in %s", pin_dir);
		/* A carrier without pins can only be a leftover. */
		carrier_remove();
		lock_release(pin_dir, lock);
		return 0;
	}
	if (err) {
		lock_release(pin_dir, lock);
		return err;
	}
	unload(&f, pin_dir);
	tko_fds_close(&f);
	lock_release(pin_dir, lock);
	pr_info("removed the datapath pinned in %s", pin_dir);
	return 0;
}
