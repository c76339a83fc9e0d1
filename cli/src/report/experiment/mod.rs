//! `dynsim experiment`: parameter sweeps with many trials per point, written
//! as a CSV and JSON table and as one self-contained HTML report with SVG
//! charts. Five kinds of experiment cover the experiments docs/model.md lists:
//!
//! - `latency`: per-operation latency for each (N, R, W), latency model and loss rate;
//! - `staleness`: put a fresh value, wait a delay after it returns, read it back;
//! - `pbs`: probability that a read t ms after a write commits sees it, next to
//!   the PBS paper's WARS Monte-Carlo model of the same latencies;
//! - `lww`: acknowledged set additions that survive concurrent read-modify-write
//!   clients, last-write-wins against siblings merged by union;
//! - `balance`: load-balance efficiency of token strategies S1 and S3 (paper Fig. 8).

mod balance;
mod common;
mod file;
mod join_cost;
mod kstaleness;
mod latency;
mod lww;
mod pbs;
mod report;
mod spec;
mod staleness;
mod table;

pub use common::{Outcome2, ratio95, wilson95};
pub use file::{load, parse};
pub use kstaleness::k_staleness_closed_form;
pub use pbs::VISIBILITY_TARGETS;
pub use report::report;
pub use spec::{
    Compared, Experiment, MAX_ADDS_PER_CLIENT, MAX_JOIN_RING, MAX_K, MAX_POINTS, MAX_SWEEP_VALUES,
    MAX_TRIALS, RefValue, Reference, points,
};
pub use table::{MIN_EVENTS, Table, compare_reference};

use common::{build_cluster, with_quorum};
use dynamo_model::{ClusterConfig, KeyScheme, Ring, TokenStrategy, Versioning};
use dynamo_observer::{KeyChoice, LoadSpec, Pacing};
use join_cost::join_cost_config;
use sim_core::{NetConfig, SimDuration, SimRng, SimTime, Stream};

/// Everything the first `max_points` points do before their first simulated
/// event: each builds its cluster (for `balance`, its rings), and makes the
/// keys and the load it would use. For checking that a file the reader
/// accepts can run (the fuzz harness, which counts an `Err` as a finding);
/// it runs nothing.
pub fn prepare(e: &Experiment, max_points: usize) -> Result<(), String> {
    let build = |cfg: ClusterConfig, net: &NetConfig| build_cluster(&cfg, net, e.seed);
    let valid = |cfg: &ClusterConfig| {
        let errs = cfg.validate();
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    };
    let mut budget = max_points;
    let mut point = || {
        let go = budget > 0;
        budget = budget.saturating_sub(1);
        go
    };
    match e.kind.as_str() {
        "latency" | "staleness" | "pbs" | "kstaleness" => {
            for (_, net) in &e.networks {
                for &loss in &e.losses {
                    for &q in &e.quorums {
                        if !point() {
                            return Ok(());
                        }
                        let cfg = with_quorum(&e.cluster, q);
                        let net = NetConfig {
                            loss,
                            ..net.clone()
                        };
                        let mut cluster = build(cfg.clone(), &net)?;
                        for k in [0, e.keys - 1] {
                            let name = match cfg.key_scheme {
                                KeyScheme::Md5 => format!("key{k}"),
                                KeyScheme::Integer { .. } => k.to_string(),
                            };
                            cluster.key(&name)?;
                        }
                        if e.kind == "latency" {
                            cluster.add_load(LoadSpec {
                                clients: 1,
                                pacing: Pacing::Closed {
                                    think: SimDuration::ZERO,
                                },
                                keys: e.keys,
                                key_choice: KeyChoice::Uniform,
                                read_fraction: 1.0,
                                read_modify_write: false,
                                delete_fraction: 0.0,
                                entry: e.via.clone(),
                                start: SimTime::ZERO,
                                stop: SimTime::MAX,
                                max_ops: Some(e.trials),
                            })?;
                        }
                    }
                }
            }
        }
        "lww" => {
            for &_clients in &e.clients {
                for mode in [Versioning::VectorClock, Versioning::LastWriteWins] {
                    if !point() {
                        return Ok(());
                    }
                    let cfg = ClusterConfig {
                        versioning: mode,
                        ..e.cluster.clone()
                    };
                    build(cfg.clone(), &e.networks[0].1)?;
                    lww::set_key(&cfg.key_scheme)?;
                }
            }
        }
        "joincost" => {
            for &t in &e.tokens_per_node {
                for &nodes in &e.ring_sizes {
                    for s3 in [false, true] {
                        if !point() {
                            return Ok(());
                        }
                        let cfg = join_cost_config(e, nodes, t, s3);
                        valid(&cfg)?;
                        Ring::build(&cfg, &mut SimRng::new(e.seed, Stream::Setup));
                    }
                }
            }
        }
        _ => {
            let nodes = e.cluster.nodes;
            for &t in &e.tokens_per_node {
                for tokens in [
                    TokenStrategy::Random { tokens_per_node: t },
                    TokenStrategy::EqualPartitions {
                        partitions: t * nodes,
                    },
                ] {
                    if !point() {
                        return Ok(());
                    }
                    let cfg = ClusterConfig {
                        tokens,
                        ..e.cluster.clone()
                    };
                    valid(&cfg)?;
                    let ring = Ring::build(&cfg, &mut SimRng::new(e.seed, Stream::Setup));
                    for k in [0, e.keys - 1] {
                        ring.key(&format!("key{k}"))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Runs an experiment; `tick` is called as each point is done (a progress
/// display's). Fails only if a point's cluster cannot be built, which the
/// reader rules out for every file it accepts.
pub fn run(e: &Experiment, tick: &(dyn Fn() + Sync)) -> Result<Outcome2, String> {
    match e.kind.as_str() {
        "latency" => latency::latency_experiment(e, tick),
        "staleness" => staleness::staleness_experiment(e, tick),
        "pbs" => pbs::pbs_experiment(e, tick),
        "lww" => lww::lww_experiment(e, tick),
        "kstaleness" => kstaleness::kstaleness_experiment(e, tick),
        "joincost" => join_cost::join_cost_experiment(e, tick),
        _ => balance::balance_experiment(e, tick),
    }
}

/// Loads and runs the experiment file at `path` with at most `max_trials`
/// trials a point: the experiment as run, its outcome, and the file's own
/// trial count when it was cut to that.
pub fn run_capped(
    path: &str,
    max_trials: u64,
) -> Result<(Experiment, Outcome2, Option<u64>), String> {
    let mut e = load(path).map_err(|d| d.to_string())?;
    let cut = (e.trials > max_trials).then(|| std::mem::replace(&mut e.trials, max_trials));
    let out = run(&e, &|| {})?;
    Ok((e, out, cut))
}
