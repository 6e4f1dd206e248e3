// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of agent/daemon/wake.c: the magic packets byte by byte and on a
 * link (a veth pair in a network namespace of the test's own), the hook's
 * environment, and the hooks themselves: run, timed out (their whole
 * process group killed), failed, queued beyond WAKE_HOOKS_MAX, killed when
 * the agent exits. Every outcome is what tko_wake_done would be told.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "wake.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const __u8 TARGET[6] = { 0x02, 0xde, 0xad, 0xbe, 0xef, 0x01 };
static const __u8 SRC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xaa };
static char dir[64];	/* the test's scratch directory */

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static unsigned long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A wake the datapath asked for just now. */
static struct tko_wake sample_wake(bool v6)
{
	struct tko_wake w = {
		.type = TKO_SIG_WAKE, .id = 42, .known = 1, .reason = TKO_R_DATA_PEER,
		.ifindex = 0, .wakes = 2, .ts_ns = mono_ns(),
		.key = { .family = v6 ? TKO_AF_INET6 : TKO_AF_INET, .lport = 40000, .rport = 443 },
	};

	memcpy(w.mac, TARGET, 6);
	if (v6) {
		inet_pton(AF_INET6, "2001:db8::2", w.key.laddr);
		inet_pton(AF_INET6, "2001:db8:ff::1", w.key.raddr);
		inet_pton(AF_INET6, "2001:db8::2", w.addr);
	} else {
		inet_pton(AF_INET, "198.51.100.2", w.key.laddr);
		inet_pton(AF_INET, "203.0.113.9", w.key.raddr);
		inet_pton(AF_INET, "192.168.1.20", w.addr);	/* behind the gateway's NAT */
	}
	return w;
}

/* ---- the frames ------------------------------------------------------- */

static void check_magic(const __u8 *p)
{
	for (int i = 0; i < 6; i++)
		assert_int_equal(p[i], 0xff);
	for (int i = 1; i <= 16; i++)
		assert_memory_equal(p + 6 * i, TARGET, 6);
}

static void test_frame_ether(void **state)
{
	__u8 f[WAKE_FRAME_MAX];
	size_t n = wake_frame_ether(f, SRC, TARGET);

	assert_int_equal(n, 14 + 102);
	for (int i = 0; i < 6; i++)
		assert_int_equal(f[i], 0xff);	/* broadcast */
	assert_memory_equal(f + 6, SRC, 6);
	assert_int_equal(f[12], 0x08);
	assert_int_equal(f[13], 0x42);
	check_magic(f + 14);
}

