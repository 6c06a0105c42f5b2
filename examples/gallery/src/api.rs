//! The gallery API: the entry point clients call. It keeps nothing itself: records are the
//! catalog's, bytes the store's, and each request here is one trace across the three services.
//!
//! `GET /v0/images`, `GET /v0/images/{id}`, `GET /v0/images/{id}/thumbnail` (a PNG),
//! `POST /v0/images?name=cat.png` (the image as the body, with its `Content-Type`),
//! `DELETE /v0/images/{id}`; and `GET /health`, untraced. Uploads are checked before anything
//! is written, and a failed upload leaves nothing behind: no record without bytes, no bytes
//! without a record.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{Value, json};
use traced::http::{TraceLayer, TracingMiddleware};
use traced::traced;

use crate::blobs::MAX_IMAGE;
use crate::catalog::error;

/// The media types an upload may have.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Where the other two services are.
#[derive(Clone)]
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
    Router::new()
        .route("/v0/images", get(list).post(upload))
        .route("/v0/images/{id}", get(one).delete(remove))
        .route("/v0/images/{id}/thumbnail", get(thumbnail))
        .route("/health", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_IMAGE + 1))
        .with_state(Arc::new(backends))
        // Health checks are not requests anyone wants traced.
        .layer(TraceLayer::new().filter(|req| req.uri.path() != "/health"))
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
    call(backends.client.get(format!("{}/images", backends.catalog))).await
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

#[traced(tags(image.size = body.len()))]
async fn store_upload(
    backends: &Backends,
    name: String,
    content_type: String,
    body: Bytes,
) -> Result<Value, Failure> {
    let record = json!({"name": name, "content_type": content_type, "size": body.len()});
    let catalog = backends.client.post(format!("{}/images", backends.catalog));
    let (status, image) = call(catalog.json(&record)).await?;
    if status != StatusCode::CREATED {
        return Err(Failure::Relay(status, image));
    }
    let id = image["id"].as_str().unwrap_or_default().to_owned();
    let store = backends
        .client
        .put(format!("{}/blobs/{id}", backends.store));
    match call(store.body(body)).await {
        Ok((StatusCode::CREATED, _)) => Ok(image),
        failure => {
            // The bytes did not make it: the record goes too, so nothing half-written stays.
            let _ = call(
                backends
                    .client
                    .delete(format!("{}/images/{id}", backends.catalog)),
            )
            .await;
            traced::log("the image store refused the bytes; the record was removed");
            Err(match failure {
                Err(e) => e,
                Ok((status, body)) if status.is_success() => {
                    Failure::Relay(StatusCode::BAD_GATEWAY, body)
                }
                Ok((status, body)) => Failure::Relay(status, body),
            })
        }
    }
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
        Ok(image) => (StatusCode::CREATED, Json(image)).into_response(),
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
    match call(
        backends
            .client
            .delete(format!("{}/blobs/{id}", backends.store)),
    )
    .await
    {
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
