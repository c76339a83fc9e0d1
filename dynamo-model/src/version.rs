//! Versioning (paper §4.4, Fig. 3): vector clocks, versions, and syntactic
//! reconciliation of a key's version set; and the last-write-wins alternative.
//!
//! A version carries the vector clock the paper describes (its context plus
//! the coordinator's new counter) and also remembers which entry is its own
//! "dot": the (actor, counter) that the write created. Comparing versions by
//! dots (a version is superseded only by one whose *context* includes its
//! dot) is what keeps two concurrent writes coordinated by the same node from
//! silently overwriting each other, which comparing the plain clocks would
//! do. For every version set that the paper's Fig. 3 builds, both give the
//! same answers. (This is the dotted-version-vector refinement of Riak and
//! Preguiça et al.; the paper's plain scheme loses such writes.)

use crate::config::Versioning;
use sim_core::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// How two clocks relate.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Causality {
    /// Both clocks hold the same events.
    Equal,
    /// The left clock happened before the right one.
    Before,
    /// The left clock happened after (descends from) the right one.
    After,
    /// Neither clock includes the other: the writes were concurrent.
    Concurrent,
}

impl Causality {
    /// The same relation seen from the other clock: `Before` and `After` swap.
    pub fn reverse(self) -> Causality {
        match self {
            Causality::Before => Causality::After,
            Causality::After => Causality::Before,
            c => c,
        }
    }
}

/// Who increments a clock entry: a node, in one epoch of its disk. A node
/// whose disk is wiped comes back in a new epoch, so it never reuses a
/// counter it has forgotten.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Actor {
    /// The node that increments the entry.
    pub node: NodeId,
    /// 0 for the node's first disk; after a wipe, the node's clock reading in ms when it restarted.
    pub epoch: u32,
}

impl Actor {
    /// `node` as an actor in its first epoch (0).
    pub fn new(node: NodeId) -> Actor {
        Actor { node, epoch: 0 }
    }
}

/// `n0`, or `n0@1500` for n0's disk since its restart at 1500ms.
impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch == 0 {
            write!(f, "{}", self.node)
        } else {
            write!(f, "{}@{}", self.node, self.epoch)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
struct ClockEntry {
    node: Actor,
    counter: u64,
    /// The coordinator's clock reading at this entry's last update, for truncation.
    updated_us: i64,
}

/// A vector clock: actor -> counter, a missing entry counting as 0, read as
/// the set of events {(actor, 1..=counter)}. It may also hold "extra"
/// events beyond an actor's contiguous counter (a version vector with
/// exceptions), so that a context that has seen (n1, 105) but not
/// (n1, 104) says exactly that instead of claiming both. Entries are sorted
/// by actor; an extra is never contiguous with its actor's counter.
///
/// A clock is shared, copy on write: a version's clock is copied into every
/// replica's store, every message that carries it and the history, and
/// sharing keeps those copies one allocation (a third of a large run's
/// memory was copies of clocks). Only a changed clock gets its own.
/// The empty clock (most client contexts) holds no allocation at all.
#[derive(Clone, Default)]
pub struct VClock {
    data: Option<Arc<ClockData>>,
}

static EMPTY_CLOCK: ClockData = ClockData {
    entries: Vec::new(),
    extra: Vec::new(),
};

impl PartialEq for VClock {
    fn eq(&self, other: &VClock) -> bool {
        **self == **other
    }
}

impl Eq for VClock {}

/// Hashes what the clock holds, as equality compares it (no clock and an
/// empty one are the same clock).
impl std::hash::Hash for VClock {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

/// What a [`VClock`] holds; reached through it.
#[doc(hidden)]
#[derive(Clone, PartialEq, Eq, Default, Hash)]
pub struct ClockData {
    entries: Vec<ClockEntry>,
    /// Events past their actor's contiguous counter, sorted by (actor, counter).
    extra: Vec<ClockEntry>,
}

impl std::ops::Deref for VClock {
    type Target = ClockData;
    fn deref(&self) -> &ClockData {
        self.data.as_deref().unwrap_or(&EMPTY_CLOCK)
    }
}

impl std::ops::DerefMut for VClock {
    fn deref_mut(&mut self) -> &mut ClockData {
        Arc::make_mut(self.data.get_or_insert_with(Default::default))
    }
}

impl fmt::Debug for VClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VClock")
            .field("entries", &self.entries)
            .field("extra", &self.extra)
            .finish()
    }
}

