//! A check scope file (`dynsim check`): a scenario's `[cluster]` with a
//! `[check]` table that bounds the search, and the clients that issue
//! operations.

use crate::scenario::diag::{Collector, Diags};
use crate::scenario::toml_read::{Tbl, read_document, read_file};
use crate::scenario::{NODES_UNKNOWN, read_client, read_cluster, read_entry};
use dynamo_explorer::{
    Bounds, Budgets, COUNTED_TIMERS, ClientScope, DEFAULT_BOUNDS, Reduction, Scope, ScopeOp, Search,
};
use dynamo_model::{ClusterConfig, Key};
use dynamo_observer::{ClusterPlan, OpKind};
use sim_core::NetConfig;

/// A scope file, read and checked.
#[derive(Clone, Debug)]
pub struct ScopeFile {
    /// The file it was read from.
    pub path: String,
    /// Its name.
    pub name: String,
    /// What it covers.
    pub description: String,
    /// The cluster, as configured.
    pub cluster: ClusterConfig,
    /// The scope the explorer takes.
    pub scope: Scope,
}

const TOP: &[&str] = &["name", "description", "seed", "cluster", "check"];
const CHECK: &[&str] = &[
    "search",
    "reduction",
    "max_depth",
    "max_states",
    "max_memory",
    "drops",
    "duplicates",
    "crashes",
    "wipes",
    "partitions",
    "timers",
    "quorum_reads",
    "walks",
    "change_points",
    "client",
];
const CLIENT: &[&str] = &["client", "node", "ops", "read_modify_write"];

/// Budgets of any one fault at most: beyond a few, no scope finishes.
pub const MAX_BUDGET: u64 = 8;
/// Operations per client at most, and clients at most.
pub const MAX_OPS: usize = 16;
/// Clients in a scope at most.
pub const MAX_CLIENTS: usize = 8;

/// Reads and checks a scope file.
pub fn load(path: &str) -> Result<ScopeFile, Diags> {
    parse(path, &read_file(path)?)
}

/// Parses and checks scope text; `file` names it in messages.
pub fn parse(file: &str, src: &str) -> Result<ScopeFile, Diags> {
    read_document(file, src, |c, root| read(c, root, file))
}

/// Reads a byte size: an integer of bytes, or a string with a unit (`"512MiB"`, `"2GiB"`).
fn read_bytes(c: &mut Collector, t: &Tbl, key: &str) -> Option<u64> {
    let v = t.get(key)?;
    if v.get_ref().as_integer().is_some() {
        return t.u64(c, key);
    }
    let s = t.str(c, key)?;
    let trimmed = s.trim();
    let split = trimmed
        .find(|ch: char| !ch.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (num, unit) = trimmed.split_at(split);
    let mult: Option<u64> = match unit.trim() {
        "" | "B" => Some(1),
        "KiB" => Some(1 << 10),
        "MiB" => Some(1 << 20),
        "GiB" => Some(1 << 30),
        "TiB" => Some(1 << 40),
        _ => None,
    };
    match (num.parse::<u64>().ok(), mult) {
        (Some(n), Some(m)) if n.checked_mul(m).is_some() => Some(n * m),
        _ => {
            c.err(
                t.span_of(key),
                t.field(key),
                format!("{s:?} is not a size; give bytes with a unit, like \"512MiB\" or \"2GiB\" (units B, KiB, MiB, GiB, TiB)"),
            );
            None
        }
    }
}

fn read_op(
    c: &mut Collector,
    t: &Tbl,
    text: &str,
    span: std::ops::Range<usize>,
    cfg: Option<&ClusterConfig>,
) -> Option<ScopeOp> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let field = t.field("ops");
    let (kind, key, value) = match words.as_slice() {
        ["put", k, v] => (OpKind::Put, *k, Some(v.to_string())),
        ["get", k] => (OpKind::Get, *k, None),
        ["delete", k] => (OpKind::Delete, *k, None),
        _ => {
            c.err(
                span,
                field,
                format!("{text:?} is not an operation; write \"put KEY VALUE\", \"get KEY\" or \"delete KEY\""),
            );
            return None;
        }
    };
    let key = match Key::new(&cfg?.key_scheme, key) {
        Ok(k) => k,
        Err(e) => {
            c.err(span, field, e);
            return None;
        }
    };
    Some(ScopeOp { kind, key, value })
}

