//! Engine behaviour tests, driven by the ping-pong node.

use crate::bench::{Count, HowMany, PingPong};
use crate::engine::{ClientId, Core, Fault, Harness, Limits, NodeId, Sim, Stop};
use crate::latency::Latency;
use crate::net::NetConfig;
use crate::time::{SimDuration, SimTime};

fn nodes(n: u32, serve: u32, hops: u32) -> Vec<PingPong> {
    (0..n)
        .map(|_| PingPong {
            serve,
            hops,
            ..PingPong::default()
        })
        .collect()
}

fn random_net() -> NetConfig {
    NetConfig {
        latency: Latency::Uniform {
            min_us: 100.0,
            max_us: 5_000.0,
        },
        loss: 0.05,
        duplicate: 0.05,
        ..NetConfig::default()
    }
}

fn trace_of(seed: u64) -> String {
    let mut sim = Sim::new(seed, nodes(4, 3, 20), &random_net(), true).unwrap();
    sim.core.schedule_fault(
        SimTime(3_000),
        Fault::Crash {
            node: NodeId(1),
            wipe_disk: false,
        },
    );
    sim.core
        .schedule_fault(SimTime(9_000), Fault::Restart { node: NodeId(1) });
    sim.run(&mut (), Limits::until(SimTime(1_000_000)));
    sim.core.trace.render_text()
}

// The same seed gives a byte-identical trace, run twice in one process.
#[test]
fn same_seed_same_trace() {
    let a = trace_of(7);
    let b = trace_of(7);
    assert!(a.lines().count() > 100, "the run did something");
    assert_eq!(a, b);
}

// Another seed gives a different trace when latency is random.
#[test]
fn other_seed_other_trace() {
    assert_ne!(trace_of(7), trace_of(8));
}

// Events at the same time run in the order they were scheduled (FIFO ties).
#[test]
fn ties_are_fifo() {
    let mut sim = Sim::new(1, nodes(4, 0, 0), &NetConfig::default(), true).unwrap();
    let order = [3u32, 0, 2, 1, 3, 0];
    for (i, n) in order.iter().enumerate() {
        sim.core.schedule_request(
            SimTime(500),
            ClientId(i as u32),
            NodeId(*n),
            i as u64,
            HowMany,
        );
    }
    sim.run(&mut (), Limits::until(SimTime(1_000)));
    let requests: Vec<String> = sim
        .core
        .trace
        .records
        .iter()
        .filter(|r| r.kind() == "request")
        .map(|r| r.actor.to_string())
        .collect();
    assert_eq!(requests, ["c0", "c1", "c2", "c3", "c4", "c5"]);
}

// A one-way partition blocks messages from one side to the other, never the reverse.
#[test]
fn one_way_partition_blocks_one_direction() {
    let net = NetConfig {
        latency: Latency::constant(SimDuration::from_ms(1)),
        ..NetConfig::default()
    };
    // n0 and n1 are partners: n0 serves 5 balls, each bounced once back from n1.
    let mut ns = nodes(2, 0, 0);
    ns[0].serve = 5;
    ns[0].hops = 1;
    let mut sim = Sim::new(1, ns, &net, true).unwrap();
    // Cut n1 -> n0 before anything is delivered: pings reach n1, pongs never reach n0.
    sim.core.schedule_fault(
        SimTime::ZERO,
        Fault::OneWay {
            from: vec![NodeId(1)],
            to: vec![NodeId(0)],
        },
    );
    sim.run(&mut (), Limits::until(SimTime(100_000)));
    assert_eq!(sim.nodes[1].received_total, 5, "n0 -> n1 still works");
    assert_eq!(sim.nodes[0].received_total, 0, "n1 -> n0 is cut");
    assert!(sim.core.is_cut(NodeId(1), NodeId(0)));
    assert!(!sim.core.is_cut(NodeId(0), NodeId(1)));
    let drops = sim.core.trace.render_text().matches("partitioned").count();
    assert_eq!(drops, 5);
}

