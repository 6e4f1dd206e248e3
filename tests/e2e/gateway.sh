#!/usr/bin/env bash
# A device behind a gateway keeps its TCP session to a server while it sleeps.
#
# The server probes with SO_KEEPALIVE every second and gives up after 3
# unanswered probes (~4 s). The device's link then goes down for longer than
# that. With tko on the gateway the server's probes are answered, the
# connection survives and the device's data after waking arrives; without tko
# the server's kernel drops the connection. The server runs nothing of tko's:
# on this veth, XDP_TX would never reach it, so the agent answers from TC
# ingress (and says so); forcing XDP_TX (--answers xdp) loses the first
# answer, which the datapath sees (the driver reports the drop), takes back
# from its counts, and falls back to TC by itself.
# Checked on the wire: tshark classifies every forged answer as a "TCP
# Keep-Alive ACK", with a correct checksum, or the pseudo-header sum of a
# CHECKSUM_PARTIAL segment (as the device's own segments carry on veth; with
# checksum offload off on the gateway, the kernel completes it, and tshark
# finds it correct); the server's kernel counts no checksum error (nstat).
# IPv4 and IPv6.
. "$(dirname "$0")/lib.sh"

KA_IDLE=1 KA_INTVL=1 KA_CNT=3
ASLEEP_ANSWERS=6	# answers while asleep: twice what the server tolerates

note "topology $PREFIX-{dev,gw,srv}"
topo_up "$PREFIX" || { not_ok "topology"; finish; }
check "agent starts on the gateway's server-facing interface" agent_start --iface g1
check "the agent answers from TC ingress on the veth, and says why" \
	grep -q "attached to g1 (ifindex [0-9]*, native XDP, answers from TC ingress: veth delivers XDP_TX only to a peer that runs XDP)" \
	"$WORK/agent.err"

