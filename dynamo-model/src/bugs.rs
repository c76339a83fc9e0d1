//! Injected bugs: deliberate mistakes in the node's code that negative
//! scenarios switch on (`inject_bug = "..."`) to prove that a checker
//! catches them.
//!
//! This module exists only with the `bugs` cargo feature, which the test
//! suite and the fuzz harness turn on; a release build of `dynsim` compiles
//! none of it, and the node's code carries no branch for it. Every bug's
//! behaviour is written here, as a function of plain values (so this file
//! imports nothing of the model, and nothing imports it back in a circle);
//! each place in the node that a bug changes is a single
//! `#[cfg(feature = "bugs")]` line that calls in.

use sim_core::NodeId;

/// A deliberate bug, for negative tests that prove a checker catches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// A get coordinator returns every replica's versions as they came, without reconciling them.
    UnreconciledReads,
    /// Preference lists take the next N tokens, without skipping a node already listed.
    DuplicateReplicas,
    /// A put coordinator ignores the client's context: every write starts a fresh clock.
    DroppedContext,
    /// A coordinator counts a duplicated ack or read reply as one more answer.
    CountDuplicateAnswers,
    /// A coordinator that failed a request at its deadline keeps it open and replies ok when the quorum arrives late.
    OkAfterFailed,
    /// A replica drops the versions a read repair sends it instead of merging them.
    SkipRepairMerge,
    /// A replica answers another coordinator's read as if its store were empty.
    EmptyReadReplies,
    /// Read repair sends the reconciled versions to the node after the stale one (by id), not to it.
    RepairWrongNode,
    /// A fallback hands a hint to the key's first owner instead of the node it was for, and deletes it on that owner's ack.
    HintToFirstOwner,
    /// Anti-entropy skips the first differing leaf it finds at the bottom of the tree.
    SkipDifferingLeaf,
    /// A node that learns of a membership change through gossip merges the
    /// history but keeps its old ring (and offers nothing it no longer owns).
    StaleRing,
    /// A node that hands over a key it no longer owns keeps a copy in its store.
    KeepMovedKey,
    /// A node hands over a key it no longer owns and deletes it at once, not
    /// when the new owner acknowledges it.
    DropHandoffEarly,
    /// A seed keeps the membership changes it hears to itself: the other nodes
    /// learn of a join or leave only through gossip.
    SeedKeepsNews,
    /// A coordinator that gets a late read reply with siblings (for a get it
    /// no longer runs) recurses without end.
    RecurseOnLateAnswer,
    /// ... allocates without end.
    HoardOnLateAnswer,
    /// ... panics.
    PanicOnLateAnswer,
}

impl Bug {
    /// Every bug, in the order their names are listed.
    pub const ALL: [Bug; 17] = [
        Bug::UnreconciledReads,
        Bug::DuplicateReplicas,
        Bug::DroppedContext,
        Bug::CountDuplicateAnswers,
        Bug::OkAfterFailed,
        Bug::SkipRepairMerge,
        Bug::EmptyReadReplies,
        Bug::RepairWrongNode,
        Bug::HintToFirstOwner,
        Bug::SkipDifferingLeaf,
        Bug::StaleRing,
        Bug::KeepMovedKey,
        Bug::DropHandoffEarly,
        Bug::SeedKeepsNews,
        Bug::RecurseOnLateAnswer,
        Bug::HoardOnLateAnswer,
        Bug::PanicOnLateAnswer,
    ];

    /// The name a scenario's `inject_bug` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Bug::UnreconciledReads => "unreconciled-reads",
            Bug::DuplicateReplicas => "duplicate-replicas",
            Bug::DroppedContext => "dropped-context",
            Bug::CountDuplicateAnswers => "count-duplicate-answers",
            Bug::OkAfterFailed => "ok-after-failed",
            Bug::SkipRepairMerge => "skip-repair-merge",
            Bug::EmptyReadReplies => "empty-read-replies",
            Bug::RepairWrongNode => "repair-wrong-node",
            Bug::HintToFirstOwner => "hint-to-first-owner",
            Bug::SkipDifferingLeaf => "skip-differing-leaf",
            Bug::StaleRing => "stale-ring",
            Bug::KeepMovedKey => "keep-moved-key",
            Bug::DropHandoffEarly => "drop-handoff-early",
            Bug::SeedKeepsNews => "seed-keeps-news",
            Bug::RecurseOnLateAnswer => "recurse-on-late-answer",
            Bug::HoardOnLateAnswer => "hoard-on-late-answer",
            Bug::PanicOnLateAnswer => "panic-on-late-answer",
        }
    }

    /// The bug of that name, if any.
    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Every name, comma-separated, for error messages.
    pub fn names() -> String {
        let names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
        names.join(", ")
    }
}

/// The cluster's injected bug, as its configuration names it.
type Switch = Option<Bug>;

/// Unreconciled reads: a get's answer is whatever the replicas said,
/// duplicates and stale versions included. `None` when the bug is off.
pub(crate) fn unreconciled<'a, V: Clone + 'a>(
    bug: Switch,
    answers: impl Iterator<Item = &'a [V]>,
) -> Option<Vec<V>> {
    (bug == Some(Bug::UnreconciledReads)).then(|| answers.flatten().cloned().collect())
}

/// Entry `k` of the walk from token `start`, given the ring's (position, owner) tokens.
type WalkEntry = fn(&[(u64, NodeId)], usize, usize) -> NodeId;

