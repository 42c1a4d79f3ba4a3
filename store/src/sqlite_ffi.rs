//! SQLite's C API where sqlx's per-row costs dominate (docs/adr/0005,
//! 0012). The reports' packs (also the services overview's) are stepped on
//! a blocking thread of their own connection, borrowed from SQLite and
//! unpacked on the same thread, instead of each copied and handed from
//! SQLite's thread to the reader. The writer's transactions
//! (`sqlite_write`) step on a connection of its own, which sqlx never
//! sees; the conversion of older databases steps on sqlx's, lent
//! (`with_locked`), and registers its SQL function here.
//!
//! The one `unsafe` of the workspace lives here (the workspace's lints
//! forbid it elsewhere), behind `Db` and `Stmt`, which own their handles
//! and free them on drop (a lent connection is never closed).

#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;

use crate::error::{Result, StoreError};
use crate::runtime::LOCK_TIMEOUT;

/// The packs whose range of starts meets the window (`span_packs_window`).
const PACKS: &CStr = c"SELECT data FROM span_packs WHERE start_hi >= ?1 AND start_lo < ?2";

/// Every pack's span-id filter, from the index that holds them alone.
const SPAN_FILTERS: &CStr =
    c"SELECT id, span_filter FROM span_packs INDEXED BY span_packs_span_filters";

/// A window's log packs, newest first, with their id filters, from the
/// index that holds them (`log_packs_window`); with their terms too.
const LOG_PACK_IDS: &CStr = c"SELECT id, ts_hi, ids FROM log_packs INDEXED BY log_packs_window \
    WHERE ts_hi >= ?1 AND ts_lo < ?2 ORDER BY ts_hi DESC";
const LOG_PACK_TERMS: &CStr = c"SELECT id, ts_hi, ids, terms FROM log_packs \
    WHERE ts_hi >= ?1 AND ts_lo < ?2 ORDER BY ts_hi DESC";

pub(crate) struct Db(NonNull<ffi::sqlite3>);

// SAFETY: connections are opened in SQLite's multi-thread mode
// (`SQLITE_OPEN_NOMUTEX`), in which a connection may move between threads
// as long as two never use it at once; `Db` is not `Sync`, so sharing one
// takes a lock (the writer's `Mutex`).
unsafe impl Send for Db {}

impl Drop for Db {
    fn drop(&mut self) {
        // SAFETY: the handle came from sqlite3_open_v2 and is closed once;
        // every statement of it (`Stmt`) borrows it and is finalized first.
        unsafe { ffi::sqlite3_close(self.0.as_ptr()) };
    }
}

pub(crate) struct Stmt<'db> {
    raw: NonNull<ffi::sqlite3_stmt>,
    db: &'db Db,
}

impl Drop for Stmt<'_> {
    fn drop(&mut self) {
        // SAFETY: prepared by sqlite3_prepare_v2 on `db`, finalized once.
        unsafe { ffi::sqlite3_finalize(self.raw.as_ptr()) };
    }
}

/// What went wrong on `db`, as SQLite last said.
///
/// # Safety
/// `db` is null or a valid connection handle not in use on another thread.
unsafe fn error(db: *mut ffi::sqlite3, what: &str) -> StoreError {
    if db.is_null() {
        return StoreError::Scan(format!("{what}: out of memory"));
    }
    // SAFETY: sqlite3_errmsg returns a NUL-terminated string owned by the
    // connection, valid until the next call on it; copied at once.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: a valid handle, as the caller promises.
    match unsafe { ffi::sqlite3_errcode(db) } {
        ffi::SQLITE_FULL => StoreError::DiskFull(message),
        ffi::SQLITE_READONLY => StoreError::ReadOnly(message),
        _ => StoreError::Scan(format!("{what}: {message}")),
    }
}

impl Db {
    /// A connection someone else owns, lent for a while: never closed here.
    ///
    /// # Safety
    /// `raw` is a valid connection handle that outlives the value returned
    /// and is used by no other thread meanwhile.
    pub(crate) unsafe fn borrowed(raw: NonNull<ffi::sqlite3>) -> std::mem::ManuallyDrop<Db> {
        std::mem::ManuallyDrop::new(Db(raw))
    }

