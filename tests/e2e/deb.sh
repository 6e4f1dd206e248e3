#!/usr/bin/env bash
# The Debian package: make deb from this tree, what the packages hold, the
# packaged binary run from an extracted tree, lintian (no error), the unit
# checked by systemd-analyze. Nothing is installed on this machine.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VERSION=$(cat "$ROOT/VERSION")
ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
OUT=$BUILD/deb
DEB=$OUT/tko_${VERSION}_$ARCH.deb
DEV=$OUT/libtko-dev_${VERSION}_$ARCH.deb
X=$WORK/x

check "make deb" bash -c "make -s -C '$ROOT' BUILD='$BUILD' deb >'$WORK/deb.log' 2>&1 ||
	{ tail -40 '$WORK/deb.log' >&2; false; }"
check "it made tko_${VERSION}_$ARCH.deb in $OUT" test -s "$DEB"
check "and libtko-dev_${VERSION}_$ARCH.deb" test -s "$DEV"
check "and the source package tko_$VERSION.dsc (lintian checks it too)" \
	grep -q "tko_$VERSION.dsc" "$OUT/tko_${VERSION}_$ARCH.changes"
[ -s "$DEB" ] && [ -s "$DEV" ] || finish
check "the tree's own build is still there" test -x "$TKO"
check "nothing written beside the tree" bash -c "! ls '$ROOT'/../tko_*_$ARCH.* '$ROOT'/../libtko-dev_* 2>/dev/null | grep -q ."
check "the build copy is gone" test ! -e "$OUT/tko-$VERSION"
check "the changelog is at VERSION" \
	test "$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)" = "$VERSION"
check "the package's version is VERSION" test "$(dpkg-deb -f "$DEB" Version)" = "$VERSION"

dpkg-deb -c "$DEB" | awk '{ print $6 }' >"$WORK/tko.list"
dpkg-deb -c "$DEV" | awk '{ print $6 }' >"$WORK/dev.list"
for f in ./usr/sbin/tko ./usr/share/man/man8/tko.8.gz ./lib/systemd/system/tko.service \
	 ./etc/tko/tko.conf ./usr/share/doc/tko/copyright ./usr/share/doc/tko/README.md.gz; do
	check "tko holds $f" grep -qx -- "$f" "$WORK/tko.list"
done
for f in ./usr/include/tko.h "./usr/lib/$MA/libtko.a"; do
	check "libtko-dev holds $f" grep -qx -- "$f" "$WORK/dev.list"
done
check "and not the datapath's own layouts (tko_types.h)" \
	bash -c "! grep -q tko_types.h '$WORK/dev.list'"
dpkg-deb -e "$DEB" "$WORK/ctl"
check "/etc/tko/tko.conf is a conffile" grep -qx /etc/tko/tko.conf "$WORK/ctl/conffiles"
# dh_installsystemd --no-enable: enabled only where an earlier version was,
# and deb-systemd-invoke starts no disabled unit.
check "the unit is not enabled by a first install" \
	grep -q "if deb-systemd-helper debian-installed 'tko.service'" "$WORK/ctl/postinst"
check "tko depends on libmicrohttpd and libbpf" bash -c "dpkg-deb -f '$DEB' Depends |
	grep -q libmicrohttpd12 && dpkg-deb -f '$DEB' Depends | grep -q libbpf1"

dpkg-deb -x "$DEB" "$X"
dpkg-deb -x "$DEV" "$X"
check "the packaged tko --version says tko $VERSION" test "$("$X/usr/sbin/tko" --version)" = "tko $VERSION"
check "as the tree's does" test "$("$X/usr/sbin/tko" --version)" = "$("$TKO" --version)"
check "its man page renders without warnings" bash -c "[ -z \"\$(man -l --warnings '$X/usr/share/man/man8/tko.8.gz' 2>&1 >/dev/null)\" ]"
cat >"$WORK/use.c" <<'C'
#include <tko.h>
int main(void) { struct tko_options o; tko_options_default(&o); return o.idle_s == 60 ? 0 : 1; }
C
check "a C program builds against the packaged libtko and runs" bash -c "cc -I'$X/usr/include' '$WORK/use.c' \
	-L'$X/usr/lib/$MA' -ltko -lbpf -lelf -lz -o '$WORK/use' && '$WORK/use'"

# lintian: errors fail; what else it says is shown.
# lintian: an error fails (so does its exit status), and so does a warning;
# the rest is shown.
lintian --display-info --pedantic "$OUT/tko_${VERSION}_$ARCH.changes" >"$WORK/lintian" 2>&1
rc=$?
while read -r line; do note "lintian: $line"; done < <(grep -E '^[EWIPX]: ' "$WORK/lintian")
check "lintian reports no error (exit $rc)" bash -c "[ $rc -eq 0 ] && ! grep -q '^E: ' '$WORK/lintian'"
check "lintian reports no warning" bash -c "! grep -q '^W: ' '$WORK/lintian'"

# The unit as systemd reads it, with ExecStart pointing into the extracted tree
# (the binary is not installed here) and the man page lookup off.
if command -v systemd-analyze >/dev/null; then
	sed "s|^ExecStart=/usr/sbin/tko|ExecStart=$X/usr/sbin/tko|" \
		"$X/lib/systemd/system/tko.service" >"$WORK/tko.service"
	systemd-analyze verify --man=no "$WORK/tko.service" >"$WORK/verify" 2>&1
	rc=$?
	while read -r line; do note "systemd-analyze: $line"; done <"$WORK/verify"
	check "systemd-analyze verify: the unit is valid, no warnings" \
		bash -c "[ $rc -eq 0 ] && [ ! -s '$WORK/verify' ]"
else
	note "systemd-analyze is not on this machine (Debian's systemd package): the unit was checked by the lines above only"
	check "the unit names the packaged binary and config" \
		grep -qx "ExecStart=/usr/sbin/tko agent --config /etc/tko/tko.conf" "$X/lib/systemd/system/tko.service"
fi
finish