answered() {	# peer_probes_answered of the only session
	tko list --json | sed -n 's/.*"peer_probes_answered":\([0-9]*\).*/\1/p' | head -1
}
answered_at_least() { local n; n=$(answered); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
session_active() { tko list --json | grep -q '"state":"active"'; }
event_seen() { tko events | grep -qE "$1"; }
stat() { tko stats | awk -v k="$1" '$1 == k { print $2 }'; }
srv_nstat() { ip netns exec "$TOPO_SRV" nstat -asz "$1" | awk -v k="$1" '$1 == k { print $2 }'; }

# scenario FAMILY WITH_TKO PORT [complete|partial]: the forged segments'
# TCP checksums as the server sees them (default: either).
scenario() {
	local fam=$1 with=$2 port=$3 want_csum=${4:-} srv dev ttl_field tag local remote fifo cap base
	local ka0 csum0 counted
	tag="$fam $([ "$with" = 1 ] && echo with || echo without) tko"
	if [ "$fam" = ipv4 ]; then
		srv=$TOPO_V4_SRV dev=$TOPO_V4_DEV ttl_field="ip.src==$dev && ip.ttl==64"
	else
		srv=$TOPO_V6_SRV dev=$TOPO_V6_DEV ttl_field="ipv6.src==$dev && ipv6.hlim==64"
	fi
	# Files of their own per scenario: a background job truncates its
	# output only once it runs, and must not be read before that.
	cap=$WORK/$port.pcapng
	fifo=$WORK/$port.fifo
	local so=$WORK/$port.srv co=$WORK/$port.cli
	mkfifo "$fifo"

	ip netns exec "$TOPO_SRV" tshark -i s0 -f "tcp port $port" -w "$cap" -q \
		2>"$WORK/$port.tshark" &
	local tshark_pid=$!
	wait_for 10 grep -qs "Capturing on" "$WORK/$port.tshark" || not_ok "$tag: capture starts"

	ip netns exec "$TOPO_SRV" "$TCPKIT" server "$srv" "$port" $KA_IDLE $KA_INTVL $KA_CNT \
		>"$so" 2>&1 &
	wait_for 5 grep -q listening "$so"
	ip netns exec "$TOPO_DEV" "$TCPKIT" client "$srv" "$port" <"$fifo" >"$co" 2>&1 &
	exec {w}>"$fifo"	# the client's stdin stays open: no FIN
	wait_for 5 grep -q connected "$co" ||
		{ not_ok "$tag: connect: $(cat "$co")"; return; }
	read -r _ local remote <"$co"
	echo hello >&$w
	check "$tag: server receives data before the sleep" \
		wait_for 5 grep -q "recv hello" "$so"
	ka0=$(srv_nstat TcpExtTCPKeepAlive) csum0=$(srv_nstat TcpInCsumErrors)

	if [ "$with" = 1 ]; then
		answered0=$(stat peer_probes_answered)
		check "$tag: tko start $local $remote" tko start "$local" "$remote" --idle 1
		check "$tag: session learned and active" wait_for 10 session_active
		base=$(answered)
		topo_device_sleep
		check "$tag: gateway answers $ASLEEP_ANSWERS server probes while the device sleeps" \
			wait_for 20 answered_at_least $((base + ASLEEP_ANSWERS))
		check "$tag: server still holds the connection" \
			bash -c "! grep -q error '$so'"
	else
		topo_device_sleep
		check "$tag: server gives the connection up" \
			wait_for 20 grep -q "error read: Connection timed out" "$so"
	fi

	note "$tag: the server's kernel sent $(($(srv_nstat TcpExtTCPKeepAlive) - ka0)) keepalive probes (nstat TcpExtTCPKeepAlive)"
	topo_device_wake
	echo after-sleep >&$w
	if [ "$with" = 1 ]; then
		check "$tag: data sent after waking arrives" \
			wait_for 5 grep -q "recv after-sleep" "$so"
		check "$tag: the device's data suspends the offload (event)" \
			wait_for 5 event_seen "^suspended +\\S+ -> \\S+ reason=data_local"
		check "$tag: tko stop reports the handoff state" tko stop "$local" "$remote"
		check "$tag: stopped event" wait_for 5 event_seen "^stopped +\\S+ -> \\S+ reason=request"
		# Every answer of the session, to its end: once suspended by
		# the device's data it is re-armed after --idle, and answers
		# the server's next probe if that comes before tko stop.
		counted=$(($(stat peer_probes_answered) - answered0))
	else
		sleep 1	# what the server would have received, it prints within this
		check "$tag: data sent after waking is lost" \
			bash -c "! grep -q 'recv after-sleep' '$so'"
	fi
	exec {w}>&-
	sleep 0.5		# let the last segments reach the capture
	kill -INT "$tshark_pid" 2>/dev/null	# INT: tshark flushes the file
	wait "$tshark_pid" 2>/dev/null

	if [ "$with" = 1 ]; then
		# Forged: from the device's address with TTL 64 (its own segments
		# are routed by the gateway: TTL 63). Answers to the server's
		# probes, plus tko's own probe when the session became active.
		local forged acks probes ip_good csum complete partial bad
		forged=$(tshark -r "$cap" -Y "$ttl_field" 2>/dev/null | wc -l)
		acks=$(tshark -r "$cap" -Y "$ttl_field && tcp.analysis.keep_alive_ack" 2>/dev/null | wc -l)
		probes=$(tshark -r "$cap" -Y "$ttl_field && tcp.analysis.keep_alive" 2>/dev/null | wc -l)
		ip_good=$(tshark -r "$cap" -o ip.check_checksum:TRUE \
			-Y "$ttl_field && (ipv6 || ip.checksum.status==1)" 2>/dev/null | wc -l)
		csum=$("$(dirname "$0")/tcp_csum.py" "$cap" "$ttl_field")
		read -r _ complete _ partial _ bad <<<"$csum"
		note "$tag: $forged forged segments: $acks keep-alive ACKs, $probes keep-alives; TCP checksums: $csum; capture: $(grep -E 'captured|dropped' "$WORK/$port.tshark" | tr '\n' ' ')"
		check "$tag: tshark sees the answers" test "$acks" -ge $ASLEEP_ANSWERS
		check "$tag: as many answers on the wire as tko counted ($counted)" \
			test "$acks" -eq "$counted"
		check "$tag: every forged segment is a TCP Keep-Alive ACK or a TCP Keep-Alive" \
			test $((acks + probes)) -eq "$forged"
		check "$tag: every forged segment has a good IP checksum" test "$ip_good" -eq "$forged"
		check "$tag: no forged segment has a wrong TCP checksum" test "$bad" -eq 0
		case $want_csum in
		complete) check "$tag: the kernel completed every partial checksum correctly" \
				test "$complete" -eq "$forged" ;;
		partial) check "$tag: the answers carry the partial checksum of their probes" \
				test "$partial" -ge "$acks" ;;
		esac
		check "$tag: the server's kernel counted no checksum error (nstat TcpInCsumErrors)" \
			test "$(srv_nstat TcpInCsumErrors)" -eq "$csum0"
	fi
	pkill -f "$TCPKIT server $srv $port" 2>/dev/null
	pkill -f "$TCPKIT client $srv $port" 2>/dev/null
	true
}

