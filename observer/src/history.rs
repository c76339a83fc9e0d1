//! The history record: one entry per client operation, as the clients saw
//! it (what was asked, when, and how it ended). Ground truth, the checkers
//! and the reports all read it.

use dynamo_model::{Key, Stamp, VClock, Version};
use sim_core::{ClientId, NodeId, SimDuration, SimTime};
use std::sync::Arc;

/// What a client operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Reads a key's versions.
    Get,
    /// Writes a value, with the context the client carries.
    Put,
    /// A put of a tombstone with the client's context (§4.4 applies unchanged).
    Delete,
}

impl OpKind {
    /// Its name in traces and findings: `get`, `put` or `delete`.
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

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Hash)]
pub enum Outcome {
    /// Not issued yet, or issued and not answered yet.
    Pending,
    /// The get was answered with the key's versions.
    GetOk {
        /// The versions the coordinator returned.
        versions: Vec<Version>,
        /// Their merged clock: the context a later put carries.
        context: VClock,
    },
    /// The put or delete was stored by W replicas.
    PutOk {
        /// The clock of the version written.
        clock: VClock,
        /// The version's last-write-wins stamp.
        stamp: Stamp,
    },
    /// The coordinator answered that it did not reach its quorum before its deadline.
    Failed {
        /// How many replicas answered before the deadline, each counted once.
        got: u32,
        /// How many the quorum needed: R for a get, W for a put or delete.
        needed: u32,
    },
    /// The client gave up waiting (the request or its reply was lost, or the node was down).
    TimedOut,
}

impl Outcome {
    /// Whether the operation was answered ok (`GetOk` or `PutOk`).
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::GetOk { .. } | Outcome::PutOk { .. })
    }
}

/// One client operation in the history.
#[derive(Clone, Debug, Hash)]
pub struct OpRecord {
    /// The request id: `put#3` is the op with id 3.
    pub id: u64,
    /// The client that issued it.
    pub client: ClientId,
    /// Whether it is a get, put or delete.
    pub kind: OpKind,
    /// The key it reads or writes.
    pub key: Key,
    /// The value a put writes; `None` for a get or delete.
    pub value: Option<Arc<str>>,
    /// The context the put carried.
    pub context: VClock,
    /// The get (history index) whose context the put carried, if any: ground truth for causality.
    pub context_from: Option<usize>,
    /// The node the request was sent to; `None` until it is issued.
    pub node: Option<NodeId>,
    /// When the operation was due to be issued.
    pub planned: SimTime,
    /// When the request was sent; `None` until it is issued.
    pub start: Option<SimTime>,
    /// When it ended (its first reply, or the client giving up); `None` while pending.
    pub end: Option<SimTime>,
    /// How it ended, or `Pending`.
    pub outcome: Outcome,
    /// Replies that reached the client; more than one when the request was
    /// coordinated twice (a duplicated or retried forward) or a coordinator replied twice.
    pub replies: u32,
    /// Generated (load) rather than explicit (timeline).
    pub generated: bool,
}

impl OpRecord {
    /// Time from sending the request to its end; `None` until it has ended.
    pub fn latency(&self) -> Option<SimDuration> {
        Some(self.end? - self.start?)
    }
}
