//! Seed sweeps: the correct model is clean, the checkers catch a broken
//! configuration, a failure replays from its seed, and shrinking keeps it
//! failing; every bundled file survives sweep, swarm and shrink; a sweep
//! streams, stops and resumes; merge refuses to mix sweeps.

use dynsim::cmd::{EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, SweepArgs};
use dynsim::explore::{merge, shrink, swarm, sweep};
use dynsim::runner;
use dynsim::scenario::{self, Scenario};
use dynsim_tests::{rel, root};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn five_nodes() -> Scenario {
    std::env::set_current_dir(root()).expect("workspace root");
    scenario::load("scenarios/sweep/five_nodes.toml").expect("the sweep base loads")
}

/// The sweep base with every repair mechanism switched off (the README's example).
fn no_repair() -> Scenario {
    std::env::set_current_dir(root()).expect("workspace root");
    scenario::load("scenarios/sweep/no_repair.toml").expect("the broken sweep base loads")
}

// A fixed range of seeds of the correct model, with faults, finds no violation
// (the wide 500-seed run is `dynsim sweep scenarios/sweep/five_nodes.toml --seeds 0..500`).
#[test]
fn correct_model_sweep_is_clean() {
    let results = clean_sweep(&five_nodes(), 0..32);
    // The swarm really did exercise the fault-handling paths.
    let used = |f: fn(&sweep::Coverage) -> bool| results.iter().filter(|r| f(&r.coverage)).count();
    assert!(
        used(|c| c.hinted_handoff) > 16,
        "hinted handoff in {} seeds",
        used(|c| c.hinted_handoff)
    );
    assert!(used(|c| c.anti_entropy_repair) > 8);
    assert!(used(|c| c.read_repair) > 8);
    assert!(results.iter().all(|r| r.ops > 100 && r.events > 1_000));
}

// Results come back in seed order and do not depend on the number of threads.
#[test]
fn results_do_not_depend_on_threads() {
    let s = five_nodes();
    let seeds: Vec<u64> = (100..108).collect();
    let one = sweep::run_seeds(&s, "f", &seeds, 1, |_| {});
    let three = sweep::run_seeds(&s, "f", &seeds, 3, |_| {});
    assert_eq!(one, three);
    assert_eq!(one.iter().map(|r| r.seed).collect::<Vec<_>>(), seeds);
}

// Shards of a range are disjoint and together cover it.
#[test]
fn shards_partition_the_range() {
    let mut all: Vec<u64> = (0..3)
        .flat_map(|k| sweep::shard_seeds((10, 50), (k, 3)))
        .collect();
    all.sort();
    assert_eq!(all, (10..50).collect::<Vec<_>>());
    assert!(sweep::parse_shard("3/3").is_err());
    assert!(sweep::parse_range("5..5").is_err());
}

// With every repair mechanism off, the sweep finds convergence failures; the
// failing seed replays to the same failure, and shrinking keeps it failing while
// cutting the explicit run down to a small fraction of its steps.
#[test]
fn broken_configuration_is_caught_replayed_and_shrunk() {
    let s = no_repair();
    let seeds: Vec<u64> = (0..12).collect();
    let results = sweep::run_seeds(&s, "no-repair", &seeds, 2, |_| {});
    let failing: Vec<_> = results.iter().filter(|r| !r.ok).collect();
    assert!(failing.len() >= 2, "{} of 12 seeds failed", failing.len());
    assert!(
        failing
            .iter()
            .all(|r| r.failed.contains(&"convergence".to_string()))
    );
    // Replay: the same seed, run on its own, fails the same way.
    let seed = failing[0].seed;
    let replay = runner::run(&swarm::apply(&s, &swarm::draw(&s, seed)), seed, true)
        .expect("the scenario runs");
    assert!(
        replay
            .verdicts
            .iter()
            .any(|v| v.checker == "convergence" && v.failed())
    );
    // Shrink.
    let found = shrink::shrink(&s, seed, |_, _| {}).expect("the seed fails");
    assert_eq!(found.checker, "convergence");
    let kept = found.smallest.steps.len();
    assert!(
        kept * 4 < found.original_steps,
        "{kept} of {} steps kept",
        found.original_steps
    );
    // The shrunk scenario, written out and read back, still fails the checker (and declares it).
    let text = dynsim::scenario::write::to_toml(&found.smallest);
    let back = scenario::parse("shrunk.toml", &text).expect("the shrunk scenario parses");
    let report = runner::run(&back, back.seed, false).expect("the scenario runs");
    assert!(
        report
            .verdicts
            .iter()
            .any(|v| v.checker == "convergence" && v.failed())
    );
    assert!(
        report.as_expected(),
        "it declares the failure it reproduces"
    );
}

