//! What nodes, clients and the trace see: messages, timers, client requests
//! and replies, and trace notes.

use crate::heartbeat::Beat;
use crate::ring::Key;
use crate::version::{Stamp, VClock, Version};
use sim_core::{ClientId, Message, NodeId, Traced};
use std::fmt::Write as _;
use std::sync::Arc;

/// A coordinator-local operation id; replies carry it back.
pub type OpTag = u64;

/// A message between nodes.
#[derive(Clone, Debug)]
pub enum Msg {
    /// A node outside the key's top N passes a client request to an owner (§4.5).
    Forward {
        client: ClientId,
        req: u64,
        request: Request,
    },
    /// The owner took a forwarded request; the forwarding node stops waiting for it.
    ForwardAck {
        req: u64,
    },
    /// A coordinator asks a replica to store a new version; `hint` names the
    /// node a fallback stands in for (sloppy quorum, §4.6).
    Replicate {
        op: OpTag,
        key: Key,
        version: Version,
        hint: Option<NodeId>,
    },
    ReplicateAck {
        op: OpTag,
    },
    Read {
        op: OpTag,
        key: Key,
    },
    ReadReply {
        op: OpTag,
        versions: Vec<Version>,
    },
    /// Read repair: the reconciled versions for a replica that returned stale ones.
    Repair {
        key: Key,
        versions: Vec<Version>,
    },
    /// A fallback delivers a hinted replica to the node it was meant for.
    Handoff {
        key: Key,
        versions: Vec<Version>,
        rev: u64,
    },
    HandoffAck {
        key: Key,
        rev: u64,
    },
    /// Push-pull gossip of heartbeats (§4.8).
    Gossip {
        beats: Arc<Vec<Beat>>,
    },
    GossipReply {
        beats: Arc<Vec<Beat>>,
    },
    /// Membership reconciliation (§4.8.1): the sender's membership history,
    /// and whether the receiver should answer with its own.
    Members {
        members: crate::membership::Membership,
        reply: bool,
    },
    /// Anti-entropy (§4.7): the sender's Merkle hashes for some tree nodes at one level.
    MerkleHashes {
        range: u32,
        level: u8,
        hashes: Vec<(u32, u64)>,
    },
    /// Anti-entropy: the sender's versions of every key in the differing leaves.
    MerkleKeys {
        range: u32,
        leaves: Vec<u32>,
        entries: Vec<(Key, Vec<Version>)>,
        reply: bool,
    },
}

fn write_versions(out: &mut String, versions: &[Version]) {
    out.push('{');
    for (i, v) in versions.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{v}");
    }
    out.push('}');
}

impl Traced for Msg {
    fn label(&self) -> &'static str {
        Self::KINDS[self.kind()]
    }

    fn detail(&self, out: &mut String) {
        let _ = match self {
            Msg::Forward { req, request, .. } => write!(out, "{}#{req}", request.label()),
            Msg::ForwardAck { req } => write!(out, "#{req}"),
            Msg::Replicate {
                op,
                key,
                version,
                hint,
            } => {
                let _ = write!(out, "op{op} key {key} {version}");
                match hint {
                    Some(h) => write!(out, " hint={h}"),
                    None => Ok(()),
                }
            }
            Msg::ReplicateAck { op } => write!(out, "op{op}"),
            Msg::Read { op, key } => write!(out, "op{op} key {key}"),
            Msg::ReadReply { op, versions } => {
                let _ = write!(out, "op{op} ");
                write_versions(out, versions);
                Ok(())
            }
            Msg::Repair { key, versions } | Msg::Handoff { key, versions, .. } => {
                let _ = write!(out, "key {key} ");
                write_versions(out, versions);
                Ok(())
            }
            Msg::HandoffAck { key, rev } => write!(out, "key {key} rev {rev}"),
            Msg::Members { members, reply } => {
                let mut first = true;
                for (i, m) in members.iter().enumerate().filter(|(_, m)| m.version > 0) {
                    let sep = if first { "" } else { " " };
                    first = false;
                    let _ = write!(out, "{sep}n{i}:{}@v{}", m.status.name(), m.version);
                }
                if first {
                    out.push_str("(as configured)");
                }
                if *reply {
                    out.push_str(" (answer with yours)");
                }
                Ok(())
            }
            Msg::Gossip { beats } | Msg::GossipReply { beats } => {
                out.push('[');
                for (i, b) in beats.iter().enumerate() {
                    let _ = write!(out, "{}{}", if i > 0 { " " } else { "" }, b.counter());
                }
                out.push(']');
                Ok(())
            }
            Msg::MerkleHashes {
                range,
                level,
                hashes,
            } => {
                write!(out, "range {range} level {level} nodes {}", hashes.len())
            }
            Msg::MerkleKeys {
                range,
                leaves,
                entries,
                ..
            } => {
                let _ = write!(out, "range {range} leaves {} keys", leaves.len());
                for (k, _) in entries {
                    let _ = write!(out, " {k}");
                }
                Ok(())
            }
        };
    }
}

