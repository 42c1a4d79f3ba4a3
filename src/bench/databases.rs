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
//! The bench runs no SQL of its own: databases are made, measured and
//! dropped through `store` (`store::admin`, `Store::disk_usage`).

use std::path::{Path, PathBuf};

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
        let (url, name) = match self {
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
                )
            }
            Databases::Postgres { admin_url, prefix } => {
                let name = format!("{prefix}_{run}");
                let url = store::admin::create_database(admin_url, &name)
                    .await
                    .with_context(|| format!("cannot create database {name}"))?;
                (url, name)
            }
        };
        let fresh = Fresh {
            url,
            name,
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

    /// What the database occupies once nothing writes to it (SQLite's WAL
    /// copied into the file first), per table and index too.
    pub(super) async fn disk(&self, db: &Fresh) -> anyhow::Result<Disk> {
        let store = Store::open(&db.url)
            .await
            .with_context(|| format!("cannot open {}", redact(&db.url)))?;
        let usage = store.disk_usage().await;
        store.close().await;
        let usage = usage.with_context(|| format!("cannot measure {}", redact(&db.url)))?;
        Ok(Disk {
            bytes: usage.bytes,
            objects: usage
                .objects
                .into_iter()
                .map(|o| (o.name, o.bytes))
                .collect(),
        })
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
                if let Err(err) = store::admin::drop_database(admin_url, &db.name).await {
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
        store::admin::wal_position(admin_url).await.ok()
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
