#!/usr/bin/env bash
# The agent's Prometheus endpoint (tko agent --metrics): scraped with curl in
# the gateway namespace, parsed by Debian's python3-prometheus-client, the
# same figures as `tko stats --prometheus`, 404 and 405 elsewhere, IPv6, no
# wakeup of the server's thread while nobody asks; a bad address and a port
# in use fail the start before "ready".
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3	# Debian's, which python3-prometheus-client is installed for
PROM_CHECK="$PY $(cd "$(dirname "$0")" && pwd)/prom_check.py"
QUIET_S=5

topo_up "$PREFIX" || { not_ok "topology"; finish; }
A=$TOPO_V4_GW_SRV:9464
URL=http://$A/metrics
scrape() { in_gw curl -sS --max-time 5 "$@"; }

# agent_try ARGS...: an agent expected to fail, in the foreground (bounded).
agent_try() {
	timeout 60 nsenter --net=/run/netns/"$TOPO_GW" "$TKO" agent --pin-dir "$PIN" \
		--cgroup "$TEST_CG" --iface g1 "$@" >"$WORK/try.out" 2>"$WORK/try.err"
}

# --- bad addresses: a usage error, before anything is loaded ---------------------
agent_try --metrics "$TOPO_V4_GW_SRV"
check "--metrics ADDR without a port: exit 2" test $? -eq 2
check "one line on stderr naming --metrics" bash -c "[ \$(wc -l <'$WORK/try.err') -eq 1 ] &&
	grep -q -- '--metrics: bad address' '$WORK/try.err'"
printf 'iface = g1\nmetrics = [%s]\n' "$TOPO_V6_GW_SRV" >"$WORK/bad.conf"
agent_try --config "$WORK/bad.conf"
check "metrics = [ADDR6] without a port in the config file: exit 2" test $? -eq 2
check "named with the file and line" grep -q "bad.conf:2: --metrics: bad address" "$WORK/try.err"

# --- a port in use: the start fails before "ready", leaving nothing --------------
ip netns exec "$TOPO_GW" "$TCPKIT" server "$TOPO_V4_GW_SRV" 9465 >"$WORK/squat.out" 2>&1 &
squat=$!
wait_for 5 grep -qs listening "$WORK/squat.out"
agent_try --metrics "$TOPO_V4_GW_SRV:9465"
check "--metrics on a port in use: exit 1" test $? -eq 1
check "one line says so" test "$(grep -c "metrics $TOPO_V4_GW_SRV:9465: cannot listen there: Address already in use" "$WORK/try.err")" -eq 1
check "and the agent never said ready" bash -c "! grep -q '^tko: ready' '$WORK/try.err'"
check "nothing left behind (pins, carrier)" bash -c "[ ! -e '$PIN' ] && ! ip -n '$TOPO_GW' link show tko0 2>/dev/null"
kill "$squat" 2>/dev/null
wait "$squat" 2>/dev/null

# --- the endpoint, from the config file -------------------------------------------
printf 'iface = g1\ntick-ms = 100\nmetrics = %s\n' "$A" >"$WORK/tko.conf"
check "agent starts with 'metrics = $A' in its config" agent_start --config "$WORK/tko.conf"
check "it says where, just before ready" bash -c "grep -A1 'metrics on $URL\$' '$WORK/agent.err' |
	grep -q 'ready'"
tko start $TOPO_V4_DEV:30001 $TOPO_V4_SRV:7999 --state snd_nxt=1,rcv_nxt=2,win=3 >/dev/null
tko start $TOPO_V4_DEV:30002 $TOPO_V4_SRV:7999 --state snd_nxt=1,rcv_nxt=2,win=3 >/dev/null
tko stop $TOPO_V4_DEV:30002 $TOPO_V4_SRV:7999 >/dev/null

code=$(scrape -o "$WORK/m1" -w '%{http_code} %{content_type}' "$URL")
check "GET /metrics: 200, text format 0.0.4 (got '$code')" \
	test "$code" = "200 text/plain; version=0.0.4; charset=utf-8"
