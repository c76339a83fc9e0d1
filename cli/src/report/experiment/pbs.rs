//! `pbs`: the probability that a read t ms after a write commits sees it,
//! beside the PBS paper's WARS model of the same latencies, and the times
//! at which it reaches 99% and 99.9% (t-visibility).

use super::common::*;
use super::spec::*;
use super::staleness::run_trials;
use super::table::*;
use crate::report::summary::percentile;
use crate::report::svg::{self, Chart, Series};
use dynamo_model::{ClusterConfig, Key, Ring};
use dynamo_observer::Entry;
use sim_core::{NetConfig, NodeId, SimDuration, SimRng, Stream};
use std::sync::Arc;

/// Where the WARS model's messages travel when links differ (data centres
/// or link overrides): the cluster's ring and routing pick each trial's
/// replicas and coordinators, and each message is drawn from its own link.
pub(super) struct WarsLinks {
    /// The cluster's ring, as the full protocol's run builds it.
    ring: Arc<Ring>,
    /// Draws as the clients' routing would: the workload stream.
    rng: SimRng,
    nodes: u32,
    proxies: u32,
    via: Entry,
    net: NetConfig,
    keys: u32,
}

impl WarsLinks {
    /// `None` when every link is alike, so WARS needs no placement.
    pub(super) fn new(
        cfg: &ClusterConfig,
        net: &NetConfig,
        via: &Entry,
        seed: u64,
        keys: u32,
    ) -> Option<WarsLinks> {
        if net.zone_links.is_empty() && net.links.is_empty() {
            return None;
        }
        let ring = Arc::new(Ring::build(cfg, &mut SimRng::new(seed, Stream::Setup)));
        Some(WarsLinks {
            ring,
            rng: SimRng::new(seed, Stream::Workload),
            nodes: cfg.nodes,
            proxies: cfg.proxies,
            via: via.clone(),
            net: NetConfig {
                zones: cfg.zones(),
                ..net.clone()
            },
            keys,
        })
    }

    /// The key of trial `i`, as the full protocol's trials name it.
    fn key(&self, i: u64) -> Key {
        Key::numbered(self.ring.scheme(), (i % u64::from(self.keys)) as u32)
    }

    /// Where a request goes; every node counts as up.
    fn coordinator(&mut self, key: &dynamo_model::Key) -> NodeId {
        dynamo_observer::route(
            &self.via,
            key,
            &self.ring,
            self.nodes,
            self.proxies,
            &mut self.rng,
            |_| true,
        )
    }
}

/// The PBS paper's WARS model: a coordinator outside the replicas sends the
/// write (W) to all N, commits at the W-th ack (A); a read sent t after commit
/// (R) is answered (S) by the first R replicas to respond; it is consistent if
/// one of them had received the write before the read request. With `links`,
/// each trial's key, replicas and coordinators (one for the write, one for
/// each read) come from the cluster's ring and routing, and each message's
/// latency from its link (data centres, link overrides), as the PBS paper's
/// WAN model draws a coordinator's data centre at random; a coordinator that
/// is itself a replica is charged its local link like any other.
pub(super) fn wars(
    net: &NetConfig,
    (n, r, w): (usize, usize, usize),
    trials: u64,
    delays: &[SimDuration],
    seed: u64,
    mut links: Option<WarsLinks>,
) -> (Vec<(u64, u64)>, Vec<u64>, Vec<u64>) {
    let pick = |kind: &str| {
        net.per_kind
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(&net.latency, |(_, l)| l)
            .clone()
    };
    let (lw, la, lr, ls) = (
        pick("Replicate"),
        pick("ReplicateAck"),
        pick("Read"),
        pick("ReadReply"),
    );
    let mut rng = SimRng::new(seed, Stream::Custom(9));
    let mut seen = vec![(0u64, 0u64); delays.len()];
    let (mut rl, mut wl) = (Vec::new(), Vec::new());
    for trial in 0..trials {
        // Per replica: the write's arrival, and its ack's; then per read, (request, reply).
        let (ws, mut acks): (Vec<f64>, Vec<f64>);
        let mut placed = None;
        match &mut links {
            None => {
                ws = (0..n).map(|_| lw.sample_us(&mut rng)).collect();
                acks = ws.iter().map(|x| x + la.sample_us(&mut rng)).collect();
            }
            Some(l) => {
                let key = l.key(trial);
                let replicas = l.ring.preference_list(&key, n).to_vec();
                let c = l.coordinator(&key);
                ws = replicas
                    .iter()
                    .map(|&x| l.net.latency_for(c, x, "Replicate").sample_us(&mut rng))
                    .collect();
                acks = replicas
                    .iter()
                    .zip(&ws)
                    .map(|(&x, wi)| {
                        wi + l.net.latency_for(x, c, "ReplicateAck").sample_us(&mut rng)
                    })
                    .collect();
                placed = Some((key, replicas));
            }
        }
        acks.sort_by(f64::total_cmp);
        let commit = acks[w - 1];
        wl.push(commit.round() as u64);
        for (i, d) in delays.iter().enumerate() {
            let start = commit + d.as_us() as f64;
            let mut replies: Vec<(f64, bool)> = match (&mut links, &placed) {
                (Some(l), Some((key, replicas))) => {
                    let c = l.coordinator(key);
                    replicas
                        .iter()
                        .zip(&ws)
                        .map(|(&x, &wi)| {
                            let req = l.net.latency_for(c, x, "Read").sample_us(&mut rng);
                            let rep = l.net.latency_for(x, c, "ReadReply").sample_us(&mut rng);
                            (req + rep, wi <= start + req)
                        })
                        .collect()
                }
                _ => ws
                    .iter()
                    .map(|&wi| {
                        let req = lr.sample_us(&mut rng);
                        (req + ls.sample_us(&mut rng), wi <= start + req)
                    })
                    .collect(),
            };
            replies.sort_by(|a, b| a.0.total_cmp(&b.0));
            rl.push(replies[r - 1].0.round() as u64);
            seen[i].1 += 1;
            seen[i].0 += u64::from(replies[..r].iter().any(|x| x.1));
        }
    }
    (seen, rl, wl)
}

