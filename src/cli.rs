//! The command line: every subcommand's flags, each also a `LOUPE_*`
//! variable where it is a setting. `config` merges the `--config` file in;
//! the subcommands' modules only read these types, so they never need
//! each other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "loupe",
    version,
    about = "OpenTelemetry collector and troubleshooting UI in one binary",
    after_help = "First time? `loupe demo` starts loupe with a simulated shop sending it telemetry; open http://127.0.0.1:8080.\nYour own services: `loupe serve`, then set OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 in them.",
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive OTLP (gRPC and HTTP), store it, and serve the UI and JSON API.
    Serve(ServeConfig),
    /// Create or upgrade the database schema, then exit.
    Migrate(DatabaseArgs),
    /// Send realistic spans at full speed and report throughput, CPU, memory and disk use.
    Bench(crate::bench::BenchArgs),
    /// Print the load or cost report straight from the database (no server needed).
    Report(ReportArgs),
    /// Run loupe with a simulated shop sending it traces, logs and metrics (or feed a running loupe with --endpoint).
    Demo(DemoArgs),
    /// Write a request's, a trace's or a window's spans and log records as OTLP/JSON lines (the Collector's file exporter format).
    Export(ExportArgs),
    /// Load OTLP/JSON lines files (from `loupe export` or the Collector's file exporter) into the database, or send them to a running loupe.
    Import(ImportArgs),
}

/// The attributes read as the request id unless told otherwise.
pub const REQUEST_ID_KEYS: &str = "request_id,request.id,http.request.header.x-request-id,http.request.header.x_request_id,x-request-id,correlation_id";

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB
    #[arg(long, env = "LOUPE_DATABASE_URL", default_value = "sqlite://loupe.db")]
    pub database_url: String,
    /// Any id a request goes by (trace id, span id, request id): its traces and every log record matched to it
    #[arg(long, conflicts_with = "trace")]
    pub request: Option<String>,
    /// A trace id: its spans and log records
    #[arg(long)]
    pub trace: Option<String>,
    /// Without --request or --trace: the traces with spans of this service (any, when absent)
    #[arg(long, conflicts_with_all = ["request", "trace"])]
    pub service: Option<String>,
    /// Without --request or --trace: how far back the traces started (15m, 24h, 7d)
    #[arg(long, default_value = "1h", conflicts_with_all = ["request", "trace"])]
    pub since: String,
    /// Without --request or --trace: the newest traces written at most
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    /// The file written; standard output when absent
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// OTLP/JSON lines files: one export request (traces, logs or metrics) a line
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// sqlite://PATH (created when missing) or postgres://USER@HOST/DB; not with --endpoint
    #[arg(long, env = "LOUPE_DATABASE_URL", default_value = "sqlite://loupe.db")]
    pub database_url: String,
    /// Send to a running loupe's OTLP/HTTP receiver instead (http://127.0.0.1:4318)
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The ingest key that loupe asks for, with --endpoint
    #[arg(long, env = "LOUPE_INGEST_KEY", requires = "endpoint")]
    pub ingest_key: Option<Secret>,
    /// Span and log attributes read as the request id, first match wins (without --endpoint)
    #[arg(long, value_delimiter = ',', default_value = REQUEST_ID_KEYS)]
    pub request_id_keys: Vec<String>,
}

/// Prices the cost report projects a month of telemetry at.
#[derive(Debug, Clone, Copy, Args)]
pub struct PriceArgs {
    /// Price per GB received (10^9 bytes as sent), for the cost report
    #[arg(long, env = "LOUPE_PRICE_PER_GB", default_value_t = 0.5, value_parser = price)]
    pub price_per_gb: f64,
    /// Price per million spans received, for the cost report
    #[arg(long, env = "LOUPE_PRICE_PER_MILLION_SPANS", default_value_t = 0.0, value_parser = price)]
    pub price_per_million_spans: f64,
    /// Price per million log records received, for the cost report
    #[arg(long, env = "LOUPE_PRICE_PER_MILLION_LOGS", default_value_t = 0.0, value_parser = price)]
    pub price_per_million_logs: f64,
    /// Price per million metric points received, for the cost report
    #[arg(long, env = "LOUPE_PRICE_PER_MILLION_METRIC_POINTS", default_value_t = 0.0, value_parser = price)]
    pub price_per_million_metric_points: f64,
    /// The currency the prices are in, as its ISO 4217 code (USD, EUR, …)
    #[arg(long, env = "LOUPE_CURRENCY", default_value = "USD", value_parser = currency)]
    pub currency: web::reports::Currency,
}

