//! The network model: per-kind latency, loss, duplication, per-zone-pair
//! and per-link overrides, partitions and extra delay.

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
    /// The zone (a data centre) of each node, by index; empty puts every
    /// node in zone 0. Only `zone_links` reads it.
    pub zones: Vec<u32>,
    /// Latency for messages between zones (or within one), directed; a later
    /// entry for the same pair replaces an earlier one.
    pub zone_links: Vec<ZoneLink>,
}

/// The latency of messages from zone `from` to zone `to` (the same zone for
/// messages within it). Below a single link's override, above the global
/// per-kind latencies: a kind in `per_kind` gets its own; any other kind gets
/// `latency`, or, without it, its global latency.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneLink {
    /// The zone the messages leave from.
    pub from: u32,
    /// The zone they arrive in; equal to `from` for messages within a zone.
    pub to: u32,
    /// Latency of every kind not in `per_kind`; `None` leaves those kinds their global latency.
    pub latency: Option<Latency>,
    /// Latency per message kind, by the kind's name; it takes precedence over `latency`.
    pub per_kind: Vec<(String, Latency)>,
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
            zones: Vec::new(),
            zone_links: Vec::new(),
        }
    }
}

impl NetConfig {
    /// The latency model of a `kind` message from `from` to `to`, resolved as
    /// the network does (link override, zone pair, kind, global). For models
    /// outside the simulation that must charge the same links (the PBS WARS model).
    pub fn latency_for(&self, from: NodeId, to: NodeId, kind: &str) -> &Latency {
        if let Some(l) = self
            .links
            .iter()
            .rev()
            .find(|l| l.from == from && l.to == to)
            .and_then(|l| l.latency.as_ref())
        {
            return l;
        }
        let global = || {
            self.per_kind
                .iter()
                .rev()
                .find(|(k, _)| k == kind)
                .map_or(&self.latency, |(_, l)| l)
        };
        let zone = |n: NodeId| self.zones.get(n.index()).copied().unwrap_or(0);
        let (zf, zt) = (zone(from), zone(to));
        match self
            .zone_links
            .iter()
            .rev()
            .find(|z| z.from == zf && z.to == zt)
        {
            None => global(),
            Some(z) => z
                .per_kind
                .iter()
                .rev()
                .find(|(k, _)| k == kind)
                .map(|(_, l)| l)
                .or(z.latency.as_ref())
                .unwrap_or_else(global),
        }
    }
}

/// An override for the directed link `from -> to`. `None` keeps the global value.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// The sending node.
    pub from: NodeId,
    /// The receiving node.
    pub to: NodeId,
    /// Latency of every message on the link, whatever its kind; `None` keeps the zone or kind latency.
    pub latency: Option<Latency>,
    /// Probability that a message on the link is lost; `None` keeps the global one.
    pub loss: Option<f64>,
    /// Probability that a message on the link is delivered twice; `None` keeps the global one.
    pub duplicate: Option<f64>,
}

/// What the network decided for one message.
pub(crate) enum Fate {
    Partitioned,
    Lost,
    /// A holding simulation keeps it until a release (never from `route`).
    Held,
    Deliver {
        delay: SimDuration,
        copy: Option<SimDuration>,
    },
}

/// A network checked against its cluster: built from a [`NetConfig`] for a
/// number of nodes and the model's message kinds, it cannot fail to run.
/// Each simulation takes a copy ([`crate::Sim::with_network`]), whose
/// partitions and delays are its own.
#[derive(Clone, Debug)]
pub struct Network {
    by_kind: Vec<Latency>,
    /// Zone of each node; empty when no zone pair has latencies of its own.
    zone_of: Vec<u32>,
    zone_count: usize,
    /// For each (from zone x zone count + to zone), an index into `zone_kinds`, or `NO_ZONE_LINK`.
    zone_pair: Vec<u32>,
    /// Per zone link: the latency of each message kind.
    zone_kinds: Vec<Vec<Latency>>,
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

const NO_ZONE_LINK: u32 = u32::MAX;

/// Zones a network may have: far more data centres than any setup uses, and
/// small enough that the table of zone pairs stays small.
pub const MAX_ZONES: u32 = 1_000;

fn check_probability(what: &str, p: f64) -> Result<(), String> {
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("{what} must be a probability in [0, 1], got {p}"));
    }
    Ok(())
}

