// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>

#include "format.h"
#include "log.h"
#include "wake.h"

#define ETH_P_WOL 0x0842
#define WOL_PORT 9
#define TIMER_TAG (~0ULL)	/* epoll data of timer_fd; a hook's is its slot */

static unsigned long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void waker_init(struct waker *w)
{
	memset(w, 0, sizeof(*w));
	w->timeout_s = WAKE_TIMEOUT_S_DEFAULT;
	w->packet_fd = w->epoll_fd = w->timer_fd = -1;
}

int waker_set_ifaces(struct waker *w, const char *list, char *err, size_t errlen)
{
	char buf[512], *tok, *save = NULL;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "--wake-iface: list too long");
		return -EINVAL;
	}
	strcpy(buf, list);
	w->nifaces = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (w->nifaces == TKO_MAX_IFACES) {
			snprintf(err, errlen, "--wake-iface: at most %d interfaces", TKO_MAX_IFACES);
			return -E2BIG;
		}
		if (strlen(tok) >= IF_NAMESIZE) {
			snprintf(err, errlen, "--wake-iface: '%.32s' is no interface name", tok);
			return -EINVAL;
		}
		for (int i = 0; i < w->nifaces; i++)
			if (!strcmp(w->ifaces[i].name, tok)) {
				snprintf(err, errlen, "--wake-iface: '%s' given twice", tok);
				return -EINVAL;
			}
		strcpy(w->ifaces[w->nifaces++].name, tok);
	}
	if (!w->nifaces) {
		snprintf(err, errlen, "--wake-iface: no interface given");
		return -EINVAL;
	}
	return 0;
}

bool waker_on(const struct waker *w)
{
	return w->nifaces || w->exec[0];
}

/*
 * An interface's index, MAC and IPv4 address as they are now; -errno if
 * it is absent, -EPFNOSUPPORT if it is not Ethernet (no MAC to send from,
 * no frame a sleeping NIC would look at).
 */
static int iface_read(int fd, struct wake_iface *ifc)
{
	struct ifreq ifr = {};

	strcpy(ifr.ifr_name, ifc->name);
	ifc->ifindex = 0;
	if (ioctl(fd, SIOCGIFINDEX, &ifr))
		return -errno;
	ifc->ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		return -errno;
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return -EPFNOSUPPORT;
	memcpy(ifc->mac, ifr.ifr_hwaddr.sa_data, 6);
	ifc->addr = 0;
	ifr.ifr_addr.sa_family = AF_INET;
	if (!ioctl(fd, SIOCGIFADDR, &ifr))
		ifc->addr = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
	return 0;
}

bool waker_refresh(struct waker *w)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool changed = false;

	if (fd < 0)
		return false;
	for (int i = 0; i < w->nifaces; i++) {
		int was = w->ifaces[i].ifindex;

		iface_read(fd, &w->ifaces[i]);
		changed |= was != w->ifaces[i].ifindex;
	}
	close(fd);
	return changed;
}

void waker_ifindexes(const struct waker *w, __u32 out[TKO_MAX_IFACES])
{
	int n = 0;

	memset(out, 0, TKO_MAX_IFACES * sizeof(out[0]));
	for (int i = 0; i < w->nifaces; i++)
		if (w->ifaces[i].ifindex)
			out[n++] = w->ifaces[i].ifindex;
}

int waker_check(struct waker *w)
{
	struct stat st;
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < w->nifaces && !err; i++) {
		err = iface_read(fd, &w->ifaces[i]);
		if (err == -EPFNOSUPPORT)
			pr_warn("--wake-iface %s: not an Ethernet interface (a sleeping device "
				"can only be woken by frames on its link)", w->ifaces[i].name);
		else if (err)
			pr_warn("--wake-iface %s: %s", w->ifaces[i].name,
				err == -ENODEV ? "no such interface" : strerror(-err));
	}
	close(fd);
	if (err || !w->exec[0])
		return err;
	if (w->exec[0] != '/') {
		pr_warn("--on-wake-exec %s: give an absolute path", w->exec);
		return -EINVAL;
	}
	errno = 0;
	if (stat(w->exec, &st) || !S_ISREG(st.st_mode) || access(w->exec, X_OK)) {
		pr_warn("--on-wake-exec %s: %s", w->exec,
			errno ? strerror(errno) : "not a regular file");
		return -EINVAL;
	}
	/* It runs as the agent does (root): nobody else may change it. */
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		pr_warn("--on-wake-exec %s: writable by others than its owner, or not owned by "
			"root (it would run as root)", w->exec);
		return -EPERM;
	}
	return 0;
}