impl VClock {
    /// The empty clock, which includes no event.
    pub fn new() -> VClock {
        VClock::default()
    }

    /// Builds a clock from (node, counter) pairs; a test and scenario convenience.
    pub fn from_counters(pairs: &[(u32, u64)]) -> VClock {
        let mut c = VClock::new();
        for &(n, k) in pairs {
            if k > 0 {
                c.set(Actor::new(NodeId(n)), k, 0);
            }
        }
        c
    }

    /// The actor's contiguous counter: every event 1..=get(actor) is included.
    pub fn get(&self, node: Actor) -> u64 {
        match self.entries.binary_search_by_key(&node, |e| e.node) {
            Ok(i) => self.entries[i].counter,
            Err(_) => 0,
        }
    }

    /// Whether the event (actor, counter) is included.
    pub fn covers(&self, node: Actor, counter: u64) -> bool {
        // Extras are sorted by (actor, counter), so a binary search keeps a
        // comparison cheap when a clock gathers many siblings' events.
        counter <= self.get(node)
            || self
                .extra
                .binary_search_by(|e| (e.node, e.counter).cmp(&(node, counter)))
                .is_ok()
    }

    /// The highest counter of the actor's that is included (contiguous or extra).
    pub fn max_counter(&self, node: Actor) -> u64 {
        self.extra
            .iter()
            .filter(|e| e.node == node)
            .map(|e| e.counter)
            .max()
            .unwrap_or(0)
            .max(self.get(node))
    }

    fn set(&mut self, node: Actor, counter: u64, updated_us: i64) {
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

    /// Whether the clock includes no event.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.extra.is_empty()
    }

    /// How many actors the clock names.
    pub fn len(&self) -> usize {
        let mut actors: Vec<Actor> = self
            .entries
            .iter()
            .chain(&self.extra)
            .map(|e| e.node)
            .collect();
        actors.sort();
        actors.dedup();
        actors.len()
    }

    /// (actor, contiguous counter) pairs in actor order.
    pub fn counters(&self) -> impl Iterator<Item = (Actor, u64)> + '_ {
        self.entries.iter().map(|e| (e.node, e.counter))
    }

    /// (actor, counter) of every extra event, in order.
    pub fn extras(&self) -> impl Iterator<Item = (Actor, u64)> + '_ {
        self.extra.iter().map(|e| (e.node, e.counter))
    }

    /// Sets the actor's contiguous counter to `counter` (which must exceed the current one), stamped `at_us`.
    pub fn advance(&mut self, node: Actor, counter: u64, at_us: i64) {
        assert!(counter > self.get(node), "a clock entry only moves forward");
        self.set(node, counter, at_us);
        self.normalize();
    }

    /// Adds the single event (actor, counter), stamped `at_us`.
    pub fn add_event(&mut self, node: Actor, counter: u64, at_us: i64) {
        if self.covers(node, counter) {
            return;
        }
        let e = ClockEntry {
            node,
            counter,
            updated_us: at_us,
        };
        let i = self
            .extra
            .partition_point(|x| (x.node, x.counter) < (node, counter));
        self.extra.insert(i, e);
        self.normalize();
    }

    /// Folds extras that have become contiguous into their counters and drops covered ones.
    fn normalize(&mut self) {
        let mut i = 0;
        while i < self.extra.len() {
            let e = self.extra[i];
            let have = self.get(e.node);
            if e.counter <= have {
                self.extra.remove(i);
            } else if e.counter == have + 1 {
                let t = self
                    .entries
                    .iter()
                    .find(|x| x.node == e.node)
                    .map_or(e.updated_us, |x| x.updated_us.max(e.updated_us));
                self.set(e.node, e.counter, t);
                self.extra.remove(i);
                // Earlier extras of this actor may now be contiguous too: rescan.
                i = 0;
            } else {
                i += 1;
            }
        }
    }

    /// Whether every event of `self` is in `other`.
    fn subset_of(&self, other: &VClock) -> bool {
        self.entries.iter().all(|e| other.get(e.node) >= e.counter)
            && self.extra.iter().all(|e| other.covers(e.node, e.counter))
    }

    /// Compares the event sets: equal, a subset (before), a superset (after), or neither (concurrent).
    pub fn compare(&self, other: &VClock) -> Causality {
        match (self.subset_of(other), other.subset_of(self)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (false, false) => Causality::Concurrent,
        }
    }

    /// Whether this clock is equal to or after `other`.
    pub fn descends(&self, other: &VClock) -> bool {
        other.subset_of(self)
    }

    /// The union of both event sets. An entry keeps the later update time.
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
        for e in &other.extra {
            if !out.covers(e.node, e.counter) {
                let i = out
                    .extra
                    .partition_point(|x| (x.node, x.counter) < (e.node, e.counter));
                out.extra.insert(i, *e);
            }
        }
        out.normalize();
        out
    }

    /// Drops the least recently updated actors until at most `max` remain
    /// (paper §4.4). Returns how many were dropped. Ties drop the lower actor first.
    pub fn truncate(&mut self, max: usize) -> usize {
        self.truncate_keeping(max, None)
    }

    /// Like [`VClock::truncate`], but never drops `keep`'s events (a new write's own dot).
    pub fn truncate_keeping(&mut self, max: usize, keep: Option<Actor>) -> usize {
        let mut dropped = 0;
        while self.len() > max.max(1) {
            let mut last: Vec<(i64, Actor)> = Vec::new();
            for e in self.entries.iter().chain(&self.extra) {
                match last.iter_mut().find(|(_, a)| *a == e.node) {
                    Some(slot) => slot.0 = slot.0.max(e.updated_us),
                    None => last.push((e.updated_us, e.node)),
                }
            }
            let Some(&(_, oldest)) = last.iter().filter(|(_, a)| Some(*a) != keep).min() else {
                break;
            };
            self.entries.retain(|e| e.node != oldest);
            self.extra.retain(|e| e.node != oldest);
            dropped += 1;
        }
        dropped
    }
}

