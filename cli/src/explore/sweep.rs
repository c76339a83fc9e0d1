//! `dynsim sweep`: many seeds of a scenario, each with its own swarm fault
//! mix and workload, every checker run on each, results in seed order.

use crate::args::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, SweepArgs};
use crate::explore::swarm;
use crate::output::write_output;
use crate::runner;
use crate::scenario::Scenario;
use dynamo_model::checkers::Status;
use dynamo_model::cluster::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Which mechanisms a seed exercised.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub hinted_handoff: bool,
    pub hint_delivered: bool,
    pub read_repair: bool,
    pub anti_entropy_repair: bool,
    pub forwarding: bool,
    pub siblings: bool,
    pub failed_ops: bool,
    pub client_timeouts: bool,
}

/// One seed's outcome: one JSON line in `results.jsonl`. Deterministic (no wall time), so result files diff cleanly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    pub seed: u64,
    pub ok: bool,
    /// Checkers that failed without the scenario declaring it.
    pub failed: Vec<String>,
    /// The first violation of the first failed checker.
    pub violation: Option<String>,
    pub events: u64,
    pub ops: u64,
    pub faults: Vec<String>,
    pub coverage: Coverage,
    /// The command that replays this seed with its full trace.
    pub replay: String,
}

/// Runs one seed of the sweep.
pub fn run_seed(s: &Scenario, file: &str, seed: u64) -> SeedResult {
    let plan = swarm::draw(s, seed);
    let variant = swarm::apply(s, &plan);
    let report = runner::run(&variant, seed, false);
    let mut failed = Vec::new();
    let mut violation = None;
    for v in &report.verdicts {
        let declared = report
            .expectations
            .iter()
            .any(|e| e.what.starts_with(&format!("checker {} ", v.checker)));
        if v.status == Status::Fail && !declared {
            failed.push(v.checker.to_string());
            if violation.is_none() {
                violation = v.violations.first().cloned();
            }
        }
    }
    for e in report.expectations.iter().filter(|e| !e.ok) {
        failed.push(e.what.clone());
    }
    let nodes = report.cluster.nodes();
    let h = report.cluster.history();
    let coverage = Coverage {
        hinted_handoff: nodes.iter().any(|n| n.stats.hints_created > 0),
        hint_delivered: nodes.iter().any(|n| n.stats.hints_delivered > 0),
        read_repair: nodes.iter().any(|n| n.stats.read_repairs > 0),
        anti_entropy_repair: nodes.iter().any(|n| n.stats.anti_entropy_keys_repaired > 0),
        forwarding: nodes.iter().any(|n| n.stats.forwarded > 0),
        siblings: h
            .iter()
            .any(|o| matches!(&o.outcome, Outcome::GetOk { versions, .. } if versions.len() > 1)),
        failed_ops: h
            .iter()
            .any(|o| matches!(o.outcome, Outcome::Failed { .. })),
        client_timeouts: h.iter().any(|o| o.outcome == Outcome::TimedOut),
    };
    SeedResult {
        seed,
        ok: failed.is_empty(),
        failed,
        violation,
        events: report.cluster.sim.core.stats.events,
        ops: h.len() as u64,
        faults: plan.kinds.iter().map(ToString::to_string).collect(),
        coverage,
        replay: format!("dynsim run {file} --seed {seed} --swarm --trace -"),
    }
}

/// Runs `seeds` on `jobs` threads and calls `each` with every result in seed order.
pub fn run_seeds(
    s: &Scenario,
    file: &str,
    seeds: &[u64],
    jobs: usize,
    mut each: impl FnMut(&SeedResult),
) -> Vec<SeedResult> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, SeedResult)>();
    let mut results: Vec<Option<SeedResult>> = vec![None; seeds.len()];
    let mut emitted = 0;
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    if tx.send((i, run_seed(s, file, seed))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            results[i] = Some(r);
            // Hand results on in seed order, whatever order the threads finish in.
            while emitted < results.len() {
                let Some(r) = &results[emitted] else { break };
                each(r);
                emitted += 1;
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every seed ran"))
        .collect()
}

/// Parses `A..B` (B exclusive).
pub fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("--seeds {text:?}: expected A..B, like 0..500"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("--seeds {text:?}: {a:?} is not a whole number"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("--seeds {text:?}: {b:?} is not a whole number"))?;
    if b <= a {
        return Err(format!(
            "--seeds {text:?}: the range is empty; B must exceed A"
        ));
    }
    Ok((a, b))
}

/// Parses `K/N` (0 <= K < N).
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("--shard {text:?}: expected K/N, like 0/4"))?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("--shard {text:?}: {k:?} is not a whole number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("--shard {text:?}: {n:?} is not a whole number"))?;
    if n == 0 || k >= n {
        return Err(format!(
            "--shard {text:?}: K must be in 0..N (shards are numbered from 0)"
        ));
    }
    Ok((k, n))
}

/// The seeds of shard `k` of `n`: every n-th seed of the range, starting at the k-th.
pub fn shard_seeds(range: (u64, u64), shard: (u64, u64)) -> Vec<u64> {
    (range.0..range.1)
        .filter(|s| (s - range.0) % shard.1 == shard.0)
        .collect()
}

