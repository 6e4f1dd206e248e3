// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tko agent: load the datapath (or adopt the one an earlier agent left
 * pinned), attach it to the interfaces, run the carrier, then sleep on the
 * ring buffer and print one line per event until SIGINT/SIGTERM.
 *
 * The datapath never depends on this process: everything is pinned and
 * attached through the kernel, so sessions keep running if the agent is
 * killed, and a new agent adopts them. On SIGINT/SIGTERM the agent removes
 * everything, unless --persist; `tko unload` (or `tko agent --cleanup`)
 * removes a datapath left behind.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "conntrack.h"
#include "cgroup.h"
#include "format.h"
#include "links.h"
#include "lock.h"
#include "log.h"
#include "route.h"
#include "tko_dp.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct agent *a = ctx;
	char line[1024];

	if (size < sizeof(struct tko_event))
		return 0;
	format_event(data, a->json, line, sizeof(line));
	printf("%s\n", line);
	return 0;
}

/* What was done for a wake, into the datapath: counted, reported as an event. */
static void wake_report(void *ctx, const struct tko_wake *w, __u32 result)
{
	struct agent *a = ctx;
	struct tko_wake_done d = { .key = w->key, .id = w->id, .reason = w->reason,
				   .result = result };
	int err = tko_ctl_call(a->fds.fd[P_CTL_WAKE_DONE], &d, sizeof(d));

	if (err)
		pr_warn("cannot report a wake to the datapath: %s", strerror(-err));
}

/*
 * What the datapath wants of the agent besides printing: paths and the
 * carrier noted, done after the batch; a wake at once (it is what the
 * endpoint waits for).
 */
static int handle_signal(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;
	const struct tko_signal *sig = data;

	if (size < sizeof(*sig))
		return 0;
	switch (sig->type) {
	case TKO_SIG_WAKE:
		if (size >= sizeof(struct tko_wake))
			waker_wake(&a->waker, data, wake_report, a);
		break;
	case TKO_SIG_PATH:
		a->want_paths = true;
		break;
	case TKO_SIG_CARRIER_LOST:
		a->carrier_lost = true;
		a->lost_at = sig->passes;
		break;
	}
	return 0;
}

/*
 * sockops on the cgroup (the root of the cgroup2 mount by default), and what
 * policies need to know: the cgroup and this network namespace's cookie.
 */
static int attach_cgroup(struct agent *a)
{
	struct tko_agent_info info = {};
	socklen_t len = sizeof(info.netns_cookie);
	__u32 level, zero = 0;
	bool adopted;
	int fd, err;

	err = a->cgroup[0] ? 0 : cgroup2_root(a->cgroup, sizeof(a->cgroup));
	if (err) {
		pr_warn("no cgroup2 mount in /proc/mounts: give --cgroup");
		return err;
	}
	if (strlen(a->cgroup) >= sizeof(info.cgroup)) {
		pr_warn("--cgroup: path longer than %zu characters", sizeof(info.cgroup) - 1);
		return -ENAMETOOLONG;
	}
	err = cgroup_id(a->cgroup, &info.cgroup_id, &level);
	if (err) {
		pr_warn("--cgroup %s: %s", a->cgroup, err == -ENOTDIR ? "not a cgroup v2 directory" :
			err == -EXDEV ? "not under the cgroup2 mount of /proc/mounts" : strerror(-err));
		return err;
	}
	err = sockops_attach(a->cgroup, a->fds.fd[P_PROG_SOCKOPS], &adopted);
	if (err)
		return err;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &info.netns_cookie, &len))
		pr_warn("cannot read this network namespace's cookie: policies will match nothing");
	if (fd >= 0)
		close(fd);
	memcpy(info.cgroup, a->cgroup, strlen(a->cgroup) + 1);
	info.ct_established_ms = a->ct_established_ms;
	info.features = a->features;
	memcpy(info.kernel, a->kernel, sizeof(info.kernel));
	bpf_map_update_elem(a->fds.fd[P_AGENT_INFO], &zero, &info, BPF_ANY);
	pr_info("sockops %s cgroup %s", adopted ? "adopted on" : "attached to", a->cgroup);
	return 0;
}

