use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_proto::tonic::trace::v1::{Span, span};
use prost::Message as _;

use super::SERVICES;
use super::shop::{Exports, METRIC_INTERVAL_NS, Shop};

const MINUTE: i64 = 60_000_000_000;
const T0: i64 = 1_750_000_000_000_000_000;

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attributes, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn service_of(resource: &Option<opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    text(&resource.as_ref().unwrap().attributes, "service.name")
        .unwrap()
        .to_owned()
}

/// Ten minutes of shop in one-second slices, as the live loop makes them.
fn ten_minutes(seed: u64) -> Vec<Exports> {
    let mut shop = Shop::new(seed, 4.0, T0);
    (0..600)
        .map(|s| shop.advance(T0 + s * 1_000_000_000, T0 + (s + 1) * 1_000_000_000))
        .collect()
}

fn spans(exports: &[Exports]) -> Vec<(String, Span)> {
    exports
        .iter()
        .flat_map(|e| &e.traces.resource_spans)
        .flat_map(|r| {
            let service = service_of(&r.resource);
            r.scope_spans
                .iter()
                .flat_map(|s| &s.spans)
                .map(move |span| (service.clone(), span.clone()))
        })
        .collect()
}

fn is_error(span: &Span) -> bool {
    span.status.as_ref().is_some_and(|s| s.code == 2)
}

#[test]
fn the_same_seed_makes_the_same_shop() {
    let encode = |exports: &[Exports]| -> Vec<u8> {
        exports
            .iter()
            .flat_map(|e| {
                [
                    e.traces.encode_to_vec(),
                    e.logs.encode_to_vec(),
                    e.metrics.encode_to_vec(),
                ]
            })
            .flatten()
            .collect()
    };
    let mut a = Shop::new(7, 4.0, T0);
    let mut b = Shop::new(7, 4.0, T0);
    let mut c = Shop::new(8, 4.0, T0);
    let (a, b, c) = (
        [a.advance(T0, T0 + MINUTE)],
        [b.advance(T0, T0 + MINUTE)],
        [c.advance(T0, T0 + MINUTE)],
    );
    assert_eq!(encode(&a), encode(&b));
    assert_ne!(encode(&a), encode(&c));
}

#[test]
fn slices_do_not_change_what_is_sent() {
    // One ten-minute slice (history) and six hundred one-second slices (live)
    // make the same requests.
    let mut whole = Shop::new(3, 4.0, T0);
    let whole = [whole.advance(T0, T0 + 10 * MINUTE)];
    let sliced = ten_minutes(3);
    let ids = |e: &[Exports]| -> BTreeSet<Vec<u8>> {
        spans(e).into_iter().map(|(_, s)| s.span_id).collect()
    };
    assert_eq!(ids(&whole), ids(&sliced));
}

