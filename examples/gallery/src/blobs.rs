//! The image store: the service that keeps images' bytes on disk, one file per image id,
//! written to a temporary name and renamed, so a reader never sees half a file.
//!
//! `PUT /blobs/{id}`, `GET /blobs/{id}`, `GET /blobs/{id}/thumbnail`, `DELETE /blobs/{id}`; ids
//! are 16 hex digits (anything else is refused before it comes near a path).
//!
//! A PNG's thumbnail is made when it is stored and kept next to it. With `slow` set (the demo's
//! `--slow`) it is made on every thumbnail request instead: the slowdown the demo's trace
//! points at.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use traced::http::TraceLayer;
use traced::traced;

use crate::catalog::error;
use crate::thumbnail::make_thumbnail;

/// The largest image the store takes.
pub const MAX_IMAGE: usize = 8 << 20;

fn valid(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[traced(tags(fs.operation = "write", bytes = bytes.len()))]
fn write_blob(dir: &FsPath, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = dir.join(format!("{id}.partial"));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, dir.join(id))
}

#[traced(tags(fs.operation = "read"))]
fn read_blob(dir: &FsPath, id: &str) -> std::io::Result<Vec<u8>> {
    std::fs::read(dir.join(id))
}

#[traced(tags(fs.operation = "delete"))]
fn delete_blob(dir: &FsPath, id: &str) -> std::io::Result<()> {
    std::fs::remove_file(dir.join(id))?;
    // A thumbnail may not exist (not a PNG); its image is gone either way.
    let _ = std::fs::remove_file(dir.join(format!("{id}.thumb")));
    Ok(())
}

fn thumbnail_path(dir: &FsPath, id: &str) -> PathBuf {
    dir.join(format!("{id}.thumb"))
}

fn io_error(e: &std::io::Error) -> Response {
    if e.kind() == std::io::ErrorKind::NotFound {
        error(StatusCode::NOT_FOUND, "no such image")
    } else {
        error(StatusCode::INTERNAL_SERVER_ERROR, e)
    }
}

/// The store's routes over the directory `dir` (created if missing), traced.
///
/// # Errors
/// A directory that cannot be created.
pub fn router(dir: PathBuf, slow: bool) -> std::io::Result<Router> {
    std::fs::create_dir_all(&dir)?;
    Ok(Router::new()
        .route("/blobs/{id}", put(store).get(fetch).delete(remove))
        .route("/blobs/{id}/thumbnail", get(thumbnail))
        .layer(DefaultBodyLimit::max(MAX_IMAGE))
        .with_state(Arc::new(Blobs { dir, slow }))
        .layer(TraceLayer::new()))
}

/// The store's state.
struct Blobs {
    dir: PathBuf,
    /// Thumbnails made on request rather than when stored.
    slow: bool,
}

/// Runs `f` on a blocking thread (file I/O, image work) in the current span's context.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(traced::Context::current().wrap(f))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))
}

fn refuse_bad_id(id: &str) -> Option<Response> {
    (!valid(id)).then(|| error(StatusCode::BAD_REQUEST, "an image id is 16 hex digits"))
}

async fn store(State(blobs): State<Arc<Blobs>>, Path(id): Path<String>, body: Bytes) -> Response {
    if let Some(refusal) = refuse_bad_id(&id) {
        return refusal;
    }
    let written = blocking(move || {
        write_blob(&blobs.dir, &id, &body)?;
        if !blobs.slow {
            // Made once, now, rather than on every request. Not a PNG: no thumbnail.
            if let Ok(thumb) = make_thumbnail(&body) {
                std::fs::write(thumbnail_path(&blobs.dir, &id), thumb)?;
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    match written {
        Ok(Ok(())) => StatusCode::CREATED.into_response(),
        Ok(Err(e)) => io_error(&e),
        Err(response) => response,
    }
}

async fn fetch(State(blobs): State<Arc<Blobs>>, Path(id): Path<String>) -> Response {
    if let Some(refusal) = refuse_bad_id(&id) {
        return refusal;
    }
    match blocking(move || read_blob(&blobs.dir, &id)).await {
        Ok(Ok(bytes)) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        Ok(Err(e)) => io_error(&e),
        Err(response) => response,
    }
}

async fn thumbnail(State(blobs): State<Arc<Blobs>>, Path(id): Path<String>) -> Response {
    if let Some(refusal) = refuse_bad_id(&id) {
        return refusal;
    }
    let made = blocking(move || {
        if !blobs.slow
            && let Ok(thumb) = std::fs::read(thumbnail_path(&blobs.dir, &id))
        {
            return Ok(Ok(thumb));
        }
        let image = read_blob(&blobs.dir, &id)?;
        Ok::<_, std::io::Error>(make_thumbnail(&image))
    })
    .await;
    match made {
        Ok(Ok(Ok(thumb))) => ([(header::CONTENT_TYPE, "image/png")], thumb).into_response(),
        Ok(Ok(Err(e))) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
        Ok(Err(e)) => io_error(&e),
        Err(response) => response,
    }
}

async fn remove(State(blobs): State<Arc<Blobs>>, Path(id): Path<String>) -> Response {
    if let Some(refusal) = refuse_bad_id(&id) {
        return refusal;
    }
    match blocking(move || delete_blob(&blobs.dir, &id)).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => io_error(&e),
        Err(response) => response,
    }
}
