//! A fresh database per test, for either backend, plus a raw connection to
//! the same database for the checks the store's API does not answer.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::io::Write as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use store::Store;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What a case gets: the store under test, the URL it was opened on (to open
/// more stores on the same database), and a raw pool on that database.
#[derive(Clone)]
pub struct Ctx {
    pub backend: Backend,
    pub store: Store,
    pub url: String,
    raw: Raw,
}

#[derive(Clone)]
enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever raw pool the context has.
macro_rules! with_raw {
    ($ctx:expr, |$pool:ident| $body:expr) => {
        match &$ctx.raw {
            Raw::Sqlite($pool) => $body,
            Raw::Postgres($pool) => $body,
        }
    };
}

/// A row of the `traces` summary table.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TraceRow {
    pub start_ns: i64,
    pub end_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    pub root_service: Option<String>,
    pub root_name: Option<String>,
}

/// What "nothing changed" checks count: every table a write adds rows to,
/// "spans" standing for the spans `span_packs` holds.
pub const TABLES: [&str; 9] = [
    "resources",
    "scopes",
    "spans",
    "traces",
    "request_traces",
    "logs",
    "metrics",
    "metric_points",
    "counters",
];

/// Prepares and writes one batch, as the collector's pipeline does.
pub async fn write_to(store: &Store, batch: store::Batch) -> store::Result<()> {
    let writer = store.writer();
    let prepared = writer.prepare(batch)?;
    writer.write_batch(&prepared).await
}

impl Ctx {
    /// Another `Store` on the same database, as a second loupe process would open it.
    pub async fn open_another(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("second Store::open({}) failed: {e}", self.url))
    }

    /// The rows of `table`; for "spans" and "logs", the items their packs hold.
    pub async fn count(&self, table: &str) -> i64 {
        assert!(TABLES.contains(&table), "unknown table {table}");
        let sql = match table {
            "spans" => "SELECT CAST(COALESCE(SUM(spans), 0) AS BIGINT) FROM span_packs".to_owned(),
            "logs" => "SELECT CAST(COALESCE(SUM(records), 0) AS BIGINT) FROM log_packs".to_owned(),
            table => format!("SELECT COUNT(*) FROM {table}"),
        };
        with_raw!(self, |pool| sqlx::query_scalar::<_, i64>(
            sqlx::AssertSqlSafe(sql.clone())
        )
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}")))
    }

    /// Row counts of every table, in `TABLES` order.
    pub async fn counts(&self) -> Vec<(&'static str, i64)> {
        let mut counts = Vec::new();
        for table in TABLES {
            counts.push((table, self.count(table).await));
        }
        counts
    }

    /// One number from an arbitrary query with up to one text parameter.
    pub async fn scalar(&self, sql: &'static str, param: Option<&str>) -> i64 {
        with_raw!(self, |pool| {
            let mut q = sqlx::query_scalar::<_, i64>(sql);
            if let Some(param) = param {
                q = q.bind(param.to_owned());
            }
            q.fetch_one(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
    }

    /// Makes the database refuse to insert a trace summary row whose root
    /// span has this name: a failure at the last insert of a batch.
    pub async fn refuse_traces_rooted_at(&self, root_name: &str) {
        assert!(root_name.chars().all(|c| c.is_ascii_alphanumeric()));
        let statements = match self.backend {
            Backend::Sqlite => vec![format!(
                "CREATE TRIGGER conformance_refuse BEFORE INSERT ON traces \
                 WHEN new.root_name = '{root_name}' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the conformance trigger'); END"
            )],
            Backend::Postgres => vec![
                format!(
                    "CREATE FUNCTION conformance_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN IF NEW.root_name = '{root_name}' THEN \
                     RAISE EXCEPTION 'refused by the conformance trigger'; END IF; \
                     RETURN NEW; END $$"
                ),
                "CREATE TRIGGER conformance_refuse BEFORE INSERT ON traces \
                 FOR EACH ROW EXECUTE FUNCTION conformance_refuse()"
                    .to_owned(),
            ],
        };
        for sql in statements {
            self.execute(&sql).await;
        }
    }

    /// Runs `sql` (one statement or several) on the raw pool: the database
    /// as an older loupe, or a hand, would have left it.
    pub async fn execute(&self, sql: &str) {
        with_raw!(self, |pool| sqlx::raw_sql(sqlx::AssertSqlSafe(
            sql.to_owned()
        ))
        .execute(pool)
        .await
        .map(|_| ())
        .unwrap_or_else(|e| panic!("{sql}: {e}")));
    }

    pub async fn trace_row(&self, trace_id: &[u8; 16]) -> Option<TraceRow> {
        const SQL: &str = "SELECT start_ns, end_ns, span_count, error_count, root_service, \
                           root_name FROM traces WHERE trace_id = $1";
        with_raw!(self, |pool| sqlx::query_as::<_, TraceRow>(SQL)
            .bind(trace_id.to_vec())
            .fetch_optional(pool)
            .await
            .expect("reading traces"))
    }

    /// The services of a trace as its summary row lists them (in byte
    /// order, each between two U+001F); none for an unknown trace.
    pub async fn trace_services(&self, trace_id: &[u8; 16]) -> Vec<String> {
        const SQL: &str = "SELECT services FROM traces WHERE trace_id = $1";
        let list: Option<String> = with_raw!(self, |pool| sqlx::query_scalar(SQL)
            .bind(trace_id.to_vec())
            .fetch_optional(pool)
            .await
            .expect("reading traces.services"));
        let Some(list) = list.filter(|l| !l.is_empty()) else {
            return Vec::new();
        };
        assert!(
            list.starts_with('\u{1f}') && list.ends_with('\u{1f}'),
            "services list {list:?}"
        );
        let services: Vec<String> = list
            .trim_matches('\u{1f}')
            .split('\u{1f}')
            .map(str::to_owned)
            .collect();
        let mut sorted = services.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(services, sorted, "services list {list:?}");
        services
    }
}

/// Creates a fresh database for `backend`, runs `case` on it, drops the
/// database, and then fails the test if the case failed.
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    // A task, so that a failing case comes back as an error and the
    // database is dropped before the failure is passed on.
    let outcome = tokio::spawn(case(db.ctx.clone())).await;
    db.destroy().await;
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("test task did not finish: {err}"),
        }
    }
}

