#!/usr/bin/env bash
# Usage: bench/callgrind.sh [--quick]
#
# Instructions per unary call (c=1), from callgrind, which counts the same on a busy
# machine as on an idle one: each server (rgrpc, tonic, connectrpc) under callgrind loaded
# by the native tonic client, and each client (rgrpc, tonic) under callgrind against a
# native tonic server, each for two exact call counts; per call = (Ir_long − Ir_short) /
# (calls_long − calls_short). Then rgrpc's and tonic's servers' costliest functions per
# call. Prints one Markdown section; the profiles stay in target/bench-callgrind/ for
# callgrind_annotate.
#
#   full     1,000 and 5,000 calls, top 15 functions: about 1 minute once built
#   --quick  100 and 300 calls, top 5: about 50 s (mostly callgrind_annotate)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    "") short=1000 long=5000 top=15 ;;
    --quick) short=100 long=300 top=5 ;;
    *) echo "usage: bench/callgrind.sh [--quick]" >&2; exit 2 ;;
esac

target=${CARGO_TARGET_DIR:-target}
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_annotate >/dev/null 2>&1; then
    echo "### Instructions per unary call (callgrind)"
    echo
    echo "(valgrind is not installed: run bench/setup.sh. Not measured.)"
    exit 0
fi
cargo build -q --release -p rgrpc-bench
"$target/release/rpc-bench" callgrind --short "$short" --long "$long" --top "$top" \
    --dir "$target/bench-callgrind"
