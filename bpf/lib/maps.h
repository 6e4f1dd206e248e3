/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps every tko program shares. Each BPF object declares them (this
 * header); the loader creates them once, with the control object, and hands
 * the same fds to the others (bpf_map__reuse_fd), so there is one table.
 */
#ifndef TKO_BPF_MAPS_H
#define TKO_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tko_types.h"

/*
 * The session table (bpf/lib/table.h): preallocated entries by id, found by
 * tuple through the index. Creating a session allocates nothing. The loader
 * sizes the table, the index and the id queues together. Both arrays are
 * BPF_F_MMAPABLE for its layout alone: their elements then start on a page,
 * so an entry's hot half and a bucket are whole cache lines (any other array
 * starts 16 bytes into one).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TKO_MAX_SESSIONS_DEFAULT);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tko_session);
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TKO_MAX_SESSIONS_DEFAULT / 8);	/* a power of two */
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tko_bucket);
} sessions_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_table);
} table SEC(".maps");

/* Ids freed by the carrier, oldest first: reused as late as possible. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, TKO_MAX_SESSIONS_DEFAULT);
	__type(value, __u32);
} free_ids SEC(".maps");

/*
 * Sessions the carrier must look at (new, rescheduled, ended). An id is in
 * it at most once (tko_clock.req), so it can never be full.
 */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, TKO_MAX_SESSIONS_DEFAULT);
	__type(value, __u32);
} requests SEC(".maps");

/* The timing wheel's lists (TKO_WHEEL_*) and its clock: the carrier's alone. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TKO_WHEEL_LISTS);
	__type(key, __u32);
	__type(value, struct tko_wheel_list);
} wheel SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_wheel_clock);
} clock SEC(".maps");

/* Wakes the agent: one record per lifecycle change. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TKO_RINGBUF_BYTES);
} events SEC(".maps");

/* The last TKO_EVENT_LOG_LEN events, readable without the agent (`tko events`). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TKO_EVENT_LOG_LEN);
	__type(key, __u32);
	__type(value, struct tko_event);
} event_log SEC(".maps");

/* Entry 0: the sequence number of the last event written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} event_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_carrier_state);
} carrier SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TKO_ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TKO_EV_STATS_LEN);
	__type(key, __u32);
	__type(value, __u64);
} ev_stats SEC(".maps");

/* Entry 0: what `tko start` uses for an option it is not given (agent config). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_config);
} defaults SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TKO_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct tko_policy);
} policies SEC(".maps");

/* What each policy holds, by slot (struct tko_policy_stats). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TKO_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct tko_policy_stats);
} policy_stats SEC(".maps");

/*
 * Forwarded policies by local prefix (struct tko_prefix_key -> slot mask):
 * the agent keeps it in step with `policies`. A forwarded flow that matches
 * no policy costs this one lookup.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * TKO_MAX_POLICIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tko_prefix_key);
	__type(value, __u64);
} policy_prefixes SEC(".maps");

/* Forwarded flows tko is done with, until a new SYN (TKO_FLOWS_CLOSED_MAX). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TKO_FLOWS_CLOSED_MAX);
	__type(key, struct tko_key);
	__type(value, __u64);
} flows_closed SEC(".maps");

/*
 * Forwarded flows a policy wants, seen opening (the endpoint's SYN or
 * SYN-ACK): SEG.SEQ + 1 (struct tko_key -> __u32). The endpoint's first
 * segment after it, at exactly that sequence number, was sent once the peer
 * had acknowledged the SYN: its session starts knowing SND.UNA.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TKO_FLOWS_CLOSED_MAX);
	__type(key, struct tko_key);
	__type(value, __u32);
} flows_opening SEC(".maps");

/*
 * Ids of the sessions whose L2 path the agent must find (rtnetlink). An id
 * is in it at most once (tko_clock.l2_req), so it can never be full.
 */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, TKO_MAX_SESSIONS_DEFAULT);
	__type(value, __u32);
} need_l2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_agent_info);
} agent_info SEC(".maps");

/* Wakes the agent for work that is not an event (struct tko_signal). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TKO_SIGNAL_RING_BYTES);
} signals SEC(".maps");

/* The carrier watchdog (bpf/lib/watchdog.h): one timer, never one per session. */
struct tko_watchdog {
	struct bpf_timer timer;
	__u32 ready;		/* the timer is initialised */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_watchdog);
} watchdog SEC(".maps");

/* The agent's interfaces, by ifindex: how each answers the peers' probes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * TKO_MAX_IFACES);	/* room for interfaces re-created */
	__type(key, __u32);
	__type(value, struct tko_iface);
} ifaces SEC(".maps");

/* XDP_TX answers waiting for the driver's report, per CPU (struct tko_xdp_pending). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_xdp_pending);
} xdp_pending SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		(*v)++;
}

static __always_inline void ev_stat_inc(__u8 type, __u8 reason)
{
	__u32 idx = (type % TKO_EVENTS_MAX) * TKO_REASONS_MAX + reason % TKO_REASONS_MAX;
	__u64 *v = bpf_map_lookup_elem(&ev_stats, &idx);

	if (v)
		(*v)++;
}

/* Take back a count made on this CPU (per-CPU: the sum stays right). */
static __always_inline void stat_dec(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v && *v)
		(*v)--;
}

#endif /* TKO_BPF_MAPS_H */
