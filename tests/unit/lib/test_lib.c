// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of libtko: agent/lib/tko.c, in the datapath's types (tko_dp.h),
 * and agent/lib/api.c, include/tko.h's own types converted.
 *
 * No BPF object is loaded and no pin is created. The first tests use libtko
 * as it is (environment, defaults, argument checks, a missing pin directory).
 * The rest stand in for the kernel: this file defines the few libbpf calls
 * libtko makes (bpf_obj_get, bpf_prog_test_run_opts, bpf_map_lookup_elem,
 * bpf_map_lookup_batch); a definition in the executable takes precedence
 * over libbpf.so's. bpf_obj_get forwards to libbpf's unless a test turns
 * fake pins on, in which case each pin is an fd on /dev/null that names one
 * fake map or program.
 *
 * The fake maps are those of the datapath (include/tko_types.h) with the
 * kernel's semantics: `sessions` is an array of struct tko_session indexed
 * by id (-ENOENT at max_entries and beyond), `sessions_index` an array of
 * buckets holding tko_index_entry(tag, id) where the seeded hash of
 * include/tko_hash.h puts the tuple, as session_publish() leaves them,
 * `table` the one-entry array of struct tko_table. Batch lookups of an array
 * follow generic_map_lookup_batch(): the cursor is the last key returned,
 * the next walk starts after it, the end is -ENOENT with what was copied.
 * Failures set errno and return -errno, as libbpf 1.x does.
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
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "format.h"
#include "tko.h"
#include "tko_dp.h"
#include "tko_hash.h"
#include "loader.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the fake kernel ----------------------------------------------------- */

/* The pins libtko opens: the first LP_OPEN_N in tko_open, the rest on demand. */
enum {
	LP_SESSIONS, LP_INDEX, LP_TABLE, LP_EVENT_LOG, LP_STATS, LP_START, LP_STOP,
	LP_OPEN_N,
	LP_START_BATCH = LP_OPEN_N, LP_DEFAULTS, LP_EV_STATS,
	LP_N
};
/* Named as the agent pins them (pins.h), so libtko must open those. */
static const int lp_pin[LP_N] = {
	[LP_SESSIONS] = P_SESSIONS, [LP_INDEX] = P_INDEX, [LP_TABLE] = P_TABLE,
	[LP_EVENT_LOG] = P_EVENT_LOG, [LP_STATS] = P_STATS, [LP_START] = P_CTL_START,
	[LP_STOP] = P_CTL_STOP, [LP_START_BATCH] = P_CTL_START_BATCH,
	[LP_DEFAULTS] = P_DEFAULTS, [LP_EV_STATS] = P_EV_STATS,
};
#define LP_NAME(i) (pin_names[lp_pin[i]])

#define FAKE_MAX_SESSIONS 2048
#define FAKE_MAX_BUCKETS 256		/* tko_index_buckets(FAKE_MAX_SESSIONS) */
#define FAKE_SEED 0x5eed0fc0ffee1234ULL
#define FOREACH_CHUNK 1024		/* what tko_dp_session_foreach asks per batch */
#define MAX_VERDICTS 8
#define MAX_STARTS 1024

static struct {
	bool on;			/* fake pins instead of libbpf's bpf_obj_get */
	bool absent[LP_N];		/* pins that do not exist */
	char dir[PATH_MAX];		/* where libtko must look */
	int fd[LP_N];			/* the last fd bpf_obj_get handed out, -1 if none */
	int gets[LP_N];			/* bpf_obj_get calls per pin */
	int gets_total;

	/* bpf_prog_test_run_opts on tko_start / tko_stop */
	int runs, run_fd, run_err;
	__u32 run_retval;
	struct tko_ctl_args run_args;
	__u32 run_ctx_size;
	/* tko_start_batch: runs, and a run that fails itself (-errno) */
	int batch_runs, batch_run_err;
	/* Verdicts of the start programs by key.lport (0 if not listed):
	 * tko_start returns it, tko_start_batch stops at the first non-zero. */
	struct { __u16 lport; int err; } verdict[MAX_VERDICTS];
	/* every start the programs were asked for, in order: key.lport */
	__u16 started[MAX_STARTS];
	int nstarted;

	/* table: entry 0, struct tko_table */
	struct tko_table table;
	int table_errno;		/* lookups of it fail with this, 0: they do not */

	/* sessions: array of max_sessions entries */
	__u32 max_sessions;
	struct tko_session sessions[FAKE_MAX_SESSIONS];
	int sessions_reads;		/* bpf_map_lookup_elem calls on it */
	__s64 sessions_fail_id;		/* id whose lookup fails with sessions_errno, or -1 */
	int sessions_errno;
	int batch_calls;		/* bpf_map_lookup_batch calls */
	int batch_fail_call;		/* that call (1, 2, ...) fails with batch_errno; 0: none */
	int batch_errno;

	/* sessions_index: array of table.buckets buckets */
	struct tko_bucket index[FAKE_MAX_BUCKETS];
	int index_reads;
	__s64 index_fail_bucket;	/* bucket whose lookup fails with index_errno, or -1 */
	int index_errno;
	/* Runs after a bucket was copied out, once: what the datapath does
	 * between libtko's read of the index and its read of the entry. */
	void (*after_index_read)(void);

	/* defaults: entry 0, struct tko_config */
	struct tko_config defaults;
	int defaults_errno;

	/* event_log: array of TKO_EVENT_LOG_LEN */
	struct tko_event log[TKO_EVENT_LOG_LEN];
	int log_fail_at;		/* index whose lookup fails with EIO, or -1 */

	/* stats, ev_stats: per-CPU arrays of __u64, value = index * 1000 + cpu + 1 */
	int stats_fail_at;
} fk;

static void fake_table(__u32 max_sessions);

static int fake_reset(void **state)
{
	memset(&fk, 0, sizeof(fk));
	fk.log_fail_at = fk.stats_fail_at = -1;
	fk.sessions_fail_id = fk.index_fail_bucket = -1;
	for (int i = 0; i < LP_N; i++)
		fk.fd[i] = -1;
	fake_table(64);
	return 0;
}

/* A datapath loaded with a table of max_sessions, as tko_bpf_load sets it up. */
static void fake_table(__u32 max_sessions)
{
	assert_true(max_sessions <= FAKE_MAX_SESSIONS);
	memset(fk.sessions, 0, sizeof(fk.sessions));
	memset(fk.index, 0, sizeof(fk.index));
	fk.max_sessions = max_sessions;
	fk.table = (struct tko_table){
		.seed = FAKE_SEED, .buckets = tko_index_buckets(max_sessions),
		.max_sessions = max_sessions,
	};
	assert_true(fk.table.buckets <= FAKE_MAX_BUCKETS);
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
	fk.gets_total++;
	for (int i = 0; i < LP_N; i++) {
		int fd;

		snprintf(want, sizeof(want), "%s/%s", fk.dir, LP_NAME(i));
		if (strcmp(path, want))
			continue;
		fk.gets[i]++;
		if (fk.absent[i])
			return fail_errno(ENOENT);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		/* a number the kernel reuses was closed: it names this pin now */
		for (int j = 0; j < LP_N; j++)
			if (fk.fd[j] == fd)
				fk.fd[j] = -1;
		fk.fd[i] = fd;
		return fd;
	}
	fail_msg("bpf_obj_get: unexpected path %s", path);
	return -1;
}

static int fake_pin_of(int fd)
{
	for (int i = 0; fd >= 0 && i < LP_N; i++)
		if (fk.fd[i] == fd)
			return i;
	return -1;
}

static int verdict_of(const struct tko_ctl_args *a)
{
	for (int i = 0; i < MAX_VERDICTS; i++)
		if (fk.verdict[i].err && fk.verdict[i].lport == a->key.lport)
			return fk.verdict[i].err;
	return 0;
}

static void log_start(const struct tko_ctl_args *a)
{
	assert_true(fk.nstarted < MAX_STARTS);
	fk.started[fk.nstarted++] = a->key.lport;
}

/* tko_start_batch's contract (bpf/ctl.bpf.c): how many started, in order,
 * stopping at the first that fails, and its -errno, in the return value
 * (TKO_BATCH_RET); -EINVAL for a run it refuses whole. */
static int fake_start_batch(const struct tko_ctl_batch *b)
{
	__u32 i;

	if (b->n > TKO_BATCH_MAX)
		return -EINVAL;
	for (i = 0; i < b->n; i++) {
		int err = verdict_of(&b->args[i]);

		log_start(&b->args[i]);
		if (err)
			return TKO_BATCH_RET(i, err);
	}
	return TKO_BATCH_RET(i, 0);
}

int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts)
{
	int pin = fake_pin_of(prog_fd);
	const __u64 *ctx = opts->ctx_in;
	const void *req;

	/* a raw tracepoint program takes its arguments and nothing else
	 * (bpf_prog_test_run_raw_tp): the request's address and size */
	assert_null(opts->data_in);
	assert_null(opts->data_out);
	assert_null(opts->ctx_out);
	assert_int_equal(opts->repeat, 0);
	assert_int_equal(opts->flags, 0);
	assert_non_null(ctx);
	assert_int_equal(opts->ctx_size_in, 2 * sizeof(__u64));
	req = (const void *)(unsigned long)ctx[0];
	if (pin == LP_START_BATCH) {
		fk.batch_runs++;
		/* the programs read a request of their own size only */
		if (!req || ctx[1] != sizeof(struct tko_ctl_batch))
			return fail_errno(EINVAL);
		if (fk.batch_run_err)
			return fail_errno(-fk.batch_run_err);
		opts->retval = (__u32)fake_start_batch(req);
		return 0;
	}
	if (pin != LP_START && pin != LP_STOP)
		fail_msg("bpf_prog_test_run_opts on unexpected fd %d", prog_fd);
	fk.runs++;
	fk.run_fd = prog_fd;
	fk.run_ctx_size = ctx[1];
	if (!req || ctx[1] != sizeof(struct tko_ctl_args))
		return fail_errno(EINVAL);
	memcpy(&fk.run_args, req, sizeof(fk.run_args));
	if (fk.run_err)
		return fail_errno(-fk.run_err);
	opts->retval = fk.run_retval;
	if (pin == LP_START) {
		log_start(&fk.run_args);
		if (verdict_of(&fk.run_args))
			opts->retval = (__u32)verdict_of(&fk.run_args);
	}
	return 0;
}

