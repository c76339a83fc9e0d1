//! The malformed-input corpus: each file is rejected with messages that
//! name file, line, column and field and say what would be valid; never a
//! panic. Files named `experiment_*.toml` are experiment files and go to the
//! experiment reader; every other file is a scenario.

use dynsim_tests::{rel, root};

// Each malformed file is rejected, and its messages match the reviewed snapshot.
#[test]
fn every_malformed_file() {
    std::env::set_current_dir(root()).expect("workspace root");
    insta::glob!("../malformed", "*.toml", |path| {
        let name = rel(path);
        let is_experiment = path
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with("experiment_"));
        let result = std::panic::catch_unwind(|| {
            if is_experiment {
                dynsim::report::experiment::load(&name).map(|_| ())
            } else {
                dynsim::scenario::load(&name).map(|_| ())
            }
        });
        let Ok(parsed) = result else {
            panic!("{name}: loading panicked")
        };
        let err = parsed.expect_err("a malformed file must be rejected");
        for d in &err.0 {
            assert_eq!(d.file, name);
            assert!(d.line > 0 && d.col > 0, "{d}");
        }
        insta::assert_snapshot!(err.to_string());
    });
}

// A file that cannot be read is named with what is wrong, and no line or column.
#[test]
fn unreadable_files_say_why() {
    std::env::set_current_dir(root()).expect("workspace root");
    let err = dynsim::scenario::load("tests/malformed/no_such_file.toml").expect_err("missing");
    assert_eq!(
        err.to_string(),
        "error: tests/malformed/no_such_file.toml: no such file\n1 problem found"
    );
    let err = dynsim::report::experiment::load("experiments").expect_err("a directory");
    assert!(
        err.to_string().contains("experiments: is a directory"),
        "{err}"
    );
}

// A file given to the wrong command says which command reads it.
#[test]
fn wrong_kind_of_file_names_the_right_command() {
    std::env::set_current_dir(root()).expect("workspace root");
    let err = dynsim::scenario::load("experiments/seed_latency.toml").expect_err("experiment");
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(
        err.0[0].message.contains(
            "is an experiment file, not a scenario; run it with `dynsim experiment experiments/seed_latency.toml`"
        ),
        "{err}"
    );
    let err = dynsim::report::experiment::load("scenarios/failure.toml").expect_err("scenario");
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(
        err.0[0].message.contains(
            "is a scenario file, not an experiment; run it with `dynsim run scenarios/failure.toml`"
        ),
        "{err}"
    );
}

fn dynsim(args: &[&str]) -> u8 {
    use clap::Parser;
    std::env::set_current_dir(root()).expect("workspace root");
    let cli =
        dynsim::cmd::Cli::try_parse_from([&["dynsim"], args].concat()).expect("valid arguments");
    dynsim::cmd::run_command(cli.command)
}

// Through the command line, every malformed file exits 2 (with `run`, or
// `experiment` for experiment files), and so does a file given to the wrong command.
#[test]
fn every_malformed_file_exits_2() {
    for path in dynsim_tests::toml_files(&root().join("tests/malformed")) {
        let name = rel(&path);
        let command = if name.contains("/experiment_") {
            "experiment"
        } else {
            "run"
        };
        assert_eq!(
            dynsim(&[command, &name]),
            dynsim::cmd::EXIT_BAD_INPUT,
            "{command} {name}"
        );
    }
    assert_eq!(
        dynsim(&["run", "experiments/seed_latency.toml"]),
        dynsim::cmd::EXIT_BAD_INPUT
    );
    assert_eq!(
        dynsim(&["experiment", "scenarios/failure.toml"]),
        dynsim::cmd::EXIT_BAD_INPUT
    );
    let too_many = (dynsim::report::experiment::MAX_TRIALS + 1).to_string();
    for trials in ["0", too_many.as_str()] {
        assert_eq!(
            dynsim(&[
                "experiment",
                "experiments/seed_latency.toml",
                "--trials",
                trials,
                "--out",
                "-"
            ]),
            dynsim::cmd::EXIT_BAD_INPUT,
            "--trials {trials}"
        );
    }
}

// Defaults that would not fit a small integer key space are capped at it
// (generated load: 100 keys; an experiment's sweep: 256 keys), and the
// cluster can be built and the load scheduled.
#[test]
fn defaults_fit_a_small_key_space() {
    let cluster = "[cluster]\nnodes = 4\nkeys = \"integer\"\nhash_bits = 3\ntokens = \"equal\"\npartitions = 4\n";
    let s = dynsim::scenario::parse(
        "small.toml",
        &format!("name = \"small\"\nseed = 1\n{cluster}[load]\nstop = \"1s\"\n"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(s.load.as_ref().map(|l| l.keys), Some(8));
    let _ = dynsim::runner::prepare(&s, s.seed, false);
    let e = dynsim::report::experiment::parse(
        "small.toml",
        &format!(
            "name = \"small\"\nkind = \"latency\"\nseed = 1\ntrials = 3\n{cluster}[sweep]\nquorums = [[3, 2, 2]]\n"
        ),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(e.keys, 8);
    dynsim::report::experiment::prepare(&e, 10).expect("an accepted experiment file builds");
    // Found by dynsim-fuzz: the swarm drew up to 30 keys whatever the key space.
    for seed in 0..32 {
        let plan = dynsim::explore::swarm::draw(&s, seed);
        assert!(plan.load.keys <= 8);
        let _ = dynsim::runner::prepare(&dynsim::explore::swarm::apply(&s, &plan), seed, false);
    }
}

// Found by dynsim-fuzz: with no `duration`, a step near the bound on
// durations made the default (last step + 10s) exceed it, so the scenario,
// written back out as shrink does, no longer read. The default is capped.
#[test]
fn default_duration_stays_within_its_bound() {
    let s = dynsim::scenario::parse(
        "late.toml",
        "name = \"late\"\nseed = 1\n[cluster]\nnodes = 3\n[[steps]]\nat = \"1000000000s\"\ndo = \"heal\"\n",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(s.duration, sim_core::SimDuration::MAX_PARSED);
    let written = dynsim::scenario::write::to_toml(&s);
    dynsim::scenario::parse("written.toml", &written).unwrap_or_else(|d| panic!("{d}"));
}
