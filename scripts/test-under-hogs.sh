#!/usr/bin/env bash
# Runs `make test` several times in a row (default 3) with two CPU hogs (`yes > /dev/null`)
# running, as a busy 2-core machine would be: the check that no test depends on which timer
# fires first or on how fast the machine is. Stops at the first failing run. The hogs are
# this script's own children, killed by PID on any exit.
#
#   scripts/test-under-hogs.sh [RUNS]      (make test-hogs)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-3}
case "$runs" in
    '' | *[!0-9]*) echo "usage: scripts/test-under-hogs.sh [RUNS]" >&2; exit 2 ;;
esac

hogs=()
stop_hogs() {
    for pid in "${hogs[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap stop_hogs EXIT
for _ in 1 2; do
    yes > /dev/null &
    hogs+=("$!")
done
echo "test-under-hogs: CPU hogs running as PIDs ${hogs[*]}"

for run in $(seq "$runs"); do
    started=$(date +%s)
    log=$(mktemp)
    if make test > "$log" 2>&1; then
        echo "test-under-hogs: run $run of $runs passed in $(( $(date +%s) - started )) s"
        rm -f "$log"
    else
        echo "test-under-hogs: run $run of $runs FAILED after $(( $(date +%s) - started )) s; its log: $log"
        grep -E "^test .* FAILED|panicked at|^failures:" "$log" | head -20 || true
        exit 1
    fi
done
echo "test-under-hogs: $runs runs passed"
