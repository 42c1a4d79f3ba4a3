//! SQLite's span payloads (attributes, events and links as JSON, the bulk
//! of a span) compressed one value at a time with zstd and a dictionary
//! trained on the database's own spans (docs/adr/0008). Neighbouring spans
//! repeat keys and most values, so a dictionary of them takes a typical
//! 450-byte attribute object to about 70 bytes, while every value still
//! decompresses alone: whole-span reads and the trace search's attribute
//! filters stay row by row, through the SQL function `loupe_text`
//! (`sqlite_scan`) in the view `span_rows`.
//!
//! A stored value is either the JSON text itself (when compressing would
//! not shrink it, and every value written before compression existed) or a
//! blob: the LEB128 id of its dictionary in `payload_dicts` (0: none) and
//! one zstd frame that records its decompressed size.

use std::collections::HashMap;

use crate::model::Span;
use crate::{Result, StoreError};

const LEVEL: i32 = 3;
/// Larger dictionaries compressed the benchmark's spans no better.
const DICT_BYTES: usize = 16 * 1024;
/// Texts (attribute objects, event lists) a dictionary is trained on; with
/// fewer, or fewer than `MIN_SAMPLE_BYTES`, training waits for more spans.
const MIN_SAMPLES: usize = 2048;
const MIN_SAMPLE_BYTES: usize = 8 * DICT_BYTES;
/// Collection stops here and trains with what it has.
const MAX_SAMPLES: usize = 8192;
const MAX_SAMPLE_BYTES: usize = 4 << 20;
/// Spans written between two dictionaries at most (see `next_training`).
const RETRAIN_EVERY: u64 = 1_000_000;
/// A frame claiming more is damaged: no payload is larger than a request.
const MAX_TEXT: u64 = 64 << 20;

/// When the dictionary trained after `at` spans is replaced: soon while the
/// database is young (what its services send is still settling: a new
/// dictionary at ten times the spans), then every `RETRAIN_EVERY` spans, so
/// a service added later is learnt and the dictionaries stay few.
pub(crate) fn next_training(at: u64) -> u64 {
    at.saturating_mul(10).clamp(
        at.saturating_add(MIN_SAMPLES as u64),
        at.saturating_add(RETRAIN_EVERY),
    )
}

/// A span's three payload values as bound to `spans_payload`.
#[derive(Debug, PartialEq)]
pub(crate) enum Stored {
    Text(String),
    Compressed(Vec<u8>),
}

/// A dictionary trained for a batch, written in the batch's transaction and
/// used by the writer from its commit on.
pub(crate) struct NewDictionary {
    pub id: i64,
    /// Spans written when it was trained.
    pub spans: u64,
    pub data: Vec<u8>,
    compressor: zstd::bulk::Compressor<'static>,
}

/// A batch's payloads, ready to bind.
pub(crate) struct Encoded {
    /// Per span: attributes, events, links.
    pub values: Vec<[Option<Stored>; 3]>,
    pub dictionary: Option<NewDictionary>,
}

struct Current {
    id: i64,
    compressor: zstd::bulk::Compressor<'static>,
}

/// The writer's side: compresses each batch's payloads and trains the
/// dictionaries. Its state moves on only when a batch is committed.
pub(crate) struct Writer {
    current: Option<Current>,
    plain: zstd::bulk::Compressor<'static>,
    written: u64,
    /// Spans written when samples start being collected again.
    collect_from: u64,
    samples: Vec<String>,
    sample_bytes: usize,
}

fn compressor(dictionary: &[u8]) -> Result<zstd::bulk::Compressor<'static>> {
    let mut c = zstd::bulk::Compressor::with_dictionary(LEVEL, dictionary).map_err(zstd_error)?;
    // The dictionary's id is stored before the frame; a checksum would
    // cost 4 bytes a value for what SQLite's own pages already guard.
    c.set_parameter(zstd::zstd_safe::CParameter::DictIdFlag(false))
        .map_err(zstd_error)?;
    c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(false))
        .map_err(zstd_error)?;
    Ok(c)
}

fn zstd_error(err: std::io::Error) -> StoreError {
    StoreError::Scan(format!("zstd: {err}"))
}

impl Writer {
    /// `latest`: the newest stored dictionary (id, spans when trained,
    /// bytes); `written`: the spans stored so far.
    pub(crate) fn new(latest: Option<(i64, u64, Vec<u8>)>, written: u64) -> Result<Writer> {
        let (current, collect_from) = match latest {
            Some((id, spans, data)) => (
                Some(Current {
                    id,
                    compressor: compressor(&data)?,
                }),
                next_training(spans),
            ),
            None => (None, 0),
        };
        Ok(Writer {
            current,
            plain: compressor(&[])?,
            written,
            collect_from,
            samples: Vec::new(),
            sample_bytes: 0,
        })
    }

