//! `loupe bench`: a load generator that measures loupe against the database
//! it writes to.
//!
//! For each transport (OTLP/HTTP protobuf, then OTLP/gRPC) it starts
//! `loupe serve` as a child process on a fresh database, sends pre-encoded
//! export requests of realistic spans from several concurrent clients as fast
//! as they are acknowledged, and reads the child's CPU time and peak RSS from
//! `/proc`, so the server's numbers exclude the client's. Then, on another
//! fresh database of the same kind, it writes the same rows straight through
//! the store (no network, no decoding, no queue, one writer): each request's
//! spans packed as `loupe serve` packs them (`Store::prepare`, one pack per
//! export), `Store::write_batch` for every `--ceiling-batch` spans, both
//! timed. That is the ceiling loupe's throughput is stated as a fraction of.
//!
//! Databases: with no `--database-url`, fresh SQLite files in a new temporary
//! directory, removed afterwards. With `sqlite://PATH`, fresh files next to
//! PATH (`STEM-http.db`, `STEM-grpc.db`, `STEM-ceiling.db`; refused if they
//! exist). With `postgres://USER@HOST/DB`, an admin connection: each run gets
//! its own `CREATE DATABASE loupe_bench_<pid>_<run>`, dropped afterwards.
//! `--keep` keeps them all.

use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::{BufMut as _, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message as _;
use serde_json::{Value as Json, json};
use store::{PreparedBatch, Store};

use crate::synth::{Rng, b, i, s, splitmix64};

/// Linux reports process CPU time in clock ticks of 1/100 s (`USER_HZ`).
const USER_HZ: f64 = 100.0;
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// Spans per trace: four in an edge service, four in the backend it calls.
const SPANS_PER_TRACE: u64 = 8;
const HALF_TRACE: u64 = SPANS_PER_TRACE / 2;
/// Tries of one refused (429/503, RESOURCE_EXHAUSTED/UNAVAILABLE) request.
const MAX_TRIES: u32 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportChoice {
    Http,
    Grpc,
    Both,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Default: fresh SQLite files in a new temporary directory. sqlite://PATH:
    /// fresh files next to PATH (STEM-http.db, …). postgres://USER@HOST/DB: an
    /// admin connection; every run gets a fresh database loupe_bench_<pid>_<run>
    /// created there and dropped afterwards.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Spans sent per transport, and written by the ceiling run
    #[arg(long, default_value_t = 500_000, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    pub spans: u64,
    /// Concurrent clients, each with its own connection and one request in flight
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub clients: u32,
    /// Spans per export request
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub batch: u32,
    /// Which receivers to load; `both` runs each in turn, on a fresh database each
    #[arg(long, value_enum, default_value_t = TransportChoice::Both)]
    pub transport: TransportChoice,
    /// Load an already running loupe at this OTLP/HTTP URL (loopback only), e.g.
    /// http://127.0.0.1:4318, instead of starting one; its CPU, memory and disk
    /// use are then not measured
    #[arg(long)]
    pub target: Option<String>,
    /// With --target: the OTLP/gRPC URL (default: the same host, port 4317)
    #[arg(long, requires = "target")]
    pub target_grpc: Option<String>,
    /// Spans per transaction in the ceiling run
    #[arg(long, default_value_t = 8192, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ceiling_batch: u32,
    /// Skip the ceiling run
    #[arg(long)]
    pub no_ceiling: bool,
    /// Give up on a run that takes longer than this many seconds
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout_secs: u64,
    /// Keep the benchmark databases instead of removing them
    #[arg(long)]
    pub keep: bool,
    /// Print the results as one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Http,
    Grpc,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Grpc => "grpc",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Transport::Http => "OTLP/HTTP protobuf",
            Transport::Grpc => "OTLP/gRPC",
        }
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let transports: Vec<Transport> = match args.transport {
        TransportChoice::Http => vec![Transport::Http],
        TransportChoice::Grpc => vec![Transport::Grpc],
        TransportChoice::Both => vec![Transport::Http, Transport::Grpc],
    };
    let targets = match &args.target {
        Some(target) => Some(Targets::parse(target, args.target_grpc.as_deref())?),
        None => None,
    };
    let databases = match (&targets, &args.database_url) {
        // Against a running loupe, a database is only needed for the ceiling.
        (Some(_), None) => None,
        (_, url) => Some(Databases::new(url.as_deref())?),
    };
    let location = databases.as_ref().map(Databases::describe);
    let timeout = Duration::from_secs(args.timeout_secs);
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let loadavg_before = loadavg();

    let mut workload = Workload::new(args.spans, args.batch);
    progress(
        &args,
        &format!(
            "generating {} spans in {} requests of {}…",
            args.spans,
            workload.n_bodies(),
            args.batch
        ),
    );
    let mut bodies = Arc::new(workload.encode_all().await?);
    let shape = workload.shape(&bodies);
    // A generator bug would otherwise show up as rejected spans mid-run.
    let first = collector::normalize::traces(workload.request(0), &collector::Rules::default());
    if first.rejected > 0 {
        bail!(
            "the generated spans are invalid: {}",
            first.first_rejection.unwrap_or_default()
        );
    }

    let mut runs = Vec::new();
    let mut failure = None;
    for (i, transport) in transports.iter().enumerate() {
        if targets.is_some() && i > 0 {
            // A running server keeps what it got: send new ids, not duplicates.
            workload = workload.resalted();
            bodies = Arc::new(workload.encode_all().await?);
        }
        progress(&args, &format!("{}: loading…", transport.label()));
        let result = match &targets {
            Some(targets) => {
                let endpoint = match transport {
                    Transport::Http => targets.http.clone(),
                    Transport::Grpc => targets.grpc.clone(),
                };
                load(*transport, &endpoint, &bodies, args.clients, timeout, None).await
            }
            None => {
                let databases = databases.as_ref().unwrap_or_else(|| unreachable!());
                run_local(databases, *transport, &bodies, &args, timeout).await
            }
        };
        match result {
            Ok(report) => runs.push(report),
            Err(err) => {
                failure = Some(err.context(format!("{} run failed", transport.label())));
                break;
            }
        }
    }
    drop(bodies);

    let ceiling = match (&databases, failure.is_none() && !args.no_ceiling) {
        (Some(databases), true) => {
            progress(
                &args,
                "ceiling: writing the same spans straight into the store…",
            );
            match ceiling(databases, &workload, args.ceiling_batch, args.keep, timeout).await {
                Ok(ceiling) => Some(ceiling),
                Err(err) => {
                    failure = Some(err.context("ceiling run failed"));
                    None
                }
            }
        }
        _ => None,
    };
    if let Some(databases) = &databases {
        databases.finish(args.keep);
    }

    let report = Report {
        cpus,
        loadavg_before,
        loadavg_after: loadavg(),
        args: args.clone(),
        backend: databases.as_ref().map(Databases::backend),
        location,
        external: targets.is_some(),
        shape,
        runs,
        ceiling,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.render());
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

fn progress(args: &BenchArgs, message: &str) {
    if !args.json {
        eprintln!("loupe bench: {message}");
    }
}

// ---------------------------------------------------------------------------
// Where the load goes

struct Targets {
    http: String,
    grpc: String,
}

impl Targets {
    fn parse(http: &str, grpc: Option<&str>) -> anyhow::Result<Targets> {
        let mut http_url = reqwest::Url::parse(http).with_context(|| {
            format!("--target {http:?} is not a URL like http://127.0.0.1:4318")
        })?;
        require_loopback(&http_url)?;
        let grpc = match grpc {
            Some(grpc) => {
                let url = reqwest::Url::parse(grpc).with_context(|| {
                    format!("--target-grpc {grpc:?} is not a URL like http://127.0.0.1:4317")
                })?;
                require_loopback(&url)?;
                url.as_str().trim_end_matches('/').to_owned()
            }
            None => {
                let mut url = http_url.clone();
                url.set_path("");
                url.set_port(Some(4317))
                    .map_err(|()| anyhow::anyhow!("--target {http:?} cannot take a port"))?;
                url.as_str().trim_end_matches('/').to_owned()
            }
        };
        if !http_url.path().ends_with("/v1/traces") {
            let path = format!("{}/v1/traces", http_url.path().trim_end_matches('/'));
            http_url.set_path(&path);
        }
        Ok(Targets {
            http: http_url.to_string(),
            grpc,
        })
    }
}

fn require_loopback(url: &reqwest::Url) -> anyhow::Result<()> {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if url.scheme() != "http" || !loopback {
        bail!("{url}: the benchmark only loads http:// servers on loopback addresses");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Databases

enum Databases {
    Sqlite {
        dir: PathBuf,
        stem: String,
        /// The directory was made by the bench and goes when it ends.
        temporary: bool,
    },
    Postgres {
        admin_url: String,
        prefix: String,
    },
}

/// A fresh, migrated database for one run.
struct Fresh {
    url: String,
    /// The SQLite file, or the PostgreSQL database name.
    name: String,
    path: Option<PathBuf>,
    empty: Disk,
}

#[derive(Debug, Clone, Default)]
struct Disk {
    bytes: u64,
    /// Table and index name → bytes, largest first.
    objects: Vec<(String, u64)>,
}

impl Disk {
    /// What `self` holds beyond `before`, per object too.
    fn minus(&self, before: &Disk) -> Disk {
        let mut objects: Vec<(String, u64)> = self
            .objects
            .iter()
            .map(|(name, bytes)| {
                let was = before
                    .objects
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, b)| *b);
                (name.clone(), bytes.saturating_sub(was))
            })
            .filter(|(_, bytes)| *bytes > 0)
            .collect();
        objects.sort_by_key(|o| std::cmp::Reverse(o.1));
        Disk {
            bytes: self.bytes.saturating_sub(before.bytes),
            objects,
        }
    }
}

impl Databases {
    fn new(url: Option<&str>) -> anyhow::Result<Databases> {
        let unique = format!("{}_{}", std::process::id(), unix_nanos() % 1_000_000);
        match url {
            None => {
                let dir = std::env::temp_dir().join(format!("loupe-bench-{unique}"));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok(Databases::Sqlite {
                    dir,
                    stem: "bench".to_owned(),
                    temporary: true,
                })
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite:")
                    .trim_start_matches("//")
                    .split('?')
                    .next()
                    .unwrap_or_default();
                if path.is_empty() || path == ":memory:" {
                    bail!("--database-url {url:?}: give a file, sqlite://PATH");
                }
                let path = Path::new(path);
                let dir = match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("bench")
                    .to_owned();
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok(Databases::Sqlite {
                    dir,
                    stem,
                    temporary: false,
                })
            }
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                Ok(Databases::Postgres {
                    admin_url: url.to_owned(),
                    prefix: format!("loupe_bench_{unique}"),
                })
            }
            Some(url) => bail!("--database-url {url:?}: use sqlite://PATH or postgres://…"),
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Databases::Sqlite { .. } => "sqlite",
            Databases::Postgres { .. } => "postgres",
        }
    }

    fn describe(&self) -> String {
        match self {
            Databases::Sqlite { dir, stem, .. } => format!(
                "fresh SQLite files {}/{stem}-<run>.db ({})",
                dir.display(),
                filesystem_of(dir).unwrap_or_else(|| "filesystem unknown".to_owned())
            ),
            Databases::Postgres { admin_url, prefix } => format!(
                "fresh PostgreSQL databases {prefix}_<run> created through {}",
                redact(admin_url)
            ),
        }
    }

    async fn fresh(&self, run: &str) -> anyhow::Result<Fresh> {
        let (url, name, path) = match self {
            Databases::Sqlite { dir, stem, .. } => {
                let path = dir.join(format!("{stem}-{run}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let file = PathBuf::from(format!("{}{suffix}", path.display()));
                    if file.exists() {
                        bail!(
                            "{} exists; the benchmark writes only to fresh files",
                            file.display()
                        );
                    }
                }
                (
                    format!("sqlite://{}", path.display()),
                    path.display().to_string(),
                    Some(path),
                )
            }
            Databases::Postgres { admin_url, prefix } => {
                let name = format!("{prefix}_{run}");
                let admin = pg_connect(admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&admin)
                    .await
                    .with_context(|| format!("cannot create database {name}"))?;
                admin.close().await;
                let mut url = reqwest::Url::parse(admin_url)
                    .with_context(|| format!("{} is not a URL", redact(admin_url)))?;
                url.set_path(&format!("/{name}"));
                (url.to_string(), name, None)
            }
        };
        let fresh = Fresh {
            url,
            name,
            path,
            empty: Disk::default(),
        };
        // Migrated here, so the empty schema's size is known before any span.
        let store = Store::open(&fresh.url)
            .await
            .with_context(|| format!("cannot open {}", redact(&fresh.url)))?;
        store.close().await;
        let empty = self.disk(&fresh).await?;
        Ok(Fresh { empty, ..fresh })
    }

    async fn disk(&self, db: &Fresh) -> anyhow::Result<Disk> {
        match (self, &db.path) {
            (Databases::Sqlite { .. }, Some(path)) => sqlite_disk(&db.url, path).await,
            _ => pg_disk(&db.url).await,
        }
    }

    async fn dispose(&self, db: &Fresh, keep: bool) {
        if keep {
            return;
        }
        match self {
            Databases::Sqlite { .. } => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", db.name));
                }
            }
            Databases::Postgres { admin_url, .. } => {
                let dropped = async {
                    let admin = pg_connect(admin_url).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        db.name
                    )))
                    .execute(&admin)
                    .await?;
                    admin.close().await;
                    anyhow::Ok(())
                }
                .await;
                if let Err(err) = dropped {
                    eprintln!("loupe bench: could not drop database {}: {err:#}", db.name);
                }
            }
        }
    }

    fn finish(&self, keep: bool) {
        if let Databases::Sqlite {
            dir,
            temporary: true,
            ..
        } = self
        {
            if keep {
                eprintln!("loupe bench: databases kept in {}", dir.display());
            } else {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    /// Cluster-wide WAL position, PostgreSQL only.
    async fn wal_lsn(&self) -> Option<u64> {
        let Databases::Postgres { admin_url, .. } = self else {
            return None;
        };
        let admin = pg_connect(admin_url).await.ok()?;
        let lsn: Option<i64> =
            sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
                .fetch_one(&admin)
                .await
                .ok();
        admin.close().await;
        lsn.map(|l| l.max(0) as u64)
    }
}

async fn pg_connect(url: &str) -> anyhow::Result<sqlx::PgPool> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to {}", redact(url)))
}

/// The file and its WAL after a checkpoint, with what dbstat says each table
/// and index occupies.
async fn sqlite_disk(url: &str, path: &Path) -> anyhow::Result<Disk> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.create_if_missing(false);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    let objects: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
    pool.close().await;
    let size = |suffix: &str| {
        std::fs::metadata(format!("{}{suffix}", path.display())).map_or(0, |m| m.len())
    };
    Ok(Disk {
        bytes: size("") + size("-wal"),
        objects: objects
            .into_iter()
            .map(|(name, bytes)| (name, bytes.max(0) as u64))
            .collect(),
    })
}

