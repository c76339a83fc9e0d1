//! Writes a [`Scenario`] back as TOML that `scenario::parse` reads to the
//! same scenario: how `dynsim shrink` saves what it found.

use crate::scenario::expect::{Anchor, EventMatch};
use crate::scenario::{Action, Check, Scenario};
use dynamo_model::{ClusterConfig, KeyScheme, TokenStrategy, Versioning};
use dynamo_observer::{Entry, KeyChoice, Pacing};
use sim_core::latency::fmt_us;
use sim_core::{Fault, Latency, NetConfig, NodeId, SimDuration};
use std::fmt::Write as _;

fn q(s: &str) -> String {
    // TOML basic strings share JSON's escapes for everything dynsim writes.
    serde_json::to_string(s).expect("strings serialize")
}

fn d(x: SimDuration) -> String {
    q(&x.to_string())
}

fn latency(l: &Latency) -> String {
    match l {
        Latency::Constant { us } => {
            format!("{{ dist = \"constant\", value = {} }}", q(&fmt_us(*us)))
        }
        Latency::Uniform { min_us, max_us } => {
            format!(
                "{{ dist = \"uniform\", min = {}, max = {} }}",
                q(&fmt_us(*min_us)),
                q(&fmt_us(*max_us))
            )
        }
        Latency::Normal { mean_us, sd_us } => {
            format!(
                "{{ dist = \"normal\", mean = {}, sd = {} }}",
                q(&fmt_us(*mean_us)),
                q(&fmt_us(*sd_us))
            )
        }
        Latency::Exponential { mean_us } => format!(
            "{{ dist = \"exponential\", mean = {} }}",
            q(&fmt_us(*mean_us))
        ),
        Latency::Pareto { scale_us, alpha } => {
            format!(
                "{{ dist = \"pareto\", xm = {}, alpha = {alpha:?} }}",
                q(&fmt_us(*scale_us))
            )
        }
        Latency::Shifted { offset_us, inner } => format!(
            "{{ offset = {}, {}",
            q(&fmt_us(*offset_us)),
            latency(inner).trim_start_matches("{ ")
        ),
        Latency::Mixture(parts) => {
            let ps: Vec<String> = parts
                .iter()
                .map(|(w, p)| {
                    let inner = latency(p);
                    format!("{{ weight = {w:?}, {}", inner.trim_start_matches("{ "))
                })
                .collect();
            format!("{{ dist = \"mixture\", parts = [{}] }}", ps.join(", "))
        }
    }
}

fn nodes(list: &[NodeId]) -> String {
    let v: Vec<String> = list.iter().map(|n| q(&n.to_string())).collect();
    format!("[{}]", v.join(", "))
}

fn entry(e: &Entry) -> String {
    match e {
        Entry::Node(n) => q(&n.to_string()),
        Entry::Random => q("random"),
        Entry::Owner => q("owner"),
        Entry::Proxy => q("proxy"),
    }
}

/// One table's `key = value` lines as a TOML inline table on one line.
fn inline(lines: &str) -> String {
    format!("{{ {} }}", lines.lines().collect::<Vec<_>>().join(", "))
}

/// An array of inline tables, one a line (one short table on the key's own
/// line; nothing when empty).
fn inline_array(o: &mut String, key: &str, items: &[String]) {
    match items {
        [] => return,
        [one] if one.len() < 80 => {
            let _ = writeln!(o, "{key} = [{one}]");
            return;
        }
        _ => {}
    }
    let _ = writeln!(o, "{key} = [");
    for item in items {
        let _ = writeln!(o, "  {item},");
    }
    let _ = writeln!(o, "]");
}

