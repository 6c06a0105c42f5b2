//! The demo: the embedded traced-collector and the three services (each its own process,
//! reporting to the collector over the Jaeger agent protocol), a few images seeded, a burst of
//! requests, then the answer to "where is the slowdown?": latency per endpoint against the
//! talk's 100 ms budget, the slowest trace as a waterfall with its critical path and slowest
//! span marked, where to browse the traces, the Jaeger JSON file of that trace, and for each
//! endpoint over budget what its slow requests wait on that its typical ones do not.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gallery::launch::Records;
use traced_collector::Collector;

use crate::Options;

/// The talk's latency budget.
const BUDGET: Duration = Duration::from_millis(100);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn run(options: &Options) -> Result<(), String> {
    let requests: usize = options.number("requests", 200)?;
    let slow = options.flag("slow");
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    // A destination in the environment (Jaeger's, or an OTLP backend's, which traced's
    // configuration prefers): the services report there, and no collector is embedded.
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let otlp = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .into_iter()
    .find(|name| set(name));
    let jaeger = set("JAEGER_AGENT_HOST") || set("JAEGER_ENDPOINT");
    let collector = if let Some(variable) = otlp {
        println!("reporting over OTLP to the endpoint named by {variable}");
        None
    } else if jaeger {
        println!("reporting to the Jaeger named by JAEGER_AGENT_HOST / JAEGER_ENDPOINT");
        None
    } else {
        let collector = runtime
            .block_on(Collector::start(traced_collector::Config::ephemeral()))
            .map_err(|e| format!("the embedded collector: {e}"))?;
        println!(
            "traced-collector: traces at http://{}/",
            collector.query_addr()
        );
        Some(collector)
    };

    let data = gallery::launch::temporary_data("demo");
    let launch = gallery::launch::Launch {
        exe: std::env::current_exe().map_err(|e| e.to_string())?,
        data: data.clone(),
        agent: collector.as_ref().map(Collector::udp_compact_addr),
        slow,
        records: Records::FromEnvironment,
    };
    if std::env::var_os("MONGODB_URI").is_some() {
        let database = std::env::var(crate::variable("mongodb-database"));
        println!(
            "the catalog keeps its records in MongoDB (MONGODB_URI), database {}",
            database
                .as_deref()
                .unwrap_or(crate::DEFAULT_MONGODB_DATABASE)
        );
    }
    let services = runtime
        .block_on(launch.start())
        .map_err(|e| e.to_string())?;
    let api = services.api.clone();
    if slow {
        println!("--slow: the image store makes thumbnails on every request");
    }
    let result = runtime.block_on(drive(&api, requests));
    drop(services);
    let timings = result?;

    println!(
        "\nlatency per endpoint ({requests} requests, budget {}):",
        ms(BUDGET)
    );
    for (endpoint, mut times) in timings {
        times.sort_unstable();
        let p99 = percentile(&times, 0.99);
        println!(
            "  {endpoint:<32} p50 {:>9}  p95 {:>9}  p99 {:>9}  {}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(p99),
            if p99 <= BUDGET {
                "within budget"
            } else {
                "OVER BUDGET"
            }
        );
    }
    if let Some(collector) = &collector {
        report(collector, &data)?;
        // In a terminal, the collector stays up so that the traces can be browsed; run from a
        // script (or a test), the demo ends here.
        if std::io::stdout().is_terminal() {
            println!(
                "\nthe collector keeps serving http://{}/ until Ctrl-C",
                collector.query_addr()
            );
            runtime.block_on(async {
                let _ = tokio::signal::ctrl_c().await;
            });
        }
    }
    Ok(())
}

/// Uploads the demo's images through the API; their ids. An upload that fails ends the demo,
/// saying which and why: a burst of requests for images that are not there measures nothing.
async fn seed(http: &reqwest::Client, api: &str) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    // Real PNGs, one of them large: thumbnails of it are real work.
    for (name, width, height, seed) in [
        ("cat.png", 320, 240, 1),
        ("dog.png", 640, 480, 2),
        ("bird.png", 1600, 1200, 3),
    ] {
        let failed = |e: &dyn std::fmt::Display| format!("seeding: uploading {name}: {e}");
        let response = http
            .post(format!("{api}/v0/images?name={name}"))
            .header("content-type", "image/png")
            .body(gallery::thumbnail::gradient(width, height, seed))
            .send()
            .await
            .map_err(|e| failed(&e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| failed(&e))?;
        let id = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| json["id"].as_str().map(str::to_owned));
        match id {
            Some(id) if status == reqwest::StatusCode::CREATED && gallery::is_image_id(&id) => {
                ids.push(id);
            }
            _ => return Err(failed(&format_args!("{status} {body}"))),
        }
    }
    Ok(ids)
}

