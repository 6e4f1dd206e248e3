// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "format.h"

#define NAME(table, i) ((i) < sizeof(table) / sizeof(table[0]) && table[i] ? table[i] : "unknown")

const char *state_name(__u8 state)
{
	static const char *const names[] = {
		[TKO_FREE] = "free", [TKO_LEARNING] = "learning", [TKO_ACTIVE] = "active",
		[TKO_SUSPENDED] = "suspended", [TKO_PEER_DEAD] = "peer_dead",
		[TKO_STOPPED] = "stopped", [TKO_CREATING] = "creating",
	};
	return NAME(names, state);
}

const char *event_name(__u8 type)
{
	static const char *const names[] = {
		[TKO_EV_OFFLOADED] = "offloaded", [TKO_EV_SUSPENDED] = "suspended",
		[TKO_EV_RESUMED] = "resumed", [TKO_EV_INVALIDATED] = "invalidated",
		[TKO_EV_PEER_DEAD] = "peer_dead", [TKO_EV_STOPPED] = "stopped",
		[TKO_EV_STARTED] = "started", [TKO_EV_REFUSED] = "refused",
		[TKO_EV_WAITING] = "waiting", [TKO_EV_WARNING] = "warning",
		[TKO_EV_WAKE] = "wake",
	};
	return NAME(names, type);
}

const char *reason_name(__u8 reason)
{
	static const char *const names[] = {
		[TKO_R_NONE] = "none", [TKO_R_REQUEST] = "request", [TKO_R_IDLE] = "idle",
		[TKO_R_DATA_LOCAL] = "data_local", [TKO_R_DATA_PEER] = "data_peer",
		[TKO_R_FIN_LOCAL] = "fin_local", [TKO_R_FIN_PEER] = "fin_peer",
		[TKO_R_RST_LOCAL] = "rst_local", [TKO_R_RST_PEER] = "rst_peer",
		[TKO_R_SYN_LOCAL] = "syn_local", [TKO_R_DRIFT] = "drift",
		[TKO_R_RETRIES] = "retries", [TKO_R_POLICY] = "policy",
		[TKO_R_CLOSED] = "closed", [TKO_R_TABLE_FULL] = "table_full",
		[TKO_R_INDEX_FULL] = "index_full", [TKO_R_BUSY] = "busy",
		[TKO_R_IN_FLIGHT] = "in_flight", [TKO_R_NO_PATH] = "no_path",
		[TKO_R_LINK_DOWN] = "link_down", [TKO_R_ROUTE] = "route",
		[TKO_R_TS_LIMIT] = "ts_limit", [TKO_R_NO_TRAFFIC] = "no_traffic",
		[TKO_R_CT_MISSING] = "ct_missing", [TKO_R_TS_MISMATCH] = "ts_mismatch",
		[TKO_R_SIGNED] = "signed", [TKO_R_REWRITE] = "rewrite", [TKO_R_NO_ACK] = "no_ack",
		[TKO_R_WAKE_UNKNOWN] = "wake_unknown", [TKO_R_WAKE_FAILED] = "wake_failed",
	};
	return NAME(names, reason);
}

const char *answer_path_name(__u8 path)
{
	static const char *const names[] = { [TKO_ANSWER_XDP] = "xdp", [TKO_ANSWER_TC] = "tc" };

	return NAME(names, path);
}

const char *answer_why_name(__u8 why)
{
	static const char *const names[] = {
		[TKO_WHY_DRIVER] = "driver", [TKO_WHY_GENERIC] = "generic_xdp",
		[TKO_WHY_VETH] = "veth", [TKO_WHY_FORCED] = "forced",
		[TKO_WHY_XDP_LOST] = "xdp_tx_lost",
	};
	return NAME(names, why);
}

const char *answer_why_text(__u8 why)
{
	static const char *const texts[] = {
		[TKO_WHY_DRIVER] = "the driver transmits XDP_TX itself",
		[TKO_WHY_GENERIC] = "generic XDP transmits through the stack",
		[TKO_WHY_VETH] = "veth delivers XDP_TX only to a peer that runs XDP",
		[TKO_WHY_FORCED] = "chosen with --answers",
		[TKO_WHY_XDP_LOST] = "the driver dropped XDP_TX answers",
	};
	return NAME(texts, why);
}

const char *feature_name(__u32 bit)
{
	switch (bit) {
	case TKO_FEAT_CT_KFUNCS: return "conntrack_kfuncs";
	case TKO_FEAT_CARRIER_RING: return "carrier_ring";
	case TKO_FEAT_USEC_TS: return "usec_timestamps";
	}
	return "unknown";
}