async fn pg_disk(url: &str) -> anyhow::Result<Disk> {
    let pool = pg_connect(url).await?;
    let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&pool)
        .await?;
    let objects: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text, CASE WHEN c.relkind = 'i' THEN pg_relation_size(c.oid) \
         ELSE pg_table_size(c.oid) END::bigint \
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i') \
         ORDER BY 2 DESC",
    )
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(Disk {
        bytes: bytes.max(0) as u64,
        objects: objects
            .into_iter()
            .map(|(name, bytes)| (name, bytes.max(0) as u64))
            .collect(),
    })
}

// ---------------------------------------------------------------------------
// One run against a child `loupe serve`

async fn run_local(
    databases: &Databases,
    transport: Transport,
    bodies: &Arc<Vec<Body>>,
    args: &BenchArgs,
    timeout: Duration,
) -> anyhow::Result<RunReport> {
    let db = databases.fresh(transport.name()).await?;
    let result = run_on(databases, &db, transport, bodies, args, timeout).await;
    databases.dispose(&db, args.keep).await;
    result
}

async fn run_on(
    databases: &Databases,
    db: &Fresh,
    transport: Transport,
    bodies: &Arc<Vec<Body>>,
    args: &BenchArgs,
    timeout: Duration,
) -> anyhow::Result<RunReport> {
    let server = ServerProcess::start(&db.url).await?;
    let endpoint = match transport {
        Transport::Http => format!("http://{}/v1/traces", server.otlp_http),
        Transport::Grpc => format!("http://{}", server.otlp_grpc),
    };
    let wal_before = databases.wal_lsn().await;
    let loaded = load(
        transport,
        &endpoint,
        bodies,
        args.clients,
        timeout,
        Some(server.pid),
    )
    .await;
    let wal_after = databases.wal_lsn().await;
    let writer = writer_stats(server.ui).await;
    let stopped = server.stop().await;
    let mut report = loaded?;
    stopped?;
    report.writer = writer;
    report.wal_bytes = wal_before.zip(wal_after).map(|(b, a)| a.saturating_sub(b));
    report.disk = Some(databases.disk(db).await?.minus(&db.empty));
    Ok(report)
}

