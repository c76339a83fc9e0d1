//! The `[[expect]]` kinds that look past one operation's result: a node's
//! exact versions of a key, the run's counters, and one trace event following
//! another within a time. `scenarios/README.md` documents them.

use super::diag::Collector;
use super::toml_read::Tbl;
use dynamo_model::Msg;
use dynamo_model::{Key, KeyScheme};
use sim_core::{Message, NodeId, Record, SimDuration, SimTime};
use std::collections::BTreeMap;
use toml::de::DeValue;

/// What a scenario expects.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// About a named operation's result.
    Op {
        /// The index of the step that issues the operation.
        step: usize,
        /// The step's name.
        name: String,
        /// Whether it must succeed (true) or fail (false).
        ok: Option<bool>,
        /// A get's values, in any order; a tombstone reads as "(deleted)".
        values: Option<Vec<String>>,
        /// How many versions a get returns.
        siblings: Option<usize>,
        /// The clock as the trace prints it: a get's context, a put's stored clock.
        clock: Option<String>,
        /// A failed op's answer count (acks of a put, replies of a get).
        acks: Option<u32>,
        /// A failed op's quorum (W of a put, R of a get).
        needed: Option<u32>,
    },
    /// A node holds exactly these versions of a key, as (value, clock) pairs
    /// sorted, with clocks as the trace prints them; none when empty.
    Exactly {
        /// The node looked at.
        node: NodeId,
        /// The key looked at.
        key: Key,
        /// The (value, clock) pairs it must hold, sorted.
        versions: Vec<(String, String)>,
    },
    /// A counter of the run, at its end.
    Counter {
        /// The counter's name (see [`COUNTERS`] and [`MESSAGE_COUNTERS`]).
        name: String,
        /// How the counter is compared with `value`.
        cmp: Cmp,
        /// The number it is compared with.
        value: u64,
    },
    /// A trace event happens within a duration after a step or another event.
    Within {
        /// The event that must happen.
        event: EventMatch,
        /// What the window starts from.
        after: Anchor,
        /// How long the window lasts (its end included).
        within: SimDuration,
    },
    /// Whether a node stores a key (optionally with a value) at a time.
    Holds {
        /// The node looked at.
        node: NodeId,
        /// The key looked at.
        key: Key,
        /// True for `holds`, false for `lacks`.
        present: bool,
        /// With `holds`: a value one of its versions must have.
        value: Option<String>,
    },
    /// Whether a node holds a hint for a key (optionally for a given node) at a time.
    Hint {
        /// The node that would hold the hint.
        node: NodeId,
        /// The key looked at.
        key: Key,
        /// True for `hint`, false for `no_hint`.
        present: bool,
        /// The node the hint is meant for (`for`); none: any node.
        target: Option<NodeId>,
    },
    /// Whether a node believes a peer is up, at a time.
    Believes {
        /// The node whose view is looked at.
        node: NodeId,
        /// The peer it has a view of.
        peer: NodeId,
        /// True for `believes_up`, false for `believes_down`.
        up: bool,
    },
    /// A checker's verdict at the end.
    Checker {
        /// The checker's name.
        name: String,
        /// The verdict expected: "pass", "fail" or "skipped".
        verdict: String,
    },
}

/// One `[[expect]]` of a scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    /// When a state check is evaluated (`None`: at the end of the run).
    pub at: Option<SimTime>,
    /// The line of the scenario file it came from.
    pub line: usize,
    /// What it checks.
    pub check: Check,
}

/// The counters a `counter` expectation can name, besides the per-kind
/// message counters (`sent.Replicate`, `dropped.total`, ...).
pub const COUNTERS: &[&str] = &[
    "events",
    "hints_created",
    "hints_delivered",
    "hints_pending",
    "read_repairs",
    "anti_entropy_rounds",
    "anti_entropy_keys_repaired",
    "forwarded",
    "replica_timeouts",
    "clock_truncations",
    "false_conflicts",
    "gets_ok",
    "gets_failed",
    "gets_timed_out",
    "puts_ok",
    "puts_failed",
    "puts_timed_out",
    "deletes_ok",
    "deletes_failed",
    "deletes_timed_out",
    "tombstones_purged",
    "keys_transferred",
    "membership_changes",
];

/// The message counters, each followed by `.Kind` or `.total`.
pub const MESSAGE_COUNTERS: &[&str] = &["sent", "delivered", "dropped", "duplicated"];

/// Whether `name` is a counter the runner computes.
pub fn is_counter(name: &str) -> bool {
    if COUNTERS.contains(&name) {
        return true;
    }
    name.split_once('.').is_some_and(|(what, kind)| {
        MESSAGE_COUNTERS.contains(&what) && (kind == "total" || Msg::KINDS.contains(&kind))
    })
}

/// How a counter is compared with the expected number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// The counter is the number (`equals`).
    Equals,
    /// The counter is the number or more (`at_least`).
    AtLeast,
    /// The counter is the number or less (`at_most`).
    AtMost,
}

