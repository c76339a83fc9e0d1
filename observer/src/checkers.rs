//! The checkers (an omniscient observer, never inside a node): pure
//! functions over the ground-truth history and the final node states.

use crate::history::{OpKind, OpRecord, Outcome};
use crate::invariants::Invariant;
use crate::placement;
use crate::truth::Truth;
use crate::verdict::{MAX_LISTED, Verdict};
use crate::world::World;
use dynamo_model::Versioning;
use dynamo_model::{Key, Ring};
use dynamo_model::{Version, same_versions};
use sim_core::{NodeId, SimTime};
use std::collections::BTreeMap;

/// One checker: its name in reports and scenario files, what it judges, and how it runs.
#[derive(Clone, Copy, Debug)]
pub struct Checker {
    /// The name reports, `[[expect]] checker = "..."` and `dynsim shrink` use.
    pub name: &'static str,
    /// What it judges, in a sentence.
    pub judges: &'static str,
    /// Whether it judges the state the run ends in (a run cut short may fail
    /// it for want of time), rather than each operation, message or ring as
    /// it comes (ending a run earlier only takes those away).
    pub final_state: bool,
    /// How it runs.
    pub runs: Runs,
}

/// How a checker runs.
#[derive(Clone, Copy, Debug)]
pub enum Runs {
    /// After the run, over the final node states and the whole history.
    AfterTheRun(fn(&World) -> Verdict),
    /// As the run goes, fed by the harness's hooks ([`Invariants`]); its
    /// findings are read after the run.
    AsTheRunGoes(Invariant),
}

/// Every checker, in report order: the one list of them.
pub const CHECKERS: &[Checker] = &[
    Checker {
        name: "no-lost-writes",
        judges: "every acknowledged write is still held by a live replica, or was superseded by one that is",
        final_state: true,
        runs: Runs::AfterTheRun(no_lost_writes),
    },
    Checker {
        name: "sound-gets",
        judges: "every successful get returns only versions that were written, none superseded by another it returns",
        final_state: false,
        runs: Runs::AfterTheRun(sound_gets),
    },
    Checker {
        name: "needless-siblings",
        judges: "no get returns two versions that ground truth orders (with exact clocks; counted as false conflicts once clocks are truncated)",
        final_state: false,
        runs: Runs::AfterTheRun(needless_siblings),
    },
    Checker {
        name: "convergence",
        judges: "after the last fault, the repair mechanisms that are on bring every replica to the same versions (or deliver every hint)",
        final_state: true,
        runs: Runs::AfterTheRun(convergence),
    },
    Checker {
        name: "distinct-preference-lists",
        judges: "every preference list names N distinct nodes, in every view the nodes end with",
        final_state: false,
        runs: Runs::AfterTheRun(distinct_preference_lists),
    },
    Checker {
        name: "quorum-reads",
        judges: "a get whose quorum overlaps an earlier acknowledged put's returns that put or a successor",
        final_state: false,
        runs: Runs::AfterTheRun(quorum_reads),
    },
    Checker {
        name: "no-resurrection",
        judges: "a deleted write does not come back: in a judged get, or on a replica once every tombstone of its delete is purged",
        final_state: true,
        runs: Runs::AfterTheRun(no_resurrection),
    },
    Checker {
        name: "write-quorum",
        judges: "when a put is acknowledged ok, W distinct nodes hold its version",
        final_state: false,
        runs: Runs::AsTheRunGoes(Invariant::WriteQuorum),
    },
    Checker {
        name: "read-quorum",
        judges: "when a get answers ok, it counted R distinct nodes whose replies really arrived",
        final_state: false,
        runs: Runs::AsTheRunGoes(Invariant::ReadQuorum),
    },
    Checker {
        name: "one-reply",
        judges: "a coordinator replies to a request at most once (never ok after failed)",
        final_state: false,
        runs: Runs::AsTheRunGoes(Invariant::OneReply),
    },
    Checker {
        name: "merge-on-transfer",
        judges: "after a read repair, hint handoff or anti-entropy transfer, the receiver's store covers what it received",
        final_state: false,
        runs: Runs::AsTheRunGoes(Invariant::MergeOnTransfer),
    },
    Checker {
        name: "membership-converges",
        judges: "once the run has settled, every live node holds the same membership history, and each node's ring is the one its history defines",
        final_state: true,
        runs: Runs::AfterTheRun(placement::membership_converges),
    },
    Checker {
        name: "placement-converges",
        judges: "once the run has settled, keys are held by their owners in the final ring only (elsewhere only as hints for a node that is down), and no node is still leaving",
        final_state: true,
        runs: Runs::AfterTheRun(placement::placement_converges),
    },
    Checker {
        name: "changes-complete",
        judges: "a join or leave made while the cluster is healthy completes within the settle time, while it stays healthy: every other node's view shows it",
        final_state: true,
        runs: Runs::AfterTheRun(placement::changes_complete),
    },
    Checker {
        name: "leave-hands-over",
        judges: "when a leaving node marks itself left, each owner of every key it held keeps that version (or a newer), or another node holds it as a hint for the owner",
        final_state: false,
        runs: Runs::AfterTheRun(placement::leave_hands_over),
    },
];

