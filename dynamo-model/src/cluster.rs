//! Driving a Dynamo cluster in sim-core: the nodes, the clients (explicit
//! operations and generated load), and the ground-truth history of every
//! client operation that the checkers read.

use crate::config::{ClusterConfig, KeyScheme};
use crate::invariants::Invariants;
use crate::msg::{Reply, Request};
use crate::node::DynamoNode;
use crate::ring::{Key, Ring};
use crate::version::{Stamp, VClock, Version};
use sim_core::{
    ClientId, Core, Fault, Harness, Input, Limits, NetConfig, NodeId, Sim, SimDuration, SimRng,
    SimTime, Stop, Stream,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which node a client sends a request to.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Node(NodeId),
    /// A node chosen at random (the workload stream).
    Random,
    /// Partition-aware (§4.5): the client library sends to the first node
    /// of the key's preference list that is up.
    Owner,
    /// A proxy (a token-less coordinator, see `ClusterConfig::proxies`)
    /// chosen at random (the workload stream).
    Proxy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Get,
    Put,
    /// A put of a tombstone with the client's context (§4.4 applies unchanged).
    Delete,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Delete => "delete",
        }
    }

    /// A put or a delete: an operation that writes a version.
    pub fn is_write(self) -> bool {
        matches!(self, OpKind::Put | OpKind::Delete)
    }
}

/// A client operation to issue at a time.
#[derive(Clone, Debug)]
pub struct PlannedOp {
    pub at: SimTime,
    pub client: ClientId,
    pub entry: Entry,
    pub kind: OpKind,
    pub key: String,
    pub value: Option<String>,
    /// Put with the context returned by this earlier planned op (its index in plan order).
    pub context_from: Option<usize>,
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Not issued yet, or issued and not answered yet.
    Pending,
    GetOk {
        versions: Vec<Version>,
        context: VClock,
    },
    PutOk {
        clock: VClock,
        stamp: Stamp,
    },
    Failed {
        got: u32,
        needed: u32,
    },
    /// The client gave up waiting (the request or its reply was lost, or the node was down).
    TimedOut,
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::GetOk { .. } | Outcome::PutOk { .. })
    }
}

/// One client operation in the history.
#[derive(Clone, Debug)]
pub struct OpRecord {
    /// The request id: `put#3` is the op with id 3.
    pub id: u64,
    pub client: ClientId,
    pub kind: OpKind,
    pub key: Key,
    pub value: Option<Arc<str>>,
    /// The context the put carried.
    pub context: VClock,
    /// The get (history index) whose context the put carried, if any: ground truth for causality.
    pub context_from: Option<usize>,
    pub node: Option<NodeId>,
    pub planned: SimTime,
    pub start: Option<SimTime>,
    pub end: Option<SimTime>,
    pub outcome: Outcome,
    /// Replies that reached the client; more than one when the request was
    /// coordinated twice (a duplicated or retried forward) or a coordinator replied twice.
    pub replies: u32,
    /// Generated (load) rather than explicit (timeline).
    pub generated: bool,
}

impl OpRecord {
    pub fn latency(&self) -> Option<SimDuration> {
        Some(self.end? - self.start?)
    }
}

/// How keys are chosen by generated load.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyChoice {
    Uniform,
    Zipf { exponent: f64 },
}

/// How generated clients pace themselves.
#[derive(Clone, Debug, PartialEq)]
pub enum Pacing {
    /// Each client waits for its reply, then thinks, then sends the next op.
    Closed { think: SimDuration },
    /// Each client sends at exponentially distributed intervals, `rate_per_s` ops per second, without waiting.
    Open { rate_per_s: f64 },
}

/// Generated client load.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSpec {
    pub clients: u32,
    pub pacing: Pacing,
    pub keys: u32,
    pub key_choice: KeyChoice,
    pub read_fraction: f64,
    /// Read-modify-write clients: each put carries the context of the client's last get of that key.
    pub read_modify_write: bool,
    /// Read-modify-write only: the share of the writes that are deletes
    /// (with the context of the client's get, so they delete what it read).
    pub delete_fraction: f64,
    pub entry: Entry,
    pub start: SimTime,
    pub stop: SimTime,
    /// Stop after this many operations in all (all clients together).
    pub max_ops: Option<u64>,
}

