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
    Integer { hash_bits: u32 },
}

/// How nodes get their tokens (paper §6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenStrategy {
    /// Strategy 1: T random tokens per node.
    Random { tokens_per_node: u32 },
    /// Strategy 3: Q equal partitions dealt round-robin to nodes after a seeded shuffle.
    EqualPartitions { partitions: u32 },
    /// Explicit partitions per node: the ring is cut into as many equal
    /// partitions as tokens are listed, numbered clockwise from 0, and node i
    /// owns the partitions in `tokens[i]`.
    Explicit { tokens: Vec<Vec<u32>> },
}

/// How concurrent versions are reconciled (paper §4.4, §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versioning {
    /// Vector clocks; concurrent versions are kept as siblings.
    VectorClock,
    /// Last write wins by (coordinator clock, node id): Cassandra's mode and the paper's session store.
    LastWriteWins,
}

/// A deliberate bug, for negative tests that prove a checker catches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// A get coordinator returns every replica's versions as they came, without reconciling them.
    UnreconciledReads,
    /// Preference lists take the next N tokens, without skipping a node already listed.
    DuplicateReplicas,
    /// A put coordinator ignores the client's context: every write starts a fresh clock.
    DroppedContext,
    /// A coordinator counts a duplicated ack or read reply as one more answer.
    CountDuplicateAnswers,
    /// A coordinator that failed a request at its deadline keeps it open and replies ok when the quorum arrives late.
    OkAfterFailed,
    /// A replica drops the versions a read repair sends it instead of merging them.
    SkipRepairMerge,
    /// A replica answers another coordinator's read as if its store were empty.
    EmptyReadReplies,
    /// Read repair sends the reconciled versions to the node after the stale one (by id), not to it.
    RepairWrongNode,
    /// A fallback hands a hint to the key's first owner instead of the node it was for, and deletes it on that owner's ack.
    HintToFirstOwner,
    /// Anti-entropy skips the first differing leaf it finds at the bottom of the tree.
    SkipDifferingLeaf,
}

impl Bug {
    pub const NAMES: &'static [&'static str] = &[
        "unreconciled-reads",
        "duplicate-replicas",
        "dropped-context",
        "count-duplicate-answers",
        "ok-after-failed",
        "skip-repair-merge",
        "empty-read-replies",
        "repair-wrong-node",
        "hint-to-first-owner",
        "skip-differing-leaf",
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::UnreconciledReads => "unreconciled-reads",
            Bug::DuplicateReplicas => "duplicate-replicas",
            Bug::DroppedContext => "dropped-context",
            Bug::CountDuplicateAnswers => "count-duplicate-answers",
            Bug::OkAfterFailed => "ok-after-failed",
            Bug::SkipRepairMerge => "skip-repair-merge",
            Bug::EmptyReadReplies => "empty-read-replies",
            Bug::RepairWrongNode => "repair-wrong-node",
            Bug::HintToFirstOwner => "hint-to-first-owner",
            Bug::SkipDifferingLeaf => "skip-differing-leaf",
        }
    }

    pub fn from_name(name: &str) -> Option<Bug> {
        match name {
            "unreconciled-reads" => Some(Bug::UnreconciledReads),
            "duplicate-replicas" => Some(Bug::DuplicateReplicas),
            "dropped-context" => Some(Bug::DroppedContext),
            "count-duplicate-answers" => Some(Bug::CountDuplicateAnswers),
            "ok-after-failed" => Some(Bug::OkAfterFailed),
            "skip-repair-merge" => Some(Bug::SkipRepairMerge),
            "empty-read-replies" => Some(Bug::EmptyReadReplies),
            "repair-wrong-node" => Some(Bug::RepairWrongNode),
            "hint-to-first-owner" => Some(Bug::HintToFirstOwner),
            "skip-differing-leaf" => Some(Bug::SkipDifferingLeaf),
            _ => None,
        }
    }
}

/// The whole cluster's configuration. `Default` holds every default.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    pub nodes: u32,
    pub key_scheme: KeyScheme,
    pub tokens: TokenStrategy,
    /// Replicas per key.
    pub n: u32,
    /// Replies a get needs, the coordinator included.
    pub r: u32,
    /// Acks a put needs, the coordinator included.
    pub w: u32,
    pub versioning: Versioning,
    /// How long a coordinator waits for one replica before it treats it as
    /// down, marks it so in its local view, and tries the next fallback.
    pub request_timeout: SimDuration,
    /// How long a coordinator tries to reach its quorum before it answers the client with a failure.
    pub op_deadline: SimDuration,
    /// Read repair: after answering a get, wait this long for late replies, then repair stale replicas.
    pub read_repair: bool,
    pub read_repair_window: SimDuration,
    /// Hinted handoff: fallbacks keep hints and deliver them when the target is seen up.
    pub hinted_handoff: bool,
    pub hint_interval: SimDuration,
    /// Gossip: every interval each node exchanges its membership view with a random peer.
    pub gossip: bool,
    pub gossip_interval: SimDuration,
    /// Merkle-tree anti-entropy between replicas of a key range.
    pub anti_entropy: bool,
    pub anti_entropy_interval: SimDuration,
    /// Depth of each Merkle tree below the root; fan-out is 4, so 4^depth leaves.
    pub merkle_depth: u32,
    /// Vector clock entries kept before the oldest is dropped.
    pub vclock_max_entries: u32,
    /// Where a non-owner sends a client request: `true` forwards it to the
    /// first reachable node of the top N (the paper); `false` coordinates it
    /// wherever it lands, like a client-side load balancer without
    /// partition awareness would (still with a preference-list quorum).
    pub forward_to_owner: bool,
    /// A deliberate bug for negative tests; `None` in every real scenario.
    pub bug: Option<Bug>,
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
            anti_entropy: true,
            anti_entropy_interval: SimDuration::from_secs(10),
            merkle_depth: 3,
            vclock_max_entries: 10,
            forward_to_owner: true,
            bug: None,
        }
    }
}

