//! Then and now: every endpoint's rate, error rate and latency
//! percentiles in a window against an earlier one, each change marked
//! when it is larger than chance would make it.
//!
//! How "larger than the noise" is decided, per figure (`Z` standard
//! errors, so that a table of fifty endpoints and five figures marks by
//! chance about one figure in a hundred tables):
//! - rate: the two windows' requests, `n0 + n1`, split between them as
//!   their lengths would split them if the rate had not changed (a
//!   binomial, as for two Poisson counts); marked when `n1` is more than
//!   `Z` standard deviations from its share;
//! - error rate: a two-proportion z-test on the pooled rate;
//! - a latency percentile: its distribution-free confidence interval in
//!   each window, the values at ranks `nq ± Z·√(nq(1−q))` of the window's
//!   sketch; marked when the two intervals do not overlap and the two
//!   values differ by more than twice the sketch's relative error.
//!
//! Pure: two analyses in, rows out.

use std::collections::BTreeMap;

use serde::Serialize;
use store::sketch::{RELATIVE_ERROR, Sketch};

use super::analysis::Analysis;
use super::figures::EndpointAgg;

/// Standard errors a change must exceed to be marked.
pub const Z: f64 = 3.0;

/// Every endpoint of both windows, largest marked change first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThenAndNow {
    pub then_start_unix_nano: i64,
    pub then_end_unix_nano: i64,
    pub now_start_unix_nano: i64,
    pub now_end_unix_nano: i64,
    /// How a change is judged larger than the noise, in words.
    pub method: String,
    pub endpoints: Vec<EndpointChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointChange {
    pub service: String,
    pub endpoint: String,
    pub then_requests: u64,
    pub now_requests: u64,
    pub rate_per_second: Shift,
    pub error_rate: Shift,
    pub p50_ns: Shift,
    pub p95_ns: Shift,
    pub p99_ns: Shift,
    /// The largest of the marked figures' changes, each as
    /// `|now − then| / max(now, then)` (0 to 1): what the rows sort by.
    pub change: f64,
}

/// One figure in both windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Shift {
    pub then: Option<f64>,
    pub now: Option<f64>,
    /// Larger than the noise, as the module says.
    pub marked: bool,
}

impl Shift {
    /// `|now − then| / max(now, then)`, 0 when either is missing.
    pub fn size(&self) -> f64 {
        match (self.then, self.now) {
            (Some(a), Some(b)) if a.max(b) > 0.0 => (b - a).abs() / a.max(b),
            _ => 0.0,
        }
    }
}

/// Whether `n1` requests in `s1` seconds against `n0` in `s0` is a change
/// of rate.
pub fn rate_changed(n0: u64, s0: f64, n1: u64, s1: f64) -> bool {
    let n = (n0 + n1) as f64;
    if n == 0.0 || s0 <= 0.0 || s1 <= 0.0 {
        return false;
    }
    let p = s1 / (s0 + s1);
    let sd = (n * p * (1.0 - p)).sqrt();
    (n1 as f64 - n * p).abs() > Z * sd
}

/// Whether `e1` errors of `n1` against `e0` of `n0` is a change of rate.
pub fn error_rate_changed(e0: u64, n0: u64, e1: u64, n1: u64) -> bool {
    if n0 == 0 || n1 == 0 {
        return false;
    }
    let (n0, n1) = (n0 as f64, n1 as f64);
    let pooled = (e0 + e1) as f64 / (n0 + n1);
    let se = (pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1)).sqrt();
    se > 0.0 && ((e1 as f64 / n1) - (e0 as f64 / n0)).abs() > Z * se
}

/// The values between which the `q` percentile of what `sketch` holds
/// lies, at `Z` standard errors.
pub fn interval(sketch: &Sketch, q: f64) -> Option<(i64, i64)> {
    let n = sketch.count() as f64;
    let spread = Z * (n * q * (1.0 - q)).sqrt();
    let low = (n * q - spread).floor().max(1.0) as u64;
    let high = (n * q + spread).ceil() as u64 + 1;
    Some((sketch.at_rank(low)?, sketch.at_rank(high)?))
}