impl PriceArgs {
    pub fn prices(&self) -> web::reports::Prices {
        web::reports::Prices {
            per_gb: self.price_per_gb,
            per_million_spans: self.price_per_million_spans,
            per_million_logs: self.price_per_million_logs,
            per_million_metric_points: self.price_per_million_metric_points,
            currency: self.currency,
        }
    }
}

fn currency(text: &str) -> Result<web::reports::Currency, String> {
    web::reports::Currency::parse(text).ok_or_else(|| {
        format!("a currency is a three-letter ISO 4217 code such as USD or EUR, got {text:?}")
    })
}

fn price(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(p),
        _ => Err(format!("a price is a number of at least 0, got {text:?}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    /// Requests, time, downstream load, critical paths and calls between services
    Load,
    /// Telemetry volume, bytes and the monthly cost projection
    Cost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Which report
    pub report: ReportKind,
    /// TOML file with any of these settings, keys spelled like the flags
    #[arg(long, env = "LOUPE_CONFIG")]
    pub config: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB
    #[arg(long, env = "LOUPE_DATABASE_URL", default_value = "sqlite://loupe.db")]
    pub database_url: String,
    /// How far back from --to the report looks (15m, 24h, 7d); 24h when neither this nor --from is given
    #[arg(long)]
    pub window: Option<String>,
    /// Start: a time (RFC 3339 or Unix ns)
    #[arg(long)]
    pub from: Option<String>,
    /// End: a time (RFC 3339 or Unix ns); now when absent
    #[arg(long)]
    pub to: Option<String>,
    /// The older name of --window (a duration) or --from (a time), as the API's `since`
    #[arg(long, hide = true)]
    pub since: Option<String>,
    /// The older name of --to, as the API's `until`
    #[arg(long, hide = true)]
    pub until: Option<String>,
    /// Only rows touching this service (load report)
    #[arg(long)]
    pub service: Option<String>,
    /// table (for people), json (the API's), or csv (one table, see --table)
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
    /// The table --format csv prints: load: services, endpoints, downstream, time_breakdown, edges, repeated_calls; cost: services, endpoints, attribute_keys, log_sources, metrics_by_series, per_request
    #[arg(long, default_value = "endpoints")]
    pub table: String,
    #[command(flatten)]
    pub prices: PriceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// sqlite://PATH (created when missing) or postgres://USER@HOST/DB
    #[arg(long, env = "LOUPE_DATABASE_URL", default_value = "sqlite://loupe.db")]
    pub database_url: String,
}

/// A key as given (NAME:SECRET or SECRET); debug output shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.split_once(':') {
            Some((name, _)) => write!(f, "{name}:…"),
            None => f.write_str("…"),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// TOML file with any of these settings, keys spelled like the flags
    #[arg(long, env = "LOUPE_CONFIG")]
    pub config: Option<PathBuf>,
    /// sqlite://PATH (created when missing) or postgres://USER@HOST/DB
    #[arg(long, env = "LOUPE_DATABASE_URL", default_value = "sqlite://loupe.db")]
    pub database_url: String,
    /// Where OTLP/gRPC is received
    #[arg(long, env = "LOUPE_OTLP_GRPC_ADDR", default_value = "127.0.0.1:4317")]
    pub otlp_grpc_addr: SocketAddr,
    /// Where OTLP/HTTP is received
    #[arg(long, env = "LOUPE_OTLP_HTTP_ADDR", default_value = "127.0.0.1:4318")]
    pub otlp_http_addr: SocketAddr,
    /// Where the UI, the JSON API and the health endpoints are served
    #[arg(long, env = "LOUPE_UI_ADDR", default_value = "127.0.0.1:8080")]
    pub ui_addr: SocketAddr,
    /// Host names the UI answers for besides the address it is bound to
    /// (and `localhost` when that is a loopback one), comma-separated;
    /// other `Host` headers get 421, which stops DNS rebinding. Bound to
    /// every address (0.0.0.0), the UI answers for any name unless this
    /// says which
    #[arg(long, env = "LOUPE_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Keys an OTLP export must carry, as `Authorization: Bearer SECRET`
    /// (gRPC: the `authorization` metadata; SDKs send it from
    /// OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20SECRET),
    /// comma-separated, each NAME:SECRET or SECRET; none: anyone may send
    #[arg(
        long,
        env = "LOUPE_INGEST_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub ingest_keys: Vec<Secret>,
    /// A file of ingest keys, one per line (`#` starts a comment), added to
    /// --ingest-keys
    #[arg(long, env = "LOUPE_INGEST_KEYS_FILE")]
    pub ingest_keys_file: Option<PathBuf>,
    /// Keys that open the UI (asked once on a login page), the JSON API and
    /// /metrics (as `Authorization: Bearer SECRET`), comma-separated, each
    /// NAME:SECRET or SECRET; none: anyone who reaches the UI reads
    #[arg(
        long,
        env = "LOUPE_READ_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub read_keys: Vec<Secret>,
    /// A file of read keys, one per line, added to --read-keys
    #[arg(long, env = "LOUPE_READ_KEYS_FILE")]
    pub read_keys_file: Option<PathBuf>,
    /// A header naming the user, set by a reverse proxy that signs users in
    /// (X-Forwarded-User from oauth2-proxy, Remote-User from Authelia): taken
    /// as a reader's sign-in from --trusted-proxies only, refused (403)
    /// from anyone else
    #[arg(long, env = "LOUPE_AUTH_PROXY_HEADER")]
    pub auth_proxy_header: Option<axum::http::HeaderName>,
    /// The addresses --auth-proxy-header is taken from, comma-separated
    /// ranges (10.0.0.0/8, ::1/128)
    #[arg(
        long,
        env = "LOUPE_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = "127.0.0.1/32,::1/128"
    )]
    pub trusted_proxies: Vec<web::access::Cidr>,
    /// Serve a listener on an address other than loopback without keys
    /// (refused otherwise): whoever reaches it may send or read
    #[arg(long, env = "LOUPE_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// A PEM certificate chain: with --tls-key, OTLP/gRPC, OTLP/HTTP and the
    /// UI are served over TLS only; a renewed file is picked up at the next
    /// handshake
    #[arg(long, env = "LOUPE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, env = "LOUPE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Largest export accepted, in bytes, checked before and after
    /// decompression; one that would take more than 32 times this in memory
    /// once decoded is refused before decoding
    #[arg(long, env = "LOUPE_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Bytes one log body or attribute value keeps (each string or bytes
    /// value inside one too); the rest is cut, a text's cut marked; 0 keeps
    /// everything
    #[arg(long, env = "LOUPE_MAX_VALUE_BYTES", default_value_t = collector::normalize::MAX_VALUE_BYTES)]
    pub max_value_bytes: usize,
    /// Connections each listener (OTLP/gRPC, OTLP/HTTP, the UI) holds at
    /// once; past it new ones wait to be accepted, so a flood on one
    /// leaves the others room. 0: a quarter of the open-files limit each
    #[arg(long, env = "LOUPE_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,
    /// Seconds a client has to send its request headers, and again its body
    #[arg(long, env = "LOUPE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Items (spans, log records, metric points) that may wait for the database before exports are refused with 429 / RESOURCE_EXHAUSTED
    #[arg(long, env = "LOUPE_QUEUE_ITEMS", default_value_t = 131_072)]
    pub queue_items: usize,
    /// Items written per transaction at most
    #[arg(long, env = "LOUPE_MAX_BATCH_ITEMS", default_value_t = 16_384)]
    pub max_batch_items: usize,
    /// How long spans, log records and metric points are kept, by their own timestamps (90m, 24h, 7d); 0 keeps everything
    #[arg(long, env = "LOUPE_RETENTION", default_value = "7d", value_parser = retention)]
    pub retention: Retention,
    /// How long the per-minute rollups of requests (what the services overview reads across whole minutes) are kept; 0 keeps them
    #[arg(long, env = "LOUPE_ROLLUP_RETENTION", default_value = "90d", value_parser = retention)]
    pub rollup_retention: Retention,
    /// SQLite: the most the database file may occupy (500MB, 20GB, 1GiB); the oldest data goes first to keep under it; 0 or absent: no limit
    #[arg(long, env = "LOUPE_MAX_SIZE", default_value = "0", value_parser = size)]
    pub max_size: Size,
    /// SQLite: free space the database's filesystem keeps; the oldest data goes to keep it, and exports are refused with 503 / UNAVAILABLE once nothing more can; 0: no guard
    #[arg(long, env = "LOUPE_MIN_FREE_DISK", default_value = "1GB", value_parser = size)]
    pub min_free_disk: Size,
    /// Span and log attributes read as the request id, first match wins
    #[arg(
        long,
        env = "LOUPE_REQUEST_ID_KEYS",
        value_delimiter = ',',
        default_value = REQUEST_ID_KEYS
    )]
    pub request_id_keys: Vec<String>,
    /// How long one read (a page, an API call) may take, its wait for a
    /// turn included (reads run half as many at once as there are cores);
    /// past it the answer is 503 and says so; 0: no limit
    #[arg(long, env = "LOUPE_QUERY_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub query_timeout: Duration,
    /// Spans one report may hold in memory at once (those of the minutes
    /// its rollups do not answer yet, about 100 bytes each); a report that
    /// needs more is refused with 503 saying so, before it reads any
    #[arg(long, env = "LOUPE_MAX_REPORT_SPANS", default_value_t = 4_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_report_spans: u64,
    /// Test hook: milliseconds every read waits, in its turn, before it starts
    #[arg(
        long,
        env = "LOUPE_TEST_READ_DELAY_MS",
        default_value_t = 0,
        hide = true
    )]
    pub test_read_delay_ms: u64,
    /// Test hook: milliseconds the writer waits before every transaction
    #[arg(
        long,
        env = "LOUPE_TEST_WRITE_DELAY_MS",
        default_value_t = 0,
        hide = true
    )]
    pub test_write_delay_ms: u64,
    #[command(flatten)]
    pub prices: PriceArgs,
}

