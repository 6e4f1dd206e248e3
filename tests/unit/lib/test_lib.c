// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of agent/lib/tko.c (libtko).
 *
 * No BPF object is loaded and no pin is created. The first tests use lib.c as
 * it is (environment, defaults, argument checks, a missing pin directory). The
 * rest stand in for the kernel: this file defines the few libbpf calls lib.c
 * makes (bpf_obj_get, bpf_prog_test_run_opts, bpf_map_lookup_elem,
 * bpf_map_lookup_batch); a definition in the executable takes precedence over
 * libbpf.so's. bpf_obj_get forwards to libbpf's unless a test turns fake pins
 * on, in which case each pin is an fd on /dev/null. The fakes follow the
 * kernel's semantics (errno and -errno on failure, as libbpf 1.x does).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "tko.h"
#include "loader.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the fake kernel ----------------------------------------------------- */

static const char *const lib_pin_names[] = {
	PIN_SESSIONS, PIN_EVENT_LOG, PIN_STATS, PIN_CTL_START, PIN_CTL_STOP,
};
enum { LP_SESSIONS, LP_EVENT_LOG, LP_STATS, LP_START, LP_STOP, LP_N };

#define MAX_FAKE_SESSIONS 8

static struct {
	bool on;			/* fake pins instead of libbpf's bpf_obj_get */
	int missing;			/* index of a pin that does not exist, or -1 */
	char dir[PATH_MAX];		/* where lib.c must look */
	int fd[LP_N];			/* what bpf_obj_get handed out, -1 if nothing */
	int gets;			/* bpf_obj_get calls */

	/* bpf_prog_test_run_opts */
	int runs, run_fd, run_err;
	__u32 run_retval;
	struct tko_ctl_args run_args;
	__u32 run_ctx_size;

	/* the sessions hash map, in its iteration order */
	struct tko_key keys[MAX_FAKE_SESSIONS];
	struct tko_session sessions[MAX_FAKE_SESSIONS];
	int nsessions;

	/* the event_log array map */
	struct tko_event log[TKO_EVENT_LOG_LEN];
	int log_fail_at;		/* index whose lookup fails with EIO, or -1 */

	/* the per-CPU stats array map: value = stat * 1000 + cpu + 1 */
	int stats_fail_at;
} fk;

static int fake_reset(void **state)
{
	memset(&fk, 0, sizeof(fk));
	fk.missing = fk.log_fail_at = fk.stats_fail_at = -1;
	for (int i = 0; i < LP_N; i++)
		fk.fd[i] = -1;
	return 0;
}

static int fail_errno(int e)
{
	errno = e;
	return -e;
}

int bpf_obj_get(const char *path)
{
	static int (*real)(const char *);
	char want[PATH_MAX + 32];

	if (!fk.on) {
		if (!real)
			real = (int (*)(const char *))dlsym(RTLD_NEXT, "bpf_obj_get");
		return real ? real(path) : fail_errno(ENOSYS);
	}
	fk.gets++;
	for (int i = 0; i < LP_N; i++) {
		snprintf(want, sizeof(want), "%s/%s", fk.dir, lib_pin_names[i]);
		if (strcmp(path, want))
			continue;
		if (i == fk.missing)
			return fail_errno(ENOENT);
		fk.fd[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return fk.fd[i];
	}
	fail_msg("bpf_obj_get: unexpected path %s", path);
	return -1;
}

int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts)
{
	fk.runs++;
	fk.run_fd = prog_fd;
	fk.run_ctx_size = opts->ctx_size_in;
	if (opts->ctx_in && opts->ctx_size_in == sizeof(fk.run_args))
		memcpy(&fk.run_args, opts->ctx_in, sizeof(fk.run_args));
	/* a control program reads nothing else and writes no output */
	assert_null(opts->data_in);
	assert_null(opts->ctx_out);
	if (fk.run_err)
		return fail_errno(-fk.run_err);
	opts->retval = fk.run_retval;
	return 0;
}

