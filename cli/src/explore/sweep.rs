//! `dynsim sweep`: many seeds of a scenario, each with its own swarm fault
//! mix and workload, every checker run on each, results in seed order.
//!
//! A sweep keeps its memory proportional to `--jobs`, not to the seed range:
//! the seeds of a shard are computed from their index, never listed; workers
//! claim the next index but never run more than a window of seeds ahead of
//! the writer (`crate::parallel`); the writer appends each result to
//! `results.jsonl` as soon as every seed before it is written, and keeps only
//! running totals ([`Tally`]) for the summary. `--resume` reads the results
//! file back, skips the seeds it holds and appends the rest.

use crate::explore::swarm;
use crate::parallel::{IndexSet, stream};
use crate::runner;
use crate::scenario::Scenario;
use dynamo_observer::Outcome;
use dynamo_observer::Status;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

/// The dynsim version every result line records.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How many failed seeds a summary lists (all of them are in results.jsonl).
pub const FAILURES_SHOWN: usize = 20;

/// Which mechanisms a seed exercised.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Some node started holding a hint for another node.
    pub hinted_handoff: bool,
    /// Some hint was acknowledged by the node it was held for.
    pub hint_delivered: bool,
    /// Some coordinator sent a read repair to a stale replica.
    pub read_repair: bool,
    /// Anti-entropy repaired at least one key.
    pub anti_entropy_repair: bool,
    /// Some node passed a client request on to an owner.
    pub forwarding: bool,
    /// Some get returned more than one version.
    pub siblings: bool,
    /// Some client operation failed.
    pub failed_ops: bool,
    /// Some client operation timed out.
    pub client_timeouts: bool,
    /// Deletes issued (a base with `[swarm] deletes = true`); left out of
    /// the JSON when zero, so sweeps without deletes write what they did.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deletes: u64,
    /// Keys whose tombstones were purged, over all nodes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tombstones_purged: u64,
    /// Membership changes taken (joins and leaves the administrator asked for and a node took).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub membership_changes: u64,
    /// Keys offered to new owners after membership changes, over all nodes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keys_transferred: u64,
    /// Faults timed to protocol events that fired (the interleaving knobs' triggers).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub triggers_fired: u64,
    /// Replica requests a coordinator stopped waiting for (a late or lost answer), over all nodes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replica_timeouts: u64,
    /// Operations issued by the knobs' bursts on one key.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub burst_ops: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Coverage {
    fn flags(&self) -> [bool; 8] {
        [
            self.hinted_handoff,
            self.hint_delivered,
            self.read_repair,
            self.anti_entropy_repair,
            self.forwarding,
            self.siblings,
            self.failed_ops,
            self.client_timeouts,
        ]
    }
}

/// Which sweep a result belongs to: merge and resume refuse to mix sweeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// MD5 of the base scenario file's bytes, in hex (see [`digest`]).
    pub digest: String,
    /// The dynsim version that ran it.
    pub version: String,
    /// The sweep's seed range `A..B`, as `[A, B]`.
    pub range: [u64; 2],
    /// The shard `K/N` that ran it, as `[K, N]`.
    pub shard: [u64; 2],
}

impl Origin {
    /// A sweep of `range`, shard `shard`, of a file with `digest`, by this dynsim.
    pub fn new(digest: String, range: (u64, u64), shard: (u64, u64)) -> Origin {
        Origin {
            digest,
            version: VERSION.to_string(),
            range: [range.0, range.1],
            shard: [shard.0, shard.1],
        }
    }
}

/// One seed's outcome: one JSON line in `results.jsonl`. Deterministic (no wall time), so result files diff cleanly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    /// The seed that was run.
    pub seed: u64,
    /// True when nothing failed: no undeclared checker failure, no unmet expectation.
    pub ok: bool,
    /// What failed: checkers that failed without the scenario declaring it,
    /// expectations that did not hold, or why the drawn run could not be built.
    pub failed: Vec<String>,
    /// The first violation of the first failed checker.
    pub violation: Option<String>,
    /// Events the run simulated.
    pub events: u64,
    /// Client operations the run issued.
    pub ops: u64,
    /// The fault kinds the seed drew.
    pub faults: Vec<String>,
    /// Which mechanisms the run exercised.
    pub coverage: Coverage,
    /// The interleaving knobs the seed drew (slow node or message kind,
    /// bursts, triggers), as words; left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knobs: Vec<String>,
    /// The command that replays this seed with its full trace.
    pub replay: String,
    /// MD5 of the base scenario file's bytes (hex): which scenario ran.
    pub digest: String,
    /// The dynsim version that ran it.
    pub version: String,
    /// The whole sweep's seed range `[A, B)`, so `merge` knows which seeds to expect.
    pub range: [u64; 2],
    /// The shard `[K, N]` whose sweep ran this seed.
    pub shard: [u64; 2],
}

