//! Every parameter of the model, with its default in one place.
//!
//! The resolved values (defaults filled in) are printed by
//! [`ClusterConfig::describe`] into the trace header, so a changed default
//! shows up as a snapshot diff.

use sim_core::SimDuration;

/// How keys are placed on the ring (paper §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyScheme {
    /// Position = the first 8 bytes (big-endian) of MD5(key), on a 2^64 ring.
    Md5,
    /// Keys are integers placed directly at `position = key` on a ring of
    /// `2^hash_bits` slots (the seed project's scheme).
    Integer {
        /// The ring's size as a power of two: it has `2^hash_bits` slots (1 to 63).
        hash_bits: u32,
    },
}

/// How nodes get their tokens (paper §6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenStrategy {
    /// Strategy 1: T random tokens per node.
    Random {
        /// T: how many random tokens each node gets.
        tokens_per_node: u32,
    },
    /// Strategy 3: Q equal partitions dealt round-robin to nodes after a seeded shuffle.
    EqualPartitions {
        /// Q: how many equal partitions the ring is cut into.
        partitions: u32,
    },
    /// Explicit partitions per node: the ring is cut into as many equal
    /// partitions as tokens are listed, numbered clockwise from 0, and node i
    /// owns the partitions in `tokens[i]`.
    Explicit {
        /// For each node, by index, the numbers of the partitions it owns.
        tokens: Vec<Vec<u32>>,
    },
}

/// How concurrent versions are reconciled (paper §4.4, §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Versioning {
    /// Vector clocks; concurrent versions are kept as siblings.
    VectorClock,
    /// Last write wins by (coordinator clock, node id): Cassandra's mode and the paper's session store.
    LastWriteWins,
}

