//! The Jaeger collector sink: `POST {endpoint}` with a thrift binary `Batch`
//! (`application/x-thrift`), as Jaeger clients send to port 14268, with basic or bearer
//! authentication, timeouts, and bounded retries with backoff.
//!
//! The HTTP client is the small HTTP/1.1 one over `std::net` the HTTP sinks share
//! ([`super::post`]).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::agent::Protocol;
use super::encode::{self, Envelope};
use super::post;
use super::sink::{Batch, Sent, Sink, SinkError};
use super::thrift::Limits;

/// How a collector request authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// None.
    None,
    /// HTTP basic (`JAEGER_USER`, `JAEGER_PASSWORD`).
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A bearer token (`JAEGER_AUTH_TOKEN`).
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs.
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, .. } => write!(f, "Basic({user:?}, ***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// An `http://host:port/path` endpoint, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/path]`; the reason it cannot be used otherwise.
    pub(crate) fn parse(url: &str) -> Result<Endpoint, String> {
        let url = url.trim();
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if url.starts_with("https://") {
            return Err(
                "https is not supported: give an http:// endpoint (a TLS-terminating \
                        proxy in front of the collector), or report to an agent"
                    .into(),
            );
        } else {
            return Err(
                "expected http://host:port/path, e.g. http://jaeger:14268/api/traces".into(),
            );
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(
                "put credentials in JAEGER_USER and JAEGER_PASSWORD, not in the URL".into(),
            );
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("{port:?} is not a port number"))?;
                (host, port)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("the endpoint names no host".into());
        }
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err("the path holds spaces or control characters".into());
        }
        Ok(Endpoint {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    pub(crate) fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Sends spans to a Jaeger collector over HTTP.
///
/// ```no_run
/// use traced::report::CollectorSink;
///
/// let sink = CollectorSink::new("http://jaeger:14268/api/traces")?;
/// let _config = traced::Config::new("gallery").sink(sink);
/// # Ok::<(), traced::report::SinkError>(())
/// ```
#[derive(Debug)]
pub struct CollectorSink {
    endpoint: Endpoint,
    auth: Auth,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
    limits: Limits,
}

impl CollectorSink {
    /// A sink posting to `endpoint` (`http://host:port/path`). The host is resolved on each
    /// request, so a collector that moves or starts late is found.
    ///
    /// # Errors
    /// An endpoint that is not `http://host[:port][/path]`.
    pub fn new(endpoint: &str) -> Result<Self, SinkError> {
        let endpoint = Endpoint::parse(endpoint)
            .map_err(|reason| SinkError::new(format_args!("endpoint {endpoint:?}: {reason}")))?;
        Ok(CollectorSink {
            endpoint,
            auth: Auth::None,
            timeout: Duration::from_secs(5),
            retries: 3,
            backoff: Duration::from_millis(100),
            limits: Limits::default(),
        })
    }

    /// Authenticates every request.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Gives up on one attempt after `timeout` (connecting, sending and reading the answer;
    /// default 5 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries a batch up to `retries` times after a connection error, a timeout or a 5xx,
    /// waiting `backoff`, then twice that, and so on (default 3 retries from 100 ms). Spans
    /// finished meanwhile wait in the bounded queues, and are dropped and counted past them.
    #[must_use]
    pub fn retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff = backoff;
        self
    }

    /// Cuts string tag values longer than `bytes` (default
    /// [`AgentSink::DEFAULT_MAX_TAG_VALUE_LENGTH`](super::AgentSink::DEFAULT_MAX_TAG_VALUE_LENGTH),
    /// 256), as Jaeger's Go client does.
    #[must_use]
    pub fn max_tag_value_length(mut self, bytes: usize) -> Self {
        self.limits.max_tag_value_length = bytes;
        self
    }

    /// Resolves the endpoint's host now.
    pub(crate) fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        post::resolve(&self.endpoint)
    }

    /// One attempt: the status code, or why there was none.
    fn post(&self, body: &[u8]) -> io::Result<u16> {
        let authorization = match &self.auth {
            Auth::None => None,
            Auth::Basic { user, password } => Some(format!(
                "Basic {}",
                base64(format!("{user}:{password}").as_bytes())
            )),
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
        };
        let mut headers = vec![("Content-Type", "application/x-thrift")];
        if let Some(value) = &authorization {
            headers.push(("Authorization", value));
        }
        post::post(&self.endpoint, self.timeout, &headers, body).map(|answer| answer.status)
    }
}

/// Standard base64 with padding, for the basic-auth header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Sink for CollectorSink {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        let envelope = Envelope::batch(batch.process());
        let mut spans = Vec::new();
        for span in batch.spans() {
            encode::span(&mut spans, Protocol::Binary, span, &self.limits);
        }
        let mut out = Vec::with_capacity(spans.len() + envelope.overhead());
        envelope.write(&spans, batch.len(), &mut out);
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            let failure = match self.post(&out) {
                Ok(code) if (200..300).contains(&code) => {
                    return Ok(Sent {
                        bytes: out.len() as u64,
                        batches: 1,
                    })
                }
                // The collector refuses this batch; sending it again would not change that.
                Ok(code) if code < 500 => {
                    return Err(SinkError::new(format_args!(
                        "the Jaeger collector at {} answered {code}",
                        self.endpoint.host_header()
                    )))
                }
                Ok(code) => format!("answered {code}"),
                Err(e) => format!("failed: {e}"),
            };
            if attempt >= self.retries {
                return Err(SinkError::new(format_args!(
                    "posting to the Jaeger collector at {} {failure} ({} attempts)",
                    self.endpoint.host_header(),
                    attempt + 1
                )));
            }
            attempt += 1;
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_or_say_why_not() {
        assert_eq!(
            Endpoint::parse("http://jaeger:14268/api/traces"),
            Ok(Endpoint {
                host: "jaeger".into(),
                port: 14268,
                path: "/api/traces".into()
            })
        );
        let v6 = Endpoint::parse("http://[::1]:14268/api/traces").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 14268));
        assert_eq!(v6.host_header(), "[::1]:14268");
        assert_eq!(Endpoint::parse("http://collector").unwrap().port, 80);
        assert!(Endpoint::parse("https://x/api")
            .unwrap_err()
            .contains("https is not supported"));
        assert!(Endpoint::parse("jaeger:14268")
            .unwrap_err()
            .contains("expected http://"));
        assert!(Endpoint::parse("http://u:p@x/api")
            .unwrap_err()
            .contains("JAEGER_USER"));
        assert!(Endpoint::parse("http://x:99999/")
            .unwrap_err()
            .contains("not a port"));
        assert!(Endpoint::parse("http:///api")
            .unwrap_err()
            .contains("no host"));
    }

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let auth = Auth::Basic {
            user: "ann".into(),
            password: "hunter2".into(),
        };
        assert_eq!(format!("{auth:?}"), "Basic(\"ann\", ***)");
        assert_eq!(format!("{:?}", Auth::Bearer("t0k3n".into())), "Bearer(***)");
    }
}
