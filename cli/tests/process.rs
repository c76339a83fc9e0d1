//! The `dynsim` binary as a process: where its output goes (standard output,
//! devices, FIFOs, symlinks, regular files) and what happens when the reader
//! of a pipe goes away. These need the real binary and real file
//! descriptors, and Cargo hands a binary's path (`CARGO_BIN_EXE_dynsim`)
//! only to its own package's tests, which is why they live here and not in
//! the `tests/suite` binary with the rest.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const DYNSIM: &str = env!("CARGO_BIN_EXE_dynsim");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is inside the workspace")
        .to_path_buf()
}

fn dynsim(args: &[&str]) -> Output {
    Command::new(DYNSIM)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("dynsim runs")
}

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dynsim-process-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const FAILURE: &str = "scenarios/failure.toml";

// `--trace /dev/null` writes into the device and leaves it a character device.
#[test]
fn trace_to_dev_null_keeps_the_device() {
    let out = dynsim(&["run", FAILURE, "--trace", "/dev/null", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let meta = std::fs::metadata("/dev/null").expect("/dev/null exists");
    assert!(
        meta.file_type().is_char_device(),
        "/dev/null is no longer a device"
    );
    let out = dynsim(&["run", FAILURE, "--chrome-trace", "/dev/null", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::metadata("/dev/null")
            .expect("/dev/null exists")
            .file_type()
            .is_char_device()
    );
}

// A FIFO is written through (a reader on the other end gets the whole trace) and stays a FIFO.
#[test]
fn trace_into_a_fifo() {
    let d = scratch("fifo");
    let fifo = d.join("trace.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            std::fs::File::open(&fifo)
                .expect("open the FIFO for reading")
                .read_to_string(&mut s)
                .expect("read the FIFO");
            s
        })
    };
    let out = dynsim(&[
        "run",
        FAILURE,
        "--trace",
        fifo.to_str().expect("utf-8 path"),
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = reader.join().expect("reader thread");
    assert!(
        got.contains("forward       put#1 -> n0"),
        "the FIFO's reader got:\n{got}"
    );
    let meta = std::fs::symlink_metadata(&fifo).expect("the FIFO still exists");
    assert!(meta.file_type().is_fifo(), "the FIFO was replaced");
}

// A symlink to a file stays a symlink; the file it points to receives the trace.
#[test]
fn trace_through_a_symlink() {
    let d = scratch("symlink");
    let real = d.join("real.txt");
    std::fs::write(&real, "old").expect("write");
    let link = d.join("link.txt");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let out = dynsim(&[
        "run",
        FAILURE,
        "--trace",
        link.to_str().expect("utf-8 path"),
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink(),
        "the symlink was replaced by a file"
    );
    let got = std::fs::read_to_string(&real).expect("read");
    assert!(got.contains("coordinate    op1 for put#1"), "{got}");
}

// A regular file is replaced whole, and no temporary file is left beside it.
#[test]
fn trace_replaces_a_regular_file() {
    let d = scratch("regular");
    let f = d.join("trace.txt");
    std::fs::write(&f, "x".repeat(1_000_000)).expect("write");
    let out = dynsim(&[
        "run",
        FAILURE,
        "--trace",
        f.to_str().expect("utf-8 path"),
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = std::fs::read_to_string(&f).expect("read");
    assert!(got.starts_with("# scenario failure"), "{}", &got[..80]);
    let names: Vec<String> = std::fs::read_dir(&d)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["trace.txt"]);
}

// `-` sends the trace (or the Chrome trace) to standard output and the summary to standard error.
#[test]
fn dash_is_standard_output() {
    let out = dynsim(&["run", FAILURE, "--trace", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert!(o.starts_with("# scenario failure"), "{o}");
    assert!(!o.contains("result: as expected"), "summary on stdout");
    assert!(e.contains("result: as expected"), "{e}");

    let out = dynsim(&["run", FAILURE, "--chrome-trace", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the Chrome trace's JSON");
    assert!(json.get("traceEvents").is_some(), "{json}");

    let out = dynsim(&["run", FAILURE, "--trace", "-", "--chrome-trace", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("both write to standard output"));
}

// A reader that closes the pipe early (`| head -1`) ends dynsim quietly: exit 0 or SIGPIPE, no panic.
#[test]
fn closed_pipe_ends_quietly() {
    for args in [
        vec!["run", FAILURE, "--trace", "-"],
        vec!["run", FAILURE, "--chrome-trace", "-"],
        vec![
            "run",
            "scenarios/load/zipf_closed_loop.toml",
            "--trace",
            "-",
        ],
        vec!["ring", "bench/hundred_nodes.toml"],
    ] {
        let mut child = Command::new(DYNSIM)
            .args(&args)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dynsim starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("one line");
        // The BufReader (and the pipe's read end) is dropped here.
        let out = child.wait_with_output().expect("dynsim ends");
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
        use std::os::unix::process::ExitStatusExt;
        assert!(
            out.status.code() == Some(0) || out.status.signal() == Some(13),
            "{args:?} ended with {:?}:\n{err}",
            out.status
        );
        assert!(!first.is_empty());
    }
}

// The trace streams as the run goes: its first lines arrive while a run of
// 28 simulated years is still going, and closing the pipe then ends that
// run quietly (it once buffered the whole trace, so `| head` saw nothing
// and memory grew by gigabytes).
#[test]
fn the_trace_streams_and_a_closed_pipe_stops_the_run() {
    let dir = scratch("stream");
    let file = dir.join("idle.toml");
    std::fs::write(
        &file,
        "name = \"idle\"\nseed = 1\nduration = \"900000000s\"\n[cluster]\nnodes = 5\ngossip = true\n",
    )
    .expect("write the scenario");
    for format in ["text", "jsonl"] {
        let mut child = Command::new(DYNSIM)
            .args([
                "run",
                file.to_str().expect("utf-8"),
                "--trace",
                "-",
                "--format",
                format,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dynsim starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut got = Vec::new();
        for _ in 0..200 {
            got.push(lines.next().expect("a line").expect("text"));
        }
        assert!(got[0].contains("idle"), "{format}: {}", got[0]);
        assert!(
            child.try_wait().expect("status").is_none(),
            "{format}: the run ended before its trace was read"
        );
        drop(lines);
        let out = child.wait_with_output().expect("dynsim ends");
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{format}: {err}");
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
    }
}

// An output that cannot be written is refused before the run, with exit 2.
#[test]
fn unwritable_output_is_refused_up_front() {
    let out = dynsim(&["run", FAILURE, "--trace", "/no/such/dir/trace.txt"]);
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(e.contains("/no/such/dir"), "{e}");
    assert!(!e.contains("result:"), "it ran anyway:\n{e}");
    let out = dynsim(&["run", FAILURE, "--trace", "/tmp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("directory"));
}

// `dynsim bench --quick` runs every line in a child process of its own and
// prints one table: a header, a line per measurement with a rate, a ratio,
// a wall time and a peak RSS, and a footnote. No time is asserted. A bad
// `--one` item and a directory without the bench files are refused with 2.
#[test]
fn bench_prints_one_table() {
    let out = dynsim(&["bench", "--quick"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("dynsim ") && lines[0].contains("--quick"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("what") && lines[1].contains("peak RSS"),
        "{table}"
    );
    let rows = &lines[2..lines.len() - 1];
    let names = [
        "bare loop",
        "engine: ping-pong",
        "model: bench/hundred_nodes.toml",
        "model: bench/thousand_nodes.toml",
        "model: bench/ten_thousand_nodes.toml",
        "sweep: five_nodes",
    ];
    assert_eq!(rows.len(), names.len(), "{table}");
    for (row, name) in rows.iter().zip(names) {
        assert!(row.starts_with(name), "{row}");
        assert!(
            row.contains("/s ") && row.contains(" s ") && row.contains("MiB"),
            "{row}"
        );
        assert!(!row.contains("NOT as expected"), "{row}");
    }
    assert!(rows[0].contains(" 1.00 "), "{}", rows[0]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bench: sweep"),
        "progress goes to standard error: {stderr}"
    );

    let bad = dynsim(&["bench", "--one", "nonsense"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("unknown benchmark"));

    let elsewhere = Command::new(DYNSIM)
        .args(["bench", "--quick"])
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .expect("dynsim runs");
    assert_eq!(elsewhere.status.code(), Some(2));
    assert!(
        text(&elsewhere.stderr).contains("from the root of the dynsim repository"),
        "{}",
        text(&elsewhere.stderr)
    );
}

// Standard output that refuses the writes (a full disk: /dev/full) is output
// lost: the error is said and the exit code is 2, not 0. A closed pipe is
// not an error (the reader chose to stop), as the tests above show.
#[test]
fn a_full_standard_output_is_an_error() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // Not every Unix has /dev/full; Linux, where CI runs, does.
    };
    for args in [vec!["run", FAILURE], vec!["ring", FAILURE]] {
        let out = Command::new(DYNSIM)
            .args(&args)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(full.try_clone().expect("dup /dev/full"))
            .output()
            .expect("dynsim runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("cannot write to standard output"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

// Standard error that refuses the writes (2>/dev/full) is not a panic
// ("failed printing to stderr", exit 101): a bad file still exits 2, and a
// run that went well but could not say so exits 2 as well.
#[test]
fn a_full_standard_error_is_an_exit_code() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // Not every Unix has /dev/full; Linux, where CI runs, does.
    };
    for (args, code) in [
        (vec!["run", "no-such-file.toml"], 2),
        (vec!["run", FAILURE, "--trace", "-"], 2),
        (
            vec![
                "sweep",
                "scenarios/sweep/five_nodes.toml",
                "--seeds",
                "0..1",
                "--out",
                "-",
            ],
            2,
        ),
    ] {
        let out = Command::new(DYNSIM)
            .args(&args)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(full.try_clone().expect("dup /dev/full"))
            .output()
            .expect("dynsim runs");
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

// A crashing model does not crash the sweep: a seed whose run overflows its
// stack, exhausts its memory budget or panics is that seed's failure, with
// its replay command; the sweep writes every seed's line and its summary,
// and the seeds that never hit the bug pass as before.
#[cfg(feature = "bugs")]
#[test]
fn a_crashing_seed_fails_alone() {
    let dir = scratch("crash");
    let base = std::fs::read_to_string(root().join("scenarios/sweep/five_nodes.toml"))
        .expect("the five_nodes base");
    for (bug, kind) in [
        ("recurse-on-late-answer", "crashed: stack overflow"),
        ("hoard-on-late-answer", "exceeded the memory budget"),
        ("panic-on-late-answer", "crashed: panic"),
    ] {
        let file = dir.join(format!("{bug}.toml"));
        // Without the interleaving knobs, which make late answers so common
        // that every seed of twelve hits the bug.
        std::fs::write(
            &file,
            base.replacen(
                "[cluster]",
                &format!("[cluster]\ninject_bug = \"{bug}\""),
                1,
            ) + "\n[swarm]\ninterleavings = false\n",
        )
        .expect("write the scenario");
        let out_dir = dir.join(bug);
        let out = dynsim(&[
            "sweep",
            file.to_str().unwrap(),
            "--seeds",
            "0..12",
            "--jobs",
            "2",
            "--seed-memory",
            "256MiB",
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{bug}: {}", text(&out.stderr));
        let results = std::fs::read_to_string(out_dir.join("results.jsonl")).expect("results");
        let lines: Vec<serde_json::Value> = results
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 12, "{bug}: every seed has its line");
        let crashed: Vec<&serde_json::Value> =
            lines.iter().filter(|r| r["failed"][0] == kind).collect();
        assert!(
            !crashed.is_empty(),
            "{bug}: no seed failed with {kind}:\n{results}"
        );
        assert!(
            lines.iter().any(|r| r["ok"] == true),
            "{bug}: some seed never hits the bug and passes:\n{results}"
        );
        for r in &crashed {
            let replay = r["replay"].as_str().expect("a replay command");
            assert!(
                replay.contains(&format!("--seed {}", r["seed"])),
                "{replay}"
            );
        }
        let summary = std::fs::read_to_string(out_dir.join("summary.txt")).expect("a summary");
        assert!(summary.contains("seeds run: 12"), "{summary}");
        if bug == "recurse-on-late-answer" {
            // Shrink works on such a seed too: its candidates run in probe
            // processes, and the file it writes still overflows the stack.
            let seed = crashed[0]["seed"].to_string();
            let shrunk = dir.join("shrunk.toml");
            let out = dynsim(&[
                "shrink",
                file.to_str().unwrap(),
                "--seed",
                &seed,
                "--out",
                shrunk.to_str().unwrap(),
            ]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            assert!(text(&out.stdout).contains("fails with crashed: stack overflow"));
            let run = dynsim(&["run", shrunk.to_str().unwrap(), "--quiet"]);
            assert!(!run.status.success());
            assert!(
                text(&run.stderr).contains("has overflowed its stack"),
                "{}",
                text(&run.stderr)
            );
        }
    }
}

// `experiment` on a pipe: a short summary and the files' paths on standard
// output, not the whole table; with --progress, a plain line for every
// point on standard error with its rate and the time left.
#[test]
fn experiment_prints_a_summary_and_progress_lines() {
    let dir = scratch("experiment-summary");
    let out = dynsim(&[
        "experiment",
        "experiments/lww_clock_skew.toml",
        "--trials",
        "1",
        "--out",
        &dir.to_string_lossy(),
        "--progress",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.starts_with("lww_clock_skew: 30 points in "),
        "{stdout}"
    );
    assert!(stdout.contains("... 18 more rows in the table"), "{stdout}");
    assert!(stdout.contains(&format!("report: {}", dir.join("report.html").display())));
    assert!(stdout.contains("(30 rows)"), "{stdout}");
    assert!(stdout.lines().count() < 20, "{stdout}");
    let csv = std::fs::read_to_string(dir.join("results.csv")).expect("results.csv");
    assert_eq!(csv.lines().count(), 31, "a header and 30 rows");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert_eq!(lines.len(), 30, "{stderr}");
    assert!(
        lines[29].starts_with("progress: 30 of 30 points (100%), "),
        "{}",
        lines[29]
    );
    assert!(
        lines.iter().all(|l| l.contains(" points/s, ETA ")),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
