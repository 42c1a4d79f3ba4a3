//! How the pages write times, durations, values and service colours.

use store::value::Value;

/// UTC, millisecond precision: `2023-11-14 22:13:20.005`.
pub fn time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let millis = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// A time as a date-time input's value, in UTC: `2023-11-14T22:13:20`,
/// with milliseconds when there are any.
pub fn datetime_input(ns: i64) -> String {
    let text = time(ns).replacen(' ', "T", 1);
    match text.strip_suffix(".000") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

/// A time as a `<time datetime>` attribute says it: RFC 3339 in UTC, with
/// milliseconds (`2023-11-14T22:13:20.005Z`). The pages' script shows such
/// elements in the reader's zone, the UTC text on hover.
pub fn iso(ns: i64) -> String {
    format!("{}Z", time(ns).replacen(' ', "T", 1))
}

/// A count as the pages print it, its thousands grouped: `12,345`.
/// Templates call it on the count (`{{ c.spans.grouped() }}`).
pub trait Grouped {
    fn grouped(&self) -> String;
}

macro_rules! grouped {
    ($($t:ty),*) => {$(
        impl Grouped for $t {
            fn grouped(&self) -> String {
                group(i128::from(*self))
            }
        }
    )*};
}
grouped!(u64, i64, u32, i32);

impl Grouped for usize {
    fn grouped(&self) -> String {
        group(i128::try_from(*self).unwrap_or(i128::MAX))
    }
}

fn group(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A metric's unit (UCUM, as OpenTelemetry writes it) in words: `By` →
/// `bytes`, `{connection}` → `connections`, `By/s` → `bytes/s`, `1` →
/// `ratio`. One it does not know is shown as sent.
pub fn unit(ucum: &str) -> String {
    let ucum = ucum.trim();
    if let Some((amount, per)) = ucum.split_once('/') {
        return format!("{}/{}", unit(amount), per_unit(per));
    }
    let word = match ucum {
        "By" => "bytes",
        "KBy" | "kBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "bit" => "bits",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "min" => "minutes",
        "h" => "hours",
        "d" => "days",
        "1" => "ratio",
        "%" => "percent",
        "Hz" => "hertz",
        "Cel" => "°C",
        "W" => "watts",
        "J" => "joules",
        _ => "",
    };
    if !word.is_empty() {
        return word.to_owned();
    }
    // An annotation names what is counted: `{request}` → requests.
    match ucum.strip_prefix('{').and_then(|u| u.strip_suffix('}')) {
        Some(thing) if !thing.is_empty() && !thing.ends_with('s') => format!("{thing}s"),
        Some(thing) => thing.to_owned(),
        None => ucum.to_owned(),
    }
}

/// The unit after `/`, short as rates write it: `s`, `min`, `request`.
fn per_unit(ucum: &str) -> String {
    match ucum {
        "s" | "min" | "h" | "d" | "ms" => ucum.to_owned(),
        _ => ucum
            .strip_prefix('{')
            .and_then(|u| u.strip_suffix('}'))
            .unwrap_or(ucum)
            .to_owned(),
    }
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Three significant digits at most: `250 ms`, `12.5 µs`, `1.20 s`.
pub fn duration(ns: i64) -> String {
    let n = ns.max(0) as f64;
    let (value, unit) = if ns < 1_000 {
        return format!("{} ns", ns.max(0));
    } else if ns < 1_000_000 {
        (n / 1e3, "µs")
    } else if ns < 1_000_000_000 {
        (n / 1e6, "ms")
    } else if ns < 60_000_000_000 {
        (n / 1e9, "s")
    } else {
        (n / 60e9, "min")
    };
    if value < 10.0 {
        format!("{value:.2} {unit}")
    } else if value < 100.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// Requests per second: `1.2e-5` (one a day), `0.0125`, `0.20`, `12.5`, `340`.
pub fn rate(per_second: f64) -> String {
    if per_second <= 0.0 {
        "0".to_owned()
    } else if per_second < 0.001 {
        format!("{per_second:.1e}")
    } else if per_second < 0.1 {
        format!("{per_second:.4}")
    } else if per_second < 10.0 {
        format!("{per_second:.2}")
    } else if per_second < 100.0 {
        format!("{per_second:.1}")
    } else {
        format!("{per_second:.0}")
    }
}

/// A share as a percentage: `34.8%`.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// A window as the pages head it: `2023-11-14 22:13:20.000 – 2023-11-14 22:13:30.000 UTC`.
pub fn time_range(start: i64, end: i64) -> String {
    format!("{} – {} UTC", time(start), time(end))
}

/// Pairs as a query string (without `?`), values encoded, empty ones left
/// out (the pages read them as absent anyway).
pub fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", path_segment(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A duration, or a dash where there is none (no requests).
pub fn optional_duration(ns: Option<i64>) -> String {
    ns.map_or_else(|| "—".to_owned(), duration)
}

/// Strings as they are, everything else as JSON.
pub fn value(value: &Value) -> String {
    match value.as_str() {
        Some(text) => text.to_owned(),
        None => value.to_json_string(),
    }
}

pub fn attributes(attributes: &store::value::Attributes) -> Vec<(String, String)> {
    attributes
        .0
        .iter()
        .map(|(k, v)| (k.clone(), value(v)))
        .collect()
}

/// Service colours in the stylesheet (`--c0` … `--c11`): enough that a
/// handful of services rarely share one.
const PALETTE: u64 = 12;

/// A span's place in its trace's waterfall. `?span=` keeps the span shown
/// when the trace is too large to show whole; the fragment scrolls to it.
pub fn span_href(trace_id: &str, span_id: &str) -> String {
    format!("/traces/{trace_id}?span={span_id}#span-{span_id}")
}

/// One of the stylesheet's service colours, stable per name.
pub fn colour(service: &str) -> usize {
    (super::assets::fnv1a(service.as_bytes()) % PALETTE) as usize
}

/// Percent-encodes everything but unreserved characters, for a path segment.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The stylesheet's class for a severity number.
pub fn severity_class(severity: i32) -> &'static str {
    match severity {
        17.. => "sev-error",
        13..=16 => "sev-warn",
        9..=12 => "sev-info",
        _ => "sev-debug",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_units_read_as_words() {
        for (ucum, words) in [
            ("By", "bytes"),
            ("MiBy", "mebibytes"),
            ("s", "seconds"),
            ("ms", "milliseconds"),
            ("1", "ratio"),
            ("%", "percent"),
            ("{connection}", "connections"),
            ("{requests}", "requests"),
            ("{}", ""),
            ("By/s", "bytes/s"),
            ("{request}/s", "requests/s"),
            ("{packet}/{connection}", "packets/connection"),
            ("", ""),
            ("furlong", "furlong"),
        ] {
            assert_eq!(unit(ucum), words, "{ucum:?}");
        }
    }

    #[test]
    fn counts_group_their_thousands() {
        for (n, text) in [
            (0_i64, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (12_345, "12,345"),
            (1_234_567, "1,234,567"),
            (-45_000, "-45,000"),
            (i64::MIN, "-9,223,372,036,854,775,808"),
        ] {
            assert_eq!(n.grouped(), text);
        }
        assert_eq!(u64::MAX.grouped(), "18,446,744,073,709,551,615");
        assert_eq!(3_000_usize.grouped(), "3,000");
    }

    #[test]
    fn the_stylesheet_has_every_service_colour_in_both_themes() {
        let css = include_str!("../../../static/loupe.css");
        for i in 0..PALETTE {
            assert_eq!(css.matches(&format!("--c{i}: #")).count(), 2, "--c{i}");
            assert!(css.contains(&format!(".svc.c{i}, .dot.c{i} {{")), "c{i}");
            assert!(
                css.contains(&format!("svg.map .node.c{i} rect")),
                "map c{i}"
            );
        }
        let used: std::collections::BTreeSet<usize> =
            ["gateway", "orders", "payments", "inventory", "notifier"]
                .map(colour)
                .into();
        assert_eq!(used.len(), 5, "the demo's services look different");
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(time(0), "1970-01-01 00:00:00.000");
        assert_eq!(time(1_700_000_000_005_000_000), "2023-11-14 22:13:20.005");
        assert_eq!(time(951_782_400_000_000_000), "2000-02-29 00:00:00.000");
        assert_eq!(iso(1_700_000_000_005_000_000), "2023-11-14T22:13:20.005Z");
        assert_eq!(
            datetime_input(1_700_000_000_005_000_000),
            "2023-11-14T22:13:20.005"
        );
        assert_eq!(
            datetime_input(951_782_400_000_000_000),
            "2000-02-29T00:00:00"
        );
        assert_eq!(duration(999), "999 ns");
        assert_eq!(duration(12_500), "12.5 µs");
        assert_eq!(duration(250_000_000), "250 ms");
        assert_eq!(duration(1_200_000_000), "1.20 s");
        assert_eq!(path_segment("a b/ü"), "a%20b%2F%C3%BC");
        assert_eq!(
            query([("window", "1h"), ("service", ""), ("attr", "k=v&w")]),
            "window=1h&attr=k%3Dv%26w"
        );
        assert_eq!(
            [0.0, 1.0 / 86_400.0, 0.0125, 0.2, 3.256, 12.5, 340.2].map(rate),
            ["0", "1.2e-5", "0.0125", "0.20", "3.26", "12.5", "340"]
        );
        assert_eq!(optional_duration(None), "—");
        assert_eq!([0.0, 0.3481, 1.0].map(percent), ["0.0%", "34.8%", "100.0%"]);
        assert_eq!(
            time_range(0, 1_500_000_000),
            "1970-01-01 00:00:00.000 – 1970-01-01 00:00:01.500 UTC"
        );
    }
}
