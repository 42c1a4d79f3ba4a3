//! The spans the bench sends, made up and encoded before the clock starts
//! so that the load generator spends nothing on them while it is timed.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message as _;

use super::services::{
    BACKENDS, EDGE_ROUTES, EDGES, EXCEPTIONS, INSTANCES, Service, TENANTS, USER_AGENTS, resource,
};
use crate::synth::{Rng, b, i, s, splitmix64};

/// Spans per trace: four in an edge service, four in the backend it calls.
pub(super) const SPANS_PER_TRACE: u64 = 8;
const HALF_TRACE: u64 = SPANS_PER_TRACE / 2;

/// One export request, encoded.
pub(super) struct Body {
    pub(super) bytes: Bytes,
    pub(super) spans: u64,
}

/// Traces of eight spans: a server span in an edge service with two internal
/// children and a client call to a backend, whose server span has a
/// PostgreSQL query, a Redis lookup and an internal step below it. Each
/// request holds one service instance's half of its traces, as one SDK would
/// export them: even requests an edge service's, odd ones the backend's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Workload {
    total_spans: u64,
    batch: u64,
    /// Mixed into every id, so that runs against one server never collide.
    salt: u64,
    /// When the first trace started.
    base_ns: u64,
    /// How far apart traces start.
    trace_every_ns: u64,
}

/// What the generated requests hold, for the report.
pub(super) struct Shape {
    pub(super) requests: usize,
    pub(super) otlp_bytes: u64,
    pub(super) attributes_per_span: f64,
    pub(super) exception_share: f64,
    pub(super) services: usize,
    pub(super) resources: usize,
}

impl Workload {
    pub(super) fn new(total_spans: u64, batch: u32, spread_ns: u64) -> Workload {
        let now_ns = web::reports::now_ns() as u64;
        // The traces take `spread_ns` (or 40 µs apart, when there are more
        // than that at that rate), ending a few minutes ago: a database of
        // the spans a team stores in that time, which the reads' windows
        // cut through as they would a real one.
        let traces = total_spans.div_ceil(SPANS_PER_TRACE).max(1);
        let trace_every_ns = (spread_ns / traces).max(40_000);
        Workload {
            total_spans,
            batch: u64::from(batch),
            salt: splitmix64(now_ns ^ u64::from(std::process::id()).rotate_left(32)),
            base_ns: now_ns.saturating_sub(300_000_000_000 + traces * trace_every_ns),
            trace_every_ns,
        }
    }

    pub(super) fn resalted(self) -> Workload {
        Workload {
            salt: splitmix64(self.salt),
            ..self
        }
    }

    pub(super) fn n_bodies(&self) -> usize {
        self.total_spans.div_ceil(self.batch) as usize
    }

