// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of agent/lib/format.c: names, endpoints, events and sessions (text and JSON). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "format.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a small strict JSON checker (RFC 8259 grammar, no extensions) -------- */

static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;	/* raw control characters (and the end) are invalid */
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

static const char *json_container(const char *p, int depth, char close)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			p = json_string(p);
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = json_ws(p);
	switch (*p) {
	case '{': return json_container(p, depth, '}');
	case '[': return json_container(p, depth, ']');
	case '"': return json_string(p);
	case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
	default: return json_number(p);
	}
}

/* One JSON object and nothing else (the CLI prints one per line). */
static bool json_is_object(const char *s)
{
	const char *end;

	if (*json_ws(s) != '{')
		return false;
	end = json_value(s, 0);
	return end && !*json_ws(end) && !strchr(s, '\n');
}

/* The checker itself must tell good from bad, or it proves nothing. */
static void test_json_checker(void **state)
{
	static const char *good[] = {
		"{}", "{\"a\":1}", "{\"a\":\"b\",\"c\":[1,2,{\"d\":null}],\"e\":true,\"f\":false}",
		"{\"n\":-0.5e+3}", "{\"s\":\"x\\\"y\\u00e9\"}", "{\"n\":18446744073709551615}",
	};
	static const char *bad[] = {
		"", "{", "}", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "{a:1}", "{\"a\":01}",
		"{\"a\":\"b}", "{\"a\":1}x", "{\"a\":1}{}", "[1]", "{\"a\":tru}", "{\"a\":\"\t\"}",
		"{\"a\":1}\n", "{\"a\":\"\\x\"}", "{\"a\":1.}", "{\"a\":+1}",
	};

	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		if (!json_is_object(good[i]))
			fail_msg("checker rejects valid %s", good[i]);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (json_is_object(bad[i]))
			fail_msg("checker accepts invalid %s", bad[i]);
}

/* ---- names --------------------------------------------------------------- */

struct name_case {
	unsigned int value;
	const char *name;
};

static void check_names(const char *(*fn)(__u8), const struct name_case *c, size_t n,
			const unsigned int *unknown, size_t nunknown)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = fn(c[i].value);

		if (!got || strcmp(got, c[i].name))
			fail_msg("value %u: name '%s', want '%s'", c[i].value, got ? got : "(null)",
				 c[i].name);
		for (size_t j = 0; j < i; j++)	/* names tell values apart */
			assert_string_not_equal(c[i].name, c[j].name);
	}
	for (size_t i = 0; i < nunknown; i++) {
		const char *got = fn(unknown[i]);

		if (!got || strcmp(got, "unknown"))
			fail_msg("value %u: name '%s', want 'unknown'", unknown[i],
				 got ? got : "(null)");
	}
}

static void test_state_names(void **state)
{
	static const struct name_case c[] = {
		{ TKO_LEARNING, "learning" }, { TKO_ACTIVE, "active" },
		{ TKO_SUSPENDED, "suspended" }, { TKO_PEER_DEAD, "peer_dead" },
		{ TKO_STOPPED, "stopped" }, { TKO_FREE, "free" }, { TKO_CREATING, "creating" },
	};
	static const unsigned int unknown[] = { TKO_STATE_MAX + 1, 100, 255 };

	check_names(state_name, c, ARRAY_LEN(c), unknown, ARRAY_LEN(unknown));
}

static void test_event_names(void **state)
{
	static const struct name_case c[] = {
		{ TKO_EV_OFFLOADED, "offloaded" }, { TKO_EV_SUSPENDED, "suspended" },
		{ TKO_EV_RESUMED, "resumed" }, { TKO_EV_INVALIDATED, "invalidated" },
		{ TKO_EV_PEER_DEAD, "peer_dead" }, { TKO_EV_STOPPED, "stopped" },
		{ TKO_EV_STARTED, "started" }, { TKO_EV_REFUSED, "refused" },
		{ TKO_EV_WAITING, "waiting" }, { TKO_EV_WARNING, "warning" },
		{ TKO_EV_WAKE, "wake" },
	};
	static const unsigned int unknown[] = { 0, TKO_EV_WAKE + 1, 128, 255 };
	_Static_assert(TKO_EV_WAKE < TKO_EVENTS_MAX, "an event beyond ev_stats");

	check_names(event_name, c, ARRAY_LEN(c), unknown, ARRAY_LEN(unknown));
}

