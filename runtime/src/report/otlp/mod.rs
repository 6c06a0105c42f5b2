//! The OTLP/HTTP sink (feature `otlp`): `POST {endpoint}/v1/traces` with an
//! `ExportTraceServiceRequest` in protobuf (`http/protobuf`, the default) or JSON (`http/json`),
//! optionally gzipped, to any OpenTelemetry backend (Jaeger v2, the OpenTelemetry Collector,
//! Tempo, ...), retried as the OTLP specification says.
//!
//! Both encodings are written by hand from the spans (no protobuf or JSON crate), and gzip is
//! miniz_oxide's deflate, already in the default build: the feature adds no crate.

mod gzip;
mod json;
mod model;
mod proto;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::collector::Endpoint;
use super::post;
use super::sink::{Batch, Sent, Sink, SinkError};

/// The body's encoding (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// `http/protobuf`: `application/x-protobuf` (the default).
    Protobuf,
    /// `http/json`: `application/json`, by the OTLP JSON mapping.
    Json,
}

/// The body's compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// None (the default).
    None,
    /// gzip (`Content-Encoding: gzip`).
    Gzip,
}

/// Sends spans to an OpenTelemetry backend over OTLP/HTTP.
///
/// Each batch is one `POST` of an `ExportTraceServiceRequest`: the process as the resource
/// (`service.name`, `telemetry.sdk.*`, `host.name`, the process tags), one instrumentation
/// scope `traced`, and the spans mapped as the OpenTelemetry specification's Jaeger translation
/// says (`span.kind` as the kind, `error = true` as an `ERROR` status with the error's message
/// and an `exception` event, logs as events, a FollowsFrom parent also as a link).
///
/// An answer 429, 502, 503 or 504, a connection error or a timeout is retried, after the
/// answer's `Retry-After` when it gives one, else after a doubling backoff; any other answer
/// is final (a 400 is not sent again). Spans a `partial_success` says were rejected are
/// counted in [`crate::Metrics::spans_rejected`].
///
/// ```no_run
/// use traced::report::{Compression, OtlpProtocol, OtlpSink};
///
/// let sink = OtlpSink::new("http://otel-collector:4318/v1/traces")?
///     .protocol(OtlpProtocol::Protobuf)
///     .compression(Compression::Gzip)
///     .header("x-api-key", "s3cr3t")?;
/// let _config = traced::Config::new("gallery").otlp(sink);
/// # Ok::<(), traced::report::SinkError>(())
/// ```
pub struct OtlpSink {
    url: String,
    endpoint: Endpoint,
    protocol: OtlpProtocol,
    compression: Compression,
    headers: Vec<(String, String)>,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
    max_wait: Duration,
}