/// Renders sorted by actor: `[n0:2 n3:1]`, with extra events as `+k`: `[n1:103+105]`.
impl fmt::Display for VClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut actors: Vec<Actor> = self
            .entries
            .iter()
            .chain(&self.extra)
            .map(|e| e.node)
            .collect();
        actors.sort();
        actors.dedup();
        write!(f, "[")?;
        for (i, a) in actors.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{a}:{}", self.get(*a))?;
            for e in self.extra.iter().filter(|e| e.node == *a) {
                write!(f, "+{}", e.counter)?;
            }
        }
        write!(f, "]")
    }
}

/// Last-write-wins timestamp: the coordinator's (skewed) clock reading, ties
/// broken by node id. It also carries whether the version is a tombstone (a
/// delete's version), which fits in the stamp's padding, so a version is no
/// bigger for it (a million stored versions are 8 MB less); a tombstone wins
/// a tie of clock and node, which only one node's two writes in one
/// microsecond could make.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default, Hash)]
pub struct Stamp {
    /// The coordinator's clock reading when it made the version, in microseconds (skew included).
    pub clock_us: i64,
    /// The coordinator, which breaks a tie of clock readings.
    pub node: NodeId,
    /// Whether the version is a delete's tombstone.
    pub tombstone: bool,
}

/// The event a write created: its coordinator's actor and new counter.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct Dot {
    /// The coordinator's actor.
    pub actor: Actor,
    /// The counter the write gave that actor.
    pub counter: u64,
}

/// One version of a key's value.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct Version {
    /// The value written; empty for a tombstone.
    pub value: Arc<str>,
    /// The version's causal history: its write's context plus its own dot (the paper's clock).
    pub clock: VClock,
    /// The entry this write created; `None` in last-write-wins mode.
    pub dot: Option<Dot>,
    /// The last-write-wins stamp, which also marks a tombstone.
    pub stamp: Stamp,
    /// The id of the client operation that wrote it. Only the omniscient
    /// checkers read this; no node decision depends on it.
    pub write: u64,
}

impl Version {
    /// A tombstone: the version a delete writes (kept in its stamp). It takes
    /// part in reconciliation like any version (it supersedes what its
    /// context covers); a client's get hides it unless a live version is
    /// concurrent with it, and replicas purge it after the tombstone grace period.
    pub fn is_deleted(&self) -> bool {
        self.stamp.tombstone
    }

    /// Whether two versions are the same write.
    pub fn same_write(&self, other: &Version) -> bool {
        self.write == other.write && self.dot == other.dot && self.stamp == other.stamp
    }

