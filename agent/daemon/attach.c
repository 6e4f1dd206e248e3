// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "format.h"
#include "log.h"

/* Our filters' place in clsact (both directions): fixed, so detach removes only ours. */
#define TKO_TC_HANDLE	0x746b
#define TKO_TC_PRIO	0x746b

int parse_answers(const char *arg, int *mode)
{
	if (!strcmp(arg, "auto"))
		*mode = ANSWERS_AUTO;
	else if (!strcmp(arg, "xdp"))
		*mode = ANSWERS_XDP;
	else if (!strcmp(arg, "tc"))
		*mode = ANSWERS_TC;
	else
		return -EINVAL;
	return 0;
}

static int attach_xdp(struct iface *ifc, int fd)
{
	/* Native first; generic (skb) mode where the driver has no XDP. */
	static const unsigned int modes[] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE };
	int err = -EOPNOTSUPP;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		unsigned int flags = modes[i] | XDP_FLAGS_UPDATE_IF_NOEXIST;

		err = bpf_xdp_attach(ifc->ifindex, fd, flags, NULL);
		if (!err) {
			ifc->xdp_flags = modes[i];
			ifc->xdp_attached = true;
			if (modes[i] == XDP_FLAGS_SKB_MODE)
				pr_info("%s: no native XDP, using generic mode", ifc->name);
			return 0;
		}
		if (err == -EBUSY || err == -EEXIST) {
			pr_warn("%s: another XDP program is attached; tko will not replace it",
				ifc->name);
			return err;
		}
	}
	pr_warn("%s: cannot attach XDP: %s", ifc->name, strerror(-err));
	return err;
}

static int attach_tc(struct iface *ifc, int fd, enum bpf_tc_attach_point where, bool *attached)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = fd, .handle = TKO_TC_HANDLE,
		    .priority = TKO_TC_PRIO);
	const char *dir = where == BPF_TC_EGRESS ? "egress" : "ingress";
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_warn("%s: cannot create the clsact qdisc: %s", ifc->name, strerror(-err));
		return err;
	}
	if (!err)
		ifc->tc_hook_created = true;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_warn("%s: cannot attach TC %s: %s%s", ifc->name, dir, strerror(-err),
			err == -EEXIST ? " (is another tko agent running on it?)" : "");
		return err;
	}
	*attached = true;
	return 0;
}

/* tko's XDP program already there (attached by an agent that is gone)? */
static bool adopt_xdp(struct iface *ifc, int fd)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (fd < 0 || bpf_xdp_query(ifc->ifindex, 0, &q) || q.prog_id != tko_obj_id(fd))
		return false;
	ifc->xdp_flags = q.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	ifc->xdp_attached = true;
	return true;
}

static bool adopt_tc(struct iface *ifc, int fd, enum bpf_tc_attach_point where, bool *attached)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TKO_TC_HANDLE, .priority = TKO_TC_PRIO);

	if (fd < 0 || bpf_tc_query(&hook, &opts) || opts.prog_id != tko_obj_id(fd))
		return false;
	*attached = true;
	return true;
}

/* The interface's driver, as `ethtool -i` names it. */
static int driver_name(const char *ifname, char *drv, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&info;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		err = -errno;
	close(fd);
	if (!err)
		snprintf(drv, len, "%s", info.driver);
	return err;
}

/*
 * How the interface answers the peers' probes. Generic XDP's XDP_TX goes
 * through the stack's own transmit path, which delivers on any device;
 * native XDP_TX is the driver's, and veth's hands the frame to the peer
 * only while the peer runs XDP (its NAPI ring exists only then): anywhere
 * else the frame is dropped, and a pod's or container's peer runs nothing.
 * Drivers that drop XDP_TX answers in other ways report it (tracepoints,
 * bpf/xdp_tx_report.bpf.c), and the datapath then falls back to TC itself.
 */
static void choose_path(struct iface *ifc, int mode)
{
	char drv[32] = "";

	if (mode != ANSWERS_AUTO) {
		ifc->path = mode == ANSWERS_TC ? TKO_ANSWER_TC : TKO_ANSWER_XDP;
		ifc->why = TKO_WHY_FORCED;
	} else if (ifc->xdp_flags == XDP_FLAGS_SKB_MODE) {
		ifc->path = TKO_ANSWER_XDP;
		ifc->why = TKO_WHY_GENERIC;
	} else if (driver_name(ifc->name, drv, sizeof(drv)) == 0 && !strcmp(drv, "veth")) {
		ifc->path = TKO_ANSWER_TC;
		ifc->why = TKO_WHY_VETH;
	} else {
		ifc->path = TKO_ANSWER_XDP;
		ifc->why = TKO_WHY_DRIVER;
	}
}

