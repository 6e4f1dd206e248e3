// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "log.h"
#include "ctl.skel.h"
#include "xdp_ingress.skel.h"
#include "tc_egress.skel.h"
#include "carrier.skel.h"

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

/* Give obj's copy of a shared map the fd of the one the control object created. */
static int share_map(struct bpf_map *dst, const struct bpf_map *src)
{
	int err = bpf_map__reuse_fd(dst, bpf_map__fd(src));

	if (err)
		pr_warn("cannot share map %s: %s", bpf_map__name(src), strerror(-err));
	return err;
}

#define SHARE_MAPS(skel, ctl) (                                        \
	share_map((skel)->maps.sessions, (ctl)->maps.sessions) ?:     \
	share_map((skel)->maps.events, (ctl)->maps.events) ?:         \
	share_map((skel)->maps.event_log, (ctl)->maps.event_log) ?:   \
	share_map((skel)->maps.event_seq, (ctl)->maps.event_seq) ?:   \
	share_map((skel)->maps.stats, (ctl)->maps.stats) ?:           \
	share_map((skel)->maps.due, (ctl)->maps.due) ?:               \
	share_map((skel)->maps.carrier, (ctl)->maps.carrier))

int tko_bpf_load(struct tko_bpf *b, __u32 max_sessions)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->ctl = tko_ctl__open();
	b->xdp = tko_xdp_ingress__open();
	b->tc = tko_tc_egress__open();
	b->carrier = tko_carrier__open();
	if (!b->ctl || !b->xdp || !b->tc || !b->carrier) {
		err = -errno;
		pr_warn("cannot open the BPF objects: %s", strerror(errno));
		goto fail;
	}
	if (max_sessions) {
		/* One due probe per session at most: the queue never needs more. */
		err = bpf_map__set_max_entries(b->ctl->maps.sessions, max_sessions) ?:
		      bpf_map__set_max_entries(b->ctl->maps.due, max_sessions);
		if (err)
			goto fail;
	}
	err = tko_ctl__load(b->ctl);
	if (err) {
		pr_warn("cannot load the control programs: %s (-v shows the verifier log)", strerror(-err));
		goto fail;
	}
	err = SHARE_MAPS(b->xdp, b->ctl) ?: SHARE_MAPS(b->tc, b->ctl) ?:
	      SHARE_MAPS(b->carrier, b->ctl);
	if (err)
		goto fail;
	err = tko_xdp_ingress__load(b->xdp);
	if (err) {
		pr_warn("cannot load the XDP ingress program: %s (-v shows the verifier log)", strerror(-err));
		goto fail;
	}
	err = tko_tc_egress__load(b->tc);
	if (err) {
		pr_warn("cannot load the TC egress program: %s (-v shows the verifier log)", strerror(-err));
		goto fail;
	}
	err = tko_carrier__load(b->carrier);
	if (err) {
		pr_warn("cannot load the carrier program: %s (-v shows the verifier log)", strerror(-err));
		goto fail;
	}
	return 0;
fail:
	tko_bpf_destroy(b);
	return err;
}

void tko_bpf_destroy(struct tko_bpf *b)
{
	tko_carrier__destroy(b->carrier);
	tko_tc_egress__destroy(b->tc);
	tko_xdp_ingress__destroy(b->xdp);
	tko_ctl__destroy(b->ctl);
	memset(b, 0, sizeof(*b));
}

static const char *const pin_names[] = {
	PIN_SESSIONS, PIN_EVENTS, PIN_EVENT_LOG, PIN_EVENT_SEQ, PIN_STATS,
	PIN_CTL_START, PIN_CTL_STOP,
};

int tko_bpf_pin(struct tko_bpf *b, const char *dir)
{
	struct tko_ctl *c = b->ctl;
	int fds[] = {
		bpf_map__fd(c->maps.sessions), bpf_map__fd(c->maps.events),
		bpf_map__fd(c->maps.event_log), bpf_map__fd(c->maps.event_seq),
		bpf_map__fd(c->maps.stats), bpf_program__fd(c->progs.tko_start),
		bpf_program__fd(c->progs.tko_stop),
	};
	char path[PATH_MAX];
	size_t i;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_warn("cannot create pin directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pin_names[i]);
		if (bpf_obj_pin(fds[i], path)) {
			int err = -errno;

			pr_warn("cannot pin %s: %s", path, strerror(errno));
			tko_bpf_unpin(dir);
			return err;
		}
		/* Only root may change sessions (pins default to the umask). */
		chmod(path, 0600);
	}
	return 0;
}

void tko_bpf_unpin(const char *dir)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(pin_names) / sizeof(pin_names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pin_names[i]);
		unlink(path);
	}
	rmdir(dir);
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