// A symmetric partition cuts both ways, and heal restores every link.
#[test]
fn partition_and_heal() {
    let mut sim = Sim::new(1, nodes(4, 0, 0), &NetConfig::default(), false).unwrap();
    sim.core.schedule_fault(
        SimTime(1),
        Fault::Partition {
            groups: vec![vec![NodeId(0), NodeId(1)]],
        },
    );
    sim.run(&mut (), Limits::until(SimTime(2)));
    assert!(sim.core.is_cut(NodeId(0), NodeId(2)) && sim.core.is_cut(NodeId(3), NodeId(1)));
    assert!(!sim.core.is_cut(NodeId(0), NodeId(1)) && !sim.core.is_cut(NodeId(2), NodeId(3)));
    sim.core.schedule_fault(SimTime(3), Fault::Heal);
    sim.run(&mut (), Limits::until(SimTime(4)));
    assert!(!sim.core.is_cut(NodeId(0), NodeId(2)) && !sim.core.is_cut(NodeId(3), NodeId(1)));
}

struct Answers(Vec<(ClientId, u64)>);

impl Harness<PingPong> for Answers {
    type Wake = ();
    fn on_reply(
        &mut self,
        _: &mut Core<PingPong>,
        client: ClientId,
        _: u64,
        _: NodeId,
        reply: Count,
    ) {
        self.0.push((client, reply.0));
    }
}

// A crash loses volatile state and keeps durable state; a wipe loses both.
#[test]
fn crash_keeps_durable_state_and_wipe_loses_it() {
    let net = NetConfig {
        latency: Latency::constant(SimDuration::from_ms(1)),
        ..NetConfig::default()
    };
    let mut ns = nodes(4, 0, 0);
    for n in &mut ns {
        n.serve = 2;
        n.hops = 1;
        n.tick = Some(SimDuration::from_ms(10));
    }
    let mut sim = Sim::new(3, ns, &net, true).unwrap();
    sim.run(&mut (), Limits::until(SimTime(25_000)));
    assert_eq!(sim.nodes[1].received_total, 4);
    assert_eq!(sim.nodes[1].ticks, 2);
    sim.core.schedule_fault(
        SimTime(30_000),
        Fault::Crash {
            node: NodeId(1),
            wipe_disk: false,
        },
    );
    sim.core.schedule_fault(
        SimTime(30_000),
        Fault::Crash {
            node: NodeId(3),
            wipe_disk: true,
        },
    );
    sim.run(&mut (), Limits::until(SimTime(31_000)));
    assert_eq!(
        (
            sim.nodes[1].received_total,
            sim.nodes[1].received_since_start,
            sim.nodes[1].ticks
        ),
        (4, 0, 0)
    );
    assert_eq!(
        (
            sim.nodes[3].received_total,
            sim.nodes[3].received_since_start
        ),
        (0, 0)
    );
    // A request to a crashed node is dropped; after a restart the node answers again.
    sim.core
        .schedule_request(SimTime(32_000), ClientId(0), NodeId(1), 1, HowMany);
    sim.core
        .schedule_fault(SimTime(40_000), Fault::Restart { node: NodeId(1) });
    sim.core
        .schedule_request(SimTime(45_000), ClientId(1), NodeId(1), 2, HowMany);
    let mut answers = Answers(Vec::new());
    sim.run(&mut answers, Limits::until(SimTime(65_000)));
    assert_eq!(
        answers.0,
        vec![(ClientId(1), 2)],
        "c0's request was dropped, c1 sees 2 balls since restart"
    );
    let text = sim.core.trace.render_text();
    assert!(text.contains("how-many#1 -> n1: node down"), "{text}");
    // The pre-crash tick timer of n1 was dropped, and the restart armed a new one.
    assert!(text.contains("tick: node crashed since it was set"));
    assert!(sim.nodes[1].ticks >= 2);
}

// A paused node handles nothing until it resumes, then handles what waited, in order.
#[test]
fn pause_holds_and_resume_releases() {
    let net = NetConfig {
        latency: Latency::constant(SimDuration::from_ms(1)),
        ..NetConfig::default()
    };
    let mut ns = nodes(2, 0, 0);
    ns[0].serve = 3;
    let mut sim = Sim::new(1, ns, &net, true).unwrap();
    sim.core
        .schedule_fault(SimTime::ZERO, Fault::Pause { node: NodeId(1) });
    sim.run(&mut (), Limits::until(SimTime(50_000)));
    assert_eq!(sim.nodes[1].received_total, 0);
    sim.core
        .schedule_fault(SimTime(60_000), Fault::Resume { node: NodeId(1) });
    sim.run(&mut (), Limits::until(SimTime(60_000)));
    assert_eq!(sim.nodes[1].received_total, 3);
}

