//! Every scenario under `scenarios/`: its expectations hold, two runs give
//! byte-identical traces, and its trace and summary match the reviewed snapshot.

use dynsim_tests::{rel, root, run_scenario};

/// Traces longer than this are kept in the snapshot as their header, their
/// length and a digest: a change still fails the test, and `dynsim run FILE
/// --trace -` shows the whole trace. Shorter ones are kept in full, for review.
const MAX_SNAPSHOT_TRACE_LINES: usize = 4_000;

fn kept_trace(trace: &str) -> String {
    let lines = trace.lines().count();
    if lines <= MAX_SNAPSHOT_TRACE_LINES {
        return trace.to_string();
    }
    let header: Vec<&str> = trace.lines().take_while(|l| l.starts_with('#')).collect();
    let footer: Vec<&str> = trace
        .lines()
        .skip(header.len())
        .filter(|l| l.starts_with('#'))
        .collect();
    let digest = dynamo_model::fnv1a(trace.as_bytes(), 0);
    format!(
        "{}\n... {lines} trace lines in all, FNV-1a digest {digest:016x} (too long to keep; see it with --trace -)\n{}",
        header.join("\n"),
        footer.join("\n")
    )
}

// Each scenario meets its own expectations, replays byte for byte, and matches its snapshot.
#[test]
fn every_scenario() {
    // Scenarios are read relative to the workspace root, so paths in traces are stable.
    std::env::set_current_dir(root()).expect("workspace root");
    insta::glob!("../../scenarios", "**/*.toml", |path| {
        if rel(path).starts_with("scenarios/check/") {
            // Check scopes, not scenarios: tests/suite/check.rs explores them.
            return;
        }
        let (trace, summary, ok) = run_scenario(path);
        let (again, _, _) = run_scenario(path);
        if let Some((line, a, b)) = dynsim::runner::first_difference(&trace, &again) {
            panic!(
                "{}: two runs differ first at trace line {line}:\n  run 1: {a}\n  run 2: {b}",
                rel(path)
            );
        }
        assert!(ok, "{} is not as expected:\n{summary}", rel(path));
        insta::assert_snapshot!(format!(
            "{}\n---- summary ----\n{summary}",
            kept_trace(&trace)
        ));
    });
}

/// The text of the first fenced block after `marker` in the top-level README.
fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let at = readme.find(marker).expect("the marker is in README.md");
    let start = at + readme[at..].find("```\n").expect("a block") + 4;
    let len = readme[start..].find("```").expect("closed block");
    readme[start..start + len].to_string()
}

// The README shows the main job's summary exactly as this build prints it, and
// its trace excerpt is made of lines of the real trace, in order.
#[test]
fn readme_samples_match_the_build() {
    std::env::set_current_dir(root()).expect("workspace root");
    let path = root().join("scenarios/failure.toml");
    let (trace, summary, ok) = dynsim_tests::run_scenario(&path);
    assert!(ok);
    let shown = readme_block("then reads the key back:");
    assert_eq!(
        shown, summary,
        "README.md's main-job output is stale; paste `dynsim run scenarios/failure.toml` into it"
    );
    let excerpt = readme_block("one per line (an excerpt");
    let mut rest = trace.lines();
    for line in excerpt.lines() {
        assert!(
            rest.any(|t| t == line),
            "README.md's trace excerpt line is not in the trace (in order): {line}"
        );
    }
}

// The annotated example in scenarios/README.md is a valid scenario that meets its own expectations.
#[test]
fn readme_example_is_valid() {
    let readme = std::fs::read_to_string(root().join("scenarios/README.md")).unwrap();
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let len = readme[start..].find("```").expect("closed block");
    let s = dynsim::scenario::parse("scenarios/README.md", &readme[start..start + len])
        .unwrap_or_else(|d| panic!("{d}"));
    let report = dynsim::runner::run(&s, s.seed, false).expect("the scenario runs");
    assert!(
        report.as_expected(),
        "{}",
        dynsim::report::summary::render(&report)
    );
}

fn without_lines(mut s: dynsim::scenario::Scenario) -> dynsim::scenario::Scenario {
    for st in &mut s.steps {
        st.line = 0;
    }
    for e in &mut s.expects {
        e.line = 0;
    }
    s
}

// Writing any scenario as TOML and reading it back gives the same scenario (what `shrink` relies on).
#[test]
fn scenarios_round_trip_through_toml() {
    std::env::set_current_dir(root()).expect("workspace root");
    for path in dynsim_tests::scenario_files() {
        let name = rel(&path);
        let s = dynsim::scenario::load(&name).unwrap();
        let text = dynsim::scenario::write::to_toml(&s);
        let back = dynsim::scenario::parse(&name, &text)
            .unwrap_or_else(|d| panic!("{name} written back does not parse:\n{d}\n{text}"));
        assert_eq!(without_lines(back), without_lines(s), "{name}");
    }
}

