#!/usr/bin/env bash
# The demo: start the hello server on 127.0.0.1 (an OS-chosen port), run the client through
# the four kinds against it, stop the server. Every wait is bounded; only the server this
# script started is stopped, by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q -p hello-demo --bins
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/debug"

log=$(mktemp)
"$bin/hello-server" 0 >"$log" 2>&1 &
server=$!
stop_server() {
    kill -INT "$server" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$log"
}
trap stop_server EXIT

addr=""
for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on //p' "$log")
    [ -n "$addr" ] && break
    if ! kill -0 "$server" 2>/dev/null; then
        cat "$log" >&2
        echo "demo: the server exited before listening" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$addr" ]; then
    echo "demo: the server did not start listening within 10 s" >&2
    exit 1
fi
echo "demo: hello-server (pid $server) listening on $addr"
timeout 60 "$bin/hello-client" "http://$addr"
timeout 60 "$bin/hello-blocking" "http://$addr"
echo "demo: done, stopping the server"
