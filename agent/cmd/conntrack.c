// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <bpf/btf.h>

#include "conntrack.h"
#include "log.h"
#include "tko_types.h"

#define CT_TIMEOUT_SYSCTL "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established"

/*
 * Where libbpf resolves the programs' weak conntrack kfuncs: the kernel's
 * BTF, or nf_conntrack's when it is a module (loaded). Absent, the programs
 * load without them and skip the refresh.
 */
static bool have_kfuncs(void)
{
	static const char *const needed[] = {
		"bpf_xdp_ct_lookup", "bpf_ct_change_timeout", "bpf_ct_release",
	};
	struct btf *vmlinux = btf__load_vmlinux_btf(), *mod = NULL;
	bool ok = vmlinux != NULL;

	if (ok && btf__find_by_name_kind(vmlinux, needed[0], BTF_KIND_FUNC) < 0)
		mod = btf__load_module_btf("nf_conntrack", vmlinux);
	for (size_t i = 0; ok && i < sizeof(needed) / sizeof(needed[0]); i++)
		ok = btf__find_by_name_kind(mod ? mod : vmlinux, needed[i], BTF_KIND_FUNC) >= 0;
	btf__free(mod);
	btf__free(vmlinux);
	return ok;
}

__u32 conntrack_setup(void)
{
	unsigned long long s = 0;
	FILE *f;
	int err = 0;

	if (!have_kfuncs()) {
		pr_info("conntrack: no conntrack kfuncs in this kernel (bpf_xdp_ct_lookup, "
			"bpf_ct_change_timeout; nf_conntrack not loaded?): the gateway's own "
			"conntrack entries of offloaded flows are not refreshed");
		return 0;
	}
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
	pr_info("conntrack: entries of offloaded flows are refreshed at each keepalive to "
		"this namespace's established timeout, %llu s", s);
	return (__u32)(s * 1000);
}
