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

/// The 95% Wilson score interval for `k` successes in `n` trials: unlike
/// the normal approximation, it stays inside [0, 1] and is honest near 0
/// and 1, where these experiments live. (0, 1) when `n` is 0.
pub fn wilson95(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (k, n) = (k.min(n) as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * libm::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// A 95% interval for a ratio of sums over independent runs (Σ k / Σ n,
/// with the runs' `(k, n)`), by the ratio estimator's standard error and
/// Student's t for runs - 1 degrees of freedom: the adds within one run
/// are not independent trials, but the runs are. `None` with fewer than 2 runs.
pub fn ratio95(runs: &[(u64, u64)]) -> Option<(f64, f64)> {
    let m = runs.len();
    let total: u64 = runs.iter().map(|r| r.1).sum();
    if m < 2 || total == 0 {
        return None;
    }
    let r = runs.iter().map(|r| r.0).sum::<u64>() as f64 / total as f64;
    let mean_n = total as f64 / m as f64;
    let ss: f64 = runs
        .iter()
        .map(|&(k, n)| (k as f64 - r * n as f64).powi(2))
        .sum();
    let se = libm::sqrt(ss / ((m * (m - 1)) as f64)) / mean_n;
    let t = student_t975(m - 1);
    Some(((r - t * se).max(0.0), (r + t * se).min(1.0)))
}

/// Student's t, 97.5th percentile, for `df` degrees of freedom (1.96 beyond 30).
fn student_t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    T.get(df.wrapping_sub(1)).copied().unwrap_or(1.96)
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

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values: 50 of 100 and 0 of 10 as textbooks tabulate them
    // (0.4038-0.5962, 0-0.2775); 1998 of 2000 from the formula in Python.
    #[test]
    fn wilson_intervals() {
        let close =
            |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 5e-5 && (a.1 - b.1).abs() < 5e-5;
        assert!(
            close(wilson95(50, 100), (0.40383, 0.59617)),
            "{:?}",
            wilson95(50, 100)
        );
        assert!(
            close(wilson95(0, 10), (0.0, 0.27753)),
            "{:?}",
            wilson95(0, 10)
        );
        assert!(
            close(wilson95(1998, 2000), (0.99636, 0.99973)),
            "{:?}",
            wilson95(1998, 2000)
        );
        assert_eq!(wilson95(0, 0), (0.0, 1.0));
    }

    // The ratio interval widens with the spread between runs and is None
    // without two runs to compare.
    #[test]
    fn ratio_intervals() {
        assert_eq!(ratio95(&[(5, 10)]), None);
        let tight = ratio95(&[(50, 100), (50, 100), (51, 100), (49, 100)]).unwrap();
        let loose = ratio95(&[(90, 100), (10, 100), (80, 100), (20, 100)]).unwrap();
        assert!(tight.0 > 0.48 && tight.1 < 0.52, "{tight:?}");
        assert!(loose.0 < 0.1 && loose.1 > 0.9, "{loose:?}");
        // Every run alike: a zero-width interval at the ratio.
        assert_eq!(ratio95(&[(3, 4), (3, 4)]), Some((0.75, 0.75)));
    }
}
