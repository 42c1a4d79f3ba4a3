use std::io::Write as _;
use std::process::ExitCode;

use loupe::cli::Command;
use loupe::config;

// A span arrives as a few dozen small allocations (names, attribute keys and
// values), freed on the writer's thread after its commit, a pattern glibc's
// malloc serves slowly: measured in docs/adr/0012.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOUPE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("loupe: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loupe: {}", loupe::error_line(&err));
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = config::parse(std::env::args().collect())?;
    match cli.command {
        Command::Serve(config) => {
            let running = loupe::server::start(&config).await?;
            println!("{}", running.listening_line());
            let _ = std::io::stdout().flush();
            tracing::info!(
                otlp_grpc = %running.otlp_grpc,
                otlp_http = %running.otlp_http,
                ui = %format!("http://{}", running.ui),
                database = running.store.backend(),
                "loupe is running"
            );
            loupe::shutdown_signal().await;
            tracing::info!("shutting down: finishing exports in flight");
            running.stop().await?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Migrate(args) => {
            let store = store::Store::open(&args.database_url).await?;
            store.close().await;
            eprintln!("loupe: database schema is up to date");
            Ok(())
        }
        Command::Bench(args) => loupe::bench::run(args).await,
        Command::Report(args) => loupe::report::run(args).await,
        Command::Demo(args) => loupe::demo::run(args).await,
        Command::Export(args) => loupe::export::run(args).await,
        Command::Import(args) => loupe::import::run(args).await,
    }
}
