//! The replica: the node's data path. Every mechanism reads and writes the
//! node's data through a [`Replica`], a borrowed view of the store, the hint
//! log, which keys the node owns, and the rounds that serve them: it stores
//! what coordinators, repairs and transfers send (every write to the store
//! goes through [`Replica::merge_into_store`], which arms the tombstone
//! purge; the purge runs only while the store holds tombstones, so a run
//! without deletes has no purge event), answers reads, issues new versions
//! for a coordinator, and delivers hints.

use crate::config::{ClusterConfig, Versioning};
use crate::msg::{Msg, Timer};
use crate::node::cx::{Cx, Wire, note};
use crate::node::handoff::HintLog;
use crate::node::stats::NodeStats;
use crate::node::store::Store;
use crate::ring::{Key, Ring};
use crate::version::{Actor, Stamp, VClock, Version, reconcile_all};
use sim_core::NodeId;
use std::sync::Arc;

/// Which keys this node owns: the ring of its own membership view, and
/// whether it has seen a membership change (from then on it offers keys it
/// no longer owns to their owners). Durable, with the membership it is built from.
#[derive(Clone, Debug)]
pub(crate) struct Ownership {
    /// This node's ring, built from its membership history.
    pub(crate) ring: Arc<Ring>,
    /// Whether this node has seen a membership change.
    pub(crate) moved: bool,
}

/// Hashes whether the node has seen a change; its ring is a function of
/// its membership history, which the node's digest covers.
impl std::hash::Hash for Ownership {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.moved.hash(state);
    }
}

/// The periodic work that serves the data, armed only while it has work:
/// volatile (a restart arms it anew).
#[derive(Clone, Debug, Default, Hash)]
pub(crate) struct Rounds {
    /// A hint-delivery timer is pending; it runs only while hints are held
    /// (or a sweep is due).
    pub(crate) hints_armed: bool,
    /// A tombstone-purge timer is pending; it runs only while the store holds tombstones.
    pub(crate) purge_armed: bool,
    /// A key this node does not own reached its store; the next
    /// hint-delivery round offers it on.
    pub(crate) sweep_due: bool,
}

/// A borrowed view of everything the data path touches.
pub(crate) struct Replica<'a> {
    pub(crate) me: NodeId,
    pub(crate) cfg: &'a ClusterConfig,
    pub(crate) store: &'a mut Store,
    pub(crate) hints: &'a mut HintLog,
    pub(crate) owner: &'a mut Ownership,
    pub(crate) rounds: &'a mut Rounds,
    /// The disk's epoch (`None` after a wipe, until the node starts).
    pub(crate) epoch: Option<u32>,
    /// Whether the node's coordinator still holds requests (ops in flight,
    /// forwards not yet taken): a leaving node stops only once it holds none.
    pub(crate) requests_held: bool,
    pub(crate) stats: &'a mut NodeStats,
}

