//! The searches: breadth first (level by level, in parallel), depth first,
//! both with a visited set of state digests and optionally sleep sets; and
//! random walks with a PCT-style scheduler.

use crate::judge::{self, Judged, Property, SOMETIMES};
use crate::scope::{Reduction, Scope, Search, bytes};
use crate::set::DigestMap;
use crate::state::{Action, Footprint, State, Step, steps_of};
use sim_core::digest::Digest;
use sim_core::{SimRng, Stream};
use std::collections::BTreeMap;

/// How far a search has got, for a progress display.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Transitions taken (states generated).
    pub generated: u64,
    /// Distinct states.
    pub unique: u64,
    /// The deepest level reached.
    pub depth: u32,
    /// Distinct terminal states judged.
    pub terminal: u64,
    /// Estimated bytes held.
    pub memory: u64,
    /// Random walks done.
    pub walks: u64,
}

/// Watches a search from outside: sees its progress, and may stop it.
pub trait Watch: Sync {
    /// Called after each level (breadth first), every few thousand states
    /// (depth first) or walks.
    fn progress(&self, _p: &Progress) {}
    /// Whether to stop now (Ctrl-C).
    fn stop(&self) -> bool {
        false
    }
}

/// A watcher that watches nothing.
#[derive(Debug)]
pub struct Quiet;
impl Watch for Quiet {}

/// A property's violation, with the path that shows it.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The property (a checker's name).
    pub property: Property,
    /// Its first violation, in words.
    pub message: String,
    /// The steps from the start that lead to it.
    pub steps: Vec<Step>,
    /// For a violation found judging a terminal state: when completion
    /// began (the last step's time) and ended. `None` for one found right
    /// after a step.
    pub completion: Option<(sim_core::SimTime, sim_core::SimTime)>,
}

/// What a search found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Progress at the end.
    pub progress: Progress,
    /// Whether every state of the scope was explored.
    pub complete: bool,
    /// Why it stopped early, if it did.
    pub stopped: Option<String>,
    /// The shortest violation found of each violated property, by property.
    pub violations: Vec<Finding>,
    /// Per [`SOMETIMES`] property: the terminal states (or walks) in which it happened.
    pub sometimes: Vec<u64>,
    /// Checkers that did not apply, with in how many terminal states.
    pub skipped: BTreeMap<Property, u64>,
    /// Sorted digests of every terminal state, when asked for (tests compare reductions by them).
    pub terminal_digests: Option<Vec<Digest>>,
    /// For random walks: the per-walk lower bound on hitting a bug of the
    /// scheduler's depth, and the walks' largest step count.
    pub pct: Option<PctBound>,
}

/// The probabilistic guarantee of PCT-style walks.
#[derive(Clone, Copy, Debug)]
pub struct PctBound {
    /// Owners the priorities are over (nodes and clients).
    pub owners: u32,
    /// Steps per walk at most.
    pub steps: u32,
    /// Bug depth covered: change points + 1.
    pub depth: u32,
    /// Each walk hits a given bug of that depth with probability at least this.
    pub per_walk: f64,
    /// The chance that every walk missed such a bug, at most.
    pub miss: f64,
}

impl Report {
    pub(crate) fn new() -> Report {
        Report {
            sometimes: vec![0; SOMETIMES.len()],
            ..Report::default()
        }
    }

    /// Records a violation, keeping the shortest per property.
    pub(crate) fn found(
        &mut self,
        property: Property,
        message: String,
        steps: Vec<Step>,
        completion: Option<(sim_core::SimTime, sim_core::SimTime)>,
    ) {
        let f = Finding {
            property,
            message,
            steps,
            completion,
        };
        match self.violations.iter_mut().find(|v| v.property == property) {
            Some(v) if v.steps.len() <= f.steps.len() => {}
            Some(v) => *v = f,
            None => self.violations.push(f),
        }
    }

    pub(crate) fn judged(&mut self, j: &Judged, state: &State) {
        for (i, hit) in j.sometimes.iter().enumerate() {
            if *hit {
                self.sometimes[i] += 1;
            }
        }
        for s in &j.skipped {
            *self.skipped.entry(s).or_default() += 1;
        }
        for (p, m) in &j.violated {
            self.found(p, m.clone(), steps_of(&state.path), Some(j.completion));
        }
    }
}

/// A state waiting to be expanded, with its sleep set and, when it is
/// expanded again for a smaller sleep set, the only actions left to take.
struct Entry {
    state: State,
    /// Its estimated size, counted while it waits.
    bytes: u64,
    sleep: Vec<(Action, Footprint)>,
    only: Option<Vec<Action>>,
}

