// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Cut the blanks at the end of s. */
static void trim_end(char *s)
{
	for (char *end = s + strlen(s); end > s && (end[-1] == ' ' || end[-1] == '\t');)
		*--end = '\0';
}

/*
 * The next line of f into buf (CONFIG_LINE_MAX + 1 bytes), without its
 * newline: its length, -ENODATA at the end of the file, -E2BIG when it is
 * longer than CONFIG_LINE_MAX (read no further: the file is refused),
 * -EINVAL when it holds a NUL byte (every string function would end the
 * line there).
 */
static int next_line(FILE *f, char *buf)
{
	int c, len = 0;
	bool nul = false;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (len == CONFIG_LINE_MAX)
			return -E2BIG;
		nul |= !c;
		buf[len++] = c;
	}
	buf[len] = '\0';
	if (c == EOF && !len)
		return -ENODATA;
	return nul ? -EINVAL : len;
}

int config_read(const char *path, config_fn fn, void *ctx, char *err, size_t errlen)
{
	char line[CONFIG_LINE_MAX + 1], where[PATH_MAX + 32];
	FILE *f = fopen(path, "r");
	int n = 0, len, ret = 0;

	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(-ret));
		return ret;
	}
	while (!ret && (len = next_line(f, line)) != -ENODATA) {
		char *key = line, *val;

		snprintf(where, sizeof(where), "%s:%d: ", path, ++n);
		if (len < 0) {
			if (len == -E2BIG)
				snprintf(err, errlen, "%sline longer than %d characters", where,
					 CONFIG_LINE_MAX);
			else
				snprintf(err, errlen, "%sthe line holds a NUL byte", where);
			ret = -EINVAL;
			break;
		}
		line[strcspn(line, "#")] = '\0';
		key += strspn(key, " \t");
		if (!*key)
			continue;
		val = strchr(key, '=');
		if (!val) {
			snprintf(err, errlen, "%sexpected 'key = value'", where);
			ret = -EINVAL;
			break;
		}
		*val++ = '\0';
		trim_end(key);
		val += strspn(val, " \t");
		trim_end(val);
		ret = fn(ctx, key, val, where);
	}
	fclose(f);
	return ret;
}

int config_words(char *s, const char *name, char ***argv)
{
	/* Words of one character and one blank at the most: room for all. */
	char **v = calloc(strlen(s) / 2 + 3, sizeof(*v)), *tok, *save;
	int argc = 0;

	if (!v)
		return -ENOMEM;
	v[argc++] = (char *)name;
	for (tok = strtok_r(s, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
		v[argc++] = tok;
	v[argc] = NULL;
	*argv = v;
	return argc;
}
