//! What reads databases older than packs-only storage (ADR 0011, 0022)
//! and rewrites their span and log rows into packs at the first start of
//! a newer version. Nothing here runs once a database is converted.
//!
//! - `old_spans`: an old span row and the pack a run of them becomes.
//! - `old_logs`: the same for log rows.
//! - `payload`: SQLite's compressed span payloads (ADR 0008), read back.
//! - `sqlite`, `postgres`: the conversion on each backend.

pub(crate) mod old_logs;
pub(crate) mod old_spans;
pub(crate) mod payload;
pub(crate) mod postgres;
pub(crate) mod sqlite;
