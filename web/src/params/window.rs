//! The time window every page and endpoint reads, one model for all.
//!
//! - `window`: a duration (`90s`, `15m`, `1h`, `24h`, `7d`) counted back
//!   from `to`, or from now.
//! - `from`, `to`: times, each Unix nanoseconds or RFC 3339
//!   (`2026-11-26T08:00:00Z`, `…T10:00:00.5+02:00`; without an offset,
//!   as a date-time input sends it, UTC). `from` with `to` is
//!   `[from, to)`; `from` alone runs to now. Beside `from`, `window` is
//!   ignored.
//! - Old names, still read because clients and bookmarks use them:
//!   `since` (a duration is `window`, a time is `from`), `until` and `end`
//!   (`to`), `start` (`from`). A bound given under two names is an error.
//! - With none of them, an endpoint takes its default window
//!   (`DefaultWindow`), or is unbounded (the trace and log searches).
//!
//! `TimeParams` is what the URL says, `TimeSpec` the same checked, and
//! `Window` the `[start, end)` a read covers. Pure: `now` is passed in.

use serde::Deserialize;

use super::error::ParamError;

/// The window parameters of a query string, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeParams {
    pub window: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
}

/// A bound or length as read: its value in nanoseconds, and the name it
/// came under, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Given {
    pub name: &'static str,
    pub ns: i64,
}

/// The window parameters checked, old names folded into the new ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeSpec {
    pub window: Option<Given>,
    pub from: Option<Given>,
    pub to: Option<Given>,
}

/// The window a page or endpoint covers when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultWindow {
    /// As a `window` parameter says it, for links.
    pub text: &'static str,
    pub ns: i64,
}

pub const LAST_HOUR: DefaultWindow = DefaultWindow {
    text: "1h",
    ns: 3_600_000_000_000,
};

pub const LAST_DAY: DefaultWindow = DefaultWindow {
    text: "24h",
    ns: 86_400_000_000_000,
};

/// The window a read covers, `[start, end)` in Unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl TimeParams {
    /// Reads every value, folds the old names into the new ones, and
    /// checks that `from` comes before `to`.
    pub fn check(&self) -> Result<TimeSpec, ParamError> {
        // What each name says, in the order a message should name them:
        // the new names first.
        let mut read: Vec<(Slot, Given)> = Vec::new();
        if let Some(text) = &self.window {
            let ns = parse_duration(text).ok_or_else(|| {
                ParamError::new(format!("window must look like 15m, 1h or 7d, got {text:?}"))
            })?;
            read.push((Slot::Window, Given { name: "window", ns }));
        }
        for (name, text, slot) in [("from", &self.from, Slot::From), ("to", &self.to, Slot::To)] {
            if let Some(text) = text {
                read.push((
                    slot,
                    Given {
                        name,
                        ns: time(name, text)?,
                    },
                ));
            }
        }
        if let Some(text) = &self.since {
            let given = match parse_duration(text) {
                Some(ns) => (Slot::Window, Given { name: "since", ns }),
                None => {
                    let ns = parse_time(text).ok_or_else(|| {
                        ParamError::new(format!(
                            "since must be a duration (15m, 24h, 7d) or a time, got {text:?}"
                        ))
                    })?;
                    (Slot::From, Given { name: "since", ns })
                }
            };
            read.push(given);
        }
        for (name, text, slot) in [
            ("until", &self.until, Slot::To),
            ("start", &self.start, Slot::From),
            ("end", &self.end, Slot::To),
        ] {
            if let Some(text) = text {
                read.push((
                    slot,
                    Given {
                        name,
                        ns: time(name, text)?,
                    },
                ));
            }
        }
        let mut spec = TimeSpec::default();
        for (slot, given) in read {
            let (field, slot_name) = match slot {
                Slot::Window => (&mut spec.window, "window"),
                Slot::From => (&mut spec.from, "from"),
                Slot::To => (&mut spec.to, "to"),
            };
            if let Some(first) = field {
                return Err(conflict(first.name, given.name, slot_name));
            }
            *field = Some(given);
        }
        if let (Some(from), Some(to)) = (spec.from, spec.to)
            && from.ns >= to.ns
        {
            return Err(ParamError::new(format!(
                "{} must be before {}",
                from.name, to.name
            )));
        }
        Ok(spec)
    }

    /// The same parameters under the new names only, texts as given and
    /// unchecked: what the links and forms of a page carry, even when the
    /// window is wrong and the page says so.
    pub fn text(&self) -> TimeText {
        let since_is_window = self
            .since
            .as_deref()
            .is_some_and(|since| parse_duration(since).is_some());
        let (since_window, since_from) = if since_is_window {
            (self.since.clone(), None)
        } else {
            (None, self.since.clone())
        };
        TimeText {
            window: self.window.clone().or(since_window),
            from: self.from.clone().or(since_from).or(self.start.clone()),
            to: self.to.clone().or(self.until.clone()).or(self.end.clone()),
        }
    }
}

