//! `dynsim-fuzz`: a fuzz harness for dynsim's scenario and experiment
//! readers that runs on stable Rust.
//!
//! It mutates the bundled files (`scenarios/`, `bench/`, `experiments/`,
//! `tests/malformed/`) and runs each input through both readers and, when
//! one accepts it, everything the file reaches before the run (see
//! `target.rs`). Inputs are a pure function of (seed, iteration), so a
//! finding is reproduced with `--seed S --replay I`.
//!
//! The inputs run in a worker process that reports each iteration before it
//! runs it. A panic is caught in the worker; an abort (allocation failure,
//! stack overflow) or a hang ends the worker, and the supervisor records the
//! iteration it was on, then starts a new worker after it. Each finding is
//! written to `--out` as a `.toml` file with a `.txt` note. The exit code is
//! 0 with no finding, 1 with findings, 2 on a usage error.

mod mutate;
mod target;

use clap::Parser;
use dynsim::wall::Stopwatch;
use mutate::Corpus;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "dynsim-fuzz",
    about = "Fuzz dynsim's scenario and experiment readers with mutated bundled files"
)]
struct Args {
    /// Stop after this many seconds (wall clock).
    #[arg(long)]
    seconds: Option<u64>,
    /// Stop after this many inputs (default 10000 when --seconds is not given).
    #[arg(long)]
    iterations: Option<u64>,
    /// The generator's seed; (seed, iteration) determines each input.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The first iteration.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Where findings are written.
    #[arg(long, default_value = "fuzz-findings")]
    out: PathBuf,
    /// The workspace root holding the corpus (default: the one this was built from).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Generate iteration ITER of --seed, write it to --out, and run it here
    /// without catching anything, so a panic or abort shows as it happens.
    #[arg(long, value_name = "ITER")]
    replay: Option<u64>,
    /// Run these files through the target, without catching anything.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    check: Vec<PathBuf>,
    /// Seconds an input may take before it counts as a hang.
    #[arg(long, default_value_t = 20)]
    hang_seconds: u64,
    /// Memory limit for the worker process, in MiB (0: none).
    #[arg(long, default_value_t = 1024)]
    mem_mib: u64,
    /// Run in this process, with no worker (an abort then ends the run).
    #[arg(long)]
    in_process: bool,
    /// With --in-process: name each input that takes longer than this many milliseconds.
    #[arg(long, value_name = "MS")]
    slow_ms: Option<u64>,
    /// Internal: run as the worker, reporting to the supervisor on stdout.
    #[arg(long, hide = true)]
    worker: bool,
    /// Internal: the worker's last iteration (exclusive).
    #[arg(long, hide = true)]
    end: Option<u64>,
    /// Internal: the worker's deadline, in milliseconds from its start.
    #[arg(long, hide = true)]
    deadline_ms: Option<u64>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let root = args
        .root
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    if !args.check.is_empty() {
        return check_files(&args.check);
    }
    let corpus = match Corpus::load(&root) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(i) = args.replay {
        return replay(&args, &corpus, i);
    }
    if args.worker {
        return worker(&args, &corpus);
    }
    supervise(&args, &corpus)
}

fn elapsed(clock: &Stopwatch) -> Duration {
    Duration::from_secs_f64(clock.seconds())
}

/// Example files written per kind of finding (per worker); all are counted.
const FILES_PER_FINDING: usize = 3;

/// The panic of the input being run, recorded by the quiet hook.
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

fn install_quiet_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map_or("unknown".to_string(), |l| {
            format!("{}:{}", l.file(), l.line())
        });
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if let Ok(mut p) = LAST_PANIC.lock() {
            *p = Some((location, message));
        }
    }));
}

/// Runs one input, catching a panic; `Some((signature, details))` for a finding.
fn run_caught(text: &str, stats: &mut target::Stats) -> Option<(String, String)> {
    match std::panic::catch_unwind(|| target::run(text)) {
        Ok(Ok(s)) => {
            stats.add(&s);
            None
        }
        Ok(Err(violation)) => {
            let first = violation.lines().next().unwrap_or_default();
            let sig = format!("violation: {}", first.split(':').next().unwrap_or(first));
            Some((sig, violation))
        }
        Err(_) => {
            let (location, message) = LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut p| p.take())
                .unwrap_or_else(|| ("unknown".into(), String::new()));
            Some((
                format!("panic at {location}"),
                format!("panicked at {location}: {message}"),
            ))
        }
    }
}

