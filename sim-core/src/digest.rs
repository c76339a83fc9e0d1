//! Stable 128-bit digests of state, for the explorer's visited set.
//!
//! A type opts in by implementing [`std::hash::Hash`] (usually derived);
//! [`digest`] feeds it to a [`StableHasher`]: SipHash-1-3 with fixed keys,
//! 128 bits out, and every integer written as little-endian bytes of a fixed
//! width (`usize` and `isize` as 64 bits), so a value digests the same on
//! every platform, in every build, in every process. `std`'s `RandomState`
//! is never involved, and no address is hashed.
//!
//! What a derived `Hash` writes for a value (its fields in order, a length
//! before each sequence, a discriminant before each variant) is a
//! canonical encoding of it: two values that compare equal write the same
//! bytes. The bytes of different values differ, so their digests differ
//! but for a 128-bit collision (about 2^-64 for 2^32 states).

use siphasher::sip128::{Hasher128, SipHasher13};
use std::hash::{Hash, Hasher};

/// A digest: 128 bits, shown as 32 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Digest(pub u128);

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// The fixed keys: any constant will do, as long as it never changes.
const KEY: (u64, u64) = (0x6479_6e73_696d_2d31, 0x7374_6174_652d_6432);

/// A hasher whose output depends only on the bytes written and their
/// order, never on the platform: integers are written little-endian, and
/// pointer-sized integers as 64 bits.
#[derive(Clone, Debug)]
pub struct StableHasher {
    /// What was written, hashed in one pass at the end: SipHash costs per
    /// call, and a state is written a few bytes at a time.
    buf: Vec<u8>,
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher::new()
    }
}

impl StableHasher {
    /// A hasher with nothing written.
    pub fn new() -> StableHasher {
        StableHasher {
            buf: Vec::with_capacity(1024),
        }
    }

    /// The 128-bit digest of everything written so far.
    pub fn finish128(&self) -> Digest {
        let mut h = SipHasher13::new_with_keys(KEY.0, KEY.1);
        h.write(&self.buf);
        Digest(h.finish128().as_u128())
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        self.finish128().0 as u64
    }
    fn write(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.buf.push(i);
    }
    fn write_u16(&mut self, i: u16) {
        self.buf.extend_from_slice(&i.to_le_bytes());
    }
    fn write_u32(&mut self, i: u32) {
        self.buf.extend_from_slice(&i.to_le_bytes());
    }
    fn write_u64(&mut self, i: u64) {
        self.buf.extend_from_slice(&i.to_le_bytes());
    }
    fn write_u128(&mut self, i: u128) {
        self.buf.extend_from_slice(&i.to_le_bytes());
    }
    fn write_usize(&mut self, i: usize) {
        self.buf.extend_from_slice(&(i as u64).to_le_bytes());
    }
    fn write_i8(&mut self, i: i8) {
        self.write_u8(i as u8);
    }
    fn write_i16(&mut self, i: i16) {
        self.write_u16(i as u16);
    }
    fn write_i32(&mut self, i: i32) {
        self.write_u32(i as u32);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_i128(&mut self, i: i128) {
        self.write_u128(i as u128);
    }
    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as i64 as u64);
    }
}

/// The stable digest of `value`.
pub fn digest<T: Hash + ?Sized>(value: &T) -> Digest {
    let mut h = StableHasher::new();
    value.hash(&mut h);
    h.finish128()
}

/// Hashes an `f64` by its bits (with `-0.0` as `0.0` and every NaN as one),
/// for types that hold floats and derive the rest.
pub fn hash_f64<H: Hasher>(x: f64, state: &mut H) {
    let x = if x == 0.0 { 0.0 } else { x };
    let bits = if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    };
    state.write_u64(bits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_fixed_across_builds() {
        // Golden values: a changed hasher, key or integer encoding changes
        // them, and so would a platform that wrote integers differently.
        assert_eq!(
            digest(&42u64).to_string(),
            "c1555734617849b123004a87e920c355"
        );
        assert_eq!(
            digest(&(1u32, 2usize, "ab", vec![3u64, 4])).to_string(),
            "a1e85d026f3639070589c9fb5c56c6dd"
        );
    }

    #[test]
    fn usize_digests_as_u64() {
        assert_eq!(digest(&7usize), digest(&7u64));
        assert_eq!(digest(&-7isize), digest(&-7i64));
    }

    #[test]
    fn different_values_digest_differently() {
        assert_ne!(digest(&(1u32, 2u32)), digest(&(2u32, 1u32)));
        assert_ne!(digest(&vec![1u8, 2]), digest(&vec![1u8]));
        assert_ne!(digest("ab"), digest("ba"));
    }
}
