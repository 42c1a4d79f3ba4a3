//! A Bloom filter of the span ids of one pack (`span_packs.span_filter`;
//! docs/adr/0010, 0011). A span id pasted into the search box is
//! looked for in the few packs whose filter may hold it, instead of through
//! an index on span ids: that index's random keys cost PostgreSQL's writers
//! about a third of their time.
//!
//! Format 1: the byte 1, then `m` bits (a multiple of 8, at least 64), bit
//! `j` being bit `j % 8` (least significant first) of byte `1 + j / 8`
//! (the layout PostgreSQL's `get_bit` reads, kept from when filters were
//! asked in SQL; both backends now ask them in Rust). A span id sets the `K`
//! bits `(h1 + i·h2) mod m` for `i` in `0..K`, where `h1` and `h2` are the
//! low and high halves of a 64-bit mix of the id (`probe`), `h2` made odd.
//! Ten bits a span and seven probes: about one pack in a hundred that lacks
//! the id is read anyway.

use crate::model::SpanId;

const FORMAT: u8 = 1;
/// Probes per id.
pub(crate) const K: u64 = 7;
const BITS_PER_ID: usize = 10;
const MIN_BITS: usize = 64;

/// The two halves the probes of `id` are made from, each below 2^32.
pub(crate) fn probe(id: &SpanId) -> (u64, u64) {
    // splitmix64's finaliser: ids from SDKs that count rather than draw
    // at random still spread over the bits.
    let mut z = u64::from_be_bytes(*id).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z & 0xffff_ffff, (z >> 32) | 1)
}

fn bits_of(probe: (u64, u64), m: u64) -> impl Iterator<Item = usize> {
    let (h1, h2) = probe;
    (0..K).map(move |i| ((h1 + i * h2) % m) as usize)
}

/// The filter of these ids.
pub(crate) fn build<'a>(ids: impl ExactSizeIterator<Item = &'a SpanId>) -> Vec<u8> {
    of_probes(ids.map(probe))
}

/// A filter of the same format over any items, each given by its probe
/// (two halves below 2^32, the second odd).
pub(crate) fn of_probes(probes: impl ExactSizeIterator<Item = (u64, u64)>) -> Vec<u8> {
    of_probes_with(probes, BITS_PER_ID)
}

/// As `of_probes`, with `bits` bits an item: the filter's length tells
/// its readers how many there are, so any number reads back alike.
pub(crate) fn of_probes_with(
    probes: impl ExactSizeIterator<Item = (u64, u64)>,
    bits: usize,
) -> Vec<u8> {
    let m = (probes.len() * bits).max(MIN_BITS).div_ceil(8) * 8;
    let mut filter = vec![0u8; 1 + m / 8];
    filter[0] = FORMAT;
    for probe in probes {
        for j in bits_of(probe, m as u64) {
            filter[1 + j / 8] |= 1 << (j % 8);
        }
    }
    filter
}

/// False only when the filter's pack surely lacks `id`; a filter of another
/// format, or damaged, may hold anything.
pub(crate) fn may_contain(filter: &[u8], id: &SpanId) -> bool {
    may_hold(filter, probe(id))
}

/// As `may_contain`, for the item of this probe.
pub(crate) fn may_hold(filter: &[u8], probe: (u64, u64)) -> bool {
    let m = (filter.len().saturating_sub(1) * 8) as u64;
    if filter.first() != Some(&FORMAT) || m < MIN_BITS as u64 {
        return true;
    }
    bits_of(probe, m).all(|j| filter[1 + j / 8] & (1 << (j % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<u64>, salt: u64) -> Vec<SpanId> {
        range
            .map(|n| (n.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ salt).to_be_bytes())
            .collect()
    }

    #[test]
    fn holds_every_id_it_was_built_of() {
        for n in [0, 1, 7, 512, 8192] {
            let members = ids(0..n, 1);
            let filter = build(members.iter());
            assert_eq!(filter[0], FORMAT);
            assert_eq!(filter.len(), 1 + (n as usize * 10).max(64).div_ceil(8));
            assert!(members.iter().all(|id| may_contain(&filter, id)), "{n}");
        }
    }

    #[test]
    fn lets_through_about_one_id_in_a_hundred_it_lacks() {
        // Counting ids too: the mix spreads them.
        for members in [
            ids(0..1000, 1),
            (0..1000u64).map(u64::to_be_bytes).collect(),
        ] {
            let filter = build(members.iter());
            let strangers = ids(1_000_000..1_100_000, 2);
            let passed = strangers
                .iter()
                .filter(|id| may_contain(&filter, id))
                .count();
            assert!(passed < 2_000, "{passed} of 100 000 strangers passed");
        }
    }

    #[test]
    fn a_filter_it_cannot_read_holds_anything() {
        let id = 42u64.to_be_bytes();
        for filter in [&[][..], &[FORMAT][..], &[FORMAT, 0, 0][..], &[2; 20][..]] {
            assert!(may_contain(filter, &id), "{filter:?}");
        }
        assert!(!may_contain(&build([].iter()), &id));
    }

    #[test]
    fn probes_are_pinned() {
        // PostgreSQL's query recomputes the bits from these halves: changing
        // the mix would hide every span of the packs already written.
        assert_eq!(probe(&[0; 8]), (0x7b1d_cdaf, 0xe220_a839));
        let (h1, h2) = probe(&u64::MAX.to_be_bytes());
        assert!(h1 < 1 << 32 && h2 < 1 << 32 && h2 % 2 == 1);
    }
}
