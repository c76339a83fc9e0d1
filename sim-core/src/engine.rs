//! The event loop: a queue of (time, sequence) ordered events, the nodes, and
//! the effects they emit.

use crate::net::{Fate, NetConfig, Network};
use crate::queue::{Key, Queue};
use crate::rng::{SimRng, Stream};
use crate::time::{SimDuration, SimTime};
use crate::trace::{Actor, DropReason, Event, Trace};
use std::collections::VecDeque;
use std::fmt;

// Holding mode's logic; its types are here, so that it imports this file
// and not the other way round.
mod hold;
use crate::digest::Digest;
use std::hash::{Hash, Hasher};

/// A node's index: `n0`, `n1`, ...
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The id as an index into per-node vectors, such as [`Sim::nodes`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only a padded form needs the whole name as one string first.
        if f.width().is_some() || f.precision().is_some() {
            f.pad(&format!("n{}", self.0))
        } else {
            write!(f, "n{}", self.0)
        }
    }
}

/// A client's index: `c0`, `c1`, ... Clients live in the harness, not the engine.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct ClientId(pub u32);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_some() || f.precision().is_some() {
            f.pad(&format!("c{}", self.0))
        } else {
            write!(f, "c{}", self.0)
        }
    }
}

/// A timer handle, unique within a run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TimerId(pub u64);

/// Something that appears in the trace: a short label and optional details.
/// `detail` is only called when the trace is recording.
pub trait Traced {
    /// The short name the trace shows for it, such as a message kind or a timer's name.
    fn label(&self) -> &'static str;
    /// Appends its details to `out` for the trace; the default adds none.
    fn detail(&self, _out: &mut String) {}
}

/// A message between nodes. Its kind selects the latency model and the stats bucket.
pub trait Message: Traced + Clone {
    /// The names of every kind, indexed by [`Message::kind`].
    const KINDS: &'static [&'static str];
    /// This message's kind, as an index into [`Message::KINDS`].
    fn kind(&self) -> usize;
    /// About how many bytes it holds on the heap (lists it carries), for the
    /// bound on what may be in flight at once ([`MAX_PENDING_BYTES`]).
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// What a node receives.
pub enum Input<N: Node> {
    /// A client request (`req` is the harness's id for it).
    Request {
        /// The client that sent it, to address the reply to.
        client: ClientId,
        /// The harness's id for the request; the reply carries it back.
        req: u64,
        /// The request itself.
        body: N::Request,
    },
    /// A message from another node.
    Message {
        /// The node that sent it.
        from: NodeId,
        /// The message itself.
        msg: N::Msg,
    },
    /// A timer the node set earlier.
    Timer {
        /// The handle [`Context::set_timer`] returned for it.
        id: TimerId,
        /// The value the node set the timer with.
        timer: N::Timer,
    },
}

/// A node state machine. It sees time and randomness only through its
/// [`Context`] and acts only through the context's effects.
pub trait Node: Sized {
    /// What nodes send each other.
    type Msg: Message;
    /// What a timer hands back to the node when it fires.
    type Timer: Traced;
    /// What clients ask a node.
    type Request: Traced;
    /// What a node answers a client with.
    type Reply: Traced;
    /// What a node adds to the trace with [`Context::note`].
    type Note: Traced;

    /// Called at the start of the run and after every restart (arm periodic timers here).
    fn start(&mut self, cx: &mut Context<'_, Self>);
    /// Handles one input: a client request, a message or a timer.
    fn handle(&mut self, input: Input<Self>, cx: &mut Context<'_, Self>);
    /// Drops volatile state; with `wipe_disk`, durable state too.
    fn crash(&mut self, wipe_disk: bool);
}

enum Effect<N: Node> {
    Send {
        to: NodeId,
        msg: N::Msg,
    },
    SetTimer {
        id: TimerId,
        after: SimDuration,
        timer: N::Timer,
    },
    CancelTimer {
        id: TimerId,
    },
    Reply {
        client: ClientId,
        req: u64,
        body: N::Reply,
    },
    Note(N::Note),
}

/// What a node handler gets: the time, its identity, its clock, its RNG
/// stream, and a buffer for its effects.
pub struct Context<'a, N: Node> {
    now: SimTime,
    me: NodeId,
    skew_us: i64,
    tracing: bool,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<Effect<N>>,
    next_timer: &'a mut u64,
}

impl<N: Node> Context<'_, N> {
    /// The current simulated time (the node's own clock may differ: see [`Context::clock_us`]).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// The node being run.
    #[inline]
    pub fn me(&self) -> NodeId {
        self.me
    }
    /// The node's own clock reading in microseconds: simulated time plus its skew.
    pub fn clock_us(&self) -> i64 {
        self.now.as_us() as i64 + self.skew_us
    }
    /// The node's own random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }
    /// Sends `msg` to node `to` through the network model, which may delay, lose, duplicate or cut it off.
    #[inline]
    pub fn send(&mut self, to: NodeId, msg: N::Msg) {
        self.effects.push(Effect::Send { to, msg });
    }
    /// Sets a timer that fires `after` from now, unless cancelled or the node crashes first.
    pub fn set_timer(&mut self, after: SimDuration, timer: N::Timer) -> TimerId {
        let id = TimerId(*self.next_timer);
        *self.next_timer += 1;
        self.effects.push(Effect::SetTimer { id, after, timer });
        id
    }
    /// Cancels timer `id`; a timer that has already fired or been cancelled is left alone.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.effects.push(Effect::CancelTimer { id });
    }
    /// Answers `client`'s request `req` with `body`; the harness gets it after the client reply latency.
    pub fn reply(&mut self, client: ClientId, req: u64, body: N::Reply) {
        self.effects.push(Effect::Reply { client, req, body });
    }
    /// Whether the trace is recording; build expensive notes only when it is.
    #[inline]
    pub fn tracing(&self) -> bool {
        self.tracing
    }
    /// Adds a note to the trace. Costs nothing when the trace is off.
    #[inline]
    pub fn note(&mut self, note: N::Note) {
        if self.tracing {
            self.effects.push(Effect::Note(note));
        }
    }
    /// Like [`Context::note`], but builds the note only when the trace is recording.
    #[inline]
    pub fn note_with(&mut self, f: impl FnOnce() -> N::Note) {
        if self.tracing {
            self.effects.push(Effect::Note(f()));
        }
    }
}

/// Where node `i`'s timer ids start while holding: `(i + 1) << 32`.
pub const HELD_TIMER_BASE: u64 = 1 << 32;

