// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tko agent | unload: the agent daemon (agent/daemon, daemon.h) run from the
 * command line, its errors turned into exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "daemon.h"
#include "loader.h"
#include "log.h"

int cmd_agent(int argc, char **argv)
{
	struct agent *a = agent_new();
	bool help;
	int err, ret;

	if (!a) {
		pr_warn("out of memory");
		return 1;
	}
	/* Each call has said what went wrong: what remains is the exit code. */
	err = agent_options(a, argc, argv, &help);
	if (err) {
		ret = err == -EINVAL ? EXIT_USAGE : 1;
	} else if (help) {
		agent_help();
		ret = 0;
	} else {
		ret = require_root() && !agent_main(a) ? 0 : 1;
	}
	agent_free(a);
	return ret;
}

int cmd_unload(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *pin_dir = tko_default_pin_dir();
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'p') {
			pin_dir = optarg;
		} else if (c == 'h') {
			printf("usage: tko unload [--pin-dir DIR]\n"
			       "Remove the datapath pinned in DIR (left running by an agent that was\n"
			       "killed or ran with --persist): sessions (reported as stopped),\n"
			       "attachments, the carrier, the pins. Refused while an agent runs.\n");
			return 0;
		} else {
			fprintf(stderr, "tko unload: bad option (try 'tko unload --help')\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tko unload: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!require_root())
		return 1;
	tko_bpf_setup_logging();
	return agent_unload(pin_dir) ? 1 : 0;
}
