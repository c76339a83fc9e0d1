//! What the observer saw of membership changes as the run went: each join
//! and leave a node announced, when every other node's view showed it done,
//! and what a leaving node let go of while its heir did not have it. Fed by
//! the invariants' hooks; judged by the checkers in `placement.rs`.

use dynamo_model::{ClusterConfig, DynamoNode, Key, Member, MemberStatus, Version, Versioning};
use sim_core::{NodeId, SimDuration, SimTime};
use std::collections::BTreeMap;

/// How long a cluster gets to settle after its last fault or membership
/// change, and the bound within which a change made while the cluster is
/// healthy must complete: two request deadlines (requests a leaver holds),
/// five rounds of the slower of hint delivery and gossip, and five seconds
/// for messages in flight and the retry of down peers. The swarm's quiet
/// phase is this plus the anti-entropy rounds.
pub fn settle_time(cfg: &ClusterConfig) -> SimDuration {
    let periodic = cfg.hint_interval.max(cfg.gossip_interval);
    SimDuration(2 * cfg.op_deadline.as_us() + 5 * periodic.as_us() + 5_000_000)
}

/// A join or leave a node announced for itself.
#[derive(Clone, Debug, Hash)]
pub struct Change {
    /// The node that joins or leaves.
    pub node: NodeId,
    /// A join (else a leave).
    pub join: bool,
    /// When the node announced it (its own entry became joined or leaving).
    pub at: SimTime,
    /// The version of the entry it announced.
    pub version: u64,
    /// When the last other node's view showed it done, if every one did.
    pub done: Option<SimTime>,
    /// For each node, when its view first showed it done.
    pub(crate) seen: Vec<Option<SimTime>>,
}

/// Everything a node holds, by (hint target, key), with no target for its own store.
type Holdings = BTreeMap<(Option<NodeId>, Key), Vec<Version>>;

/// One leave: when it began and ended, and every version the leaver let go
/// of while its heir did not have it.
#[derive(Clone, Debug, Hash)]
pub(crate) struct Leave {
    pub(crate) node: NodeId,
    pub(crate) from: SimTime,
    /// When it marked itself left.
    pub(crate) left: Option<SimTime>,
    /// When it forgot the leave (a disk wipe before any other node heard of it).
    pub(crate) abandoned: Option<SimTime>,
    /// (when, heir, key, version): a version the leaver stopped holding
    /// while the heir it was for kept neither it nor a newer one.
    /// The last element lists where the version went missing: the heir, or
    /// the nodes down its chain of hand-ons that keep none of it.
    pub(crate) let_go: Vec<(SimTime, NodeId, Key, Version, Vec<NodeId>)>,
}

/// What the observer saw of membership changes as the run went.
#[derive(Clone, Debug, Default, Hash)]
pub struct ChangeLog {
    /// Each node's own entry version as last seen after its handler.
    own: Vec<u64>,
    changes: Vec<Change>,
    pub(crate) leaves: Vec<Leave>,
    /// What a leaving (or left) node held just before the input it is handling.
    before: Option<(NodeId, Holdings)>,
}

/// Whether `held` has `v` or a version that supersedes it.
pub(crate) fn covered(held: &[Version], v: &Version, mode: Versioning) -> bool {
    match mode {
        Versioning::VectorClock => held.iter().any(|h| h.descends(v)),
        Versioning::LastWriteWins => held.iter().any(|h| h.stamp >= v.stamp),
    }
}

/// Adds `vs` to `into`, skipping versions already there.
fn add_versions(into: &mut Vec<Version>, vs: &[Version]) {
    for v in vs {
        if !into
            .iter()
            .any(|h| h.clock == v.clock && h.stamp == v.stamp)
        {
            into.push(v.clone());
        }
    }
}

/// Everything `node` holds of `key`, store and hints.
fn held_of(node: &DynamoNode, key: &Key) -> Vec<Version> {
    let mut out = node.versions(key).to_vec();
    for ((_, k), h) in node.hints() {
        if k == key {
            add_versions(&mut out, &h.versions);
        }
    }
    out
}

/// Everything `node` holds.
fn holdings(node: &DynamoNode) -> Holdings {
    let mut held = Holdings::new();
    for (k, vs) in node.store() {
        held.insert((None, k.clone()), vs.clone());
    }
    for ((t, k), h) in node.hints() {
        add_versions(held.entry((Some(*t), k.clone())).or_default(), &h.versions);
    }
    held
}

impl ChangeLog {
    /// Whether `node` is leaving (announced, not yet left), as last seen.
    pub(crate) fn is_leaving(&self, node: NodeId) -> bool {
        self.leaves
            .iter()
            .any(|l| l.node == node && l.left.is_none() && l.abandoned.is_none())
    }

    /// An input `node` is about to handle: a node that is leaving, has left
    /// or is asked to leave has its holdings noted, to see what the handler
    /// lets go of.
    pub(crate) fn input(&mut self, node: NodeId, leave_request: bool, nodes: &[DynamoNode]) {
        let n = &nodes[node.index()];
        self.before =
            (leave_request || n.has_left() || self.is_leaving(node)).then(|| (node, holdings(n)));
    }

