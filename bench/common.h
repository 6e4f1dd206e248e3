/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every benchmark program shares: results on stdout as
 * "RESULT key value" lines (bench/run.sh turns them into results.json and
 * the table), progress on stderr, clocks, statistics over repeated runs,
 * and the places the machine's CPU time and memory are read from.
 */
#ifndef TKO_BENCH_COMMON_H
#define TKO_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NSEC_PER_SEC 1000000000ULL

/* One measured value; key is the dotted path in results.json. */
void result(const char *key, double value);
/* The same key for a text value (a note such as "tick 1 ms"). */
void result_str(const char *key, const char *value);
/* A line of progress on stderr, prefixed with the program's name. */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Say what failed on stderr and exit 1 (run.sh's trap cleans up). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

void bench_init(const char *name);

uint64_t now_ns(void);			/* CLOCK_MONOTONIC: bpf_ktime_get_ns()'s clock */
uint64_t thread_cpu_ns(void);		/* this thread's CPU time */
void sleep_ns(uint64_t ns);
void sleep_until_ns(uint64_t t);	/* absolute CLOCK_MONOTONIC */

/* Median and spread of n samples (v is sorted in place). */
struct stats {
	size_t n;
	double median, p25, p75, p99, min, max;
};
void stats_of(double *v, size_t n, struct stats *s);
/* "med [p25..p75]" for the progress lines. */
const char *stats_str(const struct stats *s, const char *unit);
/* Emit key.median (as key), key_p25, key_p75, key_min, key_max. */
void result_stats(const char *key, const struct stats *s);

/*
 * CPU time of the machine from /proc/stat, in ns (the counters tick at
 * USER_HZ; resolution 10 ms, so measure for seconds). busy is everything but
 * idle and iowait: user, system, irq, softirq, steal. softirq_ns is the
 * softirq meter's (bench/softirq.bpf.c, loaded at the first sample): to the
 * ns, not in /proc/stat's 10 ms units.
 */
struct cpu_sample {
	uint64_t busy_ns, total_ns;
	uint64_t softirq_ns;
};
void cpu_sample(int cpu, struct cpu_sample *s);	/* cpu -1: all CPUs */

/* Voluntary + involuntary context switches of a process (0 if gone). */
uint64_t proc_ctxsw(pid_t pid);
/* CPU time of a process's main thread in ns. */
uint64_t proc_cpu_ns(pid_t pid);

/* Enter a network namespace made with `ip netns add NAME` (this thread). */
void netns_enter(const char *name);
int netns_fd(const char *name);

/*
 * A memory cgroup of our own (v1 or v2), child of the one we run in: what a
 * process in it allocates in the kernel (BPF maps, timers, sockets) is
 * charged there, apart from the rest of this shared machine.
 */
struct memcg {
	char path[600];
	char parent[512];
	bool v2;
};
bool memcg_create(struct memcg *m, const char *name);
void memcg_enter(struct memcg *m, pid_t pid);	/* 0: the calling process */
uint64_t memcg_usage(const struct memcg *m);	/* bytes, kernel memory included */
void memcg_destroy(struct memcg *m);		/* moves us back, removes it */

/* Raise RLIMIT_NOFILE for benchmarks that hold 10^5 sockets. */
void raise_nofile(size_t n);

/* Pin the calling thread to one CPU. */
void pin_cpu(int cpu);

/*
 * The profiling loops' marks (bench/profile.sh): after profile_marks_arm(),
 * each SIGUSR1 makes profile_mark() print "mark COUNT UNITS at NOW ns" once,
 * between two runs of the loop.
 */
void profile_marks_arm(void);
void profile_mark(uint64_t count, const char *units);

/* Command line: --quick and KEY=VALUE settings common to every program. */
struct opts {
	bool quick;
	const char *build;	/* the build directory (build/tko, build/bench/...) */
	const char *ns_a, *ns_b, *ns_c;	/* namespaces made by run.sh */
	const char *pin_dir;	/* a private bpffs directory */
	const char *work;	/* run.sh's scratch directory */
};
void opts_parse(struct opts *o, int argc, char **argv);

#endif /* TKO_BENCH_COMMON_H */
