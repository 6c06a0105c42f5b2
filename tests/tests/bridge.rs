//! The `tracing` bridge: `tracing` spans and events, hand-made and from real instrumentation
//! (`#[instrument]`, tower-http's `TraceLayer`), land in traced's traces with the right parents,
//! tags and logs, and log lines name the trace they were written in.

use std::io;
use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use tower::ServiceExt as _;
use traced::bridge::{TracingLayer, WithTraceIds};
use traced::testing::Capture;
use traced::{
    Config, Context, FutureExt as _, Sampler, SpanId, SpanRecord, TagValue, TraceId, traced,
};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Everything the fmt layer of the test subscriber wrote.
static WRITTEN: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Written;

impl io::Write for Written {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        WRITTEN.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The line the fmt layer wrote that contains `marker`.
fn line_with(marker: &str) -> String {
    let written = WRITTEN.lock().unwrap();
    let text = String::from_utf8_lossy(&written);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(marker)).collect();
    assert_eq!(lines.len(), 1, "one line with {marker:?} in {text}");
    lines[0].to_owned()
}

/// Installs the process's `tracing` subscriber (global, so that tokio's worker threads have it
/// too): the bridge, and a fmt layer writing lines with trace ids.
fn subscriber() {
    static SUBSCRIBER: OnceLock<()> = OnceLock::new();
    SUBSCRIBER.get_or_init(|| {
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(|| Written)
            .event_format(WithTraceIds::new(
                tracing_subscriber::fmt::format().without_time(),
            ));
        let subscriber = tracing_subscriber::registry()
            .with(TracingLayer::new())
            .with(fmt);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// A capturing tracer that samples every trace, under the test subscriber.
fn capture() -> Capture {
    subscriber();
    Capture::install()
}

fn string(s: &str) -> Option<TagValue> {
    Some(TagValue::String(s.to_owned().into()))
}

fn assert_child(child: &SpanRecord, parent: &SpanRecord) {
    assert_eq!(
        (child.trace_id(), child.parent_id()),
        (parent.trace_id(), Some(parent.span_id())),
        "{} is a child of {}",
        child.operation_name(),
        parent.operation_name()
    );
}

#[test]
fn a_tracing_span_is_a_traced_span_with_its_fields_as_typed_tags() {
    let capture = capture();
    let timeout = std::time::Duration::from_millis(5);
    tracing::info_span!(
        "resize",
        offset = -3i64,
        count = 7u64,
        huge = u64::MAX,
        ratio = 0.5,
        cached = false,
        format = "png",
        peer = %std::net::Ipv4Addr::LOCALHOST,
        timeout = ?timeout,
    )
    .in_scope(|| {});

    let span = capture.span("resize");
    assert_eq!(span.parent_id(), None);
    assert_eq!(span.tag("offset"), Some(TagValue::Integer(-3)));
    assert_eq!(span.tag("count"), Some(TagValue::Integer(7)));
    assert_eq!(span.tag("huge"), string("18446744073709551615"));
    assert_eq!(span.tag("ratio"), Some(TagValue::Float(0.5)));
    assert_eq!(span.tag("cached"), Some(TagValue::Boolean(false)));
    assert_eq!(span.tag("format"), string("png"));
    assert_eq!(span.tag("peer"), string("127.0.0.1"));
    assert_eq!(span.tag("timeout"), string("5ms"));
    assert_eq!(span.tag("code.namespace"), string(module_path!()));
    assert_eq!(span.tag("error"), None);
}

#[test]
fn a_field_recorded_after_the_span_was_made_lands_as_a_tag() {
    let capture = capture();
    let span = tracing::info_span!("upload", bytes = tracing::field::Empty, status = "started");
    span.record("bytes", 1024);
    span.record("status", "done");
    drop(span);

    let span = capture.span("upload");
    assert_eq!(span.tag("bytes"), Some(TagValue::Integer(1024)));
    assert_eq!(span.tag("status"), string("done"));
}

#[traced]
fn store_thumbnail() {
    tracing::info!(bytes = 2048, "thumbnail stored");
}

#[test]
fn events_become_logs_on_the_current_span_whichever_kind_it_is() {
    let capture = capture();
    tracing::info_span!("store").in_scope(|| {
        tracing::warn!(bucket = "images", "slow write");
        store_thumbnail();
    });

    let store = capture.span("store");
    let [log] = store.logs() else {
        panic!("one log on the bridged span: {store:?}")
    };
    let fields: Vec<(&str, &str)> = log.fields().collect();
    assert_eq!(
        fields,
        [
            ("level", "WARN"),
            ("message", "slow write"),
            ("bucket", "images")
        ]
    );
    let traced = capture.span("store_thumbnail");
    assert_child(&traced, &store);
    let [log] = traced.logs() else {
        panic!("one log on the traced span: {traced:?}")
    };
    assert_eq!(log.field("message"), Some("thumbnail stored"));
    assert_eq!(log.field("bytes"), Some("2048"));
}

#[test]
fn error_kind_and_name_fields_map_as_opentelemetry_conventions_say() {
    let capture = capture();
    tracing::info_span!("write", error = %"disk full").in_scope(|| {});
    tracing::info_span!(
        "fetch",
        otel.name = "GET /images",
        otel.kind = "Client",
        otel.status_code = "ERROR"
    )
    .in_scope(|| {});
    tracing::info_span!("serve", span.kind = "server", otel.status_code = "OK").in_scope(|| {});
    tracing::info_span!("resize").in_scope(|| {
        tracing::error!(error = %"bad header", "decoding failed");
    });

    let write = capture.span("write");
    assert_eq!(write.tag("error"), Some(TagValue::Boolean(true)));
    assert_eq!(write.logs()[0].field("event"), Some("error"));
    assert_eq!(write.logs()[0].field("message"), Some("disk full"));

    let fetch = capture.span("GET /images");
    assert_eq!(fetch.tag("span.kind"), string("client"));
    assert_eq!(fetch.tag("error"), Some(TagValue::Boolean(true)));

    let serve = capture.span("serve");
    assert_eq!(serve.tag("span.kind"), string("server"));
    assert_eq!(serve.tag("error"), None);

    let resize = capture.span("resize");
    assert_eq!(resize.tag("error"), Some(TagValue::Boolean(true)));
    let fields: Vec<(&str, &str)> = resize.logs()[0].fields().collect();
    assert_eq!(
        fields,
        [
            ("event", "error"),
            ("level", "ERROR"),
            ("message", "decoding failed"),
            ("error.object", "bad header")
        ]
    );
}

#[test]
fn an_explicit_parent_is_followed_and_no_parent_is_a_new_root() {
    let capture = capture();
    let request = tracing::info_span!("request");
    tracing::info_span!(parent: &request, "query").in_scope(|| {});
    request.in_scope(|| tracing::info_span!(parent: None, "background").in_scope(|| {}));
    drop(request);

    let request = capture.span("request");
    assert_child(&capture.span("query"), &request);
    let background = capture.span("background");
    assert_eq!(background.parent_id(), None);
    assert_ne!(background.trace_id(), request.trace_id());
}

#[traced]
fn load_image() {}

#[traced]
fn handle_request() {
    tracing::info_span!("query").in_scope(load_image);
}

#[test]
fn traced_and_tracing_spans_are_each_others_children_on_one_thread() {
    let capture = capture();
    tracing::info_span!("request").in_scope(handle_request);

    let request = capture.span("request");
    let handle = capture.span("handle_request");
    let query = capture.span("query");
    assert_eq!(request.parent_id(), None);
    assert_child(&handle, &request);
    assert_child(&query, &handle);
    assert_child(&capture.span("load_image"), &query);
}

#[traced]
async fn leaf(_label: &'static str) {
    tokio::task::yield_now().await;
}

#[tracing::instrument]
async fn middle() {
    tokio::task::yield_now().await;
    leaf("awaited").await;
    // Spawned tasks, carrying the bridged span's context by traced's wrapper and by tracing's.
    tokio::spawn(leaf("with_context").in_current_context())
        .await
        .unwrap();
    tokio::spawn(leaf("instrumented").instrument(tracing::Span::current()))
        .await
        .unwrap();
}

#[traced]
async fn outer() {
    tokio::task::yield_now().await;
    middle().await;
    // A `tracing` span made in a task that carries a traced span's context.
    tokio::spawn(async { tracing::info_span!("in_task").in_scope(|| {}) }.in_current_context())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_chain_keeps_its_parents_across_awaits_and_spawned_tasks() {
    let capture = capture();
    outer().await;

    let outer = capture.span("outer");
    let middle = capture.span("middle");
    assert_eq!(outer.parent_id(), None);
    assert_child(&middle, &outer);
    assert_child(&capture.span("in_task"), &outer);
    let leaves = capture.spans_named("leaf");
    assert_eq!(leaves.len(), 3);
    for leaf in &leaves {
        assert_child(leaf, &middle);
    }
}

#[traced]
fn context_of_a_traced_span() -> Context {
    Context::current()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_innermost_of_a_tracing_span_and_a_traced_context_is_the_parent() {
    let capture = capture();
    let cx = context_of_a_traced_span();
    let tracing_span = tracing::info_span!("tracing_span");
    // traced's context inside tracing's span: traced's wins, and the other way round.
    leaf("context_inside")
        .with_context(cx.clone())
        .instrument(tracing_span.clone())
        .await;
    leaf("span_inside")
        .instrument(tracing_span.clone())
        .with_context(cx)
        .await;
    drop(tracing_span);

    let traced = capture.span("context_of_a_traced_span");
    let tracing_span = capture.span("tracing_span");
    let leaves = capture.spans_named("leaf");
    assert_eq!(leaves.len(), 2);
    // Finished in the order they ran.
    assert_child(&leaves[0], &traced);
    assert_child(&leaves[1], &tracing_span);
}

#[traced]
fn on_a_thread() {}

#[test]
fn threads_carry_either_context() {
    let capture = capture();
    let span = tracing::info_span!("request");
    let cx = span.in_scope(Context::current);
    std::thread::spawn(cx.wrap(on_a_thread)).join().unwrap();
    let moved = span.clone();
    std::thread::spawn(move || moved.in_scope(on_a_thread))
        .join()
        .unwrap();
    drop(span);

    let request = capture.span("request");
    let calls = capture.spans_named("on_a_thread");
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_child(call, &request);
    }
}

#[traced]
fn list_images() {
    tracing::info!("listing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_http_spans_sit_under_the_remote_parent_that_traceds_layer_extracted() {
    let capture = capture();
    let app = Router::new()
        .route(
            "/images",
            get(|| async {
                list_images();
                "[]"
            }),
        )
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(traced::http::TraceLayer::new());
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let request = Request::get("/images")
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    drop(response);

    let server = capture.span("HTTP GET /images");
    assert_eq!(server.trace_id(), trace.parse::<TraceId>().unwrap());
    assert_eq!(server.parent_id(), Some(SpanId::new(0x00f0_67aa_0ba9_02b7)));
    // tower-http's span is named `request`, with the method and URI as fields.
    let tower_http = capture.span("request");
    assert_child(&tower_http, &server);
    assert_eq!(tower_http.tag("method"), string("GET"));
    assert_eq!(tower_http.tag("uri"), string("/images"));
    let messages: Vec<Option<&str>> = tower_http
        .logs()
        .iter()
        .map(|l| l.field("message"))
        .collect();
    assert_eq!(
        messages,
        [
            Some("started processing request"),
            Some("finished processing request")
        ]
    );
    assert_child(&capture.span("list_images"), &tower_http);
}

#[test]
fn log_lines_name_the_trace_and_span_that_are_reported() {
    let capture = capture();
    tracing::info_span!("checkout").in_scope(|| {
        tracing::info!("charged card 8e1f");
        list_images_with("listed for 8e1f");
    });
    tracing::info!("outside any trace 8e1f");

    let checkout = capture.span("checkout");
    let traced = capture.span("list_images_with");
    assert!(
        line_with("charged card 8e1f").starts_with(&format!(
            "trace_id={} span_id={} ",
            checkout.trace_id(),
            checkout.span_id()
        )),
        "{}",
        line_with("charged card 8e1f")
    );
    assert!(
        line_with("listed for 8e1f").starts_with(&format!(
            "trace_id={} span_id={} ",
            traced.trace_id(),
            traced.span_id()
        )),
        "{}",
        line_with("listed for 8e1f")
    );
    assert!(!line_with("outside any trace 8e1f").contains("trace_id="));
}

#[traced]
fn list_images_with(message: &str) {
    tracing::info!("{message}");
}

#[traced]
fn unsampled_request() {
    tracing::info_span!("query", rows = 3).in_scope(|| {
        tracing::info!("no one sees this");
        load_image();
    });
}

#[test]
fn an_unsampled_trace_has_no_bridged_spans() {
    subscriber();
    let capture = Capture::with_config(Config::new("test").sampler(Sampler::never()));
    unsampled_request();
    let remote = Context::remote(TraceId::new(0, 7), SpanId::new(9), false).unwrap();
    remote.in_scope(|| tracing::info_span!("under_remote").in_scope(|| {}));

    assert_eq!(capture.spans().len(), 0, "{:?}", capture.spans());
}

#[test]
fn a_span_left_out_of_order_leaves_the_one_still_entered_current() {
    let capture = capture();
    let first = tracing::info_span!("first").entered();
    let second = tracing::info_span!("second").entered();
    let first = first.exit();
    load_image();
    let second = second.exit();
    load_image();
    drop((first, second));

    let first = capture.span("first");
    let second = capture.span("second");
    assert_child(&second, &first);
    let calls = capture.spans_named("load_image");
    assert_eq!(calls.len(), 2);
    assert_child(&calls[0], &second);
    assert_eq!(
        calls[1].parent_id(),
        None,
        "nothing is current once both are left"
    );
}

/// The parents of the `load_image` calls, in the order they finished.
fn load_image_parents(capture: &Capture) -> Vec<Option<SpanId>> {
    capture
        .spans_named("load_image")
        .iter()
        .map(SpanRecord::parent_id)
        .collect()
}

#[traced]
fn open_query() -> tracing::span::EnteredSpan {
    tracing::info_span!("query").entered()
}

#[test]
fn a_span_entered_in_a_traced_function_and_returned_stays_current_until_it_is_left() {
    let capture = capture();
    let query = open_query();
    load_image();
    drop(query);
    load_image();

    let query = capture.span("query");
    assert_child(&query, &capture.span("open_query"));
    assert_eq!(
        load_image_parents(&capture),
        [Some(query.span_id()), None],
        "under the returned span; once it is left, the function that returned it is not current \
         again"
    );
}

#[traced]
fn close_query(query: tracing::span::EnteredSpan) {
    drop(query);
    load_image();
}

#[test]
fn a_span_left_inside_a_traced_function_leaves_the_function_current() {
    let capture = capture();
    close_query(tracing::info_span!("query").entered());
    load_image();

    let close = capture.span("close_query");
    assert_child(&close, &capture.span("query"));
    assert_eq!(
        load_image_parents(&capture),
        [Some(close.span_id()), None],
        "under the function; the span left inside it is not current again once it returns"
    );
}

/// Pending at its first poll, ready at its second.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }
}

#[traced]
async fn hold_across_await() {
    let held = tracing::info_span!("held").entered();
    YieldOnce(false).await;
    load_image();
    drop(held);
}

#[test]
fn a_span_held_across_an_await_is_current_only_in_the_poll_it_was_entered_in() {
    let capture = capture();
    let mut future = std::pin::pin!(hold_across_await());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    load_image();
    assert!(future.as_mut().poll(&mut cx).is_ready());

    let function = capture.span("hold_across_await");
    assert_child(&capture.span("held"), &function);
    assert_eq!(
        load_image_parents(&capture),
        [None, Some(function.span_id())],
        "between polls, on the thread that polled, nothing is current; in the second poll, the \
         function's span"
    );
}

#[test]
fn each_of_many_call_sites_names_its_own_spans() {
    let capture = capture();
    macro_rules! spans {
        ($($name:literal)*) => { $( drop(tracing::info_span!($name).entered()); )* };
    }
    // More call sites than a thread keeps at hand (16), each twice: some share a place there.
    for _ in 0..2 {
        spans!(
            "s00" "s01" "s02" "s03" "s04" "s05" "s06" "s07" "s08" "s09"
            "s10" "s11" "s12" "s13" "s14" "s15" "s16" "s17" "s18" "s19"
            "s20" "s21" "s22" "s23" "s24" "s25" "s26" "s27" "s28" "s29"
            "s30" "s31" "s32" "s33" "s34" "s35" "s36" "s37" "s38" "s39"
        );
    }

    let mut names: Vec<String> = capture
        .spans()
        .iter()
        .map(|s| s.operation_name().to_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = (0..40).map(|i| format!("s{i:02}")).collect();
    expected.extend(expected.clone());
    expected.sort();
    assert_eq!(names, expected);
}
