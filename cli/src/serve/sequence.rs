//! The message-sequence chart of one operation: which trace records belong
//! to it (`collect_sequence`), their layout in rows and lifelines, and the
//! SVG, built as a maud template.

use super::form::parse_op;
use crate::runner::Report;
use dynamo_observer::{OpKind, OpRecord, Outcome};
use maud::{Markup, html};
use sim_core::{Actor, DropReason, Event, Record, SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Trace records a page keeps in memory at most, and so the most the
/// sequence chart looks at.
pub(super) const KEPT_RECORDS: usize = 200_000;
const TRACE_CAP: usize = KEPT_RECORDS;
/// Most messages drawn in one sequence chart; later ones are counted, not drawn.
const MAX_ARROWS: usize = 80;
/// Most operations offered in the chart's select box.
const MAX_OP_CHOICES: usize = 500;
/// How long after an operation's reply its records still count (read repair, late acks).
const AFTER_REPLY: SimDuration = SimDuration::from_ms(100);

fn describe_op(o: &OpRecord) -> String {
    let outcome = match &o.outcome {
        Outcome::Pending => "pending".to_string(),
        Outcome::GetOk { .. } | Outcome::PutOk { .. } => "ok".to_string(),
        Outcome::Failed { .. } => "failed".to_string(),
        Outcome::TimedOut => "timed out".to_string(),
    };
    let lat = o
        .latency()
        .map(|d| format!(", {:.3} ms", d.as_ms_f64()))
        .unwrap_or_default();
    format!(
        "{}#{}: key {} from {}, {outcome}{lat}",
        o.kind.name(),
        o.id,
        o.key,
        o.client
    )
}

/// The chart's section: the op picker, the chart, its legend and the op's trace lines.
pub(super) fn section(report: &Report, op: &str) -> Markup {
    let history = report.cluster.history();
    let trace = &report.cluster.sim.core.trace;
    let records = &trace.records[..trace.records.len().min(TRACE_CAP)];
    // The page keeps the first records only (see `run::KEPT_RECORDS`).
    let capped = trace.overflowed() || trace.records.len() > TRACE_CAP;
    let horizon = match records.last() {
        Some(last) if capped => last.time,
        _ => SimTime::MAX,
    };
    let choices: Vec<&OpRecord> = history
        .iter()
        .filter(|o| o.start.unwrap_or(o.planned) <= horizon)
        .collect();
    let Some(first) = choices.first().copied() else {
        return html! {
            section.card #sequence {
                h2 { "Message sequence" }
                p.muted { "This run has no client operations to chart." }
            }
        };
    };
    let wanted = if op.is_empty() {
        Some((first.kind, first.id))
    } else {
        parse_op(op)
    };
    let found =
        wanted.and_then(|(k, id)| choices.iter().find(|o| o.kind == k && o.id == id).copied());
    let chosen = found.unwrap_or(first);
    let label = format!("{}#{}", chosen.kind.name(), chosen.id);
    let listed = choices.iter().take(MAX_OP_CHOICES);
    let chosen_listed = choices
        .iter()
        .take(MAX_OP_CHOICES)
        .any(|c| std::ptr::eq(*c, chosen));
    let seq = collect_sequence(records, chosen, report.cluster.now());
    html! {
        section.card #sequence {
            h2 { "Message sequence of " (label) }
            // A stale choice (kept from another run) is not an input error: say so and show the first op.
            @if !op.is_empty() && found.is_none() {
                p.notice #op-missing {
                    "Operation " (op) " is not among this run's operations"
                    @if capped { " within the first " (records.len()) " trace records" }
                    "; showing " (label) " instead."
                }
            }
            div.oppick {
                label for="op" { "Operation" }
                select #op name="op" {
                    @for c in listed {
                        @let name = format!("{}#{}", c.kind.name(), c.id);
                        option value=(name) selected[name == label] { (describe_op(c)) }
                    }
                    @if !chosen_listed {
                        option value=(label) selected { (describe_op(chosen)) }
                    }
                }
                button #show type="submit" { "Show" }
                @if choices.len() > MAX_OP_CHOICES {
                    span.muted { "the list shows the first " (MAX_OP_CHOICES) " of " (choices.len()) " ops" }
                }
            }
            @if capped {
                p.notice {
                    "This run made more trace records than the page keeps; the sequence chart is limited to the first "
                    (records.len()) " (up to " (horizon) "), so only operations issued by then are listed. The summary and plots cover the whole run."
                }
            }
            (seq_svg(&seq, &label))
            div.legend {
                "Time runs down; one row per event, the left column gives its simulated time."
                b.k-client {} "client request / reply"
                b.k-forward {} "Forward"
                b.k-request {} "Replicate / Read"
                b.k-answer {} "ack / reply"
                b.k-hinted {} "hinted (to a fallback) / repair"
                b.k-dropped {} "dropped (\u{2715})"
            }
            @if seq.omitted > 0 {
                p.notice {
                    (seq.omitted) " more message(s) of this operation are not drawn (the chart shows the first "
                    (MAX_ARROWS) "); the trace lines below list everything."
                }
            }
            details {
                summary { "The " (seq.lines.len()) " trace lines of " (label) }
                pre { (seq.lines.join("\n")) }
            }
        }
    }
}

