// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "route.h"

struct nlreq {
	struct nlmsghdr nh;
	union {
		struct rtmsg rt;
		struct ndmsg nd;
	};
	char attrs[64];
};

static void add_attr(struct nlreq *r, int type, const void *data, int len)
{
	struct rtattr *a = (void *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* One request, one answer; attrs of the answer are parsed by the caller. */
static int transact(struct nlreq *req, char *buf, size_t len, struct nlmsghdr **ans)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), n, err = 0;
	struct timeval tv = { .tv_sec = 1 };

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, req, req->nh.nlmsg_len, 0) < 0 || (n = recv(fd, buf, len, 0)) < 0) {
		err = -errno;
	} else {
		*ans = (struct nlmsghdr *)buf;
		if (!NLMSG_OK(*ans, (unsigned int)n))
			err = -EIO;
		else if ((*ans)->nlmsg_type == NLMSG_ERROR)
			err = ((struct nlmsgerr *)NLMSG_DATA(*ans))->error ?: -ENOENT;
	}
	close(fd);
	return err;
}

/*
 * No usable neighbour entry: ask the kernel to resolve it (NTF_USE, as
 * `ip neigh replace ... use` does), so that it is there at the next try.
 */
static void neigh_use(int af, __u32 ifindex, const __u8 *addr, int alen)
{
	struct nlreq req = {};
	struct nlmsghdr *ans;
	char buf[512];

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	req.nh.nlmsg_type = RTM_NEWNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK;
	req.nd.ndm_family = af;
	req.nd.ndm_ifindex = ifindex;
	req.nd.ndm_flags = NTF_USE;
	req.nd.ndm_state = NUD_NONE;
	add_attr(&req, NDA_DST, addr, alen);
	transact(&req, buf, sizeof(buf), &ans);
}

/* Where the kernel sends k's segments: the interface, and the next hop (via). */
static int route_get(const struct tko_key *k, __u32 *ifindex, __u8 via[16])
{
	int af = k->family == TKO_AF_INET6 ? AF_INET6 : AF_INET, alen = af == AF_INET6 ? 16 : 4;
	struct nlreq req = {};
	struct nlmsghdr *ans;
	struct rtattr *a;
	char buf[4096];
	int len, err = 0;

	/* Where would the kernel send it? (ip route get REMOTE from LOCAL; a
	 * forwarded device's LOCAL is not ours, then without "from") */
	for (int with_src = 1; with_src >= 0; with_src--) {
		memset(&req, 0, sizeof(req));
		req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
		req.nh.nlmsg_type = RTM_GETROUTE;
		req.nh.nlmsg_flags = NLM_F_REQUEST;
		req.rt.rtm_family = af;
		req.rt.rtm_dst_len = alen * 8;
		add_attr(&req, RTA_DST, k->raddr, alen);
		if (with_src) {
			req.rt.rtm_src_len = alen * 8;
			add_attr(&req, RTA_SRC, k->laddr, alen);
		}
		err = transact(&req, buf, sizeof(buf), &ans);
		if (!err)
			break;
	}
	if (err)
		return err == -ENETUNREACH || err == -EHOSTUNREACH ? -ENETUNREACH : err;
	*ifindex = 0;
	memcpy(via, k->raddr, alen);
	len = RTM_PAYLOAD(ans);
	for (a = RTM_RTA(NLMSG_DATA(ans)); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_OIF)
			*ifindex = *(__u32 *)RTA_DATA(a);
		else if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == (unsigned int)alen)
			memcpy(via, RTA_DATA(a), alen);
	}
	if (!*ifindex)
		return -ENETUNREACH;
	return 0;
}

int route_oif(const struct tko_key *k, __u32 *ifindex)
{
	__u8 via[16];

	return route_get(k, ifindex, via);
}

int route_l2(const struct tko_key *k, __u32 *ifindex, __u8 lmac[6], __u8 rmac[6])
{
	int af = k->family == TKO_AF_INET6 ? AF_INET6 : AF_INET, alen = af == AF_INET6 ? 16 : 4;
	__u8 via[16];
	struct nlreq req = {};
	struct nlmsghdr *ans;
	struct rtattr *a;
	struct ifreq ifr = {};
	char buf[4096];
	int len, err, fd;

	err = route_get(k, ifindex, via);
	if (err)
		return err;

	/* The next hop's MAC, from the neighbour table. */
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	req.nh.nlmsg_type = RTM_GETNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nd.ndm_family = af;
	req.nd.ndm_ifindex = *ifindex;
	add_attr(&req, NDA_DST, via, alen);
	err = transact(&req, buf, sizeof(buf), &ans);
	if (err || !(((struct ndmsg *)NLMSG_DATA(ans))->ndm_state & (NUD_REACHABLE | NUD_STALE |
		NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP))) {
		neigh_use(af, *ifindex, via, alen);
		return -EHOSTUNREACH;
	}
	err = -EHOSTUNREACH;
	len = RTM_PAYLOAD(ans);
	for (a = (struct rtattr *)((char *)NLMSG_DATA(ans) + NLMSG_ALIGN(sizeof(struct ndmsg)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
			memcpy(rmac, RTA_DATA(a), 6);
			err = 0;
		}
	if (err)
		return err;

	/* Our own MAC on that interface. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || !if_indextoname(*ifindex, ifr.ifr_name) ||
	    ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	close(fd);
	memcpy(lmac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}
