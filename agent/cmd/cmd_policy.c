// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tko policy add | list | del: zero-touch offload. Every local socket of the
 * agent's cgroup that matches a policy is tracked from its establishment
 * (sockops) and offloaded after --idle seconds without traffic; no
 * `tko start`, no change to the application.
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

static const char policy_help[] =
	"usage: tko policy add [--cgroup PATH] [--local-port N] [--remote-port N]\n"
	"                      [--remote PREFIX] --idle S --interval S [--retry-interval S]\n"
	"                      [--retries N] [--probe zero|byte] [--on-dead none|reset]\n"
	"       tko policy list [--json]\n"
	"       tko policy del ID\n"
	"Offload every matching local socket automatically: tracked from its establishment,\n"
	"offloaded after --idle seconds without traffic, suspended when traffic resumes,\n"
	"re-armed when it stops again. A socket matches when it is in --cgroup PATH (or below\n"
	"it) and has the given ports and remote prefix (ADDR/LEN or [ADDR6]/LEN); the first\n"
	"matching policy wins. Policies see the sockets of the agent's cgroup (tko agent\n"
	"--cgroup) and network namespace that are established after they are added.\n"
	"Every command takes --pin-dir DIR.\n";

static int open_policies(const char *pin_dir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, PIN_POLICIES);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		if (errno == ENOENT)
			pr_warn("no agent running: nothing pinned in %s (start 'tko agent' first)",
				pin_dir);
		else
			pr_warn("cannot open %s: %s", path, strerror(errno));
	}
	return fd;
}

/* "ADDR/LEN" or "[ADDR6]/LEN" (a bare address is a host). */
static int parse_prefix(const char *s, struct tko_policy *p, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	__u32 len;
	int ret;

	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "--remote: '%s' is not ADDR/LEN or [ADDR6]/LEN", s);
		return -EINVAL;
	}
	strcpy(buf, s);
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	char *a = buf;

	if (*a == '[') {
		a++;
		a[strcspn(a, "]")] = '\0';
	}
	memset(p->raddr, 0, sizeof(p->raddr));
	if (inet_pton(AF_INET, a, p->raddr) == 1) {
		p->family = TKO_AF_INET;
	} else if (inet_pton(AF_INET6, a, p->raddr) == 1) {
		p->family = TKO_AF_INET6;
	} else {
		snprintf(err, errlen, "--remote: '%s' is not ADDR/LEN or [ADDR6]/LEN", s);
		return -EINVAL;
	}
	len = p->family == TKO_AF_INET ? 32 : 128;
	if (slash) {
		ret = parse_uint(slash + 1, "--remote prefix length", 0, len, &len, err, errlen);
		if (ret)
			return ret;
	}
	p->prefix_len = len;
	return 0;
}

static int policy_add(int argc, char **argv, const char *pin_dir_default)
{
	enum { O_CGROUP = 1, O_LPORT, O_RPORT, O_REMOTE, O_IDLE, O_INTERVAL, O_RETRY, O_RETRIES,
	       O_PROBE, O_ON_DEAD, O_PIN_DIR };
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, O_CGROUP },
		{ "local-port", required_argument, NULL, O_LPORT },
		{ "remote-port", required_argument, NULL, O_RPORT },
		{ "remote", required_argument, NULL, O_REMOTE },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "retry-interval", required_argument, NULL, O_RETRY },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "probe", required_argument, NULL, O_PROBE },
		{ "on-dead", required_argument, NULL, O_ON_DEAD },
		{ "pin-dir", required_argument, NULL, O_PIN_DIR },
		{}
	};
	const char *pin_dir = pin_dir_default, *cgroup = NULL;
	struct tko_policy p = {}, cur;
	char err[256] = "";
	bool idle = false, interval = false;
	__u32 v, slot;
	int c, ret = 0, fd;

	tko_config_default(&p.cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_CGROUP:
			cgroup = optarg;
			break;
		case O_LPORT:
			ret = parse_uint(optarg, "--local-port", 1, 65535, &v, err, sizeof(err));
			p.lport = v;
			break;
		case O_RPORT:
			ret = parse_uint(optarg, "--remote-port", 1, 65535, &v, err, sizeof(err));
			p.rport = v;
			break;
		case O_REMOTE:
			ret = parse_prefix(optarg, &p, err, sizeof(err));
			break;
		case O_IDLE:
			ret = parse_uint(optarg, "--idle", TKO_TIME_MIN, TKO_TIME_MAX, &p.cfg.idle_s,
					 err, sizeof(err));
			idle = true;
			break;
		case O_INTERVAL:
			ret = parse_uint(optarg, "--interval", TKO_TIME_MIN, TKO_TIME_MAX,
					 &p.cfg.interval_s, err, sizeof(err));
			interval = true;
			break;
		case O_RETRY:
			ret = parse_uint(optarg, "--retry-interval", TKO_TIME_MIN, TKO_TIME_MAX,
					 &p.cfg.retry_interval_s, err, sizeof(err));
			break;
		case O_RETRIES:
			ret = parse_uint(optarg, "--retries", 1, TKO_RETRIES_MAX, &p.cfg.retries,
					 err, sizeof(err));
			break;
		case O_PROBE:
			ret = parse_probe(optarg, &p.cfg.probe, err, sizeof(err));
			break;
		case O_ON_DEAD:
			ret = parse_on_dead(optarg, &p.cfg.flags, err, sizeof(err));
			break;
		case O_PIN_DIR:
			pin_dir = optarg;
			break;
		default:
			return usage_error("policy add", "%s", "bad option");
		}
		if (ret)
			return usage_error("policy add", "%s", err);
	}
	if (optind != argc)
		return usage_error("policy add", "unexpected argument '%s'", argv[optind]);
	if (!idle || !interval)
		return usage_error("policy add", "%s", "--idle and --interval are required");
	if (cgroup) {
		ret = cgroup_id(cgroup, &p.cgroup_id, &p.cgroup_level);
		if (ret) {
			pr_warn("--cgroup %s: %s", cgroup, ret == -ENOTDIR ? "not a cgroup v2 directory" :
				ret == -EXDEV ? "not under the cgroup2 mount" : strerror(-ret));
			return 1;
		}
	}
	if (!require_root())
		return 1;
	fd = open_policies(pin_dir);
	if (fd < 0)
		return 1;
	for (slot = 0; slot < TKO_MAX_POLICIES; slot++)
		if (!bpf_map_lookup_elem(fd, &slot, &cur) && !cur.id)
			break;
	if (slot == TKO_MAX_POLICIES) {
		pr_warn("policy table full (%d policies): delete one first", TKO_MAX_POLICIES);
		close(fd);
		return 1;
	}
	/* The id last: sockops skips a slot whose id is 0, so a policy is
	 * never seen half written. */
	p.id = 0;
	ret = bpf_map_update_elem(fd, &slot, &p, BPF_ANY);
	p.id = slot + 1;
	if (!ret)
		ret = bpf_map_update_elem(fd, &slot, &p, BPF_ANY);
	close(fd);
	if (ret) {
		pr_warn("cannot add the policy: %s", strerror(errno));
		return 1;
	}
	printf("policy %u added\n", p.id);
	return 0;
}

