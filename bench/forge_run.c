// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 2: CPU per forged probe. One carrier pass is one BPF_PROG_RUN of
 * tko_carrier on the carrier frame, with K sessions in the due queue (what
 * the timers would have pushed): it pops up to TKO_CARRIER_BUDGET of them,
 * writes each probe over the frame and bpf_clone_redirect()s it out of the
 * session's interface, then restores the carrier. The interface is one end
 * of a veth pair in the benchmark's namespace whose other end is down
 * (run.sh; this kernel has no dummy driver): the clone goes through
 * dev_queue_xmit to a driver that drops it, so a NIC driver's own cost is
 * not included (tko counts such a drop as an emit error instead of a probe
 * sent: the work up to the driver is the same). K > budget takes several passes; the cost per probe is the
 * sum of their in-kernel durations over K. The timers' side (pushing the
 * due sessions) is not included.
 *
 * The maximum rate on one core: many full passes back to back in one
 * BPF_PROG_RUN (repeat), distinct sessions, in-kernel time.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "inproc.h"
#include "ctl.skel.h"
#include "carrier.skel.h"

#define NSESSIONS 65536
#define OUT_IF "bv0"

static int due_fd, carrier_fd;
static uint8_t frame[TKO_CARRIER_LEN];
static uint32_t next_session;

static void push(uint32_t k)
{
	for (uint32_t i = 0; i < k; i++) {
		struct tko_key key = bench_key(next_session++ % NSESSIONS);

		if (bpf_map_update_elem(due_fd, NULL, &key, 0))
			die("cannot push on the due queue: %s", strerror(errno));
	}
}

/* `repeat` carrier passes; returns their total in-kernel duration. */
static double passes(int repeat)
{
	uint8_t out[256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = sizeof(frame),
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(carrier_fd, &o))
		die("BPF_PROG_RUN carrier: %s", strerror(errno));
	return (double)o.duration * repeat;
}

/* Probes handed to the driver, whether it sent or dropped them. */
static uint64_t emitted(struct inproc *p)
{
	return inproc_stat(p, TKO_ST_PROBES_SENT) + inproc_stat(p, TKO_ST_EMIT_ERRORS);
}

static void setup(struct inproc *p)
{
	unsigned int ifindex = if_nametoindex(OUT_IF);
	struct tko_carrier_hdr *h = (void *)frame;
	struct tko_carrier_state cs = { .generation = 1 };
	struct tko_session s = {
		.cfg = { .idle_s = 60, .interval_s = 60, .retry_interval_s = 10, .retries = 5 },
		.tcp = { .snd_nxt = 1000, .rcv_nxt = 2000, .window = 502, .wscale = 7 },
		.state = TKO_ACTIVE,
		.have = TKO_HAVE_SEQ | TKO_HAVE_L2,
		.lmac = { 2, 0, 0, 0, 0, 2 }, .rmac = { 2, 0, 0, 0, 0, 1 },
	};
	__u32 zero = 0;

	if (!ifindex)
		die("no %s in this namespace (run.sh makes it)", OUT_IF);
	s.ifindex = ifindex;
	inproc_fill(p, 0, NSESSIONS, &s);
	due_fd = bpf_map__fd(p->b.ctl->maps.due);
	carrier_fd = bpf_program__fd(p->b.carrier->progs.tko_carrier);
	cs.loop_ifindex = ifindex;	/* the restored carrier's redirect is not performed */
	if (bpf_map_update_elem(bpf_map__fd(p->b.ctl->maps.carrier), &zero, &cs, BPF_ANY))
		die("cannot set the carrier state: %s", strerror(errno));
	memset(h->dst, 0xff, 6);
	h->proto = htons(TKO_CARRIER_ETHERTYPE);
	h->magic = htonl(TKO_CARRIER_MAGIC);
	h->generation = 1;
}

int main(int argc, char **argv)
{
	int rounds, budget = TKO_CARRIER_BUDGET;
	struct inproc p;
	struct opts o;
	struct stats st;
	double v[64], idle[64];
	char key[64];

	bench_init("forge_run");
	opts_parse(&o, argc, argv);
	rounds = o.quick ? 9 : 31;
	if (o.ns_a)
		netns_enter(o.ns_a);	/* where the output veth is */
	inproc_load(&p, NSESSIONS);
	setup(&p);
	push(NSESSIONS);		/* warm-up: every session's path once */
	passes(NSESSIONS / budget);

	for (int r = 0; r < rounds; r++)
		idle[r] = passes(1);
	stats_of(idle, rounds, &st);
	progress("empty pass (the idle cost of one tick): %s", stats_str(&st, "ns"));
	result_stats("forge.idle_pass_ns", &st);

	for (uint32_t k = 1; k <= 1024; k *= 2) {
		uint64_t sent0 = emitted(&p);

		for (int r = 0; r < rounds; r++) {
			push(k);
			v[r] = passes((int)((k + budget - 1) / budget)) / k;
		}
		if (emitted(&p) - sent0 != (uint64_t)k * rounds)
			die("the carrier emitted %llu probes, %u expected",
			    (unsigned long long)(emitted(&p) - sent0), k * rounds);
		stats_of(v, rounds, &st);
		progress("K=%4u due: %s per probe", k, stats_str(&st, "ns"));
		snprintf(key, sizeof(key), "forge.ns_per_probe_k.k%u", k);
		result_stats(key, &st);
		if (k == 1024)
			result_stats("forge.ns_per_probe", &st);
	}

	/* Back-to-back full passes over distinct sessions: one core's maximum. */
	for (int r = 0; r < rounds; r++) {
		int n = NSESSIONS / budget;

		push((uint32_t)n * budget);
		v[r] = (double)n * budget * NSEC_PER_SEC / passes(n);
	}
	stats_of(v, rounds, &st);
	progress("maximum on one core: %s", stats_str(&st, "probes/s"));
	result_stats("forge.max_probes_per_s", &st);
	inproc_destroy(&p);
	return 0;
}