/// `loupe serve` as a child process, so its CPU and memory are its own.
struct ServerProcess {
    child: Child,
    pid: u32,
    otlp_grpc: SocketAddr,
    otlp_http: SocketAddr,
    ui: SocketAddr,
    /// Held open so the child never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    stopped: bool,
}

impl ServerProcess {
    async fn start(database_url: &str) -> anyhow::Result<ServerProcess> {
        let exe = std::env::current_exe().context("cannot find the loupe executable")?;
        let mut command = std::process::Command::new(exe);
        command
            .args(["serve", "--database-url", database_url])
            .args(["--otlp-grpc-addr", "127.0.0.1:0"])
            .args(["--otlp-http-addr", "127.0.0.1:0"])
            .args(["--ui-addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if std::env::var_os("LOUPE_LOG").is_none() {
            command.env("LOUPE_LOG", "warn");
        }
        let mut child = command.spawn().context("cannot start loupe serve")?;
        let pid = child.id();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("loupe serve has no stdout");
        };
        let read = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    bail!("loupe serve exited before it listened");
                }
                if line.starts_with("loupe listening") {
                    return Ok((reader, line));
                }
            }
        });
        let (reader, line) = match tokio::time::timeout(Duration::from_secs(120), read).await {
            Ok(Ok(Ok(read))) => read,
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(match outcome {
                    Ok(Ok(Err(err))) => err,
                    Ok(Err(err)) => err.into(),
                    Err(_) => anyhow::anyhow!("loupe serve did not listen within 120 s"),
                    Ok(Ok(Ok(_))) => unreachable!(),
                });
            }
        };
        let addr = |key: &str| -> Option<SocketAddr> {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(key))
                .and_then(|addr| addr.parse().ok())
        };
        let (Some(otlp_grpc), Some(otlp_http), Some(ui)) =
            (addr("otlp_grpc="), addr("otlp_http="), addr("ui="))
        else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("cannot read the addresses from {:?}", line.trim());
        };
        Ok(ServerProcess {
            child,
            pid,
            otlp_grpc,
            otlp_http,
            ui,
            _stdout: reader,
            stopped: false,
        })
    }

    /// SIGTERM, as a service manager would, then up to a minute to finish.
    async fn stop(mut self) -> anyhow::Result<()> {
        let terminated = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !terminated {
            let _ = self.child.kill();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait()?;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.stopped = true;
        if terminated && !status.success() {
            bail!("loupe serve stopped with {status}");
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct WriterStats {
    commits: f64,
    items: f64,
    commit_seconds: f64,
}

/// The writer's counters from the child's `/metrics`.
async fn writer_stats(ui: SocketAddr) -> Option<WriterStats> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .ok()?;
    let text = client
        .get(format!("http://{ui}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |name: &str| {
        text.lines().find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
    };
    Some(WriterStats {
        commits: value("loupe_commits_total")?,
        items: value("loupe_batch_items_total")?,
        commit_seconds: value("loupe_commit_seconds_sum")?,
    })
}

// ---------------------------------------------------------------------------
// Load

struct Body {
    bytes: Bytes,
    spans: u64,
}

#[derive(Debug, Clone, Default)]
struct RunReport {
    transport: Option<Transport>,
    requests: u64,
    spans_acked: u64,
    spans_rejected: u64,
    retries: u64,
    wall: Duration,
    latencies: Vec<Duration>,
    /// The server's CPU seconds during the load, and its peak RSS in bytes.
    server_cpu_s: Option<f64>,
    server_peak_rss: Option<u64>,
    client_cpu_s: Option<f64>,
    /// Busy and available CPU seconds of the whole machine during the load.
    machine_cpu_s: Option<(f64, f64)>,
    writer: Option<WriterStats>,
    wal_bytes: Option<u64>,
    disk: Option<Disk>,
}

impl RunReport {
    fn spans_per_s(&self) -> f64 {
        self.spans_acked as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

#[derive(Default)]
struct ClientStats {
    requests: u64,
    acked: u64,
    rejected: u64,
    retries: u64,
    latencies: Vec<Duration>,
}

async fn load(
    transport: Transport,
    endpoint: &str,
    bodies: &Arc<Vec<Body>>,
    clients: u32,
    timeout: Duration,
    server_pid: Option<u32>,
) -> anyhow::Result<RunReport> {
    let mut connected = Vec::new();
    for _ in 0..clients {
        connected.push(Client::connect(transport, endpoint).await?);
    }
    let server = server_pid.map(|pid| pid.to_string());
    let server_cpu_before = server.as_deref().and_then(process_cpu_seconds);
    let client_cpu_before = process_cpu_seconds("self");
    let machine_before = machine_cpu_seconds();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let give_up = started + timeout;
    let tasks: Vec<_> = connected
        .into_iter()
        .map(|client| tokio::spawn(client_loop(client, bodies.clone(), next.clone(), give_up)))
        .collect();
    let mut report = RunReport {
        transport: Some(transport),
        ..RunReport::default()
    };
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok(stats)) => {
                report.requests += stats.requests;
                report.spans_acked += stats.acked;
                report.spans_rejected += stats.rejected;
                report.retries += stats.retries;
                report.latencies.extend(stats.latencies);
            }
            Ok(Err(err)) => {
                // The other clients stop at their next request.
                next.store(usize::MAX / 2, Ordering::Relaxed);
                failure.get_or_insert(err);
            }
            Err(err) => {
                next.store(usize::MAX / 2, Ordering::Relaxed);
                failure.get_or_insert(err.into());
            }
        }
    }
    report.wall = started.elapsed();
    if let Some(err) = failure {
        return Err(err);
    }
    report.server_cpu_s = server
        .as_deref()
        .and_then(process_cpu_seconds)
        .zip(server_cpu_before)
        .map(|(after, before)| after - before);
    report.server_peak_rss = server.as_deref().and_then(peak_rss_bytes);
    report.client_cpu_s = process_cpu_seconds("self")
        .zip(client_cpu_before)
        .map(|(after, before)| after - before);
    report.machine_cpu_s = machine_cpu_seconds()
        .zip(machine_before)
        .map(|(after, before)| (after.0 - before.0, after.1 - before.1));
    report.latencies.sort_unstable();
    Ok(report)
}

async fn client_loop(
    mut client: Client,
    bodies: Arc<Vec<Body>>,
    next: Arc<AtomicUsize>,
    give_up: Instant,
) -> anyhow::Result<ClientStats> {
    let mut stats = ClientStats::default();
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = bodies.get(index) else {
            return Ok(stats);
        };
        if Instant::now() > give_up {
            bail!("timed out with {} requests left", bodies.len() - index);
        }
        let started = Instant::now();
        let mut backoff = Duration::from_millis(10);
        let mut tries = 0;
        loop {
            tries += 1;
            match client.export(&body.bytes).await {
                Attempt::Acked { rejected } => {
                    let rejected = rejected.min(body.spans);
                    stats.acked += body.spans - rejected;
                    stats.rejected += rejected;
                    stats.latencies.push(started.elapsed());
                    break;
                }
                Attempt::Retry(why) => {
                    stats.retries += 1;
                    if tries >= MAX_TRIES || Instant::now() > give_up {
                        bail!("request {index} still refused after {tries} tries: {why}");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Attempt::Failed(why) => bail!("request {index} failed: {why}"),
            }
        }
        stats.requests += 1;
    }
}

enum Client {
    Http {
        client: reqwest::Client,
        url: String,
    },
    Grpc(tonic::client::Grpc<tonic::transport::Channel>),
}

enum Attempt {
    Acked { rejected: u64 },
    Retry(String),
    Failed(String),
}

impl Client {
    /// Its own connection: clients share nothing but the server.
    async fn connect(transport: Transport, endpoint: &str) -> anyhow::Result<Client> {
        match transport {
            Transport::Http => Ok(Client::Http {
                client: reqwest::Client::builder()
                    .no_proxy()
                    .tcp_nodelay(true)
                    .pool_max_idle_per_host(1)
                    .timeout(Duration::from_secs(120))
                    .build()?,
                url: endpoint.to_owned(),
            }),
            Transport::Grpc => {
                let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
                    .tcp_nodelay(true)
                    .timeout(Duration::from_secs(120))
                    .connect()
                    .await
                    .with_context(|| format!("cannot connect to {endpoint}"))?;
                Ok(Client::Grpc(tonic::client::Grpc::new(channel)))
            }
        }
    }

    async fn export(&mut self, body: &Bytes) -> Attempt {
        match self {
            Client::Http { client, url } => {
                let sent = client
                    .post(url.as_str())
                    .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(body.clone())
                    .send()
                    .await;
                let response = match sent {
                    Ok(response) => response,
                    Err(err) => return Attempt::Failed(format!("{err:#}")),
                };
                let status = response.status();
                let answer = match response.bytes().await {
                    Ok(answer) => answer,
                    Err(err) => return Attempt::Failed(format!("reading the answer: {err:#}")),
                };
                match status.as_u16() {
                    200 => match ExportTraceServiceResponse::decode(answer) {
                        Ok(answer) => Attempt::Acked {
                            rejected: rejected_spans(&answer),
                        },
                        Err(err) => Attempt::Failed(format!("undecodable answer: {err}")),
                    },
                    429 | 502 | 503 | 504 => Attempt::Retry(format!("HTTP {status}")),
                    _ => Attempt::Failed(format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&answer[..answer.len().min(300)])
                    )),
                }
            }
            Client::Grpc(grpc) => {
                if let Err(err) = grpc.ready().await {
                    return Attempt::Failed(format!("connection: {err}"));
                }
                let path = tonic::codegen::http::uri::PathAndQuery::from_static(EXPORT_PATH);
                match grpc
                    .unary(tonic::Request::new(body.clone()), path, RawCodec)
                    .await
                {
                    Ok(answer) => Attempt::Acked {
                        rejected: rejected_spans(answer.get_ref()),
                    },
                    Err(status)
                        if matches!(
                            status.code(),
                            tonic::Code::ResourceExhausted | tonic::Code::Unavailable
                        ) =>
                    {
                        Attempt::Retry(format!("{:?}: {}", status.code(), status.message()))
                    }
                    Err(status) => {
                        Attempt::Failed(format!("{:?}: {}", status.code(), status.message()))
                    }
                }
            }
        }
    }
}

fn rejected_spans(answer: &ExportTraceServiceResponse) -> u64 {
    answer
        .partial_success
        .as_ref()
        .map_or(0, |p| p.rejected_spans.max(0) as u64)
}

/// Sends an already encoded ExportTraceServiceRequest, so that gRPC clients,
/// like HTTP ones, spend nothing on encoding while they are timed.
#[derive(Debug, Clone, Copy)]
struct RawCodec;
struct RawEncoder;
struct AnswerDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = AnswerDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> AnswerDecoder {
        AnswerDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for AnswerDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<ExportTraceServiceResponse>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("undecodable answer: {e}")))
    }
}

