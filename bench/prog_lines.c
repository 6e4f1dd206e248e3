// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * For the profiler (bench/profile.sh): where each source line of a loaded
 * BPF program starts in its JIT image, from the kernel's jited line info
 * (what `bpftool prog dump jited linum` prints, without a disassembler).
 * One line per line-info record:
 *   FUNCTION OFFSET FILE:LINE SOURCE
 * FUNCTION is the JIT image's function (perf names it bpf_prog_TAG_FUNCTION),
 * OFFSET where the record starts in it (hex).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

static void die(const char *what)
{
	fprintf(stderr, "prog_lines: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The source line's text, its leading blanks dropped. */
static const char *text(const struct btf *btf, __u32 off)
{
	const char *s = btf__name_by_offset(btf, off);

	if (!s)
		return "";
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int main(int argc, char **argv)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), nl, nk, nf;
	struct bpf_func_info *fi;
	struct bpf_line_info *li;
	struct btf *btf;
	__u64 *jl, *ks;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: prog_lines PROG_ID\n");
		return 2;
	}
	fd = bpf_prog_get_fd_by_id((__u32)strtoul(argv[1], NULL, 0));
	if (fd < 0)
		die("program");
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("program info");
	nl = info.nr_jited_line_info;
	nk = info.nr_jited_ksyms;
	nf = info.nr_func_info;
	if (!nl || nl != info.nr_line_info || nk != nf)
		die("no line info (not JIT-compiled, or loaded without BTF)");
	li = calloc(nl, sizeof(*li));
	jl = calloc(nl, sizeof(*jl));
	ks = calloc(nk, sizeof(*ks));
	fi = calloc(nf, sizeof(*fi));
	if (!li || !jl || !ks || !fi)
		die("memory");
	memset(&info, 0, sizeof(info));
	info.nr_line_info = nl;
	info.line_info_rec_size = sizeof(*li);
	info.line_info = (__u64)(unsigned long)li;
	info.nr_jited_line_info = nl;
	info.jited_line_info_rec_size = sizeof(*jl);
	info.jited_line_info = (__u64)(unsigned long)jl;
	info.nr_jited_ksyms = nk;
	info.jited_ksyms = (__u64)(unsigned long)ks;
	info.nr_func_info = nf;
	info.func_info_rec_size = sizeof(*fi);
	info.func_info = (__u64)(unsigned long)fi;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("program info");
	btf = btf__load_from_kernel_by_id(info.btf_id);
	if (!btf)
		die("program BTF");
	for (__u32 i = 0; i < nl; i++) {
		__u32 f = 0;

		/* the function whose image holds the line: the last one starting at or before it */
		for (__u32 k = 0; k < nk; k++)
			if (ks[k] <= jl[i] && ks[k] >= ks[f])
				f = k;
		const struct btf_type *t = btf__type_by_id(btf, fi[f].type_id);
		const char *fname = t ? btf__name_by_offset(btf, t->name_off) : "?";
		const char *file = btf__name_by_offset(btf, li[i].file_name_off);
		const char *base = file ? strrchr(file, '/') : NULL;

		printf("%s %llx %s:%u %s\n", fname,
		       (unsigned long long)(jl[i] - ks[f]), base ? base + 1 : file ?: "?",
		       BPF_LINE_INFO_LINE_NUM(li[i].line_col), text(btf, li[i].line_off));
	}
	return 0;
}
