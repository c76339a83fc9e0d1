//! Versioning (paper §4.4, Fig. 3): vector clocks, versions, and syntactic
//! reconciliation of a key's version set; and the last-write-wins alternative.

use crate::config::Versioning;
use sim_core::NodeId;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// How two clocks relate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Causality {
    Equal,
    /// The left clock happened before the right one.
    Before,
    /// The left clock happened after (descends from) the right one.
    After,
    Concurrent,
}

impl Causality {
    pub fn reverse(self) -> Causality {
        match self {
            Causality::Before => Causality::After,
            Causality::After => Causality::Before,
            c => c,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct ClockEntry {
    node: NodeId,
    counter: u64,
    /// The coordinator's clock reading at this entry's last update, for truncation.
    updated_us: i64,
}

/// A vector clock: node -> counter, a missing entry counting as 0. Entries are kept sorted by node.
#[derive(Clone, PartialEq, Eq, Default, Debug)]
pub struct VClock {
    entries: Vec<ClockEntry>,
}

impl VClock {
    pub fn new() -> VClock {
        VClock::default()
    }

    /// Builds a clock from (node, counter) pairs; a test and scenario convenience.
    pub fn from_counters(pairs: &[(u32, u64)]) -> VClock {
        let mut c = VClock::new();
        for &(n, k) in pairs {
            if k > 0 {
                c.set(NodeId(n), k, 0);
            }
        }
        c
    }

    pub fn get(&self, node: NodeId) -> u64 {
        match self.entries.binary_search_by_key(&node, |e| e.node) {
            Ok(i) => self.entries[i].counter,
            Err(_) => 0,
        }
    }

    fn set(&mut self, node: NodeId, counter: u64, updated_us: i64) {
        match self.entries.binary_search_by_key(&node, |e| e.node) {
            Ok(i) => {
                self.entries[i].counter = counter;
                self.entries[i].updated_us = updated_us;
            }
            Err(i) => self.entries.insert(
                i,
                ClockEntry {
                    node,
                    counter,
                    updated_us,
                },
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// (node, counter) pairs in node order.
    pub fn counters(&self) -> impl Iterator<Item = (NodeId, u64)> + '_ {
        self.entries.iter().map(|e| (e.node, e.counter))
    }

    /// Sets `node`'s counter to `counter` (which must exceed the current one), stamped `at_us`.
    pub fn advance(&mut self, node: NodeId, counter: u64, at_us: i64) {
        assert!(counter > self.get(node), "a clock entry only moves forward");
        self.set(node, counter, at_us);
    }

    pub fn compare(&self, other: &VClock) -> Causality {
        let (mut less, mut greater) = (false, false);
        let (a, b) = (&self.entries, &other.entries);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let (x, y) = match (a.get(i), b.get(j)) {
                (Some(ea), Some(eb)) => match ea.node.cmp(&eb.node) {
                    Ordering::Equal => {
                        i += 1;
                        j += 1;
                        (ea.counter, eb.counter)
                    }
                    Ordering::Less => {
                        i += 1;
                        (ea.counter, 0)
                    }
                    Ordering::Greater => {
                        j += 1;
                        (0, eb.counter)
                    }
                },
                (Some(ea), None) => {
                    i += 1;
                    (ea.counter, 0)
                }
                (None, Some(eb)) => {
                    j += 1;
                    (0, eb.counter)
                }
                (None, None) => unreachable!(),
            };
            less |= x < y;
            greater |= x > y;
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }

    /// Whether this clock is equal to or after `other`.
    pub fn descends(&self, other: &VClock) -> bool {
        matches!(self.compare(other), Causality::Equal | Causality::After)
    }

    /// The pointwise maximum. An entry keeps the update time of the side with
    /// the larger counter (the later of the two on a tie).
    pub fn merge(&self, other: &VClock) -> VClock {
        let mut out = self.clone();
        for e in &other.entries {
            match out.entries.binary_search_by_key(&e.node, |x| x.node) {
                Ok(i) => {
                    let o = &mut out.entries[i];
                    if e.counter > o.counter
                        || (e.counter == o.counter && e.updated_us > o.updated_us)
                    {
                        *o = *e;
                    }
                }
                Err(i) => out.entries.insert(i, *e),
            }
        }
        out
    }

    /// Drops the least recently updated entries until at most `max` remain
    /// (paper §4.4). Returns how many were dropped. Ties drop the lower node id first.
    pub fn truncate(&mut self, max: usize) -> usize {
        let mut dropped = 0;
        while self.entries.len() > max {
            let oldest = (0..self.entries.len())
                .min_by_key(|&i| (self.entries[i].updated_us, self.entries[i].node))
                .expect("non-empty");
            self.entries.remove(oldest);
            dropped += 1;
        }
        dropped
    }
}

/// Renders sorted by node: `[n0:2 n3:1]`.
impl fmt::Display for VClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{}:{}", e.node, e.counter)?;
        }
        write!(f, "]")
    }
}

/// Last-write-wins timestamp: the coordinator's (skewed) clock reading, ties broken by node id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct Stamp {
    pub clock_us: i64,
    pub node: NodeId,
}

/// One version of a key's value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Version {
    pub value: Arc<str>,
    pub clock: VClock,
    pub stamp: Stamp,
    /// The id of the client operation that wrote it. Only the omniscient
    /// checkers read this; no node decision depends on it.
    pub write: u64,
}

