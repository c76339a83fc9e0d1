//! `dynsim ring`: a scenario's ring, the preference lists of keys, and what a join or leave would move.

use super::common::{EXIT_BAD_INPUT, EXIT_OK, load};
use std::path::PathBuf;

/// The arguments of `dynsim ring`.
#[derive(clap::Args, Debug)]
pub struct RingArgs {
    /// The scenario file whose cluster to show.
    pub file: PathBuf,
    /// Keys whose preference lists to print (repeatable).
    #[arg(long = "key", value_name = "K")]
    pub keys: Vec<String>,
    /// Override the scenario's seed (random tokens depend on it).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also show the ring after one new node joins (it takes tokens by the
    /// cluster's strategy) and what moves: the pieces of the key space whose
    /// replica sets change, the data to copy, the ranges split, and how many
    /// of the load's keys (and the --key keys) move.
    #[arg(long, conflicts_with = "leave")]
    pub join: bool,
    /// Also show the ring after NODE leaves, and what moves.
    #[arg(long, value_name = "NODE")]
    pub leave: Option<String>,
}

/// `dynsim ring`.
pub(super) fn run(args: &RingArgs) -> u8 {
    let s = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or(s.seed);
    let ring = dynamo_model::Ring::build(
        &s.cluster,
        &mut sim_core::SimRng::new(seed, sim_core::Stream::Setup),
    );
    // Check every --key before printing anything, so a typo is the first
    // thing on the screen rather than a line lost under the ring.
    let mut keys = Vec::new();
    for k in &args.keys {
        match ring.key(k) {
            Ok(key) => keys.push((k, key)),
            Err(e) => eprintln!("error: --key {k}: {e}"),
        }
    }
    if keys.len() != args.keys.len() {
        return EXIT_BAD_INPUT;
    }
    let mut o = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(o, "{}", s.cluster.describe()[0]);
    let _ = writeln!(
        o,
        "{} tokens (position -> owner, clockwise):",
        ring.tokens().len()
    );
    for (i, (pos, node)) in ring.tokens().iter().enumerate() {
        let list: Vec<String> = ring
            .range_replicas(i, s.cluster.n as usize)
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = writeln!(
            o,
            "  token {i:>4}  {pos:>20}  {node}  replicas [{}]",
            list.join(" ")
        );
    }
    let _ = writeln!(o, "ownership (share of the key space as first replica):");
    for (i, share) in ring.ownership().iter().enumerate() {
        let _ = writeln!(o, "  n{i}: {:.2}%", share * 100.0);
    }
    for (k, key) in keys {
        let walk: Vec<sim_core::NodeId> = ring.walk(&key).collect();
        let n = s.cluster.n as usize;
        let pref: Vec<String> = walk[..n].iter().map(ToString::to_string).collect();
        let fb: Vec<String> = walk[n..].iter().map(ToString::to_string).collect();
        let _ = writeln!(
            o,
            "key {k} (position {}): preference list [{}], fallbacks [{}]",
            key.position(),
            pref.join(" "),
            fb.join(" ")
        );
    }
    if args.join || args.leave.is_some() {
        match ring_change(&s, &ring, seed, args, &mut o) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        }
    }
    crate::cmd::output::print(&o);
    EXIT_OK
}

