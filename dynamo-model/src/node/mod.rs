//! The Dynamo node: one sans-IO state machine, its state split by mechanism
//! and by what survives a crash.
//!
//! Each mechanism keeps its state in a type of its own, in its own file,
//! with the logic that changes it and local `debug_assert!`s of its
//! invariants:
//!
//! | file | state | mechanism |
//! |---|---|---|
//! | `store.rs` | [`Store`] | versions per key, write counters, tombstone purge (§4.4) |
//! | `handoff.rs` | [`HintLog`] | hinted handoff: hints, revisions, which go each round (§4.6) |
//! | `replica.rs` | `Ownership`, `Rounds` | the data path every mechanism writes through; arming its rounds |
//! | `coordinator.rs` | `Coordinator` | client requests, forwarding, quorums, fallbacks, read repair (§4.5, §5) |
//! | `gossip.rs` | `FailureDetector` | the local view of which peers are up, heartbeat gossip (§4.8) |
//! | `anti_entropy.rs` | `AntiEntropy` | Merkle-tree comparisons with replica peers (§4.7) |
//! | `membership_change.rs` | `MemberView` | joins and leaves, the membership history (§4.8.1, §4.9) |
//!
//! The node is [`Durable`] (what survives a crash unless the disk is wiped)
//! plus [`Volatile`] (what a crash loses); `crash()` ([`sim_core::Node::crash`]) replaces
//! the volatile part whole. `handle` only dispatches. Imports flow one way:
//! this file knows every mechanism, and no mechanism knows the node.
//!
//! The node is a value: `Clone`, and cheap to clone (the store, the hints,
//! the membership, the ring and the configuration are shared copy on
//! write), so an explorer can branch from any state.

mod anti_entropy;
mod coordinator;
mod cx;
mod gossip;
mod handoff;
mod membership_change;
mod replica;
mod stats;
mod store;

pub use handoff::Hint;
pub use stats::NodeStats;

use crate::config::ClusterConfig;
use crate::heartbeat::Beat;
use crate::membership::{Member, Membership, initial_membership};
use crate::msg::{Admin, Msg, Note, OpTag, Reply, Request, Timer};
use crate::ring::{Key, Ring};
use crate::version::{Actor, Version};
use anti_entropy::AntiEntropy;
use coordinator::{Coordinator, Env};
use cx::note;
use gossip::FailureDetector;
use handoff::HintLog;
use membership_change::MemberView;
use replica::{Ownership, Replica, Rounds};
use sim_core::{ClientId, Context, Input, NodeId};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::Store;

/// A Dynamo storage node.
#[derive(Clone, Debug)]
pub struct DynamoNode {
    id: NodeId,
    cfg: Arc<ClusterConfig>,
    durable: Durable,
    volatile: Volatile,
    /// Counters about this node: measurements, not state (a crash keeps them).
    pub stats: NodeStats,
}

/// Hashes the node's state: its id, durable and volatile parts. Not its
/// configuration, which every state of one cluster shares, nor its stats,
/// which are measurements. With [`sim_core::digest::digest`] this gives the
/// stable 128-bit digest the explorer keeps in its visited set.
impl std::hash::Hash for DynamoNode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.durable.hash(state);
        self.volatile.hash(state);
    }
}

/// What survives a crash, unless the disk is wiped.
#[derive(Clone, Debug, Hash)]
struct Durable {
    store: Store,
    hints: HintLog,
    /// The ring of this node's own membership view.
    owner: Ownership,
    members: MemberView,
    /// The disk's epoch; `None` after a wipe until the node starts and picks a new one.
    epoch: Option<u32>,
    /// The incarnation its heartbeats carry, bumped at every start; `None`
    /// after a wipe until the node starts and derives one from its clock.
    incarnation: Option<i64>,
    /// The next coordinator op id (see `coordinator::Env::next_op`).
    next_op: OpTag,
}

