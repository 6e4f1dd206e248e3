#!/usr/bin/env bash
# Each of tko's BPF programs loaded alone (tests/vm/loadall.c): which ones the
# running kernel refuses, and the verifier's reason, even where the agent stops
# at the first. TKO_VERIFIER_LOGS=DIR keeps the verifier's whole logs.
BUILD=${1:-build}
[ -z "${TKO_VERIFIER_LOGS:-}" ] || mkdir -p "$TKO_VERIFIER_LOGS"
# As on a gateway with NAT: the conntrack kfuncs are in nf_conntrack's BTF, there
# only once it is loaded (the agent takes the path without them otherwise).
modprobe nf_conntrack 2>/dev/null
exec "$BUILD/vm/loadall" "$BUILD"/bpf/*.bpf.o
