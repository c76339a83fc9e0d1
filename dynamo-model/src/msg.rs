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
#[derive(Clone, Debug, Hash)]
pub enum Msg {
    /// A node outside the key's top N passes a client request to an owner (§4.5).
    Forward {
        /// The client that sent the request; the owner answers it directly.
        client: ClientId,
        /// The harness's id for the request, which the reply carries back.
        req: u64,
        /// The client's request, unchanged.
        request: Request,
    },
    /// The owner took a forwarded request; the forwarding node stops waiting for it.
    ForwardAck {
        /// The `req` of the forward the owner took.
        req: u64,
    },
    /// A coordinator asks a replica to store a new version; `hint` names the
    /// node a fallback stands in for (sloppy quorum, §4.6).
    Replicate {
        /// The coordinator's op the ack goes back to.
        op: OpTag,
        /// The key written.
        key: Key,
        /// The new version, made by the coordinator (clock, dot and stamp).
        version: Version,
        /// The node this fallback stands in for; `None` when the receiver is one of the key's own replicas.
        hint: Option<NodeId>,
    },
    /// A replica stored the version a [`Msg::Replicate`] sent it.
    ReplicateAck {
        /// The coordinator's op this answers.
        op: OpTag,
    },
    /// A get's coordinator asks a replica for its versions of a key.
    Read {
        /// The coordinator's op the answer goes back to.
        op: OpTag,
        /// The key read.
        key: Key,
    },
    /// A replica's answer to a [`Msg::Read`].
    ReadReply {
        /// The coordinator's op this answers.
        op: OpTag,
        /// The replica's versions of the key, from its store and any hints it holds for it.
        versions: Vec<Version>,
    },
    /// Read repair: the reconciled versions for a replica that returned stale ones.
    Repair {
        /// The key repaired.
        key: Key,
        /// The reconciled versions, for the replica to merge into its store.
        versions: Vec<Version>,
    },
    /// A fallback delivers a hinted replica to the node it was meant for.
    Handoff {
        /// The key the versions belong to.
        key: Key,
        /// The versions held for the receiver, to merge into its store.
        versions: Vec<Version>,
        /// The hint's revision; the ack echoes it, so only this delivery's hint is deleted.
        rev: u64,
    },
    /// The receiver merged a [`Msg::Handoff`]; the sender may delete the hint if it has not changed since.
    HandoffAck {
        /// The key of the handoff merged.
        key: Key,
        /// The revision of the handoff merged; a hint changed since keeps a newer one and is not deleted.
        rev: u64,
    },
    /// Push-pull gossip of heartbeats (§4.8).
    Gossip {
        /// The newest heartbeat the sender knows of each node, by node index.
        beats: Arc<Vec<Beat>>,
    },
    /// The answer to a [`Msg::Gossip`]: the answering node's heartbeats, merged with those it was sent.
    GossipReply {
        /// The replier's heartbeats after the merge, by node index.
        beats: Arc<Vec<Beat>>,
    },
    /// Membership reconciliation (§4.8.1): the sender's membership history,
    /// and whether the receiver should answer with its own.
    Members {
        /// Every node's entry in the sender's membership history, by node index.
        members: crate::membership::Membership,
        /// Whether the receiver should answer with its own history.
        reply: bool,
    },
    /// Anti-entropy (§4.7): the sender's Merkle hashes for some tree nodes at one level.
    MerkleHashes {
        /// The key range (an index into the ring's ranges) whose trees are compared.
        range: u32,
        /// The tree level the hashes are at; 0 is the root.
        level: u8,
        /// (index within the level, hash) of each tree node sent.
        hashes: Vec<(u32, u64)>,
    },
    /// Anti-entropy: the sender's versions of every key in the differing leaves.
    MerkleKeys {
        /// The key range the leaves belong to.
        range: u32,
        /// The leaves (indices at the bottom level) whose hashes differ.
        leaves: Vec<u32>,
        /// Every key the sender holds in those leaves, with its versions.
        entries: Vec<(Key, Vec<Version>)>,
        /// Whether this answers the peer's keys; if not, the receiver answers with its own keys in those leaves.
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

    /// Counted as if no list were shared with another message (gossip views
    /// and membership histories are reference-counted snapshots), so the
    /// in-flight bound errs on the safe side. Values are shared with the
    /// stores and not counted.
    fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        match self {
            Msg::ReadReply { versions, .. }
            | Msg::Repair { versions, .. }
            | Msg::Handoff { versions, .. } => versions.len() * size_of::<Version>(),
            Msg::Gossip { beats } | Msg::GossipReply { beats } => beats.len() * size_of::<Beat>(),
            Msg::MerkleHashes { hashes, .. } => hashes.len() * size_of::<(u32, u64)>(),
            Msg::MerkleKeys {
                leaves, entries, ..
            } => {
                leaves.len() * size_of::<u32>()
                    + entries
                        .iter()
                        .map(|(_, v)| {
                            size_of::<(Key, Vec<Version>)>() + v.len() * size_of::<Version>()
                        })
                        .sum::<usize>()
            }
            Msg::Members { members, .. } => members.len() * size_of::<crate::membership::Member>(),
            _ => 0,
        }
    }
}

