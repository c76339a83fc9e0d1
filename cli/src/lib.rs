//! `dynsim`: the command-line front end. It is the only crate that knows
//! clap, TOML and files: it turns scenario files into validated configs,
//! runs them on `dynamo-model` and `sim-core`, and renders summaries.

pub mod chrome;
pub mod cli;
pub mod diag;
pub mod experiment;
pub mod output;
pub mod runner;
pub mod scenario;
pub mod serve;
pub mod shrink;
pub mod summary;
pub mod svg;
pub mod swarm;
pub mod sweep;
pub mod toml_read;
pub mod wall;
pub mod write;