impl ServeConfig {
    /// The defaults with every listener on port 0 of the loopback
    /// interface, keeping everything.
    pub fn for_tests(database_url: &str) -> ServeConfig {
        let mut config = Cli::try_parse_from(["loupe", "serve", "--database-url", database_url])
            .map(|cli| match cli.command {
                Command::Serve(config) => config,
                _ => unreachable!("parsed the serve subcommand"),
            })
            .unwrap_or_else(|e| panic!("default config parses: {e}"));
        let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
        config.otlp_grpc_addr = any_port;
        config.otlp_http_addr = any_port;
        config.ui_addr = any_port;
        // The tests' telemetry is stamped in 2023, long past any retention.
        config.retention = Retention(None);
        config.rollup_retention = Retention(None);
        // Nor may a test depend on the free space of a shared disk.
        config.min_free_disk = Size(None);
        config
    }
}

#[derive(Debug, Clone, Args)]
#[command(mut_arg("database_url", |a| a.default_value("sqlite://loupe-demo.db")))]
pub struct DemoArgs {
    /// OTLP/HTTP address of a loupe already running (http://HOST:4318); without it the demo starts one with the server settings below
    #[arg(long, env = "LOUPE_DEMO_ENDPOINT")]
    pub endpoint: Option<String>,
    /// The ingest key to send, for a loupe that asks for one; without it,
    /// the first of the server settings' --ingest-keys
    #[arg(long, env = "LOUPE_DEMO_INGEST_KEY", hide_env_values = true)]
    pub ingest_key: Option<String>,
    /// Address of that loupe's UI, for the links the demo prints (default: the endpoint's host, port 8080)
    #[arg(long, env = "LOUPE_DEMO_UI", requires = "endpoint")]
    pub ui: Option<String>,
    /// Customer requests per second, on average
    #[arg(long, env = "LOUPE_DEMO_RATE", default_value_t = 4.0, value_parser = rate)]
    pub rate: f64,
    /// Stop sending after this long (20 is seconds; or 90s, 15m, 2h); until Ctrl-C when absent
    #[arg(long, env = "LOUPE_DEMO_DURATION", value_parser = duration)]
    pub duration: Option<Duration>,
    /// History sent first, so that charts and reports are full at once (0 for none)
    #[arg(long, env = "LOUPE_DEMO_BACKFILL", default_value = "1h", value_parser = duration)]
    pub backfill: Duration,
    /// Seed of the simulation: the same seed makes the same shop
    #[arg(long, env = "LOUPE_DEMO_SEED")]
    pub seed: Option<u64>,
    #[command(flatten, next_help_heading = "Server (when no --endpoint is given)")]
    pub serve: ServeConfig,
}

fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 10_000.0 => Ok(r),
        _ => Err(format!(
            "a rate is requests per second, more than 0 and at most 10000, got {text:?}"
        )),
    }
}

/// How long telemetry is kept; `None`: everything, for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<Duration>);

/// A duration (`90m`, `24h`, `7d`), or `0` for none: keep everything.
fn retention(text: &str) -> Result<Retention, String> {
    match text.trim() {
        "0" => Ok(Retention(None)),
        text => web::reports::parse_duration(text)
            .map(|ns| Retention(Some(Duration::from_nanos(ns.unsigned_abs()))))
            .ok_or_else(|| {
                format!("expected a duration like 24h or 7d, or 0 to keep everything, got {text:?}")
            }),
    }
}

/// A number of bytes; `None`: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub Option<u64>);

/// Bytes with a decimal (`KB`, `MB`, `GB`, `TB`) or binary (`KiB` …
/// `TiB`) unit, as a bare number, or `0` for none.
fn size(text: &str) -> Result<Size, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "expected a size like 500MB or 20GB, or 0, got {text:?}"
            ));
        }
    };
    match number.parse::<f64>() {
        Ok(0.0) => Ok(Size(None)),
        Ok(n) if n.is_finite() && n > 0.0 && n * (scale as f64) < 1e18 => {
            Ok(Size(Some((n * scale as f64).round() as u64)))
        }
        _ => Err(format!(
            "expected a size like 500MB or 20GB, or 0, got {text:?}"
        )),
    }
}

