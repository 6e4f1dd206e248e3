/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Human and JSON renderings of keys, sessions, events. */
#ifndef TKO_FORMAT_H
#define TKO_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include "tko_types.h"

#define ENDPOINT_STRLEN 56	/* "[ffff:...:ffff]:65535" */

const char *state_name(__u8 state);
const char *event_name(__u8 type);
const char *reason_name(__u8 reason);

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

#endif /* TKO_FORMAT_H */