/// What expanding one state produced: each child, its digest, sleep set,
/// what its step broke, and its judgment if it is terminal.
struct Child {
    state: State,
    digest: Digest,
    sleep: Vec<(Action, Footprint)>,
    broken: Vec<(Property, String)>,
    terminal: Option<Judged>,
}

fn expand(scope: &Scope, e: &Entry) -> Vec<Child> {
    let enabled = e.state.enabled(scope);
    let mut explored: Vec<(Action, Footprint)> = Vec::new();
    let mut out = Vec::new();
    let sleeping = |a: &Action| e.sleep.iter().any(|(s, _)| s == a);
    for a in enabled {
        if sleeping(&a) {
            continue;
        }
        let Some((child, foot)) = e.state.apply(scope, a) else {
            continue;
        };
        let skip = e.only.as_ref().is_some_and(|only| !only.contains(&a));
        if !skip {
            let mut sleep: Vec<(Action, Footprint)> = Vec::new();
            if scope.reduction == Reduction::SleepSets {
                sleep = e
                    .sleep
                    .iter()
                    .chain(&explored)
                    .filter(|(_, f)| f.independent(&foot))
                    .copied()
                    .collect();
                sleep.sort_unstable();
                sleep.dedup();
            }
            let broken = judge::broken_now(&child);
            let terminal = (broken.is_empty() && child.is_terminal(scope))
                .then(|| judge::judge_terminal(&child, scope.always_judge_reads));
            out.push(Child {
                digest: child.digest(),
                state: child,
                sleep,
                broken,
                terminal,
            });
        }
        explored.push((a, foot));
    }
    out
}

/// Rough bytes a state holds: its nodes, what waits, its history.
fn approx_bytes(s: &State) -> u64 {
    let nodes: usize = s
        .nodes()
        .iter()
        .map(|n| {
            2048 + n
                .store()
                .values()
                .map(|v| 64 + 160 * v.len())
                .sum::<usize>()
        })
        .sum();
    (8192 + nodes + 256 * s.cluster.held().len() + 320 * s.cluster.history().len()) as u64
}

/// The visited set, with each state's sleep set (as actions) when reducing.
struct Visited {
    map: DigestMap,
    sleeps: Vec<Vec<Action>>,
}

enum Seen {
    /// A new state: expand it.
    New,
    /// Seen with a sleep set no larger: nothing new to do.
    Covered,
    /// Seen with actions asleep that are awake now: take only those.
    Again(Vec<Action>),
}

impl Visited {
    fn new() -> Visited {
        Visited {
            map: DigestMap::new(),
            sleeps: vec![Vec::new()],
        }
    }

    fn visit(&mut self, d: Digest, sleep: &[(Action, Footprint)]) -> Seen {
        let now: Vec<Action> = sleep.iter().map(|(a, _)| *a).collect();
        match self.map.get(d) {
            None => {
                let id = self.intern(now);
                self.map.insert(d, id);
                Seen::New
            }
            Some(id) => {
                let stored = &self.sleeps[id as usize];
                let awake: Vec<Action> = stored
                    .iter()
                    .filter(|a| !now.contains(a))
                    .copied()
                    .collect();
                if awake.is_empty() {
                    return Seen::Covered;
                }
                let both: Vec<Action> =
                    stored.iter().filter(|a| now.contains(a)).copied().collect();
                let id = self.intern(both);
                self.map.insert(d, id);
                Seen::Again(awake)
            }
        }
    }

    fn intern(&mut self, sleep: Vec<Action>) -> u32 {
        if sleep.is_empty() {
            return 0;
        }
        self.sleeps.push(sleep);
        (self.sleeps.len() - 1) as u32
    }

    fn bytes(&self) -> u64 {
        self.map.bytes()
            + self
                .sleeps
                .iter()
                .map(|s| 24 + 40 * s.len() as u64)
                .sum::<u64>()
    }
}

/// Runs the scope's search. `threads` parallelizes breadth-first levels and
/// random walks (the result is the same on any number); `keep_terminals`
/// collects every terminal state's digest.
pub fn explore(scope: &Scope, threads: usize, keep_terminals: bool, watch: &dyn Watch) -> Report {
    match scope.search {
        Search::Random {
            walks,
            change_points,
            seed,
        } => crate::random::walk(scope, walks, change_points, seed, threads, watch),
        Search::Bfs | Search::Dfs if scope.reduction == Reduction::Dpor => {
            crate::dpor::explore(scope, keep_terminals, watch)
        }
        Search::Bfs | Search::Dfs => exhaustive(scope, threads, keep_terminals, watch),
    }
}