tko stats --prometheus >"$WORK/stats"
scrape -o "$WORK/m2" "$URL"
check "the parser accepts the body; HELP and TYPE for each family, *_total counters, known labels only" \
	$PROM_CHECK check "$WORK/m1"
check "the parser accepts 'tko stats --prometheus' too" $PROM_CHECK check "$WORK/stats"
check "the same figures as 'tko stats --prometheus' (each between a scrape before and one after)" \
	$PROM_CHECK between "$WORK/m1" "$WORK/stats" "$WORK/m2"
check "the same text, but for counters that moved" bash -c "diff <(grep -v '^tko_.*_total ' '$WORK/m1') \
	<(grep -v '^tko_.*_total ' '$WORK/stats')"
check "sessions by state" grep -qx 'tko_sessions{state="learning"} 1' "$WORK/m1"
check "events by type and reason" \
	grep -qx 'tko_events_total{type="started",reason="request"} 2' "$WORK/m1"
check "counters with HELP" grep -qx '# HELP tko_probes_sent_total Probes sent by the carrier.' "$WORK/m1"
check "HEAD /metrics: 200, no body" test "$(scrape -I -o /dev/null -w '%{http_code} %{size_download}' "$URL")" = "200 0"
check "GET /: 404" test "$(scrape -o /dev/null -w '%{http_code}' "http://$A/")" = 404
check "GET /metricsx: 404" test "$(scrape -o /dev/null -w '%{http_code}' "http://$A/metricsx")" = 404
check "POST /metrics: 405" test "$(scrape -o /dev/null -w '%{http_code}' -X POST "$URL")" = 405
check "a query string is fine" test "$(scrape -o /dev/null -w '%{http_code}' "$URL?x=1")" = 200

# --- asleep while nobody asks ------------------------------------------------------
# Context switches of each thread but the main one (whose own clock is not
# this test's business): the HTTP server's must not move without requests.
threads() {
	local t
	for t in /proc/"$AGENT_PID"/task/*; do
		[ "${t##*/}" = "$AGENT_PID" ] && continue
		echo "${t##*/} $(cat "$t/comm") $(awk '/ctxt_switches/ { n += $2 } END { print n }' "$t/status")"
	done
}
main_switches() { awk '/ctxt_switches/ { n += $2 } END { print n }' /proc/"$AGENT_PID"/status; }
settled() { local a; a=$(threads); sleep 0.5; [ -n "$a" ] && [ "$a" = "$(threads)" ]; }
check "the agent has its HTTP thread" bash -c "[ -n \"\$1\" ]" _ "$(threads)"
check "which settles after the requests" wait_for 10 settled
before=$(threads)
m0=$(main_switches)
sleep "$QUIET_S"	# the measurement itself: nothing to wait for
after=$(threads)
note "threads (tid comm switches) before: $(echo $before); after $QUIET_S s: $(echo $after)"
note "the main thread switched $(($(main_switches) - m0)) times meanwhile (not checked here)"
check "no wakeup of the HTTP thread in $QUIET_S s without requests" test "$before" = "$after"
code=$(scrape -o /dev/null -w '%{http_code}' "$URL")
check "and it still answers (200) after the quiet time" test "$code" = 200

check "agent exits 0 on SIGTERM" agent_stop
check "the endpoint goes with it" bash -c "! nsenter --net=/run/netns/'$TOPO_GW' curl -s --max-time 5 -o /dev/null '$URL'"

# --- IPv6, from the command line ---------------------------------------------------
A6="[$TOPO_V6_GW_SRV]:9464"
check "agent starts with --metrics $A6" agent_start --iface g1 --tick-ms 100 --metrics "$A6"
check "it says where" grep -qF "metrics on http://$A6/metrics" "$WORK/agent.err"
scrape -g -o "$WORK/m6" "http://$A6/metrics"
check "GET over IPv6 parses" $PROM_CHECK check "$WORK/m6"
check "agent exits 0 on SIGTERM" agent_stop
finish
