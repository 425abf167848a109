# shellcheck shell=bash
# Sourced, not run: `npm_ci_pinned`, the one install behind interop/node/setup.sh (grpc-js)
# and tools/buf/setup.sh (the buf CLI).
#
# npm_ci_pinned WHO PACKAGE_DIR INSTALL_DIR STAMP VERIFY REQUIRED...
#   Installs the packages pinned by PACKAGE_DIR/package.json + package-lock.json into
#   INSTALL_DIR/node_modules (copying the two files there first when the directories
#   differ) with `npm ci`: from the lock file only, no install scripts, no audit, bounded
#   to 15 minutes, npm's output shown only on failure.
#
#   Idempotent: INSTALL_DIR/node_modules/STAMP holds the sha256 of package.json,
#   package-lock.json, the calling script, this file and `node --version`; when it matches
#   and every REQUIRED path (relative to node_modules) exists (executable, under .bin/),
#   nothing is done. Concurrent
#   runs on one INSTALL_DIR serialize on node_modules.lock (flock, bounded wait). The stamp
#   is written last and atomically, after the function VERIFY (given the node_modules
#   path) succeeded, so a broken install is never taken as up to date.
#
#   Node and npm come from NODE and NPM (default: node and npm on PATH). Sets NPM_CI_DONE
#   to "up to date" or "installed", and NPM_CI_SECONDS to how long `npm ci` took; on
#   failure prints "WHO: error: ..." and exits 1.
npm_ci_pinned() {
    local who=$1 package_dir=$2 install_dir=$3 stamp_name=$4 verify=$5
    shift 5
    local required=("$@")
    local node=${NODE:-node} npm=${NPM:-npm}
    local modules="$install_dir/node_modules"
    local stamp="$modules/$stamp_name"

    local tool
    for tool in "$node" "$npm"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$who: error: '$tool' not found on PATH (Node.js 20 and npm are needed)" >&2
            exit 1
        fi
    done

    local want
    want=$({
        cat "$package_dir/package.json" "$package_dir/package-lock.json" \
            "${BASH_SOURCE[1]}" "${BASH_SOURCE[0]}"
        "$node" --version
    } | sha256sum | cut -d' ' -f1)


    # Fast path without taking the lock.
    if _npm_ci_up_to_date; then
        NPM_CI_DONE="up to date" NPM_CI_SECONDS=0
        return 0
    fi
    mkdir -p "$install_dir"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$modules.lock"
        if ! flock -w 900 9; then
            echo "$who: error: timed out waiting for lock $modules.lock" >&2
            exit 1
        fi
        # Someone else may have finished the install while we waited.
        if _npm_ci_up_to_date; then
            NPM_CI_DONE="up to date" NPM_CI_SECONDS=0
            return 0
        fi
    fi

    local started log
    started=$(date +%s)
    if [ "$(cd "$package_dir" && pwd)" != "$(cd "$install_dir" && pwd)" ]; then
        cp "$package_dir/package.json" "$package_dir/package-lock.json" "$install_dir/"
    fi
    log=$(mktemp)
    if ! (cd "$install_dir" && timeout 900 "$npm" ci --ignore-scripts --no-audit --no-fund \
            --loglevel=error >"$log" 2>&1); then
        cat "$log" >&2
        rm -f "$log"
        rm -rf "$modules"
        echo "$who: error: 'npm ci' in $install_dir failed" >&2
        exit 1
    fi
    rm -f "$log"
    if ! _npm_ci_required_present; then
        echo "$who: error: npm ci did not install ${required[*]} in $modules" >&2
        exit 1
    fi
    "$verify" "$modules"

    echo "$want" >"$stamp.tmp"
    mv -f "$stamp.tmp" "$stamp"
    NPM_CI_DONE="installed" NPM_CI_SECONDS=$(($(date +%s) - started))
}

# The helpers below read npm_ci_pinned's locals (bash scopes them dynamically).

# Every REQUIRED path is in node_modules (a launcher under .bin/ executable).
_npm_ci_required_present() {
    local path
    for path in "${required[@]}"; do
        case $path in
            .bin/*) [ -x "$modules/$path" ] || return 1 ;;
            *) [ -e "$modules/$path" ] || return 1 ;;
        esac
    done
}

# The stamp says these inputs, and the install is all there.
_npm_ci_up_to_date() {
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && _npm_ci_required_present
}
