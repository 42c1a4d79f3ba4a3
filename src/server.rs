//! `loupe serve`: three listeners around one store, stopped in data-flow
//! order: receivers stop accepting and finish their exports, then the writer
//! commits what was queued, then the store closes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use collector::{Ingest, Pipeline, PipelineConfig, Rules, SelfMetrics};
use store::Store;
use store::keys::Keys;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cli::{Secret, ServeConfig};
use crate::vitals::Vitals;

pub struct Running {
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
    pub ui: SocketAddr,
    pub store: Store,
    stop: watch::Sender<bool>,
    listeners: Vec<JoinHandle<anyhow::Result<()>>>,
    writer: JoinHandle<()>,
    /// Retention's loops (`crate::retention`) and the sampler of
    /// `crate::vitals`.
    upkeep: Vec<JoinHandle<()>>,
}

impl Running {
    /// The line `loupe serve` prints once it listens; tests read the ports from it.
    pub fn listening_line(&self) -> String {
        format!(
            "loupe listening otlp_grpc={} otlp_http={} ui={}",
            self.otlp_grpc, self.otlp_http, self.ui
        )
    }

    /// Stops accepting, answers what is in flight, commits what was queued.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let mut result = Ok(());
        for listener in self.listeners {
            if let Err(err) = listener.await.context("listener task failed")? {
                result = Err(err);
            }
        }
        // Every sender of the queue lived in the listeners, so the writer
        // now drains what is left and ends.
        self.writer.await.context("writer task failed")?;
        for task in self.upkeep {
            task.await.context("retention task failed")?;
        }
        self.store.close().await;
        result
    }
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen for {what} on {addr}: is another process using it? choose another address with the flag or variable shown by `loupe serve --help`")
    })
}

/// Raises the soft limit of open files to the hard one: each connection
/// and the database's files take one, and the 1 024 many systems start a
/// process with is reached by a few hundred idle clients.
pub fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(err) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %err, "cannot raise the limit of open files");
        }
    }
}

/// The keys of one role, from its flag's values and its file.
fn keys(flag: &str, entries: &[Secret], file: Option<&Path>) -> anyhow::Result<Keys> {
    let text = match file {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("{flag}-file: cannot read {}", file.display()))?,
        None => String::new(),
    };
    Keys::parse(entries.iter().map(|e| e.0.as_str()).chain(text.lines()))
        .map_err(|err| anyhow::anyhow!("{flag}: {err}"))
}

/// Who may send and who may read; a listener on an address other than
/// loopback with no keys for it is refused unless `--insecure-no-auth`.
/// The third value says whether some listener is open to anyone.
fn access(config: &ServeConfig) -> anyhow::Result<(Keys, Keys, bool)> {
    let ingest = keys(
        "--ingest-keys",
        &config.ingest_keys,
        config.ingest_keys_file.as_deref(),
    )?;
    let read = keys(
        "--read-keys",
        &config.read_keys,
        config.read_keys_file.as_deref(),
    )?;
    let open = [
        (
            config.otlp_grpc_addr,
            "OTLP/gRPC",
            ingest.is_empty(),
            "--ingest-keys",
        ),
        (
            config.otlp_http_addr,
            "OTLP/HTTP",
            ingest.is_empty(),
            "--ingest-keys",
        ),
        (
            config.ui_addr,
            "the UI",
            read.is_empty() && config.auth_proxy_header.is_none(),
            "--read-keys or --auth-proxy-header",
        ),
    ];
    let mut open_to_all = false;
    for (addr, what, no_keys, flag) in open {
        if no_keys && !addr.ip().is_loopback() {
            open_to_all = true;
            if !config.insecure_no_auth {
                anyhow::bail!(
                    "refusing to serve {what} on {addr} to anyone who reaches it: set {flag} (or --insecure-no-auth if that is what you want)"
                );
            }
            tracing::warn!(%addr, "serving {what} with no keys: anyone who reaches {addr} may use it (--insecure-no-auth)");
        }
    }
    Ok((ingest, read, open_to_all))
}

