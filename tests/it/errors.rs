//! A function returning `Err` fails its span: `error = true` and a log with `event = error`,
//! `error.kind` (the error's type) and `message` (its `Display`, else `Debug`). Other return
//! types are untouched.

use std::fmt;

use traced::testing::Capture;
use traced::{TagValue, traced};

#[derive(Debug)]
enum RepoError {
    NotFound(u32),
}

impl fmt::Display for RepoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepoError::NotFound(id) => write!(f, "image {id} not found"),
        }
    }
}

impl std::error::Error for RepoError {}

#[derive(Debug)]
struct OnlyDebug {
    #[allow(dead_code, reason = "read through Debug")]
    code: u16,
}

struct Opaque;

#[traced]
fn find(id: u32) -> Result<u32, RepoError> {
    if id == 0 {
        Err(RepoError::NotFound(id))
    } else {
        Ok(id)
    }
}

#[traced]
fn only_debug() -> Result<(), OnlyDebug> {
    Err(OnlyDebug { code: 503 })
}

#[traced]
fn opaque() -> Result<u8, Opaque> {
    Err(Opaque)
}

#[traced]
fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    find(0)?;
    Ok(())
}

type AliasResult<T> = std::io::Result<T>;

#[traced]
fn aliased() -> AliasResult<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "upstream timed out",
    ))
}

#[traced]
fn option() -> Option<u8> {
    None
}

fn error_log(span: &traced::SpanRecord) -> (&str, &str, &str) {
    assert_eq!(span.tag("error"), Some(TagValue::Boolean(true)));
    let log = &span.logs()[0];
    (
        log.field("event").unwrap(),
        log.field("error.kind").unwrap(),
        log.field("message").unwrap(),
    )
}

#[test]
fn an_err_with_display_is_logged_with_its_type_and_message() {
    let capture = Capture::install();
    assert!(find(1).is_ok());
    assert!(find(0).is_err());
    let spans = capture.spans_named("find");
    assert_eq!(spans[0].tag("error"), None);
    assert!(spans[0].logs().is_empty());
    assert_eq!(
        error_log(&spans[1]),
        ("error", "it::errors::RepoError", "image 0 not found")
    );
}

#[test]
fn an_err_without_display_falls_back_to_debug_then_to_its_type() {
    let capture = Capture::install();
    let _ = only_debug();
    let _ = opaque();
    assert_eq!(
        error_log(&capture.span("only_debug")),
        ("error", "it::errors::OnlyDebug", "OnlyDebug { code: 503 }")
    );
    assert_eq!(
        error_log(&capture.span("opaque")),
        ("error", "it::errors::Opaque", "it::errors::Opaque")
    );
}

#[test]
fn boxed_and_aliased_results_are_recognised() {
    let capture = Capture::install();
    let _ = boxed();
    let _ = aliased();
    let boxed_span = capture.span("boxed");
    let (_, kind, message) = error_log(&boxed_span);
    assert!(
        kind.starts_with("alloc::boxed::Box<dyn core::error::Error"),
        "{kind}"
    );
    assert_eq!(message, "image 0 not found");
    assert_eq!(
        error_log(&capture.span("aliased")),
        ("error", "std::io::error::Error", "upstream timed out")
    );
    assert_eq!(
        capture.span("find").parent_id(),
        Some(capture.span("boxed").span_id())
    );
}

#[test]
fn other_return_types_are_untouched() {
    let capture = Capture::install();
    assert_eq!(option(), None);
    let span = capture.span("option");
    assert_eq!(span.tag("error"), None);
    assert!(span.logs().is_empty());
}

#[traced]
async fn async_find(id: u32) -> Result<u32, RepoError> {
    tokio::task::yield_now().await;
    let found = find(id)?;
    Ok(found)
}

#[tokio::test]
async fn an_async_err_is_logged_too() {
    let capture = Capture::install();
    assert!(async_find(0).await.is_err());
    assert_eq!(
        error_log(&capture.span("async_find")),
        ("error", "it::errors::RepoError", "image 0 not found")
    );
}