/* A per-CPU array of __u64: value of index i on CPU c is i * 1000 + c + 1. */
static int percpu_lookup(__u32 idx, __u32 max, void *value)
{
	int ncpu = libbpf_num_possible_cpus();

	if (idx >= max)
		return fail_errno(ENOENT);
	if ((int)idx == fk.stats_fail_at)
		return fail_errno(EPERM);
	for (int c = 0; c < ncpu; c++)
		((__u64 *)value)[c] = (__u64)idx * 1000 + c + 1;
	return 0;
}

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	int pin = fake_pin_of(fd);
	__u32 idx;

	memcpy(&idx, key, sizeof(idx));	/* every map here is an array: a __u32 key */
	switch (pin) {
	case LP_SESSIONS:
		fk.sessions_reads++;
		if (idx >= fk.max_sessions)
			return fail_errno(ENOENT);
		if ((__s64)idx == fk.sessions_fail_id)
			return fail_errno(fk.sessions_errno);
		memcpy(value, &fk.sessions[idx], sizeof(fk.sessions[idx]));
		return 0;
	case LP_INDEX:
		fk.index_reads++;
		if (idx >= fk.table.buckets)
			return fail_errno(ENOENT);
		if ((__s64)idx == fk.index_fail_bucket)
			return fail_errno(fk.index_errno);
		memcpy(value, &fk.index[idx], sizeof(fk.index[idx]));
		if (fk.after_index_read) {
			void (*f)(void) = fk.after_index_read;

			fk.after_index_read = NULL;
			f();
		}
		return 0;
	case LP_TABLE:
		if (idx >= 1)
			return fail_errno(ENOENT);
		if (fk.table_errno)
			return fail_errno(fk.table_errno);
		memcpy(value, &fk.table, sizeof(fk.table));
		return 0;
	case LP_DEFAULTS:
		if (idx >= 1)
			return fail_errno(ENOENT);
		if (fk.defaults_errno)
			return fail_errno(fk.defaults_errno);
		memcpy(value, &fk.defaults, sizeof(fk.defaults));
		return 0;
	case LP_EVENT_LOG:
		if (idx >= TKO_EVENT_LOG_LEN)
			return fail_errno(ENOENT);
		if ((int)idx == fk.log_fail_at)
			return fail_errno(EIO);
		memcpy(value, &fk.log[idx], sizeof(fk.log[idx]));
		return 0;
	case LP_STATS:
		return percpu_lookup(idx, TKO_ST_MAX, value);
	case LP_EV_STATS:
		return percpu_lookup(idx, TKO_EV_STATS_LEN, value);
	}
	fail_msg("bpf_map_lookup_elem on unexpected fd %d", fd);
	return -1;
}

/* array_map_get_next_key(): 0 after none or an index out of range, then +1. */
static int array_next_key(__u32 max, const __u32 *prev, __u32 *next)
{
	if (!prev || *prev >= max) {
		*next = 0;
		return 0;
	}
	if (*prev == max - 1)
		return -ENOENT;
	*next = *prev + 1;
	return 0;
}

/*
 * generic_map_lookup_batch() on the sessions array: in_batch NULL starts the
 * walk, otherwise it continues after the key in_batch holds; out_batch gets
 * the last key copied (untouched if none); count gets how many; the walk's
 * end is -ENOENT, with what was copied before it.
 */
int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values,
			 __u32 *count, const struct bpf_map_batch_opts *opts)
{
	__u32 prev, key, cp, max_count = *count;
	bool have_prev = in_batch;
	int err = 0;

	if (fake_pin_of(fd) != LP_SESSIONS)
		fail_msg("bpf_map_lookup_batch on unexpected fd %d", fd);
	if (++fk.batch_calls > 64)
		fail_msg("bpf_map_lookup_batch: call %d, the walk does not end", fk.batch_calls);
	if (opts && opts->elem_flags)	/* BPF_F_LOCK: the entries hold no spin lock */
		return fail_errno(EINVAL);
	if (!max_count)
		return 0;
	*count = 0;
	if (fk.batch_calls == fk.batch_fail_call)
		return fail_errno(fk.batch_errno);
	if (in_batch)
		memcpy(&prev, in_batch, sizeof(prev));
	for (cp = 0; cp < max_count; cp++) {
		err = array_next_key(fk.max_sessions, have_prev ? &prev : NULL, &key);
		if (err)
			break;
		memcpy((__u32 *)keys + cp, &key, sizeof(key));
		memcpy((struct tko_session *)values + cp, &fk.sessions[key],
		       sizeof(fk.sessions[key]));
		prev = key;
		have_prev = true;
	}
	*count = cp;
	if (cp)
		memcpy(out_batch, &prev, sizeof(prev));
	return err ? fail_errno(-err) : 0;
}

/* What a session of id carries, so that a copy of it can be told apart. */
static __u32 mark_of(__u32 id)
{
	return 0x5e000000u | id;
}

static __u64 hash_of(const struct tko_key *key)
{
	struct tko_key k = *key;

	return tko_hash_key(&k, fk.table.seed);
}

/* Put entry e in a free slot of bucket b, as bucket_claim(): its position. */
static __u32 bucket_put(__u32 b, __u32 e)
{
	assert_true(b < fk.table.buckets);
	for (__u32 i = 0; i < TKO_BUCKET_SLOTS; i++)
		if (!fk.index[b].slot[i]) {
			fk.index[b].slot[i] = e;
			return b * TKO_BUCKET_SLOTS + i;
		}
	fail_msg("bucket %u is full", b);
	return 0;
}

static int bucket_used(__u32 b)
{
	int n = 0;

	for (int i = 0; i < TKO_BUCKET_SLOTS; i++)
		n += !!fk.index[b].slot[i];
	return n;
}

/*
 * Entry id holds key's session in state, as start_one() and session_publish()
 * leave it: indexed in bucket `which` (0 or 1) of the tuple, or not indexed
 * (which < 0: an entry ended, freed or never published). Ids up to id were
 * handed out.
 */
static struct tko_session *fake_add(__u32 id, const struct tko_key *key, __u8 state, int which)
{
	struct tko_session *s = &fk.sessions[id];
	__u64 h = hash_of(key);

	assert_true(id < fk.max_sessions);
	memset(s, 0, offsetof(struct tko_session, clock));
	s->key = *key;
	s->state = state;
	s->tcp.snd_nxt = mark_of(id);
	s->started_ns = 1000000000ULL + id;
	if (which >= 0) {
		s->index_entry = tko_index_entry(tko_hash_tag(h), id);
		s->index_pos = bucket_put(tko_hash_bucket(h, fk.table.buckets, which),
					  s->index_entry);
	}
	if (fk.table.fresh <= id)
		fk.table.fresh = id + 1;
	return s;
}

/* session_unindex(): the slot it holds is cleared. */
static void fake_unindex(__u32 id)
{
	struct tko_session *s = &fk.sessions[id];
	__u32 *slot = &fk.index[s->index_pos / TKO_BUCKET_SLOTS].slot[s->index_pos %
								       TKO_BUCKET_SLOTS];

	assert_int_equal(*slot, s->index_entry);
	*slot = 0;
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

/*
 * The next key after counter *n whose tuple has bucket b as its `which`
 * bucket (and that tag, if tag >= 0): one counter gives distinct keys, none
 * of them a key_v4() of the tests (address .200).
 */
static struct tko_key key_in_bucket(__u32 *n, __u32 b, int which, int tag)
{
	struct tko_key k = key_v4(200);

	while (++*n < 1u << 24) {
		__u64 h;

		k.lport = *n & 0xffff;
		k.raddr[3] = *n >> 16;
		h = hash_of(&k);
		if (tko_hash_bucket(h, fk.table.buckets, which) == b &&
		    (tag < 0 || tko_hash_tag(h) == (__u32)tag))
			return k;
	}
	fail_msg("no key for bucket %u tag %d", b, tag);
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
	tko_dp_config_default(&cfg);
	assert_memory_equal(&cfg, &want, sizeof(cfg));
}

/* ---- tko_dp_session_start: range checks, before any fd is used --------------- */

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

		tko_dp_config_default(&cfg);
		cfg.idle_s = cfg_bad[i].idle_s;
		cfg.interval_s = cfg_bad[i].interval_s;
		cfg.retry_interval_s = cfg_bad[i].retry_interval_s;
		cfg.retries = cfg_bad[i].retries;
		cfg.probe = cfg_bad[i].probe;
		/* no handle at all: the check must come before t is touched */
		ret = tko_dp_session_start(NULL, &key, &cfg, NULL, 0);
		if (ret != -EINVAL)
			fail_msg("%s: tko_dp_session_start returned %d, want -EINVAL", cfg_bad[i].what,
				 ret);
	}
}