/// Every mechanism's state, borrowed apart.
struct Parts<'a> {
    replica: Replica<'a>,
    members: &'a mut MemberView,
    detector: &'a mut FailureDetector,
    coordinator: &'a mut Coordinator,
    anti_entropy: &'a mut AntiEntropy,
    next_op: &'a mut OpTag,
}

/// What a crash loses.
#[derive(Clone, Debug, Hash)]
struct Volatile {
    detector: FailureDetector,
    coordinator: Coordinator,
    rounds: Rounds,
    anti_entropy: AntiEntropy,
}

impl Volatile {
    /// The volatile state of a node that has just come up: every peer
    /// believed up, nothing in flight. A node that has seen a membership
    /// change sweeps its store at its first hint round.
    fn fresh(id: NodeId, nodes: usize, incarnation: i64, moved: bool) -> Volatile {
        Volatile {
            detector: FailureDetector::new(id, nodes, incarnation),
            coordinator: Coordinator::default(),
            rounds: Rounds {
                sweep_due: moved,
                ..Rounds::default()
            },
            anti_entropy: AntiEntropy::default(),
        }
    }
}

impl DynamoNode {
    /// Node `id` of a cluster configured by `cfg`, with the ring `ring`.
    pub fn new(id: NodeId, cfg: Arc<ClusterConfig>, ring: Arc<Ring>) -> DynamoNode {
        let members = initial_membership(&ring, cfg.nodes);
        DynamoNode::with_members(id, cfg, ring, members)
    }

    /// A node whose starting membership is `members` (shared by every node of a cluster).
    pub fn with_members(
        id: NodeId,
        cfg: Arc<ClusterConfig>,
        ring: Arc<Ring>,
        members: Membership,
    ) -> DynamoNode {
        let nodes = cfg.nodes as usize;
        DynamoNode {
            id,
            volatile: Volatile::fresh(id, nodes, 0, false),
            durable: Durable {
                store: Store::default(),
                hints: HintLog::default(),
                owner: Ownership { ring, moved: false },
                members: MemberView::new(members),
                epoch: Some(0),
                incarnation: Some(0),
                next_op: 1,
            },
            cfg,
            stats: NodeStats::default(),
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The versions this node stores for `key` (not counting hints).
    pub fn versions(&self, key: &Key) -> &[Version] {
        self.durable.store.get(key).map_or(&[], Vec::as_slice)
    }

    /// Every key this node stores, with its versions (not counting hints).
    pub fn store(&self) -> &BTreeMap<Key, Vec<Version>> {
        self.durable.store.map()
    }

    /// Hints held, keyed by (intended node, key).
    pub fn hints(&self) -> &BTreeMap<(NodeId, Key), Hint> {
        self.durable.hints.map()
    }

    /// Whether this node believes `n` is up.
    pub fn believes_up(&self, n: NodeId) -> bool {
        self.volatile.detector.is_up(n)
    }

    /// Coordinator state machines in flight.
    pub fn ops_in_flight(&self) -> usize {
        self.volatile.coordinator.in_flight()
    }

    /// Whether this node has handed everything over and stopped (it ignores every input).
    pub fn has_left(&self) -> bool {
        self.durable.members.has_left(self.id)
    }

    /// This node's membership view: every node's status, tokens and version.
    pub fn members(&self) -> &[Member] {
        &self.durable.members.members
    }

    /// Whether this node has ever held `key` as a hint, or offered it away
    /// after a membership change.
    pub fn moved_key(&self, key: &Key) -> bool {
        self.durable.hints.held_once(key)
    }

    /// The ring as this node sees it.
    pub fn ring(&self) -> &Ring {
        &self.durable.owner.ring
    }

    /// Every mechanism's state, borrowed at once (each field apart, so a
    /// handler can hand one mechanism the others it needs).
    fn parts(&mut self) -> Parts<'_> {
        Parts {
            replica: Replica {
                me: self.id,
                cfg: &self.cfg,
                store: &mut self.durable.store,
                hints: &mut self.durable.hints,
                owner: &mut self.durable.owner,
                rounds: &mut self.volatile.rounds,
                epoch: self.durable.epoch,
                requests_held: !self.volatile.coordinator.is_idle(),
                stats: &mut self.stats,
            },
            members: &mut self.durable.members,
            detector: &mut self.volatile.detector,
            coordinator: &mut self.volatile.coordinator,
            anti_entropy: &mut self.volatile.anti_entropy,
            next_op: &mut self.durable.next_op,
        }
    }

    /// The data path, borrowed.
    fn replica(&mut self) -> Replica<'_> {
        self.parts().replica
    }