struct LoadClient {
    id: ClientId,
    /// For read-modify-write: the key of a get whose put is due next.
    pending_rmw: Option<usize>,
}

struct Load {
    spec: LoadSpec,
    clients: Vec<LoadClient>,
    zipf_cdf: Vec<f64>,
    issued: u64,
    first_client: u32,
}

/// What the clients wake themselves for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Issue planned operation `i` (its index in plan order).
    Issue(usize),
    /// Give up on history entry `h` if it is still pending.
    Timeout(usize),
    /// Client `client` of load `load` acts (issues its next operation).
    Load {
        /// The load's index, in the order the loads were added.
        load: usize,
        /// The client's index within the load.
        client: usize,
    },
    /// Send membership change `i` (its index in the order they were added).
    Admin(usize),
    /// A wake-up for a harness other than [`Clients`] that drives a
    /// cluster's nodes (the experiments' trial harnesses).
    Other {
        /// The client the wake-up is for.
        client: ClientId,
        /// What the harness made of it.
        tag: u64,
    },
}

/// Request ids of membership changes start here, far above any operation's.
const ADMIN_REQ: u64 = 1 << 48;

/// The administrator's client (`c9999999` in traces, above every scenario and load client): membership changes come from it.
pub const ADMIN_CLIENT: ClientId = ClientId(9_999_999);

/// A membership change the administrator sends a node at a time.
#[derive(Clone, Debug)]
pub struct AdminOp {
    pub at: SimTime,
    pub node: NodeId,
    pub admin: crate::msg::Admin,
    /// When the node answered, whether it took the change, and what it said.
    pub result: Option<(SimTime, bool, String)>,
}

/// The clients: they issue requests, record the history, and pace generated load.
pub struct Clients {
    ring: Arc<Ring>,
    nodes: u32,
    /// The last `proxies` nodes own no tokens.
    proxies: u32,
    history: Vec<OpRecord>,
    planned: Vec<PlannedOp>,
    rng: SimRng,
    client_timeout: SimDuration,
    loads: Vec<Load>,
    next_client: u32,
    /// For each planned op (in plan order): its index in the history, once issued.
    planned_history: Vec<Option<usize>>,
    /// The invariants checked as the run goes.
    invariants: Invariants,
    /// Generated-load keys made so far, by index: one `Key` (one hash, one
    /// allocation) per key rather than per operation, and equal keys share
    /// their name, which makes comparing them a pointer comparison.
    load_keys: std::collections::BTreeMap<u32, Key>,
    /// Operations finished (replied or timed out), for a progress display
    /// outside the run; nothing in the run reads it.
    finished: Arc<AtomicU64>,
    /// Membership changes, in the order they were planned.
    pub admin: Vec<AdminOp>,
    /// Nodes that have left the ring (and stopped serving), as the load
    /// balancer learns it; empty until a membership change.
    gone: Vec<bool>,
}

/// How far a run's operations have got, readable while the run goes on (a
/// progress display's estimate of the time left).
#[derive(Clone, Debug)]
pub struct OpsGauge {
    /// Operations finished so far.
    pub finished: Arc<AtomicU64>,
    /// Operations the run will issue, when that is known: every planned op
    /// plus every load's `ops` budget, if every load has one.
    pub budget: Option<u64>,
}

impl Clients {
    /// A gauge of the operations finished, and how many there will be.
    pub fn ops_gauge(&self) -> OpsGauge {
        let loads: Option<u64> = self.loads.iter().map(|l| l.spec.max_ops).sum();
        OpsGauge {
            finished: self.finished.clone(),
            budget: loads.map(|l| l + self.planned.len() as u64),
        }
    }

    pub fn history(&self) -> &[OpRecord] {
        &self.history
    }

    /// The invariants checked as the run went.
    pub fn invariants(&self) -> &Invariants {
        &self.invariants
    }

    /// The history record of planned op `i` (plan order), once it has been issued.
    pub fn planned_record(&self, i: usize) -> Option<&OpRecord> {
        self.history.get((*self.planned_history.get(i)?)?)
    }