/* The key and the state are checked before t is touched, too. */
static void test_start_einval_key_state(void **state)
{
	static const __u8 families[] = { 0, 1 /* AF_UNIX */, TKO_AF_INET + 1, 255 };
	struct tko_tcp_state tcp = { .wscale = 15 };	/* RFC 7323 2.3: 14 at most */
	struct tko_key key = key_v4(2);
	struct tko_config cfg;

	tko_dp_config_default(&cfg);
	for (size_t i = 0; i < ARRAY_LEN(families); i++) {
		key.family = families[i];
		if (tko_dp_session_start(NULL, &key, &cfg, NULL, 0) != -EINVAL)
			fail_msg("family %u accepted", families[i]);
	}
	key.family = TKO_AF_INET6;
	assert_int_equal(tko_dp_session_start(NULL, &key, &cfg, &tcp, TKO_HAVE_SEQ), -EINVAL);
	tcp.wscale = 255;
	assert_int_equal(tko_dp_session_start(NULL, &key, &cfg, &tcp, TKO_HAVE_SEQ), -EINVAL);
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
	int fds[LP_OPEN_N];

	/* every pin it needs, once, under the given directory; no other */
	assert_int_equal(fk.gets_total, LP_OPEN_N);
	for (int i = 0; i < LP_OPEN_N; i++) {
		if (fk.gets[i] != 1 || !fd_is_open(fk.fd[i]))
			fail_msg("pin %s: opened %d times, fd %d", LP_NAME(i), fk.gets[i], fk.fd[i]);
		fds[i] = fk.fd[i];
	}
	tko_close(t);
	for (int i = 0; i < LP_OPEN_N; i++)
		if (fd_is_open(fds[i]))
			fail_msg("pin %s: fd %d left open by tko_close", LP_NAME(i), fds[i]);
}

static void open_fails(int want, const char *what)
{
	struct tko *t = (struct tko *)&t;	/* must stay untouched */
	int ret;

	fk.on = true;
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/tko-unit-fake");
	ret = tko_open(fk.dir, &t);
	if (ret != want)
		fail_msg("%s: tko_open returned %d, want %d", what, ret, want);
	assert_ptr_equal(t, (struct tko *)&t);
	for (int i = 0; i < LP_N; i++)
		if (fd_is_open(fk.fd[i]))
			fail_msg("%s: fd of %s leaked", what, LP_NAME(i));
}

/* Whichever pin is missing, tko_open fails with -ENOENT and leaks no fd. */
static void test_open_one_pin_missing(void **state)
{
	for (int m = 0; m < LP_OPEN_N; m++) {
		char what[64];

		fake_reset(NULL);
		fk.absent[m] = true;
		snprintf(what, sizeof(what), "pin %s missing", LP_NAME(m));
		open_fails(-ENOENT, what);
	}
}

/* The table's geometry is read at open: its errors are tko_open's. */
static void test_open_table(void **state)
{
	fk.table_errno = EPERM;
	open_fails(-EPERM, "table unreadable");
	fake_reset(NULL);
	fk.table.buckets = 0;	/* a table nobody set up */
	open_fails(-EPROTO, "table of 0 buckets");
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
		assert_int_equal(tko_dp_session_start(t, &key, &ok[i], NULL, 0), 0);
		assert_int_equal(fk.runs, 1);
		assert_int_equal(fk.run_fd, fk.fd[LP_START]);
		assert_int_equal(fk.run_ctx_size, sizeof(struct tko_ctl_args));
		assert_memory_equal(&fk.run_args.cfg, &ok[i], sizeof(ok[i]));
	}
	tko_dp_config_default(&def);	/* the defaults pass their own checks */
	assert_int_equal(tko_dp_session_start(t, &key, &def, NULL, 0), 0);
	tko_close(t);
}

/* Monitor mode: no state, so no TKO_F_STATE_GIVEN even if the caller set it. */
static void test_start_args_monitor(void **state)
{
	struct tko *t = fake_open();
	struct tko_key key = key_v4(2);
	struct tko_config cfg;
	struct tko_ctl_args want = { .key = key };

	tko_dp_config_default(&cfg);
	cfg.flags = TKO_F_ONESHOT | TKO_F_STATE_GIVEN;
	want.cfg = cfg;
	want.cfg.flags = TKO_F_ONESHOT;
	memset(&fk.run_args, 0xa5, sizeof(fk.run_args));
	assert_int_equal(tko_dp_session_start(t, &key, &cfg, NULL, TKO_HAVE_SEQ | TKO_HAVE_TS), 0);
	/* nothing else: no state, no path, and id 0 (only tko_set_l2 reads it) */
	assert_memory_equal(&fk.run_args, &want, sizeof(want));
	assert_int_equal(fk.run_args.id, 0);
	assert_int_equal(fk.run_args.have, 0);
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

	tko_dp_config_default(&cfg);
	want.cfg = cfg;
	want.cfg.flags = TKO_F_STATE_GIVEN;
	memset(&fk.run_args, 0xa5, sizeof(fk.run_args));
	/* TKO_HAVE_L2 without a path given: dropped, the datapath would trust it */
	assert_int_equal(tko_dp_session_start(t, &key, &cfg, &tcp,
					   TKO_HAVE_SEQ | TKO_HAVE_TS | TKO_HAVE_L2), 0);
	assert_memory_equal(&fk.run_args, &want, sizeof(want));
	assert_int_equal(fk.run_args.id, 0);
	assert_int_equal(fk.run_args.ifindex, 0);
	tko_close(t);
}

/* The control program's verdict is the caller's result; so is a failed run. */
static void test_start_stop_results(void **state)
{
	static const int verdicts[] = { 0, -EEXIST, -E2BIG, -ENOSPC, -EBUSY, -EINVAL, -ENOENT };
	struct tko *t = fake_open();
	struct tko_key key = key_v4(9);
	struct tko_config cfg;

	tko_dp_config_default(&cfg);
	for (size_t i = 0; i < ARRAY_LEN(verdicts); i++) {
		fk.run_retval = (__u32)verdicts[i];
		assert_int_equal(tko_dp_session_start(t, &key, &cfg, NULL, 0), verdicts[i]);
		assert_int_equal(tko_dp_session_stop(t, &key), verdicts[i]);
	}
	fk.run_retval = 0;
	fk.run_err = -EPERM;	/* BPF_PROG_RUN itself refused */
	assert_int_equal(tko_dp_session_start(t, &key, &cfg, NULL, 0), -EPERM);
	assert_int_equal(tko_dp_session_stop(t, &key), -EPERM);
	tko_close(t);
}

/* tko_stop finds the session by key itself: the key, zeros elsewhere (id too). */
static void test_stop_args(void **state)
{
	struct tko *t = fake_open();
	struct tko_key key = key_v4(3);
	struct tko_ctl_args want = { .key = key };

	fake_add(5, &key, TKO_ACTIVE, 0);	/* an id libtko could know, and must not pass */
	memset(&fk.run_args, 0xa5, sizeof(fk.run_args));
	assert_int_equal(tko_dp_session_stop(t, &key), 0);
	assert_int_equal(fk.run_fd, fk.fd[LP_STOP]);
	assert_int_equal(fk.run_ctx_size, sizeof(struct tko_ctl_args));
	assert_memory_equal(&fk.run_args, &want, sizeof(want));
	assert_int_equal(fk.run_args.id, 0);
	assert_int_equal(fk.nstarted, 0);	/* and it is no start */
	tko_close(t);
}

/* ---- finding a session by key through the index ---------------------------- */

static void assert_found(struct tko *t, const struct tko_key *key, __u32 want_id)
{
	struct tko_session s;
	__u32 id = ~0u;
	int ret;

	memset(&s, 0xa5, sizeof(s));
	ret = tko_dp_session_find(t, key, &id, &s);
	if (ret)
		fail_msg("key .%u:%u: tko_dp_session_find returned %d, want id %u", key->laddr[3],
			 key->lport, ret, want_id);
	assert_int_equal(id, want_id);
	assert_memory_equal(&s, &fk.sessions[want_id], sizeof(s));	/* the whole entry */
}

static void assert_not_found(struct tko *t, const struct tko_key *key)
{
	struct tko_session s;
	__u32 id = 77;
	int ret = tko_dp_session_find(t, key, &id, &s);

	if (ret != -ENOENT)
		fail_msg("key .%u:%u: tko_dp_session_find returned %d (id %u), want -ENOENT",
			 key->laddr[3], key->lport, ret, id);
	assert_int_equal(id, 77);	/* untouched */
}

/*
 * Entries a lookup of key has to read, the tag being a hint: those of its
 * buckets (in order) whose tag is key's, up to the one of id (or all, for
 * an id not there).
 */
static int tag_reads(const struct tko_key *key, __u32 id)
{
	__u64 h = hash_of(key);
	__u32 tag = tko_hash_tag(h), mine = tko_index_entry(tag, id);
	int n = 0;

	for (int w = 0; w < 2; w++) {
		const struct tko_bucket *bk = &fk.index[tko_hash_bucket(h, fk.table.buckets, w)];

		for (int i = 0; i < TKO_BUCKET_SLOTS; i++) {
			n += bk->slot[i] && tko_index_tag(bk->slot[i]) == tag;
			if (bk->slot[i] == mine)
				return n;
		}
	}
	return n;
}

