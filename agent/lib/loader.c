// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "log.h"
#include "ctl.skel.h"
#include "xdp_ingress.skel.h"
#include "tc_egress.skel.h"
#include "tc_ingress.skel.h"
#include "xdp_tx_report.skel.h"
#include "carrier.skel.h"
#include "sock_iter.skel.h"
#include "sockops.skel.h"

int log_verbose;

/*
 * libbpf speaks only with -v: tko's own message says what failed in one
 * line; the verifier log and the kernel's extack text are the details.
 */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (!log_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void tko_bpf_setup_logging(void)
{
	libbpf_set_print(libbpf_print);
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* b's objects, the control object first: it makes the maps they share. */
#define OBJECTS(b) { (b)->ctl->obj, (b)->xdp->obj, (b)->tc->obj, (b)->tci->obj,	\
		     (b)->report->obj, (b)->carrier->obj, (b)->iter->obj,		\
		     (b)->sockops->obj }

/* Maps private to their object: never shared, whatever another object names its own. */
static const char *const private_maps[] = {
	"frame_buf",	/* the frame the carrier builds, off the stack: per CPU, its own */
};

/* Never shared: .rodata, .bss, .data (each object's own globals), private maps. */
static bool private_map(const struct bpf_map *m)
{
	for (size_t i = 0; i < ARRAY_LEN(private_maps); i++)
		if (!strcmp(bpf_map__name(m), private_maps[i]))
			return true;
	return bpf_map__is_internal(m);
}

int tko_bpf_share(const struct tko_bpf *b, struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		const struct bpf_map *src = private_map(m) ? NULL :
			bpf_object__find_map_by_name(b->ctl->obj, bpf_map__name(m));
		int err;

		if (!src)
			continue;
		/* One definition of a shared map (bpf/lib/maps.h): another
		 * one would only fail, or worse not, at the verifier. */
		if (bpf_map__type(m) != bpf_map__type(src) ||
		    bpf_map__key_size(m) != bpf_map__key_size(src) ||
		    bpf_map__value_size(m) != bpf_map__value_size(src)) {
			pr_warn("map %s of %s is not the control object's map of that name",
				bpf_map__name(m), bpf_object__name(obj));
			return -EINVAL;
		}
		err = bpf_map__reuse_fd(m, bpf_map__fd(src));
		if (err) {
			pr_warn("cannot share map %s: %s", bpf_map__name(src), strerror(-err));
			return err;
		}
	}
	return 0;
}

/* One map per name: every other object takes the (loaded) control object's. */
static int share_maps(const struct tko_bpf *b)
{
	struct bpf_object *objs[] = OBJECTS(b);
	int err = 0;

	for (size_t i = 1; i < ARRAY_LEN(objs) && !err; i++)
		err = tko_bpf_share(b, objs[i]);
	return err;
}

__u32 tko_index_buckets(__u32 max_sessions)
{
	__u32 want = (max_sessions + TKO_BUCKET_SLOTS / 2 - 1) / (TKO_BUCKET_SLOTS / 2), b = 2;

	/* Half full at most when the table is: two choices then never find
	 * both buckets of a tuple full (see docs/architecture.md). */
	while (b < want)
		b <<= 1;
	return b;
}

/*
 * The programs that share the control object's maps load independently: in
 * parallel, as many at once as there are CPUs. Most of an agent's start is
 * here (libbpf reads the kernel's BTF once per object for CO-RE, then the
 * verifier), and each of it runs on one CPU.
 */
struct load_job {
	const char *what;
	int (*load)(struct tko_bpf *b);
};

static int load_xdp(struct tko_bpf *b) { return tko_xdp_ingress__load(b->xdp); }
static int load_tc(struct tko_bpf *b) { return tko_tc_egress__load(b->tc); }
static int load_carrier(struct tko_bpf *b) { return tko_carrier__load(b->carrier); }
static int load_sockops(struct tko_bpf *b) { return tko_sockops__load(b->sockops); }
static int load_iter(struct tko_bpf *b) { return tko_sock_iter__load(b->iter); }
static int load_tci(struct tko_bpf *b) { return tko_tc_ingress__load(b->tci); }
static int load_report(struct tko_bpf *b) { return tko_xdp_tx_report__load(b->report); }

