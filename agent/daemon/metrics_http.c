// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tko agent --metrics: the Prometheus endpoint. libmicrohttpd parses HTTP
 * and runs one thread of its own, asleep in epoll_wait until a connection
 * or a request arrives (no timer while no connection is open; an idle
 * keep-alive connection is closed after CONNECTION_TIMEOUT_S). The body is
 * format_prometheus(), as `tko stats --prometheus` prints it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>

#include "format.h"
#include "log.h"
#include "metrics_http.h"
#include "parse.h"
#include "tko.h"

#define CONNECTION_LIMIT	16
#define CONNECTION_TIMEOUT_S	30
#define CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct MHD_Daemon *daemon;
	struct tko *t;		/* used by the server's thread alone */
};

int metrics_parse_addr(const char *s, struct metrics_addr *a, char *err, size_t errlen)
{
	__u8 family, addr[16];
	char why[256];
	__u16 port;

	memset(a, 0, sizeof(*a));
	if (parse_endpoint(s, &family, addr, &port, why, sizeof(why))) {
		snprintf(err, errlen, "--metrics: %s", why);
		return -EINVAL;
	}
	format_endpoint(family, addr, port, a->text, sizeof(a->text));
	if (family == TKO_AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		a->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		a->len = sizeof(*sin);
	}
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;	/* MHD closes the connection */
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text_reply(struct MHD_Connection *c, unsigned int status, const char *msg)
{
	return reply(c, status, "text/plain; charset=utf-8", (char *)msg, strlen(msg),
		     MHD_RESPMEM_MUST_COPY);
}

/* Called by MHD for each request, on its thread; MHD answers HEAD without the body. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **req_cls)
{
	struct metrics_http *h = cls;
	struct tko_metrics m;
	char *body = NULL, msg[128];
	size_t len = 0;
	FILE *f;
	int err;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (strcmp(url, "/metrics"))
		return text_reply(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	err = metrics_read(h->t, &m);
	if (!err) {
		f = open_memstream(&body, &len);
		err = !f ? -errno : format_prometheus(&m, f);
		if (f && fclose(f) && !err)
			err = -errno;
	}
	if (err) {
		free(body);
		snprintf(msg, sizeof(msg), "cannot read the counters: %s\n", strerror(-err));
		return text_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	return reply(c, MHD_HTTP_OK, CONTENT_TYPE, body, len, MHD_RESPMEM_MUST_FREE);
}

/* MHD's own messages (a client that misbehaved, ...): only with -v. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	if (!log_verbose)
		return;
	fputs("tko: metrics: ", stderr);
	vfprintf(stderr, fmt, ap);
}

static int listen_on(const struct metrics_addr *a)
{
	int one = 1, fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	/* A restarted agent must not wait for the last one's TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) || listen(fd, CONNECTION_LIMIT)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int metrics_start(const struct metrics_addr *a, const char *pin_dir, struct metrics_http **hp)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	sigset_t all, old;
	int fd, err;

	*hp = NULL;
	if (!h) {
		pr_warn("--metrics: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	err = tko_open(pin_dir, &h->t);
	if (err) {
		pr_warn("--metrics: cannot open the pins in %s: %s", pin_dir, strerror(-err));
		free(h);
		return err;
	}
	fd = listen_on(a);
	if (fd < 0) {
		pr_warn("--metrics %s: cannot listen there: %s", a->text, strerror(-fd));
		metrics_stop(h);
		return fd;
	}
	/* The server's thread inherits this mask: SIGINT and SIGTERM must go
	 * to the main thread, whose wait they end. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				     MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
				     MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL,
				     MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				     MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!h->daemon) {
		pr_warn("--metrics %s: libmicrohttpd could not start its server", a->text);
		close(fd);
		metrics_stop(h);
		return -EIO;
	}
	pr_info("metrics on http://%s/metrics", a->text);
	*hp = h;
	return 0;
}

void metrics_stop(struct metrics_http *h)
{
	if (!h)
		return;
	if (h->daemon)
		MHD_stop_daemon(h->daemon);	/* joins its thread, closes the socket */
	if (h->t)
		tko_close(h->t);
	free(h);
}