/// The scenario as TOML, as short as reads back the same: every field equal
/// to the default the reader fills in is left out, and each step and
/// expectation is an inline table on one line, so the timeline reads as a
/// list (the form `dynsim shrink` writes; `[[steps]]` tables read the same).
pub fn to_toml(s: &Scenario) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "name = {}", q(&s.name));
    if !s.description.is_empty() {
        let _ = writeln!(o, "description = {}", q(&s.description));
    }
    let _ = writeln!(o, "seed = {}", s.seed);
    let _ = writeln!(o, "duration = {}", d(s.duration));
    // Top-level arrays come before the first table header, which would claim them.
    let mut steps = Vec::new();
    for st in &s.steps {
        let mut o = String::new();
        let _ = writeln!(o, "at = {}", d(SimDuration(st.at.as_us())));
        match &st.action {
            Action::Op(op) => {
                let _ = writeln!(o, "do = {}", q(op.kind.name()));
                let _ = writeln!(o, "node = {}\nkey = {}", entry(&op.entry), q(op.key.name()));
                if let Some(v) = &op.value {
                    let _ = writeln!(o, "value = {}", q(v));
                }
                if let Some(nm) = &op.name {
                    let _ = writeln!(o, "name = {}", q(nm));
                }
                if let Some(j) = op.context_from {
                    let name = match &s.steps[j].action {
                        Action::Op(g) => g.name.clone().expect("a context source is named"),
                        Action::Fault(_)
                        | Action::HealAll
                        | Action::Membership { .. }
                        | Action::Trigger(_)
                        | Action::Held(_) => unreachable!("contexts come from gets"),
                    };
                    let _ = writeln!(o, "context = {}", q(&name));
                }
                if op.client.0 != 0 {
                    let _ = writeln!(o, "client = {}", q(&op.client.to_string()));
                }
            }
            Action::Fault(f) => write_fault(&mut o, f),
            Action::HealAll => {
                let _ = writeln!(o, "do = \"heal-all\"");
            }
            Action::Trigger(t) => {
                let _ = writeln!(
                    o,
                    "do = \"trigger\"\non = {}\nfault = {}\nfor = {}\nuntil = {}",
                    q(t.on),
                    q(t.fault.name()),
                    d(t.lasting),
                    d(SimDuration(t.until.as_us()))
                );
            }
            Action::Held(h) => write_held(&mut o, h),
            Action::Membership { node, join } => {
                let what = if join.is_some() { "join" } else { "leave" };
                let _ = writeln!(o, "do = {}\nnode = {}", q(what), q(&node.to_string()));
                if let Some(tokens) = join.as_ref().filter(|t| !t.is_empty()) {
                    let ts: Vec<String> = tokens.iter().map(u64::to_string).collect();
                    let _ = writeln!(o, "tokens = [{}]", ts.join(", "));
                }
            }
        }
        steps.push(inline(&o));
    }
    inline_array(&mut o, "steps", &steps);
    let mut expects = Vec::new();
    for e in &s.expects {
        let mut o = String::new();
        if let Some(at) = e.at {
            let _ = writeln!(o, "at = {}", d(SimDuration(at.as_us())));
        }
        match &e.check {
            Check::Op {
                name,
                ok,
                values,
                siblings,
                clock,
                acks,
                needed,
                ..
            } => {
                if let Some(a) = acks {
                    let _ = writeln!(o, "acks = {a}");
                }
                if let Some(n) = needed {
                    let _ = writeln!(o, "needed = {n}");
                }
                let _ = writeln!(o, "op = {}", q(name));
                if let Some(ok) = ok {
                    let _ = writeln!(o, "ok = {ok}");
                }
                if let Some(v) = values {
                    let vs: Vec<String> = v.iter().map(|x| q(x)).collect();
                    let _ = writeln!(o, "values = [{}]", vs.join(", "));
                }
                if let Some(n) = siblings {
                    let _ = writeln!(o, "siblings = {n}");
                }
                if let Some(c) = clock {
                    let _ = writeln!(o, "clock = {}", q(c));
                }
            }
            Check::Holds {
                node,
                key,
                present,
                value,
            } => {
                let _ = writeln!(
                    o,
                    "node = {}\n{} = {}",
                    q(&node.to_string()),
                    if *present { "holds" } else { "lacks" },
                    q(key.name())
                );
                if let Some(v) = value {
                    let _ = writeln!(o, "value = {}", q(v));
                }
            }
            Check::Hint {
                node,
                key,
                present,
                target,
            } => {
                let _ = writeln!(
                    o,
                    "node = {}\n{} = {}",
                    q(&node.to_string()),
                    if *present { "hint" } else { "no_hint" },
                    q(key.name())
                );
                if let Some(t) = target {
                    let _ = writeln!(o, "for = {}", q(&t.to_string()));
                }
            }
            Check::Believes { node, peer, up } => {
                let _ = writeln!(
                    o,
                    "node = {}\n{} = {}",
                    q(&node.to_string()),
                    if *up { "believes_up" } else { "believes_down" },
                    q(&peer.to_string())
                );
            }
            Check::Exactly {
                node,
                key,
                versions,
            } => {
                let vs: Vec<String> = versions
                    .iter()
                    .map(|(v, c)| format!("{{ value = {}, clock = {} }}", q(v), q(c)))
                    .collect();
                let _ = writeln!(
                    o,
                    "node = {}\nexactly = {}\nversions = [{}]",
                    q(&node.to_string()),
                    q(key.name()),
                    vs.join(", ")
                );
            }
            Check::Counter { name, cmp, value } => {
                let _ = writeln!(o, "counter = {}\n{} = {value}", q(name), cmp.field());
            }
            Check::Within {
                event,
                after,
                within,
            } => {
                let _ = writeln!(o, "event = {}", event_match(event));
                match after {
                    Anchor::Step { name, .. } => {
                        let _ = writeln!(o, "after = {}", q(name));
                    }
                    Anchor::Event(m) => {
                        let _ = writeln!(o, "after = {}", event_match(m));
                    }
                }
                let _ = writeln!(o, "within = {}", d(*within));
            }
            Check::Checker { name, verdict } => {
                let _ = writeln!(o, "checker = {}\nverdict = {}", q(name), q(verdict));
            }
        }
        expects.push(inline(&o));
    }
    inline_array(&mut o, "expect", &expects);
    if s.always_judge_reads {
        let _ = writeln!(o, "\n[checks]\nquorum_reads = \"always\"");
    }
    if s.swarm != crate::scenario::SwarmSwitches::default() {
        let _ = writeln!(
            o,
            "\n[swarm]\ninterleavings = {}\ndeletes = {}\njoins = {}\nleaves = {}",
            s.swarm.interleavings, s.swarm.deletes, s.swarm.joins, s.swarm.leaves
        );
    }
    write_cluster(&mut o, &s.cluster);
    write_network(&mut o, &s.net, &s.cluster.datacenters, s.hold);
    if let Some(l) = &s.load {
        let _ = writeln!(o, "\n[load]\nclients = {}", l.clients);
        match l.pacing {
            Pacing::Closed { think } => {
                let _ = writeln!(o, "pacing = \"closed\"\nthink = {}", d(think));
            }
            Pacing::Open { rate_per_s } => {
                let _ = writeln!(o, "pacing = \"open\"\nrate = {rate_per_s:?}");
            }
        }
        let _ = writeln!(o, "keys = {}", l.keys);
        match l.key_choice {
            KeyChoice::Uniform => {
                let _ = writeln!(o, "distribution = \"uniform\"");
            }
            KeyChoice::Zipf { exponent } => {
                let _ = writeln!(o, "distribution = \"zipf\"\nzipf_exponent = {exponent:?}");
            }
        }
        let _ = writeln!(
            o,
            "read_fraction = {:?}\nread_modify_write = {}",
            l.read_fraction, l.read_modify_write
        );
        let _ = writeln!(
            o,
            "via = {}\nstart = {}\nstop = {}",
            entry(&l.entry),
            d(SimDuration(l.start.as_us())),
            d(SimDuration(l.stop.as_us()))
        );
        if let Some(m) = l.max_ops {
            let _ = writeln!(o, "ops = {m}");
        }
        if l.delete_fraction > 0.0 {
            let _ = writeln!(o, "delete_fraction = {:?}", l.delete_fraction);
        }
    }
    o
}

