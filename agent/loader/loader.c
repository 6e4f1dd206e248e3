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

#define PIN_NONE(...)

#define MAP_NAME(id, obj, map) #map,
static const char *const pinned_maps[] = { TKO_PINS(MAP_NAME, PIN_NONE, PIN_NONE) };

/*
 * The maps of the objects that are not pinned (TKO_PINS pins every other),
 * and why. A private one is never shared, not even with a map of the same
 * name in another object.
 */
struct unpinned {
	const char *name;
	bool private;
};

static const struct unpinned unpinned_maps[] = {
	/* The carrier watchdog's timer; XDP_TX answers not yet reported on,
	 * per CPU: they live as long as the pinned programs that use them. */
	{ "watchdog" },
	{ "xdp_pending" },
	/* The frame the carrier builds, off the stack: per CPU, its own. */
	{ "frame_buf", .private = true },
};

static bool pinned_map(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(pinned_maps); i++)
		if (!strcmp(name, pinned_maps[i]))
			return true;
	return false;
}

static const struct unpinned *unpinned_map(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(unpinned_maps); i++)
		if (!strcmp(name, unpinned_maps[i].name))
			return &unpinned_maps[i];
	return NULL;
}

/* Never shared: .rodata, .bss, .data (each object's own globals), private maps. */
static bool private_map(const struct bpf_map *m)
{
	const struct unpinned *u = unpinned_map(bpf_map__name(m));

	return bpf_map__is_internal(m) || (u && u->private);
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

/*
 * Every map of the objects is pinned or listed as not, and a map two of
 * them have is the control object's (it loads first; the others load in
 * parallel, none could take another's fd): a map forgotten in a list is
 * refused here, not found later unpinned or as an object's private copy.
 */
static int maps_accounted(const struct tko_bpf *b)
{
	struct bpf_object *objs[] = OBJECTS(b);
	const struct bpf_map *m;

	for (size_t i = 0; i < ARRAY_LEN(objs); i++)
		bpf_object__for_each_map(m, objs[i]) {
			const char *name = bpf_map__name(m);

			if (bpf_map__is_internal(m))
				continue;
			if (!pinned_map(name) && !unpinned_map(name)) {
				pr_warn("map %s of %s is neither pinned (TKO_PINS, pins.h) nor "
					"listed in unpinned_maps (loader.c)", name,
					bpf_object__name(objs[i]));
				return -EINVAL;
			}
			if (private_map(m) || bpf_object__find_map_by_name(objs[0], name))
				continue;
			for (size_t j = 1; j < i; j++)
				if (bpf_object__find_map_by_name(objs[j], name)) {
					pr_warn("map %s of %s and %s is not the control object's: "
						"declare it in bpf/lib/maps.h", name,
						bpf_object__name(objs[j]), bpf_object__name(objs[i]));
					return -EINVAL;
				}
		}
	return 0;
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
	/* The kernel's BTF does not change under us. Atomic: two threads may
	 * ask at once, and both find the same. */
	static int known = -1;
	int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
	struct btf *vmlinux, *mod = NULL;
	bool ok;

	if (k >= 0)
		return k;
	vmlinux = btf__load_vmlinux_btf();
	ok = vmlinux != NULL;

	/* Where libbpf resolves kfuncs: the kernel's BTF, or the module's. */
	if (ok && btf__find_by_name_kind(vmlinux, needed[0], BTF_KIND_FUNC) < 0)
		mod = btf__load_module_btf("nf_conntrack", vmlinux);
	for (size_t i = 0; ok && i < sizeof(needed) / sizeof(needed[0]); i++)
		ok = btf__find_by_name_kind(mod ? mod : vmlinux, needed[i], BTF_KIND_FUNC) >= 0;
	btf__free(mod);
	btf__free(vmlinux);
	__atomic_store_n(&known, ok, __ATOMIC_RELAXED);
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

/*
 * The entries of map m of b's objects in a datapath whose session table has
 * max_sessions: the table, its index and the id queues are sized together
 * (every queue has room for every id: each holds an id once at most); any
 * other map has what its object says.
 */
static __u32 map_entries(const struct tko_bpf *b, const struct bpf_map *m, __u32 max_sessions)
{
	const struct tko_ctl *c = b->ctl;

	if (m == c->maps.sessions_index)
		return tko_index_buckets(max_sessions);
	if (m == c->maps.sessions || m == c->maps.free_ids || m == c->maps.requests ||
	    m == c->maps.need_l2)
		return max_sessions;
	return bpf_map__max_entries(m);
}

/* Open all objects, none loaded (tko_bpf_destroy frees them, on failure too). */
static int open_objects(struct tko_bpf *b)
{
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
		int err = -errno;

		pr_warn("cannot open the BPF objects: %s", strerror(errno));
		return err;
	}
	return 0;
}

int tko_bpf_load(struct tko_bpf *b, __u32 max_sessions)
{
	struct tko_table table = {};
	__u32 buckets, zero = 0;
	__u64 tick, base;
	struct bpf_map *m;
	bool ct_absent;
	int err;

	err = open_objects(b) ?: maps_accounted(b);
	if (err)
		goto fail;
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
	bpf_object__for_each_map(m, b->ctl->obj) {
		err = bpf_map__set_max_entries(m, map_entries(b, m, max_sessions));
		if (err)
			goto fail;
	}
	err = tko_ctl__load(b->ctl);
	if (err) {
		pr_warn("cannot load the control programs: %s (-v shows the verifier log)", strerror(-err));
		goto fail;
	}
	/* The answer path's clock, fixed in the programs that read it; where
	 * it cannot be measured they read the clocksource (slower, as right). */
	if (!tko_clock_calibrate(b->ctl, tko_config_hz(), &tick, &base)) {
		b->xdp->rodata->coarse_tick_ns = b->tci->rodata->coarse_tick_ns = tick;
		b->xdp->rodata->coarse_base_ns = b->tci->rodata->coarse_base_ns = base;
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

void tko_bpf_fds(const struct tko_bpf *b, struct tko_fds *f)
{
#define MAP_FD(id, obj, map) f->fd[id] = bpf_map__fd(b->obj->maps.map);
#define PROG_FD(id, pin, obj, prog) f->fd[id] = bpf_program__fd(b->obj->progs.prog);
#define LINK_FD(id, pin, link) f->fd[id] = bpf_link__fd(b->link);
	TKO_PINS(MAP_FD, PROG_FD, LINK_FD)
}

int tko_bpf_pin(const struct tko_fds *f, const char *dir)
{
	char path[PATH_MAX];

	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_warn("cannot create pin directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < P_MAX; i++) {
		tko_pin_path(path, dir, i);
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
		tko_pin_path(path, dir, i);
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

/*
 * A map pinned by another build of tko may be another map: refuse it. want
 * is the map of that name of b's objects (opened), max_sessions the size of
 * the pinned session table.
 */
static int check_map(int fd, const struct tko_bpf *b, const struct bpf_map *want,
		     __u32 max_sessions)
{
	__u32 len = sizeof(struct bpf_map_info), entries = map_entries(b, want, max_sessions);
	__u32 key_size = bpf_map__key_size(want), value_size = bpf_map__value_size(want);
	enum bpf_map_type type = bpf_map__type(want);
	const char *name = bpf_map__name(want);
	struct bpf_map_info info = {};

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != type)
		pr_warn("pinned map %s is of another type (%s; this tko wants %s): made by another "
			"version; 'tko unload' removes it", name, libbpf_bpf_map_type_str(info.type),
			libbpf_bpf_map_type_str(type));
	else if (info.key_size != key_size || info.value_size != value_size)
		pr_warn("pinned map %s has another layout (key %u, value %u bytes; this tko "
			"wants %u, %u): made by another version; 'tko unload' removes it",
			name, info.key_size, info.value_size, key_size, value_size);
	else if (info.max_entries != entries)
		pr_warn("pinned map %s has another size (%u entries; this tko wants %u): made by "
			"another version; 'tko unload' removes it", name, info.max_entries, entries);
	else
		return 0;
	return -EPROTO;
}

/* Every pinned map, against what this build's objects define. */
static int check_maps(const struct tko_fds *f)
{
	struct bpf_map_info sessions = {};
	__u32 len = sizeof(sessions);
	struct tko_bpf b;
	int err;

	/* The size of the session table sizes its index and id queues. */
	if (bpf_obj_get_info_by_fd(f->fd[P_SESSIONS], &sessions, &len))
		return -errno;
	err = open_objects(&b);
#define CHECK_MAP(id, obj, map) \
	err = err ?: check_map(f->fd[id], &b, b.obj->maps.map, sessions.max_entries);
	TKO_PINS(CHECK_MAP, PIN_NONE, PIN_NONE)
	tko_bpf_destroy(&b);
	return err;
}

int tko_pins_open(const char *dir, struct tko_fds *f)
{
	char path[PATH_MAX];
	int err = 0;

	for (int i = 0; i < P_MAX; i++)
		f->fd[i] = -1;
	for (int i = 0; i < P_MAX && !err; i++) {
		f->fd[i] = tko_pin_get(dir, i);
		if (f->fd[i] < 0) {
			err = f->fd[i];
			f->fd[i] = -1;
			tko_pin_path(path, dir, i);
			if (err != -ENOENT)
				pr_warn("cannot open %s: %s", path, strerror(-err));
			else if (i) {
				pr_warn("%s is missing: the pins in %s are incomplete ('tko unload' "
					"removes them)", path, dir);
				err = -ESTALE;	/* not "nothing pinned": never loaded over */
			}
		}
	}
	if (!err)
		err = check_maps(f);
	if (err)
		tko_fds_close(f);
	return err;
}

int tko_pins_open_any(const char *dir, struct tko_fds *f)
{
	int n = 0;

	for (int i = 0; i < P_MAX; i++) {
		f->fd[i] = tko_pin_get(dir, i);
		if (f->fd[i] < 0)
			f->fd[i] = -1;
		else
			n++;
	}
	return n ? 0 : -ENOENT;
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
