// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common.h"
#include "softirq.skel.h"

static uint64_t softirq_meter(int cpu);

static const char *prog_name = "bench";

void bench_init(const char *name)
{
	prog_name = name;
	setvbuf(stdout, NULL, _IOLBF, 0);
}

void result(const char *key, double value)
{
	printf("RESULT %s %.6g\n", key, value);
}

void result_str(const char *key, const char *value)
{
	printf("RESULT %s \"%s\"\n", key, value);
}

void progress(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  %s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void sleep_ns(uint64_t ns)
{
	struct timespec ts = { ns / NSEC_PER_SEC, ns % NSEC_PER_SEC };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void sleep_until_ns(uint64_t t)
{
	struct timespec ts = { t / NSEC_PER_SEC, t % NSEC_PER_SEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Linear interpolation between closest ranks. */
static double pct(const double *v, size_t n, double p)
{
	double r = p * (double)(n - 1);
	size_t i = (size_t)r;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (r - (double)i) * (v[i + 1] - v[i]);
}

void stats_of(double *v, size_t n, struct stats *s)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	s->min = v[0];
	s->max = v[n - 1];
	s->median = pct(v, n, 0.5);
	s->p25 = pct(v, n, 0.25);
	s->p75 = pct(v, n, 0.75);
	s->p99 = pct(v, n, 0.99);
}

const char *stats_str(const struct stats *s, const char *unit)
{
	static char buf[4][96];
	static int i;
	char *b = buf[i++ % 4];

	snprintf(b, sizeof(buf[0]), "%.4g %s [%.4g..%.4g, n=%zu]", s->median, unit, s->p25,
		 s->p75, s->n);
	return b;
}

void result_stats(const char *key, const struct stats *s)
{
	char k[160];

	result(key, s->median);
	snprintf(k, sizeof(k), "%s_p25", key);
	result(k, s->p25);
	snprintf(k, sizeof(k), "%s_p75", key);
	result(k, s->p75);
	snprintf(k, sizeof(k), "%s_runs", key);
	result(k, (double)s->n);
}

void cpu_sample(int cpu, struct cpu_sample *s)
{
	char want[16], line[512];
	unsigned long long v[10] = {};
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");

	memset(s, 0, sizeof(*s));
	if (!f)
		die("cannot read /proc/stat: %s", strerror(errno));
	if (cpu < 0)
		snprintf(want, sizeof(want), "cpu ");
	else
		snprintf(want, sizeof(want), "cpu%d ", cpu);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		/* user nice system idle iowait irq softirq steal guest guest_nice */
		sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
		break;
	}
	fclose(f);
	/* guest time is already counted in user */
	uint64_t total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	uint64_t busy = total - v[3] - v[4];

	s->busy_ns = busy * NSEC_PER_SEC / hz;
	s->total_ns = total * NSEC_PER_SEC / hz;
	s->softirq_ns = softirq_meter(cpu);
}

/* ns in softirq since the meter was attached: on cpu, or all (-1). */
static uint64_t softirq_meter(int cpu)
{
	static struct bench_softirq *m;
	int ncpu = libbpf_num_possible_cpus();
	__u32 k = 1;

	if (!m) {
		m = bench_softirq__open_and_load();
		if (!m || bench_softirq__attach(m))
			die("cannot attach the softirq meter (bench/softirq.bpf.c)");
	}
	if (ncpu <= 0)
		die("cannot count the CPUs");
	uint64_t v[ncpu], sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(m->maps.softirq_time), &k, v))
		die("cannot read the softirq meter: %s", strerror(errno));
	for (int i = 0; i < ncpu; i++)
		if (cpu < 0 || cpu == i)
			sum += v[i];
	return sum;
}

uint64_t proc_ctxsw(pid_t pid)
{
	char path[64], line[256];
	uint64_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
			n += v;
	}
	fclose(f);
	return n;
}

uint64_t proc_cpu_ns(pid_t pid)
{
	FILE *f;
	char path[64], buf[1024], *p;
	unsigned long long ns;

	/* schedstat: the task's run time in ns (stat's ticks are 10 ms) */
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (f) {
		int ok = fscanf(f, "%llu", &ns) == 1;

		fclose(f);
		if (ok)
			return ns;
	}
	unsigned long long ut = 0, st = 0;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces: fields count from its ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return 0;
	return (ut + st) * NSEC_PER_SEC / sysconf(_SC_CLK_TCK);
}

