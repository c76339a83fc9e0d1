//! `dynsim bench`: one table of how fast dynsim is on this machine.
//!
//! Each line runs in a child process of its own (the same binary, with the
//! hidden `--one` flag), so its peak RSS is its own and one line's heap does
//! not slow the next. The engine lines alternate with the bare loop they are
//! compared against, three rounds each, and report medians: machines are
//! noisy, and a ratio measured in one run is what can be compared across runs.
//! Nothing here asserts a time; BENCHMARKS.md records a table.

use super::common::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::explore::sweep;
use crate::wall::Stopwatch;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// The arguments of `dynsim bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Cut every measurement to a size that runs in seconds (to check the command works; the figures are not comparable).
    #[arg(long)]
    pub quick: bool,
    /// Run one measurement in this process and print it as JSON (how `bench` runs each line).
    #[arg(long, hide = true, value_name = "ITEM")]
    pub one: Option<String>,
    /// The dynsim repository's root, whose bench/ and scenarios/sweep/ files it runs (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<std::path::PathBuf>,
}

/// What one child measured.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Measured {
    /// Simulation events (loop iterations for the bare loop).
    events: u64,
    /// Messages delivered between nodes (0 where there are none).
    messages: u64,
    /// Seeds run (sweeps only).
    seeds: u64,
    wall: f64,
    /// Peak resident set size, in KiB, where the OS tells it.
    rss_kb: Option<u64>,
    /// Whether the run went as its scenario expects (every checker passed).
    ok: bool,
}

/// One line of the table.
#[derive(Clone, Debug)]
enum Item {
    Bare,
    Engine,
    File(String),
    Sweep(String),
}

impl Item {
    fn arg(&self) -> String {
        match self {
            Item::Bare => "bare".into(),
            Item::Engine => "engine".into(),
            Item::File(f) => format!("file:{f}"),
            Item::Sweep(f) => format!("sweep:{f}"),
        }
    }

    fn parse(s: &str) -> Option<Item> {
        match s {
            "bare" => Some(Item::Bare),
            "engine" => Some(Item::Engine),
            _ => s
                .strip_prefix("file:")
                .map(|f| Item::File(f.into()))
                .or_else(|| s.strip_prefix("sweep:").map(|f| Item::Sweep(f.into()))),
        }
    }
}

const BENCH_FILES: &[&str] = &[
    "bench/hundred_nodes.toml",
    "bench/thousand_nodes.toml",
    "bench/ten_thousand_nodes.toml",
];
const SWEEP_FILE: &str = "scenarios/sweep/five_nodes.toml";
const ROUNDS: usize = 3;
/// Bench files faster than this (wall seconds) run [`ROUNDS`] times.
const REPEAT_BELOW_S: f64 = 5.0;

fn engine_events(quick: bool) -> u64 {
    if quick { 200_000 } else { 5_000_000 }
}

fn sweep_seeds(quick: bool) -> u64 {
    if quick { 8 } else { 400 }
}

/// The peak resident set size of this process, from /proc (Linux).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Loads a bench scenario; with `quick`, cut to a size a test can afford.
fn load(file: &str, quick: bool) -> Result<crate::scenario::Scenario, String> {
    let mut s = crate::scenario::load(file).map_err(|d| d.to_string())?;
    if quick {
        if let Some(load) = s.load.as_mut() {
            load.max_ops = Some(2_000);
            load.stop = sim_core::SimTime::ZERO + sim_core::SimDuration::from_secs(2);
        }
        s.duration = s.duration.min(sim_core::SimDuration::from_secs(3));
        s.cluster.nodes = s.cluster.nodes.min(200);
    }
    Ok(s)
}

/// Runs one item in this process and prints what it measured as one JSON line.
fn run_one(item: &Item, quick: bool) -> u8 {
    match measure(item, quick) {
        Ok(m) => {
            let line = serde_json::to_string(&m).expect("plain numbers serialize");
            crate::cmd::output::print(&format!("{line}\n"));
            EXIT_OK
        }
        Err(e) => {
            eprintln!("{e}");
            EXIT_BAD_INPUT
        }
    }
}

