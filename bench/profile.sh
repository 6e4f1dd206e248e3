#!/usr/bin/env bash
# make profile: where the time of the answer path and of the forge path goes
# (docs/performance.md, "Where the time goes").
#  - answer: for 1, 10^4 and 10^6 sessions, answer_run answers probes in a
#    loop (TKO_PROFILE_SESSIONS), as its warm measurement does;
#  - forge: forge_run runs the maximum rate's carrier passes in a loop (every
#    one of 65536 sessions due at one tick, passes back to back).
# Meanwhile perf samples every CPU (cpu-clock: this machine has no hardware
# counters, so neither `bpftool prog profile` nor perf's cycles work) with
# call chains. A sample in the program (or a function of it) is charged to
# the source line it was in (bench/prog_lines: the JIT image's line info), a
# sample in a kernel helper or kfunc to the line that called it, and lines
# to the function they belong to (inlined ones too): the steps. Prints, per
# step, its share of the program's samples and ns per answer or probe
# (samples x period / answers or probes counted over the same window), the
# calls out of the program and the costliest lines.
#
#   bench/profile.sh [BUILD] [SECONDS]
#   COUNTS="1 10000" (answer: only those), ONLY=answer|forge
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SECS=${2:-6}
cd "$(dirname "$0")/.."
PERIOD=50000	# ns of cpu-clock between samples (20 kHz)

if [ "$(id -u)" -ne 0 ]; then
	echo "profile: must run as root (BPF, perf)" >&2
	exit 1
fi
command -v perf >/dev/null || { echo "profile: perf is missing (scripts/deps.sh bench installs it)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/tko-profile.XXXXXX)
NS=tkop$$
LOOP=
cleanup() {
	[ -n "$LOOP" ] && kill "$LOOP" 2>/dev/null && wait "$LOOP" 2>/dev/null
	ip netns del "$NS" 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The function each line of the BPF sources belongs to: FILE LINE NAME for
# each function's first line (a definition starts in column 0).
for f in bpf/*.bpf.c bpf/lib/*.h include/tko_hash.h; do
	awk -v f="${f##*/}" '/^[a-z_].*[ *]([a-z_0-9]+)\(/ && !/;[ \t]*$/ {
		s = $0; sub(/\(.*/, "", s); n = split(s, w, /[ *]+/); print f, NR, w[n] }' "$f"
done >"$WORK/funcs"

# mark N: have the loop print its count, and wait for its Nth mark line (the
# loop prints it between two runs: within a pass, or half a second).
mark() {
	kill -USR1 "$LOOP"
	until [ "$(grep -c " mark " "$WORK/loop.log")" -ge "$1" ]; do
		sleep 0.01
	done
}

# profile WHAT PROG TYPE COMMAND...: sample while COMMAND (a loop that prints
# "profiling:" once it runs and a "mark" line at each SIGUSR1) runs PROG.
profile() {
	local what=$1 prog=$2 type=$3 id
	shift 3
	"$@" >"$WORK/loop.log" 2>&1 &
	LOOP=$!
	until grep -q "profiling:" "$WORK/loop.log"; do
		kill -0 "$LOOP" 2>/dev/null || { cat "$WORK/loop.log" >&2; exit 1; }
		sleep 0.2
	done
	id=$(bpftool prog show | awk -v t="$type" -v p="$prog" \
		'$2 == t && $3 == "name" && $4 == p { id = $1 } END { sub(":", "", id); print id }')
	[ -n "$id" ] || { echo "profile: $prog is not loaded" >&2; exit 1; }
	"$BUILD/bench/prog_lines" "$id" >"$WORK/lines"
	sleep 1
	mark 1
	perf record -q -g -e cpu-clock -c $PERIOD -a -o "$WORK/perf.data" -- sleep "$SECS" 2>/dev/null
	mark 2
	kill "$LOOP"
	wait "$LOOP" 2>/dev/null || true
	LOOP=
	perf script -i "$WORK/perf.data" -F ip,sym,symoff 2>/dev/null >"$WORK/samples"
	awk -v what="$what" -v period=$PERIOD -v log_="$WORK/loop.log" -v funcs="$WORK/funcs" \
	    -v lines="$WORK/lines" -f bench/profile.awk "$WORK/samples"
}

if [ "${ONLY:-answer}" = answer ]; then
	for n in ${COUNTS:-1 10000 1000000}; do
		profile "answer: $n sessions" tko_xdp_ingress xdp \
			env TKO_PROFILE_SESSIONS="$n" TKO_PROFILE_SECONDS=$((SECS + 30)) \
			"$BUILD/bench/answer_run"
	done
fi
if [ "${ONLY:-forge}" = forge ]; then
	# forge_run's output device, as bench/run.sh makes it
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" link add bv0 type veth peer name bv1
	ip -n "$NS" link set bv0 up
	profile "forge: 65536 due at once" tko_carrier sched_cls \
		env TKO_PROFILE_SECONDS=$((SECS + 30)) "$BUILD/bench/forge_run" --ns-a "$NS"
fi
