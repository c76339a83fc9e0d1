//! How a ring changes when a node joins or leaves (§4.9 with the token
//! strategies of §6.2), and what moves: which pieces of the key space change
//! their replica sets, how much data must be copied, and how many existing
//! ranges a change splits. Pure functions of rings, for `dynsim ring` and the
//! join-cost experiment.

use crate::config::{ClusterConfig, TokenStrategy};
use crate::ring::{Key, Ring};
use sim_core::{NodeId, SimRng};
use std::collections::{BTreeMap, BTreeSet};

/// The token positions a node joining a ring of `current` tokens takes.
/// S1 (random tokens): as many random positions as every node has, none of
/// `taken`. S3 and explicit partitions: whole partitions, taken one at a time
/// from a node holding the most (ties at random) until the new node holds its
/// share, Q / (members + 1); no partition is split. The simulated join
/// (`DynamoNode`) and [`joined`] both pick with this.
pub fn pick_tokens(
    cfg: &ClusterConfig,
    current: &[(u64, NodeId)],
    taken: &BTreeSet<u64>,
    rng: &mut SimRng,
) -> Vec<u64> {
    match &cfg.tokens {
        TokenStrategy::Random { tokens_per_node } => {
            let bits = crate::ring::space_bits(&cfg.key_scheme);
            let mut mine = BTreeSet::new();
            while mine.len() < *tokens_per_node as usize {
                let p = crate::ring::random_position(bits, rng);
                if !taken.contains(&p) {
                    mine.insert(p);
                }
            }
            mine.into_iter().collect()
        }
        TokenStrategy::EqualPartitions { .. } | TokenStrategy::Explicit { .. } => {
            let mut owned: BTreeMap<NodeId, Vec<u64>> = BTreeMap::new();
            for &(p, o) in current {
                owned.entry(o).or_default().push(p);
            }
            let share = current.len() / (owned.len() + 1);
            let mut mine = Vec::new();
            for _ in 0..share {
                let most = owned.values().map(Vec::len).max().unwrap_or(0);
                if most == 0 {
                    break;
                }
                let richest: Vec<NodeId> = owned
                    .iter()
                    .filter(|(_, v)| v.len() == most)
                    .map(|(&n, _)| n)
                    .collect();
                let from = richest[rng.index(richest.len())];
                let theirs = owned.get_mut(&from).expect("a richest node");
                let i = rng.index(theirs.len());
                mine.push(theirs.swap_remove(i));
            }
            mine.sort_unstable();
            mine
        }
    }
}

