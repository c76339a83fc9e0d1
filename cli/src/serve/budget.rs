//! Budgets: every run the page starts has an event budget and a wall-time
//! budget and stops when its client disconnects; and only so many runs go
//! at once. The run is cut through sim-core's stop check, which every
//! simulation on the thread asks, so the same budget covers a scenario run
//! and an experiment's many clusters.

use super::http::ClientWatch;
use crate::wall::Stopwatch;
use sim_core::SimTime;
use sim_core::stop::with_stop_check;
use std::cell::Cell;
use std::net::TcpStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most trials a point the page runs: a file that asks for more (the
/// PBS files run 40,000, so that their 99.9% points rest on enough stale
/// reads) runs with this many here, said above its report, whose
/// Uncertainty section then lists the estimates that rest on too few.
pub(super) const PAGE_TRIALS: u64 = 5_000;

/// How much one request may run.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Simulation events, over every simulation the request runs.
    pub max_events: u64,
    /// Wall-clock seconds.
    pub max_seconds: f64,
}

/// What a request spent of its budget before its run began.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Spent {
    /// Events: building the cluster's tables, one per entry (it is paid
    /// before any event runs).
    pub events: u64,
    /// Wall seconds: reading the request and its scenario.
    pub seconds: f64,
}

impl Budget {
    /// What reading the request took (`seconds`) and building its cluster
    /// will allocate (`setup_entries` table entries), counted against this
    /// budget; or why the cluster is too big to build.
    pub(super) fn charge_setup(self, seconds: f64, setup_entries: u64) -> Result<Spent, String> {
        if setup_entries >= self.max_events {
            return Err(format!(
                "cluster: building this cluster allocates {setup_entries} table entries (the ring's walks and anti-entropy ranges, and every node's view of every peer), more than this page's budget of {} simulation events; use fewer nodes, tokens or replicas, or run it on the command line with dynsim run",
                self.max_events
            ));
        }
        // Time spent reading counts from the run's first look at the clock.
        Ok(Spent {
            events: setup_entries,
            seconds,
        })
    }
}

/// Why a run was cut.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum CutReason {
    /// It used its event budget.
    Events(u64),
    /// It used its wall-time budget, in seconds.
    Wall(f64),
    /// Its client closed the connection.
    ClientGone,
}

/// A run cut by its budget: why, and the simulated time it had reached.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Cut {
    pub reason: CutReason,
    pub at: SimTime,
}

impl Cut {
    /// What was cut, as a sentence for the page.
    pub(super) fn describe(&self, whole: &str) -> String {
        let why = match self.reason {
            CutReason::Events(n) => format!("it used this page's budget of {n} simulation events"),
            CutReason::Wall(s) => format!("it used this page's budget of {s} s of wall time"),
            CutReason::ClientGone => "its browser closed the connection".to_string(),
        };
        format!(
            "The {whole} was stopped because {why}, at simulated time {} of its last simulation; nothing of it is shown, since a partial run's checks and summary would mislead.",
            self.at
        )
    }
}

/// What ended a budgeted call other than its result.
#[derive(Debug)]
pub(super) enum Stopped {
    Cut(Cut),
    /// A panic (a bug), with its message.
    Panicked(String),
}

/// How often, in wall seconds, the client's socket is looked at.
const PEEK_EVERY_S: f64 = 0.05;

/// Runs `f` within `budget`; `client` is the request's connection, watched
/// for a disconnect. A panic inside `f` is caught and returned as text.
pub(super) fn within<R>(
    budget: Budget,
    client: Option<&TcpStream>,
    f: impl FnOnce() -> R,
) -> Result<R, Stopped> {
    within_after(budget, Spent::default(), client, f)
}

/// [`within`], with `spent` of the budget already used.
pub(super) fn within_after<R>(
    budget: Budget,
    spent: Spent,
    client: Option<&TcpStream>,
    f: impl FnOnce() -> R,
) -> Result<R, Stopped> {
    let mut watched = client
        .and_then(|c| c.try_clone().ok())
        .map(ClientWatch::new);
    let reason: Rc<Cell<Option<CutReason>>> = Rc::new(Cell::new(None));
    let said = reason.clone();
    let clock = Stopwatch::start();
    let mut events = spent.events;
    let mut last_peek = 0.0f64;
    let check = move |n: u64, _now: SimTime| {
        events += n;
        let why = if events >= budget.max_events {
            Some(CutReason::Events(budget.max_events))
        } else {
            let now = spent.seconds + clock.seconds();
            if now >= budget.max_seconds {
                Some(CutReason::Wall(budget.max_seconds))
            } else if now - last_peek >= PEEK_EVERY_S {
                last_peek = now;
                watched
                    .as_mut()
                    .is_some_and(ClientWatch::gone)
                    .then_some(CutReason::ClientGone)
            } else {
                None
            }
        };
        said.set(why);
        why.is_some()
    };
    match catch_unwind(AssertUnwindSafe(|| with_stop_check(check, f))) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(i)) => Err(Stopped::Cut(Cut {
            reason: reason.get().unwrap_or(CutReason::Events(budget.max_events)),
            at: i.at,
        })),
        Err(payload) => Err(Stopped::Panicked(crate::explore::isolate::panic_text(
            payload.as_ref(),
        ))),
    }
}

/// The limit on runs going at once.
#[derive(Debug)]
pub(super) struct Slots {
    busy: Arc<AtomicUsize>,
    max: usize,
}

/// A run slot, given back when dropped.
#[derive(Debug)]
pub(super) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Slots {
    pub(super) fn new(max: usize) -> Slots {
        Slots {
            busy: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A slot, if fewer than the limit are taken.
    pub(super) fn take(&self) -> Option<Slot> {
        self.busy
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.busy.clone()))
    }
}
