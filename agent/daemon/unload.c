// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Removing a datapath: what `tko unload` and `tko agent --cleanup` do for
 * one a dead agent (or --persist) left pinned, and what the agent's own exit
 * shares with them (its sessions ended, their handoff state reported).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "carrier.h"
#include "cgroup.h"
#include "lock.h"
#include "log.h"
#include "tko_dp.h"

/* Collect the keys of the live sessions (tko_dp_session_foreach). */
struct keys {
	struct tko_key *k;
	size_t n, cap;
};

static int collect_key(__u32 id, const struct tko_session *s, void *ctx)
{
	struct keys *ks = ctx;

	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? 2 * ks->cap : 1024;
		struct tko_key *m = realloc(ks->k, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		ks->k = m;
		ks->cap = cap;
	}
	ks->k[ks->n++] = s->key;
	return 0;
}

void stop_all_sessions(const char *pin_dir)
{
	struct keys ks = {};
	struct tko *t;
	int err;

	err = tko_open(pin_dir, &t);
	if (err) {
		pr_warn("cannot open the session table to end the sessions: %s", strerror(-err));
		return;
	}
	err = tko_dp_session_foreach(t, collect_key, &ks);
	if (err)
		pr_warn("cannot read the session table: %s", strerror(-err));
	for (size_t i = 0; i < ks.n; i++)
		tko_dp_session_stop(t, &ks.k[i]);	/* -ENOENT: it ended meanwhile */
	free(ks.k);
	tko_close(t);
}

int recorded_ifaces(const struct tko_fds *f, int ifindex[TKO_MAX_IFACES])
{
	struct tko_carrier_state st = {};
	__u32 zero = 0;
	int n = 0;

	if (bpf_map_lookup_elem(f->fd[P_CARRIER], &zero, &st))
		return 0;
	for (int i = 0; i < TKO_MAX_IFACES && st.ifindex[i]; i++)
		ifindex[n++] = st.ifindex[i];
	return n;
}

/* Remove a whole datapath: sessions (reported), attachments, carrier, pins. */
static void unload(const struct tko_fds *f, const char *pin_dir)
{
	int ifindex[TKO_MAX_IFACES], n = recorded_ifaces(f, ifindex);
	struct tko_agent_info info = {};
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(f->fd[P_AGENT_INFO], &zero, &info) && info.cgroup[0])
		sockops_detach(info.cgroup, f->fd[P_PROG_SOCKOPS]);
	stop_all_sessions(pin_dir);
	for (int i = 0; i < n; i++)
		iface_detach_ours(ifindex[i], f);
	carrier_remove();
	tko_bpf_unpin(pin_dir);
}

int agent_unload(const char *pin_dir)
{
	struct tko_fds f;
	int err, lock = lock_take(pin_dir);

	if (lock < 0)
		return lock;
	err = tko_pins_open(pin_dir, &f);
	if (err == -ENOENT) {
		pr_info("nothing pinned in %s", pin_dir);
		/* A carrier without pins can only be a leftover. */
		carrier_remove();
		lock_release(pin_dir, lock);
		return 0;
	}
	if (err) {
		lock_release(pin_dir, lock);
		return err;
	}
	unload(&f, pin_dir);
	tko_fds_close(&f);
	lock_release(pin_dir, lock);
	pr_info("removed the datapath pinned in %s", pin_dir);
	return 0;
}
