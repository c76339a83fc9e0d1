//! What an experiment is: the validated file, its bounds, and the
//! published values it is compared with.

use dynamo_model::ClusterConfig;
use dynamo_observer::Entry;
use sim_core::{NetConfig, SimDuration};

/// Trials per point (`trials`, `--trials`); experiments/README.md lists every bound.
pub const MAX_TRIALS: u64 = 10_000_000;
/// Points an experiment runs (each point runs `trials` trials).
pub const MAX_POINTS: u64 = 10_000;
/// Values in one `[sweep]` list (quorums, networks, delays, loss, tokens_per_node, clients).
pub const MAX_SWEEP_VALUES: usize = 1_000;
/// Integers each `lww` client adds.
pub const MAX_ADDS_PER_CLIENT: u64 = 100_000;
/// `kstaleness`: the largest k (each trial writes that many versions).
pub const MAX_K: u32 = 100;

/// A validated experiment file.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// The file's path as given; the report's command to reproduce it names it.
    pub path: String,
    /// The experiment's name (`name`); the default output folder is named after it.
    pub name: String,
    /// Shown at the top of the report (`description`).
    pub description: String,
    /// What it measures: latency, staleness, pbs, lww, balance, kstaleness or joincost.
    pub kind: String,
    /// The seed every point's clusters and rings are drawn with.
    pub seed: u64,
    /// Trials per point (operations, trials, runs or rings, by kind).
    pub trials: u64,
    /// What differs from the original setup, stated in the report.
    pub deviations: String,
    /// The base cluster configuration (`[cluster]`), as in a scenario.
    pub cluster: ClusterConfig,
    /// Named network models; each point runs under each.
    pub networks: Vec<(String, NetConfig)>,
    /// The (N, R, W) points (`latency`, `staleness`, `pbs`, `kstaleness`).
    pub quorums: Vec<(u32, u32, u32)>,
    /// `staleness`: the wait after a put returns; `pbs`: the times t after commit.
    pub delays: Vec<SimDuration>,
    /// `latency`: the message loss rates (the first network's rate when not given).
    pub losses: Vec<f64>,
    /// `balance`, `joincost`: the tokens per node of each point.
    pub tokens_per_node: Vec<u32>,
    /// `lww`: the numbers of concurrent read-modify-write clients.
    pub clients: Vec<u32>,
    /// How many keys the operations use (`latency`, `staleness`, `pbs`).
    pub keys: u32,
    /// `lww`: how many integers each client adds.
    pub adds_per_client: u32,
    /// `lww`: node n0's clock offsets, one point each (µs; negative: behind
    /// the others). `[0]` when the file gives none.
    pub skews: Vec<i64>,
    /// `kstaleness`: the k values (read one of the last k versions).
    pub ks: Vec<u32>,
    /// `joincost`: ring sizes one node joins.
    pub ring_sizes: Vec<u32>,
    /// Where each request goes (`via`): any node by default.
    pub via: Entry,
    /// Threads that run points (`--jobs`; not in the file). Results do not depend on it.
    pub jobs: usize,
    /// Published values to show beside dynsim's (`[reference]`).
    pub reference: Option<Reference>,
}

/// Published values an experiment is compared with: a paper's table, a
/// figure read off by eye, or another project's reported means.
#[derive(Clone, Debug, Default)]
pub struct Reference {
    /// Where the values come from.
    pub source: String,
    /// In words: which modelling choices explain a gap.
    pub note: String,
    /// The values, each with the result row it is compared with.
    pub values: Vec<RefValue>,
}

/// One published value: the result row it matches (`where`: column = value,
/// every one must match), the column it is compared in, and the value.
#[derive(Clone, Debug)]
pub struct RefValue {
    /// What the value is, as the report shows it.
    pub label: String,
    /// The `where` pairs (column, value) a result row must hold.
    pub matches: Vec<(String, String)>,
    /// The result column it is compared with.
    pub column: String,
    /// The published value.
    pub value: f64,
}

/// One reference value next to the result it matches: (label, published,
/// dynsim's value if a row matched).
pub type Compared = (String, f64, Option<f64>);

/// The largest clock offset an `lww` experiment gives node n0, either way (µs): an hour.
pub(super) const MAX_SKEW_US: i64 = 3_600_000_000;

/// The largest ring a `joincost` experiment lets a node join.
pub const MAX_JOIN_RING: u32 = 10_000;

/// How many points `e` runs (checked against [`MAX_POINTS`]).
pub fn points(e: &Experiment) -> u64 {
    let nets = e.networks.len() as u64;
    match e.kind.as_str() {
        "latency" => nets
            .saturating_mul(e.losses.len() as u64)
            .saturating_mul(e.quorums.len() as u64),
        "staleness" | "pbs" | "kstaleness" => nets.saturating_mul(e.quorums.len() as u64),
        "lww" => (2 * e.clients.len() as u64).saturating_mul(e.skews.len().max(1) as u64),
        "joincost" => {
            2 * (e.tokens_per_node.len() as u64).saturating_mul(e.ring_sizes.len() as u64)
        }
        _ => 2 * e.tokens_per_node.len() as u64,
    }
}
