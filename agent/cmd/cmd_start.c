// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tko start: one session from the command line, or thousands from a file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <net/if.h>

#include "cli.h"
#include "format.h"
#include "log.h"
#include "parse.h"
#include "route.h"
#include "session_opts.h"


static const char start_head[] =
	"usage: tko start LOCAL REMOTE [OPTIONS]\n"
	"       tko start --file FILE [OPTIONS]\n"
	"Offload the keepalives of the TCP session LOCAL <-> REMOTE (LOCAL is the endpoint\n"
	"tko speaks for). A local socket of this network namespace is read from the kernel\n"
	"(it must be idle: no unsent, unacknowledged or unread data); any other session's\n"
	"state is learned from its next segments, or given with --state.\n"
	"Options not given come from the agent's configuration, else the defaults below.\n";

#define STATE_ARG "snd_nxt=N,rcv_nxt=N,win=N[,wscale=N][,tsval=N,tsecr=N]"

static const char start_tail[] =
	"  --state " STATE_ARG "\n"
	"                      the endpoint's sequence state, handed over explicitly\n"
	"  --file FILE         one session per line: 'LOCAL REMOTE [OPTIONS]' ('-' is stdin;\n"
	"                      '#' starts a comment); the options given here apply to every\n"
	"                      line unless the line says otherwise\n"
	"  --pin-dir DIR       the agent's pin directory\n";

void start_synopsis(FILE *f, int col, int indent)
{
	col += fprintf(f, " LOCAL REMOTE");
	session_opts_usage(f, SO_START, &col, indent);
	usage_item(f, &col, indent, "[--state " STATE_ARG "]");
}

/* The session options are session_opts.h's. */
enum { O_STATE = 1, O_FILE, O_PIN_DIR, O_HELP };

static const struct option start_opts[] = {
	{ "state", required_argument, NULL, O_STATE },
	{ "file", required_argument, NULL, O_FILE },
	{ "pin-dir", required_argument, NULL, O_PIN_DIR },
	{ "help", no_argument, NULL, O_HELP },
	{}
};

/* One session to start: what its options said, and which ones they said. */
struct request {
	struct tko_config cfg;
	unsigned int given;		/* of the session options (session_opt_set()) */
	struct tko_tcp_state tcp;
	__u8 have;			/* TKO_HAVE_* of tcp, when given */
	bool state;
	const char *pin_dir;
	const char *file;
};

/*
 * Parse the options of argv into r, on top of what r holds. Positional
 * arguments are left in argv[*first..argc). *help: --help came, nothing
 * after it was read (help NULL: a line of --file, which refuses it).
 * Returns 0, or -errno with the reason in err.
 */
static int parse_request(int argc, char **argv, struct request *r, int *first, bool *help,
			 char *err, size_t errlen)
{
	struct option opts[SESSION_OPTS_MAX + ARRAY_LEN(start_opts)];
	int c, ret;

	session_getopt(SO_START, start_opts, opts);
	optind = 0;	/* full re-initialisation: each file line is a new argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_STATE:
			ret = parse_state(optarg, &r->tcp, &r->have, err, errlen);
			r->state = true;
			break;
		case O_FILE:
			r->file = optarg;
			ret = 0;
			break;
		case O_PIN_DIR:
			r->pin_dir = optarg;
			ret = 0;
			break;
		case 'h':
		case O_HELP:
			if (help) {
				*help = true;
				return 0;
			}
			/* A line of --file takes no --help. */
			/* fall through */
		default:
			ret = session_opt_set(SO_START, c, optarg, &r->cfg, &r->given, err, errlen);
			if (ret == -ENOENT)
				snprintf(err, errlen, "unknown option or missing value: '%s'",
					 argv[optind - 1]);
		}
		if (ret)
			return ret;
	}
	*first = optind;
	return 0;
}

enum how { HOW_GIVEN, HOW_CAPTURED, HOW_LEARNING };
static const char *const how_text[] = {
	[HOW_GIVEN] = "state given",
	[HOW_CAPTURED] = "local socket, state captured",
	[HOW_LEARNING] = "learning from traffic",
};

/*
 * Start one session; a one-line description of a failure into err. Without
 * --state, a local socket with the tuple is captured from the kernel (it
 * must be idle); otherwise the state is learned from traffic (a gateway).
 */
static void describe(int ret, const struct tko_key *key, const struct tko_capture *c,
		     char *err, size_t errlen);

static int start_one(struct tko *t, const struct tko_key *key, const struct request *r,
		     enum how *how, char *err, size_t errlen)
{
	struct tko_capture c = {};
	int ret;