static void test_session_find(void **state)
{
	struct tko_key key = key_v4(4), other = key_v4(5), v6 = {
		.family = TKO_AF_INET6, .lport = 22, .rport = 50000,
		.laddr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
		.raddr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 },
	};
	struct tko_session s;
	struct tko *t;

	fake_add(0, &key, TKO_ACTIVE, 0);
	fake_add(63, &v6, TKO_LEARNING, 1);	/* the last id */
	t = fake_open();
	assert_found(t, &key, 0);
	assert_found(t, &v6, 63);
	assert_not_found(t, &other);
	/* tko_dp_session_get is the same, without the id; id and s may be NULL */
	assert_int_equal(tko_dp_session_get(t, &v6, &s), 0);
	assert_memory_equal(&s, &fk.sessions[63], sizeof(s));
	assert_int_equal(tko_dp_session_find(t, &key, NULL, NULL), 0);
	assert_int_equal(tko_dp_session_get(t, &other, &s), -ENOENT);
	/* at most the tuple's two buckets are read */
	fk.index_reads = 0;
	assert_not_found(t, &other);
	assert_int_equal(fk.index_reads, 2);
	tko_close(t);
}

/* The hash is seeded with the table's seed, in the table's number of buckets. */
static void test_find_uses_seed(void **state)
{
	struct tko_key key = key_v4(6);
	__u32 b0, b1;
	__u64 h, h0;
	struct tko *t;

	/* a key that a hash without the seed would look for elsewhere */
	for (key.lport = 1;; key.lport++) {
		h = hash_of(&key);
		h0 = tko_hash_key(&key, 0);
		b0 = tko_hash_bucket(h, fk.table.buckets, 0);
		b1 = tko_hash_bucket(h, fk.table.buckets, 1);
		if (tko_hash_bucket(h0, fk.table.buckets, 0) != b0 &&
		    tko_hash_bucket(h0, fk.table.buckets, 0) != b1 &&
		    tko_hash_bucket(h0, fk.table.buckets, 1) != b0 &&
		    tko_hash_bucket(h0, fk.table.buckets, 1) != b1)
			break;
	}
	fake_add(7, &key, TKO_SUSPENDED, 0);
	t = fake_open();
	assert_found(t, &key, 7);
	tko_close(t);

	fake_table(FAKE_MAX_SESSIONS);	/* 256 buckets */
	fake_add(1999, &key, TKO_PEER_DEAD, 1);
	t = fake_open();
	assert_found(t, &key, 1999);
	tko_close(t);
}

/* Another tuple with the same bucket and tag: the tag is only a hint. */
static void test_find_tag_collision(void **state)
{
	struct tko_key key = key_v4(8), twin, alone;
	__u64 h = hash_of(&key);
	__u32 b = tko_hash_bucket(h, fk.table.buckets, 0), n = 0;
	struct tko *t;

	twin = key_in_bucket(&n, b, 0, (int)tko_hash_tag(h));
	alone = key_in_bucket(&n, b, 0, (int)tko_hash_tag(h));
	fake_add(10, &twin, TKO_ACTIVE, 0);	/* first in the bucket */
	fake_add(11, &key, TKO_ACTIVE, 0);
	assert_int_equal(fk.index[b].slot[0], tko_index_entry(tko_hash_tag(h), 10));
	assert_int_equal(fk.index[b].slot[1], tko_index_entry(tko_hash_tag(h), 11));
	t = fake_open();
	fk.sessions_reads = 0;
	assert_found(t, &key, 11);
	assert_int_equal(fk.sessions_reads, 2);	/* the twin's entry, then its own */
	assert_found(t, &twin, 10);
	/* a third tuple of that bucket and tag, with no session: found nowhere */
	fk.sessions_reads = 0;
	assert_not_found(t, &alone);
	assert_int_equal(fk.sessions_reads, tag_reads(&alone, ~0u));
	assert_true(fk.sessions_reads >= 2);
	tko_close(t);
}

/* A tuple whose first bucket was full is in its second one. */
static void test_find_second_bucket(void **state)
{
	struct tko_key key = key_v4(9), others[TKO_BUCKET_SLOTS];
	__u64 h = hash_of(&key);
	__u32 b0 = tko_hash_bucket(h, fk.table.buckets, 0);
	__u32 b1 = tko_hash_bucket(h, fk.table.buckets, 1), n = 0;
	struct tko *t;

	assert_int_not_equal(b0, b1);
	/* sixteen other tuples fill b0, as their first or their second bucket */
	for (int i = 0; i < TKO_BUCKET_SLOTS; i++) {
		others[i] = key_in_bucket(&n, b0, i & 1, -1);
		fake_add(i, &others[i], TKO_ACTIVE, i & 1);
	}
	assert_int_equal(bucket_used(b0), TKO_BUCKET_SLOTS);
	fake_add(40, &key, TKO_ACTIVE, 1);
	assert_int_equal(fk.sessions[40].index_pos / TKO_BUCKET_SLOTS, b1);
	t = fake_open();
	/* an entry is read only where the tag is the tuple's */
	fk.sessions_reads = 0;
	assert_found(t, &key, 40);
	assert_int_equal(fk.sessions_reads, tag_reads(&key, 40));
	assert_true(fk.sessions_reads < TKO_BUCKET_SLOTS);
	for (int i = 0; i < TKO_BUCKET_SLOTS; i++) {
		fk.sessions_reads = 0;
		assert_found(t, &others[i], i);
		assert_int_equal(fk.sessions_reads, tag_reads(&others[i], i));
	}
	tko_close(t);
}

/*
 * Only a live session is found: not an entry being created (indexed by its
 * claim before it is published), nor one ended (unindexed, then STOPPED) or
 * freed; a live session of the tuple is found past a rival claim of it.
 */
static void test_find_not_live(void **state)
{
	struct tko_key creating = key_v4(20), stopped = key_v4(21), freed = key_v4(22);
	struct tko_key both = key_v4(23);
	struct tko *t;

	fake_add(1, &creating, TKO_CREATING, 0);
	fake_add(2, &stopped, TKO_ACTIVE, 1);
	fake_unindex(2);
	fk.sessions[2].state = TKO_STOPPED;
	fake_add(3, &freed, TKO_FREE, -1);	/* given back: key left, index entry 0 */
	/* a start racing a live session of the tuple: its claim withdraws later */
	fake_add(4, &both, TKO_CREATING, 0);
	fake_add(9, &both, TKO_LEARNING, 0);
	t = fake_open();
	assert_not_found(t, &creating);
	assert_not_found(t, &stopped);
	assert_not_found(t, &freed);
	assert_found(t, &both, 9);
	/* published: found */
	fk.sessions[1].state = TKO_LEARNING;
	assert_found(t, &creating, 1);
	tko_close(t);
}

/* What the datapath may do between libtko's read of a bucket and of the entry. */
static void end_session_5(void)
{
	fake_unindex(5);	/* session_end(): unindex, then STOPPED */
	fk.sessions[5].state = TKO_STOPPED;
}

static void reuse_session_5(void)
{
	struct tko_key next = key_v4(99);

	end_session_5();
	fk.sessions[5].state = TKO_FREE;	/* the carrier freed it... */
	fake_add(5, &next, TKO_ACTIVE, 0);	/* ...and another tuple got the id */
}

static void test_find_races(void **state)
{
	struct tko_key key = key_v4(30), next = key_v4(99);
	struct tko *t;

	fake_add(5, &key, TKO_ACTIVE, 0);
	t = fake_open();
	fk.after_index_read = end_session_5;
	assert_not_found(t, &key);
	assert_null(fk.after_index_read);	/* it did happen in between */

	fake_add(5, &key, TKO_ACTIVE, 0);
	fk.after_index_read = reuse_session_5;
	assert_not_found(t, &key);	/* the stale entry names a session of another tuple */
	assert_found(t, &next, 5);
	tko_close(t);
}

/* Errors reading the index or an entry are the caller's, not a missing session. */
static void test_find_errors(void **state)
{
	struct tko_key key = key_v4(40), none = key_v4(41);
	struct tko_table empty = { .seed = FAKE_SEED };
	__u64 h = hash_of(&none);
	struct tko_session s;
	struct tko *t;

	fake_add(6, &key, TKO_ACTIVE, 0);
	t = fake_open();
	fk.index_errno = EIO;
	fk.index_fail_bucket = tko_hash_bucket(h, fk.table.buckets, 0);
	assert_int_equal(tko_dp_session_find(t, &none, NULL, &s), -EIO);
	fk.index_fail_bucket = tko_hash_bucket(h, fk.table.buckets, 1);	/* the second read */
	assert_int_equal(tko_dp_session_find(t, &none, NULL, &s), -EIO);
	fk.index_fail_bucket = -1;

	fk.sessions_errno = EFAULT;
	fk.sessions_fail_id = 6;
	assert_int_equal(tko_dp_session_find(t, &key, NULL, &s), -EFAULT);
	assert_int_equal(tko_dp_session_get(t, &key, &s), -EFAULT);
	fk.sessions_fail_id = -1;
	assert_found(t, &key, 6);

	/* a table without buckets has nothing to find, and is not read */
	fk.index_reads = 0;
	assert_int_equal(tko_table_find(fk.fd[LP_SESSIONS], fk.fd[LP_INDEX], &empty, &key,
					NULL, NULL), -ENOENT);
	assert_int_equal(fk.index_reads, 0);
	tko_close(t);
}

/* ---- tko_dp_session_foreach ----------------------------------------------- */

struct walk {
	int calls, stop_at, stop_ret;
	__u32 seen[FAKE_MAX_SESSIONS];	/* ids, in the order given */
};

