//! Starting the three services as processes of the `gallery` binary, wired to each other and
//! reporting to a Jaeger agent, and waiting until every one of them answers: what the demo does,
//! and what the end-to-end test does.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Where the catalog keeps its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Records {
    /// As the environment says: MongoDB when `MONGODB_URI` is set, else SQLite (the demo).
    FromEnvironment,
    /// SQLite in the data directory, whatever the environment says.
    Sqlite,
    /// MongoDB at `uri`, in `database`.
    Mongo {
        /// The server.
        uri: String,
        /// The database the catalog writes into.
        database: String,
    },
}

/// How long the services have to answer once started.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the services could not be started; whatever had started is stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No free loopback port, or no process.
    #[error("starting the services: {0}")]
    Io(#[from] std::io::Error),
    /// A service ended before it answered (its own error is on stderr).
    #[error("the {0} stopped before it answered ({1})")]
    Exited(&'static str, ExitStatus),
    /// A service did not answer in time.
    #[error("the {0} did not answer at {1}/health within {timeout:?}", timeout = START_TIMEOUT)]
    Silent(&'static str, String),
}

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
    /// Where the catalog keeps its records.
    pub records: Records,
}

/// The three running services, stopped (stdin closed, so they flush their spans) and reaped
/// when dropped; one that does not stop within 5 s is ended, so none is left behind.
pub struct Services {
    /// Each service's name, base URL and process.
    children: Vec<(&'static str, String, Child)>,
    /// The API's base URL.
    pub api: String,
    /// The store's base URL.
    pub store: String,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Launch {
    /// Starts the catalog, the store and the API, on free loopback ports, and returns once each
    /// answers `GET /health`: a first request never finds a service not yet listening.
    ///
    /// # Errors
    /// A port or a process that cannot be had, or a service that stops or stays silent
    /// ([`START_TIMEOUT`]); the error names it.
    pub async fn start(&self) -> Result<Services, StartError> {
        let (api, catalog, store) = (free_port()?, free_port()?, free_port()?);
        let dir = |name: &str| self.data.join(name);
        let mut services = Services {
            children: Vec::new(),
            api: format!("http://127.0.0.1:{api}"),
            store: format!("http://127.0.0.1:{store}"),
        };
        let mut catalog_args = vec![
            "catalog".into(),
            "--port".into(),
            catalog.to_string(),
            "--data".into(),
            dir("catalog").display().to_string(),
        ];
        if let Records::Mongo { database, .. } = &self.records {
            catalog_args.extend(["--mongodb-database".into(), database.clone()]);
        }
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
        for (name, port, args) in [
            ("catalog", catalog, catalog_args),
            ("store", store, store_args),
            ("api", api, api_args),
        ] {
            let child = self.spawn(&args)?;
            let url = format!("http://127.0.0.1:{port}");
            services.children.push((name, url, child));
        }
        services.answering().await?;
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
        match &self.records {
            Records::FromEnvironment => {}
            Records::Sqlite => {
                command.env_remove("MONGODB_URI");
            }
            Records::Mongo { uri, .. } => {
                command.env("MONGODB_URI", uri);
            }
        }
        command.spawn()
    }
}

impl Services {
    /// Waits until every service answers `GET /health`, or one stops, or time runs out.
    async fn answering(&mut self) -> Result<(), StartError> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + START_TIMEOUT;
        let mut waiting: Vec<usize> = (0..self.children.len()).collect();
        while !waiting.is_empty() {
            let mut still = Vec::new();
            for i in waiting {
                let (name, url, child) = &mut self.children[i];
                if let Some(status) = child.try_wait()? {
                    return Err(StartError::Exited(name, status));
                }
                let answered = http
                    .get(format!("{url}/health"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !answered {
                    if Instant::now() > deadline {
                        return Err(StartError::Silent(name, url.clone()));
                    }
                    still.push(i);
                }
            }
            waiting = still;
            if !waiting.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Stops one service now (the others keep running).
    pub fn stop(&mut self, name: &str) {
        if let Some(i) = self.children.iter().position(|(n, _, _)| *n == name) {
            let (_, _, child) = self.children.remove(i);
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
        stop_all(self.children.drain(..).map(|(_, _, c)| c).collect());
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