// ---------------------------------------------------------------------------
// Ceiling: the same spans straight into the store

#[derive(Debug, Clone, Default)]
struct CeilingReport {
    spans: u64,
    transactions: u64,
    batch: u32,
    /// Time spent inside `write_batch` only.
    write_time: Duration,
    cpu_s: Option<f64>,
    machine_cpu_s: Option<(f64, f64)>,
    wal_bytes: Option<u64>,
    disk: Option<Disk>,
}

impl CeilingReport {
    fn spans_per_s(&self) -> f64 {
        self.spans as f64 / self.write_time.as_secs_f64().max(1e-9)
    }
}

async fn ceiling(
    databases: &Databases,
    workload: &Workload,
    batch: u32,
    keep: bool,
    timeout: Duration,
) -> anyhow::Result<CeilingReport> {
    let db = databases.fresh("ceiling").await?;
    let result = ceiling_on(databases, &db, workload, batch, timeout).await;
    databases.dispose(&db, keep).await;
    result
}

async fn ceiling_on(
    databases: &Databases,
    db: &Fresh,
    workload: &Workload,
    batch: u32,
    timeout: Duration,
) -> anyhow::Result<CeilingReport> {
    let store = Store::open(&db.url).await?;
    let writer = store.writer();
    let rules = collector::Rules::default();
    let mut report = CeilingReport {
        batch,
        ..CeilingReport::default()
    };
    let mut cpu = Some(0.0);
    let mut machine = Some((0.0, 0.0));
    let wal_before = databases.wal_lsn().await;
    let give_up = Instant::now() + timeout;
    let mut pending = PreparedBatch::default();
    let n_bodies = workload.n_bodies();
    // Only the store's work is timed, and counted: packing each request's
    // spans, then writing them; generating and normalising them is not.
    let mut timed =
        |started: Instant, cpu_before: Option<f64>, machine_before: Option<(f64, f64)>| {
            report.write_time += started.elapsed();
            cpu = cpu
                .zip(process_cpu_seconds("self").zip(cpu_before))
                .map(|(sum, (after, before))| sum + after - before);
            machine = machine.zip(machine_cpu_seconds().zip(machine_before)).map(
                |(sum, (after, before))| (sum.0 + after.0 - before.0, sum.1 + after.1 - before.1),
            );
        };
    let (mut spans, mut transactions) = (0, 0);
    for index in 0..n_bodies {
        let normalized = collector::normalize::traces(workload.request(index), &rules);
        if normalized.rejected > 0 {
            bail!(
                "generated spans rejected: {}",
                normalized.first_rejection.unwrap_or_default()
            );
        }
        let (cpu_before, machine_before) = (process_cpu_seconds("self"), machine_cpu_seconds());
        let started = Instant::now();
        let prepared = writer.prepare(normalized.batch)?;
        timed(started, cpu_before, machine_before);
        pending.append(prepared);
        if pending.n_items() < batch as usize && index + 1 < n_bodies {
            continue;
        }
        let batch = std::mem::take(&mut pending);
        let (cpu_before, machine_before) = (process_cpu_seconds("self"), machine_cpu_seconds());
        let started = Instant::now();
        writer.write_batch(&batch).await?;
        timed(started, cpu_before, machine_before);
        spans += batch.n_items() as u64;
        transactions += 1;
        if Instant::now() > give_up {
            bail!("timed out after {spans} spans");
        }
    }
    report.spans = spans;
    report.transactions = transactions;
    report.wal_bytes = wal_before
        .zip(databases.wal_lsn().await)
        .map(|(b, a)| a.saturating_sub(b));
    store.close().await;
    report.cpu_s = cpu;
    report.machine_cpu_s = machine;
    report.disk = Some(databases.disk(db).await?.minus(&db.empty));
    Ok(report)
}

// ---------------------------------------------------------------------------
// /proc

fn proc_stat_fields(pid: &str) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it may not.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// User + system CPU seconds of a process and all its threads.
fn process_cpu_seconds(pid: &str) -> Option<f64> {
    let fields = proc_stat_fields(pid)?;
    // Fields 14 and 15 of proc(5), counted from the state, field 3.
    Some((fields.get(11)? + fields.get(12)?) as f64 / USER_HZ)
}

fn peak_rss_bytes(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// (busy, busy + idle) CPU seconds of the whole machine since boot.
fn machine_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7)?;
    let idle = v.get(3)? + v.get(4)?;
    Some((busy as f64 / USER_HZ, (busy + idle) as f64 / USER_HZ))
}

