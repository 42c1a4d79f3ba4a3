//! The words of log bodies as both backends index and search them, so
//! that a full-text search finds the same records on SQLite (FTS5) and
//! PostgreSQL (a `simple` text index).

use crate::value::Value;

/// The words of a log body that PostgreSQL's full-text index sees: a string
/// body as is, any other body as its JSON text, every character that is not
/// a letter or digit turned into a space. PostgreSQL's parser would keep
/// `/api/checkout` or `bob@example.com` as one word; FTS5 splits them, and
/// search must find the same records on both backends.
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

/// Words as an FTS5 query: each one quoted, so that user input is never FTS5 syntax.
pub(crate) fn fts_query(text: &str) -> String {
    text.split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}
