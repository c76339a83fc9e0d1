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
        search: Search::Bfs,
        reduction: Reduction::SleepSets,
        symmetry: false,
    }
}

#[test]
fn smoke() {
    let mut s = scope(3, 3, 2, 2, Budgets::default());
    s.search = Search::Dfs;
    s.bounds.max_states = 50_000_000;
    s.bounds.max_memory = 8 << 30;
    let r = explore(&s, 1, false, &Quiet);
    eprintln!("{:?} {:?} {:?}", r.progress, r.stopped, r.violations.iter().map(|v| v.property).collect::<Vec<_>>());
}
