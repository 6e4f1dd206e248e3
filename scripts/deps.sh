#!/usr/bin/env bash
# Install, idempotently, what a Debian 12 machine lacks to build and test tko.
# Only missing packages are installed; nothing is upgraded.
#   scripts/deps.sh          what the build and the tests need
#   scripts/deps.sh bench    that, and what only `make bench` needs: jq (the
#                            results file), gnuplot (the plot in
#                            docs/performance.md) and perf (`make profile`)
#   scripts/deps.sh vm       that, and what only `make test-kernels` needs:
#                            qemu, a static busybox and cpio (tests/vm/)
set -euo pipefail

# libmicrohttpd-dev: the HTTP server of `tko agent --metrics`. curl and
# python3-prometheus-client (its text format parser; Debian's promtool comes
# only inside the whole prometheus server package): tests/e2e/metrics.sh.
# debhelper, lintian, dpkg-dev: `make deb` and tests/e2e/deb.sh. conntrack (the
# conntrack-tools CLI): tests/e2e/masquerade.sh reads the gateway's table.
# openssh-server, openssh-client: the real sshd of tests/e2e/strict_keepalive.sh
# (run by the test in its own namespace; never started as a service here).
PKGS=(make gcc pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
      libcmocka-dev iproute2 ethtool tcpdump tshark nftables kmod procps
      libmicrohttpd-dev curl python3-prometheus-client debhelper lintian dpkg-dev
      conntrack openssh-server openssh-client)

if [ "${1:-}" = bench ]; then
	PKGS+=(jq gnuplot-nox linux-perf)
fi
if [ "${1:-}" = vm ]; then
	PKGS+=(qemu-system-x86 busybox-static cpio xz-utils)
fi

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]} (apt-get; this can take a minute)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# tshark asks whether non-root users may capture: answer no, unattended.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
# No package is installed to run as a service here (openssh-server would
# start sshd on the host): invoke-rc.d asks policy-rc.d, and 101 means "no".
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
