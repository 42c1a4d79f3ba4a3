//! The key a resource, scope or metric stream is interned under, written
//! into the packs (`details`) before the rows are.
//!
//! A keyed SipHash-2-4 of the row's content, the key drawn at random when
//! the database was created (`settings.fingerprint_key`), so that every
//! loupe process sharing a database interns the same way but no sender can
//! craft content whose fingerprint is another's: with a hash anyone can
//! compute (FNV-1a, before ADR 0014), a sender could land its spans under
//! another service's resource.

use siphasher::sip::SipHasher24;

#[derive(Clone)]
pub(crate) struct Fingerprints {
    hasher: SipHasher24,
}

impl Fingerprints {
    pub(crate) fn keyed(key: &[u8; 16]) -> Fingerprints {
        Fingerprints {
            hasher: SipHasher24::new_with_key(key),
        }
    }

    pub(crate) fn of(&self, text: &str) -> i64 {
        self.hasher.hash(text.as_bytes()) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_sip_hash_2_4_of_the_key() {
        // The reference vector of SipHash-2-4 (key 00..0f, empty message):
        // changing the hash would split every interned row of existing
        // databases in two.
        let key: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(Fingerprints::keyed(&key).of(""), 0x726f_db47_dd0e_0e31);
        // Another key, another fingerprint of the same content.
        let other = Fingerprints::keyed(&[7; 16]);
        assert_ne!(other.of("api"), Fingerprints::keyed(&key).of("api"));
        assert_eq!(other.of("api"), Fingerprints::keyed(&[7; 16]).of("api"));
    }
}
