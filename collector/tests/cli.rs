//! The command line: `show` prints a trace's waterfall from a running collector, `export` writes
//! its Jaeger JSON file, and mistakes are clear errors.

mod common;
#[cfg(unix)]
mod serve;

use std::process::Command;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_traced-collector"))
}

#[test]
fn show_and_export_a_trace_from_a_running_collector() {
    let (_runtime, collector, trace_id) = common::collector_with_a_trace();
    let query = collector.query_addr().to_string();

    let out = cli()
        .args(["show", &trace_id, "--query", &query, "--width", "100"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("trace {trace_id}"));
    assert!(
        lines[1].contains("services 1")
            && lines[1].contains("depth 2")
            && lines[1].contains("spans 2"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("gallery-api HTTP GET /v0/images"),
        "{text}"
    );
    assert!(
        lines[4].starts_with("  gallery-api get_all_images"),
        "{text}"
    );
    assert!(
        lines[4].contains('█') && lines[4].contains("✗ error"),
        "{text}"
    );
    assert!(
        lines[4].contains("◀ slowest"),
        "the 30 ms query is where the time went: {text}"
    );

    let dir = std::env::temp_dir().join(format!("traced-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("trace.json");
    let out = cli()
        .args(["export", &trace_id, "--query", &query, "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["data"][0]["traceID"], trace_id.as_str());
    assert_eq!(json["data"][0]["spans"].as_array().unwrap().len(), 2);
    assert_eq!(
        collector
            .export(trace_id.parse().unwrap())
            .map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap()),
        Some(json),
        "the CLI and the library export the same file"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let missing = cli()
        .args([
            "show",
            "0000000000000000000000000000abcd",
            "--query",
            &query,
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("trace 0000000000000000000000000000abcd not found")
    );
    let unknown = cli().args(["serve", "--colour", "blue"]).output().unwrap();
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown option --colour"));
}

#[test]
fn an_answer_into_a_closed_pipe_ends_quietly() {
    // `traced-collector --help | head -0`: the reader is gone before the first byte. `show`,
    // `export`, `latency` and `why` answer through the same writer.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = cli()
        .arg("--help")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(stderr.is_empty(), "no panic, no message: {stderr}");
}

#[cfg(unix)]
#[test]
fn a_serving_collector_outlives_whoever_reads_its_output() {
    let (mut child, lines) = serve::serve("0");
    // The reader goes; the collector's next lines, and its last on Ctrl-C, go nowhere.
    drop(lines);
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: `kill` with a child's pid and a signal number has no memory effects here.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "stopped by Ctrl-C, not by a write to a closed pipe: {status}"
    );
}
