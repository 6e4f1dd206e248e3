#!/usr/bin/env bash
# Local sockets (the container sidecar / host agent deployment), IPv4,
# through a NAT that forgets a flow idle for NAT_TIMEOUT seconds.
#
# The agent runs in the application's own network namespace ("dev" here)
# with sockops on the test's cgroup. An unmodified application socket:
#  - `tko start` on it once it is idle: its state is read from the kernel
#    (no traffic needed), probes carry its own TCP clock, it survives the NAT;
#  - without tko the same is lost;
#  - a policy alone (no `tko start`) offloads a socket of its cgroup;
#  - a socket with data in flight is refused ("socket not idle");
#  - close and reset end the session with an event;
#  - the application's own SO_KEEPALIVE keeps working under tko;
#  - a socket whose route avoids tko's interfaces (over lo) is refused, by
#    tko start (with the interface) and by a policy (event "refused",
#    reason route); interfaces without Ethernet (lo, tun) are refused at
#    attach.
. "$(dirname "$0")/lib.sh"

NAT_TIMEOUT=4
SLEEP_S=$((3 * NAT_TIMEOUT))
SRV=$TOPO_V4_NAT_SRV
APP_CG=$TEST_CG/app
mkdir -p "$APP_CG"

topo_nat_up "$PREFIX" $NAT_TIMEOUT || { not_ok "topology"; finish; }
AGENT_NS=$TOPO_DEV
check "agent starts in the application's namespace" agent_start --iface d0

in_dev() { nsenter --net=/run/netns/"$TOPO_DEV" "$@"; }
dev_tko() { local cmd=$1; shift; in_dev "$TKO" "$cmd" --pin-dir "$PIN" "$@"; }
event_seen() { tko events | grep -qE "$1"; }
session_active() { tko list --json | grep -q "\"local\":\"$1\".*\"state\":\"active\""; }
answered() { tko list --json | grep "\"local\":\"$1\"" |
	     sed -n 's/.*"probes_answered":\([0-9]*\).*/\1/p'; }
answered_at_least() { local n; n=$(answered "$1"); [ -n "$n" ] && [ "$n" -ge "$2" ]; }

# app PORT TAG [IDLE INTVL CNT]: the application, in its cgroup, connected.
app() {
	local port=$1 tag=$2
	shift 2
	tcp_pair $SRV "$port" "$tag" "$APP_CG" "$@"
}

# --- tko start on an idle local socket ----------------------------------------
ip netns exec "$TOPO_NAT" tshark -i n0 -f "tcp port 7021" -w "$WORK/local.pcapng" -q \
	2>"$WORK/tshark.err" &
TSHARK=$!
wait_for 10 grep -qs "Capturing on" "$WORK/tshark.err"
check "start: the application is connected" app 7021 start
sleep 1.5	# idle now: nothing more will be sent before tko takes over
dev_tko start "$LOCAL" "$REMOTE" --idle 1 --interval 2 >"$WORK/start.out" 2>&1
check "start: tko start reads the idle socket from the kernel" \
	grep -q "started $LOCAL -> $REMOTE (local socket, state captured)" "$WORK/start.out"
check "start: active with no traffic at all" wait_for 5 session_active "$LOCAL"
note "the application idles for ${SLEEP_S}s behind the NAT"
sleep $SLEEP_S
check "start: probes answered through the NAT" answered_at_least "$LOCAL" 4
echo after-idle >&$W
check "start: the application's data after the idle period arrives" \
	wait_for 5 grep -q "recv after-idle" "$WORK/start.srv"
sleep 0.5
kill -INT $TSHARK; wait $TSHARK 2>/dev/null
# Forged probes follow the socket's clock: their TSvals advance with time, and
# the application's next segment is not behind them (PAWS on the server).
tsv=$(tshark -r "$WORK/local.pcapng" -Y "ip.src==$TOPO_V4_DEV && tcp.analysis.keep_alive" \
	-T fields -e tcp.options.timestamp.tsval 2>/dev/null)
last_data=$(tshark -r "$WORK/local.pcapng" -Y "ip.src==$TOPO_V4_DEV && tcp.len > 1" \
	-T fields -e tcp.options.timestamp.tsval 2>/dev/null | tail -1)
