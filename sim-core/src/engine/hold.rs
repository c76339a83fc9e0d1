//! Holding mode: a simulation whose messages, client requests and node
//! timers wait until the caller releases them, one at a time, in any order.
//!
//! The explorer (`dynsim check`) walks every order of a small scope this
//! way, and a counterexample replays through the same code: nothing is
//! delivered, no timer fires, unless a step says so. A held message has no
//! latency (the network's latency, loss and duplication do not apply; the
//! caller drops and duplicates), a partition still cuts it when it is sent,
//! and a held timer fires when released, at whatever time the caller has
//! moved the clock to. Replies, the
//! harness's wake-ups and faults use the queue as in any run.
//!
//! Timer ids are per node while holding (node `i`'s count up from
//! `(i + 1) << 32`), so that what one node does never changes the ids
//! another node holds: deliveries to different nodes commute exactly.

use super::{Actor, DropReason, Effect, Ev, Event, Harness, Input, Node, Sim, Traced};
use super::{ClientId, Core, Held, Hold, Message, NodeId, SimTime, item_digest};
use crate::digest::{Digest, StableHasher};
use std::hash::{Hash, Hasher};

impl<N: Node, W> Core<N, W> {
    /// Whether messages, requests and timers wait to be released ([`Sim::new_holding`]).
    pub fn is_holding(&self) -> bool {
        self.hold.is_some()
    }

    /// What waits to be released, in the order it was sent or set; empty when not holding.
    pub fn held(&self) -> &[Held<N>] {
        self.hold.as_ref().map_or(&[], |h| &h.items[..])
    }

    /// A crashed node's timers are gone.
    pub(super) fn hold_crash(&mut self, node: NodeId) {
        let now = self.now;
        let Some(hold) = self.hold.as_mut() else {
            return;
        };
        let trace = &mut self.trace;
        hold.items.retain(|h| match h {
            Held::Timer {
                node: n, id, timer, ..
            } if *n == node => {
                let label = timer.label();
                let reason = DropReason::Crashed;
                let ev = Event::DropTimer {
                    timer: id.0,
                    label,
                    reason,
                };
                trace.record(now, Actor::Node(node.0), ev);
                false
            }
            _ => true,
        });
    }

    /// Holds a client request instead of queueing it; gives it back when not holding.
    pub(super) fn hold_request(
        &mut self,
        client: ClientId,
        node: NodeId,
        req: u64,
        body: N::Request,
    ) -> Option<N::Request> {
        match self.hold.as_mut() {
            Some(hold) => {
                hold.items.push(Held::Request {
                    client,
                    node,
                    req,
                    body,
                });
                None
            }
            None => Some(body),
        }
    }

    /// The time of the next queued event (a reply, a wake-up, a fault), if any.
    pub fn next_queued(&mut self) -> Option<SimTime> {
        self.queue.peek().map(|k| SimTime(k.time))
    }
}

impl<N: Node, W> Sim<N, W> {
    /// Releases held item `i` now: a message or request is delivered (or
    /// dropped, if its node is down), a timer fires. The clock does not
    /// move: a caller that wants a timer to fire at its due time runs the
    /// queue up to it first ([`Sim::run_to`]). Returns false if there is no item `i`.
    pub fn release<H: Harness<N, Wake = W>>(&mut self, i: usize, harness: &mut H) -> bool {
        let Some(hold) = self.core.hold.as_mut() else {
            return false;
        };
        if i >= hold.items.len() {
            return false;
        }
        let item = hold.items.remove(i);
        self.core.stats.events += 1;
        match item {
            Held::Msg { id, from, to, msg } => {
                self.core.msg_bytes -= msg.heap_bytes();
                self.dispatch(Ev::Deliver { id, from, to, msg }, harness);
            }
            Held::Request {
                client,
                node,
                req,
                body,
            } => self.dispatch(
                Ev::Request {
                    client,
                    node,
                    req,
                    body,
                },
                harness,
            ),
            Held::Timer {
                node, id, timer, ..
            } => {
                let now = self.core.now;
                self.core.stats.timers_fired += 1;
                let label = timer.label();
                let ev = Event::Timer { timer: id.0, label };
                self.core.trace.record(now, Actor::Node(node.0), ev);
                self.invoke(node, Some(Input::Timer { id, timer }), harness);
            }
        }
        true
    }

