// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "loader.h"
#include "log.h"

/* Our filter's place in clsact egress: fixed, so detach removes only ours. */
#define TKO_TC_HANDLE	0x746b
#define TKO_TC_PRIO	0x746b

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

static int attach_tc(struct iface *ifc, int fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = fd, .handle = TKO_TC_HANDLE,
		    .priority = TKO_TC_PRIO);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_warn("%s: cannot create the clsact qdisc: %s", ifc->name, strerror(-err));
		return err;
	}
	ifc->tc_hook_created = !err;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_warn("%s: cannot attach TC egress: %s%s", ifc->name, strerror(-err),
			err == -EEXIST ? " (is another tko agent running on it?)" : "");
		return err;
	}
	ifc->tc_attached = true;
	return 0;
}

/* tko's XDP program already there (attached by an agent that is gone)? */
static bool adopt_xdp(struct iface *ifc, int fd)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifc->ifindex, 0, &q) || q.prog_id != tko_obj_id(fd))
		return false;
	ifc->xdp_flags = q.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	ifc->xdp_attached = true;
	return true;
}

static bool adopt_tc(struct iface *ifc, int fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TKO_TC_HANDLE, .priority = TKO_TC_PRIO);

	if (bpf_tc_query(&hook, &opts) || opts.prog_id != tko_obj_id(fd))
		return false;
	ifc->tc_attached = true;
	return true;
}

int iface_attach(struct iface *ifc, int xdp_fd, int tc_fd)
{
	int err = 0;

	ifc->adopted = adopt_xdp(ifc, xdp_fd) & adopt_tc(ifc, tc_fd);
	if (!ifc->xdp_attached)
		err = attach_xdp(ifc, xdp_fd);
	if (!err && !ifc->tc_attached)
		err = attach_tc(ifc, tc_fd);
	if (err)
		iface_detach(ifc);
	return err;
}

void iface_detach_ours(int ifindex, int xdp_fd, int tc_fd)
{
	struct iface ifc = { .ifindex = ifindex };

	if (!if_indextoname(ifindex, ifc.name))
		return;	/* gone with its programs */
	adopt_xdp(&ifc, xdp_fd);
	adopt_tc(&ifc, tc_fd);
	iface_detach(&ifc);
}

void iface_detach(struct iface *ifc)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TKO_TC_HANDLE, .priority = TKO_TC_PRIO);
	int err;

	if (ifc->tc_attached) {
		err = bpf_tc_detach(&hook, &opts);
		if (err && err != -ENOENT && err != -ENODEV)
			pr_warn("%s: cannot detach TC egress: %s", ifc->name, strerror(-err));
		ifc->tc_attached = false;
	}
	if (ifc->tc_hook_created) {
		/* Destroying an egress hook would remove the whole clsact
		 * qdisc, ingress included: only do it if we made it. */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
		ifc->tc_hook_created = false;
	}
	if (ifc->xdp_attached) {
		err = bpf_xdp_detach(ifc->ifindex, ifc->xdp_flags, NULL);
		if (err && err != -ENODEV)
			pr_warn("%s: cannot detach XDP: %s", ifc->name, strerror(-err));
		ifc->xdp_attached = false;
	}
}
