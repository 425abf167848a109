#!/usr/bin/env bash
# Usage: setup.sh [DIR]
#
# Installs the Node.js (@grpc/grpc-js) side of the rgrpc interop harness:
#   DIR/node_modules/                 `npm ci` of the pinned package.json + package-lock.json
#   DIR/node_modules/.interop-stamp   sha256 of the inputs the install came from
#
# DIR defaults to this script's directory (interop/node). With another DIR, package.json
# and package-lock.json are copied there first, and the peers are run with
# INTEROP_NODE_DIR=DIR so that they load their modules from it.
#
# Idempotent: when the stamp matches the current inputs (package.json, package-lock.json,
# this script, `node --version`) it does nothing. Otherwise `npm ci` deletes
# DIR/node_modules and installs from scratch, from the lock file only (no install
# scripts: none of the pinned packages needs one). Concurrent runs on the same DIR
# serialize on DIR/node_modules.lock (flock). Node and npm can be overridden with
# NODE=/path/to/node and NPM=/path/to/npm.
# Prints one line: "setup_node: up to date: DIR/node_modules" or
# "setup_node: installed ... in Ns".
set -euo pipefail

if [ "$#" -gt 1 ]; then
    echo "usage: $0 [DIR]" >&2
    exit 2
fi

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="${NODE:-node}"
NPM="${NPM:-npm}"

DIR_ARG="${1:-$SCRIPT_DIR}"
mkdir -p "$DIR_ARG"
DIR="$(cd "$DIR_ARG" && pwd)"
MODULES="$DIR/node_modules"
STAMP="$MODULES/.interop-stamp"

for tool in "$NODE" "$NPM"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup_node: error: '$tool' not found on PATH (Node.js 20 and npm are needed)" >&2
        exit 1
    fi
done

compute_hash() {
    {
        cat "$SCRIPT_DIR/package.json" "$SCRIPT_DIR/package-lock.json" "$SCRIPT_DIR/setup.sh"
        "$NODE" --version
    } | sha256sum | cut -d' ' -f1
}

is_up_to_date() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
        && [ -f "$MODULES/@grpc/grpc-js/package.json" ] \
        && [ -f "$MODULES/@grpc/proto-loader/package.json" ]
}

WANT="$(compute_hash)"

# Fast path without taking the lock.
if is_up_to_date; then
    echo "setup_node: up to date: $MODULES"
    exit 0
fi

# Serialize concurrent installs into the same DIR (bounded wait).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$MODULES.lock"
    if ! flock -w 900 9; then
        echo "setup_node: error: timed out waiting for lock $MODULES.lock" >&2
        exit 1
    fi
    # Someone else may have finished the install while we waited.
    if is_up_to_date; then
        echo "setup_node: up to date: $MODULES"
        exit 0
    fi
fi

START=$(date +%s)

if [ "$DIR" != "$SCRIPT_DIR" ]; then
    cp "$SCRIPT_DIR/package.json" "$SCRIPT_DIR/package-lock.json" "$DIR/"
fi

# npm's own output goes to a log, shown only if it fails; npm ci is bounded.
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
if ! (cd "$DIR" && timeout 900 "$NPM" ci --ignore-scripts --no-audit --no-fund \
        --loglevel=error >"$LOG" 2>&1); then
    cat "$LOG" >&2
    rm -rf "$MODULES"
    echo "setup_node: error: 'npm ci' in $DIR failed" >&2
    exit 1
fi

# Stamp last, atomically: a half-finished install is never taken as up to date.
echo "$WANT" > "$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"

version() {
    "$NODE" -p "require('$MODULES/$1/package.json').version"
}
echo "setup_node: installed $MODULES (@grpc/grpc-js $(version @grpc/grpc-js)," \
     "@grpc/proto-loader $(version @grpc/proto-loader), node $("$NODE" --version))" \
     "with npm ci in $(( $(date +%s) - START ))s"