impl Cmp {
    /// Each comparison with the field that names it in a scenario file.
    pub const FIELDS: [(&'static str, Cmp); 3] = [
        ("equals", Cmp::Equals),
        ("at_least", Cmp::AtLeast),
        ("at_most", Cmp::AtMost),
    ];

    /// Whether the counter's value `got` compares as it should with `want`.
    pub fn holds(self, got: u64, want: u64) -> bool {
        match self {
            Cmp::Equals => got == want,
            Cmp::AtLeast => got >= want,
            Cmp::AtMost => got <= want,
        }
    }

    /// The field that names this comparison in a scenario file.
    pub fn field(self) -> &'static str {
        Cmp::FIELDS
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("equals", |(f, _)| f)
    }

    /// The comparison in words, as results show it ("is at least").
    pub fn words(self) -> &'static str {
        match self {
            Cmp::Equals => "is",
            Cmp::AtLeast => "is at least",
            Cmp::AtMost => "is at most",
        }
    }
}

/// Which trace records an event expectation means: every given part must
/// match (the actor column, the kind column, a piece of the whole line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventMatch {
    /// The actor column: a node (`n3`), a client (`c0`) or `--`, the simulator.
    pub actor: Option<String>,
    /// The kind column (`send`, `timer`, or a model note such as `hint`).
    pub kind: Option<String>,
    /// Text the record's whole trace line must contain.
    pub text: Option<String>,
}

impl EventMatch {
    /// Whether record `r` matches; `line` is a buffer for its text, reused
    /// between calls.
    pub fn matches(&self, r: &Record, line: &mut String) -> bool {
        if self
            .actor
            .as_deref()
            .is_some_and(|a| a != r.actor.to_string())
        {
            return false;
        }
        if self.kind.as_deref().is_some_and(|k| k != r.kind()) {
            return false;
        }
        match &self.text {
            None => true,
            Some(t) => {
                line.clear();
                r.write_text(line);
                line.contains(t.as_str())
            }
        }
    }
}

impl std::fmt::Display for EventMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(a) = &self.actor {
            parts.push(a.clone());
        }
        parts.push(self.kind.clone().unwrap_or_else(|| "any event".into()));
        if let Some(t) = &self.text {
            parts.push(format!("{t:?}"));
        }
        write!(f, "{}", parts.join(" "))
    }
}

/// What an event expectation's time window starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// A named step of the timeline (its index).
    Step {
        /// The step's index in the timeline.
        step: usize,
        /// The step's name.
        name: String,
    },
    /// The first trace record that matches.
    Event(EventMatch),
}

/// The record kinds the trace's kind column shows, besides model notes.
const ENGINE_KINDS: &[&str] = &[
    "send",
    "deliver",
    "drop",
    "duplicate",
    "set-timer",
    "timer",
    "cancel-timer",
    "drop-timer",
    "fault",
    "request",
    "reply",
];

/// `node` + `exactly = KEY` + `versions = [{ value, clock }, ...]`.
pub fn read_exactly(
    c: &mut Collector,
    t: &Tbl,
    node: Option<NodeId>,
    scheme: Option<&KeyScheme>,
) -> Option<Check> {
    let key = match (t.str(c, "exactly"), scheme) {
        (Some(name), Some(scheme)) => match Key::new(scheme, &name) {
            Ok(key) => Some(key),
            Err(e) => {
                c.err(t.span_of("exactly"), t.field("exactly"), e);
                return None;
            }
        },
        // The cluster did not parse; its errors are reported already.
        _ => None,
    };
    t.require(
        c,
        "versions",
        "the versions the node holds, like versions = [{ value = \"apple\", clock = \"[n0:1]\" }] (an empty array: none)",
    );
    let mut versions = Vec::new();
    let mut ok = true;
    for v in t.tables(c, "versions") {
        v.only(c, &["value", "clock"]);
        v.require(c, "value", "the version's value, like value = \"apple\"");
        v.require(
            c,
            "clock",
            "the version's clock as the trace prints it, like clock = \"[n0:1]\"",
        );
        match (v.str(c, "value"), v.str(c, "clock")) {
            (Some(value), Some(clock)) => versions.push((value, clock)),
            _ => ok = false,
        }
    }
    if t.has("versions")
        && !matches!(
            t.get("versions").map(|v| v.get_ref()),
            Some(DeValue::Array(_))
        )
    {
        ok = false;
    }
    versions.sort();
    match (node, key, ok) {
        (Some(node), Some(key), true) => Some(Check::Exactly {
            node,
            key,
            versions,
        }),
        _ => None,
    }
}

/// `counter = NAME` and one of `equals`, `at_least`, `at_most`.
pub fn read_counter(c: &mut Collector, t: &Tbl) -> Option<Check> {
    let name = t.str(c, "counter")?;
    if !is_counter(&name) {
        let kinds = Msg::KINDS.join(", ");
        c.err(
            t.span_of("counter"),
            t.field("counter"),
            format!(
                "unknown counter {name:?}; valid counters are {}, and {}.KIND where KIND is total or a message kind ({kinds})",
                COUNTERS.join(", "),
                MESSAGE_COUNTERS.join("/")
            ),
        );
        return None;
    }
    let given: Vec<(&str, Cmp)> = Cmp::FIELDS
        .iter()
        .copied()
        .filter(|(f, _)| t.has(f))
        .collect();
    match given.as_slice() {
        [(field, cmp)] => {
            let value = t.int_in(c, field, 0, i64::MAX)? as u64;
            Some(Check::Counter {
                name,
                cmp: *cmp,
                value,
            })
        }
        [] => {
            c.err(
                t.span.clone(),
                t.path.clone(),
                "a counter expectation needs one of equals, at_least, at_most, like equals = 1",
            );
            None
        }
        _ => {
            c.err(
                t.span.clone(),
                t.path.clone(),
                "give one of equals, at_least, at_most per counter expectation",
            );
            None
        }
    }
}