static void test_reason_names(void **state)
{
	static const struct name_case c[] = {
		{ TKO_R_NONE, "none" }, { TKO_R_REQUEST, "request" }, { TKO_R_IDLE, "idle" },
		{ TKO_R_DATA_LOCAL, "data_local" }, { TKO_R_DATA_PEER, "data_peer" },
		{ TKO_R_FIN_LOCAL, "fin_local" }, { TKO_R_FIN_PEER, "fin_peer" },
		{ TKO_R_RST_LOCAL, "rst_local" }, { TKO_R_RST_PEER, "rst_peer" },
		{ TKO_R_SYN_LOCAL, "syn_local" }, { TKO_R_DRIFT, "drift" },
		{ TKO_R_RETRIES, "retries" }, { TKO_R_POLICY, "policy" },
		{ TKO_R_CLOSED, "closed" }, { TKO_R_TABLE_FULL, "table_full" },
		{ TKO_R_INDEX_FULL, "index_full" }, { TKO_R_BUSY, "busy" },
		{ TKO_R_IN_FLIGHT, "in_flight" }, { TKO_R_NO_PATH, "no_path" },
		{ TKO_R_LINK_DOWN, "link_down" }, { TKO_R_ROUTE, "route" },
		{ TKO_R_TS_LIMIT, "ts_limit" }, { TKO_R_NO_TRAFFIC, "no_traffic" },
		{ TKO_R_CT_MISSING, "ct_missing" }, { TKO_R_TS_MISMATCH, "ts_mismatch" },
		{ TKO_R_SIGNED, "signed" }, { TKO_R_REWRITE, "rewrite" },
		{ TKO_R_NO_ACK, "no_ack" }, { TKO_R_WAKE_UNKNOWN, "wake_unknown" },
		{ TKO_R_WAKE_FAILED, "wake_failed" },
	};
	static const unsigned int unknown[] = { TKO_R_WAKE_FAILED + 1, 200, 255 };
	/* ev_stats (and tko_events_total) index reasons below TKO_REASONS_MAX */
	_Static_assert(TKO_R_WAKE_FAILED < TKO_REASONS_MAX, "a reason beyond ev_stats");

	check_names(reason_name, c, ARRAY_LEN(c), unknown, ARRAY_LEN(unknown));
}

/* How an interface answers: names for `tko stats`, phrases for the agent's log. */
static void test_answer_names(void **state)
{
	static const struct name_case paths[] = {
		{ TKO_ANSWER_XDP, "xdp" }, { TKO_ANSWER_TC, "tc" },
	};
	static const struct name_case whys[] = {
		{ TKO_WHY_DRIVER, "driver" }, { TKO_WHY_GENERIC, "generic_xdp" },
		{ TKO_WHY_VETH, "veth" }, { TKO_WHY_FORCED, "forced" },
		{ TKO_WHY_XDP_LOST, "xdp_tx_lost" },
	};
	static const unsigned int unknown_path[] = { TKO_ANSWER_TC + 1, 255 };
	static const unsigned int unknown_why[] = { TKO_WHY_XDP_LOST + 1, 255 };

	check_names(answer_path_name, paths, ARRAY_LEN(paths), unknown_path,
		    ARRAY_LEN(unknown_path));
	check_names(answer_why_name, whys, ARRAY_LEN(whys), unknown_why, ARRAY_LEN(unknown_why));
	assert_string_equal(answer_why_text(TKO_WHY_VETH),
			    "veth delivers XDP_TX only to a peer that runs XDP");
	assert_string_equal(answer_why_text(TKO_WHY_XDP_LOST), "the driver dropped XDP_TX answers");
	assert_string_equal(answer_why_text(200), "unknown");
}