    /// Whether this version's history includes another write's `dot`.
    fn context_covers(&self, dot: &Dot) -> bool {
        self.clock.covers(dot.actor, dot.counter)
    }

    /// How two versions relate: equal (same write), before, after, or concurrent.
    /// Versions without dots (last-write-wins) fall back to comparing clocks.
    pub fn compare(&self, other: &Version) -> Causality {
        match (&self.dot, &other.dot) {
            (Some(a), Some(b)) => {
                if a == b {
                    Causality::Equal
                } else if other.context_covers(a) {
                    Causality::Before
                } else if self.context_covers(b) {
                    Causality::After
                } else {
                    Causality::Concurrent
                }
            }
            _ => self.clock.compare(&other.clock),
        }
    }

    /// Whether this version is equal to or supersedes `other`.
    pub fn descends(&self, other: &Version) -> bool {
        matches!(self.compare(other), Causality::Equal | Causality::After)
    }

    /// A new write's version: `context` advanced by `actor` to `counter`, stamped at `at_us`.
    pub fn written(
        value: Arc<str>,
        context: &VClock,
        actor: Actor,
        counter: u64,
        at_us: i64,
        write: u64,
    ) -> Version {
        assert!(
            !context.covers(actor, counter),
            "a new write's dot is new to its context"
        );
        let mut clock = context.clone();
        clock.add_event(actor, counter, at_us);
        let dot = Some(Dot { actor, counter });
        Version {
            value,
            clock,
            dot,
            stamp: Stamp {
                clock_us: at_us,
                node: actor.node,
                tombstone: false,
            },
            write,
        }
    }

    /// The same write as a tombstone.
    pub fn tombstone(self) -> Version {
        Version {
            value: Arc::from(""),
            stamp: Stamp {
                tombstone: true,
                ..self.stamp
            },
            ..self
        }
    }
}

/// What a client sees of a get's versions: tombstones are hidden, unless a
/// live version is concurrent with one (then the tombstone is a sibling the
/// client sees, so it can tell a delete raced a write).
pub fn visible(versions: &[Version]) -> &[Version] {
    if versions.iter().all(Version::is_deleted) {
        &[]
    } else {
        versions
    }
}

/// Renders `"value"[n0:2 n1:1]` with a vector clock, or `"value"@60.000ms/n0`
/// in last-write-wins mode, where versions carry no clock.
/// Values longer than this many bytes are shown clipped, in traces and
/// messages alike: a record's size stays bounded whatever a client writes
/// (a 100 kB value read by ten clients would otherwise be copied into every
/// reply's trace line).
pub const SHOWN_VALUE_BYTES: usize = 64;

/// A value as traces and messages show it: quoted, and when longer than
/// [`SHOWN_VALUE_BYTES`], its first and last bytes (cut at character
/// boundaries) around its length. Showing costs the same for any length.
#[derive(Debug, Hash)]
pub struct ShownValue<'a>(pub &'a str);

