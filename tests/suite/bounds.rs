//! Memory that no input can exhaust: each bound stops or refuses a run that
//! would otherwise grow without end, with a message that says which bound.

use dynsim::runner;
use dynsim::scenario;
use sim_core::Stop;

/// A scenario: five nodes, links of `latency`, and `[load]` as given.
fn scenario(name: &str, nodes: u32, latency: &str, load: &str) -> scenario::Scenario {
    let text = format!(
        "name = \"{name}\"\nseed = 1\nduration = \"100s\"\n[cluster]\nnodes = {nodes}\n[network]\nlatency = {{ dist = \"constant\", value = \"{latency}\" }}\n{load}"
    );
    scenario::parse(name, &text).expect("a valid scenario")
}

// An open-loop load of 10 million operations a second against links of
// 1000 s: every operation stays in flight. The run stops as overloaded at
// the bound on operations in flight, instead of growing until memory runs
// out (it once reached 23 GB), and the report says which bounds there are.
#[test]
fn an_open_loop_far_above_the_cluster_stops_as_overloaded() {
    let s = scenario(
        "flood",
        5,
        "1000s",
        "[load]\nclients = 1000\npacing = \"open\"\nrate = 10000000.0\nkeys = 100\nread_fraction = 0.5\nops = 1000000000\nstop = \"100s\"\n",
    );
    let r = runner::run(&s, 1, false).expect("it runs");
    assert_eq!(r.stop, Stop::Overloaded);
    let issued = r.cluster.history().len() as u64;
    assert!(
        issued > dynamo_observer::MAX_OPS_IN_FLIGHT
            && issued <= dynamo_observer::MAX_OPS_IN_FLIGHT + 1_000,
        "{issued} operations issued"
    );
    assert!(
        r.unexpected_verdicts
            .iter()
            .any(|u| u.contains("100000 operations in flight")),
        "{:?}",
        r.unexpected_verdicts
    );
    assert!(!r.as_expected());
}

// Gossip under latencies far longer than its interval piles views up in
// flight (each as big as the cluster): the run stops at the bound on what
// is pending, in bytes, instead of exhausting memory.
#[test]
fn gossip_piling_up_in_flight_stops_as_overloaded() {
    let s = scenario("pile", 1000, "100000s", "");
    let r = runner::run(&s, 1, false).expect("it runs");
    assert_eq!(r.stop, Stop::Overloaded, "{}", r.cluster.now());
    assert!(
        r.unexpected_verdicts
            .iter()
            .any(|u| u.contains("1024 MiB of queued events and messages")),
        "{:?}",
        r.unexpected_verdicts
    );
}

// A trace kept in memory under a bound keeps its first records only and
// says that it overflowed; an expectation that reads it is then not judged
// when the kept records do not settle it.
#[test]
fn a_bounded_trace_keeps_its_first_records() {
    let path = dynsim_tests::root().join("scenarios/failure.toml");
    let s = scenario::load(path.to_str().expect("utf-8")).expect("loads");
    let whole = runner::run(&s, s.seed, true).expect("runs");
    let n = whole.cluster.sim.core.trace.records.len();
    assert!(n > 50 && !whole.cluster.sim.core.trace.overflowed());
    let kept = runner::run_kept(&s, s.seed, 50, usize::MAX).expect("runs");
    let trace = &kept.cluster.sim.core.trace;
    assert!(trace.overflowed());
    assert_eq!(trace.records.len(), 50);
    assert_eq!(
        format!("{:?}", trace.records),
        format!("{:?}", &whole.cluster.sim.core.trace.records[..50])
    );
    // The bytes bound cuts too.
    let kept = runner::run_kept(&s, s.seed, usize::MAX, 4096).expect("runs");
    let trace = &kept.cluster.sim.core.trace;
    assert!(trace.overflowed());
    assert!(
        trace
            .records
            .iter()
            .map(sim_core::Record::bytes)
            .sum::<usize>()
            <= 4096
    );
    // The checks cover the whole run either way.
    assert_eq!(kept.verdicts.len(), whole.verdicts.len());
    assert_eq!(kept.as_expected(), whole.as_expected());
}
