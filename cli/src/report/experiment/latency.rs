//! `latency`: per-operation latency for each (N, R, W), network and loss rate.

use super::common::*;
use super::spec::*;
use super::table::*;
use crate::report::summary::{LatencyStats, percentile};
use crate::report::svg::{self, Chart, Series};
use dynamo_observer::{Cluster, KeyChoice, LoadSpec, OpKind, Outcome, Pacing};
use sim_core::{NetConfig, SimDuration, SimTime};

pub(super) fn latency_experiment(
    e: &Experiment,
    tick: &(dyn Fn() + Sync),
) -> Result<Outcome2, String> {
    let mut table = Table::new(&[
        "network",
        "loss",
        "quorum",
        "op",
        "count",
        "ok",
        "mean_ms",
        "sd_ms",
        "p50_ms",
        "p99_ms",
        "p99_ms_rests_on",
        "p999_ms",
        "p999_ms_rests_on",
    ]);
    type PointOut = (Vec<Vec<String>>, Vec<(String, OpKind, f64, Vec<f64>)>);
    type Point<'a> = (&'a String, &'a NetConfig, f64, (u32, u32, u32));
    let points: Vec<Point> = e
        .networks
        .iter()
        .flat_map(|(net_name, net)| {
            e.losses
                .iter()
                .flat_map(move |&loss| e.quorums.iter().map(move |&q| (net_name, net, loss, q)))
        })
        .collect();
    let results = run_points(
        e,
        &points,
        |&(net_name, net, loss, q)| -> Result<PointOut, String> {
            tick();
            let mut rows = Vec::new();
            let mut samples = Vec::new();
            let net = NetConfig {
                loss,
                ..net.clone()
            };
            let mut cluster = build_cluster(&with_quorum(&e.cluster, q), &net, e.seed)?;
            let load = |read_fraction: f64, start: SimTime| LoadSpec {
                clients: 1,
                pacing: Pacing::Closed {
                    think: SimDuration::ZERO,
                },
                keys: e.keys,
                key_choice: KeyChoice::Uniform,
                read_fraction,
                read_modify_write: false,
                delete_fraction: 0.0,
                entry: e.via.clone(),
                start,
                stop: SimTime::MAX,
                max_ops: Some(e.trials),
            };
            // The seed project's order: all the gets, then all the puts.
            cluster.add_load(load(1.0, SimTime::ZERO))?;
            let all_done = |c: &Cluster, n: usize| {
                c.history().len() >= n && c.history().iter().all(|o| o.outcome != Outcome::Pending)
            };
            run_until_done(&mut cluster, SimDuration::from_secs(100_000), |c| {
                all_done(c, e.trials as usize)
            });
            let now = cluster.now();
            cluster.add_load(load(0.0, now))?;
            run_until_done(&mut cluster, SimDuration::from_secs(100_000), |c| {
                all_done(c, 2 * e.trials as usize)
            });
            for kind in [OpKind::Get, OpKind::Put] {
                let ops: Vec<_> = cluster
                    .history()
                    .iter()
                    .filter(|o| o.kind == kind)
                    .collect();
                let lat: Vec<u64> = ops
                    .iter()
                    .filter(|o| o.outcome.is_ok())
                    .filter_map(|o| o.latency())
                    .map(|d| d.as_us())
                    .collect();
                let s = LatencyStats::of(lat.clone());
                // A percentile rests on the samples at or beyond it.
                let beyond = |v: u64| lat.iter().filter(|&&x| x >= v).count().to_string();
                rows.push(vec![
                    net_name.clone(),
                    format!("{loss}"),
                    quorum_label(q),
                    kind.name().into(),
                    ops.len().to_string(),
                    lat.len().to_string(),
                    ms(s.mean_us),
                    ms(s.sd_us),
                    ms(s.p50_us as f64),
                    ms(s.p99_us as f64),
                    beyond(s.p99_us),
                    ms(s.p999_us as f64),
                    beyond(s.p999_us),
                ]);
                let label = format!(
                    "{}{}{}",
                    quorum_label(q),
                    if e.networks.len() > 1 {
                        format!(", {net_name}")
                    } else {
                        String::new()
                    },
                    if e.losses.len() > 1 {
                        format!(", loss {loss}")
                    } else {
                        String::new()
                    }
                );
                samples.push((
                    label,
                    kind,
                    loss,
                    lat.iter().map(|&u| u as f64 / 1_000.0).collect(),
                ));
            }
            Ok((rows, samples))
        },
    )?;
    let mut samples: Vec<(String, OpKind, f64, Vec<f64>)> = Vec::new();
    for (rows, point_samples) in results {
        for r in rows {
            table.push(r);
        }
        samples.extend(point_samples);
    }
    let mut charts = Vec::new();
    for kind in [OpKind::Get, OpKind::Put] {
        let first_loss = e.losses[0];
        let mine: Vec<_> = samples
            .iter()
            .filter(|s| s.1 == kind && s.2 == first_loss)
            .collect();
        let hist: Vec<Series> = mine
            .iter()
            .map(|s| Series::new(s.0.clone(), svg::histogram_points(&s.3, 40)))
            .collect();
        let cdf: Vec<Series> = mine
            .iter()
            .map(|s| Series::new(s.0.clone(), svg::cdf_points(&s.3)))
            .collect();
        charts.push((
            format!("{} latency histogram", kind.name()),
            svg::line_chart(&Chart {
                title: format!("{} latency histogram", kind.name()),
                x_label: "latency (ms)".into(),
                y_label: "operations".into(),
                series: hist,
                ..Chart::default()
            }),
        ));
        charts.push((
            format!("{} latency CDF", kind.name()),
            svg::line_chart(&Chart {
                title: format!("{} latency CDF", kind.name()),
                x_label: "latency (ms)".into(),
                y_label: "fraction of operations".into(),
                series: cdf,
                y_range: Some((0.0, 1.0)),
                ..Chart::default()
            }),
        ));
    }
    if e.losses.len() > 1 {
        for kind in [OpKind::Get, OpKind::Put] {
            let mut series = Vec::new();
            for (net_name, _) in &e.networks {
                for &q in &e.quorums {
                    for (pname, p) in [("p50", 0.5), ("p99", 0.99)] {
                        let pts: Vec<(f64, f64)> = e
                            .losses
                            .iter()
                            .filter_map(|&loss| {
                                let label_q = quorum_label(q);
                                samples
                                    .iter()
                                    .find(|s| {
                                        s.1 == kind
                                            && s.2 == loss
                                            && s.0.starts_with(&label_q)
                                            && (e.networks.len() == 1
                                                || s.0.contains(net_name.as_str()))
                                    })
                                    .map(|s| {
                                        let mut v: Vec<u64> =
                                            s.3.iter().map(|x| (x * 1_000.0) as u64).collect();
                                        v.sort_unstable();
                                        (loss, percentile(&v, p) as f64 / 1_000.0)
                                    })
                            })
                            .collect();
                        series.push(Series {
                            name: format!("{pname} {}", quorum_label(q)),
                            points: pts,
                            dashed: pname == "p99",
                        });
                    }
                }
            }
            charts.push((
                format!("{} latency percentiles against message loss", kind.name()),
                svg::line_chart(&Chart {
                    title: format!("{} latency against loss rate", kind.name()),
                    x_label: "message loss probability".into(),
                    y_label: "latency (ms)".into(),
                    series,
                    markers: true,
                    ..Chart::default()
                }),
            ));
        }
    }
    Ok(Outcome2 { table, charts })
}
