//! The rows the read queries fetch (`queries`), each with the columns it
//! is filled from, and their conversion to what readers return (`views`).

use crate::error::{Result, StoreError, corrupt};
use crate::model::{Exemplar, MetricKind};
use crate::stored_json::{attributes, list};
use crate::trace_lists::service_list;
use crate::views::{MetricInfo, MetricPointView, TraceSummary};

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Parses an id of `N` bytes written as hex, in either case.
pub(crate) fn hex_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut id = [0u8; N];
    hex::decode_to_slice(text, &mut id).ok()?;
    Some(id)
}

/// A stored id as its fixed-size array.
pub(crate) fn fixed_id<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} id of {} bytes", bytes.len())))
}

#[derive(sqlx::FromRow)]
pub struct RawTraceSummary {
    pub trace_id: Vec<u8>,
    pub root_service: Option<String>,
    pub root_name: Option<String>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    pub services: String,
    pub entry_ns: Option<i64>,
    pub entry_status: Option<i64>,
    pub request_id: Option<String>,
    pub error_message: Option<String>,
}

impl RawTraceSummary {
    pub fn into_summary(self) -> TraceSummary {
        let services = service_list::names(&self.services);
        TraceSummary {
            trace_id: hex::encode(&self.trace_id),
            root_service: self.root_service,
            root_name: self.root_name,
            start_time_unix_nano: self.start_ns,
            duration_ns: self
                .entry_ns
                .unwrap_or_else(|| self.end_ns.saturating_sub(self.start_ns)),
            trace_duration_ns: self.end_ns.saturating_sub(self.start_ns),
            span_count: self.span_count,
            error_count: self.error_count,
            services,
            http_status_code: self.entry_status,
            request_id: self.request_id,
            error_message: self.error_message,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct RawMetricInfo {
    pub name: String,
    pub kind: String,
    pub unit: String,
    pub description: String,
    pub series_count: i64,
}

pub(crate) const METRICS_SQL: &str = "SELECT m.name, m.kind, m.unit, m.description, \
     COUNT(*) AS series_count \
     FROM (SELECT DISTINCT metric_id, attributes FROM metric_points) p \
     JOIN metrics m ON m.id = p.metric_id \
     GROUP BY m.name, m.kind, m.unit, m.description ORDER BY m.name, m.kind";

impl RawMetricInfo {
    pub fn into_view(self) -> Result<MetricInfo> {
        Ok(MetricInfo {
            kind: MetricKind::parse(&self.kind)
                .ok_or_else(|| corrupt("metric kind", &self.kind))?,
            name: self.name,
            unit: self.unit,
            description: self.description,
            series_count: self.series_count,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct RawPoint {
    pub name: String,
    pub service: String,
    pub kind: String,
    pub unit: String,
    pub temporality: i32,
    pub monotonic: bool,
    pub attributes: String,
    pub start_ns: i64,
    pub time_ns: i64,
    pub flags: i64,
    pub data: String,
    pub exemplars: Option<String>,
}

pub(crate) const POINTS_SQL: &str = "SELECT m.name, r.service, m.kind, m.unit, m.temporality, \
     m.monotonic, p.attributes, p.start_ns, p.time_ns, p.flags, p.data, p.exemplars \
     FROM metric_points p JOIN metrics m ON m.id = p.metric_id \
     JOIN resources r ON r.id = m.resource_id \
     WHERE m.name = $1 ORDER BY p.time_ns DESC LIMIT $2";

pub(crate) const POINTS_BETWEEN_SQL: &str = "SELECT m.name, r.service, m.kind, m.unit, \
     m.temporality, m.monotonic, p.attributes, p.start_ns, p.time_ns, p.flags, p.data, p.exemplars \
     FROM metric_points p JOIN metrics m ON m.id = p.metric_id \
     JOIN resources r ON r.id = m.resource_id \
     WHERE m.name = $1 AND p.time_ns >= $2 AND p.time_ns < $3 ORDER BY p.time_ns LIMIT $4";

impl RawPoint {
    pub fn into_view(self) -> Result<MetricPointView> {
        Ok(MetricPointView {
            kind: MetricKind::parse(&self.kind)
                .ok_or_else(|| corrupt("metric kind", &self.kind))?,
            name: self.name,
            service: self.service,
            unit: self.unit,
            temporality: self.temporality,
            monotonic: self.monotonic,
            attributes: attributes(&self.attributes, "point attributes")?,
            start_time_unix_nano: self.start_ns,
            time_unix_nano: self.time_ns,
            flags: count(self.flags),
            value: serde_json::from_str(&self.data).map_err(|e| corrupt("point value", e))?,
            exemplars: list::<Exemplar>(self.exemplars.as_deref(), "exemplars")?,
        })
    }
}
