//! The OTLP/HTTP port (4318 by default, OpenTelemetry's standard one): traced's `OtlpSink`
//! exports there as it would to any OTLP backend, and the trace comes back through the Jaeger
//! query API, parents, kinds, tags, errors and the W3C `tracestate` mapped as Jaeger v2 maps
//! them. `otlp_http: None` binds no such port.

mod agent;
mod serve;

use serde_json::Value;
use traced::report::{Batch, OtlpSink, Process, Sink};
use traced::testing::Capture;
use traced::{Context, SpanId, TraceId, traced};
use traced_collector::Config;

#[traced(kind = server, tags(http.method = "GET"))]
fn serve_image(cx: &Context) {
    let _ = cx;
    let _ = load_image();
}

#[traced(kind = client, tags(db.type = "disk"))]
fn load_image() -> Result<(), std::fmt::Error> {
    Err(std::fmt::Error)
}

fn tag<'a>(span: &'a Value, key: &str) -> &'a Value {
    span["tags"]
        .as_array()
        .and_then(|tags| tags.iter().find(|t| t["key"] == key))
        .map_or(&Value::Null, |t| &t["value"])
}

#[test]
fn an_otlp_export_to_the_otlp_port_is_served_by_the_query_api() {
    let (_runtime, collector) = agent::start(Config::ephemeral());
    let otlp = collector.otlp_http_addr().expect("an OTLP port");
    assert_ne!(otlp, collector.http_addr(), "a port of its own");

    let capture = Capture::install();
    let remote = Context::remote(
        TraceId::new(0x0af7_6519_16cd_43dd, 0x8448_eb21_1c80_319c),
        SpanId::new(0xb7ad_6b71_6920_3331),
        true,
    )
    .unwrap()
    .with_tracestate("rojo=00f067aa0ba902b7");
    serve_image(&remote);
    let spans = capture.take();
    drop(capture);
    let process = Process::new("image-service");
    OtlpSink::new(&format!("http://{otlp}/v1/traces"))
        .unwrap()
        .send(&Batch::new(&process, &spans))
        .expect("the collector accepts the export");

    let (status, answer) = agent::get(
        collector.query_addr(),
        "/api/traces/0af7651916cd43dd8448eb211c80319c",
    );
    assert_eq!(status, 200, "{answer:#}");
    let trace = &answer["data"][0];
    let found = trace["spans"].as_array().unwrap();
    assert_eq!(found.len(), 2, "{trace:#}");
    let named = |name: &str| {
        found
            .iter()
            .find(|s| s["operationName"] == name)
            .unwrap_or_else(|| panic!("{name} in {trace:#}"))
    };
    let (server, client) = (named("serve_image"), named("load_image"));
    let server_record = spans
        .iter()
        .find(|s| s.operation_name() == "serve_image")
        .unwrap();
    assert_eq!(
        server["spanID"],
        format!("{:016x}", server_record.span_id().get())
    );
    assert_eq!(server["references"][0]["refType"], "CHILD_OF");
    assert_eq!(server["references"][0]["spanID"], "b7ad6b7169203331");
    assert_eq!(client["references"][0]["spanID"], server["spanID"]);
    assert_eq!(
        trace["processes"][server["processID"].as_str().unwrap()]["serviceName"],
        "image-service"
    );
    assert_eq!(tag(server, "span.kind"), "server");
    assert_eq!(tag(server, "http.method"), "GET");
    assert_eq!(tag(server, "w3c.tracestate"), "rojo=00f067aa0ba902b7");
    assert_eq!(tag(server, "otel.scope.name"), "traced");
    assert_eq!(tag(client, "span.kind"), "client");
    assert_eq!(tag(client, "db.type"), "disk");
    assert_eq!(tag(client, "error"), true);
    assert_eq!(tag(client, "otel.status_code"), "ERROR");
    assert_eq!(client["logs"][0]["fields"][0]["value"], "exception");

    let stats = agent::get(collector.query_addr(), "/api/stats").1;
    assert_eq!(stats["rejected"], 0, "{stats:#}");
}

#[test]
fn no_otlp_port_is_bound_when_it_is_turned_off() {
    let (_runtime, collector) = agent::start(Config {
        otlp_http: None,
        ..Config::ephemeral()
    });
    assert_eq!(collector.otlp_http_addr(), None);
}

/// The second line `traced-collector serve` prints, started with `otlp` as its `--otlp-http`,
/// and the process (killed when the test is done with it).
fn serve_second_line(otlp: &str) -> (std::process::Child, String) {
    let (child, mut lines) = serve::serve(otlp);
    (child, lines.next().unwrap().unwrap())
}

#[test]
fn the_command_line_chooses_the_otlp_port_or_none() {
    let (mut child, line) = serve_second_line("0");
    let url = line
        .strip_prefix("traced-collector: OTLP/HTTP ")
        .unwrap_or_else(|| panic!("the OTLP port's line, not {line:?}"))
        .to_owned();
    let spans = {
        let capture = Capture::install();
        let _ = load_image();
        capture.take()
    };
    let sent = OtlpSink::new(&url)
        .unwrap()
        .send(&Batch::new(&Process::new("cli"), &spans));
    let _ = child.kill();
    let _ = child.wait();
    assert!(sent.is_ok(), "{url} takes OTLP: {sent:?}");

    let (mut child, line) = serve_second_line("off");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("traced-collector: udp "),
        "no OTLP port: {line}"
    );
}