    fn pick_node(&mut self, entry: &Entry, key: &Key, core: &Core<DynamoNode, Wake>) -> NodeId {
        if self.gone.contains(&true) && *entry == Entry::Random {
            // The load balancer knows the membership: nodes that left get no requests.
            let live: Vec<u32> = (0..self.nodes)
                .filter(|&n| !self.gone[n as usize])
                .collect();
            if !live.is_empty() {
                return NodeId(live[self.rng.index(live.len())]);
            }
        }
        let (nodes, proxies) = (self.nodes, self.proxies);
        let gone = &self.gone;
        route(entry, key, &self.ring, nodes, proxies, &mut self.rng, |n| {
            core.is_up(n) && !gone.get(n.index()).copied().unwrap_or(false)
        })
    }

    /// Issues history entry `h` now.
    fn issue(&mut self, core: &mut Core<DynamoNode, Wake>, h: usize, entry: &Entry) {
        let key = self.history[h].key.clone();
        let node = self.pick_node(entry, &key, core);
        let now = core.now();
        let rec = &mut self.history[h];
        rec.node = Some(node);
        rec.start = Some(now);
        let body = match rec.kind {
            OpKind::Get => Request::Get { key },
            OpKind::Put => Request::Put {
                key,
                value: rec.value.clone().expect("puts carry a value"),
                context: rec.context.clone(),
            },
            OpKind::Delete => Request::Delete {
                key,
                context: rec.context.clone(),
            },
        };
        core.schedule_request(now, rec.client, node, rec.id, body);
        core.schedule_wake(now + self.client_timeout, Wake::Timeout(h));
    }

    fn key_name(&self, i: u32) -> String {
        match self.ring.scheme() {
            KeyScheme::Md5 => format!("key{i}"),
            KeyScheme::Integer { .. } => i.to_string(),
        }
    }

    fn load_op(&mut self, core: &mut Core<DynamoNode, Wake>, l: usize, c: usize) {
        let now = core.now();
        let load = &self.loads[l];
        if now > load.spec.stop || load.spec.max_ops.is_some_and(|m| load.issued >= m) {
            return;
        }
        let client = load.clients[c].id;
        let (kind, key_index, context) = if let Some(get) = load.clients[c].pending_rmw {
            let ctx = match &self.history[get].outcome {
                Outcome::GetOk { context, .. } => context.clone(),
                _ => VClock::new(),
            };
            let delete =
                load.spec.delete_fraction > 0.0 && self.rng.chance(load.spec.delete_fraction);
            let kind = if delete { OpKind::Delete } else { OpKind::Put };
            (kind, None, Some((get, ctx)))
        } else {
            let kind = if self.rng.chance(load.spec.read_fraction) {
                OpKind::Get
            } else {
                OpKind::Put
            };
            let k = match load.spec.key_choice {
                KeyChoice::Uniform => self.rng.below(u64::from(load.spec.keys)) as u32,
                KeyChoice::Zipf { .. } => {
                    let u = self.rng.unit();
                    load.zipf_cdf
                        .partition_point(|&p| p < u)
                        .min(load.zipf_cdf.len() - 1) as u32
                }
            };
            (kind, Some(k), None)
        };
        let key = match (&context, key_index) {
            (Some((get, _)), _) => self.history[*get].key.clone(),
            (None, Some(k)) => match self.load_keys.get(&k) {
                Some(key) => key.clone(),
                None => {
                    let key = self
                        .ring
                        .key(&self.key_name(k))
                        .expect("load keys are validated");
                    self.load_keys.insert(k, key.clone());
                    key
                }
            },
            (None, None) => unreachable!(),
        };
        let id = self.history.len() as u64 + 1;
        let rmw = self.loads[l].spec.read_modify_write;
        let kind = if rmw && context.is_none() {
            OpKind::Get
        } else {
            kind
        };
        let value = (kind == OpKind::Put).then(|| Arc::from(format!("{client}-{id}").as_str()));
        self.history.push(OpRecord {
            id,
            client,
            kind,
            key,
            value,
            context_from: context.as_ref().map(|(get, _)| *get),
            context: context.map(|(_, c)| c).unwrap_or_default(),
            node: None,
            planned: now,
            start: None,
            end: None,
            outcome: Outcome::Pending,
            replies: 0,
            generated: true,
        });
        let h = self.history.len() - 1;
        let load = &mut self.loads[l];
        load.issued += 1;
        load.clients[c].pending_rmw = (rmw && kind == OpKind::Get).then_some(h);
        let entry = load.spec.entry.clone();
        let (pacing, n_clients) = (load.spec.pacing.clone(), load.clients.len());
        self.issue(core, h, &entry);
        if let Pacing::Open { rate_per_s } = pacing {
            let per_client = rate_per_s / n_clients as f64;
            let gap_us = -1e6 / per_client * libm::log(1.0 - self.rng.unit());
            let next = now + SimDuration(gap_us.round() as u64);
            core.schedule_wake(next, Wake::Load { load: l, client: c });
        }
    }