    /// What SQLite last said went wrong on this connection.
    fn error(&self, what: &str) -> StoreError {
        // SAFETY: a valid handle, used by this thread alone meanwhile.
        unsafe { error(self.0.as_ptr(), what) }
    }

    fn open_read_only(path: &Path) -> Result<Db> {
        Db::open(path, ffi::SQLITE_OPEN_READONLY)
    }

    /// The writer's connection to an existing database (created and
    /// migrated through sqlx), with `pragmas` (name, value) set.
    pub(crate) fn open_writer(path: &Path, pragmas: &[(&str, &str)]) -> Result<Db> {
        let db = Db::open(path, ffi::SQLITE_OPEN_READWRITE)?;
        for (name, value) in pragmas {
            let sql = CString::new(format!("PRAGMA {name} = {value}"))
                .map_err(|_| StoreError::Scan("a pragma holds a NUL byte".into()))?;
            db.exec(&sql)?;
        }
        Ok(db)
    }

    fn open(path: &Path, flags: i32) -> Result<Db> {
        let name = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| StoreError::Scan("database path holds a NUL byte".into()))?;
        let mut raw = ptr::null_mut();
        // SAFETY: `name` is NUL-terminated; `raw` receives a handle, or null.
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                name.as_ptr(),
                &mut raw,
                flags | ffi::SQLITE_OPEN_NOMUTEX,
                ptr::null(),
            )
        };
        // SAFETY: `raw` is null (out of memory) or the handle just opened.
        let db = Db(NonNull::new(raw).ok_or_else(|| unsafe { error(raw, "open") })?);
        if rc != ffi::SQLITE_OK {
            return Err(db.error("open"));
        }
        // SAFETY: a valid, open handle.
        unsafe { ffi::sqlite3_busy_timeout(raw, LOCK_TIMEOUT.as_millis() as i32) };
        Ok(db)
    }

    /// The rowid the last INSERT on this connection gave its row.
    pub(crate) fn last_insert_rowid(&self) -> i64 {
        // SAFETY: a valid handle, used by this thread alone meanwhile.
        unsafe { ffi::sqlite3_last_insert_rowid(self.0.as_ptr()) }
    }

    /// Runs one statement that returns no rows (`BEGIN`, `COMMIT`…).
    pub(crate) fn exec(&self, sql: &CStr) -> Result<()> {
        self.prepare(sql)?.execute()
    }

    /// Rows the last INSERT, UPDATE or DELETE on this connection changed.
    pub(crate) fn changes(&self) -> i64 {
        // SAFETY: a valid handle, used by this thread alone meanwhile.
        unsafe { ffi::sqlite3_changes64(self.0.as_ptr()) }
    }

    /// False inside a transaction (`BEGIN` until `COMMIT` or `ROLLBACK`).
    pub(crate) fn autocommit(&self) -> bool {
        // SAFETY: a valid handle, used by this thread alone meanwhile.
        unsafe { ffi::sqlite3_get_autocommit(self.0.as_ptr()) != 0 }
    }

    pub(crate) fn prepare(&self, sql: &CStr) -> Result<Stmt<'_>> {
        let mut raw = ptr::null_mut();
        // SAFETY: a valid handle and a NUL-terminated statement.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(self.0.as_ptr(), sql.as_ptr(), -1, &mut raw, ptr::null_mut())
        };
        match NonNull::new(raw) {
            Some(raw) if rc == ffi::SQLITE_OK => Ok(Stmt { raw, db: self }),
            _ => Err(self.error("prepare")),
        }
    }
}

