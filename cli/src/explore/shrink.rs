//! `dynsim shrink`: turns a failing seeded sweep run into an explicit
//! scenario (its realized faults and operations as timeline steps, no
//! randomness left) and reduces it while the same checker still fails.

use crate::args::{EXIT_BAD_INPUT, EXIT_OK, ShrinkArgs};
use crate::explore::swarm;
use crate::output::write_output;
use crate::runner;
use crate::scenario::{Action, Check, Expect, OpStep, Scenario, Step};
use dynamo_model::checkers::Status;
use dynamo_model::cluster::Entry;
use sim_core::{Fault, NodeId};
use std::path::PathBuf;

/// What a shrink found.
pub struct Shrunk {
    pub checker: String,
    pub original_steps: usize,
    pub explicit: Scenario,
    pub smallest: Scenario,
    pub runs: usize,
}

/// The checkers that fail in a run of `s` without being declared.
fn failing(s: &Scenario) -> Vec<String> {
    let report = runner::run(s, s.seed, false);
    let declared = |name: &str| {
        s.expects.iter().any(|e| matches!(&e.check, Check::Checker { name: n, verdict } if n == name && verdict == "fail"))
    };
    report
        .verdicts
        .iter()
        .filter(|v| v.status == Status::Fail && !declared(v.checker))
        .map(|v| v.checker.to_string())
        .collect()
}

/// The seed's swarm run as an explicit scenario: drawn faults plus every
/// client operation the load generator issued, at the time it issued it.
pub fn explicit(s: &Scenario, seed: u64) -> Scenario {
    let plan = swarm::draw(s, seed);
    let variant = swarm::apply(s, &plan);
    let report = runner::run(&variant, seed, false);
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
    for c in failing(&variant) {
        expects.push(Expect {
            at: None,
            line: 0,
            check: Check::Checker {
                name: c,
                verdict: "fail".into(),
            },
        });
    }
    Scenario {
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
    }
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

/// Shrinks the seed's failing run; `None` when the seed does not fail.
pub fn shrink(s: &Scenario, seed: u64, mut progress: impl FnMut(usize, usize)) -> Option<Shrunk> {
    let base = explicit(s, seed);
    let target = base.expects.iter().find_map(|e| match &e.check {
        Check::Checker { name, verdict } if verdict == "fail" => Some(name.clone()),
        _ => None,
    })?;
    // The predicate: the target checker still fails. The declared failure is
    // dropped while testing, so "fails" means the checker's own verdict.
    let runs = std::cell::Cell::new(0usize);
    let still_fails = |cand: &Scenario| {
        runs.set(runs.get() + 1);
        let probe = Scenario {
            expects: Vec::new(),
            ..cand.clone()
        };
        failing(&probe).contains(&target)
    };
    let original_steps = base.steps.len();
    let mut cur = base.clone();
    if !still_fails(&cur) {
        // The explicit form did not reproduce (event ties can order differently); report it unshrunk.
        return Some(Shrunk {
            checker: target,
            original_steps,
            explicit: base.clone(),
            smallest: base,
            runs: runs.get(),
        });
    }
    // Delta debugging over the steps before the final heal. The heal itself
    // (everything healed, restarted, resumed and reset at the end of the
    // faulty phase) always stays: a failure that needs an unhealed fault is
    // not the failure the sweep found.
    let heal_at = swarm::draw(s, seed).heal_at;
    let protected = |st: &Step| st.at >= heal_at && matches!(st.action, Action::Fault(_));
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
    // Keep only the target checker's declared failure.
    cur.expects
        .retain(|e| !matches!(&e.check, Check::Checker { name, .. } if *name != target));
    Some(Shrunk {
        checker: target,
        original_steps,
        explicit: base,
        smallest: cur,
        runs: runs.get(),
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
    }
}

/// `dynsim shrink`.
pub fn cmd(args: &ShrinkArgs) -> u8 {
    let s = match crate::cli::load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let bar = indicatif::ProgressBar::new_spinner();
    let found = shrink(&s, args.seed, |steps, runs| {
        bar.set_message(format!("{steps} steps left after {runs} runs"));
        bar.tick();
    });
    bar.finish_and_clear();
    let Some(found) = found else {
        eprintln!(
            "error: seed {} of {} fails no checker; there is nothing to shrink",
            args.seed,
            args.file.display()
        );
        return EXIT_BAD_INPUT;
    };
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-seed{}-shrunk.toml", s.name, args.seed)));
    let text = format!(
        "# Shrunk by `dynsim shrink {} --seed {}`: {} of {} steps left; it still fails {}.\n# Replay: dynsim run {} --trace -\n{}",
        args.file.display(),
        args.seed,
        found.smallest.steps.len(),
        found.original_steps,
        found.checker,
        path.display(),
        crate::scenario::write::to_toml(&found.smallest)
    );
    if let Err(e) = write_output(&path, |w| w.write_all(text.as_bytes())) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return EXIT_BAD_INPUT;
    }
    crate::output::print(&format!(
        "seed {} fails {}: explicit run of {} steps shrunk to {} steps in {} runs ({} nodes)\nwrote {}\n",
        args.seed,
        found.checker,
        found.original_steps,
        found.smallest.steps.len(),
        found.runs,
        found.smallest.cluster.nodes,
        path.display()
    ));
    EXIT_OK
}
