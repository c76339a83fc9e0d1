//! What every command shares: the exit codes, and loading a scenario file
//! (or saying what is wrong with it).

/// Everything went as expected.
pub const EXIT_OK: u8 = 0;
/// An expectation or checker failed.
pub const EXIT_FAILED: u8 = 1;
/// Bad input, or output that could not be written.
pub const EXIT_BAD_INPUT: u8 = 2;
/// A sweep stopped by Ctrl-C; what finished is written.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Loads a scenario, or prints its problems and gives the exit code.
pub(super) fn load(file: &std::path::Path) -> Result<crate::scenario::Scenario, u8> {
    crate::scenario::load(&file.to_string_lossy()).map_err(|d| {
        eprintln!("{d}");
        EXIT_BAD_INPUT
    })
}

/// `--root DIR` of `serve` and `bench`: works from `DIR`, which must hold
/// each of `needs` (directories of the dynsim repository), as if the
/// command had been started there. Without it, the command works from the
/// current directory.
pub(super) fn enter_root(
    root: Option<&std::path::Path>,
    needs: &[&str],
    cmd: &str,
) -> Result<(), String> {
    let Some(root) = root else {
        return Ok(());
    };
    if !root.is_dir() {
        return Err(format!(
            "--root {}: not a directory; give the dynsim repository's root, where {} are",
            root.display(),
            needs.join(" and ")
        ));
    }
    for need in needs {
        if !root.join(need).is_dir() {
            return Err(format!(
                "--root {}: has no {need}/ directory; `dynsim {cmd}` needs the dynsim repository's root, where {} are",
                root.display(),
                needs.join(" and ")
            ));
        }
    }
    std::env::set_current_dir(root).map_err(|e| format!("--root {}: {e}", root.display()))
}
