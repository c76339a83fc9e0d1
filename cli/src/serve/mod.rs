//! `dynsim serve`: a local web page to set cluster, network and fault
//! parameters, run a scenario or an experiment, and see the summary, latency
//! plots and a message-sequence chart of one operation.
//!
//! The page is plain server-rendered HTML (one form, a line of inline
//! script to reload a scenario) and needs no network: charts are inline SVG.
//! Every request is handled on its own thread inside `catch_unwind`, so a
//! bug triggered by one input answers that request with an error page and
//! leaves the server running. Bad input answers HTTP 400 with the form kept
//! and every problem listed on the page.

use crate::args::{EXIT_BAD_INPUT, EXIT_OK, ServeArgs};
use crate::report::svg::{self, Chart, Series};
use crate::runner::{self, Report};
use crate::scenario::{self, Scenario};
use dynamo_model::cluster::{OpKind, OpRecord, Outcome};
use sim_core::{Actor, DropReason, Event, Latency, Record, SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::thread::JoinHandle;

/// Where the bundled scenarios live, relative to the working directory.
const SCENARIO_DIR: &str = "scenarios";
/// Where experiment files live, relative to the working directory.
const EXPERIMENT_DIR: &str = "experiments";
/// The scenario the page opens with, when it exists.
const DEFAULT_SCENARIO: &str = "failure.toml";
/// Largest request body accepted (the scenario text travels in it).
const MAX_BODY: u64 = 1 << 20;
/// The sequence chart looks at most at this many trace records.
const TRACE_CAP: usize = 200_000;
/// Most messages drawn in one sequence chart; later ones are counted, not drawn.
const MAX_ARROWS: usize = 80;
/// Most operations offered in the chart's select box.
const MAX_OP_CHOICES: usize = 500;
/// Up to this many ops, the latency-over-time chart shows each op as a point.
const RAW_POINTS: usize = 300;
/// Past [`RAW_POINTS`], the latency-over-time chart averages this many time bins.
const TIME_BINS: usize = 60;
/// The largest cluster the quick field accepts.
const MAX_NODES: u32 = 1_000;
/// How long after an operation's reply its records still count (read repair, late acks).
const AFTER_REPLY: SimDuration = SimDuration::from_ms(100);

/// `dynsim serve`: prints the URL and serves until killed. Exit code 2 if it cannot listen.
pub fn cmd(args: &ServeArgs) -> u8 {
    match start(&args.bind, args.port) {
        Ok((port, handle)) => {
            let host = if args.bind.contains(':') {
                format!("[{}]", args.bind)
            } else {
                args.bind.clone()
            };
            println!("dynsim serve: open http://{host}:{port}/ (Ctrl-C stops it)");
            if !is_loopback(&args.bind) {
                eprintln!(
                    "warning: --bind {} makes the page reachable from other machines; it has no authentication and runs whatever scenario it is sent",
                    args.bind
                );
            }
            match handle.join() {
                Ok(()) => EXIT_OK,
                Err(_) => crate::args::EXIT_FAILED,
            }
        }
        Err(e) => {
            eprintln!(
                "error: cannot listen on {}:{}: {e} (is the port in use? try another with --port)",
                args.bind, args.port
            );
            EXIT_BAD_INPUT
        }
    }
}

fn is_loopback(bind: &str) -> bool {
    bind == "localhost"
        || bind
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Binds `bind:port` (port 0 picks a free one) and serves in a background
/// thread; returns the port actually bound and the serving thread.
pub fn start(bind: &str, port: u16) -> std::io::Result<(u16, JoinHandle<()>)> {
    let server = tiny_http::Server::http((bind, port)).map_err(|e| {
        match e.downcast::<std::io::Error>() {
            Ok(io) => *io,
            Err(other) => std::io::Error::other(other.to_string()),
        }
    })?;
    let actual = server.server_addr().to_ip().map_or(port, |a| a.port());
    let handle = std::thread::Builder::new()
        .name("dynsim-serve".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                // One thread per request, so a long run does not hold up the
                // page's other requests. If no thread can be started, the
                // dropped request answers 500 by itself.
                let _ = std::thread::Builder::new()
                    .name("dynsim-serve-request".into())
                    .spawn(move || respond(request));
            }
        })?;
    Ok((actual, handle))
}

/// An HTTP answer: status, content type and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Page {
    fn html(status: u16, body: String) -> Page {
        Page {
            status,
            content_type: "text/html; charset=utf-8",
            body,
        }
    }
}

fn respond(mut request: tiny_http::Request) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body);
    let page = if read.is_err() {
        Page::html(
            400,
            message_page("Bad request", "the request body could not be read"),
        )
    } else if body.len() as u64 > MAX_BODY {
        Page::html(
            413,
            message_page(
                "Request too large",
                "the form is larger than 1 MiB; shorten the scenario text",
            ),
        )
    } else {
        let body = String::from_utf8_lossy(&body);
        match catch_unwind(AssertUnwindSafe(|| handle(&method, &url, &body))) {
            Ok(page) => page,
            Err(payload) => Page::html(
                500,
                message_page(
                    "Internal error",
                    &format!(
                        "dynsim panicked while answering this request (a bug; please report it with the scenario): {}",
                        panic_text(payload.as_ref())
                    ),
                ),
            ),
        }
    };
    let content_type =
        tiny_http::Header::from_bytes(&b"Content-Type"[..], page.content_type.as_bytes())
            .expect("a valid header");
    let no_store = tiny_http::Header::from_bytes(&b"Cache-Control"[..], &b"no-store"[..])
        .expect("a valid header");
    let response = tiny_http::Response::from_string(page.body)
        .with_status_code(page.status)
        .with_header(content_type)
        .with_header(no_store);
    // The browser may have gone away; nothing to do then.
    let _ = request.respond(response);
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Answers one request: the method, the URL (path and query) and the
/// form-encoded body. Pure apart from reading scenario and experiment files
/// below the working directory.
pub fn handle(method: &str, url: &str, body: &str) -> Page {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params = parse_params(query);
    if method == "POST" {
        params.extend(parse_params(body));
    }
    if method != "GET" && method != "POST" {
        return Page::html(
            405,
            message_page("Method not allowed", "this page answers GET and POST only"),
        );
    }
    match path {
        "/" | "/index.html" => index(&params),
        "/run" => run_page(&params),
        "/trace" => trace_text(&params),
        "/experiment" => experiment_page(&params),
        _ => Page::html(
            404,
            message_page("Not found", &format!("there is no page {path}")),
        ),
    }
}

// ---- forms ----

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `a=1&b=x+y` into a map (a later value of a name wins).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// The quick fields: form name, label, help.
const QUICK: &[(&str, &str, &str)] = &[
    ("seed", "Seed", "whole number"),
    ("nodes", "Nodes", "1 to 1000"),
    ("n", "N", "replicas per key"),
    ("r", "R", "replies a get needs"),
    ("w", "W", "acks a put needs"),
    ("lat_min", "Latency min (ms)", "uniform one-way"),
    ("lat_max", "Latency max (ms)", "uniform one-way"),
    ("loss", "Loss", "probability 0 to 1"),
];