impl Stmt<'_> {
    pub(crate) fn bind_int(&mut self, index: i32, value: i64) -> Result<()> {
        // SAFETY: a valid statement; SQLite checks the index.
        match unsafe { ffi::sqlite3_bind_int64(self.raw.as_ptr(), index, value) } {
            ffi::SQLITE_OK => Ok(()),
            _ => Err(self.db.error("bind")),
        }
    }

    pub(crate) fn bind_blob(&mut self, index: i32, value: &[u8]) -> Result<()> {
        let len = i32::try_from(value.len())
            .map_err(|_| StoreError::Scan(format!("a value of {} bytes", value.len())))?;
        // SAFETY: a valid statement; SQLITE_TRANSIENT makes SQLite copy the
        // bytes before this returns, so `value` need not outlive the call.
        let rc = unsafe {
            ffi::sqlite3_bind_blob(
                self.raw.as_ptr(),
                index,
                value.as_ptr().cast(),
                len,
                ffi::SQLITE_TRANSIENT(),
            )
        };
        match rc {
            ffi::SQLITE_OK => Ok(()),
            _ => Err(self.db.error("bind")),
        }
    }

    pub(crate) fn bind_null(&mut self, index: i32) -> Result<()> {
        // SAFETY: a valid statement; SQLite checks the index.
        match unsafe { ffi::sqlite3_bind_null(self.raw.as_ptr(), index) } {
            ffi::SQLITE_OK => Ok(()),
            _ => Err(self.db.error("bind")),
        }
    }

    pub(crate) fn bind_text(&mut self, index: i32, value: &str) -> Result<()> {
        let len = i32::try_from(value.len())
            .map_err(|_| StoreError::Scan(format!("a text of {} bytes", value.len())))?;
        // SAFETY: as `bind_blob`: SQLITE_TRANSIENT copies the bytes now.
        let rc = unsafe {
            ffi::sqlite3_bind_text(
                self.raw.as_ptr(),
                index,
                value.as_ptr().cast(),
                len,
                ffi::SQLITE_TRANSIENT(),
            )
        };
        match rc {
            ffi::SQLITE_OK => Ok(()),
            _ => Err(self.db.error("bind")),
        }
    }

    pub(crate) fn bind_double(&mut self, index: i32, value: f64) -> Result<()> {
        // SAFETY: a valid statement; SQLite checks the index.
        match unsafe { ffi::sqlite3_bind_double(self.raw.as_ptr(), index, value) } {
            ffi::SQLITE_OK => Ok(()),
            _ => Err(self.db.error("bind")),
        }
    }

    pub(crate) fn bind_opt_double(&mut self, index: i32, value: Option<f64>) -> Result<()> {
        match value {
            Some(value) => self.bind_double(index, value),
            None => self.bind_null(index),
        }
    }

    pub(crate) fn bind_opt_blob(&mut self, index: i32, value: Option<&[u8]>) -> Result<()> {
        match value {
            Some(bytes) => self.bind_blob(index, bytes),
            None => self.bind_null(index),
        }
    }

    pub(crate) fn bind_opt_text(&mut self, index: i32, value: Option<&str>) -> Result<()> {
        match value {
            Some(text) => self.bind_text(index, text),
            None => self.bind_null(index),
        }
    }

    /// Runs a statement that returns no rows, then readies it for the next.
    pub(crate) fn execute(&mut self) -> Result<()> {
        let stepped = self.step();
        self.reset();
        stepped.map(|_| ())
    }

    /// Runs a statement for its first row's first column as an integer
    /// (`None` without a row), then readies it for the next.
    pub(crate) fn first_int(&mut self) -> Result<Option<i64>> {
        let row = match self.step() {
            // SAFETY: a valid statement positioned on a row.
            Ok(true) => Ok(Some(unsafe {
                ffi::sqlite3_column_int64(self.raw.as_ptr(), 0)
            })),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        };
        self.reset();
        row
    }

    /// Runs a statement for the first column of every row, as integers,
    /// then readies it for the next.
    pub(crate) fn ints(&mut self) -> Result<Vec<i64>> {
        let mut values = Vec::new();
        let stepped = loop {
            match self.step() {
                // SAFETY: a valid statement positioned on a row.
                Ok(true) => values.push(unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), 0) }),
                Ok(false) => break Ok(values),
                Err(e) => break Err(e),
            }
        };
        self.reset();
        stepped
    }

    /// Runs a statement for its first row's first two columns as integers
    /// or NULL (`None` without a row), then readies it for the next.
    pub(crate) fn first_pair(&mut self) -> Result<Option<(Option<i64>, Option<i64>)>> {
        let row = match self.step() {
            Ok(true) => {
                let mut column = |index: i32| {
                    // SAFETY: a valid statement positioned on a row, and a
                    // column it has.
                    let value = unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), index) };
                    (!self.is_null(index)).then_some(value)
                };
                Ok(Some((column(0), column(1))))
            }
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        };
        self.reset();
        row
    }

    /// Runs a statement for its first row's first column as text (`None`
    /// without a row or for NULL), then readies it for the next.
    pub(crate) fn first_text(&mut self) -> Result<Option<String>> {
        let row = match self.step() {
            Ok(true) if self.is_null(0) => Ok(None),
            Ok(true) => String::from_utf8(self.bytes(0, true).to_vec())
                .map(Some)
                .map_err(|_| StoreError::Scan("a text that is not UTF-8".into())),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        };
        self.reset();
        row
    }

    /// Runs a statement for its first row's first column as a blob
    /// (`None` without a row), then readies it for the next.
    pub(crate) fn first_blob(&mut self) -> Result<Option<Vec<u8>>> {
        let row = match self.step() {
            Ok(true) => Ok(Some(self.bytes(0, false).to_vec())),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        };
        self.reset();
        row
    }

    /// Runs a statement for its first row's columns as an integer, a text
    /// and a blob (`None` without a row), then readies it for the next.
    pub(crate) fn first_summary(&mut self) -> Result<Option<(i64, String, Vec<u8>)>> {
        let row = match self.step() {
            Ok(true) => match String::from_utf8(self.bytes(1, true).to_vec()) {
                Ok(text) => Ok(Some((
                    // SAFETY: a valid statement positioned on a row.
                    unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), 0) },
                    text,
                    self.bytes(2, false).to_vec(),
                ))),
                Err(_) => Err(StoreError::Scan("a text that is not UTF-8".into())),
            },
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        };
        self.reset();
        row
    }

    /// Runs a statement, handing every row to `each`, then readies it for
    /// the next.
    pub(crate) fn each_row(
        &mut self,
        mut each: impl FnMut(Row<'_, '_>) -> Result<()>,
    ) -> Result<()> {
        let stepped = loop {
            match self.step() {
                Ok(true) => {
                    if let Err(e) = each(Row(self)) {
                        break Err(e);
                    }
                }
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.reset();
        stepped
    }

    fn reset(&mut self) {
        // SAFETY: a valid statement; bindings are kept and rebound next.
        unsafe { ffi::sqlite3_reset(self.raw.as_ptr()) };
    }

    /// `Ok(true)` when a row is ready to be read.
    fn step(&mut self) -> Result<bool> {
        // SAFETY: a valid statement, stepped on the thread that owns it.
        match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            _ => Err(self.db.error("step")),
        }
    }

    /// Whether the column of the row the statement is on is NULL.
    fn is_null(&mut self, column: i32) -> bool {
        // SAFETY: a valid statement positioned on a row; SQLite checks the column.
        unsafe { ffi::sqlite3_column_type(self.raw.as_ptr(), column) == ffi::SQLITE_NULL }
    }

    /// The column's bytes, valid until the next step (the borrow says so).
    fn bytes(&mut self, column: i32, text: bool) -> &[u8] {
        // SAFETY: a valid statement positioned on a row; SQLite's docs ask
        // for the pointer first,
        // then the length. The bytes live until the next step or finalize,
        // both of which need `&mut self`, which this borrow holds.
        unsafe {
            let data = if text {
                ffi::sqlite3_column_text(self.raw.as_ptr(), column).cast::<u8>()
            } else {
                ffi::sqlite3_column_blob(self.raw.as_ptr(), column).cast::<u8>()
            };
            let len = ffi::sqlite3_column_bytes(self.raw.as_ptr(), column);
            if data.is_null() || len <= 0 {
                &[]
            } else {
                std::slice::from_raw_parts(data, len as usize)
            }
        }
    }
}

