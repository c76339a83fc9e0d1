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
use dynamo_observer::OpsGauge;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sim_core::SimTime;
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;

thread_local! {
    /// Whether a progress display is watching this thread's runs.
    static WATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The operations of the run being watched, once it has set up its clients.
    static GAUGE: RefCell<Option<OpsGauge>> = const { RefCell::new(None) };
}

/// Tells this thread's progress display how far the run's operations have
/// got: with a known budget, the time left is estimated from operations,
/// not simulated time (a load that ends early leaves a cheap idle tail, and
/// simulated time alone overestimated a million-operation run threefold).
/// Does nothing when no display is watching (a sweep's threads, the web page).
pub fn watch_ops(gauge: OpsGauge) {
    if WATCHING.with(std::cell::Cell::get) {
        GAUGE.with(|g| *g.borrow_mut() = Some(gauge));
    }
}

fn ops() -> Option<(u64, u64)> {
    GAUGE.with(|g| {
        let g = g.borrow();
        let g = g.as_ref()?;
        Some((g.finished.load(Ordering::Relaxed), g.budget?))
    })
}

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
    /// (wall seconds, simulated time) when every operation had finished.
    ops_over: Option<(f64, SimTime)>,
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
            ops_over: None,
        }
    }

    /// Wall seconds left: from the share of operations finished while they
    /// run, then from the rate of simulated time since they ended; from
    /// simulated time alone when the run's operations are not counted.
    fn eta(&mut self, wall_s: f64, now: SimTime, ops: Option<(u64, u64)>) -> Option<f64> {
        let (now_us, end_us) = (now.as_us().min(self.end.as_us()), self.end.as_us().max(1));
        let time_done = now_us as f64 / end_us as f64;
        let left = |done: f64, spent: f64| (done > 0.0).then(|| spent * (1.0 - done) / done);
        match ops {
            Some((finished, budget)) if finished < budget => {
                left((finished as f64 / budget as f64).max(time_done), wall_s)
            }
            Some(_) => {
                let (w0, t0) = *self.ops_over.get_or_insert((wall_s, now));
                let since = now.as_us().saturating_sub(t0.as_us());
                let to_go = end_us.saturating_sub(now_us);
                (since > 0).then(|| (wall_s - w0) * to_go as f64 / since as f64)
            }
            None => left(time_done, wall_s),
        }
    }

    /// Told by sim-core's watcher: `events` more ran and the run reached `now`.
    pub fn update(&mut self, events: u64, now: SimTime) {
        self.events += events;
        let wall_s = self.clock.seconds();
        let ops = ops();
        if self.forced.is_some() {
            let eta = self.eta(wall_s, now, ops);
            let text = line(now, self.end, self.events, wall_s, ops, eta);
            if let Some(sink) = self.forced.as_mut() {
                let _ = writeln!(sink, "{text}");
            }
            return;
        }
        if wall_s < QUIET_S {
            return;
        }
        let eta = self.eta(wall_s, now, ops);
        if self.terminal {
            // The bar shows the share of the wall time the ETA implies
            // (elapsed / (elapsed + left)), so the bar and the ETA measure
            // one thing: simulated time runs unevenly (a load that ends
            // early leaves a cheap idle tail), and operations end before
            // the run does.
            let bar = self.bar.get_or_insert_with(|| {
                let bar = ProgressBar::with_draw_target(Some(1_000), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{bar:30} {msg}").expect("a valid template"),
                );
                bar
            });
            if let Some(left) = eta {
                bar.set_position((1_000.0 * wall_s / (wall_s + left).max(1e-9)) as u64);
            }
            bar.set_message(format!(
                "simulated {} of {}, {} events/s{}, ETA {}",
                SimTime(now.as_us().min(self.end.as_us())),
                self.end,
                rate_text(self.events as f64 / wall_s),
                ops_part(ops),
                eta_text(eta)
            ));
        } else if wall_s - self.last_line_s >= PLAIN_EVERY_S {
            self.last_line_s = wall_s;
            eprintln!("{}", line(now, self.end, self.events, wall_s, ops, eta));
        }
    }

    /// The run is over: the bar, if any, goes away.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn ops_part(ops: Option<(u64, u64)>) -> String {
    ops.map(|(f, b)| format!(", ops {f} of {b}"))
        .unwrap_or_default()
}