    /// A generated client's op finished: a closed-loop client thinks, then goes on.
    fn load_done(&mut self, core: &mut Core<DynamoNode, Wake>, h: usize) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        if !self.history[h].generated {
            return;
        }
        let client = self.history[h].client;
        for (l, load) in self.loads.iter().enumerate() {
            if client.0 < load.first_client
                || client.0 >= load.first_client + load.clients.len() as u32
            {
                continue;
            }
            let c = (client.0 - load.first_client) as usize;
            if let Pacing::Closed { think } = load.spec.pacing {
                let at = core.now() + think;
                core.schedule_wake(at, Wake::Load { load: l, client: c });
            }
        }
    }
}

/// The node a request for `key` goes to under `entry` (§4.5's request
/// routing), in a cluster of `nodes` whose last `proxies` own no tokens.
/// Random choices come from `rng`; `is_up` is what a partition-aware client
/// library knows of liveness.
pub fn route(
    entry: &Entry,
    key: &Key,
    ring: &Ring,
    nodes: u32,
    proxies: u32,
    rng: &mut SimRng,
    is_up: impl Fn(NodeId) -> bool,
) -> NodeId {
    match entry {
        Entry::Node(n) => *n,
        Entry::Random => NodeId(rng.below(u64::from(nodes)) as u32),
        Entry::Owner => {
            // The first node of the walk that is up; the first owner when none is.
            let mut walk = ring.walk(key);
            let first = walk.next().expect("the ring has an owner");
            std::iter::once(first)
                .chain(walk)
                .find(|&n| is_up(n))
                .unwrap_or(first)
        }
        Entry::Proxy => {
            let storage = u64::from(nodes - proxies);
            NodeId((storage + rng.below(u64::from(proxies))) as u32)
        }
    }
}

impl Harness<DynamoNode> for Clients {
    type Wake = Wake;

    fn on_reply(
        &mut self,
        core: &mut Core<DynamoNode, Wake>,
        _client: ClientId,
        req: u64,
        _node: NodeId,
        reply: Reply,
    ) {
        if req >= ADMIN_REQ {
            if let Reply::Admin { done, what } = reply {
                if let Some(a) = self.admin.get_mut((req - ADMIN_REQ) as usize) {
                    a.result = Some((core.now(), done, what));
                }
            }
            return;
        }
        let h = (req - 1) as usize;
        let rec = &mut self.history[h];
        rec.replies += 1;
        if rec.outcome != Outcome::Pending {
            return; // The client already gave up on it.
        }
        rec.end = Some(core.now());
        rec.outcome = match reply {
            Reply::Got {
                mut versions,
                context,
                ..
            } => {
                // Kept for the whole run: without the slack reconciliation grew it with.
                versions.shrink_to_fit();
                Outcome::GetOk { versions, context }
            }
            Reply::Put { clock, stamp, .. } => Outcome::PutOk { clock, stamp },
            Reply::Failed { got, needed, .. } => Outcome::Failed { got, needed },
            Reply::Admin { .. } => return,
        };
        self.load_done(core, h);
    }

    fn observe_input(&mut self, now: SimTime, node: NodeId, input: &Input<DynamoNode>) {
        self.invariants.input(now, node, input);
    }

    fn observe_reply(
        &mut self,
        now: SimTime,
        node: NodeId,
        _client: ClientId,
        req: u64,
        reply: &Reply,
        nodes: &[DynamoNode],
    ) {
        let Some(rec) = self.history.get((req as usize).wrapping_sub(1)) else {
            return;
        };
        let label = crate::invariants::OpLabel {
            kind: rec.kind.name(),
            id: rec.id,
        };
        self.invariants
            .reply(now, node, req, label, &rec.key, reply, nodes);
    }

