//! The network model: per-kind latency, loss, duplication, per-link
//! overrides, partitions and extra delay.

use crate::NodeId;
use crate::latency::Latency;
use crate::rng::SimRng;
use crate::time::SimDuration;
use std::collections::{BTreeMap, BTreeSet};

/// How messages travel. Every field has a default that means "a perfect,
/// instantaneous network"; a harness fills in what the scenario says.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConfig {
    /// One-way latency of every message kind without its own model.
    pub latency: Latency,
    /// Latency per message kind, by the kind's name (see [`crate::Message::KINDS`]).
    pub per_kind: Vec<(String, Latency)>,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a delivered message is delivered twice.
    pub duplicate: f64,
    /// Overrides for single directed links.
    pub links: Vec<LinkConfig>,
    /// Latency of a client's request to the node it talks to. Client traffic
    /// is never lost or partitioned: clients are not part of the fault model.
    pub client_request: Latency,
    /// Latency of a node's reply to the client. Separate from the request's,
    /// so a setup that charges only one way (the seed project's) can be written.
    pub client_reply: Latency,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            latency: Latency::zero(),
            per_kind: Vec::new(),
            loss: 0.0,
            duplicate: 0.0,
            links: Vec::new(),
            client_request: Latency::zero(),
            client_reply: Latency::zero(),
        }
    }
}

/// An override for the directed link `from -> to`. `None` keeps the global value.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    pub from: NodeId,
    pub to: NodeId,
    pub latency: Option<Latency>,
    pub loss: Option<f64>,
    pub duplicate: Option<f64>,
}

/// What the network decided for one message.
pub(crate) enum Fate {
    Partitioned,
    Lost,
    Deliver {
        delay: SimDuration,
        copy: Option<SimDuration>,
    },
}

pub(crate) struct Network {
    by_kind: Vec<Latency>,
    loss: f64,
    duplicate: f64,
    /// Directed links cut by a partition. Sparse: a matrix of every pair
    /// would be 800 MB at 10,000 nodes, and most runs cut none.
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// Directed links with an override: the index into `overrides`.
    over: BTreeMap<(NodeId, NodeId), usize>,
    overrides: Vec<LinkConfig>,
    /// Extra one-way delay for messages to or from each node (latency spikes).
    extra_delay: Vec<SimDuration>,
    any_extra_delay: bool,
    pub(crate) client_request: Latency,
    pub(crate) client_reply: Latency,
}

fn check_probability(what: &str, p: f64) -> Result<(), String> {
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("{what} must be a probability in [0, 1], got {p}"));
    }
    Ok(())
}

impl Network {
    pub(crate) fn new(n: usize, kinds: &[&str], cfg: &NetConfig) -> Result<Network, String> {
        cfg.latency.validate()?;
        cfg.client_request
            .validate()
            .map_err(|e| format!("client request latency: {e}"))?;
        cfg.client_reply
            .validate()
            .map_err(|e| format!("client reply latency: {e}"))?;
        check_probability("loss", cfg.loss)?;
        check_probability("duplicate", cfg.duplicate)?;
        let mut by_kind = vec![cfg.latency.clone(); kinds.len()];
        for (name, lat) in &cfg.per_kind {
            lat.validate()
                .map_err(|e| format!("latency of {name}: {e}"))?;
            let i = kinds.iter().position(|k| k == name).ok_or_else(|| {
                format!(
                    "unknown message kind {name:?}; valid kinds are {}",
                    kinds.join(", ")
                )
            })?;
            by_kind[i] = lat.clone();
        }
        let mut over = BTreeMap::new();
        for (i, l) in cfg.links.iter().enumerate() {
            for node in [l.from, l.to] {
                if node.index() >= n {
                    return Err(format!(
                        "link override names {node}, but there are only {n} nodes"
                    ));
                }
            }
            if let Some(lat) = &l.latency {
                lat.validate()
                    .map_err(|e| format!("link {} -> {}: {e}", l.from, l.to))?;
            }
            if let Some(p) = l.loss {
                check_probability("link loss", p)?;
            }
            if let Some(p) = l.duplicate {
                check_probability("link duplicate", p)?;
            }
            over.insert((l.from, l.to), i);
        }
        Ok(Network {
            by_kind,
            loss: cfg.loss,
            duplicate: cfg.duplicate,
            blocked: BTreeSet::new(),
            over,
            overrides: cfg.links.clone(),
            extra_delay: vec![SimDuration::ZERO; n],
            any_extra_delay: false,
            client_request: cfg.client_request.clone(),
            client_reply: cfg.client_reply.clone(),
        })
    }

    /// Decides a message's fate. Draw order is fixed: loss, latency, duplication, copy latency.
    #[inline]
    pub(crate) fn route(&self, from: NodeId, to: NodeId, kind: usize, rng: &mut SimRng) -> Fate {
        if !self.blocked.is_empty() && self.blocked.contains(&(from, to)) {
            return Fate::Partitioned;
        }
        let o = if self.over.is_empty() {
            None
        } else {
            self.over.get(&(from, to)).map(|&i| &self.overrides[i])
        };
        let (latency, loss, dup) = match o {
            None => (&self.by_kind[kind], self.loss, self.duplicate),
            Some(o) => (
                o.latency.as_ref().unwrap_or(&self.by_kind[kind]),
                o.loss.unwrap_or(self.loss),
                o.duplicate.unwrap_or(self.duplicate),
            ),
        };
        if rng.chance(loss) {
            return Fate::Lost;
        }
        let extra = if self.any_extra_delay {
            self.extra_delay[from.index()] + self.extra_delay[to.index()]
        } else {
            SimDuration::ZERO
        };
        let delay = latency.sample(rng) + extra;
        let copy = rng.chance(dup).then(|| latency.sample(rng) + extra);
        Fate::Deliver { delay, copy }
    }

    pub(crate) fn cut(&mut self, from: NodeId, to: NodeId) {
        self.blocked.insert((from, to));
    }

    pub(crate) fn heal(&mut self) {
        self.blocked.clear();
    }

    pub(crate) fn set_loss(&mut self, p: f64) {
        self.loss = p;
    }

    pub(crate) fn set_duplicate(&mut self, p: f64) {
        self.duplicate = p;
    }

    pub(crate) fn set_extra_delay(&mut self, node: NodeId, d: SimDuration) {
        self.extra_delay[node.index()] = d;
        self.any_extra_delay = self.extra_delay.iter().any(|d| *d > SimDuration::ZERO);
    }

    pub(crate) fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked.contains(&(from, to))
    }
}
