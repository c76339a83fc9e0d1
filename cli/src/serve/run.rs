//! The scenario handlers: the page with its form, a run, and a run's trace as text.

use super::budget::{self, Stopped};
use super::ctx::Ctx;
use super::form::{Form, Prepared, default_scenario, parse_op, prepare};
use super::http::Page;
use super::listing::SCENARIO_DIR;
use super::listing::{read_listed, toml_list};
use super::sequence::KEPT_RECORDS;
use super::templates::{self, CutNotice, Shown};
use crate::runner;
use crate::wall::Stopwatch;
use maud::Markup;
use std::collections::BTreeMap;

/// `GET /`: the form, with a bundled scenario loaded (`?scenario=` picks
/// it), or the scenario text a permalink carries (`?text=`).
pub(super) fn index(params: &BTreeMap<String, String>, ctx: &Ctx) -> Page {
    let list = toml_list(ctx.scenarios);
    if let Some(text) = params.get("text").filter(|t| !t.trim().is_empty()) {
        let form = Form {
            toml: text.clone(),
            ..Form::default()
        };
        return Page::html(
            200,
            templates::main_page(ctx, &list, &form, &Shown::default()),
        );
    }
    let mut form = Form::from_params(params);
    form.toml.clear();
    form.quick.clear();
    form.op.clear();
    if form.scenario.is_empty() {
        form.scenario = default_scenario(&list);
    }
    let mut errors = Vec::new();
    if list.is_empty() {
        errors.push(format!(
            "no scenarios found in {SCENARIO_DIR}/ below the working directory; start dynsim serve from the dynsim checkout, or paste a scenario below"
        ));
    } else {
        match read_listed(
            ctx.scenarios,
            SCENARIO_DIR,
            &list,
            &form.scenario,
            "scenario",
        ) {
            Ok(t) => form.toml = t,
            Err(e) => errors.push(e),
        }
    }
    let status = if errors.is_empty() { 200 } else { 400 };
    Page::html(
        status,
        templates::main_page(
            ctx,
            &list,
            &form,
            &Shown {
                errors: &errors,
                ..Shown::default()
            },
        ),
    )
}

/// The trace formats `/trace` answers in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TraceFormat {
    /// The text form, shown in the browser.
    Text,
    /// JSON Lines, downloaded as trace.jsonl.
    Jsonl,
    /// Chrome trace-event JSON, downloaded as trace.chrome.json (Perfetto opens it).
    Chrome,
}

impl TraceFormat {
    fn content_type(self) -> &'static str {
        match self {
            TraceFormat::Text => "text/plain; charset=utf-8",
            TraceFormat::Jsonl => "application/jsonl; charset=utf-8",
            TraceFormat::Chrome => "application/json; charset=utf-8",
        }
    }

    /// The name a download gets; the text form is shown, not downloaded.
    fn file_name(self) -> Option<&'static str> {
        match self {
            TraceFormat::Text => None,
            TraceFormat::Jsonl => Some("trace.jsonl"),
            TraceFormat::Chrome => Some("trace.chrome.json"),
        }
    }
}

/// The kept trace as Chrome trace-event JSON, through the same sink `dynsim
/// run --chrome-trace` writes with.
fn chrome_json(trace: &sim_core::Trace, title: &str) -> String {
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Shared::default();
    let mut sink: Box<dyn sim_core::TraceSink> = Box::new(crate::report::chrome::ChromeSink::new(
        buf.clone(),
        title,
        |_| Ok(()),
    ));
    let wrote = sink
        .begin(&trace.header)
        .and_then(|()| trace.records.iter().try_for_each(|r| sink.record(r)))
        .and_then(|()| sink.end(&trace.footer));
    wrote.expect("writing to memory");
    let bytes = buf.0.lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8(bytes).expect("JSON is UTF-8")
}

/// `GET /download?text=`: the scenario text as a file to save, as the
/// editor held it (the page's "Download" link). Plain text, never rendered.
pub(super) fn download(params: &BTreeMap<String, String>) -> Page {
    let text = params.get("text").cloned().unwrap_or_default();
    Page {
        content_type: "text/plain; charset=utf-8",
        ..Page::html(200, text)
    }
    .with_header(
        "Content-Disposition",
        format!("attachment; filename=\"{}\"", super::form::PASTED),
    )
}

/// The command that runs the form's scenario with no limits, and a note on it.
/// The page with the form kept and `errors` listed above it.
fn with_errors(ctx: &Ctx, list: &[String], form: &Form, status: u16, errors: &[String]) -> Page {
    let shown = Shown {
        errors,
        ..Shown::default()
    };
    Page::html(status, templates::main_page(ctx, list, form, &shown))
}

/// The page with the form kept and `results` below it.
fn with_results(ctx: &Ctx, list: &[String], form: &Form, status: u16, results: Markup) -> Page {
    let shown = Shown {
        results: Some(results),
        ..Shown::default()
    };
    Page::html(status, templates::main_page(ctx, list, form, &shown))
}

fn cli_command(form: &Form, file: &str, seed: u64) -> (String, &'static str) {
    if file == super::form::PASTED || !form.quick.keys().all(|k| *k == "seed") {
        (
            format!("dynsim run scenario.toml --seed {seed}"),
            "after saving the scenario text (with the quick fields' values written into it) as scenario.toml.",
        )
    } else {
        (
            format!("dynsim run {file} --seed {seed}"),
            "(with the same scenario text).",
        )
    }
}

/// Bytes of trace records a page keeps in memory at most.
const KEPT_BYTES: usize = 64 << 20;

