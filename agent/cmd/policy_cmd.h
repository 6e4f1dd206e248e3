/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `tko policy add`'s options, shared with the agent's config (`policy = ...`). */
#ifndef TKO_POLICY_CMD_H
#define TKO_POLICY_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include "tko_types.h"

/*
 * The options of `tko policy add` (argv[0] is skipped, as by getopt) into
 * *p (id 0). *pin_dir gets --pin-dir if given (pin_dir may be NULL).
 * Returns 0, -EINVAL (bad options) or the -errno of a --cgroup that is
 * none (-ENOENT, -ENOTDIR, -EXDEV: cgroup_id()), with one sentence in err.
 */
int policy_parse(int argc, char **argv, struct tko_policy *p, const char **pin_dir,
		 char *err, size_t errlen);

/*
 * Add *p to the pinned tables behind the fds, saying why not on stderr:
 * 0 (p->id set; *existed if an identical policy was there already) or -errno.
 */
int policy_add_fds(int policies_fd, int stats_fd, int prefixes_fd, struct tko_policy *p,
		   bool *existed);

#endif /* TKO_POLICY_CMD_H */
