//! `dynsim shrink`: turns a failing seeded sweep run into an explicit
//! scenario (its realized faults and operations as timeline steps, no
//! randomness left) and reduces it while the same checker still fails.
//!
//! The seed given with `--seed` is used throughout: to draw the swarm run,
//! to judge which checker fails, and as the `seed` of every candidate and of
//! the file written (the base file's own `seed =` plays no part).

use crate::args::{EXIT_BAD_INPUT, EXIT_OK, ShrinkArgs};
use crate::explore::swarm;
use crate::output::{self, write_output};
use crate::runner::{self, Report};
use crate::scenario::{Action, Check, Expect, OpStep, Scenario, Step};
use dynamo_model::checkers::Status;
use dynamo_model::cluster::Entry;
use sim_core::{Fault, NodeId};
use std::path::{Path, PathBuf};

/// What a shrink found.
pub struct Shrunk {
    /// The checker whose failure was kept while shrinking.
    pub checker: String,
    pub original_steps: usize,
    pub explicit: Scenario,
    /// The smallest scenario found. It declares every checker failure its
    /// own run shows (the target's first), so running it is as expected.
    pub smallest: Scenario,
    pub runs: usize,
    /// False when the explicit form of the run did not fail the checker
    /// (events at equal times can order differently); then nothing was cut.
    pub reproduced: bool,
}

/// Why a seed has nothing to shrink.
#[derive(Debug)]
pub struct NothingToShrink {
    /// Expectations of the swarm run that did not hold (a checker declared
    /// to fail that passed): the sweep counts those as failures, but there
    /// is no failure to keep while cutting.
    pub unmet: Vec<String>,
}

fn declared_failures(s: &Scenario) -> impl Iterator<Item = &str> {
    s.expects.iter().filter_map(|e| match &e.check {
        Check::Checker { name, verdict } if verdict == "fail" => Some(name.as_str()),
        _ => None,
    })
}

/// The checkers that fail in `report` (a run of `s`) without `s` declaring it.
fn undeclared(s: &Scenario, report: &Report) -> Vec<String> {
    report
        .verdicts
        .iter()
        .filter(|v| v.status == Status::Fail && !declared_failures(s).any(|d| d == v.checker))
        .map(|v| v.checker.to_string())
        .collect()
}

/// The checkers that fail in a run of `s` with `seed` without being declared.
fn failing(s: &Scenario, seed: u64) -> Vec<String> {
    undeclared(s, &runner::run(s, seed, false))
}

/// The seed's swarm run as an explicit scenario: drawn faults plus every
/// client operation the load generator issued, at the time it issued it.
pub fn explicit(s: &Scenario, seed: u64) -> Scenario {
    explicit_run(s, seed).0
}