    pub(super) async fn encode_all(&self) -> anyhow::Result<Vec<Body>> {
        let workload = *self;
        Ok(tokio::task::spawn_blocking(move || {
            (0..workload.n_bodies())
                .map(|index| {
                    let request = workload.request(index);
                    let spans = request
                        .resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len() as u64)
                        .sum();
                    Body {
                        bytes: Bytes::from(request.encode_to_vec()),
                        spans,
                    }
                })
                .collect()
        })
        .await?)
    }

    pub(super) fn shape(&self, bodies: &[Body]) -> Shape {
        // Counted on a sample: the first two requests (an edge and a backend half).
        let mut spans = 0u64;
        let mut attributes = 0u64;
        let mut exceptions = 0u64;
        for index in 0..self.n_bodies().min(2) {
            for span in self
                .request(index)
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                spans += 1;
                attributes += span.attributes.len() as u64;
                exceptions += u64::from(span.events.iter().any(|e| e.name == "exception"));
            }
        }
        Shape {
            requests: bodies.len(),
            otlp_bytes: bodies.iter().map(|b| b.bytes.len() as u64).sum(),
            attributes_per_span: attributes as f64 / spans.max(1) as f64,
            exception_share: exceptions as f64 / spans.max(1) as f64,
            services: EDGES.len() + BACKENDS.len(),
            resources: (EDGES.len() + BACKENDS.len()) * INSTANCES as usize,
        }
    }

    /// Export request `index`, deterministic but for the ids' salt.
    pub(super) fn request(&self, index: usize) -> ExportTraceServiceRequest {
        let index = index as u64;
        let first_span = index * self.batch;
        let n = self.batch.min(self.total_spans.saturating_sub(first_span));
        let group = index / 2;
        let backend = index % 2 == 1;
        let traces_per_body = self.batch.div_ceil(HALF_TRACE);
        let instance = (group / 5) % INSTANCES;
        let service = if backend {
            &BACKENDS[(group % BACKENDS.len() as u64) as usize]
        } else {
            &EDGES[(group % EDGES.len() as u64) as usize]
        };
        let downstream = &BACKENDS[(group % BACKENDS.len() as u64) as usize];

        // One bucket per instrumentation scope.
        let mut http = Vec::new();
        let mut db = Vec::new();
        let mut app = Vec::new();
        let mut emitted = 0;
        'traces: for k in 0..traces_per_body {
            let trace = group * traces_per_body + k;
            let slots = if backend { 4..8 } else { 0..4 };
            for slot in slots {
                if emitted == n {
                    break 'traces;
                }
                let (span, bucket) = self.span(trace, slot, downstream);
                match bucket {
                    Bucket::Http => http.push(span),
                    Bucket::Db => db.push(span),
                    Bucket::App => app.push(span),
                }
                emitted += 1;
            }
        }
        let scope = |name: String, version: &str, spans: Vec<Span>| ScopeSpans {
            scope: Some(InstrumentationScope {
                name,
                version: version.to_owned(),
                ..Default::default()
            }),
            spans,
            schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
        };
        let scope_spans = [
            scope(service.http_scope.to_owned(), "0.31.0", http),
            scope(service.db_scope.to_owned(), "0.29.1", db),
            scope(format!("shop.{}", service.name), service.version, app),
        ]
        .into_iter()
        .filter(|s| !s.spans.is_empty())
        .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource(service, instance)),
                scope_spans,
                schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
            }],
        }
    }

    fn trace_id(&self, trace: u64) -> Vec<u8> {
        // splitmix64 is a bijection, so distinct traces get distinct ids.
        let high = splitmix64(trace ^ self.salt);
        let low = splitmix64(high ^ 0x5851_f42d_4c95_7f2d);
        let mut id = high.to_be_bytes().to_vec();
        id.extend_from_slice(&low.to_be_bytes());
        id
    }

    fn span_id(&self, trace: u64, slot: u64) -> Vec<u8> {
        let id = splitmix64((trace * SPANS_PER_TRACE + slot) ^ self.salt.rotate_left(17));
        id.max(1).to_be_bytes().to_vec()
    }

    fn span(&self, trace: u64, slot: u64, downstream: &Service) -> (Span, Bucket) {
        let mut rng = Rng(splitmix64(trace.wrapping_mul(31).wrapping_add(slot)));
        let mut trace_rng = Rng(splitmix64(trace ^ 0x1234_5678));
        let request_id = format!("{:016x}{:016x}", trace_rng.next(), trace_rng.next());
        let edge_route = &EDGE_ROUTES[trace_rng.below(EDGE_ROUTES.len() as u64) as usize];
        let backend_route =
            &downstream.routes[trace_rng.below(downstream.routes.len() as u64) as usize];
        let customer = trace_rng.below(2_000_000) as i64;
        let order = 10_000_000 + trace_rng.below(90_000_000) as i64;
        let not_found = trace_rng.below(100) < 3;
        let edge_host = EDGES[(trace % EDGES.len() as u64) as usize].host;

        // Times: the trace starts every `trace_every_ns` and lasts 5–300 ms.
        let start = self.base_ns + trace * self.trace_every_ns;
        let duration = 5_000_000 + trace_rng.below(295_000_000);
        let at = |from: f64, to: f64| {
            (
                start + (duration as f64 * from) as u64,
                start + (duration as f64 * to) as u64,
            )
        };
        let exception = rng.below(10) == 0;
        let status_for = |ok: i64| if exception { 500 } else { ok };
        let edge_status = if not_found { 404 } else { 200 };

        let parent = match slot {
            0 => None,
            1..=3 => Some(self.span_id(trace, 0)),
            4 => Some(self.span_id(trace, 2)),
            _ => Some(self.span_id(trace, 4)),
        };
        let ip = |rng: &mut Rng, prefix: &str| {
            format!("{prefix}.{}.{}", rng.below(256), 1 + rng.below(254))
        };
        let port = |rng: &mut Rng| 32_768 + rng.below(28_000) as i64;
        let code = |rng: &mut Rng, function: &str, file: &str| {
            [
                s("code.function.name", function),
                s("code.file.path", file),
                i("code.line.number", 20 + rng.below(400) as i64),
                s(
                    "thread.name",
                    format!("tokio-runtime-worker-{}", rng.below(8)),
                ),
            ]
        };

        let (name, kind, (begin, end), attributes, bucket) = match slot {
            0 => (
                format!("{} {}", edge_route.method, edge_route.route),
                span::SpanKind::Server,
                at(0.0, 1.0),
                vec![
                    s("http.request.method", edge_route.method),
                    s("http.route", edge_route.route),
                    i("http.response.status_code", status_for(edge_status)),
                    s(
                        "url.full",
                        format!(
                            "https://{edge_host}{}?customer={customer}",
                            edge_route.path.replace("{id}", &order.to_string())
                        ),
                    ),
                    s("url.scheme", "https"),
                    s("server.address", edge_host),
                    i("server.port", 443),
                    s("client.address", ip(&mut rng, "81.12")),
                    s(
                        "user_agent.original",
                        USER_AGENTS[rng.below(USER_AGENTS.len() as u64) as usize],
                    ),
                    i("network.peer.port", port(&mut rng)),
                    s("request_id", request_id.as_str()),
                    i("app.customer_id", customer),
                    b("app.feature.new_checkout", customer % 3 == 0),
                ],
                Bucket::Http,
            ),
            1 => {
                let mut attributes = code(&mut rng, "auth::authorize", "src/auth.rs").to_vec();
                attributes.extend([
                    s("request_id", request_id.as_str()),
                    s("enduser.id", format!("user-{customer}")),
                    s("app.auth.method", "jwt"),
                    b("app.cache_hit", rng.below(4) != 0),
                    s("app.tenant", TENANTS[(customer % 5) as usize]),
                    i("app.permissions", rng.below(40) as i64),
                    s("app.region", "eu-west-1"),
                ]);
                (
                    "authorize".to_owned(),
                    span::SpanKind::Internal,
                    at(0.01, 0.08),
                    attributes,
                    Bucket::App,
                )
            }
            2 => (
                backend_route.method.to_owned(),
                span::SpanKind::Client,
                at(0.1, 0.85),
                vec![
                    s("http.request.method", backend_route.method),
                    s(
                        "url.full",
                        format!(
                            "http://{}:8080{}",
                            downstream.host,
                            backend_route.path.replace("{id}", &order.to_string())
                        ),
                    ),
                    s("server.address", downstream.host),
                    i("server.port", 8080),
                    i("http.response.status_code", status_for(200)),
                    s("network.peer.address", ip(&mut rng, "10.2")),
                    i("network.peer.port", 8080),
                    s("network.protocol.version", "1.1"),
                    s("request_id", request_id.as_str()),
                    s("peer.service", downstream.name),
                    i("app.attempt", 1),
                    i("app.timeout_ms", 2_000),
                ],
                Bucket::Http,
            ),
            3 => {
                let mut attributes =
                    code(&mut rng, "render::serialize_response", "src/render.rs").to_vec();
                attributes.extend([
                    s("request_id", request_id.as_str()),
                    i("app.response.bytes", 200 + rng.below(40_000) as i64),
                    s("app.format", "json"),
                    i("app.items", rng.below(50) as i64),
                    b("app.compressed", rng.below(2) == 0),
                    s("app.tenant", TENANTS[(customer % 5) as usize]),
                    s("app.region", "eu-west-1"),
                ]);
                (
                    "serialize response".to_owned(),
                    span::SpanKind::Internal,
                    at(0.86, 0.98),
                    attributes,
                    Bucket::App,
                )
            }
            4 => (
                format!("{} {}", backend_route.method, backend_route.route),
                span::SpanKind::Server,
                at(0.11, 0.84),
                vec![
                    s("http.request.method", backend_route.method),
                    s("http.route", backend_route.route),
                    i("http.response.status_code", status_for(200)),
                    s(
                        "url.path",
                        backend_route.path.replace("{id}", &order.to_string()),
                    ),
                    s("url.scheme", "http"),
                    s("server.address", downstream.host),
                    i("server.port", 8080),
                    s("client.address", ip(&mut rng, "10.1")),
                    i("network.peer.port", port(&mut rng)),
                    s(
                        "user_agent.original",
                        "reqwest/0.12 opentelemetry-instrumentation",
                    ),
                    s("request_id", request_id.as_str()),
                    s("app.tenant", TENANTS[(customer % 5) as usize]),
                    s("network.protocol.version", "1.1"),
                ],
                Bucket::Http,
            ),
            5 => (
                format!("SELECT shop.{}", downstream.table),
                span::SpanKind::Client,
                at(0.15, 0.45),
                vec![
                    s("db.system.name", "postgresql"),
                    s("db.namespace", "shop"),
                    s("db.collection.name", downstream.table),
                    s("db.operation.name", "SELECT"),
                    s(
                        "db.query.text",
                        format!(
                            "SELECT id, status, total_cents, updated_at FROM {} WHERE customer_id = $1 AND id = $2",
                            downstream.table
                        ),
                    ),
                    s("server.address", "pg-primary.internal"),
                    i("server.port", 5432),
                    s("network.peer.address", ip(&mut rng, "10.3")),
                    i("network.peer.port", 5432),
                    i("db.response.returned_rows", rng.below(20) as i64),
                    s("request_id", request_id.as_str()),
                    s("db.client.connection.pool.name", "main"),
                ],
                Bucket::Db,
            ),
            6 => (
                "GET".to_owned(),
                span::SpanKind::Client,
                at(0.46, 0.5),
                vec![
                    s("db.system.name", "redis"),
                    s("db.namespace", "0"),
                    s("db.operation.name", "GET"),
                    s("db.query.text", format!("GET cart:{customer}")),
                    s("server.address", "redis.internal"),
                    i("server.port", 6379),
                    s("network.peer.address", ip(&mut rng, "10.4")),
                    i("network.peer.port", 6379),
                    s("request_id", request_id.as_str()),
                    b("app.cache_hit", rng.below(3) != 0),
                    i("app.value.bytes", rng.below(4_000) as i64),
                ],
                Bucket::Db,
            ),
            _ => {
                let mut attributes =
                    code(&mut rng, "orders::validate", "src/orders/validate.rs").to_vec();
                attributes.extend([
                    s("request_id", request_id.as_str()),
                    i("app.items", 1 + rng.below(12) as i64),
                    i("app.total_cents", rng.below(500_000) as i64),
                    s("app.currency", "EUR"),
                    i("app.customer_id", customer),
                    s("app.tenant", TENANTS[(customer % 5) as usize]),
                    b("app.fraud_check", rng.below(10) == 0),
                ]);
                (
                    "validate order".to_owned(),
                    span::SpanKind::Internal,
                    at(0.52, 0.8),
                    attributes,
                    Bucket::App,
                )
            }
        };
        let (events, status) = if exception {
            let (kind, message) = EXCEPTIONS[rng.below(EXCEPTIONS.len() as u64) as usize];
            let event = span::Event {
                time_unix_nano: begin + (end - begin) / 2,
                name: "exception".to_owned(),
                attributes: vec![
                    s("exception.type", kind),
                    s("exception.message", message),
                    s(
                        "exception.stacktrace",
                        format!(
                            "{kind}: {message}\n    at shop::handlers::{name}::call (src/handlers.rs:{})\n    at tower::service::Service::call (tower/src/service.rs:88)\n    at hyper::proto::h1::dispatch (hyper/src/proto/h1/dispatch.rs:491)",
                            40 + rng.below(300),
                            name = name
                                .split_whitespace()
                                .next()
                                .unwrap_or("span")
                                .to_lowercase(),
                        ),
                    ),
                ],
                dropped_attributes_count: 0,
            };
            (
                vec![event],
                Some(Status {
                    message: message.to_owned(),
                    code: 2,
                }),
            )
        } else {
            (Vec::new(), None)
        };
        let span = Span {
            trace_id: self.trace_id(trace),
            span_id: self.span_id(trace, slot),
            parent_span_id: parent.unwrap_or_default(),
            flags: 0x301,
            name,
            kind: kind as i32,
            start_time_unix_nano: begin,
            end_time_unix_nano: end.max(begin + 1_000),
            attributes,
            events,
            status,
            ..Default::default()
        };
        (span, bucket)
    }
}

