//! A scope: what the explorer may do, and the bounds of its search.

use dynamo_model::Key;
use dynamo_observer::{ClusterPlan, Entry, OpKind};
use sim_core::ClientId;

/// One operation a client issues.
#[derive(Clone, Debug)]
pub struct ScopeOp {
    /// Get, put or delete.
    pub kind: OpKind,
    /// The key.
    pub key: Key,
    /// A put's value.
    pub value: Option<String>,
}

/// A client and the operations it issues, each after the previous one ended.
#[derive(Clone, Debug)]
pub struct ClientScope {
    /// The client.
    pub id: ClientId,
    /// Where its requests go.
    pub entry: Entry,
    /// Its operations, in order.
    pub ops: Vec<ScopeOp>,
    /// A put or delete carries the context of the client's latest get of
    /// its key (read-modify-write); otherwise it is blind.
    pub read_modify_write: bool,
}

/// Faults counted along each path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Budgets {
    /// Messages or client requests dropped.
    pub drops: u32,
    /// Messages duplicated.
    pub duplicates: u32,
    /// Crashes that keep the disk (a crashed node may restart at any time).
    pub crashes: u32,
    /// Crashes that wipe the disk.
    pub wipes: u32,
    /// Partitions: one node cut off from the rest, until a heal.
    pub partitions: u32,
}

/// Timer labels that may always fire: a request's own timeouts.
pub const ALWAYS_TIMERS: &[&str] = &[
    "replica-timeout",
    "deadline",
    "read-repair",
    "forward-timeout",
];

/// Timer labels whose firings are counted along a path; off (0) by default.
pub const COUNTED_TIMERS: &[&str] = &["gossip", "retry", "hint-delivery", "anti-entropy", "purge"];

/// Every timer label, as the model names them.
pub const TIMER_LABELS: &[&str] = &[
    "replica-timeout",
    "deadline",
    "read-repair",
    "forward-timeout",
    "gossip",
    "retry",
    "hint-delivery",
    "anti-entropy",
    "purge",
];

/// How the explorer searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Breadth first: level by level, in parallel; the first
    /// counterexample of a property is a shortest one.
    Bfs,
    /// Depth first, on one thread: memory for one path and the visited set.
    Dfs,
    /// Random walks with a PCT-style scheduler, no visited set.
    Random {
        /// How many walks.
        walks: u64,
        /// Priority change points per walk (d - 1 for bugs of depth d).
        change_points: u32,
        /// The seed of the walks.
        seed: u64,
    },
}

/// Which reduction prunes the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// None: every order of every enabled action.
    None,
    /// Sleep sets over the independence of actions at different nodes.
    SleepSets,
    /// Source-DPOR with sleep sets: depth first and stateless; explores at
    /// least one order of each class of equivalent orders.
    Dpor,
}

/// Every bound of a search.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Actions along one path at most.
    pub max_depth: u32,
    /// Unique states at most.
    pub max_states: u64,
    /// Bytes the search may hold (visited set and frontier, estimated).
    pub max_memory: u64,
}

/// Defaults of the bounds.
pub const DEFAULT_BOUNDS: Bounds = Bounds {
    max_depth: 100,
    max_states: 2_000_000,
    max_memory: 2 << 30,
};

/// Bytes a visited-set entry costs, at most: 20 bytes a slot, the table at
/// most half full, and old and new tables both held while it grows.
pub const VISITED_ENTRY_BYTES: u64 = 64;

/// A whole scope.
#[derive(Clone, Debug)]
pub struct Scope {
    /// The cluster.
    pub plan: ClusterPlan,
    /// The seed of the cluster's random choices (tokens, node streams).
    pub seed: u64,
    /// The clients.
    pub clients: Vec<ClientScope>,
    /// Fault budgets per path.
    pub budgets: Budgets,
    /// Firings per path of each counted timer label ([`COUNTED_TIMERS`]).
    pub timers: Vec<(&'static str, u32)>,
    /// The search's bounds.
    pub bounds: Bounds,
    /// How to search.
    pub search: Search,
    /// How to prune.
    pub reduction: Reduction,
    /// Judge every get as if R + W > N and no fault happened (a scenario's
    /// `[checks] quorum_reads = "always"`).
    pub always_judge_reads: bool,
}

impl Scope {
    /// How often a timer of `label` may fire along a path: `None` for no limit.
    pub fn timer_budget(&self, label: &str) -> Option<u32> {
        if ALWAYS_TIMERS.contains(&label) {
            return None;
        }
        Some(
            self.timers
                .iter()
                .find(|(l, _)| *l == label)
                .map_or(0, |(_, n)| *n),
        )
    }

    /// Problems with the bounds: a search they cannot hold within the memory bound.
    pub fn check_bounds(&self) -> Vec<String> {
        let mut out = Vec::new();
        let b = &self.bounds;
        if b.max_depth == 0 {
            out.push("max_depth = 0 leaves nothing to explore: give it at least 1".to_string());
        }
        if b.max_states == 0 {
            out.push("max_states = 0 leaves nothing to explore: give it at least 1".to_string());
        }
        let visited = b.max_states.saturating_mul(VISITED_ENTRY_BYTES);
        if visited > b.max_memory {
            out.push(format!(
                "max_states = {} needs up to {} for the visited set alone, above max_memory = {}: lower max_states to {} or raise max_memory",
                b.max_states,
                bytes(visited),
                bytes(b.max_memory),
                b.max_memory / VISITED_ENTRY_BYTES
            ));
        }
        out
    }
}

/// Bytes in a unit a reader takes in at once.
pub fn bytes(b: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if b >= GIB {
        format!("{:.1} GiB", b as f64 / GIB as f64)
    } else if b >= MIB {
        format!("{:.1} MiB", b as f64 / MIB as f64)
    } else {
        format!("{} kB", b.div_ceil(1000))
    }
}
