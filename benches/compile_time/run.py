#!/usr/bin/env python3
"""Compile-time benchmark: what an annotation costs at every build.

Generates the same N functions (half `f` calling the other half `g`; async and sync, `Result` and
plain returns, some with two tags, some with a `Context` parameter) as crates under
target/compile-bench/: plain code, `#[tracing::instrument(skip_all)]`, `#[fastrace::trace]` (with
its `enable` feature, as an application that traces turns it on; without it the attribute expands
to nothing) and `#[traced]` (this repository's runtime/), and the floor under all of them: plain
code whose functions each begin a bare guard, ended when it is dropped (what finishing a span
however the function returns needs at the least, with no name, clock or scope). Dependencies are
prebuilt; then rounds of debug and release rebuilds of each crate (`touch src/lib.rs`,
`CARGO_INCREMENTAL=0 cargo build`) are interleaved and their medians printed side by side, with
the expanded line count, the number of mono items (functions codegen had to compile), and where
rustc spent the time (`-Ztime-passes` under RUSTC_BOOTSTRAP=1, one build each).

    python3 benches/compile_time/run.py [--n 600] [--rounds 3] [--variants plain,traced] [--application]

`--application` adds a `run_all` that calls every `f` and drives its future to the end, as an
application's code and executor would. Without it the crate is a library nobody calls, and in a
release build rustc compiles none of plain's 600 functions there (they are small enough to be
cross-crate inlinable: compiled in the crates that call them, so the plain release row measures
parsing and type checking only); with it every variant compiles every function.

`--traced before=/tmp/old/runtime --traced after=runtime` measures two checkouts of traced side
by side in the same interleaved rounds (variants `traced-before`, `traced-after`).

The crates build into their own target dir (target/compile-bench/target), so the workspace's
build is not touched. Timings on a shared machine are noisy: compare medians of one run.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "compile-bench"
TARGET = OUT / "target"
# RUSTC_BOOTSTRAP changes what some build scripts (proc-macro2's) emit, so cargo rebuilds every
# dependency when it flips: the -Z analyses build in a target dir of their own.
TARGET_Z = OUT / "target-z"
VARIANTS = ["plain", "floor", "tracing", "fastrace", "traced"]
LABELS = {
    "plain": "plain",
    "floor": "floor: plain + a bare guard",
    "tracing": "#[tracing::instrument(skip_all)]",
    "fastrace": "#[fastrace::trace]",
    "traced": "#[traced]",
}


def kind(variant):
    """`traced-before` is a `traced` variant."""
    return variant.split("-")[0]


def label(variant):
    if variant.startswith("traced-"):
        return f"#[traced] ({variant[len('traced-'):]})"
    return LABELS[variant]

# The passes worth showing, as -Ztime-passes names them, and a short label.
PASSES = [
    ("macro_expand_crate", "expand"),
    ("type_check_crate", "typeck"),
    ("MIR_borrow_checking", "borrowck"),
    ("monomorphization_collector_graph_walk", "mono collect"),
    ("codegen_to_LLVM_IR", "to LLVM IR"),
    ("LLVM_passes", "LLVM"),
    ("link", "link"),
    ("total", "total"),
]


def dependency(variant, traced):
    variant = kind(variant)
    if variant == "tracing":
        return 'tracing = { version = "0.1", default-features = false, features = ["std", "attributes"] }\n'
    if variant == "fastrace":
        return 'fastrace = { version = "0.7", features = ["enable"] }\n'
    if variant == "traced":
        return f'traced = {{ path = "{traced}" }}\n'
    return ""


def attribute(variant, i, tagged):
    """The annotation of function number `i`; tags are one literal and one computed value."""
    variant = kind(variant)
    if variant in ("plain", "floor"):
        return ""
    if variant == "tracing":
        fields = ', fields(db.type = "mongo", n = x)' if tagged else ""
        return f"#[tracing::instrument(skip_all{fields})]\n"
    if variant == "fastrace":
        props = ' properties = { "db.type": "mongo", "n": "{x}" }' if tagged else ""
        return f"#[fastrace::trace({props.strip()})]\n"
    tags = '(tags(db.type = "mongo", n = x))' if tagged else ""
    return f"#[traced{tags}]\n"


def function(variant, name, i, callee):
    """`f{i}` calls `g{i}`; `g{i}` computes. The shape depends on `i` only, so every variant has
    the same bodies."""
    is_async = i % 2 == 0
    is_result = (i // 2) % 2 == 0
    tagged = i % 3 == 0
    with_cx = i % 5 == 0
    params = ("cx: &Context, " if with_cx else "") + "x: u64"
    ret = "Result<u64, Error>" if is_result else "u64"
    asyncness = "async " if is_async else ""
    # The floor's guard, first in the body as a span's would be: for an async function, in its
    # future, alive across its `.await`.
    guard = "    let _span = Guard::begin();\n" if kind(variant) == "floor" else ""
    if callee is None:
        use_cx = "    let _ = cx;\n" if with_cx else ""
        value = f"x.wrapping_mul(3).wrapping_add({i})"
        if is_result:
            body = use_cx + f'    if x > 1_000_000 {{\n        return Err(Error("too large"));\n    }}\n    Ok({value})\n'
        else:
            body = use_cx + f"    {value}\n"
    else:
        args = ("cx, " if with_cx else "") + "x"
        call = f"{callee}({args})" + (".await" if is_async else "")
        body = f"    let y = {call}?;\n    Ok(y + 1)\n" if is_result else f"    {call} + 1\n"
    return f"{attribute(variant, i, tagged)}pub {asyncness}fn {name}({params}) -> {ret} {{\n{guard}{body}}}\n"


def handler(i, name):
    """An entry of `HANDLERS` calling `name` (function number `i`) once."""
    is_async = i % 2 == 0
    is_result = (i // 2) % 2 == 0
    with_cx = i % 5 == 0
    call = f"{name}({'&Context::default(), ' if with_cx else ''}{i})"
    if is_async:
        call = f"block_on({call})"
    if is_result:
        call = f"{call}.unwrap_or(0)"
    return f"    || {call},\n"


# Each call in a function of its own, as an application's handlers are: one function calling all
# 300 would be inlined into one huge function, which LLVM optimises in superlinear time.
APPLICATION = """
/// Drives a future to the end on this thread (every future here is ready at its first poll).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Calls every `f` once, as an application would: so every function is compiled here.
pub fn run_all() -> u64 {
    HANDLERS.iter().fold(0, |sum, handler| sum.wrapping_add(handler()))
}

