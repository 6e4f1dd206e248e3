// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's options: the command line of `tko agent`, and its config file
 * (--config FILE: 'key = value' lines whose keys are the long options, the
 * session defaults of `tko start`, and `policy = OPTIONS` lines). The
 * command line wins.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "parse.h"
#include "session_opts.h"

static const char agent_help_head[] =
	"usage: tko agent --iface IF[,IF...] [--cgroup PATH] [--pin-dir DIR] [--max-sessions N]\n"
	"                 [--tick-ms MS] [--answers auto|xdp|tc] [--metrics ADDR:PORT]\n"
	"                 [--wake-iface IF[,IF...]] [--on-wake-exec PATH] [--on-wake-timeout S]\n"
	"                 [--config FILE] [--persist] [--json] [-v]\n"
	"       tko agent --cleanup [--pin-dir DIR]\n"
	"Load tko's datapath on the interfaces facing the peers (XDP ingress, TC egress\n"
	"and ingress), run the carrier that sends tko's own probes, pin everything in DIR,\n"
	"and print one line per session event. A datapath left pinned by an agent that\n"
	"died is adopted, sessions included. SIGINT/SIGTERM removes everything, unless\n"
	"--persist.\n"
	"  --iface IF[,IF...]  interfaces towards the peers (required)\n"
	"  --cgroup PATH       cgroup v2 whose local sockets policies apply to, and whose\n"
	"                      closes are reported (default: the root of the cgroup2 mount)\n"
	"  --pin-dir DIR       bpffs directory for the pins (default $TKO_PIN_DIR or /sys/fs/bpf/tko)\n"
	"  --max-sessions N    size of the session table (default 65536, at most 16777215;\n"
	"                      fixed once loaded)\n"
	"  --tick-ms MS        the clock's tick: probes leave within a tick of their time\n"
	"                      (default 5; the carrier passes once a tick while probes\n"
	"                      are due, about once a second when none are)\n"
	"  --answers auto|xdp|tc  how the peers' probes are answered: XDP_TX, or from TC\n"
	"                      ingress where XDP_TX is not delivered (veth, unless its\n"
	"                      peer runs XDP). auto (default): TC on veth, XDP elsewhere;\n"
	"                      an interface whose driver reports dropped XDP_TX answers\n"
	"                      falls back to TC by itself\n"
	"  --metrics ADDR:PORT serve the figures of 'tko stats --prometheus' at\n"
	"                      http://ADDR:PORT/metrics ([ADDR6]:PORT for IPv6)\n"
	"  --wake-iface IF[,IF...]  the links sleeping devices are on (a gateway's LAN side):\n"
	"                      sessions with --wake learn their device's MAC there, and\n"
	"                      when its peer speaks, magic packets wake it there\n"
	"                      (EtherType 0x0842 and UDP port 9, broadcast)\n"
	"  --on-wake-exec PATH run PATH (no shell) at each wake, the session in its\n"
	"                      environment (TKO_LOCAL, TKO_REMOTE, TKO_MAC, ...; tko(8))\n"
	"  --on-wake-timeout S kill the hook after S seconds (default 10)\n";

/* --config's text: its keys, the session options of SO_CONFIG last. */
static const char config_help[] =
	"read options from FILE ('key = value' lines: iface, pin-dir, cgroup, max-sessions, "
	"tick-ms, answers, metrics, wake-iface, on-wake-exec, on-wake-timeout, json, persist, "
	"and the session defaults %s); the command line wins. Also 'policy = OPTIONS' lines: "
	"each is added at start as by 'tko policy add OPTIONS', unless one is there already; "
	"one an earlier config added and this one no longer lists is removed";

static const char agent_help_tail[] =
	"  --persist           on exit, leave the datapath running (for restarts, upgrades)\n"
	"  --cleanup           remove a datapath left pinned in DIR, then exit\n"
	"  --json              events as JSON objects, one per line\n"
	"  -v, --verbose       libbpf's debug output\n";

void agent_help(void)
{
	char names[256], text[sizeof(config_help) + sizeof(names)];

	session_opts_names(SO_CONFIG, names, sizeof(names));
	snprintf(text, sizeof(text), config_help, names);
	fputs(agent_help_head, stdout);
	help_text(stdout, printf("  --config FILE       "), 22, text, NULL);
	fputs(agent_help_tail, stdout);
}

/* The session options of the config file are session_opts.h's. */
enum {
	O_IFACE = 1, O_PIN_DIR, O_MAX, O_JSON, O_TICK, O_CONFIG, O_PERSIST, O_CLEANUP,
	O_VERBOSE, O_HELP, O_CGROUP, O_METRICS, O_ANSWERS, O_POLICY, O_WAKE_IFACE,
	O_ON_WAKE_EXEC, O_ON_WAKE_TIMEOUT,
};

