/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The datapath's pins, by name, and running its pinned control programs:
 * what libtko needs of the pin directory. The loader (agent/loader), which
 * makes the pins, is not part of libtko.
 */
#ifndef TKO_PINS_H
#define TKO_PINS_H

#include <limits.h>
#include "tko_types.h"

/*
 * Everything the datapath is made of, by pin: the agent pins all of it, so
 * that the datapath outlives the agent and a new agent can adopt it. This
 * table is the one place a pin is named; each line gives its id in struct
 * tko_fds (agent/loader/loader.h), and
 *   MAP(id, obj, map)          a map, pinned under its own name: the map of
 *                              that name of skeleton obj (ctl for the maps of
 *                              bpf/lib/maps.h: the objects share them by name),
 *                              checked against obj's definition on adoption;
 *   PROG(id, pin, obj, prog)   program prog of skeleton obj;
 *   LINK(id, pin, link)        the link tko_bpf_load() made (struct tko_bpf).
 * A map of the objects that is not here is not pinned on purpose: the
 * short list in loader.c says which and why (tko_bpf_load refuses any other).
 * sessions comes first: where it is missing, nothing is pinned.
 */
#define TKO_PINS(MAP, PROG, LINK)					\
	MAP(P_SESSIONS, ctl, sessions)					\
	MAP(P_EVENTS, ctl, events)					\
	MAP(P_EVENT_LOG, ctl, event_log)				\
	MAP(P_EVENT_SEQ, ctl, event_seq)				\
	MAP(P_STATS, ctl, stats)					\
	MAP(P_CARRIER, ctl, carrier)					\
	MAP(P_INDEX, ctl, sessions_index)				\
	MAP(P_TABLE, ctl, table)					\
	MAP(P_FREE_IDS, ctl, free_ids)					\
	MAP(P_REQUESTS, ctl, requests)					\
	MAP(P_WHEEL, ctl, wheel)					\
	MAP(P_CLOCK, ctl, clock)					\
	MAP(P_EV_STATS, ctl, ev_stats)					\
	MAP(P_DEFAULTS, ctl, defaults)					\
	PROG(P_CTL_START, ctl_start, ctl, tko_start)			\
	PROG(P_CTL_STOP, ctl_stop, ctl, tko_stop)			\
	PROG(P_PROG_XDP, prog_xdp_ingress, xdp, tko_xdp_ingress)	\
	PROG(P_PROG_TC, prog_tc_egress, tc, tko_tc_egress)		\
	PROG(P_PROG_CARRIER, prog_carrier, carrier, tko_carrier)	\
	MAP(P_CAPTURE, iter, capture)					\
	LINK(P_ITER_CAPTURE, iter_capture, iter_link)			\
	MAP(P_POLICIES, ctl, policies)					\
	MAP(P_NEED_L2, ctl, need_l2)					\
	MAP(P_AGENT_INFO, ctl, agent_info)				\
	PROG(P_CTL_SET_L2, ctl_set_l2, ctl, tko_set_l2)			\
	PROG(P_PROG_SOCKOPS, prog_sockops, sockops, tko_sockops)	\
	PROG(P_CTL_START_BATCH, ctl_start_batch, ctl, tko_start_batch)	\
	MAP(P_SIGNALS, ctl, signals)					\
	MAP(P_IFACES, ctl, ifaces)					\
	PROG(P_PROG_TC_INGRESS, prog_tc_ingress, tci, tko_tc_ingress)	\
	LINK(P_LINK_XDP_BULK_TX, link_xdp_bulk_tx, bulk_tx_link)	\
	LINK(P_LINK_XDP_EXCEPTION, link_xdp_exception, exception_link)	\
	MAP(P_POLICY_STATS, ctl, policy_stats)				\
	MAP(P_POLICY_PREFIXES, ctl, policy_prefixes)			\
	MAP(P_FLOWS_CLOSED, ctl, flows_closed)				\
	PROG(P_CTL_SET_LINK, ctl_set_link, ctl, tko_set_link)		\
	MAP(P_FLOWS_OPENING, ctl, flows_opening)			\
	PROG(P_CTL_WAKE_DONE, ctl_wake_done, ctl, tko_wake_done)	\
	PROG(P_PROG_CARRIER_RX, prog_carrier_rx, carrier, tko_carrier_rx)

#define TKO_PIN_ID(id, ...) id,
enum pin_id {
	TKO_PINS(TKO_PIN_ID, TKO_PIN_ID, TKO_PIN_ID)
	P_MAX
};
#undef TKO_PIN_ID
/* By id: the name in the pin directory. */
extern const char *const pin_names[P_MAX];

/* Not the loader's: the agent keeps there which policies its config made
 * (agent/daemon/policies.h); it goes with the pins. */
#define PIN_CONFIG_POLICIES "config_policies"

/* Where pin id of the datapath pinned in dir is. */
void tko_pin_path(char path[PATH_MAX], const char *dir, enum pin_id id);

/* Open pin id of the datapath pinned in dir: its fd, or -errno. */
int tko_pin_get(const char *dir, enum pin_id id);

/*
 * Run control program prog_fd (bpf/ctl.bpf.c) on the request at req, of
 * size bytes: 0 and the program's return value in *retval (0 or -errno;
 * TKO_BATCH_RET() for tko_start_batch), or the -errno of the run itself.
 */
int tko_ctl_run(int prog_fd, const void *req, __u32 size, int *retval);
/* The same, the run's error or the program's return value (0 or -errno) as one. */
int tko_ctl_call(int prog_fd, const void *req, __u32 size);

#endif /* TKO_PINS_H */