    fn observe_handled(&mut self, now: SimTime, node: NodeId, nodes: &[DynamoNode]) {
        self.invariants.handled(now, node, nodes);
        if !self.admin.is_empty() {
            // Only a node's own handling makes it leave (or join again).
            let left = nodes[node.index()].has_left();
            if self.gone.len() < nodes.len() {
                self.gone.resize(nodes.len(), false);
            }
            self.gone[node.index()] = left;
        }
    }

    fn on_wake(&mut self, core: &mut Core<DynamoNode, Wake>, wake: Wake) {
        match wake {
            Wake::Issue(index) => {
                let p = self.planned[index].clone();
                let key = self.ring.key(&p.key).expect("planned keys are validated");
                let from = p
                    .context_from
                    .and_then(|i| self.planned_history.get(i).copied().flatten());
                let context = match from.map(|h| &self.history[h].outcome) {
                    Some(Outcome::GetOk { context, .. }) => context.clone(),
                    _ => VClock::new(),
                };
                let id = self.history.len() as u64 + 1;
                self.history.push(OpRecord {
                    id,
                    client: p.client,
                    kind: p.kind,
                    key,
                    value: p.value.as_deref().map(Arc::from),
                    context,
                    context_from: from,
                    node: None,
                    planned: p.at,
                    start: None,
                    end: None,
                    outcome: Outcome::Pending,
                    replies: 0,
                    generated: false,
                });
                let h = self.history.len() - 1;
                self.planned_history[index] = Some(h);
                self.issue(core, h, &p.entry);
            }
            Wake::Timeout(h) => {
                if self.history[h].outcome == Outcome::Pending {
                    self.history[h].outcome = Outcome::TimedOut;
                    self.history[h].end = Some(core.now());
                    self.load_done(core, h);
                }
            }
            Wake::Load { load, client } => self.load_op(core, load, client),
            Wake::Admin(i) => {
                let a = &self.admin[i];
                let body = Request::Admin(a.admin.clone());
                core.schedule_request(core.now(), ADMIN_CLIENT, a.node, ADMIN_REQ + i as u64, body);
            }
            Wake::Other { .. } => {}
        }
    }
}

/// A cluster of Dynamo nodes in a simulation, with its clients.
pub struct Cluster {
    pub sim: Sim<DynamoNode, Wake>,
    pub clients: Clients,
    pub ring: Arc<Ring>,
    pub cfg: Arc<ClusterConfig>,
}

impl Cluster {
    /// Builds a cluster. Returns every configuration problem found.
    pub fn new(
        cfg: ClusterConfig,
        net: &NetConfig,
        seed: u64,
        trace: bool,
    ) -> Result<Cluster, Vec<String>> {
        let errs = cfg.validate();
        if !errs.is_empty() {
            return Err(errs);
        }
        let ring = Arc::new(Ring::build(&cfg, &mut SimRng::new(seed, Stream::Setup)));
        let cfg = Arc::new(cfg);
        // One membership for all: built once, shared until a node's changes.
        let members = crate::membership::initial_membership(&ring, cfg.nodes);
        let nodes = (0..cfg.nodes)
            .map(|i| {
                DynamoNode::with_members(NodeId(i), cfg.clone(), ring.clone(), members.clone())
            })
            .collect();
        // The network's zones are the cluster's data centres, unless the caller placed them.
        let zoned;
        let net = if net.zones.is_empty() && !cfg.datacenters.is_empty() {
            zoned = NetConfig {
                zones: cfg.zones(),
                ..net.clone()
            };
            &zoned
        } else {
            net
        };
        let mut sim = Sim::new(seed, nodes, net, trace).map_err(|e| vec![e])?;
        sim.core.trace.header.extend(cfg.describe());
        sim.core
            .trace
            .header
            .push(describe_net(net, &cfg.datacenters));
        let client_timeout = SimDuration(cfg.op_deadline.as_us() * 2 + 1_000_000);
        let clients = Clients {
            ring: ring.clone(),
            nodes: cfg.nodes,
            proxies: cfg.proxies,
            history: Vec::new(),
            planned: Vec::new(),
            rng: SimRng::new(seed, Stream::Workload),
            client_timeout,
            loads: Vec::new(),
            next_client: 0,
            planned_history: Vec::new(),
            load_keys: std::collections::BTreeMap::new(),
            invariants: Invariants::new(&cfg),
            finished: Arc::new(AtomicU64::new(0)),
            admin: Vec::new(),
            gone: Vec::new(),
        };
        Ok(Cluster {
            sim,
            clients,
            ring,
            cfg,
        })
    }

