//! Invariants checked as the run goes: the harness shows every input, every
//! reply and the node states right after each handler to [`Invariants`],
//! which judges moments that a checker of the final state cannot see, because
//! a later repair may have erased the evidence.
//!
//! - **write-quorum**: when a put is acknowledged ok, at least W distinct
//!   nodes hold its version (in their store or as a hint).
//! - **read-quorum**: when a get answers ok, the nodes whose answers it counted
//!   are R distinct nodes, and each remote one's reply really arrived.
//! - **one-reply**: a coordinator op replies to its client at most once, so
//!   never ok after failed. Two coordinations of one request (a duplicated or
//!   retried forward) are two ops and may each reply.
//! - **merge-on-transfer**: after a node handles a read repair, a hint handoff
//!   or an anti-entropy transfer, its store equals or dominates what it received.
//!
//! Like the checkers it observes from outside: no node asserts any of this.

use crate::changes::{ChangeLog, covered};
use crate::verdict::{MAX_LISTED, Verdict};
use dynamo_model::DynamoNode;
use dynamo_model::Key;
use dynamo_model::Version;
use dynamo_model::{Admin, Msg, OpTag, Reply, Request};
use dynamo_model::{ClusterConfig, Versioning};
use sim_core::digest::{Digest, digest};
use sim_core::{Input, NodeId, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};

/// An op's name in findings, `put#3`. Written out only when a finding is:
/// formatting it for every reply was 4% of a run.
#[derive(Clone, Copy, Debug, Hash)]
pub struct OpLabel<'a> {
    pub kind: &'a str,
    pub id: u64,
}

impl fmt::Display for OpLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.kind, self.id)
    }
}

/// One of the invariants judged as the run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// When a put is acknowledged ok, at least W distinct nodes hold its version.
    WriteQuorum,
    /// When a get answers ok, it counted R distinct nodes whose replies arrived.
    ReadQuorum,
    /// A coordinator op replies to its client at most once.
    OneReply,
    /// A node's store covers every repair, handoff or transfer it handled.
    MergeOnTransfer,
}

impl Invariant {
    /// Its slot in [`Invariants`]' findings.
    fn slot(self) -> usize {
        self as usize
    }
}

/// A message being handled whose effect on the receiver's store is checked afterwards.
#[derive(Clone, Hash)]
enum Pending {
    /// A replica stores a put's version: if it holds it afterwards, it counts toward W.
    Replicate {
        key: Key,
        version: Version,
        hint: Option<NodeId>,
    },
    /// A repair, handoff or anti-entropy transfer: the store must cover it afterwards.
    Transfer {
        kind: &'static str,
        from: NodeId,
        entries: Vec<(Key, Vec<Version>)>,
    },
}

/// Who holds one version of a put (identified by its clock and stamp).
#[derive(Clone, Hash)]
struct Held {
    version: Version,
    nodes: Vec<(NodeId, SimTime)>,
}

/// The nodes the harness saw take part in one coordinator op that replied ok:
/// for a put, the nodes whose acks were delivered to the coordinator before it
/// replied (and the coordinator, if it held the version in its store then);
/// for a get, the nodes whose answers were delivered before it replied (and the
/// coordinator, which reads its own store). Only nodes the coordinator also
/// named as counted are kept, so a node it heard but ignored is not credited.
/// quorum-reads judges gets by these.
#[derive(Clone, Debug, Hash)]
pub struct Quorum {
    /// When the coordinator replied.
    pub at: SimTime,
    /// The nodes credited to the quorum, each once, in node order.
    pub nodes: Vec<NodeId>,
}

/// The quorums of one request: almost always none or one, kept without a list then.
#[derive(Clone, Debug, Default, Hash)]
enum Quorums {
    #[default]
    None,
    One(Quorum),
    Many(Vec<Quorum>),
}

impl Quorums {
    fn as_slice(&self) -> &[Quorum] {
        match self {
            Quorums::None => &[],
            Quorums::One(q) => std::slice::from_ref(q),
            Quorums::Many(v) => v,
        }
    }