/// The whole cluster's configuration. `Default` holds every default.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// Nodes in the cluster, proxies and nodes outside the ring included.
    pub nodes: u32,
    /// How keys are placed on the ring.
    pub key_scheme: KeyScheme,
    /// How nodes get their tokens.
    pub tokens: TokenStrategy,
    /// Replicas per key.
    pub n: u32,
    /// Replies a get needs (the coordinator's own read counts, when it is a replica).
    pub r: u32,
    /// Acks a put needs (the coordinator's own write counts, when it is a replica).
    pub w: u32,
    /// How concurrent versions are reconciled: vector clocks or last write wins.
    pub versioning: Versioning,
    /// How long a coordinator waits for one replica before it treats it as
    /// down, marks it so in its local view, and tries the next fallback.
    pub request_timeout: SimDuration,
    /// How long a coordinator tries to reach its quorum before it answers the client with a failure.
    pub op_deadline: SimDuration,
    /// Read repair: after answering a get, wait this long for late replies, then repair stale replicas.
    pub read_repair: bool,
    /// How long a get's coordinator waits for late replies after answering, before it repairs stale replicas.
    pub read_repair_window: SimDuration,
    /// Hinted handoff: fallbacks keep hints and deliver them when the target is seen up.
    pub hinted_handoff: bool,
    /// How long a node waits between rounds of delivering the hints it holds.
    pub hint_interval: SimDuration,
    /// How often a node retries, directly, each peer it believes down (§4.8.3:
    /// "periodically retries"); zero turns the retries off.
    pub retry_interval: SimDuration,
    /// Gossip: every interval each node exchanges its membership view with a random peer.
    pub gossip: bool,
    /// How long a node waits between gossip rounds.
    pub gossip_interval: SimDuration,
    /// Merkle-tree anti-entropy between replicas of a key range.
    pub anti_entropy: bool,
    /// How long a node waits between anti-entropy rounds, each comparing one (range, peer) pair.
    pub anti_entropy_interval: SimDuration,
    /// Depth of each Merkle tree below the root; fan-out is 4, so 4^depth leaves.
    pub merkle_depth: u32,
    /// Vector clock entries kept before the oldest is dropped.
    pub vclock_max_entries: u32,
    /// How long a replica keeps a tombstone (a delete's version) before it
    /// purges it, by its own clock from the delete's stamp (Cassandra's
    /// gc_grace). A replica that missed the delete and is not repaired
    /// within it can bring the deleted value back.
    pub tombstone_grace: SimDuration,
    /// Where a non-owner sends a client request: `true` forwards it to the
    /// first reachable node of the top N (the paper); `false` coordinates it
    /// wherever it lands, like a client-side load balancer without
    /// partition awareness would (still with a preference-list quorum).
    pub forward_to_owner: bool,
    /// The last `proxies` nodes own no tokens: they only coordinate, sending
    /// each request to all N replicas of its key (the request-routing
    /// alternative of §4.5 that Cassandra, Voldemort and the PBS paper's
    /// WARS model use). They never hold a replica, never forward, and are
    /// never a fallback.
    pub proxies: u32,
    /// Random quorums (the probabilistic quorum model of the PBS paper's
    /// k-staleness): a coordinator sends a put to W and a get to R of the
    /// key's N replicas, chosen uniformly at random, and waits for all of
    /// them. No sloppy quorum, so hinted handoff must be off.
    pub random_quorums: bool,
    /// Nodes that start outside the ring: up, but owning no tokens and in no
    /// node's membership until a `join` (§4.9) brings them in.
    pub outside: Vec<u32>,
    /// Seed nodes (§4.8.1): every node reconciles its membership with a seed
    /// as well as with a random peer, so the ring cannot split into logical
    /// partitions; a joining node announces itself to them first.
    pub seeds: Vec<u32>,
    /// Data-centre names. Empty: one data centre, and the two fields below
    /// do not apply. A network may give each pair of data centres latencies
    /// of its own.
    pub datacenters: Vec<String>,
    /// Each node's data centre, an index into `datacenters`. Empty: node i
    /// is in data centre i mod D, round robin.
    pub node_datacenters: Vec<u32>,
    /// Data-centre-aware placement: a key's N replicas are spread over the
    /// data centres as evenly as their sizes allow (each data centre's first
    /// node along the walk, then each one's second, and so on, kept in walk
    /// order), a coordinator contacts the replicas in its own data centre
    /// first, and a node that forwards a request prefers an owner in its own
    /// data centre.
    pub datacenter_aware: bool,
    /// A deliberate bug for negative tests; `None` in every real scenario.
    /// Only with the `bugs` feature (see `bugs.rs`).
    #[cfg(feature = "bugs")]
    pub bug: Option<crate::bugs::Bug>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nodes: 5,
            key_scheme: KeyScheme::Md5,
            tokens: TokenStrategy::Random { tokens_per_node: 8 },
            n: 3,
            r: 2,
            w: 2,
            versioning: Versioning::VectorClock,
            request_timeout: SimDuration::from_ms(200),
            op_deadline: SimDuration::from_secs(1),
            read_repair: true,
            read_repair_window: SimDuration::from_ms(50),
            hinted_handoff: true,
            hint_interval: SimDuration::from_secs(1),
            gossip: true,
            gossip_interval: SimDuration::from_secs(1),
            retry_interval: SimDuration::from_secs(1),
            anti_entropy: true,
            anti_entropy_interval: SimDuration::from_secs(10),
            merkle_depth: 3,
            vclock_max_entries: 10,
            tombstone_grace: SimDuration::from_secs(60),
            forward_to_owner: true,
            proxies: 0,
            random_quorums: false,
            outside: Vec::new(),
            seeds: vec![0],
            datacenters: Vec::new(),
            node_datacenters: Vec::new(),
            datacenter_aware: false,
            #[cfg(feature = "bugs")]
            bug: None,
        }
    }
}

