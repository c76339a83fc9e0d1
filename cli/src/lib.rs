//! `dynsim`: the command-line front end. It is the only crate that knows
//! clap, TOML and files: it turns scenario files into validated configs,
//! runs them on `dynamo-model` and `sim-core`, and renders summaries.
//!
//! `cmd/` is the command layer (one file per command: its arguments, what
//! it prints, its exit code); the libraries below it know nothing of the
//! command line: `scenario/` reads and writes scenario files; `runner`
//! runs one; `explore/` sweeps, merges and shrinks; `report/` renders
//! summaries, charts, traces and experiments; `serve/` is the local web page.

// Standard error that refuses a write (a full device) must not panic the
// process, as std's `eprintln!` does ("failed printing to stderr", exit
// 101): these two shadow std's for the whole crate, record the failure
// instead, and the command then exits 2 (`cmd::output::stderr_failed`).
macro_rules! eprintln {
    ($($t:tt)*) => {
        $crate::cmd::output::write_stderr(format_args!($($t)*), true)
    };
}
macro_rules! eprint {
    ($($t:tt)*) => {
        $crate::cmd::output::write_stderr(format_args!($($t)*), false)
    };
}

pub mod cmd;
pub mod explore;
pub mod parallel;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod serve;
pub mod wall;
