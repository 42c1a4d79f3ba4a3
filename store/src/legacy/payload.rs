//! Reads what databases before ADR 0011 stored (loupe now writes none of
//! it): their span rows are rewritten into packs (`old_spans`), reading each
//! payload through `loupe_text`. What wrote them is gone but for a
//! compressor the tests make such values with.
//!
//! SQLite's span payloads (attributes, events and links as JSON, the bulk
//! of a span) compressed one value at a time with zstd and a dictionary
//! trained on the database's own spans (docs/adr/0008). Neighbouring spans
//! repeat keys and most values, so a dictionary of them takes a typical
//! 450-byte attribute object to about 70 bytes, while every value still
//! decompresses alone: whole-span reads and the trace search's attribute
//! filters stay row by row, through the SQL function `loupe_text`
//! (`legacy::sqlite`) in the view `span_rows`.
//!
//! A stored value is either the JSON text itself (when compressing would
//! not shrink it, and every value written before compression existed) or a
//! blob: the LEB128 id of its dictionary in `payload_dicts` (0: none) and
//! one zstd frame that records its decompressed size.

use std::collections::HashMap;

use crate::error::{Result, StoreError};
#[cfg(test)]
use crate::model::Span;

#[cfg(test)]
const LEVEL: i32 = 3;
/// Longer texts are stored as they are, and a frame that claims more is
/// damaged. (JSON can outgrow its request: control characters are written
/// as six.)
const MAX_TEXT: u64 = 64 << 20;
/// A span's three payload values as bound to `spans_payload`.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stored {
    Text(String),
    Compressed(Vec<u8>),
}

/// A span's attributes, events and links as JSON (`None`: no events, no links).
#[cfg(test)]
pub(crate) type Texts = [Option<String>; 3];

#[cfg(test)]
pub(crate) fn texts(spans: &[Span]) -> Vec<Texts> {
    spans
        .iter()
        .map(|s| {
            [
                Some(s.attributes.to_json_string()),
                crate::stored_json::json_list(&s.events),
                crate::stored_json::json_list(&s.links),
            ]
        })
        .collect()
}

/// A stored dictionary, prepared for compressing (shared by every thread
/// that compresses).
#[cfg(test)]
pub(crate) struct Dictionary {
    pub id: i64,
    prepared: zstd::zstd_safe::CDict<'static>,
}

#[cfg(test)]
impl Dictionary {
    /// `None` when zstd cannot use `data` (a damaged row).
    pub(crate) fn new(id: i64, data: &[u8]) -> Option<Dictionary> {
        Some(Dictionary {
            id,
            prepared: zstd::zstd_safe::CDict::try_create(data, LEVEL)?,
        })
    }
}

/// Each text compressed with `dictionary` (none: plain zstd), or kept as
/// text when that is no longer.
#[cfg(test)]
pub(crate) fn compress(
    dictionary: Option<&Dictionary>,
    texts: Vec<Texts>,
) -> Result<Vec<[Option<Stored>; 3]>> {
    use zstd::zstd_safe::CParameter;
    let mut compressor = zstd::zstd_safe::CCtx::try_create()
        .ok_or_else(|| StoreError::Scan("zstd: no memory for a context".into()))?;
    let id = match dictionary {
        Some(d) => {
            compressor.ref_cdict(&d.prepared).map_err(zstd_code)?;
            d.id
        }
        None => {
            compressor
                .set_parameter(CParameter::CompressionLevel(LEVEL))
                .map_err(zstd_code)?;
            0
        }
    };
    // The dictionary's id is stored before the frame; a checksum would
    // cost 4 bytes a value for what SQLite's own pages already guard.
    for parameter in [
        CParameter::DictIdFlag(false),
        CParameter::ChecksumFlag(false),
    ] {
        compressor.set_parameter(parameter).map_err(zstd_code)?;
    }
    let mut frame = Vec::new();
    let mut one = |text: Option<String>| {
        text.map(|text| compress_one(&mut compressor, id, text, &mut frame))
            .transpose()
    };
    texts
        .into_iter()
        .map(|[attributes, events, links]| Ok([one(attributes)?, one(events)?, one(links)?]))
        .collect()
}

