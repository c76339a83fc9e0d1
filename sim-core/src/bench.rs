//! A minimal node used by sim-core's own tests and its benchmark: nodes in
//! pairs bounce messages back and forth. It also shows the smallest complete
//! [`Node`] implementation.

use crate::engine::{ClientId, Context, Input, Message, Node, NodeId, Traced};
use crate::time::SimDuration;
use std::fmt::Write as _;

/// A ball bounced between a node and its partner (`n0`<->`n1`, `n2`<->`n3`, ...).
#[derive(Clone, Debug, PartialEq, Hash)]
pub enum Ball {
    /// A ball served or sent back; the receiver returns it as a [`Ball::Pong`] while hops remain.
    Ping {
        /// Returns still to make: the receiver sends the ball back, with one fewer, while this is above 0.
        hops: u32,
    },
    /// A ball sent back; the receiver returns it as a [`Ball::Ping`] while hops remain.
    Pong {
        /// Returns still to make: the receiver sends the ball back, with one fewer, while this is above 0.
        hops: u32,
    },
}

impl Traced for Ball {
    fn label(&self) -> &'static str {
        Self::KINDS[self.kind()]
    }
    fn detail(&self, out: &mut String) {
        let (Ball::Ping { hops } | Ball::Pong { hops }) = self;
        let _ = write!(out, "hops={hops}");
    }
}

impl Message for Ball {
    const KINDS: &'static [&'static str] = &["ping", "pong"];
    fn kind(&self) -> usize {
        match self {
            Ball::Ping { .. } => 0,
            Ball::Pong { .. } => 1,
        }
    }
}

/// The only timer: a periodic tick that counts itself.
#[derive(Clone, Debug, Hash)]
pub struct Tick;

impl Traced for Tick {
    fn label(&self) -> &'static str {
        "tick"
    }
}

/// A client asks a node how many balls it has received since it last started.
#[derive(Clone, Debug, Hash)]
pub struct HowMany;

impl Traced for HowMany {
    fn label(&self) -> &'static str {
        "how-many"
    }
}

/// The reply to [`HowMany`]: balls received since the node last started.
#[derive(Clone, Debug, Hash)]
pub struct Count(pub u64);

impl Traced for Count {
    fn label(&self) -> &'static str {
        "count"
    }
    fn detail(&self, out: &mut String) {
        let _ = write!(out, "{}", self.0);
    }
}

/// The note type; a ping-pong node never adds notes to the trace.
#[derive(Debug)]
pub struct NoNote;

impl Traced for NoNote {
    fn label(&self) -> &'static str {
        "note"
    }
}

/// A ping-pong node.
#[derive(Clone, Debug, Default, Hash)]
pub struct PingPong {
    /// Balls this node serves at start-up, each bounced `hops` times.
    pub serve: u32,
    /// How many times each served ball is returned before it stops.
    pub hops: u32,
    /// If set, a periodic timer with this period.
    pub tick: Option<SimDuration>,
    /// Durable: balls received over the node's whole life.
    pub received_total: u64,
    /// Volatile: balls received since the last (re)start.
    pub received_since_start: u64,
    /// Volatile: ticks since the last (re)start.
    pub ticks: u64,
}

impl PingPong {
    /// The node `me` bounces balls with: `n0` and `n1` are partners, `n2` and `n3`, and so on.
    pub fn partner(me: NodeId) -> NodeId {
        NodeId(me.0 ^ 1)
    }
}

impl Node for PingPong {
    type Msg = Ball;
    type Timer = Tick;
    type Request = HowMany;
    type Reply = Count;
    type Note = NoNote;

    fn start(&mut self, cx: &mut Context<'_, Self>) {
        let to = Self::partner(cx.me());
        for _ in 0..self.serve {
            cx.send(to, Ball::Ping { hops: self.hops });
        }
        if let Some(p) = self.tick {
            cx.set_timer(p, Tick);
        }
    }

    fn handle(&mut self, input: Input<Self>, cx: &mut Context<'_, Self>) {
        match input {
            Input::Message { from, msg } => {
                self.received_total += 1;
                self.received_since_start += 1;
                match msg {
                    Ball::Ping { hops } if hops > 0 => cx.send(from, Ball::Pong { hops: hops - 1 }),
                    Ball::Pong { hops } if hops > 0 => cx.send(from, Ball::Ping { hops: hops - 1 }),
                    _ => {}
                }
            }
            Input::Timer { .. } => {
                self.ticks += 1;
                if let Some(p) = self.tick {
                    cx.set_timer(p, Tick);
                }
            }
            Input::Request {
                client,
                req,
                body: HowMany,
            } => {
                let _: ClientId = client;
                cx.reply(client, req, Count(self.received_since_start));
            }
        }
    }

    fn crash(&mut self, wipe_disk: bool) {
        self.received_since_start = 0;
        self.ticks = 0;
        if wipe_disk {
            self.received_total = 0;
        }
    }
}

/// Balls the benchmark keeps in flight.
pub const BENCH_IN_FLIGHT: u32 = 10_000;
/// Nodes of the benchmark, in pairs.
pub const BENCH_NODES: u32 = 100;

/// The engine benchmark's simulation: 100 ping-pong nodes in 50 pairs that
/// keep 10,000 balls in flight forever (uniform 1..10 ms latency, trace off).
/// Run it for a number of events and time that from outside.
pub fn bench_sim() -> crate::Sim<PingPong> {
    let net = crate::NetConfig {
        latency: crate::Latency::Uniform {
            min_us: 1_000.0,
            max_us: 10_000.0,
        },
        ..crate::NetConfig::default()
    };
    let nodes = (0..BENCH_NODES)
        .map(|_| PingPong {
            serve: BENCH_IN_FLIGHT / BENCH_NODES,
            hops: u32::MAX,
            ..PingPong::default()
        })
        .collect();
    crate::Sim::new(1, nodes, &net, false).expect("a valid network")
}

/// The least an event loop can do, the engine benchmark's yardstick:
/// `events` times, pop the earliest of 10,000 (time, sequence) entries from a
/// `BinaryHeap` and push one a random 1..10 ms later, one ChaCha draw each.
/// Returns a checksum, so the work cannot be optimised away.
pub fn bare_loop(events: u64) -> u64 {
    use std::cmp::Reverse;
    let mut rng = crate::SimRng::new(1, crate::Stream::Network);
    let mut heap = std::collections::BinaryHeap::with_capacity(BENCH_IN_FLIGHT as usize);
    let mut seq = 0u64;
    for _ in 0..BENCH_IN_FLIGHT {
        heap.push(Reverse((1_000 + rng.below(9_000), seq)));
        seq += 1;
    }
    for _ in 0..events {
        let Reverse((t, _)) = heap.pop().expect("never empty");
        let delay = 1_000 + (rng.next_u64() % 9_001);
        heap.push(Reverse((t + delay, seq)));
        seq += 1;
    }
    heap.peek().map_or(0, |Reverse((t, s))| t ^ s)
}
