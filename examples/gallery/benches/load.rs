//! What tracing costs on a real request path: `GET /v0/images` through the API, its client call
//! and the catalog's SQLite query (the three services on loopback, in one process here), with
//! no tracer, with a tracer that samples nothing, and with one that samples everything. Prints
//! requests per second and p50/p99 latency of each, measured one after the other in one run.
//!
//! Run: `cargo bench -p gallery --bench load`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gallery::SqliteRepository;
use gallery::api::Backends;
use traced::testing::Discard;
use traced::{Config, Sampler};

const REQUESTS: usize = 4_000;
const CLIENTS: usize = 4;

async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serves") });
    addr
}

/// `REQUESTS` requests from `CLIENTS` concurrent clients: requests/s and the sorted latencies.
async fn load(url: &str) -> (f64, Vec<Duration>) {
    let start = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let url = url.to_owned();
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut times = Vec::with_capacity(REQUESTS / CLIENTS);
            for _ in 0..REQUESTS / CLIENTS {
                let t = Instant::now();
                let response = http.get(&url).send().await.expect("answers");
                assert!(response.status().is_success());
                let _ = response.bytes().await;
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut times = Vec::new();
    for client in clients {
        times.extend(client.await.expect("a client"));
    }
    let rate = times.len() as f64 / start.elapsed().as_secs_f64();
    times.sort_unstable();
    (rate, times)
}

fn main() {
    // `cargo test --benches` passes no `--bench`: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let repo = SqliteRepository::in_memory().expect("a database");
        for i in 0..20 {
            use gallery::ImageRepository as _;
            repo.insert_image(gallery::NewImage {
                id: gallery::new_id(),
                name: format!("image-{i}.png"),
                content_type: "image/png".into(),
                size: 1000,
            })
            .await
            .expect("seeds");
        }
        let catalog = serve(gallery::catalog::router(Arc::new(repo))).await;
        let dir = std::env::temp_dir().join(format!("gallery-load-{}", std::process::id()));
        let store = serve(gallery::blobs::router(dir.clone(), false).expect("a store")).await;
        let api = serve(gallery::api::router(Backends::new(
            format!("http://{catalog}"),
            format!("http://{store}"),
        )))
        .await;
        let url = format!("http://{api}/v0/images");
        let _ = load(&url).await; // warm up
        println!("GET /v0/images, {REQUESTS} requests from {CLIENTS} clients, three services on loopback:");
        for (name, sampler) in [("tracing off", None), ("unsampled", Some(Sampler::never())), ("sampled", Some(Sampler::always()))] {
            let guard = sampler.map(|s| {
                traced::init(Config::new("gallery-load").sampler(s).sink(Discard)).expect("a tracer")
            });
            let (rate, times) = load(&url).await;
            let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
            let spans = guard.as_ref().map_or(0, |g| {
                g.flush();
                g.metrics().spans_reported
            });
            println!(
                "  {name:<12} {rate:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  spans reported {spans}",
                at(0.5).as_secs_f64() * 1e3,
                at(0.99).as_secs_f64() * 1e3,
            );
            drop(guard);
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}
