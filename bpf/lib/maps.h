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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TKO_MAX_SESSIONS_DEFAULT);	/* the loader may resize */
	__type(key, struct tko_key);
	__type(value, struct tko_session);
} sessions SEC(".maps");

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

/* Keys of the sessions whose probe is due: filled by timers, drained by the carrier. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, TKO_MAX_SESSIONS_DEFAULT);	/* the loader may resize */
	__type(value, struct tko_key);
} due SEC(".maps");

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

/* Sessions whose L2 path the agent must find (rtnetlink) at its next wakeup. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);
	__type(value, struct tko_key);
} need_l2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_agent_info);
} agent_info SEC(".maps");

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

#endif /* TKO_BPF_MAPS_H */
