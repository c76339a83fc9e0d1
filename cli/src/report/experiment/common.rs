//! What the experiment kinds share: their outcome, quorum labels and
//! configurations, the points of a (network, quorum) grid.

use super::spec::*;
use super::table::*;
use crate::parallel::par_map;
use dynamo_model::ClusterConfig;
use dynamo_observer::{Cluster, ClusterPlan};
use sim_core::{NetConfig, SimDuration};

/// What an experiment produced.
pub struct Outcome2 {
    /// The results, one row per measurement.
    pub table: Table,
    /// The report's charts: (caption, SVG markup).
    pub charts: Vec<(String, String)>,
}

pub(super) fn ms(us: f64) -> String {
    format!("{:.3}", us / 1_000.0)
}

pub(super) fn quorum_label(q: (u32, u32, u32)) -> String {
    format!("N={} R={} W={}", q.0, q.1, q.2)
}

pub(super) fn with_quorum(base: &ClusterConfig, q: (u32, u32, u32)) -> ClusterConfig {
    ClusterConfig {
        n: q.0,
        r: q.1,
        w: q.2,
        ..base.clone()
    }
}

/// Runs the cluster until `done` holds (checked every simulated second), at most `cap` of simulated time.
pub(super) fn run_until_done(
    cluster: &mut Cluster,
    cap: SimDuration,
    done: impl Fn(&Cluster) -> bool,
) {
    let end = cluster.now() + cap;
    while !done(cluster) && cluster.now() < end {
        let next = cluster.now() + SimDuration::from_secs(1);
        if cluster.run_until(next).is_final() {
            break;
        }
    }
}

/// Every (network, quorum) point, networks outermost: the order of the
/// report's rows.
pub(super) fn network_quorum_points(e: &Experiment) -> Vec<(&NetConfig, (u32, u32, u32))> {
    e.networks
        .iter()
        .flat_map(|(_, net)| e.quorums.iter().map(move |&q| (net, q)))
        .collect()
}

/// One point's configuration and network, checked together (the reader
/// checks what it can of each point's, so this fails only if it missed
/// something, which the command then reports).
pub(super) fn plan_for(cfg: &ClusterConfig, net: &NetConfig) -> Result<ClusterPlan, String> {
    ClusterPlan::new(cfg.clone(), net).map_err(|e| e.join("; "))
}

/// The cluster of one point, built with `seed` (see [`plan_for`]).
pub(super) fn build_cluster(
    cfg: &ClusterConfig,
    net: &NetConfig,
    seed: u64,
) -> Result<Cluster, String> {
    Ok(Cluster::build(&plan_for(cfg, net)?, seed, false))
}

/// Runs every point on `e`'s threads ([`par_map`]); the results in point
/// order, or the first point's failure.
pub(super) fn run_points<T: Sync, R: Send>(
    e: &Experiment,
    points: &[T],
    f: impl Fn(&T) -> Result<R, String> + Sync,
) -> Result<Vec<R>, String> {
    par_map(e.jobs, points, f).into_iter().collect()
}
