//! Metric points: every kind read back, non-finite values kept.

use store::Batch;
use store::model::{
    Buckets, Exemplar, ExponentialHistogram, Histogram, MetricKind, PointValue, Quantile, Summary,
};
use store::value::{Attributes, Value};
use store::{MetricInfo, MetricPointView};

use super::common::*;
use crate::fixtures::*;
use crate::harness::Ctx;

fn exemplars() -> Vec<Exemplar> {
    vec![
        Exemplar {
            filtered_attributes: attrs([("user", s("u-1")), ("ratio", Value::Double(1.0))]),
            time_unix_nano: T0 + 17,
            value: Value::Double(9.5),
            trace_id: tid(5).to_vec(),
            span_id: sid(6).to_vec(),
        },
        Exemplar {
            filtered_attributes: Attributes::default(),
            time_unix_nano: T0 + 18,
            value: Value::Int(3),
            trace_id: Vec::new(),
            span_id: Vec::new(),
        },
    ]
}

/// The point view `metric_points` must return for point `i` of `batch`.
fn expected_point(batch: &Batch, i: usize) -> MetricPointView {
    let p = &batch.metric_points[i];
    MetricPointView {
        name: p.metric.name.clone(),
        service: batch.resources[p.resource_idx].service.clone(),
        kind: p.metric.kind,
        unit: p.metric.unit.clone(),
        temporality: p.metric.temporality,
        monotonic: p.metric.monotonic,
        attributes: p.attributes.clone(),
        start_time_unix_nano: p.start_time_unix_nano,
        time_unix_nano: p.time_unix_nano,
        flags: p.flags,
        value: p.value.clone(),
        exemplars: p.exemplars.clone(),
    }
}