fn pct(n: usize, total: usize) -> String {
    if total == 0 {
        "0%".into()
    } else {
        format!("{:.0}%", 100.0 * n as f64 / total as f64)
    }
}

/// The sweep summary from its results (and timing, when known).
pub fn summarize(results: &[SeedResult], timing: Option<(f64, usize)>) -> String {
    let mut o = String::new();
    let total = results.len();
    let failures: Vec<&SeedResult> = results.iter().filter(|r| !r.ok).collect();
    let _ = writeln!(o, "seeds run: {total}, failed: {}", failures.len());
    let mut per_checker: BTreeMap<&str, usize> = dynamo_model::checkers::CHECKERS
        .iter()
        .map(|c| (*c, 0))
        .collect();
    for r in &failures {
        for f in &r.failed {
            *per_checker.entry(f.as_str()).or_insert(0) += 1;
        }
    }
    let parts: Vec<String> = per_checker
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    let _ = writeln!(o, "failures per checker: {}", parts.join(", "));
    let events: u64 = results.iter().map(|r| r.events).sum();
    let ops: u64 = results.iter().map(|r| r.ops).sum();
    let _ = writeln!(o, "simulated: {events} events, {ops} client operations");
    if let Some((secs, jobs)) = timing {
        let _ = writeln!(
            o,
            "speed: {secs:.2}s wall on {jobs} thread(s): {:.1} seeds/s, {:.0} events/s",
            total as f64 / secs,
            events as f64 / secs
        );
    }
    let c =
        |f: fn(&Coverage) -> bool| pct(results.iter().filter(|r| f(&r.coverage)).count(), total);
    let _ = writeln!(
        o,
        "coverage: hinted handoff used in {} of seeds (hints delivered in {}), read repair in {}, anti-entropy repaired keys in {}, forwarding in {}, siblings seen in {}, failed ops in {}, client timeouts in {}",
        c(|c| c.hinted_handoff),
        c(|c| c.hint_delivered),
        c(|c| c.read_repair),
        c(|c| c.anti_entropy_repair),
        c(|c| c.forwarding),
        c(|c| c.siblings),
        c(|c| c.failed_ops),
        c(|c| c.client_timeouts)
    );
    let kinds: Vec<String> = swarm::FAULT_KINDS
        .iter()
        .map(|k| {
            format!(
                "{k} {}",
                pct(
                    results
                        .iter()
                        .filter(|r| r.faults.iter().any(|f| f == k))
                        .count(),
                    total
                )
            )
        })
        .collect();
    let _ = writeln!(o, "fault kinds on: {}", kinds.join(", "));
    for r in &failures {
        let _ = writeln!(o, "FAILED seed {}: {}", r.seed, r.failed.join(", "));
        if let Some(v) = &r.violation {
            let _ = writeln!(o, "    {v}");
        }
        let _ = writeln!(o, "    replay: {}", r.replay);
    }
    o
}

/// `dynsim sweep`.
pub fn cmd(args: &SweepArgs) -> u8 {
    let s = match crate::cli::load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let parsed = parse_range(&args.seeds).and_then(|r| {
        args.shard
            .as_deref()
            .map_or(Ok((0, 1)), parse_shard)
            .map(|sh| (r, sh))
    });
    let (range, shard) = match parsed {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let seeds = shard_seeds(range, shard);
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let file = args.file.to_string_lossy().into_owned();
    let bar = indicatif::ProgressBar::new(seeds.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} seeds  {per_sec}  {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let mut failures = 0;
    let mut lines = String::new();
    let clock = crate::wall::Stopwatch::start();
    let results = run_seeds(&s, &file, &seeds, jobs, |r| {
        if !r.ok {
            failures += 1;
            bar.println(format!(
                "seed {} FAILED: {}   replay: {}",
                r.seed,
                r.failed.join(", "),
                r.replay
            ));
        }
        lines.push_str(&serde_json::to_string(r).expect("results serialize"));
        lines.push('\n');
        bar.set_message(format!("{failures} failed"));
        bar.inc(1);
    });
    let secs = clock.seconds();
    bar.finish_and_clear();
    let mut summary = format!(
        "sweep of {file}: seeds {}..{}, shard {}/{} ({} seeds)\n",
        range.0,
        range.1,
        shard.0,
        shard.1,
        seeds.len()
    );
    summary.push_str(&summarize(&results, Some((secs, jobs))));
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| std::path::Path::new("sweep-out").join(&s.name));
    {
        let dir = &dir;
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| {
                write_output(&dir.join("results.jsonl"), |w| {
                    w.write_all(lines.as_bytes())
                })
            })
            .and_then(|()| {
                write_output(&dir.join("summary.txt"), |w| {
                    w.write_all(summary.as_bytes())
                })
            });
        if let Err(e) = written {
            eprintln!("error: cannot write to {}: {e}", dir.display());
            return EXIT_BAD_INPUT;
        }
        summary.push_str(&format!(
            "results: {}\n",
            dir.join("results.jsonl").display()
        ));
    }
    crate::output::print(&summary);
    if failures == 0 { EXIT_OK } else { EXIT_FAILED }
}