fn loadavg() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The type of the filesystem holding `dir`, from /proc/mounts.
fn filesystem_of(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let mount = fields.next()?;
            let kind = fields.next()?;
            dir.starts_with(mount)
                .then(|| (mount.len(), kind.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// The spans

/// Traces of eight spans: a server span in an edge service with two internal
/// children and a client call to a backend, whose server span has a
/// PostgreSQL query, a Redis lookup and an internal step below it. Each
/// request holds one service instance's half of its traces, as one SDK would
/// export them: even requests an edge service's, odd ones the backend's.
#[derive(Debug, Clone, Copy)]
struct Workload {
    total_spans: u64,
    batch: u64,
    /// Mixed into every id, so that runs against one server never collide.
    salt: u64,
    /// When the first trace started.
    base_ns: u64,
}

struct Shape {
    requests: usize,
    otlp_bytes: u64,
    attributes_per_span: f64,
    exception_share: f64,
    resources: usize,
}

impl Workload {
    fn new(total_spans: u64, batch: u32) -> Workload {
        Workload {
            total_spans,
            batch: u64::from(batch),
            salt: splitmix64(unix_nanos() ^ u64::from(std::process::id()).rotate_left(32)),
            // A few minutes ago, so that every span is plausibly recent.
            base_ns: unix_nanos().saturating_sub(300_000_000_000),
        }
    }

    fn resalted(self) -> Workload {
        Workload {
            salt: splitmix64(self.salt),
            ..self
        }
    }

    fn n_bodies(&self) -> usize {
        self.total_spans.div_ceil(self.batch) as usize
    }

    async fn encode_all(&self) -> anyhow::Result<Vec<Body>> {
        let workload = *self;
        Ok(tokio::task::spawn_blocking(move || {
            (0..workload.n_bodies())
                .map(|index| {
                    let request = workload.request(index);
                    let spans = request
                        .resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len() as u64)
                        .sum();
                    Body {
                        bytes: Bytes::from(request.encode_to_vec()),
                        spans,
                    }
                })
                .collect()
        })
        .await?)
    }

    fn shape(&self, bodies: &[Body]) -> Shape {
        // Counted on a sample: the first two requests (an edge and a backend half).
        let mut spans = 0u64;
        let mut attributes = 0u64;
        let mut exceptions = 0u64;
        for index in 0..self.n_bodies().min(2) {
            for span in self
                .request(index)
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                spans += 1;
                attributes += span.attributes.len() as u64;
                exceptions += u64::from(span.events.iter().any(|e| e.name == "exception"));
            }
        }
        Shape {
            requests: bodies.len(),
            otlp_bytes: bodies.iter().map(|b| b.bytes.len() as u64).sum(),
            attributes_per_span: attributes as f64 / spans.max(1) as f64,
            exception_share: exceptions as f64 / spans.max(1) as f64,
            resources: (EDGES.len() + BACKENDS.len()) * INSTANCES as usize,
        }
    }

    /// Export request `index`, deterministic but for the ids' salt.
    fn request(&self, index: usize) -> ExportTraceServiceRequest {
        let index = index as u64;
        let first_span = index * self.batch;
        let n = self.batch.min(self.total_spans.saturating_sub(first_span));
        let group = index / 2;
        let backend = index % 2 == 1;
        let traces_per_body = self.batch.div_ceil(HALF_TRACE);
        let instance = (group / 5) % INSTANCES;
        let service = if backend {
            &BACKENDS[(group % BACKENDS.len() as u64) as usize]
        } else {
            &EDGES[(group % EDGES.len() as u64) as usize]
        };
        let downstream = &BACKENDS[(group % BACKENDS.len() as u64) as usize];

        // One bucket per instrumentation scope.
        let mut http = Vec::new();
        let mut db = Vec::new();
        let mut app = Vec::new();
        let mut emitted = 0;
        'traces: for k in 0..traces_per_body {
            let trace = group * traces_per_body + k;
            let slots = if backend { 4..8 } else { 0..4 };
            for slot in slots {
                if emitted == n {
                    break 'traces;
                }
                let (span, bucket) = self.span(trace, slot, downstream);
                match bucket {
                    Bucket::Http => http.push(span),
                    Bucket::Db => db.push(span),
                    Bucket::App => app.push(span),
                }
                emitted += 1;
            }
        }
        let scope = |name: String, version: &str, spans: Vec<Span>| ScopeSpans {
            scope: Some(InstrumentationScope {
                name,
                version: version.to_owned(),
                ..Default::default()
            }),
            spans,
            schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
        };
        let scope_spans = [
            scope(service.http_scope.to_owned(), "0.31.0", http),
            scope(service.db_scope.to_owned(), "0.29.1", db),
            scope(format!("shop.{}", service.name), service.version, app),
        ]
        .into_iter()
        .filter(|s| !s.spans.is_empty())
        .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource(service, instance)),
                scope_spans,
                schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
            }],
        }
    }

    fn trace_id(&self, trace: u64) -> Vec<u8> {
        // splitmix64 is a bijection, so distinct traces get distinct ids.
        let high = splitmix64(trace ^ self.salt);
        let low = splitmix64(high ^ 0x5851_f42d_4c95_7f2d);
        let mut id = high.to_be_bytes().to_vec();
        id.extend_from_slice(&low.to_be_bytes());
        id
    }

    fn span_id(&self, trace: u64, slot: u64) -> Vec<u8> {
        let id = splitmix64((trace * SPANS_PER_TRACE + slot) ^ self.salt.rotate_left(17));
        id.max(1).to_be_bytes().to_vec()
    }

    fn span(&self, trace: u64, slot: u64, downstream: &Service) -> (Span, Bucket) {
        let mut rng = Rng(splitmix64(trace.wrapping_mul(31).wrapping_add(slot)));
        let mut trace_rng = Rng(splitmix64(trace ^ 0x1234_5678));
        let request_id = format!("{:016x}{:016x}", trace_rng.next(), trace_rng.next());
        let edge_route = &EDGE_ROUTES[trace_rng.below(EDGE_ROUTES.len() as u64) as usize];
        let backend_route =
            &downstream.routes[trace_rng.below(downstream.routes.len() as u64) as usize];
        let customer = trace_rng.below(2_000_000) as i64;
        let order = 10_000_000 + trace_rng.below(90_000_000) as i64;
        let not_found = trace_rng.below(100) < 3;
        let edge_host = EDGES[(trace % EDGES.len() as u64) as usize].host;

        // Times: the trace starts every 40 µs and lasts 5–300 ms.
        let start = self.base_ns + trace * 40_000;
        let duration = 5_000_000 + trace_rng.below(295_000_000);
        let at = |from: f64, to: f64| {
            (
                start + (duration as f64 * from) as u64,
                start + (duration as f64 * to) as u64,
            )
        };
        let exception = rng.below(10) == 0;
        let status_for = |ok: i64| if exception { 500 } else { ok };
        let edge_status = if not_found { 404 } else { 200 };

        let parent = match slot {
            0 => None,
            1..=3 => Some(self.span_id(trace, 0)),
            4 => Some(self.span_id(trace, 2)),
            _ => Some(self.span_id(trace, 4)),
        };
        let ip = |rng: &mut Rng, prefix: &str| {
            format!("{prefix}.{}.{}", rng.below(256), 1 + rng.below(254))
        };
        let port = |rng: &mut Rng| 32_768 + rng.below(28_000) as i64;
        let code = |rng: &mut Rng, function: &str, file: &str| {
            [
                s("code.function.name", function),
                s("code.file.path", file),
                i("code.line.number", 20 + rng.below(400) as i64),
                s(
                    "thread.name",
                    format!("tokio-runtime-worker-{}", rng.below(8)),
                ),
            ]
        };

        let (name, kind, (begin, end), attributes, bucket) = match slot {
            0 => (
                format!("{} {}", edge_route.method, edge_route.route),
                span::SpanKind::Server,
                at(0.0, 1.0),
                vec![
                    s("http.request.method", edge_route.method),
                    s("http.route", edge_route.route),
                    i("http.response.status_code", status_for(edge_status)),
                    s(
                        "url.full",
                        format!(
                            "https://{edge_host}{}?customer={customer}",
                            edge_route.path.replace("{id}", &order.to_string())
                        ),
                    ),
                    s("url.scheme", "https"),
                    s("server.address", edge_host),
                    i("server.port", 443),
                    s("client.address", ip(&mut rng, "81.12")),
                    s(
                        "user_agent.original",
                        USER_AGENTS[rng.below(USER_AGENTS.len() as u64) as usize],
                    ),
                    i("network.peer.port", port(&mut rng)),
                    s("request_id", request_id.as_str()),
                    i("app.customer_id", customer),
                    b("app.feature.new_checkout", customer % 3 == 0),
                ],
                Bucket::Http,
            ),
            1 => {
                let mut attributes = code(&mut rng, "auth::authorize", "src/auth.rs").to_vec();
                attributes.extend([
                    s("request_id", request_id.as_str()),
                    s("enduser.id", format!("user-{customer}")),
                    s("app.auth.method", "jwt"),
                    b("app.cache_hit", rng.below(4) != 0),
                    s("app.tenant", TENANTS[(customer % 5) as usize]),
                    i("app.permissions", rng.below(40) as i64),
                    s("app.region", "eu-west-1"),
                ]);
                (
                    "authorize".to_owned(),
                    span::SpanKind::Internal,
                    at(0.01, 0.08),
                    attributes,
                    Bucket::App,
                )
            }
            2 => (
                backend_route.method.to_owned(),
                span::SpanKind::Client,
                at(0.1, 0.85),
                vec![
                    s("http.request.method", backend_route.method),
                    s(
                        "url.full",
                        format!(
                            "http://{}:8080{}",
                            downstream.host,
                            backend_route.path.replace("{id}", &order.to_string())
                        ),
                    ),
                    s("server.address", downstream.host),
                    i("server.port", 8080),
                    i("http.response.status_code", status_for(200)),
                    s("network.peer.address", ip(&mut rng, "10.2")),
                    i("network.peer.port", 8080),
                    s("network.protocol.version", "1.1"),
                    s("request_id", request_id.as_str()),
                    s("peer.service", downstream.name),
                    i("app.attempt", 1),
                    i("app.timeout_ms", 2_000),
                ],
                Bucket::Http,
            ),
            3 => {
                let mut attributes =
                    code(&mut rng, "render::serialize_response", "src/render.rs").to_vec();
                attributes.extend([
                    s("request_id", request_id.as_str()),
                    i("app.response.bytes", 200 + rng.below(40_000) as i64),
                    s("app.format", "json"),
                    i("app.items", rng.below(50) as i64),
                    b("app.compressed", rng.below(2) == 0),
                    s("app.tenant", TENANTS[(customer % 5) as usize]),
                    s("app.region", "eu-west-1"),
                ]);
                (
                    "serialize response".to_owned(),
                    span::SpanKind::Internal,
                    at(0.86, 0.98),
                    attributes,
                    Bucket::App,
                )
            }
            4 => (
                format!("{} {}", backend_route.method, backend_route.route),
                span::SpanKind::Server,
                at(0.11, 0.84),
                vec![
                    s("http.request.method", backend_route.method),
                    s("http.route", backend_route.route),
                    i("http.response.status_code", status_for(200)),
                    s(
                        "url.path",
                        backend_route.path.replace("{id}", &order.to_string()),
                    ),
                    s("url.scheme", "http"),
                    s("server.address", downstream.host),
                    i("server.port", 8080),
                    s("client.address", ip(&mut rng, "10.1")),
                    i("network.peer.port", port(&mut rng)),
                    s(
                        "user_agent.original",
                        "reqwest/0.12 opentelemetry-instrumentation",
                    ),
                    s("request_id", request_id.as_str()),
                    s("app.tenant", TENANTS[(customer % 5) as usize]),
                    s("network.protocol.version", "1.1"),
                ],
                Bucket::Http,
            ),
            5 => (
                format!("SELECT shop.{}", downstream.table),
                span::SpanKind::Client,
                at(0.15, 0.45),
                vec![
                    s("db.system.name", "postgresql"),
                    s("db.namespace", "shop"),
                    s("db.collection.name", downstream.table),
                    s("db.operation.name", "SELECT"),
                    s(
                        "db.query.text",
                        format!(
                            "SELECT id, status, total_cents, updated_at FROM {} WHERE customer_id = $1 AND id = $2",
                            downstream.table
                        ),
                    ),
                    s("server.address", "pg-primary.internal"),
                    i("server.port", 5432),
                    s("network.peer.address", ip(&mut rng, "10.3")),
                    i("network.peer.port", 5432),
                    i("db.response.returned_rows", rng.below(20) as i64),
                    s("request_id", request_id.as_str()),
                    s("db.client.connection.pool.name", "main"),
                ],
                Bucket::Db,
            ),
            6 => (
                "GET".to_owned(),
                span::SpanKind::Client,
                at(0.46, 0.5),
                vec![
                    s("db.system.name", "redis"),
                    s("db.namespace", "0"),
                    s("db.operation.name", "GET"),
                    s("db.query.text", format!("GET cart:{customer}")),
                    s("server.address", "redis.internal"),
                    i("server.port", 6379),
                    s("network.peer.address", ip(&mut rng, "10.4")),
                    i("network.peer.port", 6379),
                    s("request_id", request_id.as_str()),
                    b("app.cache_hit", rng.below(3) != 0),
                    i("app.value.bytes", rng.below(4_000) as i64),
                ],
                Bucket::Db,
            ),
            _ => {
                let mut attributes =
                    code(&mut rng, "orders::validate", "src/orders/validate.rs").to_vec();
                attributes.extend([
                    s("request_id", request_id.as_str()),
                    i("app.items", 1 + rng.below(12) as i64),
                    i("app.total_cents", rng.below(500_000) as i64),
                    s("app.currency", "EUR"),
                    i("app.customer_id", customer),
                    s("app.tenant", TENANTS[(customer % 5) as usize]),
                    b("app.fraud_check", rng.below(10) == 0),
                ]);
                (
                    "validate order".to_owned(),
                    span::SpanKind::Internal,
                    at(0.52, 0.8),
                    attributes,
                    Bucket::App,
                )
            }
        };
        let (events, status) = if exception {
            let (kind, message) = EXCEPTIONS[rng.below(EXCEPTIONS.len() as u64) as usize];
            let event = span::Event {
                time_unix_nano: begin + (end - begin) / 2,
                name: "exception".to_owned(),
                attributes: vec![
                    s("exception.type", kind),
                    s("exception.message", message),
                    s(
                        "exception.stacktrace",
                        format!(
                            "{kind}: {message}\n    at shop::handlers::{name}::call (src/handlers.rs:{})\n    at tower::service::Service::call (tower/src/service.rs:88)\n    at hyper::proto::h1::dispatch (hyper/src/proto/h1/dispatch.rs:491)",
                            40 + rng.below(300),
                            name = name
                                .split_whitespace()
                                .next()
                                .unwrap_or("span")
                                .to_lowercase(),
                        ),
                    ),
                ],
                dropped_attributes_count: 0,
            };
            (
                vec![event],
                Some(Status {
                    message: message.to_owned(),
                    code: 2,
                }),
            )
        } else {
            (Vec::new(), None)
        };
        let span = Span {
            trace_id: self.trace_id(trace),
            span_id: self.span_id(trace, slot),
            parent_span_id: parent.unwrap_or_default(),
            flags: 0x301,
            name,
            kind: kind as i32,
            start_time_unix_nano: begin,
            end_time_unix_nano: end.max(begin + 1_000),
            attributes,
            events,
            status,
            ..Default::default()
        };
        (span, bucket)
    }
}

