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
    /// A reverse proxy that signs users in and names them in a header.
    pub(crate) proxy: Option<ProxyAuth>,
    sessions: Mutex<HashMap<String, Session>>,
}

/// `--auth-proxy-header` taken from `--trusted-proxies` only.
#[derive(Debug, Clone)]
pub struct ProxyAuth {
    pub header: axum::http::HeaderName,
    pub trusted: Vec<Cidr>,
}

impl ProxyAuth {
    pub(crate) fn trusts(&self, peer: std::net::IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(peer))
    }
}

/// An address range, `10.0.0.0/8` or `::1/128` (a bare address is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    bits: u128,
    prefix: u8,
    v6: bool,
}

impl Cidr {
    fn bits_of(ip: std::net::IpAddr) -> (u128, bool) {
        match ip {
            // A v4 address as a v6 client may show it (::ffff:a.b.c.d) is the v4 one.
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (u128::from(u32::from(v4)), false),
                None => (u128::from(v6), true),
            },
            std::net::IpAddr::V4(v4) => (u128::from(u32::from(v4)), false),
        }
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let (bits, v6) = Cidr::bits_of(ip);
        let width = if self.v6 { 128 } else { 32 };
        let shift = width - u32::from(self.prefix);
        v6 == self.v6 && (shift >= 128 || bits >> shift == self.bits >> shift)
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(text: &str) -> Result<Cidr, String> {
        let bad = || format!("expected an address range like 10.0.0.0/8 or ::1/128, got {text:?}");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let ip: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
        let (bits, v6) = Cidr::bits_of(ip);
        let width = if v6 { 128 } else { 32 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| u32::from(*p) <= width)
                .ok_or_else(bad)?,
            None => width as u8,
        };
        Ok(Cidr { bits, prefix, v6 })
    }
}

struct Session {
    key: String,
    until: Instant,
    csrf: Csrf,
}

/// A form's proof that it came from a page loupe served: the session's
/// own (the logout form) or the one a login page set in a cookie beside
/// it. SameSite=Strict cookies already keep other sites' forms out; this
/// holds where a browser does not honour them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Csrf([u8; 16]);

impl Csrf {
    pub(crate) fn new() -> std::io::Result<Csrf> {
        Ok(Csrf(random()?))
    }

    /// The token as one page carries it: a fresh random pad, then the
    /// token XORed with it. Pages are compressed, so a secret that read
    /// the same on every page beside text an attacker chooses (a search
    /// box) could be guessed from the sizes of the answers (BREACH).
    pub(crate) fn masked(&self) -> std::io::Result<Masked> {
        let pad: [u8; 16] = random()?;
        let mut masked = [0u8; 32];
        masked[..16].copy_from_slice(&pad);
        for (i, (t, p)) in self.0.iter().zip(&pad).enumerate() {
            masked[16 + i] = t ^ p;
        }
        Ok(Masked(masked))
    }

    /// Whether `text`, a masked token as a form sends it back, is this
    /// token, in constant time.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let mut sent = [0u8; 32];
        if hex::decode_to_slice(text.trim(), &mut sent).is_err() {
            return false;
        }
        let (pad, masked) = sent.split_at(16);
        let diff = (0..16).fold(0, |d, i| d | (masked[i] ^ pad[i] ^ self.0[i]));
        diff == 0
    }

    /// The token as its cookie holds it (unmasked: a cookie is never
    /// compressed beside page text).
    pub(crate) fn parse(text: &str) -> Option<Csrf> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        Some(Csrf(bytes))
    }
}

impl std::fmt::Display for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A token masked for one page (`Csrf::masked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masked([u8; 32]);

impl std::fmt::Display for Masked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

fn random<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

impl Access {
    pub fn new(
        keys: Keys,
        proxy: Option<ProxyAuth>,
        open_to_all: bool,
        secure: bool,
    ) -> Arc<Access> {
        Arc::new(Access {
            keys,
            proxy,
            open_to_all,
            secure,
            sessions: Mutex::default(),
        })
    }

    /// The live session the request's cookie names: its key's name and
    /// the token its forms carry.
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<(String, Csrf)> {
        let token = cookie(headers, COOKIE)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(token) {
            Some(session) if session.until > Instant::now() => {
                Some((session.key.clone(), session.csrf))
            }
            Some(_) => {
                sessions.remove(token);
                None
            }
            None => None,
        }
    }

    pub(crate) fn start_session(&self, key: &str) -> std::io::Result<String> {
        let token = hex::encode(random::<32>()?);
        let csrf = Csrf::new()?;
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
                csrf,
            },
        );
        Ok(token)
    }

    pub(crate) fn end_session(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers, COOKIE) {
            self.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(token);
        }
    }
}

/// The value of the request's cookie `name`.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn address_ranges() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        for (range, address, inside) in [
            ("10.0.0.0/8", "10.1.2.3", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("127.0.0.1/32", "::ffff:127.0.0.1", true),
            ("0.0.0.0/0", "192.168.1.1", true),
            ("0.0.0.0/0", "::1", false),
            ("::1/128", "::1", true),
            ("fd00::/8", "fd12::1", true),
            ("fd00::/8", "fe80::1", false),
        ] {
            let cidr: Cidr = range.parse().unwrap();
            assert_eq!(cidr.contains(ip(address)), inside, "{range} ∋ {address}");
        }
        for bad in ["10.0.0.0/33", "::/129", "localhost", "10.0.0/8", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_masked_token_differs_on_every_page_and_still_matches() {
        let token = Csrf::new().unwrap();
        let (a, b) = (token.masked().unwrap(), token.masked().unwrap());
        assert_ne!(a, b);
        for masked in [a, b] {
            assert!(token.matches(&masked.to_string()));
            assert!(!Csrf::new().unwrap().matches(&masked.to_string()));
        }
        let mut tampered = a.to_string().into_bytes();
        tampered[40] = if tampered[40] == b'0' { b'1' } else { b'0' };
        for sent in [
            String::from_utf8(tampered).unwrap(),
            token.to_string(),
            String::new(),
            "zz".repeat(32),
        ] {
            assert!(!token.matches(&sent), "{sent:?}");
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; loupe_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("loupe_session_x=abc"),
        );
        assert_eq!(cookie(&headers, COOKIE), None);
    }
}
