// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "carrier.h"
#include "loader.h"
#include "log.h"
#include "tko_types.h"

extern char **environ;

/*
 * Run ip(8)/tc(8) from iproute2, a dependency of tko anyway: creating a veth
 * pair and a TBF qdisc is one line there and a page of rtnetlink here.
 * Returns the exit status, or -errno if it could not run.
 */
static int run(const char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int status, err;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		return -err;
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

static void disable_ipv6(const char *ifname)
{
	char path[128];
	FILE *f;

	/* No router solicitations or MLD reports on the private link. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	f = fopen(path, "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
}

/*
 * tko1's XDP program (tko_carrier_rx: lets everything pass), so that veth
 * hands the carrier to tko1 through its own ring, never through the CPU's
 * backlog that a pass's probes can fill (bpf/carrier.bpf.c). Kept if an
 * agent that is gone attached it.
 */
static int attach_carrier_rx(struct carrier *c, int rx_fd)
{
	__u32 id = 0;
	int err;

	c->ring = false;
	if (!bpf_xdp_query_id(c->peer_ifindex, XDP_FLAGS_DRV_MODE, &id) && id &&
	    id == tko_obj_id(rx_fd)) {
		c->ring = true;
		return 0;
	}
	err = bpf_xdp_attach(c->peer_ifindex, rx_fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err == -EINVAL || err == -ERANGE || err == -EOPNOTSUPP) {
		/* An older kernel's veth (6.1) takes no multi-buffer XDP
		 * program at an MTU larger than a page. The carrier works
		 * without (TKO_FEAT_CARRIER_RING, said at start); only a
		 * flood of probes may then drop it, and the watchdog
		 * restarts it. */
		pr_debug("%s: no XDP program at tko1's MTU: %s", CARRIER_PEER_IF, strerror(-err));
		return 0;
	}
	c->ring = !err;
	if (err)
		pr_warn("%s: cannot attach the carrier's XDP program: %s", CARRIER_PEER_IF,
			strerror(-err));
	return err;
}

static int attach_carrier(struct carrier *c, int prog_fd, int rx_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = c->peer_ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_warn("%s: cannot create the clsact qdisc: %s", CARRIER_PEER_IF, strerror(-err));
		return err;
	}
	/* Already there (an agent that is gone attached it): keep it. */
	if (!bpf_tc_query(&hook, &opts) && opts.prog_id == tko_obj_id(prog_fd))
		return attach_carrier_rx(c, rx_fd);
	opts.prog_id = 0;
	opts.prog_fd = prog_fd;
	opts.flags = BPF_TC_F_REPLACE;
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		pr_warn("%s: cannot attach the carrier program: %s", CARRIER_PEER_IF, strerror(-err));
	return err ?: attach_carrier_rx(c, rx_fd);
}

/*
 * TBF lets tko_tick_bytes() through per tick; the carrier program sets the
 * frame's length to the hold it wants (up to TKO_CARRIER_HOLD_MAX_MS), so
 * the bucket and the queue must take the longest frame, and both links must
 * carry it (the veth drops what exceeds the receiver's MTU).
 */
static int pace(unsigned int tick_ms)
{
	__u32 bytes = tko_tick_bytes(tick_ms);
	unsigned long rate_bit = bytes * 8UL * 1000 / tick_ms;
	__u32 max = bytes * tko_hold_max_ticks(tick_ms, bytes);
	char rate[32], burst[16], limit[16], mtu[16];
	const char *tbf[] = { "tc", "qdisc", "replace", "dev", CARRIER_LOOP_IF, "root", "tbf",
			      "rate", rate, "burst", burst, "limit", limit, NULL };
	const char *mtu0[] = { "ip", "link", "set", CARRIER_LOOP_IF, "mtu", mtu, NULL };
	const char *mtu1[] = { "ip", "link", "set", CARRIER_PEER_IF, "mtu", mtu, NULL };

	snprintf(rate, sizeof(rate), "%lubit", rate_bit);
	/* The frame that arrives finds the bucket empty (the last one took
	 * what had filled it): it waits its own length's worth of ticks. */
	snprintf(burst, sizeof(burst), "%u", max + bytes);
	snprintf(limit, sizeof(limit), "%u", 2 * (max + bytes));
	snprintf(mtu, sizeof(mtu), "%u", max < 1500 ? 1500 : max);
	if (run(mtu0) || run(mtu1)) {
		pr_warn("cannot set the carrier link's MTU to %s (ip link set %s mtu %s)", mtu,
			CARRIER_LOOP_IF, mtu);
		return -EIO;
	}
	if (run(tbf)) {
		pr_warn("cannot pace the carrier (tc qdisc replace dev %s root tbf rate %s burst %s)",
			CARRIER_LOOP_IF, rate, burst);
		return -EIO;
	}
	return 0;
}

int carrier_setup(struct carrier *c, int prog_fd, int rx_fd, int map_fd, unsigned int tick_ms,
		  const int *ifindex, int n, bool adopt)
{
	const char *add[] = { "ip", "link", "add", CARRIER_LOOP_IF, "type", "veth",
			      "peer", "name", CARRIER_PEER_IF, NULL };
	const char *up0[] = { "ip", "link", "set", CARRIER_LOOP_IF, "up", NULL };
	const char *up1[] = { "ip", "link", "set", CARRIER_PEER_IF, "up", NULL };
	struct tko_carrier_state st = {};
	__u32 zero = 0;
	int err;

	memset(c, 0, sizeof(*c));
	c->tick_ms = tick_ms;
	c->map_fd = map_fd;
	for (int i = 0; i < n && i < TKO_MAX_IFACES; i++)
		c->ifindex[i] = ifindex[i];

	if (if_nametoindex(CARRIER_LOOP_IF)) {
		if (!adopt) {
			pr_warn("carrier interface %s already exists: another agent runs in this "
				"network namespace, or one was killed ('tko unload' or 'ip link del "
				"%s' removes it)", CARRIER_LOOP_IF, CARRIER_LOOP_IF);
			return -EEXIST;
		}
		/* Adopt the running carrier: same generation, new interface list. */
		c->created = true;
		c->loop_ifindex = if_nametoindex(CARRIER_LOOP_IF);
		c->peer_ifindex = if_nametoindex(CARRIER_PEER_IF);
		if (bpf_map_lookup_elem(map_fd, &zero, &st) == 0) {
			/* The wheel counts in ticks: it keeps the tick it runs on. */
			if (st.tick_ns && st.tick_ns != (__u64)tick_ms * 1000000) {
				pr_warn("the running datapath ticks every %llu ms: keeping that "
					"(--tick-ms %u applies to a new one)",
					(unsigned long long)(st.tick_ns / 1000000), tick_ms);
				c->tick_ms = tick_ms = st.tick_ns / 1000000;
			}
			c->generation = st.generation;
			c->last_passes = st.passes;
			st.loop_ifindex = c->loop_ifindex;
			st.tick_ns = (__u64)tick_ms * 1000000;
			st.tick_bytes = tko_tick_bytes(tick_ms);
			st.watchdog_ms = carrier_watchdog_ms(tick_ms);
			for (int i = 0; i < TKO_MAX_IFACES; i++)
				st.ifindex[i] = c->ifindex[i];
			bpf_map_update_elem(map_fd, &zero, &st, BPF_ANY);
		}
		return pace(tick_ms) ?: attach_carrier(c, prog_fd, rx_fd);
	}

	err = run(add);
	if (err) {
		pr_warn("cannot create the carrier veth pair %s/%s (ip exited with %d)",
			CARRIER_LOOP_IF, CARRIER_PEER_IF, err);
		return -EIO;
	}
	c->created = true;
	c->loop_ifindex = if_nametoindex(CARRIER_LOOP_IF);
	c->peer_ifindex = if_nametoindex(CARRIER_PEER_IF);
	disable_ipv6(CARRIER_LOOP_IF);
	disable_ipv6(CARRIER_PEER_IF);
	if (run(up0) || run(up1)) {
		pr_warn("cannot bring the carrier link %s/%s up", CARRIER_LOOP_IF, CARRIER_PEER_IF);
		return -EIO;
	}
	err = pace(tick_ms) ?: attach_carrier(c, prog_fd, rx_fd);
	if (err)
		return err;
	if (bpf_map_lookup_elem(map_fd, &zero, &st) == 0)
		c->generation = st.generation;	/* new frames get a newer one */
	return carrier_inject(c);
}

int carrier_inject(struct carrier *c)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = c->loop_ifindex,
		.sll_halen = 6,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	__u8 frame[TKO_CARRIER_LEN] = {};
	struct tko_carrier_hdr *h = (void *)frame;
	struct tko_carrier_state st = {};
	__u32 zero = 0;
	int fd, err = 0;

	/* A new generation first: a frame of the old one, if it still
	 * circulates somewhere, is dropped at its next pass. */
	bpf_map_lookup_elem(c->map_fd, &zero, &st);
	st.loop_ifindex = c->loop_ifindex;
	st.tick_ns = (__u64)c->tick_ms * 1000000;
	st.tick_bytes = tko_tick_bytes(c->tick_ms);
	st.watchdog_ms = carrier_watchdog_ms(c->tick_ms);
	st.generation = ++c->generation;
	for (int i = 0; i < TKO_MAX_IFACES; i++)
		st.ifindex[i] = c->ifindex[i];
	if (bpf_map_update_elem(c->map_fd, &zero, &st, BPF_ANY)) {
		err = -errno;
		pr_warn("cannot update the carrier map: %s", strerror(errno));
		return err;
	}
	c->last_passes = st.passes;

	memset(h->dst, 0xff, 6);
	h->proto = htons(TKO_CARRIER_ETHERTYPE);
	h->magic = htonl(TKO_CARRIER_MAGIC);
	h->generation = c->generation;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, frame, sizeof(frame), 0, (void *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		pr_warn("cannot inject the carrier frame on %s: %s", CARRIER_LOOP_IF, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return err;
}

void carrier_set_ifaces(struct carrier *c, const int *ifindex, int n)
{
	struct tko_carrier_state st;
	__u32 zero = 0;
	int j = 0;

	memset(c->ifindex, 0, sizeof(c->ifindex));
	for (int i = 0; i < n && j < TKO_MAX_IFACES; i++)
		if (ifindex[i])	/* the list ends at the first 0 */
			c->ifindex[j++] = ifindex[i];
	if (bpf_map_lookup_elem(c->map_fd, &zero, &st))
		return;
	memcpy(st.ifindex, c->ifindex, sizeof(st.ifindex));
	bpf_map_update_elem(c->map_fd, &zero, &st, BPF_ANY);
}

void carrier_set_wake(struct carrier *c, const __u32 ifindex[TKO_MAX_IFACES], bool hook)
{
	struct tko_carrier_state st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(c->map_fd, &zero, &st))
		return;
	memcpy(st.wake_ifindex, ifindex, sizeof(st.wake_ifindex));
	st.wake_hook = hook;
	bpf_map_update_elem(c->map_fd, &zero, &st, BPF_ANY);
}

unsigned int carrier_watchdog_ms(unsigned int tick_ms)
{
	return tick_ms * 4 > TKO_WATCHDOG_MS ? tick_ms * 4 : TKO_WATCHDOG_MS;
}

static int carrier_passes(const struct carrier *c, __u64 *passes)
{
	struct tko_carrier_state st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(c->map_fd, &zero, &st))
		return -errno;
	*passes = st.passes;
	return 0;
}

bool carrier_passed(const struct carrier *c)
{
	__u64 passes = 0;

	return !carrier_passes(c, &passes) && passes != c->last_passes;
}

int carrier_lost(struct carrier *c, __u64 passes)
{
	__u64 now = 0;

	if (carrier_passes(c, &now) || now != passes)
		return 0;
	pr_warn("carrier lost (no pass for %u ms): re-injecting", carrier_watchdog_ms(c->tick_ms));
	return carrier_inject(c) ? 0 : 1;
}

void carrier_remove(void)
{
	const char *del[] = { "ip", "link", "del", CARRIER_LOOP_IF, NULL };

	if (if_nametoindex(CARRIER_LOOP_IF) && run(del))
		pr_warn("cannot remove the carrier interface %s", CARRIER_LOOP_IF);
}

void carrier_teardown(struct carrier *c)
{
	if (c->created)
		carrier_remove();
	c->created = false;
}
