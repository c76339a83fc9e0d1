//! What the checkers look at: the run's configuration, history, final node
//! states, faults and what the invariants saw.

use crate::history::OpRecord;
use crate::invariants::Invariants;
use crate::truth::Truth;
use dynamo_model::{ClusterConfig, DynamoNode, Ring};
use sim_core::{NodeId, SimTime};

/// What the checkers look at.
pub struct World<'a> {
    /// The cluster's configuration.
    pub cfg: &'a ClusterConfig,
    /// The ring at the end of the run, whose preference lists say which nodes should hold a key.
    pub ring: &'a Ring,
    /// Every client operation of the run, one record each.
    pub history: &'a [OpRecord],
    /// Every node's state at the end of the run, by node index.
    pub nodes: &'a [DynamoNode],
    /// Which nodes are up at the end.
    pub up: &'a [bool],
    /// Whether any fault happened during the run (crash, partition, loss, pause, skew ...).
    pub faults: bool,
    /// Every disk wipe in the run: when, and which node.
    pub wipes: &'a [(SimTime, NodeId)],
    /// From when on no fault acts (the last fault step), or `None` when the
    /// network itself is lossy or duplicating for the whole run.
    pub quiet_from: Option<SimTime>,
    /// Judge every get as if R + W > N and no fault happened (a scenario that
    /// promises read-your-acknowledged-writes asks for this).
    pub always_judge_reads: bool,
    /// Ground-truth causality over the history.
    pub truth: &'a Truth<'a>,
    /// The invariants checked as the run went.
    pub invariants: &'a Invariants,
    /// When the run ended.
    pub end: SimTime,
    /// The spans in which the cluster was healthy: every node up and
    /// running, no partition or one-way cut, no loss, duplication or
    /// slowness. In time order, each `(from, to)`; the last ends at `end`.
    pub healthy: &'a [(SimTime, SimTime)],
}
