#!/usr/bin/env bash
# Usage: setup.sh
#
# Installs what the fleet tests and `make fleet` drive (`make fleet-setup`), with apt-get,
# each only when missing (as root; `apt-get update` only if an install fails on stale lists):
#   /usr/sbin/ip        iproute2: network namespaces, veth pairs, the bridge
#   /usr/sbin/dnsmasq   dnsmasq-base: the DNS server binary alone, with no system service
#   /usr/sbin/nginx     nginx-light: the grpc_pass proxy
#
# The tests start their own dnsmasq and nginx, by PID, with their own config and pid files
# in a temp dir. So no Debian service may be left running system-wide: the install runs
# with a policy-rc.d that forbids starting services, and an nginx that Debian started
# anyway (a pid in /run/nginx.pid) is stopped.
# Prints one line per tool: "setup_fleet: ... up to date" or "... installed ... in Ns".
set -euo pipefail

if [ "$#" -ne 0 ]; then
    echo "usage: $0" >&2
    exit 2
fi

# shellcheck source=../../scripts/apt-quiet.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../scripts/apt-quiet.sh"

# Forbids service starts while packages install (Debian's policy-rc.d protocol: exit 101),
# unless the machine already has its own policy, which is then left alone.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
forbid_service_starts() {
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\n# setup_fleet: no service starts during its install\nexit 101\n' >"$POLICY"
        chmod 755 "$POLICY"
        OWN_POLICY=1
    fi
}
restore_service_policy() {
    if [ "$OWN_POLICY" -eq 1 ]; then
        rm -f "$POLICY"
    fi
}
trap restore_service_policy EXIT

# Stops the system-wide nginx that a package install may have started anyway.
stop_system_nginx() {
    local pid
    [ -r /run/nginx.pid ] || return 0
    pid=$(cat /run/nginx.pid)
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ]; then
        kill -QUIT "$pid"
        echo "setup_fleet: stopped the system-wide nginx (pid $pid) the install started"
    fi
}

# install_tool NAME PATH PACKAGE
install_tool() {
    local name=$1 path=$2 package=$3
    if [ -x "$path" ]; then
        echo "setup_fleet: $name up to date: $path"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup_fleet: error: $path is missing; install Debian's $package" \
             "(apt-get install $package) as root, or run this as root" >&2
        exit 1
    fi
    local started
    started=$(date +%s)
    forbid_service_starts
    # The package lists may be old or absent on a fresh machine: refresh them only then.
    if ! apt_quiet install -y --no-install-recommends "$package" 2>/dev/null; then
        apt_quiet update
        apt_quiet install -y --no-install-recommends "$package"
    fi
    if [ ! -x "$path" ]; then
        echo "setup_fleet: error: installing $package did not provide $path" >&2
        exit 1
    fi
    echo "setup_fleet: installed $name ($package) with apt-get in $(($(date +%s) - started))s"
}

install_tool ip /usr/sbin/ip iproute2
install_tool dnsmasq /usr/sbin/dnsmasq dnsmasq-base
install_tool nginx /usr/sbin/nginx nginx-light
stop_system_nginx