impl Version {
    /// Whether two versions are the same write.
    pub fn same_write(&self, other: &Version) -> bool {
        self.write == other.write && self.clock == other.clock && self.stamp == other.stamp
    }
}

/// Renders `"value"[n0:2 n1:1]` with a vector clock, or `"value"@60.000ms/n0`
/// in last-write-wins mode, where versions carry no clock.
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.clock.is_empty() {
            let us = self.stamp.clock_us;
            let sign = if us < 0 { "-" } else { "" };
            let abs = us.unsigned_abs();
            write!(
                f,
                "{:?}@{sign}{}.{:03}ms/{}",
                &*self.value,
                abs / 1_000,
                abs % 1_000,
                self.stamp.node
            )
        } else {
            write!(f, "{:?}{}", &*self.value, self.clock)
        }
    }
}

/// Adds `v` to a key's version set (syntactic reconciliation). Returns whether the set changed.
///
/// Vector clocks: `v` is ignored if a stored version is equal to or after
/// it; otherwise every stored version it dominates is dropped and `v` joins
/// the set, which therefore stays pairwise concurrent. Last write wins: the
/// set holds one version, the one with the highest stamp.
pub fn reconcile(set: &mut Vec<Version>, v: &Version, mode: Versioning) -> bool {
    match mode {
        Versioning::VectorClock => {
            if set.iter().any(|e| e.clock.descends(&v.clock)) {
                return false;
            }
            set.retain(|e| v.clock.compare(&e.clock) != Causality::After);
            set.push(v.clone());
            true
        }
        Versioning::LastWriteWins => match set.first() {
            Some(cur) if cur.stamp >= v.stamp => false,
            _ => {
                set.clear();
                set.push(v.clone());
                true
            }
        },
    }
}

/// Reconciles every version of `incoming` into `set`; returns whether it changed.
pub fn reconcile_all(set: &mut Vec<Version>, incoming: &[Version], mode: Versioning) -> bool {
    let mut changed = false;
    for v in incoming {
        changed |= reconcile(set, v, mode);
    }
    changed
}

/// The merge of every version's clock: the context a get returns.
pub fn merged_clock(set: &[Version]) -> VClock {
    set.iter().fold(VClock::new(), |acc, v| acc.merge(&v.clock))
}