fn measure(item: &Item, quick: bool) -> Result<Measured, String> {
    let clock = Stopwatch::start();
    let mut m = Measured {
        events: 0,
        messages: 0,
        seeds: 0,
        wall: 0.0,
        rss_kb: None,
        ok: true,
    };
    match item {
        Item::Bare => {
            let n = engine_events(quick);
            std::hint::black_box(sim_core::bench::bare_loop(n));
            m.events = n;
        }
        Item::Engine => {
            let mut sim = sim_core::bench::bench_sim();
            let clock = Stopwatch::start();
            let n = engine_events(quick);
            sim.run(
                &mut (),
                sim_core::Limits {
                    until: sim_core::SimTime::MAX,
                    max_events: n,
                },
            );
            m.wall = clock.seconds();
            m.events = sim.core.stats.events;
            m.messages = sim.core.stats.delivered.iter().sum();
        }
        Item::File(f) => {
            let s = load(f, quick)?;
            let report = crate::runner::run(&s, s.seed, false)?;
            m.events = report.cluster.sim.core.stats.events;
            m.messages = report.cluster.sim.core.stats.delivered.iter().sum();
            m.ok = report.as_expected();
            // The process ends next; freeing the cluster piece by piece is not part of the run.
            std::mem::forget(report);
        }
        Item::Sweep(f) => {
            let s = load(f, false)?;
            let seeds: Vec<u64> = (0..sweep_seeds(quick)).collect();
            let results = sweep::run_seeds(&s, f, &seeds, 2, |_| {});
            m.seeds = results.len() as u64;
            m.events = results.iter().map(|r| r.events).sum();
            m.ok = results.iter().all(|r| r.ok);
        }
    }
    if m.wall == 0.0 {
        m.wall = clock.seconds();
    }
    m.rss_kb = peak_rss_kb();
    Ok(m)
}

