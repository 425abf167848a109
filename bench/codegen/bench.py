#!/usr/bin/env python3
"""Measurement harness of bench/codegen (stdlib only); run.sh does the setup and calls it.

Three measurements, each printed as a Markdown table on stdout (progress on stderr):
  1. plugin speed: one protoc invocation over a tier's file list with rgrpc's plugin, with the
     peer (protoc-gen-prost + protoc-gen-tonic), and with no plugin (protoc's own cost),
     alternated run by run;
  2. generated lines: rgrpc's output split into messages and each kind of service code, the
     peer's into prost's and tonic's files;
  3. compile cost: throwaway crates holding rgrpc's code, the peer's code, and prost messages
     only, each built alone (dependencies prebuilt), alternated, debug and release;
     with --breakdown, also rgrpc's service code kind by kind and without its descriptors.
"""

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED_CORPUS = Path("/work/shared/bench-corpus")

# The tiny tier of --quick: these roots plus their imports.
SMALL_ROOTS = ("google/pubsub/v1/",)

# Rust keywords that prost-build escapes in module names (`google.type` -> `r#type`); the
# ones that cannot be raw identifiers get a trailing underscore, as prost does.
RUST_KEYWORDS = set(
    "as break const continue crate else enum extern false fn for if impl in let loop match mod "
    "move mut pub ref return self Self static struct super trait true type unsafe use where while "
    "abstract become box do final macro override priv typeof unsized virtual yield async await "
    "dyn try gen".split()
)
NOT_RAW = {"self", "Self", "super", "crate"}


