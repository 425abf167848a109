#!/usr/bin/env bash
# The benchmark suite: RPC speed against tonic, lifecycle latencies, and code generation and
# compile cost against protoc-gen-prost + protoc-gen-tonic. Writes bench/results/latest.md
# (figures, ratios, machine, date, command) and prints it.
#
#   bench/run.sh          # the full suite, about 12-13 minutes on a 2-core machine once set up
#   bench/run.sh --quick  # a short run of everything, under about 2 minutes once set up
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
case "${1:-}" in
    "") ;;
    --quick) quick=true ;;
    *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac

if $quick; then
    reps=1 seconds=0.3 lifecycle_calls=100 codegen_flags=(--quick)
else
    reps=5 seconds=2 lifecycle_calls=500 codegen_flags=()
fi

cargo build -q --release -p rgrpc-bench
out=bench/results/latest.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

{
    echo "# rgrpc benchmarks"
    echo
    echo "- command: \`bench/run.sh${1:+ $1}\` (\`make bench\`$($quick && echo ', quick run' || true))"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
    echo "- rgrpc $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)'), tonic 0.14, prost 0.14"
    echo
    echo "## RPC speed"
    echo
    echo "Server and load generator are separate processes on 127.0.0.1, both stacks on tonic's"
    echo "HTTP/2 transport with the same settings, alternated per repetition (A B, B A, ...)."
    echo
    target/release/rpc-bench compare --reps "$reps" --seconds "$seconds"
    echo
    echo "## Lifecycle latencies (rgrpc)"
    echo
    echo '```'
    target/release/lifecycle-latency "$lifecycle_calls"
    echo '```'
    echo
    # bench/codegen/run.sh prints its own "## Code generation and compile cost" heading.
    if [ -x bench/codegen/run.sh ]; then
        bench/codegen/run.sh "${codegen_flags[@]}"
    else
        echo "## Code generation and compile cost"
        echo
        echo "(bench/codegen/run.sh is missing: not measured)"
    fi
} > "$tmp"

mv "$tmp" "$out"
trap - EXIT
cat "$out"
echo "bench: wrote $out" >&2
