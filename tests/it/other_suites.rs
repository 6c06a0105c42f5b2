//! Other crates' own suites of tricky function shapes, run through `#[traced]`: async-trait's
//! test suite (its `tests/test.rs` as published on crates.io, 1,700 lines of every method shape
//! its users write) with `#[traced]` added to every `#[async_trait]` impl block, once before and
//! once after `#[async_trait]`. Each must still compile without a warning of ours and pass its
//! own tests.
//!
//! The suite is read from cargo's copy of the published crate and compiled as a crate generated
//! under `target/other-suites/` (with its own target directory: the outer `cargo test` holds the
//! workspace's), so nothing of async-trait's is kept in this repository.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory cargo unpacked the locked version of `package` into.
fn package_dir(package: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(workspace)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let manifest = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == package)
        .and_then(|p| p["manifest_path"].as_str())
        .unwrap_or_else(|| panic!("{package} is in the workspace's graph"));
    Path::new(manifest).parent().unwrap().to_owned()
}

/// `source` with `#[traced::traced]` on every `#[async_trait]` impl block, before or after it.
fn traced_impls(source: &str, traced_first: bool) -> (String, usize) {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = Vec::with_capacity(lines.len() + 100);
    let mut added = 0;
    for (i, line) in lines.iter().enumerate() {
        let next = lines.get(i + 1).map_or("", |l| l.trim_start());
        let is_impl = next.starts_with("impl") || next.starts_with("unsafe impl");
        if line.trim_start().starts_with("#[async_trait") && is_impl {
            let indent = &line[..line.len() - line.trim_start().len()];
            let traced = format!("{indent}#[traced::traced]");
            if traced_first {
                out.extend([traced, (*line).to_owned()]);
            } else {
                out.extend([(*line).to_owned(), traced]);
            }
            added += 1;
        } else {
            out.push((*line).to_owned());
        }
    }
    (out.join("\n"), added)
}

#[test]
fn async_traits_own_suite_passes_with_traced_on_every_impl_in_either_order() {
    let async_trait = package_dir("async-trait");
    let suite = std::fs::read_to_string(async_trait.join("tests/test.rs"))
        .expect("the published crate carries its tests");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let root = workspace.join("target/other-suites/async-trait");
    std::fs::create_dir_all(root.join("tests/executor")).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::copy(
        async_trait.join("tests/executor/mod.rs"),
        root.join("tests/executor/mod.rs"),
    )
    .unwrap();
    std::fs::write(root.join("src/lib.rs"), "").unwrap();
    let version = async_trait
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("async-trait-"))
        .unwrap()
        .to_owned();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            r#"[package]
name = "async-trait-suite"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
async-trait = "={version}"
traced = {{ path = {runtime:?} }}

[dev-dependencies]
futures = "0.3"
rustversion = "1"
tracing = "0.1"
tracing-attributes = "0.1"

[lints.rust]
unexpected_cfgs = {{ level = "allow" }}

[workspace]
"#,
            runtime = workspace.join("runtime").display().to_string(),
        ),
    )
    .unwrap();
    // The workspace's versions, so that the run needs no new downloads.
    std::fs::copy(workspace.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    for (name, traced_first) in [("traced_first", true), ("async_trait_first", false)] {
        let (source, added) = traced_impls(&suite, traced_first);
        assert!(added > 50, "impl blocks found: {added}");
        let source = source.replace(
            "pub mod executor;",
            "#[path = \"executor/mod.rs\"]\npub mod executor;",
        );
        std::fs::write(root.join(format!("tests/{name}.rs")), source).unwrap();
    }
    let output = Command::new(env!("CARGO"))
        .args(["test", "--tests", "--quiet"])
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env("RUSTFLAGS", "-D warnings")
        .current_dir(&root)
        .output()
        .expect("cargo test runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // Both orders ran their tests (the rest of the suite is what must compile).
    let passed = stdout
        .lines()
        .filter(|l| l.starts_with("test result: ok.") && !l.contains(" 0 passed"))
        .count();
    assert_eq!(passed, 2, "{stdout}");
}