/// The instrumentation scope a span is exported under.
enum Bucket {
    Http,
    Db,
    App,
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::span;

    use super::Workload;

    #[test]
    fn generated_spans_are_valid_unique_and_sized() {
        let workload = Workload::new(3 * 512 + 100, 512, 3_600_000_000_000);
        assert_eq!(workload.n_bodies(), 4);
        let rules = collector::Rules::default();
        let mut span_ids = std::collections::HashSet::new();
        let mut total = 0;
        for index in 0..workload.n_bodies() {
            let normalized = collector::normalize::traces(workload.request(index), &rules);
            assert_eq!(normalized.rejected, 0, "{:?}", normalized.first_rejection);
            for span in &normalized.batch.spans {
                assert!(span_ids.insert(span.span_id));
                assert!(span.derived.request_id.is_some());
            }
            total += normalized.batch.spans.len();
        }
        assert_eq!(total, 3 * 512 + 100);
        // Backend server spans point at the edge's client span, sent in another request.
        let edge = workload.request(0);
        let backend = workload.request(1);
        let client = &edge.resource_spans[0]
            .scope_spans
            .iter()
            .flat_map(|s| &s.spans)
            .find(|s| s.kind == span::SpanKind::Client as i32)
            .unwrap();
        assert!(
            backend.resource_spans[0]
                .scope_spans
                .iter()
                .flat_map(|s| &s.spans)
                .any(|s| s.parent_span_id == client.span_id)
        );
    }
}
