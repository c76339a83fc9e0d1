//! The command layer: the only code that knows clap, prints to the
//! terminal and picks exit codes. Each command has a file of its own with
//! its arguments; it turns them into resolved values, calls the libraries
//! below (which take resolved values and return `Result`), and says what
//! happened. No library module imports this one.
// The arguments' docs are their `--help` text, which writes placeholders
// such as `<name>`; rustdoc would read them as HTML tags.
#![allow(rustdoc::invalid_html_tags)]

mod bench;
mod check;
mod common;
mod experiment;
mod merge;
pub mod output;
pub mod progress;
mod ring;
mod run;
mod serve;
mod shrink;
mod sweep;

pub use bench::BenchArgs;
pub use check::CheckArgs;
pub use common::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK};
pub use experiment::ExperimentArgs;
pub use merge::MergeArgs;
pub use ring::RingArgs;
pub use run::{RunArgs, TraceFormat};
pub use serve::ServeArgs;
pub use shrink::ShrinkArgs;
pub use sweep::{SweepArgs, sweep};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The parsed command line: one subcommand.
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
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands, each with its own arguments.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario, check its expectations and print a summary.
    Run(run::RunArgs),
    /// Print a scenario's ring: tokens, ownership, and the preference lists of keys.
    Ring(ring::RingArgs),
    /// Run many seeds, each with its own random fault mix and workload, and check every one.
    Sweep(sweep::SweepArgs),
    /// Combine the results.jsonl files of several sweep shards into one summary.
    Merge(merge::MergeArgs),
    /// Turn a failing sweep seed into the smallest explicit scenario that still fails the same checker.
    Shrink(shrink::ShrinkArgs),
    /// Explore every interleaving of a small scope on the real node state machines, and write the shortest counterexample of each violated property.
    Check(check::CheckArgs),
    /// Run parameter sweeps with many trials per point; write a table and an HTML report with plots.
    Experiment(experiment::ExperimentArgs),
    /// Serve a local web page to set parameters, run scenarios and experiments, and see the results.
    ///
    /// It lists the scenarios/ and experiments/ of the directory it runs in: start it from
    /// the repository root, or give the root with --root.
    Serve(serve::ServeArgs),
    /// Measure dynsim on this machine: the engine against a bare event loop, the bench/ files and a sweep, in one table.
    ///
    /// Run it from the repository root (it reads bench/ and scenarios/sweep/), or give
    /// the root with --root, on a release build; it takes about half a minute on two cores. Each line runs in a
    /// process of its own, so its peak RSS is its own. BENCHMARKS.md explains the lines.
    Bench(bench::BenchArgs),
    /// Run sweep seeds for a sweep that reads their results (started by `dynsim sweep`).
    #[command(hide = true)]
    SweepWorker(sweep::WorkerArgs),
    /// Run one scenario under budgets and say whether it crashed (started by `dynsim shrink`).
    #[command(hide = true)]
    CrashProbe(shrink::ProbeArgs),
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
    let code = run_command(cli.command);
    // Output that could not be written is output lost: say so in the exit code
    // (a closed pipe is not counted: the reader chose to stop).
    if (output::stdout_failed() || output::stderr_failed()) && code == EXIT_OK {
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    ExitCode::from(code)
}

/// Runs one parsed command and returns its exit code.
pub fn run_command(cmd: Command) -> u8 {
    match cmd {
        Command::Run(args) => run::run(&args),
        Command::Ring(args) => ring::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Merge(args) => merge::run(&args),
        Command::Shrink(args) => shrink::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Experiment(args) => experiment::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::SweepWorker(args) => sweep::worker(&args),
        Command::CrashProbe(args) => shrink::probe(&args),
    }
}
