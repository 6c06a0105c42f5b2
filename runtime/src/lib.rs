//! Distributed tracing for Rust services, added one function at a time.
//!
//! Write `#[traced]` on a function and every call becomes a span: a child of the caller's span,
//! tagged, finished when the function returns (however it returns), and reported to Jaeger.
//! Spans of one request, across threads, async tasks and services, form one trace.
//!
//! ```
//! use traced::{traced, Context};
//!
//! struct MongoRepository { db: String }
//!
//! impl MongoRepository {
//!     #[traced(tags(db.type = "mongo", db.instance = self.db.clone()))]
//!     fn get_all_images(&self) -> Result<Vec<String>, std::io::Error> {
//!         Ok(vec!["cat.png".into()])
//!     }
//! }
//!
//! // The Go way: an explicit context, rebound to the child inside the body.
//! #[traced(kind = server)]
//! fn handle(cx: &Context, repo: &MongoRepository) -> usize {
//!     list(cx, repo)
//! }
//!
//! #[traced]
//! fn list(_cx: &Context, repo: &MongoRepository) -> usize {
//!     repo.get_all_images().map_or(0, |images| images.len()) // a child of `list`, implicitly
//! }
//!
//! let capture = traced::testing::Capture::install();
//! let repo = MongoRepository { db: "gallery".into() };
//! assert_eq!(handle(&Context::NONE, &repo), 1);
//!
//! let spans = capture.spans();
//! let (handle, list, get) = (capture.span("handle"), capture.span("list"), capture.span("get_all_images"));
//! assert_eq!(spans.len(), 3);
//! assert_eq!(list.parent_id(), Some(handle.span_id()));
//! assert_eq!(get.parent_id(), Some(list.span_id()));
//! assert_eq!(get.tag("db.type"), Some("mongo".into()));
//! ```
//!
//! In a service, install the tracer once at start-up; dropping the guard flushes what is left:
//!
//! ```no_run
//! fn main() -> Result<(), traced::Error> {
//!     let _tracing = traced::init(traced::Config::from_env()?)?;
//!     // ... run the service ...
//!     Ok(())
//! }
//! ```
//!
//! Without [`init`], traced functions run as if untraced, at the cost of one atomic load.

// The layers, each using only those above it in this list.
mod config;
mod context;
mod error;
mod host;
mod ids;
mod local;
mod metrics;
mod sampler;
mod tag;
mod tracer;

#[cfg(feature = "tracing")]
pub mod bridge;
#[cfg(feature = "http")]
pub mod http;
pub mod propagation;
pub mod report;
#[cfg(feature = "rustracing")]
pub mod rustracing;
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

pub use config::Config;
pub use context::Context;
pub use error::Error;
pub use ids::{ParseIdError, SpanId, TraceId};
pub use local::instrument::{FutureExt, WithContext};
pub use local::record::{Log, ReferenceKind, SpanRecord};
pub use metrics::Metrics;
pub use sampler::{Sampler, SamplerError};
pub use tag::{IntoTagValue, TagValue};
/// Traces every call of a function, or of every method of an `impl` block, as a span.
///
/// The span is a child of the caller's span (an explicit [`Context`] parameter first, else the
/// current span of the thread or async task, else a new root, sampled by the tracer's
/// [`Sampler`]), runs with the body as its current span, and finishes when the function returns:
/// normally, by `return` or `?`, by a panic (tagged `error = true`, with the panic message in a
/// log, and the panic keeps unwinding), or for an `async fn` when the future completes or is
/// dropped first (tagged `cancelled = true`). A function returning `Err` gets `error = true` and
/// a log with `event = error`, `error.kind` and `message`.
///
/// Futures are traced for their whole life, whatever makes them: an `async fn`, an `async fn`
/// rewritten by `#[async_trait]` (either attribute first), or a sync function whose value is an
/// `async` block (`-> impl Future { async move { .. } }`, `Box::pin(async move { .. })`). The
/// span starts when the future is first polled, which is when its body starts: a future
/// dropped before that ran none of the function and records no span; one dropped after it and
/// before completing is tagged `cancelled = true`.
///
/// The function stays as written: its signature, attributes, `#[track_caller]` (the caller's
/// location is still the caller's), the types its body coerces to (`!`, `Box<dyn Trait>`,
/// `&dyn Trait`), `Send` and `Sync` futures, its lints, and errors reported at its own tokens.
/// In a `#[track_caller]` function the body runs without the closure that catches `return` and
/// `?`, so an `Err` is recorded when the body's tail is one, not when `?` returns it early.
///
/// | argument | effect |
/// | --- | --- |
/// | `name = "GetAllImages request"` | the span name; default the fn name, `Type::method` on an impl block |
/// | `tags(db.type = "mongo", rows = 3, id = %id, q = ?query, n = self.len())` | tags: literals cost nothing per call; `%e` records `Display`, `?e` `Debug`; others (bool, integer, float, string) are computed only when sampled |
/// | `kind = server` / `client` / `producer` / `consumer` | the `span.kind` tag |
/// | `follows_from` | a FollowsFrom reference to the parent instead of ChildOf |
/// | `args`, `skip(password, token)` | records the arguments (typed, else `Debug`), except those skipped and those an explicit tag names; none by default; `skip(self)` is accepted (the receiver is never recorded) |
/// | `ret` | records the return value as the `return` tag |
/// | `context = cx` / `context = none` | names the parent-context parameter / disables its detection |
/// | `crate = path` | where the `traced` crate is, if renamed |
/// | `off` | on a method of a traced impl block: leave it untraced |
///
/// ```
/// use traced::{traced, Context};
///
/// struct Repo { db: String }
///
/// #[traced(tags(db.type = "mongo", db.instance = self.db.clone()))]
/// impl Repo {
///     fn get_all_images(&self, cx: &Context) -> Result<Vec<String>, std::fmt::Error> {
///         // `cx` is this span's context here: passing it on makes a grandchild.
///         Ok(vec![format!("{}", cx.span_id())])
///     }
///
///     #[traced(name = "Repo.count", args, ret)]
///     fn count(&self, filter: &str) -> usize { filter.len() }
///
///     #[traced(off)]
///     fn name(&self) -> &str { &self.db }
/// }
///
/// #[traced(kind = server, tags(http.method = "GET"))]
/// async fn handler(repo: &Repo) -> usize {
///     repo.count("*") + repo.get_all_images(&Context::current()).map_or(0, |v| v.len())
/// }
///
/// let capture = traced::testing::Capture::install();
/// let repo = Repo { db: "gallery".into() };
/// let images = tokio::runtime::Runtime::new().unwrap().block_on(handler(&repo));
/// assert_eq!(images, 2);
/// let handler = capture.span("handler");
/// assert_eq!(capture.span("Repo::get_all_images").parent_id(), Some(handler.span_id()));
/// assert_eq!(capture.span("Repo.count").tag("return"), Some(traced::TagValue::Integer(1)));
/// ```
pub use traced_macros::traced;

