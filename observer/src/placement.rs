//! Membership and placement, judged from outside: what the observer saw of
//! each join and leave as the run went ([`ChangeLog`], fed by the
//! invariants' hooks), and the four checkers of where views, rings and keys
//! end up.
//!
//! - **membership-converges**: once the run has settled, every live node
//!   holds the same membership history, and each node's ring is the ring that
//!   its history defines (re-derived here from the history, not taken from
//!   the node's code).
//! - **placement-converges**: once the run has settled, no live node stores
//!   a key it does not own in the final ring; a hint waits only for a node
//!   that is down; every key some node holds is held by one of its live
//!   owners; with anti-entropy on, by every live owner; and no live node is
//!   still leaving.
//! - **changes-complete**: a join or leave announced while the
//!   cluster is healthy (every node up, no partition, loss, duplication or
//!   slowness) and that stays healthy for [`settle_time`] completes within
//!   it: every other node's view shows the joiner joined, or the leaver left.
//! - **leave-hands-over**: whenever a leaving node stops holding a version
//!   (it marks itself left only once it holds nothing), that version's heir
//!   keeps it or a newer one, or some other node holds it as a hint for the
//!   heir: a hint's heir is its target, a stored version's heirs are the
//!   key's owners in the leaver's view. It is judged at the moment the leaver
//!   lets go, against that heir only: other replicas that happen to hold the
//!   key do not count, so a lost hand-over is seen even when they cover for
//!   it. (An heir that took it and, owning the key no longer in its own newer
//!   view, handed it on counts when the owners of that view have it.)

use crate::changes::settle_time;
use crate::verdict::{MAX_LISTED, Verdict};
use crate::world::World;
use dynamo_model::{DynamoNode, Key, Member, MemberStatus};
use sim_core::{NodeId, SimDuration, SimTime};
use std::collections::BTreeMap;

/// Why the run has not settled (so the end-state checkers of membership and
/// placement do not apply), or `None` when it has.
fn unsettled(w: &World) -> Option<String> {
    let settle = settle_time(w.cfg);
    match w.quiet_from {
        None => Some("the network loses or duplicates messages for the whole run".into()),
        Some(q) if q + settle > w.end => Some(format!(
            "the run ends {} after its last fault or membership change; it settles within {settle}",
            w.end.since(q)
        )),
        Some(_) => None,
    }
}

/// The (position, owner) tokens a membership history defines: every joined
/// member's tokens, and each partition a leaving or left member names a
/// joined heir for; where two entries claim a position, the higher version
/// wins, then the higher node.
fn tokens_of(m: &[Member]) -> Vec<(u64, NodeId)> {
    // (position, version, claimant, owner)
    let mut claims: Vec<(u64, u64, u32, u32)> = Vec::new();
    for (i, e) in m.iter().enumerate() {
        let i = i as u32;
        match e.status {
            MemberStatus::Joined => {
                claims.extend(e.tokens.iter().map(|&p| (p, e.version, i, i)));
            }
            MemberStatus::Leaving | MemberStatus::Left => {
                claims.extend(
                    e.heirs
                        .iter()
                        .filter(|(_, h)| {
                            m.get(h.index())
                                .is_some_and(|x| x.status == MemberStatus::Joined)
                        })
                        .map(|&(p, h)| (p, e.version, i, h.0)),
                );
            }
            MemberStatus::Out => {}
        }
    }
    claims.sort_unstable();
    let mut out: Vec<(u64, NodeId)> = Vec::new();
    for (p, _, _, owner) in claims {
        if out.last().is_some_and(|&(q, _)| q == p) {
            out.pop();
        }
        out.push((p, NodeId(owner)));
    }
    out
}

fn entry_text(e: &Member) -> String {
    format!(
        "{} v{} ({} token(s))",
        e.status.name(),
        e.version,
        e.tokens.len()
    )
}

/// Live nodes: up, and not left.
fn live<'w>(w: &'w World) -> impl Iterator<Item = &'w DynamoNode> {
    w.nodes
        .iter()
        .filter(|n| w.up[n.id().index()] && !n.has_left())
}

