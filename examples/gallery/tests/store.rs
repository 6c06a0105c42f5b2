//! The image store's contract, seen through its HTTP service, whichever backend keeps the
//! bytes: on disk, and with the `s3` feature on S3-compatible storage (moto, started by the
//! test). Ids are checked before they come near a path or a key; an image is stored whole and
//! once (of several uploads racing for one id, exactly one is taken, whole, and the rest are
//! refused); thumbnails are made and kept; a deleted image is gone, thumbnail included. On S3,
//! every storage call is a client span with the AWS tags.

use traced::testing::Capture;

#[cfg(feature = "s3")]
mod support {
    pub mod python;
    pub mod s3;
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// What every backend must do; the id of the image raced for (deleted again at the end).
async fn contract(store: &str) -> String {
    let http = reqwest::Client::new();
    let blob = |id: &str| format!("{store}/blobs/{id}");
    let status = |r: reqwest::Response| r.status().as_u16();

    for bad in [
        "..%2F..%2Fetc",
        "0123",
        "zzzzzzzzzzzzzzzz",
        "0123456789abcdef0",
    ] {
        let put = http.put(blob(bad)).body("x").send().await.unwrap();
        assert_eq!(status(put), 400, "{bad}");
        assert_eq!(status(http.get(blob(bad)).send().await.unwrap()), 400);
        assert_eq!(status(http.delete(blob(bad)).send().await.unwrap()), 400);
    }

    let id = gallery::new_id();
    assert_eq!(status(http.get(blob(&id)).send().await.unwrap()), 404);
    assert_eq!(status(http.delete(blob(&id)).send().await.unwrap()), 404);
    let listed: serde_json::Value = http
        .get(format!("{store}/blobs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, serde_json::json!([]));

    // Several uploads race for one id: one is taken, whole; the others are refused.
    let bodies: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 200_000]).collect();
    let answers = futures_join(
        bodies
            .iter()
            .map(|body| http.put(blob(&id)).body(body.clone()).send()),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        5,
        "{statuses:?}"
    );
    let winner = statuses.iter().position(|s| *s == 201).unwrap();
    let stored = http.get(blob(&id)).send().await.unwrap();
    assert_eq!(stored.status(), 200);
    let stored = stored.bytes().await.unwrap();
    assert!(stored == bodies[winner], "the winner's bytes, whole");

    // A PNG gets a thumbnail, kept; bytes that are no PNG get none.
    let png_id = gallery::new_id();
    let png = gallery::thumbnail::gradient(640, 480, 4);
    let put = http
        .put(blob(&png_id))
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(status(put), 201);
    let thumb = http
        .get(format!("{}/thumbnail", blob(&png_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.headers()["content-type"], "image/png");
    let thumb = thumb.bytes().await.unwrap();
    assert!(thumb.starts_with(b"\x89PNG") && thumb.len() < png.len());
    let not_png = http
        .get(format!("{}/thumbnail", blob(&id)))
        .send()
        .await
        .unwrap();
    assert_eq!(status(not_png), 422);

    let mut listed: Vec<String> = http
        .get(format!("{store}/blobs"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut both = vec![id.clone(), png_id.clone()];
    both.sort();
    assert_eq!(listed, both, "images only, thumbnails aside");

    // Deleted, it is gone, thumbnail included.
    assert_eq!(
        status(http.delete(blob(&png_id)).send().await.unwrap()),
        204
    );
    assert_eq!(status(http.get(blob(&png_id)).send().await.unwrap()), 404);
    let thumb = http
        .get(format!("{}/thumbnail", blob(&png_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(status(thumb), 404);
    assert_eq!(
        status(http.delete(blob(&png_id)).send().await.unwrap()),
        404
    );
    assert_eq!(status(http.delete(blob(&id)).send().await.unwrap()), 204);
    id
}

/// Sends the requests at once and waits for every answer.
async fn futures_join<F>(requests: impl Iterator<Item = F>) -> Vec<reqwest::Response>
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    let tasks: Vec<_> = requests.map(tokio::spawn).collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap().unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_on_disk_keeps_the_contract() {
    let capture = Capture::install();
    let dir = std::env::temp_dir().join(format!("gallery-store-{}", std::process::id()));
    let store = serve(gallery::blobs::router(dir.clone(), false).unwrap()).await;
    contract(&store).await;
    let writes = capture.spans_named("write_blob");
    assert_eq!(writes.len(), 7, "six racing and one PNG");
    assert_eq!(
        writes.iter().filter(|s| s.tag("error").is_some()).count(),
        5,
        "the refused ones failed"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_on_s3_keeps_the_contract_and_traces_every_call_as_a_client_span() {
    use std::sync::Arc;

    use traced::TagValue;

    let moto = support::s3::moto();
    let config = moto.bucket("store").await;
    // Installed once moto runs: a first run installs it, and other tests wait for the capture.
    let capture = Capture::install();
    let bucket = config.bucket.clone();
    let blobs = gallery::s3::S3Store::connect(config).await.unwrap();
    let store = serve(gallery::blobs::router_over(Arc::new(blobs), false)).await;
    let raced = contract(&store).await;

    let puts = capture.spans_named("S3.PutObject");
    for put in &puts {
        assert_eq!(put.tag("span.kind"), Some(TagValue::from("client")));
        assert_eq!(put.tag("peer.service"), Some(TagValue::from("s3")));
        assert_eq!(put.tag("rpc.system"), Some(TagValue::from("aws-api")));
        assert_eq!(put.tag("rpc.method"), Some(TagValue::from("PutObject")));
        assert_eq!(
            put.tag("aws.s3.bucket"),
            Some(TagValue::from(bucket.clone()))
        );
    }
    let raced_key = TagValue::from(format!("images/{raced}"));
    let racing: Vec<_> = puts
        .iter()
        .filter(|s| s.tag("aws.s3.key") == Some(raced_key.clone()))
        .collect();
    assert_eq!(racing.len(), 6);
    assert!(
        racing
            .iter()
            .all(|s| s.tag("bytes") == Some(TagValue::Integer(200_000)))
    );
    assert_eq!(
        racing
            .iter()
            .filter(|s| s.tag("error") == Some(TagValue::Boolean(true)))
            .count(),
        5,
        "the refused puts are errors"
    );
    let server = capture
        .spans_named("HTTP PUT /blobs/{id}")
        .into_iter()
        .find(|s| Some(s.span_id()) == racing[0].parent_id())
        .expect("each storage call is a child of the request that made it");
    assert_eq!(server.trace_id(), racing[0].trace_id());
    assert!(
        puts.iter()
            .any(|s| matches!(s.tag("aws.s3.key"), Some(TagValue::String(k)) if k.starts_with("thumbnails/"))),
        "the thumbnail is kept too"
    );

    let gets = capture.spans_named("S3.GetObject");
    let read = gets
        .iter()
        .find(|s| s.tag("aws.s3.key") == Some(raced_key.clone()) && s.tag("error").is_none())
        .expect("the raced image read");
    assert_eq!(read.tag("bytes"), Some(TagValue::Integer(200_000)));
    assert!(
        gets.iter()
            .any(|s| s.tag("error") == Some(TagValue::Boolean(true))),
        "a missing object is an error"
    );
    assert!(!capture.spans_named("S3.HeadObject").is_empty());
    assert!(!capture.spans_named("S3.DeleteObject").is_empty());
    assert!(!capture.spans_named("S3.ListObjectsV2").is_empty());
}

/// `gallery store --s3-bucket B --s3-endpoint URL`, with the credentials and region from the
/// usual AWS variables, keeps what it is given in that bucket.
#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_service_keeps_images_in_the_bucket_it_is_given() {
    use std::process::{Command, Stdio};

    use gallery::blobs::BlobStore as _;

    let moto = support::s3::moto();
    let config = moto.bucket("service").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut service = Command::new(env!("CARGO_BIN_EXE_gallery"))
        .args(["store", "--port", &port.to_string()])
        .args(["--s3-bucket", &config.bucket])
        .env("GALLERY_S3_ENDPOINT", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("GALLERY_PARENT", "1")
        .env("JAEGER_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let store = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !http
        .get(format!("{store}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(service.try_wait().unwrap().is_none(), "the store stopped");
        assert!(std::time::Instant::now() < deadline, "the store answers");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = gallery::new_id();
    let put = http
        .put(format!("{store}/blobs/{id}"))
        .body("some bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    drop(service.stdin.take());
    assert!(service.wait().unwrap().success());

    let bucket = gallery::s3::S3Store::connect(config).await.unwrap();
    assert_eq!(&bucket.read(&id).await.unwrap()[..], b"some bytes");
}