// Run limits end an endless run with a stated reason instead of hanging.
#[test]
fn limits_stop_endless_runs() {
    let net = NetConfig {
        latency: Latency::constant(SimDuration::from_us(10)),
        ..NetConfig::default()
    };
    let mut sim = Sim::new(1, nodes(2, 1, u32::MAX), &net, false).unwrap();
    let stop = sim.run(
        &mut (),
        Limits {
            until: SimTime::MAX,
            max_events: 1_000,
        },
    );
    assert_eq!(stop, Stop::EventLimit);
    assert_eq!(sim.core.stats.events, 1_000);
    let stop = sim.run(&mut (), Limits::until(SimTime(50_000)));
    assert_eq!(stop, Stop::TimeLimit);
    assert_eq!(sim.now(), SimTime(50_000));
    let mut quiet = Sim::new(1, nodes(2, 0, 0), &net, false).unwrap();
    assert_eq!(quiet.run(&mut (), Limits::until(SimTime::MAX)), Stop::Idle);
}

// Loss and duplication happen at about their configured rates, and every one is in the trace.
#[test]
fn loss_and_duplication_rates() {
    let net = NetConfig {
        latency: Latency::constant(SimDuration::from_us(10)),
        loss: 0.1,
        duplicate: 0.2,
        ..NetConfig::default()
    };
    let mut sim = Sim::new(9, nodes(2, 10_000, 0), &net, true).unwrap();
    sim.run(&mut (), Limits::until(SimTime(1_000)));
    let s = &sim.core.stats;
    let (sent, dropped, dup) = (s.sent[0], s.dropped[0], s.duplicated[0]);
    assert_eq!(sent, 20_000);
    assert!((1_800..=2_200).contains(&dropped), "dropped {dropped}");
    let expect_dup = 0.2 * (sent - dropped) as f64;
    assert!(
        (dup as f64 - expect_dup).abs() < 0.1 * expect_dup,
        "duplicated {dup}"
    );
    assert_eq!(s.delivered[0], sent - dropped + dup);
    let text = sim.core.trace.render_text();
    assert_eq!(text.matches(": lost").count() as u64, dropped);
    assert_eq!(text.matches("copied as").count() as u64, dup);
}

// Per-kind latency: pongs may travel slower than pings.
#[test]
fn per_kind_latency() {
    let net = NetConfig {
        latency: Latency::constant(SimDuration::from_ms(1)),
        per_kind: vec![("pong".into(), Latency::constant(SimDuration::from_ms(7)))],
        ..NetConfig::default()
    };
    let mut ns = nodes(2, 0, 0);
    ns[0].serve = 1;
    ns[0].hops = 1;
    let mut sim = Sim::new(1, ns, &net, true).unwrap();
    sim.run(&mut (), Limits::until(SimTime::MAX));
    assert_eq!(sim.now(), SimTime(8_000), "1ms ping then 7ms pong");
    let bad = NetConfig {
        per_kind: vec![("pang".into(), Latency::zero())],
        ..NetConfig::default()
    };
    let err = Sim::<PingPong>::new(1, nodes(2, 0, 0), &bad, false)
        .err()
        .unwrap();
    assert_eq!(
        err,
        "unknown message kind \"pang\"; valid kinds are ping, pong"
    );
}

