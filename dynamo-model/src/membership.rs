//! The membership history (§4.8.1): every node's status and tokens, with a
//! version only that node raises, and how two histories reconcile and what
//! ring a history defines.

use sim_core::NodeId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a node stands in the ring, as the membership history records it (§4.8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// The status as traces write it: `out`, `joined`, `leaving` or `left`.
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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    /// Where the node stands: out, joined, leaving or left.
    pub status: MemberStatus,
    /// Token positions on the ring.
    pub tokens: Arc<[u64]>,
    /// Leaving or left under S3 and explicit partitions: who inherits each of
    /// its partitions (position, heir), so partitions move whole. Empty
    /// otherwise: under S1 a leaver's tokens simply go.
    pub heirs: Arc<[(u64, NodeId)]>,
    /// Raised only by the node itself, at each join or leave; when two histories reconcile, the higher wins.
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
pub(crate) fn ring_tokens(m: &[Member]) -> Vec<(u64, NodeId)> {
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
pub(crate) fn reconcile_membership(mine: &mut Membership, theirs: &[Member]) -> Vec<NodeId> {
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