    /// The coordinator, and what it needs of the rest of the node.
    fn coordinator(&mut self) -> (&mut Coordinator, Env<'_>) {
        let p = self.parts();
        let env = Env {
            leaving: p.members.is_leaving(p.replica.me),
            replica: p.replica,
            detector: p.detector,
            next_op: p.next_op,
        };
        (p.coordinator, env)
    }

    /// The membership mechanism, the data path and anti-entropy's cursor (which a ring change clamps).
    fn membership(&mut self) -> (&mut MemberView, Replica<'_>, &mut AntiEntropy) {
        let p = self.parts();
        (p.members, p.replica, p.anti_entropy)
    }

    /// A message from `from` shows it is up: if it was believed down, it is
    /// up now, and (with hinted handoff) gets the hints held for it.
    fn heard_from(&mut self, from: NodeId, cx: &mut Context<'_, Self>) {
        if from != self.id && self.volatile.detector.mark_up(from) {
            note(cx, "view", || format!("{from} is up (heard from it)"));
            if self.cfg.hinted_handoff {
                let p = self.parts();
                let detector = &*p.detector;
                p.replica
                    .deliver_hints(Some(from), |n| detector.is_up(n), cx);
            }
        }
    }

    /// The hint-delivery round: a due sweep of keys this node no longer
    /// owns, hints for nodes that are no longer members sent to the key's
    /// owners, then every hint to its target; again while any are held.
    fn hint_round(&mut self, cx: &mut Context<'_, Self>) {
        let p = self.parts();
        let mut replica = p.replica;
        replica.rounds.hints_armed = false;
        if replica.rounds.sweep_due {
            membership_change::sweep_unowned(&mut replica, cx);
        }
        if replica.owner.moved {
            // A hint taken for a node this node knows has left (from a
            // coordinator with an older view) goes to the key's owners.
            p.members.retarget_hints(&mut replica, cx);
        }
        let detector = &*p.detector;
        replica.deliver_hints(None, |n| detector.is_up(n), cx);
        replica.arm_hint_round(cx);
    }

    /// A hint's target acknowledged revision `rev` of its hint for `key`.
    fn on_handoff_ack(&mut self, from: NodeId, key: Key, rev: u64, cx: &mut Context<'_, Self>) {
        let slot = (from, key);
        #[cfg(feature = "bugs")]
        let slot = crate::bugs::acked_hint(
            self.cfg.bug,
            self.durable.hints.map().iter().map(|(s, h)| (s, h.rev)),
            slot,
            rev,
        );
        if self.durable.hints.acknowledge(&slot, rev) {
            self.stats.hints_delivered += 1;
            note(cx, "handoff", || {
                format!("{} acknowledged key {}; hint deleted", slot.0, slot.1)
            });
            let (members, mut replica, ae) = self.membership();
            members.finish_leave_if_done(&mut replica, ae, cx);
        }
    }

    /// A node that has left only keeps gossiping membership (so every node
    /// learns that it left even when its announcement to the seeds was
    /// lost), and may be asked to join again (§4.8.1).
    fn handle_left(&mut self, input: Input<Self>, cx: &mut Context<'_, Self>) {
        match input {
            Input::Timer {
                timer: Timer::Gossip,
                ..
            } => self.gossip_round(cx),
            Input::Request {
                client,
                req,
                body: Request::Admin(admin @ Admin::Join { .. }),
            } => self.on_admin(client, req, admin, cx),
            Input::Message {
                from,
                msg: Msg::Members { members, reply },
            } => self.on_members(from, &members, reply, cx),
            _ => {}
        }
    }

