//! The JSON forms values are stored in (attributes as a map, events,
//! links and exemplars as lists) and how they are read back.

use crate::error::{Result, corrupt};
use crate::value::Attributes;

/// `None` for an empty list, so that the common span without events stores nothing.
pub(crate) fn json_list<T: serde::Serialize>(items: &[T]) -> Option<String> {
    if items.is_empty() {
        None
    } else {
        serde_json::to_string(items).ok()
    }
}

/// Whether an attribute equal to `value` must show `value` verbatim in the
/// stored JSON: true for text that JSON writes as it is (no quote,
/// backslash or control character) and that is no number (a number's text
/// may be written otherwise: `1e3` for `1000.0`) nor array or map (which
/// PostgreSQL writes back with spaces). Attribute filters then
/// look for the text before parsing the JSON, which most rows lack.
pub(crate) fn literal_in_json(value: &str) -> bool {
    !value.is_empty()
        && !value.chars().any(|c| c == '"' || c == '\\' || c < ' ')
        && value.trim().parse::<f64>().is_err()
        && !value.starts_with(['[', '{'])
}

/// Stored attributes (JSON) read back; `what` names them in the error.
pub(crate) fn attributes(text: &str, what: &str) -> Result<Attributes> {
    Attributes::from_json_str(text).map_err(|e| corrupt(what, e))
}

/// A stored JSON list read back (`None`: empty).
pub(crate) fn list<T: serde::de::DeserializeOwned>(
    text: Option<&str>,
    what: &str,
) -> Result<Vec<T>> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| corrupt(what, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_values_are_literal_in_json() {
        for (value, literal) in [
            ("/cart", true),
            ("acme", true),
            ("ünïcode", true),
            ("false", true),
            ("[]", false),
            ("[1, 2]", false),
            ("{}", false),
            ("", false),
            ("say \"hi\"", false),
            ("back\\slash", false),
            ("tab\there", false),
            ("2", false),
            ("1000.0", false),
            (" 1e3 ", false),
            ("-0", false),
            ("NaN", false),
        ] {
            assert_eq!(literal_in_json(value), literal, "{value:?}");
        }
    }
}
