//! `#[traced]` leaves every function as it was: the same caller location, the same futures with
//! the span covering them, the same arguments, and one span per call, whatever the shape. The
//! shapes that must merely compile (coercions, `!`, `Sync` futures, lints) are in `ui/shapes.rs`,
//! compiled under `deny(warnings)` and clippy's pedantic group by `lints.rs`.

use std::future::Future;
use std::panic::Location;
use std::pin::{Pin, pin};
use std::task::{Context as TaskContext, Poll, Waker};

use traced::testing::Capture;
use traced::{TagValue, traced};

#[track_caller]
#[traced]
fn where_called() -> &'static Location<'static> {
    Location::caller()
}

#[track_caller]
#[traced]
fn fails_where_called(fail: bool) -> Result<u32, String> {
    if fail {
        Err(format!("called from line {}", Location::caller().line()))
    } else {
        Ok(1)
    }
}

#[test]
fn a_track_caller_function_still_sees_its_caller() {
    let capture = Capture::install();
    let line = line!() + 1;
    let location = where_called();
    assert_eq!((location.file(), location.line()), (file!(), line));
    assert_eq!(capture.spans_named("where_called").len(), 1);
}

#[test]
fn a_track_caller_function_still_records_its_err() {
    let capture = Capture::install();
    let line = line!() + 1;
    let result = fails_where_called(true);
    assert_eq!(result, Err(format!("called from line {line}")));
    let span = capture.span("fails_where_called");
    assert_eq!(span.tag("error"), Some(TagValue::Boolean(true)));
    assert_eq!(
        span.logs()[0].field("message"),
        Some(format!("called from line {line}").as_str())
    );
}

#[traced]
fn leaf() -> u8 {
    1
}

#[traced]
async fn async_leaf() -> u8 {
    tokio::task::yield_now().await;
    leaf()
}

#[traced]
fn returns_a_future(n: u8) -> impl Future<Output = u8> {
    let doubled = n * 2;
    async move { async_leaf().await + doubled }
}

#[traced]
fn returns_a_boxed_future(n: u8) -> Pin<Box<dyn Future<Output = u8> + Send + Sync>> {
    Box::pin(async move { async_leaf().await + n })
}

#[traced]
async fn caller_of(kind: &str) -> u8 {
    match kind {
        "impl" => returns_a_future(1).await,
        _ => returns_a_boxed_future(1).await,
    }
}

#[tokio::test]
async fn a_returned_future_is_traced_for_its_whole_life() {
    for (kind, name) in [
        ("impl", "returns_a_future"),
        ("boxed", "returns_a_boxed_future"),
    ] {
        let capture = Capture::install();
        caller_of(kind).await;
        let caller = capture.span("caller_of");
        let future = capture.span(name);
        let inner = capture.span("async_leaf");
        let leaf = capture.span("leaf");
        assert_eq!(future.parent_id(), Some(caller.span_id()), "{name}");
        assert_eq!(inner.parent_id(), Some(future.span_id()), "{name}");
        assert_eq!(leaf.parent_id(), Some(inner.span_id()), "{name}");
        assert!(future.duration() >= inner.duration(), "{name}");
        assert_eq!(capture.spans().len(), 4, "{name}");
    }
}

#[async_trait::async_trait]
trait Store {
    async fn wait(&self);
}

struct TracedFirst;
struct AsyncTraitFirst;

#[traced]
#[async_trait::async_trait]
impl Store for TracedFirst {
    async fn wait(&self) {
        std::future::pending::<()>().await;
    }
}

#[async_trait::async_trait]
#[traced]
impl Store for AsyncTraitFirst {
    async fn wait(&self) {
        std::future::pending::<()>().await;
    }
}

#[traced]
async fn native_wait() {
    std::future::pending::<()>().await;
}

#[traced]
#[allow(clippy::manual_async_fn)]
fn returned_wait() -> impl Future<Output = ()> {
    async { std::future::pending::<()>().await }
}

type Waiting = Pin<Box<dyn Future<Output = ()>>>;

/// Every shape of future `#[traced]` makes, each waiting forever.
fn waiting_futures() -> Vec<(&'static str, Waiting)> {
    vec![
        ("native_wait", Box::pin(native_wait())),
        ("returned_wait", Box::pin(returned_wait())),
        ("TracedFirst::wait", TracedFirst.wait()),
        ("AsyncTraitFirst::wait", AsyncTraitFirst.wait()),
    ]
}

#[test]
fn a_future_dropped_before_its_first_poll_records_nothing_in_every_shape() {
    let capture = Capture::install();
    for (name, future) in waiting_futures() {
        drop(future);
        assert!(capture.spans().is_empty(), "{name} recorded a span");
    }
}

#[test]
fn a_future_dropped_after_its_first_poll_is_cancelled_in_every_shape() {
    let capture = Capture::install();
    for (name, mut future) in waiting_futures() {
        let mut cx = TaskContext::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        drop(future);
        let span = capture.span(name);
        assert_eq!(
            span.tag("cancelled"),
            Some(TagValue::Boolean(true)),
            "{name}"
        );
    }
    assert_eq!(capture.spans().len(), 4);
}

