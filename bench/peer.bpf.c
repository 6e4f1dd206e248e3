// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The simulated peer of the wire benchmarks, attached (XDP) to the peer
 * namespace's veth. It stands for the server at the far end, the same for
 * every approach compared, so that what differs between runs is the
 * endpoint side only:
 *  - MODE_SINK: count and drop the endpoint's pure ACKs (the answers to the
 *    probes the benchmark sends), so the peer's own stack costs nothing;
 *  - MODE_REFLECT: answer every keepalive-like segment from the endpoint
 *    (bare ACK with 0 or 1 byte: a probe, or a 1-byte heartbeat) as a Linux
 *    peer would: a pure ACK with seq = its ack and ack = its seq + 1,
 *    sent back with XDP_TX. For timing, the arrival of each of tko's probes
 *    is compared with the moment it was due (tko's session table and its
 *    index, shared: the session is found as tko's own programs find it).
 * Frames from other addresses, or with options, pass untouched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "tko_types.h"
#include "tko_hash.h"

#define ETH_P_IP_	0x0800
#define IPPROTO_TCP_	6
#define TH_FIN_		0x01
#define TH_SYN_		0x02
#define TH_RST_		0x04
#define TH_ACK_		0x10
#define FRAME_LEN	(14 + 20 + 20)
#define MAX_SAMPLES	65536

enum { MODE_PASS = 0, MODE_SINK = 1, MODE_REFLECT = 2 };

/* Set by the benchmark before it arms the mode. */
volatile __u32 mode;
volatile __u32 endpoint_net;	/* the endpoint side's prefix, network order */
volatile __u32 endpoint_mask;
volatile __u32 peer_addr;
volatile __u32 track;		/* 1: record tko's probe delays (tko's table shared) */

__u64 seen, sunk, reflected;	/* counters, read by the benchmark */
__u32 nsamples;
__s64 late_ns[MAX_SAMPLES];	/* arrival - due, per probe */
__s64 queue_ns[MAX_SAMPLES];	/* arrival - the carrier pass that sent it */

/* tko's session table, its index and geometry (fds handed over). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_session);
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_bucket);
} sessions_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tko_table);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tko_key);
	__type(value, __u64);
} last_probe SEC(".maps");

static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* RFC 1071 over n 16-bit words. */
static __always_inline __u32 add_words(const __u16 *p, int n, __u32 sum)
{
#pragma unroll
	for (int i = 0; i < n; i++)
		sum += p[i];
	return sum;
}

/* Bucket b's entry for key (tag), as tko's session_find() reads it. */
static __always_inline struct tko_session *bucket_find(__u32 b, __u32 tag,
							const struct tko_key *k)
{
	struct tko_bucket *bk = bpf_map_lookup_elem(&sessions_index, &b);
	struct tko_session *s;
	__u32 e, id;

	if (!bk)
		return NULL;
	for (int i = 0; i < TKO_BUCKET_SLOTS; i++) {
		e = bk->slot[i];
		if (!e || tko_index_tag(e) != tag)
			continue;
		id = tko_index_id(e);
		s = bpf_map_lookup_elem(&sessions, &id);
		if (s && s->state == TKO_ACTIVE && tko_key_equal(&s->key, k))
			return s;
	}
	return NULL;
}

static __always_inline struct tko_session *session_of(const struct tko_key *k)
{
	__u32 zero = 0;
	struct tko_table *t = bpf_map_lookup_elem(&table, &zero);
	struct tko_session *s;
	__u64 h;

	if (!t || !t->buckets)
		return NULL;
	h = tko_hash_key(k, t->seed);
	s = bucket_find(tko_hash_bucket(h, t->buckets, 0), tko_hash_tag(h), k);
	return s ? s : bucket_find(tko_hash_bucket(h, t->buckets, 1), tko_hash_tag(h), k);
}

/*
 * One of tko's probes arrived: how late against its due time? An answered
 * session is due interval_s after its previous probe left (probe_ns).
 */
static __always_inline void record_delay(const struct iphdr *ip, const struct tcphdr *th)
{
	struct tko_key k = { .family = TKO_AF_INET };
	struct tko_session *s;
	__u64 now = bpf_ktime_get_ns(), *prev;
	__u32 i;

	k.lport = bpf_ntohs(th->source);
	k.rport = bpf_ntohs(th->dest);
	__builtin_memcpy(k.laddr, &ip->saddr, 4);
	__builtin_memcpy(k.raddr, &ip->daddr, 4);
	s = session_of(&k);
	if (!s || !s->probe_ns)
		return;
	prev = bpf_map_lookup_elem(&last_probe, &k);
	if (prev && *prev != s->probe_ns) {
		i = __sync_fetch_and_add(&nsamples, 1);
		if (i < MAX_SAMPLES) {
			late_ns[i] = (__s64)(now - (*prev + (__u64)s->cfg.interval_s * 1000000000ULL));
			queue_ns[i] = (__s64)(now - s->probe_ns);
		}
	}
	bpf_map_update_elem(&last_probe, &k, (__u64 *)&s->probe_ns, BPF_ANY);
}

static __always_inline int reflect(struct xdp_md *ctx, struct ethhdr *eth, struct iphdr *ip,
				   struct tcphdr *th, __u32 payload)
{
	void *data_end = (void *)(long)ctx->data_end;
	__u8 mac[6];
	__u32 a, seq = bpf_ntohl(th->seq), sum;
	__u16 port;

	if (track && !payload)
		record_delay(ip, th);
	__builtin_memcpy(mac, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, mac, 6);
	a = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = a;
	ip->tot_len = bpf_htons(40);
	ip->ttl = 64;
	ip->check = 0;
	port = th->source;
	th->source = th->dest;
	th->dest = port;
	th->seq = th->ack_seq;
	th->ack_seq = bpf_htonl(seq + 1);	/* a probe's SND.NXT - 1, or one new byte */
	((__u8 *)th)[13] = TH_ACK_;
	th->check = 0;
	th->urg_ptr = 0;
	if ((void *)(th + 1) > data_end)
		return XDP_PASS;
	ip->check = fold(add_words((__u16 *)ip, 10, 0));
	/* pseudo header: addresses, protocol, TCP length 20 */
	sum = add_words((__u16 *)&ip->saddr, 4, bpf_htons(IPPROTO_TCP_) + bpf_htons(20));
	th->check = fold(add_words((__u16 *)th, 10, sum));
	if (bpf_xdp_adjust_tail(ctx, FRAME_LEN - (int)(data_end - (void *)(long)ctx->data)))
		return XDP_DROP;
	__sync_fetch_and_add(&reflected, 1);
	return XDP_TX;
}

SEC("xdp")
int bench_peer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1);
	__u32 payload;
	__u8 flags;

	if (mode == MODE_PASS || (void *)(th + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP_) || ip->ihl != 5 || ip->protocol != IPPROTO_TCP_ ||
	    (ip->saddr & endpoint_mask) != endpoint_net || ip->daddr != peer_addr || th->doff != 5)
		return XDP_PASS;
	__sync_fetch_and_add(&seen, 1);
	flags = ((__u8 *)th)[13];
	payload = bpf_ntohs(ip->tot_len) - 40;
	if (flags & (TH_SYN_ | TH_FIN_ | TH_RST_) || !(flags & TH_ACK_) || payload > 1)
		return XDP_PASS;
	if (mode == MODE_SINK) {
		if (payload)
			return XDP_PASS;
		__sync_fetch_and_add(&sunk, 1);
		return XDP_DROP;
	}
	return reflect(ctx, eth, ip, th, payload);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