/// `dynsim ring --join` / `--leave N`: the ring after the change, and what moves.
fn ring_change(
    s: &crate::scenario::Scenario,
    ring: &dynamo_model::Ring,
    seed: u64,
    args: &RingArgs,
    o: &mut String,
) -> Result<(), String> {
    use dynamo_model::ring_change::{diff, joined, keys_moved, left};
    use std::fmt::Write as _;
    let c = &s.cluster;
    let mut rng = sim_core::SimRng::new(seed, sim_core::Stream::Custom(11));
    let n = c.n as usize;
    let (after, what) = match &args.leave {
        None => {
            let node = sim_core::NodeId(ring.node_count());
            (joined(ring, c, &mut rng), format!("{node} joins"))
        }
        Some(name) => {
            let id = name
                .strip_prefix('n')
                .and_then(|x| x.parse::<u32>().ok())
                .filter(|&i| i < c.nodes)
                .ok_or_else(|| {
                    format!(
                        "--leave {name:?}: no such node; the cluster has n0..n{}",
                        c.nodes - 1
                    )
                })?;
            let node = sim_core::NodeId(id);
            if !ring.tokens().iter().any(|t| t.1 == node) {
                return Err(format!("--leave {name}: {name} owns no tokens (a proxy?)"));
            }
            if ring.walk_len() <= n {
                return Err(format!(
                    "--leave {name}: the ring would keep {} nodes, fewer than N = {n}",
                    ring.walk_len() - 1
                ));
            }
            (left(ring, c, node, &mut rng), format!("{node} leaves"))
        }
    };
    let d = diff(ring, &after, n);
    let strategy = match &c.tokens {
        dynamo_model::TokenStrategy::Random { tokens_per_node } => {
            format!("S1: {tokens_per_node} random tokens a node")
        }
        dynamo_model::TokenStrategy::EqualPartitions { partitions } => {
            format!("S3: {partitions} equal partitions, moved whole")
        }
        dynamo_model::TokenStrategy::Explicit { .. } => "explicit partitions, moved whole".into(),
    };
    let _ = writeln!(o, "\nafter {what} ({strategy}):");
    let _ = writeln!(
        o,
        "  key space whose replica set changes: {:.2}%",
        d.changed * 100.0
    );
    let _ = writeln!(
        o,
        "  replica copies to make: {:.4} of the key space ({:.2}% of the {n} copies stored)",
        d.copies,
        d.copies * 100.0 / n as f64
    );
    let _ = writeln!(
        o,
        "  ranges split: {} of {} (their keys are picked out one by one; unsplit ranges move whole)",
        d.ranges_split,
        ring.range_count()
    );
    let (old_load, new_load) = (ring.replica_load(n), after.replica_load(n));
    let _ = writeln!(o, "  share of the key space each node replicates:");
    for (i, after) in new_load.iter().enumerate() {
        let before = old_load.get(i).copied().unwrap_or(0.0);
        let _ = writeln!(
            o,
            "    n{i}: {:.2}% -> {:.2}%",
            before * 100.0,
            after * 100.0
        );
    }
    const SHOWN: usize = 20;
    let _ = writeln!(
        o,
        "  pieces whose replica set changes ({} in all{}):",
        d.pieces.len(),
        if d.pieces.len() > SHOWN {
            format!(", the first {SHOWN}")
        } else {
            String::new()
        }
    );
    let names = |v: &[sim_core::NodeId]| -> String {
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        s.join(" ")
    };
    for p in d.pieces.iter().take(SHOWN) {
        let _ = writeln!(
            o,
            "    {:>20} ..= {:<20} [{}] -> [{}]",
            p.lo,
            p.hi,
            names(&p.before),
            names(&p.after)
        );
    }
    // The keys a scenario's load uses, as its clients name them, and any --key.
    let mut keys = Vec::new();
    if let Some(l) = &s.load {
        for i in 0..l.keys {
            let name = match c.key_scheme {
                dynamo_model::KeyScheme::Md5 => format!("key{i}"),
                dynamo_model::KeyScheme::Integer { .. } => i.to_string(),
            };
            keys.push(ring.key(&name)?);
        }
    }
    for k in &args.keys {
        keys.push(ring.key(k)?);
    }
    if !keys.is_empty() {
        let (moved, copies) = keys_moved(ring, &after, n, &keys);
        let _ = writeln!(
            o,
            "  keys: {moved} of {} change their replica set; {copies} replica copies to make",
            keys.len()
        );
    }
    Ok(())
}