/// The row a statement is on, only while it is on it (`Stmt::each_row`).
pub(crate) struct Row<'s, 'db>(&'s mut Stmt<'db>);

impl Row<'_, '_> {
    pub(crate) fn int(&mut self, column: i32) -> i64 {
        // SAFETY: a valid statement positioned on a row (the only place a
        // `Row` is made); SQLite checks the column.
        unsafe { ffi::sqlite3_column_int64(self.0.raw.as_ptr(), column) }
    }

    pub(crate) fn text(&mut self, column: i32) -> Result<String> {
        String::from_utf8(self.0.bytes(column, true).to_vec())
            .map_err(|_| StoreError::Scan("a text that is not UTF-8".into()))
    }

    pub(crate) fn blob(&mut self, column: i32) -> &[u8] {
        self.0.bytes(column, false)
    }
}

/// Runs `f` on the connection sqlx has locked for us: the conversion's
/// inserts, inside the transaction sqlx began. The connection stays sqlx's (never
/// closed here); statements `f` prepares are finalized before it returns.
pub(crate) fn with_locked<T>(
    handle: &mut sqlx::sqlite::LockedSqliteHandle<'_>,
    f: impl FnOnce(&Db) -> Result<T>,
) -> Result<T> {
    // SAFETY: the lock sqlx hands over keeps the handle valid and its
    // connection ours for as long as it is borrowed here.
    let db = unsafe { Db::borrowed(handle.as_raw_handle()) };
    f(&db)
}