static const struct load_job load_jobs[] = {
	{ "the sockops program", load_sockops },
	{ "the TC egress program", load_tc },
	{ "the XDP ingress program", load_xdp },
	{ "the TC ingress program", load_tci },
	{ "the XDP_TX report programs", load_report },
	{ "the carrier program", load_carrier },
	{ "the socket capture iterator", load_iter },
};

#define N_LOAD_JOBS (sizeof(load_jobs) / sizeof(load_jobs[0]))

struct loader {
	struct tko_bpf *b;
	unsigned int next;	/* the next job to take */
	int err[N_LOAD_JOBS];
};

static void *load_worker(void *arg)
{
	struct loader *l = arg;
	unsigned int i;

	while ((i = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED)) < N_LOAD_JOBS)
		l->err[i] = load_jobs[i].load(l->b);
	return NULL;
}

static int load_parallel(struct tko_bpf *b)
{
	struct loader l = { .b = b };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th[N_LOAD_JOBS];
	unsigned int n = 0;

	/* This thread works too; the others are helpers (none if a thread
	 * cannot be made: the loads then run one after the other). */
	while (n + 1 < N_LOAD_JOBS && (long)n + 1 < cpus &&
	       !pthread_create(&th[n], NULL, load_worker, &l))
		n++;
	load_worker(&l);
	while (n)
		pthread_join(th[--n], NULL);
	for (unsigned int i = 0; i < N_LOAD_JOBS; i++)
		if (l.err[i]) {
			pr_warn("cannot load %s: %s (-v shows the verifier log)", load_jobs[i].what,
				strerror(-l.err[i]));
			return l.err[i];
		}
	return 0;
}

bool tko_ct_kfuncs(void)
{
	static const char *const needed[] = {
		"bpf_xdp_ct_lookup", "bpf_skb_ct_lookup", "bpf_ct_change_timeout", "bpf_ct_release",
	};
	static int known = -1;	/* the kernel's BTF does not change under us */
	struct btf *vmlinux, *mod = NULL;
	bool ok;

	if (known >= 0)
		return known;
	vmlinux = btf__load_vmlinux_btf();
	ok = vmlinux != NULL;

	/* Where libbpf resolves kfuncs: the kernel's BTF, or the module's. */
	if (ok && btf__find_by_name_kind(vmlinux, needed[0], BTF_KIND_FUNC) < 0)
		mod = btf__load_module_btf("nf_conntrack", vmlinux);
	for (size_t i = 0; ok && i < sizeof(needed) / sizeof(needed[0]); i++)
		ok = btf__find_by_name_kind(mod ? mod : vmlinux, needed[i], BTF_KIND_FUNC) >= 0;
	btf__free(mod);
	btf__free(vmlinux);
	known = ok;
	return ok;
}

/* Does the kernel's struct type have a member of that name (BTF)? */
static bool kernel_has_member(const char *type, const char *member)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	const struct btf_member *m;
	const struct btf_type *t;
	bool found = false;
	int id;

	id = vmlinux ? btf__find_by_name_kind(vmlinux, type, BTF_KIND_STRUCT) : -1;
	t = id > 0 ? btf__type_by_id(vmlinux, id) : NULL;
	m = t ? btf_members(t) : NULL;
	for (int i = 0; m && i < btf_vlen(t) && !found; i++)
		found = !strcmp(btf__name_by_offset(vmlinux, m[i].name_off), member);
	btf__free(vmlinux);
	return found;
}

__u32 tko_kernel_features(bool carrier_ring)
{
	return (tko_ct_kfuncs() ? TKO_FEAT_CT_KFUNCS : 0) |
	       (carrier_ring ? TKO_FEAT_CARRIER_RING : 0) |
	       (kernel_has_member("tcp_sock", "tcp_usec_ts") ? TKO_FEAT_USEC_TS : 0);
}

