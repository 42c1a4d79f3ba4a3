//! Report tables as CSV (RFC 4180): one header line with the JSON field
//! names, one line per row, numbers exactly as in the JSON, absent values
//! empty. Nested fields (a row's series) are left out. A text that a
//! spreadsheet would take for a formula (a service or route named
//! `=HYPERLINK(…)` by whoever can send telemetry) starts with a `'`, as
//! OWASP advises against CSV injection.

use serde::Serialize;

use super::cost::CostReport;
use super::load::LoadReport;

/// The tables of each report, by the name `table=` / `--table` takes.
pub const LOAD_TABLES: &[&str] = &[
    "services",
    "endpoints",
    "downstream",
    "time_breakdown",
    "edges",
    "repeated_calls",
];
pub const COST_TABLES: &[&str] = &[
    "services",
    "endpoints",
    "ingest_keys",
    "what_to_drop",
    "attribute_keys",
    "log_sources",
    "metrics_by_series",
    "per_request",
];

pub fn load_table(report: &LoadReport, table: &str) -> Option<String> {
    Some(match table {
        "services" => rows(&report.services),
        "endpoints" => rows(&report.endpoints),
        "downstream" => rows(&report.downstream),
        "time_breakdown" => rows(&report.time_breakdown),
        "edges" => rows(&report.edges),
        "repeated_calls" => rows(&report.repeated_calls),
        _ => return None,
    })
}

pub fn cost_table(report: &CostReport, table: &str) -> Option<String> {
    Some(match table {
        "services" => rows(&report.services),
        "endpoints" => rows(&report.endpoints),
        "ingest_keys" => rows(&report.ingest_keys),
        "what_to_drop" => rows(&report.what_to_drop),
        "attribute_keys" => rows(&report.attribute_keys),
        "log_sources" => rows(&report.log_sources),
        "metrics_by_series" => rows(&report.metrics_by_series),
        "per_request" => rows(&report.per_request),
        _ => return None,
    })
}

/// Any list of flat structs as CSV.
pub fn rows<T: Serialize>(rows: &[T]) -> String {
    let objects: Vec<serde_json::Map<String, serde_json::Value>> = rows
        .iter()
        .filter_map(|row| match serde_json::to_value(row) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => None,
        })
        .collect();
    let columns: Vec<String> = match objects.first() {
        Some(first) => first
            .iter()
            .filter(|(_, v)| !v.is_array() && !v.is_object())
            .map(|(k, _)| k.clone())
            .collect(),
        // No rows, no columns to name: an empty table is an empty file.
        None => return String::new(),
    };
    let mut out = String::new();
    line(&mut out, columns.iter().map(String::as_str));
    for object in &objects {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match object.get(c) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => inert(s),
                Some(other) => other.to_string(),
            })
            .collect();
        line(&mut out, cells.iter().map(String::as_str));
    }
    out
}

/// The text as a spreadsheet shows it but never runs it: one that begins
/// with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`.
fn inert(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn line<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        name: String,
        n: u64,
        share: f64,
        p50: Option<i64>,
        nested: Vec<u64>,
    }

    #[test]
    fn quotes_only_what_needs_it_and_leaves_nested_fields_out() {
        let csv = rows(&[
            Row {
                name: "GET /a, b".into(),
                n: 3,
                share: 0.25,
                p50: Some(7),
                nested: vec![1],
            },
            Row {
                name: "say \"hi\"".into(),
                n: 0,
                share: 1.0,
                p50: None,
                nested: vec![],
            },
        ]);
        assert_eq!(
            csv,
            "name,n,share,p50\r\n\"GET /a, b\",3,0.25,7\r\n\"say \"\"hi\"\"\",0,1.0,\r\n"
        );
        assert_eq!(rows::<Row>(&[]), "");
    }

    #[test]
    fn texts_a_spreadsheet_would_run_are_made_inert() {
        for (text, cell) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("GET /a-b", "GET /a-b"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            let csv = rows(&[Row {
                name: text.into(),
                n: 1,
                share: -0.5,
                p50: Some(-3),
                nested: vec![],
            }]);
            let line = csv.lines().nth(1).unwrap_or_default();
            // Numbers stay numbers, negative ones included.
            assert_eq!(line, format!("{cell},1,-0.5,-3"), "{text:?}");
        }
    }
}