/// membership-converges (see the module's docs).
pub(crate) fn membership_converges(w: &World) -> Verdict {
    let name = "membership-converges";
    if let Some(why) = unsettled(w) {
        return Verdict::skipped(name, why);
    }
    let healthy_throughout = w
        .healthy
        .first()
        .is_some_and(|&(from, to)| from == SimTime::ZERO && to == w.end);
    if !w.cfg.gossip && !healthy_throughout {
        return Verdict::skipped(
            name,
            "gossip is off: after a fault nothing brings a node that missed a change up to date",
        );
    }
    let mut out = Vec::new();
    let nodes: Vec<&DynamoNode> = live(w).collect();
    if let Some(first) = nodes.first() {
        for n in &nodes[1..] {
            let differ: Vec<String> = first
                .members()
                .iter()
                .zip(n.members())
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| {
                    format!(
                        "n{i}: {} says {}, {} says {}",
                        first.id(),
                        entry_text(a),
                        n.id(),
                        entry_text(b)
                    )
                })
                .collect();
            if !differ.is_empty() {
                out.push(format!(
                    "{} and {} hold different membership histories: {}",
                    first.id(),
                    n.id(),
                    differ.join("; ")
                ));
            }
        }
    }
    for n in &nodes {
        let want = tokens_of(n.members());
        let have = n.ring().tokens();
        if want.as_slice() != have {
            let differ = match want.iter().zip(have).find(|(a, b)| a != b) {
                Some(((p, a), (q, b))) if p == q => {
                    format!("its history gives token {p} to {a}, its ring to {b}")
                }
                Some(((p, a), (q, b))) => format!(
                    "its history has token {p} (of {a}) where its ring has token {q} (of {b})"
                ),
                None => format!(
                    "its history defines {} token(s), its ring has {}",
                    want.len(),
                    have.len()
                ),
            };
            out.push(format!(
                "{}'s ring is not the one its membership history defines: {differ}",
                n.id()
            ));
        }
    }
    let mut v = Verdict::from_violations(name, out);
    v.note = Some(format!(
        "{} live node(s) compared, the run went on {} after the last fault or change",
        nodes.len(),
        w.quiet_from.map_or(SimDuration::ZERO, |q| w.end.since(q))
    ));
    v
}

/// placement-converges (see the module's docs).
pub(crate) fn placement_converges(w: &World) -> Verdict {
    let name = "placement-converges";
    if let Some(why) = unsettled(w) {
        return Verdict::skipped(name, why);
    }
    let n = w.cfg.n as usize;
    let up = |x: NodeId| w.up[x.index()] && !w.nodes[x.index()].has_left();
    let mut out = Vec::new();
    let mut keys: BTreeMap<&Key, ()> = BTreeMap::new();
    for node in live(w) {
        let me = node.id();
        for key in node.store().keys() {
            keys.insert(key, ());
            let owners = w.ring.preference_list(key, n);
            if !owners.contains(&me) {
                out.push(format!(
                    "{me} stores key {key}, which it does not own (its owners are {})",
                    list(owners)
                ));
            }
        }
        for (target, key) in node.hints().keys() {
            keys.insert(key, ());
            if up(*target) {
                out.push(format!(
                    "{me} still holds a hint for {target} (key {key}), which is up"
                ));
            }
        }
        let own = &node.members()[me.index()];
        if own.status == MemberStatus::Leaving {
            out.push(format!(
                "{me} is still leaving: it holds {} key(s) and {} hint(s)",
                node.store().len(),
                node.hints().len()
            ));
        }
    }
    for key in keys.keys() {
        let owners = w.ring.preference_list(key, n);
        let live_owners: Vec<NodeId> = owners.iter().copied().filter(|&o| up(o)).collect();
        let holders: Vec<NodeId> = live_owners
            .iter()
            .copied()
            .filter(|o| w.nodes[o.index()].store().contains_key(*key))
            .collect();
        let waiting = live(w).any(|m| {
            m.hints()
                .keys()
                .any(|(t, k)| k == *key && owners.contains(t) && !up(*t))
        });
        if holders.is_empty() && !live_owners.is_empty() && !waiting {
            out.push(format!(
                "key {key} is held, but by none of its live owners {}",
                list(&live_owners)
            ));
        } else if w.cfg.anti_entropy && !holders.is_empty() && holders.len() < live_owners.len() {
            let lacking: Vec<NodeId> = live_owners
                .iter()
                .copied()
                .filter(|o| !holders.contains(o))
                .collect();
            out.push(format!(
                "key {key}: its owners {} do not hold it, though anti-entropy is on",
                list(&lacking)
            ));
        }
    }
    let mut v = Verdict::from_violations(name, out);
    v.note = Some(format!("{} key(s) placed by the final ring", keys.len()));
    v
}

