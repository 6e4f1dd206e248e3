/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One agent per pin directory: an exclusive lock on a file named after it in
 * /run/tko (bpffs holds no regular files). The lock goes with the process,
 * so a killed agent never blocks the next one.
 */
#ifndef TKO_LOCK_H
#define TKO_LOCK_H

/* Take the lock of pin_dir: its fd, or -errno after saying why (-EWOULDBLOCK: an agent runs). */
int lock_take(const char *pin_dir);

/* Unlink the lock file while holding it, then let go of it (fd < 0: none taken). */
void lock_release(const char *pin_dir, int fd);

#endif /* TKO_LOCK_H */
