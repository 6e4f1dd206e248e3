#!/usr/bin/env bash
# make bench: run every benchmark of tko (docs/performance.md says what each
# measures and how), print the results as they come, write bench/results.json,
# the table in docs/performance.md and the plot docs/performance.png.
#
#   bench/run.sh [BUILD] [--quick] [--only PROG[,PROG...]]
#
# --only (make bench ONLY=wake,timing): run just those benchmarks (their
# program names, bench/*.c) and merge their keys into the bench/results.json
# of the last whole run, which keeps its date and machine and says what was
# re-run when (the table's first line too).
#
# Benchmarks touch only the network namespaces, veths and bpffs pins they
# create here (names tkob<pid>-*), send traffic only between those
# namespaces, and remove all of it on exit, failed or not.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
QUICK=0 ONLY=
shift || true
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--only) ONLY=${2:?--only needs a list}; shift ;;
	*) echo "bench: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: must run as root (BPF, network namespaces)" >&2
	exit 1
fi

P=tkob$$
WORK=$(mktemp -d /tmp/tko-bench.XXXXXX)
PIN=/sys/fs/bpf/$P
RAW=$WORK/results.txt
T0=$(date +%s)
: >"$RAW"

cleanup() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^$P-" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$PIN"* 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- topologies --------------------------------------------------------------
# wire NAME: [NAME-e] e0 198.18.0.1/15 ---- p0 198.19.0.2/15 [NAME-p]
# The endpoint side (agent, endpoint sockets) and the peer side (peer
# sockets, the simulated peer). Timestamps off: bare 20-byte TCP headers.
wire() {
	local e=$P-$1-e p=$P-$1-p ns
	ip netns add "$e"
	ip netns add "$p"
	for ns in "$e" "$p"; do
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_timestamps=0 net.core.somaxconn=65535 \
			net.ipv4.tcp_max_syn_backlog=65535 net.ipv6.conf.all.disable_ipv6=1
	done
	ip link add e0 netns "$e" address 02:00:00:00:00:01 type veth \
		peer name p0 netns "$p" address 02:00:00:00:00:02
	ip -n "$e" addr add 198.18.0.1/15 dev e0
	ip -n "$p" addr add 198.19.0.2/15 dev p0
	ip -n "$e" link set e0 up
	ip -n "$p" link set p0 up
	# No ARP during a measurement (tko's sessions use many local addresses).
	# A gateway: bpf_fib_lookup (the carrier routing handed-over sessions)
	# refuses to work in a namespace that does not forward.
	ip netns exec "$e" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$e" neigh replace 198.19.0.2 lladdr 02:00:00:00:00:02 dev e0 nud permanent
	ip -n "$p" route add 198.18.0.0/15 dev p0 2>/dev/null || true
	NS_E=$e NS_P=$p
}

# gateway NAME: a gateway between a device and its server, as
# scripts/topology.sh (IPv4):
#   [NAME-d] d0 ---------- g0 [NAME-g] g1 ---------- s0 [NAME-s]
#   device   198.18.1.2/24 198.18.1.1/24  198.19.2.1/24 198.19.2.2/24 server
#            gateway: forwards, masquerades the device behind 198.19.2.1
# The gateway learns the device's MAC by ARP, as any gateway does; the
# server side has fixed neighbours (no ARP during a measurement).
gateway() {
	local d=$P-$1-d g=$P-$1-g s=$P-$1-s ns
	for ns in "$d" "$g" "$s"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_timestamps=0 \
			net.ipv6.conf.all.disable_ipv6=1
	done
	ip link add d0 netns "$d" address 02:00:00:00:01:02 type veth \
		peer name g0 netns "$g" address 02:00:00:00:01:01
	ip link add g1 netns "$g" address 02:00:00:00:02:01 type veth \
		peer name s0 netns "$s" address 02:00:00:00:02:02
	ip -n "$d" addr add 198.18.1.2/24 dev d0
	ip -n "$g" addr add 198.18.1.1/24 dev g0
	ip -n "$g" addr add 198.19.2.1/24 dev g1
	ip -n "$s" addr add 198.19.2.2/24 dev s0
	ip -n "$d" link set d0 up
	ip -n "$g" link set g0 up
	ip -n "$g" link set g1 up
	ip -n "$s" link set s0 up
	ip netns exec "$g" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$d" route add default via 198.18.1.1 dev d0
	ip -n "$g" neigh replace 198.19.2.2 lladdr 02:00:00:00:02:02 dev g1 nud permanent
	ip -n "$s" neigh replace 198.19.2.1 lladdr 02:00:00:00:02:01 dev s0 nud permanent
	ip netns exec "$g" nft -f - <<'NFT'
table ip tko_bench_masq {
	chain nat_out {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "g1" masquerade
	}
}
NFT
	NS_D=$d NS_G=$g NS_S=$s
}

# deep_queue NS: e0 with a transmit queue deeper than the carrier's largest
# burst (a pass sends up to TKO_PASS_SESSIONS = 8192 probes at once): a veth
# has none (noqueue, then a ring of 256 frames), a NIC 1000 frames by
# default; what does not fit is refused (docs/performance.md, caveats).
deep_queue() {
	ip -n "$1" link set e0 txqueuelen 16384
	tc -n "$1" qdisc replace dev e0 root pfifo limit 16384
}

