//! `Config`: the tracer's settings, built in code or read from the `JAEGER_*` variables that
//! every Jaeger client understands and the `OTEL_*` ones of OpenTelemetry's SDKs.

mod otel;

use std::fmt;
use std::time::Duration;

use crate::error::Error;
use crate::propagation::Format;
use crate::report::{AgentSink, Auth, Protocol, Sink};
use crate::sampler::Sampler;
use crate::tag::{IntoTagValue, TagValue};

/// Where spans are sent.
pub(crate) enum Destination {
    Agent {
        address: String,
        protocol: Protocol,
    },
    Collector {
        endpoint: String,
        auth: Auth,
    },
    #[cfg(feature = "otlp")]
    Otlp(crate::report::OtlpSink),
    Sink(Box<dyn Sink>),
}

/// The tracer's settings, for [`crate::init`].
///
/// In code:
///
/// ```
/// use std::time::Duration;
/// use traced::{Config, Sampler};
///
/// let config = Config::new("gallery-api")
///     .sampler(Sampler::probabilistic(0.1).unwrap())
///     .agent("127.0.0.1:6831")
///     .tag("region", "eu-west-1")
///     .flush_interval(Duration::from_millis(500));
/// # let _ = config;
/// ```
///
/// From the environment, with the names and meanings of Jaeger's clients:
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `JAEGER_SERVICE_NAME` | the service name | the executable's name |
/// | `JAEGER_AGENT_HOST` | the agent's host | `127.0.0.1` |
/// | `JAEGER_AGENT_PORT` | the agent's UDP port (thrift compact) | `6831` |
/// | `JAEGER_SAMPLER_TYPE` | `const`, `probabilistic` or `ratelimiting` | `const` |
/// | `JAEGER_SAMPLER_PARAM` | 0 or 1; a probability; traces per second | `1` |
/// | `JAEGER_TAGS` | process tags, `k=v,k2=${ENV_VAR:default}` | none |
/// | `JAEGER_DISABLED` | `true` installs no tracer | `false` |
/// | `JAEGER_ENDPOINT` | a collector, `http://host:14268/api/traces` (instead of the agent) | none |
/// | `JAEGER_USER`, `JAEGER_PASSWORD` | basic authentication to the collector | none |
/// | `JAEGER_AUTH_TOKEN` | bearer authentication to the collector | none |
/// | `JAEGER_REPORTER_MAX_QUEUE_SIZE` | spans each thread may have waiting ([`Config::queue_size`]) | `16384` |
/// | `JAEGER_REPORTER_FLUSH_INTERVAL` | longest wait of a finished span (`1s`, `500ms`) | `1s` |
/// | `JAEGER_REPORTER_LOG_SPANS` | `true` also prints each span (console sink) | `false` |
///
/// And OpenTelemetry's, which win over the `JAEGER_*` variable naming the same setting:
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `OTEL_SERVICE_NAME` | the service name | `service.name` of the next, else `JAEGER_SERVICE_NAME`'s |
/// | `OTEL_RESOURCE_ATTRIBUTES` | process tags (the resource), `k=v,k2=v%202` | none |
/// | `OTEL_TRACES_SAMPLER` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` | `JAEGER_SAMPLER_TYPE`'s |
/// | `OTEL_TRACES_SAMPLER_ARG` | the ratio, 0 to 1 | `1` |
/// | `OTEL_PROPAGATORS` | header formats for the whole process: `tracecontext`, `baggage`, `b3`, `b3multi`, `jaeger`, `none` ([`Config::propagation`]) | all read; Jaeger and W3C written |
/// | `OTEL_SDK_DISABLED` | `true` installs no tracer | `JAEGER_DISABLED`'s |
/// | `OTEL_TRACES_EXPORTER` | `otlp`, `jaeger` (the `JAEGER_*` destination), `console`, `none`; `console` may be listed beside another | `otlp` when an OTLP endpoint is set, else `jaeger` |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | the OTLP/HTTP base URL (`/v1/traces` is appended) | `http://localhost:4318` |
/// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the traces URL, used as it is | none |
/// | `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` | request headers, `k=v,k2=v2` | none |
/// | `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` | milliseconds | `10000` |
/// | `OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION` | `gzip` or `none` | `none` |
/// | `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` | `http/protobuf` or `http/json` | `http/protobuf` |
///
/// The OTLP exporter needs the `otlp` feature; without it, choosing it is an error.
pub struct Config {
    pub(crate) service_name: String,
    pub(crate) tags: Vec<(String, TagValue)>,
    pub(crate) sampler: Sampler,
    pub(crate) destination: Destination,
    pub(crate) max_packet_size: usize,
    pub(crate) max_tag_value_length: usize,
    pub(crate) log_spans: bool,
    pub(crate) queue_size: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) disabled: bool,
    /// The process-wide propagation formats, set by [`crate::init`].
    pub(crate) propagation: Option<Vec<Format>>,
}

