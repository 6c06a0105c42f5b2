//! The image store on S3-compatible object storage (feature `s3`, through `object_store`): an
//! image is the object `images/{id}`, its thumbnail `thumbnails/{id}.png`. A PUT is atomic on
//! S3 (an object appears whole or not at all), and an image is written with `If-None-Match: *`,
//! so an id taken already is refused, never written over.
//!
//! Every call to the storage is a client span named as OpenTelemetry names AWS calls
//! (`S3.PutObject`, ...), tagged `span.kind = client`, `peer.service = s3`, `rpc.system =
//! aws-api`, `rpc.service = S3`, `rpc.method`, `aws.s3.bucket`, `aws.s3.key`, the bytes sent or
//! received, and `error` when it fails.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use axum::body::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, PutMode, PutOptions, PutPayload, RetryConfig};
use traced::traced;

use crate::blobs::BlobStore;
use crate::repository::is_image_id;

/// Which bucket, where. What is not given here comes from the usual AWS variables
/// (`AWS_REGION` or `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_ENDPOINT`).
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    /// The bucket, which must exist.
    pub bucket: String,
    /// The service's URL (`http://127.0.0.1:9000` for a local server); AWS's when `None`.
    pub endpoint: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// The access key id and secret.
    pub credentials: Option<(String, String)>,
}

/// Images' bytes in an S3 bucket.
#[derive(Debug)]
pub struct S3Store {
    store: AmazonS3,
    bucket: String,
}

/// An `object_store` error as the store's: the kinds the service answers by.
fn io(e: object_store::Error) -> std::io::Error {
    use std::io::ErrorKind;
    let kind = match &e {
        object_store::Error::NotFound { .. } => ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
        _ => ErrorKind::Other,
    };
    std::io::Error::new(kind, e)
}

fn image_key(id: &str) -> Path {
    Path::from(format!("images/{id}"))
}

fn thumbnail_key(id: &str) -> Path {
    Path::from(format!("thumbnails/{id}.png"))
}

impl S3Store {
    /// The store on `config`'s bucket, once the bucket answers a listing.
    ///
    /// # Errors
    /// A configuration the client refuses, or a bucket that cannot be listed (missing,
    /// unreachable, credentials refused).
    pub async fn connect(config: S3Config) -> std::io::Result<Self> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            // A few quick retries: an upload waits on this, and a store that is down should say
            // so in seconds, not after object_store's default three minutes.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(30)),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some((id, secret)) = &config.credentials {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let store = S3Store {
            store: builder.build().map_err(io)?,
            bucket: config.bucket,
        };
        store.list_objects("images").await?;
        Ok(store)
    }

    #[traced(name = "S3.PutObject", kind = client, tags(
        peer.service = "s3", rpc.system = "aws-api", rpc.service = "S3", rpc.method = "PutObject",
        aws.s3.bucket = self.bucket.clone(), aws.s3.key = %key, bytes = bytes.len(),
    ))]
    async fn put_object(&self, key: &Path, bytes: Bytes, mode: PutMode) -> std::io::Result<()> {
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        self.store
            .put_opts(key, PutPayload::from(bytes), options)
            .await
            .map(|_| ())
            .map_err(io)
    }

    #[traced(name = "S3.GetObject", kind = client, tags(
        peer.service = "s3", rpc.system = "aws-api", rpc.service = "S3", rpc.method = "GetObject",
        aws.s3.bucket = self.bucket.clone(), aws.s3.key = %key,
    ))]
    async fn get_object(&self, key: &Path) -> std::io::Result<Bytes> {
        let bytes = self
            .store
            .get(key)
            .await
            .map_err(io)?
            .bytes()
            .await
            .map_err(io)?;
        traced::tag("bytes", bytes.len());
        Ok(bytes)
    }

    #[traced(name = "S3.HeadObject", kind = client, tags(
        peer.service = "s3", rpc.system = "aws-api", rpc.service = "S3", rpc.method = "HeadObject",
        aws.s3.bucket = self.bucket.clone(), aws.s3.key = %key,
    ))]
    async fn head_object(&self, key: &Path) -> std::io::Result<()> {
        self.store.head(key).await.map(|_| ()).map_err(io)
    }

    #[traced(name = "S3.DeleteObject", kind = client, tags(
        peer.service = "s3", rpc.system = "aws-api", rpc.service = "S3", rpc.method = "DeleteObject",
        aws.s3.bucket = self.bucket.clone(), aws.s3.key = %key,
    ))]
    async fn delete_object(&self, key: &Path) -> std::io::Result<()> {
        self.store.delete(key).await.map_err(io)
    }

    /// The objects under `prefix`, with when each was written.
    #[traced(name = "S3.ListObjectsV2", kind = client, tags(
        peer.service = "s3", rpc.system = "aws-api", rpc.service = "S3", rpc.method = "ListObjectsV2",
        aws.s3.bucket = self.bucket.clone(), aws.s3.prefix = %prefix,
    ))]
    async fn list_objects(&self, prefix: &str) -> std::io::Result<Vec<(Path, SystemTime)>> {
        let listed = self
            .store
            .list_with_delimiter(Some(&Path::from(prefix)))
            .await
            .map_err(io)?;
        traced::tag("objects", listed.objects.len());
        Ok(listed
            .objects
            .into_iter()
            .map(|meta| (meta.location, meta.last_modified.into()))
            .collect())
    }
}

#[async_trait]
impl BlobStore for S3Store {
    async fn write(&self, id: &str, bytes: Bytes) -> std::io::Result<()> {
        self.put_object(&image_key(id), bytes, PutMode::Create)
            .await
    }

    async fn read(&self, id: &str) -> std::io::Result<Bytes> {
        self.get_object(&image_key(id)).await
    }

    async fn delete(&self, id: &str) -> std::io::Result<()> {
        // S3 deletes a missing object without complaint; the store says it was not there.
        self.head_object(&image_key(id)).await?;
        self.delete_object(&thumbnail_key(id)).await?;
        self.delete_object(&image_key(id)).await
    }

    async fn list(&self) -> std::io::Result<Vec<(String, u128)>> {
        let now = SystemTime::now();
        Ok(self
            .list_objects("images")
            .await?
            .into_iter()
            .filter_map(|(key, written)| {
                let id = key.filename().filter(|id| is_image_id(id))?.to_owned();
                let age = now.duration_since(written).map_or(0, |age| age.as_millis());
                Some((id, age))
            })
            .collect())
    }

    async fn write_thumbnail(&self, id: &str, thumbnail: Vec<u8>) -> std::io::Result<()> {
        self.put_object(
            &thumbnail_key(id),
            Bytes::from(thumbnail),
            PutMode::Overwrite,
        )
        .await
    }

    async fn read_thumbnail(&self, id: &str) -> std::io::Result<Vec<u8>> {
        Ok(self.get_object(&thumbnail_key(id)).await?.to_vec())
    }
}
