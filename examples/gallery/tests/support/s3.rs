//! An S3-compatible server for the S3 store's tests: moto in server mode (from PyPI, pinned in
//! `moto-requirements.txt`), started on a free loopback port for as long as the test holds it,
//! with a bucket of the test's own.

// Reached as `pub` through the store test's own `mod support`.
#![allow(unreachable_pub)]

use gallery::s3::S3Config;

use super::python::{Server, unique_name, venv};

/// moto, serving S3 on loopback; stopped when dropped.
pub struct Moto {
    /// Its URL.
    pub endpoint: String,
    _server: Server,
}

/// Starts moto, answering one request at a time (`moto_serial.py` says why).
pub fn moto() -> Moto {
    let python = venv("moto-venv", "moto-requirements.txt").join("python");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_serial.py");
    let (server, port) = Server::start(
        "moto",
        &python,
        |_| vec![script.into(), "127.0.0.1".into(), "0".into()],
        // Werkzeug says where it listens: ` * Running on http://127.0.0.1:PORT`.
        "Running on http://127.0.0.1:",
    );
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _server: server,
    }
}

impl Moto {
    /// A new bucket of the caller's own, and the store's configuration for it (moto takes any
    /// credentials).
    pub async fn bucket(&self, label: &str) -> S3Config {
        // Bucket names are lowercase letters, digits and hyphens.
        let bucket = unique_name(&format!("gallery-{label}")).replace('_', "-");
        // moto checks no signature: an unsigned CreateBucket does.
        let created = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("moto answers");
        assert!(created.status().is_success(), "{created:?}");
        S3Config {
            bucket,
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            credentials: Some(("testing".into(), "testing".into())),
        }
    }
}
