#!/usr/bin/env bash
# tests/vm/suite.sh BUILD E2E...: what tests/vm/matrix.sh runs inside each VM,
# through tests/run.sh: the agent's load (tests/vm/agent.sh), each BPF program
# loaded alone (tests/vm/programs.sh), every program test, then the end-to-end
# tests E2E. Those all need the agent: where it does not load, each counts as
# one failure, not run (under emulation each would take minutes to fail).
# Ends with the sum: "N passed, N failed".
set -u
BUILD=$1
shift
cd "$(dirname "$0")/../.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT

progs=$(cd "$BUILD/tests" && ls -d prog_*)
tests/run.sh "$BUILD" tests/vm/agent.sh tests/vm/programs.sh $progs | tee "$out"
if grep -qE '^agent +[0-9]+ passed, 0 failed' "$out"; then
	[ $# -eq 0 ] || tests/run.sh "$BUILD" "$@" | tee -a "$out"
else
	for t in "$@"; do
		echo "not ok - $t: not run, the agent does not load on $(uname -r)"
		printf '%-28s %3d passed, %d failed\n' "$t" 0 1
		echo "0 passed, 1 failed" >>"$out"
	done
fi
# The sum of the closing lines of the runs above.
awk '/^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 } END { print ""; print p " passed, " f " failed"; exit (f > 0 || p == 0) }' "$out"
