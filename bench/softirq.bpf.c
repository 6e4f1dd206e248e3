// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmarks' softirq meter (bench/common.c, cpu_sample()): ns spent in
 * softirq on each CPU, from the softirq_entry and softirq_exit tracepoints.
 * /proc/stat counts it in 10 ms units: a thousand keepalives a second cost a
 * few ms, which it rounds to nothing (the plot's empty series). Softirqs do
 * not nest on a CPU; an exit without its entry (the meter attached in the
 * middle of one) is not counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);	/* 0: the current softirq's start, 1: the total */
	__type(key, __u32);
	__type(value, __u64);
} softirq_time SEC(".maps");

SEC("tp_btf/softirq_entry")
int BPF_PROG(bench_softirq_entry, unsigned int vec_nr)
{
	__u32 k = 0;
	__u64 *start = bpf_map_lookup_elem(&softirq_time, &k);

	if (start)
		*start = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(bench_softirq_exit, unsigned int vec_nr)
{
	__u32 k0 = 0, k1 = 1;
	__u64 *start = bpf_map_lookup_elem(&softirq_time, &k0);
	__u64 *total = bpf_map_lookup_elem(&softirq_time, &k1);

	if (!start || !total || !*start)
		return 0;
	*total += bpf_ktime_get_ns() - *start;
	*start = 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
