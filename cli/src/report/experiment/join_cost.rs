//! `joincost`: what one node joining a ring of 10 to 1,000 nodes moves, under S1 and S3.

use super::common::*;
use super::spec::*;
use super::table::*;
use crate::report::svg::{self, Chart, Series};
use dynamo_model::{ClusterConfig, KeyScheme, Ring, TokenStrategy};
use sim_core::{SimRng, Stream};

/// The ring a `joincost` point starts from: `nodes` nodes under S1 (T
/// random tokens each) or S3 (Q = T x nodes equal partitions).
pub(super) fn join_cost_config(e: &Experiment, nodes: u32, t: u32, s3: bool) -> ClusterConfig {
    ClusterConfig {
        nodes,
        proxies: 0,
        tokens: if s3 {
            TokenStrategy::EqualPartitions {
                partitions: t * nodes,
            }
        } else {
            TokenStrategy::Random { tokens_per_node: t }
        },
        key_scheme: KeyScheme::Md5,
        datacenters: Vec::new(),
        node_datacenters: Vec::new(),
        datacenter_aware: false,
        ..e.cluster.clone()
    }
}

/// `joincost`: what moves when one node joins a ring of S nodes (§4.9, §6.2),
/// under S1 and S3, averaged over rings: the replica copies to make (the
/// ideal is N / (S + 1) of the key space: the new node's fair share), the
/// share of the key space whose replica set changes, and the ranges the new
/// tokens split (S3 moves whole partitions and splits none).
pub(super) fn join_cost_experiment(
    e: &Experiment,
    tick: &(dyn Fn() + Sync),
) -> Result<Outcome2, String> {
    let mut table = Table::new(&[
        "strategy",
        "nodes",
        "tokens_per_node",
        "rings",
        "copies_mean",
        "copies_ideal",
        "changed_mean",
        "ranges_split_mean",
        "ranges",
    ]);
    let n = e.cluster.n;
    let mut copies_series = Vec::new();
    let mut split_series = Vec::new();
    for &t in &e.tokens_per_node {
        for (label, s3) in [("S1", false), ("S3", true)] {
            let (mut cp, mut sp) = (Vec::new(), Vec::new());
            for &nodes in &e.ring_sizes {
                tick();
                let cfg = join_cost_config(e, nodes, t, s3);
                let (mut copies, mut changed, mut split) = (0.0, 0.0, 0.0);
                for run in 0..e.trials {
                    let seed = e.seed.wrapping_add(run);
                    let ring = Ring::build(&cfg, &mut SimRng::new(seed, Stream::Setup));
                    let after = dynamo_model::ring_change::joined(
                        &ring,
                        &cfg,
                        &mut SimRng::new(seed, Stream::Custom(11)),
                    );
                    let d = dynamo_model::ring_change::diff(&ring, &after, n as usize);
                    copies += d.copies;
                    changed += d.changed;
                    split += d.ranges_split as f64;
                }
                let runs = e.trials as f64;
                let ideal = f64::from(n) / f64::from(nodes + 1);
                let ranges = t * nodes;
                table.push(vec![
                    label.into(),
                    nodes.to_string(),
                    t.to_string(),
                    e.trials.to_string(),
                    format!("{:.5}", copies / runs),
                    format!("{ideal:.5}"),
                    format!("{:.5}", changed / runs),
                    format!("{:.2}", split / runs),
                    ranges.to_string(),
                ]);
                cp.push((f64::from(nodes), copies / runs));
                sp.push((f64::from(nodes), split / runs));
            }
            let name = format!("{label}, T = {t}");
            copies_series.push(Series::new(&name, cp));
            split_series.push(Series::new(&name, sp));
        }
    }
    let ideal: Vec<(f64, f64)> = e
        .ring_sizes
        .iter()
        .map(|&s| (f64::from(s), f64::from(n) / f64::from(s + 1)))
        .collect();
    copies_series.push(Series {
        dashed: true,
        ..Series::new("ideal: N / (S + 1)", ideal)
    });
    let copies = svg::line_chart(&Chart {
        title: format!("data copied when one node joins (N = {n})"),
        x_label: "nodes before the join (log scale)".into(),
        y_label: "replica copies made, as a share of the key space".into(),
        series: copies_series,
        markers: true,
        log_x: true,
        log_y: true,
        ..Chart::default()
    });
    let split = svg::line_chart(&Chart {
        title: "ranges the join splits (keys picked out one by one)".into(),
        x_label: "nodes before the join (log scale)".into(),
        y_label: "ranges split".into(),
        series: split_series,
        markers: true,
        log_x: true,
        ..Chart::default()
    });
    Ok(Outcome2 {
        table,
        charts: vec![
            ("data moved by a join".into(), copies),
            ("ranges split by a join".into(), split),
        ],
    })
}
