#!/usr/bin/env bash
# Faults while sessions are ACTIVE: the interface goes down and up, is
# removed and re-added; the ring buffer overflows while the agent is stopped.
# Sessions resume or end with an event, never silently.
. "$(dirname "$0")/lib.sh"

topo_up "$PREFIX" || { not_ok "topology"; finish; }
check "agent starts" agent_start --iface g1
S=$TOPO_V4_SRV

answered() { tko list --json | grep "\"local\":\"$1\"" |
	     sed -n 's/.*"probes_answered":\([0-9]*\).*/\1/p'; }
grows() {
	local a b
	a=$(answered "$1")
	sleep 2.5
	b=$(answered "$1")
	[ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ]
}
event_seen() { tko events | grep -qE "$1"; }

# A real connection, offloaded, tko probing every second; 8 unanswered
# probes (8 s) before the peer would be declared dead.
check "a connection" tcp_pair $S 7031 one
tko start "$LOCAL" "$REMOTE" --idle 1 --interval 1 --retry-interval 1 --retries 8 >/dev/null
echo ping >&$W		# one exchange: the state is learned
check "offloaded" wait_for 10 bash -c "'$TKO' list --json --pin-dir '$PIN' | grep -q '\"state\":\"active\"'"
check "probes are answered" grows "$LOCAL"

# --- down and up ----------------------------------------------------------------
in_gw ip link set g1 down
sleep 3
in_gw ip link set g1 up
topo_device_routes
ip -n "$TOPO_SRV" route replace default via $TOPO_V4_GW_SRV dev s0 onlink 2>/dev/null
check "after down/up the session is still there" \
	bash -c "'$TKO' list --pin-dir '$PIN' | grep -q '$LOCAL .*active'"
check "and its probes are answered again" wait_for 10 grows "$LOCAL"

# --- removed and re-added -----------------------------------------------------------
smac=$(ip -n "$TOPO_SRV" link show s0 | awk '/ether/ { print $2 }')
ip -n "$TOPO_GW" link del g1	# takes s0, and tko's programs on g1, with it
sleep 1
ip link add g1 netns "$TOPO_GW" type veth peer name s0 netns "$TOPO_SRV"
ip -n "$TOPO_SRV" link set s0 address "$smac"
ip -n "$TOPO_GW" addr add $TOPO_V4_GW_SRV/24 dev g1
ip -n "$TOPO_SRV" addr add $S/24 dev s0
ip -n "$TOPO_GW" link set g1 up
ip -n "$TOPO_SRV" link set s0 up
ip -n "$TOPO_SRV" route add default via $TOPO_V4_GW_SRV dev s0 onlink
check "the agent attaches to the new g1" wait_for 6 grep -q "g1 is back" "$WORK/agent.err"
check "XDP is on the new g1" bash -c "ip -n '$TOPO_GW' link show g1 | grep -q xdp"
check "the session finds its new path and is answered again" wait_for 10 grows "$LOCAL"
check "nothing was reported dead" bash -c "! '$TKO' events --pin-dir '$PIN' | grep -q '^peer_dead .*$LOCAL'"

# --- removed for good: the session is declared dead, with an event ---------------
ip -n "$TOPO_GW" link del g1
# its probes cannot leave: the link went down, then away (the agent told the
# datapath: link_down), or the path is gone (no_path), never "retries"
check "gone for longer than the retries: peer_dead, reason link_down or no_path" \
	wait_for 20 event_seen "^peer_dead +$LOCAL -> $REMOTE reason=(link_down|no_path) .* unanswered=8 "
check "the agent said the interface is gone" grep -q "g1 is gone" "$WORK/agent.err"

# --- ring buffer full ------------------------------------------------------------------
# The agent is stopped (SIGSTOP): nobody drains the ring buffer (256 KiB, about
# 2000 events). 3000 starts produce 3000 events: the datapath must not block.
for i in $(seq 1 3000); do
	echo "$TOPO_V4_DEV:$((20000 + i)) $S:9 --state snd_nxt=$i,rcv_nxt=$i,win=9 --idle 3600"
done >"$WORK/many"
kill -STOP "$AGENT_PID"
check "3000 starts while nobody reads the events" \
	bash -c "'$TKO' start --file '$WORK/many' --pin-dir '$PIN' | grep -q '^started 3000 sessions'"
lost=$(tko stats | awk '$1 == "events_lost" { print $2 }')
note "events lost: $lost"
check "the events that did not fit are counted as lost" test "${lost:-0}" -gt 0
check "the event log still holds the newest" \
	bash -c "'$TKO' events --pin-dir '$PIN' | tail -1 | grep -q '^started .*:23000 '"
kill -CONT "$AGENT_PID"
check "the agent prints what the ring held once it runs again" \
	wait_for 10 bash -c "[ \$(grep -c '^started' '$WORK/agent.out') -gt 1000 ]"
check "agent exits cleanly" agent_stop
finish
