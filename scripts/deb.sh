#!/usr/bin/env bash
# make deb: the Debian packages of this tree, built with debhelper (debian/)
# into BUILD/deb: tko_VERSION_ARCH.deb, libtko-dev_VERSION_ARCH.deb, and what
# dpkg-buildpackage writes with them (the -dbgsym package, .buildinfo,
# .changes, and the native source package tko_VERSION.dsc/.tar.xz, so that
# lintian can check the source too).
# It builds a copy of the tree (its tracked files and the new ones git does
# not ignore, as they are now) in BUILD/deb/tko-VERSION: dpkg-buildpackage
# writes into the parent of the tree it builds, and debian/rules clean would
# empty this tree's build/.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
version=$(cat VERSION)
mkdir -p "$BUILD"
out=$(cd "$BUILD" && pwd)/deb
src=$out/tko-$version

rm -rf "$out"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -xf - -C "$src"
else
	tar --exclude=./.git --exclude=./build --exclude="./$BUILD" -cf - . | tar -xf - -C "$src"
fi
# Nothing of a calling make may reach debian/rules: its BUILD=, say, would
# make the copy's `make clean` remove this tree's build directory.
(cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD \
	dpkg-buildpackage --build=full --no-sign)
rm -rf "$src"
echo "deb: built $(cd "$out" && ls ./*.deb | sed 's|^\./||' | tr '\n' ' ')in $out"