/* The interface's flags (IFF_UP, IFF_RUNNING, ...): 0, or -errno. */
static int iface_flags(const char *name, unsigned int *flags)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		err = -errno;
	close(fd);
	if (!err)
		*flags = (unsigned short)ifr.ifr_flags;
	return err;
}

/* No probe can leave: administratively down, or no carrier (not running). */
static bool link_down(const char *name)
{
	unsigned int flags = 0;

	return iface_flags(name, &flags) || !(flags & IFF_UP) || !(flags & IFF_RUNNING);
}

/*
 * tko forges Ethernet frames (its probes, its answers, the endpoint's MACs
 * learned from its frames): on a link without an Ethernet header (ppp,
 * WireGuard, tun, loopback) nothing it sends or learns would make sense.
 */
static int check_ethernet(const struct iface *ifc)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifc->name);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	close(fd);
	if (err) {
		pr_warn("%s: cannot read its link type: %s", ifc->name, strerror(-err));
		return err;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		pr_warn("%s: not an Ethernet interface (link type %u%s): tko sends and reads "
			"Ethernet frames; give the Ethernet interface beneath it", ifc->name,
			ifr.ifr_hwaddr.sa_family,
			ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK ? ", loopback" :
			ifr.ifr_hwaddr.sa_family == ARPHRD_NONE ? ", no link-layer header" :
			ifr.ifr_hwaddr.sa_family == ARPHRD_PPP ? ", PPP" : "");
		return -EPROTONOSUPPORT;
	}
	return 0;
}

/* Entries of an interface of this name that is gone (it was re-created). */
static void forget_stale(int map_fd, const struct iface *ifc)
{
	__u32 key, next, *prev = NULL;
	char name[IF_NAMESIZE];
	struct tko_iface e;

	while (!bpf_map_get_next_key(map_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key != (__u32)ifc->ifindex && !bpf_map_lookup_elem(map_fd, &key, &e) &&
		    !strncmp(e.name, ifc->name, sizeof(e.name)) && !if_indextoname(key, name))
			bpf_map_delete_elem(map_fd, &key);
	}
}

/*
 * The interface's entry in `ifaces`. An adopted interface keeps what the
 * datapath found meanwhile (a fallback to TC) unless told otherwise; its
 * counters always stay.
 */
static int record_iface(struct iface *ifc, int map_fd, int mode)
{
	__u32 key = ifc->ifindex;
	struct tko_iface e = {};
	bool had = !bpf_map_lookup_elem(map_fd, &key, &e);

	forget_stale(map_fd, ifc);
	if (had && ifc->adopted && mode == ANSWERS_AUTO) {
		ifc->path = e.path;
		ifc->why = e.why;
	} else {
		choose_path(ifc, mode);
	}
	e.ifindex = ifc->ifindex;
	e.path = ifc->path;
	e.why = ifc->why;
	e.xdp_generic = ifc->xdp_flags == XDP_FLAGS_SKB_MODE;
	ifc->down = link_down(ifc->name);
	e.down = ifc->down;
	snprintf(e.name, sizeof(e.name), "%s", ifc->name);
	if (bpf_map_update_elem(map_fd, &key, &e, BPF_ANY)) {
		pr_warn("%s: cannot record the interface in the ifaces map: %s", ifc->name,
			strerror(errno));
		return -errno;
	}
	return 0;
}

int iface_attach(struct iface *ifc, const struct tko_fds *f, int mode)
{
	int xdp = f->fd[P_PROG_XDP], tc = f->fd[P_PROG_TC], tci = f->fd[P_PROG_TC_INGRESS];
	int err = check_ethernet(ifc);

	if (err)
		return err;
	ifc->adopted = adopt_xdp(ifc, xdp) & adopt_tc(ifc, tc, BPF_TC_EGRESS, &ifc->tc_attached) &
		       adopt_tc(ifc, tci, BPF_TC_INGRESS, &ifc->tci_attached);
	if (!ifc->xdp_attached)
		err = attach_xdp(ifc, xdp);
	/* The path is known before TC ingress runs: it answers only where
	 * the entry says so. */
	if (!err)
		err = record_iface(ifc, f->fd[P_IFACES], mode);
	if (!err && !ifc->tc_attached)
		err = attach_tc(ifc, tc, BPF_TC_EGRESS, &ifc->tc_attached);
	if (!err && !ifc->tci_attached)
		err = attach_tc(ifc, tci, BPF_TC_INGRESS, &ifc->tci_attached);
	if (err)
		iface_detach(ifc, f);
	return err;
}

