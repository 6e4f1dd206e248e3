/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's Prometheus endpoint (tko agent --metrics ADDR:PORT): GET or
 * HEAD /metrics, served by libmicrohttpd from a thread of its own that
 * sleeps until a request comes.
 */
#ifndef TKO_METRICS_HTTP_H
#define TKO_METRICS_HTTP_H

#include <stddef.h>
#include <sys/socket.h>
#include "format.h"

struct metrics_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[ENDPOINT_STRLEN];	/* as format_endpoint writes it */
};

/* "ADDR:PORT" or "[ADDR6]:PORT": 0, or -EINVAL with one sentence in err. */
int metrics_parse_addr(const char *s, struct metrics_addr *a, char *err, size_t errlen);

struct metrics_http;

/*
 * Listen on a and serve the figures of the datapath pinned in pin_dir
 * (already pinned) into *h. Says "metrics on http://ADDR:PORT/metrics" and
 * returns 0, or says why not in one sentence on stderr and returns -errno
 * (address in use, not local, ...; -EIO: libmicrohttpd's server did not
 * start).
 */
int metrics_start(const struct metrics_addr *a, const char *pin_dir, struct metrics_http **h);

/* Stop serving (waits for a request being answered); NULL is fine. */
void metrics_stop(struct metrics_http *h);

#endif /* TKO_METRICS_HTTP_H */
