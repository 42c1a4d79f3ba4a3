//! Where a trace's failure started. A span is in error when its status is
//! ERROR, it records an `exception` event, or it is a server span answering
//! 5xx (decided at ingest: `SpanView::is_error`). An origin is an error span
//! none of whose descendants is in error; the error spans on the path from an
//! origin up to the root propagated it.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use store::value::Value;
use store::{SpanNode, SpanView};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanRef {
    pub span_id: String,
    pub service: String,
    pub operation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorOrigin {
    pub span_id: String,
    pub service: String,
    pub operation: String,
    pub exception_type: Option<String>,
    pub exception_message: Option<String>,
    pub stacktrace: Option<String>,
    /// Error spans above the origin, nearest first.
    pub propagated_through: Vec<SpanRef>,
    /// Every origin of the trace, earliest first; the first is the one described above.
    pub origins: Vec<SpanRef>,
}

/// What finding origins needs of a span, so that the failures page can
/// place a thousand traces from narrow rows and read whole spans only for
/// their origins.
pub trait Placed {
    fn trace_id(&self) -> &str;
    fn span_id(&self) -> &str;
    fn parent_span_id(&self) -> Option<&str>;
    fn is_error(&self) -> bool;
    fn start(&self) -> i64;
}

/// Both span shapes name these fields alike.
macro_rules! placed {
    ($($shape:ty),*) => {$(
        impl Placed for $shape {
            fn trace_id(&self) -> &str {
                &self.trace_id
            }
            fn span_id(&self) -> &str {
                &self.span_id
            }
            fn parent_span_id(&self) -> Option<&str> {
                self.parent_span_id.as_deref()
            }
            fn is_error(&self) -> bool {
                self.is_error
            }
            fn start(&self) -> i64 {
                self.start_time_unix_nano
            }
        }
    )*};
}

placed!(SpanView, SpanNode);

/// A trace's spans gathered from a longer list, by reference.
impl<S: Placed> Placed for &S {
    fn trace_id(&self) -> &str {
        (*self).trace_id()
    }
    fn span_id(&self) -> &str {
        (*self).span_id()
    }
    fn parent_span_id(&self) -> Option<&str> {
        (*self).parent_span_id()
    }
    fn is_error(&self) -> bool {
        (*self).is_error()
    }
    fn start(&self) -> i64 {
        (*self).start()
    }
}

/// The origins among one trace's spans (error spans without an error span
/// below them), earliest first.
pub fn origins<S: Placed>(spans: &[S]) -> Vec<&S> {
    let by_id: HashMap<&str, &S> = spans.iter().map(|s| (s.span_id(), s)).collect();
    // Mark every ancestor of an error span as having an error below it.
    let mut error_below: HashSet<&str> = HashSet::new();
    for span in spans.iter().filter(|s| s.is_error()) {
        let mut parent = span.parent_span_id();
        while let Some(id) = parent {
            // Already marked means its ancestors are too (and a cycle ends here).
            if !error_below.insert(id) {
                break;
            }
            parent = by_id.get(id).and_then(|p| p.parent_span_id());
        }
    }
    let mut origins: Vec<&S> = spans
        .iter()
        .filter(|s| s.is_error() && !error_below.contains(s.span_id()))
        .collect();
    origins.sort_by(|a, b| (a.start(), a.span_id()).cmp(&(b.start(), b.span_id())));
    origins
}

/// `None` when no span of the trace is in error.
pub fn find(spans: &[SpanView]) -> Option<ErrorOrigin> {
    let by_id: HashMap<&str, &SpanView> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let origins = origins(spans);
    let first = *origins.first()?;

    let mut propagated_through = Vec::new();
    let mut seen = HashSet::from([first.span_id.as_str()]);
    let mut parent = first.parent_span_id.as_deref();
    while let Some(id) = parent {
        if !seen.insert(id) {
            break;
        }
        let Some(span) = by_id.get(id) else { break };
        if span.is_error {
            propagated_through.push(span_ref(span));
        }
        parent = span.parent_span_id.as_deref();
    }

    let (exception_type, exception_message, stacktrace) = exception(first);
    Some(ErrorOrigin {
        span_id: first.span_id.clone(),
        service: first.service.clone(),
        operation: first.name.clone(),
        exception_type,
        exception_message,
        stacktrace,
        propagated_through,
        origins: origins.iter().map(|s| span_ref(s)).collect(),
    })
}

/// The exception type, message (else the status message) and stack trace
/// of a span: from its `exception` event, else its own attributes.
pub fn exception(span: &SpanView) -> (Option<String>, Option<String>, Option<String>) {
    let event = span.events.iter().find(|e| e.name == "exception");
    let attr = |key: &str| {
        event
            .and_then(|e| e.attributes.get(key))
            .or_else(|| span.attributes.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let status_message = Some(span.status.message.clone()).filter(|m| !m.is_empty());
    (
        attr("exception.type"),
        attr("exception.message").or(status_message),
        attr("exception.stacktrace"),
    )
}

fn span_ref(span: &SpanView) -> SpanRef {
    SpanRef {
        span_id: span.span_id.clone(),
        service: span.service.clone(),
        operation: span.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    use store::value::Attributes;

    /// (span id, parent id, start, in error)
    fn spans(shape: &[(&str, Option<&str>, i64, bool)]) -> Vec<SpanView> {
        shape
            .iter()
            .map(|(id, parent, start, error)| {
                let mut span = testing::span("t", id, *parent, *start, start + 10);
                span.service = format!("svc-{id}");
                span.name = format!("op-{id}");
                if *error { testing::failed(span) } else { span }
            })
            .collect()
    }

    /// Expected: (origin ids earliest first, propagated-through ids nearest first), or None.
    fn check(
        name: &str,
        shape: &[(&str, Option<&str>, i64, bool)],
        expected: Option<(&[&str], &[&str])>,
    ) {
        let got = find(&spans(shape)).map(|o| {
            (
                o.origins
                    .iter()
                    .map(|s| s.span_id.clone())
                    .collect::<Vec<_>>(),
                o.propagated_through
                    .iter()
                    .map(|s| s.span_id.clone())
                    .collect::<Vec<_>>(),
            )
        });
        let expected = expected.map(|(o, p)| {
            (
                o.iter().map(|s| s.to_string()).collect(),
                p.iter().map(|s| s.to_string()).collect(),
            )
        });
        assert_eq!(got, expected, "{name}");
    }

    #[test]
    fn origins() {
        check(
            "no failure",
            &[("a", None, 0, false), ("b", Some("a"), 1, false)],
            None,
        );
        check(
            "leaf failure propagated to the root",
            &[
                ("a", None, 0, true),
                ("b", Some("a"), 1, true),
                ("c", Some("b"), 2, true),
            ],
            Some((&["c"], &["b", "a"])),
        );
        check(
            "failure in the middle, healthy leaf",
            &[
                ("a", None, 0, true),
                ("b", Some("a"), 1, true),
                ("c", Some("b"), 2, false),
            ],
            Some((&["b"], &["a"])),
        );
        check(
            "a healthy span between origin and root is not on the path",
            &[
                ("a", None, 0, true),
                ("b", Some("a"), 1, false),
                ("c", Some("b"), 2, true),
            ],
            Some((&["c"], &["a"])),
        );
        check(
            "two independent failures, earliest first",
            &[
                ("a", None, 0, true),
                ("b", Some("a"), 5, true),
                ("c", Some("a"), 3, true),
            ],
            Some((&["c", "b"], &["a"])),
        );
        check(
            "orphan subtree keeps its own origin",
            &[
                ("a", None, 0, false),
                ("x", Some("missing"), 1, true),
                ("y", Some("x"), 2, true),
            ],
            Some((&["y"], &["x"])),
        );
        check(
            "a parent cycle does not hang",
            &[("a", Some("b"), 0, true), ("b", Some("a"), 1, true)],
            None,
        );
    }

    #[test]
    fn the_origin_names_its_exception() {
        let mut trace = spans(&[("a", None, 0, true), ("b", Some("a"), 1, true)]);
        trace[1].events.push(store::model::Event {
            time_unix_nano: 1,
            name: "exception".into(),
            attributes: Attributes(vec![
                (
                    "exception.type".into(),
                    store::value::Value::String("CardDeclined".into()),
                ),
                (
                    "exception.message".into(),
                    store::value::Value::String("insufficient funds".into()),
                ),
                (
                    "exception.stacktrace".into(),
                    store::value::Value::String("at charge()".into()),
                ),
            ]),
            dropped_attributes_count: 0,
        });
        let origin = find(&trace).unwrap();
        assert_eq!(origin.service, "svc-b");
        assert_eq!(origin.operation, "op-b");
        assert_eq!(origin.exception_type.as_deref(), Some("CardDeclined"));
        assert_eq!(
            origin.exception_message.as_deref(),
            Some("insufficient funds")
        );
        assert_eq!(origin.stacktrace.as_deref(), Some("at charge()"));
        trace[1].events.clear();
        trace[1].status.message = "timeout".into();
        assert_eq!(
            find(&trace).unwrap().exception_message.as_deref(),
            Some("timeout")
        );
    }
}
