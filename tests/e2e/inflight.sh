#!/usr/bin/env bash
# Data in flight: the device's last segment is lost past the gateway, and the
# device falls asleep before it can retransmit it.
#
# A device behind the gateway (tko agent on g1) holds TCP flows to a live
# server; tko keeps each (`tko start ... --idle 2 --interval 1 --retries 3`).
# On the "lost" flows the device's last segment, one byte "X", crosses the
# gateway (tko's TC egress on g1 sees it) and is dropped in the server's
# namespace (an nft rule that drops exactly that one segment, removed right
# after), and the device's link goes down at once: its retransmissions never
# leave. The server never got the byte and never acknowledged it: SND.UNA !=
# SND.NXT. A keepalive at SND.NXT - 1 is then the lost byte's own sequence
# number: a byte probe writes its byte into the stream in place of "X" (the
# server accepts it as new data, and discards the device's real "X" later as
# a duplicate); a zero-length probe is an acceptable segment at RCV.NXT that
# a live server does not answer, so tko would call it dead. DESIGN.md: a
# session with data in flight is not idle, it never goes ACTIVE.
# The device sleeps SLEEP_S s, well past idle + retries * retry interval;
# then it wakes, its kernel retransmits "X", and more data follows. Expected,
# for --probe zero and --probe byte, in IPv4 and IPv6:
#  - the server's application receives exactly the device's bytes, in order
#    ("hello\n", "X", "more\n"): never a NUL or anything tko wrote;
#  - no peer_dead for the live server (event, state);
#  - while the byte is in flight the session does not go ACTIVE: tko says
#    so with an event `waiting ... reason=in_flight`;
#  - on the wire (server side): no forged segment (from the device's
#    address with TTL 64; the device's own segments are routed by the
#    gateway: TTL 63) carries payload the server had not received (beyond
#    the server's highest ACK so far), every forged segment has correct IP
#    and TCP checksums.
# Control, at the same time and on the same device: the same flows whose
# "X" is acknowledged before the device sleeps go ACTIVE again after idle
# and tko's probes are answered while the device sleeps.
# The server and the device run nothing of tko's.
. "$(dirname "$0")/lib.sh"

IDLE=2 RETRIES=3
SLEEP_S=10	# s asleep: idle + retries * retry interval is 5 s
OPTS=(--idle "$IDLE" --interval 1 --retry-interval 1 --retries "$RETRIES")
BASE_PORT=7000
EXPECTED='hello\x0aXmore\x0a'	# the stream the device sends, as tcpkit bytes prints it

note "topology $PREFIX-{dev,gw,srv}"
topo_up "$PREFIX" || { not_ok "topology"; finish; }
# The device's retransmission timer backs off while it sleeps (0.2, 0.4, 0.8
# ... s): capped at 1 s (Linux 6.15+), "X" is retransmitted within a second
# of waking. Without the cap the next one may be up to ~15 s away.
if ip netns exec "$TOPO_DEV" sysctl -qw net.ipv4.tcp_rto_max_ms=1000 2>/dev/null; then
	RTO_WAIT=5
else
	RTO_WAIT=30
	note "no net.ipv4.tcp_rto_max_ms: waiting up to $RTO_WAIT s for the device's retransmission"
fi
check "agent starts on the gateway's server-facing interface" agent_start --iface g1

# The flows: FAMILY-PROBE-KIND, KIND lost (its "X" is lost) or ctl (control).
FLOWS=()
declare -A PORT LOCAL REMOTE WFD SEQX ACT0
i=1
for fam in v4 v6; do
	for probe in zero byte; do
		for kind in lost ctl; do
			f=$fam-$probe-$kind
			FLOWS+=("$f")
			PORT[$f]=$((BASE_PORT + i))
			i=$((i + 1))
		done
	done
done
of_kind() { local f; for f in "${FLOWS[@]}"; do [[ $f == *-$1 ]] && echo "$f"; done; }
mapfile -t LOST < <(of_kind lost)
mapfile -t CTL < <(of_kind ctl)

