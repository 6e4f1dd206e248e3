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
 *       Lines read from stdin are sent to the peer ("sent LINE"), as the
 *       client does: the server's application speaking first.
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
 *   tcpkit wol IFACE MAC CMD...
 *       a Wake-on-LAN listener, as a NIC armed for "wake on magic packet":
 *       an AF_PACKET socket on IFACE (it sees frames before netfilter, so it
 *       hears while the host's firewall drops everything) prints "listening",
 *       then waits for a magic packet for MAC (6 x 0xff then 16 x MAC,
 *       anywhere in the payload of an EtherType 0x0842 frame or of an IPv4
 *       UDP datagram to port 9). The first one prints "woken by
 *       ethertype|udp at SEC.NSEC" (the frame's arrival, CLOCK_REALTIME)
 *       and runs CMD (execvp), waiting for it ("command status N"); every
 *       later one is printed too, CMD is not run again. Runs until killed.
 *
 * Lines go to stdout unbuffered so a test can wait for them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
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
#include <sys/wait.h>
#include <time.h>
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
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };

	for (;;) {
		ssize_t n;
		char *nl;

		if (poll(pfd, 2, -1) < 0)
			die("poll");
		if (pfd[1].revents) {
			char line[4096];

			n = read(0, line, sizeof(line));
			if (n <= 0) {
				pfd[1].fd = -1;	/* end of stdin: only read from now on */
			} else {
				if (write(fd, line, n) < 0)
					die("write");
				printf("sent %.*s", (int)n, line);
			}
		}
		if (!pfd[0].revents)
			continue;
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
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

/* The magic packet's sync stream, 6 x 0xff, then 16 x mac, anywhere in p. */
static bool magic(const unsigned char *p, size_t n, const unsigned char mac[6])
{
	for (size_t i = 0; i + 102 <= n; i++) {
		size_t k;

		if (memcmp(p + i, "\xff\xff\xff\xff\xff\xff", 6))
			continue;
		for (k = 0; k < 16 && !memcmp(p + i + 6 + 6 * k, mac, 6); k++)
			;
		if (k == 16)
			return true;
	}
	return false;
}

/* What kind of magic packet for mac the frame is: "ethertype", "udp" or NULL. */
static const char *wol_kind(const unsigned char *f, size_t n, const unsigned char mac[6])
{
	size_t off = ETH_HLEN;
	unsigned int proto;

	if (n < ETH_HLEN)
		return NULL;
	proto = f[12] << 8 | f[13];
	if ((proto == ETH_P_8021Q || proto == ETH_P_8021AD) && n >= ETH_HLEN + 4) {
		proto = f[16] << 8 | f[17];
		off += 4;
	}
	if (proto == 0x0842)
		return magic(f + off, n - off, mac) ? "ethertype" : NULL;
	if (proto == ETH_P_IP && n >= off + 20) {
		const unsigned char *ip = f + off, *udp;
		size_t ihl = (ip[0] & 0x0f) * 4;

		/* version 4, UDP, not a fragment after the first */
		if (ip[0] >> 4 != 4 || ihl < 20 || ip[9] != IPPROTO_UDP ||
		    ((ip[6] & 0x1f) | ip[7]) || n < off + ihl + 8)
			return NULL;
		udp = ip + ihl;
		if ((udp[2] << 8 | udp[3]) != 9)
			return NULL;
		return magic(udp + 8, n - off - ihl - 8, mac) ? "udp" : NULL;
	}
	return NULL;
}

static _Noreturn void wol(char **argv)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	unsigned char mac[6], frame[2048];
	int fd, one = 1;
	bool woken = false;

	if (sscanf(argv[3], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		   &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "tcpkit: bad MAC %s\n", argv[3]);
		exit(2);
	}
	sll.sll_ifindex = if_nametoindex(argv[2]);
	fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (!sll.sll_ifindex || fd < 0 || bind(fd, (void *)&sll, sizeof(sll)))
		die("listen");
	/* The kernel's arrival time of each frame, not the time we read it. */
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)))
		die("timestamp");
	printf("listening\n");
	for (;;) {
		char ctl[CMSG_SPACE(sizeof(struct timespec))];
		struct sockaddr_ll from;
		struct iovec iov = { .iov_base = frame, .iov_len = sizeof(frame) };
		struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from),
				      .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		struct timespec ts = { 0 };
		const char *kind;
		ssize_t n = recvmsg(fd, &msg, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recv");
		}
		/* What this host sends is no wake-up call. */
		if (from.sll_pkttype == PACKET_OUTGOING || !(kind = wol_kind(frame, n, mac)))
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		if (!ts.tv_sec)
			clock_gettime(CLOCK_REALTIME, &ts);
		printf("woken by %s at %lld.%09ld\n", kind, (long long)ts.tv_sec, ts.tv_nsec);
		if (woken)
			continue;
		woken = true;
		pid_t pid = fork();
		int status;

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(fd);
			execvp(argv[4], argv + 4);
			fprintf(stderr, "tcpkit: %s: %s\n", argv[4], strerror(errno));
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0)
			die("wait");
		printf("command status %d\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
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
	if (argc >= 5 && !strcmp(argv[1], "wol"))
		wol(argv);
	fprintf(stderr, "usage: tcpkit server|bytes|client ADDR PORT [IDLE INTVL CNT]\n"
			"       tcpkit sink|pool ADDR PORT N\n"
			"       tcpkit wol IFACE MAC CMD...\n");
	return 2;
}
