#!/usr/bin/env bash
# Operations: the datapath outlives the agent (kill -9, restart, adoption),
# --persist and tko unload, the config file, bulk start, inspection with
# bpftool, Prometheus counters.
. "$(dirname "$0")/lib.sh"

topo_up "$PREFIX" || { not_ok "topology"; finish; }
S=$TOPO_V4_SRV

# tko agent that is expected to fail before "ready" (bounded, should it not).
agent_try() {
	timeout 20 nsenter --net=/run/netns/"$TOPO_GW" "$TKO" agent --pin-dir "$PIN" \
		--cgroup "$TEST_CG" "$@" >"$WORK/try.out" 2>"$WORK/try.err"
}
policies() { "$TKO" policy list --pin-dir "$PIN"; }

# --- the config file: nothing is cut -------------------------------------------
# A line longer than the reader takes is refused, naming it: never cut (its
# tail lost, or read as a line of its own).
{ echo "iface = g1"; printf 'policy = --forwarded --idle 30 --interval 60%9000s--remote-port 7445\n' ''
} >"$WORK/long.conf"
agent_try --config "$WORK/long.conf"
check "a config line of 9 kB: exit 2" test $? -eq 2
check "one line on stderr naming the file and the line" bash -c "[ \$(wc -l <'$WORK/try.err') -eq 1 ] &&
	grep -q 'long.conf:2: line longer than 8192 characters' '$WORK/try.err'"
check "nothing loaded" test ! -e "$PIN"

# The policy line is padded with blanks past 512 characters: all of it
# counts, its --remote-port at the end too.
cat >"$WORK/tko.conf" <<CONF
# session defaults come from here
iface = g1
tick-ms = 5
idle = 1
interval = 1
retry-interval = 1
retries = 200
policy = --forwarded --idle 30 --interval 60 $(printf '%600s' '') --remote-port 7443
CONF
check "agent starts from a config file" agent_start --config "$WORK/tko.conf"
check "the config names the interface" grep -q "attached to g1" "$WORK/agent.err"
check "the config's policy is added" grep -q "policy 1 (forwarded, config): added" "$WORK/agent.err"
check "and listed whole, the end of its 650-character line too" \
	bash -c "'$TKO' policy list --pin-dir '$PIN' | grep -qE '^1 +forwarded .* 7443 +30 +60 '"

# A session the server never answers (its port is dropped there): tko probes
# it every second for 200 retries, so probes flow as long as the datapath does.
ip netns exec "$TOPO_SRV" nft add table ip tko_test_drop
ip netns exec "$TOPO_SRV" nft add chain ip tko_test_drop in '{ type filter hook input priority 0; }'
ip netns exec "$TOPO_SRV" nft add rule ip tko_test_drop in tcp dport 7999 drop
ip netns exec "$TOPO_GW" ip neigh replace $S lladdr \
	"$(ip -n "$TOPO_SRV" link show s0 | awk '/ether/ { print $2 }')" dev g1
check "tko start takes the agent's defaults" tko start $TOPO_V4_DEV:30001 $S:7999 \
	--state snd_nxt=1000,rcv_nxt=2000,win=512
check "list shows idle 1, interval 1 from the config" bash -c "'$TKO' list --json --pin-dir '$PIN' |
	grep -q '\"idle_s\":1,\"interval_s\":1,\"retry_interval_s\":1,\"retries\":200'"

sent() { tko stats | awk '$1 == "probes_sent" { print $2 }'; }
flowing() { local a; a=$(sent); sleep 1.5; [ "$(sent)" -gt "$a" ]; }
check "probes flow" wait_for 10 flowing

# --- kill -9: the datapath does not need the agent ----------------------------
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
check "after kill -9, the pins remain" test -e "$PIN/sessions"
check "after kill -9, probes keep flowing" flowing
check "after kill -9, XDP stays attached" bash -c "ip -n '$TOPO_GW' link show g1 | grep -q xdp"
check "tko list works without an agent" bash -c "'$TKO' list --pin-dir '$PIN' | grep -q '$TOPO_V4_DEV:30001'"
check "tko start works without an agent" tko start $TOPO_V4_DEV:30002 $S:7999 \
	--state snd_nxt=1,rcv_nxt=2,win=3
check "tko stop works without an agent" tko stop $TOPO_V4_DEV:30002 $S:7999

