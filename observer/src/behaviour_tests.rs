//! Behaviour tests of the model, driven through sim-core.

use crate::truth::Truth;
use crate::{Cluster, Entry, KeyChoice, LoadSpec, OpKind, OpRecord, Outcome, Pacing, PlannedOp};
use dynamo_model::Causality;
use dynamo_model::{ClusterConfig, KeyScheme, TokenStrategy, Versioning};
use sim_core::{ClientId, Fault, Latency, NetConfig, NodeId, SimDuration, SimTime};

fn ms(t: u64) -> SimTime {
    SimTime(t * 1_000)
}

/// The seed project's test cluster: 4 nodes, integer keys in 8 slots, tokens {n0:[1], n1:[2], n2:[3], n3:[0]}.
fn seed_cluster(n: u32, r: u32, w: u32, gossip: bool) -> ClusterConfig {
    ClusterConfig {
        nodes: 4,
        key_scheme: KeyScheme::Integer { hash_bits: 3 },
        tokens: TokenStrategy::Explicit {
            tokens: vec![vec![1], vec![2], vec![3], vec![0]],
        },
        n,
        r,
        w,
        gossip,
        anti_entropy: false,
        ..ClusterConfig::default()
    }
}

fn fixed_net(one_way_ms: u64) -> NetConfig {
    NetConfig {
        latency: Latency::constant(SimDuration::from_ms(one_way_ms)),
        ..NetConfig::default()
    }
}

/// A planned op on [`seed_cluster`]'s integer keys.
fn op(
    at: SimTime,
    node: u32,
    kind: OpKind,
    key: &str,
    value: Option<&str>,
    context_from: Option<usize>,
) -> PlannedOp {
    PlannedOp {
        at,
        client: ClientId(0),
        entry: Entry::Node(NodeId(node)),
        kind,
        key: dynamo_model::Key::new(&KeyScheme::Integer { hash_bits: 3 }, key)
            .expect("an integer key below 8"),
        value: value.map(Into::into),
        context_from,
    }
}

fn values(rec: &OpRecord) -> Vec<String> {
    match &rec.outcome {
        Outcome::GetOk { versions, .. } => {
            let mut v: Vec<String> = versions.iter().map(|v| v.value.to_string()).collect();
            v.sort();
            v
        }
        other => panic!("op {} did not succeed: {other:?}", rec.id),
    }
}

// A put with one replica down succeeds through a fallback; after the replica recovers,
// gossip tells the fallback, the hint reaches the replica, and only then is it deleted.
#[test]
fn hinted_handoff_after_recovery() {
    let mut c = Cluster::new(seed_cluster(3, 3, 3, true), &fixed_net(1), 1, true).unwrap();
    let key = c.key("2").unwrap();
    c.fault(
        SimTime::ZERO,
        Fault::Crash {
            node: NodeId(1),
            wipe_disk: false,
        },
    );
    c.plan(op(ms(10), 3, OpKind::Put, "2", Some("apple"), None))
        .unwrap();
    c.run_until(ms(2_000));
    let put = &c.history()[0];
    assert!(
        matches!(put.outcome, Outcome::PutOk { .. }),
        "{:?}",
        put.outcome
    );
    assert_eq!(
        c.node(NodeId(3)).hints().len(),
        1,
        "n3 holds the hint for n1"
    );
    assert!(c.node(NodeId(1)).versions(&key).is_empty());
    c.fault(ms(3_000), Fault::Restart { node: NodeId(1) });
    c.run_until(ms(3_001));
    assert_eq!(
        c.node(NodeId(3)).hints().len(),
        1,
        "the hint stays until acknowledged"
    );
    c.run_until(ms(10_000));
    assert_eq!(
        c.node(NodeId(1)).versions(&key).len(),
        1,
        "n1 got the value"
    );
    assert_eq!(&*c.node(NodeId(1)).versions(&key)[0].value, "apple");
    assert!(
        c.node(NodeId(3)).hints().is_empty(),
        "the hint was deleted after the ack"
    );
    assert_eq!(c.node(NodeId(3)).stats.hints_delivered, 1);
    let text = c.sim.core.trace.render_text();
    let ack = text.find("HandoffAck").expect("an ack in the trace");
    let deleted = text.find("hint deleted").expect("a deletion in the trace");
    assert!(ack < deleted);
}

