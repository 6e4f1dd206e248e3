// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's config file reader (agent/daemon/config.c): every line reaches
 * the agent whole, or the file is refused with a message naming the line;
 * nothing is ever cut.
 */
#define _GNU_SOURCE	/* asprintf */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

/* The longest line tko.8 promises to read. */
#define LINE_CHARS 8192

struct seen {
	int n;
	char key[8][32];
	char *value[8];
	char where[8][64];
	int refuse_at;		/* return -ECANCELED for this entry (1..), 0: never */
};

static int collect(void *ctx, const char *key, const char *value, const char *where)
{
	struct seen *s = ctx;

	if (s->n == 8)
		fail_msg("more lines than the test wrote");
	snprintf(s->key[s->n], sizeof(s->key[0]), "%s", key);
	s->value[s->n] = strdup(value);
	snprintf(s->where[s->n], sizeof(s->where[0]), "%s", where);
	s->n++;
	return s->n == s->refuse_at ? -ECANCELED : 0;
}

static void seen_free(struct seen *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->value[i]);
}

/* config_read() of a file holding len bytes of data, at path (64 bytes), gone after. */
static int read_data(const char *data, size_t len, struct seen *s, char *path, char *err)
{
	int fd, ret;

	strcpy(path, "/tmp/tko-test-config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	ret = config_read(path, collect, s, err, 256);
	unlink(path);
	return ret;
}

/* "key = " and fill up to a line of len characters, ending in tail. */
static char *long_line(const char *key, size_t len, const char *tail)
{
	char *l = malloc(len + 1);
	size_t head = strlen(key) + 3;

	assert_non_null(l);
	memset(l, ' ', len);
	memcpy(l, key, strlen(key));
	memcpy(l + strlen(key), " = ", 3);
	memcpy(l + head, "--idle 30 --interval 60", 23);
	memcpy(l + len - strlen(tail), tail, strlen(tail));
	l[len] = '\0';
	return l;
}

static void lines_whole(void **state)
{
	char path[64], err[256] = "", data[1024], *policy;
	struct seen s = { 0 };

	(void)state;
	policy = long_line("policy", 700, "--remote-port 7443");	/* > the 512 of old */
	/* The last line has no newline: it counts all the same. */
	snprintf(data, sizeof(data), "# a comment\n\n  iface = g1 # the WAN\n%s\nidle=5", policy);
	assert_int_equal(read_data(data, strlen(data), &s, path, err), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.key[0], "iface");
	assert_string_equal(s.value[0], "g1");
	assert_string_equal(s.key[1], "policy");
	assert_int_equal(strlen(s.value[1]), 700 - strlen("policy = "));
	assert_string_equal(s.value[1] + strlen(s.value[1]) - 18, "--remote-port 7443");
	assert_string_equal(s.key[2], "idle");
	assert_string_equal(s.value[2], "5");
	assert_true(strstr(s.where[1], ":4: ") && !strncmp(s.where[1], path, strlen(path)));
	seen_free(&s);
	free(policy);
}

static void line_at_the_limit(void **state)
{
	char path[64], err[256] = "", *line = long_line("policy", LINE_CHARS, "--oneshot");
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(read_data(line, LINE_CHARS, &s, path, err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.value[0] + strlen(s.value[0]) - 9, "--oneshot");
	seen_free(&s);
	free(line);
}

/* One character more: refused, naming the file and the line; no part of it read. */
static void line_too_long(void **state)
{
	char path[64], err[256] = "", want[128], *data, *line;
	struct seen s = { 0 };

	(void)state;
	line = long_line("policy", LINE_CHARS + 1, "--remote-port 7443");
	assert_true(asprintf(&data, "iface = g1\n%s\nidle = 5\n", line) > 0);
	assert_int_equal(read_data(data, strlen(data), &s, path, err), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: line longer than %d characters", path, LINE_CHARS);
	assert_string_equal(err, want);
	assert_int_equal(s.n, 1);
	seen_free(&s);
	free(data);
	free(line);
}

/* A NUL byte would end the line there for every string function. */
static void nul_byte(void **state)
{
	static const char data[] = "iface = g1\0 --more\n";
	char path[64], err[256] = "", want[128];
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(read_data(data, sizeof(data) - 1, &s, path, err), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: the line holds a NUL byte", path);
	assert_string_equal(err, want);
	assert_int_equal(s.n, 0);
}

/* The reader stops at the first line the agent refuses (it said why), with its error. */
static void refused(void **state)
{
	static const char data[] = "a = 1\nb = 2\nc = 3\n";
	char path[64], err[256] = "";
	struct seen s = { .refuse_at = 2 };

	(void)state;
	assert_int_equal(read_data(data, sizeof(data) - 1, &s, path, err), -ECANCELED);
	assert_int_equal(s.n, 2);
	assert_string_equal(err, "");
	seen_free(&s);
}

static void missing_file(void **state)
{
	char err[256] = "";
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(config_read("/nonexistent/tko.conf", collect, &s, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "cannot read config file /nonexistent/tko.conf: "
			    "No such file or directory");
}

/* As many words as the line holds: a policy's last options are never dropped. */
static void words_all(void **state)
{
	char line[1024] = "", **argv;
	int argc, n = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		n += snprintf(line + n, sizeof(line) - n, i % 2 ? "\tw%d" : "  w%d", i);
	argc = config_words(line, "policy", &argv);
	assert_int_equal(argc, 101);
	assert_string_equal(argv[0], "policy");
	assert_string_equal(argv[1], "w0");
	assert_string_equal(argv[100], "w99");
	assert_null(argv[101]);
	free(argv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_whole),
		cmocka_unit_test(line_at_the_limit),
		cmocka_unit_test(line_too_long),
		cmocka_unit_test(nul_byte),
		cmocka_unit_test(refused),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(words_all),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
