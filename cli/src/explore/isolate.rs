//! A crashing model does not crash the sweep: every seed runs under an
//! event budget and catches its panics, and `dynsim sweep` runs seeds in
//! worker processes (`dynsim sweep-worker`, one per sweep thread) under a
//! memory budget, so a seed that overflows its stack or runs out of memory
//! takes down only its worker. The sweep records that seed's failure with
//! its replay command, starts a new worker, and goes on.
//!
//! The protocol is lines on pipes: the worker answers `ready <digest>` once
//! it has read the scenario; then the sweep writes a seed number, and the
//! worker answers with that seed's result as one JSON line. A worker that
//! dies instead leaves an end of file, an exit status and its standard
//! error, from which the failure is told: a stack overflow, a failed
//! allocation (the memory budget), or another crash.

use crate::explore::sweep::{Coverage, Origin, SeedResult, run_seed};
use crate::scenario::Scenario;
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// What one seed may use before it counts as that seed's failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Simulation events.
    pub events: u64,
    /// Bytes of address space for the worker process that runs it (Unix;
    /// elsewhere the budget is not enforced).
    pub memory: u64,
}

/// A seed may simulate this many events (the bundled bases use 10,000 to
/// 50,000 a seed).
pub const DEFAULT_EVENTS: u64 = 100_000_000;
/// A seed's worker may use this much memory (2 GiB).
pub const DEFAULT_MEMORY: u64 = 2 << 30;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            events: DEFAULT_EVENTS,
            memory: DEFAULT_MEMORY,
        }
    }
}

/// A byte count as people write it: `2 GiB`, `512 MiB`, `1000 bytes`.
pub fn bytes_text(n: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if n >= GIB && n % GIB == 0 {
        format!("{} GiB", n / GIB)
    } else if n >= MIB && n % MIB == 0 {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

/// Parses a memory budget: a number of bytes with an optional unit (`KiB`,
/// `MiB`, `GiB`; `K`, `M`, `G` mean the same), at least 64 MiB.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!(
            "{text:?} is not a memory size; write bytes with an optional unit, e.g. 2GiB or 512MiB"
        )
    })?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use KiB, MiB or GiB"
            ));
        }
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes < 64 << 20 {
        return Err(format!(
            "{text:?} is below the smallest memory budget, 64 MiB"
        ));
    }
    Ok(bytes)
}

/// A seed's result when it did not finish: `failed` names the kind
/// (`crashed: stack overflow`, `crashed: panic`, `exceeded the memory
/// budget`, `exceeded the event budget`, `crashed`) and `detail` says more.
pub fn crashed(
    s: &Scenario,
    file: &str,
    seed: u64,
    origin: &Origin,
    failed: &str,
    detail: String,
) -> SeedResult {
    let plan = crate::explore::swarm::draw(s, seed);
    SeedResult {
        seed,
        ok: false,
        failed: vec![failed.to_string()],
        violation: Some(detail),
        events: 0,
        ops: 0,
        faults: plan.kinds.iter().map(ToString::to_string).collect(),
        coverage: Coverage::default(),
        knobs: plan.knobs,
        replay: format!("dynsim run {file} --seed {seed} --swarm --trace -"),
        digest: origin.digest.clone(),
        version: origin.version.clone(),
        range: origin.range,
        shard: origin.shard,
    }
}

/// The text of a panic's payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Runs one seed in this process under the event budget, catching a panic:
/// either is the seed's failure. (A stack overflow or a failed allocation
/// still ends the process; [`run_isolated`] runs seeds where that is only a
/// worker's end.)
pub fn run_guarded(
    s: &Scenario,
    file: &str,
    seed: u64,
    origin: &Origin,
    limits: Limits,
) -> SeedResult {
    let budget = limits.events;
    match within_events(budget, || run_seed(s, file, seed, origin)) {
        Ok(Ok(r)) => r,
        Ok(Err(cut)) => crashed(
            s,
            file,
            seed,
            origin,
            "exceeded the event budget",
            format!(
                "the run used more than {budget} events (stopped at {} simulated)",
                cut.at
            ),
        ),
        Err(payload) => crashed(
            s,
            file,
            seed,
            origin,
            "crashed: panic",
            format!("the run panicked: {}", panic_text(&*payload)),
        ),
    }
}

/// Runs `f` with at most `budget` simulation events and its panics caught:
/// `Ok(Ok(r))` when it finished, `Ok(Err(cut))` when the budget cut it,
/// `Err(payload)` when it panicked.
fn within_events<R>(
    budget: u64,
    f: impl FnOnce() -> R,
) -> std::thread::Result<Result<R, sim_core::stop::Interrupted>> {
    let mut used = 0u64;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sim_core::stop::with_stop_check(
            move |n, _| {
                used += n;
                used > budget
            },
            f,
        )
    }))
}

