// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "loader.h"
#include "policies.h"

static bool prefix_contains(__u8 family, const __u8 *addr, __u8 len,
			    const struct tko_prefix_key *k)
{
	__u8 klen = k->prefixlen - 8;

	if (family != k->family || len > klen)
		return false;
	for (int i = 0; i < 16 && 8 * i < len; i++) {
		__u8 bits = len - 8 * i >= 8 ? 8 : len - 8 * i;
		__u8 mask = (__u8)(0xff << (8 - bits));

		if ((addr[i] ^ k->addr[i]) & mask)
			return false;
	}
	return true;
}

static void prefix_key(struct tko_prefix_key *k, __u8 family, const __u8 *addr, __u8 len)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 8 + len;
	k->family = family;
	for (int i = 0; i < 16 && 8 * i < len; i++) {
		__u8 bits = len - 8 * i >= 8 ? 8 : len - 8 * i;

		k->addr[i] = addr[i] & (__u8)(0xff << (8 - bits));
	}
}

static bool is_forwarded(const struct tko_policy *p)
{
	return p->id && (p->cfg.flags & TKO_F_FORWARDED);
}

/* The families a forwarded policy can match: its --local's, else its --remote's, else both. */
static int policy_families(const struct tko_policy *p, __u8 fam[2])
{
	if (p->lfamily) {
		fam[0] = p->lfamily;
		return 1;
	}
	if (p->family) {
		fam[0] = p->family;
		return 1;
	}
	fam[0] = TKO_AF_INET;
	fam[1] = TKO_AF_INET6;
	return 2;
}

int policy_prefixes(const struct tko_policy *pol, int n, struct tko_prefix_entry *out)
{
	static const __u8 any[16];
	int m = 0;

	if (n > TKO_MAX_POLICIES)
		n = TKO_MAX_POLICIES;
	for (int i = 0; i < n; i++) {
		__u8 fam[2];
		int nf;

		if (!is_forwarded(&pol[i]))
			continue;
		nf = policy_families(&pol[i], fam);
		for (int f = 0; f < nf; f++) {
			struct tko_prefix_key k;
			bool dup = false;

			if (pol[i].lfamily)
				prefix_key(&k, fam[f], pol[i].laddr, pol[i].lprefix_len);
			else
				prefix_key(&k, fam[f], any, 0);
			for (int j = 0; j < m && !dup; j++)
				dup = !memcmp(&out[j].key, &k, sizeof(k));
			if (!dup && m < TKO_PREFIX_ENTRIES_MAX)
				out[m++].key = k;
		}
	}
	for (int j = 0; j < m; j++) {
		out[j].mask = 0;
		for (int i = 0; i < n; i++) {
			__u8 fam[2];
			int nf;

			if (!is_forwarded(&pol[i]))
				continue;
			if (!pol[i].lfamily) {
				nf = policy_families(&pol[i], fam);
				for (int f = 0; f < nf; f++)
					if (fam[f] == out[j].key.family)
						out[j].mask |= 1ull << i;
			} else if (prefix_contains(pol[i].lfamily, pol[i].laddr, pol[i].lprefix_len,
						   &out[j].key)) {
				out[j].mask |= 1ull << i;
			}
		}
	}
	return m;
}

int policy_prefixes_sync(int policies_fd, int prefixes_fd)
{
	struct tko_policy pol[TKO_MAX_POLICIES];
	struct tko_prefix_entry want[TKO_PREFIX_ENTRIES_MAX];
	struct tko_prefix_key k, next, stale[TKO_PREFIX_ENTRIES_MAX];
	int n, nstale = 0;
	void *prev = NULL;

	memset(pol, 0, sizeof(pol));
	for (__u32 i = 0; i < TKO_MAX_POLICIES; i++)
		if (bpf_map_lookup_elem(policies_fd, &i, &pol[i]))
			return -errno;
	n = policy_prefixes(pol, TKO_MAX_POLICIES, want);
	for (int j = 0; j < n; j++)
		if (bpf_map_update_elem(prefixes_fd, &want[j].key, &want[j].mask, BPF_ANY))
			return -errno;
	while (!bpf_map_get_next_key(prefixes_fd, prev, &next)) {
		bool keep = false;

		for (int j = 0; j < n && !keep; j++)
			keep = !memcmp(&want[j].key, &next, sizeof(next));
		if (!keep && nstale < TKO_PREFIX_ENTRIES_MAX)
			stale[nstale++] = next;
		k = next;
		prev = &k;
	}
	for (int j = 0; j < nstale; j++)
		if (bpf_map_delete_elem(prefixes_fd, &stale[j]) && errno != ENOENT)
			return -errno;
	return 0;
}