/// Something waiting to be released.
pub enum Held<N: Node> {
    /// A message between nodes.
    Msg {
        /// Its id in the trace.
        id: u64,
        /// The sender.
        from: NodeId,
        /// The destination.
        to: NodeId,
        /// The message.
        msg: N::Msg,
    },
    /// A client's request to a node.
    Request {
        /// The client that sent it.
        client: ClientId,
        /// The node it goes to.
        node: NodeId,
        /// The harness's id for it.
        req: u64,
        /// The request.
        body: N::Request,
    },
    /// A node's timer.
    Timer {
        /// The node that set it.
        node: NodeId,
        /// Its handle.
        id: TimerId,
        /// When it is due: set time plus its delay.
        due: SimTime,
        /// The timer.
        timer: N::Timer,
    },
}

impl<N: Node> Clone for Held<N>
where
    N::Request: Clone,
    N::Timer: Clone,
{
    fn clone(&self) -> Self {
        match self {
            Held::Msg { id, from, to, msg } => Held::Msg {
                id: *id,
                from: *from,
                to: *to,
                msg: msg.clone(),
            },
            Held::Request {
                client,
                node,
                req,
                body,
            } => Held::Request {
                client: *client,
                node: *node,
                req: *req,
                body: body.clone(),
            },
            Held::Timer {
                node,
                id,
                due,
                timer,
            } => Held::Timer {
                node: *node,
                id: *id,
                due: *due,
                timer: timer.clone(),
            },
        }
    }
}

impl<N: Node> Held<N> {
    /// The node it acts on when released: the destination, or the timer's node.
    pub fn node(&self) -> NodeId {
        match self {
            Held::Msg { to, .. } => *to,
            Held::Request { node, .. } | Held::Timer { node, .. } => *node,
        }
    }

    /// Its label: the message kind, the request's or the timer's label.
    pub fn label(&self) -> &'static str {
        match self {
            Held::Msg { msg, .. } => N::Msg::KINDS[msg.kind()],
            Held::Request { body, .. } => body.label(),
            Held::Timer { timer, .. } => timer.label(),
        }
    }
}

/// Hashes what a held item is, without the trace's message id: two copies
/// of one message are the same item.
impl<N: Node> Hash for Held<N>
where
    N::Msg: Hash,
    N::Request: Hash,
    N::Timer: Hash,
{
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Held::Msg { from, to, msg, .. } => {
                state.write_u8(0);
                from.hash(state);
                to.hash(state);
                msg.hash(state);
            }
            Held::Request {
                client,
                node,
                req,
                body,
            } => {
                state.write_u8(1);
                client.hash(state);
                node.hash(state);
                req.hash(state);
                body.hash(state);
            }
            Held::Timer {
                node,
                id,
                due,
                timer,
            } => {
                state.write_u8(2);
                node.hash(state);
                id.hash(state);
                due.hash(state);
                timer.hash(state);
            }
        }
    }
}

/// The holding state of a core.
pub(crate) struct Hold<N: Node> {
    /// What waits, in the order it was sent or set.
    pub(crate) items: Vec<Held<N>>,
    /// Each node's next timer id.
    pub(crate) next_timer: Vec<u64>,
}

impl<N: Node> Hold<N> {
    pub(crate) fn new(nodes: usize) -> Hold<N> {
        Hold {
            items: Vec::new(),
            next_timer: (0..nodes as u64)
                .map(|i| (i + 1) * HELD_TIMER_BASE)
                .collect(),
        }
    }
}

/// The digest of one held item, as the explorer names it.
pub fn item_digest<N: Node>(item: &Held<N>) -> Digest
where
    N::Msg: Hash,
    N::Request: Hash,
    N::Timer: Hash,
{
    crate::digest::digest(item)
}

/// A fault the world applies at a simulated time.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The node stops; volatile state is lost, and durable state too when `wipe_disk`.
    Crash {
        /// The node that crashes.
        node: NodeId,
        /// Whether its durable state is lost as well.
        wipe_disk: bool,
    },
    /// A crashed node comes back and runs its start-up.
    Restart {
        /// The node that comes back; nothing happens if it is up.
        node: NodeId,
    },
    /// The node stops processing; what arrives meanwhile waits for `Resume`.
    Pause {
        /// The node that stops; nothing happens if it is down.
        node: NodeId,
    },
    /// A paused node carries on, handling what waited for it in arrival order.
    Resume {
        /// The node that carries on; nothing happens if it is not paused.
        node: NodeId,
    },
    /// Cuts every link between nodes of different groups, both ways. Nodes in no group form one more group.
    Partition {
        /// The groups; no link within a group is cut.
        groups: Vec<Vec<NodeId>>,
    },
    /// Cuts every link from a node of `from` to a node of `to`, in that direction only.
    OneWay {
        /// The senders whose links are cut.
        from: Vec<NodeId>,
        /// The receivers those senders can no longer reach.
        to: Vec<NodeId>,
    },
    /// Restores every link cut by a partition.
    Heal,
    /// Sets the node's clock offset from simulated time.
    ClockSkew {
        /// The node whose clock is set.
        node: NodeId,
        /// Microseconds added to simulated time to give the node's clock reading; may be negative.
        skew_us: i64,
    },
    /// Sets the global loss probability.
    Loss {
        /// Probability, from 0 to 1, that a message is lost; links with their own loss keep it.
        p: f64,
    },
    /// Sets the global duplication probability.
    Duplicate {
        /// Probability, from 0 to 1, that a message is delivered twice; links with their own keep it.
        p: f64,
    },
    /// Adds delay to every message to or from the node (zero clears it).
    Slow {
        /// The slowed node.
        node: NodeId,
        /// Delay added to each message it sends or receives, replacing any earlier one.
        extra: SimDuration,
    },
}

fn fmt_nodes(f: &mut fmt::Formatter<'_>, nodes: &[NodeId]) -> fmt::Result {
    write!(f, "{{")?;
    for (i, n) in nodes.iter().enumerate() {
        write!(f, "{}{n}", if i > 0 { " " } else { "" })?;
    }
    write!(f, "}}")
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Crash {
                node,
                wipe_disk: false,
            } => write!(f, "crash {node}"),
            Fault::Crash {
                node,
                wipe_disk: true,
            } => write!(f, "crash {node} and wipe its disk"),
            Fault::Restart { node } => write!(f, "restart {node}"),
            Fault::Pause { node } => write!(f, "pause {node}"),
            Fault::Resume { node } => write!(f, "resume {node}"),
            Fault::Partition { groups } => {
                write!(f, "partition ")?;
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        write!(f, " | ")?;
                    }
                    fmt_nodes(f, g)?;
                }
                Ok(())
            }
            Fault::OneWay { from, to } => {
                write!(f, "one-way partition ")?;
                fmt_nodes(f, from)?;
                write!(f, " -/-> ")?;
                fmt_nodes(f, to)
            }
            Fault::Heal => write!(f, "heal all partitions"),
            Fault::ClockSkew { node, skew_us } => {
                let sign = if *skew_us < 0 { "-" } else { "+" };
                write!(
                    f,
                    "clock skew {node} {sign}{}",
                    SimDuration(skew_us.unsigned_abs())
                )
            }
            Fault::Loss { p } => write!(f, "loss probability {p}"),
            Fault::Duplicate { p } => write!(f, "duplicate probability {p}"),
            Fault::Slow { node, extra } => write!(f, "slow {node} by {extra} each way"),
        }
    }
}

