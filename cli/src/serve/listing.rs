//! The scenario and experiment listings. They follow a symlink only when its
//! target lies inside the listed folder, visit each real folder once (so a
//! symlink loop ends), and stop at a depth and a count, so a strange folder
//! can neither leak files from elsewhere nor hang the page.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Folders deeper than this below the listed one are not visited.
/// Where the bundled scenarios live, relative to the working directory.
pub(crate) const SCENARIO_DIR: &str = "scenarios";
/// Where experiment files live, relative to the working directory.
pub(crate) const EXPERIMENT_DIR: &str = "experiments";
/// The scenario the page opens with, when it exists.
pub(crate) const DEFAULT_SCENARIO: &str = "failure.toml";

const MAX_DEPTH: usize = 8;
/// The listing stops after this many files.
const MAX_FILES: usize = 2_000;
/// A scenario or experiment file larger than this is not read.
pub(super) const MAX_FILE_BYTES: u64 = 1 << 20;

/// Every `.toml` file below `dir`, as sorted paths relative to it with `/`;
/// not the check scopes of its `check/` folder, which are not scenarios.
pub(super) fn toml_list(dir: &Path) -> Vec<String> {
    let Ok(base) = dir.canonicalize() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::from([base.clone()]);
    walk(&base, &base, "", 0, &mut seen, &mut out);
    out.retain(|f| !f.starts_with("check/"));
    out.sort();
    out
}

fn walk(
    base: &Path,
    dir: &Path,
    prefix: &str,
    depth: usize,
    seen: &mut BTreeSet<PathBuf>,
    out: &mut Vec<String>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // Where the entry really is; a dangling link or a loop fails here.
        let Some(real) = inside(base, &entry.path()) else {
            continue;
        };
        let rel = format!("{prefix}{name}");
        if real.is_dir() {
            if depth < MAX_DEPTH && seen.insert(real.clone()) {
                walk(base, &real, &format!("{rel}/"), depth + 1, seen, out);
            }
        } else if real.is_file() && name.ends_with(".toml") {
            out.push(rel);
        }
    }
}

/// `path` resolved through every symlink, if it lies inside `base` (itself resolved).
fn inside(base: &Path, path: &Path) -> Option<PathBuf> {
    let real = path.canonicalize().ok()?;
    real.starts_with(base).then_some(real)
}

/// Reads `name` from `dir` if it is one of `list` (never any other path), and
/// only if it still resolves inside `dir` and is a regular file of a sane
/// size; messages call the folder `shown`.
pub(super) fn read_listed(
    dir: &Path,
    shown: &str,
    list: &[String],
    name: &str,
    what: &str,
) -> Result<String, String> {
    let dir_text = shown;
    if !list.iter().any(|s| s == name) {
        return Err(format!(
            "unknown {what} {name:?}; choose one of the {} files in {dir_text}/",
            list.len()
        ));
    }
    let base = dir
        .canonicalize()
        .map_err(|e| format!("cannot read {dir_text}/: {e}"))?;
    let real = inside(&base, &base.join(name))
        .ok_or_else(|| format!("{dir_text}/{name} no longer lies inside {dir_text}/"))?;
    let meta =
        std::fs::metadata(&real).map_err(|e| format!("cannot read {dir_text}/{name}: {e}"))?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{dir_text}/{name} is not a regular file of at most {MAX_FILE_BYTES} bytes"
        ));
    }
    std::fs::read_to_string(&real).map_err(|e| format!("cannot read {dir_text}/{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Symlinks out of the folder are not listed, symlinks inside it are, and a loop ends.
    #[cfg(unix)]
    #[test]
    fn symlinks_stay_inside_and_loops_end() {
        use std::os::unix::fs::symlink;
        let root = std::env::temp_dir().join(format!("dynsim-listing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("scenarios");
        std::fs::create_dir_all(dir.join("sub")).expect("dirs");
        std::fs::write(dir.join("a.toml"), "x").expect("file");
        std::fs::write(dir.join("sub/b.toml"), "x").expect("file");
        std::fs::write(root.join("secret.toml"), "x").expect("file");
        symlink(root.join("secret.toml"), dir.join("out.toml")).expect("link");
        symlink(&root, dir.join("up")).expect("link");
        symlink(&dir, dir.join("sub/loop")).expect("link");
        symlink(dir.join("a.toml"), dir.join("alias.toml")).expect("link");
        let list = toml_list(&dir);
        assert_eq!(list, ["a.toml", "alias.toml", "sub/b.toml"]);
        assert!(read_listed(&dir, "scenarios", &list, "out.toml", "scenario").is_err());
        assert_eq!(
            read_listed(&dir, "scenarios", &list, "alias.toml", "scenario").as_deref(),
            Ok("x")
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
