//! Partitioning (paper §4.2, §6.2): a ring of tokens, key placement, and
//! preference lists of distinct physical nodes.

use crate::config::{ClusterConfig, KeyScheme, TokenStrategy};
use md5::{Digest, Md5};
use sim_core::{NodeId, SimRng};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// A key with its ring position computed once. Keys order by (position, name),
/// so the keys of one ring range are contiguous.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Key {
    pos: u64,
    name: Arc<str>,
}

impl Key {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.name)
    }
}

/// Places `key` on a ring of the given scheme, or says why it can't.
pub fn key_position(scheme: &KeyScheme, key: &str) -> Result<u64, String> {
    match scheme {
        KeyScheme::Md5 => {
            let digest = Md5::digest(key.as_bytes());
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            Ok(u64::from_be_bytes(first))
        }
        KeyScheme::Integer { hash_bits } => {
            let slots = 1u64 << hash_bits;
            match key.parse::<u64>() {
                Ok(k) if k < slots => Ok(k),
                _ => Err(format!(
                    "key {key:?} is not an integer in 0..{slots} (the integer key scheme has 2^{hash_bits} slots)"
                )),
            }
        }
    }
}

/// The ring: tokens sorted by position, and for each token the walk of
/// distinct physical nodes clockwise from it.
#[derive(Clone, Debug)]
pub struct Ring {
    scheme: KeyScheme,
    nodes: u32,
    /// (position, owner), sorted by position. A token owns the keys in (previous token, its position].
    tokens: Vec<(u64, NodeId)>,
    /// For each token index: every node, distinct, in clockwise order from that token.
    walks: Vec<Vec<NodeId>>,
}

fn space_bits(scheme: &KeyScheme) -> u32 {
    match scheme {
        KeyScheme::Md5 => 64,
        KeyScheme::Integer { hash_bits } => *hash_bits,
    }
}

/// The position of the last slot of partition `i` of `q` equal partitions on a 2^bits ring.
fn partition_end(i: u32, q: u32, bits: u32) -> u64 {
    let space = 1u128 << bits;
    ((u128::from(i) + 1) * space / u128::from(q) - 1) as u64
}

impl Ring {
    /// Builds the ring the configuration describes, drawing random choices from `rng`.
    /// The configuration must have passed [`ClusterConfig::validate`].
    pub fn build(cfg: &ClusterConfig, rng: &mut SimRng) -> Ring {
        let bits = space_bits(&cfg.key_scheme);
        let mut tokens = Vec::new();
        match &cfg.tokens {
            TokenStrategy::Random { tokens_per_node } => {
                let mut used = BTreeSet::new();
                for node in 0..cfg.nodes {
                    for _ in 0..*tokens_per_node {
                        let pos = loop {
                            let p = if bits == 64 {
                                rng.next_u64()
                            } else {
                                rng.below(1 << bits)
                            };
                            if used.insert(p) {
                                break p;
                            }
                        };
                        tokens.push((pos, NodeId(node)));
                    }
                }
            }
            TokenStrategy::EqualPartitions { partitions } => {
                let mut order: Vec<u32> = (0..*partitions).collect();
                rng.shuffle(&mut order);
                for (j, p) in order.into_iter().enumerate() {
                    let owner = NodeId(j as u32 % cfg.nodes);
                    tokens.push((partition_end(p, *partitions, bits), owner));
                }
            }
            TokenStrategy::Explicit { tokens: per_node } => {
                let q: u32 = per_node.iter().map(|t| t.len() as u32).sum();
                for (node, ts) in per_node.iter().enumerate() {
                    for &p in ts {
                        tokens.push((partition_end(p, q, bits), NodeId(node as u32)));
                    }
                }
            }
        }
        let mut ring = Ring::from_tokens(cfg.key_scheme.clone(), cfg.nodes, tokens);
        if cfg.bug == Some(crate::config::Bug::DuplicateReplicas) {
            // The injected bug: walks list token owners without skipping repeats.
            let t = ring.tokens.len();
            ring.walks = (0..t)
                .map(|start| (0..t).map(|k| ring.tokens[(start + k) % t].1).collect())
                .collect();
        }
        ring
    }

    /// Builds a ring from explicit (position, owner) tokens.
    pub fn from_tokens(scheme: KeyScheme, nodes: u32, mut tokens: Vec<(u64, NodeId)>) -> Ring {
        tokens.sort();
        let t = tokens.len();
        let walks = (0..t)
            .map(|start| {
                let mut seen = vec![false; nodes as usize];
                let mut walk = Vec::with_capacity(nodes as usize);
                for k in 0..t {
                    let owner = tokens[(start + k) % t].1;
                    if !seen[owner.index()] {
                        seen[owner.index()] = true;
                        walk.push(owner);
                        if walk.len() == nodes as usize {
                            // Every node is listed; the rest of the ring adds none.
                            break;
                        }
                    }
                }
                walk
            })
            .collect();
        Ring {
            scheme,
            nodes,
            tokens,
            walks,
        }
    }

    pub fn scheme(&self) -> &KeyScheme {
        &self.scheme
    }

    pub fn node_count(&self) -> u32 {
        self.nodes
    }

    pub fn tokens(&self) -> &[(u64, NodeId)] {
        &self.tokens
    }

    /// Makes a [`Key`], or says why the name is not a valid key for this ring.
    pub fn key(&self, name: &str) -> Result<Key, String> {
        Ok(Key {
            pos: key_position(&self.scheme, name)?,
            name: Arc::from(name),
        })
    }