const char *feature_lack(__u32 bit)
{
	switch (bit) {
	case TKO_FEAT_CT_KFUNCS:
		return "no conntrack kfuncs (nf_conntrack not loaded?): the gateway's own "
		       "conntrack entries of offloaded flows are not refreshed, and a "
		       "masqueraded device's address is not found for a wake";
	case TKO_FEAT_CARRIER_RING:
		return "veth takes no XDP program at tko1's MTU: the carrier shares the CPU's "
		       "backlog with the probes, and a flood of them can stall it until the "
		       "watchdog restarts it";
	}
	return NULL;	/* usec timestamps: no socket of this kernel uses them either */
}

int format_kernel(const char *release, __u32 features, bool json, char *buf, size_t len)
{
	char rel[64 * 2 + 1];
	size_t o = 0;
	int n;

	for (size_t i = 0; release[i] && i < 63; i++) {	/* as escape_name(), longer */
		if (release[i] == '"' || release[i] == '\\')
			rel[o++] = '\\';
		rel[o++] = release[i];
	}
	rel[o] = '\0';
	n = snprintf(buf, len, json ? "{\"release\":\"%s\"" : "kernel %s", rel);
	for (__u32 bit = 1; bit & TKO_FEAT_ALL; bit <<= 1) {
		bool on = features & bit;

		if (n >= 0 && (size_t)n < len)
			n += snprintf(buf + n, len - n, json ? ",\"%s\":%s" : " %s=%s",
				      feature_name(bit), on ? (json ? "true" : "yes") :
				      (json ? "false" : "no"));
	}
	if (json && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, "}");
	return n;
}

void escape_name(const char *name, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; name[i] && i < 16 && o + 3 < len; i++) {
		if (name[i] == '"' || name[i] == '\\')
			out[o++] = '\\';
		out[o++] = name[i];
	}
	out[o] = '\0';
}

int format_iface(const struct tko_iface *e, bool json, char *buf, size_t len)
{
	char name[40];

	if (!json)
		return snprintf(buf, len, "iface %-16.16s ifindex=%u path=%s why=%s link=%s "
				"answers_xdp=%llu answers_tc=%llu answers_lost=%llu answer_errors=%llu "
				"probes_no_path=%llu",
				e->name, e->ifindex, answer_path_name(e->path),
				answer_why_name(e->why), e->down ? "down" : "up",
				(unsigned long long)e->answers_xdp,
				(unsigned long long)e->answers_tc,
				(unsigned long long)e->answers_lost,
				(unsigned long long)e->answer_errors,
				(unsigned long long)e->probes_no_path);
	escape_name(e->name, name, sizeof(name));
	return snprintf(buf, len, "{\"name\":\"%s\",\"ifindex\":%u,\"path\":\"%s\",\"why\":\"%s\","
			"\"xdp\":\"%s\",\"link\":\"%s\",\"answers_xdp\":%llu,\"answers_tc\":%llu,"
			"\"answers_lost\":%llu,\"answer_errors\":%llu,\"probes_no_path\":%llu}",
			name, e->ifindex, answer_path_name(e->path), answer_why_name(e->why),
			e->xdp_generic ? "generic" : "native", e->down ? "down" : "up",
			(unsigned long long)e->answers_xdp,
			(unsigned long long)e->answers_tc, (unsigned long long)e->answers_lost,
			(unsigned long long)e->answer_errors,
			(unsigned long long)e->probes_no_path);
}

void format_endpoint(__u8 family, const __u8 addr[16], __u16 port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (family == TKO_AF_INET6) {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, port);
	} else {
		inet_ntop(AF_INET, addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, port);
	}
}

void format_key(const struct tko_key *k, char *local, char *remote)
{
	format_endpoint(k->family, k->laddr, k->lport, local, ENDPOINT_STRLEN);
	format_endpoint(k->family, k->raddr, k->rport, remote, ENDPOINT_STRLEN);
}

