//! A service's releases (`crate::releases`) as a section of its page.

use super::change::{self, Cell, Points, Relative};
use super::format::{self, duration, optional_duration as ms, percent};
use crate::releases::{Origin, Releases};

pub struct ReleaseView {
    pub version: String,
    /// Its traces in the window.
    pub href: String,
    pub seen: String,
    pub share: String,
    pub share_width: String,
    pub requests: u64,
    pub error_rate: String,
    pub failing: bool,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub origins: Vec<String>,
}

pub struct EndpointView {
    pub endpoint: String,
    pub requests: String,
    pub cells: [Cell; 4],
}

pub struct ComparisonView {
    pub base: String,
    pub version: String,
    /// The values the form picks them by.
    pub base_value: String,
    pub version_value: String,
    pub rows: Vec<EndpointView>,
    pub new_origins: Vec<String>,
}

pub struct Section {
    pub releases: Vec<ReleaseView>,
    pub comparison: Option<ComparisonView>,
    /// Why the releases asked for are not compared.
    pub error: Option<String>,
    /// The versions and their labels, for the form that picks two.
    pub versions: Vec<(String, String)>,
    /// The window's parameters, as the form's hidden fields.
    pub keep: Vec<(&'static str, String)>,
    pub note: String,
    pub json_href: String,
}

fn label(version: &str) -> String {
    if version.is_empty() {
        "(no version)".to_owned()
    } else {
        version.to_owned()
    }
}

fn origin(o: &Origin) -> String {
    format!("{} · {} ×{}", o.operation, o.error, o.count)
}

/// `r` as a section, or none when no request of the service said its
/// version. `time` the window's parameters as given.
pub fn section(r: &Releases, time: &[(&'static str, &str)]) -> Option<Section> {
    if r.releases.iter().all(|v| v.version.is_empty()) {
        return None;
    }
    let releases = r
        .releases
        .iter()
        .map(|v| {
            let mut pairs = vec![("service", r.service.as_str())];
            let attr = format!("service.version={}", v.version);
            if !v.version.is_empty() {
                pairs.push(("attr", attr.as_str()));
            }
            pairs.extend(time.iter().copied());
            ReleaseView {
                version: label(&v.version),
                href: format!("/traces?{}", format::query(pairs)),
                seen: format!(
                    "{} – {}",
                    format::time(v.first_seen_unix_nano),
                    format::time(v.last_seen_unix_nano)
                ),
                share: percent(v.traffic_share),
                share_width: format!("{:.1}", v.traffic_share * 100.0),
                requests: v.requests,
                error_rate: percent(v.error_rate),
                failing: v.errors > 0,
                p50: ms(v.p50_ns),
                p95: ms(v.p95_ns),
                p99: ms(v.p99_ns),
                origins: v.error_origins.iter().take(3).map(origin).collect(),
            }
        })
        .collect();
    let comparison = r.comparison.as_ref().map(|c| ComparisonView {
        base: label(&c.base),
        version: label(&c.version),
        base_value: c.base.clone(),
        version_value: c.version.clone(),
        rows: c
            .endpoints
            .iter()
            .map(|e| {
                let ns = |v: f64| duration(v as i64);
                EndpointView {
                    endpoint: e.endpoint.clone(),
                    requests: format!("{} → {}", e.base_requests, e.requests),
                    cells: [
                        change::cell(&e.error_rate, percent, Points),
                        change::cell(&e.p50_ns, ns, Relative),
                        change::cell(&e.p95_ns, ns, Relative),
                        change::cell(&e.p99_ns, ns, Relative),
                    ],
                }
            })
            .collect(),
        new_origins: c.new_error_origins.iter().map(origin).collect(),
    });
    let mut api = time.to_vec();
    if let Some(c) = &r.comparison {
        api.push(("base_version", c.base.as_str()));
        api.push(("version", c.version.as_str()));
    }
    Some(Section {
        releases,
        comparison,
        error: None,
        versions: r
            .releases
            .iter()
            .map(|v| (v.version.clone(), label(&v.version)))
            .collect(),
        keep: time.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        note: if r.failures_sampled {
            format!(
                "Error origins from the newest {} failed requests.",
                r.failures_examined
            )
        } else {
            String::new()
        },
        json_href: format!(
            "/api/v1/services/{}/releases?{}",
            format::path_segment(&r.service),
            format::query(api)
        ),
    })
}
