//! Stopping and watching runs from outside, without the code in between
//! knowing: a caller installs a check on its thread, and every
//! [`Sim::run`](crate::Sim::run) on that thread asks it every
//! [`CHECK_EVERY`] events and when it returns.
//!
//! A check that says stop makes that run, and every later run on the
//! thread, return [`Stop::Interrupted`](crate::Stop::Interrupted) at once;
//! code that runs simulations in a loop ends on it
//! ([`Stop::is_final`](crate::Stop::is_final)), and the caller learns from
//! [`with_stop_check`]'s `Err` that what it got back is not a whole result.
//! Nothing unwinds. A run on a thread without a check, or whose check never
//! says stop, has the trace it would have had without one.

use crate::time::SimTime;
use std::cell::RefCell;

/// How many events [`Sim::run`](crate::Sim::run) processes between two
/// questions to the thread's stop check: often enough to stop within
/// milliseconds, rarely enough to cost nothing measurable.
pub const CHECK_EVERY: u64 = 4_096;

/// A stop check: told how many events ran since it was last asked and the
/// simulated time reached, answers whether to stop. The time lets a check
/// that never stops report progress.
type Check = Box<dyn FnMut(u64, SimTime) -> bool>;

/// A thread's check, and the simulated time at which it said stop.
struct Installed {
    check: Check,
    stopped: Option<SimTime>,
}

thread_local! {
    static INSTALLED: RefCell<Option<Installed>> = const { RefCell::new(None) };
}

/// What [`with_stop_check`] returns when its check said stop: the
/// simulated time the interrupted run had reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted {
    /// The simulated time the run had reached.
    pub at: SimTime,
}

/// Runs `f` with `check` as this thread's stop check. When the check says
/// stop, the run it asked returns [`Stop::Interrupted`](crate::Stop::Interrupted),
/// as does every later one inside `f`, and this returns `Err` once `f` has
/// returned (whatever `f` made of its partial runs is dropped). This is how
/// a caller puts an event or wall-time budget, or a cancellation, on code
/// that runs simulations without knowing about budgets. The previous check
/// is restored afterwards, also when `f` panics.
pub fn with_stop_check<R>(
    check: impl FnMut(u64, SimTime) -> bool + 'static,
    f: impl FnOnce() -> R,
) -> Result<R, Interrupted> {
    let (r, stopped) = install(Box::new(check), f);
    match stopped {
        None => Ok(r),
        Some(at) => Err(Interrupted { at }),
    }
}

/// Runs `f` with `watch` told, as a stop check would be, how many events
/// ran and the simulated time reached; it never stops a run (progress
/// displays use it).
pub fn with_watcher<R>(mut watch: impl FnMut(u64, SimTime) + 'static, f: impl FnOnce() -> R) -> R {
    install(
        Box::new(move |n, now| {
            watch(n, now);
            false
        }),
        f,
    )
    .0
}

/// Runs `f` under `check`; returns its result and when the check said stop.
fn install<R>(check: Check, f: impl FnOnce() -> R) -> (R, Option<SimTime>) {
    struct Restore(Option<Installed>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            INSTALLED.with(|c| *c.borrow_mut() = previous);
        }
    }
    let mine = Installed {
        check,
        stopped: None,
    };
    let previous = INSTALLED.with(|c| c.borrow_mut().replace(mine));
    let restore = Restore(previous);
    let r = f();
    let stopped = INSTALLED.with(|c| c.borrow().as_ref().and_then(|i| i.stopped));
    drop(restore);
    (r, stopped)
}

/// Whether this thread has a stop check.
pub(crate) fn installed() -> bool {
    INSTALLED.with(|c| c.borrow().is_some())
}

/// Whether this thread's stop check has said stop.
pub(crate) fn stopped() -> bool {
    INSTALLED.with(|c| c.borrow().as_ref().is_some_and(|i| i.stopped.is_some()))
}

/// Asks this thread's check, telling it `events` ran since it was last
/// asked and the time is `now`; once it says stop, it is not asked again
/// and the answer stays stop.
pub(crate) fn ask(events: u64, now: SimTime) -> bool {
    INSTALLED.with(|c| {
        let mut c = c.borrow_mut();
        let Some(i) = c.as_mut() else {
            return false;
        };
        if i.stopped.is_none() && (i.check)(events, now) {
            i.stopped = Some(now);
        }
        i.stopped.is_some()
    })
}
