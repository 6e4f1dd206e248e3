// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Control plane: sessions are created and removed by these syscall programs,
 * run with BPF_PROG_RUN by the agent, the CLI and libtko. Only BPF code can
 * bpf_timer_init() a timer, and doing it here makes "insert + arm" one
 * atomic step whoever asks. The timer callback drives the session's
 * deadlines.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/timer.h"


/*
 * The context is copied out with bpf_probe_read_kernel(), which the verifier
 * does not size. One direct read of its last byte makes the verifier record
 * the whole struct as the context's size, so that BPF_PROG_RUN refuses a
 * shorter context (-EINVAL) instead of the copy reading past the kernel's
 * copy of it.
 */
static __always_inline void ctx_whole(struct tko_ctl_args *ctx)
{
	(void)((volatile __u8 *)ctx)[sizeof(*ctx) - 1];
}

/* Validate one request and create its session, armed. 0 or -errno. */
static __always_inline int start_one(const struct tko_ctl_args *args, __u64 now)
{
	struct tko_session init = {}, *s;
	struct tko_key key;
	long err;

	__builtin_memcpy(&key, &args->key, sizeof(key));
	if (key.family != TKO_AF_INET && key.family != TKO_AF_INET6)
		return -EINVAL;
	if (args->cfg.idle_s < TKO_TIME_MIN || args->cfg.idle_s > TKO_TIME_MAX ||
	    args->cfg.interval_s < TKO_TIME_MIN || args->cfg.interval_s > TKO_TIME_MAX ||
	    args->cfg.retry_interval_s < TKO_TIME_MIN ||
	    args->cfg.retry_interval_s > TKO_TIME_MAX ||
	    args->cfg.retries < 1 || args->cfg.retries > TKO_RETRIES_MAX)
		return -EINVAL;

	__builtin_memcpy(&init.cfg, &args->cfg, sizeof(init.cfg));
	if (args->cfg.flags & TKO_F_STATE_GIVEN) {
		__builtin_memcpy(&init.tcp, &args->tcp, sizeof(init.tcp));
		init.have = args->have & (TKO_HAVE_SEQ | TKO_HAVE_TS);
	}
	if ((args->have & TKO_HAVE_L2) && args->ifindex) {
		init.ifindex = args->ifindex;
		__builtin_memcpy(init.lmac, args->lmac, 6);
		__builtin_memcpy(init.rmac, args->rmac, 6);
		init.have |= TKO_HAVE_L2;
	}
	err = session_create(&key, &init, now);
	if (err)
		return err;	/* -EEXIST: already offloaded; -E2BIG: table full */
	s = bpf_map_lookup_elem(&sessions, &key);
	if (!s)
		return -ENOENT;
	emit_event(&key, s, TKO_EV_STARTED, TKO_R_REQUEST);
	return 0;
}

SEC("syscall")
int tko_start(struct tko_ctl_args *ctx)
{
	struct tko_ctl_args args;

	ctx_whole(ctx);
	/*
	 * One copy out of the context: clang turns field accesses into loads
	 * through a moved ctx pointer, which the verifier refuses.
	 */
	if (bpf_probe_read_kernel(&args, sizeof(args), ctx))
		return -EINVAL;
	return start_one(&args, bpf_ktime_get_ns());
}

/*
 * Many sessions in one BPF_PROG_RUN (tko start --file, libtko). Returns how
 * many of ctx->args[0..n) were started, in order, stopping at the first that
 * fails; -errno if that is the first one.
 */
SEC("syscall")
int tko_start_batch(struct tko_ctl_batch *ctx)
{
	struct tko_ctl_args args;
	__u64 now = bpf_ktime_get_ns();
	__u32 n, i;
	int err;

	(void)((volatile __u8 *)ctx)[sizeof(*ctx) - 1];	/* see ctx_whole() */
	if (bpf_probe_read_kernel(&n, sizeof(n), &ctx->n) || n > TKO_BATCH_MAX)
		return -EINVAL;
	for (i = 0; i < TKO_BATCH_MAX && i < n; i++) {
		if (bpf_probe_read_kernel(&args, sizeof(args), &ctx->args[i]))
			return i ? (int)i : -EINVAL;
		err = start_one(&args, now);
		if (err)
			return i ? (int)i : err;
	}
	return i;
}

/* Give a session its L2 path, found by the agent with rtnetlink. */
SEC("syscall")
int tko_set_l2(struct tko_ctl_args *ctx)
{
	struct tko_ctl_args args;
	struct tko_session *s;

	ctx_whole(ctx);
	if (bpf_probe_read_kernel(&args, sizeof(args), ctx))
		return -EINVAL;
	s = bpf_map_lookup_elem(&sessions, &args.key);
	if (!s)
		return -ENOENT;
	if (!(s->have & TKO_HAVE_L2)) {	/* traffic may have taught it meanwhile */
		s->ifindex = args.ifindex;
		__builtin_memcpy(s->lmac, args.lmac, 6);
		__builtin_memcpy(s->rmac, args.rmac, 6);
		s->have |= TKO_HAVE_L2;
	}
	return 0;
}

SEC("syscall")
int tko_stop(struct tko_ctl_args *ctx)
{
	struct tko_session *s;
	struct tko_key key;

	ctx_whole(ctx);
	if (bpf_probe_read_kernel(&key, sizeof(key), &ctx->key))
		return -EINVAL;
	s = bpf_map_lookup_elem(&sessions, &key);
	if (!s)
		return -ENOENT;
	bpf_timer_cancel(&s->timer);
	set_state(s, TKO_STOPPED);
	emit_event(&key, s, TKO_EV_STOPPED, TKO_R_REQUEST);
	s->next_ns = 0;
	bpf_map_delete_elem(&sessions, &key);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
