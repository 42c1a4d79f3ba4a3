//! What to drop: the telemetry the cost report can name as waste, each
//! with its measured bytes, its share of all bytes received and what
//! leaving it out would save a month.
//!
//! - Repeated calls (N+1): a parent calling one child operation five times
//!   or more; one call per parent would do, so the others' spans go, at
//!   their service's mean bytes a span.
//! - Debug and trace-level log records, per service.
//! - Access logs: a log source whose logger is an access log, whose lines
//!   say what the server spans of the same requests already say.
//! - Span attributes that carry the same value on every span of a trace
//!   (in nearly every sampled trace): one copy a trace would do, on the
//!   root span or the resource.
//! - The heaviest span attribute keys, as the sample measured them, but
//!   never one that ties telemetry together (a request or trace id).

use serde::{Deserialize, Serialize};

use store::LogSource;

/// One thing to drop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropRow {
    /// `repeated_calls`, `debug_logs`, `access_log` or `attribute_key`.
    pub kind: String,
    pub service: String,
    /// The operation repeated, the logger, or the attribute key.
    pub what: String,
    /// The span name to search for, when the waste is spans.
    pub operation: Option<String>,
    pub wire_bytes: u64,
    /// Of every byte received in the window.
    pub share: f64,
    /// That share of the month's projected cost.
    pub monthly_saving: f64,
}

/// A repeated call as the analysis counted it.
pub struct Repeated<'a> {
    pub operation: &'a str,
    pub child_service: &'a str,
    pub child_operation: &'a str,
    pub parents: u64,
    pub calls: u64,
}

/// A span attribute key and the bytes it is estimated to take, heaviest
/// first as the cost report's sample measured them.
pub struct HeavyKey<'a> {
    pub key: &'a str,
    pub estimated_bytes: u64,
}

/// The bytes a service's spans took, and how many there were.
pub struct SpanBytes<'a> {
    pub service: &'a str,
    pub spans: u64,
    pub wire_bytes: u64,
}

/// Of the sampled traces whose spans carry a key more than once, the share
/// that must carry one value on all of them for the key to count as
/// repeated; and how many such traces the sample must hold to say so.
const SAME_VALUE_SHARE: f64 = 0.9;
const SAME_VALUE_TRACES: usize = 5;

/// The span attribute keys whose value repeats on every span of a trace,
/// spans of different operations (the same query on each call of an N+1
/// is no repetition: each call ran it), with the bytes (key and value, as
/// the sample measured them) of the copies past one a trace: `sample` is
/// each sampled span's trace, name and attributes (as stored: a JSON
/// object).
pub fn repeated_values<'a>(
    sample: impl IntoIterator<Item = (&'a [u8], &'a str, &'a str)>,
) -> Vec<(String, u64)> {
    use std::collections::BTreeMap;
    // Per key, per trace: spans with it, the first value, one value alone,
    // the bytes of one copy, and whether spans of other names carry it.
    struct Seen<'a> {
        spans: u64,
        first: String,
        same: bool,
        bytes: u64,
        name: &'a str,
        names: bool,
    }
    let mut keys: BTreeMap<String, BTreeMap<&[u8], Seen<'_>>> = BTreeMap::new();
    for (trace, name, attributes) in sample {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str(attributes) else {
            continue;
        };
        for (key, value) in map {
            let value = value.to_string();
            let bytes = (key.len() + value.len()) as u64;
            let seen = keys.entry(key).or_default().entry(trace).or_insert(Seen {
                spans: 0,
                first: value.clone(),
                same: true,
                bytes,
                name,
                names: false,
            });
            seen.spans += 1;
            seen.same &= seen.first == value;
            seen.names |= seen.name != name;
        }
    }
    keys.into_iter()
        .filter_map(|(key, traces)| {
            let repeated: Vec<&Seen<'_>> =
                traces.values().filter(|s| s.spans > 1 && s.names).collect();
            let same = repeated.iter().filter(|s| s.same).count();
            let enough = repeated.len() >= SAME_VALUE_TRACES
                && same as f64 >= repeated.len() as f64 * SAME_VALUE_SHARE;
            let copies: u64 = repeated
                .iter()
                .filter(|s| s.same)
                .map(|s| (s.spans - 1) * s.bytes)
                .sum();
            enough.then_some((key, copies))
        })
        .collect()
}

