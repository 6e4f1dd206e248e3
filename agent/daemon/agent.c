// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tko agent: load the datapath (or adopt the one an earlier agent left
 * pinned), attach it to the interfaces, run the carrier, then sleep on the
 * ring buffer and print one line per event until SIGINT/SIGTERM.
 *
 * The datapath never depends on this process: everything is pinned and
 * attached through the kernel, so sessions keep running if the agent is
 * killed, and a new agent adopts them. On SIGINT/SIGTERM the agent removes
 * everything, unless --persist; `tko unload` (or `tko agent --cleanup`)
 * removes a datapath left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "carrier.h"
#include "conntrack.h"
#include "cgroup.h"
#include "cli.h"
#include "config.h"
#include "format.h"
#include "links.h"
#include "loader.h"
#include "log.h"
#include "metrics_http.h"
#include "parse.h"
#include "policies.h"
#include "policy_cmd.h"
#include "route.h"
#include "session_opts.h"
#include "wake.h"

#define MAX_IFACES TKO_MAX_IFACES
#define LOCK_DIR "/run/tko"

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

static void agent_help(void)
{
	char names[256], text[sizeof(config_help) + sizeof(names)];

	session_opts_names(SO_CONFIG, names, sizeof(names));
	snprintf(text, sizeof(text), config_help, names);
	fputs(agent_help_head, stdout);
	help_text(stdout, printf("  --config FILE       "), 22, text, NULL);
	fputs(agent_help_tail, stdout);
}

struct agent {
	struct iface ifaces[MAX_IFACES];
	int nifaces;
	char iface_list[512];
	char cgroup[PATH_MAX];		/* sockops attached here */
	const char *pin_dir;
	char pin_dir_buf[PATH_MAX];
	__u32 max_sessions;
	__u32 tick_ms;
	int answers;			/* enum answers_mode */
	bool json;
	bool persist;
	bool cleanup;
	bool config;			/* --config given: its policies are its own */
	struct tko_config defaults;	/* of `tko start` */
	unsigned int set;		/* options given on the command line */
	struct tko_bpf bpf;		/* a fresh load; empty when adopting */
	struct tko_fds fds;		/* everything, by pin (owned only when adopted) */
	bool adopted;
	bool pinned;
	struct carrier carrier;
	struct ring_buffer *rb;		/* events */
	/* Signals: a ring of their own, read first at each wakeup, so that a
	 * wake never waits behind the events printed before it. */
	struct ring_buffer *sig_rb;
	int links_fd;			/* rtnetlink link notifications */
	bool want_paths;		/* a signal said need_l2 has ids */
	bool carrier_lost;		/* the watchdog fired ... */
	__u64 lost_at;			/* ... when the carrier had made this many passes */
	int lock_fd;
	bool metrics_on;		/* --metrics given */
	struct metrics_addr metrics_addr;
	struct metrics_http *metrics;
	__u32 ct_established_ms;	/* what refreshed conntrack entries get (conntrack.h) */
	__u32 features;			/* TKO_FEAT_*: what the kernel offers */
	char kernel[64];		/* its release */
	/* `policy = OPTIONS` lines of the config file, added at start: their
	 * text and "FILE:LINE: " until parsed (then freed), whole */
	int npolicies;
	char *policy_src[TKO_MAX_POLICIES];
	char *policy_where[TKO_MAX_POLICIES];
	struct tko_policy policies[TKO_MAX_POLICIES];
	struct waker waker;		/* --wake-iface, --on-wake-exec */
};

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

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct agent *a = ctx;
	char line[1024];

	if (size < sizeof(struct tko_event))
		return 0;
	format_event(data, a->json, line, sizeof(line));
	printf("%s\n", line);
	return 0;
}

/* What was done for a wake, into the datapath: counted, reported as an event. */
static void wake_report(void *ctx, const struct tko_wake *w, __u32 result)
{
	struct agent *a = ctx;
	struct tko_wake_done d = { .key = w->key, .id = w->id, .reason = w->reason,
				   .result = result };
	int err = tko_ctl_call(a->fds.fd[P_CTL_WAKE_DONE], &d, sizeof(d));

	if (err)
		pr_warn("cannot report a wake to the datapath: %s", strerror(-err));
}

/*
 * What the datapath wants of the agent besides printing: paths and the
 * carrier noted, done after the batch; a wake at once (it is what the
 * endpoint waits for).
 */