impl fmt::Debug for OtlpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are often credentials: names only.
        let headers: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OtlpSink")
            .field("url", &self.url)
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl OtlpSink {
    /// The traces endpoint of a local OpenTelemetry Collector or Jaeger v2, the
    /// specification's default.
    pub const DEFAULT_ENDPOINT: &'static str = "http://localhost:4318/v1/traces";

    /// A sink posting to `url`, the full traces URL (`http://host:4318/v1/traces`), with
    /// protobuf bodies, no compression, a 10 s timeout and 3 retries.
    ///
    /// # Errors
    /// A URL that is not `http://host[:port][/path]`, or that holds credentials.
    pub fn new(url: &str) -> Result<Self, SinkError> {
        let reason = |reason: &str| SinkError::new(format_args!("endpoint {url:?}: {reason}"));
        let authority = url.split("://").nth(1).unwrap_or_default();
        if authority
            .split('/')
            .next()
            .unwrap_or_default()
            .contains('@')
        {
            return Err(reason(
                "put credentials in a header (OTEL_EXPORTER_OTLP_HEADERS), not in the URL",
            ));
        }
        let endpoint = Endpoint::parse(url).map_err(|r| reason(&r))?;
        Ok(OtlpSink {
            url: url.trim().to_owned(),
            endpoint,
            protocol: OtlpProtocol::Protobuf,
            compression: Compression::None,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            retries: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
        })
    }

    /// The body's encoding (default protobuf).
    #[must_use]
    pub fn protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The body's compression (default none).
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Adds a header to every request (an API key, a tenant).
    ///
    /// # Errors
    /// A name that is not an HTTP token, or a value holding a line break or control character.
    pub fn header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, SinkError> {
        let (name, value) = (name.into(), value.into());
        let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
        if name.is_empty() || !name.bytes().all(token) {
            return Err(SinkError::new(format_args!(
                "header name {name:?} is not an HTTP token"
            )));
        }
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(SinkError::new(format_args!(
                "the value of header {name:?} holds a control character"
            )));
        }
        self.headers.push((name, value));
        Ok(self)
    }

    /// Gives up on one attempt after `timeout` (connecting, sending and reading the answer;
    /// default 10 s, as `OTEL_EXPORTER_OTLP_TIMEOUT`).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries a batch up to `retries` times after a retryable answer, a connection error or
    /// a timeout, waiting the answer's `Retry-After` (at most 30 s) or else `backoff`, then
    /// twice that, and so on (default 3 retries from 500 ms). Spans finished meanwhile wait in
    /// the bounded queues, and are dropped and counted past them.
    #[must_use]
    pub fn retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff = backoff;
        self
    }

    /// The traces URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The value of header `name`, for the tests.
    #[cfg(test)]
    pub(crate) fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Resolves the endpoint's host now.
    pub(crate) fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        post::resolve(&self.endpoint)
    }

    /// The request body [`Sink::send`] posts for `batch`: an `ExportTraceServiceRequest`,
    /// encoded and compressed as configured (to keep, or to measure the encoding alone).
    pub fn body(&self, batch: &Batch<'_>) -> Vec<u8> {
        let encoded = match self.protocol {
            OtlpProtocol::Protobuf => {
                let mut out = Vec::with_capacity(256 * batch.len() + 256);
                proto::request(&mut out, batch);
                out
            }
            OtlpProtocol::Json => {
                let mut out = String::with_capacity(512 * batch.len() + 512);
                json::request(&mut out, batch);
                out.into_bytes()
            }
        };
        match self.compression {
            Compression::None => encoded,
            Compression::Gzip => gzip::compress(&encoded),
        }
    }

    /// Counts the spans an accepted request's `partial_success` rejected, in the installed
    /// tracer's metrics.
    fn partial_success(&self, body: &[u8]) {
        let (rejected, message) = match self.protocol {
            OtlpProtocol::Protobuf => proto::partial_success(body),
            OtlpProtocol::Json => json::partial_success(body),
        };
        if rejected == 0 {
            return;
        }
        // The sink runs on the reporter thread of the installed tracer.
        if let Some(tracer) = crate::tracer::get() {
            tracer.counters.rejected.add(rejected);
            tracer.counters.set_last_error(format!(
                "the OTLP endpoint {} rejected {rejected} spans: {message}",
                self.url
            ));
        }
    }
}

/// The answers the OTLP specification says to retry.
fn retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

impl Sink for OtlpSink {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        let body = self.body(batch);
        let mut headers: Vec<(&str, &str)> = vec![(
            "Content-Type",
            match self.protocol {
                OtlpProtocol::Protobuf => "application/x-protobuf",
                OtlpProtocol::Json => "application/json",
            },
        )];
        if self.compression == Compression::Gzip {
            headers.push(("Content-Encoding", "gzip"));
        }
        headers.extend(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            let (failure, retry_after) =
                match post::post(&self.endpoint, self.timeout, &headers, &body) {
                    Ok(answer) if (200..300).contains(&answer.status) => {
                        self.partial_success(&answer.body);
                        return Ok(Sent {
                            bytes: body.len() as u64,
                            batches: 1,
                        });
                    }
                    Ok(answer) if retryable(answer.status) => {
                        (format!("answered {}", answer.status), answer.retry_after)
                    }
                    // The backend refuses this batch; sending it again would not change that.
                    Ok(answer) => {
                        return Err(SinkError::new(format_args!(
                            "the OTLP endpoint {} answered {}",
                            self.url, answer.status
                        )))
                    }
                    Err(e) => (format!("failed: {e}"), None),
                };
            if attempt >= self.retries {
                return Err(SinkError::new(format_args!(
                    "posting to the OTLP endpoint {} {failure} ({} attempts)",
                    self.url,
                    attempt + 1
                )));
            }
            attempt += 1;
            std::thread::sleep(retry_after.unwrap_or(wait).min(self.max_wait));
            wait = wait.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests;