/// A node's timers.
#[derive(Clone, Debug, Hash)]
pub enum Timer {
    /// Replicas of `op` sent in `round` have not all answered in time.
    ReplicaTimeout {
        /// The coordinator's op waiting for the replicas.
        op: OpTag,
        /// Which round of sends it covers: 0 for the first, one more at each timeout.
        round: u32,
    },
    /// `op` has run out of time.
    Deadline {
        /// The coordinator's op whose deadline it is.
        op: OpTag,
    },
    /// The read-repair window of get `op` has closed.
    ReadRepair {
        /// The get's coordinator op.
        op: OpTag,
    },
    /// Forwarded request `req` has not been taken by the owner it was sent to.
    Forward {
        /// The client request id of the forward.
        req: u64,
    },
    /// Time for the next gossip round.
    Gossip,
    /// Time to retry the peers believed down.
    Retry,
    /// Time for the next round of hint delivery.
    HintDelivery,
    /// Time to compare the next (range, peer) pair.
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
            Timer::Retry => "retry",
            Timer::HintDelivery => "hint-delivery",
            Timer::AntiEntropy => "anti-entropy",
            Timer::Purge => "purge",
        }
    }
}

/// A client request.
#[derive(Clone, Debug, Hash)]
pub enum Request {
    /// Read every causally unrelated version of a key.
    Get {
        /// The key to read.
        key: Key,
    },
    /// `context` is the merged clock a previous get returned (empty for a blind write).
    Put {
        /// The key to write.
        key: Key,
        /// The new value.
        value: Arc<str>,
        /// The clock of what the client has seen; the new version supersedes what it covers.
        context: VClock,
    },
    /// A put of a tombstone: it supersedes what `context` covers.
    Delete {
        /// The key to delete.
        key: Key,
        /// The clock of what the client has seen; the tombstone supersedes what it covers.
        context: VClock,
    },
    /// An administrator's membership change (§4.9), served by the node it names.
    Admin(Admin),
}

/// A membership change an administrator asks a node for.
#[derive(Clone, Debug, Hash)]
pub enum Admin {
    /// Join the ring: with these token positions, or, when empty, tokens the
    /// node picks by the cluster's strategy.
    Join {
        /// The token positions to take; empty to let the node pick them.
        tokens: Vec<u64>,
    },
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
                write!(
                    out,
                    "key {key} = {} context {context}",
                    crate::version::ShownValue(value)
                )
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
/// the nodes whose answers the op counted (the coordinator too, when it is
/// one of the targets; a fallback and the late owner it stood in for both
/// appear, though they count once); only the invariant checkers read these two.
#[derive(Clone, Debug, Hash)]
pub enum Reply {
    /// Every causally unrelated version found (empty if the key was never written) and their merged clock.
    Got {
        /// The reconciled versions: every causally unrelated one found.
        versions: Vec<Version>,
        /// The merged clock of those versions, for the client's next put.
        context: VClock,
        /// How many replicas answered, each counted once (a fallback counts as the node it stands in for).
        replies: u32,
        /// The coordinator op that answers.
        op: OpTag,
        /// The nodes whose answers made the quorum, as the op counted them.
        from: Vec<NodeId>,
    },
    /// The put reached W replicas; `clock` and `stamp` are the new version's.
    Put {
        /// The new version's clock.
        clock: VClock,
        /// The new version's last-write-wins stamp.
        stamp: Stamp,
        /// How many replicas stored it, each counted once (a fallback counts as the node it stands in for).
        acks: u32,
        /// The coordinator op that answers.
        op: OpTag,
        /// The nodes whose acks made the quorum, as the op counted them.
        from: Vec<NodeId>,
        /// The version was a tombstone: the request was a delete.
        deleted: bool,
    },
    /// A membership change was taken (or, `done` false, refused, saying why).
    Admin {
        /// Whether the node took the change.
        done: bool,
        /// What the node did, or why it refused.
        what: String,
    },
    /// The quorum was not reached before the deadline.
    Failed {
        /// Whether the request was a put or delete (`false`: a get).
        put: bool,
        /// The failed write was a delete.
        deleted: bool,
        /// How many replicas answered before the deadline, each counted once.
        got: u32,
        /// How many the quorum needed: R for a get, W for a put or delete.
        needed: u32,
        /// The coordinator op that failed.
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
#[derive(Debug, Hash)]
pub struct Note {
    /// A short tag for the kind of decision, such as `forward` or `timeout`.
    pub label: &'static str,
    /// What was decided and why, in words.
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
