//! Client requests, forwarding to an owner (§4.5), and the coordinator: one
//! state machine per request, with its quorum (§4.5), sloppy quorum and
//! fallbacks with hints (§4.6), timeouts, deadline and read repair (§5).

use crate::config::ClusterConfig;
use crate::msg::{Msg, OpTag, Reply, Request, Timer};
use crate::node::cx::{Cx, Wire, note};
use crate::node::gossip::FailureDetector;
use crate::node::replica::Replica;
use crate::ring::Key;
use crate::version::{Version, merged_clock, reconcile_all, same_versions};
use sim_core::{ClientId, NodeId, TimerId, Traced};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The requests this node coordinates or has forwarded. Volatile: a crash
/// drops every one (their clients time out).
#[derive(Clone, Debug, Default, Hash)]
pub(crate) struct Coordinator {
    /// One state machine per request this node coordinates, by op id.
    ops: BTreeMap<OpTag, Op>,
    /// Requests forwarded to an owner that has not yet taken them, by request id.
    forwards: BTreeMap<u64, Forwarding>,
}

/// What a coordinator needs of the rest of its node.
pub(crate) struct Env<'a> {
    /// The data path: local reads and writes, new versions, the ring.
    pub(crate) replica: Replica<'a>,
    /// Which peers the node believes up; a replica that times out is marked down.
    pub(crate) detector: &'a mut FailureDetector,
    /// Whether this node has announced its leave: it then takes no request
    /// for itself, and forwards each to an owner.
    pub(crate) leaving: bool,
    /// The next op id. Op ids never repeat within a run (a crash keeps the
    /// counter), so a late reply to a request from before a crash is not
    /// mistaken for one to a new request; a real node would use random ids.
    pub(crate) next_op: &'a mut OpTag,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
enum Slot {
    Pending,
    Answered,
    TimedOut,
}

/// One replica an op was sent to.
#[derive(Clone, Debug, Hash)]
struct Target {
    node: NodeId,
    /// The node this target stands in for, if it is a fallback.
    hint: Option<NodeId>,
    slot: Slot,
    /// What a get's replica returned.
    versions: Vec<Version>,
}

#[derive(Clone, Debug, Hash)]
enum Work {
    Put { version: Version },
    Get,
}

/// One coordinator state machine (one client request).
#[derive(Clone, Debug, Hash)]
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
    /// Answers counted a second time (the injected count-duplicate-answers bug).
    #[cfg(feature = "bugs")]
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
        debug_assert!(
            distinct <= self.targets.len(),
            "answers never exceed the targets"
        );
        #[cfg(feature = "bugs")]
        let distinct = distinct + self.dups.len();
        distinct as u32
    }

    /// The nodes whose answers the op counts, in target order (the coordinator included).
    fn answered_by(&self) -> Vec<NodeId> {
        let answered = self
            .targets
            .iter()
            .filter(|t| t.slot == Slot::Answered)
            .map(|t| t.node);
        #[cfg(feature = "bugs")]
        let answered = answered.chain(self.dups.iter().copied());
        answered.collect()
    }

    fn is_get(&self) -> bool {
        matches!(self.work, Work::Get)
    }

    /// Every answered replica's versions, reconciled.
    fn reconciled(&self, cfg: &ClusterConfig) -> Vec<Version> {
        let answers = || {
            self.targets
                .iter()
                .filter(|t| t.slot == Slot::Answered)
                .map(|t| t.versions.as_slice())
        };
        #[cfg(feature = "bugs")]
        if let Some(out) = crate::bugs::unreconciled(cfg.bug, answers()) {
            return out;
        }
        let mut out = Vec::new();
        for versions in answers() {
            reconcile_all(&mut out, versions, cfg.versioning);
        }
        out
    }
}