impl SeedResult {
    /// Which sweep the result belongs to.
    pub fn origin(&self) -> Origin {
        Origin {
            digest: self.digest.clone(),
            version: self.version.clone(),
            range: self.range,
            shard: self.shard,
        }
    }
}

/// A stable content digest of a scenario file: MD5 of its bytes, in hex.
pub fn digest(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Runs one seed of the sweep.
pub fn run_seed(s: &Scenario, file: &str, seed: u64, origin: &Origin) -> SeedResult {
    let plan = swarm::draw(s, seed);
    let variant = swarm::apply(s, &plan);
    let replay = format!("dynsim run {file} --seed {seed} --swarm --trace -");
    let faults = plan.kinds.iter().map(ToString::to_string).collect();
    let report = match runner::run(&variant, seed, false) {
        Ok(report) => report,
        // The drawn run asks something the cluster cannot do: a swarm bug,
        // shown as the seed's failure with the command that shows it again.
        Err(e) => {
            return SeedResult {
                seed,
                ok: false,
                failed: vec![format!("the drawn run cannot be built: {e}")],
                violation: None,
                events: 0,
                ops: 0,
                faults,
                coverage: Coverage::default(),
                knobs: plan.knobs.clone(),
                replay,
                digest: origin.digest.clone(),
                version: origin.version.clone(),
                range: origin.range,
                shard: origin.shard,
            };
        }
    };
    let mut failed = Vec::new();
    let mut violation = None;
    for v in &report.verdicts {
        let declared = report
            .expectations
            .iter()
            .any(|e| e.what.starts_with(&format!("checker {} ", v.checker)));
        if v.status == Status::Fail && !declared {
            failed.push(v.checker.to_string());
            if violation.is_none() {
                violation = v.violations.first().cloned();
            }
        }
    }
    for e in report.expectations.iter().filter(|e| !e.ok) {
        failed.push(e.what.clone());
    }
    let nodes = report.cluster.nodes();
    let h = report.cluster.history();
    let coverage = Coverage {
        hinted_handoff: nodes.iter().any(|n| n.stats.hints_created > 0),
        hint_delivered: nodes.iter().any(|n| n.stats.hints_delivered > 0),
        read_repair: nodes.iter().any(|n| n.stats.read_repairs > 0),
        anti_entropy_repair: nodes.iter().any(|n| n.stats.anti_entropy_keys_repaired > 0),
        forwarding: nodes.iter().any(|n| n.stats.forwarded > 0),
        siblings: h
            .iter()
            .any(|o| matches!(&o.outcome, Outcome::GetOk { versions, .. } if versions.len() > 1)),
        failed_ops: h
            .iter()
            .any(|o| matches!(o.outcome, Outcome::Failed { .. })),
        client_timeouts: h.iter().any(|o| o.outcome == Outcome::TimedOut),
        deletes: h
            .iter()
            .filter(|o| o.kind == dynamo_observer::OpKind::Delete)
            .count() as u64,
        tombstones_purged: nodes.iter().map(|n| n.stats.tombstones_purged).sum(),
        membership_changes: report
            .cluster
            .clients
            .admin
            .iter()
            .filter(|a| a.result.as_ref().is_some_and(|r| r.1))
            .count() as u64,
        keys_transferred: nodes.iter().map(|n| n.stats.keys_transferred).sum(),
        triggers_fired: report
            .cluster
            .clients
            .triggers()
            .iter()
            .filter(|t| t.fired.is_some())
            .count() as u64,
        replica_timeouts: nodes.iter().map(|n| n.stats.replica_timeouts).sum(),
        burst_ops: h
            .iter()
            .filter(|o| o.client.0 >= swarm::BURST_CLIENT && !o.generated)
            .count() as u64,
    };
    SeedResult {
        seed,
        ok: failed.is_empty(),
        failed,
        violation,
        events: report.cluster.sim.core.stats.events,
        ops: h.len() as u64,
        faults,
        coverage,
        knobs: plan.knobs.clone(),
        replay,
        digest: origin.digest.clone(),
        version: origin.version.clone(),
        range: origin.range,
        shard: origin.shard,
    }
}

/// The seeds of one shard of a range, by index: never listed, so a range of
/// any size costs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    /// The whole sweep's seed range `(A, B)`, B excluded.
    pub range: (u64, u64),
    /// The shard `(K, N)`, K from 0: every N-th seed of the range, from the K-th.
    pub shard: (u64, u64),
}

