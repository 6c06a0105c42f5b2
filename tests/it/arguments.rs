//! The attribute's arguments: `name`, `tags(...)`, `kind`, `args`/`skip`, `ret`, `crate`.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use traced::testing::Capture;
use traced::{Config, Sampler, TagValue, traced};

struct Repo {
    db: String,
}

impl Repo {
    #[traced(
        name = "GetAllImages request",
        tags(db.type = "mongo", db.instance = self.db.clone(), image.id = %id, rows = 3, ok = true,
             ratio = 0.5, offset = -2, debug = ?Some(id), "http.status_code" = 200, r#type = "image")
    )]
    fn get_all_images(&self, id: u32) -> Vec<u32> {
        vec![id]
    }
}

#[test]
fn name_and_tags_of_every_kind_are_recorded() {
    let capture = Capture::install();
    let repo = Repo {
        db: "images-primary".to_owned(),
    };
    assert_eq!(repo.get_all_images(42), vec![42]);
    let span = capture.span("GetAllImages request");
    assert_eq!(span.tag("db.type"), Some(TagValue::from("mongo")));
    assert_eq!(
        span.tag("db.instance"),
        Some(TagValue::from("images-primary"))
    );
    assert_eq!(span.tag("image.id"), Some(TagValue::from("42")));
    assert_eq!(span.tag("rows"), Some(TagValue::Integer(3)));
    assert_eq!(span.tag("ok"), Some(TagValue::Boolean(true)));
    assert_eq!(span.tag("ratio"), Some(TagValue::Float(0.5)));
    assert_eq!(span.tag("offset"), Some(TagValue::Integer(-2)));
    assert_eq!(span.tag("debug"), Some(TagValue::from("Some(42)")));
    assert_eq!(span.tag("http.status_code"), Some(TagValue::Integer(200)));
    assert_eq!(span.tag("type"), Some(TagValue::from("image")));
}

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

fn expensive(id: u32) -> String {
    EVALUATED.fetch_add(1, Ordering::SeqCst);
    format!("image-{id}")
}

#[traced(tags(image.name = expensive(id), image.label = %expensive(id)))]
fn load(id: u32) -> u32 {
    id
}

#[test]
fn computed_tags_are_evaluated_only_when_sampled() {
    let capture = Capture::with_config(Config::new("test").sampler(Sampler::never()));
    load(1);
    assert_eq!(EVALUATED.load(Ordering::SeqCst), 0);
    drop(capture);

    let capture = Capture::install();
    load(2);
    assert_eq!(EVALUATED.load(Ordering::SeqCst), 2);
    assert_eq!(
        capture.span("load").tag("image.name"),
        Some(TagValue::from("image-2"))
    );
}

#[traced]
fn look_up_owner(id: u32) -> String {
    format!("owner-{id}")
}

#[traced(tags(owner = look_up_owner(id)))]
fn load_with_owner(id: u32) -> u32 {
    id
}

#[test]
fn a_traced_call_in_a_sync_functions_tag_is_a_child_of_the_span_it_tags() {
    let capture = Capture::install();
    assert_eq!(load_with_owner(7), 7);
    let tagged = capture.span("load_with_owner");
    let looked_up = capture.span("look_up_owner");
    assert_eq!(tagged.tag("owner"), Some(TagValue::from("owner-7")));
    assert_eq!(
        (looked_up.trace_id(), looked_up.parent_id()),
        (tagged.trace_id(), Some(tagged.span_id())),
        "a sync function's tags are computed with its span current"
    );
}

#[traced(tags(name = name))]
fn tags_borrow_arguments(name: String) -> String {
    name
}

#[test]
fn a_tag_does_not_move_the_argument_it_reads() {
    let capture = Capture::install();
    assert_eq!(tags_borrow_arguments("kept".to_owned()), "kept");
    assert_eq!(
        capture.span("tags_borrow_arguments").tag("name"),
        Some(TagValue::from("kept"))
    );
}

