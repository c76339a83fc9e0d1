//! Failure detection and gossip (§4.8): each node's local view of which
//! peers are up, learned from timeouts, from any message received, and from
//! heartbeats exchanged with a random peer every gossip interval (and, once
//! membership has changed, the membership history with it, §4.8.1).

use crate::config::ClusterConfig;
use crate::heartbeat::Beat;
use crate::membership::Membership;
use crate::msg::{Msg, Timer};
use crate::node::cx::{Cx, Wire, note};
use sim_core::NodeId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One node's view of which peers are up (§4.8). Volatile: a restart
/// begins with every peer believed up.
///
/// The one per-peer table is the heartbeats (16 bytes a peer); the peers
/// believed down, usually few, are a map beside it.
#[derive(Clone, Debug)]
pub(crate) struct FailureDetector {
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

impl FailureDetector {
    /// A fresh view: every peer believed up, this node's beats at `incarnation`.
    pub(crate) fn new(me: NodeId, nodes: usize, incarnation: i64) -> FailureDetector {
        let mut beats = vec![Beat::NONE; nodes];
        beats[me.index()] = Beat::new(incarnation, 0);
        FailureDetector {
            me,
            beats: Arc::new(beats),
            down: BTreeMap::new(),
        }
    }

    pub(crate) fn is_up(&self, n: NodeId) -> bool {
        self.down.is_empty() || !self.down.contains_key(&n)
    }

    /// Marks `n` down (a request to it timed out). Returns whether that changed the view.
    pub(crate) fn mark_down(&mut self, n: NodeId) -> bool {
        if n == self.me || self.down.contains_key(&n) {
            return false;
        }
        self.down.insert(n, self.beats[n.index()]);
        true
    }

    /// Marks `n` up (a message from it arrived). Returns whether that changed the view.
    pub(crate) fn mark_up(&mut self, n: NodeId) -> bool {
        self.down.remove(&n).is_some()
    }

    /// Advances this node's own heartbeat and returns the beats to gossip.
    pub(crate) fn beat(&mut self) -> Arc<Vec<Beat>> {
        let me = self.me.index();
        let beats = Arc::make_mut(&mut self.beats);
        beats[me] = Beat::new(beats[me].incarnation(), beats[me].counter() + 1);
        Arc::clone(&self.beats)
    }

    /// A snapshot of the view's heartbeats, to gossip.
    pub(crate) fn beats(&self) -> Arc<Vec<Beat>> {
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
    pub(crate) fn merge(&mut self, beats: &[Beat]) -> Vec<NodeId> {
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
    pub(crate) fn incarnation(&self) -> i64 {
        self.beats[self.me.index()].incarnation()
    }
}

impl FailureDetector {
    /// One gossip round: heartbeats to a random peer, and `members` (the
    /// membership history, once it has changed) to that peer and to a seed.
    /// Then the next round.
    pub(crate) fn gossip_round<N: Wire>(
        &mut self,
        cfg: &ClusterConfig,
        members: Option<&Membership>,
        cx: Cx<'_, '_, N>,
    ) {
        let n = cfg.nodes;
        if n > 1 {
            let mut peer = cx.rng().below(u64::from(n) - 1) as u32;
            if peer >= self.me.0 {
                peer += 1;
            }
            let beats = self.beat();
            cx.send(NodeId(peer), Msg::Gossip { beats });
            if let Some(members) = members {
                // Membership histories reconcile in the same exchange (§4.8.1),
                // with the random peer and with a seed.
                let seeds = &cfg.seeds;
                let seed = if seeds.is_empty() {
                    peer
                } else {
                    seeds[cx.rng().index(seeds.len())]
                };
                for to in [NodeId(peer), NodeId(seed)] {
                    if to != self.me {
                        cx.send(
                            to,
                            Msg::Members {
                                members: members.clone(),
                                reply: true,
                            },
                        );
                    }
                }
            }
        }
        cx.set_timer(cfg.gossip_interval, Timer::Gossip);
    }

    /// A peer's heartbeats (its gossip, or its reply to ours): merged, the
    /// peers believed down whose beat moved on are probed, and a gossip is
    /// answered with this node's beats. Returns this node's incarnation,
    /// which the merge may have moved past a forgotten one.
    pub(crate) fn on_gossip<N: Wire>(
        &mut self,
        from: NodeId,
        beats: &[Beat],
        answer: bool,
        cx: Cx<'_, '_, N>,
    ) -> i64 {
        for n in self.merge(beats) {
            // A relayed heartbeat may predate the timeout that marked `n` down;
            // only `n`'s own answer to a probe shows it is up now.
            note(cx, "view", || {
                format!("{n} has a newer heartbeat through gossip; probing it")
            });
            let beats = self.beats();
            cx.send(n, Msg::Gossip { beats });
        }
        if answer {
            let reply = self.beats();
            cx.send(from, Msg::GossipReply { beats: reply });
        }
        self.incarnation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beats(b: &[(i64, u64)]) -> Vec<Beat> {
        b.iter().map(|&(i, c)| Beat::new(i, c)).collect()
    }

    // Gossip never revives a peer marked down: a newer heartbeat only asks for a probe, and only a message from the peer revives it.
    #[test]
    fn gossip_asks_for_a_probe_and_never_revives() {
        let mut v = FailureDetector::new(NodeId(0), 3, 1);
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
        let mut v = FailureDetector::new(NodeId(0), 2, 3);
        v.merge(&beats(&[(5, 8), (1, 0)]));
        assert_eq!(v.incarnation(), 6);
        v.merge(&beats(&[(2, 9), (1, 0)]));
        assert_eq!(v.incarnation(), 6, "an older incarnation changes nothing");
    }
}