/// The checker of that name, if any.
pub fn checker(name: &str) -> Option<&'static Checker> {
    CHECKERS.iter().find(|c| c.name == name)
}

fn op_label(op: &OpRecord) -> String {
    format!("{}#{}", op.kind.name(), op.id)
}

fn version_list(vs: &[Version]) -> String {
    let parts: Vec<String> = vs.iter().map(ToString::to_string).collect();
    format!("{{{}}}", parts.join(" "))
}

/// No acknowledged write is lost: at the end, some live replica of the key
/// holds the put or a version that supersedes it (that every replica does
/// is the convergence checker's business). "Supersedes" is ground
/// truth ([`Truth`]), not the clocks' word: the version's writer had seen the
/// put through its context or, in last-write-wins mode, started after the put
/// was acknowledged.
pub(crate) fn no_lost_writes(w: &World) -> Verdict {
    let mut out = Vec::new();
    // A put an acknowledged delete has seen may be gone once the delete's
    // tombstones are purged: that is the delete doing its job. (Found by
    // `dynsim check` on scenarios/check/delete.toml: a put, then a delete
    // of it, both acknowledged, every tombstone purged; the put counted as
    // lost.) A delete itself is judged as any write: an empty store covers
    // it, a value it superseded coming back does not.
    let deleted_by_design = |ip: usize| {
        w.history[ip].kind == OpKind::Put
            && w.truth.deletes_of_key(ip).iter().any(|&d| {
                d != ip
                    && matches!(w.history[d].outcome, Outcome::PutOk { .. })
                    && w.truth.has_seen(d, ip)
            })
    };
    for (ip, p) in w
        .history
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind.is_write() && matches!(o.outcome, Outcome::PutOk { .. }))
    {
        if deleted_by_design(ip) {
            continue;
        }
        let Outcome::PutOk { clock, .. } = &p.outcome else {
            continue;
        };
        let mut lost_on = Vec::new();
        let mut kept = false;
        let mut live = 0;
        for &node in w.ring.preference_list(&p.key, w.cfg.n as usize) {
            if !w.up[node.index()] {
                continue;
            }
            live += 1;
            let held = w.nodes[node.index()].versions(&p.key);
            if w.truth.covers(held, p, w.cfg.versioning) {
                kept = true;
            } else {
                lost_on.push(format!("{node} holds {}", version_list(held)));
            }
        }
        // Lost means gone from every live replica; missing from only some is a convergence problem.
        if !kept && live > 0 {
            let Outcome::PutOk { stamp, .. } = &p.outcome else {
                continue;
            };
            let written = Version {
                dot: None,
                value: p.value.clone().unwrap_or_default(),
                clock: clock.clone(),
                stamp: *stamp,
                write: p.id,
            };
            out.push(format!(
                "key {}: {} wrote {written}, acknowledged at {}, and it is lost: {}",
                p.key,
                op_label(p),
                p.end.expect("acknowledged"),
                lost_on.join("; ")
            ));
        }
    }
    Verdict::from_violations("no-lost-writes", out)
}

/// Gets are sound, judged by ground truth alone (never by the clocks under
/// test): every returned version was written by a put of this key with that
/// value, no write is returned twice, and last-write-wins returns one version.
/// Versions that are causally ordered in truth are [`needless_siblings`]' business.
pub(crate) fn sound_gets(w: &World) -> Verdict {
    let mut out = Vec::new();
    for g in w.history.iter().filter(|o| o.kind == OpKind::Get) {
        let Outcome::GetOk { versions, .. } = &g.outcome else {
            continue;
        };
        // For each version, the next one that is the same write (sorted, so
        // O(V log V) a get: a blind-put get may return thousands of siblings).
        let mut order: Vec<usize> = (0..versions.len()).collect();
        order.sort_by_key(|&i| (versions[i].write, versions[i].dot, versions[i].stamp, i));
        let mut next_same = vec![None; versions.len()];
        for pair in order.windows(2) {
            let (a, b) = (&versions[pair[0]], &versions[pair[1]]);
            if a.write == b.write && a.dot == b.dot && a.stamp == b.stamp {
                next_same[pair[0]] = Some(pair[1]);
            }
        }
        for (i, a) in versions.iter().enumerate() {
            let writer = w.history.get((a.write as usize).wrapping_sub(1));
            let real = writer.is_some_and(|p| {
                p.id == a.write
                    && p.key == g.key
                    && match p.kind {
                        OpKind::Put => !a.is_deleted() && p.value.as_deref() == Some(&*a.value),
                        OpKind::Delete => a.is_deleted(),
                        OpKind::Get => false,
                    }
            });
            if !real {
                out.push(format!(
                    "key {}: {} returned {a}, which no put of this key wrote",
                    g.key,
                    op_label(g)
                ));
            }
            // The same write twice (not two coordinations of one put, which
            // carry different dots) is one version handed back as two.
            if let Some(b) = next_same[i].map(|j| &versions[j]) {
                out.push(format!(
                    "key {}: {} returned the same write twice: {a} and {b}",
                    g.key,
                    op_label(g)
                ));
            }
        }
        if w.cfg.versioning == Versioning::LastWriteWins && versions.len() > 1 {
            out.push(format!(
                "key {}: {} returned {} versions in last-write-wins mode",
                g.key,
                op_label(g),
                versions.len()
            ));
        }
    }
    Verdict::from_violations("sound-gets", out)
}

