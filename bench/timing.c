// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 7: how late tko's probes leave against the moment they are due,
 * for carrier ticks of 1, 10 and 100 ms.
 *
 * The real agent runs in the endpoint namespace; 100 sessions probe every
 * second, their phases spread evenly, answered by the simulated peer. The peer reads tko's session table
 * as each probe arrives (bpf_ktime_get_ns(), the clock tko uses): an answered
 * session's probe is due interval_s after its previous probe left (probe_ns), so
 * late = arrival - (previous probe_ns + interval). This is the wait for the
 * pass of the probe's tick (a probe may leave up to a tick early: its
 * tick's pass comes at the tick's start), the carrier's hold landing late
 * or early, and the transmission through the veth. The first probe of each session (no previous one) is not
 * counted.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "common.h"
#include "inproc.h"
#include "peerctl.h"
#include "tko_dp.h"

#define SESSIONS 100
#define MAX_SAMPLES 65536

static void one_tick(const struct opts *o, unsigned int tick_ms, unsigned int window_s)
{
	static double late[MAX_SAMPLES], queue[MAX_SAMPLES];
	struct tko_config cfg = { .idle_s = 1, .interval_s = 1, .retry_interval_s = 1,
				  .retries = 255 };
	struct bench_peer *peer;
	struct stats sl, sq;
	struct agent a;
	struct tko *t;
	uint64_t enomem = 0;
	char key[64];
	int err;
	size_t n;

	agent_start(&a, o, o->ns_a, BENCH_ENDPOINT_IF, tick_ms, 4096, false);
	peer = peer_attach(o->ns_b, a.pin_dir);
	peer_mode(peer, PEER_REFLECT);
	if ((err = tko_open(a.pin_dir, &t)))
		die("tko_open: %s", strerror(-err));
	/* Starts spread over one interval: one probe due every 10 ms, so that
	 * only the tick and the carrier's hold show. */
	uint64_t t0 = now_ns();

	for (uint32_t i = 0; i < SESSIONS; i++) {
		sleep_until_ns(t0 + i * NSEC_PER_SEC / SESSIONS);
		if ((err = bench_start_retrying(t, i, &cfg, &enomem)))
			die("tko_dp_session_start: %s", strerror(-err));
	}

	/* Activation, the first probe, then only probes with a predecessor. */
	sleep_ns(2500 * 1000 * 1000ULL);
	peer_reset_samples(peer);
	sleep_ns((uint64_t)window_s * NSEC_PER_SEC);
	n = peer_samples(peer, late, queue, MAX_SAMPLES);
	if (n < SESSIONS) {
		/* Reported, not hidden: the table shows n/a for this tick. */
		progress("tick %u ms: only %zu probes timed (%llu reflected): no result", tick_ms,
			 n, (unsigned long long)peer_count(peer, PEER_REFLECT));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		late[i] = fabs(late[i]);
	stats_of(late, n, &sl);
	stats_of(queue, n, &sq);
	progress("tick %3u ms: |sent - due| p50 %.3f ms, p99 %.3f ms (pass -> peer p50 %.3f, "
		 "p99 %.3f; %zu probes)", tick_ms, sl.median, sl.p99, sq.median, sq.p99, n);
	snprintf(key, sizeof(key), "timing_ms.tick_%u.p50", tick_ms);
	result(key, sl.median);
	snprintf(key, sizeof(key), "timing_ms.tick_%u.p99", tick_ms);
	result(key, sl.p99);
	snprintf(key, sizeof(key), "timing_ms.tick_%u.max", tick_ms);
	result(key, sl.max);
	snprintf(key, sizeof(key), "timing_ms.tick_%u.samples", tick_ms);
	result(key, (double)n);
out:
	tko_close(t);
	agent_stop(&a);
	peer_detach(peer);
}

int main(int argc, char **argv)
{
	static const unsigned int ticks[] = { 1, 10, 100 };
	struct opts o;

	bench_init("timing");
	opts_parse(&o, argc, argv);
	if (!o.ns_a || !o.ns_b || !o.pin_dir)
		die("--ns-a, --ns-b and --pin-dir are required");
	for (size_t i = 0; i < sizeof(ticks) / sizeof(ticks[0]); i++)
		one_tick(&o, ticks[i], o.quick ? 3 : 10);
	return 0;
}
