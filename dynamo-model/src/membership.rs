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
    pub fn new(me: NodeId, nodes: usize, generation: i64) -> View {
        let mut beats = vec![(i64::MIN, 0); nodes];
        beats[me.index()] = (generation, 0);
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

    /// Merges a peer's heartbeats. A peer believed down whose heartbeat has
    /// moved past the one known when it was marked down is alive again.
    /// Returns the peers that came back up.
    pub fn merge(&mut self, beats: &[Beat]) -> Vec<NodeId> {
        let mut revived = Vec::new();
        for (i, b) in beats.iter().enumerate().take(self.beats.len()) {
            if *b > self.beats[i] {
                self.beats[i] = *b;
                if !self.up[i] && *b > self.down_at[i] {
                    self.up[i] = true;
                    revived.push(NodeId(i as u32));
                }
            }
        }
        revived
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

    // A peer marked down comes back only on a heartbeat newer than the one known when it went down.
    #[test]
    fn revival_needs_a_newer_heartbeat() {
        let mut v = View::new(NodeId(0), 3, 0);
        v.merge(&[(0, 0), (5, 3), (7, 1)]);
        assert!(v.mark_down(NodeId(1)));
        assert!(
            v.merge(&[(0, 0), (5, 3), (7, 1)]).is_empty(),
            "same beat: still down"
        );
        assert!(!v.is_up(NodeId(1)));
        assert_eq!(
            v.merge(&[(0, 0), (9, 0), (7, 1)]),
            vec![NodeId(1)],
            "a new generation revives it"
        );
        assert!(v.is_up(NodeId(1)));
    }
}
