//! The MongoDB backend, the talk's own (feature `mongodb`): image records in a collection, each
//! call traced with the same database tags as the embedded backend (`db.type = "mongo"`, the
//! database, the filter or command, the user when the URI names one).
//!
//! Its tests run the repository contract when `MONGODB_URI` is set, for example against
//! `docker run --rm -p 27017:27017 mongo` with `MONGODB_URI=mongodb://127.0.0.1:27017`.

use async_trait::async_trait;
use mongodb::bson::{Document, doc};
use mongodb::{Client, Collection};
use traced::traced;

use crate::repository::{Image, ImageRepository, NewImage, RepositoryError, now_ms};

/// Image records in a MongoDB collection.
#[derive(Clone, Debug)]
pub struct MongoRepository {
    images: Collection<Document>,
    /// The database, as `db.instance` names it.
    instance: String,
    /// The user the URI authenticates as, for `db.user`.
    user: Option<String>,
}

fn database(e: mongodb::error::Error) -> RepositoryError {
    RepositoryError::Database(e.to_string())
}

/// The server's code for a duplicate key.
const DUPLICATE_KEY: i32 = 11000;

/// An insert's error: the id taken already is a conflict, anything else the database's.
fn inserting(id: &str, e: mongodb::error::Error) -> RepositoryError {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == DUPLICATE_KEY => {
            RepositoryError::Conflict(id.to_owned())
        }
        _ => database(e),
    }
}

fn image(document: &Document) -> Result<Image, RepositoryError> {
    let field = |e: mongodb::bson::document::ValueAccessError| {
        RepositoryError::Database(format!("a malformed image record: {e}"))
    };
    Ok(Image {
        id: document.get_str("_id").map_err(field)?.to_owned(),
        name: document.get_str("name").map_err(field)?.to_owned(),
        content_type: document.get_str("content_type").map_err(field)?.to_owned(),
        size: u64::try_from(document.get_i64("size").map_err(field)?).unwrap_or(0),
        created_ms: document.get_i64("created_ms").map_err(field)?,
    })
}

impl MongoRepository {
    /// Connects to `uri` and uses the `images` collection of `database`.
    ///
    /// # Errors
    /// A URI that does not parse or a server that cannot be reached.
    pub async fn connect(uri: &str, database_name: &str) -> Result<Self, RepositoryError> {
        let options = mongodb::options::ClientOptions::parse(uri)
            .await
            .map_err(database)?;
        let user = options.credential.as_ref().and_then(|c| c.username.clone());
        let client = Client::with_options(options).map_err(database)?;
        let db = client.database(database_name);
        db.run_command(doc! {"ping": 1}).await.map_err(database)?;
        Ok(MongoRepository {
            images: db.collection("images"),
            instance: database_name.to_owned(),
            user,
        })
    }

    /// Drops the collection (tests clean up with it).
    ///
    /// # Errors
    /// The server failing.
    pub async fn drop_all(&self) -> Result<(), RepositoryError> {
        self.images.drop().await.map_err(database)
    }

    fn tag_user(&self) {
        if let Some(user) = &self.user {
            traced::tag("db.user", user.clone());
        }
    }
}

#[async_trait]
impl ImageRepository for MongoRepository {
    #[traced(tags(
        db.type = "mongo",
        db.instance = self.instance.clone(),
        db.statement = "images.find({}).sort({created_ms: -1, seq: -1})",
    ))]
    async fn get_all_images(&self) -> Result<Vec<Image>, RepositoryError> {
        self.tag_user();
        let mut cursor = self
            .images
            .find(doc! {})
            .sort(doc! {"created_ms": -1, "seq": -1})
            .await
            .map_err(database)?;
        let mut images = Vec::new();
        while cursor.advance().await.map_err(database)? {
            images.push(image(&cursor.deserialize_current().map_err(database)?)?);
        }
        Ok(images)
    }

    #[traced(tags(
        db.type = "mongo",
        db.instance = self.instance.clone(),
        db.statement = "images.findOne({_id: ?})",
        image.id = id,
    ))]
    async fn get_image(&self, id: &str) -> Result<Image, RepositoryError> {
        self.tag_user();
        match self
            .images
            .find_one(doc! {"_id": id})
            .await
            .map_err(database)?
        {
            Some(document) => image(&document),
            None => Err(RepositoryError::NotFound(id.to_owned())),
        }
    }

    #[traced(tags(
        db.type = "mongo",
        db.instance = self.instance.clone(),
        db.statement = "images.insertOne({...})",
    ))]
    async fn insert_image(&self, new: NewImage) -> Result<Image, RepositoryError> {
        self.tag_user();
        let image = Image {
            id: new.id,
            name: new.name,
            content_type: new.content_type,
            size: new.size,
            created_ms: now_ms(),
        };
        // `seq` orders images stored in the same millisecond, as SQLite's rowid does.
        let seq = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        )
        .unwrap_or(i64::MAX);
        self.images
            .insert_one(doc! {
                "_id": &image.id,
                "name": &image.name,
                "content_type": &image.content_type,
                "size": i64::try_from(image.size).unwrap_or(i64::MAX),
                "created_ms": image.created_ms,
                "seq": seq,
            })
            .await
            .map_err(|e| inserting(&image.id, e))?;
        Ok(image)
    }

    #[traced(tags(
        db.type = "mongo",
        db.instance = self.instance.clone(),
        db.statement = "images.deleteOne({_id: ?})",
        image.id = id,
    ))]
    async fn delete_image(&self, id: &str) -> Result<(), RepositoryError> {
        self.tag_user();
        let deleted = self
            .images
            .delete_one(doc! {"_id": id})
            .await
            .map_err(database)?;
        if deleted.deleted_count == 0 {
            Err(RepositoryError::NotFound(id.to_owned()))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract, against a real MongoDB when `MONGODB_URI` is set (in a database of its own,
    /// dropped afterwards). Without it there is no server to test against, and the test says so.
    #[tokio::test]
    async fn the_contract_holds_against_mongodb_when_there_is_one() {
        let Ok(uri) = std::env::var("MONGODB_URI") else {
            eprintln!("MONGODB_URI is not set: no MongoDB to run the contract against");
            return;
        };
        let name = format!("gallery_test_{}", std::process::id());
        let repo = MongoRepository::connect(&uri, &name)
            .await
            .expect("connects");
        repo.drop_all().await.expect("starts empty");
        crate::repository::contract(&repo).await;
        repo.drop_all().await.expect("cleans up");
    }
}
