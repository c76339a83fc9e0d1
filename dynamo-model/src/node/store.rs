//! The store (§4.4's versions kept per key): what a replica holds for each
//! key it owns, and the counters this node has issued per key.
//!
//! Both are durable. Each is shared copy on write, so cloning a node (an
//! explorer branching from it) copies a pointer, and the first write after a
//! clone copies the map.

use crate::config::Versioning;
use crate::ring::Key;
use crate::version::{Actor, Version, reconcile, reconcile_all};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// A node's versions per key, and its write counters per key.
#[derive(Clone, Debug, Default, Hash)]
pub(crate) struct Store {
    /// Ordered by (ring position, key), so a key range is one or two runs.
    versions: Arc<BTreeMap<Key, Vec<Version>>>,
    /// The highest counter this node has issued per key, so it never issues one twice.
    issued: Arc<BTreeMap<Key, u64>>,
}

/// What a merge did to a key's set.
pub(crate) struct Merged {
    /// The set changed.
    pub(crate) changed: bool,
    /// It changed, and now holds a tombstone (the purge must be armed).
    pub(crate) tombstone: bool,
}

impl Store {
    /// Every key's versions.
    pub(crate) fn map(&self) -> &BTreeMap<Key, Vec<Version>> {
        &self.versions
    }

    /// The versions held for `key`.
    pub(crate) fn get(&self, key: &Key) -> Option<&Vec<Version>> {
        self.versions.get(key)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// The keys between two ring positions (a run of the store).
    pub(crate) fn range(
        &self,
        span: (Bound<Key>, Bound<Key>),
    ) -> std::collections::btree_map::Range<'_, Key, Vec<Version>> {
        self.versions.range(span)
    }

    /// Reconciles `incoming` into `key`'s set (§4.4).
    pub(crate) fn merge(&mut self, key: &Key, incoming: &[Version], mode: Versioning) -> Merged {
        let set = Arc::make_mut(&mut self.versions)
            .entry(key.clone())
            .or_default();
        let changed = match incoming {
            [one] => reconcile(set, one, mode),
            _ => reconcile_all(set, incoming, mode),
        };
        Merged {
            changed,
            tombstone: changed && set.iter().any(|v| v.is_deleted()),
        }
    }

    /// Takes `key` out of the store.
    pub(crate) fn remove(&mut self, key: &Key) -> Option<Vec<Version>> {
        if !self.versions.contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut self.versions).remove(key)
    }

    /// When the oldest tombstone held outlives `grace_us` (by its stamp), if any is held.
    pub(crate) fn next_purge_due(&self, grace_us: i64) -> Option<i64> {
        self.versions
            .values()
            .flatten()
            .filter(|v| v.is_deleted())
            .map(|v| v.stamp.clock_us.saturating_add(grace_us))
            .min()
    }

    /// Drops every tombstone that is `grace_us` old at `now_us`, and keys
    /// left with no version; returns the keys that lost a tombstone.
    pub(crate) fn purge(&mut self, now_us: i64, grace_us: i64) -> Vec<Key> {
        let mut purged: Vec<Key> = Vec::new();
        Arc::make_mut(&mut self.versions).retain(|key, set| {
            let before = set.len();
            set.retain(|v| {
                !(v.is_deleted() && now_us.saturating_sub(v.stamp.clock_us) >= grace_us)
            });
            if set.len() < before {
                purged.push(key.clone());
            }
            !set.is_empty()
        });
        purged
    }

    /// The highest counter of `actor` among the versions held for `key`.
    pub(crate) fn seen_counter(&self, key: &Key, actor: Actor) -> u64 {
        self.versions
            .get(key)
            .into_iter()
            .flatten()
            .map(|v| v.clock.max_counter(actor))
            .max()
            .unwrap_or(0)
    }

    /// The highest counter this node has issued for `key`.
    pub(crate) fn issued(&self, key: &Key) -> u64 {
        self.issued.get(key).copied().unwrap_or(0)
    }

    /// Records that this node issued `counter` for `key`; counters only grow.
    pub(crate) fn issue(&mut self, key: &Key, counter: u64) {
        debug_assert!(
            counter > self.issued(key),
            "counter {counter} for key {key} was issued already"
        );
        Arc::make_mut(&mut self.issued).insert(key.clone(), counter);
    }

    /// A wiped disk: nothing held, nothing issued.
    pub(crate) fn wipe(&mut self) {
        *self = Store::default();
    }
}
