//! A replica: storing the versions a coordinator, a repair or a transfer sends.

#[allow(clippy::wildcard_imports)]
use super::*;

impl DynamoNode {
    // ---- replicas ----

    /// Stores a version in the main store, or as a hint for `hint`.
    pub(super) fn store_version(&mut self, key: &Key, v: &Version, hint: Option<NodeId>, cx: Cx) {
        match hint {
            Some(target) if target != self.id => {
                let rev = self.next_hint_rev;
                let entry = self.hints.entry((target, key.clone()));
                let fresh = matches!(entry, std::collections::btree_map::Entry::Vacant(_));
                let h = entry.or_insert(Hint {
                    versions: Vec::new(),
                    rev,
                });
                if reconcile(&mut h.versions, v, self.cfg.versioning) {
                    self.moved_keys.insert(key.clone());
                    h.rev = rev;
                    self.next_hint_rev += 1;
                    if fresh {
                        self.stats.hints_created += 1;
                    }
                    self.arm_hint_timer(cx);
                    Self::note(cx, "hint", || format!("holding key {key} {v} for {target}"));
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
    pub(super) fn merge_into_store(&mut self, key: &Key, versions: &[Version], cx: Cx) -> bool {
        let set = self.store.entry(key.clone()).or_default();
        let changed = match versions {
            [one] => reconcile(set, one, self.cfg.versioning),
            _ => reconcile_all(set, versions, self.cfg.versioning),
        };
        if changed && set.iter().any(|v| v.is_deleted()) {
            self.arm_purge_timer(cx);
        }
        // Sent here by a node with another view of the ring: pass it on at
        // the next hint-delivery round, by when the views have likely met
        // (offering at once would bounce keys between two disagreeing views).
        if self.membership_moved && !self.sweep_due && !self.owns(key) {
            self.sweep_due = true;
            self.arm_hint_timer(cx);
        }
        changed
    }

    /// Arms the purge timer for the oldest tombstone in the store, unless one is pending.
    pub(super) fn arm_purge_timer(&mut self, cx: Cx) {
        if self.purge_timer {
            return;
        }
        let now = cx.clock_us();
        let grace = self.cfg.tombstone_grace.as_us() as i64;
        let due = self
            .store
            .values()
            .flatten()
            .filter(|v| v.is_deleted())
            .map(|v| v.stamp.clock_us.saturating_add(grace))
            .min();
        if let Some(due) = due {
            self.purge_timer = true;
            // At least 1 ms from now, so a skewed clock cannot make it spin.
            let wait = due.saturating_sub(now).max(1_000) as u64;
            cx.set_timer(sim_core::SimDuration(wait), Timer::Purge);
        }
    }

    /// Drops every tombstone of the main store older than the grace period
    /// (by this node's clock against the delete's stamp), and keys left with
    /// no version; then re-arms for the next. Hints keep theirs until delivered.
    pub(super) fn purge_tombstones(&mut self, cx: Cx) {
        self.purge_timer = false;
        let now = cx.clock_us();
        let grace = self.cfg.tombstone_grace.as_us() as i64;
        let mut purged: Vec<Key> = Vec::new();
        self.store.retain(|key, set| {
            let before = set.len();
            set.retain(|v| !(v.is_deleted() && now.saturating_sub(v.stamp.clock_us) >= grace));
            if set.len() < before {
                purged.push(key.clone());
            }
            !set.is_empty()
        });
        if !purged.is_empty() {
            self.stats.tombstones_purged += purged.len() as u64;
            Self::note(cx, "purge", || {
                let names: Vec<String> = purged.iter().map(ToString::to_string).collect();
                format!(
                    "tombstone(s) older than {} purged: key {}",
                    self.cfg.tombstone_grace,
                    names.join(", key ")
                )
            });
        }
        self.arm_purge_timer(cx);
    }

    /// What this node answers a read with: its store's versions and any hinted ones, reconciled.
    pub(super) fn local_versions(&self, key: &Key) -> Vec<Version> {
        let mut out = self.store.get(key).cloned().unwrap_or_default();
        for ((_, k), h) in &self.hints {
            if k == key {
                reconcile_all(&mut out, &h.versions, self.cfg.versioning);
            }
        }
        out
    }
}