enum Ev<N: Node, W> {
    Deliver {
        id: u64,
        from: NodeId,
        to: NodeId,
        msg: N::Msg,
    },
    Timer {
        node: NodeId,
        id: TimerId,
        incarnation: u32,
        /// The timer lane it waits in, or [`NO_LANE`] when it waits in the heap.
        lane: u32,
        timer: N::Timer,
    },
    /// A timer that was cancelled before it fired: it keeps its place until
    /// it reaches the front, then vanishes without being counted as an event.
    Cancelled { lane: u32 },
    Request {
        client: ClientId,
        node: NodeId,
        req: u64,
        body: N::Request,
    },
    Reply {
        client: ClientId,
        node: NodeId,
        req: u64,
        body: N::Reply,
    },
    /// Boxed: a fault is rare and large, and every slot of the slab is as big as the largest event.
    Fault(Box<Fault>),
    /// The harness's own wake-up.
    Wake(W),
}

// A queue key is 16 bytes, like the bare loop's: the event itself waits in
// a slab. `order` packs the insertion sequence (high 40 bits) above the slab
// slot (low 24 bits), so comparing (time, order) orders by (time, sequence).
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// Limits of the packing: 16.7 million events pending at once, 1.1e12 events per run.
const MAX_PENDING: usize = 1 << SLOT_BITS;

/// What may be pending at once: queued events (each a slab slot) and the
/// heap bytes of the messages in flight. Past it a run stops as
/// [`Stop::Overloaded`], long before memory runs out: messages piling up
/// under latencies far longer than the gossip interval, or an open-loop
/// load far above what the cluster serves. 1 GiB.
pub const MAX_PENDING_BYTES: usize = 1 << 30;

/// Queued events at most, half of what the queue's keys can address, so
/// that no one handler's sends can reach that limit.
const MAX_PENDING_EVENTS: usize = MAX_PENDING / 2;
const MAX_SEQ: u64 = 1 << (64 - SLOT_BITS);

impl Key {
    fn slot(self) -> usize {
        (self.order & SLOT_MASK) as usize
    }
}

/// Timers set with the same delay fire in the order they were set: their
/// (time, sequence) keys only grow. So each such delay gets a FIFO lane, and
/// only a lane's front waits in the heap. A model's timers mostly come in a
/// few fixed delays (deadlines, timeouts, periodic rounds), and most of them
/// are cancelled long before they fire: in a lane, a cancelled timer costs no
/// heap work at all, and the heap stays as small as the traffic in flight.
#[derive(Clone)]
struct Lane {
    after: u64,
    keys: VecDeque<Key>,
}

/// Lanes at most; a timer whose delay finds no lane waits in the heap.
const MAX_LANES: usize = 16;
/// The lane of an event that waits in the heap itself.
const NO_LANE: u32 = u32::MAX;
/// [`Core::timer_slots`] entry of a timer that fired, was dropped or was cancelled.
const TIMER_DONE: u32 = u32::MAX;
/// [`Core::timer_slots`] entry of a timer held by a paused node.
const TIMER_HELD: u32 = u32::MAX - 1;

struct NodeState<N: Node, W> {
    up: bool,
    paused: bool,
    incarnation: u32,
    skew_us: i64,
    /// Events that arrived while paused, in arrival order.
    held: Vec<Ev<N, W>>,
}

/// Counters the engine keeps for every run, trace or not.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Events processed over the whole run; cancelled timers are not counted.
    pub events: u64,
    /// Per message kind, indexed like [`Message::KINDS`].
    pub sent: Vec<u64>,
    /// Messages handed to their destination node, per kind like `sent`.
    pub delivered: Vec<u64>,
    /// Messages lost, cut off by a partition, or arriving at a crashed node, per kind like `sent`.
    pub dropped: Vec<u64>,
    /// Extra copies the network made, per kind like `sent`.
    pub duplicated: Vec<u64>,
    /// Timers handed to their node; timers dropped by a crash are not counted.
    pub timers_fired: u64,
    /// Client requests handed to a running node.
    pub requests: u64,
    /// Replies that reached their client.
    pub replies: u64,
    /// Faults applied, including those that changed nothing.
    pub faults: u64,
}

/// Run limits: a run ends at the first one reached, with that reason.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Process events up to and including this time.
    pub until: SimTime,
    /// Stop after this many events in this call.
    pub max_events: u64,
}

impl Limits {
    /// Limits that stop only at time `t`, with no cap on events.
    pub fn until(t: SimTime) -> Limits {
        Limits {
            until: t,
            max_events: u64::MAX,
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stop {
    /// No events left.
    Idle,
    /// The next event is past `Limits::until`; time has moved to `until`
    /// (or stays where it was, when that is later).
    TimeLimit,
    /// `Limits::max_events` events were processed.
    EventLimit,
    /// [`MAX_SAME_INSTANT`] events in a row happened at one simulated time:
    /// time has stopped (zero latency and zero think time make operations
    /// without end at one instant). The run would never reach its limit.
    Stalled,
    /// The thread's stop check ([`crate::stop::with_stop_check`]) said stop:
    /// a budget ran out or the run was cancelled. Every later run on the
    /// thread, until the check is removed, stops at once with this too.
    Interrupted,
    /// More was pending at once than [`MAX_PENDING_BYTES`] (or 8.4 million
    /// events), or the harness held more than it may ([`Core::overload`]):
    /// the run stops rather than exhaust memory.
    Overloaded,
}

impl Stop {
    /// Whether running again cannot get further: time has stopped, or the
    /// run was interrupted. Loops that run a simulation in steps end on it.
    pub fn is_final(self) -> bool {
        matches!(self, Stop::Stalled | Stop::Interrupted | Stop::Overloaded)
    }
}

/// Events in a row at one simulated time that count as time having stopped.
/// Far above any real burst (10,000 nodes starting at once schedule tens of
/// thousands), and a fraction of a second of wall time. It must be small: a
/// load that never lets time pass records an operation every few events, and
/// 20 million events of that once took 22 GB before they ended.
pub const MAX_SAME_INSTANT: u64 = 100_000;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stop::Idle => "no events left",
            Stop::TimeLimit => "reached the time limit",
            Stop::EventLimit => "reached the event limit",
            Stop::Stalled => "STALLED: simulated time stopped advancing (100,000 events at one instant; zero latency and zero think time?)",
            Stop::Interrupted => "interrupted (a budget ran out, or the run was cancelled)",
            Stop::Overloaded => "OVERLOADED: more was pending at once than a run may hold (latencies far longer than the gossip interval, or an open-loop load far above what the cluster serves?)",
        })
    }
}