/// Upper bounds on the size parameters, far above any real use; each keeps a
/// mistyped value from allocating or looping without end before anything
/// else is checked. `scenarios/README.md` ("Bounds") lists them.
pub mod limits {
    /// Nodes in a cluster.
    pub const MAX_NODES: u32 = 100_000;
    /// Tokens per node under `tokens = "random"`.
    pub const MAX_TOKENS_PER_NODE: u32 = 10_000;
    /// Tokens on the ring in all (nodes x tokens per node, partitions, or explicit tokens).
    pub const MAX_TOKENS: u64 = 1_000_000;
    /// Entries in the nodes' membership views: nodes x nodes. Each node
    /// keeps a 16-byte heartbeat for every peer, so this is about 4 GB, and
    /// it allows at most 15,811 nodes (a limit of today's full views).
    pub const MAX_VIEW_ENTRIES: u64 = 250_000_000;
    /// Entries in the ring's tables: tokens x (N + 16) walk-head entries of
    /// 4 bytes and tokens x N anti-entropy entries of 8 (so at most about
    /// 600 MB); with N = 3 every ring within [`MAX_TOKENS`] fits, while a
    /// ring with hundreds of replicas a key is refused before it is built.
    pub const MAX_RING_ENTRIES: u64 = 50_000_000;
    /// Vector clock entries kept before the oldest is dropped.
    pub const MAX_VCLOCK_ENTRIES: u32 = 100_000;
    /// Merkle tree depth below the root (4^depth leaves per tree).
    pub const MAX_MERKLE_DEPTH: u32 = 8;
    /// Generated-load clients.
    pub const MAX_CLIENTS: u32 = 1_000_000;
    /// Keys a generated load (or an experiment) uses.
    pub const MAX_KEYS: u32 = 10_000_000;
    /// Operations a generated load (or an experiment point) issues.
    pub const MAX_OPS: u64 = 1_000_000_000;
    /// Open-loop request rate, in operations per second.
    pub const MAX_RATE_PER_S: f64 = 10_000_000.0;
}

impl ClusterConfig {
    /// Checks that the configuration is possible; each message says what would be valid.
    pub fn validate(&self) -> Vec<String> {
        self.problems().into_iter().map(|(_, m)| m).collect()
    }

    /// Nodes that own tokens: all but the proxies.
    pub fn storage_nodes(&self) -> u32 {
        self.nodes.saturating_sub(self.proxies)
    }

    /// The nodes that own tokens at the start: all but the proxies and the nodes outside.
    pub fn initial_members(&self) -> Vec<u32> {
        (0..self.storage_nodes())
            .filter(|n| !self.outside.contains(n))
            .collect()
    }

    /// Whether `node` is a token-less coordinator (see [`ClusterConfig::proxies`]).
    pub fn is_proxy(&self, node: sim_core::NodeId) -> bool {
        node.0 >= self.storage_nodes() && node.0 < self.nodes
    }

    /// The data centre of `node` (0 when the cluster has none).
    pub fn datacenter_of(&self, node: sim_core::NodeId) -> u32 {
        if self.datacenters.is_empty() {
            return 0;
        }
        match self.node_datacenters.get(node.index()) {
            Some(&d) => d,
            None => node.0 % self.datacenters.len() as u32,
        }
    }

    /// Every node's data centre, for the network's zones; empty without data centres.
    pub fn zones(&self) -> Vec<u32> {
        if self.datacenters.is_empty() {
            return Vec::new();
        }
        (0..self.nodes)
            .map(|i| self.datacenter_of(sim_core::NodeId(i)))
            .collect()
    }

    /// The tokens the configuration implies, which the bounds are checked against:
    /// T for each node that is not a proxy (nodes outside the ring included), the
    /// Q partitions, or the explicit tokens listed.
    pub fn total_tokens(&self) -> u64 {
        match &self.tokens {
            TokenStrategy::Random { tokens_per_node } => {
                u64::from(self.storage_nodes()) * u64::from(*tokens_per_node)
            }
            TokenStrategy::EqualPartitions { partitions } => u64::from(*partitions),
            TokenStrategy::Explicit { tokens } => tokens.iter().map(|t| t.len() as u64).sum(),
        }
    }

