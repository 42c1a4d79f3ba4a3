//! The simulated shop behind `loupe demo`: the telemetry five instrumented
//! Python services would send, made up from a seeded random source so that a
//! run can be repeated. Pure: `Shop::advance` turns a slice of simulated time
//! into the export requests the services' SDKs would have sent for it.
//!
//! `gateway` → `orders` → `inventory` (one stock query per item: an N+1) and
//! `payments` (which calls an uninstrumented card network that times out a
//! few percent of the time); `orders` publishes `order-events`, which
//! `notifier` consumes after the checkout has answered. `inventory` hits a
//! deadlock now and then; reading an order sometimes takes a slow query.
//! Every span and log record carries the request id; the gateway's access
//! log carries only the request id, no trace context. A checkout that failed
//! is retried by the client under the same request id, as a second trace.
//!
//! This file decides what happens; `telemetry` builds what the services'
//! SDKs send about it.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint;
use opentelemetry_proto::tonic::trace::v1::span;

use super::telemetry::{
    ACCESS_LOG, AIO_PIKA, ASYNCPG, FASTAPI, HTTPX, Hist, MANUAL, Sev, Svc, Trace, counter, gauge,
    pack, request_durations, resource_metrics,
};
pub use super::telemetry::{Exports, SERVICES};
use crate::synth::{Rng, i, s, splitmix64};

/// How often the services' SDKs export metrics (the OpenTelemetry Python
/// SDK's default is 60 s; shorter, so that a minute of demo draws a line).
pub const METRIC_INTERVAL_NS: i64 = 10_000_000_000;

/// Share of card-network calls that time out.
const CARD_TIMEOUT: f64 = 0.035;
/// Share of stock updates that hit a deadlock.
const DEADLOCK: f64 = 0.006;
/// When `inventory` 1.10.0 (`telemetry::RELEASE`) rolls out, after the
/// services started; from then on its new upsert of reservations fails on
/// this share of them with a unique violation, which 1.9.4 never had.
const RELEASE_AFTER_NS: i64 = 40 * 60 * 1_000_000_000;
const UNIQUE_VIOLATION: f64 = 0.02;
/// Share of order reads that take the slow query plan.
const SLOW_QUERY: f64 = 0.07;
/// Share of failed checkouts the client tries again.
const RETRY: f64 = 0.6;

/// (service, method, route, status) of a server span.
type Series = (Svc, &'static str, &'static str, i64);

pub struct Shop {
    rng: Rng,
    /// Requests per second on average.
    rate: f64,
    /// When the services started: the start of every cumulative metric.
    started_ns: i64,
    next_arrival_ns: i64,
    next_export_ns: i64,
    /// Checkouts the client will try again: (when, request id).
    retries: Vec<(i64, String)>,
    durations: BTreeMap<Series, Hist>,
    orders_placed: u64,
    next_order: u64,
    queue_depth: f64,
    instance_salt: u64,
}

/// A service's handler of a call: fills in the spans below its server span
/// (the third argument), starting at the fourth.
type Handler = fn(&mut Shop, &mut Trace, &[u8], i64) -> Answer;

/// What a called service answered, and when its caller saw the answer.
struct Answer {
    end: i64,
    status: i64,
}

fn ms(millis: f64) -> i64 {
    (millis * 1e6) as i64
}

impl Shop {
    /// A shop whose services started at `started_ns`, whose first customer
    /// arrives then.
    pub fn new(seed: u64, rate: f64, started_ns: i64) -> Shop {
        Shop {
            rng: Rng(splitmix64(seed)),
            rate: rate.max(0.01),
            started_ns,
            next_arrival_ns: started_ns,
            next_export_ns: started_ns + METRIC_INTERVAL_NS,
            retries: Vec::new(),
            durations: BTreeMap::new(),
            orders_placed: 0,
            next_order: 10_000,
            queue_depth: 3.0,
            instance_salt: splitmix64(seed ^ 0x5eed),
        }
    }

