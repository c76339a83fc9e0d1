//! The clients: the harness that issues the planned operations and the
//! generated load, records the history, gives up on requests that take too
//! long, and shows every input, reply and node state to the invariants.

use crate::history::{OpKind, OpRecord, Outcome};
use crate::invariants::{Invariants, OpLabel};
use crate::plan::{
    ADMIN_CLIENT, AdminOp, Entry, KeyChoice, LoadSpec, Pacing, PlannedOp, ProgramOp, route,
};
use dynamo_model::{ClusterConfig, DynamoNode, Key, KeyScheme, Msg, Reply, Request, Ring, VClock};
use sim_core::{
    ClientId, Core, Fault, Harness, Input, NodeId, SimDuration, SimRng, SimTime, Stream,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone)]
struct LoadClient {
    id: ClientId,
    /// For read-modify-write: the key of a get whose put is due next.
    pending_rmw: Option<usize>,
}

#[derive(Clone)]
struct Load {
    spec: LoadSpec,
    clients: Vec<LoadClient>,
    zipf_cdf: Vec<f64>,
    issued: u64,
    first_client: u32,
}

/// What the clients wake themselves for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// A wake-up a [`Program`](crate::Program) asked for, with its tag.
    Program(u64),
    /// Give up on program operation `req` if it is still pending.
    ProgramTimeout(u64),
}

/// Request ids of membership changes start here, far above any operation's.
const ADMIN_REQ: u64 = 1 << 48;

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
    /// A running program's operations in flight, by request id: kept only
    /// until they end, so a program's memory does not grow with its trials.
    program_ops: std::collections::BTreeMap<u64, OpRecord>,
    /// The last request id given to a program operation.
    program_req: u64,
    /// Faults timed to protocol events, armed or fired.
    triggers: Vec<Trigger>,
}

/// What a [`Trigger`] does to the nodes of the send that fires it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TriggerFault {
    /// The sender crashes (keeping its disk), and restarts after the fault's time.
    CrashSender,
    /// The receiver crashes before the message arrives, and restarts later.
    CrashReceiver,
    /// The sender is cut off from every other node, then healed.
    IsolateSender,
    /// The sender pauses (holding what reaches it), then resumes.
    PauseSender,
}

impl TriggerFault {
    /// Every trigger fault, by its name in a scenario file.
    pub const ALL: [(&'static str, TriggerFault); 4] = [
        ("crash-sender", TriggerFault::CrashSender),
        ("crash-receiver", TriggerFault::CrashReceiver),
        ("isolate-sender", TriggerFault::IsolateSender),
        ("pause-sender", TriggerFault::PauseSender),
    ];

    /// Its name in a scenario file.
    pub fn name(self) -> &'static str {
        TriggerFault::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
}

/// A fault timed to a protocol event: from `armed` until `until`, the first
/// message of kind `on` that any node sends fires `fault` for `lasting`.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct Trigger {
    /// From when a send fires it.
    pub armed: SimTime,
    /// After when none does.
    pub until: SimTime,
    /// The message kind that fires it (one of the model's message kinds).
    pub on: &'static str,
    /// What it does.
    pub fault: TriggerFault,
    /// How long the fault lasts.
    pub lasting: SimDuration,
    /// When it fired, if it has.
    pub fired: Option<SimTime>,
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
    /// Clients for a cluster of `cfg`'s nodes on `ring`, drawing from the
    /// run's workload stream.
    pub fn new(cfg: &ClusterConfig, ring: Arc<Ring>, seed: u64) -> Clients {
        Clients {
            ring,
            nodes: cfg.nodes,
            proxies: cfg.proxies,
            history: Vec::new(),
            planned: Vec::new(),
            rng: SimRng::new(seed, Stream::Workload),
            client_timeout: SimDuration(cfg.op_deadline.as_us() * 2 + 1_000_000),
            loads: Vec::new(),
            next_client: 0,
            planned_history: Vec::new(),
            load_keys: std::collections::BTreeMap::new(),
            invariants: Invariants::new(cfg),
            finished: Arc::new(AtomicU64::new(0)),
            admin: Vec::new(),
            gone: Vec::new(),
            program_ops: std::collections::BTreeMap::new(),
            program_req: 0,
            triggers: Vec::new(),
        }
    }

