#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang into build-fuzz/ and
# runs one or all of them for SECONDS each (default 60), one after another,
# each on a copy of its corpus (build-fuzz/corpus/TARGET: the seeds of
# tests/fuzz/corpus/TARGET plus what earlier runs found; the seeds in the
# tree are never written). A crash, leak or timeout is saved in
# build-fuzz/out/TARGET/ and makes the script fail; each run's log is
# build-fuzz/out/TARGET.log. Installs clang when it is missing.
#
#   tools/fuzz.sh [TARGET|all] [SECONDS]
#   tools/fuzz.sh --list
set -euo pipefail
cd "$(dirname "$0")/.."

targets=$(sed -n 's/^set(fuzz_targets \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)
if [ "${1:-}" = --list ]; then
	printf '%s\n' $targets
	exit 0
fi
target=${1:-all}
seconds=${2:-60}
if [ "$target" != all ] && ! printf '%s\n' $targets | grep -qx -- "$target"; then
	echo "fuzz.sh: no target '$target' (one of: $targets)" >&2
	exit 2
fi

if ! command -v clang >/dev/null ||
	! compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null; then
	sudo=$([ "$(id -u)" = 0 ] || echo sudo)
	$sudo apt-get update
	$sudo apt-get install -y clang libclang-rt-14-dev
fi

CC=clang nice -n 15 cmake -S . -B build-fuzz -DMFS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	>/dev/null
nice -n 15 cmake --build build-fuzz -j"$(nproc)" -- --no-print-directory

failed=0
for t in $targets; do
	[ "$target" = all ] || [ "$target" = "$t" ] || continue
	corpus=build-fuzz/corpus/$t
	out=build-fuzz/out/$t
	mkdir -p "$corpus" "$out"
	cp -n tests/fuzz/corpus/"$t"/* "$corpus"/
	dict=()
	[ -f tests/fuzz/"$t".dict ] && dict=(-dict=tests/fuzz/"$t".dict)
	echo "== $t: $seconds s"
	if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		nice -n 15 build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" \
		-print_final_stats=1 -artifact_prefix="$out"/ "${dict[@]}" "$corpus" \
		>"$out".log 2>&1; then
		grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov: ' "$out".log | tail -3
	else
		failed=1
		echo "fuzz.sh: $t failed, see $out.log and $out/" >&2
		tail -30 "$out".log >&2
	fi
done
exit $failed