/// Seeds images and sends the burst; the times of each endpoint's requests.
async fn drive(api: &str, requests: usize) -> Result<Vec<(&'static str, Vec<Duration>)>, String> {
    let http = reqwest::Client::new();
    let ids = seed(&http, api).await?;
    let mut list = Vec::new();
    let mut one = Vec::new();
    let mut thumbnails = Vec::new();
    let mut missing = Vec::new();
    for i in 0..requests {
        let (url, times) = match i % 10 {
            0 => (format!("{api}/v0/images/0000000000000000"), &mut missing),
            1 | 2 => (format!("{api}/v0/images/{}", ids[i % ids.len()]), &mut one),
            3 | 4 => (
                format!("{api}/v0/images/{}/thumbnail", ids[i % ids.len()]),
                &mut thumbnails,
            ),
            _ => (format!("{api}/v0/images"), &mut list),
        };
        let start = Instant::now();
        let _ = http
            .get(url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .bytes()
            .await;
        times.push(start.elapsed());
        let done = i + 1;
        if done % 10 == 0 || done == requests {
            let filled = done * 30 / requests;
            eprint!(
                "\r  [{}{}] {done}/{requests}",
                "#".repeat(filled),
                " ".repeat(30 - filled)
            );
            let _ = std::io::stderr().flush();
        }
    }
    eprintln!();
    Ok(vec![
        ("GET /v0/images", list),
        ("GET /v0/images/{id}", one),
        ("GET /v0/images/{id}/thumbnail", thumbnails),
        ("GET /v0/images/{id} (404)", missing),
    ])
}

/// The slowest request's trace, as a waterfall and as a Jaeger JSON file.
fn report(collector: &Collector, data: &std::path::Path) -> Result<(), String> {
    // The services flush on their way out; give the last datagrams a moment to land.
    std::thread::sleep(Duration::from_millis(300));
    let traces = collector.store().find(&traced_collector::store::Query {
        service: Some("gallery-api".into()),
        limit: usize::MAX,
        ..Default::default()
    });
    let slowest = traces
        .iter()
        .filter_map(|spans| {
            let root = spans.iter().find(|s| s.parent().is_none())?;
            Some((root.duration, root.trace_id))
        })
        .max_by_key(|(duration, _)| *duration);
    let Some((_, trace_id)) = slowest else {
        println!("\nno trace arrived at the collector");
        return Ok(());
    };
    println!(
        "\nthe slowest request ({} traces collected):\n",
        traces.len()
    );
    print!("{}", collector.waterfall(trace_id, 120).unwrap_or_default());
    let file: PathBuf = data.join(format!("trace-{trace_id}.json"));
    std::fs::create_dir_all(data).map_err(|e| e.to_string())?;
    std::fs::write(&file, collector.export(trace_id).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    println!(
        "\nJaeger JSON of that trace (loads in Jaeger's UI): {}",
        file.display()
    );
    println!(
        "browse every trace: http://{}/?trace={trace_id}",
        collector.query_addr()
    );
    why_over_budget(collector);
    Ok(())
}

/// For each API endpoint whose p99 (as its server spans measured it) is over the budget: what
/// its slow requests spend their critical path on that its typical ones do not.
fn why_over_budget(collector: &Collector) {
    use traced_collector::analysis::{self, attribution, latency};
    let window = analysis::Window {
        start: 0,
        end: i64::MAX,
    };
    let traces = analysis::traces(collector.store(), window);
    let endpoints = latency::Filter {
        service: Some("gallery-api".into()),
        span_kind: Some("server".into()),
    };
    let budget = BUDGET.as_micros() as i64;
    for over in latency::per_operation(&traces, window, &endpoints)
        .into_iter()
        .filter(|e| e.p99 > budget)
    {
        let question = attribution::Question {
            service: over.service,
            operation: over.operation,
            percentile: 95.0,
        };
        if let Some(answer) = attribution::attribute(&traces, &question) {
            print!("\nwhy is it slow? {}", answer.render());
        }
    }
    println!(
        "the service graph, latency per operation, slow versus typical and its flame graphs: \
         http://{}/analysis",
        collector.query_addr()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A base URL where nothing listens.
    fn closed() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    }

    #[tokio::test]
    async fn seeding_fails_loudly_naming_the_upload_and_the_answer() {
        // Holds the capture, as every test making traced calls does: the tracer is global.
        let _capture = traced::testing::Capture::install();
        // The API is up, its image store is not: every upload is refused.
        let backends = gallery::api::Backends::new(closed(), closed());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, gallery::api::router(backends))
                .await
                .unwrap();
        });

        let seeded = seed(&reqwest::Client::new(), &api).await;

        let error = seeded.expect_err("no image was stored");
        assert!(
            error.starts_with("seeding: uploading cat.png: 502 Bad Gateway")
                && error.contains("a backend is unreachable"),
            "{error}"
        );
    }
}
