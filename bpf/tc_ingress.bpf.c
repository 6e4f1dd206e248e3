// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TC ingress: answers the peer's keepalive probes on the interfaces where
 * XDP_TX is not delivered (struct tko_iface.path == TKO_ANSWER_TC). veth
 * hands an XDP_TX frame to its peer only while the peer runs XDP itself, and
 * drops it silently otherwise: a pod's or container's peer is the host's end
 * of the veth, which runs nothing of ours. There, XDP ingress passes the
 * probe, and this program forges the answer over it and sends it out of
 * the same device with bpf_clone_redirect(), whose return says whether the
 * device took it: only then is it counted. Everything else passes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "lib/answer.h"
#include "lib/coarse.h"
#include "lib/consts.h"
#include "lib/conntrack.h"

/* IP header + TCP header of a probe, the most the answer rewrites. */
#define MAX_L3L4_LEN	(40 + 60)

/*
 * The skb's checksum state (CHECKSUM_*), which the answer must keep true.
 * At run time a TC program's context is the struct sk_buff itself;
 * __sk_buff has no ip_summed, so it is read from there (a CO-RE bitfield
 * read: its bit position differs between kernels), with
 * bpf_probe_read_kernel() (bpf_cast_to_kern_ctx() needs Linux 6.2).
 */
static __always_inline __u8 skb_ip_summed(struct __sk_buff *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx;

	return BPF_CORE_READ_BITFIELD_PROBED(skb, ip_summed);
}

/* The probe's IP and TCP headers (len bytes from the IP header) into buf. */
static __always_inline int load_headers(struct __sk_buff *skb, __u32 l3_off, __u32 len,
					__u8 *buf)
{
	if (len > MAX_L3L4_LEN || len & 3)
		return -1;
	return bpf_skb_load_bytes(skb, l3_off, buf, len);
}

/*
 * Forge the answer over the probe and hand it to the device's egress. The
 * checksum follows the skb's state, as the stack's own segments do:
 * CHECKSUM_PARTIAL (the probe came from a local stack: veth, tap) leaves
 * the sum to whoever finishes it, so the TCP checksum field holds only the
 * pseudo-header's; CHECKSUM_COMPLETE has skb->csum follow the rewrite;
 * otherwise the checksums are complete as forged.
 */
static __always_inline int tc_answer_probe(struct __sk_buff *skb, struct pkt *p, __u32 id,
					   struct tko_session *s, struct tko_iface *ifc, __u64 now)
{
	void *data_end = (void *)(long)skb->data_end;
	__u8 summed = skb_ip_summed(skb);
	__u32 l3_off = p->l3_off;
	__u32 hdrs = (p->v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) + p->tcp->doff * 4;
	__u8 buf[MAX_L3L4_LEN] = {};
	__s64 diff = 0;
	int len, err;

	/* skb->csum covers the probe's headers: take them out of it. */
	if (summed == CHECKSUM_COMPLETE) {
		if (load_headers(skb, l3_off, hdrs, buf))
			return TC_ACT_OK;
		diff = bpf_csum_diff((__be32 *)buf, hdrs, NULL, 0, 0);
		if (diff < 0)
			return TC_ACT_OK;
	}
	len = forge_answer(p, s, data_end);
	if (len < 0) {
		answer_rewrite_failed(id, s);
		return TC_ACT_OK;	/* untouched: the endpoint answers it */
	}
	if (summed == CHECKSUM_PARTIAL) {
		__u32 tcp_len = len - l3_off - (p->v6 ? sizeof(struct ipv6hdr) :
							 sizeof(struct iphdr));

		p->tcp->check = ~csum_fold32(pseudo_sum(p, tcp_len));
	} else if (summed == CHECKSUM_COMPLETE) {
		/* ... and the answer's in. Bytes past the answer's headers are
		 * still the probe's: they cancel out here, and the trim below
		 * takes them out of skb->csum. */
		if (load_headers(skb, l3_off, hdrs, buf))
			goto refused;
		diff = bpf_csum_diff(NULL, 0, (__be32 *)buf, hdrs, diff);
		if (diff < 0)
			goto refused;
		bpf_csum_update(skb, diff);
	}
	if (bpf_skb_change_tail(skb, len, 0))
		goto refused;
	skb->mark = TKO_MARK;	/* tko's own TC egress must not learn from it */
	/* dev_queue_xmit()'s verdict. NET_XMIT_CN is a congestion notice of
	 * a queueing qdisc: the answer was queued, unless the link is down
	 * (its noop qdisc drops everything and says CN). -ENETDOWN and
	 * NET_XMIT_DROP are drops. */
	err = bpf_clone_redirect(skb, skb->ifindex, 0);
	if (err && !(err == NET_XMIT_CN && !ifc->down))
		goto refused;
	answer_sent(s, p, ifc, TKO_ANSWER_TC);
	ct_refresh_skb(skb, id, s, now);	/* the answer does not cross netfilter */
	return TC_ACT_STOLEN;	/* the probe became the answer: consumed */
refused:
	stat_inc(TKO_ST_ANSWER_ERRORS);
	__sync_fetch_and_add(&ifc->answer_errors, 1);
	return TC_ACT_SHOT;
}

SEC("tc")
int tko_tc_ingress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct tko_session *s;
	struct tko_iface *ifc;
	struct tko_key key;
	struct pkt p = {};
	__u64 now;
	int id;

	ifc = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (!ifc || ifc->path != TKO_ANSWER_TC)
		return TC_ACT_OK;	/* XDP answers here (or the interface is not ours) */

	if (parse_skb(skb, &p))
		return TC_ACT_OK;
	pkt_key(&p, &key, true);
	id = session_find(&key);
	if (id < 0)
		return TC_ACT_OK;
	s = session_get(id);
	if (!s || !(s->have & TKO_HAVE_SEQ))
		return TC_ACT_OK;
	/* XDP ingress has judged every other segment already. */
	if (s->state != TKO_ACTIVE || !is_peer_probe(&p, s))
		return TC_ACT_OK;
	now = coarse_ns();
	if (!answer_wanted(id, &p, s, now))
		return TC_ACT_OK;
	return tc_answer_probe(skb, &p, id, s, ifc, now);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
