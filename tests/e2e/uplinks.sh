#!/usr/bin/env bash
# A gateway with two uplinks, one of which loses its carrier.
#
#                         g1 ---- a0 [srva]  server A: 198.19.2.2, fd74:6b6f:2::2
#   [dev] d0 -- g0 [gw]
#                         g2 ---- b0 [srvb]  server B: 198.19.3.2, fd74:6b6f:3::2
#              tko agent --iface g1,g2
#
# The device behind the gateway holds 100 idle connections to server B (the
# uplink g2) and 20 to server A (g1), IPv4 and IPv6, opened by several
# processes; two forwarded policies make every one of them a session
# (--interval 2 --retry-interval 1 --retries 3). Once all are ACTIVE and
# their probes answered, server B's end of g2 goes down: the veth loses its
# carrier, every probe handed to g2 is refused (the qdisc of a device with no
# carrier drops it), for as long as the link stays down.
#
# A link that cannot carry a session's probes ends it, and never delays the
# sessions on other links (DESIGN.md, "never go quiet"). So:
#  - each of the 100 sessions on g2 is reported within its retry budget
#    (interval + retries * retry_interval, and a small margin): a peer_dead
#    event with reason=link_down or reason=no_path, and it leaves tko list;
#  - the 20 sessions on g1 keep every probe on time over several intervals
#    after g2 went down: probes_sent grows as their interval says, every
#    probe answered, probes_late stays 0 (per session and in tko stats),
#    none dead;
#  - nothing is deferred for ever, and the carrier goes back to the pace the
#    probing needs (the failure this reproduces: the refused probes were
#    deferred pass after pass, the carrier ran ~200 passes a second, and the
#    dead link's sessions were never reported);
#  - the agent hears of it from rtnetlink and says so on stderr.
# The servers and the device run nothing of tko's.
. "$(dirname "$0")/lib.sh"

N_B=100			# sessions on g2 (server B): 50 IPv4, 50 IPv6
N_A=20			# sessions on g1 (server A): 10 IPv4, 10 IPv6
PORT_A=7201 PORT_B=7202
IDLE=1 INTERVAL=2 RETRY_INTERVAL=1 RETRIES=3
MARGIN=2		# s: the ticks, the agent's reaction, this script's polling
BUDGET=$((INTERVAL + RETRIES * RETRY_INTERVAL + MARGIN))
WINDOW=14		# s after g2 went down in which g1's probes are watched
PASSES_SLACK=3		# carrier passes a second above the healthy baseline
# What the agent's stderr must say after g2 lost its carrier (an ERE over the
# lines it printed since): any line naming g2, until the wording is fixed.
CARRIER_LOG_RE=${TKO_UPLINKS_LOG_RE:-'(^|[^[:alnum:]])g2([^[:alnum:]]|$)'}

V4_GW_A=198.19.2.1 V4_A=198.19.2.2 V6_GW_A=fd74:6b6f:2::1 V6_A=fd74:6b6f:2::2
V4_GW_B=198.19.3.1 V4_B=198.19.3.2 V6_GW_B=fd74:6b6f:3::1 V6_B=fd74:6b6f:3::2

# --- topology: the device, the gateway, two servers on two uplinks ----------------
# TOPO_SRV is server A (lib.sh's cleanup removes it); server B's namespace is
# removed by uplinks_cleanup, which runs lib.sh's cleanup first.
TOPO_DEV=$PREFIX-dev TOPO_GW=$PREFIX-gw TOPO_SRV=$PREFIX-srva TOPO_SRVB=$PREFIX-srvb
uplinks_cleanup() {
	cleanup
	ip netns pids "$TOPO_SRVB" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$TOPO_SRVB" 2>/dev/null
	true
}
trap uplinks_cleanup EXIT