    /// Entries in the ring's tables, what building the cluster costs before
    /// any event runs: each token keeps the first N + 16 nodes of its walk
    /// (fewer when the walk is shorter), and each of a range's N replicas
    /// lists it for anti-entropy. Every node shares the one ring.
    pub fn ring_table_entries(&self) -> u64 {
        let total = self.total_tokens();
        #[cfg(feature = "bugs")]
        if self.bug == Some(crate::bugs::Bug::DuplicateReplicas) {
            // Its ring keeps every token's whole walk.
            return total
                .saturating_mul(total)
                .saturating_add(total.saturating_mul(u64::from(self.n)));
        }
        let head = u64::from(self.nodes).min(u64::from(self.n) + 16);
        total.saturating_mul(head.saturating_add(u64::from(self.n)))
    }

    /// What building the cluster allocates in proportion to its sizes, in
    /// table entries: the ring's tables and every node's view of every peer.
    pub fn setup_entries(&self) -> u64 {
        self.ring_table_entries()
            .saturating_add(u64::from(self.nodes).saturating_mul(u64::from(self.nodes)))
    }

    /// Like [`ClusterConfig::validate`], each problem with the field it is most about.
    /// Nothing here allocates in proportion to a size parameter before checking its bound.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        use limits::*;
        let mut errs: Vec<(&'static str, String)> = Vec::new();
        if self.nodes == 0 {
            // Every other rule is about nodes; with none, they would only add noise.
            return vec![(
                "nodes",
                "the cluster has no nodes; it needs at least 1".to_string(),
            )];
        }
        if self.nodes > MAX_NODES {
            // The other rules would size their work by it.
            return vec![(
                "nodes",
                format!(
                    "nodes = {} is above the bound of {MAX_NODES} nodes",
                    self.nodes
                ),
            )];
        }
        let views = u64::from(self.nodes) * u64::from(self.nodes);
        if views > MAX_VIEW_ENTRIES {
            // Each node would be built with a view of every peer.
            return vec![(
                "nodes",
                format!(
                    "nodes = {}: each node keeps a view of every peer, {views} entries in all, above the bound of {MAX_VIEW_ENTRIES} (at most {} nodes)",
                    self.nodes,
                    MAX_VIEW_ENTRIES.isqrt()
                ),
            )];
        }
        if self.proxies >= self.nodes {
            return vec![(
                "proxies",
                format!(
                    "proxies = {} leaves none of the {} nodes to own tokens; proxies must be below nodes",
                    self.proxies, self.nodes
                ),
            )];
        }
        let storage = self.storage_nodes();
        if self.n == 0 {
            errs.push(("n", "n = 0; a key needs at least 1 replica".to_string()));
        }
        if self.n > storage {
            let msg = if self.proxies > 0 {
                format!(
                    "n = {} exceeds the {storage} nodes that own tokens ({} nodes, {} of them proxies)",
                    self.n, self.nodes, self.proxies
                )
            } else {
                format!(
                    "n = {} exceeds the number of nodes ({})",
                    self.n, self.nodes
                )
            };
            errs.push(("n", msg));
        }
        for (name, v, what) in [
            ("r", self.r, "replies a get waits for"),
            ("w", self.w, "acks a put waits for"),
        ] {
            if v == 0 {
                errs.push((name, format!("{name} = 0; it counts the {what} (the coordinator included), so 1 <= {name} <= n")));
            } else if v > self.n && self.n > 0 {
                errs.push((
                    name,
                    format!(
                        "{name} = {v} exceeds n = {}; it counts the {what} out of n replicas",
                        self.n
                    ),
                ));
            }
        }
        errs.extend(self.datacenter_problems());
        errs.extend(self.membership_problems());
        if self.tombstone_grace < self.op_deadline {
            errs.push((
                "tombstone_grace",
                format!(
                    "tombstone_grace = {} is shorter than op_deadline = {}: a replica could purge a delete's tombstone while the delete is still running; make it at least {}",
                    self.tombstone_grace, self.op_deadline, self.op_deadline
                ),
            ));
        }
        if self.random_quorums && self.hinted_handoff {
            errs.push((
                "random_quorums",
                "random_quorums picks W or R of the key's own N replicas, with no sloppy quorum; set hinted_handoff = false".to_string(),
            ));
        }
        if let KeyScheme::Integer { hash_bits } = self.key_scheme {
            if !(1..=63).contains(&hash_bits) {
                errs.push((
                    "hash_bits",
                    format!("hash_bits = {hash_bits} must be between 1 and 63"),
                ));
            }
        }
        let total = self.total_tokens();
        match &self.tokens {
            TokenStrategy::Random { tokens_per_node } => {
                if *tokens_per_node == 0 {
                    errs.push((
                        "tokens_per_node",
                        "tokens_per_node must be at least 1".into(),
                    ));
                } else if *tokens_per_node > MAX_TOKENS_PER_NODE {
                    errs.push((
                        "tokens_per_node",
                        format!("tokens_per_node = {tokens_per_node} is above the bound of {MAX_TOKENS_PER_NODE}"),
                    ));
                } else if total > MAX_TOKENS {
                    errs.push((
                        "tokens_per_node",
                        format!(
                            "{} nodes x {tokens_per_node} tokens = {total} tokens, above the bound of {MAX_TOKENS} tokens on the ring",
                            self.nodes
                        ),
                    ));
                } else if let KeyScheme::Integer { hash_bits } = self.key_scheme {
                    let slots = 1u128 << hash_bits.min(63);
                    if u128::from(total) > slots {
                        errs.push((
                            "tokens_per_node",
                            format!(
                                "{} nodes x {tokens_per_node} tokens do not fit in {slots} slots",
                                self.nodes
                            ),
                        ));
                    }
                }
            }
            TokenStrategy::EqualPartitions { partitions } => {
                if *partitions < storage {
                    errs.push((
                        "partitions",
                        format!(
                            "partitions = {partitions} is fewer than the {storage} nodes that own tokens; every one needs a partition"
                        ),
                    ));
                }
                if total > MAX_TOKENS {
                    errs.push((
                        "partitions",
                        format!("partitions = {partitions} is above the bound of {MAX_TOKENS} tokens on the ring"),
                    ));
                } else {
                    self.check_slots(*partitions, "partitions", "partitions", &mut errs);
                }
            }
            TokenStrategy::Explicit { tokens } => {
                if tokens.len() != self.nodes as usize {
                    errs.push((
                        "explicit_tokens",
                        format!(
                            "explicit tokens are given for {} nodes, but the cluster has {}",
                            tokens.len(),
                            self.nodes
                        ),
                    ));
                }
                if total > MAX_TOKENS {
                    errs.push((
                        "explicit_tokens",
                        format!(
                            "{total} explicit tokens are listed, above the bound of {MAX_TOKENS} tokens on the ring"
                        ),
                    ));
                } else {
                    let mut seen = vec![false; total as usize];
                    for (i, ts) in tokens.iter().enumerate() {
                        let proxy = i as u32 >= storage;
                        if ts.is_empty() && !proxy && !self.outside.contains(&(i as u32)) {
                            errs.push(("explicit_tokens", format!("node n{i} has no tokens")));
                        }
                        if !ts.is_empty() && proxy {
                            errs.push(("explicit_tokens", format!("node n{i} is a proxy (the last {} nodes are) and owns no tokens; remove its tokens", self.proxies)));
                        }
                        for &t in ts {
                            match seen.get_mut(t as usize) {
                                None => errs.push(("explicit_tokens", format!(
                                    "token {t} of n{i} is out of range: {total} tokens are listed, so tokens are 0..={}",
                                    total.saturating_sub(1)
                                ))),
                                Some(s) if *s => errs.push(("explicit_tokens", format!("token {t} is listed twice"))),
                                Some(s) => *s = true,
                            }
                        }
                    }
                    self.check_slots(
                        total as u32,
                        "explicit tokens",
                        "explicit_tokens",
                        &mut errs,
                    );
                }
            }
        }
        if self.request_timeout == SimDuration::ZERO {
            errs.push(("request_timeout", "request_timeout must be > 0".into()));
        }
        if self.op_deadline < self.request_timeout {
            errs.push((
                "op_deadline",
                format!(
                    "op_deadline ({}) is shorter than request_timeout ({}); it must be at least as long",
                    self.op_deadline, self.request_timeout
                ),
            ));
        }
        for (name, d, on) in [
            ("hint_interval", self.hint_interval, self.hinted_handoff),
            ("gossip_interval", self.gossip_interval, self.gossip),
            (
                "anti_entropy_interval",
                self.anti_entropy_interval,
                self.anti_entropy,
            ),
        ] {
            if on && d == SimDuration::ZERO {
                errs.push((
                    name,
                    format!("{name} must be > 0 while its mechanism is on"),
                ));
            }
        }
        if !(1..=MAX_MERKLE_DEPTH).contains(&self.merkle_depth) {
            errs.push((
                "merkle_depth",
                format!(
                    "merkle_depth = {} must be between 1 and {MAX_MERKLE_DEPTH}",
                    self.merkle_depth
                ),
            ));
        }
        let entries = self.ring_table_entries();
        if self.total_tokens() <= MAX_TOKENS && entries > MAX_RING_ENTRIES {
            errs.push((
                "n",
                format!(
                    "{} tokens with n = {} make ring tables of {entries} entries (each token keeps up to N + 16 nodes of its walk and N anti-entropy entries), above the bound of {MAX_RING_ENTRIES}; use fewer tokens or a smaller n",
                    self.total_tokens(),
                    self.n
                ),
            ));
        }
        if self.vclock_max_entries == 0 {
            errs.push((
                "vclock_max_entries",
                "vclock_max_entries must be at least 1".into(),
            ));
        } else if self.vclock_max_entries > MAX_VCLOCK_ENTRIES {
            errs.push((
                "vclock_max_entries",
                format!(
                    "vclock_max_entries = {} is above the bound of {MAX_VCLOCK_ENTRIES}",
                    self.vclock_max_entries
                ),
            ));
        }
        errs
    }

