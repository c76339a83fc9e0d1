//! `dynsim experiment`: parameter sweeps with many trials per point, written
//! as a CSV and JSON table and as one self-contained HTML report with SVG
//! charts. Five kinds of experiment cover the experiments docs/model.md lists:
//!
//! - `latency`: per-operation latency for each (N, R, W), latency model and loss rate;
//! - `staleness`: put a fresh value, wait a delay after it returns, read it back;
//! - `pbs`: probability that a read t ms after a write commits sees it, next to
//!   the PBS paper's WARS Monte-Carlo model of the same latencies;
//! - `lww`: acknowledged set additions that survive concurrent read-modify-write
//!   clients, last-write-wins against siblings merged by union;
//! - `balance`: load-balance efficiency of token strategies S1 and S3 (paper Fig. 8).

use crate::report::summary::{LatencyStats, percentile};
use crate::report::svg::{self, Chart, Series};
use crate::scenario::diag::{Collector, Diags};
use crate::scenario::toml_read::{Tbl, read_document, read_file};
use crate::scenario::{
    EXPERIMENT_ONLY, NODES_UNKNOWN, SCENARIO_ONLY, check_key_count, kind_marker, read_cluster,
    read_entry, read_network,
};
use dynamo_model::VClock;
use dynamo_model::limits;
use dynamo_model::{ClusterConfig, DynamoNode, KeyScheme, Ring, TokenStrategy, Versioning};
use dynamo_model::{Reply, Request};
use dynamo_observer::{Cluster, Entry, KeyChoice, LoadSpec, OpKind, Outcome, Pacing, Wake};
use sim_core::{
    ClientId, Core, Harness, Limits, NetConfig, NodeId, SimDuration, SimRng, SimTime, Stream,
};
use std::fmt::Write as _;
use std::sync::Arc;
use toml::de::DeValue;

const KINDS: &[&str] = &[
    "latency",
    "staleness",
    "pbs",
    "lww",
    "balance",
    "kstaleness",
    "joincost",
];

/// Trials per point (`trials`, `--trials`); experiments/README.md lists every bound.
pub const MAX_TRIALS: u64 = 10_000_000;
/// Points an experiment runs (each point runs `trials` trials).
pub const MAX_POINTS: u64 = 10_000;
/// Values in one `[sweep]` list (quorums, networks, delays, loss, tokens_per_node, clients).
pub const MAX_SWEEP_VALUES: usize = 1_000;
/// Integers each `lww` client adds.
pub const MAX_ADDS_PER_CLIENT: u64 = 100_000;
/// `kstaleness`: the largest k (each trial writes that many versions).
pub const MAX_K: u32 = 100;

/// A validated experiment file.
#[derive(Clone, Debug)]
pub struct Experiment {
    pub path: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub seed: u64,
    pub trials: u64,
    /// What differs from the original setup, stated in the report.
    pub deviations: String,
    pub cluster: ClusterConfig,
    /// Named network models; each point runs under each.
    pub networks: Vec<(String, NetConfig)>,
    pub quorums: Vec<(u32, u32, u32)>,
    pub delays: Vec<SimDuration>,
    pub losses: Vec<f64>,
    pub tokens_per_node: Vec<u32>,
    pub clients: Vec<u32>,
    pub keys: u32,
    /// `lww`: how many integers each client adds.
    pub adds_per_client: u32,
    /// `kstaleness`: the k values (read one of the last k versions).
    pub ks: Vec<u32>,
    /// `joincost`: ring sizes one node joins.
    pub ring_sizes: Vec<u32>,
    /// Where each request goes (`via`): any node by default.
    pub via: Entry,
    /// Threads that run points (`--jobs`; not in the file). Results do not depend on it.
    pub jobs: usize,
    /// Published values to show beside dynsim's (`[reference]`).
    pub reference: Option<Reference>,
}

/// Published values an experiment is compared with: a paper's table, a
/// figure read off by eye, or another project's reported means.
#[derive(Clone, Debug, Default)]
pub struct Reference {
    /// Where the values come from.
    pub source: String,
    /// In words: which modelling choices explain a gap.
    pub note: String,
    pub values: Vec<RefValue>,
}

/// One published value: the result row it matches (`where`: column = value,
/// every one must match), the column it is compared in, and the value.
#[derive(Clone, Debug)]
pub struct RefValue {
    pub label: String,
    pub matches: Vec<(String, String)>,
    pub column: String,
    pub value: f64,
}

/// One reference value next to the result it matches: (label, published,
/// dynsim's value if a row matched).
pub type Compared = (String, f64, Option<f64>);

/// Each reference value beside dynsim's: the first result row whose columns
/// hold every `where` value and a number in the reference's column (a table
/// may hold rows of several shapes, each leaving the others' columns empty).
pub fn compare_reference(r: &Reference, table: &Table) -> Vec<Compared> {
    let col = |name: &str| table.columns.iter().position(|c| c == name);
    r.values
        .iter()
        .map(|v| {
            let ours = col(&v.column).and_then(|c| {
                table.rows.iter().find_map(|row| {
                    let matches = v
                        .matches
                        .iter()
                        .all(|(k, want)| col(k).is_some_and(|i| row[i] == *want));
                    if matches {
                        row[c].parse::<f64>().ok()
                    } else {
                        None
                    }
                })
            });
            (v.label.clone(), v.value, ours)
        })
        .collect()
}

const TOP: &[&str] = &[
    "name",
    "description",
    "kind",
    "seed",
    "trials",
    "deviations",
    "via",
    "cluster",
    "network",
    "sweep",
    "reference",
];
const SWEEP: &[&str] = &[
    "quorums",
    "networks",
    "delays",
    "loss",
    "tokens_per_node",
    "clients",
    "keys",
    "adds_per_client",
    "k",
    "nodes",
];

/// Reads `[reference]`: `source`, `note` and `[[reference.values]]`, each
/// with `label`, `where` (a table of result columns and the values a row must
/// hold), `column` and `value`.
fn read_reference(c: &mut Collector, t: &Tbl) -> Reference {
    t.only(c, &["source", "note", "values"]);
    t.require(
        c,
        "source",
        "where the published values come from, like source = \"Bailis et al., VLDB 2012, Fig. 6\"",
    );
    let mut r = Reference {
        source: t.str(c, "source").unwrap_or_default(),
        note: t.str(c, "note").unwrap_or_default(),
        values: Vec::new(),
    };
    for v in t.tables(c, "values") {
        v.only(c, &["label", "where", "column", "value"]);
        v.require(
            c,
            "column",
            "the result column compared, like column = \"p_consistent\"",
        );
        v.require(c, "value", "the published value, like value = 0.97");
        let mut matches = Vec::new();
        if let Some(w) = v.table(c, "where") {
            for (k, _) in w.table.iter() {
                let key: &str = k.get_ref();
                if let Some(s) = w.str(c, key) {
                    matches.push((key.to_string(), s));
                }
            }
        }
        let (Some(column), Some(value)) = (v.str(c, "column"), v.float(c, "value")) else {
            continue;
        };
        let label = v.str(c, "label").unwrap_or_else(|| {
            let parts: Vec<String> = matches.iter().map(|(k, x)| format!("{k} {x}")).collect();
            format!("{column} at {}", parts.join(", "))
        });
        r.values.push(RefValue {
            label,
            matches,
            column,
            value,
        });
    }
    r
}

/// Reads an experiment file; every problem is reported with its position.
pub fn load(path: &str) -> Result<Experiment, Diags> {
    parse(path, &read_file(path)?)
}

/// Parses and validates experiment text; `file` names it in messages.
pub fn parse(file: &str, src: &str) -> Result<Experiment, Diags> {
    read_document(file, src, |c, root| read(c, root, file))
}

