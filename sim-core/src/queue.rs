//! The event queue: keys in (time, order) order, popped earliest first.
//!
//! A calendar queue. Time is cut into windows of 2^[`SHIFT`] microseconds;
//! the window being drained sits in a small binary heap, the next
//! [`BUCKETS`] - 1 windows each in an unsorted bucket, and everything beyond
//! that horizon in a binary heap of its own. A push is an append; a pop comes
//! from a heap of one window's events, which stays in the nearest cache
//! instead of one heap of everything pending. Each key is moved at most
//! twice (far heap to bucket, bucket to the window's heap), and a window's
//! bucket becomes its heap in one linear pass.
//!
//! The order is exactly (time, order), the same as one binary heap of every
//! key, whatever the times: windows never overlap, and a key with the same
//! time as another always lands in the same window.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A queue key: the event's time in microseconds and an order that breaks
/// ties (the engine packs its insertion sequence and slab slot into it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Key {
    pub(crate) time: u64,
    pub(crate) order: u64,
}

impl Key {
    /// (time, order) as one number: comparing two is one 128-bit comparison
    /// instead of two branches.
    #[inline]
    fn wide(self) -> u128 {
        u128::from(self.time) << 64 | u128::from(self.order)
    }
}

impl Ord for Key {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.wide().cmp(&other.wide())
    }
}

// The heaps' sifts ask `<=` and `<`; spelling each operator out makes it one
// comparison and a flag, not an `Ordering` built and tested.
impl PartialOrd for Key {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
    #[inline]
    fn lt(&self, other: &Self) -> bool {
        self.wide() < other.wide()
    }
    #[inline]
    fn le(&self, other: &Self) -> bool {
        self.wide() <= other.wide()
    }
    #[inline]
    fn gt(&self, other: &Self) -> bool {
        self.wide() > other.wide()
    }
    #[inline]
    fn ge(&self, other: &Self) -> bool {
        self.wide() >= other.wide()
    }
}

/// log2 of a window's width in microseconds (32 µs). Message latencies are
/// hundreds of microseconds and up, so a window holds a small share of what
/// is pending. 16, 32 and 64 µs windows ran the engine benchmark at 0.92,
/// 0.92 and 0.82 of the bare loop, 8 µs (a horizon shorter than its 10 ms
/// latencies) at 0.80.
const SHIFT: u32 = 5;
/// Windows from the current one to the horizon (33 ms at 32 µs).
const BUCKETS: usize = 1024;

#[derive(Clone)]
pub(crate) struct Queue {
    /// The current window's keys, and any pushed for an earlier window.
    now: BinaryHeap<Reverse<Key>>,
    /// The current window's number (time >> [`SHIFT`]).
    window: u64,
    /// Bucket `w % BUCKETS` holds the keys of window `w`, for the windows
    /// after the current one and before the horizon (no buckets until the first such key).
    buckets: Vec<Vec<Reverse<Key>>>,
    /// Bit `i` is set when bucket `i` is not empty.
    occupied: [u64; BUCKETS / 64],
    in_buckets: usize,
    /// Keys of windows at or past the horizon, `window + BUCKETS`.
    far: BinaryHeap<Reverse<Key>>,
}

impl Queue {
    pub(crate) fn new() -> Queue {
        Queue {
            now: BinaryHeap::new(),
            window: 0,
            // Made at the first push into a bucket: a queue that never
            // looks past its current window (a holding run's) stays small
            // to copy.
            buckets: Vec::new(),
            occupied: [0; BUCKETS / 64],
            in_buckets: 0,
            far: BinaryHeap::new(),
        }
    }

