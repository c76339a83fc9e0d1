//! `dynsim check`: explore every interleaving of a small scope on the real
//! node state machines, or walk it at random; print a table of properties
//! and write each violation's shortest counterexample as a scenario.

use super::common::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK};
use crate::cmd::output::{self, write_output};
use crate::explore::check::counterexample;
use crate::scenario::scope;
use dynamo_explorer::{Progress, Report, SOMETIMES, Search, Watch, bytes, explore};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The arguments of `dynsim check`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = CHECK_HELP)]
pub struct CheckArgs {
    /// The scope file: a [cluster] table and a [check] table (see below).
    pub file: PathBuf,
    /// Worker threads for breadth-first levels and random walks (1 to 256; default: the machine's cores; depth first runs on one). The verdict does not depend on it.
    #[arg(long, short, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Override the file's search: "bfs", "dfs" or "random".
    #[arg(long, value_name = "SEARCH")]
    pub search: Option<String>,
    /// Override the file's reduction: "dpor" (depth first only), "sleep-sets" or "none".
    #[arg(long, value_name = "REDUCTION")]
    pub reduction: Option<String>,
    /// Where counterexamples go (default: <scope name>-counterexamples/ in the current directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
}

const CHECK_HELP: &str = "\
A scope bounds what the explorer may do. Every state is the real cluster, its
clients and its checkers; time is abstracted: any message in flight may be
delivered next and any armed timer may fire next, whatever its delay.

Example (scenarios/check/three_nodes.toml):

    name = \"three_nodes\"
    seed = 1

    [cluster]
    nodes = 3
    n = 3
    r = 2
    w = 2
    gossip = false
    anti_entropy = false

    [check]
    drops = 1             # messages or requests lost, per path (default 0)
    crashes = 1           # crashes (a crashed node restarts at any time)
    max_depth = 60        # steps per path (default 100)
    max_states = 3000000  # distinct states (default 2,000,000)
    max_memory = \"2GiB\"   # visited set and frontier, estimated (default 2GiB)

    [[check.client]]
    node = \"n0\"
    ops = [\"put k v0\", \"get k\"]

    [[check.client]]
    node = \"n1\"
    ops = [\"put k v1\", \"get k\"]

Budgets per path: drops, duplicates, crashes, wipes, partitions (one node cut
off until a heal), and [check.timers] gossip, retry, hint-delivery,
anti-entropy, purge (firings; 0 by default). Request timeouts always fire.

Every checker judges each terminal state after completion (heal, restart,
run the ordinary simulator until it settles); quorum, one-reply and merge
invariants are judged after every step. Exit code 0: every property holds
within the scope; 1: a property is violated (its shortest counterexample is
written as a scenario that `dynsim run` replays); 2: bad input. A search cut
short by a bound says which bound to raise; scenarios/README.md has the
format.";

/// Ctrl-C asks the search to stop.
static STOP: AtomicBool = AtomicBool::new(false);

struct Shown {
    bar: Option<indicatif::ProgressBar>,
    clock: crate::wall::Stopwatch,
    max_memory: u64,
}

impl Watch for Shown {
    fn progress(&self, p: &Progress) {
        let Some(bar) = &self.bar else {
            return;
        };
        let secs = self.clock.seconds().max(1e-9);
        let what = if p.walks > 0 {
            format!("{} walks", p.walks)
        } else {
            format!("{} unique", p.unique)
        };
        bar.set_message(format!(
            "{} states, {what}, depth {}, {:.0} states/s, memory {} of {}",
            p.generated,
            p.depth,
            p.generated as f64 / secs,
            bytes(p.memory),
            bytes(self.max_memory)
        ));
        bar.tick();
    }
    fn stop(&self) -> bool {
        STOP.load(Ordering::SeqCst)
    }
}

/// `dynsim check`.
pub(super) fn run(args: &CheckArgs) -> u8 {
    let mut file = match scope::load(&args.file.to_string_lossy()) {
        Ok(f) => f,
        Err(d) => {
            eprintln!("{d}");
            return EXIT_BAD_INPUT;
        }
    };
    if let Some(s) = &args.search {
        file.scope.search = match s.as_str() {
            "bfs" => {
                if file.scope.reduction == dynamo_explorer::Reduction::Dpor {
                    file.scope.reduction = dynamo_explorer::Reduction::SleepSets;
                }
                Search::Bfs
            }
            "dfs" => Search::Dfs,
            "random" => Search::Random {
                walks: 10_000,
                change_points: 2,
                seed: file.scope.seed,
            },
            other => {
                eprintln!(
                    "error: unknown search {other:?}; valid searches are \"bfs\", \"dfs\" and \"random\""
                );
                return EXIT_BAD_INPUT;
            }
        };
    }
    if let Some(r) = &args.reduction {
        file.scope.reduction = match r.as_str() {
            "sleep-sets" => dynamo_explorer::Reduction::SleepSets,
            "none" => dynamo_explorer::Reduction::None,
            "dpor" if file.scope.search == Search::Dfs => dynamo_explorer::Reduction::Dpor,
            "dpor" => {
                eprintln!("error: DPOR searches depth first; add --search dfs");
                return EXIT_BAD_INPUT;
            }
            other => {
                eprintln!(
                    "error: unknown reduction {other:?}; valid reductions are \"dpor\", \"sleep-sets\" and \"none\""
                );
                return EXIT_BAD_INPUT;
            }
        };
    }
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-counterexamples", file.name)));
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!(
            "\ninterrupted: finishing this level, then reporting what was explored (Ctrl-C again stops at once)"
        );
    });
    let bar = (!args.quiet).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
        b
    });
    let shown = Shown {
        bar,
        clock: crate::wall::Stopwatch::start(),
        max_memory: file.scope.bounds.max_memory,
    };
    // Depth first (with or without DPOR) runs on one thread.
    let threads = match file.scope.search {
        Search::Bfs | Search::Random { .. } => threads,
        Search::Dfs => 1,
    };
    let report = explore(&file.scope, threads, false, &shown);
    if let Some(b) = &shown.bar {
        b.finish_and_clear();
    }
    let secs = shown.clock.seconds();
    let mut text = summary(&file, &report, secs, threads);
    let mut code = if report.violations.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    };
    if !report.violations.is_empty() {
        if let Err(e) = std::fs::create_dir_all(&out_dir) {
            eprintln!("error: cannot create {}: {e}", out_dir.display());
            return EXIT_BAD_INPUT;
        }
        text.push_str("\ncounterexamples (each replays with `dynsim run FILE`):\n");
        for f in &report.violations {
            let s = counterexample(&file, f);
            let path = out_dir.join(format!("{}.toml", f.property));
            let body = format!(
                "# Written by `dynsim check {}`: the shortest path the search found that breaks {}.\n{}",
                args.file.display(),
                f.property,
                crate::scenario::write::to_toml(&s)
            );
            if let Err(e) = write_output(&path, |w| w.write_all(body.as_bytes())) {
                eprintln!("error: cannot write {}: {e}", path.display());
                code = EXIT_BAD_INPUT;
                continue;
            }
            text.push_str(&format!(
                "  {:<28} {} steps  {}\n",
                f.property,
                f.steps.len(),
                shown_path(&path)
            ));
        }
    }
    if STOP.load(Ordering::SeqCst) && code == EXIT_OK {
        code = EXIT_INTERRUPTED;
    }
    output::print(&text);
    code
}

