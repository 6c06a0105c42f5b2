//! The three services together on loopback (in one process here; the demo runs each in its own):
//! requests of each kind, uploads checked before anything is written, a failed upload leaving
//! nothing behind (whichever backend failed, and bytes left by an API stopped mid-upload swept),
//! and one trace per request nesting the API, its client call, the catalog and the repository
//! with its database tags.

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
    /// What the API calls.
    backends: Backends,
    /// The catalog's base URL.
    catalog: String,
    /// The store's base URL.
    store: String,
    blobs: std::path::PathBuf,
}

/// A URL where nothing listens.
fn closed() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// The three services; the API calls `catalog_url` or `store_url` instead of the real one when
/// given (a backend that is down).
async fn gallery(catalog_url: Option<String>, store_url: Option<String>) -> Gallery {
    let catalog = serve(gallery::catalog::router(Arc::new(
        SqliteRepository::in_memory().unwrap(),
    )))
    .await;
    let blobs = std::env::temp_dir().join(format!(
        "gallery-blobs-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let store = format!(
        "http://{}",
        serve(gallery::blobs::router(blobs.clone(), false).unwrap()).await
    );
    let backends = Backends::new(
        catalog_url.unwrap_or_else(|| format!("http://{catalog}")),
        store_url.unwrap_or_else(|| store.clone()),
    );
    let api = serve(gallery::api::router(backends.clone())).await;
    Gallery {
        api: format!("http://{api}"),
        backends,
        catalog: format!("http://{catalog}"),
        store,
        blobs,
    }
}

/// The images the store holds on disk (thumbnails and temporary files aside).
fn stored(g: &Gallery) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(&g.blobs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| gallery::is_image_id(name))
        .collect();
    ids.sort();
    ids
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
    let g = gallery(None, None).await;
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
    let g = gallery(None, Some(closed())).await;
    let http = reqwest::Client::new();
    let (status, body) = send(
        http.post(format!("{}/v0/images?name=cat.png", g.api))
            .header("content-type", "image/png")
            .body(PNG),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    let (_, all) = send(http.get(format!("{}/v0/images", g.api))).await;
    assert_eq!(all, serde_json::json!([]), "nothing was recorded");
    let upload = capture.span("store_upload");
    assert_eq!(
        upload.tag("error"),
        Some(TagValue::Boolean(true)),
        "a failed upload is an error"
    );
    assert!(upload.logs().iter().any(|l| {
        l.field("event")
            .is_some_and(|m| m.contains("nothing was recorded"))
    }));
    assert!(
        capture.spans_named("insert_image").is_empty(),
        "the catalog is not asked to record bytes the store does not have"
    );
    let refused = capture
        .spans()
        .into_iter()
        .find(|s| s.operation_name() == "HTTP PUT")
        .expect("the client span of the store call");
    assert_eq!(refused.tag("error"), Some(TagValue::Boolean(true)));
    std::fs::remove_dir_all(&g.blobs).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_catalog_cannot_take_leaves_no_bytes_behind() {
    let capture = Capture::install();
    let g = gallery(Some(closed()), None).await;
    let (status, body) = send(
        reqwest::Client::new()
            .post(format!("{}/v0/images?name=cat.png", g.api))
            .header("content-type", "image/png")
            .body(PNG),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(stored(&g), Vec::<String>::new(), "the bytes were removed");
    let upload = capture.span("store_upload");
    assert_eq!(upload.tag("error"), Some(TagValue::Boolean(true)));
    assert!(upload.logs().iter().any(|l| {
        l.field("event")
            .is_some_and(|m| m.contains("the bytes were removed"))
    }));
    let children = |name: &str| {
        capture
            .spans_named(name)
            .into_iter()
            .filter(|s| s.parent_id() == Some(upload.span_id()))
            .collect::<Vec<_>>()
    };
    let [put] = &children("HTTP PUT")[..] else {
        panic!("one store call")
    };
    assert_eq!(put.tag("http.status_code"), Some(TagValue::Integer(201)));
    let [post] = &children("HTTP POST")[..] else {
        panic!("one catalog call")
    };
    assert_eq!(post.tag("error"), Some(TagValue::Boolean(true)));
    let [delete] = &children("HTTP DELETE")[..] else {
        panic!("one compensating call")
    };
    assert_eq!(delete.tag("http.status_code"), Some(TagValue::Integer(204)));
    std::fs::remove_dir_all(&g.blobs).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_an_api_stopped_mid_upload_left_without_a_record_are_swept() {
    let capture = Capture::install();
    let g = gallery(None, None).await;
    let http = reqwest::Client::new();
    let (status, cat) = send(
        http.post(format!("{}/v0/images?name=cat.png", g.api))
            .header("content-type", "image/png")
            .body(PNG),
    )
    .await;
    assert_eq!(status, 201, "{cat}");
    let cat = cat["id"].as_str().unwrap().to_owned();
    // The first step of an upload whose API then stopped: bytes, and no record.
    let orphan = gallery::new_id();
    let (status, _) = send(http.put(format!("{}/blobs/{orphan}", g.store)).body(PNG)).await;
    assert_eq!(status, 201);
    let mut both = vec![cat.clone(), orphan.clone()];
    both.sort();
    assert_eq!(stored(&g), both);

    // Young bytes may be an upload under way: kept.
    let kept = gallery::api::sweep_orphans(&g.backends, gallery::api::ORPHAN_GRACE).await;
    assert_eq!(kept, Ok(0));
    assert_eq!(stored(&g), both);
    let swept = gallery::api::sweep_orphans(&g.backends, std::time::Duration::ZERO).await;
    assert_eq!(swept, Ok(1));
    assert_eq!(stored(&g), [cat], "the recorded image stays");

    let sweeps = capture.spans_named("sweep_orphans");
    assert_eq!(sweeps.len(), 2);
    let sweep = sweeps
        .iter()
        .find(|s| s.tag("orphans.removed") == Some(TagValue::Integer(1)))
        .expect("the sweep that removed the orphan");
    let calls: Vec<String> = capture
        .spans()
        .iter()
        .filter(|s| s.parent_id() == Some(sweep.span_id()))
        .map(|s| s.operation_name().to_owned())
        .collect();
    assert_eq!(
        calls,
        ["HTTP GET", "HTTP GET", "HTTP DELETE"],
        "list, list, remove"
    );

    // A backend that is down: an error, and nothing removed.
    let down = Backends::new(closed(), g.store.clone());
    let failed = gallery::api::sweep_orphans(&down, std::time::Duration::ZERO).await;
    assert!(failed.is_err_and(|e| e.contains("listing the image records")));
    assert_eq!(stored(&g).len(), 1);
    std::fs::remove_dir_all(&g.blobs).unwrap();
}

#[tokio::test]
async fn the_store_never_overwrites_an_image_and_clears_writes_cut_short_when_it_starts() {
    // Holds the capture too: the tracer is global, and the other tests look at spans.
    let _capture = Capture::install();
    let g = gallery(None, None).await;
    let http = reqwest::Client::new();
    let id = gallery::new_id();
    let put = |body: &'static [u8]| http.put(format!("{}/blobs/{id}", g.store)).body(body);
    assert_eq!(send(put(PNG)).await.0, 201);
    let (status, body) = send(put(b"other bytes")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("the image exists already"))
    );
    assert_eq!(
        std::fs::read(g.blobs.join(&id)).unwrap(),
        PNG,
        "the first bytes stay"
    );
    let (status, listed) = send(http.get(format!("{}/blobs", g.store))).await;
    assert_eq!((status, listed[0]["id"].as_str()), (200, Some(id.as_str())));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // A store stopped mid-write leaves a temporary file; started again, it removes it.
    let cut_short = g.blobs.join(format!("{}.partial", gallery::new_id()));
    std::fs::write(&cut_short, b"half an ima").unwrap();
    let _restarted = gallery::blobs::router(g.blobs.clone(), false).unwrap();
    assert!(!cut_short.exists());
    assert_eq!(stored(&g), [id]);
    std::fs::remove_dir_all(&g.blobs).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_answers_health_checks_untraced() {
    let capture = Capture::install();
    let g = gallery(None, None).await;
    for base in [&g.api, &g.catalog, &g.store] {
        let response = reqwest::get(format!("{base}/health")).await.unwrap();
        assert_eq!(response.status(), 200, "{base}");
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    assert!(capture.spans().is_empty(), "{:#?}", capture.spans());
    std::fs::remove_dir_all(&g.blobs).unwrap();
}
