//! What the collector's own tests share: a running collector holding one known trace of three
//! services, reported by traced's agent sink as a service would.

use std::time::Duration;

use traced::{Config, Sampler, traced};
use traced_collector::Collector;

#[traced(tags(db.type = "sqlite", db.statement = "SELECT * FROM images"))]
fn get_all_images() -> Result<usize, String> {
    std::thread::sleep(Duration::from_millis(30));
    Err("disk I/O error".into())
}

#[traced(name = "HTTP GET /v0/images", kind = server)]
fn request() {
    std::thread::sleep(Duration::from_millis(5));
    let _ = get_all_images();
}

/// A collector on ephemeral ports, on its own runtime, holding the trace of one request; and
/// that trace's id.
pub(crate) fn collector_with_a_trace() -> (tokio::runtime::Runtime, Collector, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let collector = runtime
        .block_on(Collector::start(traced_collector::Config::ephemeral()))
        .expect("the collector starts");
    let guard = traced::init(
        Config::new("gallery-api")
            .sampler(Sampler::always())
            .agent(collector.udp_compact_addr().to_string()),
    )
    .expect("a tracer");
    request();
    drop(guard);
    for _ in 0..200 {
        if collector.store().stats().0 >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let traces = collector
        .store()
        .find(&traced_collector::store::Query::default());
    let trace_id = traces[0][0].trace_id.to_string();
    (runtime, collector, trace_id)
}
