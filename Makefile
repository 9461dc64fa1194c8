# Convenience wrapper: `make demo` and `make check` are the README's two commands.
BUILD ?= build
JOBS ?= 2
PREFIX ?= /usr/local

.PHONY: all deps build demo check bench install clean
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

clean:
	rm -rf $(BUILD)