/* `tko stats`: an interface as a line and as a JSON object, names escaped. */
static void test_iface(void **state)
{
	struct tko_iface e = {
		.ifindex = 12, .path = TKO_ANSWER_TC, .why = TKO_WHY_XDP_LOST, .name = "eth0",
		.answers_xdp = 3, .answers_tc = 40, .answers_lost = 1, .answer_errors = 2,
		.down = 1, .probes_no_path = 5,
	};
	char buf[512];

	format_iface(&e, false, buf, sizeof(buf));
	assert_string_equal(buf, "iface eth0             ifindex=12 path=tc why=xdp_tx_lost link=down "
			    "answers_xdp=3 answers_tc=40 answers_lost=1 answer_errors=2 "
			    "probes_no_path=5");
	format_iface(&e, true, buf, sizeof(buf));
	assert_string_equal(buf, "{\"name\":\"eth0\",\"ifindex\":12,\"path\":\"tc\","
			    "\"why\":\"xdp_tx_lost\",\"xdp\":\"native\",\"link\":\"down\","
			    "\"answers_xdp\":3,\"answers_tc\":40,\"answers_lost\":1,"
			    "\"answer_errors\":2,\"probes_no_path\":5}");
	assert_true(json_is_object(buf));
	/* '"' and '\\' are legal in interface names; 16 bytes, not terminated */
	memcpy(e.name, "a\"b\\cdefghijklmn", 16);
	e.xdp_generic = 1;
	format_iface(&e, true, buf, sizeof(buf));
	if (!json_is_object(buf) || !strstr(buf, "\"name\":\"a\\\"b\\\\cdefghijklmn\"") ||
	    !strstr(buf, "\"xdp\":\"generic\""))
		fail_msg("not the escaped name, or not JSON: %s", buf);
}

/* ---- endpoints ----------------------------------------------------------- */

static const struct ep_case {
	__u8 family;
	__u8 addr[16];
	__u16 port;
	const char *want;
} ep_cases[] = {
	{ TKO_AF_INET, { 10, 0, 0, 1 }, 80, "10.0.0.1:80" },
	{ TKO_AF_INET, { 0 }, 0, "0.0.0.0:0" },
	{ TKO_AF_INET, { 255, 255, 255, 255 }, 65535, "255.255.255.255:65535" },
	{ TKO_AF_INET, { 1, 2, 3, 4 }, 258, "1.2.3.4:258" },	/* port in host order */
	/* only the first four bytes belong to an IPv4 address */
	{ TKO_AF_INET, { 192, 0, 2, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9 }, 1, "192.0.2.1:1" },
	{ TKO_AF_INET6, { [15] = 1 }, 22, "[::1]:22" },
	{ TKO_AF_INET6, { 0 }, 0, "[::]:0" },
	{ TKO_AF_INET6, { 0xfd, 0x00, [15] = 1 }, 443, "[fd00::1]:443" },
	/* RFC 5952: the longest run of zeros is the one compressed */
	{ TKO_AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 }, 8080,
	  "[2001:db8:0:1::1]:8080" },
	{ TKO_AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0x85, 0xa3, 0x08, 0xd3,
			  0x13, 0x19, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x48 }, 1234,
	  "[2001:db8:85a3:8d3:1319:8a2e:370:7348]:1234" },
	{ TKO_AF_INET6, { [10] = 0xff, 0xff, 10, 1, 2, 3 }, 5000, "[::ffff:10.1.2.3]:5000" },
	{ TKO_AF_INET6, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 65535,
	  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535" },
};

static void test_endpoint(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(ep_cases); i++) {
		char buf[ENDPOINT_STRLEN + 16];

		memset(buf, 'G', sizeof(buf));
		format_endpoint(ep_cases[i].family, ep_cases[i].addr, ep_cases[i].port, buf,
				ENDPOINT_STRLEN);
		assert_string_equal(buf, ep_cases[i].want);
		for (size_t j = ENDPOINT_STRLEN; j < sizeof(buf); j++)
			assert_int_equal(buf[j], 'G');
	}
}

