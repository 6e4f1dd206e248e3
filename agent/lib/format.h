/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Human, JSON and Prometheus renderings of keys, sessions, events, counters. */
#ifndef TKO_FORMAT_H
#define TKO_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "tko_types.h"

struct tko;

#define ENDPOINT_STRLEN 56	/* "[ffff:...:ffff]:65535" */

const char *state_name(__u8 state);
const char *event_name(__u8 type);
const char *reason_name(__u8 reason);
/* How an interface answers (enum tko_answer_path) and why (enum tko_answer_why). */
const char *answer_path_name(__u8 path);	/* "xdp", "tc" */
const char *answer_why_name(__u8 why);		/* "veth", "xdp_tx_lost", ... */
const char *answer_why_text(__u8 why);		/* a phrase for the agent's log */

/* The kernel's features (TKO_FEAT_*, one bit): a name for tko stats, and what
 * doing without it means (NULL: nothing lost). */
const char *feature_name(__u32 bit);
const char *feature_lack(__u32 bit);

/* "kernel RELEASE name=yes|no ..." (or its JSON object) of the agent's kernel. */
int format_kernel(const char *release, __u32 features, bool json, char *buf, size_t len);

/*
 * An interface name (at most 16 bytes) inside a JSON string or a Prometheus
 * label value: '"' and '\\' are legal in names, and escaped the same way in both.
 */
void escape_name(const char *name, char *out, size_t len);	/* len >= 34 */

/* `tko stats`: one interface, a line ("iface NAME ifindex=...") or a JSON object. */
int format_iface(const struct tko_iface *e, bool json, char *buf, size_t len);

/* "10.0.0.1:80" or "[fd00::1]:80". */
void format_endpoint(__u8 family, const __u8 addr[16], __u16 port, char *buf, size_t len);
void format_key(const struct tko_key *k, char *local, char *remote);	/* ENDPOINT_STRLEN each */

/*
 * One line, without newline. Text: "<event> <local> -> <remote> reason=...";
 * JSON: one object. Returns snprintf's count.
 */
int format_event(const struct tko_event *e, bool json, char *buf, size_t len);

/* `tko list`: header line, one row per session, or a JSON object per session. */
const char *session_header(void);
int format_session(const struct tko_key *k, const struct tko_session *s, __u64 now_ns,
		   bool json, char *buf, size_t len);

/*
 * The global counters (enum tko_stat): their name in `tko stats` (and, as
 * tko_NAME_total, in Prometheus) and a sentence saying what they count.
 * NULL past the last one.
 */
const char *stat_name(unsigned int i);
const char *stat_help(unsigned int i);

/* Everything `tko stats --prometheus` and the agent's /metrics show. */
struct tko_metrics {
	__u64 stats[TKO_ST_MAX];		/* enum tko_stat */
	__u64 events[TKO_EV_STATS_LEN];		/* type * TKO_REASONS_MAX + reason */
	__u64 sessions[256];			/* by state */
	struct tko_iface ifaces[2 * TKO_MAX_IFACES];	/* the `ifaces` map, by ifindex */
	int nifaces;
	char kernel[64];			/* the agent's kernel, "" if not known */
	__u32 features;				/* TKO_FEAT_* */
};

/* Read them from an open pin directory: 0 or -errno. */
int metrics_read(struct tko *t, struct tko_metrics *m);

/* The Prometheus text exposition format (0.0.4) of m into f: 0 or -EIO. */
int format_prometheus(const struct tko_metrics *m, FILE *f);

#endif /* TKO_FORMAT_H */