// ---- the message-sequence chart ----

/// How an arrow is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Client,
    Forward,
    Request,
    Answer,
    Hinted,
    Repair,
}

impl Style {
    fn color(self) -> &'static str {
        match self {
            Style::Client => "#374151",
            Style::Forward => "#64748b",
            Style::Request => "#2563eb",
            Style::Answer => "#16a34a",
            Style::Hinted | Style::Repair => "#d97706",
        }
    }
}

/// How a message ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    Delivered,
    Dropped(DropReason),
    /// Still in flight when the window closed.
    Open,
}

#[derive(Clone, Debug)]
enum Item {
    Arrow {
        from: Actor,
        to: Actor,
        r0: usize,
        r1: usize,
        label: String,
        title: String,
        style: Style,
        end: End,
        copy: bool,
    },
    Note {
        at: Actor,
        row: usize,
        label: &'static str,
        text: String,
    },
}

/// What to draw for one op.
#[derive(Clone, Debug, Default)]
pub(super) struct Seq {
    pub(super) actors: Vec<Actor>,
    roles: BTreeMap<Actor, Vec<String>>,
    /// The time of each row.
    rows: Vec<SimTime>,
    items: Vec<Item>,
    /// The op's trace lines, as `dynsim run --trace` prints them.
    pub(super) lines: Vec<String>,
    /// Messages not drawn (over [`MAX_ARROWS`]).
    omitted: usize,
}

/// What kind of row a record wants, for packing rows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Send(Actor),
    Arrive,
    Own,
}

struct Rows {
    times: Vec<SimTime>,
    last: Option<(SimTime, RowKind, BTreeSet<Actor>)>,
}

impl Rows {
    /// The row for a record: a fan-out of sends from one actor shares a row,
    /// as do arrivals at distinct actors at one time; notes get their own.
    fn place(&mut self, time: SimTime, kind: RowKind, actor: Actor) -> usize {
        if let Some((t, k, actors)) = &mut self.last {
            let shares = *t == time
                && match (kind, *k) {
                    (RowKind::Send(a), RowKind::Send(b)) => a == b,
                    (RowKind::Arrive, RowKind::Arrive) => !actors.contains(&actor),
                    _ => false,
                };
            if shares {
                actors.insert(actor);
                return self.times.len() - 1;
            }
        }
        self.times.push(time);
        self.last = Some((time, kind, BTreeSet::from([actor])));
        self.times.len() - 1
    }
}

