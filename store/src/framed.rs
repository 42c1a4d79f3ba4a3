//! A format byte, then one zstd frame that records the size it holds: how
//! span details and log packs are stored. Pure.

use crate::error::{Result, StoreError};

/// A frame that claims more is damaged: one export holds far less.
const MAX_UNPACKED: u64 = 1 << 31;

/// `plain` compressed behind the byte `format`.
pub(crate) fn seal(format: u8, plain: &[u8], what: &str) -> Result<Vec<u8>> {
    // zstd fails only when memory does.
    let frame = zstd::bulk::compress(plain, 3)
        .map_err(|e| StoreError::Scan(format!("{what}: zstd: {e}")))?;
    Ok([&[format][..], &frame].concat())
}

/// What `seal` compressed, when `data` starts with `format`; `what` names
/// the data in the errors of damaged data.
pub(crate) fn open(data: &[u8], format: u8, what: &str) -> Result<Vec<u8>> {
    let corrupt = |problem: String| StoreError::Corrupt(format!("{what}: {problem}"));
    if data.first() != Some(&format) {
        return Err(corrupt(format!("unknown format {:?}", data.first())));
    }
    let frame = &data[1..];
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) if size <= MAX_UNPACKED => size as usize,
        _ => return Err(corrupt("not a zstd frame of a sane size".into())),
    };
    zstd::bulk::decompress(frame, size).map_err(|e| corrupt(format!("zstd: {e}")))
}
