//! Engine throughput against a bare-loop baseline, measured in the same run.
//!
//! The engine runs 100 ping-pong nodes in 50 pairs that keep 10,000 balls in
//! flight (uniform 1..10 ms latency, trace off). The baseline is the least an
//! event loop can do: `BinaryHeap` pop + push plus one ChaCha draw per event,
//! with 10,000 entries in the heap. Both are timed in alternation, several
//! rounds, and the median rates are reported with their ratio.
//!
//! Run: `cargo bench -p sim-core` (add `-- --events N` to change the count).
//! `dynsim bench` runs the same two loops, each in its own process, beside
//! the model's benchmarks.
#![expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "a benchmark measures wall time; the engine under test never sees it"
)]

use sim_core::bench::{BENCH_IN_FLIGHT as IN_FLIGHT, bare_loop, bench_sim};
use sim_core::{Limits, SimTime};
use std::hint::black_box;
use std::time::Instant;

fn engine(events: u64) -> f64 {
    let mut sim = bench_sim();
    let start = Instant::now();
    sim.run(
        &mut (),
        Limits {
            until: SimTime::MAX,
            max_events: events,
        },
    );
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sim.core.stats.events, events);
    assert_eq!(sim.core.pending_events() as u32, IN_FLIGHT);
    events as f64 / secs
}

fn baseline(events: u64) -> f64 {
    let start = Instant::now();
    black_box(bare_loop(events));
    events as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut events: u64 = 5_000_000;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--events") {
        events = args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .expect("--events takes a whole number");
    }
    let rounds = 5;
    let (mut e, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        b.push(baseline(events));
        e.push(engine(events));
    }
    let (e, b) = (median(e), median(b));
    println!("events per round     {events} ({rounds} rounds, medians; {IN_FLIGHT} in flight)");
    println!("bare loop            {:>12.0} events/s", b);
    println!("engine (ping-pong)   {:>12.0} events/s", e);
    println!("engine / bare loop   {:>12.3} (target >= 0.7)", e / b);
}