// Zone pairs have latencies of their own, per kind, below link overrides;
// `NetConfig::latency_for` resolves a link the way the network does.
#[test]
fn zone_pair_latency() {
    use crate::net::{LinkConfig, ZoneLink};
    let ms = |m| Latency::constant(SimDuration::from_ms(m));
    let net = NetConfig {
        latency: ms(1),
        // n0 in zone 0 pings n1 in zone 1; n2 and n3 are both in zone 0.
        zones: vec![0, 1, 0, 0],
        zone_links: vec![
            ZoneLink {
                from: 0,
                to: 1,
                latency: Some(ms(5)),
                per_kind: Vec::new(),
            },
            ZoneLink {
                from: 1,
                to: 0,
                latency: None,
                per_kind: vec![("pong".into(), ms(9))],
            },
        ],
        ..NetConfig::default()
    };
    let mut ns = nodes(4, 0, 0);
    for i in [0, 2] {
        ns[i].serve = 1;
        ns[i].hops = 1;
    }
    let mut sim = Sim::new(1, ns, &net, true).unwrap();
    sim.run(&mut (), Limits::until(SimTime::MAX));
    assert_eq!(
        sim.now(),
        SimTime(14_000),
        "5ms ping out of zone 0, 9ms pong back"
    );
    let text = sim.core.trace.render_text();
    assert!(text.contains("ping hops=1 -> n1 @5.000ms"), "{text}");
    assert!(text.contains("ping hops=1 -> n3 @1.000ms"), "{text}");
    assert!(text.contains("pong hops=0 -> n2 @2.000ms"), "{text}");
    let at = |f, t, k| net.latency_for(NodeId(f), NodeId(t), k).clone();
    assert_eq!(at(0, 1, "ping"), ms(5));
    assert_eq!(at(1, 0, "ping"), ms(1), "no latency: the global one");
    assert_eq!(at(1, 0, "pong"), ms(9));
    assert_eq!(at(2, 3, "pong"), ms(1));
    // A link override is above its zone pair.
    let linked = NetConfig {
        links: vec![LinkConfig {
            from: NodeId(0),
            to: NodeId(1),
            latency: Some(ms(3)),
            loss: None,
            duplicate: None,
        }],
        ..net.clone()
    };
    assert_eq!(linked.latency_for(NodeId(0), NodeId(1), "ping"), &ms(3));
    let mut ns = nodes(4, 0, 0);
    ns[0].serve = 1;
    ns[0].hops = 1;
    let mut sim = Sim::new(1, ns, &linked, true).unwrap();
    sim.run(&mut (), Limits::until(SimTime::MAX));
    assert_eq!(sim.now(), SimTime(12_000), "3ms over the link, 9ms back");
    let short = NetConfig {
        zones: vec![0, 1],
        ..net.clone()
    };
    let err = Sim::<PingPong>::new(1, nodes(4, 0, 0), &short, false)
        .err()
        .unwrap();
    assert_eq!(err, "2 zones given for 4 nodes; give one zone a node");
}

// The trace's text form has fixed columns, and its JSON Lines form carries the same events.
#[test]
fn trace_text_and_jsonl() {
    let net = NetConfig {
        latency: Latency::constant(SimDuration::from_us(1_412)),
        ..NetConfig::default()
    };
    let mut ns = nodes(2, 0, 0);
    ns[0].serve = 1;
    let mut sim = Sim::new(1, ns, &net, true).unwrap();
    sim.core
        .trace
        .header
        .push("scenario pingpong seed=1".into());
    sim.run(&mut (), Limits::until(SimTime::MAX));
    let text = sim.core.trace.render_text();
    let want = "\
# scenario pingpong seed=1
     0.000ms  n0    send          m1 ping hops=0 -> n1 @1.412ms
     1.412ms  n1    deliver       m1 ping <- n0
";
    assert_eq!(text, want);
    let mut jsonl = Vec::new();
    sim.core.trace.write_jsonl(&mut jsonl).unwrap();
    let lines: Vec<&str> = std::str::from_utf8(&jsonl).unwrap().lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[1],
        r#"{"t_us":0,"actor":"n0","ev":"send","msg":1,"from":"n0","to":"n1","kind":"ping","arrives_us":1412,"detail":"hops=0"}"#
    );
}

// With the trace off nothing is recorded, and the run takes the same decisions.
#[test]
fn trace_off_records_nothing_and_changes_nothing() {
    let run = |trace: bool| {
        let mut sim = Sim::new(5, nodes(4, 3, 20), &random_net(), trace).unwrap();
        sim.run(&mut (), Limits::until(SimTime(1_000_000)));
        (
            sim.core.trace.records.len(),
            sim.core.stats.events,
            sim.core.stats.delivered.clone(),
        )
    };
    let (on_records, on_events, on_delivered) = run(true);
    let (off_records, off_events, off_delivered) = run(false);
    assert!(on_records > 0);
    assert_eq!(off_records, 0);
    assert_eq!((on_events, on_delivered), (off_events, off_delivered));
}

