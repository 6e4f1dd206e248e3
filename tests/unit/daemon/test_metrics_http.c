// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of agent/daemon/metrics_http.c: the --metrics address (the server itself: tests/e2e/metrics.sh). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "metrics_http.h"

static void test_ipv4(void **state)
{
	struct metrics_addr a;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;
	char err[256] = "";

	assert_int_equal(metrics_parse_addr("10.1.2.3:9464", &a, err, sizeof(err)), 0);
	assert_int_equal(a.len, sizeof(*sin));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 9464);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x0a010203);
	assert_string_equal(a.text, "10.1.2.3:9464");
}

static void test_ipv6(void **state)
{
	struct metrics_addr a;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.ss;
	struct in6_addr want;
	char err[256] = "";

	assert_int_equal(metrics_parse_addr("[fd00::1]:80", &a, err, sizeof(err)), 0);
	inet_pton(AF_INET6, "fd00::1", &want);
	assert_int_equal(a.len, sizeof(*sin6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 80);
	assert_memory_equal(&sin6->sin6_addr, &want, 16);
	assert_string_equal(a.text, "[fd00::1]:80");
	/* all addresses */
	assert_int_equal(metrics_parse_addr("[::]:9464", &a, err, sizeof(err)), 0);
	assert_string_equal(a.text, "[::]:9464");
}

static void test_bad(void **state)
{
	static const char *bad[] = {
		"", "9464", "10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "fd00::1:80",
		"[fd00::1]", "[10.0.0.1]:80x", "localhost:9464", "10.0.0.1:9464 ",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct metrics_addr a;
		char err[256] = "";

		if (metrics_parse_addr(bad[i], &a, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		if (strncmp(err, "--metrics: ", 11) || strchr(err, '\n'))
			fail_msg("'%s': message \"%s\" is not one line naming --metrics", bad[i], err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
