//! Anti-entropy (§4.7): Merkle trees over a key range, compared with a
//! replica peer, one (range, peer) pair a round, round-robin from a random
//! start, so every pair is compared within a bounded time. Trees are built
//! from the store when compared, never kept: the same messages, no state
//! that could go stale.

use crate::merkle::{self, MerkleTree};
use crate::msg::{Msg, Timer};
use crate::node::cx::{Cx, Wire, note};
use crate::node::replica::Replica;
use crate::ring::{Key, Ring};
use crate::version::Version;
use sim_core::NodeId;

/// Where this node's comparisons stand. Volatile: a restart picks a new start.
#[derive(Clone, Debug, Default, Hash)]
pub(crate) struct AntiEntropy {
    /// The next (range, peer) pair to compare, an index into the ring's pairs for this node.
    cursor: usize,
}

/// The Merkle tree of one range of `replica`'s store.
fn tree(replica: &Replica<'_>, range: u32) -> MerkleTree {
    // The store is ordered by ring position, so a range's keys are one or
    // two (when the range wraps past zero) runs of it.
    let entries = replica
        .owner
        .ring
        .range_spans(range as usize)
        .into_iter()
        .flatten()
        .flat_map(|(lo, hi)| replica.store.range(Key::span(lo, hi)))
        .map(|(k, v)| (k, v.as_slice()));
    MerkleTree::build(entries, replica.cfg.merkle_depth)
}

/// Every key of `range` in the given leaves, with its versions.
fn leaf_entries(replica: &Replica<'_>, range: u32, leaves: &[u32]) -> Vec<(Key, Vec<Version>)> {
    let depth = replica.cfg.merkle_depth;
    let ring: &Ring = &replica.owner.ring;
    replica
        .store
        .map()
        .iter()
        .filter(|(k, v)| {
            !v.is_empty()
                && ring.range_of(k) == range as usize
                && leaves.contains(&merkle::leaf_of(k, depth))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl AntiEntropy {
    /// Starts at a random pair (drawn only when there are pairs to compare).
    pub(crate) fn start<N: Wire>(&mut self, pairs: usize, cx: Cx<'_, '_, N>) {
        self.cursor = if pairs > 0 { cx.rng().index(pairs) } else { 0 };
    }

    /// Keeps the cursor within a changed ring's pairs.
    pub(crate) fn clamp(&mut self, pairs: usize) {
        self.cursor = if pairs > 0 { self.cursor % pairs } else { 0 };
    }

    /// Compares the next (range, peer) pair: the root hash goes to the peer.
    /// Then the next round.
    pub(crate) fn round<N: Wire>(&mut self, replica: &mut Replica<'_>, cx: Cx<'_, '_, N>) {
        let ring = &replica.owner.ring;
        let len = ring.anti_entropy_pair_count(replica.me);
        if let Some((range, peer)) = (len > 0)
            .then(|| ring.anti_entropy_pair(replica.me, self.cursor % len))
            .flatten()
        {
            debug_assert!(self.cursor < len, "the cursor stays within the pairs");
            self.cursor = (self.cursor + 1) % len;
            replica.stats.anti_entropy_rounds += 1;
            let root = tree(replica, range).root();
            cx.send(
                peer,
                Msg::MerkleHashes {
                    range,
                    level: 0,
                    hashes: vec![(0, root)],
                },
            );
        }
        cx.set_timer(replica.cfg.anti_entropy_interval, Timer::AntiEntropy);
    }

    /// A peer's hashes at one level: the children of those that differ go
    /// back, or at the leaves, this node's keys in the differing leaves.
    pub(crate) fn on_hashes<N: Wire>(
        replica: &Replica<'_>,
        from: NodeId,
        range: u32,
        level: u8,
        hashes: &[(u32, u64)],
        cx: Cx<'_, '_, N>,
    ) {
        if range as usize >= replica.owner.ring.range_count() {
            return;
        }
        let tree = tree(replica, range);
        let differing: Vec<u32> = hashes
            .iter()
            .filter(|(i, h)| tree.hash(level, *i) != Some(*h))
            .map(|(i, _)| *i)
            .collect();
        if differing.is_empty() {
            return;
        }
        if u32::from(level) < tree.depth() {
            let below: Vec<(u32, u64)> = differing
                .iter()
                .flat_map(|&i| tree.children(level, i))
                .collect();
            cx.send(
                from,
                Msg::MerkleHashes {
                    range,
                    level: level + 1,
                    hashes: below,
                },
            );
        } else {
            #[cfg(feature = "bugs")]
            let Some(differing) = crate::bugs::skip_first_leaf(replica.cfg.bug, differing) else {
                return;
            };
            let entries = leaf_entries(replica, range, &differing);
            cx.send(
                from,
                Msg::MerkleKeys {
                    range,
                    leaves: differing,
                    entries,
                    reply: false,
                },
            );
        }
    }

    /// A peer's keys in differing leaves: merged into the store; the first
    /// such message is answered with this node's keys in those leaves.
    pub(crate) fn on_keys<N: Wire>(
        replica: &mut Replica<'_>,
        from: NodeId,
        range: u32,
        leaves: Vec<u32>,
        entries: Vec<(Key, Vec<Version>)>,
        reply: bool,
        cx: Cx<'_, '_, N>,
    ) {
        let mut repaired = 0;
        for (key, versions) in &entries {
            if replica.merge_into_store(key, versions, cx) {
                repaired += 1;
            }
        }
        if repaired > 0 {
            replica.stats.anti_entropy_keys_repaired += repaired;
            note(cx, "anti-entropy", || {
                format!("range {range}: {repaired} key(s) updated from {from}")
            });
        }
        if !reply {
            let mine = leaf_entries(replica, range, &leaves);
            cx.send(
                from,
                Msg::MerkleKeys {
                    range,
                    leaves,
                    entries: mine,
                    reply: true,
                },
            );
        }
    }
}
