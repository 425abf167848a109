#!/usr/bin/env bash
# Usage: setup_venv.sh VENV_DIR
#
# Builds the Python (grpcio) side of the rgrpc interop harness:
#   VENV_DIR/            virtualenv with the pinned requirements.txt
#   VENV_DIR/gen/        protoc-generated stubs (grpc/testing/*_pb2*.py, and
#                        grpc/reflection/v1/reflection_pb2*.py: grpcio-reflection
#                        ships only the v1alpha stubs)
#   VENV_DIR/.interop-stamp  sha256 of the inputs the build came from
#
# Idempotent: when the stamp matches the current inputs (requirements.txt,
# the four protos, this script, the python3 version) it does nothing.
# Otherwise it deletes VENV_DIR and rebuilds it from scratch.
# Concurrent runs on the same VENV_DIR serialize on VENV_DIR.lock (flock).
# The interpreter can be overridden with PYTHON=/path/to/python3.
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 VENV_DIR" >&2
    exit 2
fi

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
PROTO_DIR="$REPO_ROOT/proto"
PYTHON="${PYTHON:-python3}"
PROTOS=(grpc/testing/empty.proto grpc/testing/messages.proto grpc/testing/test.proto)
# The upstream standard-service protos (unchanged copies, see runtime/proto/README.md).
# Only reflection v1 is generated here: grpcio-reflection 1.85.1 ships v1alpha stubs
# only, and grpcio-health-checking 1.85.1's health stubs already have List.
STD_PROTO_DIR="$REPO_ROOT/runtime/proto"
STD_PROTOS=(grpc/reflection/v1/reflection.proto)

VENV_ARG="$1"
mkdir -p "$(dirname "$VENV_ARG")"
VENV_DIR="$(cd "$(dirname "$VENV_ARG")" && pwd)/$(basename "$VENV_ARG")"
STAMP="$VENV_DIR/.interop-stamp"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "setup_venv: error: '$PYTHON' not found on PATH" >&2
    exit 1
fi

for p in "${PROTOS[@]}"; do
    if [ ! -f "$PROTO_DIR/$p" ]; then
        echo "setup_venv: error: missing $PROTO_DIR/$p" >&2
        exit 1
    fi
done
for p in "${STD_PROTOS[@]}"; do
    if [ ! -f "$STD_PROTO_DIR/$p" ]; then
        echo "setup_venv: error: missing $STD_PROTO_DIR/$p" >&2
        exit 1
    fi
done

compute_hash() {
    {
        cat "$SCRIPT_DIR/requirements.txt"
        for p in "${PROTOS[@]}"; do cat "$PROTO_DIR/$p"; done
        for p in "${STD_PROTOS[@]}"; do cat "$STD_PROTO_DIR/$p"; done
        cat "$SCRIPT_DIR/setup_venv.sh"
        "$PYTHON" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

is_up_to_date() {
    [ -f "$STAMP" ] && [ -x "$VENV_DIR/bin/python" ] \
        && [ -f "$VENV_DIR/gen/grpc/testing/test_pb2_grpc.py" ] \
        && [ -f "$VENV_DIR/gen/grpc/reflection/v1/reflection_pb2_grpc.py" ] \
        && [ "$(cat "$STAMP")" = "$WANT" ]
}

WANT="$(compute_hash)"

# Fast path without taking the lock.
if is_up_to_date; then
    echo "setup_venv: up to date: $VENV_DIR"
    exit 0
fi

# Serialize concurrent builds of the same VENV_DIR (bounded wait).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV_DIR.lock"
    if ! flock -w 900 9; then
        echo "setup_venv: error: timed out waiting for lock $VENV_DIR.lock" >&2
        exit 1
    fi
    # Someone else may have finished the build while we waited.
    if is_up_to_date; then
        echo "setup_venv: up to date: $VENV_DIR"
        exit 0
    fi
fi

START=$(date +%s)

# venv needs ensurepip to bootstrap pip; Debian's python3 ships it separately.
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "setup_venv: error: $PYTHON has no working venv/ensurepip module" \
         "(on Debian/Ubuntu the python3-venv package provides it); cannot create $VENV_DIR" >&2
    exit 1
fi

rm -rf "$VENV_DIR"
if ! "$PYTHON" -m venv "$VENV_DIR"; then
    rm -rf "$VENV_DIR"
    echo "setup_venv: error: '$PYTHON -m venv $VENV_DIR' failed" \
         "(on Debian/Ubuntu the python3-venv package provides ensurepip)" >&2
    exit 1
fi

"$VENV_DIR/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$SCRIPT_DIR/requirements.txt"

mkdir -p "$VENV_DIR/gen"
"$VENV_DIR/bin/python" -m grpc_tools.protoc -I "$PROTO_DIR" \
    --python_out="$VENV_DIR/gen" --grpc_python_out="$VENV_DIR/gen" \
    "${PROTOS[@]}"
"$VENV_DIR/bin/python" -m grpc_tools.protoc -I "$STD_PROTO_DIR" \
    --python_out="$VENV_DIR/gen" --grpc_python_out="$VENV_DIR/gen" \
    "${STD_PROTOS[@]}"

# Stamp last, atomically: a half-finished build is never taken as up to date.
echo "$WANT" > "$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"

GRPC_VERSION="$("$VENV_DIR/bin/python" -c 'import grpc; print(grpc.__version__)')"
echo "setup_venv: built $VENV_DIR (grpcio $GRPC_VERSION, stubs in $VENV_DIR/gen) in $(( $(date +%s) - START ))s"
