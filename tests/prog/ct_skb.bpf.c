// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test-only: ct_refresh_skb() (bpf/lib/conntrack.h), the TC programs' call,
 * on the key the test writes in ct_key, run with BPF_PROG_RUN
 * (tests/prog/prog_conntrack.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/conntrack.h"

#define TC_ACT_OK 0

struct tko_key ct_key;

SEC("tc")
int tko_test_ct_skb(struct __sk_buff *skb)
{
	struct tko_key k = ct_key;

	ct_refresh_skb(skb, &k);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
