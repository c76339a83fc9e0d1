//! Command-line parsing (clap) and the commands. `main` only calls [`main`].

use crate::output::write_atomic;
use crate::{runner, scenario, summary};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes: 0 all as expected, 1 an expectation or checker failed, 2 bad input.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "dynsim",
    version,
    about = "A deterministic discrete-event simulator of Amazon's Dynamo",
    long_about = "A deterministic discrete-event simulator of Amazon's Dynamo.\n\n\
        The same scenario, seed and dynsim version give a byte-identical trace, every time.\n\
        Exit codes: 0 all as expected, 1 an expectation or checker failed, 2 bad input."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario, check its expectations and print a summary.
    Run(RunArgs),
    /// Print a scenario's ring: tokens, ownership, and the preference lists of keys.
    Ring(RingArgs),
    /// Run many seeds, each with its own random fault mix and workload, and check every one.
    Sweep(SweepArgs),
    /// Combine the results.jsonl files of several sweep shards into one summary.
    Merge(MergeArgs),
    /// Turn a failing sweep seed into the smallest explicit scenario that still fails the same checker.
    Shrink(ShrinkArgs),
    /// Run parameter sweeps with many trials per point; write a table and an HTML report with plots.
    Experiment(ExperimentArgs),
    /// Serve a local web page to set parameters, run scenarios and experiments, and see the results.
    Serve(ServeArgs),
}

#[derive(clap::Args, Debug)]
pub struct ExperimentArgs {
    /// The experiment file (see experiments/README.md).
    pub file: PathBuf,
    /// Where to write results.csv, results.json and report.html (default: experiment-out/<name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override the number of trials per point.
    #[arg(long)]
    pub trials: Option<u64>,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The address to bind; the default serves this machine only.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
}

#[derive(clap::Args, Debug)]
pub struct ShrinkArgs {
    /// The sweep's base scenario.
    pub file: PathBuf,
    /// The failing seed (as a sweep reported it).
    #[arg(long)]
    pub seed: u64,
    /// Where to write the shrunk scenario (default: <name>-seed<S>-shrunk.toml).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The base scenario: its cluster, network and load (its timeline is replaced by drawn faults).
    pub file: PathBuf,
    /// The seeds to run, A..B (B excluded).
    #[arg(long, value_name = "A..B")]
    pub seeds: String,
    /// Worker threads (default: the machine's cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Run only shard K of N (K from 0): every N-th seed of the range, from the K-th.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Where to write results.jsonl (one line per seed) and summary.txt (default: sweep-out/<name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// results.jsonl files, or directories that hold one.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    /// Fixed-column text, one event per line.
    Text,
    /// JSON Lines: a header object, one object per event, a footer object.
    Jsonl,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The scenario file (TOML; see scenarios/README.md).
    pub file: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the trace to PATH ("-" for standard output; the summary then goes to standard error).
    #[arg(long, value_name = "PATH|-")]
    pub trace: Option<String>,
    /// The trace's format.
    #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
    pub format: TraceFormat,
    /// Print only the one-line result (and problems).
    #[arg(long, short)]
    pub quiet: bool,
    /// Run twice and report the first trace line that differs, if any.
    #[arg(long)]
    pub check_determinism: bool,
    /// Replace the timeline with the seed's swarm faults and workload, exactly as `sweep` runs it.
    #[arg(long)]
    pub swarm: bool,
    /// Also write the trace in Chrome's trace-event JSON, one track per node (open it in ui.perfetto.dev).
    #[arg(long, value_name = "PATH")]
    pub chrome_trace: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RingArgs {
    /// The scenario file whose cluster to show.
    pub file: PathBuf,
    /// Keys whose preference lists to print (repeatable).
    #[arg(long = "key", value_name = "K")]
    pub keys: Vec<String>,
    /// Override the scenario's seed (random tokens depend on it).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            });
        }
    };
    ExitCode::from(run_command(cli.command))
}

pub fn run_command(cmd: Command) -> u8 {
    match cmd {
        Command::Run(args) => cmd_run(&args),
        Command::Ring(args) => cmd_ring(&args),
        Command::Sweep(args) => cmd_sweep(&args),
        Command::Merge(args) => cmd_merge(&args),
        Command::Shrink(args) => cmd_shrink(&args),
        Command::Experiment(args) => crate::experiment::cmd(&args),
        Command::Serve(args) => crate::serve::cmd(&args),
    }
}