# The answers leave CHECKSUM_PARTIAL, like the probes they answer: on veth
# nobody completes the sum. Without checksum offload on g1 the kernel
# completes it on the way out, which only gives a correct sum if the
# partial one was right.
scenario ipv6 1 5003 partial
in_gw ethtool -K g1 tx off >/dev/null
scenario ipv4 1 5001 complete
in_gw ethtool -K g1 tx on >/dev/null
scenario ipv4 0 5002
scenario ipv6 0 5004

answers_tc=$(stat answers_tc) all=$(stat peer_probes_answered)
note "tko stats: peer_probes_answered $all, answers_tc $answers_tc, answers_xdp $(stat answers_xdp)"
check "tko stats: every answer went out from TC ingress" test "$answers_tc" -eq "$all"
check "tko stats: g1 answers from TC (path=tc why=veth)" \
	bash -c "'$TKO' stats --pin-dir '$PIN' | grep -qE '^iface g1 +ifindex=[0-9]+ path=tc why=veth link=up answers_xdp=0 answers_tc=$answers_tc answers_lost=0 answer_errors=0 probes_no_path=0\$'"
check "agent exits cleanly on SIGTERM" agent_stop

# --- XDP_TX forced on the veth: the driver drops it; tko sees it and falls back
check "agent starts with --answers xdp" agent_start --iface g1 --answers xdp
check "the agent says it answers with XDP_TX, as told" \
	grep -q "attached to g1 (ifindex [0-9]*, native XDP, answers with XDP_TX: chosen with --answers)" \
	"$WORK/agent.err"
scenario ipv4 1 5005
lost=$(stat answers_lost) all=$(stat peer_probes_answered)
note "tko stats: peer_probes_answered $all, answers_xdp $(stat answers_xdp), answers_tc $(stat answers_tc), answers_lost $lost"
check "the lost XDP_TX answer is counted as lost, not as answered" test "$lost" -ge 1
check "every answer counted went out from TC ingress" test "$(stat answers_tc)" -eq "$all"
check "the agent says g1 fell back to TC ingress" \
	grep -q "g1: answers from TC ingress now (the driver dropped XDP_TX answers; [0-9]* lost)" \
	"$WORK/agent.err"
check "tko stats: g1 answers from TC (path=tc why=xdp_tx_lost)" \
	bash -c "'$TKO' stats --pin-dir '$PIN' | grep -qE '^iface g1 +ifindex=[0-9]+ path=tc why=xdp_tx_lost link=up answers_xdp=0 '"
check "agent exits cleanly on SIGTERM" agent_stop
finish
