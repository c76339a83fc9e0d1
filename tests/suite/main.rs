//! dynsim's one integration-test binary: scenario snapshots and
//! determinism, the malformed-scenario corpus, the CLI, and tidy checks.

mod bounds;
mod check;
mod cli;
mod experiments;
mod imports;
mod malformed;
mod scenarios;
mod serve;
mod sweep;
mod tidy;
