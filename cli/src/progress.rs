//! Progress of a long `dynsim run` on standard error: simulated time reached,
//! events per second and an estimate of the time left. It is fed by sim-core's
//! stop check (which it never uses to stop), so it sees the run only every
//! few thousand events and cannot change the trace or the summary.
//!
//! After [`QUIET_S`] seconds of wall time a terminal gets an indicatif bar; a
//! pipe or a file gets a plain line every [`PLAIN_EVERY_S`] seconds.
//! `--progress` forces plain lines from the start, at every check, which
//! lets a test see them without waiting.

use crate::wall::Stopwatch;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sim_core::SimTime;
use std::io::{IsTerminal, Write};

/// Runs shorter than this (wall seconds) show no progress at all.
pub const QUIET_S: f64 = 2.0;
/// Seconds between two plain progress lines when standard error is not a terminal.
pub const PLAIN_EVERY_S: f64 = 5.0;

/// How progress is shown.
pub enum Mode {
    /// A bar on a terminal, plain lines otherwise, both only after [`QUIET_S`].
    Auto,
    /// A plain line at every check, from the start, to `sink`.
    Forced(Box<dyn Write>),
}

/// What a run has done so far, and where it reports it.
pub struct Progress {
    end: SimTime,
    clock: Stopwatch,
    events: u64,
    /// Wall seconds when the last plain line was written.
    last_line_s: f64,
    bar: Option<ProgressBar>,
    terminal: bool,
    forced: Option<Box<dyn Write>>,
}

impl Progress {
    /// Progress of a run that ends at simulated time `end`.
    pub fn new(end: SimTime, mode: Mode) -> Progress {
        let forced = match mode {
            Mode::Auto => None,
            Mode::Forced(sink) => Some(sink),
        };
        Progress {
            end,
            clock: Stopwatch::start(),
            events: 0,
            // The first plain line comes as soon as the run has taken QUIET_S.
            last_line_s: QUIET_S - PLAIN_EVERY_S,
            bar: None,
            terminal: std::io::stderr().is_terminal(),
            forced,
        }
    }

    /// Told by the stop check: `events` more ran and the run reached `now`. Never asks to stop.
    pub fn update(&mut self, events: u64, now: SimTime) -> bool {
        self.events += events;
        let wall_s = self.clock.seconds();
        if let Some(sink) = self.forced.as_mut() {
            let _ = writeln!(sink, "{}", line(now, self.end, self.events, wall_s));
            return false;
        }
        if wall_s < QUIET_S {
            return false;
        }
        if self.terminal {
            let end_ms = self.end.as_us() / 1_000;
            let bar = self.bar.get_or_insert_with(|| {
                let bar = ProgressBar::with_draw_target(Some(end_ms), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30} simulated {pos}/{len} ms, {msg}, ETA {eta}",
                    )
                    .expect("a valid template"),
                );
                bar
            });
            bar.set_position((now.as_us() / 1_000).min(end_ms));
            bar.set_message(format!("{:.0} events/s", self.events as f64 / wall_s));
        } else if wall_s - self.last_line_s >= PLAIN_EVERY_S {
            self.last_line_s = wall_s;
            eprintln!("{}", line(now, self.end, self.events, wall_s));
        }
        false
    }

    /// The run is over: the bar, if any, goes away.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// One plain progress line: `progress: simulated 12000.000ms of 60000.000ms (20%), 812345 events/s, ETA 41s`.
pub fn line(now: SimTime, end: SimTime, events: u64, wall_s: f64) -> String {
    let (now_us, end_us) = (now.as_us().min(end.as_us()), end.as_us().max(1));
    let done = now_us as f64 / end_us as f64;
    let rate = if wall_s > 0.0 {
        events as f64 / wall_s
    } else {
        0.0
    };
    let eta = if done > 0.0 {
        format!("{:.0}s", wall_s * (1.0 - done) / done)
    } else {
        "unknown".to_string()
    };
    // Milliseconds with microseconds, as in the trace: a busy run may spend
    // seconds of wall time inside its first simulated millisecond.
    format!(
        "progress: simulated {} of {} ({:.0}%), {rate:.0} events/s, ETA {eta}",
        SimTime(now_us),
        end,
        100.0 * done
    )
}

/// Runs `f` (which runs simulations ending at `end`) with progress shown as `mode` says.
pub fn with_progress<R>(end: SimTime, mode: Mode, f: impl FnOnce() -> R) -> R {
    let progress = std::rc::Rc::new(std::cell::RefCell::new(Progress::new(end, mode)));
    let fed = progress.clone();
    let r = sim_core::with_stop_check(move |n, now| fed.borrow_mut().update(n, now), f);
    progress.borrow_mut().finish();
    r
}