    /// An administrator's join or leave request.
    fn on_admin(&mut self, client: ClientId, req: u64, admin: Admin, cx: &mut Context<'_, Self>) {
        let (members, mut replica, ae) = self.membership();
        members.on_admin(client, req, admin, &mut replica, ae, cx);
    }

    /// Another node's membership history.
    fn on_members(
        &mut self,
        from: NodeId,
        theirs: &[Member],
        reply: bool,
        cx: &mut Context<'_, Self>,
    ) {
        let (members, mut replica, ae) = self.membership();
        members.on_members(from, theirs, reply, &mut replica, ae, cx);
    }

    /// A peer's heartbeats: the view merges them (answering a gossip), the
    /// incarnation may jump past a forgotten one, and a peer found up again
    /// gets the hints held for it.
    fn on_gossip(
        &mut self,
        from: NodeId,
        beats: &[Beat],
        answer: bool,
        cx: &mut Context<'_, Self>,
    ) {
        let revived = self.volatile.detector.on_gossip(from, beats, answer, cx);
        self.durable.incarnation = Some(self.volatile.detector.incarnation());
        if self.cfg.hinted_handoff {
            for n in revived {
                let p = self.parts();
                let detector = &*p.detector;
                p.replica.deliver_hints(Some(n), |x| detector.is_up(x), cx);
            }
        }
    }

    /// A gossip round, with the membership history once it has changed.
    fn gossip_round(&mut self, cx: &mut Context<'_, Self>) {
        let p = self.parts();
        let members = p.replica.owner.moved.then_some(&p.members.members);
        p.detector.gossip_round(p.replica.cfg, members, cx);
    }

    fn on_timer(&mut self, timer: Timer, cx: &mut Context<'_, Self>) {
        match timer {
            Timer::ReplicaTimeout { op, round } => {
                let (c, mut env) = self.coordinator();
                c.on_replica_timeout(op, round, &mut env, cx);
            }
            Timer::Deadline { op } => {
                let (c, mut env) = self.coordinator();
                c.on_deadline(op, &mut env, cx);
            }
            Timer::ReadRepair { op } => {
                let (c, mut env) = self.coordinator();
                c.on_repair_window(op, &mut env, cx);
            }
            Timer::Forward { req } => {
                let (c, mut env) = self.coordinator();
                c.on_forward_timeout(req, &mut env, cx);
            }
            Timer::Gossip => self.gossip_round(cx),
            Timer::Retry => self.volatile.detector.retry_round(&self.cfg, cx),
            Timer::HintDelivery => self.hint_round(cx),
            Timer::AntiEntropy => {
                let p = self.parts();
                p.anti_entropy.round(&mut { p.replica }, cx);
            }
            Timer::Purge => self.replica().purge_tombstones(cx),
        }
    }

