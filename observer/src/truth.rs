//! Ground-truth causality over a history, independent of what the vector
//! clocks say: a put has "seen" every put whose version reached the get it
//! took its context from, transitively. Checkers use it, so a bug in clock
//! handling (a reused counter, a truncated entry) shows up instead of being
//! trusted.
//!
//! Each operation's seen set is a set of its key's put ordinals (puts of the
//! key numbered in issue order). A flat bitset per operation costs, for a key
//! with P puts, P/64 words for each of its operations: quadratic in the
//! operations on a hot key (about 700 MB for a million zipf-distributed
//! operations). The sets here are persistent trees instead ([`Set`]): a put's
//! set is its context's set plus one ordinal, sharing everything else, and
//! subtrees that are entirely seen collapse to one node. A set costs
//! O(depth) new nodes per put, and a query O(depth), with depth = log8(P/64).

use crate::history::{OpKind, OpRecord, Outcome};
use dynamo_model::Version;
use dynamo_model::Versioning;
use sim_core::SimTime;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Children of an inner node.
const FAN: usize = 8;

/// A persistent set of ordinals in `0 .. 64 * FAN^depth` (the depth is the key's, kept by [`Truth`]).
#[derive(Clone, Debug)]
enum Set {
    Empty,
    Full,
    /// Depth 0 only: 64 ordinals, neither none nor all.
    Leaf(u64),
    /// FAN subtrees, neither all empty nor all full.
    Inner(Rc<[Set; FAN]>),
}

/// Ordinals one subtree at `depth` spans.
fn span(depth: u8) -> usize {
    64 * FAN.pow(u32::from(depth))
}

fn leaf(bits: u64) -> Set {
    match bits {
        0 => Set::Empty,
        u64::MAX => Set::Full,
        b => Set::Leaf(b),
    }
}

fn inner(children: [Set; FAN]) -> Set {
    if children.iter().all(|c| matches!(c, Set::Empty)) {
        Set::Empty
    } else if children.iter().all(|c| matches!(c, Set::Full)) {
        Set::Full
    } else {
        Set::Inner(Rc::new(children))
    }
}