def log(msg):
    print(f"[bench/codegen] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Running commands: wall time and peak RSS of the whole process tree, always bounded.


class Result:
    def __init__(self, rc, wall, maxrss_kb, output, foreign_cpu):
        self.rc, self.wall, self.maxrss_kb, self.output = rc, wall, maxrss_kb, output
        # CPU-seconds that processes other than this command used meanwhile, per second of
        # wall time (0 = the machine was ours, 2 = another job kept both cores busy).
        self.foreign_cpu = foreign_cpu


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_busy_seconds():
    """Non-idle CPU-seconds of the whole machine since boot (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def wait_quiet(max_wait, threshold=0.3):
    """Waits (at most max_wait s) for a second in which other processes use < threshold cores.

    The machine may be shared with other builds; starting a sample while they run would
    measure them. Returns the load seen last, so the caller can note a busy start."""
    deadline = time.monotonic() + max_wait
    while True:
        before = cpu_busy_seconds()
        time.sleep(1.0)
        load = cpu_busy_seconds() - before
        if load < threshold or time.monotonic() >= deadline:
            return load


def run(cmd, *, timeout, cwd=None, env=None):
    """Runs cmd under `timeout`, returning exit code, wall seconds, peak RSS and output.

    os.wait4 gives the rusage of the child and of every descendant it waited for, so
    ru_maxrss is the largest single process of the tree (rustc under cargo, or the plugin
    under protoc): the same figure as `/usr/bin/time -v`'s "Maximum resident set size".
    Output goes to a temporary file, not a pipe, so a chatty command cannot block."""
    full_env = dict(os.environ, **(env or {}))
    with tempfile.TemporaryFile() as out:
        busy_before = cpu_busy_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen(
            ["timeout", "--kill-after=10", str(timeout)] + [str(c) for c in cmd],
            cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        own = usage.ru_utime + usage.ru_stime
        foreign = max(0.0, cpu_busy_seconds() - busy_before - own) / max(wall, 1e-3)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if proc.returncode == 124:
        text += f"\n(timed out after {timeout} s)"
    return Result(proc.returncode, wall, usage.ru_maxrss, text, foreign)


def must(res, what):
    if res.rc != 0:
        sys.exit(f"bench/codegen: {what} failed (exit {res.rc}):\n{res.output[-4000:]}")
    return res


# ---------------------------------------------------------------------------------------------
# Reading a FileDescriptorSet without the protobuf package: a minimal wire-format decoder.


def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf):
    """Yields (field number, value) of one encoded message; value is an int or bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield key >> 3, value


def _count_messages(encoded_messages):
    """Messages (nested included, as corpus_stats.py counts them) in DescriptorProtos."""
    total = 0
    for msg in encoded_messages:
        total += 1
        total += _count_messages([v for n, v in _fields(msg) if n == 3])  # nested_type
    return total


def read_descriptor_set(path):
    """{file name: {package, deps, services, methods, messages}} of a FileDescriptorSet."""
    files = {}
    for num, fd in _fields(Path(path).read_bytes()):
        if num != 1:
            continue
        info = {"package": "", "deps": [], "services": 0, "methods": 0, "messages": 0}
        name, messages = "", []
        for n, v in _fields(fd):
            if n == 1:
                name = v.decode()
            elif n == 2:
                info["package"] = v.decode()
            elif n == 3:
                info["deps"].append(v.decode())
            elif n == 4:
                messages.append(v)
            elif n == 6:
                info["services"] += 1
                info["methods"] += sum(1 for m, _ in _fields(v) if m == 2)
        info["messages"] = _count_messages(messages)
        files[name] = info
    return files


# ---------------------------------------------------------------------------------------------
# The benchmark context: paths, tools, tiers.


class Bench:
    def __init__(self, args):
        self.root = Path(args.root)
        self.cache = Path(args.cache)
        self.quick = args.quick
        self.corpus_version = args.corpus_version
        self.peer_versions = args.peer_versions
        self.package = self.cache / "package"
        bin_dir = self.cache / "tools" / "bin"
        self.protoc = bin_dir / "rgrpc-protoc"  # the vendored protoc, -I well-known types appended
        self.rgrpc = bin_dir / "protoc-gen-rgrpc"
        self.prost = bin_dir / "protoc-gen-prost"
        self.tonic = bin_dir / "protoc-gen-tonic"
        self.work = self.cache / "work"
        self.timings = {}  # section -> seconds, reported at the end
        self.notes = []  # problems worth telling the reader
        # Longest waits for a quiet machine before a sample (see wait_quiet), in seconds.
        self.quiet_wait_plugin, self.quiet_wait_build = (5, 10) if self.quick else (20, 45)

    # -- tiers --

    def tier_files(self, tier):
        if tier in ("medium", "large"):
            lst = SHARED_CORPUS / f"{tier}.txt"
            return [l.strip() for l in lst.read_text().splitlines() if l.strip()]
        if tier == "small":
            return self.small_tier()
        raise ValueError(tier)

    def small_tier(self):
        """google/pubsub/v1 and its imports, well-known types left out (as in the shared tiers)."""
        roots = sorted(
            str(p.relative_to(self.package))
            for r in SMALL_ROOTS
            for p in (self.package / r).glob("*.proto")
        )
        out = self.work / "small-closure.pb"
        out.parent.mkdir(parents=True, exist_ok=True)
        must(run([self.protoc, "--include_imports", f"--descriptor_set_out={out}",
                  "-I", self.package] + roots, timeout=120), "protoc (small tier closure)")
        names = [n for n in read_descriptor_set(out) if not n.startswith("google/protobuf/")]
        return sorted(names)

    def tier_stats(self, tier, files):
        """files/packages/services/methods/messages of a tier, from protoc's descriptor set."""
        out = self.work / f"{tier}-stats.pb"
        must(run([self.protoc, f"--descriptor_set_out={out}", "-I", self.package] + files,
                 timeout=300), f"protoc ({tier} descriptor set)")
        fds = read_descriptor_set(out)
        stats = {"files": len(fds), "packages": len({f["package"] for f in fds.values()})}
        for key in ("services", "methods", "messages"):
            stats[key] = sum(f[key] for f in fds.values())
        return stats

    # -- protoc invocations --

    def protoc_cmd(self, files, plugin_args):
        return [self.protoc] + plugin_args + ["-I", self.package] + files

    def rgrpc_args(self, out, opt=None):
        args = [f"--plugin=protoc-gen-rgrpc={self.rgrpc}", f"--rgrpc_out={out}"]
        return args + ([f"--rgrpc_opt={opt}"] if opt else [])

    def peer_args(self, out):
        # Defaults of both plugins: prost messages, tonic client (with transport's `connect`)
        # and server. flat_output_dir only puts every file in one folder (package-named).
        return [f"--plugin=protoc-gen-prost={self.prost}", f"--plugin=protoc-gen-tonic={self.tonic}",
                f"--prost_out={out}", "--prost_opt=flat_output_dir",
                f"--tonic_out={out}", "--tonic_opt=flat_output_dir"]

    def generate(self, files, kind, out, opt=None):
        """Runs one generator into a fresh folder (untimed use)."""
        fresh_dir(out)
        if kind == "rgrpc":
            args = self.rgrpc_args(out, opt)
        elif kind == "peer":
            args = self.peer_args(out)
        else:
            raise ValueError(kind)
        must(run(self.protoc_cmd(files, args), timeout=600), f"protoc with {kind} plugin")


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    Path(path).mkdir(parents=True)


def rs_lines(folder, pattern="*.rs", exclude=()):
    """Lines (newline count, as wc -l) and file count of the .rs files in folder."""
    lines = count = 0
    for p in sorted(Path(folder).glob(pattern)):
        if p.name in exclude:
            continue
        lines += p.read_bytes().count(b"\n")
        count += 1
    return lines, count


def p50(xs):
    return statistics.median(xs)


# ---------------------------------------------------------------------------------------------
# 1. Plugin speed


def plugin_speed(b, tier, files, reps):
    """Alternates rgrpc, peer, protoc-only runs over the same file list; returns samples."""
    out = b.work / f"speed-{tier}"
    runs = {
        "rgrpc": lambda: b.rgrpc_args(out),
        "peer": lambda: b.peer_args(out),
        "protoc": lambda: [f"--descriptor_set_out={out}/set.pb"],
    }
    samples = {k: [] for k in runs}
    rss = {k: 0 for k in runs}
    foreign = {k: [] for k in runs}
    # One unmeasured run of each warms the page cache (corpus, binaries) for all three alike.
    for rep in range(-1, reps):
        if rep >= 0:
            wait_quiet(b.quiet_wait_plugin)
        for name, args in runs.items():
            fresh_dir(out)
            res = must(run(b.protoc_cmd(files, args()), timeout=600), f"protoc ({name}, {tier})")
            if rep >= 0:
                samples[name].append(res.wall)
                rss[name] = max(rss[name], res.maxrss_kb)
                foreign[name].append(res.foreign_cpu)
        if rep >= 0:
            log(f"plugin speed {tier} rep {rep + 1}/{reps}: "
                + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in samples.items()))
    return {"tier": tier, "reps": reps, "samples": samples, "rss": rss, "foreign": foreign}


