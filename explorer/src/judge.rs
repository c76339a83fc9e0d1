//! Judging states: the run-time invariants after every step, every
//! checker on each terminal state after completing it, and the
//! "sometimes" properties that show a scope was not vacuous.

use crate::state::{Happened, State};
use dynamo_observer::{
    CHECKERS, Cluster, Invariant, OpKind, Outcome, Runs, Status, Truth, World, check_all,
    needless_sibling_pairs, settle_time,
};
use sim_core::{NodeId, SimDuration, SimTime, Stop};

/// A property's name: a checker's.
pub type Property = &'static str;

/// The invariants judged after every step, with their checkers' names.
pub fn step_invariants() -> impl Iterator<Item = (Invariant, Property)> {
    CHECKERS.iter().filter_map(|c| match c.runs {
        Runs::AsTheRunGoes(i) => Some((i, c.name)),
        Runs::AfterTheRun(_) => None,
    })
}

/// The invariants a step has broken, by name (the invariants count
/// violations from the start of the path; a state with any is not
/// expanded further, so a count above zero is this step's).
pub fn broken_now(state: &State) -> Vec<(Property, String)> {
    let inv = state.cluster.clients.invariants();
    step_invariants()
        .filter(|(i, _)| inv.count(*i) > 0)
        .map(|(i, name)| {
            let v = inv.verdict(i, name);
            (name, v.violations.first().cloned().unwrap_or_default())
        })
        .collect()
}

/// "Sometimes" properties: each counts the terminal states in which it happened.
pub const SOMETIMES: &[&str] = &[
    "put ok",
    "get ok",
    "op failed",
    "op timed out",
    "hint stored",
    "hint delivered",
    "siblings returned",
    "read repair",
    "false conflict",
    "replica timeout",
];

/// What judging one terminal state found.
#[derive(Clone, Debug, Default)]
pub struct Judged {
    /// Properties violated, each with its first violation's words.
    pub violated: Vec<(Property, String)>,
    /// Which [`SOMETIMES`] properties happened, by index.
    pub sometimes: Vec<bool>,
    /// Checkers that did not apply, by name.
    pub skipped: Vec<Property>,
    /// When completion began (the terminal state's time) and ended.
    pub completion: (SimTime, SimTime),
}

/// How long completion runs: the settle time, plus anti-entropy rounds when on.
fn completion_time(cluster: &Cluster) -> SimDuration {
    let cfg = &cluster.cfg;
    let mut t = settle_time(cfg);
    if cfg.anti_entropy {
        t = t + SimDuration(cfg.anti_entropy_interval.as_us().saturating_mul(10));
    }
    t
}

/// Judges a terminal state: what happened in it, then (liveness by
/// completion) restarts every node, heals, lets the ordinary simulator run
/// until everything settles, and runs every checker on the result.
pub fn judge_terminal(state: &State, always_judge_reads: bool) -> Judged {
    let mut sometimes = vec![false; SOMETIMES.len()];
    let history = state.cluster.history();
    let stats = |f: fn(&dynamo_model::NodeStats) -> u64| {
        state.nodes().iter().map(|n| f(&n.stats)).sum::<u64>() > 0
    };
    sometimes[0] = history
        .iter()
        .any(|r| r.kind.is_write() && matches!(r.outcome, Outcome::PutOk { .. }));
    sometimes[1] = history
        .iter()
        .any(|r| r.kind == OpKind::Get && matches!(r.outcome, Outcome::GetOk { .. }));
    sometimes[2] = history
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed { .. }));
    sometimes[3] = history.iter().any(|r| r.outcome == Outcome::TimedOut);
    sometimes[4] = !state.cluster.clients.invariants().hints_made().is_empty();
    sometimes[5] = stats(|s| s.hints_delivered);
    sometimes[6] = history
        .iter()
        .any(|r| matches!(&r.outcome, Outcome::GetOk { versions, .. } if versions.len() > 1));
    sometimes[7] = stats(|s| s.read_repairs);
    sometimes[9] = stats(|s| s.replica_timeouts);

    // Completion: everything heals, and the ordinary simulator runs on.
    // As a counterexample's `heal-all` and `run-freely` steps do: the cut
    // heals, then every node that is down restarts.
    let mut c = state.cluster.fork();
    let quiet_from = c.now();
    if !state.log.is_empty() {
        c.fault_now(sim_core::Fault::Heal);
        for n in (0..c.cfg.nodes).map(NodeId) {
            if !c.sim.core.is_up(n) {
                c.fault_now(sim_core::Fault::Restart { node: n });
            }
        }
    }
    c.stop_holding();
    let end = quiet_from + completion_time(&c);
    let stop = c.run_until(end);
    let mut judged = judge_cluster(
        &c,
        state,
        quiet_from,
        end,
        always_judge_reads,
        &mut sometimes,
    );
    if stop.is_final() && stop != Stop::Interrupted {
        judged
            .violated
            .push(("completion", format!("completion stopped: {stop}")));
    }
    judged.sometimes = sometimes;
    judged.completion = (quiet_from, end);
    judged
}

