//! One state of a search: a holding cluster with its clients, what each
//! client has issued, the budgets used and the faults along the path; the
//! actions enabled in it, and applying one.

use crate::scope::{ALWAYS_TIMERS, Budgets, Scope};
use dynamo_model::DynamoNode;
use dynamo_observer::{Cluster, OpKind, Outcome, PlannedOp};
use sim_core::digest::{Digest, StableHasher};
use sim_core::{ClientId, Fault, Held, NodeId, SimTime, item_digest};
use std::hash::Hash;
use std::sync::Arc;

/// One action the explorer can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Client `client` issues its next operation.
    Issue {
        /// The client's index in the scope.
        client: u32,
    },
    /// A held message or request is delivered, or a held timer fires.
    Release {
        /// The held item (copies of one message are one item).
        item: Digest,
    },
    /// A held message or request is lost.
    Drop {
        /// The held item.
        item: Digest,
    },
    /// A held message gets a second copy.
    Duplicate {
        /// The held item.
        item: Digest,
    },
    /// A node crashes, its disk wiped or not.
    Crash {
        /// The node.
        node: NodeId,
        /// Whether its durable state is lost too.
        wipe: bool,
    },
    /// A crashed node restarts.
    Restart {
        /// The node.
        node: NodeId,
    },
    /// A node is cut off from every other node.
    Isolate {
        /// The node.
        node: NodeId,
    },
    /// The partition heals.
    Heal,
    /// Time passes to the next queued event (a client gives up waiting).
    Wait,
}

/// What a step did, as a scenario step names it: held items by their
/// kind, ends and rank among equal ones waiting at that moment.
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    /// A client issued an operation.
    Op {
        /// The client.
        client: ClientId,
        /// The scope's client index.
        index: u32,
        /// Which of its operations.
        op: u32,
        /// The op step (index among the path's op steps) whose get's context a put carries.
        context_from: Option<usize>,
    },
    /// A message was delivered.
    Deliver {
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
        /// The message kind.
        kind: &'static str,
        /// Its rank among held messages of that kind on that link.
        nth: usize,
    },
    /// A client request reached its node.
    Request {
        /// The client.
        client: ClientId,
        /// The node.
        node: NodeId,
        /// Its rank among that client's held requests to that node.
        nth: usize,
    },
    /// A timer fired.
    Fire {
        /// The node.
        node: NodeId,
        /// The timer's label.
        label: &'static str,
        /// Its rank among that node's held timers of that label.
        nth: usize,
        /// A request's timer (a timeout, the read-repair window) that fired
        /// while messages were still in flight: as if they were slower than
        /// the timeout, a timing fault.
        early: bool,
    },
    /// A message was lost.
    DropMsg {
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
        /// The message kind.
        kind: &'static str,
        /// Its rank, as for a delivery.
        nth: usize,
    },
    /// A client request was lost.
    DropRequest {
        /// The client.
        client: ClientId,
        /// The node.
        node: NodeId,
        /// Its rank, as for a delivery.
        nth: usize,
    },
    /// A message was copied.
    Duplicate {
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
        /// The message kind.
        kind: &'static str,
        /// Its rank, as for a delivery.
        nth: usize,
    },
    /// A fault: a crash, restart, partition or heal.
    Fault(Fault),
    /// Time passed.
    Wait,
    /// From here on the network delivers by latency and timers fire on
    /// time: the ordinary simulator (how a terminal state is completed).
    RunFreely,
}

/// One step of a path: when it happened and what it did.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The simulated time of the step (a timer's due time, when it moved the clock).
    pub at: SimTime,
    /// What it did.
    pub kind: StepKind,
}

/// A path, shared by the states along it.
#[derive(Debug)]
pub struct PathNode {
    /// The last step.
    pub step: Step,
    /// The path before it.
    pub parent: Option<Arc<PathNode>>,
}

/// The steps of a path, first to last.
pub fn steps_of(path: &Option<Arc<PathNode>>) -> Vec<Step> {
    let mut out = Vec::new();
    let mut at = path.clone();
    while let Some(node) = at {
        out.push(node.step.clone());
        at = node.parent.clone();
    }
    out.reverse();
    out
}

