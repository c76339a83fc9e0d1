//! The command line: exit codes, help on every command, determinism checks, atomic output.

use clap::Parser;
use dynsim::cmd::run_command;
use dynsim::cmd::{Cli, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use dynsim_tests::root;

fn run(args: &[&str]) -> u8 {
    std::env::set_current_dir(root()).expect("workspace root");
    let mut all = vec!["dynsim"];
    all.extend_from_slice(args);
    match Cli::try_parse_from(all) {
        Ok(cli) => run_command(cli.command),
        Err(e) => {
            if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            }
        }
    }
}

// A scenario that meets its expectations exits 0; a bad file exits 2; a missing file exits 2.
#[test]
fn exit_codes() {
    assert_eq!(run(&["run", "scenarios/failure.toml", "--quiet"]), EXIT_OK);
    assert_eq!(
        run(&["run", "tests/malformed/w_exceeds_n.toml", "--quiet"]),
        EXIT_BAD_INPUT
    );
    assert_eq!(run(&["run", "no/such/file.toml"]), EXIT_BAD_INPUT);
    assert_eq!(
        run(&["run", "scenarios/failure.toml", "--no-such-flag"]),
        EXIT_BAD_INPUT
    );
    assert_eq!(run(&["frobnicate"]), EXIT_BAD_INPUT);
}

// `serve` and `bench` take the repository's root with --root; a directory
// that is not one is refused before anything starts.
#[test]
fn root_must_be_the_repository() {
    assert_eq!(run(&["bench", "--root", "no/such/dir"]), EXIT_BAD_INPUT);
    assert_eq!(run(&["bench", "--root", "tests/malformed"]), EXIT_BAD_INPUT);
    assert_eq!(
        run(&["serve", "--root", "tests", "--port", "1"]),
        EXIT_BAD_INPUT
    );
}