// Two puts with the same context become two siblings; a put with the merged context collapses them.
#[test]
fn siblings_and_semantic_reconciliation() {
    let mut c = Cluster::new(seed_cluster(3, 2, 2, false), &fixed_net(1), 1, true).unwrap();
    c.plan(op(ms(10), 0, OpKind::Put, "2", Some("a"), None))
        .unwrap();
    c.plan(op(ms(100), 0, OpKind::Get, "2", None, None))
        .unwrap();
    // Two clients write with the same context through different coordinators.
    c.plan(op(ms(200), 0, OpKind::Put, "2", Some("b"), Some(1)))
        .unwrap();
    c.plan(op(ms(200), 1, OpKind::Put, "2", Some("c"), Some(1)))
        .unwrap();
    c.plan(op(ms(400), 2, OpKind::Get, "2", None, None))
        .unwrap();
    c.plan(op(ms(500), 0, OpKind::Put, "2", Some("merged"), Some(4)))
        .unwrap();
    c.plan(op(ms(700), 1, OpKind::Get, "2", None, None))
        .unwrap();
    c.run_until(ms(1_000));
    let h = c.history();
    assert_eq!(values(&h[4]), ["b", "c"], "two siblings");
    if let Outcome::GetOk { versions, context } = &h[4].outcome {
        assert_eq!(versions[0].compare(&versions[1]), Causality::Concurrent);
        assert_eq!(context.to_string(), "[n0:2 n1:1]");
    }
    assert_eq!(values(&h[6]), ["merged"], "the merged put replaced both");
}

// A replica that missed writes converges through anti-entropy alone.
#[test]
fn anti_entropy_alone_repairs_a_replica() {
    let cfg = ClusterConfig {
        hinted_handoff: false,
        read_repair: false,
        anti_entropy: true,
        anti_entropy_interval: SimDuration::from_secs(1),
        ..seed_cluster(3, 1, 1, false)
    };
    let mut c = Cluster::new(cfg, &fixed_net(1), 4, true).unwrap();
    // n2 is cut off while 6 keys are written; n0 and n1 store them.
    c.fault(
        SimTime::ZERO,
        Fault::Partition {
            groups: vec![vec![NodeId(2)]],
        },
    );
    for k in 0..8u32 {
        c.plan(op(
            ms(10 + u64::from(k)),
            0,
            OpKind::Put,
            &k.to_string(),
            Some("v"),
            None,
        ))
        .unwrap();
    }
    c.fault(ms(1_000), Fault::Heal);
    c.run_until(ms(1_000));
    let owned_by_n2: Vec<String> = (0..8u32)
        .map(|k| k.to_string())
        .filter(|k| {
            c.ring
                .preference_list(&c.key(k).unwrap(), 3)
                .contains(&NodeId(2))
        })
        .collect();
    assert!(!owned_by_n2.is_empty());
    for k in &owned_by_n2 {
        assert!(
            c.node(NodeId(2)).versions(&c.key(k).unwrap()).is_empty(),
            "n2 missed {k}"
        );
    }
    c.run_until(ms(60_000));
    for k in &owned_by_n2 {
        assert_eq!(
            c.node(NodeId(2)).versions(&c.key(k).unwrap()).len(),
            1,
            "n2 repaired {k}"
        );
    }
    let repaired: u64 = c
        .nodes()
        .iter()
        .map(|n| n.stats.anti_entropy_keys_repaired)
        .sum();
    assert!(repaired >= owned_by_n2.len() as u64);
    assert!(c.sim.core.trace.render_text().contains("MerkleKeys"));
}