fn event_match(m: &EventMatch) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &m.actor {
        parts.push(format!("node = {}", q(a)));
    }
    if let Some(k) = &m.kind {
        parts.push(format!("kind = {}", q(k)));
    }
    if let Some(t) = &m.text {
        parts.push(format!("text = {}", q(t)));
    }
    format!("{{ {} }}", parts.join(", "))
}

fn write_cluster(o: &mut String, c: &ClusterConfig) {
    let dflt = ClusterConfig::default();
    let _ = writeln!(o, "\n[cluster]\nnodes = {}", c.nodes);
    // The reader's defaults for n, r and w depend on the fields before them.
    let n_default = dflt.n.min(c.nodes.max(1));
    if c.n != n_default {
        let _ = writeln!(o, "n = {}", c.n);
    }
    if c.r != dflt.r.min(c.n) {
        let _ = writeln!(o, "r = {}", c.r);
    }
    if c.w != dflt.w.min(c.n) {
        let _ = writeln!(o, "w = {}", c.w);
    }
    match c.key_scheme {
        KeyScheme::Md5 => {}
        KeyScheme::Integer { hash_bits } => {
            let _ = writeln!(o, "keys = \"integer\"\nhash_bits = {hash_bits}");
        }
    }
    match &c.tokens {
        TokenStrategy::Random { tokens_per_node } => {
            if c.tokens != dflt.tokens {
                let _ = writeln!(o, "tokens_per_node = {tokens_per_node}");
            }
        }
        TokenStrategy::EqualPartitions { partitions } => {
            let _ = writeln!(o, "tokens = \"equal\"\npartitions = {partitions}");
        }
        TokenStrategy::Explicit { tokens } => {
            let per: Vec<String> = tokens
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    format!(
                        "n{i} = [{}]",
                        t.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            let _ = writeln!(
                o,
                "tokens = \"explicit\"\nexplicit_tokens = {{ {} }}",
                per.join(", ")
            );
        }
    }
    if c.versioning == Versioning::LastWriteWins {
        let _ = writeln!(o, "versioning = \"last-write-wins\"");
    }
    for (k, v, default) in [
        ("request_timeout", c.request_timeout, dflt.request_timeout),
        ("op_deadline", c.op_deadline, dflt.op_deadline),
        (
            "read_repair_window",
            c.read_repair_window,
            dflt.read_repair_window,
        ),
        ("hint_interval", c.hint_interval, dflt.hint_interval),
        ("gossip_interval", c.gossip_interval, dflt.gossip_interval),
        ("retry_interval", c.retry_interval, dflt.retry_interval),
        ("tombstone_grace", c.tombstone_grace, dflt.tombstone_grace),
        (
            "anti_entropy_interval",
            c.anti_entropy_interval,
            dflt.anti_entropy_interval,
        ),
    ] {
        if v != default {
            let _ = writeln!(o, "{k} = {}", d(v));
        }
    }
    for (k, v, default) in [
        ("read_repair", c.read_repair, dflt.read_repair),
        ("hinted_handoff", c.hinted_handoff, dflt.hinted_handoff),
        ("gossip", c.gossip, dflt.gossip),
        ("anti_entropy", c.anti_entropy, dflt.anti_entropy),
        (
            "forward_to_owner",
            c.forward_to_owner,
            dflt.forward_to_owner,
        ),
        ("random_quorums", c.random_quorums, dflt.random_quorums),
    ] {
        if v != default {
            let _ = writeln!(o, "{k} = {v}");
        }
    }
    if c.proxies != dflt.proxies {
        let _ = writeln!(o, "proxies = {}", c.proxies);
    }
    if c.merkle_depth != dflt.merkle_depth {
        let _ = writeln!(o, "merkle_depth = {}", c.merkle_depth);
    }
    if c.vclock_max_entries != dflt.vclock_max_entries {
        let _ = writeln!(o, "vclock_max_entries = {}", c.vclock_max_entries);
    }
    let node_names = |list: &[u32]| -> String {
        let names: Vec<String> = list.iter().map(|n| q(&format!("n{n}"))).collect();
        format!("[{}]", names.join(", "))
    };
    if !c.outside.is_empty() {
        let _ = writeln!(o, "outside = {}", node_names(&c.outside));
    }
    if c.seeds != dflt.seeds {
        let _ = writeln!(o, "seeds = {}", node_names(&c.seeds));
    }
    if !c.datacenters.is_empty() {
        let names: Vec<String> = c.datacenters.iter().map(|d| q(d)).collect();
        let _ = writeln!(o, "datacenters = [{}]", names.join(", "));
    }
    if !c.node_datacenters.is_empty() {
        let names: Vec<String> = c
            .node_datacenters
            .iter()
            .map(|&i| q(&c.datacenters[i as usize]))
            .collect();
        let _ = writeln!(o, "node_datacenters = [{}]", names.join(", "));
    }
    if c.datacenter_aware != dflt.datacenter_aware {
        let _ = writeln!(o, "datacenter_aware = {}", c.datacenter_aware);
    }
    #[cfg(feature = "bugs")]
    if let Some(b) = c.bug {
        let _ = writeln!(o, "inject_bug = {}", q(b.name()));
    }
}

fn per_kind(kinds: &[(String, Latency)]) -> String {
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(k, l)| format!("{k} = {}", latency(l)))
        .collect();
    format!("per_kind = {{ {} }}", kinds.join(", "))
}

