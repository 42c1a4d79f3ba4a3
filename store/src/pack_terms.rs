//! What trace search asks of a pack's spans, as a Bloom filter
//! (`span_packs.terms`, docs/adr/0018): their operations, their attribute
//! keys, and for each key with few values in the pack those values as an
//! `=` filter compares them. A search reads a pack's spans only when the
//! filter says they may meet one of its conditions; a search nothing
//! matches reads filters, not spans. The filter has `span_filter`'s
//! format; a pack with none (written before it, or with more terms than
//! `MAX_TERMS`) is read.
//!
//! Pure.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::model::Span;
use crate::value::{Attributes, Value, stored_key};
use crate::views::{AttributeFilter, Comparison};

/// Values of one key a pack's filter holds at most; a key with more (ids,
/// timestamps) is marked unindexed, and an `=` filter on it reads the pack.
pub(crate) const MAX_VALUES_PER_KEY: usize = 64;

/// Terms a filter holds at most (about 5 KB at ten bits a term); past it
/// the pack gets no filter.
pub(crate) const MAX_TERMS: usize = 4096;

const OPERATION: u8 = b'o';
const KEY: u8 = b'k';
const VALUE: u8 = b'v';
const UNINDEXED: u8 = b'u';

/// The probe of a term: FNV-1a over its kind and its parts, each part
/// after its length so that parts cannot run into each other, then
/// splitmix64's finaliser. Pinned: stored filters are probed with it.
pub(crate) fn probe(kind: u8, parts: &[&str]) -> (u64, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |byte: u8| {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(kind);
    for part in parts {
        for byte in (part.len() as u64).to_le_bytes() {
            eat(byte);
        }
        for &byte in part.as_bytes() {
            eat(byte);
        }
    }
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z & 0xffff_ffff, (z >> 32) | 1)
}

/// The text an `=` filter compares `value` with (as
/// `pack_reads::attribute_matches` reads it from the stored JSON), when
/// the value alone fixes it; `None` for values it does not (maps, arrays,
/// bytes, non-finite doubles, empty), whose keys are marked unindexed.
pub(crate) fn value_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Int(i) => Some(Cow::Owned(i.to_string())),
        Value::Double(d) => serde_json::Number::from_f64(*d).map(|n| Cow::Owned(n.to_string())),
        Value::Empty | Value::Bytes(_) | Value::Array(_) | Value::Map(_) => None,
    }
}

/// The filter of these spans' terms; `None` past `MAX_TERMS`.
pub(crate) fn build(spans: &[Span]) -> Option<Vec<u8>> {
    let operations: HashSet<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let mut probes: Vec<(u64, u64)> = operations
        .iter()
        .map(|name| probe(OPERATION, &[name]))
        .collect();
    if probes.len() > MAX_TERMS {
        return None;
    }
    attribute_probes(spans.iter().map(|s| &s.attributes), &mut probes, MAX_TERMS)?;
    Some(crate::span_filter::of_probes(probes.into_iter()))
}

/// Adds the probes of these attribute sets' keys and, for each key with
/// few values, of those values (what `may_pass` asks); `None` once there
/// are more than `max` probes.
pub(crate) fn attribute_probes<'a>(
    sets: impl Iterator<Item = &'a Attributes>,
    probes: &mut Vec<(u64, u64)>,
    max: usize,
) -> Option<()> {
    // Key → its values' texts, `None` once unindexed; borrowed from the
    // items (this runs for every export), stored forms made per key.
    let mut keys: HashMap<&str, Option<HashSet<Cow<'_, str>>>> = HashMap::new();
    for attributes in sets {
        for (key, value) in &attributes.0 {
            let values = keys
                .entry(key.as_str())
                .or_insert_with(|| Some(HashSet::new()));
            if let Some(set) = values {
                match value_text(value) {
                    Some(text) if set.len() < MAX_VALUES_PER_KEY || set.contains(&text) => {
                        set.insert(text);
                    }
                    _ => *values = None,
                }
            }
        }
    }
    for (key, values) in &keys {
        let key = stored_key(key);
        let key = key.as_str();
        probes.push(probe(KEY, &[key]));
        match values {
            Some(values) => probes.extend(values.iter().map(|v| probe(VALUE, &[key, v]))),
            None => probes.push(probe(UNINDEXED, &[key])),
        }
        if probes.len() > max {
            return None;
        }
    }
    Some(())
}

