//! The demo, run as a user runs it (`cargo run -p gallery`): three service processes and the
//! embedded collector, a burst of requests, a latency summary per endpoint against the budget,
//! the slowest trace as a waterfall across the three services, and its Jaeger JSON file; on
//! MongoDB as the README says to run it; and a demo that cannot start its services says why.

use std::process::Command;

#[cfg(feature = "mongodb")]
mod support {
    pub mod mongodb;
    pub mod python;
}

/// The demo on its embedded SQLite, whatever the environment says.
fn demo(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gallery"));
    command.args(args).env_remove("MONGODB_URI");
    command
}

#[test]
fn the_demo_runs_three_services_and_shows_the_slowest_trace() {
    let out = demo(&["--requests", "30"]).output().expect("runs the demo");
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
    let out = demo(&["--requests", "20", "--slow"])
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
    // Over all requests, not one trace: what the slow thumbnail requests wait on that the
    // typical ones do not is the image store's thumbnail, first in the ranking.
    let mut lines = text.lines();
    lines
        .find(|l| l.starts_with("why is it slow? gallery-api HTTP GET /v0/images/{id}/thumbnail"))
        .unwrap_or_else(|| panic!("an answer for the thumbnail endpoint: {text}"));
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with("  make_thumbnail (gallery-store): "),
        "{text}"
    );
    assert!(text.contains("/analysis"), "{text}");
    let file = text
        .lines()
        .find_map(|l| l.strip_prefix("Jaeger JSON of that trace (loads in Jaeger's UI): "))
        .expect("the JSON file's path");
    std::fs::remove_dir_all(std::path::Path::new(file).parent().unwrap()).unwrap();
}

#[test]
fn a_demo_whose_catalog_cannot_start_fails_naming_it() {
    // A MongoDB where none listens (with the `mongodb` feature the catalog gives up on it after
    // half a second; without, it refuses the variable at once).
    let demo = demo(&["--requests", "10"])
        .env(
            "MONGODB_URI",
            "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500",
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs the demo");
    // The data directory the demo's store made before the demo gave up (named by its pid).
    let data = std::env::temp_dir().join(format!("gallery-demo-{}", demo.id()));
    let out = demo.wait_with_output().expect("the demo ends");
    let _ = std::fs::remove_dir_all(&data);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("gallery: the catalog stopped before it answered"),
        "{err}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("latency per endpoint"),
        "no burst against services that are not there"
    );
}

#[test]
fn with_an_otlp_endpoint_the_services_report_there_over_otlp() {
    // An OTLP backend of the test's own: a traced-collector, taking OTLP on its OTLP port.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let backend = runtime
        .block_on(traced_collector::Collector::start(
            traced_collector::Config::ephemeral(),
        ))
        .expect("the backend starts");
    let endpoint = format!("http://{}", backend.otlp_http_addr().expect("an OTLP port"));
    let demo = demo(&["--requests", "10"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_TRACES_SAMPLER", "always_on")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs the demo");
    let data = std::env::temp_dir().join(format!("gallery-demo-{}", demo.id()));
    let out = demo.wait_with_output().expect("the demo ends");
    let _ = std::fs::remove_dir_all(&data);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("reporting over OTLP to the endpoint named by OTEL_EXPORTER_OTLP_ENDPOINT"),
        "{text}"
    );
    assert!(
        !text.contains("traced-collector: traces at"),
        "none embedded: {text}"
    );

    // Every service's spans arrived there, over OTLP (the instrumentation scope is OTLP's).
    let services = ["gallery-api", "gallery-catalog", "gallery-store"];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while backend.store().services().len() < services.len() && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let mut seen = backend.store().services();
    seen.sort();
    assert_eq!(seen, services);
    let (spans, by_otlp) = backend.store().scan(0, i64::MAX, |traces| {
        let spans: Vec<_> = traces.iter().flat_map(|t| t.iter()).collect();
        let by_otlp = spans
            .iter()
            .filter(|s| {
                s.tags.iter().any(|t| {
                    t.key == "otel.scope.name"
                        && t.value == traced_collector::model::Value::Str("traced".into())
                })
            })
            .count();
        (spans.len(), by_otlp)
    });
    assert!(spans > 0);
    assert_eq!(by_otlp, spans, "every span came over OTLP");
}

/// The README's way to run the demo on MongoDB (`MONGODB_URI`, and the database in
/// `GALLERY_MONGODB_DATABASE`): the images it seeds are records in that database.
#[cfg(feature = "mongodb")]
#[test]
fn the_demo_runs_on_mongodb_in_the_database_it_is_given() {
    use gallery::ImageRepository as _;
    use support::mongodb::{database_names, mongodb, unique_database};

    let server = mongodb();
    let database = unique_database("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_gallery"))
        .args(["--requests", "20"])
        .env("MONGODB_URI", &server.uri)
        .env("GALLERY_MONGODB_DATABASE", &database)
        .output()
        .expect("runs the demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "the catalog keeps its records in MongoDB (MONGODB_URI), database {database}"
        )),
        "{text}"
    );
    assert!(text.contains("◀ slowest"), "{text}");
    let file = text
        .lines()
        .find_map(|l| l.strip_prefix("Jaeger JSON of that trace (loads in Jaeger's UI): "))
        .expect("the JSON file's path");
    std::fs::remove_dir_all(std::path::Path::new(file).parent().unwrap()).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let repo = gallery::mongo::MongoRepository::connect(&server.uri, &database)
            .await
            .unwrap();
        let mut names: Vec<String> = repo
            .get_all_images()
            .await
            .unwrap()
            .into_iter()
            .map(|image| image.name)
            .collect();
        names.sort();
        assert_eq!(names, ["bird.png", "cat.png", "dog.png"]);
        repo.drop_database().await.unwrap();
        repo.close().await;
        assert!(!database_names(&server.uri).await.contains(&database));
    });
}