/// A client request this node forwarded to an owner, kept until an owner takes it (§4.5).
#[derive(Clone, Debug, Hash)]
struct Forwarding {
    client: ClientId,
    request: Request,
    /// The owners tried, in order; the last is the one being waited for.
    tried: Vec<NodeId>,
    timer: TimerId,
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

/// Chooses the first N healthy nodes of the key's walk; fallbacks carry a
/// hint naming the skipped owner they stand in for (sloppy quorum, §4.6).
/// With hinted handoff off the quorum is strict: only the top N. Returns the
/// targets and the next index of the walk.
fn choose_targets(env: &Env<'_>, key: &Key) -> (Vec<Target>, usize) {
    let cfg = env.replica.cfg;
    let mut walk = env.replica.owner.ring.walk(key);
    let n = cfg.n as usize;
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
            if env.detector.is_up(node) || !cfg.hinted_handoff {
                targets.push(new(None));
            } else {
                skipped.push_back(node);
            }
        } else if env.detector.is_up(node) {
            targets.push(new(skipped.pop_front()));
        }
    }
    if cfg.datacenter_aware {
        // Replicas in this node's data centre are contacted first.
        let mine = cfg.datacenter_of(env.replica.me);
        targets.sort_by_key(|t| cfg.datacenter_of(t.node) != mine);
    }
    (targets, i)
}

