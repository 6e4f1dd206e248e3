// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program tests of the loader (agent/loader/loader.c): the objects share their
 * maps by name, a pinned datapath is adopted only if each of its maps is
 * what this build's objects define, and the answer path's clock is
 * CLOCK_MONOTONIC to a tick (agent/loader/clock.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <cmocka.h>

#include "harness.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "xdp_tx_report.skel.h"
#include "sock_iter.skel.h"
#include "sockops.skel.h"
#pragma GCC diagnostic pop

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define MAP_PIN(id, ...) id,
#define NO_PIN(...)
static const enum pin_id map_pins[] = { TKO_PINS(MAP_PIN, NO_PIN, NO_PIN) };

static char pin_dir[64];

/*
 * One map per name: every map of the other objects is the control object's
 * map of that name (one kernel id), but their own globals (.rodata, .bss)
 * and the maps the control object does not have (sock_iter's capture, the
 * carrier's frame buffer).
 */
static void test_maps_shared_by_name(void **state)
{
	struct bpf_object *objs[] = { H.b.xdp->obj, H.b.tc->obj, H.b.tci->obj, H.b.report->obj,
				      H.b.carrier->obj, H.b.iter->obj, H.b.sockops->obj };
	const struct bpf_map *m;
	int shared = 0;

	for (size_t i = 0; i < ARRAY_LEN(objs); i++)
		bpf_object__for_each_map(m, objs[i]) {
			const struct bpf_map *c = bpf_object__find_map_by_name(H.b.ctl->obj,
									       bpf_map__name(m));

			if (bpf_map__is_internal(m) || !c)
				continue;
			if (tko_obj_id(bpf_map__fd(m)) != tko_obj_id(bpf_map__fd(c)))
				fail_msg("map %s of %s is a copy of its own", bpf_map__name(m),
					 bpf_object__name(objs[i]));
			shared++;
		}
	if (!shared)
		fail_msg("no map shared");
}

/* tko_pins_open on pin_dir, and what it said on stderr (one line at most). */
static int pins_open(struct tko_fds *f, char *said, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), err;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	err = tko_pins_open(pin_dir, f);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(said, 1, len - 1, tmp);
	said[n] = '\0';
	fclose(tmp);
	return err;
}

/* Adopted as pinned: every pin opens, each the object the loader made. */
static void test_pins_adopted(void **state)
{
	struct tko_fds made, got;
	char said[512];

	tko_bpf_fds(&H.b, &made);
	CHECK_EQ(pins_open(&got, said, sizeof(said)), 0, "tko_pins_open");
	if (said[0])
		fail_msg("tko_pins_open said: %s", said);
	for (int i = 0; i < P_MAX; i++)
		if (tko_obj_id(got.fd[i]) != tko_obj_id(made.fd[i]))
			fail_msg("pin %s is not the loader's", pin_names[i]);
	tko_fds_close(&got);
}

/* Pin map fd as pin id, in place of what is there. */
static void repin(enum pin_id id, int fd)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, pin_names[id]);
	unlink(path);
	if (bpf_obj_pin(fd, path))
		fail_msg("cannot pin %s: %s", path, strerror(errno));
}

/*
 * Map id replaced by one like it but for what change() alters: adoption
 * is refused, and the one line says why, naming map named.
 */
static void refused_with(enum pin_id id, void (*change)(struct bpf_map_info *),
			 enum pin_id named, const char *why)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct tko_fds made, got;
	char said[512], want[128];
	int fd, err;

	tko_bpf_fds(&H.b, &made);
	assert_int_equal(bpf_obj_get_info_by_fd(made.fd[id], &info, &len), 0);
	change(&info);
	opts.map_flags = info.map_flags;
	fd = bpf_map_create(info.type, NULL, info.key_size, info.value_size, info.max_entries,
			    &opts);
	if (fd < 0)
		fail_msg("cannot make a map in place of %s: %s", pin_names[id], strerror(-fd));
	repin(id, fd);
	close(fd);
	err = pins_open(&got, said, sizeof(said));
	repin(id, made.fd[id]);

	CHECK_EQ(err, -EPROTO, pin_names[id]);
	snprintf(want, sizeof(want), "tko: pinned map %s %s", pin_names[named], why);
	if (strncmp(said, want, strlen(want)) || !strstr(said, "'tko unload' removes it\n") ||
	    strchr(said, '\n') != said + strlen(said) - 1)
		fail_msg("for %s, tko_pins_open said: %s", pin_names[id], said);
}

/* Twice the entries: a ring buffer's size stays a power of two. */
static void more_entries(struct bpf_map_info *i) { i->max_entries *= 2; }

/*
 * Every pinned map is checked: its size. The session table's sizes its
 * index and id queues: a table of another size is refused for its index.
 */
static void test_pins_refused_size(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(map_pins); i++)
		refused_with(map_pins[i], more_entries,
			     map_pins[i] == P_SESSIONS ? P_INDEX : map_pins[i], "has another size");
}

static void other_value(struct bpf_map_info *i) { i->value_size += 8; }
static void other_type(struct bpf_map_info *i) { i->type = BPF_MAP_TYPE_ARRAY; }

