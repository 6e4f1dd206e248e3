#!/usr/bin/env bash
# A real OpenSSH sshd whose TCP keepalive is stricter than tko's own probes,
# and a device that sleeps through it: only tko's answers can save the session.
#
# The server's kernel probes an idle connection after 2 s and gives it up
# after 3 unanswered probes 1 s apart (sshd TCPKeepAlive yes; the server
# namespace's tcp_keepalive_time 2, intvl 1, probes 3: ~5 s). tko's own
# probes come every 30 s, too late to matter. The device (an ssh client
# whose remote command writes what it receives into a file) sleeps 15 s.
#  - with tko on the gateway, the server's probes are answered (from TC
#    ingress: the server's veth runs nothing of ours), the server keeps the
#    session, and a line sent after waking arrives;
#  - without tko answering, the server's kernel times the session out
#    (nstat TcpExtTCPAbortOnTimeout) and the line is lost.
# On the wire (tshark in the server namespace): as many answers as tko
# counted, each a "TCP Keep-Alive ACK" with an IP checksum and a TCP checksum
# that are right (or the TCP pseudo-header sum of CHECKSUM_PARTIAL), and no
# checksum error in the server's kernel.
. "$(dirname "$0")/lib.sh"

SSHD=/usr/sbin/sshd
SSH_PORT=2222
SLEEP_S=15
SRV=$TOPO_V4_SRV

if ! test -x "$SSHD" -a -x /usr/bin/ssh; then
	not_ok "OpenSSH's sshd and ssh are installed (make deps)"
	finish
fi
note "topology $PREFIX-{dev,gw,srv}"
topo_up "$PREFIX" || { not_ok "topology"; finish; }
ip netns exec "$TOPO_SRV" sysctl -qw net.ipv4.tcp_keepalive_time=2 \
	net.ipv4.tcp_keepalive_intvl=1 net.ipv4.tcp_keepalive_probes=3
check "agent starts on the gateway" agent_start --iface g1

# sshd's privilege separation directory; removed again if we made it.
RUN_SSHD_MADE=
[ -d /run/sshd ] || { mkdir -m 0755 /run/sshd && RUN_SSHD_MADE=1; }
trap 'cleanup; [ -n "$RUN_SSHD_MADE" ] && rmdir /run/sshd 2>/dev/null' EXIT

ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/id"
cp "$WORK/id.pub" "$WORK/authorized_keys"
cat >"$WORK/sshd_config" <<EOF
ListenAddress $SRV:$SSH_PORT
HostKey $WORK/host_key
PidFile $WORK/sshd.pid
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
# The server's keepalive is the kernel's (SO_KEEPALIVE); nothing at the
# SSH layer (its messages would be data, which tko does not forge).
TCPKeepAlive yes
ClientAliveInterval 0
LogLevel VERBOSE
EOF
ip netns exec "$TOPO_SRV" "$SSHD" -D -e -f "$WORK/sshd_config" >"$WORK/sshd.log" 2>&1 &
check "sshd listens in the server namespace" \
	wait_for 5 grep -q "Server listening on $SRV port $SSH_PORT" "$WORK/sshd.log"

in_dev() { nsenter --net=/run/netns/"$TOPO_DEV" "$@"; }
stat() { tko stats | awk -v k="$1" '$1 == k { print $2 }'; }
srv_nstat() { ip netns exec "$TOPO_SRV" nstat -asz "$1" | awk -v k="$1" '$1 == k { print $2 }'; }
answered() { tko list --json | grep "\"local\":\"$1\"" |
	     sed -n 's/.*"peer_probes_answered":\([0-9]*\).*/\1/p'; }
session_active() { tko list --json | grep -q "\"local\":\"$1\".*\"state\":\"active\""; }

