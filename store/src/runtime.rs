//! How the store's synchronous work runs inside tokio, and how long it
//! waits for other writers.

use std::time::Duration;

use crate::error::{Result, StoreError};

/// How long a writer waits for a lock held by another connection or process.
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs CPU-bound or synchronously stepping work (the SQLite writer's C-API
/// inserts, unpacking spans, a report's analysis) without stalling the other
/// tasks of a multi-threaded runtime's worker; on a current-thread runtime
/// (tests) there is no other worker to hand them to.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Runs a read that steps SQLite synchronously (`sqlite_ffi`) on a
/// blocking thread of its own.
pub(crate) async fn on_scan_thread<T: Send + 'static>(
    scan: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(scan)
        .await
        .map_err(|e| StoreError::Scan(format!("scan thread failed: {e}")))?
}
