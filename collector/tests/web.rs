//! The web page in a real headless Chromium (Debian's `chromium`, installed by `.ci/test`): it
//! loads, searches by service, opens a trace, shows Jaeger's header and the waterfall, opens a
//! span's details; and a screenshot is saved under `target/`.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!("no chromium: `.ci/test` installs Debian's `chromium` package before the tests");
}

/// The page at `url` after its scripts ran, as Chromium serialises it.
fn dom(url: &str) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ])
        .output()
        .expect("runs chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn the_page_searches_opens_a_trace_and_shows_a_span() {
    let (_runtime, collector, trace_id) = common::collector_with_a_trace();
    let base = format!("http://{}", collector.query_addr());

    let results = dom(&format!("{base}/?service=gallery-api"));
    assert!(
        results.contains(&format!("data-trace-id=\"{trace_id}\"")),
        "{results}"
    );
    assert!(
        results.contains("gallery-api: HTTP GET /v0/images"),
        "{results}"
    );
    assert!(results.contains("2 spans"), "{results}");
    assert!(
        results.contains("class=\"result error"),
        "the errored trace is marked: {results}"
    );

    let span_id = collector
        .store()
        .trace(trace_id.parse().unwrap())
        .unwrap()
        .iter()
        .find(|s| s.operation_name == "get_all_images")
        .map(|s| format!("{:016x}", s.span_id))
        .unwrap();
    let trace = dom(&format!("{base}/?trace={trace_id}&span={span_id}"));
    let header = trace
        .split("id=\"trace-header\"")
        .nth(1)
        .expect("a trace header");
    assert!(header.contains(&trace_id), "{header}");
    assert!(trace.matches("class=\"span-row").count() == 2, "{trace}");
    assert!(
        trace.contains(&format!("data-span-id=\"{span_id}\"")),
        "{trace}"
    );
    let details = trace
        .split("id=\"span-details\"")
        .nth(1)
        .expect("span details");
    assert!(
        details.contains("db.statement") && details.contains("SELECT * FROM images"),
        "{details}"
    );
    assert!(
        details.contains("disk I/O error"),
        "the error log is shown: {details}"
    );

    let missing = dom(&format!("{base}/?trace=0000000000000000000000000000abcd"));
    assert!(
        missing.contains("Trace 0000000000000000000000000000abcd not found"),
        "{missing}"
    );

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("collector-trace.png");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
            "--window-size=1280,800",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("{base}/?trace={trace_id}&span={span_id}"))
        .output()
        .expect("runs chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture: {} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}
