//! The image gallery from the talk that started traced: a sample app made of services, traced
//! with traced, whose demo answers "where is the slowdown?".
//!
//! So far: the image repository (the talk's Mongo repository, whose `GetAllImages` is the call
//! being traced), with its embedded backend, and the three services: the API clients call
//! ([`api`]), the metadata catalog over the repository ([`catalog`]), the image store on disk or
//! on S3-compatible object storage ([`blobs`]).

pub mod api;
pub mod blobs;
pub mod catalog;
mod disk;
pub mod health;
pub mod launch;
pub mod logs;
#[cfg(feature = "mongodb")]
pub mod mongo;
pub mod repository;
#[cfg(feature = "s3")]
pub mod s3;
pub mod sqlite;
pub mod thumbnail;

// The tests' MongoDB (`MONGODB_URI`'s, or a SecantusDB they start), shared with the integration
// tests, which include the same files.
#[cfg(all(test, feature = "mongodb"))]
#[path = "../tests/support"]
mod support {
    pub mod mongodb;
    pub mod python;
}

pub use repository::{Image, ImageRepository, NewImage, RepositoryError, is_image_id, new_id};
pub use sqlite::SqliteRepository;
