#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the unit and
# integration tests on the normal build, then the unit tests again on a build
# with AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
tools/build.sh build
tools/build.sh build-asan -DMFS_SANITIZE=ON

echo "== tests (build/)"
# -j2: only the tests that mostly wait (tests/CMakeLists.txt names them) run
# two at a time; every other one runs alone (RUN_SERIAL).
ctest --test-dir build --output-on-failure --timeout 900 -j2
echo "== unit tests under ASan+UBSan (build-asan/)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan --output-on-failure --timeout 1800 -L unit