/// Runs every checker on a completed cluster.
fn judge_cluster(
    c: &Cluster,
    state: &State,
    quiet_from: SimTime,
    end: SimTime,
    always_judge_reads: bool,
    sometimes: &mut [bool],
) -> Judged {
    let up: Vec<bool> = (0..c.cfg.nodes)
        .map(|n| c.sim.core.is_up(NodeId(n)))
        .collect();
    let mut truth = Truth::new(c.history());
    for node in c.nodes() {
        truth.add_versions(node.store().values().flatten());
        truth.add_versions(node.hints().values().flat_map(|h| &h.versions));
    }
    let wipes: Vec<(SimTime, NodeId)> = state
        .log
        .iter()
        .filter_map(|(t, h)| match h {
            Happened::Crash(n, true) => Some((*t, *n)),
            _ => None,
        })
        .collect();
    let healthy = healthy_spans(&state.log, quiet_from, end);
    let ring = c.final_ring();
    let world = World {
        cfg: &c.cfg,
        ring: &ring,
        history: c.history(),
        nodes: c.nodes(),
        up: &up,
        faults: !state.log.is_empty(),
        wipes: &wipes,
        quiet_from: Some(quiet_from),
        always_judge_reads,
        truth: &truth,
        invariants: c.clients.invariants(),
        end,
        healthy: &healthy,
    };
    sometimes[8] = !needless_sibling_pairs(&world).is_empty();
    let mut judged = Judged::default();
    for v in check_all(&world) {
        match v.status {
            Status::Fail => judged
                .violated
                .push((v.checker, v.violations.first().cloned().unwrap_or_default())),
            Status::Skipped(_) => judged.skipped.push(v.checker),
            Status::Pass => {}
        }
    }
    judged
}

/// The spans of a path in which every node was up, nothing was cut off,
/// and no message was dropped or copied (a drop or copy ends a span and
/// starts the next at the same instant).
/// Completion, from `healed` on, is healthy.
fn healthy_spans(
    log: &[(SimTime, Happened)],
    healed: SimTime,
    end: SimTime,
) -> Vec<(SimTime, SimTime)> {
    let mut spans = Vec::new();
    let mut down: Vec<NodeId> = Vec::new();
    let mut cut = false;
    let mut from = Some(SimTime::ZERO);
    for (t, h) in log {
        let was_healthy = down.is_empty() && !cut;
        match h {
            Happened::Crash(n, _) => down.push(*n),
            Happened::Restart(n) => down.retain(|d| d != n),
            Happened::Isolate(_) => cut = true,
            Happened::Heal => cut = false,
            Happened::Network => {}
        }
        let healthy = down.is_empty() && !cut && *h != Happened::Network;
        if was_healthy {
            if let Some(f) = from.take() {
                spans.push((f, *t));
            }
        }
        if healthy || (*h == Happened::Network && down.is_empty() && !cut) {
            from = Some(*t);
        }
    }
    spans.push((from.unwrap_or(healed), end));
    spans.retain(|(a, b)| b > a);
    spans
}
