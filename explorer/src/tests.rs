//! The explorer on small scopes: each reduction against plain search, the
//! threads, the random walks, and the digests of equivalent orders.

use crate::*;
use dynamo_model::ClusterConfig;
use dynamo_observer::{ClusterPlan, Entry, OpKind};
use sim_core::{ClientId, NetConfig, NodeId};

fn op(kind: OpKind, value: Option<&str>) -> ScopeOp {
    ScopeOp {
        kind,
        key: dynamo_model::Key::md5("k"),
        value: value.map(str::to_string),
    }
}

/// Three nodes, N = 3, R = W = 2; the clients' operations as given, each client at its own node.
fn scope(clients: Vec<Vec<ScopeOp>>, budgets: Budgets) -> Scope {
    let cfg = ClusterConfig {
        nodes: 3,
        n: 3,
        r: 2,
        w: 2,
        gossip: false,
        anti_entropy: false,
        ..ClusterConfig::default()
    };
    let plan = ClusterPlan::new(cfg, &NetConfig::default()).expect("valid");
    Scope {
        plan,
        seed: 1,
        clients: clients
            .into_iter()
            .enumerate()
            .map(|(i, ops)| ClientScope {
                id: ClientId(i as u32),
                entry: Entry::Node(NodeId(i as u32)),
                ops,
                read_modify_write: true,
            })
            .collect(),
        budgets,
        timers: Vec::new(),
        bounds: DEFAULT_BOUNDS,
        search: Search::Dfs,
        reduction: Reduction::None,
        always_judge_reads: false,
    }
}

/// One put, and along each path a drop, a copy and a crash.
fn faulty_put() -> Scope {
    scope(
        vec![vec![op(OpKind::Put, Some("v0"))]],
        Budgets {
            drops: 1,
            duplicates: 1,
            crashes: 1,
            ..Budgets::default()
        },
    )
}

/// A put and a concurrent get.
fn put_and_get() -> Scope {
    scope(
        vec![
            vec![op(OpKind::Put, Some("v0"))],
            vec![op(OpKind::Get, None)],
        ],
        Budgets::default(),
    )
}

fn run(s: &Scope, search: Search, reduction: Reduction, threads: usize) -> Report {
    let s = Scope {
        search,
        reduction,
        ..s.clone()
    };
    let r = explore(&s, threads, true, &Quiet);
    assert!(r.complete, "{:?}", r.stopped);
    r
}

fn violated(r: &Report) -> Vec<&str> {
    let mut v: Vec<&str> = r.violations.iter().map(|f| f.property).collect();
    v.sort_unstable();
    v
}

#[test]
fn each_reduction_reaches_the_terminal_states_plain_search_reaches() {
    // Stateless DPOR takes many more transitions: it runs on the smaller scope.
    for (s, dpor) in [(faulty_put(), true), (put_and_get(), false)] {
        let plain = run(&s, Search::Dfs, Reduction::None, 1);
        let terminals = plain.terminal_digests.clone().expect("kept");
        assert!(terminals.len() > 50, "a scope with something to reduce");
        let mut ways = vec![
            (Search::Dfs, Reduction::SleepSets),
            (Search::Bfs, Reduction::SleepSets),
            (Search::Bfs, Reduction::None),
        ];
        if dpor {
            ways.push((Search::Dfs, Reduction::Dpor));
        }
        for (search, reduction) in ways {
            let r = run(&s, search, reduction, 1);
            assert_eq!(
                r.terminal_digests.as_ref(),
                Some(&terminals),
                "{search:?} with {reduction:?}"
            );
            assert_eq!(
                violated(&r),
                violated(&plain),
                "{search:?} with {reduction:?}"
            );
            assert_eq!(
                r.sometimes, plain.sometimes,
                "{search:?} with {reduction:?}"
            );
        }
    }
}