fn read(c: &mut Collector, root: &Tbl, path: &str) -> Option<Experiment> {
    if let Some(field) = kind_marker(root, SCENARIO_ONLY, EXPERIMENT_ONLY) {
        // Its other fields would only be reported as unknown.
        c.err(
            root.span_of(field),
            field,
            format!(
                "this is a scenario file, not an experiment; run it with `dynsim run {}`",
                c.file
            ),
        );
        return None;
    }
    root.only(c, TOP);
    root.require(c, "name", "every experiment needs a name");
    root.require(
        c,
        "kind",
        &format!("which experiment; valid kinds are {}", KINDS.join(", ")),
    );
    root.require(c, "seed", "every experiment states its seed");
    let name = root.str(c, "name");
    let kind = root.str(c, "kind");
    if let Some(k) = &kind {
        if !KINDS.contains(&k.as_str()) {
            c.err(
                root.span_of("kind"),
                "kind",
                format!("unknown kind {k:?}; valid kinds are {}", KINDS.join(", ")),
            );
        }
    }
    let seed = root.u64(c, "seed");
    let trials = root.count(c, "trials", 1, MAX_TRIALS).unwrap_or(1_000);
    let cluster = match root.table(c, "cluster") {
        Some(t) => read_cluster(c, &t),
        None => {
            root.require(c, "cluster", "a [cluster] table as in a scenario");
            None
        }
    };
    let nodes = cluster.as_ref().map_or(NODES_UNKNOWN, |cl| cl.nodes);
    let dcs = cluster.as_ref().map(|cl| cl.datacenters.clone());
    let base_net = match root.table(c, "network") {
        Some(t) => read_network(c, &t, nodes, dcs.as_deref()),
        None => Some(NetConfig::default()),
    };
    let mut exp = Experiment {
        path: path.to_string(),
        name: name.unwrap_or_default(),
        description: root.str(c, "description").unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        seed: seed.unwrap_or(0),
        trials,
        deviations: root.str(c, "deviations").unwrap_or_default(),
        cluster: cluster.clone().unwrap_or_default(),
        networks: vec![("base".into(), base_net.clone().unwrap_or_default())],
        quorums: Vec::new(),
        delays: Vec::new(),
        losses: Vec::new(),
        tokens_per_node: Vec::new(),
        clients: Vec::new(),
        keys: 256,
        adds_per_client: 20,
        ks: Vec::new(),
        ring_sizes: Vec::new(),
        via: Entry::Random,
        jobs: 1,
        reference: None,
    };
    if let Some(t) = root.table(c, "reference") {
        exp.reference = Some(read_reference(c, &t));
    }
    if root.has("via") {
        let proxies = cluster.as_ref().map_or(u32::MAX, |cl| cl.proxies);
        if let Some(via) = read_entry(c, root, "via", nodes, proxies) {
            exp.via = via;
        }
    }
    let scheme = cluster.as_ref().map(|cl| cl.key_scheme.clone());
    if let Some(KeyScheme::Integer { hash_bits }) = &scheme {
        // The default must fit a small integer key space.
        exp.keys = exp.keys.min(1 << (*hash_bits).min(31));
        if exp.kind == "balance" {
            c.err(
                cluster_tbl_span(root),
                "cluster.keys",
                "a balance experiment places keys by the MD5 of their names (key0, key1, ...); use keys = \"md5\"",
            );
        }
    }
    if let Some(sw) = root.table(c, "sweep") {
        sw.only(c, SWEEP);
        for key in SWEEP {
            if let Some(DeValue::Array(a)) = sw.get(key).map(|v| v.get_ref()) {
                if a.len() > MAX_SWEEP_VALUES {
                    c.err(
                        sw.span_of(key),
                        sw.field(key),
                        format!(
                            "{} values are above the bound of {MAX_SWEEP_VALUES} per list",
                            a.len()
                        ),
                    );
                }
            }
        }
        if let Some(arr) = sw.array(c, "quorums") {
            for v in arr.iter() {
                let nums: Option<Vec<u32>> = match v.get_ref() {
                    DeValue::Array(items) => items
                        .iter()
                        .map(|i| {
                            i.get_ref()
                                .as_integer()
                                .and_then(|n| u32::from_str_radix(n.as_str(), n.radix()).ok())
                        })
                        .collect(),
                    _ => None,
                };
                match nums.as_deref() {
                    Some(&[n, r, w]) => {
                        // Judged against the cluster, when it is valid itself.
                        if let Some(base) = &cluster {
                            let mut cfg = base.clone();
                            (cfg.n, cfg.r, cfg.w) = (n, r, w);
                            for problem in cfg.validate() {
                                c.err(
                                    v.span(),
                                    sw.field("quorums"),
                                    format!("[{n}, {r}, {w}]: {problem}"),
                                );
                            }
                        }
                        exp.quorums.push((n, r, w));
                    }
                    _ => c.err(
                        v.span(),
                        sw.field("quorums"),
                        "each quorum is [N, R, W], like [3, 2, 2]",
                    ),
                }
            }
        }
        let nets = sw.tables(c, "networks");
        if !nets.is_empty() {
            exp.networks.clear();
        }
        for t in nets {
            t.require(
                c,
                "name",
                "each network model needs a name, like name = \"LNKD-SSD\"",
            );
            let name = t.str(c, "name").unwrap_or_default();
            // The table holds network fields next to its name; read them as a network table.
            let mut fields = t.table.clone();
            fields.remove("name");
            let inner = Tbl::new(t.path.clone(), &fields, t.span.clone());
            if let Some(net) = read_network(c, &inner, nodes, dcs.as_deref()) {
                exp.networks.push((name, net));
            }
        }
        if let Some(ds) = sw.strings(c, "delays") {
            for (d, span) in ds {
                match SimDuration::parse(&d) {
                    Ok(x) => exp.delays.push(x),
                    Err(e) => c.err(span, sw.field("delays"), e),
                }
            }
        }
        if let Some(arr) = sw.array(c, "loss") {
            for v in arr.iter() {
                let p = match v.get_ref() {
                    DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
                    DeValue::Integer(i) => i.as_str().parse::<f64>().ok(),
                    _ => None,
                };
                match p {
                    Some(p) if (0.0..=1.0).contains(&p) => exp.losses.push(p),
                    _ => c.err(
                        v.span(),
                        sw.field("loss"),
                        "each loss rate is a probability from 0.0 to 1.0",
                    ),
                }
            }
        }
        for (key, out, bound) in [
            (
                "tokens_per_node",
                &mut exp.tokens_per_node,
                limits::MAX_TOKENS_PER_NODE,
            ),
            ("clients", &mut exp.clients, limits::MAX_CLIENTS),
            ("k", &mut exp.ks, MAX_K),
            ("nodes", &mut exp.ring_sizes, MAX_JOIN_RING),
        ] {
            if let Some(arr) = sw.array(c, key) {
                for v in arr.iter() {
                    match v
                        .get_ref()
                        .as_integer()
                        .and_then(|n| u32::from_str_radix(n.as_str(), n.radix()).ok())
                    {
                        Some(n) if n > 0 && n <= bound => out.push(n),
                        _ => {
                            let what = match v.get_ref() {
                                DeValue::Integer(i)
                                    if i128::from_str_radix(i.as_str(), i.radix())
                                        .map_or(!i.as_str().starts_with('-'), |n| {
                                            n > i128::from(bound)
                                        }) =>
                                {
                                    format!("{} is above the bound of {bound}", i.as_str())
                                }
                                DeValue::Integer(i) => format!("{} is out of range", i.as_str()),
                                _ => "expected a whole number".to_string(),
                            };
                            c.err(
                                v.span(),
                                sw.field(key),
                                format!("{what}; each value is a whole number in 1..={bound}"),
                            );
                        }
                    }
                }
            }
        }
        if let Some(k) = sw.count(c, "keys", 1, u64::from(limits::MAX_KEYS)) {
            exp.keys = k as u32;
            if matches!(exp.kind.as_str(), "latency" | "staleness" | "pbs") {
                check_key_count(c, &sw, "keys", exp.keys, scheme.as_ref());
            }
        }
        if let Some(k) = sw.count(c, "adds_per_client", 1, MAX_ADDS_PER_CLIENT) {
            exp.adds_per_client = k as u32;
        }
        if exp.kind == "balance" {
            // Each point builds rings with T tokens per node (S1) and T x nodes partitions (S3).
            let arr = sw.get("tokens_per_node").map(|v| v.get_ref());
            if let (Some(base), Some(DeValue::Array(arr))) = (&cluster, arr) {
                for v in arr.iter() {
                    let Some(t) = v
                        .get_ref()
                        .as_integer()
                        .and_then(|n| u32::from_str_radix(n.as_str(), n.radix()).ok())
                        .filter(|t| (1..=limits::MAX_TOKENS_PER_NODE).contains(t))
                    else {
                        continue; // reported above
                    };
                    for (label, tokens) in [
                        ("S1", TokenStrategy::Random { tokens_per_node: t }),
                        (
                            "S3",
                            TokenStrategy::EqualPartitions {
                                partitions: t.saturating_mul(base.nodes),
                            },
                        ),
                    ] {
                        let cfg = ClusterConfig {
                            tokens,
                            ..base.clone()
                        };
                        for problem in cfg.validate() {
                            c.err(
                                v.span(),
                                sw.field("tokens_per_node"),
                                format!("{t} tokens per node, {label}: {problem}"),
                            );
                        }
                    }
                }
            }
        }
    }
    let need = |c: &mut Collector, what: &str, empty: bool| {
        if empty {
            c.err(
                root.span_of("sweep"),
                "sweep",
                format!("a {} experiment needs sweep.{what}", exp.kind),
            );
        }
    };
    match exp.kind.as_str() {
        "latency" | "staleness" | "pbs" => need(c, "quorums", exp.quorums.is_empty()),
        "lww" => need(c, "clients", exp.clients.is_empty()),
        "balance" => need(c, "tokens_per_node", exp.tokens_per_node.is_empty()),
        "joincost" => {
            need(c, "nodes", exp.ring_sizes.is_empty());
            need(c, "tokens_per_node", exp.tokens_per_node.is_empty());
            if cluster.is_some() {
                for &nodes in &exp.ring_sizes {
                    for &t in &exp.tokens_per_node {
                        for s3 in [false, true] {
                            let cfg = join_cost_config(&exp, nodes, t, s3);
                            for problem in cfg.validate() {
                                c.err(
                                    root.span_of("sweep"),
                                    "sweep.nodes",
                                    format!(
                                        "{nodes} nodes with {t} tokens each ({}): {problem}",
                                        if s3 { "S3" } else { "S1" }
                                    ),
                                );
                            }
                        }
                    }
                }
            }
            let total = u64::from(exp.ring_sizes.iter().copied().max().unwrap_or(0) + 1)
                * u64::from(exp.tokens_per_node.iter().copied().max().unwrap_or(0));
            if total > limits::MAX_TOKENS {
                c.err(
                    root.span_of("sweep"),
                    "sweep",
                    format!(
                        "the largest ring would hold {total} tokens, above the bound of {}",
                        limits::MAX_TOKENS
                    ),
                );
            }
        }
        "kstaleness" => {
            need(c, "quorums", exp.quorums.is_empty());
            need(c, "k", exp.ks.is_empty());
        }
        _ => {}
    }
    if matches!(exp.kind.as_str(), "staleness" | "pbs") {
        need(c, "delays", exp.delays.is_empty());
    }
    if exp.losses.is_empty() {
        exp.losses
            .push(exp.networks.first().map_or(0.0, |n| n.1.loss));
    }
    let points = points(&exp);
    if points > MAX_POINTS {
        c.err(
            root.span_of("sweep"),
            "sweep",
            format!("these lists make {points} points, above the bound of {MAX_POINTS} points"),
        );
    }
    cluster?;
    base_net?;
    Some(exp)
}

/// Where the cluster's `keys` field is (or the cluster table, or the file).
fn cluster_tbl_span(root: &Tbl) -> std::ops::Range<usize> {
    match root.get("cluster").map(|v| (v.span(), v.get_ref())) {
        Some((span, DeValue::Table(t))) => t.get("keys").map_or(span, |k| k.span()),
        Some((span, _)) => span,
        None => root.span.clone(),
    }
}

