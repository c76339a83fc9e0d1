//! Swarm testing: each seed draws its own fault mix (which kinds are on,
//! how often, partition shapes, crash and wipe counts, loss and duplication
//! rates, latency spikes, clock skew) and its own workload, then runs a
//! faulty phase, heals everything, and runs a quiet phase that must converge,
//! in which every key is read once.
//!
//! The draw is a pure function of (scenario, seed), and it produces an
//! explicit timeline, so `dynsim run FILE --seed S --swarm` replays a sweep's
//! seed exactly, and `dynsim shrink` can cut it down step by step.

use crate::scenario::{Action, Check, OpStep, Scenario, Step, TriggerStep};
use dynamo_model::{Key, KeyScheme, Ring};
use dynamo_observer::{Entry, KeyChoice, LoadSpec, OpKind, Pacing};
use sim_core::{ClientId, Fault, NodeId, SimDuration, SimRng, SimTime, Stream};

/// Every fault kind a swarm can switch on.
pub const FAULT_KINDS: &[&str] = &[
    "crash",
    "wipe",
    "partition",
    "one-way",
    "pause",
    "loss",
    "duplicate",
    "slow",
    "skew",
];

/// The most operations a drawn workload issues (a base file's own `[load]`
/// keeps its own limits). Blind writes pile up siblings, and a run's cost
/// grows faster than its operation count: unbounded, some seeds of the small
/// seed-project files took 100 times as long as the rest. Many short runs
/// find more than a few long ones.
pub const DRAWN_MAX_OPS: u64 = 1_000;

/// What one seed drew.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Fault kinds switched on for this seed.
    pub kinds: Vec<&'static str>,
    /// The realized faults, then one `heal-all` at `heal_at` (none when no
    /// fault kind was drawn), as timeline steps, then the quiet-phase reads.
    pub steps: Vec<Step>,
    /// The workload: the base file's own `[load]`, stopped at `heal_at`, or
    /// a drawn one when it has none.
    pub load: LoadSpec,
    /// When the faulty phase ends and everything is healed.
    pub heal_at: SimTime,
    /// When the run ends: after the quiet phase, and with deletes on, after every purge.
    pub end: SimTime,
    /// With deletes on: the tombstone grace the run uses (longer than the faulty and quiet phases).
    pub tombstone_grace: Option<SimDuration>,
    /// The interleaving knobs drawn ([`SwarmSwitches::interleavings`]), each as words.
    pub knobs: Vec<String>,
    /// A message kind made slow for the whole run, and its latency.
    pub slow_kind: Option<(&'static str, sim_core::Latency)>,
}

/// Message kinds whose lateness decides interleavings: acknowledgements and
/// replies racing a quorum's completion, hand-offs racing their acks.
const TIMED_KINDS: &[&str] = &[
    "Replicate",
    "ReplicateAck",
    "Read",
    "ReadReply",
    "Forward",
    "ForwardAck",
    "Handoff",
    "HandoffAck",
];

/// The explicit clients bursts use (c9000 on), apart from `c0`'s steps.
pub(crate) const BURST_CLIENT: u32 = 9_000;

