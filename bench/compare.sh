#!/usr/bin/env bash
# bench/compare.sh PREVIOUS NEW [KEYS]: the regression guard of make bench.
# For each key of the output contract (KEYS, whitespace-separated; report.sh
# passes its CONTRACT), the new value next to the previous results.json's,
# and a flag where tko's value is more than 25 % worse. A report, not a
# test: it always exits 0. Which way is worse: keys that count a rate or a
# capacity (per_s, ratio, max_*) are better higher, every other one (ns, ms,
# %, bytes, wakeups) lower; baseline.* keys measure the alternatives, not
# tko, and are shown unflagged. A run of another kind (QUICK against full)
# is said, since their methods differ.
set -euo pipefail
PREV=$1 NEW=$2
KEYS=${3:-$(jq -r '[paths(numbers) | map(tostring) | join(".")] | .[]' "$NEW")}

if [ ! -s "$PREV" ]; then
	echo "bench: no previous results.json to compare with"
	exit 0
fi
jq -r --slurpfile p "$PREV" --arg keys "$KEYS" '
	$p[0] as $prev
	| def kind($r): if $r.quick == true then "QUICK=1" else "full" end;
	  def fmt: if . == null then "n/a" elif (. | fabs) >= 1000 then (. | round | tostring)
		   elif (. | fabs) >= 10 then (. * 10 | round / 10 | tostring)
		   else (. * 1000 | round / 1000 | tostring) end;
	  def higher_better($k): $k | test("per_s|ratio|(^|\\.)max_");
	"bench: key, this run, the previous run (\($prev.date // "undated"), \(kind($prev))" +
	(if kind($prev) != kind(.) then "; this run is \(kind(.)): methods differ" else "" end) +
	"), the change:",
	( . as $now
	| $keys | split("\\s+"; null) | .[] | select(length > 0) as $k
	| ($k | split(".")) as $path
	| ($now | getpath($path)) as $n | ($prev | getpath($path)) as $o
	| (if ($n | type) == "number" and ($o | type) == "number" and $o != 0 then
		($n - $o) / ($o | fabs) else null end) as $chg
	| (if $chg == null then null elif higher_better($k) then -$chg else $chg end) as $worse
	| "  \($k | .[0:44] | . + " " * (44 - length)) \($n | fmt | " " * (12 - length) + .)" +
	  " \($o | fmt | " " * (12 - length) + .)" +
	  (if $chg == null then ""
	   else (($chg * 100 | round) + 0) as $c | (if $c > 0 then "+" else "" end) + ($c | tostring) + "%"
		| " " * (8 - length) + . end) +
	  (if $worse != null and $worse > 0.25 and ($k | startswith("baseline.") | not)
	   then "  WORSE by more than 25 %" else "" end))
' "$NEW"