def generated_lines(b, tier, files):
    """rgrpc's output split by kind of code; the peer's by plugin."""
    parts = {
        "total": None,  # defaults: messages + async client + blocking client + server
        "messages": "client=false,server=false,blocking=false",
        "async client": "server=false,blocking=false",
        "blocking client": "client=false,server=false",
        "server": "client=false,blocking=false",
    }
    rgrpc = {}
    for part, opt in parts.items():
        out = b.work / f"lines-{tier}-rgrpc"
        b.generate(files, "rgrpc", out, opt)
        rgrpc[part], files_n = rs_lines(out)
        if part == "total":
            rgrpc["files"] = files_n
    for part in ("async client", "blocking client", "server"):
        rgrpc[part] -= rgrpc["messages"]  # each run above also held the messages
    out = b.work / f"lines-{tier}-peer"
    b.generate(files, "peer", out)
    tonic_lines, tonic_files = rs_lines(out, "*.tonic.rs")
    all_lines, all_files = rs_lines(out)
    peer = {"total": all_lines, "files": all_files, "services": tonic_lines,
            "messages": all_lines - tonic_lines}
    return {"rgrpc": rgrpc, "peer": peer}


# ---------------------------------------------------------------------------------------------
# 3. Compile cost: throwaway crates under target/bench-codegen/crates/


def crate_deps(b, kind):
    runtime = b.root / "runtime"
    if kind in ("rgrpc", "messages"):
        # rgrpc's generated code needs the runtime only: it re-exports prost, prost-types, tonic.
        return f'rgrpc = {{ path = "{runtime}" }}\n'
    # What code from tonic-build (protoc-gen-tonic) needs: tonic with its default features
    # (codegen for the generated services, transport for the clients' `connect`).
    return ('prost = "0.14"\nprost-types = "0.14"\ntonic = "0.14"\ntonic-prost = "0.14"\n')


CRATE_KINDS = ("rgrpc", "tonic", "messages")
KIND_LABEL = {
    "rgrpc": "rgrpc (defaults: messages + client + blocking client + server)",
    "tonic": "peer (prost + tonic: messages + client + server)",
    "messages": "prost messages only (rgrpc `client=false,server=false,blocking=false`)",
}


def write_if_changed(path, text):
    path = Path(path)
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_crate(b, dir_, name, kind, lib_rs):
    """A standalone crate (its own [workspace]) pinned to the workspace's Cargo.lock versions."""
    cargo_toml = (
        f'# Generated by bench/codegen/bench.py: a throwaway crate, rewritten every run.\n'
        f'[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
        f'[dependencies]\n{crate_deps(b, kind)}\n'
        f'# Not a member of the rgrpc workspace although it sits under its target/.\n[workspace]\n'
    )
    write_if_changed(dir_ / "Cargo.toml", cargo_toml)
    write_if_changed(dir_ / "src" / "lib.rs", lib_rs)
    if not (dir_ / "Cargo.lock").exists():
        # Start from the workspace's lock so prost/tonic are the versions rgrpc is tested with.
        shutil.copy(b.root / "Cargo.lock", dir_ / "Cargo.lock")


def module_tree(names):
    """An include file for package-named files (a.b.rs -> pub mod a { pub mod b { ... } })."""
    tree = {}
    for fname in names:
        node = tree
        for part in fname[: -len(".rs")].split("."):
            node = node.setdefault(part, {})
        node[None] = fname

    def ident(part):
        if part in NOT_RAW:
            return part + "_"
        return f"r#{part}" if part in RUST_KEYWORDS else part

    def emit(node, depth):
        pad = "    " * depth
        lines = []
        if None in node:
            lines.append(f'{pad}include!("{node[None]}");')
        for part in sorted(k for k in node if k is not None):
            lines.append(f"{pad}pub mod {ident(part)} {{")
            lines += emit(node[part], depth + 1)
            lines.append(f"{pad}}}")
        return lines

    return "// Generated by bench/codegen/bench.py.\n" + "\n".join(emit(tree, 0)) + "\n"


