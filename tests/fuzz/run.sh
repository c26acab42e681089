#!/bin/sh
# Runs every libFuzzer target of an MS_FUZZ build for a while each (make fuzz):
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS
#
# Each target starts from its committed seeds (the same as its fuzz-replay
# test, CMakeLists.txt) but libFuzzer writes the inputs it finds into the
# first corpus directory it is given, so that one is a scratch directory:
# the committed corpus is never written. Fails when any target finds a
# crash, a leak or a hang; the input that caused it is kept in
# BUILD_DIR/fuzz-findings/<target>/ (to replay: fuzz_<target>_replay FILE).
# Prints libFuzzer's final numbers for each target.
set -eu
[ $# -eq 2 ] || {
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
}
build=$(cd "$1" && pwd)
secs=$2 # not $SECONDS: bash gives that name a meaning of its own
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
findings=$build/fuzz-findings
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

# The committed seed directories of a target.
seeds() {
    case $1 in
    dissector) echo "$here/corpus/pop3 $here/corpus/imap $here/corpus/smtp" ;;
    capture)
        # Every bundled capture too, without the JSON files beside them.
        mkdir -p "$scratch/pcaps"
        find "$root/pcaps" -name '*.pcap' -o -name '*.pcapng' | while read -r f; do
            cp "$f" "$scratch/pcaps/$(echo "${f#"$root"/pcaps/}" | tr / _)"
        done
        echo "$here/corpus/capture $scratch/pcaps"
        ;;
    *) echo "$here/corpus/$1" ;;
    esac
}

# libFuzzer's final numbers: "Done N runs in S second(s)" and -print_final_stats.
final_stat() {
    sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

failed=""
count=0
printf '%-12s %12s %8s %10s %10s %8s\n' target execs seconds exec/s new-units peak-MB
for exe in "$build"/tests/fuzz/fuzz_*; do
    case $exe in *_replay) continue ;; esac
    if [ ! -f "$exe" ] || [ ! -x "$exe" ]; then continue; fi
    name=${exe##*/fuzz_}
    count=$((count + 1))
    mkdir -p "$scratch/$name" "$findings/$name"
    log=$scratch/$name.log
    # shellcheck disable=SC2046 # seeds: several directories, no spaces
    if (cd "$scratch" && "$exe" -max_total_time="$secs" -timeout=30 -print_final_stats=1 \
        -artifact_prefix="$findings/$name/" "$scratch/$name" $(seeds "$name")) >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed="$failed $name"
    fi
    secs_run=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
    printf '%-12s %12s %8s %10s %10s %8s %s\n' "$name" \
        "$(final_stat number_of_executed_units "$log")" "${secs_run:-?}" \
        "$(final_stat average_exec_per_sec "$log")" "$(final_stat new_units_added "$log")" \
        "$(final_stat peak_rss_mb "$log")" "$status"
    if [ "$status" = FAILED ]; then
        grep -E '^(==[0-9]+==ERROR|SUMMARY|Test unit written|artifact_prefix)' "$log" | sed 's/^/    /'
        tail -n 25 "$log" | sed 's/^/    | /'
    fi
done
if [ "$count" -eq 0 ]; then
    echo "no libFuzzer targets in $build/tests/fuzz (configure with -DMS_FUZZ=ON and clang)" >&2
    exit 1
fi
if [ -n "$failed" ]; then
    echo "fuzzing found something in:$failed (inputs in $findings/)" >&2
    exit 1
fi
echo "$count targets, ${secs}s each: nothing found"