/* Is ifindex one of this agent's interfaces? */
static bool agent_iface(const struct agent *a, __u32 ifindex)
{
	for (int i = 0; i < a->nifaces; i++)
		if (a->ifaces[i].ifindex && (__u32)a->ifaces[i].ifindex == ifindex)
			return true;
	return false;
}

/*
 * Sessions without an L2 path (policy sessions, sessions the carrier could
 * not route): find it as the kernel would route their next segment, and
 * answer each request (tko_set_l2), found or not; a session that still has
 * none asks again at its next probe. A session routed out of an interface
 * the agent is not on (lo, another NIC) is refused: no program of tko's
 * would see its segments. The whole queue at each wakeup: a signal the full
 * ring refused is then never a request left waiting.
 */
static void resolve_l2(struct agent *a)
{
	struct tko_ctl_args args;
	struct tko_session s;

	while (!bpf_map_lookup_and_delete_elem(a->fds.fd[P_NEED_L2], NULL, &args.id)) {
		char l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN];
		__u32 id = args.id;
		int err;

		memset(&args, 0, sizeof(args));
		args.id = id;
		if (bpf_map_lookup_elem(a->fds.fd[P_SESSIONS], &id, &s))
			continue;
		args.key = s.key;	/* what the entry holds now */
		err = tko_dp_session_live(&s) ? route_oif(&args.key, &args.ifindex) : -ENOENT;
		if (!err && !agent_iface(a, args.ifindex)) {
			char name[IF_NAMESIZE] = "?";

			format_key(&args.key, l, r);
			if_indextoname(args.ifindex, name);
			pr_info("%s -> %s: refused: its route leaves through %s, which tko is not "
				"attached to", l, r, name);
			args.refuse = TKO_R_ROUTE;
			args.ifindex = 0;
		} else if (!err) {
			err = route_l2(&args.key, &args.ifindex, args.lmac, args.rmac);
		}
		if (err) {
			format_key(&args.key, l, r);
			pr_debug("%s -> %s: no path yet (%s)", l, r, strerror(-err));
		} else if (!args.refuse) {
			args.have = TKO_HAVE_L2;
		}
		tko_ctl_call(a->fds.fd[P_CTL_SET_L2], &args, sizeof(args));
	}
}

/*
 * What the kernel offers of what tko uses when it can (TKO_FEAT_*): each
 * with -v, and what it does without, in one line (tko stats says it too).
 */
static void probe_kernel(struct agent *a)
{
	char line[1024] = "";
	struct utsname u;
	size_t n = 0;

	a->features = tko_kernel_features(a->carrier.ring);
	snprintf(a->kernel, sizeof(a->kernel), "%.63s", uname(&u) ? "?" : u.release);
	for (__u32 bit = 1; bit & TKO_FEAT_ALL; bit <<= 1) {
		bool on = a->features & bit;

		pr_debug("kernel %s: %s: %s", a->kernel, feature_name(bit), on ? "yes" : "no");
		if (!on && feature_lack(bit) && n < sizeof(line))
			n += snprintf(line + n, sizeof(line) - n, "%s%s", n ? "; " : "",
				      feature_lack(bit));
	}
	if (n)
		pr_info("kernel %s: %s", a->kernel, line);
}

/* Where this agent wakes devices, and whether it runs a hook: for the datapath. */
static void set_wake(struct agent *a)
{
	__u32 ifindex[TKO_MAX_IFACES];

	waker_ifindexes(&a->waker, ifindex);
	carrier_set_wake(&a->carrier, ifindex, a->waker.exec[0]);
}

/*
 * What the agent said it would do with wakes, once, at start; and the
 * policies (added by an earlier agent, or by hand) whose wakes this one
 * cannot send.
 */
