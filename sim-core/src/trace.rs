//! The trace: one typed event per engine decision, rendered by one function
//! as fixed-column text and as JSON Lines.
//!
//! Recording can be off; then `record` drops what it is given, and the engine
//! builds no text for a record (details, notes) unless the trace is on, so a
//! run with the trace off does no string work at all.

use crate::time::SimTime;
use serde::{Serialize, Serializer};
use std::fmt::{self, Write as _};
use std::io;

/// Who an event happened at: the world (faults), a node, or a client.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Actor {
    /// The world outside the nodes, where faults happen; shown as `--`.
    World,
    /// The node with this index (`n3`).
    Node(u32),
    /// The client with this index (`c3`).
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
    /// The destination node was crashed when the message (or a client's request) arrived.
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

/// The arrival time of a message that waits until a step releases it (a
/// holding run, [`crate::Sim::new_holding`]); shown as `@held`.
pub const HELD_US: u64 = u64::MAX;

/// One engine decision.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum Event {
    /// A node sent a message; recorded whether or not the network delivers it.
    Send {
        /// The message's id, unique within the run (`m7`).
        msg: u64,
        /// The sending node.
        from: Actor,
        /// The destination node.
        to: Actor,
        /// The message's kind, one of [`crate::Message::KINDS`].
        kind: &'static str,
        /// When it will arrive; `None` when the network dropped it at once (a `drop` follows).
        arrives_us: Option<u64>,
        /// The message's details from [`crate::Traced::detail`]; may be empty.
        detail: String,
    },
    /// A message was handed to its destination node.
    Deliver {
        /// The message's id.
        msg: u64,
        /// The sending node.
        from: Actor,
        /// The node that received it.
        to: Actor,
        /// The message's kind.
        kind: &'static str,
    },
    /// A message was dropped: by the network when sent, or because its destination was down when it arrived.
    Drop {
        /// The message's id.
        msg: u64,
        /// The sending node.
        from: Actor,
        /// The destination node.
        to: Actor,
        /// The message's kind.
        kind: &'static str,
        /// Why it was dropped.
        reason: DropReason,
    },
    /// The network made a second copy of a message, which travels on its own.
    Duplicate {
        /// The original message's id.
        msg: u64,
        /// The copy's id, unique within the run like any message's.
        copy: u64,
        /// The destination node.
        to: Actor,
        /// The message's kind.
        kind: &'static str,
        /// When the copy will arrive, in microseconds of simulated time.
        arrives_us: u64,
    },
    /// A node set a timer.
    SetTimer {
        /// The timer's id, unique within the run (`t4`).
        timer: u64,
        /// The timer's label from [`crate::Traced::label`].
        label: &'static str,
        /// When it is due, in microseconds of simulated time.
        fires_us: u64,
    },
    /// A timer fired and was handed to its node.
    Timer {
        /// The timer's id.
        timer: u64,
        /// The timer's label.
        label: &'static str,
    },
    /// A node cancelled a timer; recorded even when the timer had already fired.
    CancelTimer {
        /// The timer's id.
        timer: u64,
    },
    /// A timer came due but was discarded instead of handed to its node.
    DropTimer {
        /// The timer's id.
        timer: u64,
        /// The timer's label.
        label: &'static str,
        /// Why it was discarded.
        reason: DropReason,
    },
    /// The world applied a fault.
    Fault {
        /// The fault as its `Display` renders it, such as `crash n2`.
        detail: String,
    },
    /// A client's request was handed to a node.
    Request {
        /// The harness's id for the request.
        req: u64,
        /// The request's label from [`crate::Traced::label`].
        label: &'static str,
        /// The node that received it.
        node: Actor,
        /// The request's details; may be empty.
        detail: String,
    },
    /// A client's request arrived at a crashed node and was dropped.
    DropRequest {
        /// The harness's id for the request.
        req: u64,
        /// The request's label.
        label: &'static str,
        /// The node it was sent to.
        node: Actor,
        /// Why it was dropped.
        reason: DropReason,
    },
    /// A node's reply reached its client.
    Reply {
        /// The harness's id for the request it answers.
        req: u64,
        /// The reply's label from [`crate::Traced::label`].
        label: &'static str,
        /// The node that sent it.
        node: Actor,
        /// The reply's details; may be empty.
        detail: String,
    },
    /// A note a node added with [`crate::Context::note`] or [`crate::Context::note_with`].
    Note {
        /// The note's label, which the text form shows in the kind column.
        label: &'static str,
        /// The note's details; may be empty.
        detail: String,
    },
}

