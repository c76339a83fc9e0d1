//! Scenario files: TOML in, a validated [`Scenario`] out, or every problem
//! in the file at once. `scenarios/README.md` documents the format.

pub mod diag;
pub mod expect;
pub mod scope;
pub mod toml_read;
pub mod write;

pub use expect::{Check, Expect};

use diag::{Collector, Diags};
use dynamo_model::Msg;
use dynamo_model::limits;
use dynamo_model::{ClusterConfig, Key, KeyScheme, TokenStrategy, Versioning};
use dynamo_observer::{Entry, KeyChoice, LoadSpec, OpKind, Pacing};
use sim_core::{
    ClientId, Fault, Latency, LinkConfig, Message, NetConfig, NodeId, SimDuration, SimTime,
    ZoneLink,
};
use std::collections::BTreeMap;
use std::ops::Range;
use toml::de::DeValue;
use toml_read::{Tbl, closest, read_document, read_file};

/// A client operation step.
#[derive(Clone, Debug, PartialEq)]
pub struct OpStep {
    /// Put, get or delete.
    pub kind: OpKind,
    /// The node the request is sent to: a named node, random, owner or proxy.
    pub entry: Entry,
    /// The key it reads or writes.
    pub key: Key,
    /// The value a put writes (none for gets and deletes).
    pub value: Option<String>,
    /// The step's name, by which later steps and expectations refer to it.
    pub name: Option<String>,
    /// The step index of the get whose context this put carries.
    pub context_from: Option<usize>,
    /// The client that issues it (`c0` unless the file says otherwise).
    pub client: ClientId,
}

/// What a timeline step does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A client operation.
    Op(OpStep),
    /// A fault injected into the network or a node, or one healed.
    Fault(Fault),
    /// A membership change (`do = "join"` / `"leave"`) the administrator asks `node` for.
    Membership {
        /// The node asked to join or leave.
        node: NodeId,
        /// Join (with these tokens: positions under S1, partition numbers
        /// under S3 and explicit; none: the node picks) or leave.
        join: Option<Vec<u64>>,
    },
    /// Heals everything at once (`do = "heal-all"`): the runner applies it as
    /// the faults of [`heal_all`], so each restart, resume and reset is still
    /// its own fault in the trace, yet the file names no node for it.
    HealAll,
    /// A fault timed to a protocol event (`do = "trigger"`): armed at the
    /// step's time, the first message of its kind any node sends before
    /// `until` fires it.
    Trigger(TriggerStep),
    /// In a scenario whose network delivers by steps (`[network] deliver =
    /// "by-steps"`): a held message or request delivered or lost, a held
    /// message copied, a held timer fired, time let pass (`wait`), or the
    /// network let go (`run-freely`).
    Held(dynamo_explorer::StepKind),
}

/// A `trigger` step: `on` (a message kind), `fault`, `for` and `until`.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggerStep {
    /// The message kind that fires it.
    pub on: &'static str,
    /// What it does to the send's nodes.
    pub fault: dynamo_observer::TriggerFault,
    /// How long the fault lasts.
    pub lasting: SimDuration,
    /// After this time no send fires it.
    pub until: SimTime,
}

/// What a `heal-all` step applies, in this order: every partition and
/// one-way cut healed, loss and duplication back to the network's base
/// values, then for each node a restart, a resume, and its slowness and
/// clock skew cleared. A restart of a node that is up and a resume of one
/// that is not paused change nothing (the trace still shows them).
pub fn heal_all(nodes: u32, net: &NetConfig) -> Vec<Fault> {
    let mut faults = vec![
        Fault::Heal,
        Fault::Loss { p: net.loss },
        Fault::Duplicate { p: net.duplicate },
    ];
    for n in 0..nodes {
        let node = NodeId(n);
        faults.push(Fault::Restart { node });
        faults.push(Fault::Resume { node });
        faults.push(Fault::Slow {
            node,
            extra: SimDuration::ZERO,
        });
        faults.push(Fault::ClockSkew { node, skew_us: 0 });
    }
    faults
}

/// One step of the timeline: an action at a simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// When it happens; a file's steps are in time order.
    pub at: SimTime,
    /// The line of the scenario file it came from (0 for a step a sweep or
    /// shrink made).
    pub line: usize,
    /// What it does.
    pub action: Action,
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The file it was read from, as given (or the name the text was parsed under).
    pub path: String,
    /// The scenario's name (`name`).
    pub name: String,
    /// What it shows (`description`; empty when not given).
    pub description: String,
    /// The seed a run uses unless `--seed` overrides it.
    pub seed: u64,
    /// How long to simulate.
    pub duration: SimDuration,
    /// The cluster's configuration (`[cluster]`).
    pub cluster: ClusterConfig,
    /// The network model (`[network]`).
    pub net: NetConfig,
    /// The timeline (`[[steps]]`), in time order.
    pub steps: Vec<Step>,
    /// The generated workload (`[load]`), if any.
    pub load: Option<LoadSpec>,
    /// What the run must show (`[[expect]]`), in file order.
    pub expects: Vec<Expect>,
    /// `[checks] quorum_reads = "always"`: judge every get, whatever R, W and faults.
    pub always_judge_reads: bool,
    /// `[swarm]`: mechanisms a sweep of this base draws into each seed's mix.
    pub swarm: SwarmSwitches,
    /// `[network] deliver = "by-steps"`: messages, client requests and node
    /// timers wait for the steps that release them (how `dynsim check`
    /// writes its counterexamples), and steps apply one after another.
    pub hold: bool,
}

/// The `[swarm]` switches: what a sweep draws beyond faults and the workload.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmSwitches {
    /// The knobs that make rare interleavings common (on unless switched
    /// off): a slow node, a slow message kind, bursts of concurrent
    /// operations on one key, and faults timed to protocol events.
    pub interleavings: bool,
    /// Read-modify-write clients delete some of what they read.
    pub deletes: bool,
    /// Each node of `[cluster] outside` joins at a random time of the faulty phase.
    pub joins: bool,
    /// One member (never a seed) leaves at a random time of the faulty phase,
    /// when the ring keeps more than N members without it.
    pub leaves: bool,
}

impl Default for SwarmSwitches {
    fn default() -> SwarmSwitches {
        SwarmSwitches {
            interleavings: true,
            deletes: false,
            joins: false,
            leaves: false,
        }
    }
}

impl Scenario {
    /// Whether a message kind's own latency (`[network] per_kind`) can go
    /// past half the request timeout: coordinators then give up on replicas
    /// and turn to fallbacks, as under a fault, for the whole run. (The
    /// swarm's slow-kind knob draws such latencies.)
    pub fn slow_kind_is_a_fault(&self) -> bool {
        let half = self.cluster.request_timeout.as_us() as f64 / 2.0;
        self.net
            .per_kind
            .iter()
            .any(|(_, l)| l.max_us().is_none_or(|m| m > half))
    }

    /// Whether the timeline or the network injects any fault.
    pub fn has_faults(&self) -> bool {
        if self.slow_kind_is_a_fault() {
            return true;
        }
        self.steps.iter().any(|s| {
            matches!(
                s.action,
                Action::Fault(_)
                    | Action::HealAll
                    | Action::Membership { .. }
                    | Action::Trigger(_)
                    | Action::Held(
                        dynamo_explorer::StepKind::DropMsg { .. }
                            | dynamo_explorer::StepKind::DropRequest { .. }
                            | dynamo_explorer::StepKind::Duplicate { .. }
                    )
            )
        }) || self.net.loss > 0.0
            || self.net.duplicate > 0.0
            || self
                .net
                .links
                .iter()
                .any(|l| l.loss.unwrap_or(0.0) > 0.0 || l.duplicate.unwrap_or(0.0) > 0.0)
    }
}

