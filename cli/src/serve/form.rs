//! The form: decoding it, the quick fields, and turning both into a
//! validated scenario. Quick fields are written into the scenario's TOML and
//! the result goes through `scenario::parse`, the same validation (and caps)
//! as a file on the command line; the page adds its own caps on what a run
//! allocates before its first event, for typed TOML and quick fields alike.

use super::listing;
use super::listing::{DEFAULT_SCENARIO, SCENARIO_DIR};
use crate::scenario::{self, Scenario};
use dynamo_observer::OpKind;
use std::collections::BTreeMap;

/// The largest cluster the page builds.
pub(super) const MAX_NODES: u32 = 1_000;
/// The most ring tokens the page builds (all nodes together).
pub(super) const MAX_TOKENS: u64 = 100_000;
/// The most keys and clients of generated load the page accepts.
pub(super) const MAX_LOAD_KEYS: u64 = 1_000_000;
pub(super) const MAX_LOAD_CLIENTS: u64 = 10_000;

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
pub(super) fn percent_decode(s: &str) -> String {
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
pub(super) fn parse_params(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// The quick fields: form name, label, help.
pub(super) const QUICK: &[(&str, &str, &str)] = &[
    ("seed", "Seed", "whole number"),
    ("nodes", "Nodes", "1 to 1000 here"),
    ("n", "N", "replicas per key"),
    ("r", "R", "replies a get needs"),
    ("w", "W", "acks a put needs"),
    ("lat_min", "Latency min (ms)", "uniform one-way"),
    ("lat_max", "Latency max (ms)", "uniform one-way"),
    ("loss", "Loss", "probability 0 to 1"),
];

/// What the form holds: the scenario, its text, the quick fields and the op to chart.
#[derive(Clone, Debug, Default)]
pub(super) struct Form {
    pub(super) scenario: String,
    pub(super) toml: String,
    pub(super) quick: BTreeMap<&'static str, String>,
    pub(super) op: String,
}

impl Form {
    pub(super) fn from_params(p: &BTreeMap<String, String>) -> Form {
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
pub(super) struct Quick {
    pub(super) seed: Option<u64>,
    pub(super) nodes: Option<u32>,
    pub(super) n: Option<u32>,
    pub(super) r: Option<u32>,
    pub(super) w: Option<u32>,
    /// Uniform latency, min and max in milliseconds.
    pub(super) latency: Option<(f64, f64)>,
    pub(super) loss: Option<f64>,
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
pub(super) fn parse_quick(q: &BTreeMap<&'static str, String>) -> (Quick, Vec<String>) {
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
    let nodes = whole("nodes", 0, u64::from(u32::MAX)).map(|x| x as u32);
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
pub(super) fn build_scenario(file: &str, text: &str, q: &Quick) -> Result<Scenario, Vec<String>> {
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

pub(super) fn default_scenario(list: &[String]) -> String {
    if list.iter().any(|s| s == DEFAULT_SCENARIO) {
        DEFAULT_SCENARIO.to_string()
    } else {
        list.first().cloned().unwrap_or_default()
    }
}

/// The scenario to run (quick fields applied), the file name it is shown as, and the seed.
pub(super) struct Prepared {
    pub(super) file: String,
    pub(super) scenario: Scenario,
    pub(super) seed: u64,
}

/// The name the page gives scenario text that is not a listed file's as it
/// stands: the file it asks the user to save it as.
pub(super) const PASTED: &str = "scenario.toml";

/// Reads the form into a scenario, or every problem with it.
pub(super) fn prepare(
    dir: &std::path::Path,
    list: &[String],
    form: &mut Form,
) -> Result<Prepared, Vec<String>> {
    if form.scenario.is_empty() && form.toml.trim().is_empty() {
        form.scenario = default_scenario(list);
    }
    if form.toml.trim().is_empty() {
        match listing::read_listed(dir, SCENARIO_DIR, list, &form.scenario, "scenario") {
            Ok(t) => form.toml = t,
            Err(e) => return Err(vec![e]),
        }
    }
    // Text that is not the chosen file's (pasted or edited) is named as the
    // file the page asks the user to save it as, so that its errors' lines
    // and the command that reproduces it point at that text, not at the file.
    let as_listed = !form.scenario.is_empty()
        && listing::read_listed(dir, SCENARIO_DIR, list, &form.scenario, "scenario")
            .is_ok_and(|t| t.replace("\r\n", "\n") == form.toml.replace("\r\n", "\n"));
    let file = if as_listed {
        format!("{SCENARIO_DIR}/{}", form.scenario)
    } else {
        PASTED.to_string()
    };
    // Valid quick fields still apply, so that every problem shows at once.
    let (quick, mut errors) = parse_quick(&form.quick);
    let parsed = build_scenario(&file, &form.toml, &quick);
    match parsed {
        Ok(s) if errors.is_empty() && !page_caps(&s).is_empty() => Err(page_caps(&s)),
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
pub(super) fn parse_op(s: &str) -> Option<(OpKind, u64)> {
    let (kind, id) = s.split_once('#')?;
    let kind = match kind {
        "get" => OpKind::Get,
        "put" => OpKind::Put,
        _ => return None,
    };
    Some((kind, id.parse().ok()?))
}

/// What the page refuses to build, whichever way the scenario was typed: the
/// parts of a run that allocate before its first event, which no event or
/// wall-time budget can cut. Everything else is bounded by the run's budgets.
pub(super) fn page_caps(s: &Scenario) -> Vec<String> {
    let mut errs = Vec::new();
    let c = &s.cluster;
    if c.nodes > MAX_NODES {
        errs.push(format!(
            "cluster.nodes: {} nodes is more than this page builds (at most {MAX_NODES}); run it on the command line with dynsim run",
            c.nodes
        ));
    }
    let tokens = match &c.tokens {
        dynamo_model::TokenStrategy::Random { tokens_per_node } => {
            u64::from(*tokens_per_node) * u64::from(c.nodes)
        }
        dynamo_model::TokenStrategy::EqualPartitions { partitions } => u64::from(*partitions),
        dynamo_model::TokenStrategy::Explicit { tokens } => {
            tokens.iter().map(|t| t.len() as u64).sum()
        }
    };
    if tokens > MAX_TOKENS {
        errs.push(format!(
            "cluster: the ring would have {tokens} tokens, more than this page builds (at most {MAX_TOKENS}); run it on the command line with dynsim run"
        ));
    }
    if let Some(load) = &s.load {
        if u64::from(load.keys) > MAX_LOAD_KEYS {
            errs.push(format!(
                "load.keys: {} keys is more than this page accepts (at most {MAX_LOAD_KEYS}); run it on the command line with dynsim run",
                load.keys
            ));
        }
        if u64::from(load.clients) > MAX_LOAD_CLIENTS {
            errs.push(format!(
                "load.clients: {} clients is more than this page accepts (at most {MAX_LOAD_CLIENTS}); run it on the command line with dynsim run",
                load.clients
            ));
        }
    }
    errs
}