/// Default largest capacity of each thread's finished-span queue: 160 ms of spans for a thread
/// making 100,000 a second, enough to ride out the reporter thread being kept off a core on a
/// loaded machine. A queue grows to it only while the reporter is late (see
/// [`Config::queue_size`]).
pub const DEFAULT_QUEUE_SIZE: usize = 16_384;

impl Config {
    /// Settings for `service_name`: every trace sampled, reported to a Jaeger agent on
    /// `127.0.0.1:6831`.
    pub fn new(service_name: impl Into<String>) -> Self {
        Config {
            service_name: service_name.into(),
            tags: Vec::new(),
            sampler: Sampler::always(),
            destination: Destination::Agent {
                address: "127.0.0.1:6831".into(),
                protocol: Protocol::Compact,
            },
            max_packet_size: AgentSink::DEFAULT_MAX_PACKET_SIZE,
            max_tag_value_length: crate::report::DEFAULT_MAX_TAG_VALUE_LENGTH,
            log_spans: false,
            queue_size: DEFAULT_QUEUE_SIZE,
            flush_interval: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(5),
            disabled: false,
            propagation: None,
        }
    }

    /// Reads the `JAEGER_*` and `OTEL_*` variables (see the tables above; an `OTEL_*` variable
    /// wins over the `JAEGER_*` one naming the same setting). A variable set to a value that
    /// cannot be used is an error naming the variable and the value.
    ///
    /// ```no_run
    /// let _guard = traced::init(traced::Config::from_env()?)?;
    /// # Ok::<(), traced::Error>(())
    /// ```
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let service_name = var("JAEGER_SERVICE_NAME")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(executable_name);
        let mut config = Config::new(service_name);

        if let Some(value) = var("JAEGER_DISABLED") {
            config.disabled = parse_bool("JAEGER_DISABLED", &value)?;
        }

