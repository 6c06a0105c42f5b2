//! Every call's span is finished exactly once, however the function returns: normally, by an
//! early `return`, by `?`, by a panic (which keeps unwinding), and for async fns when the future
//! completes or is dropped before completing.

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Waker};

use traced::testing::Capture;
use traced::{TagValue, traced};

#[traced]
fn early_return(x: i32) -> i32 {
    if x < 0 {
        return 0;
    }
    x * 2
}

#[traced]
fn question_mark(text: &str) -> Result<i32, std::num::ParseIntError> {
    let n: i32 = text.parse()?;
    Ok(n + 1)
}

#[traced]
fn panics(message: &str) -> u8 {
    panic!("{message}")
}

#[traced]
async fn completes() -> u8 {
    tokio::task::yield_now().await;
    7
}

#[traced]
async fn never_completes() {
    std::future::pending::<()>().await;
}

#[test]
fn normal_and_early_returns_finish_one_span_each() {
    let capture = Capture::install();
    assert_eq!(early_return(3), 6);
    assert_eq!(early_return(-3), 0);
    let spans = capture.spans_named("early_return");
    assert_eq!(spans.len(), 2);
    for span in &spans {
        assert_eq!(span.tag("error"), None);
        assert!(span.logs().is_empty());
    }
}

#[test]
fn question_mark_finishes_the_span_with_the_error() {
    let capture = Capture::install();
    assert_eq!(question_mark("41"), Ok(42));
    assert!(question_mark("forty-one").is_err());
    let spans = capture.spans_named("question_mark");
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].tag("error"), None);
    assert_eq!(spans[1].tag("error"), Some(TagValue::Boolean(true)));
    let log = &spans[1].logs()[0];
    assert_eq!(log.field("event"), Some("error"));
    assert_eq!(
        log.field("error.kind"),
        Some("core::num::error::ParseIntError")
    );
    assert_eq!(log.field("message"), Some("invalid digit found in string"));
}

#[test]
fn a_panic_is_recorded_and_keeps_unwinding() {
    let capture = Capture::install();
    let caught = std::panic::catch_unwind(|| panics("disk on fire"));
    let payload = caught.expect_err("the panic must reach the caller");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("disk on fire")
    );

    let span = capture.span("panics");
    assert_eq!(span.tag("error"), Some(TagValue::Boolean(true)));
    let log = &span.logs()[0];
    assert_eq!(log.field("event"), Some("error"));
    assert_eq!(log.field("error.kind"), Some("panic"));
    assert_eq!(log.field("message"), Some("disk on fire"));
    assert_eq!(capture.spans().len(), 1, "finished exactly once");
}

#[tokio::test]
async fn an_async_span_finishes_when_the_future_completes() {
    let capture = Capture::install();
    assert_eq!(completes().await, 7);
    let span = capture.span("completes");
    assert_eq!(span.tag("cancelled"), None);
    assert_eq!(span.tag("error"), None);
}

#[test]
fn a_future_dropped_before_completing_finishes_its_span_as_cancelled() {
    let capture = Capture::install();
    {
        let mut future = pin!(never_completes());
        let mut cx = TaskContext::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert!(capture.spans().is_empty(), "not finished while pending");
    }
    let span = capture.span("never_completes");
    assert_eq!(span.tag("cancelled"), Some(TagValue::Boolean(true)));
    assert_eq!(capture.spans().len(), 1);
}

#[tokio::test]
async fn a_timed_out_call_is_cancelled() {
    let capture = Capture::install();
    let timed_out =
        tokio::time::timeout(std::time::Duration::from_millis(10), never_completes()).await;
    assert!(timed_out.is_err());
    assert_eq!(
        capture.span("never_completes").tag("cancelled"),
        Some(TagValue::Boolean(true))
    );
}

#[traced]
async fn panics_later() {
    tokio::task::yield_now().await;
    panic!("async boom");
}

#[tokio::test]
async fn a_panic_in_an_async_fn_is_recorded_once() {
    let capture = Capture::install();
    let joined = tokio::spawn(panics_later()).await;
    assert!(joined.unwrap_err().is_panic());
    let span = capture.span("panics_later");
    assert_eq!(span.tag("error"), Some(TagValue::Boolean(true)));
    assert_eq!(span.tag("cancelled"), None);
    assert_eq!(span.logs()[0].field("message"), Some("async boom"));
    assert_eq!(capture.spans().len(), 1);
}

#[test]
fn a_future_never_polled_records_nothing() {
    let capture = Capture::install();
    drop(never_completes());
    assert!(capture.spans().is_empty());
}

#[traced]
fn outer_catches_inner_panic() -> bool {
    std::panic::catch_unwind(|| panics("inner")).is_err()
}

#[test]
fn a_caught_panic_fails_only_the_span_it_crossed() {
    let capture = Capture::install();
    assert!(outer_catches_inner_panic());
    assert_eq!(
        capture.span("panics").tag("error"),
        Some(TagValue::Boolean(true))
    );
    let outer = capture.span("outer_catches_inner_panic");
    assert_eq!(outer.tag("error"), None);
    assert_eq!(capture.span("panics").parent_id(), Some(outer.span_id()));
}

#[test]
fn calls_without_a_tracer_run_unchanged() {
    let _exclusive = traced::testing::exclusive();
    assert_eq!(early_return(5), 10);
    assert_eq!(question_mark("1"), Ok(2));
    assert!(std::panic::catch_unwind(|| panics("no tracer")).is_err());
}