impl Message for Msg {
    const KINDS: &'static [&'static str] = &[
        "Forward",
        "ForwardAck",
        "Replicate",
        "ReplicateAck",
        "Read",
        "ReadReply",
        "Repair",
        "Handoff",
        "HandoffAck",
        "Gossip",
        "GossipReply",
        "MerkleHashes",
        "MerkleKeys",
        "Members",
    ];

    fn kind(&self) -> usize {
        match self {
            Msg::Forward { .. } => 0,
            Msg::ForwardAck { .. } => 1,
            Msg::Replicate { .. } => 2,
            Msg::ReplicateAck { .. } => 3,
            Msg::Read { .. } => 4,
            Msg::ReadReply { .. } => 5,
            Msg::Repair { .. } => 6,
            Msg::Handoff { .. } => 7,
            Msg::HandoffAck { .. } => 8,
            Msg::Gossip { .. } => 9,
            Msg::GossipReply { .. } => 10,
            Msg::MerkleHashes { .. } => 11,
            Msg::MerkleKeys { .. } => 12,
            Msg::Members { .. } => 13,
        }
    }
}

/// A node's timers.
#[derive(Clone, Debug)]
pub enum Timer {
    /// Replicas of `op` sent in `round` have not all answered in time.
    ReplicaTimeout {
        op: OpTag,
        round: u32,
    },
    /// `op` has run out of time.
    Deadline {
        op: OpTag,
    },
    /// The read-repair window of get `op` has closed.
    ReadRepair {
        op: OpTag,
    },
    /// Forwarded request `req` has not been taken by the owner it was sent to.
    Forward {
        req: u64,
    },
    Gossip,
    HintDelivery,
    AntiEntropy,
    /// The oldest tombstone in the store has outlived the grace period.
    Purge,
}

impl Traced for Timer {
    fn label(&self) -> &'static str {
        match self {
            Timer::ReplicaTimeout { .. } => "replica-timeout",
            Timer::Deadline { .. } => "deadline",
            Timer::ReadRepair { .. } => "read-repair",
            Timer::Forward { .. } => "forward-timeout",
            Timer::Gossip => "gossip",
            Timer::HintDelivery => "hint-delivery",
            Timer::AntiEntropy => "anti-entropy",
            Timer::Purge => "purge",
        }
    }
}

/// A client request.
#[derive(Clone, Debug)]
pub enum Request {
    Get {
        key: Key,
    },
    /// `context` is the merged clock a previous get returned (empty for a blind write).
    Put {
        key: Key,
        value: Arc<str>,
        context: VClock,
    },
    /// A put of a tombstone: it supersedes what `context` covers.
    Delete {
        key: Key,
        context: VClock,
    },
    /// An administrator's membership change (§4.9), served by the node it names.
    Admin(Admin),
}

/// A membership change an administrator asks a node for.
#[derive(Clone, Debug)]
pub enum Admin {
    /// Join the ring: with these token positions, or, when empty, tokens the
    /// node picks by the cluster's strategy.
    Join { tokens: Vec<u64> },
    /// Hand every key to its new owners, then stop.
    Leave,
}

impl Request {
    /// The key of a get, put or delete; `None` for a membership change.
    pub fn key(&self) -> Option<&Key> {
        match self {
            Request::Get { key } | Request::Put { key, .. } | Request::Delete { key, .. } => {
                Some(key)
            }
            Request::Admin(_) => None,
        }
    }
}