int waker_open(struct waker *w, const char *pin_dir)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TIMER_TAG };
	int err = waker_check(w);

	if (err)
		return err;
	snprintf(w->pin_dir, sizeof(w->pin_dir), "%s", pin_dir);
	if (w->nifaces) {
		w->packet_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		if (w->packet_fd < 0) {
			err = -errno;
			pr_warn("cannot open a packet socket for the wakes: %s", strerror(errno));
			return err;
		}
	}
	if (!w->exec[0])
		return 0;
	w->queue = calloc(WAKE_QUEUE_MAX, sizeof(*w->queue));
	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!w->queue || w->epoll_fd < 0 || w->timer_fd < 0 ||
	    epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->timer_fd, &ev)) {
		err = errno ? -errno : -ENOMEM;
		pr_warn("cannot set up the wake hook: %s", strerror(-err));
		return err;
	}
	return 0;
}

static void magic_payload(__u8 *p, const __u8 target[6])
{
	memset(p, 0xff, 6);
	for (int i = 1; i <= 16; i++)
		memcpy(p + 6 * i, target, 6);
}

static void eth_header(__u8 *frame, const __u8 src[6], __u16 proto)
{
	memset(frame, 0xff, 6);
	memcpy(frame + 6, src, 6);
	frame[12] = proto >> 8;
	frame[13] = proto & 0xff;
}

