//! The heartbeat, a noun gossip messages and the failure detector share.

/// A heartbeat: (incarnation, counter), ordered by incarnation, then
/// counter. The incarnation is bumped at every start and kept on disk, so a
/// restarted node's beats outrank its old ones.
///
/// Packed into one 128-bit number whose order is that order, so merging
/// views (gossip's inner loop: every peer, every round) is a branch-free max.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Beat(u128);

impl Beat {
    /// The beat a view holds for a peer it has heard nothing from.
    pub const NONE: Beat = Beat::new(i64::MIN, 0);

    pub const fn new(incarnation: i64, counter: u64) -> Beat {
        // Flipping the sign bit maps i64 order onto u64 order.
        let inc = (incarnation as u64) ^ (1 << 63);
        Beat(((inc as u128) << 64) | counter as u128)
    }

    pub const fn incarnation(self) -> i64 {
        (((self.0 >> 64) as u64) ^ (1 << 63)) as i64
    }

    pub const fn counter(self) -> u64 {
        self.0 as u64
    }
}
