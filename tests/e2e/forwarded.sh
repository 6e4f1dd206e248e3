#!/usr/bin/env bash
# Forwarded policies (tko policy add --forwarded): the devices behind a gateway
# are kept alive with no `tko start` at all.
#
# The gateway (tko agent on its server-facing g1) masquerades its device and
# forgets an established flow idle for CT_TIMEOUT s, dropping what it no
# longer knows (topo_gw_masquerade), as home routers do. One forwarded policy
# (--remote-port 6001, both families) is added before the device connects;
# nobody runs `tko start`. The device holds, in IPv4 and IPv6, a flow the
# policy matches and a control flow it does not (port 6002), then sleeps
# (link down) SLEEP_S s, far longer than the gateway tolerates:
#  - a matching flow becomes a session by itself (started reason=policy), is
#    offloaded after --idle, its probes are answered, its data after waking
#    arrives, the data suspends it and it re-arms; the control's is lost;
#  - on the wire (server side), tko's probes are TCP keep-alives from the
#    gateway's address with correct checksums, as many as tko counted;
#  - the device closes (FIN): the session ends (invalidated), the policy
#    holds none, and the flow's last segments do not make it a session again;
#  - a flow that existed before a policy becomes a session from its next
#    segment, also when that is the device's own kernel keepalive (SND.NXT - 1,
#    no payload: the peer's answer to it tells tko); flows the policies do not
#    match (another port, a --local prefix that is the device's address before
#    the gateway's NAT) never do;
#  - tko policy del: new flows are no longer tracked.
# The server and the device run nothing of tko's.
. "$(dirname "$0")/lib.sh"

CT_TIMEOUT=5	# s: the gateway's nf_conntrack_tcp_timeout_established
SLEEP_S=14	# s: the device's sleep, almost three times CT_TIMEOUT
INTERVAL=2	# s: tko's probes
P_FWD=6001 P_CTL=6002 P_PRE=6003 P_OTHER=6004 P_PRENAT=6005 P_KA=6006
GW4=$TOPO_V4_GW_SRV GW6=$TOPO_V6_GW_SRV

note "topology $PREFIX-{dev,gw,srv}, the gateway masquerading with a ${CT_TIMEOUT} s established timeout"
topo_up "$PREFIX" || { not_ok "topology"; finish; }
topo_gw_masquerade $CT_TIMEOUT || { not_ok "masquerade on the gateway"; finish; }
check "agent starts on the gateway's server-facing interface" agent_start --iface g1

declare -A CLI_PID NAT_LOCAL WFD

# pair TAG SRV PORT [IDLE INTVL CNT]: a server on SRV:PORT, the device
# connected to it (with SO_KEEPALIVE if IDLE INTVL CNT), one line exchanged
# (as tcp_pair, with the client's pid kept: killing it is the device closing
# its connection, FIN). NAT_LOCAL[TAG]: the device as the server sees it, the
# tuple on g1; WFD[TAG]: the client's stdin.
pair() {
	local tag=$1 srv=$2 port=$3 w
	shift 3
	mkfifo "$WORK/$tag.in"
	nsenter --net=/run/netns/"$TOPO_SRV" "$TCPKIT" server "$srv" "$port" >"$WORK/$tag.srv" 2>&1 &
	wait_for 5 grep -qs listening "$WORK/$tag.srv" || return 1
	nsenter --net=/run/netns/"$TOPO_DEV" "$TCPKIT" client "$srv" "$port" "$@" \
		<"$WORK/$tag.in" >"$WORK/$tag.cli" 2>&1 &
	CLI_PID[$tag]=$!
	exec {w}>"$WORK/$tag.in"
	WFD[$tag]=$w
	wait_for 5 grep -qs connected "$WORK/$tag.cli" || return 1
	echo hello >&"$w"
	wait_for 5 grep -q "recv hello" "$WORK/$tag.srv" || return 1
	NAT_LOCAL[$tag]=$(sed -n 's/^accepted //p' "$WORK/$tag.srv")
}
say() { echo "$2" >&"${WFD[$1]}"; }
arrived() { wait_for "${3:-5}" grep -q "recv $2" "$WORK/$1.srv"; }
not_arrived() { ! grep -q "recv $2" "$WORK/$1.srv"; }
# The device closes: its client exits, its kernel sends the FIN.
close_flow() { kill "${CLI_PID[$1]}" && wait "${CLI_PID[$1]}" 2>/dev/null; exec {WFD[$1]}>&-; true; }

