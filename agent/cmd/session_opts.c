// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The session options: one table, and what is made from it (session_opts.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "parse.h"
#include "session_opts.h"

#define WIDTH 80	/* of the usage and the help */

enum kind {
	UINT,		/* a whole number in [min, max] */
	CHOICE,		/* one of choices: its value into the field's bits of mask */
	FLAG,		/* no argument: sets the bits of mask (a config file says true or false) */
	WAKE,		/* parse_wake(): auto or none (choices, for the help), with mac a MAC */
};

struct choice {
	const char *name;
	__u32 value;
};

struct session_opt {
	const char *name;		/* --NAME, and the config file's key */
	enum kind kind;
	unsigned int where;		/* SO_*: the contexts that take it */
	unsigned int required;		/* SO_*: the contexts that cannot do without it */
	size_t off, size;		/* its field of struct tko_config */
	__u32 mask;			/* the field's bits it sets (0: all) */
	__u32 min, max;			/* UINT */
	struct choice choices[3];	/* CHOICE, WAKE (also what the help calls the default) */
	bool mac;			/* WAKE: a MAC address is accepted too */
	const char *arg;		/* in the usage; CHOICE: its choices */
	const char *help;		/* the default is added (from tko_dp_config_default()) */
	/* SO_POLICY: why a local policy (no --forwarded) must leave it at its default */
	const char *forwarded_only;
};

#define FIELD(f) .off = offsetof(struct tko_config, f), .size = sizeof(((struct tko_config *)0)->f)
#define SECONDS(f) .kind = UINT, FIELD(f), .min = TKO_TIME_MIN, .max = TKO_TIME_MAX, .arg = "S"
#define ANYWHERE (SO_START | SO_POLICY | SO_CONFIG)

/*
 * The session options, in the order of the usage and the help. A new one is
 * one row here, besides its field of struct tko_config (and docs/tko.8, which
 * tests/e2e/packaging.sh holds to the help): e.g.
 *	{ .name = "max-late", .kind = UINT, FIELD(max_late), .min = 0, .max = 100,
 *	  .arg = "N", .where = SO_START | SO_POLICY, .help = "late probes tolerated" },
 * and tko start and tko policy add take --max-late N, check it and say it in
 * their usage and --help (its default: tko_dp_config_default()'s); with
 * SO_CONFIG the agent's config file takes it too, a default of tko start.
 */
static const struct session_opt opts[] = {
	{ .name = "idle", SECONDS(idle_s), .where = ANYWHERE, .required = SO_POLICY,
	  .help = "idle seconds before tko takes over" },
	{ .name = "interval", SECONDS(interval_s), .where = ANYWHERE, .required = SO_POLICY,
	  .help = "seconds between answered probes" },
	{ .name = "retry-interval", SECONDS(retry_interval_s), .where = ANYWHERE,
	  .help = "seconds after an unanswered probe" },
	{ .name = "retries", .kind = UINT, FIELD(retries), .min = 1, .max = TKO_RETRIES_MAX,
	  .arg = "N", .where = ANYWHERE, .help = "unanswered probes before the peer is dead" },
	{ .name = "probe", .kind = CHOICE, FIELD(probe),
	  .choices = { { "zero", TKO_PROBE_ZERO }, { "byte", TKO_PROBE_BYTE } }, .where = ANYWHERE,
	  .help = "probe with no payload (Linux) or one byte (BSD)" },
	{ .name = "oneshot", .kind = FLAG, FIELD(flags), .mask = TKO_F_ONESHOT,
	  .where = SO_START | SO_POLICY, .help = "end the session on traffic instead of re-arming" },
	{ .name = "on-dead", .kind = CHOICE, FIELD(flags), .mask = TKO_F_ON_DEAD_RESET,
	  .choices = { { "none", 0 }, { "reset", TKO_F_ON_DEAD_RESET } },
	  .where = SO_START | SO_POLICY, .help = "when the peer is dead, also reset the endpoint's "
	  "connection (a local socket fails at once)" },
	{ .name = "wake", .kind = WAKE, FIELD(flags), .mask = TKO_F_WAKE, .mac = true,
	  .choices = { { "auto", TKO_F_WAKE }, { "none", 0 } }, .arg = "auto|MAC|none",
	  .where = SO_START, .help = "when the peer sends data or FIN while the endpoint may be "
	  "asleep, wake it: magic packets for its MAC (auto: learned from its forwarded segments; "
	  "not for a socket of this host) on the agent's --wake-iface, and its --on-wake-exec hook" },
	/* A policy's: no MAC (one policy, many devices), and forwarded flows alone. */
	{ .name = "wake", .kind = WAKE, FIELD(flags), .mask = TKO_F_WAKE,
	  .choices = { { "auto", TKO_F_WAKE }, { "none", 0 } }, .where = SO_POLICY,
	  .forwarded_only = "a local policy's sockets are this host's, with no device to wake",
	  .help = "(forwarded policies) when the server sends data or FIN while the device may be "
	  "asleep, wake it (magic packets for the MAC learned from its segments, on the agent's "
	  "--wake-iface; the agent's --on-wake-exec hook)" },
};

