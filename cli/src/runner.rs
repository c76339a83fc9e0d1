//! Runs a validated scenario: builds the cluster, schedules its timeline and
//! load, evaluates its expectations at their times, and runs the checkers.

use crate::scenario::{Action, Check, Expect, Scenario};
use dynamo_model::checkers::{self, Status, Verdict, World};
use dynamo_model::cluster::{Cluster, OpKind, Outcome, PlannedOp};
use dynamo_model::truth::{self, Staleness, Truth};
use sim_core::{SimTime, Stop};

/// One expectation and whether it held.
#[derive(Clone, Debug)]
pub struct ExpectResult {
    pub line: usize,
    pub what: String,
    pub ok: bool,
    /// What was found instead, when it did not hold.
    pub found: String,
}

/// Everything a run produced.
pub struct Report {
    pub scenario: Scenario,
    pub seed: u64,
    pub cluster: Cluster,
    pub stop: Stop,
    pub expectations: Vec<ExpectResult>,
    pub verdicts: Vec<Verdict>,
    /// Checker verdicts that differ from what the scenario declares (pass, unless declared).
    pub unexpected_verdicts: Vec<String>,
    /// How stale each successful get was.
    pub staleness: Vec<Staleness>,
    /// Needless siblings: pairs of versions a get returned that are ordered in
    /// ground truth (false conflicts when clocks were truncated, violations otherwise).
    pub needless_siblings: usize,
}

impl Report {
    /// Whether everything went as the scenario expects.
    pub fn as_expected(&self) -> bool {
        self.expectations.iter().all(|e| e.ok) && self.unexpected_verdicts.is_empty()
    }
}

