// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * include/tko.h: libtko's own types, converted to the datapath's
 * (include/tko_types.h) and back here, and nowhere else. The work is
 * tko_dp_*'s (tko.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "format.h"
#include "tko.h"
#include "tko_dp.h"

/*
 * The numbers tko.h shares with the datapath: a session's state, an
 * event's type and reason pass unchanged. A datapath that renumbers one
 * fails to build here, and its conversion becomes a table.
 */
#define SAME(pub, dp) _Static_assert((int)(pub) == (int)(dp), #pub " is not " #dp);
SAME(TKO_SESSION_NONE, TKO_FREE)
SAME(TKO_SESSION_LEARNING, TKO_LEARNING)
SAME(TKO_SESSION_ACTIVE, TKO_ACTIVE)
SAME(TKO_SESSION_SUSPENDED, TKO_SUSPENDED)
SAME(TKO_SESSION_PEER_DEAD, TKO_PEER_DEAD)
SAME(TKO_SESSION_STOPPED, TKO_STOPPED)
SAME(TKO_EVENT_OFFLOADED, TKO_EV_OFFLOADED)
SAME(TKO_EVENT_SUSPENDED, TKO_EV_SUSPENDED)
SAME(TKO_EVENT_RESUMED, TKO_EV_RESUMED)
SAME(TKO_EVENT_INVALIDATED, TKO_EV_INVALIDATED)
SAME(TKO_EVENT_PEER_DEAD, TKO_EV_PEER_DEAD)
SAME(TKO_EVENT_STOPPED, TKO_EV_STOPPED)
SAME(TKO_EVENT_STARTED, TKO_EV_STARTED)
SAME(TKO_EVENT_REFUSED, TKO_EV_REFUSED)
SAME(TKO_EVENT_WAITING, TKO_EV_WAITING)
SAME(TKO_EVENT_WARNING, TKO_EV_WARNING)
SAME(TKO_EVENT_WAKE, TKO_EV_WAKE)
SAME(TKO_REASON_NONE, TKO_R_NONE)
SAME(TKO_REASON_REQUEST, TKO_R_REQUEST)
SAME(TKO_REASON_IDLE, TKO_R_IDLE)
SAME(TKO_REASON_DATA_LOCAL, TKO_R_DATA_LOCAL)
SAME(TKO_REASON_DATA_PEER, TKO_R_DATA_PEER)
SAME(TKO_REASON_FIN_LOCAL, TKO_R_FIN_LOCAL)
SAME(TKO_REASON_FIN_PEER, TKO_R_FIN_PEER)
SAME(TKO_REASON_RST_LOCAL, TKO_R_RST_LOCAL)
SAME(TKO_REASON_RST_PEER, TKO_R_RST_PEER)
SAME(TKO_REASON_SYN_LOCAL, TKO_R_SYN_LOCAL)
SAME(TKO_REASON_DRIFT, TKO_R_DRIFT)
SAME(TKO_REASON_RETRIES, TKO_R_RETRIES)
SAME(TKO_REASON_POLICY, TKO_R_POLICY)
SAME(TKO_REASON_CLOSED, TKO_R_CLOSED)
SAME(TKO_REASON_TABLE_FULL, TKO_R_TABLE_FULL)
SAME(TKO_REASON_INDEX_FULL, TKO_R_INDEX_FULL)
SAME(TKO_REASON_BUSY, TKO_R_BUSY)
SAME(TKO_REASON_IN_FLIGHT, TKO_R_IN_FLIGHT)
SAME(TKO_REASON_NO_PATH, TKO_R_NO_PATH)
SAME(TKO_REASON_LINK_DOWN, TKO_R_LINK_DOWN)
SAME(TKO_REASON_ROUTE, TKO_R_ROUTE)
SAME(TKO_REASON_TS_LIMIT, TKO_R_TS_LIMIT)
SAME(TKO_REASON_NO_TRAFFIC, TKO_R_NO_TRAFFIC)
SAME(TKO_REASON_CT_MISSING, TKO_R_CT_MISSING)
SAME(TKO_REASON_TS_MISMATCH, TKO_R_TS_MISMATCH)
SAME(TKO_REASON_SIGNED, TKO_R_SIGNED)
SAME(TKO_REASON_REWRITE, TKO_R_REWRITE)
SAME(TKO_REASON_NO_ACK, TKO_R_NO_ACK)
SAME(TKO_REASON_WAKE_UNKNOWN, TKO_R_WAKE_UNKNOWN)
SAME(TKO_REASON_WAKE_FAILED, TKO_R_WAKE_FAILED)

/* struct tko_options.flags and the datapath's tko_config.flags (the probe
 * style, TKO_OPT_PROBE_BYTE, is tko_config.probe). */
