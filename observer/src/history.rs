//! The history record: one entry per client operation, as the clients saw
//! it (what was asked, when, and how it ended). Ground truth, the checkers
//! and the reports all read it.

use dynamo_model::{Key, Stamp, VClock, Version};
use sim_core::{ClientId, NodeId, SimDuration, SimTime};
use std::sync::Arc;

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
