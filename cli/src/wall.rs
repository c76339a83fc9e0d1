//! The one place dynsim reads a wall clock: to report how fast a sweep or
//! benchmark ran. Nothing simulated ever sees it.

#[expect(
    clippy::disallowed_types,
    reason = "timing a sweep for its speed report, outside any simulation"
)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    #[expect(
        clippy::disallowed_methods,
        reason = "timing a sweep for its speed report, outside any simulation"
    )]
    pub fn start() -> Stopwatch {
        Stopwatch(std::time::Instant::now())
    }

    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}
