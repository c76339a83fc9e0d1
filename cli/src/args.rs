//! What the command line accepts: every command's arguments (clap) and the
//! exit codes. The commands live with their jobs (`explore/`, `report/`,
//! `serve/`) and import their arguments from here, so no command module
//! depends on another.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Exit codes: 0 all as expected, 1 an expectation or checker failed, 2 bad
/// input or output that could not be written, 130 a sweep stopped by Ctrl-C
/// (what finished is written).
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Parser, Debug)]
#[command(
    name = "dynsim",
    version,
    about = "A deterministic discrete-event simulator of Amazon's Dynamo",
    long_about = "A deterministic discrete-event simulator of Amazon's Dynamo.\n\n\
        The same scenario, seed and dynsim version give a byte-identical trace, every time.\n\
        Exit codes: 0 all as expected, 1 an expectation or checker failed, 2 bad input,\n\
        130 a sweep interrupted by Ctrl-C (what finished is written, with a partial summary)."
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
    /// Measure dynsim on this machine: the engine against a bare event loop, the bench/ files and a sweep, in one table.
    ///
    /// Run it from the repository root (it reads bench/ and scenarios/sweep/) on a
    /// release build; it takes about half a minute on two cores. Each line runs in a
    /// process of its own, so its peak RSS is its own. BENCHMARKS.md explains the lines.
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Cut every measurement to a size that runs in seconds (to check the command works; the figures are not comparable).
    #[arg(long)]
    pub quick: bool,
    /// Run one measurement in this process and print it as JSON (how `bench` runs each line).
    #[arg(long, hide = true, value_name = "ITEM")]
    pub one: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ExperimentArgs {
    /// The experiment file (see experiments/README.md).
    pub file: PathBuf,
    /// Where to write results.csv, results.json and report.html (default: experiment-out/<name>; "-" prints the CSV table and writes no files).
    #[arg(long, value_name = "DIR|-")]
    pub out: Option<PathBuf>,
    /// Override the number of trials per point.
    #[arg(long)]
    pub trials: Option<u64>,
    /// Threads that run points, 1 to 1024 (default: the machine's cores). The results do not depend on it.
    #[arg(long, short, value_parser = crate::explore::sweep::parse_jobs)]
    pub jobs: Option<usize>,
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
    /// The failing seed (as a sweep reported it); it replaces the file's own `seed` everywhere.
    #[arg(long)]
    pub seed: u64,
    /// Where to write the shrunk scenario (default: <input file stem>-seed<S>-shrunk.toml in the current directory; "-" for standard output).
    #[arg(long, value_name = "PATH|-")]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The base scenario: its cluster, network and load (its timeline is replaced by drawn faults).
    pub file: PathBuf,
    /// The seeds to run, A..B (B excluded).
    #[arg(long, value_name = "A..B")]
    pub seeds: String,
    /// Worker threads, 1 to 1024 (default: the machine's cores; never more than there are seeds to run).
    #[arg(long, short, value_parser = crate::explore::sweep::parse_jobs)]
    pub jobs: Option<usize>,
    /// Run only shard K of N (K from 0): every N-th seed of the range, from the K-th.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Where to write results.jsonl (one line per seed, written as seeds finish, in seed order) and summary.txt (default: sweep-out/<name>; "-" streams the JSON lines to standard output and the summary to standard error).
    #[arg(long, value_name = "DIR|-")]
    pub out: Option<PathBuf>,
    /// Continue the sweep whose results.jsonl is in --out: skip the seeds it holds (they must be of the same scenario file, dynsim version, --seeds and --shard), run the rest and append them; the summary covers all.
    #[arg(long)]
    pub resume: bool,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// results.jsonl files, or directories that hold one, all of one sweep: the same scenario file (by content digest), dynsim version and --seeds range.
    /// Exit code: 1 if any seed failed; otherwise 2 if seeds of the range are missing (or the inputs do not belong together); 0 if all seeds are there and passed.
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
    /// Print a plain progress line on standard error every few thousand events, from the start
    /// (without it, progress shows only once a run has taken 2 s).
    #[arg(long)]
    pub progress: bool,
    /// Also write the trace in Chrome's trace-event JSON, one track per node (open it in ui.perfetto.dev; "-" for standard output).
    #[arg(long, value_name = "PATH|-")]
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
    /// Also show the ring after one new node joins (it takes tokens by the
    /// cluster's strategy) and what moves: the pieces of the key space whose
    /// replica sets change, the data to copy, the ranges split, and how many
    /// of the load's keys (and the --key keys) move.
    #[arg(long, conflicts_with = "leave")]
    pub join: bool,
    /// Also show the ring after NODE leaves, and what moves.
    #[arg(long, value_name = "NODE")]
    pub leave: Option<String>,
}