    fn push(&mut self, q: Quorum) {
        *self = match std::mem::take(self) {
            Quorums::None => Quorums::One(q),
            Quorums::One(first) => Quorums::Many(vec![first, q]),
            Quorums::Many(mut v) => {
                v.push(q);
                Quorums::Many(v)
            }
        };
    }
}

/// Adds `q` to request `id`'s quorums in `all` (indexed by id - 1).
fn add_quorum(all: &mut Vec<Quorums>, id: u64, q: Quorum) {
    let Some(i) = (id as usize).checked_sub(1) else {
        return;
    };
    if all.len() <= i {
        all.resize_with(i + 1, Quorums::default);
    }
    all[i].push(q);
}

fn quorums_of(all: &[Quorums], id: u64) -> &[Quorum] {
    (id as usize)
        .checked_sub(1)
        .and_then(|i| all.get(i))
        .map_or(&[], Quorums::as_slice)
}

/// A reply's time and outcome in one word; 0 means no reply yet.
fn pack_reply(at: SimTime, ok: bool) -> u64 {
    ((at.as_us() << 1) | u64::from(ok)) + 1
}

fn unpack_reply(w: u64) -> Option<(SimTime, bool)> {
    let w = w.checked_sub(1)?;
    Some((SimTime(w >> 1), w & 1 == 1))
}

/// A hint the harness saw a fallback take: it stored `version` of `key` for `target`.
/// The hinted-handoff promise of the convergence checker judges these.
#[derive(Clone, Debug, Hash)]
pub struct HintMade {
    pub at: SimTime,
    pub holder: NodeId,
    pub target: NodeId,
    pub key: Key,
    pub version: Version,
}

/// Violations found so far for one invariant: the first few in full, and how many in all.
#[derive(Clone, Default, Hash)]
struct Found {
    listed: Vec<String>,
    count: usize,
}

impl Found {
    fn push(&mut self, v: impl FnOnce() -> String) {
        if self.listed.len() < MAX_LISTED {
            self.listed.push(v());
        }
        self.count += 1;
    }
}

/// The run-time invariant checker the harness feeds.
#[derive(Clone)]
pub struct Invariants {
    mode: Versioning,
    r: u32,
    w: u32,
    /// What the node handling an input now received, until it has handled it.
    pending: Option<(NodeId, Pending)>,
    /// For each put (by write id): the nodes that held each of its versions after storing it.
    held: BTreeMap<u64, Vec<Held>>,
    /// Remote answers (acks and read replies) delivered to each coordinator op that has not replied yet.
    answers: BTreeMap<(NodeId, OpTag), Vec<(NodeId, SimTime)>>,
    /// Every coordinator op that replied: when, and whether ok, by node and
    /// then op tag (a node's tags count up from 1), packed by [`pack_reply`].
    /// Kept per op for the whole run, so dense vectors, not maps: the maps
    /// and their quorum lists were 270 bytes an operation.
    replied: Vec<Vec<u64>>,
    /// For each request (by id - 1; puts and gets share the ids): every
    /// coordination of it that replied ok.
    quorums: Vec<Quorums>,
    /// Every hint a fallback was seen to take, in time order.
    hints: Vec<HintMade>,
    /// For each key, every node that may hold a version of it: each node that
    /// was sent versions of the key (a replica, a transfer), that held the key
    /// right after taking a client request or forward on it (a coordinator's
    /// own copy), or that replied to a request on it (a get coordinator
    /// repairs itself after replying). The write-quorum count looks at these
    /// nodes instead of at every node, which cost O(nodes) a put at 1,000 nodes;
    /// nodes that only pass requests on (most, with `via = "random"`) are not among them.
    touched: BTreeMap<Key, Vec<NodeId>>,
    /// The node handling a client request or forward now, and its key, until it has handled it.
    coordinating: Option<(NodeId, Key)>,
    found: [Found; 4],
    /// Replicas a key.
    n: usize,
    /// Joins and leaves, as they happened.
    changes: ChangeLog,
}