// A scenario whose expectation fails exits 1 (the T2 scenario with a seed-independent wrong expectation).
#[test]
fn failed_expectation_exits_1() {
    let dir = std::env::temp_dir().join(format!("dynsim-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::fs::read_to_string(root().join("scenarios/failure.toml")).unwrap();
    let wrong = src.replace("values = [\"apple\"]", "values = [\"pear\"]");
    assert_ne!(src, wrong);
    let path = dir.join("wrong.toml");
    std::fs::write(&path, wrong).unwrap();
    assert_eq!(
        run(&["run", path.to_str().unwrap(), "--quiet"]),
        EXIT_FAILED
    );
}

// --help works for the program and every command.
#[test]
fn help_everywhere() {
    for args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["ring", "--help"],
        vec!["--version"],
    ] {
        let e = Cli::try_parse_from([&["dynsim"][..], &args[..]].concat())
            .expect_err("help exits early");
        assert!(!e.use_stderr(), "{args:?}");
        assert!(!e.to_string().is_empty());
    }
}

// --check-determinism passes, and the trace file is written whole (text and JSON Lines).
#[test]
fn determinism_check_and_trace_files() {
    let dir = std::env::temp_dir().join(format!("dynsim-trace-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("t.txt");
    let jsonl = dir.join("t.jsonl");
    let t = text.to_str().unwrap();
    let j = jsonl.to_str().unwrap();
    assert_eq!(
        run(&[
            "run",
            "scenarios/failure.toml",
            "-q",
            "--check-determinism",
            "--trace",
            t
        ]),
        EXIT_OK
    );
    assert_eq!(
        run(&[
            "run",
            "scenarios/failure.toml",
            "-q",
            "--trace",
            j,
            "--format",
            "jsonl"
        ]),
        EXIT_OK
    );
    let text = std::fs::read_to_string(&text).unwrap();
    assert!(text.starts_with("# scenario failure  seed=1"));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect();
    assert!(lines[0].get("header").is_some());
    assert!(lines.last().unwrap().get("footer").is_some());
    assert_eq!(
        lines.len() - 2,
        text.lines().filter(|l| !l.starts_with('#')).count(),
        "the same events in both forms"
    );
    // No temporary files are left beside the outputs.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

// `ring` prints the seed test ring's preference list for key 2.
#[test]
fn ring_command() {
    assert_eq!(
        run(&["ring", "scenarios/failure.toml", "--key", "2"]),
        EXIT_OK
    );
    assert_eq!(
        run(&["ring", "scenarios/failure.toml", "--key", "99"]),
        EXIT_BAD_INPUT
    );
    // Before and after a change: a join, a leave, and leaves that cannot be.
    for (args, code) in [
        (vec!["--join"], EXIT_OK),
        (vec!["--leave", "n1", "--key", "2"], EXIT_OK),
        (vec!["--leave", "n9"], EXIT_BAD_INPUT),
        (vec!["--join", "--leave", "n1"], EXIT_BAD_INPUT),
    ] {
        let mut all = vec!["ring", "scenarios/sweep/five_nodes.toml"];
        all.extend(args.iter().copied());
        assert_eq!(run(&all), code, "{args:?}");
    }
    // Three nodes with N = 3: none can leave.
    assert_eq!(
        run(&[
            "ring",
            "scenarios/deletes/delete_races_put.toml",
            "--leave",
            "n0"
        ]),
        EXIT_BAD_INPUT
    );
}

// --chrome-trace writes trace-event JSON with a track per node, client operations as spans, and message flows.
#[test]
fn chrome_trace_has_a_track_per_node() {
    let path = std::env::temp_dir().join(format!("dynsim-chrome-{}.json", std::process::id()));
    let p = path.to_str().unwrap();
    assert_eq!(
        run(&["run", "scenarios/failure.toml", "-q", "--chrome-trace", p]),
        EXIT_OK
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = v["traceEvents"].as_array().unwrap();
    let threads: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name" && e["pid"] == 1)
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    for n in ["n0", "n1", "n2", "n3"] {
        assert!(threads.contains(&n), "{threads:?}");
    }
    let ops: Vec<&str> = events
        .iter()
        .filter(|e| e["cat"] == "operation")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["put#1", "get#2"]);
    let starts = events.iter().filter(|e| e["ph"] == "s").count();
    let finishes = events.iter().filter(|e| e["ph"] == "f").count();
    assert!(
        starts > 0 && starts >= finishes,
        "{starts} flow starts, {finishes} ends"
    );
}

// Four blind writers draw the sibling warning; read-modify-write or three writers do not.
#[test]
fn blind_writers_are_warned_about() {
    let dir = std::env::temp_dir().join(format!("dynsim-blind-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let warned = |load: &str| {
        let path = dir.join("blind.toml");
        let text = format!(
            "name = \"blind\"\nseed = 1\nduration = \"1s\"\n[cluster]\nnodes = 5\n[load]\n{load}\nstop = \"1s\"\nops = 10\n"
        );
        std::fs::write(&path, text).unwrap();
        let s = dynsim::scenario::load(path.to_str().unwrap()).expect("a valid scenario");
        dynsim::runner::blind_write_warning(&s)
    };
    let w = warned("clients = 4\nkeys = 5\nread_fraction = 0.0").expect("a warning");
    assert!(
        w.contains("4 clients write blind") && w.contains("5 keys"),
        "{w}"
    );
    assert!(warned("clients = 3\nkeys = 5\nread_fraction = 0.0").is_none());
    assert!(warned("clients = 8\nkeys = 5\nread_modify_write = true").is_none());
    assert!(warned("clients = 8\nkeys = 5\nread_fraction = 1.0").is_none());
}

// Forced progress writes plain lines for a run with many events, and the run's trace
// and summary are byte-identical to the same run without progress.
#[test]
fn progress_lines_leave_trace_and_summary_alone() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let dir = std::env::temp_dir().join(format!("dynsim-progress-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("long.toml");
    // About 40,000 events: several of the engine's checks, each a progress line.
    std::fs::write(
        &path,
        "name = \"long\"\nseed = 3\nduration = \"20s\"\n[cluster]\nnodes = 5\n\
         [load]\nclients = 4\nkeys = 20\nread_modify_write = true\nstop = \"20s\"\nops = 3000\n",
    )
    .unwrap();
    let s = dynsim::scenario::load(path.to_str().unwrap()).expect("loads");
    let outputs = |r: &dynsim::runner::Report| {
        (
            r.cluster.sim.core.trace.render_text(),
            dynsim::report::summary::render(r),
        )
    };
    let plain = outputs(&dynsim::runner::run(&s, s.seed, true).expect("the scenario runs"));
    let buf = Arc::new(Mutex::new(Vec::new()));
    let mode = dynsim::cmd::progress::Mode::Forced(Box::new(Sink(buf.clone())));
    let end = sim_core::SimTime::ZERO + s.duration;
    let watched = dynsim::cmd::progress::with_progress(
        end,
        mode,
        || false,
        || {
            let watch = &mut dynsim::cmd::progress::watch_ops;
            outputs(
                &dynsim::runner::run_watched(&s, s.seed, true, watch).expect("the scenario runs"),
            )
        },
    )
    .expect("nothing stops the run");
    assert_eq!(plain, watched, "progress changed the trace or the summary");
    let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "progress lines:\n{text}");
    assert!(
        lines.iter().all(|l| l.starts_with("progress: simulated ")
            && l.contains(" of 3000, ")
            && l.contains("events/s, ETA")),
        "{text}"
    );
}
