//! A cluster of Dynamo nodes in a simulation, with its clients: the one
//! place that builds the nodes, the network and the harness together.

use crate::clients::{Clients, Wake};
use crate::history::OpRecord;
use crate::plan::{AdminOp, LoadSpec, PlannedOp};
use crate::program::{Program, Running};
use dynamo_model::{Admin, ClusterConfig, DynamoNode, Key, Msg, Ring};
use sim_core::digest::{Digest, StableHasher};
use sim_core::{
    Fault, Held, Limits, Message, NetConfig, Network, NodeId, Sim, SimRng, SimTime, Stop, Stream,
};
use std::sync::Arc;

/// A cluster's configuration and network, checked together: what a
/// [`Cluster`] is built from, for any seed, without anything left to fail.
#[derive(Clone, Debug)]
pub struct ClusterPlan {
    cfg: Arc<ClusterConfig>,
    /// The network as configured, its zones filled in from the data centres.
    net: NetConfig,
    /// The network checked for the cluster's nodes and the model's messages.
    network: Network,
}

impl ClusterPlan {
    /// Checks a configuration and its network. Returns every configuration
    /// problem found, or the network's first.
    pub fn new(cfg: ClusterConfig, net: &NetConfig) -> Result<ClusterPlan, Vec<String>> {
        let errs = cfg.validate();
        if !errs.is_empty() {
            return Err(errs);
        }
        // The network's zones are the cluster's data centres, unless the caller placed them.
        let net = if net.zones.is_empty() && !cfg.datacenters.is_empty() {
            NetConfig {
                zones: cfg.zones(),
                ..net.clone()
            }
        } else {
            net.clone()
        };
        let network = Network::new(cfg.nodes as usize, Msg::KINDS, &net).map_err(|e| vec![e])?;
        Ok(ClusterPlan {
            cfg: Arc::new(cfg),
            net,
            network,
        })
    }

    /// The cluster's configuration.
    pub fn cfg(&self) -> &ClusterConfig {
        &self.cfg
    }
}

/// A cluster of Dynamo nodes in a simulation, with its clients.
pub struct Cluster {
    /// The nodes and the engine that drives them.
    pub sim: Sim<DynamoNode, Wake>,
    /// The clients: the harness, and the history it records.
    pub clients: Clients,
    /// The ring the cluster starts with.
    pub ring: Arc<Ring>,
    /// The cluster's configuration.
    pub cfg: Arc<ClusterConfig>,
}

impl Cluster {
    /// Builds the cluster a plan describes, with `seed`'s random choices
    /// (tokens, latencies, every node's stream), recording the trace if `trace`.
    pub fn build(plan: &ClusterPlan, seed: u64, trace: bool) -> Cluster {
        Cluster::build_with(plan, seed, trace, false)
    }

    fn build_with(plan: &ClusterPlan, seed: u64, trace: bool, holding: bool) -> Cluster {
        let cfg = plan.cfg.clone();
        let ring = Arc::new(Ring::build(&cfg, &mut SimRng::new(seed, Stream::Setup)));
        // One membership for all: built once, shared until a node's changes.
        let members = dynamo_model::initial_membership(&ring, cfg.nodes);
        let nodes = (0..cfg.nodes)
            .map(|i| {
                DynamoNode::with_members(NodeId(i), cfg.clone(), ring.clone(), members.clone())
            })
            .collect();
        let mut sim = if holding {
            Sim::new_holding(seed, nodes, plan.network.clone(), trace)
        } else {
            Sim::with_network(seed, nodes, plan.network.clone(), trace)
        };
        sim.core.trace.header.extend(cfg.describe());
        sim.core
            .trace
            .header
            .push(describe_net(&plan.net, &cfg.datacenters));
        if holding {
            sim.core.trace.header.push(
                "holding: messages, client requests and node timers wait for the steps that release them".into(),
            );
        }
        let clients = Clients::new(&cfg, ring.clone(), seed);
        Cluster {
            sim,
            clients,
            ring,
            cfg,
        }
    }

    /// Builds the cluster a plan describes, holding: messages, client
    /// requests and node timers wait until released one at a time
    /// ([`Cluster::release`]), as `dynsim check` explores them and its
    /// counterexamples replay.
    pub fn build_holding(plan: &ClusterPlan, seed: u64, trace: bool) -> Cluster {
        Cluster::build_with(plan, seed, trace, true)
    }

    /// A copy to explore from, with its trace off; the two go on independently.
    pub fn fork(&self) -> Cluster {
        Cluster {
            sim: self.sim.fork(),
            clients: self.clients.fork(),
            ring: self.ring.clone(),
            cfg: self.cfg.clone(),
        }
    }

    /// The stable 128-bit digest of everything that decides what the
    /// cluster and its clients do next and how the checkers judge it.
    pub fn digest(&self) -> Digest {
        self.digest_with(None)
    }

    /// [`Cluster::digest`], with the held items' digests given by a caller that keeps them.
    pub fn digest_with(&self, held: Option<&[Digest]>) -> Digest {
        let mut h = StableHasher::new();
        self.sim.hash_state_with(&mut h, held);
        self.clients.hash_state(&mut h);
        h.finish128()
    }

    /// What waits to be released, when holding.
    pub fn held(&self) -> &[Held<DynamoNode>] {
        self.sim.core.held()
    }