/// Whether the `q` percentile moved between the two sketches.
pub fn percentile_changed(then: &Sketch, now: &Sketch, q: f64) -> bool {
    let (Some((a_low, a_high)), Some((b_low, b_high))) = (interval(then, q), interval(now, q))
    else {
        return false;
    };
    let (Some(a), Some(b)) = (then.percentile(q), now.percentile(q)) else {
        return false;
    };
    let apart = a_high < b_low || b_high < a_low;
    let beyond_sketch = (a - b).abs() as f64 > 2.0 * RELATIVE_ERROR * a.max(b) as f64;
    apart && beyond_sketch
}

/// One endpoint's figures in both windows (`then` of `s0` seconds, `now`
/// of `s1`).
pub fn endpoint(
    service: String,
    endpoint: String,
    then: &EndpointAgg,
    s0: f64,
    now: &EndpointAgg,
    s1: f64,
) -> EndpointChange {
    let has = |agg: &EndpointAgg| agg.requests > 0;
    let error_rate = |agg: &EndpointAgg| has(agg).then(|| agg.errors as f64 / agg.requests as f64);
    let percentile = |q: f64| Shift {
        then: then.latency.percentile(q).map(|v| v as f64),
        now: now.latency.percentile(q).map(|v| v as f64),
        marked: percentile_changed(&then.latency, &now.latency, q),
    };
    let mut row = EndpointChange {
        service,
        endpoint,
        then_requests: then.requests,
        now_requests: now.requests,
        rate_per_second: Shift {
            then: Some(then.requests as f64 / s0.max(f64::MIN_POSITIVE)),
            now: Some(now.requests as f64 / s1.max(f64::MIN_POSITIVE)),
            marked: rate_changed(then.requests, s0, now.requests, s1),
        },
        error_rate: Shift {
            then: error_rate(then),
            now: error_rate(now),
            marked: error_rate_changed(then.errors, then.requests, now.errors, now.requests),
        },
        p50_ns: percentile(0.5),
        p95_ns: percentile(0.95),
        p99_ns: percentile(0.99),
        change: 0.0,
    };
    row.change = [
        row.rate_per_second,
        row.error_rate,
        row.p50_ns,
        row.p95_ns,
        row.p99_ns,
    ]
    .iter()
    .filter(|s| s.marked)
    .map(Shift::size)
    .fold(0.0, f64::max);
    row
}

/// Every endpoint of `then` and `now` (of `service`'s, when given),
/// largest change first, then most requests now.
pub fn compare(then: &Analysis, now: &Analysis, service: Option<&str>) -> ThenAndNow {
    let by_name = |a: &Analysis| -> BTreeMap<(String, String), EndpointAgg> {
        a.endpoints
            .iter()
            .map(|(&(s, e), agg)| {
                let key = (a.names.name(s).to_owned(), a.names.name(e).to_owned());
                (key, agg.clone())
            })
            .filter(|((s, _), _)| service.is_none_or(|f| f == s))
            .collect()
    };
    let (before, after) = (by_name(then), by_name(now));
    let none = EndpointAgg::default();
    let mut keys: Vec<&(String, String)> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut endpoints: Vec<EndpointChange> = keys
        .into_iter()
        .map(|key| {
            endpoint(
                key.0.clone(),
                key.1.clone(),
                before.get(key).unwrap_or(&none),
                then.window.seconds(),
                after.get(key).unwrap_or(&none),
                now.window.seconds(),
            )
        })
        .collect();
    endpoints.sort_by(|x, y| {
        y.change
            .total_cmp(&x.change)
            .then(y.now_requests.cmp(&x.now_requests))
            .then_with(|| (&x.service, &x.endpoint).cmp(&(&y.service, &y.endpoint)))
    });
    ThenAndNow {
        then_start_unix_nano: then.window.start,
        then_end_unix_nano: then.window.end,
        now_start_unix_nano: now.window.start,
        now_end_unix_nano: now.window.end,
        method: METHOD.to_owned(),
        endpoints,
    }
}