/// What the form holds: the scenario, its text, the quick fields and the op to chart.
#[derive(Clone, Debug, Default)]
struct Form {
    scenario: String,
    toml: String,
    quick: BTreeMap<&'static str, String>,
    op: String,
}

impl Form {
    fn from_params(p: &BTreeMap<String, String>) -> Form {
        let get = |k: &str| p.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        Form {
            scenario: get("scenario"),
            toml: p
                .get("toml")
                .map(|t| t.replace("\r\n", "\n"))
                .unwrap_or_default(),
            quick: QUICK
                .iter()
                .map(|(k, ..)| (*k, get(k)))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
            op: get("op"),
        }
    }
}

/// The quick fields, checked.
#[derive(Clone, Debug, Default, PartialEq)]
struct Quick {
    seed: Option<u64>,
    nodes: Option<u32>,
    n: Option<u32>,
    r: Option<u32>,
    w: Option<u32>,
    /// Uniform latency, min and max in milliseconds.
    latency: Option<(f64, f64)>,
    loss: Option<f64>,
}

impl Quick {
    /// Whether a field changes the scenario text (the seed does not: it goes to the run).
    fn edits_toml(&self) -> bool {
        self.nodes.is_some()
            || self.n.is_some()
            || self.r.is_some()
            || self.w.is_some()
            || self.latency.is_some()
            || self.loss.is_some()
    }
}

/// The quick fields that are valid, and a problem for each that is not.
fn parse_quick(q: &BTreeMap<&'static str, String>) -> (Quick, Vec<String>) {
    let mut errs = Vec::new();
    let label = |k: &str| -> String {
        QUICK
            .iter()
            .find(|(name, ..)| *name == k)
            .map_or(k, |(_, l, _)| *l)
            .to_string()
    };
    let mut whole = |k: &'static str, lo: u64, hi: u64| -> Option<u64> {
        let v = q.get(k)?;
        match v.parse::<u64>() {
            Ok(x) if (lo..=hi).contains(&x) => Some(x),
            Ok(x) => {
                errs.push(format!(
                    "quick field {}: {x} is out of range; it must be from {lo} to {hi}",
                    label(k)
                ));
                None
            }
            Err(_) => {
                errs.push(format!(
                    "quick field {}: {v:?} is not a whole number >= {lo}",
                    label(k)
                ));
                None
            }
        }
    };
    let seed = whole("seed", 0, u64::MAX);
    let nodes = whole("nodes", 1, u64::from(MAX_NODES)).map(|x| x as u32);
    let n = whole("n", 0, u64::from(u32::MAX)).map(|x| x as u32);
    let r = whole("r", 0, u64::from(u32::MAX)).map(|x| x as u32);
    let w = whole("w", 0, u64::from(u32::MAX)).map(|x| x as u32);
    let mut number = |k: &'static str, hi: f64, what: &str| -> Option<f64> {
        let v = q.get(k)?;
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && (0.0..=hi).contains(&x) => Some(x),
            _ => {
                errs.push(format!("quick field {}: {v:?} is not {what}", label(k)));
                None
            }
        }
    };
    let lat_min = number(
        "lat_min",
        3_600_000.0,
        "a number of milliseconds from 0 to 3600000",
    );
    let lat_max = number(
        "lat_max",
        3_600_000.0,
        "a number of milliseconds from 0 to 3600000",
    );
    let loss = number("loss", 1.0, "a probability from 0 to 1");
    let latency = match (q.contains_key("lat_min"), q.contains_key("lat_max")) {
        (false, false) => None,
        (true, true) => match (lat_min, lat_max) {
            (Some(a), Some(b)) if a > b => {
                errs.push(format!(
                    "quick field Latency: min {a} ms exceeds max {b} ms"
                ));
                None
            }
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        },
        _ => {
            errs.push(
                "quick field Latency: give both min and max (in ms) for a uniform latency, or neither"
                    .to_string(),
            );
            None
        }
    };
    let quick = Quick {
        seed,
        nodes,
        n,
        r,
        w,
        latency,
        loss,
    };
    (quick, errs)
}

/// A duration in milliseconds as the scenario format writes it (`"1.5ms"`).
fn ms_text(ms: f64) -> String {
    let us = (ms * 1_000.0).round();
    format!("{us}us")
}

/// The table `name` of `table`, created if absent; `None` if it is not a table.
fn sub_table<'a>(table: &'a mut toml::Table, name: &str) -> Option<&'a mut toml::Table> {
    table
        .entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
}

/// Writes the quick fields into the scenario's TOML tables.
fn apply_quick(table: &mut toml::Table, q: &Quick) {
    use toml::Value;
    if let Some(cluster) = sub_table(table, "cluster") {
        for (key, v) in [("nodes", q.nodes), ("n", q.n), ("r", q.r), ("w", q.w)] {
            if let Some(v) = v {
                cluster.insert(key.into(), Value::Integer(i64::from(v)));
            }
        }
    }
    if q.latency.is_some() || q.loss.is_some() {
        if let Some(net) = sub_table(table, "network") {
            if let Some((lo, hi)) = q.latency {
                let mut l = toml::Table::new();
                l.insert("dist".into(), Value::String("uniform".into()));
                l.insert("min".into(), Value::String(ms_text(lo)));
                l.insert("max".into(), Value::String(ms_text(hi)));
                net.insert("latency".into(), Value::Table(l));
            }
            if let Some(p) = q.loss {
                net.insert("loss".into(), Value::Float(p));
            }
        }
    }
}

/// Parses the scenario text with the quick fields applied. Problems of the
/// text itself keep their line and column; problems the quick fields cause
/// are named by field.
fn build_scenario(file: &str, text: &str, q: &Quick) -> Result<Scenario, Vec<String>> {
    let lines =
        |d: &crate::scenario::diag::Diags| d.0.iter().map(ToString::to_string).collect::<Vec<_>>();
    if !q.edits_toml() {
        return scenario::parse(file, text).map_err(|d| lines(&d));
    }
    let Ok(mut table) = text.parse::<toml::Table>() else {
        return Err(match scenario::parse(file, text) {
            Err(d) => lines(&d),
            Ok(_) => vec!["the scenario text cannot be combined with the quick fields".into()],
        });
    };
    apply_quick(&mut table, q);
    let edited = match toml::to_string(&table) {
        Ok(t) => t,
        Err(e) => return Err(vec![format!("cannot apply the quick fields: {e}")]),
    };
    scenario::parse(file, &edited).map_err(|d| {
        let original = scenario::parse(file, text)
            .err()
            .map(|d| d.0)
            .unwrap_or_default();
        d.0.iter()
            .map(|x| {
                original
                    .iter()
                    .find(|o| o.field == x.field && o.message == x.message)
                    .map_or_else(
                        || {
                            let field = if x.field.is_empty() {
                                String::new()
                            } else {
                                format!("{}: ", x.field)
                            };
                            format!("{file} with the quick fields applied: {field}{}", x.message)
                        },
                        ToString::to_string,
                    )
            })
            .collect()
    })
}