note "probe TSvals: $(echo $tsv); the application's next TSval: $last_data"
check "start: tshark sees the forged probes" test "$(wc -w <<<"$tsv")" -ge 4
check "start: their TSvals advance like the socket's clock (about 2000 ms apart)" \
	bash -c "awk 'NR > 1 { d = \$1 - p; if (d < 1500 || d > 2500) bad = 1 } { p = \$1 }
		  END { exit bad }' <<<'$tsv'"
check "start: the application's TSval is not behind them" \
	test "$last_data" -ge "$(tail -1 <<<"$tsv")"

# --- without tko ---------------------------------------------------------------
check "without: the application is connected" app 7020 without
note "the application idles for ${SLEEP_S}s behind the NAT"
sleep $SLEEP_S
echo after-idle >&$W
sleep 3
check "without: the NAT forgot the flow, the data is lost" \
	bash -c "! grep -q 'recv after-idle' '$WORK/without.srv'"

# --- a policy, and no tko start -------------------------------------------------
check "policy: tko policy add" dev_tko policy add --cgroup "$APP_CG" --remote-port 7022 \
	--idle 1 --interval 2
check "policy: listed" bash -c "'$TKO' policy list --pin-dir '$PIN' | grep -qE '^1 +local +[0-9]+ +any +0 +any +7022 '"
check "policy: the application is connected" app 7022 policy
check "policy: its socket was tracked from establishment" \
	event_seen "^started +$LOCAL -> $REMOTE reason=policy"
check "policy: offloaded once idle" wait_for 5 session_active "$LOCAL"
check "policy: list counts its session" \
	bash -c "'$TKO' policy list --pin-dir '$PIN' | grep -qE '^1 +local .* 1\$'"
note "the application idles for ${SLEEP_S}s behind the NAT"
sleep $SLEEP_S
check "policy: probes answered through the NAT" answered_at_least "$LOCAL" 4
echo after-idle >&$W
check "policy: the application's data after the idle period arrives" \
	wait_for 5 grep -q "recv after-idle" "$WORK/policy.srv"
check "policy: traffic suspended the offload" \
	wait_for 5 event_seen "^suspended +$LOCAL -> $REMOTE reason=data_local"
check "policy: re-armed once idle again" wait_for 5 event_seen "^resumed +$LOCAL -> $REMOTE"
POLICY_LOCAL=$LOCAL POLICY_REMOTE=$REMOTE
check "policy: the application closes: the session ends with an event" \
	bash -c "exec $W>&-; pkill -f '$TCPKIT client $SRV 7022'"
check "policy: close event" \
	wait_for 5 event_seen "^invalidated +$POLICY_LOCAL -> $POLICY_REMOTE reason=(fin_local|closed)"
check "policy: list counts no session once it ended" \
	bash -c "'$TKO' policy list --json --pin-dir '$PIN' | grep -q '\"sessions\":0,\"created\":1}'"
check "policy: tko policy del" dev_tko policy del 1
check "policy: gone" bash -c "! '$TKO' policy list --pin-dir '$PIN' | grep -qE '^1 '"

# --- socket not idle --------------------------------------------------------------
check "not idle: the application is connected" app 7023 busy
ip netns exec "$TOPO_NAT" nft add rule ip tko_test_nat drop_unknown tcp dport 7023 drop
echo unanswered >&$W	# stays unacknowledged
sleep 0.3
dev_tko start "$LOCAL" "$REMOTE" >"$WORK/busy.out" 2>"$WORK/busy.err"
rc=$?
check "not idle: tko start is refused (exit 1)" test $rc -eq 1
check "not idle: 'socket not idle', with what is in flight" \
	grep -q "socket not idle: $LOCAL -> $REMOTE has 11 bytes unacknowledged, 0 unsent, 0 unread" \
	"$WORK/busy.err"
check "not idle: no session was left" bash -c "! '$TKO' list --pin-dir '$PIN' | grep -q '$LOCAL'"

