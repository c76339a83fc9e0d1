//! `dynsim`: the command-line front end. It is the only crate that knows
//! clap, TOML and files: it turns scenario files into validated configs,
//! runs them on `dynamo-model` and `sim-core`, and renders summaries.
//!
//! `args` holds every command's arguments and the exit codes; `cli` parses
//! and dispatches; `scenario/` reads and writes scenario files; `explore/`
//! sweeps, merges and shrinks; `report/` renders summaries, charts, traces
//! and experiments; `serve/` is the local web page.

pub mod args;
pub mod bench;
pub mod cli;
pub mod explore;
pub mod output;
pub mod progress;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod serve;
pub mod wall;