/// Every `.toml` file below `dir`, as sorted paths relative to it with `/`.
fn toml_list(dir: &str) -> Vec<String> {
    let base = Path::new(dir);
    let mut out: Vec<String> = crate::scenario::toml_read::toml_files(base)
        .iter()
        .filter_map(|p| p.strip_prefix(base).ok())
        .map(|rel| {
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    out.sort();
    out
}

fn default_scenario(list: &[String]) -> String {
    if list.iter().any(|s| s == DEFAULT_SCENARIO) {
        DEFAULT_SCENARIO.to_string()
    } else {
        list.first().cloned().unwrap_or_default()
    }
}

/// Reads a bundled scenario by its name in the list (never any other path).
fn read_bundled(list: &[String], name: &str) -> Result<String, String> {
    if !list.iter().any(|s| s == name) {
        return Err(format!(
            "unknown scenario {name:?}; choose one of the {} files in {SCENARIO_DIR}/",
            list.len()
        ));
    }
    std::fs::read_to_string(Path::new(SCENARIO_DIR).join(name))
        .map_err(|e| format!("cannot read {SCENARIO_DIR}/{name}: {e}"))
}

// ---- pages ----

fn index(params: &BTreeMap<String, String>) -> Page {
    let list = toml_list(SCENARIO_DIR);
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
        match read_bundled(&list, &form.scenario) {
            Ok(t) => form.toml = t,
            Err(e) => errors.push(e),
        }
    }
    let status = if errors.is_empty() { 200 } else { 400 };
    Page::html(status, page(&list, &form, &errors, ""))
}

/// The scenario to run (quick fields applied), the file name it is shown as, and the seed.
struct Prepared {
    file: String,
    scenario: Scenario,
    seed: u64,
}

/// Reads the form into a scenario, or every problem with it.
fn prepare(list: &[String], form: &mut Form) -> Result<Prepared, Vec<String>> {
    if form.scenario.is_empty() && form.toml.trim().is_empty() {
        form.scenario = default_scenario(list);
    }
    if form.toml.trim().is_empty() {
        match read_bundled(list, &form.scenario) {
            Ok(t) => form.toml = t,
            Err(e) => return Err(vec![e]),
        }
    }
    let file = if form.scenario.is_empty() {
        "scenario".to_string()
    } else {
        format!("{SCENARIO_DIR}/{}", form.scenario)
    };
    // Valid quick fields still apply, so that every problem shows at once.
    let (quick, mut errors) = parse_quick(&form.quick);
    let parsed = build_scenario(&file, &form.toml, &quick);
    match parsed {
        Ok(s) if errors.is_empty() => {
            let seed = quick.seed.unwrap_or(s.seed);
            Ok(Prepared {
                file,
                scenario: s,
                seed,
            })
        }
        Ok(_) => Err(errors),
        Err(mut e) => {
            errors.append(&mut e);
            Err(errors)
        }
    }
}

/// `get#3` or `put#3` as (kind, id).
fn parse_op(s: &str) -> Option<(OpKind, u64)> {
    let (kind, id) = s.split_once('#')?;
    let kind = match kind {
        "get" => OpKind::Get,
        "put" => OpKind::Put,
        _ => return None,
    };
    Some((kind, id.parse().ok()?))
}

fn run_page(params: &BTreeMap<String, String>) -> Page {
    let list = toml_list(SCENARIO_DIR);
    let mut form = Form::from_params(params);
    let mut prepared = prepare(&list, &mut form);
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
        Err(errors) => return Page::html(400, page(&list, &form, &errors, "")),
    };
    let run = catch_unwind(AssertUnwindSafe(|| runner::run(&p.scenario, p.seed, true)));
    let report = match run {
        Ok(r) => r,
        Err(payload) => {
            let msg = format!(
                "the simulator panicked on this scenario (a bug in dynsim; please report it with the scenario text): {}",
                panic_text(payload.as_ref())
            );
            return Page::html(500, page(&list, &form, &[msg], ""));
        }
    };
    let results = results_html(&report, &p, &form.op);
    Page::html(200, page(&list, &form, &[], &results))
}

fn trace_text(params: &BTreeMap<String, String>) -> Page {
    let list = toml_list(SCENARIO_DIR);
    let mut form = Form::from_params(params);
    match prepare(&list, &mut form) {
        Ok(p) => {
            let report = runner::run(&p.scenario, p.seed, true);
            Page {
                status: 200,
                content_type: "text/plain; charset=utf-8",
                body: report.cluster.sim.core.trace.render_text(),
            }
        }
        Err(errors) => Page::html(400, page(&list, &form, &errors, "")),
    }
}

fn experiment_page(params: &BTreeMap<String, String>) -> Page {
    let list = toml_list(SCENARIO_DIR);
    let mut form = Form::from_params(params);
    let file = params
        .get("file")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    form.scenario = default_scenario(&list);
    form.op.clear();
    form.quick.clear();
    form.toml = read_bundled(&list, &form.scenario).unwrap_or_default();
    let experiments = toml_list(EXPERIMENT_DIR);
    let problem = if file.is_empty() {
        Some("choose an experiment file".to_string())
    } else if !experiments.contains(&file) {
        Some(format!(
            "unknown experiment {file:?}; choose one of the files in {EXPERIMENT_DIR}/"
        ))
    } else {
        None
    };
    if let Some(p) = problem {
        return Page::html(400, page_with(&list, &form, &[], "", &file, &[p], ""));
    }
    let path = format!("{EXPERIMENT_DIR}/{file}");
    match catch_unwind(AssertUnwindSafe(|| {
        crate::report::experiment::report_html(&path)
    })) {
        Ok(Ok(html)) => {
            let frame = format!(
                "<iframe class=\"report\" title=\"experiment report\" sandbox=\"\" srcdoc=\"{}\"></iframe>",
                esc(&html)
            );
            Page::html(200, page_with(&list, &form, &[], "", &file, &[], &frame))
        }
        Ok(Err(e)) => Page::html(
            400,
            page_with(&list, &form, &[], "", &file, &[format!("{path}: {e}")], ""),
        ),
        Err(payload) => Page::html(
            500,
            page_with(
                &list,
                &form,
                &[],
                "",
                &file,
                &[format!(
                    "the experiment panicked (a bug in dynsim): {}",
                    panic_text(payload.as_ref())
                )],
                "",
            ),
        ),
    }
}

