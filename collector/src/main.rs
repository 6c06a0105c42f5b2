//! `traced-collector`: run the collector, or look at a trace from a running one.
//!
//! ```text
//! traced-collector [serve] [--bind IP] [--udp-compact PORT] [--udp-binary PORT] [--http PORT]
//!                  [--otlp-http PORT|off] [--query PORT] [--max-spans N] [--max-bytes N]
//!                  [--udp-buffer BYTES] [--udp-queue DATAGRAMS] [--udp-queue-wait MS]
//! traced-collector show <trace-id> [--query HOST:PORT] [--width N]
//! traced-collector export <trace-id> [--query HOST:PORT] [--out FILE]
//! traced-collector latency [--service S] [--span-kind K] [--lookback 1h] [--query HOST:PORT]
//! traced-collector why --service S --operation O [--percentile 95] [--lookback 1h]
//!                      [--query HOST:PORT]
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use traced_collector::{Collector, Config, waterfall};

const USAGE: &str = "usage:
  traced-collector [serve] [--bind IP] [--udp-compact PORT] [--udp-binary PORT] [--http PORT]
                   [--otlp-http PORT|off] [--query PORT] [--max-spans N] [--max-bytes N]
                   [--udp-buffer BYTES] [--udp-queue DATAGRAMS] [--udp-queue-wait MS]
  traced-collector show <trace-id> [--query HOST:PORT] [--width N]
  traced-collector export <trace-id> [--query HOST:PORT] [--out FILE]
  traced-collector latency [--service S] [--span-kind K] [--lookback 1h] [--query HOST:PORT]
  traced-collector why --service S --operation O [--percentile 95] [--lookback 1h]
                       [--query HOST:PORT]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("show") => show(&args[1..]),
        Some("export") => export(&args[1..]),
        Some("latency") => latency(&args[1..]),
        Some("why") => why(&args[1..]),
        Some("serve") => serve(&args[1..]),
        Some("-h" | "--help") => answer(&format!("{USAGE}\n")),
        _ => serve(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("traced-collector: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Positional arguments and `--name value` options.
struct Args<'a> {
    positional: Vec<&'a str>,
    options: Vec<(&'a str, &'a str)>,
}

impl Args<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

fn options<'a>(args: &'a [String], known: &[&str]) -> Result<Args<'a>, String> {
    let (mut positional, mut options) = (Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if let Some(name) = arg.strip_prefix("--") {
            if !known.contains(&name) {
                return Err(format!("unknown option --{name}"));
            }
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            options.push((name, value.as_str()));
        } else {
            positional.push(arg.as_str());
        }
    }
    Ok(Args {
        positional,
        options,
    })
}

fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("--{name} {value:?} is not valid"))
}

fn serve(args: &[String]) -> Result<(), String> {
    let args = options(
        args,
        &[
            "bind",
            "udp-compact",
            "udp-binary",
            "http",
            "otlp-http",
            "query",
            "max-spans",
            "max-bytes",
            "udp-buffer",
            "udp-queue",
            "udp-queue-wait",
        ],
    )?;
    if let Some(extra) = args.positional.first() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    let mut config = Config::default();
    for (name, value) in args.options {
        match name {
            "bind" => config.bind = parse(name, value)?,
            "udp-compact" => config.udp_compact = parse(name, value)?,
            "udp-binary" => config.udp_binary = parse(name, value)?,
            "http" => config.http = parse(name, value)?,
            "otlp-http" if value == "off" => config.otlp_http = None,
            "otlp-http" => config.otlp_http = Some(parse(name, value)?),
            "query" => config.query = parse(name, value)?,
            "max-spans" => config.limits.max_spans = parse(name, value)?,
            "max-bytes" => config.limits.max_bytes = parse(name, value)?,
            "udp-buffer" => config.udp_buffer = parse(name, value)?,
            "udp-queue" => config.udp_queue = parse(name, value)?,
            "udp-queue-wait" => {
                config.udp_queue_wait = Duration::from_millis(parse(name, value)?);
            }
            _ => unreachable!("checked by options"),
        }
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let collector = Collector::start(config).await.map_err(|e| e.to_string())?;
        // Listening for Ctrl-C before the first line: whoever reads it and then interrupts
        // finds the handler in place, not the default action, which kills the process.
        let stop = tokio::signal::ctrl_c();
        tokio::pin!(stop);
        tokio::select! {
            biased;
            stopped = &mut stop => return stopped.map_err(|e| e.to_string()),
            () = std::future::ready(()) => {}
        }
        status(format_args!(
            "traced-collector: agent udp {} (compact) and {} (binary), collector http://{}/api/traces, \
             traces at http://{}/",
            collector.udp_compact_addr(),
            collector.udp_binary_addr(),
            collector.http_addr(),
            collector.query_addr()
        ));
        if let Some(otlp) = collector.otlp_http_addr() {
            status(format_args!(
                "traced-collector: OTLP/HTTP http://{otlp}/v1/traces"
            ));
        }
        for port in &collector.stats().udp {
            status(format_args!(
                "traced-collector: udp {} receive buffer {} bytes asked, {} granted ({}), \
                 queue {} datagrams (a datagram waits {} ms for room)",
                port.addr,
                port.receive_buffer_requested,
                port.receive_buffer,
                if port.forced {
                    "SO_RCVBUFFORCE"
                } else {
                    "SO_RCVBUF, capped at net.core.rmem_max"
                },
                port.queue_capacity,
                port.queue_wait.as_millis()
            ));
        }
        stop.await.map_err(|e| e.to_string())?;
        status(format_args!("traced-collector: stopped"));
        Ok(())
    })
}