pub async fn metrics_round_trip(ctx: Ctx) {
    let host = |h: &str| attrs([("host", s(h))]);
    let mut sum = descriptor("s.sum", MetricKind::Sum);
    sum.temporality = 2;
    sum.monotonic = true;
    sum.unit = "By".to_owned();
    let mut delta = descriptor("s.delta", MetricKind::Sum);
    delta.temporality = 1;
    delta.description = String::new();
    delta.unit = String::new();
    delta.metadata = attrs([("prometheus.type", s("counter"))]);

    let mut hist = point(
        descriptor("h.hist", MetricKind::Histogram),
        T0 + 10,
        host("a"),
        PointValue::Histogram(Histogram {
            count: 10,
            sum: Some(55.5),
            min: Some(0.5),
            max: Some(20.0),
            bucket_counts: vec![1, 4, 5],
            explicit_bounds: vec![1.0, 10.0],
        }),
    );
    hist.exemplars = exemplars();
    hist.flags = 1;
    let bare_hist = point(
        descriptor("h.hist", MetricKind::Histogram),
        T0 + 11,
        host("b"),
        PointValue::Histogram(Histogram {
            count: 0,
            sum: None,
            min: None,
            max: None,
            bucket_counts: vec![0],
            explicit_bounds: Vec::new(),
        }),
    );
    let mut exp = point(
        descriptor("e.exp", MetricKind::ExponentialHistogram),
        T0 + 12,
        Attributes::default(),
        PointValue::ExponentialHistogram(ExponentialHistogram {
            count: 7,
            sum: Some(12.0),
            min: Some(-3.0),
            max: Some(8.25),
            scale: 3,
            zero_count: 1,
            zero_threshold: 1e-9,
            positive: Buckets {
                offset: -2,
                bucket_counts: vec![1, 2, 3],
            },
            negative: Buckets {
                offset: 1,
                bucket_counts: vec![0, 1],
            },
        }),
    );
    exp.exemplars = vec![exemplars().remove(0)];
    let summary = point(
        descriptor("q.summary", MetricKind::Summary),
        T0 + 13,
        host("a"),
        PointValue::Summary(Summary {
            count: 4,
            sum: 10.0,
            quantile_values: vec![
                Quantile {
                    quantile: 0.0,
                    value: 1.0,
                },
                Quantile {
                    quantile: 0.5,
                    value: 2.5,
                },
                Quantile {
                    quantile: 0.99,
                    value: 4.0,
                },
                Quantile {
                    quantile: 1.0,
                    value: 4.0,
                },
            ],
        }),
    );
    let mut int_gauge = gauge("g.int", T0 + 1, host("a"), Value::Int(5));
    int_gauge.exemplars = exemplars();
    let b1 = points_batch(
        "api",
        vec![
            int_gauge,
            gauge("g.int", T0 + 3, host("b"), Value::Int(-7)),
            gauge("g.double", T0 + 1, host("a"), Value::Double(1.0)),
            gauge("g.double", T0 + 2, host("a"), Value::Double(0.25)),
            point(
                sum.clone(),
                T0 + 4,
                host("a"),
                PointValue::Value(Value::Int(100)),
            ),
            point(
                delta,
                T0 + 5,
                Attributes::default(),
                PointValue::Value(Value::Double(-3.5)),
            ),
            hist,
            bare_hist,
            exp,
            summary,
        ],
    );
    write(&ctx, &b1).await;
    // The same streams again in later batches, and one from another service.
    let b2 = points_batch(
        "api",
        vec![
            gauge("g.int", T0 + 2, host("a"), Value::Int(6)),
            point(sum, T0 + 6, host("a"), PointValue::Value(Value::Int(120))),
        ],
    );
    write(&ctx, &b2).await;
    let b3 = points_batch(
        "worker",
        vec![gauge("g.int", T0 + 4, host("a"), Value::Int(8))],
    );
    write(&ctx, &b3).await;

    // Newest first, each as written.
    let got = points(&ctx, "g.int", 10).await;
    let want = [
        expected_point(&b3, 0),
        expected_point(&b1, 1),
        expected_point(&b2, 0),
        expected_point(&b1, 0),
    ];
    assert_eq!(got.len(), want.len());
    for (got, want) in got.iter().zip(&want) {
        assert_same(got, want, &format!("g.int point @{}", want.time_unix_nano));
    }
    assert_eq!(got[0].service, "worker");
    assert!(matches!(got[1].value, PointValue::Value(Value::Int(-7))));
    assert_eq!(got[3].exemplars.len(), 2);
    assert_eq!(got[3].exemplars[0].trace_id, tid(5).to_vec());
    assert_eq!(got[3].exemplars[0].span_id, sid(6).to_vec());
    assert!(got[3].exemplars[1].trace_id.is_empty());
    assert_same(
        &points(&ctx, "g.int", 2).await,
        &got[..2].to_vec(),
        "g.int limit 2",
    );
    assert_eq!(points(&ctx, "g.int", 1).await.len(), 1);

    let got = points(&ctx, "g.double", 10).await;
    assert_same(
        &got,
        &vec![expected_point(&b1, 3), expected_point(&b1, 2)],
        "g.double",
    );
    assert!(matches!(got[1].value, PointValue::Value(Value::Double(d)) if d == 1.0));

    let got = points(&ctx, "s.sum", 10).await;
    assert_same(
        &got,
        &vec![expected_point(&b2, 1), expected_point(&b1, 4)],
        "s.sum",
    );
    assert_eq!((got[0].temporality, got[0].monotonic), (2, true));
    let got = points(&ctx, "s.delta", 10).await;
    assert_same(&got, &vec![expected_point(&b1, 5)], "s.delta");
    assert_eq!((got[0].temporality, got[0].monotonic), (1, false));
    assert_same(
        &points(&ctx, "h.hist", 10).await,
        &vec![expected_point(&b1, 7), expected_point(&b1, 6)],
        "h.hist",
    );
    assert_same(
        &points(&ctx, "e.exp", 10).await,
        &vec![expected_point(&b1, 8)],
        "e.exp",
    );
    assert_same(
        &points(&ctx, "q.summary", 10).await,
        &vec![expected_point(&b1, 9)],
        "q.summary",
    );
    assert!(
        points(&ctx, "g", 10).await.is_empty(),
        "names match exactly"
    );

    let info = |name: &str, kind, unit: &str, description: &str, series_count| MetricInfo {
        name: name.to_owned(),
        kind,
        unit: unit.to_owned(),
        description: description.to_owned(),
        series_count,
    };
    let what = |name: &str| format!("what {name} measures");
    assert_eq!(
        ctx.store.reader().metrics().await.expect("metrics"),
        vec![
            info(
                "e.exp",
                MetricKind::ExponentialHistogram,
                "ms",
                &what("e.exp"),
                1
            ),
            info("g.double", MetricKind::Gauge, "ms", &what("g.double"), 1),
            // api/host=a, api/host=b, worker/host=a
            info("g.int", MetricKind::Gauge, "ms", &what("g.int"), 3),
            info("h.hist", MetricKind::Histogram, "ms", &what("h.hist"), 2),
            info(
                "q.summary",
                MetricKind::Summary,
                "ms",
                &what("q.summary"),
                1
            ),
            info("s.delta", MetricKind::Sum, "", "", 1),
            info("s.sum", MetricKind::Sum, "By", &what("s.sum"), 1),
        ]
    );
    // One stream row per (resource, scope, descriptor), however many batches.
    assert_eq!(ctx.count("metrics").await, 8);
    assert_eq!(ctx.count("metric_points").await, 13);
    assert_eq!(stats(&ctx).await.metric_points, 13);
}

