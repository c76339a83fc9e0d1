//! Adding and removing nodes (§4.8.1, §4.9): an administrator asks a node to
//! join or leave; the node writes its own membership entry (status, tokens,
//! a version only it raises) and announces it to the seeds; seeds pass every
//! change on to every node, and gossip reconciles histories node to node.
//! Each node rebuilds its ring from its own membership, so during a change
//! nodes may disagree, and each routes by its own view. A node that no longer
//! owns a key offers it to the key's owners (as a hint for each, delivered by
//! hinted handoff's path) and deletes it only once each owner acknowledged it;
//! a leaving node owns nothing, hands everything over, then stops.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::config::TokenStrategy;
use crate::membership::{Member, MemberStatus, reconcile_membership, ring_tokens};
use crate::msg::Admin;

impl DynamoNode {
    /// Whether this node has handed everything over and stopped (it ignores every input).
    pub fn has_left(&self) -> bool {
        self.members[self.id.index()].status == MemberStatus::Left
    }

    /// This node's membership view: every node's status, tokens and version.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Whether this node has ever held `key` as a hint, or offered it away
    /// after a membership change.
    pub fn moved_key(&self, key: &Key) -> bool {
        self.moved_keys.contains(key)
    }

    /// The ring as this node sees it.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// An administrator's join or leave request.
    pub(super) fn on_admin(&mut self, client: ClientId, req: u64, admin: Admin, cx: Cx) {
        let me = self.id;
        let mine = self.members[me.index()].clone();
        let refuse = |cx: Cx, what: String| {
            cx.reply(client, req, Reply::Admin { done: false, what });
        };
        match admin {
            Admin::Join { tokens } => {
                if matches!(mine.status, MemberStatus::Joined | MemberStatus::Leaving) {
                    refuse(cx, format!("{me} is already a member"));
                    return;
                }
                if self.cfg.is_proxy(me) {
                    refuse(cx, format!("{me} is a proxy and owns no tokens"));
                    return;
                }
                let tokens = if tokens.is_empty() {
                    self.pick_tokens(cx)
                } else {
                    tokens
                };
                let count = tokens.len();
                self.set_own_entry(MemberStatus::Joined, tokens.into(), Arc::new([]), cx);
                cx.reply(
                    client,
                    req,
                    Reply::Admin {
                        done: true,
                        what: format!("{me} joined with {count} token(s)"),
                    },
                );
            }
            Admin::Leave => {
                if mine.status != MemberStatus::Joined {
                    refuse(cx, format!("{me} is not a member ({})", mine.status.name()));
                    return;
                }
                let left = ring_tokens(&self.members)
                    .iter()
                    .filter(|t| t.1 != me)
                    .map(|t| t.1)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                if left < self.cfg.n as usize {
                    refuse(
                        cx,
                        format!(
                            "{left} node(s) would own tokens without {me}, fewer than N = {}",
                            self.cfg.n
                        ),
                    );
                    return;
                }
                let heirs = self.leaving_heirs(cx);
                self.set_own_entry(MemberStatus::Leaving, mine.tokens, heirs, cx);
                cx.reply(
                    client,
                    req,
                    Reply::Admin {
                        done: true,
                        what: format!("{me} is leaving: handing its keys to their new owners"),
                    },
                );
                self.finish_leave_if_done(cx);
            }
        }
    }

    /// Tokens for a node joining without given ones, by the cluster's
    /// strategy (see [`crate::ring_change::pick_tokens`]).
    fn pick_tokens(&self, cx: Cx) -> Vec<u64> {
        let taken: std::collections::BTreeSet<u64> = self
            .members
            .iter()
            .flat_map(|m| m.tokens.iter().copied())
            .collect();
        let current = ring_tokens(&self.members);
        crate::ring_change::pick_tokens(&self.cfg, &current, &taken, cx.rng())
    }

    /// Under S3 and explicit partitions, who inherits each partition this
    /// node owns in its view when it leaves ([`crate::ring_change::heirs`]).
    fn leaving_heirs(&self, cx: Cx) -> Arc<[(u64, NodeId)]> {
        if matches!(self.cfg.tokens, TokenStrategy::Random { .. }) {
            return Arc::new([]);
        }
        crate::ring_change::heirs(&ring_tokens(&self.members), self.id, cx.rng()).into()
    }

