//! `dynsim check`'s library side: a finding of the explorer turned into an
//! explicit scenario that forces the exact schedule found, which `dynsim
//! run` replays to the same violation, `dynsim shrink` cuts down and
//! `dynsim serve` charts.

use crate::scenario::scope::ScopeFile;
use crate::scenario::{Action, Check, Expect, OpStep, Scenario, Step, SwarmSwitches};
use dynamo_explorer::{Finding, StepKind};
use sim_core::{NetConfig, SimDuration, SimTime};

/// The counterexample scenario of `finding`, found exploring `file`.
pub fn counterexample(file: &ScopeFile, finding: &Finding) -> Scenario {
    let scope = &file.scope;
    let mut steps: Vec<Step> = Vec::new();
    // The scenario step of each op in plan order, for contexts.
    let mut op_steps: Vec<usize> = Vec::new();
    let mut faulty = false;
    for st in &finding.steps {
        let action = match &st.kind {
            StepKind::Op {
                client,
                index,
                op,
                context_from,
            } => {
                let c = &scope.clients[*index as usize];
                let o = &c.ops[*op as usize];
                op_steps.push(steps.len());
                Action::Op(OpStep {
                    kind: o.kind,
                    entry: c.entry.clone(),
                    key: o.key.clone(),
                    value: o.value.clone(),
                    name: Some(format!("{client}-{}{}", o.kind.name(), op + 1)),
                    context_from: context_from.and_then(|p| op_steps.get(p).copied()),
                    client: *client,
                })
            }
            StepKind::Fault(f) => {
                faulty = true;
                Action::Fault(f.clone())
            }
            other => {
                faulty |= crate::runner::held_is_a_fault(other);
                Action::Held(other.clone())
            }
        };
        steps.push(Step {
            at: st.at,
            line: 0,
            action,
        });
    }
    let last = steps.last().map_or(SimTime::ZERO, |s| s.at);
    let end = match finding.completion {
        Some((from, end)) => {
            if faulty {
                steps.push(Step {
                    at: from,
                    line: 0,
                    action: Action::HealAll,
                });
            }
            steps.push(Step {
                at: from,
                line: 0,
                action: Action::Held(StepKind::RunFreely),
            });
            end
        }
        None => last,
    };
    let how = if finding.completion.is_some() {
        "the last steps heal everything and let the cluster run freely, as the explorer completes a terminal state; the checker judges the end"
    } else {
        "the invariant breaks at the last step"
    };
    let mut s = Scenario {
        path: String::new(),
        name: format!("{}-{}", file.name, finding.property),
        description: format!(
            "Found by `dynsim check {}`: {} steps that break {}. The network delivers by steps, so each message, request and timer goes exactly when a step says; {how}. First violation: {}",
            file.path,
            finding.steps.len(),
            finding.property,
            finding.message
        ),
        seed: scope.seed,
        duration: SimDuration(end.as_us()),
        cluster: file.cluster.clone(),
        net: NetConfig::default(),
        steps,
        load: None,
        expects: dynamo_observer::checker(finding.property)
            .map(|c| Expect {
                at: None,
                line: 0,
                check: Check::Checker {
                    name: c.name.to_string(),
                    verdict: "fail".to_string(),
                },
            })
            .into_iter()
            .collect(),
        always_judge_reads: scope.always_judge_reads,
        swarm: SwarmSwitches::default(),
        hold: true,
    };
    // Other checkers the same path breaks are declared too, so that the
    // file runs as expected; the one found comes first.
    if let Ok(r) = crate::runner::run(&s, s.seed, false) {
        for v in &r.verdicts {
            let declared = s
                .expects
                .iter()
                .any(|e| matches!(&e.check, Check::Checker { name, .. } if name == v.checker));
            if v.status == dynamo_observer::Status::Fail && !declared {
                s.expects.push(Expect {
                    at: None,
                    line: 0,
                    check: Check::Checker {
                        name: v.checker.to_string(),
                        verdict: "fail".to_string(),
                    },
                });
            }
        }
    }
    s
}