/// The outside world's part of a run: it receives client replies and its
/// own wake-ups, and may schedule more requests, wake-ups and faults through
/// [`Core`].
pub trait Harness<N: Node> {
    /// What the harness wakes itself with (client think time, client-side
    /// timeouts): typed like a node's timers, never packed into an integer.
    type Wake;

    /// A reply `node` sent reached `client` (after the client latency).
    fn on_reply(
        &mut self,
        core: &mut Core<N, Self::Wake>,
        client: ClientId,
        req: u64,
        node: NodeId,
        reply: N::Reply,
    );
    /// A wake-up the harness scheduled with [`Core::schedule_wake`] is due.
    fn on_wake(&mut self, _core: &mut Core<N, Self::Wake>, _wake: Self::Wake) {}
    /// Sees an input just before `node` handles it, with every node's state
    /// as it is before the handler, so a checker can keep what it needs of
    /// them. Invariant checkers observe through these three hooks; the
    /// default does nothing.
    fn observe_input(&mut self, _now: SimTime, _node: NodeId, _input: &Input<N>, _nodes: &[N]) {}
    /// Sees a reply as `node` sends it (before client latency), with every node's state.
    fn observe_reply(
        &mut self,
        _now: SimTime,
        _node: NodeId,
        _client: ClientId,
        _req: u64,
        _reply: &N::Reply,
        _nodes: &[N],
    ) {
    }
    /// Sees every node's state right after `node` handled an input.
    fn observe_handled(&mut self, _now: SimTime, _node: NodeId, _nodes: &[N]) {}
    /// Whether [`Harness::on_send`] wants to see sends (asked once per
    /// handler that sent something; the default does not).
    fn watches_sends(&self) -> bool {
        false
    }
    /// `from` has just sent `msg` to `to` (its handler is done; the message
    /// is not yet on the network). The harness may schedule faults: one at
    /// the current time lands before anything the node sent arrives, which
    /// is how a fault is timed to a protocol event ("crash the node right
    /// after it sends an acknowledgement").
    fn on_send(
        &mut self,
        _core: &mut Core<N, Self::Wake>,
        _from: NodeId,
        _to: NodeId,
        _msg: &N::Msg,
    ) {
    }
}

/// A harness that ignores replies and never wakes.
impl<N: Node> Harness<N> for () {
    type Wake = ();
    fn on_reply(&mut self, _: &mut Core<N>, _: ClientId, _: u64, _: NodeId, _: N::Reply) {}
}

/// The harness a simulation's nodes start under: nothing reaches a harness
/// while they start, so it has nothing to do.
struct Starting<W>(std::marker::PhantomData<W>);

impl<N: Node, W> Harness<N> for Starting<W> {
    type Wake = W;
    fn on_reply(&mut self, _: &mut Core<N, W>, _: ClientId, _: u64, _: NodeId, _: N::Reply) {}
}

/// Everything but the nodes: clock, queue, network, RNG streams, trace and
/// stats. `W` is the harness's wake-up type.
pub struct Core<N: Node, W = ()> {
    now: SimTime,
    seq: u64,
    queue: Queue,
    slab: Vec<Option<Ev<N, W>>>,
    free: Vec<u32>,
    /// Heap bytes of the messages queued for delivery ([`Message::heap_bytes`]).
    msg_bytes: usize,
    /// The harness asked to stop as overloaded ([`Core::overload`]).
    overload: bool,
    net: Network,
    net_rng: SimRng,
    node_rngs: Vec<SimRng>,
    states: Vec<NodeState<N, W>>,
    next_msg: u64,
    next_timer: u64,
    lanes: Vec<Lane>,
    /// Where each timer from `timer_base` on waits: its slab slot,
    /// [`TIMER_HELD`] or [`TIMER_DONE`]. Timer ids are handed out in order,
    /// and the front is trimmed as timers finish, so this spans only the
    /// timers set since the oldest one still pending: cancelling is one lookup.
    timer_slots: VecDeque<u32>,
    timer_base: u64,
    /// Timers set again with ids from a holding run ([`Sim::stop_holding`]),
    /// outside the sequence `timer_slots` tracks: each with its slab slot.
    moved_timers: Vec<(TimerId, u32)>,
    /// What waits to be released, when the simulation holds ([`Sim::new_holding`]).
    hold: Option<Box<Hold<N>>>,
    effects: Vec<Effect<N>>,
    /// The run's trace; it records events only when recording is on.
    pub trace: Trace,
    /// Counters kept for every run, trace or not.
    pub stats: Stats,
}

impl<N: Node, W> Core<N, W> {
    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// How many nodes the simulation has.
    pub fn node_count(&self) -> usize {
        self.states.len()
    }

    /// Whether `node` is running, that is, not crashed; a paused node is up.
    pub fn is_up(&self, node: NodeId) -> bool {
        self.states[node.index()].up
    }

    /// Whether `node` is paused by a [`Fault::Pause`] and not yet resumed.
    pub fn is_paused(&self, node: NodeId) -> bool {
        self.states[node.index()].paused
    }

