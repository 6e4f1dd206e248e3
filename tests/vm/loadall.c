// SPDX-License-Identifier: BSD-2-Clause
/* loadall OBJ...: load each BPF program of each object alone into the running
 * kernel (its maps with it), and say per program "ok" or "not ok" (TAP, as
 * tests/run.sh counts). A refusal shows libbpf's last words and the verifier's
 * last lines; with TKO_VERIFIER_LOGS=DIR, the verifier's whole log of each
 * refused program is in DIR/OBJECT.PROGRAM.log. Nothing is attached or
 * pinned: every object is closed again. Which program a kernel refuses, and
 * why, in one run: tests/vm/matrix.sh runs it on each kernel. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SIZE (64u << 20)	/* a refused program's whole verifier log */

static char libbpf_said[8192];	/* libbpf's warnings of the last load */

static int on_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	size_t len = strlen(libbpf_said);

	if (level != LIBBPF_DEBUG && len < sizeof(libbpf_said) - 1)
		vsnprintf(libbpf_said + len, sizeof(libbpf_said) - len, fmt, ap);
	return 0;
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Print the last `n` lines of `text`, each after "# ". */
static void tail(const char *text, int n)
{
	const char *p = text + strlen(text);

	while (p > text && p[-1] == '\n')
		p--;
	const char *end = p;
	while (p > text && n > 0)
		if (*--p == '\n')
			n--;
	if (*p == '\n')
		p++;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		int len = nl ? nl - p : end - p;

		printf("#   %.*s\n", len, p);
		p += len + 1;
	}
}

/* Open `path` with only its `index`th program to load; load it. */
static int load_one(const char *path, int index, char *log, const char **name)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	int i = 0, err;

	if (!obj)
		return -errno;
	bpf_object__for_each_program(prog, obj) {
		bpf_program__set_autoload(prog, i == index);
		if (i == index) {
			*name = strdup(bpf_program__name(prog));
			if (log) {
				log[0] = 0;
				bpf_program__set_log_buf(prog, log, LOG_SIZE);
				bpf_program__set_log_level(prog, 1 | 4);	/* and the stack depths */
			}
		}
		i++;
	}
	if (index >= i) {
		bpf_object__close(obj);
		return 1;	/* no such program: the object is done */
	}
	libbpf_said[0] = 0;
	err = bpf_object__load(obj);
	bpf_object__close(obj);
	return err;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TKO_VERIFIER_LOGS");
	char *log = malloc(LOG_SIZE);
	int n = 0, failed = 0;

	libbpf_set_print(on_libbpf);
	for (int a = 1; a < argc; a++) {
		for (int i = 0;; i++) {
			const char *name = "?";
			int err = load_one(argv[a], i, NULL, &name);

			if (err == 1)
				break;
			if (!err) {
				printf("ok %d - %s %s loads\n", ++n, base(argv[a]), name);
				continue;
			}
			failed = 1;
			printf("not ok %d - %s %s: %s\n", ++n, base(argv[a]), name, strerror(-err));
			/* Again, with the verifier's log. */
			load_one(argv[a], i, log, &name);
			printf("#  libbpf:\n");
			tail(libbpf_said, 6);
			if (log[0]) {
				printf("#  the verifier's last lines:\n");
				tail(log, 12);
			}
			if (dir && log[0]) {
				char file[4096];
				FILE *f;

				snprintf(file, sizeof(file), "%s/%.*s.%s.log", dir,
					 (int)strcspn(base(argv[a]), "."), base(argv[a]), name);
				f = fopen(file, "w");
				if (f) {
					fputs(log, f);
					fclose(f);
				}
			}
		}
	}
	printf("1..%d\n", n);
	return failed;
}