fn shown_path(p: &Path) -> String {
    p.display().to_string()
}

/// The final table.
fn summary(file: &scope::ScopeFile, r: &Report, secs: f64, threads: usize) -> String {
    let s = &file.scope;
    let p = &r.progress;
    let mut o = String::new();
    let search = match s.search {
        Search::Bfs => "breadth first".to_string(),
        Search::Dfs => "depth first".to_string(),
        Search::Random {
            walks,
            change_points,
            seed,
        } => format!("{walks} PCT walks, {change_points} change points, seed {seed}"),
    };
    o.push_str(&format!(
        "check {} ({}): {search}, reduction {:?}, {} thread{}\n",
        file.name,
        file.path,
        s.reduction,
        threads,
        if threads == 1 { "" } else { "s" }
    ));
    let b = &s.budgets;
    o.push_str(&format!(
        "scope: {} nodes N={} R={} W={}, {} clients; budgets per path: drops {}, duplicates {}, crashes {}, wipes {}, partitions {}\n",
        file.cluster.nodes,
        file.cluster.n,
        file.cluster.r,
        file.cluster.w,
        s.clients.len(),
        b.drops,
        b.duplicates,
        b.crashes,
        b.wipes,
        b.partitions
    ));
    if p.walks > 0 {
        o.push_str(&format!(
            "explored: {} walks, {} steps, deepest {}, {:.1} s ({:.0} steps/s)\n",
            p.walks,
            p.generated,
            p.depth,
            secs,
            p.generated as f64 / secs.max(1e-9)
        ));
    } else {
        o.push_str(&format!(
            "explored: {} states ({} unique, {} terminal), depth {}, {:.1} s ({:.0} states/s), memory about {}\n",
            p.generated,
            p.unique,
            p.terminal,
            p.depth,
            secs,
            p.generated as f64 / secs.max(1e-9),
            bytes(p.memory)
        ));
    }
    match (&r.stopped, r.complete) {
        (_, true) => o.push_str("the scope was explored completely\n"),
        (Some(why), _) => o.push_str(&format!("INCOMPLETE: {why}\n")),
        (None, false) => {}
    }
    if let Some(b) = &r.pct {
        o.push_str(&format!(
            "PCT bound: each walk finds a given bug of depth {} with probability at least 1/({} x {}^{}) = {:.3e}; all {} walks miss it with probability at most {:.4}\n",
            b.depth,
            b.owners,
            b.steps,
            b.depth - 1,
            b.per_walk,
            p.walks,
            b.miss
        ));
    }
    o.push_str("\nproperty                      verdict\n");
    for c in dynamo_observer::CHECKERS {
        let verdict = match r.violations.iter().find(|v| v.property == c.name) {
            Some(v) => format!("VIOLATED ({} steps): {}", v.steps.len(), v.message),
            None => match r.skipped.get(c.name) {
                Some(&n) if n == p.terminal => "not applicable to this scope".to_string(),
                _ if r.complete => "holds".to_string(),
                _ => "holds in what was explored".to_string(),
            },
        };
        o.push_str(&format!("  {:<28} {verdict}\n", c.name));
    }
    for v in &r.violations {
        if dynamo_observer::checker(v.property).is_none() {
            o.push_str(&format!("  {:<28} VIOLATED: {}\n", v.property, v.message));
        }
    }
    o.push_str("\nsometimes (terminal states in which it happened)\n");
    for (i, name) in SOMETIMES.iter().enumerate() {
        let n = r.sometimes.get(i).copied().unwrap_or(0);
        o.push_str(&format!(
            "  {:<28} {}{}\n",
            name,
            n,
            if n == 0 { "  (never reached)" } else { "" }
        ));
    }
    o
}
