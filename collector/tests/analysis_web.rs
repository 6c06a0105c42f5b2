//! The analysis on the web page, in a real headless Chromium (Debian's `chromium`, as
//! `tests/web.rs` uses it): the trace's waterfall marks the critical path with each span's time
//! on it; `/analysis` draws the service graph, the latency table, and the slow-versus-typical
//! ranking with its two flame graphs; screenshots are saved under `target/`.

mod agent;
mod analysis_traces;

use std::path::PathBuf;
use std::process::Command;

use analysis_traces::{base, thumbnails};
use traced::TraceId;
use traced_collector::Config;

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

fn headless(args: &[&str], url: &str) -> Vec<u8> {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("runs chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The page at `url` after its scripts ran, as Chromium serialises it.
fn dom(url: &str) -> String {
    String::from_utf8(headless(&["--dump-dom"], url)).expect("UTF-8")
}

fn screenshot(url: &str, name: &str, size: &str) {
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    headless(
        &[
            &format!("--window-size={size}"),
            &format!("--screenshot={}", shot.display()),
        ],
        url,
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture: {} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}

/// The element of `html` that starts at the first `marker`, up to its end tag `close`.
fn element<'a>(html: &'a str, marker: &str, close: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find(close).map_or(rest.len(), |end| end + close.len())]
}

#[test]
fn the_waterfall_marks_the_critical_path_with_each_spans_time_on_it() {
    let (_runtime, collector) = agent::start(Config::ephemeral());
    collector.store().add(thumbnails(base()));
    let trace = TraceId::new(0x16, 0);
    let url = format!("http://{}/?trace={trace}", collector.query_addr());

    let page = dom(&url);
    let thumbnail = element(
        &page,
        "data-span-id=\"0000000000000003\"",
        "</div></div></div>",
    );
    assert!(
        thumbnail.contains("data-critical-time=\"640000\"")
            && thumbnail.contains("cp 640.00ms")
            && thumbnail.contains("class=\"cp-seg\""),
        "{thumbnail}"
    );
    let read = element(
        &page,
        "data-span-id=\"0000000000000002\"",
        "</div></div></div>",
    );
    assert!(read.contains("data-critical-time=\"50000\""), "{read}");
    assert_eq!(
        page.matches("class=\"span-row critical\"").count(),
        3,
        "{page}"
    );

    screenshot(&url, "collector-critical-path.png", "1280,600");
}

#[test]
fn the_analysis_page_draws_the_service_graph_the_latency_table_and_the_slow_tails_cause() {
    let (_runtime, collector) = agent::start(Config::ephemeral());
    collector.store().add(thumbnails(base()));
    let url = format!(
        "http://{}/analysis?service=gallery-api&operation=GET%20%2Fthumbnail",
        collector.query_addr()
    );
    let page = dom(&url);

    let link = element(&page, "class=\"link\"", "</g>");
    for part in [
        "data-parent=\"gallery-api\"",
        "data-child=\"gallery-store\"",
        "data-calls=\"11\"",
        "data-errors=\"1\"",
        "11 calls, 1 failed",
    ] {
        assert!(link.contains(part), "{part} in {link}");
    }
    assert_eq!(page.matches("class=\"node\"").count(), 2, "{page}");

    let table = element(&page, "id=\"latency-table\"", "</table>");
    let rows: Vec<&str> = table.split("<tr class=\"pick").skip(1).collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[2].starts_with(
            " has-errors\" data-service=\"gallery-store\" data-operation=\"read_blob\""
        ) && rows[2].contains("10.0%")
            && rows[2].contains("50.00ms"),
        "{table}"
    );
    assert!(rows[0].contains("700.00ms"), "p95 of the API: {table}");

    let summary = element(&page, "id=\"why-summary\"", "</p>");
    assert!(
        summary.contains("1 slow request") && summary.contains("640.00ms between typical and slow"),
        "{summary}"
    );
    let causes = element(&page, "id=\"causes\"", "</table>");
    let first = element(causes, "class=\"cause\"", "</tr>");
    assert!(
        first.contains("data-operation=\"make_thumbnail\"")
            && first.contains("640.00ms of 640.00ms")
            && first.contains("100%"),
        "{causes}"
    );
    assert_eq!(causes.matches("class=\"cause\"").count(), 1, "{causes}");
    let slow = element(&page, "id=\"flame-slow\"", "id=\"flame-typical\"");
    let typical = element(&page, "id=\"flame-typical\"", "</section>");
    let frame = "data-frame=\"gallery-store make_thumbnail\"";
    assert!(slow.contains(frame), "{slow}");
    assert!(!typical.contains(frame), "{typical}");
    assert!(
        typical.contains("data-frame=\"gallery-store read_blob\""),
        "{typical}"
    );

    screenshot(&url, "collector-analysis.png", "1280,1000");
}