int tko_bpf_load(struct tko_bpf *b, __u32 max_sessions)
{
	struct tko_table table = {};
	__u32 buckets, zero = 0;
	bool ct_absent;
	int err;

	memset(b, 0, sizeof(*b));
	b->ctl = tko_ctl__open();
	b->xdp = tko_xdp_ingress__open();
	b->tc = tko_tc_egress__open();
	b->tci = tko_tc_ingress__open();
	b->report = tko_xdp_tx_report__open();
	b->carrier = tko_carrier__open();
	b->iter = tko_sock_iter__open();
	b->sockops = tko_sockops__open();
	if (!b->ctl || !b->xdp || !b->tc || !b->tci || !b->report || !b->carrier || !b->iter ||
	    !b->sockops) {
		err = -errno;
		pr_warn("cannot open the BPF objects: %s", strerror(errno));
		goto fail;
	}
	/* The weak conntrack kfuncs are called only where they resolve
	 * (bpf/lib/conntrack.h); elsewhere the verifier drops the calls.
	 * Every object that calls one is told: XDP and TC ingress refresh
	 * the flow's entry, TC egress finds a sleeping device's address. */
	ct_absent = !tko_ct_kfuncs();
	b->xdp->rodata->ct_kfuncs_absent = ct_absent;
	b->tci->rodata->ct_kfuncs_absent = ct_absent;
	b->tc->rodata->ct_kfuncs_absent = ct_absent;
	if (!max_sessions)
		max_sessions = TKO_MAX_SESSIONS_DEFAULT;
	if (max_sessions > TKO_MAX_SESSIONS_LIMIT) {
		err = -E2BIG;
		pr_warn("a session table of %u: at most %u", max_sessions, TKO_MAX_SESSIONS_LIMIT);
		goto fail;
	}
	buckets = tko_index_buckets(max_sessions);
	/* Every queue has room for every id: each holds an id once at most. */
	err = bpf_map__set_max_entries(b->ctl->maps.sessions, max_sessions) ?:
	      bpf_map__set_max_entries(b->ctl->maps.sessions_index, buckets) ?:
	      bpf_map__set_max_entries(b->ctl->maps.free_ids, max_sessions) ?:
	      bpf_map__set_max_entries(b->ctl->maps.requests, max_sessions) ?:
	      bpf_map__set_max_entries(b->ctl->maps.need_l2, max_sessions);
	if (err)
		goto fail;
	err = tko_ctl__load(b->ctl);
	if (err) {
		pr_warn("cannot load the control programs: %s (-v shows the verifier log)", strerror(-err));
		goto fail;
	}
	/* The index's geometry and hash seed, before any program can run. */
	if (getrandom(&table.seed, sizeof(table.seed), 0) != sizeof(table.seed)) {
		err = -errno;
		pr_warn("cannot draw the index's hash seed: %s", strerror(errno));
		goto fail;
	}
	table.buckets = buckets;
	table.max_sessions = max_sessions;
	if (bpf_map_update_elem(bpf_map__fd(b->ctl->maps.table), &zero, &table, BPF_ANY)) {
		err = -errno;
		pr_warn("cannot set up the session table: %s", strerror(errno));
		goto fail;
	}
	err = share_maps(b) ?: load_parallel(b);
	if (err)
		goto fail;
	/* Attached for as long as the datapath lives (their links are pinned):
	 * they only look at interfaces in `ifaces`. */
	b->bulk_tx_link = bpf_program__attach(b->report->progs.tko_xdp_bulk_tx);
	b->exception_link = b->bulk_tx_link ?
			    bpf_program__attach(b->report->progs.tko_xdp_exception) : NULL;
	if (!b->exception_link) {
		err = -errno;
		pr_warn("cannot attach to the xdp tracepoints: %s", strerror(errno));
		goto fail;
	}
	b->iter_link = bpf_program__attach_iter(b->iter->progs.tko_capture, NULL);
	if (!b->iter_link) {
		err = -errno;
		pr_warn("cannot create the socket capture iterator: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	tko_bpf_destroy(b);
	return err;
}

void tko_bpf_destroy(struct tko_bpf *b)
{
	bpf_link__destroy(b->iter_link);
	bpf_link__destroy(b->exception_link);
	bpf_link__destroy(b->bulk_tx_link);
	tko_sock_iter__destroy(b->iter);
	tko_sockops__destroy(b->sockops);
	tko_carrier__destroy(b->carrier);
	tko_xdp_tx_report__destroy(b->report);
	tko_tc_ingress__destroy(b->tci);
	tko_tc_egress__destroy(b->tc);
	tko_xdp_ingress__destroy(b->xdp);
	tko_ctl__destroy(b->ctl);
	memset(b, 0, sizeof(*b));
}

const char *const pin_names[P_MAX] = {
	[P_SESSIONS] = PIN_SESSIONS, [P_EVENTS] = PIN_EVENTS, [P_EVENT_LOG] = PIN_EVENT_LOG,
	[P_EVENT_SEQ] = PIN_EVENT_SEQ, [P_STATS] = PIN_STATS, [P_INDEX] = PIN_INDEX,
	[P_TABLE] = PIN_TABLE, [P_FREE_IDS] = "free_ids", [P_REQUESTS] = "requests",
	[P_WHEEL] = "wheel", [P_CLOCK] = "clock",
	[P_CARRIER] = "carrier", [P_EV_STATS] = "ev_stats", [P_DEFAULTS] = "defaults",
	[P_CTL_START] = PIN_CTL_START, [P_CTL_STOP] = PIN_CTL_STOP,
	[P_PROG_XDP] = "prog_xdp_ingress", [P_PROG_TC] = "prog_tc_egress",
	[P_PROG_CARRIER] = "prog_carrier", [P_CAPTURE] = PIN_CAPTURE,
	[P_ITER_CAPTURE] = PIN_ITER_CAPTURE, [P_POLICIES] = PIN_POLICIES,
	[P_NEED_L2] = "need_l2", [P_AGENT_INFO] = PIN_AGENT_INFO, [P_CTL_SET_L2] = "ctl_set_l2",
	[P_PROG_SOCKOPS] = "prog_sockops", [P_CTL_START_BATCH] = PIN_CTL_START_BATCH,
	[P_SIGNALS] = "signals",
	[P_IFACES] = PIN_IFACES, [P_PROG_TC_INGRESS] = "prog_tc_ingress",
	[P_LINK_XDP_BULK_TX] = "link_xdp_bulk_tx", [P_LINK_XDP_EXCEPTION] = "link_xdp_exception",
	[P_POLICY_STATS] = PIN_POLICY_STATS, [P_POLICY_PREFIXES] = PIN_POLICY_PREFIXES,
	[P_FLOWS_CLOSED] = PIN_FLOWS_CLOSED, [P_CTL_SET_LINK] = "ctl_set_link",
	[P_FLOWS_OPENING] = "flows_opening", [P_CTL_WAKE_DONE] = "ctl_wake_done",
	[P_PROG_CARRIER_RX] = "prog_carrier_rx",
};

void tko_bpf_fds(const struct tko_bpf *b, struct tko_fds *f)
{
	const struct tko_ctl *c = b->ctl;

	f->fd[P_SESSIONS] = bpf_map__fd(c->maps.sessions);
	f->fd[P_EVENTS] = bpf_map__fd(c->maps.events);
	f->fd[P_EVENT_LOG] = bpf_map__fd(c->maps.event_log);
	f->fd[P_EVENT_SEQ] = bpf_map__fd(c->maps.event_seq);
	f->fd[P_STATS] = bpf_map__fd(c->maps.stats);
	f->fd[P_INDEX] = bpf_map__fd(c->maps.sessions_index);
	f->fd[P_TABLE] = bpf_map__fd(c->maps.table);
	f->fd[P_FREE_IDS] = bpf_map__fd(c->maps.free_ids);
	f->fd[P_REQUESTS] = bpf_map__fd(c->maps.requests);
	f->fd[P_WHEEL] = bpf_map__fd(c->maps.wheel);
	f->fd[P_CLOCK] = bpf_map__fd(c->maps.clock);
	f->fd[P_CARRIER] = bpf_map__fd(c->maps.carrier);
	f->fd[P_EV_STATS] = bpf_map__fd(c->maps.ev_stats);
	f->fd[P_DEFAULTS] = bpf_map__fd(c->maps.defaults);
	f->fd[P_CTL_START] = bpf_program__fd(c->progs.tko_start);
	f->fd[P_CTL_STOP] = bpf_program__fd(c->progs.tko_stop);
	f->fd[P_PROG_XDP] = bpf_program__fd(b->xdp->progs.tko_xdp_ingress);
	f->fd[P_PROG_TC] = bpf_program__fd(b->tc->progs.tko_tc_egress);
	f->fd[P_PROG_CARRIER] = bpf_program__fd(b->carrier->progs.tko_carrier);
	f->fd[P_CAPTURE] = bpf_map__fd(b->iter->maps.capture);
	f->fd[P_ITER_CAPTURE] = bpf_link__fd(b->iter_link);
	f->fd[P_POLICIES] = bpf_map__fd(c->maps.policies);
	f->fd[P_NEED_L2] = bpf_map__fd(c->maps.need_l2);
	f->fd[P_AGENT_INFO] = bpf_map__fd(c->maps.agent_info);
	f->fd[P_CTL_SET_L2] = bpf_program__fd(c->progs.tko_set_l2);
	f->fd[P_PROG_SOCKOPS] = bpf_program__fd(b->sockops->progs.tko_sockops);
	f->fd[P_CTL_START_BATCH] = bpf_program__fd(c->progs.tko_start_batch);
	f->fd[P_SIGNALS] = bpf_map__fd(c->maps.signals);
	f->fd[P_IFACES] = bpf_map__fd(c->maps.ifaces);
	f->fd[P_PROG_TC_INGRESS] = bpf_program__fd(b->tci->progs.tko_tc_ingress);
	f->fd[P_LINK_XDP_BULK_TX] = bpf_link__fd(b->bulk_tx_link);
	f->fd[P_LINK_XDP_EXCEPTION] = bpf_link__fd(b->exception_link);
	f->fd[P_POLICY_STATS] = bpf_map__fd(c->maps.policy_stats);
	f->fd[P_POLICY_PREFIXES] = bpf_map__fd(c->maps.policy_prefixes);
	f->fd[P_FLOWS_CLOSED] = bpf_map__fd(c->maps.flows_closed);
	f->fd[P_CTL_SET_LINK] = bpf_program__fd(c->progs.tko_set_link);
	f->fd[P_FLOWS_OPENING] = bpf_map__fd(c->maps.flows_opening);
	f->fd[P_CTL_WAKE_DONE] = bpf_program__fd(c->progs.tko_wake_done);
	f->fd[P_PROG_CARRIER_RX] = bpf_program__fd(b->carrier->progs.tko_carrier_rx);
}

int tko_bpf_pin(const struct tko_fds *f, const char *dir)
{
	char path[PATH_MAX];

	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_warn("cannot create pin directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < P_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pin_names[i]);
		if (bpf_obj_pin(f->fd[i], path)) {
			int err = -errno;

			pr_warn("cannot pin %s: %s", path, strerror(errno));
			tko_bpf_unpin(dir);
			return err;
		}
		/* Only root may change sessions, whatever the umask. */
		chmod(path, 0600);
	}
	return 0;
}

void tko_bpf_unpin(const char *dir)
{
	char path[PATH_MAX];

	for (int i = 0; i < P_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pin_names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, PIN_CONFIG_POLICIES);
	unlink(path);
	rmdir(dir);
}

void tko_fds_close(struct tko_fds *f)
{
	for (int i = 0; i < P_MAX; i++) {
		if (f->fd[i] >= 0)
			close(f->fd[i]);
		f->fd[i] = -1;
	}
}

__u32 tko_obj_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	/* bpf_prog_info and bpf_map_info both start with type, id. */
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/* A map pinned by another build of tko may have another layout: refuse it. */
static int check_map(int fd, const char *name, __u32 key_size, __u32 value_size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.key_size != key_size || info.value_size != value_size) {
		pr_warn("pinned map %s has another layout (key %u, value %u bytes; this tko "
			"wants %u, %u): made by another version; 'tko unload' removes it",
			name, info.key_size, info.value_size, key_size, value_size);
		return -EPROTO;
	}
	return 0;
}

int tko_pins_open(const char *dir, struct tko_fds *f)
{
	char path[PATH_MAX];
	int err = 0;

	for (int i = 0; i < P_MAX; i++)
		f->fd[i] = -1;
	for (int i = 0; i < P_MAX && !err; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pin_names[i]);
		f->fd[i] = bpf_obj_get(path);
		if (f->fd[i] < 0) {
			err = -errno;
			if (err != -ENOENT)
				pr_warn("cannot open %s: %s", path, strerror(errno));
			else if (i)
				pr_warn("%s is missing: the pins in %s are incomplete ('tko unload' "
					"removes them)", path, dir);
		}
	}
	if (!err)
		err = check_map(f->fd[P_SESSIONS], PIN_SESSIONS, sizeof(__u32),
				sizeof(struct tko_session)) ?:
		      check_map(f->fd[P_INDEX], PIN_INDEX, sizeof(__u32),
				sizeof(struct tko_bucket)) ?:
		      check_map(f->fd[P_TABLE], PIN_TABLE, sizeof(__u32),
				sizeof(struct tko_table)) ?:
		      check_map(f->fd[P_CLOCK], "clock", sizeof(__u32),
				sizeof(struct tko_wheel_clock)) ?:
		      check_map(f->fd[P_EVENT_LOG], PIN_EVENT_LOG, sizeof(__u32),
				sizeof(struct tko_event)) ?:
		      check_map(f->fd[P_CARRIER], "carrier", sizeof(__u32),
				sizeof(struct tko_carrier_state)) ?:
		      check_map(f->fd[P_DEFAULTS], "defaults", sizeof(__u32),
				sizeof(struct tko_config)) ?:
		      check_map(f->fd[P_POLICIES], PIN_POLICIES, sizeof(__u32),
				sizeof(struct tko_policy)) ?:
		      check_map(f->fd[P_AGENT_INFO], PIN_AGENT_INFO, sizeof(__u32),
				sizeof(struct tko_agent_info)) ?:
		      check_map(f->fd[P_IFACES], PIN_IFACES, sizeof(__u32),
				sizeof(struct tko_iface)) ?:
		      check_map(f->fd[P_POLICY_STATS], PIN_POLICY_STATS, sizeof(__u32),
				sizeof(struct tko_policy_stats)) ?:
		      check_map(f->fd[P_POLICY_PREFIXES], PIN_POLICY_PREFIXES,
				sizeof(struct tko_prefix_key), sizeof(__u64)) ?:
		      check_map(f->fd[P_FLOWS_CLOSED], PIN_FLOWS_CLOSED, sizeof(struct tko_key),
				sizeof(__u64)) ?:
		      check_map(f->fd[P_FLOWS_OPENING], "flows_opening", sizeof(struct tko_key),
				sizeof(__u32));
	if (err)
		tko_fds_close(f);
	return err;
}