/// What a name sets.
enum Slot {
    Window,
    From,
    To,
}

fn conflict(first: &str, second: &str, slot: &str) -> ParamError {
    let why = if first == slot {
        format!("{second} is an old name of {slot}")
    } else {
        format!("both are old names of {slot}")
    };
    ParamError::new(format!("{first} and {second} cannot both be given: {why}"))
}

fn time(name: &str, text: &str) -> Result<i64, ParamError> {
    parse_time(text).ok_or_else(|| {
        ParamError::new(format!(
            "{name} must be a time (Unix nanoseconds or RFC 3339), got {text:?}"
        ))
    })
}

impl TimeSpec {
    /// The window of an endpoint that always has one: `default` when
    /// neither `window` nor `from` is given.
    pub fn window(&self, default: DefaultWindow, now: i64) -> Result<Window, ParamError> {
        let end = self.to.map_or(now, |to| to.ns);
        let start = match (self.from, self.window) {
            (Some(from), _) => from.ns,
            (None, Some(window)) => end.saturating_sub(window.ns),
            (None, None) => end.saturating_sub(default.ns),
        };
        if start >= end {
            // Only a `from` after now gets here: `check` refused `from` ≥ `to`.
            let from = self.from.map_or("from", |from| from.name);
            return Err(ParamError::new(format!("{from} must be before now")));
        }
        Ok(Window { start, end })
    }

    /// The bounds of a search that is unbounded where nothing is given.
    pub fn bounds(&self, now: i64) -> (Option<i64>, Option<i64>) {
        let end = self.to.map(|to| to.ns);
        let start = match (self.from, self.window) {
            (Some(from), _) => Some(from.ns),
            (None, Some(window)) => Some(end.unwrap_or(now).saturating_sub(window.ns)),
            (None, None) => None,
        };
        (start, end)
    }
}

/// Window parameters under their new names, as texts: what a page puts in
/// its links and forms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeText {
    pub window: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl TimeText {
    /// Names `default` when neither a window nor `from` is given, so that
    /// a link says which window its page showed.
    pub fn or_default(mut self, default: DefaultWindow) -> TimeText {
        if self.window.is_none() && self.from.is_none() {
            self.window = Some(default.text.to_owned());
        }
        self
    }

    /// The window counted back, when it is the one in use (no `from`):
    /// what a window picker marks.
    pub fn picked(&self) -> Option<&str> {
        match self.from {
            Some(_) => None,
            None => self.window.as_deref(),
        }
    }

    /// The parameters given, as (name, text) pairs.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("window", &self.window),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(name, text)| Some((name, text.as_deref()?)))
        .collect()
    }
}

impl Window {
    pub fn seconds(&self) -> f64 {
        (self.end - self.start) as f64 / 1e9
    }
}

/// The latest time and the longest duration a parameter may give (about
/// the year 2116, and 146 years): far past any telemetry, and far enough
/// from `i64::MAX` that the reads' arithmetic around a window (a margin of
/// minutes, an end past a start) cannot overflow.
pub const MAX_TIME_NS: i64 = i64::MAX / 2;

/// `90s`, `15m`, `24h`, `7d` as nanoseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let unit_ns: i64 = match unit {
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        "d" => 86_400 * 1_000_000_000,
        _ => return None,
    };
    number
        .checked_mul(unit_ns)
        .filter(|ns| *ns > 0 && *ns <= MAX_TIME_NS)
}

