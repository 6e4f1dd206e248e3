// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "inproc.h"
#include "tko.h"
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
	p->start_fd = bpf_program__fd(p->b.ctl->progs.tko_start);
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

int inproc_start(struct inproc *p, uint32_t i, const struct tko_config *cfg,
		 const struct tko_tcp_state *tcp, uint8_t have)
{
	struct tko_ctl_args a = { .key = bench_key(i), .cfg = *cfg };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof(a));
	int err;

	if (tcp) {
		a.cfg.flags |= TKO_F_STATE_GIVEN;
		a.tcp = *tcp;
		a.have = have;
	}
	err = bpf_prog_test_run_opts(p->start_fd, &o);
	return err ? err : (int)o.retval;
}

void inproc_fill(struct inproc *p, uint32_t from, uint32_t to, const struct tko_session *tmpl)
{
	enum { CHUNK = 4096 };
	struct tko_key *keys = calloc(CHUNK, sizeof(*keys));
	struct tko_session *vals = calloc(CHUNK, sizeof(*vals));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	if (!keys || !vals)
		die("out of memory");
	for (uint32_t i = from; i < to; i += CHUNK) {
		__u32 n = to - i < CHUNK ? to - i : CHUNK;

		for (__u32 j = 0; j < n; j++) {
			keys[j] = bench_key(i + j);
			vals[j] = *tmpl;
		}
		if (bpf_map_update_batch(p->sessions_fd, keys, vals, &n, &bo))
			die("cannot insert sessions %u..: %s", i, strerror(errno));
	}
	free(keys);
	free(vals);
}

bool inproc_wait_state(struct inproc *p, const uint32_t *idx, size_t n, uint8_t state,
		       unsigned int limit_s)
{
	uint64_t deadline = now_ns() + limit_s * NSEC_PER_SEC;
	size_t done = 0;

	while (done < n) {
		struct tko_key k = bench_key(idx[done]);
		struct tko_session s;

		if (!bpf_map_lookup_elem(p->sessions_fd, &k, &s) && s.state == state) {
			done++;
			continue;
		}
		if (now_ns() > deadline)
			return false;
		sleep_ns(20 * 1000 * 1000);
	}
	return true;
}

void inproc_open_window(struct inproc *p, const struct tko_key *k)
{
	struct tko_key key = *k;
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &key, .ctx_size_in = sizeof(key));

	if (bpf_prog_test_run_opts(bpf_program__fd(p->h->progs.bench_open_window), &o) ||
	    o.retval)
		die("cannot reset the answer budget of a session (%d)", (int)o.retval);
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

	while ((err = tko_session_start(t, &k, cfg, &tcp, TKO_HAVE_SEQ)) == -ENOMEM) {
		(*enomem)++;
		sleep_ns(100 * 1000);
	}
	return err;
}

int bench_start_batch(struct tko *t, uint32_t first, uint32_t n, const struct tko_config *cfg,
		      uint32_t interval, uint64_t *enomem)
{
	struct tko_ctl_args args[TKO_BATCH_MAX] = {};
	int results[TKO_BATCH_MAX];

	for (uint32_t i = 0; i < n; i++) {
		struct tko_ctl_args *a = &args[i];

		a->key = bench_key(first + i);
		a->cfg = *cfg;
		a->cfg.idle_s = 1 + (first + i) % interval;
		a->cfg.flags |= TKO_F_STATE_GIVEN;
		a->tcp = (struct tko_tcp_state){ .snd_nxt = 1000 + first + i, .rcv_nxt = 2000,
						 .window = 502 };
		a->have = TKO_HAVE_SEQ;
	}
	tko_session_start_batch(t, args, n, results);
	for (uint32_t i = 0; i < n; i++) {
		if (!results[i])
			continue;
		if (results[i] != -ENOMEM)
			return results[i];
		/* libtko already refilled and retried; as for single starts. */
		(*enomem)++;
		if (bench_start_retrying(t, first + i, &args[i].cfg, enomem))
			return -ENOMEM;
	}
	return 0;
}
