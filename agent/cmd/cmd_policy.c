// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tko policy add | list | del: zero-touch offload. Every local socket of the
 * agent's cgroup (sockops), or with --forwarded every flow forwarded through
 * the agent's interfaces (TC egress), that matches a policy becomes a session
 * by itself and is offloaded after --idle seconds without traffic; no
 * `tko start`, no change to the application or the device.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "cgroup.h"
#include "cli.h"
#include "format.h"
#include "loader.h"
#include "log.h"
#include "parse.h"
#include "policies.h"
#include "policy_cmd.h"
#include "session_opts.h"

/* What follows the synopsis of policy add. */
static const char policy_text[] =
	"       tko policy list [--json]\n"
	"       tko policy del ID\n"
	"Offload every matching connection automatically: tracked from its establishment,\n"
	"offloaded after --idle seconds without traffic, suspended when traffic resumes,\n"
	"re-armed when it stops again (--oneshot: ended instead).\n"
	"A local policy applies to the local sockets of the agent's cgroup (tko agent --cgroup)\n"
	"and network namespace established after it is added, in --cgroup PATH (or below it).\n"
	"A --forwarded policy applies to flows forwarded through the agent's interfaces (a\n"
	"gateway's devices): a flow becomes a session from its own segments (the handshake, or\n"
	"the first segments seen of a flow that existed before) and ends with it (FIN, RST, a\n"
	"new SYN). LOCAL is the device's side as it appears on the interface, after the\n"
	"gateway's own NAT. PREFIX is ADDR/LEN or [ADDR6]/LEN (a bare address is a host). A\n"
	"connection matches when it has the given prefixes and ports; the first matching\n"
	"policy wins. list shows how many sessions each policy holds.\n"
	"The session options, as for tko start:\n";

/* The options of policy add besides the session options (session_opts.h). */
enum { O_CGROUP = 1, O_FORWARDED, O_LOCAL, O_LPORT, O_RPORT, O_REMOTE, O_PIN_DIR };

static const struct option policy_opts[] = {
	{ "cgroup", required_argument, NULL, O_CGROUP },
	{ "forwarded", no_argument, NULL, O_FORWARDED },
	{ "local", required_argument, NULL, O_LOCAL },
	{ "local-port", required_argument, NULL, O_LPORT },
	{ "remote-port", required_argument, NULL, O_RPORT },
	{ "remote", required_argument, NULL, O_REMOTE },
	{ "pin-dir", required_argument, NULL, O_PIN_DIR },
	{}
};

void policy_synopsis(FILE *f, int col, int indent)
{
	static const char *const items[] = {
		"add", "[--forwarded | --cgroup PATH]", "[--local PREFIX]", "[--remote PREFIX]",
		"[--local-port N]", "[--remote-port N]",
	};

	for (size_t i = 0; i < ARRAY_LEN(items); i++)
		usage_item(f, &col, indent, items[i]);
	session_opts_usage(f, SO_POLICY, &col, indent);
}

static void policy_help(void)
{
	policy_synopsis(stdout, printf("usage: tko policy"), 22);
	printf("\n%s", policy_text);
	session_opts_help(stdout, SO_POLICY);
	printf("Every command takes --pin-dir DIR.\n");
}

static int open_pin(const char *pin_dir, enum pin_id id)
{
	int fd = tko_pin_get(pin_dir, id);

	if (fd == -ENOENT)
		pr_warn("no agent running: nothing pinned in %s (start 'tko agent' first)", pin_dir);
	else if (fd < 0)
		pr_warn("cannot open %s/%s: %s", pin_dir, pin_names[id], strerror(-fd));
	return fd;
}

/* "ADDR/LEN" or "[ADDR6]/LEN" (a bare address is a host); opt names the option. */
static int parse_prefix(const char *s, const char *opt, __u8 *family, __u8 addr[16], __u8 *plen,
			char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *a = buf;
	__u32 len;
	int ret;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (*a == '[') {
		a++;
		if (!strchr(a, ']'))
			goto bad;
		*strchr(a, ']') = '\0';
	}
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, a, addr) == 1)
		*family = TKO_AF_INET;
	else if (inet_pton(AF_INET6, a, addr) == 1)
		*family = TKO_AF_INET6;
	else
		goto bad;
	len = *family == TKO_AF_INET ? 32 : 128;
	if (slash) {
		char name[32];

		snprintf(name, sizeof(name), "%s prefix length", opt);
		ret = parse_uint(slash + 1, name, 0, len, &len, err, errlen);
		if (ret)
			return ret;
	}
	*plen = len;
	return 0;