    /// Every key queued, in no particular order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.now
            .iter()
            .chain(self.buckets.iter().flatten())
            .chain(self.far.iter())
            .map(|k| k.0)
    }

    pub(crate) fn len(&self) -> usize {
        self.now.len() + self.in_buckets + self.far.len()
    }

    /// The first window past the horizon. Window numbers are below 2^58, so this never overflows.
    fn horizon(&self) -> u64 {
        self.window + BUCKETS as u64
    }

    #[inline]
    fn window_of(key: Key) -> u64 {
        key.time >> SHIFT
    }

    /// Appends `key` to the bucket of its window (after the current one, before the horizon).
    #[inline]
    fn bucket_push(&mut self, window: u64, key: Key) {
        if self.buckets.is_empty() {
            self.buckets = (0..BUCKETS).map(|_| Vec::new()).collect();
        }
        let i = window as usize % BUCKETS;
        self.buckets[i].push(Reverse(key));
        self.occupied[i / 64] |= 1 << (i % 64);
        self.in_buckets += 1;
    }

    /// The first window after the current one whose bucket holds keys.
    /// Only called when some bucket does.
    fn next_occupied(&self) -> u64 {
        let from = (self.window + 1) as usize % BUCKETS;
        // Scan the bitmap from `from`, wrapping around once.
        let mut i = from;
        loop {
            let bits = self.occupied[i / 64] >> (i % 64);
            if bits != 0 {
                let found = i + bits.trailing_zeros() as usize;
                let ahead = (found + BUCKETS - from) % BUCKETS;
                return self.window + 1 + ahead as u64;
            }
            i = (i / 64 + 1) * 64 % BUCKETS;
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, key: Key) {
        let w = Self::window_of(key);
        if w <= self.window {
            self.now.push(Reverse(key));
        } else if w < self.horizon() {
            self.bucket_push(w, key);
        } else {
            self.far.push(Reverse(key));
        }
    }

    /// The earliest key. Takes `&mut self` because it may move to the next
    /// non-empty window first; what the queue holds does not change.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<Key> {
        if self.now.is_empty() {
            self.advance();
        }
        self.now.peek().map(|r| r.0)
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Key> {
        if self.now.is_empty() {
            self.advance();
        }
        self.now.pop().map(|r| r.0)
    }

    /// With the current window drained, makes the next window that holds
    /// anything current. Leaves `now` empty only when the queue is.
    #[cold]
    fn advance(&mut self) {
        if self.in_buckets == 0 {
            // Nothing before the horizon: jump to the far heap's earliest window.
            let Some(&Reverse(first)) = self.far.peek() else {
                return;
            };
            self.window = Self::window_of(first);
        } else {
            self.window = self.next_occupied();
            // That window's bucket becomes the heap, and the drained heap's
            // allocation becomes the bucket.
            let i = self.window as usize % BUCKETS;
            let spare = std::mem::take(&mut self.now).into_vec();
            let keys = std::mem::replace(&mut self.buckets[i], spare);
            self.occupied[i / 64] &= !(1 << (i % 64));
            self.in_buckets -= keys.len();
            self.now = BinaryHeap::from(keys);
        }
        // The horizon moved with the window: the far keys it now reaches
        // move in. Their windows' buckets are free: every window they could
        // share a bucket with is behind the current one.
        let (w, horizon) = (self.window, self.horizon());
        while let Some(&Reverse(k)) = self.far.peek() {
            let kw = Self::window_of(k);
            if kw >= horizon {
                break;
            }
            self.far.pop();
            if kw <= w {
                self.now.push(Reverse(k));
            } else {
                self.bucket_push(kw, k);
            }
        }
        debug_assert!(!self.now.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{SimRng, Stream};

    /// A time around `base`: within a window, within the horizon, past it,
    /// far past it, or at the end of time, so every path is taken.
    fn time(rng: &mut SimRng, base: u64) -> u64 {
        match rng.below(10) {
            0 => base,
            1..=4 => base.saturating_add(rng.below(10_000)),
            5 | 6 => base.saturating_add(rng.below(200_000)),
            7 => base.saturating_add(rng.below(100_000_000)),
            8 => rng.below(base.saturating_add(1)),
            _ => u64::MAX - rng.below(3) * 64,
        }
    }

    // The queue pops exactly what one binary heap of every key pops, in the
    // same order, under random pushes, peeks and pops: ties in time broken by
    // order, keys pushed behind the current window, jumps across empty
    // windows and past the horizon, times at the end of the u64 range.
    #[test]
    fn pops_what_one_heap_pops() {
        for seed in 0..40 {
            let mut rng = SimRng::new(seed, Stream::Custom(3));
            let mut q = Queue::new();
            let mut reference = BinaryHeap::new();
            let mut order = 0;
            let mut now = 0;
            let mut popped = 0;
            for _ in 0..20_000 {
                if rng.chance(0.52) {
                    let key = Key {
                        time: time(&mut rng, now),
                        order,
                    };
                    order += 1;
                    q.push(key);
                    reference.push(Reverse(key));
                } else {
                    if rng.chance(0.3) {
                        assert_eq!(q.peek(), reference.peek().map(|r| r.0), "seed {seed}");
                    }
                    let got = q.pop();
                    assert_eq!(got, reference.pop().map(|r| r.0), "seed {seed}");
                    if let Some(k) = got {
                        // Like the engine's clock, mostly: sometimes behind the key.
                        now = if rng.chance(0.1) { k.time / 2 } else { k.time };
                        popped += 1;
                    }
                }
                assert_eq!(q.len(), reference.len());
            }
            while let Some(Reverse(k)) = reference.pop() {
                assert_eq!(q.pop(), Some(k), "seed {seed}");
            }
            assert_eq!(q.pop(), None);
            assert_eq!(q.peek(), None);
            assert!(popped > 5_000, "seed {seed}: the test popped ({popped})");
        }
    }
}