	/* --wake auto learns the MAC of a device from its forwarded segments:
	 * a socket of this host has none, and waking this host makes no sense. */
	if ((r->cfg.flags & TKO_F_WAKE) && !(r->cfg.wake_mac[0] | r->cfg.wake_mac[1] |
	    r->cfg.wake_mac[2] | r->cfg.wake_mac[3] | r->cfg.wake_mac[4] | r->cfg.wake_mac[5]) &&
	    !tko_dp_capture(t, key, &c)) {
		char l[ENDPOINT_STRLEN], rem[ENDPOINT_STRLEN];

		format_key(key, l, rem);
		snprintf(err, errlen, "%s -> %s: --wake auto: a socket of this host has no "
			 "device to wake (--wake MAC wakes another machine)", l, rem);
		return -EINVAL;
	}
	if (r->state) {
		*how = HOW_GIVEN;
		ret = tko_dp_session_start(t, key, &r->cfg, &r->tcp, r->have);
	} else {
		*how = HOW_CAPTURED;
		ret = tko_dp_session_start_local(t, key, &r->cfg, &c);
		if (ret == -ENOENT) {
			*how = HOW_LEARNING;
			ret = tko_dp_session_start(t, key, &r->cfg, NULL, 0);
		}
	}
	describe(ret, key, &c, err, errlen);
	return ret;
}

