//! `dynamo-model` is Amazon's Dynamo (DeCandia et al., SOSP 2007) as sans-IO
//! node state machines that `sim-core` drives.
//!
//! It never reads a clock, creates an RNG, does IO or prints: time and
//! randomness arrive through the [`sim_core::Context`] handed to a node, and
//! everything a node does leaves as an effect (send, timer, reply, note).
//! It knows nothing of clients, histories or checkers: those observe a
//! cluster from outside, in the `dynamo-observer` crate, which depends on
//! this one and never the reverse.
//!
//! Where each section of the paper lives:
//!
//! | paper | what | module |
//! |---|---|---|
//! | §4.1 | `get` / `put` interface, context | `msg.rs` ([`Request`], [`Reply`]) |
//! | §4.2, §6.2 | consistent hashing, tokens (S1, S3), preference lists | `ring.rs` ([`Ring`]) |
//! | §4.3 | replication to N nodes | `node/coordinator.rs` (`choose_targets`) |
//! | §4.4 | vector clocks, reconciliation, truncation; last-write-wins | `version.rs` ([`Version`], [`VClock`]) |
//! | §4.5 | coordinators, forwarding, R/W quorums, read repair (§5) | `node/coordinator.rs` |
//! | §4.6 | sloppy quorum, hinted handoff | `node/replica.rs`, `node/handoff.rs` |
//! | §4.7 | Merkle-tree anti-entropy | `merkle.rs`, `node/anti_entropy.rs` |
//! | §4.8 | local failure detection, gossip | `membership.rs`, `node/gossip.rs` |
//! | §4.8.1, §4.9 | adding and removing nodes | `membership.rs`, `node/membership_change.rs`, [`ring_change`] |
//! | §6 | parameters and their defaults | `config.rs` ([`ClusterConfig`]) |
//!
//! Everything a user of the crate needs is re-exported here; the modules
//! themselves are private, but for [`ring_change`] (what a join or leave
//! moves, for tools) and [`limits`] (the bounds on sizes).

#[cfg(feature = "bugs")]
pub mod bugs;
mod config;
mod heartbeat;
mod membership;
mod merkle;
mod msg;
mod node;
mod ring;
pub mod ring_change;
mod version;

pub use config::{ClusterConfig, KeyScheme, TokenStrategy, Versioning, limits};
pub use heartbeat::Beat;
pub use membership::{Member, MemberStatus, Membership, initial_membership};
pub use merkle::fnv1a;
pub use msg::{Admin, Msg, Note, OpTag, Reply, Request, Timer};
pub use node::{DynamoNode, Hint, NodeStats};
pub use ring::{Key, Ring, Walk, key_position, partition_end, space_bits};
pub use version::{
    Actor, Causality, Dot, SHOWN_VALUE_BYTES, ShownValue, Stamp, VClock, Version, merged_clock,
    reconcile, reconcile_all, same_versions, visible,
};
