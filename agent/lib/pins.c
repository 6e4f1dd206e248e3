// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pins.h"

#define PIN_NAME_MAP(id, obj, map) [id] = #map,
#define PIN_NAME(id, pin, ...) [id] = #pin,
const char *const pin_names[P_MAX] = { TKO_PINS(PIN_NAME_MAP, PIN_NAME, PIN_NAME) };

void tko_pin_path(char path[PATH_MAX], const char *dir, enum pin_id id)
{
	snprintf(path, PATH_MAX, "%s/%s", dir, pin_names[id]);
}

int tko_pin_get(const char *dir, enum pin_id id)
{
	char path[PATH_MAX];
	int fd;

	tko_pin_path(path, dir, id);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
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
