//! The explorer on small scopes: counts, reductions against plain search,
//! threads, and seeing injected bugs.

use crate::*;
use dynamo_model::ClusterConfig;
use dynamo_observer::{ClusterPlan, Entry, OpKind};
use sim_core::{ClientId, NetConfig, NodeId};

pub(crate) fn scope(nodes: u32, n: u32, r: u32, w: u32, budgets: Budgets) -> Scope {
    let cfg = ClusterConfig {
        nodes,
        n,
        r,
        w,
        gossip: false,
        anti_entropy: false,
        ..ClusterConfig::default()
    };
    let plan = ClusterPlan::new(cfg, &NetConfig::default()).expect("valid");
    let key = dynamo_model::Key::md5("k");
    let client = |i: u32| ClientScope {
        id: ClientId(i),
        entry: Entry::Node(NodeId(i % nodes)),
        ops: vec![
            ScopeOp {
                kind: OpKind::Put,
                key: key.clone(),
                value: Some(format!("v{i}")),
            },
            ScopeOp {
                kind: OpKind::Get,
                key: key.clone(),
                value: None,
            },
        ],
        read_modify_write: true,
    };
    Scope {
        plan,
        seed: 1,
        clients: vec![client(0), client(1)],
        budgets,
        timers: Vec::new(),
        bounds: DEFAULT_BOUNDS,
        search: Search::Dfs,
        reduction: Reduction::SleepSets,
        symmetry: false,
    }
}

fn all_terminals(
    scope: &Scope,
    s: &State,
    out: &mut std::collections::BTreeMap<sim_core::digest::Digest, Vec<Step>>,
) {
    let en = s.enabled(scope);
    if en.is_empty() {
        out.entry(s.digest()).or_insert_with(|| steps_of(&s.path));
        return;
    }
    for a in en {
        if let Some((c, _)) = s.apply(scope, a) {
            all_terminals(scope, &c, out);
        }
    }
}

#[test]
fn debug_dpor() {
    let mut s = scope(3, 3, 2, 2, Budgets::default());
    s.clients.truncate(1);
    s.clients[0].ops.truncate(1);
    let mut all = std::collections::BTreeMap::new();
    all_terminals(&s, &State::initial(&s, false), &mut all);
    s.reduction = Reduction::Dpor;
    let r = explore(&s, 1, true, &Quiet);
    let got = r.terminal_digests.unwrap();
    eprintln!("plain {} dpor {}", all.len(), got.len());
    for (d, path) in &all {
        if !got.contains(d) {
            eprintln!("MISSING:");
            for st in path {
                eprintln!("   {:?}", st.kind);
            }
        }
    }
    for (d, path) in &all {
        if got.contains(d) {
            eprintln!("FOUND:");
            for st in path {
                eprintln!("   {:?}", st.kind);
            }
        }
    }
}