const TOP: &[&str] = &[
    "name",
    "description",
    "seed",
    "duration",
    "cluster",
    "network",
    "steps",
    "load",
    "expect",
    "checks",
    "swarm",
];
const CLUSTER: &[&str] = &[
    "nodes",
    "n",
    "r",
    "w",
    "keys",
    "hash_bits",
    "tokens",
    "tokens_per_node",
    "partitions",
    "explicit_tokens",
    "versioning",
    "request_timeout",
    "op_deadline",
    "read_repair",
    "read_repair_window",
    "hinted_handoff",
    "hint_interval",
    "gossip",
    "gossip_interval",
    "retry_interval",
    "anti_entropy",
    "anti_entropy_interval",
    "merkle_depth",
    "vclock_max_entries",
    "tombstone_grace",
    "forward_to_owner",
    "proxies",
    "random_quorums",
    "outside",
    "seeds",
    "datacenters",
    "node_datacenters",
    "datacenter_aware",
    "inject_bug",
];
const NETWORK: &[&str] = &[
    "latency",
    "per_kind",
    "loss",
    "duplicate",
    "links",
    "client_latency",
    "client_request_latency",
    "client_reply_latency",
    "datacenter_links",
];
const LINK: &[&str] = &["from", "to", "latency", "loss", "duplicate"];
const DC_LINK: &[&str] = &["between", "from", "to", "remote", "latency", "per_kind"];
const STEP_KINDS: &[&str] = &[
    "put",
    "get",
    "delete",
    "join",
    "leave",
    "crash",
    "crash-wipe",
    "restart",
    "pause",
    "resume",
    "partition",
    "one-way",
    "heal",
    "heal-all",
    "deliver",
    "lose",
    "copy",
    "fire",
    "wait",
    "run-freely",
    "trigger",
    "skew",
    "loss",
    "duplicate",
    "slow",
];
const LOAD: &[&str] = &[
    "clients",
    "pacing",
    "think",
    "rate",
    "keys",
    "distribution",
    "zipf_exponent",
    "read_fraction",
    "read_modify_write",
    "delete_fraction",
    "via",
    "start",
    "stop",
    "ops",
];
const EXPECT: &[&str] = &[
    "op",
    "ok",
    "values",
    "siblings",
    "clock",
    "at",
    "node",
    "holds",
    "lacks",
    "value",
    "hint",
    "no_hint",
    "for",
    "believes_up",
    "believes_down",
    "checker",
    "verdict",
    "acks",
    "needed",
    "exactly",
    "versions",
    "counter",
    "equals",
    "at_least",
    "at_most",
    "event",
    "after",
    "within",
];
const DISTS: &[&str] = &[
    "constant",
    "uniform",
    "normal",
    "exponential",
    "pareto",
    "mixture",
];

/// Reads and validates a scenario file.
pub fn load(path: &str) -> Result<Scenario, Diags> {
    parse(path, &read_file(path)?)
}

/// Parses and validates scenario text; `file` names it in messages.
pub fn parse(file: &str, src: &str) -> Result<Scenario, Diags> {
    read_document(file, src, read)
}

/// The node count given to the node readers when the cluster's own had a
/// problem: any well-formed node name is then accepted, so that one mistake
/// in `nodes` does not become a problem at every node name.
pub(crate) const NODES_UNKNOWN: u32 = u32::MAX;

fn node_ref(c: &mut Collector, t: &Tbl, key: &str, nodes: u32) -> Option<NodeId> {
    let s = t.str(c, key)?;
    parse_node(c, &s, t.span_of(key), &t.field(key), nodes)
}

fn parse_node(
    c: &mut Collector,
    s: &str,
    span: Range<usize>,
    field: &str,
    nodes: u32,
) -> Option<NodeId> {
    let n = s.strip_prefix('n').and_then(|d| d.parse::<u32>().ok());
    match n {
        Some(i) if i < nodes => Some(NodeId(i)),
        _ => {
            let valid = if nodes == NODES_UNKNOWN {
                "node names are n0, n1, n2, ...".to_string()
            } else if nodes == 0 {
                "the cluster has no nodes".to_string()
            } else {
                format!("valid nodes are n0..n{}", nodes - 1)
            };
            c.err(span, field, format!("unknown node {s}; {valid}"));
            None
        }
    }
}

fn node_list(c: &mut Collector, t: &Tbl, key: &str, nodes: u32) -> Option<Vec<NodeId>> {
    let items = t.strings(c, key)?;
    let mut out = Vec::new();
    for (s, span) in items {
        out.push(parse_node(c, &s, span, &t.field(key), nodes)?);
    }
    Some(out)
}

/// Top-level fields only a scenario has.
pub(crate) const SCENARIO_ONLY: &[&str] = &["duration", "steps", "load", "expect", "checks"];
/// Top-level fields only an experiment file has.
pub(crate) const EXPERIMENT_ONLY: &[&str] = &["kind", "trials", "sweep", "deviations"];

/// The first of `fields` the root table has, if it has none of `not`: how a
/// file given to the wrong command is recognized.
pub(crate) fn kind_marker<'f>(root: &Tbl, fields: &[&'f str], not: &[&str]) -> Option<&'f str> {
    if not.iter().any(|f| root.has(f)) {
        return None;
    }
    fields.iter().copied().find(|f| root.has(f))
}

fn read(c: &mut Collector, root: &Tbl) -> Option<Scenario> {
    if let Some(field) = kind_marker(root, EXPERIMENT_ONLY, SCENARIO_ONLY) {
        // Its other fields would only be reported as unknown.
        c.err(
            root.span_of(field),
            field,
            format!(
                "this is an experiment file, not a scenario; run it with `dynsim experiment {}`",
                c.file
            ),
        );
        return None;
    }
    if root.has("check") && !root.has("steps") {
        c.err(
            root.span_of("check"),
            "check",
            format!(
                "this is a check scope, not a scenario; explore it with `dynsim check {}`",
                c.file
            ),
        );
        return None;
    }
    root.only(c, TOP);
    let name = root.str(c, "name");
    root.require(
        c,
        "name",
        "every scenario needs a name, like name = \"failure\"",
    );
    let description = root.str(c, "description").unwrap_or_default();
    let seed = root.u64(c, "seed");
    root.require(
        c,
        "seed",
        "every scenario states its seed, like seed = 1 (--seed overrides it)",
    );
    let duration = root.duration(c, "duration");

    let cluster = match root.table(c, "cluster") {
        Some(t) => read_cluster(c, &t),
        None => {
            root.require(c, "cluster", "a [cluster] table with at least `nodes`");
            None
        }
    };
    let nodes = cluster.as_ref().map_or(NODES_UNKNOWN, |cl| cl.nodes);
    // Unknown proxies (a broken [cluster]) allow "proxy": no second error for one mistake.
    let proxies = cluster.as_ref().map_or(u32::MAX, |cl| cl.proxies);
    let dcs = cluster.as_ref().map(|cl| cl.datacenters.as_slice());
    let mut hold = false;
    let net = match root.table(c, "network") {
        Some(t) => {
            match t.str(c, "deliver").as_deref() {
                None | Some("by-latency") => {}
                Some("by-steps") => hold = true,
                Some(other) => c.err(
                    t.span_of("deliver"),
                    t.field("deliver"),
                    format!("unknown mode {other:?}; valid modes are \"by-latency\" (the network model, the default) and \"by-steps\" (messages, requests and timers wait for steps that release them)"),
                ),
            }
            read_network(c, &t, nodes, dcs, &["deliver"])
        }
        None => Some(NetConfig::default()),
    };
    let scheme = cluster.as_ref().map(|cl| cl.key_scheme.clone());
    // What a join step's tokens may be: ring positions below 2^bits under S1,
    // partition numbers below Q otherwise (unknown when the cluster had a problem).
    let token_limit = cluster.as_ref().map(|cl| match &cl.tokens {
        TokenStrategy::Random { .. } => match cl.key_scheme {
            KeyScheme::Md5 => (u64::MAX, "ring positions"),
            KeyScheme::Integer { hash_bits } => (1u64 << hash_bits.min(63), "ring positions"),
        },
        _ => (cl.total_tokens(), "partition numbers"),
    });
    let (steps, names) = read_steps(c, root, nodes, proxies, scheme.as_ref(), token_limit, hold);
    if hold && root.has("load") {
        c.err(
            root.span_of("load"),
            "load",
            "a network that delivers by steps takes no generated load: every operation is a step",
        );
    }
    let load = match root.table(c, "load") {
        Some(t) => read_load(c, &t, nodes, proxies, scheme.as_ref()),
        None => Some(None),
    };
    let expects = read_expects(c, root, nodes, scheme.as_ref(), &names, &steps);
    let mut always_judge_reads = false;
    if let Some(t) = root.table(c, "checks") {
        t.only(c, &["quorum_reads"]);
        match t.str(c, "quorum_reads").as_deref() {
            None | Some("auto") => {}
            Some("always") => always_judge_reads = true,
            Some(other) => c.err(
                t.span_of("quorum_reads"),
                t.field("quorum_reads"),
                format!("unknown mode {other:?}; valid modes are \"auto\" (only when R + W > N and no fault) and \"always\""),
            ),
        }
    }
    let mut swarm = SwarmSwitches::default();
    if let Some(t) = root.table(c, "swarm") {
        t.only(c, &["interleavings", "deletes", "joins", "leaves"]);
        swarm.interleavings = t.bool(c, "interleavings").unwrap_or(true);
        swarm.deletes = t.bool(c, "deletes").unwrap_or(false);
        swarm.joins = t.bool(c, "joins").unwrap_or(false);
        swarm.leaves = t.bool(c, "leaves").unwrap_or(false);
    }

    let last_step = steps.iter().map(|s| s.at).max().unwrap_or(SimTime::ZERO);
    let last_expect = expects
        .iter()
        .filter_map(|e| e.at)
        .max()
        .unwrap_or(SimTime::ZERO);
    let load_stop = load
        .as_ref()
        .and_then(|l| l.as_ref().map(|l| l.stop))
        .unwrap_or(SimTime::ZERO);
    let end = last_step.max(last_expect).max(load_stop);
    let duration = match duration {
        Some(d) => {
            if SimTime::ZERO + d < end {
                c.err(
                    root.span_of("duration"),
                    "duration",
                    format!("{d} ends before the last step or expectation at {end}"),
                );
            }
            d
        }
        // Long enough for every step, then 10s to settle (timeouts, hints,
        // gossip), within the bound on durations so it can be written back.
        None => {
            (SimDuration(end.as_us()) + SimDuration::from_secs(10)).min(SimDuration::MAX_PARSED)
        }
    };
    Some(Scenario {
        path: c.file.to_string(),
        name: name?,
        description,
        seed: seed?,
        duration,
        cluster: cluster?,
        net: net?,
        steps,
        load: load?,
        expects,
        always_judge_reads,
        swarm,
        hold,
    })
}

