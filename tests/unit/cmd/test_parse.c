// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of agent/cmd/parse.c: endpoints, keys, numbers, --state, --probe. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "parse.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERRLEN 256

/*
 * An error message is one line (no newline: the CLI adds it), non-empty, and
 * names what was wrong: want must appear in it. The bad value is quoted as
 * given, so an input holding a newline is the one case allowed to bring one.
 */
static void check_message(const char *input, const char *err, const char *want)
{
	bool one_line = !strchr(err, '\n') || (input && strchr(input, '\n'));

	if (!err[0] || !one_line || (want && !strstr(err, want)))
		fail_msg("input '%s': message \"%s\" should be one line containing \"%s\"",
			 input ? input : "(null)", err, want ? want : "");
}

/* ---- parse_uint ---------------------------------------------------------- */

static const struct uint_ok {
	const char *in;
	unsigned long min, max;
	__u32 want;
} uint_ok[] = {
	{ "0", 0, 10, 0 },
	{ "10", 0, 10, 10 },
	{ "1", 1, 1, 1 },
	{ "007", 0, 10, 7 },			/* leading zeros are still decimal */
	{ "65535", 1, 65535, 65535 },
	{ "4294967295", 0, 0xffffffffUL, 0xffffffffU },
	{ "604800", 1, 604800, 604800 },
};

static void test_uint_valid(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(uint_ok); i++) {
		char err[ERRLEN] = "";
		__u32 out = 0xdeadbeef;
		int ret = parse_uint(uint_ok[i].in, "--x", uint_ok[i].min, uint_ok[i].max,
				     &out, err, sizeof(err));

		if (ret != 0 || out != uint_ok[i].want)
			fail_msg("parse_uint('%s'): ret %d out %u, want 0 and %u (err \"%s\")",
				 uint_ok[i].in, ret, out, uint_ok[i].want, err);
	}
}

static const struct uint_bad {
	const char *in;
	unsigned long min, max;
	int want_ret;
	const char *want_msg;	/* substring of the message */
} uint_bad[] = {
	{ NULL, 0, 10, -EINVAL, "--x: '' is not a whole number" },
	{ "", 0, 10, -EINVAL, "--x: '' is not a whole number" },
	{ "abc", 0, 10, -EINVAL, "'abc' is not a whole number" },
	{ "12abc", 0, 100, -EINVAL, "'12abc' is not a whole number" },
	{ "1.5", 0, 10, -EINVAL, "'1.5' is not a whole number" },
	{ "0x10", 0, 100, -EINVAL, "'0x10' is not a whole number" },
	{ "-1", 0, 10, -EINVAL, "'-1' is not a whole number" },
	{ "-0", 0, 10, -EINVAL, "'-0' is not a whole number" },
	{ "+5", 0, 10, -EINVAL, "'+5' is not a whole number" },
	{ " 5", 0, 10, -EINVAL, "' 5' is not a whole number" },
	{ "\t5", 0, 10, -EINVAL, "is not a whole number" },
	{ "\n5", 0, 10, -EINVAL, "is not a whole number" },
	{ "5 ", 0, 10, -EINVAL, "'5 ' is not a whole number" },
	{ "5\n", 0, 10, -EINVAL, "is not a whole number" },
	{ "11", 0, 10, -ERANGE, "--x: 11 is out of range (0..10)" },
	{ "0", 1, 10, -ERANGE, "--x: 0 is out of range (1..10)" },
	{ "4294967296", 0, 0xffffffffUL, -ERANGE, "4294967296 is out of range (0..4294967295)" },
	{ "18446744073709551615", 0, 0xffffffffUL, -ERANGE, "18446744073709551615 is out of range" },
	{ "18446744073709551616", 0, 0xffffffffUL, -ERANGE, "18446744073709551616 is out of range" },
	{ "99999999999999999999999999", 0, 10, -ERANGE, "99999999999999999999999999 is out of range" },
};

static void test_uint_invalid(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(uint_bad); i++) {
		char err[ERRLEN] = "";
		__u32 out = 0xdeadbeef;
		int ret = parse_uint(uint_bad[i].in, "--x", uint_bad[i].min, uint_bad[i].max,
				     &out, err, sizeof(err));

		if (ret != uint_bad[i].want_ret)
			fail_msg("parse_uint(\"%s\") [%zu]: ret %d, want %d (err \"%s\")",
				 uint_bad[i].in ? uint_bad[i].in : "(null)", i, ret,
				 uint_bad[i].want_ret, err);
		check_message(uint_bad[i].in, err, uint_bad[i].want_msg);
		assert_int_equal(out, 0xdeadbeef);	/* untouched on error */
	}
}