// A stop check that never stops leaves the trace byte-identical; one that
// stops ends the run with `Stop::Interrupted` after at most CHECK_EVERY
// extra events, every later run on the thread stops at once, and the caller
// gets `Err(Interrupted)`; nothing unwinds.
#[test]
fn stop_check_cuts_only_when_asked() {
    use crate::stop::{CHECK_EVERY, with_stop_check};
    use std::cell::Cell;
    use std::rc::Rc;
    let plain = trace_of(7);
    let seen = Rc::new(Cell::new(0u64));
    let counter = seen.clone();
    let checked = with_stop_check(
        move |n, _| {
            counter.set(counter.get() + n);
            false
        },
        || trace_of(7),
    );
    assert_eq!(
        Ok(plain.clone()),
        checked,
        "a check that never stops changes nothing"
    );
    assert!(seen.get() > 100, "the check was told the events");
    // A budget of 150 events: the run is cut at the first question past it,
    // a second run stops at once, and the caller is told where it was cut.
    let budget = 150u64;
    let ran = Rc::new(Cell::new(0u64));
    let counter = ran.clone();
    let seen = Rc::new(Cell::new(None));
    let saw = seen.clone();
    let cut = with_stop_check(
        move |n, _| {
            counter.set(counter.get() + n);
            counter.get() >= budget
        },
        move || {
            let mut sim = Sim::new(7, nodes(4, 3, 20), &random_net(), false).unwrap();
            let first = sim.run(&mut (), Limits::until(SimTime(1_000_000)));
            let before = sim.core.stats.events;
            let again = sim.run(&mut (), Limits::until(SimTime(1_000_000)));
            saw.set(Some((
                first,
                again,
                before,
                sim.core.stats.events,
                sim.now(),
            )));
        },
    );
    let (first, again, before, after, now) = seen.get().expect("the closure ran");
    assert_eq!((first, again), (Stop::Interrupted, Stop::Interrupted));
    assert!(ran.get() >= budget && ran.get() < budget + CHECK_EVERY);
    assert_eq!(before, ran.get(), "the check was told every event");
    assert_eq!(before, after, "a run after the cut processes nothing");
    assert_eq!(cut.expect_err("the run was cut").at, now);
    // The check is gone afterwards: the next run completes.
    assert_eq!(trace_of(7), plain);
}

// The harness's wake-ups are its own type: they arrive as scheduled, in
// (time, order scheduled) order, and can carry anything.
#[test]
fn harness_wakes_are_typed() {
    #[derive(Debug, PartialEq)]
    enum Wake {
        Think { client: u32 },
        GiveUp(&'static str),
    }
    struct Waker(Vec<(SimTime, Wake)>);
    impl Harness<PingPong> for Waker {
        type Wake = Wake;
        fn on_reply(
            &mut self,
            _: &mut Core<PingPong, Wake>,
            _: ClientId,
            _: u64,
            _: NodeId,
            _: Count,
        ) {
        }
        fn on_wake(&mut self, core: &mut Core<PingPong, Wake>, wake: Wake) {
            if let Wake::Think { client: 1 } = wake {
                core.schedule_wake(core.now() + SimDuration(5), Wake::GiveUp("late"));
            }
            self.0.push((core.now(), wake));
        }
    }
    let mut sim: Sim<PingPong, Wake> =
        Sim::new(1, nodes(2, 1, 0), &NetConfig::default(), false).unwrap();
    sim.core.schedule_wake(SimTime(10), Wake::GiveUp("first"));
    sim.core
        .schedule_wake(SimTime(3), Wake::Think { client: 1 });
    sim.core
        .schedule_wake(SimTime(10), Wake::Think { client: 2 });
    let mut h = Waker(Vec::new());
    sim.run(&mut h, Limits::until(SimTime(100)));
    assert_eq!(
        h.0,
        vec![
            (SimTime(3), Wake::Think { client: 1 }),
            (SimTime(8), Wake::GiveUp("late")),
            (SimTime(10), Wake::GiveUp("first")),
            (SimTime(10), Wake::Think { client: 2 }),
        ]
    );
}

/// A node that only sets and cancels timers, and writes down what happened:
/// the ground truth the timer tests judge the engine by.
#[derive(Default)]
struct Timers {
    /// Delays (µs) to pick from; more than the engine has lanes.
    delays: Vec<u64>,
    /// Timers still to set after start-up, one or two per firing.
    budget: u32,
    /// Every timer set: (id, the time it is due).
    set: Vec<(u64, u64)>,
    pending: Vec<crate::TimerId>,
    cancelled: Vec<u64>,
    /// Every firing: (time, id).
    fired: Vec<(u64, u64)>,
    /// On its next firing, cancel this timer (the pause test's probe).
    cancel_next: Option<crate::TimerId>,
}

#[derive(Clone, Copy, Debug)]
struct T;

impl crate::Traced for T {
    fn label(&self) -> &'static str {
        "t"
    }
}