#[traced(tags(owned = &owned, twice = &&owned, number = &&7u8))]
fn tags_by_reference(owned: String) -> usize {
    owned.len()
}

#[test]
fn a_reference_to_a_tag_value_is_a_tag_value() {
    let capture = Capture::install();
    tags_by_reference("images".to_owned());
    let span = capture.span("tags_by_reference");
    assert_eq!(span.tag("owned"), Some(TagValue::from("images")));
    assert_eq!(span.tag("twice"), Some(TagValue::from("images")));
    assert_eq!(span.tag("number"), Some(TagValue::Integer(7)));
}

#[traced(args)]
fn gated(#[cfg(any())] hidden: u32, #[cfg(test)] shown: u32) -> u32 {
    shown
}

#[test]
fn a_compiled_out_parameter_is_not_recorded() {
    let capture = Capture::install();
    gated(3);
    let span = capture.span("gated");
    assert_eq!(span.tag("shown"), Some(TagValue::Integer(3)));
    assert_eq!(span.tag("hidden"), None);
}

#[traced(tags(id = "explicit"), args)]
fn tagged_and_recorded(id: u32, rows: u32) -> u32 {
    id + rows
}

#[test]
fn an_explicit_tag_wins_over_an_argument_of_the_same_name() {
    let capture = Capture::install();
    tagged_and_recorded(1, 2);
    let span = capture.span("tagged_and_recorded");
    let ids: Vec<TagValue> = span
        .tags()
        .filter(|(key, _)| *key == "id")
        .map(|(_, value)| value)
        .collect();
    assert_eq!(ids, vec![TagValue::from("explicit")]);
    assert_eq!(span.tag("rows"), Some(TagValue::Integer(2)));
}

struct Repository {
    db: &'static str,
}

impl Repository {
    #[traced(skip(self))]
    fn count(&self) -> usize {
        self.db.len()
    }

    #[traced(args, skip(self, password))]
    fn login(&self, user: &str, password: &str) -> bool {
        !user.is_empty() && !password.is_empty() && !self.db.is_empty()
    }
}

#[test]
fn skip_self_is_accepted_and_records_nothing_of_the_receiver() {
    let capture = Capture::install();
    let repo = Repository { db: "gallery" };
    assert_eq!(repo.count(), 7);
    assert!(repo.login("ann", "secret"));
    let count = capture.span("count");
    let own: Vec<&str> = count
        .tags()
        .map(|(key, _)| key)
        .filter(|key| !key.starts_with("sampler."))
        .collect();
    assert!(own.is_empty(), "{own:?}");
    let login = capture.span("login");
    assert_eq!(login.tag("user"), Some(TagValue::from("ann")));
    assert_eq!(login.tag("password"), None);
    assert_eq!(login.tag("self"), None);
}

#[traced]
fn never_returns(message: &str) -> ! {
    panic!("{message}")
}

#[traced]
async fn never_resolves(message: &str) -> ! {
    tokio::task::yield_now().await;
    panic!("{message}")
}

#[async_trait::async_trait]
trait Unfinished {
    async fn later(&self);
}

#[async_trait::async_trait]
#[traced]
impl Unfinished for AsyncTraitFirst {
    async fn later(&self) {
        unimplemented!("not yet")
    }
}

#[tokio::test]
async fn a_diverging_function_records_its_panic() {
    let capture = Capture::install();
    assert!(std::panic::catch_unwind(|| never_returns("sync")).is_err());
    assert!(tokio::spawn(never_resolves("async")).await.is_err());
    assert!(tokio::spawn(AsyncTraitFirst.later()).await.is_err());
    for (name, message) in [
        ("never_returns", "sync"),
        ("never_resolves", "async"),
        ("AsyncTraitFirst::later", "not implemented: not yet"),
    ] {
        let span = capture.span(name);
        assert_eq!(span.tag("error"), Some(TagValue::Boolean(true)), "{name}");
        assert_eq!(span.logs()[0].field("message"), Some(message), "{name}");
        assert_eq!(span.tag("cancelled"), None, "{name}");
    }
}

#[test]
fn a_span_started_while_unwinding_is_not_failed_by_that_panic() {
    struct CallsOnDrop;
    impl Drop for CallsOnDrop {
        fn drop(&mut self) {
            leaf();
        }
    }
    let capture = Capture::install();
    let unwound = std::panic::catch_unwind(|| {
        let _calls = CallsOnDrop;
        panic!("unrelated");
    });
    assert!(unwound.is_err());
    assert_eq!(capture.span("leaf").tag("error"), None);
}

#[test]
fn a_shared_boxed_future_stays_shareable_and_traced() {
    fn shareable<T: Sync + Send>(value: T) -> T {
        value
    }
    let capture = Capture::install();
    let future = shareable(returns_a_boxed_future(2));
    let mut future = pin!(future);
    let waker = Waker::noop();
    let mut cx = TaskContext::from_waker(waker);
    // `async_leaf` yields once, then completes.
    assert!(future.as_mut().poll(&mut cx).is_pending());
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(3));
    assert_eq!(capture.spans_named("returns_a_boxed_future").len(), 1);
}
