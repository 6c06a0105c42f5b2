//! The MongoDB backend, the talk's own (feature `mongodb`): image records in a collection, each
//! call traced with the same database tags as the embedded backend (`db.type = "mongo"`, the
//! database, the filter or command, the user when the URI names one).
//!
//! Its tests run the repository contract against the MongoDB `MONGODB_URI` names, or else
//! against SecantusDB (a MongoDB-protocol server from PyPI) which they install and start
//! themselves (`tests/support/mongodb.rs`).

use async_trait::async_trait;
use mongodb::bson::{Document, doc};
use mongodb::{Client, Collection};
use traced::traced;

use crate::repository::{Image, ImageRepository, NewImage, RepositoryError, now_ms};

/// Image records in a MongoDB collection.
#[derive(Clone, Debug)]
pub struct MongoRepository {
    /// The driver's client, kept to shut it down ([`ImageRepository::close`]).
    client: Client,
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
            client: client.clone(),
            images: db.collection("images"),
            instance: database_name.to_owned(),
            user,
        })
    }

    /// Drops the whole database (tests leave nothing behind with it).
    ///
    /// # Errors
    /// The server failing.
    pub async fn drop_database(&self) -> Result<(), RepositoryError> {
        self.client
            .database(&self.instance)
            .drop()
            .await
            .map_err(database)
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

    /// Shuts the driver down: its pooled sessions ended on the server, its connections and
    /// monitors stopped. A `Client` merely dropped leaves that to a task spawned on the runtime,
    /// which panics inside the driver when the runtime stops under it.
    #[traced(tags(db.type = "mongo", db.instance = self.instance.clone()))]
    async fn close(&self) {
        self.client.clone().shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use traced::TagValue;
    use traced::testing::Capture;

    use super::*;
    use crate::support::mongodb::{database_names, mongodb, unique_database};

    /// The contract, against the MongoDB of `MONGODB_URI` or a SecantusDB started for it, in a
    /// database of its own that it drops; every call a span with the Mongo tags. It holds the
    /// capture, as every test making traced calls must: the tracer is global, and its spans
    /// would otherwise land in the capture of a test running beside it.
    #[tokio::test]
    async fn the_contract_holds_and_every_call_is_a_span_with_mongo_tags() {
        let capture = Capture::install();
        let server = mongodb();
        let name = unique_database("contract");
        let repo = MongoRepository::connect(&server.uri, &name)
            .await
            .expect("connects");
        crate::repository::contract(&repo).await;

        let lists = capture.spans_named("get_all_images");
        assert_eq!(lists.len(), 3);
        assert_eq!(lists[0].tag("db.type"), Some(TagValue::from("mongo")));
        assert_eq!(
            lists[0].tag("db.instance"),
            Some(TagValue::from(name.clone()))
        );
        assert!(
            matches!(lists[0].tag("db.statement"), Some(TagValue::String(s)) if s.starts_with("images.find("))
        );
        let inserts = capture.spans_named("insert_image");
        let conflict = inserts
            .iter()
            .find(|s| s.tag("error").is_some())
            .expect("the refused insert");
        assert!(
            conflict.logs()[0]
                .field("message")
                .unwrap()
                .ends_with("exists already")
        );
        assert_eq!(capture.spans_named("delete_image").len(), 2);

        repo.drop_database().await.expect("drops its database");
        assert!(
            !database_names(&server.uri).await.contains(&name),
            "nothing left behind"
        );
        repo.close().await;
        assert!(
            matches!(repo.get_all_images().await, Err(RepositoryError::Database(m)) if m.contains("shut down")),
            "closed: the driver is shut down"
        );
        let close = capture.span("close");
        assert_eq!(close.tag("db.type"), Some(TagValue::from("mongo")));
        assert_eq!(close.tag("error"), None);
    }
}