    /// Writes this node's own membership entry at the next version, applies
    /// it, and announces it to the seeds.
    fn set_own_entry(
        &mut self,
        status: MemberStatus,
        tokens: Arc<[u64]>,
        heirs: Arc<[(u64, NodeId)]>,
        cx: Cx,
    ) {
        let me = self.id.index();
        let version = self.members[me].version + 1;
        Arc::make_mut(&mut self.members)[me] = Member {
            status,
            tokens,
            heirs,
            version,
        };
        self.apply_membership(&[self.id], cx);
        let members = self.members.clone();
        for &s in &self.cfg.seeds {
            if s != self.id.0 {
                cx.send(
                    NodeId(s),
                    Msg::Members {
                        members: members.clone(),
                        reply: true,
                    },
                );
            }
        }
    }

    /// Another node's membership history: reconcile it with this node's.
    pub(super) fn on_members(&mut self, from: NodeId, theirs: &[Member], reply: bool, cx: Cx) {
        let changed = reconcile_membership(&mut self.members, theirs);
        if !changed.is_empty() {
            self.apply_membership(&changed, cx);
            if self.cfg.seeds.contains(&self.id.0) {
                // A seed passes every change on, so that no node is left with an old ring.
                let members = self.members.clone();
                for n in (0..self.cfg.nodes).map(NodeId) {
                    if n != self.id && n != from {
                        cx.send(
                            n,
                            Msg::Members {
                                members: members.clone(),
                                reply: false,
                            },
                        );
                    }
                }
            }
        }
        let behind = theirs
            .iter()
            .zip(self.members.iter())
            .any(|(t, m)| m.version > t.version);
        if reply && behind {
            cx.send(
                from,
                Msg::Members {
                    members: self.members.clone(),
                    reply: false,
                },
            );
        }
    }

    /// Rebuilds the ring after the entries of `changed` changed, says so in
    /// the trace, and offers every key this node no longer owns to its owners.
    fn apply_membership(&mut self, changed: &[NodeId], cx: Cx) {
        let me = self.id;
        if changed.contains(&me)
            && self.members[me.index()].status == MemberStatus::Left
            && (!self.store.is_empty() || !self.hints.is_empty())
        {
            // Others say this node left, but it holds data: it left, lost its
            // disk and came back, and has taken writes since. Stopping now
            // would strand them, so it leaves again, handing them over first.
            let tokens = self.members[me.index()].tokens.clone();
            Self::note(cx, "membership", || {
                format!(
                    "{me} learns it has left, yet holds keys: it leaves again, handing them over"
                )
            });
            // Its partitions already went to the heirs its earlier leave named.
            let heirs = self.members[me.index()].heirs.clone();
            self.set_own_entry(MemberStatus::Leaving, tokens, heirs, cx);
            return;
        }
        self.membership_moved = true;
        self.stats.membership_changes += changed.len() as u64;
        self.ring = Arc::new(Ring::for_cluster(&self.cfg, ring_tokens(&self.members)));
        let pairs = self.anti_entropy_pairs().len();
        self.ae_cursor = if pairs > 0 { self.ae_cursor % pairs } else { 0 };
        let members = &self.members;
        let ring = &self.ring;
        Self::note(cx, "membership", || {
            let what: Vec<String> = changed
                .iter()
                .map(|n| {
                    let m = &members[n.index()];
                    format!(
                        "{n} {} (v{}, {} token(s))",
                        m.status.name(),
                        m.version,
                        m.tokens.len()
                    )
                })
                .collect();
            format!(
                "view changed: {}; the ring has {} token(s) of {} node(s)",
                what.join(", "),
                ring.tokens().len(),
                ring.walk_len()
            )
        });
        self.sweep_unowned(cx);
        self.retarget_hints(cx);
        self.finish_leave_if_done(cx);
    }