        let host = var("JAEGER_AGENT_HOST").filter(|h| !h.trim().is_empty());
        let port = match var("JAEGER_AGENT_PORT") {
            Some(value) => value
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| {
                    invalid(
                        "JAEGER_AGENT_PORT",
                        &value,
                        "expected a port number from 1 to 65535",
                    )
                })?,
            None => Protocol::Compact.default_port(),
        };
        let host = host.as_deref().map_or("127.0.0.1", str::trim);
        let address = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}") // a bare IPv6 address
        } else {
            format!("{host}:{port}")
        };
        config.destination = Destination::Agent {
            address,
            protocol: Protocol::Compact,
        };

        if let Some(endpoint) = var("JAEGER_ENDPOINT").filter(|e| !e.trim().is_empty()) {
            crate::report::collector_endpoint(&endpoint)
                .map_err(|reason| invalid("JAEGER_ENDPOINT", &endpoint, reason))?;
            config.destination = Destination::Collector {
                endpoint,
                auth: auth_from(&var)?,
            };
        }

        config.sampler = sampler_from(var("JAEGER_SAMPLER_TYPE"), var("JAEGER_SAMPLER_PARAM"))?;

        if let Some(value) = var("JAEGER_REPORTER_MAX_QUEUE_SIZE") {
            config.queue_size = value
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1 << 20).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "JAEGER_REPORTER_MAX_QUEUE_SIZE",
                        &value,
                        "expected a number of spans from 1 to 1048576",
                    )
                })?;
        }
        if let Some(value) = var("JAEGER_REPORTER_FLUSH_INTERVAL") {
            config.flush_interval =
                parse_duration(&value)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        invalid(
                            "JAEGER_REPORTER_FLUSH_INTERVAL",
                            &value,
                            "expected a duration such as 1s or 500ms",
                        )
                    })?;
        }
        if let Some(value) = var("JAEGER_REPORTER_LOG_SPANS") {
            config.log_spans = parse_bool("JAEGER_REPORTER_LOG_SPANS", &value)?;
        }

        if let Some(value) = var("JAEGER_TAGS") {
            config.tags = parse_tags(&value, &var)?;
        }
        otel::apply(&mut config, &var)?;
        Ok(config)
    }

    /// Decides which new traces are recorded (default: all).
    #[must_use]
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// Adds a process tag (shown on every span of this service in Jaeger).
    #[must_use]
    pub fn tag(mut self, key: impl Into<String>, value: impl IntoTagValue) -> Self {
        self.tags.push((key.into(), value.into_tag_value()));
        self
    }

    /// Reports to the Jaeger agent at `address` (`host:port`) over UDP, thrift compact. The host
    /// is resolved by [`crate::init`]: a name that does not resolve is an error there.
    #[must_use]
    pub fn agent(self, address: impl Into<String>) -> Self {
        self.agent_with(address, Protocol::Compact)
    }

    /// Reports to the Jaeger agent at `address` with the given thrift protocol.
    #[must_use]
    pub fn agent_with(mut self, address: impl Into<String>, protocol: Protocol) -> Self {
        self.destination = Destination::Agent {
            address: address.into(),
            protocol,
        };
        self
    }

    /// Reports to the Jaeger collector at `endpoint` (`http://host:14268/api/traces`) over
    /// HTTP, thrift binary, authenticated with `auth`. Checked by [`crate::init`].
    #[must_use]
    pub fn collector(mut self, endpoint: impl Into<String>, auth: Auth) -> Self {
        self.destination = Destination::Collector {
            endpoint: endpoint.into(),
            auth,
        };
        self
    }

    /// Reports to an OpenTelemetry backend over OTLP/HTTP (feature `otlp`).
    ///
    /// ```
    /// use traced::report::{Compression, OtlpSink};
    ///
    /// let sink = OtlpSink::new("http://localhost:4318/v1/traces")?.compression(Compression::Gzip);
    /// let config = traced::Config::new("gallery").otlp(sink);
    /// # let _ = config;
    /// # Ok::<(), traced::report::SinkError>(())
    /// ```
    #[cfg(feature = "otlp")]
    #[must_use]
    pub fn otlp(mut self, sink: crate::report::OtlpSink) -> Self {
        self.destination = Destination::Otlp(sink);
        self
    }

    /// Also writes each finished span as a line on standard output (Jaeger's
    /// `JAEGER_REPORTER_LOG_SPANS`).
    #[must_use]
    pub fn log_spans(mut self, log: bool) -> Self {
        self.log_spans = log;
        self
    }

    /// Cuts string tag values longer than `bytes` when they are sent to Jaeger (default 256, as
    /// Jaeger's Go client does).
    #[must_use]
    pub fn max_tag_value_length(mut self, bytes: usize) -> Self {
        self.max_tag_value_length = bytes;
        self
    }

    /// Reports to a sink of your own instead of a Jaeger agent.
    #[must_use]
    pub fn sink(mut self, sink: impl Sink) -> Self {
        self.destination = Destination::Sink(Box::new(sink));
        self
    }

    /// Keeps every UDP datagram within `bytes` (default 65,000, the agent's limit).
    #[must_use]
    pub fn max_packet_size(mut self, bytes: usize) -> Self {
        self.max_packet_size = bytes;
        self
    }

    /// How many finished spans each thread may have waiting for the reporter thread (default
    /// [`DEFAULT_QUEUE_SIZE`], 16,384, rounded up to a power of two). Every thread that records
    /// spans gets its own queue, so that threads never contend to hand spans over; when a
    /// thread's queue is full at this size, its spans are dropped and counted: the application
    /// never waits.
    ///
    /// A queue holds spans by value, about 90 bytes each, and is sized to what its thread
    /// needs:
    /// - it starts at 256 spans (23 KiB) when its thread finishes its first span;
    /// - a busy thread's grows to 2,048 (180 KiB), small enough to stay in cache as the thread
    ///   writes its way round it, and wakes the reporter when a quarter of it waits (waking is
    ///   a system call on the thread, so a smaller queue grows rather than waking often);
    /// - only when the reporter falls behind and the queue fills does it grow further,
    ///   fourfold at a time, up to this size (1.4 MiB at the default), and it comes back to
    ///   2,048 once the reporter keeps up again.
    ///
    /// Outgrown queues are drained and freed by the reporter, as are the queues of threads
    /// that have exited.
    ///
    /// ```
    /// // A service with many threads and a small memory budget: at most 512 spans (46 KiB) a
    /// // thread.
    /// let config = traced::Config::new("gallery").queue_size(512);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn queue_size(mut self, spans: usize) -> Self {
        self.queue_size = spans;
        self
    }

    /// How long a finished span may wait in a partial batch before it is sent (default 1 s).
    #[must_use]
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// How long dropping the guard of [`crate::init`] waits for the last spans to be sent
    /// (default 5 s).
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The header formats of the whole process (what `OTEL_PROPAGATORS` sets): once
    /// [`crate::init`] has run, every [`crate::propagation::Propagator::default`], and so
    /// every `TraceLayer` and client made without a propagator of its own, reads them in this
    /// order and writes them all. An empty list propagates nothing.
    ///
    /// ```
    /// use traced::propagation::Format;
    ///
    /// let config = traced::Config::new("gallery").propagation([Format::W3C, Format::B3Multi]);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn propagation(mut self, formats: impl IntoIterator<Item = Format>) -> Self {
        self.propagation = Some(formats.into_iter().collect());
        self
    }

    /// `true` installs no tracer at all: traced functions run as if untraced.
    #[must_use]
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// Names the service `name` unless a variable named it (`JAEGER_SERVICE_NAME`,
    /// `OTEL_SERVICE_NAME`, `service.name` in `OTEL_RESOURCE_ATTRIBUTES`): for a program that
    /// runs as several services, each with its own default.
    ///
    /// ```
    /// let config = traced::Config::from_env().unwrap().default_service_name("gallery-api");
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn default_service_name(mut self, name: impl Into<String>) -> Self {
        if !otel::names_service(&|name: &str| std::env::var(name).ok()) {
            self.service_name = name.into();
        }
        self
    }

    /// The service name.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let setting = |setting, reason: &str| Error::InvalidSetting {
            setting,
            reason: reason.into(),
        };
        if self.service_name.trim().is_empty() {
            return Err(setting("service_name", "must not be empty"));
        }
        if self.queue_size == 0 {
            return Err(setting("queue_size", "must be at least 1"));
        }
        if self.max_packet_size < 512 {
            return Err(setting("max_packet_size", "must be at least 512 bytes"));
        }
        if self.flush_interval.is_zero() {
            return Err(setting("flush_interval", "must be longer than zero"));
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let destination = match &self.destination {
            Destination::Agent { address, protocol } => format!("agent {address} ({protocol:?})"),
            Destination::Collector { endpoint, auth } => format!("collector {endpoint} ({auth:?})"),
            #[cfg(feature = "otlp")]
            Destination::Otlp(sink) => format!("otlp {}", sink.url()),
            Destination::Sink(_) => "custom sink".to_owned(),
        };
        f.debug_struct("Config")
            .field("service_name", &self.service_name)
            .field("sampler", &self.sampler)
            .field("destination", &destination)
            .field("tags", &self.tags)
            .field("queue_size", &self.queue_size)
            .field("flush_interval", &self.flush_interval)
            .field("disabled", &self.disabled)
            .field("propagation", &self.propagation)
            .finish_non_exhaustive()
    }
}