/// What reading the request took and what building its cluster will
/// allocate, charged to the run budget.
fn charged(ctx: &Ctx, p: &Prepared, clock: &Stopwatch) -> Result<budget::Spent, String> {
    ctx.run_budget
        .charge_setup(clock.seconds(), p.scenario.cluster.setup_entries())
}

/// `POST /run`: runs the form's scenario within the run budget.
pub(super) fn run_page(params: &BTreeMap<String, String>, ctx: &Ctx) -> Page {
    let clock = Stopwatch::start();
    let list = toml_list(ctx.scenarios);
    let mut form = Form::from_params(params);
    let mut prepared = prepare(ctx.scenarios, &list, &mut form);
    if !form.op.is_empty() && parse_op(&form.op).is_none() {
        let problem = format!(
            "operation {:?} is not an op name like put#1 or get#2",
            form.op
        );
        match &mut prepared {
            Ok(_) => prepared = Err(vec![problem]),
            Err(e) => e.push(problem),
        }
    }
    let p = match prepared {
        Ok(p) => p,
        Err(errors) => {
            return with_errors(ctx, &list, &form, 400, &errors);
        }
    };
    let spent = match charged(ctx, &p, &clock) {
        Ok(b) => b,
        Err(e) => return with_errors(ctx, &list, &form, 400, &[e]),
    };
    let run = budget::within_after(ctx.run_budget, spent, ctx.client, || {
        runner::run_kept(&p.scenario, p.seed, KEPT_RECORDS, KEPT_BYTES)
    });
    match run {
        Ok(Ok(report)) => {
            let results = templates::results(&report, &p, &form.op);
            with_results(ctx, &list, &form, 200, results)
        }
        Ok(Err(e)) => with_errors(ctx, &list, &form, 400, &[e]),
        Err(Stopped::Cut(cut)) => {
            let (command, note) = cli_command(&form, &p.file, p.seed);
            let notice = templates::cut_section(&CutNotice {
                what: cut.describe("run"),
                command: &command,
                note,
            });
            with_results(ctx, &list, &form, 422, notice)
        }
        Err(Stopped::Panicked(text)) => {
            let msg = format!(
                "the simulator panicked on this scenario (a bug in dynsim; please report it with the scenario text): {text}"
            );
            let errors = [msg];
            with_errors(ctx, &list, &form, 500, &errors)
        }
    }
}

/// `POST /trace`: the run's whole trace as text, within the run budget.
pub(super) fn trace_text(params: &BTreeMap<String, String>, ctx: &Ctx) -> Page {
    let clock = Stopwatch::start();
    let format = match params.get("format").map(String::as_str) {
        None | Some("" | "text") => TraceFormat::Text,
        Some("jsonl") => TraceFormat::Jsonl,
        Some("chrome") => TraceFormat::Chrome,
        Some(other) => {
            let list = toml_list(ctx.scenarios);
            let form = Form::from_params(params);
            return with_errors(
                ctx,
                &list,
                &form,
                400,
                &[format!(
                    "format: unknown trace format {other:?}; valid formats are text, jsonl and chrome"
                )],
            );
        }
    };
    let list = toml_list(ctx.scenarios);
    let mut form = Form::from_params(params);
    let p = match prepare(ctx.scenarios, &list, &mut form) {
        Ok(p) => p,
        Err(errors) => {
            return with_errors(ctx, &list, &form, 400, &errors);
        }
    };
    let spent = match charged(ctx, &p, &clock) {
        Ok(b) => b,
        Err(e) => return with_errors(ctx, &list, &form, 400, &[e]),
    };
    let run = budget::within_after(ctx.run_budget, spent, ctx.client, || {
        runner::run_kept(&p.scenario, p.seed, KEPT_RECORDS, KEPT_BYTES).map(|report| {
            let trace = &report.cluster.sim.core.trace;
            let mut text = match format {
                TraceFormat::Text => trace.render_text(),
                TraceFormat::Jsonl => {
                    let mut out = Vec::new();
                    trace.write_jsonl(&mut out).expect("writing to memory");
                    String::from_utf8(out).expect("JSON is UTF-8")
                }
                TraceFormat::Chrome => chrome_json(trace, &p.scenario.name),
            };
            if trace.overflowed() && format == TraceFormat::Text {
                let (command, note) = cli_command(&form, &p.file, p.seed);
                text.push_str(&format!(
                    "# this page keeps only the first {} records of a trace (at most {} MiB); the run went on past them, and the checks and footer above cover all of it. The command line has no such limit: {command} --trace - {note}\n",
                    trace.records.len(),
                    KEPT_BYTES >> 20
                ));
            }
            text
        })
    });
    match run {
        Ok(Ok(text)) => {
            let page = Page {
                content_type: format.content_type(),
                ..Page::html(200, text)
            };
            match format.file_name() {
                Some(name) => page.with_header(
                    "Content-Disposition",
                    format!("attachment; filename=\"{name}\""),
                ),
                None => page,
            }
        }
        Ok(Err(e)) => with_errors(ctx, &list, &form, 400, &[e]),
        Err(Stopped::Cut(cut)) => {
            let (command, note) = cli_command(&form, &p.file, p.seed);
            Page::html(
                422,
                templates::message_page(
                    "Run stopped: over this page's budget",
                    &format!(
                        "{} The command line has no such limits: {command} --trace {note}",
                        cut.describe("run")
                    ),
                ),
            )
        }
        Err(Stopped::Panicked(text)) => Page::html(
            500,
            templates::message_page(
                "Internal error",
                &format!("the simulator panicked on this scenario (a bug in dynsim): {text}"),
            ),
        ),
    }
}
