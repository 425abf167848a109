#!/usr/bin/env bash
# Usage: setup.sh
#
# Installs the buf CLI pinned in this directory's package.json + package-lock.json
# (@bufbuild/buf and its platform binary package) into tools/buf/node_modules, for
# protoc-gen-rgrpc/tests/buf.rs; the CLI is then tools/buf/node_modules/.bin/buf.
#
# The install is scripts/npm-ci-pinned.sh's, as for interop/node/setup.sh: idempotent (a
# stamp of the inputs, in node_modules/.buf-stamp), `npm ci` from the lock file only with
# no install scripts (@bufbuild/buf's postinstall only swaps its JS launcher for the binary,
# which the launcher finds by itself), bounded, serialized on node_modules.lock. The stamp
# is written only once the installed buf runs.
# Node and npm can be overridden with NODE=/path/to/node and NPM=/path/to/npm.
# Prints one line: "setup_buf: up to date: ..." or "setup_buf: installed buf X in Ns".
set -euo pipefail

if [ "$#" -ne 0 ]; then
    echo "usage: $0" >&2
    exit 2
fi

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/npm-ci-pinned.sh
source "$DIR/../../scripts/npm-ci-pinned.sh"

# The launcher must find the binary for this platform, or the install is of no use.
VERSION=""
buf_runs() {
    if ! VERSION="$(timeout 60 "$1/.bin/buf" --version 2>&1)"; then
        echo "setup_buf: error: the installed buf does not run: $VERSION" >&2
        exit 1
    fi
}

npm_ci_pinned setup_buf "$DIR" "$DIR" .buf-stamp buf_runs .bin/buf

if [ "$NPM_CI_DONE" = "up to date" ]; then
    echo "setup_buf: up to date: $DIR/node_modules"
else
    echo "setup_buf: installed buf $VERSION in $DIR/node_modules with npm ci in ${NPM_CI_SECONDS}s"
fi
