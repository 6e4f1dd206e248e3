#!/usr/bin/env bash
# A connection pool that opens thousands of sockets at once (issue 12): one
# policy, no tko start. Every connection must become a session (counted
# exactly), none may be refused or lost silently, and with the server's
# kernel answering every probe no session may be declared dead while they
# probe every second for a while. A second run in a table too small for the
# pool checks that the overflow is refused, counted and reported.
#
# The agent runs in the application's namespace (local sockets, the sidecar
# deployment); the clients are in the test's cgroup, several processes (the
# sandbox's RLIMIT_NOFILE is 20000), the server's sockets in two processes.
. "$(dirname "$0")/lib.sh"

CONNS=${TKO_BURST_CONNS:-18000}
PROCS=4
WATCH_S=12
SRV=$TOPO_V4_SRV
APP_CG=$TEST_CG/app
mkdir -p "$APP_CG"

topo_up "$PREFIX" || { not_ok "topology"; finish; }
for ns in "$TOPO_DEV" "$TOPO_SRV"; do
	# Room for the pool: ports, a SYN backlog and an accept queue for all of it.
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="20000 60999" \
		net.ipv4.tcp_max_syn_backlog=32768 net.core.somaxconn=32768
done
AGENT_NS=$TOPO_DEV
check "agent starts in the application's namespace" agent_start --iface d0

in_dev() { nsenter --net=/run/netns/"$TOPO_DEV" "$@"; }
# prom NAME [LABEL-VALUE...]: a value of `tko stats --prometheus` whose labels
# hold every LABEL-VALUE (0 if absent).
prom() {
	local m=$1 line
	shift
	line=$(tko stats --prometheus | grep -E "^$m(\{| )")
	for v in "$@"; do line=$(grep -F "\"$v\"" <<<"$line"); done
	awk '{ s += $2 } END { print s + 0 }' <<<"$line"
}
all_in() { [ "$(prom tko_sessions "$1")" -eq "$2" ]; }	# all_in STATE N
started_by_policy() { prom tko_events_total started policy; }
count_lines() { cat "$WORK"/pool.*.out 2>/dev/null | grep -c "^$1" ; }
export -f prom tko
export PIN TKO

check "policy: one for the whole pool" tko policy add --cgroup "$APP_CG" --remote "$SRV/32" \
	--idle 1 --interval 1 --retry-interval 1 --retries 3

# The server: two processes of half the pool each.
half=$((CONNS / 2))
POOL_PIDS=
for port in 7101 7102; do
	ip netns exec "$TOPO_SRV" "$TCPKIT" sink $SRV $port $half >"$WORK/sink.$port.out" 2>&1 &
	POOL_PIDS="$POOL_PIDS $!"
	wait_for 5 grep -qs listening "$WORK/sink.$port.out"
done

# The pool: PROCS processes in the application's cgroup, all at once.
t0=$(date +%s.%N)
per=$((CONNS / PROCS))
for ((i = 0; i < PROCS; i++)); do
	port=$((7101 + i % 2))
	bash -c 'echo $$ > "$1/cgroup.procs" || exit 1; shift; exec "$@"' _ "$APP_CG" \
		nsenter --net=/run/netns/"$TOPO_DEV" "$TCPKIT" pool $SRV $port $per \
		>"$WORK/pool.$i.out" 2>&1 &
	POOL_PIDS="$POOL_PIDS $!"
done
wait_for 60 bash -c "[ \$(cat '$WORK'/pool.*.out | grep -c '^connected') -eq $PROCS ]"
t1=$(date +%s.%N)
check "pool: $CONNS connections established by $PROCS processes" \
	[ "$(count_lines connected)" -eq $PROCS ]
note "the pool connected in $(echo "$t1 - $t0" | bc) s"
check "pool: no connection failed" [ "$(count_lines error)" -eq 0 ]

check "every connection became a session ($CONNS)" \
	wait_for 10 bash -c "[ \$(prom tko_events_total started policy) -eq $CONNS ]"
note "sessions started by the policy: $(started_by_policy)"
check "none refused" [ "$(prom tko_refused_table_full_total)" -eq 0 ] && \
	[ "$(prom tko_refused_index_full_total)" -eq 0 ]
check "all $CONNS active once idle" wait_for 15 all_in active $CONNS

answered0=$(prom tko_probes_answered_total)
late0=$(prom tko_probes_late_total)
note "watching $CONNS sessions probe every second for ${WATCH_S}s"
sleep $WATCH_S
answered=$(( $(prom tko_probes_answered_total) - answered0 ))
note "probes answered meanwhile: $answered, late: $(( $(prom tko_probes_late_total) - late0 ))"
check "no session declared dead" [ "$(prom tko_events_total peer_dead)" -eq 0 ]
check "all $CONNS still active" all_in active $CONNS
check "every session probed and answered about once a second" \
	[ "$answered" -ge $((CONNS * (WATCH_S - 2))) ]
