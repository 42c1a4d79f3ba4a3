//! What a pack's spans carry beyond what the reports read (`span_packs.details`,
//! docs/adr/0011): the resource and scope each came from, status, trace
//! state, flags, request id, the semantic-convention fields searches show
//! and the payload (attributes, events and links as their stored JSON).
//! The spans are those of the pack's `data`, in the same order.
//!
//! Format 1: the byte 1, then one zstd frame (recording its size) of the
//! fields in columns: each field for every span, then the next field, so
//! that zstd meets like values side by side. Integers are LEB128
//! (`i64`s zigzagged first); a text is its LEB128 length then its UTF-8;
//! an optional value is the byte 0 for none, or 1 then the value. The
//! columns, in order: resource fingerprint (`i64`), scope fingerprint
//! (`i64`), status code, status message, trace state, flags, request id
//! (optional), `http.response.status_code` (optional `i64`),
//! `exception.type` (optional), dropped attributes, events and links
//! counts, attributes, events (optional), links (optional).

use crate::error::{Result, StoreError};
use crate::model::{Batch, Span};
use crate::varint::{Reader, put_i64, put_opt, put_text, put_u64};

const FORMAT: u8 = 1;

/// One span's details; the JSON fields are the stored JSON forms of
/// `value` and `model` (attributes always a map, events and links `None`
/// when there are none).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanDetail {
    pub resource: i64,
    pub scope: i64,
    pub status_code: i32,
    pub status_message: String,
    pub trace_state: String,
    pub flags: u32,
    pub request_id: Option<String>,
    pub http_status: Option<i64>,
    pub exception_type: Option<String>,
    pub dropped_attributes_count: u32,
    pub dropped_events_count: u32,
    pub dropped_links_count: u32,
    pub attributes: String,
    pub events: Option<String>,
    pub links: Option<String>,
}

impl SpanDetail {
    /// The details of `span`, whose resource and scope have these fingerprints.
    pub fn of(span: &Span, resource: i64, scope: i64) -> SpanDetail {
        let d = &span.derived;
        SpanDetail {
            resource,
            scope,
            status_code: span.status.code.as_i32(),
            status_message: span.status.message.clone(),
            trace_state: span.trace_state.clone(),
            flags: span.flags,
            request_id: d.request_id.clone(),
            http_status: d.http_status_code,
            exception_type: d.exception_type.clone(),
            dropped_attributes_count: span.dropped_attributes_count,
            dropped_events_count: span.dropped_events_count,
            dropped_links_count: span.dropped_links_count,
            attributes: span.attributes.to_json_string(),
            events: crate::stored_json::json_list(&span.events),
            links: crate::stored_json::json_list(&span.links),
        }
    }
}

/// The details of every span of the batch, its resources and scopes
/// having these fingerprints (by index).
pub fn of_batch(batch: &Batch, resources: &[i64], scopes: &[i64]) -> Vec<SpanDetail> {
    batch
        .spans
        .iter()
        .map(|s| SpanDetail::of(s, resources[s.resource_idx], scopes[s.scope_idx]))
        .collect()
}

/// Format 1 of these details.
pub fn encode(details: &[SpanDetail]) -> Result<Vec<u8>> {
    let mut w = Vec::with_capacity(details.len() * 400);
    put_u64(&mut w, details.len() as u64);
    let column = |w: &mut Vec<u8>, f: &dyn Fn(&mut Vec<u8>, &SpanDetail)| {
        for d in details {
            f(w, d);
        }
    };
    column(&mut w, &|w, d| put_i64(w, d.resource));
    column(&mut w, &|w, d| put_i64(w, d.scope));
    column(&mut w, &|w, d| put_i64(w, i64::from(d.status_code)));
    column(&mut w, &|w, d| put_text(w, &d.status_message));
    column(&mut w, &|w, d| put_text(w, &d.trace_state));
    column(&mut w, &|w, d| put_u64(w, u64::from(d.flags)));
    column(&mut w, &|w, d| {
        put_opt(w, d.request_id.as_deref(), put_text)
    });
    column(&mut w, &|w, d| put_opt(w, d.http_status, put_i64));
    column(&mut w, &|w, d| {
        put_opt(w, d.exception_type.as_deref(), put_text)
    });
    column(&mut w, &|w, d| {
        put_u64(w, u64::from(d.dropped_attributes_count))
    });
    column(&mut w, &|w, d| {
        put_u64(w, u64::from(d.dropped_events_count))
    });
    column(&mut w, &|w, d| put_u64(w, u64::from(d.dropped_links_count)));
    column(&mut w, &|w, d| put_text(w, &d.attributes));
    column(&mut w, &|w, d| put_opt(w, d.events.as_deref(), put_text));
    column(&mut w, &|w, d| put_opt(w, d.links.as_deref(), put_text));
    crate::framed::seal(FORMAT, &w, "span details")
}