    pub(crate) fn encode(&mut self, spans: &[Span]) -> Result<Encoded> {
        let texts: Vec<[Option<String>; 3]> = spans
            .iter()
            .map(|s| {
                [
                    Some(s.attributes.to_json_string()),
                    crate::rows::json_list(&s.events),
                    crate::rows::json_list(&s.links),
                ]
            })
            .collect();
        let mut dictionary = self.train(&texts)?;
        let (id, compressor) = match (&mut dictionary, &mut self.current) {
            (Some(new), _) => (new.id, &mut new.compressor),
            (None, Some(current)) => (current.id, &mut current.compressor),
            (None, None) => (0, &mut self.plain),
        };
        let mut frame = Vec::new();
        let mut values = Vec::with_capacity(texts.len());
        for [attributes, events, links] in texts {
            let mut one = |text: Option<String>| {
                text.map(|text| compress(compressor, id, text, &mut frame))
                    .transpose()
            };
            values.push([one(attributes)?, one(events)?, one(links)?]);
        }
        Ok(Encoded { values, dictionary })
    }

    /// After the batch's commit: its dictionary, if any, compresses from now on.
    pub(crate) fn committed(&mut self, spans: usize, dictionary: Option<NewDictionary>) {
        self.written += spans as u64;
        if let Some(new) = dictionary {
            self.collect_from = next_training(new.spans);
            self.current = Some(Current {
                id: new.id,
                compressor: new.compressor,
            });
        }
    }

    /// Collects samples while a dictionary is due and trains one once
    /// there are enough. A failed training (texts too few or too alike to
    /// learn from) waits `RETRAIN_EVERY` spans before trying again.
    fn train(&mut self, texts: &[[Option<String>; 3]]) -> Result<Option<NewDictionary>> {
        if self.written < self.collect_from {
            return Ok(None);
        }
        for text in texts.iter().flat_map(|row| row[..2].iter().flatten()) {
            if self.samples.len() >= MAX_SAMPLES || self.sample_bytes >= MAX_SAMPLE_BYTES {
                break;
            }
            self.sample_bytes += text.len();
            self.samples.push(text.clone());
        }
        let full = self.samples.len() >= MAX_SAMPLES || self.sample_bytes >= MAX_SAMPLE_BYTES;
        let enough = self.samples.len() >= MIN_SAMPLES && self.sample_bytes >= MIN_SAMPLE_BYTES;
        if !full && !enough {
            return Ok(None);
        }
        let trained = zstd::dict::from_samples(&self.samples, DICT_BYTES);
        self.samples = Vec::new();
        self.sample_bytes = 0;
        let spans = self.written + texts.len() as u64;
        match trained {
            Ok(data) => Ok(Some(NewDictionary {
                id: self.current.as_ref().map_or(1, |c| c.id + 1),
                spans,
                compressor: compressor(&data)?,
                data,
            })),
            Err(err) => {
                tracing::debug!(error = %err, "no payload dictionary from these spans");
                self.collect_from = spans + RETRAIN_EVERY;
                Ok(None)
            }
        }
    }
}

/// The text compressed under dictionary `id`, or the text itself when
/// that is no longer.
fn compress(
    compressor: &mut zstd::bulk::Compressor<'static>,
    id: i64,
    text: String,
    frame: &mut Vec<u8>,
) -> Result<Stored> {
    frame.clear();
    frame.reserve(zstd::zstd_safe::compress_bound(text.len()));
    compressor
        .compress_to_buffer(text.as_bytes(), frame)
        .map_err(zstd_error)?;
    let mut out = Vec::with_capacity(frame.len() + 2);
    leb128(&mut out, id as u64);
    out.extend_from_slice(frame);
    Ok(if out.len() < text.len() {
        Stored::Compressed(out)
    } else {
        Stored::Text(text)
    })
}

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
pub(crate) struct Reader {
    plain: zstd::bulk::Decompressor<'static>,
    dictionaries: HashMap<i64, zstd::bulk::Decompressor<'static>>,
}

impl Reader {
    pub(crate) fn new() -> Result<Reader> {
        Ok(Reader {
            plain: zstd::bulk::Decompressor::new().map_err(zstd_error)?,
            dictionaries: HashMap::new(),
        })
    }