pub(crate) fn read_cluster(c: &mut Collector, t: &Tbl) -> Option<ClusterConfig> {
    t.only(c, CLUSTER);
    let d = ClusterConfig::default();
    let before = c.diags.len();
    t.require(c, "nodes", "how many nodes the cluster has, like nodes = 4");
    // Checked against its bound before anything is sized by it.
    let nodes_read = t
        .count(c, "nodes", 0, u64::from(limits::MAX_NODES))
        .map(|n| n as u32);
    let nodes = nodes_read.unwrap_or(0);
    let key_scheme = match t.str(c, "keys").as_deref() {
        None | Some("md5") => {
            if t.has("hash_bits") {
                c.err(
                    t.span_of("hash_bits"),
                    t.field("hash_bits"),
                    "hash_bits applies only to keys = \"integer\"",
                );
            }
            KeyScheme::Md5
        }
        Some("integer") => KeyScheme::Integer {
            hash_bits: t.int_in(c, "hash_bits", 1, 63).unwrap_or(8) as u32,
        },
        Some(other) => {
            c.err(
                t.span_of("keys"),
                t.field("keys"),
                format!("unknown key scheme {other:?}; valid schemes are \"md5\" and \"integer\""),
            );
            KeyScheme::Md5
        }
    };
    let tokens = match t.str(c, "tokens").as_deref() {
        None | Some("random") => TokenStrategy::Random {
            tokens_per_node: t
                .count(
                    c,
                    "tokens_per_node",
                    0,
                    u64::from(limits::MAX_TOKENS_PER_NODE),
                )
                .map_or(8, |n| n as u32),
        },
        Some("equal") => {
            t.require(
                c,
                "partitions",
                "tokens = \"equal\" needs the number of equal partitions Q",
            );
            TokenStrategy::EqualPartitions {
                partitions: t
                    .count(c, "partitions", 0, limits::MAX_TOKENS)
                    .map_or(nodes, |n| n as u32),
            }
        }
        Some("explicit") => {
            // `nodes` is within its bound here, or 0 when it had a problem.
            let mut per_node = vec![Vec::new(); nodes as usize];
            if nodes_read.is_none() {
                // Which nodes exist is unknown, so the tokens cannot be checked.
            } else if let Some(tt) = t.table(c, "explicit_tokens") {
                for (k, v) in tt.table.iter() {
                    let field = tt.field(k.get_ref());
                    let Some(node) = parse_node(c, k.get_ref(), k.span(), &field, nodes) else {
                        continue;
                    };
                    match v.get_ref() {
                        DeValue::Array(items) => {
                            for item in items.iter() {
                                match item
                                    .get_ref()
                                    .as_integer()
                                    .and_then(|i| u32::from_str_radix(i.as_str(), i.radix()).ok())
                                {
                                    Some(tok) => per_node[node.index()].push(tok),
                                    None => c.err(
                                        item.span(),
                                        &field,
                                        "tokens are whole numbers >= 0 (partition indices)",
                                    ),
                                }
                            }
                        }
                        _ => c.err(
                            v.span(),
                            &field,
                            "expected an array of partition indices, like n0 = [1]",
                        ),
                    }
                }
            } else {
                t.require(
                    c,
                    "explicit_tokens",
                    "tokens = \"explicit\" needs explicit_tokens = { n0 = [1], n1 = [2], ... }",
                );
            }
            TokenStrategy::Explicit { tokens: per_node }
        }
        Some(other) => {
            c.err(t.span_of("tokens"), t.field("tokens"), format!("unknown token strategy {other:?}; valid strategies are \"random\" (S1), \"equal\" (S3), \"explicit\""));
            d.tokens.clone()
        }
    };
    let n = t.u32(c, "n").unwrap_or(d.n.min(nodes.max(1)));
    let r = t.u32(c, "r").unwrap_or(d.r.min(n));
    let w = t.u32(c, "w").unwrap_or(d.w.min(n));
    // Whole-config rules need the structural fields; skip them if those had problems.
    let structural_ok = c.diags.len() == before;
    let cfg = ClusterConfig {
        nodes,
        key_scheme,
        tokens,
        n,
        r,
        w,
        versioning: read_versioning(c, t),
        request_timeout: t
            .duration(c, "request_timeout")
            .unwrap_or(d.request_timeout),
        op_deadline: t.duration(c, "op_deadline").unwrap_or(d.op_deadline),
        read_repair: t.bool(c, "read_repair").unwrap_or(d.read_repair),
        read_repair_window: t
            .duration(c, "read_repair_window")
            .unwrap_or(d.read_repair_window),
        hinted_handoff: t.bool(c, "hinted_handoff").unwrap_or(d.hinted_handoff),
        hint_interval: t.duration(c, "hint_interval").unwrap_or(d.hint_interval),
        gossip: t.bool(c, "gossip").unwrap_or(d.gossip),
        gossip_interval: t
            .duration(c, "gossip_interval")
            .unwrap_or(d.gossip_interval),
        retry_interval: t.duration(c, "retry_interval").unwrap_or(d.retry_interval),
        anti_entropy: t.bool(c, "anti_entropy").unwrap_or(d.anti_entropy),
        anti_entropy_interval: t
            .duration(c, "anti_entropy_interval")
            .unwrap_or(d.anti_entropy_interval),
        merkle_depth: t
            .count(c, "merkle_depth", 1, u64::from(limits::MAX_MERKLE_DEPTH))
            .map_or(d.merkle_depth, |n| n as u32),
        vclock_max_entries: t
            .count(
                c,
                "vclock_max_entries",
                1,
                u64::from(limits::MAX_VCLOCK_ENTRIES),
            )
            .map_or(d.vclock_max_entries, |n| n as u32),
        tombstone_grace: t
            .duration(c, "tombstone_grace")
            .unwrap_or(d.tombstone_grace),
        forward_to_owner: t.bool(c, "forward_to_owner").unwrap_or(d.forward_to_owner),
        proxies: t
            .count(c, "proxies", 0, u64::from(limits::MAX_NODES))
            .map_or(d.proxies, |n| n as u32),
        random_quorums: t.bool(c, "random_quorums").unwrap_or(d.random_quorums),
        outside: node_list(c, t, "outside", nodes)
            .unwrap_or_default()
            .iter()
            .map(|n| n.0)
            .collect(),
        seeds: if t.has("seeds") {
            node_list(c, t, "seeds", nodes)
                .unwrap_or_default()
                .iter()
                .map(|n| n.0)
                .collect()
        } else {
            d.seeds.clone()
        },
        datacenters: t
            .strings(c, "datacenters")
            .map(|v| v.into_iter().map(|(s, _)| s).collect())
            .unwrap_or_default(),
        node_datacenters: Vec::new(),
        datacenter_aware: t.bool(c, "datacenter_aware").unwrap_or(d.datacenter_aware),
        #[cfg(feature = "bugs")]
        bug: read_bug(c, t),
    };
    #[cfg(not(feature = "bugs"))]
    if t.str(c, "inject_bug").is_some() {
        c.err(
            t.span_of("inject_bug"),
            t.field("inject_bug"),
            "this dynsim was built without injected bugs, which only negative scenarios use; \
             they run in the test suite (cargo test --workspace), or build dynsim with \
             --features bugs",
        );
    }
    let mut cfg = cfg;
    if let Some(places) = t.strings(c, "node_datacenters") {
        let errors_before = c.diags.len();
        if cfg.datacenters.is_empty() {
            c.err(
                t.span_of("node_datacenters"),
                t.field("node_datacenters"),
                "node_datacenters places nodes in data centres, but none are named; add datacenters = [\"a\", \"b\"]",
            );
        }
        for (i, (name, span)) in places.into_iter().enumerate() {
            match cfg.datacenters.iter().position(|d| *d == name) {
                Some(k) => cfg.node_datacenters.push(k as u32),
                None if cfg.datacenters.is_empty() => {}
                None => c.err(
                    span,
                    format!("{}[{}]", t.field("node_datacenters"), i + 1),
                    format!(
                        "unknown data centre {name:?}; datacenters = [...] names {}",
                        quoted_list(&cfg.datacenters)
                    ),
                ),
            }
        }
        if c.diags.len() > errors_before {
            // One error a mistake: not a second one for the list's length.
            cfg.node_datacenters.clear();
        }
    }
    if structural_ok {
        // Whole-config rules, reported at the field they are most about.
        for (field, problem) in cfg.problems() {
            c.err(t.span_of(field), t.field(field), problem);
        }
    }
    // Without a valid node count, nothing that refers to nodes can be checked.
    nodes_read.map(|_| cfg)
}

