# tko — TCP keepalive offload in eBPF. `make help` lists the targets.
SHELL := /bin/bash
BUILD ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
OBJCOPY ?= objcopy
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
# The one place the version is written (debian/rules checks the changelog against it).
VERSION := $(shell cat VERSION)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	  -Iinclude -I$(BUILD) -Iagent/lib -Iagent/loader -Iagent/cmd -Iagent/daemon
LDLIBS := -lbpf -lelf -lz
# libmicrohttpd: the HTTP server of `tko agent --metrics` (README, "Why the
# libraries"); agent/daemon only, libtko does not need it.
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(or $(shell pkg-config --libs libmicrohttpd 2>/dev/null),-lmicrohttpd)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Xclang -target-feature -Xclang -alu32 -D__TARGET_ARCH_$(ARCH) -Wall -Ivmlinux -Iinclude -Ibpf

BPF_PROGS := ctl xdp_ingress tc_egress tc_ingress xdp_tx_report carrier sock_iter sockops
BPF_OBJS := $(BPF_PROGS:%=$(BUILD)/bpf/%.bpf.o)
SKELS := $(BPF_PROGS:%=$(BUILD)/%.skel.h)
BPF_HDRS := $(wildcard bpf/lib/*.h) include/tko_types.h include/tko_hash.h

# agent/lib: libtko, what include/tko.h promises (sessions, events and
# counters through the pins; routes, formatting). build/libtko.a is that, the
# symbols of agent/lib/libtko.map alone global; the command, the tests and
# the benchmarks link the same objects with all their symbols
# (build/libtko-internal.a). agent/loader: loading and pinning the datapath,
# with the skeletons it embeds (build/libtko-loader.a): the agent's and the
# tests', never libtko's. agent/cmd: the tko command; agent/daemon: the agent
# (tko agent), which the command runs.
LIB_SRCS := $(wildcard agent/lib/*.c)
LIB_OBJS := $(LIB_SRCS:agent/%.c=$(BUILD)/agent/%.o)
LOADER_SRCS := $(wildcard agent/loader/*.c)
LOADER_OBJS := $(LOADER_SRCS:agent/%.c=$(BUILD)/agent/%.o)
CMD_SRCS := $(wildcard agent/cmd/*.c)
CMD_OBJS := $(CMD_SRCS:agent/%.c=$(BUILD)/agent/%.o)
DAEMON_SRCS := $(wildcard agent/daemon/*.c)
DAEMON_OBJS := $(DAEMON_SRCS:agent/%.c=$(BUILD)/agent/%.o)
# The command's objects and the daemon's, but main(): what the unit tests link.
TOOL_OBJS := $(filter-out %/main.o,$(CMD_OBJS) $(DAEMON_OBJS))
AGENT_HDRS := $(wildcard agent/*/*.h) $(wildcard include/*.h)
# What the command, the tests and the benchmarks link, in this order.
INTERNAL_LIBS := $(BUILD)/libtko-loader.a $(BUILD)/libtko-internal.a

# tests/unit mirrors agent/: lib/ tests link libtko; cmd/ and daemon/ tests the
# command's and the daemon's code too.
UNIT_LIB_TESTS := $(patsubst tests/unit/lib/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/lib/test_*.c))
UNIT_CMD_TESTS := $(patsubst tests/unit/cmd/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/cmd/test_*.c))
UNIT_DAEMON_TESTS := $(patsubst tests/unit/daemon/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/daemon/test_*.c))
UNIT_TESTS := $(UNIT_LIB_TESTS) $(UNIT_CMD_TESTS) $(UNIT_DAEMON_TESTS)
PROG_TESTS := $(patsubst tests/prog/%.c,$(BUILD)/tests/%,$(wildcard tests/prog/prog_*.c))
TEST_HELPERS := $(BUILD)/tests/tcpkit

PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR := $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install

.PHONY: all deps test demo vmlinux clean help install uninstall deb
.DELETE_ON_ERROR:
# tests/prog/prog_conntrack.c: the programs that call the conntrack kfuncs,
# built against kfuncs no kernel has.
NOCT_OBJS := $(foreach o,xdp_ingress tc_ingress tc_egress,$(BUILD)/tests/$(o)_noct.bpf.o)
# Objects and skeletons are inputs of several targets: never delete them.
.SECONDARY: $(BPF_OBJS) $(SKELS) $(NOCT_OBJS) \
	    $(BUILD)/tests/ct_skb.bpf.o $(BUILD)/tests/tc_egress_race.bpf.o \
	    $(BUILD)/tests/xdp_ingress_race.bpf.o

all: $(BUILD)/tko $(BUILD)/libtko.a

help:
	@echo "make deps    install what this Debian machine lacks (root)"
	@echo "make         build build/tko"
	@echo "make test    build and run every test (root; namespaces only), then again on"
	@echo "             Debian 12's kernel under qemu (TEST_KERNELS=$(TEST_KERNELS); empty: skip)"
	@echo "make test-kernels  the program and e2e tests on Debian's kernels (VM_KERNELS)"
	@echo "make demo    show tko answering a server's keepalives for a sleeping device"
	@echo "make fuzz    fuzz the XDP and TC programs (root; FUZZ_ITERATIONS=$(FUZZ_ITERATIONS), FUZZ_SEED=)"
	@echo "make vmlinux regenerate vmlinux/vmlinux.h from this kernel's BTF"
	@echo "make bench   run the benchmarks (root; ~15 min, QUICK=1 ~4 min); see docs/performance.md"
	@echo "make profile where the answer and forge paths spend their time, by step (root, perf)"
	@echo "make install install tko(8), libtko, the systemd unit (PREFIX=$(PREFIX), DESTDIR=)"
	@echo "make deb     build the Debian packages into $(BUILD)/deb (tko, libtko-dev)"

deps:
	@scripts/deps.sh

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name tko_$(subst -,_,$*) > $@

$(BUILD)/agent/%.o: agent/%.c $(AGENT_HDRS) | $(BUILD)/agent/lib $(BUILD)/agent/loader \
				       $(BUILD)/agent/cmd $(BUILD)/agent/daemon
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# libtko needs no BPF object; the loader embeds them, the command reads their skeletons.
$(LOADER_OBJS) $(CMD_OBJS) $(DAEMON_OBJS): $(SKELS)

$(BUILD)/agent/cmd/main.o: CPPFLAGS += -DTKO_VERSION='"$(VERSION)"'
$(BUILD)/agent/daemon/metrics_http.o: CPPFLAGS += $(MHD_CFLAGS)
$(BUILD)/agent/cmd/main.o: VERSION

# The installed library: one object whose only global symbols are
# libtko.map's, so that nothing of libtko's insides (nor of the libraries it
# is built on) can clash with a name of the program it is linked into.
$(BUILD)/libtko.a: $(LIB_OBJS) agent/lib/libtko.map
	$(LD) -r $(LIB_OBJS) -o $(BUILD)/agent/libtko.o
	sed -n 's/^[[:space:]]*\(tko_[a-z0-9_]*\);$$/\1/p' agent/lib/libtko.map \
		>$(BUILD)/agent/libtko.syms
	$(OBJCOPY) --keep-global-symbols=$(BUILD)/agent/libtko.syms $(BUILD)/agent/libtko.o
	rm -f $@
	$(AR) rcs $@ $(BUILD)/agent/libtko.o

$(BUILD)/libtko-internal.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libtko-loader.a: $(LOADER_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tko: $(CMD_OBJS) $(DAEMON_OBJS) $(INTERNAL_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(MHD_LIBS)

$(UNIT_LIB_TESTS): $(BUILD)/tests/%: tests/unit/lib/%.c $(INTERNAL_LIBS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $< $(INTERNAL_LIBS) -o $@ $(LDLIBS) -lcmocka

$(UNIT_CMD_TESTS): $(BUILD)/tests/%: tests/unit/cmd/%.c $(TOOL_OBJS) $(INTERNAL_LIBS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(MHD_LIBS) -lcmocka

$(UNIT_DAEMON_TESTS): $(BUILD)/tests/%: tests/unit/daemon/%.c $(TOOL_OBJS) $(INTERNAL_LIBS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(MHD_LIBS) -lcmocka

$(BUILD)/tests/prog_%: tests/prog/prog_%.c $(wildcard tests/prog/*.h) $(SKELS) $(INTERNAL_LIBS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/prog $< $(INTERNAL_LIBS) -o $@ $(LDLIBS) -lcmocka

# tests/prog/prog_conntrack.c: the programs built against conntrack kfuncs no
# kernel has (the kernels without them: NOCT_OBJS), and ct_refresh_skb() alone.
$(BUILD)/tests/%_noct.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)/tests
	$(CLANG) $(BPF_CFLAGS) -DTKO_CT_TEST_ABSENT -c $< -o $@

$(BUILD)/tests/ct_skb.bpf.o: tests/prog/ct_skb.bpf.c $(BPF_HDRS) | $(BUILD)/tests
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.skel.h: $(BUILD)/tests/%.bpf.o
	$(BPFTOOL) gen skeleton $< name tko_$(subst -,_,$*) > $@

$(BUILD)/tests/prog_conntrack: $(NOCT_OBJS:.bpf.o=.skel.h) $(BUILD)/tests/ct_skb.skel.h

# prog_policy and prog_wake keep the policy tables as `tko policy` does
# (agent/daemon/policies.c).
$(BUILD)/tests/prog_policy $(BUILD)/tests/prog_wake: $(BUILD)/tests/%: tests/prog/%.c \
			    $(wildcard tests/prog/*.h) $(SKELS) \
			    $(BUILD)/agent/daemon/policies.o $(INTERNAL_LIBS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/prog $< $(BUILD)/agent/daemon/policies.o $(INTERNAL_LIBS) -o $@ \
		$(LDLIBS) -lcmocka

# prog_race: two CPUs at once. TC egress and XDP ingress built from their own
# sources with tests/prog/race_hooks.h first (a delay or a check right after
# two steps of the session table); the policy tables as prog_policy.
$(BUILD)/tests/%_race.bpf.o: bpf/%.bpf.c tests/prog/race_hooks.h $(BPF_HDRS) | $(BUILD)/tests
	$(CLANG) $(BPF_CFLAGS) -include tests/prog/race_hooks.h -c $< -o $@

$(BUILD)/tests/prog_race: tests/prog/prog_race.c $(wildcard tests/prog/*.h) $(SKELS) \
			  $(BUILD)/tests/tc_egress_race.skel.h \
			  $(BUILD)/tests/xdp_ingress_race.skel.h \
			  $(BUILD)/agent/daemon/policies.o $(INTERNAL_LIBS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/prog $< $(BUILD)/agent/daemon/policies.o $(INTERNAL_LIBS) -o $@ \
		$(LDLIBS) -lcmocka -lpthread

$(BUILD)/tests/tcpkit: tests/e2e/tcpkit.c | $(BUILD)/tests
	$(CC) $(CFLAGS) $< -o $@

$(BUILD) $(BUILD)/bpf $(BUILD)/agent/lib $(BUILD)/agent/loader $(BUILD)/agent/cmd \
	$(BUILD)/agent/daemon $(BUILD)/tests:
	mkdir -p $@

# make test: every test on this machine's kernel, then the legs of
# TEST_KERNELS (tests/vm: Debian's own kernels under qemu: the agent's load,
# the program tests, the gateway's and the forwarded policies' end-to-end
# tests). TEST_KERNELS= runs this kernel's alone.
TEST_KERNELS ?= 6.1
test:
	@scripts/deps.sh $(if $(TEST_KERNELS),vm)
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(PROG_TESTS) $(TEST_HELPERS) \
		$(if $(TEST_KERNELS),$(BUILD)/vm/loadall)
	@TKO_TEST_KERNELS="$(TEST_KERNELS)" tests/run.sh $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all $(TEST_HELPERS)
	@scripts/demo.sh $(BUILD)

# The program fuzzer of make test (tests/prog/prog_fuzz.c), for longer: random
# and mutated frames through XDP and TC egress, invariants checked after each.
# FUZZ_SEED defaults to one from the clock; the seed is printed, and a failure
# prints the command that replays it.
FUZZ_ITERATIONS ?= 2000000
FUZZ_SEED ?=
.PHONY: fuzz
fuzz: $(BUILD)/tests/prog_fuzz
	$(BUILD)/tests/prog_fuzz --iterations $(FUZZ_ITERATIONS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

-include bench/bench.mk
-include tests/vm/vm.mk

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

# The binary, the library and its header, the man page, a systemd unit and
# an example configuration (never overwriting one that exists).
install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(PREFIX)/share/doc/tko $(DESTDIR)/etc/tko
	$(INSTALL) -m 0755 $(BUILD)/tko $(DESTDIR)$(SBINDIR)/tko
	$(INSTALL) -m 0644 $(BUILD)/libtko.a $(DESTDIR)$(LIBDIR)/libtko.a
	$(INSTALL) -m 0644 include/tko.h $(DESTDIR)$(PREFIX)/include/
	$(INSTALL) -m 0644 docs/tko.8 $(DESTDIR)$(PREFIX)/share/man/man8/tko.8
	sed 's|@SBINDIR@|$(SBINDIR)|' scripts/tko.service > $(DESTDIR)$(UNITDIR)/tko.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tko.service
	$(INSTALL) -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/tko/
	[ -e $(DESTDIR)/etc/tko/tko.conf ] || $(INSTALL) -m 0644 scripts/tko.conf $(DESTDIR)/etc/tko/tko.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/tko $(DESTDIR)$(LIBDIR)/libtko.a \
		$(DESTDIR)$(PREFIX)/include/tko.h \
		$(DESTDIR)$(PREFIX)/share/man/man8/tko.8 \
		$(DESTDIR)$(UNITDIR)/tko.service
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/tko

# tko_VERSION_ARCH.deb and libtko-dev_VERSION_ARCH.deb in $(BUILD)/deb, with
# debhelper from debian/ (scripts/deb.sh says how).
deb:
	@scripts/deb.sh $(BUILD)

clean:
	rm -rf $(BUILD)
