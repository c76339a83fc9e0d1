//! `sim-core` is a generic, deterministic discrete-event simulation engine.
//!
//! A seeded, single-threaded event loop pops events in (simulated time,
//! insertion sequence) order and hands each to a [`Node`] state machine
//! through a [`Context`] that carries the time, the node's clock reading, its
//! own random stream and an effects buffer. Sends, timers, replies and notes
//! leave the node only as effects, which the engine turns into new events
//! after routing them through the [`NetConfig`] network model. Every decision
//! is recorded in a typed [`Trace`] when recording is on.
//!
//! It deliberately knows nothing about Dynamo, files, or the command line: it
//! never reads a wall clock, never draws from an unseeded RNG, and never
//! iterates a hash map, so the same seed gives the same trace on every OS.

pub mod bench;
pub mod digest;
mod engine;
pub mod latency;
mod net;
mod queue;
pub mod rng;
pub mod stop;
pub mod time;
pub mod trace;

#[cfg(test)]
mod engine_tests;

pub use engine::{
    ClientId, Context, Core, Fault, HELD_TIMER_BASE, Harness, Held, Input, Limits,
    MAX_PENDING_BYTES, MAX_SAME_INSTANT, Message, Node, NodeId, Sim, Stats, Stop, TimerId, Traced,
    item_digest,
};
pub use latency::Latency;
pub use net::{LinkConfig, MAX_ZONES, NetConfig, Network, ZoneLink};
pub use rng::{SimRng, Stream};
pub use time::{SimDuration, SimTime};
pub use trace::{
    Actor, DropReason, Event, JsonlSink, Record, TextSink, Trace, TraceSink, write_comment_lines,
};
