//! The image gallery from the talk that started traced: a sample app made of services, traced
//! with traced, whose demo answers "where is the slowdown?".
//!
//! So far: the image repository (the talk's Mongo repository, whose `GetAllImages` is the call
//! being traced), with its embedded backend, and the three services: the API clients call
//! ([`api`]), the metadata catalog over the repository ([`catalog`]), the image store on disk
//! ([`blobs`]).

pub mod api;
pub mod blobs;
pub mod catalog;
pub mod health;
pub mod launch;
#[cfg(feature = "mongodb")]
pub mod mongo;
pub mod repository;
pub mod sqlite;
pub mod thumbnail;

// The tests' MongoDB (`MONGODB_URI`'s, or a SecantusDB they start), shared with the integration
// tests, which include the same file.
#[cfg(all(test, feature = "mongodb"))]
#[path = "../tests/support/mongodb.rs"]
mod test_mongodb;

pub use repository::{Image, ImageRepository, NewImage, RepositoryError, is_image_id, new_id};
pub use sqlite::SqliteRepository;
