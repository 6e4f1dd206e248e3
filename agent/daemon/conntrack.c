// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conntrack.h"
#include "loader.h"
#include "log.h"
#include "tko_types.h"

#define CT_TIMEOUT_SYSCTL "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established"

__u32 conntrack_setup(void)
{
	unsigned long long s = 0;
	FILE *f;
	int err = 0;

	if (!tko_ct_kfuncs())
		return 0;	/* said with the kernel's other features (agent.c) */
	/* /proc/sys/net is the reader's network namespace: the agent's. */
	f = fopen(CT_TIMEOUT_SYSCTL, "r");
	if (!f || fscanf(f, "%llu", &s) != 1 || !s)
		err = f ? EINVAL : errno;
	if (f)
		fclose(f);
	if (err) {
		pr_info("conntrack: entries of offloaded flows are refreshed to the kernel's "
			"default established timeout, %u s (%s: %s)",
			TKO_CT_ESTABLISHED_MS_DEFAULT / 1000, CT_TIMEOUT_SYSCTL, strerror(err));
		return 0;
	}
	if (s > UINT32_MAX / 1000)
		s = UINT32_MAX / 1000;
	pr_info("conntrack: entries of offloaded flows are refreshed to this namespace's "
		"established timeout, %llu s, at a keepalive at most every %g s", s,
		s / 4.0 < TKO_CT_REFRESH_MAX_NS / 1e9 ? s / 4.0 : TKO_CT_REFRESH_MAX_NS / 1e9);
	return (__u32)(s * 1000);
}
