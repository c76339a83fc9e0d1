//! Writes a [`Scenario`] back as TOML that `scenario::parse` reads to the
//! same scenario: how `dynsim shrink` saves what it found.

use crate::scenario::{Action, Check, Scenario};
use dynamo_model::cluster::{Entry, KeyChoice, OpKind, Pacing};
use dynamo_model::{KeyScheme, TokenStrategy, Versioning};
use sim_core::latency::fmt_us;
use sim_core::{Fault, Latency, NodeId, SimDuration};
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
    }
}

/// The scenario as TOML.
pub fn to_toml(s: &Scenario) -> String {
    let mut o = String::new();
    let c = &s.cluster;
    let _ = writeln!(o, "name = {}", q(&s.name));
    if !s.description.is_empty() {
        let _ = writeln!(o, "description = {}", q(&s.description));
    }
    let _ = writeln!(o, "seed = {}", s.seed);
    let _ = writeln!(o, "duration = {}", d(s.duration));
    if s.always_judge_reads {
        let _ = writeln!(o, "\n[checks]\nquorum_reads = \"always\"");
    }
    let _ = writeln!(o, "\n[cluster]");
    let _ = writeln!(
        o,
        "nodes = {}\nn = {}\nr = {}\nw = {}",
        c.nodes, c.n, c.r, c.w
    );
    match c.key_scheme {
        KeyScheme::Md5 => {
            let _ = writeln!(o, "keys = \"md5\"");
        }
        KeyScheme::Integer { hash_bits } => {
            let _ = writeln!(o, "keys = \"integer\"\nhash_bits = {hash_bits}");
        }
    }
    match &c.tokens {
        TokenStrategy::Random { tokens_per_node } => {
            let _ = writeln!(
                o,
                "tokens = \"random\"\ntokens_per_node = {tokens_per_node}"
            );
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
    let versioning = match c.versioning {
        Versioning::VectorClock => "vector-clock",
        Versioning::LastWriteWins => "last-write-wins",
    };
    let _ = writeln!(o, "versioning = {}", q(versioning));
    for (k, v) in [
        ("request_timeout", c.request_timeout),
        ("op_deadline", c.op_deadline),
        ("read_repair_window", c.read_repair_window),
        ("hint_interval", c.hint_interval),
        ("gossip_interval", c.gossip_interval),
        ("anti_entropy_interval", c.anti_entropy_interval),
    ] {
        let _ = writeln!(o, "{k} = {}", d(v));
    }
    for (k, v) in [
        ("read_repair", c.read_repair),
        ("hinted_handoff", c.hinted_handoff),
        ("gossip", c.gossip),
        ("anti_entropy", c.anti_entropy),
        ("forward_to_owner", c.forward_to_owner),
    ] {
        let _ = writeln!(o, "{k} = {v}");
    }
    let _ = writeln!(
        o,
        "merkle_depth = {}\nvclock_max_entries = {}",
        c.merkle_depth, c.vclock_max_entries
    );
    if let Some(b) = c.bug {
        let _ = writeln!(o, "inject_bug = {}", q(b.name()));
    }
    let n = &s.net;
    let _ = writeln!(o, "\n[network]");
    let _ = writeln!(o, "latency = {}", latency(&n.latency));
    let _ = writeln!(o, "client_latency = {}", latency(&n.client_latency));
    let _ = writeln!(o, "loss = {:?}\nduplicate = {:?}", n.loss, n.duplicate);
    if !n.per_kind.is_empty() {
        let kinds: Vec<String> = n
            .per_kind
            .iter()
            .map(|(k, l)| format!("{k} = {}", latency(l)))
            .collect();
        let _ = writeln!(o, "per_kind = {{ {} }}", kinds.join(", "));
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
    for st in &s.steps {
        let _ = writeln!(o, "\n[[steps]]\nat = {}", d(SimDuration(st.at.as_us())));
        match &st.action {
            Action::Op(op) => {
                let _ = writeln!(
                    o,
                    "do = {}",
                    q(if op.kind == OpKind::Put { "put" } else { "get" })
                );
                let _ = writeln!(o, "node = {}\nkey = {}", entry(&op.entry), q(&op.key));
                if let Some(v) = &op.value {
                    let _ = writeln!(o, "value = {}", q(v));
                }
                if let Some(nm) = &op.name {
                    let _ = writeln!(o, "name = {}", q(nm));
                }
                if let Some(j) = op.context_from {
                    let name = match &s.steps[j].action {
                        Action::Op(g) => g.name.clone().expect("a context source is named"),
                        Action::Fault(_) | Action::HealAll => {
                            unreachable!("contexts come from gets")
                        }
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
        }
    }
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
    }
    for e in &s.expects {
        let _ = writeln!(o, "\n[[expect]]");
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
                ..
            } => {
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
                    q(key)
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
                    q(key)
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
            Check::Checker { name, verdict } => {
                let _ = writeln!(o, "checker = {}\nverdict = {}", q(name), q(verdict));
            }
        }
    }
    o
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
