#!/usr/bin/env bash
# Usage: setup.sh [DIR]
#
# Installs the Node.js side of the rgrpc interop harness: @grpc/grpc-js (the matrix) and
# @connectrpc/connect-node with @bufbuild/protobuf (tests/connect_node.rs):
#   DIR/node_modules/                 `npm ci` of the pinned package.json + package-lock.json
#   DIR/node_modules/.interop-stamp   sha256 of the inputs the install came from
#
# DIR defaults to this script's directory (interop/node). With another DIR, package.json
# and package-lock.json are copied there first, and the peers are run with
# INTEROP_NODE_DIR=DIR so that they load their modules from it.
#
# The install is scripts/npm-ci-pinned.sh's: idempotent (a stamp of the inputs, this script
# among them), `npm ci` from the lock file only with no install scripts (none of the pinned
# packages needs one), serialized on DIR/node_modules.lock. Node and npm can be overridden
# with NODE=/path/to/node and NPM=/path/to/npm.
# Prints one line: "setup_node: up to date: DIR/node_modules" or
# "setup_node: installed ... in Ns".
set -euo pipefail

if [ "$#" -gt 1 ]; then
    echo "usage: $0 [DIR]" >&2
    exit 2
fi

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/npm-ci-pinned.sh
source "$SCRIPT_DIR/../../scripts/npm-ci-pinned.sh"
NODE="${NODE:-node}"

DIR_ARG="${1:-$SCRIPT_DIR}"
mkdir -p "$DIR_ARG"
DIR="$(cd "$DIR_ARG" && pwd)"
MODULES="$DIR/node_modules"

npm_ci_pinned setup_node "$SCRIPT_DIR" "$DIR" .interop-stamp true \
    @grpc/grpc-js/package.json @grpc/proto-loader/package.json \
    @connectrpc/connect/package.json @connectrpc/connect-node/package.json \
    @bufbuild/protobuf/package.json

if [ "$NPM_CI_DONE" = "up to date" ]; then
    echo "setup_node: up to date: $MODULES"
    exit 0
fi
version() {
    "$NODE" -p "require('$MODULES/$1/package.json').version"
}
echo "setup_node: installed $MODULES (@grpc/grpc-js $(version @grpc/grpc-js)," \
     "@grpc/proto-loader $(version @grpc/proto-loader)," \
     "@connectrpc/connect-node $(version @connectrpc/connect-node)," \
     "@bufbuild/protobuf $(version @bufbuild/protobuf), node $("$NODE" --version))" \
     "with npm ci in ${NPM_CI_SECONDS}s"
