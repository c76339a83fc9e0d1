//! `dynsim sweep`: many seeds, each with its own fault mix and workload,
//! streamed to `results.jsonl` with a summary; Ctrl-C stops it with what
//! finished written.

use super::common::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, load};
use crate::cmd::output::{self, is_broken_pipe, write_output};
use crate::explore::isolate;
use crate::explore::sweep::{
    MAX_JOBS, Origin, Seeds, Tally, Timing, default_out, digest, parse_jobs, parse_range,
    parse_shard, read_previous,
};
use crate::parallel::{IndexSet, stream};
use std::fmt::Write as _;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The arguments of `dynsim sweep`.
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
    /// Print a plain progress line on standard error for every seed, from the start (without
    /// it, a terminal shows a bar, and a pipe or file gets a line every 5 s once the sweep has taken 2 s).
    #[arg(long)]
    pub progress: bool,
    /// Run only shard K of N (K from 0): every N-th seed of the range, from the K-th.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Where to write results.jsonl (one line per seed, written as seeds finish, in seed order) and summary.txt (default: sweep-out/<name>; "-" streams the JSON lines to standard output and the summary to standard error).
    #[arg(long, value_name = "DIR|-")]
    pub out: Option<PathBuf>,
    /// Continue the sweep whose results.jsonl is in --out: skip the seeds it holds (they must be of the same scenario file, dynsim version, --seeds and --shard), run the rest and append them; the summary covers all.
    #[arg(long)]
    pub resume: bool,
    /// The events a seed may simulate; a seed that needs more is recorded as failed ("exceeded the event budget") and the sweep goes on.
    #[arg(long, value_name = "N", default_value_t = isolate::DEFAULT_EVENTS)]
    pub seed_events: u64,
    /// The memory a seed may use (e.g. 2GiB, 512MiB; at least 64MiB); a seed that needs more is recorded as failed ("exceeded the memory budget") and the sweep goes on. Enforced on Unix.
    #[arg(long, value_name = "SIZE", value_parser = isolate::parse_memory, default_value = "2GiB")]
    pub seed_memory: u64,
    /// Run seeds on this process's threads instead of in worker processes: a panic or an event budget still fails only its seed, but a stack overflow or an exhausted memory ends the whole sweep.
    #[arg(long)]
    pub in_process: bool,
}

/// The arguments of the hidden `dynsim sweep-worker` (see `explore::isolate`).
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// The base scenario.
    pub file: PathBuf,
    /// The MD5 digest the sweep read from the file; the worker refuses another.
    #[arg(long)]
    pub digest: String,
    /// The sweep's range, A..B.
    #[arg(long)]
    pub range: String,
    /// The sweep's shard, K/N.
    #[arg(long)]
    pub shard: String,
    /// The event budget of a seed.
    #[arg(long)]
    pub events: u64,
    /// The memory budget of the worker, in bytes.
    #[arg(long)]
    pub memory: u64,
}

/// `dynsim sweep-worker`: answers seed numbers with seed results (see `explore::isolate`).
pub(super) fn worker(args: &WorkerArgs) -> u8 {
    let s = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let same = std::fs::read(&args.file).is_ok_and(|b| digest(&b) == args.digest);
    let parsed = parse_range(&args.range).and_then(|r| parse_shard(&args.shard).map(|sh| (r, sh)));
    let (range, shard) = match parsed {
        Ok(x) if same => x,
        Ok(_) => {
            eprintln!(
                "error: {} changed since the sweep read it",
                args.file.display()
            );
            return EXIT_BAD_INPUT;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let origin = Origin::new(args.digest.clone(), range, shard);
    let limits = isolate::Limits {
        events: args.events,
        memory: args.memory,
    };
    isolate::worker_main(&args.file, &s, &origin, limits)
}

/// SIGINTs received by this process; a sweep stops when the count moves.
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
/// The count when the running sweep started (`usize::MAX`: no sweep runs).
static SWEEP_BASE: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Installs the SIGINT handler once per process. While a sweep runs, the
/// first SIGINT asks it to stop (it finishes the seeds in progress and writes
/// a partial summary); a second one, or one when no sweep runs, exits at once.
fn catch_interrupts() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let installed = ctrlc::set_handler(|| {
            let n = INTERRUPTS.fetch_add(1, Ordering::SeqCst) + 1;
            let base = SWEEP_BASE.load(Ordering::SeqCst);
            if base == usize::MAX || n > base + 1 {
                eprintln!(
                    "\ninterrupted again: stopping now; results.jsonl keeps every seed written so far"
                );
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
            eprintln!(
                "\ninterrupted: finishing the seeds in progress, then writing what finished and a partial summary (Ctrl-C again stops at once)"
            );
        });
        if let Err(e) = installed {
            eprintln!("note: Ctrl-C will stop the sweep without a summary ({e})");
        }
    });
}