/// Finds `op`'s records in the trace and lays them out.
///
/// The op is followed through its request id and its coordinators' op tags:
/// the client's `request`/`reply` carry the id (`put#1`); a `Forward`
/// message's detail is `put#1`; a coordinator's `coordinate` note
/// (`op3 for put#1 ...`) names its op tag, and every Replicate, Read and
/// their answers from or to that coordinator start with `op3 `; deliveries,
/// drops and duplicates follow the message ids of those sends. Timeout and
/// failure notes of the tag, hint notes where a replica of it landed, and
/// read repairs of the key after the reply complete it. Only records from the
/// op's issue to 100 ms after its reply are looked at.
pub(super) fn collect_sequence(records: &[Record], op: &OpRecord, run_end: SimTime) -> Seq {
    let label = format!("{}#{}", op.kind.name(), op.id);
    let client = Actor::Client(op.client.0);
    let t0 = op.start.unwrap_or(op.planned);
    let t1 = op.end.unwrap_or(run_end).max(t0) + AFTER_REPLY;
    let lo = records.partition_point(|r| r.time < t0);
    let hi = records.partition_point(|r| r.time <= t1);
    let slice = &records[lo..hi];
    let key_prefix = format!("key {} ", op.key);
    let for_prefix = format!("for {label} ");

    let mut seq = Seq::default();
    let mut rows = Rows {
        times: Vec::new(),
        last: None,
    };
    // Coordinator op tags: (node, "op3").
    let mut tags: BTreeSet<(u32, String)> = BTreeSet::new();
    // Message id -> (arrow index, send row); arrow index None when not drawn.
    let mut msgs: BTreeMap<u64, Option<usize>> = BTreeMap::new();
    let mut replica_arrivals: BTreeSet<(Actor, SimTime)> = BTreeSet::new();
    let mut repairs_at: BTreeSet<(Actor, SimTime)> = BTreeSet::new();
    // (forwarder, owner) pairs of this op's Forward messages.
    let mut forwards: BTreeSet<(Actor, Actor)> = BTreeSet::new();
    let mut request_node: Option<(Actor, SimTime)> = None;
    let mut arrows = 0usize;
    let mut last_row_at: BTreeMap<Actor, usize> = BTreeMap::new();
    let first_word = |d: &str| d.split(' ').next().unwrap_or("").to_string();
    let tag_of = |a: Actor, d: &str| match a {
        Actor::Node(n) => Some((n, first_word(d))),
        _ => None,
    };

    // The client's send, a row of its own at the op's issue time.
    let send_row = rows.place(t0, RowKind::Send(client), client);
    for rec in slice {
        let mut include = false;
        match &rec.event {
            Event::Request {
                req,
                label: l,
                node,
                detail,
            } if *req == op.id && *l == op.kind.name() && rec.actor == client => {
                include = true;
                let row = rows.place(rec.time, RowKind::Arrive, *node);
                request_node = Some((*node, rec.time));
                seq.items.push(Item::Arrow {
                    from: client,
                    to: *node,
                    r0: send_row,
                    r1: row,
                    label: label.clone(),
                    title: format!("{label} {detail}"),
                    style: Style::Client,
                    end: End::Delivered,
                    copy: false,
                });
                last_row_at.insert(*node, row);
                role(&mut seq, client, "client");
            }
            Event::DropRequest {
                req,
                label: l,
                node,
                reason,
            } if *req == op.id && *l == op.kind.name() && rec.actor == client => {
                include = true;
                let row = rows.place(rec.time, RowKind::Arrive, *node);
                seq.items.push(Item::Arrow {
                    from: client,
                    to: *node,
                    r0: send_row,
                    r1: row,
                    label: label.clone(),
                    title: format!("{label}: {reason}"),
                    style: Style::Client,
                    end: End::Dropped(*reason),
                    copy: false,
                });
                role(&mut seq, client, "client");
            }
            Event::Reply {
                req,
                label: l,
                node,
                detail,
            } if *req == op.id && *l == op.kind.name() && rec.actor == client => {
                include = true;
                let from_row = last_row_at
                    .get(node)
                    .copied()
                    .unwrap_or(rows.times.len().saturating_sub(1));
                let row = rows.place(rec.time, RowKind::Arrive, client);
                seq.items.push(Item::Arrow {
                    from: *node,
                    to: client,
                    r0: from_row.min(row),
                    r1: row,
                    label: format!("reply {}", short(detail, 34)),
                    title: format!("{label} <- {node}: {detail}"),
                    style: Style::Client,
                    end: End::Delivered,
                    copy: false,
                });
            }
            Event::Note {
                label: "forward",
                detail,
            } if detail.starts_with(&format!("{label} ")) => {
                include = true;
                add_note(
                    &mut seq,
                    &mut rows,
                    &mut last_row_at,
                    rec,
                    "forward",
                    detail,
                );
                role(&mut seq, rec.actor, "entry");
            }
            Event::Note {
                label: "coordinate",
                detail,
            } => {
                if let Some((tag, rest)) = detail.split_once(' ') {
                    if rest.starts_with(&for_prefix) {
                        if let Actor::Node(n) = rec.actor {
                            tags.insert((n, tag.to_string()));
                            include = true;
                            role(&mut seq, rec.actor, "coordinator");
                        }
                    }
                }
                if !include
                    && detail.starts_with("no node of the top")
                    && request_node == Some((rec.actor, rec.time))
                {
                    include = true;
                }
                if include {
                    add_note(
                        &mut seq,
                        &mut rows,
                        &mut last_row_at,
                        rec,
                        "coordinate",
                        detail,
                    );
                }
            }
            Event::Note {
                label: l @ ("timeout" | "failed"),
                detail,
            } if tag_of(rec.actor, detail)
                .is_some_and(|(n, t)| tags.contains(&(n, t.trim_end_matches(':').to_string()))) =>
            {
                include = true;
                add_note(&mut seq, &mut rows, &mut last_row_at, rec, l, detail);
            }
            Event::Note {
                label: "hint",
                detail,
            } if replica_arrivals.contains(&(rec.actor, rec.time))
                && detail.contains(&key_prefix) =>
            {
                include = true;
                add_note(&mut seq, &mut rows, &mut last_row_at, rec, "hint", detail);
            }
            Event::Note {
                label: "read-repair",
                detail,
            } if op.kind == OpKind::Get
                && matches!(rec.actor, Actor::Node(n) if tags.iter().any(|(c, _)| *c == n))
                && detail.ends_with(&format!(" for key {}", op.key)) =>
            {
                include = true;
                repairs_at.insert((rec.actor, rec.time));
                add_note(
                    &mut seq,
                    &mut rows,
                    &mut last_row_at,
                    rec,
                    "read-repair",
                    detail,
                );
            }
            Event::Send {
                msg,
                from,
                to,
                kind,
                detail,
                ..
            } => {
                let forward = *kind == "Forward" && *detail == label;
                if forward {
                    forwards.insert((*from, *to));
                }
                // The owner's ForwardAck names the request by number only; it
                // belongs to this op when it answers one of this op's Forwards.
                let forward_ack = *kind == "ForwardAck"
                    && label.find('#').is_some_and(|i| *detail == label[i..])
                    && forwards.contains(&(*to, *from));
                // A tag is per coordinator: its requests go out from it, the
                // answers come back to it (another node's op of the same number
                // sends requests *to* it, which are not this op's).
                let tagged = (matches!(*kind, "Replicate" | "Read")
                    && tag_of(*from, detail).is_some_and(|t| tags.contains(&t)))
                    || (matches!(*kind, "ReplicateAck" | "ReadReply")
                        && tag_of(*to, detail).is_some_and(|t| tags.contains(&t)));
                // A Repair follows its read-repair note at the same node and time.
                let repair = *kind == "Repair"
                    && detail.starts_with(&key_prefix)
                    && repairs_at.contains(&(*from, rec.time));
                if forward || forward_ack || tagged || repair {
                    include = true;
                    let row = rows.place(rec.time, RowKind::Send(*from), *from);
                    last_row_at.insert(*from, row);
                    let hinted = detail.contains(" hint=");
                    let style = if forward || forward_ack {
                        Style::Forward
                    } else if repair {
                        Style::Repair
                    } else if hinted {
                        Style::Hinted
                    } else if matches!(*kind, "Replicate" | "Read") {
                        Style::Request
                    } else {
                        Style::Answer
                    };
                    if hinted {
                        if let Some(h) = detail.split(" hint=").nth(1) {
                            role(&mut seq, *to, &format!("fallback for {}", first_word(h)));
                        }
                    }
                    if arrows < MAX_ARROWS {
                        arrows += 1;
                        let mut l = format!("m{msg} {kind}");
                        if hinted {
                            let h = detail
                                .split(" hint=")
                                .nth(1)
                                .map(first_word)
                                .unwrap_or_default();
                            let _ = write!(l, " hint={h}");
                        }
                        msgs.insert(*msg, Some(seq.items.len()));
                        seq.items.push(Item::Arrow {
                            from: *from,
                            to: *to,
                            r0: row,
                            r1: row,
                            label: l,
                            title: format!("m{msg} {kind} {detail} {from} -> {to}"),
                            style,
                            end: End::Open,
                            copy: false,
                        });
                    } else {
                        msgs.insert(*msg, None);
                        seq.omitted += 1;
                    }
                }
            }
            Event::Deliver { msg, to, kind, .. } | Event::Drop { msg, to, kind, .. }
                if msgs.contains_key(msg) =>
            {
                include = true;
                let dropped = match &rec.event {
                    Event::Drop { reason, .. } => Some(*reason),
                    _ => None,
                };
                if *kind == "Replicate" && dropped.is_none() {
                    replica_arrivals.insert((*to, rec.time));
                }
                if let Some(reason) = dropped {
                    if reason == DropReason::NodeDown {
                        role(&mut seq, *to, "down");
                    }
                }
                if let Some(Some(i)) = msgs.get(msg) {
                    let row = rows.place(rec.time, RowKind::Arrive, *to);
                    last_row_at.insert(*to, row);
                    if let Some(Item::Arrow { r1, end, .. }) = seq.items.get_mut(*i) {
                        *r1 = row;
                        *end = dropped.map_or(End::Delivered, End::Dropped);
                    }
                }
            }
            Event::Duplicate {
                msg,
                copy,
                to,
                kind,
                ..
            } if msgs.contains_key(msg) => {
                include = true;
                let from = match msgs
                    .get(msg)
                    .copied()
                    .flatten()
                    .and_then(|i| seq.items.get(i))
                {
                    Some(Item::Arrow { from, .. }) => *from,
                    _ => rec.actor,
                };
                let row = rows.place(rec.time, RowKind::Send(from), from);
                if arrows < MAX_ARROWS {
                    arrows += 1;
                    msgs.insert(*copy, Some(seq.items.len()));
                    seq.items.push(Item::Arrow {
                        from,
                        to: *to,
                        r0: row,
                        r1: row,
                        label: format!("m{copy} {kind} (copy of m{msg})"),
                        title: format!("m{copy}: a network duplicate of m{msg}"),
                        style: Style::Answer,
                        end: End::Open,
                        copy: true,
                    });
                } else {
                    msgs.insert(*copy, None);
                    seq.omitted += 1;
                }
            }
            _ => {}
        }
        if include {
            let mut line = String::new();
            rec.write_text(&mut line);
            seq.lines.push(line);
        }
    }
    seq.rows = rows.times;
    let mut actors: BTreeSet<Actor> = BTreeSet::new();
    for it in &seq.items {
        match it {
            Item::Arrow { from, to, .. } => {
                actors.insert(*from);
                actors.insert(*to);
            }
            Item::Note { at, .. } => {
                actors.insert(*at);
            }
        }
    }
    actors.insert(client);
    // Clients first, then nodes by number (World never takes part).
    let mut ordered: Vec<Actor> = actors
        .iter()
        .copied()
        .filter(|a| matches!(a, Actor::Client(_)))
        .collect();
    ordered.extend(
        actors
            .iter()
            .copied()
            .filter(|a| matches!(a, Actor::Node(_))),
    );
    seq.actors = ordered;
    seq
}

