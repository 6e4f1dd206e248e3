// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the drivers report about tko's XDP_TX answers. XDP_TX only hands a
 * frame to the driver; whether it leaves is known later, and only through
 * tracepoints: veth reports each bulk of XDP_TX frames at the end of its
 * NAPI poll (xdp_bulk_tx: sent, dropped; it drops them all while its peer
 * runs no XDP), other drivers an XDP_TX they could not queue
 * (xdp_exception). Both fire on the CPU that ran XDP ingress, right after
 * it, so the answers not yet reported are in that CPU's xdp_pending. A
 * dropped answer is taken back from the counts (it was never delivered),
 * counted as lost, and the interface falls back to answering from TC
 * ingress: the peer's next probe is answered there.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lib/table.h"

/* drops of the last answers in q (the most recent ones) were not sent. */
static __always_inline void answers_dropped(struct tko_iface *ifc, struct tko_xdp_pending *q,
					    __u32 drops)
{
	__u32 i, n = q->n;

	if (n > TKO_XDP_PENDING)
		n = TKO_XDP_PENDING;
	for (i = 0; i < TKO_XDP_PENDING && i < drops; i++) {
		/* The count was made on this CPU (same NAPI poll): take it
		 * back here, the sum over CPUs is then right. */
		stat_dec(TKO_ST_PEER_PROBES_ANSWERED);
		stat_dec(TKO_ST_ANSWERS_XDP);
		stat_inc(TKO_ST_ANSWERS_LOST);
		__sync_fetch_and_add(&ifc->answers_lost, 1);
		if (ifc->answers_xdp)
			__sync_fetch_and_sub(&ifc->answers_xdp, 1);
		if (i < n) {
			struct tko_session *s = session_get(q->id[(q->n - 1 - i) &
								 (TKO_XDP_PENDING - 1)]);

			if (s && s->cnt.peer_probes_answered)
				__sync_fetch_and_sub(&s->cnt.peer_probes_answered, 1);
		}
	}
	q->n = drops < q->n ? q->n - drops : 0;
	/* Never again on this interface: a driver that dropped one answer
	 * drops the next (veth while its peer has no XDP). */
	ifc->why = TKO_WHY_XDP_LOST;
	ifc->path = TKO_ANSWER_TC;
}

static __always_inline int report(const struct net_device *dev, __u32 drops, bool flushed)
{
	__u32 ifindex = dev->ifindex, zero = 0;
	struct tko_xdp_pending *q;
	struct tko_iface *ifc;

	ifc = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (!ifc || ifc->path != TKO_ANSWER_XDP)
		return 0;
	q = bpf_map_lookup_elem(&xdp_pending, &zero);
	if (!q || q->ifindex != ifindex || !q->n)
		return 0;	/* none of tko's answers outstanding here */
	if (drops)
		answers_dropped(ifc, q, drops);
	if (flushed)
		q->n = 0;	/* the bulk was all that was outstanding */
	return 0;
}

SEC("tp_btf/xdp_bulk_tx")
int BPF_PROG(tko_xdp_bulk_tx, const struct net_device *dev, int sent, int drops, int err)
{
	return report(dev, drops > 0 ? drops : 0, true);
}

SEC("tp_btf/xdp_exception")
int BPF_PROG(tko_xdp_exception, const struct net_device *dev, const struct bpf_prog *xdp,
	     __u32 act)
{
	return act == XDP_TX ? report(dev, 1, false) : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