/* One's complement sum of 16-bit words, folded (0xffff when it checks). */
static unsigned fold(unsigned long sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static unsigned long sum16(const __u8 *p, size_t n)
{
	unsigned long s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += p[i] << 8 | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	return s;
}

static void test_frame_udp(void **state)
{
	__u8 f[WAKE_FRAME_MAX], *ip = f + 14, *udp = f + 34;
	__u32 saddr;
	size_t n;

	inet_pton(AF_INET, "192.168.7.1", &saddr);
	n = wake_frame_udp(f, SRC, saddr, TARGET);
	assert_int_equal(n, 14 + 20 + 8 + 102);
	for (int i = 0; i < 6; i++)
		assert_int_equal(f[i], 0xff);
	assert_memory_equal(f + 6, SRC, 6);
	assert_int_equal(f[12] << 8 | f[13], 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[2] << 8 | ip[3], 20 + 8 + 102);
	assert_int_equal(ip[9], 17);
	assert_memory_equal(ip + 12, &saddr, 4);
	assert_memory_equal(ip + 16, "\xff\xff\xff\xff", 4);
	assert_int_equal(fold(sum16(ip, 20)), 0xffff);	/* header checksum */
	assert_int_equal(udp[0] << 8 | udp[1], 9);
	assert_int_equal(udp[2] << 8 | udp[3], 9);
	assert_int_equal(udp[4] << 8 | udp[5], 8 + 102);
	assert_int_not_equal(udp[6] << 8 | udp[7], 0);	/* a checksum, not "none" */
	assert_int_equal(fold(sum16(ip + 12, 8) + 17 + 8 + 102 + sum16(udp, 8 + 102)), 0xffff);
	check_magic(udp + 8);
}

/* ---- the hook's environment ------------------------------------------- */

static void check_env(char **env, int n, const char *const *want, int nwant)
{
	assert_int_equal(n, nwant);
	for (int i = 0; i < nwant; i++)
		assert_string_equal(env[i], want[i]);
	assert_null(env[n]);
}

static void test_env(void **state)
{
	static const char *const want4[] = {
		"TKO_EVENT=wake", "TKO_REASON=data_peer", "TKO_FAMILY=ipv4",
		"TKO_LOCAL=198.51.100.2:40000", "TKO_REMOTE=203.0.113.9:443",
		"TKO_LOCAL_ADDR=198.51.100.2", "TKO_LOCAL_PORT=40000",
		"TKO_REMOTE_ADDR=203.0.113.9", "TKO_REMOTE_PORT=443",
		"TKO_DEVICE_ADDR=192.168.1.20", "TKO_MAC=02:de:ad:be:ef:01", "TKO_IFACE=lan0", "TKO_SESSION=42", "TKO_WAKES=2",
		"TKO_PIN_DIR=/sys/fs/bpf/tko",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	};
	static const char *const want6[] = {
		"TKO_EVENT=wake", "TKO_REASON=fin_peer", "TKO_FAMILY=ipv6",
		"TKO_LOCAL=[2001:db8::2]:40000", "TKO_REMOTE=[2001:db8:ff::1]:443",
		"TKO_LOCAL_ADDR=2001:db8::2", "TKO_LOCAL_PORT=40000",
		"TKO_REMOTE_ADDR=2001:db8:ff::1", "TKO_REMOTE_PORT=443",
		"TKO_DEVICE_ADDR=2001:db8::2", "TKO_MAC=", "TKO_IFACE=", "TKO_SESSION=42", "TKO_WAKES=2",
		"TKO_PIN_DIR=/p",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	};
	struct tko_wake w4 = sample_wake(false), w6 = sample_wake(true);
	char *env[24], buf[2048];
	int n;

	n = wake_hook_env(&w4, "lan0", "/sys/fs/bpf/tko", env, 24, buf, sizeof(buf));
	check_env(env, n, want4, ARRAY_LEN(want4));
	w6.known = 0;
	w6.reason = TKO_R_FIN_PEER;
	n = wake_hook_env(&w6, NULL, "/p", env, 24, buf, sizeof(buf));
	check_env(env, n, want6, ARRAY_LEN(want6));
	/* too small: refused, never cut */
	assert_int_equal(wake_hook_env(&w4, "lan0", "/p", env, 10, buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(wake_hook_env(&w4, "lan0", "/p", env, 24, buf, 200), -ENOSPC);
}

/* ---- interfaces --------------------------------------------------------- */

static void test_set_ifaces(void **state)
{
	static const struct {
		const char *in;
		int ret, n;
	} cases[] = {
		{ "lan0", 0, 1 }, { "lan0,lan1", 0, 2 }, { "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", 0, 16 },
		{ "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", -E2BIG, 0 }, { "lan0,lan0", -EINVAL, 0 },
		{ "", -EINVAL, 0 }, { ",", -EINVAL, 0 }, { "averyveryverylongname", -EINVAL, 0 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct waker w;
		char err[256] = "";
		int ret;

		waker_init(&w);
		ret = waker_set_ifaces(&w, cases[i].in, err, sizeof(err));
		if (ret != cases[i].ret || (!ret && w.nifaces != cases[i].n))
			fail_msg("'%s': ret %d n %d", cases[i].in, ret, w.nifaces);
		if (ret && (!strstr(err, "--wake-iface") || strchr(err, '\n')))
			fail_msg("'%s': message \"%s\"", cases[i].in, err);
		assert_true(ret || waker_on(&w));
	}
}

/* Not an interface, not Ethernet, a hook that cannot be run: refused at start. */
static void test_open_refuses(void **state)
{
	char err[256], path[128];
	struct waker w;

	waker_init(&w);
	assert_int_equal(waker_set_ifaces(&w, "nosuchif0", err, sizeof(err)), 0);
	assert_int_equal(waker_open(&w, "/p"), -ENODEV);
	waker_init(&w);
	assert_int_equal(waker_set_ifaces(&w, "lo", err, sizeof(err)), 0);
	assert_int_equal(waker_open(&w, "/p"), -EPFNOSUPPORT);
	waker_init(&w);
	strcpy(w.exec, "relative/hook");
	assert_int_equal(waker_open(&w, "/p"), -EINVAL);
	waker_init(&w);
	snprintf(path, sizeof(path), "%s/not-executable", dir);
	assert_int_equal(sh("touch %s && chmod 644 %s", path, path), 0);
	strcpy(w.exec, path);
	assert_int_equal(waker_open(&w, "/p"), -EINVAL);
	waker_init(&w);
	strcpy(w.exec, dir);	/* a directory */
	assert_int_equal(waker_open(&w, "/p"), -EINVAL);
	/* it would run as root: writable by nobody else */
	waker_init(&w);
	snprintf(path, sizeof(path), "%s/group-writable", dir);
	assert_int_equal(sh("touch %s && chmod 775 %s", path, path), 0);
	strcpy(w.exec, path);
	assert_int_equal(waker_open(&w, "/p"), -EPERM);
	waker_init(&w);
	snprintf(path, sizeof(path), "%s/not-root", dir);
	assert_int_equal(sh("touch %s && chmod 755 %s && chown 65534 %s", path, path, path), 0);
	strcpy(w.exec, path);
	assert_int_equal(waker_open(&w, "/p"), -EPERM);
	waker_init(&w);
	assert_false(waker_on(&w));
}

/* ---- outcomes --------------------------------------------------------- */

#define MAX_DONE 64
static struct done {
	struct tko_wake w;
	__u32 result;
} done[MAX_DONE];
static int ndone;

static void on_done(void *ctx, const struct tko_wake *w, __u32 result)
{
	if (ndone < MAX_DONE)
		done[ndone] = (struct done){ *w, result };
	ndone++;
}

/* Frames of EtherType 0x0842 and UDP port 9 that reached fd (AF_PACKET on the far end). */
static void count_frames(int fd, int *ether, int *udp)
{
	__u8 f[2048];
	ssize_t n;

	*ether = *udp = 0;
	while ((n = recv(fd, f, sizeof(f), MSG_DONTWAIT)) > 0) {
		if (n == 14 + 102 && f[12] == 0x08 && f[13] == 0x42 &&
		    !memcmp(f + 14 + 6, TARGET, 6))
			(*ether)++;
		else if (n >= 14 + 28 + 102 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17 &&
			 f[36] == 0 && f[37] == 9 && !memcmp(f + 14 + 28 + 6, TARGET, 6))
			(*udp)++;
	}
}

static int listen_on(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = if_nametoindex(ifname) };
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

static void settle(void)
{
	usleep(50 * 1000);
}

/*
 * On a link: both frames leave on the endpoint's wake interface only (or
 * on every one when it is not known); a link that is down refuses them
 * (SEND_FAILED); no MAC and no hook: nothing can be done (LOST).
 */
static void test_send(void **state)
{
	struct tko_wake wk = sample_wake(false);
	char err[256];
	struct waker w;
	int fa, fb, e, u;

	assert_int_equal(sh("ip link add wka type veth peer name wkap && "
			    "ip link add wkb type veth peer name wkbp && "
			    "for i in wka wkap wkb wkbp; do ip link set $i up || exit 1; done && "
			    "ip addr add 192.168.77.1/24 dev wka"), 0);
	fa = listen_on("wkap");
	fb = listen_on("wkbp");
	waker_init(&w);
	assert_int_equal(waker_set_ifaces(&w, "wka,wkb", err, sizeof(err)), 0);
	assert_int_equal(waker_open(&w, "/p"), 0);

	ndone = 0;
	wk.ifindex = if_nametoindex("wkb");
	waker_wake(&w, &wk, on_done, NULL);
	assert_int_equal(ndone, 1);
	assert_int_equal(done[0].result, TKO_WAKE_SENT);
	settle();
	count_frames(fb, &e, &u);
	assert_int_equal(e, 1);
	assert_int_equal(u, 1);
	count_frames(fa, &e, &u);
	assert_int_equal(e + u, 0);	/* not on the other wake interface */

	wk.ifindex = 0;	/* not known: all of them */
	waker_wake(&w, &wk, on_done, NULL);
	assert_int_equal(done[1].result, TKO_WAKE_SENT);
	settle();
	count_frames(fa, &e, &u);
	assert_int_equal(e, 1);
	assert_int_equal(u, 1);
	count_frames(fb, &e, &u);
	assert_int_equal(e, 1);
	assert_int_equal(u, 1);

	assert_int_equal(sh("ip link set wka down && ip link set wkb down"), 0);
	waker_wake(&w, &wk, on_done, NULL);
	assert_int_equal(done[2].result, TKO_WAKE_SEND_FAILED);

	wk.known = 0;
	waker_wake(&w, &wk, on_done, NULL);
	assert_int_equal(done[3].result, TKO_WAKE_LOST);

	/* asked long ago, while no agent read the ring: not sent */
	assert_int_equal(sh("ip link set wka up && ip link set wkb up"), 0);
	settle();
	count_frames(fa, &e, &u);
	wk = sample_wake(false);
	wk.ts_ns -= WAKE_STALE_NS + 1000000000ULL;
	waker_wake(&w, &wk, on_done, NULL);
	assert_int_equal(done[4].result, TKO_WAKE_LOST);
	settle();
	count_frames(fa, &e, &u);
	assert_int_equal(e + u, 0);
	assert_int_equal(ndone, 5);
	waker_close(&w, on_done, NULL);
	assert_int_equal(ndone, 5);
	close(fa);
	close(fb);
	sh("ip link del wka; ip link del wkb");
}

/* ---- hooks ------------------------------------------------------------ */

/* Poll the waker as the agent's loop does, until n outcomes or the deadline. */
static void wait_done(struct waker *w, int n, int deadline_ms)
{
	struct pollfd p = { .fd = w->epoll_fd, .events = POLLIN };
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ndone < n) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > deadline_ms)
			fail_msg("%d outcomes after %d ms, want %d", ndone, deadline_ms, n);
		if (poll(&p, 1, 100) > 0)
			waker_poll(w, on_done, NULL);
	}
}

static void hook_script(const char *name, const char *body)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static void hook_waker(struct waker *w, const char *name, unsigned int timeout_s)
{
	waker_init(w);
	snprintf(w->exec, sizeof(w->exec), "%s/%s", dir, name);
	w->timeout_s = timeout_s;
	assert_int_equal(waker_open(w, "/pins"), 0);
	assert_true(waker_on(w));
	ndone = 0;
}

static bool file_has(const char *name, const char *text)
{
	char path[128], buf[4096] = "";
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, text) != NULL;
}

