#!/usr/bin/env bash
# Wake on data (the sleep proxy), end to end (IPv4).
#
#   [dev] d0 ---- g0 [gw] g1 ---- n0 [nat] n1 ---- s0 [srv]
#   asleep: nft drops   tko agent --iface g1       masquerade, forgets a
#   all in and out;     --wake-iface g0;           flow idle NAT_TIMEOUT s
#   tcpkit wol on d0    masquerade, forgets a
#                       flow idle NAT_TIMEOUT s
#
# Both NATs forget: the carrier-grade NAT upstream (topo_nat_up; tko's probes
# keep its mapping) and the gateway's own conntrack (topo_gw_masquerade; tko
# refreshes its entry). The device "sleeps": an nft table in its namespace
# drops every packet in and out (IP, IPv6 and ARP: its stack can neither
# receive nor answer), as a host in suspend whose NIC only watches for magic
# packets. That NIC is `tcpkit wol`: an AF_PACKET socket on d0 (it sees
# frames before netfilter) that removes the nft table when a magic packet for
# the device's MAC arrives, and prints each one it sees.
#
# Three flows from the device to the server, each made a session by a
# forwarded policy (--idle 1), each offloaded before the device sleeps:
#  - WAKE (--wake auto): the device sleeps past both NATs' timeout (tko's
#    probes answered meanwhile), then the server's application sends a
#    command: the gateway wakes the device (a `wake` event, reason
#    data_peer; wakes_sent; a magic packet for the device's MAC, as an
#    EtherType 0x0842 frame and a UDP broadcast to port 9, from g0), and the
#    command reaches the device's application within WINDOW s: the time from
#    the server's send to the application's read is measured and printed.
#  - CTL (a policy with the default --wake none), the control: its command,
#    sent while the device sleeps, has not arrived WINDOW s later, no wake
#    event, no magic packet; it arrives with the server's retransmission only
#    once the device is awake for another reason (the data passes as today).
#  - KA (--wake auto): the server probes the device with its own
#    SO_KEEPALIVE every second while the device sleeps; tko answers, and a
#    keepalive never wakes (wakes_sent unchanged, no wake event, the
#    listener silent).
# The agent runs --on-wake-exec HOOK: the hook records its environment
# (TKO_EVENT, TKO_REASON, TKO_LOCAL, TKO_REMOTE, TKO_MAC, TKO_IFACE,
# TKO_SESSION, TKO_WAKES, checked against the session). Then the device
# sleeps again and the server closes WAKE (FIN): a wake with reason fin_peer,
# the FIN reaches the device, and this time the hook sleeps past
# --on-wake-timeout: it is killed and counted (wake_hooks_failed, a warning
# wake_failed; the magic packets were sent all the same: wakes_failed 0).
# Last, a device that does not wake: the server's data draws one wake at
# once, then one a second while the data waits, three in all (an episode).
# The device and the server run nothing of tko's.
. "$(dirname "$0")/lib.sh"

NAT_TIMEOUT=4	# s: both NATs forget an established flow idle this long
INTERVAL=2	# s: tko's probes
ASLEEP_S=9	# s: the device's sleep before the server speaks, past NAT_TIMEOUT twice
WINDOW=10	# s: "within a few seconds"
HOOK_TIMEOUT=2	# s: --on-wake-timeout
P_WAKE=7101 P_CTL=7102 P_KA=7103
SRV=$TOPO_V4_NAT_SRV

note "topology $PREFIX-{dev,gw,nat,srv}: the NAT and the gateway masquerade and forget a flow idle ${NAT_TIMEOUT} s"
topo_nat_up "$PREFIX" $NAT_TIMEOUT || { not_ok "topology"; finish; }
topo_gw_masquerade $NAT_TIMEOUT || { not_ok "masquerade on the gateway"; finish; }
DEV_MAC=$(ip netns exec "$TOPO_DEV" cat /sys/class/net/d0/address)
GW_MAC=$(ip netns exec "$TOPO_GW" cat /sys/class/net/g0/address)
note "the device's MAC $DEV_MAC, the gateway's g0 $GW_MAC"

