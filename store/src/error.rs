//! The store's one error type. Messages say what failed in the user's
//! terms; SQL and internal details stay in the logs.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://…")]
    BadUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(
        "PostgreSQL at {0} cannot be reached ({1}): is it running, and is the database URL right?"
    )]
    Unreachable(String, String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Scan(String),
    /// The SQLite file was deleted or replaced under the running server:
    /// a commit into the old file would be acknowledged and then lost.
    #[error(
        "the database file {0} was deleted or replaced while loupe ran; writes are refused until loupe is restarted"
    )]
    FileReplaced(String),
    /// A read that would hold more than it may in memory, refused before
    /// it started; the message says what to narrow.
    #[error("{0}")]
    ReadTooLarge(String),
    #[error("the database is read-only: {0}")]
    ReadOnly(String),
    /// The filesystem (or, for PostgreSQL, the server's) has no room left:
    /// the transaction was rolled back; retried once space is freed.
    #[error("the disk holding the database is full ({0}): free space or lower --retention")]
    DiskFull(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stored value that does not read back; `what` names it.
pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}
