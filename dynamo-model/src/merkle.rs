//! Merkle trees over a key range (paper §4.7), for anti-entropy.
//!
//! Trees are built from the store when a comparison needs them. A real node
//! keeps them up to date incrementally; in simulated time the two cost the
//! same, and building on demand keeps no state that could go stale.

use crate::ring::Key;
use crate::version::Version;

/// Children per tree node.
pub(crate) const FANOUT: u32 = 4;

/// FNV-1a, 64 bit: a small hash whose output is fixed by its definition,
/// unlike `std`'s `DefaultHasher`, which may change between Rust releases.
pub fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf29ce484222325 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn mix(a: u64, b: u64) -> u64 {
    fnv1a(&b.to_le_bytes(), a)
}

/// A digest of a version set that does not depend on the versions' order.
pub(crate) fn digest(versions: &[Version]) -> u64 {
    versions.iter().fold(0u64, |acc, v| {
        let mut h = fnv1a(v.value.as_bytes(), v.write);
        if v.is_deleted() {
            h = mix(h, 0x7e57_0000_0000_0001);
        }
        for (node, counter) in v.clock.counters() {
            h = mix(
                h,
                u64::from(node.node.0) << 40 ^ u64::from(node.epoch) << 20 ^ counter,
            );
        }
        for (node, counter) in v.clock.extras() {
            h = mix(
                h,
                !(u64::from(node.node.0) << 40 ^ u64::from(node.epoch) << 20 ^ counter),
            );
        }
        h = mix(h, v.stamp.clock_us as u64 ^ u64::from(v.stamp.node.0) << 56);
        acc.wrapping_add(h)
    })
}

/// The leaf a key hashes into.
pub(crate) fn leaf_of(key: &Key, depth: u32) -> u32 {
    (fnv1a(key.name().as_bytes(), 0) % u64::from(FANOUT.pow(depth))) as u32
}

/// A complete tree: `levels[0]` holds the root, `levels[depth]` the leaves.
#[derive(Clone, Debug, PartialEq, Hash)]
pub(crate) struct MerkleTree {
    levels: Vec<Vec<u64>>,
}

impl MerkleTree {
    /// Builds the tree of a range from its keys and their version sets.
    pub(crate) fn build<'a>(
        entries: impl Iterator<Item = (&'a Key, &'a [Version])>,
        depth: u32,
    ) -> MerkleTree {
        let leaves = FANOUT.pow(depth) as usize;
        let mut level = vec![0u64; leaves];
        for (key, versions) in entries {
            if versions.is_empty() {
                continue;
            }
            let h = mix(fnv1a(key.name().as_bytes(), 1), digest(versions));
            let leaf = &mut level[leaf_of(key, depth) as usize];
            *leaf = leaf.wrapping_add(h);
        }
        let mut levels = vec![level];
        while levels.last().expect("non-empty").len() > 1 {
            let below = levels.last().expect("non-empty");
            let above = below
                .chunks(FANOUT as usize)
                .map(|c| c.iter().fold(0, |a, h| mix(a, *h)))
                .collect();
            levels.push(above);
        }
        levels.reverse();
        MerkleTree { levels }
    }

    pub(crate) fn depth(&self) -> u32 {
        (self.levels.len() - 1) as u32
    }

    pub(crate) fn hash(&self, level: u8, index: u32) -> Option<u64> {
        self.levels
            .get(level as usize)?
            .get(index as usize)
            .copied()
    }

    pub(crate) fn root(&self) -> u64 {
        self.levels[0][0]
    }

    /// The children of node `index` at `level`, as (index, hash) pairs at `level + 1`.
    pub(crate) fn children(&self, level: u8, index: u32) -> Vec<(u32, u64)> {
        let below = &self.levels[level as usize + 1];
        (index * FANOUT..(index + 1) * FANOUT)
            .map(|i| (i, below[i as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyScheme;
    use crate::ring::Ring;
    use crate::version::{Actor, VClock};
    use std::sync::Arc;

    fn v(value: &str, counter: u64) -> Version {
        Version::written(
            Arc::from(value),
            &VClock::new(),
            Actor::default(),
            counter,
            0,
            counter,
        )
    }

    // Equal contents give equal roots whatever the insertion order; one changed key changes the
    // root and exactly the path down to its own leaf.
    #[test]
    fn trees_find_the_differing_leaf() {
        let ring = Ring::from_tokens(KeyScheme::Md5, 1, 1, vec![(0, sim_core::NodeId(0))]);
        let keys: Vec<Key> = (0..50)
            .map(|i| ring.key(&format!("key{i}")).unwrap())
            .collect();
        let vals: Vec<Vec<Version>> = (0..50).map(|i| vec![v("x", i + 1)]).collect();
        let a = MerkleTree::build(keys.iter().zip(vals.iter().map(Vec::as_slice)), 3);
        let b = MerkleTree::build(keys.iter().zip(vals.iter().map(Vec::as_slice)).rev(), 3);
        assert_eq!(a, b);
        let mut changed = vals.clone();
        changed[17] = vec![v("y", 99)];
        let c = MerkleTree::build(keys.iter().zip(changed.iter().map(Vec::as_slice)), 3);
        assert_ne!(a.root(), c.root());
        let leaf = leaf_of(&keys[17], 3);
        let differing: Vec<u32> = (0..64).filter(|&i| a.hash(3, i) != c.hash(3, i)).collect();
        assert_eq!(differing, vec![leaf]);
        let level1: Vec<u32> = (0..4).filter(|&i| a.hash(1, i) != c.hash(1, i)).collect();
        assert_eq!(level1, vec![leaf / 16]);
    }
}
