#!/bin/sh
# Builds every libFuzzer target with clang and runs each for a while on a copy of its seeds.
#
#   tests/fuzz/run.sh [SECONDS] [NAME...]     e.g.  tests/fuzz/run.sh          (10 s each)
#                                                   tests/fuzz/run.sh 3600       (long run)
#                                                   tests/fuzz/run.sh 60 sdp rtp
#
# SECONDS per target (default 10); NAMEs pick targets (fuzz_NAME.c), default all of them.
# Environment: FUZZ_BUILD_DIR (default build-fuzz, relative to the source root) when several
# people share one tree; FUZZ_KEEP_CORPUS=1 keeps the corpus grown by earlier runs instead of
# starting again from the seeds; FUZZ_ARGS adds libFuzzer flags (e.g. "-max_len=8192").
#
# The committed seeds (tests/fuzz/corpus/NAME/) are never written: each target runs on a copy
# in BUILD/fuzz-work/NAME/corpus. A crash, leak, time-out or out-of-memory stops that target;
# its input is kept in BUILD/fuzz-work/NAME/crashes/ and its log in BUILD/fuzz-work/NAME/log
# (the next run of that target moves older crash inputs to BUILD/fuzz-work/NAME/earlier-crashes/).
# Exit status: 0 when no target crashed, 1 when any did, 2 when the build failed.
# To keep a crash as a regression input once fixed: copy it to tests/fuzz/corpus/NAME/ (the
# ctest test fuzz_replay_NAME replays it in every test build).
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-10}
case $secs in *[!0-9]* | '') echo "usage: $0 [SECONDS] [NAME...]" >&2; exit 2 ;; esac
[ $# -gt 0 ] && shift
build=${FUZZ_BUILD_DIR:-build-fuzz}
case $build in /*) ;; *) build=$root/$build ;; esac

echo "== building fuzz targets in $build"
if ! CC=${CC:-clang} cmake -S "$root" -B "$build" -DTANDEM_FUZZ=ON -DBUILD_TESTING=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.cmake.log" 2>&1; then
    cat "$build.cmake.log" >&2
    exit 2
fi
rm -f "$build.cmake.log"
if ! cmake --build "$build" -j2 >/dev/null 2>"$build.err" && ! cmake --build "$build" -j1; then
    cat "$build.err" >&2
    exit 2
fi
rm -f "$build.err"

if [ $# -gt 0 ]; then
    names=$*
else
    names=
    for src in "$root"/tests/fuzz/fuzz_*.c; do
        n=${src##*/fuzz_}
        names="$names ${n%.c}"
    done
fi

failed=0
table=$(mktemp)
trap 'rm -f "$table"' EXIT INT TERM
for name in $names; do
    bin=$build/tests/fuzz/fuzz_$name
    work=$build/fuzz-work/$name
    if [ ! -x "$bin" ]; then
        echo "no target fuzz_$name" >&2
        failed=1
        continue
    fi
    [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ] || rm -rf "$work/corpus"
    # Crashes of earlier runs move aside (never lost) so that this run counts only its own.
    mkdir -p "$work/corpus" "$work/crashes" "$work/earlier-crashes"
    find "$work/crashes" -type f -exec mv -f {} "$work/earlier-crashes/" \;
    if [ -d "$root/tests/fuzz/corpus/$name" ]; then
        cp -p "$root/tests/fuzz/corpus/$name"/* "$work/corpus/" 2>/dev/null
    fi
    echo "== fuzz_$name: ${secs} s"
    # -timeout: one input running over 25 s is a hang worth reporting, not patience.
    # shellcheck disable=SC2086
    (cd "$work" && "$bin" -max_total_time="$secs" -timeout=25 -print_final_stats=1 \
        -artifact_prefix="$work/crashes/" ${FUZZ_ARGS:-} corpus) >"$work/log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$work/log" | tail -n 1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    crashes=$(find "$work/crashes" -type f | wc -l)
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1 # died without an artifact (e.g. killed): still a failure
    fi
    if [ "$crashes" -gt 0 ]; then
        failed=1
        echo "   CRASH (exit $rc): inputs kept in $work/crashes/, log in $work/log"
        grep -m 3 -E 'ERROR: |invariant failed|CHECK failed|runtime error' "$work/log" | sed 's/^/   /'
    fi
    printf '%-12s %12s %8s %8s %8s\n' "$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes" >>"$table"
done

echo
printf '%-12s %12s %8s %8s %8s\n' target executions cov ft crashes
cat "$table"
exit $failed
