//! Random walks over the same actions, with a PCT-style scheduler
//! (Burckhardt et al., ASPLOS 2010; for message passing, Ozkan et al.,
//! OOPSLA 2018): every owner of actions (each node, each client) gets a
//! random priority; each step takes an action of the highest-priority
//! owner that has one; at `d - 1` random steps the owner just scheduled
//! drops to the lowest priority. Faults and waiting are taken with a small
//! probability while their budgets last. Seeded and replayable; no visited set.

use crate::judge;
use crate::scope::Scope;
use crate::search::{PctBound, Progress, Report, Watch, par_map, walk_rng};
use crate::state::{Action, State, steps_of};
use sim_core::Held;

/// What one walk found.
struct Walked {
    steps: u32,
    broken: Vec<(judge::Property, String, Vec<crate::state::Step>)>,
    judged: Option<(judge::Judged, State)>,
}

/// The owner of an action: a node or a client (`None`: the world's faults and time).
fn owner(state: &State, a: &Action, nodes: u32) -> Option<u32> {
    match a {
        Action::Issue { client } => Some(nodes + client),
        Action::Release { item } => state
            .cluster
            .held()
            .iter()
            .find(|h| sim_core::item_digest(h) == *item)
            .map(|h: &Held<_>| h.node().0),
        _ => None,
    }
}

fn one_walk(scope: &Scope, seed: u64, w: u64, change_points: u32) -> Walked {
    let mut rng = walk_rng(seed, w);
    let nodes = scope.plan.cfg().nodes;
    let owners = nodes + scope.clients.len() as u32;
    let k = scope.bounds.max_depth.max(1);
    // Priorities: distinct, above the change points' values.
    let mut prio: Vec<u64> = (0..owners)
        .map(|i| u64::from(change_points) + 1 + u64::from(i))
        .collect();
    rng.shuffle(&mut prio);
    let mut changes: Vec<u32> = (0..change_points)
        .map(|_| 1 + rng.below(u64::from(k)) as u32)
        .collect();
    changes.sort_unstable();
    let mut state = State::initial(scope, false);
    let mut out = Walked {
        steps: 0,
        broken: Vec::new(),
        judged: None,
    };
    for step in 1..=k {
        let enabled = state.enabled(scope);
        if enabled.is_empty() {
            let j = judge::judge_terminal(&state, scope.always_judge_reads);
            out.judged = Some((j, state));
            break;
        }
        let (progress, world): (Vec<Action>, Vec<Action>) = enabled
            .iter()
            .partition(|a| owner(&state, a, nodes).is_some());
        let pick = if !world.is_empty()
            && (progress.is_empty() || rng.chance(1.0 / (progress.len() as f64 + 1.0)))
        {
            world[rng.index(world.len())]
        } else {
            *progress
                .iter()
                .max_by_key(|a| prio[owner(&state, a, nodes).unwrap_or(0) as usize])
                .expect("not empty")
        };
        if let Some(o) = owner(&state, &pick, nodes) {
            for (i, c) in changes.iter().enumerate() {
                if *c == step {
                    prio[o as usize] = i as u64 + 1;
                }
            }
        }
        if state.apply_in_place(scope, pick).is_none() {
            break;
        }
        out.steps = step;
        let broken = judge::broken_now(&state);
        if !broken.is_empty() {
            let steps = steps_of(&state.path);
            out.broken = broken
                .into_iter()
                .map(|(p, m)| (p, m, steps.clone()))
                .collect();
            break;
        }
    }
    out
}

/// Runs `walks` walks, in batches over `threads` threads; the report does
/// not depend on the number of threads.
pub(crate) fn walk(
    scope: &Scope,
    walks: u64,
    change_points: u32,
    seed: u64,
    threads: usize,
    watch: &dyn Watch,
) -> Report {
    let mut report = Report::new();
    let mut progress = Progress::default();
    let mut w = 0u64;
    let batch = (threads.max(1) as u64) * 16;
    while w < walks {
        if watch.stop() {
            report.stopped = Some("interrupted".into());
            break;
        }
        let ids: Vec<u64> = (w..walks.min(w + batch)).collect();
        let done = par_map(&ids, threads, |&i| one_walk(scope, seed, i, change_points));
        for walked in done {
            progress.walks += 1;
            progress.generated += u64::from(walked.steps);
            progress.depth = progress.depth.max(walked.steps);
            for (p, m, steps) in walked.broken {
                report.found(p, m, steps, None);
            }
            if let Some((j, state)) = walked.judged {
                progress.terminal += 1;
                report.judged(&j, &state);
            }
        }
        w += ids.len() as u64;
        watch.progress(&progress);
    }
    report.progress = progress;
    let owners = scope.plan.cfg().nodes + scope.clients.len() as u32;
    let steps = scope.bounds.max_depth.max(1);
    let depth = change_points + 1;
    let per_walk = 1.0 / (f64::from(owners) * f64::from(steps).powi(change_points as i32));
    report.pct = Some(PctBound {
        owners,
        steps,
        depth,
        per_walk,
        miss: (1.0 - per_walk).powf(progress.walks as f64),
    });
    report
}
