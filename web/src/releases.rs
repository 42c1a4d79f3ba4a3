//! A service's releases (`service.version`) side by side: when each ran,
//! its share of the requests, its error rate, latency and error origins;
//! and any two compared endpoint by endpoint, with the error origins only
//! the newer one has called out. From rollups (docs/adr/0025) and the
//! failures' origins; pure but for `read`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use store::rollup::{MINUTE_NS, Release};
use store::sketch::Sketch;

use crate::failures::FailureGroup;
use crate::reports::change::{Shift, error_rate_changed, percentile_changed};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Releases {
    pub service: String,
    pub start_time_unix_nano: i64,
    pub end_time_unix_nano: i64,
    /// Oldest first (by when each was first seen).
    pub releases: Vec<ReleaseRow>,
    /// Two releases compared, when there are two.
    pub comparison: Option<Comparison>,
    /// Failed traces whose origins were looked at; when `sampled`, the
    /// newest of more.
    pub failures_examined: usize,
    pub failures_sampled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseRow {
    /// Empty for requests of a resource without `service.version`.
    pub version: String,
    /// The first minute it was seen in, and the end of the last.
    pub first_seen_unix_nano: i64,
    pub last_seen_unix_nano: i64,
    pub requests: u64,
    pub traffic_share: f64,
    pub errors: u64,
    pub error_rate: f64,
    pub p50_ns: Option<i64>,
    pub p95_ns: Option<i64>,
    pub p99_ns: Option<i64>,
    /// Failures that started in this service at this release, by where.
    pub error_origins: Vec<Origin>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Origin {
    pub operation: String,
    pub error: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub base: String,
    pub version: String,
    /// Every endpoint either served, largest marked change first.
    pub endpoints: Vec<EndpointVersions>,
    /// Error origins of `version` that `base` never had.
    pub new_error_origins: Vec<Origin>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointVersions {
    pub endpoint: String,
    pub base_requests: u64,
    pub requests: u64,
    /// `then` is the base's, `now` the version's; marked as in
    /// `reports::change`.
    pub error_rate: Shift,
    pub p50_ns: Shift,
    pub p95_ns: Shift,
    pub p99_ns: Shift,
    pub change: f64,
}

/// One release's figures: all endpoints', or one's.
#[derive(Debug, Clone, Default)]
struct Sum {
    first_minute: i64,
    end_minute: i64,
    requests: u64,
    errors: u64,
    latency: Sketch,
}

impl Sum {
    fn add(&mut self, r: &Release) {
        if self.requests == 0 {
            (self.first_minute, self.end_minute) = (r.first_minute, r.end_minute);
        }
        self.first_minute = self.first_minute.min(r.first_minute);
        self.end_minute = self.end_minute.max(r.end_minute);
        self.requests += r.figures.requests.max(0) as u64;
        self.errors += r.figures.errors.max(0) as u64;
        self.latency.merge(&r.figures.sketch);
    }
}

/// The error origins in `service` of `groups`, per version.
fn origins_by_version(service: &str, groups: &[FailureGroup]) -> BTreeMap<String, Vec<Origin>> {
    let mut out: BTreeMap<String, Vec<Origin>> = BTreeMap::new();
    for g in groups.iter().filter(|g| g.service == service) {
        for v in &g.versions {
            out.entry(v.version.clone()).or_default().push(Origin {
                operation: g.operation.clone(),
                error: g.error.clone(),
                count: v.count,
            });
        }
    }
    for origins in out.values_mut() {
        origins.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cmp(b)));
    }
    out
}

/// What the rollups (`rows`) and failure groups say of `service`'s
/// releases; `pick` is the (base, version) to compare, else the two
/// newest. Pure.
pub fn build(
    service: &str,
    rows: &[Release],
    groups: &[FailureGroup],
    pick: Option<(&str, &str)>,
) -> (Vec<ReleaseRow>, Option<Comparison>) {
    let mut whole: BTreeMap<&str, Sum> = BTreeMap::new();
    let mut by_endpoint: BTreeMap<(&str, &str), Sum> = BTreeMap::new();
    for r in rows {
        whole.entry(&r.version).or_default().add(r);
        by_endpoint
            .entry((&r.version, &r.endpoint))
            .or_default()
            .add(r);
    }
    let origins = origins_by_version(service, groups);
    let total: u64 = whole.values().map(|s| s.requests).sum();
    let mut releases: Vec<ReleaseRow> = whole
        .iter()
        .map(|(version, s)| ReleaseRow {
            version: (*version).to_owned(),
            first_seen_unix_nano: s.first_minute * MINUTE_NS,
            last_seen_unix_nano: s.end_minute * MINUTE_NS,
            requests: s.requests,
            traffic_share: ratio(s.requests, total),
            errors: s.errors,
            error_rate: ratio(s.errors, s.requests),
            p50_ns: s.latency.percentile(0.5),
            p95_ns: s.latency.percentile(0.95),
            p99_ns: s.latency.percentile(0.99),
            error_origins: origins.get(*version).cloned().unwrap_or_default(),
        })
        .collect();
    releases.sort_by(|a, b| {
        (a.first_seen_unix_nano, a.last_seen_unix_nano, &a.version).cmp(&(
            b.first_seen_unix_nano,
            b.last_seen_unix_nano,
            &b.version,
        ))
    });
    let newest_two = match releases.as_slice() {
        [.., a, b] => Some((a.version.as_str(), b.version.as_str())),
        _ => None,
    };
    let pick = pick.or(newest_two);
    let comparison = pick.map(|(base, version)| {
        let endpoints: BTreeSet<&str> = by_endpoint
            .keys()
            .filter(|(v, _)| *v == base || *v == version)
            .map(|(_, e)| *e)
            .collect();
        let none = Sum::default();
        let mut rows: Vec<EndpointVersions> = endpoints
            .into_iter()
            .map(|endpoint| {
                let a = by_endpoint.get(&(base, endpoint)).unwrap_or(&none);
                let b = by_endpoint.get(&(version, endpoint)).unwrap_or(&none);
                endpoint_versions(endpoint, a, b)
            })
            .collect();
        rows.sort_by(|x, y| {
            y.change
                .total_cmp(&x.change)
                .then(y.requests.cmp(&x.requests))
                .then_with(|| x.endpoint.cmp(&y.endpoint))
        });
        let had: BTreeSet<(&str, &str)> = origins
            .get(base)
            .into_iter()
            .flatten()
            .map(|o| (o.operation.as_str(), o.error.as_str()))
            .collect();
        let new_error_origins = origins
            .get(version)
            .into_iter()
            .flatten()
            .filter(|o| !had.contains(&(o.operation.as_str(), o.error.as_str())))
            .cloned()
            .collect();
        Comparison {
            base: base.to_owned(),
            version: version.to_owned(),
            endpoints: rows,
            new_error_origins,
        }
    });
    (releases, comparison)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn endpoint_versions(endpoint: &str, a: &Sum, b: &Sum) -> EndpointVersions {
    let rate = |s: &Sum| (s.requests > 0).then(|| ratio(s.errors, s.requests));
    let percentile = |q: f64| Shift {
        then: a.latency.percentile(q).map(|v| v as f64),
        now: b.latency.percentile(q).map(|v| v as f64),
        marked: percentile_changed(&a.latency, &b.latency, q),
    };
    let mut row = EndpointVersions {
        endpoint: endpoint.to_owned(),
        base_requests: a.requests,
        requests: b.requests,
        error_rate: Shift {
            then: rate(a),
            now: rate(b),
            marked: error_rate_changed(a.errors, a.requests, b.errors, b.requests),
        },
        p50_ns: percentile(0.5),
        p95_ns: percentile(0.95),
        p99_ns: percentile(0.99),
        change: 0.0,
    };
    row.change = [row.error_rate, row.p50_ns, row.p95_ns, row.p99_ns]
        .iter()
        .filter(|s| s.marked)
        .map(Shift::size)
        .fold(0.0, f64::max);
    row
}

/// Why a pick of releases cannot be compared.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UnknownRelease(pub String);

/// Whether `rows` (a window's) hold both releases of `pick`.
pub fn check(service: &str, rows: &[Release], pick: (&str, &str)) -> Result<(), UnknownRelease> {
    let seen: BTreeSet<&str> = rows.iter().map(|r| r.version.as_str()).collect();
    match [pick.0, pick.1].into_iter().find(|v| !seen.contains(v)) {
        None => Ok(()),
        Some(v) => Err(UnknownRelease(format!(
            "{service} ran no release {v:?} in this window; it ran {:?}",
            seen.iter().collect::<Vec<_>>()
        ))),
    }
}

/// `service`'s releases over `(start, end)` from its rollup `rows` and
/// failures there; `pick` as in `build`. Pure.
pub fn releases(
    service: &str,
    (start, end): (i64, i64),
    rows: &[Release],
    failures: &crate::failures::Failures,
    pick: Option<(&str, &str)>,
) -> Releases {
    let (mut releases, comparison) = build(service, rows, &failures.groups, pick);
    // Rollups are whole minutes; the window is not.
    for r in &mut releases {
        r.first_seen_unix_nano = r.first_seen_unix_nano.clamp(start, end);
        r.last_seen_unix_nano = r.last_seen_unix_nano.clamp(start, end);
    }
    Releases {
        service: service.to_owned(),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        releases,
        comparison,
        failures_examined: failures.traces_examined,
        failures_sampled: failures.sampled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failures::VersionCount;
    use store::rollup::Figures;

    fn release(
        version: &str,
        endpoint: &str,
        minutes: (i64, i64),
        n: i64,
        errors: i64,
        ms: i64,
    ) -> Release {
        let mut figures = Figures::default();
        for i in 0..n {
            figures.add((ms + i % 7) * 1_000_000, i < errors);
        }
        Release {
            version: version.into(),
            endpoint: endpoint.into(),
            first_minute: minutes.0,
            end_minute: minutes.1,
            figures,
        }
    }

    fn group(operation: &str, error: &str, versions: &[(&str, u64)]) -> FailureGroup {
        FailureGroup {
            service: "api".into(),
            operation: operation.into(),
            error: error.into(),
            count: versions.iter().map(|v| v.1).sum(),
            entry_endpoints: vec![],
            first_seen_unix_nano: 0,
            last_seen_unix_nano: 0,
            example_trace_ids: vec![],
            examples: vec![],
            trend: vec![],
            versions: versions
                .iter()
                .map(|(version, count)| VersionCount {
                    version: (*version).into(),
                    count: *count,
                })
                .collect(),
        }
    }

    #[test]
    fn a_release_with_a_new_failure_shows_it_under_that_release_only() {
        let rows = [
            release("1.0", "GET /a", (0, 30), 600, 6, 20),
            release("1.0", "GET /b", (0, 30), 300, 3, 40),
            release("1.1", "GET /a", (25, 60), 600, 6, 20),
            release("1.1", "GET /b", (25, 60), 300, 90, 41),
        ];
        let groups = [
            group("SELECT", "Timeout", &[("1.0", 9), ("1.1", 8)]),
            group("SELECT", "DeadlockDetected", &[("1.1", 88)]),
        ];
        let (releases, comparison) = build("api", &rows, &groups, None);
        let versions: Vec<&str> = releases.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["1.0", "1.1"]);
        assert_eq!(releases[0].requests, 900);
        assert!((releases[1].traffic_share - 0.5).abs() < 1e-12);
        assert_eq!(releases[1].first_seen_unix_nano, 25 * MINUTE_NS);
        assert_eq!(releases[0].error_origins.len(), 1);
        assert_eq!(releases[1].error_origins[0].error, "DeadlockDetected");
        let c = comparison.unwrap();
        assert_eq!((c.base.as_str(), c.version.as_str()), ("1.0", "1.1"));
        let new: Vec<&str> = c
            .new_error_origins
            .iter()
            .map(|o| o.error.as_str())
            .collect();
        assert_eq!(new, ["DeadlockDetected"]);
        // GET /b's errors went from 1 % to 30 %: first, and marked; GET /a
        // did not change, and its 1 ms of p50 is within the noise.
        assert_eq!(c.endpoints[0].endpoint, "GET /b");
        assert!(c.endpoints[0].error_rate.marked);
        assert!(!c.endpoints[0].p50_ns.marked);
        assert_eq!(c.endpoints[1].change, 0.0);
        // Picked the other way round, nothing is new in 1.0.
        let (_, c) = build("api", &rows, &groups, Some(("1.1", "1.0")));
        assert!(c.unwrap().new_error_origins.is_empty());
        // One release: nothing to compare.
        let (releases, c) = build("api", &rows[..2], &groups, None);
        assert_eq!((releases.len(), c), (1, None));
    }
}