    /// Hints for a node that is no longer a member (it left, or is leaving)
    /// would wait for it forever: they go to the key's owners instead (this
    /// node's store when it is one).
    pub(super) fn retarget_hints(&mut self, cx: Cx) {
        let gone: Vec<(NodeId, Key)> = self
            .hints
            .keys()
            .filter(|(t, _)| self.members[t.index()].status != MemberStatus::Joined)
            .cloned()
            .collect();
        if gone.is_empty() {
            return;
        }
        for (target, key) in gone {
            let Some(h) = self.hints.remove(&(target, key.clone())) else {
                continue;
            };
            Self::note(cx, "transfer", || {
                format!(
                    "{target} is no longer a member: its hint for key {key} goes to the key's owners"
                )
            });
            if self.owns(&key) {
                self.merge_into_store(&key, &h.versions, cx);
                continue;
            }
            let owners: Vec<NodeId> = self
                .ring
                .preference_list(&key, self.cfg.n as usize)
                .to_vec();
            for owner in owners {
                let rev = self.next_hint_rev;
                self.next_hint_rev += 1;
                let e = self.hints.entry((owner, key.clone())).or_insert(Hint {
                    versions: Vec::new(),
                    rev,
                });
                reconcile_all(&mut e.versions, &h.versions, self.cfg.versioning);
                e.rev = rev;
            }
        }
        self.arm_hint_timer(cx);
    }

    /// Offers every key of the store this node does not own (see [`DynamoNode::offer_if_not_mine`]).
    pub(super) fn sweep_unowned(&mut self, cx: Cx) {
        self.sweep_due = false;
        let keys: Vec<Key> = self.store.keys().cloned().collect();
        for key in keys {
            self.offer_if_not_mine(&key, cx);
        }
    }

    /// Whether this node is one of `key`'s N replicas in its own view.
    pub(super) fn owns(&self, key: &Key) -> bool {
        self.ring
            .preference_list(key, self.cfg.n as usize)
            .contains(&self.id)
    }

    /// A key this node holds but no longer owns (§4.9) becomes a hint for
    /// each of its owners; hinted handoff's path delivers them, and each is
    /// deleted only when its owner acknowledges it. Reads meanwhile still
    /// see it here, since a node answers with its hints as well.
    pub(super) fn offer_if_not_mine(&mut self, key: &Key, cx: Cx) {
        if !self.membership_moved || self.owns(key) {
            return;
        }
        let Some(versions) = self.store.remove(key) else {
            return;
        };
        let owners: Vec<NodeId> = self
            .ring
            .preference_list(key, self.cfg.n as usize)
            .iter()
            .copied()
            .filter(|&o| o != self.id)
            .collect();
        for &owner in &owners {
            let rev = self.next_hint_rev;
            self.next_hint_rev += 1;
            let h = self.hints.entry((owner, key.clone())).or_insert(Hint {
                versions: Vec::new(),
                rev,
            });
            reconcile_all(&mut h.versions, &versions, self.cfg.versioning);
            h.rev = rev;
            let (versions, rev) = (h.versions.clone(), h.rev);
            cx.send(
                owner,
                Msg::Handoff {
                    key: key.clone(),
                    versions,
                    rev,
                },
            );
        }
        self.stats.keys_transferred += 1;
        self.moved_keys.insert(key.clone());
        Self::note(cx, "transfer", || {
            let names: Vec<String> = owners.iter().map(ToString::to_string).collect();
            format!(
                "key {key} is no longer {}'s: offered to [{}], deleted here once each takes it",
                self.id,
                names.join(" ")
            )
        });
        // Until each owner acknowledges, hint delivery retries.
        self.arm_hint_timer(cx);
    }

    /// A leaving node that holds nothing more (no key, no hint) stops: it
    /// writes its entry as left, announces it, and ignores everything after.
    pub(super) fn finish_leave_if_done(&mut self, cx: Cx) {
        let me = self.id.index();
        if self.members[me].status != MemberStatus::Leaving
            || !self.store.is_empty()
            || !self.hints.is_empty()
        {
            return;
        }
        let tokens = self.members[me].tokens.clone();
        let id = self.id;
        Self::note(cx, "membership", || {
            format!("{id} has handed every key over and stops")
        });
        let heirs = self.members[me].heirs.clone();
        self.set_own_entry(MemberStatus::Left, tokens, heirs, cx);
    }
}
