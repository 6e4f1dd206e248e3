# shellcheck shell=bash
# Helpers of the end-to-end tests: results as "ok - ..." / "not ok - ...",
# polling instead of sleeping, and one cleanup that always runs.
set -u
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
TKO=$BUILD/tko
TCPKIT=$BUILD/tests/tcpkit
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/topology.sh"

PREFIX=tko$$
WORK=$(mktemp -d /tmp/tko-e2e.XXXXXX)
PIN=/sys/fs/bpf/$PREFIX
AGENT_PID=
# The tests' own cgroup v2: sockops attaches here, never to the host's root.
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
TEST_CG=$CG_ROOT/$PREFIX
mkdir -p "$TEST_CG"
FAILED=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }
check() {	# check "description" command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
note() { echo "# $*"; }

# wait_for SECONDS command...: poll every 100 ms; 0 when the command succeeded.
wait_for() {
	local limit=$(($1 * 10)) i
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

in_gw() { nsenter --net=/run/netns/"$TOPO_GW" "$@"; }

# agent_start ARGS...: tko agent in the gateway namespace (or $AGENT_NS), pins
# shared with us.
agent_start() {
	# Emptied here, not by the child's redirection: the wait below must not
	# see the previous agent's "ready".
	: >"$WORK/agent.out"
	: >"$WORK/agent.err"
	# nsenter execs the agent: $! is the agent itself, signals reach it.
	nsenter --net=/run/netns/"${AGENT_NS:-$TOPO_GW}" "$TKO" agent --pin-dir "$PIN" \
		--cgroup "$TEST_CG" "$@" \
		>>"$WORK/agent.out" 2>>"$WORK/agent.err" &
	AGENT_PID=$!
	wait_for 10 grep -q "ready" "$WORK/agent.err"
}

agent_stop() {
	[ -n "$AGENT_PID" ] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	local rc=$?
	[ $rc -eq 0 ] || cat "$WORK/agent.err" >&2
	AGENT_PID=
	return $rc
}

# tko CMD ARGS...: the CLI against this test's pins.
tko() { local cmd=$1; shift; "$TKO" "$cmd" --pin-dir "$PIN" "$@"; }

# tcp_pair SRV PORT TAG [CGROUP [IDLE INTVL CNT]]: a tcpkit server on SRV:PORT in
# the server namespace ($PAIR_SRV_NS if set), and a client in the device namespace (inside CGROUP if
# given, with SO_KEEPALIVE if IDLE INTVL CNT) connected to it; one line
# exchanged. Sets LOCAL REMOTE, and W: the fd of the client's stdin (kept
# open, so the client never sends a FIN of its own).
tcp_pair() {
	local srv=$1 port=$2 tag=$3 cg=${4:-}
	shift 3
	[ $# -gt 0 ] && shift
	mkfifo "$WORK/$tag.in"
	ip netns exec "${PAIR_SRV_NS:-$TOPO_SRV}" "$TCPKIT" server "$srv" "$port" \
		>"$WORK/$tag.srv" 2>&1 &
	wait_for 5 grep -qs listening "$WORK/$tag.srv"
	bash -c '[ -z "$1" ] || echo $$ > "$1/cgroup.procs" || exit 1; shift; exec "$@"' _ "$cg" \
		nsenter --net=/run/netns/"$TOPO_DEV" "$TCPKIT" client "$srv" "$port" "$@" \
		<"$WORK/$tag.in" >"$WORK/$tag.cli" 2>&1 &
	exec {W}>"$WORK/$tag.in"
	wait_for 5 grep -qs connected "$WORK/$tag.cli" || return 1
	read -r _ LOCAL REMOTE <"$WORK/$tag.cli"
	echo hello >&$W
	wait_for 5 grep -q "recv hello" "$WORK/$tag.srv"
}

# A device asleep as a host in suspend: nft in its namespace drops every
# packet in and out (IP, IPv6 and ARP: its stack can neither receive nor
# answer). AF_PACKET sockets there still see the frames (before netfilter),
# as a NIC watching for magic packets does. $WORK/wake.nft undoes it (nft -f).
cat >"$WORK/sleep.nft" <<'NFT'
table inet tko_test_sleep {
	chain input { type filter hook input priority -400; policy drop; }
	chain output { type filter hook output priority -400; policy drop; }
}
table arp tko_test_sleep {
	chain input { type filter hook input priority 0; policy drop; }
	chain output { type filter hook output priority 0; policy drop; }
}
NFT
printf 'delete table inet tko_test_sleep\ndelete table arp tko_test_sleep\n' >"$WORK/wake.nft"
device_sleep() { ip netns exec "$TOPO_DEV" nft -f "$WORK/sleep.nft"; }
device_wake() { ip netns exec "$TOPO_DEV" nft -f "$WORK/wake.nft"; }
asleep() { ip netns exec "$TOPO_DEV" nft list table inet tko_test_sleep >/dev/null 2>&1; }
awake() {
	! asleep && ! ip netns exec "$TOPO_DEV" nft list table arp tko_test_sleep >/dev/null 2>&1
}

cleanup() {
	agent_stop
	jobs -p | xargs -r kill 2>/dev/null
	topo_down
	# A cgroup goes once its processes have exited, its children's too:
	# kill all of the subtree (cgroup.kill, or one by one where the
	# kernel lacks it), then remove the children and the cgroup as they
	# empty (a process killed takes a moment to go; a removal tried once
	# left cgroups behind).
	if [ -d "$TEST_CG" ]; then
		if [ -e "$TEST_CG/cgroup.kill" ]; then
			echo 1 >"$TEST_CG/cgroup.kill" 2>/dev/null
		else
			for p in $(cat "$TEST_CG"/cgroup.procs "$TEST_CG"/*/cgroup.procs 2>/dev/null); do
				kill -KILL "$p" 2>/dev/null
			done
		fi
		for _ in $(seq 50); do
			for sub in "$TEST_CG"/*/; do [ -d "$sub" ] && rmdir "$sub" 2>/dev/null; done
			rmdir "$TEST_CG" 2>/dev/null && break
			sleep 0.1
		done
		[ -d "$TEST_CG" ] && echo "# cannot remove the test cgroup $TEST_CG" >&2
	fi
	rm -rf "$PIN"
	if [ -n "${TKO_KEEP:-}" ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

finish() {
	[ "$FAILED" -eq 0 ]
	exit $?
}
