//! Helpers shared by the integration suite (`tests/suite`).

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// A path relative to the workspace root, with forward slashes, for stable names in snapshots.
pub fn rel(path: &Path) -> String {
    let r = path.strip_prefix(root()).unwrap_or(path);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every `.toml` file below `dir`, sorted.
pub fn toml_files(dir: &Path) -> Vec<PathBuf> {
    dynsim::scenario::toml_read::toml_files(dir)
}

/// Every scenario under `scenarios/`, sorted: its `.toml` files but the
/// check scopes of `scenarios/check/`, which `dynsim check` takes.
pub fn scenario_files() -> Vec<PathBuf> {
    toml_files(&root().join("scenarios"))
        .into_iter()
        .filter(|p| !rel(p).starts_with("scenarios/check/"))
        .collect()
}

/// Runs a scenario file the way `dynsim run` does (with the trace on) and
/// returns (trace text, summary text, as expected).
pub fn run_scenario(path: &Path) -> (String, String, bool) {
    let s = dynsim::scenario::load(&rel(path))
        .unwrap_or_else(|d| panic!("{} does not load:\n{d}", rel(path)));
    let report = dynsim::runner::run(&s, s.seed, true).expect("the scenario runs");
    (
        report.cluster.sim.core.trace.render_text(),
        dynsim::report::summary::render(&report),
        report.as_expected(),
    )
}

/// Every `.rs` file below `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A fresh, empty directory for the `serve` tests under the workspace's
/// target directory.
pub fn serve_scratch(name: &str) -> PathBuf {
    let dir = root()
        .join("target/serve-e2e")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}
