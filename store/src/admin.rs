//! Measuring and provisioning, for `loupe bench` and the cost report: what
//! each table and index occupies, fresh PostgreSQL databases, and the
//! PostgreSQL server's WAL position. Nothing here reads or writes
//! telemetry.

use std::str::FromStr;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::error::Result;

/// What a database occupies on disk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskUsage {
    /// The database as a whole: SQLite's file and WAL, or PostgreSQL's
    /// `pg_database_size`.
    pub bytes: u64,
    /// Every table and index, largest first.
    pub objects: Vec<StoredObject>,
}

/// A table or an index and what it occupies (a PostgreSQL table with its
/// TOAST, an index alone).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub name: String,
    /// The table it belongs to: itself, for a table.
    pub table: String,
    pub bytes: u64,
}

/// Rows of (name, table, bytes) as objects, largest first.
pub(crate) fn objects_of(rows: Vec<(String, String, i64)>) -> Vec<StoredObject> {
    let mut objects: Vec<StoredObject> = rows
        .into_iter()
        .map(|(name, table, bytes)| StoredObject {
            name,
            table,
            bytes: bytes.max(0) as u64,
        })
        .collect();
    objects.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    objects
}

/// Creates the PostgreSQL database `name` through the server `admin_url`
/// names (any database of it the user may connect to); returns its URL.
pub async fn create_database(admin_url: &str, name: &str) -> Result<String> {
    let sql = format!("CREATE DATABASE {}", quoted(name));
    on_server(admin_url, &sql).await?;
    Ok(database_url(admin_url, name))
}

/// `postgres://user@host:port/db?options` with its database replaced by
/// `name`.
pub fn database_url(url: &str, name: &str) -> String {
    let (base, options) = match url.split_once('?') {
        Some((base, options)) => (base, format!("?{options}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    format!("{server}/{name}{options}")
}

/// Drops the PostgreSQL database `name`, ending its sessions; nothing
/// when it does not exist.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quoted(name));
    on_server(admin_url, &sql).await
}

/// The PostgreSQL server's WAL position, in bytes since its start: what
/// it wrote to its WAL between two readings, every database included.
pub async fn wal_position(admin_url: &str) -> Result<u64> {
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(admin_url)?).await?;
    let lsn: i64 =
        sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
            .fetch_one(&mut conn)
            .await?;
    conn.close().await?;
    Ok(lsn.max(0) as u64)
}

/// Runs one statement on its own connection (`CREATE DATABASE` cannot run
/// in a transaction).
async fn on_server(admin_url: &str, sql: &str) -> Result<()> {
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(admin_url)?).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// `name` as a quoted SQL identifier: any text names itself and nothing else.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_whole() {
        for (name, sql) in [
            ("loupe_bench_1", "\"loupe_bench_1\""),
            ("a\"; DROP DATABASE b; --", "\"a\"\"; DROP DATABASE b; --\""),
        ] {
            assert_eq!(quoted(name), sql);
        }
    }

    #[test]
    fn database_urls_name_another_database() {
        for (url, expected) in [
            ("postgres://u@h:5432/postgres", "postgres://u@h:5432/x"),
            (
                "postgres://u@h/postgres?sslmode=disable",
                "postgres://u@h/x?sslmode=disable",
            ),
            ("postgres://u:p@h", "postgres://u:p@h/x"),
            ("postgresql://h:1/a/b", "postgresql://h:1/x"),
        ] {
            assert_eq!(database_url(url, "x"), expected, "{url}");
        }
    }

    #[test]
    fn objects_come_largest_first() {
        let objects = objects_of(vec![
            ("t_idx".into(), "t".into(), 10),
            ("t".into(), "t".into(), 30),
            ("u".into(), "u".into(), -1),
        ]);
        let got: Vec<(&str, u64)> = objects.iter().map(|o| (o.name.as_str(), o.bytes)).collect();
        assert_eq!(got, [("t", 30), ("t_idx", 10), ("u", 0)]);
    }
}
