/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The session options (--idle, --interval, --probe, ...): the fields of
 * struct tko_config as `tko start`, `tko policy add` and the agent's config
 * file take them. One table (session_opts.c) says each one's name, argument,
 * range or choices, field, help and where it is accepted; the three parsers,
 * their checks, the usage and the help are made from it.
 */
#ifndef TKO_SESSION_OPTS_H
#define TKO_SESSION_OPTS_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include "tko_types.h"

/* Where a session option is accepted: its contexts. */
enum {
	SO_START = 1 << 0,	/* tko start, and the lines of its --file */
	SO_POLICY = 1 << 1,	/* tko policy add, and the config's 'policy = ' lines */
	SO_CONFIG = 1 << 2,	/* the agent's config file: the defaults of tko start */
};

/* getopt_long's val of the table's row i is SESSION_OPT_VAL + i. */
#define SESSION_OPT_VAL 0x100
/* Rows at the most: a context's given options are a bit mask of them. */
#define SESSION_OPTS_MAX 32

/*
 * getopt_long's options for ctx into opts: extra (up to its empty entry),
 * the session options ctx takes, an empty entry. opts has room for
 * SESSION_OPTS_MAX more entries than extra.
 */
void session_getopt(unsigned int ctx, const struct option *extra, struct option *opts);

/* The val of the session option named name that ctx takes, or -ENOENT. */
int session_opt_find(unsigned int ctx, const char *name);

/*
 * The session option of getopt_long's val c, with its argument (NULL for
 * one without), into *cfg, and its bit into *given (given may be NULL).
 * Returns 0, -ENOENT (c is no session option of ctx), or -EINVAL/-ERANGE
 * with one sentence in err.
 */
int session_opt_set(unsigned int ctx, int c, const char *arg, struct tko_config *cfg,
		    unsigned int *given, char *err, size_t errlen);

/*
 * What the options of ctx leave wrong in cfg, given what was given: one
 * ctx requires missing, or one only a forwarded policy takes (cfg->flags
 * without TKO_F_FORWARDED) not at its default. 0 or -EINVAL with err.
 */
int session_opts_check(unsigned int ctx, const struct tko_config *cfg, unsigned int given,
		       char *err, size_t errlen);

/* The fields of the options of ctx that were not given, from base. */
void session_opts_fill(unsigned int ctx, struct tko_config *cfg, const struct tko_config *base,
		       unsigned int given);

/* " ITEM" at *col, or on a new line indented by indent if it would pass column 80. */
void usage_item(FILE *f, int *col, int indent, const char *item);

/* The session options of ctx as usage items: "[--retries N]", "--idle S" where required. */
void session_opts_usage(FILE *f, unsigned int ctx, int *col, int indent);

/*
 * text from column col, wrapped at column 80 with the lines after indented
 * by indent, then tail (if not NULL) unbroken, then a newline.
 */
void help_text(FILE *f, int col, int indent, const char *text, const char *tail);

/* One entry per session option of ctx: "  --idle S            HELP (default 60)". */
void session_opts_help(FILE *f, unsigned int ctx);

/* The names of the session options of ctx into buf: "idle, interval, ...". */
void session_opts_names(unsigned int ctx, char *buf, size_t len);

#endif /* TKO_SESSION_OPTS_H */