# --- reset ---------------------------------------------------------------------
check "reset: the application is connected" app 7024 reset
dev_tko start "$LOCAL" "$REMOTE" --idle 1 >/dev/null
check "reset: active" wait_for 5 session_active "$LOCAL"
ip netns exec "$TOPO_NAT" nft add rule ip tko_test_nat drop_unknown tcp dport 7024 reject with tcp reset
echo poke >&$W
check "reset: the application sees the reset" wait_for 5 grep -q "error read: Connection reset" "$WORK/reset.cli"
check "reset: the session ends with an event" \
	wait_for 5 event_seen "^invalidated +$LOCAL -> $REMOTE reason=(rst_peer|closed)"

# --- the application's own keepalives -------------------------------------------
check "keepalive: the application (SO_KEEPALIVE 1 s, 2 probes) is connected" app 7025 ka 1 1 2
dev_tko start "$LOCAL" "$REMOTE" --idle 1 --interval 2 >/dev/null
check "keepalive: active" wait_for 5 session_active "$LOCAL"
sleep 8
check "keepalive: its probes and their answers still work (no timeout)" \
	bash -c "! grep -q error '$WORK/ka.cli'"
check "keepalive: tko's own probes are answered too" answered_at_least "$LOCAL" 2

# --- a route that avoids tko ------------------------------------------------------
# A server of the application's own namespace: its traffic goes over lo, which
# no program of tko's sees. Offloading it would go ACTIVE mid-transfer.
# lo_pair PORT TAG: that server and the application connected to it.
lo_pair() { PAIR_SRV_NS=$TOPO_DEV tcp_pair 127.0.0.1 "$1" "$2" "$APP_CG"; }
check "route: the application is connected over lo" lo_pair 7030 lo
dev_tko start "$LOCAL" "$REMOTE" >"$WORK/lo.out" 2>"$WORK/lo.err"
rc=$?
check "route: tko start is refused (exit 1)" test $rc -eq 1
check "route: it says the route leaves through lo" \
	grep -q "cannot offload $LOCAL -> $REMOTE: its route leaves through lo, which the agent is not attached to" \
	"$WORK/lo.err"
check "route: no session was left" bash -c "! '$TKO' list --pin-dir '$PIN' | grep -q '$LOCAL'"
check "route: a policy for it" dev_tko policy add --cgroup "$APP_CG" --remote-port 7031 \
	--idle 1 --interval 2
check "route: the application is connected over lo again" lo_pair 7031 lo2
check "route: the policy's session is refused, reason route" \
	wait_for 5 event_seen "^refused +$LOCAL -> $REMOTE reason=route"
check "route: it never went active" \
	bash -c "! '$TKO' events --pin-dir '$PIN' | grep -qE '^offloaded +$LOCAL -> '"
check "route: no session left" bash -c "! '$TKO' list --pin-dir '$PIN' | grep -q '$LOCAL'"

# --- interfaces without Ethernet -------------------------------------------------
# An agent of its own (pins, namespace) on lo, then on a tun device: refused at
# attach with one line, and nothing left behind.
trap 'ip netns del "$PREFIX-tun" 2>/dev/null; rm -rf "$PIN-tun"; cleanup' EXIT
ip netns add "$PREFIX-tun" && ip -n "$PREFIX-tun" link set lo up &&
	ip -n "$PREFIX-tun" tuntap add mode tun name tun0 && ip -n "$PREFIX-tun" link set tun0 up
for ifc in lo tun0; do
	nsenter --net=/run/netns/"$PREFIX-tun" "$TKO" agent --iface $ifc --pin-dir "$PIN-tun" \
		--cgroup "$TEST_CG" >"$WORK/$ifc.out" 2>"$WORK/$ifc.err"
	rc=$?
	check "no Ethernet: the agent refuses $ifc (exit non-zero)" test $rc -ne 0
	check "no Ethernet: one clear line for $ifc" \
		grep -q "$ifc: not an Ethernet interface" "$WORK/$ifc.err"
	check "no Ethernet: nothing pinned after $ifc" test ! -e "$PIN-tun/sessions"
done
ip netns del "$PREFIX-tun"
rm -rf "$PIN-tun"

check "agent exits cleanly" agent_stop
check "sockops detached from the cgroup" \
	bash -c "! bpftool cgroup show '$TEST_CG' 2>/dev/null | grep -q tko_sockops"
finish