/// A fault along the path, for the checkers' view of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Happened {
    /// A node crashed (its disk wiped or not).
    Crash(NodeId, bool),
    /// A node restarted.
    Restart(NodeId),
    /// A node was cut off.
    Isolate(NodeId),
    /// The partition healed.
    Heal,
    /// A message or request was dropped or duplicated, or a request's
    /// timer fired while messages were in flight.
    Network,
}

/// One state of the search.
pub struct State {
    /// The cluster and its clients.
    pub cluster: Cluster,
    /// Per scope client: how many of its operations it has issued.
    pub next_op: Vec<u32>,
    /// Per scope client: the plan index of its last operation.
    pub last_plan: Vec<Option<usize>>,
    /// Per scope client: its latest get of each key (key, plan index).
    pub last_get: Vec<Vec<(dynamo_model::Key, usize)>>,
    /// Operations planned so far (plan indices are in this order).
    pub plans: usize,
    /// Budgets used along the path.
    pub used: Budgets,
    /// Firings of counted timers along the path, by label.
    pub fired: Vec<(&'static str, u32)>,
    /// The node cut off now, if any.
    pub isolated: Option<NodeId>,
    /// Faults along the path, with when.
    pub log: Vec<(SimTime, Happened)>,
    /// The digest of each held item, in the cluster's order.
    held: Vec<Digest>,
    /// The path that reached this state.
    pub path: Option<Arc<PathNode>>,
    /// Its length.
    pub depth: u32,
}

/// What applying an action told about it: the node it acted on, and
/// whether it touched what every other action reads (the clients, the
/// clock, the network's faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Footprint {
    /// The node whose state it changed, if just one.
    pub node: Option<NodeId>,
    /// The held item it acted on, if any.
    pub item: Option<Digest>,
    /// Whether it is dependent with every other action: it answered a
    /// client (the write-quorum invariant then looks at every node), moved
    /// the clock, cut or healed links, or let time pass.
    pub global: bool,
    /// Whether it changed what the clients have issued (an operation
    /// issued): dependent with every other such action.
    pub clients: bool,
    /// Whether it used a shared budget (drops, duplicates, a counted timer).
    pub budget: Option<u8>,
}

impl Footprint {
    /// Whether two actions, each enabled in one state, commute there and
    /// neither disables the other.
    pub fn independent(&self, other: &Footprint) -> bool {
        if self.global || other.global || (self.clients && other.clients) {
            return false;
        }
        if self.item.is_some() && self.item == other.item {
            return false;
        }
        if self.budget.is_some() && self.budget == other.budget {
            return false;
        }
        match (self.node, other.node) {
            (Some(a), Some(b)) => a != b,
            _ => true,
        }
    }
}

impl State {
    /// The state a scope starts in: its cluster, built holding, after the nodes' start-up.
    pub fn initial(scope: &Scope, trace: bool) -> State {
        let cluster = Cluster::build_holding(&scope.plan, scope.seed, trace);
        let n = scope.clients.len();
        State {
            held: cluster.held().iter().map(item_digest).collect(),
            cluster,
            next_op: vec![0; n],
            last_plan: vec![None; n],
            last_get: vec![Vec::new(); n],
            plans: 0,
            used: Budgets::default(),
            fired: Vec::new(),
            isolated: None,
            log: Vec::new(),
            path: None,
            depth: 0,
        }
    }

    /// A copy to go on from.
    pub fn fork(&self) -> State {
        State {
            cluster: self.cluster.fork(),
            next_op: self.next_op.clone(),
            last_plan: self.last_plan.clone(),
            last_get: self.last_get.clone(),
            plans: self.plans,
            used: self.used,
            fired: self.fired.clone(),
            isolated: self.isolated,
            log: self.log.clone(),
            held: self.held.clone(),
            path: self.path.clone(),
            depth: self.depth,
        }
    }

