//! What `loupe bench` is asked to do: its flags, the transports it loads,
//! and where the load goes when it is pointed at a running loupe.

use std::net::IpAddr;

use anyhow::{Context as _, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportChoice {
    Http,
    Grpc,
    Both,
}

impl TransportChoice {
    pub(super) fn transports(self) -> Vec<Transport> {
        match self {
            TransportChoice::Http => vec![Transport::Http],
            TransportChoice::Grpc => vec![Transport::Grpc],
            TransportChoice::Both => vec![Transport::Http, Transport::Grpc],
        }
    }
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
    /// How long before the run the spans start: `1h` is the spans a team
    /// sending 3 000 a second stores in an hour (10 000 000); `6d` spreads
    /// them over the days the week-long reads cut through
    #[arg(long, default_value = "1h", value_parser = spread)]
    pub spread: u64,
    /// Concurrent clients, each with its own connection and one request in flight
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub clients: u32,
    /// Log records sent after the spans, to a database of their own, for
    /// their bytes on disk (0: none)
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(0..=50_000_000))]
    pub logs: u64,
    /// Metric points sent likewise (0: none)
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(0..=50_000_000))]
    pub points: u64,
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
    /// With --target: the ingest key to send, for a loupe that asks for one
    #[arg(
        long,
        env = "LOUPE_BENCH_INGEST_KEY",
        requires = "target",
        hide_env_values = true
    )]
    pub ingest_key: Option<String>,
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
    /// After the first run, time the everyday reads (services, failures, reports, searches, ids) on the database it made, each against its target
    #[arg(long, conflicts_with = "target")]
    pub queries: bool,
    /// Print the results as one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

/// A duration such as `1h` or `6d`, in nanoseconds: under the 7 days
/// `loupe serve` keeps by default, so nothing loaded is swept meanwhile.
fn spread(text: &str) -> Result<u64, String> {
    const WEEK_NS: i64 = 7 * 86_400_000_000_000;
    match web::reports::parse_duration(text) {
        Some(ns) if ns < WEEK_NS => Ok(ns as u64),
        Some(_) => Err("must be under 7d (the default --retention)".into()),
        None => Err(format!("{text:?} is not a duration such as 1h or 6d")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    Http,
    Grpc,
}

impl Transport {
    pub(super) fn name(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Grpc => "grpc",
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Transport::Http => "OTLP/HTTP protobuf",
            Transport::Grpc => "OTLP/gRPC",
        }
    }
}

/// The receivers of an already running loupe (`--target`, `--target-grpc`).
pub(super) struct Targets {
    http: String,
    grpc: String,
}

impl Targets {
    pub(super) fn parse(http: &str, grpc: Option<&str>) -> anyhow::Result<Targets> {
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

    pub(super) fn endpoint(&self, transport: Transport) -> &str {
        match transport {
            Transport::Http => &self.http,
            Transport::Grpc => &self.grpc,
        }
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

#[cfg(test)]
mod tests {
    use super::Targets;

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
