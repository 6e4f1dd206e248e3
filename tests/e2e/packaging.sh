#!/usr/bin/env bash
# Packaging: make install into a DESTDIR, the installed library usable from C,
# and the man page in step with the command line (both directions).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$WORK/root

check "make install DESTDIR=... PREFIX=/usr" \
	make -s -C "$ROOT" BUILD="$BUILD" install DESTDIR="$D" PREFIX=/usr
for f in usr/sbin/tko usr/lib/libtko.a usr/include/tko.h usr/include/tko_types.h \
	 usr/share/man/man8/tko.8 usr/lib/systemd/system/tko.service etc/tko/tko.conf \
	 usr/share/doc/tko/README.md usr/share/doc/tko/architecture.md; do
	check "installed $f" test -s "$D/$f"
done
check "the binary is executable" test -x "$D/usr/sbin/tko"
check "the unit runs the installed binary with the config" \
	grep -qx "ExecStart=/usr/sbin/tko agent --config /etc/tko/tko.conf" "$D/usr/lib/systemd/system/tko.service"
echo "iface = wan7" >"$D/etc/tko/tko.conf"
make -s -C "$ROOT" BUILD="$BUILD" install DESTDIR="$D" PREFIX=/usr >/dev/null
check "a second install keeps the existing config" grep -qx "iface = wan7" "$D/etc/tko/tko.conf"

cat >"$WORK/use.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <tko.h>
int main(void)
{
	struct tko_config c;
	struct tko *t;

	tko_config_default(&c);
	/* no agent pinned here: the library must say so, not crash */
	return tko_open("/nonexistent-tko-pins", &t) == -2 && c.idle_s == 60 &&
	       !strcmp(tko_default_pin_dir(), "/sys/fs/bpf/tko") ? 0 : 1;
}
C
check "a C program builds against the installed libtko" \
	cc -I"$D/usr/include" "$WORK/use.c" "$D/usr/lib/libtko.a" -lbpf -lelf -lz -o "$WORK/use"
check "and runs" env -u TKO_PIN_DIR "$WORK/use"
check "make uninstall removes what install put" bash -c "make -s -C '$ROOT' BUILD='$BUILD' \
	uninstall DESTDIR='$D' PREFIX=/usr && [ ! -e '$D/usr/sbin/tko' ] && [ ! -e '$D/usr/share/man/man8/tko.8' ]"

# --- the man page and the CLI --------------------------------------------------
MAN=$ROOT/docs/tko.8
man_text=$(sed 's/\\-/-/g; s/\\f[BIR]//g' "$MAN")
cmds=$("$TKO" --help | awk '$1 == "tko" { print $2 }' | sort -u)
check "tko --help lists the commands" test -n "$cmds"
for c in $cmds; do
	check "man page has 'tko $c'" grep -q "^\.S[SH] tko $c\$" "$MAN"
	for o in $("$TKO" "$c" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		check "man page documents 'tko $c $o'" bash -c "grep -qe '$o' <<<\"\$1\"" _ "$man_text"
	done
done
all_opts=$( ("$TKO" --help; for c in $cmds; do "$TKO" "$c" --help; done) | grep -oE -- '--[a-z][a-z-]+' | sort -u)
for o in $(grep -oE -- '--[a-z][a-z-]+' <<<"$man_text" | sort -u); do
	check "the CLI has the man page's $o" grep -qx -- "$o" <<<"$all_opts"
done
# the session defaults the config file takes (the session options' table)
config_keys=$(sed 's/\\-/-/g' "$MAN" | sed -n '/and the defaults of/,/The command line wins/p')
defaults=$("$TKO" agent --help | tr -s ' \n' ' ' | grep -oE 'session defaults [a-z, -]+\)' |
	   sed 's/session defaults //; s/[,)]//g')
check "tko agent --help names the config's session defaults" test -n "$defaults"
for k in $defaults; do
	check "man page has the config key '$k'" grep -qw -e "$k" <<<"$config_keys"
done
for k in $(grep -v tko <<<"$config_keys" | grep '^\.BR' | grep -oE '[a-z][a-z-]+'); do
	check "the config takes the man page's key '$k'" grep -qw -e "$k" <<<"$defaults"
done
finish
