#!/usr/bin/env bash
# tko's own keepalives, end to end (IPv4, through a NAT).
#
# A NAT between the gateway and the server forgets a TCP flow after
# NAT_TIMEOUT seconds of silence and drops any non-SYN segment of a flow it
# does not know. The server sends no keepalives. The device sleeps for three
# NAT timeouts:
#  - with tko probing from the gateway, the NAT keeps the mapping and the
#    device's data after waking arrives;
#  - without tko, the mapping is gone and the data is lost.
# Then: a server that disappears is declared dead after --retries unanswered
# probes, and --on-dead reset tells the device at once; and the agent is not
# woken per keepalive. On the wire, tshark sees every forged probe as a
# "TCP Keep-Alive" with good checksums and the server's replies as
# "TCP Keep-Alive ACK".
. "$(dirname "$0")/lib.sh"

NAT_TIMEOUT=4
SLEEP_S=$((3 * NAT_TIMEOUT))
SRV=$TOPO_V4_NAT_SRV

note "topology $PREFIX-{dev,gw,nat,srv}, NAT idle timeout ${NAT_TIMEOUT}s"
topo_nat_up "$PREFIX" $NAT_TIMEOUT || { not_ok "topology"; finish; }
check "agent starts" agent_start --iface g1 --tick-ms 5

event_seen() { tko events | grep -qE "$1"; }
session_active() { tko list --json | grep -q "\"local\":\"$1\".*\"state\":\"active\""; }

connect() { tcp_pair $SRV "$@"; }

# --- 1. through the NAT, with and without tko -------------------------------
ip netns exec "$TOPO_NAT" tshark -i n0 -f "tcp port 7001" -w "$WORK/nat.pcapng" -q \
	2>"$WORK/tshark.err" &
TSHARK=$!
wait_for 10 grep -qs "Capturing on" "$WORK/tshark.err" || not_ok "capture starts"

check "with tko: connected through the NAT" connect 7001 with
check "with tko: tko start" tko start "$LOCAL" "$REMOTE" --idle 1 --interval 2 \
	--retry-interval 1 --retries 3
# Monitor mode: tko learns the state from the next exchange.
echo ping >&$W
check "with tko: session active" wait_for 10 session_active "$LOCAL"
topo_device_sleep
note "device asleep for ${SLEEP_S}s"
sleep $SLEEP_S
check "with tko: probes answered while the device slept" \
	bash -c "'$TKO' list --json --pin-dir '$PIN' |
		 sed -n 's/.*\"probes_answered\":\([0-9]*\).*/\1/p' | awk '{ exit !(\$1 >= 5) }'"
topo_device_wake
echo after-sleep >&$W
check "with tko: data after waking arrives" wait_for 5 grep -q "recv after-sleep" "$WORK/with.srv"
check "with tko: the data suspends the offload" \
	wait_for 5 event_seen "^suspended +$LOCAL -> $REMOTE reason=data_local"
tko stop "$LOCAL" "$REMOTE" >/dev/null
sleep 0.5
kill -INT $TSHARK; wait $TSHARK 2>/dev/null

probes=$(tshark -r "$WORK/nat.pcapng" -Y "ip.src==$TOPO_V4_DEV && ip.ttl==64" 2>/dev/null | wc -l)
ka=$(tshark -r "$WORK/nat.pcapng" -Y "ip.src==$TOPO_V4_DEV && ip.ttl==64 && tcp.analysis.keep_alive" \
	2>/dev/null | wc -l)
good=$(tshark -r "$WORK/nat.pcapng" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
	-Y "ip.src==$TOPO_V4_DEV && ip.ttl==64 && tcp.checksum.status==1 && ip.checksum.status==1" \
	2>/dev/null | wc -l)
acks=$(tshark -r "$WORK/nat.pcapng" -Y "ip.src==$SRV && tcp.analysis.keep_alive_ack" 2>/dev/null | wc -l)
note "on the wire: $probes forged probes, $ka keep-alives, $good with good checksums, $acks keep-alive ACKs from the server"
check "tshark: forged probes seen" test "$probes" -ge 5
check "tshark: every forged probe is a TCP Keep-Alive" test "$ka" -eq "$probes"
check "tshark: every forged probe has good IP and TCP checksums" test "$good" -eq "$probes"
check "tshark: the server's replies are TCP Keep-Alive ACKs" test "$acks" -ge 5

