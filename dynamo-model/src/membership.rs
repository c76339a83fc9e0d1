//! Failure detection and gossip (paper §4.8): each node's local view of
//! which peers are up, learned from timeouts, from any message received, and
//! from heartbeats exchanged with a random peer every gossip interval.

use crate::msg::Beat;
use sim_core::NodeId;

/// One node's view of the cluster. Volatile: a restart begins with every peer believed up.
#[derive(Clone, Debug)]
pub struct View {
    me: NodeId,
    up: Vec<bool>,
    /// The newest heartbeat heard from each node.
    beats: Vec<Beat>,
    /// For a peer believed down: the newest heartbeat known when it was marked down.
    down_at: Vec<Beat>,
}

impl View {
    /// A fresh view: every peer believed up, this node's beats at `incarnation`.
    pub fn new(me: NodeId, nodes: usize, incarnation: i64) -> View {
        let mut beats = vec![(i64::MIN, 0); nodes];
        beats[me.index()] = (incarnation, 0);
        View {
            me,
            up: vec![true; nodes],
            beats,
            down_at: vec![(i64::MIN, 0); nodes],
        }
    }

    pub fn is_up(&self, n: NodeId) -> bool {
        n == self.me || self.up[n.index()]
    }

    /// Marks `n` down (a request to it timed out). Returns whether that changed the view.
    pub fn mark_down(&mut self, n: NodeId) -> bool {
        if n == self.me || !self.up[n.index()] {
            return false;
        }
        self.up[n.index()] = false;
        self.down_at[n.index()] = self.beats[n.index()];
        true
    }

    /// Marks `n` up (a message from it arrived). Returns whether that changed the view.
    pub fn mark_up(&mut self, n: NodeId) -> bool {
        if self.up[n.index()] {
            return false;
        }
        self.up[n.index()] = true;
        true
    }

    /// Advances this node's own heartbeat and returns the beats to gossip.
    pub fn beat(&mut self) -> Vec<Beat> {
        self.beats[self.me.index()].1 += 1;
        self.beats.clone()
    }

    pub fn beats(&self) -> Vec<Beat> {
        self.beats.clone()
    }

    /// Merges a peer's heartbeats and returns the peers believed down whose
    /// heartbeat moved on, which the caller should probe.
    ///
    /// Gossip never marks a peer up. A relayed heartbeat says when nothing about
    /// when it was sent: it may predate the timeout that marked the peer down
    /// (a beat sent just before a crash reaches this node only later, through
    /// another peer). Only a message from the peer itself, such as its answer
    /// to a probe, is evidence newer than the timeout.
    ///
    /// A relayed beat of this node's own that is newer than its current one
    /// was issued before a disk wipe forgot the incarnation; the incarnation
    /// jumps past it, so this node's beats outrank its old ones again.
    pub fn merge(&mut self, beats: &[Beat]) -> Vec<NodeId> {
        let mut stale_news = Vec::new();
        for (i, b) in beats.iter().enumerate().take(self.beats.len()) {
            if *b <= self.beats[i] {
                continue;
            }
            if i == self.me.index() {
                self.beats[i] = (b.0 + 1, 0);
                continue;
            }
            self.beats[i] = *b;
            if !self.up[i] && *b > self.down_at[i] {
                stale_news.push(NodeId(i as u32));
            }
        }
        stale_news
    }

    /// This node's incarnation (the generation its heartbeats carry).
    pub fn incarnation(&self) -> i64 {
        self.beats[self.me.index()].0
    }

    /// Nodes believed down, in id order.
    pub fn down_nodes(&self) -> Vec<NodeId> {
        (0..self.up.len())
            .filter(|&i| !self.up[i])
            .map(|i| NodeId(i as u32))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Gossip never revives a peer marked down: a newer heartbeat only asks for a probe, and only a message from the peer revives it.
    #[test]
    fn gossip_asks_for_a_probe_and_never_revives() {
        let mut v = View::new(NodeId(0), 3, 1);
        v.merge(&[(1, 0), (5, 3), (7, 1)]);
        assert!(v.mark_down(NodeId(1)));
        assert!(
            v.merge(&[(1, 0), (5, 3), (7, 1)]).is_empty(),
            "same beat: nothing new to probe"
        );
        assert_eq!(v.merge(&[(1, 0), (5, 4), (7, 1)]), vec![NodeId(1)]);
        assert_eq!(v.merge(&[(1, 0), (9, 0), (7, 1)]), vec![NodeId(1)]);
        assert!(!v.is_up(NodeId(1)), "gossip alone never revives");
        assert!(v.mark_up(NodeId(1)), "a message from the peer does");
        assert!(v.is_up(NodeId(1)));
    }

    // A relayed beat of this node's own from a forgotten incarnation makes it jump past that incarnation.
    #[test]
    fn own_old_incarnation_is_outrun() {
        let mut v = View::new(NodeId(0), 2, 3);
        v.merge(&[(5, 8), (1, 0)]);
        assert_eq!(v.incarnation(), 6);
        v.merge(&[(2, 9), (1, 0)]);
        assert_eq!(v.incarnation(), 6, "an older incarnation changes nothing");
    }
}