/// Draws the interleaving knobs on their own stream (so the rest of the
/// draw is the same with them off): each is on for half the seeds.
/// - a slow node: one node's messages take 5 to 400 ms longer through the
///   faulty phase (5 to 400 ms: past a request timeout, so fallbacks and
///   non-owner coordinators take over);
/// - a slow message kind: one of [`TIMED_KINDS`] takes from 1 ms up to a
///   drawn 5 to 400 ms (uniform; past half the request timeout the run
///   counts as faulty)
///   for the whole run, so its messages arrive after their peers';
/// - duplicates: 30 to 80% of messages delivered twice for a tenth to a
///   third of the faulty phase, so copies of early answers race late ones;
/// - bursts: one to three times, three to six operations on one key from
///   different clients within 2 ms (puts without context and gets);
/// - triggers: one or two faults timed to a protocol event (crash or pause
///   the sender, crash the receiver, or cut the sender off, for 50 to 500
///   ms, right after the first message of a drawn kind), armed in the first
///   half of the faulty phase and over before the heal.
fn draw_knobs(
    s: &Scenario,
    seed: u64,
    heal_at: SimTime,
    load: &LoadSpec,
    steps: &mut Vec<Step>,
) -> (Vec<String>, Option<(&'static str, sim_core::Latency)>) {
    let mut rng = SimRng::new(seed, Stream::Custom(10));
    let mut knobs = Vec::new();
    let mut slow_kind = None;
    let nodes = u64::from(s.cluster.nodes);
    let span = heal_at.as_us();
    if rng.chance(0.5) {
        let node = NodeId(rng.below(nodes) as u32);
        let extra = SimDuration::from_ms(between(&mut rng, 5, 400));
        steps.push(Step {
            at: SimTime::ZERO,
            line: 0,
            action: Action::Fault(Fault::Slow { node, extra }),
        });
        steps.push(Step {
            at: heal_at,
            line: 0,
            action: Action::Fault(Fault::Slow {
                node,
                extra: SimDuration::ZERO,
            }),
        });
        knobs.push(format!("slow node {node} +{extra}"));
    }
    if rng.chance(0.5) {
        let kind = TIMED_KINDS[rng.index(TIMED_KINDS.len())];
        // Past half the request timeout it makes coordinators give up on
        // replicas, and the checkers count it as a fault for the whole run
        // (`Scenario::slow_kind_is_a_fault`).
        let hi = (between(&mut rng, 5, 400) * 1_000) as f64;
        let lat = sim_core::Latency::Uniform {
            min_us: 1_000.0_f64.min(hi),
            max_us: hi,
        };
        knobs.push(format!("slow kind {kind} up to {}", SimDuration(hi as u64)));
        slow_kind = Some((kind, lat));
    }
    if rng.chance(0.5) {
        // Heavy duplication for a while: with a slow node or kind, a copy
        // of an early answer arrives before the late ones do.
        let start = SimTime(rng.below((span * 4 / 5).max(1)));
        let len = SimDuration(between(&mut rng, span / 10, span / 3));
        let stop = (start + len).min(heal_at);
        let p = (300 + rng.below(501)) as f64 / 1000.0;
        steps.push(Step {
            at: start,
            line: 0,
            action: Action::Fault(Fault::Duplicate { p }),
        });
        steps.push(Step {
            at: stop,
            line: 0,
            action: Action::Fault(Fault::Duplicate { p: s.net.duplicate }),
        });
        knobs.push(format!("duplicates p={p} from {start} to {stop}"));
    }
    if rng.chance(0.5) && load.keys > 0 {
        for b in 0..between(&mut rng, 1, 3) {
            let key = Key::numbered(
                &s.cluster.key_scheme,
                rng.below(u64::from(load.keys)) as u32,
            );
            let at = SimTime(rng.below((span * 4 / 5).max(1)));
            let size = between(&mut rng, 3, 6);
            for i in 0..size {
                let put = rng.chance(0.6);
                steps.push(Step {
                    at: at + SimDuration(rng.below(2_000)),
                    line: 0,
                    action: Action::Op(OpStep {
                        kind: if put { OpKind::Put } else { OpKind::Get },
                        entry: Entry::Random,
                        key: key.clone(),
                        value: put.then(|| format!("burst{b}-{i}")),
                        name: None,
                        context_from: None,
                        client: ClientId(BURST_CLIENT + (b * 8 + i) as u32),
                    }),
                });
            }
            knobs.push(format!("burst of {size} on key {}", key.name()));
        }
    }
    if rng.chance(0.5) {
        for _ in 0..between(&mut rng, 1, 2) {
            let on = TIMED_KINDS[rng.index(TIMED_KINDS.len())];
            let (name, fault) = dynamo_observer::TriggerFault::ALL[rng.index(4)];
            let lasting = SimDuration::from_ms(between(&mut rng, 50, 500));
            let armed = SimTime(rng.below((span / 2).max(1)));
            // Over before the heal, whenever it fires.
            let until = SimTime(
                span.saturating_sub(lasting.as_us() + 1_000)
                    .max(armed.as_us()),
            );
            steps.push(Step {
                at: armed,
                line: 0,
                action: Action::Trigger(TriggerStep {
                    on,
                    fault,
                    lasting,
                    until,
                }),
            });
            knobs.push(format!("trigger {name} on {on} for {lasting}"));
        }
    }
    (knobs, slow_kind)
}

fn between(rng: &mut SimRng, lo: u64, hi: u64) -> u64 {
    lo + rng.below(hi - lo + 1)
}

fn dur(rng: &mut SimRng, lo: SimDuration, hi: SimDuration) -> SimDuration {
    SimDuration(between(rng, lo.as_us(), hi.as_us()))
}

/// How long after the heal the cluster gets to converge: anti-entropy must be
/// able to compare every (range, peer) pair twice, and then the settle time
/// the membership and placement checkers allow ([`dynamo_observer::settle_time`]):
/// hints, gossip and retries go round a few times, and stragglers time out.
pub fn quiet_time(s: &Scenario, seed: u64) -> SimDuration {
    let c = &s.cluster;
    let ring = Ring::build(c, &mut SimRng::new(seed, Stream::Setup));
    let n = c.n as usize;
    let mut max_pairs = 0;
    for node in 0..c.nodes {
        let mine = (0..ring.range_count())
            .filter(|&r| ring.range_replicas(r, n).contains(&NodeId(node)))
            .count();
        max_pairs = max_pairs.max(mine * (n - 1));
    }
    let ae = if c.anti_entropy {
        2 * max_pairs as u64 * c.anti_entropy_interval.as_us()
    } else {
        0
    };
    SimDuration(ae) + dynamo_observer::settle_time(c)
}

/// How many distinct keys the scenario's key scheme can hold.
pub fn key_space(s: &Scenario) -> u64 {
    match s.cluster.key_scheme {
        KeyScheme::Md5 => u64::MAX,
        KeyScheme::Integer { hash_bits } => 1u64.checked_shl(hash_bits).unwrap_or(u64::MAX),
    }
}

/// Halfway through the quiet phase, one get of every key the load can touch,
/// 1ms apart: with read repair on, each get that hears every replica repairs
/// the key, which is all read repair alone promises, so the convergence
/// checker's read-repair promise has every key to judge.
fn quiet_reads(s: &Scenario, load: &LoadSpec, from: SimTime) -> Vec<Step> {
    (0..load.keys)
        .map(|i| {
            let key = Key::numbered(&s.cluster.key_scheme, i);
            Step {
                at: from + SimDuration::from_ms(u64::from(i)),
                line: 0,
                action: Action::Op(OpStep {
                    kind: OpKind::Get,
                    entry: Entry::Random,
                    key,
                    value: None,
                    name: None,
                    context_from: None,
                    client: ClientId(0),
                }),
            }
        })
        .collect()
}

/// Draws seed `seed`'s fault mix and workload for scenario `s`.
pub fn draw(s: &Scenario, seed: u64) -> Plan {
    let mut rng = SimRng::new(seed, Stream::Faults);
    let nodes = s.cluster.nodes;
    let fault_span = s.load.as_ref().map_or(SimDuration::from_secs(10), |l| {
        SimDuration(l.stop.as_us().max(1_000_000))
    });
    let heal_at = SimTime::ZERO + fault_span;
    let kinds: Vec<&'static str> = FAULT_KINDS
        .iter()
        .copied()
        .filter(|_| rng.chance(0.5))
        .collect();
    let mut faults: Vec<(SimTime, Fault)> = Vec::new();
    let node = |rng: &mut SimRng| NodeId(rng.below(u64::from(nodes)) as u32);
    let window = |rng: &mut SimRng| {
        let start = SimTime(rng.below(fault_span.as_us() * 4 / 5));
        let len = dur(
            rng,
            SimDuration(fault_span.as_us() / 20),
            SimDuration(fault_span.as_us() / 4),
        );
        (start, (start + len).min(heal_at))
    };
    for &kind in &kinds {
        // At most one wipe per seed: with W >= 2 an acknowledged write then always survives somewhere.
        let count = if kind == "wipe" {
            1
        } else {
            between(&mut rng, 1, 3)
        };
        for _ in 0..count {
            let (from, to) = window(&mut rng);
            match kind {
                "crash" | "wipe" => {
                    let n = node(&mut rng);
                    faults.push((
                        from,
                        Fault::Crash {
                            node: n,
                            wipe_disk: kind == "wipe",
                        },
                    ));
                    faults.push((to, Fault::Restart { node: n }));
                }
                "partition" => {
                    let mut all: Vec<NodeId> = (0..nodes).map(NodeId).collect();
                    rng.shuffle(&mut all);
                    let cut = between(&mut rng, 1, u64::from(nodes.max(2)) - 1) as usize;
                    let (a, b) = all.split_at(cut.min(all.len()));
                    faults.push((
                        from,
                        Fault::Partition {
                            groups: vec![a.to_vec(), b.to_vec()],
                        },
                    ));
                    faults.push((to, Fault::Heal));
                }
                "one-way" => {
                    let (a, b) = (node(&mut rng), node(&mut rng));
                    faults.push((
                        from,
                        Fault::OneWay {
                            from: vec![a],
                            to: vec![b],
                        },
                    ));
                    faults.push((to, Fault::Heal));
                }
                "pause" => {
                    let n = node(&mut rng);
                    faults.push((from, Fault::Pause { node: n }));
                    faults.push((to, Fault::Resume { node: n }));
                }
                "loss" => {
                    let p = 0.01 + 0.19 * rng.unit();
                    faults.push((
                        from,
                        Fault::Loss {
                            p: (p * 1000.0).round() / 1000.0,
                        },
                    ));
                    faults.push((to, Fault::Loss { p: 0.0 }));
                }
                "duplicate" => {
                    let p = 0.01 + 0.19 * rng.unit();
                    faults.push((
                        from,
                        Fault::Duplicate {
                            p: (p * 1000.0).round() / 1000.0,
                        },
                    ));
                    faults.push((to, Fault::Duplicate { p: 0.0 }));
                }
                "slow" => {
                    let n = node(&mut rng);
                    let extra = SimDuration::from_ms(between(&mut rng, 1, 300));
                    faults.push((from, Fault::Slow { node: n, extra }));
                    faults.push((
                        to,
                        Fault::Slow {
                            node: n,
                            extra: SimDuration::ZERO,
                        },
                    ));
                }
                "skew" => {
                    let n = node(&mut rng);
                    let skew_us = between(&mut rng, 0, 200_000) as i64 - 100_000;
                    faults.push((from, Fault::ClockSkew { node: n, skew_us }));
                }
                _ => unreachable!("listed in FAULT_KINDS"),
            }
        }
    }
    // A stable sort keeps draw order among faults at the same time.
    faults.sort_by_key(|(t, _)| *t);
    let mut steps: Vec<Step> = faults
        .into_iter()
        .map(|(at, f)| Step {
            at,
            line: 0,
            action: Action::Fault(f),
        })
        .collect();
    // Heal everything at the end of the faulty phase, after every drawn fault
    // (some end exactly then). One step that names no node, so a shrunk file
    // can drop nodes; it applies the same faults the heal block of
    // individual steps did. A seed that drew no fault kind gets no heal
    // either: a heal that heals nothing would still count as a fault, and
    // quorum-reads would judge that seed by the faulty-run rule.
    if !kinds.is_empty() {
        steps.push(Step {
            at: heal_at,
            line: 0,
            action: Action::HealAll,
        });
    }

    // Membership changes, each switch on its own stream so the rest of the draw stays the same.
    let mut mc = SimRng::new(seed, Stream::Custom(9));
    let span = fault_span.as_us() * 4 / 5;
    if s.swarm.joins {
        for &o in &s.cluster.outside {
            steps.push(Step {
                at: SimTime(mc.below(span.max(1))),
                line: 0,
                action: Action::Membership {
                    node: NodeId(o),
                    join: Some(Vec::new()),
                },
            });
        }
    }
    if s.swarm.leaves {
        let members: Vec<u32> = s
            .cluster
            .initial_members()
            .into_iter()
            .filter(|m| !s.cluster.seeds.contains(m))
            .collect();
        if s.cluster.initial_members().len() > s.cluster.n as usize + 1 && !members.is_empty() {
            let node = members[mc.index(members.len())];
            steps.push(Step {
                at: SimTime(mc.below(span.max(1))),
                line: 0,
                action: Action::Membership {
                    node: NodeId(node),
                    join: None,
                },
            });
        }
    }
    steps.sort_by_key(|st| st.at);
    let mut wl = SimRng::new(seed, Stream::Custom(7));
    let load = match &s.load {
        Some(l) => LoadSpec {
            stop: heal_at,
            ..l.clone()
        },
        None => LoadSpec {
            clients: between(&mut wl, 2, 6) as u32,
            pacing: Pacing::Closed {
                think: SimDuration::from_ms(between(&mut wl, 1, 20)),
            },
            // Never more keys than the key scheme can hold (2^hash_bits integer
            // slots); the draw itself stays the same, so every seed replays as before.
            keys: between(&mut wl, 3, 30).min(key_space(s)) as u32,
            key_choice: if wl.chance(0.5) {
                KeyChoice::Uniform
            } else {
                KeyChoice::Zipf { exponent: 0.99 }
            },
            read_fraction: 0.3 + 0.4 * wl.unit(),
            read_modify_write: wl.chance(0.75),
            delete_fraction: 0.0,
            entry: Entry::Random,
            start: SimTime::ZERO,
            stop: heal_at,
            max_ops: Some(DRAWN_MAX_OPS),
        },
    };
    let mut load = load;
    let quiet = quiet_time(s, seed);
    let mut end = heal_at + quiet;
    let mut tombstone_grace = None;
    if s.swarm.deletes {
        // Its own stream, so the rest of the draw is the same with the switch off.
        let mut dl = SimRng::new(seed, Stream::Custom(8));
        load.read_modify_write = true;
        load.delete_fraction = 0.1 + 0.3 * dl.unit();
        // Every tombstone outlives the faults and the quiet phase, in which the
        // cluster must converge; then every replica purges it, before the end.
        // A shorter grace is the resurrection hazard itself, not a bug to find.
        let grace = SimDuration(end.as_us()) + SimDuration::from_secs(2);
        tombstone_grace = Some(grace);
        end = heal_at + s.cluster.op_deadline + SimDuration::from_secs(2) + grace;
    }
    let (knobs, slow_kind) = if s.swarm.interleavings {
        draw_knobs(s, seed, heal_at, &load, &mut steps)
    } else {
        (Vec::new(), None)
    };
    // Stable: the drawn steps keep their order among steps at one time.
    steps.sort_by_key(|st| st.at);
    steps.extend(quiet_reads(
        s,
        &load,
        heal_at + SimDuration(quiet.as_us() / 2),
    ));
    Plan {
        kinds,
        steps,
        load,
        heal_at,
        end,
        tombstone_grace,
        knobs,
        slow_kind,
    }
}

/// The scenario a sweep runs for one seed: the base scenario's cluster and
/// network, the drawn faults as its timeline, the drawn load, and only the
/// checker failures it declares (as for a last-write-wins base, which must
/// lose writes). Its own steps and other expectations are replaced; with
/// faults, every other checker must pass or be skipped.
pub fn apply(s: &Scenario, plan: &Plan) -> Scenario {
    let mut net = s.net.clone();
    if let Some((kind, lat)) = &plan.slow_kind {
        net.per_kind.retain(|(k, _)| k != kind);
        net.per_kind.push(((*kind).to_string(), lat.clone()));
    }
    Scenario {
        net,
        steps: plan.steps.clone(),
        load: Some(plan.load.clone()),
        duration: SimDuration(plan.end.as_us()),
        cluster: dynamo_model::ClusterConfig {
            tombstone_grace: plan.tombstone_grace.unwrap_or(s.cluster.tombstone_grace),
            ..s.cluster.clone()
        },
        expects: s
            .expects
            .iter()
            .filter(|e| matches!(&e.check, Check::Checker { verdict, .. } if verdict == "fail"))
            .cloned()
            .collect(),
        ..s.clone()
    }
}
