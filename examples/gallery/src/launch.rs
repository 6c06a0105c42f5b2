//! Starting the three services as processes of the `gallery` binary, wired to each other and
//! reporting to a Jaeger agent: what the demo does, and what the end-to-end test does.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to start the services.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `gallery` binary.
    pub exe: PathBuf,
    /// Where the catalog's database and the store's files go.
    pub data: PathBuf,
    /// The Jaeger agent to report to; `None` leaves the `JAEGER_*` variables as they are.
    pub agent: Option<SocketAddr>,
    /// The store makes thumbnails on every request.
    pub slow: bool,
}

/// The three running services, stopped (stdin closed, so they flush their spans) and reaped
/// when dropped; one that does not stop within 5 s is ended, so none is left behind.
pub struct Services {
    children: Vec<(&'static str, Child)>,
    /// The API's base URL.
    pub api: String,
    /// The store's base URL.
    pub store: String,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Launch {
    /// Starts the catalog, the store and the API, on free loopback ports.
    ///
    /// # Errors
    /// A port or a process that cannot be had.
    pub fn start(&self) -> std::io::Result<Services> {
        let (api, catalog, store) = (free_port()?, free_port()?, free_port()?);
        let dir = |name: &str| self.data.join(name);
        let mut services = Services {
            children: Vec::new(),
            api: format!("http://127.0.0.1:{api}"),
            store: format!("http://127.0.0.1:{store}"),
        };
        let catalog_args = vec![
            "catalog".into(),
            "--port".into(),
            catalog.to_string(),
            "--data".into(),
            dir("catalog").display().to_string(),
        ];
        let mut store_args = vec![
            "store".into(),
            "--port".into(),
            store.to_string(),
            "--data".into(),
            dir("blobs").display().to_string(),
        ];
        if self.slow {
            store_args.push("--slow".into());
        }
        let api_args = vec![
            "api".into(),
            "--port".into(),
            api.to_string(),
            "--catalog".into(),
            format!("http://127.0.0.1:{catalog}"),
            "--store".into(),
            services.store.clone(),
        ];
        for (name, args) in [
            ("catalog", catalog_args),
            ("store", store_args),
            ("api", api_args),
        ] {
            let child = self.spawn(&args)?;
            services.children.push((name, child));
        }
        Ok(services)
    }

    fn spawn(&self, args: &[String]) -> std::io::Result<Child> {
        let mut command = Command::new(&self.exe);
        command
            .args(args)
            .env("GALLERY_PARENT", "1")
            .env("JAEGER_REPORTER_FLUSH_INTERVAL", "100ms")
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        if let Some(agent) = self.agent {
            command
                .env("JAEGER_AGENT_HOST", agent.ip().to_string())
                .env("JAEGER_AGENT_PORT", agent.port().to_string());
        }
        command.spawn()
    }
}

impl Services {
    /// Stops one service now (the others keep running).
    pub fn stop(&mut self, name: &str) {
        if let Some(i) = self.children.iter().position(|(n, _)| *n == name) {
            let (_, child) = self.children.remove(i);
            stop_all(vec![child]);
        }
    }
}

fn stop_all(mut children: Vec<Child>) {
    for child in &mut children {
        drop(child.stdin.take());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for child in &mut children {
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        stop_all(self.children.drain(..).map(|(_, c)| c).collect());
    }
}

/// The data directory of a run under the system's temporary directory.
pub fn temporary_data(label: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gallery-{label}-{}", std::process::id()))
}

/// Removes a run's data, if it is there.
pub fn remove_data(data: &Path) {
    let _ = std::fs::remove_dir_all(data);
}
