/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The agent's config file (`tko agent --config FILE`): 'key = value' lines. */
#ifndef TKO_CONFIG_H
#define TKO_CONFIG_H

#include <stddef.h>

/*
 * The longest line read (its newline not counted): room for a path of
 * PATH_MAX and its key. A longer line is refused, never cut.
 */
#define CONFIG_LINE_MAX 8192

/*
 * One 'key = value' of the file, both trimmed; where is "FILE:LINE: ", for
 * the messages. Returns 0 or -errno, after saying what is wrong.
 */
typedef int (*config_fn)(void *ctx, const char *key, const char *value, const char *where);

/*
 * Call fn with each 'key = value' line of path ('#' starts a comment; blank
 * lines are skipped), up to the first that fn refuses. Returns 0, fn's
 * -errno, -EINVAL (a line that is not 'key = value', is longer than
 * CONFIG_LINE_MAX or holds a NUL byte) or fopen's -errno (the file cannot
 * be read), with one sentence in err for the last two ("FILE:LINE: ..."
 * for a line).
 */
int config_read(const char *path, config_fn fn, void *ctx, char *err, size_t errlen);

/*
 * Split s into its words (separated by blanks) in place, as a command line:
 * (*argv)[0] = name, then all the words, then NULL. Returns argc, or
 * -ENOMEM; *argv is to be freed.
 */
int config_words(char *s, const char *name, char ***argv);

#endif /* TKO_CONFIG_H */
