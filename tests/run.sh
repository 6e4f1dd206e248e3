#!/usr/bin/env bash
# Run every test of tko and print one summary line: "N passed, N failed".
#  - cmocka binaries (build/tests/test_*: unit, build/tests/prog_*: BPF programs):
#    each test case counts;
#  - end-to-end scripts (tests/e2e/*.sh): each "ok - ..." / "not ok - ..." line counts.
# A test binary or script that cannot run, or exits non-zero without reporting a
# failure, counts as one failure: nothing is ever skipped.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "tests: must run as root (BPF programs, network namespaces)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

count() {	# name, exit status; reads the output in $log
	local name=$1 rc=$2 p f
	p=$(grep -cE '^\[       OK \]|^ok( |$)' "$log")
	# cmocka names a failed test twice (inline and in its summary list)
	f=$(( $(grep -E '^\[  (FAILED|ERROR)   ?\] [A-Za-z_0-9]+$' "$log" | sort -u | wc -l) +
	      $(grep -c '^not ok' "$log") ))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name exited with status $rc without reporting a failure"
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name ran no test"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	printf '%-28s %3d passed, %d failed\n' "$name" "$p" "$f"
}

run() {	# name, command...
	local name=$1 rc
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	count "$name" "$rc"
}

for t in "$BUILD"/tests/test_* "$BUILD"/tests/prog_*; do
	[ -x "$t" ] || continue
	run "$(basename "$t")" "$t"
done
for t in tests/e2e/*.sh; do
	[ -f "$t" ] && [ "$(basename "$t")" != lib.sh ] || continue
	run "$(basename "$t" .sh)" timeout 600 bash "$t" "$BUILD"
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