/// Probabilities of consistency whose t-visibility the pbs report gives.
pub const VISIBILITY_TARGETS: [f64; 2] = [0.99, 0.999];
/// Bisection steps between the two grid delays that bracket a target: the
/// time found is within 1/256 of that gap (or 1 us).
pub(super) const BISECTION_STEPS: u32 = 8;

/// For each target probability, the smallest delay (ms) at which P(consistent)
/// reaches it: the first grid delay where it does, refined by bisection
/// between that delay and the one before, each step a fresh run of trials
/// (`eval` reads at the given delays and returns (consistent, reads) at
/// each; every target's midpoint is read in the same run), with the number
/// of stale reads seen at the delay returned: what the estimate rests on
/// (`None` in its place when the target is met at the grid's first delay
/// with a 95% interval wholly above it: nothing was estimated near a
/// crossing). `None` when the last delay of the grid does not reach it.
pub(super) fn visibility_times(
    grid: &[SimDuration],
    seen: &[(u64, u64)],
    targets: &[f64],
    eval: impl Fn(&[SimDuration], u32) -> Vec<(u64, u64)>,
) -> Vec<Option<(f64, Option<u64>)>> {
    let p = |(ok, n): (u64, u64)| ok as f64 / n.max(1) as f64;
    let stale = |(ok, n): (u64, u64)| n.saturating_sub(ok);
    // Per target: (lo, hi) in µs, and the stale reads seen at hi.
    let mut brackets: Vec<Option<(u64, u64, u64)>> = targets
        .iter()
        .map(|&target| {
            let i = seen.iter().position(|&x| p(x) >= target)?;
            let hi = grid[i].as_us();
            let lo = if i == 0 { hi } else { grid[i - 1].as_us() };
            Some((lo, hi, stale(seen[i])))
        })
        .collect();
    for step in 0..BISECTION_STEPS {
        let open: Vec<usize> = (0..targets.len())
            .filter(|&k| brackets[k].is_some_and(|(lo, hi, _)| hi - lo > 1))
            .collect();
        if open.is_empty() {
            break;
        }
        let mids: Vec<SimDuration> = open
            .iter()
            .map(|&k| {
                let (lo, hi, _) = brackets[k].expect("open");
                SimDuration(lo + (hi - lo) / 2)
            })
            .collect();
        let at = eval(&mids, step);
        for (j, &k) in open.iter().enumerate() {
            let (lo, hi, st) = brackets[k].expect("open");
            let mid = mids[j].as_us();
            brackets[k] = Some(if p(at[j]) >= targets[k] {
                (lo, mid, stale(at[j]))
            } else {
                (mid, hi, st)
            });
        }
    }
    brackets
        .into_iter()
        .zip(targets)
        .map(|(b, &target)| {
            b.map(|(_, hi, st)| {
                let first = grid.first().is_some_and(|g| g.as_us() == hi)
                    && seen
                        .first()
                        .is_some_and(|&(ok, n)| wilson95(ok, n).0 >= target);
                (SimDuration(hi).as_ms_f64(), (!first).then_some(st))
            })
        })
        .collect()
}

