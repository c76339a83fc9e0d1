//! `kstaleness`: reads that return one of the last k versions, against the
//! PBS closed form for probabilistic quorums.

use super::common::*;
use super::spec::*;
use super::table::*;
use crate::report::svg::{self, Chart, Series};
use dynamo_model::{ClusterConfig, Key, VClock};
use dynamo_observer::{Entry, OpKind, OpRecord, Outcome, Program, ProgramIo, ProgramOp};
use sim_core::{ClientId, Limits, SimDuration, SimTime};
use std::sync::Arc;

/// `kstaleness` trials, a program on the cluster's clients: each writes `m`
/// versions of a fresh key one after the other (each put carries the last
/// one's clock, so each supersedes the one before), then reads it once; how
/// many versions behind the newest the read's newest version is, `m` when
/// it returned none.
struct KStale {
    via: Entry,
    m: u32,
    total: u64,
    started: u64,
    written: u32,
    context: VClock,
    key: Option<Key>,
    /// The operation in flight; only its end moves the trial on.
    last: u64,
    /// Reads by how many versions behind they were (0..=m).
    behind: Vec<u64>,
    finished: u64,
}

impl KStale {
    fn send(&mut self, io: &mut ProgramIo<'_>, kind: OpKind, value: Option<Arc<str>>) {
        let Some(key) = self.key.clone() else {
            return;
        };
        self.last = io.issue(ProgramOp {
            client: ClientId(0),
            entry: self.via.clone(),
            kind,
            key,
            value,
            context: self.context.clone(),
        });
    }

    fn put_next(&mut self, io: &mut ProgramIo<'_>) {
        self.written += 1;
        let value = Arc::from(format!("w{}", self.written).as_str());
        self.send(io, OpKind::Put, Some(value));
    }

    fn start_trial(&mut self, io: &mut ProgramIo<'_>) {
        if self.started >= self.total {
            return;
        }
        self.started += 1;
        // A fresh key each trial (the reader requires MD5 placement).
        self.key = Some(Key::md5(&format!("kstale{}", self.started)));
        self.written = 0;
        self.context = VClock::new();
        self.put_next(io);
    }
}

impl Program for KStale {
    fn start(&mut self, io: &mut ProgramIo<'_>) {
        self.start_trial(io);
    }

    fn done(&mut self, op: &OpRecord, io: &mut ProgramIo<'_>) {
        if op.id != self.last {
            return;
        }
        match &op.outcome {
            Outcome::GetOk { versions, .. } => {
                let newest = versions
                    .iter()
                    .filter_map(|v| v.value.strip_prefix('w')?.parse::<u32>().ok())
                    .max()
                    .unwrap_or(0);
                self.behind[(self.m - newest.min(self.m)) as usize] += 1;
                self.finished += 1;
                self.start_trial(io);
            }
            other => {
                if let Outcome::PutOk { clock, .. } = other {
                    self.context = clock.clone();
                }
                if self.written < self.m {
                    self.put_next(io);
                } else {
                    self.send(io, OpKind::Get, None);
                }
            }
        }
    }
}

/// The probabilistic-quorum closed form (PBS, k-staleness): a read of R of N
/// replicas misses each of the last k writes, each to W of N, with
/// probability C(N-W, R) / C(N, R), independently; so it returns one of the
/// last k versions with probability 1 - (C(N-W, R) / C(N, R))^k.
pub fn k_staleness_closed_form(n: u32, r: u32, w: u32, k: u32) -> f64 {
    let choose = |a: u32, b: u32| -> f64 {
        if b > a {
            return 0.0;
        }
        (0..b).fold(1.0, |acc, i| acc * f64::from(a - i) / f64::from(i + 1))
    };
    let miss = choose(n - w, r) / choose(n, r);
    1.0 - libm::pow(miss, f64::from(k))
}

pub(super) fn kstaleness_experiment(
    e: &Experiment,
    tick: &(dyn Fn() + Sync),
) -> Result<Outcome2, String> {
    let mut table = Table::new(&[
        "network",
        "quorum",
        "k",
        "trials",
        "within_k",
        "p_measured",
        "p_ci95_low",
        "p_ci95_high",
        "p_closed_form",
        "difference",
    ]);
    let m = e.ks.iter().copied().max().unwrap_or(1);
    let points = network_quorum_points(e);
    let mut results = run_points(e, &points, |&(net, q)| {
        tick();
        let cfg = ClusterConfig {
            random_quorums: true,
            hinted_handoff: false,
            ..with_quorum(&e.cluster, q)
        };
        let mut cluster = build_cluster(&cfg, net, e.seed)?;
        let mut h = KStale {
            via: e.via.clone(),
            m,
            total: e.trials,
            started: 0,
            written: 0,
            context: VClock::new(),
            key: None,
            last: 0,
            behind: vec![0; m as usize + 1],
            finished: 0,
        };
        cluster.start_program(&mut h);
        // Bounded: every op has a deadline, so a trial cannot hang.
        let cap = SimTime::ZERO + SimDuration::from_secs(e.trials * u64::from(m + 1) * 10 + 60);
        while h.finished < e.trials && cluster.now() < cap {
            let next = cluster.now() + SimDuration::from_secs(10);
            let stop = cluster.run_program(&mut h, Limits::until(next));
            if stop == sim_core::Stop::Idle || stop.is_final() {
                break;
            }
        }
        Ok(h.behind)
    })?
    .into_iter();
    let mut charts = Vec::new();
    for (net_name, _) in &e.networks {
        let mut series = Vec::new();
        for &q in &e.quorums {
            let behind = results.next().expect("one result a point");
            let trials: u64 = behind.iter().sum();
            let (mut measured, mut closed) = (Vec::new(), Vec::new());
            for &k in &e.ks {
                let within: u64 = behind[..k as usize].iter().sum();
                let f = k_staleness_closed_form(q.0, q.1, q.2, k);
                // No read succeeded (a network that loses everything): no measurement.
                let p = (trials > 0).then(|| within as f64 / trials as f64);
                table.push(vec![
                    net_name.clone(),
                    quorum_label(q),
                    k.to_string(),
                    trials.to_string(),
                    within.to_string(),
                    p.map_or(String::new(), |p| format!("{p:.4}")),
                    p.map_or(String::new(), |_| {
                        format!("{:.4}", wilson95(within, trials).0)
                    }),
                    p.map_or(String::new(), |_| {
                        format!("{:.4}", wilson95(within, trials).1)
                    }),
                    format!("{f:.4}"),
                    p.map_or(String::new(), |p| format!("{:+.4}", p - f)),
                ]);
                if let Some(p) = p {
                    measured.push((f64::from(k), p));
                }
                closed.push((f64::from(k), f));
            }
            series.push(Series::new(format!("{} dynsim", quorum_label(q)), measured));
            series.push(Series {
                name: format!("{} closed form", quorum_label(q)),
                points: closed,
                dashed: true,
            });
        }
        charts.push((
            format!("k-staleness ({net_name})"),
            svg::line_chart(&Chart {
                title: format!("P(a read returns one of the last k versions), {net_name}"),
                x_label: "k (versions)".into(),
                y_label: "probability".into(),
                series,
                y_range: Some((0.0, 1.0)),
                markers: true,
                ..Chart::default()
            }),
        ));
    }
    Ok(Outcome2 { table, charts })
}
