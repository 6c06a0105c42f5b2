//! The image store: the service that keeps images' bytes on disk, one file per image id,
//! written to a temporary name and linked into place, so a reader never sees half a file and
//! an id is never written over; a store that died mid-write leaves only a temporary file,
//! removed when it starts again.
//!
//! `PUT /blobs/{id}`, `GET /blobs/{id}`, `GET /blobs/{id}/thumbnail`, `DELETE /blobs/{id}`,
//! `GET /blobs` (`[{"id", "age_ms"}]`, for the API's sweep of bytes no record points at), and
//! `GET /health`, untraced; ids are 16 hex digits (anything else is refused before it comes near
//! a path).
//!
//! A PNG's thumbnail is made when it is stored and kept next to it. With `slow` set (the demo's
//! `--slow`) it is made on every thumbnail request instead: the slowdown the demo's trace
//! points at.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use traced::traced;

use crate::catalog::error;
use crate::health::traced_with_health;
use crate::repository::{IMAGE_ID_SHAPE, is_image_id};
use crate::thumbnail::make_thumbnail;

/// The largest image the store takes.
pub const MAX_IMAGE: usize = 8 << 20;

/// Writes an image's bytes whole or not at all, and never over another image's.
#[traced(tags(fs.operation = "write", bytes = bytes.len()))]
fn write_blob(dir: &FsPath, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = dir.join(format!("{id}.partial"));
    // A link rather than a rename: it fails, instead of replacing, when the id is taken.
    let written = std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::hard_link(&temporary, dir.join(id)));
    let _ = std::fs::remove_file(&temporary);
    written
}

#[traced(tags(fs.operation = "read"))]
fn read_blob(dir: &FsPath, id: &str) -> std::io::Result<Vec<u8>> {
    std::fs::read(dir.join(id))
}

#[traced(tags(fs.operation = "delete"))]
fn delete_blob(dir: &FsPath, id: &str) -> std::io::Result<()> {
    // The thumbnail first: stopped between the two, the store keeps an image without its
    // thumbnail (made again on request), never a thumbnail without its image. There may be
    // none (not a PNG).
    let _ = std::fs::remove_file(thumbnail_path(dir, id));
    std::fs::remove_file(dir.join(id))
}

/// Every image the store holds, with how long ago it was written.
#[traced(tags(fs.operation = "list"))]
fn list_blobs(dir: &FsPath) -> std::io::Result<Vec<(String, u128)>> {
    let mut blobs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(id) = entry
            .file_name()
            .to_str()
            .filter(|n| is_image_id(n))
            .map(str::to_owned)
        else {
            continue;
        };
        let age = entry
            .metadata()?
            .modified()?
            .elapsed()
            .map_or(0, |age| age.as_millis());
        blobs.push((id, age));
    }
    Ok(blobs)
}

/// Removes what a store stopped mid-write left: temporary files, never linked into place.
fn remove_partial_writes(dir: &FsPath) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "partial") {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

fn thumbnail_path(dir: &FsPath, id: &str) -> PathBuf {
    dir.join(format!("{id}.thumb"))
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

/// The store's routes over the directory `dir` (created if missing), traced.
///
/// # Errors
/// A directory that cannot be created.
pub fn router(dir: PathBuf, slow: bool) -> std::io::Result<Router> {
    std::fs::create_dir_all(&dir)?;
    remove_partial_writes(&dir)?;
    Ok(traced_with_health(
        Router::new()
            .route("/blobs", get(list))
            .route("/blobs/{id}", put(store).get(fetch).delete(remove))
            .route("/blobs/{id}/thumbnail", get(thumbnail))
            .layer(DefaultBodyLimit::max(MAX_IMAGE))
            .with_state(Arc::new(Blobs { dir, slow })),
    ))
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
    (!is_image_id(id)).then(|| error(StatusCode::BAD_REQUEST, IMAGE_ID_SHAPE))
}

async fn store(State(blobs): State<Arc<Blobs>>, Path(id): Path<String>, body: Bytes) -> Response {
    if let Some(refusal) = refuse_bad_id(&id) {
        return refusal;
    }
    let written = blocking(move || {
        write_blob(&blobs.dir, &id, &body)?;
        if !blobs.slow
            // Made once, now, rather than on every request. Not a PNG: no thumbnail.
            && let Ok(thumb) = make_thumbnail(&body)
            && let Err(e) = std::fs::write(thumbnail_path(&blobs.dir, &id), thumb)
        {
            // A refused upload leaves nothing behind.
            let _ = delete_blob(&blobs.dir, &id);
            return Err(e);
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

async fn list(State(blobs): State<Arc<Blobs>>) -> Response {
    match blocking(move || list_blobs(&blobs.dir)).await {
        Ok(Ok(list)) => Json(
            list.into_iter()
                .map(|(id, age_ms)| serde_json::json!({"id": id, "age_ms": age_ms}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
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