/// Duplicate replicas: entry `k` of the walk from token `start` is the
/// owner of the `k`-th next token, whether or not it is listed already.
/// `None` when the bug is off.
pub(crate) fn repeated_walks(bug: Switch) -> Option<WalkEntry> {
    (bug == Some(Bug::DuplicateReplicas)).then_some(
        |tokens: &[(u64, NodeId)], start: usize, k: usize| tokens[(start + k) % tokens.len()].1,
    )
}

/// Dropped context: the put coordinator loses the client's context, so the write looks blind.
pub(crate) fn context<'a, C>(bug: Switch, context: &'a C, empty: &'a C) -> &'a C {
    if bug == Some(Bug::DroppedContext) {
        empty
    } else {
        context
    }
}

/// Count duplicate answers: whether an answer from a target that already
/// answered counts once more.
pub(crate) fn counts_duplicate(bug: Switch) -> bool {
    bug == Some(Bug::CountDuplicateAnswers)
}

/// Ok after failed: whether an op failed at its deadline stays open, so a
/// late quorum replies again.
pub(crate) fn stays_open_after_failing(bug: Switch) -> bool {
    bug == Some(Bug::OkAfterFailed)
}

/// Skip repair merge: whether a replica drops a read repair on the floor.
pub(crate) fn drops_repair(bug: Switch) -> bool {
    bug == Some(Bug::SkipRepairMerge)
}

/// Empty read replies: the answer leaves out everything the replica holds.
pub(crate) fn read_reply<V>(bug: Switch, versions: Vec<V>) -> Vec<V> {
    if bug == Some(Bug::EmptyReadReplies) {
        Vec::new()
    } else {
        versions
    }
}

/// Repair wrong node: the repair goes to the next node by id (of `nodes`), not the stale one.
pub(crate) fn repair_target(bug: Switch, stale: NodeId, nodes: u32) -> NodeId {
    if bug == Some(Bug::RepairWrongNode) {
        NodeId((stale.0 + 1) % nodes)
    } else {
        stale
    }
}

/// Hint to first owner: the hint goes to the key's first owner, whoever it was for.
pub(crate) fn hint_target(
    bug: Switch,
    target: NodeId,
    first_owner: impl FnOnce() -> NodeId,
) -> NodeId {
    if bug == Some(Bug::HintToFirstOwner) {
        first_owner()
    } else {
        target
    }
}

/// Hint to first owner: an ack from the first owner retires the hint it was
/// sent, found by its key and revision. The (target, key) slot the ack retires.
pub(crate) fn acked_hint<'a, K: PartialEq + 'a>(
    bug: Switch,
    mut hints: impl Iterator<Item = (&'a (NodeId, K), u64)>,
    slot: (NodeId, K),
    rev: u64,
) -> (NodeId, K) {
    if bug != Some(Bug::HintToFirstOwner) {
        return slot;
    }
    match hints.find(|((_, k), r)| *k == slot.1 && *r == rev) {
        Some(((target, _), _)) => (*target, slot.1),
        None => slot,
    }
}

/// Skip differing leaf: the first differing leaf is never exchanged.
/// `None` when that leaves none to exchange.
pub(crate) fn skip_first_leaf(bug: Switch, mut differing: Vec<u32>) -> Option<Vec<u32>> {
    if bug == Some(Bug::SkipDifferingLeaf) && !differing.is_empty() {
        differing.remove(0);
    }
    (!differing.is_empty()).then_some(differing)
}

/// Stale ring: whether a membership change learnt through gossip (`gossiped`:
/// from a peer that is neither a seed nor the node that changed) is merged
/// without being applied (no new ring, no hand-over).
pub(crate) fn leaves_ring_stale(bug: Switch, gossiped: bool) -> bool {
    bug == Some(Bug::StaleRing) && gossiped
}

/// Keep moved key: whether a node keeps a copy of a key it hands over.
pub(crate) fn keeps_moved_key(bug: Switch) -> bool {
    bug == Some(Bug::KeepMovedKey)
}

/// Drop handoff early: whether a node deletes a key it hands over as soon as
/// it sends it, instead of when the new owner acknowledges it.
pub(crate) fn drops_handoff_early(bug: Switch) -> bool {
    bug == Some(Bug::DropHandoffEarly)
}

/// Seed keeps news: whether a seed passes the membership changes it hears on.
pub(crate) fn seed_passes_news(bug: Switch) -> bool {
    bug != Some(Bug::SeedKeepsNews)
}

/// Crashes on a late read reply with siblings (`versions` of them, for a
/// get no longer in flight; rare, so most runs never meet it), the three
/// ways a model bug can take a run down: a recursion without end (a stack
/// overflow), an allocation without end (the memory budget), or a panic.
pub(crate) fn late_answer(bug: Switch, versions: usize) {
    if versions < 2 {
        return;
    }
    match bug {
        Some(Bug::RecurseOnLateAnswer) => {
            std::hint::black_box(recurse(0));
        }
        Some(Bug::HoardOnLateAnswer) => hoard(),
        Some(Bug::PanicOnLateAnswer) => {
            panic!("injected bug: a late read reply with {versions} siblings")
        }
        _ => {}
    }
}

/// Recurses until the stack runs out (the bound is never reached).
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 32]);
    if depth < u64::MAX {
        recurse(depth + 1).wrapping_add(frame[31])
    } else {
        frame[0]
    }
}

/// Allocates (and touches) a mebibyte at a time until allocation fails.
fn hoard() {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(vec![1; 1 << 20]);
        std::hint::black_box(&kept);
    }
}
