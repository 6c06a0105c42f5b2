//! The image gallery from the talk that started traced: a sample app made of services, traced
//! with traced, whose demo answers "where is the slowdown?".
//!
//! So far: the image repository (the talk's Mongo repository, whose `GetAllImages` is the call
//! being traced), with its embedded backend, and the metadata catalog's HTTP service over it.

pub mod catalog;
pub mod repository;
pub mod sqlite;

pub use repository::{Image, ImageRepository, NewImage, RepositoryError};
pub use sqlite::SqliteRepository;