static int walk_cb(__u32 id, const struct tko_session *s, void *ctx)
{
	struct walk *w = ctx;

	assert_int_equal(s->tcp.snd_nxt, mark_of(id));	/* the entry of that id */
	assert_true(id < FAKE_MAX_SESSIONS);
	assert_memory_equal(s, &fk.sessions[id], sizeof(*s));
	assert_true(tko_dp_session_live(s));
	assert_true(w->calls < FAKE_MAX_SESSIONS);
	w->seen[w->calls++] = id;
	return w->calls == w->stop_at ? w->stop_ret : 0;
}

static void assert_walk(const struct walk *w, const __u32 *ids, int n)
{
	if (w->calls != n)
		fail_msg("%d sessions walked, want %d", w->calls, n);
	for (int i = 0; i < n; i++)
		if (w->seen[i] != ids[i])
			fail_msg("walk %d: id %u, want %u", i, w->seen[i], ids[i]);
}

static void test_foreach(void **state)
{
	static const struct { __u8 state; bool live; } st[] = {
		{ TKO_ACTIVE, true }, { TKO_FREE, false }, { TKO_LEARNING, true },
		{ TKO_CREATING, false }, { TKO_SUSPENDED, true }, { TKO_STOPPED, false },
		{ TKO_PEER_DEAD, true }, { TKO_CREATING, false }, { TKO_ACTIVE, true },
	};
	struct tko *t = fake_open();
	static struct walk w;
	__u32 want[ARRAY_LEN(st)];
	int n = 0;

	memset(&w, 0, sizeof(w));
	assert_int_equal(tko_dp_session_foreach(t, walk_cb, &w), 0);	/* empty table */
	assert_int_equal(w.calls, 0);
	assert_int_equal(fk.batch_calls, 0);	/* no id handed out: nothing to read */

	/* every state, indexed or not as the datapath leaves it */
	for (__u32 id = 0; id < ARRAY_LEN(st); id++) {
		struct tko_key k = key_v4(id + 1);

		fake_add(id, &k, st[id].state,
			 st[id].state == TKO_FREE || st[id].state == TKO_STOPPED ? -1 : 0);
		if (st[id].live)
			want[n++] = id;
	}
	assert_int_equal(tko_dp_session_foreach(t, walk_cb, &w), 0);
	assert_walk(&w, want, n);

	memset(&w, 0, sizeof(w));	/* a non-zero return ends the walk and is returned */
	w.stop_at = 2;
	w.stop_ret = 42;
	assert_int_equal(tko_dp_session_foreach(t, walk_cb, &w), 42);
	assert_walk(&w, want, 2);
	tko_close(t);
}

/*
 * A table larger than one batch: every id handed out (below table.fresh) is
 * walked once, in order, across batches, whatever fresh is: inside a batch,
 * at its edge, the whole table, or past it (fresh races past max_sessions
 * when the table is full). Ids never handed out are never written (zero);
 * they are not walked, beyond the batch that reaches them.
 */
static void test_foreach_batches(void **state)
{
	static const __u32 fresh[] = {
		1, 2, FOREACH_CHUNK - 1, FOREACH_CHUNK, FOREACH_CHUNK + 1, 1500,
		FAKE_MAX_SESSIONS - 1, FAKE_MAX_SESSIONS, FAKE_MAX_SESSIONS + 7,
	};
	static const __u32 live[] = {
		0, 1, FOREACH_CHUNK - 2, FOREACH_CHUNK - 1, FOREACH_CHUNK, FOREACH_CHUNK + 1,
		1499, FAKE_MAX_SESSIONS - 2, FAKE_MAX_SESSIONS - 1,
	};
	static struct walk w;
	struct tko *t;

	fake_table(FAKE_MAX_SESSIONS);
	t = fake_open();
	for (size_t f = 0; f < ARRAY_LEN(fresh); f++) {
		__u32 want[ARRAY_LEN(live)], l = 0;
		int n = 0;

		fake_table(FAKE_MAX_SESSIONS);	/* same seed and geometry as t read */
		for (__u32 id = 0; id < fresh[f] && id < FAKE_MAX_SESSIONS; id++) {
			struct tko_key k = key_v4(id & 0xff);
			bool is_live = l < ARRAY_LEN(live) && live[l] == id;

			k.lport = id;
			/* the others were used once and freed since */
			fake_add(id, &k, is_live ? TKO_ACTIVE : TKO_FREE, is_live ? 0 : -1);
			if (is_live)
				want[n++] = live[l++];
		}
		fk.table.fresh = fresh[f];
		fk.batch_calls = 0;
		memset(&w, 0, sizeof(w));
		assert_int_equal(tko_dp_session_foreach(t, walk_cb, &w), 0);
		if (w.calls != n)
			fail_msg("fresh %u: %d sessions walked, want %d", fresh[f], w.calls, n);
		assert_walk(&w, want, n);
		/* batches of the ids handed out, and one that may find the end */
		if (fk.batch_calls > (int)(fresh[f] / FOREACH_CHUNK) + 2 ||
		    (fresh[f] < FOREACH_CHUNK && fk.batch_calls != 1))
			fail_msg("fresh %u: %d batches of %d", fresh[f], fk.batch_calls,
				 FOREACH_CHUNK);
	}
	tko_close(t);
}

static void test_foreach_errors(void **state)
{
	static struct walk w;
	struct tko *t;
	__u32 first[] = { 0, 1 };

	memset(&w, 0, sizeof(w));
	fake_table(FAKE_MAX_SESSIONS);
	for (__u32 id = 0; id < 1500; id++) {
		struct tko_key k = key_v4(1);

		k.lport = id;
		fake_add(id, &k, id < 2 || id >= 1400 ? TKO_ACTIVE : TKO_FREE, -1);
	}
	t = fake_open();
	fk.table_errno = EPERM;	/* fresh is read at every walk */
	assert_int_equal(tko_dp_session_foreach(t, walk_cb, &w), -EPERM);
	assert_int_equal(w.calls, 0);
	fk.table_errno = 0;

	/* a kernel without batch lookups of arrays, or one that fails */
	fk.batch_fail_call = 1;
	fk.batch_errno = EINVAL;
	assert_int_equal(tko_dp_session_foreach(t, walk_cb, &w), -EINVAL);
	assert_int_equal(w.calls, 0);

	/* a failure past the first batch: what came before was delivered */
	fk.batch_calls = 0;
	fk.batch_fail_call = 2;
	fk.batch_errno = EFAULT;
	assert_int_equal(tko_dp_session_foreach(t, walk_cb, &w), -EFAULT);
	assert_walk(&w, first, 2);
	tko_close(t);
}

/* ---- tko_dp_session_start_batch ---------------------------------------------- */

static struct tko_ctl_args batch_args[600];
static int batch_results[600];

static void batch_fill(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		batch_args[i] = (struct tko_ctl_args){ .key = key_v4(1) };
		batch_args[i].key.lport = i + 1;
		tko_dp_config_default(&batch_args[i].cfg);
		batch_args[i].cfg.flags = TKO_F_STATE_GIVEN;
		batch_args[i].tcp.snd_nxt = i;
		batch_args[i].have = TKO_HAVE_SEQ;
		batch_results[i] = 12345;
	}
}

static void assert_each_started_once(size_t n)
{
	if (fk.nstarted != (int)n)
		fail_msg("%d starts asked of the kernel for %zu sessions", fk.nstarted, n);
	for (size_t i = 0; i < n; i++)
		if (fk.started[i] != i + 1)
			fail_msg("start %zu: session %u, want %zu", i, fk.started[i], i + 1);
}

static int asks_of(__u16 lport)
{
	int n = 0;

	for (int i = 0; i < fk.nstarted; i++)
		n += fk.started[i] == lport;
	return n;
}

/*
 * TKO_BATCH_MAX per run, verbatim; a refusal is the refused session's result
 * and the rest carry on. The program answers how many it started and why it
 * stopped, so every session is asked of the kernel once (each refusal is an
 * event and a counter).
 */
