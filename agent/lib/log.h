/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef TKO_LOG_H
#define TKO_LOG_H

#include <stdio.h>

extern int log_verbose;

/* Errors and warnings: one line on stderr, prefixed with the program name. */
#define pr_warn(fmt, ...) fprintf(stderr, "tko: " fmt "\n", ##__VA_ARGS__)
/* Progress a person waits on: stderr, so stdout stays machine-readable. */
#define pr_info(fmt, ...) fprintf(stderr, "tko: " fmt "\n", ##__VA_ARGS__)
#define pr_debug(fmt, ...) \
	do { if (log_verbose) fprintf(stderr, "tko: " fmt "\n", ##__VA_ARGS__); } while (0)

#endif /* TKO_LOG_H */