xdp_id() { ip -n "$TOPO_GW" -d link show g1 | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'; }
id_before=$(xdp_id)
check "a new agent adopts the datapath" agent_start --config "$WORK/tko.conf"
check "it says so" grep -q "adopting the datapath pinned in $PIN" "$WORK/agent.err"
check "it adopted g1's programs" grep -q "adopted g1" "$WORK/agent.err"
check "the config's policy is there already, not added twice" \
	bash -c "grep -q 'policy 1 (forwarded, config): there already' '$WORK/agent.err' &&
		[ \$('$TKO' policy list --pin-dir '$PIN' | grep -c forwarded) -eq 1 ]"
check "and nothing is removed" bash -c "! grep -q 'removed' '$WORK/agent.err'"
check "the same XDP program stays attached" test "$(xdp_id)" = "$id_before"
check "one TC filter, not two" \
	test "$(tc -n "$TOPO_GW" filter show dev g1 egress | grep -c 'tko_tc_egress')" -eq 1
check "the session survived" bash -c "'$TKO' list --pin-dir '$PIN' | grep -q '$TOPO_V4_DEV:30001 .*active'"
check "probes still flow" flowing
check "events of the agent-less time reach the new agent" \
	wait_for 5 grep -q "^stopped .*$TOPO_V4_DEV:30002" "$WORK/agent.out"
tko stop $TOPO_V4_DEV:30001 $S:7999 >/dev/null
check "and it reports new events" wait_for 5 grep -q "^stopped .*$TOPO_V4_DEV:30001" "$WORK/agent.out"

# --- inspection ----------------------------------------------------------------
tko start $TOPO_V4_DEV:30003 $S:7999 --state snd_nxt=123456,rcv_nxt=654321,win=512 >/dev/null
check "bpftool dumps sessions with named fields" bash -c "bpftool map dump pinned '$PIN/sessions' |
	grep -q '\"snd_nxt\": 123456' && bpftool map dump pinned '$PIN/sessions' | grep -q '\"lport\": 30003'"
check "bpftool dumps the event log with named fields" bash -c "bpftool map dump pinned '$PIN/event_log' |
	grep -q '\"reason\":'"
prom=$WORK/prom
tko stats --prometheus >"$prom"
check "prometheus: sessions by state" grep -qE '^tko_sessions\{state="(learning|active)"\} 1$' "$prom"
check "prometheus: events by reason" grep -qE '^tko_events_total\{type="stopped",reason="request"\} [0-9]+$' "$prom"
check "prometheus: probes and carrier passes" \
	bash -c "grep -qE '^tko_probes_sent_total [1-9]' '$prom' && grep -qE '^tko_carrier_passes_total [1-9]' '$prom'"
check "prometheus: every line is a comment or 'name{labels} value'" \
	bash -c "! grep -vE '^# (HELP|TYPE) |^[a-z_]+(\{[a-z_]+=\"[a-z0-9_.-]+\"(,[a-z_]+=\"[a-z0-9_.-]+\")*\})? [0-9]+$' '$prom'"

# --- bulk ------------------------------------------------------------------------
for i in $(seq 1 2000); do
	echo "$TOPO_V4_DEV:$((40000 + i)) $S:7999 --state snd_nxt=$i,rcv_nxt=$i,win=100"
done >"$WORK/bulk"
check "tko start --file: 2000 sessions" bash -c "'$TKO' start --file '$WORK/bulk' --pin-dir '$PIN' --idle 30 |
	grep -q '^started 2000 sessions'"
check "they are all there" test "$(tko list --json | grep -c '"idle_s":30,')" -eq 2000
printf '%s\n' "# a comment" "$TOPO_V4_DEV:50001 $S:7999" "not-an-address $S:7999" \
	"$TOPO_V4_DEV:50002 $S:7999 --idle 0" \
	"$TOPO_V4_DEV:50003 $S:7999 --state snd_nxt=1,rcv_nxt=1,win=1" \
	"$TOPO_V4_DEV:50003 $S:7999 --state snd_nxt=1,rcv_nxt=1,win=1" >"$WORK/bad"
"$TKO" start --file "$WORK/bad" --pin-dir "$PIN" >"$WORK/bad.out" 2>"$WORK/bad.err"
rc=$?
check "a bad line fails the run (exit 1)" test $rc -eq 1
check "and is named with its line number" bash -c "grep -q 'bad:3: bad address' '$WORK/bad.err' &&
	grep -q 'bad:4: --idle: 0 is out of range' '$WORK/bad.err' &&
	grep -q 'bad:6: session $TOPO_V4_DEV:50003 -> $S:7999 is already offloaded' '$WORK/bad.err'"
check "the good lines still start" grep -q "^started 2 sessions" "$WORK/bad.out"

# --- --persist and tko unload ---------------------------------------------------
agent_stop
check "a plain stop removes everything" bash -c "[ ! -e '$PIN' ] && ! ip -n '$TOPO_GW' link show tko0 2>/dev/null"
cat >"$WORK/persist.conf" <<CONF
iface = g1
policy = --forwarded --remote-port 7443 --idle 30 --interval 60
policy = --forwarded --remote-port 7444 --idle 30 --interval 60
CONF
check "agent --persist starts" agent_start --config "$WORK/persist.conf" --persist
check "with the config's policies 1 and 2" bash -c "grep -q 'policy 1 (forwarded, config): added' '$WORK/agent.err' &&
	grep -q 'policy 2 (forwarded, config): added' '$WORK/agent.err'"
check "tko policy add: policy 3" bash -c "'$TKO' policy add --pin-dir '$PIN' --forwarded --remote-port 7446 \
	--idle 30 --interval 60 | grep -qx 'policy 3 added'"
tko start $TOPO_V4_DEV:30004 $S:7999 --state snd_nxt=1,rcv_nxt=2,win=3 >/dev/null
check "agent --persist exits 0" agent_stop
check "after --persist, the datapath runs on" bash -c "[ -e '$PIN/sessions' ] &&
	ip -n '$TOPO_GW' link show g1 | grep -q xdp && ip -n '$TOPO_GW' link show tko0 >/dev/null"

# The config edited while no agent runs: 7443's --idle changed, 7444 gone.
# The first matching policy wins: the stale ones must go, not stay in front.
sed -e '/7443/s/--idle 30/--idle 40/' -e '/7444/d' "$WORK/persist.conf" >"$WORK/edited.conf"
check "an agent adopts it with the edited config" agent_start --config "$WORK/edited.conf" --persist
check "the edited and the removed policies are removed, one line each" \
	bash -c "grep -qx 'tko: policy 1 (forwarded, config): removed (no longer in the config)' '$WORK/agent.err' &&
		grep -qx 'tko: policy 2 (forwarded, config): removed (no longer in the config)' '$WORK/agent.err'"
check "the edited policy is added" grep -q "policy 1 (forwarded, config): added" "$WORK/agent.err"
policies >"$WORK/policies"
check "the table holds the edited policy, not the stale one" \
	bash -c "grep -qE ' 7443 +40 +60 ' '$WORK/policies' && ! grep -qE ' 7443 +30 ' '$WORK/policies'"
check "nor the removed one" bash -c "! grep -q ' 7444 ' '$WORK/policies'"
check "the policy of tko policy add stays" grep -qE '^3 +forwarded .* 7446 +30 +60 ' "$WORK/policies"
check "agent --persist exits 0 again" agent_stop
check "the same config once more" agent_start --config "$WORK/edited.conf" --persist
check "its policy is there already, nothing removed" \
	bash -c "grep -q 'policy 1 (forwarded, config): there already' '$WORK/agent.err' &&
		! grep -q removed '$WORK/agent.err' && [ \$('$TKO' policy list --pin-dir '$PIN' | grep -c forwarded) -eq 2 ]"
check "agent --persist exits 0 once more" agent_stop
check "tko unload removes it" in_gw "$TKO" unload --pin-dir "$PIN"
check "pins gone" test ! -e "$PIN"
check "XDP detached" bash -c "! ip -n '$TOPO_GW' link show g1 | grep -q xdp"
check "TC filter detached" bash -c "! tc -n '$TOPO_GW' filter show dev g1 egress | grep -q tko"
check "carrier removed" bash -c "! ip -n '$TOPO_GW' link show tko0 2>/dev/null"
check "unload with nothing pinned is fine" in_gw "$TKO" unload --pin-dir "$PIN"

# A datapath this tko cannot read: left by another version (one of its maps
# has another layout), or with a pin missing. An agent refuses to adopt it
# and says 'tko unload' removes it: it must, attachments and carrier too.
for how in layout missing; do
	check "$how: agent --persist starts" agent_start --iface g1 --persist
	check "$how: agent --persist exits 0" agent_stop
	if [ $how = layout ]; then
		rm "$PIN/stats"
		bpftool map create "$PIN/stats" type array key 4 value 4 entries 1 name stats
	else
		rm "$PIN/ifaces"
	fi
	check "$how: the sockops program is on the test's cgroup" \
		bash -c "bpftool cgroup show '$TEST_CG' | grep -q sock_ops"
	in_gw "$TKO" agent --pin-dir "$PIN" --cgroup "$TEST_CG" --iface g1 2>"$WORK/refused.err"
	check "$how: an agent refuses to adopt it, and says what removes it" \
		grep -q "'tko unload' removes" "$WORK/refused.err"
	check "$how: tko unload removes it" in_gw "$TKO" unload --pin-dir "$PIN"
	check "$how: pins gone" test ! -e "$PIN"
	check "$how: XDP detached" bash -c "! ip -n '$TOPO_GW' link show g1 | grep -q xdp"
	check "$how: TC filters detached" bash -c "! tc -n '$TOPO_GW' filter show dev g1 egress | grep -q . &&
		! tc -n '$TOPO_GW' filter show dev g1 ingress | grep -q ."
	check "$how: carrier removed" bash -c "! ip -n '$TOPO_GW' link show tko0 2>/dev/null"
	check "$how: sockops detached from the cgroup" \
		bash -c "! bpftool cgroup show '$TEST_CG' | grep -q sock_ops"
done
finish
