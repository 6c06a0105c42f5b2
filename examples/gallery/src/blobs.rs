//! The image store: the service that keeps images' bytes on disk, one file per image id,
//! written to a temporary name and renamed, so a reader never sees half a file.
//!
//! `PUT /blobs/{id}`, `GET /blobs/{id}`, `DELETE /blobs/{id}`; ids are 16 hex digits (anything
//! else is refused before it comes near a path).

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use traced::http::TraceLayer;
use traced::traced;

use crate::catalog::error;

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
    std::fs::remove_file(dir.join(id))
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
pub fn router(dir: PathBuf) -> std::io::Result<Router> {
    std::fs::create_dir_all(&dir)?;
    Ok(Router::new()
        .route("/blobs/{id}", put(store).get(fetch).delete(remove))
        .layer(DefaultBodyLimit::max(MAX_IMAGE))
        .with_state(Arc::new(dir))
        .layer(TraceLayer::new()))
}

async fn store(State(dir): State<Arc<PathBuf>>, Path(id): Path<String>, body: Bytes) -> Response {
    if !valid(&id) {
        return error(StatusCode::BAD_REQUEST, "an image id is 16 hex digits");
    }
    let result = tokio::task::spawn_blocking(
        traced::Context::current().wrap(move || write_blob(&dir, &id, &body)),
    )
    .await;
    match result {
        Ok(Ok(())) => StatusCode::CREATED.into_response(),
        Ok(Err(e)) => io_error(&e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn fetch(State(dir): State<Arc<PathBuf>>, Path(id): Path<String>) -> Response {
    if !valid(&id) {
        return error(StatusCode::BAD_REQUEST, "an image id is 16 hex digits");
    }
    match tokio::task::spawn_blocking(traced::Context::current().wrap(move || read_blob(&dir, &id)))
        .await
    {
        Ok(Ok(bytes)) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        Ok(Err(e)) => io_error(&e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn remove(State(dir): State<Arc<PathBuf>>, Path(id): Path<String>) -> Response {
    if !valid(&id) {
        return error(StatusCode::BAD_REQUEST, "an image id is 16 hex digits");
    }
    match tokio::task::spawn_blocking(
        traced::Context::current().wrap(move || delete_blob(&dir, &id)),
    )
    .await
    {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => io_error(&e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