    fn on_message(&mut self, from: NodeId, msg: Msg, cx: &mut Context<'_, Self>) {
        self.heard_from(from, cx);
        match msg {
            Msg::Forward {
                client,
                req,
                request,
            } => {
                cx.send(from, Msg::ForwardAck { req });
                let (c, mut env) = self.coordinator();
                c.on_request(client, req, request, true, &mut env, cx);
            }
            Msg::ForwardAck { req } => self.volatile.coordinator.on_forward_ack(from, req, cx),
            Msg::Replicate {
                op,
                key,
                version,
                hint,
            } => {
                self.replica().store_version(&key, &version, hint, cx);
                cx.send(from, Msg::ReplicateAck { op });
            }
            Msg::ReplicateAck { op } => {
                let (c, mut env) = self.coordinator();
                c.on_answer(from, op, None, &mut env, cx);
            }
            Msg::Read { op, key } => {
                let versions = self.replica().local_versions(&key);
                #[cfg(feature = "bugs")]
                let versions = crate::bugs::read_reply(self.cfg.bug, versions);
                cx.send(from, Msg::ReadReply { op, versions });
            }
            Msg::ReadReply { op, versions } => {
                let (c, mut env) = self.coordinator();
                c.on_answer(from, op, Some(versions), &mut env, cx);
            }
            Msg::Repair { key, versions } => {
                #[cfg(feature = "bugs")]
                if crate::bugs::drops_repair(self.cfg.bug) {
                    return;
                }
                self.replica().merge_into_store(&key, &versions, cx);
            }
            Msg::Handoff { key, versions, rev } => {
                self.replica().merge_into_store(&key, &versions, cx);
                cx.send(from, Msg::HandoffAck { key, rev });
            }
            Msg::HandoffAck { key, rev } => self.on_handoff_ack(from, key, rev, cx),
            Msg::Gossip { beats } => self.on_gossip(from, &beats, true, cx),
            Msg::GossipReply { beats } => self.on_gossip(from, &beats, false, cx),
            Msg::Members { members, reply } => self.on_members(from, &members, reply, cx),
            Msg::MerkleHashes {
                range,
                level,
                hashes,
            } => AntiEntropy::on_hashes(&self.replica(), from, range, level, &hashes, cx),
            Msg::MerkleKeys {
                range,
                leaves,
                entries,
                reply,
            } => AntiEntropy::on_keys(&mut self.replica(), from, range, leaves, entries, reply, cx),
        }
    }
}

impl sim_core::Node for DynamoNode {
    type Msg = Msg;
    type Timer = Timer;
    type Request = Request;
    type Reply = Reply;
    type Note = Note;

    fn start(&mut self, cx: &mut Context<'_, Self>) {
        if self.durable.epoch.is_none() {
            // An empty disk: come back as a new actor, so no forgotten counter is reused.
            let epoch = (cx.clock_us() / 1_000).clamp(1, i64::from(u32::MAX)) as u32;
            self.durable.epoch = Some(epoch);
            let me = self.id;
            note(cx, "epoch", || {
                format!(
                    "{me} starts with an empty disk as {}",
                    Actor { node: me, epoch }
                )
            });
        }
        // Every start is a new incarnation. A wiped disk forgot the last one, so
        // the clock stands in; should it lag, gossip relaying a beat of the
        // forgotten incarnation makes the view jump past it.
        let incarnation = match self.durable.incarnation {
            Some(i) => i + 1,
            None => cx.clock_us().max(1),
        };
        self.durable.incarnation = Some(incarnation);
        self.volatile.detector =
            FailureDetector::new(self.id, self.cfg.nodes as usize, incarnation);
        // Periodic work starts at a random phase, so nodes do not all act at once.
        let phase = |cx: &mut Context<'_, Self>, period: sim_core::SimDuration| {
            sim_core::SimDuration(1 + cx.rng().below(period.as_us().max(1)))
        };
        if self.cfg.gossip {
            let p = phase(cx, self.cfg.gossip_interval);
            cx.set_timer(p, Timer::Gossip);
        }
        self.volatile.rounds.hints_armed = false;
        self.replica().arm_hint_round(cx);
        self.volatile.rounds.purge_armed = false;
        self.replica().arm_purge(cx);
        if self.cfg.anti_entropy {
            let pairs = self.durable.owner.ring.anti_entropy_pair_count(self.id);
            self.volatile.anti_entropy.start(pairs, cx);
            let p = phase(cx, self.cfg.anti_entropy_interval);
            cx.set_timer(p, Timer::AntiEntropy);
        }
    }

    fn handle(&mut self, input: Input<Self>, cx: &mut Context<'_, Self>) {
        if self.has_left() {
            return self.handle_left(input, cx);
        }
        match input {
            Input::Request {
                client,
                req,
                body: Request::Admin(admin),
            } => self.on_admin(client, req, admin, cx),
            Input::Request { client, req, body } => {
                let (c, mut env) = self.coordinator();
                c.on_request(client, req, body, false, &mut env, cx);
            }
            Input::Timer { timer, .. } => self.on_timer(timer, cx),
            Input::Message { from, msg } => self.on_message(from, msg, cx),
        }
        if self.durable.members.is_leaving(self.id) {
            // The last request it held may have just ended.
            let (members, mut replica, ae) = self.membership();
            members.finish_leave_if_done(&mut replica, ae, cx);
        }
    }

    fn crash(&mut self, wipe_disk: bool) {
        let moved = self.durable.owner.moved;
        self.volatile = Volatile::fresh(self.id, self.cfg.nodes as usize, 0, moved);
        if wipe_disk {
            let d = &mut self.durable;
            d.store.wipe();
            d.hints.wipe();
            // The membership history is on the disk too: back to the configured one.
            let tokens = d.members.wipe();
            d.owner = Ownership {
                ring: Arc::new(Ring::for_cluster(&self.cfg, tokens)),
                moved: false,
            };
            d.epoch = None;
            d.incarnation = None;
        }
    }
}