    /// Releases held item `i`: a message or request is delivered, a timer
    /// fires; with `on_time`, a timer fires at its due time (the clock
    /// moves there first, and what is queued before it happens first).
    /// Then whatever that caused at this instant (replies, the clients'
    /// next steps) happens. Returns false if the item is gone by then.
    pub fn release(&mut self, i: usize, on_time: bool) -> bool {
        let Some(item) = self.held().get(i) else {
            return false;
        };
        let mut at = i;
        if let (Held::Timer { due, .. }, true) = (item, on_time) {
            let (due, d) = (*due, sim_core::item_digest(item));
            if due > self.now() {
                self.sim.run_to(due, &mut self.clients);
                let Some(j) = self
                    .held()
                    .iter()
                    .position(|h| sim_core::item_digest(h) == d)
                else {
                    return false;
                };
                at = j;
            }
        }
        self.sim.release(at, &mut self.clients);
        self.settle();
        true
    }

    /// Drops held message or request `i` as lost.
    pub fn drop_held(&mut self, i: usize) -> bool {
        self.sim.drop_held(i)
    }

    /// Makes a second copy of held message `i`.
    pub fn duplicate_held(&mut self, i: usize) -> bool {
        self.sim.duplicate_held(i)
    }

    /// Applies `fault` now, and what it causes at this instant.
    pub fn fault_now(&mut self, fault: Fault) {
        let now = self.now();
        self.sim.core.schedule_fault(now, fault);
        self.settle();
    }

    /// Lets everything queued up to now happen (replies, wake-ups, faults).
    pub fn settle(&mut self) -> Stop {
        let now = self.now();
        self.sim.run_to(now, &mut self.clients)
    }

    /// Lets time pass to `t`: what is queued until then happens.
    pub fn advance_to(&mut self, t: SimTime) -> Stop {
        self.sim.run_to(t, &mut self.clients)
    }

    /// The time of the next queued event (a client's timeout, a reply, a fault).
    pub fn next_queued(&mut self) -> Option<SimTime> {
        self.sim.core.next_queued()
    }

    /// Stops holding: what waits goes through the network model, and the
    /// cluster runs on as any other.
    pub fn stop_holding(&mut self) {
        self.sim.stop_holding();
    }

    /// Checks a configuration and network and builds the cluster. Returns
    /// every configuration problem found.
    pub fn new(
        cfg: ClusterConfig,
        net: &NetConfig,
        seed: u64,
        trace: bool,
    ) -> Result<Cluster, Vec<String>> {
        Ok(Cluster::build(&ClusterPlan::new(cfg, net)?, seed, trace))
    }

    /// Schedules a membership change: at `at`, the administrator asks `node` to join or leave.
    pub fn plan_admin(&mut self, at: SimTime, node: NodeId, admin: Admin) -> Result<(), String> {
        self.clients
            .plan_admin(&mut self.sim.core, AdminOp::new(at, node, admin))
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
    pub fn plan(&mut self, op: PlannedOp) -> Result<(), String> {
        self.clients.plan(&mut self.sim.core, op)
    }

    /// Adds generated load; its clients are numbered after every explicit client.
    pub fn add_load(&mut self, spec: LoadSpec) -> Result<(), String> {
        self.clients.add_load(&mut self.sim.core, spec)
    }

    /// Schedules `fault` to happen at `at`.
    pub fn fault(&mut self, at: SimTime, fault: Fault) {
        self.sim.core.schedule_fault(at, fault);
    }

    /// Runs the cluster with its clients until `t` (events at `t` included), and says why it stopped.
    pub fn run_until(&mut self, t: SimTime) -> Stop {
        self.sim.run(&mut self.clients, Limits::until(t))
    }

    /// Starts `program` on the cluster's clients: it issues its first
    /// operations. Nothing else may be planned for the clients.
    pub fn start_program<P: Program + ?Sized>(&mut self, program: &mut P) {
        assert!(
            self.clients.idle(),
            "a program runs on clients with nothing else planned"
        );
        Running {
            clients: &mut self.clients,
            program,
        }
        .start(&mut self.sim.core);
    }

    /// Runs the cluster with `program` on its clients, until `limits`.
    pub fn run_program<P: Program + ?Sized>(&mut self, program: &mut P, limits: Limits) -> Stop {
        let mut running = Running {
            clients: &mut self.clients,
            program,
        };
        self.sim.run(&mut running, limits)
    }

    /// Wakes the running program at `at` with `tag` (as its own
    /// [`ProgramIo::wake_at`](crate::ProgramIo::wake_at) would).
    pub fn wake_program(&mut self, at: SimTime, tag: u64) {
        self.sim.core.schedule_wake(at, Wake::Program(tag));
    }

    /// Runs the cluster with its clients until `limits`, and says why it stopped.
    pub fn run_with(&mut self, limits: Limits) -> Stop {
        self.sim.run(&mut self.clients, limits)
    }

    /// The simulated time now.
    pub fn now(&self) -> SimTime {
        self.sim.now()
    }

    /// The history so far: one record per planned or generated operation, in the order issued.
    pub fn history(&self) -> &[OpRecord] {
        self.clients.history()
    }

    /// Node `n`'s state machine.
    pub fn node(&self, n: NodeId) -> &DynamoNode {
        &self.sim.nodes[n.index()]
    }

    /// Every node's state machine, by node index.
    pub fn nodes(&self) -> &[DynamoNode] {
        &self.sim.nodes
    }

    /// Makes a key for the cluster's starting ring, or says why the name is not a valid key.
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
