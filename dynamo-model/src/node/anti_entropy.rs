//! Anti-entropy (§4.7): Merkle trees over a key range, compared with a replica peer.

#[allow(clippy::wildcard_imports)]
use super::*;

impl DynamoNode {
    // ---- anti-entropy (§4.7) ----

    pub(super) fn tree(&self, range: u32) -> MerkleTree {
        // The store is ordered by ring position, so a range's keys are one or
        // two (when the range wraps past zero) runs of it.
        let entries = self
            .ring
            .range_spans(range as usize)
            .into_iter()
            .flatten()
            .flat_map(|(lo, hi)| self.store.range(Key::span(lo, hi)))
            .map(|(k, v)| (k, v.as_slice()));
        MerkleTree::build(entries, self.cfg.merkle_depth)
    }

    /// Every (range, peer) pair this node compares: each range it replicates, with each other replica.
    pub(super) fn anti_entropy_pairs(&self) -> &[(u32, NodeId)] {
        self.ring.anti_entropy_pairs(self.id)
    }

    /// Compares one (range, peer) pair per round, going round-robin from a
    /// random start, so every pair is compared within a bounded time.
    pub(super) fn anti_entropy_round(&mut self, cx: Cx) {
        let len = self.anti_entropy_pairs().len();
        if len > 0 {
            let (range, peer) = self.anti_entropy_pairs()[self.ae_cursor % len];
            self.ae_cursor = (self.ae_cursor + 1) % len;
            self.stats.anti_entropy_rounds += 1;
            let root = self.tree(range).root();
            cx.send(
                peer,
                Msg::MerkleHashes {
                    range,
                    level: 0,
                    hashes: vec![(0, root)],
                },
            );
        }
        cx.set_timer(self.cfg.anti_entropy_interval, Timer::AntiEntropy);
    }

    /// How long anti-entropy needs to compare every pair of every node once.
    pub fn anti_entropy_sweep_time(&self) -> sim_core::SimDuration {
        sim_core::SimDuration(
            self.anti_entropy_pairs().len() as u64 * self.cfg.anti_entropy_interval.as_us(),
        )
    }

    pub(super) fn on_merkle_hashes(
        &mut self,
        from: NodeId,
        range: u32,
        level: u8,
        hashes: &[(u32, u64)],
        cx: Cx,
    ) {
        if range as usize >= self.ring.range_count() {
            return;
        }
        let tree = self.tree(range);
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
            let Some(differing) = crate::bugs::skip_first_leaf(self.cfg.bug, differing) else {
                return;
            };
            let entries = self.leaf_entries(range, &differing);
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

    pub(super) fn leaf_entries(&self, range: u32, leaves: &[u32]) -> Vec<(Key, Vec<Version>)> {
        let depth = self.cfg.merkle_depth;
        self.store
            .iter()
            .filter(|(k, v)| {
                !v.is_empty()
                    && self.ring.range_of(k) == range as usize
                    && leaves.contains(&merkle::leaf_of(k, depth))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub(super) fn on_merkle_keys(
        &mut self,
        from: NodeId,
        range: u32,
        leaves: Vec<u32>,
        entries: Vec<(Key, Vec<Version>)>,
        reply: bool,
        cx: Cx,
    ) {
        let mut repaired = 0;
        for (key, versions) in &entries {
            if self.merge_into_store(key, versions, cx) {
                repaired += 1;
            }
        }
        if repaired > 0 {
            self.stats.anti_entropy_keys_repaired += repaired;
            Self::note(cx, "anti-entropy", || {
                format!("range {range}: {repaired} key(s) updated from {from}")
            });
        }
        if !reply {
            let mine = self.leaf_entries(range, &leaves);
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