impl Network {
    /// The network `cfg` describes, for `n` nodes exchanging messages of
    /// `kinds`, or the first problem with it.
    pub fn new(n: usize, kinds: &[&str], cfg: &NetConfig) -> Result<Network, String> {
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
        let (zone_of, zone_count, zone_pair, zone_kinds) = zone_tables(n, kinds, cfg, &by_kind)?;
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
            zone_of,
            zone_count,
            zone_pair,
            zone_kinds,
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

    /// The number of nodes it connects.
    pub fn nodes(&self) -> usize {
        self.extra_delay.len()
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
        let by_kind = self.kind_latency(from, to, kind);
        let (latency, loss, dup) = match o {
            None => (by_kind, self.loss, self.duplicate),
            Some(o) => (
                o.latency.as_ref().unwrap_or(by_kind),
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

    /// The latency of a `kind` message from `from` to `to` before any link override.
    #[inline]
    fn kind_latency(&self, from: NodeId, to: NodeId, kind: usize) -> &Latency {
        if self.zone_of.is_empty() {
            return &self.by_kind[kind];
        }
        let pair = self.zone_of[from.index()] as usize * self.zone_count
            + self.zone_of[to.index()] as usize;
        match self.zone_pair[pair] {
            NO_ZONE_LINK => &self.by_kind[kind],
            z => &self.zone_kinds[z as usize][kind],
        }
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

    /// Hashes what faults change: the cut links, loss and duplication, extra delays.
    pub(crate) fn hash_state<H: std::hash::Hasher>(&self, state: &mut H) {
        use std::hash::Hash;
        self.blocked.hash(state);
        crate::digest::hash_f64(self.loss, state);
        crate::digest::hash_f64(self.duplicate, state);
        self.extra_delay.hash(state);
    }

    pub(crate) fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked.contains(&(from, to))
    }
}

type ZoneTables = (Vec<u32>, usize, Vec<u32>, Vec<Vec<Latency>>);

/// Checks the zones and zone links and builds the network's lookup tables
/// (all empty when no zone link is given, so routing pays nothing for zones).
fn zone_tables(
    n: usize,
    kinds: &[&str],
    cfg: &NetConfig,
    by_kind: &[Latency],
) -> Result<ZoneTables, String> {
    if !cfg.zones.is_empty() && cfg.zones.len() != n {
        return Err(format!(
            "{} zones given for {n} nodes; give one zone a node",
            cfg.zones.len()
        ));
    }
    let zone_count = cfg
        .zones
        .iter()
        .chain(cfg.zone_links.iter().flat_map(|z| [&z.from, &z.to]))
        .max()
        .map_or(1, |&m| m as usize + 1);
    if zone_count > MAX_ZONES as usize {
        return Err(format!(
            "zone {} is past the limit of {MAX_ZONES} zones",
            zone_count - 1
        ));
    }
    if cfg.zone_links.is_empty() {
        return Ok((Vec::new(), 1, Vec::new(), Vec::new()));
    }
    let mut zone_pair = vec![NO_ZONE_LINK; zone_count * zone_count];
    let mut zone_kinds = Vec::new();
    for z in &cfg.zone_links {
        let mut lats: Vec<Latency> = match &z.latency {
            Some(l) => {
                l.validate()
                    .map_err(|e| format!("zone {} -> {}: {e}", z.from, z.to))?;
                vec![l.clone(); kinds.len()]
            }
            None => by_kind.to_vec(),
        };
        for (name, lat) in &z.per_kind {
            lat.validate()
                .map_err(|e| format!("zone {} -> {}, latency of {name}: {e}", z.from, z.to))?;
            let i = kinds.iter().position(|k| k == name).ok_or_else(|| {
                format!(
                    "unknown message kind {name:?}; valid kinds are {}",
                    kinds.join(", ")
                )
            })?;
            lats[i] = lat.clone();
        }
        zone_pair[z.from as usize * zone_count + z.to as usize] = zone_kinds.len() as u32;
        zone_kinds.push(lats);
    }
    let zone_of = if cfg.zones.is_empty() {
        vec![0; n]
    } else {
        cfg.zones.clone()
    };
    Ok((zone_of, zone_count, zone_pair, zone_kinds))
}