    /// Schedules a membership change: at `at`, the administrator asks `node` to join or leave.
    pub fn plan_admin(
        &mut self,
        at: SimTime,
        node: NodeId,
        admin: crate::msg::Admin,
    ) -> Result<(), String> {
        if node.0 >= self.cfg.nodes {
            return Err(format!(
                "unknown node {node}: the cluster has n0..n{}",
                self.cfg.nodes - 1
            ));
        }
        let i = self.clients.admin.len();
        self.clients.admin.push(AdminOp {
            at,
            node,
            admin,
            result: None,
        });
        self.sim.core.schedule_wake(at, Wake::Admin(i));
        Ok(())
    }

    /// The ring most nodes agree on at the end: the view of the most live
    /// members (ties: the lowest node's); the configured ring when no
    /// membership changed.
    pub fn final_ring(&self) -> Arc<Ring> {
        let nodes = &self.sim.nodes;
        if !nodes.iter().any(|n| n.stats.membership_changes > 0) {
            return self.ring.clone();
        }
        let mut best: Option<(usize, &DynamoNode)> = None;
        for n in nodes {
            if !self.sim.core.is_up(n.id()) {
                continue;
            }
            let agree = nodes
                .iter()
                .filter(|m| self.sim.core.is_up(m.id()) && m.members() == n.members())
                .count();
            if best.is_none_or(|(a, _)| agree > a) {
                best = Some((agree, n));
            }
        }
        best.map_or(self.ring.clone(), |(_, n)| Arc::new(n.ring().clone()))
    }

