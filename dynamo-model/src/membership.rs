//! Failure detection and gossip (paper §4.8): each node's local view of
//! which peers are up, learned from timeouts, from any message received, and
//! from heartbeats exchanged with a random peer every gossip interval.

use crate::heartbeat::Beat;
use sim_core::NodeId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One node's view of the cluster. Volatile: a restart begins with every peer believed up.
///
/// The one per-peer table is the heartbeats (16 bytes a peer); the peers
/// believed down, usually few, are a map beside it.
#[derive(Clone, Debug)]
pub struct View {
    me: NodeId,
    /// The newest heartbeat heard from each node.
    ///
    /// Shared with the gossip messages that carry it, copy on write: a
    /// message holds a snapshot without copying the whole view, and the
    /// view is copied only if it changes while such a message is in flight.
    beats: Arc<Vec<Beat>>,
    /// The peers believed down, each with the newest heartbeat known when it was marked down.
    down: BTreeMap<NodeId, Beat>,
}

impl View {
    /// A fresh view: every peer believed up, this node's beats at `incarnation`.
    pub fn new(me: NodeId, nodes: usize, incarnation: i64) -> View {
        let mut beats = vec![Beat::NONE; nodes];
        beats[me.index()] = Beat::new(incarnation, 0);
        View {
            me,
            beats: Arc::new(beats),
            down: BTreeMap::new(),
        }
    }

    pub fn is_up(&self, n: NodeId) -> bool {
        self.down.is_empty() || !self.down.contains_key(&n)
    }

    /// Marks `n` down (a request to it timed out). Returns whether that changed the view.
    pub fn mark_down(&mut self, n: NodeId) -> bool {
        if n == self.me || self.down.contains_key(&n) {
            return false;
        }
        self.down.insert(n, self.beats[n.index()]);
        true
    }

    /// Marks `n` up (a message from it arrived). Returns whether that changed the view.
    pub fn mark_up(&mut self, n: NodeId) -> bool {
        self.down.remove(&n).is_some()
    }

    /// Advances this node's own heartbeat and returns the beats to gossip.
    pub fn beat(&mut self) -> Arc<Vec<Beat>> {
        let me = self.me.index();
        let beats = Arc::make_mut(&mut self.beats);
        beats[me] = Beat::new(beats[me].incarnation(), beats[me].counter() + 1);
        Arc::clone(&self.beats)
    }

    /// A snapshot of the view's heartbeats, to gossip.
    pub fn beats(&self) -> Arc<Vec<Beat>> {
        Arc::clone(&self.beats)
    }

    /// Merges a peer's heartbeats and returns the peers believed down whose
    /// heartbeat moved on, which the caller should probe.
    ///
    /// Gossip never marks a peer up. A relayed heartbeat says nothing about
    /// when it was sent: it may predate the timeout that marked the peer down
    /// (a beat sent just before a crash reaches this node only later, through
    /// another peer). Only a message from the peer itself, such as its answer
    /// to a probe, is evidence newer than the timeout.
    ///
    /// A relayed beat of this node's own that is newer than its current one
    /// was issued before a disk wipe forgot the incarnation; the incarnation
    /// jumps past it, so this node's beats outrank its old ones again.
    pub fn merge(&mut self, beats: &[Beat]) -> Vec<NodeId> {
        let me = self.me.index();
        let own = self.beats[me];
        // Only a beat this merge moves on is news (one already known was reported when it came).
        let before: Vec<(NodeId, Beat)> = self
            .down
            .keys()
            .map(|&n| (n, self.beats[n.index()]))
            .collect();
        // The common work, one pass with no branch on the peer: take the newer beat.
        let mine_all = Arc::make_mut(&mut self.beats);
        for (mine, theirs) in mine_all.iter_mut().zip(beats) {
            *mine = (*mine).max(*theirs);
        }
        if let Some(&b) = beats.get(me)
            && b > own
        {
            mine_all[me] = Beat::new(b.incarnation() + 1, 0);
        } else {
            mine_all[me] = own;
        }
        before
            .into_iter()
            .filter(|&(n, old)| {
                let now = self.beats[n.index()];
                now > old && now > self.down[&n]
            })
            .map(|(n, _)| n)
            .collect()
    }

    /// This node's incarnation (the generation its heartbeats carry).
    pub fn incarnation(&self) -> i64 {
        self.beats[self.me.index()].incarnation()
    }