    /// The text stored as `blob`; `dictionary` fetches a dictionary's bytes
    /// by id the first time one is needed.
    pub(crate) fn decode(
        &mut self,
        blob: &[u8],
        dictionary: impl FnOnce(i64) -> Result<Option<Vec<u8>>>,
    ) -> Result<String> {
        let (id, frame) = read_leb128(blob).ok_or_else(|| damaged("no dictionary id"))?;
        let id = i64::try_from(id).map_err(|_| damaged("dictionary id out of range"))?;
        let size = match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(size)) if size <= MAX_TEXT => size as usize,
            Ok(Some(size)) => return Err(damaged(format!("claims {size} bytes"))),
            Ok(None) | Err(_) => return Err(damaged("not a zstd frame with its size")),
        };
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
        let mut text = Vec::with_capacity(size);
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
        crate::rows::tests::span(i as u8, i as u8, None, 0, 1, false)
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
        encoded: &Encoded,
        dicts: &HashMap<i64, Vec<u8>>,
    ) -> Vec<[Option<String>; 3]> {
        encoded
            .values
            .iter()
            .map(|row| {
                row.each_ref().map(|value| {
                    value.as_ref().map(|value| match value {
                        Stored::Text(text) => text.clone(),
                        Stored::Compressed(blob) => reader
                            .decode(blob, |id| Ok(dicts.get(&id).cloned()))
                            .unwrap(),
                    })
                })
            })
            .collect()
    }

    fn expected(spans: &[Span]) -> Vec<[Option<String>; 3]> {
        spans
            .iter()
            .map(|s| {
                [
                    Some(s.attributes.to_json_string()),
                    crate::rows::json_list(&s.events),
                    crate::rows::json_list(&s.links),
                ]
            })
            .collect()
    }

    #[test]
    fn training_schedule() {
        for (at, next) in [
            (0, 2048),
            (2048, 20_480),
            (20_480, 204_800),
            (204_800, 1_204_800),
            (5_000_000, 6_000_000),
            (u64::MAX - 1, u64::MAX),
        ] {
            assert_eq!(next_training(at), next, "after {at}");
        }
    }

    #[test]
    fn values_round_trip_before_and_after_a_dictionary() {
        let mut writer = Writer::new(None, 0).unwrap();
        let mut reader = Reader::new().unwrap();
        let mut dicts = HashMap::new();
        let spans: Vec<Span> = (0..3000).map(span).collect();

        // Too few texts to learn from: compressed without a dictionary, or kept as text.
        let first = writer.encode(&spans[..100]).unwrap();
        assert!(first.dictionary.is_none());
        assert_eq!(
            decode_all(&mut reader, &first, &dicts),
            expected(&spans[..100])
        );
        writer.committed(100, first.dictionary);

        // Enough: this batch trains dictionary 1 and is compressed with it.
        let second = writer.encode(&spans[100..]).unwrap();
        let new = second.dictionary.as_ref().expect("a dictionary");
        assert_eq!((new.id, new.spans), (1, 3000));
        dicts.insert(new.id, new.data.clone());
        assert_eq!(
            decode_all(&mut reader, &second, &dicts),
            expected(&spans[100..])
        );
        let raw: usize = expected(&spans[100..])
            .iter()
            .flatten()
            .flatten()
            .map(String::len)
            .sum();
        let stored: usize = second
            .values
            .iter()
            .flatten()
            .flatten()
            .map(|v| match v {
                Stored::Text(t) => t.len(),
                Stored::Compressed(b) => b.len(),
            })
            .sum();
        assert!(stored * 3 < raw, "{stored} bytes stored for {raw}");
        writer.committed(2900, second.dictionary);

        // Not due again until 30 000 spans: later batches use dictionary 1.
        let third = writer.encode(&spans[..10]).unwrap();
        assert!(third.dictionary.is_none());
        assert!(third.values.iter().flatten().flatten().all(|v| match v {
            Stored::Compressed(b) => b[0] == 1,
            Stored::Text(_) => true,
        }));
        // A fresh reader (another connection) fetches the dictionary once.
        let mut fetched = 0;
        let mut other = Reader::new().unwrap();
        for value in third.values.iter().flatten().flatten() {
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
    fn a_restarted_writer_continues_with_the_newest_dictionary() {
        let mut writer = Writer::new(None, 0).unwrap();
        let spans: Vec<Span> = (0..3000).map(span).collect();
        let encoded = writer.encode(&spans).unwrap();
        let new = encoded.dictionary.unwrap();
        let mut writer = Writer::new(Some((new.id, new.spans, new.data.clone())), 3000).unwrap();
        let encoded = writer.encode(&spans[..10]).unwrap();
        assert!(encoded.dictionary.is_none());
        let mut reader = Reader::new().unwrap();
        let dicts = HashMap::from([(1, new.data)]);
        assert_eq!(
            decode_all(&mut reader, &encoded, &dicts),
            expected(&spans[..10])
        );
    }

    #[test]
    fn tiny_texts_stay_text_and_training_is_not_retried_each_batch() {
        let mut writer = Writer::new(None, 0).unwrap();
        let spans: Vec<Span> = (0..9000).map(plain).collect();
        let encoded = writer.encode(&spans).unwrap();
        assert!(
            encoded
                .values
                .iter()
                .all(|row| row == &[Some(Stored::Text("{}".into())), None, None])
        );
        writer.committed(spans.len(), encoded.dictionary);
        assert!(writer.samples.is_empty());
        assert!(writer.collect_from > 9000, "{}", writer.collect_from);
    }

    #[test]
    fn damaged_values_are_refused() {
        let mut reader = Reader::new().unwrap();
        let mut writer = Writer::new(None, 0).unwrap();
        let encoded = writer.encode(&[span(1)]).unwrap();
        let Some(Stored::Compressed(good)) = &encoded.values[0][0] else {
            panic!("compressed: {:?}", encoded.values[0][0]);
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
        assert!(reader.decode(good, |_| Ok(None)).is_ok());
        // Without a checksum a changed byte may decode to other text; it
        // must never panic.
        for i in 0..good.len() {
            let mut changed = good.clone();
            changed[i] ^= 0x5a;
            let _ = reader.decode(&changed, |_| Ok(None));
        }
    }
}
