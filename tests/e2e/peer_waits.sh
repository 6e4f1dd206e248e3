#!/usr/bin/env bash
# The server speaks to a sleeping device: its data waits, unacknowledged,
# and tko must still tell a live server from a dead one.
#
#   [dev] d0 ---- g0 [gw] g1 ---- s0 [srv]
#   asleep: nft drops all      tko agent on g1
#
# The device holds a flow to the server in IPv4 and IPv6, each kept by tko
# (tko start --idle 1 --interval 2 --retry-interval 1 --retries 2), offloaded.
# The device sleeps (an nft table in its namespace drops every packet in and
# out, ARP included), and the server's application sends a line. The server
# retransmits it with backoff (0.2, 0.4, 0.8, 1.6, 3.2 ... s): between two
# retransmissions more than --idle apart the session goes ACTIVE again, and
# tko probes. The server answers each probe with an ACK at its own SND.NXT,
# beyond the device's RCV.NXT by the line it is still retransmitting: that is
# the server alive (RFC 9293 3.10.7.4: an acceptable segment, in the
# device's window), never "no answer". Expected, while the device sleeps
# SLEEP_S s: no peer_dead, tko's probes answered, the session re-armed at
# least once (the case this is about happened). Then the device wakes: the
# server's next retransmission delivers the line, and the session carries on.
# The device and the server run nothing of tko's.
. "$(dirname "$0")/lib.sh"

SLEEP_S=16	# s: several of the server's backoffs, past idle + retries * retry interval
OPTS=(--idle 1 --interval 2 --retry-interval 1 --retries 2)

note "topology $PREFIX-{dev,gw,srv}"
topo_up "$PREFIX" || { not_ok "topology"; finish; }
check "agent starts on the gateway's server-facing interface" agent_start --iface g1


declare -A LOCAL REMOTE SRV_IN CLI_IN ANS0
events_of() { tko events | awk -v l="${LOCAL[$1]}" '$2 == l { sub(/^reason=/, "", $5); print $1, $5 }'; }
session() { tko list --json | grep -F "\"local\":\"${LOCAL[$1]}\""; }
field() { session "$1" | sed -n "s/.*\"$2\":\"\\{0,1\\}\([a-z0-9_]*\).*/\1/p"; }
state_is() { [ "$(field "$1" state)" = "$2" ]; }
no_peer_dead() { ! events_of "$1" | grep -q '^peer_dead '; }
kept() { local st; st=$(field "$1" state); [ -n "$st" ] && [ "$st" != peer_dead ]; }
rearmed() { [ "$(events_of "$1" | grep -c '^resumed ')" -ge 1 ]; }

# flow FAM SRV PORT: a server whose application sends what is written to
# its stdin (fd SRV_IN[FAM]), a device connected to it, whose application
# sends what is written to CLI_IN[FAM]; one line each way.
flow() {
	local fam=$1 srv=$2 port=$3 w
	mkfifo "$WORK/$fam.srv.in" "$WORK/$fam.cli.in"
	nsenter --net=/run/netns/"$TOPO_SRV" "$TCPKIT" server "$srv" "$port" \
		<"$WORK/$fam.srv.in" >"$WORK/$fam.srv" 2>&1 &
	exec {w}>"$WORK/$fam.srv.in"
	SRV_IN[$fam]=$w
	wait_for 5 grep -qs listening "$WORK/$fam.srv" || return 1
	nsenter --net=/run/netns/"$TOPO_DEV" "$TCPKIT" client "$srv" "$port" \
		<"$WORK/$fam.cli.in" >"$WORK/$fam.cli" 2>&1 &
	exec {w}>"$WORK/$fam.cli.in"
	CLI_IN[$fam]=$w
	wait_for 5 grep -qs connected "$WORK/$fam.cli" || return 1
	read -r _ LOCAL[$fam] REMOTE[$fam] <"$WORK/$fam.cli"
	echo hello >&"$w"
	wait_for 5 grep -q "recv hello" "$WORK/$fam.srv" || return 1
	echo hi >&"${SRV_IN[$fam]}"
	wait_for 5 grep -q "recv hi" "$WORK/$fam.cli"
}

for fam in v4 v6; do
	if [ $fam = v4 ]; then srv=$TOPO_V4_SRV; else srv=$TOPO_V6_SRV; fi
	check "$fam: the device's flow to the server" flow $fam "$srv" 7200
	check "$fam: tko start" tko start "${LOCAL[$fam]}" "${REMOTE[$fam]}" "${OPTS[@]}"
	# traffic after the start: tko learns the state from it
	echo again >&"${CLI_IN[$fam]}"
	check "$fam: a line from the device after the start" wait_for 5 grep -q "recv again" "$WORK/$fam.srv"
	check "$fam: offloaded once idle" wait_for 10 state_is $fam active
done

check "the device sleeps" device_sleep
for fam in v4 v6; do
	ANS0[$fam]=$(field $fam probes_answered)
	echo "command" >&"${SRV_IN[$fam]}"
done
note "the server sent a line to the sleeping device on both flows; watching ${SLEEP_S} s"
sleep "$SLEEP_S"
for fam in v4 v6; do
	events_of $fam | sed "s/^/# $fam: /"
	check "$fam: the live server is not declared dead" no_peer_dead $fam
	check "$fam: the session is still kept" kept $fam
	check "$fam: re-armed while the server's line waited (the case happened)" rearmed $fam
	check "$fam: tko's probes were answered meanwhile" \
		test "$(field $fam probes_answered)" -gt "${ANS0[$fam]}"
	check "$fam: the line has not reached the sleeping device" bash -c "! grep -q 'recv command' '$WORK/$fam.cli'"
done

device_wake
note "the device wakes; the server's next retransmission may be some seconds away"
for fam in v4 v6; do
	check "$fam: the line arrives once the device is awake" wait_for 40 grep -q "recv command" "$WORK/$fam.cli"
	check "$fam: no peer_dead after all" no_peer_dead $fam
done
check "agent exits cleanly" agent_stop
finish
