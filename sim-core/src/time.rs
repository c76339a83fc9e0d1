//! Simulated time: an integer count of microseconds since the start of a run.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in simulated time, in microseconds since the run began.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct SimTime(pub u64);

/// A span of simulated time, in microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of a run.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable time; later sums saturate here.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Microseconds since the run began.
    pub fn as_us(self) -> u64 {
        self.0
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `us` microseconds.
    pub const fn from_us(us: u64) -> Self {
        SimDuration(us)
    }
    /// A duration of `ms` milliseconds.
    pub const fn from_ms(ms: u64) -> Self {
        SimDuration(ms * 1_000)
    }
    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000)
    }
    /// The length in microseconds.
    pub fn as_us(self) -> u64 {
        self.0
    }
    /// The length in milliseconds, with the microseconds as a fraction.
    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }

    /// The longest duration a file may give: 10^9 seconds (about 31.7 years).
    pub const MAX_PARSED: SimDuration = SimDuration(1_000_000_000 * 1_000_000);

    /// The units a duration may be written in, with their length in microseconds.
    pub const UNITS: &'static [(&'static str, f64)] = &[
        ("us", 1.0),
        ("ms", 1_000.0),
        ("s", 1_000_000.0),
        ("min", 60_000_000.0),
    ];

    /// Parses a duration written with a unit: `"250us"`, `"10ms"`, `"1.5ms"`, `"2s"`, `"0"`.
    ///
    /// A bare number is rejected (except `0`), so that a reader never has to
    /// guess the unit. The error says what would be valid.
    pub fn parse(text: &str) -> Result<SimDuration, String> {
        let us = Self::parse_us(text)?;
        let rounded = us.round();
        if (us - rounded).abs() > 1e-6 {
            return Err(format!(
                "duration {text:?} is finer than the simulator's resolution of 1us"
            ));
        }
        Ok(SimDuration(rounded as u64))
    }

    /// Parses a duration like [`SimDuration::parse`] into microseconds, keeping
    /// any fraction of a microsecond (for latency distribution parameters).
    /// The result is finite, `>= 0` and at most [`SimDuration::MAX_PARSED`].
    pub fn parse_us(text: &str) -> Result<f64, String> {
        let t = text.trim();
        if t == "0" {
            return Ok(0.0);
        }
        if t.is_empty() {
            return Err(
                "the duration is empty; write one with a unit, like \"250us\", \"10ms\" or \"2s\""
                    .to_string(),
            );
        }
        let units = || {
            Self::UNITS
                .iter()
                .map(|(u, _)| *u)
                .collect::<Vec<_>>()
                .join(", ")
        };
        // The unit is the trailing run of letters; the number is what comes before it.
        let split = t
            .char_indices()
            .rev()
            .take_while(|(_, ch)| ch.is_alphabetic())
            .last()
            .map_or(t.len(), |(i, _)| i);
        let (number, unit) = t.split_at(split);
        let number = number.trim();
        if unit.is_empty() {
            return Err(format!(
                "duration {text:?} has no unit; write it with one, like \"250us\", \"10ms\" or \"2s\" (units: {})",
                units()
            ));
        }
        if number.is_empty() {
            return Err(format!(
                "duration {text:?} is not a number followed by a unit ({})",
                units()
            ));
        }
        let Some(&(_, scale)) = Self::UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(format!(
                "duration {text:?} has an unknown unit {unit:?}; valid units are {}",
                units()
            ));
        };
        let value: f64 = number.parse().map_err(|_| {
            format!(
                "duration {text:?} is not a number followed by a unit ({})",
                units()
            )
        })?;
        if !value.is_finite() {
            return Err(format!("duration {text:?} is not finite"));
        }
        if value < 0.0 {
            return Err(format!(
                "duration {text:?} is negative; durations must be >= 0"
            ));
        }
        let us = value * scale;
        if us > Self::MAX_PARSED.0 as f64 {
            return Err(format!(
                "duration {text:?} is too long; the bound is {} (about 31.7 years)",
                Self::MAX_PARSED
            ));
        }
        Ok(us)
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.since(rhs)
    }
}

/// Renders as milliseconds with microsecond precision: `1234.567ms`.
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = format!("{}.{:03}ms", self.0 / 1_000, self.0 % 1_000);
        f.pad(&s)
    }
}

/// Renders in the largest unit that keeps it exact, so it parses back: `2s`, `10ms`, `1500us`.
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        let s = if us == 0 {
            "0".to_string()
        } else if us % 1_000_000 == 0 {
            format!("{}s", us / 1_000_000)
        } else if us % 1_000 == 0 {
            format!("{}ms", us / 1_000)
        } else {
            format!("{us}us")
        };
        f.pad(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Durations parse in every unit and render back to a string that parses to the same value.
    #[test]
    fn duration_parse_and_render_round_trip() {
        for (text, us) in [
            ("250us", 250),
            ("10ms", 10_000),
            ("1.5ms", 1_500),
            ("2s", 2_000_000),
            ("0.235ms", 235),
            ("1min", 60_000_000),
            ("0", 0),
        ] {
            let d = SimDuration::parse(text).unwrap();
            assert_eq!(d.as_us(), us, "{text}");
            assert_eq!(SimDuration::parse(&d.to_string()).unwrap(), d);
        }
    }

    // Unit-less, negative and sub-microsecond durations are errors that say what is valid.
    #[test]
    fn duration_parse_rejects_bad_input() {
        assert!(SimDuration::parse("10").unwrap_err().contains("no unit"));
        assert!(SimDuration::parse("-5ms").unwrap_err().contains("negative"));
        assert!(
            SimDuration::parse("0.1us")
                .unwrap_err()
                .contains("resolution")
        );
        assert!(SimDuration::parse("fast").is_err());
        for (text, want) in [
            ("1h", "unknown unit \"h\""),
            ("1000y", "unknown unit \"y\""),
            ("3 ns", "unknown unit \"ns\""),
            ("99999999999999999s", "too long"),
            ("1e300ms", "too long"),
            ("inf s", "not finite"),
            ("NaN", "not a number"),
            ("ms", "not a number"),
            ("1.2.3ms", "not a number"),
        ] {
            let err = SimDuration::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
        assert_eq!(
            SimDuration::parse("1e3ms").unwrap(),
            SimDuration::from_secs(1)
        );
        assert_eq!(
            SimDuration::parse("1000000000s").unwrap(),
            SimDuration::MAX_PARSED
        );
    }

    // Simulated time renders as fixed-precision milliseconds, padded for columns.
    #[test]
    fn time_renders_as_milliseconds() {
        assert_eq!(SimTime(11_412).to_string(), "11.412ms");
        assert_eq!(format!("{:>10}", SimTime(5)), "   0.005ms");
    }
}
