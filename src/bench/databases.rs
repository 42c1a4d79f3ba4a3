//! The databases the bench writes to: a fresh one per run, and what each
//! occupies on disk afterwards.
//!
//! With no `--database-url`, fresh SQLite files in a new temporary
//! directory, removed afterwards. With `sqlite://PATH`, fresh files next to
//! PATH (`STEM-http.db`, `STEM-grpc.db`, `STEM-ceiling.db`; refused if they
//! exist). With `postgres://USER@HOST/DB`, an admin connection: each run gets
//! its own `CREATE DATABASE loupe_bench_<pid>_<run>`, dropped afterwards.
//! `--keep` keeps them all.
//!
//! Every SQL statement the bench runs is in the last part of this file,
//! behind functions that take and return plain values, so that they can move
//! behind `store` without the rest of the bench noticing.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use anyhow::{Context as _, bail};
use store::Store;

pub(super) enum Databases {
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
pub(super) struct Fresh {
    pub(super) url: String,
    /// The SQLite file, or the PostgreSQL database name.
    name: String,
    path: Option<PathBuf>,
    /// What the empty schema occupies, taken off what the run leaves.
    pub(super) empty: Disk,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Disk {
    pub(super) bytes: u64,
    /// Table and index name → bytes, largest first.
    pub(super) objects: Vec<(String, u64)>,
}

impl Disk {
    /// What `self` holds beyond `before`, per object too.
    pub(super) fn minus(&self, before: &Disk) -> Disk {
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
    pub(super) fn new(url: Option<&str>) -> anyhow::Result<Databases> {
        let unique = format!(
            "{}_{}",
            std::process::id(),
            web::reports::now_ns() % 1_000_000
        );
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

    pub(super) fn backend(&self) -> &'static str {
        match self {
            Databases::Sqlite { .. } => "sqlite",
            Databases::Postgres { .. } => "postgres",
        }
    }

    pub(super) fn describe(&self) -> String {
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

    pub(super) async fn fresh(&self, run: &str) -> anyhow::Result<Fresh> {
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
                create_postgres_database(admin_url, &name).await?;
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

    pub(super) async fn disk(&self, db: &Fresh) -> anyhow::Result<Disk> {
        match (self, &db.path) {
            (Databases::Sqlite { .. }, Some(path)) => sqlite_disk(&db.url, path).await,
            _ => postgres_disk(&db.url).await,
        }
    }

    pub(super) async fn dispose(&self, db: &Fresh, keep: bool) {
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
                if let Err(err) = drop_postgres_database(admin_url, &db.name).await {
                    eprintln!("loupe bench: could not drop database {}: {err:#}", db.name);
                }
            }
        }
    }

    pub(super) fn finish(&self, keep: bool) {
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
    pub(super) async fn wal_lsn(&self) -> Option<u64> {
        let Databases::Postgres { admin_url, .. } = self else {
            return None;
        };
        postgres_wal_position(admin_url).await
    }
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
// The bench's SQL, all of it

/// `CREATE DATABASE name` through the admin connection at `admin_url`.
async fn create_postgres_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = pg_connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&admin)
        .await
        .with_context(|| format!("cannot create database {name}"))?;
    admin.close().await;
    Ok(())
}

/// `DROP DATABASE name`, even while connections to it remain.
async fn drop_postgres_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = pg_connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&admin)
    .await?;
    admin.close().await;
    Ok(())
}

/// The cluster's WAL position in bytes: what every database of it wrote
/// since. None when it cannot be read.
async fn postgres_wal_position(admin_url: &str) -> Option<u64> {
    let admin = pg_connect(admin_url).await.ok()?;
    let lsn: Option<i64> =
        sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
            .fetch_one(&admin)
            .await
            .ok();
    admin.close().await;
    lsn.map(|l| l.max(0) as u64)
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

/// The database's size, with what each table and index of its `public`
/// schema occupies.
async fn postgres_disk(url: &str) -> anyhow::Result<Disk> {
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

async fn pg_connect(url: &str) -> anyhow::Result<sqlx::PgPool> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to {}", redact(url)))
}