/* format_key fills two ENDPOINT_STRLEN buffers and not a byte more. */
static void test_key(void **state)
{
	struct tko_key k = {
		.family = TKO_AF_INET6, .lport = 65535, .rport = 65535,
	};
	char l[ENDPOINT_STRLEN + 16], r[ENDPOINT_STRLEN + 16];

	memset(k.laddr, 0xff, 16);
	memset(k.raddr, 0xee, 16);
	memset(l, 'G', sizeof(l));
	memset(r, 'G', sizeof(r));
	format_key(&k, l, r);
	assert_string_equal(l, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	assert_string_equal(r, "[eeee:eeee:eeee:eeee:eeee:eeee:eeee:eeee]:65535");
	for (size_t j = ENDPOINT_STRLEN; j < sizeof(l); j++) {
		assert_int_equal(l[j], 'G');
		assert_int_equal(r[j], 'G');
	}
}

/* ---- events -------------------------------------------------------------- */

static struct tko_event sample_event(void)
{
	struct tko_event e = {
		.seq = 42, .ts_ns = 1234567890123ULL,
		.key = { .family = TKO_AF_INET, .lport = 40000, .rport = 443,
			 .laddr = { 192, 168, 0, 2 }, .raddr = { 203, 0, 113, 7 } },
		.type = TKO_EV_SUSPENDED, .reason = TKO_R_DATA_PEER, .state = TKO_SUSPENDED,
		.next_probe_ms = 59000,
		.tcp = { .snd_una = 990, .snd_nxt = 1000, .rcv_nxt = 2000, .ts_val = 77,
			 .ts_ecr = 88, .window = 502, .wscale = 7 },
		.cnt = { .probes_sent = 5, .probes_answered = 4, .peer_probes_answered = 3,
			 .unanswered = 1, .answers_limited = 9 },
	};
	return e;
}

static const char sample_event_text[] =
	"suspended   192.168.0.2:40000 -> 203.0.113.7:443 reason=data_peer state=suspended "
	"probes=5/4 unanswered=1 peer_probes=3 next_probe_ms=59000 snd_nxt=1000 rcv_nxt=2000";

static const char sample_event_json[] =
	"{\"seq\":42,\"ts_ns\":1234567890123,\"event\":\"suspended\",\"reason\":\"data_peer\","
	"\"local\":\"192.168.0.2:40000\",\"remote\":\"203.0.113.7:443\",\"state\":\"suspended\","
	"\"probes_sent\":5,\"probes_answered\":4,\"peer_probes_answered\":3,\"unanswered\":1,"
	"\"next_probe_ms\":59000,\"snd_una\":990,\"snd_nxt\":1000,\"rcv_nxt\":2000,"
	"\"window\":502,\"tsval\":77,\"tsecr\":88}";

static void test_event_text(void **state)
{
	struct tko_event e = sample_event();
	char buf[512];
	int n = format_event(&e, false, buf, sizeof(buf));

	assert_string_equal(buf, sample_event_text);
	assert_int_equal(n, strlen(sample_event_text));
}

static void test_event_json(void **state)
{
	struct tko_event e = sample_event();
	char buf[512];
	int n = format_event(&e, true, buf, sizeof(buf));

	assert_string_equal(buf, sample_event_json);
	assert_int_equal(n, strlen(sample_event_json));
	assert_true(json_is_object(buf));
}

static void test_event_text_ipv6_unknown(void **state)
{
	struct tko_event e = {
		.seq = 1,
		.key = { .family = TKO_AF_INET6, .lport = 1, .rport = 2,
			 .laddr = { 0xfd, 0x00, [15] = 1 }, .raddr = { 0xfd, 0x00, [15] = 2 } },
		.type = 99, .reason = 99, .state = 99,
	};
	char buf[512];

	format_event(&e, false, buf, sizeof(buf));
	assert_string_equal(buf, "unknown     [fd00::1]:1 -> [fd00::2]:2 reason=unknown "
			    "state=unknown probes=0/0 unanswered=0 peer_probes=0 next_probe_ms=0 "
			    "snd_nxt=0 rcv_nxt=0");
}

/* Every type, reason and state, both families, extreme values: always valid JSON. */
static void test_event_json_valid_everywhere(void **state)
{
	static const __u8 families[] = { TKO_AF_INET, TKO_AF_INET6 };
	struct tko_event e;
	char buf[1024];
	int checked = 0;

	for (size_t f = 0; f < ARRAY_LEN(families); f++)
		for (unsigned int v = 0; v <= 13; v++) {
			memset(&e, 0xff, sizeof(e));	/* every number at its maximum */
			e.key.family = families[f];
			e.type = v;
			e.reason = v;
			e.state = v;
			int n = format_event(&e, true, buf, sizeof(buf));

			assert_true(n > 0 && (size_t)n < sizeof(buf));
			if (!json_is_object(buf))
				fail_msg("invalid JSON: %s", buf);
			assert_non_null(strstr(buf, "\"seq\":18446744073709551615,"));
			assert_non_null(strstr(buf, "\"tsecr\":4294967295}"));
			checked++;
		}
	assert_int_equal(checked, 28);
}

/*
 * A short buffer is filled and terminated, nothing is written past it, and the
 * return is the length the whole line would have had (snprintf's contract).
 */
static void check_truncation(const char *full, int (*render)(void *ctx, char *buf, size_t len),
			     void *ctx)
{
	size_t full_len = strlen(full);
	size_t sizes[] = { 0, 1, 2, 7, 16, full_len, full_len + 1 };

	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		size_t len = sizes[i];
		char buf[1024];
		int n;

		assert_true(full_len + 64 < sizeof(buf));
		memset(buf, 'G', sizeof(buf));
		n = render(ctx, buf, len);
		assert_int_equal(n, full_len);
		for (size_t j = len; j < sizeof(buf); j++)
			if (buf[j] != 'G')
				fail_msg("len %zu: byte %zu written past the buffer", len, j);
		if (len == 0)
			continue;
		assert_int_equal(strlen(buf), len - 1 < full_len ? len - 1 : full_len);
		assert_memory_equal(buf, full, strlen(buf));
	}
}

