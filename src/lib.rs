//! loupe: the binary's library half. `config` turns flags, environment and an
//! optional TOML file into `ServeConfig`; `server` starts the three listeners
//! (OTLP/gRPC, OTLP/HTTP, UI) around one store and stops them in order.
//! `bench` is the load generator behind `loupe bench`.

pub mod bench;
pub mod config;
pub mod server;

pub use config::ServeConfig;
pub use server::Running;