fn invalid(variable: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidVariable {
        variable,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown_service".to_owned())
}

/// The collector's authentication from `JAEGER_USER`/`JAEGER_PASSWORD` or `JAEGER_AUTH_TOKEN`.
fn auth_from(var: &impl Fn(&str) -> Option<String>) -> Result<Auth, Error> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    match (
        set("JAEGER_USER"),
        set("JAEGER_PASSWORD"),
        set("JAEGER_AUTH_TOKEN"),
    ) {
        (None, None, None) => Ok(Auth::None),
        (None, None, Some(token)) => Ok(Auth::Bearer(token)),
        (Some(user), Some(password), None) => Ok(Auth::Basic { user, password }),
        (Some(user), None, _) => Err(invalid(
            "JAEGER_USER",
            &user,
            "JAEGER_PASSWORD must be set with it",
        )),
        (None, Some(_), _) => Err(invalid(
            "JAEGER_PASSWORD",
            "***",
            "JAEGER_USER must be set with it",
        )),
        (Some(user), Some(_), Some(_)) => Err(invalid(
            "JAEGER_USER",
            &user,
            "set either JAEGER_USER and JAEGER_PASSWORD or JAEGER_AUTH_TOKEN, not both",
        )),
    }
}

/// Parses Go's duration syntax, as Jaeger's variables and query API write durations: a number
/// and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), possibly fractional, possibly several.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(traced::parse_duration("1m30.5s"), Some(Duration::from_millis(90_500)));
/// assert_eq!(traced::parse_duration("250ms"), Some(Duration::from_millis(250)));
/// assert_eq!(traced::parse_duration("10"), None, "a unit is needed");
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(invalid(variable, value, "expected true or false")),
    }
}