impl Seeds {
    /// How many seeds the shard holds.
    pub fn len(&self) -> u64 {
        let span = self.range.1.saturating_sub(self.range.0);
        if span <= self.shard.0 {
            0
        } else {
            (span - self.shard.0).div_ceil(self.shard.1)
        }
    }

    /// Whether the shard holds no seed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th seed of the shard (`i < len`).
    pub fn seed(&self, i: u64) -> u64 {
        self.range.0 + self.shard.0 + i * self.shard.1
    }

    /// Where `seed` stands in the shard, if it belongs to it.
    pub fn index(&self, seed: u64) -> Option<u64> {
        if seed < self.range.0 || seed >= self.range.1 {
            return None;
        }
        let d = seed - self.range.0;
        (d % self.shard.1 == self.shard.0).then(|| d / self.shard.1)
    }
}

/// Runs `seeds` on `jobs` threads and returns every result in seed order
/// (calling `each` with each as it comes). It keeps every result: for small
/// lists (tests, the web page); `dynsim sweep` streams with [`stream`].
pub fn run_seeds(
    s: &Scenario,
    file: &str,
    seeds: &[u64],
    jobs: usize,
    mut each: impl FnMut(&SeedResult),
) -> Vec<SeedResult> {
    let lo = seeds.iter().copied().min().unwrap_or(0);
    let hi = seeds.iter().copied().max().map_or(0, |m| m + 1);
    let origin = Origin::new(String::new(), (lo, hi), (0, 1));
    let mut out = Vec::with_capacity(seeds.len());
    stream(
        seeds.len() as u64,
        &IndexSet::default(),
        jobs.max(1),
        &|| false,
        &|i| run_seed(s, file, seeds[i as usize], &origin),
        |_, r| {
            each(&r);
            out.push(r);
        },
    );
    out
}

/// Parses `A..B` (B exclusive).
pub fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("--seeds {text:?}: expected A..B, like 0..500"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("--seeds {text:?}: {a:?} is not a whole number"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("--seeds {text:?}: {b:?} is not a whole number"))?;
    if b <= a {
        return Err(format!(
            "--seeds {text:?}: the range is empty; B must exceed A"
        ));
    }
    Ok((a, b))
}

/// Parses `K/N` (0 <= K < N).
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("--shard {text:?}: expected K/N, like 0/4"))?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("--shard {text:?}: {k:?} is not a whole number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("--shard {text:?}: {n:?} is not a whole number"))?;
    if n == 0 || k >= n {
        return Err(format!(
            "--shard {text:?}: K must be in 0..N (shards are numbered from 0)"
        ));
    }
    Ok((k, n))
}

/// The most worker threads a sweep accepts.
pub const MAX_JOBS: usize = 1024;

/// Parses `--jobs`: a whole number from 1 to [`MAX_JOBS`].
pub fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("a sweep needs at least one thread".into()),
        Ok(n) if n > MAX_JOBS => Err(format!("at most {MAX_JOBS} threads")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// The seeds of shard `k` of `n`: every n-th seed of the range, starting at
/// the k-th. Lists them: for tests and small ranges; sweeps use [`Seeds`].
pub fn shard_seeds(range: (u64, u64), shard: (u64, u64)) -> Vec<u64> {
    let seeds = Seeds { range, shard };
    (0..seeds.len()).map(|i| seeds.seed(i)).collect()
}

fn pct(n: u64, total: u64) -> String {
    if total == 0 {
        "0%".into()
    } else {
        format!("{:.0}%", 100.0 * n as f64 / total as f64)
    }
}

/// Running totals of a sweep's results, for its summary: a fixed size
/// whatever the number of seeds (it keeps the [`FAILURES_SHOWN`] failed
/// seeds with the smallest numbers, and counts the rest).
#[derive(Clone, Debug)]
pub struct Tally {
    /// Seeds counted.
    pub seeds: u64,
    /// Seeds that failed.
    pub failed: u64,
    per_checker: BTreeMap<String, u64>,
    /// Events simulated, over all seeds counted.
    pub events: u64,
    /// Client operations issued, over all seeds counted.
    pub ops: u64,
    coverage: [u64; 8],
    /// Seeds with deletes, deletes issued, seeds with a purge, tombstones purged.
    deletes: [u64; 4],
    /// Seeds with a membership change, changes taken, keys transferred.
    membership: [u64; 3],
    /// Seeds with a slow node, a slow kind, heavy duplicates, a burst, a
    /// trigger, a trigger that fired.
    knobs: [u64; 6],
    kinds: Vec<u64>,
    /// The failed seeds with the smallest numbers, in seed order.
    pub first_failures: Vec<SeedResult>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            seeds: 0,
            failed: 0,
            per_checker: dynamo_observer::CHECKERS
                .iter()
                .map(|c| (c.name.to_string(), 0))
                .collect(),
            events: 0,
            ops: 0,
            coverage: [0; 8],
            deletes: [0; 4],
            membership: [0; 3],
            knobs: [0; 6],
            kinds: vec![0; swarm::FAULT_KINDS.len()],
            first_failures: Vec::new(),
        }
    }
}