    /// Whether the link `from -> to` is cut by a partition right now.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.net.is_cut(from, to)
    }

    /// Events waiting, cancelled timers that have not reached the front included.
    pub fn pending_events(&self) -> usize {
        let waiting_in_lanes: usize = self
            .lanes
            .iter()
            .map(|l| l.keys.len().saturating_sub(1))
            .sum();
        self.queue.len() + waiting_in_lanes
    }

    /// Timers the engine still tracks for cancellation (tests check it drains).
    #[cfg(test)]
    pub(crate) fn tracked_timers(&self) -> usize {
        self.timer_slots.len()
    }

    /// What is pending now, in bytes (see [`MAX_PENDING_BYTES`]).
    fn pending_bytes(&self) -> usize {
        (self.slab.len() - self.free.len())
            .saturating_mul(std::mem::size_of::<Option<Ev<N, W>>>())
            .saturating_add(self.msg_bytes)
    }

    /// Whether more is pending than a run may hold.
    fn overloaded(&self) -> bool {
        self.overload
            || self.slab.len() - self.free.len() > MAX_PENDING_EVENTS
            || self.pending_bytes() > MAX_PENDING_BYTES
    }

    #[inline]
    fn push(&mut self, time: SimTime, ev: Ev<N, W>) -> u32 {
        if let Ev::Deliver { msg, .. } = &ev {
            self.msg_bytes += msg.heap_bytes();
        }
        let key = self.key_for(time, ev);
        self.queue.push(key);
        key.order as u32 & SLOT_MASK as u32
    }

    /// Puts `ev` in the slab and makes its key, without queueing it.
    #[inline]
    fn key_for(&mut self, time: SimTime, ev: Ev<N, W>) -> Key {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(ev);
                s
            }
            None => {
                assert!(
                    self.slab.len() < MAX_PENDING,
                    "more than {MAX_PENDING} events pending at once"
                );
                self.slab.push(Some(ev));
                (self.slab.len() - 1) as u32
            }
        };
        assert!(
            self.seq < MAX_SEQ,
            "more than {MAX_SEQ} events scheduled in one run"
        );
        let key = Key {
            time: time.as_us(),
            order: self.seq << SLOT_BITS | u64::from(slot),
        };
        self.seq += 1;
        key
    }

    /// The lane for timers set `after` from now: the one with that delay, else
    /// an empty one (which takes the delay), else a new one, else none.
    fn lane_for(&mut self, after: u64) -> u32 {
        let mut empty = None;
        for (i, lane) in self.lanes.iter().enumerate() {
            if lane.after == after {
                return i as u32;
            }
            if empty.is_none() && lane.keys.is_empty() {
                empty = Some(i);
            }
        }
        if let Some(i) = empty {
            self.lanes[i].after = after;
            return i as u32;
        }
        if self.lanes.len() < MAX_LANES {
            self.lanes.push(Lane {
                after,
                keys: VecDeque::new(),
            });
            return (self.lanes.len() - 1) as u32;
        }
        NO_LANE
    }

    fn set_timer(
        &mut self,
        node: NodeId,
        id: TimerId,
        incarnation: u32,
        after: SimDuration,
        timer: N::Timer,
    ) {
        let lane = self.lane_for(after.as_us());
        let ev = Ev::Timer {
            node,
            id,
            incarnation,
            lane,
            timer,
        };
        let key = self.key_for(self.now + after, ev);
        match self.lanes.get_mut(lane as usize) {
            Some(l) => {
                if l.keys.is_empty() {
                    self.queue.push(key);
                }
                l.keys.push_back(key);
            }
            None => self.queue.push(key),
        }
        // Ids are handed out in order and every set is applied, so `id` is the next entry.
        debug_assert_eq!(id.0, self.timer_base + self.timer_slots.len() as u64);
        self.timer_slots.push_back(key.slot() as u32);
    }

    /// Sets a timer whose id is not the next in sequence (one carried over
    /// from holding): it waits in the heap, and cancelling finds it by id.
    fn set_timer_any(
        &mut self,
        node: NodeId,
        id: TimerId,
        incarnation: u32,
        after: SimDuration,
        timer: N::Timer,
    ) {
        let ev = Ev::Timer {
            node,
            id,
            incarnation,
            lane: NO_LANE,
            timer,
        };
        let key = self.key_for(self.now + after, ev);
        self.queue.push(key);
        self.moved_timers.push((id, key.slot() as u32));
    }

    /// The entry of timer `id`, if it is still tracked.
    fn timer_entry(&mut self, id: TimerId) -> Option<&mut u32> {
        let i = id.0.checked_sub(self.timer_base)?;
        self.timer_slots.get_mut(usize::try_from(i).ok()?)
    }

    /// Marks timer `id` finished and trims finished timers off the front.
    fn timer_done(&mut self, id: TimerId) {
        if !self.moved_timers.is_empty() {
            self.moved_timers.retain(|(t, _)| *t != id);
        }
        if let Some(e) = self.timer_entry(id) {
            *e = TIMER_DONE;
        }
        while self.timer_slots.front() == Some(&TIMER_DONE) {
            self.timer_slots.pop_front();
            self.timer_base += 1;
        }
    }

    /// Cancels timer `node`'s timer `id` if it has not fired yet: it stays
    /// where it waits, as [`Ev::Cancelled`], until it reaches the front.
    fn cancel_timer(&mut self, node: NodeId, id: TimerId) {
        let Some(&mut entry) = self.timer_entry(id) else {
            if let Some(i) = self.moved_timers.iter().position(|(t, _)| *t == id) {
                let (_, slot) = self.moved_timers.swap_remove(i);
                self.slab[slot as usize] = Some(Ev::Cancelled { lane: NO_LANE });
            }
            return;
        };
        if entry == TIMER_DONE {
            return;
        }
        if entry == TIMER_HELD {
            // Only a running node cancels, and a held timer's node is paused;
            // kept for completeness.
            for ev in &mut self.states[node.index()].held {
                if matches!(ev, Ev::Timer { id: held, .. } if *held == id) {
                    *ev = Ev::Cancelled { lane: NO_LANE };
                }
            }
        } else {
            let ev = &mut self.slab[entry as usize];
            if let Some(Ev::Timer { lane, .. }) = *ev {
                *ev = Some(Ev::Cancelled { lane });
            }
        }
        self.timer_done(id);
    }

    /// The front of `lane` just left the heap: drop it from the lane, skip the
    /// cancelled timers behind it, and queue the next live one.
    fn advance_lane(&mut self, lane: u32) {
        let l = &mut self.lanes[lane as usize];
        l.keys.pop_front();
        while let Some(&key) = l.keys.front() {
            if let Some(Ev::Cancelled { .. }) = self.slab[key.slot()] {
                self.slab[key.slot()] = None;
                self.free.push(key.slot() as u32);
                l.keys.pop_front();
            } else {
                self.queue.push(key);
                break;
            }
        }
    }

    /// A client sends `body` to `node`; it arrives after the client latency.
    pub fn schedule_request(
        &mut self,
        at: SimTime,
        client: ClientId,
        node: NodeId,
        req: u64,
        body: N::Request,
    ) {
        assert!(
            node.index() < self.states.len(),
            "request to unknown node {node}"
        );
        let Some(body) = self.hold_request(client, node, req, body) else {
            return;
        };
        let at = at.max(self.now) + self.net.client_request.sample(&mut self.net_rng);
        self.push(
            at,
            Ev::Request {
                client,
                node,
                req,
                body,
            },
        );
    }

    /// Stops the run as [`Stop::Overloaded`] once the current event is
    /// handled: the harness holds more than it may (operations in flight).
    pub fn overload(&mut self) {
        self.overload = true;
    }

    /// Wakes the harness at `at` with `wake` (client think time, client-side timeouts).
    pub fn schedule_wake(&mut self, at: SimTime, wake: W) {
        self.push(at.max(self.now), Ev::Wake(wake));
    }

    /// Applies `fault` at `at`, or now if `at` has passed.
    pub fn schedule_fault(&mut self, at: SimTime, fault: Fault) {
        self.push(at.max(self.now), Ev::Fault(Box::new(fault)));
    }
}