/* A short error buffer gets a truncated, terminated message and nothing more. */
static void test_uint_err_truncated(void **state)
{
	char buf[16 + 8];
	__u32 out;

	memset(buf, 'G', sizeof(buf));
	assert_int_equal(parse_uint("junk", "--interval", 0, 10, &out, buf, 16), -EINVAL);
	assert_int_equal(strlen(buf), 15);
	assert_string_equal(buf, "--interval: 'ju");
	for (size_t i = 16; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'G');
}

/* ---- parse_endpoint ------------------------------------------------------ */

static const struct ep_ok {
	const char *in;
	__u8 family;
	__u8 addr[16];
	__u16 port;
} ep_ok[] = {
	{ "10.0.0.1:80", TKO_AF_INET, { 10, 0, 0, 1 }, 80 },
	{ "192.168.1.254:65535", TKO_AF_INET, { 192, 168, 1, 254 }, 65535 },
	{ "0.0.0.0:1", TKO_AF_INET, { 0 }, 1 },
	{ "255.255.255.255:443", TKO_AF_INET, { 255, 255, 255, 255 }, 443 },
	{ "1.2.3.4:0258", TKO_AF_INET, { 1, 2, 3, 4 }, 258 },	/* 0x0102: byte order shows */
	{ "[::1]:22", TKO_AF_INET6, { [15] = 1 }, 22 },
	{ "[::]:8080", TKO_AF_INET6, { 0 }, 8080 },
	{ "[fd00::1:2]:443", TKO_AF_INET6,
	  { 0xfd, 0x00, [12] = 0x00, 0x01, 0x00, 0x02 }, 443 },
	{ "[2001:db8:85a3:8d3:1319:8a2e:370:7348]:1234", TKO_AF_INET6,
	  { 0x20, 0x01, 0x0d, 0xb8, 0x85, 0xa3, 0x08, 0xd3,
	    0x13, 0x19, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x48 }, 1234 },
	{ "[FD00::ABCD]:9", TKO_AF_INET6, { 0xfd, 0x00, [14] = 0xab, 0xcd }, 9 },
	/* v4-mapped: IPv4 on the wire, so an IPv4 key (as the datapath sees it) */
	{ "[::ffff:10.1.2.3]:5000", TKO_AF_INET, { 10, 1, 2, 3 }, 5000 },
	{ "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535", TKO_AF_INET6,
	  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 65535 },
};

static void test_endpoint_valid(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(ep_ok); i++) {
		char err[ERRLEN] = "";
		__u8 family = 0xee, addr[16];
		__u16 port = 0xeeee;
		int ret;

		memset(addr, 0xee, sizeof(addr));	/* the unused IPv4 tail must be zeroed */
		ret = parse_endpoint(ep_ok[i].in, &family, addr, &port, err, sizeof(err));
		if (ret)
			fail_msg("parse_endpoint('%s'): ret %d (%s)", ep_ok[i].in, ret, err);
		if (family != ep_ok[i].family || port != ep_ok[i].port)
			fail_msg("parse_endpoint('%s'): family %u port %u, want %u %u", ep_ok[i].in,
				 family, port, ep_ok[i].family, ep_ok[i].port);
		assert_memory_equal(addr, ep_ok[i].addr, 16);
	}
}