impl fmt::Display for ShownValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.len() <= SHOWN_VALUE_BYTES {
            return write!(f, "{v:?}");
        }
        let mut head = SHOWN_VALUE_BYTES / 2;
        while !v.is_char_boundary(head) {
            head -= 1;
        }
        let mut tail = v.len() - SHOWN_VALUE_BYTES / 4;
        while !v.is_char_boundary(tail) {
            tail += 1;
        }
        write!(f, "{:?}..({} bytes)..{:?}", &v[..head], v.len(), &v[tail..])
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_deleted() {
            f.write_str("(deleted)")?;
        }
        if self.clock.is_empty() {
            let us = self.stamp.clock_us;
            let sign = if us < 0 { "-" } else { "" };
            let abs = us.unsigned_abs();
            if !self.is_deleted() {
                write!(f, "{}", ShownValue(&self.value))?;
            }
            write!(
                f,
                "@{sign}{}.{:03}ms/{}",
                abs / 1_000,
                abs % 1_000,
                self.stamp.node
            )
        } else {
            if !self.is_deleted() {
                write!(f, "{}", ShownValue(&self.value))?;
            }
            write!(f, "{}", self.clock)
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
            if set.iter().any(|e| e.descends(v)) {
                return false;
            }
            set.retain(|e| v.compare(e) != Causality::After);
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

/// Below this many versions, reconciling one by one is as cheap as building an index.
const INDEX_FROM: usize = 16;

/// Reconciles every version of `incoming` into `set`; returns whether it changed.
///
/// The result is exactly that of reconciling the versions one by one, in
/// order. With many siblings (a blind-put load) that costs |set| comparisons
/// per incoming version, so merging two replicas' answers grew with the square
/// of the versions held. Large sets instead keep an index of the set's dots and
/// of the union of its clocks: a version is already covered when the index has
/// its dot or the union covers it (an event is in the union when some clock has
/// it), and it supersedes exactly the set's dots that its own clock covers,
/// found by range queries. The cost is then O((|set| + Σ|clock|) log |set|),
/// plus a rebuild of the union when versions are dropped.
pub fn reconcile_all(set: &mut Vec<Version>, incoming: &[Version], mode: Versioning) -> bool {
    let small = set.len() + incoming.len() < INDEX_FROM;
    let dotted = || set.iter().chain(incoming).all(|v| v.dot.is_some());
    if mode != Versioning::VectorClock || small || !dotted() {
        let mut changed = false;
        for v in incoming {
            changed |= reconcile(set, v, mode);
        }
        return changed;
    }
    let mut index = SetIndex::of(set);
    let mut changed = false;
    for v in incoming {
        let dot = v.dot.expect("every version has a dot here");
        if index.covers(dot) {
            continue;
        }
        // No held version equals or descends `v`, so `v` supersedes exactly
        // the held versions whose dots its clock covers.
        let dropped = index.dots_covered_by(&v.clock);
        if !dropped.is_empty() {
            set.retain(|e| {
                let d = e.dot.expect("every version has a dot here");
                dropped.binary_search(&(d.actor, d.counter)).is_err()
            });
            index = SetIndex::of(set);
        }
        set.push(v.clone());
        index.add(v);
        changed = true;
    }
    changed
}

/// The dots of a version set and the union of its clocks, for [`reconcile_all`].
struct SetIndex {
    dots: BTreeSet<(Actor, u64)>,
    /// Per actor, the highest contiguous counter of any clock in the set.
    contiguous: BTreeMap<Actor, u64>,
    /// Every extra event of any clock in the set.
    extras: BTreeSet<(Actor, u64)>,
}

impl SetIndex {
    fn of(set: &[Version]) -> SetIndex {
        let mut index = SetIndex {
            dots: BTreeSet::new(),
            contiguous: BTreeMap::new(),
            extras: BTreeSet::new(),
        };
        for v in set {
            index.add(v);
        }
        index
    }

    fn add(&mut self, v: &Version) {
        if let Some(d) = v.dot {
            self.dots.insert((d.actor, d.counter));
        }
        for (a, k) in v.clock.counters() {
            let c = self.contiguous.entry(a).or_insert(0);
            *c = (*c).max(k);
        }
        self.extras.extend(v.clock.extras());
    }

    /// Whether some version of the set is the write `dot` or has it in its history.
    fn covers(&self, dot: Dot) -> bool {
        let (a, k) = (dot.actor, dot.counter);
        self.dots.contains(&(a, k))
            || self.contiguous.get(&a).is_some_and(|&c| k <= c)
            || self.extras.contains(&(a, k))
    }

    /// The set's dots that `clock` covers, sorted.
    fn dots_covered_by(&self, clock: &VClock) -> Vec<(Actor, u64)> {
        let mut out: Vec<(Actor, u64)> = Vec::new();
        for (a, k) in clock.counters() {
            out.extend(self.dots.range((a, 0)..=(a, k)));
        }
        out.extend(clock.extras().filter(|e| self.dots.contains(e)));
        out.sort();
        out
    }
}

/// The merge of every version's clock: the context a get returns.
pub fn merged_clock(set: &[Version]) -> VClock {
    set.iter().fold(VClock::new(), |acc, v| acc.merge(&v.clock))
}

/// Whether two version sets hold the same versions (in any order).
///
/// Sorting `b`'s write identities makes this O(n log n) rather than
/// comparing every pair, which read repair would pay on every get of a key
/// with many siblings.
pub fn same_versions(a: &[Version], b: &[Version]) -> bool {
    type WriteId = (u64, Option<(Actor, u64)>, Stamp);
    let id = |v: &Version| -> WriteId { (v.write, v.dot.map(|d| (d.actor, d.counter)), v.stamp) };
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 8 {
        // Few versions (the common case): pairwise, without allocating.
        return a.iter().all(|x| b.iter().any(|y| id(x) == id(y)));
    }
    let mut ids: Vec<WriteId> = b.iter().map(id).collect();
    ids.sort();
    a.iter().all(|x| ids.binary_search(&id(x)).is_ok())
}

#[cfg(test)]
mod tests {
    // A long value shows its ends and its length, cut at character
    // boundaries; a short one shows whole.
    #[test]
    fn long_values_show_clipped() {
        assert_eq!(ShownValue("abc").to_string(), "\"abc\"");
        let exact = "x".repeat(SHOWN_VALUE_BYTES);
        assert_eq!(ShownValue(&exact).to_string(), format!("{exact:?}"));
        let long = format!("{}{}", "é".repeat(40), "z".repeat(100));
        let shown = ShownValue(&long).to_string();
        assert_eq!(
            shown,
            format!("{:?}..(180 bytes)..{:?}", "é".repeat(16), "z".repeat(16))
        );
        assert!(shown.len() < 2 * SHOWN_VALUE_BYTES);
    }

    use super::*;

    fn c(pairs: &[(u32, u64)]) -> VClock {
        VClock::from_counters(pairs)
    }

    fn a(n: u32) -> Actor {
        Actor::new(NodeId(n))
    }

    fn values(set: &[Version]) -> Vec<&str> {
        set.iter().map(|v| &*v.value).collect()
    }

    // The paper's Fig. 3, step by step: Sx=n0, Sy=n1, Sz=n2.
    #[test]
    fn paper_figure_3() {
        let (sx, sy, sz) = (a(0), a(1), a(2));
        let mode = Versioning::VectorClock;
        let d1 = Version::written(Arc::from("D1"), &VClock::new(), sx, 1, 1, 1);
        assert_eq!(d1.clock.to_string(), "[n0:1]");
        let d2 = Version::written(Arc::from("D2"), &d1.clock, sx, 2, 2, 2);
        assert_eq!(d2.compare(&d1), Causality::After);
        assert_eq!(d2.clock.compare(&d1.clock), Causality::After);
        let d3 = Version::written(Arc::from("D3"), &d2.clock, sy, 1, 3, 3);
        let d4 = Version::written(Arc::from("D4"), &d2.clock, sz, 1, 4, 4);
        assert_eq!(
            (d3.clock.to_string(), d4.clock.to_string()),
            ("[n0:2 n1:1]".into(), "[n0:2 n2:1]".into())
        );
        assert_eq!(d3.compare(&d4), Causality::Concurrent);
        assert_eq!(d3.clock.compare(&d4.clock), Causality::Concurrent);
        // A replica holding D1 receives D2, D3 and D4: D3 and D4 stay as siblings.
        let mut set = vec![d1.clone()];
        assert!(reconcile(&mut set, &d2, mode));
        assert_eq!(values(&set), ["D2"]);
        assert!(
            !reconcile(&mut set, &d1, mode),
            "an older version is ignored"
        );
        assert!(reconcile(&mut set, &d3, mode));
        assert!(reconcile(&mut set, &d4, mode));
        assert_eq!(values(&set), ["D3", "D4"]);
        // A client reads both, and Sx coordinates the reconciled write D5.
        let d5 = Version::written(Arc::from("D5"), &merged_clock(&set), sx, 3, 5, 5);
        assert_eq!(d5.clock.to_string(), "[n0:3 n1:1 n2:1]");
        assert!(reconcile(&mut set, &d5, mode));
        assert_eq!(values(&set), ["D5"]);
    }

    // Two writes with the same context through the same coordinator are concurrent
    // siblings; the paper's plain clocks would say the second supersedes the first.
    #[test]
    fn same_coordinator_concurrent_writes_stay_siblings() {
        let ctx = c(&[(0, 1)]);
        let x = Version::written(Arc::from("x"), &ctx, a(0), 2, 10, 2);
        let y = Version::written(Arc::from("y"), &ctx, a(0), 3, 11, 3);
        // The paper's plain clocks would read [n0:3] against [n0:2] and drop x.
        assert_eq!(c(&[(0, 3)]).compare(&c(&[(0, 2)])), Causality::After);
        assert_eq!(
            (x.clock.to_string(), y.clock.to_string()),
            ("[n0:2]".into(), "[n0:1+3]".into())
        );
        assert_eq!(y.clock.compare(&x.clock), Causality::Concurrent);
        assert_eq!(y.compare(&x), Causality::Concurrent);
        let mut set = Vec::new();
        reconcile(&mut set, &x, Versioning::VectorClock);
        reconcile(&mut set, &y, Versioning::VectorClock);
        assert_eq!(values(&set), ["x", "y"]);
        let z = Version::written(Arc::from("z"), &merged_clock(&set), a(0), 4, 12, 4);
        reconcile(&mut set, &z, Versioning::VectorClock);
        assert_eq!(values(&set), ["z"]);
    }

    // A context that saw (n1, 105) but not (n1, 104) says so, and a write with
    // it does not supersede 104: the plain clock [n1:105] would claim it did.
    #[test]
    fn contexts_with_gaps_are_exact() {
        let base = c(&[(1, 103)]);
        let v104 = Version::written(Arc::from("a"), &base, a(1), 104, 1, 1);
        let v105 = Version::written(Arc::from("b"), &base, a(1), 105, 2, 2);
        assert_eq!(v105.clock.to_string(), "[n1:103+105]");
        assert_eq!(v104.compare(&v105), Causality::Concurrent);
        // A client that read only v105 writes through n0.
        let w = Version::written(Arc::from("c"), &v105.clock, a(0), 1, 3, 3);
        assert_eq!(w.clock.to_string(), "[n0:1 n1:103+105]");
        assert_eq!(w.compare(&v105), Causality::After);
        assert_eq!(w.compare(&v104), Causality::Concurrent);
        // Merging with a clock that has 104 closes the gap.
        assert_eq!(w.clock.merge(&v104.clock).to_string(), "[n0:1 n1:105]");
        assert_eq!(v105.clock.compare(&c(&[(1, 105)])), Causality::Before);
    }

    // A node whose disk was wiped writes in a new epoch, so its new counter never collides.
    #[test]
    fn a_new_epoch_is_a_new_actor() {
        let old = Version::written(Arc::from("old"), &VClock::new(), a(0), 1, 1, 1);
        let reborn = Actor {
            node: NodeId(0),
            epoch: 1_500,
        };
        let new = Version::written(Arc::from("new"), &VClock::new(), reborn, 1, 2, 2);
        assert_eq!(new.clock.to_string(), "[n0@1500:1]");
        assert_eq!(new.compare(&old), Causality::Concurrent);
    }

    fn all_clocks() -> Vec<VClock> {
        let mut out = Vec::new();
        for x in 0..=2 {
            for y in 0..=2 {
                for z in 0..=2 {
                    out.push(c(&[(0, x), (1, y), (2, z)]));
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
        for x in &clocks {
            assert_eq!(x.merge(x), *x);
            assert_eq!(x.compare(x), Causality::Equal);
            for y in &clocks {
                let xy = x.compare(y);
                assert_eq!(y.compare(x), xy.reverse(), "{x} vs {y}");
                assert_eq!(x.merge(y), y.merge(x));
                assert_eq!(
                    x.merge(y) == *y,
                    matches!(xy, Causality::Before | Causality::Equal),
                    "{x} vs {y}"
                );
                assert_eq!(xy == Causality::Equal, x == y);
                for z in &clocks {
                    assert_eq!(x.merge(y).merge(z), x.merge(&y.merge(z)));
                }
            }
        }
    }

    /// Every write that a coordinator could make from a context among all
    /// clocks on 3 nodes with counters 0..=2, one per dot (a dot names one write).
    fn all_writes() -> Vec<Version> {
        let mut out = Vec::new();
        let mut used = BTreeSet::new();
        for (i, ctx) in all_clocks().into_iter().enumerate() {
            for n in 0..3 {
                let counter = ctx.get(a(n)) + 1;
                if used.insert((n, counter)) {
                    out.push(Version::written(
                        Arc::from("v"),
                        &ctx,
                        a(n),
                        counter,
                        i as i64,
                        out.len() as u64 + 1,
                    ));
                }
            }
        }
        out
    }

    // Version comparison is antisymmetric, and Equal exactly for the same write.
    #[test]
    fn exhaustive_version_compare() {
        let writes = all_writes();
        for x in &writes {
            for y in &writes {
                assert_eq!(y.compare(x), x.compare(y).reverse(), "{x} vs {y}");
                assert_eq!(x.compare(y) == Causality::Equal, x.same_write(y));
            }
        }
    }

    // Two sets are the same exactly when each holds the other's writes, on
    // both sides of the small-set shortcut (8 versions) and whatever the order.
    #[test]
    fn same_versions_is_set_equality() {
        let writes = all_writes();
        let mut rng = sim_core::SimRng::new(12, sim_core::Stream::Custom(0));
        for _ in 0..3_000 {
            let len = 1 + rng.index(14);
            let pick = |rng: &mut sim_core::SimRng| -> Vec<Version> {
                let mut v = writes.clone();
                rng.shuffle(&mut v);
                v.truncate(len);
                v
            };
            let a = pick(&mut rng);
            let mut b = if rng.chance(0.5) {
                a.clone()
            } else {
                pick(&mut rng)
            };
            rng.shuffle(&mut b);
            if rng.chance(0.3) {
                // One write swapped for another: same length, different set.
                let other = &writes[rng.index(writes.len())];
                b[0] = other.clone();
            }
            let plain = a.iter().all(|x| b.iter().any(|y| x.same_write(y)))
                && b.iter().all(|y| a.iter().any(|x| x.same_write(y)));
            assert_eq!(same_versions(&a, &b), plain, "{a:?} vs {b:?}");
        }
    }

    // The store never holds two comparable versions, whatever order versions arrive in,
    // and it ends with exactly the maximal versions of everything it was given.
    #[test]
    fn store_keeps_only_concurrent_versions() {
        let writes = all_writes();
        let mut rng = sim_core::SimRng::new(11, sim_core::Stream::Custom(0));
        for _ in 0..3_000 {
            let mut set = Vec::new();
            let mut given = Vec::new();
            for _ in 0..1 + rng.index(8) {
                let v = writes[rng.index(writes.len())].clone();
                reconcile(&mut set, &v, Versioning::VectorClock);
                given.push(v);
                for (i, x) in set.iter().enumerate() {
                    for y in &set[i + 1..] {
                        assert_eq!(x.compare(y), Causality::Concurrent);
                    }
                }
            }
            let maximal: Vec<&Version> = given
                .iter()
                .filter(|g| !given.iter().any(|h| h.compare(g) == Causality::After))
                .collect();
            for m in &maximal {
                assert!(set.iter().any(|s| s.same_write(m)));
            }
            assert!(set.iter().all(|s| maximal.iter().any(|m| m.same_write(s))));
        }
    }

    // The indexed reconcile_all gives exactly the set, in the same order, and the same
    // answer as reconciling one version at a time, for sets large enough to use the index.
    #[test]
    fn indexed_reconcile_all_matches_one_by_one() {
        let writes = all_writes();
        let mut rng = sim_core::SimRng::new(5, sim_core::Stream::Custom(1));
        for _ in 0..2_000 {
            let mut set = Vec::new();
            for _ in 0..rng.index(30) {
                reconcile(
                    &mut set,
                    &writes[rng.index(writes.len())],
                    Versioning::VectorClock,
                );
            }
            let incoming: Vec<Version> = (0..rng.index(30))
                .map(|_| writes[rng.index(writes.len())].clone())
                .collect();
            let mut slow = set.clone();
            let mut slow_changed = false;
            for v in &incoming {
                slow_changed |= reconcile(&mut slow, v, Versioning::VectorClock);
            }
            let mut fast = set.clone();
            let fast_changed = reconcile_all(&mut fast, &incoming, Versioning::VectorClock);
            assert_eq!(fast, slow);
            assert_eq!(fast_changed, slow_changed);
        }
    }

    // Truncation drops the least recently updated entries first, never a kept actor.
    #[test]
    fn truncation_drops_oldest() {
        let mut v = VClock::new();
        v.advance(a(2), 1, 30);
        v.advance(a(0), 1, 10);
        v.advance(a(1), 1, 20);
        let mut w = v.clone();
        assert_eq!(v.truncate(2), 1);
        assert_eq!(v.to_string(), "[n1:1 n2:1]");
        assert_eq!(w.truncate_keeping(1, Some(a(0))), 2);
        assert_eq!(w.to_string(), "[n0:1]");
    }

    // Last write wins keeps the highest (clock, node) stamp, whatever the arrival order.
    #[test]
    fn last_write_wins_keeps_highest_stamp() {
        let mk = |clock_us, node, val: &str| Version {
            value: Arc::from(val),
            clock: VClock::new(),
            dot: None,
            stamp: Stamp {
                clock_us,
                node: NodeId(node),
                tombstone: false,
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