/// Seconds as a bare number, or `90s`, `15m`, `2h`, `1d`; `0` is none.
fn duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    web::reports::parse_duration(text)
        .map(|ns| Duration::from_nanos(ns.unsigned_abs()))
        .ok_or_else(|| format!("expected seconds or a duration like 90s, 15m, 2h, got {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::{duration, retention, size};

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        for (input, bytes) in [
            ("20GB", Some(Some(20_000_000_000))),
            ("1.5 GB", Some(Some(1_500_000_000))),
            ("500mb", Some(Some(500_000_000))),
            ("1GiB", Some(Some(1 << 30))),
            ("4096", Some(Some(4096))),
            ("0", Some(None)),
            ("0GB", Some(None)),
            ("", None),
            ("GB", None),
            ("-1GB", None),
            ("20 parsecs", None),
            ("9999999TB", None),
        ] {
            assert_eq!(size(input).ok().map(|s| s.0), bytes, "{input:?}");
        }
    }

    #[test]
    fn retention_is_a_duration_or_zero() {
        for (input, seconds) in [
            ("7d", Some(Some(604_800))),
            ("90m", Some(Some(5400))),
            (" 24h ", Some(Some(86_400))),
            ("0", Some(None)),
            ("0d", None),
            ("7", None),
            ("forever", None),
        ] {
            let got = retention(input).ok().map(|r| r.0.map(|d| d.as_secs()));
            assert_eq!(got, seconds, "{input:?}");
        }
    }

    #[test]
    fn durations_are_seconds_or_suffixed() {
        for (input, seconds) in [
            ("20", Some(20)),
            ("0", Some(0)),
            ("90s", Some(90)),
            ("15m", Some(900)),
            ("2h", Some(7200)),
            ("2x", None),
            ("-5", None),
            ("", None),
        ] {
            assert_eq!(
                duration(input).ok().map(|d| d.as_secs()),
                seconds,
                "{input:?}"
            );
        }
    }
}