/// `inject_bug`: one of the injected bugs, by name (only with the `bugs` feature).
#[cfg(feature = "bugs")]
fn read_bug(c: &mut Collector, t: &Tbl) -> Option<dynamo_model::bugs::Bug> {
    let name = t.str(c, "inject_bug")?;
    let bug = dynamo_model::bugs::Bug::from_name(&name);
    if bug.is_none() {
        c.err(
            t.span_of("inject_bug"),
            t.field("inject_bug"),
            format!(
                "unknown bug {name:?}; injectable bugs are {}",
                dynamo_model::bugs::Bug::names()
            ),
        );
    }
    bug
}

fn read_versioning(c: &mut Collector, t: &Tbl) -> Versioning {
    match t.str(c, "versioning").as_deref() {
        None | Some("vector-clock") => Versioning::VectorClock,
        Some("last-write-wins") => Versioning::LastWriteWins,
        Some(other) => {
            c.err(
                t.span_of("versioning"),
                t.field("versioning"),
                format!("unknown versioning {other:?}; valid values are \"vector-clock\" and \"last-write-wins\""),
            );
            Versioning::VectorClock
        }
    }
}

pub(crate) fn read_latency(c: &mut Collector, parent: &Tbl, key: &str) -> Option<Latency> {
    let v = parent.get(key)?;
    let field = parent.field(key);
    match v.get_ref() {
        DeValue::String(s) => match SimDuration::parse(s) {
            Ok(d) => Some(Latency::constant(d)),
            Err(e) => {
                c.err(v.span(), field, e);
                None
            }
        },
        DeValue::Table(t) => latency_table(c, &Tbl::new(field, t, v.span())),
        _ => {
            c.err(v.span(), field, "expected a latency: a duration like \"10ms\", or a table like { dist = \"uniform\", min = \"1ms\", max = \"5ms\" }");
            None
        }
    }
}

/// A duration given as a string, allowing sub-microsecond precision for distribution parameters.
fn param_us(c: &mut Collector, t: &Tbl, key: &str) -> Option<f64> {
    let v = t.get(key)?;
    let DeValue::String(s) = v.get_ref() else {
        c.err(
            v.span(),
            t.field(key),
            "expected a duration string like \"0.235ms\"",
        );
        return None;
    };
    match SimDuration::parse_us(s) {
        Ok(us) => Some(us),
        Err(e) => {
            c.err(v.span(), t.field(key), e);
            None
        }
    }
}

fn latency_table(c: &mut Collector, t: &Tbl) -> Option<Latency> {
    let dist = t.str(c, "dist");
    if !t.require(
        c,
        "dist",
        &format!("which distribution; valid values are {}", DISTS.join(", ")),
    ) {
        return None;
    }
    let lat = match dist.as_deref()? {
        "constant" => {
            t.only(c, &["dist", "value", "weight", "offset"]);
            t.require(c, "value", "the constant latency, like value = \"10ms\"");
            Latency::Constant {
                us: param_us(c, t, "value")?,
            }
        }
        "uniform" => {
            t.only(c, &["dist", "min", "max", "weight", "offset"]);
            t.require(c, "min", "the smallest latency, like min = \"1ms\"");
            t.require(c, "max", "the largest latency, like max = \"5ms\"");
            Latency::Uniform {
                min_us: param_us(c, t, "min")?,
                max_us: param_us(c, t, "max")?,
            }
        }
        "normal" => {
            t.only(c, &["dist", "mean", "sd", "weight", "offset"]);
            t.require(c, "mean", "the mean, like mean = \"50ms\"");
            t.require(c, "sd", "the standard deviation, like sd = \"50ms\"");
            Latency::Normal {
                mean_us: param_us(c, t, "mean")?,
                sd_us: param_us(c, t, "sd")?,
            }
        }
        "exponential" => {
            t.only(c, &["dist", "mean", "rate_per_ms", "weight", "offset"]);
            match (t.has("mean"), t.has("rate_per_ms")) {
                (true, false) => Latency::Exponential {
                    mean_us: param_us(c, t, "mean")?,
                },
                (false, true) => {
                    let rate = t.float(c, "rate_per_ms")?;
                    if rate <= 0.0 {
                        c.err(
                            t.span_of("rate_per_ms"),
                            t.field("rate_per_ms"),
                            "the rate must be > 0",
                        );
                        return None;
                    }
                    // The mean, 1/rate, is a duration, under the same bound as every other.
                    let max_ms = SimDuration::MAX_PARSED.as_ms_f64();
                    if 1.0 / rate > max_ms {
                        c.err(
                            t.span_of("rate_per_ms"),
                            t.field("rate_per_ms"),
                            format!(
                                "rate_per_ms = {rate:e} makes the mean latency 1/rate longer than the bound of {}; the rate must be at least {:e}",
                                SimDuration::MAX_PARSED,
                                1.0 / max_ms
                            ),
                        );
                        return None;
                    }
                    Latency::Exponential {
                        mean_us: 1_000.0 / rate,
                    }
                }
                _ => {
                    c.err(
                        t.span.clone(),
                        t.field("dist"),
                        "an exponential needs exactly one of mean = \"2ms\" or rate_per_ms = 0.5",
                    );
                    return None;
                }
            }
        }
        "pareto" => {
            t.only(c, &["dist", "xm", "alpha", "weight", "offset"]);
            t.require(c, "xm", "the scale x_m, like xm = \"0.235ms\"");
            t.require(c, "alpha", "the shape, like alpha = 10");
            Latency::Pareto {
                scale_us: param_us(c, t, "xm")?,
                alpha: t.float(c, "alpha")?,
            }
        }
        "mixture" => {
            t.only(c, &["dist", "parts", "weight", "offset"]);
            t.require(c, "parts", "the components, like parts = [{ weight = 0.9, dist = \"constant\", value = \"1ms\" }, ...]");
            let mut parts = Vec::new();
            for p in t.tables(c, "parts") {
                p.require(c, "weight", "each component's weight, like weight = 0.9");
                let w = p.float(c, "weight");
                let l = latency_table(c, &p);
                if let (Some(w), Some(l)) = (w, l) {
                    parts.push((w, l));
                }
            }
            Latency::Mixture(parts)
        }
        other => {
            let hint = closest(other, DISTS)
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_default();
            c.err(
                t.span_of("dist"),
                t.field("dist"),
                format!(
                    "unknown distribution {other:?}{hint}; valid values are {}",
                    DISTS.join(", ")
                ),
            );
            return None;
        }
    };
    // Any distribution may sit on a constant offset: `offset = "75ms"`.
    let lat = if t.has("offset") {
        Latency::Shifted {
            offset_us: param_us(c, t, "offset")?,
            inner: Box::new(lat),
        }
    } else {
        lat
    };
    if let Err(e) = lat.validate() {
        c.err(t.span.clone(), t.path.clone(), e);
        return None;
    }
    Some(lat)
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    let q: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    q.join(", ")
}

/// Message kinds with a latency of their own: `per_kind = { Replicate = "2ms", ... }`.
fn read_per_kind(c: &mut Collector, t: &Tbl) -> Vec<(String, Latency)> {
    let mut out = Vec::new();
    if let Some(pk) = t.table(c, "per_kind") {
        for (k, _) in pk.table.iter() {
            let name: &str = k.get_ref();
            if !Msg::KINDS.contains(&name) {
                let hint = closest(name, Msg::KINDS)
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default();
                c.err(
                    k.span(),
                    pk.field(name),
                    format!(
                        "unknown message kind{hint}; valid kinds are {}",
                        Msg::KINDS.join(", ")
                    ),
                );
            } else if let Some(l) = read_latency(c, &pk, name) {
                out.push((name.to_string(), l));
            }
        }
    }
    out
}