/// Whether two sets are the same object (or equal small values), so a union can share.
fn same(a: &Set, b: &Set) -> bool {
    match (a, b) {
        (Set::Empty, Set::Empty) | (Set::Full, Set::Full) => true,
        (Set::Leaf(x), Set::Leaf(y)) => x == y,
        (Set::Inner(x), Set::Inner(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

impl Set {
    fn contains(&self, depth: u8, o: usize) -> bool {
        match self {
            Set::Empty => false,
            Set::Full => true,
            Set::Leaf(b) => b & (1 << (o % 64)) != 0,
            Set::Inner(c) => {
                let s = span(depth - 1);
                c[o / s].contains(depth - 1, o % s)
            }
        }
    }

    /// This set with every ordinal of `ords` (sorted, each below this subtree's span, offset by `base`), copying each changed node once.
    fn insert_all(&self, depth: u8, base: usize, ords: &[usize]) -> Set {
        if ords.is_empty() || matches!(self, Set::Full) {
            return self.clone();
        }
        if depth == 0 {
            let mut b = if let Set::Leaf(b) = self { *b } else { 0 };
            for &o in ords {
                b |= 1 << (o - base);
            }
            return leaf(b);
        }
        let s = span(depth - 1);
        let old: [Set; FAN] = match self {
            Set::Inner(c) => (**c).clone(),
            _ => std::array::from_fn(|_| Set::Empty),
        };
        let mut rest = ords;
        let children: [Set; FAN] = std::array::from_fn(|i| {
            let end = base + (i + 1) * s;
            let cut = rest.partition_point(|&o| o < end);
            let (here, after) = rest.split_at(cut);
            rest = after;
            old[i].insert_all(depth - 1, base + i * s, here)
        });
        inner(children)
    }

    fn union(&self, other: &Set) -> Set {
        match (self, other) {
            (Set::Full, _) | (_, Set::Empty) => self.clone(),
            (_, Set::Full) | (Set::Empty, _) => other.clone(),
            _ if same(self, other) => self.clone(),
            (Set::Leaf(a), Set::Leaf(b)) => leaf(a | b),
            (Set::Inner(a), Set::Inner(b)) => {
                let c: [Set; FAN] = std::array::from_fn(|i| a[i].union(&b[i]));
                if c.iter().zip(a.iter()).all(|(x, y)| same(x, y)) {
                    self.clone()
                } else if c.iter().zip(b.iter()).all(|(x, y)| same(x, y)) {
                    other.clone()
                } else {
                    inner(c)
                }
            }
            _ => unreachable!("sets of one key have one depth"),
        }
    }

    /// Appends the ordinals of `ords` (sorted, each below this subtree's span, offset by `base`) that the set holds.
    fn select(&self, depth: u8, base: usize, ords: &[usize], out: &mut Vec<usize>) {
        match self {
            Set::Empty => {}
            Set::Full => out.extend_from_slice(ords),
            Set::Leaf(b) => out.extend(ords.iter().filter(|&&o| b & (1 << (o - base)) != 0)),
            Set::Inner(c) => {
                let s = span(depth - 1);
                let mut rest = ords;
                for (i, child) in c.iter().enumerate() {
                    let end = base + (i + 1) * s;
                    let cut = rest.partition_point(|&o| o < end);
                    let (here, after) = rest.split_at(cut);
                    if !here.is_empty() {
                        child.select(depth - 1, base + i * s, here, out);
                    }
                    rest = after;
                }
            }
        }
    }

    /// How many members of `acked` (a bitset with a count index) in this subtree the set holds.
    fn count_in(&self, depth: u8, base: usize, acked: &Acked) -> usize {
        match self {
            Set::Empty => 0,
            Set::Full => acked.count(base, base + span(depth)),
            Set::Leaf(b) => (acked.word(base / 64) & b).count_ones() as usize,
            Set::Inner(c) => {
                let s = span(depth - 1);
                c.iter()
                    .enumerate()
                    .map(|(i, child)| child.count_in(depth - 1, base + i * s, acked))
                    .sum()
            }
        }
    }

    /// Appends the members of `acked` in this subtree that the set does not hold.
    fn missing(&self, depth: u8, base: usize, acked: &Acked, out: &mut Vec<usize>) {
        match self {
            Set::Full => {}
            Set::Empty => acked.members(base, base + span(depth), out),
            Set::Leaf(b) => {
                let mut m = acked.word(base / 64) & !b;
                while m != 0 {
                    out.push(base + m.trailing_zeros() as usize);
                    m &= m - 1;
                }
            }
            Set::Inner(c) => {
                let s = span(depth - 1);
                for (i, child) in c.iter().enumerate() {
                    if base + i * s < acked.len {
                        child.missing(depth - 1, base + i * s, acked, out);
                    }
                }
            }
        }
    }
}

/// Ordinals a seen set holds beside its tree, at most.
const EXTRA: usize = 7;

/// A seen set: a tree, plus up to [`EXTRA`] ordinals outside it (sorted).
///
/// A read-modify-write put's set is its context's plus itself, so putting
/// each new ordinal into the tree would copy a path of the tree per put
/// (2.7 million nodes, 430 MB, for a million zipf operations). The newest
/// ordinals wait beside the tree instead and go in together, sharing the
/// copied paths, once there are more than [`EXTRA`] of them.
#[derive(Clone, Debug)]
struct Seen {
    tree: Set,
    extra: [u32; EXTRA],
    extras: u8,
}

impl Seen {
    const EMPTY: Seen = Seen {
        tree: Set::Empty,
        extra: [0; EXTRA],
        extras: 0,
    };

    fn extra(&self) -> &[u32] {
        &self.extra[..self.extras as usize]
    }

    fn contains(&self, depth: u8, o: usize) -> bool {
        self.tree.contains(depth, o) || self.extra().contains(&(o as u32))
    }

    /// This set with `adds` as well (any order, repeats allowed).
    fn with(&self, depth: u8, adds: &[u32]) -> Seen {
        let mut all: Vec<u32> = self.extra().to_vec();
        all.extend(
            adds.iter()
                .copied()
                .filter(|&o| !self.tree.contains(depth, o as usize)),
        );
        all.sort_unstable();
        all.dedup();
        if all.len() <= EXTRA {
            let mut extra = [0; EXTRA];
            extra[..all.len()].copy_from_slice(&all);
            Seen {
                tree: self.tree.clone(),
                extra,
                extras: all.len() as u8,
            }
        } else {
            let ords: Vec<usize> = all.iter().map(|&o| o as usize).collect();
            Seen {
                tree: self.tree.insert_all(depth, 0, &ords),
                ..Seen::EMPTY
            }
        }
    }

    fn union(&self, other: &Seen, depth: u8) -> Seen {
        Seen {
            tree: self.tree.union(&other.tree),
            ..Seen::EMPTY
        }
        .with(depth, &[self.extra(), other.extra()].concat())
    }

    fn select(&self, depth: u8, ords: &[usize], out: &mut Vec<usize>) {
        self.tree.select(depth, 0, ords, out);
        // Each ordinal beside the tree is looked up in `ords` (sorted), so this
        // stays O(log V) a call when a get's V versions are blind puts.
        let before = out.len();
        out.extend(
            self.extra()
                .iter()
                .map(|&e| e as usize)
                .filter(|e| ords.binary_search(e).is_ok()),
        );
        if out.len() > before {
            out.sort_unstable();
        }
    }

    fn count_in(&self, depth: u8, acked: &Acked) -> usize {
        let beside = self
            .extra()
            .iter()
            .filter(|&&o| acked.word(o as usize / 64) & (1 << (o % 64)) != 0)
            .count();
        self.tree.count_in(depth, 0, acked) + beside
    }

    fn missing(&self, depth: u8, acked: &Acked, out: &mut Vec<usize>) {
        self.tree.missing(depth, 0, acked, out);
        if self.extras > 0 {
            out.retain(|&o| !self.extra().contains(&(o as u32)));
        }
    }
}

/// The acknowledged puts of one key so far, by ordinal: a bitset, and a
/// Fenwick tree over it for counts of a range.
struct Acked {
    bits: Vec<u64>,
    fenwick: Vec<u32>,
    len: usize,
    /// (acknowledged at, ordinal), in the order acknowledged.
    by_end: Vec<(SimTime, u32)>,
}

impl Acked {
    fn new(len: usize) -> Acked {
        Acked {
            bits: vec![0; len.div_ceil(64)],
            fenwick: vec![0; len + 1],
            len,
            by_end: Vec::new(),
        }
    }

    fn add(&mut self, o: usize) {
        self.bits[o / 64] |= 1 << (o % 64);
        let mut i = o + 1;
        while i <= self.len {
            self.fenwick[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    fn word(&self, w: usize) -> u64 {
        self.bits.get(w).copied().unwrap_or(0)
    }

    /// Members below `end`.
    fn below(&self, end: usize) -> usize {
        let mut i = end.min(self.len);
        let mut n = 0;
        while i > 0 {
            n += self.fenwick[i] as usize;
            i -= i & i.wrapping_neg();
        }
        n
    }

    fn count(&self, from: usize, to: usize) -> usize {
        self.below(to) - self.below(from)
    }

    fn members(&self, from: usize, to: usize, out: &mut Vec<usize>) {
        let to = to.min(self.len);
        let mut w = from / 64;
        while w * 64 < to {
            let mut m = self.bits[w];
            while m != 0 {
                let o = w * 64 + m.trailing_zeros() as usize;
                if o >= from && o < to {
                    out.push(o);
                }
                m &= m - 1;
            }
            w += 1;
        }
    }
}

/// For every operation in a history, the puts of its key it has causally
/// seen (a put includes itself).
pub struct Truth<'a> {
    history: &'a [OpRecord],
    /// For each op: its key's index in `puts_of`.
    key_of: Vec<usize>,
    /// For each put: its ordinal among its key's puts.
    ordinal: Vec<usize>,
    /// For each key: the history indices of its puts, in issue order.
    puts_of: Vec<Vec<usize>>,
    /// For each key: the depth of its sets' trees.
    depth: Vec<u8>,
    seen: Vec<Seen>,
    /// For each key: the history indices of its issued deletes, in issue order.
    deletes_of: Vec<Vec<usize>>,
    /// For each write (by op id): the distinct dots its versions were seen
    /// with (in gets, and in the stores [`Truth::add_versions`] is given).
    /// More than one: the write was coordinated twice (a retried forward),
    /// and its versions are distinct siblings a delete may see only one of.
    dots: BTreeMap<u64, Vec<Option<dynamo_model::Dot>>>,
    /// Whether the history has any delete.
    has_deletes: bool,
}

impl<'a> Truth<'a> {
    /// Works out, for every operation of `history`, the puts of its key it has causally seen.
    pub fn new(history: &'a [OpRecord]) -> Truth<'a> {
        let mut keys: BTreeMap<&dynamo_model::Key, usize> = BTreeMap::new();
        let mut key_of = Vec::with_capacity(history.len());
        let mut ordinal = vec![usize::MAX; history.len()];
        let mut puts_of: Vec<Vec<usize>> = Vec::new();
        for (i, op) in history.iter().enumerate() {
            let next = keys.len();
            let k = *keys.entry(&op.key).or_insert(next);
            if k == puts_of.len() {
                puts_of.push(Vec::new());
            }
            key_of.push(k);
            if op.kind.is_write() {
                ordinal[i] = puts_of[k].len();
                puts_of[k].push(i);
            }
        }
        let depth: Vec<u8> = puts_of
            .iter()
            .map(|p| {
                let mut d = 0;
                while span(d) < p.len() {
                    d += 1;
                }
                d
            })
            .collect();
        // A put depends on its context's get; a get on the puts whose
        // versions it returned. Each operation's set is made after those it
        // depends on, in dependency order rather than by time: operations at
        // one instant (as `dynsim check` runs them) have no time order.
        let deps = |i: usize| -> Vec<usize> {
            let op = &history[i];
            let k = key_of[i];
            match op.kind {
                OpKind::Put | OpKind::Delete => op
                    .context_from
                    .filter(|&g| key_of[g] == k)
                    .into_iter()
                    .collect(),
                OpKind::Get => match &op.outcome {
                    Outcome::GetOk { versions, .. } => versions
                        .iter()
                        .filter_map(|v| index_of(history, v.write).filter(|&w| key_of[w] == k))
                        .collect(),
                    _ => Vec::new(),
                },
            }
        };
        let mut seen: Vec<Seen> = vec![Seen::EMPTY; history.len()];
        let mut done = vec![false; history.len()];
        let mut visiting = vec![false; history.len()];
        for root in 0..history.len() {
            // Depth first over dependencies, with an explicit stack; a
            // dependency cycle (impossible in a real history) is cut where met.
            let mut stack: Vec<(usize, bool)> = vec![(root, false)];
            while let Some((i, expanded)) = stack.pop() {
                if done[i] {
                    continue;
                }
                if !expanded {
                    if visiting[i] {
                        continue;
                    }
                    visiting[i] = true;
                    stack.push((i, true));
                    for d in deps(i) {
                        if !done[d] {
                            stack.push((d, false));
                        }
                    }
                    continue;
                }
                let op = &history[i];
                let k = key_of[i];
                let d = depth[k];
                seen[i] = match op.kind {
                    OpKind::Put | OpKind::Delete => {
                        let base = deps(i).first().map_or(Seen::EMPTY, |&g| seen[g].clone());
                        base.with(d, &[ordinal[i] as u32])
                    }
                    OpKind::Get => {
                        let mut set = Seen::EMPTY;
                        for w in deps(i) {
                            set = set.union(&seen[w], d);
                        }
                        set
                    }
                };
                done[i] = true;
            }
        }
        let mut deletes_of: Vec<Vec<usize>> = vec![Vec::new(); puts_of.len()];
        for (i, op) in history.iter().enumerate() {
            if op.kind == OpKind::Delete && op.start.is_some() {
                deletes_of[key_of[i]].push(i);
            }
        }
        let mut truth = Truth {
            history,
            key_of,
            ordinal,
            puts_of,
            depth,
            seen,
            has_deletes: deletes_of.iter().any(|d| !d.is_empty()),
            deletes_of,
            dots: BTreeMap::new(),
        };
        for op in history {
            if let Outcome::GetOk { versions, .. } = &op.outcome {
                truth.add_versions(versions);
            }
        }
        truth
    }

    /// Notes versions seen outside the history (the nodes' final stores and
    /// hints), so writes coordinated more than once are known as such.
    pub fn add_versions<'v>(&mut self, versions: impl IntoIterator<Item = &'v Version>) {
        if !self.has_deletes {
            // Only `deleted` reads the dots: a history without deletes keeps none
            // (they cost about 60 bytes a write).
            return;
        }
        for v in versions {
            let dots = self.dots.entry(v.write).or_default();
            if !dots.contains(&v.dot) {
                dots.push(v.dot);
            }
        }
    }

    /// Whether delete `d` (a history index) deleted version `v`: `d` had
    /// seen `v`'s write, and, when that write was coordinated more than once
    /// (its versions are siblings with different dots), `d`'s context came
    /// from a get that returned this very version.
    pub fn deleted(&self, d: usize, v: &Version) -> bool {
        let Some(w) = index_of(self.history, v.write) else {
            return false;
        };
        if w == d || !self.has_seen(d, w) {
            return false;
        }
        if self.dots.get(&v.write).is_none_or(|dots| dots.len() <= 1) {
            return true;
        }
        let from = self.history[d]
            .context_from
            .map(|g| &self.history[g].outcome);
        matches!(from, Some(Outcome::GetOk { versions, .. })
            if versions.iter().any(|x| x.write == v.write && x.dot == v.dot))
    }

    /// The history indices of the issued deletes of op `index`'s key.
    pub fn deletes_of_key(&self, index: usize) -> &[usize] {
        &self.deletes_of[self.key_of[index]]
    }

    /// Whether operation `index` has (causally) seen put `put` (a history index of the same key).
    pub fn has_seen(&self, index: usize, put: usize) -> bool {
        let k = self.key_of[index];
        k == self.key_of[put]
            && self.ordinal[put] != usize::MAX
            && self.seen[index].contains(self.depth[k], self.ordinal[put])
    }

    /// Of `ordinals` (sorted put ordinals of op `index`'s key), those op `index` has seen.
    pub fn seen_among(&self, index: usize, ordinals: &[usize]) -> Vec<usize> {
        let d = self.depth[self.key_of[index]];
        let mut out = Vec::new();
        let fits = ordinals.partition_point(|&o| o < span(d));
        self.seen[index].select(d, &ordinals[..fits], &mut out);
        out
    }

    /// Put `put`'s key index and its ordinal among that key's puts; `None` for a get.
    pub fn put_ordinal(&self, put: usize) -> Option<(usize, usize)> {
        (self.ordinal[put] != usize::MAX).then(|| (self.key_of[put], self.ordinal[put]))
    }

    /// The history indices of the puts of op `index`'s key, in issue order.
    pub fn puts_of_key(&self, index: usize) -> &[usize] {
        &self.puts_of[self.key_of[index]]
    }

    /// Whether a replica holding `held` keeps acknowledged put `p` or a version that supersedes it.
    ///
    /// Vector clocks: superseded means written by a put that had (causally) seen `p`.
    /// Last write wins: also by any put that started after `p` was acknowledged.
    ///
    /// Deletes: a replica purges a tombstone after its grace period, so a
    /// delete is also kept when nothing it superseded is left in `held`
    /// (`held` may hold versions concurrent with it), and a write is also
    /// kept when a delete that had seen it (issued, even if not acknowledged:
    /// a failed write may still land) is kept that way.
    pub fn covers(&self, held: &[Version], p: &OpRecord, mode: Versioning) -> bool {
        let Some(pi) = index_of(self.history, p.id) else {
            return false;
        };
        let superseded = |pi: usize| {
            held.iter().any(|v| {
                v.write == self.history[pi].id
                    || index_of(self.history, v.write).is_some_and(|w| {
                        self.has_seen(w, pi)
                            || (mode == Versioning::LastWriteWins
                                && matches!((self.history[w].start, self.history[pi].end), (Some(s), Some(e)) if s > e))
                    })
            })
        };
        if superseded(pi) {
            return true;
        }
        // Nothing delete `d` deleted is left, and nothing that had seen `d`
        // (which `superseded` would have found): its tombstone may be purged.
        let cleared = |d: usize| !held.iter().any(|v| self.deleted(d, v));
        if p.kind == OpKind::Delete && cleared(pi) {
            return true;
        }
        self.deletes_of[self.key_of[pi]]
            .iter()
            .any(|&d| d != pi && self.has_seen(d, pi) && cleared(d))
    }

    /// Visits every successful get that has a start time, in time order,
    /// with what it missed: the acknowledged puts of its key that finished
    /// before it started, how many of them it has not seen, and (asked for
    /// through `Behind::unseen`) which. The cost per get is the depth of
    /// its set's tree times log(puts of the key), not the number of puts.
    pub fn behind(&self, mut visit: impl FnMut(&Behind)) {
        let h = self.history;
        // Gets before acks at one instant: a put acknowledged when a get starts is not before it.
        let mut events: Vec<(SimTime, u8, usize)> = Vec::new();
        for (i, op) in h.iter().enumerate() {
            match (&op.kind, &op.outcome) {
                (OpKind::Get, Outcome::GetOk { .. }) => {
                    if let Some(s) = op.start {
                        events.push((s, 0, i));
                    }
                }
                (OpKind::Put | OpKind::Delete, Outcome::PutOk { .. }) => {
                    if let Some(e) = op.end {
                        events.push((e, 1, i));
                    }
                }
                _ => {}
            }
        }
        events.sort_unstable();
        let mut acked: Vec<Option<Acked>> = (0..self.puts_of.len()).map(|_| None).collect();
        let mut newest: Vec<Option<SimTime>> = vec![None; self.puts_of.len()];
        for (t, kind, i) in events {
            let k = self.key_of[i];
            let a = acked[k].get_or_insert_with(|| Acked::new(self.puts_of[k].len()));
            if kind == 1 {
                a.add(self.ordinal[i]);
                a.by_end.push((t, self.ordinal[i] as u32));
                newest[k] = newest[k].max(Some(t));
                continue;
            }
            let before = a.below(a.len);
            let seen = self.seen[i].count_in(self.depth[k], a);
            visit(&Behind {
                truth: self,
                get: i,
                unseen: before - seen,
                newest_ack: newest[k],
                acked: a,
            });
        }
    }
}

/// One get in [`Truth::behind`]'s walk.
pub struct Behind<'t, 'a> {
    truth: &'t Truth<'a>,
    /// History index of the get.
    pub get: usize,
    /// How many of those the get has not seen.
    pub unseen: usize,
    /// When the newest of them finished.
    pub newest_ack: Option<SimTime>,
    acked: &'t Acked,
}

impl Behind<'_, '_> {
    /// The history indices of the acknowledged puts the get has not seen and
    /// that were acknowledged at or after `from`, in issue order. A
    /// last-write-wins get covers every put acknowledged before its newest
    /// version's writer started, so only these can be missing from it; and
    /// the puts it never saw (concurrent losers, which only pile up) need not
    /// be listed for every later get.
    pub fn unseen_puts_since(&self, from: SimTime) -> Vec<usize> {
        if self.unseen == 0 {
            return Vec::new();
        }
        let t = self.truth;
        let k = t.key_of[self.get];
        let d = t.depth[k];
        let by_end = &self.acked.by_end;
        let first = by_end.partition_point(|&(e, _)| e < from);
        let mut ords: Vec<usize> = by_end[first..]
            .iter()
            .map(|&(_, o)| o as usize)
            .filter(|&o| !t.seen[self.get].contains(d, o))
            .collect();
        ords.sort_unstable();
        ords.into_iter().map(|o| t.puts_of[k][o]).collect()
    }

    /// The history indices of the acknowledged puts the get has not seen, in issue order.
    pub fn unseen_puts(&self) -> Vec<usize> {
        if self.unseen == 0 {
            return Vec::new();
        }
        let t = self.truth;
        let k = t.key_of[self.get];
        let mut ords = Vec::new();
        t.seen[self.get].missing(t.depth[k], self.acked, &mut ords);
        ords.into_iter().map(|o| t.puts_of[k][o]).collect()
    }
}

/// The history index of the op with id `id` (ids are 1-based positions).
fn index_of(history: &[OpRecord], id: u64) -> Option<usize> {
    let i = (id as usize).checked_sub(1)?;
    (i < history.len() && history[i].id == id).then_some(i)
}

/// How stale one get was.
#[derive(Clone, Debug, PartialEq)]
pub struct Staleness {
    /// History index of the get.
    pub get: usize,
    /// Acknowledged puts of the key that finished before the get started and that it did not see.
    pub k: usize,
    /// How long after the newest such acknowledged put finished the get started (None: no such put).
    pub since_newest_ack: Option<sim_core::SimDuration>,
}

/// Staleness of every successful get, in history order: k (acknowledged
/// versions behind) and the time since the newest acknowledged write.
pub fn staleness(history: &[OpRecord], truth: &Truth) -> Vec<Staleness> {
    let mut out = Vec::new();
    truth.behind(|b| {
        let start = history[b.get].start.expect("visited gets have started");
        out.push(Staleness {
            get: b.get,
            k: b.unseen,
            since_newest_ack: b.newest_ack.map(|e| start - e),
        });
    });
    out.sort_unstable_by_key(|s| s.get);
    out
}