/// [`explicit`], with the checkers that failed in the swarm run without the
/// base declaring it, and the run's expectations that did not hold.
fn explicit_run(s: &Scenario, seed: u64) -> (Scenario, Vec<String>, Vec<String>) {
    let plan = swarm::draw(s, seed);
    let variant = swarm::apply(s, &plan);
    let report = runner::run(&variant, seed, false);
    let fails = undeclared(&variant, &report);
    let unmet: Vec<String> = report
        .expectations
        .iter()
        .filter(|e| !e.ok)
        .map(|e| e.what.clone())
        .collect();
    let h = report.cluster.history();
    // Name every get that a later put took its context from.
    let sources: std::collections::BTreeSet<usize> =
        h.iter().filter_map(|o| o.context_from).collect();
    let mut ops: Vec<(sim_core::SimTime, usize)> = h
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.start.map(|t| (t, i)))
        .collect();
    ops.sort();
    let mut steps: Vec<Step> = variant.steps.clone();
    let mut op_steps = Vec::new();
    for (t, i) in ops {
        let o = &h[i];
        op_steps.push((
            i,
            Step {
                at: t,
                line: 0,
                action: Action::Op(OpStep {
                    kind: o.kind,
                    entry: Entry::Node(o.node.expect("issued")),
                    key: o.key.name().to_string(),
                    value: o.value.as_deref().map(str::to_string),
                    name: sources
                        .contains(&i)
                        .then(|| format!("{}{}", o.kind.name(), o.id)),
                    context_from: None,
                    client: o.client,
                }),
            },
        ));
    }
    // Merge by time (faults first at equal times, as the swarm scheduled them first), then resolve contexts.
    let mut merged: Vec<(Option<usize>, Step)> = steps.drain(..).map(|s| (None, s)).collect();
    merged.extend(op_steps.into_iter().map(|(i, s)| (Some(i), s)));
    merged.sort_by_key(|(hist, s)| (s.at, hist.is_some()));
    let index_of_hist: std::collections::BTreeMap<usize, usize> = merged
        .iter()
        .enumerate()
        .filter_map(|(pos, (hist, _))| hist.map(|h| (h, pos)))
        .collect();
    let mut steps: Vec<Step> = Vec::new();
    for (hist, mut step) in merged {
        if let (Some(i), Action::Op(op)) = (hist, &mut step.action) {
            op.context_from = h[i]
                .context_from
                .and_then(|g| index_of_hist.get(&g).copied());
        }
        steps.push(step);
    }
    let mut expects: Vec<Expect> = variant.expects.clone();
    expects.extend(fails.iter().map(|c| declare_fail(c)));
    let scenario = Scenario {
        name: format!("{}-seed{seed}", s.name),
        description: format!(
            "The swarm run of {} at seed {seed}, made explicit by dynsim shrink.",
            s.path
        ),
        seed,
        steps,
        load: None,
        expects,
        ..variant
    };
    (scenario, fails, unmet)
}

fn declare_fail(checker: &str) -> Expect {
    Expect {
        at: None,
        line: 0,
        check: Check::Checker {
            name: checker.to_string(),
            verdict: "fail".into(),
        },
    }
}

/// Makes `s` declare exactly the checker failures its own run shows, the
/// target's first, so that running it is as expected while it still fails
/// that way.
fn declare_actual(s: &mut Scenario, target: &str) {
    let probe = Scenario {
        expects: Vec::new(),
        ..s.clone()
    };
    let mut fails = failing(&probe, s.seed);
    fails.sort_by_key(|c| c != target);
    s.expects = fails.iter().map(|c| declare_fail(c)).collect();
}

/// Removes steps (and fixes up contexts that pointed at removed gets).
fn without(s: &Scenario, remove: &[bool]) -> Scenario {
    let mut new_index = vec![None; s.steps.len()];
    let mut steps = Vec::new();
    for (i, st) in s.steps.iter().enumerate() {
        if !remove[i] {
            new_index[i] = Some(steps.len());
            steps.push(st.clone());
        }
    }
    for st in &mut steps {
        if let Action::Op(op) = &mut st.action {
            op.context_from = op.context_from.and_then(|j| new_index[j]);
        }
    }
    Scenario { steps, ..s.clone() }
}