def prepare_crates(b, tier, files):
    """Generates the three crates of a tier and the dependency-only crate of each kind."""
    crates = {}
    for kind in CRATE_KINDS:
        dir_ = b.cache / "crates" / f"{tier}-{kind}"
        gen = dir_ / "src" / "gen"
        if kind == "rgrpc":
            b.generate(files, "rgrpc", gen, "include_file=mod.rs")
        elif kind == "messages":
            b.generate(files, "rgrpc", gen, "client=false,server=false,blocking=false,include_file=mod.rs")
        else:
            b.generate(files, "peer", gen)
            # protoc-gen-prost 0.5 has no include-file option (protoc-gen-prost-crate has):
            # the tree is written here. protoc-gen-tonic already inserted an include! of each
            # .tonic.rs into its prost file, so only the prost files are listed.
            names = sorted(p.name for p in gen.glob("*.rs") if not p.name.endswith(".tonic.rs"))
            (gen / "mod.rs").write_text(module_tree(names))
        name = f"bcg-{tier}-{kind}"
        lib_rs = (f"//! Throwaway crate of bench/codegen: {KIND_LABEL[kind]}, {tier} tier.\n"
                  f"pub mod proto {{\n    include!(\"gen/mod.rs\");\n}}\n")
        write_crate(b, dir_, name, kind, lib_rs)
        deps_dir = b.cache / "crates" / f"deps-{kind}"
        write_crate(b, deps_dir, f"bcg-deps-{kind}", kind, "//! Dependencies only.\n")
        crates[kind] = {"dir": dir_, "name": name, "deps_dir": deps_dir,
                        "target": b.cache / "cargo-target" / kind}
    return crates


def cargo_env(crate):
    # Each kind has its own target dir: the workspace's target/ is untouched, and the
    # dependency artifacts of one kind never evict the other's.
    return {"CARGO_TARGET_DIR": str(crate["target"]), "CARGO_TERM_COLOR": "never"}


def ensure_deps(b, crate, profile):
    """Builds the dependencies (untimed): a long no-op when they are there, minutes otherwise.
    Run before every measured build so a change to runtime/ (a path dependency another
    engineer may be editing) is rebuilt here and not inside the measurement."""
    flags = ["--release"] if profile == "release" else []
    res = run(["cargo", "build", "-q"] + flags, cwd=crate["deps_dir"], env=cargo_env(crate), timeout=1800)
    must(res, f"cargo build {profile} of {crate['deps_dir'].name}")


def measure_build(b, crate, profile):
    """`cargo clean -p` the crate (its incremental data too), then time `cargo build` of it."""
    flags = ["--release"] if profile == "release" else []
    env = cargo_env(crate)
    for attempt in range(2):
        wait_quiet(b.quiet_wait_build)
        ensure_deps(b, crate, profile)
        must(run(["cargo", "clean", "-q", "-p", crate["name"]] + flags, cwd=crate["dir"], env=env,
                 timeout=120), f"cargo clean -p {crate['name']}")
        res = run(["cargo", "build"] + flags, cwd=crate["dir"], env=env, timeout=1500)
        compiled = re.findall(r"^\s*Compiling (\S+)", res.output, re.M)
        others = [c for c in compiled if c != crate["name"]]
        if res.rc == 0 and others and attempt == 0:
            log(f"  {crate['name']}: dependencies rebuilt during the measurement ({others}); again")
            continue
        return res, compiled
    return res, compiled


def first_errors(output, limit=3):
    """The first rustc errors with their locations, for the report."""
    blocks = re.split(r"\n(?=error)", output)
    errs = [blk.strip() for blk in blocks if blk.startswith("error")]
    return errs[:limit]


def compile_cost(b, tier, crates, profile, reps):
    samples = {k: [] for k in CRATE_KINDS}
    rss = {k: 0 for k in CRATE_KINDS}
    foreign = {k: [] for k in CRATE_KINDS}
    warnings = {}
    failed = {}
    for rep in range(reps):
        for kind in CRATE_KINDS:
            if kind in failed:
                continue
            res, compiled = measure_build(b, crates[kind], profile)
            if res.rc != 0:
                failed[kind] = first_errors(res.output) or [res.output[-3000:]]
                log(f"  {crates[kind]['name']} {profile}: BUILD FAILED (exit {res.rc})")
                log_path = b.cache / "logs" / f"build-{tier}-{kind}-{profile}.log"
                log_path.parent.mkdir(parents=True, exist_ok=True)
                log_path.write_text(res.output)
                b.notes.append(f"{crates[kind]['name']} ({profile}) failed to build; full log in "
                               f"`{log_path.relative_to(b.root)}`")
                continue
            samples[kind].append(res.wall)
            rss[kind] = max(rss[kind], res.maxrss_kb)
            foreign[kind].append(res.foreign_cpu)
            m = re.search(r"generated (\d+) warnings?", res.output)
            warnings[kind] = int(m.group(1)) if m else 0
            log(f"compile {tier} {profile} rep {rep + 1}/{reps}: {kind} {res.wall:.1f}s, "
                f"peak RSS {res.maxrss_kb / 1024 / 1024:.2f} GiB, others' CPU {res.foreign_cpu:.2f} cores")
    return {"tier": tier, "profile": profile, "reps": reps, "samples": samples, "rss": rss,
            "foreign": foreign, "warnings": warnings, "failed": failed}