static int handle_signal(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;
	const struct tko_signal *sig = data;

	if (size < sizeof(*sig))
		return 0;
	switch (sig->type) {
	case TKO_SIG_WAKE:
		if (size >= sizeof(struct tko_wake))
			waker_wake(&a->waker, data, wake_report, a);
		break;
	case TKO_SIG_PATH:
		a->want_paths = true;
		break;
	case TKO_SIG_CARRIER_LOST:
		a->carrier_lost = true;
		a->lost_at = sig->passes;
		break;
	}
	return 0;
}

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

		if (a->nifaces == MAX_IFACES) {
			pr_warn("--iface: at most %d interfaces", MAX_IFACES);
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
 * Returns 0, or an exit code after saying what is wrong.
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
			return EXIT_USAGE;
		}
		a->npolicies++;
		a->policy_src[i] = strdup(arg);
		a->policy_where[i] = strdup(where);
		if (!a->policy_src[i] || !a->policy_where[i]) {
			pr_warn("out of memory");
			return 1;
		}
		return 0;
	}
	if (opt >= SESSION_OPT_VAL) {	/* the config file's only (parse_args) */
		if (!session_opt_set(SO_CONFIG, opt, arg, &a->defaults, NULL, err, sizeof(err)))
			return 0;
		fprintf(stderr, "tko agent: %s%s\n", where, err);
		return EXIT_USAGE;
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
		return EXIT_USAGE;
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
		return EXIT_USAGE;
	}
	return apply_option(ctx, c, val, true, where);
}

static int read_config(struct agent *a, const char *path)
{
	char err[PATH_MAX + 128] = "";
	int ret = config_read(path, config_option, a, err, sizeof(err));

	if (ret == EXIT_USAGE && *err)
		fprintf(stderr, "tko agent: %s\n", err);
	else if (ret && *err)
		pr_warn("%s", err);
	return ret;
}

/* The config file's `policy = OPTIONS` lines, as `tko policy add OPTIONS`. */
static int parse_policies(struct agent *a)
{
	for (int i = 0; i < a->npolicies; i++) {
		char err[256] = "", **argv;
		int argc, ret;

		argc = config_words(a->policy_src[i], "policy", &argv);
		if (argc < 0) {
			pr_warn("out of memory");
			return 1;
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
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* Their text is needed until they are parsed. */
static void free_policy_src(struct agent *a)
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
static int add_policies(struct agent *a)
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
		return -1;
	}
	for (__u32 i = 0; i < TKO_MAX_POLICIES; i++) {
		if (bpf_map_lookup_elem(pfd, &i, &pol[i]) || bpf_map_lookup_elem(rfd, &i, &made[i])) {
			pr_warn("cannot read the policies: %s", strerror(errno));
			close(rfd);
			return -1;
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
			ret = -1;
			break;
		}
		pr_info("policy %d (%s, config): removed (no longer in the config)", i + 1,
			policy_kind(&pol[i]));
	}
	for (int i = 0; i < a->npolicies && !ret; i++) {
		struct tko_policy *p = &a->policies[i];
		bool existed;

		if (policy_add_fds(pfd, a->fds.fd[P_POLICY_STATS], xfd, p, &existed)) {
			ret = -1;
			break;
		}
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
			pr_warn("cannot update %s/%s: %s", a->pin_dir, PIN_CONFIG_POLICIES,
				strerror(errno));
			ret = -1;
		}
	}
	close(rfd);
	return ret;
}