/// Who inherits each partition of `leaving` under S3 and explicit
/// partitions: one at a time, in ring order, the member holding the fewest
/// (counting what it inherits; ties at random). No partition is split.
pub fn heirs(current: &[(u64, NodeId)], leaving: NodeId, rng: &mut SimRng) -> Vec<(u64, NodeId)> {
    let mut count: BTreeMap<NodeId, usize> = BTreeMap::new();
    for &(_, o) in current {
        if o != leaving {
            *count.entry(o).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for &(p, o) in current {
        if o != leaving {
            continue;
        }
        let Some(fewest) = count.values().copied().min() else {
            break;
        };
        let poorest: Vec<NodeId> = count
            .iter()
            .filter(|(_, c)| **c == fewest)
            .map(|(&n, _)| n)
            .collect();
        let heir = poorest[rng.index(poorest.len())];
        *count.get_mut(&heir).expect("a member") += 1;
        out.push((p, heir));
    }
    out
}

/// The ring after a new node (its id: the ring's node count) joins, taking
/// tokens by [`pick_tokens`].
pub fn joined(ring: &Ring, cfg: &ClusterConfig, rng: &mut SimRng) -> Ring {
    let node = NodeId(ring.node_count());
    let mut tokens = ring.tokens().to_vec();
    let taken: BTreeSet<u64> = tokens.iter().map(|t| t.0).collect();
    let mine = pick_tokens(cfg, &tokens, &taken, rng);
    match &cfg.tokens {
        TokenStrategy::Random { .. } => tokens.extend(mine.into_iter().map(|p| (p, node))),
        TokenStrategy::EqualPartitions { .. } | TokenStrategy::Explicit { .. } => {
            for t in &mut tokens {
                if mine.binary_search(&t.0).is_ok() {
                    t.1 = node;
                }
            }
        }
    }
    Ring::from_tokens(ring.scheme().clone(), ring.node_count() + 1, cfg.n, tokens)
}

/// The ring after `node` leaves. S1: its tokens go, and the keys they owned
/// fall to the next tokens clockwise. S3 and explicit partitions: each of its
/// partitions goes, whole, to its heir ([`heirs`]).
pub fn left(ring: &Ring, cfg: &ClusterConfig, node: NodeId, rng: &mut SimRng) -> Ring {
    let mut tokens = ring.tokens().to_vec();
    match &cfg.tokens {
        TokenStrategy::Random { .. } => tokens.retain(|t| t.1 != node),
        TokenStrategy::EqualPartitions { .. } | TokenStrategy::Explicit { .. } => {
            for (p, heir) in heirs(&tokens, node, rng) {
                if let Some(t) = tokens.iter_mut().find(|t| t.0 == p) {
                    t.1 = heir;
                }
            }
        }
    }
    Ring::from_tokens(ring.scheme().clone(), ring.node_count(), cfg.n, tokens)
}

/// One piece of the key space whose replica set a change alters.
#[derive(Clone, Debug, PartialEq)]
pub struct MovedPiece {
    /// The piece's positions, inclusive; a piece never wraps past zero.
    pub lo: u64,
    /// The piece's last position, inclusive.
    pub hi: u64,
    /// The piece's replica set on the old ring, sorted by node id.
    pub before: Vec<NodeId>,
    /// The piece's replica set on the new ring, sorted by node id.
    pub after: Vec<NodeId>,
}

/// What a change moves, over the whole key space.
#[derive(Clone, Debug, PartialEq)]
pub struct RingDiff {
    /// The pieces whose replica sets change, in position order; neighbours
    /// with the same change are one piece.
    pub pieces: Vec<MovedPiece>,
    /// The share of the key space whose replica set changes.
    pub changed: f64,
    /// Replica copies that must be made (a node new to a piece's replica
    /// set needs a copy of it), as a share of one copy of the key space: 1.0
    /// is as much data as the whole store holds once.
    pub copies: f64,
    /// Ranges of the old ring that the new ring cuts inside (a new token
    /// strictly within them): their keys must be picked out one by one, where
    /// a whole range can be handed over as it is.
    pub ranges_split: usize,
}

/// Compares the replica sets (the first `n` of each walk) of two rings over
/// one key space, piece by piece between every token of either.
pub fn diff(before: &Ring, after: &Ring, n: usize) -> RingDiff {
    let bits = crate::ring::space_bits(before.scheme());
    let space = (1u128 << bits) as f64;
    let mut bounds: Vec<u64> = before
        .tokens()
        .iter()
        .chain(after.tokens())
        .map(|t| t.0)
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let set = |r: &Ring, pos: u64| -> Vec<NodeId> {
        let mut s = r.range_replicas(r.token_for(pos), n).to_vec();
        s.sort();
        s
    };
    let mut pieces: Vec<MovedPiece> = Vec::new();
    let (mut changed, mut copies) = (0.0, 0.0);
    let top = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    // Piece i ends at bounds[i]; the first starts past the last bound (wrapping), cut at zero.
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for (i, &b) in bounds.iter().enumerate() {
        let lo = if i == 0 { 0 } else { bounds[i - 1] + 1 };
        spans.push((lo, b));
    }
    if let Some(&last) = bounds.last() {
        if last < top {
            spans.push((last + 1, top));
        }
    }
    for (lo, hi) in spans {
        let (b, a) = (set(before, hi), set(after, hi));
        if b == a {
            continue;
        }
        let width = (u128::from(hi - lo) + 1) as f64 / space;
        changed += width;
        copies += a.iter().filter(|x| !b.contains(x)).count() as f64 * width;
        // A piece right after one with the same change extends it.
        match pieces.last_mut() {
            Some(p) if p.hi.checked_add(1) == Some(lo) && p.before == b && p.after == a => {
                p.hi = hi;
            }
            _ => pieces.push(MovedPiece {
                lo,
                hi,
                before: b,
                after: a,
            }),
        }
    }
    let old: BTreeSet<u64> = before.tokens().iter().map(|t| t.0).collect();
    let split: BTreeSet<usize> = after
        .tokens()
        .iter()
        .filter(|t| !old.contains(&t.0))
        .map(|t| before.token_for(t.0))
        .collect();
    RingDiff {
        pieces,
        changed,
        copies,
        ranges_split: split.len(),
    }
}

/// Of `keys`, how many change their replica set, and how many replica copies they need.
pub fn keys_moved(before: &Ring, after: &Ring, n: usize, keys: &[Key]) -> (usize, usize) {
    let (mut moved, mut copies) = (0, 0);
    for k in keys {
        let b = before.preference_list(k, n);
        let a = after.preference_list(k, n);
        let new = a.iter().filter(|x| !b.contains(x)).count();
        if new > 0 || b.len() != a.len() {
            moved += 1;
        }
        copies += new;
    }
    (moved, copies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyScheme;
    use sim_core::Stream;

    fn ring(tokens: TokenStrategy, nodes: u32, seed: u64) -> (Ring, ClusterConfig) {
        let cfg = ClusterConfig {
            nodes,
            n: 3,
            r: 1,
            w: 1,
            tokens,
            key_scheme: KeyScheme::Integer { hash_bits: 16 },
            ..ClusterConfig::default()
        };
        assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
        (
            Ring::build(&cfg, &mut SimRng::new(seed, Stream::Setup)),
            cfg,
        )
    }

    // The diff against counting every position of a small key space: the
    // changed share, the copies, and the pieces cover exactly the changed positions.
    #[test]
    fn diff_counts_every_position() {
        for seed in 0..12u64 {
            let strategy = if seed % 2 == 0 {
                TokenStrategy::Random { tokens_per_node: 3 }
            } else {
                TokenStrategy::EqualPartitions { partitions: 64 }
            };
            let (before, cfg) = ring(strategy, 8, seed);
            let mut rng = SimRng::new(seed, Stream::Custom(3));
            let after = if seed % 3 == 0 {
                left(&before, &cfg, NodeId(2), &mut rng)
            } else {
                joined(&before, &cfg, &mut rng)
            };
            let d = diff(&before, &after, 3);
            let (mut changed, mut copies) = (0u64, 0u64);
            for pos in 0..1u64 << 16 {
                let key = before.key(&pos.to_string()).unwrap();
                let b: BTreeSet<NodeId> = before.preference_list(&key, 3).iter().copied().collect();
                let a: BTreeSet<NodeId> = after.preference_list(&key, 3).iter().copied().collect();
                if a != b {
                    changed += 1;
                    copies += a.difference(&b).count() as u64;
                    assert!(
                        d.pieces.iter().any(|p| (p.lo..=p.hi).contains(&pos)),
                        "seed {seed}: {pos}"
                    );
                }
            }
            let space = 65_536.0;
            assert!(
                (d.changed - changed as f64 / space).abs() < 1e-9,
                "seed {seed}"
            );
            assert!(
                (d.copies - copies as f64 / space).abs() < 1e-9,
                "seed {seed}"
            );
            let pieces: u64 = d.pieces.iter().map(|p| p.hi - p.lo + 1).sum();
            assert_eq!(pieces, changed, "seed {seed}");
        }
    }

    // S3 moves whole partitions: a join splits no range, keeps Q, and gives
    // the new node its share; S1 splits one range per new token.
    #[test]
    fn joins_keep_partitions_whole_under_s3() {
        let (before, cfg) = ring(TokenStrategy::EqualPartitions { partitions: 64 }, 7, 1);
        let after = joined(&before, &cfg, &mut SimRng::new(1, Stream::Custom(3)));
        assert_eq!(after.tokens().len(), 64);
        let mine = after.tokens().iter().filter(|t| t.1 == NodeId(7)).count();
        assert_eq!(mine, 8);
        // Each other node keeps 7 or 8 of the 56 left.
        for n in 0..7 {
            let c = after.tokens().iter().filter(|t| t.1 == NodeId(n)).count();
            assert!((7..=8).contains(&c), "n{n} holds {c}");
        }
        let d = diff(&before, &after, 3);
        assert_eq!(d.ranges_split, 0);
        assert!(d.copies > 0.0);
        let (before, cfg) = ring(TokenStrategy::Random { tokens_per_node: 8 }, 5, 1);
        let after = joined(&before, &cfg, &mut SimRng::new(1, Stream::Custom(3)));
        assert_eq!(after.tokens().len(), 48);
        // Eight new tokens split up to eight ranges (two may fall in one).
        let split = diff(&before, &after, 3).ranges_split;
        assert!((6..=8).contains(&split), "{split}");
        let back = left(
            &after,
            &cfg,
            NodeId(5),
            &mut SimRng::new(1, Stream::Custom(4)),
        );
        assert_eq!(back.tokens(), before.tokens());
        // Under S3 a leaver's partitions go whole to the members holding the fewest.
        let (before, cfg) = ring(TokenStrategy::EqualPartitions { partitions: 64 }, 8, 2);
        let after = left(
            &before,
            &cfg,
            NodeId(3),
            &mut SimRng::new(2, Stream::Custom(4)),
        );
        assert_eq!(after.tokens().len(), 64);
        assert_eq!(diff(&before, &after, 3).ranges_split, 0);
        for n in (0..8).filter(|&n| n != 3) {
            let c = after.tokens().iter().filter(|t| t.1 == NodeId(n)).count();
            assert!((9..=10).contains(&c), "n{n} holds {c}");
        }
    }
}
