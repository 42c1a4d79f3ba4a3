//! The values query parameters take, each read from its text with a
//! message that completes "`name` …" when the text is not one. A struct of
//! `params` names the parameter; these say what it must be.

use std::str::FromStr;

use serde::de::{Deserialize, Deserializer, Error as _};

/// Reads a value type from its text; `parse`'s error says what the text
/// must be (`must be a number`), and the text follows it.
fn from_text<'de, D, T>(
    deserializer: D,
    parse: impl FnOnce(&str) -> Result<T, &'static str>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(|must| D::Error::custom(format!("{must}, got {text:?}")))
}

/// A number: `limit`, `offset`, `severity_min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Number<T>(pub T);

impl<'de, T: FromStr> Deserialize<'de> for Number<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| {
            text.parse().map(Number).map_err(|_| "must be a number")
        })
    }
}

/// A duration in milliseconds, fractions allowed, held in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub i64);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| {
            let millis: f64 = text.parse().map_err(|_| "must be a number")?;
            if !millis.is_finite() || millis < 0.0 {
                return Err("must be a non-negative number");
            }
            Ok(Millis((millis * 1e6).min(i64::MAX as f64) as i64))
        })
    }
}

/// A trace id: 32 hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId(pub [u8; 16]);

impl<'de> Deserialize<'de> for TraceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| {
            let mut id = [0u8; 16];
            hex::decode_to_slice(text, &mut id).map_err(|_| "must be 32 hex characters")?;
            Ok(TraceId(id))
        })
    }
}

/// A log record's severity number, 0 to 24 (OpenTelemetry's range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Severity(pub i32);

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| match text.parse::<i32>() {
            Ok(n) if (0..=24).contains(&n) => Ok(Severity(n)),
            _ => Err("must be a severity number from 0 to 24"),
        })
    }
}

/// An attribute condition: `key=value`, `key!=value`, `key>n` (`>=`, `<`,
/// `<=` too).
#[derive(Debug, Clone, PartialEq)]
pub struct Attr(pub store::AttributeFilter);

impl<'de> Deserialize<'de> for Attr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| {
            store::AttributeFilter::parse(text)
                .map(Attr)
                .ok_or("must be key=value, key!=value or key>n (>=, <, <= too)")
        })
    }
}

/// Trace search's `status`: `error` or `ok` traces, or `any` (the form's
/// choice for no condition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusFilter {
    /// `Some(true)`: failed traces only; `Some(false)`: healthy ones only.
    pub failed: Option<bool>,
}

impl<'de> Deserialize<'de> for StatusFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| {
            let failed = match text {
                "any" => None,
                "error" => Some(true),
                "ok" => Some(false),
                _ => return Err("must be any, error or ok"),
            };
            Ok(StatusFilter { failed })
        })
    }
}

/// Trace search's `sort`: `start` (newest first) or `duration` (longest
/// first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub longest_first: bool,
}

impl<'de> Deserialize<'de> for Sort {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| match text {
            "start" => Ok(Sort {
                longest_first: false,
            }),
            "duration" => Ok(Sort {
                longest_first: true,
            }),
            _ => Err("must be start or duration"),
        })
    }
}

/// A report's `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| match text {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err("must be json or csv"),
        })
    }
}

/// A switch: `1`, `true` or `on`; `0`, `false` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| match text {
            "1" | "true" | "on" => Ok(Flag(true)),
            "0" | "false" | "off" => Ok(Flag(false)),
            _ => Err("must be 1 or 0"),
        })
    }
}

/// The live tail's cursor: the newest time shown, in Unix nanoseconds, or
/// -1 before anything was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub i64);

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_text(deserializer, |text| match text.parse::<i64>() {
            Ok(n) if n >= -1 => Ok(Cursor(n)),
            _ => Err("must be a time in Unix nanoseconds"),
        })
    }
}