pub async fn start(config: &ServeConfig) -> anyhow::Result<Running> {
    raise_open_files_limit();
    let (ingest_keys, read_keys, open_to_all) = access(config)?;
    let store = Store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open database {}", redact(&config.database_url)))?;
    if config.max_size.0.is_some() && store.backend() == "postgres" {
        anyhow::bail!(
            "--max-size limits a SQLite file; on PostgreSQL size the server's disk and keep the data in check with --retention"
        );
    }
    let grpc_listener = bind(config.otlp_grpc_addr, "OTLP/gRPC").await?;
    let http_listener = bind(config.otlp_http_addr, "OTLP/HTTP").await?;
    let ui_listener = bind(config.ui_addr, "the UI").await?;

    let metrics = Arc::new(SelfMetrics::default());
    let (pipeline, writer) = Pipeline::start(
        store.writer(),
        PipelineConfig {
            queue_items: config.queue_items,
            max_batch_items: config.max_batch_items,
            write_delay: Duration::from_millis(config.test_write_delay_ms),
        },
        metrics.clone(),
    );
    let rules = Rules {
        request_id_keys: config.request_id_keys.clone(),
        max_value_bytes: config.max_value_bytes,
        ..Rules::default()
    };
    let ingest = Ingest::new(
        pipeline.clone(),
        rules,
        collector::ingest::Limits {
            max_body_bytes: config.max_body_bytes,
        },
        metrics.clone(),
    )
    .requiring(ingest_keys);
    let (stop, stopped) = watch::channel(false);
    let until_stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let request_timeout = Duration::from_secs(config.request_timeout_secs);
    let cap = connection_cap(config.max_connections);
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
        _ => None,
    };
    let otlp_grpc = grpc_listener.local_addr()?;
    let otlp_http = http_listener.local_addr()?;
    let ui = ui_listener.local_addr()?;

    let (traces, logs, metrics_service) = collector::grpc::services(ingest.clone());
    let grpc = tonic::transport::Server::builder()
        .add_service(traces)
        .add_service(logs)
        .add_service(metrics_service)
        .serve_with_incoming_shutdown(
            grpc_incoming(
                grpc_listener,
                cap,
                tls.clone(),
                request_timeout,
                stopped.clone(),
            ),
            until_stopped(stopped.clone()),
        );
    let http_router = collector::http::router(
        ingest,
        collector::http::HttpConfig {
            body_timeout: request_timeout,
        },
    );
    let http = serve_http(
        http_listener,
        http_router,
        cap,
        tls.clone(),
        request_timeout,
        stopped.clone(),
    );
    let vitals = Vitals::new(metrics.clone(), crate::retention::settings(config));
    let ui_router = web::router(web::AppState {
        store: store.reader(),
        self_metrics: Arc::new(move |db_bytes| metrics.render(db_bytes)),
        readiness: Arc::new({
            let pipeline = pipeline.clone();
            move || pipeline.readiness()
        }),
        prices: config.prices.prices(),
        running: Arc::new({
            let vitals = vitals.clone();
            move || vitals.running()
        }),
        slow_reads: Arc::default(),
        hosts: Arc::new(web::hosts::Hosts::for_listener(ui, &config.allowed_hosts)),
        access: web::access::Access::new(
            read_keys,
            config
                .auth_proxy_header
                .clone()
                .map(|header| web::access::ProxyAuth {
                    header,
                    trusted: config.trusted_proxies.clone(),
                }),
            open_to_all,
            tls.is_some(),
        ),
        reads: Arc::new(web::Reads {
            test_delay: Duration::from_millis(config.test_read_delay_ms),
            max_report_spans: config.max_report_spans,
            ..web::Reads::new((!config.query_timeout.is_zero()).then_some(config.query_timeout))
        }),
    });
    let ui_server = serve_http(
        ui_listener,
        ui_router,
        cap,
        tls.clone(),
        request_timeout,
        stopped.clone(),
    );
    let mut upkeep = crate::retention::start(
        config,
        store.reader(),
        store.sweeper(),
        pipeline,
        vitals.clone(),
        &stopped,
    );
    upkeep.push(tokio::spawn(crate::vitals::sample(
        vitals,
        store.sweeper(),
        store.reader(),
        stopped.clone(),
    )));

    let listeners = vec![
        tokio::spawn(async move { grpc.await.context("OTLP/gRPC server failed") }),
        tokio::spawn(async move { http.await.context("OTLP/HTTP server failed") }),
        tokio::spawn(async move { ui_server.await.context("UI server failed") }),
    ];
    Ok(Running {
        otlp_grpc,
        otlp_http,
        ui,
        store,
        stop,
        listeners,
        writer,
        upkeep,
    })
}

/// How long a stop waits for requests in flight before closing them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves HTTP/1 and HTTP/2 with a deadline on request headers (the body
/// has its own, enforced by the OTLP handler), which
/// `axum::serve` does not set, so that a client that never finishes its
/// headers cannot hold a connection forever. On stop: no new connections,
/// requests in flight are answered, idle connections are closed.
/// How many connections one listener holds at once: `--max-connections`,
/// or a quarter of the open-files limit (three listeners, and a quarter
/// left for the database's files and everything else).
pub fn connection_cap(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    usize::try_from(limit / 4)
        .unwrap_or(usize::MAX)
        .clamp(16, 1 << 20)
}

