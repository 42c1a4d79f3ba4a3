//! The host names the UI answers for. A web page the user visits can make
//! its own name resolve to 127.0.0.1 (DNS rebinding) and then read a
//! loopback-only loupe as if it were its own origin; the `Host` header is
//! what gives it away. So a listener bound to an address answers only for
//! that address, for `localhost` when it is a loopback one, and for the
//! names of `--allowed-hosts`; one bound to every address (`0.0.0.0`,
//! `::`) answers for any name unless `--allowed-hosts` says which.
//!
//! Pure.

use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    /// Lower case, without port or brackets; empty: any name.
    names: Vec<String>,
}

impl Hosts {
    /// The names a listener bound to `bound` answers for.
    pub fn for_listener(bound: SocketAddr, allowed: &[String]) -> Hosts {
        let ip = bound.ip();
        let mut names: Vec<String> = allowed.iter().map(|name| bare(name)).collect();
        if ip.is_unspecified() && names.is_empty() {
            return Hosts { names };
        }
        names.push(ip.to_string());
        if ip.is_loopback() {
            names.extend(["localhost", "127.0.0.1", "::1"].map(str::to_owned));
        }
        names.sort();
        names.dedup();
        Hosts { names }
    }

    /// Whether a request whose `Host` header says `host` is answered; a
    /// request without one cannot come from a browser's page.
    pub fn allows(&self, host: Option<&str>) -> bool {
        match host {
            None => true,
            Some(host) => self.names.is_empty() || self.names.contains(&bare(host)),
        }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` as the name alone, lower
/// case, without a trailing dot.
fn bare(host: &str) -> String {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None if host.parse::<IpAddr>().is_ok() => host,
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect(text)
    }

    #[test]
    fn a_listener_answers_for_its_own_names() {
        let loopback = Hosts::for_listener(addr("127.0.0.1:8080"), &[]);
        let wildcard = Hosts::for_listener(addr("0.0.0.0:8080"), &[]);
        let named = Hosts::for_listener(addr("0.0.0.0:8080"), &["Loupe.Example.com".into()]);
        let v6 = Hosts::for_listener(addr("[::1]:8080"), &[]);
        let lan = Hosts::for_listener(addr("10.0.0.5:8080"), &[]);
        for (hosts, host, allowed) in [
            (&loopback, Some("127.0.0.1:8080"), true),
            (&loopback, Some("localhost:8080"), true),
            (&loopback, Some("LOCALHOST"), true),
            (&loopback, Some("localhost.:8080"), true),
            (&loopback, Some("[::1]:8080"), true),
            (&loopback, Some("evil.example:8080"), false),
            (&loopback, Some("127.0.0.1.evil.example"), false),
            (&loopback, Some(""), false),
            (&loopback, None, true),
            (&wildcard, Some("anything.example:8080"), true),
            (&named, Some("loupe.example.com"), true),
            (&named, Some("loupe.example.com:8080"), true),
            (&named, Some("0.0.0.0:8080"), true),
            (&named, Some("evil.example"), false),
            (&v6, Some("[::1]:8080"), true),
            (&v6, Some("localhost:8080"), true),
            (&lan, Some("10.0.0.5:8080"), true),
            (&lan, Some("localhost:8080"), false),
        ] {
            assert_eq!(hosts.allows(host), allowed, "{:?} {host:?}", hosts.names());
        }
    }
}
