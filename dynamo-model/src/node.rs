//! The Dynamo node: one sans-IO state machine that owns a store, a hint
//! store, a local membership view, and one coordinator state machine per
//! client request it coordinates.

use crate::config::{ClusterConfig, Versioning};
use crate::membership::View;
use crate::merkle::{self, MerkleTree};
use crate::msg::{Msg, Note, OpTag, Reply, Request, Timer};
use crate::ring::{Key, Ring};
use crate::version::{
    Actor, Stamp, VClock, Version, merged_clock, reconcile, reconcile_all, same_versions,
};
use sim_core::{ClientId, Context, Input, NodeId, TimerId, Traced};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

type Cx<'a, 'b> = &'a mut Context<'b, DynamoNode>;

/// A hinted replica kept by a fallback for the node it stood in for (§4.6).
#[derive(Clone, Debug, PartialEq)]
pub struct Hint {
    pub versions: Vec<Version>,
    /// Bumped on every change, so an ack for an older delivery deletes nothing.
    pub rev: u64,
}

/// Counters a node keeps about itself. They are measurements, not state: a crash keeps them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeStats {
    pub forwarded: u64,
    pub coordinated_puts: u64,
    pub coordinated_gets: u64,
    pub replica_timeouts: u64,
    pub hints_created: u64,
    pub hints_delivered: u64,
    pub read_repairs: u64,
    pub anti_entropy_rounds: u64,
    pub anti_entropy_keys_repaired: u64,
    /// Vector clock entries dropped by truncation (each may cause a false conflict).
    pub clock_truncations: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Slot {
    Pending,
    Answered,
    TimedOut,
}

#[derive(Debug)]
struct Target {
    node: NodeId,
    /// The node this target stands in for, if it is a fallback.
    hint: Option<NodeId>,
    slot: Slot,
    /// What a get's replica returned.
    versions: Vec<Version>,
}

#[derive(Debug)]
enum Work {
    Put { version: Version },
    Get,
}

/// One coordinator state machine (one client request).
#[derive(Debug)]
struct Op {
    client: ClientId,
    req: u64,
    key: Key,
    work: Work,
    needed: u32,
    targets: Vec<Target>,
    /// The next index of the key's walk to consider as a fallback.
    next_fallback: usize,
    round: u32,
    replied: bool,
    /// Answers counted a second time; only the injected bug `CountDuplicateAnswers` adds any.
    dups: Vec<NodeId>,
    round_timer: Option<TimerId>,
    repair_timer: Option<TimerId>,
    /// Set until it fires; a fired timer is not cancelled.
    deadline: Option<TimerId>,
}

impl Op {
    /// Answers toward the quorum: one per preference-list slot. A fallback
    /// stands in for the owner its hint names, so when a timed-out owner
    /// answers late as well, the two count once: the fallback hands its copy
    /// to that owner and deletes it, so they make one replica, not two (a
    /// sweep found puts acknowledged with W = 2 while only one node held them).
    fn answered(&self) -> u32 {
        // Distinct slots, counted without allocating: an op has a handful of
        // targets and this runs on every answer.
        let slot = |t: &Target| (t.slot == Slot::Answered).then(|| t.hint.unwrap_or(t.node));
        let distinct = self
            .targets
            .iter()
            .enumerate()
            .filter(|&(i, t)| {
                slot(t).is_some_and(|s| !self.targets[..i].iter().any(|e| slot(e) == Some(s)))
            })
            .count();
        distinct as u32 + self.dups.len() as u32
    }
    /// The nodes whose answers the op counts, in target order (the coordinator included).
    fn answered_by(&self) -> Vec<NodeId> {
        self.targets
            .iter()
            .filter(|t| t.slot == Slot::Answered)
            .map(|t| t.node)
            .chain(self.dups.iter().copied())
            .collect()
    }
    fn is_get(&self) -> bool {
        matches!(self.work, Work::Get)
    }
}

/// A client request this node forwarded to an owner, kept until an owner takes it (§4.5).
#[derive(Debug)]
struct Forwarding {
    client: ClientId,
    request: Request,
    /// The owners tried, in order; the last is the one being waited for.
    tried: Vec<NodeId>,
    timer: TimerId,
}

/// A Dynamo storage node.
#[derive(Debug)]
pub struct DynamoNode {
    id: NodeId,
    cfg: Arc<ClusterConfig>,
    ring: Arc<Ring>,
    // Durable: survives a crash unless the disk is wiped.
    store: BTreeMap<Key, Vec<Version>>,
    hints: BTreeMap<(NodeId, Key), Hint>,
    next_hint_rev: u64,
    /// The highest counter this node has issued per key, so it never issues one twice.
    issued: BTreeMap<Key, u64>,
    /// The disk's epoch; `None` after a wipe until the node starts and picks a new one.
    epoch: Option<u32>,
    /// The incarnation its heartbeats carry, bumped at every start; `None`
    /// after a wipe until the node starts and derives one from its clock.
    incarnation: Option<i64>,
    // Volatile: lost in a crash.
    view: View,
    ops: BTreeMap<OpTag, Op>,
    /// Requests forwarded to an owner that has not yet taken them, by request id.
    forwards: BTreeMap<u64, Forwarding>,
    /// Op ids never repeat within a run, so a late reply to a request from
    /// before a crash cannot be mistaken for one to a new request.
    next_op: OpTag,
    /// Whether a hint-delivery timer is pending; it runs only while hints are held.
    hint_timer: bool,
    /// The next (range, peer) pair anti-entropy compares.
    ae_cursor: usize,
    pub stats: NodeStats,
}