static int render_event(void *ctx, char *buf, size_t len)
{
	struct tko_event e = sample_event();

	return format_event(&e, *(bool *)ctx, buf, len);
}

static void test_event_truncation(void **state)
{
	bool json = false;

	check_truncation(sample_event_text, render_event, &json);
	json = true;
	check_truncation(sample_event_json, render_event, &json);
}

static int render_endpoint(void *ctx, char *buf, size_t len)
{
	static const __u8 a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	format_endpoint(TKO_AF_INET6, a, 65535, buf, len);
	return strlen("[2001:db8::1]:65535");
}

static void test_endpoint_truncation(void **state)
{
	check_truncation("[2001:db8::1]:65535", render_endpoint, NULL);
}

/* ---- sessions ------------------------------------------------------------ */

#define NOW_NS 1000000000000ULL	/* 1000 s of CLOCK_MONOTONIC */

static struct tko_session sample_session(void)
{
	struct tko_session s = {
		.cfg = { .idle_s = 30, .interval_s = 45, .retry_interval_s = 5, .retries = 3,
			 .probe = TKO_PROBE_BYTE, .flags = TKO_F_ONESHOT },
		.tcp = { .snd_una = 3735928559U, .snd_nxt = 3735928559U, .rcv_nxt = 305419896,
			 .ts_val = 11, .ts_ecr = 22, .window = 29200, .wscale = 7 },
		.cnt = { .probes_sent = 12, .probes_answered = 11, .peer_probes_answered = 7,
			 .unanswered = 1, .answers_limited = 2, .probes_late = 4 },
		.policy = 3,
		.state = TKO_ACTIVE, .have = TKO_HAVE_SEQ | TKO_HAVE_L2 | TKO_HAVE_TS,
		.ifindex = 3, .next_ns = NOW_NS + 1500999999ULL,	/* 1500.999999 ms ahead */
	};
	return s;
}