bad:
	snprintf(err, errlen, "%s: '%s' is not ADDR/LEN or [ADDR6]/LEN", opt, s);
	return -EINVAL;
}

int policy_parse(int argc, char **argv, struct tko_policy *p, const char **pin_dir,
		 char *err, size_t errlen)
{
	struct option opts[SESSION_OPTS_MAX + ARRAY_LEN(policy_opts)];
	bool forwarded = false;
	const char *cgroup = NULL;
	unsigned int given = 0;
	int c, ret = 0;
	__u32 v;

	memset(p, 0, sizeof(*p));
	tko_dp_config_default(&p->cfg);
	session_getopt(SO_POLICY, policy_opts, opts);
	optind = 1;
	opterr = 0;	/* the message is ours, in err */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_CGROUP:
			cgroup = optarg;
			break;
		case O_FORWARDED:
			forwarded = true;
			break;
		case O_LOCAL:
			ret = parse_prefix(optarg, "--local", &p->lfamily, p->laddr, &p->lprefix_len,
					   err, errlen);
			break;
		case O_LPORT:
			ret = parse_uint(optarg, "--local-port", 1, 65535, &v, err, errlen);
			p->lport = v;
			break;
		case O_RPORT:
			ret = parse_uint(optarg, "--remote-port", 1, 65535, &v, err, errlen);
			p->rport = v;
			break;
		case O_REMOTE:
			ret = parse_prefix(optarg, "--remote", &p->family, p->raddr, &p->prefix_len,
					   err, errlen);
			break;
		case O_PIN_DIR:
			if (pin_dir)
				*pin_dir = optarg;
			break;
		default:
			ret = session_opt_set(SO_POLICY, c, optarg, &p->cfg, &given, err, errlen);
			if (ret == -ENOENT)
				snprintf(err, errlen, "unknown or incomplete option '%s'",
					 argv[optind - 1]);
		}
		if (ret) {
			opterr = 1;
			return -EINVAL;
		}
	}
	opterr = 1;
	if (optind != argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (forwarded)
		p->cfg.flags |= TKO_F_FORWARDED;
	/* Required options, then those of forwarded policies alone: refused
	 * without --forwarded, never together with the next refusal. */
	if (session_opts_check(SO_POLICY, &p->cfg, given, err, errlen))
		return -EINVAL;
	if (forwarded && cgroup) {
		snprintf(err, errlen, "--forwarded and --cgroup exclude each other: forwarded "
			 "flows have no local socket, hence no cgroup");
		return -EINVAL;
	}
	if (p->lfamily && p->family && p->lfamily != p->family) {
		snprintf(err, errlen, "--local and --remote are of different address families");
		return -EINVAL;
	}
	if (cgroup) {
		ret = cgroup_id(cgroup, &p->cgroup_id, &p->cgroup_level);
		if (ret) {
			snprintf(err, errlen, "--cgroup %s: %s", cgroup,
				 ret == -ENOTDIR ? "not a cgroup v2 directory" :
				 ret == -EXDEV ? "not under the cgroup2 mount" : strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * Can the agent wake a device (tko agent --wake-iface or --on-wake-exec)?
 * A policy asking for wakes nobody sends would fail every one; said once.
 */
static bool wakes_possible(const char *pin_dir)
{
	struct tko_carrier_state st;
	__u32 zero = 0;
	int fd = open_pin(pin_dir, P_CARRIER);
	bool ok;

	if (fd < 0)
		return false;
	ok = !bpf_map_lookup_elem(fd, &zero, &st) && (st.wake_ifindex[0] || st.wake_hook);
	close(fd);
	if (!ok)
		pr_warn("--wake: the agent has no way to wake a device (start it with --wake-iface "
			"or --on-wake-exec)");
	return ok;
}

int policy_add_fds(int policies_fd, int stats_fd, int prefixes_fd, struct tko_policy *p,
		   bool *existed)
{
	int err = policy_install(policies_fd, stats_fd, prefixes_fd, p);

	*existed = err == -EEXIST;
	if (err == -ENOSPC)
		pr_warn("policy table full (%d policies): delete one first", TKO_MAX_POLICIES);
	else if (err && err != -EEXIST)
		pr_warn("cannot add the policy: %s", strerror(-err));
	return err == -EEXIST ? 0 : err;
}

static int cmd_policy_add(int argc, char **argv, const char *pin_dir_default)
{
	const char *pin_dir = pin_dir_default;
	struct tko_policy p;
	char err[256] = "";
	int ret, fd, sfd, pfd;
	bool existed;

	ret = policy_parse(argc, argv, &p, &pin_dir, err, sizeof(err));
	if (ret == -EINVAL)
		return usage_error("policy add", "%s", err);
	if (ret) {
		pr_warn("%s", err);
		return 1;
	}
	if (!require_root())
		return 1;
	if ((p.cfg.flags & TKO_F_WAKE) && !wakes_possible(pin_dir))
		return 1;
	fd = open_pin(pin_dir, P_POLICIES);
	if (fd < 0)
		return 1;
	sfd = open_pin(pin_dir, P_POLICY_STATS);
	pfd = sfd < 0 ? -1 : open_pin(pin_dir, P_POLICY_PREFIXES);
	ret = pfd < 0 ? -ENOENT : policy_add_fds(fd, sfd, pfd, &p, &existed);
	if (pfd >= 0)
		close(pfd);
	if (sfd >= 0)
		close(sfd);
	close(fd);
	if (ret)
		return 1;
	printf(existed ? "policy %u exists already\n" : "policy %u added\n", p.id);
	return 0;
}

static void format_prefix(__u8 family, const __u8 *addr, __u8 len, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (!family) {
		snprintf(buf, size, "any");
		return;
	}
	inet_ntop(family == TKO_AF_INET ? AF_INET : AF_INET6, addr, a, sizeof(a));
	snprintf(buf, size, family == TKO_AF_INET ? "%s/%u" : "[%s]/%u", a, len);
}

static void format_policy(const struct tko_policy *p, const struct tko_policy_stats *st,
			  bool json, char *buf, size_t len)
{
	char remote[INET6_ADDRSTRLEN + 8], local[INET6_ADDRSTRLEN + 8];
	bool fwd = p->cfg.flags & TKO_F_FORWARDED;

	format_prefix(p->family, p->raddr, p->prefix_len, remote, sizeof(remote));
	format_prefix(p->lfamily, p->laddr, p->lprefix_len, local, sizeof(local));
	if (json)
		snprintf(buf, len, "{\"id\":%u,\"type\":\"%s\",\"cgroup_id\":%llu,\"local\":\"%s\","
			 "\"local_port\":%u,\"remote\":\"%s\",\"remote_port\":%u,\"idle_s\":%u,"
			 "\"interval_s\":%u,\"retry_interval_s\":%u,\"retries\":%u,\"probe\":\"%s\","
			 "\"on_dead\":\"%s\",\"oneshot\":%s,\"wake\":\"%s\",\"sessions\":%llu,"
			 "\"created\":%llu}",
			 p->id, fwd ? "forwarded" : "local", (unsigned long long)p->cgroup_id, local,
			 p->lport, remote, p->rport, p->cfg.idle_s, p->cfg.interval_s,
			 p->cfg.retry_interval_s, p->cfg.retries, p->cfg.probe ? "byte" : "zero",
			 p->cfg.flags & TKO_F_ON_DEAD_RESET ? "reset" : "none",
			 p->cfg.flags & TKO_F_ONESHOT ? "true" : "false",
			 p->cfg.flags & TKO_F_WAKE ? "auto" : "none",
			 (unsigned long long)st->sessions, (unsigned long long)st->created);
	else
		snprintf(buf, len, "%-4u %-9s %-12llu %-24s %-6u %-24s %-6u %-5u %-6u %-6u %-7u %-4s "
			 "%llu", p->id, fwd ? "forwarded" : "local", (unsigned long long)p->cgroup_id,
			 local, p->lport, remote, p->rport, p->cfg.idle_s, p->cfg.interval_s,
			 p->cfg.retry_interval_s, p->cfg.retries,
			 p->cfg.flags & TKO_F_WAKE ? "auto" : "none", (unsigned long long)st->sessions);
}

static int cmd_policy_list(int argc, char **argv, const char *pin_dir)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{}
	};
	struct tko_policy_stats st;
	struct tko_policy p;
	bool json = false;
	char line[640];
	int c, fd, sfd, n = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'p')
			pin_dir = optarg;
		else
			return usage_error("policy list", "%s", "bad option");
	}
	if (optind != argc)
		return usage_error("policy list", "unexpected argument '%s'", argv[optind]);
	if (!require_root())
		return 1;
	fd = open_pin(pin_dir, P_POLICIES);
	if (fd < 0)
		return 1;
	sfd = open_pin(pin_dir, P_POLICY_STATS);
	if (sfd < 0) {
		close(fd);
		return 1;
	}
	printf(json ? "[\n" : "ID   TYPE      CGROUP_ID    LOCAL                    LPORT  "
	       "REMOTE                   RPORT  IDLE  INTVL  RETRY  RETRIES WAKE SESSIONS\n");
	for (__u32 i = 0; i < TKO_MAX_POLICIES; i++) {
		if (bpf_map_lookup_elem(fd, &i, &p) || !p.id)
			continue;
		if (bpf_map_lookup_elem(sfd, &i, &st))
			memset(&st, 0, sizeof(st));
		format_policy(&p, &st, json, line, sizeof(line));
		printf("%s%s\n", json && n++ ? "," : "", line);
	}
	if (json)
		printf("]\n");
	close(sfd);
	close(fd);
	return 0;
}