/// The digests of `items`, sorted: a list hashed as the multiset it is.
fn multiset<'a, T: Hash + 'a>(items: impl IntoIterator<Item = &'a T>) -> Vec<Digest> {
    let mut v: Vec<Digest> = items.into_iter().map(digest).collect();
    v.sort_unstable();
    v
}

/// Hashes what the invariants hold, with every list whose order only says
/// which of two handlers at different nodes ran first hashed as a multiset
/// (who holds a put's version, which nodes touched a key, the hints seen
/// made): two orders of independent deliveries leave equal digests.
impl Hash for Invariants {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.mode, self.r, self.w, self.n).hash(state);
        self.pending.hash(state);
        self.held.len().hash(state);
        for (id, hs) in &self.held {
            id.hash(state);
            let each: Vec<(Digest, Vec<Digest>)> = hs
                .iter()
                .map(|h| (digest(&h.version), multiset(&h.nodes)))
                .collect();
            multiset(&each).hash(state);
        }
        self.answers.len().hash(state);
        for (op, a) in &self.answers {
            op.hash(state);
            multiset(a).hash(state);
        }
        self.replied.hash(state);
        self.quorums.hash(state);
        multiset(&self.hints).hash(state);
        self.touched.len().hash(state);
        for (k, ns) in &self.touched {
            k.hash(state);
            multiset(ns).hash(state);
        }
        self.coordinating.hash(state);
        self.found.hash(state);
        self.changes.hash(state);
    }
}

/// Whether `node` keeps `v` of `key` or a version covering it, in its store or its hints.
/// It looks in place rather than gathering copies: with many siblings a copy
/// per replicated put was most of a blind-put run's cost.
fn keeps(node: &DynamoNode, key: &Key, v: &Version, mode: Versioning) -> bool {
    covered(node.versions(key), v, mode)
        || node
            .hints()
            .iter()
            .any(|((_, k), h)| k == key && covered(&h.versions, v, mode))
}

fn dedup(mut ns: Vec<NodeId>) -> Vec<NodeId> {
    ns.sort();
    ns.dedup();
    ns
}

fn list(vs: &[Version]) -> String {
    let parts: Vec<String> = vs.iter().map(ToString::to_string).collect();
    format!("{{{}}}", parts.join(" "))
}

fn nodes_list(ns: impl IntoIterator<Item = NodeId>) -> String {
    let parts: Vec<String> = ns.into_iter().map(|n| n.to_string()).collect();
    format!("[{}]", parts.join(" "))
}

impl Invariants {
    /// The invariants for a cluster of `cfg`, with nothing observed yet.
    pub fn new(cfg: &ClusterConfig) -> Invariants {
        Invariants {
            mode: cfg.versioning,
            r: cfg.r,
            w: cfg.w,
            pending: None,
            held: BTreeMap::new(),
            answers: BTreeMap::new(),
            replied: vec![Vec::new(); cfg.nodes as usize],
            quorums: Vec::new(),
            hints: Vec::new(),
            touched: BTreeMap::new(),
            coordinating: None,
            found: Default::default(),
            n: cfg.n as usize,
            changes: ChangeLog::default(),
        }
    }