static const struct option agent_opts[] = {
	{ "iface", required_argument, NULL, O_IFACE },
	{ "cgroup", required_argument, NULL, O_CGROUP },
	{ "pin-dir", required_argument, NULL, O_PIN_DIR },
	{ "max-sessions", required_argument, NULL, O_MAX },
	{ "tick-ms", required_argument, NULL, O_TICK },
	{ "answers", required_argument, NULL, O_ANSWERS },
	{ "metrics", required_argument, NULL, O_METRICS },
	{ "wake-iface", required_argument, NULL, O_WAKE_IFACE },
	{ "on-wake-exec", required_argument, NULL, O_ON_WAKE_EXEC },
	{ "on-wake-timeout", required_argument, NULL, O_ON_WAKE_TIMEOUT },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "persist", no_argument, NULL, O_PERSIST },
	{ "cleanup", no_argument, NULL, O_CLEANUP },
	{ "json", no_argument, NULL, O_JSON },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "help", no_argument, NULL, O_HELP },
	/* Config file only: policies added at start. */
	{ "policy", required_argument, NULL, O_POLICY },
	{}
};

/* --iface's names into a->ifaces: each must exist, once. */
static int parse_ifaces(struct agent *a, const char *list)
{
	char buf[512], *tok, *save = NULL;

	if (strlen(list) >= sizeof(buf)) {
		pr_warn("--iface: list too long");
		return -EINVAL;
	}
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct iface *ifc = &a->ifaces[a->nifaces];

		if (a->nifaces == TKO_MAX_IFACES) {
			pr_warn("--iface: at most %d interfaces", TKO_MAX_IFACES);
			return -E2BIG;
		}
		if (strlen(tok) >= sizeof(ifc->name)) {
			pr_warn("unknown interface '%s'", tok);
			return -ENODEV;
		}
		for (int i = 0; i < a->nifaces; i++)
			if (!strcmp(a->ifaces[i].name, tok)) {
				pr_warn("--iface: '%s' given twice", tok);
				return -EINVAL;
			}
		strcpy(ifc->name, tok);
		ifc->ifindex = if_nametoindex(tok);
		if (!ifc->ifindex) {
			pr_warn("unknown interface '%s'", tok);
			return -ENODEV;
		}
		a->nifaces++;
	}
	if (!a->nifaces) {
		pr_warn("--iface: no interface given");
		return -EINVAL;
	}
	return 0;
}

int agent_ifaces(struct agent *a)
{
	return parse_ifaces(a, a->iface_list) ?: waker_check(&a->waker);
}

static int read_config(struct agent *a, const char *path);

/* A value into its buffer: one that does not fit is refused, never cut. */
static int copy_value(char *buf, size_t size, const char *arg, const char *name, char *err,
		      size_t errlen)
{
	if (strlen(arg) >= size) {
		snprintf(err, errlen, "%s: longer than %zu characters", name, size - 1);
		return -E2BIG;
	}
	strcpy(buf, arg);
	return 0;
}

/*
 * One option, from the command line or the config file (from_file): the
 * command line wins, so the file does not override what it already set.
 * Returns 0, or -errno after saying what is wrong (-EINVAL: the option or
 * its value).
 */