#[cfg(test)]
mod digest_tests {
    use super::{ClusterConfig, DynamoNode, FailureDetector, Key, Ring, Version};
    use sim_core::NodeId;
    use sim_core::digest::digest;
    use std::sync::Arc;

    fn node() -> DynamoNode {
        let cfg = Arc::new(ClusterConfig::default());
        let ring = Arc::new(Ring::build(
            &cfg,
            &mut sim_core::SimRng::new(1, sim_core::Stream::Setup),
        ));
        DynamoNode::new(NodeId(1), cfg, ring)
    }

    #[test]
    fn equal_states_digest_equal() {
        let (a, b) = (node(), node());
        assert_eq!(digest(&a), digest(&b));
        assert_eq!(digest(&a), digest(&a.clone()));
        // Measurements are not state.
        let mut c = node();
        c.stats.clock_truncations += 1;
        assert_eq!(digest(&a), digest(&c));
    }

    #[test]
    fn a_change_to_any_field_changes_the_digest() {
        let base = digest(&node());
        let key = Key::md5("k");
        let version = Version {
            value: Arc::from("v"),
            clock: crate::VClock::new(),
            dot: None,
            stamp: crate::Stamp {
                clock_us: 1,
                node: NodeId(0),
                tombstone: false,
            },
            write: 1,
        };
        type Change<'a> = Box<dyn Fn(&mut DynamoNode) + 'a>;
        let changes: Vec<(&str, Change)> = vec![
            ("id", Box::new(|n| n.id = NodeId(2))),
            (
                "store versions",
                Box::new(|n| {
                    n.durable.store.merge(
                        &key,
                        std::slice::from_ref(&version),
                        crate::Versioning::VectorClock,
                    );
                }),
            ),
            ("store issued", Box::new(|n| n.durable.store.issue(&key, 3))),
            (
                "hints",
                Box::new(|n| {
                    n.durable
                        .hints
                        .hold(NodeId(0), &key, &version, crate::Versioning::VectorClock);
                }),
            ),
            (
                "ownership moved",
                Box::new(|n| n.durable.owner.moved = true),
            ),
            ("epoch", Box::new(|n| n.durable.epoch = Some(7))),
            ("incarnation", Box::new(|n| n.durable.incarnation = None)),
            ("next op", Box::new(|n| n.durable.next_op = 9)),
            (
                "detector",
                Box::new(|n| {
                    n.volatile.detector = FailureDetector::new(NodeId(1), 3, 5);
                }),
            ),
            (
                "rounds: hints armed",
                Box::new(|n| n.volatile.rounds.hints_armed = true),
            ),
            (
                "rounds: purge armed",
                Box::new(|n| n.volatile.rounds.purge_armed = true),
            ),
            (
                "rounds: sweep due",
                Box::new(|n| n.volatile.rounds.sweep_due = true),
            ),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (name, change) in changes {
            let mut n = node();
            change(&mut n);
            let d = digest(&n);
            assert_ne!(d, base, "changing {name} left the digest as it was");
            assert!(
                seen.insert(d),
                "changing {name} gave another change's digest"
            );
        }
    }
}
