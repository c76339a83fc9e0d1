//! `dynsim experiment` (being written).

use crate::cli::ExperimentArgs;

pub fn cmd(_args: &ExperimentArgs) -> u8 {
    eprintln!("error: dynsim experiment is not built yet");
    crate::cli::EXIT_BAD_INPUT
}

/// Runs the experiment file at `path` and returns its self-contained HTML report.
pub fn report_html(path: &str) -> Result<String, String> {
    Err(format!("{path}: experiments are not built yet"))
}
