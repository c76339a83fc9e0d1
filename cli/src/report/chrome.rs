//! The trace in Chrome's trace-event JSON format, which Perfetto
//! (ui.perfetto.dev) and chrome://tracing open: one track per node and per
//! client, client operations as spans, messages as flow arrows.

use serde_json::{Value, json};
use sim_core::{Actor, Event, Record, TraceSink};
use std::collections::BTreeMap;
use std::io::{self, Write};

const NODES_PID: u32 = 1;
const CLIENTS_PID: u32 = 2;
const WORLD_TID: u32 = 1_000_000;

fn track(a: Actor) -> (u32, u32) {
    match a {
        Actor::Node(n) => (NODES_PID, n),
        Actor::Client(c) => (CLIENTS_PID, c),
        Actor::World => (NODES_PID, WORLD_TID),
    }
}

fn slice(a: Actor, ts: u64, name: String, cat: &str, args: Value) -> Value {
    let (pid, tid) = track(a);
    json!({ "ph": "X", "pid": pid, "tid": tid, "ts": ts, "dur": 1, "name": name, "cat": cat, "args": args })
}

/// A [`TraceSink`] writing Chrome trace-event JSON as the run goes: the
/// header and the opening of the event list first, each event as its
/// record happens, and at the end the requests never answered and the
/// tracks' names. Memory stays bounded by the open requests and the tracks.
pub struct ChromeSink<W: Write + Send> {
    out: W,
    title: String,
    tracks: BTreeMap<(u32, u32), String>,
    open: BTreeMap<u64, (u64, Actor, &'static str, String)>,
    first: bool,
    text: String,
    finish: fn(W) -> io::Result<()>,
}

impl<W: Write + Send> ChromeSink<W> {
    /// Writes to `out` with `title` naming the processes; `finish` is called
    /// with `out` after the last byte.
    pub fn new(out: W, title: &str, finish: fn(W) -> io::Result<()>) -> ChromeSink<W> {
        let mut tracks = BTreeMap::new();
        tracks.insert((NODES_PID, WORLD_TID), "faults".into());
        ChromeSink {
            out,
            title: title.to_string(),
            tracks,
            open: BTreeMap::new(),
            first: true,
            text: String::new(),
            finish,
        }
    }

    fn event(&mut self, v: &Value) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, v)?;
        Ok(())
    }
}

impl<W: Write + Send> TraceSink for ChromeSink<W> {
    fn begin(&mut self, header: &[String]) -> io::Result<()> {
        // The keys in the order serde_json writes a map: sorted.
        self.out
            .write_all(b"{\"displayTimeUnit\":\"ms\",\"otherData\":")?;
        serde_json::to_writer(&mut self.out, &json!({ "header": header }))?;
        self.out.write_all(b",\"traceEvents\":[")
    }

    fn record(&mut self, r: &Record) -> io::Result<()> {
        let ts = r.time.as_us();
        let (pid, tid) = track(r.actor);
        self.tracks
            .entry((pid, tid))
            .or_insert_with(|| r.actor.to_string());
        self.text.clear();
        r.write_text(&mut self.text);
        let detail = self.text.get(34..).unwrap_or("").to_string();
        match &r.event {
            Event::Send {
                msg,
                kind,
                arrives_us,
                ..
            } => {
                self.event(&slice(
                    r.actor,
                    ts,
                    format!("send {kind}"),
                    "message",
                    json!({ "detail": detail }),
                ))?;
                if arrives_us.is_some() {
                    self.event(&json!({ "ph": "s", "pid": pid, "tid": tid, "ts": ts, "id": msg, "name": kind, "cat": "message" }))?;
                }
            }
            Event::Deliver { msg, kind, .. } => {
                self.event(&slice(
                    r.actor,
                    ts,
                    format!("deliver {kind}"),
                    "message",
                    json!({ "detail": detail }),
                ))?;
                self.event(&json!({ "ph": "f", "bp": "e", "pid": pid, "tid": tid, "ts": ts, "id": msg, "name": kind, "cat": "message" }))?;
            }
            Event::Request { req, label, .. } => {
                self.open.insert(*req, (ts, r.actor, label, detail));
            }
            Event::Reply { req, label, .. } => {
                let (start, actor, _, asked) =
                    self.open
                        .remove(req)
                        .unwrap_or((ts, r.actor, label, String::new()));
                let (pid, tid) = track(actor);
                self.event(&json!({
                    "ph": "X", "pid": pid, "tid": tid, "ts": start, "dur": (ts - start).max(1),
                    "name": format!("{label}#{req}"), "cat": "operation",
                    "args": { "request": asked, "reply": detail }
                }))?;
            }
            _ => {
                let name = r.kind().to_string();
                self.event(&slice(
                    r.actor,
                    ts,
                    name,
                    "event",
                    json!({ "detail": detail }),
                ))?;
            }
        }
        Ok(())
    }

    fn end(mut self: Box<Self>, _footer: &[String]) -> io::Result<()> {
        // Requests never answered (dropped, or the client gave up) show as instants.
        for (req, (ts, actor, label, detail)) in std::mem::take(&mut self.open) {
            let (pid, tid) = track(actor);
            self.event(&json!({ "ph": "i", "s": "t", "pid": pid, "tid": tid, "ts": ts, "name": format!("{label}#{req} (no reply)"), "args": { "request": detail } }))?;
        }
        for ((pid, tid), name) in std::mem::take(&mut self.tracks) {
            self.event(&json!({ "ph": "M", "pid": pid, "tid": tid, "name": "thread_name", "args": { "name": name } }))?;
            self.event(&json!({ "ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index", "args": { "sort_index": tid } }))?;
        }
        let title = self.title.clone();
        self.event(&json!({ "ph": "M", "pid": NODES_PID, "name": "process_name", "args": { "name": format!("{title}: nodes") } }))?;
        self.event(&json!({ "ph": "M", "pid": CLIENTS_PID, "name": "process_name", "args": { "name": format!("{title}: clients") } }))?;
        self.out.write_all(b"]}\n")?;
        let this = *self;
        (this.finish)(this.out)
    }
}
