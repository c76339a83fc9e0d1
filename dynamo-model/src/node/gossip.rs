//! Failure detection and gossip (§4.8): each node's local view of which
//! peers are up, learned from timeouts, from any message received, and from
//! heartbeats exchanged with a random peer every gossip interval (and, once
//! membership has changed, the membership history with it, §4.8.1).

use crate::config::ClusterConfig;
use crate::heartbeat::Beat;
use crate::membership::Membership;
use crate::msg::{Msg, Timer};
use crate::node::cx::{Cx, Wire, note};
use sim_core::{NodeId, SimDuration};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One node's view of which peers are up (§4.8). Volatile: a restart
/// begins with every peer believed up.
///
/// The one per-peer table is the heartbeats (16 bytes a peer); the peers
/// believed down, usually few, are a map beside it.
#[derive(Clone, Debug, Hash)]
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
    /// A retry timer is pending; it runs only while some peer is believed down.
    retry_armed: bool,
}

/// What a gossip merge learned of a peer believed down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum News {
    /// Its heartbeat moved on within the incarnation that was judged down:
    /// maybe sent before it failed, so only a probe can tell.
    Newer(NodeId),
    /// It has restarted since it was judged down (a higher incarnation):
    /// it is up again.
    Restarted(NodeId),
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
            retry_armed: false,
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

    /// Merges a peer's heartbeats and returns the news of peers believed
    /// down: those that have restarted since they were judged down (a
    /// higher incarnation) are up again; those whose beat merely moved on
    /// are for the caller to probe.
    ///
    /// A relayed heartbeat says nothing about when it was sent: within the
    /// incarnation that was judged down it may predate the timeout (a beat
    /// sent just before a crash reaches this node only later, through
    /// another peer), so only the peer's own answer to a probe is evidence
    /// it is up. A higher incarnation, though, was issued by a restart after
    /// the node was judged down, so gossip may carry it: views agree without
    /// every pair talking. A restarted peer that then fails to answer is
    /// marked down again by the timeout that sees it.
    ///
    /// A relayed beat of this node's own that is newer than its current one
    /// was issued before a disk wipe forgot the incarnation; the incarnation
    /// jumps past it, so this node's beats outrank its old ones again.
    pub(crate) fn merge(&mut self, beats: &[Beat]) -> Vec<News> {
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
        let mut news = Vec::new();
        for (n, old) in before {
            let now = self.beats[n.index()];
            let judged = self.down[&n];
            if now.incarnation() > judged.incarnation() {
                self.down.remove(&n);
                news.push(News::Restarted(n));
            } else if now > old && now > judged {
                news.push(News::Newer(n));
            }
        }
        news
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

    /// A peer's heartbeats (its gossip, or its reply to ours): merged; a
    /// peer believed down that has restarted is up again, one whose beat
    /// merely moved on is probed; a gossip is answered with this node's
    /// beats. Returns the peers found up again (their hints are due).
    pub(crate) fn on_gossip<N: Wire>(
        &mut self,
        from: NodeId,
        beats: &[Beat],
        answer: bool,
        cx: Cx<'_, '_, N>,
    ) -> Vec<NodeId> {
        let mut revived = Vec::new();
        for news in self.merge(beats) {
            match news {
                News::Restarted(n) => {
                    note(cx, "view", || {
                        format!("{n} is up (it restarted since it was judged down, gossip says)")
                    });
                    revived.push(n);
                }
                News::Newer(n) => {
                    // A relayed heartbeat may predate the timeout that marked `n` down;
                    // only `n`'s own answer to a probe shows it is up now.
                    note(cx, "view", || {
                        format!("{n} has a newer heartbeat through gossip; probing it")
                    });
                    let beats = self.beats();
                    cx.send(n, Msg::Gossip { beats });
                }
            }
        }
        if answer {
            let reply = self.beats();
            cx.send(from, Msg::GossipReply { beats: reply });
        }
        revived
    }

    /// Marks `n` down (it did not answer in time) and arms the retry of down
    /// peers, unless retries are off. Returns whether that changed the view.
    pub(crate) fn suspect<N: Wire>(
        &mut self,
        n: NodeId,
        cfg: &ClusterConfig,
        cx: Cx<'_, '_, N>,
    ) -> bool {
        let changed = self.mark_down(n);
        if changed {
            self.arm_retry(cfg, cx);
        }
        changed
    }

    /// Arms the retry timer, unless it is pending, no peer is down, or retries are off.
    fn arm_retry<N: Wire>(&mut self, cfg: &ClusterConfig, cx: Cx<'_, '_, N>) {
        if !self.retry_armed && !self.down.is_empty() && cfg.retry_interval > SimDuration::ZERO {
            self.retry_armed = true;
            cx.set_timer(cfg.retry_interval, Timer::Retry);
        }
    }

    /// The retry round (§4.8.3): every peer believed down gets a probe (this
    /// node's heartbeats); an answer from it is what marks it up. Then the
    /// next round, while any peer is down.
    pub(crate) fn retry_round<N: Wire>(&mut self, cfg: &ClusterConfig, cx: Cx<'_, '_, N>) {
        self.retry_armed = false;
        let down: Vec<NodeId> = self.down.keys().copied().collect();
        for n in down {
            let beats = self.beats();
            cx.send(n, Msg::Gossip { beats });
        }
        self.arm_retry(cfg, cx);
    }
}

#[cfg(test)]
mod tests {
    use super::{Beat, FailureDetector, News};
    use sim_core::NodeId;

    fn beats(b: &[(i64, u64)]) -> Vec<Beat> {
        b.iter().map(|&(i, c)| Beat::new(i, c)).collect()
    }

    // Gossip revives a peer marked down only with news of a restart (a higher
    // incarnation than the one judged down); a newer beat of the same
    // incarnation only asks for a probe, and a message from the peer revives it.
    #[test]
    fn gossip_revives_only_a_restarted_peer() {
        let mut v = FailureDetector::new(NodeId(0), 3, 1);
        v.merge(&beats(&[(1, 0), (5, 3), (7, 1)]));
        assert!(v.mark_down(NodeId(1)));
        assert!(
            v.merge(&beats(&[(1, 0), (5, 3), (7, 1)])).is_empty(),
            "same beat: nothing new to probe"
        );
        assert_eq!(
            v.merge(&beats(&[(1, 0), (5, 4), (7, 1)])),
            vec![News::Newer(NodeId(1))]
        );
        assert!(
            !v.is_up(NodeId(1)),
            "a newer beat of the same incarnation never revives"
        );
        assert!(v.mark_up(NodeId(1)), "a message from the peer does");
        assert!(v.is_up(NodeId(1)));
        assert!(v.mark_down(NodeId(1)));
        assert_eq!(
            v.merge(&beats(&[(1, 0), (6, 0), (7, 1)])),
            vec![News::Restarted(NodeId(1))]
        );
        assert!(
            v.is_up(NodeId(1)),
            "a restart since it was judged down revives it"
        );
        assert!(
            v.merge(&beats(&[(1, 0), (6, 1), (7, 1)])).is_empty(),
            "up: no news"
        );
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
