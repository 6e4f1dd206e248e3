// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"

#define LOCK_DIR "/run/tko"

/* /run/tko/<pin_dir, its slashes as underscores>.lock */
static void lock_path(const char *pin_dir, char *path, size_t len)
{
	char name[PATH_MAX];

	snprintf(name, sizeof(name), "%s", pin_dir);
	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '_';
	snprintf(path, len, "%s/%.*s.lock", LOCK_DIR, (int)(len - sizeof(LOCK_DIR) - 7), name);
}

int lock_take(const char *pin_dir)
{
	char path[PATH_MAX + 32], pid[32];
	struct stat a, b;
	int fd, n, err;

	lock_path(pin_dir, path, sizeof(path));
	mkdir(LOCK_DIR, 0700);
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			err = -errno;
			pr_warn("cannot open the lock %s: %s", path, strerror(-err));
			return err;
		}
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			err = -errno;
			n = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			pr_warn("another tko agent (pid %s) is running with pins in %s",
				*pid ? pid : "?", pin_dir);
			close(fd);
			return err;
		}
		/* Still the file at that path? An agent leaving unlinks it
		 * (lock_release): then the lock we hold guards nothing. */
		if (!fstat(fd, &a) && !stat(path, &b) && a.st_ino == b.st_ino)
			break;
		close(fd);
	}
	n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, n, 0) != n)
		pr_debug("cannot write the pid into %s", path);
	return fd;
}

/* Unlink while holding it, so that no lock file outlives its agent. */
void lock_release(const char *pin_dir, int fd)
{
	char path[PATH_MAX + 32];

	if (fd < 0)
		return;
	lock_path(pin_dir, path, sizeof(path));
	unlink(path);
	close(fd);
}
