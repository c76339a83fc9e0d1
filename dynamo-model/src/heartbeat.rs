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

    /// The beat numbered `counter` within `incarnation`.
    pub const fn new(incarnation: i64, counter: u64) -> Beat {
        // Flipping the sign bit maps i64 order onto u64 order.
        let inc = (incarnation as u64) ^ (1 << 63);
        Beat(((inc as u128) << 64) | counter as u128)
    }

    /// The incarnation the beat belongs to (its node bumps it at every start).
    pub const fn incarnation(self) -> i64 {
        (((self.0 >> 64) as u64) ^ (1 << 63)) as i64
    }

    /// The beat's number within its incarnation; the node raises it every gossip round.
    pub const fn counter(self) -> u64 {
        self.0 as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
