// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Helpers of the benchmarks:
 *  - bench_nop: an XDP program that does nothing. Run the same way as tko's,
 *    it measures what BPF_PROG_RUN itself adds to one run (timer reads,
 *    dispatch), which is subtracted; attached to the endpoint's veth, it
 *    makes the veth accept the simulated peer's XDP_TX answers when tko's
 *    own XDP program is not there;
 *  - bench_drop: drops everything; on the endpoint's veth it gives the
 *    floor of the wire answer benchmark (a frame delivered and dropped);
 *  - bench_steal: TC egress of the forge benchmark's output device: takes
 *    every frame (TC_ACT_STOLEN), so dev_queue_xmit() reports it sent and
 *    no driver runs (the carrier counts a refused frame as an emit error and
 *    drops the session's path, which would change what is measured);
 *  - bench_open_window: clears the per-session answer budget of one session
 *    (TKO_ANSWER_BURST answers per second), so that the next run of the XDP
 *    program takes the path of a real probe (the first in its second)
 *    instead of the rate-limited one; asked to, the time of its last
 *    conntrack refresh too (the next answer refreshes). It writes in place.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tko_types.h"

#define TC_ACT_STOLEN 4

/* tko's session table; the loader hands over its fd (max_entries follows). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_session);
} sessions SEC(".maps");

SEC("xdp")
int bench_nop(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("tc")
int bench_steal(struct __sk_buff *skb)
{
	return TC_ACT_STOLEN;
}

SEC("syscall")
int bench_open_window(__u32 *ctx)
{
	struct tko_session *s;
	__u32 req[2];	/* the session's id; whether its conntrack refresh is due */

	if (bpf_probe_read_kernel(req, sizeof(req), ctx))
		return -1;
	s = bpf_map_lookup_elem(&sessions, &req[0]);
	if (!s)
		return -2;
	s->answer_window_ns = 0;
	s->answers_in_window = 0;
	if (req[1])
		s->ct_refresh_ns = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