/// Shrinks seed `seed`'s failing swarm run of `s`. The target is the first
/// checker that fails there without `s` declaring it (what a sweep reports);
/// a seed with no such checker has nothing to shrink.
pub fn shrink(
    s: &Scenario,
    seed: u64,
    mut progress: impl FnMut(usize, usize),
) -> Result<Shrunk, NothingToShrink> {
    let (base, fails, unmet) = explicit_run(s, seed);
    let Some(target) = fails.first().cloned() else {
        return Err(NothingToShrink { unmet });
    };
    // The predicate: the target checker still fails. Declared failures are
    // dropped while testing, so "fails" means the checker's own verdict.
    let runs = std::cell::Cell::new(0usize);
    let still_fails = |cand: &Scenario| {
        runs.set(runs.get() + 1);
        let probe = Scenario {
            expects: Vec::new(),
            ..cand.clone()
        };
        failing(&probe, seed).contains(&target)
    };
    let original_steps = base.steps.len();
    let mut cur = base.clone();
    if !still_fails(&cur) {
        // The explicit form did not reproduce (event ties can order differently); report it unshrunk.
        declare_actual(&mut cur, &target);
        return Ok(Shrunk {
            checker: target,
            original_steps,
            explicit: base,
            smallest: cur,
            runs: runs.get(),
            reproduced: false,
        });
    }
    // Delta debugging over the steps before the final heal. The heal itself
    // (everything healed, restarted, resumed and reset at the end of the
    // faulty phase) always stays: a failure that needs an unhealed fault is
    // not the failure the sweep found.
    let heal_at = swarm::draw(s, seed).heal_at;
    let protected = |st: &Step| st.at >= heal_at && !matches!(st.action, Action::Op(_));
    let mut chunks = 2usize;
    loop {
        let body: Vec<usize> = (0..cur.steps.len())
            .filter(|&i| !protected(&cur.steps[i]))
            .collect();
        let len = body.len();
        if len < 1 {
            break;
        }
        let size = len.div_ceil(chunks);
        // Try dropping each chunk in turn; keep the first drop that still fails.
        let reduced = (0..chunks).find_map(|c| {
            let (lo, hi) = (c * size, ((c + 1) * size).min(len));
            if lo >= hi {
                return None;
            }
            let mut remove = vec![false; cur.steps.len()];
            for &i in &body[lo..hi] {
                remove[i] = true;
            }
            let cand = without(&cur, &remove);
            still_fails(&cand).then_some(cand)
        });
        let reduced = match reduced {
            Some(cand) => {
                cur = cand;
                chunks = (chunks - 1).max(2);
                true
            }
            None => false,
        };
        progress(cur.steps.len(), runs.get());
        if !reduced {
            if chunks >= len {
                break;
            }
            chunks = (chunks * 2).min(len);
        }
    }
    // Shorten partitions: start each as late as still fails (before its heal,
    // and not past the next step, so step order and contexts stay as they are).
    for i in 0..cur.steps.len() {
        if !matches!(
            cur.steps[i].action,
            Action::Fault(Fault::Partition { .. } | Fault::OneWay { .. })
        ) {
            continue;
        }
        let Some(heal) = cur.steps[i + 1..]
            .iter()
            .find(|st| matches!(st.action, Action::Fault(Fault::Heal)))
            .map(|st| st.at)
        else {
            continue;
        };
        let next = cur.steps.get(i + 1).map_or(heal, |st| st.at);
        let (mut lo, mut hi) = (cur.steps[i].at.as_us(), heal.min(next).as_us());
        while hi > lo + 1_000 {
            let mid = (lo + hi) / 2;
            let mut cand = cur.clone();
            cand.steps[i].at = sim_core::SimTime(mid);
            if still_fails(&cand) {
                cur = cand;
                lo = mid;
            } else {
                hi = mid;
            }
        }
    }
    // Remove the last node while no step names it and the ring still has room for N replicas.
    loop {
        let last = NodeId(cur.cluster.nodes - 1);
        let names_last = cur.steps.iter().any(|st| step_names(st, last));
        if cur.cluster.nodes <= cur.cluster.n || names_last {
            break;
        }
        let mut cand = cur.clone();
        cand.cluster.nodes -= 1;
        if let dynamo_model::TokenStrategy::Explicit { .. } = cand.cluster.tokens {
            break;
        }
        if !cand.cluster.validate().is_empty() || !still_fails(&cand) {
            break;
        }
        cur = cand;
    }
    // Declare what the smallest run fails: the target, and any other checker
    // that fails there too (the base's own declared failures included).
    declare_actual(&mut cur, &target);
    Ok(Shrunk {
        checker: target,
        original_steps,
        explicit: base,
        smallest: cur,
        runs: runs.get(),
        reproduced: true,
    })
}

fn step_names(st: &Step, n: NodeId) -> bool {
    match &st.action {
        Action::Op(op) => op.entry == Entry::Node(n),
        Action::Fault(f) => match f {
            Fault::Crash { node, .. }
            | Fault::Restart { node }
            | Fault::Pause { node }
            | Fault::Resume { node }
            | Fault::ClockSkew { node, .. }
            | Fault::Slow { node, .. } => *node == n,
            Fault::Partition { groups } => groups.iter().flatten().any(|x| *x == n),
            Fault::OneWay { from, to } => from.contains(&n) || to.contains(&n),
            Fault::Heal | Fault::Loss { .. } | Fault::Duplicate { .. } => false,
        },
        Action::HealAll => false,
    }
}