/// A timestamped event at an actor.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    #[serde(rename = "t_us", serialize_with = "ser_time")]
    /// When it happened; `t_us`, in microseconds, in JSON.
    pub time: SimTime,
    /// Where it happened.
    pub actor: Actor,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

fn ser_time<S: Serializer>(t: &SimTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(t.as_us())
}

impl Record {
    /// The bytes this record holds in memory: itself and its text.
    pub fn bytes(&self) -> usize {
        let text = match &self.event {
            Event::Send { detail, .. }
            | Event::Fault { detail, .. }
            | Event::Request { detail, .. }
            | Event::Reply { detail, .. }
            | Event::Note { detail, .. } => detail.capacity(),
            _ => 0,
        };
        std::mem::size_of::<Record>() + text
    }

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
                    Some(HELD_US) => write!(out, " -> {to} @held"),
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
                if *arrives_us == HELD_US {
                    write!(out, "m{msg} {kind} -> {to} copied as m{copy} @held")
                } else {
                    write!(
                        out,
                        "m{msg} {kind} -> {to} copied as m{copy} @{}",
                        SimTime(*arrives_us)
                    )
                }
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

/// Where a trace goes as the run makes it, instead of (or besides) memory:
/// the header once the cluster is built, each record as it happens, the
/// footer when the run is over. A sink that fails is told nothing more.
pub trait TraceSink: Send {
    /// The header lines, before any record.
    fn begin(&mut self, header: &[String]) -> io::Result<()>;
    /// One record.
    fn record(&mut self, r: &Record) -> io::Result<()>;
    /// The footer lines, after the last record; the sink finishes its output.
    fn end(self: Box<Self>, footer: &[String]) -> io::Result<()>;
}

/// Writes the text form's `# ` lines.
pub fn write_comment_lines(lines: &[String], w: &mut dyn io::Write) -> io::Result<()> {
    for l in lines {
        w.write_all(b"# ")?;
        w.write_all(l.as_bytes())?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// A [`TraceSink`] writing the text form (as [`Trace::render_text`]).
#[derive(Debug)]
pub struct TextSink<W: io::Write + Send> {
    out: W,
    line: String,
    finish: fn(W) -> io::Result<()>,
}

impl<W: io::Write + Send> TextSink<W> {
    /// Writes to `out`; `finish` is called with it after the footer (to
    /// flush it, or to put a finished file in place).
    pub fn new(out: W, finish: fn(W) -> io::Result<()>) -> TextSink<W> {
        TextSink {
            out,
            line: String::new(),
            finish,
        }
    }
}

impl<W: io::Write + Send> TraceSink for TextSink<W> {
    fn begin(&mut self, header: &[String]) -> io::Result<()> {
        write_comment_lines(header, &mut self.out)
    }
    fn record(&mut self, r: &Record) -> io::Result<()> {
        self.line.clear();
        r.write_text(&mut self.line);
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }
    fn end(mut self: Box<Self>, footer: &[String]) -> io::Result<()> {
        write_comment_lines(footer, &mut self.out)?;
        let this = *self;
        (this.finish)(this.out)
    }
}

/// A [`TraceSink`] writing JSON Lines (as [`Trace::write_jsonl`]).
#[derive(Debug)]
pub struct JsonlSink<W: io::Write + Send> {
    out: W,
    finish: fn(W) -> io::Result<()>,
}

impl<W: io::Write + Send> JsonlSink<W> {
    /// Writes to `out`; `finish` is called with it after the footer.
    pub fn new(out: W, finish: fn(W) -> io::Result<()>) -> JsonlSink<W> {
        JsonlSink { out, finish }
    }
}

impl<W: io::Write + Send> TraceSink for JsonlSink<W> {
    fn begin(&mut self, header: &[String]) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &serde_json::json!({ "header": header }))?;
        self.out.write_all(b"\n")
    }
    fn record(&mut self, r: &Record) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, r)?;
        self.out.write_all(b"\n")
    }
    fn end(mut self: Box<Self>, footer: &[String]) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &serde_json::json!({ "footer": footer }))?;
        self.out.write_all(b"\n")?;
        let this = *self;
        (this.finish)(this.out)
    }
}