void iface_detach_ours(int ifindex, const struct tko_fds *f)
{
	struct iface ifc = { .ifindex = ifindex };

	if (!if_indextoname(ifindex, ifc.name)) {
		__u32 key = ifindex;

		bpf_map_delete_elem(f->fd[P_IFACES], &key);
		return;	/* gone with its programs */
	}
	adopt_xdp(&ifc, f->fd[P_PROG_XDP]);
	adopt_tc(&ifc, f->fd[P_PROG_TC], BPF_TC_EGRESS, &ifc.tc_attached);
	adopt_tc(&ifc, f->fd[P_PROG_TC_INGRESS], BPF_TC_INGRESS, &ifc.tci_attached);
	iface_detach(&ifc, f);
}

static void detach_tc(struct iface *ifc, enum bpf_tc_attach_point where, bool *attached)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TKO_TC_HANDLE, .priority = TKO_TC_PRIO);
	int err;

	if (!*attached)
		return;
	err = bpf_tc_detach(&hook, &opts);
	if (err && err != -ENOENT && err != -ENODEV)
		pr_warn("%s: cannot detach TC %s: %s", ifc->name,
			where == BPF_TC_EGRESS ? "egress" : "ingress", strerror(-err));
	*attached = false;
}

void iface_detach(struct iface *ifc, const struct tko_fds *f)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	__u32 key = ifc->ifindex;
	int err;

	detach_tc(ifc, BPF_TC_INGRESS, &ifc->tci_attached);
	detach_tc(ifc, BPF_TC_EGRESS, &ifc->tc_attached);
	if (ifc->tc_hook_created) {
		/* Destroying the hook removes the whole clsact qdisc, others'
		 * filters included: only do it if we made it. */
		bpf_tc_hook_destroy(&hook);
		ifc->tc_hook_created = false;
	}
	if (ifc->xdp_attached) {
		err = bpf_xdp_detach(ifc->ifindex, ifc->xdp_flags, NULL);
		if (err && err != -ENODEV)
			pr_warn("%s: cannot detach XDP: %s", ifc->name, strerror(-err));
		ifc->xdp_attached = false;
	}
	bpf_map_delete_elem(f->fd[P_IFACES], &key);
}

void iface_forget(struct iface *ifc)
{
	ifc->xdp_attached = ifc->tc_attached = ifc->tci_attached = false;
	ifc->tc_hook_created = false;
}

void iface_check_link(struct iface *ifc, const struct tko_fds *f)
{
	struct tko_ctl_args args = { .ifindex = ifc->ifindex };
	bool down;
	int err;

	if (!ifc->xdp_attached)
		return;
	down = link_down(ifc->name);
	if (down == ifc->down)
		return;
	args.down = down;
	err = tko_ctl_call(f->fd[P_CTL_SET_LINK], &args, sizeof(args));
	if (err) {
		pr_warn("%s: cannot tell the datapath its link is %s: %s", ifc->name,
			down ? "down" : "up", strerror(-err));
		return;
	}
	ifc->down = down;
	if (down)
		pr_warn("%s: no carrier (or down): its sessions' probes count as unanswered, "
			"and they end (peer_dead, link_down) after their retries", ifc->name);
	else
		pr_info("%s: carrier back: probes leave through it again", ifc->name);
}

void iface_describe(const struct iface *ifc, char *buf, size_t len)
{
	snprintf(buf, len, "%s XDP, answers %s: %s",
		 ifc->xdp_flags == XDP_FLAGS_SKB_MODE ? "generic" : "native",
		 ifc->path == TKO_ANSWER_TC ? "from TC ingress" : "with XDP_TX",
		 answer_why_text(ifc->why));
}

void iface_check_path(struct iface *ifc, const struct tko_fds *f)
{
	__u32 key = ifc->ifindex;
	struct tko_iface e;

	if (!ifc->xdp_attached || bpf_map_lookup_elem(f->fd[P_IFACES], &key, &e) ||
	    (e.path == ifc->path && e.why == ifc->why))
		return;
	ifc->path = e.path;
	ifc->why = e.why;
	pr_warn("%s: answers from %s now (%s; %llu lost)", ifc->name,
		e.path == TKO_ANSWER_TC ? "TC ingress" : "XDP", answer_why_text(e.why),
		(unsigned long long)e.answers_lost);
}