static int fake_session_index(const void *key)
{
	for (int i = 0; i < fk.nsessions; i++)
		if (!memcmp(&fk.keys[i], key, sizeof(struct tko_key)))
			return i;
	return -1;
}

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	__u32 idx;

	if (fd >= 0 && fd == fk.fd[LP_SESSIONS]) {
		int i = fake_session_index(key);

		if (i < 0)
			return fail_errno(ENOENT);
		memcpy(value, &fk.sessions[i], sizeof(fk.sessions[i]));
		return 0;
	}
	memcpy(&idx, key, sizeof(idx));
	if (fd >= 0 && fd == fk.fd[LP_EVENT_LOG]) {
		if (idx >= TKO_EVENT_LOG_LEN)
			return fail_errno(ENOENT);
		if ((int)idx == fk.log_fail_at)
			return fail_errno(EIO);
		memcpy(value, &fk.log[idx], sizeof(fk.log[idx]));
		return 0;
	}
	if (fd >= 0 && fd == fk.fd[LP_STATS]) {
		int ncpu = libbpf_num_possible_cpus();

		if (idx >= TKO_ST_MAX)
			return fail_errno(ENOENT);
		if ((int)idx == fk.stats_fail_at)
			return fail_errno(EPERM);
		for (int c = 0; c < ncpu; c++)
			((__u64 *)value)[c] = (__u64)idx * 1000 + c + 1;
		return 0;
	}
	fail_msg("bpf_map_lookup_elem on unexpected fd %d", fd);
	return -1;
}

/*
 * Batch semantics of a hash map: in_batch NULL starts the walk, out_batch is
 * an opaque cursor, and the last chunk comes with -ENOENT.
 */
int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values,
			 __u32 *count, const struct bpf_map_batch_opts *opts)
{
	__u64 start = in_batch ? *(__u64 *)in_batch : 0, i;
	__u32 n = 0;

	if (fd < 0 || fd != fk.fd[LP_SESSIONS])
		fail_msg("bpf_map_lookup_batch on unexpected fd %d", fd);
	for (i = start; i < (__u64)fk.nsessions && n < *count; i++, n++) {
		memcpy((struct tko_key *)keys + n, &fk.keys[i], sizeof(fk.keys[i]));
		memcpy((struct tko_session *)values + n, &fk.sessions[i], sizeof(fk.sessions[i]));
	}
	*count = n;
	*(__u64 *)out_batch = i;
	return i >= (__u64)fk.nsessions ? fail_errno(ENOENT) : 0;
}

static bool fd_is_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

/* An open struct tko over fake pins under /tmp/tko-unit-fake (never created). */
static struct tko *fake_open(void)
{
	struct tko *t = NULL;

	fk.on = true;
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/tko-unit-fake");
	assert_int_equal(tko_open(fk.dir, &t), 0);
	assert_non_null(t);
	return t;
}

static struct tko_key key_v4(__u8 last)
{
	struct tko_key k = {
		.family = TKO_AF_INET, .lport = 40000, .rport = 443,
		.laddr = { 192, 168, 0, last }, .raddr = { 203, 0, 113, 7 },
	};
	return k;
}

/* ---- environment and defaults -------------------------------------------- */

static void test_default_pin_dir(void **state)
{
	char *saved = getenv("TKO_PIN_DIR") ? strdup(getenv("TKO_PIN_DIR")) : NULL;

	assert_int_equal(unsetenv("TKO_PIN_DIR"), 0);
	assert_string_equal(tko_default_pin_dir(), "/sys/fs/bpf/tko");
	assert_string_equal(TKO_PIN_DIR_DEFAULT, "/sys/fs/bpf/tko");

	assert_int_equal(setenv("TKO_PIN_DIR", "/sys/fs/bpf/other", 1), 0);
	assert_string_equal(tko_default_pin_dir(), "/sys/fs/bpf/other");

	assert_int_equal(setenv("TKO_PIN_DIR", "", 1), 0);	/* empty means unset */
	assert_string_equal(tko_default_pin_dir(), "/sys/fs/bpf/tko");

	if (saved)
		setenv("TKO_PIN_DIR", saved, 1);
	else
		unsetenv("TKO_PIN_DIR");
	free(saved);
}