#[test]
fn the_shop_has_every_service_a_rate_near_the_one_asked_and_request_ids_everywhere() {
    let exports = ten_minutes(11);
    let spans = spans(&exports);
    let services: BTreeSet<&str> = spans.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(services, SERVICES.iter().copied().collect());
    let roots: Vec<&Span> = spans
        .iter()
        .filter(|(_, s)| s.parent_span_id.is_empty())
        .map(|(_, s)| s)
        .collect();
    // 4/s for 600 s is 2400, retries add a few.
    assert!((2000..2900).contains(&roots.len()), "{} roots", roots.len());
    let requests: u64 = exports.iter().map(|e| e.requests).sum();
    assert_eq!(requests, roots.len() as u64);
    for (service, span) in &spans {
        assert!(
            text(&span.attributes, "request.id").is_some(),
            "{service} {} has no request id",
            span.name
        );
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    }
    let records: Vec<_> = exports
        .iter()
        .flat_map(|e| &e.logs.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .collect();
    assert!(
        records
            .iter()
            .all(|r| text(&r.attributes, "request.id").is_some())
    );
    let without_trace = records.iter().filter(|r| r.trace_id.is_empty()).count();
    assert_eq!(
        without_trace,
        roots.len(),
        "one access log line per request, with only its request id"
    );
}

#[test]
fn children_sit_inside_their_parents_and_the_consumer_follows_its_producer() {
    let spans = spans(&ten_minutes(5));
    let by_id: BTreeMap<&[u8], &Span> = spans
        .iter()
        .map(|(_, s)| (s.span_id.as_slice(), s))
        .collect();
    let mut consumers = 0;
    for (_, span) in &spans {
        let Some(parent) = by_id.get(span.parent_span_id.as_slice()) else {
            assert!(
                span.parent_span_id.is_empty(),
                "{} has a parent that was never made",
                span.name
            );
            continue;
        };
        assert_eq!(parent.trace_id, span.trace_id);
        if span.kind == span::SpanKind::Consumer as i32 {
            consumers += 1;
            assert_eq!(parent.kind, span::SpanKind::Producer as i32);
            assert!(
                span.start_time_unix_nano > parent.end_time_unix_nano,
                "consumed after it was published"
            );
            assert_eq!(span.links.len(), 1);
            assert_eq!(span.links[0].span_id, parent.span_id);
        } else {
            assert!(
                span.start_time_unix_nano >= parent.start_time_unix_nano,
                "{}",
                span.name
            );
            assert!(
                span.end_time_unix_nano <= parent.end_time_unix_nano,
                "{} ends after {}",
                span.name,
                parent.name
            );
        }
    }
    assert!(consumers > 500, "{consumers} orders notified");
}

#[test]
fn failures_start_in_payments_or_inventory_and_are_retried_under_the_same_request_id() {
    let exports = ten_minutes(21);
    let spans = spans(&exports);
    let mut children: BTreeMap<&[u8], Vec<&Span>> = BTreeMap::new();
    for (_, span) in &spans {
        children
            .entry(span.parent_span_id.as_slice())
            .or_default()
            .push(span);
    }
    // Origins: error spans without an error below them.
    let origins: BTreeMap<(String, String), usize> = spans
        .iter()
        .filter(|(_, s)| is_error(s))
        .filter(|(_, s)| {
            !children
                .get(s.span_id.as_slice())
                .is_some_and(|c| c.iter().any(|c| is_error(c)))
        })
        .fold(BTreeMap::new(), |mut m, (service, s)| {
            *m.entry((service.clone(), s.name.clone())).or_default() += 1;
            m
        });
    let names: BTreeSet<_> = origins.keys().cloned().collect();
    assert!(
        names.contains(&("payments".into(), "POST /v1/authorizations".into())),
        "{origins:?}"
    );
    assert!(
        names.iter().all(|(service, name)| (service == "payments"
            && name == "POST /v1/authorizations")
            || (service == "inventory" && name == "UPDATE shop.stock")),
        "{origins:?}"
    );
    for (service, span) in &spans {
        if (service.as_str(), span.name.as_str()) == ("payments", "POST /v1/authorizations")
            && is_error(span)
        {
            let event = span
                .events
                .iter()
                .find(|e| e.name == "exception")
                .expect("exception event");
            assert_eq!(
                text(&event.attributes, "exception.type"),
                Some("httpx.ReadTimeout")
            );
        }
    }
    let checkouts = spans
        .iter()
        .filter(|(_, s)| s.parent_span_id.is_empty() && s.name == "POST /api/orders")
        .count();
    let failed: usize = origins.values().sum();
    assert!(
        failed * 100 > checkouts && failed * 100 < checkouts * 12,
        "{failed} of {checkouts} checkouts failed"
    );
    // Retries: a request id on two root spans.
    let mut roots_per_id: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, s) in spans.iter().filter(|(_, s)| s.parent_span_id.is_empty()) {
        *roots_per_id
            .entry(text(&s.attributes, "request.id").unwrap())
            .or_default() += 1;
    }
    assert!(
        roots_per_id.values().any(|n| *n >= 2),
        "no checkout was retried"
    );
    let example = exports
        .iter()
        .find_map(|e| e.failed_request.clone())
        .expect("a failed request is named");
    assert!(roots_per_id.contains_key(example.as_str()));
}

#[test]
fn inventory_queries_stock_once_per_item() {
    let spans = spans(&ten_minutes(9));
    let mut per_parent: BTreeMap<&[u8], usize> = BTreeMap::new();
    for (service, span) in &spans {
        if service == "inventory" && span.name == "SELECT shop.stock" {
            assert_eq!(text(&span.attributes, "db.system"), Some("postgresql"));
            *per_parent
                .entry(span.parent_span_id.as_slice())
                .or_default() += 1;
        }
    }
    assert!(per_parent.values().any(|n| *n >= 5), "the N+1 shows");
    assert!(per_parent.values().all(|n| (2..=8).contains(n)));
}