fn zstd_error(err: std::io::Error) -> StoreError {
    StoreError::Scan(format!("zstd: {err}"))
}

#[cfg(test)]
fn zstd_code(code: zstd::zstd_safe::ErrorCode) -> StoreError {
    StoreError::Scan(format!("zstd: {}", zstd::zstd_safe::get_error_name(code)))
}

/// The text compressed under dictionary `id`, or the text itself when
/// that is no longer.
#[cfg(test)]
fn compress_one(
    compressor: &mut zstd::zstd_safe::CCtx<'_>,
    id: i64,
    text: String,
    frame: &mut Vec<u8>,
) -> Result<Stored> {
    if text.len() as u64 > MAX_TEXT {
        return Ok(Stored::Text(text));
    }
    frame.clear();
    frame.reserve(zstd::zstd_safe::compress_bound(text.len()));
    compressor
        .compress2(frame, text.as_bytes())
        .map_err(zstd_code)?;
    let mut out = Vec::with_capacity(frame.len() + 2);
    leb128(&mut out, id as u64);
    out.extend_from_slice(frame);
    Ok(if out.len() < text.len() {
        Stored::Compressed(out)
    } else {
        Stored::Text(text)
    })
}

#[cfg(test)]
fn leb128(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_leb128(data: &[u8]) -> Option<(u64, &[u8])> {
    let mut n = 0u64;
    for (i, &byte) in data.iter().enumerate().take(10) {
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((n, &data[i + 1..]));
        }
    }
    None
}

fn damaged(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("span payload: {what}"))
}

/// A connection's side: decompresses values, loading each dictionary once.
/// Dictionaries a connection keeps ready at most.
const MAX_DICTIONARIES: usize = 8;

pub(crate) struct Reader {
    plain: zstd::bulk::Decompressor<'static>,
    dictionaries: HashMap<i64, zstd::bulk::Decompressor<'static>>,
    /// The last value decoded: a filter that names the attributes twice
    /// (`json_type`, then `json_extract`) decompresses them once.
    last: Option<(Vec<u8>, String)>,
}

impl Reader {
    pub(crate) fn new() -> Result<Reader> {
        Ok(Reader {
            plain: zstd::bulk::Decompressor::new().map_err(zstd_error)?,
            dictionaries: HashMap::new(),
            last: None,
        })
    }

    /// The text stored as `blob`; `dictionary` fetches a dictionary's bytes
    /// by id the first time one is needed.
    pub(crate) fn decode(
        &mut self,
        blob: &[u8],
        dictionary: impl FnOnce(i64) -> Result<Option<Vec<u8>>>,
    ) -> Result<&str> {
        if self
            .last
            .as_ref()
            .is_some_and(|(last, _)| last[..] == *blob)
        {
            return Ok(self.last.as_ref().map_or("", |(_, text)| text));
        }
        let (mut last_blob, last_text) = self.last.take().unwrap_or_default();
        let text = self.decompress(blob, dictionary, last_text.into_bytes())?;
        last_blob.clear();
        last_blob.extend_from_slice(blob);
        Ok(&self.last.insert((last_blob, text)).1)
    }

