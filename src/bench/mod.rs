//! `loupe bench`: a load generator that measures loupe against the database
//! it writes to.
//!
//! - `args`: the flags, the transports, `--target`'s receivers
//! - `workload`: the spans, made up and encoded before the clock starts
//! - `services`: the services, routes and resources those spans come from
//! - `databases`: a fresh database per run, its size on disk; all the SQL
//! - `server`: `loupe serve` as a child process; `/proc` readings
//! - `client`: the load, from concurrent OTLP/HTTP or OTLP/gRPC clients
//! - `ceiling`: the same spans written straight through the store
//! - `signals`: log records and metric points, for their bytes on disk
//! - `queries`: the everyday reads timed against their targets (`--queries`)
//! - `report`: the figures and targets, as a table or as JSON
//!
//! For each transport (OTLP/HTTP protobuf, then OTLP/gRPC) `run` starts
//! `loupe serve` on a fresh database and loads it; then the ceiling, on
//! another fresh database of the same kind; then log records and metric
//! points over OTLP/HTTP, each on a fresh database; then the report.

mod args;
mod ceiling;
mod client;
mod databases;
mod queries;
mod report;
mod server;
mod services;
mod signals;
mod workload;

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;

pub use args::{BenchArgs, TransportChoice};

use args::{Targets, Transport};
use databases::{Databases, Fresh};
use report::{Measured, Report, RunReport, SignalReport};
use server::{ServerProcess, loadavg, writer_stats};
use workload::{Body, Workload};

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let transports = args.transport.transports();
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

    let mut workload = Workload::new(args.spans, args.batch, args.spread);
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
                let endpoint = targets.endpoint(*transport);
                let key = args.ingest_key.as_deref();
                client::load(
                    *transport,
                    endpoint,
                    key,
                    &bodies,
                    args.clients,
                    timeout,
                    None,
                )
                .await
                .map(|load| RunReport {
                    load,
                    writer: None,
                    wal_bytes: None,
                    disk: None,
                    queries: None,
                })
            }
            None => {
                let databases = databases.as_ref().unwrap_or_else(|| unreachable!());
                let queries = args.queries && i == 0;
                run_local(databases, *transport, &bodies, &args, timeout, queries).await
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
            match ceiling::ceiling(databases, &workload, args.ceiling_batch, args.keep, timeout)
                .await
            {
                Ok(ceiling) => Some(ceiling),
                Err(err) => {
                    failure = Some(err.context("ceiling run failed"));
                    None
                }
            }
        }
        _ => None,
    };
    let mut signal_runs = Vec::new();
    if let (Some(databases), None) = (&databases, &failure) {
        for (signal, total) in [
            (signals::Signal::Logs, args.logs),
            (signals::Signal::Points, args.points),
        ] {
            if total == 0 {
                continue;
            }
            progress(
                &args,
                &format!("{}: loading {total} over OTLP/HTTP…", signal.name()),
            );
            match run_signal(databases, signal, total, &args, timeout).await {
                Ok(run) => signal_runs.push(run),
                Err(err) => {
                    failure = Some(err.context(format!("{} run failed", signal.name())));
                    break;
                }
            }
        }
    }
    if let Some(databases) = &databases {
        databases.finish(args.keep);
    }

    let report = Report::new(Measured {
        args: &args,
        cpus,
        loadavg_before,
        loadavg_after: loadavg(),
        backend: databases.as_ref().map(Databases::backend),
        location,
        external: targets.is_some(),
        shape,
        runs,
        ceiling,
        signals: signal_runs,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
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

async fn run_local(
    databases: &Databases,
    transport: Transport,
    bodies: &Arc<Vec<Body>>,
    args: &BenchArgs,
    timeout: Duration,
    queries: bool,
) -> anyhow::Result<RunReport> {
    let db = databases.fresh(transport.name()).await?;
    let result = run_on(databases, &db, transport, bodies, args, timeout, queries).await;
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
    queries: bool,
) -> anyhow::Result<RunReport> {
    let server = ServerProcess::start(&db.url).await?;
    let endpoint = match transport {
        Transport::Http => format!("http://{}/v1/traces", server.otlp_http),
        Transport::Grpc => format!("http://{}", server.otlp_grpc),
    };
    let wal_before = databases.wal_lsn().await;
    let loaded = client::load(
        transport,
        &endpoint,
        None,
        bodies,
        args.clients,
        timeout,
        Some(server.pid),
    )
    .await;
    let wal_after = databases.wal_lsn().await;
    let writer = writer_stats(server.ui).await;
    let timed = match (&loaded, queries) {
        (Ok(_), true) => {
            progress(args, "timing the everyday reads…");
            Some(queries::time(server.ui).await)
        }
        _ => None,
    };
    let stopped = server.stop().await;
    let load = loaded?;
    stopped?;
    Ok(RunReport {
        load,
        writer,
        wal_bytes: wal_before.zip(wal_after).map(|(b, a)| a.saturating_sub(b)),
        disk: Some(databases.disk(db).await?.minus(&db.empty)),
        queries: timed.transpose()?,
    })
}

/// Loads `total` items of `signal` into `loupe serve` on a fresh database
/// and measures what they occupy.
async fn run_signal(
    databases: &Databases,
    signal: signals::Signal,
    total: u64,
    args: &BenchArgs,
    timeout: Duration,
) -> anyhow::Result<SignalReport> {
    let bodies = Arc::new(signals::bodies(signal, total, args.batch, args.spread));
    let otlp_bytes = bodies.iter().map(|b| b.bytes.len() as u64).sum();
    let db = databases
        .fresh(signal.path().trim_start_matches("/v1/"))
        .await?;
    let result = async {
        let server = ServerProcess::start(&db.url).await?;
        let endpoint = format!("http://{}{}", server.otlp_http, signal.path());
        let loaded = client::load(
            Transport::Http,
            &endpoint,
            None,
            &bodies,
            args.clients,
            timeout,
            Some(server.pid),
        )
        .await;
        let timed = match (&loaded, signal, args.queries) {
            (Ok(_), signals::Signal::Logs, true) => {
                progress(args, "timing the reads of log records…");
                Some(queries::time_logs(server.ui).await)
            }
            _ => None,
        };
        let stopped = server.stop().await;
        let load = loaded?;
        stopped?;
        Ok(SignalReport {
            name: signal.name(),
            queries: timed.transpose()?,
            load,
            otlp_bytes,
            disk: databases.disk(&db).await?.minus(&db.empty),
        })
    }
    .await;
    databases.dispose(&db, args.keep).await;
    result
}