static int parse_args(struct agent *a, int argc, char **argv)
{
	struct option opts[ARRAY_LEN(agent_opts) + SESSION_OPTS_MAX];
	int c, ret;

	a->pin_dir = tko_default_pin_dir();
	waker_init(&a->waker);
	a->max_sessions = TKO_MAX_SESSIONS_DEFAULT;
	a->tick_ms = TKO_TICK_MS_DEFAULT;
	tko_dp_config_default(&a->defaults);
	/* The session options are the config file's alone, refused below:
	 * getopt_long knows them so that an abbreviation of one is refused
	 * too, never taken for one of the agent's own. */
	session_getopt(SO_CONFIG, agent_opts, opts);
	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		if (c == 'h' || c == O_HELP) {
			agent_help();
			return -1;
		}
		if (c == 'v')
			c = O_VERBOSE;
		if (c == '?' || c >= SESSION_OPT_VAL || c == O_POLICY) {
			fprintf(stderr, "tko agent: bad option (try 'tko agent --help')\n");
			return EXIT_USAGE;
		}
		ret = apply_option(a, c, optarg, false, "");
		if (ret)
			return ret;
	}
	if (optind != argc) {
		fprintf(stderr, "tko agent: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!a->cleanup && !a->iface_list[0]) {
		fprintf(stderr, "tko agent: --iface is required (try 'tko agent --help')\n");
		return EXIT_USAGE;
	}
	if (a->pin_dir[0] != '/') {
		fprintf(stderr, "tko agent: --pin-dir must be an absolute path\n");
		return EXIT_USAGE;
	}
	ret = parse_policies(a);
	if (ret)
		return ret;
	if (!require_root())
		return 1;
	if (a->cleanup)
		return 0;
	return parse_ifaces(a, a->iface_list) || waker_check(&a->waker) ? 1 : 0;
}

/*
 * One agent per pin directory: an exclusive lock on a file named after it
 * (bpffs holds no regular files). The lock goes with the process, so a killed
 * agent never blocks the next one. Returns the fd, or -1 after saying why.
 */
static void lock_path(const char *pin_dir, char *path, size_t len)
{
	char name[PATH_MAX];

	snprintf(name, sizeof(name), "%s", pin_dir);
	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '_';
	snprintf(path, len, "%s/%.*s.lock", LOCK_DIR, (int)(len - sizeof(LOCK_DIR) - 7), name);
}

static int take_lock(const char *pin_dir)
{
	char path[PATH_MAX + 32], pid[32];
	struct stat a, b;
	int fd, n;

	lock_path(pin_dir, path, sizeof(path));
	mkdir(LOCK_DIR, 0700);
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			pr_warn("cannot open the lock %s: %s", path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			n = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			pr_warn("another tko agent (pid %s) is running with pins in %s",
				*pid ? pid : "?", pin_dir);
			close(fd);
			return -1;
		}
		/* Still the file at that path? An agent leaving unlinks it
		 * (release_lock): then the lock we hold guards nothing. */
		if (!fstat(fd, &a) && !stat(path, &b) && a.st_ino == b.st_ino)
			break;
		close(fd);
	}
	n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, n, 0) != n)
		pr_debug("cannot write the pid into %s", path);
	return fd;
}

/* Unlink while holding it, so that no lock file outlives its agent. */
static void release_lock(const char *pin_dir, int fd)
{
	char path[PATH_MAX + 32];

	if (fd < 0)
		return;
	lock_path(pin_dir, path, sizeof(path));
	unlink(path);
	close(fd);
}

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

/* End every session so its handoff state is reported. */
static void stop_all_sessions(const char *pin_dir)
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

/* The interfaces the datapath was attached to, as recorded in the carrier map. */
static int recorded_ifaces(const struct tko_fds *f, int ifindex[TKO_MAX_IFACES])
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

static void agent_exit(struct agent *a)
{
	metrics_stop(a->metrics);	/* its thread reads the maps */
	if (a->fds.fd[P_CTL_WAKE_DONE] > 0)
		waker_close(&a->waker, wake_report, a);
	if (!a->persist && a->fds.fd[P_SESSIONS] > 0) {
		for (int i = 0; i < a->nifaces; i++)
			iface_detach(&a->ifaces[i], &a->fds);
		if (a->cgroup[0])
			sockops_detach(a->cgroup, a->fds.fd[P_PROG_SOCKOPS]);
		stop_all_sessions(a->pin_dir);
		if (a->rb)
			ring_buffer__consume(a->rb);	/* print the handoff states */
		carrier_teardown(&a->carrier);
		if (a->pinned)
			tko_bpf_unpin(a->pin_dir);
	}
	ring_buffer__free(a->sig_rb);
	ring_buffer__free(a->rb);
	if (a->links_fd >= 0)
		close(a->links_fd);
	if (a->adopted)
		tko_fds_close(&a->fds);
	tko_bpf_destroy(&a->bpf);
	release_lock(a->pin_dir, a->lock_fd);
}

/*
 * sockops on the cgroup (the root of the cgroup2 mount by default), and what
 * policies need to know: the cgroup and this network namespace's cookie.
 */