impl Traced for Request {
    fn label(&self) -> &'static str {
        match self {
            Request::Get { .. } => "get",
            Request::Put { .. } => "put",
            Request::Delete { .. } => "delete",
            Request::Admin(Admin::Join { .. }) => "join",
            Request::Admin(Admin::Leave) => "leave",
        }
    }
    fn detail(&self, out: &mut String) {
        let _ = match self {
            Request::Get { key } => write!(out, "key {key}"),
            Request::Put {
                key,
                value,
                context,
            } => {
                write!(out, "key {key} = {:?} context {context}", &**value)
            }
            Request::Delete { key, context } => write!(out, "key {key} context {context}"),
            Request::Admin(Admin::Join { tokens }) if tokens.is_empty() => {
                write!(out, "(tokens by the cluster's strategy)")
            }
            Request::Admin(Admin::Join { tokens }) => write!(out, "tokens {tokens:?}"),
            Request::Admin(Admin::Leave) => Ok(()),
        };
    }
}

/// A coordinator's answer to a client. `op` names the coordinator op that
/// answers (one client request may be coordinated twice), and `from` lists
/// the nodes whose answers made the quorum, the coordinator included, as the
/// op counted them; only the invariant checkers read these two.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Every causally unrelated version found (empty if the key was never written) and their merged clock.
    Got {
        versions: Vec<Version>,
        context: VClock,
        replies: u32,
        op: OpTag,
        from: Vec<NodeId>,
    },
    /// The put reached W replicas; `clock` and `stamp` are the new version's.
    Put {
        clock: VClock,
        stamp: Stamp,
        acks: u32,
        op: OpTag,
        from: Vec<NodeId>,
        /// The version was a tombstone: the request was a delete.
        deleted: bool,
    },
    /// A membership change was taken (or, `done` false, refused, saying why).
    Admin { done: bool, what: String },
    /// The quorum was not reached before the deadline.
    Failed {
        put: bool,
        /// The failed write was a delete.
        deleted: bool,
        got: u32,
        needed: u32,
        op: OpTag,
    },
}

impl Reply {
    /// The coordinator op that sent it.
    pub fn op(&self) -> OpTag {
        match self {
            Reply::Got { op, .. } | Reply::Put { op, .. } | Reply::Failed { op, .. } => *op,
            Reply::Admin { .. } => 0,
        }
    }
}

impl Traced for Reply {
    fn label(&self) -> &'static str {
        match self {
            Reply::Got { .. } | Reply::Failed { put: false, .. } => "get",
            Reply::Put { deleted: true, .. } | Reply::Failed { deleted: true, .. } => "delete",
            Reply::Admin { .. } => "admin",
            Reply::Put { .. } | Reply::Failed { put: true, .. } => "put",
        }
    }
    fn detail(&self, out: &mut String) {
        let _ = match self {
            Reply::Got {
                versions,
                context,
                replies,
                ..
            } => {
                let _ = write!(out, "ok, {} version(s) ", versions.len());
                write_versions(out, versions);
                write!(out, " context {context} ({replies} replies)")
            }
            Reply::Put {
                clock, stamp, acks, ..
            } if clock.is_empty() => {
                let v = Version {
                    dot: None,
                    value: Arc::from(""),
                    clock: clock.clone(),
                    stamp: *stamp,
                    write: 0,
                };
                let shown = v.to_string();
                write!(
                    out,
                    "ok, stored at {} ({acks} acks)",
                    shown.trim_start_matches("\"\"@")
                )
            }
            Reply::Put { clock, acks, .. } => write!(out, "ok, stored {clock} ({acks} acks)"),
            Reply::Failed { got, needed, .. } => {
                write!(out, "failed, {got} of {needed} needed answered")
            }
            Reply::Admin { done: true, what } => write!(out, "ok, {what}"),
            Reply::Admin { done: false, what } => write!(out, "refused: {what}"),
        };
    }
}

/// A trace note: what a node decided and why. Built only when the trace records.
#[derive(Debug)]
pub struct Note {
    pub label: &'static str,
    pub text: String,
}

impl Traced for Note {
    fn label(&self) -> &'static str {
        self.label
    }
    fn detail(&self, out: &mut String) {
        out.push_str(&self.text);
    }
}