static const struct tko_key sample_key = {
	.family = TKO_AF_INET, .lport = 40000, .rport = 443,
	.laddr = { 192, 168, 0, 2 }, .raddr = { 203, 0, 113, 7 },
};

static const char sample_session_json[] =
	"{\"local\":\"192.168.0.2:40000\",\"remote\":\"203.0.113.7:443\",\"state\":\"active\","
	"\"idle_s\":30,\"interval_s\":45,\"retry_interval_s\":5,\"retries\":3,"
	"\"probe\":\"byte\",\"oneshot\":true,\"learned\":true,\"timestamps\":true,"
	"\"ifindex\":3,\"probes_sent\":12,\"probes_answered\":11,"
	"\"peer_probes_answered\":7,\"answers_limited\":2,\"unanswered\":1,"
	"\"probes_late\":4,\"policy\":3,\"next_ms\":1500,\"snd_una\":null,"
	"\"snd_nxt\":3735928559,\"rcv_nxt\":305419896,\"window\":29200,"
	"\"tsval\":11,\"tsecr\":22,\"wake\":null,\"wake_ifindex\":0}";

static void test_session_json(void **state)
{
	struct tko_session s = sample_session();
	char buf[1024];
	int n = format_session(&sample_key, &s, NOW_NS, true, buf, sizeof(buf));

	assert_string_equal(buf, sample_session_json);
	assert_int_equal(n, strlen(sample_session_json));
	assert_true(json_is_object(buf));
}

/* --wake: null without, "auto" until the MAC is learned, then the MAC. */
static void test_session_json_wake(void **state)
{
	struct tko_session s = sample_session();
	char buf[1024];

	s.cfg.flags |= TKO_F_WAKE;
	format_session(&sample_key, &s, NOW_NS, true, buf, sizeof(buf));
	assert_true(json_is_object(buf));
	assert_non_null(strstr(buf, "\"wake\":\"auto\",\"wake_ifindex\":0}"));
	s.have |= TKO_HAVE_WAKE;
	s.wake_ifindex = 7;
	memcpy(s.wake_mac, "\x02\xab\x0c\xff\x00\x9e", 6);
	format_session(&sample_key, &s, NOW_NS, true, buf, sizeof(buf));
	assert_true(json_is_object(buf));
	assert_non_null(strstr(buf, "\"wake\":\"02:ab:0c:ff:00:9e\",\"wake_ifindex\":7}"));
}

static void test_session_json_flags(void **state)
{
	struct tko_session s = sample_session();
	char buf[1024];

	s.cfg.probe = TKO_PROBE_ZERO;
	s.cfg.flags = TKO_F_STATE_GIVEN;	/* not oneshot */
	s.have = TKO_HAVE_L2;			/* neither sequence nor timestamps */
	s.state = TKO_LEARNING;
	format_session(&sample_key, &s, NOW_NS, true, buf, sizeof(buf));
	assert_true(json_is_object(buf));
	assert_non_null(strstr(buf, "\"state\":\"learning\","));
	assert_non_null(strstr(buf, "\"probe\":\"zero\",\"oneshot\":false,"
				    "\"learned\":false,\"timestamps\":false,"));
}

static void test_session_next_ms(void **state)
{
	static const struct {
		__u64 next_ns, now_ns, want_ms;
	} cases[] = {
		{ NOW_NS + 1500999999ULL, NOW_NS, 1500 },	/* rounded down */
		{ NOW_NS + 1000000ULL, NOW_NS, 1 },
		{ NOW_NS + 999999ULL, NOW_NS, 0 },
		{ NOW_NS, NOW_NS, 0 },				/* due now */
		{ NOW_NS - 1, NOW_NS, 0 },			/* overdue: never negative */
		{ 0, NOW_NS, 0 },				/* no timer armed */
		{ 60000000000ULL, 0, 60000 },
		{ UINT64_MAX, 0, UINT64_MAX / 1000000 },
		{ UINT64_MAX, UINT64_MAX - 5000000000ULL, 5000 },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct tko_session s = sample_session();
		char buf[1024], want[64];

		s.next_ns = cases[i].next_ns;
		format_session(&sample_key, &s, cases[i].now_ns, true, buf, sizeof(buf));
		snprintf(want, sizeof(want), ",\"next_ms\":%llu,",
			 (unsigned long long)cases[i].want_ms);
		if (!strstr(buf, want))
			fail_msg("case %zu: want %s in %s", i, want, buf);
	}
}

