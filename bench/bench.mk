# Benchmarks (included by the Makefile): `make bench [QUICK=1] [ONLY=prog,...]`
# (ONLY: those benchmarks alone, merged into the last whole run's results).
# C programs in build/bench/, driven by bench/run.sh; not tests.

BENCH_LIB_SRCS := bench/common.c bench/inproc.c bench/conns.c bench/agent.c bench/peerctl.c
BENCH_LIB_OBJS := $(BENCH_LIB_SRCS:bench/%.c=$(BUILD)/bench/%.o)
BENCH_TOOLS := answer_run answer_wire forge_run scale steady keepalive_cost heartbeat \
	       invalidation timing clock policy_run wake
BENCH_BINS := $(BENCH_TOOLS:%=$(BUILD)/bench/%)
BENCH_BPF := helpers peer softirq
BENCH_SKELS := $(BENCH_BPF:%=$(BUILD)/bench/%.skel.h)
BENCH_HDRS := $(wildcard bench/*.h) $(SKELS) $(BENCH_SKELS)
BENCH_CFLAGS := -I$(BUILD)/bench -Ibench -Itests/prog

.PHONY: bench bench-build profile
.SECONDARY: $(BENCH_SKELS) $(BENCH_BPF:%=$(BUILD)/bench/%.bpf.o)

bench-build: $(BENCH_BINS) $(BUILD)/bench/prog_lines

$(BUILD)/bench:
	mkdir -p $@

# -mcpu=v3: the simulated peer takes sample slots with an atomic fetch-and-add.
$(BUILD)/bench/%.bpf.o: bench/%.bpf.c $(BPF_HDRS) | $(BUILD)/bench
	$(CLANG) $(BPF_CFLAGS) -mcpu=v3 -c $< -o $@

$(BUILD)/bench/%.skel.h: $(BUILD)/bench/%.bpf.o
	$(BPFTOOL) gen skeleton $< name bench_$* > $@

$(BUILD)/bench/%.o: bench/%.c $(BENCH_HDRS) $(AGENT_HDRS) | $(BUILD)/bench
	$(CC) $(CFLAGS) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_BINS): $(BUILD)/bench/%: $(BUILD)/bench/%.o $(BENCH_LIB_OBJS) $(INTERNAL_LIBS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lm

# policy_run keeps the policy tables as `tko policy` does.
$(BUILD)/bench/policy_run: $(BUILD)/agent/daemon/policies.o

# The profiler's line map (bench/profile.sh): libbpf alone.
$(BUILD)/bench/prog_lines: bench/prog_lines.c | $(BUILD)/bench
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

# deps.sh bench adds what only the benchmarks need (gnuplot for the plot).
bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all bench-build
	@bench/run.sh $(BUILD) $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

# Where the answer path's time goes, step by step (docs/performance.md).
profile:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all bench-build
	@bench/profile.sh $(BUILD)