impl Timers {
    fn arm(&mut self, cx: &mut crate::Context<'_, Self>) {
        let after = self.delays[cx.rng().index(self.delays.len())];
        let id = cx.set_timer(SimDuration(after), T);
        self.set.push((id.0, cx.now().as_us() + after));
        self.pending.push(id);
    }
}

impl crate::Node for Timers {
    type Msg = crate::bench::Ball;
    type Timer = T;
    type Request = HowMany;
    type Reply = Count;
    type Note = crate::bench::NoNote;

    fn start(&mut self, cx: &mut crate::Context<'_, Self>) {
        for _ in 0..40 {
            self.arm(cx);
        }
    }

    fn handle(&mut self, input: crate::Input<Self>, cx: &mut crate::Context<'_, Self>) {
        let crate::Input::Timer { id, .. } = input else {
            return;
        };
        self.fired.push((cx.now().as_us(), id.0));
        self.pending.retain(|p| *p != id);
        if let Some(probe) = self.cancel_next.take() {
            cx.cancel_timer(probe);
            self.pending.retain(|p| *p != probe);
            self.cancelled.push(probe.0);
        }
        for _ in 0..2 {
            if self.budget > 0 {
                self.budget -= 1;
                self.arm(cx);
            }
        }
        if !self.pending.is_empty() && cx.rng().chance(0.5) {
            let victim = self.pending.swap_remove(cx.rng().index(self.pending.len()));
            cx.cancel_timer(victim);
            self.cancelled.push(victim.0);
        }
    }

    fn crash(&mut self, _wipe_disk: bool) {}
}

// Timers fire exactly when due, each once, in (due time, set order), and a
// cancelled timer never fires: with many delays (more than the engine's lanes),
// delays shared by many timers, zero delays, and random cancellations.
#[test]
fn timers_fire_in_order_and_cancelled_ones_never() {
    for seed in 0..20 {
        let delays: Vec<u64> = (0..24)
            .map(|i| [0, 7, 1_000, 1_000, 250, 3][i % 6] + i as u64 * (i as u64 % 3))
            .collect();
        let ns = (0..3)
            .map(|_| Timers {
                delays: delays.clone(),
                budget: 400,
                ..Timers::default()
            })
            .collect();
        let mut sim = Sim::new(seed, ns, &NetConfig::default(), false).unwrap();
        assert_eq!(sim.run(&mut (), Limits::until(SimTime::MAX)), Stop::Idle);
        let mut fired_total = 0;
        for n in &sim.nodes {
            let mut want: Vec<(u64, u64)> = n
                .set
                .iter()
                .filter(|(id, _)| !n.cancelled.contains(id))
                .map(|&(id, due)| (due, id))
                .collect();
            want.sort();
            assert!(
                n.cancelled.len() > 100,
                "seed {seed}: cancellations happened"
            );
            assert_eq!(n.fired, want, "seed {seed}");
            fired_total += n.fired.len() as u64;
        }
        assert_eq!(sim.core.stats.timers_fired, fired_total);
        assert_eq!(
            sim.core.stats.events, fired_total,
            "a cancelled timer is not an event"
        );
        assert_eq!(sim.core.pending_events(), 0);
    }
}

// A paused node's timers wait and fire at the resume, in order; one of them
// can still be cancelled after the resume; a crash drops the timers it held.
#[test]
fn held_timers_resume_in_order_and_can_be_cancelled() {
    let timers = |budget| Timers {
        delays: vec![1_000, 2_000, 3_000],
        budget,
        ..Timers::default()
    };
    let mut sim = Sim::new(5, vec![timers(0), timers(0)], &NetConfig::default(), false).unwrap();
    for node in [NodeId(0), NodeId(1)] {
        sim.core
            .schedule_fault(SimTime::ZERO, Fault::Pause { node });
    }
    sim.run(&mut (), Limits::until(SimTime(10_000)));
    assert!(sim.nodes.iter().all(|n| n.fired.is_empty()));
    // n0's first held firing cancels its last held timer; n1 crashes while paused.
    let last = *sim.nodes[0].pending.last().unwrap();
    sim.nodes[0].cancel_next = Some(last);
    sim.core
        .schedule_fault(SimTime(20_000), Fault::Resume { node: NodeId(0) });
    sim.core.schedule_fault(
        SimTime(20_000),
        Fault::Crash {
            node: NodeId(1),
            wipe_disk: false,
        },
    );
    assert_eq!(sim.run(&mut (), Limits::until(SimTime::MAX)), Stop::Idle);
    let n0 = &sim.nodes[0];
    assert!(n0.cancelled.contains(&last.0), "the probe was cancelled");
    let mut want: Vec<(u64, u64)> = n0
        .set
        .iter()
        .filter(|(id, _)| !n0.cancelled.contains(id))
        .map(|&(id, due)| (due, id))
        .collect();
    want.sort();
    let want: Vec<(u64, u64)> = want.into_iter().map(|(_, id)| (20_000, id)).collect();
    assert_eq!(
        n0.fired, want,
        "held timers fire at the resume in due order, less the cancelled one"
    );
    assert!(sim.nodes[1].fired.is_empty(), "a crash drops held timers");
    assert_eq!(sim.core.pending_events(), 0);
    assert_eq!(sim.core.tracked_timers(), 0, "every timer finished");
}