    /// An input `node` is about to handle.
    pub fn input(
        &mut self,
        now: SimTime,
        node: NodeId,
        input: &Input<DynamoNode>,
        nodes: &[DynamoNode],
    ) {
        let leave_request = matches!(
            input,
            Input::Request {
                body: Request::Admin(Admin::Leave),
                ..
            }
        );
        self.changes.input(node, leave_request, nodes);
        let msg = match input {
            Input::Request { body, .. } => {
                self.coordinating = body.key().map(|k| (node, k.clone()));
                return;
            }
            Input::Message { msg, .. } => msg,
            Input::Timer { .. } => return,
        };
        match msg {
            Msg::Forward { request, .. } => {
                self.coordinating = request.key().map(|k| (node, k.clone()));
            }
            Msg::Replicate { key, .. } | Msg::Repair { key, .. } | Msg::Handoff { key, .. } => {
                self.touch(key, node)
            }
            Msg::MerkleKeys { entries, .. } => {
                for (key, _) in entries {
                    self.touch(key, node);
                }
            }
            _ => {}
        }
        let Input::Message { from, msg } = input else {
            return;
        };
        let pending = match msg {
            Msg::ReplicateAck { op } | Msg::ReadReply { op, .. } => {
                if self.replied_at(node, *op).is_none() {
                    self.answers
                        .entry((node, *op))
                        .or_default()
                        .push((*from, now));
                }
                None
            }
            Msg::Replicate {
                key, version, hint, ..
            } => Some(Pending::Replicate {
                key: key.clone(),
                version: version.clone(),
                hint: *hint,
            }),
            Msg::Repair { key, versions } => Some(Pending::Transfer {
                kind: "Repair",
                from: *from,
                entries: vec![(key.clone(), versions.clone())],
            }),
            Msg::Handoff { key, versions, .. } => Some(Pending::Transfer {
                kind: "Handoff",
                from: *from,
                entries: vec![(key.clone(), versions.clone())],
            }),
            Msg::MerkleKeys { entries, .. } => Some(Pending::Transfer {
                kind: "MerkleKeys",
                from: *from,
                entries: entries.clone(),
            }),
            _ => None,
        };
        self.pending = pending.map(|p| (node, p));
    }

    /// The node states right after `node` handled an input.
    pub fn handled(&mut self, now: SimTime, node: NodeId, nodes: &[DynamoNode]) {
        self.changes.handled(now, node, nodes, self.mode, self.n);
        if let Some((n, key)) = self.coordinating.take() {
            let state = &nodes[n.index()];
            if !state.versions(&key).is_empty() || state.hints().keys().any(|(_, k)| *k == key) {
                self.touch(&key, n);
            }
        }
        let Some((n, pending)) = self.pending.take() else {
            return;
        };
        debug_assert_eq!(n, node, "the input observed is the one handled");
        let state = &nodes[node.index()];
        if state.has_left() {
            // A node that left ignores every input, like a stopped process.
            return;
        }
        match pending {
            Pending::Replicate { key, version, hint } => {
                if keeps(state, &key, &version, self.mode) {
                    self.hold(&version, node, now, true);
                }
                // A fallback took a hint when it holds the version for the target afterwards.
                if let Some(target) = hint {
                    let mode = self.mode;
                    let taken = state.hints().iter().any(|((t, k), h)| {
                        *t == target && *k == key && covered(&h.versions, &version, mode)
                    });
                    if taken {
                        self.hints.push(HintMade {
                            at: now,
                            holder: node,
                            target,
                            key,
                            version,
                        });
                    }
                }
            }
            Pending::Transfer {
                kind,
                from,
                entries,
            } => {
                let mode = self.mode;
                // Asked only when some version is missing: a scan of every node per transfer
                // cost O(nodes) a message.
                let truncated = || nodes.iter().any(|n| n.stats.clock_truncations > 0);
                for (key, versions) in &entries {
                    let held = state.versions(key);
                    // A coordinator that was its own fallback may hand its hint
                    // over before the put is acknowledged; the target holds it then.
                    for v in versions.iter().filter(|v| covered(held, v, mode)) {
                        self.hold(v, node, now, kind == "Handoff");
                    }
                    if versions.iter().all(|v| covered(held, v, mode)) || truncated() {
                        // Truncated clocks make dominance intransitive: a store may
                        // rightly drop a version that only a dropped one covered.
                        continue;
                    }
                    for v in versions.iter().filter(|v| !covered(held, v, mode)) {
                        self.found[Invariant::MergeOnTransfer.slot()].push(|| {
                            format!(
                                "{now} {node} handled {kind} from {from} for key {key} carrying {v}, but afterwards its store holds {}",
                                list(held)
                            )
                        });
                    }
                }
            }
        }
    }

