// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

/* Cut the blanks at the end of s. */
static void trim_end(char *s)
{
	for (char *end = s + strlen(s); end > s && (end[-1] == ' ' || end[-1] == '\t');)
		*--end = '\0';
}

int config_read(const char *path, config_fn fn, void *ctx, char *err, size_t errlen)
{
	char line[1024], where[PATH_MAX + 32];
	FILE *f = fopen(path, "r");
	int n = 0, ret = 0;

	if (!f) {
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		return 1;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		char *key = line, *val;

		n++;
		line[strcspn(line, "#\n")] = '\0';
		key += strspn(key, " \t");
		if (!*key)
			continue;
		val = strchr(key, '=');
		snprintf(where, sizeof(where), "%s:%d: ", path, n);
		if (!val) {
			snprintf(err, errlen, "%sexpected 'key = value'", where);
			ret = EXIT_USAGE;
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
	char **v = calloc(64, sizeof(*v)), *tok, *save;
	int argc = 0;

	if (!v)
		return -ENOMEM;
	v[argc++] = (char *)name;
	for (tok = strtok_r(s, " \t", &save); tok && argc < 63; tok = strtok_r(NULL, " \t", &save))
		v[argc++] = tok;
	v[argc] = NULL;
	*argv = v;
	return argc;
}
