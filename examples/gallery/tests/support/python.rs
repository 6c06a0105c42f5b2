//! Servers from PyPI for the gallery's tests (SecantusDB for MongoDB, moto for S3): each
//! installed, pinned, into a venv of its own under the target directory (made on first use and
//! whenever its requirements change), and started on a free loopback port for as long as a test
//! holds it.

// Each test crate that includes this module uses part of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long installing and starting may take (a first run installs from PyPI).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs the server in the background and, when its stdin reaches its end (the test dropped the
/// pipe, or died), stops it: a server that cannot outlive its test.
const WATCH: &str = r#""$@" </dev/null & server=$!; cat >/dev/null; kill $server; wait $server"#;

/// A name no other test run uses: `{label}_{pid}_{random}`.
pub fn unique_name(label: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{label}_{}_{random:x}", std::process::id())
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

/// The `bin` directory of the venv `name`, with `tests/support/{requirements}` installed. A
/// file lock keeps test processes running at the same time from building it twice.
pub fn venv(name: &str, requirements: &str) -> PathBuf {
    let root = target_tmp();
    std::fs::create_dir_all(&root).expect("the target's tmp directory");
    let venv = root.join(name);
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(requirements);
    let wanted = std::fs::read_to_string(&requirements).expect("requirements");
    let stamp = venv.join("installed-requirements.txt");
    let lock = File::create(root.join(format!("{name}.lock"))).expect("lock file");
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
    venv.join("bin")
}

/// A server started for a test, in a directory of its own (its working directory, its data,
/// its log): stopped, and the directory removed, when dropped; stopped too if the test process
/// dies.
pub struct Server {
    /// The watcher (`sh`) that runs the server and stops it once our end of its stdin closes.
    watcher: Child,
    /// The server's directory.
    pub dir: PathBuf,
}

impl Server {
    /// Starts `program` with `args` (which may name paths in [`Server::dir`], given to
    /// `args`) and waits until its output says `ready`; the server and what follows `ready` on
    /// that line (the port it listens on, say).
    pub fn start(
        label: &str,
        program: &Path,
        args: impl FnOnce(&Path) -> Vec<std::ffi::OsString>,
        ready: &str,
    ) -> (Server, String) {
        let dir = target_tmp().join(unique_name(label));
        std::fs::create_dir_all(&dir).expect("the server's directory");
        let log_path = dir.join("server.log");
        let log = File::create(&log_path).expect("the server's log");
        let watcher = Command::new("sh")
            .args(["-c", WATCH, "sh"])
            .arg(program)
            .args(args(&dir).iter().map(AsRef::<OsStr>::as_ref))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("the log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starts {}: {e}", program.display()));
        let mut server = Server { watcher, dir };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(rest) = text.split(ready).nth(1)
                && rest.contains('\n')
            {
                let line = rest.lines().next().unwrap_or_default().trim().to_owned();
                return (server, line);
            }
            if let Ok(Some(status)) = server.watcher.try_wait() {
                panic!("{label} stopped before it was ready ({status}):\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "{label} was not ready within {START_TIMEOUT:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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
