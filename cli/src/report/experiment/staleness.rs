//! `staleness`: put a fresh value, wait a delay after it returns, read it back.

use super::common::*;
use super::spec::*;
use super::table::*;
use crate::report::svg::{self, Chart, Series};
use dynamo_model::{Key, KeyScheme, VClock};
use dynamo_observer::{
    Cluster, ClusterPlan, Entry, OpKind, OpRecord, Outcome, Program, ProgramIo, ProgramOp,
};
use sim_core::{ClientId, Limits, NetConfig, SimDuration, SimTime};
use std::sync::Arc;

/// Sequential put-then-read trials, a program on the cluster's clients:
/// each trial puts a fresh value, and once the put returns, reads after each
/// delay (one read per delay, all in parallel).
///
/// A put carries the clock the key's previous put returned, so each new
/// value supersedes the last instead of joining it as a sibling: a trial
/// costs the same however many trials wrote its key before it.
struct Trials {
    via: Entry,
    scheme: KeyScheme,
    keys: u32,
    delays: Vec<SimDuration>,
    total: u64,
    started: u64,
    /// The trial in flight: its key's index, the key, its value, and the reads still out.
    current: Option<(u32, Key, Arc<str>, usize)>,
    /// Per key index: the clock its last acknowledged put returned (at most `keys` entries).
    last_clock: std::collections::BTreeMap<u32, VClock>,
    /// The reads in flight: request id -> the delay each is for.
    reads: std::collections::BTreeMap<u64, usize>,
    /// Per delay: reads that saw the value, reads done.
    seen: Vec<(u64, u64)>,
    read_lat: Vec<u64>,
    write_lat: Vec<u64>,
}

impl Trials {
    fn start_trial(&mut self, io: &mut ProgramIo<'_>) {
        if self.started >= self.total {
            return;
        }
        self.started += 1;
        let k = ((self.started - 1) % u64::from(self.keys)) as u32;
        let key = Key::numbered(&self.scheme, k);
        let value: Arc<str> = Arc::from(format!("v{}", self.started).as_str());
        self.current = Some((k, key.clone(), value.clone(), self.delays.len()));
        let context = self.last_clock.get(&k).cloned().unwrap_or_default();
        io.issue(ProgramOp {
            client: ClientId(0),
            entry: self.via.clone(),
            kind: OpKind::Put,
            key,
            value: Some(value),
            context,
        });
    }
}

impl Program for Trials {
    fn start(&mut self, io: &mut ProgramIo<'_>) {
        self.start_trial(io);
    }

    fn done(&mut self, op: &OpRecord, io: &mut ProgramIo<'_>) {
        let lat = op.latency().map_or(0, SimDuration::as_us);
        match self.reads.remove(&op.id) {
            // The put: once it is acknowledged, a read after each delay.
            None if matches!(op.outcome, Outcome::PutOk { .. }) => {
                self.write_lat.push(lat);
                if let (Outcome::PutOk { clock, .. }, Some(cur)) = (&op.outcome, &self.current) {
                    self.last_clock.insert(cur.0, clock.clone());
                }
                for (i, d) in self.delays.iter().enumerate() {
                    io.wake_at(io.now() + *d, i as u64);
                }
            }
            // The put failed: the trial is over, unread.
            None => {
                self.current = None;
                self.start_trial(io);
            }
            Some(i) => {
                self.read_lat.push(lat);
                let value = self.current.as_ref().map(|c| &c.2);
                let saw = matches!(&op.outcome, Outcome::GetOk { versions, .. } if versions.iter().any(|v| Some(&v.value) == value));
                self.seen[i].1 += 1;
                self.seen[i].0 += u64::from(saw);
                if let Some(cur) = &mut self.current {
                    cur.3 -= 1;
                    if cur.3 == 0 {
                        self.current = None;
                        self.start_trial(io);
                    }
                }
            }
        }
    }

    /// The read at delay `tag`.
    fn wake(&mut self, tag: u64, io: &mut ProgramIo<'_>) {
        let Some((_, key, _, _)) = &self.current else {
            return;
        };
        let id = io.issue(ProgramOp {
            client: ClientId(1 + tag as u32),
            entry: self.via.clone(),
            kind: OpKind::Get,
            key: key.clone(),
            value: None,
            context: VClock::new(),
        });
        self.reads.insert(id, tag as usize);
    }
}

/// What `trials` put-then-read trials saw: per delay (reads that saw the
/// value, reads), and the read and write latencies (µs).
pub(super) type TrialResults = (Vec<(u64, u64)>, Vec<u64>, Vec<u64>);

/// Runs `trials` put-then-read trials on the cluster `plan` describes.
pub(super) fn run_trials(
    plan: &ClusterPlan,
    via: &Entry,
    seed: u64,
    trials: u64,
    keys: u32,
    delays: &[SimDuration],
) -> TrialResults {
    let mut cluster = Cluster::build(plan, seed, false);
    run_trials_on(&mut cluster, via, trials, keys, delays)
}

