//! The trace: one typed event per engine decision, rendered by one function
//! as fixed-column text and as JSON Lines.
//!
//! Recording can be off; then the engine skips every `record` call before it
//! formats anything, so a run with the trace off does no string work at all.

use crate::time::SimTime;
use serde::{Serialize, Serializer};
use std::fmt::{self, Write as _};
use std::io;

/// Who an event happened at: the world (faults), a node, or a client.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Actor {
    World,
    Node(u32),
    Client(u32),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::World => f.pad("--"),
            Actor::Node(n) => f.pad(&format!("n{n}")),
            Actor::Client(c) => f.pad(&format!("c{c}")),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a message, request or timer did not arrive.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// Lost by the network's loss probability.
    Lost,
    /// The link was cut by a partition when the message was sent.
    Partitioned,
    /// The destination node was crashed when the message arrived.
    NodeDown,
    /// The node crashed after the timer was set; timers do not survive a crash.
    Crashed,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::Lost => "lost",
            DropReason::Partitioned => "partitioned",
            DropReason::NodeDown => "node down",
            DropReason::Crashed => "node crashed since it was set",
        })
    }
}

/// One engine decision.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum Event {
    Send {
        msg: u64,
        from: Actor,
        to: Actor,
        kind: &'static str,
        /// When it will arrive; `None` when the network dropped it at once (a `drop` follows).
        arrives_us: Option<u64>,
        detail: String,
    },
    Deliver {
        msg: u64,
        from: Actor,
        to: Actor,
        kind: &'static str,
    },
    Drop {
        msg: u64,
        from: Actor,
        to: Actor,
        kind: &'static str,
        reason: DropReason,
    },
    Duplicate {
        msg: u64,
        copy: u64,
        to: Actor,
        kind: &'static str,
        arrives_us: u64,
    },
    SetTimer {
        timer: u64,
        label: &'static str,
        fires_us: u64,
    },
    Timer {
        timer: u64,
        label: &'static str,
    },
    CancelTimer {
        timer: u64,
    },
    DropTimer {
        timer: u64,
        label: &'static str,
        reason: DropReason,
    },
    Fault {
        detail: String,
    },
    Request {
        req: u64,
        label: &'static str,
        node: Actor,
        detail: String,
    },
    DropRequest {
        req: u64,
        label: &'static str,
        node: Actor,
        reason: DropReason,
    },
    Reply {
        req: u64,
        label: &'static str,
        node: Actor,
        detail: String,
    },
    Note {
        label: &'static str,
        detail: String,
    },
}

/// A timestamped event at an actor.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    #[serde(rename = "t_us", serialize_with = "ser_time")]
    pub time: SimTime,
    pub actor: Actor,
    #[serde(flatten)]
    pub event: Event,
}

fn ser_time<S: Serializer>(t: &SimTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(t.as_us())
}

