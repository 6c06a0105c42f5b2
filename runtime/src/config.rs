//! `Config`: the tracer's settings, built in code or read from the `JAEGER_*` variables that
//! every Jaeger client understands and the `OTEL_*` ones of OpenTelemetry's SDKs.

mod env;
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
/// | `JAEGER_TAGS` | process tags, `k=v,k2=${ENV_VAR},k3=${ENV_VAR:default}`; an unset or empty `ENV_VAR` takes the default, and without one is an error | none |
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

impl Config {
    /// Default largest capacity of each thread's finished-span queue: 160 ms of spans for a
    /// thread making 100,000 a second, enough to ride out the reporter thread being kept off a
    /// core on a loaded machine. A queue grows to it only while the reporter is late (see
    /// [`Config::queue_size`]).
    pub const DEFAULT_QUEUE_SIZE: usize = 16_384;

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
            max_tag_value_length: AgentSink::DEFAULT_MAX_TAG_VALUE_LENGTH,
            log_spans: false,
            queue_size: Self::DEFAULT_QUEUE_SIZE,
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

    /// Cuts string tag values longer than `bytes` when they are sent to Jaeger (default
    /// [`AgentSink::DEFAULT_MAX_TAG_VALUE_LENGTH`], 256, as Jaeger's Go client does).
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
    /// [`Config::DEFAULT_QUEUE_SIZE`], 16,384, rounded up to a power of two). Every thread that
    /// records spans gets its own queue, so that threads never contend to hand spans over; when
    /// a thread's queue is full at this size, its spans are dropped and counted: the
    /// application never waits.
    ///
    /// A queue holds spans by value, 192 bytes each (a record on cache lines of its own), and is
    /// sized to what its thread needs:
    /// - it starts at 256 spans (48 KiB) when its thread finishes its first span;
    /// - a busy thread's grows to 2,048 (384 KiB), small enough to stay in cache as the thread
    ///   writes its way round it, and wakes the reporter when half of it waits (waking is a
    ///   system call on the thread, so a smaller queue grows rather than waking often);
    /// - only when the reporter falls behind and the queue fills does it grow further,
    ///   fourfold at a time, up to this size (3 MiB at the default), and it comes back to
    ///   2,048 once the reporter keeps up again.
    ///
    /// Outgrown queues are drained and freed by the reporter, as are the queues of threads
    /// that have exited.
    ///
    /// ```
    /// // A service with many threads and a small memory budget: at most 512 spans (96 KiB) a
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