bool policy_same(const struct tko_policy *a, const struct tko_policy *b)
{
	return a->cgroup_level == b->cgroup_level && a->cgroup_id == b->cgroup_id &&
	       a->lport == b->lport && a->rport == b->rport && a->family == b->family &&
	       a->prefix_len == b->prefix_len && a->lfamily == b->lfamily &&
	       a->lprefix_len == b->lprefix_len && !memcmp(a->raddr, b->raddr, 16) &&
	       !memcmp(a->laddr, b->laddr, 16) && a->cfg.idle_s == b->cfg.idle_s &&
	       a->cfg.interval_s == b->cfg.interval_s &&
	       a->cfg.retry_interval_s == b->cfg.retry_interval_s &&
	       a->cfg.retries == b->cfg.retries && a->cfg.probe == b->cfg.probe &&
	       a->cfg.flags == b->cfg.flags;
}

int policy_install(int policies_fd, int stats_fd, int prefixes_fd, struct tko_policy *p)
{
	struct tko_policy_stats st, zero = {};
	struct tko_policy cur, empty = {};
	int slot = -1, any = -1, err;
	__u32 i;

	for (i = 0; i < TKO_MAX_POLICIES; i++) {
		if (bpf_map_lookup_elem(policies_fd, &i, &cur))
			return -errno;
		if (cur.id && policy_same(&cur, p)) {
			p->id = cur.id;
			p->gen = cur.gen;
			return -EEXIST;
		}
		if (cur.id || slot >= 0)
			continue;
		if (bpf_map_lookup_elem(stats_fd, &i, &st) || !st.sessions)
			slot = i;
		else if (any < 0)
			any = i;
	}
	if (slot < 0)
		slot = any;
	if (slot < 0)
		return -ENOSPC;
	i = slot;
	/* A new generation of the slot: the sessions an earlier policy of it
	 * left are not this one's, their end takes nothing from its counts
	 * (bpf/lib/session.h, session_gone()), which start at zero. */
	if (bpf_map_lookup_elem(policies_fd, &i, &cur))
		return -errno;
	p->gen = cur.gen + 1;
	if (bpf_map_update_elem(stats_fd, &i, &zero, BPF_ANY))
		return -errno;
	p->id = 0;
	if (bpf_map_update_elem(policies_fd, &i, p, BPF_ANY))
		return -errno;
	p->id = i + 1;
	if (bpf_map_update_elem(policies_fd, &i, p, BPF_ANY))
		return -errno;
	if (!(p->cfg.flags & TKO_F_FORWARDED))
		return 0;
	err = policy_prefixes_sync(policies_fd, prefixes_fd);
	if (err) {	/* a forwarded policy TC cannot find would match nothing */
		empty.gen = p->gen;
		bpf_map_update_elem(policies_fd, &i, &empty, BPF_ANY);
	}
	return err;
}

int policy_remove(int policies_fd, int prefixes_fd, __u32 id)
{
	struct tko_policy p, empty = {};
	__u32 slot = id - 1;

	if (!id || id > TKO_MAX_POLICIES || bpf_map_lookup_elem(policies_fd, &slot, &p) ||
	    p.id != id)
		return -ENOENT;
	empty.gen = p.gen;	/* the slot's generation goes on */
	if (bpf_map_update_elem(policies_fd, &slot, &empty, BPF_ANY))
		return -errno;
	if (!(p.cfg.flags & TKO_F_FORWARDED))
		return 0;
	return policy_prefixes_sync(policies_fd, prefixes_fd);
}

int policy_record_open(const char *pin_dir, int policies_fd, bool create, bool *created)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, btf_fd = -1, err;

	*created = false;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, PIN_CONFIG_POLICIES);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT || !create)
		return -errno;
	if (!bpf_obj_get_info_by_fd(policies_fd, &info, &len) && info.btf_id)
		btf_fd = bpf_btf_get_fd_by_id(info.btf_id);
	if (btf_fd >= 0) {
		opts.btf_fd = btf_fd;
		opts.btf_key_type_id = info.btf_key_type_id;
		opts.btf_value_type_id = info.btf_value_type_id;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, PIN_CONFIG_POLICIES, sizeof(__u32),
			    sizeof(struct tko_policy), TKO_MAX_POLICIES, &opts);
	err = fd < 0 ? -errno : 0;
	if (btf_fd >= 0)
		close(btf_fd);
	if (!err && bpf_obj_pin(fd, path))
		err = -errno;
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	chmod(path, 0600);	/* as every pin: only root changes policies */
	*created = true;
	return fd;
}

/* Does the record's entry made still count: the slot holds exactly that policy? */
static bool config_made(const struct tko_policy *cur, const struct tko_policy *made)
{
	return made->id && cur->id == made->id && cur->gen == made->gen && policy_same(cur, made);
}

__u64 policy_config_stale(const struct tko_policy *pol, const struct tko_policy *made,
			  const struct tko_policy *cfg, int n, struct tko_policy *mine)
{
	__u64 stale = 0;

	for (int i = 0; i < TKO_MAX_POLICIES; i++) {
		bool listed = false;

		memset(&mine[i], 0, sizeof(mine[i]));
		if (!config_made(&pol[i], &made[i]))
			continue;
		for (int j = 0; j < n && !listed; j++)
			listed = policy_same(&made[i], &cfg[j]);
		if (listed)
			mine[i] = made[i];
		else
			stale |= 1ull << i;
	}
	return stale;
}