fn slug(sig: &str) -> String {
    let s: String = sig
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    s.split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .take(60)
        .collect()
}

/// Writes a finding as `<slug>-s<seed>-i<iter>.toml` with a `.txt` note.
fn write_finding(
    out: &Path,
    seed: u64,
    iter: u64,
    base: &str,
    text: &str,
    sig: &str,
    details: &str,
) -> PathBuf {
    let _ = std::fs::create_dir_all(out);
    let stem = format!("{}-s{seed}-i{iter}", slug(sig));
    let toml = out.join(format!("{stem}.toml"));
    let _ = std::fs::write(&toml, text);
    let note = format!(
        "{sig}\n\n{details}\n\nbase file: {base}\nreplay: dynsim-fuzz --seed {seed} --replay {iter}\n"
    );
    let _ = std::fs::write(out.join(format!("{stem}.txt")), note);
    toml
}

fn worker(args: &Args, corpus: &Corpus) -> ExitCode {
    install_quiet_hook();
    let clock = Stopwatch::start();
    let deadline = args.deadline_ms.map(Duration::from_millis);
    let end = args.end.unwrap_or(u64::MAX);
    let mut stats = target::Stats::default();
    let mut out = std::io::stdout().lock();
    let mut written: BTreeMap<String, usize> = BTreeMap::new();
    let mut i = args.start;
    // Each line is written (and flushed) before the input runs, so the
    // supervisor knows which input an abort or a hang came from.
    while i < end && deadline.is_none_or(|d| elapsed(&clock) < d) {
        if writeln!(out, "I {i}").and_then(|()| out.flush()).is_err() {
            return ExitCode::from(2);
        }
        let (base, text) = corpus.generate(args.seed, i);
        if (i - args.start) % STATS_EVERY == STATS_EVERY - 1 {
            // The counts so far, so that they survive the worker's death.
            report_stats(&mut out, &mut stats);
        }
        if let Some((sig, details)) = run_caught(&text, &mut stats) {
            // A few examples of each kind are enough; every one is counted.
            let n = written.entry(sig.clone()).or_default();
            *n += 1;
            if *n <= FILES_PER_FINDING {
                write_finding(&args.out, args.seed, i, &base, &text, &sig, &details);
            }
            let _ = writeln!(out, "F {i} {sig}");
        }
        i += 1;
    }
    report_stats(&mut out, &mut stats);
    let _ = writeln!(out, "D {i}");
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// How often (in inputs) a worker reports its counts.
const STATS_EVERY: u64 = 1024;

/// Reports the counts since the last report, and starts them again.
fn report_stats(out: &mut impl Write, stats: &mut target::Stats) {
    let s = std::mem::take(stats);
    let _ = writeln!(
        out,
        "S {} {} {} {} {} {} {}",
        s.rejected, s.scenarios, s.experiments, s.built, s.swarms, s.costly, s.scopes
    );
}

enum Msg {
    Line(String),
    Eof,
}

/// Runs workers over the iterations, restarting after an abort or a hang.
fn supervise(args: &Args, corpus: &Corpus) -> ExitCode {
    let clock = Stopwatch::start();
    let budget = args.seconds.map(Duration::from_secs);
    let iterations = args
        .iterations
        .or(if args.seconds.is_none() {
            Some(10_000)
        } else {
            None
        })
        .unwrap_or(u64::MAX);
    let end = args.start.saturating_add(iterations);
    println!(
        "dynsim-fuzz: seed {}, iterations {}..{}, {}; corpus {} files (digest {}); findings go to {}",
        args.seed,
        args.start,
        if end == u64::MAX {
            "".to_string()
        } else {
            end.to_string()
        },
        budget.map_or("no time limit".to_string(), |b| format!(
            "at most {}s",
            b.as_secs()
        )),
        corpus.files.len(),
        corpus.digest(),
        args.out.display()
    );
    println!(
        "  if anything is found, reproduce it with: dynsim-fuzz --seed {} --replay ITER",
        args.seed
    );
    let mut stats = target::Stats::default();
    let mut findings: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut next = args.start;
    let mut executions = 0u64;
    let record = |sig: String, iter: u64, findings: &mut BTreeMap<String, Vec<u64>>| {
        let seen = findings.entry(sig.clone()).or_default();
        if seen.is_empty() {
            println!("  finding at iteration {iter}: {sig} (further ones like it are counted)");
        }
        seen.push(iter);
    };
    if args.in_process {
        install_quiet_hook();
        while next < end && budget.is_none_or(|b| elapsed(&clock) < b) {
            let t0 = Stopwatch::start();
            let (base, text) = corpus.generate(args.seed, next);
            let generated = t0.seconds();
            if let Some((sig, details)) = run_caught(&text, &mut stats) {
                if findings
                    .get(&sig)
                    .is_none_or(|v| v.len() < FILES_PER_FINDING)
                {
                    write_finding(&args.out, args.seed, next, &base, &text, &sig, &details);
                }
                record(sig, next, &mut findings);
            }
            if let Some(ms) = args.slow_ms {
                let (g, r) = (generated, t0.seconds() - generated);
                if (g + r) * 1e3 > ms as f64 {
                    println!(
                        "  slow: iteration {next} (from {base}, {} bytes): generating {:.1}ms, running {:.1}ms",
                        text.len(),
                        g * 1e3,
                        r * 1e3
                    );
                }
            }
            executions += 1;
            next += 1;
        }
    } else {
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: cannot find this program to start a worker: {e}");
                return ExitCode::from(2);
            }
        };
        while next < end {
            let left = match budget {
                Some(b) => match b.checked_sub(elapsed(&clock)) {
                    Some(l) if !l.is_zero() => Some(l),
                    _ => break,
                },
                None => None,
            };
            let mut worker_args: Vec<String> = vec![
                "--worker".into(),
                "--seed".into(),
                args.seed.to_string(),
                "--start".into(),
                next.to_string(),
                "--end".into(),
                end.to_string(),
                "--out".into(),
                args.out.display().to_string(),
            ];
            if let Some(r) = &args.root {
                worker_args.extend(["--root".into(), r.display().to_string()]);
            }
            if let Some(l) = left {
                worker_args.extend(["--deadline-ms".into(), l.as_millis().to_string()]);
            }
            // The memory limit goes through the shell's ulimit: no unsafe code needed.
            let mut cmd = if args.mem_mib > 0 && Path::new("/bin/sh").exists() {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(format!(
                        "ulimit -v {} 2>/dev/null; exec \"$0\" \"$@\"",
                        args.mem_mib * 1024
                    ))
                    .arg(&exe)
                    .args(&worker_args);
                c
            } else {
                let mut c = Command::new(&exe);
                c.args(&worker_args);
                c
            };
            let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: cannot start a worker: {e}");
                    return ExitCode::from(2);
                }
            };
            let stdout = child.stdout.take().expect("piped");
            let stderr = child.stderr.take().expect("piped");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(Msg::Line(line)).is_err() {
                        return;
                    }
                }
                let _ = tx.send(Msg::Eof);
            });
            // Keep the worker's last words (an abort message) for the note.
            let err_tail = std::thread::spawn(move || {
                let mut tail: Vec<String> = Vec::new();
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    tail.push(line);
                    if tail.len() > 20 {
                        tail.remove(0);
                    }
                }
                tail.join("\n")
            });
            let mut current: Option<u64> = None;
            let mut done = false;
            let mut died: Option<String> = None;
            loop {
                match rx.recv_timeout(Duration::from_secs(args.hang_seconds)) {
                    Ok(Msg::Line(l)) => {
                        let mut parts = l.splitn(3, ' ');
                        match (parts.next(), parts.next(), parts.next()) {
                            (Some("I"), Some(n), _) => {
                                if let Some(c) = current {
                                    executions += 1;
                                    next = c + 1;
                                }
                                current = n.parse().ok();
                            }
                            (Some("F"), Some(n), Some(sig)) => {
                                if let Ok(n) = n.parse() {
                                    record(sig.to_string(), n, &mut findings);
                                }
                            }
                            (Some("S"), Some(a), Some(rest)) => {
                                let v: Vec<u64> = std::iter::once(a)
                                    .chain(rest.split(' '))
                                    .filter_map(|x| x.parse().ok())
                                    .collect();
                                if let [a, b, c, d, e, f, g] = v[..] {
                                    stats.add(&target::Stats {
                                        rejected: a,
                                        scenarios: b,
                                        experiments: c,
                                        built: d,
                                        swarms: e,
                                        costly: f,
                                        scopes: g,
                                    });
                                }
                            }
                            (Some("D"), Some(n), _) => {
                                if current.is_some() {
                                    executions += 1;
                                }
                                next = n.parse().unwrap_or(end);
                                done = true;
                            }
                            _ => {}
                        }
                    }
                    Ok(Msg::Eof) => {
                        if !done {
                            died = Some(
                                "the worker process died (abort, signal or stack overflow)".into(),
                            );
                        }
                        break;
                    }
                    Err(_) => {
                        died = Some(format!(
                            "hang: one input ran for more than {}s",
                            args.hang_seconds
                        ));
                        let _ = child.kill();
                        break;
                    }
                }
            }
            let status = child.wait();
            let tail = err_tail.join().unwrap_or_default();
            if let Some(why) = died {
                let Some(c) = current else {
                    eprintln!("error: the worker ended before running anything: {tail}");
                    return ExitCode::from(2);
                };
                let sig = if why.starts_with("hang") {
                    "hang".to_string()
                } else {
                    let first = tail
                        .lines()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("no message");
                    // Sizes vary from input to input; the kind of abort does not.
                    let mut kind = String::new();
                    for ch in first.chars().take(80) {
                        if !ch.is_ascii_digit() {
                            kind.push(ch);
                        } else if !kind.ends_with('N') {
                            kind.push('N');
                        }
                    }
                    format!("abort: {kind}")
                };
                let (base, text) = corpus.generate(args.seed, c);
                let details = format!("{why}; exit: {status:?}\n{tail}");
                write_finding(&args.out, args.seed, c, &base, &text, &sig, &details);
                record(sig, c, &mut findings);
                executions += 1;
                next = c + 1;
            } else if !done {
                break;
            }
        }
    }
    let secs = clock.seconds();
    let total: usize = findings.values().map(Vec::len).sum();
    println!(
        "dynsim-fuzz: {executions} executions in {secs:.1}s ({:.0}/s), corpus {} files, {total} finding{} ({} distinct)",
        executions as f64 / secs.max(1e-9),
        corpus.files.len(),
        if total == 1 { "" } else { "s" },
        findings.len()
    );
    println!(
        "  inputs: {} rejected by every reader, {} scenarios, {} experiments and {} check scopes accepted; {} built up to the first event, {} swarm draws, {} too costly to build at fuzzing speed",
        stats.rejected,
        stats.scenarios,
        stats.experiments,
        stats.scopes,
        stats.built,
        stats.swarms,
        stats.costly
    );
    for (sig, iters) in &findings {
        let shown: Vec<String> = iters.iter().take(5).map(u64::to_string).collect();
        println!(
            "  {} x {sig}: iterations {}{}",
            iters.len(),
            shown.join(", "),
            if iters.len() > 5 { ", ..." } else { "" }
        );
    }
    if total > 0 {
        println!(
            "  findings are in {}; replay one with: dynsim-fuzz --seed {} --replay ITER",
            args.out.display(),
            args.seed
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn replay(args: &Args, corpus: &Corpus, i: u64) -> ExitCode {
    let (base, text) = corpus.generate(args.seed, i);
    let _ = std::fs::create_dir_all(&args.out);
    let path = args.out.join(format!("replay-s{}-i{i}.toml", args.seed));
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    println!(
        "replay: seed {} iteration {i} (from {base}, corpus digest {}) written to {}",
        args.seed,
        corpus.digest(),
        path.display()
    );
    match target::run(&text) {
        Ok(_) => {
            println!("replay: no problem");
            ExitCode::SUCCESS
        }
        Err(v) => {
            println!("replay: {v}");
            ExitCode::from(1)
        }
    }
}

fn check_files(files: &[PathBuf]) -> ExitCode {
    let mut bad = false;
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {}: {e}", f.display());
                return ExitCode::from(2);
            }
        };
        match target::run(&text) {
            Ok(_) => println!("{}: ok", f.display()),
            Err(v) => {
                println!("{}: {v}", f.display());
                bad = true;
            }
        }
    }
    if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
