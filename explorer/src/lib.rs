//! `dynamo-explorer` explores every interleaving of a small scope on the
//! real Dynamo node state machines (`dynsim check`), or walks it at random
//! with a PCT-style scheduler when it is too big to finish.
//!
//! A state is a holding [`dynamo_observer::Cluster`]: the real nodes, driven
//! through `Node::handle` by sim-core's engine, whose messages, client
//! requests and timers wait until the explorer releases one. Time is
//! abstracted: any held message may be delivered next and any held timer
//! may fire next, whatever its delay (firing moves the clock to its due
//! time if that is later). Actions: a client issues its next operation, a
//! held item is released, dropped or duplicated, a node crashes (its disk
//! wiped or not) or restarts, one node is cut off or the cut heals, and
//! time passes to the next client timeout. Budgets count faults per path.
//!
//! | module | what |
//! |---|---|
//! | `scope.rs` | [`Scope`]: clients, budgets, timers, bounds, search |
//! | `state.rs` | [`State`], [`Action`], applying one, and steps as scenarios name them |
//! | `judge.rs` | invariants after each step, every checker on completed terminal states, "sometimes" counts |
//! | `search.rs` | breadth first (parallel levels), depth first, sleep sets, the visited set |
//! | `dpor.rs` | source-DPOR with sleep sets, depth first |
//! | `random.rs` | PCT-style random walks |
//! | `set.rs` | the digest table |

mod dpor;
mod judge;
mod random;
mod scope;
mod search;
mod set;
mod state;

pub use judge::{Judged, Property, SOMETIMES, broken_now, judge_terminal, step_invariants};
pub use scope::{
    ALWAYS_TIMERS, Bounds, Budgets, COUNTED_TIMERS, ClientScope, DEFAULT_BOUNDS, Reduction, Scope,
    ScopeOp, Search, TIMER_LABELS, VISITED_ENTRY_BYTES, bytes,
};
pub use search::{Finding, PctBound, Progress, Quiet, Report, Watch, explore};
pub use state::{
    Action, Footprint, State, Step, StepKind, describe, find_held, fires_on_time, isolate, steps_of,
};

#[cfg(test)]
mod tests;