/* The hook runs with the session in its environment; exit 0 is HOOK_RAN. */
static void test_hook_runs(void **state)
{
	struct tko_wake wk = sample_wake(false);
	char body[256];
	struct waker w;

	snprintf(body, sizeof(body), "env > %s/env.out; ls /proc/self/fd > %s/fds.out", dir,
		 dir);
	hook_script("ok.sh", body);
	hook_waker(&w, "ok.sh", 10);
	waker_wake(&w, &wk, on_done, NULL);
	assert_int_equal(ndone, 1);
	assert_int_equal(done[0].result, TKO_WAKE_HOOK_STARTED);	/* no wake interface */
	wait_done(&w, 2, 5000);
	assert_int_equal(done[1].result, TKO_WAKE_HOOK_RAN);
	assert_int_equal(done[1].w.id, 42);
	assert_true(file_has("env.out", "TKO_MAC=02:de:ad:be:ef:01\n"));
	assert_true(file_has("env.out", "TKO_REMOTE=203.0.113.9:443\n"));
	assert_true(file_has("env.out", "TKO_PIN_DIR=/pins\n"));
	assert_true(file_has("env.out", "TKO_DEVICE_ADDR=192.168.1.20\n"));
	assert_false(file_has("env.out", "HOME="));	/* only tko's environment */
	/* nothing of the agent's open: stdin (/dev/null), stdout, stderr, and
	 * the directory ls reads */
	assert_false(file_has("fds.out", "\n4\n"));
	waker_close(&w, on_done, NULL);
}

