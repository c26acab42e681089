#!/bin/bash
# Static analysis of every C file the build compiles (the tests too):
# cppcheck, then clang-tidy with the checks named in .clang-tidy. Both read
# BUILD/compile_commands.json, so each file is analysed with its real flags.
# Exits 1 on any finding of either, 2 when it cannot run.
#
#   scripts/lint.sh [BUILD] [FILE...]      (make lint configures BUILD first)
#
# BUILD defaults to build; FILEs (paths from the top of the tree) narrow the
# run to those files. Each finding is printed once as
#   path:line:col: tool: [check] message
# and clang-tidy's full report of each file (with the analyser's path notes)
# is kept in BUILD/lint/. Packages: scripts/install-deps.sh lint.
#
# A finding is fixed, or, when the code is right as it is, marked where it
# is with the reason: /* cppcheck-suppress ID */ on the line before, or
# /* NOLINT(check): why */. Suppressions for the whole tree go in
# .cppcheck-suppressions or .clang-tidy, with the reason beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
[ $# -eq 0 ] || shift
DB=$BUILD/compile_commands.json
OUT=$BUILD/lint
JOBS=$(nproc 2>/dev/null || echo 2)

die() { printf 'lint.sh: %s\n' "$*" >&2; exit 2; }
[ -f "$DB" ] || die "no $DB: configure first (make lint does)"
for tool in cppcheck clang-tidy clang-format; do
    command -v "$tool" >/dev/null || die "$tool is missing: scripts/install-deps.sh lint"
done

# The files to analyse: every "file" of the compilation database (CMake
# writes one per line), or those given.
mapfile -t all < <(sed -n 's/^ *"file": "\(.*\)",\{0,1\}$/\1/p' "$DB" | sort -u)
files=()
if [ $# -eq 0 ]; then
    files=("${all[@]}")
else
    for f in "$@"; do
        abs=$ROOT/${f#./}
        printf '%s\n' "${all[@]}" | grep -qxF "$abs" || die "$f is not in $DB"
        files+=("$abs")
    done
fi
[ ${#files[@]} -gt 0 ] || die "no C files in $DB"
# cppcheck-cache is kept: cppcheck reanalyses only the files that changed.
rm -rf "$OUT/clang-tidy" "$OUT/clang-tidy.failed"
mkdir -p "$OUT/cppcheck-cache" "$OUT/clang-tidy"

# ---------------------------------------------------------------- cppcheck
# Checks: warning (undefined behaviour, bad use of the library), performance,
# portability; style and information are left out. posix and gnu: what
# those libraries' functions do (the build defines _GNU_SOURCE).
# libbsd's tree.h is included by path: cppcheck does not read system
# headers, and without RB_GENERATE_STATIC it gives up on tcp_reasm.c.
filters=()
if [ $# -gt 0 ]; then
    # cppcheck 2.10 matches --file-filter against paths relative to the top
    # when BUILD is inside the tree, and against absolute ones when it is
    # outside (cmake -B /tmp/x): both are given.
    for f in "${files[@]}"; do filters+=("--file-filter=${f#"$ROOT"/}" "--file-filter=$f"); done
fi
echo "lint.sh: cppcheck on ${#files[@]} files"
cppcheck_rc=0
cppcheck --project="$DB" "${filters[@]}" \
    --std=c11 --library=posix --library=gnu \
    --include=/usr/include/bsd/sys/tree.h \
    --enable=warning,performance,portability \
    --inline-suppr --suppressions-list=.cppcheck-suppressions \
    --cppcheck-build-dir="$OUT/cppcheck-cache" -j "$JOBS" --quiet \
    --error-exitcode=1 \
    --template='{file}:{line}:{column}: cppcheck: [{id}] {severity}: {message}' \
    2>"$OUT/cppcheck.txt" || cppcheck_rc=$?
sed "s|^$ROOT/||" "$OUT/cppcheck.txt" | grep -E '^[^ ]+:[0-9]+:[0-9]+: cppcheck: ' |
    sort -t: -k1,1 -k2,2n -k3,3n -u >"$OUT/cppcheck.findings" || true
n_cppcheck=$(wc -l <"$OUT/cppcheck.findings")
cat "$OUT/cppcheck.findings"
if [ "$cppcheck_rc" -ne 0 ] && [ "$n_cppcheck" -eq 0 ]; then
    cat "$OUT/cppcheck.txt" >&2
    die "cppcheck failed (exit $cppcheck_rc) without a finding"
fi

# -------------------------------------------------------------- clang-tidy
# The checks and their options are in .clang-tidy. -UNDEBUG: the build type
# may define NDEBUG, and the analyser should see the assert()s, which state
# the invariants it would otherwise doubt.
echo "lint.sh: clang-tidy on ${#files[@]} files"
tidy_one() {
    local f=$1 log
    log=$OUT/clang-tidy/$(printf '%s' "${f#"$ROOT"/}" | tr / _).txt
    if ! clang-tidy -p "$BUILD" --quiet --extra-arg=-UNDEBUG "$f" >"$log" 2>&1; then
        echo "$f" >>"$OUT/clang-tidy.failed"
    fi
}
export -f tidy_one
export BUILD OUT ROOT
# shellcheck disable=SC2016  # $1 is bash -c's argument, expanded there
printf '%s\0' "${files[@]}" | xargs -0 -r -n 1 -P "$JOBS" bash -c 'tidy_one "$1"' _
# One line per finding: a header's is reported by every file including it.
cat "$OUT"/clang-tidy/*.txt |
    sed -E 's/\x1b\[[0-9;]*m//g' |
    sed -nE 's/^(\/[^:]+):([0-9]+):([0-9]+): (warning|error): (.*) \[([^]]+)\]$/\1:\2:\3: clang-tidy: [\6] \5/p' |
    sed 's/,-warnings-as-errors\]/]/' |
    while IFS= read -r line; do
        path=${line%%:*}
        printf '%s:%s\n' "$(realpath -m --relative-to="$ROOT" "$path")" "${line#*:}"
    done | sort -t: -k1,1 -k2,2n -k3,3n -u >"$OUT/clang-tidy.findings"
n_tidy=$(wc -l <"$OUT/clang-tidy.findings")
cat "$OUT/clang-tidy.findings"
if [ -s "$OUT/clang-tidy.failed" ] && [ "$n_tidy" -eq 0 ]; then
    sed 's/^/  /' "$OUT/clang-tidy.failed" >&2
    die "clang-tidy failed on the files above without a finding (see $OUT/clang-tidy/)"
fi

# The layout of .clang-format, on every C file and header of the tree (the
# whole tree, or the FILEs given): a file that clang-format would change is a
# finding, listed with the command that fixes it.
mapfile -t fmt_files < <(if [ $# -gt 0 ]; then printf '%s\n' "${files[@]#"$ROOT"/}"; else
    git ls-files '*.c' '*.h' | grep -E '^(app|capture|common|dissectors|output|tests)/'; fi)
n_format=0
if [ "${#fmt_files[@]}" -gt 0 ]; then
    for f in "${fmt_files[@]}"; do
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
            echo "$f:1:1: clang-format: not formatted (clang-format -i $f)"
            n_format=$((n_format + 1))
        fi
    done
fi

echo "lint.sh: $n_cppcheck cppcheck, $n_tidy clang-tidy and $n_format clang-format findings" \
     "(clang-tidy's reports with the analyser's notes: $OUT/clang-tidy/)"
[ "$n_cppcheck" -eq 0 ] && [ "$n_tidy" -eq 0 ] && [ "$n_format" -eq 0 ]
