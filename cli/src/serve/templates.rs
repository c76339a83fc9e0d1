//! The pages, as maud templates: every value is escaped unless it is wrapped
//! in `PreEscaped`, which only the charts' SVG (built by `report::svg` and
//! `sequence`, from escaped parts) and the experiment report are.

use super::ctx::Ctx;
use super::form::{Form, Prepared, QUICK};
use super::listing::EXPERIMENT_DIR;
use super::listing::toml_list;
use crate::runner::Report;
use crate::scenario::{self, Scenario};
use maud::{DOCTYPE, Markup, html};
use sim_core::Latency;
use std::collections::BTreeMap;

/// The page's stylesheet, served as `/style.css`.
pub(super) const STYLE: &str = include_str!("style.css");
/// The page's one script (reload a scenario, pick an op), served as `/page.js`.
pub(super) const SCRIPT: &str = include_str!("page.js");

const TAGLINE: &str = "a deterministic simulator of Amazon's Dynamo: set the cluster, network and faults, run, and follow one operation's messages";

fn layout(title: &str, tagline: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width";
                title { (title) }
                link rel="stylesheet" href="/style.css";
                script src="/page.js" defer {}
            }
            body {
                header { h1 { "dynsim" } span { (tagline) } }
                main { (content) }
            }
        }
    }
}

/// A page with one message: a refusal or an error.
pub(super) fn message_page(title: &str, text: &str) -> String {
    layout(
        &format!("dynsim: {title}"),
        title,
        html! {
            div.errors {
                h2 { (title) }
                ul { li { (text) } }
            }
            p { a href="/" { "Back to the simulator" } }
        },
    )
    .into_string()
}

/// What the main page shows below the form.
#[derive(Default)]
pub(super) struct Shown<'a> {
    /// Problems with the scenario form.
    pub errors: &'a [String],
    /// The run's results.
    pub results: Option<Markup>,
    /// The experiment chosen.
    pub experiment: &'a str,
    /// Problems with the experiment.
    pub experiment_errors: &'a [String],
}

/// The whole page: the scenario form, its problems, the results, and the experiment form.
pub(super) fn main_page(ctx: &Ctx, list: &[String], form: &Form, shown: &Shown) -> String {
    let parsed = scenario::parse("scenario", &form.toml).ok();
    let title = parsed
        .as_ref()
        .map_or_else(|| "dynsim".to_string(), |s| format!("dynsim: {}", s.name));
    let placeholders = parsed.as_ref().map(placeholders).unwrap_or_default();
    let desc = parsed
        .as_ref()
        .map(|s| {
            s.description
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let errors = shown.errors;
    let experiments = toml_list(ctx.experiments);
    layout(
        &title,
        TAGLINE,
        html! {
            form #run method="post" action="/run" {
                // Problems first, where the eye lands after a submit.
                @if !errors.is_empty() {
                    div.errors #errors {
                        h2 {
                            (errors.len()) " problem" @if errors.len() != 1 { "s" } " found"
                            @if shown.results.is_none() { "; nothing was run" }
                        }
                        ul { @for e in errors { li { (e) } } }
                    }
                }
                section.card.setup {
                    div {
                        label.scen {
                            "Scenario"
                            select #scenario name="scenario" {
                                @if list.is_empty() { option value="" { "(no bundled scenarios)" } }
                                @for s in list {
                                    option value=(s) selected[*s == form.scenario] { (s) }
                                }
                            }
                        }
                        noscript { p.muted { "Without JavaScript, open /?scenario=NAME to load another scenario." } }
                        @if !desc.is_empty() { p.desc { (desc) } }
                        div.quick {
                            @for (name, label, help) in QUICK {
                                label {
                                    (label) " " small { (help) }
                                    input name=(name)
                                        value=(form.quick.get(name).map_or("", String::as_str))
                                        placeholder=(placeholders.get(name).map_or("", String::as_str))
                                        inputmode="decimal" autocomplete="off";
                                }
                            }
                        }
                        p.muted.hint { "Filled quick fields override the scenario text; the grey values are the scenario's own." }
                        div.buttons {
                            button.primary type="submit" { "Run scenario" }
                            button type="submit" formaction="/trace" title="the full trace as text" { "Trace (text)" }
                            button type="submit" formaction="/trace" name="format" value="jsonl" title="the trace as JSON Lines, to download" { "Trace (JSON Lines)" }
                            button type="submit" formaction="/trace" name="format" value="chrome" title="the trace as Chrome trace-event JSON, to download and open in Perfetto or chrome://tracing" { "Chrome trace" }
                        }
                        p.muted.hint {
                            "A Chrome trace opens in Perfetto (ui.perfetto.dev, \u{201c}Open trace file\u{201d}) or in chrome://tracing. "
                            "The page links to no other site, so nothing leaves this machine unless you take it there."
                        }
                        input #op_hidden type="hidden" name="op" value=(form.op);
                    }
                    div {
                        label for="toml" {
                            "Scenario TOML "
                            span.muted.plain { "(editable; see scenarios/README.md)" }
                        }
                        textarea #toml name="toml" spellcheck="false" { "\n" (form.toml) }
                        p.muted.links {
                            a #permalink href=(format!("/?text={}", url_encode(&form.toml))) title="a link that opens this page with the scenario text as it stands" { "Permalink" }
                            " \u{b7} "
                            a #download href=(format!("/download?text={}", url_encode(&form.toml))) download="scenario.toml" { "Download scenario.toml" }
                        }
                    }
                }
                @if let Some(r) = &shown.results { (r) }
            }
            section.card #experiments {
                h2 { "Experiments" }
                @if experiments.is_empty() {
                    p.muted {
                        "No experiment files: put them in " (EXPERIMENT_DIR) "/*.toml below the working directory (see "
                        code { "dynsim experiment --help" } ")."
                    }
                } @else {
                    form.oppick method="post" action="/experiment" {
                        label {
                            "Experiment "
                            select name="file" {
                                @for e in &experiments {
                                    option value=(e) selected[e == shown.experiment] { (e) }
                                }
                            }
                        }
                        button.primary type="submit" { "Run experiment" }
                        button type="submit" name="format" value="csv" title="run it and download its table as CSV" { "Table (CSV)" }
                        button type="submit" name="format" value="json" title="run it and download its table as JSON" { "Table (JSON)" }
                        span.muted { "runs every point (at most " (super::budget::PAGE_TRIALS) " trials a point here); the report opens as its own page" }
                    }
                }
                @if !shown.experiment_errors.is_empty() {
                    div.errors { ul { @for e in shown.experiment_errors { li { (e) } } } }
                }
            }
        },
    )
    .into_string()
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

