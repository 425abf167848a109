#!/usr/bin/env bash
# Usage: bench/protocols.sh [--quick] [BEFORE [AFTER]]
#
# Issue 18's measurements ("one handler, three protocols"), on their own: writes
# bench/results/protocols.md (machine, load average, date, command, duration) and prints it.
#
# 1. rgrpc's and connectrpc's servers under h2load in gRPC, gRPC-Web and Connect (proto and
#    JSON), over HTTP/2 and HTTP/1.1 (`rpc-bench protocols`; the same table as in
#    bench/run.sh's results).
# 2. rgrpc's gRPC server before the protocol work and now (bench/builds.sh BEFORE [AFTER]):
#    did gRPC get slower? BEFORE defaults to fbbd591, the last commit before issue 18's
#    protocol work; AFTER to the working tree. With AFTER, part 1 runs AFTER's build too
#    (built from a worktree, as bench/builds.sh does), so work in progress in the tree is
#    left out of every figure.
#
#   full     5 repetitions × 2 s: about 7 minutes once built (building BEFORE's and AFTER's
#            benchmarks the first time takes some minutes more)
#   --quick  1 repetition × 0.3 s: about 2 minutes once built
set -euo pipefail
cd "$(dirname "$0")/.."

command="bench/protocols.sh${*:+ $*}"
quick_flags=()
if [ "${1:-}" = --quick ]; then
    quick_flags=(--quick)
    shift
fi
[ "$#" -le 2 ] || { echo "usage: bench/protocols.sh [--quick] [BEFORE [AFTER]]" >&2; exit 2; }
before=${1:-fbbd591}
after=("${@:2}")
if [ "${#quick_flags[@]}" -eq 1 ]; then
    reps=1 seconds=0.3
else
    reps=5 seconds=2
fi

started=$SECONDS
load_at_start=$(cat /proc/loadavg)
date=$(date -u '+%Y-%m-%d %H:%M UTC')
bench/setup.sh >&2 || echo "bench: setup failed: h2load or callgrind figures may be missing" >&2

export CARGO_INCREMENTAL=0
if [ "${#after[@]}" -eq 1 ]; then
    rpc_bench=$(bench/builds.sh --build-only "${after[0]}")
    measured=$(git rev-parse --short "${after[0]}^{commit}")
else
    cargo build -q --release -p rgrpc-bench
    rpc_bench=${CARGO_TARGET_DIR:-target}/release/rpc-bench
    measured="$(git rev-parse --short HEAD 2>/dev/null || echo '(no git)')"
    if [ -n "$(git status --porcelain --untracked-files=no -- runtime bench Cargo.lock 2>/dev/null)" ]; then
        measured="$measured with uncommitted changes"
    fi
fi
out=bench/results/protocols.md
body=$(mktemp)
trap 'rm -f "$body"' EXIT

{
    echo "Every process is separate, on 127.0.0.1 without TLS; the servers alternate within each"
    echo "run (A B, then B A, ...) and each starts afresh."
    echo
    "$rpc_bench" protocols --reps "$reps" --seconds "$seconds"
    echo
    bench/builds.sh "${quick_flags[@]}" "$before" "${after[@]}"
} > "$body"

took=$((SECONDS - started))
{
    echo "# rgrpc benchmarks: issue 18's protocols"
    echo
    echo "- command: \`$command\`"
    echo "- date: $date; took $((took / 60)) min $((took % 60)) s"
    echo "- machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -sr)"
    echo "- load average (\`/proc/loadavg\`): at start \`$load_at_start\`, at end \`$(cat /proc/loadavg)\`"
    echo "- rgrpc $measured, connectrpc 0.9.1, h2load $(h2load --version 2>/dev/null | awk '{print $2; exit}'); rustc $(rustc --version | cut -d' ' -f2)"
    echo
    cat "$body"
} > "$out"
cat "$out"
echo "bench: wrote $out in $((took / 60)) min $((took % 60)) s" >&2