pub(super) fn pbs_experiment(e: &Experiment, tick: &(dyn Fn() + Sync)) -> Result<Outcome2, String> {
    let mut table = Table::new(&[
        "network",
        "quorum",
        "model",
        "t_ms",
        "reads",
        "consistent",
        "p_consistent",
        "p_ci95_low",
        "p_ci95_high",
    ]);
    let mut lat = Table::new(&[
        "network",
        "quorum",
        "model",
        "read_p999_ms",
        "write_p999_ms",
        "read_plus_write_p999_ms",
        "t_p0.99_ms",
        "t_p0.99_ms_rests_on",
        "t_p0.999_ms",
        "t_p0.999_ms_rests_on",
    ]);
    let mut charts = Vec::new();
    let points = network_quorum_points(e);
    let mut results = run_points(e, &points, |&(net, q)| {
        tick();
        let cfg = ClusterConfig {
            read_repair: false,
            ..with_quorum(&e.cluster, q)
        };
        let plan = plan_for(&cfg, net)?;
        let proto = run_trials(&plan, &e.via, e.seed, e.trials, e.keys, &e.delays);
        let (n, r, w) = (q.0 as usize, q.1 as usize, q.2 as usize);
        let links = || WarsLinks::new(&cfg, net, &e.via, e.seed, e.keys);
        let model = wars(net, (n, r, w), e.trials, &e.delays, e.seed, links());
        // Each bisection step is a fresh run with a seed of its own.
        let step_seed = |step: u32| e.seed.wrapping_add(0x7153_0000 + u64::from(step));
        let proto_t = visibility_times(&e.delays, &proto.0, &VISIBILITY_TARGETS, |ds, step| {
            run_trials(&plan, &e.via, step_seed(step), e.trials, e.keys, ds).0
        });
        let model_t = visibility_times(&e.delays, &model.0, &VISIBILITY_TARGETS, |ds, step| {
            wars(net, (n, r, w), e.trials, ds, step_seed(step), links()).0
        });
        Ok((proto, model, proto_t, model_t))
    })?
    .into_iter();
    for (net_name, _) in &e.networks {
        let mut series = Vec::new();
        for &q in &e.quorums {
            let (proto, model, proto_t, model_t) = results.next().expect("one result a point");
            let last_ms = e.delays.last().map_or(0.0, |d| d.as_ms_f64());
            for (mname, (seen, mut rl, mut wl), times) in
                [("dynsim", proto, proto_t), ("WARS", model, model_t)]
            {
                rl.sort_unstable();
                wl.sort_unstable();
                let (rp, wp) = (percentile(&rl, 0.999), percentile(&wl, 0.999));
                let mut row = vec![
                    net_name.clone(),
                    quorum_label(q),
                    mname.into(),
                    ms(rp as f64),
                    ms(wp as f64),
                    ms((rp + wp) as f64),
                ];
                // A strict quorum (R + W > N) is consistent by construction:
                // its time is exact, and rests on no estimate.
                let strict = q.1 + q.2 > q.0;
                for t in &times {
                    match t {
                        Some((t, stale)) => {
                            row.push(format!("{t:.3}"));
                            row.push(match stale {
                                Some(n) if !strict => n.to_string(),
                                _ => String::new(),
                            });
                        }
                        None => {
                            row.push(format!(">{last_ms}"));
                            row.push(String::new());
                        }
                    }
                }
                lat.push(row);
                let mut pts = Vec::new();
                for (i, d) in e.delays.iter().enumerate() {
                    let (ok, n) = seen[i];
                    let p = ok as f64 / n.max(1) as f64;
                    let (lo, hi) = wilson95(ok, n);
                    table.push(vec![
                        net_name.clone(),
                        quorum_label(q),
                        mname.into(),
                        format!("{}", d.as_ms_f64()),
                        n.to_string(),
                        ok.to_string(),
                        format!("{p:.4}"),
                        format!("{lo:.4}"),
                        format!("{hi:.4}"),
                    ]);
                    pts.push((d.as_ms_f64(), p));
                }
                if q.1 + q.2 <= q.0 {
                    series.push(Series {
                        name: format!("{} {mname}", quorum_label(q)),
                        points: pts,
                        dashed: mname == "WARS",
                    });
                }
            }
        }
        // 1 - P on a log axis, where 99% and 99.9% are a decade apart.
        let misses: Vec<Series> = series
            .iter()
            .map(|s| Series {
                points: s.points.iter().map(|&(t, p)| (t, 1.0 - p)).collect(),
                ..s.clone()
            })
            .collect();
        charts.push((
            format!("t-visibility ({net_name}), 1 - P on a log scale"),
            svg::line_chart(&Chart {
                title: format!("P(read t ms after commit misses the write), {net_name}"),
                x_label: "t after the write committed (ms)".into(),
                y_label: "1 - probability of consistency".into(),
                series: misses,
                markers: true,
                log_y: true,
                ..Chart::default()
            }),
        ));
        // The delays span decades (0.1 ms to seconds): the whole range on a
        // log axis, where t = 0 has no place, and the first 20 ms linear.
        for (zoom, range, log_x) in [
            ("first 20 ms", Some((0.0, 20.0)), false),
            ("all delays after 0, log scale", None, true),
        ] {
            charts.push((
                format!("t-visibility ({net_name}), {zoom}"),
                svg::line_chart(&Chart {
                    title: format!("P(read t ms after commit sees the write), {net_name}"),
                    x_label: "t after the write committed (ms)".into(),
                    y_label: "probability of consistency".into(),
                    series: series.clone(),
                    y_range: Some((0.0, 1.0)),
                    x_range: range,
                    markers: true,
                    log_x,
                    ..Chart::default()
                }),
            ));
        }
    }
    // Both tables in one: the latency rows follow the visibility rows.
    let extra = lat.columns.len() - 3;
    table.columns.extend(lat.columns[3..].iter().cloned());
    for r in &mut table.rows {
        r.extend(std::iter::repeat_n(String::new(), extra));
    }
    for r in lat.rows {
        let mut row = r[..3].to_vec();
        row.extend(std::iter::repeat_n(String::new(), 6));
        row.extend(r[3..].iter().cloned());
        table.rows.push(row);
    }
    Ok(Outcome2 { table, charts })
}

