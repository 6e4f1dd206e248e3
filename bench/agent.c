// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "agent.h"

void agent_start(struct agent *a, const struct opts *o, const char *ns, const char *iface,
		 unsigned int tick_ms, unsigned int max_sessions, bool capture)
{
	static int seq;
	char tko[512], tick[16], max[16], errlog[512], ready[300];
	int pfd[2] = { -1, -1 };
	uint64_t deadline;

	memset(a, 0, sizeof(*a));
	a->out_fd = -1;
	/* A fresh pin directory each time: an agent refuses pins it did not make. */
	snprintf(a->pin_dir, sizeof(a->pin_dir), "%s-%d", o->pin_dir, seq++);
	snprintf(tko, sizeof(tko), "%s/tko", o->build);
	snprintf(tick, sizeof(tick), "%u", tick_ms);
	snprintf(max, sizeof(max), "%u", max_sessions);
	snprintf(errlog, sizeof(errlog), "%s/agent.err", o->work);
	if (capture && pipe2(pfd, O_CLOEXEC))
		die("pipe: %s", strerror(errno));

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
		execl(tko, "tko", "agent", "--iface", iface, "--pin-dir", a->pin_dir, "--tick-ms",
		      tick, "--max-sessions", max, (char *)NULL);
		_exit(127);
	}
	if (capture) {
		close(pfd[1]);
		a->out_fd = pfd[0];
	}
	/* Ready once the control program is pinned (libtko opens it). */
	snprintf(ready, sizeof(ready), "%s/ctl_start", a->pin_dir);
	deadline = now_ns() + 20 * NSEC_PER_SEC;
	while (access(ready, F_OK)) {
		if (waitpid(a->pid, NULL, WNOHANG) == a->pid || now_ns() > deadline) {
			a->pid = 0;
			die("the agent did not start (see %s)", errlog);
		}
		sleep_ns(20 * 1000 * 1000);
	}
}

void agent_stop(struct agent *a)
{
	uint64_t deadline = now_ns() + 60 * NSEC_PER_SEC;
	int status;

	if (a->pid <= 0)
		return;
	kill(a->pid, SIGTERM);
	/* It stops every session first (their handoff events): give it time. */
	while (waitpid(a->pid, &status, WNOHANG) != a->pid) {
		if (now_ns() > deadline) {
			kill(a->pid, SIGKILL);
			waitpid(a->pid, &status, 0);
			break;
		}
		sleep_ns(20 * 1000 * 1000);
	}
	if (a->out_fd >= 0)
		close(a->out_fd);
	a->pid = 0;
	a->out_fd = -1;
}