# out NAME: one namespace with a veth whose other end is down (the forge
# benchmark's output interface: clones go to the driver and stop there).
out_if() {
	local n=$P-$1
	ip netns add "$n"
	ip -n "$n" link set lo up
	ip -n "$n" link add bv0 type veth peer name bv1
	ip -n "$n" link set bv0 up
	NS_F=$n
}

drop_ns() {
	local ns
	for ns in "$@"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
}

# --- running and reporting ---------------------------------------------------
elapsed() { echo $(($(date +%s) - T0)); }

# bench TITLE PROGRAM ARGS...: run it; its progress goes to the terminal, its
# RESULT lines to $RAW and, as a table, to the terminal.
bench() {
	local title=$1 prog=$2 t rc
	shift 2
	printf '\n== %s  (at %ss)\n' "$title" "$(elapsed)"
	t=$(date +%s)
	set +e
	"$BUILD/bench/$prog" --build "$BUILD" --work "$WORK" --pin-dir "$PIN/$prog" \
		$([ $QUICK = 1 ] && echo --quick) "$@" >"$WORK/$prog.out"
	rc=$?
	set -e
	grep '^RESULT ' "$WORK/$prog.out" | sed 's/^RESULT //' >>"$RAW" || true
	grep '^RESULT ' "$WORK/$prog.out" | grep -vE '_p25 |_p75 |_runs ' |
		awk '{ printf "   %-46s %s\n", $2, $3 }'
	printf '   (%ss)\n' $(($(date +%s) - t))
	if [ $rc -ne 0 ]; then
		echo "bench: $prog failed (exit $rc)" >&2
		FAILED="$FAILED $prog"
	fi
}

# want PROG: is this benchmark part of the run (all of them without --only)?
want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
ALL=" answer_run answer_wire forge_run scale policy_run steady clock keepalive_cost "
ALL+="invalidation timing wake "
for b in ${ONLY//,/ }; do
	[[ $ALL == *" $b "* ]] || { echo "bench: --only: no benchmark $b" >&2; exit 2; }
done
[ -z "$ONLY" ] || [ -f bench/results.json ] ||
	{ echo "bench: --only merges into bench/results.json, which is missing" >&2; exit 2; }

FAILED=
mkdir -p "$PIN"
echo "tko benchmarks ($([ $QUICK = 1 ] && echo quick || echo full)${ONLY:+, only $ONLY});" \
	"machine: $(nproc) cores," \
	"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"

if want answer_run; then
	bench "1. answer path, in the kernel (BPF_PROG_RUN)" answer_run
fi

if want answer_wire; then
	wire answer
	bench "1. answer path on the wire: tko's XDP vs the kernel's TCP stack" answer_wire \
		--ns-a "$NS_E" --ns-b "$NS_P"
	drop_ns "$NS_E" "$NS_P"
fi

if want forge_run; then
	out_if forge
	bench "2. forge path: carrier passes (BPF_PROG_RUN)" forge_run --ns-a "$NS_F"
	drop_ns "$NS_F"
fi

if want scale; then
	bench "3. scale: memory per session, largest table" scale
fi

if want policy_run; then
	bench "6. forwarded policies: flow churn at TC egress (BPF_PROG_RUN)" policy_run
fi

if want steady; then
	wire steady
	deep_queue "$NS_E"
	bench "3, 5. steady state with the agent; most sessions held; agent wakeups" steady \
		--ns-a "$NS_E" --ns-b "$NS_P"
	drop_ns "$NS_E" "$NS_P"
fi

if want clock; then
	wire clock
	deep_queue "$NS_E"
	bench "2, 8. the clock with the agent: ready time, idle passes, capacity" clock \
		--ns-a "$NS_E" --ns-b "$NS_P"
	drop_ns "$NS_E" "$NS_P"
fi

if want keepalive_cost; then
	wire base
	bench "4. against SO_KEEPALIVE and a userspace heartbeat" keepalive_cost \
		--ns-a "$NS_E" --ns-b "$NS_P"
	drop_ns "$NS_E" "$NS_P"
fi

if want invalidation; then
	wire inval
	bench "6. invalidation latency" invalidation --ns-a "$NS_E" --ns-b "$NS_P"
	drop_ns "$NS_E" "$NS_P"
fi

if want timing; then
	wire timing
	bench "7. probe timing against the tick" timing --ns-a "$NS_E" --ns-b "$NS_P"
	drop_ns "$NS_E" "$NS_P"
fi

if want wake; then
	gateway wake
	bench "10. wake: the server's data at the gateway -> magic packet on the device's link" \
		wake --ns-a "$NS_G" --ns-b "$NS_S" --ns-c "$NS_D"
	drop_ns "$NS_D" "$NS_G" "$NS_S"
fi

# --- results.json, the table, the plot ----------------------------------------
bench/report.sh "$RAW" "$QUICK" "$WORK" "$ONLY"
printf '\nbench: done in %ss%s\n' "$(elapsed)" "${FAILED:+; FAILED:$FAILED}"
[ -z "$FAILED" ]
