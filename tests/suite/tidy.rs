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
        .filter(|p| !rel(p).starts_with("scenarios/check/"))
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

/// Every file of the repository (no `target/`, no `.git/`), relative to the root.
fn repo_files() -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && name != "target" && name != ".git" {
                walk(&e.path(), out);
            } else if ft.is_file() {
                out.push(rel(&e.path()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &mut out);
    out.sort();
    out
}

/// The file names a text mentions: words ending in `.md`, `.toml` or `.rs`
/// made of the characters paths here use, with the word's span.
fn mentioned_files(text: &str) -> Vec<String> {
    let path_char = |c: char| c.is_ascii_alphanumeric() || "_./*-".contains(c);
    let mut out = Vec::new();
    for word in text.split(|c: char| !path_char(c)) {
        let word = word.trim_end_matches('.');
        let has_stem = word.rsplit_once('.').is_some_and(|(stem, _)| {
            stem.rsplit('/')
                .next()
                .is_some_and(|b| b.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '*'))
        });
        if [".md", ".toml", ".rs"].iter().any(|e| word.ends_with(e)) && has_stem {
            out.push(word.to_string());
        }
    }
    out
}

// The repository names no file it does not hold: every file a README, doc or
// source mentions by path exists, and so does every file mentioned by bare
// name (once a project cited a design document it did not contain).
#[test]
fn every_mentioned_file_exists() {
    let files = repo_files();
    let names: BTreeSet<&str> = files
        .iter()
        .map(|f| f.rsplit('/').next().unwrap_or(f))
        .collect();
    // Names that stand for files a user creates or a command writes.
    let made_by_users = ["no_repair.toml", "scenario.toml"];
    let mut missing = Vec::new();
    for f in &files {
        let ext_ok = [".md", ".rs", ".toml"].iter().any(|e| f.ends_with(e));
        if !ext_ok || f.starts_with("tests/malformed/") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root().join(f)) else {
            continue;
        };
        // Documents are read whole; sources only in their comments, since
        // their code and strings name test inputs that need not exist.
        let prose: String = if f.ends_with(".md") {
            text
        } else {
            let mark = if f.ends_with(".rs") { "//" } else { "#" };
            text.lines()
                .filter(|l| l.trim_start().starts_with(mark))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let dir = f.rsplit_once('/').map_or("", |(d, _)| d);
        for m in mentioned_files(&prose) {
            let exists = if m.contains('*') {
                // A glob: its directory must exist.
                let d = m.rsplit_once('/').map_or("", |(d, _)| d);
                d.is_empty() || root().join(d).is_dir() || root().join(dir).join(d).is_dir()
            } else if m.contains('/') {
                let m = m.trim_start_matches("./");
                // A path may be given from the root, from the document's
                // folder, or from the crate a section is about.
                root().join(m).exists()
                    || root().join(dir).join(m).exists()
                    || files.iter().any(|f| f.ends_with(&format!("/{m}")))
            } else {
                // `shrink` names its output `<input>-seed<S>-shrunk.toml`.
                names.contains(m.as_str())
                    || made_by_users.contains(&m.as_str())
                    || m.ends_with("-shrunk.toml")
            };
            if !exists {
                missing.push(format!("{f} mentions {m}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files mentioned but not in the repository:\n  {}",
        missing.join("\n  ")
    );
}

// Injected bugs stay out of the product: every bug's code is in
// dynamo-model/src/bugs.rs, and every line elsewhere that names that module
// sits right under a `#[cfg(feature = "bugs")]`, so a build without the
// feature has neither the bugs nor a branch for them.
#[test]
fn injected_bugs_live_behind_their_feature() {
    let mut bad = Vec::new();
    for dir in ["dynamo-model/src", "sim-core/src", "cli/src"] {
        for file in dynsim_tests::rust_files(&root().join(dir)) {
            let r = rel(&file);
            if r == "dynamo-model/src/bugs.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("readable");
            let lines: Vec<&str> = text.lines().collect();
            const GATE: &str = "#[cfg(feature = \"bugs\")]";
            // The closing line of a gated function (`}` at its indentation), while inside one.
            let mut gated_fn_end: Option<String> = None;
            for (i, line) in lines.iter().enumerate() {
                if let Some(end) = &gated_fn_end {
                    if *line == end.as_str() {
                        gated_fn_end = None;
                    }
                    continue;
                }
                if line.trim() == GATE {
                    // A gated function: everything to its closing brace is gated.
                    let item = lines[i + 1..].iter().find(|l| {
                        !l.trim_start().starts_with("#[") && !l.trim_start().starts_with("///")
                    });
                    if let Some(item) = item.filter(|l| l.contains("fn ") && !l.ends_with(';')) {
                        let indent = &item[..item.len() - item.trim_start().len()];
                        gated_fn_end = Some(format!("{indent}}}"));
                    }
                    continue;
                }
                let names_bugs = line.contains("bugs::")
                    || line.contains(".bug ")
                    || line.contains(".bug.")
                    || line.trim_start().starts_with("bug:");
                if !names_bugs {
                    continue;
                }
                // The `#[cfg]` may stand a few lines up, over the statement this line is part of.
                let gated = lines[i.saturating_sub(4)..i]
                    .iter()
                    .any(|l| l.trim() == GATE);
                if !gated {
                    bad.push(format!("{r}:{}: {}", i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "lines that reach injected bugs without #[cfg(feature = \"bugs\")]:\n{}",
        bad.join("\n")
    );
}