#[traced(kind = server)]
fn handle() {}

#[traced(kind = client)]
fn call() {}

#[traced(kind = producer)]
fn publish() {}

#[traced(kind = consumer)]
fn consume() {}

#[test]
fn kind_sets_the_opentracing_span_kind_tag() {
    let capture = Capture::install();
    handle();
    call();
    publish();
    consume();
    for (name, kind) in [
        ("handle", "server"),
        ("call", "client"),
        ("publish", "producer"),
        ("consume", "consumer"),
    ] {
        assert_eq!(
            capture.span(name).tag("span.kind"),
            Some(TagValue::from(kind))
        );
    }
}

#[derive(Debug)]
struct Credentials {
    user: &'static str,
}

struct NoDebug;

#[traced]
fn login(user: &str, password: &str) -> bool {
    !user.is_empty() && !password.is_empty()
}

#[traced(args, skip(password))]
fn login_args(
    user: &str,
    password: &str,
    attempt: u32,
    (x, y): (i64, f64),
    creds: Credentials,
    _opaque: NoDebug,
) -> bool {
    let _ = (x, y, creds.user);
    !user.is_empty() && !password.is_empty() && attempt > 0
}

#[test]
fn arguments_are_recorded_only_when_asked_and_skip_leaves_some_out() {
    let capture = Capture::install();
    login("ann", "hunter2");
    login_args(
        "ann",
        "hunter2",
        3,
        (-1, 2.5),
        Credentials { user: "ann" },
        NoDebug,
    );

    let plain = capture.span("login");
    assert_eq!(
        plain
            .tags()
            .filter(|(k, _)| *k == "user" || *k == "password")
            .count(),
        0
    );

    let span = capture.span("login_args");
    assert_eq!(span.tag("user"), Some(TagValue::from("ann")));
    assert_eq!(span.tag("password"), None);
    assert_eq!(
        span.tag("attempt"),
        Some(TagValue::Integer(3)),
        "numbers stay numbers"
    );
    assert_eq!(
        span.tag("x"),
        Some(TagValue::Integer(-1)),
        "destructured names are recorded"
    );
    assert_eq!(span.tag("y"), Some(TagValue::Float(2.5)));
    assert_eq!(
        span.tag("creds"),
        Some(TagValue::from("Credentials { user: \"ann\" }"))
    );
    assert_eq!(
        span.tag("_opaque"),
        Some(TagValue::from("<it::arguments::NoDebug>"))
    );
    assert!(!span.tags().any(|(_, v)| v == TagValue::from("hunter2")));
}

#[traced(ret)]
fn answer() -> (u8, &'static str) {
    (42, "yes")
}

#[traced(ret)]
fn count() -> u64 {
    7
}

#[traced(ret)]
fn described() -> impl fmt::Display {
    "opaque"
}

#[test]
fn ret_records_the_return_value() {
    let capture = Capture::install();
    answer();
    count();
    let _ = described();
    assert_eq!(
        capture.span("answer").tag("return"),
        Some(TagValue::from("(42, \"yes\")"))
    );
    assert_eq!(
        capture.span("count").tag("return"),
        Some(TagValue::Integer(7))
    );
    assert_eq!(
        capture.span("described").tag("return"),
        Some(TagValue::from("opaque"))
    );
}

mod renamed {
    pub(crate) use traced as tracing_dependency;
}

#[traced(crate = renamed::tracing_dependency, tags(via = "renamed"))]
fn through_a_renamed_path() {}

#[test]
fn crate_points_the_expansion_at_a_renamed_dependency() {
    let capture = Capture::install();
    through_a_renamed_path();
    assert_eq!(
        capture.span("through_a_renamed_path").tag("via"),
        Some(TagValue::from("renamed"))
    );
}

#[traced]
fn r#match() {}

#[test]
fn a_raw_identifier_names_the_span_without_its_prefix() {
    let capture = Capture::install();
    r#match();
    capture.span("match");
}