// A latency may sit on a constant offset, and a client's request and reply
// may have their own latencies, each over `client_latency`; written out and
// read back, the scenario is the same.
#[test]
fn offsets_and_one_way_client_latencies_read_and_round_trip() {
    use sim_core::Latency;
    let text = "name = \"timing\"\nseed = 1\n[cluster]\nnodes = 3\n[network]\n\
        latency = { offset = \"75ms\", dist = \"exponential\", mean = \"1ms\" }\n\
        client_latency = \"2ms\"\nclient_reply_latency = \"0ms\"\n";
    let s = dynsim::scenario::parse("timing.toml", text).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        s.net.latency,
        Latency::Shifted {
            offset_us: 75_000.0,
            inner: Box::new(Latency::Exponential { mean_us: 1_000.0 })
        }
    );
    assert_eq!(s.net.client_request, Latency::Constant { us: 2_000.0 });
    assert_eq!(s.net.client_reply, Latency::Constant { us: 0.0 });
    let written = dynsim::scenario::write::to_toml(&s);
    assert!(written.contains("client_request_latency"), "{written}");
    let back = dynsim::scenario::parse("timing.toml", &written).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(without_lines(back), without_lines(s));
}

// Each request-routing policy sends a request where it says (§4.5): the
// load balancer to any node, partition-aware clients to the first node of
// the key's preference list that is up, proxy routing to a token-less
// coordinator, which never forwards and sends to the key's replicas.
#[test]
fn routing_policies_send_requests_where_they_say() {
    use sim_core::NodeId;
    let scenario = |via: &str| {
        format!(
            "name = \"routing\"\nseed = 4\nduration = \"4s\"\n[cluster]\nnodes = 7\nproxies = 2\nn = 3\nr = 2\nw = 2\n\
             [[steps]]\nat = \"0ms\"\ndo = \"crash\"\nnode = \"n1\"\n\
             [load]\nclients = 4\npacing = \"open\"\nrate = 300.0\nkeys = 40\nops = 600\nstop = \"3s\"\nvia = \"{via}\"\n"
        )
    };
    let run = |via: &str| {
        let s = dynsim::scenario::parse("routing.toml", &scenario(via))
            .unwrap_or_else(|d| panic!("{d}"));
        dynsim::runner::run(&s, s.seed, false).expect("the scenario runs")
    };
    let proxies = [NodeId(5), NodeId(6)];
    let forwards = |r: &dynsim::runner::Report| {
        let i = <dynamo_model::Msg as sim_core::Message>::KINDS
            .iter()
            .position(|k| *k == "Forward")
            .unwrap();
        r.cluster.sim.core.stats.sent[i]
    };

    let lb = run("load-balancer");
    let mut per_node = [0u32; 7];
    for op in lb.cluster.history() {
        per_node[op.node.unwrap().index()] += 1;
    }
    assert!(
        per_node.iter().all(|&n| n > 40),
        "every node gets requests: {per_node:?}"
    );

    let pa = run("partition-aware");
    for op in pa.cluster.history() {
        let first_up = pa
            .cluster
            .ring
            .walk(&op.key)
            .find(|&n| n != NodeId(1))
            .unwrap();
        assert_eq!(op.node, Some(first_up), "{} of {}", op.id, op.key);
        assert!(!proxies.contains(&first_up));
    }
    assert!(
        pa.cluster
            .history()
            .iter()
            .any(|op| pa.cluster.ring.preference_list(&op.key, 1)[0] == NodeId(1)),
        "some key's first owner is the crashed n1, so skipping it was tested"
    );

    let px = run("proxy");
    let mut used = [0u32; 2];
    for op in px.cluster.history() {
        let at = op.node.unwrap();
        assert!(proxies.contains(&at), "{} went to {at}", op.id);
        used[at.index() - 5] += 1;
    }
    assert!(
        used.iter().all(|&n| n > 100),
        "both proxies coordinate: {used:?}"
    );
    assert_eq!(forwards(&px), 0, "a proxy coordinates; it never forwards");
    assert!(
        forwards(&lb) > 0,
        "the load balancer's non-owners do forward"
    );
    // The proxies own no part of the ring and hold no data.
    for p in proxies {
        assert!(
            px.cluster
                .ring
                .walk(&px.cluster.history()[0].key)
                .all(|n| n != p)
        );
        assert!(
            px.cluster.sim.nodes[p.index()].store().is_empty(),
            "{p} holds data"
        );
    }
    assert!(
        px.unexpected_verdicts.is_empty(),
        "{:?}",
        px.unexpected_verdicts
    );
}

// A load that never lets simulated time pass (no latency anywhere, no think
// time, no cap on operations) stops at once with a finding that says why,
// instead of running, and growing its history, without end.
#[test]
fn a_run_whose_time_stops_says_so() {
    let s = dynsim::scenario::parse(
        "zeno.toml",
        "name = \"zeno\"\nseed = 2\nduration = \"3s\"\n[cluster]\nnodes = 4\n\
         [load]\nclients = 3\nstop = \"2s\"\n",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let r = dynsim::runner::run(&s, s.seed, false).expect("the scenario runs");
    assert_eq!(r.stop, sim_core::Stop::Stalled);
    assert_eq!(r.cluster.now(), sim_core::SimTime::ZERO);
    assert!(
        r.unexpected_verdicts
            .iter()
            .any(|v| v.contains("the run stalled at 0.000ms")),
        "{:?}",
        r.unexpected_verdicts
    );
}