/// Whether two version sets hold the same versions (in any order).
pub fn same_versions(a: &[Version], b: &[Version]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| x.same_write(y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(pairs: &[(u32, u64)]) -> VClock {
        VClock::from_counters(pairs)
    }

    fn version(clock: VClock, value: &str) -> Version {
        Version {
            value: Arc::from(value),
            clock,
            stamp: Stamp::default(),
            write: 0,
        }
    }

    // The paper's Fig. 3, step by step: Sx=n0, Sy=n1, Sz=n2.
    #[test]
    fn paper_figure_3() {
        let (sx, sy, sz) = (NodeId(0), NodeId(1), NodeId(2));
        let mode = Versioning::VectorClock;
        let mut d1 = VClock::new();
        d1.advance(sx, 1, 1);
        assert_eq!(d1.to_string(), "[n0:1]");
        let mut d2 = d1.clone();
        d2.advance(sx, 2, 2);
        assert_eq!(d2.compare(&d1), Causality::After);
        let mut d3 = d2.clone();
        d3.advance(sy, 1, 3);
        let mut d4 = d2.clone();
        d4.advance(sz, 1, 4);
        assert_eq!(
            (d3.to_string(), d4.to_string()),
            ("[n0:2 n1:1]".into(), "[n0:2 n2:1]".into())
        );
        assert_eq!(d3.compare(&d4), Causality::Concurrent);
        // A replica holding D2 receives D3 and D4: D2 is dropped, D3 and D4 stay as siblings.
        let mut set = vec![version(d1.clone(), "D1")];
        assert!(reconcile(&mut set, &version(d2.clone(), "D2"), mode));
        assert_eq!(set.len(), 1);
        assert!(
            !reconcile(&mut set, &version(d1, "D1"), mode),
            "an older version is ignored"
        );
        assert!(reconcile(&mut set, &version(d3.clone(), "D3"), mode));
        assert!(reconcile(&mut set, &version(d4.clone(), "D4"), mode));
        assert_eq!(
            set.iter().map(|v| &*v.value).collect::<Vec<_>>(),
            ["D3", "D4"]
        );
        // A client reads both, and Sx coordinates the reconciled write D5.
        let mut d5 = merged_clock(&set);
        d5.advance(sx, 3, 5);
        assert_eq!(d5.to_string(), "[n0:3 n1:1 n2:1]");
        assert!(reconcile(&mut set, &version(d5, "D5"), mode));
        assert_eq!(set.iter().map(|v| &*v.value).collect::<Vec<_>>(), ["D5"]);
    }

    fn all_clocks() -> Vec<VClock> {
        let mut out = Vec::new();
        for a in 0..=2 {
            for b in 0..=2 {
                for d in 0..=2 {
                    out.push(c(&[(0, a), (1, b), (2, d)]));
                }
            }
        }
        out
    }

    // Over every clock on 3 nodes with counters 0..=2: compare is antisymmetric and agrees
    // with merge (a <= b iff merge(a, b) == b), and merge is commutative, associative, idempotent.
    #[test]
    fn exhaustive_clock_properties() {
        let clocks = all_clocks();
        assert_eq!(clocks.len(), 27);
        for a in &clocks {
            assert_eq!(a.merge(a), *a);
            assert_eq!(a.compare(a), Causality::Equal);
            for b in &clocks {
                let ab = a.compare(b);
                assert_eq!(b.compare(a), ab.reverse(), "{a} vs {b}");
                assert_eq!(a.merge(b), b.merge(a));
                assert_eq!(
                    a.merge(b) == *b,
                    matches!(ab, Causality::Before | Causality::Equal),
                    "{a} vs {b}"
                );
                assert_eq!(ab == Causality::Equal, a == b);
                for d in &clocks {
                    assert_eq!(a.merge(b).merge(d), a.merge(&b.merge(d)));
                }
            }
        }
    }

    // The store never holds two comparable versions, whatever order versions arrive in,
    // and it ends with exactly the maximal versions of everything it was given.
    #[test]
    fn store_keeps_only_concurrent_versions() {
        let clocks = all_clocks();
        let mut rng = sim_core::SimRng::new(11, sim_core::Stream::Custom(0));
        for _ in 0..3_000 {
            let mut set = Vec::new();
            let mut given = Vec::new();
            for _ in 0..1 + rng.index(8) {
                let v = version(clocks[rng.index(27)].clone(), "x");
                reconcile(&mut set, &v, Versioning::VectorClock);
                given.push(v);
                for (i, x) in set.iter().enumerate() {
                    for y in &set[i + 1..] {
                        assert_eq!(x.clock.compare(&y.clock), Causality::Concurrent);
                    }
                }
            }
            let maximal: Vec<&Version> = given
                .iter()
                .filter(|g| {
                    !given
                        .iter()
                        .any(|h| h.clock.compare(&g.clock) == Causality::After)
                })
                .collect();
            for m in &maximal {
                assert!(set.iter().any(|s| s.clock == m.clock));
            }
            assert!(
                set.iter()
                    .all(|s| maximal.iter().any(|m| m.clock == s.clock))
            );
        }
    }

    // Truncation drops the least recently updated entries first.
    #[test]
    fn truncation_drops_oldest() {
        let mut v = VClock::new();
        v.advance(NodeId(2), 1, 30);
        v.advance(NodeId(0), 1, 10);
        v.advance(NodeId(1), 1, 20);
        assert_eq!(v.truncate(2), 1);
        assert_eq!(v.to_string(), "[n1:1 n2:1]");
    }

    // Last write wins keeps the highest (clock, node) stamp, whatever the arrival order.
    #[test]
    fn last_write_wins_keeps_highest_stamp() {
        let mk = |clock_us, node, val: &str| Version {
            value: Arc::from(val),
            clock: VClock::new(),
            stamp: Stamp {
                clock_us,
                node: NodeId(node),
            },
            write: 0,
        };
        let mut set = Vec::new();
        assert!(reconcile(
            &mut set,
            &mk(5, 1, "a"),
            Versioning::LastWriteWins
        ));
        assert!(reconcile(
            &mut set,
            &mk(5, 2, "b"),
            Versioning::LastWriteWins
        ));
        assert!(!reconcile(
            &mut set,
            &mk(4, 9, "c"),
            Versioning::LastWriteWins
        ));
        assert_eq!(set.len(), 1);
        assert_eq!(&*set[0].value, "b");
    }
}