fn exhaustive(scope: &Scope, threads: usize, keep_terminals: bool, watch: &dyn Watch) -> Report {
    let mut report = Report::new();
    let mut terminals: Vec<Digest> = Vec::new();
    let mut visited = Visited::new();
    let root = State::initial(scope, false);
    visited.visit(root.digest(), &[]);
    report.progress.unique = 1;
    let root = Entry {
        bytes: approx_bytes(&root),
        state: root,
        sleep: Vec::new(),
        only: None,
    };
    if root.state.is_terminal(scope) {
        let j = judge::judge_terminal(&root.state, scope.always_judge_reads);
        report.judged(&j, &root.state);
        report.progress.terminal = 1;
        terminals.push(root.state.digest());
    }
    let mut pending: Vec<Entry> = vec![root];
    let pending_bytes = |p: &[Entry]| p.iter().map(|e| e.bytes).sum::<u64>();
    let bfs = scope.search == Search::Bfs;
    let mut frontier_bytes: u64 = pending_bytes(&pending);
    let mut since_progress = 0u64;
    while !pending.is_empty() {
        if watch.stop() {
            report.stopped = Some("interrupted".into());
            break;
        }
        // Breadth first takes the whole level; depth first the last entry.
        let batch: Vec<Entry> = if bfs {
            std::mem::take(&mut pending)
        } else {
            vec![pending.pop().expect("not empty")]
        };
        frontier_bytes -= batch.iter().map(|e| e.bytes).sum::<u64>();
        let depth = batch[0].state.depth;
        if depth >= scope.bounds.max_depth {
            if batch.iter().any(|e| !e.state.enabled(scope).is_empty()) {
                report.stopped = Some(format!(
                    "max_depth = {} reached with actions left: raise max_depth or lower the budgets",
                    scope.bounds.max_depth
                ));
                if bfs {
                    break;
                }
            }
            continue;
        }
        let expanded: Vec<Vec<Child>> = if bfs && threads > 1 && batch.len() > 1 {
            par_map_owned(batch, threads, |e| expand(scope, e))
        } else {
            batch.iter().map(|e| expand(scope, e)).collect()
        };
        let mut next: Vec<Entry> = Vec::new();
        for children in expanded {
            // Depth first pushes children last-first, so the first is taken next.
            let mut kept = Vec::new();
            for c in children {
                report.progress.generated += 1;
                report.progress.depth = report.progress.depth.max(c.state.depth);
                if !c.broken.is_empty() {
                    for (p, m) in c.broken {
                        report.found(p, m, steps_of(&c.state.path), None);
                    }
                    visited.visit(c.digest, &c.sleep);
                    continue;
                }
                let only = match visited.visit(c.digest, &c.sleep) {
                    Seen::Covered => continue,
                    Seen::New => {
                        report.progress.unique += 1;
                        if let Some(j) = &c.terminal {
                            report.progress.terminal += 1;
                            report.judged(j, &c.state);
                            if keep_terminals {
                                terminals.push(c.digest);
                            }
                            continue;
                        }
                        None
                    }
                    Seen::Again(awake) => {
                        if c.terminal.is_some() {
                            continue;
                        }
                        Some(awake)
                    }
                };
                let bytes = approx_bytes(&c.state);
                frontier_bytes += bytes;
                kept.push(Entry {
                    bytes,
                    state: c.state,
                    sleep: c.sleep,
                    only,
                });
            }
            if bfs {
                next.extend(kept);
            } else {
                kept.reverse();
                pending.extend(kept);
            }
        }
        if bfs {
            pending = next;
        }
        report.progress.memory = visited.bytes() + frontier_bytes;
        since_progress += 1;
        if bfs || since_progress >= 2_000 {
            since_progress = 0;
            watch.progress(&report.progress);
        }
        if report.progress.unique > scope.bounds.max_states {
            report.stopped = Some(format!(
                "max_states = {} reached: raise max_states, or lower max_depth or the budgets",
                scope.bounds.max_states
            ));
            break;
        }
        if report.progress.memory > scope.bounds.max_memory {
            report.stopped = Some(format!(
                "max_memory = {} reached ({} held): lower max_depth or the budgets, or raise max_memory",
                bytes(scope.bounds.max_memory),
                bytes(report.progress.memory)
            ));
            break;
        }
    }
    report.complete = report.stopped.is_none();
    if keep_terminals {
        terminals.sort_unstable();
        report.terminal_digests = Some(terminals);
    }
    watch.progress(&report.progress);
    report
}

/// Maps `f` over `items` on `threads` threads, in order.
pub(crate) fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let chunk = items.len().div_ceil(threads.max(1));
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk.max(1))
            .map(|part| s.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Maps `f` over `items`, which move to `threads` threads, in order.
fn par_map_owned<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let mut parts: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        parts.push(items.by_ref().take(chunk).collect());
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// A fresh stream for walk `w` of a random search.
pub(crate) fn walk_rng(seed: u64, w: u64) -> SimRng {
    SimRng::new(
        seed.wrapping_add(w.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        Stream::Custom(22),
    )
}
