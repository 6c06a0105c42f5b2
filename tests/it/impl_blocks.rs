//! `#[traced]` on impl blocks and methods: every receiver, trait impls, native `async fn` in
//! traits, and `#[async_trait]` on either side of `#[traced]`.

use std::sync::Arc;

use async_trait::async_trait;
use traced::testing::Capture;
use traced::{TagValue, traced};

struct Gallery {
    db: &'static str,
    views: u32,
}

#[traced(tags(db.type = "mongo", db.instance = self.db))]
impl Gallery {
    fn by_ref(&self) -> u32 {
        self.views
    }

    fn by_mut(&mut self) -> u32 {
        self.views += 1;
        self.views
    }

    fn by_value(self) -> u32 {
        self.views
    }

    #[allow(clippy::boxed_local)] // as the plain method needs
    fn boxed(self: Box<Self>) -> u32 {
        self.views
    }

    fn shared(self: Arc<Self>) -> u32 {
        self.views
    }

    fn associated() -> &'static str {
        "no receiver"
    }

    #[traced(name = "Gallery.renamed", tags(db.type = "sqlite"))]
    fn overridden(&self) {}

    #[traced(off)]
    fn untraced(&self) {}

    const LIMIT: u32 = 10;
}

#[test]
fn every_method_of_a_traced_impl_block_is_a_span_named_type_method() {
    let capture = Capture::install();
    let mut gallery = Gallery {
        db: "primary",
        views: 1,
    };
    assert_eq!(gallery.by_ref(), 1);
    assert_eq!(gallery.by_mut(), 2);
    gallery.overridden();
    gallery.untraced();
    assert_eq!(Gallery::associated(), "no receiver");
    assert_eq!(gallery.by_value(), 2);
    assert_eq!(
        Box::new(Gallery {
            db: "primary",
            views: 3
        })
        .boxed(),
        3
    );
    assert_eq!(
        Arc::new(Gallery {
            db: "primary",
            views: 4
        })
        .shared(),
        Gallery::LIMIT - 6
    );

    for name in [
        "Gallery::by_ref",
        "Gallery::by_mut",
        "Gallery::by_value",
        "Gallery::boxed",
        "Gallery::shared",
    ] {
        let span = capture.span(name);
        assert_eq!(span.tag("db.type"), Some(TagValue::from("mongo")), "{name}");
        assert_eq!(
            span.tag("db.instance"),
            Some(TagValue::from("primary")),
            "{name}"
        );
    }
    let associated = capture.span("Gallery::associated");
    assert_eq!(associated.tag("db.type"), Some(TagValue::from("mongo")));
    assert_eq!(
        associated.tag("db.instance"),
        None,
        "a tag reading `self` skips fns without one"
    );
    let overridden = capture.span("Gallery.renamed");
    assert_eq!(
        overridden.tag("db.type"),
        Some(TagValue::from("sqlite")),
        "the method's tag wins"
    );
    assert_eq!(
        overridden.tag("db.instance"),
        Some(TagValue::from("primary")),
        "the block's others stay"
    );
    assert!(
        capture
            .spans()
            .iter()
            .all(|s| !s.operation_name().contains("untraced"))
    );
    assert_eq!(capture.spans().len(), 7);
}

trait Store {
    fn put(&mut self, key: &str) -> Result<(), String>;
    async fn get(&self, key: &str) -> Option<String>;
}

struct Memory(Vec<String>);

#[traced]
impl Store for Memory {
    fn put(&mut self, key: &str) -> Result<(), String> {
        if key.is_empty() {
            return Err("empty key".to_owned());
        }
        self.0.push(key.to_owned());
        Ok(())
    }

    async fn get(&self, key: &str) -> Option<String> {
        tokio::task::yield_now().await;
        self.0.iter().find(|k| *k == key).cloned()
    }
}

#[tokio::test]
async fn trait_impls_and_native_async_fn_in_traits_are_traced() {
    let capture = Capture::install();
    let mut store = Memory(Vec::new());
    store.put("a").unwrap();
    assert!(store.put("").is_err());
    assert_eq!(store.get("a").await.as_deref(), Some("a"));
    let puts = capture.spans_named("Memory::put");
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[1].tag("error"), Some(TagValue::Boolean(true)));
    capture.span("Memory::get");
}

#[async_trait]
trait Repository {
    async fn get_all_images(&self) -> Vec<u32>;
    async fn count(&self) -> usize;
}

struct Mongo;
struct Sqlite;
struct Postgres;

#[traced]
async fn child() {}

// `#[traced]` first: it sees `async fn`s and async-trait boxes the result.
#[traced(tags(db.type = "mongo"))]
#[async_trait]
impl Repository for Mongo {
    async fn get_all_images(&self) -> Vec<u32> {
        child().await;
        vec![1, 2]
    }

    async fn count(&self) -> usize {
        self.get_all_images().await.len()
    }
}

// `#[async_trait]` first: `#[traced]` sees the boxed future async-trait made.
#[async_trait]
#[traced(tags(db.type = "sqlite"))]
impl Repository for Sqlite {
    async fn get_all_images(&self) -> Vec<u32> {
        child().await;
        vec![3]
    }

    async fn count(&self) -> usize {
        self.get_all_images().await.len()
    }
}

// On the methods, inside an `#[async_trait]` impl.
#[async_trait]
impl Repository for Postgres {
    #[traced(name = "Postgres::get_all_images", tags(db.type = "postgres"))]
    async fn get_all_images(&self) -> Vec<u32> {
        child().await;
        vec![]
    }

    #[traced(name = "Postgres::count")]
    async fn count(&self) -> usize {
        self.get_all_images().await.len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_trait_methods_are_traced_whichever_attribute_comes_first() {
    let capture = Capture::install();
    let repos: Vec<(Box<dyn Repository + Send + Sync>, &str, &str)> = vec![
        (Box::new(Mongo), "Mongo", "mongo"),
        (Box::new(Sqlite), "Sqlite", "sqlite"),
        (Box::new(Postgres), "Postgres", "postgres"),
    ];
    for (repo, _, _) in &repos {
        tokio::spawn(async {}).await.unwrap();
        repo.count().await;
    }
    let spans = capture.spans();
    for (_, ty, db) in &repos {
        let count = capture.span(&format!("{ty}::count"));
        let get = capture.span(&format!("{ty}::get_all_images"));
        assert_eq!(get.tag("db.type"), Some(TagValue::from(*db)));
        assert_eq!(get.parent_id(), Some(count.span_id()), "{ty}");
        assert_eq!(get.trace_id(), count.trace_id());
        let children: Vec<_> = spans
            .iter()
            .filter(|s| s.operation_name() == "child" && s.parent_id() == Some(get.span_id()))
            .collect();
        assert_eq!(
            children.len(),
            1,
            "{ty}: the body runs inside the method's span"
        );
    }
}