// With gossip off, a fallback that once timed out on its target still hands its
// hints over, by probing the target each round (seeds 168 and 240 of this range
// kept a hint forever before the probe existed).
#[test]
fn gossip_off_sweep_still_converges() {
    let mut s = five_nodes();
    s.cluster.gossip = false;
    let seeds: Vec<u64> = (160..250).collect();
    let results = sweep::run_seeds(&s, "gossip-off", &seeds, 2, |_| {});
    let failed: Vec<_> = results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| (r.seed, r.violation.clone()))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}

/// Runs `seeds` of `s` on two threads and checks that none failed.
fn clean_sweep(s: &Scenario, seeds: std::ops::Range<u64>) -> Vec<sweep::SeedResult> {
    let seeds: Vec<u64> = seeds.collect();
    let results = sweep::run_seeds(s, &s.name, &seeds, 2, |_| {});
    let failed: Vec<_> = results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| (r.seed, r.failed.clone(), r.violation.clone()))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    results
}

/// A sweep base under `scenarios/sweep/`, by file stem.
fn base(name: &str) -> Scenario {
    std::env::set_current_dir(root()).expect("workspace root");
    scenario::load(&format!("scenarios/sweep/{name}.toml")).expect("the sweep base loads")
}

/// The seeds of `seeds` on which `s` fails, with the checkers that failed.
fn failing(s: &Scenario, seeds: std::ops::Range<u64>) -> Vec<(u64, Vec<String>)> {
    let seeds: Vec<u64> = seeds.collect();
    sweep::run_seeds(s, &s.name, &seeds, 2, |_| {})
        .into_iter()
        .filter(|r| !r.ok)
        .map(|r| (r.seed, r.failed))
        .collect()
}

// The correct model passes a few dozen seeds of every mechanism-isolating
// sweep base and the strict-quorum base, whose checkers fit their promise to
// the mechanisms on (the wide run is 10,000 seeds of each, see scenarios/README.md).
#[test]
fn isolated_mechanism_sweeps_are_clean() {
    for name in [
        "strict_quorum",
        "read_repair_only",
        "handoff_only",
        "anti_entropy_only",
        "read_repair_churn",
        "handoff_churn",
        "anti_entropy_churn",
    ] {
        let failed = failing(&base(name), 0..24);
        assert!(failed.is_empty(), "{name}: {failed:?}");
    }
}

// A faulty sweep seed judges quorum-reads get by get instead of skipping it,
// and convergence names the promise it fitted to the mechanisms that are on.
#[test]
fn faulty_seeds_judge_quorum_reads_and_name_their_promise() {
    let judged = |name: &str, seed: u64| {
        let s = base(name);
        let plan = swarm::draw(&s, seed);
        assert!(!plan.kinds.is_empty(), "seed {seed} drew faults");
        let report = runner::run(&swarm::apply(&s, &plan), seed, false).expect("the scenario runs");
        let shown = |c: &str| {
            let v = report
                .verdicts
                .iter()
                .find(|v| v.checker == c)
                .expect("ran");
            v.to_string()
        };
        (shown("quorum-reads"), shown("convergence"))
    };
    let (quorum, convergence) = judged("read_repair_only", 3);
    assert!(quorum.ends_with("pass"), "{quorum}");
    assert!(
        convergence.contains("read repair alone: 20 key(s)"),
        "{convergence}"
    );
    let (_, convergence) = judged("handoff_only", 3);
    assert!(
        convergence.contains("hinted handoff without anti-entropy"),
        "{convergence}"
    );
    let (quorum, convergence) = judged("five_nodes", 3);
    assert!(quorum.ends_with("pass"), "{quorum}");
    assert!(convergence.ends_with("pass"), "every key: {convergence}");
}

// A seed that drew no fault kind gets no heal, so it runs as a fault-free scenario
// and quorum-reads judges every get.
#[test]
fn a_seed_without_faults_has_no_heal() {
    // The interleaving knobs add faults of their own; this is about the heal.
    let mut s = five_nodes();
    s.swarm.interleavings = false;
    let seed = (0..5_000)
        .find(|&seed| swarm::draw(&s, seed).kinds.is_empty())
        .expect("about one seed in 512 draws no fault kind");
    let run = swarm::apply(&s, &swarm::draw(&s, seed));
    assert!(!run.has_faults(), "seed {seed}");
    // Judged by the fault-free rule: every get, not skipped.
    let report = runner::run(&run, seed, false).expect("the scenario runs");
    let quorum = report.verdicts.iter().find(|v| v.checker == "quorum-reads");
    assert_eq!(
        quorum.map(|v| v.status.clone()),
        Some(dynamo_observer::Status::Pass)
    );
}

