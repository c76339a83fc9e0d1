//! `dynamo-observer` is everything outside a simulated Dynamo cluster: the
//! clients that send it requests and record the history of what they were
//! told, the ground truth that history implies, and the checkers and
//! run-time invariants that judge the nodes against it.
//!
//! It depends on `dynamo-model` and never the reverse: a node cannot see
//! the checkers, and the checkers judge by ground truth (which get a put
//! took its context from, which puts a get returned), never by the clocks
//! under test. Invariants that must see a moment rather than the end state
//! watch through sim-core's harness hooks (each input, each reply as it is
//! sent, every node after each handler).
//!
//! | module | what |
//! |---|---|
//! | `history.rs` | the history record ([`OpRecord`]): one entry per client operation |
//! | `verdict.rs` | a checker's [`Verdict`] |
//! | `plan.rs` | what the clients are asked to do, and request routing (§4.5) |
//! | `clients.rs` | the harness: issues requests, records the history |
//! | `program.rs` | client programs that react to replies (experiment trials), run on the same clients |
//! | `cluster.rs` | [`Cluster`]: nodes, network and clients built together |
//! | `truth.rs` | ground-truth causality and staleness over the history |
//! | `invariants.rs` | quorums, one reply, merges: judged as the run goes |
//! | `changes.rs` | joins and leaves as they went: who saw them, what a leaver let go of |
//! | `world.rs` | [`World`]: what the checkers look at |
//! | `placement.rs` | the checkers of where views, rings and keys end up, and of joins and leaves |
//! | `checkers.rs` | the table of [`CHECKERS`] and the end-of-run checkers |

mod changes;
mod checkers;
mod clients;
mod cluster;
mod history;
mod invariants;
mod placement;
mod plan;
mod program;
mod truth;
mod verdict;
mod world;

#[cfg(test)]
mod behaviour_tests;

pub use changes::{Change, ChangeLog, settle_time};
pub use checkers::{CHECKERS, Checker, Runs, check_all, checker, needless_sibling_pairs};
pub use clients::{
    Clients, MAX_HISTORY_OPS, MAX_OPS_IN_FLIGHT, OpsGauge, Trigger, TriggerFault, Wake,
};
pub use cluster::{Cluster, ClusterPlan};
pub use history::{OpKind, OpRecord, Outcome};
pub use invariants::{Invariant, Invariants, Quorum};
pub use plan::{
    ADMIN_CLIENT, AdminOp, Entry, KeyChoice, LoadSpec, Pacing, PlannedOp, ProgramOp, route,
};
pub use program::{Program, ProgramIo};
pub use truth::{Staleness, Truth, staleness};
pub use verdict::{MAX_LISTED, Status, Verdict};
pub use world::World;