enum Bucket {
    Http,
    Db,
    App,
}

struct Service {
    name: &'static str,
    version: &'static str,
    language: &'static str,
    sdk_version: &'static str,
    host: &'static str,
    http_scope: &'static str,
    db_scope: &'static str,
    table: &'static str,
    routes: &'static [Route],
}

struct Route {
    method: &'static str,
    route: &'static str,
    path: &'static str,
}

const INSTANCES: u64 = 3;

const EDGES: [Service; 3] = [
    Service {
        name: "frontend",
        version: "2.14.1",
        language: "nodejs",
        sdk_version: "1.30.1",
        host: "shop.example.com",
        http_scope: "@opentelemetry/instrumentation-http",
        db_scope: "@opentelemetry/instrumentation-pg",
        table: "sessions",
        routes: EDGE_ROUTES,
    },
    Service {
        name: "api-gateway",
        version: "1.9.0",
        language: "go",
        sdk_version: "1.35.0",
        host: "api.example.com",
        http_scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        db_scope: "github.com/XSAM/otelsql",
        table: "api_keys",
        routes: EDGE_ROUTES,
    },
    Service {
        name: "mobile-bff",
        version: "0.41.3",
        language: "java",
        sdk_version: "1.49.0",
        host: "m.example.com",
        http_scope: "io.opentelemetry.spring-webmvc-6.0",
        db_scope: "io.opentelemetry.jdbc",
        table: "devices",
        routes: EDGE_ROUTES,
    },
];

const EDGE_ROUTES: &[Route] = &[
    Route {
        method: "GET",
        route: "/api/orders/{id}",
        path: "/api/orders/{id}",
    },
    Route {
        method: "POST",
        route: "/api/checkout",
        path: "/api/checkout",
    },
    Route {
        method: "GET",
        route: "/api/cart",
        path: "/api/cart",
    },
    Route {
        method: "GET",
        route: "/api/products/{id}",
        path: "/api/products/{id}",
    },
    Route {
        method: "PUT",
        route: "/api/orders/{id}/address",
        path: "/api/orders/{id}/address",
    },
];