static int attach_cgroup(struct agent *a)
{
	struct tko_agent_info info = {};
	socklen_t len = sizeof(info.netns_cookie);
	__u32 level, zero = 0;
	bool adopted;
	int fd, err;

	if (!a->cgroup[0] && cgroup2_root(a->cgroup, sizeof(a->cgroup))) {
		pr_warn("no cgroup2 mount in /proc/mounts: give --cgroup");
		return -1;
	}
	if (strlen(a->cgroup) >= sizeof(info.cgroup)) {
		pr_warn("--cgroup: path longer than %zu characters", sizeof(info.cgroup) - 1);
		return -1;
	}
	err = cgroup_id(a->cgroup, &info.cgroup_id, &level);
	if (err) {
		pr_warn("--cgroup %s: %s", a->cgroup, err == -ENOTDIR ? "not a cgroup v2 directory" :
			err == -EXDEV ? "not under the cgroup2 mount of /proc/mounts" : strerror(-err));
		return -1;
	}
	if (sockops_attach(a->cgroup, a->fds.fd[P_PROG_SOCKOPS], &adopted))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &info.netns_cookie, &len))
		pr_warn("cannot read this network namespace's cookie: policies will match nothing");
	if (fd >= 0)
		close(fd);
	memcpy(info.cgroup, a->cgroup, strlen(a->cgroup) + 1);
	info.ct_established_ms = a->ct_established_ms;
	info.features = a->features;
	memcpy(info.kernel, a->kernel, sizeof(info.kernel));
	bpf_map_update_elem(a->fds.fd[P_AGENT_INFO], &zero, &info, BPF_ANY);
	pr_info("sockops %s cgroup %s", adopted ? "adopted on" : "attached to", a->cgroup);
	return 0;
}

/* Is ifindex one of this agent's interfaces? */
static bool agent_iface(const struct agent *a, __u32 ifindex)
{
	for (int i = 0; i < a->nifaces; i++)
		if (a->ifaces[i].ifindex && (__u32)a->ifaces[i].ifindex == ifindex)
			return true;
	return false;
}

/*
 * Sessions without an L2 path (policy sessions, sessions the carrier could
 * not route): find it as the kernel would route their next segment, and
 * answer each request (tko_set_l2), found or not; a session that still has
 * none asks again at its next probe. A session routed out of an interface
 * the agent is not on (lo, another NIC) is refused: no program of tko's
 * would see its segments. The whole queue at each wakeup: a signal the full
 * ring refused is then never a request left waiting.
 */
static void resolve_l2(struct agent *a)
{
	struct tko_ctl_args args;
	struct tko_session s;

	while (!bpf_map_lookup_and_delete_elem(a->fds.fd[P_NEED_L2], NULL, &args.id)) {
		char l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN];
		__u32 id = args.id;
		int err;

		memset(&args, 0, sizeof(args));
		args.id = id;
		if (bpf_map_lookup_elem(a->fds.fd[P_SESSIONS], &id, &s))
			continue;
		args.key = s.key;	/* what the entry holds now */
		err = tko_dp_session_live(&s) ? route_oif(&args.key, &args.ifindex) : -ENOENT;
		if (!err && !agent_iface(a, args.ifindex)) {
			char name[IF_NAMESIZE] = "?";

			format_key(&args.key, l, r);
			if_indextoname(args.ifindex, name);
			pr_info("%s -> %s: refused: its route leaves through %s, which tko is not "
				"attached to", l, r, name);
			args.refuse = TKO_R_ROUTE;
			args.ifindex = 0;
		} else if (!err) {
			err = route_l2(&args.key, &args.ifindex, args.lmac, args.rmac);
		}
		if (err) {
			format_key(&args.key, l, r);
			pr_debug("%s -> %s: no path yet (%s)", l, r, strerror(-err));
		} else if (!args.refuse) {
			args.have = TKO_HAVE_L2;
		}
		tko_ctl_call(a->fds.fd[P_CTL_SET_L2], &args, sizeof(args));
	}
}

/*
 * What the kernel offers of what tko uses when it can (TKO_FEAT_*): each
 * with -v, and what it does without, in one line (tko stats says it too).
 */