#[test]
fn duration_histograms_are_cumulative_and_count_every_server_span() {
    let exports = ten_minutes(13);
    let mut last: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut exports_seen = 0;
    let mut exemplars = 0;
    let mut gauges = BTreeSet::new();
    for export in &exports {
        for resource in &export.metrics.resource_metrics {
            let service = service_of(&resource.resource);
            exports_seen += 1;
            for metric in resource.scope_metrics.iter().flat_map(|s| &s.metrics) {
                match metric.data.as_ref().unwrap() {
                    metric::Data::Histogram(h) => {
                        assert_eq!(metric.name, "http.server.request.duration");
                        assert_eq!(h.aggregation_temporality, 2);
                        for point in &h.data_points {
                            assert_eq!(point.bucket_counts.iter().sum::<u64>(), point.count);
                            assert_eq!(point.start_time_unix_nano, T0 as u64);
                            exemplars += point.exemplars.len();
                            let route = text(&point.attributes, "http.route").unwrap().to_owned();
                            let status = format!(
                                "{:?}",
                                attr(&point.attributes, "http.response.status_code")
                            );
                            let count = last
                                .entry((service.clone(), format!("{route} {status}")))
                                .or_default();
                            assert!(point.count >= *count, "cumulative counts never go down");
                            *count = point.count;
                        }
                    }
                    metric::Data::Gauge(_) => {
                        gauges.insert(metric.name.clone());
                    }
                    metric::Data::Sum(sum) => assert!(sum.is_monotonic),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    // Every 10 s after the start, before the end: 59 exports of each service.
    assert_eq!(
        exports_seen as i64,
        (10 * MINUTE / METRIC_INTERVAL_NS - 1) * SERVICES.len() as i64
    );
    assert!(exemplars > 0);
    assert!(gauges.contains("process.memory.usage") && gauges.contains("messaging.queue.depth"));
    // Requests are recorded as they arrive: the last export counts every
    // server span of the requests that arrived before it, no more.
    let spans = spans(&exports);
    let last_export = T0 + 10 * MINUTE - METRIC_INTERVAL_NS;
    let arrived: BTreeMap<&[u8], u64> = spans
        .iter()
        .filter(|(_, s)| s.parent_span_id.is_empty())
        .map(|(_, s)| (s.trace_id.as_slice(), s.start_time_unix_nano))
        .collect();
    let server_spans = spans
        .iter()
        .filter(|(_, s)| s.kind == span::SpanKind::Server as i32)
        .filter(|(_, s)| arrived[s.trace_id.as_slice()] < last_export as u64)
        .count() as u64;
    let counted: u64 = last.values().sum();
    assert_eq!(counted, server_spans);
}

#[test]
fn inventory_is_released_forty_minutes_in_with_a_failure_of_its_own() {
    let mut shop = Shop::new(5, 8.0, T0);
    let exports: Vec<Exports> = (30 * 60..50 * 60)
        .map(|s| shop.advance(T0 + s * 1_000_000_000, T0 + (s + 1) * 1_000_000_000))
        .collect();
    let release = T0 + 40 * MINUTE;
    // (version, start, failed with a unique violation) of inventory's spans.
    let mut seen: BTreeMap<String, (i64, i64, usize)> = BTreeMap::new();
    for r in exports.iter().flat_map(|e| &e.traces.resource_spans) {
        if service_of(&r.resource) != "inventory" {
            continue;
        }
        let attributes = &r.resource.as_ref().unwrap().attributes;
        let version = text(attributes, "service.version").unwrap().to_owned();
        for span in r.scope_spans.iter().flat_map(|s| &s.spans) {
            let start = span.start_time_unix_nano as i64;
            let unique = span.events.iter().any(|e| {
                text(&e.attributes, "exception.type")
                    == Some("asyncpg.exceptions.UniqueViolationError")
            });
            let entry = seen.entry(version.clone()).or_insert((start, start, 0));
            entry.0 = entry.0.min(start);
            entry.1 = entry.1.max(start);
            entry.2 += usize::from(unique);
        }
    }
    let old = seen["1.9.4"];
    let new = seen["1.10.0"];
    assert!(old.1 < release && new.0 >= release, "{seen:?}");
    assert_eq!(old.2, 0, "1.9.4 never violates the unique key");
    assert!(new.2 >= 10, "{} unique violations in 1.10.0", new.2);
}
