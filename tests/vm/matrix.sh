#!/usr/bin/env bash
# tests/vm/matrix.sh BUILD [SERIES...]: `make test-kernels`. For each kernel
# series (default: 6.1 6.12, Debian's packages; see tests/vm/kernel.sh), boot it
# under qemu (tests/vm/boot.sh) and run there (tests/vm/suite.sh): the agent's
# load, each BPF program loaded alone, every program test, and the end-to-end
# tests below.
# Prints "KERNEL: N passed, N failed" per kernel, then the sum.
set -u
BUILD=${1:-build}
shift $(($# > 0 ? 1 : 0))
SERIES=${*:-6.1 6.12}
cd "$(dirname "$0")/../.."

# The end-to-end tests that hold under emulation. Not here: those bound by
# time (burst.sh's 10^4 sockets, keepalive.sh's and uplinks.sh's clock budgets),
# and those that build or install packages (deb.sh, packaging.sh).
E2E=${VM_E2E:-gateway forwarded masquerade local cli metrics}

VM_DIR=$BUILD/vm
export VM_DIR
summary=()
passed=0 failed=0
t0=$(date +%s)
for s in $SERIES; do
	kdir=$(tests/vm/kernel.sh "$VM_DIR" "$s") || { summary+=("$s: 0 passed, 1 failed"); failed=$((failed + 1)); continue; }
	ver=$(ls "$kdir/lib/modules")
	echo "=== $ver"
	start=$(date +%s)
	# The scratch directory is the VM's one writable place: the agent's log,
	# the verifier's logs of the programs it refuses.
	# Under software emulation (tcg) the tests bound by a setup's time are
	# left out (TKO_TEST_EMULATED; each says so).
	tests/vm/boot.sh "$kdir" env TKO_AGENT_LOG="$VM_DIR/run/$ver/agent.log" \
		TKO_TEST_EMULATED="$([ "${VM_ACCEL:-tcg}" = tcg ] && echo 1)" \
		TKO_VERIFIER_LOGS="$VM_DIR/run/$ver/verifier" \
		tests/vm/suite.sh "$BUILD" $E2E
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$VM_DIR/run/$ver/out" 2>/dev/null | tail -n 1)
	[ -n "$line" ] || line="0 passed, 1 failed"	# the VM never finished
	p=${line%% passed*} f=${line#*passed, }
	f=${f%% failed*}
	passed=$((passed + p)) failed=$((failed + f))
	summary+=("$ver: $line")
	echo "=== $ver: $line, in $(($(date +%s) - start))s ($(sed 's/^vm: //' "$VM_DIR/run/$ver/boot" 2>/dev/null || echo 'did not boot'))"
	echo "    logs: $VM_DIR/run/$ver/ (out, agent.log, verifier/, dmesg, console.log)"
done
echo
echo "=== $SERIES in $(($(date +%s) - t0))s"
printf '%s\n' "${summary[@]}"
echo "kernels: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