struct TestDb {
    ctx: Ctx,
    place: Place,
}

enum Place {
    Sqlite(TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    async fn create(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::create_sqlite().await),
            Backend::Postgres => TestDb::create_postgres().await,
        }
    }

    async fn create_sqlite() -> TestDb {
        let dir = TempDir::new();
        let path = dir.0.join("t.db");
        let url = format!("sqlite://{}", path.display());
        let store = Store::open(&url)
            .await
            .unwrap_or_else(|e| panic!("Store::open({url}) failed: {e}"));
        let raw = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(
                SqliteConnectOptions::from_str(&url)
                    .expect("sqlite url")
                    .busy_timeout(Duration::from_secs(30)),
            )
            .await
            .expect("raw SQLite pool");
        TestDb {
            ctx: Ctx {
                backend: Backend::Sqlite,
                store,
                url,
                raw: Raw::Sqlite(raw),
            },
            place: Place::Sqlite(dir),
        }
    }

    async fn create_postgres() -> Option<TestDb> {
        let admin_url = std::env::var("LOUPE_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned());
        if let Some(err) = postgres_unreachable(&admin_url).await {
            let message = format!(
                "=== POSTGRESQL NOT REACHABLE AT {admin_url} ({err}): \
                 PostgreSQL conformance NOT TESTED ==="
            );
            if std::env::var("LOUPE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("{message} (LOUPE_REQUIRE_POSTGRES=1 requires it)");
            }
            // Past the test harness's capture, so that it shows even when the test passes.
            let _ = writeln!(std::io::stderr(), "{message}");
            return None;
        }
        let name = format!("loupe_t_{}", unique_suffix());
        let url = store::admin::create_database(&admin_url, &name)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let store = match Store::open(&url).await {
            Ok(store) => store,
            Err(e) => {
                drop_database(&admin_url, &name).await;
                panic!("Store::open({url}) failed: {e}");
            }
        };
        let raw = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("raw PostgreSQL pool");
        Some(TestDb {
            ctx: Ctx {
                backend: Backend::Postgres,
                store,
                url,
                raw: Raw::Postgres(raw),
            },
            place: Place::Postgres { admin_url, name },
        })
    }

    async fn destroy(self) {
        self.ctx.store.close().await;
        match &self.ctx.raw {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
        match self.place {
            Place::Sqlite(dir) => drop(dir),
            Place::Postgres { admin_url, name } => drop_database(&admin_url, &name).await,
        }
    }
}

/// Why PostgreSQL cannot be reached, asked once per test binary: one
/// connection attempt, so that "refused" is told at once and not after a
/// pool's retries.
async fn postgres_unreachable(url: &str) -> Option<String> {
    static VERDICT: tokio::sync::OnceCell<Option<String>> = tokio::sync::OnceCell::const_new();
    VERDICT
        .get_or_init(|| async {
            match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(url)).await {
                Ok(Ok(conn)) => {
                    let _ = conn.close().await;
                    None
                }
                Ok(Err(err)) => Some(err.to_string()),
                Err(_) => Some("no answer within 10 s".to_owned()),
            }
        })
        .await
        .clone()
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Err(e) = store::admin::drop_database(admin_url, name).await {
        eprintln!("warning: could not drop test database {name}: {e}");
    }
}
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((std::process::id(), n));
    format!("{}_{n}_{random:016x}", std::process::id())
}

/// A directory removed with everything in it when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("loupe-store-it-{}", unique_suffix()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
