//! What the workspace's tests share to run peers no one here wrote (Uber's `jaeger-client`,
//! OpenTelemetry's Python SDK and classes, SecantusDB, moto): a venv per set of pinned
//! requirements under the target directory, made on first use and whenever the requirements
//! change, and the processes started from it, which never outlive their test.
//!
//! ```no_run
//! use std::path::Path;
//! use std::process::Command;
//! use traced_test_support::{Peer, venv};
//!
//! let bin = venv("interop-venv", &Path::new(env!("CARGO_MANIFEST_DIR")).join("requirements.txt"));
//! let mut command = Command::new(bin.join("python"));
//! command.arg("peer.py");
//! let peer = Peer::start(command);
//! println!("the peer listens on {}", peer.port);
//! let output = peer.finish();
//! # let _ = output;
//! ```

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// Where tests keep what they build: `<target>/tmp`, the `CARGO_TARGET_TMPDIR` of integration
/// tests. Found from the test binary (`<target>/<profile>/deps/<binary>`), as a library's unit
/// tests are not given that variable and this crate is compiled before any test is.
pub fn target_tmp() -> PathBuf {
    let dir = std::env::current_exe()
        .expect("the test binary")
        .ancestors()
        .nth(3)
        .expect("<target>/<profile>/deps/<binary>")
        .join("tmp");
    std::fs::create_dir_all(&dir).expect("the target's tmp directory");
    dir
}

/// Runs `command` to its end, panicking with its output if it fails.
pub fn run(command: &mut Command) {
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `bin` directory of the venv `name` under [`target_tmp`], with the pinned
/// `requirements` file installed: made on first use and whenever the file changes. A file lock
/// keeps test processes running at the same time from building it twice, or using it half
/// built.
pub fn venv(name: &str, requirements: &Path) -> PathBuf {
    let root = target_tmp();
    let venv = root.join(name);
    let wanted = std::fs::read_to_string(requirements)
        .unwrap_or_else(|e| panic!("reads {}: {e}", requirements.display()));
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
            .arg(requirements));
        std::fs::write(&stamp, wanted).expect("stamp");
    }
    venv.join("bin")
}

/// A peer process that prints the port it listens on as its first line, then talks over its
/// stdin and stdout. Killed when dropped, if still running.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// The port the peer printed.
    pub port: u16,
}

impl Peer {
    /// Starts `command` with piped stdin and stdout and reads the port it prints.
    pub fn start(mut command: Command) -> Peer {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starts {command:?}: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("reads the port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{command:?} prints its port first, not {line:?}"));
        Peer {
            child,
            stdout,
            port,
        }
    }

    /// The peer's next line of output (empty once it has closed its stdout).
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("reads a line");
        line
    }

    /// Closes the peer's stdin and reads the rest of its output until it exits, which it must
    /// do successfully.
    pub fn finish(mut self) -> String {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        self.stdout
            .read_to_string(&mut rest)
            .expect("reads the output");
        let status = self.child.wait().expect("waits");
        assert!(status.success(), "the peer failed: {rest}");
        rest
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A name no other test run uses: `{label}_{pid}_{random}`.
pub fn unique_name(label: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{label}_{}_{random:x}", std::process::id())
}

/// How long installing and starting a [`Server`] may take (a first run installs from PyPI).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs the server in the background and, when its stdin reaches its end (the test dropped the
/// pipe, or died), stops it: a server that cannot outlive its test.
const WATCH: &str = r#""$@" </dev/null & server=$!; cat >/dev/null; kill $server; wait $server"#;

/// A server started for a test, in a directory of its own (its working directory, its data,
/// its log): stopped, and the directory removed, when dropped; stopped too if the test process
/// dies.
#[derive(Debug)]
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
        args: impl FnOnce(&Path) -> Vec<OsString>,
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