/// A simulation: the nodes and the core that drives them. `W` is the
/// harness's wake-up type ([`Harness::Wake`]).
pub struct Sim<N: Node, W = ()> {
    /// The node state machines, indexed by [`NodeId`].
    pub nodes: Vec<N>,
    /// Everything else: the clock, queue, network, streams, trace and stats.
    pub core: Core<N, W>,
    /// Events since the stop check was last asked.
    unasked: u64,
}

impl<N: Node, W> Sim<N, W> {
    /// Builds a simulation. Fails (with a message naming the problem) on an invalid network config.
    pub fn new(
        seed: u64,
        nodes: Vec<N>,
        net: &NetConfig,
        trace: bool,
    ) -> Result<Sim<N, W>, String> {
        let net = Network::new(nodes.len(), N::Msg::KINDS, net)?;
        Ok(Sim::with_network(seed, nodes, net, trace))
    }

    /// Builds a simulation on a network already checked for these nodes.
    pub fn with_network(seed: u64, nodes: Vec<N>, net: Network, trace: bool) -> Sim<N, W> {
        Sim::build(seed, nodes, net, trace, false)
    }

    /// Like [`Sim::with_network`], but holding: from the nodes' start on,
    /// messages, client requests and node timers wait until released
    /// ([`Sim::release`], [`Sim::drop_held`], [`Sim::duplicate_held`]).
    pub fn new_holding(seed: u64, nodes: Vec<N>, net: Network, trace: bool) -> Sim<N, W> {
        Sim::build(seed, nodes, net, trace, true)
    }

    fn build(seed: u64, nodes: Vec<N>, net: Network, trace: bool, holding: bool) -> Sim<N, W> {
        let n = nodes.len();
        assert_eq!(
            net.nodes(),
            n,
            "the network was checked for {} nodes, not {n}",
            net.nodes()
        );
        let kinds = N::Msg::KINDS.len();
        let core = Core {
            now: SimTime::ZERO,
            seq: 0,
            queue: Queue::new(),
            slab: Vec::new(),
            free: Vec::new(),
            msg_bytes: 0,
            overload: false,
            net,
            net_rng: SimRng::new(seed, Stream::Network),
            node_rngs: (0..n)
                .map(|i| SimRng::new(seed, Stream::Node(i as u32)))
                .collect(),
            states: (0..n)
                .map(|_| NodeState {
                    up: true,
                    paused: false,
                    incarnation: 0,
                    skew_us: 0,
                    held: Vec::new(),
                })
                .collect(),
            next_msg: 1,
            next_timer: 1,
            lanes: Vec::new(),
            timer_slots: VecDeque::new(),
            timer_base: 1,
            moved_timers: Vec::new(),
            hold: holding.then(|| Box::new(Hold::new(n))),
            effects: Vec::new(),
            trace: Trace::new(trace),
            stats: Stats {
                sent: vec![0; kinds],
                delivered: vec![0; kinds],
                dropped: vec![0; kinds],
                duplicated: vec![0; kinds],
                ..Stats::default()
            },
        };
        let mut sim = Sim {
            nodes,
            core,
            unasked: 0,
        };
        for i in 0..n {
            sim.invoke(
                NodeId(i as u32),
                None,
                &mut Starting(std::marker::PhantomData),
            );
        }
        sim
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.core.now
    }

    /// Runs until a limit is reached or no events are left.
    ///
    /// When the thread has a stop check ([`crate::stop::with_stop_check`]),
    /// it is asked every [`crate::stop::CHECK_EVERY`] events and when this
    /// call returns; if it says stop, the run returns [`Stop::Interrupted`]
    /// (as does every later run on the thread), with the next event still
    /// queued.
    pub fn run<H: Harness<N, Wake = W>>(&mut self, harness: &mut H, limits: Limits) -> Stop {
        let checked = crate::stop::installed();
        if checked && crate::stop::stopped() {
            return Stop::Interrupted;
        }
        let stop = self.run_events(harness, limits, checked);
        if checked && stop != Stop::Interrupted && crate::stop::ask(self.unasked, self.core.now) {
            return Stop::Interrupted;
        }
        stop
    }

    /// The run loop: events until a limit, or until the stop check says stop.
    fn run_events<H: Harness<N, Wake = W>>(
        &mut self,
        harness: &mut H,
        limits: Limits,
        checked: bool,
    ) -> Stop {
        let mut processed = 0u64;
        self.unasked = 0;
        // Events in a row at the current instant, to see time stop.
        let mut same_instant = 0u64;
        loop {
            if checked && self.unasked == crate::stop::CHECK_EVERY {
                let events = std::mem::take(&mut self.unasked);
                if crate::stop::ask(events, self.core.now) {
                    return Stop::Interrupted;
                }
            }
            if processed >= limits.max_events {
                return Stop::EventLimit;
            }
            let Some(key) = self.core.queue.peek() else {
                return Stop::Idle;
            };
            if key.time > limits.until.as_us() {
                self.core.now = self.core.now.max(limits.until);
                return Stop::TimeLimit;
            }
            if same_instant >= MAX_SAME_INSTANT && key.time == self.core.now.as_us() {
                // Time has stopped; the next event stays queued, as at any other limit.
                return Stop::Stalled;
            }
            self.core.queue.pop();
            let ev = self.core.slab[key.slot()]
                .take()
                .expect("queued slot is full");
            self.core.free.push(key.slot() as u32);
            if let Ev::Deliver { msg, .. } = &ev {
                self.core.msg_bytes -= msg.heap_bytes();
            }
            match ev {
                Ev::Timer { lane, .. } | Ev::Cancelled { lane } if lane != NO_LANE => {
                    self.core.advance_lane(lane);
                }
                _ => {}
            }
            if let Ev::Cancelled { .. } = ev {
                // Not an event: time does not move, nothing is counted.
                continue;
            }
            self.unasked += 1;
            same_instant = if key.time == self.core.now.as_us() {
                same_instant + 1
            } else {
                1
            };
            self.core.now = SimTime(key.time);
            self.core.stats.events += 1;
            processed += 1;
            self.dispatch(ev, harness);
            if self.core.overloaded() {
                return Stop::Overloaded;
            }
        }
    }

