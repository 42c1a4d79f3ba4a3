//! Hostile input, generated: whatever bytes arrive, decoding and
//! normalising answer with an export or an error, never a panic. Property tests stand in for a fuzzer (which
//! needs a nightly toolchain): random bytes, and ordinary exports with bytes
//! flipped, cut, repeated or inserted, so that most cases get past the
//! outer framing into the decoders' corners. Failing cases are kept under
//! `proptest-regressions/` and replayed first on every run.

use bytes::Bytes;
use collector::decode::{self, DecodeError, Encoding, Kind};
use collector::normalize::{self, Rules};
use collector::otlp_json::{self, JsonError};
use proptest::prelude::*;
use prost::Message;

mod fixtures;
use fixtures::{json_logs, json_traces, logs, metrics, traces};

/// A small budget: what the walk lets through decodes cheaply.
const BUDGET: usize = 8 << 20;

fn decode_and_normalise<T: Message + Default>(
    body: &[u8],
    encoding: Encoding,
    kind: &'static Kind,
    json: fn(&[u8]) -> Result<T, JsonError>,
    normalise: fn(T, &Rules) -> normalize::Normalized,
) {
    match decode::decode(Bytes::copy_from_slice(body), encoding, kind, json, BUDGET) {
        Ok(request) => {
            normalise(request, &Rules::default());
        }
        Err(DecodeError::TooLarge(_) | DecodeError::Invalid(_)) => {}
    }
}

fn every_signal(body: &[u8], encoding: Encoding) {
    decode_and_normalise(
        body,
        encoding,
        &decode::TRACES,
        otlp_json::decode_traces,
        normalize::traces,
    );
    decode_and_normalise(
        body,
        encoding,
        &decode::LOGS,
        otlp_json::decode_logs,
        normalize::logs,
    );
    decode_and_normalise(
        body,
        encoding,
        &decode::METRICS,
        otlp_json::decode_metrics,
        normalize::metrics,
    );
}

/// Ordinary exports of every signal, the seeds the mutations start from.
fn seeds(encoding: Encoding) -> Vec<Vec<u8>> {
    match encoding {
        Encoding::Protobuf => vec![
            traces(3).encode_to_vec(),
            logs(3).encode_to_vec(),
            metrics(2).encode_to_vec(),
        ],
        Encoding::Json => vec![
            json_traces(2).to_string().into_bytes(),
            json_logs(2).to_string().into_bytes(),
        ],
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    Repeat(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bits)| Edit::Flip(at, bits)),
        any::<usize>().prop_map(Edit::Cut),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Edit::Repeat(at, len)),
    ]
}

fn mutate(mut body: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = body.len().max(1);
        match edit {
            Edit::Flip(at, bits) => {
                if let Some(byte) = body.get_mut(at % len) {
                    *byte ^= bits;
                }
            }
            Edit::Cut(at) => body.truncate(at % len),
            Edit::Insert(at, bytes) => {
                let at = (at % len).min(body.len());
                body.splice(at..at, bytes.iter().copied());
            }
            Edit::Repeat(at, n) => {
                let at = (at % len).min(body.len());
                let end = (at + n).min(body.len());
                let piece = body[at..end].to_vec();
                body.splice(at..at, piece.iter().copied().cycle().take(piece.len() * 8));
            }
        }
    }
    body
}

/// Whether the real decoder takes a body.
type Decodes = fn(&[u8]) -> bool;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        every_signal(&body, Encoding::Protobuf);
        every_signal(&body, Encoding::Json);
    }

    #[test]
    fn edited_protobuf_exports_never_panic(
        seed in 0usize..3,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let body = mutate(seeds(Encoding::Protobuf).swap_remove(seed), &edits);
        every_signal(&body, Encoding::Protobuf);
    }

    #[test]
    fn edited_json_exports_never_panic(
        seed in 0usize..2,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let body = mutate(seeds(Encoding::Json).swap_remove(seed), &edits);
        every_signal(&body, Encoding::Json);
    }

    /// The walk's estimate holds for whatever the decoder accepts: decoding
    /// never succeeds on a body the walk refused as broken.
    #[test]
    fn the_walk_refuses_only_what_the_decoder_refuses(
        seed in 0usize..3,
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let body = mutate(seeds(Encoding::Protobuf).swap_remove(seed), &edits);
        let kinds: [(&'static Kind, Decodes); 3] = [
            (&decode::TRACES, |b| opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(b).is_ok()),
            (&decode::LOGS, |b| opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest::decode(b).is_ok()),
            (&decode::METRICS, |b| opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest::decode(b).is_ok()),
        ];
        for (kind, decodes) in kinds {
            if let Err(DecodeError::Invalid(why)) = decode::protobuf_cost(&body, kind, usize::MAX) {
                prop_assert!(!decodes(&body), "the walk refused ({why}) what the decoder takes");
            }
        }
    }
}