impl Coordinator {
    /// Coordinator state machines in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.len()
    }

    /// Whether it holds no request: no op in flight, no forward waiting.
    pub(crate) fn is_idle(&self) -> bool {
        self.ops.is_empty() && self.forwards.is_empty()
    }

    // ---- client requests and forwarding (§4.5) ----

    /// A client request (or one an owner-less node forwarded here): this
    /// node coordinates it, or forwards it to an owner if it is not one.
    pub(crate) fn on_request<N: Wire>(
        &mut self,
        client: ClientId,
        req: u64,
        request: Request,
        forwarded: bool,
        env: &mut Env<'_>,
        cx: Cx<'_, '_, N>,
    ) {
        let Some(key) = request.key() else {
            return; // membership changes are served by the membership mechanism
        };
        if env.leaving {
            // It owns nothing any more and is about to stop: an owner takes it.
            self.forward(client, req, request, Vec::new(), env, cx);
            return;
        }
        let me = env.replica.me;
        let cfg = env.replica.cfg;
        let top = env.replica.owner.ring.preference_list(key, cfg.n as usize);
        // A proxy owns nothing and coordinates everything it is sent.
        let proxy = cfg.is_proxy(me);
        if cfg.forward_to_owner && !forwarded && !proxy && !top.contains(&me) {
            self.forward(client, req, request, Vec::new(), env, cx);
            return;
        }
        self.coordinate(client, req, request, env, cx);
    }

    /// Forwards a request to the first owner of the top N believed up and not
    /// tried yet, and waits for it to take the request; with none left, this
    /// node coordinates (§4.5 lets any node coordinate).
    fn forward<N: Wire>(
        &mut self,
        client: ClientId,
        req: u64,
        request: Request,
        mut tried: Vec<NodeId>,
        env: &mut Env<'_>,
        cx: Cx<'_, '_, N>,
    ) {
        let cfg = env.replica.cfg;
        let n = cfg.n as usize;
        let Some(key) = request.key() else {
            return;
        };
        let top = env.replica.owner.ring.preference_list(key, n);
        let mine = cfg.datacenter_of(env.replica.me);
        let detector = &*env.detector;
        let untried = |local: bool| {
            top.iter().copied().find(|&o| {
                detector.is_up(o) && !tried.contains(&o) && (!local || cfg.datacenter_of(o) == mine)
            })
        };
        // Data-centre-aware: an owner in this node's data centre first.
        let next = if cfg.datacenter_aware {
            untried(true).or_else(|| untried(false))
        } else {
            untried(false)
        };
        let label = request.label();
        let Some(owner) = next else {
            note(cx, "coordinate", || {
                if tried.is_empty() {
                    format!(
                        "{label}#{req}: no node of the top {n} is believed up; coordinating here"
                    )
                } else {
                    format!("{label}#{req}: no owner of the top {n} took it; coordinating here")
                }
            });
            self.coordinate(client, req, request, env, cx);
            return;
        };
        env.replica.stats.forwarded += 1;
        let me = env.replica.me;
        note(cx, "forward", || {
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
        let timer = cx.set_timer(cfg.request_timeout, Timer::Forward { req });
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
    pub(crate) fn on_forward_ack<N: Wire>(&mut self, from: NodeId, req: u64, cx: Cx<'_, '_, N>) {
        if self
            .forwards
            .get(&req)
            .is_some_and(|f| f.tried.last() == Some(&from))
            && let Some(f) = self.forwards.remove(&req)
        {
            cx.cancel_timer(f.timer);
        }
    }

    /// The owner did not take a forwarded request in time: it is treated as
    /// down, like a replica that does not answer, and the next owner is tried.
    pub(crate) fn on_forward_timeout<N: Wire>(
        &mut self,
        req: u64,
        env: &mut Env<'_>,
        cx: Cx<'_, '_, N>,
    ) {
        let Some(f) = self.forwards.remove(&req) else {
            return;
        };
        let Some(&owner) = f.tried.last() else {
            return; // a forward always names the owner it waits for
        };
        if env.detector.suspect(owner, env.replica.cfg, cx) {
            let timeout = env.replica.cfg.request_timeout;
            note(cx, "view", || {
                format!("{owner} is down (did not take a forwarded request within {timeout})")
            });
        }
        let label = f.request.label();
        note(cx, "timeout", || {
            format!("{label}#{req}: {owner} did not take the forwarded request")
        });
        self.forward(f.client, req, f.request, f.tried, env, cx);
    }

    // ---- the coordinator (§4.5, §4.6) ----

    /// Starts a coordinator state machine for a request.
    fn coordinate<N: Wire>(
        &mut self,
        client: ClientId,
        req: u64,
        request: Request,
        env: &mut Env<'_>,
        cx: Cx<'_, '_, N>,
    ) {
        let op_id = *env.next_op;
        *env.next_op += 1;
        let Some(key) = request.key() else {
            return;
        };
        let (mut targets, next_fallback) = choose_targets(env, key);
        let cfg = env.replica.cfg;
        let (key, work, needed) = match request {
            Request::Get { key } => {
                env.replica.stats.coordinated_gets += 1;
                (key, Work::Get, cfg.r)
            }
            Request::Put {
                key,
                value,
                context,
            } => {
                env.replica.stats.coordinated_puts += 1;
                let version = env.replica.new_version(&key, value, &context, req, cx);
                (key, Work::Put { version }, cfg.w)
            }
            Request::Delete { key, context } => {
                // A delete is a put of a tombstone (§4.4's versioning applies unchanged).
                env.replica.stats.coordinated_puts += 1;
                let version = env
                    .replica
                    .new_version(&key, Arc::from(""), &context, req, cx)
                    .tombstone();
                (key, Work::Put { version }, cfg.w)
            }
            Request::Admin(_) => return, // served by the membership mechanism
        };
        if cfg.random_quorums {
            // W (or R) of the N replicas, uniformly at random; all must answer.
            cx.rng().shuffle(&mut targets);
            targets.truncate(needed as usize);
        }
        let me = env.replica.me;
        note(cx, "coordinate", || {
            let list: Vec<String> = targets
                .iter()
                .map(|t| match t.hint {
                    Some(h) => format!("{}(for {h})", t.node),
                    None => t.node.to_string(),
                })
                .collect();
            format!(
                "op{op_id} for {}#{req} from {client} key {key}: replicas [{}], need {needed}",
                match &work {
                    Work::Get => "get",
                    Work::Put { version } if version.is_deleted() => "delete",
                    Work::Put { .. } => "put",
                },
                list.join(" ")
            )
        });
        // The coordinator's own part happens at once.
        for t in &mut targets {
            if t.node == me {
                t.slot = Slot::Answered;
                match &work {
                    Work::Put { version } => env.replica.store_version(&key, version, t.hint, cx),
                    Work::Get => t.versions = env.replica.local_versions(&key),
                }
            }
        }
        for t in targets.iter().filter(|t| t.node != me) {
            cx.send(t.node, request_msg(op_id, &key, &work, t.hint));
        }
        let deadline = cx.set_timer(cfg.op_deadline, Timer::Deadline { op: op_id });
        let round_timer = targets.iter().any(|t| t.slot == Slot::Pending).then(|| {
            cx.set_timer(
                cfg.request_timeout,
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
            #[cfg(feature = "bugs")]
            dups: Vec::new(),
            round_timer,
            repair_timer: None,
            deadline: Some(deadline),
        };
        self.ops.insert(op_id, op);
        self.progress(op_id, env, cx);
    }

    /// Replies to the client once the quorum is reached, and retires the op when nothing is left to do.
    fn progress<N: Wire>(&mut self, op_id: OpTag, env: &mut Env<'_>, cx: Cx<'_, '_, N>) {
        let cfg = env.replica.cfg;
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
                    deleted: version.is_deleted(),
                },
                Work::Get => {
                    let versions = op.reconciled(cfg);
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
            if op.is_get() && cfg.read_repair && op.targets.iter().any(|t| t.slot == Slot::Pending)
            {
                op.repair_timer =
                    Some(cx.set_timer(cfg.read_repair_window, Timer::ReadRepair { op: op_id }));
            }
        }
        if op.replied && op.targets.iter().all(|t| t.slot != Slot::Pending) {
            // Every replica answered or was given up on: the op is done.
            self.finish(op_id, env, cx);
        }
    }

    /// Retires an op: its timers are cancelled, and a get that replied repairs stale replicas.
    fn finish<N: Wire>(&mut self, op_id: OpTag, env: &mut Env<'_>, cx: Cx<'_, '_, N>) {
        let Some(op) = self.ops.remove(&op_id) else {
            return;
        };
        for t in [op.deadline, op.round_timer, op.repair_timer]
            .into_iter()
            .flatten()
        {
            cx.cancel_timer(t);
        }
        if op.is_get() && op.replied && env.replica.cfg.read_repair {
            read_repair(&op, env, cx);
        }
    }

    /// The read-repair window of get `op_id` closed: stop waiting for the
    /// stragglers and repair with what has arrived.
    pub(crate) fn on_repair_window<N: Wire>(
        &mut self,
        op_id: OpTag,
        env: &mut Env<'_>,
        cx: Cx<'_, '_, N>,
    ) {
        if let Some(o) = self.ops.get_mut(&op_id) {
            o.repair_timer = None;
            for t in &mut o.targets {
                if t.slot == Slot::Pending {
                    t.slot = Slot::TimedOut;
                }
            }
            self.finish(op_id, env, cx);
        }
    }

    /// Replicas of `op_id` sent in `round` did not all answer in time: each
    /// late one is marked down, and (with hinted handoff) a fallback from
    /// further along the walk takes its place with a hint naming it.
    pub(crate) fn on_replica_timeout<N: Wire>(
        &mut self,
        op_id: OpTag,
        round: u32,
        env: &mut Env<'_>,
        cx: Cx<'_, '_, N>,
    ) {
        let cfg = env.replica.cfg;
        let hh = cfg.hinted_handoff;
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
        let ring = env.replica.owner.ring.clone();
        let mut walk = ring.walk(&op.key).skip_to(next);
        let mut new_targets = Vec::new();
        for &(_, node, hint) in &late {
            env.replica.stats.replica_timeouts += 1;
            if env.detector.suspect(node, cfg, cx) {
                let timeout = cfg.request_timeout;
                note(cx, "view", || {
                    format!("{node} is down (no answer within {timeout})")
                });
            }
            let mut replacement = None;
            if hh {
                for cand in walk.by_ref() {
                    next += 1;
                    if env.detector.is_up(cand)
                        && !op.targets.iter().any(|t| t.node == cand)
                        && !new_targets.iter().any(|t: &Target| t.node == cand)
                    {
                        replacement = Some(cand);
                        break;
                    }
                }
            }
            let stands_for = hint.unwrap_or(node);
            note(cx, "timeout", || match replacement {
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
        let me = env.replica.me;
        // A coordinator outside the preference list can itself be the next fallback: it serves locally.
        for t in new_targets.iter_mut().filter(|t| t.node == me) {
            t.slot = Slot::Answered;
            match &op.work {
                Work::Put { version } => env.replica.store_version(&op.key, version, t.hint, cx),
                Work::Get => t.versions = env.replica.local_versions(&op.key),
            }
        }
        let Some(op) = self.ops.get_mut(&op_id) else {
            return;
        };
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
                cfg.request_timeout,
                Timer::ReplicaTimeout {
                    op: op_id,
                    round: op.round,
                },
            ));
        }
        op.targets.extend(new_targets);
        self.progress(op_id, env, cx);
    }

    /// `op_id` has run out of time: if it has not replied, it fails.
    pub(crate) fn on_deadline<N: Wire>(
        &mut self,
        op_id: OpTag,
        env: &mut Env<'_>,
        cx: Cx<'_, '_, N>,
    ) {
        let Some(op) = self.ops.get_mut(&op_id) else {
            return;
        };
        op.deadline = None;
        if !op.replied {
            op.replied = true;
            let (got, needed) = (op.answered(), op.needed);
            note(cx, "failed", || {
                format!("op{op_id}: quorum not reached: {got} of {needed} answered")
            });
            let put = !op.is_get();
            let deleted = matches!(&op.work, Work::Put { version } if version.is_deleted());
            let reply = Reply::Failed {
                put,
                deleted,
                got,
                needed,
                op: op_id,
            };
            cx.reply(op.client, op.req, reply);
            #[cfg(feature = "bugs")]
            if crate::bugs::stays_open_after_failing(env.replica.cfg.bug) {
                op.replied = false;
                return;
            }
        }
        self.finish(op_id, env, cx);
    }

    /// A replica's answer to `op_id`: an ack, or a read's versions.
    pub(crate) fn on_answer<N: Wire>(
        &mut self,
        from: NodeId,
        op_id: OpTag,
        versions: Option<Vec<Version>>,
        env: &mut Env<'_>,
        cx: Cx<'_, '_, N>,
    ) {
        let Some(op) = self.ops.get_mut(&op_id) else {
            #[cfg(feature = "bugs")]
            crate::bugs::late_answer(env.replica.cfg.bug, versions.as_ref().map_or(0, Vec::len));
            return;
        };
        let Some(t) = op
            .targets
            .iter_mut()
            .find(|t| t.node == from && t.slot != Slot::Answered)
        else {
            #[cfg(feature = "bugs")]
            if crate::bugs::counts_duplicate(env.replica.cfg.bug)
                && op.targets.iter().any(|t| t.node == from)
            {
                op.dups.push(from);
                self.progress(op_id, env, cx);
            }
            return;
        };
        t.slot = Slot::Answered;
        if let Some(v) = versions {
            t.versions = v;
        }
        self.progress(op_id, env, cx);
    }
}

/// Sends the reconciled versions to every owner that answered with something older (§5).
fn read_repair<N: Wire>(op: &Op, env: &mut Env<'_>, cx: Cx<'_, '_, N>) {
    let newest = op.reconciled(env.replica.cfg);
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
        env.replica.stats.read_repairs += 1;
        let key = &op.key;
        note(cx, "read-repair", || {
            format!("{} is stale for key {key}", t.node)
        });
        let to = t.node;
        #[cfg(feature = "bugs")]
        let to = crate::bugs::repair_target(env.replica.cfg.bug, to, env.replica.cfg.nodes);
        if to == env.replica.me {
            env.replica.merge_into_store(&op.key, &newest, cx);
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

#[cfg(test)]
mod tests {
    use super::{Op, Slot, Target, Work};
    use crate::config::ClusterConfig;
    use crate::ring::Ring;
    use sim_core::{ClientId, NodeId};

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
            #[cfg(feature = "bugs")]
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