    /// Runs the queue (replies, wake-ups, faults) up to and including `t`,
    /// and moves the clock to `t` if it is earlier: how a holding run lets
    /// time pass.
    pub fn run_to<H: Harness<N, Wake = W>>(&mut self, t: SimTime, harness: &mut H) -> super::Stop {
        let stop = self.run(harness, super::Limits::until(t));
        if !stop.is_final() {
            self.core.now = self.core.now.max(t);
        }
        stop
    }

    /// Drops held message or request `i` as lost. Returns false if there is
    /// no such item or it is a timer.
    pub fn drop_held(&mut self, i: usize) -> bool {
        let now = self.core.now;
        let Some(hold) = self.core.hold.as_mut() else {
            return false;
        };
        match hold.items.get(i) {
            Some(Held::Msg { .. } | Held::Request { .. }) => {}
            _ => return false,
        }
        match hold.items.remove(i) {
            Held::Msg { id, from, to, msg } => {
                let kind = msg.kind();
                self.core.msg_bytes -= msg.heap_bytes();
                self.core.stats.dropped[kind] += 1;
                let (f, t) = (Actor::Node(from.0), Actor::Node(to.0));
                let ev = Event::Drop {
                    msg: id,
                    from: f,
                    to: t,
                    kind: N::Msg::KINDS[kind],
                    reason: DropReason::Lost,
                };
                self.core.trace.record(now, f, ev);
            }
            Held::Request {
                client,
                node,
                req,
                body,
            } => {
                let ev = Event::DropRequest {
                    req,
                    label: body.label(),
                    node: Actor::Node(node.0),
                    reason: DropReason::Lost,
                };
                self.core.trace.record(now, Actor::Client(client.0), ev);
            }
            Held::Timer { .. } => unreachable!("checked above"),
        }
        true
    }

    /// Makes a second copy of held message `i`, held after everything else.
    /// Returns false if there is no such item or it is not a message.
    pub fn duplicate_held(&mut self, i: usize) -> bool {
        let now = self.core.now;
        let copy_id = self.core.next_msg;
        let Some(hold) = self.core.hold.as_mut() else {
            return false;
        };
        let Some(Held::Msg { id, from, to, msg }) = hold.items.get(i) else {
            return false;
        };
        let (id, from, to, msg) = (*id, *from, *to, msg.clone());
        let kind = msg.kind();
        self.core.next_msg += 1;
        self.core.stats.duplicated[kind] += 1;
        self.core.msg_bytes += msg.heap_bytes();
        let ev = Event::Duplicate {
            msg: id,
            copy: copy_id,
            to: Actor::Node(to.0),
            kind: N::Msg::KINDS[kind],
            arrives_us: crate::trace::HELD_US,
        };
        self.core.trace.record(now, Actor::Node(from.0), ev);
        hold.items.push(Held::Msg {
            id: copy_id,
            from,
            to,
            msg,
        });
        true
    }