use config::Destination;
use report::{AgentSink, CollectorSink, ConsoleSink, Process, Sink};
use tag::LogField;
use tracer::Tracer;

/// Installs the global tracer described by `config` and starts its reporter thread.
///
/// Keep the returned guard alive for as long as spans should be reported: dropping it sends
/// every finished span (waiting up to [`Config::shutdown_timeout`]) and uninstalls the tracer.
///
/// # Errors
///
/// An invalid setting, an agent address that does not resolve, or a tracer installed already.
pub fn init(config: Config) -> Result<TracerGuard, Error> {
    config.validate()?;
    if let Some(formats) = &config.propagation {
        propagation::set_formats(Some(formats.clone()));
    }
    let shutdown_timeout = config.shutdown_timeout;
    if config.disabled {
        return Ok(TracerGuard {
            tracer: None,
            shutdown_timeout,
        });
    }
    // Where spans go, if known: the `ip` process tag is the address this host reaches it from.
    let mut toward = None;
    let sink: Box<dyn Sink> = match config.destination {
        Destination::Agent { address, protocol } => {
            match AgentSink::new(address.as_str(), protocol) {
                Ok(sink) => {
                    toward = Some(sink.agent());
                    Box::new(
                        sink.max_packet_size(config.max_packet_size)
                            .max_tag_value_length(config.max_tag_value_length),
                    )
                }
                Err(source) => return Err(Error::Agent { address, source }),
            }
        }
        Destination::Collector { endpoint, auth } => match CollectorSink::new(&endpoint) {
            Ok(sink) => {
                // The host is resolved on every request, so a collector that starts later or
                // moves is found; one that does not resolve now gets a warning, not an error.
                match sink.resolve() {
                    Ok(addresses) => toward = addresses.first().copied(),
                    Err(e) => eprintln!(
                        "traced: the Jaeger collector {endpoint:?} does not resolve now ({e}); \
                         spans are sent once it does, and counted as failed until then"
                    ),
                }
                Box::new(
                    sink.auth(auth)
                        .max_tag_value_length(config.max_tag_value_length),
                )
            }
            Err(e) => {
                return Err(Error::InvalidSetting {
                    setting: "collector",
                    reason: e.to_string(),
                })
            }
        },
        #[cfg(feature = "otlp")]
        Destination::Otlp(sink) => {
            match sink.resolve() {
                Ok(addresses) => toward = addresses.first().copied(),
                Err(e) => eprintln!(
                    "traced: the OTLP endpoint {:?} does not resolve now ({e}); spans are sent \
                     once it does, and counted as failed until then",
                    sink.url()
                ),
            }
            Box::new(sink)
        }
        Destination::Sink(sink) => sink,
    };
    let sink: Box<dyn Sink> = if config.log_spans {
        Box::new(report::Tee {
            primary: sink,
            also: ConsoleSink::stdout(),
        })
    } else {
        sink
    };
    let process = Process {
        service_name: config.service_name,
        tags: host::process_tags(config.tags, toward),
    };
    let tracer = tracer::install(Tracer::new(config.sampler, config.queue_size))
        .map_err(|_| Error::AlreadyInstalled)?;
    if let Err(e) = report::spawn(tracer, sink, process, config.flush_interval) {
        tracer::uninstall(tracer);
        return Err(Error::Thread(e));
    }
    Ok(TracerGuard {
        tracer: Some(tracer),
        shutdown_timeout,
    })
}