size_t wake_frame_ether(__u8 *frame, const __u8 src[6], const __u8 target[6])
{
	eth_header(frame, src, ETH_P_WOL);
	magic_payload(frame + 14, target);
	return 14 + WAKE_MAGIC_LEN;
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static __u32 csum_add(__u32 sum, const __u8 *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

size_t wake_frame_udp(__u8 *frame, const __u8 src[6], __u32 saddr, const __u8 target[6])
{
	__u8 *ip = frame + 14, *udp = ip + 20, *data = udp + 8;
	__u16 ulen = 8 + WAKE_MAGIC_LEN, tot = 20 + ulen, sum;
	__u32 daddr = 0xffffffff, pseudo;

	eth_header(frame, src, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = tot >> 8;
	ip[3] = tot & 0xff;
	ip[6] = 0x40;		/* DF */
	ip[8] = 64;		/* TTL */
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	sum = csum_fold(csum_add(0, ip, 20));
	ip[10] = sum >> 8;
	ip[11] = sum & 0xff;

	udp[0] = WOL_PORT >> 8;	/* as wakeonlan: from and to the discard port */
	udp[1] = WOL_PORT & 0xff;
	udp[2] = WOL_PORT >> 8;
	udp[3] = WOL_PORT & 0xff;
	udp[4] = ulen >> 8;
	udp[5] = ulen & 0xff;
	udp[6] = udp[7] = 0;
	magic_payload(data, target);
	pseudo = csum_add(0, ip + 12, 8) + IPPROTO_UDP + ulen;
	sum = csum_fold(csum_add(pseudo, udp, ulen));
	sum = sum ?: 0xffff;	/* 0 means no checksum (RFC 768) */
	udp[6] = sum >> 8;
	udp[7] = sum & 0xff;
	return 14 + tot;
}

static int send_frame(int fd, int ifindex, const __u8 *frame, size_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = ifindex,
		.sll_halen = 6,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};

	return sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0 ? -errno : 0;
}

static const char *mac_text(const __u8 m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static const struct wake_iface *iface_by_index(const struct waker *w, __u32 ifindex)
{
	for (int i = 0; i < w->nifaces; i++)
		if (ifindex && (__u32)w->ifaces[i].ifindex == ifindex)
			return &w->ifaces[i];
	return NULL;
}

/*
 * Both magic packets on every target interface: TKO_WAKE_SENT if a device
 * took at least one frame, TKO_WAKE_SEND_FAILED if none did, 0 if there
 * was nothing to send (no MAC, or no wake interface).
 */
static __u32 send_magic(struct waker *w, const struct tko_wake *wk)
{
	const struct wake_iface *only = NULL;
	__u8 frame[WAKE_FRAME_MAX];
	char l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN], mac[18];
	int tried = 0, sent = 0, err = 0, fd;

	if (!wk->known || w->packet_fd < 0)
		return 0;
	if (wk->ifindex) {
		only = iface_by_index(w, wk->ifindex);
		if (!only)	/* gone, or no longer a wake interface: try them all */
			pr_debug("wake: ifindex %u is not a wake interface now", wk->ifindex);
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (int i = 0; i < w->nifaces; i++) {
		struct wake_iface now = w->ifaces[i], *ifc = &now;
		int e1, e2;

		if (!ifc->ifindex || (only && &w->ifaces[i] != only))
			continue;
		tried++;
		/* Its MAC and address as they are now (an address change is
		 * no link event): the frames' sources. */
		e1 = fd >= 0 ? iface_read(fd, ifc) : 0;
		if (e1 || ifc->ifindex != w->ifaces[i].ifindex) {
			err = e1 ?: -ENODEV;	/* gone, or renamed: the link event follows */
			continue;
		}
		e1 = send_frame(w->packet_fd, ifc->ifindex, frame,
				wake_frame_ether(frame, ifc->mac, wk->mac));
		e2 = send_frame(w->packet_fd, ifc->ifindex, frame,
				wake_frame_udp(frame, ifc->mac, ifc->addr, wk->mac));
		if (!e1 || !e2)
			sent++;
		else
			err = e1;
	}
	if (fd >= 0)
		close(fd);
	if (sent)
		return TKO_WAKE_SENT;
	format_key(&wk->key, l, r);
	pr_warn("wake %s (%s -> %s): %s", mac_text(wk->mac, mac), l, r,
		tried ? strerror(-err) : "no wake interface is there");
	return TKO_WAKE_SEND_FAILED;
}

int wake_hook_env(const struct tko_wake *wk, const char *ifname, const char *pin_dir,
		  char **env, int max, char *buf, size_t len)
{
	char l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN], la[ENDPOINT_STRLEN], ra[ENDPOINT_STRLEN];
	char mac[18], dev[INET6_ADDRSTRLEN];
	int n = 0;
	size_t off = 0;

	format_key(&wk->key, l, r);
	/* the addresses alone: ADDR of ADDR:PORT, [ADDR6] without brackets */
	snprintf(la, sizeof(la), "%.*s", (int)(strrchr(l, ':') - l), l + 0);
	snprintf(ra, sizeof(ra), "%.*s", (int)(strrchr(r, ':') - r), r + 0);
	if (la[0] == '[') {
		memmove(la, la + 1, strlen(la));
		la[strlen(la) - 1] = '\0';
		memmove(ra, ra + 1, strlen(ra));
		ra[strlen(ra) - 1] = '\0';
	}
#define PUT(...)                                                                  \
	do {                                                                       \
		int k;                                                             \
		if (n >= max - 1 || off >= len)                                    \
			return -ENOSPC;                                            \
		k = snprintf(buf + off, len - off, __VA_ARGS__);                   \
		if (k < 0 || (size_t)k >= len - off)                               \
			return -ENOSPC;                                            \
		env[n++] = buf + off;                                              \
		off += k + 1;                                                      \
	} while (0)
	PUT("TKO_EVENT=wake");
	PUT("TKO_REASON=%s", reason_name(wk->reason));
	PUT("TKO_FAMILY=%s", wk->key.family == TKO_AF_INET6 ? "ipv6" : "ipv4");
	PUT("TKO_LOCAL=%s", l);
	PUT("TKO_REMOTE=%s", r);
	PUT("TKO_LOCAL_ADDR=%s", la);
	PUT("TKO_LOCAL_PORT=%u", wk->key.lport);
	PUT("TKO_REMOTE_ADDR=%s", ra);
	PUT("TKO_REMOTE_PORT=%u", wk->key.rport);
	PUT("TKO_DEVICE_ADDR=%s", inet_ntop(wk->key.family == TKO_AF_INET6 ? AF_INET6 : AF_INET,
					     wk->addr, dev, sizeof(dev)) ?: "");
	PUT("TKO_MAC=%s", wk->known ? mac_text(wk->mac, mac) : "");
	PUT("TKO_IFACE=%s", ifname ? ifname : "");
	PUT("TKO_SESSION=%u", wk->id);
	PUT("TKO_WAKES=%u", wk->wakes);
	PUT("TKO_PIN_DIR=%s", pin_dir);
	PUT("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
#undef PUT
	env[n] = NULL;
	return n;
}

/* The earliest deadline of the running hooks into timer_fd (none: disarmed). */
static void arm_timer(struct waker *w)
{
	struct itimerspec its = {};
	unsigned long long first = 0;

	for (int i = 0; i < WAKE_HOOKS_MAX; i++)
		if (w->hooks[i].pid && !w->hooks[i].killed &&
		    (!first || w->hooks[i].deadline_ns < first))
			first = w->hooks[i].deadline_ns;
	if (first) {
		its.it_value.tv_sec = first / 1000000000ULL;
		its.it_value.tv_nsec = first % 1000000000ULL;
	}
	timerfd_settime(w->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/*
 * Run the hook for wk in slot h: its own process group (so that its time
 * being up kills everything it started), nothing of the agent's open but
 * stdout and stderr, stdin from /dev/null. 0, or -errno.
 */
static int hook_start(struct waker *w, struct wake_hook *h, const struct tko_wake *wk)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = h - w->hooks };
	const struct wake_iface *ifc = iface_by_index(w, wk->ifindex);
	char *argv[] = { w->exec, NULL }, *env[24], buf[2048];
	pid_t pid;
	int pidfd, err;

	if (wake_hook_env(wk, ifc ? ifc->name : NULL, w->pin_dir, env, 24, buf, sizeof(buf)) < 0)
		return -ENOSPC;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		if (null >= 0 && null != 0) {
			dup2(null, 0);
			close(null);
		}
		syscall(SYS_close_range, 3, ~0U, 0);
		execve(w->exec, argv, env);
		_exit(127);
	}
	setpgid(pid, pid);	/* also here: no window where a kill misses */
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, pidfd, &ev)) {
		err = -errno;
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (pidfd >= 0)
			close(pidfd);
		return err;
	}
	h->pid = pid;
	h->pidfd = pidfd;
	h->killed = false;
	h->deadline_ns = mono_ns() + (unsigned long long)w->timeout_s * 1000000000ULL;
	h->w = *wk;
	arm_timer(w);
	return 0;
}