impl Record {
    /// The kind column of the text form.
    pub fn kind(&self) -> &'static str {
        match &self.event {
            Event::Send { .. } => "send",
            Event::Deliver { .. } => "deliver",
            Event::Drop { .. } | Event::DropRequest { .. } => "drop",
            Event::Duplicate { .. } => "duplicate",
            Event::SetTimer { .. } => "set-timer",
            Event::Timer { .. } => "timer",
            Event::CancelTimer { .. } => "cancel-timer",
            Event::DropTimer { .. } => "drop-timer",
            Event::Fault { .. } => "fault",
            Event::Request { .. } => "request",
            Event::Reply { .. } => "reply",
            Event::Note { label, .. } => label,
        }
    }

    /// Renders the record as one fixed-column line (no trailing newline).
    pub fn write_text(&self, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            "{:>12}  {:<4}  {:<12}  ",
            self.time,
            self.actor,
            self.kind()
        );
        let _ = self.write_detail(out);
    }

    fn write_detail(&self, out: &mut String) -> fmt::Result {
        match &self.event {
            Event::Send {
                msg,
                to,
                kind,
                arrives_us,
                detail,
                ..
            } => {
                write!(out, "m{msg} {kind}")?;
                if !detail.is_empty() {
                    write!(out, " {detail}")?;
                }
                match arrives_us {
                    Some(t) => write!(out, " -> {to} @{}", SimTime(*t)),
                    None => write!(out, " -> {to}"),
                }
            }
            Event::Deliver {
                msg, from, kind, ..
            } => write!(out, "m{msg} {kind} <- {from}"),
            Event::Drop {
                msg,
                from,
                to,
                kind,
                reason,
            } => {
                write!(out, "m{msg} {kind} {from} -> {to}: {reason}")
            }
            Event::Duplicate {
                msg,
                copy,
                to,
                kind,
                arrives_us,
            } => {
                write!(
                    out,
                    "m{msg} {kind} -> {to} copied as m{copy} @{}",
                    SimTime(*arrives_us)
                )
            }
            Event::SetTimer {
                timer,
                label,
                fires_us,
            } => {
                write!(out, "t{timer} {label} @{}", SimTime(*fires_us))
            }
            Event::Timer { timer, label } => write!(out, "t{timer} {label}"),
            Event::CancelTimer { timer } => write!(out, "t{timer}"),
            Event::DropTimer {
                timer,
                label,
                reason,
            } => write!(out, "t{timer} {label}: {reason}"),
            Event::Fault { detail } => write!(out, "{detail}"),
            Event::Request {
                req,
                label,
                node,
                detail,
            } => {
                write!(out, "{label}#{req}")?;
                if !detail.is_empty() {
                    write!(out, " {detail}")?;
                }
                write!(out, " -> {node}")
            }
            Event::DropRequest {
                req,
                label,
                node,
                reason,
            } => {
                write!(out, "{label}#{req} -> {node}: {reason}")
            }
            Event::Reply {
                req,
                label,
                node,
                detail,
            } => {
                write!(out, "{label}#{req} <- {node}")?;
                if !detail.is_empty() {
                    write!(out, ": {detail}")?;
                }
                Ok(())
            }
            Event::Note { detail, .. } => write!(out, "{detail}"),
        }
    }
}

/// The recorded trace of one run: header lines, events, footer lines.
#[derive(Default, Debug)]
pub struct Trace {
    enabled: bool,
    pub header: Vec<String>,
    pub records: Vec<Record>,
    pub footer: Vec<String>,
}

impl Trace {
    pub fn new(enabled: bool) -> Trace {
        Trace {
            enabled,
            ..Trace::default()
        }
    }

    /// Whether events are being recorded. Callers check this before formatting anything.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    #[inline]
    pub fn record(&mut self, time: SimTime, actor: Actor, event: Event) {
        if self.enabled {
            self.records.push(Record { time, actor, event });
        }
    }

    /// The whole trace as text: `# ` header lines, one line per event, `# ` footer lines.
    pub fn render_text(&self) -> String {
        let mut out = String::with_capacity(64 * (self.records.len() + self.header.len() + 4));
        for h in &self.header {
            out.push_str("# ");
            out.push_str(h);
            out.push('\n');
        }
        for r in &self.records {
            r.write_text(&mut out);
            out.push('\n');
        }
        for f in &self.footer {
            out.push_str("# ");
            out.push_str(f);
            out.push('\n');
        }
        out
    }

    /// The whole trace as JSON Lines: a header object, one object per event, a footer object.
    pub fn write_jsonl(&self, w: &mut dyn io::Write) -> io::Result<()> {
        serde_json::to_writer(&mut *w, &serde_json::json!({ "header": self.header }))?;
        w.write_all(b"\n")?;
        for r in &self.records {
            serde_json::to_writer(&mut *w, r)?;
            w.write_all(b"\n")?;
        }
        serde_json::to_writer(&mut *w, &serde_json::json!({ "footer": self.footer }))?;
        w.write_all(b"\n")
    }
}