# ---------------------------------------------------------------------------------------------
# --breakdown: where rgrpc's service code spends its compile time, and what the embedded
# descriptors cost


# part -> (rgrpc parameters, label); each crate holds the messages plus that part.
BREAKDOWN = {
    "async": ("server=false,blocking=false", "messages + async client (`FooClient`, `FooApi`)"),
    "blocking": ("client=false,server=false", "messages + blocking client"),
    "server": ("client=false,blocking=false", "messages + server"),
    "no_descriptors": ("descriptors=false",
                       "defaults without the embedded reflection descriptors (`descriptors=false`)"),
}


def prepare_breakdown(b, tier, files):
    crates = {}
    for part, (opt, _) in BREAKDOWN.items():
        dir_ = b.cache / "crates" / f"{tier}-part-{part}"
        gen = dir_ / "src" / "gen"
        b.generate(files, "rgrpc", gen, ",".join(x for x in (opt, "include_file=mod.rs") if x))
        name = f"bcg-{tier}-part-{part}"
        write_crate(b, dir_, name, "rgrpc",
                    f"//! Throwaway crate of bench/codegen --breakdown: {part}, {tier} tier.\n"
                    f"pub mod proto {{\n    include!(\"gen/mod.rs\");\n}}\n")
        # Same dependencies as the rgrpc crates: their target dir is reused.
        crates[part] = {"dir": dir_, "name": name, "deps_dir": b.cache / "crates" / "deps-rgrpc",
                        "target": b.cache / "cargo-target" / "rgrpc",
                        "bytes": generated_bytes(gen)}
    return crates


def generated_bytes(gen_dir):
    return sum(f.stat().st_size for f in Path(gen_dir).glob("*.rs"))


def breakdown(b, crates):
    """One debug build of each part; one release build without descriptors."""
    results = {}
    plan = [(part, "debug") for part in BREAKDOWN] + [("no_descriptors", "release")]
    for part, profile in plan:
        res, _ = measure_build(b, crates[part], profile)
        if res.rc != 0:
            b.notes.append(f"--breakdown crate {crates[part]['name']} ({profile}) failed: "
                           + " / ".join(first_errors(res.output))[:800])
            continue
        results[(part, profile)] = res
        log(f"breakdown {part} {profile}: {res.wall:.1f}s, peak RSS {gib(res.maxrss_kb)}, "
            f"others' CPU {res.foreign_cpu:.2f} cores")
    return results


def md_breakdown(b, tier, results, compiles, crates):
    by_profile = {cc["profile"]: cc for cc in compiles if not cc["failed"]}
    if "debug" not in by_profile:
        return ""
    dbg = by_profile["debug"]["samples"]
    msgs = p50(dbg["messages"])
    out = [f"### Where rgrpc's service code spends its compile time ({tier} tier, `--breakdown`, "
           f"1 build each)\n",
           "| crate | profile | build (s) | minus messages-only p50 (s) | peak RSS | others' CPU |",
           "|---|---|---:|---:|---:|---:|",
           f"| messages only (p50 above) | debug | {msgs:.1f} | — | — | — |",
           f"| rgrpc defaults (p50 above) | debug | {p50(dbg['rgrpc']):.1f} | "
           f"{p50(dbg['rgrpc']) - msgs:.1f} | — | — |",
           f"| peer (p50 above) | debug | {p50(dbg['tonic']):.1f} | {p50(dbg['tonic']) - msgs:.1f} | — | — |"]
    for (part, profile), res in results.items():
        if profile in by_profile:
            extra = f"{res.wall - p50(by_profile[profile]['samples']['messages']):.1f}"
        else:
            extra = "— (no messages-only build in this profile)"
        busy = " (busy: not clean)" if res.foreign_cpu > 0.3 else ""
        out.append(f"| {BREAKDOWN[part][1]} | {profile} | {res.wall:.1f} | {extra} | "
                   f"{gib(res.maxrss_kb)} | {res.foreign_cpu:.2f}{busy} |")
    if "release" in by_profile:
        rel = by_profile["release"]["samples"]
        out.append(f"| rgrpc defaults / peer (p50 above) | release | {p50(rel['rgrpc']):.1f} / "
                   f"{p50(rel['tonic']):.1f} | {p50(rel['rgrpc']) - p50(rel['messages']):.1f} / "
                   f"{p50(rel['tonic']) - p50(rel['messages']):.1f} | — | — |")
    defaults = generated_bytes(b.cache / "crates" / f"{tier}-rgrpc" / "src" / "gen")
    without = crates["no_descriptors"]["bytes"]
    out.append(f"\nGenerated source, {tier} tier: {defaults / 1e6:.2f} MB with rgrpc's defaults, "
               f"{without / 1e6:.2f} MB with `descriptors=false`: the embedded descriptors are "
               f"{(defaults - without) / 1e6:.2f} MB ({(defaults - without) / defaults:.0%}).")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Versions and machine