/// Prints one status line of `serve`, through [`answer`]. A serving collector outlives whoever
/// reads its output: a line it cannot write is lost, not the process (`println!` panics on a
/// write error, and Rust ignores SIGPIPE, so a closed pipe is a write error).
fn status(line: std::fmt::Arguments<'_>) {
    let _ = answer(&format!("{line}\n"));
}

/// GETs `path` from the query API at `addr`: the status code and the body.
fn get(addr: &str, path: &str) -> Result<(u16, String), String> {
    let error = |e: std::io::Error| format!("the query API at {addr}: {e}");
    let mut stream = TcpStream::connect(addr).map_err(error)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(error)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(error)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(error)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("the query API at {addr} answered no HTTP"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("the query API at {addr} answered no status"))?;
    Ok((status, body.to_owned()))
}

/// Fetches the trace named in `args` from the query API (`--query`, default 127.0.0.1:16686).
fn fetch_trace(args: &Args<'_>) -> Result<serde_json::Value, String> {
    let [trace_id] = args.positional[..] else {
        return Err("give one trace id".into());
    };
    let query = args.get("query").unwrap_or("127.0.0.1:16686");
    let (status, body) = get(query, &format!("/api/traces/{trace_id}"))?;
    if status == 404 {
        return Err(format!("trace {trace_id} not found at {query}"));
    }
    serde_json::from_str(&body)
        .map_err(|e| format!("the query API answered no JSON ({status}): {e}"))
}

fn show(args: &[String]) -> Result<(), String> {
    let args = options(args, &["query", "width"])?;
    let json = fetch_trace(&args)?;
    let width = match args.get("width") {
        Some(v) => parse("width", v)?,
        None => 120,
    };
    let rows = waterfall::rows_of_json(&json["data"][0]);
    answer(&waterfall::render(args.positional[0], &rows, width))
}

fn export(args: &[String]) -> Result<(), String> {
    let args = options(args, &["query", "out"])?;
    let json = fetch_trace(&args)?;
    let out = args.get("out").map_or_else(
        || format!("trace-{}.json", args.positional[0]),
        str::to_owned,
    );
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    std::fs::write(&out, text).map_err(|e| format!("{out}: {e}"))?;
    answer(&format!("{out}\n"))
}

/// Writes a one-shot command's answer to stdout. A reader that stopped early (`| head`) took
/// what it wanted: the closed pipe ends the command quietly, where `print!` panicked with a
/// backtrace. Any other write error is the command's error.
fn answer(text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

/// `name=value&...` for a URL, percent-encoding what is not unreserved (operation names hold
/// spaces, slashes and braces).
fn url_query(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The analysis API's text answer at `path` with these parameters, printed; `--lookback` (a
/// duration such as `15m`, `1h`; an hour by default) turned into the API's milliseconds.
fn print_analysis(args: &Args<'_>, path: &str, pairs: Vec<(&str, &str)>) -> Result<(), String> {
    if let Some(extra) = args.positional.first() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    let lookback = args.get("lookback").unwrap_or("1h");
    let millis = traced_collector::duration::parse(lookback)
        .map(|d| d.as_millis().to_string())
        .ok_or_else(|| format!("--lookback {lookback:?} is not a duration such as 15m or 1h"))?;
    let params = url_query(&pairs) + &format!("&lookback={millis}&format=text");
    let query = args.get("query").unwrap_or("127.0.0.1:16686");
    let (status, body) = get(query, &format!("{path}?{params}"))?;
    match status {
        200 => answer(&body),
        _ => Err(serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["errors"][0]["msg"].as_str().map(str::to_owned))
            .unwrap_or_else(|| body.trim().to_owned())),
    }
}

fn latency(args: &[String]) -> Result<(), String> {
    let args = options(args, &["query", "service", "span-kind", "lookback"])?;
    let mut pairs = Vec::new();
    if let Some(service) = args.get("service") {
        pairs.push(("service", service));
    }
    if let Some(kind) = args.get("span-kind") {
        pairs.push(("spanKind", kind));
    }
    print_analysis(&args, "/api/latency", pairs)
}

fn why(args: &[String]) -> Result<(), String> {
    let args = options(
        args,
        &["query", "service", "operation", "percentile", "lookback"],
    )?;
    let (Some(service), Some(operation)) = (args.get("service"), args.get("operation")) else {
        return Err("why needs --service and --operation".into());
    };
    let mut pairs = vec![("service", service), ("operation", operation)];
    if let Some(p) = args.get("percentile") {
        pairs.push(("percentile", p));
    }
    print_analysis(&args, "/api/attribution", pairs)
}
