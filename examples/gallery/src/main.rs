//! `gallery`: the demo (the default), or one of its three services.
//!
//! ```text
//! gallery [demo] [--requests N] [--slow]    the whole app, traced, and where its time goes
//! gallery api --port P [--bind IP] --catalog URL --store URL
//! gallery catalog --port P [--bind IP] [--data DIR] [--mongodb-database NAME]
//! gallery store --port P [--bind IP] [--data DIR] [--slow] [--s3-bucket B [--s3-endpoint URL]]
//! ```
//!
//! Services bind 127.0.0.1 unless `--bind` says otherwise (`0.0.0.0` in a container). Every
//! option may come from the environment instead (`GALLERY_PORT`, `GALLERY_DATA`, `GALLERY_BIND`,
//! `GALLERY_CATALOG`, `GALLERY_STORE`, `GALLERY_SLOW`, `GALLERY_REQUESTS`,
//! `GALLERY_MONGODB_DATABASE`). The catalog keeps its records in MongoDB when `MONGODB_URI` is
//! set (database `gallery` unless `--mongodb-database` says otherwise); the store keeps images in
//! an S3 bucket when `--s3-bucket` names one (feature `s3`; region and credentials from the
//! usual `AWS_*` variables). Each service reports with the `JAEGER_*` variables (service name `gallery-api`,
//! `gallery-catalog`, `gallery-store` unless `JAEGER_SERVICE_NAME` says otherwise).

mod demo;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use gallery::api::Backends;
use gallery::{ImageRepository, SqliteRepository};

const USAGE: &str = "usage:
  gallery [demo] [--requests N] [--slow]
  gallery api --port P [--bind IP] --catalog URL --store URL
  gallery catalog --port P [--bind IP] [--data DIR] [--mongodb-database NAME]
  gallery store --port P [--bind IP] [--data DIR] [--slow] [--s3-bucket B [--s3-endpoint URL]]";

/// The database the catalog uses on MongoDB unless `--mongodb-database` names another.
pub(crate) const DEFAULT_MONGODB_DATABASE: &str = "gallery";

/// `--name value` options and `--flag`s, each of which may also come from the environment as
/// `GALLERY_NAME` (`--port` is `GALLERY_PORT`, `--data` is `GALLERY_DATA`); a flag wins.
pub(crate) struct Options(Vec<(String, String, String)>);

/// The environment variable standing for the option `name`.
pub(crate) fn variable(name: &str) -> String {
    format!("GALLERY_{}", name.to_ascii_uppercase().replace('-', "_"))
}