def first_line(cmd, cwd=None):
    res = run(cmd, timeout=60, cwd=cwd)
    return res.output.strip().splitlines()[0] if res.rc == 0 and res.output.strip() else "?"


def lock_version(lock_path, package):
    text = Path(lock_path).read_text() if Path(lock_path).exists() else ""
    m = re.search(rf'name = "{re.escape(package)}"\nversion = "([^"]+)"', text)
    return m.group(1) if m else "?"


def machine():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return f"{os.cpu_count()} cores (`nproc`), {mem_kb / 1024 / 1024:.1f} GiB RAM, CPU: {cpu}"


# ---------------------------------------------------------------------------------------------
# Markdown


def fmt_s(xs, digits=2):
    return f"{p50(xs):.{digits}f}"


def fmt_range(xs, digits=2):
    return f"{min(xs):.{digits}f}–{max(xs):.{digits}f}"


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def fmt_load(xs):
    """Mean and max of other processes' CPU use during the samples, in cores."""
    return f"{statistics.mean(xs):.2f} (max {max(xs):.2f})" if xs else "—"


def gib(kb):
    return f"{kb / 1024 / 1024:.2f} GiB"


def md_plugin_speed(speeds):
    out = []
    for sp in speeds:
        s = sp["samples"]
        base = p50(s["protoc"])
        out.append(f"### Plugin speed ({sp['tier']} tier, {plural(sp['reps'], 'rep')} each, alternated)\n")
        out.append("| run | wall p50 (s) | min–max (s) | p50 minus protoc alone (s) | peak RSS | others' CPU |")
        out.append("|---|---:|---:|---:|---:|---:|")
        rows = [("protoc alone (`--descriptor_set_out`)", "protoc"),
                ("rgrpc (`--rgrpc_out`, defaults)", "rgrpc"),
                ("peer (`--prost_out` + `--tonic_out`)", "peer")]
        for label, k in rows:
            extra = "—" if k == "protoc" else f"{p50(s[k]) - base:.2f}"
            out.append(f"| {label} | {fmt_s(s[k])} | {fmt_range(s[k])} | {extra} | {gib(sp['rss'][k])} | "
                       f"{fmt_load(sp['foreign'][k])} |")
        r_all = p50(s["rgrpc"]) / p50(s["peer"])
        peer_plugin = p50(s["peer"]) - base
        r_plugin = (p50(s["rgrpc"]) - base) / peer_plugin if peer_plugin > 0 else float("nan")
        out.append(f"\nrgrpc / peer: **{r_all:.2f}×** wall time; **{r_plugin:.2f}×** for the plugins "
                   f"alone (each p50 minus protoc's).\n")
    return "\n".join(out)


