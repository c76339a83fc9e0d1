//! A minimal node used by sim-core's own tests and its benchmark: nodes in
//! pairs bounce messages back and forth. It also shows the smallest complete
//! [`Node`] implementation.

use crate::engine::{ClientId, Context, Input, Message, Node, NodeId, Traced};
use crate::time::SimDuration;
use std::fmt::Write as _;

/// A ball bounced between a node and its partner (`n0`<->`n1`, `n2`<->`n3`, ...).
#[derive(Clone, Debug, PartialEq)]
pub enum Ball {
    Ping { hops: u32 },
    Pong { hops: u32 },
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
#[derive(Clone, Debug)]
pub struct Tick;

impl Traced for Tick {
    fn label(&self) -> &'static str {
        "tick"
    }
}

/// A client asks a node how many balls it has received since it last started.
#[derive(Debug)]
pub struct HowMany;

impl Traced for HowMany {
    fn label(&self) -> &'static str {
        "how-many"
    }
}

#[derive(Debug)]
pub struct Count(pub u64);

impl Traced for Count {
    fn label(&self) -> &'static str {
        "count"
    }
    fn detail(&self, out: &mut String) {
        let _ = write!(out, "{}", self.0);
    }
}

#[derive(Debug)]
pub struct NoNote;

impl Traced for NoNote {
    fn label(&self) -> &'static str {
        "note"
    }
}

/// A ping-pong node.
#[derive(Clone, Debug, Default)]
pub struct PingPong {
    /// Balls this node serves at start-up, each bounced `hops` times.
    pub serve: u32,
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