    /// The stable digest of everything that decides what can happen next
    /// and how the checkers judge it. Not the path that led here.
    pub fn digest(&self) -> Digest {
        let mut h = StableHasher::new();
        self.cluster.digest_with(Some(&self.held)).hash(&mut h);
        self.next_op.hash(&mut h);
        self.last_get.hash(&mut h);
        self.used.hash(&mut h);
        self.fired.hash(&mut h);
        self.isolated.hash(&mut h);
        // What "sometimes" counts from the nodes' measurements, so that two
        // paths to one state always count the same.
        for n in self.cluster.nodes() {
            let st = &n.stats;
            (
                st.hints_delivered > 0,
                st.read_repairs > 0,
                st.replica_timeouts > 0,
            )
                .hash(&mut h);
        }
        // Faults at one instant in either order are the same history.
        let mut log = self.log.clone();
        log.sort_unstable();
        log.hash(&mut h);
        h.finish128()
    }

    fn fired_of(&self, label: &str) -> u32 {
        self.fired
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(0, |(_, n)| *n)
    }

    /// Whether a held timer of `label` at `node` may fire: its node is up
    /// and its budget (if it has one) is not used up.
    fn may_fire(&self, scope: &Scope, node: NodeId, label: &str) -> bool {
        self.cluster.sim.core.is_up(node)
            && scope
                .timer_budget(label)
                .is_none_or(|b| self.fired_of(label) < b)
    }

    /// Whether scope client `c` may issue its next operation: it has one
    /// left, and its last one has ended.
    fn may_issue(&self, scope: &Scope, c: usize) -> bool {
        if self.next_op[c] as usize >= scope.clients[c].ops.len() {
            return false;
        }
        match self.last_plan[c] {
            None => true,
            Some(p) => self
                .cluster
                .clients
                .planned_record(p)
                .is_some_and(|r| r.outcome != Outcome::Pending),
        }
    }

    /// Every action enabled here, in a fixed order (copies of one held item once).
    pub fn enabled(&self, scope: &Scope) -> Vec<Action> {
        let mut out = Vec::new();
        for c in 0..scope.clients.len() {
            if self.may_issue(scope, c) {
                out.push(Action::Issue { client: c as u32 });
            }
        }
        let held = self.cluster.held();
        let mut seen: Vec<Digest> = Vec::with_capacity(held.len());
        for (h, &d) in held.iter().zip(&self.held) {
            if seen.contains(&d) {
                continue;
            }
            seen.push(d);
            match h {
                Held::Msg { .. } | Held::Request { .. } => {
                    out.push(Action::Release { item: d });
                    if self.used.drops < scope.budgets.drops {
                        out.push(Action::Drop { item: d });
                    }
                    if matches!(h, Held::Msg { .. })
                        && self.used.duplicates < scope.budgets.duplicates
                    {
                        out.push(Action::Duplicate { item: d });
                    }
                }
                Held::Timer {
                    node, timer, due, ..
                } => {
                    let label = sim_core::Traced::label(timer);
                    // A timer that moves the clock to its due time fires only
                    // once every timer due before it has: time cannot pass a
                    // deadline that has not fired.
                    let in_order = !fires_on_time(label)
                        || !held.iter().any(|o| {
                            matches!(o, Held::Timer { due: d2, node: n2, timer: t2, .. }
                                if d2 < due && self.may_fire(scope, *n2, sim_core::Traced::label(t2)))
                        });
                    if in_order && self.may_fire(scope, *node, label) {
                        out.push(Action::Release { item: d });
                    }
                }
            }
        }
        let nodes = self.cluster.cfg.nodes;
        for n in (0..nodes).map(NodeId) {
            let up = self.cluster.sim.core.is_up(n);
            if up {
                if self.used.crashes < scope.budgets.crashes {
                    out.push(Action::Crash {
                        node: n,
                        wipe: false,
                    });
                }
                if self.used.wipes < scope.budgets.wipes {
                    out.push(Action::Crash {
                        node: n,
                        wipe: true,
                    });
                }
            } else {
                out.push(Action::Restart { node: n });
            }
        }
        match self.isolated {
            None if self.used.partitions < scope.budgets.partitions => {
                for n in (0..nodes).map(NodeId) {
                    out.push(Action::Isolate { node: n });
                }
            }
            Some(_) => out.push(Action::Heal),
            None => {}
        }
        // A client gives up only when nothing else can answer it: no
        // operation can be issued and nothing held can be released.
        let stuck = !out
            .iter()
            .any(|a| matches!(a, Action::Issue { .. } | Action::Release { .. }));
        if stuck && self.pending_ops() {
            out.push(Action::Wait);
        }
        out
    }

