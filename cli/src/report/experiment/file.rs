//! Reading an experiment file: every problem found, with its position.

use super::join_cost::join_cost_config;
use super::spec::*;
use crate::scenario::diag::{Collector, Diags};
use crate::scenario::toml_read::{Tbl, read_document, read_file};
use crate::scenario::{
    EXPERIMENT_ONLY, NODES_UNKNOWN, SCENARIO_ONLY, check_key_count, kind_marker, read_cluster,
    read_entry, read_network,
};
use dynamo_model::limits;
use dynamo_model::{ClusterConfig, KeyScheme, TokenStrategy};
use dynamo_observer::Entry;
use sim_core::{NetConfig, SimDuration};
use toml::de::DeValue;

pub(super) const KINDS: &[&str] = &[
    "latency",
    "staleness",
    "pbs",
    "lww",
    "balance",
    "kstaleness",
    "joincost",
];

pub(super) const TOP: &[&str] = &[
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
pub(super) const SWEEP: &[&str] = &[
    "quorums",
    "networks",
    "delays",
    "loss",
    "tokens_per_node",
    "clients",
    "keys",
    "adds_per_client",
    "skews",
    "k",
    "nodes",
];

/// The optional fields each kind reads: a field of `[sweep]`, or the
/// top-level `via` and `[network]`, that its kind ignores is refused, since
/// a user who sets it expects it to change the results.
const USES: &[(&str, &[&str])] = &[
    (
        "latency",
        &["quorums", "networks", "loss", "keys", "via", "network"],
    ),
    (
        "staleness",
        &["quorums", "networks", "delays", "keys", "via", "network"],
    ),
    (
        "pbs",
        &["quorums", "networks", "delays", "keys", "via", "network"],
    ),
    (
        "kstaleness",
        &["quorums", "networks", "k", "via", "network"],
    ),
    (
        "lww",
        &["clients", "adds_per_client", "skews", "networks", "network"],
    ),
    ("balance", &["tokens_per_node"]),
    ("joincost", &["nodes", "tokens_per_node"]),
];

/// Reports each field present that `kind` does not read.
fn refuse_unused(c: &mut Collector, root: &Tbl, sweep: Option<&Tbl>, kind: &str) {
    let Some((_, uses)) = USES.iter().find(|(k, _)| *k == kind) else {
        return; // an unknown kind is reported already
    };
    let reads: Vec<String> = uses
        .iter()
        .map(|f| match *f {
            "via" => "via".to_string(),
            "network" => "[network]".to_string(),
            f => format!("sweep.{f}"),
        })
        .collect();
    let reads = reads.join(", ");
    for key in ["via", "network"] {
        if root.has(key) && !uses.contains(&key) {
            c.err(
                root.span_of(key),
                key,
                format!(
                    "a {kind} experiment does not use {key}; remove it (besides its cluster it reads {reads})"
                ),
            );
        }
    }
    if let Some(sw) = sweep {
        for key in SWEEP {
            if sw.has(key) && !uses.contains(key) {
                c.err(
                    sw.span_of(key),
                    sw.field(key),
                    format!(
                        "a {kind} experiment does not use sweep.{key}; remove it (besides its cluster it reads {reads})"
                    ),
                );
            }
        }
    }
}

/// Reads `[reference]`: `source`, `note` and `[[reference.values]]`, each
/// with `label`, `where` (a table of result columns and the values a row must
/// hold), `column` and `value`.
pub(super) fn read_reference(c: &mut Collector, t: &Tbl) -> Reference {
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

pub(super) fn read(c: &mut Collector, root: &Tbl, path: &str) -> Option<Experiment> {
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
        Some(t) => read_network(c, &t, nodes, dcs.as_deref(), &[]),
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
        skews: Vec::new(),
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
        if exp.kind == "kstaleness" {
            c.err(
                cluster_tbl_span(root),
                "cluster.keys",
                "a kstaleness experiment writes a fresh key each trial, placed by the MD5 of its name (kstale1, kstale2, ...); use keys = \"md5\"",
            );
        }
    }
    let sweep = root.table(c, "sweep");
    refuse_unused(c, root, sweep.as_ref(), &exp.kind);
    if let Some(sw) = sweep {
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
            if let Some(net) = read_network(c, &inner, nodes, dcs.as_deref(), &[]) {
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
        if let Some(arr) = sw.array(c, "skews") {
            for v in arr.iter() {
                let what = "each skew is a signed duration of at most 60min either way, like \"-50ms\" (n0 behind) or \"+50ms\"";
                let DeValue::String(text) = v.get_ref() else {
                    c.err(
                        v.span(),
                        sw.field("skews"),
                        format!("expected a string; {what}"),
                    );
                    continue;
                };
                let (neg, rest) = match text.strip_prefix('-') {
                    Some(r) => (true, r),
                    None => (false, text.strip_prefix('+').unwrap_or(text)),
                };
                match SimDuration::parse(rest) {
                    Ok(d) if d.as_us() <= MAX_SKEW_US as u64 => {
                        let us = d.as_us() as i64;
                        exp.skews.push(if neg { -us } else { us });
                    }
                    Ok(_) => c.err(
                        v.span(),
                        sw.field("skews"),
                        format!("{text} is above the bound; {what}"),
                    ),
                    Err(e) => c.err(v.span(), sw.field("skews"), format!("{e}; {what}")),
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
pub(super) fn cluster_tbl_span(root: &Tbl) -> std::ops::Range<usize> {
    match root.get("cluster").map(|v| (v.span(), v.get_ref())) {
        Some((span, DeValue::Table(t))) => t.get("keys").map_or(span, |k| k.span()),
        Some((span, _)) => span,
        None => root.span.clone(),
    }
}
