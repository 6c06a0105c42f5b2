//! traced-collector: an embedded, Jaeger-compatible collector and trace viewer.
//!
//! Any Jaeger client reports to it unchanged, on Jaeger's own ports: UDP 6831 (thrift compact)
//! and 6832 (thrift binary) as an agent, HTTP 14268 (`POST /api/traces`) as a collector. It keeps
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

pub mod ingest;
pub mod json;
pub mod model;
mod query;
pub mod store;
pub mod thrift;
pub mod waterfall;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
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
    /// Collector HTTP port (14268).
    pub http: u16,
    /// Query API and web page port (16686).
    pub query: u16,
    /// Store bounds.
    pub limits: Limits,
    /// How long an HTTP client may take to send a batch's body (default 10 s).
    pub body_timeout: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            udp_compact: 6831,
            udp_binary: 6832,
            http: 14268,
            query: 16686,
            limits: Limits::default(),
            body_timeout: ingest::BODY_TIMEOUT,
        }
    }
}

impl Config {
    /// Every port chosen by the system: for tests and for embedding next to other things.
    pub fn ephemeral() -> Self {
        Config {
            udp_compact: 0,
            udp_binary: 0,
            http: 0,
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
    query: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Collector {
    /// Binds every port and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// A port that cannot be bound (in use, not permitted).
    pub async fn start(config: Config) -> std::io::Result<Collector> {
        let store = Arc::new(Store::new(config.limits));
        let stats = Arc::new(Stats::default());
        let at = |port| SocketAddr::new(config.bind, port);
        let compact = UdpSocket::bind(at(config.udp_compact)).await?;
        let binary = UdpSocket::bind(at(config.udp_binary)).await?;
        let http = TcpListener::bind(at(config.http)).await?;
        let query = TcpListener::bind(at(config.query)).await?;
        let mut collector = Collector {
            udp_compact: compact.local_addr()?,
            udp_binary: binary.local_addr()?,
            http: http.local_addr()?,
            query: query.local_addr()?,
            store: store.clone(),
            stats: stats.clone(),
            tasks: Vec::new(),
        };
        collector.tasks.push(tokio::spawn(ingest::udp(
            compact,
            thrift::Protocol::Compact,
            store.clone(),
            stats.clone(),
        )));
        collector.tasks.push(tokio::spawn(ingest::udp(
            binary,
            thrift::Protocol::Binary,
            store.clone(),
            stats.clone(),
        )));
        let ingest_app = ingest::http(store.clone(), stats.clone(), config.body_timeout);
        collector.tasks.push(tokio::spawn(async move {
            let _ = axum::serve(http, ingest_app).await;
        }));
        let query_app = query::router(store, stats);
        collector.tasks.push(tokio::spawn(async move {
            let _ = axum::serve(query, query_app).await;
        }));
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
    }
}