/// Runs `s` with `seed`, recording the trace if `trace`.
pub fn run(s: &Scenario, seed: u64, trace: bool) -> Report {
    let mut cluster = Cluster::new(s.cluster.clone(), &s.net, seed, trace)
        .expect("a validated scenario builds a cluster");
    let header = &mut cluster.sim.core.trace.header;
    header.insert(
        0,
        format!("scenario {}  seed={seed}  duration={}", s.name, s.duration),
    );
    if !s.description.is_empty() {
        header.insert(
            1,
            format!(
                "description {}",
                s.description
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        );
    }
    // Op steps are planned in step order; `plan_of[step]` is the plan index.
    let mut plan_of = vec![None; s.steps.len()];
    let mut planned = 0;
    for (i, step) in s.steps.iter().enumerate() {
        match &step.action {
            Action::Op(op) => {
                let p = PlannedOp {
                    at: step.at,
                    client: op.client,
                    entry: op.entry.clone(),
                    kind: op.kind,
                    key: op.key.clone(),
                    value: op.value.clone(),
                    context_from: op.context_from.and_then(|j| plan_of[j]),
                };
                cluster.plan(p).expect("validated op");
                plan_of[i] = Some(planned);
                planned += 1;
            }
            Action::Fault(f) => cluster.fault(step.at, f.clone()),
        }
    }
    if let Some(load) = &s.load {
        cluster.add_load(load.clone()).expect("validated load");
    }
    let end = SimTime::ZERO + s.duration;
    let mut results: Vec<(usize, ExpectResult)> = Vec::new();
    // State expectations run at their times, in time order (then file order).
    let mut timed: Vec<(SimTime, usize, &Expect)> = s
        .expects
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(
                e.check,
                Check::Holds { .. } | Check::Hint { .. } | Check::Believes { .. }
            )
        })
        .map(|(i, e)| (e.at.unwrap_or(end), i, e))
        .collect();
    timed.sort_by_key(|(t, i, _)| (*t, *i));
    let mut stop = Stop::Idle;
    for (t, i, e) in timed {
        stop = cluster.run_until(t);
        results.push((i, state_check(&cluster, e, t)));
    }
    if cluster.now() < end || stop != Stop::TimeLimit {
        stop = cluster.run_until(end);
    }
    let up: Vec<bool> = (0..s.cluster.nodes)
        .map(|n| cluster.sim.core.is_up(sim_core::NodeId(n)))
        .collect();
    let truth = Truth::new(cluster.history());
    let wipes: Vec<(SimTime, sim_core::NodeId)> = s
        .steps
        .iter()
        .filter_map(|st| match st.action {
            Action::Fault(sim_core::Fault::Crash {
                node,
                wipe_disk: true,
            }) => Some((st.at, node)),
            _ => None,
        })
        .collect();
    let lossy = s.net.loss > 0.0
        || s.net.duplicate > 0.0
        || s.net
            .links
            .iter()
            .any(|l| l.loss.unwrap_or(0.0) > 0.0 || l.duplicate.unwrap_or(0.0) > 0.0);
    let quiet_from = (!lossy).then(|| {
        s.steps
            .iter()
            .filter(|st| matches!(st.action, Action::Fault(_)))
            .map(|st| st.at)
            .max()
            .unwrap_or(SimTime::ZERO)
    });
    let world = World {
        cfg: &cluster.cfg,
        ring: &cluster.ring,
        history: cluster.history(),
        nodes: cluster.nodes(),
        up: &up,
        faults: s.has_faults(),
        wipes: &wipes,
        quiet_from,
        always_judge_reads: s.always_judge_reads,
        truth: &truth,
        invariants: cluster.clients.invariants(),
    };
    let verdicts = checkers::check_all(&world);
    let needless_siblings = checkers::needless_sibling_pairs(&world).len();
    let staleness = truth::staleness(cluster.history(), &truth);
    drop(truth);
    for (i, e) in s.expects.iter().enumerate() {
        if let Check::Op { .. } = e.check {
            results.push((i, op_check(&cluster, e, &plan_of)));
        }
    }
    let mut unexpected = Vec::new();
    for v in &verdicts {
        let declared = s
            .expects
            .iter()
            .enumerate()
            .find_map(|(i, e)| match &e.check {
                Check::Checker { name, verdict } if name == v.checker => {
                    Some((i, e.line, verdict.clone()))
                }
                _ => None,
            });
        let got = match v.status {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skipped(_) => "skipped",
        };
        match declared {
            Some((i, line, want)) => {
                let ok = want == got;
                results.push((
                    i,
                    ExpectResult {
                        line,
                        what: format!("checker {} is {want}", v.checker),
                        ok,
                        found: format!("it is {got}"),
                    },
                ));
            }
            None if v.failed() => unexpected.push(format!(
                "checker {} failed, and the scenario does not declare that",
                v.checker
            )),
            None => {}
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let mut report = Report {
        scenario: s.clone(),
        seed,
        cluster,
        stop,
        expectations: results.into_iter().map(|(_, r)| r).collect(),
        verdicts,
        unexpected_verdicts: unexpected,
        staleness,
        needless_siblings,
    };
    let footer = footer(&report);
    report.cluster.sim.core.trace.footer = footer;
    report
}

fn footer(r: &Report) -> Vec<String> {
    let mut out = vec![format!("end at {} ({})", r.cluster.now(), r.stop)];
    for v in &r.verdicts {
        for line in v.to_string().lines() {
            out.push(format!("check {}", line.trim_end()));
        }
    }
    for e in &r.expectations {
        out.push(format!(
            "expect line {}: {} ... {}",
            e.line,
            e.what,
            if e.ok {
                "ok".to_string()
            } else {
                format!("FAILED: {}", e.found)
            }
        ));
    }
    for line in r.cluster.state_lines() {
        out.push(format!("state {line}"));
    }
    out
}

fn state_check(cluster: &Cluster, e: &Expect, t: SimTime) -> ExpectResult {
    let line = e.line;
    match &e.check {
        Check::Holds {
            node,
            key,
            present,
            value,
        } => {
            let k = cluster.key(key).expect("validated key");
            let held = cluster.node(*node).versions(&k);
            let values: Vec<&str> = held.iter().map(|v| &*v.value).collect();
            let ok = match (present, value) {
                (true, None) => !held.is_empty(),
                (true, Some(v)) => values.contains(&v.as_str()),
                (false, _) => held.is_empty(),
            };
            let what = match (present, value) {
                (true, None) => format!("{node} holds key {key} at {t}"),
                (true, Some(v)) => format!("{node} holds key {key} = {v:?} at {t}"),
                (false, _) => format!("{node} lacks key {key} at {t}"),
            };
            ExpectResult {
                line,
                what,
                ok,
                found: format!("it holds {values:?}"),
            }
        }
        Check::Hint {
            node,
            key,
            present,
            target,
        } => {
            let hints: Vec<String> = cluster
                .node(*node)
                .hints()
                .keys()
                .filter(|(tg, k)| k.name() == key && target.is_none_or(|want| want == *tg))
                .map(|(tg, _)| tg.to_string())
                .collect();
            let for_ = target.map(|t| format!(" for {t}")).unwrap_or_default();
            let what = if *present {
                format!("{node} holds a hint{for_} for key {key} at {t}")
            } else {
                format!("{node} holds no hint{for_} for key {key} at {t}")
            };
            let ok = hints.is_empty() != *present;
            ExpectResult {
                line,
                what,
                ok,
                found: if hints.is_empty() {
                    "no such hint".into()
                } else {
                    format!("hints for {}", hints.join(", "))
                },
            }
        }
        Check::Believes { node, peer, up } => {
            let believes = cluster.node(*node).believes_up(*peer);
            let word = |b: bool| if b { "up" } else { "down" };
            ExpectResult {
                line,
                what: format!("{node} believes {peer} is {} at {t}", word(*up)),
                ok: believes == *up,
                found: format!("it believes {peer} is {}", word(believes)),
            }
        }
        _ => unreachable!("only state checks are timed"),
    }
}

fn op_check(cluster: &Cluster, e: &Expect, plan_of: &[Option<usize>]) -> ExpectResult {
    let Check::Op {
        step,
        name,
        ok,
        values,
        siblings,
        clock,
    } = &e.check
    else {
        unreachable!()
    };
    let mut what = vec![];
    if let Some(ok) = ok {
        what.push(if *ok {
            "succeeds".to_string()
        } else {
            "fails".to_string()
        });
    }
    if let Some(v) = values {
        what.push(format!("returns {v:?}"));
    }
    if let Some(n) = siblings {
        what.push(format!("with {n} version(s)"));
    }
    if let Some(c) = clock {
        what.push(format!("clock {c}"));
    }
    let what = format!("{name} {}", what.join(", "));
    let rec = plan_of[*step].and_then(|p| cluster.clients.planned_record(p));
    let Some(rec) = rec else {
        return ExpectResult {
            line: e.line,
            what,
            ok: false,
            found: "the op was never issued".into(),
        };
    };
    let mut problems = Vec::new();
    if let Some(want) = ok {
        let got = rec.outcome.is_ok();
        if got != *want {
            problems.push(format!("outcome {}", describe_outcome(&rec.outcome)));
        }
    }
    match &rec.outcome {
        Outcome::GetOk { versions, context } => {
            let mut got: Vec<String> = versions.iter().map(|v| v.value.to_string()).collect();
            got.sort();
            if let Some(v) = values {
                let mut want = v.clone();
                want.sort();
                if want != got {
                    problems.push(format!("values {got:?}"));
                }
            }
            if siblings.is_some_and(|n| n != versions.len()) {
                problems.push(format!("{} version(s)", versions.len()));
            }
            if clock.as_ref().is_some_and(|c| *c != context.to_string()) {
                problems.push(format!("clock {context}"));
            }
        }
        Outcome::PutOk { clock: got, .. } => {
            if clock.as_ref().is_some_and(|c| *c != got.to_string()) {
                problems.push(format!("clock {got}"));
            }
        }
        other => {
            if values.is_some() || siblings.is_some() || clock.is_some() {
                problems.push(format!("outcome {}", describe_outcome(other)));
            }
        }
    }
    if rec.kind == OpKind::Put && (values.is_some() || siblings.is_some()) {
        problems.push("values and siblings apply only to gets".into());
    }
    problems.dedup();
    ExpectResult {
        line: e.line,
        what,
        ok: problems.is_empty(),
        found: problems.join("; "),
    }
}

pub fn describe_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Pending => "pending".into(),
        Outcome::GetOk { versions, context } => {
            format!("ok with {} version(s), context {context}", versions.len())
        }
        Outcome::PutOk { clock, .. } => format!("ok, stored {clock}"),
        Outcome::Failed { got, needed } => format!("failed ({got} of {needed} answered)"),
        Outcome::TimedOut => "timed out at the client".into(),
    }
}
