#!/usr/bin/env bash
# The agent loads on the running kernel: `tko agent -v` on the gateway of the
# e2e topology says "ready", keeps running a few seconds, answers `tko stats`,
# and leaves on SIGTERM. Its whole stderr (libbpf's debug output, with the
# verifier's log of a program the kernel refuses) is kept in $TKO_AGENT_LOG
# if set (tests/vm/matrix.sh sets it), and its refusals are shown here.
. "$(dirname "$0")/../e2e/lib.sh"

topo_up "$PREFIX" || { not_ok "topology"; finish; }
t0=$(date +%s%N)
agent_start --iface g1 -v
# agent_start waits 10 s; loading takes longer under emulation.
ready_or_gone() { grep -q "ready" "$WORK/agent.err" || ! kill -0 "$AGENT_PID" 2>/dev/null; }
wait_for 120 ready_or_gone
took=$((($(date +%s%N) - t0) / 1000000))
keep_log() { [ -z "${TKO_AGENT_LOG:-}" ] || cp "$WORK/agent.err" "$TKO_AGENT_LOG"; }
if grep -q "ready" "$WORK/agent.err"; then
	ok "the agent loads on $(uname -r) and says ready (${took} ms)"
else
	not_ok "the agent loads on $(uname -r) and says ready"
	# tko's own lines, libbpf's failures and the verifier's log of the
	# refused program (agent_stop would print the whole debug output).
	awk '/-- BEGIN PROG LOAD LOG --/ { on = 1 } on || /^tko|failed/ { print }
	     /-- END PROG LOAD LOG --/ { on = 0 }' "$WORK/agent.err" | tail -n 40 | sed 's/^/# /'
	kill "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
	keep_log
	finish
fi
sleep 3
check "the agent still runs 3 s later" kill -0 "$AGENT_PID"
stats() { tko stats >/dev/null; }
check "tko stats answers" stats
check "the agent exits 0 on SIGTERM" agent_stop
keep_log
finish