/// `[[network.datacenter_links]]`: latency between data centres (or within
/// one), by `between = ["a", "b"]` (both directions) or `remote = true`
/// (every pair of different data centres). `dcs` is `None` when the cluster
/// could not be read, so names cannot be checked.
fn read_datacenter_links(c: &mut Collector, t: &Tbl, dcs: Option<&[String]>, net: &mut NetConfig) {
    for l in t.tables(c, "datacenter_links") {
        l.only(c, DC_LINK);
        let latency = if l.has("latency") {
            read_latency(c, &l, "latency")
        } else {
            None
        };
        let per_kind = read_per_kind(c, &l);
        if !l.has("latency") && !l.has("per_kind") {
            c.err(
                l.span.clone(),
                l.path.clone(),
                "a data-centre link needs a latency = ... or per_kind = { ... }",
            );
        }
        let remote = l.bool(c, "remote").unwrap_or(false);
        let directed = l.has("from") || l.has("to");
        let mut pairs = Vec::new();
        // A data-centre name's index, reported at `key` when unknown.
        let index = |c: &mut Collector, name: &str, span: Range<usize>, key: &str| {
            let dcs = dcs?;
            let k = dcs.iter().position(|d| d == name);
            if k.is_none() {
                c.err(
                    span,
                    l.field(key),
                    format!(
                        "unknown data centre {name:?}; [cluster] datacenters names {}",
                        quoted_list(dcs)
                    ),
                );
            }
            k.map(|k| k as u32)
        };
        match (l.has("between"), directed, remote) {
            (true, false, false) => {
                let Some(names) = l.strings(c, "between") else {
                    continue;
                };
                if names.len() != 2 {
                    c.err(
                        l.span_of("between"),
                        l.field("between"),
                        format!("between names two data centres, like between = [\"east\", \"west\"]; found {}", names.len()),
                    );
                    continue;
                }
                let a = index(c, &names[0].0, names[0].1.clone(), "between");
                let b = index(c, &names[1].0, names[1].1.clone(), "between");
                if let (Some(a), Some(b)) = (a, b) {
                    pairs.push((a, b));
                    if a != b {
                        pairs.push((b, a));
                    }
                }
            }
            (false, true, false) => {
                l.require(c, "from", "the sending data centre, like from = \"east\"");
                l.require(c, "to", "the receiving data centre, like to = \"west\"");
                let from = l.str(c, "from");
                let to = l.str(c, "to");
                let (Some(from), Some(to)) = (from, to) else {
                    continue;
                };
                let a = index(c, &from, l.span_of("from"), "from");
                let b = index(c, &to, l.span_of("to"), "to");
                if let (Some(a), Some(b)) = (a, b) {
                    pairs.push((a, b));
                }
            }
            (false, false, true) => {
                let d = dcs.map_or(0, <[String]>::len) as u32;
                if dcs.is_some_and(|x| x.len() < 2) {
                    c.err(
                        l.span_of("remote"),
                        l.field("remote"),
                        "remote = true needs at least two datacenters in [cluster]",
                    );
                }
                for a in 0..d {
                    for b in (0..d).filter(|&b| b != a) {
                        pairs.push((a, b));
                    }
                }
            }
            _ => c.err(
                l.span.clone(),
                l.path.clone(),
                "a data-centre link needs exactly one of between = [\"a\", \"b\"] (both directions; the same name twice for within one), from = \"a\" with to = \"b\" (one direction), or remote = true (every pair of different data centres)",
            ),
        }
        for (from, to) in pairs {
            net.zone_links.push(ZoneLink {
                from,
                to,
                latency: latency.clone(),
                per_kind: per_kind.clone(),
            });
        }
    }
}

pub(crate) fn read_network(
    c: &mut Collector,
    t: &Tbl,
    nodes: u32,
    dcs: Option<&[String]>,
    also: &[&str],
) -> Option<NetConfig> {
    let allowed: Vec<&str> = NETWORK.iter().chain(also).copied().collect();
    t.only(c, &allowed);
    let mut net = NetConfig::default();
    if let Some(l) = read_latency(c, t, "latency") {
        net.latency = l;
    }
    if let Some(l) = read_latency(c, t, "client_latency") {
        net.client_request = l.clone();
        net.client_reply = l;
    }
    // Each direction on its own, over `client_latency`.
    if let Some(l) = read_latency(c, t, "client_request_latency") {
        net.client_request = l;
    }
    if let Some(l) = read_latency(c, t, "client_reply_latency") {
        net.client_reply = l;
    }
    net.loss = t.probability(c, "loss").unwrap_or(0.0);
    net.duplicate = t.probability(c, "duplicate").unwrap_or(0.0);
    net.per_kind = read_per_kind(c, t);
    read_datacenter_links(c, t, dcs, &mut net);
    for l in t.tables(c, "links") {
        l.only(c, LINK);
        l.require(c, "from", "the sending node, like from = \"n0\"");
        l.require(c, "to", "the receiving node, like to = \"n1\"");
        let from = node_ref(c, &l, "from", nodes);
        let to = node_ref(c, &l, "to", nodes);
        let latency = if l.has("latency") {
            read_latency(c, &l, "latency")
        } else {
            None
        };
        let loss = l.probability(c, "loss");
        let duplicate = l.probability(c, "duplicate");
        if let (Some(from), Some(to)) = (from, to) {
            net.links.push(LinkConfig {
                from,
                to,
                latency,
                loss,
                duplicate,
            });
        }
    }
    Some(net)
}

fn step_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "put" => &[
            "at", "do", "node", "key", "value", "name", "context", "client",
        ],
        "get" => &["at", "do", "node", "key", "name", "client"],
        "delete" => &["at", "do", "node", "key", "name", "context", "client"],
        "join" => &["at", "do", "node", "tokens"],
        "leave" => &["at", "do", "node"],
        "crash" | "crash-wipe" | "restart" | "pause" | "resume" => &["at", "do", "node"],
        "partition" => &["at", "do", "groups"],
        "one-way" => &["at", "do", "from", "to"],
        "heal" | "heal-all" | "wait" | "run-freely" => &["at", "do"],
        "deliver" | "lose" => &["at", "do", "from", "to", "kind", "client", "node", "nth"],
        "copy" => &["at", "do", "from", "to", "kind", "nth"],
        "fire" => &["at", "do", "node", "timer", "nth", "early"],
        "trigger" => &["at", "do", "on", "fault", "for", "until"],
        "skew" => &["at", "do", "node", "by"],
        "loss" | "duplicate" => &["at", "do", "p"],
        "slow" => &["at", "do", "node", "by"],
        _ => &["at", "do"],
    }
}

/// Reads a `trigger` step's fields; `at` is when it is armed.
fn read_trigger(c: &mut Collector, t: &Tbl, at: Option<SimTime>) -> Option<Action> {
    use dynamo_observer::TriggerFault;
    use sim_core::Message;
    let kinds = dynamo_model::Msg::KINDS;
    for (field, what) in [
        (
            "on",
            "the message kind that fires it, like on = \"ReplicateAck\"",
        ),
        ("fault", "what it does, like fault = \"crash-sender\""),
        ("for", "how long the fault lasts, like for = \"200ms\""),
        ("until", "when it is disarmed, like until = \"5s\""),
    ] {
        t.require(c, field, what);
    }
    let on = t
        .str(c, "on")
        .and_then(|k| match kinds.iter().find(|&&n| n == k) {
            Some(&n) => Some(n),
            None => {
                c.err(
                    t.span_of("on"),
                    t.field("on"),
                    format!(
                        "unknown message kind {k:?}; valid kinds are {}",
                        kinds.join(", ")
                    ),
                );
                None
            }
        });
    let fault =
        t.str(c, "fault")
            .and_then(|f| match TriggerFault::ALL.iter().find(|(n, _)| *n == f) {
                Some((_, x)) => Some(*x),
                None => {
                    let names: Vec<&str> = TriggerFault::ALL.iter().map(|(n, _)| *n).collect();
                    c.err(
                        t.span_of("fault"),
                        t.field("fault"),
                        format!(
                            "unknown trigger fault {f:?}; valid faults are {}",
                            names.join(", ")
                        ),
                    );
                    None
                }
            });
    let lasting = t.duration(c, "for");
    let until = t.duration(c, "until").map(|d| SimTime::ZERO + d);
    if let (Some(armed), Some(u)) = (at, until) {
        if u < armed {
            c.err(
                t.span_of("until"),
                t.field("until"),
                format!("until = {u} is before the step's at = {armed}; a trigger is armed from its at to its until"),
            );
            return None;
        }
    }
    Some(Action::Trigger(TriggerStep {
        on: on?,
        fault: fault?,
        lasting: lasting?,
        until: until?,
    }))
}