#[test]
fn sleep_sets_take_fewer_transitions() {
    let s = faulty_put();
    let plain = run(&s, Search::Dfs, Reduction::None, 1);
    let sleep = run(&s, Search::Dfs, Reduction::SleepSets, 1);
    assert!(
        sleep.progress.generated < plain.progress.generated,
        "{} against {}",
        sleep.progress.generated,
        plain.progress.generated
    );
}

#[test]
fn breadth_first_on_two_threads_finds_what_one_thread_finds() {
    let s = faulty_put();
    let one = run(&s, Search::Bfs, Reduction::SleepSets, 1);
    let two = run(&s, Search::Bfs, Reduction::SleepSets, 2);
    assert_eq!(one.terminal_digests, two.terminal_digests);
    assert_eq!(one.progress.generated, two.progress.generated);
    assert_eq!(one.progress.unique, two.progress.unique);
    assert_eq!(one.sometimes, two.sometimes);
    let steps = |r: &Report| -> Vec<String> {
        r.violations
            .iter()
            .map(|f| format!("{} {:?}", f.property, f.steps))
            .collect()
    };
    assert_eq!(steps(&one), steps(&two));
}

#[test]
fn random_walks_replay_and_do_not_depend_on_threads() {
    let s = Scope {
        search: Search::Random {
            walks: 40,
            change_points: 2,
            seed: 7,
        },
        ..faulty_put()
    };
    let a = explore(&s, 1, false, &Quiet);
    let b = explore(&s, 2, false, &Quiet);
    assert_eq!(a.progress.walks, 40);
    assert_eq!(a.progress.generated, b.progress.generated);
    assert_eq!(a.sometimes, b.sometimes);
    let bound = a.pct.expect("a bound");
    assert_eq!(bound.depth, 3);
    assert!(bound.per_walk > 0.0 && bound.miss < 1.0);
    // Another seed walks elsewhere.
    let c = explore(
        &Scope {
            search: Search::Random {
                walks: 40,
                change_points: 2,
                seed: 8,
            },
            ..faulty_put()
        },
        1,
        false,
        &Quiet,
    );
    assert_ne!(
        (a.progress.generated, a.sometimes.clone()),
        (c.progress.generated, c.sometimes)
    );
}

#[test]
fn independent_actions_commute_to_one_digest() {
    let s = put_and_get();
    let mut st = State::initial(&s, false);
    // Both clients issue; then the two requests, to n0 and n1, in either order.
    for c in 0..2 {
        st.apply_in_place(&s, Action::Issue { client: c })
            .expect("enabled");
    }
    let en = st.enabled(&s);
    let reqs: Vec<Action> = en
        .iter()
        .filter(|a| matches!(a, Action::Release { .. }))
        .copied()
        .collect();
    assert_eq!(reqs.len(), 2);
    let (a, fa) = st.apply(&s, reqs[0]).expect("enabled");
    let (b, fb) = st.apply(&s, reqs[1]).expect("enabled");
    assert!(fa.independent(&fb), "{fa:?} {fb:?}");
    let (ab, _) = a.apply(&s, reqs[1]).expect("still enabled");
    let (ba, _) = b.apply(&s, reqs[0]).expect("still enabled");
    assert_eq!(ab.digest(), ba.digest());
    assert_ne!(a.digest(), b.digest());
}

#[test]
fn bounds_too_large_for_memory_are_named() {
    let mut s = faulty_put();
    s.bounds.max_states = 1 << 40;
    let problems = s.check_bounds();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("max_states = 1099511627776 needs up to"),
        "{problems:?}"
    );
    assert!(problems[0].contains("lower max_states to"), "{problems:?}");
}

#[test]
fn every_timer_label_is_known() {
    for l in TIMER_LABELS {
        assert!(
            ALWAYS_TIMERS.contains(l) ^ COUNTED_TIMERS.contains(l),
            "{l}"
        );
    }
    assert_eq!(
        ALWAYS_TIMERS.len() + COUNTED_TIMERS.len(),
        TIMER_LABELS.len()
    );
}
