//! Finding bugs: swarm fault mixes drawn per seed, seed sweeps, merging
//! sweep shards, and shrinking a failing seed to a small explicit scenario.

pub mod check;
pub mod isolate;
pub mod merge;
pub mod shrink;
pub mod swarm;
pub mod sweep;
