//! End to end, as deployed: the collector and the three services, each its own process of the
//! `gallery` binary reporting over the Jaeger agent protocol; every kind of request made, and the
//! trace of each read back through the collector's query API: one trace per request, the
//! services it crossed, the operation names and their nesting, the database tags of the backend
//! the catalog really uses, and error tags on a 404 and on a failed upload. Run on SQLite and,
//! with the `mongodb` feature, on MongoDB (`MONGODB_URI`'s, or a SecantusDB the test starts).

use std::time::{Duration, Instant};

use gallery::launch::Records;
use serde_json::Value;
use traced_collector::Collector;

#[cfg(feature = "mongodb")]
mod support {
    pub mod mongodb;
    pub mod python;
}

async fn query(collector: &Collector, operation: &str) -> Vec<Value> {
    query_service(collector, "gallery-api", operation).await
}

async fn query_service(collector: &Collector, service: &str, operation: &str) -> Vec<Value> {
    let url = format!(
        "http://{}/api/traces?service={service}&operation={}&limit=50",
        collector.query_addr(),
        operation
            .replace(' ', "%20")
            .replace('{', "%7B")
            .replace('}', "%7D")
    );
    let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

fn span<'a>(trace: &'a Value, operation: &str, parent: Option<&Value>) -> &'a Value {
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["operationName"] == operation
                && parent.is_none_or(|p| s["references"][0]["spanID"] == p["spanID"])
        })
        .unwrap_or_else(|| panic!("a span {operation} under {parent:?} in {trace:#}"))
}

fn service<'a>(trace: &'a Value, span: &Value) -> &'a str {
    trace["processes"][span["processID"].as_str().unwrap()]["serviceName"]
        .as_str()
        .unwrap()
}

fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .map(|t| &t["value"])
}

fn services(trace: &Value) -> usize {
    trace["processes"].as_object().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_one_trace_across_the_services_it_crossed_on_sqlite() {
    // SQLite, even when the environment names a MongoDB.
    let collector = exercise(Records::Sqlite, "sqlite").await;
    let query_span = check(&collector, "sqlite").await;
    assert!(
        tag(&query_span, "db.statement")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("SELECT")
    );
}

#[cfg(feature = "mongodb")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_one_trace_across_the_services_it_crossed_on_mongodb() {
    use support::mongodb::{database_names, mongodb, unique_database};

    let server = mongodb();
    let database = unique_database("e2e");
    let records = Records::Mongo {
        uri: server.uri.clone(),
        database: database.clone(),
    };
    let collector = exercise(records, "mongodb").await;
    let query_span = check(&collector, "mongo").await;
    assert!(
        tag(&query_span, "db.statement")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("images.find(")
    );
    assert_eq!(
        tag(&query_span, "db.instance"),
        Some(&Value::from(database.as_str())),
        "the test's own database"
    );
    // The catalog shut its driver down before its runtime stopped.
    let closes = query_service(&collector, "gallery-catalog", "close").await;
    assert_eq!(closes.len(), 1, "{closes:#?}");
    let close = span(&closes[0], "close", None);
    assert_eq!(tag(close, "db.type"), Some(&Value::from("mongo")));
    assert_eq!(tag(close, "error"), None);

    // The test leaves nothing behind.
    let repo = gallery::mongo::MongoRepository::connect(&server.uri, &database)
        .await
        .unwrap();
    repo.drop_database().await.unwrap();
    gallery::ImageRepository::close(&repo).await;
    assert!(!database_names(&server.uri).await.contains(&database));
}