/// `dynsim sweep`: stops early when a SIGINT arrives.
pub(super) fn run(args: &SweepArgs) -> u8 {
    catch_interrupts();
    SWEEP_BASE.store(INTERRUPTS.load(Ordering::SeqCst), Ordering::SeqCst);
    let code = sweep(args, &|| {
        INTERRUPTS.load(Ordering::SeqCst) > SWEEP_BASE.load(Ordering::SeqCst)
    });
    SWEEP_BASE.store(usize::MAX, Ordering::SeqCst);
    code
}

/// Where the results stream goes.
enum Sink {
    /// `--out -`: JSON lines on standard output.
    Stdout(std::io::BufWriter<std::io::Stdout>),
    /// `DIR/results.jsonl`, appended to.
    File(std::io::BufWriter<std::fs::File>),
}

impl Sink {
    fn out(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(w) => w,
            Sink::File(w) => w,
        }
    }
}

/// Opens the results stream before any seed runs: standard output for
/// `--out -`; otherwise creates DIR and `results.jsonl` in it (truncated, or
/// read back and appended to with `--resume`).
fn open_results(
    args: &SweepArgs,
    dir: &Path,
    origin: &Origin,
    seeds: &Seeds,
    tally: &mut Tally,
    done: &mut IndexSet,
) -> Result<Sink, String> {
    if dir.as_os_str() == output::STDOUT {
        if args.resume {
            return Err(
                "--resume needs the --out directory of the sweep to continue, not -".into(),
            );
        }
        return Ok(Sink::Stdout(std::io::BufWriter::new(std::io::stdout())));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the output directory {}: {e}", dir.display()))?;
    let summary = dir.join("summary.txt");
    output::check(&summary).map_err(|e| format!("cannot write {}: {e}", summary.display()))?;
    let path = dir.join("results.jsonl");
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    if args.resume && path.exists() {
        let (good, unterminated) = read_previous(&path, origin, seeds, tally, done)?;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(cannot)?;
        if f.metadata().map_err(cannot)?.is_file() {
            f.set_len(good).map_err(cannot)?;
        }
        f.seek(std::io::SeekFrom::End(0)).map_err(cannot)?;
        if unterminated {
            f.write_all(b"\n").map_err(cannot)?;
        }
        return Ok(Sink::File(std::io::BufWriter::new(f)));
    }
    if args.resume {
        eprintln!(
            "note: --resume: {} does not exist yet, so the sweep starts from its first seed",
            path.display()
        );
    }
    // The sweep's own file in its own directory: streamed into directly, so
    // every finished seed is on disk as soon as those before it are.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(cannot)?;
    Ok(Sink::File(std::io::BufWriter::new(f)))
}

/// `dynsim sweep` with a stop signal: `stop()` turning true ends the sweep
/// early, with what finished written and a partial summary.
pub fn sweep(args: &SweepArgs, stop: &(dyn Fn() -> bool + Sync)) -> u8 {
    let s = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return EXIT_BAD_INPUT;
        }
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
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_JOBS))
    });
    if let Err(e) = parse_jobs(&jobs.to_string()) {
        eprintln!("error: --jobs {jobs}: {e}");
        return EXIT_BAD_INPUT;
    }
    let seeds = Seeds { range, shard };
    let origin = Origin::new(digest(&bytes), range, shard);
    let file = args.file.to_string_lossy().into_owned();
    let dir = args.out.clone().unwrap_or_else(|| default_out(&s));
    let to_stdout = dir.as_os_str() == output::STDOUT;
    let mut tally = Tally::default();
    let mut done = IndexSet::default();
    // Everything that can refuse to write refuses here, before the first seed.
    let mut sink = match open_results(args, &dir, &origin, &seeds, &mut tally, &mut done) {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let resumed = done.len();
    let bar = crate::cmd::progress::Counted::new(seeds.len(), resumed, "seeds", args.progress);
    let events_before = tally.events;
    let mut write_failed: Option<std::io::Error> = None;
    let broken = AtomicBool::new(false);
    let stopped = || stop() || broken.load(Ordering::Relaxed);
    let limits = isolate::Limits {
        events: args.seed_events,
        memory: args.seed_memory,
    };
    // Worker processes, unless asked not to: one is started here first, so a
    // sweep that cannot start them says so before any seed runs.
    let spec = if args.in_process {
        None
    } else {
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => {
                eprintln!(
                    "error: cannot find this dynsim executable to start sweep workers ({e}); --in-process runs without them"
                );
                return EXIT_BAD_INPUT;
            }
        };
        let spec = isolate::WorkerSpec {
            exe,
            file: args.file.clone(),
            origin: origin.clone(),
            limits,
        };
        if let Err(e) = isolate::check_worker(&spec) {
            eprintln!("error: {e}; --in-process runs without worker processes");
            return EXIT_BAD_INPUT;
        }
        Some(spec)
    };
    let run_one = |i: u64| {
        let seed = seeds.seed(i);
        match &spec {
            None => isolate::run_guarded(&s, &file, seed, &origin, limits),
            Some(spec) => isolate::run_isolated(spec, &s, seed)
                .unwrap_or_else(|e| isolate::crashed(&s, &file, seed, &origin, "crashed", e)),
        }
    };
    let clock = crate::wall::Stopwatch::start();
    let mut line = Vec::new();
    let threads = stream(seeds.len(), &done, jobs, &stopped, &run_one, |_, r| {
        if broken.load(Ordering::Relaxed) {
            return;
        }
        line.clear();
        serde_json::to_writer(&mut line, &r).expect("results serialize");
        line.push(b'\n');
        let out = sink.out();
        if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
            broken.store(true, Ordering::Relaxed);
            write_failed = Some(e);
            return;
        }
        if !r.ok {
            bar.println(&format!(
                "seed {} FAILED: {}   replay: {}",
                r.seed,
                r.failed.join(", "),
                r.replay
            ));
        }
        tally.add(&r);
        bar.inc(Some(format!("{} failed", tally.failed)));
    });
    let secs = clock.seconds();
    bar.finish();
    drop(sink);
    if let Some(e) = write_failed {
        if to_stdout && is_broken_pipe(&e) {
            // The reader went away (`| head`): nothing left to tell anyone.
            return EXIT_OK;
        }
        eprintln!(
            "error: cannot write the results to {}: {e}",
            if to_stdout {
                "standard output".into()
            } else {
                dir.join("results.jsonl").display().to_string()
            }
        );
        return EXIT_BAD_INPUT;
    }
    let ran = tally.seeds - resumed;
    let partial = tally.seeds < seeds.len();
    let mut summary = format!(
        "sweep of {file}: seeds {}..{}, shard {}/{} ({} seeds)\n",
        range.0,
        range.1,
        shard.0,
        shard.1,
        seeds.len()
    );
    if resumed > 0 {
        let _ = writeln!(
            summary,
            "resumed: {resumed} seed(s) came from the results file, {ran} ran now; the summary covers all of them"
        );
    }
    if partial {
        let _ = writeln!(
            summary,
            "PARTIAL: interrupted after {} of {} seeds; the rest did not run.",
            tally.seeds,
            seeds.len()
        );
        if !to_stdout {
            let _ = writeln!(
                summary,
                "    continue with: dynsim sweep {file} --seeds {}..{}{} --out {} --resume",
                range.0,
                range.1,
                args.shard.as_ref().map_or(String::new(), |_| format!(
                    " --shard {}/{}",
                    shard.0, shard.1
                )),
                dir.display()
            );
        }
    }
    summary.push_str(&tally.render(Some(Timing {
        secs,
        threads,
        seeds: ran,
        events: tally.events - events_before,
    })));
    let code = if partial {
        EXIT_INTERRUPTED
    } else if tally.failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    };
    if to_stdout {
        eprint!("{summary}");
        return code;
    }
    let summary_path = dir.join("summary.txt");
    if let Err(e) = write_output(&summary_path, |w| w.write_all(summary.as_bytes())) {
        eprintln!("error: cannot write {}: {e}", summary_path.display());
        return EXIT_BAD_INPUT;
    }
    let _ = writeln!(summary, "results: {}", dir.join("results.jsonl").display());
    output::print(&summary);
    code
}
