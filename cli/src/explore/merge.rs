//! `dynsim merge`: the results.jsonl files of several sweep shards, combined
//! into one summary. It refuses to mix sweeps: every line must name the same
//! scenario digest, dynsim version and seed range; two different results for
//! one seed are an error; seeds of the range that no input holds are reported.

use crate::explore::sweep::{FAILURES_SHOWN, Origin, SeedResult, Tally};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::PathBuf;

/// A seed as first seen: a fingerprint of its result and where it was.
struct Seen {
    fingerprint: u64,
    input: usize,
    line: usize,
}

/// What a merge found.
pub struct Merged {
    /// The totals over every distinct seed the inputs hold.
    pub tally: Tally,
    /// The digest, version and range every line shares (none without lines).
    pub origin: Option<Origin>,
    /// Lines repeated with the same result.
    pub duplicates: u64,
    /// How many seeds of the range no input holds, and the first of them.
    pub missing: u64,
    /// The smallest missing seeds, in order ([`FAILURES_SHOWN`] at most).
    pub first_missing: Vec<u64>,
    /// The shards (K, N) the lines came from.
    pub shards: BTreeSet<(u64, u64)>,
}

/// A fingerprint of everything a run decides (not the replay command, which
/// spells the file as each machine did, nor the shard that ran it).
fn fingerprint(r: &SeedResult) -> u64 {
    use md5::{Digest, Md5};
    let canonical = SeedResult {
        replay: String::new(),
        shard: [0, 0],
        ..r.clone()
    };
    let bytes = serde_json::to_vec(&canonical).expect("results serialize");
    let d = Md5::digest(&bytes);
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Merges result files (or directories holding `results.jsonl`).
pub fn merge(inputs: &[PathBuf]) -> Result<Merged, String> {
    let mut tally = Tally::default();
    let mut seen: BTreeMap<u64, Seen> = BTreeMap::new();
    let mut reference: Option<(Origin, usize, usize)> = None;
    let mut shards = BTreeSet::new();
    let mut duplicates = 0;
    let paths: Vec<PathBuf> = inputs
        .iter()
        .map(|i| {
            if i.is_dir() {
                i.join("results.jsonl")
            } else {
                i.clone()
            }
        })
        .collect();
    let at = |input: usize, line: usize| format!("{}:{line}", paths[input].display());
    for (input, path) in paths.iter().enumerate() {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let number = n + 1;
            let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let r: SeedResult = serde_json::from_str(&line)
                .map_err(|e| format!("{}: not a sweep result line: {e}", at(input, number)))?;
            let origin = r.origin();
            match &reference {
                None => reference = Some((origin.clone(), input, number)),
                Some((first, fi, fl)) => {
                    let differ = |what: &str, a: &str, b: &str| {
                        format!(
                            "these results are of different sweeps: {} has {what} {a}, but {} has {b}; merge only the shards of one sweep",
                            at(*fi, *fl),
                            at(input, number)
                        )
                    };
                    if origin.digest != first.digest {
                        return Err(differ("scenario digest", &first.digest, &origin.digest));
                    }
                    if origin.version != first.version {
                        return Err(differ("dynsim version", &first.version, &origin.version));
                    }
                    if origin.range != first.range {
                        let show = |r: [u64; 2]| format!("--seeds {}..{}", r[0], r[1]);
                        return Err(differ("range", &show(first.range), &show(origin.range)));
                    }
                }
            }
            if r.seed < origin.range[0] || r.seed >= origin.range[1] {
                return Err(format!(
                    "{}: seed {} is outside its sweep's range {}..{}",
                    at(input, number),
                    r.seed,
                    origin.range[0],
                    origin.range[1]
                ));
            }
            shards.insert((origin.shard[0], origin.shard[1]));
            let fp = fingerprint(&r);
            match seen.get(&r.seed) {
                Some(s) if s.fingerprint != fp => {
                    return Err(format!(
                        "seed {} has two different results, at {} and at {}; these files cannot be of one deterministic sweep",
                        r.seed,
                        at(s.input, s.line),
                        at(input, number)
                    ));
                }
                Some(_) => duplicates += 1,
                None => {
                    seen.insert(
                        r.seed,
                        Seen {
                            fingerprint: fp,
                            input,
                            line: number,
                        },
                    );
                    tally.add(&r);
                }
            }
        }
    }
    let origin = reference.map(|(o, _, _)| o);
    let (mut missing, mut first_missing) = (0, Vec::new());
    if let Some(o) = &origin {
        missing = (o.range[1] - o.range[0]) - seen.len() as u64;
        if missing > 0 {
            // Walk the range beside the (sorted) seeds seen, up to the first few gaps.
            let mut held = seen.keys().copied().peekable();
            for seed in o.range[0]..o.range[1] {
                if held.peek() == Some(&seed) {
                    held.next();
                } else {
                    first_missing.push(seed);
                    if first_missing.len() == FAILURES_SHOWN {
                        break;
                    }
                }
            }
        }
    }
    Ok(Merged {
        tally,
        origin,
        duplicates,
        missing,
        first_missing,
        shards,
    })
}