static void test_start_batch(void **state)
{
	enum { N = 2 * TKO_BATCH_MAX + 44 };
	struct tko *t = fake_open();
	size_t n = N;

	batch_fill(n);
	assert_int_equal(tko_dp_session_start_batch(t, batch_args, n, batch_results), n);
	assert_int_equal(fk.batch_runs, 3);
	assert_int_equal(fk.runs, 0);
	assert_each_started_once(n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(batch_results[i], 0);
	assert_false(fd_is_open(fk.fd[LP_START_BATCH]));	/* opened for the call only */
	tko_close(t);

	/* refused: the first of a run (256), inside one (300), the last one (555) */
	fake_reset(NULL);
	t = fake_open();
	batch_fill(n);
	fk.verdict[0].lport = 257, fk.verdict[0].err = -E2BIG;
	fk.verdict[1].lport = 301, fk.verdict[1].err = -ENOSPC;
	fk.verdict[2].lport = N, fk.verdict[2].err = -EBUSY;
	assert_int_equal(tko_dp_session_start_batch(t, batch_args, n, batch_results), n - 3);
	for (size_t i = 0; i < n; i++) {
		int want = i == 256 ? -E2BIG : i == 300 ? -ENOSPC : i == N - 1 ? -EBUSY : 0;

		if (batch_results[i] != want)
			fail_msg("result %zu: %d, want %d", i, batch_results[i], want);
		if (asks_of(i + 1) != 1)
			fail_msg("session %zu asked of the kernel %d times, want once", i,
				 asks_of(i + 1));
	}
	/* runs: 0-255 | 256 (refused first) | 257-300 (refused last) | 301-555 */
	assert_int_equal(fk.batch_runs, 4);
	assert_int_equal(fk.runs, 0);	/* never tko_start behind the program's back */
	tko_close(t);
}

/*
 * Without the batch program (an agent of an older build), one start per
 * session, each config checked first; a batch run that fails itself
 * (BPF_PROG_RUN refused) falls back to a start of the first session.
 */
static void test_start_batch_fallbacks(void **state)
{
	struct tko *t;

	fk.absent[LP_START_BATCH] = true;
	t = fake_open();
	batch_fill(5);
	batch_args[2].cfg.retries = 0;			/* refused here */
	fk.verdict[0].lport = 4, fk.verdict[0].err = -EEXIST;	/* batch_args[3]: by the kernel */
	assert_int_equal(tko_dp_session_start_batch(t, batch_args, 5, batch_results), 3);
	assert_memory_equal(batch_results, ((int[]){ 0, 0, -EINVAL, -EEXIST, 0 }), 5 * sizeof(int));
	assert_int_equal(fk.batch_runs, 0);
	assert_int_equal(fk.runs, 4);
	assert_int_equal(fk.nstarted, 4);
	assert_memory_equal(fk.started, ((__u16[]){ 1, 2, 4, 5 }), 4 * sizeof(__u16));
	assert_memory_equal(&fk.run_args, &batch_args[4], sizeof(batch_args[4]));	/* verbatim */
	tko_close(t);

	fake_reset(NULL);
	t = fake_open();
	batch_fill(3);
	fk.batch_run_err = -EPERM;
	assert_int_equal(tko_dp_session_start_batch(t, batch_args, 3, batch_results), 3);
	assert_memory_equal(batch_results, ((int[]){ 0, 0, 0 }), 3 * sizeof(int));
	assert_int_equal(fk.batch_runs, 3);
	assert_int_equal(fk.runs, 3);
	assert_each_started_once(3);
	fk.run_err = -EPERM;	/* and if starts fail too, that is each result */
	batch_fill(2);
	assert_int_equal(tko_dp_session_start_batch(t, batch_args, 2, batch_results), 0);
	assert_memory_equal(batch_results, ((int[]){ -EPERM, -EPERM }), 2 * sizeof(int));
	assert_false(fd_is_open(fk.fd[LP_START_BATCH]));
	tko_close(t);
}

/* ---- tko_dp_config_agent_default ---------------------------------------------- */

static void test_config_agent_default(void **state)
{
	struct tko *t = fake_open();
	struct tko_config cfg, def, set = {
		.idle_s = 30, .interval_s = 20, .retry_interval_s = 2, .retries = 9,
		.probe = TKO_PROBE_BYTE, .flags = TKO_F_ON_DEAD_RESET,
	};

	tko_dp_config_default(&def);
	memset(&cfg, 0xa5, sizeof(cfg));	/* never set (all zero): the built-in ones */
	assert_int_equal(tko_dp_config_agent_default(t, &cfg), 0);
	assert_memory_equal(&cfg, &def, sizeof(cfg));
	assert_false(fd_is_open(fk.fd[LP_DEFAULTS]));

	fk.defaults = set;	/* tko agent --config */
	assert_int_equal(tko_dp_config_agent_default(t, &cfg), 0);
	assert_memory_equal(&cfg, &set, sizeof(cfg));

	fk.defaults_errno = EPERM;
	assert_int_equal(tko_dp_config_agent_default(t, &cfg), -EPERM);
	assert_memory_equal(&cfg, &def, sizeof(cfg));
	assert_false(fd_is_open(fk.fd[LP_DEFAULTS]));

	fk.absent[LP_DEFAULTS] = true;	/* an agent that pinned none */
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(tko_dp_config_agent_default(t, &cfg), 0);
	assert_memory_equal(&cfg, &def, sizeof(cfg));
	tko_close(t);
}

/* ---- tko_dp_events_read ----------------------------------------------------- */

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

	assert_int_equal(tko_dp_events_read(t, &after, collect_cb, &c), 0);	/* empty log */
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
	assert_int_equal(tko_dp_events_read(t, &after, collect_cb, &c), 0);
	assert_int_equal(c.n, 5);
	assert_memory_equal(c.seqs, ((__u64[]){ 1023, 1025, 1026, 1027, 1029 }),
			    5 * sizeof(__u64));
	assert_int_equal(after, 1029);

	memset(&c, 0, sizeof(c));	/* nothing new: nothing delivered, after unchanged */
	assert_int_equal(tko_dp_events_read(t, &after, collect_cb, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(after, 1029);

	/* a callback that stops: after points at the last event it was given */
	memset(&c, 0, sizeof(c));
	c.stop_at_seq = 1025;
	c.stop_ret = -EINTR;
	after = 1000;
	assert_int_equal(tko_dp_events_read(t, &after, collect_cb, &c), -EINTR);
	assert_int_equal(c.n, 2);
	assert_int_equal(after, 1025);
	memset(&c, 0, sizeof(c));	/* and the next read resumes after it */
	assert_int_equal(tko_dp_events_read(t, &after, collect_cb, &c), 0);
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
	assert_int_equal(tko_dp_events_read(t, &after, collect_cb, &c), -EIO);
	assert_int_equal(c.n, 0);	/* nothing half-delivered */
	assert_int_equal(after, 0);
	tko_close(t);
}

/* ---- tko_dp_stats_read ------------------------------------------------------ */

static void test_stats_read(void **state)
{
	struct tko *t = fake_open();
	int ncpu = libbpf_num_possible_cpus();
	__u64 out[TKO_ST_MAX];

	assert_true(ncpu > 0);
	memset(out, 0xff, sizeof(out));
	assert_int_equal(tko_dp_stats_read(t, out), 0);
	for (__u64 i = 0; i < TKO_ST_MAX; i++) {
		/* sum over c of (i * 1000 + c + 1) */
		__u64 want = i * 1000 * ncpu + (__u64)ncpu * (ncpu + 1) / 2;

		if (out[i] != want)
			fail_msg("stat %llu: %llu, want %llu over %d CPUs", (unsigned long long)i,
				 (unsigned long long)out[i], (unsigned long long)want, ncpu);
	}
	fk.stats_fail_at = TKO_ST_EVENTS;
	assert_int_equal(tko_dp_stats_read(t, out), -EPERM);
	tko_close(t);
}

static void test_event_stats_read(void **state)
{
	struct tko *t = fake_open();
	int ncpu = libbpf_num_possible_cpus();
	static __u64 out[TKO_EV_STATS_LEN];
	__u32 i = TKO_EV_STOPPED * TKO_REASONS_MAX + TKO_R_REQUEST;

	assert_true(ncpu > 0);
	assert_int_equal(tko_dp_event_stats_read(t, out), 0);
	assert_int_equal(out[i], (__u64)i * 1000 * ncpu + (__u64)ncpu * (ncpu + 1) / 2);
	assert_int_equal(out[TKO_EV_STATS_LEN - 1],
			 (__u64)(TKO_EV_STATS_LEN - 1) * 1000 * ncpu + (__u64)ncpu * (ncpu + 1) / 2);
	assert_false(fd_is_open(fk.fd[LP_EV_STATS]));
	fk.stats_fail_at = i;
	assert_int_equal(tko_dp_event_stats_read(t, out), -EPERM);
	assert_false(fd_is_open(fk.fd[LP_EV_STATS]));
	fk.absent[LP_EV_STATS] = true;
	assert_int_equal(tko_dp_event_stats_read(t, out), -ENOENT);
	tko_close(t);
}

/* ---- include/tko.h: libtko's own types, converted ------------------------ */

static struct tko_tuple tuple_v4(__u8 last)
{
	struct tko_tuple tu = {
		.family = AF_INET, .local_port = 40000, .remote_port = 443,
		.local_addr = { 192, 168, 0, last }, .remote_addr = { 203, 0, 113, 7 },
	};
	return tu;
}

static void test_api_options_default(void **state)
{
	static const struct tko_options want = {
		.idle_s = 60, .interval_s = 60, .retry_interval_s = 10, .retries = 5,
	};
	struct tko_options o;

	memset(&o, 0xa5, sizeof(o));	/* every byte is set, padding included */
	tko_options_default(&o);
	assert_memory_equal(&o, &want, sizeof(o));
}

/* Every option and every handed-over field reaches the control program as the CLI sends it. */
static void test_api_start_args(void **state)
{
	struct tko *t = fake_open();
	struct tko_tuple tu = {
		.family = AF_INET6, .local_port = 1, .remote_port = 65535,
		.local_addr = { 0xfd, 0x00, [15] = 1 }, .remote_addr = { 0xfd, 0x00, [15] = 2 },
	};
	struct tko_handoff h = {
		.have = TKO_HANDOFF_SEQ | TKO_HANDOFF_TS, .snd_nxt = 0xffffffffU, .rcv_nxt = 7,
		.ts_val = 8, .ts_ecr = 9, .window = 65535, .wscale = 14,
	};
	struct tko_ctl_args want = {
		.key = { .family = TKO_AF_INET6, .lport = 1, .rport = 65535,
			 .laddr = { 0xfd, 0x00, [15] = 1 }, .raddr = { 0xfd, 0x00, [15] = 2 } },
		.tcp = { .snd_nxt = 0xffffffffU, .rcv_nxt = 7, .ts_val = 8, .ts_ecr = 9,
			 .window = 65535, .wscale = 14 },
		.have = TKO_HAVE_SEQ | TKO_HAVE_TS,
	};
	struct tko_options o;

	tko_options_default(&o);
	o.idle_s = 30;
	o.flags = TKO_OPT_PROBE_BYTE | TKO_OPT_ONESHOT | TKO_OPT_RESET_ON_DEAD | TKO_OPT_WAKE;
	memcpy(o.wake_mac, ((__u8[]){ 2, 0, 0x5e, 0x10, 0, 1 }), 6);
	tko_dp_config_default(&want.cfg);
	want.cfg.idle_s = 30;
	want.cfg.probe = TKO_PROBE_BYTE;
	want.cfg.flags = TKO_F_ONESHOT | TKO_F_ON_DEAD_RESET | TKO_F_WAKE | TKO_F_STATE_GIVEN;
	memcpy(want.cfg.wake_mac, o.wake_mac, 6);
	memset(&fk.run_args, 0xa5, sizeof(fk.run_args));
	assert_int_equal(tko_session_start(t, &tu, &o, &h), 0);
	assert_int_equal(fk.run_fd, fk.fd[LP_START]);
	assert_memory_equal(&fk.run_args, &want, sizeof(want));

	/* IPv4: four bytes of each address, whatever the caller left after them */
	memset(tu.local_addr, 0xee, sizeof(tu.local_addr));
	memset(tu.remote_addr, 0xdd, sizeof(tu.remote_addr));
	tu.family = AF_INET;
	tko_options_default(&o);
	memset(&want, 0, sizeof(want));
	want.key = (struct tko_key){ .family = TKO_AF_INET, .lport = 1, .rport = 65535,
				     .laddr = { 0xee, 0xee, 0xee, 0xee },
				     .raddr = { 0xdd, 0xdd, 0xdd, 0xdd } };
	tko_dp_config_default(&want.cfg);
	/* no state (NULL, or nothing in it): learned from traffic */
	assert_int_equal(tko_session_start(t, &tu, &o, NULL), 0);
	assert_memory_equal(&fk.run_args, &want, sizeof(want));
	h.have = 0;
	assert_int_equal(tko_session_start(t, &tu, &o, &h), 0);
	assert_memory_equal(&fk.run_args, &want, sizeof(want));
	/* and stop takes the same key */
	assert_int_equal(tko_session_stop(t, &tu), 0);
	assert_int_equal(fk.run_fd, fk.fd[LP_STOP]);
	assert_memory_equal(&fk.run_args.key, &want.key, sizeof(want.key));
	tko_close(t);
}

/* What cannot be converted, or is out of range, is refused before t is touched. */
static void test_api_start_einval(void **state)
{
	static const int families[] = { 0, AF_UNIX, AF_INET + 1, TKO_AF_INET6 + 1, -1 };
	struct tko_handoff h = { .have = TKO_HANDOFF_SEQ, .wscale = 15 };
	struct tko_tuple tu = tuple_v4(2);
	struct tko_options o;
	int p[2];

	tko_options_default(&o);
	for (size_t i = 0; i < ARRAY_LEN(families); i++) {
		tu.family = families[i];
		if (tko_session_start(NULL, &tu, &o, NULL) != -EINVAL)
			fail_msg("family %d accepted", families[i]);
		if (tko_session_stop(NULL, &tu) != -EINVAL)
			fail_msg("family %d accepted by stop", families[i]);
	}
	tu = tuple_v4(2);
	o.flags = 1u << 31;	/* an option of a later version */
	assert_int_equal(tko_session_start(NULL, &tu, &o, NULL), -EINVAL);
	tko_options_default(&o);
	o.retries = 0;
	assert_int_equal(tko_session_start(NULL, &tu, &o, NULL), -EINVAL);
	tko_options_default(&o);
	assert_int_equal(tko_session_start(NULL, &tu, &o, &h), -EINVAL);	/* RFC 7323 2.3 */
	/* a descriptor that is no TCP socket */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(tko_session_start_fd(NULL, p[0], &o), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
	assert_int_equal(fk.runs, 0);
}

/*
 * The batch: each start converted as tko_session_start converts it, the
 * kernel asked TKO_BATCH_MAX at a time; what cannot be converted is refused
 * alone, never asked, and the results stay in the caller's order.
 */
static void test_api_start_batch(void **state)
{
	enum { N = TKO_BATCH_MAX + 40 };
	static struct tko_start starts[N];
	static int results[N];
	struct tko *t = fake_open();
	size_t asked = 0;

	for (size_t i = 0; i < N; i++) {
		starts[i] = (struct tko_start){ .tuple = tuple_v4(1) };
		starts[i].tuple.local_port = i + 1;
		tko_options_default(&starts[i].options);
		starts[i].tcp = (struct tko_handoff){ .have = TKO_HANDOFF_SEQ, .snd_nxt = i };
		results[i] = 12345;
	}
	starts[5].tuple.family = AF_UNIX;
	starts[TKO_BATCH_MAX].options.flags = 1u << 31;
	starts[TKO_BATCH_MAX + 1].options.interval_s = 0;
	fk.verdict[0].lport = 101, fk.verdict[0].err = -EEXIST;	/* starts[100]: the kernel's */
	assert_int_equal(tko_session_start_batch(t, starts, N, results), N - 4);
	for (size_t i = 0; i < N; i++) {
		bool local = i == 5 || i == TKO_BATCH_MAX || i == TKO_BATCH_MAX + 1;
		int want = local ? -EINVAL : i == 100 ? -EEXIST : 0;

		if (results[i] != want)
			fail_msg("result %zu: %d, want %d", i, results[i], want);
		if (asks_of(i + 1) != !local)
			fail_msg("start %zu asked of the kernel %d times", i, asks_of(i + 1));
		if (local)
			continue;
		assert_int_equal(fk.started[asked], i + 1);	/* in order */
		asked++;
	}
	assert_int_equal(fk.nstarted, asked);
	assert_int_equal(fk.runs, 0);
	/* runs: 0-100 (refused last) | 101-258 (the first TKO_BATCH_MAX that convert) | 259-N */
	assert_int_equal(fk.batch_runs, 3);
	assert_int_equal(tko_session_start_batch(t, starts, 0, results), 0);
	tko_close(t);
}

static void test_api_options_agent_default(void **state)
{
	struct tko *t = fake_open();
	struct tko_options o, def;

	tko_options_default(&def);
	assert_int_equal(tko_options_agent_default(t, &o), 0);	/* never set */
	assert_memory_equal(&o, &def, sizeof(o));
	tko_dp_config_default(&fk.defaults);
	fk.defaults.retries = 9;
	fk.defaults.probe = TKO_PROBE_BYTE;
	fk.defaults.flags = TKO_F_ON_DEAD_RESET;
	assert_int_equal(tko_options_agent_default(t, &o), 0);
	assert_int_equal(o.retries, 9);
	assert_int_equal(o.flags, TKO_OPT_PROBE_BYTE | TKO_OPT_RESET_ON_DEAD);
	fk.defaults_errno = EPERM;	/* an error, and the built-in ones */
	assert_int_equal(tko_options_agent_default(t, &o), -EPERM);
	assert_memory_equal(&o, &def, sizeof(o));
	tko_close(t);
}

/* A session as tko.h shows it: every field from the entry of its id. */
static void assert_info(const struct tko_session_info *in, __u32 id)
{
	const struct tko_session *s = &fk.sessions[id];

	assert_int_equal(in->id, id);
	assert_int_equal(in->tuple.family, s->key.family == TKO_AF_INET6 ? AF_INET6 : AF_INET);
	assert_int_equal(in->tuple.local_port, s->key.lport);
	assert_int_equal(in->tuple.remote_port, s->key.rport);
	assert_memory_equal(in->tuple.local_addr, s->key.laddr, 16);
	assert_memory_equal(in->tuple.remote_addr, s->key.raddr, 16);
	assert_int_equal(in->state, s->state);
	assert_int_equal(in->options.idle_s, s->cfg.idle_s);
	assert_int_equal(in->options.interval_s, s->cfg.interval_s);
	assert_int_equal(in->options.retry_interval_s, s->cfg.retry_interval_s);
	assert_int_equal(in->options.retries, s->cfg.retries);
	assert_int_equal(in->tcp.snd_una, s->tcp.snd_una);
	assert_int_equal(in->tcp.snd_nxt, s->tcp.snd_nxt);
	assert_int_equal(in->tcp.rcv_nxt, s->tcp.rcv_nxt);
	assert_int_equal(in->tcp.window, s->tcp.window);
	assert_int_equal(in->tcp.wscale, s->tcp.wscale);
	assert_int_equal(in->tcp.ts_val, s->tcp.ts_val);
	assert_int_equal(in->tcp.ts_ecr, s->tcp.ts_ecr);
	assert_int_equal(in->counts.probes_sent, s->cnt.probes_sent);
	assert_int_equal(in->counts.probes_answered, s->cnt.probes_answered);
	assert_int_equal(in->counts.peer_probes_answered, s->cnt.peer_probes_answered);
	assert_int_equal(in->counts.unanswered, s->cnt.unanswered);
	assert_int_equal(in->counts.answers_limited, s->cnt.answers_limited);
	assert_int_equal(in->counts.probes_late, s->cnt.probes_late);
	assert_int_equal(in->ifindex, s->ifindex);
	assert_int_equal(in->policy, s->policy);
	assert_int_equal(in->started_ns, s->started_ns);
	assert_int_equal(in->next_ns, s->next_ns);
}

static int info_cb(const struct tko_session_info *in, void *ctx)
{
	struct walk *w = ctx;

	assert_info(in, in->id);
	w->seen[w->calls++] = in->id;
	return w->calls == w->stop_at ? w->stop_ret : 0;
}

static void test_api_sessions(void **state)
{
	struct tko_key key = key_v4(4), v6 = {
		.family = TKO_AF_INET6, .lport = 22, .rport = 50000,
		.laddr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
		.raddr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 },
	};
	struct tko_tuple tu = tuple_v4(4), tu6 = {
		.family = AF_INET6, .local_port = 22, .remote_port = 50000,
		.local_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
		.remote_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 },
	};
	struct tko_session_info in;
	static struct walk w;
	struct tko_session *s;
	struct tko *t;

	s = fake_add(3, &key, TKO_ACTIVE, 0);
	tko_dp_config_default(&s->cfg);
	s->cfg.probe = TKO_PROBE_BYTE;
	s->cfg.flags = TKO_F_ONESHOT | TKO_F_WAKE | TKO_F_STATE_GIVEN;
	memcpy(s->cfg.wake_mac, ((__u8[]){ 2, 0, 0x5e, 0x10, 0, 1 }), 6);
	s->tcp = (struct tko_tcp_state){ .snd_una = 1, .snd_nxt = 2, .rcv_nxt = 3, .ts_val = 4,
					 .ts_ecr = 5, .window = 6, .wscale = 7, .ts_clock = 1 };
	s->have = TKO_HAVE_SEQ | TKO_HAVE_UNA | TKO_HAVE_L2 | TKO_HAVE_WAKE;
	s->cnt = (struct tko_counters){ 11, 12, 13, 14, 15, 16 };
	s->ifindex = 17;
	s->policy = 18;
	s->next_ns = 19;
	s = fake_add(9, &v6, TKO_LEARNING, 1);
	s->have = TKO_HAVE_TS;
	t = fake_open();

	memset(&in, 0xa5, sizeof(in));
	assert_int_equal(tko_session_get(t, &tu, &in), 0);
	assert_info(&in, 3);
	assert_int_equal(in.tuple.family, AF_INET);
	assert_int_equal(in.options.flags, TKO_OPT_PROBE_BYTE | TKO_OPT_ONESHOT | TKO_OPT_WAKE);
	assert_memory_equal(in.options.wake_mac, ((__u8[]){ 2, 0, 0x5e, 0x10, 0, 1 }), 6);
	assert_int_equal(in.tcp.have, TKO_HANDOFF_SEQ | TKO_HANDOFF_UNA);
	assert_int_equal(in.state, TKO_SESSION_ACTIVE);
	assert_int_equal(tko_session_get(t, &tu6, &in), 0);
	assert_info(&in, 9);
	assert_int_equal(in.tcp.have, TKO_HANDOFF_TS);
	assert_int_equal(in.state, TKO_SESSION_LEARNING);
	tu.local_port++;
	assert_int_equal(tko_session_get(t, &tu, &in), -ENOENT);
	tu.family = AF_UNIX;
	assert_int_equal(tko_session_get(t, &tu, &in), -EINVAL);

	/* the walk: every live session, with its id; cb's return ends it */
	memset(&w, 0, sizeof(w));
	assert_int_equal(tko_session_foreach(t, info_cb, &w), 0);
	assert_walk(&w, ((__u32[]){ 3, 9 }), 2);
	memset(&w, 0, sizeof(w));
	w.stop_at = 1;
	w.stop_ret = -EINTR;
	assert_int_equal(tko_session_foreach(t, info_cb, &w), -EINTR);
	assert_walk(&w, ((__u32[]){ 3 }), 1);
	tko_close(t);
}

struct api_events {
	int n;
	struct tko_event_info e[4];
};

static int api_event_cb(const struct tko_event_info *e, void *ctx)
{
	struct api_events *c = ctx;

	assert_true(c->n < (int)ARRAY_LEN(c->e));
	c->e[c->n++] = *e;
	return 0;
}

static void test_api_events(void **state)
{
	struct tko *t = fake_open();
	struct api_events c = { 0 };
	struct tko_event *f = &fk.log[7];
	const struct tko_event_info *e = &c.e[0];
	uint64_t after = 40;

	put_event(3, 40);	/* seen already */
	put_event(7, 41);
	f->ts_ns = 123;
	f->key = key_v4(6);
	f->type = TKO_EV_STOPPED;
	f->reason = TKO_R_REQUEST;
	f->state = TKO_STOPPED;
	f->tcp = (struct tko_tcp_state){ .snd_una = 1, .snd_nxt = 2, .rcv_nxt = 3, .ts_val = 4,
					 .ts_ecr = 5, .window = 6, .wscale = 7 };
	f->cnt = (struct tko_counters){ 11, 12, 13, 14, 15, 16 };
	assert_int_equal(tko_events_read(t, &after, api_event_cb, &c), 0);
	assert_int_equal(after, 41);
	assert_int_equal(c.n, 1);
	assert_int_equal(e->seq, 41);
	assert_int_equal(e->ts_ns, 123);
	assert_int_equal(e->tuple.family, AF_INET);
	assert_int_equal(e->tuple.local_port, 40000);
	assert_memory_equal(e->tuple.local_addr, ((__u8[16]){ 192, 168, 0, 6 }), 16);
	assert_int_equal(e->type, TKO_EVENT_STOPPED);
	assert_int_equal(e->reason, TKO_REASON_REQUEST);
	assert_int_equal(e->state, TKO_SESSION_STOPPED);
	assert_int_equal(e->next_probe_ms, 410);
	assert_int_equal(e->tcp.have, 0);
	assert_int_equal(e->tcp.snd_una, 1);
	assert_int_equal(e->tcp.snd_nxt, 2);
	assert_int_equal(e->tcp.rcv_nxt, 3);
	assert_int_equal(e->tcp.ts_val, 4);
	assert_int_equal(e->tcp.ts_ecr, 5);
	assert_int_equal(e->tcp.window, 6);
	assert_int_equal(e->tcp.wscale, 7);
	assert_int_equal(e->counts.probes_sent, 11);
	assert_int_equal(e->counts.probes_late, 16);
	tko_close(t);
}

/* The counters by name: as many as there are, the first max of them written. */
static void test_api_stats(void **state)
{
	struct tko *t = fake_open();
	int ncpu = libbpf_num_possible_cpus();
	struct tko_counter out[TKO_ST_MAX + 1];

	memset(out, 0xa5, sizeof(out));
	assert_int_equal(tko_stats_read(t, out, ARRAY_LEN(out)), TKO_ST_MAX);
	for (__u64 i = 0; i < TKO_ST_MAX; i++) {
		assert_string_equal(out[i].name, stat_name(i));
		assert_string_equal(out[i].help, stat_help(i));
		assert_int_equal(out[i].value, i * 1000 * ncpu + (__u64)ncpu * (ncpu + 1) / 2);
	}
	assert_string_equal(out[TKO_ST_PROBES_SENT].name, "probes_sent");
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(tko_stats_read(t, out, 3), TKO_ST_MAX);
	assert_string_equal(out[2].name, stat_name(2));
	assert_ptr_equal(out[3].name, (const char *)0xa5a5a5a5a5a5a5a5ULL);	/* untouched */
	fk.stats_fail_at = 1;
	assert_int_equal(tko_stats_read(t, out, ARRAY_LEN(out)), -EPERM);
	tko_close(t);
}

static void test_api_names(void **state)
{
	assert_string_equal(tko_state_name(TKO_SESSION_ACTIVE), "active");
	assert_string_equal(tko_state_name(TKO_SESSION_PEER_DEAD), "peer_dead");
	assert_string_equal(tko_event_name(TKO_EVENT_OFFLOADED), "offloaded");
	assert_string_equal(tko_event_name(TKO_EVENT_WAKE), "wake");
	assert_string_equal(tko_reason_name(TKO_REASON_DATA_PEER), "data_peer");
	assert_string_equal(tko_reason_name(TKO_REASON_WAKE_FAILED), "wake_failed");
	assert_string_equal(tko_state_name(-1), "unknown");
	assert_string_equal(tko_event_name(1000), "unknown");
	assert_string_equal(tko_reason_name(TKO_REASON_WAKE_FAILED + 1), "unknown");
}

#define T(fn) cmocka_unit_test_setup(fn, fake_reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_default_pin_dir),
		T(test_config_default),
		T(test_start_einval),
		T(test_start_einval_key_state),
		T(test_open_missing_dir),
		T(test_close_null),
		T(test_open_close_fake),
		T(test_open_one_pin_missing),
		T(test_open_table),
		T(test_start_limits_accepted),
		T(test_start_args_monitor),
		T(test_start_args_state),
		T(test_start_stop_results),
		T(test_stop_args),
		T(test_session_find),
		T(test_find_uses_seed),
		T(test_find_tag_collision),
		T(test_find_second_bucket),
		T(test_find_not_live),
		T(test_find_races),
		T(test_find_errors),
		T(test_foreach),
		T(test_foreach_batches),
		T(test_foreach_errors),
		T(test_start_batch),
		T(test_start_batch_fallbacks),
		T(test_config_agent_default),
		T(test_events_read),
		T(test_events_read_error),
		T(test_stats_read),
		T(test_event_stats_read),
		T(test_api_options_default),
		T(test_api_start_args),
		T(test_api_start_einval),
		T(test_api_start_batch),
		T(test_api_options_agent_default),
		T(test_api_sessions),
		T(test_api_events),
		T(test_api_stats),
		T(test_api_names),
	};

	return cmocka_run_group_tests_name("lib", tests, NULL, NULL);
}
