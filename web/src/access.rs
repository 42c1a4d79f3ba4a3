//! Who may read and their login sessions: the state `auth`'s guard and
//! forms work on, kept apart from them so that `AppState` can hold it.
//!
//! Sessions live in memory: a restart asks everyone to log in again, which
//! keeps no secret on disk.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use store::keys::Keys;

pub(crate) const COOKIE: &str = "loupe_session";
/// How long a login lasts.
pub(crate) const SESSION_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// Sessions kept at most; the oldest go first past it.
const MAX_SESSIONS: usize = 10_000;

/// The readers' keys and their sessions; open to all when there are no keys.
pub struct Access {
    pub(crate) keys: Keys,
    /// Anyone may read or send on a non-loopback address (`--insecure-no-auth`):
    /// every page says so.
    pub(crate) open_to_all: bool,
    /// Served over TLS: the session cookie is `Secure`.
    pub(crate) secure: bool,
    sessions: Mutex<HashMap<String, Session>>,
}

struct Session {
    key: String,
    until: Instant,
}

impl Access {
    pub fn new(keys: Keys, open_to_all: bool, secure: bool) -> Arc<Access> {
        Arc::new(Access {
            keys,
            open_to_all,
            secure,
            sessions: Mutex::default(),
        })
    }

    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<String> {
        let token = cookie(headers)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(token) {
            Some(session) if session.until > Instant::now() => Some(session.key.clone()),
            Some(_) => {
                sessions.remove(token);
                None
            }
            None => None,
        }
    }

    pub(crate) fn start_session(&self, key: &str) -> std::io::Result<String> {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let token = hex::encode(bytes);
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.until > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.until)
                .map(|(t, _)| t.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            token.clone(),
            Session {
                key: key.to_owned(),
                until: now + SESSION_FOR,
            },
        );
        Ok(token)
    }

    pub(crate) fn end_session(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers) {
            self.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(token);
        }
    }
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; loupe_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("loupe_session_x=abc"),
        );
        assert_eq!(cookie(&headers), None);
    }
}