/// The results: summary, the chosen op's sequence chart, and latency charts.
pub(super) fn results(report: &Report, p: &Prepared, op: &str) -> Markup {
    let ok = report.as_expected();
    html! {
        section.card #summary {
            h2 { "Summary: " (p.scenario.name) " (seed " (p.seed) ")" }
            div.badge.ok[ok].bad[!ok] { @if ok { "as expected" } @else { "NOT as expected" } }
            pre { (crate::report::summary::render(report)) }
            p.muted {
                "Reproduce on the command line: "
                code { "dynsim run " (p.file) " --seed " (p.seed) }
                @if p.file == super::form::PASTED {
                    ", after saving the scenario text as " code { (p.file) } " (the text differs from every listed file)."
                } @else {
                    " (with the same scenario text)."
                }
            }
        }
        (super::sequence::section(report, op))
        section.card #latency {
            h2 { "Latency" }
            (super::charts::latency_charts(report.cluster.history()))
        }
    }
}

/// What a budget cut, for the page.
pub(super) struct CutNotice<'a> {
    /// What was cut, as a sentence.
    pub what: String,
    /// The command that runs the same thing with no limits.
    pub command: &'a str,
    /// A note on the command (the scenario text to save, the quick fields).
    pub note: &'a str,
}

/// The section that says a run was cut by the page's budget.
pub(super) fn cut_section(c: &CutNotice) -> Markup {
    html! {
        section.card.cut #cut {
            h2 { "Run stopped: over this page's budget" }
            p { (c.what) }
            p {
                "The page limits every run so that one request cannot hold the server. "
                "The command line has no such limits: "
                code { (c.command) }
                @if !c.note.is_empty() { " " (c.note) }
            }
        }
    }
}

/// `s` percent-encoded for a query value: everything but unreserved
/// characters (RFC 3986), so the page's script and the server agree.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The experiment report as its own page, with a way back; `cut` is
/// (the file's trials, the page's) when the page ran fewer than the file asks.
pub(super) fn experiment_report(file: &str, report_html: &str, cut: Option<(u64, u64)>) -> String {
    let bar = html! {
        nav style="font:14px sans-serif;padding:8px 12px;background:#1f2d3d;color:#fff" {
            a style="color:#fff" href="/#experiments" { "\u{2190} dynsim" }
            " experiment " (file)
        }
        @if let Some((asked, ran)) = cut {
            p style="font:14px sans-serif;margin:0;padding:8px 12px;background:#fff4d6;border-bottom:1px solid #e0b84a" {
                "This page ran " (ran) " trials a point; the file asks for " (asked)
                ", which the page's time limit does not allow. Estimates that rest on too few events are listed under Uncertainty. "
                "The full run: " code { "dynsim experiment experiments/" (file) }
            }
        }
    }
    .into_string();
    // The report is one HTML document of our own making; the bar goes
    // first in its body.
    match report_html.find("<body>") {
        Some(i) => {
            let at = i + "<body>".len();
            format!("{}{bar}{}", &report_html[..at], &report_html[at..])
        }
        None => format!("{bar}{report_html}"),
    }
}
