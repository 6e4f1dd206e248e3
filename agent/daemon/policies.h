/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policy table behind `tko policy`: the forwarded policies' local
 * prefixes (the `policy_prefixes` LPM trie TC egress looks flows up in),
 * kept in step with the `policies` array.
 */
#ifndef TKO_POLICIES_H
#define TKO_POLICIES_H

#include <stdbool.h>
#include "tko_types.h"

struct tko_prefix_entry {
	struct tko_prefix_key key;
	__u64 mask;		/* slots of the policies that cover the whole prefix */
};

/* At most two prefixes per policy (IPv4 and IPv6 when --local is not given). */
#define TKO_PREFIX_ENTRIES_MAX (2 * TKO_MAX_POLICIES)

/*
 * The trie's entries for the policies pol[0..n) (pol[i] in slot i; free
 * slots and local policies contribute nothing): every distinct local
 * prefix of a forwarded policy, with the mask of every forwarded policy
 * whose prefix contains it, so that the longest match names them all.
 * Returns the number of entries written to out (room for
 * TKO_PREFIX_ENTRIES_MAX).
 */
int policy_prefixes(const struct tko_policy *pol, int n, struct tko_prefix_entry *out);

/*
 * Make the trie behind prefixes_fd hold what the policies behind
 * policies_fd ask for: new and changed entries first, then the stale ones
 * removed, so a flow is never unmatched while a policy that wants it
 * exists. 0 or -errno.
 */
int policy_prefixes_sync(int policies_fd, int prefixes_fd);

/* Do a and b ask for the same thing (all but the id)? */
bool policy_same(const struct tko_policy *a, const struct tko_policy *b);

/*
 * Add policy p to the tables behind the fds: in a free slot that no
 * session of a deleted policy still counts against, if there is one (its
 * figures start from zero), the id written last (the datapath skips a slot
 * whose id is 0), then, for a forwarded policy, the prefix trie in step.
 * Sets p->id. 0, -EEXIST (an identical policy is there: p->id is its id),
 * -ENOSPC (no free slot) or -errno.
 */
int policy_install(int policies_fd, int stats_fd, int prefixes_fd, struct tko_policy *p);

/*
 * Remove policy id from the tables behind the fds: its slot emptied (the
 * sessions it made run on), then, for a forwarded policy, the prefix trie
 * in step. 0, -ENOENT (no policy id) or -errno.
 */
int policy_remove(int policies_fd, int prefixes_fd, __u32 id);

/*
 * Which policies the agent's config file made (`policy = OPTIONS`), as
 * opposed to `tko policy add`: the agent must remove those its config no
 * longer lists when it adopts a datapath, or an edited policy would stay
 * behind its stale self (the first match wins). struct tko_policy has no
 * room for the origin, so it is kept next to the pins, living and dying
 * with them: PIN_CONFIG_POLICIES, an array by slot of the policy as the
 * config put it there (id 0: none). An entry counts only while the slot
 * still holds exactly that policy: one deleted, or its slot reused by
 * `tko policy add`, is not the config's any more.
 *
 * Opens the record in pin_dir; if there is none and create, makes it (with
 * the BTF of the policies map behind policies_fd, for bpftool) and pins it,
 * setting *created. The fd, or -errno (-ENOENT: none, and not create).
 */
int policy_record_open(const char *pin_dir, int policies_fd, bool create, bool *created);

/*
 * The table pol[], the record made[] (both by slot, TKO_MAX_POLICIES) and
 * the config's policies cfg[0..n): mine[] gets the record's entries that
 * still count, and the mask returned names those of them that cfg no
 * longer lists (edited or deleted lines), emptied in mine[].
 */
__u64 policy_config_stale(const struct tko_policy *pol, const struct tko_policy *made,
			  const struct tko_policy *cfg, int n, struct tko_policy *mine);

#endif /* TKO_POLICIES_H */