static const struct {
	uint32_t opt;
	__u8 flag;
} opt_flags[] = {
	{ TKO_OPT_ONESHOT, TKO_F_ONESHOT },
	{ TKO_OPT_RESET_ON_DEAD, TKO_F_ON_DEAD_RESET },
	{ TKO_OPT_WAKE, TKO_F_WAKE },
};

/* struct tko_handoff.have and the datapath's TKO_HAVE_*. */
static const struct {
	uint32_t handoff;
	__u32 have;
} have_bits[] = {
	{ TKO_HANDOFF_SEQ, TKO_HAVE_SEQ },
	{ TKO_HANDOFF_TS, TKO_HAVE_TS },
	{ TKO_HANDOFF_UNA, TKO_HAVE_UNA },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The fields both sides name alike, copied either way: to->f = from->f. */
#define OPTIONS_FIELDS(X) X(idle_s) X(interval_s) X(retry_interval_s) X(retries)
#define TCP_FIELDS(X) X(snd_una) X(snd_nxt) X(rcv_nxt) X(ts_val) X(ts_ecr) X(window) X(wscale)
#define COUNTS_FIELDS(X) X(probes_sent) X(probes_answered) X(peer_probes_answered) \
			 X(unanswered) X(answers_limited) X(probes_late)
#define COPY(f) to->f = from->f;

static int key_of(const struct tko_tuple *tu, struct tko_key *k)
{
	size_t len = tu->family == AF_INET ? 4 : tu->family == AF_INET6 ? 16 : 0;

	if (!len)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->family = tu->family == AF_INET ? TKO_AF_INET : TKO_AF_INET6;
	k->lport = tu->local_port;
	k->rport = tu->remote_port;
	/* IPv4: the rest stays zero, as the datapath hashes it */
	memcpy(k->laddr, tu->local_addr, len);
	memcpy(k->raddr, tu->remote_addr, len);
	return 0;
}

static void tuple_of(const struct tko_key *k, struct tko_tuple *tu)
{
	memset(tu, 0, sizeof(*tu));
	tu->family = k->family == TKO_AF_INET6 ? AF_INET6 : AF_INET;
	tu->local_port = k->lport;
	tu->remote_port = k->rport;
	memcpy(tu->local_addr, k->laddr, sizeof(tu->local_addr));
	memcpy(tu->remote_addr, k->raddr, sizeof(tu->remote_addr));
}

/* -EINVAL: a flag this version does not know. */
static int config_of(const struct tko_options *from, struct tko_config *to)
{
	uint32_t known = TKO_OPT_PROBE_BYTE;

	memset(to, 0, sizeof(*to));
	OPTIONS_FIELDS(COPY)
	to->probe = from->flags & TKO_OPT_PROBE_BYTE ? TKO_PROBE_BYTE : TKO_PROBE_ZERO;
	for (size_t i = 0; i < ARRAY_LEN(opt_flags); i++) {
		known |= opt_flags[i].opt;
		if (from->flags & opt_flags[i].opt)
			to->flags |= opt_flags[i].flag;
	}
	memcpy(to->wake_mac, from->wake_mac, sizeof(to->wake_mac));
	return from->flags & ~known ? -EINVAL : 0;
}

static void options_of(const struct tko_config *from, struct tko_options *to)
{
	memset(to, 0, sizeof(*to));
	OPTIONS_FIELDS(COPY)
	to->flags = from->probe == TKO_PROBE_BYTE ? TKO_OPT_PROBE_BYTE : 0;
	for (size_t i = 0; i < ARRAY_LEN(opt_flags); i++)
		if (from->flags & opt_flags[i].flag)
			to->flags |= opt_flags[i].opt;
	memcpy(to->wake_mac, from->wake_mac, sizeof(to->wake_mac));
}

/* The datapath's own clock of the timestamps stays TKO_TS_CLOCK_LAST (0). */
static void tcp_of(const struct tko_handoff *from, struct tko_tcp_state *to, __u8 *have)
{
	memset(to, 0, sizeof(*to));
	TCP_FIELDS(COPY)
	*have = 0;
	for (size_t i = 0; i < ARRAY_LEN(have_bits); i++)
		if (from->have & have_bits[i].handoff)
			*have |= have_bits[i].have;
}

static void handoff_of(const struct tko_tcp_state *from, __u32 have, struct tko_handoff *to)
{
	memset(to, 0, sizeof(*to));
	TCP_FIELDS(COPY)
	for (size_t i = 0; i < ARRAY_LEN(have_bits); i++)
		if (have & have_bits[i].have)
			to->have |= have_bits[i].handoff;
}

static void counts_of(const struct tko_counters *from, struct tko_counts *to)
{
	COUNTS_FIELDS(COPY)
}

static void session_of(__u32 id, const struct tko_session *s, struct tko_session_info *o)
{
	memset(o, 0, sizeof(*o));
	o->id = id;
	tuple_of(&s->key, &o->tuple);
	options_of(&s->cfg, &o->options);
	o->state = s->state;
	handoff_of(&s->tcp, s->have, &o->tcp);
	counts_of(&s->cnt, &o->counts);
	o->ifindex = s->ifindex;
	o->policy = s->policy;
	o->started_ns = s->started_ns;
	o->next_ns = s->next_ns;
}

static void event_of(const struct tko_event *e, struct tko_event_info *o)
{
	memset(o, 0, sizeof(*o));
	o->seq = e->seq;
	o->ts_ns = e->ts_ns;
	tuple_of(&e->key, &o->tuple);
	o->type = e->type;
	o->reason = e->reason;
	o->state = e->state;
	o->next_probe_ms = e->next_probe_ms;
	handoff_of(&e->tcp, 0, &o->tcp);
	counts_of(&e->cnt, &o->counts);
}

static void socket_of(const struct tko_capture *c, struct tko_socket *o)
{
	memset(o, 0, sizeof(*o));
	o->established = c->established;
	o->unacked = c->unacked;
	o->unsent = c->unsent;
	o->unread = c->unread;
	handoff_of(&c->tcp, c->have, &o->tcp);
}

/* One start, in the datapath's terms (tko_dp_session_start's arguments). */
struct dp_start {
	struct tko_key key;
	struct tko_config cfg;
	struct tko_tcp_state tcp;
	__u8 have;
	bool given;	/* tcp is the endpoint's, handed over */
};

static int dp_start_of(const struct tko_tuple *tu, const struct tko_options *o,
		       const struct tko_handoff *h, struct dp_start *d)
{
	d->given = h && h->have;
	d->have = 0;
	if (d->given)
		tcp_of(h, &d->tcp, &d->have);
	return key_of(tu, &d->key) ?: config_of(o, &d->cfg);
}

void tko_options_default(struct tko_options *o)
{
	struct tko_config c;

	tko_dp_config_default(&c);
	options_of(&c, o);
}

int tko_options_agent_default(struct tko *t, struct tko_options *o)
{
	struct tko_config c;
	int err = tko_dp_config_agent_default(t, &c);

	options_of(&c, o);
	return err;
}

int tko_session_start(struct tko *t, const struct tko_tuple *tuple,
		      const struct tko_options *o, const struct tko_handoff *tcp)
{
	struct dp_start d;

	return dp_start_of(tuple, o, tcp, &d) ?:
	       tko_dp_session_start(t, &d.key, &d.cfg, d.given ? &d.tcp : NULL, d.have);
}

size_t tko_session_start_batch(struct tko *t, const struct tko_start *starts, size_t n,
			       int *results)
{
	/*
	 * TKO_BATCH_MAX at a time, as the control program takes them; what
	 * tko_session_start refuses before asking the kernel is refused here
	 * alone. Off the stack, and the call's own (threads).
	 */
	struct chunk {
		struct tko_ctl_args args[TKO_BATCH_MAX];
		int results[TKO_BATCH_MAX];
		size_t at[TKO_BATCH_MAX];	/* its index in starts */
	} *c = n ? malloc(sizeof(*c)) : NULL;
	size_t done = 0, started = 0;

	if (n && !c) {
		for (size_t i = 0; i < n; i++)
			results[i] = -ENOMEM;
		return 0;
	}
	while (done < n) {
		size_t k = 0;

		for (; done < n && k < TKO_BATCH_MAX; done++) {
			const struct tko_start *s = &starts[done];
			struct dp_start d;

			results[done] = dp_start_of(&s->tuple, &s->options, &s->tcp, &d) ?:
					tko_dp_start_args(&d.key, &d.cfg, d.given ? &d.tcp : NULL,
							  d.have, &c->args[k]);
			if (!results[done])
				c->at[k++] = done;
		}
		started += tko_dp_session_start_batch(t, c->args, k, c->results);
		for (size_t i = 0; i < k; i++)
			results[c->at[i]] = c->results[i];
	}
	free(c);
	return started;
}

int tko_capture(struct tko *t, const struct tko_tuple *tuple, struct tko_socket *s)
{
	struct tko_capture c;
	struct tko_key key;
	int err = key_of(tuple, &key) ?: tko_dp_capture(t, &key, &c);

	if (!err)
		socket_of(&c, s);
	return err;
}

int tko_session_start_local(struct tko *t, const struct tko_tuple *tuple,
			    const struct tko_options *o, struct tko_socket *s)
{
	struct tko_capture c = {};
	struct tko_config cfg;
	struct tko_key key;
	int err = key_of(tuple, &key) ?: config_of(o, &cfg);

	if (!err)
		err = tko_dp_session_start_local(t, &key, &cfg, &c);
	if (s)
		socket_of(&c, s);
	return err;
}

/* A connected TCP socket's tuple. */
static int tuple_of_fd(int fd, struct tko_tuple *tu)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	int type;
	socklen_t tl = sizeof(type);

	memset(tu, 0, sizeof(*tu));
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) || type != SOCK_STREAM)
		return -ENOTSOCK;
	if (getsockname(fd, (void *)&l, &ll) || getpeername(fd, (void *)&r, &rl))
		return -errno;
	if (l.ss_family == AF_INET) {
		const struct sockaddr_in *a = (void *)&l, *b = (void *)&r;

		tu->family = AF_INET;
		memcpy(tu->local_addr, &a->sin_addr, 4);
		memcpy(tu->remote_addr, &b->sin_addr, 4);
		tu->local_port = ntohs(a->sin_port);
		tu->remote_port = ntohs(b->sin_port);
	} else if (l.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (void *)&l, *b = (void *)&r;

		/* A v4-mapped IPv6 socket is IPv4 on the wire. */
		if (IN6_IS_ADDR_V4MAPPED(&b->sin6_addr)) {
			tu->family = AF_INET;
			memcpy(tu->local_addr, &a->sin6_addr.s6_addr[12], 4);
			memcpy(tu->remote_addr, &b->sin6_addr.s6_addr[12], 4);
		} else {
			tu->family = AF_INET6;
			memcpy(tu->local_addr, &a->sin6_addr, 16);
			memcpy(tu->remote_addr, &b->sin6_addr, 16);
		}
		tu->local_port = ntohs(a->sin6_port);
		tu->remote_port = ntohs(b->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

int tko_session_start_fd(struct tko *t, int fd, const struct tko_options *o)
{
	struct tko_tuple tuple;

	return tuple_of_fd(fd, &tuple) ?: tko_session_start_local(t, &tuple, o, NULL);
}

int tko_session_stop(struct tko *t, const struct tko_tuple *tuple)
{
	struct tko_key key;

	return key_of(tuple, &key) ?: tko_dp_session_stop(t, &key);
}

int tko_session_get(struct tko *t, const struct tko_tuple *tuple, struct tko_session_info *s)
{
	struct tko_session e;
	struct tko_key key;
	__u32 id;
	int err = key_of(tuple, &key) ?: tko_dp_session_find(t, &key, &id, &e);

	if (!err)
		session_of(id, &e, s);
	return err;
}

struct walk {
	tko_session_fn session;
	tko_event_fn event;
	void *ctx;
};

static int walk_session(__u32 id, const struct tko_session *s, void *ctx)
{
	const struct walk *w = ctx;
	struct tko_session_info info;

	session_of(id, s, &info);
	return w->session(&info, w->ctx);
}

int tko_session_foreach(struct tko *t, tko_session_fn cb, void *ctx)
{
	struct walk w = { .session = cb, .ctx = ctx };

	return tko_dp_session_foreach(t, walk_session, &w);
}

static int walk_event(const struct tko_event *e, void *ctx)
{
	const struct walk *w = ctx;
	struct tko_event_info info;

	event_of(e, &info);
	return w->event(&info, w->ctx);
}

int tko_events_read(struct tko *t, uint64_t *after, tko_event_fn cb, void *ctx)
{
	struct walk w = { .event = cb, .ctx = ctx };
	__u64 a = *after;
	int err = tko_dp_events_read(t, &a, walk_event, &w);

	*after = a;
	return err;
}

int tko_stats_read(struct tko *t, struct tko_counter *out, size_t max)
{
	__u64 v[TKO_ST_MAX];
	int err = tko_dp_stats_read(t, v);

	if (err)
		return err;
	for (size_t i = 0; i < TKO_ST_MAX && i < max; i++)
		out[i] = (struct tko_counter){ .name = stat_name(i), .help = stat_help(i),
					    .value = v[i] };
	return TKO_ST_MAX;
}

/* The datapath's names (agent/lib/format.c): the numbers are the same (SAME). */
const char *tko_state_name(int state)
{
	return state >= 0 && state <= 255 ? state_name(state) : "unknown";
}

const char *tko_event_name(int type)
{
	return type >= 0 && type <= 255 ? event_name(type) : "unknown";
}

const char *tko_reason_name(int reason)
{
	return reason >= 0 && reason <= 255 ? reason_name(reason) : "unknown";
}
