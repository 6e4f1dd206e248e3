/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The subcommands of `tko` and what they share. The cmd_* functions are the
 * edge: they alone return exit codes; what they call says what went wrong
 * and returns 0 or -errno (-EINVAL from a parser: the usage is wrong).
 */
#ifndef TKO_CLI_H
#define TKO_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "tko_dp.h"

int cmd_agent(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_policy(int argc, char **argv);

/*
 * The synopses of `tko start` and `tko policy add` (their session options
 * from session_opts.h), from column col, lines after the first indented by
 * indent.
 */
void start_synopsis(FILE *f, int col, int indent);
void policy_synopsis(FILE *f, int col, int indent);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes: 0 ok, 1 operation failed, 2 usage error. */
#define EXIT_USAGE 2

/* "tko CMD: <fmt with arg> (try 'tko CMD --help')" on stderr; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, const char *arg);

/* One sentence on stderr when not root; returns false. */
bool require_root(void);

/* Open the pins with a clear message on failure ("no agent running", ...). */
int cli_open(const char *pin_dir, struct tko **t);

#endif /* TKO_CLI_H */
