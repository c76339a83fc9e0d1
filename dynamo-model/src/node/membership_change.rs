//! Adding and removing nodes (§4.8.1, §4.9): an administrator asks a node to
//! join or leave; the node writes its own membership entry (status, tokens,
//! a version only it raises) and announces it to the seeds; seeds pass every
//! change on to every node, and gossip reconciles histories node to node.
//! Each node rebuilds its ring from its own membership, so during a change
//! nodes may disagree, and each routes by its own view. A node that no longer
//! owns a key offers it to the key's owners (as a hint for each, delivered by
//! hinted handoff's path) and deletes it only once each owner acknowledged it;
//! a leaving node owns nothing, hands everything over, then stops.

use crate::config::TokenStrategy;
use crate::membership::{Member, MemberStatus, Membership, reconcile_membership, ring_tokens};
use crate::msg::{Admin, Msg, Reply};
use crate::node::anti_entropy::AntiEntropy;
use crate::node::cx::{Cx, Wire, note};
use crate::node::replica::Replica;
use crate::ring::{Key, Ring};
use sim_core::{ClientId, NodeId};
use std::sync::Arc;

/// The membership history this node knows (durable), and the one the
/// configuration starts with (for a wiped disk). The ring it defines is the
/// replica's [`Ownership`](crate::node::replica::Ownership).
#[derive(Clone, Debug)]
pub(crate) struct MemberView {
    /// Every node's entry as this node knows it; shared copy on write by
    /// every node of a cluster until one of them changes it.
    pub(crate) members: Membership,
    /// The configured membership, for a wiped disk.
    pub(crate) initial: Membership,
}

/// Hashes the history this node knows; the configured one is the same for
/// every node of a cluster, in every state.
impl std::hash::Hash for MemberView {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.members.hash(state);
    }
}

impl MemberView {
    /// A view of the configured membership.
    pub(crate) fn new(members: Membership) -> MemberView {
        MemberView {
            initial: members.clone(),
            members,
        }
    }

    /// Whether `me` has announced its leave (and not yet stopped).
    pub(crate) fn is_leaving(&self, me: NodeId) -> bool {
        self.members[me.index()].status == MemberStatus::Leaving
    }

    /// Whether `me` has handed everything over and stopped.
    pub(crate) fn has_left(&self, me: NodeId) -> bool {
        self.members[me.index()].status == MemberStatus::Left
    }

    /// Back to the configured membership (a wiped disk); returns its ring tokens.
    pub(crate) fn wipe(&mut self) -> Vec<(u64, NodeId)> {
        self.members = self.initial.clone();
        ring_tokens(&self.members)
    }

    /// An administrator's join or leave request.
    pub(crate) fn on_admin<N: Wire>(
        &mut self,
        client: ClientId,
        req: u64,
        admin: Admin,
        replica: &mut Replica<'_>,
        ae: &mut AntiEntropy,
        cx: Cx<'_, '_, N>,
    ) {
        let me = replica.me;
        let cfg = replica.cfg;
        let mine = self.members[me.index()].clone();
        let refuse = |cx: Cx<'_, '_, N>, what: String| {
            cx.reply(client, req, Reply::Admin { done: false, what });
        };
        match admin {
            Admin::Join { tokens } => {
                if matches!(mine.status, MemberStatus::Joined | MemberStatus::Leaving) {
                    refuse(cx, format!("{me} is already a member"));
                    return;
                }
                if cfg.is_proxy(me) {
                    refuse(cx, format!("{me} is a proxy and owns no tokens"));
                    return;
                }
                let tokens = if tokens.is_empty() {
                    self.pick_tokens(replica, cx)
                } else {
                    tokens
                };
                let count = tokens.len();
                self.set_own_entry(
                    MemberStatus::Joined,
                    tokens.into(),
                    Arc::new([]),
                    replica,
                    ae,
                    cx,
                );
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
                if left < cfg.n as usize {
                    refuse(
                        cx,
                        format!(
                            "{left} node(s) would own tokens without {me}, fewer than N = {}",
                            cfg.n
                        ),
                    );
                    return;
                }
                let heirs = self.leaving_heirs(replica, cx);
                self.set_own_entry(MemberStatus::Leaving, mine.tokens, heirs, replica, ae, cx);
                cx.reply(
                    client,
                    req,
                    Reply::Admin {
                        done: true,
                        what: format!("{me} is leaving: handing its keys to their new owners"),
                    },
                );
                self.finish_leave_if_done(replica, ae, cx);
            }
        }
    }

