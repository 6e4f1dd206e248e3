// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Control plane: sessions are created and removed by these programs, run
 * with BPF_PROG_RUN by the agent, the CLI and libtko, so that a session is
 * validated, written, indexed and handed to the clock as one step, whoever
 * asks, and never half there for the datapath.
 *
 * They are raw tracepoint programs attached to nothing: BPF_PROG_RUN gives
 * them ctx->args[0], the caller's pointer to its request, and args[1], the
 * request's size, and they read the request with bpf_probe_read_user();
 * they answer with their return value (0 or -errno; tko_start_batch's is
 * TKO_BATCH_RET()). Not BPF_PROG_TYPE_SYSCALL, whose context would carry
 * the request itself: a syscall program is sleepable, and Debian 12's 6.1
 * refuses QUEUE maps in a sleepable program ("Sleepable programs can only
 * use array, hash, and ringbuf maps"; 6.12 accepts them), while a session
 * takes its id from one and is queued for the clock in another. A raw tracepoint program runs with preemption off,
 * as the datapath's programs do.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/consts.h"
#include "lib/session.h"

/*
 * The caller's request of exactly size bytes into dst: 0, or -EINVAL for
 * a request of another size (another version of tko's structs), -EFAULT.
 */
static __always_inline int ctl_read(struct bpf_raw_tracepoint_args *ctx, void *dst, __u32 size)
{
	if (ctx->args[1] != size)
		return -EINVAL;
	return bpf_probe_read_user(dst, size, (const void *)ctx->args[0]) ? -EFAULT : 0;
}

static __always_inline bool mac_zero(const __u8 *m)
{
	return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

static __always_inline bool config_valid(const struct tko_config *c)
{
	return c->idle_s >= TKO_TIME_MIN && c->idle_s <= TKO_TIME_MAX &&
	       c->interval_s >= TKO_TIME_MIN && c->interval_s <= TKO_TIME_MAX &&
	       c->retry_interval_s >= TKO_TIME_MIN && c->retry_interval_s <= TKO_TIME_MAX &&
	       c->retries >= 1 && c->retries <= TKO_RETRIES_MAX &&
	       ((c->flags & TKO_F_WAKE) || mac_zero(c->wake_mac)) && !(c->wake_mac[0] & 1);
}

/*
 * Can the agent wake anybody: a wake interface to send magic packets on,
 * or a hook to run? A session asking for wakes nobody sends is refused.
 */
static __always_inline bool wakes_possible(void)
{
	struct tko_carrier_state *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&carrier, &zero);
	return c && (c->wake_ifindex[0] || c->wake_hook);
}

/*
 * A path out of an interface the agent is not on is a session tko cannot
 * see: no TC egress learns from its segments, nothing suspends it when it
 * carries data again.
 */
static __always_inline bool agent_iface(__u32 ifindex)
{
	return bpf_map_lookup_elem(&ifaces, &ifindex) != NULL;
}

/*
 * Validate one request and create its session: 0 or -errno (-EEXIST:
 * already offloaded; -E2BIG: table full; -ENOSPC: the tuple's index buckets
 * are full; -EXDEV: its path leaves through an interface the agent is not
 * on; -EOPNOTSUPP: it asks for wakes, and the agent has no way to wake).
 * Refusals for want of room are reported as events too.
 */
__noinline int start_one(const struct tko_ctl_args *args, __u64 now)
{
	struct tko_session *s;
	struct tko_key key;
	int id, err;

	if (!args)
		return -EINVAL;
	__builtin_memcpy(&key, &args->key, sizeof(key));
	if ((key.family != TKO_AF_INET && key.family != TKO_AF_INET6) || !config_valid(&args->cfg))
		return -EINVAL;
	if ((args->have & TKO_HAVE_L2) && args->ifindex && !agent_iface(args->ifindex))
		return -EXDEV;
	if ((args->cfg.flags & TKO_F_WAKE) && !wakes_possible())
		return -EOPNOTSUPP;

	id = session_alloc();
	if (id < 0) {
		session_refused(&key, TKO_R_TABLE_FULL);
		return id;
	}
	s = session_get(id);
	if (!s)
		return -ENOENT;
	session_clear(s);
	__builtin_memcpy(&s->key, &key, sizeof(key));
	__builtin_memcpy(&s->cfg, &args->cfg, sizeof(s->cfg));
	if (args->cfg.flags & TKO_F_STATE_GIVEN) {
		__builtin_memcpy(&s->tcp, &args->tcp, sizeof(s->tcp));
		s->have = args->have & (TKO_HAVE_SEQ | TKO_HAVE_TS | TKO_HAVE_UNA);
		/* Handed over by an idle endpoint: nothing in flight, unless
		 * it says SND.UNA. */
		if ((s->have & TKO_HAVE_SEQ) && !(s->have & TKO_HAVE_UNA)) {
			s->tcp.snd_una = s->tcp.snd_nxt;
			s->have |= TKO_HAVE_UNA;
		}
		s->ts_seen_ns = now;
		s->ts_first_val = s->tcp.ts_val;
	}
	/* --wake MAC: known from the start, on whichever wake interface. */
	if (!mac_zero(s->cfg.wake_mac)) {
		__builtin_memcpy(s->wake_mac, s->cfg.wake_mac, 6);
		__builtin_memcpy(s->wake_addr, key.laddr, 16);
		s->have |= TKO_HAVE_WAKE;
	}
	if ((args->have & TKO_HAVE_L2) && args->ifindex) {
		s->ifindex = args->ifindex;
		__builtin_memcpy(s->lmac, args->lmac, 6);
		__builtin_memcpy(s->rmac, args->rmac, 6);
		s->have |= TKO_HAVE_L2;
	}
	s->started_ns = now;
	s->last_seen_ns = now;
	s->next_ns = now + idle_ns(s);

	err = session_publish(id, TKO_LEARNING);
	if (err) {
		if (err == -ENOSPC)
			session_refused(&key, TKO_R_INDEX_FULL);
		else if (err == -EBUSY)
			session_refused(&key, TKO_R_BUSY);
		return err;
	}
	if (!sched_request(id, s)) {
		if (session_unindex(id))
			session_release(id, s);
		session_refused(&key, TKO_R_BUSY);
		return -EBUSY;
	}
	session_event(id, TKO_EV_STARTED, TKO_R_REQUEST);
	return 0;
}

SEC("raw_tp")
int tko_start(struct bpf_raw_tracepoint_args *ctx)
{
	struct tko_ctl_args args;
	int err = ctl_read(ctx, &args, sizeof(args));

	return err ?: start_one(&args, bpf_ktime_get_ns());
}

/*
 * Many sessions in one BPF_PROG_RUN (tko start --file, libtko): a struct
 * tko_ctl_batch. They are started in order until one fails; the return
 * value says how many started and why the next one did not
 * (TKO_BATCH_RET(): a refusal is an event and a counter, and its caller
 * must not ask again to learn why), or is -errno if the run itself failed.
 */
SEC("raw_tp")
int tko_start_batch(struct bpf_raw_tracepoint_args *ctx)
{
	const struct tko_ctl_batch *b = (const void *)ctx->args[0];
	struct tko_ctl_args args;
	__u64 now = bpf_ktime_get_ns();
	__u32 n, i;
	int err;

	if (ctx->args[1] != sizeof(*b))
		return -EINVAL;
	if (bpf_probe_read_user(&n, sizeof(n), &b->n) || n > TKO_BATCH_MAX)
		return -EINVAL;
	for (i = 0; i < TKO_BATCH_MAX && i < n; i++) {
		if (bpf_probe_read_user(&args, sizeof(args), &b->args[i]))
			return i ? TKO_BATCH_RET(i, -EFAULT) : -EFAULT;
		err = start_one(&args, now);
		if (err)
			return TKO_BATCH_RET(i, err);
	}
	return TKO_BATCH_RET(i, 0);
}

/*
 * The agent's answer to a path request (need_l2): the L2 path it found with
 * rtnetlink (TKO_HAVE_L2), or none. Either way the entry may ask again.
 */
SEC("raw_tp")
int tko_set_l2(struct bpf_raw_tracepoint_args *ctx)
{
	struct tko_ctl_args args;
	struct tko_session *s;
	int err = ctl_read(ctx, &args, sizeof(args));

	if (err)
		return err;
	s = session_get(args.id);
	if (!s)
		return -ENOENT;
	path_request_answered(s);
	if (s->state == TKO_FREE || s->state == TKO_CREATING || s->state == TKO_STOPPED ||
	    !tko_key_equal(&s->key, &args.key))
		return -ENOENT;	/* ended meanwhile */
	if (args.refuse) {
		/* Out of sight (its route avoids the agent's interfaces): tko
		 * would keep offloading a session whose data it never sees. */
		session_end(args.id, s, TKO_EV_REFUSED, args.refuse);
		return 0;
	}
	if (!(args.have & TKO_HAVE_L2) || !args.ifindex)
		return 0;
	if (!agent_iface(args.ifindex))
		return -EXDEV;
	if (!(s->have & TKO_HAVE_L2)) {	/* traffic may have taught it meanwhile */
		s->ifindex = args.ifindex;
		__builtin_memcpy(s->lmac, args.lmac, 6);
		__builtin_memcpy(s->rmac, args.rmac, 6);
		s->have |= TKO_HAVE_L2;
		/* A probe may be waiting for it: let the carrier look now. */
		sched_request(args.id, s);
	}
	return 0;
}

/*
 * The agent's news of one of its links (rtnetlink): no carrier, or down, or
 * up again. Probes that would leave through a link that is down count as
 * unanswered; the datapath's own counters in the entry are left as they are.
 */
SEC("raw_tp")
int tko_set_link(struct bpf_raw_tracepoint_args *ctx)
{
	struct tko_ctl_args args;
	struct tko_iface *ifc;
	int err = ctl_read(ctx, &args, sizeof(args));

	if (err)
		return err;
	ifc = bpf_map_lookup_elem(&ifaces, &args.ifindex);
	if (!ifc)
		return -ENOENT;
	ifc->down = !!args.down;
	if (!args.down)
		ifc->refused_ns = 0;	/* a fresh start for its queue */
	return 0;
}

/*
 * The agent did what a wake signal (struct tko_wake) asked, or a hook it
 * started is over: counted, and reported, a wake as an event with what
 * the peer sent, a failure as a warning (once per session while it lives;
 * every time for one already gone, as after the peer's FIN).
 */
SEC("raw_tp")
int tko_wake_done(struct bpf_raw_tracepoint_args *ctx)
{
	struct tko_wake_done d;
	struct tko_session *s;
	int err = ctl_read(ctx, &d, sizeof(d));
	__u32 r;

	if (err)
		return err;
	s = session_get(d.id);
	if (s && (s->state == TKO_FREE || s->state == TKO_CREATING ||
		  s->state == TKO_STOPPED || !tko_key_equal(&s->key, &d.key)))
		s = NULL;	/* ended meanwhile */
	r = d.result;
	if (r & TKO_WAKE_SENT)
		stat_inc(TKO_ST_WAKES_SENT);
	if (r & (TKO_WAKE_SEND_FAILED | TKO_WAKE_LOST))
		stat_inc(TKO_ST_WAKES_FAILED);
	if (r & TKO_WAKE_HOOK_RAN)
		stat_inc(TKO_ST_WAKE_HOOKS);
	if (r & TKO_WAKE_HOOK_FAILED)
		stat_inc(TKO_ST_WAKE_HOOKS_FAILED);
	if (r & (TKO_WAKE_SENT | TKO_WAKE_HOOK_STARTED))
		event_emit(&d.key, s, TKO_EV_WAKE, d.reason);
	if (r & (TKO_WAKE_SEND_FAILED | TKO_WAKE_LOST | TKO_WAKE_HOOK_FAILED)) {
		if (s)
			session_warn(d.id, s, TKO_NOTE_WAKE_FAILED, TKO_R_WAKE_FAILED);
		else
			event_emit(&d.key, NULL, TKO_EV_WARNING, TKO_R_WAKE_FAILED);
	}
	return 0;
}

SEC("raw_tp")
int tko_stop(struct bpf_raw_tracepoint_args *ctx)
{
	struct tko_ctl_args args;
	struct tko_session *s;
	int id, err = ctl_read(ctx, &args, sizeof(args));

	if (err)
		return err;
	id = session_find(&args.key);
	s = id >= 0 ? session_get(id) : NULL;
	if (!s || !session_end(id, s, TKO_EV_STOPPED, TKO_R_REQUEST))
		return -ENOENT;
	return 0;
}

/*
 * jiffies and CLOCK_MONOTONIC read together, for the loader's measure of
 * the answer path's clock (bpf/lib/coarse.h, agent/loader/clock.c); it
 * reads them from the skeleton's .bss after each run.
 */
struct {
	__u64 jiffies;
	__u64 ns;
} clock_sample;

SEC("raw_tp")
int tko_clock_read(struct bpf_raw_tracepoint_args *ctx)
{
	clock_sample.jiffies = bpf_jiffies64();
	clock_sample.ns = bpf_ktime_get_ns();
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