impl DynamoNode {
    pub fn new(id: NodeId, cfg: Arc<ClusterConfig>, ring: Arc<Ring>) -> DynamoNode {
        let nodes = cfg.nodes as usize;
        DynamoNode {
            id,
            view: View::new(id, nodes, 0),
            cfg,
            ring,
            store: BTreeMap::new(),
            hints: BTreeMap::new(),
            next_hint_rev: 1,
            issued: BTreeMap::new(),
            epoch: Some(0),
            incarnation: Some(0),
            ops: BTreeMap::new(),
            forwards: BTreeMap::new(),
            next_op: 1,
            hint_timer: false,
            ae_cursor: 0,
            stats: NodeStats::default(),
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The versions this node stores for `key` (not counting hints).
    pub fn versions(&self, key: &Key) -> &[Version] {
        self.store.get(key).map_or(&[], Vec::as_slice)
    }

    pub fn store(&self) -> &BTreeMap<Key, Vec<Version>> {
        &self.store
    }

    /// Hints held, keyed by (intended node, key).
    pub fn hints(&self) -> &BTreeMap<(NodeId, Key), Hint> {
        &self.hints
    }

    /// Whether this node believes `n` is up.
    pub fn believes_up(&self, n: NodeId) -> bool {
        self.view.is_up(n)
    }

    /// Coordinator state machines in flight.
    pub fn ops_in_flight(&self) -> usize {
        self.ops.len()
    }

    fn note(cx: Cx, label: &'static str, text: impl FnOnce() -> String) {
        cx.note_with(|| Note {
            label,
            text: text(),
        });
    }

    fn heard_from(&mut self, from: NodeId, cx: Cx) {
        if from != self.id && self.view.mark_up(from) {
            Self::note(cx, "view", || format!("{from} is up (heard from it)"));
            self.on_revived(from, cx);
        }
    }

    fn on_revived(&mut self, n: NodeId, cx: Cx) {
        if self.cfg.hinted_handoff {
            self.deliver_hints(Some(n), cx);
        }
    }

    /// Whether a node should be used now: itself, or a peer its view says is up.
    fn healthy(&self, n: NodeId) -> bool {
        self.view.is_up(n)
    }

    // ---- client requests and forwarding (§4.5) ----

    fn on_request(
        &mut self,
        client: ClientId,
        req: u64,
        request: Request,
        forwarded: bool,
        cx: Cx,
    ) {
        let top = self
            .ring
            .preference_list(request.key(), self.cfg.n as usize);
        // A proxy owns nothing and coordinates everything it is sent.
        let proxy = self.cfg.is_proxy(self.id);
        if self.cfg.forward_to_owner && !forwarded && !proxy && !top.contains(&self.id) {
            self.forward(client, req, request, Vec::new(), cx);
            return;
        }
        self.coordinate(client, req, request, cx);
    }

    /// Forwards a request to the first owner of the top N believed up and not
    /// tried yet, and waits for it to take the request; with none left, this
    /// node coordinates (§4.5 lets any node coordinate).
    fn forward(
        &mut self,
        client: ClientId,
        req: u64,
        request: Request,
        mut tried: Vec<NodeId>,
        cx: Cx,
    ) {
        let n = self.cfg.n as usize;
        let top = self.ring.preference_list(request.key(), n);
        let next = top
            .iter()
            .copied()
            .find(|&o| self.healthy(o) && !tried.contains(&o));
        let label = request.label();
        let Some(owner) = next else {
            Self::note(cx, "coordinate", || {
                if tried.is_empty() {
                    format!(
                        "{label}#{req}: no node of the top {n} is believed up; coordinating here"
                    )
                } else {
                    format!("{label}#{req}: no owner of the top {n} took it; coordinating here")
                }
            });
            self.coordinate(client, req, request, cx);
            return;
        };
        self.stats.forwarded += 1;
        let me = self.id;
        Self::note(cx, "forward", || {
            format!("{label}#{req} -> {owner} ({me} is not in the top {n})")
        });
        cx.send(
            owner,
            Msg::Forward {
                client,
                req,
                request: request.clone(),
            },
        );
        tried.push(owner);
        let timer = cx.set_timer(self.cfg.request_timeout, Timer::Forward { req });
        self.forwards.insert(
            req,
            Forwarding {
                client,
                request,
                tried,
                timer,
            },
        );
    }

    /// The owner a request was forwarded to took it.
    fn on_forward_ack(&mut self, from: NodeId, req: u64, cx: Cx) {
        if self
            .forwards
            .get(&req)
            .is_some_and(|f| f.tried.last() == Some(&from))
        {
            let f = self.forwards.remove(&req).expect("present");
            cx.cancel_timer(f.timer);
        }
    }

    /// The owner did not take a forwarded request in time: it is treated as
    /// down, like a replica that does not answer, and the next owner is tried.
    fn on_forward_timeout(&mut self, req: u64, cx: Cx) {
        let Some(f) = self.forwards.remove(&req) else {
            return;
        };
        let owner = *f.tried.last().expect("a forward has a target");
        if self.view.mark_down(owner) {
            Self::note(cx, "view", || {
                format!(
                    "{owner} is down (did not take a forwarded request within {})",
                    self.cfg.request_timeout
                )
            });
        }
        let label = f.request.label();
        Self::note(cx, "timeout", || {
            format!("{label}#{req}: {owner} did not take the forwarded request")
        });
        self.forward(f.client, req, f.request, f.tried, cx);
    }

    /// Chooses the first N healthy nodes of the key's walk; fallbacks carry a
    /// hint naming the skipped owner they stand in for (sloppy quorum, §4.6).
    /// With hinted handoff off the quorum is strict: only the top N.
    fn choose_targets(&self, key: &Key) -> (Vec<Target>, usize) {
        let mut walk = self.ring.walk(key);
        let n = self.cfg.n as usize;
        let mut targets = Vec::with_capacity(n);
        let mut skipped = VecDeque::new();
        let mut i = 0;
        while targets.len() < n {
            let Some(node) = walk.next() else { break };
            i += 1;
            let new = |hint| Target {
                node,
                hint,
                slot: Slot::Pending,
                versions: Vec::new(),
            };
            if i <= n {
                if self.healthy(node) || !self.cfg.hinted_handoff {
                    targets.push(new(None));
                } else {
                    skipped.push_back(node);
                }
            } else if self.healthy(node) {
                targets.push(new(skipped.pop_front()));
            }
        }
        (targets, i)
    }

    fn coordinate(&mut self, client: ClientId, req: u64, request: Request, cx: Cx) {
        let op_id = self.next_op;
        self.next_op += 1;
        let (mut targets, next_fallback) = self.choose_targets(request.key());
        let (key, work, needed) = match request {
            Request::Get { key } => {
                self.stats.coordinated_gets += 1;
                (key, Work::Get, self.cfg.r)
            }
            Request::Put {
                key,
                value,
                context,
            } => {
                self.stats.coordinated_puts += 1;
                let version = self.new_version(&key, value, &context, req, cx);
                (key, Work::Put { version }, self.cfg.w)
            }
        };
        if self.cfg.random_quorums {
            // W (or R) of the N replicas, uniformly at random; all must answer.
            cx.rng().shuffle(&mut targets);
            targets.truncate(needed as usize);
        }
        let me = self.id;
        Self::note(cx, "coordinate", || {
            let list: Vec<String> = targets
                .iter()
                .map(|t| match t.hint {
                    Some(h) => format!("{}(for {h})", t.node),
                    None => t.node.to_string(),
                })
                .collect();
            format!(
                "op{op_id} for {}#{req} from {client} key {key}: replicas [{}], need {needed}",
                if matches!(work, Work::Get) {
                    "get"
                } else {
                    "put"
                },
                list.join(" ")
            )
        });
        // The coordinator's own part happens at once.
        for t in &mut targets {
            if t.node == me {
                t.slot = Slot::Answered;
                match &work {
                    Work::Put { version } => {
                        let v = version.clone();
                        self.store_version(&key, &v, t.hint, cx);
                    }
                    Work::Get => t.versions = self.local_versions(&key),
                }
            }
        }
        for t in targets.iter().filter(|t| t.node != me) {
            cx.send(t.node, request_msg(op_id, &key, &work, t.hint));
        }
        let deadline = cx.set_timer(self.cfg.op_deadline, Timer::Deadline { op: op_id });
        let round_timer = targets.iter().any(|t| t.slot == Slot::Pending).then(|| {
            cx.set_timer(
                self.cfg.request_timeout,
                Timer::ReplicaTimeout {
                    op: op_id,
                    round: 0,
                },
            )
        });
        let op = Op {
            client,
            req,
            key,
            work,
            needed,
            targets,
            next_fallback,
            round: 0,
            replied: false,
            dups: Vec::new(),
            round_timer,
            repair_timer: None,
            deadline: Some(deadline),
        };
        self.ops.insert(op_id, op);
        self.progress(op_id, cx);
    }

    /// This node's actor in vector clocks: its id and its disk's epoch.
    fn actor(&self) -> Actor {
        Actor {
            node: self.id,
            epoch: self.epoch.unwrap_or(0),
        }
    }

    /// The new version: the context's clock with this node's counter moved
    /// past every counter of its own it has seen or issued for the key (§4.4).
    fn new_version(
        &mut self,
        key: &Key,
        value: Arc<str>,
        context: &VClock,
        req: u64,
        cx: Cx,
    ) -> Version {
        let me = self.id;
        let stamp = Stamp {
            clock_us: cx.clock_us(),
            node: me,
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
        let empty = VClock::new();
        let context = if self.cfg.bug == Some(crate::config::Bug::DroppedContext) {
            // The injected bug: the client's context is lost, so the write looks blind.
            &empty
        } else {
            context
        };
        let seen = self
            .store
            .get(key)
            .into_iter()
            .flatten()
            .chain(
                self.hints
                    .iter()
                    .filter(|((_, k), _)| k == key)
                    .flat_map(|(_, h)| &h.versions),
            )
            .map(|v| v.clock.max_counter(actor))
            .max()
            .unwrap_or(0);
        let issued = self.issued.get(key).copied().unwrap_or(0);
        let counter = context.max_counter(actor).max(seen).max(issued) + 1;
        self.issued.insert(key.clone(), counter);
        let mut v = Version::written(value, context, actor, counter, cx.clock_us(), req);
        let dropped = v
            .clock
            .truncate_keeping(self.cfg.vclock_max_entries as usize, Some(actor));
        if dropped > 0 {
            self.stats.clock_truncations += dropped as u64;
            Self::note(cx, "truncate", || {
                format!("key {key}: dropped {dropped} oldest clock entries")
            });
        }
        v
    }

    /// Replies to the client once the quorum is reached, and retires the op when nothing is left to do.
    fn progress(&mut self, op_id: OpTag, cx: Cx) {
        let Some(op) = self.ops.get_mut(&op_id) else {
            return;
        };
        let got = op.answered();
        if !op.replied && got >= op.needed {
            op.replied = true;
            let reply = match &op.work {
                Work::Put { version } => Reply::Put {
                    clock: version.clock.clone(),
                    stamp: version.stamp,
                    acks: got,
                    op: op_id,
                    from: op.answered_by(),
                },
                Work::Get => {
                    let versions = reconciled(op, self.cfg.versioning, self.cfg.bug);
                    Reply::Got {
                        context: merged_clock(&versions),
                        versions,
                        replies: got,
                        op: op_id,
                        from: op.answered_by(),
                    }
                }
            };
            cx.reply(op.client, op.req, reply);
            if op.is_get()
                && self.cfg.read_repair
                && op.targets.iter().any(|t| t.slot == Slot::Pending)
            {
                op.repair_timer = Some(
                    cx.set_timer(self.cfg.read_repair_window, Timer::ReadRepair { op: op_id }),
                );
            }
        }
        let op = &self.ops[&op_id];
        if op.replied && op.targets.iter().all(|t| t.slot != Slot::Pending) {
            // Every replica answered or was given up on: the op is done.
            self.finish(op_id, cx);
        }
    }

    fn finish(&mut self, op_id: OpTag, cx: Cx) {
        let Some(op) = self.ops.remove(&op_id) else {
            return;
        };
        for t in [op.deadline, op.round_timer, op.repair_timer]
            .into_iter()
            .flatten()
        {
            cx.cancel_timer(t);
        }
        if op.is_get() && op.replied && self.cfg.read_repair {
            self.read_repair(&op, cx);
        }
    }

    /// Sends the reconciled versions to every owner that answered with something older (§5).
    fn read_repair(&mut self, op: &Op, cx: Cx) {
        let newest = reconciled(op, self.cfg.versioning, self.cfg.bug);
        if newest.is_empty() {
            return;
        }
        for t in op
            .targets
            .iter()
            .filter(|t| t.slot == Slot::Answered && t.hint.is_none())
        {
            if same_versions(&t.versions, &newest) {
                continue;
            }
            self.stats.read_repairs += 1;
            let key = op.key.clone();
            Self::note(cx, "read-repair", || {
                format!("{} is stale for key {key}", t.node)
            });
            let to = if self.cfg.bug == Some(crate::config::Bug::RepairWrongNode) {
                // The injected bug: the repair goes to the next node by id, not the stale one.
                NodeId((t.node.0 + 1) % self.cfg.nodes)
            } else {
                t.node
            };
            if to == self.id {
                let set = self.store.entry(op.key.clone()).or_default();
                reconcile_all(set, &newest, self.cfg.versioning);
            } else {
                cx.send(
                    to,
                    Msg::Repair {
                        key: op.key.clone(),
                        versions: newest.clone(),
                    },
                );
            }
        }
    }

    fn on_replica_timeout(&mut self, op_id: OpTag, round: u32, cx: Cx) {
        let hh = self.cfg.hinted_handoff;
        let Some(op) = self.ops.get(&op_id) else {
            return;
        };
        if op.round != round {
            return;
        }
        let late: Vec<(usize, NodeId, Option<NodeId>)> = op
            .targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.slot == Slot::Pending)
            .map(|(i, t)| (i, t.node, t.hint))
            .collect();
        let mut next = op.next_fallback;
        let mut walk = self.ring.walk(&op.key).skip_to(next);
        let mut new_targets = Vec::new();
        for &(_, node, hint) in &late {
            self.stats.replica_timeouts += 1;
            if self.view.mark_down(node) {
                Self::note(cx, "view", || {
                    format!(
                        "{node} is down (no answer within {})",
                        self.cfg.request_timeout
                    )
                });
            }
            let op = &self.ops[&op_id];
            let mut replacement = None;
            if hh {
                for cand in walk.by_ref() {
                    next += 1;
                    if self.healthy(cand)
                        && !op.targets.iter().any(|t| t.node == cand)
                        && !new_targets.iter().any(|t: &Target| t.node == cand)
                    {
                        replacement = Some(cand);
                        break;
                    }
                }
            }
            let stands_for = hint.unwrap_or(node);
            Self::note(cx, "timeout", || match replacement {
                Some(f) => {
                    format!("op{op_id}: {node} did not answer; fallback {f} hint={stands_for}")
                }
                None => format!("op{op_id}: {node} did not answer; no fallback left"),
            });
            if let Some(f) = replacement {
                new_targets.push(Target {
                    node: f,
                    hint: Some(stands_for),
                    slot: Slot::Pending,
                    versions: Vec::new(),
                });
            }
        }
        let me = self.id;
        // A coordinator outside the preference list can itself be the next fallback: it serves locally.
        for t in new_targets.iter_mut().filter(|t| t.node == me) {
            t.slot = Slot::Answered;
            let op = &self.ops[&op_id];
            let key = op.key.clone();
            match &op.work {
                Work::Put { version } => {
                    let v = version.clone();
                    self.store_version(&key, &v, t.hint, cx);
                }
                Work::Get => t.versions = self.local_versions(&key),
            }
        }
        let op = self.ops.get_mut(&op_id).expect("op exists");
        for (i, ..) in &late {
            op.targets[*i].slot = Slot::TimedOut;
        }
        op.next_fallback = next;
        op.round += 1;
        op.round_timer = None;
        for t in new_targets.iter().filter(|t| t.node != me) {
            cx.send(t.node, request_msg(op_id, &op.key, &op.work, t.hint));
        }
        if new_targets.iter().any(|t| t.slot == Slot::Pending) {
            op.round_timer = Some(cx.set_timer(
                self.cfg.request_timeout,
                Timer::ReplicaTimeout {
                    op: op_id,
                    round: op.round,
                },
            ));
        }
        op.targets.extend(new_targets);
        self.progress(op_id, cx);
    }

    fn on_deadline(&mut self, op_id: OpTag, cx: Cx) {
        let Some(op) = self.ops.get_mut(&op_id) else {
            return;
        };
        op.deadline = None;
        if !op.replied {
            op.replied = true;
            let (got, needed) = (op.answered(), op.needed);
            Self::note(cx, "failed", || {
                format!("op{op_id}: quorum not reached: {got} of {needed} answered")
            });
            let put = !op.is_get();
            let reply = Reply::Failed {
                put,
                got,
                needed,
                op: op_id,
            };
            cx.reply(op.client, op.req, reply);
            if self.cfg.bug == Some(crate::config::Bug::OkAfterFailed) {
                // The injected bug: the op stays open, and a late quorum replies again.
                op.replied = false;
                return;
            }
        }
        self.finish(op_id, cx);
    }

    fn on_answer(&mut self, from: NodeId, op_id: OpTag, versions: Option<Vec<Version>>, cx: Cx) {
        let Some(op) = self.ops.get_mut(&op_id) else {
            return;
        };
        let Some(t) = op
            .targets
            .iter_mut()
            .find(|t| t.node == from && t.slot != Slot::Answered)
        else {
            if self.cfg.bug == Some(crate::config::Bug::CountDuplicateAnswers)
                && op.targets.iter().any(|t| t.node == from)
            {
                // The injected bug: a duplicated answer counts once more.
                op.dups.push(from);
                self.progress(op_id, cx);
            }
            return;
        };
        t.slot = Slot::Answered;
        if let Some(v) = versions {
            t.versions = v;
        }
        self.progress(op_id, cx);
    }

    // ---- replicas ----

    /// Stores a version in the main store, or as a hint for `hint`.
    fn store_version(&mut self, key: &Key, v: &Version, hint: Option<NodeId>, cx: Cx) {
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
    fn local_versions(&self, key: &Key) -> Vec<Version> {
        let mut out = self.store.get(key).cloned().unwrap_or_default();
        for ((_, k), h) in &self.hints {
            if k == key {
                reconcile_all(&mut out, &h.versions, self.cfg.versioning);
            }
        }
        out
    }

    // ---- hinted handoff (§4.6) ----

    fn arm_hint_timer(&mut self, cx: Cx) {
        if !self.hint_timer && !self.hints.is_empty() {
            self.hint_timer = true;
            cx.set_timer(self.cfg.hint_interval, Timer::HintDelivery);
        }
    }

    /// Sends every hint (or only `only`'s) to its target.
    fn deliver_hints(&mut self, only: Option<NodeId>, cx: Cx) {
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
            let to = if self.cfg.bug == Some(crate::config::Bug::HintToFirstOwner) {
                // The injected bug: the hint goes to the key's first owner, whoever it was for.
                self.ring.preference_list(key, 1)[0]
            } else {
                *target
            };
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

    // ---- gossip (§4.8) ----

    fn gossip_round(&mut self, cx: Cx) {
        let n = self.cfg.nodes;
        if n > 1 {
            let mut peer = cx.rng().below(u64::from(n) - 1) as u32;
            if peer >= self.id.0 {
                peer += 1;
            }
            let beats = self.view.beat();
            cx.send(NodeId(peer), Msg::Gossip { beats });
        }
        cx.set_timer(self.cfg.gossip_interval, Timer::Gossip);
    }

    fn merge_beats(&mut self, beats: &[crate::msg::Beat], cx: Cx) {
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

    // ---- anti-entropy (§4.7) ----

    fn tree(&self, range: u32) -> MerkleTree {
        // The store is ordered by ring position, so a range's keys are one or
        // two (when the range wraps past zero) runs of it.
        let entries = self
            .ring
            .range_spans(range as usize)
            .into_iter()
            .flatten()
            .flat_map(|(lo, hi)| self.store.range(Key::span(lo, hi)))
            .map(|(k, v)| (k, v.as_slice()));
        MerkleTree::build(entries, self.cfg.merkle_depth)
    }

    /// Every (range, peer) pair this node compares: each range it replicates, with each other replica.
    fn anti_entropy_pairs(&self) -> &[(u32, NodeId)] {
        self.ring.anti_entropy_pairs(self.id)
    }

    /// Compares one (range, peer) pair per round, going round-robin from a
    /// random start, so every pair is compared within a bounded time.
    fn anti_entropy_round(&mut self, cx: Cx) {
        let len = self.anti_entropy_pairs().len();
        if len > 0 {
            let (range, peer) = self.anti_entropy_pairs()[self.ae_cursor % len];
            self.ae_cursor = (self.ae_cursor + 1) % len;
            self.stats.anti_entropy_rounds += 1;
            let root = self.tree(range).root();
            cx.send(
                peer,
                Msg::MerkleHashes {
                    range,
                    level: 0,
                    hashes: vec![(0, root)],
                },
            );
        }
        cx.set_timer(self.cfg.anti_entropy_interval, Timer::AntiEntropy);
    }

    /// How long anti-entropy needs to compare every pair of every node once.
    pub fn anti_entropy_sweep_time(&self) -> sim_core::SimDuration {
        sim_core::SimDuration(
            self.anti_entropy_pairs().len() as u64 * self.cfg.anti_entropy_interval.as_us(),
        )
    }

    fn on_merkle_hashes(
        &mut self,
        from: NodeId,
        range: u32,
        level: u8,
        hashes: &[(u32, u64)],
        cx: Cx,
    ) {
        if range as usize >= self.ring.range_count() {
            return;
        }
        let tree = self.tree(range);
        let differing: Vec<u32> = hashes
            .iter()
            .filter(|(i, h)| tree.hash(level, *i) != Some(*h))
            .map(|(i, _)| *i)
            .collect();
        if differing.is_empty() {
            return;
        }
        if u32::from(level) < tree.depth() {
            let below: Vec<(u32, u64)> = differing
                .iter()
                .flat_map(|&i| tree.children(level, i))
                .collect();
            cx.send(
                from,
                Msg::MerkleHashes {
                    range,
                    level: level + 1,
                    hashes: below,
                },
            );
        } else {
            let mut differing = differing;
            if self.cfg.bug == Some(crate::config::Bug::SkipDifferingLeaf) {
                // The injected bug: the first differing leaf is never exchanged.
                differing.remove(0);
                if differing.is_empty() {
                    return;
                }
            }
            let entries = self.leaf_entries(range, &differing);
            cx.send(
                from,
                Msg::MerkleKeys {
                    range,
                    leaves: differing,
                    entries,
                    reply: false,
                },
            );
        }
    }

    fn leaf_entries(&self, range: u32, leaves: &[u32]) -> Vec<(Key, Vec<Version>)> {
        let depth = self.cfg.merkle_depth;
        self.store
            .iter()
            .filter(|(k, v)| {
                !v.is_empty()
                    && self.ring.range_of(k) == range as usize
                    && leaves.contains(&merkle::leaf_of(k, depth))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn on_merkle_keys(
        &mut self,
        from: NodeId,
        range: u32,
        leaves: Vec<u32>,
        entries: Vec<(Key, Vec<Version>)>,
        reply: bool,
        cx: Cx,
    ) {
        let mut repaired = 0;
        for (key, versions) in &entries {
            let set = self.store.entry(key.clone()).or_default();
            if reconcile_all(set, versions, self.cfg.versioning) {
                repaired += 1;
            }
        }
        if repaired > 0 {
            self.stats.anti_entropy_keys_repaired += repaired;
            Self::note(cx, "anti-entropy", || {
                format!("range {range}: {repaired} key(s) updated from {from}")
            });
        }
        if !reply {
            let mine = self.leaf_entries(range, &leaves);
            cx.send(
                from,
                Msg::MerkleKeys {
                    range,
                    leaves,
                    entries: mine,
                    reply: true,
                },
            );
        }
    }
}

fn request_msg(op: OpTag, key: &Key, work: &Work, hint: Option<NodeId>) -> Msg {
    match work {
        Work::Put { version } => Msg::Replicate {
            op,
            key: key.clone(),
            version: version.clone(),
            hint,
        },
        Work::Get => Msg::Read {
            op,
            key: key.clone(),
        },
    }
}

/// Every answered replica's versions, reconciled.
fn reconciled(op: &Op, mode: Versioning, bug: Option<crate::config::Bug>) -> Vec<Version> {
    let mut out = Vec::new();
    if bug == Some(crate::config::Bug::UnreconciledReads) {
        // The injected bug: hand back whatever the replicas said, duplicates and stale versions included.
        for t in op.targets.iter().filter(|t| t.slot == Slot::Answered) {
            out.extend(t.versions.iter().cloned());
        }
        return out;
    }
    for t in op.targets.iter().filter(|t| t.slot == Slot::Answered) {
        reconcile_all(&mut out, &t.versions, mode);
    }
    out
}

impl sim_core::Node for DynamoNode {
    type Msg = Msg;
    type Timer = Timer;
    type Request = Request;
    type Reply = Reply;
    type Note = Note;

    fn start(&mut self, cx: &mut Context<'_, Self>) {
        if self.epoch.is_none() {
            // An empty disk: come back as a new actor, so no forgotten counter is reused.
            let epoch = (cx.clock_us() / 1_000).clamp(1, i64::from(u32::MAX)) as u32;
            self.epoch = Some(epoch);
            let me = self.id;
            Self::note(cx, "epoch", || {
                format!(
                    "{me} starts with an empty disk as {}",
                    Actor { node: me, epoch }
                )
            });
        }
        // Every start is a new incarnation. A wiped disk forgot the last one, so
        // the clock stands in; should it lag, gossip relaying a beat of the
        // forgotten incarnation makes the view jump past it.
        let incarnation = match self.incarnation {
            Some(i) => i + 1,
            None => cx.clock_us().max(1),
        };
        self.incarnation = Some(incarnation);
        self.view = View::new(self.id, self.cfg.nodes as usize, incarnation);
        // Periodic work starts at a random phase, so nodes do not all act at once.
        let phase = |cx: &mut Context<'_, Self>, period: sim_core::SimDuration| {
            sim_core::SimDuration(1 + cx.rng().below(period.as_us().max(1)))
        };
        if self.cfg.gossip {
            let p = phase(cx, self.cfg.gossip_interval);
            cx.set_timer(p, Timer::Gossip);
        }
        self.hint_timer = false;
        self.arm_hint_timer(cx);
        if self.cfg.anti_entropy {
            let pairs = self.anti_entropy_pairs().len();
            self.ae_cursor = if pairs > 0 { cx.rng().index(pairs) } else { 0 };
            let p = phase(cx, self.cfg.anti_entropy_interval);
            cx.set_timer(p, Timer::AntiEntropy);
        }
    }

    fn handle(&mut self, input: Input<Self>, cx: &mut Context<'_, Self>) {
        match input {
            Input::Request { client, req, body } => self.on_request(client, req, body, false, cx),
            Input::Timer { timer, .. } => match timer {
                Timer::ReplicaTimeout { op, round } => self.on_replica_timeout(op, round, cx),
                Timer::Deadline { op } => self.on_deadline(op, cx),
                Timer::ReadRepair { op } => {
                    if let Some(o) = self.ops.get_mut(&op) {
                        o.repair_timer = None;
                        // Stop waiting for the stragglers: repair with what has arrived.
                        for t in &mut o.targets {
                            if t.slot == Slot::Pending {
                                t.slot = Slot::TimedOut;
                            }
                        }
                        self.finish(op, cx);
                    }
                }
                Timer::Forward { req } => self.on_forward_timeout(req, cx),
                Timer::Gossip => self.gossip_round(cx),
                Timer::HintDelivery => {
                    self.hint_timer = false;
                    self.deliver_hints(None, cx);
                    self.arm_hint_timer(cx);
                }
                Timer::AntiEntropy => self.anti_entropy_round(cx),
            },
            Input::Message { from, msg } => {
                self.heard_from(from, cx);
                match msg {
                    Msg::Forward {
                        client,
                        req,
                        request,
                    } => {
                        cx.send(from, Msg::ForwardAck { req });
                        self.on_request(client, req, request, true, cx);
                    }
                    Msg::ForwardAck { req } => self.on_forward_ack(from, req, cx),
                    Msg::Replicate {
                        op,
                        key,
                        version,
                        hint,
                    } => {
                        self.store_version(&key, &version, hint, cx);
                        cx.send(from, Msg::ReplicateAck { op });
                    }
                    Msg::ReplicateAck { op } => self.on_answer(from, op, None, cx),
                    Msg::Read { op, key } => {
                        let versions = if self.cfg.bug == Some(crate::config::Bug::EmptyReadReplies)
                        {
                            // The injected bug: the answer leaves out everything the replica holds.
                            Vec::new()
                        } else {
                            self.local_versions(&key)
                        };
                        cx.send(from, Msg::ReadReply { op, versions });
                    }
                    Msg::ReadReply { op, versions } => self.on_answer(from, op, Some(versions), cx),
                    Msg::Repair { .. }
                        if self.cfg.bug == Some(crate::config::Bug::SkipRepairMerge) =>
                    {
                        // The injected bug: the repair is dropped on the floor.
                    }
                    Msg::Repair { key, versions } => {
                        reconcile_all(
                            self.store.entry(key).or_default(),
                            &versions,
                            self.cfg.versioning,
                        );
                    }
                    Msg::Handoff { key, versions, rev } => {
                        reconcile_all(
                            self.store.entry(key.clone()).or_default(),
                            &versions,
                            self.cfg.versioning,
                        );
                        cx.send(from, Msg::HandoffAck { key, rev });
                    }
                    Msg::HandoffAck { key, rev } => {
                        let mut slot = (from, key);
                        if self.cfg.bug == Some(crate::config::Bug::HintToFirstOwner) {
                            // The injected bug: an ack from the first owner retires the hint it was sent.
                            if let Some((t, _)) = self
                                .hints
                                .iter()
                                .find(|((_, k), h)| *k == slot.1 && h.rev == rev)
                            {
                                slot.0 = t.0;
                            }
                        }
                        if self.hints.get(&slot).is_some_and(|h| h.rev == rev) {
                            self.hints.remove(&slot);
                            self.stats.hints_delivered += 1;
                            Self::note(cx, "handoff", || {
                                format!("{} acknowledged key {}; hint deleted", slot.0, slot.1)
                            });
                        }
                    }
                    Msg::Gossip { beats } => {
                        self.merge_beats(&beats, cx);
                        let reply = self.view.beats();
                        cx.send(from, Msg::GossipReply { beats: reply });
                    }
                    Msg::GossipReply { beats } => self.merge_beats(&beats, cx),
                    Msg::MerkleHashes {
                        range,
                        level,
                        hashes,
                    } => self.on_merkle_hashes(from, range, level, &hashes, cx),
                    Msg::MerkleKeys {
                        range,
                        leaves,
                        entries,
                        reply,
                    } => self.on_merkle_keys(from, range, leaves, entries, reply, cx),
                }
            }
        }
    }

    fn crash(&mut self, wipe_disk: bool) {
        self.ops.clear();
        self.forwards.clear();
        self.view = View::new(self.id, self.cfg.nodes as usize, 0);
        if wipe_disk {
            self.store.clear();
            self.hints.clear();
            self.issued.clear();
            self.epoch = None;
            self.incarnation = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(targets: &[(u32, Option<u32>, Slot)]) -> Op {
        let ring = Ring::build(
            &ClusterConfig::default(),
            &mut sim_core::SimRng::new(1, sim_core::Stream::Setup),
        );
        Op {
            client: ClientId(0),
            req: 1,
            key: ring.key("k").expect("an md5 key"),
            work: Work::Get,
            needed: 2,
            targets: targets
                .iter()
                .map(|&(node, hint, slot)| Target {
                    node: NodeId(node),
                    hint: hint.map(NodeId),
                    slot,
                    versions: Vec::new(),
                })
                .collect(),
            next_fallback: 0,
            round: 0,
            replied: false,
            dups: Vec::new(),
            round_timer: None,
            repair_timer: None,
            deadline: None,
        }
    }

    // A fallback and the late owner it stands in for fill one quorum slot, not two.
    #[test]
    fn stand_in_and_late_owner_count_once() {
        let o = op(&[
            (0, None, Slot::Answered),
            (1, None, Slot::Answered),
            (2, None, Slot::TimedOut),
            (3, Some(1), Slot::Answered),
        ]);
        assert_eq!(o.answered(), 2);
        assert_eq!(o.answered_by(), vec![NodeId(0), NodeId(1), NodeId(3)]);
        let o = op(&[
            (0, None, Slot::Answered),
            (1, None, Slot::TimedOut),
            (3, Some(1), Slot::Answered),
            (4, Some(2), Slot::Answered),
        ]);
        assert_eq!(o.answered(), 3, "stand-ins for different owners each count");
    }
}
