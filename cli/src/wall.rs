//! The one place dynsim reads a wall clock: to report how fast a sweep or
//! benchmark ran. Nothing simulated ever sees it.
#![expect(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "timing a sweep for its speed report, outside any simulation"
)]

use std::time::Instant;

/// Measures elapsed wall time.
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts timing now.
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    /// Wall time since `start`, in seconds.
    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}
