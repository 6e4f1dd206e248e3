// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tko agent: load the datapath, attach it to the interfaces, pin the maps
 * and control programs, then sleep on the ring buffer and print one line per
 * event until SIGINT/SIGTERM. The agent is never woken per keepalive.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "carrier.h"
#include "cli.h"
#include "format.h"
#include "loader.h"
#include "log.h"
#include "parse.h"
#include "ctl.skel.h"
#include "xdp_ingress.skel.h"
#include "tc_egress.skel.h"
#include "carrier.skel.h"

#define MAX_IFACES TKO_MAX_IFACES
/* The agent's only periodic wakeup: the carrier watchdog. */
#define HOUSEKEEPING_MS 2000

static const char agent_help[] =
	"usage: tko agent --iface IF[,IF...] [--pin-dir DIR] [--max-sessions N] [--tick-ms MS]\n"
	"                 [--json] [-v]\n"
	"Load tko's datapath on the interfaces facing the peers (XDP ingress, TC egress),\n"
	"pin its maps in DIR, and print one line per session event until SIGINT/SIGTERM,\n"
	"when everything is detached and unpinned.\n"
	"  --iface IF[,IF...]  interfaces towards the peers (required)\n"
	"  --pin-dir DIR       bpffs directory for the pins (default $TKO_PIN_DIR or /sys/fs/bpf/tko)\n"
	"  --max-sessions N    size of the session table (default 65536)\n"
	"  --tick-ms MS        carrier period: probes leave at most this late (default 5)\n"
	"  --json              events as JSON objects, one per line\n"
	"  -v, --verbose       libbpf's debug output\n";

struct agent {
	struct iface ifaces[MAX_IFACES];
	int nifaces;
	const char *pin_dir;
	__u32 max_sessions;
	__u32 tick_ms;
	bool json;
	struct carrier carrier;
	struct tko_bpf bpf;
	struct ring_buffer *rb;
	bool pinned;
};

static volatile sig_atomic_t exiting;

/* Long enough for several carrier passes, whatever the tick. */
static int housekeeping_ms(unsigned int tick_ms)
{
	return tick_ms * 4 > HOUSEKEEPING_MS ? tick_ms * 4 : HOUSEKEEPING_MS;
}

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