/// Rows kept, biggest first.
const KEPT: usize = 10;
/// Attribute keys named at most.
const KEYS: usize = 3;
/// Severity numbers of DEBUG and TRACE (OpenTelemetry's 1 to 8).
const DEBUG: std::ops::RangeInclusive<i32> = 1..=8;

/// `same_values`: the keys `repeated_values` found, their bytes scaled to
/// the window like `keys`'.
pub fn what_to_drop(
    repeated: &[Repeated<'_>],
    spans: &[SpanBytes<'_>],
    logs: &[LogSource],
    keys: &[HeavyKey<'_>],
    same_values: &[HeavyKey<'_>],
    total_wire: u64,
    monthly_cost: f64,
) -> Vec<DropRow> {
    let row = |kind: &str, service: &str, what: String, wire_bytes: u64| {
        let share = if total_wire == 0 {
            0.0
        } else {
            wire_bytes as f64 / total_wire as f64
        };
        DropRow {
            kind: kind.to_owned(),
            service: service.to_owned(),
            what,
            operation: None,
            wire_bytes,
            share,
            monthly_saving: share * monthly_cost,
        }
    };
    let mut rows = Vec::new();
    for r in repeated {
        let Some(s) = spans.iter().find(|s| s.service == r.child_service) else {
            continue;
        };
        let per_span = s.wire_bytes.checked_div(s.spans).unwrap_or(0);
        let extra = r.calls.saturating_sub(r.parents);
        rows.push(DropRow {
            operation: Some(r.child_operation.to_owned()),
            ..row(
                "repeated_calls",
                r.child_service,
                format!("{} repeated by {}", r.child_operation, r.operation),
                extra * per_span,
            )
        });
    }
    let mut debug: Vec<(&str, u64)> = Vec::new();
    for source in logs.iter().filter(|l| DEBUG.contains(&l.severity_number)) {
        match debug.iter_mut().find(|(s, _)| *s == source.service) {
            Some((_, bytes)) => *bytes += source.wire_bytes,
            None => debug.push((&source.service, source.wire_bytes)),
        }
    }
    for (service, bytes) in debug {
        rows.push(row(
            "debug_logs",
            service,
            "DEBUG and TRACE records".into(),
            bytes,
        ));
    }
    let mut access: Vec<(&str, &str, u64)> = Vec::new();
    for source in logs
        .iter()
        .filter(|l| l.scope.to_ascii_lowercase().contains("access"))
    {
        match access
            .iter_mut()
            .find(|(s, scope, _)| *s == source.service && *scope == source.scope)
        {
            Some((_, _, bytes)) => *bytes += source.wire_bytes,
            None => access.push((&source.service, &source.scope, source.wire_bytes)),
        }
    }
    for (service, scope, bytes) in access {
        rows.push(row("access_log", service, scope.to_owned(), bytes));
    }
    let ties = |key: &str| {
        let key = key.to_ascii_lowercase().replace(['.', '-'], "_");
        ["request_id", "correlation", "trace_id", "span_id"]
            .iter()
            .any(|id| key.contains(id))
    };
    for key in same_values.iter().filter(|k| !ties(k.key)) {
        rows.push(row(
            "repeated_attribute",
            "",
            key.key.to_owned(),
            key.estimated_bytes,
        ));
    }
    for key in keys.iter().filter(|k| !ties(k.key)).take(KEYS) {
        rows.push(row(
            "attribute_key",
            "",
            key.key.to_owned(),
            key.estimated_bytes,
        ));
    }
    rows.retain(|r| r.wire_bytes > 0);
    rows.sort_by(|a, b| {
        b.wire_bytes
            .cmp(&a.wire_bytes)
            .then_with(|| (&a.kind, &a.service, &a.what).cmp(&(&b.kind, &b.service, &b.what)))
    });
    rows.truncate(KEPT);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(service: &str, severity: i32, scope: &str, bytes: u64) -> LogSource {
        LogSource {
            service: service.into(),
            severity_number: severity,
            severity_text: String::new(),
            scope: scope.into(),
            records: 1,
            wire_bytes: bytes,
        }
    }

    #[test]
    fn waste_is_named_measured_and_priced() {
        let repeated = [Repeated {
            operation: "GET /cart",
            child_service: "db",
            child_operation: "SELECT item",
            parents: 10,
            calls: 60,
        }];
        let spans = [SpanBytes {
            service: "db",
            spans: 100,
            wire_bytes: 20_000,
        }];
        let logs = [
            source("api", 5, "app", 3_000),
            source("api", 1, "app", 1_000),
            source("api", 9, "uvicorn.access", 6_000),
            source("api", 9, "app", 50_000),
        ];
        let key = |key, estimated_bytes| HeavyKey {
            key,
            estimated_bytes,
        };
        // What ties telemetry together is never offered.
        let keys = [
            key("request.id", 9_000),
            key("http.request.header.x-request-id", 8_000),
            key("http.user_agent", 2_000),
        ];
        let same = [key("tenant", 3_000), key("request_id", 7_000)];
        let rows = what_to_drop(&repeated, &spans, &logs, &keys, &same, 100_000, 10.0);
        let got: Vec<(&str, &str, &str, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r.kind.as_str(),
                    r.service.as_str(),
                    r.what.as_str(),
                    r.wire_bytes,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                // 50 calls more than one a parent, at 200 bytes a span.
                (
                    "repeated_calls",
                    "db",
                    "SELECT item repeated by GET /cart",
                    10_000
                ),
                ("access_log", "api", "uvicorn.access", 6_000),
                ("debug_logs", "api", "DEBUG and TRACE records", 4_000),
                ("repeated_attribute", "", "tenant", 3_000),
                ("attribute_key", "", "http.user_agent", 2_000),
            ]
        );
        assert!((rows[0].share - 0.1).abs() < 1e-12);
        assert!((rows[0].monthly_saving - 1.0).abs() < 1e-12);
        assert!(what_to_drop(&[], &[], &[], &[], &[], 0, 0.0).is_empty());
    }

    #[test]
    fn values_repeated_on_every_span_of_a_trace_are_found() {
        let mut sample: Vec<([u8; 1], String, String)> = Vec::new();
        for trace in 0..6u8 {
            // `tenant` is the trace's own on all three spans; `user` only
            // in the first trace; `step` differs on every span.
            for step in 0..3 {
                let user = if trace == 0 { ",\"user\":\"u\"" } else { "" };
                sample.push((
                    [trace],
                    format!("op{step}"),
                    format!("{{\"tenant\":\"t{trace}\",\"step\":{step}{user}}}"),
                ));
            }
            // An N+1: one query on every call is no repetition.
            for _ in 0..4 {
                sample.push((
                    [trace],
                    "SELECT".into(),
                    "{\"db.statement\":\"SELECT 1\"}".into(),
                ));
            }
        }
        let found = |sample: &[([u8; 1], String, String)]| {
            repeated_values(
                sample
                    .iter()
                    .map(|(t, n, a)| (&t[..], n.as_str(), a.as_str())),
            )
        };
        // Six traces, two copies past one each, of `"tenant"` + `"t0"`.
        assert_eq!(found(&sample), [("tenant".to_owned(), 6 * 2 * (6 + 4))]);
        sample.push(([9], "a".into(), "{\"tenant\":\"a\"}".into()));
        sample.push(([9], "b".into(), "{\"tenant\":\"b\"}".into()));
        assert!(found(&sample).is_empty(), "6 of 7 traces is under 90 %");
        // Too few traces to say.
        assert!(found(&sample[..28]).is_empty());
    }
}