/// How to start a worker: the dynsim executable and the sweep it works for.
#[derive(Clone, Debug)]
pub struct WorkerSpec {
    /// The dynsim executable (this process's own).
    pub exe: PathBuf,
    /// The base scenario file.
    pub file: PathBuf,
    /// The sweep's origin (the worker's results carry it).
    pub origin: Origin,
    /// The budgets.
    pub limits: Limits,
}

/// One worker process, owned by one sweep thread.
struct Worker {
    child: Child,
    /// Closed (taken) to tell the worker to exit.
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Worker {
    /// Ends the worker when its thread ends: standard input closes, the
    /// worker (idle between seeds) exits, and is waited for.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

thread_local! {
    /// This sweep thread's worker, started on its first seed.
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

fn spawn(spec: &WorkerSpec) -> Result<Worker, String> {
    let mut cmd = Command::new(&spec.exe);
    cmd.arg("sweep-worker")
        .arg(&spec.file)
        .arg("--digest")
        .arg(&spec.origin.digest)
        .arg("--range")
        .arg(format!(
            "{}..{}",
            spec.origin.range[0], spec.origin.range[1]
        ))
        .arg("--shard")
        .arg(format!("{}/{}", spec.origin.shard[0], spec.origin.shard[1]))
        .arg("--events")
        .arg(spec.limits.events.to_string())
        .arg("--memory")
        .arg(spec.limits.memory.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: a Ctrl-C at the terminal stops the sweep, which
    // then lets its workers finish the seeds they run, instead of killing them
    // mid-seed (which would read as a crash).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start a sweep worker ({}): {e}", spec.exe.display()))?;
    let stdin = child
        .stdin
        .take()
        .ok_or("a worker without standard input")?;
    let mut stdout = BufReader::new(
        child
            .stdout
            .take()
            .ok_or("a worker without standard output")?,
    );
    let mut ready = String::new();
    let read = stdout.read_line(&mut ready);
    let want = format!("ready {}", spec.origin.digest);
    if read.is_err() || ready.trim_end() != want {
        let _ = child.kill();
        let _ = child.wait();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        return Err(format!(
            "a sweep worker did not start: {}",
            err.lines().next().unwrap_or(ready.trim_end())
        ));
    }
    Ok(Worker {
        child,
        stdin: Some(stdin),
        stdout,
    })
}

/// Starts a worker and ends it again: whether workers can run here at all.
pub fn check_worker(spec: &WorkerSpec) -> Result<(), String> {
    spawn(spec).map(drop)
}

/// Tells why a worker died, from its exit status and standard error: the
/// failure kind and a detail.
fn diagnose(w: &mut Worker, limits: Limits) -> (&'static str, String) {
    diagnose_child(&mut w.child, limits)
}

/// Tells why a process that ran a seed ended abnormally (see [`diagnose`]).
fn diagnose_child(child: &mut Child, limits: Limits) -> (&'static str, String) {
    let status = child.wait();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let line_with = |needle: &str| {
        err.lines()
            .find(|l| l.contains(needle))
            .map(|l| l.trim().to_string())
    };
    let status = status.map_or_else(|e| format!("unknown ({e})"), |s| s.to_string());
    // Only what the run determines goes into the result (not a thread's id
    // or a process id), so results.jsonl is the same from run to run.
    if line_with("has overflowed its stack").is_some() {
        (
            "crashed: stack overflow",
            format!("the run overflowed its stack; the worker ended with {status}"),
        )
    } else if let Some(l) = line_with("memory allocation of") {
        (
            "exceeded the memory budget",
            format!(
                "the run needed more than {} of memory ({l}); the worker ended with {status}",
                bytes_text(limits.memory)
            ),
        )
    } else {
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        (
            "crashed",
            format!("the worker ended with {status}: {}", last.trim()),
        )
    }
}

/// Runs one seed in this thread's worker process (started on first use, and
/// again after one dies). `Err` only when no worker can be started at all.
pub fn run_isolated(spec: &WorkerSpec, s: &Scenario, seed: u64) -> Result<SeedResult, String> {
    WORKER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(spawn(spec)?);
        }
        let w = slot.as_mut().expect("just started");
        let mut line = String::new();
        let asked = match w.stdin.as_mut() {
            Some(i) => writeln!(i, "{seed}").and_then(|()| i.flush()),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        let answered = asked.is_ok() && w.stdout.read_line(&mut line).is_ok_and(|n| n > 0);
        if answered {
            if let Ok(r) = serde_json::from_str::<SeedResult>(&line) {
                return Ok(r);
            }
        }
        // The worker died on this seed (or answered nonsense): that is the seed's failure.
        let file = spec.file.to_string_lossy();
        let (kind, detail) = if answered {
            let _ = w.child.kill();
            let _ = w.child.wait();
            (
                "crashed",
                format!("the worker answered {:?}", line.trim_end()),
            )
        } else {
            diagnose(w, spec.limits)
        };
        *slot = None;
        Ok(crashed(s, &file, seed, &spec.origin, kind, detail))
    })
}

/// `dynsim sweep-worker`: sets its memory budget, reads the scenario, says
/// `ready <digest>`, then answers each seed number on standard input with
/// that seed's result, until standard input ends.
pub fn worker_main(file: &Path, s: &Scenario, origin: &Origin, limits: Limits) -> u8 {
    // A panic is caught and becomes the seed's result; its message is that
    // result's detail, so the default report on standard error is not needed.
    std::panic::set_hook(Box::new(|_| {}));
    if let Err(e) = set_memory_limit(limits.memory) {
        eprintln!("error: cannot set the memory budget: {e}");
        return 2;
    }
    let file = file.to_string_lossy().into_owned();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if writeln!(out, "ready {}", origin.digest)
        .and_then(|()| out.flush())
        .is_err()
    {
        return 2;
    }
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Ok(seed) = line.trim().parse::<u64>() else {
            eprintln!("error: not a seed: {line:?}");
            return 2;
        };
        let r = run_guarded(s, &file, seed, origin, limits);
        let json = serde_json::to_string(&r).expect("results serialize");
        if writeln!(out, "{json}").and_then(|()| out.flush()).is_err() {
            return 2;
        }
    }
    0
}

/// Limits this process's address space to `bytes` (Unix; elsewhere nothing is set).
fn set_memory_limit(bytes: u64) -> Result<(), String> {
    #[cfg(unix)]
    {
        // Never above the hard limit this process was given.
        let (_, hard) = rlimit::Resource::AS.get().map_err(|e| e.to_string())?;
        rlimit::Resource::AS
            .set(bytes.min(hard), hard)
            .map_err(|e| e.to_string())
    }
    #[cfg(not(unix))]
    {
        let _ = bytes;
        Ok(())
    }
}

/// `dynsim crash-probe`: runs one scenario (the seed's swarm run with
/// `swarm`, else the file as written) under the budgets, in a process of its
/// own, and prints one line: `ok`, or the failure kind of a panic or an
/// exhausted event budget. A stack overflow or an exhausted memory budget
/// ends the process instead, which [`probe`] reads from its exit.
pub fn probe_main(s: &Scenario, seed: u64, swarm: bool, limits: Limits) -> u8 {
    std::panic::set_hook(Box::new(|_| {}));
    if let Err(e) = set_memory_limit(limits.memory) {
        eprintln!("error: cannot set the memory budget: {e}");
        return 2;
    }
    let run = if swarm {
        crate::explore::swarm::apply(s, &crate::explore::swarm::draw(s, seed))
    } else {
        s.clone()
    };
    let ran = within_events(limits.events, || {
        crate::runner::run(&run, seed, false).map(drop)
    });
    let line = match ran {
        Ok(Ok(_)) => "ok",
        Ok(Err(_)) => "exceeded the event budget",
        Err(_) => "crashed: panic",
    };
    println!("{line}");
    0
}

/// Runs `s` with `seed` (as the seed's swarm run with `swarm`) in a
/// `dynsim crash-probe` process: `Ok(None)` when it ran to its end,
/// `Ok(Some(kind))` when it crashed or exceeded a budget, `Err` when no
/// probe could run.
pub fn probe(
    exe: &Path,
    s: &Scenario,
    seed: u64,
    swarm: bool,
    limits: Limits,
) -> Result<Option<String>, String> {
    let dir = std::env::temp_dir().join(format!("dynsim-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = dir.join("candidate.toml");
    std::fs::write(&file, crate::scenario::write::to_toml(s))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("crash-probe")
        .arg(&file)
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--events")
        .arg(limits.events.to_string())
        .arg("--memory")
        .arg(limits.memory.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if swarm {
        cmd.arg("--swarm");
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start a crash probe ({}): {e}", exe.display()))?;
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    let answer = out.trim();
    if answer == "ok" {
        let _ = child.wait();
        return Ok(None);
    }
    if !answer.is_empty() {
        let _ = child.wait();
        return Ok(Some(answer.to_string()));
    }
    let (kind, detail) = diagnose_child(&mut child, limits);
    if kind == "crashed" && detail.contains("error:") {
        return Err(detail);
    }
    Ok(Some(kind.to_string()))
}
