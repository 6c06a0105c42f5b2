//! The image repository: where the gallery's image records live. One trait, so the services
//! do not care which backend holds them; every backend traces each call as a span with the
//! OpenTracing database tags (`db.type`, `db.instance`, `db.statement`, `db.user`), and a failed
//! call marks its span `error = true`.

use async_trait::async_trait;

/// An image's record (its bytes live in the image store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Its id, 16 hex digits.
    pub id: String,
    /// Its name, as uploaded.
    pub name: String,
    /// Its media type (`image/png`, ...).
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored, in milliseconds since the epoch.
    pub created_ms: i64,
}

/// What an upload records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImage {
    /// Its id ([`new_id`]), chosen by the caller: the API stores the bytes under it before it
    /// records them, so that no record ever points at bytes that are not there.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a repository call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    /// No image has this id.
    #[error("image {0} not found")]
    NotFound(String),
    /// An image has this id already.
    #[error("image {0} exists already")]
    Conflict(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

/// The gallery's image records.
#[async_trait]
pub trait ImageRepository: Send + Sync {
    /// Every image, newest first.
    async fn get_all_images(&self) -> Result<Vec<Image>, RepositoryError>;

    /// One image.
    async fn get_image(&self, id: &str) -> Result<Image, RepositoryError>;

    /// Records a new image and returns it with its id.
    async fn insert_image(&self, image: NewImage) -> Result<Image, RepositoryError>;

    /// Removes an image's record.
    async fn delete_image(&self, id: &str) -> Result<(), RepositoryError>;

    /// Closes the backend's connections, for a service that is stopping: called once serving
    /// has ended and while the async runtime still runs, so a driver's background tasks finish
    /// instead of being cut off by the runtime's end. A backend that closes on drop (SQLite)
    /// has nothing to do.
    async fn close(&self) {}
}

/// A new random image id: 16 hex digits.
#[must_use]
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    // A fresh `RandomState` is randomly keyed: hashing the time with it gives an unpredictable,
    // well-spread 64-bit value without a dependency for it.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(now_ms() as u128);
    format!("{:016x}", hasher.finish())
}

/// What a malformed image id is told.
pub const IMAGE_ID_SHAPE: &str = "an image id is 16 hex digits";

/// Whether `id` has the shape of an image id (16 hex digits): anything else is refused before
/// it comes near a query or a path.
#[must_use]
pub fn is_image_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The behaviour every backend must have, run against each by its tests.
#[cfg(test)]
pub(crate) async fn contract(repo: &dyn ImageRepository) {
    let empty = repo.get_all_images().await.expect("lists");
    assert!(empty.is_empty(), "{empty:?}");
    let cat = repo
        .insert_image(NewImage {
            id: new_id(),
            name: "cat.png".into(),
            content_type: "image/png".into(),
            size: 1234,
        })
        .await
        .expect("inserts");
    assert!(is_image_id(&cat.id), "{}", cat.id);
    let again = NewImage {
        id: cat.id.clone(),
        name: "impostor.png".into(),
        content_type: "image/png".into(),
        size: 1,
    };
    assert_eq!(
        repo.insert_image(again).await,
        Err(RepositoryError::Conflict(cat.id.clone())),
        "an id is recorded once"
    );
    assert_eq!((cat.name.as_str(), cat.size), ("cat.png", 1234));
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let dog = repo
        .insert_image(NewImage {
            id: new_id(),
            name: "dog.jpg".into(),
            content_type: "image/jpeg".into(),
            size: 99,
        })
        .await
        .expect("inserts");
    assert_ne!(cat.id, dog.id);
    assert_eq!(repo.get_image(&cat.id).await, Ok(cat.clone()));
    let all = repo.get_all_images().await.expect("lists");
    assert_eq!(all, [dog.clone(), cat.clone()], "newest first");
    assert_eq!(repo.delete_image(&cat.id).await, Ok(()));
    assert_eq!(
        repo.get_image(&cat.id).await,
        Err(RepositoryError::NotFound(cat.id.clone()))
    );
    assert_eq!(
        repo.delete_image(&cat.id).await,
        Err(RepositoryError::NotFound(cat.id.clone()))
    );
    assert_eq!(repo.get_all_images().await.expect("lists"), [dog]);
}