static int apply_option(struct agent *a, int opt, const char *arg, bool from_file,
			const char *where)
{
	char err[256];
	int ret = 0;

	if (opt == O_POLICY) {
		int i = a->npolicies;

		/* Parsed once the agent's own options are (getopt is not reentrant). */
		if (i == TKO_MAX_POLICIES) {
			fprintf(stderr, "tko agent: %smore than %d policies\n", where,
				TKO_MAX_POLICIES);
			return -EINVAL;
		}
		a->npolicies++;
		a->policy_src[i] = strdup(arg);
		a->policy_where[i] = strdup(where);
		if (!a->policy_src[i] || !a->policy_where[i]) {
			pr_warn("out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	if (opt >= SESSION_OPT_VAL) {	/* the config file's only (agent_options) */
		if (!session_opt_set(SO_CONFIG, opt, arg, &a->defaults, NULL, err, sizeof(err)))
			return 0;
		fprintf(stderr, "tko agent: %s%s\n", where, err);
		return -EINVAL;
	}
	if (from_file && (a->set & (1u << opt)))
		return 0;
	if (!from_file)
		a->set |= 1u << opt;
	switch (opt) {
	case O_IFACE:
		ret = copy_value(a->iface_list, sizeof(a->iface_list), arg, "--iface", err,
				 sizeof(err));
		break;
	case O_CGROUP:
		ret = copy_value(a->cgroup, sizeof(a->cgroup), arg, "--cgroup", err, sizeof(err));
		break;
	case O_PIN_DIR:
		ret = copy_value(a->pin_dir_buf, sizeof(a->pin_dir_buf), arg, "--pin-dir", err,
				 sizeof(err));
		a->pin_dir = a->pin_dir_buf;
		break;
	case O_MAX:
		ret = parse_uint(arg, "--max-sessions", 1, TKO_MAX_SESSIONS_LIMIT, &a->max_sessions,
				 err, sizeof(err));
		break;
	case O_TICK:
		ret = parse_uint(arg, "--tick-ms", TICK_MS_MIN, TICK_MS_MAX, &a->tick_ms, err,
				 sizeof(err));
		break;
	case O_ANSWERS:
		ret = parse_answers(arg, &a->answers);
		if (ret)
			snprintf(err, sizeof(err), "--answers: '%s' is not auto, xdp or tc", arg);
		break;
	case O_METRICS:
		ret = metrics_parse_addr(arg, &a->metrics_addr, err, sizeof(err));
		a->metrics_on = !ret;
		break;
	case O_WAKE_IFACE:
		ret = waker_set_ifaces(&a->waker, arg, err, sizeof(err));
		break;
	case O_ON_WAKE_EXEC:
		ret = copy_value(a->waker.exec, sizeof(a->waker.exec), arg, "--on-wake-exec", err,
				 sizeof(err));
		break;
	case O_ON_WAKE_TIMEOUT:
		ret = parse_uint(arg, "--on-wake-timeout", 1, WAKE_TIMEOUT_S_MAX,
				 &a->waker.timeout_s, err, sizeof(err));
		break;
	case O_JSON:
	case O_PERSIST:
	case O_CLEANUP:
	case O_VERBOSE: {
		bool on = true;

		if (arg && parse_bool(arg, &on)) {
			snprintf(err, sizeof(err), "'%s' is not true or false", arg);
			ret = -EINVAL;
		} else if (opt == O_JSON) {
			a->json = on;
		} else if (opt == O_PERSIST) {
			a->persist = on;
		} else if (opt == O_CLEANUP) {
			a->cleanup = on;
		} else {
			log_verbose = on;
		}
		break;
	}
	case O_CONFIG:
		a->config = true;
		return read_config(a, arg);
	default:
		snprintf(err, sizeof(err), "bad option");
		ret = -EINVAL;
	}
	if (ret) {
		fprintf(stderr, "tko agent: %s%s\n", where, err);
		return -EINVAL;
	}
	return 0;
}

/* A 'key = value' of the config file: keys are the long options. */
static int config_option(void *ctx, const char *key, const char *val, const char *where)
{
	int c = session_opt_find(SO_CONFIG, key);

	for (const struct option *o = agent_opts; c < 0 && o->name; o++)
		if (!strcmp(o->name, key))
			c = o->val;
	if (c < 0 || c == O_CONFIG || c == O_HELP || c == O_CLEANUP) {
		fprintf(stderr, "tko agent: %sunknown key '%s'\n", where, key);
		return -EINVAL;
	}
	return apply_option(ctx, c, val, true, where);
}

static int read_config(struct agent *a, const char *path)
{
	char err[PATH_MAX + 128] = "";
	int ret = config_read(path, config_option, a, err, sizeof(err));

	if (ret == -EINVAL && *err)
		fprintf(stderr, "tko agent: %s\n", err);
	else if (ret && *err)
		pr_warn("%s", err);
	return ret;
}

struct agent *agent_new(void)
{
	struct agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->lock_fd = -1;
	a->links_fd = -1;
	a->pin_dir = tko_default_pin_dir();
	waker_init(&a->waker);
	a->max_sessions = TKO_MAX_SESSIONS_DEFAULT;
	a->tick_ms = TKO_TICK_MS_DEFAULT;
	tko_dp_config_default(&a->defaults);
	return a;
}

void agent_free(struct agent *a)
{
	free(a);
}

static int parse_args(struct agent *a, int argc, char **argv, bool *help)
{
	struct option opts[ARRAY_LEN(agent_opts) + SESSION_OPTS_MAX];
	int c, ret;

	/* The session options are the config file's alone, refused below:
	 * getopt_long knows them so that an abbreviation of one is refused
	 * too, never taken for one of the agent's own. */
	session_getopt(SO_CONFIG, agent_opts, opts);
	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		if (c == 'h' || c == O_HELP) {
			*help = true;
			return 0;
		}
		if (c == 'v')
			c = O_VERBOSE;
		if (c == '?' || c >= SESSION_OPT_VAL || c == O_POLICY) {
			fprintf(stderr, "tko agent: bad option (try 'tko agent --help')\n");
			return -EINVAL;
		}
		ret = apply_option(a, c, optarg, false, "");
		if (ret)
			return ret;
	}
	if (optind != argc) {
		fprintf(stderr, "tko agent: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!a->cleanup && !a->iface_list[0]) {
		fprintf(stderr, "tko agent: --iface is required (try 'tko agent --help')\n");
		return -EINVAL;
	}
	if (a->pin_dir[0] != '/') {
		fprintf(stderr, "tko agent: --pin-dir must be an absolute path\n");
		return -EINVAL;
	}
	return config_policies_parse(a);
}

int agent_options(struct agent *a, int argc, char **argv, bool *help)
{
	int err;

	*help = false;
	err = parse_args(a, argc, argv, help);
	config_policies_free(a);
	return err;
}