static const struct ep_bad {
	const char *in;
	const char *want_msg;
} ep_bad[] = {
	{ NULL, "missing address" },
	{ "", "missing address" },
	{ "10.0.0.1", "bad address '10.0.0.1'" },
	{ "10.0.0.1:", "bad address '10.0.0.1:': port: '' is not a whole number" },
	{ ":80", "bad address ':80'" },
	{ "10.0.0.1:0", "bad address '10.0.0.1:0': port: 0 is out of range (1..65535)" },
	{ "10.0.0.1:65536", "port: 65536 is out of range (1..65535)" },
	{ "10.0.0.1:-1", "port: '-1' is not a whole number" },
	{ "10.0.0.1:http", "port: 'http' is not a whole number" },
	{ "10.0.0.1:80x", "port: '80x' is not a whole number" },
	{ "10.0.0.1: 80", "port: ' 80' is not a whole number" },
	{ "10.0.0.1:\t80", "is not a whole number" },
	{ "10.0.0.1:\n80", "is not a whole number" },
	{ "10.0.0.1:99999999999999999999999", "out of range" },
	{ "10.0.0.256:80", "'10.0.0.256' is not an IPv4 address" },
	{ "10.0.0:80", "'10.0.0' is not an IPv4 address" },
	{ "host.example:80", "'host.example' is not an IPv4 address" },
	{ "10.0.0.1:80:80", "bad address '10.0.0.1:80:80'" },
	{ "::1:80", "bad address '::1:80'" },			/* IPv6 needs brackets */
	{ "fd00::1", "bad address 'fd00::1'" },
	{ "[::1]", "bad address '[::1]': expected [ADDR6]:PORT" },
	{ "[::1]80", "bad address '[::1]80'" },
	{ "[::1:80", "bad address '[::1:80'" },
	{ "[]:80", "bad address '[]:80'" },
	{ "[::1]:", "port: '' is not a whole number" },
	{ "[::1]:0", "port: 0 is out of range" },
	{ "[::1]:65536", "port: 65536 is out of range" },
	{ "[::1]:80]", "port: '80]' is not a whole number" },
	{ "[10.0.0.1]:80", "'10.0.0.1' is not an IPv6 address" },
	{ "[fd00::g]:80", "'fd00::g' is not an IPv6 address" },
	{ "[1:2:3:4:5:6:7:8:9]:80", "'1:2:3:4:5:6:7:8:9' is not an IPv6 address" },
	{ "[fe80::1%eth0]:80", "'fe80::1%eth0' is not an IPv6 address" },
	{ "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:80", "bad address" },
	{ "0000000000000000000000000000000000000000000000000000.1:80", "bad address" },
};

static void test_endpoint_invalid(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(ep_bad); i++) {
		char err[ERRLEN] = "";
		__u8 family = 0xee, addr[16];
		__u16 port = 0xeeee;
		int ret = parse_endpoint(ep_bad[i].in, &family, addr, &port, err, sizeof(err));

		if (ret != -EINVAL)
			fail_msg("parse_endpoint('%s'): ret %d, want -EINVAL (err \"%s\")",
				 ep_bad[i].in ? ep_bad[i].in : "(null)", ret, err);
		check_message(ep_bad[i].in, err, ep_bad[i].want_msg);
		assert_int_equal(port, 0xeeee);
	}
}

/* ---- parse_key ----------------------------------------------------------- */

static void test_key_ipv4(void **state)
{
	struct tko_key key, want = {
		.family = TKO_AF_INET, .lport = 40000, .rport = 443,
		.laddr = { 192, 168, 0, 2 }, .raddr = { 203, 0, 113, 7 },
	};
	char err[ERRLEN] = "";

	memset(&key, 0xaa, sizeof(key));	/* padding and the address tails too */
	assert_int_equal(parse_key("192.168.0.2:40000", "203.0.113.7:443", &key, err,
				   sizeof(err)), 0);
	assert_memory_equal(&key, &want, sizeof(key));
}

static void test_key_ipv6(void **state)
{
	struct tko_key key, want = {
		.family = TKO_AF_INET6, .lport = 1, .rport = 65535,
		.laddr = { 0xfd, 0x00, [15] = 0x02 },
		.raddr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 },
	};
	char err[ERRLEN] = "";

	memset(&key, 0xaa, sizeof(key));
	assert_int_equal(parse_key("[fd00::2]:1", "[2001:db8::1]:65535", &key, err,
				   sizeof(err)), 0);
	assert_memory_equal(&key, &want, sizeof(key));
}

static const struct key_bad {
	const char *local, *remote;
	const char *want_msg;
} key_bad[] = {
	{ "10.0.0.1:80", "[::1]:80", "'10.0.0.1:80' and '[::1]:80' are not the same address family" },
	{ "[::1]:80", "10.0.0.1:80", "'[::1]:80' and '10.0.0.1:80' are not the same address family" },
	{ "10.0.0.1:80", "10.0.0.2", "bad address '10.0.0.2'" },	/* REMOTE named */
	{ "10.0.0.x:80", "10.0.0.2:80", "'10.0.0.x' is not an IPv4 address" },
	{ "10.0.0.1:80", "", "missing address" },
	{ NULL, "10.0.0.1:80", "missing address" },
	{ "10.0.0.1:80", "10.0.0.2:0", "port: 0 is out of range" },
};

