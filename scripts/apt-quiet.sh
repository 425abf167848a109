# shellcheck shell=bash
# Sourced, not run: `apt_quiet`, the apt-get call behind interop/browser/setup.sh (Chromium)
# and fleet/scripts/setup.sh (iproute2, dnsmasq-base, nginx-light).
#
# apt_quiet ARGS...
#   apt-get ARGS, bounded (20 minutes), waiting (bounded, 10 minutes) for another apt to
#   release its lock, quiet: its output shown only on failure.

apt_quiet() {
    local log status=0
    log=$(mktemp)
    DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get -o DPkg::Lock::Timeout=600 -qq "$@" \
        >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        cat "$log" >&2
    fi
    rm -f "$log"
    return "$status"
}
