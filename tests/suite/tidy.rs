//! Tidy checks: every scenario has a snapshot, and every snapshot a scenario or a corpus file.

use dynsim_tests::{rel, root, toml_files};
use std::collections::BTreeSet;

fn snapshots(prefix: &str) -> BTreeSet<String> {
    let dir = root().join("tests/suite/snapshots");
    std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix) && n.ends_with(".snap"))
                .collect()
        })
        .unwrap_or_default()
}

fn expected(prefix: &str, dir: &str) -> BTreeSet<String> {
    let base = root().join(dir);
    toml_files(&base)
        .iter()
        .map(|p| {
            let r = rel(p);
            let inside = r
                .strip_prefix(&format!("{dir}/"))
                .expect("under dir")
                .replace('/', "__");
            format!("{prefix}@{inside}.snap")
        })
        .collect()
}

fn compare(prefix: &str, dir: &str) {
    let have = snapshots(prefix);
    let want = expected(prefix, dir);
    let missing: Vec<_> = want.difference(&have).collect();
    let orphans: Vec<_> = have.difference(&want).collect();
    assert!(
        missing.is_empty(),
        "files in {dir}/ without a snapshot (run the suite and review them): {missing:?}"
    );
    assert!(
        orphans.is_empty(),
        "snapshots without a file in {dir}/ (delete them): {orphans:?}"
    );
}

// Every scenario has a snapshot and every scenario snapshot has a scenario.
#[test]
fn scenario_snapshots_match_scenarios() {
    compare("suite__scenarios__every_scenario", "scenarios");
}

// Every malformed-corpus file has a snapshot of its messages, and every such snapshot a file.
#[test]
fn malformed_snapshots_match_corpus() {
    compare("suite__malformed__every_malformed_file", "tests/malformed");
}

// No snapshot is left pending review.
#[test]
fn no_pending_snapshots() {
    let dir = root().join("tests/suite/snapshots");
    let pending: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".snap.new"))
                .collect()
        })
        .unwrap_or_default();
    assert!(pending.is_empty(), "unreviewed snapshots: {pending:?}");
}
