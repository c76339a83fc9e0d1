//! `dynsim check`: every bundled scope loads, each negative scope finds its
//! bug class, and each counterexample replays through `dynsim run` to the
//! same violation in fewer events than the negative scenario's own run.

use dynamo_explorer::{Quiet, explore};
use dynamo_observer::Status;
use dynsim::scenario::scope;
use dynsim_tests::{rel, root, toml_files};

#[test]
fn every_scope_loads() {
    let files = toml_files(&root().join("scenarios/check"));
    assert!(files.len() >= 8, "{files:?}");
    for path in files {
        if let Err(d) = scope::load(&path.to_string_lossy()) {
            panic!("{}: {d}", rel(&path));
        }
    }
}

/// Each negative scope, the property it must break, and the negative
/// scenario whose bug class it covers.
const NEGATIVE: &[(&str, &str, &str)] = &[
    (
        "duplicate_ack_counted",
        "write-quorum",
        "duplicate_ack_counted",
    ),
    (
        "duplicate_reply_counted",
        "read-quorum",
        "duplicate_reply_counted",
    ),
    (
        "duplicate_replicas",
        "distinct-preference-lists",
        "duplicate_replicas",
    ),
    ("ok_after_failed", "one-reply", "ok_after_failed"),
    (
        "repair_not_merged",
        "merge-on-transfer",
        "repair_not_merged",
    ),
    ("unreconciled_reads", "sound-gets", "unreconciled_reads"),
    ("lww_lost_update", "no-lost-writes", "lww_lost_update"),
    ("dropped_context", "needless-siblings", "dropped_context"),
];

fn events(s: &dynsim::scenario::Scenario) -> u64 {
    let r = dynsim::runner::run(s, s.seed, false).expect("runs");
    r.cluster.sim.core.stats.events
}

#[test]
fn each_negative_scope_finds_its_bug_and_the_counterexample_replays() {
    std::env::set_current_dir(root()).expect("workspace root");
    for (scope_name, property, negative) in NEGATIVE {
        let path = format!("scenarios/check/negative/{scope_name}.toml");
        let file = scope::load(&path).unwrap_or_else(|d| panic!("{d}"));
        let report = explore(&file.scope, 1, false, &Quiet);
        let Some(found) = report.violations.iter().find(|f| f.property == *property) else {
            panic!(
                "{path}: {property} not found; found {:?}",
                report.violations
            );
        };
        // Written and read back as a file, it replays to the same violation.
        let cex = dynsim::explore::check::counterexample(&file, found);
        let text = dynsim::scenario::write::to_toml(&cex);
        let again = dynsim::scenario::parse("counterexample.toml", &text).unwrap_or_else(|d| {
            panic!("{path}: the counterexample does not read back: {d}\n{text}")
        });
        let run = dynsim::runner::run(&again, again.seed, false).expect("runs");
        let verdict = run
            .verdicts
            .iter()
            .find(|v| v.checker == *property)
            .expect("judged");
        assert_eq!(verdict.status, Status::Fail, "{path}: replay\n{text}");
        assert_eq!(
            verdict.violations.first(),
            Some(&found.message),
            "{path}: the replay breaks it the same way"
        );
        assert!(run.as_expected(), "{path}: the file declares the failure");
        // Shorter than the negative scenario's own run, in events.
        let neg = dynsim::scenario::load(&format!("scenarios/negative/{negative}.toml"))
            .expect("negative scenario");
        let (ours, theirs) = (run.cluster.sim.core.stats.events, events(&neg));
        assert!(
            ours <= theirs,
            "{path}: {ours} events against the negative scenario's {theirs}"
        );
    }
}

#[test]
fn the_bugs_scopes_hold_without_the_bug() {
    std::env::set_current_dir(root()).expect("workspace root");
    for (scope_name, property, _) in NEGATIVE {
        let path = format!("scenarios/check/negative/{scope_name}.toml");
        let mut file = scope::load(&path).unwrap_or_else(|d| panic!("{d}"));
        if file.cluster.bug.is_none() {
            continue; // a configuration, not a bug: it fails by design
        }
        let mut cfg = file.cluster.clone();
        cfg.bug = None;
        file.scope.plan =
            dynamo_observer::ClusterPlan::new(cfg, &sim_core::NetConfig::default()).expect("valid");
        let report = explore(&file.scope, 1, false, &Quiet);
        assert!(report.complete, "{path}");
        assert!(
            report.violations.is_empty(),
            "{path} without its bug still breaks {property}: {:?}",
            report.violations
        );
    }
}

fn problems(text: &str) -> String {
    match scope::parse("scope.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(d) => d.to_string(),
    }
}

const CLUSTER: &str = "name = \"s\"\n[cluster]\nnodes = 3\nn = 3\nr = 2\nw = 2\n";

#[test]
fn bad_scopes_are_refused_with_what_to_change() {
    let client = "[[check.client]]\nnode = \"n0\"\nops = [\"put k v\"]\n";
    let e = problems(&format!(
        "{CLUSTER}[check]\nmax_states = 100000000000\n{client}"
    ));
    assert!(
        e.contains("scope.toml:8")
            && e.contains("check.max_states")
            && e.contains("lower max_states to"),
        "{e}"
    );
    let e = problems(&format!("{CLUSTER}[check]\nmax_depth = 0\n{client}"));
    assert!(e.contains("check.max_depth"), "{e}");
    let e = problems(&format!(
        "{CLUSTER}[check]\n[[check.client]]\nnode = \"n7\"\nops = [\"put k v\"]\n"
    ));
    assert!(e.contains("unknown node n7") && e.contains("n0..n2"), "{e}");
    let e = problems(&format!(
        "{CLUSTER}[check]\n[[check.client]]\nnode = \"n0\"\nops = [\"write k\"]\n"
    ));
    assert!(e.contains("\"put KEY VALUE\""), "{e}");
    let e = problems(&format!("{CLUSTER}[check]\ndrops = 99\n{client}"));
    assert!(e.contains("check.drops"), "{e}");
    let e = problems(&format!(
        "{CLUSTER}[check]\nmax_memory = \"lots\"\n{client}"
    ));
    assert!(e.contains("GiB"), "{e}");
    let e = problems(&format!(
        "{CLUSTER}[check]\n[check.timers]\ngossip = 1\nsoon = 2\n{client}"
    ));
    assert!(e.contains("soon"), "{e}");
    let e = problems(CLUSTER);
    assert!(e.contains("[check]"), "{e}");
    let e = problems(&format!(
        "{CLUSTER}[check]\nsearch = \"bfs\"\nreduction = \"dpor\"\n{client}"
    ));
    assert!(e.contains("DPOR searches depth first"), "{e}");
}

#[test]
fn a_scope_given_to_run_names_check() {
    let e = dynsim::scenario::parse(
        "scenarios/check/three_nodes.toml",
        &std::fs::read_to_string(root().join("scenarios/check/three_nodes.toml")).expect("file"),
    )
    .expect_err("a scope is not a scenario")
    .to_string();
    assert!(
        e.contains("dynsim check scenarios/check/three_nodes.toml"),
        "{e}"
    );
}