def md_lines(lines_by_tier):
    out = ["### Generated lines\n",
           "Lines as `wc -l` counts them, of the `.rs` files written (rgrpc's include file left "
           "out). The same messages take more lines in rgrpc's files: they are formatted by "
           "prettyplease and spell `::rgrpc::prost::…`, which wraps more, where protoc-gen-prost "
           "writes prost-build's unformatted output with `::prost::…` paths.\n",
           "| tier | generator | files | total | messages | services | services share |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for tier, ln in lines_by_tier.items():
        r, p = ln["rgrpc"], ln["peer"]
        r_svc = r["total"] - r["messages"]
        out.append(f"| {tier} | rgrpc (defaults) | {r['files']} | {r['total']:,} | {r['messages']:,} | "
                   f"{r_svc:,} | {r_svc / r['total']:.0%} |")
        out.append(f"| {tier} | peer (prost + tonic) | {p['files']} | {p['total']:,} | {p['messages']:,} | "
                   f"{p['services']:,} | {p['services'] / p['total']:.0%} |")
    out.append("\nrgrpc's service code by kind (each generated alone with the messages, minus the "
               "messages):\n")
    out.append("| tier | async client | blocking client | server | peer's tonic code (client + server) |")
    out.append("|---|---:|---:|---:|---:|")
    for tier, ln in lines_by_tier.items():
        r = ln["rgrpc"]
        out.append(f"| {tier} | {r['async client']:,} | {r['blocking client']:,} | {r['server']:,} | "
                   f"{ln['peer']['services']:,} |")
    return "\n".join(out) + "\n"


def md_compile(results):
    out = []
    for cc in results:
        s = cc["samples"]
        out.append(f"### Compile cost ({cc['tier']} tier, {cc['profile']}, {plural(cc['reps'], 'rep')} each, "
                   f"alternated)\n")
        out.append("| crate | build p50 (s) | min–max (s) | peak RSS | warnings | others' CPU |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for kind in CRATE_KINDS:
            if kind in cc["failed"]:
                out.append(f"| {KIND_LABEL[kind]} | **build failed** | | | | |")
                continue
            out.append(f"| {KIND_LABEL[kind]} | {fmt_s(s[kind], 1)} | {fmt_range(s[kind], 1)} | "
                       f"{gib(cc['rss'][kind])} | {cc['warnings'].get(kind, 0)} | "
                       f"{fmt_load(cc['foreign'][kind])} |")
        if not cc["failed"]:
            r, t, m = p50(s["rgrpc"]), p50(s["tonic"]), p50(s["messages"])
            svc = (r - m) / (t - m) if t > m else float("nan")
            out.append(f"\nrgrpc / peer: **{r / t:.2f}×** in total; services only "
                       f"(crate minus messages-only): rgrpc {r - m:.1f} s vs peer {t - m:.1f} s = "
                       f"**{svc:.2f}×**.\n")
        else:
            for kind, errs in cc["failed"].items():
                out.append(f"\n{KIND_LABEL[kind]} failed to build; first errors:\n")
                out.append("```\n" + "\n\n".join(e[:1500] for e in errs) + "\n```\n")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--corpus-version", required=True)
    ap.add_argument("--peer-versions", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-release", action="store_true")
    ap.add_argument("--breakdown", action="store_true")
    args = ap.parse_args()
    b = Bench(args)
    b.work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    if b.quick:
        speed_tiers, speed_reps = [("small", 2)], None
        compile_tier, debug_reps, release_reps = "small", 1, 0
    else:
        speed_tiers = [("medium", 7), ("large", 5)]
        compile_tier, debug_reps, release_reps = "medium", 3, 2
    if args.no_release:
        release_reps = 0

    # Versions first: the workspace may move on (commits, edits) while the run goes on.
    versions = {
        "protoc": first_line([b.protoc, "--version"]),
        "rustc": first_line(["rustc", "--version"]),
        "cargo": first_line(["cargo", "--version"]),
        "rgrpc commit": first_line(["git", "rev-parse", "--short", "HEAD"], cwd=b.root),
        "rgrpc dirty": run(["git", "status", "--porcelain", "--", "protoc-gen-rgrpc", "runtime"],
                           timeout=60, cwd=b.root).output.strip() != "",
    }

    tiers = {t: b.tier_files(t) for t, _ in speed_tiers}
    stats = {t: b.tier_stats(t, f) for t, f in tiers.items()}

    t0 = time.monotonic()
    speeds = []
    for tier, reps in speed_tiers:
        speeds.append(plugin_speed(b, tier, tiers[tier], reps))
    b.timings["plugin speed"] = time.monotonic() - t0

    t0 = time.monotonic()
    lines = {tier: generated_lines(b, tier, tiers[tier]) for tier, _ in speed_tiers}
    b.timings["generated lines"] = time.monotonic() - t0

    # Crates: generated fresh every run; dependencies built once (setup, untimed).
    t0 = time.monotonic()
    crates = prepare_crates(b, compile_tier, tiers[compile_tier])
    profiles = [("debug", debug_reps)] + ([("release", release_reps)] if release_reps else [])
    for profile, _ in profiles:
        for kind in CRATE_KINDS:
            log(f"dependencies of the {kind} crates ({profile}): building if missing")
            ensure_deps(b, crates[kind], profile)
    b.timings["compile setup (dependencies)"] = time.monotonic() - t0

    compiles = []
    for profile, reps in profiles:
        t0 = time.monotonic()
        compiles.append(compile_cost(b, compile_tier, crates, profile, reps))
        b.timings[f"compile {profile}"] = time.monotonic() - t0

    breakdown_md = ""
    if args.breakdown:
        t0 = time.monotonic()
        parts = prepare_breakdown(b, compile_tier, tiers[compile_tier])
        breakdown_md = md_breakdown(b, compile_tier, breakdown(b, parts), compiles, parts)
        b.timings["breakdown"] = time.monotonic() - t0

    lock = crates["tonic"]["dir"] / "Cargo.lock"
    rlock = crates["rgrpc"]["dir"] / "Cargo.lock"

    # ---- Markdown ----
    today = datetime.date.today().isoformat()
    mode = "quick (`--quick`: tiny tier, proof of function only)" if b.quick else "full"
    flags = "".join(f" --{k.replace('_', '-')}" for k in ("quick", "no_release", "breakdown")
                    if getattr(args, k))
    md = [f"## Code generation and compile cost ({mode})\n",
          f"{today} · {machine()} · `bench/codegen/run.sh{flags}` · "
          f"rgrpc at `{versions['rgrpc commit']}`"
          f"{' (with uncommitted changes to protoc-gen-rgrpc/ or runtime/)' if versions['rgrpc dirty'] else ''}\n",
          "### Setup/recipe\n",
          f"* Corpus: the googleapis tree from `npm pack google-proto-files@{b.corpus_version}` "
          f"(extracted to `target/bench-codegen/package/`, `-I package`). Tiers:"]
    for tier, st in stats.items():
        src = (f"`/work/shared/bench-corpus/{tier}.txt`" if tier != "small"
               else "`google/pubsub/v1/*.proto` and their imports (well-known types left out)")
        md.append(f"  * {tier}: {src}: {st['files']} files, {st['packages']} packages, "
                  f"{st['services']:,} services, {st['methods']:,} methods, {st['messages']:,} messages.")
    md += [f"* protoc: `{versions['protoc']}` (the vendored one, through `rgrpc-protoc`, which adds "
           f"`-I` for the well-known types).",
           f"* rgrpc: `target/release/protoc-gen-rgrpc` (`cargo build --release -p protoc-gen-rgrpc`), "
           f"default parameters.",
           f"* Peer: {b.peer_versions}, `cargo install --locked --root target/bench-codegen/tools`. "
           f"protoc-gen-tonic 0.5.0 is built on tonic-build 0.14 and emits `tonic_prost::ProstCodec`, "
           f"i.e. code for tonic 0.14 + tonic-prost, so no tonic-prost-build stand-in was needed. "
           f"Both run in one protoc call (`--prost_out` + `--tonic_out`, tonic inserts its "
           f"`include!` into prost's file), defaults (messages, client with transport's `connect`, "
           f"server), `flat_output_dir` on both.",
           f"* Crates: prost {lock_version(lock, 'prost')}, prost-types "
           f"{lock_version(lock, 'prost-types')}, tonic {lock_version(lock, 'tonic')}, tonic-prost "
           f"{lock_version(lock, 'tonic-prost')} (the workspace's `Cargo.lock`; rgrpc's crate: "
           f"tonic {lock_version(rlock, 'tonic')}, prost {lock_version(rlock, 'prost')}); "
           f"{versions['rustc']}; {versions['cargo']}.\n"]
    md.append(md_plugin_speed(speeds))
    md.append(md_lines(lines))
    md.append(md_compile(compiles))
    if breakdown_md:
        md.append(breakdown_md)
    md.append("### How measured\n")
    md.append(
        "Plugin speed: one protoc invocation over the tier's whole file list, output to a fresh "
        "folder, wall time by `time.perf_counter` around the process; the three runs (rgrpc, "
        "peer, protoc alone) alternate within each rep after one unmeasured warm-up of each. "
        "\"Minus protoc alone\" subtracts the p50 of a run that only parses and writes "
        "`--descriptor_set_out`, leaving the plugins' own time (the peer runs two plugins, which "
        "protoc runs in turn). Compile cost: three throwaway crates under "
        "`target/bench-codegen/crates/` (lib.rs is `pub mod proto { include!(\"gen/mod.rs\"); }`: "
        "rgrpc's `include_file=mod.rs`, and for the peer a module tree written by the harness), "
        "edition 2021, each with its own `CARGO_TARGET_DIR` under `target/bench-codegen/"
        "cargo-target/` and its dependencies built beforehand (untimed). Each measured build is "
        "`cargo clean -p <crate>` (the crate's artifacts and incremental data) and then a timed "
        "`cargo build` (or `--release`) of the crate alone, default profiles (debug is "
        "incremental, as a user's first build is); the crates alternate within each rep; a rep "
        "in which cargo rebuilt a dependency is discarded and redone. Peak RSS is `ru_maxrss` "
        "from `wait4` (the largest process of the tree, rustc; what `/usr/bin/time -v` reports). "
        "Services-only ratio = (rgrpc − messages) / (peer − messages). Note that rgrpc's "
        "defaults include a blocking client, which the peer has no counterpart for. The machine "
        "may be shared with other work: each sample starts after waiting (at most "
        f"{b.quiet_wait_plugin} s for plugin runs, {b.quiet_wait_build} s for builds) for a "
        "second in which other processes used < 0.3 cores, "
        "and \"others' CPU\" is the CPU other processes used during the samples (from "
        "`/proc/stat` minus the command's own rusage), in cores of the 2: near 0 means the "
        "figures are clean.")
    md.append("\nSection times: " + ", ".join(f"{k} {v:.0f} s" for k, v in b.timings.items())
              + f"; harness total {time.monotonic() - started:.0f} s.\n")
    if b.notes:
        md.append("Problems:\n\n" + "\n".join(f"* {n}" for n in b.notes) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