static void probe_kernel(struct agent *a)
{
	char line[1024] = "";
	struct utsname u;
	size_t n = 0;

	a->features = tko_kernel_features(a->carrier.ring);
	snprintf(a->kernel, sizeof(a->kernel), "%.63s", uname(&u) ? "?" : u.release);
	for (__u32 bit = 1; bit & TKO_FEAT_ALL; bit <<= 1) {
		bool on = a->features & bit;

		pr_debug("kernel %s: %s: %s", a->kernel, feature_name(bit), on ? "yes" : "no");
		if (!on && feature_lack(bit) && n < sizeof(line))
			n += snprintf(line + n, sizeof(line) - n, "%s%s", n ? "; " : "",
				      feature_lack(bit));
	}
	if (n)
		pr_info("kernel %s: %s", a->kernel, line);
}

/* Where this agent wakes devices, and whether it runs a hook: for the datapath. */
static void set_wake(struct agent *a)
{
	__u32 ifindex[TKO_MAX_IFACES];

	waker_ifindexes(&a->waker, ifindex);
	carrier_set_wake(&a->carrier, ifindex, a->waker.exec[0]);
}

/*
 * What the agent said it would do with wakes, once, at start; and the
 * policies (added by an earlier agent, or by hand) whose wakes this one
 * cannot send.
 */
static void describe_wake(const struct agent *a)
{
	char list[TKO_MAX_IFACES * (IF_NAMESIZE + 2) + 1] = "";

	if (!waker_on(&a->waker)) {
		struct tko_policy p;

		for (__u32 i = 0; i < TKO_MAX_POLICIES; i++)
			if (!bpf_map_lookup_elem(a->fds.fd[P_POLICIES], &i, &p) && p.id &&
			    (p.cfg.flags & TKO_F_WAKE))
				pr_warn("policy %u asks for wakes, and this agent has no --wake-iface "
					"or --on-wake-exec: each of its wakes fails", p.id);
		return;
	}
	for (int i = 0; i < a->waker.nifaces; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 a->waker.ifaces[i].name);
	if (a->waker.nifaces && a->waker.exec[0])
		pr_info("wakes: magic packets on %s, then %s (killed after %u s)", list,
			a->waker.exec, a->waker.timeout_s);
	else if (a->waker.nifaces)
		pr_info("wakes: magic packets on %s", list);
	else
		pr_info("wakes: %s (killed after %u s), no magic packets (no --wake-iface)",
			a->waker.exec, a->waker.timeout_s);
}

/*
 * An interface that was removed takes tko's programs with it; when one of
 * that name comes back, attach again (sessions meanwhile probe into the
 * void, and are declared dead if it takes longer than their retries).
 */
static void check_ifaces(struct agent *a)
{
	int ifindex[MAX_IFACES];
	bool changed = false;

	if (waker_refresh(&a->waker))
		set_wake(a);

	for (int i = 0; i < a->nifaces; i++) {
		struct iface *ifc = &a->ifaces[i];
		int now = if_nametoindex(ifc->name);

		iface_check_path(ifc, &a->fds);
		iface_check_link(ifc, &a->fds);
		if (now == ifc->ifindex && (ifc->xdp_attached || !now))
			continue;
		if (!now) {
			if (ifc->xdp_attached)
				pr_warn("%s is gone: its sessions' probes cannot leave, and they end "
					"after their retries unless it comes back", ifc->name);
			iface_forget(ifc);
			ifc->ifindex = 0;
			changed = true;
			continue;
		}
		ifc->ifindex = now;
		iface_forget(ifc);
		if (iface_attach(ifc, &a->fds, a->answers) == 0)
			pr_info("%s is back (ifindex %d): attached again", ifc->name, now);
		changed = true;
	}
	if (!changed)
		return;
	for (int i = 0; i < a->nifaces; i++)
		ifindex[i] = a->ifaces[i].ifindex;
	carrier_set_ifaces(&a->carrier, ifindex, a->nifaces);
}

/* This agent's session defaults (its config) are what `tko start` uses. */
static int set_defaults(struct agent *a)
{
	__u32 zero = 0;

	return bpf_map_update_elem(a->fds.fd[P_DEFAULTS], &zero, &a->defaults, BPF_ANY) ?
	       -errno : 0;
}