fn write_network(o: &mut String, n: &NetConfig, datacenters: &[String], hold: bool) {
    let dflt = NetConfig {
        zones: n.zones.clone(),
        ..NetConfig::default()
    };
    if *n == dflt && !hold {
        return;
    }
    let _ = writeln!(o, "\n[network]");
    if hold {
        let _ = writeln!(o, "deliver = \"by-steps\"");
    }
    if n.latency != dflt.latency {
        let _ = writeln!(o, "latency = {}", latency(&n.latency));
    }
    if n.client_request == n.client_reply {
        if n.client_request != dflt.client_request {
            let _ = writeln!(o, "client_latency = {}", latency(&n.client_request));
        }
    } else {
        let _ = writeln!(o, "client_request_latency = {}", latency(&n.client_request));
        let _ = writeln!(o, "client_reply_latency = {}", latency(&n.client_reply));
    }
    if n.loss != dflt.loss {
        let _ = writeln!(o, "loss = {:?}", n.loss);
    }
    if n.duplicate != dflt.duplicate {
        let _ = writeln!(o, "duplicate = {:?}", n.duplicate);
    }
    if !n.per_kind.is_empty() {
        let _ = writeln!(o, "{}", per_kind(&n.per_kind));
    }
    for z in &n.zone_links {
        let name = |i: u32| q(&datacenters[i as usize]);
        let _ = writeln!(
            o,
            "\n[[network.datacenter_links]]\nfrom = {}\nto = {}",
            name(z.from),
            name(z.to)
        );
        if let Some(lat) = &z.latency {
            let _ = writeln!(o, "latency = {}", latency(lat));
        }
        if !z.per_kind.is_empty() {
            let _ = writeln!(o, "{}", per_kind(&z.per_kind));
        }
    }
    for l in &n.links {
        let _ = writeln!(
            o,
            "\n[[network.links]]\nfrom = {}\nto = {}",
            q(&l.from.to_string()),
            q(&l.to.to_string())
        );
        if let Some(lat) = &l.latency {
            let _ = writeln!(o, "latency = {}", latency(lat));
        }
        if let Some(p) = l.loss {
            let _ = writeln!(o, "loss = {p:?}");
        }
        if let Some(p) = l.duplicate {
            let _ = writeln!(o, "duplicate = {p:?}");
        }
    }
}