impl Options {
    /// Parses `args`: `known` names take a value, `flags` do not. Options not given as flags are
    /// read from their variables.
    fn parse(args: &[String], known: &[&str], flags: &[&str]) -> Result<Options, String> {
        let mut options = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let name = arg.strip_prefix("--").unwrap_or_default();
            if flags.contains(&name) {
                options.push((name.to_owned(), "true".to_owned(), format!("--{name}")));
                continue;
            }
            if !known.contains(&name) {
                return Err(format!("unexpected argument {arg:?}"));
            }
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            options.push((name.to_owned(), value.clone(), format!("--{name}")));
        }
        for name in known.iter().chain(flags) {
            if options.iter().any(|(n, _, _)| n == name) {
                continue;
            }
            if let Ok(value) = std::env::var(variable(name)) {
                options.push(((*name).to_owned(), value, variable(name)));
            }
        }
        Ok(Options(options))
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(n, v, _)| n == name && !matches!(v.as_str(), "" | "0" | "false"))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("--{name} (or {}) is required", variable(name)))
    }

    pub(crate) fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.0.iter().find(|(n, _, _)| n == name) {
            None => Ok(default),
            Some((_, value, source)) => value
                .parse()
                .map_err(|_| format!("{source} {value:?} is not a valid number")),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.first().map(String::as_str) {
        Some(c @ ("demo" | "api" | "catalog" | "store")) => (c, &args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => ("demo", &args[..]),
    };
    let result = match command {
        "demo" => Options::parse(rest, &["requests"], &["slow"]).and_then(|o| demo::run(&o)),
        "api" => Options::parse(rest, &["port", "bind", "catalog", "store"], &[])
            .and_then(|o| service("gallery-api", &o, api)),
        "catalog" => Options::parse(rest, &["port", "bind", "data", "mongodb-database"], &[])
            .and_then(|o| service("gallery-catalog", &o, catalog)),
        _ => Options::parse(
            rest,
            &["port", "bind", "data", "s3-bucket", "s3-endpoint"],
            &["slow"],
        )
        .and_then(|o| service("gallery-store", &o, store)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gallery: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn data_dir(options: &Options, name: &str) -> PathBuf {
    options.get("data").map_or_else(
        || std::env::temp_dir().join("gallery").join(name),
        PathBuf::from,
    )
}

/// A service's routes, and the repository to close once they are no longer served.
struct Routes {
    router: axum::Router,
    repository: Option<Arc<dyn ImageRepository>>,
}

impl From<axum::Router> for Routes {
    fn from(router: axum::Router) -> Self {
        Routes {
            router,
            repository: None,
        }
    }
}

fn api(options: &Options, runtime: &tokio::runtime::Runtime) -> Result<Routes, String> {
    let backends = Backends::new(options.required("catalog")?, options.required("store")?);
    // Bytes an API stopped mid-upload left without a record go, a few minutes on.
    runtime.spawn(gallery::api::sweep_periodically(
        backends.clone(),
        gallery::api::SWEEP_EVERY,
    ));
    Ok(gallery::api::router(backends).into())
}

/// The catalog's repository: MongoDB when `MONGODB_URI` is set (and the `mongodb` feature
/// built), in the database `--mongodb-database` names (`gallery` by default), else the embedded
/// SQLite database in the data directory.
fn catalog(options: &Options, runtime: &tokio::runtime::Runtime) -> Result<Routes, String> {
    // Only the MongoDB backend needs the runtime to connect.
    #[cfg(not(feature = "mongodb"))]
    let _ = runtime;
    let repository: Arc<dyn ImageRepository> = if let Ok(uri) = std::env::var("MONGODB_URI") {
        #[cfg(feature = "mongodb")]
        {
            let database = options
                .get("mongodb-database")
                .unwrap_or(DEFAULT_MONGODB_DATABASE);
            let repo = runtime
                .block_on(gallery::mongo::MongoRepository::connect(&uri, database))
                .map_err(|e| format!("MONGODB_URI: {e}"))?;
            Arc::new(repo)
        }
        #[cfg(not(feature = "mongodb"))]
        return Err(format!(
            "MONGODB_URI={uri:?} is set, but this gallery was built without the mongodb feature \
             (cargo run -p gallery --features mongodb)"
        ));
    } else {
        let dir = data_dir(options, "catalog");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Arc::new(SqliteRepository::open(&dir.join("images.db")).map_err(|e| e.to_string())?)
    };
    Ok(Routes {
        router: gallery::catalog::router(repository.clone()),
        repository: Some(repository),
    })
}

/// The store's bytes: in the S3 bucket `--s3-bucket` names (and the `s3` feature built), else
/// in the data directory.
fn store(options: &Options, runtime: &tokio::runtime::Runtime) -> Result<Routes, String> {
    // Only the S3 backend needs the runtime to connect.
    #[cfg(not(feature = "s3"))]
    let _ = runtime;
    if let Some(bucket) = options.get("s3-bucket") {
        #[cfg(feature = "s3")]
        {
            let config = gallery::s3::S3Config {
                bucket: bucket.to_owned(),
                endpoint: options.get("s3-endpoint").map(str::to_owned),
                ..Default::default()
            };
            let blobs = runtime
                .block_on(gallery::s3::S3Store::connect(config))
                .map_err(|e| format!("the S3 bucket {bucket:?}: {e}"))?;
            return Ok(gallery::blobs::router_over(Arc::new(blobs), options.flag("slow")).into());
        }
        #[cfg(not(feature = "s3"))]
        return Err(format!(
            "--s3-bucket {bucket:?} is given, but this gallery was built without the s3 feature \
             (cargo run -p gallery --features s3)"
        ));
    }
    let dir = data_dir(options, "blobs");
    gallery::blobs::router(dir.clone(), options.flag("slow"))
        .map(Routes::from)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Runs one service until interrupted, tracing with the `JAEGER_*` variables; then closes its
/// repository while the runtime still runs, and the tracer's guard, dropped on the way out,
/// flushes the last spans.
fn service(
    name: &str,
    options: &Options,
    routes: fn(&Options, &tokio::runtime::Runtime) -> Result<Routes, String>,
) -> Result<(), String> {
    let port: u16 = options.number("port", 0)?;
    let config = traced::Config::from_env()
        .map_err(|e| e.to_string())?
        .default_service_name(name);
    let _tracer = traced::init(config).map_err(|e| e.to_string())?;
    gallery::logs::init();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let Routes { router, repository } = routes(options, &runtime)?;
    runtime.block_on(async {
        let bind = options.get("bind").unwrap_or("127.0.0.1");
        let listener = tokio::net::TcpListener::bind((bind, port))
            .await
            .map_err(|e| format!("port {port}: {e}"))?;
        println!(
            "{name} listening on http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(stopped())
            .await
            .map_err(|e| e.to_string());
        if let Some(repository) = repository {
            repository.close().await;
        }
        served
    })
}

/// Resolves on Ctrl-C, or, under the demo (`GALLERY_PARENT` set), when the demo closes this
/// process's stdin: a child is stopped that way and still flushes its spans.
async fn stopped() {
    let parent_gone = async {
        if std::env::var_os("GALLERY_PARENT").is_some() {
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            })
            .await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = parent_gone => {}
    }
}