    /// A copy to explore from: the same clients, history and invariants,
    /// going on independently (its finished-operations gauge is its own).
    pub fn fork(&self) -> Clients {
        Clients {
            ring: self.ring.clone(),
            nodes: self.nodes,
            proxies: self.proxies,
            history: self.history.clone(),
            planned: self.planned.clone(),
            rng: self.rng.clone(),
            client_timeout: self.client_timeout,
            loads: self.loads.clone(),
            next_client: self.next_client,
            planned_history: self.planned_history.clone(),
            invariants: self.invariants.clone(),
            load_keys: self.load_keys.clone(),
            finished: Arc::new(AtomicU64::new(self.finished.load(Ordering::Relaxed))),
            admin: self.admin.clone(),
            gone: self.gone.clone(),
            program_ops: self.program_ops.clone(),
            program_req: self.program_req,
            triggers: self.triggers.clone(),
        }
    }

    /// Hashes what decides the clients' future and the checkers' verdicts:
    /// the history, what is planned and issued, the workload stream, the
    /// invariants' state, membership changes and triggers. Generated load
    /// is counted, not hashed (an explored scope has none).
    pub fn hash_state<H: std::hash::Hasher>(&self, state: &mut H) {
        use std::hash::Hash;
        self.history.hash(state);
        self.planned.hash(state);
        self.planned_history.hash(state);
        self.rng.hash(state);
        self.invariants.hash(state);
        self.admin.hash(state);
        self.gone.hash(state);
        self.program_ops.hash(state);
        self.program_req.hash(state);
        self.triggers.hash(state);
        self.loads.len().hash(state);
    }

    /// Adds a fault timed to a protocol event.
    pub fn add_trigger(&mut self, t: Trigger) {
        self.triggers.push(t);
    }

    /// The triggers, with when each fired.
    pub fn triggers(&self) -> &[Trigger] {
        &self.triggers
    }

    /// Whether nothing is planned for the clients themselves (a program may run).
    pub(crate) fn idle(&self) -> bool {
        self.planned.is_empty() && self.loads.is_empty() && self.admin.is_empty()
    }

    /// Issues a program's operation now, routed as any client operation is
    /// (and given up after the client timeout); returns its request id.
    pub(crate) fn issue_program_op(
        &mut self,
        core: &mut Core<DynamoNode, Wake>,
        op: ProgramOp,
    ) -> u64 {
        self.program_req += 1;
        let id = self.program_req;
        let node = self.pick_node(&op.entry, &op.key, core);
        let now = core.now();
        let body = match op.kind {
            OpKind::Get => Request::Get {
                key: op.key.clone(),
            },
            OpKind::Put => Request::Put {
                key: op.key.clone(),
                value: op.value.clone().unwrap_or_else(|| Arc::from("")),
                context: op.context.clone(),
            },
            OpKind::Delete => Request::Delete {
                key: op.key.clone(),
                context: op.context.clone(),
            },
        };
        core.schedule_request(now, op.client, node, id, body);
        core.schedule_wake(now + self.client_timeout, Wake::ProgramTimeout(id));
        self.program_ops.insert(
            id,
            OpRecord {
                id,
                client: op.client,
                kind: op.kind,
                key: op.key,
                value: op.value,
                context: op.context,
                context_from: None,
                node: Some(node),
                planned: now,
                start: Some(now),
                end: None,
                outcome: Outcome::Pending,
                replies: 0,
                generated: true,
            },
        );
        id
    }

