// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Forwarded policies under flow churn, in the kernel: what a gateway that
 * sees thousands of short flows a second pays at TC egress.
 *
 *  - policy.flows_per_s: matching flows created and ended per second on one
 *    core. Each flow is the device's SYN (the tuple may be tracked again),
 *    the handshake's last ACK (it becomes a session: an entry, the index,
 *    the clock's request, a "started" event) and its FIN (the session ends:
 *    out of the index, an "invalidated" event, the tuple into flows_closed);
 *    the carrier pass that frees the entries is counted too. The cost is the
 *    kernel's own duration of each BPF_PROG_RUN (repeat 1), summed.
 *  - policy.miss_ns: a segment of a flow that no forwarded policy matches,
 *    with 8 forwarded policies present (their prefixes elsewhere); next to
 *    it policy.miss_base_ns, the same segment with no forwarded policy at
 *    all (the session lookup alone): the difference is the one trie lookup.
 *
 * Everything runs on one CPU (the calling thread is pinned to CPU 0); the
 * events go to a ring buffer nobody reads, as fast as an agent would take
 * them (a full ring buffer costs a failed reserve instead: counted below).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "frames.h"
#include "loader.h"
#include "policies.h"
#include "ctl.skel.h"
#include "tc_egress.skel.h"
#include "carrier.skel.h"

#define TC_ACT_OK	0
#define BATCH		1024	/* flows between two carrier passes */

static struct tko_bpf B;
static int tc_fd, carrier_fd;

static void set_policy(__u32 slot, __u8 a, __u8 b, __u8 len)
{
	struct tko_policy p = { .id = slot + 1, .lfamily = TKO_AF_INET,
				.laddr = { a, b }, .lprefix_len = len };
	int fd = bpf_map__fd(B.ctl->maps.policies);

	p.cfg = (struct tko_config){ .idle_s = 60, .interval_s = 60, .retry_interval_s = 10,
				     .retries = 5, .flags = TKO_F_FORWARDED };
	if (bpf_map_update_elem(fd, &slot, &p, BPF_ANY))
		die("cannot write policy %u: %s", slot, strerror(errno));
	if (policy_prefixes_sync(fd, bpf_map__fd(B.ctl->maps.policy_prefixes)))
		die("cannot sync the policy prefixes: %s", strerror(errno));
}

/* Flow i's segment: device 10.(i>>16).(i>>8).i:40000 -> 192.0.2.1:443 (or from a). */
static void flow_frame(uint32_t i, __u8 a, uint8_t flags, uint32_t seq, struct frame *f)
{
	struct seg_spec s = {
		.smac = { 2, 0, 0, 0, 0, 1 }, .dmac = { 2, 0, 0, 0, 0, 2 },
		.saddr = { a, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i },
		.daddr = { 192, 0, 2, 1 },
		.sport = 40000, .dport = 443, .seq = seq, .ack = flags & F_SYN ? 0 : 7001,
		.flags = flags, .window = 502, .ttl = 63, .pad_to = ETH_MIN_LEN,
	};

	frame_build(f, &s);
}

/* One run (repeat times) of TC egress on f: the kernel's ns per run. */
static double tc_run(const struct frame *f, uint32_t repeat)
{
	uint8_t out[FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = (__u32)f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(tc_fd, &o))
		die("BPF_PROG_RUN tc: %s", strerror(errno));
	if (o.retval != TC_ACT_OK)
		die("TC verdict %u", o.retval);
	return o.duration;
}

