#!/usr/bin/env bash
# The benchmark suite. RPC speed one side at a time — rgrpc's, tonic's and connectrpc's
# servers under the same load generators, rgrpc's and connectrpc's servers in gRPC-Web and
# Connect (h2load), rgrpc's and tonic's clients against the same server, thread scaling,
# memory per idle connection and stream, instructions per call from callgrind — then
# rgrpc's lifecycle latencies, and code generation and compile cost against
# protoc-gen-prost + protoc-gen-tonic. Writes bench/results/latest.md (figures,
# ratios, machine, load average, date, command, duration) and prints it.
#
#   bench/run.sh          # the full suite: about 28 minutes on a 2-core machine once set up
#   bench/run.sh --quick  # a short run of everything: about 3 minutes once set up
#
# bench/setup.sh installs h2load and valgrind first (Debian packages) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
case "${1:-}" in
    "") ;;
    --quick) quick=true ;;
    *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac

if $quick; then
    reps=1 scaling_reps=1 idle_reps=1 seconds=0.3 lifecycle_calls=100 quick_flags=(--quick)
else
    reps=5 scaling_reps=3 idle_reps=3 seconds=2 lifecycle_calls=500 quick_flags=()
fi
connections=1000
started=$SECONDS
load_at_start=$(cat /proc/loadavg)
date=$(date -u '+%Y-%m-%d %H:%M UTC')

# Without these tools their rows are left out (and the tables say so).
bench/setup.sh >&2 || echo "bench: setup failed: h2load or callgrind figures may be missing" >&2

# The idle-connection figures need a descriptor per connection in the server and the holder.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi

cargo build -q --release -p rgrpc-bench
bin=${CARGO_TARGET_DIR:-target}/release
out=bench/results/latest.md
body=$(mktemp)
trap 'rm -f "$body"' EXIT

# Each part's time goes to stderr, as progress.
part() {
    local part_started=$SECONDS
    "$@"
    echo "bench: $* took $((SECONDS - part_started)) s" >&2
}

{
    echo "## RPC speed, one side at a time"
    echo
    echo "Every process is separate, on 127.0.0.1 without TLS, over HTTP/2 (HTTP/1.1 where a row"
    echo "says so); the stacks alternate within each run (A B C, then C B A, ...) and each server"
    echo "starts afresh for each stack."
    echo "Servers: tonic 0.14 and connectrpc 0.9.1 (with connectrpc-build 0.9.0's code and buffa"
    echo "messages) beside rgrpc, each with its own generated code for proto/hello.proto."
    echo
    part "$bin/rpc-bench" servers --reps "$reps" --seconds "$seconds"
    echo
    part "$bin/rpc-bench" protocols --reps "$reps" --seconds "$seconds"
    echo
    part "$bin/rpc-bench" clients --reps "$reps" --seconds "$seconds"
    echo
    part "$bin/rpc-bench" scaling --reps "$scaling_reps" --seconds "$seconds"
    echo
    part "$bin/rpc-bench" idle --reps "$idle_reps" --connections "$connections"
    echo
    part bench/callgrind.sh "${quick_flags[@]}"
    echo
    echo "## Lifecycle latencies (rgrpc)"
    echo
    echo '```'
    part "$bin/lifecycle-latency" "$lifecycle_calls"
    echo '```'
    echo
    # bench/codegen/run.sh prints its own "## Code generation and compile cost" heading.
    if [ -x bench/codegen/run.sh ]; then
        part bench/codegen/run.sh "${quick_flags[@]}"
    else
        echo "## Code generation and compile cost"
        echo
        echo "(bench/codegen/run.sh is missing: not measured)"
    fi
} > "$body"

took=$((SECONDS - started))
{
    echo "# rgrpc benchmarks"
    echo
    echo "- command: \`bench/run.sh${1:+ $1}\` (\`make bench$($quick && echo '-quick' || true)\`)"
    echo "- date: $date; took $((took / 60)) min $((took % 60)) s"
    echo "- machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -sr)"
    echo "- load average (\`/proc/loadavg\`): at start \`$load_at_start\`, at end \`$(cat /proc/loadavg)\`"
    echo "- rgrpc $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)'), tonic 0.14, prost 0.14, connectrpc 0.9.1; rustc $(rustc --version | cut -d' ' -f2)"
    echo
    cat "$body"
} > "$out"
cat "$out"
echo "bench: wrote $out in $((took / 60)) min $((took % 60)) s" >&2
