// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>

#include "agent.h"

/* The size of a file, 0 if absent. */
static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_size;
}

/* Whether file holds `needle` after offset from (a whole read: lines are few). */
static bool file_has(const char *path, off_t from, const char *needle)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = pread(fd, buf, sizeof(buf) - 1, from);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

void agent_start(struct agent *a, const struct opts *o, const char *ns, const char *iface,
		 unsigned int tick_ms, unsigned int max_sessions, bool capture)
{
	agent_start_args(a, o, ns, iface, tick_ms, max_sessions, capture, NULL);
}

void agent_start_args(struct agent *a, const struct opts *o, const char *ns, const char *iface,
		      unsigned int tick_ms, unsigned int max_sessions, bool capture,
		      const char *const *extra)
{
	static int seq;
	char tko[512], tick[16], max[16], errlog[512], ready[300];
	const char *argv[32];
	int pfd[2] = { -1, -1 }, n = 0;
	uint64_t deadline;
	off_t from;

	memset(a, 0, sizeof(*a));
	a->out_fd = -1;
	/* A fresh pin directory each time: an agent refuses pins it did not make. */
	snprintf(a->pin_dir, sizeof(a->pin_dir), "%s-%d", o->pin_dir, seq++);
	snprintf(tko, sizeof(tko), "%s/tko", o->build);
	snprintf(a->tko, sizeof(a->tko), "%s", tko);
	snprintf(a->ns, sizeof(a->ns), "%s", ns);
	snprintf(tick, sizeof(tick), "%u", tick_ms);
	snprintf(max, sizeof(max), "%u", max_sessions);
	snprintf(errlog, sizeof(errlog), "%s/agent.err", o->work);
	if (capture && pipe2(pfd, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	from = file_size(errlog);

	a->pid = fork();
	if (a->pid < 0)
		die("fork: %s", strerror(errno));
	if (!a->pid) {
		int null = open("/dev/null", O_WRONLY), err = open(errlog, O_WRONLY | O_CREAT |
								   O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		netns_enter(ns);
		dup2(capture ? pfd[1] : null, 1);
		dup2(err >= 0 ? err : null, 2);
		argv[n++] = "tko";
		argv[n++] = "agent";
		argv[n++] = "--iface";
		argv[n++] = iface;
		argv[n++] = "--pin-dir";
		argv[n++] = a->pin_dir;
		if (tick_ms) {
			argv[n++] = "--tick-ms";
			argv[n++] = tick;
		}
		argv[n++] = "--max-sessions";
		argv[n++] = max;
		for (int i = 0; extra && extra[i] && n < 31; i++)
			argv[n++] = extra[i];
		argv[n] = NULL;
		execv(tko, (char *const *)argv);
		_exit(127);
	}
	if (capture) {
		close(pfd[1]);
		a->out_fd = pfd[0];
	}
	/* Ready once it says so: attached, the carrier running, pins made. */
	snprintf(ready, sizeof(ready), "tko: ready: pins in %s,", a->pin_dir);
	deadline = now_ns() + 60 * NSEC_PER_SEC;
	while (!file_has(errlog, from, ready)) {
		if (waitpid(a->pid, NULL, WNOHANG) == a->pid || now_ns() > deadline) {
			a->pid = 0;
			die("the agent did not start (see %s)", errlog);
		}
		sleep_ns(10 * 1000 * 1000);
	}
}

/* `tko unload --pin-dir` in the agent's namespace: what a killed agent left. */
static void unload(const struct agent *a)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		netns_enter(a->ns);
		dup2(null, 1);
		dup2(null, 2);
		execl(a->tko, "tko", "unload", "--pin-dir", a->pin_dir, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		progress("tko unload --pin-dir %s failed", a->pin_dir);
}

double agent_stop_within(struct agent *a, unsigned int limit_s)
{
	uint64_t t0 = now_ns(), deadline = t0 + limit_s * NSEC_PER_SEC;
	int status;

	if (a->pid <= 0)
		return 0;
	kill(a->pid, SIGTERM);
	/* It stops every session first (their handoff events): give it time. */
	while (waitpid(a->pid, &status, WNOHANG) != a->pid) {
		if (now_ns() > deadline) {
			progress("the agent did not stop within %u s: killed, `tko unload` cleans up",
				 limit_s);
			kill(a->pid, SIGKILL);
			waitpid(a->pid, &status, 0);
			unload(a);
			break;
		}
		sleep_ns(20 * 1000 * 1000);
	}
	if (a->out_fd >= 0)
		close(a->out_fd);
	a->pid = 0;
	a->out_fd = -1;
	return (now_ns() - t0) / 1e9;
}

void agent_stop(struct agent *a)
{
	agent_stop_within(a, 60);
}

/* A line "name: value" of an fd's fdinfo; false if it has none. */
static bool fdinfo_value(int fd, const char *name, unsigned long long *v)
{
	char path[64], line[256], fmt[64];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	snprintf(fmt, sizeof(fmt), "%s: %%llu", name);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, fmt, v) == 1;
	fclose(f);
	return found;
}

struct idset {
	__u32 id[256];
	int n;
};

static void idset_add(struct idset *s, __u32 id)
{
	for (int i = 0; i < s->n; i++)
		if (s->id[i] == id)
			return;
	if (s->n < (int)(sizeof(s->id) / sizeof(s->id[0])))
		s->id[s->n++] = id;
}

static void prog_maps(int prog_fd, struct idset *maps)
{
	__u32 ids[64], len;
	struct bpf_prog_info info = {};

	len = sizeof(info);
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return;
	for (__u32 i = 0; i < info.nr_map_ids && i < 64; i++)
		idset_add(maps, ids[i]);
}

uint64_t datapath_memlock(const char *pin_dir, int *nmaps)
{
	struct idset maps = { .n = 0 };
	DIR *d = opendir(pin_dir);
	struct dirent *e;
	uint64_t sum = 0;

	if (!d)
		die("cannot list %s: %s", pin_dir, strerror(errno));
	while ((e = readdir(d))) {
		struct bpf_map_info mi = {};
		struct bpf_link_info li = {};
		char path[600];
		unsigned long long kind;
		__u32 len;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, e->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		/* BPF_OBJ_GET_INFO_BY_FD answers for whatever the fd is: ask
		 * fdinfo first (map_type, prog_type or link_type). */
		if (fdinfo_value(fd, "map_type", &kind)) {
			len = sizeof(mi);
			if (!bpf_obj_get_info_by_fd(fd, &mi, &len))
				idset_add(&maps, mi.id);
		} else if (fdinfo_value(fd, "prog_type", &kind)) {
			prog_maps(fd, &maps);
		} else if (fdinfo_value(fd, "link_type", &kind) || fdinfo_value(fd, "link_id", &kind)) {
			len = sizeof(li);
			if (!bpf_obj_get_info_by_fd(fd, &li, &len)) {
				int pfd = bpf_prog_get_fd_by_id(li.prog_id);

				if (pfd >= 0) {
					prog_maps(pfd, &maps);
					close(pfd);
				}
			}
		}
		close(fd);
	}
	closedir(d);
	for (int i = 0; i < maps.n; i++) {
		int fd = bpf_map_get_fd_by_id(maps.id[i]);
		unsigned long long v = 0;

		if (fd < 0)
			continue;
		if (fdinfo_value(fd, "memlock", &v))
			sum += v;
		close(fd);
	}
	*nmaps = maps.n;
	return sum;
}

void dev_drops(pid_t pid, const char *ns, const char *ifname, struct dev_drops *d)
{
	char path[64], line[512], name[64], cmd[300];
	unsigned long long v[16];
	FILE *f;

	d->rx = d->tx = d->qdisc = -1;
	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon || sscanf(line, " %63[^:]", name) != 1 || strcmp(name, ifname))
			continue;
		/* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop */
		if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
			   &v[10], &v[11]) == 12) {
			d->rx = (long long)v[3];
			d->tx = (long long)v[11];
		}
	}
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "ip netns exec %s tc -s qdisc show dev %s root 2>/dev/null", ns,
		 ifname);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "(dropped ");
		long long q;

		if (p && sscanf(p, "(dropped %lld", &q) == 1)
			d->qdisc = (d->qdisc < 0 ? 0 : d->qdisc) + q;
	}
	if (f)
		pclose(f);
}
