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
#[derive(Clone, Debug)]
pub struct Key {
    pos: u64,
    name: Arc<str>,
}

// Keys of one name usually share it (the clients make each load key once),
// so equal keys compare by pointer before comparing their names' bytes.
impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.pos == other.pos && (Arc::ptr_eq(&self.name, &other.name) || self.name == other.name)
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pos.hash(state);
        self.name.hash(state);
    }
}

/// Hashes what defines a ring: its key scheme, node count and tokens (the
/// walk heads and anti-entropy tables are computed from them).
impl std::hash::Hash for Ring {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(&self.scheme).hash(state);
        self.nodes.hash(state);
        self.tokens.hash(state);
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.pos.cmp(&other.pos).then_with(|| {
            if Arc::ptr_eq(&self.name, &other.name) {
                std::cmp::Ordering::Equal
            } else {
                self.name.cmp(&other.name)
            }
        })
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Key {
    /// The key `name` on a ring of `scheme`, or why it cannot be one (an
    /// integer key out of the scheme's slots).
    pub fn new(scheme: &KeyScheme, name: &str) -> Result<Key, String> {
        Ok(Key {
            pos: key_position(scheme, name)?,
            name: Arc::from(name),
        })
    }

    /// The key `name` under MD5 placement (any name is one).
    pub fn md5(name: &str) -> Key {
        Key {
            pos: md5_position(name),
            name: Arc::from(name),
        }
    }

    /// Generated key number `i`: `key{i}` under MD5 placement, `i` itself
    /// under integer keys. Under integer keys, `i` must be one of the
    /// scheme's slots (a load checks that its key count fits before it runs).
    pub fn numbered(scheme: &KeyScheme, i: u32) -> Key {
        match scheme {
            KeyScheme::Md5 => Key::md5(&format!("key{i}")),
            KeyScheme::Integer { hash_bits } => {
                debug_assert!(
                    u64::from(i) < 1u64 << hash_bits,
                    "key {i} is outside 2^{hash_bits} slots"
                );
                Key {
                    pos: u64::from(i),
                    name: Arc::from(i.to_string().as_str()),
                }
            }
        }
    }

    /// The key's name, as clients and traces write it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key's position on the ring.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl Key {
    /// The bounds that select, in a map ordered by key, the keys whose
    /// positions lie in `lo..=hi`.
    pub fn span(lo: u64, hi: u64) -> (std::ops::Bound<Key>, std::ops::Bound<Key>) {
        use std::ops::Bound;
        let at = |pos| Key {
            pos,
            name: Arc::from(""),
        };
        // The empty name sorts first among the keys at a position.
        let end = match hi.checked_add(1) {
            Some(next) => Bound::Excluded(at(next)),
            None => Bound::Unbounded,
        };
        (Bound::Included(at(lo)), end)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.name)
    }
}

