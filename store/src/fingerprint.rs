//! The key a resource, scope or metric stream is interned under, written
//! into the packs (`details`) before the rows are.

/// Computes fingerprints. FNV-1a: stable across processes and releases,
/// which a std hasher is not, so that every loupe process sharing a
/// database interns the same way.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fingerprints;

impl Fingerprints {
    pub(crate) fn of(&self, text: &str) -> i64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable() {
        // Changing the hash would split every interned resource in existing databases.
        let fingerprints = Fingerprints;
        assert_eq!(fingerprints.of(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
        assert_eq!(fingerprints.of("a"), 0xaf63_dc4c_8601_ec8c_u64 as i64);
    }
}
