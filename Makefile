# Convenience entry points; the build itself is CMake.
#   make build  install the missing build packages, build mailspill
#   make demo   the same, then run it on the bundled capture
#   make test   install the missing build and test packages, build, run the whole suite
#   make lint   install cppcheck and clang-tidy if missing, run scripts/lint.sh
#   make fuzz   build the libFuzzer targets with clang, run each SECONDS (60) seconds
#   make bench  the benchmark against the read floor and the peers (QUICK=1: small)
BUILD ?= build
BUILD_SAN ?= build-san
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DEMO ?= pcaps/pop3/demo-userpass-retr.pcap

.PHONY: all deps deps-build deps-test deps-lint deps-clang build demo test test-san \
        test-san-clang test-tsan check-src lint fuzz \
        mutation clean pcaps bench deps-bench

all: build

# Targets share the build tree and apt; each recipe runs its own jobs in
# parallel (cmake --build -j, ctest -j), so make itself runs one at a time.
.NOTPARALLEL:

# Debian packages, only those missing (scripts/install-deps.sh says which).
# deps-test and deps-lint come after deps-build: one apt-get at a time.
deps: deps-build deps-test
deps-build:
	./scripts/install-deps.sh build
deps-test: deps-build
	./scripts/install-deps.sh test
deps-lint: deps-build
	./scripts/install-deps.sh lint
deps-clang: deps-test
	./scripts/install-deps.sh clang

# build needs only the build packages, so it configures without the test
# suite (MS_TESTS=OFF: no cmocka); test and lint turn it on in the same tree.
CONFIGURE = cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps-build
	$(CONFIGURE) -DMS_TESTS=OFF
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	@echo "== mailspill --text --show-passwords -r $(DEMO)"
	@./$(BUILD)/mailspill --text --show-passwords -r $(DEMO)
	@echo
	@echo "== mailspill -r $(DEMO)   (JSON, passwords redacted)"
	@./$(BUILD)/mailspill -r $(DEMO)

test: deps-test check-src
	$(CONFIGURE) -DMS_TESTS=ON
	cmake --build $(BUILD) -j$(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-san: deps-test
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DMS_SANITIZE=ON -DMS_WERROR=ON -DMS_TESTS=ON
	cmake --build $(BUILD_SAN) -j$(JOBS)
	cd $(BUILD_SAN) && ctest --output-on-failure -j$(JOBS)

# Again with clang: its UBSan catches what gcc's misses (a NULL pointer
# given an offset, for one).
BUILD_SAN_CLANG ?= build-san-clang
test-san-clang: deps-clang
	CC=clang cmake -S . -B $(BUILD_SAN_CLANG) -DCMAKE_BUILD_TYPE=Debug -DMS_SANITIZE=ON \
	    -DMS_WERROR=ON -DMS_TESTS=ON
	cmake --build $(BUILD_SAN_CLANG) -j$(JOBS)
	cd $(BUILD_SAN_CLANG) && ctest --output-on-failure -j$(JOBS)

# The tests of --threads (ctest label "threads") under ThreadSanitizer: a
# data race makes mailspill exit 66, which fails them.
BUILD_TSAN ?= build-tsan
test-tsan: deps-clang
	CC=clang cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DMS_TSAN=ON -DMS_TESTS=ON
	cmake --build $(BUILD_TSAN) -j$(JOBS) --target mailspill test_workq
	cd $(BUILD_TSAN) && TSAN_OPTIONS=exitcode=66 ctest --output-on-failure -j$(JOBS) -L threads

check-src:
	./scripts/check-src.sh

# Every libFuzzer target of tests/fuzz/, built with clang (sanitizers and
# coverage on every library) in $(BUILD_FUZZ), each run SECONDS seconds
# from its seeds on a scratch corpus (tests/fuzz/run.sh); fails if any
# finds a crash, a leak or a hang, keeping the input.
BUILD_FUZZ ?= build-fuzz
SECONDS ?= 60
fuzz: deps-clang
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMS_FUZZ=ON \
	    -DMS_TESTS=ON
	cmake --build $(BUILD_FUZZ) -j$(JOBS)
	./tests/fuzz/run.sh $(BUILD_FUZZ) $(SECONDS)

# Static analysis: cppcheck and clang-tidy (.clang-tidy) over every file in
# $(BUILD)/compile_commands.json, tests included; fails on any finding.
# Configuring is enough: the analysers read the sources, not the objects.
lint: deps-lint
	$(CONFIGURE) -DMS_TESTS=ON
	./scripts/lint.sh $(BUILD)

# Plants each bug of tests/mutation/mutants/ alone in a scratch copy and
# runs the tests labelled for it: every one must be caught (a few minutes).
mutation: deps-test
	/usr/bin/python3 tests/mutation/run.py

# Benchmarks (not part of test; see README, Benchmark): bench/bench.py
# builds 1 GiB captures from the recorded sessions in bench/data (or
# $MS_BENCH_DIR) when absent, times the read floor, a SHA-256 pass,
# mailspill and the peers (installed by deps-bench) on them and prints the
# table; then bench/checks.py's flood, throughput and tiny-segment bounds.
# make bench QUICK=1 (or BENCH_ARGS=--quick): 100 MiB captures.
BENCH_ARGS ?=
bench: deps-test deps-bench build
	/usr/bin/python3 bench/bench.py $(BUILD)/mailspill $(if $(QUICK),--quick) $(BENCH_ARGS)
	/usr/bin/python3 bench/checks.py $(BUILD)/mailspill
deps-bench: deps-build
	./scripts/install-deps.sh bench

# Regenerating captures needs root, network namespaces and the servers.
pcaps:
	./pcaps/gen/regenerate.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