fam_of() { echo "${1%%-*}"; }
probe_of() { local r=${1#*-}; echo "${r%-*}"; }
srv_addr() { if [ "$(fam_of "$1")" = v4 ]; then echo "$TOPO_V4_SRV"; else echo "$TOPO_V6_SRV"; fi; }

# pair FLOW: a tcpkit bytes server (byte-exact: a NUL shows as \x00) and the
# device connected to it; WFD: the client's stdin, kept open (no FIN).
pair() {
	local f=$1 srv port=${PORT[$1]} w
	srv=$(srv_addr "$f")
	mkfifo "$WORK/$f.in"
	ip netns exec "$TOPO_SRV" "$TCPKIT" bytes "$srv" "$port" >"$WORK/$f.srv" 2>&1 &
	wait_for 5 grep -qs listening "$WORK/$f.srv" || return 1
	ip netns exec "$TOPO_DEV" "$TCPKIT" client "$srv" "$port" \
		<"$WORK/$f.in" >"$WORK/$f.cli" 2>&1 &
	exec {w}>"$WORK/$f.in"
	WFD[$f]=$w
	wait_for 5 grep -qs connected "$WORK/$f.cli" || return 1
	read -r _ "LOCAL[$f]" "REMOTE[$f]" <"$WORK/$f.cli"
}
start() { tko start "${LOCAL[$1]}" "${REMOTE[$1]}" "${OPTS[@]}" --probe "$(probe_of "$1")" >/dev/null; }
say() { printf '%s' "$2" >&"${WFD[$1]}"; }
# stream FLOW: what the server's application received, escaped.
stream() { sed -n 's/^data //p' "$WORK/$1.srv" | tr -d '\n'; }
stream_is() { [ "$(stream "$1")" = "$2" ]; }
stream_ends() { [[ $(stream "$1") == *"$2" ]]; }

session() { tko list --json | grep -F "\"local\":\"${LOCAL[$1]}\""; }
field() { session "$1" | sed -n "s/.*\"$2\":\"\\{0,1\\}\([a-z0-9_]*\).*/\1/p"; }
state_of() { local s; s=$(field "$1" state); echo "${s:-not listed}"; }
state_is() { [ "$(field "$1" state)" = "$2" ]; }
answered_at_least() { local n; n=$(field "$1" probes_answered); [ -n "$n" ] && [ "$n" -ge "$2" ]; }
# events_of FLOW: the flow's events, oldest first, "TYPE REASON" each.
events_of() { tko events | awk -v l="${LOCAL[$1]}" '$2 == l { sub(/^reason=/, "", $5); print $1, $5 }'; }
event() { events_of "$1" | grep -qx "$2 $3"; }
no_event() { ! events_of "$1" | grep -q "^$2 "; }
# activations FLOW: how many times the session went ACTIVE (offloaded, resumed).
activations() { events_of "$1" | grep -cE '^(offloaded|resumed) '; }
active_again() { [ "$(activations "$1")" -gt "${ACT0[$1]}" ]; }
not_state() { ! state_is "$1" "$2"; }
not_active_again() { not_state "$1" active && ! active_again "$1"; }
# device_acked FLOW: the device's socket has nothing unacknowledged.
device_acked() {
	local port=${PORT[$1]}
	! ip netns exec "$TOPO_DEV" ss -Htni state established "( dport = :$port )" | grep -q unacked
}

ip netns exec "$TOPO_SRV" tshark -i s0 -f "tcp portrange $((BASE_PORT + 1))-$((BASE_PORT + ${#FLOWS[@]}))" \
	-w "$WORK/srv.pcapng" -q 2>"$WORK/tshark.err" &
TSHARK=$!
wait_for 10 grep -qs "Capturing on" "$WORK/tshark.err" || not_ok "capture starts"

# --- the flows, kept by tko -----------------------------------------------------
for f in "${FLOWS[@]}"; do
	pair "$f" || { not_ok "$f: connected"; continue; }
	check "$f: tko start ${LOCAL[$f]} ${REMOTE[$f]} --probe $(probe_of "$f")" start "$f"
	say "$f" $'hello\n'	# tko learns the flow from it
done
for f in "${FLOWS[@]}"; do
	check "$f: the server receives hello" wait_for 5 stream_is "$f" 'hello\x0a'
	check "$f: active after --idle" wait_for $((IDLE + 5)) state_is "$f" active
done
for f in "${CTL[@]}"; do
	check "$f: control: tko's probes are answered" wait_for 4 answered_at_least "$f" 1
done

# --- control: "X", acknowledged before the device sleeps -------------------------
for f in "${FLOWS[@]}"; do ACT0[$f]=$(activations "$f"); done
for f in "${CTL[@]}"; do say "$f" X; done
for f in "${CTL[@]}"; do
	check "$f: control: the server receives X" wait_for 5 stream_is "$f" 'hello\x0aX'
	check "$f: control: the device's socket has X acknowledged" wait_for 5 device_acked "$f"
done

# --- lost: "X" crosses the gateway, is dropped before the server, the device sleeps
# tko's SND.NXT is the device's, learned from its segments: "X" goes there.
# Dropped in the server's namespace: the device's own data segment (routed:
# TTL 63; PSH: not a pure ACK) at that sequence number, once (then its port
# is in @dropped). tko's forged segments (TTL 64) are never touched.
rules="" counters=""
for f in "${LOST[@]}"; do
	SEQX[$f]=$(field "$f" snd_nxt)
	if [ "$(fam_of "$f")" = v4 ]; then
		from="ip saddr $TOPO_V4_DEV ip ttl 63"
	else
		from="ip6 saddr $TOPO_V6_DEV ip6 hoplimit 63"
	fi
	rules+="		$from tcp dport ${PORT[$f]} tcp sequence ${SEQX[$f]} tcp flags & psh == psh tcp sport != @dropped add @dropped { tcp sport } counter name c${PORT[$f]} drop
"
	counters+="	counter c${PORT[$f]} {}
"
done
ip netns exec "$TOPO_SRV" nft -f - <<NFT || not_ok "nft: the rule that loses X"
table inet tko_inflight {
	set dropped { type inet_service; flags dynamic; }
$counters	chain lose {
		type filter hook prerouting priority raw; policy accept;
$rules	}
}
NFT
for f in "${LOST[@]}"; do say "$f" X; done
# As soon as every "X" left: the first retransmission would come ~200 ms later.
for _ in $(seq 200); do
	n=0
	for f in "${LOST[@]}"; do grep -q "sent X" "$WORK/$f.cli" && n=$((n + 1)); done
	[ $n -eq ${#LOST[@]} ] && break
	sleep 0.005
done
topo_device_sleep
SLEPT=$SECONDS
note "the device sleeps ${SLEEP_S} s; its last segment is lost on ${LOST[*]}"
dropped() { ip netns exec "$TOPO_SRV" nft list counter inet tko_inflight "c${PORT[$1]}" | grep -q "packets 1 "; }
for f in "${LOST[@]}"; do
	check "$f: X (seq ${SEQX[$f]}) crossed the gateway and was dropped, once" wait_for 2 dropped "$f"
done
ip netns exec "$TOPO_SRV" nft delete table inet tko_inflight
for f in "${LOST[@]}"; do
	check "$f: the server did not receive X" stream_is "$f" 'hello\x0a'
done

left=$((SLEEP_S - (SECONDS - SLEPT)))
[ $left -gt 0 ] && sleep $left
for f in "${LOST[@]}"; do
	note "$f: events: $(events_of "$f" | paste -sd, -)"
	check "$f: tko never declared the live server dead (no peer_dead event)" no_event "$f" peer_dead
	check "$f: the session is not in state peer_dead ($(state_of "$f"))" \
		not_state "$f" peer_dead
	check "$f: with X in flight the session did not go ACTIVE again ($(state_of "$f"))" \
		not_active_again "$f"
	check "$f: tko reports waiting reason=in_flight" event "$f" waiting in_flight
done
for f in "${CTL[@]}"; do
	check "$f: control: the data suspended the session" event "$f" suspended data_local
	check "$f: control: it went ACTIVE again after --idle (resumed)" active_again "$f"
	check "$f: control: tko's probes were answered while the device slept ($(field "$f" probes_answered))" \
		answered_at_least "$f" $((SLEEP_S - IDLE - 2))
	check "$f: control: no peer_dead" no_event "$f" peer_dead
done

# --- the device wakes: its kernel retransmits X, more data follows ---------------
topo_device_wake
for f in "${FLOWS[@]}"; do say "$f" $'more\n'; done
for f in "${FLOWS[@]}"; do
	# Nagle holds "more" until X is acknowledged: it ends the stream last.
	wait_for $RTO_WAIT stream_ends "$f" 'more\x0a' || not_ok "$f: the data after waking arrives"
	check "$f: the server's application received exactly the device's bytes ($(stream "$f"))" \
		stream_is "$f" "$EXPECTED"
done
for f in "${LOST[@]}"; do
	check "$f: ... never a NUL byte" bash -c "! grep -qF '\\x00' '$WORK/$f.srv'"
done
for f in "${FLOWS[@]}"; do
	check "$f: the device's connection is still up" bash -c "! grep -q error '$WORK/$f.cli'"
done

# --- on the wire (the server's s0) -----------------------------------------------
sleep 0.5	# the last segments reach the capture
kill -INT $TSHARK	# INT: tshark flushes the file
wait $TSHARK 2>/dev/null
CAP=$WORK/srv.pcapng
for f in "${FLOWS[@]}"; do
	port=${PORT[$f]}
	if [ "$(fam_of "$f")" = v4 ]; then
		forged="tcp.port==$port && ip.src==$TOPO_V4_DEV && ip.ttl==64"
		own="tcp.port==$port && ip.src==$TOPO_V4_DEV && ip.ttl==63"
	else
		forged="tcp.port==$port && ipv6.src==$TOPO_V6_DEV && ipv6.hlim==64"
		own="tcp.port==$port && ipv6.src==$TOPO_V6_DEV && ipv6.hlim==63"
	fi
	n=$(tshark -r "$CAP" -Y "$forged" 2>/dev/null | wc -l)
	with_payload=$(tshark -r "$CAP" -Y "$forged && tcp.len > 0" 2>/dev/null | wc -l)
	ip_good=$(tshark -r "$CAP" -o ip.check_checksum:TRUE \
		-Y "$forged && (ipv6 || ip.checksum.status==1)" 2>/dev/null | wc -l)
	csum=$("$(dirname "$0")/tcp_csum.py" "$CAP" "$forged")
	read -r _ _ _ _ _ bad <<<"$csum"
	# Each forged segment with payload against the server's highest ACK so
	# far (relative sequence numbers: both count from the device's ISN).
	beyond=$(tshark -r "$CAP" -Y "tcp.port==$port && (($forged) || tcp.srcport==$port)" \
		-T fields -E separator=, -e frame.number -e tcp.srcport -e tcp.seq -e tcp.len \
		-e tcp.ack 2>/dev/null |
		awk -F, -v p="$port" '$2 == p { if ($5 > acked) acked = $5; next }
			$4 > 0 && $3 + $4 > acked { printf "%sframe %s: seq %s len %s, the server had acked %s",
				n++ ? "; " : "", $1, $3, $4, acked }')
	note "$f: wire: $n forged segments, $with_payload with payload; TCP checksums: $csum"
	check "$f: wire: tko's segments are on the wire" test "$n" -gt 0
	check "$f: wire: no forged segment carries payload the server had not received${beyond:+: $beyond}" \
		test -z "$beyond"
	check "$f: wire: every forged segment has a good IP checksum" test "$ip_good" -eq "$n"
	check "$f: wire: no forged segment has a wrong TCP checksum" test "$bad" -eq 0
	if [[ $f == *-lost ]]; then
		xs=$(tshark -r "$CAP" -Y "$own && tcp.len > 0 && tcp.seq_raw == ${SEQX[$f]}" 2>/dev/null | wc -l)
		check "$f: wire: the device sent X again after waking ($xs times in all)" \
			test "$xs" -ge 2
	fi
done

check "agent exits cleanly on SIGTERM" agent_stop
finish
