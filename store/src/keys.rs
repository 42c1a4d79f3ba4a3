//! Named secrets: who may send telemetry (`--ingest-keys`) and who may read
//! it (`--read-keys`). Here because the receivers and the UI both ask.
//!
//! A key is written `NAME:SECRET`, or `SECRET` alone (then named `key1`,
//! `key2`, … by its place). Only the name is ever shown or stored; the
//! secret is compared in constant time and never logged.

use std::fmt;

/// The keys of one role; empty when the role is open to anyone.
#[derive(Clone, Default)]
pub struct Keys {
    keys: Vec<Key>,
}

#[derive(Clone)]
struct Key {
    name: String,
    secret: Vec<u8>,
}

/// Resource attribute naming the ingest key an item came with (its name,
/// never the secret), so its volume can be told apart.
pub const INGEST_KEY_ATTRIBUTE: &str = "loupe.ingest.key";

/// Secrets shorter than this are refused at start: a guessable key is no key.
pub const MIN_SECRET_LEN: usize = 16;

impl Keys {
    /// Reads keys from the flag's values and, when given, a file's lines
    /// (blank lines and `#` comments skipped).
    ///
    /// # Errors
    ///
    /// A message naming the entry at fault: a secret that is too short or
    /// holds spaces, a name that is not `[A-Za-z0-9._-]`, or a name twice.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Keys, String> {
        let mut keys: Vec<Key> = Vec::new();
        for (place, entry) in entries
            .into_iter()
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.starts_with('#'))
            .enumerate()
        {
            let (name, secret) = match entry.split_once(':') {
                Some((name, secret)) => (name.trim().to_owned(), secret.trim()),
                None => (format!("key{}", place + 1), entry),
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(format!(
                    "key name {name:?} must be letters, digits, '.', '_' or '-'"
                ));
            }
            if secret.len() < MIN_SECRET_LEN || secret.chars().any(char::is_whitespace) {
                return Err(format!(
                    "the secret of key {name:?} must have at least {MIN_SECRET_LEN} characters and no spaces"
                ));
            }
            if keys.iter().any(|k| k.name == name) {
                return Err(format!("key name {name:?} is given twice"));
            }
            keys.push(Key {
                name,
                secret: secret.as_bytes().to_vec(),
            });
        }
        Ok(Keys { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The name of the key whose secret is `presented`. Every key is
    /// compared, each in time that depends only on the lengths, so the
    /// answer's timing says nothing of how much of a secret was right.
    pub fn name_of(&self, presented: &[u8]) -> Option<&str> {
        let mut found = None;
        for key in &self.keys {
            if constant_time_eq(&key.secret, presented) {
                found = Some(key.name.as_str());
            }
        }
        found
    }

    /// The key named by an `Authorization: Bearer SECRET` header value.
    pub fn bearer(&self, authorization: Option<&[u8]>) -> Option<&str> {
        let value = authorization?;
        let scheme = value.get(..7)?;
        if !scheme.eq_ignore_ascii_case(b"bearer ") {
            return None;
        }
        self.name_of(value[7..].trim_ascii())
    }
}

/// Keys print as their names only.
impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| &k.name))
            .finish()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).unwrap_or(&0) ^ b.get(i).unwrap_or(&0);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef";
    const B: &str = "fedcba9876543210";

    #[test]
    fn entries_parse_with_or_without_names() {
        let keys = Keys::parse([&*format!("ci:{A}"), B, "", "# a comment"]).unwrap();
        assert_eq!(format!("{keys:?}"), r#"["ci", "key2"]"#);
        assert_eq!(keys.name_of(A.as_bytes()), Some("ci"));
        assert_eq!(keys.name_of(B.as_bytes()), Some("key2"));
        assert!(Keys::parse([]).unwrap().is_empty());
    }

    #[test]
    fn bad_entries_are_refused() {
        for (entry, message) in [
            ("short", "at least 16"),
            ("ci:short", "at least 16"),
            ("bad name:0123456789abcdef", "must be letters"),
            (":0123456789abcdef", "must be letters"),
            ("ci:0123456789 abcdef", "no spaces"),
        ] {
            let err = Keys::parse([entry]).unwrap_err();
            assert!(err.contains(message), "{entry}: {err}");
            assert!(
                !err.contains("0123456789"),
                "the secret is never shown: {err}"
            );
        }
        let twice = Keys::parse([&*format!("ci:{A}"), &*format!("ci:{B}")]).unwrap_err();
        assert!(twice.contains("twice"), "{twice}");
    }

    #[test]
    fn only_the_whole_secret_matches() {
        let keys = Keys::parse([A]).unwrap();
        for wrong in [
            "",
            "0123456789abcde",
            "0123456789abcdef0",
            "0123456789abcdeF",
        ] {
            assert_eq!(keys.name_of(wrong.as_bytes()), None, "{wrong:?}");
        }
    }

    #[test]
    fn bearer_headers() {
        let keys = Keys::parse([A]).unwrap();
        for (header, expected) in [
            (Some(format!("Bearer {A}")), Some("key1")),
            (Some(format!("bearer  {A} ")), Some("key1")),
            (Some(format!("Basic {A}")), None),
            (Some(A.to_owned()), None),
            (Some("Bearer".to_owned()), None),
            (None, None),
        ] {
            assert_eq!(
                keys.bearer(header.as_deref().map(str::as_bytes)),
                expected,
                "{header:?}"
            );
        }
    }
}
