//! traced-collector: an embedded, Jaeger-compatible collector and trace viewer.
//!
//! Any Jaeger client reports to it unchanged, on Jaeger's own ports: UDP 6831 (thrift compact)
//! and 6832 (thrift binary) as an agent, HTTP 14268 (`POST /api/traces`) as a collector; and any
//! OpenTelemetry SDK does, with OTLP/HTTP on the standard port 4318 (`POST /v1/traces`, also
//! taken on 14268). It keeps
//! recent traces in memory (bounded by spans and bytes, oldest evicted first) and answers
//! Jaeger's query API on 16686, with a web page at `/` to search and read traces; the terminal
//! gets the same waterfall ([`Collector::waterfall`], `traced-collector show`). Where a team
//! outgrows it, the same clients point at a real Jaeger; nothing else changes.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let collector = traced_collector::Collector::start(traced_collector::Config::default()).await?;
//! println!("traces at http://{}/", collector.query_addr());
//! # Ok(()) }
//! ```

pub mod analysis;
mod analysis_api;
pub mod duration;
pub mod ingest;
pub mod json;
pub mod model;
pub mod otlp;
mod query;
mod serve;
pub mod store;
pub mod thrift;
pub mod udp;
pub mod waterfall;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use traced::TraceId;

pub use ingest::Stats;
pub use store::{Limits, Store};

/// Where the collector listens and how much it keeps.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address every port binds (default 127.0.0.1: nothing is exposed unless asked).
    pub bind: IpAddr,
    /// Agent port, thrift compact (6831; 0 picks a free one).
    pub udp_compact: u16,
    /// Agent port, thrift binary (6832).
    pub udp_binary: u16,
    /// Collector HTTP port (14268): Jaeger's `POST /api/traces` and OTLP's `POST /v1/traces`.
    pub http: u16,
    /// OTLP/HTTP port (4318, OpenTelemetry's standard one): `POST /v1/traces` alone; `None`
    /// binds none (OTLP still arrives on [`Config::http`]).
    pub otlp_http: Option<u16>,
    /// Query API and web page port (16686).
    pub query: u16,
    /// Store bounds.
    pub limits: Limits,
    /// How long an HTTP client may take to send a batch's body (default 10 s).
    pub body_timeout: std::time::Duration,
    /// The receive buffer each agent port asks for (default 16 MiB; see [`udp::Port`] for what
    /// the kernel grants).
    pub udp_buffer: usize,
    /// Datagrams each agent port queues for its decoder at most (default 256).
    pub udp_queue: usize,
    /// How long a datagram waits for room in a full queue before it is dropped and counted
    /// (default 500 ms; zero drops at once).
    pub udp_queue_wait: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            udp_compact: 6831,
            udp_binary: 6832,
            http: 14268,
            otlp_http: Some(4318),
            query: 16686,
            limits: Limits::default(),
            body_timeout: Config::DEFAULT_BODY_TIMEOUT,
            udp_buffer: Config::DEFAULT_UDP_BUFFER,
            udp_queue: Config::DEFAULT_UDP_QUEUE,
            udp_queue_wait: Config::DEFAULT_UDP_QUEUE_WAIT,
        }
    }
}

impl Config {
    /// How long an HTTP client may take to send a batch's body, by default.
    pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
    /// The receive buffer asked for by default: 16 MiB (Linux grants twice that, its bookkeeping
    /// included), about half a second of 200,000 spans/s of ~300 bytes in 64 KB datagrams. Jaeger's
    /// agent makes it a setting too.
    pub const DEFAULT_UDP_BUFFER: usize = 16 << 20;
    /// Datagrams waiting for the decoder at most, by default. Each holds a 64 KiB buffer once it has
    /// been used, so the queue costs up to 16 MiB at its fullest, and nothing while traffic is light.
    pub const DEFAULT_UDP_QUEUE: usize = 256;
    /// How long a datagram that finds the queue full waits for room before it is dropped, by
    /// default. Meanwhile the reader holds still and the kernel's buffer fills (a 16 MiB request
    /// holds about half a second of 200,000 spans/s), so a decoder stalled that long loses nothing:
    /// dropping at once lost 2.3% of one 10 s run in three at 200,000 spans/s (a 0.5 s stall while
    /// two cores were busy), with the kernel's buffer empty.
    pub const DEFAULT_UDP_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

    /// Every port chosen by the system: for tests and for embedding next to other things.
    pub fn ephemeral() -> Self {
        Config {
            udp_compact: 0,
            udp_binary: 0,
            http: 0,
            otlp_http: Some(0),
            query: 0,
            ..Config::default()
        }
    }
}

/// A running collector. Dropping it stops it.
pub struct Collector {
    store: Arc<Store>,
    stats: Arc<Stats>,
    udp_compact: SocketAddr,
    udp_binary: SocketAddr,
    http: SocketAddr,
    otlp_http: Option<SocketAddr>,
    query: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
    udp: Vec<udp::Running>,
}