    fn dispatch<H: Harness<N, Wake = W>>(&mut self, ev: Ev<N, W>, harness: &mut H) {
        let now = self.core.now;
        match ev {
            Ev::Deliver { id, from, to, msg } => {
                let kind = msg.kind();
                let label = N::Msg::KINDS[kind];
                let st = &mut self.core.states[to.index()];
                if !st.up {
                    self.core.stats.dropped[kind] += 1;
                    let (f, t) = (Actor::Node(from.0), Actor::Node(to.0));
                    let reason = DropReason::NodeDown;
                    self.core.trace.record(
                        now,
                        t,
                        Event::Drop {
                            msg: id,
                            from: f,
                            to: t,
                            kind: label,
                            reason,
                        },
                    );
                } else if st.paused {
                    st.held.push(Ev::Deliver { id, from, to, msg });
                } else {
                    self.core.stats.delivered[kind] += 1;
                    if self.core.trace.enabled() {
                        let (f, t) = (Actor::Node(from.0), Actor::Node(to.0));
                        self.core.trace.record(
                            now,
                            t,
                            Event::Deliver {
                                msg: id,
                                from: f,
                                to: t,
                                kind: label,
                            },
                        );
                    }
                    self.invoke(to, Some(Input::Message { from, msg }), harness);
                }
            }
            Ev::Timer {
                node,
                id,
                incarnation,
                timer,
                ..
            } => {
                let st = &mut self.core.states[node.index()];
                if st.paused && st.incarnation == incarnation {
                    st.held.push(Ev::Timer {
                        node,
                        id,
                        incarnation,
                        lane: NO_LANE,
                        timer,
                    });
                    if let Some(e) = self.core.timer_entry(id) {
                        *e = TIMER_HELD;
                    }
                    return;
                }
                self.core.timer_done(id);
                let st = &self.core.states[node.index()];
                if st.incarnation != incarnation {
                    let label = timer.label();
                    let reason = DropReason::Crashed;
                    self.core.trace.record(
                        now,
                        Actor::Node(node.0),
                        Event::DropTimer {
                            timer: id.0,
                            label,
                            reason,
                        },
                    );
                } else {
                    self.core.stats.timers_fired += 1;
                    let label = timer.label();
                    self.core.trace.record(
                        now,
                        Actor::Node(node.0),
                        Event::Timer { timer: id.0, label },
                    );
                    self.invoke(node, Some(Input::Timer { id, timer }), harness);
                }
            }
            Ev::Request {
                client,
                node,
                req,
                body,
            } => {
                let st = &mut self.core.states[node.index()];
                let trace = &mut self.core.trace;
                if !st.up {
                    let (label, node) = (body.label(), Actor::Node(node.0));
                    let reason = DropReason::NodeDown;
                    trace.record(
                        now,
                        Actor::Client(client.0),
                        Event::DropRequest {
                            req,
                            label,
                            node,
                            reason,
                        },
                    );
                } else if st.paused {
                    st.held.push(Ev::Request {
                        client,
                        node,
                        req,
                        body,
                    });
                } else {
                    self.core.stats.requests += 1;
                    if trace.enabled() {
                        let mut detail = String::new();
                        body.detail(&mut detail);
                        let (label, n) = (body.label(), Actor::Node(node.0));
                        trace.record(
                            now,
                            Actor::Client(client.0),
                            Event::Request {
                                req,
                                label,
                                node: n,
                                detail,
                            },
                        );
                    }
                    self.invoke(node, Some(Input::Request { client, req, body }), harness);
                }
            }
            Ev::Reply {
                client,
                node,
                req,
                body,
            } => {
                self.core.stats.replies += 1;
                if self.core.trace.enabled() {
                    let mut detail = String::new();
                    body.detail(&mut detail);
                    let (label, n) = (body.label(), Actor::Node(node.0));
                    self.core.trace.record(
                        now,
                        Actor::Client(client.0),
                        Event::Reply {
                            req,
                            label,
                            node: n,
                            detail,
                        },
                    );
                }
                harness.on_reply(&mut self.core, client, req, node, body);
            }
            Ev::Wake(wake) => harness.on_wake(&mut self.core, wake),
            Ev::Fault(fault) => self.apply_fault(*fault, harness),
            // The run loop skips these before dispatching.
            Ev::Cancelled { .. } => {}
        }
    }

    fn apply_fault<H: Harness<N, Wake = W>>(&mut self, fault: Fault, harness: &mut H) {
        let now = self.core.now;
        self.core.stats.faults += 1;
        if self.core.trace.enabled() {
            self.core.trace.record(
                now,
                Actor::World,
                Event::Fault {
                    detail: fault.to_string(),
                },
            );
        }
        let n = self.nodes.len();
        match fault {
            Fault::Crash { node, wipe_disk } => {
                let st = &mut self.core.states[node.index()];
                if st.up {
                    st.up = false;
                    st.paused = false;
                    st.incarnation += 1;
                    for ev in std::mem::take(&mut st.held) {
                        if let Ev::Timer { id, .. } = ev {
                            self.core.timer_done(id);
                        }
                    }
                    self.nodes[node.index()].crash(wipe_disk);
                    self.core.hold_crash(node);
                } else if wipe_disk {
                    self.nodes[node.index()].crash(true);
                }
            }
            Fault::Restart { node } => {
                let st = &mut self.core.states[node.index()];
                if !st.up {
                    st.up = true;
                    self.invoke(node, None, harness);
                }
            }
            Fault::Pause { node } => {
                let st = &mut self.core.states[node.index()];
                if st.up {
                    st.paused = true;
                }
            }
            Fault::Resume { node } => {
                let st = &mut self.core.states[node.index()];
                if st.paused {
                    st.paused = false;
                    // What waited is handled now, in arrival order, after anything already due now.
                    let held = std::mem::take(&mut st.held);
                    for ev in held {
                        let id = match ev {
                            Ev::Timer { id, .. } => Some(id),
                            _ => None,
                        };
                        let slot = self.core.push(now, ev);
                        if let Some(e) = id.and_then(|id| self.core.timer_entry(id)) {
                            *e = slot;
                        }
                    }
                }
            }
            Fault::Partition { groups } => {
                let mut group_of = vec![usize::MAX; n];
                for (g, members) in groups.iter().enumerate() {
                    for m in members {
                        group_of[m.index()] = g;
                    }
                }
                for a in 0..n {
                    for b in 0..n {
                        if group_of[a] != group_of[b] {
                            self.core.net.cut(NodeId(a as u32), NodeId(b as u32));
                        }
                    }
                }
            }
            Fault::OneWay { from, to } => {
                for &a in &from {
                    for &b in &to {
                        if a != b {
                            self.core.net.cut(a, b);
                        }
                    }
                }
            }
            Fault::Heal => self.core.net.heal(),
            Fault::ClockSkew { node, skew_us } => self.core.states[node.index()].skew_us = skew_us,
            Fault::Loss { p } => self.core.net.set_loss(p),
            Fault::Duplicate { p } => self.core.net.set_duplicate(p),
            Fault::Slow { node, extra } => self.core.net.set_extra_delay(node, extra),
        }
    }

