//! The words of log bodies, as a search for words sees them (`log_packs`).

use crate::value::Value;

/// The words of a log body: a string body as is, any other body as its
/// JSON text, every character that is not a letter or digit turned into a
/// space, so that `/api/checkout` and `bob@example.com` are found by their
/// parts (as the full-text indexes of older versions found them).
pub(crate) fn body_text(body: &Value) -> String {
    match body {
        Value::String(s) => search_words(s),
        Value::Empty => String::new(),
        other => search_words(&other.to_json_string()),
    }
}

/// Letters and digits kept, everything else a word break.
pub(crate) fn search_words(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect()
}
