#!/usr/bin/env bash
# make profile: where the answer path's time goes (docs/performance.md,
# "Where the time goes"). For 1, 10^4 and 10^6 sessions, answer_run answers
# probes in a loop (TKO_PROFILE_SESSIONS) while perf samples every CPU
# (cpu-clock: this machine has no hardware counters, so neither
# `bpftool prog profile` nor perf's cycles work) with call chains. A sample
# in tko_xdp_ingress (or a function it calls) is charged to the source line
# it was in (bench/prog_lines: the JIT image's line info), a sample in a
# kernel helper or kfunc to the line that called it, and lines to the
# function they belong to (inlined ones too): the steps. Prints, per step,
# its share of the program's samples and ns per answer (samples / rate /
# answers), and the ten costliest lines.
#
#   bench/profile.sh [BUILD] [SECONDS]     (COUNTS="1 10000": only those)
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
LOOP=
cleanup() {
	[ -n "$LOOP" ] && kill "$LOOP" 2>/dev/null && wait "$LOOP" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# The function each line of the BPF sources belongs to: FILE LINE NAME for
# each function's first line (a definition starts in column 0).
for f in bpf/*.bpf.c bpf/lib/*.h include/tko_hash.h; do
	awk -v f="${f##*/}" '/^[a-z_].*[ *]([a-z_0-9]+)\(/ && !/;[ \t]*$/ {
		s = $0; sub(/\(.*/, "", s); n = split(s, w, /[ *]+/); print f, NR, w[n] }' "$f"
done >"$WORK/funcs"

profile() {
	local n=$1 id
	TKO_PROFILE_SESSIONS=$n TKO_PROFILE_SECONDS=$((SECS + 30)) \
		"$BUILD/bench/answer_run" >"$WORK/loop.log" 2>&1 &
	LOOP=$!
	until grep -q "profiling:" "$WORK/loop.log"; do
		kill -0 "$LOOP" 2>/dev/null || { cat "$WORK/loop.log" >&2; exit 1; }
		sleep 0.2
	done
	id=$(bpftool prog show | awk '/ xdp .*name tko_xdp_ingress / { id = $1 } END { sub(":", "", id); print id }')
	"$BUILD/bench/prog_lines" "$id" >"$WORK/lines"
	sleep 1
	# answers in the sampled window: the loop's count before and after
	kill -USR1 "$LOOP"
	sleep 0.1
	perf record -q -g -e cpu-clock -c $PERIOD -a -o "$WORK/perf.data" -- sleep "$SECS" 2>/dev/null
	kill -USR1 "$LOOP"
	sleep 0.1
	kill "$LOOP"
	wait "$LOOP" 2>/dev/null || true
	LOOP=
	perf script -i "$WORK/perf.data" -F ip,sym,symoff 2>/dev/null >"$WORK/samples"
	awk -v n="$n" -v period=$PERIOD -v log_="$WORK/loop.log" -v funcs="$WORK/funcs" \
	    -v lines="$WORK/lines" -f bench/profile.awk "$WORK/samples"
}

for n in ${COUNTS:-1 10000 1000000}; do
	profile $n
done