const BACKENDS: [Service; 4] = [
    Service {
        name: "orders",
        version: "4.2.0",
        language: "rust",
        sdk_version: "0.30.0",
        host: "orders.shop.svc.cluster.local",
        http_scope: "opentelemetry-http",
        db_scope: "sqlx",
        table: "orders",
        routes: &[
            Route {
                method: "GET",
                route: "/internal/orders/{id}",
                path: "/internal/orders/{id}",
            },
            Route {
                method: "POST",
                route: "/internal/orders",
                path: "/internal/orders",
            },
        ],
    },
    Service {
        name: "inventory",
        version: "3.0.7",
        language: "go",
        sdk_version: "1.35.0",
        host: "inventory.shop.svc.cluster.local",
        http_scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        db_scope: "github.com/XSAM/otelsql",
        table: "stock_levels",
        routes: &[Route {
            method: "GET",
            route: "/internal/stock/{id}",
            path: "/internal/stock/{id}",
        }],
    },
    Service {
        name: "accounts",
        version: "7.1.2",
        language: "python",
        sdk_version: "1.31.1",
        host: "accounts.shop.svc.cluster.local",
        http_scope: "opentelemetry.instrumentation.flask",
        db_scope: "opentelemetry.instrumentation.psycopg",
        table: "customers",
        routes: &[Route {
            method: "GET",
            route: "/internal/customers/{id}",
            path: "/internal/customers/{id}",
        }],
    },
    Service {
        name: "payments",
        version: "1.18.4",
        language: "java",
        sdk_version: "1.49.0",
        host: "payments.shop.svc.cluster.local",
        http_scope: "io.opentelemetry.spring-webmvc-6.0",
        db_scope: "io.opentelemetry.jdbc",
        table: "payments",
        routes: &[Route {
            method: "POST",
            route: "/internal/payments/{id}/capture",
            path: "/internal/payments/{id}/capture",
        }],
    },
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "ShopApp/5.3.0 (Android 14; Pixel 8)",
    "curl/8.5.0",
];

const TENANTS: [&str; 5] = ["acme", "globex", "initech", "umbrella", "hooli"];

const EXCEPTIONS: &[(&str, &str)] = &[
    ("TimeoutError", "upstream request timed out after 2000 ms"),
    (
        "sqlx::Error::PoolTimedOut",
        "pool timed out while waiting for an open connection",
    ),
    (
        "java.lang.IllegalStateException",
        "order is already captured",
    ),
    ("ConnectionResetError", "connection reset by peer"),
];

fn resource(service: &Service, instance: u64) -> Resource {
    let pod = format!(
        "{}-{:x}-{}",
        service.name,
        splitmix64(instance) & 0xff_ffff,
        ["x7k2q", "m9d4t", "p3w8z"][instance as usize % 3]
    );
    Resource {
        attributes: vec![
            s("service.name", service.name),
            s("service.namespace", "shop"),
            s("service.version", service.version),
            s(
                "service.instance.id",
                format!("{:016x}", splitmix64(instance ^ 0xabcdef)),
            ),
            s("deployment.environment.name", "production"),
            s("host.name", pod),
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.language", service.language),
            s("telemetry.sdk.version", service.sdk_version),
        ],
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// Report

struct Report {
    cpus: usize,
    loadavg_before: Option<String>,
    loadavg_after: Option<String>,
    args: BenchArgs,
    backend: Option<&'static str>,
    location: Option<String>,
    external: bool,
    shape: Shape,
    runs: Vec<RunReport>,
    ceiling: Option<CeilingReport>,
}

struct Target {
    what: String,
    limit: String,
    measured: String,
    met: bool,
}

impl Report {
    fn otlp_bytes_per_span(&self) -> f64 {
        self.shape.otlp_bytes as f64 / self.args.spans as f64
    }

    fn fraction(&self, run: &RunReport) -> Option<f64> {
        self.ceiling
            .as_ref()
            .map(|c| run.spans_per_s() / c.spans_per_s())
    }

    fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        if self.external {
            return targets;
        }
        let (floor, ratio) = match self.backend {
            Some("sqlite") => (100_000.0, Some(0.6)),
            Some("postgres") => (60_000.0, None),
            _ => return targets,
        };
        for run in &self.runs {
            let label = run.transport.map_or("", Transport::label);
            targets.push(Target {
                what: format!("{label}: spans/s acknowledged"),
                limit: format!(">= {}", grouped(floor)),
                measured: grouped(run.spans_per_s()),
                met: run.spans_per_s() >= floor,
            });
            if let (Some(ratio), Some(fraction)) = (ratio, self.fraction(run)) {
                targets.push(Target {
                    what: format!("{label}: fraction of the ceiling"),
                    limit: format!(">= {ratio:.2}"),
                    measured: format!("{fraction:.3}"),
                    met: fraction >= ratio,
                });
            }
            if let Some(disk) = &run.disk {
                let per_span = disk.bytes as f64 / run.spans_acked.max(1) as f64;
                targets.push(Target {
                    what: format!("{label}: bytes on disk per span"),
                    limit: "<= 200".to_owned(),
                    measured: format!("{per_span:.0}"),
                    met: per_span <= 200.0,
                });
            }
            if let Some(rss) = run.server_peak_rss {
                let mb = rss as f64 / 1e6;
                targets.push(Target {
                    what: format!("{label}: server peak RSS (MB)"),
                    limit: "<= 300".to_owned(),
                    measured: format!("{mb:.0}"),
                    met: mb <= 300.0,
                });
            }
        }
        targets
    }

    fn to_json(&self) -> Json {
        let runs: Vec<Json> = self
            .runs
            .iter()
            .map(|run| {
                let spans = run.spans_acked.max(1) as f64;
                json!({
                    "transport": run.transport.map(Transport::name),
                    "requests": run.requests,
                    "spans_acknowledged": run.spans_acked,
                    "spans_rejected": run.spans_rejected,
                    "retries": run.retries,
                    "wall_seconds": run.wall.as_secs_f64(),
                    "spans_per_second": run.spans_per_s(),
                    "fraction_of_ceiling": self.fraction(run),
                    "latency_ms": latency_json(&run.latencies),
                    "server": {
                        "cpu_seconds": run.server_cpu_s,
                        "cpu_seconds_per_100k_spans": run.server_cpu_s.map(|c| c / spans * 1e5),
                        "peak_rss_bytes": run.server_peak_rss,
                    },
                    "client_cpu_seconds": run.client_cpu_s,
                    "machine_cpu_seconds": run.machine_cpu_s.map(|(busy, all)| json!({"busy": busy, "available": all})),
                    "writer": run.writer.map(|w| json!({
                        "commits": w.commits,
                        "spans_per_commit": w.items / w.commits.max(1.0),
                        "commit_seconds": w.commit_seconds,
                        "busy_share": w.commit_seconds / run.wall.as_secs_f64().max(1e-9),
                    })),
                    "postgres_wal_bytes_per_span": run.wal_bytes.map(|w| w as f64 / spans),
                    "disk": run.disk.as_ref().map(|d| disk_json(d, spans)),
                })
            })
            .collect();
        let ceiling = self.ceiling.as_ref().map(|c| {
            let spans = c.spans.max(1) as f64;
            json!({
                "spans": c.spans,
                "spans_per_transaction": c.batch,
                "transactions": c.transactions,
                "write_seconds": c.write_time.as_secs_f64(),
                "spans_per_second": c.spans_per_s(),
                "cpu_seconds": c.cpu_s,
                "cpu_seconds_per_100k_spans": c.cpu_s.map(|s| s / spans * 1e5),
                "machine_cpu_seconds": c.machine_cpu_s.map(|(busy, all)| json!({"busy": busy, "available": all})),
                "postgres_wal_bytes_per_span": c.wal_bytes.map(|w| w as f64 / spans),
                "disk": c.disk.as_ref().map(|d| disk_json(d, spans)),
            })
        });
        let targets: Vec<Json> = self
            .targets()
            .into_iter()
            .map(|t| json!({"target": t.what, "limit": t.limit, "measured": t.measured, "met": t.met}))
            .collect();
        json!({
            "machine": {
                "cpus": self.cpus,
                "loadavg_before": self.loadavg_before,
                "loadavg_after": self.loadavg_after,
            },
            "settings": {
                "spans": self.args.spans,
                "clients": self.args.clients,
                "spans_per_request": self.args.batch,
                "database": self.backend,
                "database_location": self.location,
                "server": if self.external { "external (--target)" } else { "child process loupe serve" },
            },
            "workload": {
                "requests": self.shape.requests,
                "traces": self.args.spans.div_ceil(SPANS_PER_TRACE),
                "spans_per_trace": SPANS_PER_TRACE,
                "resources": self.shape.resources,
                "attributes_per_span": self.shape.attributes_per_span,
                "exception_event_share": self.shape.exception_share,
                "otlp_protobuf_bytes_per_span": self.otlp_bytes_per_span(),
            },
            "runs": runs,
            "ceiling": ceiling,
            "targets": targets,
        })
    }

    fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let o = &mut out;
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "loupe bench: {} spans per run, {} clients, {} spans per request",
            grouped(self.args.spans as f64),
            self.args.clients,
            self.args.batch
        );
        if let Some(location) = &self.location {
            let _ = writeln!(o, "database: {location}");
        }
        let _ = writeln!(
            o,
            "machine: {} CPUs, load average {} before, {} after",
            self.cpus,
            self.loadavg_before.as_deref().unwrap_or("?"),
            self.loadavg_after.as_deref().unwrap_or("?")
        );
        let _ = writeln!(
            o,
            "server: {}",
            if self.external {
                "already running (--target): its CPU, memory and disk use are not measured"
            } else {
                "`loupe serve` as a child process; its CPU and RSS exclude the load generator's"
            }
        );
        let _ = writeln!(
            o,
            "workload: {} requests, traces of {SPANS_PER_TRACE} spans across {} services ({} resources), {:.1} attributes per span, {:.0}% of spans with an exception event; OTLP protobuf {:.0} bytes per span",
            self.shape.requests,
            EDGES.len() + BACKENDS.len(),
            self.shape.resources,
            self.shape.attributes_per_span,
            self.shape.exception_share * 100.0,
            self.otlp_bytes_per_span()
        );
        for run in &self.runs {
            let spans = run.spans_acked.max(1) as f64;
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "{}: {} spans acknowledged in {:.2} s = {} spans/s ({} rejected, {} retries)",
                run.transport.map_or("", Transport::label),
                grouped(run.spans_acked as f64),
                run.wall.as_secs_f64(),
                grouped(run.spans_per_s()),
                run.spans_rejected,
                run.retries
            );
            if let Some(fraction) = self.fraction(run) {
                let _ = writeln!(o, "  {fraction:.2} of the ceiling");
            }
            if !run.latencies.is_empty() {
                let p = |q| percentile(&run.latencies, q).as_secs_f64() * 1e3;
                let _ = writeln!(
                    o,
                    "  export latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    p(0.5),
                    p(0.9),
                    p(0.99),
                    p(1.0)
                );
            }
            if let (Some(cpu), Some(rss)) = (run.server_cpu_s, run.server_peak_rss) {
                let _ = writeln!(
                    o,
                    "  server: {cpu:.2} CPU s ({:.2} cores busy) = {:.2} CPU s per 100k spans; peak RSS {:.1} MB",
                    cpu / run.wall.as_secs_f64().max(1e-9),
                    cpu / spans * 1e5,
                    rss as f64 / 1e6
                );
            }
            let _ = writeln!(
                o,
                "  load generator: {} CPU s; whole machine: {}",
                run.client_cpu_s
                    .map_or("?".to_owned(), |c| format!("{c:.2}")),
                run.machine_cpu_s
                    .map_or("?".to_owned(), |(busy, all)| format!(
                        "{busy:.2} of {all:.2} CPU s busy ({:.0}%)",
                        busy / all.max(1e-9) * 100.0
                    ))
            );
            if let Some(w) = run.writer {
                let _ = writeln!(
                    o,
                    "  writer: {:.0} commits of {:.0} spans on average, {:.2} s inside write_batch ({:.0}% of the run)",
                    w.commits,
                    w.items / w.commits.max(1.0),
                    w.commit_seconds,
                    w.commit_seconds / run.wall.as_secs_f64().max(1e-9) * 100.0
                );
            }
            if let Some(wal) = run.wal_bytes {
                let _ = writeln!(
                    o,
                    "  PostgreSQL WAL written (whole cluster): {:.0} bytes per span",
                    wal as f64 / spans
                );
            }
            if let Some(disk) = &run.disk {
                render_disk(o, disk, spans, self.otlp_bytes_per_span());
            }
        }
        if let Some(c) = &self.ceiling {
            let spans = c.spans.max(1) as f64;
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "ceiling (Store::prepare per request, Store::write_batch per {} spans, one writer, no network or decoding): {} spans in {:.2} s = {} spans/s",
                c.batch,
                grouped(c.spans as f64),
                c.write_time.as_secs_f64(),
                grouped(c.spans_per_s())
            );
            if let Some(cpu) = c.cpu_s {
                let _ = writeln!(
                    o,
                    "  this process inside prepare and write_batch: {cpu:.2} CPU s = {:.2} CPU s per 100k spans; whole machine: {}",
                    cpu / spans * 1e5,
                    c.machine_cpu_s
                        .map_or("?".to_owned(), |(busy, all)| format!(
                            "{busy:.2} of {all:.2} CPU s busy"
                        ))
                );
            }
            if let Some(wal) = c.wal_bytes {
                let _ = writeln!(
                    o,
                    "  PostgreSQL WAL written (whole cluster): {:.0} bytes per span",
                    wal as f64 / spans
                );
            }
            if let Some(disk) = &c.disk {
                render_disk(o, disk, spans, self.otlp_bytes_per_span());
            }
        }
        let targets = self.targets();
        if !targets.is_empty() {
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "targets ({} CPUs, load generator on the same machine):",
                self.cpus
            );
            for t in targets {
                let _ = writeln!(
                    o,
                    "  [{}] {}: {} (target {})",
                    if t.met { "met" } else { "MISSED" },
                    t.what,
                    t.measured,
                    t.limit
                );
            }
        }
        out
    }
}

