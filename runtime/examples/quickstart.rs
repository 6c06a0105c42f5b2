//! The quick start: a tiny image gallery traced with `#[traced]`, printing every span it
//! finishes to the terminal. No Jaeger needed.
//!
//! Run: `cargo run -p traced --example quickstart`. Set `JAEGER_AGENT_HOST` to send the spans
//! to a Jaeger agent instead.

use std::time::Duration;

use traced::report::ConsoleSink;
use traced::{traced, Config, Context, FutureExt as _};

#[derive(Debug)]
struct Image {
    id: u32,
    name: String,
}

#[derive(Debug)]
struct NotFound(u32);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "image {} not found", self.0)
    }
}

struct MongoRepository {
    db: String,
}

#[traced(tags(db.type = "mongo", db.instance = self.db.clone()))]
impl MongoRepository {
    async fn get_all_images(&self) -> Vec<Image> {
        tokio::time::sleep(Duration::from_millis(3)).await;
        traced::tag("db.rows", 2);
        vec![
            Image {
                id: 1,
                name: "cat.png".into(),
            },
            Image {
                id: 2,
                name: "dog.png".into(),
            },
        ]
    }

    #[traced(tags(image.id = %id))]
    async fn get_image(&self, id: u32) -> Result<Image, NotFound> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        if id > 2 {
            return Err(NotFound(id));
        }
        Ok(Image {
            id,
            name: format!("image-{id}.png"),
        })
    }
}

/// The Go way: an explicit context parameter, rebound to this span inside the body.
#[traced(args, skip(cx))]
fn render(cx: &Context, images: usize) -> String {
    thumbnail(cx, images);
    format!("<ul>{images} images</ul>")
}

#[traced(args)]
fn thumbnail(_cx: &Context, count: usize) {
    traced::log(format!("resized {count} thumbnails"));
}

#[traced(follows_from, args)]
async fn prefetch(id: u32) {
    tokio::time::sleep(Duration::from_millis(1)).await;
    traced::tag("cache.warmed", id);
}

#[traced(kind = server, name = "HTTP GET /v0/images", tags(http.method = "GET"))]
async fn list_images(repo: &MongoRepository) -> String {
    let images = repo.get_all_images().await;
    let names: Vec<&str> = images.iter().map(|i| i.name.as_str()).collect();
    traced::log(format!("found {}", names.join(", ")));
    // A spawned task stays in the trace when wrapped.
    let first_id = images[0].id;
    let prefetch = tokio::spawn(prefetch(first_id).in_current_context());
    let _ = prefetch.await;
    render(&Context::current(), images.len())
}

#[traced(kind = server, name = "HTTP GET /v0/images/{id}")]
async fn show_image(repo: &MongoRepository, id: u32) -> Result<String, NotFound> {
    let image = repo.get_image(id).await?;
    Ok(format!("{image:?}"))
}

#[tokio::main]
async fn main() -> Result<(), traced::Error> {
    let config = if std::env::var_os("JAEGER_AGENT_HOST").is_some() {
        Config::from_env()?
    } else {
        Config::new("gallery-quickstart").sink(ConsoleSink::stdout())
    };
    let tracer = traced::init(config)?;
    let repo = MongoRepository {
        db: "gallery".into(),
    };
    println!(
        "spans are printed as they are reported: trace, span, parent, name, duration, tags, logs\n"
    );

    println!("GET /v0/images -> {}", list_images(&repo).await);
    println!("GET /v0/images/1 -> {:?}", show_image(&repo, 1).await);
    println!("GET /v0/images/7 -> {:?}", show_image(&repo, 7).await);

    tracer.flush();
    let metrics = tracer.metrics();
    drop(tracer);
    println!(
        "\n{} spans reported, {} dropped",
        metrics.spans_reported, metrics.spans_dropped
    );
    Ok(())
}
