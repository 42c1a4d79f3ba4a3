//! The services the bench's spans come from: three edge services, each of
//! whose traces calls one of four backends, in several languages' SDKs and
//! instrumentation scopes, so that resources and attributes look like a
//! real fleet's.

use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::synth::{s, splitmix64};

pub(super) struct Service {
    pub(super) name: &'static str,
    pub(super) version: &'static str,
    pub(super) language: &'static str,
    pub(super) sdk_version: &'static str,
    pub(super) host: &'static str,
    pub(super) http_scope: &'static str,
    pub(super) db_scope: &'static str,
    pub(super) table: &'static str,
    pub(super) routes: &'static [Route],
}

pub(super) struct Route {
    pub(super) method: &'static str,
    pub(super) route: &'static str,
    pub(super) path: &'static str,
}

pub(super) const INSTANCES: u64 = 3;

pub(super) const EDGES: [Service; 3] = [
    Service {
        name: "frontend",
        version: "2.14.1",
        language: "nodejs",
        sdk_version: "1.30.1",
        host: "shop.example.com",
        http_scope: "@opentelemetry/instrumentation-http",
        db_scope: "@opentelemetry/instrumentation-pg",
        table: "sessions",
        routes: EDGE_ROUTES,
    },
    Service {
        name: "api-gateway",
        version: "1.9.0",
        language: "go",
        sdk_version: "1.35.0",
        host: "api.example.com",
        http_scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        db_scope: "github.com/XSAM/otelsql",
        table: "api_keys",
        routes: EDGE_ROUTES,
    },
    Service {
        name: "mobile-bff",
        version: "0.41.3",
        language: "java",
        sdk_version: "1.49.0",
        host: "m.example.com",
        http_scope: "io.opentelemetry.spring-webmvc-6.0",
        db_scope: "io.opentelemetry.jdbc",
        table: "devices",
        routes: EDGE_ROUTES,
    },
];

pub(super) const EDGE_ROUTES: &[Route] = &[
    Route {
        method: "GET",
        route: "/api/orders/{id}",
        path: "/api/orders/{id}",
    },
    Route {
        method: "POST",
        route: "/api/checkout",
        path: "/api/checkout",
    },
    Route {
        method: "GET",
        route: "/api/cart",
        path: "/api/cart",
    },
    Route {
        method: "GET",
        route: "/api/products/{id}",
        path: "/api/products/{id}",
    },
    Route {
        method: "PUT",
        route: "/api/orders/{id}/address",
        path: "/api/orders/{id}/address",
    },
];

pub(super) const BACKENDS: [Service; 4] = [
    Service {
        name: "orders",
        version: "4.2.0",
        language: "rust",
        sdk_version: "0.30.0",
        host: "orders.shop.svc.cluster.local",
        http_scope: "opentelemetry-http",
        db_scope: "sqlx",
        table: "orders",
        routes: &[
            Route {
                method: "GET",
                route: "/internal/orders/{id}",
                path: "/internal/orders/{id}",
            },
            Route {
                method: "POST",
                route: "/internal/orders",
                path: "/internal/orders",
            },
        ],
    },
    Service {
        name: "inventory",
        version: "3.0.7",
        language: "go",
        sdk_version: "1.35.0",
        host: "inventory.shop.svc.cluster.local",
        http_scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        db_scope: "github.com/XSAM/otelsql",
        table: "stock_levels",
        routes: &[Route {
            method: "GET",
            route: "/internal/stock/{id}",
            path: "/internal/stock/{id}",
        }],
    },
    Service {
        name: "accounts",
        version: "7.1.2",
        language: "python",
        sdk_version: "1.31.1",
        host: "accounts.shop.svc.cluster.local",
        http_scope: "opentelemetry.instrumentation.flask",
        db_scope: "opentelemetry.instrumentation.psycopg",
        table: "customers",
        routes: &[Route {
            method: "GET",
            route: "/internal/customers/{id}",
            path: "/internal/customers/{id}",
        }],
    },
    Service {
        name: "payments",
        version: "1.18.4",
        language: "java",
        sdk_version: "1.49.0",
        host: "payments.shop.svc.cluster.local",
        http_scope: "io.opentelemetry.spring-webmvc-6.0",
        db_scope: "io.opentelemetry.jdbc",
        table: "payments",
        routes: &[Route {
            method: "POST",
            route: "/internal/payments/{id}/capture",
            path: "/internal/payments/{id}/capture",
        }],
    },
];

pub(super) const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "ShopApp/5.3.0 (Android 14; Pixel 8)",
    "curl/8.5.0",
];

pub(super) const TENANTS: [&str; 5] = ["acme", "globex", "initech", "umbrella", "hooli"];

pub(super) const EXCEPTIONS: &[(&str, &str)] = &[
    ("TimeoutError", "upstream request timed out after 2000 ms"),
    (
        "sqlx::Error::PoolTimedOut",
        "pool timed out while waiting for an open connection",
    ),
    (
        "java.lang.IllegalStateException",
        "order is already captured",
    ),
    ("ConnectionResetError", "connection reset by peer"),
];

pub(super) fn resource(service: &Service, instance: u64) -> Resource {
    let pod = format!(
        "{}-{:x}-{}",
        service.name,
        splitmix64(instance) & 0xff_ffff,
        ["x7k2q", "m9d4t", "p3w8z"][instance as usize % 3]
    );
    Resource {
        attributes: vec![
            s("service.name", service.name),
            s("service.namespace", "shop"),
            s("service.version", service.version),
            s(
                "service.instance.id",
                format!("{:016x}", splitmix64(instance ^ 0xabcdef)),
            ),
            s("deployment.environment.name", "production"),
            s("host.name", pod),
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.language", service.language),
            s("telemetry.sdk.version", service.sdk_version),
        ],
        ..Default::default()
    }
}