    fn touch(&mut self, key: &Key, node: NodeId) {
        match self.touched.get_mut(key) {
            Some(ns) => {
                if let Err(i) = ns.binary_search(&node) {
                    ns.insert(i, node);
                }
            }
            None => {
                self.touched.insert(key.clone(), vec![node]);
            }
        }
    }

    /// Records that `node` holds `v`; `create` adds the put's entry when there is none yet.
    fn hold(&mut self, v: &Version, node: NodeId, now: SimTime, create: bool) {
        let versions = match self.held.get_mut(&v.write) {
            Some(vs) => vs,
            None if create => self.held.entry(v.write).or_default(),
            None => return,
        };
        let i = match versions
            .iter()
            .position(|h| h.version.clock == v.clock && h.version.stamp == v.stamp)
        {
            Some(i) => i,
            None if create => {
                versions.push(Held {
                    version: v.clone(),
                    nodes: Vec::new(),
                });
                versions.len() - 1
            }
            None => return,
        };
        let holders = &mut versions[i].nodes;
        if !holders.iter().any(|(h, _)| *h == node) {
            holders.push((node, now));
        }
    }

    /// `node` sends `reply` for client request `write` (`label`, e.g. `put#3`, of key `key`).
    #[allow(clippy::too_many_arguments)]
    pub fn reply(
        &mut self,
        now: SimTime,
        node: NodeId,
        write: u64,
        label: OpLabel<'_>,
        key: &Key,
        reply: &Reply,
        nodes: &[DynamoNode],
    ) {
        self.touch(key, node);
        let op = reply.op();
        let ok = !matches!(reply, Reply::Failed { .. });
        let what = |ok: bool| if ok { "ok" } else { "failed" };
        if let Some((t, was_ok)) = self.replied_at(node, op) {
            self.found[Invariant::OneReply.slot()].push(|| {
                format!(
                    "{label}: op{op} on {node} replied twice: {} at {t}, then {} at {now}",
                    what(was_ok),
                    what(ok)
                )
            });
        } else {
            let tags = &mut self.replied[node.index()];
            let i = op as usize;
            if tags.len() <= i {
                tags.resize(i + 1, 0);
            }
            tags[i] = pack_reply(now, ok);
        }
        let answers = self.answers.remove(&(node, op)).unwrap_or_default();
        match reply {
            Reply::Admin { .. } => {}
            Reply::Put {
                clock, stamp, from, ..
            } => {
                let mut holders: Vec<(NodeId, SimTime)> = Vec::new();
                // The version as replicas received it (with its dot), when any did.
                let mut probe = Version {
                    value: std::sync::Arc::from(""),
                    clock: clock.clone(),
                    dot: None,
                    stamp: *stamp,
                    write,
                };
                if let Some(vs) = self.held.get_mut(&write) {
                    // Once acknowledged, later copies of the version no longer matter here.
                    if let Some(i) = vs
                        .iter()
                        .position(|h| h.version.clock == *clock && h.version.stamp == *stamp)
                    {
                        let h = vs.swap_remove(i);
                        holders = h.nodes;
                        probe = h.version;
                    }
                    if vs.is_empty() {
                        self.held.remove(&write);
                    }
                }
                // Besides the replicas seen storing it, count every node that
                // holds it now: the coordinator's own copy, or whoever holds
                // it after a hint was handed over, perhaps already superseded.
                let touched = self.touched.get(key).map_or(&[][..], Vec::as_slice);
                for &id in touched {
                    let n = &nodes[id.index()];
                    if !holders.iter().any(|(h, _)| *h == id) && keeps(n, key, &probe, self.mode) {
                        holders.push((id, now));
                    }
                }
                // Tests run debug builds: there, every node is asked as well, so a
                // way of storing a key that `touched` misses cannot go unnoticed.
                debug_assert!(
                    nodes
                        .iter()
                        .all(|n| holders.iter().any(|(h, _)| *h == n.id())
                            || !keeps(n, key, &probe, self.mode)),
                    "a node holds {probe} of key {key} though it was never sent the key"
                );
                let coordinator_holds =
                    covered(nodes[node.index()].versions(key), &probe, self.mode);
                let seen: Vec<NodeId> = from
                    .iter()
                    .copied()
                    .filter(|&n| {
                        if n == node {
                            coordinator_holds
                        } else {
                            answers.iter().any(|(a, _)| *a == n)
                        }
                    })
                    .collect();
                add_quorum(
                    &mut self.quorums,
                    write,
                    Quorum {
                        at: now,
                        nodes: dedup(seen),
                    },
                );
                if (holders.len() as u32) < self.w {
                    let w = self.w;
                    self.found[Invariant::WriteQuorum.slot()].push(|| {
                        let shown: Vec<String> = holders
                            .iter()
                            .map(|(h, t)| {
                                if t == &now {
                                    format!("{h} (holds it now)")
                                } else {
                                    format!("{h} (stored at {t})")
                                }
                            })
                            .collect();
                        format!(
                            "{label}: op{op} on {node} replied ok at {now} for {clock}, counting answers from {}, but only {} node(s) hold it, W = {w}: [{}]",
                            nodes_list(from.iter().copied()),
                            holders.len(),
                            shown.join(", ")
                        )
                    });
                }
            }
            Reply::Got { from, .. } => {
                let distinct: BTreeSet<NodeId> = from.iter().copied().collect();
                let seen: Vec<NodeId> = distinct
                    .iter()
                    .copied()
                    .filter(|&n| n == node || answers.iter().any(|(a, _)| *a == n))
                    .collect();
                add_quorum(
                    &mut self.quorums,
                    write,
                    Quorum {
                        at: now,
                        nodes: seen,
                    },
                );
                let unheard: Vec<NodeId> = distinct
                    .iter()
                    .copied()
                    .filter(|&n| n != node && !answers.iter().any(|(a, _)| *a == n))
                    .collect();
                if (distinct.len() as u32) < self.r || !unheard.is_empty() {
                    let r = self.r;
                    self.found[Invariant::ReadQuorum.slot()].push(|| {
                        let heard: Vec<String> =
                            answers.iter().map(|(a, t)| format!("{a} at {t}")).collect();
                        format!(
                            "{label}: op{op} on {node} replied ok at {now} counting answers from {} ({} distinct, R = {r}{}); replies that arrived: [{}]",
                            nodes_list(from.iter().copied()),
                            distinct.len(),
                            if unheard.is_empty() {
                                String::new()
                            } else {
                                format!("; never heard from {}", nodes_list(unheard.iter().copied()))
                            },
                            heard.join(", ")
                        )
                    });
                }
            }
            Reply::Failed { .. } => {}
        }
    }

    /// When coordinator op `op` on `node` replied, and whether ok.
    fn replied_at(&self, node: NodeId, op: OpTag) -> Option<(SimTime, bool)> {
        let w = *self.replied.get(node.index())?.get(op as usize)?;
        unpack_reply(w)
    }

    /// Every coordination of request `id` (a put or a get) that replied ok, as the harness saw it.
    pub fn quorums(&self, id: u64) -> &[Quorum] {
        quorums_of(&self.quorums, id)
    }

    /// Every join and leave, as the run went.
    pub fn changes(&self) -> &ChangeLog {
        &self.changes
    }

    /// Every hint a fallback was seen to take, in time order.
    pub fn hints_made(&self) -> &[HintMade] {
        &self.hints
    }

    /// How many violations of `which` were found so far.
    pub fn count(&self, which: Invariant) -> usize {
        self.found[which.slot()].count
    }

    /// The verdict of one invariant, named `name` in reports.
    pub fn verdict(&self, which: Invariant, name: &'static str) -> Verdict {
        let f = &self.found[which.slot()];
        Verdict::counted(name, f.listed.clone(), f.count)
    }
}
