//! The image store: the service that keeps images' bytes, over a [`BlobStore`]: a directory
//! ([`DiskStore`], the default) or, with the `s3` feature, an S3-compatible bucket
//! (`crate::s3::S3Store`). Either way an image is stored whole or not at all, and an id is never
//! written over.
//!
//! `PUT /blobs/{id}`, `GET /blobs/{id}`, `GET /blobs/{id}/thumbnail`, `DELETE /blobs/{id}`,
//! `GET /blobs` (`[{"id", "age_ms"}]`, for the API's sweep of bytes no record points at), and
//! `GET /health`, untraced; ids are 16 hex digits (anything else is refused before it comes near
//! a path or a key).
//!
//! A PNG's thumbnail is made when it is stored and kept next to it. With `slow` set (the demo's
//! `--slow`) it is made on every thumbnail request instead: the slowdown the demo's trace
//! points at.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};

use crate::catalog::error;
use crate::health::traced_with_health;
use crate::repository::{IMAGE_ID_SHAPE, is_image_id};
use crate::thumbnail::make_thumbnail;

pub use crate::disk::DiskStore;

/// The largest image the store takes.
pub const MAX_IMAGE: usize = 8 << 20;

/// Where the image store keeps bytes. Ids reaching it have the shape of an image id. Errors are
/// `std::io::Error`s whose kind says what the service answers: `NotFound` (404),
/// `AlreadyExists` (409), anything else (500).
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores an image's bytes whole or not at all, under an id no image has: `AlreadyExists`
    /// when one has it, and that image's bytes stay.
    async fn write(&self, id: &str, bytes: Bytes) -> std::io::Result<()>;

    /// An image's bytes.
    async fn read(&self, id: &str) -> std::io::Result<Bytes>;

    /// Removes an image and its thumbnail: the thumbnail first, so that a store stopped between
    /// the two keeps an image without its thumbnail (made again on request), never a thumbnail
    /// without its image.
    async fn delete(&self, id: &str) -> std::io::Result<()>;

    /// Every image the store holds, with how long ago it was written, in milliseconds.
    async fn list(&self) -> std::io::Result<Vec<(String, u128)>>;

    /// Keeps an image's thumbnail (made again, it replaces the one there was).
    async fn write_thumbnail(&self, id: &str, thumbnail: Vec<u8>) -> std::io::Result<()>;

    /// An image's thumbnail, if one was kept.
    async fn read_thumbnail(&self, id: &str) -> std::io::Result<Vec<u8>>;
}

/// The store's routes over the directory `dir` (created if missing; temporary files a crash
/// left are removed), traced.
///
/// # Errors
/// A directory that cannot be created or cleared.
pub fn router(dir: PathBuf, slow: bool) -> std::io::Result<Router> {
    Ok(router_over(Arc::new(DiskStore::open(dir)?), slow))
}

/// The store's routes over `blobs`, traced.
pub fn router_over(blobs: Arc<dyn BlobStore>, slow: bool) -> Router {
    traced_with_health(
        Router::new()
            .route("/blobs", get(list))
            .route("/blobs/{id}", put(store).get(fetch).delete(remove))
            .route("/blobs/{id}/thumbnail", get(thumbnail))
            .layer(DefaultBodyLimit::max(MAX_IMAGE))
            // tower-http's `tracing` spans and events: under the process's subscriber (the
            // service's, `logs::init`), a `request` span in the trace, between the server span
            // and the handler's.
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .with_state(Arc::new(Service { blobs, slow })),
    )
}

/// The service's state.
struct Service {
    blobs: Arc<dyn BlobStore>,
    /// Thumbnails made on request rather than when stored.
    slow: bool,
}

/// Runs `f` on a blocking thread (file I/O, image work) in the current span's context.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(traced::Context::current().wrap(f))
        .await
        .map_err(std::io::Error::other)
}

fn io_error(e: &std::io::Error) -> Response {
    match e.kind() {
        std::io::ErrorKind::NotFound => error(StatusCode::NOT_FOUND, "no such image"),
        std::io::ErrorKind::AlreadyExists => {
            error(StatusCode::CONFLICT, "the image exists already")
        }
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn refuse_bad_id(id: &str) -> Option<Response> {
    (!is_image_id(id)).then(|| error(StatusCode::BAD_REQUEST, IMAGE_ID_SHAPE))
}

/// Stores the bytes, then, unless slow, their thumbnail (not a PNG: none); a thumbnail that
/// cannot be kept undoes the upload, so a refused upload leaves nothing behind.
async fn stored(service: &Service, id: &str, body: Bytes) -> std::io::Result<()> {
    service.blobs.write(id, body.clone()).await?;
    if service.slow {
        return Ok(());
    }
    // Made once, now, rather than on every request.
    if let Ok(thumb) = blocking(move || make_thumbnail(&body)).await?
        && let Err(e) = service.blobs.write_thumbnail(id, thumb).await
    {
        let _ = service.blobs.delete(id).await;
        return Err(e);
    }
    Ok(())
}

async fn store(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refuse_bad_id(&id) {
        return refusal;
    }
    let bytes = body.len();
    match stored(&service, &id, body).await {
        Ok(()) => {
            tracing::info!(%id, bytes, "blob stored");
            StatusCode::CREATED.into_response()
        }
        Err(e) => {
            tracing::warn!(%id, error = %e, "blob not stored");
            io_error(&e)
        }
    }
}

async fn list(State(service): State<Arc<Service>>) -> Response {
    match service.blobs.list().await {
        Ok(list) => Json(
            list.into_iter()
                .map(|(id, age_ms)| serde_json::json!({"id": id, "age_ms": age_ms}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => io_error(&e),
    }
}

async fn fetch(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Response {
    if let Some(refusal) = refuse_bad_id(&id) {
        return refusal;
    }
    match service.blobs.read(&id).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => io_error(&e),
    }
}

/// The kept thumbnail, or, when slow or there is none, one made from the image now.
async fn thumbnail_of(
    service: &Service,
    id: &str,
) -> std::io::Result<Result<Vec<u8>, crate::thumbnail::ThumbnailError>> {
    if !service.slow
        && let Ok(thumb) = service.blobs.read_thumbnail(id).await
    {
        return Ok(Ok(thumb));
    }
    let image = service.blobs.read(id).await?;
    blocking(move || make_thumbnail(&image)).await
}

async fn thumbnail(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Response {
    if let Some(refusal) = refuse_bad_id(&id) {
        return refusal;
    }
    match thumbnail_of(&service, &id).await {
        Ok(Ok(thumb)) => ([(header::CONTENT_TYPE, "image/png")], thumb).into_response(),
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Err(e) => io_error(&e),
    }
}

async fn remove(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Response {
    if let Some(refusal) = refuse_bad_id(&id) {
        return refusal;
    }
    match service.blobs.delete(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => io_error(&e),
    }
}