    /// Whether some client operation is issued and not ended.
    fn pending_ops(&self) -> bool {
        self.cluster
            .history()
            .iter()
            .any(|r| r.start.is_some() && r.outcome == Outcome::Pending)
    }

    /// The state after `action`, with what it touched; `None` if it is not
    /// enabled here (a held item that is gone).
    pub fn apply(&self, scope: &Scope, action: Action) -> Option<(State, Footprint)> {
        let mut s = self.fork();
        let foot = s.apply_in_place(scope, action)?;
        Some((s, foot))
    }

    /// Applies `action` to this state.
    pub fn apply_in_place(&mut self, scope: &Scope, action: Action) -> Option<Footprint> {
        let before_now = self.cluster.now();
        let replies_before = self.replies();
        let mut foot = Footprint {
            node: None,
            item: None,
            global: true,
            clients: false,
            budget: None,
        };
        let kind = match action {
            Action::Issue { client } => {
                // An issue only adds a request and a history entry: it
                // commutes with what nodes do, not with other issues or replies.
                foot.global = false;
                foot.clients = true;
                self.issue(scope, client as usize)
            }
            Action::Release { item } => {
                let i = self.find(item)?;
                let mut kind = describe(self.cluster.held(), i, false);
                if let StepKind::Fire { label, early, .. } = &mut kind {
                    let in_flight = self
                        .cluster
                        .held()
                        .iter()
                        .any(|h| !matches!(h, Held::Timer { .. }));
                    if ALWAYS_TIMERS.contains(label) && in_flight {
                        *early = true;
                        self.log.push((self.cluster.now(), Happened::Network));
                    }
                }
                let h = &self.cluster.held()[i];
                foot.node = Some(h.node());
                foot.item = Some(item);
                if let Held::Timer { timer, .. } = h {
                    let label = sim_core::Traced::label(timer);
                    if scope.timer_budget(label).is_some() {
                        foot.budget = Some(BUDGET_TIMERS + counted_slot(label));
                        match self.fired.iter_mut().find(|(l, _)| *l == label) {
                            Some((_, n)) => *n += 1,
                            None => {
                                self.fired.push((label, 1));
                                self.fired.sort_unstable();
                            }
                        }
                    }
                }
                let on_time = fires_on_time(h.label());
                if !self.cluster.release(i, on_time) {
                    return None;
                }
                // A release is local to its node unless it moved the clock
                // or answered a client, or it is a request's timer: whether
                // that counts as early depends on what is in flight anywhere.
                let request_timer =
                    matches!(&kind, StepKind::Fire { label, .. } if ALWAYS_TIMERS.contains(label));
                foot.global = request_timer
                    || self.cluster.now() != before_now
                    || self.replies() != replies_before;
                kind
            }
            Action::Drop { item } => {
                let i = self.find(item)?;
                let kind = describe(self.cluster.held(), i, true);
                self.cluster.drop_held(i).then_some(())?;
                self.used.drops += 1;
                self.log.push((self.cluster.now(), Happened::Network));
                foot = Footprint {
                    node: None,
                    item: Some(item),
                    global: false,
                    clients: false,
                    budget: Some(BUDGET_DROPS),
                };
                kind
            }
            Action::Duplicate { item } => {
                let i = self.find(item)?;
                let StepKind::Deliver {
                    from,
                    to,
                    kind,
                    nth,
                } = describe(self.cluster.held(), i, false)
                else {
                    return None;
                };
                self.cluster.duplicate_held(i).then_some(())?;
                self.used.duplicates += 1;
                self.log.push((self.cluster.now(), Happened::Network));
                foot = Footprint {
                    node: None,
                    item: Some(item),
                    global: false,
                    clients: false,
                    budget: Some(BUDGET_DUPLICATES),
                };
                StepKind::Duplicate {
                    from,
                    to,
                    kind,
                    nth,
                }
            }
            Action::Crash { node, wipe } => {
                // Local to its node (what it drops is the node's own timers,
                // what later reaches it is dropped at delivery), but crashes
                // share a budget.
                foot = Footprint {
                    node: Some(node),
                    item: None,
                    global: false,
                    clients: false,
                    budget: Some(if wipe { BUDGET_WIPES } else { BUDGET_CRASHES }),
                };
                if wipe {
                    self.used.wipes += 1;
                } else {
                    self.used.crashes += 1;
                }
                let f = Fault::Crash {
                    node,
                    wipe_disk: wipe,
                };
                self.cluster.fault_now(f.clone());
                self.log
                    .push((self.cluster.now(), Happened::Crash(node, wipe)));
                StepKind::Fault(f)
            }
            Action::Restart { node } => {
                foot.node = Some(node);
                foot.global = false;
                let f = Fault::Restart { node };
                self.cluster.fault_now(f.clone());
                self.log.push((self.cluster.now(), Happened::Restart(node)));
                StepKind::Fault(f)
            }
            Action::Isolate { node } => {
                self.used.partitions += 1;
                self.isolated = Some(node);
                let f = isolate(node, self.cluster.cfg.nodes);
                self.cluster.fault_now(f.clone());
                self.log.push((self.cluster.now(), Happened::Isolate(node)));
                StepKind::Fault(f)
            }
            Action::Heal => {
                self.isolated = None;
                self.cluster.fault_now(Fault::Heal);
                self.log.push((self.cluster.now(), Happened::Heal));
                StepKind::Fault(Fault::Heal)
            }
            Action::Wait => {
                let t = self.cluster.next_queued()?;
                self.cluster.advance_to(t);
                StepKind::Wait
            }
        };
        let step = Step {
            at: self.cluster.now(),
            kind,
        };
        self.path = Some(Arc::new(PathNode {
            step,
            parent: self.path.take(),
        }));
        self.depth += 1;
        self.held = self.cluster.held().iter().map(item_digest).collect();
        Some(foot)
    }

