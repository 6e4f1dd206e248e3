// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "common.h"
#include "conns.h"

#define SERVER_PORT 5000
#define CLIENT_PORT 10000
#define CHUNK 512	/* connects in flight before their accepts */

static int listener(uint32_t pa, uint16_t port, size_t backlog)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = pa };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (void *)&sa, sizeof(sa)) || listen(fd, (int)backlog))
		die("listen on port %u: %s", port, strerror(errno));
	return fd;
}

static int dial(uint32_t ea, uint16_t lport, uint32_t pa, uint16_t rport)
{
	struct sockaddr_in l = { .sin_family = AF_INET, .sin_port = htons(lport),
				 .sin_addr.s_addr = ea };
	struct sockaddr_in r = { .sin_family = AF_INET, .sin_port = htons(rport),
				 .sin_addr.s_addr = pa };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (void *)&l, sizeof(l)) || connect(fd, (void *)&r, sizeof(r)))
		die("connect from port %u: %s", lport, strerror(errno));
	return fd;
}

void conns_open(struct conns *cs, size_t n, const char *ns_endpoint, const char *ns_peer,
		uint32_t ea, uint32_t pa)
{
	/* Each call its own server port: the tuples of closed connections are
	 * in TIME_WAIT for a minute. */
	static uint16_t port_base = SERVER_PORT, client_base = CLIENT_PORT;
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	uint64_t t0 = now_ns();

	memset(cs, 0, sizeof(*cs));
	cs->c = calloc(n, sizeof(*cs->c));
	cs->peer_fds = calloc(n, sizeof(int));
	if (!cs->c || !cs->peer_fds || home < 0)
		die("out of memory");
	raise_nofile(2 * n + 1024);

	netns_enter(ns_peer);
	cs->nlisten = (n + CONNS_PER_PORT - 1) / CONNS_PER_PORT;
	if (cs->nlisten > 8)
		die("at most %d connections", 8 * CONNS_PER_PORT);
	for (size_t p = 0; p < cs->nlisten; p++)
		cs->listen_fd[p] = listener(pa, port_base + p, 2 * CHUNK);

	netns_enter(ns_endpoint);
	/* The handshake completes in softirq as connect() sends the SYN: the
	 * accepts can follow a chunk later. */
	for (size_t i = 0; i < n; i += CHUNK) {
		size_t end = i + CHUNK < n ? i + CHUNK : n;

		for (size_t j = i; j < end; j++) {
			struct conn *c = &cs->c[j];

			c->key.family = TKO_AF_INET;
			c->key.lport = client_base + j % CONNS_PER_PORT;
			c->key.rport = port_base + j / CONNS_PER_PORT;
			memcpy(c->key.laddr, &ea, 4);
			memcpy(c->key.raddr, &pa, 4);
			c->fd = dial(ea, c->key.lport, pa, c->key.rport);
		}
		for (size_t j = i; j < end; j++) {
			cs->peer_fds[j] = accept4(cs->listen_fd[j / CONNS_PER_PORT], NULL, NULL,
						  SOCK_CLOEXEC);
			if (cs->peer_fds[j] < 0)
				die("accept: %s", strerror(errno));
		}
	}
	cs->n = n;
	port_base += cs->nlisten;
	client_base += n < CONNS_PER_PORT ? n : 0;
	if (setns(home, CLONE_NEWNET))
		die("cannot return to our network namespace: %s", strerror(errno));
	close(home);
	if (n >= 10000)
		progress("%zu TCP connections in %.1f s", n, (now_ns() - t0) / 1e9);
}

static uint32_t queue_seq(int fd, int queue)
{
	uint32_t seq;
	socklen_t len = sizeof(seq);

	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) ||
	    getsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, &seq, &len))
		die("TCP_REPAIR: %s", strerror(errno));
	return seq;
}

void conns_read_state(struct conns *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		struct conn *c = &cs->c[i];
		int on = 1, off = TCP_REPAIR_OFF_NO_WP;

		if (setsockopt(c->fd, SOL_TCP, TCP_REPAIR, &on, sizeof(on)))
			die("TCP_REPAIR: %s", strerror(errno));
		c->tcp.snd_nxt = queue_seq(c->fd, TCP_SEND_QUEUE);
		c->tcp.rcv_nxt = queue_seq(c->fd, TCP_RECV_QUEUE);
		/* No window probe on leaving repair mode: the session stays idle. */
		setsockopt(c->fd, SOL_TCP, TCP_REPAIR, &off, sizeof(off));
		c->tcp.window = 502;	/* 64256 >> 7: any value does for the costs measured */
		c->tcp.wscale = 7;
	}
}

void conns_close(struct conns *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		close(cs->c[i].fd);
		close(cs->peer_fds[i]);
	}
	for (size_t p = 0; p < cs->nlisten; p++)
		close(cs->listen_fd[p]);
	free(cs->c);
	free(cs->peer_fds);
	memset(cs, 0, sizeof(*cs));
}