static void test_key_invalid(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(key_bad); i++) {
		char err[ERRLEN] = "";
		struct tko_key key;
		int ret = parse_key(key_bad[i].local, key_bad[i].remote, &key, err, sizeof(err));

		if (ret != -EINVAL)
			fail_msg("parse_key('%s', '%s'): ret %d, want -EINVAL",
				 key_bad[i].local ? key_bad[i].local : "(null)",
				 key_bad[i].remote, ret);
		check_message(key_bad[i].remote, err, key_bad[i].want_msg);
	}
}

/* ---- parse_state --------------------------------------------------------- */

static const struct state_ok {
	const char *in;
	struct tko_tcp_state want;
	__u8 have;
} state_ok[] = {
	{ "snd_nxt=1,rcv_nxt=2,win=3",
	  { .snd_nxt = 1, .rcv_nxt = 2, .window = 3 }, TKO_HAVE_SEQ },
	{ "win=3,rcv_nxt=2,snd_nxt=1",		/* any order */
	  { .snd_nxt = 1, .rcv_nxt = 2, .window = 3 }, TKO_HAVE_SEQ },
	{ "snd_nxt=0,rcv_nxt=0,win=0",
	  { 0 }, TKO_HAVE_SEQ },
	{ "snd_nxt=4294967295,rcv_nxt=4294967295,win=65535,wscale=14,"
	  "tsval=4294967295,tsecr=4294967295",
	  { .snd_nxt = 0xffffffffU, .rcv_nxt = 0xffffffffU, .window = 65535, .wscale = 14,
	    .ts_val = 0xffffffffU, .ts_ecr = 0xffffffffU }, TKO_HAVE_SEQ | TKO_HAVE_TS },
	{ "snd_nxt=1000,rcv_nxt=2000,win=502,wscale=7",
	  { .snd_nxt = 1000, .rcv_nxt = 2000, .window = 502, .wscale = 7 }, TKO_HAVE_SEQ },
	{ "snd_nxt=1,rcv_nxt=2,win=3,tsval=4,tsecr=5",
	  { .snd_nxt = 1, .rcv_nxt = 2, .window = 3, .ts_val = 4, .ts_ecr = 5 },
	  TKO_HAVE_SEQ | TKO_HAVE_TS },
	{ "tsecr=0,snd_nxt=1,tsval=0,rcv_nxt=2,win=3",	/* zero timestamps are still given */
	  { .snd_nxt = 1, .rcv_nxt = 2, .window = 3 }, TKO_HAVE_SEQ | TKO_HAVE_TS },
	{ "snd_nxt=3735928559,rcv_nxt=305419896,win=29200,wscale=0",
	  { .snd_nxt = 3735928559U, .rcv_nxt = 305419896U, .window = 29200 }, TKO_HAVE_SEQ },
};

static void test_state_valid(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(state_ok); i++) {
		struct tko_tcp_state tcp;
		char err[ERRLEN] = "";
		__u8 have = 0xee;
		int ret;

		memset(&tcp, 0xaa, sizeof(tcp));	/* pad must come out zero */
		ret = parse_state(state_ok[i].in, &tcp, &have, err, sizeof(err));
		if (ret)
			fail_msg("parse_state('%s'): ret %d (%s)", state_ok[i].in, ret, err);
		if (have != state_ok[i].have)
			fail_msg("parse_state('%s'): have %#x, want %#x", state_ok[i].in, have,
				 state_ok[i].have);
		if (memcmp(&tcp, &state_ok[i].want, sizeof(tcp)))
			fail_msg("parse_state('%s'): got snd %u rcv %u win %u ws %u tsval %u "
				 "tsecr %u clock %u offset %u", state_ok[i].in, tcp.snd_nxt,
				 tcp.rcv_nxt, tcp.window, tcp.wscale, tcp.ts_val, tcp.ts_ecr,
				 tcp.ts_clock, tcp.ts_offset);
	}
}