/// Values a Prometheus summary or a broken SDK really sends: NaN quantiles
/// (a summary with no observations in its window), infinite gauges.
pub async fn metric_non_finite_values(ctx: Ctx) {
    let nan_summary = point(
        descriptor("rpc.latency", MetricKind::Summary),
        T0 + 1,
        Attributes::default(),
        PointValue::Summary(Summary {
            count: 0,
            sum: 0.0,
            quantile_values: vec![
                Quantile {
                    quantile: 0.5,
                    value: f64::NAN,
                },
                Quantile {
                    quantile: 0.99,
                    value: f64::NAN,
                },
            ],
        }),
    );
    let odd_histogram = point(
        descriptor("odd.histogram", MetricKind::Histogram),
        T0 + 1,
        Attributes::default(),
        PointValue::Histogram(Histogram {
            count: 2,
            sum: Some(f64::NAN),
            min: Some(f64::NEG_INFINITY),
            max: Some(f64::INFINITY),
            bucket_counts: vec![1, 0, 1],
            explicit_bounds: vec![0.0, f64::INFINITY],
        }),
    );
    let odd_exponential = point(
        descriptor("odd.exponential", MetricKind::ExponentialHistogram),
        T0 + 1,
        Attributes::default(),
        PointValue::ExponentialHistogram(ExponentialHistogram {
            count: 1,
            sum: Some(f64::INFINITY),
            min: None,
            max: Some(f64::NAN),
            scale: -1,
            zero_count: 0,
            zero_threshold: f64::NAN,
            positive: Buckets {
                offset: 0,
                bucket_counts: vec![1],
            },
            negative: Buckets {
                offset: 0,
                bucket_counts: Vec::new(),
            },
        }),
    );
    let temperature = |time, value| gauge("temperature", time, Attributes::default(), value);
    let batch = points_batch(
        "api",
        vec![
            temperature(T0 + 1, Value::Double(f64::NAN)),
            temperature(T0 + 2, Value::Double(f64::INFINITY)),
            temperature(T0 + 3, Value::Double(f64::NEG_INFINITY)),
            nan_summary,
            odd_histogram,
            odd_exponential,
        ],
    );
    write(&ctx, &batch).await;
    assert_same(
        &points(&ctx, "temperature", 10).await,
        &vec![
            expected_point(&batch, 2),
            expected_point(&batch, 1),
            expected_point(&batch, 0),
        ],
        "non-finite gauges",
    );
    for (name, i) in [
        ("rpc.latency", 3),
        ("odd.histogram", 4),
        ("odd.exponential", 5),
    ] {
        assert_same(
            &points(&ctx, name, 10).await,
            &vec![expected_point(&batch, i)],
            name,
        );
    }
    assert_eq!(
        ctx.store.reader().metrics().await.expect("metrics").len(),
        4
    );
}