fn eta_text(eta: Option<f64>) -> String {
    eta.map_or_else(|| "unknown".to_string(), |s| format!("{s:.0}s"))
}

/// One plain progress line: `progress: simulated 12000.000ms of 60000.000ms
/// (20%), ops 2400 of 10000, 812345 events/s, ETA 41s` (the ops part when
/// the run counts its operations).
pub fn line(
    now: SimTime,
    end: SimTime,
    events: u64,
    wall_s: f64,
    ops: Option<(u64, u64)>,
    eta: Option<f64>,
) -> String {
    let (now_us, end_us) = (now.as_us().min(end.as_us()), end.as_us().max(1));
    let done = now_us as f64 / end_us as f64;
    let rate = if wall_s > 0.0 {
        events as f64 / wall_s
    } else {
        0.0
    };
    // Milliseconds with microseconds, as in the trace: a busy run may spend
    // seconds of wall time inside its first simulated millisecond.
    format!(
        "progress: simulated {} of {} ({:.0}%){}, {rate:.0} events/s, ETA {}",
        SimTime(now_us),
        end,
        100.0 * done,
        ops_part(ops),
        eta_text(eta)
    )
}

/// A rate with three significant digits at most: "1234", "12.3", "0.52".
pub fn rate_text(x: f64) -> String {
    if !x.is_finite() || x <= 0.0 {
        "0".to_string()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Progress of work counted in items (a sweep's seeds, an experiment's
/// points), shared by the threads doing it: a bar with the rate and the
/// time left on a terminal; on a pipe or a file, after [`QUIET_S`], a plain
/// line every [`PLAIN_EVERY_S`] seconds:
/// `progress: 120 of 500 seeds (24%), 12.3 seeds/s, ETA 31s, 2 failed`.
/// The rate counts only this run's items, so a resumed sweep's is not inflated.
pub struct Counted {
    unit: &'static str,
    total: u64,
    /// Items done before this run began (a resumed sweep's), not in the rate.
    resumed: u64,
    bar: Option<ProgressBar>,
    /// A plain line for every item, from the start (`--progress`).
    forced: bool,
    clock: Stopwatch,
    state: std::sync::Mutex<CountedState>,
}

struct CountedState {
    done: u64,
    note: String,
    last_line_s: f64,
}

impl Counted {
    /// Progress of `total` items named `unit`, `resumed` of them done
    /// already; with `forced`, a plain line for every item instead of a bar.
    pub fn new(total: u64, resumed: u64, unit: &'static str, forced: bool) -> Counted {
        let bar = (!forced && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_position(resumed);
            bar
        });
        let c = Counted {
            unit,
            total,
            resumed,
            bar,
            forced,
            clock: Stopwatch::start(),
            state: std::sync::Mutex::new(CountedState {
                done: resumed,
                note: String::new(),
                last_line_s: QUIET_S - PLAIN_EVERY_S,
            }),
        };
        if let Some(bar) = &c.bar {
            bar.set_message(c.unit.to_string());
        }
        c
    }

    /// One more item is done; `note` (like "2 failed") follows the rate.
    pub fn inc(&self, note: Option<String>) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        st.done += 1;
        if let Some(n) = note {
            st.note = n;
        }
        let wall_s = self.clock.seconds();
        let text = self.status(st.done, &st.note, wall_s);
        match &self.bar {
            Some(bar) => {
                bar.set_position(st.done);
                bar.set_message(format!("{}, {text}", self.unit));
            }
            None if self.forced
                || (wall_s >= QUIET_S && wall_s - st.last_line_s >= PLAIN_EVERY_S) =>
            {
                st.last_line_s = wall_s;
                eprintln!(
                    "progress: {} of {} {} ({:.0}%), {text}",
                    st.done,
                    self.total,
                    self.unit,
                    100.0 * st.done as f64 / self.total.max(1) as f64
                );
            }
            None => {}
        }
    }

    /// "12.3 seeds/s, ETA 31s, 2 failed".
    fn status(&self, done: u64, note: &str, wall_s: f64) -> String {
        counted_status(done, self.resumed, self.total, self.unit, note, wall_s)
    }

    /// Prints a line above the bar (or plainly without one).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// The work is over: the bar, if any, goes away.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// "12.3 seeds/s, ETA 31s, 2 failed": the rate of this run's items
/// (`done` less the `resumed`), and the time the rest take at that rate.
fn counted_status(
    done: u64,
    resumed: u64,
    total: u64,
    unit: &str,
    note: &str,
    wall_s: f64,
) -> String {
    let here = done.saturating_sub(resumed);
    let rate = if wall_s > 0.0 {
        here as f64 / wall_s
    } else {
        0.0
    };
    let left = total.saturating_sub(done);
    let eta = (here > 0 && rate > 0.0).then(|| left as f64 / rate);
    let mut s = format!("{} {unit}/s, ETA {}", rate_text(rate), eta_text(eta));
    if !note.is_empty() {
        s.push_str(", ");
        s.push_str(note);
    }
    s
}

/// Runs `f` (which runs simulations ending at `end`) with progress shown as
/// `mode` says; the run is stopped (and `Err` returned) once `stop` says so.
pub fn with_progress<R>(
    end: SimTime,
    mode: Mode,
    stop: impl Fn() -> bool + 'static,
    f: impl FnOnce() -> R,
) -> Result<R, sim_core::stop::Interrupted> {
    let progress = std::rc::Rc::new(std::cell::RefCell::new(Progress::new(end, mode)));
    WATCHING.with(|w| w.set(true));
    // Stop watching when `f` returns or unwinds.
    struct Unwatch;
    impl Drop for Unwatch {
        fn drop(&mut self) {
            WATCHING.with(|w| w.set(false));
            GAUGE.with(|g| g.borrow_mut().take());
        }
    }
    let _unwatch = Unwatch;
    let fed = progress.clone();
    let r = sim_core::stop::with_stop_check(
        move |n, now| {
            fed.borrow_mut().update(n, now);
            stop()
        },
        f,
    );
    progress.borrow_mut().finish();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress() -> Progress {
        Progress::new(
            SimTime(100_000_000),
            Mode::Forced(Box::new(std::io::sink())),
        )
    }

    // With a budget, the time left follows the operations, not simulated
    // time; once they are all done, it follows the idle tail's own rate.
    #[test]
    fn eta_follows_operations_then_the_tail() {
        let mut p = progress();
        // 2 s in, 25% of the operations done but 5% of simulated time: 6 s left.
        let eta = p.eta(2.0, SimTime(5_000_000), Some((250, 1_000))).unwrap();
        assert!((eta - 6.0).abs() < 1e-9, "{eta}");
        // Without a budget, simulated time alone: 38 s left.
        let eta = p.eta(2.0, SimTime(5_000_000), None).unwrap();
        assert!((eta - 38.0).abs() < 1e-9, "{eta}");
        // Operations over at 8 s (40 simulated seconds); 1 s later 30 more
        // simulated seconds have passed, so the other 30 take 1 s.
        assert_eq!(p.eta(8.0, SimTime(40_000_000), Some((1_000, 1_000))), None);
        let eta = p
            .eta(9.0, SimTime(70_000_000), Some((1_000, 1_000)))
            .unwrap();
        assert!((eta - 1.0).abs() < 1e-9, "{eta}");
        // Nothing done yet: unknown.
        assert_eq!(progress().eta(1.0, SimTime::ZERO, Some((0, 1_000))), None);
    }

    // Rates keep three significant digits at most, and a resumed sweep's
    // earlier seeds count toward what is done, not toward the rate.
    #[test]
    fn counted_progress_reads_well() {
        let cases = [
            (123_456.7, "123457"),
            (12.345, "12.3"),
            (1.2345, "1.23"),
            (0.52, "0.520"),
            (0.0, "0"),
        ];
        for (x, want) in cases {
            assert_eq!(rate_text(x), want);
        }
        assert_eq!(
            counted_status(60, 0, 500, "seeds", "2 failed", 4.0),
            "15.0 seeds/s, ETA 29s, 2 failed"
        );
        // 400 done before, 60 now in 4 s: 15 a second, 40 left.
        assert_eq!(
            counted_status(460, 400, 500, "seeds", "", 4.0),
            "15.0 seeds/s, ETA 3s"
        );
        assert_eq!(
            counted_status(0, 0, 9, "points", "", 1.0),
            "0 points/s, ETA unknown"
        );
    }
}
