//! `dynsim shrink`: turns a failing seeded sweep run into an explicit
//! scenario (its realized faults and operations as timeline steps, no
//! randomness left) and reduces it while the same checker still fails.
//!
//! The seed given with `--seed` is used throughout: to draw the swarm run,
//! to judge which checker fails, and as the `seed` of every candidate and of
//! the file written (the base file's own `seed =` plays no part).

use crate::explore::swarm;
use crate::runner::{self, Report};
use crate::scenario::{Action, Check, Expect, OpStep, Scenario, Step};
use dynamo_model::ClusterConfig;
use dynamo_observer::Entry;
use dynamo_observer::Status;
use sim_core::{Fault, NetConfig, NodeId, SimDuration, SimTime};

/// What a shrink found.
pub struct Shrunk {
    /// The checker whose failure was kept while shrinking.
    pub checker: String,
    /// How many steps the explicit scenario had before any cut.
    pub original_steps: usize,
    /// The seed's swarm run as an explicit scenario, before any cut.
    pub explicit: Scenario,
    /// The smallest scenario found. It declares every checker failure its
    /// own run shows (the target's first), so running it is as expected.
    pub smallest: Scenario,
    /// How many candidate scenarios were run while shrinking.
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

/// The checkers `s` declares to fail (`verdict = "fail"`), in file order.
pub fn declared_failures(s: &Scenario) -> impl Iterator<Item = &str> {
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

/// The checkers that fail in a run of `s` with `seed` without being declared
/// (none when the cluster cannot run it: a cut can leave a plan it refuses).
fn failing(s: &Scenario, seed: u64) -> Vec<String> {
    runner::run(s, seed, false).map_or_else(|_| Vec::new(), |r| undeclared(s, &r))
}

/// The seed's swarm run as an explicit scenario: drawn faults plus every
/// client operation the load generator issued, at the time it issued it.
pub fn explicit(s: &Scenario, seed: u64) -> Scenario {
    explicit_run(s, seed).0
}

/// [`explicit`], with the checkers that failed in the swarm run without the
/// base declaring it, and the run's expectations that did not hold.
fn explicit_run(s: &Scenario, seed: u64) -> (Scenario, Vec<String>, Vec<String>) {
    if s.hold {
        // An explicit schedule (a `dynsim check` counterexample) is its own
        // run; the checker it declares failing comes first.
        let base = Scenario { seed, ..s.clone() };
        let probe = Scenario {
            expects: Vec::new(),
            ..base.clone()
        };
        let mut fails: Vec<String> = runner::run(&probe, seed, false).map_or_else(
            |_| Vec::new(),
            |r| {
                r.verdicts
                    .iter()
                    .filter(|v| v.status == Status::Fail)
                    .map(|v| v.checker.to_string())
                    .collect()
            },
        );
        fails.sort_by_key(|f| !declared_failures(&base).any(|d| d == f));
        return (base, fails, Vec::new());
    }
    let plan = swarm::draw(s, seed);
    let variant = swarm::apply(s, &plan);
    let Ok(report) = runner::run(&variant, seed, false) else {
        // The drawn run cannot be built: a sweep reports that itself; nothing fails here to keep.
        return (variant, Vec::new(), Vec::new());
    };
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
                    key: o.key.clone(),
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
    // The predicate: the target checker still fails, and no checker fails
    // that did not fail in the seed's own run (a cut that makes another
    // checker fail has changed what the run shows). Declared failures are
    // dropped while testing, so "fails" means the checker's own verdict.
    let allowed: Vec<String> = declared_failures(&base).map(str::to_string).collect();
    let runs = std::cell::Cell::new(0usize);
    let still_fails = |cand: &Scenario| {
        runs.set(runs.get() + 1);
        let probe = Scenario {
            expects: Vec::new(),
            ..cand.clone()
        };
        // A candidate runs with its own seed: the explicit scenario starts
        // with `seed`, and only `reseed_cut` gives a candidate another.
        let now = failing(&probe, cand.seed);
        now.contains(&target) && now.iter().all(|c| allowed.contains(c))
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
    // A checker of the final state keeps the sweep's whole quiet phase; one
    // that judges each operation, message or ring as it comes cannot fail
    // for want of time, so the run may end early.
    let final_state = dynamo_observer::checker(&target).is_none_or(|c| c.final_state);
    let quiet = final_state.then_some(seed);
    // Cutting steps, nodes and settings each can let another go: repeat
    // until a round changes nothing (a few rounds at most).
    for round in 0..4 {
        let before = cur.clone();
        cur = cut_steps(cur, &still_fails, &mut || runs.get(), &mut progress);
        cur = drop_nodes(cur, quiet, &still_fails);
        cur = reset_config(cur, quiet, &still_fails);
        if round > 0 && cur.steps.len() > RESEED_ABOVE_STEPS {
            cur = reseed_cut(cur, &still_fails);
        }
        if cur == before {
            break;
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
            .find(|st| matches!(st.action, Action::Fault(Fault::Heal) | Action::HealAll))
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
    cur = shorten_time(cur, quiet, &still_fails);
    // A name no context refers to any more only adds words to the file.
    let sources: std::collections::BTreeSet<usize> = cur
        .steps
        .iter()
        .filter_map(|st| match &st.action {
            Action::Op(op) => op.context_from,
            _ => None,
        })
        .collect();
    for (i, st) in cur.steps.iter_mut().enumerate() {
        if let Action::Op(op) = &mut st.action {
            if !sources.contains(&i) {
                op.name = None;
            }
        }
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

/// Shrinks seed `seed`'s swarm run of `s` when it crashes (`kind`: a
/// stack overflow, a panic, an exhausted memory or event budget), judging
/// each candidate by `crashes` (which runs it where a crash cannot take this
/// process down, and says how it crashed, if it did). A crashed run leaves
/// no history to make its operations explicit, so this cuts the drawn
/// timeline's steps, the load (fewer operations, fewer clients), the
/// settings and the duration, keeping what still crashes the same way.
pub fn shrink_crash(
    s: &Scenario,
    seed: u64,
    kind: &str,
    crashes: &dyn Fn(&Scenario) -> Option<String>,
    mut progress: impl FnMut(usize, usize),
) -> Shrunk {
    let plan = swarm::draw(s, seed);
    let base = Scenario {
        name: format!("{}-seed{seed}", s.name),
        description: format!(
            "The swarm run of {} at seed {seed}, cut down by dynsim shrink while it still fails with {kind}.",
            s.path
        ),
        expects: Vec::new(),
        seed,
        ..swarm::apply(s, &plan)
    };
    let runs = std::cell::Cell::new(0usize);
    let still = |cand: &Scenario| {
        runs.set(runs.get() + 1);
        crashes(cand).as_deref() == Some(kind)
    };
    let original_steps = base.steps.len();
    let mut cur = base.clone();
    if !still(&cur) {
        return Shrunk {
            checker: kind.to_string(),
            original_steps,
            explicit: base,
            smallest: cur,
            runs: runs.get(),
            reproduced: false,
        };
    }
    for _ in 0..3 {
        let before = cur.clone();
        cur = cut_steps(cur, &still, &mut || runs.get(), &mut progress);
        cur = shrink_load(cur, &still);
        cur = reset_config(cur, None, &still);
        if cur == before {
            break;
        }
    }
    // The run ends as soon after its last step as still crashes.
    let last = cur.steps.iter().map(|st| st.at.as_us()).max().unwrap_or(0);
    let (mut lo, mut hi) = (last, cur.duration.as_us());
    while hi > lo + 100_000 {
        let mid = (lo + hi) / 2;
        let cand = Scenario {
            duration: SimDuration(round_down(mid, 100_000).max(lo)),
            ..cur.clone()
        };
        if still(&cand) {
            hi = cand.duration.as_us();
            cur = cand;
        } else {
            lo = mid;
        }
    }
    Shrunk {
        checker: kind.to_string(),
        original_steps,
        explicit: base,
        smallest: cur,
        runs: runs.get(),
        reproduced: true,
    }
}

/// Fewer generated operations, then fewer clients, while `still` holds.
fn shrink_load(mut cur: Scenario, still: &dyn Fn(&Scenario) -> bool) -> Scenario {
    let Some(load) = cur.load.clone() else {
        return cur;
    };
    if let Some(ops) = load.max_ops {
        let (mut lo, mut hi) = (0u64, ops);
        while hi > lo + 1 {
            let mid = (lo + hi) / 2;
            let mut cand = cur.clone();
            if let Some(l) = cand.load.as_mut() {
                l.max_ops = Some(mid.max(1));
            }
            if still(&cand) {
                hi = mid.max(1);
                cur = cand;
            } else {
                lo = mid;
            }
        }
    }
    while cur.load.as_ref().is_some_and(|l| l.clients > 1) {
        let mut cand = cur.clone();
        if let Some(l) = cand.load.as_mut() {
            l.clients -= 1;
        }
        if !still(&cand) {
            break;
        }
        cur = cand;
    }
    cur
}

/// Delta debugging over every step but the final heal-all, which always
/// stays: a failure that needs an unhealed fault is not the failure the
/// sweep found.
/// Past this many steps, a shrunk file is still more than a screen, and
/// [`reseed_cut`] is worth its runs.
const RESEED_ABOVE_STEPS: usize = 8;
/// How many other seeds [`reseed_cut`] tries for each step.
const RESEED_TRIES: u64 = 32;

/// Removes steps that only mattered through the random draws they shifted.
/// Loss, duplication and latency come from the run's network stream, so
/// removing any operation moves every later draw, and a failure that hangs
/// on one lost message goes away with it, although the operation itself had
/// nothing to do with the bug. Here a step may go if the run without it
/// still fails with one of a few other seeds. The explicit scenario carries
/// every fault and operation, so its seed only picks latencies, losses and
/// each node's choices, and the file records the seed it was found with.
fn reseed_cut(mut cur: Scenario, still_fails: &dyn Fn(&Scenario) -> bool) -> Scenario {
    let mut i = 0;
    while i < cur.steps.len() {
        if matches!(cur.steps[i].action, Action::HealAll) {
            i += 1;
            continue;
        }
        let mut remove = vec![false; cur.steps.len()];
        remove[i] = true;
        let without_i = without(&cur, &remove);
        let found = (1..=RESEED_TRIES).find_map(|k| {
            let cand = Scenario {
                // Spread the tries over the seed space; wrapping is fine.
                seed: cur.seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                ..without_i.clone()
            };
            still_fails(&cand).then_some(cand)
        });
        match found {
            Some(cand) => cur = cand,
            None => i += 1,
        }
    }
    cur
}

fn cut_steps(
    mut cur: Scenario,
    still_fails: &dyn Fn(&Scenario) -> bool,
    runs: &mut dyn FnMut() -> usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Scenario {
    let protected = |st: &Step| matches!(st.action, Action::HealAll);
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
        progress(cur.steps.len(), runs());
        if !reduced {
            if chunks >= len {
                break;
            }
            chunks = (chunks * 2).min(len);
        }
    }
    cur
}

/// Removes nodes, highest first, while the target still fails: each
/// candidate drops the node and every step that needs it (its faults, the
/// operations sent to it), takes it out of partitions and one-way cuts, and
/// renumbers the nodes above it, so the file stays dense (`n0..`). A ring of
/// random tokens is redrawn for the new node count anyway, so renumbering
/// costs nothing that keeping ids would save.
fn drop_nodes(
    mut cur: Scenario,
    quiet: Option<u64>,
    still_fails: &dyn Fn(&Scenario) -> bool,
) -> Scenario {
    // Expectations other than checker verdicts name nodes; shrink writes none.
    let only_checkers = cur
        .expects
        .iter()
        .all(|e| matches!(e.check, Check::Checker { .. }));
    if !only_checkers {
        return cur;
    }
    let mut k = cur.cluster.nodes;
    while k > 0 {
        k -= 1;
        if cur.cluster.nodes <= cur.cluster.n {
            break;
        }
        // The last proxy stays while requests are routed to proxies.
        let uses_proxy = cur
            .steps
            .iter()
            .any(|st| matches!(&st.action, Action::Op(op) if matches!(op.entry, Entry::Proxy)))
            || cur
                .load
                .as_ref()
                .is_some_and(|l| matches!(l.entry, Entry::Proxy));
        if uses_proxy && cur.cluster.proxies == 1 && cur.cluster.is_proxy(NodeId(k)) {
            continue;
        }
        let mut cand = without_node(&cur, NodeId(k));
        if cand.cluster.validate().is_empty() && {
            settle(&mut cand, quiet);
            still_fails(&cand)
        } {
            cur = cand;
        }
    }
    cur
}

/// The nodes a step of a network that delivers by steps names.
fn held_nodes(h: &mut dynamo_explorer::StepKind) -> Vec<&mut NodeId> {
    use dynamo_explorer::StepKind;
    match h {
        StepKind::Deliver { from, to, .. }
        | StepKind::DropMsg { from, to, .. }
        | StepKind::Duplicate { from, to, .. } => vec![from, to],
        StepKind::Request { node, .. }
        | StepKind::DropRequest { node, .. }
        | StepKind::Fire { node, .. } => vec![node],
        StepKind::Op { .. } | StepKind::Fault(_) | StepKind::Wait | StepKind::RunFreely => {
            Vec::new()
        }
    }
}

/// `s` with node `gone` removed and the nodes above it renumbered down by one.
fn without_node(s: &Scenario, gone: NodeId) -> Scenario {
    let renumber = |n: NodeId| NodeId(if n > gone { n.0 - 1 } else { n.0 });
    let keep = |list: &[NodeId]| -> Vec<NodeId> {
        list.iter()
            .filter(|&&n| n != gone)
            .map(|&n| renumber(n))
            .collect()
    };
    let mut remove = vec![false; s.steps.len()];
    let mut cand = s.clone();
    for (i, st) in cand.steps.iter_mut().enumerate() {
        match &mut st.action {
            Action::Op(op) => match op.entry {
                Entry::Node(n) if n == gone => remove[i] = true,
                Entry::Node(n) => op.entry = Entry::Node(renumber(n)),
                Entry::Random | Entry::Owner | Entry::Proxy => {}
            },
            Action::Fault(f) => match f {
                Fault::Crash { node, .. }
                | Fault::Restart { node }
                | Fault::Pause { node }
                | Fault::Resume { node }
                | Fault::ClockSkew { node, .. }
                | Fault::Slow { node, .. } => {
                    if *node == gone {
                        remove[i] = true;
                    } else {
                        *node = renumber(*node);
                    }
                }
                Fault::Partition { groups } => {
                    *groups = groups
                        .iter()
                        .map(|g| keep(g))
                        .filter(|g| !g.is_empty())
                        .collect();
                    remove[i] = groups.is_empty();
                }
                Fault::OneWay { from, to } => {
                    *from = keep(from);
                    *to = keep(to);
                    remove[i] = from.is_empty() || to.is_empty();
                }
                Fault::Heal | Fault::Loss { .. } | Fault::Duplicate { .. } => {}
            },
            Action::HealAll | Action::Trigger(_) => {}
            Action::Membership { node, .. } => {
                if *node == gone {
                    remove[i] = true;
                } else {
                    *node = renumber(*node);
                }
            }
            Action::Held(h) => {
                for node in held_nodes(h) {
                    if *node == gone {
                        remove[i] = true;
                    } else {
                        *node = renumber(*node);
                    }
                }
            }
        }
    }
    let ids = |list: &[u32]| -> Vec<u32> {
        list.iter()
            .filter(|&&n| n != gone.0)
            .map(|&n| renumber(NodeId(n)).0)
            .collect()
    };
    cand.cluster.outside = ids(&cand.cluster.outside);
    cand.cluster.seeds = ids(&cand.cluster.seeds);
    let mut cand = without(&cand, &remove);
    if cand.cluster.is_proxy(gone) {
        cand.cluster.proxies -= 1;
    }
    cand.cluster.nodes -= 1;
    if let dynamo_model::TokenStrategy::Explicit { tokens } = &mut cand.cluster.tokens {
        tokens.remove(gone.index());
    }
    cand.net.links.retain(|l| l.from != gone && l.to != gone);
    for l in &mut cand.net.links {
        l.from = renumber(l.from);
        l.to = renumber(l.to);
    }
    cand
}

/// Puts each cluster and network setting back to its default, one at a
/// time, where the target still fails: what is left set is what the failure
/// needs (an injected bug always stays).
fn reset_config(
    mut cur: Scenario,
    quiet: Option<u64>,
    still_fails: &dyn Fn(&Scenario) -> bool,
) -> Scenario {
    type Reset = fn(&mut Scenario, &ClusterConfig);
    let resets: &[Reset] = &[
        |s, d| s.cluster.tokens = d.tokens.clone(),
        |s, d| s.cluster.request_timeout = d.request_timeout,
        |s, d| s.cluster.op_deadline = d.op_deadline,
        |s, d| s.cluster.read_repair_window = d.read_repair_window,
        |s, d| s.cluster.hint_interval = d.hint_interval,
        |s, d| s.cluster.gossip_interval = d.gossip_interval,
        |s, d| s.cluster.anti_entropy_interval = d.anti_entropy_interval,
        |s, d| s.cluster.read_repair = d.read_repair,
        |s, d| s.cluster.hinted_handoff = d.hinted_handoff,
        |s, d| s.cluster.gossip = d.gossip,
        |s, d| s.cluster.anti_entropy = d.anti_entropy,
        |s, d| s.cluster.forward_to_owner = d.forward_to_owner,
        |s, d| s.cluster.merkle_depth = d.merkle_depth,
        |s, d| s.cluster.vclock_max_entries = d.vclock_max_entries,
        |s, _| s.net.latency = NetConfig::default().latency,
        |s, _| s.net.client_request = NetConfig::default().client_request,
        |s, _| s.net.client_reply = NetConfig::default().client_reply,
    ];
    let d = ClusterConfig::default();
    for reset in resets {
        let mut cand = cur.clone();
        reset(&mut cand, &d);
        if cand != cur && cand.cluster.validate().is_empty() && {
            settle(&mut cand, quiet);
            still_fails(&cand)
        } {
            cur = cand;
        }
    }
    cur
}

/// When the quiet phase after the heal-all ends: as long as a sweep gives
/// the scenario to converge (`swarm::quiet_time`, which grows with the
/// repair intervals and the ring). A shorter run, or a slower repair in the
/// same run, would fail convergence for want of time, not for the bug.
fn settled_at(s: &Scenario, seed: u64) -> Option<SimTime> {
    let heal = s
        .steps
        .iter()
        .rev()
        .find(|st| matches!(st.action, Action::HealAll))?;
    Some(heal.at + swarm::quiet_time(s, seed))
}

/// Lengthens `s` to its [`settled_at`] where it ends earlier (with `quiet`,
/// the seed, when the target checker needs the quiet phase).
fn settle(s: &mut Scenario, quiet: Option<u64>) {
    if let Some(end) = quiet.and_then(|seed| settled_at(s, seed)) {
        s.duration = s.duration.max(SimDuration(end.as_us()));
    }
}

/// Rounds `us` down to a whole `unit`.
fn round_down(us: u64, unit: u64) -> u64 {
    us / unit * unit
}

/// Shortens the run: moves the whole timeline earlier (to whole seconds),
/// rounds each step's time to a whole millisecond, heals as early (in whole
/// 100 ms) as still fails, and ends the run as early as still fails, though
/// never before [`settled_at`].
fn shorten_time(
    mut cur: Scenario,
    quiet: Option<u64>,
    still_fails: &dyn Fn(&Scenario) -> bool,
) -> Scenario {
    let shift = |s: &Scenario, by: u64| {
        let mut cand = s.clone();
        for st in &mut cand.steps {
            st.at = SimTime(st.at.as_us() - by);
        }
        cand.duration = SimDuration(cand.duration.as_us() - by);
        cand
    };
    if let Some(first) = cur
        .steps
        .first()
        .map(|st| round_down(st.at.as_us(), 1_000_000))
    {
        let cand = shift(&cur, first);
        if first > 0 && still_fails(&cand) {
            cur = cand;
        }
    }
    for i in 0..cur.steps.len() {
        let at = cur.steps[i].at.as_us();
        let prev = i.checked_sub(1).map_or(0, |p| cur.steps[p].at.as_us());
        let ms = round_down(at, 1_000).max(prev);
        if ms != at {
            let mut cand = cur.clone();
            cand.steps[i].at = SimTime(ms);
            if still_fails(&cand) {
                cur = cand;
            }
        }
    }
    // Heal earlier: the quiet phase keeps its length and follows the heal.
    if let Some(h) = cur
        .steps
        .iter()
        .rposition(|st| matches!(st.action, Action::HealAll))
    {
        let at = cur.steps[h].at.as_us();
        let prev = h.checked_sub(1).map_or(0, |p| cur.steps[p].at.as_us());
        let quiet = cur.duration.as_us() - at;
        let (mut lo, mut hi) = (prev.div_ceil(100_000), at / 100_000);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let mut cand = cur.clone();
            cand.steps[h].at = SimTime(mid * 100_000);
            let end = cand.steps.last().map_or(0, |st| st.at.as_us());
            cand.duration = SimDuration((mid * 100_000 + quiet).max(end));
            if still_fails(&cand) {
                hi = mid;
                cur = cand;
            } else {
                lo = mid + 1;
            }
        }
    }
    let last = cur.steps.last().map_or(0, |st| st.at.as_us());
    let last = quiet
        .and_then(|seed| settled_at(&cur, seed))
        .map_or(last, |t| t.as_us().max(last));
    let (mut lo, mut hi) = (last / 100_000, cur.duration.as_us().div_ceil(100_000));
    // Invariant: a run of hi * 100 ms fails; find the shortest that does.
    let mut best = None;
    while lo < hi {
        let mid = (lo + hi) / 2;
        let mut cand = cur.clone();
        cand.duration = SimDuration((mid * 100_000).max(last));
        if still_fails(&cand) {
            hi = mid;
            best = Some(cand);
        } else {
            lo = mid + 1;
        }
    }
    best.unwrap_or(cur)
}

/// Where `dynsim shrink FILE --seed S` writes by default: the input's file
/// stem, the seed and `-shrunk.toml`, in the current directory (not beside
/// the input, which may be a bundled or read-only folder).
pub fn default_out(file: &std::path::Path, seed: u64) -> std::path::PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy());
    std::path::PathBuf::from(format!("{stem}-seed{seed}-shrunk.toml"))
}