/* Either adopt what is pinned, or load and pin a new datapath. */
static int get_datapath(struct agent *a)
{
	int err = tko_pins_open(a->pin_dir, &a->fds);

	if (!err) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		a->adopted = a->pinned = true;
		if (!bpf_obj_get_info_by_fd(a->fds.fd[P_SESSIONS], &info, &len))
			a->max_sessions = info.max_entries;
		pr_info("adopting the datapath pinned in %s (session table of %u)", a->pin_dir,
			a->max_sessions);
		return set_defaults(a);
	}
	if (err != -ENOENT)
		return err;

	err = tko_bpf_load(&a->bpf, a->max_sessions);
	if (err)
		return err;
	tko_bpf_fds(&a->bpf, &a->fds);
	err = set_defaults(a) ?: tko_bpf_pin(&a->fds, a->pin_dir);
	if (err)
		return err;
	a->pinned = true;
	return 0;
}

/*
 * Asleep until something happens: an event or a signal of the datapath (a
 * path to resolve, a device to wake, the carrier watchdog), an interface
 * change, a wake hook ending or late, a signal of ours. Nothing here runs on a clock: with sessions probing and nothing
 * changing, the agent is never woken. The one timeout is the first carrier
 * pass, before which no watchdog exists.
 */
static int agent_loop(struct agent *a)
{
	struct epoll_event ev = { .events = EPOLLIN }, got[8];
	int ep, n, timeout = carrier_watchdog_ms(a->carrier.tick_ms), err = 0;
	bool watched = carrier_passed(&a->carrier);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	ev.data.fd = ring_buffer__epoll_fd(a->rb);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		err = -errno;
		goto out;
	}
	ev.data.fd = ring_buffer__epoll_fd(a->sig_rb);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		err = -errno;
		goto out;
	}
	ev.data.fd = a->links_fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, a->links_fd, &ev)) {
		err = -errno;
		goto out;
	}
	/* Wake hooks running: their ends and their deadlines. */
	ev.data.fd = a->waker.epoll_fd;
	if (ev.data.fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		err = -errno;
		goto out;
	}
	resolve_l2(a);	/* what was asked while no agent ran */
	while (!exiting) {
		n = epoll_wait(ep, got, 8, watched ? -1 : timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (!n) {	/* no pass since the injection: the frame never went round */
			a->carrier_lost = true;
			a->lost_at = a->carrier.last_passes;
		}
		for (int i = 0; i < n; i++) {
			if (got[i].data.fd == a->links_fd && links_changed(a->links_fd))
				check_ifaces(a);
			else if (got[i].data.fd == a->waker.epoll_fd)
				waker_poll(&a->waker, wake_report, a);
		}
		err = ring_buffer__consume(a->sig_rb);
		if (err >= 0 || err == -EINTR)
			err = ring_buffer__consume(a->rb);
		if (err < 0 && err != -EINTR) {
			pr_warn("ring buffer: %s", strerror(-err));
			break;
		}
		err = 0;
		if (a->want_paths) {
			a->want_paths = false;
			resolve_l2(a);
		}
		if (a->carrier_lost) {
			a->carrier_lost = false;
			carrier_lost(&a->carrier, a->lost_at);
		}
		if (!watched)
			watched = carrier_passed(&a->carrier);
	}
out:
	close(ep);
	return err;
}