    /// `blob` decompressed into `text`, whose memory is reused.
    fn decompress(
        &mut self,
        blob: &[u8],
        dictionary: impl FnOnce(i64) -> Result<Option<Vec<u8>>>,
        mut text: Vec<u8>,
    ) -> Result<String> {
        let (id, frame) = read_leb128(blob).ok_or_else(|| damaged("no dictionary id"))?;
        let id = i64::try_from(id).map_err(|_| damaged("dictionary id out of range"))?;
        let size = match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(size)) if size <= MAX_TEXT => size as usize,
            Ok(Some(size)) => return Err(damaged(format!("claims {size} bytes"))),
            Ok(None) | Err(_) => return Err(damaged("not a zstd frame with its size")),
        };
        if id != 0
            && !self.dictionaries.contains_key(&id)
            && self.dictionaries.len() >= MAX_DICTIONARIES
        {
            // A scan over a long history meets many: start over rather
            // than hold each (about 150 KB) for good.
            self.dictionaries.clear();
        }
        let decompressor = if id == 0 {
            &mut self.plain
        } else {
            match self.dictionaries.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let data = dictionary(id)?
                        .ok_or_else(|| damaged(format!("dictionary {id} is missing")))?;
                    e.insert(zstd::bulk::Decompressor::with_dictionary(&data).map_err(zstd_error)?)
                }
            }
        };
        text.clear();
        text.reserve(size);
        let n = decompressor
            .decompress_to_buffer(frame, &mut text)
            .map_err(damaged)?;
        if n != size {
            return Err(damaged("shorter than its frame says"));
        }
        String::from_utf8(text).map_err(|_| damaged("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Attributes, Value};

    fn plain(i: usize) -> Span {
        crate::testing::span(i as u8, i as u8, None, 0, 1, false)
    }

    fn span(i: usize) -> Span {
        let mut span = plain(i);
        span.attributes = Attributes(vec![
            (
                "http.route".into(),
                Value::String(format!("/orders/{}", i % 7)),
            ),
            (
                "app.tenant".into(),
                Value::String(["acme", "hooli", "umbrella"][i % 3].into()),
            ),
            (
                "app.customer_id".into(),
                Value::Int((i * 7919 % 100_003) as i64),
            ),
            (
                "thread.name".into(),
                Value::String(format!("worker-{}", i % 4)),
            ),
        ]);
        span
    }

    fn decode_all(
        reader: &mut Reader,
        values: &[[Option<Stored>; 3]],
        dicts: &HashMap<i64, Vec<u8>>,
    ) -> Vec<Texts> {
        values
            .iter()
            .map(|row| {
                row.each_ref().map(|value| {
                    value.as_ref().map(|value| match value {
                        Stored::Text(text) => text.clone(),
                        Stored::Compressed(blob) => reader
                            .decode(blob, |id| Ok(dicts.get(&id).cloned()))
                            .unwrap()
                            .to_owned(),
                    })
                })
            })
            .collect()
    }

    fn stored_bytes(values: &[[Option<Stored>; 3]]) -> usize {
        values
            .iter()
            .flatten()
            .flatten()
            .map(|v| match v {
                Stored::Text(t) => t.len(),
                Stored::Compressed(b) => b.len(),
            })
            .sum()
    }

    #[test]
    fn values_round_trip_with_and_without_a_dictionary() {
        let spans: Vec<Span> = (0..3000).map(span).collect();
        let mut reader = Reader::new().unwrap();
        let mut dicts = HashMap::new();

        // Without a dictionary: compressed, or kept as text.
        let first = texts(&spans[..100]);
        let plain = compress(None, first.clone()).unwrap();
        assert_eq!(decode_all(&mut reader, &plain, &dicts), first);

        // With a dictionary trained on the spans, as older writers did.
        let rest = texts(&spans[100..]);
        let samples: Vec<&String> = rest.iter().flat_map(|row| row[0].as_ref()).collect();
        let data = zstd::dict::from_samples(&samples, 16 * 1024).expect("a dictionary");
        let dictionary = Dictionary::new(7, &data).expect("usable");
        dicts.insert(7, data);
        let with = compress(Some(&dictionary), rest.clone()).unwrap();
        assert_eq!(decode_all(&mut reader, &with, &dicts), rest);
        let without = compress(None, rest.clone()).unwrap();
        let raw: usize = rest.iter().flatten().flatten().map(String::len).sum();
        assert!(
            stored_bytes(&with) * 3 < raw && stored_bytes(&with) * 2 < stored_bytes(&without),
            "{} bytes with the dictionary, {} without, {raw} raw",
            stored_bytes(&with),
            stored_bytes(&without)
        );
        assert!(with.iter().flatten().flatten().all(|v| match v {
            Stored::Compressed(b) => b[0] == 7,
            Stored::Text(_) => true,
        }));

        // A fresh reader (another connection) fetches the dictionary once.
        let mut fetched = 0;
        let mut other = Reader::new().unwrap();
        for value in with.iter().flatten().flatten() {
            if let Stored::Compressed(blob) = value {
                other
                    .decode(blob, |id| {
                        fetched += 1;
                        Ok(dicts.get(&id).cloned())
                    })
                    .unwrap();
            }
        }
        assert_eq!(fetched, 1);
    }

    #[test]
    fn a_reader_keeps_few_dictionaries_and_refuses_damaged_ones() {
        // Any bytes make a (raw content) dictionary.
        let dicts: HashMap<i64, Vec<u8>> = (1..=MAX_DICTIONARIES as i64 + 3)
            .map(|id| {
                (
                    id,
                    format!("{{\"app.tenant\":\"tenant-{id}\"}}")
                        .repeat(20)
                        .into_bytes(),
                )
            })
            .collect();
        let mut reader = Reader::new().unwrap();
        for round in 0..2 {
            for (&id, data) in &dicts {
                let dictionary = Dictionary::new(id, data).expect("a dictionary");
                let text = format!("{{\"app.tenant\":\"tenant-{id}\",\"round\":{round}}}");
                let values =
                    compress(Some(&dictionary), vec![[Some(text.clone()), None, None]]).unwrap();
                assert!(matches!(values[0][0], Some(Stored::Compressed(_))));
                assert_eq!(decode_all(&mut reader, &values, &dicts)[0][0], Some(text));
                assert!(reader.dictionaries.len() <= MAX_DICTIONARIES);
            }
        }
        // A row that claims to be a trained dictionary (zstd's magic
        // number) but is not: refused, not a panic.
        let mut damaged = 0xEC30_A437u32.to_le_bytes().to_vec();
        damaged.extend([0xff; 64]);
        assert!(Dictionary::new(1, &damaged).is_none());
    }

    #[test]
    fn damaged_values_are_refused() {
        let mut reader = Reader::new().unwrap();
        let values = compress(None, texts(&[span(1)])).unwrap();
        let Some(Stored::Compressed(good)) = &values[0][0] else {
            panic!("compressed: {:?}", values[0][0]);
        };
        let mut cut = good.clone();
        cut.truncate(good.len() - 3);
        let mut unknown = good.clone();
        unknown[0] = 9;
        for (case, blob) in [
            ("empty", vec![]),
            ("id never ends", vec![0x80; 11]),
            ("no frame", vec![0]),
            ("cut short", cut),
            ("unknown dictionary", unknown),
        ] {
            let err = reader.decode(&blob, |_| Ok(None));
            assert!(
                matches!(err, Err(StoreError::Corrupt(_))),
                "{case}: {err:?}"
            );
        }
        // The last value is remembered, and only for the same bytes.
        let text = reader.decode(good, |_| Ok(None)).unwrap().to_owned();
        assert_eq!(reader.decode(good, |_| Ok(None)).unwrap(), text);
        assert!(
            reader
                .decode(&good[..good.len() - 1], |_| Ok(None))
                .is_err()
        );
        assert_eq!(reader.decode(good, |_| Ok(None)).unwrap(), text);
        // Without a checksum a changed byte may decode to other text; it
        // must never panic.
        for i in 0..good.len() {
            let mut changed = good.clone();
            changed[i] ^= 0x5a;
            let _ = reader.decode(&changed, |_| Ok(None));
        }
    }
}
