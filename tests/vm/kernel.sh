#!/usr/bin/env bash
# tests/vm/kernel.sh DIR SERIES: fetch Debian's kernel package of SERIES (6.1:
# Debian 12's stock kernel; 6.12: the backported one) with apt-get download
# into DIR/cache, unpack it with dpkg-deb -x into DIR/kernels/PACKAGE, index its
# modules there (depmod -b, nothing written outside DIR), and print that path.
# The package is never installed. Done once: a second call prints the path.
set -euo pipefail
DIR=$1 SERIES=$2

# The meta-package that follows each series; its one dependency is the image.
case $SERIES in
6.1) META=linux-image-amd64 ;;
6.12) META=linux-image-6.12-amd64 ;;
*) echo "kernel.sh: unknown series '$SERIES' (6.1, 6.12)" >&2; exit 2 ;;
esac
image_of() { apt-cache depends "$META" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'; }
PKG=$(image_of)
if [ -z "$PKG" ] && [ "$(id -u)" -eq 0 ]; then
	# A fresh machine's package lists may be empty: read them once.
	echo "kernel.sh: apt knows no $META yet: apt-get update" >&2
	apt-get update -qq >&2 || true
	PKG=$(image_of)
fi
if [ -z "$PKG" ]; then
	echo "kernel.sh: apt knows no $META; run apt-get update" >&2
	exit 1
fi
OUT=$DIR/kernels/$PKG
if [ ! -e "$OUT/.done" ]; then
	mkdir -p "$DIR/cache"
	deb=$(ls "$DIR/cache/${PKG}_"*.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		echo "kernel.sh: apt-get download $PKG" >&2
		# _apt cannot write into a build directory; apt then downloads as root.
		(cd "$DIR/cache" && apt-get download -q "$PKG" 2>&1) |
			{ grep -v '^W: Download is performed unsandboxed' >&2 || true; }
		deb=$(ls "$DIR/cache/${PKG}_"*.deb | head -1)
	fi
	rm -rf "$OUT"
	mkdir -p "$OUT"
	dpkg-deb -x "$deb" "$OUT"
	ver=$(ls "$OUT/lib/modules")
	depmod -b "$OUT" "$ver"	# modules.dep: the package's postinst would make it
	touch "$OUT/.done"
fi
echo "$OUT"
