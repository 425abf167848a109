#!/usr/bin/env bash
# How Connect's JSON codec was chosen (bench/results/connect-json.md): prost-reflect, which
# the runtime uses, against pbjson's generated serde impls.
#
# usage: bench/json-codec/run.sh [--no-corpus]
#
#   1. transcoding speed, small and large message, request (JSON → protobuf) and response
#      (protobuf → JSON): ns per message (median of 7 timed runs), and instructions per
#      message from callgrind where valgrind is installed (stable on a busy machine).
#   2. the corpus (skipped with --no-corpus): pbjson's serde impls for the googleapis
#      medium tier, their lines, and the debug build of its messages with and without
#      them (2 builds each, alternating). It needs the corpus bench/codegen/run.sh sets up
#      (target/bench-codegen/package); about 10 minutes on 2 cores.
#
# stdout: Markdown. Nothing here is a test; nothing asserts a speed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/json-codec
WORK=$TARGET/corpus
BIN=$TARGET/release

CARGO_TARGET_DIR=$TARGET cargo build -q --release --manifest-path "$ROOT/bench/json-codec/Cargo.toml"

echo "### Transcoding speed (ns per message, median of 7 runs)"
echo
"$BIN/rgrpc-json-codec-bench" time
echo
echo "### Instructions per message (callgrind)"
echo
if command -v valgrind >/dev/null; then
    instructions() { # CODEC CASE N: total instructions of N transcodings
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$BIN/rgrpc-json-codec-bench" count "$@" 2>&1 |
            awk '/Collected/ { print $4 }'
    }
    echo "| case | prost-reflect | pbjson | prost-reflect/pbjson |"
    echo "|---|---:|---:|---:|"
    for case in small-request small-response large-request large-response; do
        case $case in small-*) short=2000 long=12000 ;; *) short=20 long=120 ;; esac
        row=()
        for codec in reflect pbjson; do
            a=$(instructions "$codec" "$case" "$short")
            b=$(instructions "$codec" "$case" "$long")
            row+=($(((b - a) / (long - short))))
        done
        ratio=$(awk -v r="${row[0]}" -v p="${row[1]}" 'BEGIN { printf "%.2f", r / p }')
        echo "| $case | ${row[0]} | ${row[1]} | ${ratio}× |"
    done
else
    echo "(valgrind is not installed: run bench/setup.sh. Not measured.)"
fi
echo
echo "### What each writes for an Any and a FieldMask"
echo
echo '```'
"$BIN/rgrpc-json-codec-bench" show
echo '```'

[[ ${1:-} == --no-corpus ]] && exit 0
CORPUS=$ROOT/target/bench-codegen/package
if [[ ! -d $CORPUS/google ]]; then
    echo
    echo "(The corpus is not set up: run bench/codegen/run.sh --quick once. Not measured.)"
    exit 0
fi
echo
echo "### pbjson on the medium tier"
echo
"$BIN/pbjson-corpus" "$CORPUS" /work/shared/bench-corpus/medium.txt "$WORK" 2>/dev/null |
    sed 's/^/    /'
echo
for crate in messages serde; do
    echo "    $crate: $(du -sb "$WORK/$crate/src/gen" | cut -f1) bytes generated"
done
echo "    prost-reflect instead: $("$BIN/rgrpc-json-codec-bench" pool "$WORK/corpus.pb")"
# Not incremental: each build compiles the crate whole, as a first build does.
export CARGO_TARGET_DIR=$TARGET/corpus-target CARGO_INCREMENTAL=0
(cd "$WORK/messages" && cargo build -q 2>/dev/null) # the dependencies, once
(cd "$WORK/serde" && cargo build -q 2>/dev/null)
echo
echo "| build (debug, dependencies built) | run 1 | run 2 |"
echo "|---|---:|---:|"
declare -A times
for run in 1 2; do
    for crate in messages serde; do
        touch "$WORK/$crate/src/lib.rs"
        start=$(date +%s.%N)
        (cd "$WORK/$crate" && cargo build -q 2>/dev/null)
        times[$crate$run]=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    done
done
echo "| messages alone | ${times[messages1]} s | ${times[messages2]} s |"
echo "| messages + pbjson's serde impls | ${times[serde1]} s | ${times[serde2]} s |"