static void test_config_default(void **state)
{
	struct tko_config cfg, want = {
		.idle_s = 60, .interval_s = 60, .retry_interval_s = 10, .retries = 5,
		.probe = TKO_PROBE_ZERO, .flags = 0,
	};

	memset(&cfg, 0xa5, sizeof(cfg));	/* every byte is set, padding included */
	tko_config_default(&cfg);
	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

/* ---- tko_session_start: range checks, before any fd is used --------------- */

static const struct cfg_bad {
	const char *what;
	__u32 idle_s, interval_s, retry_interval_s, retries;
	__u8 probe;
} cfg_bad[] = {
	{ "idle 0", 0, 60, 10, 5, TKO_PROBE_ZERO },
	{ "idle above a week", TKO_TIME_MAX + 1, 60, 10, 5, TKO_PROBE_ZERO },
	{ "idle UINT32_MAX", UINT32_MAX, 60, 10, 5, TKO_PROBE_ZERO },
	{ "interval 0", 60, 0, 10, 5, TKO_PROBE_ZERO },
	{ "interval above a week", 60, TKO_TIME_MAX + 1, 10, 5, TKO_PROBE_ZERO },
	{ "retry interval 0", 60, 60, 0, 5, TKO_PROBE_ZERO },
	{ "retry interval above a week", 60, 60, TKO_TIME_MAX + 1, 5, TKO_PROBE_ZERO },
	{ "retries 0", 60, 60, 10, 0, TKO_PROBE_ZERO },
	{ "retries 256", 60, 60, 10, TKO_RETRIES_MAX + 1, TKO_PROBE_ZERO },
	{ "retries UINT32_MAX", 60, 60, 10, UINT32_MAX, TKO_PROBE_ZERO },
	{ "probe 2", 60, 60, 10, 5, TKO_PROBE_BYTE + 1 },
	{ "probe 255", 60, 60, 10, 5, 255 },
};

static void test_start_einval(void **state)
{
	struct tko_key key = key_v4(2);

	for (size_t i = 0; i < ARRAY_LEN(cfg_bad); i++) {
		struct tko_config cfg;
		int ret;

		tko_config_default(&cfg);
		cfg.idle_s = cfg_bad[i].idle_s;
		cfg.interval_s = cfg_bad[i].interval_s;
		cfg.retry_interval_s = cfg_bad[i].retry_interval_s;
		cfg.retries = cfg_bad[i].retries;
		cfg.probe = cfg_bad[i].probe;
		/* no handle at all: the check must come before t is touched */
		ret = tko_session_start(NULL, &key, &cfg, NULL, 0);
		if (ret != -EINVAL)
			fail_msg("%s: tko_session_start returned %d, want -EINVAL", cfg_bad[i].what,
				 ret);
	}
}

/* ---- tko_open on a real (absent) pin directory ---------------------------- */

static void test_open_missing_dir(void **state)
{
	struct tko *t = (struct tko *)&t;	/* must stay untouched */
	char dir[] = "/tmp/tko-unit-XXXXXX", gone[sizeof(dir) + 16];

	int ret_gone, ret_empty;

	assert_non_null(mkdtemp(dir));
	snprintf(gone, sizeof(gone), "%s/nothing", dir);
	ret_gone = tko_open(gone, &t);
	/* a directory that exists but holds no pins: no agent either */
	ret_empty = tko_open(dir, &t);
	assert_int_equal(rmdir(dir), 0);	/* before any check can fail */
	assert_int_equal(ret_gone, -ENOENT);
	assert_int_equal(ret_empty, -ENOENT);
	assert_ptr_equal(t, (struct tko *)&t);
}

static void test_close_null(void **state)
{
	tko_close(NULL);
}

/* ---- with fake pins ------------------------------------------------------ */

static void test_open_close_fake(void **state)
{
	struct tko *t = fake_open();
	int fds[LP_N];

	assert_int_equal(fk.gets, LP_N);	/* every pin, under the given directory */
	for (int i = 0; i < LP_N; i++) {
		assert_true(fd_is_open(fk.fd[i]));
		fds[i] = fk.fd[i];
	}
	tko_close(t);
	for (int i = 0; i < LP_N; i++)
		if (fd_is_open(fds[i]))
			fail_msg("pin %s: fd %d left open by tko_close", lib_pin_names[i], fds[i]);
}

/* Whichever pin is missing, tko_open fails with -ENOENT and leaks no fd. */
static void test_open_one_pin_missing(void **state)
{
	for (int m = 0; m < LP_N; m++) {
		struct tko *t = (struct tko *)&t;
		int ret;

		fake_reset(NULL);
		fk.on = true;
		fk.missing = m;
		snprintf(fk.dir, sizeof(fk.dir), "/tmp/tko-unit-fake");
		ret = tko_open(fk.dir, &t);
		if (ret != -ENOENT)
			fail_msg("pin %s missing: tko_open returned %d", lib_pin_names[m], ret);
		assert_ptr_equal(t, (struct tko *)&t);
		for (int i = 0; i < LP_N; i++)
			if (fd_is_open(fk.fd[i]))
				fail_msg("pin %s missing: fd of %s leaked", lib_pin_names[m], lib_pin_names[i]);
	}
}

/* The limits themselves are accepted, and reach the control program intact. */
static void test_start_limits_accepted(void **state)
{
	static const struct tko_config ok[] = {
		{ .idle_s = TKO_TIME_MIN, .interval_s = TKO_TIME_MIN,
		  .retry_interval_s = TKO_TIME_MIN, .retries = 1, .probe = TKO_PROBE_ZERO },
		{ .idle_s = TKO_TIME_MAX, .interval_s = TKO_TIME_MAX,
		  .retry_interval_s = TKO_TIME_MAX, .retries = TKO_RETRIES_MAX,
		  .probe = TKO_PROBE_BYTE, .flags = TKO_F_ONESHOT },
	};
	struct tko *t = fake_open();
	struct tko_key key = key_v4(2);
	struct tko_config def;

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		fk.runs = 0;
		assert_int_equal(tko_session_start(t, &key, &ok[i], NULL, 0), 0);
		assert_int_equal(fk.runs, 1);
		assert_int_equal(fk.run_fd, fk.fd[LP_START]);
		assert_int_equal(fk.run_ctx_size, sizeof(struct tko_ctl_args));
		assert_memory_equal(&fk.run_args.cfg, &ok[i], sizeof(ok[i]));
	}
	tko_config_default(&def);	/* the defaults pass their own checks */
	assert_int_equal(tko_session_start(t, &key, &def, NULL, 0), 0);
	tko_close(t);
}

