//! The gallery API: the entry point clients call. It keeps nothing itself: records are the
//! catalog's, bytes the store's, and each request here is one trace across the three services.
//!
//! `GET /v0/images`, `GET /v0/images/{id}`, `GET /v0/images/{id}/thumbnail` (a PNG),
//! `POST /v0/images?name=cat.png` (the image as the body, with its `Content-Type`),
//! `DELETE /v0/images/{id}`; and `GET /health`, untraced. Uploads are checked before anything
//! is written, and a failed upload leaves nothing behind: no record without bytes, no bytes
//! without a record.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{Value, json};
use traced::http::TracingMiddleware;
use traced::traced;

use crate::blobs::MAX_IMAGE;
use crate::catalog::error;
use crate::health::traced_with_health;
use crate::repository::new_id;

/// The media types an upload may have.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Where the other two services are.
#[derive(Clone, Debug)]
pub struct Backends {
    client: ClientWithMiddleware,
    catalog: String,
    store: String,
}

impl Backends {
    /// The catalog and the store at these base URLs (`http://127.0.0.1:7001`).
    pub fn new(catalog: impl Into<String>, store: impl Into<String>) -> Self {
        Backends {
            client: ClientBuilder::new(reqwest::Client::new())
                .with(TracingMiddleware::new())
                .build(),
            catalog: catalog.into(),
            store: store.into(),
        }
    }
}

type Shared = Arc<Backends>;

/// A request that cannot go on, as the answer to give: an error of ours, or a backend's answer
/// passed on.
#[derive(Debug)]
enum Failure {
    Error(StatusCode, String),
    Relay(StatusCode, Value),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Error(status, message) => write!(f, "{status}: {message}"),
            Failure::Relay(status, body) => write!(f, "{status}: {body}"),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Error(status, message) => error(status, message),
            Failure::Relay(status, body) => relay((status, body)),
        }
    }
}

/// The API's routes, traced.
pub fn router(backends: Backends) -> Router {
    let router = Router::new()
        .route("/v0/images", get(list).post(upload))
        .route("/v0/images/{id}", get(one).delete(remove))
        .route("/v0/images/{id}/thumbnail", get(thumbnail))
        .layer(DefaultBodyLimit::max(MAX_IMAGE + 1))
        .with_state(Arc::new(backends));
    traced_with_health(router)
}

/// A call to another service: its status and JSON body (`null` when there is none).
async fn call(request: reqwest_middleware::RequestBuilder) -> Result<(StatusCode, Value), Failure> {
    let response = request.send().await.map_err(|e| {
        Failure::Error(
            StatusCode::BAD_GATEWAY,
            format!("a backend is unreachable: {e}"),
        )
    })?;
    // reqwest's status is `http`'s, as axum's is.
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| {
        Failure::Error(
            StatusCode::BAD_GATEWAY,
            format!("a backend's answer was cut: {e}"),
        )
    })?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

fn relay((status, body): (StatusCode, Value)) -> Response {
    (status, Json(body)).into_response()
}

#[traced]
async fn list_images(backends: &Backends) -> Result<(StatusCode, Value), Failure> {
    records(backends).await
}

/// The catalog's answer to "every image record".
async fn records(backends: &Backends) -> Result<(StatusCode, Value), Failure> {
    call(backends.client.get(format!("{}/images", backends.catalog))).await
}

/// The store's answer to removing the bytes of image `id`.
async fn delete_bytes(backends: &Backends, id: &str) -> Result<(StatusCode, Value), Failure> {
    call(
        backends
            .client
            .delete(format!("{}/blobs/{id}", backends.store)),
    )
    .await
}

async fn list(State(backends): State<Shared>) -> Response {
    list_images(&backends)
        .await
        .map_or_else(IntoResponse::into_response, relay)
}

async fn one(State(backends): State<Shared>, Path(id): Path<String>) -> Response {
    call(
        backends
            .client
            .get(format!("{}/images/{id}", backends.catalog)),
    )
    .await
    .map_or_else(IntoResponse::into_response, relay)
}

/// Checks an upload before anything is written: a supported type, not empty, not too large.
fn check_upload(headers: &HeaderMap, body: &Bytes) -> Result<String, Failure> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !IMAGE_TYPES.contains(&content_type.as_str()) {
        return Err(Failure::Error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{content_type:?} is not one of {}", IMAGE_TYPES.join(", ")),
        ));
    }
    if body.is_empty() {
        return Err(Failure::Error(
            StatusCode::BAD_REQUEST,
            "the image is empty".into(),
        ));
    }
    if body.len() > MAX_IMAGE {
        return Err(Failure::Error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an image is at most {MAX_IMAGE} bytes"),
        ));
    }
    Ok(content_type)
}

/// A backend's answer other than the one hoped for, as the failure to answer with.
fn unexpected(answer: Result<(StatusCode, Value), Failure>) -> Failure {
    match answer {
        Err(failure) => failure,
        Ok((status, body)) if status.is_success() => Failure::Relay(StatusCode::BAD_GATEWAY, body),
        Ok((status, body)) => Failure::Relay(status, body),
    }
}