/* One sentence for a failed start. */
static void describe(int ret, const struct tko_key *key, const struct tko_capture *c,
		     char *err, size_t errlen)
{
	char l[ENDPOINT_STRLEN], rem[ENDPOINT_STRLEN];

	format_key(key, l, rem);
	switch (ret) {
	case 0:
		break;
	case -EBUSY:
		snprintf(err, errlen, "socket not idle: %s -> %s has %u bytes unacknowledged, "
			 "%u unsent, %u unread", l, rem, c->unacked, c->unsent, c->unread);
		break;
	case -ENOTCONN:
		snprintf(err, errlen, "socket %s -> %s is not established", l, rem);
		break;
	case -EEXIST:
		snprintf(err, errlen, "session %s -> %s is already offloaded", l, rem);
		break;
	case -E2BIG:
		snprintf(err, errlen, "session table full: cannot offload %s -> %s "
			 "(see tko agent --max-sessions)", l, rem);
		break;
	case -ENOSPC:
		snprintf(err, errlen, "session table nearly full: no room for %s -> %s in its "
			 "index buckets (see tko agent --max-sessions)", l, rem);
		break;
	case -ENETUNREACH:
		snprintf(err, errlen, "cannot offload %s -> %s: no route to %s", l, rem, rem);
		break;
	case -EOPNOTSUPP:
		snprintf(err, errlen, "cannot offload %s -> %s with --wake: the agent has no way to "
			 "wake a device (start it with --wake-iface or --on-wake-exec)", l, rem);
		break;
	case -EXDEV: {
		char name[IF_NAMESIZE] = "?";
		__u32 oif = 0;

		if (!route_oif(key, &oif))
			if_indextoname(oif, name);
		snprintf(err, errlen, "cannot offload %s -> %s: its route leaves through %s, "
			 "which the agent is not attached to (tko would never see its data)",
			 l, rem, name);
		break;
	}
	default:
		snprintf(err, errlen, "cannot start %s -> %s: %s", l, rem, strerror(-ret));
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Split a line into at most max words; returns the count. */
static int split(char *line, char **words, int max)
{
	int n = 0;

	for (char *tok = strtok(line, " \t\r\n"); tok && n < max; tok = strtok(NULL, " \t\r\n"))
		words[n++] = tok;
	return n;
}

/*
 * tko start --file: every line is a session; a bad line is reported with its
 * number and the others still start. Progress every second on stderr.
 */
/* Lines with --state go to the kernel TKO_BATCH_MAX at a time. */
struct batch {
	struct tko_ctl_args args[TKO_BATCH_MAX];
	unsigned long line[TKO_BATCH_MAX];
	int n;
};

struct file_run {
	const char *file;
	unsigned long started, failed;
	double t0, last;
};

static void line_failed(struct file_run *fr, unsigned long lineno, const char *err)
{
	if (fr->failed < 10)
		pr_warn("%s:%lu: %s", fr->file, lineno, err);
	fr->failed++;
}

static void line_started(struct file_run *fr, unsigned long n)
{
	fr->started += n;
	if (now_s() - fr->last >= 1) {
		fr->last = now_s();
		fprintf(stderr, "tko start: %lu sessions started (%.0f/s)\n", fr->started,
			fr->started / (fr->last - fr->t0));
	}
}

static void flush(struct tko *t, struct batch *b, struct file_run *fr)
{
	static const struct tko_capture none;
	int results[TKO_BATCH_MAX];
	char err[256];

	if (!b->n)
		return;
	line_started(fr, tko_dp_session_start_batch(t, b->args, b->n, results));
	for (int i = 0; i < b->n; i++)
		if (results[i]) {
			describe(results[i], &b->args[i].key, &none, err, sizeof(err));
			line_failed(fr, b->line[i], err);
		}
	b->n = 0;
}

/*
 * tko start --file: every line is a session; a bad line is reported with its
 * number and the others still start. Progress every second on stderr.
 * 0 and the number of lines that failed in *failed, or -errno (the file
 * cannot be read).
 */
static int start_file(struct tko *t, const struct request *common, unsigned long *failed)
{
	FILE *f = strcmp(common->file, "-") ? fopen(common->file, "r") : stdin;
	struct file_run fr = { .file = common->file, .t0 = now_s() };
	static struct batch b;
	unsigned long lineno = 0;
	char line[4096], err[256];

	if (!f) {
		int err = -errno;

		pr_warn("cannot read %s: %s", common->file, strerror(-err));
		return err;
	}
	fr.last = fr.t0;
	while (fgets(line, sizeof(line), f)) {
		char *words[64] = { "tko-start" };
		struct request r = *common;
		struct tko_key key;
		enum how how;
		int n, first, ret;

		lineno++;
		line[strcspn(line, "#")] = '\0';
		n = split(line, words + 1, 62) + 1;
		if (n == 1)
			continue;
		ret = parse_request(n, words, &r, &first, NULL, err, sizeof(err));
		if (!ret && (n - first != 2 || r.file != common->file)) {
			snprintf(err, sizeof(err), "expected LOCAL REMOTE [OPTIONS]");
			ret = -EINVAL;
		}
		if (!ret)
			ret = parse_key(words[first], words[first + 1], &key, err, sizeof(err)) ?:
			      session_opts_check(SO_START, &r.cfg, r.given, err, sizeof(err));
		if (!ret && r.state) {
			/* Handed-over state: nothing to look up, batch it. */
			struct tko_ctl_args *a = &b.args[b.n];

			memset(a, 0, sizeof(*a));
			a->key = key;
			a->cfg = r.cfg;
			a->cfg.flags |= TKO_F_STATE_GIVEN;
			a->tcp = r.tcp;
			a->have = r.have & (TKO_HAVE_SEQ | TKO_HAVE_TS);
			b.line[b.n++] = lineno;
			if (b.n == TKO_BATCH_MAX)
				flush(t, &b, &fr);
			continue;
		}
		if (!ret)
			ret = start_one(t, &key, &r, &how, err, sizeof(err));
		if (ret)
			line_failed(&fr, lineno, err);
		else
			line_started(&fr, 1);
	}
	flush(t, &b, &fr);
	if (f != stdin)
		fclose(f);
	if (fr.failed > 10)
		pr_warn("... and %lu more lines failed", fr.failed - 10);
	printf("started %lu sessions from %s in %.2f s%s", fr.started, common->file,
	       now_s() - fr.t0, fr.failed ? "" : "\n");
	if (fr.failed)
		printf(", %lu lines failed\n", fr.failed);
	*failed = fr.failed;
	return 0;
}

int cmd_start(int argc, char **argv)
{
	struct request r = { .pin_dir = tko_default_pin_dir() };
	struct tko_config base;
	struct tko_key key;
	bool help = false;
	char err[256];
	struct tko *t;
	int first, ret;

	tko_dp_config_default(&r.cfg);
	ret = parse_request(argc, argv, &r, &first, &help, err, sizeof(err));
	if (help) {
		fputs(start_head, stdout);
		session_opts_help(stdout, SO_START);
		fputs(start_tail, stdout);
		return 0;
	}
	if (ret)
		return usage_error("start", "%s", err);
	if (r.file && argc - first != 0)
		return usage_error("start", "%s", "--file takes the sessions from the file, "
				   "not from the command line");
	if (!r.file && argc - first != 2)
		return usage_error("start", "%s", "expected LOCAL and REMOTE");
	if (!r.file && (parse_key(argv[first], argv[first + 1], &key, err, sizeof(err)) ||
			session_opts_check(SO_START, &r.cfg, r.given, err, sizeof(err))))
		return usage_error("start", "%s", err);
	if (!require_root() || cli_open(r.pin_dir, &t))
		return 1;
	if (!tko_dp_config_agent_default(t, &base))
		session_opts_fill(SO_CONFIG, &r.cfg, &base, r.given);

	if (r.file) {
		unsigned long failed = 0;

		ret = start_file(t, &r, &failed) || failed ? 1 : 0;
	} else {
		char l[ENDPOINT_STRLEN], rem[ENDPOINT_STRLEN];
		enum how how;

		ret = start_one(t, &key, &r, &how, err, sizeof(err));
		format_key(&key, l, rem);
		if (ret)
			pr_warn("%s", err);
		else
			printf("started %s -> %s (%s)\n", l, rem, how_text[how]);
		ret = ret ? 1 : 0;
	}
	tko_close(t);
	return ret;
}
