// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metric 1, in the kernel: ns of CPU per peer keepalive answered by
 * tko_xdp_ingress, with 1, 10^4 and 10^6 sessions in the table.
 *
 * Each run is one BPF_PROG_RUN (repeat 1) of the XDP program on the peer's
 * probe of one ACTIVE session, the kernel's own duration (opts.duration).
 * Why repeat 1: the answer rewrites the frame in place, and BPF_PROG_RUN
 * repeats on the rewritten frame (an answer, which is not tko's to touch),
 * and the per-session budget (4 answers a second) would turn every further
 * run into the rate-limited path. So before each run the session's budget is
 * cleared (bench_open_window, outside the timed run), and what BPF_PROG_RUN
 * itself adds to one run is measured with an empty XDP program on the same
 * frame, interleaved, and subtracted.
 *
 * The sessions are started by the control program (tko_start_batch) and
 * made ACTIVE in place (inproc_install: as the clock leaves them), and the
 * probed ones are spread over the table, so with 10^6 the lookups (index
 * bucket, then entry) miss the CPU caches as they would on a busy gateway.
 *
 * With TKO_PROFILE_SESSIONS=N it only answers probes of N sessions in a
 * loop, untimed, for bench/profile.sh (SIGUSR1: print how many so far).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "common.h"
#include "frames.h"
#include "inproc.h"
#include "ctl.skel.h"
#include "xdp_ingress.skel.h"
#include "helpers.skel.h"

#define SND	0x1a2b3c4du
#define RCV	0x5e6f7081u
#define TSVAL	0x00c0ffeeu
#define TSECR	0x0badcafeu

static const struct tko_tcp_state state = {
	.snd_nxt = SND, .rcv_nxt = RCV, .window = 0x1f5, .wscale = 7,
	.ts_val = TSVAL, .ts_ecr = TSECR,
};

/* The peer's keepalive probe of session i, as Linux sends it (TSopt). */
static void probe_frame(uint32_t i, struct frame *f)
{
	struct tko_key k = bench_key(i);
	struct seg_spec s = {
		.smac = { 2, 0, 0, 0, 0, 1 }, .dmac = { 2, 0, 0, 0, 0, 2 },
		.sport = k.rport, .dport = k.lport,
		.seq = RCV - 1, .ack = SND, .flags = F_ACK, .window = 0x2000,
		.ts = true, .tsval = TSECR + 1000, .tsecr = TSVAL,
		.ttl = 57, .pad_to = ETH_MIN_LEN,
	};

	memcpy(s.saddr, k.raddr, 4);
	memcpy(s.daddr, k.laddr, 4);
	frame_build(f, &s);
}

/* One run of prog on f; returns the kernel's duration in ns. */
static double run_once(int prog_fd, const struct frame *f, int want)
{
	uint8_t out[FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = (__u32)f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		die("BPF_PROG_RUN: %s", strerror(errno));
	if (want >= 0 && (int)o.retval != want)
		die("XDP verdict %u, expected %d (is the session ACTIVE?)", o.retval, want);
	return o.duration;
}

/* ACTIVE sessions, as the control program and the timer leave them. */
static void install(struct inproc *p, uint32_t from, uint32_t to)
{
	struct tko_session s = {
		.cfg = { .idle_s = 60, .interval_s = 60, .retry_interval_s = 10, .retries = 5 },
		.tcp = state,
		.state = TKO_ACTIVE,
		.prev_state = TKO_LEARNING,
		.have = TKO_HAVE_SEQ | TKO_HAVE_TS,
	};
	uint64_t t0 = now_ns();

	/* Their conntrack entries were refreshed a moment ago: an answer
	 * within the refresh period (bpf/lib/conntrack.h), as most are. */
	s.started_ns = s.last_seen_ns = s.probe_ns = s.ct_refresh_ns = t0;
	inproc_fill(p, from, to, &s);
	if (to - from > 1000)
		progress("%u sessions inserted in %.1f s", to - from, (now_ns() - t0) / 1e9);
}

/*
 * How the sessions answered are chosen (each round answers one probe of
 * `samples` sessions spread evenly over the table; QUICK and the full run
 * differ only in the number of rounds):
 *  - WARM: the same ones every round, their budget opened again before each
 *    run: in the CPU's caches (with 10^6, not all in its TLB), as the
 *    sessions of a gateway's busiest peers;
 *  - COLD: every round sessions of its own, not touched since they were
 *    installed: the index bucket and the entry are each a miss to memory
 *    (and the TLB), one after the other, as on a gateway whose 10^6
 *    sessions are each probed once a minute;
 *  - REFRESH: WARM, each answer also refreshing the flow's conntrack entry
 *    (once per refresh period in a session's life, bpf/lib/conntrack.h).
 */
enum pick { WARM, COLD, REFRESH };

static void measure(struct inproc *p, uint32_t count, int rounds, size_t samples, enum pick pick)
{
	static const char *const suffix[] = { [WARM] = "", [COLD] = "_cold", [REFRESH] = "_ct_refresh" };
	static const char *const what[] = {
		[WARM] = "", [COLD] = ", each session untouched since installed", [REFRESH] = " refreshing conntrack",
	};
	int xdp_fd = bpf_program__fd(p->b.xdp->progs.tko_xdp_ingress);
	int nop_fd = bpf_program__fd(p->h->progs.bench_nop);
	bool cold = pick == COLD;
	size_t m = samples < count ? samples : count;
	size_t sets = cold ? (size_t)rounds + 1 : 1;
	uint32_t *idx = calloc(m * sets, sizeof(*idx));
	struct frame *f = calloc(m * sets, sizeof(*f));
	double *tko = calloc(m, sizeof(double)), *nop = calloc(m, sizeof(double));
	double *net = calloc(rounds, sizeof(double)), *base = calloc(rounds, sizeof(double));
	struct stats st, sb;
	char key[64];

	if (!idx || !f || !tko || !nop || !net || !base)
		die("out of memory");
	/* set k, sample j: session (j * sets + k) of m * sets spread evenly */
	for (size_t k = 0; k < sets; k++)
		for (size_t j = 0; j < m; j++) {
			size_t i = k * m + j;

			idx[i] = (uint32_t)((uint64_t)(j * sets + k) * count / (m * sets));
			probe_frame(idx[i], &f[i]);
		}
	/* round -1 warms the JIT'ed code up (and, hot, the caches); not counted */
	for (int r = -1; r < rounds; r++) {
		size_t k0 = cold ? (size_t)(r + 1) * m : 0;
		struct stats a, b;

		for (size_t j = 0; j < m; j++) {
			if (!cold)	/* id = index: a fresh table */
				inproc_open_window(p, idx[j], pick == REFRESH);
			nop[j] = run_once(nop_fd, &f[k0 + j], XDP_PASS);
			tko[j] = run_once(xdp_fd, &f[k0 + j], XDP_TX);
		}
		if (r < 0)
			continue;
		stats_of(tko, m, &a);
		stats_of(nop, m, &b);
		net[r] = a.median - b.median;
		base[r] = b.median;
	}
	stats_of(net, rounds, &st);
	stats_of(base, rounds, &sb);
	progress("%8u sessions: %s per answer%s (BPF_PROG_RUN overhead %s subtracted)", count,
		 stats_str(&st, "ns"), what[pick], stats_str(&sb, "ns"));
	snprintf(key, sizeof(key), "answer.run_ns%s.s%u", suffix[pick], count);
	result_stats(key, &st);
	if (pick == WARM) {
		snprintf(key, sizeof(key), "answer.run_overhead_ns.s%u", count);
		result(key, sb.median);
	}
	free(idx);
	free(f);
	free(tko);
	free(nop);
	free(net);
	free(base);
}

/*
 * For a profiler (bench/profile.sh): answer probes of `count` sessions in a
 * loop for `seconds`, as measure() does, untimed. perf samples the CPU
 * meanwhile and attributes what it finds in tko_xdp_ingress to its lines.
 */
static void profile_loop(struct inproc *p, uint32_t count, double seconds)
{
	int xdp_fd = bpf_program__fd(p->b.xdp->progs.tko_xdp_ingress);
	size_t m = count < 2000 ? count : 2000;
	struct frame *f = calloc(m, sizeof(*f));
	uint32_t *idx = calloc(m, sizeof(*idx));
	uint64_t end, n = 0;

	if (!f || !idx)
		die("out of memory");
	for (size_t j = 0; j < m; j++) {
		idx[j] = (uint32_t)((uint64_t)j * count / m);
		probe_frame(idx[j], &f[j]);
	}
	profile_marks_arm();
	progress("profiling: %u sessions, %.0f s", count, seconds);
	end = now_ns() + (uint64_t)(seconds * 1e9);
	while (now_ns() < end)
		for (size_t j = 0; j < m; j++, n++) {
			inproc_open_window(p, idx[j], false);
			run_once(xdp_fd, &f[j], XDP_TX);
			profile_mark(n, "answers");
		}
	progress("profiling: %llu answers", (unsigned long long)n);
	free(f);
	free(idx);
}

int main(int argc, char **argv)
{
	static const uint32_t counts[] = { 1, 10000, 1000000 };
	const char *prof = getenv("TKO_PROFILE_SESSIONS");
	struct inproc p;
	struct opts o;
	uint32_t have = 0;

	bench_init("answer_run");
	opts_parse(&o, argc, argv);
	/* one CPU's caches and TLB, whatever the scheduler does meanwhile */
	pin_cpu(1);
	inproc_load(&p, 1u << 20);
	if (prof) {
		uint32_t n = (uint32_t)strtoul(prof, NULL, 0);
		const char *secs = getenv("TKO_PROFILE_SECONDS");

		install(&p, 0, n);
		profile_loop(&p, n, secs ? atof(secs) : 10);
		inproc_destroy(&p);
		return 0;
	}
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		install(&p, have, counts[c]);
		have = counts[c];
		measure(&p, counts[c], o.quick ? 3 : 7, 2000, WARM);
		if (counts[c] == 1)
			measure(&p, 1, o.quick ? 3 : 7, 1, REFRESH);
		if (counts[c] == 1000000)
			measure(&p, counts[c], o.quick ? 3 : 7, 2000, COLD);
	}
	inproc_destroy(&p);
	return 0;
}
