// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The policies of the agent's config file (`policy = OPTIONS` lines): read
 * as `tko policy add OPTIONS`, put in the policy table at start, and those
 * an earlier config made that this one no longer lists removed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "config.h"
#include "log.h"
#include "policies.h"
#include "policy_cmd.h"

int config_policies_parse(struct agent *a)
{
	for (int i = 0; i < a->npolicies; i++) {
		char err[256] = "", **argv;
		int argc, ret;

		argc = config_words(a->policy_src[i], "policy", &argv);
		if (argc < 0) {
			pr_warn("out of memory");
			return argc;
		}
		ret = policy_parse(argc, argv, &a->policies[i], NULL, err, sizeof(err));
		free(argv);
		if (ret) {
			fprintf(stderr, "tko agent: %spolicy: %s\n", a->policy_where[i], err);
			return ret;
		}
		if ((a->policies[i].cfg.flags & TKO_F_WAKE) && !waker_on(&a->waker)) {
			fprintf(stderr, "tko agent: %spolicy: --wake needs wake-iface or "
				"on-wake-exec\n", a->policy_where[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* Their text is needed until they are parsed. */
void config_policies_free(struct agent *a)
{
	for (int i = 0; i < a->npolicies; i++) {
		free(a->policy_src[i]);
		free(a->policy_where[i]);
		a->policy_src[i] = a->policy_where[i] = NULL;
	}
}

static const char *policy_kind(const struct tko_policy *p)
{
	return p->cfg.flags & TKO_F_FORWARDED ? "forwarded" : "local";
}

/*
 * The config's policies into the table. An adopted datapath may hold them
 * already (kept, not added twice), and may hold policies an earlier config
 * made that this one no longer lists, its lines edited or deleted
 * meanwhile: those are removed first, or the stale version of an edited
 * policy would keep matching ahead of it (the first match wins). Which
 * policies a config made is what the record next to the pins says
 * (policy_record_open); those of `tko policy add` are left alone, and so is
 * everything when the agent runs without --config.
 */
int config_policies_add(struct agent *a)
{
	struct tko_policy pol[TKO_MAX_POLICIES], made[TKO_MAX_POLICIES], mine[TKO_MAX_POLICIES];
	int pfd = a->fds.fd[P_POLICIES], xfd = a->fds.fd[P_POLICY_PREFIXES], rfd, err, ret = 0;
	bool created;
	__u64 stale;

	if (!a->config)
		return 0;
	rfd = policy_record_open(a->pin_dir, pfd, a->npolicies > 0, &created);
	if (rfd == -ENOENT)	/* no record, and nothing to record */
		return 0;
	if (rfd < 0) {
		pr_warn("cannot open %s/%s: %s", a->pin_dir, PIN_CONFIG_POLICIES, strerror(-rfd));
		return rfd;
	}
	for (__u32 i = 0; i < TKO_MAX_POLICIES; i++) {
		if (bpf_map_lookup_elem(pfd, &i, &pol[i]) || bpf_map_lookup_elem(rfd, &i, &made[i])) {
			err = -errno;
			pr_warn("cannot read the policies: %s", strerror(-err));
			close(rfd);
			return err;
		}
	}
	stale = policy_config_stale(pol, made, a->policies, a->npolicies, mine);
	for (int i = 0; i < TKO_MAX_POLICIES && !ret; i++) {
		if (!(stale & 1ull << i))
			continue;
		err = policy_remove(pfd, xfd, i + 1);
		if (err == -ENOENT)	/* deleted meanwhile */
			continue;
		if (err) {
			pr_warn("cannot remove policy %d: %s", i + 1, strerror(-err));
			mine[i] = made[i];	/* still there, still the config's */
			ret = err;
			break;
		}
		pr_info("policy %d (%s, config): removed (no longer in the config)", i + 1,
			policy_kind(&pol[i]));
	}
	for (int i = 0; i < a->npolicies && !ret; i++) {
		struct tko_policy *p = &a->policies[i];
		bool existed;

		ret = policy_add_fds(pfd, a->fds.fd[P_POLICY_STATS], xfd, p, &existed);
		if (ret)
			break;
		/* One there already is the config's if the record says so (mine
		 * has it), or if there was no record: a tko that kept none made
		 * this datapath, most likely from this config. */
		if (!existed || created)
			mine[p->id - 1] = *p;
		pr_info("policy %u (%s, config): %s", p->id, policy_kind(p),
			existed ? "there already" : "added");
	}
	/* After a failure too: what was added is the config's. */
	for (__u32 i = 0; i < TKO_MAX_POLICIES; i++) {
		if (bpf_map_update_elem(rfd, &i, &mine[i], BPF_ANY) && !ret) {
			ret = -errno;
			pr_warn("cannot update %s/%s: %s", a->pin_dir, PIN_CONFIG_POLICIES,
				strerror(-ret));
		}
	}
	close(rfd);
	return ret;
}