/* A non-zero exit, a hook that cannot be executed: HOOK_FAILED. */
static void test_hook_fails(void **state)
{
	struct tko_wake wk = sample_wake(true);
	struct waker w;

	hook_script("fail.sh", "exit 3");
	hook_waker(&w, "fail.sh", 10);
	waker_wake(&w, &wk, on_done, NULL);
	wait_done(&w, 2, 5000);
	assert_int_equal(done[1].result, TKO_WAKE_HOOK_FAILED);
	waker_close(&w, on_done, NULL);

	/* an interpreter that is not there: execve fails in the child */
	hook_script("noexec.sh", "");
	sh("sed -i '1s|.*|#!/nonexistent/interpreter|' %s/noexec.sh", dir);
	hook_waker(&w, "noexec.sh", 10);
	waker_wake(&w, &wk, on_done, NULL);
	wait_done(&w, 2, 5000);
	assert_int_equal(done[1].result, TKO_WAKE_HOOK_FAILED);
	waker_close(&w, on_done, NULL);
}

/* A process that runs (a zombie has died: its new parent reaps it when it may). */
static bool alive(int pid)
{
	char path[64], buf[256];
	FILE *f;
	char *p;
	bool z;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	z = p && (p[2] == 'Z' || p[2] == 'X');
	return !z;
}

