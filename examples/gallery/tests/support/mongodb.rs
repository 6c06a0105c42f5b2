//! A MongoDB for the Mongo tests: the server `MONGODB_URI` names, or else SecantusDB (a
//! MongoDB-protocol server on WiredTiger, from PyPI) started on a free loopback port for as long
//! as the test holds it, so `cargo test --features mongodb` needs no server set up by hand.
//!
//! SecantusDB is installed by the tests themselves, pinned (`secantus-requirements.txt`), into a
//! venv under the target directory, as the interop tests install their Python peers. Each test
//! writes into a database of its own ([`unique_database`]) and drops it at the end.
//!
//! Shared by the library's unit tests (`#[path]`) and the integration tests.

// Each test crate that includes this module uses part of it.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A MongoDB to test against. A server started here stops when this is dropped, and stops
/// with the test process however that ends.
pub struct Mongo {
    /// Its URI.
    pub uri: String,
    server: Option<Server>,
}

struct Server {
    /// The watcher (`sh`) that runs the server and stops it once our end of its stdin closes.
    watcher: Child,
    dir: PathBuf,
}

/// Runs the server in the background and, when its stdin reaches its end (this process
/// dropped the pipe, or died), stops it: a server that cannot outlive its test.
const WATCH: &str = r#""$@" </dev/null & server=$!; cat >/dev/null; kill $server; wait $server"#;

/// How long installing and starting may take (a first run installs from PyPI).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// The MongoDB of `MONGODB_URI`, or a SecantusDB started for the caller.
pub fn mongodb() -> Mongo {
    match std::env::var("MONGODB_URI") {
        Ok(uri) => Mongo { uri, server: None },
        Err(_) => start_secantus(),
    }
}

/// A database name no other test, and no user's demo, writes into.
pub fn unique_database(label: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("gallery_test_{label}_{}_{random:x}", std::process::id())
}

/// The names of the server's databases.
pub async fn database_names(uri: &str) -> Vec<String> {
    let client = mongodb::Client::with_uri_str(uri).await.expect("a client");
    let names = client.list_database_names().await.expect("lists databases");
    client.shutdown().await;
    names
}

/// Where tests keep what they build: `CARGO_TARGET_TMPDIR` for integration tests; the library's
/// unit tests are not given it, so theirs is found from the test binary
/// (`<target>/<profile>/deps/<binary>`).
fn target_tmp() -> PathBuf {
    match option_env!("CARGO_TARGET_TMPDIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_exe()
            .expect("the test binary")
            .ancestors()
            .nth(3)
            .expect("<target>/<profile>/deps/<binary>")
            .join("tmp"),
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The venv's `secantusd-py`, with the pinned requirements installed: made on first use and
/// whenever they change. A file lock keeps test processes running at the same time from
/// building it twice.
fn secantusd() -> PathBuf {
    let root = target_tmp();
    std::fs::create_dir_all(&root).expect("the target's tmp directory");
    let venv = root.join("secantus-venv");
    let requirements =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/secantus-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("requirements");
    let stamp = venv.join("installed-requirements.txt");
    let lock = File::create(root.join("secantus-venv.lock")).expect("lock file");
    lock.lock().expect("locks the venv");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        run(Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv));
        run(Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements));
        std::fs::write(&stamp, wanted).expect("stamp");
    }
    venv.join("bin/secantusd-py")
}

fn start_secantus() -> Mongo {
    let secantusd = secantusd();
    let dir = target_tmp().join(unique_database("secantus"));
    std::fs::create_dir_all(&dir).expect("the server's directory");
    // An empty configuration file: no `secantusd.toml` of the user's is picked up.
    let config = dir.join("secantusd.toml");
    std::fs::write(&config, "").expect("the configuration");
    let log_path = dir.join("server.log");
    let log = File::create(&log_path).expect("the server's log");
    let watcher = Command::new("sh")
        .args(["-c", WATCH, "sh"])
        .arg(&secantusd)
        .args(["--host", "127.0.0.1", "--port", "0", "--standalone"])
        .arg("--config")
        .arg(&config)
        .arg("--storage-path")
        .arg(dir.join("data"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("the log"))
        .stderr(log)
        .spawn()
        .expect("starts SecantusDB");
    let mut server = Server { watcher, dir };
    // It says where it listens once it does: `secantus listening on 127.0.0.1:PORT`.
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(port) = text
            .split("secantus listening on 127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
        {
            return Mongo {
                uri: format!("mongodb://127.0.0.1:{port}"),
                server: Some(server),
            };
        }
        if let Ok(Some(status)) = server.watcher.try_wait() {
            panic!("SecantusDB stopped before listening ({status}):\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "SecantusDB did not listen within {START_TIMEOUT:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing its stdin has the watcher stop the server and wait for it.
        drop(self.watcher.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(self.watcher.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.watcher.kill();
        let _ = self.watcher.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