fn load(file: &std::path::Path) -> Result<scenario::Scenario, u8> {
    scenario::load(&file.to_string_lossy()).map_err(|d| {
        eprintln!("{d}");
        EXIT_BAD_INPUT
    })
}

fn cmd_run(args: &RunArgs) -> u8 {
    let s = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or(s.seed);
    let s = if args.swarm {
        crate::swarm::apply(&s, &crate::swarm::draw(&s, seed))
    } else {
        s
    };
    let want_trace = args.trace.is_some() || args.check_determinism || args.chrome_trace.is_some();
    let report = runner::run(&s, seed, want_trace);
    if args.check_determinism {
        let again = runner::run(&s, seed, true);
        let (a, b) = (
            report.cluster.sim.core.trace.render_text(),
            again.cluster.sim.core.trace.render_text(),
        );
        match first_difference(&a, &b) {
            None => eprintln!(
                "determinism: two runs of seed {seed} gave identical traces ({} lines)",
                a.lines().count()
            ),
            Some((line, x, y)) => {
                eprintln!(
                    "determinism: NOT deterministic: seed {seed} first differs at trace line {line}:\n  run 1: {x}\n  run 2: {y}"
                );
                return EXIT_FAILED;
            }
        }
    }
    if let Some(path) = &args.chrome_trace {
        let trace = &report.cluster.sim.core.trace;
        if let Err(e) = write_atomic(path, |w| crate::chrome::write(trace, &s.name, w)) {
            eprintln!(
                "error: cannot write the Chrome trace to {}: {e}",
                path.display()
            );
            return EXIT_BAD_INPUT;
        }
    }
    let trace_to_stdout = args.trace.as_deref() == Some("-");
    if let Some(path) = &args.trace {
        let trace = &report.cluster.sim.core.trace;
        let result = if trace_to_stdout {
            let mut out = std::io::stdout().lock();
            write_trace(trace, args.format, &mut out)
        } else {
            write_atomic(std::path::Path::new(path), |w| {
                write_trace(trace, args.format, w)
            })
        };
        if let Err(e) = result {
            eprintln!("error: cannot write the trace to {path}: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    let text = if args.quiet {
        format!(
            "{}: {}\n",
            s.name,
            if report.as_expected() {
                "as expected"
            } else {
                "NOT as expected"
            }
        )
    } else {
        summary::render(&report)
    };
    if trace_to_stdout || args.quiet && !report.as_expected() {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    if report.as_expected() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn write_trace(
    trace: &sim_core::Trace,
    format: TraceFormat,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        TraceFormat::Text => w.write_all(trace.render_text().as_bytes()),
        TraceFormat::Jsonl => trace.write_jsonl(w),
    }
}

/// The first line (1-based) where two texts differ, with both lines.
pub fn first_difference(a: &str, b: &str) -> Option<(usize, String, String)> {
    let (mut la, mut lb) = (a.lines(), b.lines());
    let mut n = 0;
    loop {
        n += 1;
        match (la.next(), lb.next()) {
            (None, None) => return None,
            (x, y) if x == y => continue,
            (x, y) => {
                return Some((
                    n,
                    x.unwrap_or("(end)").to_string(),
                    y.unwrap_or("(end)").to_string(),
                ));
            }
        }
    }
}

fn cmd_ring(args: &RingArgs) -> u8 {
    let s = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or(s.seed);
    let ring = dynamo_model::Ring::build(
        &s.cluster,
        &mut sim_core::SimRng::new(seed, sim_core::Stream::Setup),
    );
    let mut o = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(o, "{}", s.cluster.describe()[0]);
    let _ = writeln!(
        o,
        "{} tokens (position -> owner, clockwise):",
        ring.tokens().len()
    );
    for (i, (pos, node)) in ring.tokens().iter().enumerate() {
        let list: Vec<String> = ring
            .range_replicas(i, s.cluster.n as usize)
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = writeln!(
            o,
            "  token {i:>4}  {pos:>20}  {node}  replicas [{}]",
            list.join(" ")
        );
    }
    let _ = writeln!(o, "ownership (share of the key space as first replica):");
    for (i, share) in ring.ownership().iter().enumerate() {
        let _ = writeln!(o, "  n{i}: {:.2}%", share * 100.0);
    }
    let mut bad = false;
    for k in &args.keys {
        match ring.key(k) {
            Ok(key) => {
                let walk = ring.walk(&key);
                let n = s.cluster.n as usize;
                let pref: Vec<String> = walk[..n].iter().map(ToString::to_string).collect();
                let fb: Vec<String> = walk[n..].iter().map(ToString::to_string).collect();
                let _ = writeln!(
                    o,
                    "key {k} (position {}): preference list [{}], fallbacks [{}]",
                    key.position(),
                    pref.join(" "),
                    fb.join(" ")
                );
            }
            Err(e) => {
                eprintln!("error: --key {k}: {e}");
                bad = true;
            }
        }
    }
    print!("{o}");
    if bad { EXIT_BAD_INPUT } else { EXIT_OK }
}

fn cmd_sweep(args: &SweepArgs) -> u8 {
    let s = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let parsed = crate::sweep::parse_range(&args.seeds).and_then(|r| {
        args.shard
            .as_deref()
            .map_or(Ok((0, 1)), crate::sweep::parse_shard)
            .map(|sh| (r, sh))
    });
    let (range, shard) = match parsed {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let seeds = crate::sweep::shard_seeds(range, shard);
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
    let results = crate::sweep::run_seeds(&s, &file, &seeds, jobs, |r| {
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
    summary.push_str(&crate::sweep::summarize(&results, Some((secs, jobs))));
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| std::path::Path::new("sweep-out").join(&s.name));
    {
        let dir = &dir;
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| {
                write_atomic(&dir.join("results.jsonl"), |w| {
                    w.write_all(lines.as_bytes())
                })
            })
            .and_then(|()| {
                write_atomic(&dir.join("summary.txt"), |w| {
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
    print!("{summary}");
    if failures == 0 { EXIT_OK } else { EXIT_FAILED }
}

fn cmd_merge(args: &MergeArgs) -> u8 {
    let mut results = Vec::new();
    for input in &args.inputs {
        let path = if input.is_dir() {
            input.join("results.jsonl")
        } else {
            input.clone()
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return EXIT_BAD_INPUT;
            }
        };
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            match serde_json::from_str::<crate::sweep::SeedResult>(line) {
                Ok(r) => results.push(r),
                Err(e) => {
                    eprintln!(
                        "error: {}:{}: not a sweep result line: {e}",
                        path.display(),
                        i + 1
                    );
                    return EXIT_BAD_INPUT;
                }
            }
        }
    }
    results.sort_by_key(|r| r.seed);
    let before = results.len();
    results.dedup_by_key(|r| r.seed);
    if results.len() != before {
        eprintln!("note: {} duplicate seed(s) ignored", before - results.len());
    }
    print!(
        "merged {} result file(s)\n{}",
        args.inputs.len(),
        crate::sweep::summarize(&results, None)
    );
    if results.iter().all(|r| r.ok) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn cmd_shrink(args: &ShrinkArgs) -> u8 {
    let s = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let bar = indicatif::ProgressBar::new_spinner();
    let found = crate::shrink::shrink(&s, args.seed, |steps, runs| {
        bar.set_message(format!("{steps} steps left after {runs} runs"));
        bar.tick();
    });
    bar.finish_and_clear();
    let Some(found) = found else {
        eprintln!(
            "error: seed {} of {} fails no checker; there is nothing to shrink",
            args.seed,
            args.file.display()
        );
        return EXIT_BAD_INPUT;
    };
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-seed{}-shrunk.toml", s.name, args.seed)));
    let text = format!(
        "# Shrunk by `dynsim shrink {} --seed {}`: {} of {} steps left; it still fails {}.\n# Replay: dynsim run {} --trace -\n{}",
        args.file.display(),
        args.seed,
        found.smallest.steps.len(),
        found.original_steps,
        found.checker,
        path.display(),
        crate::write::to_toml(&found.smallest)
    );
    if let Err(e) = write_atomic(&path, |w| w.write_all(text.as_bytes())) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return EXIT_BAD_INPUT;
    }
    println!(
        "seed {} fails {}: explicit run of {} steps shrunk to {} steps in {} runs ({} nodes)\nwrote {}",
        args.seed,
        found.checker,
        found.original_steps,
        found.smallest.steps.len(),
        found.runs,
        found.smallest.cluster.nodes,
        path.display()
    );
    EXIT_OK
}