/// The recorded trace of one run: header lines, events, footer lines.
#[derive(Default)]
pub struct Trace {
    enabled: bool,
    /// Lines written before the events, each behind `# ` in the text form.
    pub header: Vec<String>,
    /// The recorded events, in the order they happened (while streaming,
    /// only if the trace keeps them too).
    pub records: Vec<Record>,
    /// Lines written after the events, each behind `# ` in the text form.
    pub footer: Vec<String>,
    /// Where records stream to, once [`Trace::stream_to`] is called.
    sinks: Vec<Box<dyn TraceSink>>,
    /// While streaming, whether records are also kept in memory.
    keep: bool,
    /// The first error a sink reported; no sink is written after it.
    failed: Option<io::Error>,
    /// Records kept in memory at most (`usize::MAX`: no bound); past it the
    /// trace stops keeping them and says so in [`Trace::overflowed`].
    max_records: usize,
    /// Bytes of records kept in memory at most (see [`Record::bytes`]).
    max_bytes: usize,
    kept_bytes: usize,
    overflowed: bool,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("enabled", &self.enabled)
            .field("header", &self.header)
            .field("records", &self.records.len())
            .field("footer", &self.footer)
            .field("sinks", &self.sinks.len())
            .finish_non_exhaustive()
    }
}

impl Trace {
    /// An empty trace that records events only if `enabled`.
    pub fn new(enabled: bool) -> Trace {
        Trace {
            enabled,
            max_records: usize::MAX,
            max_bytes: usize::MAX,
            ..Trace::default()
        }
    }

    /// Whether events are being recorded. Callers check this before formatting anything.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// From now on, writes the trace to `sinks` as it is made: first the
    /// header and the records so far, then each record as it happens; the
    /// records are kept in memory too only if `keep`. Turns recording on.
    pub fn stream_to(&mut self, sinks: Vec<Box<dyn TraceSink>>, keep: bool) {
        self.enabled = true;
        self.sinks = sinks;
        self.keep = keep;
        let records = std::mem::take(&mut self.records);
        for s in &mut self.sinks {
            if let Err(e) = s.begin(&self.header) {
                self.failed.get_or_insert(e);
            }
        }
        for r in &records {
            self.write(r);
        }
        if keep {
            self.records = records;
        }
    }

    /// Keeps at most `records` records and `bytes` bytes of them in memory
    /// (the first ones); past that, later records are not kept and
    /// [`Trace::overflowed`] says so (sinks still get them).
    pub fn keep_at_most(&mut self, records: usize, bytes: usize) {
        self.max_records = records;
        self.max_bytes = bytes;
    }

    /// Whether more records happened than the trace could keep.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Whether a sink failed (its error comes from [`Trace::finish`]).
    pub fn failed(&self) -> bool {
        self.failed.is_some()
    }

    fn write(&mut self, r: &Record) {
        if self.failed.is_some() {
            return;
        }
        for s in &mut self.sinks {
            if let Err(e) = s.record(r) {
                self.failed = Some(e);
                return;
            }
        }
    }

    /// Ends streaming: each sink gets the footer and finishes. Returns the
    /// first error any sink reported, during the run or now.
    pub fn finish(&mut self) -> io::Result<()> {
        let sinks = std::mem::take(&mut self.sinks);
        for s in sinks {
            if self.failed.is_none() {
                if let Err(e) = s.end(&self.footer) {
                    self.failed = Some(e);
                }
            }
        }
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Appends `event` at `time` and `actor`, if recording is on.
    #[inline]
    pub fn record(&mut self, time: SimTime, actor: Actor, event: Event) {
        if self.enabled {
            let r = Record { time, actor, event };
            if !self.sinks.is_empty() {
                self.write(&r);
                if !self.keep {
                    return;
                }
            }
            if self.overflowed {
                return;
            }
            // Sized only under a bound on bytes (serve's), never otherwise.
            let bytes = if self.max_bytes == usize::MAX {
                0
            } else {
                r.bytes()
            };
            if self.records.len() < self.max_records
                && self.kept_bytes.saturating_add(bytes) <= self.max_bytes
            {
                self.kept_bytes += bytes;
                self.records.push(r);
            } else {
                self.overflowed = true;
            }
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
