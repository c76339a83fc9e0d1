//! `dynsim run`: one scenario, its trace and its summary.

use super::common::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, load};
use crate::cmd::output::{self, OutputFile, Target, is_broken_pipe};
use crate::report::chrome::ChromeSink;
use crate::report::summary;
use crate::runner;
use clap::ValueEnum;
use sim_core::{JsonlSink, TextSink, TraceSink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    // The trace streams to its outputs as the run makes it; memory keeps it
    // only for --check-determinism (which compares two whole traces).
    let failed = Arc::new(AtomicBool::new(false));
    let mut sinks: Vec<Box<dyn TraceSink>> = Vec::new();
    for (path, chrome) in [
        (args.trace.as_deref().map(Path::new), false),
        (args.chrome_trace.as_deref(), true),
    ] {
        let Some(path) = path else { continue };
        let out = match OutputFile::open(path) {
            Ok(out) => out,
            Err(e) => {
                eprintln!("error: cannot write to {}: {e}", path.display());
                return EXIT_BAD_INPUT;
            }
        };
        let sink: Box<dyn TraceSink> = if chrome {
            Box::new(ChromeSink::new(out, &s.name, OutputFile::commit))
        } else {
            match args.format {
                TraceFormat::Text => Box::new(TextSink::new(out, OutputFile::commit)),
                TraceFormat::Jsonl => Box::new(JsonlSink::new(out, OutputFile::commit)),
            }
        };
        sinks.push(Box::new(Watched {
            inner: sink,
            failed: failed.clone(),
            path: path.display().to_string(),
        }));
    }
    let mode = if args.progress {
        crate::cmd::progress::Mode::Forced(Box::new(std::io::stderr()))
    } else {
        crate::cmd::progress::Mode::Auto
    };
    let end = sim_core::SimTime::ZERO + s.duration;
    let stop_on = failed.clone();
    let report = crate::cmd::progress::with_progress(
        end,
        mode,
        move || stop_on.load(Ordering::Relaxed),
        || {
            runner::run_streamed(
                &s,
                seed,
                args.check_determinism,
                sinks,
                None,
                &mut crate::cmd::progress::watch_ops,
            )
        },
    );
    let mut report = match report {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            eprintln!("error: {}: {e}", args.file.display());
            return EXIT_BAD_INPUT;
        }
        // A trace output failed, and the run was stopped: the partial run
        // (and the output's error, which `Watched` kept) is all there is.
        Err(_) => return trace_failed(&failed),
    };
    if let Err(e) = report.cluster.sim.core.trace.finish() {
        return write_failed(&e, "the trace");
    }
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

/// A trace output that notes its first failure, so that the run stops.
struct Watched {
    inner: Box<dyn TraceSink>,
    failed: Arc<AtomicBool>,
    path: String,
}

/// Notes `r`'s error, if it is the first, for the exit code and message.
fn note<T>(failed: &AtomicBool, path: &str, r: std::io::Result<T>) -> std::io::Result<T> {
    if let Err(e) = &r {
        if !failed.swap(true, Ordering::Relaxed) {
            FIRST_ERROR
                .with(|f| *f.borrow_mut() = Some((path.to_string(), e.kind(), e.to_string())));
        }
    }
    r
}

thread_local! {
    /// The first trace output error: (path, kind, message).
    static FIRST_ERROR: std::cell::RefCell<Option<(String, std::io::ErrorKind, String)>> =
        const { std::cell::RefCell::new(None) };
}

impl TraceSink for Watched {
    fn begin(&mut self, header: &[String]) -> std::io::Result<()> {
        let r = self.inner.begin(header);
        note(&self.failed, &self.path, r)
    }
    fn record(&mut self, r: &sim_core::Record) -> std::io::Result<()> {
        let r = self.inner.record(r);
        note(&self.failed, &self.path, r)
    }
    fn end(self: Box<Self>, footer: &[String]) -> std::io::Result<()> {
        let Watched {
            inner,
            failed,
            path,
        } = *self;
        note(&failed, &path, inner.end(footer))
    }
}

/// The exit for a run stopped because a trace output failed.
fn trace_failed(failed: &AtomicBool) -> u8 {
    debug_assert!(failed.load(Ordering::Relaxed));
    match FIRST_ERROR.with(|f| f.borrow_mut().take()) {
        Some((_, std::io::ErrorKind::BrokenPipe, _)) => EXIT_OK,
        Some((path, _, e)) => {
            eprintln!("error: cannot write the trace to {path}: {e}");
            EXIT_BAD_INPUT
        }
        None => EXIT_BAD_INPUT,
    }
}

/// The exit for an output that failed once the run was over.
fn write_failed(e: &std::io::Error, what: &str) -> u8 {
    // The reader went away (`| head`): nothing left to tell anyone.
    if is_broken_pipe(e) {
        return EXIT_OK;
    }
    match FIRST_ERROR.with(|f| f.borrow_mut().take()) {
        Some((path, _, msg)) => eprintln!("error: cannot write {what} to {path}: {msg}"),
        None => eprintln!("error: cannot write {what}: {e}"),
    }
    EXIT_BAD_INPUT
}
