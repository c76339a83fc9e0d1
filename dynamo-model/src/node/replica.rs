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
                reconcile(
                    self.store.entry(key.clone()).or_default(),
                    v,
                    self.cfg.versioning,
                );
            }
        }
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
