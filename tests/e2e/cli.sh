#!/usr/bin/env bash
# The command line contract: errors are one clear line and a non-zero exit;
# the agent attaches, pins, refuses to double up, and leaves nothing behind.
. "$(dirname "$0")/lib.sh"

# expect CODE PATTERN description command...: exit status and stderr line.
expect() {
	local code=$1 pattern=$2 what=$3 rc
	shift 3
	"$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" -ne "$code" ]; then
		not_ok "$what: exit $rc, wanted $code ($(head -c 300 "$WORK/err"))"
	elif ! grep -qE -e "$pattern" "$WORK/err" "$WORK/out"; then
		not_ok "$what: output lacks /$pattern/: $(head -c 300 "$WORK/err")"
	elif [ "$code" -ne 0 ] && [ "$(wc -l <"$WORK/err")" -ne 1 ]; then
		not_ok "$what: error is not one line: $(cat "$WORK/err")"
	else
		ok "$what"
	fi
}

L=$TOPO_V4_DEV:40000 R=$TOPO_V4_SRV:5000

expect 2 "no command given" "no command" "$TKO"
expect 2 "unknown command" "unknown command" "$TKO" frobnicate
expect 1 "must be run as root" "not root" setpriv --reuid=65534 --regid=65534 --clear-groups "$TKO" list --pin-dir "$PIN"
expect 1 "no agent running" "no agent running" tko list
expect 1 "no agent running" "start without an agent" tko start $L $R
expect 2 "bad address '198.18.1:80'" "malformed address" tko start 198.18.1:80 $R
expect 2 "not an IPv6 address" "malformed IPv6 address" tko start "[fd74::zz]:80" "[fd74::1]:80"
expect 2 "same address family" "mixed families" tko start $L "[fd74::1]:80"
expect 2 "port: 70000 is out of range" "port out of range" tko start $TOPO_V4_DEV:70000 $R
expect 2 "--idle: 0 is out of range" "idle out of range" tko start $L $R --idle 0
expect 2 "--retries: 'x' is not a whole number" "retries not a number" tko start $L $R --retries x
expect 2 "--probe: 'half'" "unknown probe style" tko start $L $R --probe half
expect 2 "rcv_nxt' is required" "incomplete --state" tko start $L $R --state snd_nxt=1,win=5
expect 2 "expected LOCAL and REMOTE" "missing REMOTE" tko stop $L
expect 2 "--iface is required" "agent without --iface" "$TKO" agent --pin-dir "$PIN"
expect 2 "--forwarded and --cgroup exclude each other" "policy: forwarded with a cgroup" \
	tko policy add --forwarded --cgroup / --idle 5 --interval 5
expect 2 "--local and --remote are of different address families" "policy: mixed families" \
	tko policy add --forwarded --local 10.0.0.0/8 --remote "[fd74::]/16" --idle 5 --interval 5
expect 2 "--local prefix length: 33 is out of range" "policy: prefix too long" \
	tko policy add --forwarded --local 10.0.0.0/33 --idle 5 --interval 5
expect 2 "--local: '10.0.0/8' is not ADDR/LEN" "policy: malformed prefix" \
	tko policy add --forwarded --local 10.0.0/8 --idle 5 --interval 5
expect 1 "no agent running" "policy: add without an agent" \
	tko policy add --forwarded --idle 5 --interval 5
expect 2 "--wake: 'maybe' is not auto, none or a MAC" "start: bad --wake" \
	tko start $L $R --wake maybe
expect 2 "--wake: 01:02:03:04:05:06 is not the address of one machine" "start: multicast --wake" \
	tko start $L $R --wake 01:02:03:04:05:06
expect 2 "--wake needs --forwarded" "policy: --wake on a local policy" \
	tko policy add --idle 5 --interval 5 --wake auto
expect 2 "--wake: '02:00:00:00:00:01' is not one of auto, none" "policy: --wake MAC" \
	tko policy add --forwarded --idle 5 --interval 5 --wake 02:00:00:00:00:01
expect 2 "--on-wake-timeout: 0 is out of range" "agent: --on-wake-timeout 0" \
	"$TKO" agent --iface g1 --on-wake-timeout 0 --pin-dir "$PIN"
printf 'iface = g1\npolicy = --forwarded --idle 5 --interval 5 --wake auto\n' >"$WORK/wake.conf"
expect 2 "policy: --wake needs wake-iface or on-wake-exec" "agent: a config policy with --wake, no way to wake" \
	"$TKO" agent --config "$WORK/wake.conf" --pin-dir "$PIN"

topo_up "$PREFIX" || { not_ok "topology"; finish; }
expect 1 "unknown interface 'nosuch0'" "agent on an unknown interface" \
	nsenter --net=/run/netns/"$TOPO_GW" "$TKO" agent --iface g1,nosuch0 --pin-dir "$PIN"
check "no pins left by the failed agent" test ! -e "$PIN"
expect 1 "--wake-iface nosuch0: no such interface" "agent: unknown --wake-iface" \
	nsenter --net=/run/netns/"$TOPO_GW" "$TKO" agent --iface g1 --wake-iface nosuch0 --pin-dir "$PIN"
expect 1 "--wake-iface lo: not an Ethernet interface" "agent: --wake-iface lo" \
	nsenter --net=/run/netns/"$TOPO_GW" "$TKO" agent --iface g1 --wake-iface lo --pin-dir "$PIN"
expect 1 "--on-wake-exec hook.sh: give an absolute path" "agent: relative --on-wake-exec" \
	nsenter --net=/run/netns/"$TOPO_GW" "$TKO" agent --iface g1 --on-wake-exec hook.sh --pin-dir "$PIN"