/* One pass of the clock (frees the entries of ended sessions): its ns. */
static double carrier_pass(void)
{
	static uint8_t out[65536];
	uint8_t in[TKO_CARRIER_LEN] = { 0 };
	struct tko_carrier_hdr *h = (void *)in;
	struct __sk_buff ctx = { .ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = sizeof(in),
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	memset(h->dst, 0xff, 6);
	h->proto = htons(TKO_CARRIER_ETHERTYPE);
	h->magic = htonl(TKO_CARRIER_MAGIC);
	h->generation = 1;
	if (bpf_prog_test_run_opts(carrier_fd, &o))
		die("BPF_PROG_RUN carrier: %s", strerror(errno));
	return o.duration;
}

static uint64_t stat_sum(__u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 v[ncpu > 0 ? ncpu : 1];
	uint64_t sum = 0;

	if (ncpu <= 0 || bpf_map_lookup_elem(bpf_map__fd(B.ctl->maps.stats), &idx, v))
		die("cannot read stats[%u]", idx);
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

static void load(uint32_t max_sessions)
{
	struct tko_carrier_state c = {
		.loop_ifindex = 1, .generation = 1,
		.tick_ns = TKO_TICK_MS_DEFAULT * 1000000ULL,
		.tick_bytes = tko_tick_bytes(TKO_TICK_MS_DEFAULT),
	};
	__u32 zero = 0;
	int err;

	tko_bpf_setup_logging();
	err = tko_bpf_load(&B, max_sessions);
	if (err)
		die("cannot load tko's BPF objects: %s", strerror(-err));
	if (bpf_map_update_elem(bpf_map__fd(B.ctl->maps.carrier), &zero, &c, BPF_ANY))
		die("cannot set up the carrier map: %s", strerror(errno));
	tc_fd = bpf_program__fd(B.tc->progs.tko_tc_egress);
	carrier_fd = bpf_program__fd(B.carrier->progs.tko_carrier);
}

/* Churn through n flows; returns the summed kernel ns. */
static double churn(uint32_t n, uint32_t base)
{
	struct frame syn, ack, fin;
	double ns = 0;

	for (uint32_t i = 0; i < n; i++) {
		flow_frame(base + i, 10, F_SYN, 7000, &syn);
		flow_frame(base + i, 10, F_ACK, 7001, &ack);
		flow_frame(base + i, 10, F_FIN | F_ACK, 7001, &fin);
		ns += tc_run(&syn, 1) + tc_run(&ack, 1) + tc_run(&fin, 1);
		if ((i + 1) % BATCH == 0)
			ns += carrier_pass();
	}
	return ns + carrier_pass();
}

int main(int argc, char **argv)
{
	struct opts o;
	cpu_set_t cpus;
	uint32_t flows, rounds;
	double *per_s, miss[9], base[9];
	struct stats st;
	struct frame f;
	uint64_t tracked0;

	bench_init("policy_run");
	opts_parse(&o, argc, argv);
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("cannot pin to CPU 0: %s", strerror(errno));
	flows = o.quick ? 50000 : 200000;
	rounds = o.quick ? 3 : 7;
	load(1u << 16);

	/* A non-matching flow: first with no forwarded policy, then with eight. */
	flow_frame(1, 172, F_ACK, 7001, &f);
	for (int r = 0; r < 9; r++)
		base[r] = tc_run(&f, 100000);
	for (__u32 s = 0; s < 8; s++)
		set_policy(s, 10, (__u8)(16 * s), 12);
	for (int r = 0; r < 9; r++)
		miss[r] = tc_run(&f, 100000);
	stats_of(base, 9, &st);
	progress("non-matching segment, no forwarded policy: %s", stats_str(&st, "ns"));
	result_stats("policy.miss_base_ns", &st);
	stats_of(miss, 9, &st);
	progress("non-matching segment, 8 forwarded policies: %s", stats_str(&st, "ns"));
	result_stats("policy.miss_ns", &st);

	/* Churn: every flow of 10.0.0.0/8 matches policy 1. */
	per_s = calloc(rounds, sizeof(*per_s));
	if (!per_s)
		die("out of memory");
	tracked0 = stat_sum(TKO_ST_FLOWS_TRACKED);
	for (uint32_t r = 0; r < rounds; r++) {
		double ns = churn(flows, r * flows);

		per_s[r] = flows / (ns / 1e9);
		progress("round %u: %u flows created and ended in %.1f ms of kernel time (%.0f/s)",
			 r + 1, flows, ns / 1e6, per_s[r]);
	}
	if (stat_sum(TKO_ST_FLOWS_TRACKED) - tracked0 != (uint64_t)flows * rounds)
		die("%llu flows became sessions, expected %llu",
		    (unsigned long long)(stat_sum(TKO_ST_FLOWS_TRACKED) - tracked0),
		    (unsigned long long)flows * rounds);
	if (stat_sum(TKO_ST_REFUSED_TABLE_FULL) || stat_sum(TKO_ST_REFUSED_INDEX_FULL))
		die("flows were refused: the carrier did not free the entries");
	stats_of(per_s, rounds, &st);
	progress("flows created and ended per second, one core: %s", stats_str(&st, "/s"));
	result_stats("policy.flows_per_s", &st);
	result("policy.flow_ns", 1e9 / st.median);
	result("policy.events_lost", (double)stat_sum(TKO_ST_EVENTS_LOST));
	free(per_s);
	tko_bpf_destroy(&B);
	return 0;
}
