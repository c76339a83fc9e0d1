//! A checker's verdict: pass, fail with the violations found, or skipped
//! with the reason. Checkers and invariants both give one.

use std::fmt;

/// How a checker judged a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// No violation was found.
    Pass,
    /// At least one violation was found.
    Fail,
    /// The checker does not apply to this run; the reason says why.
    Skipped(String),
}

/// One checker's verdict, with every violation it found (the first few are kept in full).
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The checker's name.
    pub checker: &'static str,
    /// Whether it passed, failed or was skipped.
    pub status: Status,
    /// The violations, each described in words; at most [`MAX_LISTED`] are kept.
    pub violations: Vec<String>,
    /// How many violations in all (the list keeps at most [`MAX_LISTED`]).
    pub count: usize,
    /// What a pass judged, when the checker fits its promise to the run (convergence does).
    pub note: Option<String>,
}

/// How many violations a verdict keeps in full; the rest are only counted.
pub const MAX_LISTED: usize = 10;

impl Verdict {
    pub(crate) fn from_violations(checker: &'static str, violations: Vec<String>) -> Verdict {
        let count = violations.len();
        let status = if count == 0 {
            Status::Pass
        } else {
            Status::Fail
        };
        Verdict {
            checker,
            status,
            violations: violations.into_iter().take(MAX_LISTED).collect(),
            count,
            note: None,
        }
    }

    /// A verdict from violations already capped at [`MAX_LISTED`], with the full count.
    pub fn counted(checker: &'static str, listed: Vec<String>, count: usize) -> Verdict {
        Verdict {
            checker,
            status: if count == 0 {
                Status::Pass
            } else {
                Status::Fail
            },
            violations: listed,
            count,
            note: None,
        }
    }

    pub(crate) fn skipped(checker: &'static str, why: impl Into<String>) -> Verdict {
        Verdict {
            checker,
            status: Status::Skipped(why.into()),
            violations: Vec::new(),
            count: 0,
            note: None,
        }
    }

    /// Whether the checker found a violation.
    pub fn failed(&self) -> bool {
        self.status == Status::Fail
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            Status::Pass => match &self.note {
                Some(note) => write!(f, "{:<26} pass ({note})", self.checker),
                None => write!(f, "{:<26} pass", self.checker),
            },
            Status::Skipped(why) => write!(f, "{:<26} skipped ({why})", self.checker),
            Status::Fail => {
                write!(
                    f,
                    "{:<26} FAIL ({} violation{})",
                    self.checker,
                    self.count,
                    if self.count == 1 { "" } else { "s" }
                )?;
                for v in &self.violations {
                    write!(f, "\n    {v}")?;
                }
                if self.count > self.violations.len() {
                    write!(
                        f,
                        "\n    ... and {} more",
                        self.count - self.violations.len()
                    )?;
                }
                Ok(())
            }
        }
    }
}
