//! Seeded randomness: one ChaCha stream per purpose, all derived from one u64 seed.
//!
//! Every stream shares the key derived from the run seed and differs in the
//! ChaCha *stream number*, so streams are independent: an extra draw on the
//! network stream leaves every node's stream, the workload and the faults
//! exactly where they were.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// What a stream is for. Each purpose has its own ChaCha stream number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Stream {
    /// Latency, loss and duplication draws.
    Network,
    /// Randomized fault schedules.
    Faults,
    /// Generated client load.
    Workload,
    /// Set-up decisions made once before the run (ring tokens, for example).
    Setup,
    /// One stream per node, handed to it through its context.
    Node(u32),
    /// Anything else a harness needs; numbers are the caller's to keep distinct.
    Custom(u32),
}

impl Stream {
    fn number(self) -> u64 {
        match self {
            Stream::Network => 1,
            Stream::Faults => 2,
            Stream::Workload => 3,
            Stream::Setup => 4,
            Stream::Node(i) => (1 << 32) | u64::from(i),
            Stream::Custom(i) => (2 << 32) | u64::from(i),
        }
    }
}

/// A deterministic random stream. Construct it only from a seed and a [`Stream`].
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

/// Hashes the stream's position: its key, stream number and word position.
impl std::hash::Hash for SimRng {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.get_seed().hash(state);
        self.inner.get_stream().hash(state);
        self.inner.get_word_pos().hash(state);
    }
}

impl SimRng {
    /// The stream for `stream` under the run seed `seed`; the same pair always gives the same draws.
    pub fn new(seed: u64, stream: Stream) -> Self {
        let mut inner = ChaCha8Rng::seed_from_u64(seed);
        inner.set_stream(stream.number());
        SimRng { inner }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform float in [0, 1) with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `0..n`, without modulo bias (Lemire's method). `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no valid result");
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// A uniform index into a slice of length `len` (> 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `p`. Draws nothing when `p` is 0 or 1, so turning
    /// a probability off does not shift the stream.
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.unit() < p
        }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An extra draw on one stream leaves every other stream's sequence unchanged.
    #[test]
    fn streams_are_independent() {
        let seed = 42;
        let take = |extra: bool| {
            let mut net = SimRng::new(seed, Stream::Network);
            let mut node = SimRng::new(seed, Stream::Node(3));
            let mut work = SimRng::new(seed, Stream::Workload);
            if extra {
                net.next_u64();
            }
            let n: Vec<u64> = (0..8).map(|_| node.next_u64()).collect();
            let w: Vec<u64> = (0..8).map(|_| work.next_u64()).collect();
            (n, w, net.next_u64())
        };
        let (n1, w1, net1) = take(false);
        let (n2, w2, net2) = take(true);
        assert_eq!(n1, n2);
        assert_eq!(w1, w2);
        assert_ne!(net1, net2, "the extra draw did move the network stream");
    }

    // Streams for different purposes and different seeds start differently.
    #[test]
    fn streams_and_seeds_differ() {
        let a = SimRng::new(1, Stream::Node(0)).next_u64();
        let b = SimRng::new(1, Stream::Node(1)).next_u64();
        let c = SimRng::new(2, Stream::Node(0)).next_u64();
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    // below(n) covers 0..n evenly: every bucket within 5% of n/k over 100k draws.
    #[test]
    fn below_is_uniform() {
        let mut r = SimRng::new(7, Stream::Custom(0));
        let mut counts = [0u32; 7];
        for _ in 0..140_000 {
            counts[r.below(7) as usize] += 1;
        }
        for c in counts {
            assert!((19_000..=21_000).contains(&c), "{counts:?}");
        }
    }

    // chance(0) and chance(1) draw nothing, so switching a probability off keeps the stream aligned.
    #[test]
    fn chance_extremes_do_not_draw() {
        let mut a = SimRng::new(3, Stream::Network);
        let mut b = SimRng::new(3, Stream::Network);
        assert!(!a.chance(0.0));
        assert!(a.chance(1.0));
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
