// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tko start | stop | list | events | stats: the CLI over libtko. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "log.h"
#include "parse.h"

#define OPT_PIN_DIR 1000

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Options every session command shares: --pin-dir, --json, --help. */
struct common {
	const char *pin_dir;
	bool json;
	bool follow;
	bool prometheus;
	bool help;		/* given: the help was printed, nothing more to do */
};

enum { WITH_FOLLOW = 1, WITH_PROMETHEUS = 2 };

/*
 * Options of the commands that take only --pin-dir, --json and maybe more:
 * 0, or -EINVAL after the usage error.
 */
static int parse_common(int argc, char **argv, const char *cmd, const char *help,
			unsigned int extras, struct common *o)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	o->pin_dir = tko_default_pin_dir();
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'f':
			if (!(extras & WITH_FOLLOW)) {
				usage_error(cmd, "%s", "unknown option --follow");
				return -EINVAL;
			}
			o->follow = true;
			break;
		case 'P':
			if (!(extras & WITH_PROMETHEUS)) {
				usage_error(cmd, "%s", "unknown option --prometheus");
				return -EINVAL;
			}
			o->prometheus = true;
			break;
		case OPT_PIN_DIR:
			o->pin_dir = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			o->help = true;
			return 0;
		default:
			usage_error(cmd, "%s", "bad option");
			return -EINVAL;
		}
	}
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	static const char help[] =
		"usage: tko stop LOCAL REMOTE [--pin-dir DIR]\n"
		"End the offload of a session; its handoff state is reported as a 'stopped' event.\n";
	char err[256], l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN];
	struct common o = {};
	struct tko_key key;
	struct tko *t;
	int ret;

	if (parse_common(argc, argv, "stop", help, 0, &o))
		return EXIT_USAGE;
	if (o.help)
		return 0;
	if (argc - optind != 2)
		return usage_error("stop", "%s", "expected LOCAL and REMOTE");
	if (parse_key(argv[optind], argv[optind + 1], &key, err, sizeof(err)))
		return usage_error("stop", "%s", err);
	if (!require_root() || cli_open(o.pin_dir, &t))
		return 1;
	ret = tko_dp_session_stop(t, &key);
	tko_close(t);
	format_key(&key, l, r);
	if (ret == -ENOENT) {
		pr_warn("no session %s -> %s", l, r);
		return 1;
	}
	if (ret) {
		pr_warn("cannot stop %s -> %s: %s", l, r, strerror(-ret));
		return 1;
	}
	printf("stopped %s -> %s\n", l, r);
	return 0;
}

struct list_ctx {
	bool json;
	int n;
	__u64 now;
};

static int print_session(__u32 id, const struct tko_session *s, void *ctx)
{
	struct list_ctx *lc = ctx;
	char line[1024];

	format_session(&s->key, s, lc->now, lc->json, line, sizeof(line));
	printf("%s%s\n", lc->json && lc->n ? "," : "", line);
	lc->n++;
	return 0;
}

int cmd_list(int argc, char **argv)
{
	static const char help[] =
		"usage: tko list [--json] [--pin-dir DIR]\n"
		"The offloaded sessions, their state and counters.\n";
	struct common o = {};
	struct list_ctx lc = {};
	struct tko *t;
	int ret;

	if (parse_common(argc, argv, "list", help, 0, &o))
		return EXIT_USAGE;
	if (o.help)
		return 0;
	if (optind != argc)
		return usage_error("list", "unexpected argument '%s'", argv[optind]);
	if (!require_root() || cli_open(o.pin_dir, &t))
		return 1;
	lc.json = o.json;
	lc.now = now_ns();
	if (o.json)
		printf("[\n");
	else
		printf("%s\n", session_header());
	ret = tko_dp_session_foreach(t, print_session, &lc);
	if (o.json)
		printf("]\n");
	tko_close(t);
	if (ret) {
		pr_warn("cannot read the session table: %s", strerror(-ret));
		return 1;
	}
	return 0;
}

static volatile sig_atomic_t stop_follow;

static void on_signal(int sig)
{
	stop_follow = 1;
}

static int print_event(const struct tko_event *e, void *ctx)
{
	bool json = *(bool *)ctx;
	char line[1024];

	format_event(e, json, line, sizeof(line));
	printf("%s\n", line);
	return 0;
}

