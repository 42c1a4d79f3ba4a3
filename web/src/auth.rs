//! Who may read (`--read-keys`): the UI asks for a key once on a login page
//! and keeps a session in a cookie; the API and `/metrics` take the key as
//! `Authorization: Bearer SECRET`. `/healthz`, `/readyz`, the login page and
//! the static files stay open.
//!
//! Sessions (`access`) live in memory. The cookie is HttpOnly and
//! SameSite=Strict, so no other site's page can send it; the two forms
//! that change anything carry a CSRF token as well: logging out, the
//! session's own; logging in, one the login page set in a cookie of its
//! own (double submit), so a page elsewhere cannot log a browser in
//! either.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Router};
use serde::Deserialize;

use crate::access::{COOKIE, Csrf, SESSION_FOR, cookie};
use crate::state::AppState;
use crate::ui::layout::{Chrome, Layout};

/// Paths anyone may fetch: health for orchestrators, the login page and
/// what it is drawn with. They read nothing, so they skip the reads'
/// turns and deadline too (`time_reads`).
pub(crate) fn is_open(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/login" | "/logout") || path.starts_with("/static/")
}

/// Lets a request through with a valid bearer key or session; sends a page
/// request without one to the login page and refuses an API request. Every
/// page rendered inside knows (through `Chrome`) whether to offer a logout
/// and whether to warn that it is open to all.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let access = &state.access;
    let path = request.uri().path();
    let chrome = Chrome {
        logout: None,
        open_to_all: access.open_to_all,
        nav: Chrome::nav_of(path),
        keep: Chrome::keep_of(request.uri().query()),
    };
    if (access.keys.is_empty() && access.proxy.is_none()) || is_open(path) {
        return Chrome::scope(chrome, next.run(request)).await;
    }
    let headers = request.headers();
    if let Some(proxy) = &access.proxy
        && let Some(user) = headers.get(&proxy.header)
    {
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        if peer.is_some_and(|peer| proxy.trusts(peer)) && !user.is_empty() {
            return Chrome::scope(chrome, next.run(request)).await;
        }
        // Anyone else who sets it is trying to pass for a user.
        tracing::warn!(?peer, header = %proxy.header, "the sign-in header from an untrusted address");
        return (
            StatusCode::FORBIDDEN,
            format!(
                "the {} header is only taken from --trusted-proxies\n",
                proxy.header
            ),
        )
            .into_response();
    }
    let bearer = access.keys.bearer(
        headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    );
    if bearer.is_some() {
        return Chrome::scope(chrome, next.run(request)).await;
    }
    if let Some((_, csrf)) = access.session(headers) {
        let chrome = Chrome {
            logout: csrf.masked().ok(),
            ..chrome
        };
        return Chrome::scope(chrome, next.run(request)).await;
    }
    if access.keys.is_empty() {
        // Only the proxy signs users in, and this request did not pass it.
        return (
            StatusCode::UNAUTHORIZED,
            "sign in through the proxy in front of loupe\n",
        )
            .into_response();
    }
    if path.starts_with("/api/") || path == "/metrics" {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({
                "error": "missing or wrong read key: send the header Authorization: Bearer KEY"
            })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let next_page = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let login = format!("/login?next={}", percent_encode(next_page));
    if crate::ui::layout::is_htmx(headers) {
        // htmx would swap the login page into a fragment; it follows this.
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&login) {
            response.headers_mut().insert("hx-redirect", value);
        }
        return response;
    }
    Redirect::to(&login).into_response()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go after logging in: a path on this site only, never
/// `//elsewhere` or `https://elsewhere`.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", axum::routing::get(login_page).post(log_in))
        .route("/logout", axum::routing::post(log_out))
}

#[derive(Deserialize)]
struct NextPage {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    key: String,
    next: Option<String>,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// The cookie a login page sets beside its form's token; only `/login`
/// gets it back.
const LOGIN_COOKIE: &str = "loupe_login";

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    csrf: String,
    /// Why the last attempt failed, if it did.
    refused: Option<&'static str>,
}

/// The login page with a fresh token in its form and in its cookie.
fn login_form(
    access: &crate::access::Access,
    status: StatusCode,
    next: String,
    refused: Option<&'static str>,
) -> Response {
    let (csrf, masked) = match Csrf::new().and_then(|csrf| Ok((csrf, csrf.masked()?))) {
        Ok(made) => made,
        Err(err) => {
            tracing::error!(error = %err, "cannot make a login token");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let page = LoginPage {
        layout: Layout::new("Log in", ""),
        next,
        csrf: masked.to_string(),
        refused,
    };
    let cookie = format!(
        "{LOGIN_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if access.secure { "; Secure" } else { "" }
    );
    let mut response = (status, page).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn login_page(State(state): State<AppState>, Query(query): Query<NextPage>) -> Response {
    let next = safe_next(query.next.as_deref()).to_owned();
    login_form(&state.access, StatusCode::OK, next, None)
}

async fn log_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let access = &state.access;
    let next = safe_next(form.next.as_deref()).to_owned();
    let from_our_page = cookie(&headers, LOGIN_COOKIE)
        .and_then(Csrf::parse)
        .is_some_and(|csrf| csrf.matches(&form.csrf));
    if !from_our_page {
        tracing::warn!("a login without the login page's token");
        let refused = "That form came from elsewhere or has expired: log in again here.";
        return login_form(access, StatusCode::FORBIDDEN, next, Some(refused));
    }
    let Some(key) = access.keys.name_of(form.key.trim().as_bytes()) else {
        tracing::warn!("a login with a wrong read key");
        let refused = "That key is not one of this loupe's read keys.";
        return login_form(access, StatusCode::UNAUTHORIZED, next, Some(refused));
    };
    let token = match access.start_session(key) {
        Ok(token) => token,
        Err(err) => {
            tracing::error!(error = %err, "cannot make a session token");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_FOR.as_secs(),
        if access.secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn log_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some((_, csrf)) = state.access.session(&headers)
        && !csrf.matches(&form.csrf)
    {
        tracing::warn!("a logout without the session's token");
        return (
            StatusCode::FORBIDDEN,
            "this logout did not come from a loupe page\n",
        )
            .into_response();
    }
    state.access.end_session(&headers);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("loupe_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_follow_a_login() {
        for (next, expected) in [
            (Some("/traces?service=a"), "/traces?service=a"),
            (Some("//evil.example/x"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("/\\evil.example"), "/"),
            (None, "/"),
        ] {
            assert_eq!(safe_next(next), expected, "{next:?}");
        }
    }
}
