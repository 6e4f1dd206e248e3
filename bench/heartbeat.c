// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What applications do today instead of tko: a userspace heartbeat.
 *
 *   heartbeat INTERVAL_S FD...
 *
 * The FDs are connected TCP sockets (inherited from keepalive_cost). Each
 * gets a timerfd firing every INTERVAL_S, the
 * phases spread over one interval; one epoll loop waits on all of them and
 * sends one byte on a socket when its timer fires. Runs until killed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#define BATCH 1024

int main(int argc, char **argv)
{
	struct epoll_event ev[BATCH];
	int count, interval, ep, *tfds, *socks;

	if (argc < 3)
		return 2;
	interval = atoi(argv[1]);
	count = argc - 2;
	socks = calloc(count, sizeof(int));
	if (!socks)
		return 1;
	for (int i = 0; i < count; i++)
		socks[i] = atoi(argv[2 + i]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfds = calloc(count > 0 ? count : 1, sizeof(int));
	if (ep < 0 || !tfds || count <= 0 || interval <= 0)
		return 1;
	for (int i = 0; i < count; i++) {
		long long phase = (long long)i * interval * 1000000000LL / count + 1000000;
		struct itimerspec its = {
			.it_value = { phase / 1000000000LL, phase % 1000000000LL },
			.it_interval = { interval, 0 },
		};
		int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = (unsigned int)i };

		if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &e)) {
			fprintf(stderr, "heartbeat: timer %d: %s\n", i, strerror(errno));
			return 1;
		}
		tfds[i] = tfd;
	}
	for (;;) {
		int n = epoll_wait(ep, ev, BATCH, -1);

		for (int k = 0; k < n; k++) {
			int i = (int)ev[k].data.u32;
			uint64_t expired;

			if (read(tfds[i], &expired, sizeof(expired)) < 0)
				continue;
			if (send(socks[i], "h", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
			    errno != EAGAIN)
				return 1;
		}
	}
}