    /// The index of the token that owns `pos`: the first at or after it, clockwise.
    pub fn token_for(&self, pos: u64) -> usize {
        let i = self.tokens.partition_point(|(p, _)| *p < pos);
        if i == self.tokens.len() { 0 } else { i }
    }

    /// Every node, distinct, clockwise from the key's token: the first N are
    /// the preference list, the rest are the fallbacks in order.
    pub fn walk(&self, key: &Key) -> &[NodeId] {
        &self.walks[self.token_for(key.pos)]
    }

    /// The preference list: the first `n` distinct physical nodes clockwise from the key.
    pub fn preference_list(&self, key: &Key, n: usize) -> &[NodeId] {
        let w = self.walk(key);
        &w[..n.min(w.len())]
    }

    /// The number of key ranges (one per token).
    pub fn range_count(&self) -> usize {
        self.tokens.len()
    }

    /// The range (token index) a key belongs to.
    pub fn range_of(&self, key: &Key) -> usize {
        self.token_for(key.pos)
    }

    /// The replicas of range `r`: the first `n` nodes of its walk.
    pub fn range_replicas(&self, r: usize, n: usize) -> &[NodeId] {
        let w = &self.walks[r];
        &w[..n.min(w.len())]
    }

    /// The share of the key space each node owns as the first replica (its
    /// tokens' ranges), as fractions summing to 1.
    pub fn ownership(&self) -> Vec<f64> {
        let bits = space_bits(&self.scheme);
        let space = (1u128 << bits) as f64;
        let mut share = vec![0.0; self.nodes as usize];
        let t = self.tokens.len();
        for i in 0..t {
            let (pos, owner) = self.tokens[i];
            let prev = self.tokens[(i + t - 1) % t].0;
            let width = if t == 1 {
                space
            } else if pos > prev {
                (pos - prev) as f64
            } else {
                space - (prev - pos) as f64
            };
            share[owner.index()] += width / space;
        }
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::Stream;

    fn seed_ring() -> Ring {
        let cfg = ClusterConfig {
            nodes: 4,
            key_scheme: KeyScheme::Integer { hash_bits: 3 },
            tokens: TokenStrategy::Explicit {
                tokens: vec![vec![1], vec![2], vec![3], vec![0]],
            },
            ..ClusterConfig::default()
        };
        assert!(cfg.validate().is_empty());
        Ring::build(&cfg, &mut SimRng::new(0, Stream::Setup))
    }

    // The seed project's test ring gives key 2 the list [n0, n1, n2] and first fallback n3.
    #[test]
    fn seed_test_ring() {
        let ring = seed_ring();
        let k = ring.key("2").unwrap();
        assert_eq!(
            ring.preference_list(&k, 3),
            [NodeId(0), NodeId(1), NodeId(2)]
        );
        assert_eq!(ring.walk(&k)[3], NodeId(3));
        // 2 keys per token: keys 0 and 1 belong to n3's token 0, 6 and 7 to n2's token 3.
        let first = |name: &str| ring.preference_list(&ring.key(name).unwrap(), 1)[0];
        assert_eq!(
            [first("0"), first("1"), first("3"), first("5"), first("7")],
            [3, 3, 0, 1, 2].map(NodeId)
        );
        assert!(ring.key("8").unwrap_err().contains("0..8"));
        assert!(ring.key("two").is_err());
    }

    // Over many random rings of every strategy, every walk names each node exactly once.
    #[test]
    fn walks_are_distinct_over_many_rings() {
        for seed in 0..200u64 {
            let nodes = 1 + (seed % 12) as u32;
            let strategies = [
                TokenStrategy::Random {
                    tokens_per_node: 1 + (seed % 5) as u32,
                },
                TokenStrategy::EqualPartitions {
                    partitions: (nodes * (1 + (seed % 4) as u32)).next_power_of_two(),
                },
            ];
            for tokens in strategies {
                for key_scheme in [KeyScheme::Md5, KeyScheme::Integer { hash_bits: 10 }] {
                    let cfg = ClusterConfig {
                        nodes,
                        n: nodes.min(3),
                        r: 1,
                        w: 1,
                        key_scheme,
                        tokens: tokens.clone(),
                        ..ClusterConfig::default()
                    };
                    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
                    let ring = Ring::build(&cfg, &mut SimRng::new(seed, Stream::Setup));
                    for r in 0..ring.range_count() {
                        let walk = ring.range_replicas(r, nodes as usize);
                        let set: BTreeSet<_> = walk.iter().collect();
                        assert_eq!(
                            set.len(),
                            nodes as usize,
                            "seed {seed}: walk {walk:?} repeats a node"
                        );
                    }
                    let owned: f64 = ring.ownership().iter().sum();
                    assert!((owned - 1.0).abs() < 1e-9);
                }
            }
        }
    }

    // MD5 placement uses the first 8 bytes of the digest, big-endian.
    #[test]
    fn md5_position() {
        // MD5("") = d41d8cd98f00b204 e9800998ecf8427e
        assert_eq!(
            key_position(&KeyScheme::Md5, "").unwrap(),
            0xd41d8cd98f00b204
        );
    }

    // S3 deals Q equal partitions so every node owns the same share of the ring.
    #[test]
    fn equal_partitions_balance_exactly() {
        let cfg = ClusterConfig {
            nodes: 8,
            tokens: TokenStrategy::EqualPartitions { partitions: 16 },
            ..ClusterConfig::default()
        };
        let ring = Ring::build(&cfg, &mut SimRng::new(3, Stream::Setup));
        for share in ring.ownership() {
            assert!((share - 1.0 / 8.0).abs() < 1e-9);
        }
    }
}
