// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The answer path's clock (bpf/lib/coarse.h): jiffies * tick + base, which
 * is CLOCK_MONOTONIC to a tick, read with one load where the clocksource
 * takes a helper call.
 *
 * The tick is 1 s / CONFIG_HZ, rounded as the kernel's TICK_NSEC. The
 * kernel does not tell it (its config file is not always installed), so
 * it is measured: the control program tko_clock_read reads jiffies and the
 * clock together, and the time between two changes of jiffies, 20 ms or
 * more apart, divided by the ticks between them, is the tick within 0.1 %,
 * which names one of the values CONFIG_HZ can take. A change counts only
 * when the sample before it was taken just before (the thread was not
 * preempted in between): both changes are then placed as late after their
 * tick's start as the tick's interrupt ran, and the difference is exact
 * but for that interrupt's jitter.
 */
#include <errno.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "log.h"
#include "ctl.skel.h"

#define NS_PER_S	1000000000ULL
#define CLOCK_SPAN_NS	(20 * 1000000ULL)	/* between the two changes measured */
#define CLOCK_CLOSE_NS	(20 * 1000ULL)		/* a change seen this soon after the sample before */
#define CLOCK_GIVE_UP_NS (500 * 1000000ULL)

/* CONFIG_HZ of the architectures Linux runs on (kernel/Kconfig.hz and theirs). */
static const unsigned int hz_values[] = {
	24, 32, 48, 64, 100, 128, 200, 250, 256, 300, 500, 512, 1000, 1024, 1200,
};

struct clock_sample {
	__u64 jiffies;
	__u64 ns;
};

static int sample(const struct tko_ctl *ctl, struct clock_sample *s)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);

	if (bpf_prog_test_run_opts(bpf_program__fd(ctl->progs.tko_clock_read), &o))
		return -errno;
	s->jiffies = ctl->bss->clock_sample.jiffies;
	s->ns = ctl->bss->clock_sample.ns;
	return 0;
}

/* The CONFIG_HZ whose tick is within 0.5 % of tick_ns, or 0. */
static unsigned int hz_of(double tick_ns)
{
	for (size_t i = 0; i < sizeof(hz_values) / sizeof(hz_values[0]); i++) {
		double want = (double)tko_tick_ns(hz_values[i]);

		if (tick_ns > want * 0.995 && tick_ns < want * 1.005)
			return hz_values[i];
	}
	return 0;
}

__u64 tko_tick_ns(unsigned int hz)
{
	return (NS_PER_S + hz / 2) / hz;
}

int tko_clock_calibrate(const struct tko_ctl *ctl, __u64 *tick_ns, __u64 *base_ns)
{
	struct clock_sample prev, cur, first = {};
	unsigned int hz;
	__u64 start;
	double tick;
	int err;

	*tick_ns = *base_ns = 0;
	err = sample(ctl, &prev);
	if (err)
		return err;
	for (start = prev.ns; prev.ns - start < CLOCK_GIVE_UP_NS; prev = cur) {
		err = sample(ctl, &cur);
		if (err)
			return err;
		if (cur.jiffies == prev.jiffies || cur.ns - prev.ns > CLOCK_CLOSE_NS)
			continue;
		if (!first.ns) {
			first = cur;
			continue;
		}
		if (cur.ns - first.ns < CLOCK_SPAN_NS)
			continue;
		tick = (double)(cur.ns - first.ns) / (double)(cur.jiffies - first.jiffies);
		hz = hz_of(tick);
		if (!hz) {
			pr_warn("jiffies advance every %.0f ns, no tick of a kernel's HZ: "
				"the answer path reads the clocksource", tick);
			return -ERANGE;
		}
		*tick_ns = tko_tick_ns(hz);
		/* unsigned: jiffies start 5 min before wrapping 32 bits */
		*base_ns = cur.ns - cur.jiffies * *tick_ns;
		pr_debug("the answer path's clock: jiffies, HZ %u (measured %.0f ns a tick)", hz,
			 tick);
		return 0;
	}
	pr_warn("jiffies did not advance in %llu ms: the answer path reads the clocksource",
		CLOCK_GIVE_UP_NS / 1000000);
	return -ETIME;
}
