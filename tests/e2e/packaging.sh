#!/usr/bin/env bash
# Packaging: make install into a DESTDIR, the installed library usable from C,
# and the man page in step with the command line (both directions).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$WORK/root

check "make install DESTDIR=... PREFIX=/usr" \
	make -s -C "$ROOT" BUILD="$BUILD" install DESTDIR="$D" PREFIX=/usr
for f in usr/sbin/tko usr/lib/libtko.a usr/include/tko.h \
	 usr/share/man/man8/tko.8 usr/lib/systemd/system/tko.service etc/tko/tko.conf \
	 usr/share/doc/tko/README.md usr/share/doc/tko/architecture.md; do
	check "installed $f" test -s "$D/$f"
done
check "the binary is executable" test -x "$D/usr/sbin/tko"
check "the datapath's own layouts (tko_types.h) are not installed" test ! -e "$D/usr/include/tko_types.h"
check "the unit runs the installed binary with the config" \
	grep -qx "ExecStart=/usr/sbin/tko agent --config /etc/tko/tko.conf" "$D/usr/lib/systemd/system/tko.service"
echo "iface = wan7" >"$D/etc/tko/tko.conf"
make -s -C "$ROOT" BUILD="$BUILD" install DESTDIR="$D" PREFIX=/usr >/dev/null
check "a second install keeps the existing config" grep -qx "iface = wan7" "$D/etc/tko/tko.conf"

# A program of the library's users: the public API alone, and names of its
# own that libtko uses inside (they must not clash: libtko.a's only global
# symbols are libtko.map's).
cat >"$WORK/use.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <tko.h>
const char *state_name(unsigned char s) { return "the program's own"; }
int route_oif(void) { return 7; }
int main(void)
{
	struct tko_options o;
	struct tko *t;

	tko_options_default(&o);
	/* no agent pinned here: the library must say so, not crash */
	return tko_open("/nonexistent-tko-pins", &t) == -ENOENT && o.idle_s == 60 &&
	       o.retries == 5 && !o.flags && route_oif() == 7 &&
	       !strcmp(tko_state_name(TKO_SESSION_ACTIVE), "active") &&
	       !strcmp(tko_default_pin_dir(), "/sys/fs/bpf/tko") ? 0 : 1;
}
C
check "a C program builds against the installed libtko" \
	cc -I"$D/usr/include" "$WORK/use.c" "$D/usr/lib/libtko.a" -lbpf -lelf -lz -o "$WORK/use"
check "and runs" env -u TKO_PIN_DIR "$WORK/use"
cat >"$WORK/use.cc" <<'C'
#include <tko.h>
int main()
{
	struct tko_options o;

	tko_options_default(&o);
	return o.idle_s == 60 && tko_reason_name(TKO_REASON_IDLE)[0] == 'i' ? 0 : 1;
}
C
check "a C++ program builds against it too (extern \"C\")" bash -c "clang -x c++ -fno-exceptions \
	-I'$D/usr/include' -c '$WORK/use.cc' -o '$WORK/use_cc.o' && cc '$WORK/use_cc.o' \
	'$D/usr/lib/libtko.a' -lbpf -lelf -lz -o '$WORK/use_cc' && '$WORK/use_cc'"
sed -n 's/^[[:space:]]*\(tko_[a-z0-9_]*\);$/\1/p' "$ROOT/agent/lib/libtko.map" | sort >"$WORK/map.syms"
grep -oE '\btko_[a-z0-9_]+\(' "$D/usr/include/tko.h" | tr -d '(' | sort -u >"$WORK/h.syms"
nm -g --defined-only "$D/usr/lib/libtko.a" | awk 'NF == 3 { print $3 }' | sort >"$WORK/lib.syms"
check "libtko.map lists every function of tko.h, and nothing else" diff "$WORK/h.syms" "$WORK/map.syms"
check "libtko.a's only global symbols are libtko.map's" diff "$WORK/map.syms" "$WORK/lib.syms"
check "libtko.a embeds no BPF object (the loader is not in it)" \
	bash -c "! nm '$D/usr/lib/libtko.a' | grep -qE 'bpf_object__|tko_bpf_load|_elf_bytes'"
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