fn sampler_from(kind: Option<String>, param: Option<String>) -> Result<Sampler, Error> {
    let param_value = match &param {
        Some(text) => Some(
            text.trim()
                .parse::<f64>()
                .map_err(|_| invalid("JAEGER_SAMPLER_PARAM", text, "expected a number"))?,
        ),
        None => None,
    };
    let param_text = param.as_deref().unwrap_or_default();
    let kind_text = kind.as_deref().map(str::trim).unwrap_or("const");
    match kind_text {
        "const" | "" => match param_value {
            None => Ok(Sampler::always()),
            Some(1.0) => Ok(Sampler::always()),
            Some(0.0) => Ok(Sampler::never()),
            Some(_) => Err(invalid(
                "JAEGER_SAMPLER_PARAM",
                param_text,
                "the const sampler takes 0 or 1",
            )),
        },
        "probabilistic" => {
            let p = param_value.unwrap_or(0.001);
            Sampler::probabilistic(p)
                .map_err(|e| invalid("JAEGER_SAMPLER_PARAM", param_text, e.to_string()))
        }
        "ratelimiting" => {
            let rate = param_value.unwrap_or(1.0);
            Sampler::rate_limiting(rate)
                .map_err(|e| invalid("JAEGER_SAMPLER_PARAM", param_text, e.to_string()))
        }
        other => Err(invalid(
            "JAEGER_SAMPLER_TYPE",
            other,
            "expected const, probabilistic or ratelimiting (remote sampling is not supported)",
        )),
    }
}