    /// Every version `node` held `before` its handler and holds no longer
    /// (nor a newer one) must be with its heir by now: a hint's target, or
    /// for a stored version the key's owners in the leaver's view.
    fn let_go(
        &mut self,
        now: SimTime,
        node: NodeId,
        before: &Holdings,
        nodes: &[DynamoNode],
        mode: Versioning,
        n: usize,
    ) {
        let Some(l) =
            self.leaves.iter_mut().rev().find(|l| {
                l.node == node && l.abandoned.is_none() && l.left.is_none_or(|t| t == now)
            })
        else {
            return;
        };
        let me = &nodes[node.index()];
        for ((target, key), versions) in before {
            let still = held_of(me, key);
            for v in versions.iter().filter(|v| !covered(&still, v, mode)) {
                let heirs: Vec<NodeId> = match target {
                    Some(t) => vec![*t],
                    None => me.ring().preference_list(key, n).to_vec(),
                };
                for heir in heirs.into_iter().filter(|&h| h != node) {
                    let mut visited = vec![node];
                    let mut missing = Vec::new();
                    if !kept_for(heir, key, v, nodes, mode, n, &mut visited, &mut missing) {
                        l.let_go.push((now, heir, key.clone(), v.clone(), missing));
                    }
                }
            }
        }
    }

    /// Every join and leave announced, in the order they were.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The node states right after `node` handled an input that named `keys`.
    pub(crate) fn handled(
        &mut self,
        now: SimTime,
        node: NodeId,
        nodes: &[DynamoNode],
        mode: Versioning,
        n_replicas: usize,
    ) {
        if self.own.len() < nodes.len() {
            self.own.resize(nodes.len(), 0);
        }
        let me = &nodes[node.index()];
        let entry = &me.members()[node.index()];
        let last = std::mem::replace(&mut self.own[node.index()], entry.version);
        if entry.version > last {
            self.own_entry_moved(now, node, entry, nodes);
        } else if entry.version < last && entry.status == MemberStatus::Joined {
            // A disk wipe took its own entry back to the start: a leave that
            // no other node heard of is forgotten, and it is a member again.
            for l in self
                .leaves
                .iter_mut()
                .filter(|l| l.node == node && l.left.is_none())
            {
                l.abandoned = Some(now);
            }
        }
        if let Some((_, before)) = self.before.take().filter(|(n, _)| *n == node) {
            self.let_go(now, node, &before, nodes, mode, n_replicas);
        }
        if self.changes.iter().all(|c| c.done.is_some()) {
            return;
        }
        let view = me.members();
        for c in self.changes.iter_mut().filter(|c| c.done.is_none()) {
            let e = &view[c.node.index()];
            let shows_done = if c.join {
                e.version >= c.version
            } else {
                e.status == MemberStatus::Left && e.version > c.version
            };
            if shows_done && c.seen[node.index()].is_none() {
                c.seen[node.index()] = Some(now);
            }
            // Done once every node but the changer, and nodes that have left
            // (they take no part), shows it.
            let all = nodes.iter().all(|m| {
                m.id() == c.node
                    || m.members()[m.id().index()].status == MemberStatus::Left
                    || c.seen[m.id().index()].is_some()
            });
            if all {
                c.done = Some(now);
            }
        }
    }

    fn own_entry_moved(
        &mut self,
        now: SimTime,
        node: NodeId,
        entry: &Member,
        nodes: &[DynamoNode],
    ) {
        let announce = |join: bool, version: u64| Change {
            node,
            join,
            at: now,
            version,
            done: None,
            seen: vec![None; nodes.len()],
        };
        match entry.status {
            MemberStatus::Joined => self.changes.push(announce(true, entry.version)),
            MemberStatus::Leaving | MemberStatus::Left => {
                if !self.is_leaving(node) {
                    // Announced now (a leaver that holds nothing leaves in the same step).
                    let version = if entry.status == MemberStatus::Left {
                        entry.version - 1
                    } else {
                        entry.version
                    };
                    self.changes.push(announce(false, version));
                    self.leaves.push(Leave {
                        node,
                        from: now,
                        left: None,
                        abandoned: None,
                        let_go: Vec::new(),
                    });
                }
                if entry.status == MemberStatus::Left {
                    if let Some(l) = self
                        .leaves
                        .iter_mut()
                        .find(|l| l.node == node && l.left.is_none())
                    {
                        l.left = Some(now);
                    }
                }
            }
            MemberStatus::Out => {}
        }
    }
}

/// Whether `v` of `key` reached `heir`: it keeps the version (or a newer
/// one), or another node holds it as a hint for it, or `heir` took it and,
/// no longer owning the key in its own (newer) view, handed it on to the
/// owners of that view, each of which it reached in turn. The nodes where
/// the version is missing go to `missing`.
#[allow(clippy::too_many_arguments)]
fn kept_for(
    heir: NodeId,
    key: &Key,
    v: &Version,
    nodes: &[DynamoNode],
    mode: Versioning,
    n: usize,
    visited: &mut Vec<NodeId>,
    missing: &mut Vec<NodeId>,
) -> bool {
    let o = &nodes[heir.index()];
    if covered(&held_of(o, key), v, mode) {
        return true;
    }
    let hinted = nodes.iter().any(|m| {
        !visited.contains(&m.id())
            && m.hints()
                .get(&(heir, key.clone()))
                .is_some_and(|h| covered(&h.versions, v, mode))
    });
    if hinted {
        return true;
    }
    visited.push(heir);
    let owners = o.ring().preference_list(key, n);
    if owners.contains(&heir) || !o.moved_key(key) {
        missing.push(heir);
        return false;
    }
    let next: Vec<NodeId> = owners
        .iter()
        .copied()
        .filter(|x| !visited.contains(x))
        .collect();
    // Every owner down the chain is looked at, so that each one missing it is listed.
    let mut all = true;
    for x in next {
        all &= kept_for(x, key, v, nodes, mode, n, visited, missing);
    }
    all
}