/// The details `encode` wrote, `spans` of them.
pub fn decode(data: &[u8], spans: usize) -> Result<Vec<SpanDetail>> {
    let plain = crate::framed::open(data, FORMAT, "span details")?;
    let mut r = Reader::new(&plain, "span details");
    let n = r.u64()? as usize;
    if n != spans {
        return Err(corrupt(format!("{n} spans' details for {spans} spans")));
    }
    let mut out = vec![SpanDetail::default(); n];
    macro_rules! column {
        ($field:ident, $read:expr) => {
            for d in out.iter_mut() {
                d.$field = $read(&mut r)?;
            }
        };
    }
    column!(resource, Reader::i64);
    column!(scope, Reader::i64);
    column!(status_code, |r: &mut Reader| r
        .i64()
        .map(|c| i32::try_from(c).unwrap_or(0)));
    column!(status_message, Reader::text);
    column!(trace_state, Reader::text);
    column!(flags, Reader::u32);
    column!(request_id, |r: &mut Reader| r.opt(Reader::text));
    column!(http_status, |r: &mut Reader| r.opt(Reader::i64));
    column!(exception_type, |r: &mut Reader| r.opt(Reader::text));
    column!(dropped_attributes_count, Reader::u32);
    column!(dropped_events_count, Reader::u32);
    column!(dropped_links_count, Reader::u32);
    column!(attributes, Reader::text);
    column!(events, |r: &mut Reader| r.opt(Reader::text));
    column!(links, |r: &mut Reader| r.opt(Reader::text));
    r.finish()?;
    Ok(out)
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt(format!("span details: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(i: i64) -> SpanDetail {
        SpanDetail {
            resource: -i * 1_000_000_007,
            scope: i64::MAX - i,
            status_code: (i % 3) as i32,
            status_message: format!("message {i}"),
            trace_state: if i % 2 == 0 {
                String::new()
            } else {
                "a=b".into()
            },
            flags: 256 + i as u32,
            request_id: (i % 2 == 0).then(|| format!("req-{i}")),
            http_status: (i % 3 == 0).then_some(200 + i),
            exception_type: (i == 1).then(|| "ValueError".into()),
            dropped_attributes_count: i as u32,
            dropped_events_count: u32::MAX,
            dropped_links_count: 0,
            attributes: format!(r#"{{"n":{i},"ü":"ß"}}"#),
            events: (i % 2 == 1).then(|| "[]".into()),
            links: None,
        }
    }

    #[test]
    fn details_come_back_as_they_were_encoded() {
        for n in [0, 1, 2, 513] {
            let details: Vec<SpanDetail> = (0..n).map(detail).collect();
            let data = encode(&details).expect("encode");
            assert_eq!(data[0], FORMAT);
            assert_eq!(decode(&data, n as usize).expect("decode"), details);
        }
    }

    #[test]
    fn damaged_details_are_refused_not_misread() {
        let details: Vec<SpanDetail> = (0..3).map(detail).collect();
        let data = encode(&details).expect("encode");
        let plain = zstd::decode_all(&data[1..]).expect("a frame");
        let framed =
            |plain: &[u8]| [&[FORMAT][..], &zstd::bulk::compress(plain, 1).unwrap()].concat();
        for (bytes, spans, why) in [
            (data.clone(), 2, "3 spans' details for 2 spans"),
            (framed(&plain[..plain.len() - 1]), 3, "cut short"),
            (framed(&[plain.clone(), vec![0]].concat()), 3, "left over"),
            (vec![2], 3, "unknown format"),
            (vec![FORMAT, 1, 2, 3], 3, "not a zstd frame"),
            (data[..data.len() - 2].to_vec(), 3, "zstd"),
        ] {
            let err = decode(&bytes, spans).expect_err(why);
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
    }
}
