//! `dynsim`: the command-line front end. It is the only crate that knows
//! clap, TOML and files: it turns scenario files into validated configs,
//! runs them on `dynamo-model` and `sim-core`, and renders summaries.
//!
//! `cmd/` is the command layer (one file per command: its arguments, what
//! it prints, its exit code); the libraries below it know nothing of the
//! command line: `scenario/` reads and writes scenario files; `runner`
//! runs one; `explore/` sweeps, merges and shrinks; `report/` renders
//! summaries, charts, traces and experiments; `serve/` is the local web page.

pub mod cmd;
pub mod explore;
pub mod parallel;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod serve;
pub mod wall;
