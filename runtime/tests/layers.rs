//! The runtime's modules form layers: each uses only the layers above it (ARCHITECTURE.md).
//! Checked here from the source, so that a circle cannot come back unnoticed.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Top to bottom: a module may use the modules of its own layer and of the layers before it.
/// Items of the crate root (`crate::init`, `crate::Error`, ...) are the top, used by anyone.
const LAYERS: &[&[&str]] = &[
    &["ids", "tag"],
    &["context", "sampler"],
    &["local"],
    &["metrics", "tracer"],
    &["report", "host", "propagation"],
    &["config", "error", "testing"],
    &["http", "bridge", "rustracing", "__private", "private"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The first segment of every `crate::x` a file's code (not its comments or tests) names.
fn uses(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let name: String = line[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn visit(dir: &Path, top: Option<&str>, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() {
            visit(&path, Some(top.unwrap_or(&name)), out);
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "tests" {
            let module = top.unwrap_or(&name).to_owned();
            out.push((module, fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_above_it() {
    let mut files = Vec::new();
    visit(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        None,
        &mut files,
    );
    assert!(files.len() > 20, "the sources were found");
    let mut upward = Vec::new();
    for (module, source) in &files {
        let Some(own) = layer_of(module) else {
            panic!("module `{module}` is in no layer: add it to LAYERS and ARCHITECTURE.md");
        };
        for used in uses(source) {
            if let Some(theirs) = layer_of(&used) {
                if theirs > own {
                    upward.push(format!("{module} uses {used}"));
                }
            }
        }
    }
    assert!(upward.is_empty(), "imports from a lower layer: {upward:?}");
}
