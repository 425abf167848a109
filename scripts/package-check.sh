#!/usr/bin/env bash
# Packages the three published crates as `cargo publish` would, without publishing: builds each
# .crate, verifies it (cargo compiles the packaged sources alone; rgrpc-build against the
# just-packaged protoc-gen-rgrpc, through cargo's temporary local registry), then checks what
# ships and prints each crate's size and file count.
#
# Fails on any packaging or verification error, on a file over MAX_FILE_KIB, on a crate missing
# its README or licenses, on a file of runtime/proto/ left out of rgrpc's package, and
# if the packaged plugin cannot compile a .proto importing the well-known types (which are not
# files of the package: protox embeds them).
#
# cargo warns that each crate's tests are ignored: they stay out of the packages on purpose.
# The working tree is packaged as it is (--allow-dirty), so uncommitted changes are checked too.
# Needs crates.io (the index and the dependencies' sources) unless they are in cargo's cache.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
MAX_FILE_KIB=${MAX_FILE_KIB:-200}
crates=(rgrpc protoc-gen-rgrpc rgrpc-build)

# The target directory and each crate's version, from cargo itself.
metadata=$($CARGO metadata --format-version 1 --no-deps --locked)
target_dir=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' <<<"$metadata")
version_of() {
    python3 -c '
import json, sys
name = sys.argv[1]
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == name))
' "$1" <<<"$metadata"
}

package_args=()
for crate in "${crates[@]}"; do
    package_args+=(-p "$crate")
done

# cargo verifies rgrpc-build against the just-packaged plugin through a temporary registry.
# It takes a registry crate of a known name and version as unchanging: it reuses a copy
# extracted under $CARGO_HOME/registry/src/-<hash of the registry's path>/ by an earlier run,
# and the build of it in the target directory, and would verify against those. Both go
# first: the unnamed registries' copies (never crates.io's), and our three crates' build
# fingerprints, which only rebuilds those three.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for crate in "${crates[@]}"; do
    rm -rf "$cargo_home"/registry/src/-*/"$crate-$(version_of "$crate")"
    rm -rf "$target_dir"/debug/.fingerprint/"$crate"-*
done

echo "== cargo package ${package_args[*]} (verifying each crate)"
$CARGO package --locked --allow-dirty "${package_args[@]}"

fail=0
error() {
    echo "package-check: $*" >&2
    fail=1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

summary=()
for crate in "${crates[@]}"; do
    version=$(version_of "$crate")
    file="$target_dir/package/$crate-$version.crate"
    root="$crate-$version"
    if [[ ! -f $file ]]; then
        error "$file was not written"
        continue
    fi
    # path<TAB>size for every regular file in the archive.
    tar -tvzf "$file" | awk '$1 !~ /^d/ { print $6 "\t" $3 }' >"$work/$crate.list"
    files=$(wc -l <"$work/$crate.list")
    unpacked=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$work/$crate.list")
    compressed=$(wc -c <"$file")
    summary+=("$(awk -v c="$crate" -v v="$version" -v z="$compressed" -v u="$unpacked" -v n="$files" \
        'BEGIN { printf "%-18s %8s %6.1f KiB %9.1f KiB %6d", c, v, z / 1024, u / 1024, n }')")

    while IFS=$'\t' read -r path size; do
        if ((size > MAX_FILE_KIB * 1024)); then
            error "$crate ships $path, $((size / 1024)) KiB (more than $MAX_FILE_KIB KiB)"
        fi
    done <"$work/$crate.list"

    for needed in Cargo.toml Cargo.lock README.md LICENSE-MIT LICENSE-APACHE src/lib.rs; do
        grep -qxF "$root/$needed" <(cut -f1 "$work/$crate.list") ||
            error "$crate's package lacks $needed"
    done
    # The licenses are symlinks in the repository: the package must hold their text.
    # (Extracted first: grep -q quitting early would fail tar's side of a pipe.)
    tar -xOzf "$file" "$root/LICENSE-MIT" >"$work/LICENSE-MIT" 2>/dev/null || true
    tar -xOzf "$file" "$root/LICENSE-APACHE" >"$work/LICENSE-APACHE" 2>/dev/null || true
    grep -q "Permission is hereby granted" "$work/LICENSE-MIT" ||
        error "$crate's LICENSE-MIT is not the MIT license text"
    grep -q "Apache License" "$work/LICENSE-APACHE" ||
        error "$crate's LICENSE-APACHE is not the Apache license text"
    # Nothing from the tests: they need the rest of the repository.
    if grep -q "^$root/tests/" "$work/$crate.list"; then
        error "$crate ships its tests/, which read files outside the crate"
    fi
done

# The plugin's binary.
plugin_version=$(version_of protoc-gen-rgrpc)
plugin_root="protoc-gen-rgrpc-$plugin_version"
grep -qxF "$plugin_root/src/main.rs" <(cut -f1 "$work/protoc-gen-rgrpc.list") ||
    error "protoc-gen-rgrpc's package lacks src/main.rs"

# The runtime: the upstream protos its standard services are generated from, with their
# license (Apache-2.0), ship beside the generated code.
runtime_root="rgrpc-$(version_of rgrpc)"
while read -r file; do
    [[ -n $file ]] || continue
    grep -qxF "$runtime_root/${file#runtime/}" <(cut -f1 "$work/rgrpc.list") ||
        error "rgrpc's package lacks $file"
done < <(git ls-files -- 'runtime/proto')

# The well-known types come from protox's embedded copies, not from files of the package: the
# plugin compiles a file importing them with nothing but that file on disk. The binary is the
# target directory's, which the verification above builds from the packaged sources (or, when
# those were already built, the workspace's build of the same sources: the plugin reads no
# file of its own crate, at build time or at run time).
plugin="$target_dir/debug/protoc-gen-rgrpc"
mkdir -p "$work/proto" "$work/out"
cat >"$work/proto/wkt.proto" <<'EOF'
syntax = "proto3";
package wkt;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/field_mask.proto";
message Event {
  google.protobuf.Timestamp at = 1;
  google.protobuf.Duration took = 2;
  google.protobuf.Any detail = 3;
  google.protobuf.Struct labels = 4;
  google.protobuf.StringValue note = 5;
  google.protobuf.FieldMask mask = 6;
}
service Events {
  rpc Record(Event) returns (google.protobuf.Empty);
}
EOF
if [[ ! -x $plugin ]]; then
    error "no plugin binary at $plugin after the verification"
elif ! (cd "$work" && "$plugin" compile -I proto --out out proto/wkt.proto); then
    error "the packaged plugin cannot compile a .proto importing the well-known types"
elif ! grep -q "::rgrpc::prost_types::Timestamp" "$work/out/wkt.rs"; then
    error "the packaged plugin's output for the well-known types is not rgrpc's prost-types"
fi
echo "== $("$plugin" --version)"

echo
printf '%-18s %8s %10s %13s %6s\n' crate version compressed uncompressed files
printf '%s\n' "${summary[@]}"

if ((fail)); then
    echo "package-check: FAILED" >&2
    exit 1
fi
echo "package-check: ok (no file over $MAX_FILE_KIB KiB)"