static const struct state_bad {
	const char *in;
	int want_ret;
	const char *want_msg;
} state_bad[] = {
	{ NULL, -EINVAL, "--state: expected snd_nxt=N,rcv_nxt=N,win=N" },
	{ "", -EINVAL, "--state: 'snd_nxt' is required" },
	{ "rcv_nxt=2,win=3", -EINVAL, "--state: 'snd_nxt' is required" },
	{ "snd_nxt=1,win=3", -EINVAL, "--state: 'rcv_nxt' is required" },
	{ "snd_nxt=1,rcv_nxt=2", -EINVAL, "--state: 'win' is required" },
	{ "snd_nxt=1,rcv_nxt=2,wscale=3,tsval=1,tsecr=2", -EINVAL, "'win' is required" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,snd_nxt=4", -EINVAL, "--state: 'snd_nxt' given twice" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,win=3", -EINVAL, "'win' given twice" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,tsval=1,tsecr=2,tsval=1", -EINVAL, "'tsval' given twice" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,mss=1460", -EINVAL, "--state: unknown field 'mss'" },
	{ "SND_NXT=1,rcv_nxt=2,win=3", -EINVAL, "unknown field 'SND_NXT'" },
	{ "snd_nxt=1,rcv_nxt=2,window=3", -EINVAL, "unknown field 'window'" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,=5", -EINVAL, "unknown field ''" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,ts", -EINVAL, "--state: 'ts' is not NAME=VALUE" },
	{ "snd_nxt 1,rcv_nxt=2,win=3", -EINVAL, "'snd_nxt 1' is not NAME=VALUE" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,tsval=4", -EINVAL, "--state: tsval and tsecr go together" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,tsecr=4", -EINVAL, "tsval and tsecr go together" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,wscale=15", -ERANGE,
	  "--state wscale: 15 is out of range (0..14)" },
	{ "snd_nxt=1,rcv_nxt=2,win=65536", -ERANGE, "--state win: 65536 is out of range (0..65535)" },
	{ "snd_nxt=4294967296,rcv_nxt=2,win=3", -ERANGE,
	  "--state snd_nxt: 4294967296 is out of range (0..4294967295)" },
	{ "snd_nxt=1,rcv_nxt=4294967296,win=3", -ERANGE, "--state rcv_nxt: 4294967296 is out of range" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,tsval=4294967296,tsecr=1", -ERANGE,
	  "--state tsval: 4294967296 is out of range" },
	{ "snd_nxt=1,rcv_nxt=2,win=3,tsval=1,tsecr=4294967296", -ERANGE,
	  "--state tsecr: 4294967296 is out of range" },
	{ "snd_nxt=-1,rcv_nxt=2,win=3", -EINVAL, "--state snd_nxt: '-1' is not a whole number" },
	{ "snd_nxt=\t1,rcv_nxt=2,win=3", -EINVAL, "--state snd_nxt: " },
	{ "snd_nxt=,rcv_nxt=2,win=3", -EINVAL, "--state snd_nxt: '' is not a whole number" },
	{ "snd_nxt=0x10,rcv_nxt=2,win=3", -EINVAL, "--state snd_nxt: '0x10' is not a whole number" },
	{ "snd_nxt=1=2,rcv_nxt=2,win=3", -EINVAL, "--state snd_nxt: '1=2' is not a whole number" },
	{ "snd_nxt=1,rcv_nxt=2,win=3 ", -EINVAL, "--state win: '3 ' is not a whole number" },
	/* 300 characters: longer than any valid --state */
	{ "snd_nxt=1,rcv_nxt=2,win=3,"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", -EINVAL,
	  "--state: expected snd_nxt=N,rcv_nxt=N,win=N[,wscale=N][,tsval=N,tsecr=N]" },
};

static void test_state_invalid(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(state_bad); i++) {
		struct tko_tcp_state tcp, untouched;
		char err[ERRLEN] = "";
		__u8 have = 0xee;
		int ret;

		memset(&tcp, 0xaa, sizeof(tcp));
		untouched = tcp;
		ret = parse_state(state_bad[i].in, &tcp, &have, err, sizeof(err));
		if (ret != state_bad[i].want_ret)
			fail_msg("parse_state('%s'): ret %d, want %d (err \"%s\")",
				 state_bad[i].in ? state_bad[i].in : "(null)", ret,
				 state_bad[i].want_ret, err);
		check_message(state_bad[i].in, err, state_bad[i].want_msg);
		/* a failed parse hands nothing to the caller */
		assert_int_equal(have, 0xee);
		assert_memory_equal(&tcp, &untouched, sizeof(tcp));
	}
}

/* ---- parse_probe --------------------------------------------------------- */

