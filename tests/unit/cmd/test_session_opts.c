// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of agent/cmd/session_opts.c: the one table of the session
 * options, as tko start, tko policy add and the agent's config file take it,
 * and the usage and help made from it.
 */
#define _GNU_SOURCE	/* open_memstream */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"
#include "session_opts.h"

#define ERRLEN 256

/* Set the option named name in ctx: session_opt_set()'s return; err gets the message. */
static int set(unsigned int ctx, const char *name, const char *arg, struct tko_config *cfg,
	       unsigned int *given, char *err)
{
	int c = session_opt_find(ctx, name);

	err[0] = '\0';
	return c < 0 ? c : session_opt_set(ctx, c, arg, cfg, given, err, ERRLEN);
}

/* What each context takes: the contract of tko.8. */
static void test_where(void **state)
{
	static const struct {
		const char *name;
		unsigned int where;
	} cases[] = {
		{ "idle", SO_START | SO_POLICY | SO_CONFIG },
		{ "interval", SO_START | SO_POLICY | SO_CONFIG },
		{ "retry-interval", SO_START | SO_POLICY | SO_CONFIG },
		{ "retries", SO_START | SO_POLICY | SO_CONFIG },
		{ "probe", SO_START | SO_POLICY | SO_CONFIG },
		{ "oneshot", SO_START | SO_POLICY },
		{ "on-dead", SO_START | SO_POLICY },
		{ "wake", SO_START | SO_POLICY },
		{ "state", 0 },		/* tko start's own */
		{ "forwarded", 0 },	/* tko policy add's own */
		{ "iface", 0 },		/* the agent's own */
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		for (unsigned int ctx = SO_START; ctx <= SO_CONFIG; ctx <<= 1) {
			int c = session_opt_find(ctx, cases[i].name);

			if ((c >= 0) != !!(cases[i].where & ctx))
				fail_msg("--%s in context %#x: find %d", cases[i].name, ctx, c);
		}
}

static void test_values(void **state)
{
	struct tko_config cfg, def;
	unsigned int given = 0;
	char err[ERRLEN];

	tko_dp_config_default(&def);
	cfg = def;
	assert_int_equal(set(SO_START, "idle", "30", &cfg, &given, err), 0);
	assert_int_equal(set(SO_POLICY, "interval", "604800", &cfg, &given, err), 0);
	assert_int_equal(set(SO_CONFIG, "retry-interval", "1", &cfg, &given, err), 0);
	assert_int_equal(set(SO_START, "retries", "255", &cfg, &given, err), 0);
	assert_int_equal(set(SO_START, "probe", "byte", &cfg, &given, err), 0);
	assert_int_equal(set(SO_START, "oneshot", NULL, &cfg, &given, err), 0);
	assert_int_equal(set(SO_POLICY, "on-dead", "reset", &cfg, &given, err), 0);
	assert_int_equal(set(SO_START, "wake", "02:00:5e:00:00:01", &cfg, &given, err), 0);
	assert_int_equal(cfg.idle_s, 30);
	assert_int_equal(cfg.interval_s, 604800);
	assert_int_equal(cfg.retry_interval_s, 1);
	assert_int_equal(cfg.retries, 255);
	assert_int_equal(cfg.probe, TKO_PROBE_BYTE);
	assert_int_equal(cfg.flags, TKO_F_ONESHOT | TKO_F_ON_DEAD_RESET | TKO_F_WAKE);
	assert_int_equal(cfg.wake_mac[5], 1);
	assert_int_equal(__builtin_popcount(given), 8);

	/* the choice that clears a bit clears that bit alone */
	assert_int_equal(set(SO_START, "on-dead", "none", &cfg, &given, err), 0);
	assert_int_equal(set(SO_START, "oneshot", "false", &cfg, &given, err), 0);
	assert_int_equal(cfg.flags, TKO_F_WAKE);
	assert_int_equal(set(SO_POLICY, "wake", "none", &cfg, &given, err), 0);
	assert_int_equal(cfg.flags, 0);
	assert_int_equal(cfg.probe, TKO_PROBE_BYTE);
}

/* The messages of the three parsers: "--NAME: ...", the value quoted as given. */
static void test_refused(void **state)
{
	static const struct {
		unsigned int ctx;
		const char *name, *arg;
		int ret;
		const char *msg;
	} cases[] = {
		{ SO_START, "idle", "0", -ERANGE, "--idle: 0 is out of range (1..604800)" },
		{ SO_CONFIG, "idle", "x", -EINVAL, "--idle: 'x' is not a whole number" },
		{ SO_POLICY, "interval", "604801", -ERANGE,
		  "--interval: 604801 is out of range (1..604800)" },
		{ SO_START, "retries", "0", -ERANGE, "--retries: 0 is out of range (1..255)" },
		{ SO_CONFIG, "probe", "half", -EINVAL, "--probe: 'half' is not one of zero, byte" },
		{ SO_START, "probe", NULL, -EINVAL, "--probe: '' is not one of zero, byte" },
		{ SO_POLICY, "on-dead", "kill", -EINVAL, "--on-dead: 'kill' is not one of none, reset" },
		{ SO_START, "oneshot", "maybe", -EINVAL, "--oneshot: 'maybe' is not true or false" },
		{ SO_START, "wake", "maybe", -EINVAL,
		  "--wake: 'maybe' is not auto, none or a MAC address (aa:bb:cc:dd:ee:ff)" },
		{ SO_POLICY, "wake", "02:00:5e:00:00:01", -EINVAL,
		  "--wake: '02:00:5e:00:00:01' is not one of auto, none" },
		{ SO_CONFIG, "oneshot", NULL, -ENOENT, "" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct tko_config cfg, before;
		unsigned int given = 0;
		char err[ERRLEN];
		int ret;

		tko_dp_config_default(&cfg);
		before = cfg;
		ret = set(cases[i].ctx, cases[i].name, cases[i].arg, &cfg, &given, err);
		if (ret != cases[i].ret || strcmp(err, cases[i].msg))
			fail_msg("--%s '%s': %d \"%s\", want %d \"%s\"", cases[i].name,
				 cases[i].arg ? cases[i].arg : "(null)", ret, err, cases[i].ret,
				 cases[i].msg);
		assert_memory_equal(&cfg, &before, sizeof(cfg));	/* untouched */
		assert_int_equal(given, 0);
	}
	/* getopt's val of no session option, or of one the context does not take */
	assert_int_equal(session_opt_set(SO_START, 'h', NULL, NULL, NULL, NULL, 0), -ENOENT);
	assert_int_equal(session_opt_set(SO_CONFIG, session_opt_find(SO_START, "oneshot"), NULL,
					 NULL, NULL, NULL, 0), -ENOENT);
}

/* Policies: --idle and --interval required, --wake auto on forwarded ones alone. */
static void test_check(void **state)
{
	struct tko_config cfg;
	unsigned int given = 0;
	char err[ERRLEN];

	tko_dp_config_default(&cfg);
	assert_int_equal(session_opts_check(SO_START, &cfg, 0, err, ERRLEN), 0);
	assert_int_equal(session_opts_check(SO_POLICY, &cfg, 0, err, ERRLEN), -EINVAL);
	assert_string_equal(err, "--idle and --interval are required");
	assert_int_equal(set(SO_POLICY, "idle", "5", &cfg, &given, err), 0);
	assert_int_equal(session_opts_check(SO_POLICY, &cfg, given, err, ERRLEN), -EINVAL);
	assert_string_equal(err, "--idle and --interval are required");
	assert_int_equal(set(SO_POLICY, "interval", "5", &cfg, &given, err), 0);
	assert_int_equal(set(SO_POLICY, "wake", "none", &cfg, &given, err), 0);
	assert_int_equal(session_opts_check(SO_POLICY, &cfg, given, err, ERRLEN), 0);
	assert_int_equal(set(SO_POLICY, "wake", "auto", &cfg, &given, err), 0);
	assert_int_equal(session_opts_check(SO_POLICY, &cfg, given, err, ERRLEN), -EINVAL);
	assert_string_equal(err, "--wake needs --forwarded: a local policy's sockets are this "
			    "host's, with no device to wake");
	cfg.flags |= TKO_F_FORWARDED;
	assert_int_equal(session_opts_check(SO_POLICY, &cfg, given, err, ERRLEN), 0);
}

/* tko start: what its options did not say comes from the agent's config. */
static void test_fill(void **state)
{
	struct tko_config cfg, base = { .idle_s = 1, .interval_s = 2, .retry_interval_s = 3,
					.retries = 4, .probe = TKO_PROBE_BYTE,
					.flags = TKO_F_ONESHOT | TKO_F_WAKE };
	unsigned int given = 0;
	char err[ERRLEN];

	tko_dp_config_default(&cfg);
	assert_int_equal(set(SO_START, "idle", "30", &cfg, &given, err), 0);
	assert_int_equal(set(SO_START, "on-dead", "reset", &cfg, &given, err), 0);
	session_opts_fill(SO_CONFIG, &cfg, &base, given);
	assert_int_equal(cfg.idle_s, 30);
	assert_int_equal(cfg.interval_s, 2);
	assert_int_equal(cfg.retry_interval_s, 3);
	assert_int_equal(cfg.retries, 4);
	assert_int_equal(cfg.probe, TKO_PROBE_BYTE);
	assert_int_equal(cfg.flags, TKO_F_ON_DEAD_RESET);	/* no flag is the config's */
}

static void test_getopt(void **state)
{
	static const struct option extra[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{}
	};
	struct option opts[SESSION_OPTS_MAX + ARRAY_LEN(extra)];
	size_t n = 0;

	session_getopt(SO_POLICY, extra, opts);
	assert_string_equal(opts[0].name, "pin-dir");
	while (opts[n].name)
		n++;
	assert_int_equal(n, 1 + 8);
	for (size_t i = 1; i < n; i++) {
		assert_int_equal(opts[i].val, session_opt_find(SO_POLICY, opts[i].name));
		assert_int_equal(opts[i].has_arg, strcmp(opts[i].name, "oneshot") ?
				 required_argument : no_argument);
	}
}

/* Printed into a string, to be freed. */
static char *printed(void (*fn)(FILE *f, unsigned int ctx), unsigned int ctx)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, ctx);
	fclose(f);
	return buf;
}

