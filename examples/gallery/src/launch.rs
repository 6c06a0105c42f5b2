//! Starting the three services as processes of the `gallery` binary, wired to each other and
//! reporting to a Jaeger agent, and waiting until every one of them answers: what the demo does,
//! and what the end-to-end test does.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
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
    /// No process, or no output from it.
    #[error("starting the services: {0}")]
    Io(#[from] std::io::Error),
    /// A service ended before it answered (its own error is on stderr).
    #[error("the {0} stopped before it answered ({1})")]
    Exited(&'static str, ExitStatus),
    /// A service did not answer in time.
    #[error("the {0} did not {1} within {timeout:?}", timeout = START_TIMEOUT)]
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
#[derive(Debug)]
pub struct Services {
    children: Vec<Running>,
    /// The API's base URL.
    pub api: String,
    /// The store's base URL.
    pub store: String,
}

/// One service's process.
#[derive(Debug)]
struct Running {
    name: &'static str,
    /// Its base URL, once it has said where it listens.
    url: String,
    child: Child,
    /// Its stdout, once read from, kept open: a service writing to a closed pipe would fail.
    _stdout: Option<BufReader<ChildStdout>>,
}

impl Launch {
    /// Starts the catalog, the store and the API, on free loopback ports, and returns once each
    /// answers `GET /health`: a first request never finds a service not yet listening.
    ///
    /// # Errors
    /// A port or a process that cannot be had, or a service that stops or stays silent
    /// ([`START_TIMEOUT`]); the error names it.
    pub async fn start(&self) -> Result<Services, StartError> {
        let dir = |name: &str| self.data.join(name);
        let mut services = Services {
            children: Vec::new(),
            api: String::new(),
            store: String::new(),
        };
        // Each service binds a port of the system's choosing and says which: a port picked here
        // and handed over could be taken by another process in between.
        let mut catalog_args = vec![
            "catalog".into(),
            "--port".into(),
            "0".into(),
            "--data".into(),
            dir("catalog").display().to_string(),
        ];
        if let Records::Mongo { database, .. } = &self.records {
            catalog_args.extend(["--mongodb-database".into(), database.clone()]);
        }
        let mut store_args = vec![
            "store".into(),
            "--port".into(),
            "0".into(),
            "--data".into(),
            dir("blobs").display().to_string(),
        ];
        if self.slow {
            store_args.push("--slow".into());
        }
        // The catalog and the store start side by side; the API once it knows where they are.
        // Every process is among the services as soon as it runs, so that a failed start stops
        // it too.
        services.spawned("catalog", self.spawn(&catalog_args)?);
        services.spawned("store", self.spawn(&store_args)?);
        services.listening(0).await?;
        services.listening(1).await?;
        let api_args = vec![
            "api".into(),
            "--port".into(),
            "0".into(),
            "--catalog".into(),
            services.children[0].url.clone(),
            "--store".into(),
            services.children[1].url.clone(),
        ];
        services.spawned("api", self.spawn(&api_args)?);
        services.listening(2).await?;
        services.store = services.children[1].url.clone();
        services.api = services.children[2].url.clone();
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
            .stdout(Stdio::piped());
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
    fn spawned(&mut self, name: &'static str, child: Child) {
        self.children.push(Running {
            name,
            url: String::new(),
            child,
            _stdout: None,
        });
    }

    /// Reads where the `i`th service listens from the line it prints once bound
    /// (`gallery-api listening on http://127.0.0.1:PORT`).
    async fn listening(&mut self, i: usize) -> Result<(), StartError> {
        let Running { name, child, .. } = &mut self.children[i];
        let name = *name;
        let stdout = child.stdout.take().expect("piped");
        let read = tokio::task::spawn_blocking(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            stdout.read_line(&mut line).map(|_| (line, stdout))
        });
        let read = match tokio::time::timeout(START_TIMEOUT, read).await {
            Ok(read) => read.map_err(std::io::Error::other)??,
            Err(_) => return Err(StartError::Silent(name, "say where it listens".into())),
        };
        let (line, stdout) = read;
        let running = &mut self.children[i];
        running._stdout = Some(stdout);
        let Some((_, url)) = line.trim().split_once(" listening on ") else {
            // Its output ended: it stopped, with its error on stderr.
            let status = running.child.wait()?;
            return Err(StartError::Exited(name, status));
        };
        running.url = url.to_owned();
        Ok(())
    }

    /// Waits until every service answers `GET /health`, or one stops, or time runs out.
    async fn answering(&mut self) -> Result<(), StartError> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + START_TIMEOUT;
        let mut waiting: Vec<usize> = (0..self.children.len()).collect();
        while !waiting.is_empty() {
            let mut still = Vec::new();
            for i in waiting {
                let Running {
                    name, url, child, ..
                } = &mut self.children[i];
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
                        return Err(StartError::Silent(name, format!("answer at {url}/health")));
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
        if let Some(i) = self.children.iter().position(|r| r.name == name) {
            stop_all(vec![self.children.remove(i)]);
        }
    }
}

fn stop_all(mut children: Vec<Running>) {
    for running in &mut children {
        drop(running.child.stdin.take());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for Running { child, .. } in &mut children {
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
        stop_all(self.children.drain(..).collect());
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
