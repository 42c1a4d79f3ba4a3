//! loupe: the binary's library half. `config` turns flags, environment and an
//! optional TOML file into `ServeConfig`; `server` starts the three listeners
//! (OTLP/gRPC, OTLP/HTTP, UI) around one store and stops them in order.
//! `bench` is the load generator behind `loupe bench`; `report` prints the
//! load and cost reports of `web::reports` for `loupe report`.

pub mod bench;
pub mod config;
pub mod report;
pub mod server;

pub use config::ServeConfig;
pub use server::Running;