/* Monitor mode: no state, so no TKO_F_STATE_GIVEN even if the caller set it. */
static void test_start_args_monitor(void **state)
{
	struct tko *t = fake_open();
	struct tko_key key = key_v4(2);
	struct tko_config cfg;
	struct tko_ctl_args want = { .key = key };

	tko_config_default(&cfg);
	cfg.flags = TKO_F_ONESHOT | TKO_F_STATE_GIVEN;
	want.cfg = cfg;
	want.cfg.flags = TKO_F_ONESHOT;
	assert_int_equal(tko_session_start(t, &key, &cfg, NULL, TKO_HAVE_SEQ | TKO_HAVE_TS), 0);
	assert_memory_equal(&fk.run_args, &want, sizeof(want));
	assert_int_equal(cfg.flags, TKO_F_ONESHOT | TKO_F_STATE_GIVEN);	/* caller's copy kept */
	tko_close(t);
}

static void test_start_args_state(void **state)
{
	struct tko *t = fake_open();
	struct tko_key key = {
		.family = TKO_AF_INET6, .lport = 1, .rport = 65535,
		.laddr = { 0xfd, 0x00, [15] = 1 }, .raddr = { 0xfd, 0x00, [15] = 2 },
	};
	struct tko_tcp_state tcp = {
		.snd_nxt = 0xffffffffU, .rcv_nxt = 7, .ts_val = 8, .ts_ecr = 9,
		.window = 65535, .wscale = 14,
	};
	struct tko_config cfg;
	struct tko_ctl_args want = { .key = key, .tcp = tcp,
				     .have = TKO_HAVE_SEQ | TKO_HAVE_TS };

	tko_config_default(&cfg);
	want.cfg = cfg;
	want.cfg.flags = TKO_F_STATE_GIVEN;
	assert_int_equal(tko_session_start(t, &key, &cfg, &tcp, TKO_HAVE_SEQ | TKO_HAVE_TS), 0);
	assert_memory_equal(&fk.run_args, &want, sizeof(want));
	tko_close(t);
}

