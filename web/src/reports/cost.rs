//! The cost report: which services and endpoints produce the telemetry,
//! what it weighs on the wire and on disk, and what it would cost a month.
//!
//! - Bytes received are each item's share of the export request that
//!   carried it, as sent (compressed if it was; gRPC: the message size).
//! - Bytes stored are each signal's tables and indexes (all time), shared
//!   out by bytes received: an estimate, where received bytes are exact.
//! - Daily rates are over the time the window's data covers (its first
//!   to its last item, a minute at least), not the window's length, so
//!   that the same data projects the same month whatever the window; a
//!   month is 30 days; a GB is 10^9 bytes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use store::{AttributeSample, KeyUsage, LogSource, MetricUsage, SignalBytes};

use super::analysis::Analysis;

/// Prices the projection uses; any may be 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    pub per_gb: f64,
    pub per_million_spans: f64,
    pub per_million_logs: f64,
    pub per_million_metric_points: f64,
    /// What the prices and the projections are in.
    #[serde(default)]
    pub currency: Currency,
}

impl Default for Prices {
    fn default() -> Prices {
        Prices {
            per_gb: 0.5,
            per_million_spans: 0.0,
            per_million_logs: 0.0,
            per_million_metric_points: 0.0,
            currency: Currency::default(),
        }
    }
}

/// A currency's ISO 4217 code (`USD`, `EUR`, `JPY`), upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Three ASCII letters, in either case.
    pub fn parse(text: &str) -> Option<Currency> {
        let code: [u8; 3] = text.trim().as_bytes().try_into().ok()?;
        code.iter()
            .all(u8::is_ascii_alphabetic)
            .then(|| Currency(code.map(|b| b.to_ascii_uppercase())))
    }

    pub fn as_str(&self) -> &str {
        // Three ASCII letters, checked by `parse`.
        std::str::from_utf8(&self.0).unwrap_or("USD")
    }

    /// `amount` with two decimals and the code: `12.34 USD`.
    pub fn amount(&self, amount: f64) -> String {
        format!("{amount:.2} {}", self.as_str())
    }
}

impl Default for Currency {
    fn default() -> Currency {
        Currency(*b"USD")
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Currency, D::Error> {
        let text = String::deserialize(deserializer)?;
        Currency::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a currency code: {text:?}")))
    }
}

/// The least time data is taken to cover: a burst of a few seconds is
/// not projected as if it went on all month at that pace.
pub const MIN_COVERED_NS: i64 = 60_000_000_000;

/// What the cost report reads besides the spans.
#[derive(Debug, Clone, Default)]
pub struct CostInputs {
    pub log_sources: Vec<LogSource>,
    pub metric_usage: Vec<MetricUsage>,
    pub key_usage: Vec<KeyUsage>,
    pub attribute_sample: Vec<AttributeSample>,
    /// Bytes received of each signal since the database was created.
    pub wire_total: SignalBytes,
    /// Bytes each signal's tables occupy.
    pub stored_total: SignalBytes,
    /// The first and last time stamped on the window's data.
    pub data_extent: Option<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    pub since_ns: i64,
    pub until_ns: i64,
    /// The window's length.
    pub days: f64,
    /// The first and last time stamped on the window's data (absent
    /// without data), and the days between them (a minute at least) that
    /// the daily rates and the month are projected from.
    pub data_since_ns: Option<i64>,
    pub data_until_ns: Option<i64>,
    pub data_days: f64,
    pub prices: Prices,
    pub total: CostRow,
    pub services: Vec<CostRow>,
    pub endpoints: Vec<CostRow>,
    /// What each ingest key sent, when the receivers ask for keys.
    pub ingest_keys: Vec<KeyCostRow>,
    pub attribute_keys: Vec<AttributeKeyRow>,
    /// What could go, measured and priced (`savings`), biggest first.
    pub what_to_drop: Vec<super::savings::DropRow>,
    /// Items whose attributes were measured for `attribute_keys`.
    pub attribute_sample: SampleSize,
    pub log_sources: Vec<LogSourceRow>,
    pub metrics_by_series: Vec<MetricUsage>,
    pub per_request: Vec<PerRequestRow>,
}

/// What one ingest key (its name, `loupe.ingest.key`) sent: counted as
/// the items arrived, by whole minutes of their time stamps, so a window
/// that cuts a minute counts all of it. Bytes stored are shared out as
/// for services.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyCostRow {
    pub key: String,
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
    pub wire_bytes: u64,
    pub stored_bytes: u64,
    /// Of the bytes all keys sent.
    pub wire_share: f64,
    pub monthly_gb: f64,
    pub monthly_cost: f64,
}

