#!/usr/bin/env bash
# bench/report.sh RAW QUICK WORK [ONLY]: from the "key value" lines the
# benchmarks printed, write bench/results.json, the results table of
# docs/performance.md (between its "results" markers) and the plot
# docs/performance.png (gnuplot: cost per keepalive against session count).
# ONLY (run.sh --only): the keys of those benchmarks are merged into the
# existing bench/results.json, whose date and machine stay the whole run's;
# .reruns says what was measured again, when, on which kernel.
set -euo pipefail
RAW=$1 QUICK=$2 WORK=$3 ONLY=${4:-}
cd "$(dirname "$0")/.."

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
# Every key of the output contract, null when a benchmark failed to give it.
CONTRACT='answer.xdp_ns answer.kernel_ns answer.ratio answer.run_ns.s1000000
answer.run_ns_cold.s1000000 forge.ns_per_probe
forge.max_probes_per_s forge.capacity_probes_per_s forge.capacity_clock_probes_per_s
forge.idle_pass_ns idle.carrier_passes_per_s agent.ready_ms agent.ready_ms_cold scale.max_active_sessions
scale.installs_per_s_batched scale.bytes_per_session scale.max_sessions scale.installs_per_s
scale.cpu_pct_1e6_at_60s baseline.so_keepalive_bytes_per_socket
baseline.heartbeat_ns_per_keepalive baseline.heartbeat_wakeups_per_keepalive
wakeups.per_1000_keepalives invalidation_ms.p50 invalidation_ms.p99 timing_ms.tick_10.p50
timing_ms.tick_10.p99 policy.flows_per_s policy.miss_ns wake.ms_p50 wake.ms_p99'

# Dotted keys become nested objects; values are numbers (or quoted strings).
# A whole run starts from nothing; --only from the last results.
if [ -n "$ONLY" ]; then BASE=$(cat bench/results.json); else BASE='{}'; fi
jq -n -R --arg kernel "$(uname -r)" --arg cpu "$cpu" --argjson cores "$(nproc)" \
	--argjson quick "$([ "$QUICK" = 1 ] && echo true || echo false)" \
	--arg contract "$CONTRACT" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	--arg only "$ONLY" --argjson base "$BASE" '
	reduce (inputs | select(length > 0) | capture("^(?<k>\\S+) (?<v>.*)$")) as $r
		({}; setpath($r.k | split("."); ($r.v | fromjson)))
	| ($base * .) as $m
	| reduce ($contract | split("\\s+"; null) | .[] | select(length > 0)) as $k
		($m; if getpath($k | split(".")) == null then setpath($k | split("."); null)
		     else . end)
	| if $only == "" then
		. + { machine: { kernel: $kernel, cpu_model: $cpu, cores: $cores },
		      quick: $quick, date: $date }
	  else
		.reruns = ([.reruns[]? | select(.only != $only)] +
			   [{ only: $only, date: $date, quick: $quick, kernel: $kernel }])
	  end' <"$RAW" >"$WORK/results.json"
# The regression guard: each key of the contract next to the last run's.
if [ -f bench/results.json ]; then cp bench/results.json "$WORK/previous.json"; fi
cp "$WORK/results.json" bench/results.json
echo "bench: wrote bench/results.json${ONLY:+ (merged: $ONLY)}"
bench/compare.sh "$WORK/previous.json" bench/results.json "$CONTRACT" || true