struct ReplyTimes(Vec<SimTime>);

impl Harness<PingPong> for ReplyTimes {
    type Wake = ();
    fn on_reply(&mut self, core: &mut Core<PingPong>, _: ClientId, _: u64, _: NodeId, _: Count) {
        self.0.push(core.now());
    }
}

// A request is charged the client request latency and its reply the client
// reply latency, each its own distribution: 3 ms there and 0 back arrives at
// 3 ms; 0 there and 5 ms back at 5 ms; a request's arrival shows in the trace.
#[test]
fn client_requests_and_replies_have_their_own_latency() {
    for (there, back, want) in [(3, 0, 3_000), (0, 5, 5_000), (2, 7, 9_000)] {
        let net = NetConfig {
            client_request: Latency::constant(SimDuration::from_ms(there)),
            client_reply: Latency::constant(SimDuration::from_ms(back)),
            ..NetConfig::default()
        };
        let mut sim = Sim::new(1, nodes(2, 0, 0), &net, true).unwrap();
        sim.core
            .schedule_request(SimTime::ZERO, ClientId(0), NodeId(1), 1, HowMany);
        let mut h = ReplyTimes(Vec::new());
        sim.run(&mut h, Limits::until(SimTime(1_000_000)));
        assert_eq!(h.0, vec![SimTime(want)], "{there} ms there, {back} ms back");
        let trace = sim.core.trace.render_text();
        let request = trace.lines().find(|l| l.contains("request")).unwrap();
        let at = SimTime(there * 1_000).to_string();
        assert!(request.trim_start().starts_with(&at), "{request}");
    }
}

// Time that stops (balls bounced over a zero-latency network for ever) ends
// the run with Stalled after MAX_SAME_INSTANT events at that instant, rather
// than running without end; a run whose time moves is never stalled.
#[test]
fn stopped_time_stalls_the_run() {
    let mut sim = Sim::new(1, nodes(2, 1, u32::MAX), &NetConfig::default(), false).unwrap();
    assert_eq!(
        sim.run(&mut (), Limits::until(SimTime(1_000))),
        Stop::Stalled
    );
    assert_eq!(sim.core.stats.events, crate::MAX_SAME_INSTANT);
    assert_eq!(sim.now(), SimTime::ZERO);
    let net = NetConfig {
        latency: Latency::constant(SimDuration(1)),
        ..NetConfig::default()
    };
    let mut moving = Sim::new(1, nodes(2, 1, u32::MAX), &net, false).unwrap();
    let stop = moving.run(&mut (), Limits::until(SimTime(2 * crate::MAX_SAME_INSTANT)));
    assert_eq!(stop, Stop::TimeLimit);
}

fn held_sim() -> Sim<PingPong> {
    let ns: Vec<PingPong> = (0..2)
        .map(|_| PingPong {
            serve: 1,
            hops: 2,
            tick: Some(SimDuration(10_000)),
            ..PingPong::default()
        })
        .collect();
    let net = crate::Network::new(2, crate::bench::Ball::KINDS, &NetConfig::default()).unwrap();
    Sim::new_holding(1, ns, net, true)
}

fn digest_of(sim: &Sim<PingPong>) -> crate::digest::Digest {
    let mut h = crate::digest::StableHasher::new();
    sim.hash_state(&mut h);
    h.finish128()
}

fn held_labels(sim: &Sim<PingPong>) -> Vec<String> {
    sim.core
        .held()
        .iter()
        .map(|h| format!("{}@{}", h.label(), h.node()))
        .collect()
}

use crate::Message;