    /// Schedules an explicit client operation. Its key must be valid for the ring.
    /// Checks that `entry` names something the cluster has.
    fn check_entry(&self, entry: &Entry) -> Result<(), String> {
        match entry {
            Entry::Proxy if self.cfg.proxies == 0 => Err(
                "\"proxy\" routing needs token-less coordinators: set proxies = K in [cluster]"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    pub fn plan(&mut self, op: PlannedOp) -> Result<(), String> {
        self.ring.key(&op.key)?;
        self.check_entry(&op.entry)?;
        if let Entry::Node(n) = op.entry {
            if n.0 >= self.cfg.nodes {
                return Err(format!(
                    "unknown node {n}: the cluster has n0..n{}",
                    self.cfg.nodes - 1
                ));
            }
        }
        self.clients.next_client = self.clients.next_client.max(op.client.0 + 1);
        let i = self.clients.planned.len();
        self.sim.core.schedule_wake(op.at, Wake::Issue(i));
        self.clients.planned.push(op);
        self.clients.planned_history.push(None);
        Ok(())
    }

    /// Adds generated load; its clients are numbered after every explicit client.
    pub fn add_load(&mut self, spec: LoadSpec) -> Result<(), String> {
        if spec.keys == 0 || spec.clients == 0 {
            return Err("generated load needs at least one client and one key".into());
        }
        self.check_entry(&spec.entry)?;
        if let KeyScheme::Integer { hash_bits } = self.ring.scheme() {
            if u64::from(spec.keys) > 1u64 << hash_bits {
                return Err(format!(
                    "{} keys do not fit in 2^{hash_bits} integer key slots",
                    spec.keys
                ));
            }
        }
        let zipf_cdf = match spec.key_choice {
            KeyChoice::Uniform => Vec::new(),
            KeyChoice::Zipf { exponent } => {
                let weights: Vec<f64> = (1..=spec.keys)
                    .map(|k| 1.0 / libm::pow(f64::from(k), exponent))
                    .collect();
                let total: f64 = weights.iter().sum();
                let mut acc = 0.0;
                weights
                    .iter()
                    .map(|w| {
                        acc += w / total;
                        acc
                    })
                    .collect()
            }
        };
        let first_client = self.clients.next_client.max(100);
        let clients: Vec<LoadClient> = (0..spec.clients)
            .map(|i| LoadClient {
                id: ClientId(first_client + i),
                pending_rmw: None,
            })
            .collect();
        self.clients.next_client = first_client + spec.clients;
        let l = self.clients.loads.len();
        for c in 0..clients.len() {
            // Clients start spread over the first millisecond so they do not act in lockstep.
            let at = spec.start + SimDuration(c as u64 * 1_000 / u64::from(spec.clients));
            self.sim
                .core
                .schedule_wake(at, Wake::Load { load: l, client: c });
        }
        self.clients.loads.push(Load {
            spec,
            clients,
            zipf_cdf,
            issued: 0,
            first_client,
        });
        Ok(())
    }

    pub fn fault(&mut self, at: SimTime, fault: Fault) {
        self.sim.core.schedule_fault(at, fault);
    }

    pub fn run_until(&mut self, t: SimTime) -> Stop {
        self.sim.run(&mut self.clients, Limits::until(t))
    }

    pub fn run_with(&mut self, limits: Limits) -> Stop {
        self.sim.run(&mut self.clients, limits)
    }

    pub fn now(&self) -> SimTime {
        self.sim.now()
    }

    pub fn history(&self) -> &[OpRecord] {
        self.clients.history()
    }

    pub fn node(&self, n: NodeId) -> &DynamoNode {
        &self.sim.nodes[n.index()]
    }

    pub fn nodes(&self) -> &[DynamoNode] {
        &self.sim.nodes
    }

    pub fn key(&self, name: &str) -> Result<Key, String> {
        self.ring.key(name)
    }

    /// Every node's store and hints, one line per (node, key), for the trace footer.
    pub fn state_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for node in self.nodes() {
            let up = if self.sim.core.is_up(node.id()) {
                ""
            } else {
                " (down)"
            };
            if node.store().is_empty() && node.hints().is_empty() {
                out.push(format!("{}{up}: empty", node.id()));
            }
            for (key, versions) in node.store() {
                let vs: Vec<String> = versions.iter().map(ToString::to_string).collect();
                out.push(format!(
                    "{}{up}: key {key} = {{{}}}",
                    node.id(),
                    vs.join(" ")
                ));
            }
            for ((target, key), hint) in node.hints() {
                let vs: Vec<String> = hint.versions.iter().map(ToString::to_string).collect();
                out.push(format!(
                    "{}{up}: hint for {target}: key {key} = {{{}}}",
                    node.id(),
                    vs.join(" ")
                ));
            }
        }
        out
    }
}

fn describe_net(net: &NetConfig, datacenters: &[String]) -> String {
    let zone = |z: u32| {
        datacenters
            .get(z as usize)
            .cloned()
            .unwrap_or_else(|| format!("zone{z}"))
    };
    let mut s = format!(
        "network latency={} loss={} duplicate={}",
        net.latency, net.loss, net.duplicate
    );
    for (kind, lat) in &net.per_kind {
        s.push_str(&format!(" {kind}={lat}"));
    }
    for l in &net.links {
        s.push_str(&format!(" link({}->{}", l.from, l.to));
        if let Some(lat) = &l.latency {
            s.push_str(&format!(" latency={lat}"));
        }
        if let Some(p) = l.loss {
            s.push_str(&format!(" loss={p}"));
        }
        if let Some(p) = l.duplicate {
            s.push_str(&format!(" duplicate={p}"));
        }
        s.push(')');
    }
    for z in &net.zone_links {
        s.push_str(&format!(" datacenters({}->{}", zone(z.from), zone(z.to)));
        if let Some(lat) = &z.latency {
            s.push_str(&format!(" latency={lat}"));
        }
        for (kind, lat) in &z.per_kind {
            s.push_str(&format!(" {kind}={lat}"));
        }
        s.push(')');
    }
    if net.client_request == net.client_reply {
        s.push_str(&format!(" client_latency={}", net.client_request));
    } else {
        s.push_str(&format!(
            " client_request={} client_reply={}",
            net.client_request, net.client_reply
        ));
    }
    s
}