/// Accepts connections while fewer than the cap are open, and hands on
/// each once it has sent a first byte within `header_timeout`: one that
/// sends nothing is closed then (HTTP/2's preface and gRPC have no header
/// deadline of their own), and while the listener is full the next
/// connection waits in the kernel's backlog rather than taking a file
/// descriptor the other listeners need.
fn accept_capped(
    listener: TcpListener,
    cap: usize,
    tls: Option<tokio_rustls::TlsAcceptor>,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::sync::mpsc::Receiver<Capped> {
    let (sender, connections) = tokio::sync::mpsc::channel(64);
    let open = Arc::new(tokio::sync::Semaphore::new(cap));
    tokio::spawn(async move {
        loop {
            let permit = tokio::select! {
                permit = open.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                _ = stop.wait_for(|stop| *stop) => break,
            };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.wait_for(|stop| *stop) => break,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, most likely: let some connections end.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Without TCP_NODELAY small responses wait for delayed ACKs (~40 ms).
            let _ = stream.set_nodelay(true);
            let (sender, tls) = (sender.clone(), tls.clone());
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                match tokio::time::timeout(header_timeout, stream.peek(&mut first)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return,
                }
                let stream = match tls {
                    None => Stream::Plain(stream),
                    // The handshake has the header deadline too.
                    Some(tls) => {
                        match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                            Ok(Ok(stream)) => Stream::Tls(Box::new(stream)),
                            Ok(Err(err)) => {
                                tracing::debug!(error = %err, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        }
                    }
                };
                let _ = sender
                    .send(Capped {
                        peer,
                        stream,
                        _open: permit,
                    })
                    .await;
            });
        }
    });
    connections
}

/// A connection that holds its place under the listener's cap until it closes.
pub struct Capped {
    peer: SocketAddr,
    stream: Stream,
    _open: tokio::sync::OwnedSemaphorePermit,
}

enum Stream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

/// Calls a poll method on whichever stream `$self` holds.
macro_rules! on_stream {
    ($self:ident, $s:ident => $call:ident($($arg:expr),*)) => {
        match &mut $self.stream {
            Stream::Plain($s) => std::pin::Pin::new($s).$call($($arg),*),
            Stream::Tls($s) => std::pin::Pin::new($s.as_mut()).$call($($arg),*),
        }
    };
}

impl tokio::io::AsyncRead for Capped {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        on_stream!(self, s => poll_read(cx, buf))
    }
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        on_stream!(self, s => poll_write(cx, buf))
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        on_stream!(self, s => poll_flush(cx))
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        on_stream!(self, s => poll_shutdown(cx))
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        on_stream!(self, s => poll_write_vectored(cx, bufs))
    }
    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}

impl tonic::transport::server::Connected for Capped {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        match &self.stream {
            Stream::Plain(s) => s.connect_info(),
            Stream::Tls(s) => s.get_ref().0.connect_info(),
        }
    }
}

/// The gRPC listener's connections, capped, as the stream tonic serves.
fn grpc_incoming(
    listener: TcpListener,
    cap: usize,
    tls: Option<tokio_rustls::TlsAcceptor>,
    header_timeout: Duration,
    stop: watch::Receiver<bool>,
) -> impl futures_util::Stream<Item = std::io::Result<Capped>> {
    let mut connections = accept_capped(listener, cap, tls, header_timeout, stop);
    futures_util::stream::poll_fn(move |cx| connections.poll_recv(cx).map(|c| c.map(Ok)))
}

fn with_peer<B>(
    peer: axum::extract::ConnectInfo<SocketAddr>,
) -> impl FnMut(axum::http::Request<B>) -> axum::http::Request<B> + Clone {
    move |mut request| {
        request.extensions_mut().insert(peer);
        request
    }
}

async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    cap: usize,
    tls: Option<tokio_rustls::TlsAcceptor>,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut connections = accept_capped(listener, cap, tls, header_timeout, stop.clone());
    let stopped = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            connection = connections.recv() => {
                let Some(connection) = connection else { break };
                // The peer's address, for `ConnectInfo` (the trusted proxies).
                let peer = axum::extract::ConnectInfo(connection.peer);
                let service =
                    TowerToHyperService::new(tower::ServiceExt::map_request(router.clone(), with_peer(peer)));
                let (builder, watcher) = (builder.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(connection), service)
                        .into_owned();
                    if let Err(err) = watcher.watch(connection).await {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                });
            }
            () = &mut stopped => break,
        }
    }
    drop(connections);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}

/// A database URL fit for a log line: without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..scheme_end], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_one() {
        let before = getrlimit(Resource::Nofile);
        // Lowered as a system that starts processes at 1 024 would;
        // 256 is room enough for this crate's other unit tests meanwhile.
        let lowered = Rlimit {
            current: Some(256),
            maximum: before.maximum,
        };
        setrlimit(Resource::Nofile, lowered).expect("a soft limit can be lowered");
        super::raise_open_files_limit();
        let after = getrlimit(Resource::Nofile);
        assert_eq!(after.current, before.maximum);
        assert_eq!(after.maximum, before.maximum);
    }
}