/// Where `dynsim shrink FILE --seed S` writes by default: the input's file
/// stem, the seed and `-shrunk.toml`, in the current directory (not beside
/// the input, which may be a bundled or read-only folder).
pub fn default_out(file: &Path, seed: u64) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy());
    PathBuf::from(format!("{stem}-seed{seed}-shrunk.toml"))
}

/// `dynsim shrink`.
pub fn cmd(args: &ShrinkArgs) -> u8 {
    let s = match crate::cli::load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.file, args.seed));
    // Find out that the output cannot be written before spending the runs.
    if let Err(e) = output::check(&path) {
        eprintln!("error: cannot write to {}: {e}", path.display());
        return EXIT_BAD_INPUT;
    }
    let to_stdout = output::target(&path) == output::Target::Stdout;
    let bar = indicatif::ProgressBar::new_spinner();
    let found = shrink(&s, args.seed, |steps, runs| {
        bar.set_message(format!("{steps} steps left after {runs} runs"));
        bar.tick();
    });
    bar.finish_and_clear();
    let found = match found {
        Ok(found) => found,
        Err(nothing) => {
            eprintln!(
                "error: seed {} of {} fails no checker; there is nothing to shrink",
                args.seed,
                args.file.display()
            );
            if !nothing.unmet.is_empty() {
                eprintln!(
                    "    (a sweep counts it as failed because an expectation did not hold: {}; the failure the file declares did not happen, and there is no failure to cut down)",
                    nothing.unmet.join("; ")
                );
            }
            return EXIT_BAD_INPUT;
        }
    };
    let shown = if to_stdout {
        "the-shrunk-file.toml".to_string()
    } else {
        path.display().to_string()
    };
    let declared: Vec<&str> = declared_failures(&found.smallest).collect();
    let declares = declared
        .iter()
        .map(|c| format!("[[expect]] checker = \"{c}\", verdict = \"fail\""))
        .collect::<Vec<_>>()
        .join("; ");
    let text = format!(
        "# Shrunk by `dynsim shrink {} --seed {}`: {} of {} steps left; it still fails {}.\n\
         # It declares the failure it reproduces ({declares}), so `dynsim run` on it\n\
         # exits 0 as long as it still fails that way (exit 1 means it no longer does).\n\
         # Run it: dynsim run {shown} --trace -\n{}",
        args.file.display(),
        args.seed,
        found.smallest.steps.len(),
        found.original_steps,
        found.checker,
        crate::scenario::write::to_toml(&found.smallest)
    );
    if let Err(e) = write_output(&path, |w| w.write_all(text.as_bytes())) {
        if output::is_broken_pipe(&e) {
            return EXIT_OK;
        }
        eprintln!("error: cannot write {}: {e}", path.display());
        return EXIT_BAD_INPUT;
    }
    let mut msg = String::new();
    if !found.reproduced {
        msg.push_str(&format!(
            "warning: the explicit form of seed {} does not fail {} (events at equal times can order differently); it is written unshrunk\n",
            args.seed, found.checker
        ));
    }
    msg.push_str(&format!(
        "seed {} fails {}: explicit run of {} steps shrunk to {} steps in {} runs ({} nodes)\n\
         wrote {}\n\
         It declares the failure it reproduces ({declares}),\n\
         so running it exits 0 as long as it still fails that way (exit 1 means it no longer does):\n    \
         dynsim run {shown} --trace -\n",
        args.seed,
        found.checker,
        found.original_steps,
        found.smallest.steps.len(),
        found.runs,
        found.smallest.cluster.nodes,
        if to_stdout { "the shrunk scenario to standard output".to_string() } else { shown.clone() },
    ));
    if to_stdout {
        eprint!("{msg}");
    } else {
        output::print(&msg);
    }
    EXIT_OK
}
