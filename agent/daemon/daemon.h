/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent (tko agent), as the commands run it (agent/cmd/cmd_agent.c).
 * Each call that can fail says on stderr what went wrong, in one sentence,
 * and returns -errno (agent_new: NULL); the exit codes are the commands'.
 */
#ifndef TKO_DAEMON_H
#define TKO_DAEMON_H

#include <stdbool.h>

struct agent;

/* An agent with every option at its default; NULL when out of memory. */
struct agent *agent_new(void);
void agent_free(struct agent *a);

/*
 * The options of `tko agent` (argv[0] skipped), then those of its --config
 * FILE: the command line wins. *help: -h or --help came, and nothing after
 * it was read. 0, -EINVAL (a usage error: an option, a value or a line of
 * the file is wrong) or another -errno (the file cannot be read, a policy
 * line's --cgroup is none, no memory).
 */
int agent_options(struct agent *a, int argc, char **argv, bool *help);

/* tko agent --help, on stdout. */
void agent_help(void);

/*
 * What the options ask, as root: --cleanup (agent_unload()), or the agent:
 * its interfaces checked, the datapath loaded or adopted, attached and run
 * until SIGINT/SIGTERM, then removed unless --persist.
 */
int agent_main(struct agent *a);

/*
 * Remove the datapath pinned in pin_dir, left by an agent that died or ran
 * with --persist (tko unload, tko agent --cleanup): sessions (reported as
 * stopped), attachments, the carrier, the pins. Refused while an agent runs.
 */
int agent_unload(const char *pin_dir);

#endif /* TKO_DAEMON_H */
