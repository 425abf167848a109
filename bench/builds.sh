#!/usr/bin/env bash
# Usage: bench/builds.sh [--quick] BEFORE [AFTER]
#        bench/builds.sh --build-only REV    # builds REV's benchmark; prints its path
#
# rgrpc's gRPC server at two commits, side by side: did a change make it slower? BEFORE and
# AFTER are git revisions; without AFTER, the working tree as it is. Each commit's benchmark
# (its own bench crate, linking its own rgrpc) is built from a temporary `git worktree` into
# $CARGO_TARGET_DIR/builds/<commit>/ (kept, so a second run does not build again), and the
# worktree is removed once built. Then one alternating run (`rpc-bench builds`) measures both
# servers, and BEFORE's again as a control (the noise two identical servers show), under the
# same load generators (the tonic client and h2load, gRPC unary c=1 and c=64), and each
# build under callgrind (instructions per unary call). Prints one Markdown section.
#
#   full     5 repetitions × 2 s, callgrind 1,000 and 5,000 calls: about 4 minutes once built
#   --quick  1 repetition × 0.3 s, callgrind 100 and 300 calls: about 1 minute once built
#
# Building a commit takes some minutes and about 0.5 GB. The worktrees go under
# $BENCH_WORKTREES (default: $CARGO_TARGET_DIR/bench-worktrees).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: bench/builds.sh [--quick] BEFORE [AFTER] | --build-only REV" >&2
    exit 2
}
quick=false
build_only=false
case "${1:-}" in
    --quick) quick=true; shift ;;
    --build-only) build_only=true; shift; [ "$#" -eq 1 ] || usage ;;
esac
[ "$#" -ge 1 ] && [ "$#" -le 2 ] || usage
if $quick; then
    reps=1 seconds=0.3 short=100 long=300
else
    reps=5 seconds=2 short=1000 long=5000
fi

target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
worktrees=$(realpath -m "${BENCH_WORKTREES:-$target/bench-worktrees}")
export CARGO_INCREMENTAL=0

# The worktree being built from, removed however the script ends.
tree=
trap '[ -z "$tree" ] || git worktree remove --force "$tree" >&2 || true' EXIT

# Sets $exe to the rpc-bench of commit $1, built if it is not yet.
built() {
    local sha dir
    sha=$(git rev-parse --short=10 "$1^{commit}")
    dir=$target/builds/$sha
    if [ ! -x "$dir/release/rpc-bench" ]; then
        tree=$worktrees/$sha
        mkdir -p "$worktrees"
        if [ ! -d "$tree" ]; then
            git worktree add --detach "$tree" "$sha" >&2
        fi
        echo "bench/builds.sh: building $sha's benchmark in $tree (some minutes)" >&2
        (cd "$tree" && CARGO_TARGET_DIR=$dir cargo build -q --release -p rgrpc-bench) >&2
        git worktree remove --force "$tree" >&2
        tree=
    fi
    exe=$dir/release/rpc-bench
}

# `abc1234` (the commit's subject, shortened), for the headings.
name_of() {
    local subject
    subject=$(git log -1 --format=%s "$1^{commit}")
    [ "${#subject}" -le 72 ] || subject="${subject:0:72}…"
    echo "\`$(git rev-parse --short "$1^{commit}")\` ($subject)"
}

if $build_only; then
    built "$1"
    echo "$exe"
    exit 0
fi

built "$1"
before=$exe
before_name=$(name_of "$1")
# AFTER's benchmark runs the comparison (AFTER must have `rpc-bench builds`, which came with
# this script); without AFTER, this tree's.
if [ "$#" -eq 2 ]; then
    built "$2"
    after=$exe
    after_name=$(name_of "$2")
    runner=$after
else
    cargo build -q --release -p rgrpc-bench
    runner=$target/release/rpc-bench
    after=$runner
    after_name="the working tree at \`$(git rev-parse --short HEAD)\`"
    if [ -n "$(git status --porcelain --untracked-files=no -- runtime bench Cargo.lock)" ]; then
        after_name="$after_name with uncommitted changes"
    fi
fi

if ! command -v valgrind >/dev/null 2>&1; then
    echo "bench/builds.sh: valgrind is not installed (bench/setup.sh): no callgrind figures" >&2
    short=0
fi
"$runner" builds --after "$after" --before "$before" \
    --after-name "$after_name" --before-name "$before_name" \
    --reps "$reps" --seconds "$seconds" --short "$short" --long "$long" \
    --dir "$target/bench-callgrind/builds"
