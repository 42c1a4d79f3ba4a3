//! The cases every backend must pass, by signal. Each takes a fresh,
//! migrated store (`harness::run`).
//!
//! - `common`: what the cases share.
//! - `store`: what holds for every signal.
//! - `spans`, `search`, `logs`, `metrics`: each signal's reads.
//! - `retention`: what a sweep removes and keeps.
//! - `rollups`: the overview from rollups against its spans.
//! - `writers`: interning and concurrent writers.

mod common;
mod logs;
mod metrics;
mod retention;
mod rollups;
mod search;
mod spans;
mod store;
mod writers;

pub use logs::*;
pub use metrics::*;
pub use retention::*;
pub use rollups::*;
pub use search::*;
pub use spans::*;
pub use store::*;
pub use writers::*;