    /// Stops holding: every held message goes through the network model
    /// (its latency, loss and duplication) as if sent now, every request
    /// after the client latency, every timer at its due time (or now); from
    /// here on the simulation runs as any other.
    pub fn stop_holding(&mut self)
    where
        N::Timer: Clone,
    {
        let Some(hold) = self.core.hold.take() else {
            return;
        };
        let now = self.core.now;
        for item in hold.items {
            match item {
                Held::Msg { from, to, msg, .. } => {
                    self.core.msg_bytes -= msg.heap_bytes();
                    // Counted as sent when it was held.
                    self.core.stats.sent[msg.kind()] -= 1;
                    self.apply_effect(
                        from,
                        self.core.states[from.index()].incarnation,
                        Effect::Send { to, msg },
                    );
                }
                Held::Request {
                    client,
                    node,
                    req,
                    body,
                } => self.core.schedule_request(now, client, node, req, body),
                Held::Timer {
                    node,
                    id,
                    due,
                    timer,
                } => {
                    let incarnation = self.core.states[node.index()].incarnation;
                    let after = due.since(now);
                    self.core.set_timer_any(node, id, incarnation, after, timer);
                }
            }
        }
    }

    /// A copy of the simulation to explore from, with its trace off. The
    /// copy and the original go on independently.
    pub fn fork(&self) -> Sim<N, W>
    where
        N: Clone,
        N::Timer: Clone,
        N::Request: Clone,
        N::Reply: Clone,
        W: Clone,
    {
        Sim {
            nodes: self.nodes.clone(),
            core: self.core.fork(),
            unasked: 0,
        }
    }

    /// Hashes everything that decides what the simulation does next: the
    /// nodes, the clock, each node's liveness, clock skew and random
    /// stream, the cut links, and what waits (held items as a multiset,
    /// queued events by time). Not the trace, the statistics or message
    /// ids, which only name things.
    pub fn hash_state<Hs: Hasher>(&self, state: &mut Hs)
    where
        N: Hash,
        N::Msg: Hash,
        N::Request: Hash,
        N::Reply: Hash,
        N::Timer: Hash,
        W: Hash,
    {
        self.hash_state_with(state, None);
    }

    /// [`Sim::hash_state`], with the digests of the held items (each
    /// [`item_digest`], in any order) given by a caller that keeps them.
    pub fn hash_state_with<Hs: Hasher>(&self, state: &mut Hs, held: Option<&[Digest]>)
    where
        N: Hash,
        N::Msg: Hash,
        N::Request: Hash,
        N::Reply: Hash,
        N::Timer: Hash,
        W: Hash,
    {
        self.nodes.hash(state);
        self.core.hash_state(state, held);
    }
}

impl<N: Node, W> Core<N, W> {
    fn hash_state<Hs: Hasher>(&self, state: &mut Hs, held: Option<&[Digest]>)
    where
        N::Msg: Hash,
        N::Request: Hash,
        N::Reply: Hash,
        N::Timer: Hash,
        W: Hash,
    {
        self.now.hash(state);
        for st in &self.states {
            st.up.hash(state);
            st.paused.hash(state);
            st.incarnation.hash(state);
            st.skew_us.hash(state);
            st.held.len().hash(state);
        }
        self.node_rngs.hash(state);
        self.net.hash_state(state);
        match &self.hold {
            None => state.write_u8(0),
            Some(h) => {
                state.write_u8(1);
                h.next_timer.hash(state);
                match held {
                    Some(d) => sorted_digests(d.iter().copied()).hash(state),
                    None => sorted_digests(h.items.iter().map(item_digest)).hash(state),
                }
            }
        }
        let queued = self.queue.keys().filter_map(|k| {
            let ev = self.slab[(k.order & super::SLOT_MASK) as usize].as_ref()?;
            let mut h = StableHasher::new();
            k.time.hash(&mut h);
            ev_hash(ev, &mut h)?;
            Some(h.finish128())
        });
        sorted_digests(queued).hash(state);
    }
}

