//! A MongoDB for the Mongo tests: the server `MONGODB_URI` names, or else SecantusDB (a
//! MongoDB-protocol server on WiredTiger, from PyPI, pinned in `secantus-requirements.txt`)
//! started on a free loopback port for as long as the test holds it, so
//! `cargo test --features mongodb` needs no server set up by hand. Each test writes into a
//! database of its own ([`unique_database`]) and drops it at the end.
//!
//! Shared by the library's unit tests (`#[path]`) and the integration tests.

// Each test crate that includes this module uses part of it, and reaches its items as `pub`
// through its own `mod support`; the library's unit tests include it privately.
#![allow(dead_code, unreachable_pub)]

use super::python::{Server, unique_name, venv};

/// A MongoDB to test against. A server started here stops when this is dropped, and stops
/// with the test process however that ends.
pub struct Mongo {
    /// Its URI.
    pub uri: String,
    server: Option<Server>,
}

/// The MongoDB of `MONGODB_URI`, or a SecantusDB started for the caller.
pub fn mongodb() -> Mongo {
    if let Ok(uri) = std::env::var("MONGODB_URI") {
        return Mongo { uri, server: None };
    }
    let secantusd = venv("secantus-venv", "secantus-requirements.txt").join("secantusd-py");
    let (server, port) = Server::start(
        "secantus",
        &secantusd,
        |dir| {
            // An empty configuration file: no `secantusd.toml` of the user's is picked up.
            let config = dir.join("secantusd.toml");
            std::fs::write(&config, "").expect("the configuration");
            vec![
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                "0".into(),
                "--standalone".into(),
                "--config".into(),
                config.into(),
                "--storage-path".into(),
                dir.join("data").into(),
            ]
        },
        // It says where it listens once it does: `secantus listening on 127.0.0.1:PORT`.
        "secantus listening on 127.0.0.1:",
    );
    Mongo {
        uri: format!("mongodb://127.0.0.1:{port}"),
        server: Some(server),
    }
}

/// A database name no other test, and no user's demo, writes into.
pub fn unique_database(label: &str) -> String {
    unique_name(&format!("gallery_test_{label}"))
}

/// The names of the server's databases.
pub async fn database_names(uri: &str) -> Vec<String> {
    let client = mongodb::Client::with_uri_str(uri).await.expect("a client");
    let names = client.list_database_names().await.expect("lists databases");
    client.shutdown().await;
    names
}