# --- the table ------------------------------------------------------------------
v() { jq -r --arg k "$1" 'getpath($k | split(".")) // "n/a" |
	if type == "number" then (if . >= 1000 then (. | round | tostring)
	 elif . >= 10 then (. * 10 | round / 10 | tostring)
	 else (. * 1000 | round / 1000 | tostring) end) else . end' bench/results.json; }
spread() {
	local a b
	a=$(v "${1}_p25") b=$(v "${1}_p75")
	[ "$a" = n/a ] && echo "" || echo "[$a..$b]"
}
# A row with a baseline is only written with the baseline measured: a row
# against nothing (n/a, or 0 from a method that saw nothing) says nothing.
row() {	# metric, tko key, baseline label, baseline key, unit
	local base=—
	if [ -n "$4" ]; then
		base=$(v "$4")
		case $base in
		n/a|0|-*)
			echo "bench: table: \"$1\" left out: its baseline $4 is $base" >&2
			return ;;
		esac
	fi
	printf '| %s | %s %s | %s | %s | %s |\n' "$1" "$(v "$2")" "$(spread "$2")" "$3" "$base" "$5"
}
TABLE=$WORK/table.md
{
	jq -r '"Run of \(.date) (\(if .quick then "QUICK=1" else "full" end)):" +
		" \(.machine.cores) cores, \(.machine.cpu_model), kernel \(.machine.kernel)." +
		" Medians, [p25..p75] over the repetitions." +
		([.reruns[]? | " Re-run alone since (make bench ONLY=\(.only)\(if .quick then
		  " QUICK=1" else "" end)): \(.date), kernel \(.kernel)."] | add // "")' \
		bench/results.json
	echo
	echo "| metric | tko | baseline | baseline value | unit |"
	echo "|---|---|---|---|---|"
	row "1. answer a peer's probe, CPU per probe on the wire" answer.xdp_ns \
		"kernel TCP stack of a real socket" answer.kernel_ns "ns"
	row "1. ratio kernel / tko" answer.ratio "" "" "×"
	row "1. answer in XDP, BPF_PROG_RUN, 1 session" answer.run_ns.s1 "" "" "ns"
	row "1. answer in XDP, BPF_PROG_RUN, 10^4 sessions" answer.run_ns.s10000 "" "" "ns"
	row "1. answer in XDP, BPF_PROG_RUN, 10^6 sessions (2000 of them, in the caches)" answer.run_ns.s1000000 "" "" "ns"
	row "1. same, each session untouched since it was installed (its lines in memory)" \
		answer.run_ns_cold.s1000000 "" "" "ns"
	row "1. an answer that also refreshes the flow's conntrack entry (once a period), 1 session" \
		answer.run_ns_ct_refresh.s1 "" "" "ns"
	row "2. forge one probe (carrier, K=1024 due)" forge.ns_per_probe \
		"kernel SO_KEEPALIVE, CPU per probe" baseline.so_keepalive_ns_per_probe "ns"
	row "2. forge one probe (carrier, K=1 due)" forge.ns_per_probe_k.k1 "" "" "ns"
	row "2. carrier pass with nothing due, one tick after the last" forge.idle_tick_pass_ns "" "" "ns"
	row "2. carrier pass with nothing due, after a whole hold (1 s)" forge.idle_pass_ns "" "" "ns"
	row "2. carrier passes a second, $(v idle.sessions) sessions, nothing due" \
		idle.carrier_passes_per_s "" "" "passes/s"
	row "2. max forged probes, one core (BPF_PROG_RUN, back-to-back passes)" forge.max_probes_per_s "" "" "probes/s"
	row "2. capacity of the default agent, due set never empty, device taking every probe" \
		forge.capacity_clock_probes_per_s "" "" "probes/s"
	row "2. same on the wire (veth, answering peer; the queue sets the pace)" \
		forge.capacity_probes_per_s "" "" "probes/s"
	row "3. installs through libtko (single)" scale.installs_per_s "" "" "sessions/s"
	row "3. installs through libtko (batched, 256 per BPF_PROG_RUN)" scale.installs_per_s_batched "" "" "sessions/s"
	row "3. most sessions ACTIVE at once, every $(v scale.active_interval_s) s, all answered, $(v scale.active_window_s) s" \
		scale.max_active_sessions "" "" "sessions"
	row "3. late probes (> a tick) in that window" scale.active_probes_late "" "" "probes"
	row "3. kernel memory per session held (memlock of all maps / sessions)" scale.bytes_per_session \
		"SO_KEEPALIVE socket" baseline.so_keepalive_bytes_per_socket "bytes"
	row "3. kernel memory a start allocates (the first design: its bpf_timer)" \
		scale.timer_bytes_per_session "" "" "bytes"
	row "3. largest session table held" scale.max_sessions "" "" "sessions"
	row "3. steady-state softirq CPU, $(v scale.cpu_sessions) sessions every $(v scale.cpu_interval_s) s" \
		scale.cpu_pct_1e6_at_60s "" "" "% of a core"
	row "3. CPU per keepalive in that steady state" scale.cpu_ns_per_keepalive \
		"userspace heartbeat (epoll+timerfd)" baseline.heartbeat_ns_per_keepalive "ns"
	row "3. of which tko's BPF programs" scale.bpf_ns_per_keepalive "" "" "ns"
	row "4/5. process wakeups per keepalive" wakeups.per_keepalive \
		"userspace heartbeat" baseline.heartbeat_wakeups_per_keepalive "wakeups"
	row "5. agent context switches per 1000 keepalives" wakeups.per_1000_keepalives "" "" "switches"
	row "6. data on an ACTIVE session -> agent prints the event, p50" invalidation_ms.p50 "" "" "ms"
	row "6. same, p99" invalidation_ms.p99 "" "" "ms"
	for t in 1 10 100; do
		row "7. probe sent - due, tick $t ms, p50" timing_ms.tick_$t.p50 "" "" "ms"
		row "7. probe sent - due, tick $t ms, p99" timing_ms.tick_$t.p99 "" "" "ms"
	done
	row "8. tko agent: start to its ready line (fresh load, in a netns with a veth)" agent.ready_ms "" "" "ms"
	row "8. same, cold: a new netns each time, the page cache dropped" agent.ready_ms_cold "" "" "ms"
	row "9. forwarded flows created and ended at TC, one core" policy.flows_per_s "" "" "flows/s"
	row "9. segment of a flow no forwarded policy matches (8 policies)" policy.miss_ns \
		"no forwarded policy at all" policy.miss_base_ns "ns"
	row "10. wake: the server's data at the gateway -> magic packet on the device's link, p50" \
		wake.ms_p50 "" "" "ms"
	row "10. same, p99" wake.ms_p99 "" "" "ms"
} >"$TABLE"
cat "$TABLE"