/// Parses `k=v,k2=v2`; a value `${NAME}` or `${NAME:default}` is read from the environment.
fn parse_tags(
    text: &str,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, TagValue)>, Error> {
    let mut tags = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = item
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| invalid("JAEGER_TAGS", text, format!("{item:?} is not key=value")))?;
        let value = match value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
            Some(reference) => {
                let (name, default) = reference.split_once(':').unwrap_or((reference, ""));
                if name.is_empty() {
                    return Err(invalid(
                        "JAEGER_TAGS",
                        text,
                        format!("{item:?} names no variable"),
                    ));
                }
                var(name).unwrap_or_else(|| default.to_owned())
            }
            None => value.to_owned(),
        };
        tags.push((key.to_owned(), TagValue::from(value)));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    fn error(vars: &[(&str, &str)]) -> String {
        from(vars).unwrap_err().to_string()
    }

    #[test]
    fn reads_every_jaeger_variable() {
        let config = from(&[
            ("JAEGER_SERVICE_NAME", "gallery"),
            ("JAEGER_AGENT_HOST", "jaeger-agent"),
            ("JAEGER_AGENT_PORT", "6900"),
            ("JAEGER_SAMPLER_TYPE", "probabilistic"),
            ("JAEGER_SAMPLER_PARAM", "0.25"),
            (
                "JAEGER_TAGS",
                "region=eu, pod=${POD_NAME:unknown}, user=${USER_X}",
            ),
            ("USER_X", "alice"),
            ("JAEGER_DISABLED", "false"),
        ])
        .unwrap();
        assert_eq!(config.service_name, "gallery");
        assert!(
            matches!(&config.destination, Destination::Agent { address, .. } if address == "jaeger-agent:6900")
        );
        assert_eq!(
            format!("{:?}", config.sampler),
            "Sampler::probabilistic(0.25)"
        );
        assert_eq!(
            config.tags,
            vec![
                ("region".to_owned(), TagValue::from("eu")),
                ("pod".to_owned(), TagValue::from("unknown")),
                ("user".to_owned(), TagValue::from("alice")),
            ]
        );
        assert!(!config.disabled);
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let config = from(&[]).unwrap();
        assert!(!config.service_name.is_empty());
        assert!(
            matches!(&config.destination, Destination::Agent { address, .. } if address == "127.0.0.1:6831")
        );
        assert_eq!(format!("{:?}", config.sampler), "Sampler::const(true)");
        assert!(from(&[("JAEGER_DISABLED", "true")]).unwrap().disabled);
        assert_eq!(
            format!(
                "{:?}",
                from(&[("JAEGER_SAMPLER_PARAM", "0")]).unwrap().sampler
            ),
            "Sampler::const(false)"
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        assert_eq!(
            error(&[("JAEGER_AGENT_PORT", "68x1")]),
            "JAEGER_AGENT_PORT=\"68x1\" is invalid: expected a port number from 1 to 65535"
        );
        assert!(error(&[("JAEGER_AGENT_PORT", "70000")]).starts_with("JAEGER_AGENT_PORT=\"70000\""));
        assert!(error(&[("JAEGER_SAMPLER_TYPE", "remote")])
            .starts_with("JAEGER_SAMPLER_TYPE=\"remote\" is invalid"));
        assert!(error(&[("JAEGER_SAMPLER_PARAM", "lots")])
            .starts_with("JAEGER_SAMPLER_PARAM=\"lots\" is invalid"));
        assert!(error(&[
            ("JAEGER_SAMPLER_TYPE", "probabilistic"),
            ("JAEGER_SAMPLER_PARAM", "2")
        ])
        .starts_with("JAEGER_SAMPLER_PARAM=\"2\" is invalid: sampling probability 2"));
        assert!(
            error(&[("JAEGER_SAMPLER_PARAM", "0.5")]).contains("the const sampler takes 0 or 1")
        );
        assert!(error(&[("JAEGER_DISABLED", "yes please")])
            .starts_with("JAEGER_DISABLED=\"yes please\""));
        assert!(error(&[("JAEGER_TAGS", "a=1,oops")]).contains("\"oops\" is not key=value"));
        assert!(error(&[("JAEGER_TAGS", "a=${:x}")]).contains("names no variable"));
    }

    #[test]
    fn collector_and_reporter_variables() {
        let config = from(&[
            ("JAEGER_ENDPOINT", "http://jaeger:14268/api/traces"),
            ("JAEGER_USER", "ann"),
            ("JAEGER_PASSWORD", "secret"),
            ("JAEGER_REPORTER_MAX_QUEUE_SIZE", "100"),
            ("JAEGER_REPORTER_FLUSH_INTERVAL", "1m30.5s"),
            ("JAEGER_REPORTER_LOG_SPANS", "true"),
        ])
        .unwrap();
        assert!(matches!(
            &config.destination,
            Destination::Collector { endpoint, auth: Auth::Basic { user, password } }
                if endpoint == "http://jaeger:14268/api/traces" && user == "ann" && password == "secret"
        ));
        assert_eq!(config.queue_size, 100);
        assert_eq!(config.flush_interval, Duration::from_millis(90_500));
        assert!(config.log_spans);
        let bearer = from(&[
            ("JAEGER_ENDPOINT", "http://c/api/traces"),
            ("JAEGER_AUTH_TOKEN", "t0k3n"),
        ])
        .unwrap();
        assert!(
            matches!(&bearer.destination, Destination::Collector { auth: Auth::Bearer(t), .. } if t == "t0k3n")
        );
        assert_eq!(
            from(&[("JAEGER_REPORTER_FLUSH_INTERVAL", "250ms")])
                .unwrap()
                .flush_interval,
            Duration::from_millis(250)
        );
    }

    #[test]
    fn bad_collector_and_reporter_values_name_the_variable_and_the_value() {
        assert!(
            error(&[("JAEGER_ENDPOINT", "https://jaeger/api/traces")]).starts_with(
                "JAEGER_ENDPOINT=\"https://jaeger/api/traces\" is invalid: https is not supported"
            )
        );
        assert!(error(&[("JAEGER_ENDPOINT", "jaeger:14268")])
            .starts_with("JAEGER_ENDPOINT=\"jaeger:14268\" is invalid: expected http://"));
        assert!(
            error(&[("JAEGER_ENDPOINT", "http://c/"), ("JAEGER_USER", "ann")])
                .starts_with("JAEGER_USER=\"ann\" is invalid: JAEGER_PASSWORD must be set")
        );
        let password = error(&[
            ("JAEGER_ENDPOINT", "http://c/"),
            ("JAEGER_PASSWORD", "hunter2"),
        ]);
        assert!(!password.contains("hunter2"), "{password}");
        assert_eq!(
            error(&[("JAEGER_REPORTER_MAX_QUEUE_SIZE", "lots")]),
            "JAEGER_REPORTER_MAX_QUEUE_SIZE=\"lots\" is invalid: expected a number of spans from 1 to 1048576"
        );
        assert!(error(&[("JAEGER_REPORTER_MAX_QUEUE_SIZE", "0")]).contains("from 1"));
        assert_eq!(
            error(&[("JAEGER_REPORTER_FLUSH_INTERVAL", "soon")]),
            "JAEGER_REPORTER_FLUSH_INTERVAL=\"soon\" is invalid: expected a duration such as 1s or 500ms"
        );
        assert!(error(&[("JAEGER_REPORTER_FLUSH_INTERVAL", "10")]).contains("expected a duration"));
        assert!(error(&[("JAEGER_REPORTER_FLUSH_INTERVAL", "0s")]).contains("expected a duration"));
        assert!(error(&[("JAEGER_REPORTER_LOG_SPANS", "loud")])
            .starts_with("JAEGER_REPORTER_LOG_SPANS=\"loud\""));
    }

    #[test]
    fn ipv6_agent_hosts_get_brackets() {
        let config = from(&[("JAEGER_AGENT_HOST", "::1")]).unwrap();
        assert!(
            matches!(&config.destination, Destination::Agent { address, .. } if address == "[::1]:6831")
        );
    }
}