check "no pins left by the refused agents" test ! -e "$PIN"
check "agent starts with a table of 2 sessions" agent_start --iface g0,g1 --max-sessions 2
check "pins are root-only (0600)" \
	bash -c "[ \"\$(stat -c %a '$PIN/sessions' '$PIN/ctl_start' | sort -u)\" = 600 ]"
expect 1 "another tko agent \(pid [0-9]+\) is running with pins in" "second agent on the same pins" \
	nsenter --net=/run/netns/"$TOPO_GW" "$TKO" agent --iface g1 --pin-dir "$PIN"
expect 1 "another XDP program is attached" "second agent on the same interface" \
	nsenter --net=/run/netns/"$TOPO_GW" "$TKO" agent --iface g1 --pin-dir "$PIN-2"
check "the refused agent removed its pins" test ! -e "$PIN-2"

expect 0 "started $L -> $R \(learning" "start, learning from traffic" tko start $L $R --idle 5
expect 1 "already offloaded" "start twice" tko start $L $R
expect 0 "state given" "start with --state" tko start "[$TOPO_V6_DEV]:40001" "[$TOPO_V6_SRV]:443" \
	--state snd_nxt=4294967295,rcv_nxt=7,win=502,wscale=7,tsval=11,tsecr=12 --probe byte --oneshot
expect 1 "session table full" "table full" tko start $TOPO_V4_DEV:40002 $R
check "list shows both sessions" bash -c "[ \$('$TKO' list --pin-dir '$PIN' | grep -c learning) -eq 2 ]"
check "list --json carries the given state" bash -c "'$TKO' list --json --pin-dir '$PIN' |
	grep -q '\"local\":\"\[$TOPO_V6_DEV\]:40001\".*\"probe\":\"byte\",\"oneshot\":true,\"learned\":true,\"timestamps\":true.*\"snd_nxt\":4294967295,\"rcv_nxt\":7,\"window\":502,\"tsval\":11,\"tsecr\":12'"
expect 1 "no session" "stop an unknown session" tko stop $TOPO_V4_DEV:40002 $R
expect 0 "stopped $L -> $R" "stop" tko stop $L $R
check "a stopped event in the log" bash -c "'$TKO' events --pin-dir '$PIN' | grep -q '^stopped  *$L -> $R reason=request'"
check "events --json is one object per line" bash -c "'$TKO' events --json --pin-dir '$PIN' |
	grep -vc '^{\"seq\":[0-9]*,.*}\$' | grep -qx 0"
expect 0 "events_emitted  *[0-9]+" "stats" tko stats
expect 1 "the agent has no way to wake a device" "start --wake with an agent that cannot wake" \
	tko start $TOPO_V4_DEV:40003 $R --wake auto
expect 1 "the agent has no way to wake a device" "policy --wake with an agent that cannot wake" \
	tko policy add --forwarded --idle 5 --interval 5 --wake auto
check "the agent printed the events as they happened" wait_for 5 grep -q "^stopped .*$L -> $R" "$WORK/agent.out"

check "agent exits 0 on SIGTERM" agent_stop
check "agent reported the handoff of the session left" grep -q "^stopped .*\[$TOPO_V6_DEV\]:40001" "$WORK/agent.out"
check "pins removed" test ! -e "$PIN"
check "XDP detached" bash -c "! ip -n '$TOPO_GW' link show g1 | grep -q xdp"
check "TC filter detached" bash -c "[ -z \"\$(tc -n '$TOPO_GW' filter show dev g1 egress)\" ]"

# An agent that wakes: what it says it does, sessions and policies with --wake.
check "agent with --wake-iface and --on-wake-exec" \
	agent_start --iface g1 --wake-iface g0 --on-wake-exec /bin/true --on-wake-timeout 3
check "it says how it wakes" grep -q "wakes: magic packets on g0, then /bin/true (killed after 3 s)" \
	"$WORK/agent.err"
expect 0 "started $L -> $R \(learning" "start --wake auto (a device's session)" \
	tko start $L $R --idle 5 --wake auto
expect 0 "started $TOPO_V4_DEV:40004 -> $R" "start --wake MAC" \
	tko start $TOPO_V4_DEV:40004 $R --idle 5 --wake 02:00:5e:10:00:01
check "list --json: wake auto, not learned yet" bash -c "'$TKO' list --json --pin-dir '$PIN' |
	grep -q '\"local\":\"$L\".*\"wake\":\"auto\",\"wake_ifindex\":0}'"
check "list --json: the MAC given" bash -c "'$TKO' list --json --pin-dir '$PIN' |
	grep -q '\"local\":\"$TOPO_V4_DEV:40004\".*\"wake\":\"02:00:5e:10:00:01\"'"
expect 0 "policy 1 added" "policy --wake auto" tko policy add --forwarded --idle 5 --interval 5 --wake auto
check "policy list shows it" bash -c "'$TKO' policy list --pin-dir '$PIN' | grep -qE '^1 .* auto +0\$'"
# a socket of the gateway itself: no device to wake
in_gw "$TCPKIT" server $TOPO_V4_GW_DEV 7100 >"$WORK/own.srv" 2>&1 &
wait_for 5 grep -qs listening "$WORK/own.srv"
in_gw "$TCPKIT" client $TOPO_V4_GW_DEV 7100 </dev/null >"$WORK/own.cli" 2>&1 &
wait_for 5 grep -qs connected "$WORK/own.cli"
read -r _ OWN_L OWN_R <"$WORK/own.cli"
expect 1 "--wake auto: a socket of this host has no device to wake" "start --wake auto on a local socket" \
	in_gw "$TKO" start "$OWN_L" "$OWN_R" --wake auto --pin-dir "$PIN"
check "agent exits 0" agent_stop
finish
