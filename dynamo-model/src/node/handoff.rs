//! Hinted handoff (§4.6): hints kept for a node that was down, delivered when it is back.

#[allow(clippy::wildcard_imports)]
use super::*;

impl DynamoNode {
    // ---- hinted handoff (§4.6) ----

    pub(super) fn arm_hint_timer(&mut self, cx: Cx) {
        if !self.hint_timer && (!self.hints.is_empty() || self.sweep_due) {
            self.hint_timer = true;
            cx.set_timer(self.cfg.hint_interval, Timer::HintDelivery);
        }
    }

    /// Sends every hint (or only `only`'s) to its target.
    pub(super) fn deliver_hints(&mut self, only: Option<NodeId>, cx: Cx) {
        // A target believed down still gets one hint per round, as a probe: the
        // paper's node "periodically retries" a failed peer to detect its
        // recovery. Without it, a fallback that once timed out on the target
        // would hold the hint forever when gossip is off.
        let mut probed: Vec<NodeId> = Vec::new();
        for ((target, key), h) in &self.hints {
            if only.is_some_and(|o| o != *target) {
                continue;
            }
            if !self.view.is_up(*target) {
                if probed.contains(target) {
                    continue;
                }
                probed.push(*target);
            }
            let to = *target;
            #[cfg(feature = "bugs")]
            let to =
                crate::bugs::hint_target(self.cfg.bug, to, || self.ring.preference_list(key, 1)[0]);
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
}