#[cfg(test)]
mod visibility_tests {
    use super::*;

    // Bisection finds where a known P(t) crosses each target, to within the
    // grid gap / 256; a target reached at the first delay is that delay; one
    // never reached is None. Each time comes with the stale reads seen at it.
    #[test]
    fn bisection_finds_the_crossing() {
        // P(t) = t / 10 ms, capped at 1, read from a million trials.
        const N: u64 = 1_000_000;
        let at = |d: SimDuration| {
            let p = (d.as_us() as f64 / 10_000.0).min(1.0);
            ((p * N as f64).round() as u64, N)
        };
        let grid: Vec<SimDuration> = [0, 5, 20, 40].map(SimDuration::from_ms).to_vec();
        let seen: Vec<(u64, u64)> = grid.iter().map(|&d| at(d)).collect();
        let runs = std::cell::Cell::new(0);
        let eval = |ds: &[SimDuration], _step: u32| {
            runs.set(runs.get() + 1);
            ds.iter().map(|&d| at(d)).collect()
        };
        let t = visibility_times(&grid, &seen, &[0.99, 0.999, 0.0, 1.5], eval);
        let gap_ms = 15.0 / 256.0;
        let (t99, stale99) = t[0].unwrap();
        let stale99 = stale99.expect("found by bisection");
        assert!((9.9..=9.9 + gap_ms).contains(&t99), "{t99}");
        // At the time found, the stale reads are what P says they are.
        assert_eq!(
            stale99,
            N - at(SimDuration((t99 * 1000.0).round() as u64)).0
        );
        assert!(stale99 <= 10_000, "{stale99}");
        let (t999, stale999) = t[1].unwrap();
        let stale999 = stale999.expect("found by bisection");
        assert!((9.99..=9.99 + gap_ms).contains(&t999), "{t999}");
        assert!(stale999 <= 1_000, "{stale999}");
        assert_eq!(
            t[2],
            Some((0.0, None)),
            "met at the first delay beyond doubt"
        );
        assert_eq!(t[3], None, "never reached");
        assert_eq!(
            runs.get(),
            BISECTION_STEPS,
            "both targets share each step's run"
        );
    }
}
