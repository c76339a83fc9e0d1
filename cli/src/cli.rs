//! The entry point: parses the arguments and dispatches to the command's
//! module; `run` and `ring` live here. `main` only calls [`main`].

use crate::args::{
    Cli, Command, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, RingArgs, RunArgs, TraceFormat,
};
use crate::output::{self, Target, is_broken_pipe, write_output};
use crate::report::summary;
use crate::{runner, scenario};
use clap::Parser;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

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
    if output::stdout_failed() && code == EXIT_OK {
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    ExitCode::from(code)
}

pub fn run_command(cmd: Command) -> u8 {
    match cmd {
        Command::Run(args) => cmd_run(&args),
        Command::Ring(args) => cmd_ring(&args),
        Command::Sweep(args) => crate::explore::sweep::cmd(&args),
        Command::Merge(args) => crate::explore::merge::cmd(&args),
        Command::Shrink(args) => crate::explore::shrink::cmd(&args),
        Command::Experiment(args) => crate::report::experiment::cmd(&args),
        Command::Serve(args) => crate::serve::cmd(&args),
        Command::Bench(args) => crate::bench::cmd(&args),
    }
}

/// Loads a scenario, or prints its problems and gives the exit code.
pub(crate) fn load(file: &std::path::Path) -> Result<scenario::Scenario, u8> {
    scenario::load(&file.to_string_lossy()).map_err(|d| {
        eprintln!("{d}");
        EXIT_BAD_INPUT
    })
}

/// From this many clients writing blind (without read-modify-write), `dynsim run` warns that siblings will pile up.
pub const BLIND_WRITERS_WARN: u32 = 4;

/// The one-line warning for a load whose clients write blind: each blind put
/// is concurrent with every version held, so a key's siblings grow with its
/// puts and every get and put costs more as the run goes. Real Dynamo does
/// this too, so the run goes ahead; the warning says why it slows.
pub fn blind_write_warning(s: &scenario::Scenario) -> Option<String> {
    let load = s.load.as_ref()?;
    let blind = load.read_fraction < 1.0 && !load.read_modify_write;
    (blind && load.clients >= BLIND_WRITERS_WARN).then(|| {
        format!(
            "warning: {} clients write blind (read_modify_write = false) to {} keys: siblings will pile up, and each get and put costs more as they do",
            load.clients, load.keys
        )
    })
}

fn cmd_run(args: &RunArgs) -> u8 {
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
    if let Some(w) = blind_write_warning(&s) {
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
        crate::progress::Mode::Forced(Box::new(std::io::stderr()))
    } else {
        crate::progress::Mode::Auto
    };
    let end = sim_core::SimTime::ZERO + s.duration;
    let report = crate::progress::with_progress(end, mode, || runner::run(&s, seed, want_trace));
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
        crate::output::print(&text);
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
    // Check every --key before printing anything, so a typo is the first
    // thing on the screen rather than a line lost under the ring.
    let mut keys = Vec::new();
    for k in &args.keys {
        match ring.key(k) {
            Ok(key) => keys.push((k, key)),
            Err(e) => eprintln!("error: --key {k}: {e}"),
        }
    }
    if keys.len() != args.keys.len() {
        return EXIT_BAD_INPUT;
    }
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
    for (k, key) in keys {
        let walk: Vec<sim_core::NodeId> = ring.walk(&key).collect();
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
    if args.join || args.leave.is_some() {
        match ring_change(&s, &ring, seed, args, &mut o) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        }
    }
    crate::output::print(&o);
    EXIT_OK
}