    /// The telemetry of every request that starts in [`from`, `to`) and of
    /// every metric export due in it. Spans of a request may end after `to`
    /// (a checkout's notification is sent up to a second later).
    pub fn advance(&mut self, from: i64, to: i64) -> Exports {
        let mut exports = Exports::default();
        let mut traces = Vec::new();
        self.next_arrival_ns = self.next_arrival_ns.max(from);
        loop {
            let retry = self
                .retries
                .iter()
                .enumerate()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(index, (at, _))| (index, *at));
            let next = [
                Some(self.next_arrival_ns),
                retry.map(|r| r.1),
                Some(self.next_export_ns),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(i64::MAX);
            if next >= to {
                break;
            }
            if next == self.next_export_ns {
                self.export_metrics(next, &mut exports.metrics);
                self.next_export_ns += METRIC_INTERVAL_NS;
            } else if let Some((index, at)) = retry.filter(|r| r.1 == next) {
                let (_, request_id) = self.retries.swap_remove(index);
                traces.push(self.request(at, request_id, Some(Endpoint::Checkout)));
            } else {
                let request_id = self.uuid();
                traces.push(self.request(next, request_id, None));
                self.next_arrival_ns = next + self.interarrival(next);
            }
        }
        exports.requests = traces.len() as u64;
        exports.failed_request = traces
            .iter()
            .find(|t| t.failed)
            .map(|t| t.request_id.clone());
        pack(
            traces,
            self.instance_salt,
            self.started_ns + RELEASE_AFTER_NS,
            &mut exports,
        );
        exports
    }

