# The two commands of README.md:  make demo  |  make test
# Both work as root on a fresh Debian 12: they install what is missing, build, start the real
# services on loopback (scripts/services) and stop them again.

BUILD_PRESET ?= release
CTEST_ARGS ?=
SHELL := /bin/bash

.PHONY: all deps build demo test test-unit test-asan bench services-start services-stop clean

all: build

deps:
	scripts/install-deps

build: deps
	cmake --preset $(BUILD_PRESET) >/dev/null
	cmake --build --preset $(BUILD_PRESET)

# Starts the services, runs every test (unit + integration), stops the services; the exit code is
# ctest's.
# Two ClickHouse replicas, so the Replicated engine is tested too; three Kafka brokers, so topics
# have replication factor 3 and a broker can be stopped mid-stream.
test: build
	@set -o pipefail; CH_REPLICAS=2 KAFKA_BROKERS=3 scripts/services start || { scripts/services stop; exit 1; }; \
	  source .run/env; \
	  ctest --preset $(BUILD_PRESET) -j2 $(CTEST_ARGS); rc=$$?; \
	  scripts/services stop; exit $$rc

test-unit: build
	ctest --preset $(BUILD_PRESET) -LE integration -j2 $(CTEST_ARGS)

test-asan: deps
	cmake --preset debug-asan >/dev/null
	cmake --build --preset debug-asan
	@scripts/services start || { scripts/services stop; exit 1; }; source .run/env; \
	  ctest --preset debug-asan -j2 $(CTEST_ARGS); rc=$$?; scripts/services stop; exit $$rc

demo: build
	@scripts/services start mariadb clickhouse || { scripts/services stop; exit 1; }; \
	  source .run/env; scripts/demo; rc=$$?; scripts/services stop; exit $$rc

# Benchmarks: installs, builds only what they run (sluice, view_state_rss_test; the micro-benchmarks
# compile against its libraries), starts the services, runs bench/run, stops them. The harness
# records the whole command's time (SLUICE_MAKE_BENCH_T0) in the results.
bench:
	@export SLUICE_MAKE_BENCH_T0=$$(date +%s.%N); \
	  scripts/install-deps && cmake --preset $(BUILD_PRESET) >/dev/null && \
	  cmake --build --preset $(BUILD_PRESET) --target sluice view_state_rss_test || exit 1; \
	  scripts/services start || { scripts/services stop; exit 1; }; source .run/env; \
	  bench/run; rc=$$?; scripts/services stop; exit $$rc

services-start:
	scripts/services start

services-stop:
	scripts/services stop

clean:
	rm -rf build build-asan
