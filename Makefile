# Convenience entry points; the build itself is CMake.
#   make demo   install what is missing, build, run on the bundled capture
#   make test   install what is missing, build, run the whole suite
BUILD ?= build
BUILD_SAN ?= build-san
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DEMO ?= pcaps/pop3/demo-userpass-retr.pcap

.PHONY: all deps build demo test test-san check-src clean pcaps bench

all: build

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	@echo "== mailspill --text --show-passwords -r $(DEMO)"
	@./$(BUILD)/mailspill --text --show-passwords -r $(DEMO)
	@echo
	@echo "== mailspill -r $(DEMO)   (JSON, passwords redacted)"
	@./$(BUILD)/mailspill -r $(DEMO)

test: build check-src
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-san: deps
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DMS_SANITIZE=ON -DMS_WERROR=ON
	cmake --build $(BUILD_SAN) -j$(JOBS)
	cd $(BUILD_SAN) && ctest --output-on-failure -j$(JOBS)

check-src:
	./scripts/check-src.sh

# Benchmarks (not part of test): flood of 1,000,000 half-open flows under a
# flow cap (peak RSS), and throughput on generated POP3 sessions.
bench: build
	/usr/bin/python3 bench/bench.py $(BUILD)/mailspill

# Regenerating captures needs root, network namespaces and the servers.
pcaps:
	./pcaps/gen/regenerate.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