static void usage_at_0(FILE *f, unsigned int ctx)
{
	int col = 0;

	session_opts_usage(f, ctx, &col, 4);
}

static void check_width(const char *text)
{
	for (const char *l = text; *l; l += strcspn(l, "\n") + !!l[strcspn(l, "\n")])
		if (strcspn(l, "\n") > 80)
			fail_msg("line longer than 80 columns: %.*s", (int)strcspn(l, "\n"), l);
}

static void test_help(void **state)
{
	char *start = printed(session_opts_help, SO_START);
	char *policy = printed(session_opts_help, SO_POLICY);
	char *usage = printed(usage_at_0, SO_POLICY);
	char names[128];

	assert_non_null(strstr(start, "  --idle S            idle seconds before tko takes over "
				      "(default 60)\n"));
	assert_non_null(strstr(start, "--probe zero|byte"));
	assert_non_null(strstr(start, "(default zero)"));
	assert_non_null(strstr(start, "  --oneshot           end the session on traffic instead "
				      "of re-arming\n"));
	assert_non_null(strstr(start, "--wake auto|MAC|none"));
	assert_non_null(strstr(policy, "(required)"));
	assert_non_null(strstr(policy, "--wake auto|none"));
	assert_null(strstr(policy, "MAC|"));
	assert_non_null(strstr(usage, " --idle S --interval S [--retry-interval S]"));
	assert_non_null(strstr(usage, "[--wake auto|none]"));
	check_width(start);
	check_width(policy);
	check_width(usage);
	session_opts_names(SO_CONFIG, names, sizeof(names));
	assert_string_equal(names, "idle, interval, retry-interval, retries, probe");
	free(start);
	free(policy);
	free(usage);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_where),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_getopt),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests_name("session_opts", tests, NULL, NULL);
}