#[test]
fn a_holding_run_waits_for_each_release() {
    let mut sim = held_sim();
    // Each node served one ball to its partner and set its tick.
    assert_eq!(
        held_labels(&sim),
        ["ping@n1", "tick@n0", "ping@n0", "tick@n1"]
    );
    // Nothing is delivered by running: nothing held is queued.
    assert_eq!(sim.run_to(SimTime(1_000_000), &mut ()), Stop::Idle);
    assert_eq!(sim.nodes[1].received_total, 0);
    assert!(sim.release(0, &mut ()));
    assert_eq!(sim.nodes[1].received_total, 1);
    assert_eq!(
        sim.now(),
        SimTime(1_000_000),
        "a delivery does not move the clock"
    );
    assert_eq!(
        held_labels(&sim),
        ["tick@n0", "ping@n0", "tick@n1", "pong@n0"]
    );
    // A timer fires when released; the clock stays where the caller put it.
    assert!(sim.release(0, &mut ()));
    assert_eq!(sim.nodes[0].ticks, 1);
    assert_eq!(sim.now(), SimTime(1_000_000));
    // A timer's ids are per node while holding.
    let ids: Vec<u64> = sim
        .core
        .held()
        .iter()
        .filter_map(|h| match h {
            crate::Held::Timer { id, .. } => Some(id.0),
            _ => None,
        })
        .collect();
    assert_eq!(
        ids,
        [2 * crate::HELD_TIMER_BASE, crate::HELD_TIMER_BASE + 1]
    );
    assert!(!sim.release(9, &mut ()), "no item 9");
}

#[test]
fn deliveries_to_different_nodes_commute_and_forks_are_independent() {
    let sim = held_sim();
    let before = digest_of(&sim);
    let mut a = sim.fork();
    let mut b = sim.fork();
    assert_eq!(digest_of(&a), before, "a fork digests as its original");
    // a: the ball to n1, then the ball to n0; b: the other order.
    a.release(0, &mut ());
    a.release(1, &mut ());
    b.release(2, &mut ());
    b.release(0, &mut ());
    // Held in another order (the order they were sent), the same multiset.
    let (mut la, mut lb) = (held_labels(&a), held_labels(&b));
    assert_ne!(la, lb);
    la.sort();
    lb.sort();
    assert_eq!(la, lb);
    assert_eq!(
        digest_of(&a),
        digest_of(&b),
        "the same state, reached two ways"
    );
    assert_ne!(digest_of(&a), before);
    assert_eq!(digest_of(&sim), before, "the original did not move");
    assert_eq!(sim.nodes[1].received_total, 0);
}

#[test]
fn held_messages_drop_duplicate_and_crash_as_told() {
    let mut sim = held_sim();
    assert!(sim.duplicate_held(0));
    assert_eq!(
        held_labels(&sim),
        ["ping@n1", "tick@n0", "ping@n0", "tick@n1", "ping@n1"]
    );
    assert!(!sim.duplicate_held(1), "a timer is not a message");
    assert!(sim.drop_held(0));
    assert!(!sim.drop_held(0), "a timer cannot be dropped");
    sim.core.schedule_fault(
        SimTime::ZERO,
        Fault::Crash {
            node: NodeId(1),
            wipe_disk: false,
        },
    );
    sim.run(&mut (), Limits::until(SimTime::ZERO));
    // n1's tick is gone with the crash; the copy to n1 waits, and is dropped on delivery.
    assert_eq!(held_labels(&sim), ["tick@n0", "ping@n0", "ping@n1"]);
    sim.release(2, &mut ());
    assert_eq!(sim.nodes[1].received_total, 0);
    let text = sim.core.trace.render_text();
    assert!(text.contains("copied as m3 @held"), "{text}");
    assert!(text.contains("m1 ping n0 -> n1: lost"), "{text}");
    assert!(text.contains("node crashed since it was set"), "{text}");
}

#[test]
fn a_run_that_stops_holding_goes_on_as_any_other() {
    let mut sim = held_sim();
    sim.release(0, &mut ());
    sim.stop_holding();
    assert!(!sim.core.is_holding());
    sim.run(&mut (), Limits::until(SimTime(25_000)));
    // Both balls bounced to the end (3 receptions each way in all), and each tick fired twice.
    assert_eq!(sim.nodes[0].received_total + sim.nodes[1].received_total, 6);
    assert_eq!((sim.nodes[0].ticks, sim.nodes[1].ticks), (2, 2));
}
