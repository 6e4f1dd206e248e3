# The kernel matrix (included by the Makefile): `make test-kernels` boots
# Debian's kernel packages under qemu and runs the agent's load, the program
# tests and the end-to-end tests that hold under emulation in each; see
# tests/vm/matrix.sh. VM_KERNELS: the series, VM_E2E: the end-to-end tests.
VM_KERNELS ?= 6.1 6.12

.PHONY: test-kernels
test-kernels:
	@scripts/deps.sh vm
	@$(MAKE) --no-print-directory all $(PROG_TESTS) $(TEST_HELPERS) $(BUILD)/vm/loadall
	@tests/vm/matrix.sh $(BUILD) $(VM_KERNELS)

# Each program loaded alone, for tests/vm/programs.sh.
$(BUILD)/vm/loadall: tests/vm/loadall.c $(BPF_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)
