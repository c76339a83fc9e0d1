//! Ground-truth causality over a history, independent of what the vector
//! clocks say: a put has "seen" every put whose version reached the get it
//! took its context from, transitively. Checkers use it, so a bug in clock
//! handling (a reused counter, a truncated entry) shows up instead of being
//! trusted.

use crate::cluster::{OpKind, OpRecord, Outcome};
use crate::config::Versioning;
use crate::version::Version;
use sim_core::SimTime;
use std::collections::BTreeSet;
use std::rc::Rc;

/// For every operation in a history, the set of put ids it has causally seen
/// (a put includes itself).
pub struct Truth<'a> {
    history: &'a [OpRecord],
    seen: Vec<Rc<BTreeSet<u64>>>,
}

impl<'a> Truth<'a> {
    pub fn new(history: &'a [OpRecord]) -> Truth<'a> {
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
        let empty = Rc::new(BTreeSet::new());
        let mut seen: Vec<Rc<BTreeSet<u64>>> = vec![empty.clone(); history.len()];
        for (_, _, i) in order {
            let op = &history[i];
            seen[i] = match op.kind {
                OpKind::Put => {
                    let mut s = op
                        .context_from
                        .map_or_else(BTreeSet::new, |g| (*seen[g]).clone());
                    s.insert(op.id);
                    Rc::new(s)
                }
                OpKind::Get => match &op.outcome {
                    Outcome::GetOk { versions, .. } => {
                        let mut s = BTreeSet::new();
                        for v in versions {
                            if let Some(w) = index_of(history, v.write) {
                                s.extend(seen[w].iter().copied());
                            }
                        }
                        Rc::new(s)
                    }
                    _ => empty.clone(),
                },
            };
        }
        Truth { history, seen }
    }

    /// The put ids operation `index` has seen.
    pub fn seen(&self, index: usize) -> &BTreeSet<u64> {
        &self.seen[index]
    }

    fn seen_by_writer(&self, write: u64) -> Option<&BTreeSet<u64>> {
        index_of(self.history, write).map(|i| &*self.seen[i])
    }

    /// Whether a replica holding `held` keeps acknowledged put `p` or a version that supersedes it.
    ///
    /// Vector clocks: superseded means written by a put that had (causally) seen `p`.
    /// Last write wins: also by any put that started after `p` was acknowledged.
    pub fn covers(&self, held: &[Version], p: &OpRecord, mode: Versioning) -> bool {
        held.iter().any(|v| {
            v.write == p.id
                || self
                    .seen_by_writer(v.write)
                    .is_some_and(|s| s.contains(&p.id))
                || (mode == Versioning::LastWriteWins
                    && index_of(self.history, v.write).is_some_and(
                        |w| matches!((self.history[w].start, p.end), (Some(s), Some(e)) if s > e),
                    ))
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
        let seen = truth.seen(gi);
        let mut k = 0;
        let mut newest: Option<SimTime> = None;
        for p in history.iter().filter(|p| {
            p.kind == OpKind::Put && p.key == g.key && matches!(p.outcome, Outcome::PutOk { .. })
        }) {
            let Some(end) = p.end else { continue };
            if end < start {
                newest = newest.max(Some(end));
                if !seen.contains(&p.id) {
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
