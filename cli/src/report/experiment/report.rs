//! The experiment's self-contained HTML report.

use super::common::Outcome2;
use super::spec::Experiment;
use super::table::{MIN_EVENTS, Table, compare_reference};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sim_core::NetConfig;
use std::fmt::Write as _;

pub(super) fn describe_net(net: &NetConfig, datacenters: &[String]) -> String {
    let mut s = format!("latency {}", net.latency);
    for (k, l) in &net.per_kind {
        let _ = write!(s, "; {k} {l}");
    }
    let dc = |z: u32| datacenters.get(z as usize).map_or("?", String::as_str);
    for z in &net.zone_links {
        let _ = write!(s, "; from {} to {}:", dc(z.from), dc(z.to));
        if let Some(l) = &z.latency {
            let _ = write!(s, " latency {l}");
        }
        for (k, l) in &z.per_kind {
            let _ = write!(s, " {k} {l}");
        }
    }
    let _ = write!(s, "; loss {}, duplicate {}, ", net.loss, net.duplicate);
    if net.client_request == net.client_reply {
        let _ = write!(s, "client latency {}", net.client_request);
    } else {
        let _ = write!(
            s,
            "client request latency {}, client reply latency {}",
            net.client_request, net.client_reply
        );
    }
    s
}

/// The report's style sheet, inline so the file needs nothing else.
const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
     table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
     th{background:#f3f3f3}code,pre{background:#f6f6f6;padding:2px 4px}figure{margin:1em 0}figure svg{width:100%;height:auto}";

/// The setup table's rows: what the experiment ran.
fn setup(e: &Experiment) -> Vec<(String, String)> {
    let joined = |v: Vec<String>| v.join(" ");
    let mut params: Vec<(String, String)> = vec![
        ("file".into(), e.path.clone()),
        ("kind".into(), e.kind.clone()),
        ("seed".into(), e.seed.to_string()),
        ("trials per point".into(), e.trials.to_string()),
        ("keys".into(), e.keys.to_string()),
    ];
    for (i, line) in e.cluster.describe().into_iter().enumerate() {
        params.push((format!("cluster ({})", i + 1), line));
    }
    for (name, net) in &e.networks {
        params.push((
            format!("network {name}"),
            describe_net(net, &e.cluster.datacenters),
        ));
    }
    if !e.quorums.is_empty() {
        let qs = e
            .quorums
            .iter()
            .map(|q| format!("({}, {}, {})", q.0, q.1, q.2));
        params.push(("quorums (N, R, W)".into(), joined(qs.collect())));
    }
    if !e.delays.is_empty() {
        let ds = e.delays.iter().map(ToString::to_string);
        params.push(("delays".into(), joined(ds.collect())));
    }
    if e.losses.len() > 1 {
        let ls = e.losses.iter().map(ToString::to_string);
        params.push(("loss rates".into(), joined(ls.collect())));
    }
    if !e.tokens_per_node.is_empty() {
        let ts = e.tokens_per_node.iter().map(ToString::to_string);
        params.push(("tokens per node".into(), joined(ts.collect())));
    }
    if !e.clients.is_empty() {
        let cs = e.clients.iter().map(ToString::to_string);
        params.push(("clients".into(), joined(cs.collect())));
        params.push(("adds per client".into(), e.adds_per_client.to_string()));
    }
    params
}

/// A result table as HTML.
fn table_html(t: &Table) -> Markup {
    html! {
        table {
            thead { tr { @for c in &t.columns { th { (c) } } } }
            tbody {
                @for r in &t.rows {
                    tr { @for v in r { td { (v) } } }
                }
            }
        }
    }
}

/// The self-contained HTML report (no network needed to view it), rendered
/// by the same template engine as the web page: every value is escaped but
/// the charts, which `svg.rs` builds from escaped parts.
pub fn report(e: &Experiment, out: &Outcome2) -> String {
    let deviations = if e.deviations.is_empty() {
        "None stated."
    } else {
        e.deviations.as_str()
    };
    html! {
        (DOCTYPE)
        html {
            head {
                meta charset="utf-8";
                title { (e.name) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Experiment: " (e.name) }
                p { (e.description) }
                h2 { "Setup" }
                table {
                    @for (k, v) in setup(e) {
                        tr { th { (k) } td style="text-align:left" { (v) } }
                    }
                }
                h2 { "Deviations from the original setup" }
                p { (deviations) }
                h2 { "Results" }
                @for (caption, chart) in &out.charts {
                    figure { (PreEscaped(chart)) figcaption { (caption) } }
                }
                @if let Some(r) = &e.reference {
                    h2 { "Published values" }
                    p { "From " (r.source) "." }
                    table {
                        tr { th { "what" } th { "published" } th { "this experiment" } th { "difference" } }
                        @for (label, published, ours) in compare_reference(r, &out.table) {
                            tr {
                                td style="text-align:left" { (label) }
                                td { (published) }
                                @match ours {
                                    Some(x) => { td { (x) } td { (format!("{:+.4}", x - published)) } }
                                    None => { td { "no result matches" } td {} }
                                }
                            }
                        }
                    }
                    @if !r.note.is_empty() {
                        p { (r.note) }
                    }
                }
                h2 { "Uncertainty" }
                p {
                    "Each estimated probability carries a 95% Wilson score interval (the columns ending "
                    code { "ci95_low" } " and " code { "ci95_high" } "; for lost updates, an interval over the runs, "
                    "since one run's adds are not independent). Each estimated time or percentile carries the number of "
                    "events it rests on (a column ending " code { "_rests_on" } ": the stale reads seen at a t-visibility "
                    "time, the samples at or beyond a latency percentile; empty for a strict quorum, R + W > N, whose reads are consistent by construction, and for a time met at the first delay with its interval wholly above the target). An estimate that rests on fewer than "
                    (MIN_EVENTS) " events is listed here; run more trials (" code { "--trials" } ") to firm it up."
                }
                @let thin = out.table.thin_estimates();
                @if thin.is_empty() {
                    p { "No estimate rests on fewer than " (MIN_EVENTS) " events." }
                } @else {
                    div style="border:2px solid #c0392b;background:#fdecea;padding:4px 12px" {
                        p { strong { (thin.len()) " estimate" @if thin.len() != 1 { "s" } " rest on fewer than " (MIN_EVENTS) " events:" } }
                        ul { @for t in &thin { li { (t) } } }
                    }
                }
                h2 { "Table" }
                (table_html(&out.table))
                p { "Reproduce: " code { "dynsim experiment " (e.path) } }
            }
        }
    }
    .into_string()
}