impl ClusterConfig {
    /// Checks that the configuration is possible; each message says what would be valid.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if self.nodes == 0 {
            // Every other rule is about nodes; with none, they would only add noise.
            return vec!["the cluster has no nodes; it needs at least 1".to_string()];
        }
        if self.n == 0 {
            errs.push("n = 0; a key needs at least 1 replica".to_string());
        }
        if self.n > self.nodes {
            errs.push(format!(
                "n = {} exceeds the number of nodes ({})",
                self.n, self.nodes
            ));
        }
        for (name, v, what) in [
            ("r", self.r, "replies a get waits for"),
            ("w", self.w, "acks a put waits for"),
        ] {
            if v == 0 {
                errs.push(format!("{name} = 0; it counts the {what} (the coordinator included), so 1 <= {name} <= n"));
            } else if v > self.n && self.n > 0 {
                errs.push(format!(
                    "{name} = {v} exceeds n = {}; it counts the {what} out of n replicas",
                    self.n
                ));
            }
        }
        if let KeyScheme::Integer { hash_bits } = self.key_scheme {
            if !(1..=63).contains(&hash_bits) {
                errs.push(format!("hash_bits = {hash_bits} must be between 1 and 63"));
            }
        }
        match &self.tokens {
            TokenStrategy::Random { tokens_per_node } => {
                if *tokens_per_node == 0 {
                    errs.push("tokens_per_node must be at least 1".into());
                }
                if let KeyScheme::Integer { hash_bits } = self.key_scheme {
                    let slots = 1u128 << hash_bits.min(63);
                    if u128::from(*tokens_per_node) * u128::from(self.nodes) > slots {
                        errs.push(format!(
                            "{} nodes x {tokens_per_node} tokens do not fit in {slots} slots",
                            self.nodes
                        ));
                    }
                }
            }
            TokenStrategy::EqualPartitions { partitions } => {
                if *partitions < self.nodes {
                    errs.push(format!(
                        "partitions = {partitions} is fewer than the {} nodes; every node needs one",
                        self.nodes
                    ));
                }
                self.check_slots(*partitions, "partitions", &mut errs);
            }
            TokenStrategy::Explicit { tokens } => {
                if tokens.len() != self.nodes as usize {
                    errs.push(format!(
                        "explicit tokens are given for {} nodes, but the cluster has {}",
                        tokens.len(),
                        self.nodes
                    ));
                }
                let total: usize = tokens.iter().map(Vec::len).sum();
                let mut seen = vec![false; total];
                for (i, ts) in tokens.iter().enumerate() {
                    if ts.is_empty() {
                        errs.push(format!("node n{i} has no tokens"));
                    }
                    for &t in ts {
                        match seen.get_mut(t as usize) {
                            None => errs.push(format!(
                                "token {t} of n{i} is out of range: {total} tokens are listed, so tokens are 0..={}",
                                total.saturating_sub(1)
                            )),
                            Some(s) if *s => errs.push(format!("token {t} is listed twice")),
                            Some(s) => *s = true,
                        }
                    }
                }
                self.check_slots(total as u32, "explicit tokens", &mut errs);
            }
        }
        if self.request_timeout == SimDuration::ZERO {
            errs.push("request_timeout must be > 0".into());
        }
        if self.op_deadline < self.request_timeout {
            errs.push(format!(
                "op_deadline ({}) is shorter than request_timeout ({}); it must be at least as long",
                self.op_deadline, self.request_timeout
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
                errs.push(format!("{name} must be > 0 while its mechanism is on"));
            }
        }
        if !(1..=8).contains(&self.merkle_depth) {
            errs.push(format!(
                "merkle_depth = {} must be between 1 and 8",
                self.merkle_depth
            ));
        }
        if self.vclock_max_entries == 0 {
            errs.push("vclock_max_entries must be at least 1".into());
        }
        errs
    }

    fn check_slots(&self, partitions: u32, what: &str, errs: &mut Vec<String>) {
        if let KeyScheme::Integer { hash_bits } = self.key_scheme {
            let slots = 1u128 << hash_bits.min(63);
            if partitions == 0 || slots % u128::from(partitions) != 0 {
                errs.push(format!(
                    "{partitions} {what} do not divide the {slots} key slots (2^{hash_bits}) evenly"
                ));
            }
        }
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
        let bug = self
            .bug
            .map(|b| format!(" INJECTED-BUG={}", b.name()))
            .unwrap_or_default();
        vec![
            format!(
                "cluster nodes={} N={} R={} W={} keys={scheme} tokens={tokens} versioning={versioning} vclock_max_entries={}{bug}",
                self.nodes, self.n, self.r, self.w, self.vclock_max_entries
            ),
            format!(
                "timeouts request={} op_deadline={} forward_to_owner={}",
                self.request_timeout,
                self.op_deadline,
                onoff(self.forward_to_owner)
            ),
            format!(
                "mechanisms read_repair={}(window {}) hinted_handoff={}(every {}) gossip={}(every {}) anti_entropy={}(every {}, merkle depth {})",
                onoff(self.read_repair),
                self.read_repair_window,
                onoff(self.hinted_handoff),
                self.hint_interval,
                onoff(self.gossip),
                self.gossip_interval,
                onoff(self.anti_entropy),
                self.anti_entropy_interval,
                self.merkle_depth
            ),
        ]
    }
}