pub const METHOD: &str = "A change is marked when chance would make it less than once in \
    300: for the rate, the two windows' requests against the split their lengths predict; \
    for the error rate, a two-proportion z-test; for a percentile, when its confidence \
    intervals (by rank, from each window's sketch) do not overlap and the two differ by \
    more than the sketches' 2 % error.";

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of `n` durations around `median` ms, as a
    /// sketch, with `errors` of them failed.
    fn agg(n: u64, errors: u64, median_ms: f64, seed: u64) -> EndpointAgg {
        let mut agg = EndpointAgg {
            requests: n,
            errors,
            ..EndpointAgg::default()
        };
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        for _ in 0..n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // A log-normal-ish spread: a factor of 0.5 to 2 around the median.
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let ms = median_ms * 2f64.powf(2.0 * u - 1.0);
            agg.latency.add((ms * 1e6) as i64);
        }
        agg
    }

    fn marks(row: &EndpointChange) -> [bool; 5] {
        [
            row.rate_per_second.marked,
            row.error_rate.marked,
            row.p50_ns.marked,
            row.p95_ns.marked,
            row.p99_ns.marked,
        ]
    }

    #[test]
    fn noise_is_not_marked_and_changes_are() {
        let hour = 3600.0;
        // (then, now, marked: rate, error rate, p50, p95, p99)
        let cases = [
            // The same traffic drawn twice: nothing moves past the noise.
            (agg(2000, 20, 40.0, 1), agg(2000, 20, 40.0, 2), [false; 5]),
            // Ordinary wobble: 5 % more requests, 23 errors for 20.
            (agg(2000, 20, 40.0, 3), agg(2100, 23, 40.0, 4), [false; 5]),
            // Twice the traffic.
            (
                agg(2000, 20, 40.0, 5),
                agg(4000, 40, 40.0, 6),
                [true, false, false, false, false],
            ),
            // 1 % of requests failing, then 5 %.
            (
                agg(2000, 20, 40.0, 7),
                agg(2000, 100, 40.0, 8),
                [false, true, false, false, false],
            ),
            // Everything 50 % slower.
            (
                agg(2000, 20, 40.0, 9),
                agg(2000, 20, 60.0, 10),
                [false, false, true, true, true],
            ),
            // A handful of requests says little, whatever they did.
            (agg(4, 0, 40.0, 11), agg(6, 2, 80.0, 12), [false; 5]),
        ];
        for (i, (then, now, want)) in cases.iter().enumerate() {
            let row = endpoint("s".into(), "e".into(), then, hour, now, hour);
            assert_eq!(marks(&row), *want, "case {i}");
            assert_eq!(row.change > 0.0, want.contains(&true), "case {i}");
        }
    }

    #[test]
    fn a_new_endpoint_has_no_then() {
        let none = EndpointAgg::default();
        let row = endpoint(
            "s".into(),
            "e".into(),
            &none,
            60.0,
            &agg(500, 0, 5.0, 1),
            60.0,
        );
        assert_eq!(row.error_rate.then, None);
        assert_eq!(row.p95_ns.then, None);
        assert!(row.rate_per_second.marked);
        assert_eq!(row.change, 1.0);
        // And rates are per second of windows of different lengths.
        let row = endpoint(
            "s".into(),
            "e".into(),
            &agg(60, 0, 5.0, 1),
            60.0,
            &agg(120, 0, 5.0, 2),
            120.0,
        );
        assert_eq!(row.rate_per_second.now, Some(1.0));
        assert!(!row.rate_per_second.marked);
    }

    #[test]
    fn intervals_hold_the_percentile() {
        let a = agg(1000, 0, 40.0, 1);
        for q in [0.5, 0.95, 0.99] {
            let (low, high) = interval(&a.latency, q).unwrap();
            let p = a.latency.percentile(q).unwrap();
            assert!(low <= p && p <= high, "q {q}: {low} {p} {high}");
            assert!(low < high);
        }
        assert_eq!(interval(&Sketch::default(), 0.5), None);
    }
}