_Static_assert(ARRAY_LEN(opts) <= SESSION_OPTS_MAX, "given is a bit mask of the rows");

static __u32 mask_of(const struct session_opt *o)
{
	return o->mask ? o->mask : ~0u;
}

static __u32 field_get(const struct tko_config *cfg, const struct session_opt *o)
{
	const void *p = (const char *)cfg + o->off;

	switch (o->size) {
	case 1:
		return *(const __u8 *)p;
	case 2:
		return *(const __u16 *)p;
	default:
		return *(const __u32 *)p;
	}
}

/* The bits of mask of the field to those of v. */
static void field_set(struct tko_config *cfg, const struct session_opt *o, __u32 v)
{
	void *p = (char *)cfg + o->off;

	v = (field_get(cfg, o) & ~mask_of(o)) | (v & mask_of(o));
	switch (o->size) {
	case 1:
		*(__u8 *)p = v;
		break;
	case 2:
		*(__u16 *)p = v;
		break;
	default:
		*(__u32 *)p = v;
	}
}

/* The names of the choices, separated by sep. */
static const char *choices_text(const struct session_opt *o, const char *sep, char *buf,
				size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct choice *c = o->choices; c->name && n < len; c++)
		n += snprintf(buf + n, len - n, "%s%s", c == o->choices ? "" : sep, c->name);
	return buf;
}

/* "--NAME ARG", or "--NAME" for a flag. */
static const char *label(const struct session_opt *o, char *buf, size_t len)
{
	char choices[64];
	const char *arg = o->arg;

	if (!arg && o->kind != FLAG)
		arg = choices_text(o, "|", choices, sizeof(choices));
	snprintf(buf, len, "--%s%s%s", o->name, arg ? " " : "", arg ? arg : "");
	return buf;
}

/* What the help calls its default, as the command line says it; NULL for a flag. */
static const char *default_text(const struct session_opt *o, char *buf, size_t len)
{
	struct tko_config def;
	__u32 v;

	tko_dp_config_default(&def);
	v = field_get(&def, o) & mask_of(o);
	if (o->kind == UINT) {
		snprintf(buf, len, "%u", v);
		return buf;
	}
	for (const struct choice *c = o->choices; c->name; c++)
		if (c->value == v)
			return c->name;
	return NULL;
}

void session_getopt(unsigned int ctx, const struct option *extra, struct option *out)
{
	while (extra->name)
		*out++ = *extra++;
	for (size_t i = 0; i < ARRAY_LEN(opts); i++)
		if (opts[i].where & ctx)
			*out++ = (struct option){ opts[i].name,
						  opts[i].kind == FLAG ? no_argument : required_argument,
						  NULL, SESSION_OPT_VAL + (int)i };
	*out = (struct option){};
}

int session_opt_find(unsigned int ctx, const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(opts); i++)
		if ((opts[i].where & ctx) && !strcmp(opts[i].name, name))
			return SESSION_OPT_VAL + (int)i;
	return -ENOENT;
}

static int set_choice(const struct session_opt *o, const char *arg, struct tko_config *cfg,
		      char *err, size_t errlen)
{
	char names[64];

	for (const struct choice *c = o->choices; c->name; c++)
		if (arg && !strcmp(arg, c->name)) {
			field_set(cfg, o, c->value);
			return 0;
		}
	snprintf(err, errlen, "--%s: '%s' is not one of %s", o->name, arg ? arg : "",
		 choices_text(o, ", ", names, sizeof(names)));
	return -EINVAL;
}

int session_opt_set(unsigned int ctx, int c, const char *arg, struct tko_config *cfg,
		    unsigned int *given, char *err, size_t errlen)
{
	size_t i = (size_t)(c - SESSION_OPT_VAL);
	const struct session_opt *o;
	char name[40];
	bool on = true;
	__u32 v;
	int ret;

	if (c < SESSION_OPT_VAL || i >= ARRAY_LEN(opts) || !(opts[i].where & ctx))
		return -ENOENT;
	o = &opts[i];
	snprintf(name, sizeof(name), "--%s", o->name);
	switch (o->kind) {
	case UINT:
		ret = parse_uint(arg, name, o->min, o->max, &v, err, errlen);
		if (!ret)
			field_set(cfg, o, v);
		break;
	case CHOICE:
		ret = set_choice(o, arg, cfg, err, errlen);
		break;
	case FLAG:
		ret = arg ? parse_bool(arg, &on) : 0;
		if (ret)
			snprintf(err, errlen, "%s: '%s' is not true or false", name, arg);
		else
			field_set(cfg, o, on ? o->mask : 0);
		break;
	default:
		ret = parse_wake(arg, o->mac, cfg, err, errlen);
	}
	if (!ret && given)
		*given |= 1u << i;
	return ret;
}

