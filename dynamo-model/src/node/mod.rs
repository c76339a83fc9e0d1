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

mod anti_entropy;
mod coordinator;
mod gossip;
mod handoff;
mod membership_change;
mod replica;

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
    /// Keys whose tombstones the purge dropped.
    pub tombstones_purged: u64,
    /// Keys this node stopped owning and offered to their new owners (§4.9).
    pub keys_transferred: u64,
    /// Membership changes this node learned (its own included).
    pub membership_changes: u64,
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
    /// Whether a tombstone-purge timer is pending; it runs only while the store holds tombstones.
    purge_timer: bool,
    /// The next (range, peer) pair anti-entropy compares.
    ae_cursor: usize,
    /// Durable: the membership history this node knows (§4.8.1); its ring
    /// (`ring`) is built from it.
    members: crate::membership::Membership,
    /// The membership the configuration starts with, for a wiped disk.
    initial_members: crate::membership::Membership,
    /// Whether this node has seen a membership change: from then on it
    /// offers keys it no longer owns to their owners, and gossips membership.
    membership_moved: bool,
    /// Keys this node has held as a hint or offered away after a membership
    /// change: only the checkers read it (such a node may rightly answer a
    /// get of the key with nothing, when the get's coordinator's view has it
    /// as an owner: a fallback then, or an owner since).
    moved_keys: std::collections::BTreeSet<Key>,
    /// Volatile: a key this node does not own reached its store; the next
    /// hint-delivery round offers it on.
    sweep_due: bool,
    pub stats: NodeStats,
}

impl DynamoNode {
    pub fn new(id: NodeId, cfg: Arc<ClusterConfig>, ring: Arc<Ring>) -> DynamoNode {
        let members = crate::membership::initial_membership(&ring, cfg.nodes);
        DynamoNode::with_members(id, cfg, ring, members)
    }

    /// A node whose starting membership is `members` (shared by every node of a cluster).
    pub fn with_members(
        id: NodeId,
        cfg: Arc<ClusterConfig>,
        ring: Arc<Ring>,
        members: crate::membership::Membership,
    ) -> DynamoNode {
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
            purge_timer: false,
            ae_cursor: 0,
            initial_members: members.clone(),
            members,
            membership_moved: false,
            sweep_due: false,
            moved_keys: std::collections::BTreeSet::new(),
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
fn reconciled(op: &Op, cfg: &ClusterConfig) -> Vec<Version> {
    let answers = || {
        op.targets
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
        self.purge_timer = false;
        self.arm_purge_timer(cx);
        if self.cfg.anti_entropy {
            let pairs = self.anti_entropy_pairs().len();
            self.ae_cursor = if pairs > 0 { cx.rng().index(pairs) } else { 0 };
            let p = phase(cx, self.cfg.anti_entropy_interval);
            cx.set_timer(p, Timer::AntiEntropy);
        }
    }

    fn handle(&mut self, input: Input<Self>, cx: &mut Context<'_, Self>) {
        if self.has_left() {
            // Handed everything over and stopped serving: it only keeps
            // gossiping membership, so every node learns that it left even
            // when its announcement to the seeds was lost.
            match input {
                Input::Timer {
                    timer: Timer::Gossip,
                    ..
                } => self.gossip_round(cx),
                // Nodes can be added back (§4.8.1): a left node may join again.
                Input::Request {
                    client,
                    req,
                    body: Request::Admin(admin @ crate::msg::Admin::Join { .. }),
                } => self.on_admin(client, req, admin, cx),
                Input::Message {
                    from,
                    msg: Msg::Members { members, reply },
                } => self.on_members(from, &members, reply, cx),
                _ => {}
            }
            return;
        }
        match input {
            Input::Request {
                client,
                req,
                body: Request::Admin(admin),
            } => self.on_admin(client, req, admin, cx),
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
                    if self.sweep_due {
                        self.sweep_unowned(cx);
                    }
                    if self.membership_moved {
                        // A hint taken for a node this node knows has left (from a
                        // coordinator with an older view) goes to the key's owners.
                        self.retarget_hints(cx);
                    }
                    self.deliver_hints(None, cx);
                    self.arm_hint_timer(cx);
                }
                Timer::AntiEntropy => self.anti_entropy_round(cx),
                Timer::Purge => self.purge_tombstones(cx),
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
                        let versions = self.local_versions(&key);
                        #[cfg(feature = "bugs")]
                        let versions = crate::bugs::read_reply(self.cfg.bug, versions);
                        cx.send(from, Msg::ReadReply { op, versions });
                    }
                    Msg::ReadReply { op, versions } => self.on_answer(from, op, Some(versions), cx),
                    Msg::Repair { key, versions } => {
                        #[cfg(feature = "bugs")]
                        if crate::bugs::drops_repair(self.cfg.bug) {
                            return;
                        }
                        self.merge_into_store(&key, &versions, cx);
                    }
                    Msg::Handoff { key, versions, rev } => {
                        self.merge_into_store(&key, &versions, cx);
                        cx.send(from, Msg::HandoffAck { key, rev });
                    }
                    Msg::HandoffAck { key, rev } => {
                        let slot = (from, key);
                        #[cfg(feature = "bugs")]
                        let slot = crate::bugs::acked_hint(
                            self.cfg.bug,
                            self.hints.iter().map(|(s, h)| (s, h.rev)),
                            slot,
                            rev,
                        );
                        if self.hints.get(&slot).is_some_and(|h| h.rev == rev) {
                            self.hints.remove(&slot);
                            self.stats.hints_delivered += 1;
                            Self::note(cx, "handoff", || {
                                format!("{} acknowledged key {}; hint deleted", slot.0, slot.1)
                            });
                            self.finish_leave_if_done(cx);
                        }
                    }
                    Msg::Gossip { beats } => {
                        self.merge_beats(&beats, cx);
                        let reply = self.view.beats();
                        cx.send(from, Msg::GossipReply { beats: reply });
                    }
                    Msg::GossipReply { beats } => self.merge_beats(&beats, cx),
                    Msg::Members { members, reply } => self.on_members(from, &members, reply, cx),
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
        // The next start sweeps if it must: a restart arms hint delivery when hints are held.
        self.sweep_due = self.membership_moved;
        self.forwards.clear();
        self.view = View::new(self.id, self.cfg.nodes as usize, 0);
        if wipe_disk {
            self.store.clear();
            self.hints.clear();
            self.issued.clear();
            // The membership history is on the disk too: back to the configured one.
            self.members = self.initial_members.clone();
            self.ring = Arc::new(Ring::for_cluster(
                &self.cfg,
                crate::membership::ring_tokens(&self.members),
            ));
            self.membership_moved = false;
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