static void test_probe(void **state)
{
	static const struct {
		const char *in;
		int want_ret;
		__u8 want;
	} cases[] = {
		{ "zero", 0, TKO_PROBE_ZERO },
		{ "byte", 0, TKO_PROBE_BYTE },
		{ "Zero", -EINVAL, 0xee },
		{ "bytes", -EINVAL, 0xee },
		{ "zer", -EINVAL, 0xee },
		{ "", -EINVAL, 0xee },
		{ "1", -EINVAL, 0xee },
		{ NULL, -EINVAL, 0xee },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char err[ERRLEN] = "", want_msg[64];
		__u8 probe = 0xee;
		int ret = parse_probe(cases[i].in, &probe, err, sizeof(err));

		if (ret != cases[i].want_ret || probe != cases[i].want)
			fail_msg("parse_probe('%s'): ret %d probe %u, want %d %u",
				 cases[i].in ? cases[i].in : "(null)", ret, probe,
				 cases[i].want_ret, cases[i].want);
		if (ret) {
			snprintf(want_msg, sizeof(want_msg),
				 "--probe: '%s' is not one of zero, byte",
				 cases[i].in ? cases[i].in : "");
			assert_string_equal(err, want_msg);
		}
	}
}

/* ---- parse_wake, parse_mac -------------------------------------------- */

static void test_wake(void **state)
{
	static const struct {
		const char *in;
		bool with_mac;
		int want_ret;
		bool wake;		/* TKO_F_WAKE after */
		__u8 mac[6];		/* wake_mac after */
		const char *msg;	/* in the error */
	} cases[] = {
		{ "none", true, 0, false, {}, NULL },
		{ "auto", true, 0, true, {}, NULL },
		{ "none", false, 0, false, {}, NULL },
		{ "auto", false, 0, true, {}, NULL },
		{ "02:1a:2B:3c:4d:5e", true, 0, true, { 0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e }, NULL },
		{ "02:1a:2b:3c:4d:5e", false, -EINVAL, false, {}, "is not one of auto, none" },
		{ "03:1a:2b:3c:4d:5e", true, -EINVAL, false, {}, "multicast" },
		{ "ff:ff:ff:ff:ff:ff", true, -EINVAL, false, {}, "multicast" },
		{ "00:00:00:00:00:00", true, -EINVAL, false, {}, "zero" },
		{ "02:1a:2b:3c:4d", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ "02:1a:2b:3c:4d:5e:6f", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ "02:1a:2b:3c:4d:5g", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ "2:1a:2b:3c:4d:5e", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ "02-1a-2b-3c-4d-5e", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ "02:1a:2b:3c:4d:+5", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ " 2:1a:2b:3c:4d:5e", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ "0x:1a:2b:3c:4d:5e", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ "Auto", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ "", true, -EINVAL, false, {}, "not auto, none or a MAC" },
		{ NULL, true, -EINVAL, false, {}, "not auto, none or a MAC" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct tko_config cfg = { .flags = TKO_F_ONESHOT | TKO_F_WAKE,
					  .wake_mac = { 0xee, 0xee, 0xee, 0xee, 0xee, 0xee } };
		struct tko_config before = cfg;
		char err[ERRLEN] = "";
		int ret = parse_wake(cases[i].in, cases[i].with_mac, &cfg, err, sizeof(err));
		const char *in = cases[i].in ? cases[i].in : "(null)";

		if (ret != cases[i].want_ret)
			fail_msg("parse_wake('%s'): ret %d, want %d", in, ret, cases[i].want_ret);
		if (ret) {
			check_message(cases[i].in, err, cases[i].msg);
			assert_memory_equal(&cfg, &before, sizeof(cfg));	/* untouched */
			continue;
		}
		if (!!(cfg.flags & TKO_F_WAKE) != cases[i].wake || !(cfg.flags & TKO_F_ONESHOT))
			fail_msg("parse_wake('%s'): flags 0x%x", in, cfg.flags);
		if (memcmp(cfg.wake_mac, cases[i].mac, 6))
			fail_msg("parse_wake('%s'): wrong wake_mac", in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint_valid),
		cmocka_unit_test(test_uint_invalid),
		cmocka_unit_test(test_uint_err_truncated),
		cmocka_unit_test(test_endpoint_valid),
		cmocka_unit_test(test_endpoint_invalid),
		cmocka_unit_test(test_key_ipv4),
		cmocka_unit_test(test_key_ipv6),
		cmocka_unit_test(test_key_invalid),
		cmocka_unit_test(test_state_valid),
		cmocka_unit_test(test_state_invalid),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_wake),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
