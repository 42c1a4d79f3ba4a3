//! loupe's library half: a module per subcommand, and what they share.
//!
//! - `cli`: every subcommand's flags and `LOUPE_*` variables (clap types)
//! - `config`: a `--config` TOML file merged under the flags
//! - `server`: `loupe serve`, three listeners around one store, stopped in order
//! - `retention`: the loops that keep the database within its age and size
//! - `report`: `loupe report`, `web::reports` printed from the database
//! - `demo`: `loupe demo`, a simulated shop's telemetry sent to a loupe
//! - `bench`: `loupe bench`, the load generator and what it measures
//! - `errors`: a failure and its causes on one line, for stderr
//! - `vitals`: what `serve` measures of itself for `/system`
//! - `synth`: the random source and attribute constructors demo and bench share

pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod errors;
pub mod export;
pub mod import;
pub mod report;
mod retention;
pub mod server;
mod synth;
pub mod tls;
mod vitals;

pub use cli::ServeConfig;
pub use errors::error_line;
pub use server::{Running, shutdown_signal};
