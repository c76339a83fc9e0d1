//! `dynsim run`: one scenario, its trace and its summary.

use super::common::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, load};
use crate::cmd::output::{self, Target, is_broken_pipe, write_output};
use crate::report::summary;
use crate::runner;
use clap::ValueEnum;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The arguments of `dynsim run`.
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

/// How `run --trace` writes the trace.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    /// Fixed-column text, one event per line.
    Text,
    /// JSON Lines: a header object, one object per event, a footer object.
    Jsonl,
}

/// `dynsim run`.
pub(super) fn run(args: &RunArgs) -> u8 {
    let s = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or(s.seed);
    let s = if args.swarm {
        crate::explore::swarm::apply(&s, &crate::explore::swarm::draw(&s, seed))
    } else {
        s
    };
    if let Some(w) = runner::blind_write_warning(&s) {
        eprintln!("{w}");
    }
    let to_stdout = |p: Option<&Path>| p.is_some_and(|p| output::target(p) == Target::Stdout);
    let trace_to_stdout = to_stdout(args.trace.as_deref().map(Path::new));
    if trace_to_stdout && to_stdout(args.chrome_trace.as_deref()) {
        eprintln!(
            "error: --trace - and --chrome-trace - would both write to standard output; send one of them to a file"
        );
        return EXIT_BAD_INPUT;
    }
    for path in [
        args.trace.as_deref().map(Path::new),
        args.chrome_trace.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        // Find out that an output cannot be written before spending the run.
        if let Err(e) = output::check(path) {
            eprintln!("error: cannot write to {}: {e}", path.display());
            return EXIT_BAD_INPUT;
        }
    }
    let trace_to_stdout = trace_to_stdout || to_stdout(args.chrome_trace.as_deref());
    let want_trace = args.trace.is_some() || args.check_determinism || args.chrome_trace.is_some();
    let mode = if args.progress {
        crate::cmd::progress::Mode::Forced(Box::new(std::io::stderr()))
    } else {
        crate::cmd::progress::Mode::Auto
    };
    let end = sim_core::SimTime::ZERO + s.duration;
    let report = crate::cmd::progress::with_progress(end, mode, || {
        runner::run_watched(&s, seed, want_trace, &mut crate::cmd::progress::watch_ops)
    });
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return EXIT_BAD_INPUT;
        }
    };
    if args.check_determinism {
        let Ok(again) = runner::run(&s, seed, true) else {
            eprintln!(
                "determinism: NOT deterministic: the second run of seed {seed} could not be built"
            );
            return EXIT_FAILED;
        };
        let (a, b) = (
            report.cluster.sim.core.trace.render_text(),
            again.cluster.sim.core.trace.render_text(),
        );
        match runner::first_difference(&a, &b) {
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
    let trace = &report.cluster.sim.core.trace;
    if let Some(path) = &args.chrome_trace {
        match write_output(path, |w| crate::report::chrome::write(trace, &s.name, w)) {
            Ok(()) => {}
            // The reader went away (`| head`): nothing left to tell anyone.
            Err(e) if is_broken_pipe(&e) => return EXIT_OK,
            Err(e) => {
                eprintln!(
                    "error: cannot write the Chrome trace to {}: {e}",
                    path.display()
                );
                return EXIT_BAD_INPUT;
            }
        }
    }
    if let Some(path) = &args.trace {
        match write_output(Path::new(path), |w| write_trace(trace, args.format, w)) {
            Ok(()) => {}
            Err(e) if is_broken_pipe(&e) => return EXIT_OK,
            Err(e) => {
                eprintln!("error: cannot write the trace to {path}: {e}");
                return EXIT_BAD_INPUT;
            }
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
        crate::cmd::output::print(&text);
    }
    let code = if report.as_expected() {
        EXIT_OK
    } else {
        EXIT_FAILED
    };
    // The process ends now: freeing every node's store, the history and the
    // truth one allocation at a time took a tenth of a large run's wall time.
    std::mem::forget(report);
    code
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