static void describe_wake(const struct agent *a)
{
	char list[TKO_MAX_IFACES * (IF_NAMESIZE + 2) + 1] = "";

	if (!waker_on(&a->waker)) {
		struct tko_policy p;

		for (__u32 i = 0; i < TKO_MAX_POLICIES; i++)
			if (!bpf_map_lookup_elem(a->fds.fd[P_POLICIES], &i, &p) && p.id &&
			    (p.cfg.flags & TKO_F_WAKE))
				pr_warn("policy %u asks for wakes, and this agent has no --wake-iface "
					"or --on-wake-exec: each of its wakes fails", p.id);
		return;
	}
	for (int i = 0; i < a->waker.nifaces; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 a->waker.ifaces[i].name);
	if (a->waker.nifaces && a->waker.exec[0])
		pr_info("wakes: magic packets on %s, then %s (killed after %u s)", list,
			a->waker.exec, a->waker.timeout_s);
	else if (a->waker.nifaces)
		pr_info("wakes: magic packets on %s", list);
	else
		pr_info("wakes: %s (killed after %u s), no magic packets (no --wake-iface)",
			a->waker.exec, a->waker.timeout_s);
}

/*
 * An interface that was removed takes tko's programs with it; when one of
 * that name comes back, attach again (sessions meanwhile probe into the
 * void, and are declared dead if it takes longer than their retries).
 */
static void check_ifaces(struct agent *a)
{
	int ifindex[TKO_MAX_IFACES];
	bool changed = false;

	if (waker_refresh(&a->waker))
		set_wake(a);

	for (int i = 0; i < a->nifaces; i++) {
		struct iface *ifc = &a->ifaces[i];
		int now = if_nametoindex(ifc->name);

		iface_check_path(ifc, &a->fds);
		iface_check_link(ifc, &a->fds);
		if (now == ifc->ifindex && (ifc->xdp_attached || !now))
			continue;
		if (!now) {
			if (ifc->xdp_attached)
				pr_warn("%s is gone: its sessions' probes cannot leave, and they end "
					"after their retries unless it comes back", ifc->name);
			iface_forget(ifc);
			ifc->ifindex = 0;
			changed = true;
			continue;
		}
		ifc->ifindex = now;
		iface_forget(ifc);
		if (iface_attach(ifc, &a->fds, a->answers) == 0)
			pr_info("%s is back (ifindex %d): attached again", ifc->name, now);
		changed = true;
	}
	if (!changed)
		return;
	for (int i = 0; i < a->nifaces; i++)
		ifindex[i] = a->ifaces[i].ifindex;
	carrier_set_ifaces(&a->carrier, ifindex, a->nifaces);
}

/* This agent's session defaults (its config) are what `tko start` uses. */
static int set_defaults(struct agent *a)
{
	__u32 zero = 0;

	return bpf_map_update_elem(a->fds.fd[P_DEFAULTS], &zero, &a->defaults, BPF_ANY) ?
	       -errno : 0;
}

/* Either adopt what is pinned, or load and pin a new datapath. */
static int get_datapath(struct agent *a)
{
	int err = tko_pins_open(a->pin_dir, &a->fds);

	if (!err) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		a->adopted = a->pinned = true;
		if (!bpf_obj_get_info_by_fd(a->fds.fd[P_SESSIONS], &info, &len))
			a->max_sessions = info.max_entries;
		pr_info("adopting the datapath pinned in %s (session table of %u)", a->pin_dir,
			a->max_sessions);
		return set_defaults(a);
	}
	if (err != -ENOENT)
		return err;

	err = tko_bpf_load(&a->bpf, a->max_sessions);
	if (err)
		return err;
	tko_bpf_fds(&a->bpf, &a->fds);
	err = set_defaults(a) ?: tko_bpf_pin(&a->fds, a->pin_dir);
	if (err)
		return err;
	a->pinned = true;
	return 0;
}

