// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test fixture, not part of tko: veth drops frames sent to it with XDP_TX
 * unless it runs an XDP program itself (GRO alone is not enough on recent
 * kernels). The topology attaches this to the server's end of the link, as a
 * physical NIC would simply receive them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
