#!/usr/bin/env bash
# Code-generation and compile-cost benchmarks of protoc-gen-rgrpc against its peer
# (protoc-gen-prost + protoc-gen-tonic, the protoc-plugin form of tonic-prost-build).
#
# usage: bench/codegen/run.sh [--quick] [--no-release] [--breakdown]
#
#   full          plugin speed on the medium and large tiers (7 and 5 reps), compile cost of
#                 the medium tier (3 debug and 2 release builds of each crate): about 10
#                 minutes once the setup is cached (each build takes 25-40 s).
#   --no-release  leave the release builds out: about 7 minutes.
#   --breakdown   add one build each of rgrpc's messages + async client / blocking client /
#                 server, and the defaults without the reflection descriptors (descriptors=false),
#                 with the bytes they add: about 5 minutes.
#   --quick       a tiny tier (google/pubsub/v1 and its imports), 2 reps of plugin speed and 1
#                 debug build of each crate, to prove the harness works; under a minute once
#                 set up (a first run also builds the crates' dependencies: about 2 minutes).
#
# stdout: one Markdown section, to paste into bench/results/latest.md. stderr: progress.
#
# Setup is cached under target/bench-codegen/ and reused when present (delete that folder to
# start over): the corpus (npm), the peer plugins (cargo install, pinned), and the dependencies
# of the throwaway crates (one CARGO_TARGET_DIR per crate kind, so the workspace's target/ is
# left alone). rgrpc's plugin is rebuilt with `cargo build --release` every run (a no-op when
# up to date) so the numbers describe the code as it is now.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/codegen
CACHE=$ROOT/target/bench-codegen
TOOLS=$CACHE/tools
CORPUS_VERSION=6.0.1
# The newest releases of the peer plugins; both are built on prost-build 0.14 and
# tonic-build 0.14, and protoc-gen-tonic emits `tonic_prost::ProstCodec`, i.e. code for
# tonic 0.14 + tonic-prost (checked in the install and by compiling its output).
PEER_PROST_VERSION=0.5.0
PEER_TONIC_VERSION=0.5.0

HARNESS_FLAGS=()
for arg in "$@"; do
    case "$arg" in
        --quick|--no-release|--breakdown) HARNESS_FLAGS+=("$arg") ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

log() { echo "[bench/codegen] $*" >&2; }

# The corpus: the googleapis tree as shipped in an npm package (a registry we can reach).
setup_corpus() {
    if [[ -f $CACHE/package/google/pubsub/v1/pubsub.proto ]]; then
        return
    fi
    log "corpus: npm pack google-proto-files@$CORPUS_VERSION"
    mkdir -p "$CACHE"
    (cd "$CACHE" && timeout 300 npm pack --silent "google-proto-files@$CORPUS_VERSION" >&2)
    rm -rf "$CACHE/package"
    tar -xzf "$CACHE/google-proto-files-$CORPUS_VERSION.tgz" -C "$CACHE"
}

# The peer plugins, pinned and built with their own Cargo.lock (--locked).
setup_peer_plugins() {
    if [[ -x $TOOLS/bin/protoc-gen-prost && -x $TOOLS/bin/protoc-gen-tonic ]] &&
        grep -q "protoc-gen-prost $PEER_PROST_VERSION" "$TOOLS/.crates.toml" 2>/dev/null &&
        grep -q "protoc-gen-tonic $PEER_TONIC_VERSION" "$TOOLS/.crates.toml" 2>/dev/null; then
        return
    fi
    log "peer plugins: cargo install protoc-gen-prost@$PEER_PROST_VERSION protoc-gen-tonic@$PEER_TONIC_VERSION (minutes)"
    mkdir -p "$CACHE/logs"
    timeout 1800 cargo install --locked --root "$TOOLS" \
        "protoc-gen-prost@$PEER_PROST_VERSION" "protoc-gen-tonic@$PEER_TONIC_VERSION" \
        >"$CACHE/logs/install.log" 2>&1 || {
        log "cargo install failed; see $CACHE/logs/install.log"
        exit 1
    }
}

# rgrpc's plugin and the protoc wrapper, built in the workspace as the Makefile does, then
# copied into the cache so a concurrent workspace build cannot swap them mid-measurement.
setup_rgrpc_plugin() {
    log "rgrpc: cargo build --release -p protoc-gen-rgrpc -p rgrpc-dev"
    (cd "$ROOT" && timeout 1200 cargo build --release -q -p protoc-gen-rgrpc -p rgrpc-dev >&2)
    mkdir -p "$TOOLS/bin"
    cp -f "$ROOT/target/release/protoc-gen-rgrpc" "$TOOLS/bin/protoc-gen-rgrpc"
    cp -f "$ROOT/target/release/rgrpc-protoc" "$TOOLS/bin/rgrpc-protoc"
}

main() {
    local start=$SECONDS
    setup_corpus
    setup_peer_plugins
    setup_rgrpc_plugin
    log "setup checks done in $((SECONDS - start)) s"
    local args=(--root "$ROOT" --cache "$CACHE" --corpus-version "$CORPUS_VERSION"
        --peer-versions "protoc-gen-prost $PEER_PROST_VERSION, protoc-gen-tonic $PEER_TONIC_VERSION")
    args+=("${HARNESS_FLAGS[@]}")
    # The harness bounds each command itself; this is the backstop for the whole run
    # (a first run also builds the throwaway crates' dependencies, which takes minutes).
    timeout 3600 python3 "$HERE/bench.py" "${args[@]}"
    log "total $((SECONDS - start)) s"
}

main