pub(crate) fn read_entry(
    c: &mut Collector,
    t: &Tbl,
    key: &str,
    nodes: u32,
    proxies: u32,
) -> Option<Entry> {
    match t.str(c, key)?.as_str() {
        "random" | "load-balancer" => Some(Entry::Random),
        "owner" | "partition-aware" => Some(Entry::Owner),
        "proxy" if proxies == 0 => {
            c.err(
                t.span_of(key),
                t.field(key),
                "\"proxy\" sends to a token-less coordinator, and the cluster has none; set proxies = K in [cluster]",
            );
            None
        }
        "proxy" => Some(Entry::Proxy),
        other if other.starts_with('n') && other[1..].parse::<u32>().is_ok() => {
            parse_node(c, other, t.span_of(key), &t.field(key), nodes).map(Entry::Node)
        }
        other => {
            let hint = closest(other, ROUTES)
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_default();
            c.err(
                t.span_of(key),
                t.field(key),
                format!(
                    "unknown entry {other:?}{hint}; valid values are a node (n0, n1, ...), \"random\" (or \"load-balancer\"), \"owner\" (or \"partition-aware\") and \"proxy\""
                ),
            );
            None
        }
    }
}

/// Steps only a network that delivers by steps takes.
const HELD_STEPS: &[&str] = &["deliver", "lose", "copy", "fire", "wait", "run-freely"];

/// Reads a step of a network that delivers by steps.
fn read_held(
    c: &mut Collector,
    t: &Tbl,
    kind: &str,
    nodes: u32,
) -> Option<dynamo_explorer::StepKind> {
    use dynamo_explorer::StepKind;
    let nth = t.count(c, "nth", 0, 1_000_000).unwrap_or(0) as usize;
    let message = |c: &mut Collector| {
        t.require(c, "from", "the sending node, like from = \"n0\"");
        t.require(c, "to", "the receiving node, like to = \"n1\"");
        t.require(c, "kind", "the message kind, like kind = \"Replicate\"");
        let from = node_ref(c, t, "from", nodes);
        let to = node_ref(c, t, "to", nodes);
        let kind = message_kind(c, t);
        Some((from?, to?, kind?))
    };
    match kind {
        "wait" => Some(StepKind::Wait),
        "run-freely" => Some(StepKind::RunFreely),
        "fire" => {
            t.require(c, "node", "the node whose timer fires, like node = \"n0\"");
            t.require(c, "timer", "the timer, like timer = \"deadline\"");
            let node = node_ref(c, t, "node", nodes);
            let label = t.str(c, "timer").and_then(|l| {
                match dynamo_explorer::TIMER_LABELS.iter().find(|x| **x == l) {
                    Some(x) => Some(*x),
                    None => {
                        c.err(
                            t.span_of("timer"),
                            t.field("timer"),
                            format!(
                                "unknown timer {l:?}; valid timers are {}",
                                dynamo_explorer::TIMER_LABELS.join(", ")
                            ),
                        );
                        None
                    }
                }
            });
            let early = t.bool(c, "early").unwrap_or(false);
            Some(StepKind::Fire {
                node: node?,
                label: label?,
                nth,
                early,
            })
        }
        "copy" => {
            let (from, to, kind) = message(c)?;
            Some(StepKind::Duplicate {
                from,
                to,
                kind,
                nth,
            })
        }
        _ if t.has("client") => {
            t.require(
                c,
                "node",
                "the node the request goes to, like node = \"n0\"",
            );
            let client = read_client(c, t);
            let node = node_ref(c, t, "node", nodes);
            let (client, node) = (client?, node?);
            Some(if kind == "deliver" {
                StepKind::Request { client, node, nth }
            } else {
                StepKind::DropRequest { client, node, nth }
            })
        }
        _ => {
            let (from, to, k) = message(c)?;
            Some(if kind == "deliver" {
                StepKind::Deliver {
                    from,
                    to,
                    kind: k,
                    nth,
                }
            } else {
                StepKind::DropMsg {
                    from,
                    to,
                    kind: k,
                    nth,
                }
            })
        }
    }
}

/// A message kind field, as one of the model's kinds.
fn message_kind(c: &mut Collector, t: &Tbl) -> Option<&'static str> {
    use sim_core::Message;
    let k = t.str(c, "kind")?;
    match dynamo_model::Msg::KINDS.iter().find(|x| **x == k) {
        Some(x) => Some(*x),
        None => {
            let hint = closest(&k, dynamo_model::Msg::KINDS)
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_default();
            c.err(
                t.span_of("kind"),
                t.field("kind"),
                format!(
                    "unknown message kind {k:?}{hint}; valid kinds are {}",
                    dynamo_model::Msg::KINDS.join(", ")
                ),
            );
            None
        }
    }
}

/// How a client picks the node it sends to, by name.
const ROUTES: &[&str] = &[
    "random",
    "load-balancer",
    "owner",
    "partition-aware",
    "proxy",
];

/// A key field: the key on the cluster's ring (`None`, with an error, when
/// the scheme cannot hold it; `None` quietly when the cluster itself did not
/// parse, whose errors are reported already).
fn read_key(c: &mut Collector, t: &Tbl, field: &str, scheme: Option<&KeyScheme>) -> Option<Key> {
    let name = t.str(c, field)?;
    match Key::new(scheme?, &name) {
        Ok(key) => Some(key),
        Err(e) => {
            c.err(t.span_of(field), t.field(field), e);
            None
        }
    }
}

pub(crate) fn read_client(c: &mut Collector, t: &Tbl) -> Option<ClientId> {
    let Some(s) = t.str(c, "client") else {
        return Some(ClientId(0));
    };
    match s.strip_prefix('c').and_then(|d| d.parse::<u32>().ok()) {
        Some(i) if i < 10_000 => Some(ClientId(i)),
        _ => {
            c.err(
                t.span_of("client"),
                t.field("client"),
                format!("unknown client {s}; explicit clients are c0..c9999"),
            );
            None
        }
    }
}

/// A stand-in for a step with problems, which keeps later steps at their
/// indices (names and contexts refer to steps by index).
fn hole(at: Option<SimTime>, last: SimTime, line: usize) -> Step {
    Step {
        at: at.unwrap_or(last),
        line,
        action: Action::Fault(Fault::Heal),
    }
}