uplinks_up() {
	local ns
	for ns in "$TOPO_DEV" "$TOPO_GW" "$TOPO_SRV" "$TOPO_SRVB"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.keep_addr_on_down=1
	done
	ip link add d0 netns "$TOPO_DEV" type veth peer name g0 netns "$TOPO_GW" || return 1
	ip link add g1 netns "$TOPO_GW" type veth peer name a0 netns "$TOPO_SRV" || return 1
	ip link add g2 netns "$TOPO_GW" type veth peer name b0 netns "$TOPO_SRVB" || return 1
	ip -n "$TOPO_DEV" addr add $TOPO_V4_DEV/24 dev d0
	ip -n "$TOPO_DEV" addr add $TOPO_V6_DEV/64 dev d0 nodad
	ip -n "$TOPO_GW" addr add $TOPO_V4_GW_DEV/24 dev g0
	ip -n "$TOPO_GW" addr add $TOPO_V6_GW_DEV/64 dev g0 nodad
	ip -n "$TOPO_GW" addr add $V4_GW_A/24 dev g1
	ip -n "$TOPO_GW" addr add $V6_GW_A/64 dev g1 nodad
	ip -n "$TOPO_GW" addr add $V4_GW_B/24 dev g2
	ip -n "$TOPO_GW" addr add $V6_GW_B/64 dev g2 nodad
	ip -n "$TOPO_SRV" addr add $V4_A/24 dev a0
	ip -n "$TOPO_SRV" addr add $V6_A/64 dev a0 nodad
	ip -n "$TOPO_SRVB" addr add $V4_B/24 dev b0
	ip -n "$TOPO_SRVB" addr add $V6_B/64 dev b0 nodad
	ip -n "$TOPO_DEV" link set d0 up
	for ns in g0 g1 g2; do ip -n "$TOPO_GW" link set $ns up; done
	ip -n "$TOPO_SRV" link set a0 up
	ip -n "$TOPO_SRVB" link set b0 up
	ip netns exec "$TOPO_GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	topo_device_routes
	ip -n "$TOPO_SRV" route add default via $V4_GW_A dev a0 onlink
	ip -n "$TOPO_SRV" -6 route add default via $V6_GW_A dev a0 onlink
	ip -n "$TOPO_SRVB" route add default via $V4_GW_B dev b0 onlink
	ip -n "$TOPO_SRVB" -6 route add default via $V6_GW_B dev b0 onlink
}

note "topology $PREFIX-{dev,gw,srva,srvb}: uplinks g1 (server A) and g2 (server B)"
uplinks_up || { not_ok "topology"; finish; }
check "agent starts on both uplinks (--iface g1,g2)" agent_start --iface g1,g2

counter() { tko stats | awk -v n="$1" '$1 == n { print $2 }'; }
now() { date +%s.%N; }
# sessions_json PORT: tko list --json, the sessions to the server on PORT.
sessions_json() { tko list --json | grep -F "\"remote\":\"" | grep -E "\"remote\":\"[^\"]*:$1\""; }
# sessions_count PORT [STATE]
sessions_count() {
	sessions_json "$1" | { if [ -n "${2:-}" ]; then grep -F "\"state\":\"$2\""; else cat; fi; } |
		grep -c .
}
# per_session PORT FIELD...: "LOCAL FIELD..." per session to PORT, sorted (a
# field absent from tko list --json prints as "-").
per_session() {
	local port=$1
	shift
	sessions_json "$port" | awk -v fields="$*" '{
		n = split(fields, f, " ")
		match($0, /"local":"[^"]*"/); out = substr($0, RSTART + 9, RLENGTH - 10)
		for (i = 1; i <= n; i++) {
			v = "-"
			if (match($0, "\"" f[i] "\":\"?[a-z0-9_]*"))
				v = substr($0, RSTART + length(f[i]) + 3, RLENGTH - length(f[i]) - 3)
			sub(/^"/, "", v)
			out = out " " v
		}
		print out
	}' | sort
}
# peer_dead_events PORT REASONS: distinct sessions to PORT with a peer_dead
# event whose reason is one of REASONS (a|b).
peer_dead_events() {
	tko events | awk -v p=":$1\$" -v r="^reason=($2)\$" \
		'$1 == "peer_dead" && $4 ~ p && $5 ~ r { print $2 }' | sort -u | grep -c .
}

export -f sessions_json sessions_count per_session peer_dead_events tko
export PIN TKO

check "policy for server B (--remote-port $PORT_B)" \
	tko policy add --forwarded --remote-port $PORT_B --idle $IDLE --interval $INTERVAL \
	--retry-interval $RETRY_INTERVAL --retries $RETRIES >/dev/null
check "policy for server A (--remote-port $PORT_A)" \
	tko policy add --forwarded --remote-port $PORT_A --idle $IDLE --interval $INTERVAL \
	--retry-interval $RETRY_INTERVAL --retries $RETRIES >/dev/null