# ssh_session TAG: an ssh session from the device whose remote command
# appends what it receives to $WORK/TAG.recv; one line through it. Sets
# LOCAL REMOTE (the connection, as the device sees it) and W (its stdin);
# ssh's exit status goes to $WORK/TAG.rc when it ends.
ssh_session() {
	local tag=$1 before
	mkfifo "$WORK/$tag.in"
	: >"$WORK/$tag.recv"
	before=$(in_dev ss -Htn state established "( dport = :$SSH_PORT )" | awk '{ print $3 }')
	{
		in_dev ssh -F /dev/null -p $SSH_PORT -i "$WORK/id" -o BatchMode=yes \
			-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
			-o LogLevel=ERROR -o TCPKeepAlive=no -o ServerAliveInterval=0 \
			root@$SRV "cat >>'$WORK/$tag.recv'" \
			<"$WORK/$tag.in" >"$WORK/$tag.out" 2>"$WORK/$tag.err"
		echo $? >"$WORK/$tag.rc"
	} &
	exec {W}>"$WORK/$tag.in"
	echo hello >&$W
	wait_for 10 grep -q hello "$WORK/$tag.recv" || return 1
	LOCAL=$(in_dev ss -Htn state established "( dport = :$SSH_PORT )" | awk '{ print $3 }' |
		grep -vxF "$before" | head -1)
	REMOTE=$SRV:$SSH_PORT
	[ -n "$LOCAL" ]
}
# ssh_status TAG: the exit status of ssh_session TAG's ssh, once it ended.
ssh_status() { wait_for 5 test -s "$WORK/$1.rc" && cat "$WORK/$1.rc"; }

ip netns exec "$TOPO_SRV" tshark -i s0 -f "tcp port $SSH_PORT" -w "$WORK/srv.pcapng" -q \
	2>"$WORK/tshark.err" &
TSHARK=$!
wait_for 10 grep -qs "Capturing on" "$WORK/tshark.err" || not_ok "capture starts"

# --- with tko ------------------------------------------------------------------
check "with tko: an ssh session through the gateway" ssh_session with
note "with tko: $LOCAL -> $REMOTE"
WITH_LOCAL=$LOCAL
check "with tko: tko start, probing every 30 s (the server gives up after ~5 s)" \
	tko start "$LOCAL" "$REMOTE" --idle 1 --interval 30 --retry-interval 30
echo ping >&$W		# one exchange: tko learns the state from it
check "with tko: session active" wait_for 10 session_active "$LOCAL"
ka0=$(srv_nstat TcpExtTCPKeepAlive) abort0=$(srv_nstat TcpExtTCPAbortOnTimeout)
csum0=$(srv_nstat TcpInCsumErrors)
topo_device_sleep
note "with tko: device asleep for ${SLEEP_S}s"
sleep $SLEEP_S
ka=$(($(srv_nstat TcpExtTCPKeepAlive) - ka0))
n=$(answered "$LOCAL")
note "with tko: the server's kernel sent $ka keepalive probes, tko answered $n"
check "with tko: the server probed (at least 5 probes in ${SLEEP_S}s)" test "$ka" -ge 5
check "with tko: tko answered every probe but the last, maybe in flight" \
	test "${n:-0}" -ge $((ka - 1))
check "with tko: the server did not time the session out" \
	test "$(srv_nstat TcpExtTCPAbortOnTimeout)" -eq "$abort0"
topo_device_wake
echo after-sleep >&$W
check "with tko: the line sent after waking arrives through sshd" \
	wait_for 5 grep -q after-sleep "$WORK/with.recv"
