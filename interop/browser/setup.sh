#!/usr/bin/env bash
# Usage: setup.sh
#
# Installs what interop/tests/browser.rs drives (`make browser-setup`):
#   /usr/bin/chromium          Debian's chromium, with apt-get, when it is missing (as root;
#                              `apt-get update` only if the install fails on stale lists)
#   interop/browser/node_modules/
#                              `npm ci` of the pinned package.json + package-lock.json:
#                              @connectrpc/connect(-web), @bufbuild/protobuf, esbuild and
#                              playwright-core (which downloads no browser: it drives Debian's)
#
# The npm install is scripts/npm-ci-pinned.sh's: idempotent (a stamp of the inputs, this
# script among them, in node_modules/.browser-stamp), from the lock file only with no install
# scripts, serialized on node_modules.lock. esbuild's install script only checks its
# platform binary, which its JS API finds by itself; the stamp is written once the
# installed esbuild has bundled something.
# CHROMIUM=/path overrides the browser; NODE= and NPM= override Node.js and npm.
# Prints one line per part: "setup_browser: ... up to date" or "... installed ... in Ns".
set -euo pipefail

if [ "$#" -ne 0 ]; then
    echo "usage: $0" >&2
    exit 2
fi

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/npm-ci-pinned.sh
source "$DIR/../../scripts/npm-ci-pinned.sh"
NODE="${NODE:-node}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

# shellcheck source=../../scripts/apt-quiet.sh
source "$DIR/../../scripts/apt-quiet.sh"

install_chromium() {
    if [ -x "$CHROMIUM" ]; then
        echo "setup_browser: chromium up to date: $CHROMIUM"
        return 0
    fi
    if [ "$CHROMIUM" != /usr/bin/chromium ]; then
        echo "setup_browser: error: CHROMIUM=$CHROMIUM is not an executable" >&2
        exit 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup_browser: error: /usr/bin/chromium is missing; install Debian's chromium" \
             "(apt-get install chromium) as root, or run this as root" >&2
        exit 1
    fi
    local started
    started=$(date +%s)
    # The package lists may be old or absent on a fresh machine: refresh them only then.
    if ! apt_quiet install -y --no-install-recommends chromium 2>/dev/null; then
        apt_quiet update
        apt_quiet install -y --no-install-recommends chromium
    fi
    local version
    # Debian's launcher script may warn on stderr (its /dev/shm check): only stdout counts.
    if ! version=$(timeout 60 "$CHROMIUM" --version 2>/dev/null); then
        echo "setup_browser: error: the installed chromium does not run ($CHROMIUM --version)" >&2
        exit 1
    fi
    echo "setup_browser: installed $version with apt-get in $(($(date +%s) - started))s"
}

# The bundler must work on this platform, or the install is of no use.
esbuild_bundles() {
    local out
    if ! out=$(cd "$1/.." && timeout 60 "$NODE" --input-type=module -e \
            "import { build } from 'esbuild';
             const r = await build({ stdin: { contents: 'export const x = 1 + 1;' },
                                     write: false, format: 'esm' });
             console.log(r.outputFiles[0].text.length);" 2>&1); then
        echo "setup_browser: error: the installed esbuild does not work: $out" >&2
        exit 1
    fi
}

install_chromium
npm_ci_pinned setup_browser "$DIR" "$DIR" .browser-stamp esbuild_bundles \
    @connectrpc/connect/package.json @connectrpc/connect-web/package.json \
    @bufbuild/protobuf/package.json esbuild/package.json playwright-core/package.json

MODULES="$DIR/node_modules"
if [ "$NPM_CI_DONE" = "up to date" ]; then
    echo "setup_browser: npm modules up to date: $MODULES"
    exit 0
fi
version() {
    "$NODE" -p "require('$MODULES/$1/package.json').version"
}
echo "setup_browser: installed $MODULES (@connectrpc/connect-web $(version @connectrpc/connect-web)," \
     "@bufbuild/protobuf $(version @bufbuild/protobuf), esbuild $(version esbuild)," \
     "playwright-core $(version playwright-core)) with npm ci in ${NPM_CI_SECONDS}s"