fn render_disk(o: &mut String, disk: &Disk, spans: f64, otlp_per_span: f64) {
    use std::fmt::Write as _;
    let _ = writeln!(
        o,
        "  disk: {:.1} MB = {:.0} bytes per span (OTLP protobuf of the same spans: {otlp_per_span:.0} bytes per span)",
        disk.bytes as f64 / 1e6,
        disk.bytes as f64 / spans
    );
    let parts: Vec<String> = disk
        .objects
        .iter()
        .take(8)
        .map(|(name, bytes)| format!("{name} {:.0}", *bytes as f64 / spans))
        .collect();
    if !parts.is_empty() {
        let _ = writeln!(o, "    bytes per span by table/index: {}", parts.join(", "));
    }
}

fn disk_json(disk: &Disk, spans: f64) -> Json {
    let objects: serde_json::Map<String, Json> = disk
        .objects
        .iter()
        .map(|(name, bytes)| (name.clone(), json!(bytes)))
        .collect();
    json!({
        "bytes": disk.bytes,
        "bytes_per_span": disk.bytes as f64 / spans,
        "objects": objects,
    })
}

fn latency_json(sorted: &[Duration]) -> Json {
    if sorted.is_empty() {
        return Json::Null;
    }
    let p = |q| percentile(sorted, q).as_secs_f64() * 1e3;
    json!({"p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "max": p(1.0)})
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// 123456.7 → "123 457".
fn grouped(n: f64) -> String {
    let digits = (n.round().abs() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if n < -0.5 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_spans_are_valid_unique_and_sized() {
        let workload = Workload::new(3 * 512 + 100, 512);
        assert_eq!(workload.n_bodies(), 4);
        let rules = collector::Rules::default();
        let mut span_ids = std::collections::HashSet::new();
        let mut total = 0;
        for index in 0..workload.n_bodies() {
            let normalized = collector::normalize::traces(workload.request(index), &rules);
            assert_eq!(normalized.rejected, 0, "{:?}", normalized.first_rejection);
            for span in &normalized.batch.spans {
                assert!(span_ids.insert(span.span_id));
                assert!(span.derived.request_id.is_some());
            }
            total += normalized.batch.spans.len();
        }
        assert_eq!(total, 3 * 512 + 100);
        // Backend server spans point at the edge's client span, sent in another request.
        let edge = workload.request(0);
        let backend = workload.request(1);
        let client = &edge.resource_spans[0]
            .scope_spans
            .iter()
            .flat_map(|s| &s.spans)
            .find(|s| s.kind == span::SpanKind::Client as i32)
            .unwrap();
        assert!(
            backend.resource_spans[0]
                .scope_spans
                .iter()
                .flat_map(|s| &s.spans)
                .any(|s| s.parent_span_id == client.span_id)
        );
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0.0), "0");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(123_456.7), "123 457");
        assert_eq!(grouped(1_000_000.0), "1 000 000");
    }

    #[test]
    fn targets_are_loopback_only() {
        assert!(Targets::parse("http://127.0.0.1:4318", None).is_ok());
        assert!(Targets::parse("http://localhost:4318/", None).is_ok());
        assert!(Targets::parse("http://[::1]:4318", None).is_ok());
        assert!(Targets::parse("http://10.0.0.1:4318", None).is_err());
        assert!(Targets::parse("http://example.com:4318", None).is_err());
        let t = Targets::parse("http://127.0.0.1:4318", None).unwrap();
        assert_eq!(t.http, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(t.grpc, "http://127.0.0.1:4317");
    }
}
