//! Gossip of heartbeats (§4.8) and the local view it feeds.

#[allow(clippy::wildcard_imports)]
use super::*;

impl DynamoNode {
    // ---- gossip (§4.8) ----

    pub(super) fn gossip_round(&mut self, cx: Cx) {
        let n = self.cfg.nodes;
        if n > 1 {
            let mut peer = cx.rng().below(u64::from(n) - 1) as u32;
            if peer >= self.id.0 {
                peer += 1;
            }
            let beats = self.view.beat();
            cx.send(NodeId(peer), Msg::Gossip { beats });
            if self.membership_moved {
                // Membership histories reconcile in the same exchange (§4.8.1),
                // with the random peer and with a seed.
                let members = self.members.clone();
                let seeds = &self.cfg.seeds;
                let seed = if seeds.is_empty() {
                    peer
                } else {
                    seeds[cx.rng().index(seeds.len())]
                };
                for to in [NodeId(peer), NodeId(seed)] {
                    if to != self.id {
                        cx.send(
                            to,
                            Msg::Members {
                                members: members.clone(),
                                reply: true,
                            },
                        );
                    }
                }
            }
        }
        cx.set_timer(self.cfg.gossip_interval, Timer::Gossip);
    }

    pub(super) fn merge_beats(&mut self, beats: &[crate::heartbeat::Beat], cx: Cx) {
        for n in self.view.merge(beats) {
            // A relayed heartbeat may predate the timeout that marked `n` down;
            // only `n`'s own answer to a probe shows it is up now.
            Self::note(cx, "view", || {
                format!("{n} has a newer heartbeat through gossip; probing it")
            });
            let beats = self.view.beats();
            cx.send(n, Msg::Gossip { beats });
        }
        self.incarnation = Some(self.view.incarnation());
    }
}