impl<N: Node, W> Core<N, W> {
    /// A copy with the trace off (see [`Sim::fork`]).
    fn fork(&self) -> Core<N, W>
    where
        N::Timer: Clone,
        N::Request: Clone,
        N::Reply: Clone,
        W: Clone,
    {
        Core {
            now: self.now,
            seq: self.seq,
            queue: self.queue.clone(),
            slab: self.slab.iter().map(|e| e.as_ref().map(clone_ev)).collect(),
            free: self.free.clone(),
            msg_bytes: self.msg_bytes,
            overload: self.overload,
            net: self.net.clone(),
            net_rng: self.net_rng.clone(),
            node_rngs: self.node_rngs.clone(),
            states: self
                .states
                .iter()
                .map(|st| super::NodeState {
                    up: st.up,
                    paused: st.paused,
                    incarnation: st.incarnation,
                    skew_us: st.skew_us,
                    held: st.held.iter().map(clone_ev).collect(),
                })
                .collect(),
            next_msg: self.next_msg,
            next_timer: self.next_timer,
            lanes: self.lanes.clone(),
            timer_slots: self.timer_slots.clone(),
            timer_base: self.timer_base,
            moved_timers: self.moved_timers.clone(),
            hold: self.hold.as_ref().map(|h| {
                Box::new(Hold {
                    items: h.items.clone(),
                    next_timer: h.next_timer.clone(),
                })
            }),
            effects: Vec::new(),
            trace: crate::Trace::new(false),
            stats: self.stats.clone(),
        }
    }
}

fn clone_ev<N: Node, W>(ev: &Ev<N, W>) -> Ev<N, W>
where
    N::Timer: Clone,
    N::Request: Clone,
    N::Reply: Clone,
    W: Clone,
{
    match ev {
        Ev::Deliver { id, from, to, msg } => Ev::Deliver {
            id: *id,
            from: *from,
            to: *to,
            msg: msg.clone(),
        },
        Ev::Timer {
            node,
            id,
            incarnation,
            lane,
            timer,
        } => Ev::Timer {
            node: *node,
            id: *id,
            incarnation: *incarnation,
            lane: *lane,
            timer: timer.clone(),
        },
        Ev::Cancelled { lane } => Ev::Cancelled { lane: *lane },
        Ev::Request {
            client,
            node,
            req,
            body,
        } => Ev::Request {
            client: *client,
            node: *node,
            req: *req,
            body: body.clone(),
        },
        Ev::Reply {
            client,
            node,
            req,
            body,
        } => Ev::Reply {
            client: *client,
            node: *node,
            req: *req,
            body: body.clone(),
        },
        Ev::Fault(f) => Ev::Fault(f.clone()),
        Ev::Wake(w) => Ev::Wake(w.clone()),
    }
}

fn sorted_digests(it: impl Iterator<Item = Digest>) -> Vec<Digest> {
    let mut v: Vec<Digest> = it.collect();
    v.sort_unstable();
    v
}

/// Hashes a queued event; `None` for a cancelled timer, which is not an event.
fn ev_hash<N: Node, W, Hs: Hasher>(ev: &Ev<N, W>, state: &mut Hs) -> Option<()>
where
    N::Msg: Hash,
    N::Request: Hash,
    N::Reply: Hash,
    N::Timer: Hash,
    W: Hash,
{
    match ev {
        Ev::Deliver { from, to, msg, .. } => {
            state.write_u8(0);
            (from, to, msg).hash(state);
        }
        Ev::Timer {
            node,
            id,
            incarnation,
            timer,
            ..
        } => {
            state.write_u8(1);
            (node, id, incarnation, timer).hash(state);
        }
        Ev::Cancelled { .. } => return None,
        Ev::Request {
            client,
            node,
            req,
            body,
        } => {
            state.write_u8(2);
            (client, node, req, body).hash(state);
        }
        Ev::Reply {
            client,
            node,
            req,
            body,
        } => {
            state.write_u8(3);
            (client, node, req, body).hash(state);
        }
        Ev::Fault(f) => {
            state.write_u8(4);
            f.to_string().hash(state);
        }
        Ev::Wake(w) => {
            state.write_u8(5);
            w.hash(state);
        }
    }
    Some(())
}