/*
 * Asleep until something happens: an event or a signal of the datapath (a
 * path to resolve, a device to wake, the carrier watchdog), an interface
 * change, a wake hook ending or late, a signal of ours. Nothing here runs on a clock: with sessions probing and nothing
 * changing, the agent is never woken. The one timeout is the first carrier
 * pass, before which no watchdog exists.
 */
static int agent_loop(struct agent *a)
{
	struct epoll_event ev = { .events = EPOLLIN }, got[8];
	int ep, n, timeout = carrier_watchdog_ms(a->carrier.tick_ms), err = 0;
	bool watched = carrier_passed(&a->carrier);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	ev.data.fd = ring_buffer__epoll_fd(a->rb);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		err = -errno;
		goto out;
	}
	ev.data.fd = ring_buffer__epoll_fd(a->sig_rb);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		err = -errno;
		goto out;
	}
	ev.data.fd = a->links_fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, a->links_fd, &ev)) {
		err = -errno;
		goto out;
	}
	/* Wake hooks running: their ends and their deadlines. */
	ev.data.fd = a->waker.epoll_fd;
	if (ev.data.fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		err = -errno;
		goto out;
	}
	resolve_l2(a);	/* what was asked while no agent ran */
	while (!exiting) {
		n = epoll_wait(ep, got, 8, watched ? -1 : timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (!n) {	/* no pass since the injection: the frame never went round */
			a->carrier_lost = true;
			a->lost_at = a->carrier.last_passes;
		}
		for (int i = 0; i < n; i++) {
			if (got[i].data.fd == a->links_fd && links_changed(a->links_fd))
				check_ifaces(a);
			else if (got[i].data.fd == a->waker.epoll_fd)
				waker_poll(&a->waker, wake_report, a);
		}
		err = ring_buffer__consume(a->sig_rb);
		if (err >= 0 || err == -EINTR)
			err = ring_buffer__consume(a->rb);
		if (err < 0 && err != -EINTR) {
			pr_warn("ring buffer: %s", strerror(-err));
			break;
		}
		err = 0;
		if (a->want_paths) {
			a->want_paths = false;
			resolve_l2(a);
		}
		if (a->carrier_lost) {
			a->carrier_lost = false;
			carrier_lost(&a->carrier, a->lost_at);
		}
		if (!watched)
			watched = carrier_passed(&a->carrier);
	}
out:
	close(ep);
	return err;
}