static int agent_run(struct agent *a)
{
	int ifindex[MAX_IFACES], prev[TKO_MAX_IFACES], nprev, err = 0;

	/* Interfaces an earlier agent attached to but this one is not given. */
	nprev = a->adopted ? recorded_ifaces(&a->fds, prev) : 0;
	for (int i = 0; i < a->nifaces; i++) {
		if (iface_attach(&a->ifaces[i], &a->fds, a->answers))
			return -1;
		ifindex[i] = a->ifaces[i].ifindex;
	}
	for (int j = 0; j < nprev; j++) {
		bool kept = false;

		for (int i = 0; i < a->nifaces; i++)
			kept |= prev[j] == a->ifaces[i].ifindex;
		if (!kept)
			iface_detach_ours(prev[j], &a->fds);
	}
	/* Subscribed before anything can change: no change falls in between. */
	a->links_fd = links_open();
	if (a->links_fd < 0) {
		pr_warn("cannot listen to interface changes (rtnetlink): %s", strerror(-a->links_fd));
		return -1;
	}
	if (carrier_setup(&a->carrier, a->fds.fd[P_PROG_CARRIER], a->fds.fd[P_PROG_CARRIER_RX],
			  a->fds.fd[P_CARRIER], a->tick_ms, ifindex, a->nifaces, a->adopted))
		return -1;
	a->ct_established_ms = conntrack_setup();
	probe_kernel(a);
	/* Before the policies: a flow they make a session learns where its
	 * device is on the wake interfaces. */
	if (waker_open(&a->waker, a->pin_dir))
		return -1;
	set_wake(a);
	if (attach_cgroup(a) || add_policies(a))
		return -1;

	/* Events produced while no agent listened are still in the ring. */
	a->rb = ring_buffer__new(a->fds.fd[P_EVENTS], handle_event, a, NULL);
	a->sig_rb = ring_buffer__new(a->fds.fd[P_SIGNALS], handle_signal, a, NULL);
	if (!a->rb || !a->sig_rb) {
		pr_warn("cannot open the ring buffers: %s", strerror(errno));
		return -1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < a->nifaces; i++) {
		char how[160];

		iface_describe(&a->ifaces[i], how, sizeof(how));
		pr_info("%s %s (ifindex %d, %s)", a->ifaces[i].adopted ? "adopted" : "attached to",
			a->ifaces[i].name, a->ifaces[i].ifindex, how);
	}
	pr_info("carrier on %s/%s, tick %u ms (one pass a tick while probes are due, "
		"about one a second when none are)", CARRIER_LOOP_IF, CARRIER_PEER_IF,
		a->carrier.tick_ms);
	describe_wake(a);
	if (a->metrics_on && !(a->metrics = metrics_start(&a->metrics_addr, a->pin_dir)))
		return -1;
	pr_info("ready: pins in %s, session table of %u%s", a->pin_dir, a->max_sessions,
		a->persist ? ", the datapath stays when the agent exits" : "");

	err = agent_loop(a);
	if (err) {
		pr_warn("agent loop: %s", strerror(-err));
		return -1;
	}
	if (a->persist)
		pr_info("stopping; the datapath keeps running (pins in %s)", a->pin_dir);
	else
		pr_info("stopping: ending sessions, detaching, unpinning %s", a->pin_dir);
	return 0;
}

/* tko agent --cleanup, tko unload: remove what a dead agent left. */
static int cleanup(const char *pin_dir)
{
	struct tko_fds f;
	int err, lock = take_lock(pin_dir);

	if (lock < 0)
		return 1;
	err = tko_pins_open(pin_dir, &f);
	if (err == -ENOENT) {
		pr_info("nothing pinned in %s", pin_dir);
		/* A carrier without pins can only be a leftover. */
		carrier_remove();
		release_lock(pin_dir, lock);
		return 0;
	}
	if (err) {
		release_lock(pin_dir, lock);
		return 1;
	}
	unload(&f, pin_dir);
	tko_fds_close(&f);
	release_lock(pin_dir, lock);
	pr_info("removed the datapath pinned in %s", pin_dir);
	return 0;
}

int cmd_agent(int argc, char **argv)
{
	struct agent a = { .lock_fd = -1, .links_fd = -1 };
	int ret;

	ret = parse_args(&a, argc, argv);
	free_policy_src(&a);
	if (ret)
		return ret < 0 ? 0 : ret;

	/* From here on a signal ends the agent through its exit path. */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	tko_bpf_setup_logging();
	if (tko_ensure_bpffs(a.pin_dir))
		return 1;
	if (a.cleanup)
		return cleanup(a.pin_dir);
	a.lock_fd = take_lock(a.pin_dir);
	if (a.lock_fd < 0)
		return 1;
	for (int i = 0; i < P_MAX; i++)
		a.fds.fd[i] = -1;

	ret = get_datapath(&a) ? -1 : agent_run(&a);
	/* A failed fresh start leaves nothing behind; a failed adoption leaves
	 * the sessions it found running. */
	if (ret)
		a.persist = a.adopted;
	agent_exit(&a);
	return ret ? 1 : 0;
}

int cmd_unload(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *pin_dir = tko_default_pin_dir();
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'p') {
			pin_dir = optarg;
		} else if (c == 'h') {
			printf("usage: tko unload [--pin-dir DIR]\n"
			       "Remove the datapath pinned in DIR (left running by an agent that was\n"
			       "killed or ran with --persist): sessions (reported as stopped),\n"
			       "attachments, the carrier, the pins. Refused while an agent runs.\n");
			return 0;
		} else {
			fprintf(stderr, "tko unload: bad option (try 'tko unload --help')\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tko unload: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!require_root())
		return 1;
	tko_bpf_setup_logging();
	return cleanup(pin_dir);
}
