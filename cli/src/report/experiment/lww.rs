//! `lww`: acknowledged set additions that survive concurrent read-modify-write
//! clients, last-write-wins against siblings merged by union.

use super::common::*;
use super::spec::*;
use super::table::*;
use crate::report::svg::{self, Chart, Series};
use dynamo_model::{ClusterConfig, Key, KeyScheme, VClock, Versioning};
use dynamo_observer::{Entry, OpKind, OpRecord, Outcome, Program, ProgramIo, ProgramOp};
use sim_core::{ClientId, Fault, Limits, NodeId, SimDuration};
use std::sync::Arc;

/// The one set-valued key the clients add to.
pub(super) fn set_key(scheme: &KeyScheme) -> Result<Key, String> {
    Key::new(
        scheme,
        match scheme {
            KeyScheme::Integer { .. } => "1",
            KeyScheme::Md5 => "set",
        },
    )
}

/// The tag of the final read's wake-up (client wake-ups carry the client's number).
const FINAL_READ: u64 = u64::MAX;

/// Read-modify-write clients that add distinct integers to one set-valued
/// key, a program on the cluster's clients: each reads the set, merges the
/// siblings by union, adds its next integer and writes it back with the
/// read's context; then, after a quiet time, one final read.
struct SetAdders {
    clients: u32,
    adds_each: u32,
    think: SimDuration,
    key: Key,
    /// Per client: adds done.
    done: Vec<u32>,
    /// Operations in flight: request id -> (client, the integer a put adds).
    pending: std::collections::BTreeMap<u64, (u32, Option<u64>)>,
    acked: Vec<u64>,
    final_read: Option<Vec<u64>>,
}