    /// Tokens for a node joining without given ones, by the cluster's
    /// strategy (see [`crate::ring_change::pick_tokens`]).
    fn pick_tokens<N: Wire>(&self, replica: &Replica<'_>, cx: Cx<'_, '_, N>) -> Vec<u64> {
        let taken: std::collections::BTreeSet<u64> = self
            .members
            .iter()
            .flat_map(|m| m.tokens.iter().copied())
            .collect();
        let current = ring_tokens(&self.members);
        crate::ring_change::pick_tokens(replica.cfg, &current, &taken, cx.rng())
    }

    /// Under S3 and explicit partitions, who inherits each partition this
    /// node owns in its view when it leaves ([`crate::ring_change::heirs`]).
    fn leaving_heirs<N: Wire>(
        &self,
        replica: &Replica<'_>,
        cx: Cx<'_, '_, N>,
    ) -> Arc<[(u64, NodeId)]> {
        if matches!(replica.cfg.tokens, TokenStrategy::Random { .. }) {
            return Arc::new([]);
        }
        crate::ring_change::heirs(&ring_tokens(&self.members), replica.me, cx.rng()).into()
    }

    /// Writes this node's own membership entry at the next version, applies
    /// it, and announces it to the seeds.
    fn set_own_entry<N: Wire>(
        &mut self,
        status: MemberStatus,
        tokens: Arc<[u64]>,
        heirs: Arc<[(u64, NodeId)]>,
        replica: &mut Replica<'_>,
        ae: &mut AntiEntropy,
        cx: Cx<'_, '_, N>,
    ) {
        let me = replica.me;
        let version = self.members[me.index()].version + 1;
        Arc::make_mut(&mut self.members)[me.index()] = Member {
            status,
            tokens,
            heirs,
            version,
        };
        self.apply(&[me], replica, ae, cx);
        let members = self.members.clone();
        for &s in &replica.cfg.seeds {
            if s != me.0 {
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
    pub(crate) fn on_members<N: Wire>(
        &mut self,
        from: NodeId,
        theirs: &[Member],
        reply: bool,
        replica: &mut Replica<'_>,
        ae: &mut AntiEntropy,
        cx: Cx<'_, '_, N>,
    ) {
        let changed = reconcile_membership(&mut self.members, theirs);
        #[cfg(feature = "bugs")]
        let changed = if crate::bugs::leaves_ring_stale(
            replica.cfg.bug,
            !replica.cfg.seeds.contains(&from.0) && !changed.contains(&from),
        ) {
            Vec::new()
        } else {
            changed
        };
        debug_assert!(
            theirs
                .iter()
                .zip(self.members.iter())
                .all(|(t, m)| m.version >= t.version),
            "reconciling keeps the higher version of every entry"
        );
        if !changed.is_empty() {
            self.apply(&changed, replica, ae, cx);
            let me = replica.me;
            let passes_on = replica.cfg.seeds.contains(&me.0);
            #[cfg(feature = "bugs")]
            let passes_on = passes_on && crate::bugs::seed_passes_news(replica.cfg.bug);
            if passes_on {
                // A seed passes every change on, so that no node is left with an old ring.
                let members = self.members.clone();
                for n in (0..replica.cfg.nodes).map(NodeId) {
                    if n != me && n != from {
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
    fn apply<N: Wire>(
        &mut self,
        changed: &[NodeId],
        replica: &mut Replica<'_>,
        ae: &mut AntiEntropy,
        cx: Cx<'_, '_, N>,
    ) {
        let me = replica.me;
        if changed.contains(&me)
            && self.members[me.index()].status == MemberStatus::Left
            && (!replica.store.is_empty() || !replica.hints.is_empty())
        {
            // Others say this node left, but it holds data: it left, lost its
            // disk and came back, and has taken writes since. Stopping now
            // would strand them, so it leaves again, handing them over first.
            let tokens = self.members[me.index()].tokens.clone();
            note(cx, "membership", || {
                format!(
                    "{me} learns it has left, yet holds keys: it leaves again, handing them over"
                )
            });
            // Its partitions already went to the heirs its earlier leave named.
            let heirs = self.members[me.index()].heirs.clone();
            self.set_own_entry(MemberStatus::Leaving, tokens, heirs, replica, ae, cx);
            return;
        }
        replica.owner.moved = true;
        replica.stats.membership_changes += changed.len() as u64;
        replica.owner.ring = Arc::new(Ring::for_cluster(replica.cfg, ring_tokens(&self.members)));
        ae.clamp(replica.owner.ring.anti_entropy_pair_count(me));
        let members = &self.members;
        let ring = &replica.owner.ring;
        note(cx, "membership", || {
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
        sweep_unowned(replica, cx);
        self.retarget_hints(replica, cx);
        self.finish_leave_if_done(replica, ae, cx);
    }

    /// Hints for a node that is no longer a member (it left, or is leaving)
    /// would wait for it forever: they go to the key's owners instead (this
    /// node's store when it is one).
    pub(crate) fn retarget_hints<N: Wire>(&self, replica: &mut Replica<'_>, cx: Cx<'_, '_, N>) {
        let gone: Vec<(NodeId, Key)> = replica
            .hints
            .map()
            .keys()
            .filter(|(t, _)| self.members[t.index()].status != MemberStatus::Joined)
            .cloned()
            .collect();
        if gone.is_empty() {
            return;
        }
        for (target, key) in gone {
            let Some(h) = replica.hints.take(&(target, key.clone())) else {
                continue;
            };
            note(cx, "transfer", || {
                format!(
                    "{target} is no longer a member: its hint for key {key} goes to the key's owners"
                )
            });
            if replica.owns(&key) {
                replica.merge_into_store(&key, &h.versions, cx);
                continue;
            }
            let owners: Vec<NodeId> = replica
                .owner
                .ring
                .preference_list(&key, replica.cfg.n as usize)
                .to_vec();
            for owner in owners {
                replica
                    .hints
                    .offer(owner, &key, &h.versions, replica.cfg.versioning);
            }
        }
        replica.arm_hint_round(cx);
    }

    /// A leaving node that holds nothing more (no key, no hint, no request
    /// it took) stops: it writes its entry as left, announces it, and
    /// ignores everything after.
    pub(crate) fn finish_leave_if_done<N: Wire>(
        &mut self,
        replica: &mut Replica<'_>,
        ae: &mut AntiEntropy,
        cx: Cx<'_, '_, N>,
    ) {
        let me = replica.me;
        if self.members[me.index()].status != MemberStatus::Leaving
            || !replica.store.is_empty()
            || !replica.hints.is_empty()
            || replica.requests_held
        {
            return;
        }
        let tokens = self.members[me.index()].tokens.clone();
        note(cx, "membership", || {
            format!("{me} has handed every key over and stops")
        });
        let heirs = self.members[me.index()].heirs.clone();
        self.set_own_entry(MemberStatus::Left, tokens, heirs, replica, ae, cx);
    }
}

/// Offers every key of the store this node does not own (see [`offer_if_not_mine`]).
pub(crate) fn sweep_unowned<N: Wire>(replica: &mut Replica<'_>, cx: Cx<'_, '_, N>) {
    replica.rounds.sweep_due = false;
    let keys: Vec<Key> = replica.store.map().keys().cloned().collect();
    for key in keys {
        offer_if_not_mine(replica, &key, cx);
    }
}

/// A key this node holds but no longer owns (§4.9) becomes a hint for each
/// of its owners; hinted handoff's path delivers them, and each is deleted
/// only when its owner acknowledges it. Reads meanwhile still see it here,
/// since a node answers with its hints as well.
fn offer_if_not_mine<N: Wire>(replica: &mut Replica<'_>, key: &Key, cx: Cx<'_, '_, N>) {
    if !replica.owner.moved || replica.owns(key) {
        return;
    }
    let Some(versions) = replica.store.remove(key) else {
        return;
    };
    let me = replica.me;
    let owners: Vec<NodeId> = replica
        .owner
        .ring
        .preference_list(key, replica.cfg.n as usize)
        .iter()
        .copied()
        .filter(|&o| o != me)
        .collect();
    for &owner in &owners {
        let h = replica
            .hints
            .offer(owner, key, &versions, replica.cfg.versioning);
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
    replica.stats.keys_transferred += 1;
    replica.hints.note_offered(key);
    #[cfg(feature = "bugs")]
    if crate::bugs::keeps_moved_key(replica.cfg.bug) {
        replica.store.merge(key, &versions, replica.cfg.versioning);
    }
    #[cfg(feature = "bugs")]
    if crate::bugs::drops_handoff_early(replica.cfg.bug) {
        for &owner in &owners {
            replica.hints.take(&(owner, key.clone()));
        }
    }
    note(cx, "transfer", || {
        let names: Vec<String> = owners.iter().map(ToString::to_string).collect();
        format!(
            "key {key} is no longer {me}'s: offered to [{}], deleted here once each takes it",
            names.join(" ")
        )
    });
    // Until each owner acknowledges, hint delivery retries.
    replica.arm_hint_round(cx);
}