    /// Runs one node handler (or `start` when `input` is `None`) and applies its effects.
    fn invoke<H: Harness<N, Wake = W>>(
        &mut self,
        node: NodeId,
        input: Option<Input<N>>,
        harness: &mut H,
    ) {
        let core = &mut self.core;
        let now = core.now;
        if let Some(input) = &input {
            harness.observe_input(now, node, input, &self.nodes);
        }
        let st = &core.states[node.index()];
        let incarnation = st.incarnation;
        let mut effects = std::mem::take(&mut core.effects);
        {
            let next_timer = match core.hold.as_mut() {
                Some(h) => &mut h.next_timer[node.index()],
                None => &mut core.next_timer,
            };
            let mut cx = Context {
                now: core.now,
                me: node,
                skew_us: st.skew_us,
                tracing: core.trace.enabled(),
                rng: &mut core.node_rngs[node.index()],
                effects: &mut effects,
                next_timer,
            };
            let n = &mut self.nodes[node.index()];
            match input {
                Some(input) => n.handle(input, &mut cx),
                None => n.start(&mut cx),
            }
        }
        for e in &effects {
            if let Effect::Reply { client, req, body } = e {
                harness.observe_reply(now, node, *client, *req, body, &self.nodes);
            }
        }
        harness.observe_handled(now, node, &self.nodes);
        if harness.watches_sends() {
            for e in &effects {
                if let Effect::Send { to, msg } = e {
                    harness.on_send(&mut self.core, node, *to, msg);
                }
            }
        }
        for effect in effects.drain(..) {
            self.apply_effect(node, incarnation, effect);
        }
        self.core.effects = effects;
    }

    #[inline]
    fn apply_effect(&mut self, node: NodeId, incarnation: u32, effect: Effect<N>) {
        let core = &mut self.core;
        let now = core.now;
        let me = Actor::Node(node.0);
        match effect {
            Effect::Send { to, msg } => {
                assert!(
                    to.index() < core.states.len(),
                    "{node} sent to unknown node {to}"
                );
                let kind = msg.kind();
                let label = N::Msg::KINDS[kind];
                let id = core.next_msg;
                core.next_msg += 1;
                core.stats.sent[kind] += 1;
                // While holding, a message waits for its release instead of
                // being routed: a partition still cuts it, nothing else.
                let fate = match &core.hold {
                    None => core.net.route(node, to, kind, &mut core.net_rng),
                    Some(_) if core.net.is_cut(node, to) => Fate::Partitioned,
                    Some(_) => Fate::Held,
                };
                let dest = Actor::Node(to.0);
                match fate {
                    Fate::Partitioned | Fate::Lost => {
                        core.stats.dropped[kind] += 1;
                        if core.trace.enabled() {
                            let mut detail = String::new();
                            msg.detail(&mut detail);
                            let arrives_us = None;
                            let send = Event::Send {
                                msg: id,
                                from: me,
                                to: dest,
                                kind: label,
                                arrives_us,
                                detail,
                            };
                            core.trace.record(now, me, send);
                            let reason = if matches!(fate, Fate::Lost) {
                                DropReason::Lost
                            } else {
                                DropReason::Partitioned
                            };
                            core.trace.record(
                                now,
                                me,
                                Event::Drop {
                                    msg: id,
                                    from: me,
                                    to: dest,
                                    kind: label,
                                    reason,
                                },
                            );
                        }
                    }
                    Fate::Held => {
                        if core.trace.enabled() {
                            let mut detail = String::new();
                            msg.detail(&mut detail);
                            let send = Event::Send {
                                msg: id,
                                from: me,
                                to: dest,
                                kind: label,
                                arrives_us: Some(crate::trace::HELD_US),
                                detail,
                            };
                            core.trace.record(now, me, send);
                        }
                        core.msg_bytes += msg.heap_bytes();
                        if let Some(hold) = &mut core.hold {
                            hold.items.push(Held::Msg {
                                id,
                                from: node,
                                to,
                                msg,
                            });
                        }
                    }
                    Fate::Deliver { delay, copy } => {
                        let at = now + delay;
                        if core.trace.enabled() {
                            let mut detail = String::new();
                            msg.detail(&mut detail);
                            let arrives_us = Some(at.as_us());
                            core.trace.record(
                                now,
                                me,
                                Event::Send {
                                    msg: id,
                                    from: me,
                                    to: dest,
                                    kind: label,
                                    arrives_us,
                                    detail,
                                },
                            );
                        }
                        if let Some(copy_delay) = copy {
                            let copy_id = core.next_msg;
                            core.next_msg += 1;
                            core.stats.duplicated[kind] += 1;
                            let copy_at = now + copy_delay;
                            let dup = Event::Duplicate {
                                msg: id,
                                copy: copy_id,
                                to: dest,
                                kind: label,
                                arrives_us: copy_at.as_us(),
                            };
                            core.trace.record(now, me, dup);
                            core.push(
                                copy_at,
                                Ev::Deliver {
                                    id: copy_id,
                                    from: node,
                                    to,
                                    msg: msg.clone(),
                                },
                            );
                        }
                        core.push(
                            at,
                            Ev::Deliver {
                                id,
                                from: node,
                                to,
                                msg,
                            },
                        );
                    }
                }
            }
            Effect::SetTimer { id, after, timer } => {
                let at = now + after;
                if core.trace.enabled() {
                    let label = timer.label();
                    core.trace.record(
                        now,
                        me,
                        Event::SetTimer {
                            timer: id.0,
                            label,
                            fires_us: at.as_us(),
                        },
                    );
                }
                match &mut core.hold {
                    Some(hold) => hold.items.push(Held::Timer {
                        node,
                        id,
                        due: at,
                        timer,
                    }),
                    None => core.set_timer(node, id, incarnation, after, timer),
                }
            }
            Effect::CancelTimer { id } => {
                match &mut core.hold {
                    Some(hold) => hold.items.retain(
                        |h| !matches!(h, Held::Timer { node: n, id: t, .. } if *n == node && *t == id),
                    ),
                    None => core.cancel_timer(node, id),
                }
                core.trace
                    .record(now, me, Event::CancelTimer { timer: id.0 });
            }
            Effect::Reply { client, req, body } => {
                // No client latency while holding: the reply is the next thing that happens.
                let at = match core.hold {
                    Some(_) => now,
                    None => now + core.net.client_reply.sample(&mut core.net_rng),
                };
                core.push(
                    at,
                    Ev::Reply {
                        client,
                        node,
                        req,
                        body,
                    },
                );
            }
            Effect::Note(note) => {
                if core.trace.enabled() {
                    let mut detail = String::new();
                    note.detail(&mut detail);
                    core.trace.record(
                        now,
                        me,
                        Event::Note {
                            label: note.label(),
                            detail,
                        },
                    );
                }
            }
        }
    }
}
