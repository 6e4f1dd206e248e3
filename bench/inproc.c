// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "inproc.h"
#include "tko_dp.h"
#include "ctl.skel.h"
#include "helpers.skel.h"

void inproc_load(struct inproc *p, uint32_t max_sessions)
{
	int err;

	memset(p, 0, sizeof(*p));
	tko_bpf_setup_logging();
	err = tko_bpf_load(&p->b, max_sessions);
	if (err)
		die("cannot load tko's BPF objects (%u sessions): %s", max_sessions, strerror(-err));
	p->sessions_fd = bpf_map__fd(p->b.ctl->maps.sessions);
	p->requests_fd = bpf_map__fd(p->b.ctl->maps.requests);
	p->start_fd = bpf_program__fd(p->b.ctl->progs.tko_start);
	p->start_batch_fd = bpf_program__fd(p->b.ctl->progs.tko_start_batch);
	p->stop_fd = bpf_program__fd(p->b.ctl->progs.tko_stop);

	p->h = bench_helpers__open();
	if (!p->h)
		die("cannot open the helper BPF object: %s", strerror(errno));
	err = bpf_map__reuse_fd(p->h->maps.sessions, p->sessions_fd);
	if (!err)
		err = bench_helpers__load(p->h);
	if (err)
		die("cannot load the helper BPF object: %s", strerror(-err));
}

void inproc_destroy(struct inproc *p)
{
	bench_helpers__destroy(p->h);
	tko_bpf_destroy(&p->b);
	memset(p, 0, sizeof(*p));
}

struct tko_key bench_key(uint32_t i)
{
	uint32_t group = i / 60000;
	struct tko_key k = {
		.family = TKO_AF_INET,
		.lport = (uint16_t)(1 + i % 60000),
		.rport = BENCH_PEER_PORT,
		.laddr = { 198, 18, (uint8_t)(group >> 8), (uint8_t)group },
		.raddr = { 198, 19, 0, 2 },
	};
	return k;
}

void inproc_start(struct inproc *p, const struct tko_ctl_args *args, uint32_t n)
{
	static struct tko_ctl_batch b;	/* 28 KiB: not on the stack */

	for (uint32_t i = 0; i < n; i += TKO_BATCH_MAX) {
		uint32_t k = n - i < TKO_BATCH_MAX ? n - i : TKO_BATCH_MAX;
		int ret;

		b.n = k;
		memcpy(b.args, args + i, k * sizeof(*args));
		if (tko_ctl_run(p->start_batch_fd, &b, sizeof(b), &ret))
			die("BPF_PROG_RUN tko_start_batch: %s", strerror(errno));
		if (ret != TKO_BATCH_RET(k, 0))
			die("tko_start_batch started %u of %u sessions (at %u): %s",
			    TKO_BATCH_STARTED(ret), k, i,
			    strerror(TKO_BATCH_ERR(ret) ? -TKO_BATCH_ERR(ret) : EIO));
	}
}

void inproc_read(struct inproc *p, uint32_t first, uint32_t n, struct tko_session *out)
{
	enum { CHUNK = 4096 };
	__u32 keys[CHUNK], batch = first - 1, done = 0;

	while (done < n) {
		__u32 k = n - done < CHUNK ? n - done : CHUNK;
		int err = bpf_map_lookup_batch(p->sessions_fd, first + done ? &batch : NULL, &batch,
					       keys, out + done, &k, NULL);

		if (err && err != -ENOENT)
			die("cannot read sessions %u..: %s", first + done, strerror(-err));
		if (!k || keys[0] != first + done)
			die("reading sessions %u..: got %u from id %u", first + done, k, keys[0]);
		done += k;
		if (err)
			break;
	}
	if (done < n)
		die("read %u of %u sessions", done, n);
}

void inproc_write(struct inproc *p, uint32_t first, uint32_t n, const struct tko_session *in)
{
	enum { CHUNK = 4096 };
	__u32 keys[CHUNK];
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	for (uint32_t i = 0; i < n; i += CHUNK) {
		__u32 k = n - i < CHUNK ? n - i : CHUNK;

		for (__u32 j = 0; j < k; j++)
			keys[j] = first + i + j;
		if (bpf_map_update_batch(p->sessions_fd, keys, in + i, &k, &bo))
			die("cannot write sessions %u..: %s", first + i, strerror(errno));
	}
}

