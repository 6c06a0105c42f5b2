//! The three services together on loopback (in one process here; the demo runs each in its own):
//! requests of each kind, uploads checked before anything is written, a failed upload leaving
//! nothing behind, and one trace per request nesting the API, its client call, the catalog and
//! the repository with its database tags.

use std::net::SocketAddr;
use std::sync::Arc;

use gallery::SqliteRepository;
use gallery::api::Backends;
use serde_json::Value;
use traced::TagValue;
use traced::testing::Capture;

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

struct Gallery {
    api: String,
    blobs: std::path::PathBuf,
}

async fn gallery(store_url: Option<String>) -> Gallery {
    let catalog = serve(gallery::catalog::router(Arc::new(
        SqliteRepository::in_memory().unwrap(),
    )))
    .await;
    let blobs = std::env::temp_dir().join(format!(
        "gallery-blobs-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let store = serve(gallery::blobs::router(blobs.clone(), false).unwrap()).await;
    let store_url = store_url.unwrap_or_else(|| format!("http://{store}"));
    let api = serve(gallery::api::router(Backends::new(
        format!("http://{catalog}"),
        store_url,
    )))
    .await;
    Gallery {
        api: format!("http://{api}"),
        blobs,
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n not really an image, but bytes all the same";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_request_is_served_checked_and_traced_end_to_end() {
    let capture = Capture::install();
    let g = gallery(None).await;
    let http = reqwest::Client::new();
    let upload = |body: &'static [u8], content_type: &str| {
        http.post(format!("{}/v0/images?name=cat.png", g.api))
            .header("content-type", content_type.to_owned())
            .body(body)
    };

    let (status, cat) = send(upload(PNG, "image/png")).await;
    assert_eq!(status, 201, "{cat}");
    let id = cat["id"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read(g.blobs.join(&id)).unwrap(), PNG);
    let (status, all) = send(http.get(format!("{}/v0/images", g.api))).await;
    assert_eq!((status, all.as_array().unwrap().len()), (200, 1));
    let (status, one) = send(http.get(format!("{}/v0/images/{id}", g.api))).await;
    assert_eq!((status, one["name"].as_str()), (200, Some("cat.png")));

    // Checked before anything is written.
    let (status, body) = send(upload(PNG, "text/plain")).await;
    assert_eq!(status, 415, "{body}");
    assert!(body["error"].as_str().unwrap().contains("image/png"));
    let (status, _) = send(upload(b"", "image/png")).await;
    assert_eq!(status, 400);
    let big = vec![0u8; gallery::blobs::MAX_IMAGE + 1];
    let (status, _) = send(
        http.post(format!("{}/v0/images", g.api))
            .header("content-type", "image/png")
            .body(big),
    )
    .await;
    assert_eq!(status, 413);
    let (status, missing) = send(http.get(format!("{}/v0/images/0000000000000000", g.api))).await;
    assert_eq!(
        (status, missing["error"].as_str()),
        (404, Some("image 0000000000000000 not found"))
    );
    let (_, all) = send(http.get(format!("{}/v0/images", g.api))).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "nothing written by the refused uploads"
    );

    let (status, _) = send(http.delete(format!("{}/v0/images/{id}", g.api))).await;
    assert_eq!(status, 204);
    assert!(!g.blobs.join(&id).exists());
    let (status, _) = send(http.get(format!("{}/v0/images/{id}", g.api))).await;
    assert_eq!(status, 404);

    // GET /v0/images: API server span -> list_images -> client span -> catalog server span ->
    // get_all_images with its database tags, one trace.
    let spans = capture.spans();
    let api_list = spans
        .iter()
        .find(|s| s.operation_name() == "HTTP GET /v0/images")
        .unwrap();
    let list_images = spans
        .iter()
        .find(|s| s.operation_name() == "list_images" && s.parent_id() == Some(api_list.span_id()))
        .unwrap();
    let client = spans
        .iter()
        .find(|s| s.operation_name() == "HTTP GET" && s.parent_id() == Some(list_images.span_id()))
        .unwrap();
    let catalog = spans
        .iter()
        .find(|s| {
            s.operation_name() == "HTTP GET /images" && s.parent_id() == Some(client.span_id())
        })
        .unwrap();
    let query = spans
        .iter()
        .find(|s| {
            s.operation_name() == "get_all_images" && s.parent_id() == Some(catalog.span_id())
        })
        .unwrap();
    for span in [list_images, client, catalog, query] {
        assert_eq!(span.trace_id(), api_list.trace_id());
    }
    assert_eq!(query.tag("db.type"), Some(TagValue::from("sqlite")));
    assert!(
        matches!(query.tag("db.statement"), Some(TagValue::String(s)) if s.starts_with("SELECT"))
    );
    // The 404's repository span is an error.
    let failed_get = spans
        .iter()
        .find(|s| s.operation_name() == "get_image" && s.tag("error").is_some())
        .unwrap();
    assert_eq!(failed_get.tag("error"), Some(TagValue::Boolean(true)));
    std::fs::remove_dir_all(&g.blobs).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_store_cannot_take_leaves_no_record_behind() {
    let capture = Capture::install();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let g = gallery(Some(format!("http://{closed}"))).await;
    let http = reqwest::Client::new();
    let (status, body) = send(
        http.post(format!("{}/v0/images?name=cat.png", g.api))
            .header("content-type", "image/png")
            .body(PNG),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    let (_, all) = send(http.get(format!("{}/v0/images", g.api))).await;
    assert_eq!(all, serde_json::json!([]), "the record was removed");
    let upload = capture.span("store_upload");
    assert_eq!(
        upload.tag("error"),
        Some(TagValue::Boolean(true)),
        "a failed upload is an error"
    );
    assert!(upload.logs().iter().any(|l| {
        l.field("event")
            .is_some_and(|m| m.contains("record was removed"))
    }));
    let refused = capture
        .spans()
        .into_iter()
        .find(|s| s.operation_name() == "HTTP PUT")
        .expect("the client span of the store call");
    assert_eq!(refused.tag("error"), Some(TagValue::Boolean(true)));
    std::fs::remove_dir_all(&g.blobs).unwrap();
}
