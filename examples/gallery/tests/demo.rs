//! The demo, run as a user runs it (`cargo run -p gallery`): three service processes and the
//! embedded collector, a burst of requests, a latency summary per endpoint against the budget,
//! the slowest trace as a waterfall across the three services, and its Jaeger JSON file.

#[test]
fn the_demo_runs_three_services_and_shows_the_slowest_trace() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gallery"))
        .args(["--requests", "30"])
        .output()
        .expect("runs the demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("traced-collector: traces at http://127.0.0.1:"),
        "{text}"
    );
    for endpoint in [
        "GET /v0/images ",
        "GET /v0/images/{id} ",
        "GET /v0/images/{id} (404)",
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(endpoint))
            .unwrap_or_else(|| panic!("a latency line for {endpoint}: {text}"));
        assert!(
            line.contains("p50") && line.contains("p95") && line.contains("p99"),
            "{line}"
        );
    }
    // The slowest request crosses the API and the catalog at least (an upload, usually the
    // slowest, the store too).
    assert!(
        text.contains("services 3") || text.contains("services 2"),
        "{text}"
    );
    assert!(text.contains("gallery-api HTTP "), "{text}");
    assert!(text.contains("◀ slowest"), "{text}");
    let file = text
        .lines()
        .find_map(|l| l.strip_prefix("Jaeger JSON of that trace (loads in Jaeger's UI): "))
        .expect("the JSON file's path");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("the file exists")).unwrap();
    assert!(
        json["data"][0]["processes"].as_object().unwrap().len() >= 2,
        "{json}"
    );
    let dir = std::path::Path::new(file).parent().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn with_slow_thumbnails_the_slowest_trace_points_at_making_the_thumbnail() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gallery"))
        .args(["--requests", "20", "--slow"])
        .output()
        .expect("runs the demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("GET /v0/images/{id}/thumbnail"), "{text}");
    let marked = text
        .lines()
        .find(|l| l.contains("◀ slowest"))
        .unwrap_or_else(|| panic!("a slowest span: {text}"));
    assert!(marked.contains("gallery-store make_thumbnail"), "{text}");
    let file = text
        .lines()
        .find_map(|l| l.strip_prefix("Jaeger JSON of that trace (loads in Jaeger's UI): "))
        .expect("the JSON file's path");
    std::fs::remove_dir_all(std::path::Path::new(file).parent().unwrap()).unwrap();
}
