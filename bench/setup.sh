#!/usr/bin/env bash
# Usage: bench/setup.sh
#
# Installs the benchmark's Debian tools when they are missing: h2load and nghttp (package
# nghttp2-client: the foreign load generator of the servers table, and the one call whose
# grpc-status is checked) and valgrind (callgrind, for instructions per call).
#
# Idempotent: a tool already on PATH is left alone and nothing runs. Installing needs root
# (or sudo without a password) and apt-get; each apt-get run is bounded, and the package
# lists are updated once only if the first install fails. Prints one line per package:
# "setup_bench: up to date: ...", "setup_bench: installed ..." or "setup_bench: error: ...";
# exits 1 if a tool is still missing (bench/run.sh then leaves its rows out, and says so).
set -euo pipefail

if [ "$#" -ne 0 ]; then
    echo "usage: $0" >&2
    exit 2
fi

# tool on PATH -> the Debian package that ships it
declare -A PACKAGES=([h2load]=nghttp2-client [nghttp]=nghttp2-client [valgrind]=valgrind)

missing=()
for tool in h2load nghttp valgrind; do
    if command -v "$tool" >/dev/null 2>&1; then
        echo "setup_bench: up to date: $tool ($(command -v "$tool"))"
    else
        package=${PACKAGES[$tool]}
        [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "setup_bench: error: ${missing[*]} missing, and installing needs root (apt-get install ${missing[*]})" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_bench: error: ${missing[*]} missing, and there is no apt-get to install them" >&2
    exit 1
fi

started=$SECONDS
install() {
    DEBIAN_FRONTEND=noninteractive timeout 600 "${as_root[@]}" apt-get install -y -q "${missing[@]}" >/dev/null
}
if ! install 2>/dev/null; then
    # Stale or missing package lists are the usual cause.
    timeout 600 "${as_root[@]}" apt-get update -q >/dev/null || true
    if ! install; then
        echo "setup_bench: error: apt-get install ${missing[*]} failed" >&2
        exit 1
    fi
fi
for tool in h2load nghttp valgrind; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup_bench: error: $tool is still missing after installing ${missing[*]}" >&2
        exit 1
    fi
done
echo "setup_bench: installed ${missing[*]} with apt-get in $((SECONDS - started))s"
