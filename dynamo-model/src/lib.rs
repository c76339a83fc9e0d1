//! `dynamo-model` is Amazon's Dynamo (DeCandia et al., SOSP 2007) as sans-IO
//! node state machines that `sim-core` drives, plus the pure checkers.
//!
//! It never reads a clock, creates an RNG, does IO or prints: time and
//! randomness arrive through the [`sim_core::Context`] handed to a node, and
//! everything a node does leaves as an effect (send, timer, reply, note).
//!
//! Where each section of the paper lives:
//!
//! | paper | what | module |
//! |---|---|---|
//! | §4.1 | `get` / `put` interface, context | [`msg`] (`Request`, `Reply`) |
//! | §4.2, §6.2 | consistent hashing, tokens (S1, S3), preference lists | [`ring`] |
//! | §4.3 | replication to N nodes | `node/coordinator.rs` (`choose_targets`) |
//! | §4.4 | vector clocks, reconciliation, truncation; last-write-wins | [`version`] |
//! | §4.5 | coordinators, forwarding, R/W quorums, read repair (§5) | `node/coordinator.rs` |
//! | §4.6 | sloppy quorum, hinted handoff | `node/replica.rs` (`store_version`), `node/handoff.rs` (`deliver_hints`) |
//! | §4.7 | Merkle-tree anti-entropy | [`merkle`], `node/anti_entropy.rs` (`anti_entropy_round`) |
//! | §4.8 | local failure detection, gossip | [`membership`], `node/gossip.rs` |
//! | §6 | parameters and their defaults | [`config`] |
//! | — | driving a cluster in sim-core: clients, history | [`cluster`] |
//! | — | checkers: lost writes, sound gets, needless siblings, convergence, quorum reads | [`checkers`] |
//! | — | invariants checked as the run goes: quorums, one reply, merges | [`invariants`] |

#[cfg(feature = "bugs")]
pub mod bugs;
pub mod checkers;
pub mod cluster;
pub mod config;
pub mod invariants;
pub mod membership;
pub mod merkle;
pub mod msg;
pub mod node;
pub mod ring;
pub mod ring_change;
pub mod truth;
pub mod version;

#[cfg(test)]
mod behaviour_tests;

pub use config::{ClusterConfig, KeyScheme, TokenStrategy, Versioning};
pub use node::DynamoNode;
pub use ring::{Key, Ring};
pub use version::{Causality, VClock, Version};