    /// The first reply to program operation `req` ends it: its record, with
    /// the outcome (a later reply, or one to an operation given up on, is
    /// dropped).
    pub(crate) fn end_program_op(
        &mut self,
        core: &Core<DynamoNode, Wake>,
        req: u64,
        reply: Reply,
    ) -> Option<OpRecord> {
        let outcome = outcome_of(reply)?;
        let mut rec = self.program_ops.remove(&req)?;
        rec.replies = 1;
        rec.end = Some(core.now());
        rec.outcome = outcome;
        self.finished.fetch_add(1, Ordering::Relaxed);
        Some(rec)
    }

    /// Program operation `req` took too long: it ends as timed out, if it had not ended.
    pub(crate) fn time_out_program_op(
        &mut self,
        core: &Core<DynamoNode, Wake>,
        req: u64,
    ) -> Option<OpRecord> {
        let mut rec = self.program_ops.remove(&req)?;
        rec.end = Some(core.now());
        rec.outcome = Outcome::TimedOut;
        self.finished.fetch_add(1, Ordering::Relaxed);
        Some(rec)
    }

    /// Schedules a membership change: at its time, the administrator asks its node to join or leave.
    pub fn plan_admin(
        &mut self,
        core: &mut Core<DynamoNode, Wake>,
        op: AdminOp,
    ) -> Result<(), String> {
        if op.node.0 >= self.nodes {
            return Err(format!(
                "unknown node {}: the cluster has n0..n{}",
                op.node,
                self.nodes - 1
            ));
        }
        let i = self.admin.len();
        core.schedule_wake(op.at, Wake::Admin(i));
        self.admin.push(op);
        Ok(())
    }