int format_event(const struct tko_event *e, bool json, char *buf, size_t len)
{
	char l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN];

	format_key(&e->key, l, r);
	if (json)
		return snprintf(buf, len,
				"{\"seq\":%llu,\"ts_ns\":%llu,\"event\":\"%s\",\"reason\":\"%s\","
				"\"local\":\"%s\",\"remote\":\"%s\",\"state\":\"%s\","
				"\"probes_sent\":%u,\"probes_answered\":%u,"
				"\"peer_probes_answered\":%u,\"unanswered\":%u,"
				"\"next_probe_ms\":%u,\"snd_una\":%u,\"snd_nxt\":%u,"
				"\"rcv_nxt\":%u,\"window\":%u,\"tsval\":%u,\"tsecr\":%u}",
				(unsigned long long)e->seq, (unsigned long long)e->ts_ns,
				event_name(e->type), reason_name(e->reason), l, r,
				state_name(e->state), e->cnt.probes_sent, e->cnt.probes_answered,
				e->cnt.peer_probes_answered, e->cnt.unanswered, e->next_probe_ms,
				e->tcp.snd_una, e->tcp.snd_nxt, e->tcp.rcv_nxt, e->tcp.window,
				e->tcp.ts_val, e->tcp.ts_ecr);
	return snprintf(buf, len,
			"%-11s %s -> %s reason=%s state=%s probes=%u/%u unanswered=%u "
			"peer_probes=%u next_probe_ms=%u snd_nxt=%u rcv_nxt=%u",
			event_name(e->type), l, r, reason_name(e->reason), state_name(e->state),
			e->cnt.probes_sent, e->cnt.probes_answered, e->cnt.unanswered,
			e->cnt.peer_probes_answered, e->next_probe_ms, e->tcp.snd_nxt,
			e->tcp.rcv_nxt);
}

const char *session_header(void)
{
	return "LOCAL                  REMOTE                 STATE      IDLE   INTVL  "
	       "PROBES  ANSWERED  PEER_PROBES  SND_NXT     RCV_NXT";
}

int format_session(const struct tko_key *k, const struct tko_session *s, __u64 now_ns,
		   bool json, char *buf, size_t len)
{
	char l[ENDPOINT_STRLEN], r[ENDPOINT_STRLEN], una[16] = "null", wake[48] = "null";
	__u64 next_ms = s->next_ns > now_ns ? (s->next_ns - now_ns) / 1000000 : 0;

	format_key(k, l, r);
	if (s->have & TKO_HAVE_UNA)	/* null: not known yet (never seen acknowledged) */
		snprintf(una, sizeof(una), "%u", s->tcp.snd_una);
	/* --wake: the endpoint's MAC, "auto" while not learned; null without */
	if (s->have & TKO_HAVE_WAKE)
		snprintf(wake, sizeof(wake), "\"%02x:%02x:%02x:%02x:%02x:%02x\"", s->wake_mac[0],
			 s->wake_mac[1], s->wake_mac[2], s->wake_mac[3], s->wake_mac[4],
			 s->wake_mac[5]);
	else if (s->cfg.flags & TKO_F_WAKE)
		snprintf(wake, sizeof(wake), "\"auto\"");
	if (json)
		return snprintf(buf, len,
				"{\"local\":\"%s\",\"remote\":\"%s\",\"state\":\"%s\","
				"\"idle_s\":%u,\"interval_s\":%u,\"retry_interval_s\":%u,"
				"\"retries\":%u,\"probe\":\"%s\",\"oneshot\":%s,"
				"\"learned\":%s,\"timestamps\":%s,\"ifindex\":%u,"
				"\"probes_sent\":%u,\"probes_answered\":%u,"
				"\"peer_probes_answered\":%u,\"answers_limited\":%u,"
				"\"unanswered\":%u,\"probes_late\":%u,\"policy\":%u,"
				"\"next_ms\":%llu,\"snd_una\":%s,\"snd_nxt\":%u,\"rcv_nxt\":%u,"
				"\"window\":%u,\"tsval\":%u,\"tsecr\":%u,\"wake\":%s,"
				"\"wake_ifindex\":%u}",
				l, r, state_name(s->state), s->cfg.idle_s, s->cfg.interval_s,
				s->cfg.retry_interval_s, s->cfg.retries,
				s->cfg.probe == TKO_PROBE_BYTE ? "byte" : "zero",
				s->cfg.flags & TKO_F_ONESHOT ? "true" : "false",
				s->have & TKO_HAVE_SEQ ? "true" : "false",
				s->have & TKO_HAVE_TS ? "true" : "false", s->ifindex,
				s->cnt.probes_sent, s->cnt.probes_answered,
				s->cnt.peer_probes_answered, s->cnt.answers_limited,
				s->cnt.unanswered, s->cnt.probes_late, s->policy,
				(unsigned long long)next_ms, una, s->tcp.snd_nxt,
				s->tcp.rcv_nxt, s->tcp.window, s->tcp.ts_val, s->tcp.ts_ecr, wake,
				s->wake_ifindex);
	return snprintf(buf, len, "%-22s %-22s %-10s %-6u %-6u %-7u %-9u %-12u %-11u %u",
			l, r, state_name(s->state), s->cfg.idle_s, s->cfg.interval_s,
			s->cnt.probes_sent, s->cnt.probes_answered, s->cnt.peer_probes_answered,
			s->tcp.snd_nxt, s->tcp.rcv_nxt);
}