/// Starts the services with `records` and makes every kind of request (an upload, a list, a
/// get, a thumbnail, a 404, an upload while the store is down), then stops the services; the
/// collector holding their traces.
async fn exercise(records: Records, label: &str) -> Collector {
    let collector = Collector::start(traced_collector::Config::ephemeral())
        .await
        .unwrap();
    let data = gallery::launch::temporary_data(&format!("e2e-{label}"));
    let mut running = gallery::launch::Launch {
        exe: env!("CARGO_BIN_EXE_gallery").into(),
        data: data.clone(),
        agent: Some(collector.udp_compact_addr()),
        slow: false,
        records,
    }
    .start()
    .await
    .unwrap();
    let api = running.api.clone();
    let http = reqwest::Client::new();

    let png = gallery::thumbnail::gradient(64, 48, 9);
    let uploaded: Value = http
        .post(format!("{api}/v0/images?name=cat.png"))
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uploaded["id"].as_str().unwrap().to_owned();
    for path in [
        "/v0/images".to_owned(),
        format!("/v0/images/{id}"),
        format!("/v0/images/{id}/thumbnail"),
        "/v0/images/0000000000000000".to_owned(),
    ] {
        http.get(format!("{api}{path}")).send().await.unwrap();
    }
    // The image store goes away: the next upload fails, and leaves no record.
    running.stop("store");
    let failed = http
        .post(format!("{api}/v0/images?name=dog.png"))
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 502);
    drop(running); // flushes the services' last spans
    let deadline = Instant::now() + Duration::from_secs(10);
    while query(&collector, "HTTP POST /v0/images").await.len() < 2 {
        assert!(Instant::now() < deadline, "the upload traces arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gallery::launch::remove_data(&data);
    collector
}

/// Checks the traces of [`exercise`]'s requests; the span of the catalog's query for the list,
/// whose database tags are the backend's (`db_type`).
async fn check(collector: &Collector, db_type: &str) -> Value {
    // GET /v0/images: api -> list_images -> client -> catalog -> get_all_images.
    let lists = query(collector, "HTTP GET /v0/images").await;
    assert_eq!(lists.len(), 1, "one trace per request");
    let trace = &lists[0];
    assert_eq!(services(trace), 2);
    let server = span(trace, "HTTP GET /v0/images", None);
    assert_eq!(service(trace, server), "gallery-api");
    let list = span(trace, "list_images", Some(server));
    let client = span(trace, "HTTP GET", Some(list));
    let catalog = span(trace, "HTTP GET /images", Some(client));
    assert_eq!(service(trace, catalog), "gallery-catalog");
    let query_span = span(trace, "get_all_images", Some(catalog));
    assert_eq!(tag(query_span, "db.type"), Some(&Value::from(db_type)));

    // The upload crossed all three services.
    let uploads = query(collector, "HTTP POST /v0/images").await;
    let ok = uploads
        .iter()
        .find(|t| services(t) == 3)
        .expect("the upload that worked");
    let store = span(ok, "HTTP PUT /blobs/{id}", None);
    assert_eq!(service(ok, store), "gallery-store");
    // tower-http's `tracing` span, through traced's bridge, between the server span and the
    // handler's work.
    let request = span(ok, "request", Some(store));
    assert_eq!(service(ok, request), "gallery-store");
    span(ok, "write_blob", Some(request));
    span(ok, "make_thumbnail", Some(request));
    // The bytes are stored before the record that points at them is written.
    let steps = span(ok, "store_upload", None);
    let (put, post) = (
        span(ok, "HTTP PUT", Some(steps)),
        span(ok, "HTTP POST", Some(steps)),
    );
    let micros = |s: &Value, field: &str| s[field].as_u64().unwrap();
    assert!(micros(put, "startTime") + micros(put, "duration") <= micros(post, "startTime"));
    span(ok, "insert_image", None);

    // The thumbnail and the 404.
    let thumbs = query(collector, "HTTP GET /v0/images/{id}/thumbnail").await;
    assert_eq!(thumbs.len(), 1);
    let gets = query(collector, "HTTP GET /v0/images/{id}").await;
    assert_eq!(gets.len(), 2, "the found image and the missing one");
    let missing = gets
        .iter()
        .find(|t| {
            tag(
                span(t, "HTTP GET /v0/images/{id}", None),
                "http.status_code",
            ) == Some(&Value::from(404))
        })
        .expect("the 404");
    let lookup = span(missing, "get_image", None);
    assert_eq!(tag(lookup, "error"), Some(&Value::from(true)));

    // The failed upload: the store call failed, so the catalog was never asked to record
    // anything; the upload is an error.
    let bad = uploads
        .iter()
        .find(|t| services(t) == 1)
        .expect("the failed upload, which stayed in the API");
    let upload = span(bad, "store_upload", None);
    assert_eq!(tag(upload, "error"), Some(&Value::from(true)));
    let put = span(bad, "HTTP PUT", Some(upload));
    assert_eq!(tag(put, "error"), Some(&Value::from(true)));
    assert!(
        bad["spans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["operationName"] != "HTTP POST"),
        "no record without bytes"
    );
    assert_eq!(
        tag(span(bad, "HTTP POST /v0/images", None), "http.status_code"),
        Some(&Value::from(502))
    );
    query_span.clone()
}