    /// Replies the clients have had, in all.
    fn replies(&self) -> u64 {
        self.cluster
            .history()
            .iter()
            .map(|r| u64::from(r.replies))
            .sum()
    }

    /// The index of the first held item with digest `item`.
    fn find(&self, item: Digest) -> Option<usize> {
        self.held.iter().position(|d| *d == item)
    }

    /// The digest of each held item, in the cluster's order.
    pub fn held_digests(&self) -> &[Digest] {
        &self.held
    }

    /// Plans client `c`'s next operation now, and lets it be issued.
    fn issue(&mut self, scope: &Scope, c: usize) -> StepKind {
        let client = &scope.clients[c];
        let op_index = self.next_op[c];
        let op = &client.ops[op_index as usize];
        let context_from = if client.read_modify_write && op.kind.is_write() {
            self.last_get[c]
                .iter()
                .find(|(k, _)| *k == op.key)
                .map(|(_, p)| *p)
        } else {
            None
        };
        let plan = self.plans;
        let planned = PlannedOp {
            at: self.cluster.now(),
            client: client.id,
            entry: client.entry.clone(),
            kind: op.kind,
            key: op.key.clone(),
            value: op.value.clone(),
            context_from,
        };
        // The scope was checked against the cluster when it was read.
        if self.cluster.plan(planned).is_ok() {
            self.plans += 1;
            self.last_plan[c] = Some(plan);
            if op.kind == OpKind::Get {
                self.last_get[c].retain(|(k, _)| *k != op.key);
                self.last_get[c].push((op.key.clone(), plan));
            }
        }
        self.next_op[c] += 1;
        self.cluster.settle();
        StepKind::Op {
            client: client.id,
            index: c as u32,
            op: op_index,
            context_from,
        }
    }

