// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test-only: ct_refresh_skb() (bpf/lib/conntrack.h), the TC programs' call,
 * for a session of the key the test writes in ct_key (kept here, not in the
 * session table: its notes are what the test reads back), run with
 * BPF_PROG_RUN (tests/prog/prog_conntrack.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/consts.h"
#include "lib/conntrack.h"

struct tko_key ct_key;
struct tko_session ct_session;
__u64 ct_now;	/* the time of the run, as the test sets it (bpf_ktime_get_ns() if 0) */

SEC("tc")
int tko_test_ct_skb(struct __sk_buff *skb)
{
	ct_session.key = ct_key;
	ct_refresh_skb(skb, ~0u, &ct_session, ct_now ?: bpf_ktime_get_ns());
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
