// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpkit: the real TCP endpoints of the end-to-end tests and the demo.
 *
 *   tcpkit server ADDR PORT [IDLE INTVL CNT]
 *       accept one connection (with SO_KEEPALIVE when IDLE INTVL CNT are
 *       given) and print, one line each: "accepted PEER", "recv LINE",
 *       "eof", or "error REASON" when the kernel gives the connection up.
 *   tcpkit client ADDR PORT [IDLE INTVL CNT]
 *       connect (with SO_KEEPALIVE when IDLE INTVL CNT are given), print
 *       "connected LOCAL REMOTE", then send every line read
 *       from stdin; at the end of stdin keep the connection open, idle,
 *       until killed. Prints "recv LINE" for what the server sends and
 *       "error REASON" (exit 3) when the kernel reports the connection
 *       reset or timed out.
 *   tcpkit bytes ADDR PORT [IDLE INTVL CNT]
 *       as server, but byte-exact, for streams that are not lines: prints
 *       "data BYTES" for every read, printable ASCII as is and any other
 *       byte (backslash included) as \xHH, so a NUL or a newline shows.
 *
 *   tcpkit sink ADDR PORT N
 *       accept N connections, print "listening", then "accepted N" once all
 *       are in; keep them open, idle, until killed, and print "closed K" each
 *       time one of them ends (reset, timeout, FIN).
 *   tcpkit pool ADDR PORT N
 *       open N connections at once (a connection pool at start-up), print
 *       "connected N" once all are established, or "error REASON"; keep
 *       them open, idle, until killed, and print "closed K" each time one of
 *       them ends.
 *
 * Lines go to stdout unbuffered so a test can wait for them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int make_addr(const char *host, const char *port, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(atoi(port));
		*len = sizeof(*s4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(atoi(port));
		*len = sizeof(*s6);
		return AF_INET6;
	}
	fprintf(stderr, "tcpkit: bad address %s\n", host);
	exit(2);
}

static void fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	}
}

static void die(const char *what)
{
	printf("error %s: %s\n", what, strerror(errno));
	exit(3);
}

static void keepalive(int fd, char **argv)
{
	int one = 1, idle = atoi(argv[0]), intvl = atoi(argv[1]), cnt = atoi(argv[2]);

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)))
		die("keepalive");
}

/* "data BYTES": n bytes of the stream, escaped as tcpkit bytes says. */
static void print_bytes(const char *buf, size_t n)
{
	char out[4 * 4096 + 8];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = buf[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = c;
		else
			o += sprintf(out + o, "\\x%02x", c);
	}
	out[o] = '\0';
	printf("data %s\n", out);
}

static int server(int argc, char **argv)
{
	struct sockaddr_storage ss, peer;
	socklen_t len, plen = sizeof(peer);
	char buf[4096], name[80];
	int fam, lfd, fd, one = 1;
	bool bytes = !strcmp(argv[1], "bytes");
	size_t have = 0;

	fam = make_addr(argv[2], argv[3], &ss, &len);
	lfd = socket(fam, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (void *)&ss, len) || listen(lfd, 1))
		die("listen");
	printf("listening\n");
	fd = accept(lfd, (void *)&peer, &plen);
	if (fd < 0)
		die("accept");
	if (argc == 7)
		keepalive(fd, argv + 4);
	fmt(&peer, name, sizeof(name));
	printf("accepted %s\n", name);
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *nl;

		if (n < 0)
			die("read");
		if (n == 0) {
			printf("eof\n");
			return 0;
		}
		if (bytes) {
			print_bytes(buf, n);
			continue;
		}
		have += n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			printf("recv %s\n", buf);
			have -= nl + 1 - buf;
			memmove(buf, nl + 1, have + 1);
		}
	}
}

