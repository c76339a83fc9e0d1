//! Runs a validated scenario: builds the cluster, schedules its timeline and
//! load, evaluates its expectations at their times, and runs the checkers.

use crate::scenario::expect::{self, Anchor};
use crate::scenario::{Action, Check, Expect, Scenario};
use dynamo_model::Msg;
use dynamo_observer::{Cluster, ClusterPlan, OpKind, OpsGauge, Outcome, PlannedOp};
use dynamo_observer::{Staleness, Truth};
use dynamo_observer::{Status, Verdict, World};
use sim_core::{Message, SimTime, Stop};
use std::collections::BTreeMap;

/// One expectation and whether it held.
#[derive(Clone, Debug)]
pub struct ExpectResult {
    /// The line of the scenario file the expectation came from.
    pub line: usize,
    /// The expectation in words, as the summary shows it.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
    /// What was found instead, when it did not hold.
    pub found: String,
}

/// Everything a run produced.
pub struct Report {
    /// The scenario that was run.
    pub scenario: Scenario,
    /// The seed it ran with.
    pub seed: u64,
    /// The cluster as the run left it: nodes, history, trace and counters.
    pub cluster: Cluster,
    /// Why the simulation last stopped (`Stalled` or `Interrupted` when cut short).
    pub stop: Stop,
    /// Each expectation's result, in file order (none when the run was interrupted).
    pub expectations: Vec<ExpectResult>,
    /// Every checker's verdict (none when the run was interrupted).
    pub verdicts: Vec<Verdict>,
    /// What went wrong that no expectation covers: checkers that failed
    /// without the scenario declaring it, a stalled run, an interrupted run.
    /// (A declared verdict that differs is a failed expectation.)
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

/// The run's counters by the names `counter` expectations use: the summary's
/// figures (hints, repairs, forwards, truncations, op outcomes) and messages
/// by kind (`sent.Replicate`, `dropped.total`, ...).
pub fn counters(cluster: &Cluster, needless_siblings: usize) -> BTreeMap<String, u64> {
    let nodes = cluster.nodes();
    let sum =
        |f: fn(&dynamo_model::NodeStats) -> u64| -> u64 { nodes.iter().map(|n| f(&n.stats)).sum() };
    let truncations = sum(|s| s.clock_truncations);
    let mut c: BTreeMap<String, u64> = BTreeMap::new();
    c.insert("events".into(), cluster.sim.core.stats.events);
    c.insert("hints_created".into(), sum(|s| s.hints_created));
    c.insert("hints_delivered".into(), sum(|s| s.hints_delivered));
    c.insert(
        "hints_pending".into(),
        nodes.iter().map(|n| n.hints().len() as u64).sum(),
    );
    c.insert("read_repairs".into(), sum(|s| s.read_repairs));
    c.insert("anti_entropy_rounds".into(), sum(|s| s.anti_entropy_rounds));
    c.insert(
        "anti_entropy_keys_repaired".into(),
        sum(|s| s.anti_entropy_keys_repaired),
    );
    c.insert("forwarded".into(), sum(|s| s.forwarded));
    c.insert("replica_timeouts".into(), sum(|s| s.replica_timeouts));
    c.insert("clock_truncations".into(), truncations);
    c.insert("tombstones_purged".into(), sum(|s| s.tombstones_purged));
    c.insert("keys_transferred".into(), sum(|s| s.keys_transferred));
    c.insert("membership_changes".into(), sum(|s| s.membership_changes));
    // Without truncation a needless sibling is a bug (its checker fails);
    // with it, it is the false conflict truncation causes.
    c.insert(
        "false_conflicts".into(),
        if truncations > 0 {
            needless_siblings as u64
        } else {
            0
        },
    );
    for (kind, name) in [
        (OpKind::Get, "gets"),
        (OpKind::Put, "puts"),
        (OpKind::Delete, "deletes"),
    ] {
        let ops = cluster.history().iter().filter(|o| o.kind == kind);
        let (mut ok, mut failed, mut timed_out) = (0, 0, 0);
        for o in ops {
            match o.outcome {
                Outcome::GetOk { .. } | Outcome::PutOk { .. } => ok += 1,
                Outcome::Failed { .. } => failed += 1,
                Outcome::TimedOut => timed_out += 1,
                Outcome::Pending => {}
            }
        }
        c.insert(format!("{name}_ok"), ok);
        c.insert(format!("{name}_failed"), failed);
        c.insert(format!("{name}_timed_out"), timed_out);
    }
    let stats = &cluster.sim.core.stats;
    for (what, per_kind) in [
        ("sent", &stats.sent),
        ("delivered", &stats.delivered),
        ("dropped", &stats.dropped),
        ("duplicated", &stats.duplicated),
    ] {
        let mut total = 0;
        for (i, kind) in Msg::KINDS.iter().enumerate() {
            let n = per_kind.get(i).copied().unwrap_or(0);
            total += n;
            c.insert(format!("{what}.{kind}"), n);
        }
        c.insert(format!("{what}.total"), total);
    }
    c
}

/// Runs `s` with `seed`, recording the trace if `trace` (or if an
/// expectation looks for events in it). Fails only as [`prepare`] does.
pub fn run(s: &Scenario, seed: u64, trace: bool) -> Result<Report, String> {
    run_watched(s, seed, trace, &mut |_| {})
}

/// [`run`], handing `watch` the run's gauge of finished operations before
/// the first event (a progress display estimates the time left from it).
pub fn run_watched(
    s: &Scenario,
    seed: u64,
    trace: bool,
    watch: &mut dyn FnMut(OpsGauge),
) -> Result<Report, String> {
    run_streamed(s, seed, trace, Vec::new(), None, watch)
}

/// [`run`] with its trace kept, but at most `records` records and `bytes`
/// bytes of them (the first ones; [`sim_core::Trace::overflowed`] says
/// whether more happened). Expectations that read the trace are then not
/// judged if it overflowed.
pub fn run_kept(s: &Scenario, seed: u64, records: usize, bytes: usize) -> Result<Report, String> {
    run_streamed(
        s,
        seed,
        true,
        Vec::new(),
        Some((records, bytes)),
        &mut |_| {},
    )
}

/// [`run_watched`], streaming the trace to `sinks` as the run makes it
/// (when there are any). The trace is then kept in memory only if `keep`
/// or the scenario's expectations read it. The caller ends the streaming
/// with [`sim_core::Trace::finish`] on the report's trace, which writes the
/// footer.
pub fn run_streamed(
    s: &Scenario,
    seed: u64,
    keep: bool,
    sinks: Vec<Box<dyn sim_core::TraceSink>>,
    bound: Option<(usize, usize)>,
    watch: &mut dyn FnMut(OpsGauge),
) -> Result<Report, String> {
    let needed = s
        .expects
        .iter()
        .any(|e| matches!(e.check, Check::Within { .. }));
    let streaming = !sinks.is_empty();
    let (mut cluster, plan_of) = prepare(s, seed, keep || needed || streaming)?;
    if let Some((records, bytes)) = bound {
        cluster.sim.core.trace.keep_at_most(records, bytes);
    }
    if streaming {
        cluster.sim.core.trace.stream_to(sinks, keep || needed);
    }
    watch(cluster.clients.ops_gauge());
    let end = SimTime::ZERO + s.duration;
    let mut plan_of = plan_of;
    if s.hold {
        run_by_steps(&mut cluster, s, &mut plan_of)?;
    }
    let mut results: Vec<(usize, ExpectResult)> = Vec::new();
    // State expectations run at their times, in time order (then file order).
    let mut timed: Vec<(SimTime, usize, &Expect)> = s
        .expects
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(
                e.check,
                Check::Holds { .. }
                    | Check::Hint { .. }
                    | Check::Believes { .. }
                    | Check::Exactly { .. }
            )
        })
        .map(|(i, e)| (e.at.unwrap_or(end), i, e))
        .collect();
    timed.sort_by_key(|(t, i, _)| (*t, *i));
    let mut stop = Stop::Idle;
    for (t, i, e) in timed {
        if !stop.is_final() {
            stop = cluster.run_until(t);
        }
        results.push((i, state_check(&cluster, e, t)));
    }
    if !stop.is_final() && (cluster.now() < end || stop != Stop::TimeLimit) {
        stop = cluster.run_until(end);
    }
    if stop == Stop::Interrupted {
        // A budget or a cancellation cut the run (`sim_core::stop`): its
        // caller learns so from its check and shows nothing of it, so no
        // time goes to judging a partial history.
        let unexpected = vec![format!("the run was interrupted at {}", cluster.now())];
        return Ok(Report {
            scenario: s.clone(),
            seed,
            cluster,
            stop,
            expectations: Vec::new(),
            verdicts: Vec::new(),
            unexpected_verdicts: unexpected,
            staleness: Vec::new(),
            needless_siblings: 0,
        });
    }
    let up: Vec<bool> = (0..s.cluster.nodes)
        .map(|n| cluster.sim.core.is_up(sim_core::NodeId(n)))
        .collect();
    let mut truth = Truth::new(cluster.history());
    for node in cluster.nodes() {
        truth.add_versions(node.store().values().flatten());
        truth.add_versions(node.hints().values().flat_map(|h| &h.versions));
    }
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
            .filter(|st| match &st.action {
                Action::Fault(_) | Action::HealAll | Action::Membership { .. } => true,
                Action::Held(h) => held_is_a_fault(h),
                _ => false,
            })
            .map(|st| st.at)
            .max()
            .unwrap_or(SimTime::ZERO)
    });
    // The ring the nodes agree on at the end: after membership changes, not the configured one.
    let final_ring = cluster.final_ring();
    let healthy = if lossy {
        Vec::new()
    } else {
        healthy_spans(s, cluster.now())
    };
    let world = World {
        cfg: &cluster.cfg,
        ring: &final_ring,
        history: cluster.history(),
        nodes: cluster.nodes(),
        up: &up,
        faults: s.has_faults(),
        wipes: &wipes,
        quiet_from,
        always_judge_reads: s.always_judge_reads,
        truth: &truth,
        invariants: cluster.clients.invariants(),
        end: cluster.now(),
        healthy: &healthy,
    };
    let verdicts = dynamo_observer::check_all(&world);
    let needless_siblings = dynamo_observer::needless_sibling_pairs(&world).len();
    let staleness = dynamo_observer::staleness(cluster.history(), &truth);
    drop(truth);
    let counts = counters(&cluster, needless_siblings);
    for (i, e) in s.expects.iter().enumerate() {
        match &e.check {
            Check::Op { .. } => results.push((i, op_check(&cluster, e, &plan_of))),
            Check::Counter { name, cmp, value } => {
                let got = counts.get(name).copied().unwrap_or(0);
                results.push((
                    i,
                    ExpectResult {
                        line: e.line,
                        what: format!("counter {name} {} {value}", cmp.words()),
                        ok: cmp.holds(got, *value),
                        found: format!("it is {got}"),
                    },
                ));
            }
            Check::Within {
                event,
                after,
                within,
            } => {
                let start = match after {
                    Anchor::Step { step, .. } => s.steps.get(*step).map(|st| st.at),
                    Anchor::Event(_) => None,
                };
                let after_text = match after {
                    Anchor::Step { name, .. } => format!("step {name}"),
                    Anchor::Event(m) => format!("the first {m}"),
                };
                let trace = &cluster.sim.core.trace;
                let found = expect::find_within(&trace.records, event, start, after, *within)
                    .map_err(|e| {
                        // What was looked for may be in the records not kept.
                        if trace.overflowed() {
                            format!(
                                "not judged: the trace kept only its first {} records, and they do not settle it",
                                trace.records.len()
                            )
                        } else {
                            e
                        }
                    });
                results.push((
                    i,
                    ExpectResult {
                        line: e.line,
                        what: format!("{event} within {within} after {after_text}"),
                        ok: found.is_ok(),
                        found: match found {
                            Ok(t) => format!("it came at {t}"),
                            Err(e) => e,
                        },
                    },
                ));
            }
            _ => {}
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
    if stop == Stop::Stalled {
        unexpected.push(format!(
            "the run stalled at {}: {} events in a row at one instant, so it would never reach its end at {end}; give the network or the clients some latency, or the load a think time",
            cluster.now(),
            sim_core::MAX_SAME_INSTANT
        ));
    }
    if stop == Stop::Overloaded {
        unexpected.push(format!(
            "the run was stopped at {}: more was pending than a run may hold (at most {} MiB of queued events and messages, {} operations in flight, {} operations in the history), the bounds that keep a run from exhausting memory; shorten the latencies (messages pile up when they take far longer than the gossip interval), lower the open-loop rate, or issue fewer operations",
            cluster.now(),
            sim_core::MAX_PENDING_BYTES >> 20,
            dynamo_observer::MAX_OPS_IN_FLIGHT,
            dynamo_observer::MAX_HISTORY_OPS,
        ));
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
    // The footer lists every node's store: only a trace that is kept needs it.
    if report.cluster.sim.core.trace.enabled() {
        let footer = footer(&report);
        report.cluster.sim.core.trace.footer = footer;
    }
    Ok(report)
}

/// Everything before the first simulated event: builds the cluster (ring,
/// nodes, network), writes the trace header, and schedules the timeline's
/// operations and faults and the generated load. Returns the cluster and,
/// for each step, the index of its planned operation; or what the scenario
/// asks that the cluster cannot do (a scenario file that loaded never does,
/// but a scenario built in code, or cut down by `shrink`, may).
pub fn prepare(
    s: &Scenario,
    seed: u64,
    trace: bool,
) -> Result<(Cluster, Vec<Option<usize>>), String> {
    let plan = ClusterPlan::new(s.cluster.clone(), &s.net).map_err(|e| e.join("; "))?;
    let mut cluster = if s.hold {
        Cluster::build_holding(&plan, seed, trace)
    } else {
        Cluster::build(&plan, seed, trace)
    };
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
    if s.hold {
        // Applied one after another as the run goes (`run_by_steps`).
        return Ok((cluster, plan_of));
    }
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
                cluster.plan(p)?;
                plan_of[i] = Some(planned);
                planned += 1;
            }
            Action::Fault(f) => cluster.fault(step.at, f.clone()),
            Action::HealAll => {
                for f in crate::scenario::heal_all(s.cluster.nodes, &s.net) {
                    cluster.fault(step.at, f);
                }
            }
            Action::Trigger(t) => cluster.clients.add_trigger(dynamo_observer::Trigger {
                armed: step.at,
                until: t.until,
                on: t.on,
                fault: t.fault,
                lasting: t.lasting,
                fired: None,
            }),
            Action::Membership { node, join } => {
                cluster.plan_admin(step.at, *node, admin_of(s, join))?;
            }
            // Only a scenario that delivers by steps has these; it returned above.
            Action::Held(_) => {}
        }
    }
    if let Some(load) = &s.load {
        cluster.add_load(load.clone())?;
    }
    Ok((cluster, plan_of))
}

