//! Hostile query strings against the search parameters: whatever arrives,
//! reading it gives a query or a message, never a panic, and what it gives
//! stays inside the bounds the store is promised.

use proptest::prelude::*;
use web::params::{LogsQuery, Pairs, TracesQuery, Unknown, Windowed, now_ns};

/// The names each search knows, with the window's, so that most pairs
/// reach the value parsers; now and then an unknown or empty one.
const WINDOW: &[&str] = &["window", "since", "until", "from", "to", "start", "end"];
const TRACES: &[&str] = &[
    "service",
    "operation",
    "status",
    "min_duration_ms",
    "max_duration_ms",
    "min_ms",
    "max_ms",
    "attr",
    "sort",
    "offset",
    "limit",
];
const LOGS: &[&str] = &[
    "service",
    "q",
    "trace_id",
    "request_id",
    "severity_min",
    "attr",
    "limit",
];

fn name(known: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => prop::sample::select(known),
        4 => prop::sample::select(WINDOW),
        1 => prop::sample::select(&["servce", "", "attr[]"][..]),
    ]
}

/// Values near what the parsers expect, and their edges.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{1,25}",
        "-?[0-9]{1,20}(ns|ms|s|m|h|d|w|y)?",
        "[a-z.]{0,12}(=|!=|>|<|>=|<=|~)[a-z0-9.]{0,12}",
        "(error|ok|unset|all|duration|start|newest|longest)",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?Z?",
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("%00%ff%".to_owned()),
    ]
}

fn query(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec((name(known), value()), 0..8).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn trace_search_parameters_give_a_query_or_a_message(raw in query(TRACES)) {
        let pairs = Pairs::parse(&raw);
        if let Ok(Windowed { time, query }) = pairs.read::<Windowed<TracesQuery>>(Unknown::Refuse)
            && let Ok(checked) = time.check()
        {
            let bounds = checked.bounds(now_ns());
            if let Ok(q) = query.store_query(bounds, 20, 1000) {
                prop_assert!((1..=1000).contains(&q.limit), "{raw}: limit {}", q.limit);
                prop_assert!(q.attributes.len() <= web::params::MAX_ATTR);
                if let (Some(min), Some(max)) = (q.min_duration_ns, q.max_duration_ns) {
                    prop_assert!(min <= max, "{raw}");
                }
            }
        }
    }

    #[test]
    fn log_search_parameters_give_a_query_or_a_message(raw in query(LOGS)) {
        let pairs = Pairs::parse(&raw);
        if let Ok(Windowed { time, query }) = pairs.read::<Windowed<LogsQuery>>(Unknown::Refuse)
            && let Ok(checked) = time.check()
        {
            let _ = query.store_query(checked.bounds(now_ns()));
        }
    }
}