int netns_fd(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("network namespace %s: %s", name, strerror(errno));
	return fd;
}

void netns_enter(const char *name)
{
	int fd = netns_fd(name);

	if (setns(fd, CLONE_NEWNET))
		die("cannot enter network namespace %s: %s", name, strerror(errno));
	close(fd);
}

void raise_nofile(size_t n)
{
	struct rlimit r;

	/* Up to the hard limit only: raising it needs CAP_SYS_RESOURCE. */
	getrlimit(RLIMIT_NOFILE, &r);
	if (n > r.rlim_max)
		die("%zu open files needed, the hard limit is %llu", n,
		    (unsigned long long)r.rlim_max);
	r.rlim_cur = r.rlim_max;
	setrlimit(RLIMIT_NOFILE, &r);
}

static volatile sig_atomic_t mark_asked;

static void on_mark(int sig)
{
	(void)sig;
	mark_asked = 1;
}

void profile_marks_arm(void)
{
	signal(SIGUSR1, on_mark);
}

void profile_mark(uint64_t count, const char *units)
{
	if (!mark_asked)
		return;
	mark_asked = 0;
	progress("mark %llu %s at %llu ns", (unsigned long long)count, units,
		 (unsigned long long)now_ns());
}

void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Our memory cgroup: the v1 "memory" hierarchy, or the v2 unified one. */
static bool memcg_self(struct memcg *m)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "r");
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *path = strrchr(line, ':');

		if (!path)
			continue;
		path[strcspn(path, "\n")] = '\0';
		if (strstr(line, ":memory:")) {
			snprintf(m->parent, sizeof(m->parent), "/sys/fs/cgroup/memory%s", path + 1);
			m->v2 = false;
			found = true;
			break;
		}
		if (!strncmp(line, "0::", 3) && !access("/sys/fs/cgroup/cgroup.controllers", F_OK)) {
			snprintf(m->parent, sizeof(m->parent), "/sys/fs/cgroup%s", path + 1);
			m->v2 = true;
			found = true;
		}
	}
	fclose(f);
	return found;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

bool memcg_create(struct memcg *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	if (!memcg_self(m))
		return false;
	snprintf(m->path, sizeof(m->path), "%s/%s-%d", m->parent, name, (int)getpid());
	if (mkdir(m->path, 0755) && errno != EEXIST) {
		m->path[0] = '\0';
		return false;
	}
	return true;
}

void memcg_enter(struct memcg *m, pid_t pid)
{
	char path[700], s[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", m->path);
	snprintf(s, sizeof(s), "%d", pid ? (int)pid : (int)getpid());
	if (write_file(path, s))
		die("cannot move %s into %s: %s", s, m->path, strerror(errno));
}

uint64_t memcg_usage(const struct memcg *m)
{
	char path[700];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", m->path,
		 m->v2 ? "memory.current" : "memory.usage_in_bytes");
	f = fopen(path, "r");
	if (!f || fscanf(f, "%llu", &v) != 1)
		die("cannot read %s", path);
	fclose(f);
	return v;
}

void memcg_destroy(struct memcg *m)
{
	char path[700], s[32];

	if (!m->path[0])
		return;
	snprintf(path, sizeof(path), "%s/cgroup.procs", m->parent);
	snprintf(s, sizeof(s), "%d", (int)getpid());
	write_file(path, s);
	/* Charges of freed objects drain asynchronously: retry the removal. */
	for (int i = 0; i < 50 && rmdir(m->path) && errno == EBUSY; i++)
		sleep_ns(100 * 1000 * 1000);
	m->path[0] = '\0';
}

void opts_parse(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "build", required_argument, NULL, 'b' },
		{ "ns-a", required_argument, NULL, 'a' },
		{ "ns-b", required_argument, NULL, 'B' },
		{ "ns-c", required_argument, NULL, 'c' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "work", required_argument, NULL, 'w' },
		{}
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->build = "build";
	o->work = "/tmp";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q': o->quick = true; break;
		case 'b': o->build = optarg; break;
		case 'a': o->ns_a = optarg; break;
		case 'B': o->ns_b = optarg; break;
		case 'c': o->ns_c = optarg; break;
		case 'p': o->pin_dir = optarg; break;
		case 'w': o->work = optarg; break;
		default: die("usage: %s [--quick] [--build DIR] [--ns-a NS] [--ns-b NS] "
			     "[--ns-c NS] [--pin-dir DIR] [--work DIR]", argv[0]);
		}
	}
}