/// Stores an upload: the bytes first, under a new id, then the record that points at them, so
/// a record never points at missing bytes. Bytes whose record could not be written are removed
/// at once; bytes left by an API stopped between the two steps, by [`sweep_orphans`].
#[traced(tags(image.size = body.len()))]
async fn store_upload(
    backends: &Backends,
    name: String,
    content_type: String,
    body: Bytes,
) -> Result<Value, Failure> {
    let id = new_id();
    traced::tag("image.id", &id);
    let size = body.len();
    let store = backends
        .client
        .put(format!("{}/blobs/{id}", backends.store));
    let stored = call(store.body(body)).await;
    if !matches!(stored, Ok((StatusCode::CREATED, _))) {
        traced::log("the image store did not take the bytes; nothing was recorded");
        return Err(unexpected(stored));
    }
    let record = json!({"id": id, "name": name, "content_type": content_type, "size": size});
    let catalog = backends.client.post(format!("{}/images", backends.catalog));
    match call(catalog.json(&record)).await {
        Ok((StatusCode::CREATED, image)) => Ok(image),
        failure => {
            let _ = delete_bytes(backends, &id).await;
            traced::log("the catalog did not take the record; the bytes were removed");
            Err(unexpected(failure))
        }
    }
}

/// How often a running API sweeps ([`sweep_orphans`]).
pub const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// Sweeps every `every`, for as long as the runtime runs; each sweep is a trace of its own. A
/// failed sweep is in its trace and is tried again next time.
pub async fn sweep_periodically(backends: Backends, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let _ = sweep_orphans(&backends, ORPHAN_GRACE).await;
    }
}

/// How old bytes with no record must be before [`sweep_orphans`] removes them: far longer than
/// an upload takes between storing its bytes and recording them.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// Removes the bytes no record points at that are at least `grace` old: what an API stopped
/// between the two steps of an upload leaves (a failed step is undone at once). Younger bytes
/// may belong to an upload under way, and are kept. Returns how many were removed; the API
/// runs it every few minutes (`gallery api`).
///
/// # Errors
/// The store or the catalog unreachable or failing: nothing is removed.
#[traced]
pub async fn sweep_orphans(backends: &Backends, grace: Duration) -> Result<usize, String> {
    let listed = |answer: Result<(StatusCode, Value), Failure>, what: &str| match answer {
        Ok((StatusCode::OK, Value::Array(items))) => Ok(items),
        other => Err(format!("listing {what}: {}", unexpected(other))),
    };
    // The bytes first, then the records: a record made in between is seen.
    let blobs = listed(
        call(backends.client.get(format!("{}/blobs", backends.store))).await,
        "the stored images",
    )?;
    let records = listed(records(backends).await, "the image records")?;
    let recorded: HashSet<&str> = records.iter().filter_map(|r| r["id"].as_str()).collect();
    let mut removed = 0;
    for blob in &blobs {
        let (Some(id), Some(age)) = (blob["id"].as_str(), blob["age_ms"].as_u64()) else {
            continue;
        };
        if recorded.contains(id) || u128::from(age) < grace.as_millis() {
            continue;
        }
        if let Ok((StatusCode::NO_CONTENT, _)) = delete_bytes(backends, id).await {
            removed += 1;
        }
    }
    traced::tag("orphans.removed", removed);
    Ok(removed)
}

async fn upload(
    State(backends): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = match check_upload(&headers, &body) {
        Ok(t) => t,
        Err(failure) => return failure.into_response(),
    };
    let name = params
        .get("name")
        .cloned()
        .unwrap_or_else(|| "unnamed".into());
    match store_upload(&backends, name, content_type, body).await {
        Ok(image) => {
            tracing::info!(
                id = image["id"].as_str().unwrap_or_default(),
                "image uploaded"
            );
            (StatusCode::CREATED, Json(image)).into_response()
        }
        Err(failure) => failure.into_response(),
    }
}

async fn remove(State(backends): State<Shared>, Path(id): Path<String>) -> Response {
    let catalog = backends
        .client
        .delete(format!("{}/images/{id}", backends.catalog));
    let (status, body) = match call(catalog).await {
        Ok(answer) => answer,
        Err(failure) => return failure.into_response(),
    };
    if status != StatusCode::NO_CONTENT {
        return relay((status, body));
    }
    match delete_bytes(&backends, &id).await {
        Ok((StatusCode::NO_CONTENT | StatusCode::NOT_FOUND, _)) => {
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(other) => relay(other),
        Err(failure) => failure.into_response(),
    }
}

async fn thumbnail(State(backends): State<Shared>, Path(id): Path<String>) -> Response {
    let url = format!("{}/blobs/{id}/thumbnail", backends.store);
    let response = match backends.client.get(url).send().await {
        Ok(response) => response,
        Err(e) => {
            return error(
                StatusCode::BAD_GATEWAY,
                format!("the image store is unreachable: {e}"),
            );
        }
    };
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    match response.bytes().await {
        Ok(bytes) => (
            status,
            [(axum::http::header::CONTENT_TYPE, content_type)],
            bytes,
        )
            .into_response(),
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            format!("the image store's answer was cut: {e}"),
        ),
    }
}