fn read_steps(
    c: &mut Collector,
    root: &Tbl,
    nodes: u32,
    proxies: u32,
    scheme: Option<&KeyScheme>,
    token_limit: Option<(u64, &str)>,
    hold: bool,
) -> (Vec<Step>, BTreeMap<String, usize>) {
    let mut steps = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut last = SimTime::ZERO;
    for (i, t) in root.tables(c, "steps").into_iter().enumerate() {
        let (line, _) = c.line_col(t.span.start);
        t.require(c, "at", "when the step happens, like at = \"10ms\"");
        let at = t.duration(c, "at").map(|d| SimTime::ZERO + d);
        if let Some(at) = at {
            if at < last {
                let (now, prev) = (SimDuration(at.as_us()), SimDuration(last.as_us()));
                c.err(t.span_of("at"), t.field("at"), format!("step {} at {now} comes before the previous step at {prev}; steps must be in time order", i + 1));
            }
            last = last.max(at);
        }
        if !t.require(
            c,
            "do",
            &format!(
                "what the step does; valid actions are {}",
                STEP_KINDS.join(", ")
            ),
        ) {
            steps.push(hole(at, last, line));
            continue;
        }
        let Some(kind) = t.str(c, "do") else {
            steps.push(hole(at, last, line));
            continue;
        };
        if !STEP_KINDS.contains(&kind.as_str()) {
            let hint = closest(&kind, STEP_KINDS)
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_default();
            c.err(
                t.span_of("do"),
                t.field("do"),
                format!(
                    "unknown action {kind:?}{hint}; valid actions are {}",
                    STEP_KINDS.join(", ")
                ),
            );
            steps.push(hole(at, last, line));
            continue;
        }
        t.only(c, step_fields(&kind));
        if HELD_STEPS.contains(&kind.as_str()) && !hold {
            c.err(
                t.span_of("do"),
                t.field("do"),
                format!("a {kind:?} step needs a network that holds what it releases: set [network] deliver = \"by-steps\""),
            );
            steps.push(hole(at, last, line));
            continue;
        }
        let node = |c: &mut Collector| {
            t.require(c, "node", "which node, like node = \"n1\"");
            node_ref(c, &t, "node", nodes)
        };
        let action = match kind.as_str() {
            "put" | "get" | "delete" => {
                t.require(
                    c,
                    "node",
                    "the node the request is sent to: \"n3\", \"random\", \"owner\" or \"proxy\"",
                );
                let entry = read_entry(c, &t, "node", nodes, proxies);
                t.require(c, "key", "the key, like key = \"2\"");
                let key = read_key(c, &t, "key", scheme);
                let is_put = kind == "put";
                let value = if is_put {
                    t.require(c, "value", "the value to write, like value = \"apple\"");
                    t.str(c, "value")
                } else {
                    None
                };
                let name = t.str(c, "name");
                if let Some(n) = &name {
                    if names.insert(n.clone(), i).is_some() {
                        c.err(
                            t.span_of("name"),
                            t.field("name"),
                            format!(
                                "the name {n:?} is used by an earlier step; names must be unique"
                            ),
                        );
                    }
                }
                let context_from = match t.str(c, "context") {
                    None => None,
                    Some(ctx) => match names.get(&ctx) {
                        Some(&j)
                            if matches!(
                                &steps.get(j),
                                Some(Step {
                                    action: Action::Op(OpStep {
                                        kind: OpKind::Get,
                                        ..
                                    }),
                                    ..
                                })
                            ) =>
                        {
                            Some(j)
                        }
                        Some(_) => {
                            c.err(t.span_of("context"), t.field("context"), format!("{ctx:?} is not a get; a put or delete takes its context from an earlier named get"));
                            None
                        }
                        None => {
                            c.err(t.span_of("context"), t.field("context"), format!("no earlier step is named {ctx:?}; a put or delete takes its context from an earlier named get"));
                            None
                        }
                    },
                };
                let client = read_client(c, &t);
                let kind = match kind.as_str() {
                    "put" => OpKind::Put,
                    "delete" => OpKind::Delete,
                    _ => OpKind::Get,
                };
                match (entry, key, client) {
                    (Some(entry), Some(key), Some(client)) => Some(Action::Op(OpStep {
                        kind,
                        entry,
                        key,
                        value,
                        name,
                        context_from,
                        client,
                    })),
                    _ => None,
                }
            }
            "crash" => node(c).map(|node| {
                Action::Fault(Fault::Crash {
                    node,
                    wipe_disk: false,
                })
            }),
            "crash-wipe" => node(c).map(|node| {
                Action::Fault(Fault::Crash {
                    node,
                    wipe_disk: true,
                })
            }),
            "restart" => node(c).map(|node| Action::Fault(Fault::Restart { node })),
            "pause" => node(c).map(|node| Action::Fault(Fault::Pause { node })),
            "resume" => node(c).map(|node| Action::Fault(Fault::Resume { node })),
            "heal" => Some(Action::Fault(Fault::Heal)),
            "deliver" | "lose" | "copy" | "fire" | "wait" | "run-freely" => {
                read_held(c, &t, &kind, nodes).map(Action::Held)
            }
            "heal-all" => Some(Action::HealAll),
            "trigger" => read_trigger(c, &t, at),
            "join" | "leave" => {
                let node = node(c);
                let mut tokens = Vec::new();
                if kind == "join" {
                    if let Some(arr) = t.array(c, "tokens") {
                        for v in arr.iter() {
                            match v
                                .get_ref()
                                .as_integer()
                                .and_then(|n| u64::from_str_radix(n.as_str(), n.radix()).ok())
                            {
                                Some(x) if token_limit.is_none_or(|(l, _)| x < l) => {
                                    tokens.push(x);
                                }
                                Some(x) => {
                                    let (l, what) = token_limit.expect("checked");
                                    c.err(
                                        v.span(),
                                        t.field("tokens"),
                                        format!("{x} is out of range: this cluster's tokens are {what} below {l}"),
                                    );
                                }
                                None => c.err(
                                    v.span(),
                                    t.field("tokens"),
                                    "each token is a whole number: a ring position under tokens = \"random\", a partition number under \"equal\" and \"explicit\"",
                                ),
                            }
                        }
                    }
                }
                node.map(|node| Action::Membership {
                    node,
                    join: (kind == "join").then_some(tokens),
                })
            }
            "partition" => {
                t.require(
                    c,
                    "groups",
                    "the sides, like groups = [[\"n0\", \"n1\"], [\"n2\", \"n3\"]]",
                );
                let mut groups = Vec::new();
                let mut ok = true;
                if let Some(arr) = t.array(c, "groups") {
                    for (g, v) in arr.iter().enumerate() {
                        let field = format!("{}[{}]", t.field("groups"), g + 1);
                        match v.get_ref() {
                            DeValue::Array(items) => {
                                let mut group = Vec::new();
                                for item in items.iter() {
                                    match item.get_ref().as_str() {
                                        Some(s) => {
                                            match parse_node(c, s, item.span(), &field, nodes) {
                                                // A node in two groups would be cut from
                                                // itself: which side is it on?
                                                Some(n)
                                                    if groups
                                                        .iter()
                                                        .chain(std::iter::once(&group))
                                                        .any(|g: &Vec<NodeId>| g.contains(&n)) =>
                                                {
                                                    c.err(
                                                        item.span(),
                                                        &field,
                                                        format!("{n} is already in a group of this partition; groups must not overlap (a node is on one side)"),
                                                    );
                                                    ok = false;
                                                }
                                                Some(n) => group.push(n),
                                                None => ok = false,
                                            }
                                        }
                                        None => {
                                            c.err(
                                                item.span(),
                                                &field,
                                                "expected a node name like \"n0\"",
                                            );
                                            ok = false;
                                        }
                                    }
                                }
                                groups.push(group);
                            }
                            _ => {
                                c.err(v.span(), &field, "expected an array of node names");
                                ok = false;
                            }
                        }
                    }
                }
                ok.then_some(Action::Fault(Fault::Partition { groups }))
            }
            "one-way" => {
                t.require(
                    c,
                    "from",
                    "the nodes whose messages are cut, like from = [\"n0\"]",
                );
                t.require(
                    c,
                    "to",
                    "the nodes they can no longer reach, like to = [\"n1\"]",
                );
                let from = node_list(c, &t, "from", nodes);
                let to = node_list(c, &t, "to", nodes);
                from.zip(to)
                    .map(|(from, to)| Action::Fault(Fault::OneWay { from, to }))
            }
            "skew" => {
                let n = node(c);
                t.require(c, "by", "the clock offset, like by = \"-5ms\"");
                let by = t.signed_duration(c, "by");
                n.zip(by)
                    .map(|(node, skew_us)| Action::Fault(Fault::ClockSkew { node, skew_us }))
            }
            "slow" => {
                let n = node(c);
                t.require(
                    c,
                    "by",
                    "the extra one-way delay, like by = \"50ms\" (\"0\" clears it)",
                );
                let by = t.duration(c, "by");
                n.zip(by)
                    .map(|(node, extra)| Action::Fault(Fault::Slow { node, extra }))
            }
            "loss" | "duplicate" => {
                t.require(c, "p", "the probability, like p = 0.1");
                let p = t.probability(c, "p");
                p.map(|p| {
                    Action::Fault(if kind == "loss" {
                        Fault::Loss { p }
                    } else {
                        Fault::Duplicate { p }
                    })
                })
            }
            _ => unreachable!("checked against STEP_KINDS"),
        };
        if let (Some(at), Some(action)) = (at, action) {
            steps.push(Step { at, line, action });
        } else {
            steps.push(hole(at, last, line));
        }
    }
    (steps, names)
}

/// Reports `keys` keys that do not fit the key scheme (integer keys are `0..2^hash_bits`).
pub(crate) fn check_key_count(
    c: &mut Collector,
    t: &Tbl,
    key: &str,
    keys: u32,
    scheme: Option<&KeyScheme>,
) {
    if let Some(KeyScheme::Integer { hash_bits }) = scheme {
        let slots = 1u64 << (*hash_bits).min(63);
        if u64::from(keys) > slots {
            c.err(
                t.span_of(key),
                t.field(key),
                format!(
                    "{keys} keys do not fit in the integer key space: hash_bits = {hash_bits} gives 2^{hash_bits} = {slots} keys (0..{slots}); use at most {slots} keys or raise hash_bits"
                ),
            );
        }
    }
}