/// Every needless sibling: a pair of versions one get returned where, in
/// ground truth, the writer of one had causally seen the other, so the newer
/// should have superseded the older. Each entry names the get and both versions.
///
/// A put coordinated twice (a duplicated or retried forward) writes two
/// versions with different dots; a later put that saw one of them has not
/// seen the other, though truth, which knows puts and not versions, says it
/// has. Pairs whose older put shows more than one dot anywhere in the history
/// are therefore left out.
pub fn needless_sibling_pairs(w: &World) -> Vec<String> {
    let mut out = Vec::new();
    if w.cfg.versioning != Versioning::VectorClock {
        return out;
    }
    // Every dot each write was seen with, gathered only once a pair needs it
    // (most runs have none, and gathering is a map entry per write).
    let mut dots: Option<BTreeMap<u64, Vec<dynamo_model::Dot>>> = None;
    let mut twice = |write: u64| {
        let dots = dots.get_or_insert_with(|| {
            let mut dots: BTreeMap<u64, Vec<dynamo_model::Dot>> = BTreeMap::new();
            for g in w.history {
                if let Outcome::GetOk { versions, .. } = &g.outcome {
                    for v in versions {
                        let seen = dots.entry(v.write).or_default();
                        if let Some(d) = v.dot.filter(|d| !seen.contains(d)) {
                            seen.push(d);
                        }
                    }
                }
            }
            dots
        });
        dots.get(&write).is_some_and(|d| d.len() > 1)
    };
    let index = |id: u64| {
        (id as usize)
            .checked_sub(1)
            .filter(|&i| w.history.get(i).is_some_and(|o| o.id == id))
    };
    for g in w.history.iter().filter(|o| o.kind == OpKind::Get) {
        let Outcome::GetOk { versions, .. } = &g.outcome else {
            continue;
        };
        for (i, j) in related_pairs(w.truth, versions, &index) {
            let (a, b) = (&versions[i], &versions[j]);
            {
                let (Some(ia), Some(ib)) = (index(a.write), index(b.write)) else {
                    continue;
                };
                if ia == ib {
                    continue;
                }
                let (old, new) = if w.truth.has_seen(ib, ia) {
                    (a, b)
                } else if w.truth.has_seen(ia, ib) {
                    (b, a)
                } else {
                    continue;
                };
                if twice(old.write) {
                    continue;
                }
                out.push(format!(
                    "key {}: {} returned {old} and {new} as siblings, but put#{} had seen put#{}",
                    g.key,
                    op_label(g),
                    new.write,
                    old.write
                ));
            }
        }
    }
    out
}

