//! A map from state digests to small values: open addressing with linear
//! probing, kept at most half full. Digests are already uniform, so their
//! low bits are the slot; the table's order never shows (nothing iterates it).

use sim_core::digest::Digest;

/// Digest to `u32`.
pub(crate) struct DigestMap {
    keys: Vec<u128>,
    values: Vec<u32>,
    len: usize,
}

/// The empty slot's key; a digest of 0 is stored as 1 (a collision of 2^-127).
const EMPTY: u128 = 0;

impl DigestMap {
    pub(crate) fn new() -> DigestMap {
        DigestMap {
            keys: vec![EMPTY; 1024],
            values: vec![0; 1024],
            len: 0,
        }
    }

    fn key(d: Digest) -> u128 {
        if d.0 == EMPTY { 1 } else { d.0 }
    }

    fn slot(&self, k: u128) -> usize {
        let mask = self.keys.len() - 1;
        let mut i = (k as usize) & mask;
        while self.keys[i] != EMPTY && self.keys[i] != k {
            i = (i + 1) & mask;
        }
        i
    }

    pub(crate) fn get(&self, d: Digest) -> Option<u32> {
        let i = self.slot(Self::key(d));
        (self.keys[i] != EMPTY).then(|| self.values[i])
    }

    pub(crate) fn insert(&mut self, d: Digest, v: u32) {
        if (self.len + 1) * 2 > self.keys.len() {
            self.grow();
        }
        let k = Self::key(d);
        let i = self.slot(k);
        if self.keys[i] == EMPTY {
            self.len += 1;
            self.keys[i] = k;
        }
        self.values[i] = v;
    }

    fn grow(&mut self) {
        let cap = self.keys.len() * 2;
        let keys = std::mem::replace(&mut self.keys, vec![EMPTY; cap]);
        let values = std::mem::replace(&mut self.values, vec![0; cap]);
        for (k, v) in keys.into_iter().zip(values) {
            if k != EMPTY {
                let i = self.slot(k);
                self.keys[i] = k;
                self.values[i] = v;
            }
        }
    }

    /// Bytes the table holds.
    pub(crate) fn bytes(&self) -> u64 {
        (self.keys.len() * 20) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_is_given() {
        let mut m = DigestMap::new();
        for i in 0..5_000u128 {
            m.insert(
                Digest(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)),
                i as u32,
            );
        }
        for i in 0..5_000u128 {
            let d = Digest(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
            assert_eq!(m.get(d), Some(i as u32));
        }
        assert_eq!(m.get(Digest(12345)), None);
        m.insert(Digest(0), 7);
        assert_eq!(m.get(Digest(0)), Some(7));
    }
}