# listener TAG [CMD...]: a fresh Wake-on-LAN listener on d0 for the device's
# MAC, output in $WORK/TAG.wol; at the first magic packet it runs CMD (by
# default: wake the device up).
listener() {
	local tag=$1
	shift
	[ $# -gt 0 ] || set -- nft -f "$WORK/wake.nft"
	[ -n "${WOL_PID:-}" ] && kill "$WOL_PID" 2>/dev/null
	nsenter --net=/run/netns/"$TOPO_DEV" "$TCPKIT" wol d0 "$DEV_MAC" "$@" \
		>"$WORK/$tag.wol" 2>&1 &
	WOL_PID=$!
	wait_for 5 grep -qs listening "$WORK/$tag.wol"
}
woken_at() { awk '$1 == "woken" { print $5; exit }' "$WORK/$1.wol"; }

# The hook: records its environment (TKO_*) in hook.N.env and its pid in
# hook.N.pid; once hook.slow exists, it outlives --on-wake-timeout.
cat >"$WORK/hook.sh" <<EOF
#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
n=\$((\$(ls "$WORK" | grep -c '^hook\.[0-9]*\.env\$') + 1))
echo \$\$ >"$WORK/hook.\$n.pid"
env | grep '^TKO_' | sort >"$WORK/hook.\$n.env"
[ -e "$WORK/hook.slow" ] && exec sleep 60
exit 0
EOF
chmod +x "$WORK/hook.sh"
hook_env() { sed -n "s/^$2=//p" "$WORK/hook.$1.env" 2>/dev/null; }
hook_env_is() { [ "$(hook_env "$1" "$2")" = "$3" ]; }

declare -A PORT SRV_PID SRV_W CLI_W
# Each line the device's application prints, stamped with the time it was
# printed (the client's stdout is unbuffered).
stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }
# pair TAG PORT [IDLE INTVL CNT]: a server on SRV:PORT (with SO_KEEPALIVE if
# IDLE INTVL CNT) and the device's client connected to it; a line each way.
# SRV_W[TAG], CLI_W[TAG]: the server's and the client's stdin (what they send).
pair() {
	local tag=$1 port=$2 w
	shift 2
	PORT[$tag]=$port
	mkfifo "$WORK/$tag.sin" "$WORK/$tag.cin"
	nsenter --net=/run/netns/"$TOPO_SRV" "$TCPKIT" server "$SRV" "$port" "$@" \
		<"$WORK/$tag.sin" >"$WORK/$tag.srv" 2>&1 &
	SRV_PID[$tag]=$!
	exec {w}>"$WORK/$tag.sin"
	SRV_W[$tag]=$w
	wait_for 5 grep -qs listening "$WORK/$tag.srv" || return 1
	nsenter --net=/run/netns/"$TOPO_DEV" "$TCPKIT" client "$SRV" "$port" \
		<"$WORK/$tag.cin" 2>&1 | stamp >"$WORK/$tag.cli" &
	exec {w}>"$WORK/$tag.cin"
	CLI_W[$tag]=$w
	wait_for 5 grep -qs connected "$WORK/$tag.cli" || return 1
	echo hello >&"${CLI_W[$tag]}"
	wait_for 5 grep -q "recv hello" "$WORK/$tag.srv" || return 1
	echo welcome >&"${SRV_W[$tag]}"
	wait_for 5 grep -q " recv welcome$" "$WORK/$tag.cli"
}
# received TAG WHAT: the device's application read WHAT ("recv LINE" or "eof").
received() { grep -q "^[0-9.]* $2\$" "$WORK/$1.cli"; }
received_at() { awk -v w="$2" '{ t = $1; $1 = "" } substr($0, 2) == w { print t; exit }' "$WORK/$1.cli"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "") print "none"; else printf "%.3f", b - a }'; }
faster() { [ "$1" != none ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# The session of a flow, by its remote (the server; the local side is the
# gateway's address after its masquerade).
session() { tko list --json | grep -F "\"remote\":\"$SRV:${PORT[$1]}\""; }
field() { session "$1" | sed -n "s/.*\"$2\":\"\\{0,1\\}\([a-z0-9_.:]*\).*/\1/p"; }
active() { [ "$(field "$1" state)" = active ]; }
# event TYPE TAG REASON [FILE]: an event line of the flow (tko events, or
# the agent's own output).
event_lines() { if [ -n "${1:-}" ]; then cat "$1"; else tko events; fi; }
event() {
	event_lines "${4:-}" | awk -v t="$1" -v r="$SRV:${PORT[$2]}" -v why="reason=$3" \
		'$1 == t && $4 == r && $5 == why { f = 1 } END { exit !f }'
}
no_wake_event() {
	! event_lines "${2:-}" | awk -v r="$SRV:${PORT[$1]}" \
		'$1 == "wake" && $4 == r { f = 1 } END { exit !f }'
}
counter() { tko stats | awk -v n="$1" '$1 == n { print $2 }'; }
counter_is() { [ "$(counter "$1")" = "$2" ]; }
counter_at_least() { local n; n=$(counter "$1"); [ -n "$n" ] && [ "$n" -ge "$2" ]; }
ct_established() {	# ct_established NS PORT
	ip netns exec "$1" conntrack -L -p tcp --orig-port-dst "$2" 2>/dev/null | grep -q ESTABLISHED
}
silent() { ! grep -q woken "$WORK/$1.wol"; }

# --- the gateway ----------------------------------------------------------------
ip netns exec "$TOPO_DEV" tshark -i d0 -f "ether proto 0x0842 or udp dst port 9" \
	-w "$WORK/wol.pcapng" -q 2>"$WORK/tshark.err" &
TSHARK=$!
check "agent starts: --iface g1 --wake-iface g0 --on-wake-exec hook.sh --on-wake-timeout $HOOK_TIMEOUT" \
	agent_start --iface g1 --wake-iface g0 --on-wake-exec "$WORK/hook.sh" \
	--on-wake-timeout $HOOK_TIMEOUT
check "policy add --forwarded --remote-port $P_WAKE --wake auto" \
	tko policy add --forwarded --remote-port $P_WAKE --idle 1 --interval $INTERVAL \
	--wake auto >/dev/null
check "policy add --forwarded --remote-port $P_CTL (no --wake: none)" \
	tko policy add --forwarded --remote-port $P_CTL --idle 1 --interval $INTERVAL >/dev/null
check "policy add --forwarded --remote-port $P_KA --wake auto" \
	tko policy add --forwarded --remote-port $P_KA --idle 1 --interval $INTERVAL \
	--wake auto >/dev/null
wait_for 10 grep -qs "Capturing on" "$WORK/tshark.err" || not_ok "capture on d0 starts"

# --- the device connects, exchanges a line, idles --------------------------------
check "wake flow: connected, a line each way" pair wake $P_WAKE
check "control flow: connected, a line each way" pair ctl $P_CTL
# The server probes every second once the flow is idle a second, gives up
# after 5 unanswered.
check "keepalive flow (the server's SO_KEEPALIVE every second): connected, a line each way" \
	pair ka $P_KA 1 1 5
for t in wake ctl ka; do
	check "$t: a session (started reason=policy)" wait_for 5 event started $t policy
	check "$t: offloaded (active)" wait_for 5 active $t
done
LOCAL=$(field wake local)
G0_INDEX=$(ip netns exec "$TOPO_GW" cat /sys/class/net/g0/ifindex)
check "wake: tko list: the device's MAC recorded, on g0 (wake $(field wake wake), wake_ifindex $(field wake wake_ifindex))" \
	test "$(field wake wake) $(field wake wake_ifindex)" = "$DEV_MAC $G0_INDEX"
check "keepalive flow: tko list: the device's MAC recorded" test "$(field ka wake)" = "$DEV_MAC"
check "control: tko list: no wake (null)" test "$(field ctl wake)" = null
note "the wake flow on g1: $LOCAL -> $SRV:$P_WAKE"
check "the server's lines to an awake device woke nothing (wakes_sent 0)" counter_is wakes_sent 0

# --- the device sleeps past both NATs' timeout ------------------------------------
check "Wake-on-LAN listener on the device's d0" listener wol1
answered0=$(field wake probes_answered) ka0=$(field ka peer_probes_answered)
device_sleep || not_ok "the device falls asleep (nft)"
note "the device sleeps ${ASLEEP_S} s (the NATs forget after ${NAT_TIMEOUT} s); the server probes the keepalive flow every second"
sleep $ASLEEP_S
check "the device is asleep (its nft table drops everything)" asleep
answered=$(($(field wake probes_answered) - answered0))
ka=$(($(field ka peer_probes_answered) - ka0))
note "while asleep: tko's probes of the wake flow answered $answered, the server's keepalives answered by tko $ka"
check "tko's probes were answered while the device slept" test "$answered" -ge $((ASLEEP_S / INTERVAL - 1))
check "the upstream NAT still holds the wake flow" ct_established "$TOPO_NAT" $P_WAKE
check "the gateway's conntrack still holds the wake flow" ct_established "$TOPO_GW" $P_WAKE
check "keepalive flow: tko answered the server's keepalives every second" \
	test "$ka" -ge $((ASLEEP_S - 3))
check "keepalive flow: the server's keepalive never gave up" \
	bash -c "! grep -q error '$WORK/ka.srv'"
check "keepalive flow: still offloaded" active ka
check "keepalive flow: the server's probes woke nothing: no wake event" no_wake_event ka
check "keepalive flow: ... nor in the agent's output" no_wake_event ka "$WORK/agent.out"
check "keepalive flow: ... wakes_sent 0" counter_is wakes_sent 0
check "keepalive flow: ... the listener heard no magic packet" silent wol1

# --- control: a flow without --wake ------------------------------------------------
t0=$EPOCHREALTIME
echo cmd-ctl >&"${SRV_W[ctl]}"
note "control: the server sent a command at $t0; watching ${WINDOW} s"
sleep $WINDOW
check "control: the command has not reached the sleeping device in ${WINDOW} s" \
	bash -c "! grep -q 'recv cmd-ctl' '$WORK/ctl.cli'"
check "control: no wake event" no_wake_event ctl
check "control: ... nor in the agent's output" no_wake_event ctl "$WORK/agent.out"
check "control: wakes_sent 0" counter_is wakes_sent 0
check "control: the listener heard no magic packet" silent wol1
check "control: the device still sleeps" asleep

# --- the wake flow: the server's command wakes the device ------------------------
t1=$EPOCHREALTIME
echo cmd-wake >&"${SRV_W[wake]}"
note "wake: the server sent a command at $t1; watching ${WINDOW} s"
wait_for $WINDOW received wake "recv cmd-wake"
lat=$(elapsed "$t1" "$(received_at wake "recv cmd-wake")")
woke=$(elapsed "$t1" "$(woken_at wol1)")
note "wake: the magic packet reached the device ${woke} s after the server's send; the command reached its application after ${lat} s"
check "wake: the command reached the device's application in ${lat} s (< ${WINDOW} s)" \
	faster "$lat" $WINDOW
check "wake: the listener was woken by a magic packet for $DEV_MAC" \
	grep -qE "^woken by (ethertype|udp) at " "$WORK/wol1.wol"
check "wake: ... and heard both: the EtherType 0x0842 frame and the UDP datagram" \
	bash -c "grep -q '^woken by ethertype ' '$WORK/wol1.wol' && grep -q '^woken by udp ' '$WORK/wol1.wol'"
check "wake: the device is awake (the listener removed its nft tables)" awake
check "wake: a wake event for the session, reason data_peer" wait_for 2 event wake wake data_peer
check "wake: the agent printed it (wake $LOCAL -> $SRV:$P_WAKE reason=data_peer)" \
	event wake wake data_peer "$WORK/agent.out"
wakes=$(counter wakes_sent)
check "wake: wakes_sent $wakes (1 to 3 in one episode)" test "${wakes:-0}" -ge 1 -a "${wakes:-0}" -le 3
check "wake: wakes_failed 0" counter_is wakes_failed 0
check "wake: the other flows woke nothing" \
	bash -c "! '$TKO' events --pin-dir '$PIN' | awk '\$1 == \"wake\" && \$4 != \"$SRV:$P_WAKE\" { f = 1 } END { exit !f }'"
check "control: the command arrives once the device is awake (the server's retransmission)" \
	wait_for 20 received ctl "recv cmd-ctl"

# --- the hook's environment ---------------------------------------------------------
check "hook: ran once (wake_hooks 1)" wait_for 5 counter_is wake_hooks 1
check "hook: wake_hooks_failed 0" counter_is wake_hooks_failed 0
check "no warning (wake_failed, wake_unknown) so far" \
	bash -c "! grep -qE '^warning .* reason=wake_' '$WORK/agent.out'"
note "hook's environment: $({ tr '\n' ' ' <"$WORK/hook.1.env"; } 2>/dev/null)"
check "hook: TKO_EVENT=wake" hook_env_is 1 TKO_EVENT wake
check "hook: TKO_REASON=data_peer" hook_env_is 1 TKO_REASON data_peer
check "hook: TKO_LOCAL=$LOCAL" hook_env_is 1 TKO_LOCAL "$LOCAL"
check "hook: TKO_REMOTE=$SRV:$P_WAKE" hook_env_is 1 TKO_REMOTE "$SRV:$P_WAKE"
check "hook: TKO_MAC=$DEV_MAC" test "$(hook_env 1 TKO_MAC | tr A-F a-f)" = "$DEV_MAC"
check "hook: TKO_IFACE=g0" hook_env_is 1 TKO_IFACE g0
check "hook: TKO_SESSION is a session id" grep -sqE '^TKO_SESSION=[0-9]+$' "$WORK/hook.1.env"
check "hook: TKO_WAKES=1" hook_env_is 1 TKO_WAKES 1
check "hook: TKO_FAMILY=ipv4, TKO_LOCAL_ADDR/PORT and TKO_REMOTE_ADDR/PORT agree" \
	test "$(hook_env 1 TKO_FAMILY) $(hook_env 1 TKO_LOCAL_ADDR):$(hook_env 1 TKO_LOCAL_PORT) $(hook_env 1 TKO_REMOTE_ADDR):$(hook_env 1 TKO_REMOTE_PORT)" = \
	"ipv4 $LOCAL $SRV:$P_WAKE"

# --- the device sleeps again; the server closes: fin_peer, a hook too slow --------
check "wake flow: offloaded again once the device idles (active)" wait_for 10 active wake
check "a fresh Wake-on-LAN listener" listener wol2
device_sleep || not_ok "the device falls asleep again"
hooks_failed=$(counter wake_hooks_failed)
: >"$WORK/hook.slow"
t2=$EPOCHREALTIME
kill "${SRV_PID[wake]}"
note "fin: the server closed the wake flow at $t2; watching ${WINDOW} s"
wait_for $WINDOW received wake eof
lat2=$(elapsed "$t2" "$(received_at wake eof)")
note "fin: the server's FIN reached the device's application after ${lat2} s"
check "fin: the FIN reached the device's application in ${lat2} s (< ${WINDOW} s)" \
	faster "$lat2" $WINDOW
check "fin: a wake event, reason fin_peer" wait_for 2 event wake wake fin_peer
check "fin: the listener was woken" grep -q "^woken by " "$WORK/wol2.wol"
check "fin: the hook ran with TKO_REASON=fin_peer" wait_for 2 hook_env_is 2 TKO_REASON fin_peer
check "fin: ... TKO_WAKES=1 (a new episode)" hook_env_is 2 TKO_WAKES 1
check "hook too slow: counted in wake_hooks_failed after --on-wake-timeout ${HOOK_TIMEOUT} s" \
	wait_for $((HOOK_TIMEOUT + 3)) counter_is wake_hooks_failed $((${hooks_failed:-0} + 1))
hook_pid=$(cat "$WORK/hook.2.pid" 2>/dev/null)
check "hook too slow: killed (pid ${hook_pid:-none} gone)" \
	wait_for 2 bash -c "[ -n '$hook_pid' ] && ! kill -0 '$hook_pid' 2>/dev/null"
check "hook too slow: a warning for the session, reason wake_failed" \
	wait_for 2 event warning wake wake_failed
check "hook too slow: ... printed by the agent" event warning wake wake_failed "$WORK/agent.out"
check "hook too slow: wakes_failed still 0 (the magic packets were sent)" counter_is wakes_failed 0
check "no wake_unknown warning, no other wake_failed" \
	bash -c "[ \$(grep -cE '^warning .* reason=wake_(failed|unknown) ' '$WORK/agent.out') -eq 1 ]"

# --- a device that does not wake: one wake a second, 3 per episode ---------------
# The keepalive flow (--wake auto); the listener's command leaves the device
# asleep. The first wake comes at once (the session is offloaded), then one
# each time the server's data has waited a second more without a word from
# the device: three in all, none after, however long the server retransmits.
rm -f "$WORK/hook.slow"
hooks=0
for f in "$WORK"/hook.*.env; do [ -e "$f" ] && hooks=$((hooks + 1)); done
check "keepalive flow: offloaded" active ka
check "a Wake-on-LAN listener whose command leaves the device asleep" listener wol3 true
device_sleep || not_ok "the device falls asleep once more"
wakes0=$(counter wakes_sent)
t3=$EPOCHREALTIME
echo cmd-ka >&"${SRV_W[ka]}"
note "no wake-up: the server sent a command on the keepalive flow at $t3; watching 8 s"
sleep 8
times=$(awk -v t="$t3" '$1 == "woken" && $3 == "ethertype" { printf "%.3f ", $5 - t }' "$WORK/wol3.wol")
note "no wake-up: magic packets (EtherType) at +${times:-none}s after the server's send"
check "no wake-up: the device slept on" asleep
check "no wake-up: the command did not reach it" bash -c "! grep -q 'recv cmd-ka' '$WORK/ka.cli'"
check "no wake-up: wakes_sent grew by 3 ($wakes0 -> $(counter wakes_sent))" \
	counter_is wakes_sent $((${wakes0:-0} + 3))
check "no wake-up: 3 wake events for the session, reason data_peer" \
	test "$(awk -v r="$SRV:$P_KA" '$1 == "wake" && $4 == r && $5 == "reason=data_peer"' \
		"$WORK/agent.out" | wc -l)" -eq 3
check "no wake-up: the listener heard 3 wakes (each an EtherType frame and a UDP datagram)" \
	test "$(grep -c '^woken by ethertype ' "$WORK/wol3.wol")" -eq 3 -a \
	"$(grep -c '^woken by udp ' "$WORK/wol3.wol")" -eq 3
# On the wire the agent's own latency adds jitter to the datapath's second:
# 50 ms of it is allowed.
check "no wake-up: the first at once (< 0.5 s), the next ones a second or more apart" \
	awk -v t="$t3" '$1 == "woken" && $3 == "ethertype" { w[n++] = $5 - t }
		END { if (n != 3 || w[0] >= 0.5) exit 1
		      for (i = 1; i < n; i++) if (w[i] - w[i - 1] < 0.95) exit 1 }' "$WORK/wol3.wol"
check "no wake-up: the hook ran for each, TKO_WAKES 1, 2, 3" \
	bash -c "for i in 1 2 3; do
		grep -qx TKO_WAKES=\$i '$WORK/hook.'\$(($hooks + i))'.env' || exit 1; done"

# --- on the wire, at the device --------------------------------------------------
sleep 0.5
kill -INT $TSHARK	# INT: tshark flushes the file
wait $TSHARK 2>/dev/null
wakes=$(counter wakes_sent)
wire() { tshark -r "$WORK/wol.pcapng" -Y "$1" 2>/dev/null | wc -l; }
eth=$(wire "eth.type == 0x0842")
udp=$(wire "udp.dstport == 9")
note "on d0: $eth EtherType 0x0842 frames, $udp UDP port 9 datagrams; wakes_sent $wakes"
check "wire: one EtherType 0x0842 frame per wake sent" test "$eth" -eq "${wakes:-0}" -a "$eth" -ge 2
check "wire: one UDP port 9 datagram per wake sent" test "$udp" -eq "${wakes:-0}"
check "wire: all to ff:ff:ff:ff:ff:ff from g0 ($GW_MAC)" \
	test "$(wire "eth.dst == ff:ff:ff:ff:ff:ff && eth.src == $GW_MAC")" -eq $((eth + udp))
# The magic packet for the device: 6 x 0xff, 16 x its MAC (102 bytes).
magic=ff:ff:ff:ff:ff:ff$(for _ in $(seq 16); do printf ':%s' "$DEV_MAC"; done)
check "wire: every EtherType 0x0842 frame is exactly the magic packet for the device's MAC" \
	test "$(wire "eth.type == 0x0842 && frame[14:] == $magic")" -eq "$eth"
check "wire: every UDP datagram's payload is exactly the magic packet for the device's MAC" \
	test "$(wire "udp.dstport == 9 && udp.payload == $magic")" -eq "$udp"
check "wire: the UDP ones from g0's address to 255.255.255.255" \
	test "$(wire "udp.dstport == 9 && ip.src == $TOPO_V4_GW_DEV && ip.dst == 255.255.255.255")" -eq "$udp"

check "agent exits cleanly on SIGTERM" agent_stop
finish
