# Convenience wrapper: `make demo` and `make check` are the README's two commands.
BUILD ?= build
JOBS ?= 2
PREFIX ?= /usr/local

.PHONY: all deps build demo check bench bench-mpi install clean check-sanitize fuzz
SAN_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 15
# Every sanitizer report is fatal; leaks are reported at exit, except other
# libraries' (tests/lsan.supp; Open MPI's: tests/lib_mpi.sh).
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@sh scripts/demo.sh $(BUILD)/granite

check: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@$(BUILD)/granite bench

# program, libraries, header, granite.pc, CMake package, man page, Python module
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

# docs/distributed.md: ranks against threads, allreduce cost (a few minutes)
bench-mpi: build
	@sh bench/mpi_scaling.sh $(BUILD)

# The whole suite built with ASan + LeakSanitizer + UBSan (docs/reliability.md).
check-sanitize:
	@sh scripts/install-deps.sh sanitize
	@cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DGRANITE_SANITIZE=ON >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS)
	@cd $(SAN_BUILD) && $(SAN_ENV) ctest --output-on-failure -j $(JOBS)

# Every libFuzzer target for FUZZ_SECONDS each, one after the other.
fuzz:
	@sh scripts/install-deps.sh sanitize
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DGRANITE_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all
	@$(SAN_ENV) sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD)