/// Keeps the tracer installed; dropping it flushes the last spans and uninstalls the tracer.
#[must_use = "dropping the guard uninstalls the tracer at once"]
pub struct TracerGuard {
    tracer: Option<&'static Tracer>,
    shutdown_timeout: Duration,
}

impl TracerGuard {
    /// Sends every span finished so far; see [`flush`].
    pub fn flush(&self) -> bool {
        self.tracer.map_or(true, |t| t.flush(self.shutdown_timeout))
    }

    /// This tracer's self-metrics.
    pub fn metrics(&self) -> Metrics {
        self.tracer
            .map(|t| t.counters.snapshot(t.queued()))
            .unwrap_or_default()
    }
}

impl Drop for TracerGuard {
    fn drop(&mut self) {
        if let Some(tracer) = self.tracer.take() {
            tracer::uninstall(tracer);
            tracer.shut_down(self.shutdown_timeout);
        }
    }
}

impl fmt::Debug for TracerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracerGuard")
            .field("installed", &self.tracer.is_some())
            .finish()
    }
}

/// Sends every span finished before this call to the sink, waiting up to 5 seconds. Returns
/// `false` if that was not enough (the spans stay queued and go out later).
pub fn flush() -> bool {
    flush_within(Duration::from_secs(5))
}

/// [`flush`], waiting up to `timeout`.
pub fn flush_within(timeout: Duration) -> bool {
    tracer::get().map_or(true, |t| t.flush(timeout))
}

/// The installed tracer's self-metrics (zero when none is installed), with the process-wide
/// propagation counters.
pub fn metrics() -> Metrics {
    tracer::get().map_or_else(
        || Metrics::default().with_process_wide(),
        |t| t.counters.snapshot(t.queued()),
    )
}

/// Adds a tag to the span running now (in a `#[traced]` function: its own span). Does nothing
/// when that span is not sampled or there is none.
///
/// ```
/// #[traced::traced]
/// fn resize(width: u32) {
///     traced::tag("image.width", width);
///     traced::tag("cache.hit", false);
/// }
/// # resize(640);
/// ```
pub fn tag(key: impl Into<Cow<'static, str>>, value: impl IntoTagValue) {
    local::current::with_open_span(|span| span.set_tag(key, value.into_tag_value()));
}

/// Writes a log (a timestamped event) on the span running now, with the field
/// `event = message`.
///
/// ```
/// #[traced::traced]
/// fn fetch() {
///     traced::log("cache miss");
/// }
/// # fetch();
/// ```
pub fn log(message: impl fmt::Display) {
    local::current::with_open_span(|span| {
        span.push_log(Log::new(vec![LogField::new("event", message.to_string())]));
    });
}

/// Writes a log with the given fields on the span running now.
///
/// ```
/// #[traced::traced]
/// fn retry(attempt: u32) {
///     traced::log_fields([("event", "retry".to_string()), ("attempt", attempt.to_string())]);
/// }
/// # retry(2);
/// ```
pub fn log_fields<K, V>(fields: impl IntoIterator<Item = (K, V)>)
where
    K: Into<Cow<'static, str>>,
    V: Into<Cow<'static, str>>,
{
    let fields: Vec<LogField> = fields
        .into_iter()
        .map(|(k, v)| LogField::new(k, v))
        .collect();
    local::current::with_open_span(|span| span.push_log(Log::new(fields)));
}

/// Sets a baggage item on the current context: every span started under it from now on, in this
/// process and in the services the context is propagated to, can read it.
///
/// ```
/// traced::set_baggage("tenant", "acme");
/// assert_eq!(traced::baggage("tenant").as_deref(), Some("acme"));
/// ```
pub fn set_baggage(key: impl Into<String>, value: impl Into<String>) {
    let (key, value) = (key.into(), value.into());
    local::current::with_mut(|cx| cx.set_baggage(key, value));
}

/// The value of a baggage item of the current context.
pub fn baggage(key: &str) -> Option<String> {
    local::current::with(|cx| cx.baggage(key).map(str::to_owned))
}
