// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The answer path's clock (bpf/lib/coarse.h): jiffies * tick + base, which
 * is CLOCK_MONOTONIC to a tick, read with one load where the clocksource
 * takes a helper call.
 *
 * The tick is TICK_NSEC of the kernel's CONFIG_HZ, read from its config
 * where one is installed (/boot/config-RELEASE on Debian, or
 * /proc/config.gz: where libbpf looks for __kconfig) and measured where
 * not. The base is measured: the control program tko_clock_read reads
 * jiffies and the clock together, and the loader notes each change of
 * jiffies it sees, an "edge", at the clock's time of the first sample that
 * shows it. An edge is seen late by the tick interrupt's latency and the
 * time since the sample before (the thread may have been preempted in
 * between); under emulation that is milliseconds at times, but most edges
 * are seen within microseconds. So what is kept of them is their lower
 * envelope: the base is the earliest edge's, jiffies' boundaries drawn
 * through it (t - j * tick smallest); and a measured tick is the CONFIG_HZ
 * whose boundaries keep that envelope flat, its earliest edge of the first
 * half of the measure as early as that of the second.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "log.h"
#include "ctl.skel.h"

#define NS_PER_MS	1000000ULL
#define NS_PER_S	1000000000ULL
#define CLOCK_EDGES	128
#define CLOCK_SPAN_NS	(100 * NS_PER_MS)	/* edges watched to measure a tick, */
#define CLOCK_EDGES_MIN	8			/* at least so many */
#define CLOCK_TICKS	5			/* ticks watched to place the base with a known tick */

/* CONFIG_HZ of the architectures Linux runs on (kernel/Kconfig.hz and theirs). */
static const unsigned int hz_values[] = {
	24, 32, 48, 64, 100, 128, 200, 250, 256, 300, 500, 512, 1000, 1024, 1200,
};

__u64 tko_tick_ns(unsigned int hz)
{
	return (NS_PER_S + hz / 2) / hz;
}

unsigned int tko_config_hz(void)
{
	char path[300], line[256];
	unsigned int hz = 0;
	struct utsname u;
	gzFile f = NULL;

	if (!uname(&u)) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		f = gzopen(path, "r");
	}
	if (!f)
		f = gzopen("/proc/config.gz", "r");
	while (f && !hz && gzgets(f, line, sizeof(line)))
		if (sscanf(line, "CONFIG_HZ=%u", &hz) != 1)
			hz = 0;
	if (f)
		gzclose(f);
	return hz;
}

int tko_clock_sample(const struct tko_ctl *ctl, struct tko_clock_edge *s)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);

	if (bpf_prog_test_run_opts(bpf_program__fd(ctl->progs.tko_clock_read), &o))
		return -errno;
	s->jiffies = ctl->bss->clock_sample.jiffies;
	s->ns = ctl->bss->clock_sample.ns;
	return 0;
}

/* The changes of jiffies seen for span ns (at most CLOCK_EDGES): how many, or -errno. */
static int edges_seen(const struct tko_ctl *ctl, __u64 span, struct tko_clock_edge *e)
{
	struct tko_clock_edge prev, cur;
	int n = 0, err;

	err = tko_clock_sample(ctl, &prev);
	if (err)
		return err;
	for (__u64 start = prev.ns; prev.ns - start < span && n < CLOCK_EDGES; prev = cur) {
		err = tko_clock_sample(ctl, &cur);
		if (err)
			return err;
		if (cur.jiffies != prev.jiffies)
			e[n++] = cur;
	}
	return n;
}

/* Edge i's time less its boundary's, for tick (relative to edge 0's). */
static __s64 lateness(const struct tko_clock_edge *e, int i, __u64 tick)
{
	return (__s64)(e[i].ns - e[0].ns) - (__s64)((e[i].jiffies - e[0].jiffies) * tick);
}

/* The earliest of edges [from, to) for tick: its index. */
static int earliest(const struct tko_clock_edge *e, int from, int to, __u64 tick)
{
	int best = from;

	for (int i = from + 1; i < to; i++)
		if (lateness(e, i, tick) < lateness(e, best, tick))
			best = i;
	return best;
}

unsigned int tko_hz_of_edges(const struct tko_clock_edge *e, int n)
{
	__s64 best_tilt = INT64_MAX;
	unsigned int hz = 0;

	for (size_t k = 0; k < sizeof(hz_values) / sizeof(hz_values[0]); k++) {
		__u64 tick = tko_tick_ns(hz_values[k]);
		__s64 tilt = lateness(e, earliest(e, n / 2, n, tick), tick) -
			     lateness(e, earliest(e, 0, n / 2, tick), tick);

		if (tilt < 0)
			tilt = -tilt;
		if (tilt < best_tilt) {
			best_tilt = tilt;
			hz = hz_values[k];
		}
	}
	return hz;
}

int tko_clock_calibrate(const struct tko_ctl *ctl, unsigned int hz, __u64 *tick_ns,
			__u64 *base_ns)
{
	__u64 span = hz ? CLOCK_TICKS * tko_tick_ns(hz) : CLOCK_SPAN_NS;
	struct tko_clock_edge e[CLOCK_EDGES];
	bool measured = !hz;
	double mean = 0;
	__u64 tick;
	int n, m;

	*tick_ns = *base_ns = 0;
	n = edges_seen(ctl, span, e);
	if (n < 0)
		return n;
	if (n < (hz ? 1 : CLOCK_EDGES_MIN)) {
		pr_warn("jiffies changed %d times in %llu ms: the answer path reads the clocksource",
			n, span / NS_PER_MS);
		return -ETIME;
	}
	if (n > 1)
		mean = (double)(e[n - 1].ns - e[0].ns) / (double)(e[n - 1].jiffies - e[0].jiffies);
	if (measured) {
		hz = tko_hz_of_edges(e, n);
		/* a sanity check, not the measure: late edges move the mean */
		if (mean < tko_tick_ns(hz) * 0.8 || mean > tko_tick_ns(hz) * 1.25) {
			pr_warn("jiffies advance every %.0f ns, no tick of a kernel's HZ: "
				"the answer path reads the clocksource", mean);
			return -ERANGE;
		}
	}
	tick = tko_tick_ns(hz);
	m = earliest(e, 0, n, tick);
	*tick_ns = tick;
	*base_ns = e[m].ns - e[m].jiffies * tick;	/* unsigned: jiffies start near 2^32 */
	pr_debug("the answer path's clock: jiffies, HZ %u (%s; %d changes, %.0f ns apart)", hz,
		 measured ? "measured" : "the kernel's config", n, mean);
	return 0;
}
