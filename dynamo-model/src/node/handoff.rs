//! Hinted handoff (§4.6): a fallback that stored a write for an unreachable
//! owner keeps it as a hint, and delivers it to that owner, deleting it only
//! once the owner acknowledges that very revision. A node that stops owning
//! a key after a membership change (§4.9) offers it through the same log.
//!
//! The log is durable; the round that delivers it runs only while hints are
//! held (the node arms it, see `replica.rs`).

use crate::config::Versioning;
use crate::ring::Key;
use crate::version::{Actor, Version, reconcile, reconcile_all};
use sim_core::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A hinted replica kept by a fallback for the node it stood in for.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Hint {
    /// The versions held for that node.
    pub versions: Vec<Version>,
    /// Bumped on every change, so an ack for an older delivery deletes nothing.
    pub rev: u64,
}

/// The hints a node holds, by (intended node, key). Shared copy on write.
#[derive(Clone, Debug, Hash)]
pub(crate) struct HintLog {
    hints: Arc<BTreeMap<(NodeId, Key), Hint>>,
    /// The next revision to give; above every revision held. A wipe keeps it.
    next_rev: u64,
    /// Keys this node has held as a hint, or offered away after a
    /// membership change. Only the checkers read it: such a node may rightly
    /// answer a get of the key with nothing. A wipe keeps it.
    held_once: Arc<BTreeSet<Key>>,
}

impl Default for HintLog {
    fn default() -> HintLog {
        HintLog {
            hints: Arc::default(),
            next_rev: 1,
            held_once: Arc::default(),
        }
    }
}

impl HintLog {
    /// Every hint held, by (intended node, key).
    pub(crate) fn map(&self) -> &BTreeMap<(NodeId, Key), Hint> {
        &self.hints
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.hints.is_empty()
    }

    /// Whether `key` was ever held here as a hint or offered away.
    pub(crate) fn held_once(&self, key: &Key) -> bool {
        self.held_once.contains(key)
    }

    /// The versions of every hint for `key`, whoever it is for.
    pub(crate) fn versions_of<'a>(&'a self, key: &'a Key) -> impl Iterator<Item = &'a Version> {
        self.hints
            .iter()
            .filter(move |((_, k), _)| k == key)
            .flat_map(|(_, h)| &h.versions)
    }

    /// The highest counter of `actor` among the hinted versions of `key`.
    pub(crate) fn seen_counter(&self, key: &Key, actor: Actor) -> u64 {
        self.versions_of(key)
            .map(|v| v.clock.max_counter(actor))
            .max()
            .unwrap_or(0)
    }

    /// Holds `v` for `target`. `None` when it changed nothing; otherwise
    /// whether the hint is new.
    pub(crate) fn hold(
        &mut self,
        target: NodeId,
        key: &Key,
        v: &Version,
        mode: Versioning,
    ) -> Option<bool> {
        let rev = self.next_rev;
        let entry = Arc::make_mut(&mut self.hints).entry((target, key.clone()));
        let fresh = matches!(entry, std::collections::btree_map::Entry::Vacant(_));
        let h = entry.or_insert(Hint {
            versions: Vec::new(),
            rev,
        });
        if !reconcile(&mut h.versions, v, mode) {
            return None;
        }
        debug_assert!(rev >= h.rev, "a hint's revision only grows");
        h.rev = rev;
        self.next_rev += 1;
        Arc::make_mut(&mut self.held_once).insert(key.clone());
        Some(fresh)
    }

    /// Adds `versions` to the hint for `owner` at a new revision; returns
    /// the hint (for a delivery now).
    pub(crate) fn offer(
        &mut self,
        owner: NodeId,
        key: &Key,
        versions: &[Version],
        mode: Versioning,
    ) -> &Hint {
        let rev = self.next_rev;
        self.next_rev += 1;
        let h = Arc::make_mut(&mut self.hints)
            .entry((owner, key.clone()))
            .or_insert(Hint {
                versions: Vec::new(),
                rev,
            });
        reconcile_all(&mut h.versions, versions, mode);
        debug_assert!(rev >= h.rev, "a hint's revision only grows");
        h.rev = rev;
        h
    }

    /// Records that `key` was offered away.
    pub(crate) fn note_offered(&mut self, key: &Key) {
        Arc::make_mut(&mut self.held_once).insert(key.clone());
    }

    /// Deletes the hint in `slot` if the acknowledgement is for its current
    /// revision; returns whether it did.
    pub(crate) fn acknowledge(&mut self, slot: &(NodeId, Key), rev: u64) -> bool {
        if self.hints.get(slot).is_none_or(|h| h.rev != rev) {
            return false;
        }
        Arc::make_mut(&mut self.hints).remove(slot);
        true
    }

    /// Takes the hint in `slot` out of the log.
    pub(crate) fn take(&mut self, slot: &(NodeId, Key)) -> Option<Hint> {
        if !self.hints.contains_key(slot) {
            return None;
        }
        Arc::make_mut(&mut self.hints).remove(slot)
    }

    /// The hints to send this round: every hint (or only `only`'s). A
    /// target believed down (`is_up` false) still gets one hint a round, as
    /// a probe: the paper's node "periodically retries" a failed peer to
    /// detect its recovery. Without it, a fallback that once timed out on
    /// the target would hold the hint forever when gossip is off.
    pub(crate) fn deliveries<'a>(
        &'a self,
        only: Option<NodeId>,
        is_up: impl Fn(NodeId) -> bool + 'a,
    ) -> impl Iterator<Item = (&'a (NodeId, Key), &'a Hint)> + 'a {
        let mut probed: Vec<NodeId> = Vec::new();
        self.hints.iter().filter(move |((target, _), _)| {
            if only.is_some_and(|o| o != *target) {
                return false;
            }
            if !is_up(*target) {
                if probed.contains(target) {
                    return false;
                }
                probed.push(*target);
            }
            true
        })
    }

    /// A wiped disk: no hint held. The revision counter and the record of
    /// keys once held survive (revisions never repeat within a run).
    pub(crate) fn wipe(&mut self) {
        self.hints = Arc::default();
    }
}
