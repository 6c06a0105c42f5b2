//! The embedded backend: SQLite (bundled, so nothing is installed), with the same behaviour as
//! the MongoDB one, so that the demo and the tests run on a fresh machine.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use traced::traced;

use crate::repository::{Image, ImageRepository, NewImage, RepositoryError, now_ms};

/// Image records in an SQLite database.
#[derive(Clone)]
pub struct SqliteRepository {
    connection: Arc<Mutex<Connection>>,
    /// The database, as `db.instance` tags name it.
    instance: String,
}

impl std::fmt::Debug for SqliteRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteRepository")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
)";

fn database(e: rusqlite::Error) -> RepositoryError {
    RepositoryError::Database(e.to_string())
}

/// An insert's error: the id taken already is a conflict, anything else the database's.
fn inserting(id: &str, e: rusqlite::Error) -> RepositoryError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => RepositoryError::Conflict(id.to_owned()),
        _ => database(e),
    }
}

fn image(row: &rusqlite::Row<'_>) -> rusqlite::Result<Image> {
    Ok(Image {
        id: row.get(0)?,
        name: row.get(1)?,
        content_type: row.get(2)?,
        size: u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
        created_ms: row.get(4)?,
    })
}

impl SqliteRepository {
    /// Opens (or creates) the database at `path`.
    ///
    /// # Errors
    /// A file that cannot be opened or is not an SQLite database.
    pub fn open(path: &std::path::Path) -> Result<Self, RepositoryError> {
        let connection = Connection::open(path).map_err(database)?;
        // Write-ahead logging, synced at checkpoints rather than on every insert: SQLite's
        // default journal syncs the disk several times a write, and on a busy disk one insert
        // took 800 ms (seen in the demo's test). A crash of the process loses nothing; a power
        // cut may lose the last writes, as with any server database that does not sync each
        // commit.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| connection.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(database)?;
        Self::with(connection, path.display().to_string())
    }

    /// A database in memory, gone when the repository is dropped.
    ///
    /// # Errors
    /// SQLite failing to start.
    pub fn in_memory() -> Result<Self, RepositoryError> {
        Self::with(
            Connection::open_in_memory().map_err(database)?,
            ":memory:".into(),
        )
    }

    fn with(connection: Connection, instance: String) -> Result<Self, RepositoryError> {
        connection.execute(SCHEMA, []).map_err(database)?;
        Ok(SqliteRepository {
            connection: Arc::new(Mutex::new(connection)),
            instance,
        })
    }

    /// Runs `f` on the connection off the async threads: SQLite calls block.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, RepositoryError> + Send + 'static,
    ) -> Result<T, RepositoryError> {
        let connection = self.connection.clone();
        // The closure runs on a blocking thread, where the caller's span is not current:
        // carried over so that anything traced inside nests under the repository call.
        let work = traced::Context::current().wrap(move || {
            let connection = connection.lock().unwrap_or_else(|e| e.into_inner());
            f(&connection)
        });
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| RepositoryError::Database(format!("the database task failed: {e}")))?
    }
}