check "without tko: connected through the NAT" connect 7002 without
topo_device_sleep
note "device asleep for ${SLEEP_S}s"
sleep $SLEEP_S
topo_device_wake
echo after-sleep >&$W
sleep 3		# the time the data took with tko, several times over
check "without tko: the NAT forgot the flow and the data is lost" \
	bash -c "! grep -q 'recv after-sleep' '$WORK/without.srv'"

# --- 2. a server that disappears ---------------------------------------------
check "dead peer: connected" connect 7003 dead
check "dead peer: tko start --retries 3 --on-dead reset" tko start "$LOCAL" "$REMOTE" \
	--idle 1 --interval 1 --retry-interval 1 --retries 3 --on-dead reset
echo ping >&$W
check "dead peer: session active" wait_for 10 session_active "$LOCAL"
ip -n "$TOPO_SRV" link set s0 down	# the server host is gone
check "dead peer: peer_dead after 3 unanswered probes" \
	wait_for 15 event_seen "^peer_dead +$LOCAL -> $REMOTE reason=retries state=peer_dead probes=[0-9]+/[0-9]+ unanswered=3 "
check "dead peer: the device's connection is reset at once (--on-dead reset)" \
	wait_for 5 grep -q "error read: Connection reset by peer" "$WORK/dead.cli"
check "dead peer: the session is gone" bash -c "! '$TKO' list --pin-dir '$PIN' | grep -q '$LOCAL'"
ip -n "$TOPO_SRV" link set s0 up

# --- 3. the agent is never woken while nothing changes ----------------------
# 50 sessions handed over with --state to a port the server drops: each
# probes every second and nothing answers (255 retries: no event meanwhile).
# Every thread of the agent counts (the metrics server's too): 0 wakeups.
ip netns exec "$TOPO_SRV" nft add table ip tko_test_drop
ip netns exec "$TOPO_SRV" nft add chain ip tko_test_drop in '{ type filter hook input priority 0; }'
ip netns exec "$TOPO_SRV" nft add rule ip tko_test_drop in tcp dport 7999 drop
for i in $(seq 1 50); do
	tko start $TOPO_V4_DEV:$((20000 + i)) $SRV:7999 --idle 1 --interval 1 --retry-interval 1 \
		--retries 255 --state snd_nxt=$((1000 * i)),rcv_nxt=$((7 * i)),win=512 >/dev/null
done
sent() { tko stats | awk '$1 == "probes_sent" { print $2 }'; }
ctxsw() { cat /proc/"$AGENT_PID"/task/*/status |
	awk '/^voluntary_ctxt_switches|^nonvoluntary_ctxt_switches/ { n += $2 } END { print n }'; }
wait_for 10 bash -c "[ \$('$TKO' list --pin-dir '$PIN' | grep -c active) -ge 50 ]"
sleep 1	# the path requests of the new sessions are answered
s0=$(sent) c0=$(ctxsw)
sleep 20
s1=$(sent) c1=$(ctxsw)
note "agent: $((c1 - c0)) context switches in 20 s while $((s1 - s0)) probes were sent"
check "probes flow without the agent (>= 900 in 20 s)" test $((s1 - s0)) -ge 900
check "the agent slept through them (0 wakeups in 20 s)" test $((c1 - c0)) -eq 0

# --- 4. a lost carrier is re-injected ----------------------------------------
passes() { tko stats | awk '$1 == "carrier_passes" { print $2 }'; }
advancing() { local a; a=$(passes); sleep 0.2; [ "$(passes)" -gt "$a" ]; }
stalled() { ! advancing; }
# Drop everything tko0 sends for a moment: the circulating frame is lost.
in_gw tc qdisc add dev tko0 clsact
in_gw tc filter add dev tko0 egress bpf da bytecode '1,6 0 0 2'	# cBPF: return TC_ACT_SHOT
check "carrier passes stop when the frame is lost" wait_for 2 stalled
in_gw tc qdisc del dev tko0 clsact
check "the watchdog re-injects it within its period" wait_for 6 advancing
check "the agent said so" grep -q "carrier lost" "$WORK/agent.err"

check "agent exits cleanly" agent_stop
check "the carrier veth pair is removed" bash -c "! ip -n '$TOPO_GW' link show tko0 2>/dev/null"
finish
