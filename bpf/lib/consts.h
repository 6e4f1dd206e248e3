/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's constants that vmlinux.h lacks: it has the enums of the
 * kernel's BTF (IPPROTO_TCP, XDP_TX, BPF_F_INGRESS, TCP_ESTABLISHED, ...),
 * never its #defines. Each is written here once, under its kernel name;
 * the #ifndef lets a program that includes a header defining it too
 * (linux/pkt_cls.h, errno.h) build.
 */
#ifndef TKO_BPF_CONSTS_H
#define TKO_BPF_CONSTS_H

/* Errors (include/uapi/asm-generic/errno-base.h, errno.h). */
#ifndef ENOENT
#define ENOENT		2
#endif
#ifndef E2BIG
#define E2BIG		7
#endif
#ifndef EFAULT
#define EFAULT		14
#endif
#ifndef EBUSY
#define EBUSY		16
#endif
#ifndef EEXIST
#define EEXIST		17
#endif
#ifndef EXDEV
#define EXDEV		18
#endif
#ifndef EINVAL
#define EINVAL		22
#endif
#ifndef ENOSPC
#define ENOSPC		28
#endif
#ifndef EOPNOTSUPP
#define EOPNOTSUPP	95
#endif
#ifndef ENOBUFS
#define ENOBUFS		105
#endif

/* TC verdicts (include/uapi/linux/pkt_cls.h). */
#ifndef TC_ACT_OK
#define TC_ACT_OK	0
#endif
#ifndef TC_ACT_SHOT
#define TC_ACT_SHOT	2
#endif
#ifndef TC_ACT_STOLEN
#define TC_ACT_STOLEN	4
#endif

/* What a device's queue said of a frame (include/linux/netdevice.h). */
#ifndef NET_XMIT_DROP
#define NET_XMIT_DROP	1
#endif
#ifndef NET_XMIT_CN
#define NET_XMIT_CN	2
#endif

/* An skb's checksum state, ip_summed (include/linux/skbuff.h). */
#ifndef CHECKSUM_COMPLETE
#define CHECKSUM_COMPLETE	2
#endif
#ifndef CHECKSUM_PARTIAL
#define CHECKSUM_PARTIAL	3
#endif

/* EtherTypes (include/uapi/linux/if_ether.h). */
#ifndef ETH_P_IP
#define ETH_P_IP	0x0800
#endif
#ifndef ETH_P_8021Q
#define ETH_P_8021Q	0x8100
#endif
#ifndef ETH_P_IPV6
#define ETH_P_IPV6	0x86DD
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD	0x88A8
#endif

/* IPv4 fragment bits (include/net/ip.h). */
#ifndef IP_DF
#define IP_DF		0x4000
#endif
#ifndef IP_MF
#define IP_MF		0x2000
#endif
#ifndef IP_OFFSET
#define IP_OFFSET	0x1FFF
#endif

/* TCP options (include/net/tcp.h). */
#ifndef TCPOPT_EOL
#define TCPOPT_EOL	0
#endif
#ifndef TCPOPT_NOP
#define TCPOPT_NOP	1
#endif
#ifndef TCPOPT_TS
#define TCPOPT_TS	8
#endif
#ifndef TCPOPT_MD5SIG
#define TCPOPT_MD5SIG	19	/* RFC 2385 */
#endif
#ifndef TCPOPT_AO
#define TCPOPT_AO	29	/* RFC 5925 */
#endif
#ifndef TCPOLEN_TS
#define TCPOLEN_TS	10
#endif

/* Clocks (include/uapi/linux/time.h) and time units (include/vdso/time64.h). */
#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC	1
#endif
#ifndef NSEC_PER_SEC
#define NSEC_PER_SEC	1000000000ULL
#endif
#ifndef NSEC_PER_MSEC
#define NSEC_PER_MSEC	1000000ULL
#endif

#endif /* TKO_BPF_CONSTS_H */