fn admin_of(s: &Scenario, join: &Option<Vec<u64>>) -> dynamo_model::Admin {
    match join {
        None => dynamo_model::Admin::Leave,
        Some(tokens) => dynamo_model::Admin::Join {
            tokens: ring_positions(&s.cluster, tokens),
        },
    }
}

/// Applies the steps of a scenario whose network delivers by steps, one
/// after another: time moves to each step's time (what is queued before
/// it happens first), the step acts, and what it causes at that instant
/// happens before the next step. This is how `dynsim check` took them.
fn run_by_steps(
    cluster: &mut Cluster,
    s: &Scenario,
    plan_of: &mut [Option<usize>],
) -> Result<Stop, String> {
    use dynamo_explorer::StepKind;
    let mut planned = 0;
    for (i, step) in s.steps.iter().enumerate() {
        let stop = cluster.advance_to(step.at);
        if stop.is_final() {
            return Ok(stop);
        }
        let now = cluster.now();
        match &step.action {
            Action::Op(op) => {
                let p = PlannedOp {
                    at: now,
                    client: op.client,
                    entry: op.entry.clone(),
                    kind: op.kind,
                    key: op.key.clone(),
                    value: op.value.clone(),
                    context_from: op.context_from.and_then(|j| plan_of[j]),
                };
                cluster.plan(p)?;
                plan_of[i] = Some(planned);
                planned += 1;
                cluster.settle();
            }
            Action::Fault(f) => cluster.fault_now(f.clone()),
            Action::HealAll => {
                for f in crate::scenario::heal_all(s.cluster.nodes, &s.net) {
                    cluster.fault_now(f);
                }
            }
            Action::Trigger(t) => cluster.clients.add_trigger(dynamo_observer::Trigger {
                armed: now,
                until: t.until,
                on: t.on,
                fault: t.fault,
                lasting: t.lasting,
                fired: None,
            }),
            Action::Membership { node, join } => {
                cluster.plan_admin(now, *node, admin_of(s, join))?;
                cluster.settle();
            }
            Action::Held(StepKind::Wait) => {}
            Action::Held(StepKind::RunFreely) => cluster.stop_holding(),
            Action::Held(h) => {
                let Some(i) = dynamo_explorer::find_held(cluster.held(), h) else {
                    let detail = format!(
                        "step at line {}: nothing held matches it; skipped",
                        step.line
                    );
                    let ev = sim_core::Event::Fault { detail };
                    cluster
                        .sim
                        .core
                        .trace
                        .record(now, sim_core::Actor::World, ev);
                    continue;
                };
                match h {
                    StepKind::DropMsg { .. } | StepKind::DropRequest { .. } => {
                        cluster.drop_held(i);
                    }
                    StepKind::Duplicate { .. } => {
                        cluster.duplicate_held(i);
                    }
                    StepKind::Fire { label, .. } => {
                        cluster.release(i, dynamo_explorer::fires_on_time(label));
                    }
                    _ => {
                        cluster.release(i, false);
                    }
                }
            }
        }
    }
    Ok(Stop::Idle)
}

