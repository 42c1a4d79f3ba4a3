//! A log row of a database older than log packs (ADR 0022) and the pack a
//! run of them is rewritten into. Each backend's conversion runs after the
//! migrations, in one transaction, so a database is either wholly
//! converted or not at all.

use std::collections::HashMap;

use crate::error::Result;
use crate::log_packs::{self, LogPack};
use crate::model::{Batch, LogRecord, Resource, Scope};
use crate::stored_json::attributes;
use crate::value::{Attributes, Value};

/// Log rows rewritten into one pack.
pub(crate) const PACK_LOGS: i64 = 1024;

/// The columns of an old log row that `OldLog` reads; `l` the log rows,
/// `r` and `sc` their resource and scope.
pub(crate) const OLD_LOG_COLUMNS: &str = "l.time_ns, l.observed_ns, \
     coalesce(r.fingerprint, 0) AS resource_fp, coalesce(sc.fingerprint, 0) AS scope_fp, \
     l.service, l.severity_number, l.severity_text, l.body, l.event_name, l.attributes, \
     CAST(l.dropped_attributes_count AS BIGINT) AS dropped_attributes_count, \
     CAST(l.flags AS BIGINT) AS flags, l.trace_id, l.span_id, l.request_id, \
     CAST(l.wire_bytes AS BIGINT) AS wire_bytes";

#[derive(sqlx::FromRow)]
pub(crate) struct OldLog {
    time_ns: i64,
    observed_ns: i64,
    resource_fp: i64,
    scope_fp: i64,
    service: String,
    severity_number: i32,
    severity_text: String,
    body: String,
    event_name: String,
    attributes: String,
    dropped_attributes_count: i64,
    flags: i64,
    trace_id: Option<Vec<u8>>,
    span_id: Option<Vec<u8>>,
    request_id: Option<String>,
    wire_bytes: i64,
}

/// The pack of these rows (`None` for none). A row whose body or
/// attributes do not parse keeps them as text, and an id of the wrong
/// length is dropped: a damaged row must not stop every start.
pub(crate) fn pack(rows: Vec<OldLog>) -> Result<Option<LogPack>> {
    let mut batch = Batch::default();
    let (mut resources, mut scopes) = (Vec::new(), Vec::new());
    let mut resource_of: HashMap<(i64, String), usize> = HashMap::new();
    let mut scope_of: HashMap<i64, usize> = HashMap::new();
    for row in rows {
        let resource_idx = *resource_of
            .entry((row.resource_fp, row.service.clone()))
            .or_insert_with(|| {
                batch.resources.push(Resource {
                    service: row.service.clone(),
                    attributes: Attributes::default(),
                    dropped_attributes_count: 0,
                    schema_url: String::new(),
                });
                resources.push(row.resource_fp);
                resources.len() - 1
            });
        let scope_idx = *scope_of.entry(row.scope_fp).or_insert_with(|| {
            batch.scopes.push(Scope {
                name: String::new(),
                version: String::new(),
                attributes: Attributes::default(),
                dropped_attributes_count: 0,
                schema_url: String::new(),
            });
            scopes.push(row.scope_fp);
            scopes.len() - 1
        });
        let count = |n: i64| u32::try_from(n).unwrap_or(0);
        batch.logs.push(LogRecord {
            resource_idx,
            scope_idx,
            time_unix_nano: row.time_ns,
            observed_time_unix_nano: row.observed_ns,
            severity_number: row.severity_number,
            severity_text: row.severity_text,
            body: Value::from_json_str(&row.body).unwrap_or(Value::String(row.body)),
            event_name: row.event_name,
            attributes: attributes(&row.attributes, "log attributes").unwrap_or_default(),
            dropped_attributes_count: count(row.dropped_attributes_count),
            flags: count(row.flags),
            trace_id: row.trace_id.and_then(|id| id.try_into().ok()),
            span_id: row.span_id.and_then(|id| id.try_into().ok()),
            request_id: row.request_id,
            wire_bytes: count(row.wire_bytes),
        });
    }
    log_packs::pack(&batch, &resources, &scopes)
}

pub(crate) fn report(converted: u64) {
    if converted > 0 {
        tracing::info!(logs = converted, "log rows rewritten into packs");
    }
}