/* Attach, set up, then the loop until SIGINT/SIGTERM: 0 or -errno, after saying what failed. */
static int agent_run(struct agent *a)
{
	int ifindex[TKO_MAX_IFACES], prev[TKO_MAX_IFACES], nprev, err;

	/* Interfaces an earlier agent attached to but this one is not given. */
	nprev = a->adopted ? recorded_ifaces(&a->fds, prev) : 0;
	for (int i = 0; i < a->nifaces; i++) {
		err = iface_attach(&a->ifaces[i], &a->fds, a->answers);
		if (err)
			return err;
		ifindex[i] = a->ifaces[i].ifindex;
	}
	for (int j = 0; j < nprev; j++) {
		bool kept = false;

		for (int i = 0; i < a->nifaces; i++)
			kept |= prev[j] == a->ifaces[i].ifindex;
		if (!kept)
			iface_detach_ours(prev[j], &a->fds);
	}
	/* Subscribed before anything can change: no change falls in between. */
	a->links_fd = links_open();
	if (a->links_fd < 0) {
		pr_warn("cannot listen to interface changes (rtnetlink): %s", strerror(-a->links_fd));
		return a->links_fd;
	}
	err = carrier_setup(&a->carrier, a->fds.fd[P_PROG_CARRIER], a->fds.fd[P_PROG_CARRIER_RX],
			    a->fds.fd[P_CARRIER], a->tick_ms, ifindex, a->nifaces, a->adopted);
	if (err)
		return err;
	a->ct_established_ms = conntrack_setup();
	probe_kernel(a);
	/* Before the policies: a flow they make a session learns where its
	 * device is on the wake interfaces. */
	err = waker_open(&a->waker, a->pin_dir);
	if (err)
		return err;
	set_wake(a);
	err = attach_cgroup(a) ?: config_policies_add(a);
	if (err)
		return err;

	/* Events produced while no agent listened are still in the ring. */
	a->rb = ring_buffer__new(a->fds.fd[P_EVENTS], handle_event, a, NULL);
	a->sig_rb = ring_buffer__new(a->fds.fd[P_SIGNALS], handle_signal, a, NULL);
	if (!a->rb || !a->sig_rb) {
		err = errno ? -errno : -ENOMEM;
		pr_warn("cannot open the ring buffers: %s", strerror(errno));
		return err;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < a->nifaces; i++) {
		char how[160];

		iface_describe(&a->ifaces[i], how, sizeof(how));
		pr_info("%s %s (ifindex %d, %s)", a->ifaces[i].adopted ? "adopted" : "attached to",
			a->ifaces[i].name, a->ifaces[i].ifindex, how);
	}
	pr_info("carrier on %s/%s, tick %u ms (one pass a tick while probes are due, "
		"about one a second when none are)", CARRIER_LOOP_IF, CARRIER_PEER_IF,
		a->carrier.tick_ms);
	describe_wake(a);
	if (a->metrics_on) {
		err = metrics_start(&a->metrics_addr, a->pin_dir, &a->metrics);
		if (err)
			return err;
	}
	pr_info("ready: pins in %s, session table of %u%s", a->pin_dir, a->max_sessions,
		a->persist ? ", the datapath stays when the agent exits" : "");

	err = agent_loop(a);
	if (err) {
		pr_warn("agent loop: %s", strerror(-err));
		return err;
	}
	if (a->persist)
		pr_info("stopping; the datapath keeps running (pins in %s)", a->pin_dir);
	else
		pr_info("stopping: ending sessions, detaching, unpinning %s", a->pin_dir);
	return 0;
}

static void agent_exit(struct agent *a)
{
	metrics_stop(a->metrics);	/* its thread reads the maps */
	if (a->fds.fd[P_CTL_WAKE_DONE] > 0)
		waker_close(&a->waker, wake_report, a);
	if (!a->persist && a->fds.fd[P_SESSIONS] > 0) {
		for (int i = 0; i < a->nifaces; i++)
			iface_detach(&a->ifaces[i], &a->fds);
		if (a->cgroup[0])
			sockops_detach(a->cgroup, a->fds.fd[P_PROG_SOCKOPS]);
		stop_all_sessions(a->pin_dir);
		if (a->rb)
			ring_buffer__consume(a->rb);	/* print the handoff states */
		carrier_teardown(&a->carrier);
		if (a->pinned)
			tko_bpf_unpin(a->pin_dir);
	}
	ring_buffer__free(a->sig_rb);
	ring_buffer__free(a->rb);
	if (a->links_fd >= 0)
		close(a->links_fd);
	if (a->adopted)
		tko_fds_close(&a->fds);
	tko_bpf_destroy(&a->bpf);
	lock_release(a->pin_dir, a->lock_fd);
}

int agent_main(struct agent *a)
{
	int err;

	if (!a->cleanup) {
		err = agent_ifaces(a);
		if (err)
			return err;
	}
	/* From here on a signal ends the agent through its exit path. */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	tko_bpf_setup_logging();
	err = tko_ensure_bpffs(a->pin_dir);
	if (err)
		return err;
	if (a->cleanup)
		return agent_unload(a->pin_dir);
	a->lock_fd = lock_take(a->pin_dir);
	if (a->lock_fd < 0)
		return a->lock_fd;
	for (int i = 0; i < P_MAX; i++)
		a->fds.fd[i] = -1;

	err = get_datapath(a) ?: agent_run(a);
	/* A failed fresh start leaves nothing behind; a failed adoption leaves
	 * the sessions it found running. */
	if (err)
		a->persist = a->adopted;
	agent_exit(a);
	return err;
}
