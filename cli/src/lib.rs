//! `dynsim`: the command-line front end. It is the only crate that knows
//! clap, TOML and files: it turns scenario files into validated configs,
//! runs them on `dynamo-model` and `sim-core`, and renders summaries.

pub mod diag;
pub mod scenario;
pub mod toml_read;
pub mod output;
pub mod runner;
pub mod summary;
pub mod cli;
