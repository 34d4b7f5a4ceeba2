#!/usr/bin/env bash
# Measures which lines and branches the tests run: builds megafs with gcc
# --coverage into build-cov/, runs the tests there, and prints line and
# branch coverage per module (directory) and overall, then the lines of
# crypto/ no test runs (the goal there is every line).
#
#   tools/coverage.sh [unit|all] [CTEST-ARGS...]
#
#   unit  the unit tests and the fuzz corpus replays (ctest -L unit), ~1 min
#   all   (the default) those and the integration scripts, except
#         integration_forensics: the forensic adversary reads every slot of
#         hundreds of stores and takes far longer under -O0 --coverage than
#         everything else together, and it runs no code the others do not
#         (its statistics are the point, not its lines)
#
# Extra arguments go to ctest (e.g. -R 'net_' for a subset). Installs gcovr
# from Debian when it is missing. The build is -O0, so what counts as a
# branch is the code's own, not what the optimiser made of it. Also writes
# build-cov/coverage.html (per file, with the lines) and coverage.json.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
shift || true
case $what in
unit) select=(-L unit) ;;
all) select=(-E '^integration_forensics$') ;;
*)
	echo "coverage.sh: unit or all, not '$what'" >&2
	exit 2
	;;
esac

if ! command -v gcovr >/dev/null; then
	sudo=$([ "$(id -u)" = 0 ] || echo sudo)
	echo "tools/coverage.sh: installing gcovr" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends gcovr >/dev/null
fi

dir=build-cov
# MFS_COVERAGE (CMakeLists.txt): --coverage -O0 with atomic counters (the
# loop, pool and FUSE threads run the same lines, and plain ones lose
# updates: gcov then reads negative counts and gcovr stops); the mount
# daemon dumps its counters before its _exit.
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DMFS_COVERAGE=ON >/dev/null
nice cmake --build "$dir" -j"$(nproc)" -- --no-print-directory >/dev/null

# Counters of an earlier run would add to this one's.
find "$dir" -name '*.gcda' -delete
nice ctest --test-dir "$dir" -j"$(nproc)" --timeout 1800 "${select[@]}" "$@" >"$dir/coverage-ctest.log" ||
	{ grep -E 'tests passed|Failed|\*\*\*' "$dir/coverage-ctest.log" >&2; echo "coverage.sh: some tests failed; the numbers below still count what ran" >&2; }
grep -E 'tests passed' "$dir/coverage-ctest.log" || true

# Only megafs's own code: not the tests, their tools, the fuzz drivers or
# the benchmarks; not CMake's compiler probe.
nice gcovr --root . --object-directory "$dir" --exclude 'tests/' --exclude 'tools/bench/' \
	--exclude-directories "$dir/CMakeFiles/[0-9.]+" \
	--exclude-unreachable-branches --json "$dir/coverage.json" \
	--html-details "$dir/coverage.html" >/dev/null

python3 - "$dir/coverage.json" <<'EOF'
import json, sys
from collections import defaultdict

files = json.load(open(sys.argv[1]))["files"]
mods = defaultdict(lambda: [0, 0, 0, 0])  # lines hit, lines, branches taken, branches
uncovered_crypto = {}

def module(path):
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "fs" else parts[0]

for f in files:
    m = mods[module(f["file"])]
    missed = []
    for l in f["lines"]:
        if l.get("gcovr/noncode"):
            continue
        m[1] += 1
        m[0] += l["count"] > 0
        if l["count"] == 0:
            missed.append(l["line_number"])
        for b in l["branches"]:
            m[3] += 1
            m[2] += b["count"] > 0
    if f["file"].startswith("crypto/") and missed:
        uncovered_crypto[f["file"]] = missed

def pct(a, b):
    return f"{100.0 * a / b:5.1f} %" if b else "    -  "

print(f"{'module':<12} {'lines':>15} {'':>7}   {'branches':>15} {'':>7}")
total = [0, 0, 0, 0]
for name in sorted(mods):
    m = mods[name]
    total = [x + y for x, y in zip(total, m)]
    print(f"{name:<12} {m[0]:>7}/{m[1]:<7} {pct(m[0], m[1])}   {m[2]:>7}/{m[3]:<7} {pct(m[2], m[3])}")
print(f"{'overall':<12} {total[0]:>7}/{total[1]:<7} {pct(total[0], total[1])}   "
      f"{total[2]:>7}/{total[3]:<7} {pct(total[2], total[3])}")
if uncovered_crypto:
    print("\nlines of crypto/ no test runs:")
    for name, lines in sorted(uncovered_crypto.items()):
        print(f"  {name}: {' '.join(map(str, lines))}")
else:
    print("\nevery line of crypto/ runs")
EOF
