// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libtko: sessions, events and counters through the agent's pins, in the
 * datapath's own types (tko_dp.h). include/tko.h's API is this, converted
 * (api.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tko_dp.h"
#include "tko_hash.h"
#include "pins.h"
#include "route.h"

struct tko {
	char pin_dir[PATH_MAX];
	int sessions_fd;
	int index_fd;
	int table_fd;
	int event_log_fd;
	int stats_fd;
	int start_fd;
	int stop_fd;
	struct tko_table table;	/* geometry and seed: fixed once loaded */
};

const char *tko_default_pin_dir(void)
{
	const char *d = getenv("TKO_PIN_DIR");

	return d && *d ? d : TKO_PIN_DIR_DEFAULT;
}

void tko_dp_config_default(struct tko_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* Below the shortest NAT/LB idle timeouts met in practice (4 min). */
	cfg->idle_s = 60;
	cfg->interval_s = 60;
	cfg->retry_interval_s = 10;
	cfg->retries = 5;
	cfg->probe = TKO_PROBE_ZERO;
}

static int tko_config_check(const struct tko_config *cfg)
{
	return cfg->idle_s < TKO_TIME_MIN || cfg->idle_s > TKO_TIME_MAX ||
	       cfg->interval_s < TKO_TIME_MIN || cfg->interval_s > TKO_TIME_MAX ||
	       cfg->retry_interval_s < TKO_TIME_MIN || cfg->retry_interval_s > TKO_TIME_MAX ||
	       cfg->retries < 1 || cfg->retries > TKO_RETRIES_MAX || cfg->probe > TKO_PROBE_BYTE;
}

void tko_close(struct tko *t)
{
	if (!t)
		return;
	int *fds[] = { &t->sessions_fd, &t->index_fd, &t->table_fd, &t->event_log_fd,
		       &t->stats_fd, &t->start_fd, &t->stop_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	free(t);
}

static int tko_table_read(int fd, struct tko_table *tb)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(fd, &zero, tb);
}

int tko_open(const char *pin_dir, struct tko **out)
{
	struct tko *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	snprintf(t->pin_dir, sizeof(t->pin_dir), "%s", pin_dir);
	t->sessions_fd = tko_pin_get(pin_dir, P_SESSIONS);
	t->index_fd = tko_pin_get(pin_dir, P_INDEX);
	t->table_fd = tko_pin_get(pin_dir, P_TABLE);
	t->event_log_fd = tko_pin_get(pin_dir, P_EVENT_LOG);
	t->stats_fd = tko_pin_get(pin_dir, P_STATS);
	t->start_fd = tko_pin_get(pin_dir, P_CTL_START);
	t->stop_fd = tko_pin_get(pin_dir, P_CTL_STOP);
	err = t->sessions_fd < 0 ? t->sessions_fd :
	      t->index_fd < 0 ? t->index_fd :
	      t->table_fd < 0 ? t->table_fd :
	      t->event_log_fd < 0 ? t->event_log_fd :
	      t->stats_fd < 0 ? t->stats_fd :
	      t->start_fd < 0 ? t->start_fd :
	      t->stop_fd < 0 ? t->stop_fd : 0;
	if (!err && tko_table_read(t->table_fd, &t->table))
		err = -errno;
	if (!err && !t->table.buckets)
		err = -EPROTO;	/* a table nobody set up */
	if (err) {
		tko_close(t);
		return err;
	}
	*out = t;
	return 0;
}

int tko_dp_config_agent_default(struct tko *t, struct tko_config *cfg)
{
	struct tko_config pinned;
	__u32 zero = 0;
	int fd, err = 0;

	tko_dp_config_default(cfg);
	fd = tko_pin_get(t->pin_dir, P_DEFAULTS);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;	/* an agent without configured defaults */
	if (bpf_map_lookup_elem(fd, &zero, &pinned))
		err = -errno;
	else if (pinned.idle_s)	/* all zero: never set */
		*cfg = pinned;
	close(fd);
	return err;
}

static int run_ctl(int prog_fd, struct tko_ctl_args *args)
{
	return tko_ctl_call(prog_fd, args, sizeof(*args));
}

int tko_dp_start_args(const struct tko_key *key, const struct tko_config *cfg,
		      const struct tko_tcp_state *tcp, __u8 have, struct tko_ctl_args *args)
{
	if (tko_config_check(cfg))
		return -EINVAL;
	if (key->family != TKO_AF_INET && key->family != TKO_AF_INET6)
		return -EINVAL;
	if (tcp && tcp->wscale > 14)	/* RFC 7323 2.3 */
		return -EINVAL;
	memset(args, 0, sizeof(*args));
	args->key = *key;
	args->cfg = *cfg;
	args->cfg.flags &= ~TKO_F_STATE_GIVEN;
	if (tcp) {
		args->cfg.flags |= TKO_F_STATE_GIVEN;
		args->tcp = *tcp;
		args->have = have & (TKO_HAVE_SEQ | TKO_HAVE_TS);
	}
	return 0;
}

static int start_args(struct tko *t, struct tko_ctl_args *args)
{
	return run_ctl(t->start_fd, args);
}

int tko_dp_session_start(struct tko *t, const struct tko_key *key, const struct tko_config *cfg,
			 const struct tko_tcp_state *tcp, __u8 have)
{
	struct tko_ctl_args args;

	return tko_dp_start_args(key, cfg, tcp, have, &args) ?: start_args(t, &args);
}

size_t tko_dp_session_start_batch(struct tko *t, const struct tko_ctl_args *args, size_t n,
				  int *results)
{
	/* 30 KiB: not on the stack, and the caller's own (calls may run in
	 * several threads at once). */
	struct tko_ctl_batch *b = n ? malloc(sizeof(*b)) : NULL;
	int fd = b ? tko_pin_get(t->pin_dir, P_CTL_START_BATCH) : -ENOMEM;
	size_t done = 0, started = 0;

	while (done < n) {
		size_t chunk = n - done < TKO_BATCH_MAX ? n - done : TKO_BATCH_MAX;
		int ret, k;

		/* An agent without the batch program (or no memory for the
		 * request): one by one. */
		if (fd < 0) {
			struct tko_ctl_args one = args[done];

			results[done] = tko_config_check(&one.cfg) ? -EINVAL : start_args(t, &one);
			started += !results[done++];
			continue;
		}
		b->n = chunk;
		memcpy(b->args, args + done, chunk * sizeof(*args));
		ret = tko_ctl_call(fd, b, sizeof(*b));
		k = ret < 0 ? ret : (int)TKO_BATCH_STARTED(ret);
		if (k < 0) {
			/* The run itself failed: its first session alone. */
			struct tko_ctl_args one = args[done];

			results[done] = start_args(t, &one);
			started += !results[done];
			done++;
			continue;
		}
		if (k > (int)chunk)
			k = chunk;
		for (int i = 0; i < k; i++)
			results[done + i] = 0;
		done += k;
		started += k;
		/* Stopped at a refusal: the program says why, once (a refusal
		 * is an event and a counter, and must not be made twice). */
		if (k < (int)chunk)
			results[done++] = TKO_BATCH_ERR(ret) ?: -EIO;
	}
	if (fd >= 0)
		close(fd);
	free(b);
	return started;
}

int tko_dp_session_stop(struct tko *t, const struct tko_key *key)
{
	struct tko_ctl_args args = { .key = *key };

	return run_ctl(t->stop_fd, &args);
}

/*
 * As the datapath's entry_match(): key's live session at entry e: its id,
 * -ENOENT if not there, or the error reading the entry (an id beyond the
 * table, ENOENT, is no session either).
 */
static int entry_match(int sessions_fd, __u32 e, __u32 tag, const struct tko_key *key,
		       struct tko_session *s)
{
	__u32 id = tko_index_id(e);

	if (!e || tko_index_tag(e) != tag)
		return -ENOENT;
	if (bpf_map_lookup_elem(sessions_fd, &id, s))
		return -errno;
	if (!tko_dp_session_live(s) || !tko_key_equal(&s->key, key))
		return -ENOENT;
	return (int)id;
}

int tko_table_find(int sessions_fd, int index_fd, const struct tko_table *tb,
		   const struct tko_key *key, __u32 *id, struct tko_session *s)
{
	struct tko_key k = *key;	/* aligned, as the hash wants */
	__u64 h = tko_hash_key(&k, tb->seed);
	struct tko_session tmp;
	struct tko_bucket bk;

	if (!tb->buckets)
		return -ENOENT;
	for (int w = 0; w < 2; w++) {
		__u32 b = tko_hash_bucket(h, tb->buckets, w);

		if (bpf_map_lookup_elem(index_fd, &b, &bk))
			return -errno;
		for (int i = 0; i < TKO_BUCKET_SLOTS; i++) {
			int found = entry_match(sessions_fd, bk.slot[i], tko_hash_tag(h), &k,
						s ? s : &tmp);

			if (found >= 0) {
				if (id)
					*id = found;
				return 0;
			}
			if (found != -ENOENT)
				return found;
		}
	}
	return -ENOENT;
}

int tko_dp_session_find(struct tko *t, const struct tko_key *key, __u32 *id,
			struct tko_session *s)
{
	return tko_table_find(t->sessions_fd, t->index_fd, &t->table, key, id, s);
}

int tko_dp_session_get(struct tko *t, const struct tko_key *key, struct tko_session *s)
{
	return tko_dp_session_find(t, key, NULL, s);
}

bool tko_dp_session_live(const struct tko_session *s)
{
	return s->state != TKO_FREE && s->state != TKO_CREATING && s->state != TKO_STOPPED;
}

int tko_dp_session_foreach(struct tko *t, tko_dp_session_fn cb, void *ctx)
{
	/*
	 * The table is an array: walk the ids handed out so far, in batches
	 * (entries beyond tko_table.fresh were never used).
	 */
	enum { CHUNK = 1024 };
	__u32 *keys = calloc(CHUNK, sizeof(*keys));
	struct tko_session *vals = calloc(CHUNK, sizeof(*vals));
	struct tko_table tb;
	__u32 batch = 0, n, end;
	void *in = NULL;
	int ret = 0, err;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	if (tko_table_read(t->table_fd, &tb)) {
		ret = -errno;
		goto out;
	}
	end = tb.fresh < tb.max_sessions ? tb.fresh : tb.max_sessions;
	while (!ret && (in ? batch : 0) < end) {
		n = CHUNK;
		err = bpf_map_lookup_batch(t->sessions_fd, in, &batch, keys, vals, &n, NULL);
		if (err && err != -ENOENT) {
			ret = err;
			break;
		}
		for (__u32 i = 0; i < n && !ret; i++)
			if (keys[i] < end && tko_dp_session_live(&vals[i]))
				ret = cb(keys[i], &vals[i], ctx);
		if (err)
			break;
		in = &batch;
	}
out:
	free(keys);
	free(vals);
	return ret;
}

int tko_dp_capture(struct tko *t, const struct tko_key *key, struct tko_capture *out)
{
	int map_fd = tko_pin_get(t->pin_dir, P_CAPTURE);
	int link_fd = tko_pin_get(t->pin_dir, P_ITER_CAPTURE);
	struct tko_capture c = {};
	int iter_fd = -1, err = 0;
	char buf[64];

	if (map_fd < 0 || link_fd < 0) {
		err = map_fd < 0 ? map_fd : link_fd;
		goto out;
	}
	/* Ask for this tuple, walk this netns's TCP sockets, read the answer. */
	if (bpf_map_update_elem(map_fd, key, &c, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	iter_fd = bpf_iter_create(link_fd);
	if (iter_fd < 0) {
		err = iter_fd;
		goto forget;
	}
	/* The program prints nothing: a read() that walks a million sockets
	 * without output returns -EAGAIN (MAX_ITER_OBJECTS) and the next one
	 * resumes where it stopped. */
	while ((err = read(iter_fd, buf, sizeof(buf))) > 0 || (err < 0 && errno == EAGAIN))
		;
	if (err < 0) {
		err = -errno;
		goto forget;
	}
	if (bpf_map_lookup_elem(map_fd, key, &c))
		err = -errno;
	else if (!c.found)
		err = -ENOENT;
	else
		*out = c;
forget:
	bpf_map_delete_elem(map_fd, key);
out:
	if (iter_fd >= 0)
		close(iter_fd);
	if (map_fd >= 0)
		close(map_fd);
	if (link_fd >= 0)
		close(link_fd);
	return err;
}

int tko_dp_session_start_local(struct tko *t, const struct tko_key *key,
			       const struct tko_config *cfg, struct tko_capture *c)
{
	int err = tko_dp_capture(t, key, c);

	if (err)
		return err;
	if (!c->established)
		return -ENOTCONN;
	/* Android's ERROR_SOCKET_NOT_IDLE: data in flight or unread. */
	if (c->unacked || c->unsent || c->unread)
		return -EBUSY;
	if (tko_config_check(cfg))
		return -EINVAL;

	struct tko_ctl_args args = { .key = *key, .cfg = *cfg, .tcp = c->tcp };

	args.cfg.flags |= TKO_F_STATE_GIVEN;
	args.have = c->have & (TKO_HAVE_SEQ | TKO_HAVE_TS | TKO_HAVE_UNA);
	/* Its segments must cross the agent's interfaces, or nothing of tko's
	 * sees the data that suspends the offload. */
	err = route_oif(key, &args.ifindex);
	if (err)
		return err;
	if (!tko_iface_attached(t, args.ifindex))
		return -EXDEV;
	/* The socket sends nothing: find its path now, as the kernel routes it.
	 * Without a neighbour entry yet, its next segment will teach it. */
	if (!route_l2(key, &args.ifindex, args.lmac, args.rmac))
		args.have |= TKO_HAVE_L2;
	return start_args(t, &args);
}

bool tko_iface_attached(struct tko *t, __u32 ifindex)
{
	int fd = tko_pin_get(t->pin_dir, P_IFACES);
	struct tko_iface e;
	bool found;

	if (fd < 0)
		return false;
	found = !bpf_map_lookup_elem(fd, &ifindex, &e);
	close(fd);
	return found;
}

static int cmp_event_seq(const void *a, const void *b)
{
	const struct tko_event *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int tko_dp_events_read(struct tko *t, __u64 *after, tko_dp_event_fn cb, void *ctx)
{
	struct tko_event *evs = calloc(TKO_EVENT_LOG_LEN, sizeof(*evs));
	size_t n = 0;
	int ret = 0;

	if (!evs)
		return -ENOMEM;
	for (__u32 i = 0; i < TKO_EVENT_LOG_LEN; i++) {
		if (bpf_map_lookup_elem(t->event_log_fd, &i, &evs[n])) {
			ret = -errno;
			goto out;
		}
		if (evs[n].seq > *after)
			n++;
	}
	qsort(evs, n, sizeof(*evs), cmp_event_seq);
	for (size_t i = 0; i < n && !ret; i++) {
		*after = evs[i].seq;
		ret = cb(&evs[i], ctx);
	}
out:
	free(evs);
	return ret;
}

/* Sum a per-CPU array of __u64 counters over the possible CPUs. */
static int sum_percpu(int fd, __u64 *out, __u32 n)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	if (ncpu < 0)
		return ncpu;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals)) {
			int err = -errno;

			free(vals);
			return err;
		}
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}

int tko_dp_stats_read(struct tko *t, __u64 out[TKO_ST_MAX])
{
	return sum_percpu(t->stats_fd, out, TKO_ST_MAX);
}

static int by_ifindex(const void *a, const void *b)
{
	const struct tko_iface *x = a, *y = b;

	return x->ifindex < y->ifindex ? -1 : x->ifindex > y->ifindex;
}

int tko_dp_ifaces_read(struct tko *t, struct tko_iface *out, int max)
{
	int fd = tko_pin_get(t->pin_dir, P_IFACES), n = 0;
	__u32 key, next, *prev = NULL;

	if (fd < 0)
		return fd;
	while (n < max && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &out[n]))
			n++;
	}
	close(fd);
	qsort(out, n, sizeof(*out), by_ifindex);
	return n;
}

int tko_dp_kernel_read(struct tko *t, char *release, size_t len, __u32 *features)
{
	int fd = tko_pin_get(t->pin_dir, P_AGENT_INFO), err = 0;
	struct tko_agent_info info;
	__u32 zero = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, &info))
		err = -errno;
	else if (!info.kernel[0])
		err = -ENOENT;	/* an agent that wrote none */
	close(fd);
	if (err)
		return err;
	snprintf(release, len, "%.*s", (int)sizeof(info.kernel), info.kernel);
	*features = info.features;
	return 0;
}

int tko_dp_event_stats_read(struct tko *t, __u64 out[TKO_EV_STATS_LEN])
{
	int fd = tko_pin_get(t->pin_dir, P_EV_STATS), err;

	if (fd < 0)
		return fd;
	err = sum_percpu(fd, out, TKO_EV_STATS_LEN);
	close(fd);
	return err;
}