check "the application's connections are all still open" \
	[ "$(cat "$WORK"/pool.*.out "$WORK"/sink.*.out | grep -c '^closed')" -eq 0 ]

# Closing the pool ends every session with an event: nothing stays behind.
# shellcheck disable=SC2086
kill $POOL_PIDS 2>/dev/null
# shellcheck disable=SC2086
wait $POOL_PIDS 2>/dev/null
no_sessions() { [ "$(tko list --json | grep -c '"local"')" -eq 0 ]; }
check "closing the pool ends every session" wait_for 20 no_sessions
check "each with an event" [ "$(prom tko_events_total invalidated)" -eq $CONNS ]
agent_stop

# --- a table smaller than the pool: the overflow is refused and reported -----
SMALL=1000
OVER=200
check "agent with a table of $SMALL" agent_start --iface d0 --max-sessions $SMALL
check "policy" tko policy add --cgroup "$APP_CG" --remote "$SRV/32" --idle 600 --interval 60
ip netns exec "$TOPO_SRV" "$TCPKIT" sink $SRV 7103 $((SMALL + OVER)) >"$WORK/sink.small.out" 2>&1 &
wait_for 5 grep -qs listening "$WORK/sink.small.out"
bash -c 'echo $$ > "$1/cgroup.procs" || exit 1; shift; exec "$@"' _ "$APP_CG" \
	nsenter --net=/run/netns/"$TOPO_DEV" "$TCPKIT" pool $SRV 7103 $((SMALL + OVER)) \
	>"$WORK/pool.small.out" 2>&1 &
check "pool of $((SMALL + OVER)) connected" wait_for 30 grep -q "^connected" "$WORK/pool.small.out"
check "$SMALL sessions" wait_for 10 bash -c "[ \$(prom tko_events_total started policy) -eq $SMALL ]"
check "$OVER refusals counted" wait_for 5 bash -c "[ \$('$TKO' stats --pin-dir '$PIN' |
		awk '\$1 == \"refused_table_full\" { print \$2 }') -eq $OVER ]"
check "$OVER refusals reported as events" wait_for 5 bash -c \
	"[ \$('$TKO' events --pin-dir '$PIN' | grep -c '^refused .*reason=table_full') -eq $OVER ]"
check "the agent printed them" wait_for 5 bash -c \
	"[ \$(grep -c '^refused .*reason=table_full' '$WORK/agent.out') -eq $OVER ]"
check "agent exits cleanly" agent_stop

# --- a flood of due probes: the device's queue overflows, the clock goes on ------
# FLOOD sessions handed over at once (tko start --file, --idle 1 --interval 1)
# are due in the same tick: one pass sends probes until the CPU's backlog
# (netdev_max_backlog) refuses them, and defers the rest. The carrier must
# not be lost in that same backlog (it travels on tko1's own veth ring): no
# stall, and every session probed about once a second from then on. The
# server drops everything: probes are sent, none answered (--retries 100).
FLOOD=20000
stat() { "$TKO" stats --pin-dir "$PIN" | awk -v k="$1" '$1 == k { print $2 }'; }
check "agent for the flood" agent_start --iface d0
ip netns exec "$TOPO_SRV" nft -f - <<'NFT'
table inet tko_test_flood {
	chain input { type filter hook input priority -300; policy drop; }
}
NFT
for ((i = 0; i < FLOOD; i++)); do
	echo "$TOPO_V4_DEV:$((10000 + i % 40000)) $SRV:$((2000 + i / 40000)) --state snd_nxt=1,rcv_nxt=1,win=500"
done >"$WORK/flood"
check "$FLOOD sessions handed over at once" \
	tko start --file "$WORK/flood" --idle 1 --interval 1 --retry-interval 1 --retries 100
check "all active" wait_for 10 all_in active $FLOOD
sleep 2
sent0=$(stat probes_sent)
note "watching $FLOOD sessions probe every second for 5 s"
sleep 5
sent=$(( $(stat probes_sent) - sent0 ))
note "probes sent meanwhile: $sent, deferred in all: $(stat probes_deferred), carrier stalls: $(stat carrier_stalls)"
check "the flood filled the device's queue (probes deferred: the case happened)" \
	[ "$(stat probes_deferred)" -gt 0 ]
check "the carrier was never lost" [ "$(stat carrier_stalls)" -eq 0 ]
check "every session probed about once a second" [ "$sent" -ge $((FLOOD * 4)) ]
check "agent exits cleanly" agent_stop
finish
