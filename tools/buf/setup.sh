#!/usr/bin/env bash
# Usage: setup.sh
#
# Installs the buf CLI pinned in this directory's package.json + package-lock.json
# (@bufbuild/buf and its platform binary package) into tools/buf/node_modules, for
# protoc-gen-rgrpc/tests/buf.rs; the CLI is then tools/buf/node_modules/.bin/buf.
#
# The same approach as interop/node/setup.sh: idempotent (a stamp, the sha256 of
# package.json, package-lock.json, this script and `node --version`, in
# node_modules/.buf-stamp); otherwise `npm ci` from the lock file only, with no install
# scripts (@bufbuild/buf's postinstall only swaps its JS launcher for the binary, which the
# launcher finds by itself), bounded, serialized on node_modules.lock (flock).
# Node and npm can be overridden with NODE=/path/to/node and NPM=/path/to/npm.
# Prints one line: "setup_buf: up to date: ..." or "setup_buf: installed buf X in Ns".
set -euo pipefail

if [ "$#" -ne 0 ]; then
    echo "usage: $0" >&2
    exit 2
fi

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="${NODE:-node}"
NPM="${NPM:-npm}"
MODULES="$DIR/node_modules"
STAMP="$MODULES/.buf-stamp"
BUF="$MODULES/.bin/buf"

for tool in "$NODE" "$NPM"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup_buf: error: '$tool' not found on PATH (Node.js and npm are needed)" >&2
        exit 1
    fi
done

compute_hash() {
    {
        cat "$DIR/package.json" "$DIR/package-lock.json" "$DIR/setup.sh"
        "$NODE" --version
    } | sha256sum | cut -d' ' -f1
}

is_up_to_date() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$BUF" ]
}

WANT="$(compute_hash)"

if is_up_to_date; then
    echo "setup_buf: up to date: $MODULES"
    exit 0
fi

if command -v flock >/dev/null 2>&1; then
    exec 9>"$MODULES.lock"
    if ! flock -w 900 9; then
        echo "setup_buf: error: timed out waiting for lock $MODULES.lock" >&2
        exit 1
    fi
    if is_up_to_date; then
        echo "setup_buf: up to date: $MODULES"
        exit 0
    fi
fi

START=$(date +%s)
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
if ! (cd "$DIR" && timeout 900 "$NPM" ci --ignore-scripts --no-audit --no-fund \
        --loglevel=error >"$LOG" 2>&1); then
    cat "$LOG" >&2
    rm -rf "$MODULES"
    echo "setup_buf: error: 'npm ci' in $DIR failed" >&2
    exit 1
fi

# The launcher must find the binary for this platform, or the install is of no use.
if ! VERSION="$(timeout 60 "$BUF" --version 2>&1)"; then
    echo "setup_buf: error: the installed buf does not run: $VERSION" >&2
    exit 1
fi

echo "$WANT" > "$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"
echo "setup_buf: installed buf $VERSION in $MODULES with npm ci in $(( $(date +%s) - START ))s"