    /// Exponential gaps (Poisson arrivals) around a rate that swings ±30%
    /// over ten minutes, so that the charts have a shape.
    fn interarrival(&mut self, at: i64) -> i64 {
        let phase = (at - self.started_ns) as f64 / 600e9 * std::f64::consts::TAU;
        let rate = self.rate * (1.0 + 0.3 * phase.sin());
        let u = self.rng.unit().max(1e-12);
        (-u.ln() / rate * 1e9) as i64 + 1
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.rng.next(), self.rng.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    fn id(&mut self, bytes: usize) -> Vec<u8> {
        let mut id = Vec::with_capacity(bytes);
        while id.len() < bytes {
            id.extend_from_slice(&self.rng.next().to_be_bytes());
        }
        id.truncate(bytes);
        id[0] |= 1; // never all zero
        id
    }

    fn request(&mut self, start: i64, request_id: String, endpoint: Option<Endpoint>) -> Trace {
        let endpoint = endpoint.unwrap_or_else(|| match self.rng.below(100) {
            0..45 => Endpoint::Checkout,
            45..80 => Endpoint::Product,
            _ => Endpoint::Order,
        });
        let mut t = Trace {
            trace_id: self.id(16),
            request_id,
            spans: Vec::new(),
            logs: Vec::new(),
            failed: false,
        };
        let gateway = self.id(8);
        let (method, route, path) = match endpoint {
            Endpoint::Checkout => ("POST", "/api/orders", "/api/orders".to_owned()),
            Endpoint::Product => (
                "GET",
                "/api/products/{product_id}",
                format!("/api/products/{}", 100 + self.rng.below(400)),
            ),
            Endpoint::Order => (
                "GET",
                "/api/orders/{order_id}",
                format!(
                    "/api/orders/{}",
                    10_000 + self.rng.below(self.next_order - 9_999)
                ),
            ),
        };
        let call_at = start + ms(self.rng.between(0.3, 1.5));
        let answer = match endpoint {
            Endpoint::Checkout => self.call(
                &mut t,
                Svc::Gateway,
                &gateway,
                call_at,
                "POST",
                "/orders",
                Svc::Orders,
                "/orders".into(),
                Shop::create_order,
            ),
            Endpoint::Product => {
                let item = path.rsplit('/').next().unwrap_or("1").to_owned();
                self.call(
                    &mut t,
                    Svc::Gateway,
                    &gateway,
                    call_at,
                    "GET",
                    "/items/{item_id}",
                    Svc::Inventory,
                    format!("/items/{item}"),
                    Shop::read_item,
                )
            }
            Endpoint::Order => {
                let order = path.rsplit('/').next().unwrap_or("1").to_owned();
                self.call(
                    &mut t,
                    Svc::Gateway,
                    &gateway,
                    call_at,
                    "GET",
                    "/orders/{order_id}",
                    Svc::Orders,
                    format!("/orders/{order}"),
                    Shop::read_order,
                )
            }
        };
        let status = match (endpoint, answer.status) {
            (_, s) if s >= 500 => 502,
            (Endpoint::Checkout, _) => 201,
            _ => 200,
        };
        let end = answer.end + ms(self.rng.between(0.2, 0.8));
        self.server(
            &mut t,
            Svc::Gateway,
            &gateway,
            None,
            start,
            end,
            method,
            route,
            &path,
            status,
        );
        // The access log is written by a logger the SDK does not see inside
        // the span: it has the request id and nothing else to join on.
        let severity = if status >= 500 { Sev::Warn } else { Sev::Info };
        let body = format!(
            "10.0.{}.{}:{} - \"{method} {path} HTTP/1.1\" {status} {:.0} ms",
            self.rng.below(4),
            2 + self.rng.below(200),
            30_000 + self.rng.below(30_000),
            (end - start) as f64 / 1e6
        );
        let attributes = vec![
            s("http.request.method", method),
            s("url.path", path),
            i("http.response.status_code", status),
        ];
        t.log(
            Svc::Gateway,
            ACCESS_LOG,
            end,
            severity,
            body,
            None,
            attributes,
        );
        if status >= 500 && endpoint == Endpoint::Checkout {
            t.failed = true;
            if self.rng.chance(RETRY) {
                let again = end + ms(self.rng.between(800.0, 3000.0));
                self.retries.push((again, t.request_id.clone()));
            }
        }
        t
    }

    /// A client span in `caller` around the server span of `callee`, which
    /// `handler` fills in; returns when the caller got the answer.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        t: &mut Trace,
        caller: Svc,
        parent: &[u8],
        start: i64,
        method: &'static str,
        route: &'static str,
        callee: Svc,
        path: String,
        handler: Handler,
    ) -> Answer {
        let client = self.id(8);
        let server = self.id(8);
        let server_start = start + ms(self.rng.between(0.3, 1.2));
        let handler_start = server_start + ms(self.rng.between(0.2, 0.6));
        let inner = handler(self, t, &server, handler_start);
        let server_end = inner.end + ms(self.rng.between(0.1, 0.4));
        self.server(
            t,
            callee,
            &server,
            Some(&client),
            server_start,
            server_end,
            method,
            route,
            &path,
            inner.status,
        );
        let end = server_end + ms(self.rng.between(0.3, 1.0));
        let mut attributes = vec![
            s("http.request.method", method),
            s(
                "url.full",
                format!("http://{}:{}{path}", callee.name(), callee.port()),
            ),
            s("url.template", route),
            s("server.address", callee.name()),
            i("server.port", callee.port()),
            i("http.response.status_code", inner.status),
        ];
        attributes.push(s("request.id", t.request_id.clone()));
        let failed = inner.status >= 500;
        if failed {
            attributes.push(s("error.type", inner.status.to_string()));
        }
        t.span(
            caller,
            HTTPX,
            client,
            Some(parent),
            format!("{method} {route}"),
            span::SpanKind::Client,
            start,
            end,
            attributes,
            failed.then_some(""),
        );
        Answer {
            end,
            status: inner.status,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn server(
        &mut self,
        t: &mut Trace,
        svc: Svc,
        id: &[u8],
        parent: Option<&[u8]>,
        start: i64,
        end: i64,
        method: &'static str,
        route: &'static str,
        path: &str,
        status: i64,
    ) {
        let attributes = vec![
            s("http.request.method", method),
            s("http.route", route),
            s("url.path", path),
            s("url.scheme", "http"),
            i("http.response.status_code", status),
            s("server.address", svc.name()),
            i("server.port", svc.port()),
            s("network.protocol.version", "1.1"),
            s(
                "user_agent.original",
                if svc == Svc::Gateway {
                    "Mozilla/5.0 (shop-web/4.2)"
                } else {
                    "python-httpx/0.28.1"
                },
            ),
            s("request.id", t.request_id.clone()),
        ];
        t.span(
            svc,
            FASTAPI,
            id.to_vec(),
            parent,
            format!("{method} {route}"),
            span::SpanKind::Server,
            start,
            end,
            attributes,
            (status >= 500).then_some(""),
        );
        let seconds = (end - start) as f64 / 1e9;
        self.durations
            .entry((svc, method, route, status))
            .or_default()
            .record(seconds, end, &t.trace_id, id);
    }

    /// A query to the shop's PostgreSQL (not instrumented itself: a
    /// `database` edge on the map).
    #[allow(clippy::too_many_arguments)]
    fn query(
        &mut self,
        t: &mut Trace,
        svc: Svc,
        parent: &[u8],
        start: i64,
        millis: f64,
        operation: &str,
        table: &str,
        text: &str,
    ) -> (Vec<u8>, i64) {
        let id = self.id(8);
        let end = start + ms(millis);
        let attributes = vec![
            s("db.system", "postgresql"),
            s("db.system.name", "postgresql"),
            s("db.namespace", "shop"),
            s("db.operation.name", operation),
            s("db.collection.name", table),
            s("db.query.text", text),
            s("server.address", "postgres"),
            i("server.port", 5432),
            s("request.id", t.request_id.clone()),
        ];
        t.span(
            svc,
            ASYNCPG,
            id.clone(),
            Some(parent),
            format!("{operation} shop.{table}"),
            span::SpanKind::Client,
            start,
            end,
            attributes,
            None,
        );
        (id, end)
    }

    /// `orders` POST /orders: insert, reserve stock, charge, publish.
    fn create_order(&mut self, t: &mut Trace, server: &[u8], start: i64) -> Answer {
        let order = self.next_order;
        self.next_order += 1;
        let millis = self.rng.between(1.5, 6.0);
        let (_, mut now) = self.query(
            t, Svc::Orders, server, start, millis, "INSERT", "orders",
            "INSERT INTO orders (customer_id, status, total_cents) VALUES ($1, 'pending', $2) RETURNING id",
        );
        // Stock first, then the money; either failing ends the order.
        let steps: [(&'static str, Svc, Handler, &str, i64); 2] = [
            (
                "/reservations",
                Svc::Inventory,
                Shop::reserve,
                "stock reservation failed",
                503,
            ),
            (
                "/charges",
                Svc::Payments,
                Shop::charge,
                "payment failed, order cancelled",
                502,
            ),
        ];
        for (route, callee, handler, failure, status) in steps {
            let answer = self.call(
                t,
                Svc::Orders,
                server,
                now + ms(0.2),
                "POST",
                route,
                callee,
                route.into(),
                handler,
            );
            now = answer.end;
            if answer.status >= 500 {
                let end = now + ms(self.rng.between(0.5, 2.0));
                t.log(
                    Svc::Orders,
                    MANUAL,
                    end,
                    Sev::Error,
                    format!(
                        "order {order}: {failure} ({} answered {})",
                        callee.name(),
                        answer.status
                    ),
                    Some(server),
                    vec![i("order.id", order as i64)],
                );
                return Answer { end, status };
            }
        }
        let producer = self.id(8);
        let publish_end = now + ms(self.rng.between(0.6, 2.5));
        let message_id = format!("{:016x}", self.rng.next());
        t.span(
            Svc::Orders,
            AIO_PIKA,
            producer.clone(),
            Some(server),
            "publish order-events".into(),
            span::SpanKind::Producer,
            now,
            publish_end,
            vec![
                s("messaging.system", "rabbitmq"),
                s("messaging.operation.type", "send"),
                s("messaging.destination.name", "order-events"),
                s("messaging.message.id", message_id.clone()),
                s("request.id", t.request_id.clone()),
            ],
            None,
        );
        self.orders_placed += 1;
        let end = publish_end + ms(self.rng.between(0.3, 1.0));
        let items = 2 + self.rng.below(7);
        t.log(
            Svc::Orders,
            MANUAL,
            end,
            Sev::Info,
            format!("order {order} placed: {items} items"),
            Some(server),
            vec![i("order.id", order as i64)],
        );
        // The notification is sent after the checkout has answered: the
        // queue's wait shows as the gap of the async edge.
        let queued = self.queue_depth.max(0.0);
        let consume_at =
            publish_end + ms(self.rng.between(15.0, 120.0) + queued * self.rng.between(4.0, 20.0));
        self.notify(t, &producer, consume_at, order, &message_id);
        Answer { end, status: 201 }
    }

    /// `inventory` POST /reservations: one stock query per item (the N+1),
    /// then one update, which now and then deadlocks.
    fn reserve(&mut self, t: &mut Trace, server: &[u8], start: i64) -> Answer {
        let items = 2 + self.rng.below(7);
        let mut now = start;
        for _ in 0..items {
            let millis = self.rng.between(0.6, 2.4);
            now =
                self.query(
                    t,
                    Svc::Inventory,
                    server,
                    now,
                    millis,
                    "SELECT",
                    "stock",
                    "SELECT quantity FROM stock WHERE item_id = $1",
                )
                .1 + ms(0.1);
        }
        if self.rng.chance(DEADLOCK) {
            let millis = self.rng.between(800.0, 1200.0);
            let (id, end) = self.query(
                t,
                Svc::Inventory,
                server,
                now,
                millis,
                "UPDATE",
                "stock",
                "UPDATE stock SET quantity = quantity - $2 WHERE item_id = ANY($1)",
            );
            t.fail(&id, end, "asyncpg.exceptions.DeadlockDetectedError", "deadlock detected", "Traceback (most recent call last):\n  File \"/app/inventory/stock.py\", line 88, in reserve\n    await conn.execute(UPDATE_STOCK, ids, quantities)\n  File \"/usr/local/lib/python3.12/site-packages/asyncpg/connection.py\", line 350, in execute\n    result = await self._protocol.query(query, timeout)\nasyncpg.exceptions.DeadlockDetectedError: deadlock detected");
            t.log(
                Svc::Inventory,
                MANUAL,
                end,
                Sev::Error,
                "reservation failed: deadlock detected".into(),
                Some(server),
                vec![
                    s("exception.type", "asyncpg.exceptions.DeadlockDetectedError"),
                    i("items", items as i64),
                ],
            );
            return Answer {
                end: end + ms(0.5),
                status: 500,
            };
        }
        // The draw only once released, so that what comes before is the
        // same with or without the release.
        let released = start >= self.started_ns + RELEASE_AFTER_NS;
        if released && self.rng.chance(UNIQUE_VIOLATION) {
            let millis = self.rng.between(2.0, 6.0);
            let (id, end) = self.query(
                t,
                Svc::Inventory,
                server,
                now,
                millis,
                "INSERT",
                "reservations",
                "INSERT INTO reservations (order_id, item_id, quantity) SELECT * FROM unnest($1, $2, $3)",
            );
            t.fail(&id, end, "asyncpg.exceptions.UniqueViolationError", "duplicate key value violates unique constraint \"reservations_pkey\"", "Traceback (most recent call last):\n  File \"/app/inventory/stock.py\", line 97, in reserve\n    await conn.execute(UPSERT_RESERVATIONS, order_ids, ids, quantities)\nasyncpg.exceptions.UniqueViolationError: duplicate key value violates unique constraint \"reservations_pkey\"");
            return Answer {
                end: end + ms(0.5),
                status: 500,
            };
        }
        let millis = self.rng.between(1.5, 5.0);
        let (_, end) = self.query(
            t,
            Svc::Inventory,
            server,
            now,
            millis,
            "UPDATE",
            "stock",
            "UPDATE stock SET quantity = quantity - $2 WHERE item_id = ANY($1)",
        );
        t.log(
            Svc::Inventory,
            MANUAL,
            end,
            Sev::Info,
            format!("reserved {items} items"),
            Some(server),
            vec![i("items", items as i64)],
        );
        Answer {
            end: end + ms(0.3),
            status: 201,
        }
    }

    /// `payments` POST /charges: a fraud check, then the card network.
    fn charge(&mut self, t: &mut Trace, server: &[u8], start: i64) -> Answer {
        let fraud = self.id(8);
        let fraud_end = start + ms(self.rng.between(3.0, 14.0));
        t.span(
            Svc::Payments,
            MANUAL,
            fraud,
            Some(server),
            "fraud check".into(),
            span::SpanKind::Internal,
            start,
            fraud_end,
            vec![s("request.id", t.request_id.clone())],
            None,
        );
        let call = self.id(8);
        let call_start = fraud_end + ms(0.3);
        let timed_out = self.rng.chance(CARD_TIMEOUT);
        let call_end = call_start
            + if timed_out {
                ms(2000.0 + self.rng.between(0.0, 5.0))
            } else {
                ms(self.rng.between(45.0, 180.0))
            };
        let mut attributes = vec![
            s("http.request.method", "POST"),
            s(
                "url.full",
                "https://api.card-network.example/v1/authorizations",
            ),
            s("url.template", "/v1/authorizations"),
            s("server.address", "api.card-network.example"),
            i("server.port", 443),
            s("request.id", t.request_id.clone()),
        ];
        let cents = 500 + self.rng.below(20_000) as i64;
        if timed_out {
            attributes.push(s("error.type", "httpx.ReadTimeout"));
            t.span(
                Svc::Payments,
                HTTPX,
                call.clone(),
                Some(server),
                "POST /v1/authorizations".into(),
                span::SpanKind::Client,
                call_start,
                call_end,
                attributes,
                None,
            );
            t.fail(&call, call_end, "httpx.ReadTimeout", "card network did not answer within 2.0 s", "Traceback (most recent call last):\n  File \"/app/payments/card.py\", line 41, in authorize\n    response = await client.post(\"/v1/authorizations\", json=body, timeout=2.0)\n  File \"/usr/local/lib/python3.12/site-packages/httpx/_client.py\", line 1859, in post\n    return await self.request(\"POST\", url, json=json)\nhttpx.ReadTimeout: card network did not answer within 2.0 s");
            let end = call_end + ms(self.rng.between(0.5, 1.5));
            t.log(
                Svc::Payments,
                MANUAL,
                end,
                Sev::Error,
                format!(
                    "authorization of {}.{:02} EUR failed: card network timeout",
                    cents / 100,
                    cents % 100
                ),
                Some(server),
                vec![
                    s("exception.type", "httpx.ReadTimeout"),
                    i("amount_cents", cents),
                ],
            );
            return Answer { end, status: 502 };
        }
        attributes.push(i("http.response.status_code", 201));
        t.span(
            Svc::Payments,
            HTTPX,
            call,
            Some(server),
            "POST /v1/authorizations".into(),
            span::SpanKind::Client,
            call_start,
            call_end,
            attributes,
            None,
        );
        let end = call_end + ms(self.rng.between(0.5, 1.5));
        t.log(
            Svc::Payments,
            MANUAL,
            end,
            Sev::Info,
            format!("charged {}.{:02} EUR", cents / 100, cents % 100),
            Some(server),
            vec![i("amount_cents", cents)],
        );
        Answer { end, status: 201 }
    }

    /// `inventory` GET /items/{item_id}.
    fn read_item(&mut self, t: &mut Trace, server: &[u8], start: i64) -> Answer {
        let millis = self.rng.between(0.8, 4.0);
        let (_, end) = self.query(
            t,
            Svc::Inventory,
            server,
            start,
            millis,
            "SELECT",
            "items",
            "SELECT id, name, price_cents, quantity FROM items JOIN stock USING (id) WHERE id = $1",
        );
        Answer {
            end: end + ms(0.4),
            status: 200,
        }
    }

    /// `orders` GET /orders/{order_id}: now and then the slow plan.
    fn read_order(&mut self, t: &mut Trace, server: &[u8], start: i64) -> Answer {
        let slow = self.rng.chance(SLOW_QUERY);
        let millis = if slow {
            self.rng.between(300.0, 900.0)
        } else {
            self.rng.between(1.5, 7.0)
        };
        let (_, end) = self.query(t, Svc::Orders, server, start, millis, "SELECT", "orders", "SELECT * FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.id = $1 ORDER BY l.position");
        if slow {
            t.log(
                Svc::Orders,
                MANUAL,
                end,
                Sev::Warn,
                format!(
                    "slow query: {millis:.0} ms reading an order (sequential scan on order_lines)"
                ),
                Some(server),
                vec![i("duration_ms", millis as i64)],
            );
        }
        Answer {
            end: end + ms(0.5),
            status: 200,
        }
    }

    /// `notifier` consumes the order event and sends the confirmation mail.
    fn notify(&mut self, t: &mut Trace, producer: &[u8], start: i64, order: u64, message_id: &str) {
        let consumer = self.id(8);
        let mail = self.id(8);
        let mail_start = start + ms(self.rng.between(1.0, 4.0));
        let mail_end = mail_start + ms(self.rng.between(35.0, 140.0));
        let end = mail_end + ms(self.rng.between(0.5, 2.0));
        t.span(
            Svc::Notifier,
            HTTPX,
            mail,
            Some(&consumer),
            "POST /v3/mail/send".into(),
            span::SpanKind::Client,
            mail_start,
            mail_end,
            vec![
                s("http.request.method", "POST"),
                s("url.full", "https://api.mail.example/v3/mail/send"),
                s("server.address", "api.mail.example"),
                i("server.port", 443),
                i("http.response.status_code", 202),
                s("request.id", t.request_id.clone()),
            ],
            None,
        );
        let link = span::Link {
            trace_id: t.trace_id.clone(),
            span_id: producer.to_vec(),
            ..Default::default()
        };
        let mut span = t.make_span(
            consumer.clone(),
            Some(producer),
            "process order-events".into(),
            span::SpanKind::Consumer,
            start,
            end,
            vec![
                s("messaging.system", "rabbitmq"),
                s("messaging.operation.type", "process"),
                s("messaging.destination.name", "order-events"),
                s("messaging.message.id", message_id),
                s("request.id", t.request_id.clone()),
            ],
        );
        span.links.push(link);
        t.spans.push((Svc::Notifier, AIO_PIKA, span));
        t.log(
            Svc::Notifier,
            MANUAL,
            mail_end,
            Sev::Info,
            format!("order {order}: confirmation mail sent"),
            Some(&consumer),
            vec![i("order.id", order as i64)],
        );
    }

    /// Every service's metric export at `at`: the request durations its
    /// server spans recorded, memory, and what each service counts of its own.
    fn export_metrics(&mut self, at: i64, out: &mut ExportMetricsServiceRequest) {
        let started = self.started_ns.max(0) as u64;
        let point_time = at.max(0) as u64;
        self.queue_depth = (self.queue_depth + self.rng.between(-3.0, 3.2)).clamp(0.0, 40.0);
        for svc in Svc::ALL {
            let mut metrics = Vec::new();
            let points: Vec<HistogramDataPoint> = self
                .durations
                .iter_mut()
                .filter(|((series_svc, ..), _)| *series_svc == svc)
                .map(|((_, method, route, status), hist)| {
                    let attributes = vec![
                        s("http.request.method", *method),
                        s("http.route", *route),
                        i("http.response.status_code", *status),
                        s("url.scheme", "http"),
                    ];
                    hist.data_point(attributes, started, point_time)
                })
                .collect();
            if !points.is_empty() {
                metrics.push(request_durations(points));
            }
            let memory = (svc.base_memory_mib() + self.rng.between(0.0, 12.0)) * 1_048_576.0;
            metrics.push(gauge(
                "process.memory.usage",
                "The amount of physical memory in use.",
                "By",
                vec![],
                point_time,
                memory,
            ));
            match svc {
                Svc::Orders => metrics.push(counter(
                    "shop.orders.placed",
                    "Orders placed and paid.",
                    "{order}",
                    started,
                    point_time,
                    self.orders_placed as i64,
                )),
                Svc::Notifier => metrics.push(gauge(
                    "messaging.queue.depth",
                    "Messages waiting in the queue.",
                    "{message}",
                    vec![s("messaging.destination.name", "order-events")],
                    point_time,
                    self.queue_depth.round(),
                )),
                Svc::Inventory => {
                    let used = self.rng.between(2.0, 9.0).round();
                    for (state, value) in [("used", used), ("idle", 10.0 - used)] {
                        metrics.push(gauge(
                            "db.client.connection.count",
                            "Connections in the pool, by state.",
                            "{connection}",
                            vec![
                                s("db.client.connection.state", state),
                                s("db.client.connection.pool.name", "shop"),
                            ],
                            point_time,
                            value,
                        ));
                    }
                }
                _ => {}
            }
            let version = svc.version_at(at, self.started_ns + RELEASE_AFTER_NS);
            out.resource_metrics
                .push(resource_metrics(svc, version, self.instance_salt, metrics));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Checkout,
    Product,
    Order,
}