# Replace what is between the markers in docs/performance.md.
if grep -q '<!-- results:begin -->' docs/performance.md 2>/dev/null; then
	awk -v table="$TABLE" '
		/<!-- results:begin -->/ { print; while ((getline l < table) > 0) print l; skip = 1; next }
		/<!-- results:end -->/ { skip = 0 }
		!skip' docs/performance.md >"$WORK/perf.md" && cp "$WORK/perf.md" docs/performance.md
	echo "bench: updated the table in docs/performance.md"
fi

# --- the plot ---------------------------------------------------------------------
# keepalive_cost prints cost.<approach>.n<N> = ns of CPU per keepalive.
DATA=$WORK/plot.dat
jq -r '.cost // {} | to_entries[] | .key as $a | .value | to_entries[] |
	"\($a) \(.key | ltrimstr("n")) \(.value)"' bench/results.json | sort -k1,1 -k2n >"$DATA"
# The plot compares three series: each must be there, over the same session
# counts, every point measured (> 0: a log scale drops the rest silently).
plot_ok() {
	local a ns bad want=
	for a in tko kernel heartbeat; do
		ns=$(awk -v a=$a '$1 == a && $3 > 0 { printf "%s ", $2 }' "$DATA")
		bad=$(awk -v a=$a '$1 == a && !($3 > 0) { printf "%s ", $2 }' "$DATA")
		if [ -n "$bad" ]; then
			echo "bench: no plot: the $a series measured nothing at ${bad% } sessions"
			return 1
		fi
		if [ -z "$ns" ]; then
			echo "bench: no plot: no $a series"
			return 1
		fi
		want=${want:-$ns}
		if [ "$ns" != "$want" ]; then
			echo "bench: no plot: the $a series is over ${ns% } sessions, the tko one over ${want% }"
			return 1
		fi
	done
}
if [ -n "$ONLY" ] && [[ ",$ONLY," != *,keepalive_cost,* ]]; then
	echo "bench: keepalive_cost not re-run: docs/performance.png unchanged"
elif ! plot_ok; then
	echo "bench: docs/performance.png unchanged (it is the last run's that had all three)"
elif command -v gnuplot >/dev/null; then
	gnuplot <<EOF
set terminal pngcairo size 900,540 font "sans,11"
set output "docs/performance.png"
set title "CPU per keepalive against the number of idle sessions (lower is better)"
set xlabel "sessions"
set ylabel "ns of CPU per keepalive (whole machine)"
set logscale xy
set key top left
set grid
plot for [a in "tko kernel heartbeat"] \
	"< grep '^".a." ' $DATA" using 2:3 with linespoints lw 2 pt 7 title \
	(a eq "tko" ? "tko (carrier + XDP)" : a eq "kernel" ? "kernel SO\\\\_KEEPALIVE" : \
	 "userspace heartbeat (epoll + timerfd, 1 byte)")
EOF
	echo "bench: wrote docs/performance.png"
else
	echo "bench: no gnuplot: docs/performance.png unchanged"
fi
