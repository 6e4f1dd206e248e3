#!/usr/bin/env bash
# Run every test of tko and print one summary line: "N passed, N failed".
# Every test reports in TAP, each "ok ..." / "not ok ..." line counts, and all
# its output is shown as it comes:
#  - cmocka binaries (build/tests/test_*: unit, build/tests/prog_*: BPF programs),
#    run with CMOCKA_MESSAGE_OUTPUT=TAP: a line per test case, its error message
#    after it as "# " lines (a fail_msg()'s on stderr), a failing group setup
#    or teardown as one "not ok 0 - GROUP [  FAILED  ] GROUP SETUP" (TEARDOWN),
#    a skip() as "not ok N # SKIP NAME", a failure like any "not ok": a test
#    that cannot run is a failure;
#  - end-to-end scripts (tests/e2e/*.sh): their "ok - ..." / "not ok - ..." lines;
#  - then, for each kernel of TKO_TEST_KERNELS (make test's TEST_KERNELS), the
#    same lines of its run under qemu (tests/vm/matrix.sh), the e2e scripts
#    of TKO_TEST_KERNEL_E2E there.
# A test binary or script that cannot run, or exits non-zero without reporting a
# failure, counts as one failure: nothing is ever skipped.
#   tests/run.sh [BUILD]              every test
#   tests/run.sh BUILD NAME...        only these: a binary of BUILD/tests (prog_xdp),
#                                     an e2e script (gateway), or a script's path
set -u
BUILD=${1:-build}
shift $(($# > 0 ? 1 : 0))
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

count() {	# name, exit status, seconds; reads the output in $log
	local name=$1 rc=$2 secs=$3 p f fails line
	p=$(grep -cE '^ok( |$)' "$log")
	fails=$(grep -E '^not ok( |$)' "$log")
	f=$(grep -c . <<<"$fails")
	# The failed ones again, at the end, as cmocka's own summary listed them.
	[ "$f" -eq 0 ] || while IFS= read -r line; do echo "FAIL: $name: $line"; done <<<"$fails"
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
	printf '%-28s %3d passed, %d failed (%ds)\n' "$name" "$p" "$f" "$secs"
}

run() {	# name, command...
	local name=$1 rc start=$SECONDS
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	count "$name" "$rc" $((SECONDS - start))
}

run_one() {	# a test binary's or a script's path
	case $1 in
	*.sh) run "$(basename "$1" .sh)" timeout 600 bash "$1" "$BUILD" ;;
	*) run "$(basename "$1")" env CMOCKA_MESSAGE_OUTPUT=TAP "$1" ;;
	esac
}

if [ $# -eq 0 ]; then
	for t in "$BUILD"/tests/test_* "$BUILD"/tests/prog_*; do
		[ -x "$t" ] && run_one "$t"
	done
	for t in tests/e2e/*.sh; do
		[ -f "$t" ] && [ "$(basename "$t")" != lib.sh ] && run_one "$t"
	done
	# Other kernels (make test's TEST_KERNELS): each under qemu, its tests
	# counted here as they are there (tests/vm/matrix.sh).
	for k in ${TKO_TEST_KERNELS:-}; do
		run "kernel $k" env VM_E2E="${TKO_TEST_KERNEL_E2E:-gateway forwarded}" \
			tests/vm/matrix.sh "$BUILD" "$k"
	done
fi
for name in "$@"; do
	if [ -f "$name" ] && [[ $name == *.sh ]]; then
		run_one "$name"
	elif [ -f "tests/e2e/$name.sh" ]; then
		run_one "tests/e2e/$name.sh"
	elif [ -x "$BUILD/tests/$name" ]; then
		run_one "$BUILD/tests/$name"
	else
		echo "FAIL: no test named $name"
		failed=$((failed + 1))
	fi
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