fn role(seq: &mut Seq, a: Actor, r: &str) {
    let roles = seq.roles.entry(a).or_default();
    if !roles.iter().any(|x| x == r) {
        roles.push(r.to_string());
    }
}

fn add_note(
    seq: &mut Seq,
    rows: &mut Rows,
    last_row_at: &mut BTreeMap<Actor, usize>,
    rec: &Record,
    label: &'static str,
    detail: &str,
) {
    let row = rows.place(rec.time, RowKind::Own, rec.actor);
    last_row_at.insert(rec.actor, row);
    seq.items.push(Item::Note {
        at: rec.actor,
        row,
        label,
        text: detail.to_string(),
    });
}

/// At most `n` characters of `s`, with an ellipsis when cut.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('\u{2026}');
        t
    }
}

const SEQ_LEFT: f64 = 90.0;
const SEQ_COL: f64 = 150.0;
const SEQ_TOP: f64 = 72.0;
const SEQ_ROW: f64 = 24.0;
/// Room right of the last lifeline when no label needs more.
const SEQ_RIGHT: f64 = 120.0;
/// A generous average width of one character at the labels' font sizes, so
/// that the chart's box is computed to hold every label (none is clipped).
const CHAR_W_PX: f64 = 7.0;

/// One arrow, laid out.
struct ArrowDraw {
    title: String,
    line: (f64, f64, f64, f64),
    color: &'static str,
    dashed: bool,
    /// The head: a cross for a dropped message, a triangle for a delivered one.
    head: Head,
    text: (f64, f64, &'static str, String),
}

enum Head {
    None,
    Cross(String),
    Triangle(String),
}

/// The horizontal extent of `text` drawn at `x` with `anchor`.
fn extent(x: f64, anchor: &str, text: &str, char_w: f64) -> (f64, f64) {
    let w = text.chars().count() as f64 * char_w;
    match anchor {
        "end" => (x - w, x),
        "middle" => (x - w / 2.0, x + w / 2.0),
        _ => (x, x + w),
    }
}

/// Renders the chart as SVG: lifelines, one row per event, arrows and notes.
/// The view box is widened to hold every label, so none is clipped.
pub(super) fn seq_svg(seq: &Seq, label: &str) -> Markup {
    let col: BTreeMap<Actor, usize> = seq
        .actors
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, i))
        .collect();
    let x = |a: &Actor| SEQ_LEFT + SEQ_COL * (*col.get(a).unwrap_or(&0) as f64) + SEQ_COL / 2.0;
    let y = |row: usize| SEQ_TOP + SEQ_ROW * (row as f64 + 0.5);
    let lifelines_w = SEQ_LEFT + SEQ_COL * seq.actors.len() as f64;
    let height = SEQ_TOP + SEQ_ROW * seq.rows.len() as f64 + 24.0;
    // In a fan-out (several arrows leaving one actor in one row) only the
    // nearest destination's label sits at the sender; the others sit at their
    // heads, so that they land at different lifelines.
    let mut fans: BTreeMap<(usize, Actor), Vec<(u64, usize)>> = BTreeMap::new();
    for (i, it) in seq.items.iter().enumerate() {
        if let Item::Arrow {
            from, to, r0, end, ..
        } = it
        {
            if *end != End::Open {
                let dist = (x(to) - x(from)).abs() as u64;
                fans.entry((*r0, *from)).or_default().push((dist, i));
            }
        }
    }
    let mut at_head: BTreeSet<usize> = BTreeSet::new();
    for group in fans.values_mut() {
        group.sort_unstable();
        at_head.extend(group.iter().skip(1).map(|(_, i)| *i));
    }
    let (mut min_x, mut max_x) = (0.0f64, lifelines_w + SEQ_RIGHT);
    let mut widen = |(lo, hi): (f64, f64)| {
        min_x = min_x.min(lo - 6.0);
        max_x = max_x.max(hi + 6.0);
    };
    let mut arrows = Vec::new();
    let mut notes = Vec::new();
    for (index, it) in seq.items.iter().enumerate() {
        match it {
            Item::Arrow {
                from,
                to,
                r0,
                r1,
                label,
                title,
                style,
                end,
                copy,
            } => {
                let (x0, y0) = (x(from), y(*r0));
                let (mut x1, mut y1) = (x(to), y(*r1));
                if *end == End::Open {
                    // In flight at the window's end: a short stub.
                    x1 = x0 + (x1 - x0) * 0.35;
                    y1 = y0 + SEQ_ROW * 0.6;
                }
                let dropped = matches!(end, End::Dropped(_));
                let color = if dropped { "#dc2626" } else { style.color() };
                let head = if dropped {
                    let s = 5.0;
                    Head::Cross(format!(
                        "M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}",
                        x1 - s,
                        y1 - s,
                        x1 + s,
                        y1 + s,
                        x1 - s,
                        y1 + s,
                        x1 + s,
                        y1 - s
                    ))
                } else if *end != End::Open {
                    let (dx, dy) = (x1 - x0, y1 - y0);
                    let len = (dx * dx + dy * dy).sqrt().max(1.0);
                    let (ux, uy) = (dx / len, dy / len);
                    let (bx, by) = (x1 - 9.0 * ux, y1 - 9.0 * uy);
                    Head::Triangle(format!(
                        "{x1:.1},{y1:.1} {:.1},{:.1} {:.1},{:.1}",
                        bx - 4.0 * uy,
                        by + 4.0 * ux,
                        bx + 4.0 * uy,
                        by - 4.0 * ux
                    ))
                } else {
                    Head::None
                };
                let right = x1 >= x0;
                let (lx, ly, anchor) = match (at_head.contains(&index), right) {
                    (false, true) => (x0 + 8.0, y0 - 4.0, "start"),
                    (false, false) => (x0 - 8.0, y0 - 4.0, "end"),
                    (true, true) => (x1 - 12.0, y1 - 5.0, "end"),
                    (true, false) => (x1 + 12.0, y1 - 5.0, "start"),
                };
                let mut text = label.clone();
                if let End::Dropped(reason) = end {
                    let _ = write!(text, " \u{2715} {reason}");
                }
                widen(extent(lx, anchor, &text, CHAR_W_PX * 11.0 / 12.0));
                arrows.push(ArrowDraw {
                    title: title.clone(),
                    line: (x0, y0, x1, y1),
                    color,
                    dashed: dropped || *copy || *end == End::Open,
                    head,
                    text: (lx, ly, anchor, text),
                });
            }
            Item::Note {
                at,
                row,
                label,
                text,
            } => {
                let (cx, cy) = (x(at), y(*row));
                let color = match *label {
                    "timeout" | "failed" => "#b91c1c",
                    "hint" | "read-repair" => "#b45309",
                    "coordinate" => "#1d4ed8",
                    _ => "#475569",
                };
                let shown = short(text, 90);
                widen(extent(
                    cx + 10.0,
                    "start",
                    &format!("{label} {shown}"),
                    CHAR_W_PX,
                ));
                notes.push((cx, cy, color, *label, text.clone(), shown));
            }
        }
    }
    let width = max_x - min_x;
    let halo_w = "4";
    html! {
        div.seq {
            svg xmlns="http://www.w3.org/2000/svg" #seqchart
                viewBox=(format!("{min_x:.0} 0 {width:.0} {height:.0}"))
                width=(format!("{width:.0}")) height=(format!("{height:.0}"))
                font-family="sans-serif" font-size="12" {
                title { "message sequence of " (label) }
                rect x=(format!("{min_x:.0}")) width=(format!("{width:.0}")) height=(format!("{height:.0}")) fill="#fff" {}
                // Time labels and faint lines where simulated time moves on.
                @for (i, t) in seq.rows.iter().enumerate() {
                    @if i == 0 || seq.rows[i - 1] != *t {
                        @let yy = y(i) - SEQ_ROW / 2.0;
                        @if i > 0 {
                            line x1=(format!("{:.1}", min_x + 4.0)) y1=(format!("{yy:.1}")) x2=(format!("{:.1}", max_x - 4.0)) y2=(format!("{yy:.1}")) stroke="#eef0f3" {}
                        }
                        text x="8" y=(format!("{:.1}", y(i) + 4.0)) fill="#6b7280" font-size="11" font-family="monospace" { (t) }
                    }
                }
                // Lifelines with a header box per actor.
                @for a in &seq.actors {
                    @let cx = x(a);
                    @let roles = seq.roles.get(a).map(|r| r.join(", ")).unwrap_or_default();
                    @let (fill, stroke) = if matches!(a, Actor::Client(_)) {
                        ("#eef2ff", "#6366f1")
                    } else if roles.contains("down") {
                        ("#fef2f2", "#ef4444")
                    } else {
                        ("#f1f5f9", "#64748b")
                    };
                    line x1=(format!("{cx:.1}")) y1="52" x2=(format!("{cx:.1}")) y2=(format!("{:.1}", height - 8.0)) stroke="#cbd5e1" stroke-dasharray="4 4" {}
                    rect x=(format!("{:.1}", cx - SEQ_COL / 2.0 + 10.0)) y="10" width=(format!("{:.1}", SEQ_COL - 20.0)) height="42" rx="6" fill=(fill) stroke=(stroke) {}
                    text x=(format!("{cx:.1}")) y="28" text-anchor="middle" font-weight="bold" font-size="13" { (a.to_string().trim()) }
                    text x=(format!("{cx:.1}")) y="44" text-anchor="middle" font-size="10.5" fill="#475569" { (short(&roles, 24)) }
                }
                @for a in &arrows {
                    g {
                        title { (a.title) }
                        line x1=(format!("{:.1}", a.line.0)) y1=(format!("{:.1}", a.line.1)) x2=(format!("{:.1}", a.line.2)) y2=(format!("{:.1}", a.line.3))
                            stroke=(a.color) stroke-width="1.8" stroke-dasharray=[a.dashed.then_some("5 3")] {}
                        @match &a.head {
                            Head::Cross(d) => { path d=(d) stroke=(a.color) stroke-width="2.2" {} }
                            Head::Triangle(p) => { polygon points=(p) fill=(a.color) {} }
                            Head::None => {}
                        }
                        text x=(format!("{:.1}", a.text.0)) y=(format!("{:.1}", a.text.1)) text-anchor=(a.text.2) fill=(a.color) font-size="11"
                            paint-order="stroke" stroke="#fff" stroke-width=(halo_w) stroke-linejoin="round" { (a.text.3) }
                    }
                }
                @for (cx, cy, color, label, text, shown) in &notes {
                    g {
                        title { (label) ": " (text) }
                        rect x=(format!("{:.1}", cx - 4.0)) y=(format!("{:.1}", cy - 4.0)) width="8" height="8" fill=(color)
                            transform=(format!("rotate(45 {cx:.1} {cy:.1})")) {}
                        text x=(format!("{:.1}", cx + 10.0)) y=(format!("{:.1}", cy + 4.0)) fill=(color) font-size="11.5"
                            paint-order="stroke" stroke="#fff" stroke-width=(halo_w) stroke-linejoin="round" {
                            tspan font-weight="bold" { (label) } " " (shown)
                        }
                    }
                }
            }
        }
    }
}