# session TAG: the session of a flow in tko list --json (empty if none).
session() { tko list --json | grep -F "\"local\":\"${NAT_LOCAL[$1]}\""; }
field() { session "$1" | sed -n "s/.*\"$2\":\"\\{0,1\\}\([a-z0-9_]*\).*/\1/p"; }
no_session() { [ -z "$(session "$1")" ]; }
active() { [ "$(field "$1" state)" = active ]; }
listed_active() {	# the table of tko list, as a user reads it
	tko list | awk -v l="${NAT_LOCAL[$1]}" '$1 == l && $3 == "active" { f = 1 } END { exit !f }'
}
# event TYPE TAG REASONS: an event of the flow, its reason one of REASONS (a|b).
event() {
	tko events | awk -v t="$1" -v l="${NAT_LOCAL[$2]}" -v r="^reason=($3)\$" \
		'$1 == t && $2 == l && $5 ~ r { f = 1 } END { exit !f }'
}
# resumed_after_suspended TAG: the flow's session re-armed after a suspension.
resumed_after_suspended() {
	tko events | awk -v l="${NAT_LOCAL[$1]}" '$2 != l { next }
		$1 == "suspended" { s = 1 } $1 == "resumed" && s && $5 == "reason=idle" { f = 1 }
		END { exit !f }'
}
no_event() { ! tko events | awk -v l="${NAT_LOCAL[$1]}" '$2 == l { f = 1 } END { exit !f }'; }
untracked() { no_session "$1" && no_event "$1"; }
answered() { local n; n=$(field "$1" probes_answered); [ -n "$n" ] && [ "$n" -ge "$2" ]; }
# policy_count ID sessions|created
policy_count() {
	tko policy list --json | grep "^,\{0,1\}{\"id\":$1," | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}
policy_holds() { [ "$(policy_count "$1" sessions)" = "$2" ]; }
counter() { tko stats | awk -v n="$1" '$1 == n { print $2 }'; }
# ct_line FAMILY PORT: the gateway's conntrack entry of the flow to PORT.
ct_line() { in_gw conntrack -L -f "$1" -p tcp --orig-port-dst "$2" 2>/dev/null | grep "dport=$2 "; }
ct_established() { ct_line "$1" "$2" | grep -q ESTABLISHED; }
ct_gone() { [ -z "$(ct_line "$1" "$2")" ]; }
srv_nstat() { ip netns exec "$TOPO_SRV" nstat -asz "$1" | awk -v k="$1" '$1 == k { print $2 }'; }

# --- one policy, before the device connects -------------------------------------
ip netns exec "$TOPO_SRV" tshark -i s0 -f "tcp port $P_FWD" -w "$WORK/fwd.pcapng" -q \
	2>"$WORK/tshark.err" &
TSHARK=$!
wait_for 10 grep -qs "Capturing on" "$WORK/tshark.err" || not_ok "capture starts"
csum0=$(srv_nstat TcpInCsumErrors)

check "policy add --forwarded --remote-port $P_FWD" \
	tko policy add --forwarded --remote-port $P_FWD --idle 1 --interval $INTERVAL >/dev/null
check "policy list: forwarded, any local, remote port $P_FWD, no session yet" \
	bash -c "'$TKO' policy list --pin-dir '$PIN' |
		 grep -qE '^1 +forwarded +0 +any +0 +any +$P_FWD +1 +$INTERVAL .* 0\$'"

for fam in v4 v6; do
	if [ $fam = v4 ]; then srv=$TOPO_V4_SRV gw=$GW4; else srv=$TOPO_V6_SRV gw="[$GW6]"; fi
	pair fwd$fam "$srv" $P_FWD || not_ok "$fam: matching flow connected"
	pair ctl$fam "$srv" $P_CTL || not_ok "$fam: control flow connected"
	check "$fam: the server sees the device as the gateway (${NAT_LOCAL[fwd$fam]})" \
		test "${NAT_LOCAL[fwd$fam]%:*}" = "$gw"
done
for fam in v4 v6; do
	check "$fam: the matching flow became a session by itself (started reason=policy)" \
		wait_for 5 event started fwd$fam policy
	check "$fam: offloaded after --idle: tko list shows it active" \
		wait_for 5 listed_active fwd$fam
	check "$fam: offloaded event" event offloaded fwd$fam idle
	check "$fam: the control flow (port $P_CTL) is no session" no_session ctl$fam
done
check "policy list: the policy holds both sessions" policy_holds 1 2
check "tko stats: policy_flows 2" test "$(counter policy_flows)" = 2

note "the device sleeps ${SLEEP_S} s"
topo_device_sleep
sleep $SLEEP_S
for fam in v4 v6; do
	f=${fam/v/ipv}
	check "$fam: tko's probes were answered while the device slept (probes_answered $(field fwd$fam probes_answered))" \
		answered fwd$fam $((SLEEP_S / INTERVAL - 2))
	check "$fam: the gateway still holds the matching flow" ct_established $f $P_FWD
	check "$fam: the gateway forgot the control flow" ct_gone $f $P_CTL
