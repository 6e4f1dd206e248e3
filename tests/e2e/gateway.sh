#!/usr/bin/env bash
# A device behind a gateway keeps its TCP session to a server while it sleeps.
#
# The server probes with SO_KEEPALIVE every second and gives up after 3
# unanswered probes (~4 s). The device's link then goes down for longer than
# that. With tko on the gateway the server's probes are answered (XDP_TX on
# the server-facing interface), the connection survives and the device's data
# after waking arrives; without tko the server's kernel drops the connection.
# Checked on the wire: tshark classifies every forged answer as a
# "TCP Keep-Alive ACK" with good checksums. IPv4 and IPv6.
. "$(dirname "$0")/lib.sh"

KA_IDLE=1 KA_INTVL=1 KA_CNT=3
ASLEEP_ANSWERS=6	# answers while asleep: twice what the server tolerates

note "topology $PREFIX-{dev,gw,srv}"
topo_up "$PREFIX" || { not_ok "topology"; finish; }
check "agent starts on the gateway's server-facing interface" agent_start --iface g1

answered() {	# peer_probes_answered of the only session
	tko list --json | sed -n 's/.*"peer_probes_answered":\([0-9]*\).*/\1/p' | head -1
}
answered_at_least() { local n; n=$(answered); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
session_active() { tko list --json | grep -q '"state":"active"'; }
event_seen() { tko events | grep -qE "$1"; }

# scenario FAMILY WITH_TKO PORT
scenario() {
	local fam=$1 with=$2 port=$3 srv dev ttl_field tag local remote fifo cap base
	tag="$fam $([ "$with" = 1 ] && echo with || echo without) tko"
	if [ "$fam" = ipv4 ]; then
		srv=$TOPO_V4_SRV dev=$TOPO_V4_DEV ttl_field="ip.src==$dev && ip.ttl==64"
	else
		srv=$TOPO_V6_SRV dev=$TOPO_V6_DEV ttl_field="ipv6.src==$dev && ipv6.hlim==64"
	fi
	cap=$WORK/$fam-$with.pcapng
	fifo=$WORK/$fam-$with.fifo
	mkfifo "$fifo"

	ip netns exec "$TOPO_SRV" tshark -i s0 -f "tcp port $port" -w "$cap" -q \
		2>"$WORK/tshark.err" &
	local tshark_pid=$!
	wait_for 10 grep -qs "Capturing on" "$WORK/tshark.err" || not_ok "$tag: capture starts"

	ip netns exec "$TOPO_SRV" "$TCPKIT" server "$srv" "$port" $KA_IDLE $KA_INTVL $KA_CNT \
		>"$WORK/srv.out" 2>&1 &
	wait_for 5 grep -q listening "$WORK/srv.out"
	ip netns exec "$TOPO_DEV" "$TCPKIT" client "$srv" "$port" <"$fifo" >"$WORK/cli.out" 2>&1 &
	exec {w}>"$fifo"	# the client's stdin stays open: no FIN
	wait_for 5 grep -q connected "$WORK/cli.out" ||
		{ not_ok "$tag: connect: $(cat "$WORK/cli.out")"; return; }
	read -r _ local remote <"$WORK/cli.out"
	echo hello >&$w
	check "$tag: server receives data before the sleep" \
		wait_for 5 grep -q "recv hello" "$WORK/srv.out"

	if [ "$with" = 1 ]; then
		check "$tag: tko start $local $remote" tko start "$local" "$remote" --idle 1
		check "$tag: session learned and active" wait_for 10 session_active
		base=$(answered)
		topo_device_sleep
		check "$tag: gateway answers $ASLEEP_ANSWERS server probes while the device sleeps" \
			wait_for 20 answered_at_least $((base + ASLEEP_ANSWERS))
		check "$tag: server still holds the connection" \
			bash -c "! grep -q error '$WORK/srv.out'"
	else
		topo_device_sleep
		check "$tag: server gives the connection up" \
			wait_for 20 grep -q "error read: Connection timed out" "$WORK/srv.out"
	fi

	topo_device_wake
	echo after-sleep >&$w
	if [ "$with" = 1 ]; then
		check "$tag: data sent after waking arrives" \
			wait_for 5 grep -q "recv after-sleep" "$WORK/srv.out"
		check "$tag: the device's data suspends the offload (event)" \
			wait_for 5 event_seen "^suspended +\\S+ -> \\S+ reason=data_local"
		check "$tag: tko stop reports the handoff state" tko stop "$local" "$remote"
		check "$tag: stopped event" wait_for 5 event_seen "^stopped +\\S+ -> \\S+ reason=request"
	else
		sleep 1	# what the server would have received, it prints within this
		check "$tag: data sent after waking is lost" \
			bash -c "! grep -q 'recv after-sleep' '$WORK/srv.out'"
	fi
	exec {w}>&-
	sleep 0.5		# let the last segments reach the capture
	kill -INT "$tshark_pid" 2>/dev/null	# INT: tshark flushes the file
	wait "$tshark_pid" 2>/dev/null

	if [ "$with" = 1 ]; then
		# Forged: from the device's address with TTL 64 (its own segments
		# are routed by the gateway: TTL 63). Answers to the server's
		# probes, plus tko's own probe when the session became active.
		local forged acks probes good
		forged=$(tshark -r "$cap" -Y "$ttl_field" 2>/dev/null | wc -l)
		acks=$(tshark -r "$cap" -Y "$ttl_field && tcp.analysis.keep_alive_ack" 2>/dev/null | wc -l)
		probes=$(tshark -r "$cap" -Y "$ttl_field && tcp.analysis.keep_alive" 2>/dev/null | wc -l)
		good=$(tshark -r "$cap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
			-Y "$ttl_field && tcp.checksum.status==1 && (ipv6 || ip.checksum.status==1)" \
			2>/dev/null | wc -l)
		note "$tag: $forged forged segments: $acks keep-alive ACKs, $probes keep-alives; $good with good checksums"
		check "$tag: tshark sees the answers" test "$acks" -ge $ASLEEP_ANSWERS
		check "$tag: every forged segment is a TCP Keep-Alive ACK or a TCP Keep-Alive" \
			test $((acks + probes)) -eq "$forged"
		check "$tag: every forged segment has good IP and TCP checksums" test "$good" -eq "$forged"
	fi
	pkill -f "$TCPKIT server $srv $port" 2>/dev/null
	pkill -f "$TCPKIT client $srv $port" 2>/dev/null
	true
}

scenario ipv6 1 5003
scenario ipv4 1 5001
scenario ipv4 0 5002
scenario ipv6 0 5004

check "agent exits cleanly on SIGTERM" agent_stop
finish