    fn check_slots(
        &self,
        partitions: u32,
        what: &str,
        field: &'static str,
        errs: &mut Vec<(&'static str, String)>,
    ) {
        if let KeyScheme::Integer { hash_bits } = self.key_scheme {
            let slots = 1u128 << hash_bits.min(63);
            if partitions == 0 || slots % u128::from(partitions) != 0 {
                errs.push((
                    field,
                    format!(
                        "{partitions} {what} do not divide the {slots} key slots (2^{hash_bits}) evenly"
                    ),
                ));
            }
        }
    }

    fn membership_problems(&self) -> Vec<(&'static str, String)> {
        let mut errs = Vec::new();
        for (i, &o) in self.outside.iter().enumerate() {
            if o >= self.storage_nodes() {
                errs.push((
                    "outside",
                    format!(
                        "n{o} cannot start outside the ring: {}",
                        if o < self.nodes {
                            "it is a proxy, which never joins"
                        } else {
                            "there is no such node"
                        }
                    ),
                ));
            } else if self.outside[..i].contains(&o) {
                errs.push(("outside", format!("n{o} is listed twice")));
            }
        }
        let members = self.initial_members().len() as u32;
        if !self.outside.is_empty()
            && members < self.n
            && self.outside.iter().all(|&o| o < self.storage_nodes())
        {
            errs.push((
                "outside",
                format!(
                    "with {} node(s) outside, {members} own tokens at the start, fewer than N = {}",
                    self.outside.len(),
                    self.n
                ),
            ));
        }
        if let TokenStrategy::Explicit { tokens } = &self.tokens {
            for &o in &self.outside {
                if tokens.get(o as usize).is_some_and(|t| !t.is_empty()) {
                    errs.push((
                        "explicit_tokens",
                        format!(
                            "n{o} starts outside the ring and owns no tokens; remove its tokens"
                        ),
                    ));
                }
            }
        }
        for &s in &self.seeds {
            if s >= self.nodes {
                errs.push((
                    "seeds",
                    format!(
                        "seed n{s} is not a node; the cluster has n0..n{}",
                        self.nodes - 1
                    ),
                ));
            }
        }
        errs
    }

    fn datacenter_problems(&self) -> Vec<(&'static str, String)> {
        let mut errs = Vec::new();
        let d = self.datacenters.len();
        if d > sim_core::MAX_ZONES as usize {
            errs.push((
                "datacenters",
                format!(
                    "{d} data centres is above the bound of {}",
                    sim_core::MAX_ZONES
                ),
            ));
            return errs;
        }
        for (i, name) in self.datacenters.iter().enumerate() {
            if name.is_empty() {
                errs.push(("datacenters", "a data-centre name is empty".to_string()));
            } else if self.datacenters[..i].contains(name) {
                errs.push((
                    "datacenters",
                    format!("data centre {name:?} is named twice; names must differ"),
                ));
            }
        }
        if !self.node_datacenters.is_empty() {
            if d == 0 {
                errs.push((
                    "node_datacenters",
                    "node_datacenters places nodes, but no datacenters = [...] names them"
                        .to_string(),
                ));
            } else if self.node_datacenters.len() != self.nodes as usize {
                errs.push((
                    "node_datacenters",
                    format!(
                        "node_datacenters places {} nodes, but the cluster has {}; give one data centre a node",
                        self.node_datacenters.len(),
                        self.nodes
                    ),
                ));
            } else if let Some(&bad) = self.node_datacenters.iter().find(|&&x| x as usize >= d) {
                errs.push((
                    "node_datacenters",
                    format!("data centre index {bad} is past the {d} data centres"),
                ));
            }
        }
        if self.datacenter_aware && d == 0 {
            errs.push((
                "datacenter_aware",
                "datacenter_aware spreads replicas over data centres; name them with datacenters = [\"a\", \"b\"]"
                    .to_string(),
            ));
        }
        errs
    }

    /// The resolved configuration as trace header lines.
    pub fn describe(&self) -> Vec<String> {
        let scheme = match self.key_scheme {
            KeyScheme::Md5 => "md5".to_string(),
            KeyScheme::Integer { hash_bits } => format!("integer(hash_bits={hash_bits})"),
        };
        let tokens = match &self.tokens {
            TokenStrategy::Random { tokens_per_node } => format!("random(T={tokens_per_node})"),
            TokenStrategy::EqualPartitions { partitions } => format!("equal(Q={partitions})"),
            TokenStrategy::Explicit { tokens } => {
                let parts: Vec<String> = tokens
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let list: Vec<String> = t.iter().map(u32::to_string).collect();
                        format!("n{i}:[{}]", list.join(","))
                    })
                    .collect();
                format!("explicit({})", parts.join(" "))
            }
        };
        let versioning = match self.versioning {
            Versioning::VectorClock => "vector-clock",
            Versioning::LastWriteWins => "last-write-wins",
        };
        let onoff = |b: bool| if b { "on" } else { "off" };
        #[cfg(feature = "bugs")]
        let bug = self
            .bug
            .map(|b| format!(" INJECTED-BUG={}", b.name()))
            .unwrap_or_default();
        #[cfg(not(feature = "bugs"))]
        let bug = "";
        let mut lines = vec![
            format!(
                "cluster nodes={} N={} R={} W={} keys={scheme} tokens={tokens} versioning={versioning} vclock_max_entries={}{bug}",
                self.nodes, self.n, self.r, self.w, self.vclock_max_entries
            ),
            format!(
                "timeouts request={} op_deadline={} forward_to_owner={} retry_down={}{}{}",
                self.request_timeout,
                self.op_deadline,
                onoff(self.forward_to_owner),
                if self.retry_interval == SimDuration::ZERO {
                    "off".to_string()
                } else {
                    format!("every {}", self.retry_interval)
                },
                if self.random_quorums {
                    " random_quorums=on"
                } else {
                    ""
                },
                if self.proxies > 0 {
                    format!(
                        " proxies={} (n{}..n{} own no tokens)",
                        self.proxies,
                        self.storage_nodes(),
                        self.nodes - 1
                    )
                } else {
                    String::new()
                }
            ),
            format!(
                "mechanisms read_repair={}(window {}) hinted_handoff={}(every {}) gossip={}(every {}) anti_entropy={}(every {}, merkle depth {}){}",
                onoff(self.read_repair),
                self.read_repair_window,
                onoff(self.hinted_handoff),
                self.hint_interval,
                onoff(self.gossip),
                self.gossip_interval,
                onoff(self.anti_entropy),
                self.anti_entropy_interval,
                self.merkle_depth,
                if self.tombstone_grace == ClusterConfig::default().tombstone_grace {
                    String::new()
                } else {
                    format!(" tombstone_grace={}", self.tombstone_grace)
                }
            ),
        ];
        if !self.datacenters.is_empty() {
            let mut members = vec![Vec::new(); self.datacenters.len()];
            for i in 0..self.nodes {
                let node = sim_core::NodeId(i);
                members[self.datacenter_of(node) as usize].push(node.to_string());
            }
            let dcs: Vec<String> = self
                .datacenters
                .iter()
                .zip(&members)
                .map(|(name, m)| {
                    if m.len() <= 16 {
                        format!("{name}=[{}]", m.join(" "))
                    } else {
                        format!("{name}=({} nodes)", m.len())
                    }
                })
                .collect();
            lines.push(format!(
                "datacenters {} placement={}",
                dcs.join(" "),
                if self.datacenter_aware {
                    "datacenter-aware"
                } else {
                    "ring-order"
                }
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::limits::*;
    use super::*;

    // Sizes above their bounds are problems named at their field, found before
    // anything is sized by them (the explicit tokens below would need 4 GB to check).
    #[test]
    fn sizes_above_their_bounds_are_problems() {
        let nodes = ClusterConfig {
            nodes: MAX_NODES + 1,
            ..ClusterConfig::default()
        };
        assert_eq!(nodes.problems().len(), 1);
        assert_eq!(nodes.problems()[0].0, "nodes");
        let explicit = ClusterConfig {
            nodes: 1,
            n: 1,
            r: 1,
            w: 1,
            tokens: TokenStrategy::Explicit {
                tokens: vec![vec![u32::MAX; MAX_TOKENS as usize + 1]],
            },
            ..ClusterConfig::default()
        };
        let p = explicit.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].1.contains("above the bound"), "{p:?}");
        let views = ClusterConfig {
            nodes: 15_812,
            ..ClusterConfig::default()
        };
        assert!(views.problems()[0].1.contains("at most 15811 nodes"));
        // The ring keeps only each walk's head, so many tokens on many nodes are no problem.
        let walk = ClusterConfig {
            nodes: 15_000,
            tokens: TokenStrategy::Random { tokens_per_node: 5 },
            ..ClusterConfig::default()
        };
        assert!(walk.problems().is_empty(), "{:?}", walk.problems());
        let ten_thousand = ClusterConfig {
            nodes: 10_000,
            ..ClusterConfig::default()
        };
        assert!(
            ten_thousand.validate().is_empty(),
            "{:?}",
            ten_thousand.validate()
        );
    }
}