void inproc_install(struct inproc *p, const struct tko_ctl_args *args, uint32_t first,
		    uint32_t n, const struct tko_session *tmpl)
{
	enum { CHUNK = 65536 };
	struct tko_session *e = calloc(CHUNK, sizeof(*e));

	if (!e)
		die("out of memory");
	inproc_start(p, args, n);
	for (uint32_t i = 0; i < n; i += CHUNK) {
		uint32_t k = n - i < CHUNK ? n - i : CHUNK;

		inproc_read(p, first + i, k, e);
		for (uint32_t j = 0; j < k; j++) {
			struct tko_session *s = &e[j];

			if (memcmp(&s->key, &args[i + j].key, sizeof(s->key)) ||
			    s->state != TKO_LEARNING)
				die("session %u is not in entry %u (a table in use?)", i + j,
				    first + i + j);
			s->state = tmpl->state;
			s->prev_state = tmpl->prev_state;
			s->cnt = tmpl->cnt;
			s->probe_ns = tmpl->probe_ns;
			if (tmpl->have & TKO_HAVE_L2) {
				s->have |= TKO_HAVE_L2;
				s->ifindex = tmpl->ifindex;
				memcpy(s->lmac, tmpl->lmac, 6);
				memcpy(s->rmac, tmpl->rmac, 6);
				s->vlan_tci = tmpl->vlan_tci;
				s->vlan_proto = tmpl->vlan_proto;
			}
		}
		inproc_write(p, first + i, k, e);
	}
	free(e);
}

void inproc_fill(struct inproc *p, uint32_t from, uint32_t to, const struct tko_session *tmpl)
{
	enum { CHUNK = 65536 };
	struct tko_ctl_args *a = calloc(CHUNK, sizeof(*a));

	if (!a)
		die("out of memory");
	for (uint32_t i = from; i < to; i += CHUNK) {
		uint32_t k = to - i < CHUNK ? to - i : CHUNK;

		for (uint32_t j = 0; j < k; j++) {
			a[j] = (struct tko_ctl_args){
				.key = bench_key(i + j), .cfg = tmpl->cfg, .tcp = tmpl->tcp,
				.have = tmpl->have & (TKO_HAVE_SEQ | TKO_HAVE_TS),
			};
			a[j].cfg.flags |= TKO_F_STATE_GIVEN;
		}
		inproc_install(p, a, i, k, tmpl);
	}
	free(a);
}

void inproc_request(struct inproc *p, uint32_t id)
{
	if (bpf_map_update_elem(p->requests_fd, NULL, &id, BPF_ANY))
		die("cannot queue session %u for the clock: %s", id, strerror(errno));
}

void inproc_open_window(struct inproc *p, uint32_t id, bool ct_due)
{
	uint32_t req[2] = { id, ct_due };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = req, .ctx_size_in = sizeof(req));

	if (bpf_prog_test_run_opts(bpf_program__fd(p->h->progs.bench_open_window), &o) ||
	    o.retval)
		die("cannot reset the answer budget of session %u (%d)", id, (int)o.retval);
}

uint64_t inproc_stat(struct inproc *p, uint32_t idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[ncpu > 0 ? ncpu : 1], sum = 0;

	if (ncpu <= 0 || bpf_map_lookup_elem(bpf_map__fd(p->b.ctl->maps.stats), &idx, vals))
		die("cannot read tko's stats");
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

int bench_start_retrying(struct tko *t, uint32_t i, const struct tko_config *cfg,
			 uint64_t *enomem)
{
	struct tko_tcp_state tcp = { .snd_nxt = 1000 + i, .rcv_nxt = 2000, .window = 502 };
	struct tko_key k = bench_key(i);
	int err;

	while ((err = tko_dp_session_start(t, &k, cfg, &tcp, TKO_HAVE_SEQ)) == -ENOMEM) {
		(*enomem)++;
		sleep_ns(100 * 1000);
	}
	return err;
}

int bench_start_batch(struct tko *t, uint32_t first, uint32_t n, const struct tko_config *cfg,
		      uint32_t spread, uint64_t *enomem)
{
	struct tko_ctl_args args[TKO_BATCH_MAX] = {};
	int results[TKO_BATCH_MAX];

	for (uint32_t i = 0; i < n; i++) {
		struct tko_ctl_args *a = &args[i];

		a->key = bench_key(first + i);
		a->cfg = *cfg;
		a->cfg.idle_s = spread ? 1 + (first + i) % spread : cfg->idle_s;
		a->cfg.flags |= TKO_F_STATE_GIVEN;
		a->tcp = (struct tko_tcp_state){ .snd_nxt = 1000 + first + i, .rcv_nxt = 2000,
						 .window = 502 };
		a->have = TKO_HAVE_SEQ;
	}
	tko_dp_session_start_batch(t, args, n, results);
	for (uint32_t i = 0; i < n; i++) {
		if (!results[i])
			continue;
		if (results[i] != -ENOMEM)
			return results[i];
		(*enomem)++;
		if (bench_start_retrying(t, first + i, &args[i].cfg, enomem))
			return -ENOMEM;
	}
	return 0;
}
