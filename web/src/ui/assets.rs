//! Static files compiled into the binary. htmx carries its version in its
//! name; loupe's own CSS and JS carry a hash of their content in the query,
//! so every URL can be cached for a year.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const HTMX_NAME: &str = "htmx-2.0.11.min.js";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: HTMX_NAME,
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../static/htmx-2.0.11.min.js"),
    },
    Asset {
        name: "loupe.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../static/loupe.css"),
    },
    Asset {
        name: "loupe.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../static/loupe.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../../static/favicon.svg"),
    },
];

/// The URLs pages link to.
pub struct Urls {
    pub css: String,
    pub js: String,
    pub htmx: String,
}

pub static URLS: LazyLock<Urls> = LazyLock::new(|| Urls {
    css: versioned("loupe.css"),
    js: versioned("loupe.js"),
    htmx: format!("/static/{HTMX_NAME}"),
});

fn versioned(name: &str) -> String {
    let body = ASSETS
        .iter()
        .find(|a| a.name == name)
        .map_or(&[][..], |a| a.body);
    format!("/static/{name}?v={:016x}", fnv1a(body))
}

/// FNV-1a: enough to tell two versions of a file apart.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub async fn serve(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset\n").into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.body,
    )
        .into_response()
}