done
topo_device_wake
for fam in v4 v6; do say fwd$fam after-sleep; say ctl$fam after-sleep; done
for fam in v4 v6; do
	check "$fam: the device's data after waking arrives" arrived fwd$fam after-sleep
	check "$fam: the data suspended the session" wait_for 5 event suspended fwd$fam data_local
	check "$fam: re-armed once idle again (resumed, after suspended)" \
		wait_for 5 resumed_after_suspended fwd$fam
done
sleep 2	# the control's data (and its retransmissions) would have arrived by now
for fam in v4 v6; do
	check "$fam: control: the device's data after waking is lost" not_arrived ctl$fam after-sleep
done

# --- the flow ends ---------------------------------------------------------------
flows=$(counter policy_flows)
close_flow fwdv4
check "v4: the server sees the device close" wait_for 5 grep -q eof "$WORK/fwdv4.srv"
check "v4: the FIN ended the session (invalidated)" \
	wait_for 5 event invalidated fwdv4 fin_local
probes_sent=$(tko events | awk -v l="${NAT_LOCAL[fwdv4]}" \
	'$1 == "invalidated" && $2 == l { split($7, a, "[=/]"); print a[2] }')
check "v4: gone from tko list" no_session fwdv4
check "policy list: the policy holds the IPv6 session only" policy_holds 1 1
note "the flow's last segments pass (the server's FIN, the device's last ACK); 3 s"
sleep 3
check "v4: the flow's last segments did not make it a session again" no_session fwdv4
check "v4: ... nor counted a new one (policy_flows $flows)" test "$(counter policy_flows)" = "$flows"
close_flow fwdv6
check "v6: the FIN ended the session (invalidated)" \
	wait_for 5 event invalidated fwdv6 fin_local
check "policy list: the policy holds no session, it created 2" \
	bash -c "'$TKO' policy list --json --pin-dir '$PIN' | grep -q '\"id\":1,.*\"sessions\":0,\"created\":2}'"

# --- on the wire ------------------------------------------------------------------
sleep 0.5
kill -INT $TSHARK	# INT: tshark flushes the file
wait $TSHARK 2>/dev/null
# Forged: from the gateway's address with TTL 64 (the device's own segments
# are routed by the gateway: TTL 63).
v4f="ip.src==$GW4 && ip.ttl==64" v6f="ipv6.src==$GW6 && ipv6.hlim==64"
forged4=$(tshark -r "$WORK/fwd.pcapng" -Y "$v4f" 2>/dev/null | wc -l)
ka4=$(tshark -r "$WORK/fwd.pcapng" -Y "$v4f && tcp.analysis.keep_alive" 2>/dev/null | wc -l)
forged=$(tshark -r "$WORK/fwd.pcapng" -Y "($v4f) || ($v6f)" 2>/dev/null | wc -l)
ka=$(tshark -r "$WORK/fwd.pcapng" -Y "(($v4f) || ($v6f)) && tcp.analysis.keep_alive" 2>/dev/null | wc -l)
ip_good=$(tshark -r "$WORK/fwd.pcapng" -o ip.check_checksum:TRUE \
	-Y "$v4f && ip.checksum.status==1" 2>/dev/null | wc -l)
csum=$("$(dirname "$0")/tcp_csum.py" "$WORK/fwd.pcapng" "($v4f) || ($v6f)")
read -r _ _ _ _ _ bad <<<"$csum"
note "on the wire: $forged forged segments ($forged4 IPv4), $ka TCP Keep-Alives; TCP checksums: $csum; tko counted $probes_sent IPv4 probes"
check "wire: tshark sees tko's probes" test "$ka4" -ge $((SLEEP_S / INTERVAL - 2))
check "wire: every forged segment is a TCP Keep-Alive" test "$ka" -eq "$forged"
check "wire: as many IPv4 probes as tko counted ($probes_sent)" test "$forged4" -eq "$probes_sent"
check "wire: every forged IPv4 segment has a good IP checksum" test "$ip_good" -eq "$forged4"
check "wire: no forged segment has a wrong TCP checksum" test "$bad" -eq 0
# The device's own segments of the IPv4 flow (routed: TTL 63), the last ones:
# its FIN, then its ACK of the server's FIN, which did cross g1 after the
# session ended.
last=$(tshark -r "$WORK/fwd.pcapng" -Y "ip.src==$GW4 && ip.ttl==63" -T fields \
	-e tcp.flags.fin -e tcp.flags.ack -e tcp.len 2>/dev/null | tail -2 | tr '\t\n' ', ')