impl Replica<'_> {
    /// Whether this node is one of `key`'s N replicas in its own view.
    pub(crate) fn owns(&self, key: &Key) -> bool {
        self.owner
            .ring
            .preference_list(key, self.cfg.n as usize)
            .contains(&self.me)
    }

    /// This node's actor in vector clocks: its id and its disk's epoch.
    pub(crate) fn actor(&self) -> Actor {
        Actor {
            node: self.me,
            epoch: self.epoch.unwrap_or(0),
        }
    }

    /// Stores a version in the main store, or as a hint for `hint` (§4.6).
    pub(crate) fn store_version<N: Wire>(
        &mut self,
        key: &Key,
        v: &Version,
        hint: Option<NodeId>,
        cx: Cx<'_, '_, N>,
    ) {
        match hint {
            Some(target) if target != self.me => {
                if let Some(fresh) = self.hints.hold(target, key, v, self.cfg.versioning) {
                    if fresh {
                        self.stats.hints_created += 1;
                    }
                    self.arm_hint_round(cx);
                    note(cx, "hint", || format!("holding key {key} {v} for {target}"));
                }
            }
            _ => {
                self.merge_into_store(key, std::slice::from_ref(v), cx);
            }
        }
    }

    /// Reconciles `versions` into the main store's set for `key`; every write
    /// to the store goes through here, so a tombstone always arms the purge.
    /// Returns whether the set changed.
    pub(crate) fn merge_into_store<N: Wire>(
        &mut self,
        key: &Key,
        versions: &[Version],
        cx: Cx<'_, '_, N>,
    ) -> bool {
        let merged = self.store.merge(key, versions, self.cfg.versioning);
        if merged.tombstone {
            self.arm_purge(cx);
        }
        // Sent here by a node with another view of the ring: pass it on at
        // the next hint-delivery round, by when the views have likely met
        // (offering at once would bounce keys between two disagreeing views).
        if self.owner.moved && !self.rounds.sweep_due && !self.owns(key) {
            self.rounds.sweep_due = true;
            self.arm_hint_round(cx);
        }
        merged.changed
    }

    /// What this node answers a read with: its store's versions and any hinted ones, reconciled.
    pub(crate) fn local_versions(&self, key: &Key) -> Vec<Version> {
        let mut out = self.store.get(key).cloned().unwrap_or_default();
        for ((_, k), h) in self.hints.map() {
            if k == key {
                reconcile_all(&mut out, &h.versions, self.cfg.versioning);
            }
        }
        out
    }

    /// The new version a coordinator writes: the context's clock with this
    /// node's counter moved past every counter of its own it has seen or
    /// issued for the key (§4.4). Under last-write-wins, the stamp alone.
    pub(crate) fn new_version<N: Wire>(
        &mut self,
        key: &Key,
        value: Arc<str>,
        context: &VClock,
        req: u64,
        cx: Cx<'_, '_, N>,
    ) -> Version {
        let stamp = Stamp {
            clock_us: cx.clock_us(),
            node: self.me,
            tombstone: false,
        };
        if self.cfg.versioning == Versioning::LastWriteWins {
            // Last write wins orders versions by stamp alone; they carry no vector clock.
            return Version {
                value,
                clock: VClock::new(),
                dot: None,
                stamp,
                write: req,
            };
        }
        let actor = self.actor();
        #[cfg(feature = "bugs")]
        let empty = VClock::new();
        #[cfg(feature = "bugs")]
        let context = crate::bugs::context(self.cfg.bug, context, &empty);
        let seen = self
            .store
            .seen_counter(key, actor)
            .max(self.hints.seen_counter(key, actor));
        let issued = self.store.issued(key);
        let counter = context.max_counter(actor).max(seen).max(issued) + 1;
        self.store.issue(key, counter);
        let mut v = Version::written(value, context, actor, counter, cx.clock_us(), req);
        let dropped = v
            .clock
            .truncate_keeping(self.cfg.vclock_max_entries as usize, Some(actor));
        if dropped > 0 {
            self.stats.clock_truncations += dropped as u64;
            note(cx, "truncate", || {
                format!("key {key}: dropped {dropped} oldest clock entries")
            });
        }
        v
    }

    /// Arms the hint-delivery round, unless it is pending or has nothing to do.
    pub(crate) fn arm_hint_round<N: Wire>(&mut self, cx: Cx<'_, '_, N>) {
        if !self.rounds.hints_armed && (!self.hints.is_empty() || self.rounds.sweep_due) {
            self.rounds.hints_armed = true;
            cx.set_timer(self.cfg.hint_interval, Timer::HintDelivery);
        }
    }

    /// Sends every hint (or only `only`'s) to its target (see [`HintLog::deliveries`]).
    pub(crate) fn deliver_hints<N: Wire>(
        &self,
        only: Option<NodeId>,
        is_up: impl Fn(NodeId) -> bool,
        cx: Cx<'_, '_, N>,
    ) {
        for ((target, key), h) in self.hints.deliveries(only, is_up) {
            let to = *target;
            #[cfg(feature = "bugs")]
            let to = crate::bugs::hint_target(self.cfg.bug, to, || {
                self.owner.ring.preference_list(key, 1)[0]
            });
            cx.send(
                to,
                Msg::Handoff {
                    key: key.clone(),
                    versions: h.versions.clone(),
                    rev: h.rev,
                },
            );
        }
    }

    /// Arms the purge timer for the oldest tombstone in the store, unless one is pending.
    pub(crate) fn arm_purge<N: Wire>(&mut self, cx: Cx<'_, '_, N>) {
        if self.rounds.purge_armed {
            return;
        }
        let now = cx.clock_us();
        let grace = self.cfg.tombstone_grace.as_us() as i64;
        if let Some(due) = self.store.next_purge_due(grace) {
            self.rounds.purge_armed = true;
            // At least 1 ms from now, so a skewed clock cannot make it spin.
            let wait = due.saturating_sub(now).max(1_000) as u64;
            cx.set_timer(sim_core::SimDuration(wait), Timer::Purge);
        }
    }

    /// Drops every tombstone of the main store older than the grace period
    /// (by this node's clock against the delete's stamp), and keys left with
    /// no version; then re-arms for the next. Hints keep theirs until delivered.
    pub(crate) fn purge_tombstones<N: Wire>(&mut self, cx: Cx<'_, '_, N>) {
        self.rounds.purge_armed = false;
        let now = cx.clock_us();
        let grace = self.cfg.tombstone_grace.as_us() as i64;
        let purged = self.store.purge(now, grace);
        if !purged.is_empty() {
            self.stats.tombstones_purged += purged.len() as u64;
            let grace = self.cfg.tombstone_grace;
            note(cx, "purge", || {
                let names: Vec<String> = purged.iter().map(ToString::to_string).collect();
                format!(
                    "tombstone(s) older than {grace} purged: key {}",
                    names.join(", key ")
                )
            });
        }
        self.arm_purge(cx);
    }
}
