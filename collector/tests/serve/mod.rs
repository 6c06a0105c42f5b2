//! `traced-collector serve` as a process, on ephemeral ports, for the tests of its command line.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Starts `traced-collector serve` on ephemeral ports, with `otlp` as its `--otlp-http`, and
/// reads its first line; returns the process and the lines it prints after that one.
pub(crate) fn serve(otlp: &str) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_traced-collector"))
        .args([
            "serve",
            "--udp-compact",
            "0",
            "--udp-binary",
            "0",
            "--http",
            "0",
        ])
        .args(["--query", "0", "--otlp-http", otlp])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let first = lines.next().expect("a first line").expect("text");
    assert!(first.starts_with("traced-collector: agent udp"), "{first}");
    (child, lines)
}
