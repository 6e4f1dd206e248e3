// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of agent/lib/metrics.c: the counter table and the Prometheus
 * rendering that `tko stats --prometheus` and `tko agent --metrics` share.
 * The output is checked line by line against the rules of the text
 * exposition format 0.0.4 and the naming conventions of Prometheus.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "format.h"

#define MAX_FAMILIES 64

static bool is_name(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Every counter has a name fit for a metric and a sentence of help; no two share a name. */
static void test_stat_table(void **state)
{
	for (unsigned int i = 0; i < TKO_ST_MAX; i++) {
		const char *n = stat_name(i), *h = stat_help(i);

		if (!n || !h)
			fail_msg("counter %u has no %s", i, n ? "help" : "name");
		if (!is_name(n, strlen(n)) || strstr(n, "_total") || strncmp(n, "tko_", 4) == 0)
			fail_msg("counter %u: '%s' is not a bare metric name", i, n);
		if (!isupper((unsigned char)h[0]) || h[strlen(h) - 1] != '.' || strchr(h, '\n') ||
		    strchr(h, '\\'))
			fail_msg("counter %s: help \"%s\" is not one sentence", n, h);
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(n, stat_name(j)))
				fail_msg("counters %u and %u are both '%s'", j, i, n);
	}
	assert_null(stat_name(TKO_ST_MAX));
	assert_null(stat_help(TKO_ST_MAX));
}