impl Tally {
    /// Counts one seed's result.
    pub fn add(&mut self, r: &SeedResult) {
        self.seeds += 1;
        self.events += r.events;
        self.ops += r.ops;
        for (n, on) in self.coverage.iter_mut().zip(r.coverage.flags()) {
            *n += u64::from(on);
        }
        let c = &r.coverage;
        self.deletes[0] += u64::from(c.deletes > 0);
        self.deletes[1] += c.deletes;
        self.deletes[2] += u64::from(c.tombstones_purged > 0);
        self.deletes[3] += c.tombstones_purged;
        self.membership[0] += u64::from(c.membership_changes > 0);
        self.membership[1] += c.membership_changes;
        self.membership[2] += c.keys_transferred;
        for (i, prefix) in ["slow node", "slow kind", "duplicates", "burst", "trigger"]
            .iter()
            .enumerate()
        {
            self.knobs[i] += u64::from(r.knobs.iter().any(|k| k.starts_with(prefix)));
        }
        self.knobs[5] += u64::from(c.triggers_fired > 0);
        for (n, k) in self.kinds.iter_mut().zip(swarm::FAULT_KINDS) {
            *n += u64::from(r.faults.iter().any(|f| f == k));
        }
        if r.ok {
            return;
        }
        self.failed += 1;
        for f in &r.failed {
            *self.per_checker.entry(f.clone()).or_insert(0) += 1;
        }
        let at = self.first_failures.partition_point(|x| x.seed < r.seed);
        if at < FAILURES_SHOWN {
            self.first_failures.insert(at, r.clone());
            self.first_failures.truncate(FAILURES_SHOWN);
        }
    }

    /// The summary: counts, coverage, fault kinds and the first failures
    /// (with the speed of the seeds run now, when known).
    pub fn render(&self, timing: Option<Timing>) -> String {
        let mut o = String::new();
        let total = self.seeds;
        let _ = writeln!(o, "seeds run: {total}, failed: {}", self.failed);
        let parts: Vec<String> = self
            .per_checker
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let _ = writeln!(o, "failures per checker: {}", parts.join(", "));
        let _ = writeln!(
            o,
            "simulated: {} events, {} client operations",
            self.events, self.ops
        );
        if let Some(t) = timing {
            let secs = t.secs.max(1e-9);
            let _ = writeln!(
                o,
                "speed: {:.2}s wall on {} thread(s): {:.1} seeds/s, {:.0} events/s",
                t.secs,
                t.threads,
                t.seeds as f64 / secs,
                t.events as f64 / secs
            );
        }
        let c = |i: usize| pct(self.coverage[i], total);
        let _ = writeln!(
            o,
            "coverage: hinted handoff used in {} of seeds (hints delivered in {}), read repair in {}, anti-entropy repaired keys in {}, forwarding in {}, siblings seen in {}, failed ops in {}, client timeouts in {}",
            c(0),
            c(1),
            c(2),
            c(3),
            c(4),
            c(5),
            c(6),
            c(7)
        );
        if self.knobs.iter().any(|&n| n > 0) {
            let _ = writeln!(
                o,
                "interleaving knobs: slow node in {} of seeds, slow message kind in {}, heavy duplicates in {}, bursts on one key in {}, triggers in {} (fired in {})",
                pct(self.knobs[0], total),
                pct(self.knobs[1], total),
                pct(self.knobs[2], total),
                pct(self.knobs[3], total),
                pct(self.knobs[4], total),
                pct(self.knobs[5], total)
            );
        }
        if self.deletes[0] > 0 {
            let _ = writeln!(
                o,
                "deletes: {} issued, in {} of seeds; tombstones purged: {}, in {} of seeds",
                self.deletes[1],
                pct(self.deletes[0], total),
                self.deletes[3],
                pct(self.deletes[2], total)
            );
        }
        if self.membership[0] > 0 {
            let _ = writeln!(
                o,
                "membership: {} joins and leaves taken, in {} of seeds; keys transferred to new owners: {}",
                self.membership[1],
                pct(self.membership[0], total),
                self.membership[2]
            );
        }
        let kinds: Vec<String> = swarm::FAULT_KINDS
            .iter()
            .zip(&self.kinds)
            .map(|(k, n)| format!("{k} {}", pct(*n, total)))
            .collect();
        let _ = writeln!(o, "fault kinds on: {}", kinds.join(", "));
        for r in &self.first_failures {
            let _ = writeln!(o, "FAILED seed {}: {}", r.seed, r.failed.join(", "));
            if let Some(v) = &r.violation {
                let _ = writeln!(o, "    {v}");
            }
            let _ = writeln!(o, "    replay: {}", r.replay);
        }
        let more = self.failed - self.first_failures.len() as u64;
        if more > 0 {
            let _ = writeln!(
                o,
                "... and {more} more failed seed(s), not listed here: every one is in results.jsonl"
            );
        }
        o
    }
}

