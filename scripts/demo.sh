#!/usr/bin/env bash
# make demo: a device behind a gateway sleeps while its server keeps probing
# the connection; tko on the gateway answers for it, the connection survives.
# Everything lives in three network namespaces created here and removed at
# the end (or on Ctrl-C).
set -u
BUILD=$(cd "${1:-build}" && pwd)
TKO=$BUILD/tko
TCPKIT=$BUILD/tests/tcpkit
cd "$(dirname "$0")/.."
. scripts/topology.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it creates network namespaces and loads BPF)" >&2
	exit 1
fi

PIN=/sys/fs/bpf/tko-demo-$$
# A cgroup of the demo's own for sockops (local sockets), not the host's root.
CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)/tko-demo-$$
mkdir -p "$CG"
WORK=$(mktemp -d /tmp/tko-demo.XXXXXX)
SLEEP_S=10
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	[ -n "${AGENT:-}" ] && kill -TERM "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	topo_down
	rmdir "$CG" 2>/dev/null
	rm -rf "$WORK" "$PIN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_line() {	# wait_line FILE PATTERN: up to 10 s
	for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done
	echo "demo: timed out waiting for '$2' in $1" >&2
	exit 1
}

bold "Topology: device [$TOPO_V4_DEV] -- gateway (tko agent on g1) -- server [$TOPO_V4_SRV]"
topo_up "tkodemo$$" || exit 1
nsenter --net=/run/netns/"$TOPO_GW" "$TKO" agent --iface g1 --pin-dir "$PIN" --cgroup "$CG" \
	>"$WORK/agent.out" 2>"$WORK/agent.err" &
AGENT=$!
wait_line "$WORK/agent.err" ready
sed 's/^/  agent: /' "$WORK/agent.err"

bold "Server: SO_KEEPALIVE, a probe after 1 s idle, gives up after 3 unanswered (~4 s)"
ip netns exec "$TOPO_SRV" "$TCPKIT" server $TOPO_V4_SRV 7000 1 1 3 >"$WORK/srv.out" 2>&1 &
wait_line "$WORK/srv.out" listening
# What the server's NIC sees, live. TTL 64 from the device = forged by tko
# (the device's own segments arrive with TTL 63, routed by the gateway).
ip netns exec "$TOPO_SRV" tshark -l -i s0 -f "tcp port 7000" -T fields \
	-e frame.time_relative -e ip.src -e ip.ttl -e _ws.col.Info 2>"$WORK/tshark.err" |
	awk -F'\t' '{ who = $2 == "'$TOPO_V4_SRV'" ? "server" : ($3 == 64 ? "tko   " : "device");
		      printf "  %6.2fs  %s  %s\n", $1, who, $4; fflush() }' &
wait_line "$WORK/tshark.err" "Capturing on"

mkfifo "$WORK/in"
ip netns exec "$TOPO_DEV" "$TCPKIT" client $TOPO_V4_SRV 7000 <"$WORK/in" >"$WORK/cli.out" 2>&1 &
exec {w}>"$WORK/in"
wait_line "$WORK/cli.out" connected
read -r _ LOCAL REMOTE <"$WORK/cli.out"
echo "hello from the device" >&$w
wait_line "$WORK/srv.out" "recv hello"

bold "tko start $LOCAL $REMOTE --idle 1   (state learned from the device's own segments)"
"$TKO" start "$LOCAL" "$REMOTE" --idle 1 --pin-dir "$PIN"
for _ in $(seq 50); do "$TKO" list --pin-dir "$PIN" | grep -q active && break; sleep 0.1; done

bold "The device goes to sleep for $SLEEP_S s (its link is down): tko answers the server"
topo_device_sleep
sleep $SLEEP_S
bold "The device wakes up and sends data on the same connection"
topo_device_wake
echo "good morning, still connected?" >&$w
wait_line "$WORK/srv.out" "recv good morning"
sleep 0.5

bold "Server side:"
sed 's/^/  /' "$WORK/srv.out"
if grep -q error "$WORK/srv.out"; then
	echo "  the server lost the connection: this is a bug, please report it" >&2
	exit 1
fi
bold "tko list"
"$TKO" list --pin-dir "$PIN"
bold "tko events (the agent printed the same lines as they happened)"
"$TKO" events --pin-dir "$PIN"
bold "tko stats: how the answers left (g1 is a veth: from TC ingress, counted once the device took them)"
"$TKO" stats --pin-dir "$PIN" | grep -E '^(peer_probes_answered|answers_[a-z]+|iface) '
bold "The connection survived $SLEEP_S s of device sleep that the server tolerates only ~4 s of."
echo "(without tko: run the same with the 'tko start' line removed, or see tests/e2e/gateway.sh)"
