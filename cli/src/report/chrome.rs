//! The trace in Chrome's trace-event JSON format, which Perfetto
//! (ui.perfetto.dev) and chrome://tracing open: one track per node and per
//! client, client operations as spans, messages as flow arrows.

use serde_json::{Value, json};
use sim_core::{Actor, Event, Trace};
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

/// Writes `trace` as Chrome trace-event JSON.
pub fn write(trace: &Trace, title: &str, w: &mut dyn Write) -> io::Result<()> {
    let mut events: Vec<Value> = Vec::new();
    let mut tracks: BTreeMap<(u32, u32), String> = BTreeMap::new();
    let mut open: BTreeMap<u64, (u64, Actor, &'static str, String)> = BTreeMap::new();
    tracks.insert((NODES_PID, WORLD_TID), "faults".into());
    for r in &trace.records {
        let ts = r.time.as_us();
        let (pid, tid) = track(r.actor);
        tracks
            .entry((pid, tid))
            .or_insert_with(|| r.actor.to_string());
        let mut text = String::new();
        r.write_text(&mut text);
        let detail = text.get(34..).unwrap_or("").to_string();
        match &r.event {
            Event::Send {
                msg,
                kind,
                arrives_us,
                ..
            } => {
                events.push(slice(
                    r.actor,
                    ts,
                    format!("send {kind}"),
                    "message",
                    json!({ "detail": detail }),
                ));
                if arrives_us.is_some() {
                    events.push(json!({ "ph": "s", "pid": pid, "tid": tid, "ts": ts, "id": msg, "name": kind, "cat": "message" }));
                }
            }
            Event::Deliver { msg, kind, .. } => {
                events.push(slice(
                    r.actor,
                    ts,
                    format!("deliver {kind}"),
                    "message",
                    json!({ "detail": detail }),
                ));
                events.push(json!({ "ph": "f", "bp": "e", "pid": pid, "tid": tid, "ts": ts, "id": msg, "name": kind, "cat": "message" }));
            }
            Event::Request { req, label, .. } => {
                open.insert(*req, (ts, r.actor, label, detail));
            }
            Event::Reply { req, label, .. } => {
                let (start, actor, _, asked) =
                    open.remove(req)
                        .unwrap_or((ts, r.actor, label, String::new()));
                let (pid, tid) = track(actor);
                events.push(json!({
                    "ph": "X", "pid": pid, "tid": tid, "ts": start, "dur": (ts - start).max(1),
                    "name": format!("{label}#{req}"), "cat": "operation",
                    "args": { "request": asked, "reply": detail }
                }));
            }
            _ => {
                let name = r.kind().to_string();
                events.push(slice(
                    r.actor,
                    ts,
                    name,
                    "event",
                    json!({ "detail": detail }),
                ));
            }
        }
    }
    // Requests never answered (dropped, or the client gave up) show as instants.
    for (req, (ts, actor, label, detail)) in open {
        let (pid, tid) = track(actor);
        events.push(json!({ "ph": "i", "s": "t", "pid": pid, "tid": tid, "ts": ts, "name": format!("{label}#{req} (no reply)"), "args": { "request": detail } }));
    }
    for ((pid, tid), name) in &tracks {
        events.push(json!({ "ph": "M", "pid": pid, "tid": tid, "name": "thread_name", "args": { "name": name } }));
        events.push(json!({ "ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index", "args": { "sort_index": tid } }));
    }
    events.push(json!({ "ph": "M", "pid": NODES_PID, "name": "process_name", "args": { "name": format!("{title}: nodes") } }));
    events.push(json!({ "ph": "M", "pid": CLIENTS_PID, "name": "process_name", "args": { "name": format!("{title}: clients") } }));
    serde_json::to_writer(
        &mut *w,
        &json!({ "traceEvents": events, "displayTimeUnit": "ms", "otherData": { "header": trace.header } }),
    )?;
    w.write_all(b"\n")
}