/// `dynsim ring --join` / `--leave N`: the ring after the change, and what moves.
fn ring_change(
    s: &crate::scenario::Scenario,
    ring: &dynamo_model::Ring,
    seed: u64,
    args: &RingArgs,
    o: &mut String,
) -> Result<(), String> {
    use dynamo_model::ring_change::{diff, joined, keys_moved, left};
    use std::fmt::Write as _;
    let c = &s.cluster;
    let mut rng = sim_core::SimRng::new(seed, sim_core::Stream::Custom(11));
    let n = c.n as usize;
    let (after, what) = match &args.leave {
        None => {
            let node = sim_core::NodeId(ring.node_count());
            (joined(ring, c, &mut rng), format!("{node} joins"))
        }
        Some(name) => {
            let id = name
                .strip_prefix('n')
                .and_then(|x| x.parse::<u32>().ok())
                .filter(|&i| i < c.nodes)
                .ok_or_else(|| {
                    format!(
                        "--leave {name:?}: no such node; the cluster has n0..n{}",
                        c.nodes - 1
                    )
                })?;
            let node = sim_core::NodeId(id);
            if !ring.tokens().iter().any(|t| t.1 == node) {
                return Err(format!("--leave {name}: {name} owns no tokens (a proxy?)"));
            }
            if ring.walk_len() <= n {
                return Err(format!(
                    "--leave {name}: the ring would keep {} nodes, fewer than N = {n}",
                    ring.walk_len() - 1
                ));
            }
            (left(ring, c, node, &mut rng), format!("{node} leaves"))
        }
    };
    let d = diff(ring, &after, n);
    let strategy = match &c.tokens {
        dynamo_model::TokenStrategy::Random { tokens_per_node } => {
            format!("S1: {tokens_per_node} random tokens a node")
        }
        dynamo_model::TokenStrategy::EqualPartitions { partitions } => {
            format!("S3: {partitions} equal partitions, moved whole")
        }
        dynamo_model::TokenStrategy::Explicit { .. } => "explicit partitions, moved whole".into(),
    };
    let _ = writeln!(o, "\nafter {what} ({strategy}):");
    let _ = writeln!(
        o,
        "  key space whose replica set changes: {:.2}%",
        d.changed * 100.0
    );
    let _ = writeln!(
        o,
        "  replica copies to make: {:.4} of the key space ({:.2}% of the {n} copies stored)",
        d.copies,
        d.copies * 100.0 / n as f64
    );
    let _ = writeln!(
        o,
        "  ranges split: {} of {} (their keys are picked out one by one; unsplit ranges move whole)",
        d.ranges_split,
        ring.range_count()
    );
    let (old_load, new_load) = (ring.replica_load(n), after.replica_load(n));
    let _ = writeln!(o, "  share of the key space each node replicates:");
    for (i, after) in new_load.iter().enumerate() {
        let before = old_load.get(i).copied().unwrap_or(0.0);
        let _ = writeln!(
            o,
            "    n{i}: {:.2}% -> {:.2}%",
            before * 100.0,
            after * 100.0
        );
    }
    const SHOWN: usize = 20;
    let _ = writeln!(
        o,
        "  pieces whose replica set changes ({} in all{}):",
        d.pieces.len(),
        if d.pieces.len() > SHOWN {
            format!(", the first {SHOWN}")
        } else {
            String::new()
        }
    );
    let names = |v: &[sim_core::NodeId]| -> String {
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        s.join(" ")
    };
    for p in d.pieces.iter().take(SHOWN) {
        let _ = writeln!(
            o,
            "    {:>20} ..= {:<20} [{}] -> [{}]",
            p.lo,
            p.hi,
            names(&p.before),
            names(&p.after)
        );
    }
    // The keys a scenario's load uses, as its clients name them, and any --key.
    let mut keys = Vec::new();
    if let Some(l) = &s.load {
        for i in 0..l.keys {
            let name = match c.key_scheme {
                dynamo_model::KeyScheme::Md5 => format!("key{i}"),
                dynamo_model::KeyScheme::Integer { .. } => i.to_string(),
            };
            keys.push(ring.key(&name)?);
        }
    }
    for k in &args.keys {
        keys.push(ring.key(k)?);
    }
    if !keys.is_empty() {
        let (moved, copies) = keys_moved(ring, &after, n, &keys);
        let _ = writeln!(
            o,
            "  keys: {moved} of {} change their replica set; {copies} replica copies to make",
            keys.len()
        );
    }
    Ok(())
}