/*
 * A policy deleted by hand is not the config's any more, whatever `tko
 * policy add` puts in its slot next (the agent's record, policies.h).
 */
static void forget_config_policy(const char *pin_dir, int policies_fd, __u32 id)
{
	struct tko_policy empty = {};
	__u32 slot = id - 1;
	bool created;
	int fd = policy_record_open(pin_dir, policies_fd, false, &created);

	if (fd < 0)
		return;		/* no config ever made a policy here */
	if (bpf_map_update_elem(fd, &slot, &empty, BPF_ANY))
		pr_warn("cannot update %s/%s: %s", pin_dir, PIN_CONFIG_POLICIES, strerror(errno));
	close(fd);
}

static int cmd_policy_del(int argc, char **argv, const char *pin_dir)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{}
	};
	char err[256];
	int c, fd, pfd, ret;
	__u32 id;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p')
			pin_dir = optarg;
		else
			return usage_error("policy del", "%s", "bad option");
	}
	if (argc - optind != 1)
		return usage_error("policy del", "%s", "expected the policy ID");
	if (parse_uint(argv[optind], "ID", 1, TKO_MAX_POLICIES, &id, err, sizeof(err)))
		return usage_error("policy del", "%s", err);
	if (!require_root())
		return 1;
	fd = open_pin(pin_dir, P_POLICIES);
	if (fd < 0)
		return 1;
	pfd = open_pin(pin_dir, P_POLICY_PREFIXES);
	if (pfd < 0) {
		close(fd);
		return 1;
	}
	/* Sessions it created run on; new sockets and flows no longer match. */
	ret = policy_remove(fd, pfd, id);
	if (!ret)
		forget_config_policy(pin_dir, fd, id);
	else if (ret == -ENOENT)
		pr_warn("no policy %u", id);
	else
		pr_warn("cannot delete policy %u: %s", id, strerror(-ret));
	close(pfd);
	close(fd);
	if (ret)
		return 1;
	printf("policy %u deleted\n", id);
	return 0;
}

int cmd_policy(int argc, char **argv)
{
	const char *pin_dir = tko_default_pin_dir();

	/* --pin-dir may come before the subcommand, as for every command. */
	while (argc >= 3 && !strcmp(argv[1], "--pin-dir")) {
		pin_dir = argv[2];
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2)
		return usage_error("policy", "%s", "expected add, list or del");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		policy_help();
		return 0;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			policy_help();
			return 0;
		}
	if (!strcmp(argv[1], "add"))
		return cmd_policy_add(argc - 1, argv + 1, pin_dir);
	if (!strcmp(argv[1], "list"))
		return cmd_policy_list(argc - 1, argv + 1, pin_dir);
	if (!strcmp(argv[1], "del"))
		return cmd_policy_del(argc - 1, argv + 1, pin_dir);
	return usage_error("policy", "unknown subcommand '%s'", argv[1]);
}