/// [`run_trials`] on a cluster already built.
fn run_trials_on(
    cluster: &mut Cluster,
    via: &Entry,
    trials: u64,
    keys: u32,
    delays: &[SimDuration],
) -> TrialResults {
    let mut p = Trials {
        via: via.clone(),
        scheme: cluster.cfg.key_scheme.clone(),
        keys,
        delays: delays.to_vec(),
        total: trials,
        started: 0,
        current: None,
        last_clock: std::collections::BTreeMap::new(),
        reads: std::collections::BTreeMap::new(),
        seen: vec![(0, 0); delays.len()],
        read_lat: Vec::new(),
        write_lat: Vec::new(),
    };
    cluster.start_program(&mut p);
    // Bounded: each operation has a deadline, so the run cannot hang.
    let cap = SimTime::ZERO + SimDuration::from_secs(trials * 30 + 60);
    while p.started < trials || p.current.is_some() {
        let next = cluster.now() + SimDuration::from_secs(10);
        let stop = cluster.run_program(&mut p, Limits::until(next));
        if cluster.now() >= cap || stop.is_final() {
            break;
        }
    }
    (p.seen, p.read_lat, p.write_lat)
}

/// The file's published percentages for `network` and `quorum`, by delay:
/// reference values on the `percent` column that name both and a delay.
fn published_points(e: &Experiment, network: &str, quorum: &str) -> Vec<(f64, f64)> {
    let Some(r) = &e.reference else {
        return Vec::new();
    };
    let get = |v: &RefValue, k: &str| {
        v.matches
            .iter()
            .find(|(c, _)| c == k)
            .map(|(_, x)| x.clone())
    };
    let mut pts: Vec<(f64, f64)> = r
        .values
        .iter()
        .filter(|v| v.column == "percent")
        .filter(|v| get(v, "network").as_deref() == Some(network))
        .filter(|v| get(v, "quorum").as_deref() == Some(quorum))
        .filter_map(|v| Some((get(v, "delay_ms")?.parse::<f64>().ok()?, v.value)))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

pub(super) fn staleness_experiment(
    e: &Experiment,
    tick: &(dyn Fn() + Sync),
) -> Result<Outcome2, String> {
    let mut table = Table::new(&[
        "network",
        "quorum",
        "delay_ms",
        "trials",
        "saw_new_value",
        "percent",
        "ci95_low",
        "ci95_high",
    ]);
    let mut charts = Vec::new();
    // One read per trial, so each delay is its own run (reads must not overlap).
    let points: Vec<(&NetConfig, (u32, u32, u32), usize)> = e
        .networks
        .iter()
        .flat_map(|(_, net)| {
            e.quorums
                .iter()
                .flat_map(move |&q| (0..e.delays.len()).map(move |i| (net, q, i)))
        })
        .collect();
    let mut results = run_points(e, &points, |&(net, q, i)| {
        if i == 0 {
            tick();
        }
        let plan = plan_for(&with_quorum(&e.cluster, q), net)?;
        let seed = e.seed.wrapping_add(i as u64);
        Ok(run_trials(&plan, &e.via, seed, e.trials, e.keys, &[e.delays[i]]).0[0])
    })?
    .into_iter();
    for (net_name, _) in &e.networks {
        let mut series = Vec::new();
        for &q in &e.quorums {
            let mut pts = Vec::new();
            for d in &e.delays {
                let (ok, n) = results.next().expect("one result a point");
                let pct = 100.0 * ok as f64 / n.max(1) as f64;
                let (lo, hi) = wilson95(ok, n);
                table.push(vec![
                    net_name.clone(),
                    quorum_label(q),
                    format!("{}", d.as_ms_f64()),
                    n.to_string(),
                    ok.to_string(),
                    format!("{pct:.2}"),
                    format!("{:.2}", 100.0 * lo),
                    format!("{:.2}", 100.0 * hi),
                ]);
                pts.push((d.as_ms_f64(), pct));
            }
            series.push(Series::new(quorum_label(q), pts));
            // The published curve for this network and quorum, if the file gives one.
            let published = published_points(e, net_name, &quorum_label(q));
            if !published.is_empty() {
                series.push(Series {
                    name: format!("{} published", quorum_label(q)),
                    points: published,
                    dashed: true,
                });
            }
        }
        charts.push((
            format!("fresh reads against delay ({net_name})"),
            svg::line_chart(&Chart {
                title: format!("gets that return the new value, latency {net_name}"),
                x_label: "delay after the put returned (ms)".into(),
                y_label: "% of gets".into(),
                series,
                y_range: Some((0.0, 100.0)),
                markers: true,
                x_range: None,
                ..Chart::default()
            }),
        ));
    }
    Ok(Outcome2 { table, charts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynamo_model::ClusterConfig;

    // Many trials on two keys leave each key with a version or two, not one
    // sibling per trial: each put supersedes the key's last value, so a
    // trial costs the same however many ran before it.
    #[test]
    fn trials_on_few_keys_do_not_pile_up_siblings() {
        let cfg = ClusterConfig {
            nodes: 5,
            n: 3,
            r: 1,
            w: 1,
            ..ClusterConfig::default()
        };
        let net = NetConfig {
            latency: sim_core::Latency::Uniform {
                min_us: 0.0,
                max_us: 20_000.0,
            },
            ..NetConfig::default()
        };
        let plan = plan_for(&cfg, &net).expect("valid");
        let mut cluster = Cluster::build(&plan, 7, false);
        let (seen, _, writes) = run_trials_on(
            &mut cluster,
            &Entry::Random,
            400,
            2,
            &[SimDuration::from_ms(5)],
        );
        assert_eq!(writes.len(), 400, "every put was acknowledged");
        assert_eq!(seen[0].1, 400, "every trial read once");
        let most = cluster
            .nodes()
            .iter()
            .flat_map(|n| n.store().values().map(Vec::len))
            .max()
            .unwrap_or(0);
        assert!(
            most <= 2,
            "a key holds {most} versions after 400 trials on 2 keys"
        );
    }
}