/// How fast the seeds run in this process went.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Wall-clock seconds.
    pub secs: f64,
    /// Worker threads that ran them.
    pub threads: usize,
    /// Seeds run (not those a resumed sweep read back).
    pub seeds: u64,
    /// Events those seeds simulated.
    pub events: u64,
}

/// The sweep summary from a list of results.
pub fn summarize(results: &[SeedResult]) -> String {
    let mut t = Tally::default();
    for r in results {
        t.add(r);
    }
    t.render(None)
}

/// Reads a results file back for `--resume`: counts its seeds in `tally`
/// and `done`, checks that they belong to this sweep, and returns the length
/// of its whole lines (a line cut off by a kill is dropped) and whether the
/// last one lacks its newline.
pub fn read_previous(
    path: &Path,
    origin: &Origin,
    seeds: &Seeds,
    tally: &mut Tally,
    done: &mut IndexSet,
) -> Result<(u64, bool), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut r = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let (mut good, mut number) = (0u64, 0usize);
    let mut unterminated = false;
    let sweep_of = |o: &Origin| {
        format!(
            "--seeds {}..{} --shard {}/{}",
            o.range[0], o.range[1], o.shard[0], o.shard[1]
        )
    };
    loop {
        line.clear();
        let n = r
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        number += 1;
        let whole = line.ends_with(b"\n");
        if line.iter().all(u8::is_ascii_whitespace) {
            good += n as u64;
            continue;
        }
        let result = match serde_json::from_slice::<SeedResult>(&line) {
            Ok(x) => x,
            // A kill can cut the last line short: drop it, its seed runs again.
            Err(_) if !whole => break,
            Err(e) => {
                return Err(format!(
                    "{}:{number}: not a sweep result line: {e}",
                    path.display()
                ));
            }
        };
        let theirs = result.origin();
        if theirs.digest != origin.digest {
            return Err(format!(
                "{}:{number}: these results are of another scenario file (digest {}; the file now has {}); start a new sweep with another --out",
                path.display(),
                theirs.digest,
                origin.digest
            ));
        }
        if theirs.version != origin.version {
            return Err(format!(
                "{}:{number}: these results were made by dynsim {}, this is dynsim {}; results of two versions do not mix, so start a new sweep with another --out",
                path.display(),
                theirs.version,
                origin.version
            ));
        }
        if theirs.range != origin.range || theirs.shard != origin.shard {
            return Err(format!(
                "{}:{number}: these results are of the sweep {}; resume it with those options",
                path.display(),
                sweep_of(&theirs)
            ));
        }
        let Some(i) = seeds.index(result.seed) else {
            return Err(format!(
                "{}:{number}: seed {} is not in {}",
                path.display(),
                result.seed,
                sweep_of(origin)
            ));
        };
        if done.insert(i) {
            tally.add(&result);
        }
        good += n as u64;
        unterminated = !whole;
    }
    Ok((good, unterminated))
}

/// The default output directory of a sweep of `s`.
pub fn default_out(s: &Scenario) -> std::path::PathBuf {
    Path::new("sweep-out").join(&s.name)
}