/// The position of `name` under MD5 placement: the first 8 bytes of its digest, big-endian.
fn md5_position(name: &str) -> u64 {
    let digest = Md5::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Places `key` on a ring of the given scheme, or says why it can't.
pub fn key_position(scheme: &KeyScheme, key: &str) -> Result<u64, String> {
    match scheme {
        KeyScheme::Md5 => Ok(md5_position(key)),
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

/// The ring: tokens sorted by position, and for each token the head of its
/// walk of distinct physical nodes clockwise from it.
///
/// A walk names every node that owns a token, so a table of whole walks is
/// tokens x nodes: 3.2 GB at 10,000 nodes with 8 tokens each. The ring keeps
/// only each walk's first [`Ring::head_len`] entries (the preference list and
/// the first fallbacks, which is all a request reads unless many nodes are
/// down) and computes the rest by scanning the tokens when asked.
#[derive(Clone, Debug)]
pub struct Ring {
    scheme: KeyScheme,
    nodes: u32,
    /// (position, owner), sorted by position. A token owns the keys in (previous token, its position].
    tokens: Vec<(u64, NodeId)>,
    /// Entries in every walk: the number of nodes that own a token.
    walk_len: usize,
    /// Entries kept per walk in `heads`.
    head_len: usize,
    /// For each token, the first `head_len` entries of its walk, one token after another.
    heads: Vec<NodeId>,
    /// For each node, the ranges anti-entropy compares: each range whose
    /// replicas include the node, by range, with the index of its first
    /// (range, peer) pair. The pairs themselves (each such range with each
    /// other replica) are read off the walk heads when asked, so the table
    /// grows as tokens x N, not tokens x N x N.
    ae_ranges: Vec<Vec<(u32, u32)>>,
    /// For each node, its number of (range, peer) pairs.
    ae_counts: Vec<u32>,
    /// Replicas a key (N), for the pairs.
    ae_n: usize,
}

/// Fallbacks kept in each walk's head past the N replicas; a request that
/// needs more (more than this many of a key's nodes down) scans the ring.
const HEAD_FALLBACKS: usize = 16;

/// The nodes of one walk, clockwise from a token: the head from the table,
/// then the rest by scanning the ring.
#[derive(Clone, Debug)]
pub struct Walk<'a> {
    ring: &'a Ring,
    token: usize,
    /// The index of the next entry to yield.
    i: usize,
    /// Past the head: which nodes were yielded, and how far the scan went.
    scan: Option<(Vec<bool>, usize)>,
}

impl Iterator for Walk<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        let ring = self.ring;
        if self.i >= ring.walk_len {
            return None;
        }
        let t = ring.tokens.len();
        let i = self.i;
        self.i += 1;
        if i < ring.head_len {
            return Some(ring.heads[self.token * ring.head_len + i]);
        }
        let (seen, k) = self.scan.get_or_insert_with(|| {
            let mut seen = vec![false; ring.nodes as usize];
            for h in ring.head(self.token) {
                seen[h.index()] = true;
            }
            (seen, 0)
        });
        while *k < t {
            let owner = ring.tokens[(self.token + *k) % t].1;
            *k += 1;
            if !seen[owner.index()] {
                seen[owner.index()] = true;
                return Some(owner);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.ring.walk_len.saturating_sub(self.i);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Walk<'_> {}

impl Walk<'_> {
    /// Skips to entry `i` of the walk (a no-op when already past it).
    pub fn skip_to(mut self, i: usize) -> Self {
        if i <= self.ring.head_len {
            self.i = self.i.max(i);
        } else {
            while self.i < i && self.next().is_some() {}
        }
        self
    }
}

/// Bits of the key space: 64 for MD5 keys, `hash_bits` for integer keys.
pub fn space_bits(scheme: &KeyScheme) -> u32 {
    match scheme {
        KeyScheme::Md5 => 64,
        KeyScheme::Integer { hash_bits } => *hash_bits,
    }
}

/// A uniformly random position in a key space of `bits` bits.
pub(crate) fn random_position(bits: u32, rng: &mut SimRng) -> u64 {
    if bits == 64 {
        rng.next_u64()
    } else {
        rng.below(1 << bits)
    }
}

/// The position of the last slot of partition `i` of `q` equal partitions on a 2^bits ring.
pub fn partition_end(i: u32, q: u32, bits: u32) -> u64 {
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
                for node in cfg.initial_members() {
                    for _ in 0..*tokens_per_node {
                        let pos = loop {
                            let p = random_position(bits, rng);
                            if used.insert(p) {
                                break p;
                            }
                        };
                        tokens.push((pos, NodeId(node)));
                    }
                }
            }
            TokenStrategy::EqualPartitions { partitions } => {
                let members = cfg.initial_members();
                let mut order: Vec<u32> = (0..*partitions).collect();
                rng.shuffle(&mut order);
                for (j, p) in order.into_iter().enumerate() {
                    let owner = NodeId(members[j % members.len()]);
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
        Ring::for_cluster(cfg, tokens)
    }

    /// The ring of `tokens` under the cluster's placement rules (data-centre
    /// awareness): a node's view after a membership change is built with it.
    pub fn for_cluster(cfg: &ClusterConfig, tokens: Vec<(u64, NodeId)>) -> Ring {
        #[cfg(feature = "bugs")]
        if let Some(entry) = crate::bugs::repeated_walks(cfg.bug) {
            return Ring::with_whole_walks(cfg.key_scheme.clone(), cfg.nodes, cfg.n, tokens, entry);
        }
        let zones = cfg.zones();
        let spread = cfg.datacenter_aware.then_some(zones.as_slice());
        Ring::with_walks(cfg.key_scheme.clone(), cfg.nodes, cfg.n, tokens, spread)
    }

    /// Builds a ring from explicit (position, owner) tokens, for `n` replicas a key.
    pub fn from_tokens(scheme: KeyScheme, nodes: u32, n: u32, tokens: Vec<(u64, NodeId)>) -> Ring {
        Ring::with_walks(scheme, nodes, n, tokens, None)
    }

    fn with_walks(
        scheme: KeyScheme,
        nodes: u32,
        n: u32,
        mut tokens: Vec<(u64, NodeId)>,
        spread: Option<&[u32]>,
    ) -> Ring {
        tokens.sort();
        let t = tokens.len();
        let walk_len = {
            let mut owns = vec![false; nodes as usize];
            for &(_, o) in &tokens {
                owns[o.index()] = true;
            }
            owns.iter().filter(|&&o| o).count()
        };
        let head_len = walk_len.min(n as usize + HEAD_FALLBACKS);
        let mut heads = vec![NodeId(0); t * head_len];
        // A walk from token i lists owners in the order of their next token
        // at or after i. Going backwards over the ring twice (so every walk
        // sees the whole ring), keep each owner's next token in an ordered
        // set: a head is the set's first entries. Cost: t x (log nodes + head),
        // whatever the layout of the tokens.
        let mut next: Vec<Option<usize>> = vec![None; nodes as usize];
        let mut order: BTreeSet<(usize, NodeId)> = BTreeSet::new();
        for i in (0..2 * t).rev() {
            let owner = tokens[i % t].1;
            if let Some(old) = next[owner.index()].replace(i) {
                order.remove(&(old, owner));
            }
            order.insert((i, owner));
            if i < t {
                for (k, &(_, o)) in order.iter().take(head_len).enumerate() {
                    heads[i * head_len + k] = o;
                }
            }
        }
        let mut ring = Ring {
            scheme,
            nodes,
            tokens,
            walk_len,
            head_len,
            heads,
            ae_ranges: Vec::new(),
            ae_counts: Vec::new(),
            ae_n: 0,
        };
        if let Some(dc_of) = spread {
            ring.spread_heads(n as usize, dc_of);
        }
        ring.with_anti_entropy_pairs(n)
    }

    /// A ring whose every walk is given whole: entry `k` of the walk from
    /// token `start` is `entry(tokens, start, k)`, for `k` below the number
    /// of tokens, whether or not it repeats a node (only the injected
    /// duplicate-replicas bug builds one).
    #[cfg(feature = "bugs")]
    pub(crate) fn with_whole_walks(
        scheme: KeyScheme,
        nodes: u32,
        n: u32,
        mut tokens: Vec<(u64, NodeId)>,
        entry: impl Fn(&[(u64, NodeId)], usize, usize) -> NodeId,
    ) -> Ring {
        tokens.sort();
        let t = tokens.len();
        let heads = (0..t)
            .flat_map(|start| (0..t).map(move |k| (start, k)))
            .map(|(start, k)| entry(&tokens, start, k))
            .collect();
        Ring {
            scheme,
            nodes,
            tokens,
            walk_len: t,
            head_len: t,
            heads,
            ae_ranges: Vec::new(),
            ae_counts: Vec::new(),
            ae_n: 0,
        }
        .with_anti_entropy_pairs(n)
    }

    /// Fills in each node's anti-entropy ranges from the walks.
    fn with_anti_entropy_pairs(mut self, n: u32) -> Ring {
        let t = self.tokens.len();
        let nodes = self.nodes as usize;
        let mut ranges: Vec<Vec<(u32, u32)>> = vec![Vec::new(); nodes];
        let mut counts = vec![0u32; nodes];
        for r in 0..t {
            let replicas = self.range_replicas(r, n as usize);
            for &me in replicas {
                // A replica listed twice (only the injected duplicate-replicas
                // bug lists one so) lists its pairs once.
                let mine = &mut ranges[me.index()];
                if mine.last().is_some_and(|&(last, _)| last == r as u32) {
                    continue;
                }
                let count = &mut counts[me.index()];
                mine.push((r as u32, *count));
                let peers = replicas.iter().filter(|&&p| p != me).count() as u32;
                *count = count.saturating_add(peers);
            }
        }
        self.ae_ranges = ranges;
        self.ae_counts = counts;
        self.ae_n = n as usize;
        self
    }

    /// Data-centre-aware preference lists: reorders each walk's head so that
    /// its first N nodes are spread over the data centres as evenly as their
    /// sizes allow. The N are chosen in rounds: round 1 takes each data
    /// centre's first node along the walk, round 2 each one's second, and so
    /// on (within a round, in walk order) until N are chosen; they keep walk
    /// order, so the walk's first node stays first. The rest of the head keeps
    /// walk order, so a walk is still the head followed by every other owner
    /// in ring order.
    fn spread_heads(&mut self, n: usize, dc_of: &[u32]) {
        let dcs = dc_of.iter().max().map_or(1, |&m| m as usize + 1);
        // Token owners per data centre: a data centre needs at most this many from a walk.
        let mut size = vec![0usize; dcs];
        let mut owns = vec![false; self.nodes as usize];
        for &(_, o) in &self.tokens {
            if !std::mem::replace(&mut owns[o.index()], true) {
                size[dc_of[o.index()] as usize] += 1;
            }
        }
        let want = n.min(self.walk_len);
        let mut per_dc: Vec<Vec<usize>> = vec![Vec::new(); dcs];
        for t in 0..self.tokens.len() {
            per_dc.iter_mut().for_each(Vec::clear);
            // Walk until each data centre has as many candidates as it could give.
            let mut walk: Vec<NodeId> = Vec::with_capacity(self.head_len);
            let mut short = (0..dcs).filter(|&d| size[d] > 0).count();
            for node in self.walk_of_range(t) {
                if short == 0 {
                    break;
                }
                let d = dc_of[node.index()] as usize;
                if per_dc[d].len() < want.min(size[d]) {
                    per_dc[d].push(walk.len());
                    if per_dc[d].len() == want.min(size[d]) {
                        short -= 1;
                    }
                }
                walk.push(node);
            }
            let mut picked: Vec<usize> = Vec::with_capacity(want);
            for round in 0.. {
                let mut this: Vec<usize> = per_dc
                    .iter()
                    .filter_map(|l| l.get(round).copied())
                    .collect();
                if this.is_empty() || picked.len() == want {
                    break;
                }
                this.sort_unstable();
                this.truncate(want - picked.len());
                picked.extend(this);
            }
            picked.sort_unstable();
            let mut head: Vec<NodeId> = picked.iter().map(|&i| walk[i]).collect();
            // Then the old head's order, without what is already chosen.
            for &node in self.head(t) {
                if head.len() == self.head_len {
                    break;
                }
                if !head.contains(&node) {
                    head.push(node);
                }
            }
            // Nodes chosen from past the old head push some of its tail out;
            // the walk past the head still yields them, in ring order.
            head.truncate(self.head_len);
            self.heads[t * self.head_len..(t + 1) * self.head_len].copy_from_slice(&head);
        }
    }

    /// The first entries of a token's walk that the ring keeps.
    fn head(&self, token: usize) -> &[NodeId] {
        &self.heads[token * self.head_len..(token + 1) * self.head_len]
    }

    /// How many entries of each walk the ring keeps: the N replicas and up to 16 fallbacks.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// Entries in every walk: each node that owns a token, once.
    pub fn walk_len(&self) -> usize {
        self.walk_len
    }

    /// How many (range, peer) pairs `node`'s anti-entropy compares: each
    /// range it replicates, with each other replica.
    pub fn anti_entropy_pair_count(&self, node: NodeId) -> usize {
        self.ae_counts.get(node.index()).map_or(0, |&c| c as usize)
    }

    /// The `i`th of `node`'s (range, peer) pairs, ordered by range and then
    /// by the peer's place in the range's preference list; `None` past the
    /// last.
    pub fn anti_entropy_pair(&self, node: NodeId, i: usize) -> Option<(u32, NodeId)> {
        let ranges = self.ae_ranges.get(node.index())?;
        let at = ranges
            .partition_point(|&(_, first)| first as usize <= i)
            .checked_sub(1)?;
        let (range, first) = ranges[at];
        self.range_replicas(range as usize, self.ae_n)
            .iter()
            .filter(|&&p| p != node)
            .nth(i - first as usize)
            .map(|&p| (range, p))
    }

    /// How this ring places keys.
    pub fn scheme(&self) -> &KeyScheme {
        &self.scheme
    }

    /// How many nodes the ring is built for, whether or not they own tokens.
    pub fn node_count(&self) -> u32 {
        self.nodes
    }

    /// Every token as (position, owner), sorted by position.
    pub fn tokens(&self) -> &[(u64, NodeId)] {
        &self.tokens
    }

    /// Makes a [`Key`], or says why the name is not a valid key for this ring.
    pub fn key(&self, name: &str) -> Result<Key, String> {
        Key::new(&self.scheme, name)
    }

    /// The index of the token that owns `pos`: the first at or after it, clockwise.
    pub fn token_for(&self, pos: u64) -> usize {
        let i = self.tokens.partition_point(|(p, _)| *p < pos);
        if i == self.tokens.len() { 0 } else { i }
    }

    /// Every node, distinct, clockwise from the key's token: the first N are
    /// the preference list, the rest are the fallbacks in order.
    pub fn walk(&self, key: &Key) -> Walk<'_> {
        self.walk_of_range(self.token_for(key.pos))
    }

    /// The preference list: the first `n` distinct physical nodes clockwise
    /// from the key. `n` is at most the ring's N (the kept head holds N + 16).
    pub fn preference_list(&self, key: &Key, n: usize) -> &[NodeId] {
        self.range_replicas(self.token_for(key.pos), n)
    }

    /// The number of key ranges (one per token).
    pub fn range_count(&self) -> usize {
        self.tokens.len()
    }

    /// The whole walk from range (token) `r`.
    pub fn walk_of_range(&self, r: usize) -> Walk<'_> {
        Walk {
            ring: self,
            token: r,
            i: 0,
            scan: None,
        }
    }

    /// The positions range (token) `r` owns, as up to two inclusive spans in
    /// ascending order: the range of the first token wraps past zero.
    pub fn range_spans(&self, r: usize) -> [Option<(u64, u64)>; 2] {
        let t = self.tokens.len();
        let pos = self.tokens[r].0;
        if t == 1 {
            return [Some((0, u64::MAX)), None];
        }
        if r > 0 {
            return [Some((self.tokens[r - 1].0 + 1, pos)), None];
        }
        let last = self.tokens[t - 1].0;
        [
            Some((0, pos)),
            last.checked_add(1).map(|from| (from, u64::MAX)),
        ]
    }

    /// The range (token index) a key belongs to.
    pub fn range_of(&self, key: &Key) -> usize {
        self.token_for(key.pos)
    }

    /// The replicas of range `r`: the first `n` nodes of its walk.
    pub fn range_replicas(&self, r: usize, n: usize) -> &[NodeId] {
        debug_assert!(
            n <= self.head_len || self.head_len == self.walk_len,
            "asked for {n} replicas; the ring keeps {}",
            self.head_len
        );
        &self.head(r)[..n.min(self.head_len)]
    }

    /// The share of the key space each node owns as the first replica (its
    /// tokens' ranges), as fractions summing to 1.
    pub fn ownership(&self) -> Vec<f64> {
        self.replica_load(1)
    }

    /// The share of the key space each node holds as one of the first `n`
    /// replicas: the exact widths of the ranges it replicates, as fractions
    /// of the key space (summing to `n`). A node's load under uniformly
    /// spread keys, without sampling any.
    pub fn replica_load(&self, n: usize) -> Vec<f64> {
        let bits = space_bits(&self.scheme);
        let space = (1u128 << bits) as f64;
        let mut share = vec![0.0; self.nodes as usize];
        let t = self.tokens.len();
        for i in 0..t {
            let pos = self.tokens[i].0;
            let prev = self.tokens[(i + t - 1) % t].0;
            let width = if t == 1 {
                space
            } else if pos > prev {
                (pos - prev) as f64
            } else {
                space - (prev - pos) as f64
            };
            for node in self.range_replicas(i, n) {
                share[node.index()] += width / space;
            }
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
        assert_eq!(ring.walk(&k).nth(3), Some(NodeId(3)));
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
                        let walk: Vec<NodeId> = ring.walk_of_range(r).collect();
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

    // Walks past the kept head, skip_to, range spans and anti-entropy pairs
    // agree with the plain definitions, computed here from the tokens alone.
    #[test]
    fn heads_and_scans_agree_with_whole_walks() {
        for seed in 0..40u64 {
            let nodes = 20 + (seed % 30) as u32;
            let n = 1 + (seed % 4) as u32;
            let cfg = ClusterConfig {
                nodes,
                n,
                r: 1,
                w: 1,
                tokens: TokenStrategy::Random {
                    tokens_per_node: 1 + (seed % 3) as u32,
                },
                key_scheme: KeyScheme::Integer { hash_bits: 12 },
                ..ClusterConfig::default()
            };
            let ring = Ring::build(&cfg, &mut SimRng::new(seed, Stream::Setup));
            assert!(
                ring.head_len() < ring.walk_len(),
                "the test must reach past the head"
            );
            let t = ring.tokens().len();
            for r in 0..t {
                let mut whole = Vec::new();
                for k in 0..t {
                    let o = ring.tokens()[(r + k) % t].1;
                    if !whole.contains(&o) {
                        whole.push(o);
                    }
                }
                assert_eq!(ring.walk_of_range(r).collect::<Vec<_>>(), whole);
                for from in [0, 3, ring.head_len(), ring.head_len() + 2, whole.len()] {
                    let rest: Vec<_> = ring.walk_of_range(r).skip_to(from).collect();
                    assert_eq!(rest, whole[from.min(whole.len())..], "skip_to({from})");
                }
            }
            for pos in (0..4096).step_by(7) {
                let key = ring.key(&pos.to_string()).unwrap();
                let r = ring.range_of(&key);
                let spans = ring.range_spans(r);
                assert!(
                    spans
                        .iter()
                        .flatten()
                        .any(|&(lo, hi)| (lo..=hi).contains(&pos))
                );
                for other in (0..t).filter(|&o| o != r) {
                    let spans = ring.range_spans(other);
                    assert!(
                        !spans
                            .iter()
                            .flatten()
                            .any(|&(lo, hi)| (lo..=hi).contains(&pos))
                    );
                }
            }
            assert_anti_entropy_pairs(&ring, nodes, n as usize);
        }
    }

    // Data-centre-aware walks, computed here from the tokens alone: the first
    // N are each data centre's first, second, ... node along the walk, round
    // by round, kept in walk order; the rest of the walk keeps ring order.
    #[test]
    fn datacenter_aware_walks_spread_the_replicas() {
        let mut spread_checked = 0;
        for seed in 0..60u64 {
            let nodes = 6 + (seed % 40) as u32;
            let dcs = 2 + (seed % 3) as usize;
            let n = 1 + (seed % 5) as u32;
            // Every third ring puts a single node in data centre 0.
            let node_datacenters: Vec<u32> = (0..nodes)
                .map(|i| {
                    if seed % 3 == 0 {
                        u32::from(i != 0) * (1 + i % (dcs as u32 - 1))
                    } else {
                        i % dcs as u32
                    }
                })
                .collect();
            let cfg = ClusterConfig {
                nodes,
                n,
                r: 1,
                w: 1,
                tokens: TokenStrategy::Random {
                    tokens_per_node: 1 + (seed % 3) as u32,
                },
                key_scheme: KeyScheme::Integer { hash_bits: 12 },
                datacenters: (0..dcs).map(|d| format!("dc{d}")).collect(),
                node_datacenters: node_datacenters.clone(),
                datacenter_aware: true,
                ..ClusterConfig::default()
            };
            assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
            let ring = Ring::build(&cfg, &mut SimRng::new(seed, Stream::Setup));
            let dc = |o: NodeId| node_datacenters[o.index()] as usize;
            let (lo, hi) = (n as usize / dcs, (n as usize).div_ceil(dcs));
            let t = ring.tokens().len();
            for r in 0..t {
                let mut whole = Vec::new();
                for k in 0..t {
                    let o = ring.tokens()[(r + k) % t].1;
                    if !whole.contains(&o) {
                        whole.push(o);
                    }
                }
                // Rounds: the k-th node of each data centre along the walk, in walk order.
                let mut rank = vec![0; dcs];
                let ranked: Vec<(usize, usize, NodeId)> = whole
                    .iter()
                    .enumerate()
                    .map(|(i, &o)| {
                        rank[dc(o)] += 1;
                        (rank[dc(o)], i, o)
                    })
                    .collect();
                let mut by_round = ranked.clone();
                by_round.sort();
                let mut firsts: Vec<(usize, NodeId)> = by_round
                    .iter()
                    .take(n as usize)
                    .map(|&(_, i, o)| (i, o))
                    .collect();
                firsts.sort();
                let chosen: Vec<NodeId> = firsts.into_iter().map(|(_, o)| o).collect();
                let mut want = chosen.clone();
                want.extend(whole.iter().filter(|o| !chosen.contains(o)));
                assert_eq!(
                    ring.walk_of_range(r).collect::<Vec<_>>(),
                    want,
                    "seed {seed}"
                );
                assert_eq!(ring.range_replicas(r, n as usize), &chosen[..]);
                let mut per_dc = vec![0; dcs];
                for &o in &chosen {
                    per_dc[dc(o)] += 1;
                }
                let sizes: Vec<usize> = (0..dcs)
                    .map(|d| {
                        node_datacenters
                            .iter()
                            .filter(|&&x| x as usize == d)
                            .count()
                    })
                    .collect();
                if sizes.iter().all(|&s| s >= hi) {
                    // As even as it gets: every data centre holds floor(N/D) or ceil(N/D).
                    spread_checked += 1;
                    assert!(
                        per_dc.iter().all(|&c| (lo..=hi).contains(&c)),
                        "seed {seed}: {per_dc:?}"
                    );
                }
            }
            assert_anti_entropy_pairs(&ring, nodes, n as usize);
        }
        assert!(spread_checked > 1_000, "{spread_checked}");
    }

    /// Each node's anti-entropy pairs are, range by range, every other
    /// replica of each range it replicates.
    fn assert_anti_entropy_pairs(ring: &Ring, nodes: u32, n: usize) {
        for node in 0..nodes {
            let me = NodeId(node);
            let mut pairs = Vec::new();
            for r in 0..ring.range_count() {
                let replicas = ring.range_replicas(r, n);
                if replicas.contains(&me) {
                    pairs.extend(
                        replicas
                            .iter()
                            .filter(|&&p| p != me)
                            .map(|&p| (r as u32, p)),
                    );
                }
            }
            let listed: Vec<(u32, NodeId)> = (0..ring.anti_entropy_pair_count(me))
                .map(|i| ring.anti_entropy_pair(me, i).expect("within the count"))
                .collect();
            assert_eq!(listed, pairs);
            assert_eq!(ring.anti_entropy_pair(me, pairs.len()), None);
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

    // A node's replica load is the exact share of the key space whose
    // preference lists hold it: it sums to N, and on an integer key space
    // it equals counting every position's preference list. Proxies hold none.
    #[test]
    fn replica_load_counts_every_position() {
        for seed in 0..20u64 {
            let cfg = ClusterConfig {
                nodes: 7,
                proxies: (seed % 2) as u32,
                key_scheme: KeyScheme::Integer { hash_bits: 9 },
                tokens: TokenStrategy::Random {
                    tokens_per_node: 1 + (seed % 4) as u32,
                },
                ..ClusterConfig::default()
            };
            let ring = Ring::build(&cfg, &mut SimRng::new(seed, Stream::Setup));
            let load = ring.replica_load(3);
            assert!((load.iter().sum::<f64>() - 3.0).abs() < 1e-9);
            let mut count = [0u32; 7];
            for pos in 0..512u32 {
                let key = ring.key(&pos.to_string()).unwrap();
                for n in ring.preference_list(&key, 3) {
                    count[n.index()] += 1;
                }
            }
            for (i, c) in count.iter().enumerate() {
                assert!(
                    (load[i] - f64::from(*c) / 512.0).abs() < 1e-9,
                    "seed {seed} n{i}"
                );
            }
            if cfg.proxies == 1 {
                assert_eq!(load[6], 0.0);
            }
        }
    }
}