#[async_trait]
impl ImageRepository for SqliteRepository {
    #[traced(tags(
        db.type = "sqlite",
        db.instance = self.instance.clone(),
        db.statement = "SELECT id, name, content_type, size, created_ms FROM images ORDER BY created_ms DESC",
    ))]
    async fn get_all_images(&self) -> Result<Vec<Image>, RepositoryError> {
        self.run(|c| {
            let mut statement = c
                .prepare_cached(
                    "SELECT id, name, content_type, size, created_ms FROM images \
                     ORDER BY created_ms DESC, rowid DESC",
                )
                .map_err(database)?;
            let rows = statement.query_map([], image).map_err(database)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(database)
        })
        .await
    }

    #[traced(tags(
        db.type = "sqlite",
        db.instance = self.instance.clone(),
        db.statement = "SELECT id, name, content_type, size, created_ms FROM images WHERE id = ?",
        image.id = id,
    ))]
    async fn get_image(&self, id: &str) -> Result<Image, RepositoryError> {
        let id = id.to_owned();
        self.run(move |c| {
            c.query_row(
                "SELECT id, name, content_type, size, created_ms FROM images WHERE id = ?1",
                params![id],
                image,
            )
            .optional()
            .map_err(database)?
            .ok_or(RepositoryError::NotFound(id))
        })
        .await
    }

    #[traced(tags(
        db.type = "sqlite",
        db.instance = self.instance.clone(),
        db.statement = "INSERT INTO images (id, name, content_type, size, created_ms) VALUES (?, ?, ?, ?, ?)",
    ))]
    async fn insert_image(&self, new: NewImage) -> Result<Image, RepositoryError> {
        let image = Image {
            id: new.id,
            name: new.name,
            content_type: new.content_type,
            size: new.size,
            created_ms: now_ms(),
        };
        let record = image.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO images (id, name, content_type, size, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    record.id,
                    record.name,
                    record.content_type,
                    i64::try_from(record.size).unwrap_or(i64::MAX),
                    record.created_ms
                ],
            )
            .map_err(|e| inserting(&record.id, e))
        })
        .await?;
        Ok(image)
    }

    #[traced(tags(
        db.type = "sqlite",
        db.instance = self.instance.clone(),
        db.statement = "DELETE FROM images WHERE id = ?",
        image.id = id,
    ))]
    async fn delete_image(&self, id: &str) -> Result<(), RepositoryError> {
        let id = id.to_owned();
        self.run(move |c| {
            match c
                .execute("DELETE FROM images WHERE id = ?1", params![id])
                .map_err(database)?
            {
                0 => Err(RepositoryError::NotFound(id)),
                _ => Ok(()),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use traced::TagValue;
    use traced::testing::Capture;

    use super::*;

    #[tokio::test]
    async fn the_contract_holds_and_every_call_is_a_span_with_database_tags() {
        let capture = Capture::install();
        let repo = SqliteRepository::in_memory().expect("opens");
        crate::repository::contract(&repo).await;

        let lists = capture.spans_named("get_all_images");
        assert_eq!(lists.len(), 3);
        let list = &lists[0];
        assert_eq!(list.tag("db.type"), Some(TagValue::from("sqlite")));
        assert_eq!(list.tag("db.instance"), Some(TagValue::from(":memory:")));
        assert!(
            matches!(list.tag("db.statement"), Some(TagValue::String(s)) if s.starts_with("SELECT"))
        );
        assert_eq!(list.tag("error"), None);

        let gets = capture.spans_named("get_image");
        let missing = gets
            .iter()
            .find(|s| s.tag("error").is_some())
            .expect("the failed get");
        assert_eq!(missing.tag("error"), Some(TagValue::Boolean(true)));
        let log = &missing.logs()[0];
        assert!(log.field("message").unwrap().ends_with("not found"));
        assert!(matches!(missing.tag("image.id"), Some(TagValue::String(_))));
        let inserts = capture.spans_named("insert_image");
        assert_eq!(inserts.len(), 3, "two images and one conflict");
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
    }

    #[tokio::test]
    async fn a_database_file_keeps_its_records_across_opens() {
        // Holds the capture too: the tracer is global, and the other test counts spans.
        let _capture = Capture::install();
        let dir = std::env::temp_dir().join(format!("gallery-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("images.db");
        let first = SqliteRepository::open(&path).unwrap();
        let mode: String = first
            .connection
            .lock()
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal", "inserts do not sync the disk each");
        let cat = first
            .insert_image(NewImage {
                id: crate::new_id(),
                name: "cat.png".into(),
                content_type: "image/png".into(),
                size: 1,
            })
            .await
            .unwrap();
        drop(first);
        let again = SqliteRepository::open(&path).unwrap();
        assert_eq!(again.get_image(&cat.id).await, Ok(cat));
        assert!(matches!(
            SqliteRepository::open(&dir),
            Err(RepositoryError::Database(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