check "with tko: ssh is still connected" bash -c "! grep -q . '$WORK/with.err'"
counted=$(answered "$LOCAL")
tko stop "$LOCAL" "$REMOTE" >/dev/null
exec {W}>&-		# end of input: ssh closes the session
# ssh sends its SSH_MSG_DISCONNECT ("disconnected by user") only once the
# session channel is closed both ways (the server's exit-status, EOF and
# CLOSE reached it), and sshd logs receiving it whatever the timing. Not
# "Close session": OpenSSH 9.2's sshd logs that only if it collects the
# closed channel between reading the client's CHANNEL_CLOSE and its
# DISCONNECT. ssh sends the two some tens of microseconds apart; when one
# read() gets both, the DISCONNECT ends sshd's privsep child first and its
# do_cleanup() closes no session, so the line never comes. That race is
# sshd's own: with no tko, gateway or sleep, sshd logged "Close session"
# for 12 of 40 sessions ended this way, "Received disconnect" for all 40.
check "with tko: the session ends when the client is done" \
	wait_for 15 grep -q "Received disconnect from ${LOCAL%:*} port ${LOCAL##*:}:11: disconnected by user" "$WORK/sshd.log"
check "with tko: ssh exits 0 (the remote command's exit status came back)" \
	test "$(ssh_status with)" = 0
check "with tko: sshd never saw it time out" \
	bash -c "! grep -q 'port ${LOCAL##*:}: Connection timed out' '$WORK/sshd.log'"

# --- without tko answering -------------------------------------------------------
check "without tko: an ssh session through the gateway" ssh_session without
sleep 1
abort0=$(srv_nstat TcpExtTCPAbortOnTimeout)
topo_device_sleep
note "without tko: device asleep for ${SLEEP_S}s"
sleep $SLEEP_S
check "without tko: the server's kernel timed the session out (TcpExtTCPAbortOnTimeout)" \
	test "$(srv_nstat TcpExtTCPAbortOnTimeout)" -gt "$abort0"
topo_device_wake
echo after-sleep >&$W
sleep 3		# what the line took with tko, several times over
check "without tko: the line sent after waking is lost" \
	bash -c "! grep -q after-sleep '$WORK/without.recv'"
check "without tko: sshd logged the timeout" \
	grep -q "Read error from remote host ${LOCAL%:*} port ${LOCAL##*:}: Connection timed out" \
	"$WORK/sshd.log"

sleep 0.5
kill -INT $TSHARK; wait $TSHARK 2>/dev/null

# --- on the wire -------------------------------------------------------------------
forged="ip.src==$TOPO_V4_DEV && ip.ttl==64 && tcp.srcport==${WITH_LOCAL##*:}"
acks=$(tshark -r "$WORK/srv.pcapng" -Y "$forged && tcp.analysis.keep_alive_ack" 2>/dev/null | wc -l)
all=$(tshark -r "$WORK/srv.pcapng" -Y "$forged" 2>/dev/null | wc -l)
probes=$(tshark -r "$WORK/srv.pcapng" -Y "$forged && tcp.analysis.keep_alive" 2>/dev/null | wc -l)
ip_good=$(tshark -r "$WORK/srv.pcapng" -o ip.check_checksum:TRUE \
	-Y "$forged && ip.checksum.status==1" 2>/dev/null | wc -l)
csum=$("$(dirname "$0")/tcp_csum.py" "$WORK/srv.pcapng" "$forged")
read -r _ _ _ _ _ bad <<<"$csum"
note "on the wire: $all forged segments: $acks keep-alive ACKs, $probes keep-alives (tko's own); TCP checksums: $csum; capture: $(grep -E 'captured|dropped' "$WORK/tshark.err" | tr '\n' ' ')"
check "tshark: as many answers as tko counted ($counted)" test "$acks" -eq "${counted:-0}"
check "tshark: every forged segment is a TCP Keep-Alive ACK or tko's one probe" \
	test $((acks + probes)) -eq "$all"
check "tshark: every forged segment has a good IP checksum" test "$ip_good" -eq "$all"
check "tshark: no forged segment has a wrong TCP checksum" test "$bad" -eq 0
check "the server's kernel counted no checksum error (nstat TcpInCsumErrors)" \
	test "$(srv_nstat TcpInCsumErrors)" -eq "$csum0"
check "tko stats: the answers went out from TC ingress" \
	test "$(stat answers_tc)" -eq "$(stat peer_probes_answered)" -a "$(stat answers_xdp)" -eq 0

check "agent exits cleanly" agent_stop
finish