static int parse_args(struct agent *a, int argc, char **argv)
{
	enum { O_IFACE = 1, O_PIN_DIR, O_MAX, O_JSON, O_TICK };
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, O_IFACE },
		{ "pin-dir", required_argument, NULL, O_PIN_DIR },
		{ "max-sessions", required_argument, NULL, O_MAX },
		{ "json", no_argument, NULL, O_JSON },
		{ "tick-ms", required_argument, NULL, O_TICK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *ifaces = NULL;
	char err[256];
	int c;

	a->pin_dir = tko_default_pin_dir();
	a->max_sessions = TKO_MAX_SESSIONS_DEFAULT;
	a->tick_ms = TKO_TICK_MS_DEFAULT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (c) {
		case O_IFACE:
			ifaces = optarg;
			break;
		case O_PIN_DIR:
			a->pin_dir = optarg;
			break;
		case O_MAX:
			if (parse_uint(optarg, "--max-sessions", 1, 1U << 26, &a->max_sessions,
				       err, sizeof(err))) {
				fprintf(stderr, "tko agent: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		case O_JSON:
			a->json = true;
			break;
		case O_TICK:
			if (parse_uint(optarg, "--tick-ms", TICK_MS_MIN, TICK_MS_MAX, &a->tick_ms,
				       err, sizeof(err))) {
				fprintf(stderr, "tko agent: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			log_verbose = 1;
			break;
		case 'h':
			fputs(agent_help, stdout);
			return -1;
		default:
			fprintf(stderr, "tko agent: bad option (try 'tko agent --help')\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tko agent: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!ifaces) {
		fprintf(stderr, "tko agent: --iface is required (try 'tko agent --help')\n");
		return EXIT_USAGE;
	}
	if (a->pin_dir[0] != '/') {
		fprintf(stderr, "tko agent: --pin-dir must be an absolute path\n");
		return EXIT_USAGE;
	}
	if (!require_root())
		return 1;
	return parse_ifaces(a, ifaces) ? 1 : 0;
}

/* Pins left by a running agent, or by one that was killed. */
static bool pins_exist(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, PIN_SESSIONS);
	return access(path, F_OK) == 0;
}

/* End every session so its handoff state is reported, then drain the events. */
static void stop_all_sessions(struct agent *a)
{
	int map_fd = bpf_map__fd(a->bpf.ctl->maps.sessions);
	int prog_fd = bpf_program__fd(a->bpf.ctl->progs.tko_stop);
	struct tko_ctl_args args = {};
	int n = 0;

	while (!bpf_map_get_next_key(map_fd, NULL, &args.key)) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));

		if (bpf_prog_test_run_opts(prog_fd, &opts) || opts.retval)
			bpf_map_delete_elem(map_fd, &args.key);	/* never loop forever */
		if (++n > (int)a->max_sessions)
			break;
	}
	ring_buffer__consume(a->rb);
}

static void agent_cleanup(struct agent *a)
{
	for (int i = 0; i < a->nifaces; i++)
		iface_detach(&a->ifaces[i]);
	if (a->bpf.ctl && a->rb)
		stop_all_sessions(a);
	ring_buffer__free(a->rb);
	carrier_teardown(&a->carrier);
	if (a->pinned)
		tko_bpf_unpin(a->pin_dir);
	tko_bpf_destroy(&a->bpf);
}

int cmd_agent(int argc, char **argv)
{
	struct agent a = {};
	int err, ret;

	ret = parse_args(&a, argc, argv);
	if (ret)
		return ret < 0 ? 0 : ret;

	/* From here on a signal ends the agent through its cleanup path. */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	tko_bpf_setup_logging();
	if (tko_ensure_bpffs(a.pin_dir))
		return 1;
	if (pins_exist(a.pin_dir)) {
		pr_warn("%s already holds tko pins: another agent is running there, or one was "
			"killed (remove the directory to start afresh)", a.pin_dir);
		return 1;
	}

	err = tko_bpf_load(&a.bpf, a.max_sessions);
	if (err)
		return 1;
	a.rb = ring_buffer__new(bpf_map__fd(a.bpf.ctl->maps.events), handle_event, &a, NULL);
	if (!a.rb) {
		pr_warn("cannot open the event ring buffer: %s", strerror(errno));
		goto fail;
	}
	for (int i = 0; i < a.nifaces; i++) {
		if (iface_attach(&a.ifaces[i], bpf_program__fd(a.bpf.xdp->progs.tko_xdp_ingress),
				 bpf_program__fd(a.bpf.tc->progs.tko_tc_egress)))
			goto fail;
	}
	int ifindex[MAX_IFACES];

	for (int i = 0; i < a.nifaces; i++)
		ifindex[i] = a.ifaces[i].ifindex;
	if (carrier_setup(&a.carrier, bpf_program__fd(a.bpf.carrier->progs.tko_carrier),
			  bpf_map__fd(a.bpf.ctl->maps.carrier), a.tick_ms, ifindex, a.nifaces))
		goto fail;
	if (tko_bpf_pin(&a.bpf, a.pin_dir))
		goto fail;
	a.pinned = true;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < a.nifaces; i++)
		pr_info("attached to %s (ifindex %d, %s XDP)", a.ifaces[i].name,
			a.ifaces[i].ifindex,
			a.ifaces[i].xdp_flags == XDP_FLAGS_SKB_MODE ? "generic" : "native");
	pr_info("carrier on %s/%s, one pass every %u ms", CARRIER_LOOP_IF, CARRIER_PEER_IF,
		a.tick_ms);
	pr_info("ready: pins in %s, session table of %u", a.pin_dir, a.max_sessions);

	/* Asleep on the ring buffer: woken by events, and by the watchdog's
	 * period, never per keepalive. */
	while (!exiting) {
		err = ring_buffer__poll(a.rb, housekeeping_ms(a.tick_ms));
		if (err < 0 && err != -EINTR) {
			pr_warn("ring buffer: %s", strerror(-err));
			break;
		}
		if (!exiting)
			carrier_check(&a.carrier);
	}
	pr_info("stopping: ending sessions, detaching, unpinning");
	agent_cleanup(&a);
	return err < 0 && err != -EINTR ? 1 : 0;
fail:
	agent_cleanup(&a);
	return 1;
}