// Each fitted checker has teeth: a bug in one repair path fails convergence in
// the sweep base that isolates that path, while in the all-mechanisms base the
// other paths repair the damage before convergence looks; and a replica that answers reads
// with nothing trips quorum-reads on faulty seeds of the strict-quorum base.
#[test]
fn a_bug_in_one_repair_path_shows_only_in_its_isolated_base() {
    let with_bug = |name: &str, bug: &str| {
        let mut s = base(name);
        s.cluster.bug = dynamo_model::bugs::Bug::from_name(bug);
        assert!(s.cluster.bug.is_some(), "{bug} is a known bug");
        s
    };
    for (name, bug) in [
        ("read_repair_only", "repair-wrong-node"),
        ("handoff_only", "hint-to-first-owner"),
        ("anti_entropy_only", "skip-differing-leaf"),
    ] {
        // Convergence, or placement for a repair sent to a node that does
        // not own the key.
        let caught = failing(&with_bug(name, bug), 0..8);
        assert!(
            caught.len() >= 2
                && caught.iter().all(|(_, c)| {
                    c.contains(&"convergence".into()) || c.contains(&"placement-converges".into())
                })
                && caught
                    .iter()
                    .any(|(_, c)| c.contains(&"convergence".into())),
            "{bug} in {name}: {caught:?}"
        );
        // The other repair paths hide the damage from convergence; a checker
        // that looks earlier (write-quorum, at the reply) may still see it.
        let hidden = failing(&with_bug("five_nodes", bug), 0..8);
        assert!(
            hidden
                .iter()
                .all(|(_, c)| !c.contains(&"convergence".into())),
            "{bug} in five_nodes: {hidden:?}"
        );
    }
    // With deletes and joins and leaves (the churn bases), each bug still
    // shows in its own mechanism's base.
    for (name, bug) in [
        ("read_repair_churn", "repair-wrong-node"),
        ("handoff_churn", "hint-to-first-owner"),
        ("anti_entropy_churn", "skip-differing-leaf"),
    ] {
        let caught = failing(&with_bug(name, bug), 0..24);
        assert!(
            caught
                .iter()
                .any(|(_, c)| c.contains(&"convergence".into())),
            "{bug} in {name}: {caught:?}"
        );
    }
    let caught = failing(&with_bug("strict_quorum", "empty-read-replies"), 0..4);
    assert_eq!(caught.len(), 4, "{caught:?}");
    assert!(
        caught
            .iter()
            .all(|(_, c)| c == &["quorum-reads".to_string()])
    );
}