static _Noreturn void client(int argc, char **argv)
{
	struct sockaddr_storage ss, local;
	socklen_t len, llen = sizeof(local);
	char line[4096], l[80], r[80];
	int fam, fd;

	fam = make_addr(argv[2], argv[3], &ss, &len);
	fd = socket(fam, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (void *)&ss, len))
		die("connect");
	if (argc == 7)
		keepalive(fd, argv + 4);
	getsockname(fd, (void *)&local, &llen);
	fmt(&local, l, sizeof(l));
	fmt(&ss, r, sizeof(r));
	printf("connected %s %s\n", l, r);
	struct pollfd pfd[2] = { { .fd = 0, .events = POLLIN }, { .fd = fd, .events = POLLIN } };

	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			die("poll");
		if (pfd[1].revents) {
			ssize_t n = read(fd, line, sizeof(line) - 1);

			if (n < 0)
				die("read");
			if (n == 0) {
				printf("eof\n");
				exit(0);
			}
			line[n] = '\0';
			printf("recv %s", line);
		}
		if (pfd[0].revents) {
			ssize_t n = read(0, line, sizeof(line));

			if (n <= 0) {
				pfd[0].fd = -1;	/* end of stdin: stay connected, idle */
				continue;
			}
			if (write(fd, line, n) < 0)
				die("write");
			printf("sent %.*s", (int)n, line);
		}
	}
}

/* As many descriptors as the hard limit allows: a pool holds thousands. */
static void fd_limit(size_t need)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < need + 16) {
		errno = EMFILE;
		die("descriptors");
	}
}

/*
 * Hold the connections in ep open, idle, until killed: a readable socket
 * has ended (these peers never send), so it is reported and dropped.
 */
static _Noreturn void hold(int ep)
{
	struct epoll_event ev[64];
	size_t closed = 0;

	for (;;) {
		int n = epoll_wait(ep, ev, 64, -1);

		if (n < 0 && errno != EINTR)
			die("epoll");
		for (int i = 0; i < n; i++) {
			epoll_ctl(ep, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
			close(ev[i].data.fd);
			printf("closed %zu\n", ++closed);
		}
	}
}

static _Noreturn void sink(char **argv)
{
	struct sockaddr_storage ss;
	size_t n = strtoul(argv[4], NULL, 10), got = 0;
	int fam, lfd, one = 1, ep = epoll_create1(0);
	socklen_t len;

	fd_limit(n);
	fam = make_addr(argv[2], argv[3], &ss, &len);
	lfd = socket(fam, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || ep < 0 || bind(lfd, (void *)&ss, len) || listen(lfd, 4096))
		die("listen");
	printf("listening\n");
	while (got < n) {
		int fd = accept(lfd, NULL, NULL);
		struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };

		if (fd < 0)
			die("accept");
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e))
			die("epoll");
		got++;
	}
	printf("accepted %zu\n", got);
	hold(ep);
}

static _Noreturn void pool(char **argv)
{
	struct sockaddr_storage ss;
	size_t n = strtoul(argv[4], NULL, 10), done = 0;
	int fam, ep = epoll_create1(0), *fds;
	socklen_t len;

	fd_limit(n);
	fam = make_addr(argv[2], argv[3], &ss, &len);
	fds = calloc(n ? n : 1, sizeof(*fds));
	if (!fds || ep < 0)
		die("setup");
	/* Every connect in flight at once, as a pool that fills up at start. */
	for (size_t i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLOUT, .data.fd = 0 };

		fds[i] = socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fds[i] < 0)
			die("socket");
		if (connect(fds[i], (void *)&ss, len) && errno != EINPROGRESS)
			die("connect");
		e.data.fd = fds[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e))
			die("epoll");
	}
	while (done < n) {
		struct epoll_event ev[256];
		int k = epoll_wait(ep, ev, 256, 30000);

		if (k <= 0) {
			printf("error connect: %zu of %zu established in 30 s\n", done, n);
			exit(3);
		}
		for (int i = 0; i < k; i++) {
			int fd = ev[i].data.fd, err = 0;
			socklen_t el = sizeof(err);
			struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err) {
				errno = err;
				die("connect");
			}
			epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
			done++;
		}
	}
	printf("connected %zu\n", done);
	hold(ep);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if ((argc == 4 || argc == 7) && (!strcmp(argv[1], "server") || !strcmp(argv[1], "bytes")))
		return server(argc, argv);
	if ((argc == 4 || argc == 7) && !strcmp(argv[1], "client"))
		client(argc, argv);
	if (argc == 5 && !strcmp(argv[1], "sink"))
		sink(argv);
	if (argc == 5 && !strcmp(argv[1], "pool"))
		pool(argv);
	fprintf(stderr, "usage: tcpkit server|bytes|client ADDR PORT [IDLE INTVL CNT]\n"
			"       tcpkit sink|pool ADDR PORT N\n");
	return 2;
}
