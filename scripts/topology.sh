# shellcheck shell=bash
# The built-in topology of the demo and the end-to-end tests, sourced by both:
#
#   [dev] d0 ---- g0 [gw] g1 ---- s0 [srv]
#   device        gateway: tko     server
#                 agent on g1
#
# Addresses come from the benchmarking range 198.18.0.0/15 (RFC 2544) and a
# ULA prefix, and exist only inside these namespaces. Names carry a per-run
# prefix so that runs never collide; topo_down removes everything topo_up made.

TOPO_V4_DEV=198.18.1.2
TOPO_V4_GW_DEV=198.18.1.1
TOPO_V4_GW_SRV=198.19.2.1
TOPO_V4_SRV=198.19.2.2
TOPO_V6_DEV=fd74:6b6f:1::2
TOPO_V6_GW_DEV=fd74:6b6f:1::1
TOPO_V6_GW_SRV=fd74:6b6f:2::1
TOPO_V6_SRV=fd74:6b6f:2::2

# topo_up PREFIX: namespaces $PREFIX-dev, -gw, -srv. The peers run nothing:
# no XDP program anywhere but tko's own on the gateway.
topo_up() {
	local p=$1
	TOPO_DEV=$p-dev TOPO_GW=$p-gw TOPO_SRV=$p-srv
	local ns
	for ns in "$TOPO_DEV" "$TOPO_GW" "$TOPO_SRV"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		# Before the veths exist, so that they inherit it: no DAD delay, and
		# addresses that survive the device's link going down and up.
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.keep_addr_on_down=1
	done
	ip link add d0 netns "$TOPO_DEV" type veth peer name g0 netns "$TOPO_GW" || return 1
	ip link add g1 netns "$TOPO_GW" type veth peer name s0 netns "$TOPO_SRV" || return 1
	ip -n "$TOPO_DEV" addr add $TOPO_V4_DEV/24 dev d0
	ip -n "$TOPO_DEV" addr add $TOPO_V6_DEV/64 dev d0 nodad
	ip -n "$TOPO_GW" addr add $TOPO_V4_GW_DEV/24 dev g0
	ip -n "$TOPO_GW" addr add $TOPO_V6_GW_DEV/64 dev g0 nodad
	ip -n "$TOPO_GW" addr add $TOPO_V4_GW_SRV/24 dev g1
	ip -n "$TOPO_GW" addr add $TOPO_V6_GW_SRV/64 dev g1 nodad
	ip -n "$TOPO_SRV" addr add $TOPO_V4_SRV/24 dev s0
	ip -n "$TOPO_SRV" addr add $TOPO_V6_SRV/64 dev s0 nodad
	ip -n "$TOPO_DEV" link set d0 up
	ip -n "$TOPO_GW" link set g0 up
	ip -n "$TOPO_GW" link set g1 up
	ip -n "$TOPO_SRV" link set s0 up
	ip netns exec "$TOPO_GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	topo_device_routes
	# onlink: IPv6 installs the prefix route only once the carrier is seen,
	# which linkwatch reports asynchronously.
	ip -n "$TOPO_SRV" route add default via $TOPO_V4_GW_SRV dev s0 onlink
	ip -n "$TOPO_SRV" -6 route add default via $TOPO_V6_GW_SRV dev s0 onlink
}

topo_device_routes() {
	ip -n "$TOPO_DEV" route replace default via $TOPO_V4_GW_DEV dev d0 onlink
	ip -n "$TOPO_DEV" -6 route replace default via $TOPO_V6_GW_DEV dev d0 onlink
}

# The device "sleeps": its link goes down, nothing it owns answers.
topo_device_sleep() { ip -n "$TOPO_DEV" link set d0 down; }
topo_device_wake() { ip -n "$TOPO_DEV" link set d0 up && topo_device_routes; }

topo_down() {
	local ns
	for ns in "${TOPO_DEV:-}" "${TOPO_GW:-}" "${TOPO_NAT:-}" "${TOPO_SRV:-}"; do
		[ -n "$ns" ] || continue
		# Processes left in the namespace (servers, captures) go first.
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}

