// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tko: TCP keepalive offload. main() only dispatches subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef TKO_VERSION
#error "TKO_VERSION comes from the VERSION file: build with make"
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	/* The synopsis the command's own file makes, before usage. */
	void (*synopsis)(FILE *f, int col, int indent);
} commands[] = {
	{ "agent", cmd_agent, "--iface IF[,IF...] [--cgroup PATH] [--pin-dir DIR] [--max-sessions N] [--tick-ms MS]\n"
			      "                [--answers auto|xdp|tc] [--metrics ADDR:PORT] [--config FILE]\n"
			      "                [--persist] [--json] [-v]\n"
			      "  tko agent  --cleanup [--pin-dir DIR]" },
	{ "start", cmd_start, "", start_synopsis },
	{ "stop", cmd_stop, "LOCAL REMOTE" },
	{ "policy", cmd_policy, "\n  tko policy list [--json] | del ID", policy_synopsis },
	{ "list", cmd_list, "[--json]" },
	{ "events", cmd_events, "[--json] [--follow]" },
	{ "stats", cmd_stats, "[--json | --prometheus]" },
	{ "unload", cmd_unload, "" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tko COMMAND [OPTIONS]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int col = fprintf(f, "  tko %-6s", commands[i].name);

		if (commands[i].synopsis)
			commands[i].synopsis(f, col, 16);
		else
			fputc(' ', f);
		fprintf(f, "%s\n", commands[i].usage);
	}
	fprintf(f, "\nLOCAL and REMOTE are ADDR:PORT or [ADDR6]:PORT; LOCAL is the offloaded endpoint.\n"
		   "Every command takes --pin-dir DIR (default $TKO_PIN_DIR or /sys/fs/bpf/tko).\n"
		   "Times are whole seconds. 'tko COMMAND --help' describes one command;\n"
		   "'tko --version' prints the version.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "tko: no command given (try 'tko --help')\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("tko %s\n", TKO_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "tko: unknown command '%s' (try 'tko --help')\n", argv[1]);
	return EXIT_USAGE;
}
