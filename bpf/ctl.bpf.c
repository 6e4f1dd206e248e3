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
#include "lib/session.h"

#define EINVAL 22
#define ENOENT 2

/* LEARNING/SUSPENDED -> ACTIVE once the session has been idle for idle_s. */
static int session_timer(void *map, struct tko_key *k, struct tko_session *s)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 deadline;

	if (s->state != TKO_LEARNING && s->state != TKO_SUSPENDED)
		return 0;

	if (s->have & TKO_HAVE_SEQ) {
		deadline = s->last_seen_ns + idle_ns(s);
		if ((__s64)(now - deadline) >= 0) {
			__u8 type = s->state == TKO_LEARNING ? TKO_EV_OFFLOADED : TKO_EV_RESUMED;

			set_state(s, TKO_ACTIVE);
			s->next_ns = 0;
			emit_event(k, s, type, TKO_R_IDLE);
			return 0;
		}
	} else {
		/* Nothing captured yet: look again one idle period later. */
		deadline = now + idle_ns(s);
	}
	s->next_ns = deadline;
	bpf_timer_start(&s->timer, deadline - now, 0);
	return 0;
}

SEC("syscall")
int tko_start(struct tko_ctl_args *ctx)
{
	struct tko_session init = {}, *s;
	struct tko_ctl_args args;
	struct tko_key key;
	__u64 now = bpf_ktime_get_ns();
	long err;

	/*
	 * One copy out of the context: clang turns field accesses into loads
	 * through a moved ctx pointer, which the verifier refuses.
	 */
	if (bpf_probe_read_kernel(&args, sizeof(args), ctx))
		return -EINVAL;
	__builtin_memcpy(&key, &args.key, sizeof(key));
	if (key.family != TKO_AF_INET && key.family != TKO_AF_INET6)
		return -EINVAL;
	if (args.cfg.idle_s < TKO_TIME_MIN || args.cfg.idle_s > TKO_TIME_MAX)
		return -EINVAL;

	__builtin_memcpy(&init.cfg, &args.cfg, sizeof(init.cfg));
	if (args.cfg.flags & TKO_F_STATE_GIVEN) {
		__builtin_memcpy(&init.tcp, &args.tcp, sizeof(init.tcp));
		init.have = args.have & (TKO_HAVE_SEQ | TKO_HAVE_TS);
	}
	init.state = TKO_LEARNING;
	init.started_ns = now;
	init.last_seen_ns = now;
	init.next_ns = now + idle_ns(&init);

	err = bpf_map_update_elem(&sessions, &key, &init, BPF_NOEXIST);
	if (err)
		return err;	/* -EEXIST: already offloaded; -E2BIG: table full */
	s = bpf_map_lookup_elem(&sessions, &key);
	if (!s)
		return -ENOENT;	/* removed by the datapath meanwhile */

	err = bpf_timer_init(&s->timer, &sessions, CLOCK_MONOTONIC);
	if (!err)
		err = bpf_timer_set_callback(&s->timer, session_timer);
	if (!err)
		err = bpf_timer_start(&s->timer, idle_ns(s), 0);
	if (err) {
		bpf_map_delete_elem(&sessions, &key);
		return err;
	}
	emit_event(&key, s, TKO_EV_STARTED, TKO_R_REQUEST);
	return 0;
}

SEC("syscall")
int tko_stop(struct tko_ctl_args *ctx)
{
	struct tko_session *s;
	struct tko_key key;

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
