//! What the clients are asked to do: explicit operations at given times,
//! generated load, membership changes, and how each request is routed to a
//! node (§4.5).

use crate::history::OpKind;
use dynamo_model::{Admin, Key, Ring};
use sim_core::{ClientId, NodeId, SimDuration, SimRng, SimTime};

/// Which node a client sends a request to.
#[derive(Clone, Debug, PartialEq, Hash)]
pub enum Entry {
    /// Always this node.
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

/// A client operation to issue at a time.
#[derive(Clone, Debug, Hash)]
pub struct PlannedOp {
    /// When the client issues it.
    pub at: SimTime,
    /// The client that issues it.
    pub client: ClientId,
    /// How it is routed to a node.
    pub entry: Entry,
    /// Whether it is a get, put or delete.
    pub kind: OpKind,
    /// The key it reads or writes.
    pub key: Key,
    /// A put's value; `None` for a get or delete.
    pub value: Option<String>,
    /// Put with the context returned by this earlier planned op (its index in plan order).
    pub context_from: Option<usize>,
}

/// An operation a [`Program`](crate::Program) issues: like a planned one,
/// but decided as the run goes, from the replies to earlier ones.
#[derive(Clone, Debug)]
pub struct ProgramOp {
    /// The client it comes from.
    pub client: ClientId,
    /// How it is routed to a node.
    pub entry: Entry,
    /// Whether it is a get, put or delete.
    pub kind: OpKind,
    /// The key it reads or writes.
    pub key: Key,
    /// A put's value.
    pub value: Option<std::sync::Arc<str>>,
    /// The context a put or delete carries.
    pub context: dynamo_model::VClock,
}

/// How keys are chosen by generated load.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyChoice {
    /// Every key is equally likely.
    Uniform,
    /// Key i (numbered from 0) is drawn with weight 1/(i+1)^exponent, so the
    /// lowest-numbered keys are the hottest.
    Zipf {
        /// The skew: 0 is uniform, and the larger it is, the more the first keys get.
        exponent: f64,
    },
}

/// How generated clients pace themselves.
#[derive(Clone, Debug, PartialEq)]
pub enum Pacing {
    /// Each client waits for its reply, then thinks, then sends the next op.
    Closed {
        /// How long a client waits after an operation ends before it sends the next.
        think: SimDuration,
    },
    /// Clients send at exponentially distributed intervals without waiting,
    /// `rate_per_s` operations per second in all (each its share).
    Open {
        /// Operations per second, all the load's clients together.
        rate_per_s: f64,
    },
}

/// Generated client load.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSpec {
    /// How many clients generate the load.
    pub clients: u32,
    /// How the clients pace their operations.
    pub pacing: Pacing,
    /// How many keys the load uses, numbered from 0.
    pub keys: u32,
    /// How each operation's key is drawn.
    pub key_choice: KeyChoice,
    /// The chance that an operation is a get rather than a put; read-modify-write clients
    /// ignore it, each get being followed by a write.
    pub read_fraction: f64,
    /// Read-modify-write clients: each put carries the context of the client's last get of that key.
    pub read_modify_write: bool,
    /// Read-modify-write only: the share of the writes that are deletes
    /// (with the context of the client's get, so they delete what it read).
    pub delete_fraction: f64,
    /// How each request is routed to a node.
    pub entry: Entry,
    /// When the clients start.
    pub start: SimTime,
    /// No client issues an operation after this time.
    pub stop: SimTime,
    /// Stop after this many operations in all (all clients together).
    pub max_ops: Option<u64>,
}

/// The administrator's client (`c9999999` in traces, above every scenario and load client): membership changes come from it.
pub const ADMIN_CLIENT: ClientId = ClientId(9_999_999);

/// A membership change the administrator sends a node at a time.
#[derive(Clone, Debug, Hash)]
pub struct AdminOp {
    /// When the administrator sends it.
    pub at: SimTime,
    /// The node asked to join or leave.
    pub node: NodeId,
    /// The change: join (with or without given tokens) or leave.
    pub admin: dynamo_model::Admin,
    /// When the node answered, whether it took the change, and what it said.
    pub result: Option<(SimTime, bool, String)>,
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

impl AdminOp {
    /// A change not yet made: at `at`, ask `node` to join or leave.
    pub fn new(at: SimTime, node: NodeId, admin: Admin) -> AdminOp {
        AdminOp {
            at,
            node,
            admin,
            result: None,
        }
    }
}
