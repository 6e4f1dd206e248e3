/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Parsing of command line values. Each parser returns 0 or -EINVAL/-ERANGE and,
 * on error, writes one sentence into err for the user. */
#ifndef TKO_PARSE_H
#define TKO_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include "tko_types.h"

/* "ADDR:PORT" or "[ADDR6]:PORT". */
int parse_endpoint(const char *s, __u8 *family, __u8 addr[16], __u16 *port,
		   char *err, size_t errlen);

/* LOCAL and REMOTE into a session key; both must be the same family. */
int parse_key(const char *local, const char *remote, struct tko_key *key,
	      char *err, size_t errlen);

/* A whole number in [min, max]; name is the option, for the message. */
int parse_uint(const char *s, const char *name, unsigned long min, unsigned long max,
	       __u32 *out, char *err, size_t errlen);

/* "snd_nxt=N,rcv_nxt=N,win=N[,wscale=N][,tsval=N,tsecr=N]"; *have gets TKO_HAVE_*. */
int parse_state(const char *s, struct tko_tcp_state *tcp, __u8 *have,
		char *err, size_t errlen);

/* "zero" or "byte": --probe as the session options (session_opts.h) take it. */
int parse_probe(const char *s, __u8 *probe, char *err, size_t errlen);

/* "true", "yes", "1" or "false", "no", "0": 0 or -EINVAL, silently. */
int parse_bool(const char *s, bool *on);

/* "aa:bb:cc:dd:ee:ff" (hex digits, either case): 0 or -EINVAL, silently. */
int parse_mac(const char *s, __u8 mac[6]);

/*
 * --wake: "none", "auto" or (with_mac) the endpoint's MAC: sets or clears
 * TKO_F_WAKE and cfg->wake_mac.
 */
int parse_wake(const char *s, bool with_mac, struct tko_config *cfg, char *err, size_t errlen);

#endif /* TKO_PARSE_H */