    /// Checks that `entry` names something the cluster has.
    fn check_entry(&self, entry: &Entry) -> Result<(), String> {
        match entry {
            Entry::Proxy if self.proxies == 0 => Err(
                "\"proxy\" routing needs token-less coordinators: set proxies = K in [cluster]"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    /// Schedules an explicit client operation. Its key must be valid for the ring.
    pub fn plan(&mut self, core: &mut Core<DynamoNode, Wake>, op: PlannedOp) -> Result<(), String> {
        self.check_entry(&op.entry)?;
        if let Entry::Node(n) = op.entry {
            if n.0 >= self.nodes {
                return Err(format!(
                    "unknown node {n}: the cluster has n0..n{}",
                    self.nodes - 1
                ));
            }
        }
        self.next_client = self.next_client.max(op.client.0 + 1);
        let i = self.planned.len();
        core.schedule_wake(op.at, Wake::Issue(i));
        self.planned.push(op);
        self.planned_history.push(None);
        Ok(())
    }

    /// Adds generated load; its clients are numbered after every explicit client.
    pub fn add_load(
        &mut self,
        core: &mut Core<DynamoNode, Wake>,
        spec: LoadSpec,
    ) -> Result<(), String> {
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
        let first_client = self.next_client.max(100);
        let clients: Vec<LoadClient> = (0..spec.clients)
            .map(|i| LoadClient {
                id: ClientId(first_client + i),
                pending_rmw: None,
            })
            .collect();
        self.next_client = first_client + spec.clients;
        let l = self.loads.len();
        for c in 0..clients.len() {
            // Clients start spread over the first millisecond so they do not act in lockstep.
            let at = spec.start + SimDuration(c as u64 * 1_000 / u64::from(spec.clients));
            core.schedule_wake(at, Wake::Load { load: l, client: c });
        }
        self.loads.push(Load {
            spec,
            clients,
            zipf_cdf,
            issued: 0,
            first_client,
        });
        Ok(())
    }

    /// A gauge of the operations finished, and how many there will be.
    pub fn ops_gauge(&self) -> OpsGauge {
        let loads: Option<u64> = self.loads.iter().map(|l| l.spec.max_ops).sum();
        OpsGauge {
            finished: self.finished.clone(),
            budget: loads.map(|l| l + self.planned.len() as u64),
        }
    }

    /// The history so far: one record per planned or generated operation, in the order issued.
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
                    let key = Key::numbered(self.ring.scheme(), k);
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
        // The get is the put's source in ground truth only if it answered.
        let context_from = context
            .as_ref()
            .map(|(get, _)| *get)
            .filter(|&g| matches!(self.history[g].outcome, Outcome::GetOk { .. }));
        self.history.push(OpRecord {
            id,
            client,
            kind,
            key,
            value,
            context_from,
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
        let in_flight = self.history.len() as u64 - self.finished.load(Ordering::Relaxed);
        if in_flight > MAX_OPS_IN_FLIGHT || self.history.len() > MAX_HISTORY_OPS {
            core.overload();
        }
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

/// How an operation ended, from its reply (`None` for a membership change's).
fn outcome_of(reply: Reply) -> Option<Outcome> {
    Some(match reply {
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
        Reply::Admin { .. } => return None,
    })
}

/// Operations issued and not yet finished at most: an open-loop load far
/// above what the cluster serves (or under latencies far longer than its
/// rate's gap) stops the run as overloaded here, before the coordinators'
/// state and the history exhaust memory.
pub const MAX_OPS_IN_FLIGHT: u64 = 100_000;

/// Operations a run's history holds at most (each about 200 bytes, with
/// its value and reply): past it the run stops as overloaded, so that no
/// load, whatever its `ops` and rate, grows the history past about 2 GB.
pub const MAX_HISTORY_OPS: usize = 10_000_000;

impl Harness<DynamoNode> for Clients {
    type Wake = Wake;

    fn watches_sends(&self) -> bool {
        self.triggers.iter().any(|t| t.fired.is_none())
    }

    fn on_send(&mut self, core: &mut Core<DynamoNode, Wake>, from: NodeId, to: NodeId, msg: &Msg) {
        let now = core.now();
        let kind = <Msg as sim_core::Message>::KINDS[sim_core::Message::kind(msg)];
        let nodes = self.nodes;
        for t in &mut self.triggers {
            if t.fired.is_some() || t.on != kind || now < t.armed || now > t.until {
                continue;
            }
            t.fired = Some(now);
            let end = now + t.lasting;
            let (start, stop) = match t.fault {
                TriggerFault::CrashSender | TriggerFault::CrashReceiver => {
                    let node = if t.fault == TriggerFault::CrashSender {
                        from
                    } else {
                        to
                    };
                    (
                        Fault::Crash {
                            node,
                            wipe_disk: false,
                        },
                        Fault::Restart { node },
                    )
                }
                TriggerFault::IsolateSender => (
                    Fault::Partition {
                        groups: vec![
                            vec![from],
                            (0..nodes).map(NodeId).filter(|&n| n != from).collect(),
                        ],
                    },
                    Fault::Heal,
                ),
                TriggerFault::PauseSender => {
                    (Fault::Pause { node: from }, Fault::Resume { node: from })
                }
            };
            core.schedule_fault(now, start);
            core.schedule_fault(end, stop);
        }
    }

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
        let Some(outcome) = outcome_of(reply) else {
            return;
        };
        rec.end = Some(core.now());
        rec.outcome = outcome;
        self.load_done(core, h);
    }

    fn observe_input(
        &mut self,
        now: SimTime,
        node: NodeId,
        input: &Input<DynamoNode>,
        nodes: &[DynamoNode],
    ) {
        self.invariants.input(now, node, input, nodes);
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
        let label = OpLabel {
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
                let key = p.key.clone();
                // The context a get returned, if it has (ground truth records
                // the get as the put's source only then: a put issued before
                // its get answered, or after it failed, is blind).
                let from = p
                    .context_from
                    .and_then(|i| self.planned_history.get(i).copied().flatten())
                    .filter(|&h| matches!(self.history[h].outcome, Outcome::GetOk { .. }));
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
            // Only a running program has program wake-ups.
            Wake::Program(_) | Wake::ProgramTimeout(_) => {}
        }
    }
}