/* The control program's verdict is the caller's result; so is a failed run. */
static void test_start_stop_results(void **state)
{
	static const int verdicts[] = { 0, -EEXIST, -E2BIG, -EINVAL, -ENOENT };
	struct tko *t = fake_open();
	struct tko_key key = key_v4(9);
	struct tko_config cfg;

	tko_config_default(&cfg);
	for (size_t i = 0; i < ARRAY_LEN(verdicts); i++) {
		fk.run_retval = (__u32)verdicts[i];
		assert_int_equal(tko_session_start(t, &key, &cfg, NULL, 0), verdicts[i]);
		assert_int_equal(tko_session_stop(t, &key), verdicts[i]);
	}
	fk.run_retval = 0;
	fk.run_err = -EPERM;	/* BPF_PROG_RUN itself refused */
	assert_int_equal(tko_session_start(t, &key, &cfg, NULL, 0), -EPERM);
	assert_int_equal(tko_session_stop(t, &key), -EPERM);
	tko_close(t);
}

static void test_stop_args(void **state)
{
	struct tko *t = fake_open();
	struct tko_key key = key_v4(3);
	struct tko_ctl_args want = { .key = key };

	memset(&fk.run_args, 0xa5, sizeof(fk.run_args));
	assert_int_equal(tko_session_stop(t, &key), 0);
	assert_int_equal(fk.run_fd, fk.fd[LP_STOP]);
	assert_int_equal(fk.run_ctx_size, sizeof(struct tko_ctl_args));
	assert_memory_equal(&fk.run_args, &want, sizeof(want));	/* the key, zeros elsewhere */
	tko_close(t);
}

static void test_session_get(void **state)
{
	struct tko *t = fake_open();
	struct tko_key key = key_v4(4), other = key_v4(5);
	struct tko_session s;

	fk.keys[0] = key;
	fk.sessions[0].state = TKO_ACTIVE;
	fk.sessions[0].tcp.snd_nxt = 1234;
	fk.nsessions = 1;
	assert_int_equal(tko_session_get(t, &key, &s), 0);
	assert_memory_equal(&s, &fk.sessions[0], sizeof(s));
	assert_int_equal(tko_session_get(t, &other, &s), -ENOENT);
	tko_close(t);
}

/* ---- tko_session_foreach ----------------------------------------------- */

struct walk {
	int calls, stop_at, stop_ret;
	__u8 seen[MAX_FAKE_SESSIONS];	/* last address byte of each key, in order */
};

static int walk_cb(const struct tko_key *key, const struct tko_session *s, void *ctx)
{
	struct walk *w = ctx;

	assert_int_equal(s->tcp.snd_nxt, key->laddr[3] * 100);	/* the key's own session */
	w->seen[w->calls++] = key->laddr[3];
	return w->calls == w->stop_at ? w->stop_ret : 0;
}

static void test_foreach(void **state)
{
	struct tko *t = fake_open();
	struct walk w = { 0 };

	assert_int_equal(tko_session_foreach(t, walk_cb, &w), 0);	/* empty table */
	assert_int_equal(w.calls, 0);

	for (int i = 0; i < 4; i++) {
		fk.keys[i] = key_v4(i + 1);
		fk.sessions[i].tcp.snd_nxt = (i + 1) * 100;
	}
	fk.nsessions = 4;
	assert_int_equal(tko_session_foreach(t, walk_cb, &w), 0);
	assert_int_equal(w.calls, 4);
	assert_memory_equal(w.seen, ((__u8[]){ 1, 2, 3, 4 }), 4);

	memset(&w, 0, sizeof(w));	/* a non-zero return ends the walk and is returned */
	w.stop_at = 2;
	w.stop_ret = 42;
	assert_int_equal(tko_session_foreach(t, walk_cb, &w), 42);
	assert_int_equal(w.calls, 2);
	tko_close(t);
}

/* ---- tko_events_read ----------------------------------------------------- */

struct collect {
	int n, stop_at_seq, stop_ret;
	__u64 seqs[16];
};

static int collect_cb(const struct tko_event *e, void *ctx)
{
	struct collect *c = ctx;

	assert_true(c->n < (int)ARRAY_LEN(c->seqs));
	assert_int_equal(e->next_probe_ms, e->seq * 10);	/* the whole event came along */
	c->seqs[c->n++] = e->seq;
	return (int)e->seq == c->stop_at_seq ? c->stop_ret : 0;
}