/// The pairs (i, j), i < j, of a get's versions worth judging for needless
/// siblings, in order: every pair, or, when a get returned many siblings,
/// only the pairs where one version's put has seen the other's in truth.
///
/// Judging every pair costs V² per get, which made blind-put loads (where
/// versions pile up) cubic in the operation count. The filtered form asks,
/// for each version, which of the get's put ordinals its put has seen, one
/// walk of its seen set's tree ([`Truth::seen_among`]): about V x depth x log V.
/// It yields every pair the full scan would act on, since a pair is acted on
/// only when one put has seen the other.
pub(crate) fn related_pairs(
    truth: &Truth,
    versions: &[Version],
    index: &dyn Fn(u64) -> Option<usize>,
) -> Vec<(usize, usize)> {
    let all = || {
        (0..versions.len())
            .flat_map(|i| (i + 1..versions.len()).map(move |j| (i, j)))
            .collect()
    };
    if versions.len() < 16 {
        return all();
    }
    let puts: Vec<Option<(usize, usize)>> = versions
        .iter()
        .map(|v| index(v.write).and_then(|h| truth.put_ordinal(h)))
        .collect();
    // Seen sets are per key: the filter applies only when every version is a put of one key.
    let Some(Some((key, _))) = puts.first().copied() else {
        return all();
    };
    if puts.iter().any(|p| !matches!(p, Some((k, _)) if *k == key)) {
        return all();
    }
    // Which of the get's versions each put ordinal of the key stands for.
    let mut at: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, p) in puts.iter().enumerate() {
        if let Some((_, o)) = *p {
            at.entry(o).or_default().push(i);
        }
    }
    let ordinals: Vec<usize> = at.keys().copied().collect();
    let mut pairs = Vec::new();
    for (j, v) in versions.iter().enumerate() {
        let Some(h) = index(v.write) else { continue };
        for o in truth.seen_among(h, &ordinals) {
            for &i in &at[&o] {
                if i != j {
                    pairs.push((i.min(j), i.max(j)));
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// Needless siblings ([`needless_sibling_pairs`]). With exact clocks every
/// one is a violation. Once truncation has dropped a clock entry, ordered
/// versions may rightly look concurrent: the pairs are false conflicts, counted
/// in the summary, and the checker does not apply.
pub(crate) fn needless_siblings(w: &World) -> Verdict {
    let name = "needless-siblings";
    if w.cfg.versioning != Versioning::VectorClock {
        return Verdict::skipped(name, "last-write-wins keeps no siblings");
    }
    let pairs = needless_sibling_pairs(w);
    let truncations: u64 = w.nodes.iter().map(|n| n.stats.clock_truncations).sum();
    if truncations > 0 {
        return Verdict::skipped(
            name,
            format!(
                "clocks were truncated {truncations} time(s); {} false conflict(s) counted",
                pairs.len()
            ),
        );
    }
    Verdict::from_violations(name, pairs)
}

/// Convergence, with the promise fitted to the repair mechanisms that are on,
/// so that a broken repair path shows even where another path would hide it:
///
/// - **every key** (no fault happened, or anti-entropy is on, or no repair
///   mechanism is on at all): all live replicas of every key hold the same
///   version set, and no live node holds a hint for a live node. With no
///   mechanism on this is not promised under faults, and a failure is the
///   expected finding: `negative/never_converges.toml` and `sweep/no_repair.toml`
///   are that broken configuration on purpose.
/// - **hinted handoff without anti-entropy**: every hint the harness saw a
///   fallback take reached its target, which holds the hinted version or one
///   that supersedes it in ground truth, and no live node holds a hint for a
///   live node. Hints whose holder or target lost its disk after the hint was
///   taken are left out (the hint or the delivered version went with the
///   disk), and so is the version check once clocks were truncated.
/// - **read repair alone**: every key read, after the last fault plus one op
///   deadline, by a get that heard all N of its replicas (and written by no
///   put started after that get's deadline before it) has replicas that agree:
///   the get's read repair sent every stale replica the reconciled set, and
///   nothing else writes. The swarm's quiet phase reads every key for this.
///
/// A pass under a fitted promise says which one it judged, how much, and
/// whether every key converged as well.
pub(crate) fn convergence(w: &World) -> Verdict {
    let fitted = w.faults && !w.cfg.anti_entropy && (w.cfg.read_repair || w.cfg.hinted_handoff);
    if !fitted {
        return full_convergence(w);
    }
    let mut v = if w.cfg.hinted_handoff {
        handoff_promise(w)
    } else {
        read_repair_promise(w)
    };
    if !v.failed() {
        // Say whether the stronger promise held too, so a pass that judged little is not mistaken for more.
        let every = if full_convergence(w).failed() {
            "not every key converged, which it does not promise"
        } else {
            "every key converged too"
        };
        v.note = v.note.map(|n| format!("{n}; {every}"));
    }
    v
}

/// Hints that wait for a live target, as violations.
fn pending_hints(w: &World, out: &mut Vec<String>) {
    for n in w.nodes.iter().filter(|n| w.up[n.id().index()]) {
        // A hint for a node that is still down is rightly pending.
        for ((target, key), h) in n.hints().iter().filter(|((t, _), _)| w.up[t.index()]) {
            out.push(format!(
                "{} still holds a hint for {target}: key {key} {}",
                n.id(),
                version_list(&h.versions)
            ));
        }
    }
}

/// The hinted-handoff promise (see [`convergence`]).
fn handoff_promise(w: &World) -> Verdict {
    let mut out = Vec::new();
    let truncated = w.nodes.iter().any(|n| n.stats.clock_truncations > 0);
    let mut judged = 0;
    for h in w.invariants.hints_made() {
        if truncated || !w.up[h.target.index()] {
            continue;
        }
        let lost_disk = w
            .wipes
            .iter()
            .any(|&(t, n)| (n == h.holder || n == h.target) && t >= h.at);
        let put = w.history.get((h.version.write as usize).wrapping_sub(1));
        let Some(p) = put.filter(|p| p.id == h.version.write && !lost_disk) else {
            continue;
        };
        judged += 1;
        // A violation unless node `o` holds the hinted version (or a newer one).
        let missed = |o: NodeId, who: &str, out: &mut Vec<String>| {
            let held = w.nodes[o.index()].versions(&h.key);
            if !w.truth.covers(held, p, w.cfg.versioning) {
                out.push(format!(
                    "key {}: {} took a hint for {} at {} carrying {}{who} holds {} (hinted handoff is the only repair on)",
                    h.key,
                    h.holder,
                    h.target,
                    h.at,
                    h.version,
                    version_list(held)
                ));
            }
        };
        let owners = w.ring.preference_list(&h.key, w.cfg.n as usize);
        if !owners.contains(&h.target) {
            // The target owns the key no longer: it handed the key on to the
            // owners of the final ring, each of which must have it now. The
            // key may have passed through other nodes on its way, so a disk
            // wipe anywhere since the hint leaves nothing to judge.
            if w.wipes.iter().any(|&(t, _)| t >= h.at) {
                continue;
            }
            for &o in owners.iter().filter(|&&o| w.up[o.index()]) {
                let moved = format!(
                    "; {} owns the key no longer, and at the end its owner {o}",
                    h.target
                );
                missed(o, &moved, &mut out);
            }
            continue;
        }
        missed(
            h.target,
            &format!(", and at the end {}", h.target),
            &mut out,
        );
    }
    pending_hints(w, &mut out);
    let mut v = Verdict::from_violations("convergence", out);
    v.note = Some(format!(
        "hinted handoff without anti-entropy: {judged} hint(s) reached their targets, none waiting for a live node"
    ));
    v
}

/// The read-repair promise (see [`convergence`]).
fn read_repair_promise(w: &World) -> Verdict {
    let mut out = Vec::new();
    let n = w.cfg.n as usize;
    let mut last: BTreeMap<&Key, &OpRecord> = BTreeMap::new();
    if let Some(quiet) = w.quiet_from {
        let from = quiet + w.cfg.op_deadline;
        for g in w.history.iter().filter(|o| {
            o.kind == OpKind::Get && o.outcome.is_ok() && o.start.is_some_and(|s| s >= from)
        }) {
            let [q] = w.invariants.quorums(g.id) else {
                continue;
            };
            let top = w.ring.preference_list(&g.key, n);
            if top.iter().all(|t| q.nodes.contains(t) && w.up[t.index()])
                && last.get(&g.key).is_none_or(|l| l.start < g.start)
            {
                last.insert(&g.key, g);
            }
        }
    }
    let mut judged = 0;
    for (key, g) in last {
        let start = g.start.expect("issued");
        let written_after = w.history.iter().any(|p| {
            p.kind.is_write()
                && &p.key == key
                && p.start.is_some_and(|s| s + w.cfg.op_deadline >= start)
        });
        if written_after {
            continue;
        }
        judged += 1;
        let top = w.ring.preference_list(key, n);
        let base = w.nodes[top[0].index()].versions(key);
        for &other in &top[1..] {
            let theirs = w.nodes[other.index()].versions(key);
            if !same_versions(base, theirs) {
                out.push(format!(
                    "key {key}: {} heard all {n} replicas after the last fault, yet its read repair left them disagreeing: {} holds {}, {other} holds {}",
                    op_label(g),
                    top[0],
                    version_list(base),
                    version_list(theirs)
                ));
            }
        }
    }
    let mut v = Verdict::from_violations("convergence", out);
    v.note = Some(format!(
        "read repair alone: {judged} key(s) read from all {n} replicas after the last fault agree"
    ));
    v
}

/// Convergence of every key (see [`convergence`]).
fn full_convergence(w: &World) -> Verdict {
    let mut out = Vec::new();
    let mut keys: BTreeMap<&Key, ()> = BTreeMap::new();
    for n in w.nodes {
        for k in n.store().keys() {
            keys.insert(k, ());
        }
        for (_, k) in n.hints().keys() {
            keys.insert(k, ());
        }
    }
    for key in keys.keys() {
        let replicas: Vec<NodeId> = w
            .ring
            .preference_list(key, w.cfg.n as usize)
            .iter()
            .copied()
            .filter(|n| w.up[n.index()])
            .collect();
        let Some(&first) = replicas.first() else {
            continue;
        };
        let base = w.nodes[first.index()].versions(key);
        for &other in &replicas[1..] {
            let theirs = w.nodes[other.index()].versions(key);
            if !same_versions(base, theirs) {
                out.push(format!(
                    "key {key}: replicas disagree: {first} holds {}, {other} holds {}",
                    version_list(base),
                    version_list(theirs)
                ));
            }
        }
    }
    pending_hints(w, &mut out);
    Verdict::from_violations("convergence", out)
}

/// Preference lists never name a node twice.
pub(crate) fn distinct_preference_lists(w: &World) -> Verdict {
    let mut out = Vec::new();
    // The final ring, then each distinct view a node holds at the end (after
    // membership changes nodes build rings of their own).
    let mut rings: Vec<(String, &Ring)> = vec![(String::new(), w.ring)];
    let mut seen: Vec<&[dynamo_model::Member]> = Vec::new();
    for n in w.nodes {
        if n.stats.membership_changes > 0 && !seen.contains(&n.members()) {
            seen.push(n.members());
            rings.push((format!("{}'s view, ", n.id()), n.ring()));
        }
    }
    for (view, ring) in rings {
        for r in 0..ring.range_count() {
            let list = ring.range_replicas(r, w.cfg.n as usize);
            for (i, a) in list.iter().enumerate() {
                if list[i + 1..].contains(a) {
                    out.push(format!(
                        "{view}range {r}: preference list [{}] names {a} twice",
                        list.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                }
            }
        }
    }
    Verdict::from_violations("distinct-preference-lists", out)
}

/// quorum-reads: a get sees every put acknowledged before it started, when
/// its quorum and the put's must have met.
///
/// - Without faults (or with `[checks] quorum_reads = "always"`), and R + W > N:
///   every ok get must return every put acknowledged before it was issued, or a
///   version that supersedes it in ground truth.
/// - With faults, each (get G, acknowledged put P of its key) pair is judged on
///   its own, by what the harness *observed* ([`crate::invariants::Quorum`]): if some node S
///   of the key's top N acknowledged P (its ack was delivered to a coordination of
///   P that then replied ok, before G was issued) and answered G (its answer was
///   delivered to G's coordinator, which counted it), G must return P or a
///   version whose writer had seen P. S stored P in its store (a top-N node
///   stores, never hints, what it is sent) before G was issued, so it read P or
///   something that superseded it for G, and the coordinator's reconciliation
///   may drop P only for a successor. With a strict quorum (every acking and
///   answering node in the top N, as hinted handoff off guarantees) and R + W > N,
///   such an S always exists: this is the classic quorum-intersection argument,
///   applied only where the run shows its premise held.
///
///   What else may rightly make G miss P, and how it is left out: S lost its disk
///   between P's issue and G's reply (a wipe then, on S, drops the pair); a get
///   coordinated twice (two replies, the client kept one: the get is left out);
///   truncated clocks (a store may drop a version whose truncated successor only
///   looks newer: the checker does not apply); last-write-wins (a concurrent
///   put with a later stamp rightly replaces P: with faults, the checker does not
///   apply). Pauses, duplicated and delayed messages change nothing: only
///   delivered messages count, and a late duplicate ack is of the same version.
///   A coordinator that names nodes it never heard is read-quorum's catch, and
///   one that acks too early is write-quorum's.
pub(crate) fn quorum_reads(w: &World) -> Verdict {
    let name = "quorum-reads";
    if w.always_judge_reads {
        // Judged regardless of quorum sizes and faults.
    } else if w.cfg.r + w.cfg.w <= w.cfg.n {
        return Verdict::skipped(
            name,
            format!(
                "R + W = {} does not exceed N = {}",
                w.cfg.r + w.cfg.w,
                w.cfg.n
            ),
        );
    }
    let per_get = w.faults && !w.always_judge_reads;
    if per_get {
        if w.cfg.versioning == Versioning::LastWriteWins {
            return Verdict::skipped(
                name,
                "faults happened, and in last-write-wins a later-stamped concurrent put may rightly replace an acknowledged one",
            );
        }
        let truncations: u64 = w.nodes.iter().map(|n| n.stats.clock_truncations).sum();
        if truncations > 0 {
            return Verdict::skipped(
                name,
                format!("faults happened, and clocks were truncated {truncations} time(s)"),
            );
        }
    }
    // Only the acknowledged puts a get has not seen in truth can be missing
    // from what it returned (a seen put is covered), so only those are judged,
    // as the walk meets each get: cost per get grows with what it missed, not
    // with the puts of its key. In last-write-wins, a put acknowledged before
    // the newest returned version's writer started is covered too, so only
    // later ones are listed (losers of concurrent writes pile up otherwise:
    // a million operations took 9 GB). Violations are kept as (get, put,
    // shared nodes) and only the first few are put into words.
    let lww = w.cfg.versioning == Versioning::LastWriteWins;
    let mut found: Vec<(usize, usize, Vec<NodeId>)> = Vec::new();
    w.truth.behind(|b| {
        if b.unseen == 0 {
            return;
        }
        let g = &w.history[b.get];
        let Outcome::GetOk { versions, .. } = &g.outcome else {
            return;
        };
        let (Some(start), Some(end)) = (g.start, g.end) else {
            return;
        };
        let top = w.ring.preference_list(&g.key, w.cfg.n as usize);
        let Some(answered) = answered_by(w, g, per_get) else {
            return;
        };
        let puts = if lww {
            let newest_writer = versions
                .iter()
                .filter_map(|v| w.history.get((v.write as usize).wrapping_sub(1)))
                .filter_map(|p| p.start)
                .max();
            // Covered: acknowledged strictly before that writer started.
            b.unseen_puts_since(newest_writer.unwrap_or(SimTime::ZERO))
        } else {
            b.unseen_puts()
        };
        for pi in puts {
            let p = &w.history[pi];
            let shared = if per_get {
                let shared = shared_nodes(w, p, top, answered, start, end);
                if shared.is_empty() {
                    continue;
                }
                shared
            } else {
                Vec::new()
            };
            if !w.truth.covers(versions, p, w.cfg.versioning) {
                found.push((b.get, pi, shared));
            }
        }
    });
    found.sort_unstable_by_key(|&(g, p, _)| (g, p));
    let listed = found
        .iter()
        .take(MAX_LISTED)
        .map(|(gi, pi, shared)| {
            let (g, p) = (&w.history[*gi], &w.history[*pi]);
            let Outcome::GetOk { versions, .. } = &g.outcome else {
                unreachable!("only ok gets are judged")
            };
            let via = if per_get {
                let names: Vec<String> = shared.iter().map(ToString::to_string).collect();
                format!(
                    " (both quorums included {}, which acknowledged the put and answered the get)",
                    names.join(" ")
                )
            } else {
                String::new()
            };
            format!(
                "key {}: {} started at {} and missed {} acknowledged at {}{via}; it returned {}",
                g.key,
                op_label(g),
                g.start.expect("judged gets started"),
                op_label(p),
                p.end.expect("acknowledged"),
                version_list(versions)
            )
        })
        .collect();
    Verdict::counted(name, listed, found.len())
}

/// The nodes whose answers made get `g`'s quorum, as the run observed them;
/// `None` when the get is not judged: with faults (`per_get`), a get
/// coordinated more than once (or never answered by a quorum).
fn answered_by<'w>(w: &'w World, g: &OpRecord, per_get: bool) -> Option<&'w [NodeId]> {
    match w.invariants.quorums(g.id) {
        [one] => Some(&one.nodes),
        _ if per_get => None,
        _ => Some(&[]),
    }
}

/// The nodes of the key's top N (`top`) that acknowledged write `p` to a
/// coordination that replied ok before a get started (at `start`) and that
/// answered the get (`answered`), and kept their disk from `p`'s issue to the
/// get's end (`end`): where the two quorums met, as the run observed it.
fn shared_nodes(
    w: &World,
    p: &OpRecord,
    top: &[NodeId],
    answered: &[NodeId],
    start: SimTime,
    end: SimTime,
) -> Vec<NodeId> {
    let mut shared: Vec<NodeId> = Vec::new();
    for q in w.invariants.quorums(p.id).iter().filter(|q| q.at < start) {
        for &s in &q.nodes {
            // From the put's issue: S may lose its disk after acking, before the coordinator replies.
            let wiped = w
                .wipes
                .iter()
                .any(|&(t, n)| n == s && p.start.is_some_and(|ps| t >= ps) && t <= end);
            // A node that held the key as a hint, or handed it to new owners
            // after a membership change, may rightly answer with nothing a get
            // whose coordinator's view has it as an owner.
            let handed_off = w.nodes[s.index()].moved_key(&p.key);
            if top.contains(&s)
                && answered.contains(&s)
                && !wiped
                && !handed_off
                && !shared.contains(&s)
            {
                shared.push(s);
            }
        }
    }
    shared.sort();
    shared
}

/// no-resurrection: a deleted value does not come back. Judged by ground
/// truth ([`Truth::deleted`]): delete D deleted write P's version when D had
/// (causally) seen P (and, for a write coordinated twice, whose versions are
/// siblings, when D's context came from a get that returned that version);
/// P's value then returning can only be P itself, since no write after D
/// wrote it (values name their write). Two ways to see it:
///
/// - **A get returns it**: an ok get, issued after D was acknowledged,
///   returns P live. Judged where quorum-reads judges (R + W > N, or `[checks]
///   quorum_reads = "always"`; with faults, only when a node of the key's top
///   N acknowledged D and answered the get), since elsewhere a get may rightly
///   miss D and read a stale P.
/// - **It is bound to come back**: at the end, no live replica holds D's
///   tombstone or anything that had seen D (every tombstone was purged), yet a
///   live replica still holds P: repair will spread P again. This needs no
///   quorum argument: it is the hazard of a tombstone grace period shorter
///   than the time a replica can miss a delete. With hinted handoff the only
///   repair on, only replicas the delete reached (they acknowledged it for
///   themselves, not as a fallback, or a fallback that kept its disk took a
///   hint of it for them) are judged: nothing promises the others the
///   tombstone. And such a delete is judged only if no membership change was
///   under way from its start on: a node the delete never reached hands the
///   value on to a key's new owners, reached ones among them.
pub(crate) fn no_resurrection(w: &World) -> Verdict {
    let name = "no-resurrection";
    let deletes: Vec<usize> = (0..w.history.len())
        .filter(|&i| w.history[i].kind == OpKind::Delete)
        .collect();
    if deletes.is_empty() {
        return Verdict::skipped(name, "no deletes were issued");
    }
    let mut out = Vec::new();
    let index = |id: u64| {
        let i = (id as usize).checked_sub(1)?;
        (w.history.get(i)?.id == id).then_some(i)
    };
    let acked = |d: usize| matches!(w.history[d].outcome, Outcome::PutOk { .. });
    let judged = w.always_judge_reads || w.cfg.r + w.cfg.w > w.cfg.n;
    let per_get = w.faults && !w.always_judge_reads;
    let truncated = w.nodes.iter().any(|n| n.stats.clock_truncations > 0);
    if judged && !(per_get && (truncated || w.cfg.versioning == Versioning::LastWriteWins)) {
        for (gi, g) in w.history.iter().enumerate() {
            let (Outcome::GetOk { versions, .. }, Some(start), Some(end)) =
                (&g.outcome, g.start, g.end)
            else {
                continue;
            };
            let top = w.ring.preference_list(&g.key, w.cfg.n as usize);
            let Some(answered) = answered_by(w, g, per_get) else {
                continue;
            };
            for v in versions.iter().filter(|v| !v.is_deleted()) {
                let Some(pi) = index(v.write) else { continue };
                for &d in w.truth.deletes_of_key(gi) {
                    let dr = &w.history[d];
                    if !acked(d) || dr.end.is_none_or(|e| e >= start) || !w.truth.deleted(d, v) {
                        continue;
                    }
                    if per_get && shared_nodes(w, dr, top, answered, start, end).is_empty() {
                        continue;
                    }
                    out.push(format!(
                        "key {}: {} returned {v}, written by {}, which {} deleted (acknowledged at {}); no write after the delete wrote it",
                        g.key,
                        op_label(g),
                        op_label(&w.history[pi]),
                        op_label(dr),
                        dr.end.expect("acknowledged")
                    ));
                }
            }
        }
    }
    // The final state: a deleted value left on a live replica after every tombstone is gone.
    let mut keys: BTreeMap<&Key, Vec<usize>> = BTreeMap::new();
    for &d in &deletes {
        if acked(d) {
            keys.entry(&w.history[d].key).or_default().push(d);
        }
    }
    for (key, ds) in keys {
        let replicas = w.ring.preference_list(key, w.cfg.n as usize);
        let live: Vec<NodeId> = (0..w.nodes.len() as u32)
            .map(NodeId)
            .filter(|n| w.up[n.index()])
            .collect();
        let held = |n: NodeId| -> Vec<&Version> {
            let node = &w.nodes[n.index()];
            node.versions(key)
                .iter()
                .chain(
                    node.hints()
                        .iter()
                        .filter(|((_, k), _)| k == key)
                        .flat_map(|(_, h)| &h.versions),
                )
                .collect()
        };
        for d in ds {
            let tombstone_left = live.iter().any(|&n| {
                held(n)
                    .iter()
                    .any(|v| index(v.write).is_some_and(|x| x == d || w.truth.has_seen(x, d)))
            });
            if tombstone_left {
                continue;
            }
            // With hinted handoff the only repair, nothing brings the
            // tombstone to a replica that neither acknowledged the delete nor
            // had a hint of it taken for it (no fallback was left): such a
            // replica may rightly keep the value, and only those are judged.
            let handoff_alone = !w.cfg.anti_entropy && !w.cfg.read_repair;
            // Nor does anything bring it to a node that takes the key over in
            // a membership change: one the delete never reached hands the
            // value on to the new owners (reached ones among them, once they
            // purge), so with handoff alone a delete is judged only when no
            // change was under way from its start on.
            let since = w.history[d].start.unwrap_or(SimTime::ZERO);
            if handoff_alone
                && w.invariants
                    .changes()
                    .changes()
                    .iter()
                    .any(|c| c.done.is_none_or(|t| t >= since))
            {
                continue;
            }
            let reached = |n: NodeId| {
                let id = w.history[d].id;
                let hints = w.invariants.hints_made();
                // An ack for itself, not as a fallback holding a hint for
                // another, by a node that kept its disk since.
                let acked_as_replica = w
                    .invariants
                    .quorums(id)
                    .iter()
                    .any(|q| q.nodes.contains(&n))
                    && !hints.iter().any(|h| h.version.write == id && h.holder == n)
                    && !w.wipes.iter().any(|&(t, x)| x == n && t >= since);
                acked_as_replica
                    || hints.iter().any(|h| {
                        // A hint whose holder lost its disk before delivering it reached no one.
                        h.version.write == id
                            && h.target == n
                            && !w.wipes.iter().any(|&(t, x)| x == h.holder && t >= h.at)
                    })
            };
            for &n in replicas
                .iter()
                .filter(|&&n| w.up[n.index()] && (!handoff_alone || reached(n)))
            {
                for v in w.nodes[n.index()].versions(key) {
                    let Some(pi) = index(v.write) else { continue };
                    if !v.is_deleted() && w.truth.deleted(d, v) {
                        out.push(format!(
                            "key {key}: {n} still holds {v}, written by {}, which {} deleted (acknowledged at {}); no live node holds the delete's tombstone any more (purged after {}), so repair spreads the value again",
                            op_label(&w.history[pi]),
                            op_label(&w.history[d]),
                            w.history[d].end.expect("acknowledged"),
                            w.cfg.tombstone_grace
                        ));
                    }
                }
            }
        }
    }
    Verdict::from_violations(name, out)
}

/// Runs every checker, in [`CHECKERS`] order.
pub fn check_all(w: &World) -> Vec<Verdict> {
    CHECKERS
        .iter()
        .map(|c| match c.runs {
            Runs::AfterTheRun(check) => check(w),
            Runs::AsTheRunGoes(which) => w.invariants.verdict(which, c.name),
        })
        .collect()
}
