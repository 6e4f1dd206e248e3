// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the commands share at the edge: the usage error, the root check, the pins. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"

int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "tko %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (try 'tko %s --help')\n", cmd);
	return EXIT_USAGE;
}

bool require_root(void)
{
	if (geteuid() == 0)
		return true;
	pr_warn("must be run as root (it needs CAP_BPF and CAP_NET_ADMIN)");
	return false;
}

int cli_open(const char *pin_dir, struct tko **t)
{
	int err = tko_open(pin_dir, t);

	if (err == -ENOENT)
		pr_warn("no agent running: nothing pinned in %s (start 'tko agent' first)", pin_dir);
	else if (err)
		pr_warn("cannot open the pins in %s: %s", pin_dir, strerror(-err));
	return err;
}