/* Its layout, and its type (a per-CPU array is not an array). */
static void test_pins_refused_layout(void **state)
{
	refused_with(P_WHEEL, other_value, P_WHEEL, "has another layout");
	refused_with(P_STATS, other_type, P_STATS, "is of another type");
}

/*
 * The loader placed jiffies' tick and base (the tick of the kernel's HZ
 * where its config says it), both answer programs have them, the tick
 * measured without the config is the same, and jiffies * tick + base stays
 * within a tick behind the clock read with it, give or take a tick (the
 * tick's interrupt may come late: under emulation by milliseconds), over
 * 100 ticks: a base off by more, or a tick off by 2 % (HZ 256 taken for
 * 250), strays out.
 */
static void test_answer_clock(void **state)
{
	__u64 tick = H.b.xdp->rodata->coarse_tick_ns, base = H.b.xdp->rodata->coarse_base_ns;
	int64_t behind = 0, ahead = INT64_MIN;
	unsigned int hz = tko_config_hz();
	uint64_t end, j0 = 0, j = 0;
	__u64 measured, mbase;

	if (!tick)
		fail_msg("the loader could not place jiffies");
	CHECK_EQ(H.b.tci->rodata->coarse_tick_ns, tick, "TC ingress's tick");
	CHECK_EQ(H.b.tci->rodata->coarse_base_ns, base, "TC ingress's base");
	if (hz)
		CHECK_EQ(tick, tko_tick_ns(hz), "the tick of the kernel's CONFIG_HZ");
	if (tko_clock_calibrate(H.b.ctl, 0, &measured, &mbase))
		fail_msg("jiffies' tick could not be measured");
	CHECK_EQ(measured, tick, "the tick measured");
	end = now_ns() + 100 * tick;
	while (now_ns() < end) {
		struct tko_clock_edge c;
		int64_t d;
		int err = tko_clock_sample(H.b.ctl, &c);

		if (err)
			fail_msg("BPF_PROG_RUN tko_clock_read: %s", strerror(-err));
		j = c.jiffies;
		j0 = j0 ?: j;
		d = (int64_t)(j * tick + base - c.ns);
		behind = d < behind ? d : behind;
		ahead = d > ahead ? d : ahead;
	}
	print_message("HZ %u (config: %u), jiffies * tick + base - clock in [%.3f, %.3f] ms; "
		      "measured again, the base %.3f ms away\n",
		      (unsigned int)(tko_tick_ns(1) / tick), hz, behind / 1e6, ahead / 1e6,
		      (int64_t)(mbase - base) / 1e6);
	if (j - j0 < 90)
		fail_msg("jiffies advanced %llu in 100 ticks", (unsigned long long)(j - j0));
	if (behind < -2 * (int64_t)tick || ahead > (int64_t)tick)
		fail_msg("jiffies * tick + base strays from the clock: [%lld, %lld] ns",
			 (long long)behind, (long long)ahead);
}

/*
 * The measure of the tick from changes of jiffies seen late: 25 ticks (HZ
 * 250, 100 ms) or 100 (HZ 1000), most seen up to 3 ms late (a tick
 * interrupt under emulation, a preempted thread), a few within 20 µs: the
 * HZ is told from its neighbours 2.4 % away (256, 1024).
 */
static void test_hz_of_late_edges(void **state)
{
	static const unsigned int hzs[] = { 100, 250, 256, 300, 1000, 1024 };
	uint64_t rnd = 0x9e3779b97f4a7c15ULL;

	for (size_t h = 0; h < ARRAY_LEN(hzs); h++)
		for (int round = 0; round < 50; round++) {
			struct tko_clock_edge e[128];
			__u64 tick = tko_tick_ns(hzs[h]), t0 = 123456789012ULL;
			int n = (int)(100 * 1000000ULL / tick);

			for (int i = 0; i < n; i++) {
				uint64_t late;

				rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
				late = (rnd >> 33) % (i % 4 ? 3000000 : 20000);
				e[i].jiffies = 4294892296ULL + (__u64)i;
				e[i].ns = t0 + (__u64)i * tick + late;
			}
			CHECK_EQ(tko_hz_of_edges(e, n), hzs[h], "HZ of late edges");
		}
}

static int group_setup(void **state)
{
	struct tko_fds made;

	if (h_load(64))
		return -1;
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/tko-prog-loader-%d", (int)getpid());
	tko_bpf_fds(&H.b, &made);
	if (tko_ensure_bpffs(pin_dir) || tko_bpf_pin(&made, pin_dir)) {
		h_destroy();
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	tko_bpf_unpin(pin_dir);
	h_destroy();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_shared_by_name),
		cmocka_unit_test(test_pins_adopted),
		cmocka_unit_test(test_pins_refused_size),
		cmocka_unit_test(test_pins_refused_layout),
		cmocka_unit_test(test_answer_clock),
		cmocka_unit_test(test_hz_of_late_edges),
	};

	return cmocka_run_group_tests_name("prog_loader", tests, group_setup, group_teardown);
}