fn read_load(
    c: &mut Collector,
    t: &Tbl,
    nodes: u32,
    proxies: u32,
    scheme: Option<&KeyScheme>,
) -> Option<Option<LoadSpec>> {
    t.only(c, LOAD);
    let pacing = match t.str(c, "pacing").as_deref() {
        None | Some("closed") => {
            if t.has("rate") {
                c.err(
                    t.span_of("rate"),
                    t.field("rate"),
                    "rate applies only to pacing = \"open\"; closed-loop clients use think",
                );
            }
            Pacing::Closed {
                think: t.duration(c, "think").unwrap_or(SimDuration::ZERO),
            }
        }
        Some("open") => {
            t.require(
                c,
                "rate",
                "the total request rate in ops per second, like rate = 100.0",
            );
            let rate = t.float(c, "rate").unwrap_or(1.0);
            if rate <= 0.0 {
                c.err(
                    t.span_of("rate"),
                    t.field("rate"),
                    "rate must be > 0 ops per second",
                );
            } else if rate > limits::MAX_RATE_PER_S {
                c.err(
                    t.span_of("rate"),
                    t.field("rate"),
                    format!(
                        "rate = {rate:e} is above the bound of {} ops per second",
                        limits::MAX_RATE_PER_S
                    ),
                );
            }
            Pacing::Open { rate_per_s: rate }
        }
        Some(other) => {
            c.err(
                t.span_of("pacing"),
                t.field("pacing"),
                format!("unknown pacing {other:?}; valid values are \"closed\" and \"open\""),
            );
            return None;
        }
    };
    let key_choice = match t.str(c, "distribution").as_deref() {
        None | Some("uniform") => KeyChoice::Uniform,
        Some("zipf") => KeyChoice::Zipf {
            exponent: t.float(c, "zipf_exponent").unwrap_or(0.99),
        },
        Some(other) => {
            c.err(
                t.span_of("distribution"),
                t.field("distribution"),
                format!(
                    "unknown key distribution {other:?}; valid values are \"uniform\" and \"zipf\""
                ),
            );
            return None;
        }
    };
    let start = t.duration(c, "start").unwrap_or(SimDuration::ZERO);
    t.require(
        c,
        "stop",
        "when the clients stop sending, like stop = \"10s\"",
    );
    let stop = t.duration(c, "stop")?;
    if stop < start {
        c.err(
            t.span_of("stop"),
            t.field("stop"),
            format!("stop {stop} is before start {start}"),
        );
    }
    let clients = t
        .count(c, "clients", 1, u64::from(limits::MAX_CLIENTS))
        .unwrap_or(1) as u32;
    let keys = match t.count(c, "keys", 1, u64::from(limits::MAX_KEYS)) {
        Some(k) => {
            check_key_count(c, t, "keys", k as u32, scheme);
            k as u32
        }
        // The default, capped at a small integer key space.
        None => match scheme {
            Some(KeyScheme::Integer { hash_bits }) => 100.min(1 << (*hash_bits).min(31)),
            _ => 100,
        },
    };
    let entry = if t.has("via") {
        read_entry(c, t, "via", nodes, proxies)?
    } else {
        Entry::Random
    };
    let rmw = t.bool(c, "read_modify_write").unwrap_or(false);
    let delete_fraction = t.probability(c, "delete_fraction").unwrap_or(0.0);
    if delete_fraction > 0.0 && !rmw {
        c.err(
            t.span_of("delete_fraction"),
            t.field("delete_fraction"),
            "deletes delete what the client read: delete_fraction needs read_modify_write = true",
        );
    }
    Some(Some(LoadSpec {
        clients,
        pacing,
        keys,
        key_choice,
        read_fraction: t.probability(c, "read_fraction").unwrap_or(0.5),
        read_modify_write: rmw,
        delete_fraction,
        entry,
        start: SimTime::ZERO + start,
        stop: SimTime::ZERO + stop,
        max_ops: t.count(c, "ops", 0, limits::MAX_OPS),
    }))
}

fn read_expects(
    c: &mut Collector,
    root: &Tbl,
    nodes: u32,
    scheme: Option<&KeyScheme>,
    names: &BTreeMap<String, usize>,
    steps: &[Step],
) -> Vec<Expect> {
    let mut out = Vec::new();
    for t in root.tables(c, "expect") {
        t.only(c, EXPECT);
        let (line, _) = c.line_col(t.span.start);
        let at = t.duration(c, "at").map(|d| SimTime::ZERO + d);
        let check = if t.has("op") {
            let name = t.str(c, "op");
            let step = name.as_ref().and_then(|n| match names.get(n) {
                Some(&s) => Some(s),
                None => {
                    let known: Vec<&str> = names.keys().map(String::as_str).collect();
                    c.err(
                        t.span_of("op"),
                        t.field("op"),
                        format!(
                            "no step is named {n:?}; named steps are: {}",
                            if known.is_empty() {
                                "(none)".into()
                            } else {
                                known.join(", ")
                            }
                        ),
                    );
                    None
                }
            });
            let is_get = step.is_some_and(|s| {
                matches!(
                    steps.get(s).map(|s| &s.action),
                    Some(Action::Op(OpStep {
                        kind: OpKind::Get,
                        ..
                    }))
                )
            });
            for f in ["values", "siblings", "clock"] {
                if t.has(f) && step.is_some() && !is_get && f != "clock" {
                    c.err(t.span_of(f), t.field(f), "applies only to a get");
                }
            }
            let values = t
                .strings(c, "values")
                .map(|v| v.into_iter().map(|(s, _)| s).collect());
            let siblings = t.int_in(c, "siblings", 0, 1_000_000).map(|n| n as usize);
            let acks = t.int_in(c, "acks", 0, 1_000_000).map(|n| n as u32);
            let needed = t.int_in(c, "needed", 0, 1_000_000).map(|n| n as u32);
            let ok = t.bool(c, "ok");
            for f in ["acks", "needed"] {
                if t.has(f) && ok != Some(false) {
                    c.err(
                        t.span_of(f),
                        t.field(f),
                        "describes a failed op; write it with ok = false",
                    );
                }
            }
            step.map(|step| Check::Op {
                step,
                name: name.expect("named"),
                ok,
                values,
                siblings,
                clock: t.str(c, "clock"),
                acks,
                needed,
            })
        } else if t.has("counter") {
            expect::read_counter(c, &t)
        } else if t.has("event") {
            expect::read_within(c, &t, nodes, names, steps.len())
        } else if t.has("exactly") {
            t.require(c, "node", "which node to look at, like node = \"n3\"");
            let node = node_ref(c, &t, "node", nodes);
            expect::read_exactly(c, &t, node, scheme)
        } else if let Some(name) = t.str(c, "checker") {
            let verdict = t.str(c, "verdict").unwrap_or_else(|| "pass".into());
            if !["pass", "fail", "skipped"].contains(&verdict.as_str()) {
                c.err(t.span_of("verdict"), t.field("verdict"), format!("unknown verdict {verdict:?}; valid verdicts are \"pass\", \"fail\", \"skipped\""));
            }
            if dynamo_observer::checker(&name).is_none() {
                let known: Vec<&str> = dynamo_observer::CHECKERS.iter().map(|c| c.name).collect();
                c.err(
                    t.span_of("checker"),
                    t.field("checker"),
                    format!(
                        "unknown checker {name:?}; valid checkers are {}",
                        known.join(", ")
                    ),
                );
                None
            } else {
                Some(Check::Checker { name, verdict })
            }
        } else if t.has("believes_up") || t.has("believes_down") {
            t.require(c, "node", "whose view to look at, like node = \"n0\"");
            let node = node_ref(c, &t, "node", nodes);
            let up = t.has("believes_up");
            let peer = node_ref(
                c,
                &t,
                if up { "believes_up" } else { "believes_down" },
                nodes,
            );
            node.zip(peer)
                .map(|(node, peer)| Check::Believes { node, peer, up })
        } else if ["holds", "lacks", "hint", "no_hint"]
            .iter()
            .any(|f| t.has(f))
        {
            t.require(c, "node", "which node to look at, like node = \"n3\"");
            let node = node_ref(c, &t, "node", nodes);
            let which = ["holds", "lacks", "hint", "no_hint"]
                .into_iter()
                .filter(|f| t.has(f))
                .collect::<Vec<_>>();
            if which.len() > 1 {
                c.err(
                    t.span.clone(),
                    t.path.clone(),
                    format!(
                        "give one of holds, lacks, hint, no_hint per expectation, not {}",
                        which.join(" and ")
                    ),
                );
            }
            let key = read_key(c, &t, which[0], scheme);
            let target = if t.has("for") {
                node_ref(c, &t, "for", nodes)
            } else {
                None
            };
            match (node, key) {
                (Some(node), Some(key)) => Some(match which[0] {
                    "holds" => Check::Holds {
                        node,
                        key,
                        present: true,
                        value: t.str(c, "value"),
                    },
                    "lacks" => Check::Holds {
                        node,
                        key,
                        present: false,
                        value: None,
                    },
                    "hint" => Check::Hint {
                        node,
                        key,
                        present: true,
                        target,
                    },
                    _ => Check::Hint {
                        node,
                        key,
                        present: false,
                        target,
                    },
                }),
                _ => None,
            }
        } else {
            c.err(t.span.clone(), t.path.clone(), "an expectation needs one of: op = \"name\", checker = \"name\", counter = \"name\", event = { ... }, or node with holds / lacks / exactly / hint / no_hint / believes_up / believes_down");
            None
        };
        if let Some(check) = check {
            out.push(Expect { at, line, check });
        }
    }
    out
}