fn list(ns: &[NodeId]) -> String {
    let parts: Vec<String> = ns.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(" "))
}

/// changes-complete (see the module's docs).
pub(crate) fn changes_complete(w: &World) -> Verdict {
    let name = "changes-complete";
    let changes = w.invariants.changes().changes();
    if changes.is_empty() {
        return Verdict::skipped(name, "no node joined or left");
    }
    let bound = settle_time(w.cfg);
    let mut out = Vec::new();
    let mut judged = 0;
    for c in changes {
        let until = c.at + bound;
        let healthy = until <= w.end
            && w.healthy
                .iter()
                .any(|&(from, to)| from <= c.at && until <= to);
        if !healthy {
            continue;
        }
        judged += 1;
        let what = if c.join { "join" } else { "leave" };
        match c.done {
            Some(t) if t <= until => {}
            Some(t) => out.push(format!(
                "{}'s {what} announced at {} completed only at {t}, {} later (bound {bound})",
                c.node,
                c.at,
                t.since(c.at)
            )),
            None => {
                let behind: Vec<String> = c
                    .seen
                    .iter()
                    .enumerate()
                    .filter(|&(i, s)| s.is_none() && i != c.node.index() && !w.nodes[i].has_left())
                    .map(|(i, _)| format!("n{i}"))
                    .collect();
                out.push(format!(
                    "{}'s {what} announced at {} had not completed at the end ({}; bound {bound}): not seen by [{}]",
                    c.node,
                    c.at,
                    w.end,
                    behind.join(" ")
                ));
            }
        }
    }
    if judged == 0 {
        return Verdict::skipped(
            name,
            format!(
                "none of the {} change(s) was made in a cluster that stayed healthy for {bound} after",
                changes.len()
            ),
        );
    }
    let mut v = Verdict::from_violations(name, out);
    v.note = Some(format!(
        "{judged} of {} change(s) made in a healthy cluster judged, bound {bound}",
        changes.len()
    ));
    v
}

/// leave-hands-over (see the module's docs).
pub(crate) fn leave_hands_over(w: &World) -> Verdict {
    let name = "leave-hands-over";
    let leaves = &w.invariants.changes().leaves;
    if leaves.is_empty() {
        return Verdict::skipped(name, "no node left or began to leave");
    }
    if w.nodes.iter().any(|n| n.stats.clock_truncations > 0) {
        // Truncated clocks make dominance intransitive: a store may rightly
        // drop a version that only a dropped one covered.
        return Verdict::skipped(name, "clocks were truncated");
    }
    let mut out = Vec::new();
    let mut count = 0;
    for l in leaves {
        for (at, heir, key, v, missing) in &l.let_go {
            // A disk wipe, after it may have taken the version (from the
            // version's put on; the leave itself when the put is not in the
            // history), of every node where the version is missing (the
            // heir, or the owners it handed the key on to) may have lost it:
            // the leaver acted on acknowledgements the wipes made void.
            let since = w
                .history
                .iter()
                .find(|o| o.id == v.write)
                .map_or(l.from, |o| o.start.unwrap_or(o.planned).min(l.from));
            let wiped = |n: NodeId| {
                w.wipes
                    .iter()
                    .any(|&(t, x)| x == n && t >= since && t <= *at)
            };
            if !missing.is_empty() && missing.iter().all(|&n| wiped(n)) {
                continue;
            }
            count += 1;
            if out.len() < MAX_LISTED {
                out.push(format!(
                    "{} (leaving since {}) let go of key {key} version {v} at {at}, but its heir {heir} holds neither it nor a newer one, and no node holds it as a hint for {heir}",
                    l.node, l.from
                ));
            }
        }
    }
    let mut v = Verdict::counted(name, out, count);
    let done = leaves.iter().filter(|l| l.left.is_some()).count();
    v.note = Some(format!(
        "{} leave(s), {done} finished: every version let go of was with its heir",
        leaves.len()
    ));
    v
}