int tko_ensure_bpffs(const char *dir)
{
	char parent[PATH_MAX], *slash;
	struct statfs st;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return 0;
	*slash = '\0';
	if (statfs(parent, &st)) {
		pr_warn("pin directory %s: %s", parent, strerror(errno));
		return -errno;
	}
	if (st.f_type == BPF_FS_MAGIC)
		return 0;
	if (strcmp(parent, "/sys/fs/bpf")) {
		pr_warn("%s is not on a bpffs: choose a pin directory under a bpffs mount", parent);
		return -EINVAL;
	}
	if (mount("bpf", parent, "bpf", 0, "mode=0700")) {
		pr_warn("cannot mount bpffs on %s: %s", parent, strerror(errno));
		return -errno;
	}
	pr_info("mounted bpffs on %s", parent);
	return 0;
}

int tko_ctl_run(int prog_fd, const void *req, __u32 size, int *retval)
{
	/* The program's context: the raw tracepoint's arguments. */
	__u64 args[2] = { (__u64)(unsigned long)req, size };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
	int err = bpf_prog_test_run_opts(prog_fd, &opts);

	*retval = (int)opts.retval;
	return err ? (err < 0 ? err : -EIO) : 0;
}

/* tko_ctl_run(), the run's error or the program's as one -errno. */
int tko_ctl_call(int prog_fd, const void *req, __u32 size)
{
	int ret, err = tko_ctl_run(prog_fd, req, size, &ret);

	return err ?: ret;
}