fn write_held(o: &mut String, h: &dynamo_explorer::StepKind) {
    use dynamo_explorer::StepKind;
    let nth = |o: &mut String, nth: usize| {
        if nth > 0 {
            let _ = writeln!(o, "nth = {nth}");
        }
    };
    let msg = |o: &mut String, what: &str, from: &NodeId, to: &NodeId, kind: &str, n: usize| {
        let _ = writeln!(
            o,
            "do = {}\nfrom = {}\nto = {}\nkind = {}",
            q(what),
            q(&from.to_string()),
            q(&to.to_string()),
            q(kind)
        );
        nth(o, n);
    };
    match h {
        StepKind::Deliver {
            from,
            to,
            kind,
            nth,
        } => msg(o, "deliver", from, to, kind, *nth),
        StepKind::DropMsg {
            from,
            to,
            kind,
            nth,
        } => msg(o, "lose", from, to, kind, *nth),
        StepKind::Duplicate {
            from,
            to,
            kind,
            nth,
        } => msg(o, "copy", from, to, kind, *nth),
        StepKind::Request {
            client,
            node,
            nth: n,
        }
        | StepKind::DropRequest {
            client,
            node,
            nth: n,
        } => {
            let what = if matches!(h, StepKind::Request { .. }) {
                "deliver"
            } else {
                "lose"
            };
            let _ = writeln!(
                o,
                "do = {}\nclient = {}\nnode = {}",
                q(what),
                q(&client.to_string()),
                q(&node.to_string())
            );
            nth(o, *n);
        }
        StepKind::Fire {
            node,
            label,
            nth: n,
            early,
        } => {
            let _ = writeln!(
                o,
                "do = \"fire\"\nnode = {}\ntimer = {}",
                q(&node.to_string()),
                q(label)
            );
            nth(o, *n);
            if *early {
                let _ = writeln!(o, "early = true");
            }
        }
        StepKind::Wait => {
            let _ = writeln!(o, "do = \"wait\"");
        }
        StepKind::RunFreely => {
            let _ = writeln!(o, "do = \"run-freely\"");
        }
        StepKind::Op { .. } | StepKind::Fault(_) => unreachable!("written as op and fault steps"),
    }
}