/// A result table: named columns, one row per measurement.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn new(cols: &[&str]) -> Table {
        Table {
            columns: cols.iter().map(ToString::to_string).collect(),
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn to_csv(&self) -> String {
        let esc = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut o = self
            .columns
            .iter()
            .map(|c| esc(c))
            .collect::<Vec<_>>()
            .join(",");
        o.push('\n');
        for r in &self.rows {
            o.push_str(&r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(","));
            o.push('\n');
        }
        o
    }

    pub fn to_json(&self) -> String {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let obj: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .zip(r)
                    .map(|(k, v)| {
                        let val = v
                            .parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map_or(
                                serde_json::Value::String(v.clone()),
                                serde_json::Value::Number,
                            );
                        (k.clone(), val)
                    })
                    .collect();
                serde_json::Value::Object(obj)
            })
            .collect();
        serde_json::to_string_pretty(&rows).expect("tables serialize")
    }

    fn to_html(&self) -> String {
        let mut o = String::from("<table><thead><tr>");
        for c in &self.columns {
            let _ = write!(o, "<th>{}</th>", html(c));
        }
        o.push_str("</tr></thead><tbody>");
        for r in &self.rows {
            o.push_str("<tr>");
            for v in r {
                let _ = write!(o, "<td>{}</td>", html(v));
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table>");
        o
    }
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What an experiment produced.
pub struct Outcome2 {
    pub table: Table,
    pub charts: Vec<(String, String)>,
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1_000.0)
}

fn quorum_label(q: (u32, u32, u32)) -> String {
    format!("N={} R={} W={}", q.0, q.1, q.2)
}

fn with_quorum(base: &ClusterConfig, q: (u32, u32, u32)) -> ClusterConfig {
    ClusterConfig {
        n: q.0,
        r: q.1,
        w: q.2,
        ..base.clone()
    }
}

/// Runs the cluster until `done` holds (checked every simulated second), at most `cap` of simulated time.
fn run_until_done(cluster: &mut Cluster, cap: SimDuration, done: impl Fn(&Cluster) -> bool) {
    let end = cluster.now() + cap;
    while !done(cluster) && cluster.now() < end {
        let next = cluster.now() + SimDuration::from_secs(1);
        if cluster.run_until(next).is_final() {
            break;
        }
    }
}

fn latency_experiment(e: &Experiment, bar: &indicatif::ProgressBar) -> Outcome2 {
    let mut table = Table::new(&[
        "network", "loss", "quorum", "op", "count", "ok", "mean_ms", "sd_ms", "p50_ms", "p99_ms",
        "p999_ms",
    ]);
    type PointOut = (Vec<Vec<String>>, Vec<(String, OpKind, f64, Vec<f64>)>);
    type Point<'a> = (&'a String, &'a NetConfig, f64, (u32, u32, u32));
    let points: Vec<Point> = e
        .networks
        .iter()
        .flat_map(|(net_name, net)| {
            e.losses
                .iter()
                .flat_map(move |&loss| e.quorums.iter().map(move |&q| (net_name, net, loss, q)))
        })
        .collect();
    let results = par_map(e.jobs, &points, |&(net_name, net, loss, q)| -> PointOut {
        bar.inc(1);
        let mut rows = Vec::new();
        let mut samples = Vec::new();
        let net = NetConfig {
            loss,
            ..net.clone()
        };
        let mut cluster =
            Cluster::new(with_quorum(&e.cluster, q), &net, e.seed, false).expect("validated");
        let load = |read_fraction: f64, start: SimTime| LoadSpec {
            clients: 1,
            pacing: Pacing::Closed {
                think: SimDuration::ZERO,
            },
            keys: e.keys,
            key_choice: KeyChoice::Uniform,
            read_fraction,
            read_modify_write: false,
            delete_fraction: 0.0,
            entry: e.via.clone(),
            start,
            stop: SimTime::MAX,
            max_ops: Some(e.trials),
        };
        // The seed project's order: all the gets, then all the puts.
        cluster
            .add_load(load(1.0, SimTime::ZERO))
            .expect("valid load");
        let all_done = |c: &Cluster, n: usize| {
            c.history().len() >= n && c.history().iter().all(|o| o.outcome != Outcome::Pending)
        };
        run_until_done(&mut cluster, SimDuration::from_secs(100_000), |c| {
            all_done(c, e.trials as usize)
        });
        let now = cluster.now();
        cluster.add_load(load(0.0, now)).expect("valid load");
        run_until_done(&mut cluster, SimDuration::from_secs(100_000), |c| {
            all_done(c, 2 * e.trials as usize)
        });
        for kind in [OpKind::Get, OpKind::Put] {
            let ops: Vec<_> = cluster
                .history()
                .iter()
                .filter(|o| o.kind == kind)
                .collect();
            let lat: Vec<u64> = ops
                .iter()
                .filter(|o| o.outcome.is_ok())
                .filter_map(|o| o.latency())
                .map(|d| d.as_us())
                .collect();
            let s = LatencyStats::of(lat.clone());
            rows.push(vec![
                net_name.clone(),
                format!("{loss}"),
                quorum_label(q),
                kind.name().into(),
                ops.len().to_string(),
                lat.len().to_string(),
                ms(s.mean_us),
                ms(s.sd_us),
                ms(s.p50_us as f64),
                ms(s.p99_us as f64),
                ms(s.p999_us as f64),
            ]);
            let label = format!(
                "{}{}{}",
                quorum_label(q),
                if e.networks.len() > 1 {
                    format!(", {net_name}")
                } else {
                    String::new()
                },
                if e.losses.len() > 1 {
                    format!(", loss {loss}")
                } else {
                    String::new()
                }
            );
            samples.push((
                label,
                kind,
                loss,
                lat.iter().map(|&u| u as f64 / 1_000.0).collect(),
            ));
        }
        (rows, samples)
    });
    let mut samples: Vec<(String, OpKind, f64, Vec<f64>)> = Vec::new();
    for (rows, point_samples) in results {
        for r in rows {
            table.push(r);
        }
        samples.extend(point_samples);
    }
    let mut charts = Vec::new();
    for kind in [OpKind::Get, OpKind::Put] {
        let first_loss = e.losses[0];
        let mine: Vec<_> = samples
            .iter()
            .filter(|s| s.1 == kind && s.2 == first_loss)
            .collect();
        let hist: Vec<Series> = mine
            .iter()
            .map(|s| Series::new(s.0.clone(), svg::histogram_points(&s.3, 40)))
            .collect();
        let cdf: Vec<Series> = mine
            .iter()
            .map(|s| Series::new(s.0.clone(), svg::cdf_points(&s.3)))
            .collect();
        charts.push((
            format!("{} latency histogram", kind.name()),
            svg::line_chart(&Chart {
                title: format!("{} latency histogram", kind.name()),
                x_label: "latency (ms)".into(),
                y_label: "operations".into(),
                series: hist,
                ..Chart::default()
            }),
        ));
        charts.push((
            format!("{} latency CDF", kind.name()),
            svg::line_chart(&Chart {
                title: format!("{} latency CDF", kind.name()),
                x_label: "latency (ms)".into(),
                y_label: "fraction of operations".into(),
                series: cdf,
                y_range: Some((0.0, 1.0)),
                ..Chart::default()
            }),
        ));
    }
    if e.losses.len() > 1 {
        for kind in [OpKind::Get, OpKind::Put] {
            let mut series = Vec::new();
            for (net_name, _) in &e.networks {
                for &q in &e.quorums {
                    for (pname, p) in [("p50", 0.5), ("p99", 0.99)] {
                        let pts: Vec<(f64, f64)> = e
                            .losses
                            .iter()
                            .filter_map(|&loss| {
                                let label_q = quorum_label(q);
                                samples
                                    .iter()
                                    .find(|s| {
                                        s.1 == kind
                                            && s.2 == loss
                                            && s.0.starts_with(&label_q)
                                            && (e.networks.len() == 1
                                                || s.0.contains(net_name.as_str()))
                                    })
                                    .map(|s| {
                                        let mut v: Vec<u64> =
                                            s.3.iter().map(|x| (x * 1_000.0) as u64).collect();
                                        v.sort_unstable();
                                        (loss, percentile(&v, p) as f64 / 1_000.0)
                                    })
                            })
                            .collect();
                        series.push(Series {
                            name: format!("{pname} {}", quorum_label(q)),
                            points: pts,
                            dashed: pname == "p99",
                        });
                    }
                }
            }
            charts.push((
                format!("{} latency percentiles against message loss", kind.name()),
                svg::line_chart(&Chart {
                    title: format!("{} latency against loss rate", kind.name()),
                    x_label: "message loss probability".into(),
                    y_label: "latency (ms)".into(),
                    series,
                    markers: true,
                    ..Chart::default()
                }),
            ));
        }
    }
    Outcome2 { table, charts }
}

/// Where a trial harness sends each request: the experiment's `via`, with
/// the workload stream for random choices.
struct Router {
    rng: SimRng,
    nodes: u32,
    proxies: u32,
    via: Entry,
    ring: Arc<Ring>,
}

impl Router {
    fn new(cfg: &ClusterConfig, via: &Entry, ring: Arc<Ring>, seed: u64) -> Router {
        Router {
            rng: SimRng::new(seed, Stream::Workload),
            nodes: cfg.nodes,
            proxies: cfg.proxies,
            via: via.clone(),
            ring,
        }
    }

    fn pick(&mut self, key: &dynamo_model::Key, core: &Core<DynamoNode, Wake>) -> NodeId {
        let (nodes, proxies) = (self.nodes, self.proxies);
        dynamo_observer::route(
            &self.via,
            key,
            &self.ring,
            nodes,
            proxies,
            &mut self.rng,
            |n| core.is_up(n),
        )
    }
}

/// Sequential put-then-read trials: each trial puts a fresh value, and once
/// the put returns, reads after each delay (one read per delay, all in parallel).
struct Trials {
    router: Router,
    keys: u32,
    key_scheme_integer: bool,
    delays: Vec<SimDuration>,
    total: u64,
    started: u64,
    next_req: u64,
    /// The trial in flight: its value, and the reads still out.
    current: Option<(Arc<str>, usize)>,
    /// Per delay: reads that saw the value, reads done.
    seen: Vec<(u64, u64)>,
    read_lat: Vec<u64>,
    write_lat: Vec<u64>,
    issued_at: std::collections::BTreeMap<u64, (SimTime, Option<usize>)>,
    key: Option<dynamo_model::Key>,
}

impl Trials {
    fn start_trial(&mut self, core: &mut Core<DynamoNode, Wake>) {
        if self.started >= self.total {
            return;
        }
        self.started += 1;
        let k = (self.started - 1) % u64::from(self.keys);
        let name = if self.key_scheme_integer {
            k.to_string()
        } else {
            format!("key{k}")
        };
        let key = self.router.ring.key(&name).expect("valid key");
        let value: Arc<str> = Arc::from(format!("v{}", self.started).as_str());
        self.current = Some((value.clone(), self.delays.len()));
        self.key = Some(key.clone());
        let node = self.router.pick(&key, core);
        self.next_req += 1;
        self.issued_at.insert(self.next_req, (core.now(), None));
        core.schedule_request(
            core.now(),
            ClientId(0),
            node,
            self.next_req,
            Request::Put {
                key,
                value,
                context: VClock::new(),
            },
        );
    }
}

impl Harness<DynamoNode> for Trials {
    type Wake = Wake;

    fn on_reply(
        &mut self,
        core: &mut Core<DynamoNode, Wake>,
        _client: ClientId,
        req: u64,
        _node: NodeId,
        reply: Reply,
    ) {
        let Some((at, delay)) = self.issued_at.remove(&req) else {
            return;
        };
        let lat = (core.now() - at).as_us();
        match (delay, reply) {
            (None, Reply::Put { .. }) => {
                self.write_lat.push(lat);
                for (i, d) in self.delays.iter().enumerate() {
                    let (client, tag) = (ClientId(1 + i as u32), i as u64);
                    core.schedule_wake(core.now() + *d, Wake::Other { client, tag });
                }
            }
            (None, _) => self.start_trial(core),
            (Some(i), reply) => {
                self.read_lat.push(lat);
                let value = self.current.as_ref().map(|c| c.0.clone());
                let saw = matches!(&reply, Reply::Got { versions, .. } if versions.iter().any(|v| Some(&v.value) == value.as_ref()));
                self.seen[i].1 += 1;
                self.seen[i].0 += u64::from(saw);
                if let Some(cur) = &mut self.current {
                    cur.1 -= 1;
                    if cur.1 == 0 {
                        self.current = None;
                        self.start_trial(core);
                    }
                }
            }
        }
    }

    fn on_wake(&mut self, core: &mut Core<DynamoNode, Wake>, wake: Wake) {
        let Wake::Other { client, tag } = wake else {
            return;
        };
        let key = self.key.clone().expect("a trial is running");
        let node = self.router.pick(&key, core);
        self.next_req += 1;
        self.issued_at
            .insert(self.next_req, (core.now(), Some(tag as usize)));
        core.schedule_request(
            core.now(),
            client,
            node,
            self.next_req,
            Request::Get { key },
        );
    }
}

/// Every (network, quorum) point, networks outermost: the order of the
/// report's rows.
fn network_quorum_points(e: &Experiment) -> Vec<(&NetConfig, (u32, u32, u32))> {
    e.networks
        .iter()
        .flat_map(|(_, net)| e.quorums.iter().map(move |&q| (net, q)))
        .collect()
}

/// Runs `f` on every point on `jobs` threads and returns the results in
/// point order. Each point builds its own cluster from its own seeds, so the
/// results, and everything made from them, are identical on any number of
/// threads.
fn par_map<T: Sync, R: Send>(jobs: usize, points: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if jobs <= 1 || points.len() <= 1 {
        return points.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<R>>> =
        points.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(points.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(point) = points.get(i) else { break };
                    let r = f(point);
                    *slots[i].lock().expect("no worker panicked holding it") = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("no worker panicked holding it")
                .expect("every point ran")
        })
        .collect()
}

/// Runs `trials` put-then-read trials; returns per-delay (seen, reads) and read/write latencies.
fn run_trials(
    cfg: &ClusterConfig,
    net: &NetConfig,
    via: &Entry,
    seed: u64,
    trials: u64,
    keys: u32,
    delays: &[SimDuration],
) -> (Vec<(u64, u64)>, Vec<u64>, Vec<u64>) {
    let mut cluster = Cluster::new(cfg.clone(), net, seed, false).expect("validated");
    let mut h = Trials {
        router: Router::new(cfg, via, cluster.ring.clone(), seed),
        keys,
        key_scheme_integer: matches!(cfg.key_scheme, dynamo_model::KeyScheme::Integer { .. }),
        delays: delays.to_vec(),
        total: trials,
        started: 0,
        next_req: 0,
        current: None,
        seen: vec![(0, 0); delays.len()],
        read_lat: Vec::new(),
        write_lat: Vec::new(),
        issued_at: std::collections::BTreeMap::new(),
        key: None,
    };
    h.start_trial(&mut cluster.sim.core);
    // Bounded: each trial has a deadline, so the run cannot hang.
    let cap = SimTime::ZERO + SimDuration::from_secs(trials * 30 + 60);
    while h.started < trials || h.current.is_some() {
        let next = cluster.now() + SimDuration::from_secs(10);
        let stop = cluster.sim.run(&mut h, Limits::until(next));
        if cluster.now() >= cap || stop.is_final() {
            break;
        }
    }
    (h.seen, h.read_lat, h.write_lat)
}

fn staleness_experiment(e: &Experiment, bar: &indicatif::ProgressBar) -> Outcome2 {
    let mut table = Table::new(&[
        "network",
        "quorum",
        "delay_ms",
        "trials",
        "saw_new_value",
        "percent",
    ]);
    let mut charts = Vec::new();
    // One read per trial, so each delay is its own run (reads must not overlap).
    let points: Vec<(&NetConfig, (u32, u32, u32), usize)> = e
        .networks
        .iter()
        .flat_map(|(_, net)| {
            e.quorums
                .iter()
                .flat_map(move |&q| (0..e.delays.len()).map(move |i| (net, q, i)))
        })
        .collect();
    let mut results = par_map(e.jobs, &points, |&(net, q, i)| {
        if i == 0 {
            bar.inc(1);
        }
        run_trials(
            &with_quorum(&e.cluster, q),
            net,
            &e.via,
            e.seed.wrapping_add(i as u64),
            e.trials,
            e.keys,
            &[e.delays[i]],
        )
        .0[0]
    })
    .into_iter();
    for (net_name, _) in &e.networks {
        let mut series = Vec::new();
        for &q in &e.quorums {
            let mut pts = Vec::new();
            for d in &e.delays {
                let (ok, n) = results.next().expect("one result a point");
                let pct = 100.0 * ok as f64 / n.max(1) as f64;
                table.push(vec![
                    net_name.clone(),
                    quorum_label(q),
                    format!("{}", d.as_ms_f64()),
                    n.to_string(),
                    ok.to_string(),
                    format!("{pct:.2}"),
                ]);
                pts.push((d.as_ms_f64(), pct));
            }
            series.push(Series::new(quorum_label(q), pts));
        }
        charts.push((
            format!("fresh reads against delay ({net_name})"),
            svg::line_chart(&Chart {
                title: format!("gets that return the new value, latency {net_name}"),
                x_label: "delay after the put returned (ms)".into(),
                y_label: "% of gets".into(),
                series,
                y_range: Some((0.0, 100.0)),
                markers: true,
                x_range: None,
                ..Chart::default()
            }),
        ));
    }
    Outcome2 { table, charts }
}

/// Where the WARS model's messages travel when links differ (data centres
/// or link overrides): the cluster's ring and routing pick each trial's
/// replicas and coordinators, and each message is drawn from its own link.
struct WarsLinks {
    router: Router,
    net: NetConfig,
    keys: u32,
    key_scheme_integer: bool,
}

impl WarsLinks {
    /// `None` when every link is alike, so WARS needs no placement.
    fn new(
        cfg: &ClusterConfig,
        net: &NetConfig,
        via: &Entry,
        seed: u64,
        keys: u32,
    ) -> Option<WarsLinks> {
        if net.zone_links.is_empty() && net.links.is_empty() {
            return None;
        }
        let ring = Arc::new(Ring::build(cfg, &mut SimRng::new(seed, Stream::Setup)));
        Some(WarsLinks {
            router: Router::new(cfg, via, ring, seed),
            net: NetConfig {
                zones: cfg.zones(),
                ..net.clone()
            },
            keys,
            key_scheme_integer: matches!(cfg.key_scheme, KeyScheme::Integer { .. }),
        })
    }

    /// The key of trial `i`, as the full protocol's trials name it.
    fn key(&self, i: u64) -> dynamo_model::Key {
        let k = i % u64::from(self.keys);
        let name = if self.key_scheme_integer {
            k.to_string()
        } else {
            format!("key{k}")
        };
        self.router.ring.key(&name).expect("valid key")
    }

    /// Where a request goes; every node counts as up.
    fn coordinator(&mut self, key: &dynamo_model::Key) -> NodeId {
        let (nodes, proxies) = (self.router.nodes, self.router.proxies);
        dynamo_observer::route(
            &self.router.via,
            key,
            &self.router.ring,
            nodes,
            proxies,
            &mut self.router.rng,
            |_| true,
        )
    }
}

/// The PBS paper's WARS model: a coordinator outside the replicas sends the
/// write (W) to all N, commits at the W-th ack (A); a read sent t after commit
/// (R) is answered (S) by the first R replicas to respond; it is consistent if
/// one of them had received the write before the read request. With `links`,
/// each trial's key, replicas and coordinators (one for the write, one for
/// each read) come from the cluster's ring and routing, and each message's
/// latency from its link (data centres, link overrides), as the PBS paper's
/// WAN model draws a coordinator's data centre at random; a coordinator that
/// is itself a replica is charged its local link like any other.
fn wars(
    net: &NetConfig,
    (n, r, w): (usize, usize, usize),
    trials: u64,
    delays: &[SimDuration],
    seed: u64,
    mut links: Option<WarsLinks>,
) -> (Vec<(u64, u64)>, Vec<u64>, Vec<u64>) {
    let pick = |kind: &str| {
        net.per_kind
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(&net.latency, |(_, l)| l)
            .clone()
    };
    let (lw, la, lr, ls) = (
        pick("Replicate"),
        pick("ReplicateAck"),
        pick("Read"),
        pick("ReadReply"),
    );
    let mut rng = SimRng::new(seed, Stream::Custom(9));
    let mut seen = vec![(0u64, 0u64); delays.len()];
    let (mut rl, mut wl) = (Vec::new(), Vec::new());
    for trial in 0..trials {
        // Per replica: the write's arrival, and its ack's; then per read, (request, reply).
        let (ws, mut acks): (Vec<f64>, Vec<f64>);
        let mut placed = None;
        match &mut links {
            None => {
                ws = (0..n).map(|_| lw.sample_us(&mut rng)).collect();
                acks = ws.iter().map(|x| x + la.sample_us(&mut rng)).collect();
            }
            Some(l) => {
                let key = l.key(trial);
                let replicas = l.router.ring.preference_list(&key, n).to_vec();
                let c = l.coordinator(&key);
                ws = replicas
                    .iter()
                    .map(|&x| l.net.latency_for(c, x, "Replicate").sample_us(&mut rng))
                    .collect();
                acks = replicas
                    .iter()
                    .zip(&ws)
                    .map(|(&x, wi)| {
                        wi + l.net.latency_for(x, c, "ReplicateAck").sample_us(&mut rng)
                    })
                    .collect();
                placed = Some((key, replicas));
            }
        }
        acks.sort_by(f64::total_cmp);
        let commit = acks[w - 1];
        wl.push(commit.round() as u64);
        for (i, d) in delays.iter().enumerate() {
            let start = commit + d.as_us() as f64;
            let mut replies: Vec<(f64, bool)> = match (&mut links, &placed) {
                (Some(l), Some((key, replicas))) => {
                    let c = l.coordinator(key);
                    replicas
                        .iter()
                        .zip(&ws)
                        .map(|(&x, &wi)| {
                            let req = l.net.latency_for(c, x, "Read").sample_us(&mut rng);
                            let rep = l.net.latency_for(x, c, "ReadReply").sample_us(&mut rng);
                            (req + rep, wi <= start + req)
                        })
                        .collect()
                }
                _ => ws
                    .iter()
                    .map(|&wi| {
                        let req = lr.sample_us(&mut rng);
                        (req + ls.sample_us(&mut rng), wi <= start + req)
                    })
                    .collect(),
            };
            replies.sort_by(|a, b| a.0.total_cmp(&b.0));
            rl.push(replies[r - 1].0.round() as u64);
            seen[i].1 += 1;
            seen[i].0 += u64::from(replies[..r].iter().any(|x| x.1));
        }
    }
    (seen, rl, wl)
}

/// Probabilities of consistency whose t-visibility the pbs report gives.
pub const VISIBILITY_TARGETS: [f64; 2] = [0.99, 0.999];
/// Bisection steps between the two grid delays that bracket a target: the
/// time found is within 1/256 of that gap (or 1 us).
const BISECTION_STEPS: u32 = 8;

/// For each target probability, the smallest delay (ms) at which P(consistent)
/// reaches it: the first grid delay where it does, refined by bisection
/// between that delay and the one before, each step a fresh run of trials
/// (`eval` reads at the given delays and returns P at each; every target's
/// midpoint is read in the same run). `None` when the last delay of the grid
/// does not reach it.
fn visibility_times(
    grid: &[SimDuration],
    p: &[f64],
    targets: &[f64],
    eval: impl Fn(&[SimDuration], u32) -> Vec<f64>,
) -> Vec<Option<f64>> {
    let mut brackets: Vec<Option<(u64, u64)>> = targets
        .iter()
        .map(|&target| {
            let i = p.iter().position(|&x| x >= target)?;
            let hi = grid[i].as_us();
            Some(if i == 0 {
                (hi, hi)
            } else {
                (grid[i - 1].as_us(), hi)
            })
        })
        .collect();
    for step in 0..BISECTION_STEPS {
        let open: Vec<usize> = (0..targets.len())
            .filter(|&k| brackets[k].is_some_and(|(lo, hi)| hi - lo > 1))
            .collect();
        if open.is_empty() {
            break;
        }
        let mids: Vec<SimDuration> = open
            .iter()
            .map(|&k| {
                let (lo, hi) = brackets[k].expect("open");
                SimDuration(lo + (hi - lo) / 2)
            })
            .collect();
        let ps = eval(&mids, step);
        for (j, &k) in open.iter().enumerate() {
            let (lo, hi) = brackets[k].expect("open");
            let mid = mids[j].as_us();
            brackets[k] = Some(if ps[j] >= targets[k] {
                (lo, mid)
            } else {
                (mid, hi)
            });
        }
    }
    brackets
        .into_iter()
        .map(|b| b.map(|(_, hi)| SimDuration(hi).as_ms_f64()))
        .collect()
}

fn pbs_experiment(e: &Experiment, bar: &indicatif::ProgressBar) -> Outcome2 {
    let mut table = Table::new(&[
        "network",
        "quorum",
        "model",
        "t_ms",
        "reads",
        "consistent",
        "p_consistent",
    ]);
    let mut lat = Table::new(&[
        "network",
        "quorum",
        "model",
        "read_p999_ms",
        "write_p999_ms",
        "read_plus_write_p999_ms",
        "t_p0.99_ms",
        "t_p0.999_ms",
    ]);
    let mut charts = Vec::new();
    let points = network_quorum_points(e);
    let mut results = par_map(e.jobs, &points, |&(net, q)| {
        bar.inc(1);
        let cfg = ClusterConfig {
            read_repair: false,
            ..with_quorum(&e.cluster, q)
        };
        let proto = run_trials(&cfg, net, &e.via, e.seed, e.trials, e.keys, &e.delays);
        let (n, r, w) = (q.0 as usize, q.1 as usize, q.2 as usize);
        let links = || WarsLinks::new(&cfg, net, &e.via, e.seed, e.keys);
        let model = wars(net, (n, r, w), e.trials, &e.delays, e.seed, links());
        let probabilities = |seen: &[(u64, u64)]| -> Vec<f64> {
            seen.iter()
                .map(|&(ok, n)| ok as f64 / n.max(1) as f64)
                .collect()
        };
        // Each bisection step is a fresh run with a seed of its own.
        let step_seed = |step: u32| e.seed.wrapping_add(0x7153_0000 + u64::from(step));
        let proto_t = visibility_times(
            &e.delays,
            &probabilities(&proto.0),
            &VISIBILITY_TARGETS,
            |ds, step| {
                let seen = run_trials(&cfg, net, &e.via, step_seed(step), e.trials, e.keys, ds).0;
                probabilities(&seen)
            },
        );
        let model_t = visibility_times(
            &e.delays,
            &probabilities(&model.0),
            &VISIBILITY_TARGETS,
            |ds, step| {
                let seen = wars(net, (n, r, w), e.trials, ds, step_seed(step), links()).0;
                probabilities(&seen)
            },
        );
        (proto, model, proto_t, model_t)
    })
    .into_iter();
    for (net_name, _) in &e.networks {
        let mut series = Vec::new();
        for &q in &e.quorums {
            let (proto, model, proto_t, model_t) = results.next().expect("one result a point");
            let last_ms = e.delays.last().map_or(0.0, |d| d.as_ms_f64());
            for (mname, (seen, mut rl, mut wl), times) in
                [("dynsim", proto, proto_t), ("WARS", model, model_t)]
            {
                rl.sort_unstable();
                wl.sort_unstable();
                let (rp, wp) = (percentile(&rl, 0.999), percentile(&wl, 0.999));
                let mut row = vec![
                    net_name.clone(),
                    quorum_label(q),
                    mname.into(),
                    ms(rp as f64),
                    ms(wp as f64),
                    ms((rp + wp) as f64),
                ];
                row.extend(times.iter().map(|t| match t {
                    Some(t) => format!("{t:.3}"),
                    None => format!(">{last_ms}"),
                }));
                lat.push(row);
                let mut pts = Vec::new();
                for (i, d) in e.delays.iter().enumerate() {
                    let (ok, n) = seen[i];
                    let p = ok as f64 / n.max(1) as f64;
                    table.push(vec![
                        net_name.clone(),
                        quorum_label(q),
                        mname.into(),
                        format!("{}", d.as_ms_f64()),
                        n.to_string(),
                        ok.to_string(),
                        format!("{p:.4}"),
                    ]);
                    pts.push((d.as_ms_f64(), p));
                }
                if q.1 + q.2 <= q.0 {
                    series.push(Series {
                        name: format!("{} {mname}", quorum_label(q)),
                        points: pts,
                        dashed: mname == "WARS",
                    });
                }
            }
        }
        // 1 - P on a log axis, where 99% and 99.9% are a decade apart.
        let misses: Vec<Series> = series
            .iter()
            .map(|s| Series {
                points: s.points.iter().map(|&(t, p)| (t, 1.0 - p)).collect(),
                ..s.clone()
            })
            .collect();
        charts.push((
            format!("t-visibility ({net_name}), 1 - P on a log scale"),
            svg::line_chart(&Chart {
                title: format!("P(read t ms after commit misses the write), {net_name}"),
                x_label: "t after the write committed (ms)".into(),
                y_label: "1 - probability of consistency".into(),
                series: misses,
                markers: true,
                log_y: true,
                ..Chart::default()
            }),
        ));
        for (zoom, range) in [("first 20 ms", Some((0.0, 20.0))), ("all delays", None)] {
            charts.push((
                format!("t-visibility ({net_name}), {zoom}"),
                svg::line_chart(&Chart {
                    title: format!("P(read t ms after commit sees the write), {net_name}"),
                    x_label: "t after the write committed (ms)".into(),
                    y_label: "probability of consistency".into(),
                    series: series.clone(),
                    y_range: Some((0.0, 1.0)),
                    x_range: range,
                    markers: true,
                    ..Chart::default()
                }),
            ));
        }
    }
    // Both tables in one: the latency rows follow the visibility rows.
    let extra = lat.columns.len() - 3;
    table.columns.extend(lat.columns[3..].iter().cloned());
    for r in &mut table.rows {
        r.extend(std::iter::repeat_n(String::new(), extra));
    }
    for r in lat.rows {
        let mut row = r[..3].to_vec();
        row.extend(std::iter::repeat_n(String::new(), 4));
        row.extend(r[3..].iter().cloned());
        table.rows.push(row);
    }
    Outcome2 { table, charts }
}

/// `kstaleness` trials: each writes `m` versions of a fresh key one after
/// the other (each put carries the last one's clock, so each supersedes the
/// one before), then reads it once; how many versions behind the newest the
/// read's newest version is, `m` when it returned none.
struct KStale {
    router: Router,
    m: u32,
    total: u64,
    started: u64,
    written: u32,
    context: VClock,
    key: Option<dynamo_model::Key>,
    next_req: u64,
    /// Reads by how many versions behind they were (0..=m).
    behind: Vec<u64>,
    finished: u64,
}

impl KStale {
    fn send(&mut self, core: &mut Core<DynamoNode, Wake>, body: Request) {
        let key = self.key.clone().expect("a trial is running");
        let node = self.router.pick(&key, core);
        self.next_req += 1;
        core.schedule_request(core.now(), ClientId(0), node, self.next_req, body);
    }

    fn put_next(&mut self, core: &mut Core<DynamoNode, Wake>) {
        self.written += 1;
        let body = Request::Put {
            key: self.key.clone().expect("a trial is running"),
            value: Arc::from(format!("w{}", self.written).as_str()),
            context: self.context.clone(),
        };
        self.send(core, body);
    }

    fn start_trial(&mut self, core: &mut Core<DynamoNode, Wake>) {
        if self.started >= self.total {
            return;
        }
        self.started += 1;
        let key = self
            .router
            .ring
            .key(&format!("kstale{}", self.started))
            .expect("md5 keys");
        self.key = Some(key);
        self.written = 0;
        self.context = VClock::new();
        self.put_next(core);
    }
}

impl Harness<DynamoNode> for KStale {
    type Wake = Wake;

    fn on_reply(
        &mut self,
        core: &mut Core<DynamoNode, Wake>,
        _client: ClientId,
        req: u64,
        _node: NodeId,
        reply: Reply,
    ) {
        if req != self.next_req {
            return;
        }
        match reply {
            Reply::Got { versions, .. } => {
                let newest = versions
                    .iter()
                    .filter_map(|v| v.value.strip_prefix('w')?.parse::<u32>().ok())
                    .max()
                    .unwrap_or(0);
                self.behind[(self.m - newest.min(self.m)) as usize] += 1;
                self.finished += 1;
                self.start_trial(core);
            }
            other => {
                if let Reply::Put { clock, .. } = other {
                    self.context = clock;
                }
                if self.written < self.m {
                    self.put_next(core);
                } else {
                    let key = self.key.clone().expect("a trial is running");
                    self.send(core, Request::Get { key });
                }
            }
        }
    }
}

/// The probabilistic-quorum closed form (PBS, k-staleness): a read of R of N
/// replicas misses each of the last k writes, each to W of N, with
/// probability C(N-W, R) / C(N, R), independently; so it returns one of the
/// last k versions with probability 1 - (C(N-W, R) / C(N, R))^k.
pub fn k_staleness_closed_form(n: u32, r: u32, w: u32, k: u32) -> f64 {
    let choose = |a: u32, b: u32| -> f64 {
        if b > a {
            return 0.0;
        }
        (0..b).fold(1.0, |acc, i| acc * f64::from(a - i) / f64::from(i + 1))
    };
    let miss = choose(n - w, r) / choose(n, r);
    1.0 - libm::pow(miss, f64::from(k))
}

fn kstaleness_experiment(e: &Experiment, bar: &indicatif::ProgressBar) -> Outcome2 {
    let mut table = Table::new(&[
        "network",
        "quorum",
        "k",
        "trials",
        "within_k",
        "p_measured",
        "p_closed_form",
        "difference",
    ]);
    let m = e.ks.iter().copied().max().unwrap_or(1);
    let points = network_quorum_points(e);
    let mut results = par_map(e.jobs, &points, |&(net, q)| {
        bar.inc(1);
        let cfg = ClusterConfig {
            random_quorums: true,
            hinted_handoff: false,
            ..with_quorum(&e.cluster, q)
        };
        let mut cluster = Cluster::new(cfg.clone(), net, e.seed, false).expect("validated");
        let mut h = KStale {
            router: Router::new(&cfg, &e.via, cluster.ring.clone(), e.seed),
            m,
            total: e.trials,
            started: 0,
            written: 0,
            context: VClock::new(),
            key: None,
            next_req: 0,
            behind: vec![0; m as usize + 1],
            finished: 0,
        };
        h.start_trial(&mut cluster.sim.core);
        // Bounded: every op has a deadline, so a trial cannot hang.
        let cap = SimTime::ZERO + SimDuration::from_secs(e.trials * u64::from(m + 1) * 10 + 60);
        while h.finished < e.trials && cluster.now() < cap {
            let next = cluster.now() + SimDuration::from_secs(10);
            let stop = cluster.sim.run(&mut h, Limits::until(next));
            if stop == sim_core::Stop::Idle || stop.is_final() {
                break;
            }
        }
        h.behind
    })
    .into_iter();
    let mut charts = Vec::new();
    for (net_name, _) in &e.networks {
        let mut series = Vec::new();
        for &q in &e.quorums {
            let behind = results.next().expect("one result a point");
            let trials: u64 = behind.iter().sum();
            let (mut measured, mut closed) = (Vec::new(), Vec::new());
            for &k in &e.ks {
                let within: u64 = behind[..k as usize].iter().sum();
                let f = k_staleness_closed_form(q.0, q.1, q.2, k);
                // No read succeeded (a network that loses everything): no measurement.
                let p = (trials > 0).then(|| within as f64 / trials as f64);
                table.push(vec![
                    net_name.clone(),
                    quorum_label(q),
                    k.to_string(),
                    trials.to_string(),
                    within.to_string(),
                    p.map_or(String::new(), |p| format!("{p:.4}")),
                    format!("{f:.4}"),
                    p.map_or(String::new(), |p| format!("{:+.4}", p - f)),
                ]);
                if let Some(p) = p {
                    measured.push((f64::from(k), p));
                }
                closed.push((f64::from(k), f));
            }
            series.push(Series::new(format!("{} dynsim", quorum_label(q)), measured));
            series.push(Series {
                name: format!("{} closed form", quorum_label(q)),
                points: closed,
                dashed: true,
            });
        }
        charts.push((
            format!("k-staleness ({net_name})"),
            svg::line_chart(&Chart {
                title: format!("P(a read returns one of the last k versions), {net_name}"),
                x_label: "k (versions)".into(),
                y_label: "probability".into(),
                series,
                y_range: Some((0.0, 1.0)),
                markers: true,
                ..Chart::default()
            }),
        ));
    }
    Outcome2 { table, charts }
}

/// Read-modify-write clients that add distinct integers to one set-valued key.
struct SetAdders {
    adds_each: u32,
    think: SimDuration,
    nodes: u32,
    rng: SimRng,
    key: dynamo_model::Key,
    next_req: u64,
    /// Per client: adds done, and the pending op (get or put with its integer).
    done: Vec<u32>,
    pending: std::collections::BTreeMap<u64, (u32, Option<u64>)>,
    acked: Vec<u64>,
    final_read: Option<Vec<u64>>,
}

fn parse_set(vs: &[dynamo_model::Version]) -> Vec<u64> {
    let mut out: Vec<u64> = vs
        .iter()
        .flat_map(|v| {
            v.value
                .split(',')
                .filter_map(|x| x.parse().ok())
                .collect::<Vec<u64>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl SetAdders {
    fn get(&mut self, core: &mut Core<DynamoNode, Wake>, client: u32) {
        self.next_req += 1;
        self.pending.insert(self.next_req, (client, None));
        let node = NodeId(self.rng.below(u64::from(self.nodes)) as u32);
        core.schedule_request(
            core.now(),
            ClientId(client),
            node,
            self.next_req,
            Request::Get {
                key: self.key.clone(),
            },
        );
    }
}

impl Harness<DynamoNode> for SetAdders {
    type Wake = Wake;

    fn on_reply(
        &mut self,
        core: &mut Core<DynamoNode, Wake>,
        _c: ClientId,
        req: u64,
        _n: NodeId,
        reply: Reply,
    ) {
        let Some((client, adding)) = self.pending.remove(&req) else {
            return;
        };
        if client == u32::MAX {
            if let Reply::Got { versions, .. } = reply {
                self.final_read = Some(parse_set(&versions));
            }
            return;
        }
        match (adding, reply) {
            (
                None,
                Reply::Got {
                    versions, context, ..
                },
            ) => {
                // Merge the siblings by union, add this client's next integer, write back with the context.
                let mut set = parse_set(&versions);
                let x = u64::from(client) * 1_000_000 + u64::from(self.done[client as usize]);
                set.push(x);
                let value: Vec<String> = set.iter().map(u64::to_string).collect();
                self.next_req += 1;
                self.pending.insert(self.next_req, (client, Some(x)));
                let node = NodeId(self.rng.below(u64::from(self.nodes)) as u32);
                let body = Request::Put {
                    key: self.key.clone(),
                    value: Arc::from(value.join(",").as_str()),
                    context,
                };
                core.schedule_request(core.now(), ClientId(client), node, self.next_req, body);
            }
            (Some(x), Reply::Put { .. }) => {
                self.acked.push(x);
                self.done[client as usize] += 1;
                if self.done[client as usize] < self.adds_each {
                    let (client, tag) = (ClientId(client), u64::from(client));
                    core.schedule_wake(core.now() + self.think, Wake::Other { client, tag });
                }
            }
            // A failed get or put: try this add again after thinking.
            _ => {
                let (client, tag) = (ClientId(client), u64::from(client));
                core.schedule_wake(core.now() + self.think, Wake::Other { client, tag });
            }
        }
    }

    fn on_wake(&mut self, core: &mut Core<DynamoNode, Wake>, wake: Wake) {
        let Wake::Other { tag, .. } = wake else {
            return;
        };
        if tag == u64::MAX {
            self.next_req += 1;
            self.pending.insert(self.next_req, (u32::MAX, None));
            core.schedule_request(
                core.now(),
                ClientId(9_999),
                NodeId(0),
                self.next_req,
                Request::Get {
                    key: self.key.clone(),
                },
            );
        } else {
            self.get(core, tag as u32);
        }
    }
}

fn lww_experiment(e: &Experiment, bar: &indicatif::ProgressBar) -> Outcome2 {
    let mut table = Table::new(&[
        "versioning",
        "clients",
        "runs",
        "acknowledged_adds",
        "surviving_adds",
        "survival_percent",
    ]);
    let mut series = Vec::new();
    for (mode, label) in [
        (Versioning::VectorClock, "siblings merged by union"),
        (Versioning::LastWriteWins, "last write wins"),
    ] {
        let mut pts = Vec::new();
        for &clients in &e.clients {
            bar.inc(1);
            let (mut acked, mut kept) = (0usize, 0usize);
            for run in 0..e.trials {
                let cfg = ClusterConfig {
                    versioning: mode,
                    ..e.cluster.clone()
                };
                let seed = e.seed.wrapping_add(run);
                let net = &e.networks[0].1;
                let mut cluster = Cluster::new(cfg.clone(), net, seed, false).expect("validated");
                let key = cluster
                    .key(
                        if matches!(cfg.key_scheme, dynamo_model::KeyScheme::Integer { .. }) {
                            "1"
                        } else {
                            "set"
                        },
                    )
                    .expect("valid key");
                let mut h = SetAdders {
                    adds_each: e.adds_per_client,
                    think: SimDuration::from_ms(1),
                    nodes: cfg.nodes,
                    rng: SimRng::new(seed, Stream::Workload),
                    key,
                    next_req: 0,
                    done: vec![0; clients as usize],
                    pending: std::collections::BTreeMap::new(),
                    acked: Vec::new(),
                    final_read: None,
                };
                for c in 0..clients {
                    h.get(&mut cluster.sim.core, c);
                }
                let cap = cluster.now() + SimDuration::from_secs(3_600);
                while h.done.iter().any(|&d| d < h.adds_each) && cluster.now() < cap {
                    let next = cluster.now() + SimDuration::from_secs(1);
                    if cluster.sim.run(&mut h, Limits::until(next)).is_final() {
                        break;
                    }
                }
                // Let replication and repair settle, then read the set once.
                let quiet = cluster.now() + SimDuration::from_secs(30);
                let (client, tag) = (ClientId(9_999), u64::MAX);
                cluster
                    .sim
                    .core
                    .schedule_wake(quiet, Wake::Other { client, tag });
                cluster
                    .sim
                    .run(&mut h, Limits::until(quiet + SimDuration::from_secs(5)));
                let final_set = h.final_read.clone().unwrap_or_default();
                acked += h.acked.len();
                kept += h
                    .acked
                    .iter()
                    .filter(|x| final_set.binary_search(x).is_ok())
                    .count();
            }
            let pct = 100.0 * kept as f64 / acked.max(1) as f64;
            table.push(vec![
                label.into(),
                clients.to_string(),
                e.trials.to_string(),
                acked.to_string(),
                kept.to_string(),
                format!("{pct:.2}"),
            ]);
            pts.push((f64::from(clients), pct));
        }
        series.push(Series::new(label, pts));
    }
    let chart = svg::line_chart(&Chart {
        title: "acknowledged adds that survive in the final read".into(),
        x_label: "concurrent read-modify-write clients".into(),
        y_label: "% of acknowledged adds".into(),
        series,
        y_range: Some((0.0, 100.0)),
        markers: true,
        x_range: None,
        ..Chart::default()
    });
    Outcome2 {
        table,
        charts: vec![("lost updates".into(), chart)],
    }
}

fn balance_experiment(e: &Experiment, bar: &indicatif::ProgressBar) -> Outcome2 {
    let mut table = Table::new(&[
        "strategy",
        "tokens_per_node",
        "rings",
        "efficiency_mean",
        "efficiency_min",
    ]);
    let mut series = Vec::new();
    let nodes = e.cluster.nodes;
    for (label, s3) in [
        ("S1: T random tokens per node", false),
        ("S3: Q = T x nodes equal partitions", true),
    ] {
        let mut pts = Vec::new();
        for &t in &e.tokens_per_node {
            bar.inc(1);
            let tokens = if s3 {
                TokenStrategy::EqualPartitions {
                    partitions: t * nodes,
                }
            } else {
                TokenStrategy::Random { tokens_per_node: t }
            };
            let cfg = ClusterConfig {
                tokens,
                ..e.cluster.clone()
            };
            let mut effs = Vec::new();
            for run in 0..e.trials {
                let ring = Ring::build(
                    &cfg,
                    &mut SimRng::new(e.seed.wrapping_add(run), Stream::Setup),
                );
                // Each node's exact share of the key space it replicates:
                // the load of uniformly spread keys, without sampling any.
                let load = ring.replica_load(cfg.n as usize);
                let mean = load.iter().sum::<f64>() / f64::from(nodes);
                let max = load.iter().copied().fold(0.0, f64::max);
                effs.push(mean / max);
            }
            let m = effs.iter().sum::<f64>() / effs.len() as f64;
            let lo = effs.iter().copied().fold(f64::INFINITY, f64::min);
            table.push(vec![
                label.into(),
                t.to_string(),
                e.trials.to_string(),
                format!("{m:.4}"),
                format!("{lo:.4}"),
            ]);
            pts.push((f64::from(t), m));
        }
        series.push(Series::new(label, pts));
    }
    let chart = svg::line_chart(&Chart {
        title: format!("load-balance efficiency (mean load / max load), {nodes} nodes"),
        x_label: "tokens per node (log scale)".into(),
        y_label: "efficiency".into(),
        series,
        y_range: Some((0.0, 1.0)),
        markers: true,
        x_range: None,
        log_x: true,
        ..Chart::default()
    });
    Outcome2 {
        table,
        charts: vec![("load balance".into(), chart)],
    }
}

/// The largest ring a `joincost` experiment lets a node join.
pub const MAX_JOIN_RING: u32 = 10_000;

/// The ring a `joincost` point starts from: `nodes` nodes under S1 (T
/// random tokens each) or S3 (Q = T x nodes equal partitions).
fn join_cost_config(e: &Experiment, nodes: u32, t: u32, s3: bool) -> ClusterConfig {
    ClusterConfig {
        nodes,
        proxies: 0,
        tokens: if s3 {
            TokenStrategy::EqualPartitions {
                partitions: t * nodes,
            }
        } else {
            TokenStrategy::Random { tokens_per_node: t }
        },
        key_scheme: KeyScheme::Md5,
        datacenters: Vec::new(),
        node_datacenters: Vec::new(),
        datacenter_aware: false,
        ..e.cluster.clone()
    }
}

/// `joincost`: what moves when one node joins a ring of S nodes (§4.9, §6.2),
/// under S1 and S3, averaged over rings: the replica copies to make (the
/// ideal is N / (S + 1) of the key space: the new node's fair share), the
/// share of the key space whose replica set changes, and the ranges the new
/// tokens split (S3 moves whole partitions and splits none).
fn join_cost_experiment(e: &Experiment, bar: &indicatif::ProgressBar) -> Outcome2 {
    let mut table = Table::new(&[
        "strategy",
        "nodes",
        "tokens_per_node",
        "rings",
        "copies_mean",
        "copies_ideal",
        "changed_mean",
        "ranges_split_mean",
        "ranges",
    ]);
    let n = e.cluster.n;
    let mut copies_series = Vec::new();
    let mut split_series = Vec::new();
    for &t in &e.tokens_per_node {
        for (label, s3) in [("S1", false), ("S3", true)] {
            let (mut cp, mut sp) = (Vec::new(), Vec::new());
            for &nodes in &e.ring_sizes {
                bar.inc(1);
                let cfg = join_cost_config(e, nodes, t, s3);
                let (mut copies, mut changed, mut split) = (0.0, 0.0, 0.0);
                for run in 0..e.trials {
                    let seed = e.seed.wrapping_add(run);
                    let ring = Ring::build(&cfg, &mut SimRng::new(seed, Stream::Setup));
                    let after = dynamo_model::ring_change::joined(
                        &ring,
                        &cfg,
                        &mut SimRng::new(seed, Stream::Custom(11)),
                    );
                    let d = dynamo_model::ring_change::diff(&ring, &after, n as usize);
                    copies += d.copies;
                    changed += d.changed;
                    split += d.ranges_split as f64;
                }
                let runs = e.trials as f64;
                let ideal = f64::from(n) / f64::from(nodes + 1);
                let ranges = t * nodes;
                table.push(vec![
                    label.into(),
                    nodes.to_string(),
                    t.to_string(),
                    e.trials.to_string(),
                    format!("{:.5}", copies / runs),
                    format!("{ideal:.5}"),
                    format!("{:.5}", changed / runs),
                    format!("{:.2}", split / runs),
                    ranges.to_string(),
                ]);
                cp.push((f64::from(nodes), copies / runs));
                sp.push((f64::from(nodes), split / runs));
            }
            let name = format!("{label}, T = {t}");
            copies_series.push(Series::new(&name, cp));
            split_series.push(Series::new(&name, sp));
        }
    }
    let ideal: Vec<(f64, f64)> = e
        .ring_sizes
        .iter()
        .map(|&s| (f64::from(s), f64::from(n) / f64::from(s + 1)))
        .collect();
    copies_series.push(Series {
        dashed: true,
        ..Series::new("ideal: N / (S + 1)", ideal)
    });
    let copies = svg::line_chart(&Chart {
        title: format!("data copied when one node joins (N = {n})"),
        x_label: "nodes before the join (log scale)".into(),
        y_label: "replica copies made, as a share of the key space".into(),
        series: copies_series,
        markers: true,
        log_x: true,
        log_y: true,
        ..Chart::default()
    });
    let split = svg::line_chart(&Chart {
        title: "ranges the join splits (keys picked out one by one)".into(),
        x_label: "nodes before the join (log scale)".into(),
        y_label: "ranges split".into(),
        series: split_series,
        markers: true,
        log_x: true,
        ..Chart::default()
    });
    Outcome2 {
        table,
        charts: vec![
            ("data moved by a join".into(), copies),
            ("ranges split by a join".into(), split),
        ],
    }
}

pub fn points(e: &Experiment) -> u64 {
    let nets = e.networks.len() as u64;
    match e.kind.as_str() {
        "latency" => nets
            .saturating_mul(e.losses.len() as u64)
            .saturating_mul(e.quorums.len() as u64),
        "staleness" | "pbs" | "kstaleness" => nets.saturating_mul(e.quorums.len() as u64),
        "lww" => 2 * e.clients.len() as u64,
        "joincost" => {
            2 * (e.tokens_per_node.len() as u64).saturating_mul(e.ring_sizes.len() as u64)
        }
        _ => 2 * e.tokens_per_node.len() as u64,
    }
}

/// Everything the first `max_points` points do before their first simulated
/// event: each builds its cluster (for `balance`, its rings), and makes the
/// keys and the load it would use. For checking that a file the reader
/// accepts can run (the fuzz harness); it runs nothing.
pub fn prepare(e: &Experiment, max_points: usize) {
    let build = |cfg: ClusterConfig, net: &NetConfig| {
        Cluster::new(cfg, net, e.seed, false).expect("a validated experiment builds a cluster")
    };
    let key_name = |cfg: &ClusterConfig, k: u32| {
        if matches!(cfg.key_scheme, dynamo_model::KeyScheme::Integer { .. }) {
            k.to_string()
        } else {
            format!("key{k}")
        }
    };
    let mut budget = max_points;
    let mut point = || {
        let go = budget > 0;
        budget = budget.saturating_sub(1);
        go
    };
    match e.kind.as_str() {
        "latency" | "staleness" | "pbs" | "kstaleness" => {
            for (_, net) in &e.networks {
                for &loss in &e.losses {
                    for &q in &e.quorums {
                        if !point() {
                            return;
                        }
                        let cfg = with_quorum(&e.cluster, q);
                        let net = NetConfig {
                            loss,
                            ..net.clone()
                        };
                        let mut cluster = build(cfg.clone(), &net);
                        for k in [0, e.keys - 1] {
                            cluster
                                .key(&key_name(&cfg, k))
                                .expect("validated experiment keys");
                        }
                        if e.kind == "latency" {
                            cluster
                                .add_load(LoadSpec {
                                    clients: 1,
                                    pacing: Pacing::Closed {
                                        think: SimDuration::ZERO,
                                    },
                                    keys: e.keys,
                                    key_choice: KeyChoice::Uniform,
                                    read_fraction: 1.0,
                                    read_modify_write: false,
                                    delete_fraction: 0.0,
                                    entry: e.via.clone(),
                                    start: SimTime::ZERO,
                                    stop: SimTime::MAX,
                                    max_ops: Some(e.trials),
                                })
                                .expect("valid load");
                        }
                    }
                }
            }
        }
        "lww" => {
            for &_clients in &e.clients {
                for mode in [Versioning::VectorClock, Versioning::LastWriteWins] {
                    if !point() {
                        return;
                    }
                    let cfg = ClusterConfig {
                        versioning: mode,
                        ..e.cluster.clone()
                    };
                    let integer = matches!(cfg.key_scheme, dynamo_model::KeyScheme::Integer { .. });
                    build(cfg, &e.networks[0].1)
                        .key(if integer { "1" } else { "set" })
                        .expect("valid key");
                }
            }
        }
        "joincost" => {
            for &t in &e.tokens_per_node {
                for &nodes in &e.ring_sizes {
                    for s3 in [false, true] {
                        if !point() {
                            return;
                        }
                        let cfg = join_cost_config(e, nodes, t, s3);
                        assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
                        Ring::build(&cfg, &mut SimRng::new(e.seed, Stream::Setup));
                    }
                }
            }
        }
        _ => {
            let nodes = e.cluster.nodes;
            for &t in &e.tokens_per_node {
                for tokens in [
                    TokenStrategy::Random { tokens_per_node: t },
                    TokenStrategy::EqualPartitions {
                        partitions: t * nodes,
                    },
                ] {
                    if !point() {
                        return;
                    }
                    let cfg = ClusterConfig {
                        tokens,
                        ..e.cluster.clone()
                    };
                    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
                    let ring = Ring::build(&cfg, &mut SimRng::new(e.seed, Stream::Setup));
                    for k in [0, e.keys - 1] {
                        ring.key(&format!("key{k}")).expect("md5 keys");
                    }
                }
            }
        }
    }
}

/// Runs an experiment.
pub fn run(e: &Experiment, bar: &indicatif::ProgressBar) -> Outcome2 {
    bar.set_length(points(e));
    match e.kind.as_str() {
        "latency" => latency_experiment(e, bar),
        "staleness" => staleness_experiment(e, bar),
        "pbs" => pbs_experiment(e, bar),
        "lww" => lww_experiment(e, bar),
        "kstaleness" => kstaleness_experiment(e, bar),
        "joincost" => join_cost_experiment(e, bar),
        _ => balance_experiment(e, bar),
    }
}

fn describe_net(net: &NetConfig, datacenters: &[String]) -> String {
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

/// The self-contained HTML report (no network needed to view it).
pub fn report(e: &Experiment, out: &Outcome2) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;font-size:13px;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         th{{background:#f3f3f3}}code,pre{{background:#f6f6f6;padding:2px 4px}}figure{{margin:1em 0}}figure svg{{width:100%;height:auto}}\
         </style></head><body>",
        html(&e.name)
    );
    let _ = write!(
        o,
        "<h1>Experiment: {}</h1><p>{}</p>",
        html(&e.name),
        html(&e.description)
    );
    let _ = write!(o, "<h2>Setup</h2><table>");
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
        params.push((
            "quorums (N, R, W)".into(),
            e.quorums
                .iter()
                .map(|q| format!("({}, {}, {})", q.0, q.1, q.2))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    if !e.delays.is_empty() {
        params.push((
            "delays".into(),
            e.delays
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    if e.losses.len() > 1 {
        params.push((
            "loss rates".into(),
            e.losses
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    if !e.tokens_per_node.is_empty() {
        params.push((
            "tokens per node".into(),
            e.tokens_per_node
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    if !e.clients.is_empty() {
        params.push((
            "clients".into(),
            e.clients
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ));
        params.push(("adds per client".into(), e.adds_per_client.to_string()));
    }
    for (k, v) in params {
        let _ = write!(
            o,
            "<tr><th>{}</th><td style=\"text-align:left\">{}</td></tr>",
            html(&k),
            html(&v)
        );
    }
    o.push_str("</table>");
    let dev = if e.deviations.is_empty() {
        "None stated.".to_string()
    } else {
        e.deviations.clone()
    };
    let _ = write!(
        o,
        "<h2>Deviations from the original setup</h2><p>{}</p>",
        html(&dev)
    );
    o.push_str("<h2>Results</h2>");
    for (caption, chart) in &out.charts {
        let _ = write!(
            o,
            "<figure>{chart}<figcaption>{}</figcaption></figure>",
            html(caption)
        );
    }
    if let Some(r) = &e.reference {
        let _ = write!(
            o,
            "<h2>Published values</h2><p>From {}.</p><table><tr><th>what</th><th>published</th><th>this experiment</th><th>difference</th></tr>",
            html(&r.source)
        );
        for (label, published, ours) in compare_reference(r, &out.table) {
            let (mine, diff) = match ours {
                Some(x) => (format!("{x}"), format!("{:+.4}", x - published)),
                None => ("no result matches".to_string(), String::new()),
            };
            let _ = write!(
                o,
                "<tr><td style=\"text-align:left\">{}</td><td>{published}</td><td>{}</td><td>{}</td></tr>",
                html(&label),
                html(&mine),
                html(&diff)
            );
        }
        o.push_str("</table>");
        if !r.note.is_empty() {
            let _ = write!(o, "<p>{}</p>", html(&r.note));
        }
    }
    o.push_str(&out.table.to_html());
    let _ = write!(
        o,
        "<p>Reproduce: <code>dynsim experiment {}</code></p></body></html>",
        html(&e.path)
    );
    o
}

/// Runs the experiment at `path` and returns its HTML report (for `dynsim serve`).
pub fn report_html(path: &str) -> Result<String, String> {
    let e = load(path).map_err(|d| d.to_string())?;
    let out = run(&e, &indicatif::ProgressBar::hidden());
    Ok(report(&e, &out))
}

#[cfg(test)]
mod visibility_tests {
    use super::*;

    // Bisection finds where a known P(t) crosses each target, to within the
    // grid gap / 256; a target reached at the first delay is that delay; one
    // never reached is None.
    #[test]
    fn bisection_finds_the_crossing() {
        // P(t) = t / 10 ms, capped at 1.
        let p_at = |d: SimDuration| (d.as_us() as f64 / 10_000.0).min(1.0);
        let grid: Vec<SimDuration> = [0, 5, 20, 40].map(SimDuration::from_ms).to_vec();
        let p: Vec<f64> = grid.iter().map(|&d| p_at(d)).collect();
        let runs = std::cell::Cell::new(0);
        let eval = |ds: &[SimDuration], _step: u32| {
            runs.set(runs.get() + 1);
            ds.iter().map(|&d| p_at(d)).collect()
        };
        let t = visibility_times(&grid, &p, &[0.99, 0.999, 0.0, 1.5], eval);
        let gap_ms = 15.0 / 256.0;
        let t99 = t[0].unwrap();
        assert!((9.9..=9.9 + gap_ms).contains(&t99), "{t99}");
        let t999 = t[1].unwrap();
        assert!((9.99..=9.99 + gap_ms).contains(&t999), "{t999}");
        assert_eq!(t[2], Some(0.0), "reached at the first delay");
        assert_eq!(t[3], None, "never reached");
        assert_eq!(
            runs.get(),
            BISECTION_STEPS,
            "both targets share each step's run"
        );
    }
}
