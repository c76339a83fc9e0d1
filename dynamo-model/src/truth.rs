//! Ground-truth causality over a history, independent of what the vector
//! clocks say: a put has "seen" every put whose version reached the get it
//! took its context from, transitively. Checkers use it, so a bug in clock
//! handling (a reused counter, a truncated entry) shows up instead of being
//! trusted.

use crate::cluster::{OpKind, OpRecord, Outcome};
use crate::config::Versioning;
use crate::version::Version;
use sim_core::SimTime;
use std::collections::BTreeMap;

/// For every operation in a history, the puts of its key it has causally
/// seen (a put includes itself), as a bitset over the key's puts in issue order.
pub struct Truth<'a> {
    history: &'a [OpRecord],
    /// For each op: its key's index in `puts_of`.
    key_of: Vec<usize>,
    /// For each put: its ordinal among its key's puts.
    ordinal: Vec<usize>,
    /// For each key: the history indices of its puts, in issue order.
    puts_of: Vec<Vec<usize>>,
    seen: Vec<Vec<u64>>,
}

fn set_bit(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn union(into: &mut [u64], from: &[u64]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a |= *b;
    }
}

impl<'a> Truth<'a> {
    pub fn new(history: &'a [OpRecord]) -> Truth<'a> {
        let mut keys: BTreeMap<&crate::ring::Key, usize> = BTreeMap::new();
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
            if op.kind == OpKind::Put {
                ordinal[i] = puts_of[k].len();
                puts_of[k].push(i);
            }
        }
        // A put depends on its context's get, which ended before the put started; a get
        // depends on the puts whose versions it returned, which started before it ended.
        // Processing puts by start time and gets by end time (puts first on a tie)
        // therefore visits every dependency first.
        let mut order: Vec<(SimTime, u8, usize)> = history
            .iter()
            .enumerate()
            .map(|(i, op)| match op.kind {
                OpKind::Put => (op.start.unwrap_or(SimTime::MAX), 0, i),
                OpKind::Get => (op.end.unwrap_or(SimTime::MAX), 1, i),
            })
            .collect();
        order.sort();
        let words = |k: usize| puts_of[k].len().div_ceil(64);
        let mut seen: Vec<Vec<u64>> = (0..history.len())
            .map(|i| vec![0; words(key_of[i])])
            .collect();
        for (_, _, i) in order {
            let op = &history[i];
            let mut bits = vec![0u64; words(key_of[i])];
            match op.kind {
                OpKind::Put => {
                    // Only a context read from the same key carries causality for this key.
                    if let Some(g) = op.context_from.filter(|&g| key_of[g] == key_of[i]) {
                        union(&mut bits, &seen[g]);
                    }
                    set_bit(&mut bits, ordinal[i]);
                }
                OpKind::Get => {
                    if let Outcome::GetOk { versions, .. } = &op.outcome {
                        for v in versions {
                            if let Some(w) =
                                index_of(history, v.write).filter(|&w| key_of[w] == key_of[i])
                            {
                                union(&mut bits, &seen[w]);
                            }
                        }
                    }
                }
            }
            seen[i] = bits;
        }
        Truth {
            history,
            key_of,
            ordinal,
            puts_of,
            seen,
        }
    }

    /// Whether operation `index` has (causally) seen put `put` (a history index of the same key).
    pub fn has_seen(&self, index: usize, put: usize) -> bool {
        self.key_of[index] == self.key_of[put]
            && self.ordinal[put] != usize::MAX
            && self.seen[index]
                .get(self.ordinal[put] / 64)
                .is_some_and(|w| w & (1 << (self.ordinal[put] % 64)) != 0)
    }

    /// The puts of its key that op `index` has seen, as a bitset over the key's
    /// puts in issue order (see [`Truth::put_ordinal`]).
    pub fn seen_bits(&self, index: usize) -> &[u64] {
        &self.seen[index]
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
    pub fn covers(&self, held: &[Version], p: &OpRecord, mode: Versioning) -> bool {
        let Some(pi) = index_of(self.history, p.id) else {
            return false;
        };
        held.iter().any(|v| {
            v.write == p.id || index_of(self.history, v.write).is_some_and(|w| {
                self.has_seen(w, pi)
                    || (mode == Versioning::LastWriteWins
                        && matches!((self.history[w].start, p.end), (Some(s), Some(e)) if s > e))
            })
        })
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

/// Staleness of every successful get: k (acknowledged versions behind) and the time since the newest acknowledged write.
pub fn staleness(history: &[OpRecord], truth: &Truth) -> Vec<Staleness> {
    let mut out = Vec::new();
    for (gi, g) in history.iter().enumerate() {
        if g.kind != OpKind::Get || !matches!(g.outcome, Outcome::GetOk { .. }) {
            continue;
        }
        let Some(start) = g.start else { continue };
        let mut k = 0;
        let mut newest: Option<SimTime> = None;
        for &pi in truth.puts_of_key(gi) {
            let p = &history[pi];
            let Some(end) = p.end.filter(|_| matches!(p.outcome, Outcome::PutOk { .. })) else {
                continue;
            };
            if end < start {
                newest = newest.max(Some(end));
                if !truth.has_seen(gi, pi) {
                    k += 1;
                }
            }
        }
        out.push(Staleness {
            get: gi,
            k,
            since_newest_ack: newest.map(|e| start - e),
        });
    }
    out
}