static void format_policy(const struct tko_policy *p, bool json, char *buf, size_t len)
{
	char remote[INET6_ADDRSTRLEN + 8] = "any", a[INET6_ADDRSTRLEN];

	if (p->family) {
		inet_ntop(p->family == TKO_AF_INET ? AF_INET : AF_INET6, p->raddr, a, sizeof(a));
		snprintf(remote, sizeof(remote), p->family == TKO_AF_INET ? "%s/%u" : "[%s]/%u", a,
			 p->prefix_len);
	}
	if (json)
		snprintf(buf, len, "{\"id\":%u,\"cgroup_id\":%llu,\"local_port\":%u,\"remote_port\":%u,"
			 "\"remote\":\"%s\",\"idle_s\":%u,\"interval_s\":%u,\"retry_interval_s\":%u,"
			 "\"retries\":%u,\"probe\":\"%s\",\"on_dead\":\"%s\"}",
			 p->id, (unsigned long long)p->cgroup_id, p->lport, p->rport, remote,
			 p->cfg.idle_s, p->cfg.interval_s, p->cfg.retry_interval_s, p->cfg.retries,
			 p->cfg.probe ? "byte" : "zero",
			 p->cfg.flags & TKO_F_ON_DEAD_RESET ? "reset" : "none");
	else
		snprintf(buf, len, "%-4u %-12llu %-6u %-6u %-24s %-5u %-6u %-6u %u",
			 p->id, (unsigned long long)p->cgroup_id, p->lport, p->rport, remote,
			 p->cfg.idle_s, p->cfg.interval_s, p->cfg.retry_interval_s, p->cfg.retries);
}

static int policy_list(int argc, char **argv, const char *pin_dir)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{}
	};
	struct tko_policy p;
	bool json = false;
	char line[512];
	int c, fd, n = 0;

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
	fd = open_policies(pin_dir);
	if (fd < 0)
		return 1;
	printf(json ? "[\n" : "ID   CGROUP_ID    LPORT  RPORT  REMOTE                   IDLE  INTVL  RETRY  RETRIES\n");
	for (__u32 i = 0; i < TKO_MAX_POLICIES; i++) {
		if (bpf_map_lookup_elem(fd, &i, &p) || !p.id)
			continue;
		format_policy(&p, json, line, sizeof(line));
		printf("%s%s\n", json && n++ ? "," : "", line);
	}
	if (json)
		printf("]\n");
	close(fd);
	return 0;
}

static int policy_del(int argc, char **argv, const char *pin_dir)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{}
	};
	struct tko_policy p, empty = {};
	char err[256];
	__u32 id, slot;
	int c, fd;

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
	fd = open_policies(pin_dir);
	if (fd < 0)
		return 1;
	slot = id - 1;
	if (bpf_map_lookup_elem(fd, &slot, &p) || p.id != id) {
		pr_warn("no policy %u", id);
		close(fd);
		return 1;
	}
	/* Sessions it created run on; new sockets no longer match. */
	if (bpf_map_update_elem(fd, &slot, &empty, BPF_ANY)) {
		pr_warn("cannot delete policy %u: %s", id, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
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
		fputs(policy_help, stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(policy_help, stdout);
			return 0;
		}
	if (!strcmp(argv[1], "add"))
		return policy_add(argc - 1, argv + 1, pin_dir);
	if (!strcmp(argv[1], "list"))
		return policy_list(argc - 1, argv + 1, pin_dir);
	if (!strcmp(argv[1], "del"))
		return policy_del(argc - 1, argv + 1, pin_dir);
	return usage_error("policy", "unknown subcommand '%s'", argv[1]);
}