/// Hands `each` every pack whose range of starts meets `[start, end)`,
/// borrowed from SQLite until the next; stops early, without error, when
/// `each` returns false.
pub(crate) fn packs(
    path: &Path,
    start: i64,
    end: i64,
    mut each: impl FnMut(&[u8]) -> Result<bool>,
) -> Result<()> {
    let db = Db::open_read_only(path)?;
    let mut stmt = db.prepare(PACKS)?;
    stmt.bind_int(1, start)?;
    stmt.bind_int(2, end)?;
    while stmt.step()? {
        if !each(stmt.bytes(0, false))? {
            break;
        }
    }
    Ok(())
}

/// The ids of the packs whose span-id filter says `may_hold`.
pub(crate) fn packs_whose_filter(
    path: &Path,
    may_hold: impl Fn(&[u8]) -> bool,
) -> Result<Vec<i64>> {
    let db = Db::open_read_only(path)?;
    let mut stmt = db.prepare(SPAN_FILTERS)?;
    let mut ids = Vec::new();
    stmt.each_row(|mut row| {
        if may_hold(row.blob(1)) {
            ids.push(row.int(0));
        }
        Ok(())
    })?;
    Ok(ids)
}

/// The (id, greatest time) of the log packs meeting `[start, end]`,
/// newest first, whose id filter `ids_may` and (when `terms_may` is
/// given) whose terms filter may hold a match.
pub(crate) fn log_packs_that_may_match(
    path: &Path,
    start: i64,
    end: i64,
    ids_may: impl Fn(&[u8]) -> bool,
    terms_may: Option<impl Fn(&[u8]) -> bool>,
) -> Result<Vec<(i64, i64)>> {
    let db = Db::open_read_only(path)?;
    let mut stmt = db.prepare(match terms_may {
        Some(_) => LOG_PACK_TERMS,
        None => LOG_PACK_IDS,
    })?;
    stmt.bind_int(1, start)?;
    stmt.bind_int(2, end)?;
    let mut found = Vec::new();
    stmt.each_row(|mut row| {
        if ids_may(row.blob(2)) && terms_may.as_ref().is_none_or(|may| may(row.blob(3))) {
            found.push((row.int(0), row.int(1)));
        }
        Ok(())
    })?;
    Ok(found)
}