fn read_match(c: &mut Collector, t: &Tbl, key: &str, nodes: u32) -> Option<EventMatch> {
    let m = t.table(c, key)?;
    m.only(c, &["node", "kind", "text"]);
    let actor = m.str(c, "node");
    if let Some(a) = &actor {
        let known = a == "--"
            || a.strip_prefix('n')
                .and_then(|d| d.parse::<u32>().ok())
                .is_some_and(|i| i < nodes)
            || a.strip_prefix('c')
                .is_some_and(|d| d.parse::<u32>().is_ok());
        if !known {
            c.err(
                m.span_of("node"),
                m.field("node"),
                format!(
                    "unknown actor {a:?}; valid actors are nodes n0..n{}, clients c0, c1, ..., and \"--\" (the simulator)",
                    nodes.saturating_sub(1)
                ),
            );
        }
    }
    let kind = m.str(c, "kind");
    if let Some(k) = &kind {
        let note_like = !k.is_empty() && k.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-');
        if !ENGINE_KINDS.contains(&k.as_str()) && !note_like {
            c.err(
                m.span_of("kind"),
                m.field("kind"),
                format!(
                    "{k:?} is not a trace kind; kinds are the trace's third column: {} or a note such as forward, coordinate, timeout, hint",
                    ENGINE_KINDS.join(", ")
                ),
            );
        }
    }
    let text = m.str(c, "text");
    if actor.is_none() && kind.is_none() && text.is_none() {
        c.err(
            m.span.clone(),
            m.path.clone(),
            "match on at least one of node, kind, text, like { node = \"n3\", kind = \"hint\" }",
        );
        return None;
    }
    Some(EventMatch { actor, kind, text })
}

/// `event = { node, kind, text }`, `after = "step name"` or `after = { ... }`, `within = DURATION`.
pub fn read_within(
    c: &mut Collector,
    t: &Tbl,
    nodes: u32,
    names: &BTreeMap<String, usize>,
    steps: usize,
) -> Option<Check> {
    let event = read_match(c, t, "event", nodes);
    t.require(
        c,
        "after",
        "what the window starts from: a named step, like after = \"put1\", or an event, like after = { node = \"n0\", kind = \"timeout\" }",
    );
    t.require(
        c,
        "within",
        "how long after it the event must happen, like within = \"100ms\"",
    );
    let after = match t.get("after").map(|v| v.get_ref()) {
        Some(DeValue::String(_)) => {
            let name = t.str(c, "after")?;
            match names.get(&name) {
                Some(&step) if step < steps => Some(Anchor::Step { step, name }),
                _ => {
                    c.err(
                        t.span_of("after"),
                        t.field("after"),
                        format!("no step is named {name:?}; name a step with name = \"...\", or give an event table"),
                    );
                    None
                }
            }
        }
        Some(DeValue::Table(_)) => read_match(c, t, "after", nodes).map(Anchor::Event),
        Some(_) => {
            c.err(
                t.span_of("after"),
                t.field("after"),
                "expected a step name (a string) or an event table like { node = \"n0\", kind = \"timeout\" }",
            );
            None
        }
        None => None,
    };
    let within = t.duration(c, "within");
    Some(Check::Within {
        event: event?,
        after: after?,
        within: within?,
    })
}

/// The first `after` time and the first matching event in the window, as the
/// runner reports them: `Ok(event time)` or `Err(what was found)`.
pub fn find_within(
    records: &[Record],
    event: &EventMatch,
    start: Option<sim_core::SimTime>,
    after: &Anchor,
    within: SimDuration,
) -> Result<sim_core::SimTime, String> {
    let mut line = String::new();
    let start = match (start, after) {
        (Some(t), _) => t,
        (None, Anchor::Event(m)) => match records.iter().find(|r| m.matches(r, &mut line)) {
            Some(r) => r.time,
            None => return Err(format!("no {m} happened")),
        },
        (None, Anchor::Step { name, .. }) => return Err(format!("step {name} never ran")),
    };
    let end = start + within;
    let mut first_any = None;
    for r in records.iter().filter(|r| event.matches(r, &mut line)) {
        if r.time >= start && r.time <= end {
            return Ok(r.time);
        }
        if r.time > start && first_any.is_none() {
            first_any = Some(r.time);
        }
    }
    Err(match first_any {
        Some(t) => format!(
            "the window opened at {start}; the first {event} after it came at {t}, {} later",
            t - start
        ),
        None => format!("the window opened at {start}; no {event} came after it"),
    })
}