# --- the connections: sinks on the servers, pools on the device ------------------
# server B: IPv4 and IPv6, N_B/2 each; server A: N_A/2 each.
sinks=0
start_sink() {	# NS ADDR PORT N TAG
	ip netns exec "$1" "$TCPKIT" sink "$2" "$3" "$4" >"$WORK/sink.$5.out" 2>&1 &
	wait_for 5 grep -qs listening "$WORK/sink.$5.out" && sinks=$((sinks + 1))
}
start_sink "$TOPO_SRVB" $V4_B $PORT_B $((N_B / 2)) b4
start_sink "$TOPO_SRVB" $V6_B $PORT_B $((N_B / 2)) b6
start_sink "$TOPO_SRV" $V4_A $PORT_A $((N_A / 2)) a4
start_sink "$TOPO_SRV" $V6_A $PORT_A $((N_A / 2)) a6
check "four sinks listen" [ $sinks -eq 4 ]
for p in "$V4_B $PORT_B $((N_B / 2)) b4" "$V6_B $PORT_B $((N_B / 2)) b6" \
	 "$V4_A $PORT_A $((N_A / 2)) a4" "$V6_A $PORT_A $((N_A / 2)) a6"; do
	read -r addr port n tag <<<"$p"
	nsenter --net=/run/netns/"$TOPO_DEV" "$TCPKIT" pool "$addr" "$port" "$n" \
		>"$WORK/pool.$tag.out" 2>&1 &
done
pools_connected() { [ "$(cat "$WORK"/pool.*.out | grep -c '^connected')" -eq 4 ]; }
check "the device's 4 pool processes connected ($N_B to B, $N_A to A)" wait_for 20 pools_connected
check "no connection failed" [ "$(cat "$WORK"/pool.*.out | grep -c '^error')" -eq 0 ]

check "$N_B sessions to server B, all active" \
	wait_for 10 bash -c "[ \$(sessions_count $PORT_B active) -eq $N_B ]"
check "$N_A sessions to server A, all active" \
	wait_for 10 bash -c "[ \$(sessions_count $PORT_A active) -eq $N_A ]"
all_answered() {	# every session to PORT had N probes answered
	[ "$(per_session "$1" probes_answered | awk -v n="$2" '$2 >= n' | grep -c .)" -eq "$3" ]
}
check "their probes are answered (2 each)" \
	wait_for $((2 * INTERVAL + 3)) bash -c "$(declare -f all_answered); \
		all_answered $PORT_B 2 $N_B && all_answered $PORT_A 2 $N_A"
note "sessions: $(sessions_count $PORT_B) to B, $(sessions_count $PORT_A) to A; stats: probes_sent $(counter probes_sent), probes_answered $(counter probes_answered), probes_late $(counter probes_late), probes_deferred $(counter probes_deferred), carrier_backlog_passes $(counter carrier_backlog_passes)"

# --- the healthy pace of the carrier --------------------------------------------
BASE_S=4
p0=$(counter carrier_passes) t0=$(now)
sleep $BASE_S
p1=$(counter carrier_passes) t1=$(now)
base_rate=$(echo "($p1 - $p0) / ($t1 - $t0)" | bc -l)
note "carrier: $(printf %.1f "$base_rate") passes/s with both uplinks healthy ($N_B + $N_A sessions)"

# --- g2 loses its carrier --------------------------------------------------------
per_session $PORT_A probes_sent probes_answered probes_late state >"$WORK/a.before"
late0=$(counter probes_late) deferred0=$(counter probes_deferred) dead0=$(counter peer_dead)
err_lines=$(wc -l <"$WORK/agent.err")
note "server B's end of g2 goes down"
ip -n "$TOPO_SRVB" link set b0 down
tdown=$(now)
check "g2 has no carrier" \
	wait_for 2 bash -c "ip -n '$TOPO_GW' link show g2 | grep -q NO-CARRIER"

g2_reported() { [ "$(peer_dead_events $PORT_B 'link_down|no_path')" -eq $N_B ]; }
# Polled against the clock, not a count of polls: each poll reads every event.
until g2_reported || [ "$(echo "$(now) > $tdown + $BUDGET" | bc)" = 1 ]; do sleep 0.1; done
t_rep=$(now)
n_rep=$(peer_dead_events $PORT_B 'link_down|no_path')
note "after $(printf %.1f "$(echo "$t_rep - $tdown" | bc -l)") s: $n_rep peer_dead (link_down|no_path) of the g2 sessions, $(peer_dead_events $PORT_B '[a-z_]+') with any reason; $(sessions_count $PORT_B) still listed; probes_deferred +$(($(counter probes_deferred) - deferred0)), emit_errors $(counter emit_errors)"
check "every g2 session reported within its retry budget (${BUDGET} s): $N_B peer_dead reason=link_down|no_path ($n_rep)" \
	test "$n_rep" -eq $N_B -a "$(echo "$t_rep <= $tdown + $BUDGET + 0.5" | bc)" = 1
