//! The demo: the embedded traced-collector and the three services (each its own process,
//! reporting to the collector over the Jaeger agent protocol), a few images seeded, a burst of
//! requests, then the answer to "where is the slowdown?": latency per endpoint against the
//! talk's 100 ms budget, the slowest trace as a waterfall with its slowest span marked, where
//! to browse the traces, and the Jaeger JSON file of that trace.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    let external = std::env::var_os("JAEGER_AGENT_HOST").is_some()
        || std::env::var_os("JAEGER_ENDPOINT").is_some();
    let collector = if external {
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
    };
    let services = launch
        .start()
        .map_err(|e| format!("starting the services: {e}"))?;
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

/// Seeds images and sends the burst; the times of each endpoint's requests.
async fn drive(api: &str, requests: usize) -> Result<Vec<(&'static str, Vec<Duration>)>, String> {
    let http = reqwest::Client::new();
    // Wait for the services (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{api}/health")).send().await
            && r.status().is_success()
        {
            break;
        }
        if Instant::now() > deadline {
            return Err("the services did not start within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut ids = Vec::new();
    // Real PNGs, one of them large: thumbnails of it are real work.
    for (name, width, height, seed) in [
        ("cat.png", 320, 240, 1),
        ("dog.png", 640, 480, 2),
        ("bird.png", 1600, 1200, 3),
    ] {
        let response = http
            .post(format!("{api}/v0/images?name={name}"))
            .header("content-type", "image/png")
            .body(gallery::thumbnail::gradient(width, height, seed))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
        ids.push(body["id"].as_str().unwrap_or_default().to_owned());
    }
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
    Ok(())
}
