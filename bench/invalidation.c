// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 6: the endpoint wakes and sends data on an ACTIVE session; how
 * long until the agent prints the "suspended" event?
 *
 * N real connections (1000; quick 200) between the endpoint namespace, where
 * the agent runs on e0, and the peer namespace. Their state is handed over
 * (TCP_REPAIR reads it), all become ACTIVE after one second. Then, one at a
 * time: write one byte on connection i (t0), read the agent's stdout until
 * its "suspended ... reason=data_local" line for connection i (t1).
 * t1 - t0 covers TC egress seeing the segment, the ring buffer, the agent's
 * wakeup, formatting and the write to its stdout.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "agent.h"
#include "common.h"
#include "conns.h"
#include "peerctl.h"
#include "tko_dp.h"

static char buf[1 << 16];
static size_t have;

/* Read the agent's lines until one contains all of want[]; false on timeout. */
static bool wait_line(int fd, const char *want1, const char *want2, unsigned int limit_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)limit_ms * 1000000;

	for (;;) {
		char *nl;

		while ((nl = memchr(buf, '\n', have))) {
			bool hit;

			*nl = '\0';
			hit = strstr(buf, want1) && (!want2 || strstr(buf, want2));
			have -= nl + 1 - buf;
			memmove(buf, nl + 1, have);
			if (hit)
				return true;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (int64_t)(deadline - now_ns()) / 1000000;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		ssize_t n = read(fd, buf + have, sizeof(buf) - have - 1);

		if (n <= 0)
			return false;
		have += n;
	}
}

int main(int argc, char **argv)
{
	struct tko_config cfg = { .idle_s = 1, .interval_s = 3600, .retry_interval_s = 3600,
				  .retries = 5 };
	struct conns cs;
	struct agent a;
	struct tko *t;
	struct opts o;
	struct stats st;
	uint32_t ea, pa;
	size_t n;
	int err;

	bench_init("invalidation");
	opts_parse(&o, argc, argv);
	if (!o.ns_a || !o.ns_b || !o.pin_dir)
		die("--ns-a, --ns-b and --pin-dir are required");
	n = o.quick ? 200 : 1000;
	inet_pton(AF_INET, BENCH_ENDPOINT_ADDR, &ea);
	inet_pton(AF_INET, BENCH_PEER_ADDR, &pa);
	conns_open(&cs, n, o.ns_a, o.ns_b, ea, pa);
	conns_read_state(&cs);
	agent_start(&a, &o, o.ns_a, BENCH_ENDPOINT_IF, AGENT_TICK_DEFAULT, 4096, true);
	if ((err = tko_open(a.pin_dir, &t)))
		die("tko_open: %s", strerror(-err));
	for (size_t i = 0; i < n; i++)
		if ((err = tko_dp_session_start(t, &cs.c[i].key, &cfg, &cs.c[i].tcp, TKO_HAVE_SEQ)))
			die("tko_dp_session_start: %s", strerror(-err));
	for (size_t i = 0; i < n; i++)
		if (!wait_line(a.out_fd, "offloaded", NULL, 10000))
			die("only %zu of %zu sessions became ACTIVE", i, n);
	sleep_ns(200 * 1000 * 1000);	/* tko's first probes and their answers */

	double *ms = calloc(n, sizeof(double));

	for (size_t i = 0; i < n; i++) {
		char local[64];
		uint64_t t0;

		snprintf(local, sizeof(local), " %s:%u ", BENCH_ENDPOINT_ADDR, cs.c[i].key.lport);
		t0 = now_ns();
		if (write(cs.c[i].fd, "x", 1) != 1)
			die("write: %s", strerror(errno));
		if (!wait_line(a.out_fd, "reason=data_local", local, 5000))
			die("no suspended event for connection %zu", i);
		ms[i] = (now_ns() - t0) / 1e6;
	}
	stats_of(ms, n, &st);
	progress("%zu trials: p50 %.3f ms, p99 %.3f ms, max %.3f ms", n, st.median, st.p99, st.max);
	result("invalidation_ms.p50", st.median);
	result("invalidation_ms.p99", st.p99);
	result("invalidation_ms.max", st.max);
	result("invalidation_ms.trials", (double)n);
	tko_close(t);
	agent_stop(&a);
	conns_close(&cs);
	return 0;
}