static void test_session_text(void **state)
{
	struct tko_session s = sample_session();
	char buf[512];
	const char *want = "192.168.0.2:40000      203.0.113.7:443        active     30     45     "
			   "12      11        7            3735928559  305419896";
	int n = format_session(&sample_key, &s, NOW_NS, false, buf, sizeof(buf));

	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	assert_null(strchr(buf, '\n'));
}

/* Every column of a row starts where its header title starts. */
static void test_session_columns(void **state)
{
	const char *hdr = session_header();
	struct tko_session s = sample_session();
	char row[512];
	size_t hcols[16], ncols = 0, rcols = 0;

	/* the widest IPv4 endpoints and configuration values fit their columns */
	struct tko_key k = {
		.family = TKO_AF_INET, .lport = 65535, .rport = 65535,
		.laddr = { 255, 255, 255, 255 }, .raddr = { 255, 255, 255, 254 },
	};
	s.state = TKO_SUSPENDED;
	s.cfg.idle_s = TKO_TIME_MAX;
	s.cfg.interval_s = TKO_TIME_MAX;
	s.cnt.probes_sent = 9999999;
	s.cnt.probes_answered = 999999999;
	s.cnt.peer_probes_answered = 999999999;
	s.tcp.snd_nxt = 4294967295U;
	format_session(&k, &s, NOW_NS, false, row, sizeof(row));

	assert_null(strchr(hdr, '\n'));
	for (size_t i = 0; hdr[i]; i++)
		if (hdr[i] != ' ' && (i == 0 || hdr[i - 1] == ' ')) {
			assert_true(ncols < ARRAY_LEN(hcols));
			hcols[ncols++] = i;
		}
	assert_int_equal(ncols, 10);	/* LOCAL REMOTE STATE IDLE INTVL PROBES ... RCV_NXT */
	for (size_t i = 0; row[i]; i++)
		if (row[i] != ' ' && (i == 0 || row[i - 1] == ' ')) {
			assert_true(rcols < ncols);
			if (i != hcols[rcols])
				fail_msg("column %zu starts at %zu, header at %zu\n%s\n%s", rcols, i,
					 hcols[rcols], hdr, row);
			rcols++;
		}
	assert_int_equal(rcols, ncols);
}

static int render_session(void *ctx, char *buf, size_t len)
{
	struct tko_session s = sample_session();

	return format_session(&sample_key, &s, NOW_NS, *(bool *)ctx, buf, len);
}

static void test_session_truncation(void **state)
{
	bool json = true;

	check_truncation(sample_session_json, render_session, &json);
	json = false;
	check_truncation("192.168.0.2:40000      203.0.113.7:443        active     30     45     "
			 "12      11        7            3735928559  305419896",
			 render_session, &json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_checker),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_event_names),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_answer_names),
		cmocka_unit_test(test_iface),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_endpoint_truncation),
		cmocka_unit_test(test_event_text),
		cmocka_unit_test(test_event_json),
		cmocka_unit_test(test_event_text_ipv6_unknown),
		cmocka_unit_test(test_event_json_valid_everywhere),
		cmocka_unit_test(test_event_truncation),
		cmocka_unit_test(test_session_json),
		cmocka_unit_test(test_session_json_flags),
		cmocka_unit_test(test_session_next_ms),
		cmocka_unit_test(test_session_text),
		cmocka_unit_test(test_session_columns),
		cmocka_unit_test(test_session_truncation),
		cmocka_unit_test(test_session_json_wake),
	};

	return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