int cmd_events(int argc, char **argv)
{
	static const char help[] =
		"usage: tko events [--json] [--follow] [--pin-dir DIR]\n"
		"The last events (kept in the pinned event log, oldest first); --follow waits\n"
		"for new ones until interrupted.\n";
	struct common o = {};
	__u64 after = 0;
	struct tko *t;
	int ret;

	if (parse_common(argc, argv, "events", help, WITH_FOLLOW, &o))
		return EXIT_USAGE;
	if (o.help)
		return 0;
	if (optind != argc)
		return usage_error("events", "unexpected argument '%s'", argv[optind]);
	if (!require_root() || cli_open(o.pin_dir, &t))
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	do {
		ret = tko_dp_events_read(t, &after, print_event, &o.json);
		if (ret || !o.follow)
			break;
		usleep(100 * 1000);	/* a CLI poll; the agent itself blocks on the ring buffer */
	} while (!stop_follow);
	tko_close(t);
	if (ret) {
		pr_warn("cannot read the event log: %s", strerror(-ret));
		return 1;
	}
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	static const char help[] =
		"usage: tko stats [--json | --prometheus] [--pin-dir DIR]\n"
		"Datapath counters, summed over CPUs, then one line per interface of the agent:\n"
		"how it answers the peers' probes (path=xdp: XDP_TX; path=tc: TC ingress, where\n"
		"XDP_TX is not delivered, as on veth) and why, and a line on the agent's kernel:\n"
		"what it offers of what tko uses when it can. --prometheus adds sessions by\n"
		"state and events by type and reason, in the Prometheus text format (as 'tko\n"
		"agent --metrics' serves it).\n";
	static struct tko_metrics m;
	struct common o = {};
	char line[256];
	struct tko *t;
	int ret;

	if (parse_common(argc, argv, "stats", help, WITH_PROMETHEUS, &o))
		return EXIT_USAGE;
	if (o.help)
		return 0;
	if (optind != argc)
		return usage_error("stats", "unexpected argument '%s'", argv[optind]);
	if (o.json && o.prometheus)
		return usage_error("stats", "%s", "--json and --prometheus exclude each other");
	if (!require_root() || cli_open(o.pin_dir, &t))
		return 1;
	ret = o.prometheus ? metrics_read(t, &m) : tko_dp_stats_read(t, m.stats);
	if (!ret && !o.prometheus) {
		m.nifaces = tko_dp_ifaces_read(t, m.ifaces, sizeof(m.ifaces) / sizeof(m.ifaces[0]));
		if (m.nifaces < 0)
			m.nifaces = 0;	/* no agent attached anything yet */
		if (tko_dp_kernel_read(t, m.kernel, sizeof(m.kernel), &m.features))
			m.kernel[0] = '\0';
	}
	tko_close(t);
	if (ret) {
		pr_warn("cannot read the counters: %s", strerror(-ret));
		return 1;
	}
	if (o.prometheus) {
		if (!format_prometheus(&m, stdout) && !fflush(stdout))
			return 0;
		pr_warn("cannot write the metrics: %s", strerror(errno));
		return 1;
	}
	for (int i = 0; i < TKO_ST_MAX; i++) {
		if (o.json)
			printf("%s\"%s\":%llu,", i ? "" : "{", stat_name(i),
			       (unsigned long long)m.stats[i]);
		else
			printf("%-22s %llu\n", stat_name(i), (unsigned long long)m.stats[i]);
	}
	/* How each interface answers the peers' probes. */
	if (o.json)
		printf("\"ifaces\":[");
	for (int i = 0; i < m.nifaces; i++) {
		format_iface(&m.ifaces[i], o.json, line, sizeof(line));
		if (o.json)
			printf("%s%s", i ? "," : "", line);
		else
			printf("%s\n", line);
	}
	if (o.json)
		printf("]");
	/* What the agent's kernel offers of what tko uses when it can. */
	if (m.kernel[0]) {
		format_kernel(m.kernel, m.features, o.json, line, sizeof(line));
		printf(o.json ? ",\"kernel\":%s" : "%s\n", line);
	}
	if (o.json)
		printf("}\n");
	return 0;
}