check "the g2 sessions left tko list ($(sessions_count $PORT_B) left)" \
	wait_for 1 bash -c "[ \$(sessions_count $PORT_B) -eq 0 ]"
new_err() { tail -n +$((err_lines + 1)) "$WORK/agent.err"; }
check "the agent's stderr names g2 after it lost its carrier (/$CARRIER_LOG_RE/)" \
	bash -c "tail -n +$((err_lines + 1)) '$WORK/agent.err' | grep -qE '$CARRIER_LOG_RE'"
new_err | sed 's/^/# agent: /' | head -5

# The tail of the window: the pace of the carrier once g2's sessions are gone.
sleep 0.5
p2=$(counter carrier_passes) t2=$(now) d2=$(counter probes_deferred)
rest=$(echo "$tdown + $WINDOW - $t2" | bc -l)
if [ "$(echo "$rest < 5" | bc)" = 1 ]; then rest=5; fi
sleep "$rest"
p3=$(counter carrier_passes) t3=$(now) d3=$(counter probes_deferred)
per_session $PORT_A probes_sent probes_answered probes_late state >"$WORK/a.after"
win=$(echo "$t3 - $tdown" | bc -l)
tail_rate=$(echo "($p3 - $p2) / ($t3 - $t2)" | bc -l)
note "carrier: $(printf %.1f "$tail_rate") passes/s over the last $(printf %.1f "$(echo "$t3 - $t2" | bc -l)") s (healthy: $(printf %.1f "$base_rate")); probes_deferred +$((d3 - d2)) meanwhile, +$((d3 - deferred0)) since g2 went down"
check "the carrier is back to its pace: at most $PASSES_SLACK passes/s above the healthy $(printf %.1f "$base_rate")" \
	[ "$(echo "$tail_rate <= $base_rate + $PASSES_SLACK" | bc)" = 1 ]
check "nothing deferred for ever: probes_deferred still once g2's sessions are gone (+$((d3 - d2)))" \
	[ "$d3" -eq "$d2" ]

# --- the g1 sessions over the window ---------------------------------------------
# Over W seconds a session probing every INTERVAL s sends W/INTERVAL probes,
# one more or less as its phase falls.
want=$(echo "$win / $INTERVAL" | bc)
join "$WORK/a.before" "$WORK/a.after" >"$WORK/a.joined"
note "g1: $(wc -l <"$WORK/a.joined") sessions over $(printf %.1f "$win") s (local sent0 answered0 late0 state0 sent answered late state):"
sed 's/^/#   /' "$WORK/a.joined" | head -3
on_time=$(awk -v w="$want" '{ d = $6 - $2 } d >= w - 1 && d <= w + 1' "$WORK/a.joined" | grep -c .)
sent_range=$(awk '{ d = $6 - $2; if (NR == 1 || d < lo) lo = d; if (d > hi) hi = d }
	END { print lo "-" hi }' "$WORK/a.joined")
check "g1: all $N_A sessions still there, active" \
	[ "$(awk '$5 == "active"' "$WORK/a.after" | grep -c .)" -eq $N_A ]
check "g1: every session sent $want +-1 probes in the window (sent $sent_range; $on_time of $N_A on time)" \
	[ "$on_time" -eq $N_A ]
check "g1: every probe answered (none unanswered beyond the one in flight)" \
	[ "$(awk '$6 - $7 <= 1 && $7 - $3 >= $6 - $2 - 1' "$WORK/a.joined" | grep -c .)" -eq $N_A ]
late_field=$(awk '$4 == "-"' "$WORK/a.after" | grep -c .)
[ "$late_field" -eq 0 ] || note "tko list --json has no per-session probes_late"
check "g1: probes_late 0 for every session (tko list --json)" \
	[ "$(awk '$4 == "0"' "$WORK/a.after" | grep -c .)" -eq $N_A ]
check "tko stats: probes_late did not grow (+$(($(counter probes_late) - late0)))" \
	[ "$(counter probes_late)" -eq "$late0" ]
check "g1: no session declared dead" [ "$(peer_dead_events $PORT_A '[a-z_]+')" -eq 0 ]
check "tko stats: peer_dead grew by the g2 sessions only (+$(($(counter peer_dead) - dead0)))" \
	[ "$(($(counter peer_dead) - dead0))" -le $N_B ]
check "the device's connections to A are all still open" \
	[ "$(cat "$WORK"/pool.a?.out "$WORK"/sink.a?.out | grep -c '^closed')" -eq 0 ]

check "agent exits cleanly" agent_stop
finish
