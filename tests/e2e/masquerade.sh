#!/usr/bin/env bash
# A gateway that masquerades its devices keeps an offloaded flow in its own
# conntrack table while the device sleeps.
#
# The gateway (tko agent on its server-facing g1) masquerades the device
# behind its own address; its conntrack forgets an established flow idle for
# CT_TIMEOUT s, never picks a flow up mid-stream (nf_conntrack_tcp_loose=0)
# and drops what it does not know, as home routers do. tko's probes and the
# answers it consumes never cross netfilter: without the conntrack refresh
# (bpf_xdp_ct_lookup + bpf_ct_change_timeout) the gateway would forget the
# flow while tko keeps it alive upstream, and drop the device's data after
# waking. The device holds two connections to the server; one is offloaded
# (tko start with the tuple as it appears on g1, after the NAT), the other is
# the control: same device, same sleep, no offload. The device sleeps
# SLEEP_S s, far longer than CT_TIMEOUT. The offloaded flow's entry is there
# all along, refreshed to CT_TIMEOUT at each answered probe (INTERVAL is
# longer than the refresh period, CT_TIMEOUT / 4) and never beyond;
# the control's entry expires, and its data after waking is lost. The server
# runs no keepalive of its own and nothing of tko's. IPv4 and IPv6.
. "$(dirname "$0")/lib.sh"

CT_TIMEOUT=6	# s: the gateway's nf_conntrack_tcp_timeout_established
SLEEP_S=20	# s: the device's sleep, more than three times CT_TIMEOUT
INTERVAL=2	# s: tko's probes of the offloaded flow

note "topology $PREFIX-{dev,gw,srv}, the gateway masquerading with a ${CT_TIMEOUT} s established timeout"
topo_up "$PREFIX" || { not_ok "topology"; finish; }
topo_gw_masquerade $CT_TIMEOUT || { not_ok "masquerade on the gateway"; finish; }
check "agent starts on the gateway's server-facing interface" agent_start --iface g1
check "the agent says it refreshes conntrack entries with the namespace's ${CT_TIMEOUT} s timeout" \
	grep -q "conntrack: .*refresh.* ${CT_TIMEOUT} s" "$WORK/agent.err"

# ct_line PORT: the gateway's conntrack entry of the flow to the server's PORT.
ct_line() { in_gw conntrack -L -p tcp --orig-port-dst "$1" 2>/dev/null | grep "dport=$1 "; }
ct_timeout() { ct_line "$1" | awk '{ print $3 }'; }
ct_gone() { [ -z "$(ct_line "$1")" ]; }
established() { local p; for p; do ct_line "$p" | grep -q ESTABLISHED || return 1; done; }
# counters NAME...: their values, in that order, from one `tko stats` (a probe
# answered between two reads would count in one and not the other).
counters() { tko stats | awk -v names="$*" 'BEGIN { n = split(names, k) } { v[$1] = $2 }
	END { for (i = 1; i <= n; i++) printf "%s%s", v[k[i]], i < n ? " " : "\n" }'; }
session_active() { tko list --json | grep -q '"state":"active"'; }

# scenario FAMILY PORT_OFFLOADED PORT_CONTROL
scenario() {
	local fam=$1 pa=$2 pb=$3 srv gw_addr nat_local remote wa wb t
	local max=0 min=999 lost=0 refreshed missing answered r1 m1 a1
	if [ "$fam" = ipv4 ]; then srv=$TOPO_V4_SRV gw_addr=$TOPO_V4_GW_SRV
	else srv=$TOPO_V6_SRV gw_addr=$TOPO_V6_GW_SRV; fi

	tcp_pair "$srv" "$pa" "$fam-a" || { not_ok "$fam: offloaded connection"; return; }
	wa=$W remote=$REMOTE
	tcp_pair "$srv" "$pb" "$fam-b" || { not_ok "$fam: control connection"; return; }
	wb=$W
	# What the server sees is the tuple on g1, the one tko is given.
	nat_local=$(sed -n 's/^accepted //p' "$WORK/$fam-a.srv")
	[ "$fam" = ipv6 ] && gw_addr="[$gw_addr]"
	check "$fam: the server sees the device as the gateway ($nat_local)" \
		test "${nat_local%:*}" = "$gw_addr"
	check "$fam: both flows in the gateway's conntrack, ESTABLISHED" established "$pa" "$pb"

	check "$fam: tko start $nat_local $remote" \
		tko start "$nat_local" "$remote" --idle 1 --interval $INTERVAL
	# tko learns the flow's state from its next segment on g1.
	echo learn >&"$wa"
	check "$fam: session learned and active" wait_for 10 session_active
	read -r refreshed missing answered < <(counters conntrack_refreshed conntrack_missing \
		probes_answered)

	topo_device_sleep
	# The device sleeps; once a second, the gateway's entries as conntrack
	# itself reports them (the remaining timeout, in seconds).
	for ((i = 0; i < SLEEP_S; i++)); do
		sleep 1
		t=$(ct_timeout "$pa")
		if [ -z "$t" ]; then lost=$((lost + 1)); continue; fi
		[ "$t" -gt "$max" ] && max=$t
		[ "$t" -lt "$min" ] && min=$t
	done
	# While asleep: tko's probes 2 s apart, each answer a refresh period
	# (CT_TIMEOUT / 4) after the last. Once awake, the device's data re-arms
	# the session and its next answer may come sooner: not counted.
	read -r r1 m1 a1 < <(counters conntrack_refreshed conntrack_missing probes_answered)
	note "$fam: offloaded flow's entry over ${SLEEP_S} s: missing ${lost} times, timeout between $min and $max s"
	check "$fam: the offloaded flow's entry never left the gateway's table" test "$lost" -eq 0
	check "$fam: ... and was never given more than the namespace's ${CT_TIMEOUT} s" \
		test "$max" -le $CT_TIMEOUT
	check "$fam: the control flow's entry expired" ct_gone "$pb"

	topo_device_wake
	echo after-sleep >&"$wa"
	echo after-sleep >&"$wb"
	check "$fam: offloaded: the device's data after waking arrives at the server" \
		wait_for 5 grep -q "recv after-sleep" "$WORK/$fam-a.srv"
	sleep 2	# the control's data (and its retransmissions) would have arrived by now
	check "$fam: control: the device's data after waking is lost (the gateway dropped it)" \
		bash -c "! grep -q 'recv after-sleep' '$WORK/$fam-b.srv'"
	check "$fam: control: the gateway did not take its flow up again" ct_gone "$pb"

	refreshed=$((r1 - refreshed)) missing=$((m1 - missing)) answered=$((a1 - answered))
	note "$fam: while asleep: $answered probes answered, $refreshed conntrack entries refreshed, $missing lookups found none"
	check "$fam: tko kept the flow alive while asleep (probes answered)" \
		test "$answered" -ge $((SLEEP_S / INTERVAL - 2))
	check "$fam: one refresh per answered probe, none missing" \
		test "$refreshed" -eq "$answered" -a "$missing" -eq 0
	check "$fam: tko stop" tko stop "$nat_local" "$remote"
	exec {wa}>&- {wb}>&-
	pkill -f "$TCPKIT server $srv $pa" 2>/dev/null
	pkill -f "$TCPKIT server $srv $pb" 2>/dev/null
	true
}

scenario ipv4 5201 5202
scenario ipv6 5203 5204

check "agent exits cleanly on SIGTERM" agent_stop
finish