/// Unix nanoseconds, or RFC 3339 in UTC or with an offset; nothing before
/// 1970 (telemetry has no such times: a negative number is a mistake).
/// A date-time input's value (`2026-11-26T08:00`, seconds optional, no
/// offset) is read as UTC: the pages' script turns the reader's local time
/// into UTC before a form is sent, and without it the page shows UTC.
pub fn parse_time(text: &str) -> Option<i64> {
    if let Ok(ns) = text.parse::<i64>() {
        return Some(ns).filter(|ns| (0..=MAX_TIME_NS).contains(ns));
    }
    let b = text.as_bytes();
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| num_in(text, r);
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute) = (num(11..13)?, num(14..16)?);
    if b[13] != b':' || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (second, mut rest) = match text[16..].strip_prefix(':') {
        Some(after) => (num(17..19)?, after.get(2..)?),
        None => (0, &text[16..]),
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut nanos = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &fraction[..digits.min(9)];
        nanos = kept.parse::<i64>().ok()? * 10i64.pow(9 - kept.len() as u32);
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || &rest[3..4] != ":" {
                return None;
            }
            sign * (num_in(rest, 1..3)? * 3600 + num_in(rest, 4..6)? * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    seconds
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
        .filter(|ns| (0..=MAX_TIME_NS).contains(ns))
}

/// The digits at `range` of `text` as a number.
fn num_in(text: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let digits = text.get(range)?;
    digits.bytes().all(|c| c.is_ascii_digit()).then_some(())?;
    digits.parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Now, in Unix nanoseconds.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The window `against` (a duration: `1h`, `1d`, `7d`) earlier than
/// `window`, of the same length; the one just before it when not given.
pub fn earlier_window(against: Option<&str>, window: Window) -> Result<Window, ParamError> {
    let shift = match against.filter(|t| !t.is_empty()) {
        None => window.end - window.start,
        Some(text) => parse_duration(text).filter(|&ns| ns > 0).ok_or_else(|| {
            ParamError::new(format!(
                "against must be how much earlier to look, like 1h, 1d or 7d, got {text:?}"
            ))
        })?,
    };
    Ok(Window {
        start: window.start.saturating_sub(shift),
        end: window.end.saturating_sub(shift),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000 * 1_000_000_000;
    const S: i64 = 1_000_000_000;
    const H: i64 = 3_600 * S;
    /// 2026-11-26T08:00:00Z.
    const NOV_26: i64 = 1_795_680_000 * S;

    /// The window `query` names, with `default` (`None`: unbounded), or a
    /// piece of the error message.
    fn check(query: &str, default: Option<DefaultWindow>, expected: Result<(i64, i64), &str>) {
        let got = serde_html_form::from_str::<TimeParams>(query)
            .map_err(|err| ParamError::new(err.to_string()))
            .and_then(|params| params.check())
            .and_then(|spec| match default {
                Some(default) => spec.window(default, NOW).map(|w| (w.start, w.end)),
                // Unbounded ends show as -1 in these cases.
                None => {
                    let (start, end) = spec.bounds(NOW);
                    Ok((start.unwrap_or(-1), end.unwrap_or(-1)))
                }
            });
        match (&got, expected) {
            (Ok(got), Ok(expected)) => assert_eq!(*got, expected, "{query}"),
            (Err(err), Err(piece)) => {
                assert!(err.message().contains(piece), "{query}: {err}")
            }
            _ => panic!("{query}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn times_and_durations_stay_clear_of_overflow() {
        assert_eq!(parse_time("9223372036854775807"), None);
        assert_eq!(parse_time(&MAX_TIME_NS.to_string()), Some(MAX_TIME_NS));
        assert_eq!(parse_time("9999-12-31T23:59:59Z"), None);
        assert_eq!(parse_duration("100000d"), None);
        assert_eq!(
            parse_duration("50000d"),
            Some(50_000 * 86_400 * 1_000_000_000)
        );
    }

    #[test]
    fn windows() {
        let hour = Some(LAST_HOUR);
        let day = Some(LAST_DAY);
        // Durations back from now, or from `to`.
        check("", hour, Ok((NOW - H, NOW)));
        check("", day, Ok((NOW - 24 * H, NOW)));
        check("", None, Ok((-1, -1)));
        check("window=15m", hour, Ok((NOW - H / 4, NOW)));
        check("window=90s", day, Ok((NOW - 90 * S, NOW)));
        check("window=7d", hour, Ok((NOW - 168 * H, NOW)));
        check(
            "window=2h&to=5000000000000000",
            hour,
            Ok((5_000_000_000_000_000 - 2 * H, 5_000_000_000_000_000)),
        );
        check("window=1h", None, Ok((NOW - H, -1)));
        check("window=1h&to=7200000000000", None, Ok((H, 2 * H)));
        // Nanoseconds and RFC 3339, with offsets and fractions.
        check("from=1000&to=2000", hour, Ok((1000, 2000)));
        check(
            "from=1970-01-01T00:00:00Z&to=1970-01-01T01:00:00Z",
            day,
            Ok((0, H)),
        );
        check(
            "from=2026-11-26T10:00:00%2B02:00&to=2026-11-26T08:30:00.5Z",
            hour,
            Ok((NOV_26, NOV_26 + 1_800 * S + 500_000_000)),
        );
        check(
            "from=2026-11-26t03:00:00.123456789123-05:00&to=2026-11-26 09:00:00z",
            hour,
            Ok((NOV_26 + 123_456_789, NOV_26 + H)),
        );
        // A date-time input's value, with or without seconds, is UTC.
        check(
            "from=2026-11-26T08:00&to=2026-11-26T09:00:30.25",
            hour,
            Ok((NOV_26, NOV_26 + H + 30 * S + 250_000_000)),
        );
        // `from` alone runs to now; `window` beside it is ignored.
        check("from=1000", hour, Ok((1000, NOW)));
        check("from=1000", None, Ok((1000, -1)));
        check("to=2000", None, Ok((-1, 2000)));
        check("window=1h&from=1000&to=2000", day, Ok((1000, 2000)));
        // The old names.
        check(
            "since=2h&until=5000000000000000",
            hour,
            Ok((5_000_000_000_000_000 - 2 * H, 5_000_000_000_000_000)),
        );
        check(
            "since=1970-01-01T00:00:00Z&until=3600000000000",
            day,
            Ok((0, H)),
        );
        check("since=1000", None, Ok((1000, -1)));
        check("start=1000&end=2000", hour, Ok((1000, 2000)));
        check("window=1h&end=7200000000000", hour, Ok((H, 2 * H)));
        check("since=1h&to=7200000000000", None, Ok((H, 2 * H)));
        // One bound under two names.
        for (query, message) in [
            (
                "window=1h&since=2h",
                "window and since cannot both be given: since is an old name of window",
            ),
            (
                "from=1&since=1970-01-01T00:00:00Z",
                "from and since cannot both be given",
            ),
            ("from=1&start=1", "from and start cannot both be given"),
            ("to=2&until=2", "to and until cannot both be given"),
            ("to=2&end=2", "to and end cannot both be given"),
            (
                "since=1&start=1",
                "since and start cannot both be given: both are old names of from",
            ),
            ("until=2&end=2", "until and end cannot both be given"),
        ] {
            check(query, hour, Err(message));
        }
        // `from` must come before `to`, named as given.
        check("from=2000&to=2000", hour, Err("from must be before to"));
        check("start=9&end=3", None, Err("start must be before end"));
        check(
            "since=1970-01-01T02:00:00Z&until=1970-01-01T01:00:00Z",
            day,
            Err("since must be before until"),
        );
        check(
            "from=1000&until=999",
            None,
            Err("from must be before until"),
        );
        check(
            &format!("from={}", NOW + 1),
            hour,
            Err("from must be before now"),
        );
        check(
            &format!("since={}", NOW),
            day,
            Err("since must be before now"),
        );
        check(&format!("from={}", NOW + 1), None, Ok((NOW + 1, -1)));
        // Values that are not what their parameter takes.
        for (query, message) in [
            (
                "window=1w",
                "window must look like 15m, 1h or 7d, got \"1w\"",
            ),
            ("window=0m", "window must look like"),
            ("window=2026-11-26T08:00:00Z", "window must look like"),
            (
                "since=soon",
                "since must be a duration (15m, 24h, 7d) or a time, got \"soon\"",
            ),
            (
                "until=never",
                "until must be a time (Unix nanoseconds or RFC 3339), got \"never\"",
            ),
            ("to=-5", "to must be a time"),
            ("end=abc", "end must be a time"),
            ("from=2026-13-01T00:00:00Z", "from must be a time"),
            ("from=2026-11-26T08:00:0", "from must be a time"),
            ("from=2026-11-26T08:+0", "from must be a time"),
            ("from=2026-11-26T08:00:00+2", "from must be a time"),
            ("start=1969-12-31T23:59:59Z", "start must be a time"),
        ] {
            check(query, hour, Err(message));
        }
    }

    #[test]
    fn durations() {
        for (text, expected) in [
            ("15m", Some(900 * S)),
            ("1h", Some(H)),
            ("24h", Some(LAST_DAY.ns)),
            ("7d", Some(168 * H)),
            ("90s", Some(90 * S)),
        ] {
            assert_eq!(parse_duration(text), expected, "{text}");
        }
        for bad in ["", "h", "1", "1w", "-1h", "0m", "1.5h", "99999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        for default in [LAST_HOUR, LAST_DAY] {
            assert_eq!(parse_duration(default.text), Some(default.ns));
        }
    }

    #[test]
    fn links_use_the_new_names() {
        let text = |query: &str| {
            serde_html_form::from_str::<TimeParams>(query)
                .unwrap()
                .text()
        };
        let pairs = |t: &TimeText| {
            t.pairs()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        for (query, default, expected, picked) in [
            ("", LAST_DAY, "window=24h", Some("24h")),
            ("since=6h", LAST_DAY, "window=6h", Some("6h")),
            ("since=5&until=9", LAST_HOUR, "from=5&to=9", None),
            ("start=5&end=9", LAST_HOUR, "from=5&to=9", None),
            ("end=9", LAST_HOUR, "window=1h&to=9", Some("1h")),
            ("window=15m&since=2h", LAST_HOUR, "window=15m", Some("15m")),
            ("window=soon", LAST_HOUR, "window=soon", Some("soon")),
        ] {
            let t = text(query).or_default(default);
            assert_eq!(pairs(&t), expected, "{query}");
            assert_eq!(t.picked(), picked, "{query}");
        }
    }
}
