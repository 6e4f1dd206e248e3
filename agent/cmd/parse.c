// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "session_opts.h"

#define fail(code, ...) do { snprintf(err, errlen, __VA_ARGS__); return -(code); } while (0)

int parse_uint(const char *s, const char *name, unsigned long min, unsigned long max,
	       __u32 *out, char *err, size_t errlen)
{
	unsigned long long v;
	char *end;

	/* strtoull would accept leading whitespace and a sign: only digits are a number */
	if (!s || !isdigit((unsigned char)*s))
		fail(EINVAL, "%s: '%s' is not a whole number", name, s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		fail(EINVAL, "%s: '%s' is not a whole number", name, s);
	if (errno == ERANGE || v < min || v > max)
		fail(ERANGE, "%s: %s is out of range (%lu..%lu)", name, s, min, max);
	*out = (__u32)v;
	return 0;
}

int parse_endpoint(const char *s, __u8 *family, __u8 addr[16], __u16 *port,
		   char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *p;
	size_t hlen;
	__u32 v;

	if (!s || !*s)
		fail(EINVAL, "missing address: expected ADDR:PORT or [ADDR6]:PORT");
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			fail(EINVAL, "bad address '%s': expected [ADDR6]:PORT", s);
		hlen = close - s - 1;
		p = s + 1;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			fail(EINVAL, "bad address '%s': expected ADDR:PORT or [ADDR6]:PORT", s);
		hlen = colon - s;
		p = s;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		fail(EINVAL, "bad address '%s': expected ADDR:PORT or [ADDR6]:PORT", s);
	memcpy(host, p, hlen);
	host[hlen] = '\0';

	memset(addr, 0, 16);
	if (*s == '[') {
		if (inet_pton(AF_INET6, host, addr) != 1)
			fail(EINVAL, "bad address '%s': '%s' is not an IPv6 address", s, host);
		*family = TKO_AF_INET6;
		/* ::ffff:a.b.c.d is IPv4 on the wire (how ss shows such sockets). */
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)addr)) {
			memmove(addr, addr + 12, 4);
			memset(addr + 4, 0, 12);
			*family = TKO_AF_INET;
		}
	} else {
		if (inet_pton(AF_INET, host, addr) != 1)
			fail(EINVAL, "bad address '%s': '%s' is not an IPv4 address", s, host);
		*family = TKO_AF_INET;
	}
	if (parse_uint(colon + 1, "port", 1, 65535, &v, err, errlen)) {
		char why[128];

		snprintf(why, sizeof(why), "%s", err);
		fail(EINVAL, "bad address '%s': %s", s, why);
	}
	*port = (__u16)v;
	return 0;
}

int parse_key(const char *local, const char *remote, struct tko_key *key,
	      char *err, size_t errlen)
{
	__u8 rfamily;
	int ret;

	memset(key, 0, sizeof(*key));
	ret = parse_endpoint(local, &key->family, key->laddr, &key->lport, err, errlen);
	if (ret)
		return ret;
	ret = parse_endpoint(remote, &rfamily, key->raddr, &key->rport, err, errlen);
	if (ret)
		return ret;
	if (rfamily != key->family)
		fail(EINVAL, "'%s' and '%s' are not the same address family", local, remote);
	return 0;
}

int parse_probe(const char *s, __u8 *probe, char *err, size_t errlen)
{
	struct tko_config cfg = { .probe = *probe };
	int ret = session_opt_set(SO_START, session_opt_find(SO_START, "probe"), s, &cfg, NULL,
				  err, errlen);

	if (!ret)
		*probe = cfg.probe;
	return ret;
}

int parse_state(const char *s, struct tko_tcp_state *tcp, __u8 *have,
		char *err, size_t errlen)
{
	enum { SND, RCV, WIN, WSCALE, TSVAL, TSECR, NFIELDS };
	static const struct {
		const char *name;
		unsigned long max;
	} fields[NFIELDS] = {
		[SND] = { "snd_nxt", 0xffffffffUL }, [RCV] = { "rcv_nxt", 0xffffffffUL },
		[WIN] = { "win", 0xffff }, [WSCALE] = { "wscale", 14 },	/* RFC 7323 2.3 */
		[TSVAL] = { "tsval", 0xffffffffUL }, [TSECR] = { "tsecr", 0xffffffffUL },
	};
	__u32 val[NFIELDS] = {};
	unsigned int seen = 0;
	char buf[256], *tok, *save = NULL;
	int i;

	if (!s || strlen(s) >= sizeof(buf))
		fail(EINVAL, "--state: expected snd_nxt=N,rcv_nxt=N,win=N[,wscale=N][,tsval=N,tsecr=N]");
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), name[64];
		int ret;

		if (!eq)
			fail(EINVAL, "--state: '%s' is not NAME=VALUE", tok);
		*eq = '\0';
		for (i = 0; i < NFIELDS; i++)
			if (!strcmp(tok, fields[i].name))
				break;
		if (i == NFIELDS)
			fail(EINVAL, "--state: unknown field '%s' (snd_nxt, rcv_nxt, win, wscale, tsval, tsecr)", tok);
		if (seen & (1u << i))
			fail(EINVAL, "--state: '%s' given twice", tok);
		snprintf(name, sizeof(name), "--state %s", tok);
		ret = parse_uint(eq + 1, name, 0, fields[i].max, &val[i], err, errlen);
		if (ret)
			return ret;
		seen |= 1u << i;
	}
	for (i = SND; i <= WIN; i++)
		if (!(seen & (1u << i)))
			fail(EINVAL, "--state: '%s' is required", fields[i].name);
	if (!!(seen & (1u << TSVAL)) != !!(seen & (1u << TSECR)))
		fail(EINVAL, "--state: tsval and tsecr go together");

	memset(tcp, 0, sizeof(*tcp));
	tcp->snd_nxt = val[SND];
	tcp->rcv_nxt = val[RCV];
	tcp->window = (__u16)val[WIN];
	tcp->wscale = (__u8)val[WSCALE];
	tcp->ts_val = val[TSVAL];
	tcp->ts_ecr = val[TSECR];
	*have = TKO_HAVE_SEQ | ((seen & (1u << TSVAL)) ? TKO_HAVE_TS : 0);
	return 0;
}

int parse_bool(const char *s, bool *on)
{
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1"))
		*on = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0"))
		*on = false;
	else
		return -EINVAL;
	return 0;
}

int parse_mac(const char *s, __u8 mac[6])
{
	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (__u8)strtoul((char[]){ s[3 * i], s[3 * i + 1], '\0' }, NULL, 16);
	return 0;
}

int parse_wake(const char *s, bool with_mac, struct tko_config *cfg, char *err, size_t errlen)
{
	static const __u8 zero[6];
	__u8 mac[6] = {};

	if (s && !strcmp(s, "none")) {
		cfg->flags &= ~TKO_F_WAKE;
	} else if (s && !strcmp(s, "auto")) {
		cfg->flags |= TKO_F_WAKE;
	} else if (!with_mac) {
		fail(EINVAL, "--wake: '%s' is not one of auto, none", s ? s : "");
	} else if (parse_mac(s, mac)) {
		fail(EINVAL, "--wake: '%s' is not auto, none or a MAC address (aa:bb:cc:dd:ee:ff)",
		     s ? s : "");
	} else if ((mac[0] & 1) || !memcmp(mac, zero, 6)) {
		fail(EINVAL, "--wake: %s is not the address of one machine (multicast or zero)", s);
	} else {
		cfg->flags |= TKO_F_WAKE;
	}
	memcpy(cfg->wake_mac, mac, 6);
	return 0;
}