/// Whether a span of the filter's pack may be named `name`.
pub(crate) fn may_have_operation(filter: &[u8], name: &str) -> bool {
    crate::span_filter::may_hold(filter, probe(OPERATION, &[name]))
}

/// Whether a span of the filter's pack may pass `filter` on the attribute
/// stored as `key`: an `=` asks for the value when the key's values are
/// indexed, every comparison for the key.
pub(crate) fn may_pass(terms: &[u8], key: &str, filter: &AttributeFilter) -> bool {
    let may = |p| crate::span_filter::may_hold(terms, p);
    if !may(probe(KEY, &[key])) {
        return false;
    }
    match filter.comparison {
        Comparison::Equal => {
            may(probe(UNINDEXED, &[key])) || may(probe(VALUE, &[key, &filter.value]))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Attributes;

    fn span(name: &str, attributes: Vec<(&str, Value)>) -> Span {
        Span {
            name: name.to_owned(),
            attributes: Attributes(
                attributes
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            ),
            ..crate::testing::span(1, 1, None, 0, 1, false)
        }
    }

    fn eq(key: &str, value: &str) -> AttributeFilter {
        AttributeFilter {
            key: key.to_owned(),
            comparison: Comparison::Equal,
            value: value.to_owned(),
        }
    }

    #[test]
    fn a_filter_rules_out_only_what_no_span_has() {
        let mut spans = vec![
            span(
                "GET /cart",
                vec![
                    ("http.method", Value::String("GET".into())),
                    ("http.status_code", Value::Int(503)),
                    ("ratio", Value::Double(0.5)),
                    ("ok", Value::Bool(false)),
                    ("tags", Value::Array(vec![])),
                    ("$odd", Value::String("x".into())),
                ],
            ),
            span(
                "SELECT",
                vec![("db.system", Value::String("postgresql".into()))],
            ),
        ];
        // A key with more values than a filter indexes.
        for i in 0..=MAX_VALUES_PER_KEY {
            spans.push(span(
                "id",
                vec![("user.id", Value::String(format!("u{i}")))],
            ));
        }
        let filter = build(&spans).expect("a few terms");
        for (name, may) in [("GET /cart", true), ("SELECT", true), ("POST /pay", false)] {
            assert_eq!(may_have_operation(&filter, name), may, "{name}");
        }
        for (key, value, may) in [
            ("http.method", "GET", true),
            ("http.method", "POST", false),
            ("http.status_code", "503", true),
            ("http.status_code", "500", false),
            ("ratio", "0.5", true),
            ("ok", "false", true),
            ("ok", "true", false),
            // Unindexed values: any value may be there.
            ("tags", "[]", true),
            ("user.id", "u3", true),
            ("user.id", "nobody", true),
            // Keys no span has.
            ("http.route", "/cart", false),
            ("$odd", "x", true),
        ] {
            let stored = stored_key(key);
            assert_eq!(
                may_pass(&filter, &stored, &eq(key, value)),
                may,
                "{key}={value}"
            );
        }
        let other = |comparison| AttributeFilter {
            comparison,
            ..eq("http.status_code", "1")
        };
        assert!(may_pass(
            &filter,
            "http.status_code",
            &other(Comparison::Greater)
        ));
        assert!(may_pass(
            &filter,
            "http.status_code",
            &other(Comparison::NotEqual)
        ));
        let absent = AttributeFilter {
            key: "http.route".into(),
            ..other(Comparison::Less)
        };
        assert!(!may_pass(&filter, "http.route", &absent));
    }

    #[test]
    fn too_many_terms_make_no_filter() {
        let spans: Vec<Span> = (0..=MAX_TERMS)
            .map(|i| span(&format!("op {i}"), vec![]))
            .collect();
        assert!(build(&spans).is_none());
        assert!(build(&spans[..10]).is_some());
    }

    #[test]
    fn probes_are_pinned() {
        // Stored filters are probed with these: a change would make
        // searches skip packs that match.
        assert_ne!(probe(VALUE, &["ab", "c"]), probe(VALUE, &["a", "bc"]));
        assert_eq!(probe(KEY, &["http.method"]), (265_257_546, 4_231_022_201));
    }
}