int session_opts_check(unsigned int ctx, const struct tko_config *cfg, unsigned int given,
		       char *err, size_t errlen)
{
	struct tko_config def;
	size_t n = 0, k = 0, missing = 0, required = 0;

	for (size_t i = 0; i < ARRAY_LEN(opts); i++)
		if (opts[i].where & opts[i].required & ctx) {
			required++;
			missing += !(given & (1u << i));
		}
	/* "--a and --b are required", "--a, --b and --c are required" */
	for (size_t i = 0; missing && i < ARRAY_LEN(opts) && n < errlen; i++)
		if (opts[i].where & opts[i].required & ctx)
			n += snprintf(err + n, errlen - n, "%s--%s", !k++ ? "" :
				      k == required ? " and " : ", ", opts[i].name);
	if (missing) {
		if (n < errlen)
			snprintf(err + n, errlen - n, " %s required", required > 1 ? "are" : "is");
		return -EINVAL;
	}
	tko_dp_config_default(&def);
	for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
		const struct session_opt *o = &opts[i];

		if ((o->where & ctx) && o->forwarded_only && !(cfg->flags & TKO_F_FORWARDED) &&
		    ((field_get(cfg, o) ^ field_get(&def, o)) & mask_of(o))) {
			snprintf(err, errlen, "--%s needs --forwarded: %s", o->name, o->forwarded_only);
			return -EINVAL;
		}
	}
	return 0;
}

void session_opts_fill(unsigned int ctx, struct tko_config *cfg, const struct tko_config *base,
		       unsigned int given)
{
	for (size_t i = 0; i < ARRAY_LEN(opts); i++)
		if ((opts[i].where & ctx) && !(given & (1u << i)))
			field_set(cfg, &opts[i], field_get(base, &opts[i]));
}

void usage_item(FILE *f, int *col, int indent, const char *item)
{
	if (*col + 1 + (int)strlen(item) > WIDTH)
		*col = fprintf(f, "\n%*s%s", indent, "", item) - 1;
	else
		*col += fprintf(f, " %s", item);
}

void session_opts_usage(FILE *f, unsigned int ctx, int *col, int indent)
{
	for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
		char l[64], item[72];

		if (!(opts[i].where & ctx))
			continue;
		label(&opts[i], l, sizeof(l));
		snprintf(item, sizeof(item), opts[i].required & ctx ? "%s" : "[%s]", l);
		usage_item(f, col, indent, item);
	}
}

void help_text(FILE *f, int col, int indent, const char *text, const char *tail)
{
	bool first = true;	/* of the line */

	for (text += strspn(text, " "); *text; text += strspn(text, " ")) {
		bool last = !text[strcspn(text, " ")] || !text[strcspn(text, " ") + 1];
		/* the tail goes with the last word: never alone on a line */
		int n = (int)strcspn(text, " "), w = n + (last && tail ? 1 + (int)strlen(tail) : 0);

		if (!first && col + 1 + w > WIDTH) {
			col = fprintf(f, "\n%*s", indent, "") - 1;
			first = true;
		}
		col += fprintf(f, "%s%.*s", first ? "" : " ", n, text);
		first = false;
		text += n;
	}
	fprintf(f, "%s%s\n", tail ? " " : "", tail ? tail : "");
}

void session_opts_help(FILE *f, unsigned int ctx)
{
	for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
		const struct session_opt *o = &opts[i];
		char l[64], def[16], tail[32];
		const char *d;

		if (!(o->where & ctx))
			continue;
		d = default_text(o, def, sizeof(def));
		if (o->required & ctx)
			snprintf(tail, sizeof(tail), "(required)");
		else if (d)
			snprintf(tail, sizeof(tail), "(default %s)", d);
		help_text(f, fprintf(f, "  %-18s  ", label(o, l, sizeof(l))), 22, o->help,
			  (o->required & ctx) || d ? tail : NULL);
	}
}

void session_opts_names(unsigned int ctx, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(opts) && n < len; i++)
		if (opts[i].where & ctx)
			n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "", opts[i].name);
}