    /// Nodes believed down, in id order.
    pub fn down_nodes(&self) -> Vec<NodeId> {
        self.down.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beats(b: &[(i64, u64)]) -> Vec<Beat> {
        b.iter().map(|&(i, c)| Beat::new(i, c)).collect()
    }

    // A packed beat orders as its (incarnation, counter) pair and unpacks to it.
    #[test]
    fn packed_beats_order_as_pairs() {
        let incs = [i64::MIN, i64::MIN + 1, -5, -1, 0, 1, 7, 1 << 40, i64::MAX];
        let counters = [0, 1, 2, 1 << 33, u64::MAX - 1, u64::MAX];
        let mut pairs = Vec::new();
        for &i in &incs {
            for &c in &counters {
                pairs.push((i, c));
            }
        }
        for &a in &pairs {
            let pa = Beat::new(a.0, a.1);
            assert_eq!((pa.incarnation(), pa.counter()), a);
            for &b in &pairs {
                assert_eq!(pa.cmp(&Beat::new(b.0, b.1)), a.cmp(&b), "{a:?} vs {b:?}");
            }
        }
    }

    // Gossip never revives a peer marked down: a newer heartbeat only asks for a probe, and only a message from the peer revives it.
    #[test]
    fn gossip_asks_for_a_probe_and_never_revives() {
        let mut v = View::new(NodeId(0), 3, 1);
        v.merge(&beats(&[(1, 0), (5, 3), (7, 1)]));
        assert!(v.mark_down(NodeId(1)));
        assert!(
            v.merge(&beats(&[(1, 0), (5, 3), (7, 1)])).is_empty(),
            "same beat: nothing new to probe"
        );
        assert_eq!(v.merge(&beats(&[(1, 0), (5, 4), (7, 1)])), vec![NodeId(1)]);
        assert_eq!(v.merge(&beats(&[(1, 0), (9, 0), (7, 1)])), vec![NodeId(1)]);
        assert!(!v.is_up(NodeId(1)), "gossip alone never revives");
        assert!(v.mark_up(NodeId(1)), "a message from the peer does");
        assert!(v.is_up(NodeId(1)));
    }

    // A relayed beat of this node's own from a forgotten incarnation makes it jump past that incarnation.
    #[test]
    fn own_old_incarnation_is_outrun() {
        let mut v = View::new(NodeId(0), 2, 3);
        v.merge(&beats(&[(5, 8), (1, 0)]));
        assert_eq!(v.incarnation(), 6);
        v.merge(&beats(&[(2, 9), (1, 0)]));
        assert_eq!(v.incarnation(), 6, "an older incarnation changes nothing");
    }
}

/// Where a node stands in the ring, as the membership history records it (§4.8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    /// Not (yet) a member: owns nothing.
    Out,
    /// Owns its tokens.
    Joined,
    /// Asked to leave: owns nothing any more, hands its keys to their new owners.
    Leaving,
    /// Handed everything over and stopped.
    Left,
}

impl MemberStatus {
    pub fn name(self) -> &'static str {
        match self {
            MemberStatus::Out => "out",
            MemberStatus::Joined => "joined",
            MemberStatus::Leaving => "leaving",
            MemberStatus::Left => "left",
        }
    }
}

/// One node's entry in the membership: its status and tokens, with a
/// version that only the node itself raises (when it joins or leaves), so
/// two histories reconcile by taking, per node, the higher version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub status: MemberStatus,
    /// Token positions on the ring.
    pub tokens: Arc<[u64]>,
    /// Leaving or left under S3 and explicit partitions: who inherits each of
    /// its partitions (position, heir), so partitions move whole. Empty
    /// otherwise: under S1 a leaver's tokens simply go.
    pub heirs: Arc<[(u64, NodeId)]>,
    pub version: u64,
}

/// Every node's entry, by node index. Cloned into gossip messages whole
/// (copy on write): a membership change is rare, and clusters that change
/// membership are small.
pub type Membership = Arc<Vec<Member>>;

/// The membership the configuration starts with: each initial member with
/// its tokens on `ring`, every other node out, all at version 0.
pub fn initial_membership(ring: &crate::ring::Ring, nodes: u32) -> Membership {
    let mut tokens: Vec<Vec<u64>> = vec![Vec::new(); nodes as usize];
    for &(pos, owner) in ring.tokens() {
        tokens[owner.index()].push(pos);
    }
    Arc::new(
        tokens
            .into_iter()
            .map(|t| Member {
                status: if t.is_empty() {
                    MemberStatus::Out
                } else {
                    MemberStatus::Joined
                },
                tokens: t.into(),
                heirs: Arc::new([]),
                version: 0,
            })
            .collect(),
    )
}

/// The ring tokens of a membership: every joined member's, and the
/// partitions leaving and left members handed to joined heirs. A position
/// two entries claim (a partition a joining node took over under S3, which
/// its old owner's entry still lists, or one a leaver handed on) belongs to
/// the newer claim: the higher version, then the higher node; when the
/// newer claimant leaves, the position goes to its heir, or falls back to
/// the older claim.
pub fn ring_tokens(m: &[Member]) -> Vec<(u64, NodeId)> {
    // Position -> (claim version, claimant, owner).
    let mut best: BTreeMap<u64, (u64, u32, u32)> = BTreeMap::new();
    let mut claim = |p: u64, version: u64, claimant: u32, owner: u32| {
        let e = best.entry(p).or_insert((version, claimant, owner));
        if (version, claimant) > (e.0, e.1) {
            *e = (version, claimant, owner);
        }
    };
    for (i, member) in m.iter().enumerate() {
        match member.status {
            MemberStatus::Joined => {
                for &p in member.tokens.iter() {
                    claim(p, member.version, i as u32, i as u32);
                }
            }
            MemberStatus::Leaving | MemberStatus::Left => {
                for &(p, heir) in member.heirs.iter() {
                    if m.get(heir.index())
                        .is_some_and(|h| h.status == MemberStatus::Joined)
                    {
                        claim(p, member.version, i as u32, heir.0);
                    }
                }
            }
            MemberStatus::Out => {}
        }
    }
    best.into_iter()
        .map(|(p, (_, _, n))| (p, NodeId(n)))
        .collect()
}

/// Reconciles `theirs` into `mine`, per node taking the higher version.
/// Returns the nodes whose entries changed.
pub fn reconcile_membership(mine: &mut Membership, theirs: &[Member]) -> Vec<NodeId> {
    let newer: Vec<usize> = (0..mine.len().min(theirs.len()))
        .filter(|&i| theirs[i].version > mine[i].version)
        .collect();
    if !newer.is_empty() {
        let m = Arc::make_mut(mine);
        for &i in &newer {
            m[i] = theirs[i].clone();
        }
    }
    newer.into_iter().map(|i| NodeId(i as u32)).collect()
}