note "the device's last two IPv4 segments (fin,ack,len): $last"
check "wire: the device's FIN, then its last ACK crossed g1" \
	test "$last" = "1,1,0 0,1,0 "
check "wire: the server's kernel counted no checksum error (nstat TcpInCsumErrors)" \
	test "$(srv_nstat TcpInCsumErrors)" -eq "$csum0"

# --- flows that existed before the policy; flows no policy matches ----------------
pair pre "$TOPO_V4_SRV" $P_PRE || not_ok "a flow on port $P_PRE connected"
pair other "$TOPO_V4_SRV" $P_OTHER || not_ok "a flow on port $P_OTHER connected"
pair prenat "$TOPO_V4_SRV" $P_PRENAT || not_ok "a flow on port $P_PRENAT connected"
# The device's kernel probes this one every second (SO_KEEPALIVE 1 s, gives
# up after 3 unanswered): idle, its next segment is one of those.
pair ka "$TOPO_V4_SRV" $P_KA 1 1 3 || not_ok "a flow on port $P_KA (SO_KEEPALIVE) connected"
# Each flow's conntrack entry fresh (the gateway forgets it after CT_TIMEOUT
# idle: setting up four flows takes seconds under emulation, tests/vm).
for t in pre other prenat; do say $t w; done
for t in pre other prenat; do arrived $t w || not_ok "before the policies: the data of flow $t arrives"; done
check "before policy 2: the flow on port $P_PRE is no session" no_session pre
check "policy add --forwarded --local $GW4/32 --remote-port $P_PRE" \
	tko policy add --forwarded --local $GW4/32 --remote-port $P_PRE --idle 1 \
	--interval $INTERVAL >/dev/null
DEV_NET=${TOPO_V4_DEV%.*}.0/24
check "policy add --forwarded --local $DEV_NET --remote-port $P_PRENAT (the device before the NAT)" \
	tko policy add --forwarded --local $DEV_NET --remote-port $P_PRENAT --idle 1 \
	--interval $INTERVAL >/dev/null
check "policy list: the local prefixes" \
	bash -c "'$TKO' policy list --pin-dir '$PIN' | grep -qE '^2 +forwarded +0 +$GW4/32 +0 +any +$P_PRE ' &&
		 '$TKO' policy list --pin-dir '$PIN' | grep -qE '^3 +forwarded +0 +$DEV_NET +0 +any +$P_PRENAT '"
for t in pre other prenat; do say $t x; done
check "existing flow: a session from its first segment after the policy (started reason=policy)" \
	wait_for 5 event started pre policy
check "existing flow: active after --idle" wait_for 5 active pre
check "existing flow: its probes are answered" wait_for $((INTERVAL + 3)) answered pre 1
check "policy list: policy 2 holds it" policy_holds 2 1
for t in other prenat; do say $t y; done
check "port $P_OTHER: its data arrives" arrived other y
check "port $P_PRENAT: its data arrives" arrived prenat y
sleep 1.5	# longer than --idle: a session would be active by now
check "another port ($P_OTHER): never a session, no event" untracked other
check "a --local prefix of the device's address before the NAT: never a session, no event" \
	untracked prenat
check "policy list: policy 3 created none" test "$(policy_count 3 created)" = 0

# An idle flow whose first segment after the policy is the device's keepalive.
check "policy add --forwarded --remote-port $P_KA --retries 2 --retry-interval 1" \
	tko policy add --forwarded --remote-port $P_KA --idle 1 --interval 1 --retries 2 \
	--retry-interval 1 >/dev/null
check "keepalive flow: a session from the device's keepalive (started reason=policy)" \
	wait_for 5 event started ka policy
check "keepalive flow: tko's probes are answered" wait_for 6 answered ka 2
no_peer_dead() { ! event peer_dead "$1" '[a-z_]+'; }
check "keepalive flow: the server is not declared dead" no_peer_dead ka
check "keepalive flow: the device's own keepalives still work" \
	bash -c "! grep -q error '$WORK/ka.cli'"

# --- policy del -----------------------------------------------------------------
check "policy del 1" tko policy del 1 >/dev/null
check "policy list: policy 1 is gone" \
	bash -c "! '$TKO' policy list --pin-dir '$PIN' | grep -qE '^1 '"
flows=$(counter policy_flows)
pair after "$TOPO_V4_SRV" $P_FWD || not_ok "a new flow on port $P_FWD connected"
say after z
arrived after z
sleep 1.5	# longer than --idle
check "after policy del: a new flow on port $P_FWD is no session, no event" untracked after
check "after policy del: policy_flows did not grow ($flows)" test "$(counter policy_flows)" = "$flows"
check "the session of policy 2 runs on" active pre

check "agent exits cleanly on SIGTERM" agent_stop
finish