/// One service (`endpoint` absent), one endpoint, or everything.
/// Endpoints own their spans and the log records those spans wrote;
/// metric points belong to services only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostRow {
    pub service: String,
    pub endpoint: Option<String>,
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
    pub wire_bytes: u64,
    pub stored_bytes: u64,
    pub span_share: f64,
    pub log_share: f64,
    pub metric_point_share: f64,
    pub wire_share: f64,
    pub stored_share: f64,
    pub spans_per_day: f64,
    pub logs_per_day: f64,
    pub metric_points_per_day: f64,
    pub wire_bytes_per_day: f64,
    pub monthly_gb: f64,
    pub monthly_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeKeyRow {
    /// `span` or `log`.
    pub signal: String,
    pub key: String,
    pub occurrences: u64,
    /// Bytes of the key and its stored value in the sample.
    pub sampled_bytes: u64,
    /// Of all the sampled attribute bytes of its signal.
    pub share: f64,
    /// `sampled_bytes` scaled to every item of the signal in the window.
    pub estimated_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleSize {
    pub spans: u64,
    pub logs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogSourceRow {
    pub service: String,
    pub severity: String,
    /// The lowest severity number of the records under `severity`.
    pub severity_number: i32,
    pub scope: String,
    pub records: u64,
    pub wire_bytes: u64,
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerRequestRow {
    pub entry_service: String,
    pub entry_endpoint: String,
    pub requests: u64,
    pub spans_per_request: f64,
    pub logs_per_request: f64,
    pub wire_bytes_per_request: f64,
}

const TOP: usize = 25;

/// The days the data of `extent` covers, a minute at least; none without data.
pub fn covered_days(extent: Option<(i64, i64)>) -> f64 {
    extent.map_or(0.0, |(lo, hi)| {
        hi.saturating_sub(lo).max(MIN_COVERED_NS) as f64 / 86_400e9
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// OpenTelemetry's severity ranges, for records that send no text.
pub fn severity_name(number: i32, text: &str) -> String {
    if !text.is_empty() {
        return text.to_owned();
    }
    match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => "UNSPECIFIED",
    }
    .to_owned()
}

impl CostReport {
    pub fn build(a: &Analysis, inputs: &CostInputs, prices: Prices) -> CostReport {
        let window_days = a.window.seconds() / 86_400.0;
        let days = covered_days(inputs.data_extent);
        let name = |id: u32| a.names.name(id).to_owned();
        let stored = |spans: u64, logs: u64, points: u64| {
            let part = |wire: u64, stored: u64, total: u64| {
                (ratio(wire as f64, total as f64) * stored as f64).round() as u64
            };
            part(spans, inputs.stored_total.spans, inputs.wire_total.spans)
                + part(logs, inputs.stored_total.logs, inputs.wire_total.logs)
                + part(
                    points,
                    inputs.stored_total.metric_points,
                    inputs.wire_total.metric_points,
                )
        };

        // (spans, span bytes, logs, log bytes, points, point bytes)
        type Counts = [u64; 6];
        let mut services: BTreeMap<String, Counts> = BTreeMap::new();
        let mut endpoints: Vec<(String, String, Counts)> = Vec::new();
        for (&(svc, ep), agg) in &a.endpoints {
            if agg.spans == 0 && agg.logs == 0 {
                continue;
            }
            let s = services.entry(name(svc)).or_default();
            s[0] += agg.spans;
            s[1] += agg.span_bytes;
            endpoints.push((
                name(svc),
                name(ep),
                [agg.spans, agg.span_bytes, agg.logs, agg.log_bytes, 0, 0],
            ));
        }
        for source in &inputs.log_sources {
            let s = services.entry(source.service.clone()).or_default();
            s[2] += source.records;
            s[3] += source.wire_bytes;
        }
        for usage in &inputs.metric_usage {
            let s = services.entry(usage.service.clone()).or_default();
            s[4] += usage.points;
            s[5] += usage.wire_bytes;
        }
        let mut total_counts: Counts = [0; 6];
        for counts in services.values() {
            for (t, c) in total_counts.iter_mut().zip(counts) {
                *t += c;
            }
        }
        let make = |service: String, endpoint: Option<String>, c: &Counts| -> CostRow {
            let wire = c[1] + c[3] + c[5];
            let stored_bytes = stored(c[1], c[3], c[5]);
            let per_day = |n: u64| ratio(n as f64, days);
            let monthly_gb = per_day(wire) * 30.0 / 1e9;
            let monthly_cost = monthly_gb * prices.per_gb
                + per_day(c[0]) * 30.0 / 1e6 * prices.per_million_spans
                + per_day(c[2]) * 30.0 / 1e6 * prices.per_million_logs
                + per_day(c[4]) * 30.0 / 1e6 * prices.per_million_metric_points;
            CostRow {
                service,
                endpoint,
                spans: c[0],
                logs: c[2],
                metric_points: c[4],
                wire_bytes: wire,
                stored_bytes,
                span_share: ratio(c[0] as f64, total_counts[0] as f64),
                log_share: ratio(c[2] as f64, total_counts[2] as f64),
                metric_point_share: ratio(c[4] as f64, total_counts[4] as f64),
                wire_share: 0.0,
                stored_share: 0.0,
                spans_per_day: per_day(c[0]),
                logs_per_day: per_day(c[2]),
                metric_points_per_day: per_day(c[4]),
                wire_bytes_per_day: per_day(wire),
                monthly_gb,
                monthly_cost,
            }
        };
        let total = make("all".into(), None, &total_counts);
        let (total_wire, total_stored) = (total.wire_bytes, total.stored_bytes);
        let shared = |mut row: CostRow| {
            row.wire_share = ratio(row.wire_bytes as f64, total_wire as f64);
            row.stored_share = ratio(row.stored_bytes as f64, total_stored as f64);
            row
        };
        let mut service_rows: Vec<CostRow> = services
            .iter()
            .map(|(svc, c)| shared(make(svc.clone(), None, c)))
            .collect();
        service_rows.sort_by(|x, y| {
            y.wire_bytes
                .cmp(&x.wire_bytes)
                .then(x.service.cmp(&y.service))
        });
        let mut endpoint_rows: Vec<CostRow> = endpoints
            .iter()
            .map(|(svc, ep, c)| shared(make(svc.clone(), Some(ep.clone()), c)))
            .collect();
        endpoint_rows.sort_by(|x, y| {
            y.wire_bytes
                .cmp(&x.wire_bytes)
                .then_with(|| (&x.service, &x.endpoint).cmp(&(&y.service, &y.endpoint)))
        });
        let total = shared(total);

        let keys_wire: u64 = inputs
            .key_usage
            .iter()
            .map(|u| u.wire.spans + u.wire.logs + u.wire.metric_points)
            .sum();
        let ingest_keys = inputs
            .key_usage
            .iter()
            .map(|u| {
                let counts = [
                    u.spans,
                    u.wire.spans,
                    u.logs,
                    u.wire.logs,
                    u.metric_points,
                    u.wire.metric_points,
                ];
                let row = make(u.key.clone(), None, &counts);
                KeyCostRow {
                    key: row.service,
                    spans: row.spans,
                    logs: row.logs,
                    metric_points: row.metric_points,
                    wire_bytes: row.wire_bytes,
                    stored_bytes: row.stored_bytes,
                    wire_share: ratio(row.wire_bytes as f64, keys_wire as f64),
                    monthly_gb: row.monthly_gb,
                    monthly_cost: row.monthly_cost,
                }
            })
            .collect();

        let (attribute_keys, attribute_sample) =
            attribute_keys(&inputs.attribute_sample, total_counts[0], total_counts[2]);

        let repeated: Vec<super::savings::Repeated<'_>> = a
            .repeated
            .iter()
            .map(|(&(_, op, cs, cop), r)| super::savings::Repeated {
                operation: a.names.name(op),
                child_service: a.names.name(cs),
                child_operation: a.names.name(cop),
                parents: r.parents,
                calls: r.calls,
            })
            .collect();
        let span_bytes: Vec<super::savings::SpanBytes<'_>> = services
            .iter()
            .map(|(service, c)| super::savings::SpanBytes {
                service,
                spans: c[0],
                wire_bytes: c[1],
            })
            .collect();
        let heavy: Vec<super::savings::HeavyKey<'_>> = attribute_keys
            .iter()
            .filter(|k| k.signal == "span")
            .map(|k| super::savings::HeavyKey {
                key: &k.key,
                estimated_bytes: k.estimated_bytes,
            })
            .collect();
        // Scaled to the window as the attribute keys are.
        let same_values =
            super::savings::repeated_values(inputs.attribute_sample.iter().filter_map(|s| {
                Some((
                    &s.trace_id.as_ref()?[..],
                    s.name.as_str(),
                    s.attributes.as_str(),
                ))
            }));
        let scale = ratio(total_counts[0] as f64, attribute_sample.spans as f64);
        let same_values: Vec<super::savings::HeavyKey<'_>> = same_values
            .iter()
            .map(|(key, bytes)| super::savings::HeavyKey {
                key,
                estimated_bytes: (*bytes as f64 * scale).round() as u64,
            })
            .collect();
        let what_to_drop = super::savings::what_to_drop(
            &repeated,
            &span_bytes,
            &inputs.log_sources,
            &heavy,
            &same_values,
            total.wire_bytes,
            total.monthly_cost,
        );

        let mut sources: BTreeMap<(String, String, String), (u64, u64, i32)> = BTreeMap::new();
        for s in &inputs.log_sources {
            let key = (
                s.service.clone(),
                severity_name(s.severity_number, &s.severity_text),
                s.scope.clone(),
            );
            let e = sources.entry(key).or_insert((0, 0, s.severity_number));
            e.0 += s.records;
            e.1 += s.wire_bytes;
            e.2 = e.2.min(s.severity_number);
        }
        let mut log_sources: Vec<LogSourceRow> = sources
            .into_iter()
            .map(
                |((service, severity, scope), (records, bytes, number))| LogSourceRow {
                    service,
                    severity,
                    severity_number: number,
                    scope,
                    records,
                    wire_bytes: bytes,
                    share: ratio(bytes as f64, total_counts[3] as f64),
                },
            )
            .collect();
        log_sources.sort_by_key(|s| std::cmp::Reverse(s.wire_bytes));
        log_sources.truncate(TOP);

        let mut metrics: BTreeMap<(String, String, String), MetricUsage> = BTreeMap::new();
        for m in &inputs.metric_usage {
            let e = metrics
                .entry((m.service.clone(), m.name.clone(), m.kind.clone()))
                .or_insert_with(|| MetricUsage {
                    points: 0,
                    wire_bytes: 0,
                    series: 0,
                    ..m.clone()
                });
            e.points += m.points;
            e.wire_bytes += m.wire_bytes;
            e.series += m.series;
        }
        let mut metrics_by_series: Vec<MetricUsage> = metrics.into_values().collect();
        metrics_by_series.sort_by(|x, y| y.series.cmp(&x.series).then(y.points.cmp(&x.points)));
        metrics_by_series.truncate(TOP);

        let mut per_request: Vec<PerRequestRow> = a
            .entries
            .iter()
            .filter(|(_, e)| e.traces > 0)
            .map(|(&(s, ep), e)| {
                let n = e.traces as f64;
                PerRequestRow {
                    entry_service: name(s),
                    entry_endpoint: name(ep),
                    requests: e.traces,
                    spans_per_request: e.spans as f64 / n,
                    logs_per_request: e.logs as f64 / n,
                    wire_bytes_per_request: e.wire_bytes as f64 / n,
                }
            })
            .collect();
        per_request.sort_by(|x, y| {
            y.wire_bytes_per_request
                .total_cmp(&x.wire_bytes_per_request)
                .then_with(|| {
                    (&x.entry_service, &x.entry_endpoint)
                        .cmp(&(&y.entry_service, &y.entry_endpoint))
                })
        });

        CostReport {
            since_ns: a.window.start,
            until_ns: a.window.end,
            days: window_days,
            data_since_ns: inputs.data_extent.map(|(lo, _)| lo),
            data_until_ns: inputs.data_extent.map(|(_, hi)| hi),
            data_days: days,
            prices,
            total,
            services: service_rows,
            endpoints: endpoint_rows,
            ingest_keys,
            attribute_keys,
            what_to_drop,
            attribute_sample,
            log_sources,
            metrics_by_series,
            per_request,
        }
    }
}

/// Bytes per attribute key in the sample (key plus stored value), scaled
/// to the window by how many items of the signal the sample stands for.
fn attribute_keys(
    sample: &[AttributeSample],
    spans_in_window: u64,
    logs_in_window: u64,
) -> (Vec<AttributeKeyRow>, SampleSize) {
    let mut per_key: HashMap<(&'static str, String), (u64, u64)> = HashMap::new();
    let mut signal_bytes: HashMap<&'static str, u64> = HashMap::new();
    let mut size = SampleSize { spans: 0, logs: 0 };
    for item in sample {
        match item.signal {
            "span" => size.spans += 1,
            _ => size.logs += 1,
        }
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&item.attributes) else {
            continue;
        };
        for (key, value) in map {
            let bytes = (key.len() + value.to_string().len()) as u64;
            let e = per_key.entry((item.signal, key)).or_default();
            e.0 += 1;
            e.1 += bytes;
            *signal_bytes.entry(item.signal).or_default() += bytes;
        }
    }
    let scale = |signal: &str| match signal {
        "span" => ratio(spans_in_window as f64, size.spans as f64),
        _ => ratio(logs_in_window as f64, size.logs as f64),
    };
    let mut rows: Vec<AttributeKeyRow> = per_key
        .into_iter()
        .map(|((signal, key), (occurrences, bytes))| AttributeKeyRow {
            signal: signal.to_owned(),
            key,
            occurrences,
            sampled_bytes: bytes,
            share: ratio(bytes as f64, signal_bytes[signal] as f64),
            estimated_bytes: (bytes as f64 * scale(signal)).round() as u64,
        })
        .collect();
    rows.sort_by(|x, y| {
        y.estimated_bytes
            .cmp(&x.estimated_bytes)
            .then_with(|| (&x.signal, &x.key).cmp(&(&y.signal, &y.key)))
    });
    rows.truncate(TOP);
    (rows, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_covers_from_its_first_to_its_last_item_a_minute_at_least() {
        const MINUTE: i64 = 60_000_000_000;
        for (extent, days) in [
            (None, 0.0),
            (Some((0, 0)), 1.0 / 1440.0),
            (Some((5, 5 + MINUTE / 2)), 1.0 / 1440.0),
            (Some((0, 60 * MINUTE)), 1.0 / 24.0),
            (Some((7, 7 + 1440 * MINUTE)), 1.0),
        ] {
            assert!((covered_days(extent) - days).abs() < 1e-12, "{extent:?}");
        }
    }

    #[test]
    fn currencies_are_three_letter_codes() {
        for (text, code) in [
            ("USD", Some("USD")),
            ("eur", Some("EUR")),
            (" JPY ", Some("JPY")),
            ("€", None),
            ("US", None),
            ("USDT", None),
            ("U5D", None),
            ("", None),
        ] {
            assert_eq!(
                Currency::parse(text).as_ref().map(Currency::as_str),
                code,
                "{text:?}"
            );
        }
        let eur = Currency::parse("eur").expect("EUR");
        assert_eq!(eur.amount(1234.5), "1234.50 EUR");
        assert_eq!(eur.amount(0.004), "0.00 EUR");
        let json = serde_json::to_string(&eur).expect("json");
        assert_eq!(json, "\"EUR\"");
        assert_eq!(serde_json::from_str::<Currency>(&json).expect("back"), eur);
        assert!(serde_json::from_str::<Currency>("\"euro\"").is_err());
    }
}