fn write_fault(o: &mut String, f: &Fault) {
    let _ = match f {
        Fault::Crash { node, wipe_disk } => {
            writeln!(
                o,
                "do = {}\nnode = {}",
                q(if *wipe_disk { "crash-wipe" } else { "crash" }),
                q(&node.to_string())
            )
        }
        Fault::Restart { node } => writeln!(o, "do = \"restart\"\nnode = {}", q(&node.to_string())),
        Fault::Pause { node } => writeln!(o, "do = \"pause\"\nnode = {}", q(&node.to_string())),
        Fault::Resume { node } => writeln!(o, "do = \"resume\"\nnode = {}", q(&node.to_string())),
        Fault::Partition { groups } => {
            let gs: Vec<String> = groups.iter().map(|g| nodes(g)).collect();
            writeln!(o, "do = \"partition\"\ngroups = [{}]", gs.join(", "))
        }
        Fault::OneWay { from, to } => writeln!(
            o,
            "do = \"one-way\"\nfrom = {}\nto = {}",
            nodes(from),
            nodes(to)
        ),
        Fault::Heal => writeln!(o, "do = \"heal\""),
        Fault::ClockSkew { node, skew_us } => {
            let sign = if *skew_us < 0 { "-" } else { "+" };
            let by = format!("{sign}{}", SimDuration(skew_us.unsigned_abs()));
            writeln!(
                o,
                "do = \"skew\"\nnode = {}\nby = {}",
                q(&node.to_string()),
                q(&by)
            )
        }
        Fault::Loss { p } => writeln!(o, "do = \"loss\"\np = {p:?}"),
        Fault::Duplicate { p } => writeln!(o, "do = \"duplicate\"\np = {p:?}"),
        Fault::Slow { node, extra } => writeln!(
            o,
            "do = \"slow\"\nnode = {}\nby = {}",
            q(&node.to_string()),
            d(*extra)
        ),
    };
}
