// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The datapath's figures and their Prometheus rendering: what `tko stats
 * --prometheus` prints and `tko agent --metrics` serves, from one function.
 * The counter table below drives both that and `tko stats`: a counter added
 * to enum tko_stat needs a line here, and then shows up everywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "tko_dp.h"

/*
 * Names are Prometheus metric names without the "tko_" prefix and the
 * "_total" suffix every counter gets; help is the HELP line.
 */
static const struct {
	const char *name;
	const char *help;
} stats[TKO_ST_MAX] = {
	[TKO_ST_XDP_SEEN] = { "xdp_session_frames",
		"TCP frames of a known session seen by XDP ingress." },
	[TKO_ST_PEER_PROBES_ANSWERED] = { "peer_probes_answered",
		"Keepalive probes of peers answered by tko (handed to the device)." },
	[TKO_ST_ANSWERS_LIMITED] = { "answers_rate_limited",
		"Peer probes left unanswered by the per-session rate limit." },
	[TKO_ST_TC_SEEN] = { "tc_session_frames",
		"TCP frames of a known session seen by TC egress." },
	[TKO_ST_SUSPENDED] = { "suspended",
		"Offloads suspended because the session carried traffic again." },
	[TKO_ST_INVALIDATED] = { "invalidated",
		"Offloads ended by traffic (FIN, RST, SYN, sequence drift)." },
	[TKO_ST_EVENTS] = { "events_emitted",
		"Lifecycle events emitted, those the ring buffer lost included." },
	[TKO_ST_EVENTS_LOST] = { "events_lost",
		"Events the full ring buffer could not take (the event log keeps them)." },
	[TKO_ST_OFF_PATH] = { "off_path_segments",
		"Segments of a session whose sequence or acknowledgment numbers did not "
		"match, ignored." },
	[TKO_ST_PROBES_LATE] = { "probes_late",
		"Probes that left more than a tick after their time (the carrier was behind)." },
	[TKO_ST_PROBES_SENT] = { "probes_sent", "Probes sent by the carrier." },
	[TKO_ST_PROBES_ANSWERED] = { "probes_answered",
		"Answers of peers to tko's probes, consumed at XDP ingress." },
	[TKO_ST_BACKLOG] = { "carrier_backlog_passes",
		"Carrier passes that ended with due sessions left for the next one." },
	[TKO_ST_EMIT_ERRORS] = { "emit_errors",
		"Probes and resets the carrier could not hand to a device." },
	[TKO_ST_PEER_DEAD] = { "peer_dead",
		"Sessions whose peer was declared dead after unanswered retries." },
	[TKO_ST_CARRIER_PASSES] = { "carrier_passes",
		"Passes of the carrier frame (ticks of the clock)." },
	[TKO_ST_REFUSED_TABLE_FULL] = { "refused_table_full",
		"Sessions not created because the session table was full." },
	[TKO_ST_REFUSED_INDEX_FULL] = { "refused_index_full",
		"Sessions not created because both index buckets of the tuple were full." },
	[TKO_ST_REFUSED_BUSY] = { "refused_busy",
		"Sessions not created because the clock's request queue refused them." },
	[TKO_ST_PATH_REQUESTS] = { "path_requests",
		"Link-layer paths the datapath asked the agent to resolve." },
	[TKO_ST_CARRIER_STALLS] = { "carrier_stalls",
		"Times the carrier watchdog found no carrier pass for its period." },
	[TKO_ST_REQUESTS_LOST] = { "requests_lost",
		"Requests to the clock or the agent a full queue refused (sized for every "
		"session: not expected)." },
	[TKO_ST_CT_REFRESHED] = { "conntrack_refreshed",
		"Conntrack entries of flows tko kept alive given the established timeout "
		"again (the gateway's own NAT)." },
	[TKO_ST_CT_MISSING] = { "conntrack_missing",
		"Flows tko kept alive that had no conntrack entry to refresh." },
	[TKO_ST_CT_UNCHANGED] = { "conntrack_unchanged",
		"Conntrack entries of flows tko kept alive left as they were (not "
		"ESTABLISHED, or a fixed timeout)." },
	[TKO_ST_ANSWERS_XDP] = { "answers_xdp",
		"Peer probes answered with XDP_TX (less those the driver reported dropped)." },
	[TKO_ST_ANSWERS_TC] = { "answers_tc",
		"Peer probes answered from TC ingress, as taken by the device." },
	[TKO_ST_ANSWERS_LOST] = { "answers_lost",
		"XDP_TX answers the driver reported dropped (not counted as answered)." },
	[TKO_ST_ANSWER_ERRORS] = { "answer_errors",
		"Answers from TC ingress the device did not take." },
	[TKO_ST_FLOWS_TRACKED] = { "policy_flows",
		"Forwarded flows a forwarded policy made sessions." },
	[TKO_ST_PROBES_DEFERRED] = { "probes_deferred",
		"Probes a device's full queue did not take, sent at a later pass (neither "
		"sent nor unanswered)." },
	[TKO_ST_PROBES_NO_PATH] = { "probes_no_path",
		"Probes that could not leave (no path, a link without carrier, a device "
		"refusing every frame), counted as unanswered." },
	[TKO_ST_PEER_OUT_OF_ORDER] = { "peer_out_of_order",
		"Segments of peers within the window but not at RCV.NXT (out of order, "
		"retransmitted): legitimate, left to the endpoint." },
	[TKO_ST_ANSWERS_DECLINED] = { "answers_declined",
		"Peer probes tko could not answer (timestamps that disagree with the "
		"session, an MD5/AO signature), left to the endpoint." },
	[TKO_ST_REWRITE_ERRORS] = { "answer_rewrite_errors",
		"Peer probes whose answer could not be written over them: left to the "
		"endpoint, or dropped where the answer was written but not trimmed." },
	[TKO_ST_WAKES_SENT] = { "wakes_sent",
		"Wakes of sleeping endpoints whose magic packets a device took (--wake)." },
	[TKO_ST_WAKES_FAILED] = { "wakes_failed",
		"Wakes that could not be sent: magic packets refused, no MAC and no hook, "
		"or the agent's signal ring full." },
	[TKO_ST_WAKE_HOOKS] = { "wake_hooks",
		"Wake hooks (tko agent --on-wake-exec) that exited 0." },
	[TKO_ST_WAKE_HOOKS_FAILED] = { "wake_hooks_failed",
		"Wake hooks that failed, timed out or could not be started." },
};
_Static_assert(sizeof(stats) / sizeof(stats[0]) == TKO_ST_MAX, "a counter without a name");

/* The states `tko_sessions` reports, each with a line even when 0. */
static const __u8 reported_states[] = {
	TKO_LEARNING, TKO_ACTIVE, TKO_SUSPENDED, TKO_PEER_DEAD, TKO_STOPPED,
};

const char *stat_name(unsigned int i)
{
	return i < TKO_ST_MAX && stats[i].name ? stats[i].name : NULL;
}

const char *stat_help(unsigned int i)
{
	return i < TKO_ST_MAX && stats[i].help ? stats[i].help : NULL;
}

static int count_state(__u32 id, const struct tko_session *s, void *ctx)
{
	struct tko_metrics *m = ctx;

	m->sessions[s->state]++;
	return 0;
}

int metrics_read(struct tko *t, struct tko_metrics *m)
{
	int n;

	memset(m, 0, sizeof(*m));
	n = tko_dp_ifaces_read(t, m->ifaces, sizeof(m->ifaces) / sizeof(m->ifaces[0]));
	if (n < 0 && n != -ENOENT)
		return n;
	m->nifaces = n > 0 ? n : 0;
	if (tko_dp_kernel_read(t, m->kernel, sizeof(m->kernel), &m->features))
		m->kernel[0] = '\0';
	return tko_dp_stats_read(t, m->stats) ?: tko_dp_event_stats_read(t, m->events) ?:
	       tko_dp_session_foreach(t, count_state, m);
}

/* A label value: the name, or the number where a newer datapath has no name yet. */
static const char *label(const char *name, unsigned int v, char buf[12])
{
	if (strcmp(name, "unknown"))
		return name;
	snprintf(buf, 12, "%u", v);
	return buf;
}

/*
 * The Prometheus text exposition format, version 0.0.4: a HELP and a TYPE
 * line per family, each family once, counters named *_total.
 */
int format_prometheus(const struct tko_metrics *m, FILE *f)
{
	char tb[12], rb[12];

	fprintf(f, "# HELP tko_sessions Sessions in the session table, by lifecycle state.\n"
		   "# TYPE tko_sessions gauge\n");
	for (size_t i = 0; i < sizeof(reported_states); i++)
		fprintf(f, "tko_sessions{state=\"%s\"} %llu\n", state_name(reported_states[i]),
			(unsigned long long)m->sessions[reported_states[i]]);
	fprintf(f, "# HELP tko_events_total Session lifecycle events, by type and reason.\n"
		   "# TYPE tko_events_total counter\n");
	for (unsigned int type = 1; type < TKO_EVENTS_MAX; type++)
		for (unsigned int r = 0; r < TKO_REASONS_MAX; r++) {
			__u64 n = m->events[type * TKO_REASONS_MAX + r];

			if (n)
				fprintf(f, "tko_events_total{type=\"%s\",reason=\"%s\"} %llu\n",
					label(event_name(type), type, tb),
					label(reason_name(r), r, rb), (unsigned long long)n);
		}
	if (m->nifaces)
		fprintf(f, "# HELP tko_iface_answer_path How the agent's interfaces answer the "
			   "peers' probes (xdp: XDP_TX; tc: TC ingress), and why.\n"
			   "# TYPE tko_iface_answer_path gauge\n");
	for (int i = 0; i < m->nifaces; i++) {
		char name[40];

		escape_name(m->ifaces[i].name, name, sizeof(name));
		fprintf(f, "tko_iface_answer_path{iface=\"%s\",path=\"%s\",why=\"%s\"} 1\n", name,
			answer_path_name(m->ifaces[i].path), answer_why_name(m->ifaces[i].why));
	}
	if (m->kernel[0])
		fprintf(f, "# HELP tko_kernel_feature What the agent's kernel offers of what tko "
			   "uses when it can (1) or does without (0).\n"
			   "# TYPE tko_kernel_feature gauge\n");
	for (__u32 bit = 1; m->kernel[0] && (bit & TKO_FEAT_ALL); bit <<= 1)
		fprintf(f, "tko_kernel_feature{feature=\"%s\"} %d\n", feature_name(bit),
			!!(m->features & bit));
	for (unsigned int i = 0; i < TKO_ST_MAX; i++)
		fprintf(f, "# HELP tko_%s_total %s\n# TYPE tko_%s_total counter\ntko_%s_total %llu\n",
			stats[i].name, stats[i].help, stats[i].name, stats[i].name,
			(unsigned long long)m->stats[i]);
	return ferror(f) ? -EIO : 0;
}