    /// Whether nothing but time would change this state: no action is enabled.
    pub fn is_terminal(&self, scope: &Scope) -> bool {
        self.enabled(scope).is_empty()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[DynamoNode] {
        self.cluster.nodes()
    }
}

/// Timers that fire at their due time, moving the clock there: those whose
/// handler compares the clock with what the node stored (a tombstone's
/// grace). Every other timer fires whenever it is released, at the time it
/// is: nothing it does reads the clock, so moving it would only make every
/// action depend on every timer.
pub(crate) const CLOCK_TIMERS: &[&str] = &["purge"];

/// Whether a timer of `label` fires at its due time (the clock moves there).
pub fn fires_on_time(label: &str) -> bool {
    CLOCK_TIMERS.contains(&label)
}

/// Which budget an action draws on, in its footprint: actions drawing on one
/// budget are dependent (one may use up what the other needed).
const BUDGET_DROPS: u8 = 0;
const BUDGET_DUPLICATES: u8 = 1;
const BUDGET_CRASHES: u8 = 2;
const BUDGET_WIPES: u8 = 3;
const BUDGET_TIMERS: u8 = 4;

/// The slot of a counted timer label among the budgets' footprints.
fn counted_slot(label: &str) -> u8 {
    crate::scope::COUNTED_TIMERS
        .iter()
        .position(|l| *l == label)
        .map_or(u8::MAX - BUDGET_TIMERS, |i| i as u8)
}

/// The partition that cuts `node` off from the other nodes.
pub fn isolate(node: NodeId, nodes: u32) -> Fault {
    Fault::Partition {
        groups: vec![
            vec![node],
            (0..nodes).map(NodeId).filter(|&n| n != node).collect(),
        ],
    }
}

/// Names held item `i` as a step does: its kind, ends and rank among equal ones.
pub fn describe(held: &[Held<DynamoNode>], i: usize, drop: bool) -> StepKind {
    let h = &held[i];
    let same = |o: &Held<DynamoNode>| match (h, o) {
        (Held::Msg { from, to, .. }, Held::Msg { from: f, to: t, .. }) => {
            from == f && to == t && h.label() == o.label()
        }
        (
            Held::Request { client, node, .. },
            Held::Request {
                client: c, node: n, ..
            },
        ) => client == c && node == n,
        (Held::Timer { node, .. }, Held::Timer { node: n, .. }) => {
            node == n && h.label() == o.label()
        }
        _ => false,
    };
    let nth = held[..i].iter().filter(|o| same(o)).count();
    match (h, drop) {
        (Held::Msg { from, to, .. }, false) => StepKind::Deliver {
            from: *from,
            to: *to,
            kind: h.label(),
            nth,
        },
        (Held::Msg { from, to, .. }, true) => StepKind::DropMsg {
            from: *from,
            to: *to,
            kind: h.label(),
            nth,
        },
        (Held::Request { client, node, .. }, false) => StepKind::Request {
            client: *client,
            node: *node,
            nth,
        },
        (Held::Request { client, node, .. }, true) => StepKind::DropRequest {
            client: *client,
            node: *node,
            nth,
        },
        (Held::Timer { node, .. }, _) => StepKind::Fire {
            node: *node,
            label: h.label(),
            nth,
            early: false,
        },
    }
}

/// The held item a step names, if it is held now (how a replay finds it).
pub fn find_held(held: &[Held<DynamoNode>], step: &StepKind) -> Option<usize> {
    let step = match step {
        StepKind::Fire {
            node, label, nth, ..
        } => &StepKind::Fire {
            node: *node,
            label,
            nth: *nth,
            early: false,
        },
        other => other,
    };
    (0..held.len()).find(|&i| {
        let drop = matches!(
            step,
            StepKind::DropMsg { .. } | StepKind::DropRequest { .. }
        );
        let mut d = describe(held, i, drop);
        if let (
            StepKind::Duplicate { .. },
            StepKind::Deliver {
                from,
                to,
                kind,
                nth,
            },
        ) = (step, &d)
        {
            d = StepKind::Duplicate {
                from: *from,
                to: *to,
                kind,
                nth: *nth,
            };
        }
        d == *step
    })
}