/*
 * Start wk's hook now (TKO_WAKE_HOOK_STARTED), or queue it (0: reported
 * when it starts), or fail (TKO_WAKE_HOOK_FAILED).
 */
static __u32 hook_run(struct waker *w, const struct tko_wake *wk)
{
	char l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN];
	int err;

	for (int i = 0; i < WAKE_HOOKS_MAX; i++) {
		if (w->hooks[i].pid)
			continue;
		err = hook_start(w, &w->hooks[i], wk);
		if (!err)
			return TKO_WAKE_HOOK_STARTED;
		format_key(&wk->key, l, r);
		pr_warn("wake hook for %s -> %s: cannot start %s: %s", l, r, w->exec,
			strerror(-err));
		return TKO_WAKE_HOOK_FAILED;
	}
	if (w->qlen == WAKE_QUEUE_MAX) {
		format_key(&wk->key, l, r);
		pr_warn("wake hook for %s -> %s: not run, %d hooks running and %d waiting",
			l, r, WAKE_HOOKS_MAX, WAKE_QUEUE_MAX);
		return TKO_WAKE_HOOK_FAILED;
	}
	w->queue[(w->qhead + w->qlen++) % WAKE_QUEUE_MAX] = *wk;
	return 0;
}

void waker_wake(struct waker *w, const struct tko_wake *wk, wake_done_fn done, void *ctx)
{
	char l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN];
	unsigned long long age = mono_ns() - wk->ts_ns;
	size_t queued = w->qlen;
	__u32 result;

	format_key(&wk->key, l, r);
	/* Asked while no agent read the ring (an agent adopting the datapath
	 * finds them): the peer has given up or retransmitted since. */
	if (age > WAKE_STALE_NS) {
		pr_warn("wake %s -> %s: not sent, asked %llu s ago while no agent ran", l, r,
			age / 1000000000ULL);
		done(ctx, wk, TKO_WAKE_LOST);
		return;
	}
	result = send_magic(w, wk);
	if (w->exec[0])
		result |= hook_run(w, wk);
	if (!result && w->qlen == queued) {
		pr_warn("wake %s -> %s: %s", l, r, wk->known ? "no wake interface, no hook" :
			"its MAC is not known, and there is no hook (--on-wake-exec)");
		result = TKO_WAKE_LOST;
	}
	if (result)
		done(ctx, wk, result);
}

