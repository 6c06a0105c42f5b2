//! The image store's bytes on disk: one file per image id, written to a temporary name and
//! linked into place, so a reader never sees half a file and an id is never written over; a
//! store that died mid-write leaves only a temporary file, removed when it starts again. Each
//! file operation is a span tagged `fs.operation`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use traced::traced;

use crate::blobs::{BlobStore, blocking};
use crate::repository::{is_image_id, new_id};

/// Images' bytes in a directory.
#[derive(Debug, Clone)]
pub struct DiskStore {
    dir: Arc<PathBuf>,
}

impl DiskStore {
    /// The store in `dir`, created if missing; temporary files a crash left are removed.
    ///
    /// # Errors
    /// A directory that cannot be created or cleared.
    pub fn open(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        remove_partial_writes(&dir)?;
        Ok(DiskStore { dir: Arc::new(dir) })
    }

    /// Runs `f` on the directory, on a blocking thread.
    async fn on_disk<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Path) -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let dir = self.dir.clone();
        blocking(move || f(&dir)).await?
    }
}

#[async_trait]
impl BlobStore for DiskStore {
    async fn write(&self, id: &str, bytes: Bytes) -> std::io::Result<()> {
        let id = id.to_owned();
        self.on_disk(move |dir| write_blob(dir, &id, &bytes)).await
    }

    async fn read(&self, id: &str) -> std::io::Result<Bytes> {
        let id = id.to_owned();
        self.on_disk(move |dir| read_blob(dir, &id).map(Bytes::from))
            .await
    }

    async fn delete(&self, id: &str) -> std::io::Result<()> {
        let id = id.to_owned();
        self.on_disk(move |dir| delete_blob(dir, &id)).await
    }

    async fn list(&self) -> std::io::Result<Vec<(String, u128)>> {
        self.on_disk(list_blobs).await
    }

    async fn write_thumbnail(&self, id: &str, thumbnail: Vec<u8>) -> std::io::Result<()> {
        let id = id.to_owned();
        self.on_disk(move |dir| std::fs::write(thumbnail_path(dir, &id), thumbnail))
            .await
    }

    async fn read_thumbnail(&self, id: &str) -> std::io::Result<Vec<u8>> {
        let id = id.to_owned();
        self.on_disk(move |dir| std::fs::read(thumbnail_path(dir, &id)))
            .await
    }
}

/// Writes an image's bytes whole or not at all, and never over another image's.
#[traced(tags(fs.operation = "write", bytes = bytes.len()))]
fn write_blob(dir: &Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    // A temporary file of this write's own: uploads racing for one id must not write into the
    // same file, or the one linked into place could hold another's half-written bytes.
    let temporary = dir.join(format!("{id}.{}.partial", new_id()));
    // A link rather than a rename: it fails, instead of replacing, when the id is taken.
    let written = std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::hard_link(&temporary, dir.join(id)));
    let _ = std::fs::remove_file(&temporary);
    written
}

#[traced(tags(fs.operation = "read"))]
fn read_blob(dir: &Path, id: &str) -> std::io::Result<Vec<u8>> {
    std::fs::read(dir.join(id))
}

#[traced(tags(fs.operation = "delete"))]
fn delete_blob(dir: &Path, id: &str) -> std::io::Result<()> {
    // There may be no thumbnail (not a PNG).
    let _ = std::fs::remove_file(thumbnail_path(dir, id));
    std::fs::remove_file(dir.join(id))
}

#[traced(tags(fs.operation = "list"))]
fn list_blobs(dir: &Path) -> std::io::Result<Vec<(String, u128)>> {
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
fn remove_partial_writes(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "partial") {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

fn thumbnail_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.thumb"))
}