/// One handler per `f`.
pub static HANDLERS: &[fn() -> u64] = &[
"""


# The least that any span costs, whatever the library: a value made by one call at the start of
# the body and ended by one call in its drop, which also runs when the body unwinds (a span is
# finished however its function returns). No name, no clock, no scope entered around each poll.
FLOOR_GUARD = """/// Stands for the least a span can be: begun by one call, ended by one call when dropped.
pub struct Guard(u8);
impl Guard {
    #[inline(never)]
    pub fn begin() -> Guard {
        Guard(0)
    }
}
impl Drop for Guard {
    #[inline(never)]
    fn drop(&mut self) {
        std::hint::black_box(self.0);
    }
}
"""


def source(variant, n, application=False):
    head = ["//! Generated by benches/compile_time/run.py; do not edit.\n"]
    if kind(variant) == "traced":
        head.append("use traced::{traced, Context};\n")
    else:
        head.append("/// Stands for traced's `Context` parameter: passed along, not traced.\n")
        head.append("#[derive(Clone, Default)]\npub struct Context;\n")
    head.append(
        "#[derive(Debug)]\npub struct Error(&'static str);\n"
        "impl std::fmt::Display for Error {\n"
        "    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {\n"
        "        f.write_str(self.0)\n    }\n}\n"
        "impl std::error::Error for Error {}\n"
    )
    if kind(variant) == "floor":
        head.append(FLOOR_GUARD)
    funcs = []
    for i in range(n // 2):
        funcs.append(function(variant, f"g{i}", i, None))
        funcs.append(function(variant, f"f{i}", i, f"g{i}"))
    text = "".join(head) + "\n" + "\n".join(funcs)
    if application:
        text += APPLICATION + "".join(handler(i, f"f{i}") for i in range(n // 2)) + "];\n"
    return text


def generate(variant, n, traced, application=False):
    crate = OUT / variant
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(
        f'[package]\nname = "bench-{variant}"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
        # Its own workspace: target/ is inside the repository's workspace directory.
        f"[workspace]\n\n[dependencies]\n{dependency(variant, traced)}"
    )
    src = crate / "src" / "lib.rs"
    text = source(variant, n, application)
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    # The repository's lock file: the same dependency versions as the workspace, no resolution.
    if not (crate / "Cargo.lock").exists():
        shutil.copy(ROOT / "Cargo.lock", crate / "Cargo.lock")
    return crate


def cargo(crate, args, capture=False, bootstrap=False):
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET), CARGO_INCREMENTAL="0")
    if bootstrap:
        env.update(RUSTC_BOOTSTRAP="1", CARGO_TARGET_DIR=str(TARGET_Z))
    return subprocess.run(
        ["cargo", args[0], "--quiet", *args[1:]],
        cwd=crate,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )


def release_flag(profile):
    return ["--release"] if profile == "release" else []


def rebuild(crate, profile):
    # Dependencies first, off the clock: a path dependency edited meanwhile is not timed.
    cargo(crate, ["build", *release_flag(profile)])
    (crate / "src" / "lib.rs").touch()
    start = time.perf_counter()
    cargo(crate, ["build", *release_flag(profile)])
    return time.perf_counter() - start


def expanded_lines(crate):
    (crate / "src" / "lib.rs").touch()
    out = cargo(crate, ["rustc", "--lib", "--", "-Zunpretty=expanded"], capture=True, bootstrap=True)
    return out.stdout.count("\n")


def mono_items(crate):
    """The functions codegen instantiated for this crate in a debug build, by name."""
    (crate / "src" / "lib.rs").touch()
    out = cargo(crate, ["rustc", "--lib", "--", "-Zprint-mono-items=yes"], capture=True, bootstrap=True)
    return [line[len("MONO_ITEM fn ") :] for line in out.stdout.splitlines() if line.startswith("MONO_ITEM fn ")]


def generic_path(item):
    """`<A<u8> as T>::f::<X> @@ cgu[...]` as `<A as T>::f`: the instantiations of one function
    counted together, and the generated `f12`, `g7` as `fN`, `gN`."""
    item = item.split(" @@ ")[0]
    out, depth = [], 0
    for ch in item:
        if ch == "<" and out and out[-1] not in " (<":
            depth += 1
            continue
        if depth:
            depth += ch == "<"
            depth -= ch == ">"
            continue
        out.append(ch)
    path = re.sub(r" - shim\(.*", "", "".join(out))
    path = re.sub(r"::$", "", path)
    return re.sub(r"\b([fg])\d+\b", r"\1N", path)


def top_items(items, count):
    tally = {}
    for item in items:
        key = generic_path(item)
        tally[key] = tally.get(key, 0) + 1
    return sorted(tally.items(), key=lambda kv: -kv[1])[:count]


def time_passes(crate, profile):
    """Seconds per pass, by the names -Ztime-passes prints."""
    (crate / "src" / "lib.rs").touch()
    out = cargo(
        crate, ["rustc", "--lib", *release_flag(profile), "--", "-Ztime-passes"], capture=True, bootstrap=True
    )
    seconds = {}
    for line in out.stderr.splitlines():
        m = re.match(r"time:\s+([\d.]+);.*?\s(\S+)$", line)
        if m and m.group(2) not in seconds:
            seconds[m.group(2)] = float(m.group(1))
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=600, help="annotated functions per crate (even)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of rebuilds")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    parser.add_argument(
        "--traced",
        action="append",
        metavar="[LABEL=]PATH",
        help="the traced crate to measure (a checkout's runtime/; default: this one); repeat to compare",
    )
    parser.add_argument(
        "--top", type=int, default=0, help="also list the N most instantiated functions of each variant"
    )
    parser.add_argument("--no-release", action="store_true", help="debug rebuilds only")
    parser.add_argument(
        "--application", action="store_true", help="also call every function, as an application does"
    )
    opts = parser.parse_args()
    traced = {}
    for spec in opts.traced or [str(ROOT / "runtime")]:
        name, _, path = spec.rpartition("=")
        if not re.fullmatch(r"[A-Za-z0-9_-]*", name):
            sys.exit(f"a label is letters, digits, - and _ (it names a crate): {name!r}")
        traced["traced-" + name if name else "traced"] = Path(path).resolve()
    if len(traced) != len(opts.traced or [None]) or (len(traced) > 1 and "traced" in traced):
        sys.exit("with more than one --traced, give each a distinct label: --traced LABEL=PATH")
    chosen = [v for v in opts.variants.split(",") if v]
    for v in chosen:
        if v not in VARIANTS:
            sys.exit(f"unknown variant {v!r}: expected some of {', '.join(VARIANTS)}")
    variants = [v for v in chosen if v != "traced"] + (list(traced) if "traced" in chosen else [])
    profiles = ["debug"] if opts.no_release else ["debug", "release"]

    crates = {v: generate(v, opts.n, traced.get(v), opts.application) for v in variants}
    print(f"{opts.n} functions per crate in {OUT}; prebuilding dependencies", file=sys.stderr)
    for v in variants:
        for p in profiles:
            cargo(crates[v], ["build", *release_flag(p)])
            cargo(crates[v], ["rustc", "--lib", *release_flag(p)], bootstrap=True)

    times = {(v, p): [] for v in variants for p in profiles}
    for r in range(opts.rounds):
        # Interleaved, and each round starts with a different variant, so that a slow spell of
        # the machine does not land on one variant.
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        for p in profiles:
            for v in order:
                t = rebuild(crates[v], p)
                times[(v, p)].append(t)
                print(f"round {r + 1}: {v:8} {p:7} {t:6.2f} s", file=sys.stderr)

    lines = {v: expanded_lines(crates[v]) for v in variants}
    monos = {v: mono_items(crates[v]) for v in variants}
    passes = {(v, p): time_passes(crates[v], p) for v in variants for p in profiles}

    median = {k: statistics.median(ts) for k, ts in times.items()}
    base = "plain" if "plain" in variants else variants[0]
    print()
    called = ", every one called (--application)" if opts.application else ""
    print(f"{opts.n} functions{called}, {opts.rounds} interleaved rounds, medians (all rounds in brackets)")
    print()
    header = "| variant |"
    rule = "| --- |"
    for p in profiles:
        header += f" {p} rebuild, s | x {base} |"
        rule += " ---: | ---: |"
    header += " expanded lines | mono items |"
    rule += " ---: | ---: |"
    print(header)
    print(rule)
    for v in variants:
        row = f"| {label(v)} |"
        for p in profiles:
            runs = " / ".join(f"{t:.2f}" for t in times[(v, p)])
            row += f" {median[(v, p)]:.2f} ({runs}) | {median[(v, p)] / median[(base, p)]:.2f} |"
        row += f" {lines[v]:,} | {len(monos[v]):,} |"
        print(row)
    for p in profiles:
        print()
        print(f"where the time goes, {p} (-Ztime-passes, one build each, seconds)")
        print()
        print("| variant | " + " | ".join(label for _, label in PASSES) + " |")
        print("| --- |" + " ---: |" * len(PASSES))
        for v in variants:
            cells = [passes[(v, p)].get(name) for name, _ in PASSES]
            print(f"| {label(v)} | " + " | ".join("-" if c is None else f"{c:.2f}" for c in cells) + " |")


    if opts.top:
        for v in variants:
            print()
            print(f"most instantiated functions, {label(v)} (debug, mono items)")
            print()
            for name, k in top_items(monos[v], opts.top):
                print(f"{k:6}  {name}")


if __name__ == "__main__":
    main()