pub(super) fn parse_set(vs: &[dynamo_model::Version]) -> Vec<u64> {
    let mut out: Vec<u64> = vs
        .iter()
        .flat_map(|v| {
            v.value
                .split(',')
                .filter_map(|x| x.parse().ok())
                .collect::<Vec<u64>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl SetAdders {
    /// Client `client` reads the set, from any node.
    fn get(&mut self, io: &mut ProgramIo<'_>, client: u32) {
        let id = io.issue(ProgramOp {
            client: ClientId(client),
            entry: Entry::Random,
            kind: OpKind::Get,
            key: self.key.clone(),
            value: None,
            context: VClock::new(),
        });
        self.pending.insert(id, (client, None));
    }
}

impl Program for SetAdders {
    fn start(&mut self, io: &mut ProgramIo<'_>) {
        for c in 0..self.clients {
            self.get(io, c);
        }
    }

    fn done(&mut self, op: &OpRecord, io: &mut ProgramIo<'_>) {
        let Some((client, adding)) = self.pending.remove(&op.id) else {
            return;
        };
        if client == u32::MAX {
            if let Outcome::GetOk { versions, .. } = &op.outcome {
                self.final_read = Some(parse_set(versions));
            }
            return;
        }
        match (adding, &op.outcome) {
            (None, Outcome::GetOk { versions, context }) => {
                // Merge the siblings by union, add this client's next integer, write back with the context.
                let mut set = parse_set(versions);
                let x = u64::from(client) * 1_000_000 + u64::from(self.done[client as usize]);
                set.push(x);
                let value: Vec<String> = set.iter().map(u64::to_string).collect();
                let id = io.issue(ProgramOp {
                    client: ClientId(client),
                    entry: Entry::Random,
                    kind: OpKind::Put,
                    key: self.key.clone(),
                    value: Some(Arc::from(value.join(",").as_str())),
                    context: context.clone(),
                });
                self.pending.insert(id, (client, Some(x)));
            }
            (Some(x), Outcome::PutOk { .. }) => {
                self.acked.push(x);
                self.done[client as usize] += 1;
                if self.done[client as usize] < self.adds_each {
                    io.wake_at(io.now() + self.think, u64::from(client));
                }
            }
            // A failed get or put: try this add again after thinking.
            _ => io.wake_at(io.now() + self.think, u64::from(client)),
        }
    }

    fn wake(&mut self, tag: u64, io: &mut ProgramIo<'_>) {
        if tag == FINAL_READ {
            let id = io.issue(ProgramOp {
                client: ClientId(9_999),
                entry: Entry::Node(NodeId(0)),
                kind: OpKind::Get,
                key: self.key.clone(),
                value: None,
                context: VClock::new(),
            });
            self.pending.insert(id, (u32::MAX, None));
        } else {
            self.get(io, tag as u32);
        }
    }
}

/// A clock offset as the file writes it: "+50ms", "-1s", "0ms".
fn skew_text(us: i64) -> String {
    let sign = if us < 0 {
        "-"
    } else if us > 0 {
        "+"
    } else {
        ""
    };
    format!("{sign}{}", SimDuration(us.unsigned_abs()))
}

/// One point: `trials` runs of `clients` adders under `mode`, with node
/// n0's clock `skew` µs off; per run, (acknowledged adds in the final read,
/// acknowledged adds).
fn lww_point(
    e: &Experiment,
    mode: Versioning,
    skew: i64,
    clients: u32,
) -> Result<Vec<(u64, u64)>, String> {
    let mut runs = Vec::new();
    for run in 0..e.trials {
        let cfg = ClusterConfig {
            versioning: mode,
            ..e.cluster.clone()
        };
        let seed = e.seed.wrapping_add(run);
        let net = &e.networks[0].1;
        let mut cluster = build_cluster(&cfg, net, seed)?;
        if skew != 0 {
            cluster.fault_now(Fault::ClockSkew {
                node: NodeId(0),
                skew_us: skew,
            });
        }
        let mut h = SetAdders {
            clients,
            adds_each: e.adds_per_client,
            think: SimDuration::from_ms(1),
            key: set_key(&cfg.key_scheme)?,
            done: vec![0; clients as usize],
            pending: std::collections::BTreeMap::new(),
            acked: Vec::new(),
            final_read: None,
        };
        cluster.start_program(&mut h);
        let cap = cluster.now() + SimDuration::from_secs(3_600);
        while h.done.iter().any(|&d| d < h.adds_each) && cluster.now() < cap {
            let next = cluster.now() + SimDuration::from_secs(1);
            if cluster.run_program(&mut h, Limits::until(next)).is_final() {
                break;
            }
        }
        // Let replication and repair settle, then read the set once.
        let quiet = cluster.now() + SimDuration::from_secs(30);
        cluster.wake_program(quiet, FINAL_READ);
        cluster.run_program(&mut h, Limits::until(quiet + SimDuration::from_secs(5)));
        let final_set = h.final_read.clone().unwrap_or_default();
        let kept = h
            .acked
            .iter()
            .filter(|x| final_set.binary_search(x).is_ok())
            .count();
        runs.push((kept as u64, h.acked.len() as u64));
    }
    Ok(runs)
}

pub(super) fn lww_experiment(e: &Experiment, tick: &(dyn Fn() + Sync)) -> Result<Outcome2, String> {
    let mut table = Table::new(&[
        "versioning",
        "n0_skew_ms",
        "clients",
        "runs",
        "acknowledged_adds",
        "surviving_adds",
        "survival_percent",
        "ci95_low",
        "ci95_high",
    ]);
    let mut series = Vec::new();
    let skews: &[i64] = if e.skews.is_empty() { &[0] } else { &e.skews };
    for (mode, label) in [
        (Versioning::VectorClock, "siblings merged by union"),
        (Versioning::LastWriteWins, "last write wins"),
    ] {
        for &skew in skews {
            let mut pts = Vec::new();
            for &clients in &e.clients {
                tick();
                let runs = lww_point(e, mode, skew, clients)?;
                let acked: u64 = runs.iter().map(|r| r.1).sum();
                let kept: u64 = runs.iter().map(|r| r.0).sum();
                let pct = 100.0 * kept as f64 / acked.max(1) as f64;
                // The adds of one run are not independent; the runs are.
                let ci = ratio95(&runs).map_or([String::new(), String::new()], |(lo, hi)| {
                    [format!("{:.2}", 100.0 * lo), format!("{:.2}", 100.0 * hi)]
                });
                table.push(vec![
                    label.into(),
                    format!("{}", skew as f64 / 1000.0),
                    clients.to_string(),
                    e.trials.to_string(),
                    acked.to_string(),
                    kept.to_string(),
                    format!("{pct:.2}"),
                    ci[0].clone(),
                    ci[1].clone(),
                ]);
                pts.push((f64::from(clients), pct));
            }
            let name = if skews == [0] {
                label.to_string()
            } else {
                format!("{label}, n0 {}", skew_text(skew))
            };
            series.push(Series::new(name, pts));
        }
    }
    let chart = svg::line_chart(&Chart {
        title: "acknowledged adds that survive in the final read".into(),
        x_label: "concurrent read-modify-write clients".into(),
        y_label: "% of acknowledged adds".into(),
        series,
        y_range: Some((0.0, 100.0)),
        markers: true,
        x_range: None,
        ..Chart::default()
    });
    Ok(Outcome2 {
        table,
        charts: vec![("lost updates".into(), chart)],
    })
}