/// Runs one item in a child process.
fn spawn(item: &Item, quick: bool) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "--one", &item.arg()]);
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start a benchmark process: {e}"))?;
    if !out.status.success() {
        return Err(format!("{} exited with {}", item.arg(), out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .map_err(|e| format!("{}: unreadable measurement {text:?}: {e}", item.arg()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.1}")
    }
}

fn rss(kb: Option<u64>) -> String {
    match kb {
        Some(kb) if kb >= 1024 * 1024 => format!("{:.2} GiB", kb as f64 / 1024.0 / 1024.0),
        Some(kb) => format!("{:.0} MiB", kb as f64 / 1024.0),
        None => "n/a".into(),
    }
}

pub(super) fn run(args: &BenchArgs) -> u8 {
    if let Err(e) =
        super::common::enter_root(args.root.as_deref(), &["bench", "scenarios"], "bench")
    {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    if let Some(one) = &args.one {
        return match Item::parse(one) {
            Some(item) => run_one(&item, args.quick),
            None => {
                eprintln!("error: unknown benchmark {one:?}");
                EXIT_BAD_INPUT
            }
        };
    }
    for f in BENCH_FILES.iter().chain([&SWEEP_FILE]) {
        if !Path::new(f).is_file() {
            eprintln!(
                "error: {f}: no such file; run `dynsim bench` from the root of the dynsim repository, where bench/ and scenarios/ are, or give it with --root"
            );
            return EXIT_BAD_INPUT;
        }
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; its numbers say little (cargo run --release -p dynsim -- bench)"
        );
    }
    let mut rows: Vec<[String; 6]> = Vec::new();
    let mut failures = Vec::new();
    let progress = |what: &str| eprintln!("bench: {what}");
    // The engine against the bare loop, alternating, medians of three rounds.
    let (mut bare, mut engine) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        progress(&format!("bare loop and engine, round {round} of {ROUNDS}"));
        for (item, into) in [(Item::Bare, &mut bare), (Item::Engine, &mut engine)] {
            match spawn(&item, args.quick) {
                Ok(m) => into.push(m),
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_FAILED;
                }
            }
        }
    }
    let rate = |m: &Measured| m.events as f64 / m.wall.max(1e-9);
    let bare_rate = median(bare.iter().map(rate).collect());
    // The run whose `metric` is the median one.
    let pick = |ms: &[Measured], metric: &dyn Fn(&Measured) -> f64| {
        let r = median(ms.iter().map(metric).collect());
        ms.iter()
            .min_by(|a, b| (metric(a) - r).abs().total_cmp(&(metric(b) - r).abs()))
            .cloned()
            .expect("rounds ran")
    };
    let b = pick(&bare, &rate);
    rows.push([
        "bare loop (BinaryHeap + ChaCha)".into(),
        format!("{} events/s", human(bare_rate)),
        "1.00".into(),
        format!("{:.2} s", b.wall),
        rss(b.rss_kb),
        format!("{} events", b.events),
    ]);
    let engine_rate = median(engine.iter().map(rate).collect());
    let e = pick(&engine, &rate);
    rows.push([
        "engine: ping-pong, 100 nodes".into(),
        format!("{} events/s", human(engine_rate)),
        format!("{:.2}", engine_rate / bare_rate),
        format!("{:.2} s", e.wall),
        rss(e.rss_kb),
        format!("{} events, 10,000 in flight", e.events),
    ]);
    let msg_rate = |m: &Measured| m.messages as f64 / m.wall.max(1e-9);
    for f in BENCH_FILES {
        progress(f);
        let item = Item::File((*f).into());
        // A file that runs in a few seconds runs three times and reports its
        // median: one short run on a noisy machine varies by a tenth.
        let mut runs = Vec::new();
        while runs.len() < ROUNDS {
            match spawn(&item, args.quick) {
                Ok(m) => runs.push(m),
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_FAILED;
                }
            }
            if args.quick || runs[0].wall >= REPEAT_BELOW_S {
                break;
            }
        }
        let m = pick(&runs, &msg_rate);
        let repeated = if runs.len() > 1 {
            format!(", median of {}", runs.len())
        } else {
            String::new()
        };
        if !m.ok {
            failures.push(format!(
                "{f} did not go as expected (run it for the summary)"
            ));
        }
        rows.push([
            format!("model: {f}"),
            format!("{} msgs/s", human(msg_rate(&m))),
            format!("{:.2}", rate(&m) / bare_rate),
            format!("{:.2} s", m.wall),
            rss(m.rss_kb),
            format!(
                "{} messages, {} events{repeated}{}",
                m.messages,
                m.events,
                if m.ok { "" } else { ", NOT as expected" }
            ),
        ]);
    }
    progress(&format!(
        "sweep {SWEEP_FILE}, seeds 0..{}",
        sweep_seeds(args.quick)
    ));
    let m = match spawn(&Item::Sweep(SWEEP_FILE.into()), args.quick) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    rows.push([
        "sweep: five_nodes, 2 threads".into(),
        format!("{} seeds/s", human(m.seeds as f64 / m.wall.max(1e-9))),
        format!("{:.2}", rate(&m) / bare_rate),
        format!("{:.2} s", m.wall),
        rss(m.rss_kb),
        format!("{} seeds, {} events", m.seeds, m.events),
    ]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dynsim {} bench on {} {} with {cores} core(s){}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        if args.quick {
            ", --quick (cut sizes: not comparable)"
        } else {
            ""
        }
    );
    let heads = ["what", "rate", "vs bare loop", "wall", "peak RSS", "work"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].len())
            .chain([heads[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..heads.len()).map(width).collect();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ", w = widths[i]);
            }
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(&heads);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&cells);
    }
    let _ = writeln!(
        out,
        "(vs bare loop: events/s over the bare loop's; wall: the whole run, setup and checkers included)"
    );
    crate::cmd::output::print(&out);
    for f in &failures {
        eprintln!("error: {f}");
    }
    if failures.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
