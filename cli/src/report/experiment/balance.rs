//! `balance`: load-balance efficiency of token strategies S1 and S3 (paper Fig. 8).

use super::common::*;
use super::spec::*;
use super::table::*;
use crate::report::svg::{self, Chart, Series};
use dynamo_model::{ClusterConfig, Ring, TokenStrategy};
use sim_core::{SimRng, Stream};

pub(super) fn balance_experiment(
    e: &Experiment,
    tick: &(dyn Fn() + Sync),
) -> Result<Outcome2, String> {
    let mut table = Table::new(&[
        "strategy",
        "tokens_per_node",
        "rings",
        "efficiency_mean",
        "efficiency_min",
    ]);
    let mut series = Vec::new();
    let nodes = e.cluster.nodes;
    for (label, s3) in [
        ("S1: T random tokens per node", false),
        ("S3: Q = T x nodes equal partitions", true),
    ] {
        let mut pts = Vec::new();
        for &t in &e.tokens_per_node {
            tick();
            let tokens = if s3 {
                TokenStrategy::EqualPartitions {
                    partitions: t * nodes,
                }
            } else {
                TokenStrategy::Random { tokens_per_node: t }
            };
            let cfg = ClusterConfig {
                tokens,
                ..e.cluster.clone()
            };
            let mut effs = Vec::new();
            for run in 0..e.trials {
                let ring = Ring::build(
                    &cfg,
                    &mut SimRng::new(e.seed.wrapping_add(run), Stream::Setup),
                );
                // Each node's exact share of the key space it replicates:
                // the load of uniformly spread keys, without sampling any.
                let load = ring.replica_load(cfg.n as usize);
                let mean = load.iter().sum::<f64>() / f64::from(nodes);
                let max = load.iter().copied().fold(0.0, f64::max);
                effs.push(mean / max);
            }
            let m = effs.iter().sum::<f64>() / effs.len() as f64;
            let lo = effs.iter().copied().fold(f64::INFINITY, f64::min);
            table.push(vec![
                label.into(),
                t.to_string(),
                e.trials.to_string(),
                format!("{m:.4}"),
                format!("{lo:.4}"),
            ]);
            pts.push((f64::from(t), m));
        }
        series.push(Series::new(label, pts));
    }
    let chart = svg::line_chart(&Chart {
        title: format!("load-balance efficiency (mean load / max load), {nodes} nodes"),
        x_label: "tokens per node (log scale)".into(),
        y_label: "efficiency".into(),
        series,
        y_range: Some((0.0, 1.0)),
        markers: true,
        x_range: None,
        log_x: true,
        ..Chart::default()
    });
    Ok(Outcome2 {
        table,
        charts: vec![("load balance".into(), chart)],
    })
}