/// What a scalar function made by `register_blob_to_text` does with a
/// blob, given the connection it runs on.
type TextOfBlob = Box<dyn FnMut(&Db, &[u8]) -> Result<String> + Send>;
type BlobToText = std::sync::Mutex<TextOfBlob>;

/// Registers `name(value)` on the connection: NULL and text pass through,
/// a blob becomes the text `f` makes of it (an error becomes the SQL
/// statement's error). Deterministic and innocuous: no side effects, and
/// whatever `f` reads on the connection is named by its argument.
pub(crate) fn register_blob_to_text(
    db: &Db,
    name: &CStr,
    f: impl FnMut(&Db, &[u8]) -> Result<String> + Send + 'static,
) -> Result<()> {
    let boxed: TextOfBlob = Box::new(f);
    let user_data = Box::new(std::sync::Mutex::new(boxed));
    // SAFETY: a valid handle and a NUL-terminated name; SQLite owns
    // `user_data` from here and frees it through `drop_user_data` when the
    // function is replaced or the connection closes (also when
    // registration fails).
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            db.0.as_ptr(),
            name.as_ptr(),
            1,
            ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS,
            Box::into_raw(user_data).cast(),
            Some(blob_to_text),
            None,
            None,
            Some(drop_user_data),
        )
    };
    match rc {
        ffi::SQLITE_OK => Ok(()),
        _ => Err(db.error("register a function")),
    }
}

/// # Safety
/// `user_data` is the pointer `register_blob_to_text` gave SQLite, freed once.
unsafe extern "C" fn drop_user_data(user_data: *mut std::ffi::c_void) {
    // SAFETY: as the caller promises.
    drop(unsafe { Box::from_raw(user_data.cast::<BlobToText>()) });
}

/// # Safety
/// Called by SQLite with a valid context and `argc` valid values.
unsafe extern "C" fn blob_to_text(
    ctx: *mut ffi::sqlite3_context,
    argc: i32,
    argv: *mut *mut ffi::sqlite3_value,
) {
    if argc != 1 {
        // SAFETY: a valid context, as SQLite promises.
        return unsafe { result_error(ctx, "the function takes one value") };
    }
    // SAFETY: SQLite passes a valid context and one valid value; the
    // blob's bytes live until the function returns; the user data is the
    // `BlobToText` registered with the function, alive while it is; the
    // connection is the one running the statement, borrowed, never closed.
    unsafe {
        let value = *argv;
        match ffi::sqlite3_value_type(value) {
            ffi::SQLITE_NULL | ffi::SQLITE_TEXT => ffi::sqlite3_result_value(ctx, value),
            ffi::SQLITE_BLOB => {
                let data = ffi::sqlite3_value_blob(value).cast::<u8>();
                let len = ffi::sqlite3_value_bytes(value);
                let blob = if data.is_null() || len <= 0 {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(data, len as usize)
                };
                let f = &*ffi::sqlite3_user_data(ctx).cast::<BlobToText>();
                let Some(db) = NonNull::new(ffi::sqlite3_context_db_handle(ctx)) else {
                    return result_error(ctx, "no connection");
                };
                let db = Db::borrowed(db);
                let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
                    match f(&db, blob) {
                        // SQLITE_TRANSIENT: SQLite copies the text before this returns.
                        Ok(text) => ffi::sqlite3_result_text64(
                            ctx,
                            text.as_ptr().cast(),
                            text.len() as u64,
                            ffi::SQLITE_TRANSIENT(),
                            ffi::SQLITE_UTF8 as u8,
                        ),
                        Err(err) => result_error(ctx, &err.to_string()),
                    }
                }));
                if answered.is_err() {
                    result_error(ctx, "the function failed");
                }
            }
            _ => result_error(ctx, "a value that is neither text nor blob"),
        }
    }
}

/// # Safety
/// `ctx` is the valid context of a function call in progress.
unsafe fn result_error(ctx: *mut ffi::sqlite3_context, message: &str) {
    // SAFETY: as the caller promises; SQLite copies the message (explicit length).
    unsafe {
        ffi::sqlite3_result_error(ctx, message.as_ptr().cast(), message.len() as i32);
    }
}