# topo_nat_up PREFIX IDLE_TIMEOUT_S: a carrier-grade NAT between
# the gateway and the server, with a short TCP idle timeout (IPv4):
#
#   [dev] d0 -- g0 [gw] g1 -- n0 [nat] n1 -- s0 [srv]
#                 tko agent      masquerade; a flow idle for IDLE_TIMEOUT_S
#                 on g1          is forgotten, and a non-SYN segment of an
#                                unknown flow is dropped
TOPO_V4_NAT_GW=198.19.2.2
TOPO_V4_NAT_OUT=198.19.3.1
TOPO_V4_NAT_SRV=198.19.3.2

topo_nat_up() {
	local p=$1 timeout=$2 ns
	TOPO_DEV=$p-dev TOPO_GW=$p-gw TOPO_NAT=$p-nat TOPO_SRV=$p-srv
	for ns in "$TOPO_DEV" "$TOPO_GW" "$TOPO_NAT" "$TOPO_SRV"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
	done
	ip link add d0 netns "$TOPO_DEV" type veth peer name g0 netns "$TOPO_GW" || return 1
	ip link add g1 netns "$TOPO_GW" type veth peer name n0 netns "$TOPO_NAT" || return 1
	ip link add n1 netns "$TOPO_NAT" type veth peer name s0 netns "$TOPO_SRV" || return 1
	ip -n "$TOPO_DEV" addr add $TOPO_V4_DEV/24 dev d0
	ip -n "$TOPO_GW" addr add $TOPO_V4_GW_DEV/24 dev g0
	ip -n "$TOPO_GW" addr add $TOPO_V4_GW_SRV/24 dev g1
	ip -n "$TOPO_NAT" addr add $TOPO_V4_NAT_GW/24 dev n0
	ip -n "$TOPO_NAT" addr add $TOPO_V4_NAT_OUT/24 dev n1
	ip -n "$TOPO_SRV" addr add $TOPO_V4_NAT_SRV/24 dev s0
	ip -n "$TOPO_DEV" link set d0 up
	ip -n "$TOPO_GW" link set g0 up
	ip -n "$TOPO_GW" link set g1 up
	ip -n "$TOPO_NAT" link set n0 up
	ip -n "$TOPO_NAT" link set n1 up
	ip -n "$TOPO_SRV" link set s0 up
	ip netns exec "$TOPO_GW" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$TOPO_NAT" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$TOPO_DEV" route replace default via $TOPO_V4_GW_DEV dev d0 onlink
	ip -n "$TOPO_GW" route add default via $TOPO_V4_NAT_GW dev g1 onlink
	ip -n "$TOPO_NAT" route add 198.18.1.0/24 via $TOPO_V4_GW_SRV dev n0 onlink
	ip -n "$TOPO_SRV" route add default via $TOPO_V4_NAT_OUT dev s0 onlink
	ip netns exec "$TOPO_NAT" nft -f - <<NFT || return 1
table ip tko_test_nat {
	chain nat_out {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "n1" masquerade
	}
	chain drop_unknown {
		type filter hook forward priority filter; policy accept;
		ct state invalid drop
		ct state new tcp flags & (syn | ack | fin | rst) != syn drop
	}
}
NFT
	# Strict tracking: a segment of a forgotten flow is not picked up again.
	ip netns exec "$TOPO_NAT" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 \
		net.netfilter.nf_conntrack_tcp_timeout_established="$timeout" || return 1
}

# topo_gw_masquerade TIMEOUT_S: the gateway of topo_up masquerades its devices
# behind its server-side address (IPv4 and IPv6), as home routers and IoT
# gateways do, and drops what its own conntrack does not know (a non-SYN
# segment of a forgotten flow), as their firewalls do. Its conntrack forgets
# an established flow idle for TIMEOUT_S and never picks a flow up again
# mid-stream (nf_conntrack_tcp_loose=0).
topo_gw_masquerade() {
	local timeout=$1
	ip netns exec "$TOPO_GW" nft -f - <<NFT || return 1
table inet tko_test_masq {
	chain nat_out {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "g1" masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state invalid drop
		ct state new tcp flags & (syn | ack | fin | rst) != syn drop
	}
}
NFT
	ip netns exec "$TOPO_GW" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 \
		net.netfilter.nf_conntrack_tcp_timeout_established="$timeout"
}
