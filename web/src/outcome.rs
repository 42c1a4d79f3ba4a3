//! What became of a request: each of its traces is an attempt (a client's
//! retry arrives as a trace of its own under the same request id), told by
//! its entry span, the one the caller waited on (docs/adr/0023); the
//! request succeeded when its last attempt did.

use store::SpanView;
use store::model::SpanKind;
use store::value::Value;

use crate::error_origin;

/// One attempt: a trace of the request, by its entry span.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub trace_id: String,
    pub start_ns: i64,
    pub duration_ns: i64,
    /// The entry span's HTTP response status code, when it has one.
    pub http_status: Option<i64>,
    pub failed: bool,
    /// Where it failed, when it did: `service › operation › exception`.
    pub origin: Option<String>,
}

/// The attempts of a request's spans (of any number of traces), in the
/// order they started.
pub fn attempts(spans: &[SpanView]) -> Vec<Attempt> {
    let mut traces: Vec<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    traces.sort_unstable();
    traces.dedup();
    let mut attempts: Vec<Attempt> = traces
        .into_iter()
        .filter_map(|trace_id| {
            let trace: Vec<SpanView> = spans
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .cloned()
                .collect();
            attempt(trace_id, &trace)
        })
        .collect();
    attempts.sort_by(|a, b| (a.start_ns, &a.trace_id).cmp(&(b.start_ns, &b.trace_id)));
    attempts
}

fn attempt(trace_id: &str, spans: &[SpanView]) -> Option<Attempt> {
    let entry = entry(spans)?;
    let http_status = ["http.response.status_code", "http.status_code"]
        .iter()
        .find_map(|key| match entry.attributes.get(key) {
            Some(Value::Int(code)) => Some(*code),
            Some(Value::String(code)) => code.parse().ok(),
            _ => None,
        });
    // An answer of 5xx failed whatever the span's status says; a 4xx is the
    // caller's mistake, answered.
    let failed = entry.is_error || http_status.is_some_and(|code| code >= 500);
    let origin = failed
        .then(|| error_origin::find(spans))
        .flatten()
        .map(|o| {
            let mut place = format!("{} › {}", o.service, o.operation);
            if let Some(what) = o.exception_type.or(o.exception_message) {
                place.push_str(" › ");
                place.push_str(&what);
            }
            place
        });
    Some(Attempt {
        trace_id: trace_id.to_owned(),
        start_ns: entry.start_time_unix_nano,
        duration_ns: entry.duration_ns,
        http_status,
        failed,
        origin,
    })
}

/// The root; without one, the earliest server or consumer span; without
/// those, the earliest span.
fn entry(spans: &[SpanView]) -> Option<&SpanView> {
    let earliest = |kinds: &dyn Fn(&SpanView) -> bool| {
        spans
            .iter()
            .filter(|s| kinds(s))
            .min_by_key(|s| (s.start_time_unix_nano, s.span_id.as_str()))
    };
    earliest(&|s| s.parent_span_id.as_deref().is_none_or(str::is_empty))
        .or_else(|| earliest(&|s| matches!(s.kind, SpanKind::Server | SpanKind::Consumer)))
        .or_else(|| earliest(&|_| true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::span;
    use store::value::Attributes;

    fn with_status(mut s: SpanView, code: i64) -> SpanView {
        s.attributes = Attributes(vec![("http.response.status_code".into(), Value::Int(code))]);
        s.is_error = code >= 500;
        s
    }

    fn failed(mut s: SpanView) -> SpanView {
        s.is_error = true;
        s
    }

    #[test]
    fn each_trace_is_an_attempt_told_by_its_entry_span() {
        let spans = vec![
            // The retry, listed first: attempts go by their start.
            with_status(span("t2", "r2", None, 3_000, 3_401), 201),
            with_status(span("t1", "r1", None, 1_000, 3_040), 502),
            failed(span("t1", "c1", Some("r1"), 1_010, 3_030)),
            // A consumer that worked on after the answer: not the entry.
            span("t2", "n2", Some("r2"), 3_500, 9_000),
        ];
        let got = attempts(&spans);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (
                got[0].trace_id.as_str(),
                got[0].duration_ns,
                got[0].http_status,
                got[0].failed
            ),
            ("t1", 2_040, Some(502), true)
        );
        assert_eq!(got[0].origin.as_deref(), Some("svc › c1"));
        assert_eq!(
            (
                got[1].trace_id.as_str(),
                got[1].duration_ns,
                got[1].http_status,
                got[1].failed,
                got[1].origin.as_deref()
            ),
            ("t2", 401, Some(201), false, None)
        );
    }

    #[test]
    fn an_attempt_without_a_root_is_told_by_its_earliest_server_span() {
        let mut server = span("t", "s", Some("gone"), 20, 70);
        server.kind = SpanKind::Server;
        let client = span("t", "c", Some("s"), 10, 90);
        let got = attempts(&[client, server]);
        assert_eq!((got[0].start_ns, got[0].duration_ns), (20, 50));
        // A 404 is an answer, not a failure; a 503 without an error status is one.
        let got = attempts(&[with_status(span("a", "x", None, 0, 5), 404)]);
        assert!(!got[0].failed);
        let mut unavailable = with_status(span("b", "y", None, 0, 5), 503);
        unavailable.is_error = false;
        assert!(attempts(&[unavailable])[0].failed);
    }
}