impl Collector {
    /// Binds every port and starts serving: HTTP on the current tokio runtime, each agent port
    /// on a receiving thread and a decoding thread of its own.
    ///
    /// # Errors
    /// A port that cannot be bound (in use, not permitted), or a thread that cannot start.
    pub async fn start(config: Config) -> std::io::Result<Collector> {
        let store = Arc::new(Store::new(config.limits));
        let at = |port| SocketAddr::new(config.bind, port);
        let bind_udp = |port, protocol| {
            udp::bind(
                at(port),
                protocol,
                config.udp_buffer,
                config.udp_queue,
                config.udp_queue_wait,
            )
        };
        let (compact, compact_port) = bind_udp(config.udp_compact, thrift::Protocol::Compact)?;
        let (binary, binary_port) = bind_udp(config.udp_binary, thrift::Protocol::Binary)?;
        let (compact_port, binary_port) = (Arc::new(compact_port), Arc::new(binary_port));
        let stats = Arc::new(Stats {
            udp: vec![compact_port.clone(), binary_port.clone()],
            ..Stats::default()
        });
        let http = TcpListener::bind(at(config.http)).await?;
        let otlp_http = match config.otlp_http {
            Some(port) => Some(TcpListener::bind(at(port)).await?),
            None => None,
        };
        let query = TcpListener::bind(at(config.query)).await?;
        let mut collector = Collector {
            udp_compact: compact_port.addr,
            udp_binary: binary_port.addr,
            http: http.local_addr()?,
            otlp_http: otlp_http
                .as_ref()
                .map(TcpListener::local_addr)
                .transpose()?,
            query: query.local_addr()?,
            store: store.clone(),
            stats: stats.clone(),
            tasks: Vec::new(),
            udp: Vec::new(),
        };
        for (socket, port) in [(compact, compact_port), (binary, binary_port)] {
            let running = udp::start(socket, port, store.clone(), stats.clone())?;
            collector.udp.push(running);
        }
        let ingest_app = ingest::http(store.clone(), stats.clone(), config.body_timeout).merge(
            otlp::http(store.clone(), stats.clone(), config.body_timeout),
        );
        collector
            .tasks
            .push(tokio::spawn(serve::serve(http, ingest_app)));
        if let Some(listener) = otlp_http {
            let otlp_app = otlp::http(store.clone(), stats.clone(), config.body_timeout);
            collector
                .tasks
                .push(tokio::spawn(serve::serve(listener, otlp_app)));
        }
        let query_app = query::router(store.clone(), stats).merge(analysis_api::router(store));
        collector
            .tasks
            .push(tokio::spawn(serve::serve(query, query_app)));
        Ok(collector)
    }

    /// The agent's compact port.
    pub fn udp_compact_addr(&self) -> SocketAddr {
        self.udp_compact
    }

    /// The agent's binary port.
    pub fn udp_binary_addr(&self) -> SocketAddr {
        self.udp_binary
    }

    /// The collector's HTTP address (`POST http://{addr}/api/traces`).
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The OTLP/HTTP port's address (`POST http://{addr}/v1/traces`), if one was bound.
    pub fn otlp_http_addr(&self) -> Option<SocketAddr> {
        self.otlp_http
    }

    /// The query API's and web page's address.
    pub fn query_addr(&self) -> SocketAddr {
        self.query
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Ingest counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// The terminal waterfall of a trace, `width` columns wide.
    pub fn waterfall(&self, trace_id: TraceId, width: usize) -> Option<String> {
        let spans = self.store.trace(trace_id)?;
        Some(waterfall::render(
            &trace_id.to_string(),
            &waterfall::rows_of(&spans),
            width,
        ))
    }

    /// A trace as a Jaeger JSON file (what Jaeger's UI uploads).
    pub fn export(&self, trace_id: TraceId) -> Option<String> {
        let spans = self.store.trace(trace_id)?;
        serde_json::to_string_pretty(&json::envelope(vec![json::trace(&spans)])).ok()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for port in &mut self.udp {
            port.stop();
        }
    }
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::*;

    /// `/api/stats` from a query API served at `addr`.
    fn api_stats(addr: SocketAddr) -> serde_json::Value {
        let mut stream = std::net::TcpStream::connect(addr).expect("connects");
        stream
            .write_all(b"GET /api/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("writes");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("reads");
        let body = answer.split_once("\r\n\r\n").expect("an answer").1;
        serde_json::from_str(body).expect("JSON")
    }

    #[test]
    fn datagrams_the_kernel_drops_while_the_socket_is_unread_are_shown_in_api_stats() {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        // The smallest buffer the kernel grants: room for one of these datagrams.
        let (socket, port) = udp::bind(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            thrift::Protocol::Compact,
            1,
            8,
            Config::DEFAULT_UDP_QUEUE_WAIT,
        )
        .expect("binds");
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("binds");
        let sent = 20;
        for _ in 0..sent {
            sender.send_to(&[0; 8_000], port.addr).expect("sends");
        }
        // Only now does the reader start: the kernel kept what fitted and dropped the rest.
        let port = Arc::new(port);
        let store = Arc::new(Store::new(Limits::default()));
        let stats = Arc::new(Stats {
            udp: vec![port.clone()],
            ..Stats::default()
        });
        let _running =
            udp::start(socket, port.clone(), store.clone(), stats.clone()).expect("starts");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("binds");
        let query = listener.local_addr().expect("an address");
        runtime.spawn(serve::serve(listener, query::router(store, stats.clone())));

        let mut seen = serde_json::Value::Null;
        for _ in 0..200 {
            seen = api_stats(query);
            if seen["datagrams"].as_u64().unwrap_or(0)
                + seen["udp_kernel_drops"].as_u64().unwrap_or(0)
                == sent
                && seen["rejected"] == seen["datagrams"]
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let kernel_drops = seen["udp_kernel_drops"].as_u64().expect("kernel drops");
        assert!(kernel_drops >= sent / 2, "{seen:#}");
        assert_eq!(
            seen["datagrams"].as_u64(),
            Some(sent - kernel_drops),
            "{seen:#}"
        );
        assert_eq!(seen["udp"][0]["kernel_drops"], kernel_drops);
        assert_eq!(port.kernel_drops(), Some(kernel_drops));
        assert_eq!(
            stats.rejected.load(Ordering::Relaxed),
            sent - kernel_drops,
            "the zeros that got through were rejected, as garbage"
        );
    }
}
