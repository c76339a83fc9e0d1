//! The sharded-sweep recipe, run on this machine: `deploy/sweep-parallel.sh`
//! runs three shards of a sweep at once under GNU parallel and merges them,
//! and the merged summary equals a single run's over the same seeds. It is a
//! test target without libtest's harness, because libtest cannot say
//! "skipped" at run time: without GNU parallel it prints the test as skipped
//! (never as passed), and `.ci/run`, which installs parallel and sets
//! `DYNSIM_PARALLEL_TEST=1`, makes a missing parallel a failure instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DYNSIM: &str = env!("CARGO_BIN_EXE_dynsim");
const PARALLEL: &str = "/usr/bin/parallel";
const NAME: &str = "gnu_parallel_shards_merge_to_a_single_runs_summary";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!(
            "\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 skipped (filtered out)\n"
        );
        return;
    }
    println!("\nrunning 1 test");
    let wanted = std::env::var("DYNSIM_PARALLEL_TEST").as_deref() == Ok("1");
    if !wanted && !Path::new(PARALLEL).exists() {
        println!(
            "test {NAME} ... SKIPPED: needs {PARALLEL} (apt-get install parallel); set DYNSIM_PARALLEL_TEST=1 to make its absence a failure"
        );
        println!("\ntest result: ok. 0 passed; 0 failed; 1 skipped\n");
        return;
    }
    match std::panic::catch_unwind(shards_merge_to_a_single_runs_summary) {
        Ok(()) => {
            println!("test {NAME} ... ok");
            println!("\ntest result: ok. 1 passed; 0 failed; 0 skipped\n");
        }
        Err(_) => {
            println!("test {NAME} ... FAILED");
            println!("\ntest result: FAILED. 0 passed; 1 failed; 0 skipped\n");
            std::process::exit(101);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is inside the workspace")
        .to_path_buf()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every seed's result line, without the shard that ran it, sorted by seed.
fn results(dirs: &[PathBuf]) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = dirs
        .iter()
        .flat_map(|d| {
            std::fs::read_to_string(d.join("results.jsonl"))
                .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
                .lines()
                .map(|l| {
                    let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                    v.as_object_mut().expect("an object").remove("shard");
                    v
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by_key(|v| v["seed"].as_u64());
    out
}

fn shards_merge_to_a_single_runs_summary() {
    let scratch = std::env::temp_dir().join(format!("dynsim-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    // dynsim on the PATH, as the recipe expects.
    let bin = Path::new(DYNSIM).parent().expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (file, seeds) = ("scenarios/sweep/five_nodes.toml", "0..60");
    let sharded = scratch.join("sharded");
    let out = Command::new("sh")
        .arg("deploy/sweep-parallel.sh")
        .args([file, seeds, "3", &sharded.to_string_lossy()])
        .current_dir(root())
        .env("PATH", &path)
        .stdin(Stdio::null())
        .output()
        .expect("the recipe runs");
    assert!(
        out.status.success(),
        "recipe failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let shards: Vec<PathBuf> = (0..3).map(|k| sharded.join(format!("shard-{k}"))).collect();
    for s in &shards {
        assert!(s.join("results.jsonl").is_file(), "{} ran", s.display());
    }
    // The same seeds in one run.
    let single = scratch.join("single");
    let one = Command::new(DYNSIM)
        .args([
            "sweep",
            file,
            "--seeds",
            seeds,
            "--out",
            &single.to_string_lossy(),
        ])
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("a single sweep runs");
    assert!(one.status.success(), "{}", text(&one.stderr));
    let (sharded_results, single_results) =
        (results(&shards), results(std::slice::from_ref(&single)));
    assert_eq!(sharded_results.len(), 60, "every seed ran once");
    for (a, b) in sharded_results.iter().zip(&single_results) {
        assert_eq!(
            a, b,
            "a seed's result is the same in a shard as in the single run"
        );
    }
    assert_eq!(sharded_results.len(), single_results.len());
    let merged_single = Command::new(DYNSIM)
        .args(["merge", &single.to_string_lossy()])
        .output()
        .expect("merge runs");
    assert!(merged_single.status.success());
    let merged = std::fs::read_to_string(sharded.join("merged.txt")).expect("merged.txt");
    let skip_first = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(
        merged.starts_with("merged 3 result file(s): seeds 0..60"),
        "{merged}"
    );
    assert_eq!(
        skip_first(&merged),
        skip_first(&text(&merged_single.stdout)),
        "the merged summary is the single run's"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