// With R + W > N and no faults, every get sees (by ground-truth causality) every put
// acknowledged before it started; read-modify-write clients, so versions do not pile up.
#[test]
fn strict_quorum_reads_see_acknowledged_writes() {
    for (n, r, w) in [(3, 2, 2), (3, 1, 3), (3, 3, 1), (5, 3, 3)] {
        let cfg = ClusterConfig {
            nodes: 6,
            n,
            r,
            w,
            ..ClusterConfig::default()
        };
        let net = NetConfig {
            latency: Latency::Exponential { mean_us: 2_000.0 },
            ..NetConfig::default()
        };
        let mut c = Cluster::new(cfg, &net, 9, false).unwrap();
        c.add_load(LoadSpec {
            clients: 8,
            pacing: Pacing::Closed {
                think: SimDuration::from_ms(1),
            },
            keys: 5,
            key_choice: KeyChoice::Uniform,
            read_fraction: 0.5,
            read_modify_write: true,
            delete_fraction: 0.0,
            entry: Entry::Random,
            start: ms(1),
            stop: ms(3_000),
            max_ops: None,
        })
        .unwrap();
        c.run_until(ms(5_000));
        let h = c.history();
        assert!(h.len() > 500, "{} ops", h.len());
        let truth = Truth::new(h);
        let mut checked = 0;
        for get in h.iter().filter(|o| o.kind == OpKind::Get) {
            let Outcome::GetOk { versions, .. } = &get.outcome else {
                panic!("get failed without faults")
            };
            for put in h
                .iter()
                .filter(|p| p.kind == OpKind::Put && p.key == get.key && p.end < get.start)
            {
                assert!(put.outcome.is_ok(), "put failed without faults");
                assert!(
                    truth.covers(versions, put, Versioning::VectorClock),
                    "N={n} R={r} W={w}: get#{} missed put#{}",
                    get.id,
                    put.id
                );
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked} (get, earlier put) pairs checked");
    }
}

// A get of a key never written succeeds with no versions and marks no replica down.
#[test]
fn get_of_missing_key_is_not_an_error() {
    let mut c = Cluster::new(seed_cluster(3, 3, 3, false), &fixed_net(1), 1, true).unwrap();
    c.plan(op(ms(10), 0, OpKind::Get, "5", None, None)).unwrap();
    c.run_until(ms(2_000));
    match &c.history()[0].outcome {
        Outcome::GetOk { versions, context } => {
            assert!(versions.is_empty());
            assert!(context.is_empty());
        }
        other => panic!("{other:?}"),
    }
    for n in c.nodes() {
        assert_eq!(n.stats.replica_timeouts, 0);
        for p in 0..4 {
            assert!(n.believes_up(NodeId(p)));
        }
    }
}

// A crash drops the coordinator's in-flight requests: the client times out instead of being answered.
#[test]
fn crash_drops_in_flight_requests() {
    let mut c = Cluster::new(seed_cluster(3, 3, 3, false), &fixed_net(5), 1, true).unwrap();
    c.plan(op(ms(10), 0, OpKind::Put, "2", Some("x"), None))
        .unwrap();
    c.fault(
        ms(12),
        Fault::Crash {
            node: NodeId(0),
            wipe_disk: false,
        },
    );
    c.run_until(ms(10_000));
    assert_eq!(c.history()[0].outcome, Outcome::TimedOut);
    assert_eq!(c.node(NodeId(0)).ops_in_flight(), 0);
    // The store is durable: n0 kept its own copy of the write.
    assert_eq!(c.node(NodeId(0)).versions(&c.key("2").unwrap()).len(), 1);
}

// A node is a value: a clone shares its store and hints (cloning copies
// pointers), and the two go their own ways after (a wipe of the clone
// leaves the original whole).
#[test]
fn a_cloned_node_shares_its_data_until_one_changes() {
    use sim_core::Node as _;
    let mut c = Cluster::new(seed_cluster(4, 2, 2, false), &fixed_net(5), 1, false).unwrap();
    for (i, k) in ["1", "2", "3"].iter().enumerate() {
        c.plan(op(ms(10 + i as u64), 0, OpKind::Put, k, Some("x"), None))
            .unwrap();
    }
    c.run_until(ms(1_000));
    let original = c.node(NodeId(0));
    assert!(!original.store().is_empty());
    let mut copy = original.clone();
    assert!(
        std::ptr::eq(original.store(), copy.store()),
        "the clone shares the store"
    );
    assert!(std::ptr::eq(original.hints(), copy.hints()));
    assert_eq!(copy.members(), original.members());
    copy.crash(true);
    assert!(copy.store().is_empty());
    assert!(!original.store().is_empty(), "the original keeps its data");
    assert_eq!(original.store(), c.node(NodeId(0)).store());
}

// A program runs on the cluster's own clients: each operation it issues
// comes back to it as a record once it ends, in order, and none is kept
// after (the history stays empty, however many it runs).
#[test]
fn a_program_gets_each_operation_back_and_keeps_none() {
    use crate::{Program, ProgramIo, ProgramOp};
    struct Puts {
        left: u32,
        ended: Vec<(u64, bool)>,
    }
    impl Puts {
        fn next(&mut self, io: &mut ProgramIo<'_>) {
            if self.left == 0 {
                return;
            }
            self.left -= 1;
            io.issue(ProgramOp {
                client: ClientId(0),
                entry: Entry::Node(NodeId(0)),
                kind: OpKind::Put,
                key: dynamo_model::Key::new(&KeyScheme::Integer { hash_bits: 3 }, "2")
                    .expect("an integer key below 8"),
                value: Some("x".into()),
                context: dynamo_model::VClock::new(),
            });
        }
    }
    impl Program for Puts {
        fn start(&mut self, io: &mut ProgramIo<'_>) {
            self.next(io);
        }
        fn done(&mut self, op: &OpRecord, io: &mut ProgramIo<'_>) {
            self.ended
                .push((op.id, matches!(op.outcome, Outcome::PutOk { .. })));
            self.next(io);
        }
    }
    let mut c = Cluster::new(seed_cluster(3, 2, 2, false), &fixed_net(1), 1, false).unwrap();
    let mut p = Puts {
        left: 50,
        ended: Vec::new(),
    };
    c.start_program(&mut p);
    c.run_program(&mut p, sim_core::Limits::until(ms(60_000)));
    let want: Vec<(u64, bool)> = (1..=50).map(|id| (id, true)).collect();
    assert_eq!(p.ended, want);
    assert!(
        c.history().is_empty(),
        "a program's operations are not kept"
    );
    assert_eq!(
        c.clients
            .ops_gauge()
            .finished
            .load(std::sync::atomic::Ordering::Relaxed),
        50
    );
}

// A put that cannot reach W replicas fails and says how many acks arrived out of how many needed.
#[test]
fn failed_quorum_says_how_many() {
    let mut c = Cluster::new(
        ClusterConfig {
            hinted_handoff: false,
            ..seed_cluster(3, 3, 3, false)
        },
        &fixed_net(1),
        1,
        true,
    )
    .unwrap();
    c.fault(
        SimTime::ZERO,
        Fault::Crash {
            node: NodeId(1),
            wipe_disk: false,
        },
    );
    c.plan(op(ms(10), 0, OpKind::Put, "2", Some("x"), None))
        .unwrap();
    c.run_until(ms(5_000));
    assert_eq!(
        c.history()[0].outcome,
        Outcome::Failed { got: 2, needed: 3 }
    );
}

// Last write wins: concurrent writes leave one version, the one with the highest (clock, node) stamp.
#[test]
fn last_write_wins_keeps_one_version() {
    let cfg = ClusterConfig {
        versioning: Versioning::LastWriteWins,
        ..seed_cluster(3, 2, 2, false)
    };
    let mut c = Cluster::new(cfg, &fixed_net(1), 1, true).unwrap();
    c.fault(
        SimTime::ZERO,
        Fault::ClockSkew {
            node: NodeId(0),
            skew_us: 50_000,
        },
    );
    c.plan(op(
        ms(10),
        0,
        OpKind::Put,
        "2",
        Some("early-but-skewed"),
        None,
    ))
    .unwrap();
    c.plan(op(ms(20), 1, OpKind::Put, "2", Some("later"), None))
        .unwrap();
    c.plan(op(ms(100), 2, OpKind::Get, "2", None, None))
        .unwrap();
    c.run_until(ms(1_000));
    assert!(
        c.history()[1].outcome.is_ok(),
        "the later write was acknowledged"
    );
    assert_eq!(
        values(&c.history()[2]),
        ["early-but-skewed"],
        "and lost to the skewed clock"
    );
}

// The needless-siblings checker's pair filter keeps exactly the pairs where one put saw
// the other, over version lists as long as every put of a key, blind and read-modify-write.
#[test]
fn sibling_pair_filter_keeps_every_related_pair() {
    let net = NetConfig {
        latency: Latency::Exponential { mean_us: 2_000.0 },
        ..NetConfig::default()
    };
    let mut c = Cluster::new(ClusterConfig::default(), &net, 3, false).unwrap();
    for (clients, rmw) in [(4, false), (2, true)] {
        c.add_load(LoadSpec {
            clients,
            pacing: Pacing::Closed {
                think: SimDuration::from_ms(1),
            },
            keys: 2,
            key_choice: KeyChoice::Uniform,
            read_fraction: 0.3,
            read_modify_write: rmw,
            delete_fraction: 0.0,
            entry: Entry::Random,
            start: ms(1),
            stop: ms(500),
            max_ops: None,
        })
        .unwrap();
    }
    c.run_until(ms(1_000));
    let h = c.history();
    let truth = Truth::new(h);
    let index = |id: u64| (id as usize).checked_sub(1).filter(|&i| h[i].id == id);
    let template = h
        .iter()
        .find_map(|o| match &o.outcome {
            Outcome::GetOk { versions, .. } => versions.first().cloned(),
            _ => None,
        })
        .expect("some get returned a version");
    let mut related = 0;
    for key in h
        .iter()
        .map(|o| o.key.clone())
        .collect::<std::collections::BTreeSet<_>>()
    {
        // The checker reads only each version's write id, so one template stands for every put.
        let versions: Vec<_> = h
            .iter()
            .filter(|o| o.kind == OpKind::Put && o.key == key)
            .map(|o| dynamo_model::Version {
                write: o.id,
                ..template.clone()
            })
            .collect();
        let mut every = Vec::new();
        for i in 0..versions.len() {
            for j in i + 1..versions.len() {
                let (a, b) = (index(versions[i].write), index(versions[j].write));
                if let (Some(a), Some(b)) = (a, b)
                    && a != b
                    && (truth.has_seen(a, b) || truth.has_seen(b, a))
                {
                    every.push((i, j));
                }
            }
        }
        let pairs = crate::checkers::related_pairs(&truth, &versions, &index);
        assert!(
            pairs.len() < versions.len() * (versions.len() - 1) / 2,
            "{} puts took the filtered path",
            versions.len()
        );
        assert_eq!(pairs, every, "key {key}");
        related += every.len();
    }
    assert!(related > 100, "{related} related pairs");
}

/// Ground truth the plain way, for checking [`Truth`]: every op's seen set as
/// a `BTreeSet` of history indices, built by the definition (a put sees itself
/// and what its same-key context get saw; a get sees what the same-key writers
/// of its versions saw), visiting puts by start and gets by end.
fn plain_truth(h: &[OpRecord]) -> Vec<std::collections::BTreeSet<usize>> {
    let mut order: Vec<(SimTime, u8, usize)> = h
        .iter()
        .enumerate()
        .map(|(i, o)| match o.kind {
            OpKind::Put | OpKind::Delete => (o.start.unwrap_or(SimTime::MAX), 0, i),
            OpKind::Get => (o.end.unwrap_or(SimTime::MAX), 1, i),
        })
        .collect();
    order.sort();
    let mut seen = vec![std::collections::BTreeSet::new(); h.len()];
    for (_, _, i) in order {
        let mut set = std::collections::BTreeSet::new();
        match h[i].kind {
            OpKind::Put | OpKind::Delete => {
                if let Some(g) = h[i].context_from.filter(|&g| h[g].key == h[i].key) {
                    set.extend(seen[g].iter().copied());
                }
                set.insert(i);
            }
            OpKind::Get => {
                if let Outcome::GetOk { versions, .. } = &h[i].outcome {
                    for v in versions {
                        let w = v.write as usize - 1;
                        if h[w].key == h[i].key {
                            set.extend(seen[w].iter().copied());
                        }
                    }
                }
            }
        }
        seen[i] = set;
    }
    seen
}

// The tree-shaped seen sets answer exactly what the plain definition does: every
// (op, put) pair of a key, the staleness of every get, and which acknowledged puts
// each get missed. Histories: read-modify-write and blind puts, vector clocks and
// last write wins, over a lossy network (so gets miss puts) and enough puts on a
// key (over 512) that the trees are two levels deep.
#[test]
fn truth_trees_agree_with_the_plain_definition() {
    for (versioning, rmw, seed) in [
        (Versioning::VectorClock, true, 1),
        (Versioning::VectorClock, false, 2),
        (Versioning::LastWriteWins, true, 3),
    ] {
        let net = NetConfig {
            latency: Latency::Exponential { mean_us: 2_000.0 },
            loss: 0.05,
            ..NetConfig::default()
        };
        let cfg = ClusterConfig {
            versioning,
            ..ClusterConfig::default()
        };
        let mut c = Cluster::new(cfg, &net, seed, false).unwrap();
        c.add_load(LoadSpec {
            clients: 12,
            pacing: Pacing::Closed {
                think: SimDuration::from_ms(1),
            },
            keys: 3,
            key_choice: KeyChoice::Uniform,
            read_fraction: 0.4,
            read_modify_write: rmw,
            delete_fraction: 0.0,
            entry: Entry::Random,
            start: ms(1),
            stop: ms(if rmw { 6_000 } else { 4_000 }),
            max_ops: None,
        })
        .unwrap();
        c.run_until(ms(8_000));
        let h = c.history();
        let truth = Truth::new(h);
        let plain = plain_truth(h);
        // Over 512 puts on a key make its trees two levels deep.
        let most = (0..h.len()).map(|i| truth.puts_of_key(i).len()).max();
        assert!(
            most > Some(512),
            "{versioning:?} rmw={rmw}: {most:?} puts on a key"
        );
        for (i, plain_seen) in plain.iter().enumerate() {
            for &p in truth.puts_of_key(i) {
                assert_eq!(
                    truth.has_seen(i, p),
                    plain_seen.contains(&p),
                    "{versioning:?} rmw={rmw}: op {i}, put {p}"
                );
            }
        }
        let stale = crate::truth::staleness(h, &truth);
        let mut behind_some = 0;
        let mut missed = std::collections::BTreeMap::new();
        truth.behind(|b| {
            missed.insert(b.get, b.unseen_puts());
        });
        let mut acked_of = std::collections::BTreeMap::<_, Vec<usize>>::new();
        for (p, o) in h.iter().enumerate() {
            if matches!(o.outcome, Outcome::PutOk { .. }) {
                acked_of.entry(&o.key).or_default().push(p);
            }
        }
        for s in &stale {
            let g = &h[s.get];
            let acked: Vec<usize> = acked_of
                .get(&g.key)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&p| h[p].end < g.start)
                .collect();
            let unseen: Vec<usize> = acked
                .iter()
                .copied()
                .filter(|p| !plain[s.get].contains(p))
                .collect();
            assert_eq!(s.k, unseen.len(), "get {}", s.get);
            assert_eq!(missed[&s.get], unseen, "get {}", s.get);
            let newest = acked.iter().filter_map(|&p| h[p].end).max();
            assert_eq!(s.since_newest_ack, newest.map(|e| g.start.unwrap() - e));
            behind_some += usize::from(s.k > 0);
        }
        assert!(
            behind_some > 10,
            "{versioning:?} rmw={rmw}: only {behind_some} stale gets"
        );
    }
}