static void put_event(__u32 slot, __u64 seq)
{
	fk.log[slot].seq = seq;
	fk.log[slot].next_probe_ms = seq * 10;
}

static void test_events_read(void **state)
{
	struct tko *t = fake_open();
	struct collect c = { 0 };
	__u64 after = 0;

	assert_int_equal(tko_events_read(t, &after, collect_cb, &c), 0);	/* empty log */
	assert_int_equal(c.n, 0);
	assert_int_equal(after, 0);

	/* a log that wrapped: newest in the low slots, empty slots (seq 0) between */
	put_event(0, 1025);
	put_event(1, 1026);
	put_event(5, 1029);
	put_event(1023, 1023);
	put_event(2, 1027);
	put_event(700, 700);
	after = 1000;
	assert_int_equal(tko_events_read(t, &after, collect_cb, &c), 0);
	assert_int_equal(c.n, 5);
	assert_memory_equal(c.seqs, ((__u64[]){ 1023, 1025, 1026, 1027, 1029 }),
			    5 * sizeof(__u64));
	assert_int_equal(after, 1029);

	memset(&c, 0, sizeof(c));	/* nothing new: nothing delivered, after unchanged */
	assert_int_equal(tko_events_read(t, &after, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(after, 1029);

	/* a callback that stops: after points at the last event it was given */
	memset(&c, 0, sizeof(c));
	c.stop_at_seq = 1025;
	c.stop_ret = -EINTR;
	after = 1000;
	assert_int_equal(tko_events_read(t, &after, collect_cb, &c), -EINTR);
	assert_int_equal(c.n, 2);
	assert_int_equal(after, 1025);
	memset(&c, 0, sizeof(c));	/* and the next read resumes after it */
	assert_int_equal(tko_events_read(t, &after, collect_cb, &c), 0);
	assert_memory_equal(c.seqs, ((__u64[]){ 1026, 1027, 1029 }), 3 * sizeof(__u64));
	assert_int_equal(after, 1029);
	tko_close(t);
}

static void test_events_read_error(void **state)
{
	struct tko *t = fake_open();
	struct collect c = { 0 };
	__u64 after = 0;

	put_event(3, 1);
	fk.log_fail_at = 512;
	assert_int_equal(tko_events_read(t, &after, collect_cb, &c), -EIO);
	assert_int_equal(c.n, 0);	/* nothing half-delivered */
	assert_int_equal(after, 0);
	tko_close(t);
}

/* ---- tko_stats_read ------------------------------------------------------ */

static void test_stats_read(void **state)
{
	struct tko *t = fake_open();
	int ncpu = libbpf_num_possible_cpus();
	__u64 out[TKO_ST_MAX];

	assert_true(ncpu > 0);
	memset(out, 0xff, sizeof(out));
	assert_int_equal(tko_stats_read(t, out), 0);
	for (__u64 i = 0; i < TKO_ST_MAX; i++) {
		/* sum over c of (i * 1000 + c + 1) */
		__u64 want = i * 1000 * ncpu + (__u64)ncpu * (ncpu + 1) / 2;

		if (out[i] != want)
			fail_msg("stat %llu: %llu, want %llu over %d CPUs", (unsigned long long)i,
				 (unsigned long long)out[i], (unsigned long long)want, ncpu);
	}
	fk.stats_fail_at = TKO_ST_EVENTS;
	assert_int_equal(tko_stats_read(t, out), -EPERM);
	tko_close(t);
}

#define T(fn) cmocka_unit_test_setup(fn, fake_reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_default_pin_dir),
		T(test_config_default),
		T(test_start_einval),
		T(test_open_missing_dir),
		T(test_close_null),
		T(test_open_close_fake),
		T(test_open_one_pin_missing),
		T(test_start_limits_accepted),
		T(test_start_args_monitor),
		T(test_start_args_state),
		T(test_start_stop_results),
		T(test_stop_args),
		T(test_session_get),
		T(test_foreach),
		T(test_events_read),
		T(test_events_read_error),
		T(test_stats_read),
	};

	return cmocka_run_group_tests_name("lib", tests, NULL, NULL);
}
