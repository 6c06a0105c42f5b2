//! Inside a traced function, code adds tags and logs to its own span without a handle, and
//! gets the current `Context` for code that takes one.

use traced::testing::Capture;
use traced::{Context, TagValue, traced};

fn helper_without_attribute(rows: i64) {
    traced::tag("rows", rows);
    traced::log("query done");
}

#[traced]
fn query() -> Context {
    traced::tag("db.statement", "SELECT * FROM images");
    traced::tag("cache.hit", false);
    helper_without_attribute(12);
    traced::log_fields([("event", "retry"), ("attempt", "2")]);
    Context::current()
}

#[test]
fn tags_and_logs_go_to_the_span_running_now() {
    let capture = Capture::install();
    let cx = query();
    let span = capture.span("query");
    assert_eq!(cx.span_id(), span.span_id());
    assert_eq!(
        span.tag("db.statement"),
        Some(TagValue::from("SELECT * FROM images"))
    );
    assert_eq!(span.tag("cache.hit"), Some(TagValue::Boolean(false)));
    assert_eq!(span.tag("rows"), Some(TagValue::Integer(12)));
    let logs = span.logs();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].field("event"), Some("query done"));
    assert_eq!(logs[1].field("event"), Some("retry"));
    assert_eq!(logs[1].field("attempt"), Some("2"));
    assert!(logs[0].time() <= logs[1].time());
}

#[traced]
fn child_tags() {
    traced::tag("who", "child");
}

#[traced]
fn parent_tags() {
    traced::tag("who", "parent-before");
    child_tags();
    traced::tag("after", true);
}

#[test]
fn a_tag_after_a_child_returns_goes_to_the_parent_again() {
    let capture = Capture::install();
    parent_tags();
    assert_eq!(
        capture.span("child_tags").tag("who"),
        Some(TagValue::from("child"))
    );
    let parent = capture.span("parent_tags");
    assert_eq!(parent.tag("who"), Some(TagValue::from("parent-before")));
    assert_eq!(parent.tag("after"), Some(TagValue::Boolean(true)));
}

#[traced]
async fn async_tags() {
    traced::tag("phase", "before");
    tokio::task::yield_now().await;
    traced::log("resumed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_logs_reach_an_async_span_after_an_await() {
    let capture = Capture::install();
    tokio::spawn(async_tags()).await.unwrap();
    let span = capture.span("async_tags");
    assert_eq!(span.tag("phase"), Some(TagValue::from("before")));
    assert_eq!(span.logs()[0].field("event"), Some("resumed"));
}

#[test]
fn outside_a_span_tags_and_logs_are_ignored() {
    let capture = Capture::install();
    traced::tag("lost", 1);
    traced::log("lost");
    assert!(capture.spans().is_empty());
    assert!(!Context::current().is_valid());
}

#[traced]
fn reads_baggage() -> Option<String> {
    traced::baggage("tenant")
}

#[test]
fn baggage_set_on_the_current_context_reaches_spans_below() {
    let _capture = Capture::install();
    let cx = Context::NONE.with_baggage("tenant", "acme");
    assert_eq!(cx.in_scope(reads_baggage).as_deref(), Some("acme"));
}
