#!/usr/bin/env bash
# Usage: bench/middleware.sh [--quick]
#
# What middleware costs a unary call (c=1), in callgrind instructions: rgrpc's server (loaded
# by the native tonic client) and rgrpc's client (against a native tonic server), each with
# no interceptor, with one interceptor of each kind whose hooks do nothing
# (`RPC_BENCH_MIDDLEWARE=noop`), and with gRFC A66's OpenTelemetry metrics
# (`RPC_BENCH_MIDDLEWARE=otel`, on an SDK meter provider whose reader aggregates every
# record). The metrics need the `otel` feature, so they run on a second build of the
# benchmark (in $CARGO_TARGET_DIR/bench-otel), whose row without middleware shows what the
# feature alone costs. Prints one Markdown section.
#
#   full     1,000 and 5,000 calls: about 4 minutes once built
#   --quick  100 and 300 calls: about 3 minutes
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    "") short=1000 long=5000 ;;
    --quick) short=100 long=300 ;;
    *) echo "usage: bench/middleware.sh [--quick]" >&2; exit 2 ;;
esac
if ! command -v valgrind >/dev/null 2>&1; then
    echo "### What middleware costs (callgrind)"
    echo
    echo "(valgrind is not installed: run bench/setup.sh. Not measured.)"
    exit 0
fi
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
cargo build -q --release -p rgrpc-bench
CARGO_TARGET_DIR=$target/bench-otel cargo build -q --release -p rgrpc-bench --features otel

# Prints "server client" instructions per call of rgrpc's rows, for build $1 and middleware $2.
measure() {
    local exe=$1 middleware=$2
    RPC_BENCH_MIDDLEWARE=$middleware "$exe" callgrind --short "$short" --long "$long" \
        --dir "$target/bench-callgrind-middleware/${middleware:-none}" |
        awk -F'|' '$3 ~ /rgrpc/ { gsub(/ /, "", $2); gsub(/ /, "", $6); per[$2] = $6 }
                   END { print per["server"], per["client"] }'
}

read -r base_server base_client < <(measure "$target/release/rpc-bench" "")
read -r noop_server noop_client < <(measure "$target/release/rpc-bench" noop)
read -r feature_server feature_client < <(measure "$target/bench-otel/release/rpc-bench" "")
read -r otel_server otel_client < <(measure "$target/bench-otel/release/rpc-bench" otel)

row() {
    awk -v name="$1" -v s="$2" -v c="$3" -v bs="$base_server" -v bc="$base_client" 'BEGIN {
        printf "| %s | %d | %+d (%+.1f%%) | %d | %+d (%+.1f%%) |\n",
            name, s, s - bs, 100 * (s - bs) / bs, c, c - bc, 100 * (c - bc) / bc }'
}

echo "### What middleware costs (callgrind, c=1, $long − $short calls)"
echo
echo "* Instructions per unary call of rgrpc's server (loaded by the native tonic client) and"
echo "  client (against a native tonic server), as \`rpc-bench callgrind\` counts them; each"
echo "  against the first row. \`noop\`: one \`ServerInterceptor\` and one \`ClientInterceptor\`"
echo "  whose hooks do nothing. \`otel\`: \`otel::ServerMetrics\` and \`otel::ClientMetrics\` on an"
echo "  SDK meter provider with a periodic reader (aggregating every record, exporting hourly)."
echo
echo "| middleware | server | server, added | client | client, added |"
echo "|---|---:|---:|---:|---:|"
row "none" "$base_server" "$base_client"
row "noop interceptors" "$noop_server" "$noop_client"
row "none, \`otel\` feature built in" "$feature_server" "$feature_client"
row "A66 metrics (\`otel\`)" "$otel_server" "$otel_client"