/// Runs the command line in-process, as `dynsim ARGS` would (exit code only).
fn dynsim(args: &[&str]) -> u8 {
    use clap::Parser;
    std::env::set_current_dir(root()).expect("workspace root");
    match dynsim::cmd::Cli::try_parse_from([&["dynsim"][..], args].concat()) {
        Ok(cli) => dynsim::cmd::run_command(cli.command),
        Err(e) if e.use_stderr() => EXIT_BAD_INPUT,
        Err(_) => EXIT_OK,
    }
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dynsim-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn sweep_args(file: &str, seeds: &str, out: &Path) -> SweepArgs {
    SweepArgs {
        file: file.into(),
        seeds: seeds.into(),
        jobs: Some(2),
        shard: None,
        progress: false,
        out: Some(out.to_path_buf()),
        resume: false,
        seed_events: dynsim::explore::isolate::DEFAULT_EVENTS,
        seed_memory: dynsim::explore::isolate::DEFAULT_MEMORY,
        // The test binary is not dynsim: worker processes are tested in cli/tests/process.rs.
        in_process: true,
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// `sweep --seeds 0..8`, `run --swarm` and `shrink` on every file in scenarios/
// and bench/: none of them panics (twelve of these files once did: the swarm
// drew more keys than a 3-bit integer key space holds). Shrink runs on the
// first seed whose sweep result names a failed checker; where no seed fails
// one, it must say cleanly that there is nothing to shrink. To keep the suite
// fast in debug builds, the files in bench/ run with at most 200 nodes, their
// load cut to 2,000 operations in 2 s and their duration to 3 s (and their
// swarm's faulty phase with them), their sweeps to seeds 0..2; the other files
// run as they are. The bench files at full size are `dynsim bench`'s business.
#[test]
fn every_bundled_file_sweeps_swarms_and_shrinks() {
    std::env::set_current_dir(root()).expect("workspace root");
    let mut files = dynsim_tests::scenario_files();
    files.extend(dynsim_tests::toml_files(&root().join("bench")));
    assert!(files.len() >= 18, "{files:?}");
    let mut panics = Vec::new();
    for path in &files {
        let file = rel(path);
        let mut s = scenario::load(&file).unwrap_or_else(|d| panic!("{file}:\n{d}"));
        let mut seeds: Vec<u64> = (0..8).collect();
        if file.starts_with("bench/") {
            let load = s.load.as_mut().expect("every bench has a load");
            load.max_ops = Some(2_000);
            load.stop = sim_core::SimTime::ZERO + sim_core::SimDuration::from_secs(2);
            s.duration = s.duration.min(sim_core::SimDuration::from_secs(3));
            s.cluster.nodes = s.cluster.nodes.min(200);
            seeds.truncate(2);
        }
        let guarded = |what: &str, f: &mut dyn FnMut()| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .err()
                .map(|_| format!("{file}: {what} panicked"))
        };
        let mut failing = None;
        panics.extend(guarded("sweep --seeds 0..8", &mut || {
            let results = sweep::run_seeds(&s, &file, &seeds, 2, |_| {});
            failing = results
                .iter()
                .find(|r| {
                    r.failed
                        .iter()
                        .any(|f| dynamo_observer::checker(f).is_some())
                })
                .map(|r| r.seed);
        }));
        panics.extend(guarded("run --swarm", &mut || {
            let variant = swarm::apply(&s, &swarm::draw(&s, s.seed));
            runner::run(&variant, s.seed, false).expect("the scenario runs");
        }));
        panics.extend(guarded("shrink", &mut || match (
            failing,
            shrink::shrink(&s, failing.unwrap_or(0), |_, _| {}),
        ) {
            (Some(seed), Ok(found)) => {
                // With the seed the shrunk file records (a reseeding cut may
                // have given it another).
                let report = runner::run(&found.smallest, found.smallest.seed, false)
                    .expect("the scenario runs");
                assert!(
                    report.as_expected(),
                    "{file}: the shrunk seed {seed} does not declare what it fails"
                );
            }
            (Some(seed), Err(e)) => panic!("{file}: seed {seed} fails, yet: {e:?}"),
            (None, Ok(found)) => {
                panic!("{file}: seed 0 fails {}, the sweep said not", found.checker)
            }
            (None, Err(_)) => {}
        }));
    }
    assert!(panics.is_empty(), "{panics:#?}");
}

// The regression of issue 9: the file's own `seed = 86` must play no part in
// `shrink --seed S`. Seed S (the first that does) fails convergence in a
// sweep (no repair mechanism is on, so every key must converge); shrink
// finds that same failure, writes a file that names seed S and declares it,
// and that file runs as expected.
#[test]
fn shrink_judges_with_the_given_seed_not_the_file_seed() {
    let file = "scenarios/negative/duplicate_reply_counted.toml";
    std::env::set_current_dir(root()).expect("workspace root");
    let s = scenario::load(file).expect("loads");
    let seeds: Vec<u64> = (0..16).filter(|&x| x != s.seed).collect();
    let swept = sweep::run_seeds(&s, file, &seeds, 2, |_| {});
    let Some(hit) = swept.iter().find(|r| r.failed == ["convergence"]) else {
        panic!("no seed of 0..16 fails convergence alone: {swept:?}")
    };
    let seed = hit.seed;
    let seed_text = seed.to_string();
    let dir = scratch("shrink-seed");
    let out = dir.join("shrunk.toml");
    assert_eq!(
        dynsim(&[
            "shrink",
            file,
            "--seed",
            &seed_text,
            "--out",
            out.to_str().unwrap(),
            // The test binary is not dynsim: probe processes are tested in cli/tests/process.rs.
            "--in-process"
        ]),
        EXIT_OK
    );
    let text = read(&out);
    assert!(
        text.contains("declares the failure it reproduces"),
        "{text}"
    );
    let back = scenario::parse("shrunk.toml", &text).expect("the shrunk file parses");
    assert!(
        text.contains(&format!("--seed {seed}`")),
        "the file names the seed it was shrunk from:\n{text}"
    );
    let report = runner::run(&back, back.seed, false).expect("the scenario runs");
    assert!(
        report
            .verdicts
            .iter()
            .any(|v| v.checker == "convergence" && v.failed())
    );
    assert!(report.as_expected(), "running the shrunk file exits 0");
    // The default name follows the input file, in the current directory.
    assert_eq!(
        shrink::default_out(Path::new(file), seed),
        PathBuf::from(format!("duplicate_reply_counted-seed{seed}-shrunk.toml"))
    );
}

// A heal-all step is the same run as its faults written out one by one: the
// swarm's single heal step leaves every sweep trace as the old heal block made it.
#[test]
fn heal_all_runs_as_its_faults_one_by_one() {
    let s = five_nodes();
    for seed in [0, 3] {
        let variant = swarm::apply(&s, &swarm::draw(&s, seed));
        // The quiet phase's reads follow the heal.
        let at = variant
            .steps
            .iter()
            .position(|st| st.action == scenario::Action::HealAll)
            .expect("a seed with faults is healed");
        let heal = variant.steps[at].clone();
        let mut spelled = variant.clone();
        spelled.steps.splice(
            at..=at,
            scenario::heal_all(s.cluster.nodes, &s.net)
                .into_iter()
                .map(|f| scenario::Step {
                    action: scenario::Action::Fault(f),
                    ..heal.clone()
                }),
        );
        let trace = |v: &Scenario| {
            runner::run(v, seed, true)
                .expect("the scenario runs")
                .cluster
                .sim
                .core
                .trace
                .render_text()
        };
        let (one, many) = (trace(&variant), trace(&spelled));
        assert!(one.contains("restart n4"), "each restart is in the trace");
        assert_eq!(one, many, "seed {seed}");
    }
}

// Shrink cuts a failing seed of the bundled no-repair base to the essence:
// the file it writes, header included, is at most 25 lines, it has dropped
// nodes (the heal is one heal-all step that names none) and settings, and it
// still fails convergence as it declares.
#[test]
fn shrink_writes_a_failing_no_repair_seed_in_at_most_25_lines() {
    let file = "scenarios/sweep/no_repair.toml";
    std::env::set_current_dir(root()).expect("workspace root");
    let out = scratch("shrink-lines").join("shrunk.toml");
    assert_eq!(
        dynsim(&[
            "shrink",
            file,
            "--seed",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--in-process"
        ]),
        EXIT_OK
    );
    let text = read(&out);
    assert!(
        text.lines().count() <= 25,
        "{} lines:\n{text}",
        text.lines().count()
    );
    let back = scenario::parse("shrunk.toml", &text).expect("the shrunk file parses");
    assert!(back.cluster.nodes < 5, "{text}");
    assert!(
        back.steps
            .iter()
            .any(|st| st.action == scenario::Action::HealAll),
        "{text}"
    );
    let report = runner::run(&back, back.seed, false).expect("the scenario runs");
    assert!(
        report
            .verdicts
            .iter()
            .any(|v| v.checker == "convergence" && v.failed()),
        "{text}"
    );
    assert!(report.as_expected(), "running the shrunk file exits 0");
}

// A failure that hangs on one lost message still shrinks: steps that only
// shifted the network's random draws go when another seed reproduces the
// failure without them (five_nodes with a broken repair merge, seed 12, is 32
// lines without that pass and 20 with it), and the file records the seed it
// runs with.
#[test]
fn shrink_cuts_steps_that_only_shifted_random_draws() {
    std::env::set_current_dir(root()).expect("workspace root");
    let text = read(&root().join("scenarios/sweep/five_nodes.toml")).replacen(
        "[cluster]",
        "[cluster]\ninject_bug = \"skip-repair-merge\"",
        1,
    );
    let base = scenario::parse("five_nodes_broken_merge.toml", &text).expect("valid");
    let found = shrink::shrink(&base, 12, |_, _| {}).expect("seed 12 fails");
    assert_eq!(found.checker, "merge-on-transfer");
    let written = scenario::write::to_toml(&found.smallest);
    assert!(
        written.lines().count() + 2 <= 25,
        "{} lines:\n{written}",
        written.lines().count() + 2
    );
    assert_ne!(found.smallest.seed, 12, "found with another seed");
    let back = scenario::parse("shrunk.toml", &written).expect("the shrunk file parses");
    let report = runner::run(&back, back.seed, false).expect("the scenario runs");
    assert!(
        report.as_expected(),
        "running the shrunk file exits 0:\n{written}"
    );
}

// A sweep streams results.jsonl in seed order; stopped early it writes what
// finished and a partial summary (exit 130); `--resume` runs only the rest,
// appends it, and ends with the very file and totals an uninterrupted sweep
// writes.
#[test]
fn an_interrupted_sweep_resumes_to_the_same_results() {
    let file = "scenarios/sweep/five_nodes.toml";
    let dir = scratch("resume");
    let (whole, cut) = (dir.join("whole"), dir.join("cut"));
    std::env::set_current_dir(root()).expect("workspace root");
    assert_eq!(
        dynsim::cmd::sweep(&sweep_args(file, "0..16", &whole), &|| false),
        EXIT_OK
    );
    let expected = read(&whole.join("results.jsonl"));
    assert_eq!(expected.lines().count(), 16);
    // Stop once a few seeds have been claimed (`stop` is asked before each claim).
    let asked = AtomicUsize::new(0);
    let code = dynsim::cmd::sweep(&sweep_args(file, "0..16", &cut), &|| {
        asked.fetch_add(1, Ordering::SeqCst) >= 5
    });
    assert_eq!(code, EXIT_INTERRUPTED);
    let partial = read(&cut.join("results.jsonl"));
    let n = partial.lines().count();
    assert!((1..16).contains(&n), "{n} lines");
    assert!(expected.starts_with(&partial), "a prefix, in seed order");
    let summary = read(&cut.join("summary.txt"));
    assert!(
        summary.contains(&format!("PARTIAL: interrupted after {n} of 16 seeds")),
        "{summary}"
    );
    assert!(summary.contains("--resume"), "{summary}");
    let mut resume = sweep_args(file, "0..16", &cut);
    resume.resume = true;
    assert_eq!(dynsim::cmd::sweep(&resume, &|| false), EXIT_OK);
    assert_eq!(read(&cut.join("results.jsonl")), expected);
    let summary = read(&cut.join("summary.txt"));
    assert!(summary.contains("seeds run: 16, failed: 0"), "{summary}");
    assert!(
        summary.contains(&format!("resumed: {n} seed(s) came from the results file")),
        "{summary}"
    );
    // Resuming a finished sweep runs nothing and changes nothing.
    assert_eq!(dynsim::cmd::sweep(&resume, &|| false), EXIT_OK);
    assert_eq!(read(&cut.join("results.jsonl")), expected);
    // A cut-off last line (a kill mid-write) is dropped and its seed runs again.
    let torn = &expected[..expected.len() - 40];
    std::fs::write(cut.join("results.jsonl"), torn).expect("write");
    assert_eq!(dynsim::cmd::sweep(&resume, &|| false), EXIT_OK);
    assert_eq!(read(&cut.join("results.jsonl")), expected);
    // Another range, or another file's results, are refused.
    let mut other = sweep_args(file, "0..20", &cut);
    other.resume = true;
    assert_eq!(dynsim::cmd::sweep(&other, &|| false), EXIT_BAD_INPUT);
    let mut other = sweep_args("scenarios/sweep/no_repair.toml", "0..16", &cut);
    other.resume = true;
    assert_eq!(dynsim::cmd::sweep(&other, &|| false), EXIT_BAD_INPUT);
    assert_eq!(read(&cut.join("results.jsonl")), expected);
}

// Bad options are refused before any seed runs: --jobs 0, an --out that cannot
// be created; and a sweep never starts more threads than it has seeds.
#[test]
fn sweep_checks_its_options_first() {
    let file = "scenarios/get_put.toml";
    let dir = scratch("options");
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    assert_eq!(
        dynsim(&["sweep", file, "--seeds", "0..2", "--jobs", "0", "--out", o]),
        EXIT_BAD_INPUT
    );
    assert!(sweep::parse_jobs("0").is_err());
    assert!(sweep::parse_jobs("100000").is_err());
    assert_eq!(sweep::parse_jobs("3"), Ok(3));
    // A regular file where the directory should be.
    let blocker = dir.join("blocker");
    std::fs::write(&blocker, "x").expect("write");
    let inside = blocker.join("out");
    assert_eq!(
        dynsim(&[
            "sweep",
            file,
            "--seeds",
            "0..2",
            "--out",
            inside.to_str().unwrap()
        ]),
        EXIT_BAD_INPUT
    );
    assert!(!out.exists(), "nothing was written for refused options");
    // Threads: never more than the seeds to run, none when there are none.
    let ran = |count: u64, jobs: usize| {
        dynsim::parallel::stream(
            count,
            &dynsim::parallel::IndexSet::default(),
            jobs,
            &|| false,
            &|i| i,
            |_, _| {},
        )
    };
    assert_eq!(ran(3, 8), 3);
    assert_eq!(ran(100, 2), 2);
    assert_eq!(ran(0, 4), 0);
}

// The streaming core hands results on in order, whatever order they finish
// in, and workers never run far ahead of the writer.
#[test]
fn stream_keeps_order_and_a_bounded_window() {
    let done = AtomicUsize::new(0);
    let max_ahead = AtomicUsize::new(0);
    let mut seen = Vec::new();
    let mut skip = dynsim::parallel::IndexSet::default();
    for i in [0, 1, 2, 10, 11, 40] {
        skip.insert(i);
    }
    dynsim::parallel::stream(
        200,
        &skip,
        3,
        &|| false,
        &|i| {
            // Later indices finish sooner, so results arrive out of order.
            std::thread::sleep(std::time::Duration::from_micros(200 - i));
            let ahead = (i as usize).saturating_sub(done.load(Ordering::SeqCst));
            max_ahead.fetch_max(ahead, Ordering::SeqCst);
            i
        },
        |i, r| {
            assert_eq!(i, r);
            seen.push(i);
            done.store(i as usize, Ordering::SeqCst);
        },
    );
    let expected: Vec<u64> = (0..200).filter(|i| !skip.contains(*i)).collect();
    assert_eq!(seen, expected);
    // 3 threads × the window per job, plus the skipped run it can jump.
    let bound = 3 * dynsim::parallel::WINDOW_PER_JOB as usize + 10;
    assert!(max_ahead.load(Ordering::SeqCst) <= bound);
    assert_eq!(skip.next_missing(0), 3);
    assert_eq!(skip.next_missing(10), 12);
    assert_eq!(skip.len(), 6);
}

// Merge combines the shards of one sweep, and refuses to mix sweeps: another
// scenario file, another dynsim version, two different results for a seed;
// it reports seeds of the range that no input holds.
#[test]
fn merge_refuses_to_mix_sweeps() {
    std::env::set_current_dir(root()).expect("workspace root");
    let file = "scenarios/sweep/five_nodes.toml";
    let dir = scratch("merge");
    let shard = |k: u64, out: &Path, f: &str| {
        let mut a = sweep_args(f, "0..6", out);
        a.shard = Some(format!("{k}/2"));
        dynsim::cmd::sweep(&a, &|| false)
    };
    let (a, b) = (dir.join("a"), dir.join("b"));
    assert_eq!(shard(0, &a, file), EXIT_OK);
    assert_eq!(shard(1, &b, file), EXIT_OK);
    let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());
    assert_eq!(dynsim(&["merge", sa, sb]), EXIT_OK);
    // Every line names its scenario digest, version, range and shard.
    let line: serde_json::Value =
        serde_json::from_str(read(&a.join("results.jsonl")).lines().next().unwrap()).unwrap();
    assert_eq!(line["digest"].as_str().unwrap().len(), 32);
    assert_eq!(line["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(line["range"], serde_json::json!([0, 6]));
    assert_eq!(line["shard"], serde_json::json!([0, 2]));
    let m = merge::merge(&[a.clone(), b.clone()]).expect("merges");
    assert_eq!((m.tally.seeds, m.missing, m.duplicates), (6, 0, 0));
    // The same shard twice: duplicates with the same result are fine, but seeds are missing.
    let m = merge::merge(&[a.clone(), a.clone()]).expect("merges");
    assert_eq!((m.tally.seeds, m.missing, m.duplicates), (3, 3, 3));
    assert_eq!(m.first_missing, [1, 3, 5]);
    assert_eq!(dynsim(&["merge", sa]), EXIT_BAD_INPUT);
    // Another scenario file (another digest).
    let c = dir.join("c");
    assert_eq!(shard(1, &c, "scenarios/gossip.toml"), EXIT_OK);
    assert_eq!(dynsim(&["merge", sa, c.to_str().unwrap()]), EXIT_BAD_INPUT);
    // Another dynsim version, and a seed whose two results differ.
    let edit = |name: &str, from: &str, to: &str| {
        let p = dir.join(name);
        let text = read(&b.join("results.jsonl")).replacen(from, to, 1);
        std::fs::write(&p, text).expect("write");
        p
    };
    let version = format!("\"version\":\"{}\"", env!("CARGO_PKG_VERSION"));
    let old = edit("old.jsonl", &version, "\"version\":\"0.0.1\"");
    let e = merge::merge(&[a.clone(), old]).err().expect("refused");
    assert!(e.contains("dynsim version"), "{e}");
    let changed = edit("changed.jsonl", "\"events\":", "\"events\":1");
    let e = merge::merge(&[b.clone(), changed]).err().expect("refused");
    assert!(e.contains("two different results"), "{e}");
}

// With [swarm] deletes = true, seeds delete a share of what their clients
// read, their tombstones outlive the faults and the quiet phase, and every
// replica purges them before the end: no checker fails (the 2,000-seed run is
// `dynsim sweep scenarios/sweep/deletes.toml --seeds 0..2000`). With a grace
// too short for the faults, the same sweep finds deleted values coming back.
#[test]
fn delete_sweep_is_clean_and_a_short_grace_resurrects() {
    let s = base("deletes");
    assert!(s.swarm.deletes);
    let results = clean_sweep(&s, 0..40);
    let deletes: u64 = results.iter().map(|r| r.coverage.deletes).sum();
    let purged = results
        .iter()
        .filter(|r| r.coverage.tombstones_purged > 0)
        .count();
    assert!(deletes > 1_000, "{deletes} deletes");
    assert!(purged >= 35, "tombstones purged in {purged} of 40 seeds");
    // The same mix with the base's own grace, 600ms: a replica cut off for
    // longer misses the delete until every tombstone is gone.
    let mut short = s.clone();
    short.swarm.deletes = false;
    short.cluster.tombstone_grace = sim_core::SimDuration::from_ms(600);
    short
        .load
        .as_mut()
        .expect("the base has a load")
        .delete_fraction = 0.3;
    let found = failing(&short, 0..40);
    let resurrected = found
        .iter()
        .filter(|(_, f)| f.iter().any(|c| c == "no-resurrection"))
        .count();
    assert!(resurrected >= 5, "{found:?}");
}

// With [swarm] joins, leaves and deletes, seeds add the nodes outside the
// ring, take one member out, and delete, under faults: no checker fails (the
// 10,000-seed run is `dynsim sweep scenarios/sweep/membership.toml --seeds
// 0..10000`), and keys really move to their new owners.
#[test]
fn membership_sweep_is_clean_and_moves_keys() {
    let s = base("membership");
    assert!(s.swarm.joins && s.swarm.leaves && s.swarm.deletes);
    let results = clean_sweep(&s, 0..40);
    let changes: u64 = results.iter().map(|r| r.coverage.membership_changes).sum();
    let moved: u64 = results.iter().map(|r| r.coverage.keys_transferred).sum();
    assert!(changes >= 80, "{changes} membership changes in 40 seeds");
    assert!(moved > 200, "{moved} keys transferred");
    // A seed replays: the same joins and leaves at the same times.
    let plan = swarm::draw(&s, 7);
    let joins = plan
        .steps
        .iter()
        .filter(|st| {
            matches!(
                &st.action,
                scenario::Action::Membership { join: Some(_), .. }
            )
        })
        .count();
    assert_eq!(joins, s.cluster.outside.len());
    let again = swarm::draw(&s, 7);
    assert_eq!(format!("{:?}", plan.steps), format!("{:?}", again.steps));
}

// The interleaving knobs are drawn on their own stream: switching them off
// leaves every other part of a seed's draw as it was, and switching them on
// adds slow nodes and kinds, heavy duplicates, bursts on one key and
// triggers, each in about half the seeds.
#[test]
fn interleaving_knobs_add_to_the_draw_and_switch_off() {
    let on = base("five_nodes");
    assert!(on.swarm.interleavings, "on unless a base switches them off");
    let mut off = on.clone();
    off.swarm.interleavings = false;
    let prefixes = [
        "slow node",
        "slow kind",
        "duplicates",
        "burst of",
        "trigger",
    ];
    let mut seen = [0u32; 5];
    for seed in 0..40 {
        let (a, b) = (swarm::draw(&on, seed), swarm::draw(&off, seed));
        assert!(b.knobs.is_empty() && b.slow_kind.is_none());
        assert_eq!(a.kinds, b.kinds, "seed {seed}");
        assert_eq!(a.load, b.load, "seed {seed}");
        // Every step drawn without the knobs is there with them, in order.
        let mut rest = a.steps.iter();
        for st in &b.steps {
            assert!(rest.any(|x| x == st), "seed {seed}: {st:?} went missing");
        }
        for (n, p) in seen.iter_mut().zip(prefixes) {
            *n += u32::from(a.knobs.iter().any(|k| k.starts_with(p)));
        }
    }
    // Each knob is on for about half the seeds.
    for (n, p) in seen.iter().zip(prefixes) {
        assert!((10..=30).contains(n), "{p}: {n} seeds of 40");
    }
}

// The knobs make the rare interleavings common: a duplicated answer counted
// twice (the bug count-duplicate-answers) needs a copy of an early answer
// to arrive before a late one. Over the same 200 seeds of five_nodes it
// fails none without the knobs and some with them; on read_repair_only
// (R = 3, so every get waits for the slowest replica) it fails more seeds
// with them than without. Each result seed replays with its knobs.
#[test]
fn the_knobs_find_a_duplicate_answer_counted_twice() {
    let with_bug = |name: &str, knobs: bool| {
        let mut s = base(name);
        s.cluster.bug = dynamo_model::bugs::Bug::from_name("count-duplicate-answers");
        s.swarm.interleavings = knobs;
        s
    };
    let before = failing(&with_bug("five_nodes", false), 0..200);
    let after = failing(&with_bug("five_nodes", true), 0..200);
    assert!(before.is_empty(), "{before:?}");
    assert!(!after.is_empty(), "the knobs found nothing in 200 seeds");
    let before = failing(&with_bug("read_repair_only", false), 0..100).len();
    let after = failing(&with_bug("read_repair_only", true), 0..100).len();
    assert!(
        after > before,
        "{before} failing seeds of 100 without the knobs, {after} with"
    );
}

// A message kind slow enough to make coordinators give up on replicas (past
// half the request timeout) is a fault for the checkers: the run has faults
// and no healthy span. five_nodes seed 5594 drew a ForwardAck of up to 196 ms
// and no fault kind, and quorum-reads judged it as a fault-free run (a get
// missed a put whose quorum was sloppy); it passes now.
#[test]
fn a_kind_slower_than_half_the_timeout_is_a_fault() {
    let mut s = five_nodes();
    s.steps.clear();
    let slow = |ms: f64| sim_core::Latency::Uniform {
        min_us: 1_000.0,
        max_us: ms * 1_000.0,
    };
    s.net.per_kind = vec![("ForwardAck".into(), slow(40.0))];
    assert!(!s.has_faults());
    assert!(!runner::healthy_spans(&s, sim_core::SimTime(1_000_000)).is_empty());
    s.net.per_kind = vec![("ForwardAck".into(), slow(196.0))];
    assert!(s.has_faults());
    assert!(runner::healthy_spans(&s, sim_core::SimTime(1_000_000)).is_empty());
    let s = five_nodes();
    let plan = swarm::draw(&s, 5594);
    assert!(plan.kinds.is_empty(), "{:?}", plan.kinds);
    assert!(
        plan.knobs
            .iter()
            .any(|k| k.starts_with("slow kind ForwardAck")),
        "{:?}",
        plan.knobs
    );
    let report = runner::run(&swarm::apply(&s, &plan), 5594, false).expect("runs");
    assert!(report.as_expected(), "{:?}", report.unexpected_verdicts);
}
