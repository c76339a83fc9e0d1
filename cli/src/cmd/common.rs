//! What every command shares: the exit codes, and loading a scenario file
//! (or saying what is wrong with it).

/// Exit codes: 0 all as expected, 1 an expectation or checker failed, 2 bad
/// input or output that could not be written, 130 a sweep stopped by Ctrl-C
/// (what finished is written).
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

/// Loads a scenario, or prints its problems and gives the exit code.
pub(super) fn load(file: &std::path::Path) -> Result<crate::scenario::Scenario, u8> {
    crate::scenario::load(&file.to_string_lossy()).map_err(|d| {
        eprintln!("{d}");
        EXIT_BAD_INPUT
    })
}