fn read(c: &mut Collector, root: &Tbl, file: &str) -> Option<ScopeFile> {
    root.only(c, TOP);
    let name = root.str(c, "name");
    root.require(
        c,
        "name",
        "every scope needs a name, like name = \"three_nodes\"",
    );
    let description = root.str(c, "description").unwrap_or_default();
    let seed = root.u64(c, "seed").unwrap_or(1);
    let cluster = match root.table(c, "cluster") {
        Some(t) => read_cluster(c, &t),
        None => {
            root.require(c, "cluster", "a [cluster] table with at least `nodes`");
            None
        }
    };
    let nodes = cluster.as_ref().map_or(NODES_UNKNOWN, |cl| cl.nodes);
    let proxies = cluster.as_ref().map_or(u32::MAX, |cl| cl.proxies);
    let Some(t) = root.table(c, "check") else {
        root.require(
            c,
            "check",
            "a [check] table with the clients and the search's bounds (see `dynsim check --help`)",
        );
        return None;
    };
    t.only(c, CHECK);
    let d = DEFAULT_BOUNDS;
    let bounds = Bounds {
        max_depth: t
            .count(c, "max_depth", 1, 10_000)
            .map_or(d.max_depth, |v| v as u32),
        max_states: t.count(c, "max_states", 1, 1 << 40).unwrap_or(d.max_states),
        max_memory: read_bytes(c, &t, "max_memory").unwrap_or(d.max_memory),
    };
    let budget = |c: &mut Collector, key: &str| t.count(c, key, 0, MAX_BUDGET).unwrap_or(0) as u32;
    let budgets = Budgets {
        drops: budget(c, "drops"),
        duplicates: budget(c, "duplicates"),
        crashes: budget(c, "crashes"),
        wipes: budget(c, "wipes"),
        partitions: budget(c, "partitions"),
    };
    let mut timers = Vec::new();
    if let Some(tt) = t.table(c, "timers") {
        tt.only(c, COUNTED_TIMERS);
        for label in COUNTED_TIMERS {
            if let Some(n) = tt.count(c, label, 0, MAX_BUDGET) {
                timers.push((*label, n as u32));
            }
        }
    }
    let search = match t.str(c, "search").as_deref() {
        None | Some("dfs") => Search::Dfs,
        Some("bfs") => Search::Bfs,
        Some("random") => Search::Random {
            walks: t.count(c, "walks", 1, 1 << 32).unwrap_or(10_000),
            change_points: t.count(c, "change_points", 0, 8).unwrap_or(2) as u32,
            seed,
        },
        Some(other) => {
            c.err(
                t.span_of("search"),
                t.field("search"),
                format!("unknown search {other:?}; valid searches are \"dfs\" (the default), \"bfs\" (shortest counterexamples, in parallel) and \"random\" (PCT-style walks)"),
            );
            Search::Dfs
        }
    };
    if !matches!(search, Search::Random { .. }) {
        for k in ["walks", "change_points"] {
            if t.has(k) {
                c.err(
                    t.span_of(k),
                    t.field(k),
                    format!("{k} applies only to search = \"random\""),
                );
            }
        }
    }
    let reduction = match t.str(c, "reduction").as_deref() {
        None | Some("none") => Reduction::None,
        Some("sleep-sets") => Reduction::SleepSets,
        Some("dpor") => {
            if search != Search::Dfs {
                c.err(
                    t.span_of("reduction"),
                    t.field("reduction"),
                    "DPOR searches depth first: set search = \"dfs\" (the default), or reduction = \"sleep-sets\" for breadth first",
                );
            }
            Reduction::Dpor
        }
        Some(other) => {
            c.err(
                t.span_of("reduction"),
                t.field("reduction"),
                format!("unknown reduction {other:?}; valid reductions are \"dpor\" (depth first only), \"sleep-sets\" and \"none\" (the default: with the visited set, the fastest on the bundled scopes; BENCHMARKS.md)"),
            );
            Reduction::SleepSets
        }
    };
    let always_judge_reads = match t.str(c, "quorum_reads").as_deref() {
        None | Some("auto") => false,
        Some("always") => true,
        Some(other) => {
            c.err(
                t.span_of("quorum_reads"),
                t.field("quorum_reads"),
                format!("unknown mode {other:?}; valid modes are \"auto\" (only when R + W > N and no fault) and \"always\""),
            );
            false
        }
    };
    let mut clients = Vec::new();
    let tables = t.tables(c, "client");
    if tables.len() > MAX_CLIENTS {
        c.err(
            t.span_of("client"),
            t.field("client"),
            format!(
                "{} clients; a scope takes at most {MAX_CLIENTS}",
                tables.len()
            ),
        );
    }
    for (i, ct) in tables.iter().enumerate() {
        ct.only(c, CLIENT);
        let id = if ct.has("client") {
            read_client(c, ct)
        } else {
            Some(sim_core::ClientId(i as u32))
        };
        ct.require(
            c,
            "node",
            "where its requests go: a node (\"n0\") or \"owner\"",
        );
        let entry = read_entry(c, ct, "node", nodes, proxies);
        ct.require(
            c,
            "ops",
            "its operations, like ops = [\"put k v1\", \"get k\"]",
        );
        let mut ops = Vec::new();
        if let Some(items) = ct.strings(c, "ops") {
            if items.is_empty() || items.len() > MAX_OPS {
                c.err(
                    ct.span_of("ops"),
                    ct.field("ops"),
                    format!("{} operations; a client issues 1 to {MAX_OPS}", items.len()),
                );
            }
            for (text, span) in items {
                if let Some(op) = read_op(c, ct, &text, span, cluster.as_ref()) {
                    ops.push(op);
                }
            }
        }
        let read_modify_write = ct.bool(c, "read_modify_write").unwrap_or(true);
        if let (Some(id), Some(entry)) = (id, entry) {
            if clients.iter().any(|cl: &ClientScope| cl.id == id) {
                c.err(
                    ct.span_of("client"),
                    ct.field("client"),
                    format!("client {id} is named twice; each client is one [[check.client]]"),
                );
            }
            clients.push(ClientScope {
                id,
                entry,
                ops,
                read_modify_write,
            });
        }
    }
    let cluster = cluster?;
    let plan = match ClusterPlan::new(cluster.clone(), &NetConfig::default()) {
        Ok(p) => p,
        Err(errs) => {
            for e in errs {
                c.err(root.span_of("cluster"), "cluster", e);
            }
            return None;
        }
    };
    let scope = Scope {
        plan,
        seed,
        clients,
        budgets,
        timers,
        bounds,
        search,
        reduction,
        always_judge_reads,
    };
    for problem in scope.check_bounds() {
        let key = if problem.starts_with("max_states") {
            "max_states"
        } else if problem.starts_with("max_depth") {
            "max_depth"
        } else {
            "max_memory"
        };
        let span = if t.has(key) {
            t.span_of(key)
        } else {
            t.span.clone()
        };
        c.err(span, t.field(key), problem);
    }
    Some(ScopeFile {
        path: file.to_string(),
        name: name?,
        description,
        cluster,
        scope,
    })
}