/* The hook in h is over (status as waitpid gives it): reported, slot freed. */
static void hook_ended(struct waker *w, struct wake_hook *h, int status, wake_done_fn done,
		       void *ctx)
{
	char l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN];
	bool ok = !h->killed && WIFEXITED(status) && WEXITSTATUS(status) == 0;

	if (!ok) {
		format_key(&h->w.key, l, r);
		if (h->killed && w->exiting)
			pr_warn("wake hook for %s -> %s: killed, the agent exits", l, r);
		else if (h->killed)
			pr_warn("wake hook for %s -> %s: killed after %u s (--on-wake-timeout)", l,
				r, w->timeout_s);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			pr_warn("wake hook for %s -> %s: %s could not be run (exit 127)", l, r,
				w->exec);
		else if (WIFEXITED(status))
			pr_warn("wake hook for %s -> %s: exit %d", l, r, WEXITSTATUS(status));
		else
			pr_warn("wake hook for %s -> %s: killed by signal %d", l, r,
				WTERMSIG(status));
	}
	epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, h->pidfd, NULL);
	close(h->pidfd);
	h->pid = 0;
	done(ctx, &h->w, ok ? TKO_WAKE_HOOK_RAN : TKO_WAKE_HOOK_FAILED);
	/* The slot is free: the next waiting hook runs in it. */
	while (w->qlen) {
		struct tko_wake next = w->queue[w->qhead];
		__u32 res;

		w->qhead = (w->qhead + 1) % WAKE_QUEUE_MAX;
		w->qlen--;
		res = hook_run(w, &next);
		done(ctx, &next, res);
		if (res & TKO_WAKE_HOOK_STARTED)
			break;
	}
	arm_timer(w);
}

void waker_poll(struct waker *w, wake_done_fn done, void *ctx)
{
	struct epoll_event got[WAKE_HOOKS_MAX + 1];
	int n;

	if (w->epoll_fd < 0)
		return;
	n = epoll_wait(w->epoll_fd, got, WAKE_HOOKS_MAX + 1, 0);
	for (int i = 0; i < n; i++) {
		if (got[i].data.u64 == TIMER_TAG) {
			unsigned long long now = mono_ns(), expirations;

			if (read(w->timer_fd, &expirations, sizeof(expirations)) < 0)
				pr_debug("wake timer: %s", strerror(errno));
			for (int j = 0; j < WAKE_HOOKS_MAX; j++) {
				struct wake_hook *h = &w->hooks[j];

				if (h->pid && !h->killed && h->deadline_ns <= now) {
					h->killed = true;
					kill(-h->pid, SIGKILL);
				}
			}
			arm_timer(w);
			continue;
		}
		if (got[i].data.u64 < WAKE_HOOKS_MAX) {
			struct wake_hook *h = &w->hooks[got[i].data.u64];
			int status;

			if (h->pid && waitpid(h->pid, &status, WNOHANG) == h->pid)
				hook_ended(w, h, status, done, ctx);
		}
	}
}

void waker_close(struct waker *w, wake_done_fn done, void *ctx)
{
	/* Those waiting never run; those running are killed: both failed. */
	for (; w->qlen; w->qlen--, w->qhead = (w->qhead + 1) % WAKE_QUEUE_MAX)
		done(ctx, &w->queue[w->qhead], TKO_WAKE_HOOK_FAILED);
	w->exiting = true;
	for (int i = 0; i < WAKE_HOOKS_MAX; i++) {
		struct wake_hook *h = &w->hooks[i];
		int status;

		if (!h->pid)
			continue;
		h->killed = true;
		kill(-h->pid, SIGKILL);
		if (waitpid(h->pid, &status, 0) == h->pid)
			hook_ended(w, h, status, done, ctx);
	}
	free(w->queue);
	w->queue = NULL;
	if (w->packet_fd >= 0)
		close(w->packet_fd);
	if (w->timer_fd >= 0)
		close(w->timer_fd);
	if (w->epoll_fd >= 0)
		close(w->epoll_fd);
	w->packet_fd = w->timer_fd = w->epoll_fd = -1;
}