/* Its time up, the hook is killed with everything it started. */
static void test_hook_timeout(void **state)
{
	struct tko_wake wk = sample_wake(false);
	char body[256], pidfile[128], pid[32] = "";
	struct timespec t0, t1;
	struct waker w;
	FILE *f;
	double s;

	snprintf(body, sizeof(body), "sleep 30 & echo $! > %s/child.pid; wait", dir);
	hook_script("slow.sh", body);
	hook_waker(&w, "slow.sh", 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	waker_wake(&w, &wk, on_done, NULL);
	wait_done(&w, 2, 5000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(done[1].result, TKO_WAKE_HOOK_FAILED);
	s = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (s < 0.9 || s > 3)
		fail_msg("killed after %.2f s, want about 1", s);
	snprintf(pidfile, sizeof(pidfile), "%s/child.pid", dir);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(pid, sizeof(pid), f));
	fclose(f);
	usleep(100 * 1000);
	if (alive(atoi(pid)))
		fail_msg("the hook's child %d survived it", atoi(pid));
	waker_close(&w, on_done, NULL);
}

/*
 * More wakes than WAKE_HOOKS_MAX at once: the rest wait, reported started
 * when they start as slots free up; all of them end HOOK_RAN. The agent
 * exiting kills those running and reports the waiting ones as failed.
 */
static void test_hook_queue(void **state)
{
	struct tko_wake wk = sample_wake(false);
	struct waker w;
	int running = 0, ran = 0, failed = 0;

	hook_script("short.sh", "sleep 0.3");
	hook_waker(&w, "short.sh", 10);
	for (int i = 0; i < WAKE_HOOKS_MAX + 4; i++) {
		wk.id = i;
		waker_wake(&w, &wk, on_done, NULL);
	}
	for (int i = 0; i < WAKE_HOOKS_MAX; i++)
		running += w.hooks[i].pid != 0;
	assert_int_equal(running, WAKE_HOOKS_MAX);
	assert_int_equal(w.qlen, 4);
	assert_int_equal(ndone, WAKE_HOOKS_MAX);	/* the waiting ones: not yet */
	wait_done(&w, 2 * (WAKE_HOOKS_MAX + 4), 10000);
	for (int i = 0; i < ndone; i++) {
		ran += done[i].result == TKO_WAKE_HOOK_RAN;
		assert_true(done[i].result == TKO_WAKE_HOOK_RAN ||
			    done[i].result == TKO_WAKE_HOOK_STARTED);
	}
	assert_int_equal(ran, WAKE_HOOKS_MAX + 4);
	waker_close(&w, on_done, NULL);

	hook_script("long.sh", "sleep 30");
	hook_waker(&w, "long.sh", 60);
	for (int i = 0; i < WAKE_HOOKS_MAX + 2; i++)
		waker_wake(&w, &wk, on_done, NULL);
	assert_int_equal(ndone, WAKE_HOOKS_MAX);	/* started; two wait */
	waker_close(&w, on_done, NULL);
	assert_int_equal(ndone, 2 * WAKE_HOOKS_MAX + 2);
	for (int i = WAKE_HOOKS_MAX; i < ndone; i++)
		failed += done[i].result == TKO_WAKE_HOOK_FAILED;
	assert_int_equal(failed, WAKE_HOOKS_MAX + 2);
}

static int setup(void **state)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	snprintf(dir, sizeof(dir), "/tmp/tko-test-wake.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	sh("rm -rf %s", dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_ether),
		cmocka_unit_test(test_frame_udp),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_set_ifaces),
		cmocka_unit_test(test_open_refuses),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_hook_runs),
		cmocka_unit_test(test_hook_fails),
		cmocka_unit_test(test_hook_timeout),
		cmocka_unit_test(test_hook_queue),
	};

	return cmocka_run_group_tests_name("wake", tests, setup, teardown);
}