static char *render(const struct tko_metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(format_prometheus(m, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

struct family {
	char name[128];
	char type[16];
};

/*
 * The exposition rules: each family announced once by HELP then TYPE,
 * before its samples and nowhere else; counters end in _total, gauges do
 * not; labels are state, type or reason; values are whole numbers.
 * NULL if text keeps them (*samples gets the number of samples), else
 * what is wrong.
 */
static const char *exposition_error(const char *text, int *samples)
{
	static char msg[512];
	struct family fam[MAX_FAMILIES];
	int nfam = 0;
	char *copy = strdup(text), *save = NULL;

#define BAD(...) do { snprintf(msg, sizeof(msg), __VA_ARGS__); free(copy); return msg; } while (0)
	assert_non_null(copy);
	*samples = 0;
	if (!*text || text[strlen(text) - 1] != '\n')
		BAD("no final newline");
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct family *f = nfam ? &fam[nfam - 1] : NULL;
		const char *p = l;

		if (!strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7)) {
			const char *name = l + 7, *rest = strchr(name, ' ');
			size_t n = rest ? (size_t)(rest - name) : 0;

			if (!rest || !is_name(name, n) || !rest[1] || n >= sizeof(fam[0].name))
				BAD("malformed line \"%s\"", l);
			if (l[2] == 'H') {
				for (int i = 0; i < nfam; i++)
					if (strlen(fam[i].name) == n && !strncmp(fam[i].name, name, n))
						BAD("family %.*s announced twice", (int)n, name);
				if (nfam == MAX_FAMILIES)
					BAD("too many families");
				f = &fam[nfam++];
				memset(f, 0, sizeof(*f));
				memcpy(f->name, name, n);
				continue;
			}
			if (!f || strlen(f->name) != n || strncmp(f->name, name, n) || f->type[0])
				BAD("TYPE line \"%s\" without its HELP line just before", l);
			snprintf(f->type, sizeof(f->type), "%s", rest + 1);
			if (strcmp(f->type, "counter") && strcmp(f->type, "gauge"))
				BAD("family %s has type '%s'", f->name, f->type);
			n = strlen(f->name);
			if (!strcmp(f->type, "counter") != (n > 6 && !strcmp(f->name + n - 6, "_total")))
				BAD("%s %s: counters, and only they, end in _total", f->type, f->name);
			continue;
		}
		if (l[0] == '#')
			BAD("unexpected comment \"%s\"", l);
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (!f || !f->type[0] || strlen(f->name) != (size_t)(p - l) ||
		    strncmp(f->name, l, p - l))
			BAD("sample \"%s\" outside its family", l);
		if (*p == '{') {
			do {
				const char *k = ++p;

				while (islower((unsigned char)*p) || *p == '_')
					p++;
				if (!((p - k == 5 && !strncmp(k, "state", 5)) ||
				      (p - k == 4 && !strncmp(k, "type", 4)) ||
				      (p - k == 6 && !strncmp(k, "reason", 6)) ||
				      (p - k == 5 && !strncmp(k, "iface", 5)) ||
				      (p - k == 4 && !strncmp(k, "path", 4)) ||
				      (p - k == 3 && !strncmp(k, "why", 3))))
					BAD("sample \"%s\": label not state, type, reason, iface, "
					    "path or why", l);
				if (*p++ != '=' || *p++ != '"')
					BAD("sample \"%s\": malformed label", l);
				/* Any text; '\\', '"' and newline escaped with a backslash. */
				while (*p && *p != '"') {
					if (*p == '\\' && (!*++p || !strchr("\\\"n", *p)))
						BAD("sample \"%s\": bad escape in a label value", l);
					p++;
				}
				if (*p++ != '"')
					BAD("sample \"%s\": malformed label value", l);
			} while (*p == ',');
			if (*p++ != '}')
				BAD("sample \"%s\": unterminated labels", l);
		}
		if (*p++ != ' ' || !isdigit((unsigned char)*p))
			BAD("sample \"%s\": no value", l);
		while (isdigit((unsigned char)*p))
			p++;
		if (*p)
			BAD("sample \"%s\": trailing characters", l);
		(*samples)++;
	}
	for (int i = 0; i < nfam; i++)
		if (!fam[i].type[0])
			BAD("family %s has no TYPE line", fam[i].name);
	free(copy);
	return NULL;
#undef BAD
}

/* Fails the test unless text keeps the rules; returns its number of samples. */
static int check_exposition(const char *text)
{
	int samples;
	const char *err = exposition_error(text, &samples);

	if (err)
		fail_msg("%s in:\n%s", err, text);
	return samples;
}

/* The checker must tell good from bad, or it proves nothing. */
static void test_checker(void **state)
{
	static const char *bad[] = {
		"# HELP a A.\n# TYPE a counter\na 1\n",			/* counter without _total */
		"# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n",	/* a gauge with it */
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1\n",	/* a family twice */
		"# TYPE a_total counter\na_total 1\n",			/* no HELP */
		"# HELP a_total A.\na_total 1\n",				/* no TYPE */
		"# HELP a_total A.\n# TYPE a_total counter\na_total{event=\"x\"} 1\n",
		"# HELP a_total A.\n# TYPE a_total counter\nb_total 1\n",
		"# HELP a_total A.\n# TYPE a_total counter\na_total 1",	/* no final newline */
		"# HELP a_total A.\n# TYPE a_total counter\na_total x\n",
		"# HELP g G.\n# TYPE g gauge\ng{iface=\"a\\x\"} 1\n",	/* a bad escape */
		"# HELP g G.\n# TYPE g gauge\ng{iface=\"a\"b\"} 1\n",	/* a quote unescaped */
	};
	int n;

	assert_null(exposition_error("# HELP a_total A.\n# TYPE a_total counter\na_total 1\n", &n));
	assert_int_equal(n, 1);
	assert_null(exposition_error("# HELP g G.\n# TYPE g gauge\ng{state=\"x\",type=\"y\"} 0\n",
				     &n));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!exposition_error(bad[i], &n))
			fail_msg("the checker accepted:\n%s", bad[i]);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void test_render_zero(void **state)
{
	struct tko_metrics m = {};
	char *text = render(&m);

	/* five states and every counter; no event happened, so no event sample */
	assert_int_equal(check_exposition(text), 5 + TKO_ST_MAX);
	assert_true(has_line(text, "tko_sessions{state=\"learning\"} 0"));
	assert_true(has_line(text, "tko_sessions{state=\"stopped\"} 0"));
	assert_true(has_line(text, "# TYPE tko_events_total counter"));
	assert_null(strstr(text, "tko_events_total{"));
	free(text);
}

static void test_render_figures(void **state)
{
	struct tko_metrics m = {};
	char line[256], *text;

	for (unsigned int i = 0; i < TKO_ST_MAX; i++)
		m.stats[i] = 1000 + i;
	m.stats[TKO_ST_PROBES_SENT] = UINT64_MAX;
	m.sessions[TKO_ACTIVE] = 3;
	m.sessions[TKO_LEARNING] = 1;
	m.events[TKO_EV_STOPPED * TKO_REASONS_MAX + TKO_R_REQUEST] = 7;
	m.events[TKO_EV_OFFLOADED * TKO_REASONS_MAX + TKO_R_IDLE] = 2;
	text = render(&m);
	assert_int_equal(check_exposition(text), 5 + 2 + TKO_ST_MAX);
	assert_true(has_line(text, "tko_sessions{state=\"active\"} 3"));
	assert_true(has_line(text, "tko_sessions{state=\"learning\"} 1"));
	assert_true(has_line(text, "tko_events_total{type=\"stopped\",reason=\"request\"} 7"));
	assert_true(has_line(text, "tko_events_total{type=\"offloaded\",reason=\"idle\"} 2"));
	assert_true(has_line(text, "tko_probes_sent_total 18446744073709551615"));
	for (unsigned int i = 0; i < TKO_ST_MAX; i++) {
		snprintf(line, sizeof(line), "# HELP tko_%s_total %s", stat_name(i), stat_help(i));
		assert_true(has_line(text, line));
		if (i == TKO_ST_PROBES_SENT)
			continue;
		snprintf(line, sizeof(line), "tko_%s_total %u", stat_name(i), 1000 + i);
		assert_true(has_line(text, line));
	}
	free(text);
}

/* One series per interface, names escaped as label values must be. */
static void test_render_ifaces(void **state)
{
	struct tko_metrics m = {
		.ifaces = {
			{ .ifindex = 3, .path = TKO_ANSWER_TC, .why = TKO_WHY_VETH, .name = "g1" },
			{ .ifindex = 7, .path = TKO_ANSWER_XDP, .why = TKO_WHY_DRIVER,
			  .name = "odd\"na\\me0123" },
		},
		.nifaces = 2,
	};
	char *text = render(&m);

	assert_int_equal(check_exposition(text), 5 + 2 + TKO_ST_MAX);
	assert_true(has_line(text, "# TYPE tko_iface_answer_path gauge"));
	assert_true(has_line(text, "tko_iface_answer_path{iface=\"g1\",path=\"tc\",why=\"veth\"} 1"));
	assert_true(has_line(text, "tko_iface_answer_path{iface=\"odd\\\"na\\\\me0123\","
				   "path=\"xdp\",why=\"driver\"} 1"));
	free(text);
}

/* An event type or reason this build has no name for is still one series of its own. */
static void test_render_unnamed(void **state)
{
	struct tko_metrics m = {};
	char *text;

	m.events[(TKO_EVENTS_MAX - 1) * TKO_REASONS_MAX + TKO_REASONS_MAX - 1] = 1;
	m.events[(TKO_EVENTS_MAX - 1) * TKO_REASONS_MAX + TKO_REASONS_MAX - 2] = 1;
	text = render(&m);
	check_exposition(text);
	assert_null(strstr(text, "unknown"));
	free(text);
}

static void test_write_error(void **state)
{
	struct tko_metrics m = {};
	FILE *f = fopen("/dev/full", "w");

	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(format_prometheus(&m, f), -EIO);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_table),
		cmocka_unit_test(test_checker),
		cmocka_unit_test(test_render_zero),
		cmocka_unit_test(test_render_figures),
		cmocka_unit_test(test_render_unnamed),
		cmocka_unit_test(test_render_ifaces),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