// ---- HTML ----

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;background:#f4f5f7;color:#1d2330;font-size:14px}\
header{background:#1f2d3d;color:#fff;padding:14px 28px;display:flex;align-items:baseline;gap:14px}\
header h1{margin:0;font-size:22px;letter-spacing:.5px}header span{color:#b8c4d4}\
main{max-width:1240px;margin:0 auto;padding:18px 20px 40px}\
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:16px 20px;margin:0 0 16px;box-shadow:0 1px 2px rgba(0,0,0,.04)}\
.card h2{margin:0 0 10px;font-size:17px}\
.setup{display:grid;grid-template-columns:380px 1fr;gap:22px}\
label{font-weight:600;font-size:13px;color:#374151}\
select,input,textarea,button{font:inherit}\
select,input{padding:5px 7px;border:1px solid #c5cbd3;border-radius:5px;background:#fff}\
.quick{display:grid;grid-template-columns:1fr 1fr;gap:8px 12px;margin:12px 0}\
.quick label{display:flex;flex-direction:column;gap:3px}\
.quick small{font-weight:400;color:#6b7280}\
.quick input{width:100%}.quick input::placeholder{color:#a0a7b4;font-style:italic}\
.scen select{width:100%;margin-top:4px}\
.desc{color:#4b5563;font-size:13px;margin:8px 0 0;max-height:110px;overflow:auto}\
textarea{width:100%;height:330px;font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12.5px;border:1px solid #c5cbd3;border-radius:5px;padding:8px;margin-top:4px;resize:vertical}\
button{padding:7px 16px;border-radius:5px;border:1px solid #9aa4b2;background:#f7f8fa;cursor:pointer}\
button.primary{background:#2563eb;border-color:#1d4ed8;color:#fff;font-weight:600}\
.buttons{display:flex;gap:10px}\
.errors{background:#fdecec;border:1px solid #f5b5b5;color:#8a1c1c;border-radius:8px;padding:12px 18px;margin:0 0 16px}\
.errors h2{margin:0 0 6px;font-size:16px}.errors ul{margin:0;padding-left:20px}\
.errors li{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:13px;margin:3px 0;white-space:pre-wrap}\
.notice{background:#fff7e0;border:1px solid #f0d68a;border-radius:6px;padding:8px 12px;margin:8px 0}\
pre{background:#f7f8fa;border:1px solid #e5e7eb;border-radius:6px;padding:10px 12px;overflow:auto;font-size:12.5px;line-height:1.4}\
.badge{display:inline-block;padding:4px 12px;border-radius:14px;font-weight:700;margin-bottom:8px}\
.ok{background:#dcfce7;color:#166534}.bad{background:#fee2e2;color:#991b1b}\
.charts{display:grid;grid-template-columns:1fr 1fr;gap:12px}\
.charts svg{width:100%;height:auto;border:1px solid #eceef1;border-radius:6px}\
.seq{overflow:auto;border:1px solid #eceef1;border-radius:6px;background:#fff}\
.oppick{display:flex;gap:10px;align-items:center;margin-bottom:10px}\
.legend{color:#4b5563;font-size:12.5px;margin:8px 0}\
.legend b{display:inline-block;width:22px;height:3px;vertical-align:middle;margin:0 4px 0 10px}\
iframe.report{width:100%;height:900px;border:1px solid #dde1e7;border-radius:6px;background:#fff}\
.muted{color:#6b7280}\
";

fn message_page(title: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>dynsim: {t}</title><style>{STYLE}</style></head><body><header><h1>dynsim</h1><span>{t}</span></header><main><div class=\"errors\"><h2>{t}</h2><ul><li>{m}</li></ul></div><p><a href=\"/\">Back to the simulator</a></p></main></body></html>",
        t = esc(title),
        m = esc(text)
    )
}

fn page(list: &[String], form: &Form, errors: &[String], results: &str) -> String {
    page_with(list, form, errors, results, "", &[], "")
}

/// The whole page: the scenario form, its problems, the results, and the experiment form.
fn page_with(
    list: &[String],
    form: &Form,
    errors: &[String],
    results: &str,
    experiment: &str,
    experiment_errors: &[String],
    experiment_report: &str,
) -> String {
    let mut o = String::new();
    let parsed = scenario::parse("scenario", &form.toml).ok();
    let title = parsed
        .as_ref()
        .map_or_else(|| "dynsim".to_string(), |s| format!("dynsim: {}", s.name));
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&title)
    );
    o.push_str("<header><h1>dynsim</h1><span>a deterministic simulator of Amazon's Dynamo: set the cluster, network and faults, run, and follow one operation's messages</span></header><main>");
    o.push_str("<form id=\"run\" method=\"post\" action=\"/run\">");
    // Problems first, where the eye lands after a submit.
    if !errors.is_empty() {
        let _ = write!(
            o,
            "<div class=\"errors\" id=\"errors\"><h2>{} problem{} found{}</h2><ul>",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            if results.is_empty() {
                "; nothing was run"
            } else {
                ""
            }
        );
        for e in errors {
            let _ = write!(o, "<li>{}</li>", esc(e));
        }
        o.push_str("</ul></div>");
    }
    // The setup card: scenario and quick fields on the left, the TOML on the right.
    o.push_str("<section class=\"card setup\"><div>");
    o.push_str("<label class=\"scen\">Scenario<select name=\"scenario\" id=\"scenario\" onchange=\"location.href='/?scenario='+encodeURIComponent(this.value)\">");
    if list.is_empty() {
        o.push_str("<option value=\"\">(no bundled scenarios)</option>");
    }
    for s in list {
        let _ = write!(
            o,
            "<option value=\"{v}\"{sel}>{v}</option>",
            v = esc(s),
            sel = if *s == form.scenario { " selected" } else { "" }
        );
    }
    o.push_str("</select></label><noscript><button formaction=\"/\" formmethod=\"get\">Load</button></noscript>");
    if let Some(s) = &parsed {
        let desc = s
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !desc.is_empty() {
            let _ = write!(o, "<p class=\"desc\">{}</p>", esc(&desc));
        }
    }
    o.push_str("<div class=\"quick\">");
    let placeholders = parsed.as_ref().map(placeholders).unwrap_or_default();
    for (name, label, help) in QUICK {
        let value = form.quick.get(name).cloned().unwrap_or_default();
        let ph = placeholders.get(name).cloned().unwrap_or_default();
        let _ = write!(
            o,
            "<label>{label} <small>{help}</small><input name=\"{name}\" value=\"{}\" placeholder=\"{}\" inputmode=\"decimal\" autocomplete=\"off\"></label>",
            esc(&value),
            esc(&ph),
        );
    }
    o.push_str("</div><p class=\"muted\" style=\"margin:0 0 12px;font-size:12.5px\">Filled quick fields override the scenario text; the grey values are the scenario's own.</p>");
    o.push_str("<div class=\"buttons\"><button type=\"submit\" class=\"primary\">Run scenario</button><button type=\"submit\" formaction=\"/trace\" title=\"the full trace as text\">Trace (text)</button></div>");
    let _ = write!(
        o,
        "<input type=\"hidden\" name=\"op\" value=\"{}\" id=\"op_hidden\">",
        esc(&form.op)
    );
    o.push_str("</div><div><label for=\"toml\">Scenario TOML <span class=\"muted\" style=\"font-weight:400\">(editable; see scenarios/README.md)</span></label>");
    let _ = write!(
        o,
        "<textarea id=\"toml\" name=\"toml\" spellcheck=\"false\">\n{}</textarea></div></section>",
        esc(&form.toml)
    );
    o.push_str(results);
    o.push_str("</form>");
    // Experiments.
    let experiments = toml_list(EXPERIMENT_DIR);
    o.push_str("<section class=\"card\" id=\"experiments\"><h2>Experiments</h2>");
    if experiments.is_empty() {
        let _ = write!(
            o,
            "<p class=\"muted\">No experiment files: put them in {EXPERIMENT_DIR}/*.toml below the working directory (see <code>dynsim experiment --help</code>).</p>"
        );
    } else {
        o.push_str("<form method=\"get\" action=\"/experiment#experiments\" class=\"oppick\"><label>Experiment <select name=\"file\">");
        for e in &experiments {
            let _ = write!(
                o,
                "<option value=\"{v}\"{sel}>{v}</option>",
                v = esc(e),
                sel = if e == experiment { " selected" } else { "" }
            );
        }
        o.push_str("</select></label><button type=\"submit\" class=\"primary\">Run experiment</button><span class=\"muted\">runs every point and trial; this can take a while</span></form>");
    }
    if !experiment_errors.is_empty() {
        o.push_str("<div class=\"errors\"><ul>");
        for e in experiment_errors {
            let _ = write!(o, "<li>{}</li>", esc(e));
        }
        o.push_str("</ul></div>");
    }
    o.push_str(experiment_report);
    o.push_str("</section></main></body></html>");
    o
}

/// The scenario's own values, shown as the quick fields' placeholders.
fn placeholders(s: &Scenario) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    m.insert("seed", s.seed.to_string());
    m.insert("nodes", s.cluster.nodes.to_string());
    m.insert("n", s.cluster.n.to_string());
    m.insert("r", s.cluster.r.to_string());
    m.insert("w", s.cluster.w.to_string());
    let ms = |us: f64| format!("{}", us / 1_000.0);
    match &s.net.latency {
        Latency::Constant { us } => {
            m.insert("lat_min", ms(*us));
            m.insert("lat_max", ms(*us));
        }
        Latency::Uniform { min_us, max_us } => {
            m.insert("lat_min", ms(*min_us));
            m.insert("lat_max", ms(*max_us));
        }
        other => {
            m.insert("lat_min", other.to_string());
        }
    }
    m.insert("loss", s.net.loss.to_string());
    m
}

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

/// The results: summary, the chosen op's sequence chart, and latency charts.
fn results_html(report: &Report, p: &Prepared, op: &str) -> String {
    let mut o = String::new();
    let ok = report.as_expected();
    let _ = write!(
        o,
        "<section class=\"card\" id=\"summary\"><h2>Summary: {} (seed {})</h2><div class=\"badge {}\">{}</div><pre>{}</pre><p class=\"muted\">Reproduce on the command line: <code>dynsim run {} --seed {}</code> (with the same scenario text).</p></section>",
        esc(&p.scenario.name),
        p.seed,
        if ok { "ok" } else { "bad" },
        if ok { "as expected" } else { "NOT as expected" },
        esc(&crate::report::summary::render(report)),
        esc(&p.file),
        p.seed
    );
    o.push_str(&sequence_section(report, op));
    o.push_str("<section class=\"card\" id=\"latency\"><h2>Latency</h2>");
    o.push_str(&latency_charts(report.cluster.history()));
    o.push_str("</section>");
    o
}

/// A chart with its titles and lines, everything else by default.
fn chart(title: &str, x_label: &str, y_label: &str, series: Vec<Series>) -> Chart {
    Chart {
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        series,
        ..Chart::default()
    }
}

fn latency_charts(history: &[OpRecord]) -> String {
    let mut hist = Vec::new();
    let mut cdf = Vec::new();
    let mut over_time = Vec::new();
    let (mut total, mut top, mut widest, mut last_start) = (0usize, 0.0f64, 0.0f64, 0.0f64);
    for kind in [OpKind::Get, OpKind::Put] {
        let values: Vec<f64> = history
            .iter()
            .filter(|o| o.kind == kind && o.outcome.is_ok())
            .filter_map(OpRecord::latency)
            .map(SimDuration::as_ms_f64)
            .collect();
        if values.is_empty() {
            continue;
        }
        total += values.len();
        widest = values.iter().copied().fold(widest, f64::max);
        let timeline: Vec<(f64, f64)> = history
            .iter()
            .filter(|o| o.kind == kind && o.outcome.is_ok())
            .filter_map(|o| Some((o.start?.as_us() as f64 / 1_000.0, o.latency()?.as_ms_f64())))
            .collect();
        last_start = timeline.iter().map(|p| p.0).fold(last_start, f64::max);
        over_time.push(Series::new(kind.name(), timeline));
        let name = format!("{} ({})", kind.name(), values.len());
        let points = svg::histogram_points(&values, values.len().clamp(1, 30));
        top = points.iter().map(|p| p.1).fold(top, f64::max);
        hist.push(Series::new(name.clone(), points));
        cdf.push(Series::new(name, svg::cdf_points(&values)));
    }
    if hist.is_empty() {
        return "<p class=\"muted\">No successful operations, so there is no latency to plot.</p>"
            .to_string();
    }
    // Few samples draw as markers too, so a single op still shows; the x
    // axis starts at 0 and leaves room after the slowest op.
    let markers = total < 60;
    let x_range = Some((0.0, (widest * 1.08).max(1.0)));
    let h = svg::line_chart(&Chart {
        y_range: Some((0.0, (top * 1.15).max(1.0))),
        x_range,
        markers,
        ..chart(
            "Latency histogram (successful ops)",
            "latency (ms), issue to reply at the client",
            "operations",
            hist,
        )
    });
    let c = svg::line_chart(&Chart {
        y_range: Some((0.0, 1.05)),
        x_range,
        markers,
        ..chart(
            "Latency CDF (successful ops)",
            "latency (ms)",
            "fraction of operations",
            cdf,
        )
    });
    // Up to RAW_POINTS ops each show as a point; more are averaged per time bin.
    let raw = total <= RAW_POINTS;
    let (title, y_label) = if raw {
        ("Latency over the run (successful ops)", "latency (ms)")
    } else {
        (
            "Mean latency over the run (60 time bins)",
            "mean latency (ms)",
        )
    };
    if !raw {
        let span = last_start.max(1.0);
        for s in &mut over_time {
            let mut bins = vec![(0.0f64, 0usize); TIME_BINS];
            for &(t, l) in &s.points {
                let i = ((t / span * TIME_BINS as f64) as usize).min(TIME_BINS - 1);
                bins[i].0 += l;
                bins[i].1 += 1;
            }
            s.points = bins
                .iter()
                .enumerate()
                .filter(|(_, b)| b.1 > 0)
                .map(|(i, b)| ((i as f64 + 0.5) * span / TIME_BINS as f64, b.0 / b.1 as f64))
                .collect();
        }
    }
    let slowest = over_time
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let t = svg::line_chart(&Chart {
        x_range: Some((0.0, (last_start * 1.05).max(1.0))),
        y_range: Some((0.0, (slowest * 1.1).max(1.0))),
        markers: raw,
        ..chart(
            title,
            "issue time (ms of simulated time)",
            y_label,
            over_time,
        )
    });
    format!(
        "<div class=\"charts\">{h}{c}{t}<div class=\"muted\" style=\"padding:16px\"><p>Latency is measured at the client, from issue to reply, in simulated milliseconds; only successful operations are plotted (failed and timed-out ones are counted in the summary).</p><p>The histogram uses up to 30 equal bins per kind; the CDF gives the fraction of operations at or below each latency; the last chart shows latency against issue time (each op, or the mean per time bin when there are many), so slow periods (a crash, a partition, a timeout and fallback) stand out.</p></div></div>"
    )
}

fn sequence_section(report: &Report, op: &str) -> String {
    let history = report.cluster.history();
    let records = &report.cluster.sim.core.trace.records;
    let mut o = String::from("<section class=\"card\" id=\"sequence\">");
    let capped = records.len() > TRACE_CAP;
    let horizon = if capped {
        records[TRACE_CAP - 1].time
    } else {
        SimTime::MAX
    };
    let choices: Vec<&OpRecord> = history
        .iter()
        .filter(|o| o.start.unwrap_or(o.planned) <= horizon)
        .collect();
    if choices.is_empty() {
        o.push_str("<h2>Message sequence</h2><p class=\"muted\">This run has no client operations to chart.</p></section>");
        return o;
    }
    let wanted = if op.is_empty() {
        Some((choices[0].kind, choices[0].id))
    } else {
        parse_op(op)
    };
    let found =
        wanted.and_then(|(k, id)| choices.iter().find(|o| o.kind == k && o.id == id).copied());
    let chosen = found.unwrap_or(choices[0]);
    let label = format!("{}#{}", chosen.kind.name(), chosen.id);
    let _ = write!(o, "<h2>Message sequence of {}</h2>", esc(&label));
    // A stale choice (kept from another run) is not an input error: say so and show the first op.
    if !op.is_empty() && found.is_none() {
        let within = if capped {
            format!(" within the first {TRACE_CAP} trace records")
        } else {
            String::new()
        };
        let _ = write!(
            o,
            "<p class=\"notice\" id=\"op-missing\">Operation {} is not among this run's operations{within}; showing {} instead.</p>",
            esc(op),
            esc(&label)
        );
    }
    o.push_str("<div class=\"oppick\"><label for=\"op\">Operation</label><select id=\"op\" name=\"op\" onchange=\"document.getElementById('op_hidden').disabled=true;this.form.submit()\">");
    for c in choices.iter().take(MAX_OP_CHOICES) {
        let name = format!("{}#{}", c.kind.name(), c.id);
        let _ = write!(
            o,
            "<option value=\"{}\"{}>{}</option>",
            esc(&name),
            if name == label { " selected" } else { "" },
            esc(&describe_op(c))
        );
    }
    if !choices
        .iter()
        .take(MAX_OP_CHOICES)
        .any(|c| std::ptr::eq(*c, chosen))
    {
        let _ = write!(
            o,
            "<option value=\"{l}\" selected>{}</option>",
            esc(&describe_op(chosen)),
            l = esc(&label)
        );
    }
    o.push_str("</select><button type=\"submit\" onclick=\"document.getElementById('op_hidden').disabled=true\">Show</button>");
    if choices.len() > MAX_OP_CHOICES {
        let _ = write!(
            o,
            "<span class=\"muted\">the list shows the first {MAX_OP_CHOICES} of {} ops</span>",
            choices.len()
        );
    }
    o.push_str("</div>");
    if capped {
        let _ = write!(
            o,
            "<p class=\"notice\">This run recorded {} trace records; the sequence chart is limited to the first {TRACE_CAP} (up to {horizon}), so only operations issued by then are listed. The summary and plots cover the whole run.</p>",
            records.len()
        );
    }
    let window = &records[..records.len().min(TRACE_CAP)];
    let seq = collect_sequence(window, chosen, report.cluster.now());
    o.push_str(&seq_svg(&seq, &label));
    o.push_str("<div class=\"legend\">Time runs down; one row per event, the left column gives its simulated time.<b style=\"background:#374151\"></b>client request / reply<b style=\"background:#64748b\"></b>Forward<b style=\"background:#2563eb\"></b>Replicate / Read<b style=\"background:#16a34a\"></b>ack / reply<b style=\"background:#d97706\"></b>hinted (to a fallback) / repair<b style=\"background:#dc2626\"></b>dropped (&#10005;)</div>");
    if seq.omitted > 0 {
        let _ = write!(
            o,
            "<p class=\"notice\">{} more message(s) of this operation are not drawn (the chart shows the first {MAX_ARROWS}); the trace lines below list everything.</p>",
            seq.omitted
        );
    }
    let _ = write!(
        o,
        "<details><summary>The {} trace lines of {}</summary><pre>{}</pre></details></section>",
        seq.lines.len(),
        esc(&label),
        esc(&seq.lines.join("\n"))
    );
    o
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
struct Seq {
    actors: Vec<Actor>,
    roles: BTreeMap<Actor, Vec<String>>,
    /// The time of each row.
    rows: Vec<SimTime>,
    items: Vec<Item>,
    /// The op's trace lines, as `dynsim run --trace` prints them.
    lines: Vec<String>,
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
fn collect_sequence(records: &[Record], op: &OpRecord, run_end: SimTime) -> Seq {
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
                if forward || tagged || repair {
                    include = true;
                    let row = rows.place(rec.time, RowKind::Send(*from), *from);
                    last_row_at.insert(*from, row);
                    let hinted = detail.contains(" hint=");
                    let style = if forward {
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
const SEQ_RIGHT: f64 = 290.0;

/// Renders the chart as SVG: lifelines, one row per event, arrows and notes.
fn seq_svg(seq: &Seq, label: &str) -> String {
    let col: BTreeMap<Actor, usize> = seq
        .actors
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, i))
        .collect();
    let x = |a: &Actor| SEQ_LEFT + SEQ_COL * (*col.get(a).unwrap_or(&0) as f64) + SEQ_COL / 2.0;
    let y = |row: usize| SEQ_TOP + SEQ_ROW * (row as f64 + 0.5);
    let width = SEQ_LEFT + SEQ_COL * seq.actors.len() as f64 + SEQ_RIGHT;
    let height = SEQ_TOP + SEQ_ROW * seq.rows.len() as f64 + 24.0;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<div class="seq"><svg xmlns="http://www.w3.org/2000/svg" id="seqchart" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="12"><title>message sequence of {}</title>"#,
        esc(label)
    );
    let _ = write!(
        o,
        r##"<rect width="{width:.0}" height="{height:.0}" fill="#fff"/>"##
    );
    // Time labels and faint lines where simulated time moves on.
    let mut prev: Option<SimTime> = None;
    for (i, t) in seq.rows.iter().enumerate() {
        if prev != Some(*t) {
            let yy = y(i) - SEQ_ROW / 2.0;
            if prev.is_some() {
                let _ = write!(
                    o,
                    r##"<line x1="4" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#eef0f3"/>"##,
                    width - 4.0
                );
            }
            let _ = write!(
                o,
                r##"<text x="8" y="{:.1}" fill="#6b7280" font-size="11" font-family="monospace">{}</text>"##,
                y(i) + 4.0,
                esc(&t.to_string())
            );
            prev = Some(*t);
        }
    }
    // Lifelines with a header box per actor.
    for a in &seq.actors {
        let cx = x(a);
        let name = a.to_string().trim().to_string();
        let is_client = matches!(a, Actor::Client(_));
        let roles = seq.roles.get(a).map(|r| r.join(", ")).unwrap_or_default();
        let down = roles.contains("down");
        let (fill, stroke) = if is_client {
            ("#eef2ff", "#6366f1")
        } else if down {
            ("#fef2f2", "#ef4444")
        } else {
            ("#f1f5f9", "#64748b")
        };
        let _ = write!(
            o,
            r##"<line x1="{cx:.1}" y1="52" x2="{cx:.1}" y2="{:.1}" stroke="#cbd5e1" stroke-dasharray="4 4"/>"##,
            height - 8.0
        );
        let _ = write!(
            o,
            r##"<rect x="{:.1}" y="10" width="{:.1}" height="42" rx="6" fill="{fill}" stroke="{stroke}"/>"##,
            cx - SEQ_COL / 2.0 + 10.0,
            SEQ_COL - 20.0
        );
        let _ = write!(
            o,
            r##"<text x="{cx:.1}" y="28" text-anchor="middle" font-weight="bold" font-size="13">{}</text>"##,
            esc(&name)
        );
        let _ = write!(
            o,
            r##"<text x="{cx:.1}" y="44" text-anchor="middle" font-size="10.5" fill="#475569">{}</text>"##,
            esc(&short(&roles, 24))
        );
    }
    let halo = r##"paint-order="stroke" stroke="#fff" stroke-width="4" stroke-linejoin="round""##;
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
                let dash = if dropped || *copy || *end == End::Open {
                    r#" stroke-dasharray="5 3""#
                } else {
                    ""
                };
                let _ = write!(o, "<g><title>{}</title>", esc(title));
                let _ = write!(
                    o,
                    r#"<line x1="{x0:.1}" y1="{y0:.1}" x2="{x1:.1}" y2="{y1:.1}" stroke="{color}" stroke-width="1.8"{dash}/>"#
                );
                if dropped {
                    let s = 5.0;
                    let _ = write!(
                        o,
                        r#"<path d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}" stroke="{color}" stroke-width="2.2"/>"#,
                        x1 - s,
                        y1 - s,
                        x1 + s,
                        y1 + s,
                        x1 - s,
                        y1 + s,
                        x1 + s,
                        y1 - s
                    );
                } else if *end != End::Open {
                    let (dx, dy) = (x1 - x0, y1 - y0);
                    let len = (dx * dx + dy * dy).sqrt().max(1.0);
                    let (ux, uy) = (dx / len, dy / len);
                    let (bx, by) = (x1 - 9.0 * ux, y1 - 9.0 * uy);
                    let _ = write!(
                        o,
                        r#"<polygon points="{x1:.1},{y1:.1} {:.1},{:.1} {:.1},{:.1}" fill="{color}"/>"#,
                        bx - 4.0 * uy,
                        by + 4.0 * ux,
                        bx + 4.0 * uy,
                        by - 4.0 * ux
                    );
                }
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
                let _ = write!(
                    o,
                    r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="{anchor}" fill="{color}" font-size="11" {halo}>{}</text></g>"#,
                    esc(&text)
                );
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
                let _ = write!(
                    o,
                    r##"<g><title>{}: {}</title><rect x="{:.1}" y="{:.1}" width="8" height="8" fill="{color}" transform="rotate(45 {cx:.1} {cy:.1})"/>"##,
                    esc(label),
                    esc(text),
                    cx - 4.0,
                    cy - 4.0
                );
                let _ = write!(
                    o,
                    r#"<text x="{:.1}" y="{:.1}" fill="{color}" font-size="11.5" {halo}><tspan font-weight="bold">{}</tspan> {}</text></g>"#,
                    cx + 10.0,
                    cy + 4.0,
                    esc(label),
                    esc(&short(text, 90))
                );
            }
        }
    }
    o.push_str("</svg></div>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure_toml() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/failure.toml");
        std::fs::read_to_string(path).expect("scenarios/failure.toml")
    }

    fn form_body(pairs: &[(&str, &str)]) -> String {
        pairs
            .iter()
            .map(|(k, v)| {
                let enc: String = v
                    .bytes()
                    .map(|b| match b {
                        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                            (b as char).to_string()
                        }
                        b' ' => "+".to_string(),
                        _ => format!("%{b:02X}"),
                    })
                    .collect();
                format!("{k}={enc}")
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    // Form decoding handles '+', percent escapes, bad escapes and repeated names.
    #[test]
    fn decodes_forms() {
        assert_eq!(percent_decode("a+b%20c%3D%26"), "a b c=&");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "\u{e9}");
        let p = parse_params("x=1&y=&x=2&flag");
        assert_eq!(p.get("x").map(String::as_str), Some("2"));
        assert_eq!(p.get("y").map(String::as_str), Some(""));
        assert_eq!(p.get("flag").map(String::as_str), Some(""));
    }

    // Quick fields that are not numbers, or out of range, are each reported.
    #[test]
    fn quick_fields_are_checked() {
        let q: BTreeMap<&'static str, String> = [
            ("seed", "x".to_string()),
            ("nodes", "0".to_string()),
            ("lat_min", "5".to_string()),
            ("lat_max", "1".to_string()),
            ("loss", "2".to_string()),
        ]
        .into_iter()
        .collect();
        let (valid, errs) = parse_quick(&q);
        assert_eq!(valid, Quick::default(), "no field was valid");
        let all = errs.join("\n");
        assert!(all.contains("Seed: \"x\" is not a whole number"), "{all}");
        assert!(all.contains("Nodes: 0 is out of range"), "{all}");
        assert!(all.contains("min 5 ms exceeds max 1 ms"), "{all}");
        assert!(all.contains("Loss: \"2\" is not a probability"), "{all}");
    }

    // Quick fields override the text, and a quorum larger than N is reported by field.
    #[test]
    fn quick_fields_override_and_validate() {
        let text = failure_toml();
        let more = Quick {
            nodes: Some(5),
            ..Quick::default()
        };
        let errs = build_scenario("failure.toml", &text, &more).expect_err("n4 has no token");
        assert!(
            errs.iter()
                .any(|e| e.contains("explicit_tokens: node n4 has no tokens")),
            "{errs:?}"
        );
        let q = Quick {
            r: Some(2),
            latency: Some((1.0, 2.5)),
            loss: Some(0.1),
            ..Quick::default()
        };
        let s = build_scenario("failure.toml", &text, &q).expect("valid");
        assert_eq!((s.cluster.nodes, s.cluster.r), (4, 2));
        assert_eq!(
            s.net.latency,
            Latency::Uniform {
                min_us: 1_000.0,
                max_us: 2_500.0
            }
        );
        assert!((s.net.loss - 0.1).abs() < 1e-12);
        let bad = Quick {
            w: Some(9),
            ..Quick::default()
        };
        let errs = build_scenario("failure.toml", &text, &bad).expect_err("w > n");
        assert!(
            errs.iter().any(|e| e.contains("w = 9 exceeds n = 3")),
            "{errs:?}"
        );
        // A problem of the text itself keeps its line number.
        let broken = text.replace("r = 3", "r = \"three\"");
        let errs = build_scenario("failure.toml", &broken, &bad).expect_err("bad r");
        assert!(
            errs.iter()
                .any(|e| e.starts_with("failure.toml:19:5: cluster.r:")),
            "{errs:?}"
        );
    }

    // The chart of put#1 in failure.toml holds its own messages and notes, and no get's.
    #[test]
    fn sequence_follows_one_op() {
        let s = scenario::parse("failure.toml", &failure_toml()).expect("valid");
        let report = runner::run(&s, s.seed, true);
        let op = &report.cluster.history()[0];
        let seq = collect_sequence(
            &report.cluster.sim.core.trace.records,
            op,
            report.cluster.now(),
        );
        let text = seq.lines.join("\n");
        for want in [
            "request       put#1",
            "forward       put#1",
            "m1 Forward",
            "coordinate    op1 for put#1",
            "drop          m3 Replicate",
            "m6 Replicate op1 key 2 \"apple\"[n0:1] hint=n1",
            "timeout       op1: n1 did not answer; fallback n3",
            "hint          holding key 2",
            "deliver       m7 ReplicateAck",
            "reply         put#1",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(!text.contains("get#2") && !text.contains("m8 "), "{text}");
        assert_eq!(seq.actors.len(), 5, "c0 and n0..n3");
        let svg = seq_svg(&seq, "put#1");
        assert!(
            svg.contains("fallback for n1") && svg.contains("coordinator"),
            "{svg}"
        );
        assert_eq!(svg, seq_svg(&seq, "put#1"));
    }

    // A get's chart includes the read repair its coordinator sends after the quorum answered.
    #[test]
    fn sequence_includes_read_repair() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/repair/read_repair.toml");
        let text = std::fs::read_to_string(path).expect("scenarios/repair/read_repair.toml");
        let s = scenario::parse("read_repair.toml", &text).expect("valid");
        let report = runner::run(&s, s.seed, true);
        let op = report
            .cluster
            .history()
            .iter()
            .find(|o| o.kind == OpKind::Get)
            .expect("a get");
        let seq = collect_sequence(
            &report.cluster.sim.core.trace.records,
            op,
            report.cluster.now(),
        );
        let text = seq.lines.join("\n");
        for want in [
            "read-repair   n2 is stale for key 2",
            "send          m8 Repair key 2",
            "deliver       m8 Repair",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
    }

    // A bad quick field answers 400 with the message and the form kept, escaped.
    #[test]
    fn bad_input_is_400_with_the_form() {
        let body = form_body(&[
            ("toml", &failure_toml()),
            ("w", "9"),
            ("scenario", "failure.toml"),
        ]);
        let page = handle("POST", "/run", &body);
        assert_eq!(page.status, 400);
        assert!(page.body.contains("exceeds n = 3"), "{}", page.body);
        assert!(page.body.contains("name=\"w\" value=\"9\""));
        assert!(
            page.body.contains("&quot;apple&quot;"),
            "the TOML is kept, escaped"
        );
        let page = handle("POST", "/run", &form_body(&[("toml", "<b>not toml")]));
        assert_eq!(page.status, 400);
        assert!(page.body.contains("TOML syntax") && page.body.contains("&lt;b&gt;not toml"));
        assert!(!page.body.contains("<b>not toml"));
    }

    // A good run shows the summary, both charts and the sequence chart, and links nothing external.
    #[test]
    fn good_run_renders_everything() {
        let body = form_body(&[("toml", &failure_toml()), ("op", "put#1")]);
        let page = handle("POST", "/run", &body);
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("result: as expected"));
        assert!(page.body.matches("<svg").count() >= 3);
        assert!(page.body.contains("id=\"seqchart\""));
        for bad in ["src=\"http", "href=\"http", "@import", "url(http"] {
            assert!(!page.body.contains(bad), "external reference {bad}");
        }
        let page = handle(
            "POST",
            "/run",
            &form_body(&[("toml", &failure_toml()), ("op", "put#99")]),
        );
        assert_eq!(page.status, 200, "a stale op choice is not an input error");
        assert!(
            page.body
                .contains("Operation put#99 is not among this run's operations")
        );
        assert!(page.body.contains("Message sequence of put#1"));
        let page = handle("GET", "/run?op=put1", "");
        assert_eq!(page.status, 400);
        assert!(page.body.contains("is not an op name like put#1"));
    }

    // Unknown paths, methods and scenario names are refused without touching other files.
    #[test]
    fn refuses_unknown_things() {
        assert_eq!(handle("GET", "/nope", "").status, 404);
        assert_eq!(handle("DELETE", "/", "").status, 405);
        let p = handle("GET", "/run?scenario=..%2F..%2Fetc%2Fpasswd", "");
        assert_eq!(p.status, 400);
        assert!(p.body.contains("unknown scenario"));
        let p = handle("GET", "/experiment?file=..%2Fx.toml", "");
        assert_eq!(p.status, 400);
    }
}