/// Whether a step of a network that delivers by steps is a fault: a lost
/// or copied message or request, or a timer marked as firing early (while
/// what it waits for was still in flight).
pub fn held_is_a_fault(h: &dynamo_explorer::StepKind) -> bool {
    use dynamo_explorer::StepKind;
    matches!(
        h,
        StepKind::DropMsg { .. }
            | StepKind::DropRequest { .. }
            | StepKind::Duplicate { .. }
            | StepKind::Fire { early: true, .. }
    )
}

/// A join step's tokens as ring positions: as given under S1; partition
/// numbers (of the configured Q) turned into their ends under S3 and explicit.
fn ring_positions(c: &dynamo_model::ClusterConfig, tokens: &[u64]) -> Vec<u64> {
    let bits = dynamo_model::space_bits(&c.key_scheme);
    match &c.tokens {
        dynamo_model::TokenStrategy::Random { .. } => tokens.to_vec(),
        _ => {
            let q = c.total_tokens().min(u64::from(u32::MAX)) as u32;
            tokens
                .iter()
                .map(|&p| {
                    dynamo_model::partition_end(
                        p.min(u64::from(q.max(1) - 1)) as u32,
                        q.max(1),
                        bits,
                    )
                })
                .collect()
        }
    }
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
            let held = cluster.node(*node).versions(key);
            // A tombstone reads as "(deleted)", as the trace shows it.
            let values: Vec<&str> = held
                .iter()
                .map(|v| {
                    if v.is_deleted() {
                        "(deleted)"
                    } else {
                        &*v.value
                    }
                })
                .collect();
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
                .filter(|(tg, k)| k == key && target.is_none_or(|want| want == *tg))
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
        Check::Exactly {
            node,
            key,
            versions,
        } => {
            let mut held: Vec<(String, String)> = cluster
                .node(*node)
                .versions(key)
                .iter()
                .map(|v| {
                    // The clock as the trace prints it: the version's text
                    // after its quoted value (a vector clock, or an LWW stamp).
                    let shown = v.to_string();
                    if v.is_deleted() {
                        let mark = "(deleted)";
                        return (mark.to_string(), shown[mark.len()..].to_string());
                    }
                    let quoted = format!("{:?}", &*v.value).len();
                    (v.value.to_string(), shown[quoted..].to_string())
                })
                .collect();
            held.sort();
            let show = |vs: &[(String, String)]| {
                if vs.is_empty() {
                    "nothing".to_string()
                } else {
                    vs.iter()
                        .map(|(v, c)| format!("{v:?}{c}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            };
            ExpectResult {
                line,
                what: format!(
                    "{node} holds exactly {} of key {key} at {t}",
                    show(versions)
                ),
                ok: held == *versions,
                found: format!("it holds {}", show(&held)),
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
        acks,
        needed,
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
    if let Some(a) = acks {
        what.push(format!("{a} answered"));
    }
    if let Some(n) = needed {
        what.push(format!("{n} needed"));
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
            // What the client sees: tombstones hidden unless concurrent with a live version.
            let versions = dynamo_model::visible(versions);
            let mut got: Vec<String> = versions
                .iter()
                .map(|v| {
                    if v.is_deleted() {
                        "(deleted)".to_string()
                    } else {
                        v.value.to_string()
                    }
                })
                .collect();
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
        Outcome::Failed { got, needed: n } => {
            if acks.is_some_and(|a| a != *got) || needed.is_some_and(|w| w != *n) {
                problems.push(format!("outcome {}", describe_outcome(&rec.outcome)));
            }
            if values.is_some() || siblings.is_some() || clock.is_some() {
                problems.push(format!("outcome {}", describe_outcome(&rec.outcome)));
            }
        }
        other => {
            if values.is_some() || siblings.is_some() || clock.is_some() {
                problems.push(format!("outcome {}", describe_outcome(other)));
            }
            if acks.is_some() || needed.is_some() {
                problems.push(format!("outcome {}", describe_outcome(other)));
            }
        }
    }
    if rec.kind.is_write() && (values.is_some() || siblings.is_some()) {
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

/// An operation's outcome in words, for what an `op` expectation found.
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

/// From this many clients writing blind (without read-modify-write), `dynsim run` warns that siblings will pile up.
pub const BLIND_WRITERS_WARN: u32 = 4;

/// The one-line warning for a load whose clients write blind: each blind put
/// is concurrent with every version held, so a key's siblings grow with its
/// puts and every get and put costs more as the run goes. Real Dynamo does
/// this too, so the run goes ahead; the warning says why it slows.
pub fn blind_write_warning(s: &Scenario) -> Option<String> {
    let load = s.load.as_ref()?;
    let blind = load.read_fraction < 1.0 && !load.read_modify_write;
    (blind && load.clients >= BLIND_WRITERS_WARN).then(|| {
        format!(
            "warning: {} clients write blind (read_modify_write = false) to {} keys: siblings will pile up, and each get and put costs more as they do",
            load.clients, load.keys
        )
    })
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

/// The spans of the run in which the cluster is healthy: every node up and
/// running, no partition or one-way cut, no loss, duplication or slowness
/// (clock skew does not count). Replayed from the timeline's fault steps; the
/// last span ends at `end`.
pub fn healthy_spans(s: &Scenario, end: SimTime) -> Vec<(SimTime, SimTime)> {
    use sim_core::Fault;
    if s.slow_kind_is_a_fault() {
        return Vec::new();
    }
    let nodes = s.cluster.nodes as usize;
    let (mut down, mut paused, mut slow) =
        (vec![false; nodes], vec![false; nodes], vec![false; nodes]);
    let (mut cut, mut loss, mut dup) = (false, false, false);
    let mut spans = Vec::new();
    let mut healthy_from = Some(SimTime::ZERO);
    // A trigger's fault comes at a time only the run knows: the whole span
    // in which it may fire and last counts as faulty.
    let mut triggered = 0usize;
    // (when, faults, trigger window change, a lost or copied message: a
    // fault of one instant, which ends a healthy span and starts the next).
    let mut timeline: Vec<(SimTime, Vec<Fault>, isize, bool)> = Vec::new();
    for st in &s.steps {
        match &st.action {
            Action::Fault(f) => timeline.push((st.at, vec![f.clone()], 0, false)),
            Action::HealAll => timeline.push((
                st.at,
                crate::scenario::heal_all(s.cluster.nodes, &s.net),
                0,
                false,
            )),
            Action::Trigger(t) => {
                timeline.push((st.at, Vec::new(), 1, false));
                timeline.push((t.until + t.lasting, Vec::new(), -1, false));
            }
            Action::Held(h) if held_is_a_fault(h) => timeline.push((st.at, Vec::new(), 0, true)),
            _ => {}
        }
    }
    // Stable: steps at one time keep their file order.
    timeline.sort_by_key(|(at, _, _, _)| *at);
    for (at, faults, window, instant) in timeline {
        triggered = triggered.saturating_add_signed(window);
        for f in faults {
            let set = |v: &mut Vec<bool>, n: sim_core::NodeId, on: bool| {
                if let Some(x) = v.get_mut(n.index()) {
                    *x = on;
                }
            };
            match f {
                Fault::Crash { node, .. } => set(&mut down, node, true),
                Fault::Restart { node } => set(&mut down, node, false),
                Fault::Pause { node } => set(&mut paused, node, true),
                Fault::Resume { node } => set(&mut paused, node, false),
                Fault::Partition { .. } | Fault::OneWay { .. } => cut = true,
                Fault::Heal => cut = false,
                Fault::ClockSkew { .. } => {}
                Fault::Loss { p } => loss = p > 0.0,
                Fault::Duplicate { p } => dup = p > 0.0,
                Fault::Slow { node, extra } => {
                    set(&mut slow, node, extra > sim_core::SimDuration::ZERO)
                }
            }
        }
        let ok = triggered == 0
            && !cut
            && !loss
            && !dup
            && !down.iter().chain(&paused).chain(&slow).any(|&b| b);
        if let (true, Some(from)) = (instant, healthy_from) {
            if from < at {
                spans.push((from, at));
            }
            healthy_from = Some(at);
        }
        match (healthy_from, ok) {
            (Some(from), false) => {
                if from < at {
                    spans.push((from, at));
                }
                healthy_from = None;
            }
            (None, true) => healthy_from = Some(at),
            _ => {}
        }
    }
    if let Some(from) = healthy_from {
        if from <= end {
            spans.push((from, end));
        }
    }
    spans
}
